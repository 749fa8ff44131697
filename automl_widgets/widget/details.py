"""RunDetails: the live view of one run in a notebook.

One anywidget model holding the run view of automl_widgets.viewmodel; runview.js draws it,
the same module the JupyterLab panel uses. It observes the Run's traits (the Run's sync
thread sets them from the run folder) and never reads events itself. Changes are gathered
and sent by one thread of its own at most a few times a second: rows as deltas (custom
messages with only the rows that changed), the rest as traits, which ipywidgets sends only
when they differ.
"""
from __future__ import annotations

import pathlib
import threading
import time
import uuid

import anywidget
import traitlets
from IPython.display import display

from ..client.run import ChildRun
from ..viewmodel import LOG_CHARS, RunView

HERE = pathlib.Path(__file__).parent
BUNDLE = HERE / "static" / "runview.js"   # runview.js with plotly.js, built by labextension/
UPDATE_INTERVAL = 0.25   # seconds between two sends: at most four updates a second
WATCHED = ["status", "iterations", "best", "error", "link", "log_sizes"]   # Run traits


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


def _bundle() -> str:
    if not BUNDLE.is_file():
        raise FileNotFoundError(
            f"{BUNDLE} is missing: it is built with the JupyterLab extension. Run "
            "./scripts/setup.sh (or `pip install -e .`, which runs npm in labextension/).")
    return BUNDLE.read_text()


