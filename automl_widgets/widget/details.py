"""RunDetails: the live view of one run in a notebook.

It observes the Run's traits (the Run's sync thread sets them from the run folder) and
never reads events itself. Changes are gathered and sent by one thread of its own at most
a few times a second, so a burst of iterations costs a few messages, not one per event.
"""
from __future__ import annotations

import html
import json
import threading
import time
from copy import deepcopy

import ipywidgets as widgets
from IPython.display import display

from ..client import Status, console
from ..client.run import ChildRun
from .plot import PLOT_WIDTH, MetricPlot
from .table import IterationTable

UPDATE_INTERVAL = 0.25   # seconds between two sends: at most four updates a second
PLOT_INTERVAL = 1.0      # the plot resends whole traces, so it updates less often
LOG_CHARS = 100_000      # the log pane keeps the last this many characters
WATCHED = ["status", "iterations", "best", "error", "link", "log_sizes"]   # Run traits
BADGE = {"NotStarted": "#9e9e9e", "Preparing": "#7e57c2", "Running": "#1976d2",
         "CancelRequested": "#f57c00", "Completed": "#2e7d32", "Failed": "#c62828",
         "Canceled": "#616161", "Pruned": "#616161"}


def _clock(seconds) -> str:
    seconds = int(seconds or 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _when(t) -> str:
    return "" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _answer_where_sent(widget) -> None:
    """Let clicks on this widget be answered while a cell blocks.

    JupyterLab (4.4+) sends widget messages on a kernel subshell of their own, which runs
    beside a busy main shell. ipykernel 7 overrides that choice with the shell that last
    published on the comm, which for a widget built in a cell is the busy main shell; so
    a click would wait for the cell (say run.wait_for_completion()). Our handlers take
    their own locks, so we let the message run where the front end sent it. Front ends
    without subshells send no subshell id and are answered by the main shell as before.
    """
    comm = getattr(widget, "comm", None)
    if comm is not None and hasattr(comm, "_reply_subshell_for"):   # ipykernel's Comm
        comm._reply_subshell_for = lambda _data, sent_to: sent_to


class RunDetails(widgets.VBox):
    """RunDetails(run).show(): header, iteration table, metric plot, selected iteration."""

    def __init__(self, run, widget_settings=None):
        if widget_settings is not None and not isinstance(widget_settings, dict):
            raise TypeError("widget_settings must be a dict or None (it is accepted for "
                            f"compatibility and has no settings yet); got {widget_settings!r}.")
        self.run = run
        self.primary = run.spec["primary_metric"]
        self._lock = threading.RLock()
        self._dirty = threading.Event()
        self._flushed = threading.Condition()   # notified after every update sent
        self._closed = threading.Event()
        self._last_plot = 0.0
        self._log = {"offset": 0, "text": ""}   # of the selected iteration
        self._shown_record = None
        self._cancels = set()   # iterations whose cancel this widget has sent

        self.header = widgets.HTML(layout=widgets.Layout(flex="1 1 auto"))
        self.cancel_run_button = widgets.Button(description="Cancel run", icon="stop",
                                                button_style="danger",
                                                layout=widgets.Layout(width="auto"))
        self.cancel_iteration_button = widgets.Button(description="Cancel iteration",
                                                      icon="times", disabled=True,
                                                      layout=widgets.Layout(width="auto"))
        self.cancel_run_button.on_click(lambda _: self._cancel_run())
        self.cancel_iteration_button.on_click(lambda _: self._cancel_iteration())
        self.table = IterationTable(run.iterations, metric=self.primary)
        self.table.observe(lambda c: self._show_selected(), names="selected")
        self.plot = MetricPlot(self.primary, on_select=self.select)
        self.properties_pane = widgets.HTML(layout=widgets.Layout(
            width="100%", max_height="280px", overflow="auto"))
        self.log_pane = widgets.HTML(layout=widgets.Layout(width="100%"))
        buttons = widgets.HBox([self.cancel_run_button, self.cancel_iteration_button],
                               layout=widgets.Layout(flex="0 0 auto"))
        selected = widgets.VBox([self.properties_pane, self.log_pane],
                                layout=widgets.Layout(flex="1 1 320px", min_width="300px"))
        super().__init__([
            widgets.HBox([self.header, buttons], layout=widgets.Layout(
                justify_content="space-between", align_items="flex-start")),
            self.table,
            widgets.HBox([widgets.Box([self.plot], layout=widgets.Layout(
                flex=f"0 0 {PLOT_WIDTH + 20}px")), selected],
                layout=widgets.Layout(flex_flow="row wrap")),   # narrow: details below
        ])
        self.add_class("automl-run-details")
        for w in (self.table, self.cancel_run_button, self.cancel_iteration_button,
                  self.plot.dropdown, self.plot.figure):
            _answer_where_sent(w)
        # Observe first, then draw: a change in between is then drawn again, not lost.
        run.observe(self._run_changed, names=WATCHED)
        with self._lock:
            self._flush(plot=True)
            self._show_selected()
        self._thread = threading.Thread(target=self._loop, name=f"details-{run.id}",
                                        daemon=True)
        self._thread.start()

    # ---- the classic API -------------------------------------------------------------
    def show(self):
        display(self)

    def select(self, iteration):
        """Show this iteration's properties and log (what a click on its row does)."""
        self.table.selected = iteration

    def close(self):
        if hasattr(self, "_thread") and not self._closed.is_set():   # once; not if __init__ failed
            self._closed.set()
            self._dirty.set()
            self.run.unobserve(self._run_changed, names=WATCHED)
        super().close()

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        # What a front end without widgets shows (a terminal, nbconvert to text).
        data["text/plain"] = self.text()
        fig = self.plot.figure   # as FigureWidget does when displayed on its own
        fig._widget_layout = deepcopy(fig._layout_obj._props)
        fig._widget_data = deepcopy(fig._data)
        return data

    def text(self) -> str:
        run = self.run
        lines = [console.header(run.id, self.primary, run.spec["target"]["name"])]
        records = run.iterations
        best = run.state.best_so_far([r["iteration"] for r in records])
        lines += [console.row(r, b) for r, b in zip(records, best)]
        if not run.iterations:
            lines.append(" (no iterations yet)")
        lines.append(f"Status: {run.status}" + (f": {run.error}" if run.error else ""))
        return "\n".join(lines)

    # ---- keeping up ------------------------------------------------------------------
    def _run_changed(self, _change):
        self._dirty.set()

    def _loop(self):
        while not self._closed.is_set():
            if not self._dirty.wait(1.0):   # a quiet second: the elapsed clock still ticks
                if self.run.state.finished:
                    break                   # nothing will change any more
            if self._closed.is_set():
                break
            self._dirty.clear()
            plot_due = time.monotonic() - self._last_plot >= PLOT_INTERVAL
            try:
                with self._lock:
                    self._flush(plot=plot_due or self.run.state.finished)
            except Exception:   # a failed send must not end the updates
                pass
            with self._flushed:
                self._flushed.notify_all()
            self._closed.wait(UPDATE_INTERVAL)   # throttle: gather what comes meanwhile

    def wait_until(self, predicate, timeout=60.0) -> bool:
        """Block until predicate(self) holds, checked after every update; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._flushed:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._flushed.wait(min(left, 0.5))
        return True

    def _flush(self, plot=False):
        run = self.run
        records = run.iterations
        with self.table.hold_sync():
            self.table.update(records)
            self.table.best_iteration = run.best["iteration"] if run.best else None
            self.table.empty_text = (
                "Waiting for the first iteration\u2026" if not run.state.finished
                else "No iteration ran.")
        self.header.value = self._title_html()
        self._update_buttons()
        if plot:
            self.plot.update(records)
            self._last_plot = time.monotonic()
        self._refresh_selected()

    def _title_html(self) -> str:
        run, s = self.run, self.run.state
        color = BADGE.get(run.status, "#9e9e9e")
        elapsed = s.elapsed()
        elapsed = "-" if elapsed is None else _clock(elapsed)
        best = (f"best {html.escape(self.primary)} <b>{run.best['score']:.4f}</b> "
                f"(iteration {run.best['iteration']})" if run.best and run.best.get("score")
                is not None else "no completed iteration yet")
        link = f" &middot; link: {html.escape(run.link)}" if run.link else ""
        error = (f"<div style='color:#c62828'>{html.escape(run.error)}</div>"
                 if run.error else "")
        return (
            f"<div class='aw-title'><b>{html.escape(run.id)}</b> &middot; experiment "
            f"<b>{html.escape(run.experiment.name)}</b> &middot; target "
            f"<b>{html.escape(run.spec['target']['name'])}</b> "
            f"<span class='aw-badge' style='background:{color};color:white;border-radius:8px;"
            f"padding:1px 8px'>{html.escape(run.status)}</span></div>"
            f"<div>iterations {s.done} / {run.spec['iterations']} &middot; elapsed {elapsed} "
            f"&middot; {best}{link}</div>{error}")

    def _update_buttons(self):
        run = self.run
        off = run.state.finished or run.status == Status.CANCEL_REQUESTED
        self.cancel_run_button.disabled = off
        self.cancel_run_button.button_style = "" if off else "danger"   # no red on a done run
        n = self.table.selected
        rec = next((r for r in run.iterations if r["iteration"] == n), None)
        can = (n is not None and not run.state.finished
               and (rec is None or rec.get("status") == Status.RUNNING)
               and n < run.spec["iterations"] and n not in self._cancels)
        self.cancel_iteration_button.disabled = not can
        self.cancel_iteration_button.description = (
            "Cancel iteration" if n is None else f"Cancel iteration {n}")

    def _cancel_run(self):
        self.run.cancel()
        self._dirty.set()

    def _cancel_iteration(self):
        n = self.table.selected
        if n is None:
            return
        self.run.cancel_iteration(n)
        self._cancels.add(n)
        with self._lock:
            self._update_buttons()

    # ---- the selected iteration ------------------------------------------------------
    def _show_selected(self):
        with self._lock:
            self._log = {"offset": 0, "text": ""}
            self._shown_record = None
            self._refresh_selected()
            self._update_buttons()

    def _refresh_selected(self):
        n = self.table.selected
        if n is None:
            self.properties_pane.value = ("<i>Click a row of the table or a point of the plot to "
                                     "see that iteration's properties and log.</i>")
            self.log_pane.value = ""
            return
        rec = next((r for r in self.run.iterations if r["iteration"] == n), None)
        if rec != self._shown_record:
            self._shown_record = rec
            self.properties_pane.value = self._properties_html(n, rec)
        size = self.run.log_sizes.get(n)
        if self._log["offset"] == 0 or (size is not None and size > self._log["offset"]):
            text, offset = ChildRun(self.run, n).read_log(self._log["offset"])
            if text or self._log["offset"] == 0:
                self._log["text"] = (self._log["text"] + text)[-LOG_CHARS:]
                self._log["offset"] = offset
                self.log_pane.value = (
                    f"<div><b>Log of iteration {n}</b></div><pre class='aw-log' style='"
                    "max-height:260px;overflow:auto;background:var(--jp-layout-color2,#f7f7f7);"
                    "padding:6px;font-size:12px;white-space:pre-wrap'>"
                    f"{html.escape(self._log['text']) or '(empty so far)'}</pre>")

    def _properties_html(self, n, rec) -> str:
        if rec is None:
            return f"<b>Iteration {n}</b>: not started yet."
        rows = [("Pipeline", rec.get("pipeline") or ""), ("Status", rec.get("status")),
                ("Started", _when(rec.get("start_time"))),
                ("Duration", "" if rec.get("duration") is None
                 else f"{rec['duration']:.2f} s")]
        if rec.get("reason"):
            rows.append(("Reason", rec["reason"]))
        if rec.get("worker"):   # Dask targets: where it runs, or ran
            rows.append(("Worker", rec["worker"]))
        params = rec.get("params")   # none: the family's defaults, as the log says
        rows.append(("Hyperparameters", json.dumps(params, indent=1, default=str)
                     if params else "defaults"))
        rows += [(k, f"{v:.6g}" if isinstance(v, float) else str(v))
                 for k, v in sorted((rec.get("metrics") or {}).items())]
        cells = "".join(
            f"<tr><td style='padding:1px 8px 1px 0;vertical-align:top;white-space:nowrap'>"
            f"<b>{html.escape(str(k))}</b></td><td style='white-space:pre-wrap'>"
            f"{html.escape(str(v))}</td></tr>" for k, v in rows)
        return (f"<div class='aw-properties'><b>Iteration {n}</b> ({html.escape(self.run.id)}_{n})"
                f"<table>{cells}</table></div>")
