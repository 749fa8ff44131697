"""What the JupyterLab panel shows, as plain data: no web code here (handlers.py only
translates HTTP to these calls).

Runs are the same `Run` objects a kernel uses, kept for the life of the server: a live
run's sync thread (and, for an SSH target, its mirror) keeps it current even when no
kernel watches it.
"""
from __future__ import annotations

import glob
import os
import re
import threading

from .. import metrics
from ..client.run import ChildRun, Run
from ..client.workspace import Workspace
from ..config import ConfigError
from ..viewmodel import RunView, duration_text, score_text, time_text

# What the API tells of a target: where it is, never how to log in (key paths, TLS files).
TARGET_FIELDS = ("type", "name", "address", "port", "username")
RUN_ID = re.compile(r"AutoML_[0-9a-f\-]{36}")   # fullmatch: "$" would let "...\n" through
HOW_TO_CREATE = ("No AutoML workspace here. Create one in a notebook with "
                 "`from automl_widgets import Workspace; Workspace.create('.')`, "
                 "or set c.AutomlWidgets.workspace in the server's config.")


class NotFound(KeyError):
    """A run or an iteration that does not exist (the handler answers 404)."""


class WorkspaceView:
    def __init__(self, workspace_path: str | None, root_dir: str):
        self.root_dir = root_dir
        self._explicit = workspace_path
        self._runs: dict[str, Run] = {}
        self._views: dict[str, RunView] = {}
        self._lock = threading.Lock()

    # ---- which workspace ----------------------------------------------------------------
    def workspace(self) -> Workspace | None:
        """The configured workspace, else the one found from the server's root folder;
        looked up each time, so one created after the server started is found."""
        try:
            return Workspace.from_config(self._explicit or self.root_dir)
        except ConfigError:
            return None

    def describe(self) -> dict:
        ws = self.workspace()
        if ws is None:
            return {"workspace": None, "help": HOW_TO_CREATE}
        return {"workspace": {"name": ws.name, "path": ws.path}}

    def targets(self) -> dict:
        """The compute targets attached to the workspace."""
        ws = self.workspace()
        attached = [] if ws is None else ws.targets()
        return {**self.describe(), "targets": [
            target_description({"type": kind, "name": name, **settings})
            for name, kind, settings in attached]}

    # ---- runs -----------------------------------------------------------------------------
    def run(self, run_id: str) -> Run:
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
            raise NotFound(f"{run_id!r} is not a run id (AutoML_<uuid>).")
        ws = self.workspace()
        if ws is None:
            raise NotFound(HOW_TO_CREATE)
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.experiment.workspace.path != ws.path:
                try:
                    run = ws.find_run(run_id)   # looked up in the index, never a path from the request
                except KeyError:
                    raise NotFound(f"No run {run_id} in workspace {ws.path}.") from None
                self._runs[run_id] = run
            return run

    def stamp(self, ws=None) -> str:
        """Changes whenever the listing may have: the index (new runs, final statuses)
        or the progress of a live run. Cheap: a few stats, no event reading."""
        ws = ws or self.workspace()
        if ws is None:
            return "none"
        parts = [ws.path]
        for name in ("index.sqlite", "index.sqlite-wal"):
            try:
                st = os.stat(os.path.join(ws.data_dir, name))
                parts.append(f"{st.st_mtime_ns}:{st.st_size}")
            except OSError:
                parts.append("-")
        with self._lock:
            live = [r.snapshot() | {"id": r.id} for r in self._runs.values()]
        parts += [f"{r['id'][-12:]}:{r['last_seq']}:{r['link']}" for r in live
                  if not r["finished"]]
        return "|".join(parts)

    def experiments(self, since: str | None = None) -> dict:
        """The listing, or just {"unchanged": true} when `since` is still the stamp."""
        ws = self.workspace()
        stamp = self.stamp(ws)
        if since is not None and since == stamp:
            return {"unchanged": True, "stamp": stamp}
        if ws is None:
            return {**self.describe(), "experiments": [], "stamp": stamp}
        by_name: dict[str, list] = {name: [] for name in ws.experiments}
        for run_id, experiment, *_ in ws.runs():
            try:
                by_name.setdefault(experiment, []).append(summary(self.run(run_id)))
            except (NotFound, OSError, ValueError):
                continue   # a run folder removed by hand: leave it out
        return {**self.describe(), "stamp": self.stamp(ws),   # after the runs are loaded
                "experiments": [{"name": n, "runs": runs} for n, runs in sorted(by_name.items())]}

    def detail(self, run_id: str) -> dict:
        run = self.run(run_id)
        s = run.snapshot()
        out = summary(run, s)
        out.update(
            iterations=[_iteration(r) for r in s["iterations"]],
            error=s["error"], warnings=[w["message"] for w in s["warnings"]
                                        if w.get("status", "warning") != "passed"],
            stop_reason=s["stop_reason"], metrics=_metrics(run, s["iterations"]),
            log_sizes={str(k): v for k, v in s["log_sizes"].items()},
            snippet=f'AutoMLRun(Experiment(ws, "{run.experiment.name}"), "{run.id}")')
        return out

    def view(self, run_id: str, since: str | None = None, selected: int | None = None) -> dict:
        """The run view (automl_widgets/viewmodel.py) for the panel: the rows changed since
        `since` ("<epoch>:<version>" of an earlier answer; else all rows), the rest whole."""
        run = self.run(run_id)
        with self._lock:
            view = self._views.get(run_id)
            if view is None or view.run is not run:
                view = self._views[run_id] = RunView(run)
        if selected is not None:
            self._iteration_of(run_id, selected)
        view.refresh()
        epoch, _, version = (since or "").partition(":")
        known = int(version) if epoch == view.epoch and version.isdigit() else None
        reset = known is None or known > view.version
        return {"epoch": view.epoch, "version": view.version, "reset": reset,
                "rows": view.rows(0 if reset else known), **view.state(selected),
                "log_size": view.log_size(selected)}

    def log(self, run_id: str, iteration: int, offset: int = 0) -> dict:
        """The log from byte `offset` on; an offset past the end reads nothing and stays."""
        child = ChildRun(self._iteration_of(run_id, iteration), iteration)
        text, new_offset = child.read_log(max(0, offset))
        return {"text": text, "offset": new_offset, "status": child.record.get("status")}

    def cancel(self, run_id: str) -> dict:
        run = self.run(run_id)
        run.cancel()
        return {"status": run.status}

    def cancel_iteration(self, run_id: str, iteration: int) -> dict:
        run = self._iteration_of(run_id, iteration)
        run.cancel_iteration(iteration)
        return {"requested": iteration}

    def _iteration_of(self, run_id, iteration) -> Run:
        run = self.run(run_id)
        if not 0 <= iteration < run.spec["iterations"]:
            raise NotFound(f"Run {run_id} has iterations 0 to {run.spec['iterations'] - 1}; "
                           f"got {iteration}.")
        return run

    def examples(self) -> list[str]:
        """Example notebooks under the server's root (notebooks/NN-*.ipynb), as paths
        relative to it, for the panel's "open" action."""
        found = sorted(glob.glob(os.path.join(self.root_dir, "notebooks", "[0-9][0-9]-*.ipynb")))
        return [os.path.relpath(p, self.root_dir) for p in found]

    def close(self):
        with self._lock:
            for run in self._runs.values():
                run.close()