class RunDetails(anywidget.AnyWidget):
    """RunDetails(run).show(): header, iteration table, charts, selected iteration."""

    _esm = traitlets.Unicode().tag(sync=True)
    _css = HERE / "runview.css"
    _key = traitlets.Unicode().tag(sync=True)
    _initial = traitlets.List().tag(sync=True)          # the rows when the model was made
    header = traitlets.Dict().tag(sync=True)
    metrics = traitlets.List().tag(sync=True)
    families = traitlets.List().tag(sync=True)
    cancelable = traitlets.List().tag(sync=True)
    can_cancel_run = traitlets.Bool(False).tag(sync=True)
    properties = traitlets.Dict(None, allow_none=True).tag(sync=True)
    charts = traitlets.Dict(None, allow_none=True).tag(sync=True)   # the selected iteration's
    started = traitlets.Float(None, allow_none=True).tag(sync=True)
    selected = traitlets.Int(None, allow_none=True).tag(sync=True)   # set by clicks too
    sort = traitlets.Unicode("iteration").tag(sync=True)   # a column, "-" first: descending

    def __init__(self, run, widget_settings=None):
        if widget_settings is not None and not isinstance(widget_settings, dict):
            raise TypeError("widget_settings must be a dict or None (it is accepted for "
                            f"compatibility and has no settings yet); got {widget_settings!r}.")
        self.run = run
        self.view = RunView(run)
        self._lock = threading.RLock()
        self._thread_lock = threading.Lock()
        self._dirty = threading.Event()
        self._flushed = threading.Condition()   # notified after every update sent
        self._closed = threading.Event()
        self._log = {"n": None, "offset": 0}    # the selected iteration's log, as sent
        self._sent = {}                          # the rows as the front end has them
        rows = self.view.refresh()
        self._sent = {r["iteration"]: r for r in rows}
        super().__init__(_esm=_bundle(), _key=uuid.uuid4().hex, _initial=rows,
                         **self.view.state())
        self.on_msg(self._on_front_end_msg)
        _answer_where_sent(self)
        self.observe(lambda _: self._selection_changed(), names="selected")
        # Observe first, then draw: a change in between is then drawn again, not lost.
        run.observe(self._run_changed, names=WATCHED)
        self._thread = threading.Thread(target=self._loop, name=f"details-{run.id}",
                                        daemon=True)
        self._thread.start()

    # ---- the classic API -------------------------------------------------------------
    def show(self):
        display(self)

    def select(self, iteration):
        """Show this iteration's properties and log (what a click on its row does)."""
        self.selected = iteration

    def close(self):
        if hasattr(self, "_thread") and not self._closed.is_set():   # once; not if __init__ failed
            self._closed.set()
            self._dirty.set()
            self.run.unobserve(self._run_changed, names=WATCHED)
        super().close()

    def _repr_mimebundle_(self, **kwargs):
        data, metadata = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = self.text()   # a front end without widgets: a terminal, nbconvert
        return data, metadata

    def text(self) -> str:
        self.view.refresh()
        return self.view.text()

    @property
    def rows(self) -> list[dict]:
        """The table's rows as the front end has them, by iteration."""
        with self._lock:
            return [dict(self._sent[n]) for n in sorted(self._sent)]

    @property
    def log_text(self) -> str:
        """The selected iteration's log as sent to the front end (its last LOG_CHARS)."""
        return self._log.get("text", "")

    # ---- keeping up ------------------------------------------------------------------
    def _run_changed(self, _change):
        self._dirty.set()
        # The loop ends with a finished run; a continued one needs it again. Not self._lock:
        # this runs in the Run's sync thread, inside the Run's lock, and the loop takes
        # self._lock before asking the Run for a snapshot (lock order).
        with self._thread_lock:
            thread = getattr(self, "_thread", None)   # None: __init__ is about to start it
            if thread is not None and not self._closed.is_set() and not thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=f"details-{self.run.id}",
                                                daemon=True)
                self._thread.start()

    def _loop(self):
        while not self._closed.is_set():
            if not self._dirty.wait(1.0):   # a quiet second: clocks still tick
                if self.run.state.finished and not self._ticking():
                    break                   # nothing will change any more
            if self._closed.is_set():
                break
            self._dirty.clear()
            try:
                self._flush()
            except Exception:   # a failed send must not end the updates
                pass
            with self._flushed:
                self._flushed.notify_all()
            self._closed.wait(UPDATE_INTERVAL)   # throttle: gather what comes meanwhile

    def _ticking(self) -> bool:
        """Something shown still changes: a last update after the run ended."""
        return any(r["status"] == "Running" for r in self._sent.values()) or \
            self.header.get("live", False)

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

    def _flush(self):
        with self._lock:
            changed = self.view.refresh()
            state = self.view.state(self.selected)
            with self.hold_sync():
                for name, value in state.items():
                    if getattr(self, name) != value:
                        setattr(self, name, value)
            if changed:
                self._sent.update((r["iteration"], r) for r in changed)
                self.send({"type": "rows", "rows": changed, "reset": False})
            self._send_log()

    def _selection_changed(self):
        with self._lock:
            self.properties = self.view.properties(self.selected)
            self.charts = self.view.charts(self.selected)
            self.cancelable = self.view.cancelable()
            self._log = {"n": None, "offset": 0}
            self._send_log()

    def _send_log(self):
        """The selected iteration's log: all of it once, then what it grows by."""
        n = self.selected
        if n is None:
            return
        fresh = self._log["n"] != n
        size = self.view.log_size(n)
        if not fresh and (size is None or size <= self._log["offset"]):
            return
        text, offset = ChildRun(self.run, n).read_log(0 if fresh else self._log["offset"])
        if fresh:
            text = text[-LOG_CHARS:]
        if text or fresh:
            kept = text if fresh else (self._log.get("text", "") + text)[-LOG_CHARS:]
            self._log = {"n": n, "offset": offset, "text": kept}
            self.send({"type": "log", "n": n, "text": text, "reset": fresh})

    def _on_front_end_msg(self, _widget, content, _buffers):
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "snapshot":
            with self._lock:   # nothing can be sent between this snapshot and the next delta
                self.send({"type": "rows", "rows": [self._sent[n] for n in sorted(self._sent)],
                           "reset": True})
                if self._log["n"] is not None:
                    self.send({"type": "log", "n": self._log["n"],
                               "text": self._log.get("text", ""), "reset": True})
        elif kind == "cancel_run":
            self.run.cancel()
            self._dirty.set()
        elif kind == "cancel_iteration" and isinstance(content.get("n"), int):
            self.cancel_iteration(content["n"])

    def cancel_iteration(self, n):
        """What the "Cancel iteration" button does, for iteration n."""
        self.run.cancel_iteration(n)
        with self._lock:
            self.cancelable = self.view.cancelable()
        self._dirty.set()

    def cancel_run(self):
        """What the "Cancel run" button does."""
        self.run.cancel()
        self._dirty.set()