def summary(run: Run, s: dict | None = None) -> dict:
    s = s or run.snapshot()
    best = next((r for r in s["iterations"] if r["iteration"] == s["best"]), None)
    return {
        "id": run.id, "name": run.spec.get("name") or "", "experiment": run.experiment.name,
        "status": s["status"],
        "target": run.spec["target"]["name"],
        "target_description": target_description(run.spec["target"]),
        "live": not s["finished"],
        "done": s["done"], "total": run.spec["iterations"],
        "primary_metric": run.spec["primary_metric"],
        "best": None if best is None else {"iteration": best["iteration"], "value": best["score"],
                                           "pipeline": best.get("pipeline")},
        "created": run.spec.get("created"), "started": s["start_time"], "ended": s["end_time"],
        "duration": s["elapsed"], "link": s["link"],
        "best_text": "no result yet" if best is None or best["score"] is None
        else f"{run.spec['primary_metric']} {score_text(best['score'])}",
        "when_text": f"{time_text(s['start_time'] or run.spec.get('created'))} \u00b7 "
                     f"{duration_text(s['elapsed'])}"}


def target_description(described: dict) -> dict:
    return {k: described[k] for k in TARGET_FIELDS if k in described}


def _iteration(rec: dict) -> dict:
    return {k: rec.get(k) for k in ("iteration", "pipeline", "status", "duration", "score",
                                    "metrics", "params", "start_time", "reason", "worker")}


def _metrics(run, iterations) -> list[dict]:
    return [{"name": name, "greater_is_better": metrics.get(name).greater_is_better}
            for name in metrics.computed(iterations, run.spec["primary_metric"])]
