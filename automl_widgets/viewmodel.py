"""The run view as plain JSON: what the notebook widget (RunDetails) and the JupyterLab
panel both draw, with one front-end module (widget/runview.js). Every figure is formatted
here, so the two surfaces cannot disagree on a number, a clock or a rule.

RunView keeps the rows it last built with a version each, so a caller asks for the rows
changed since the version it has: the widget sends those over its comm, the server returns
them to the panel's poll. What a row holds:

    iteration, pipeline, family, status, start, end    (raw: for sorting and the timeline)
    duration, score, best                                (raw numbers, for sorting)
    duration_text, score_text, best_text                 (as shown)
    metrics: {name: value}                               (the plot's points)
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid

from . import catalog, metrics
from .client import Status, console
from .protocol import IMPORTANCE

LOG_CHARS = 100_000   # the log pane keeps the last this many characters


# ---- formatting: the only place figures are turned into text ---------------------------

def duration_text(seconds, whole=False) -> str:
    """4.21 s, 1 min 05 s, 2 h 03 min: durations and elapsed times alike (whole: a time
    still counting, in whole seconds, 12 s)."""
    if seconds is None:
        return ""
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{int(s)} s" if whole else f"{s:.2f} s"
    s = int(round(s))
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s // 60 % 60:02d} min"


def score_text(value) -> str:
    return "" if value is None else console.score_text(value)


def metric_text(value) -> str:
    return "" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))


def time_text(t) -> str:
    return "" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def params_text(params) -> str:
    """An iteration's hyperparameters; none means the family's defaults (its log says)."""
    return json.dumps(params, indent=1, default=str) if params else "defaults"


def _point(value):
    return None if value is None else float(f"{value:.6g}")   # 6 digits: shorter messages


# ---- the view ---------------------------------------------------------------------------

class RunView:
    """One run as the view shows it. refresh() reads the run; the other methods answer
    from what it read. Thread-safe: the widget's thread and the server's handlers call it."""

    def __init__(self, run):
        self.run = run
        self.primary = run.spec["primary_metric"]
        self.greater_is_better = _greater_is_better(self.primary)
        self.epoch = uuid.uuid4().hex[:8]   # a new view: old versions mean nothing
        self.version = 0
        self._rows: dict[int, dict] = {}
        self._versions: dict[int, int] = {}
        self._snapshot = None
        self._charts = None   # (key, charts) of the last iteration asked for
        self._lock = threading.RLock()

    def refresh(self) -> list[dict]:
        """Read the run; return the rows that changed (running rows change each second:
        their duration so far)."""
        with self._lock:
            s = self.run.snapshot()
            self._snapshot = s
            changed = []
            now = time.time()
            records = sorted(s["iterations"], key=lambda r: r["iteration"])
            scores = [r.get("score") if r.get("status") == Status.COMPLETED else None
                      for r in records]
            for rec, score, best in zip(records, scores,
                                        metrics.running_best(scores, self.greater_is_better)):
                row = _row(rec, score, best, now)
                n = row["iteration"]
                if self._rows.get(n) != row:
                    self.version += 1
                    self._rows[n], self._versions[n] = row, self.version
                    changed.append(row)
            return changed

    @property
    def snapshot(self) -> dict:
        with self._lock:
            if self._snapshot is None:
                self.refresh()
            return self._snapshot

    def rows(self, since: int = 0) -> list[dict]:
        with self._lock:
            return [self._rows[n] for n in sorted(self._rows) if self._versions[n] > since]

    def header(self) -> dict:
        run, s = self.run, self.snapshot
        best = next((r for r in s["iterations"] if r["iteration"] == s["best"]), None)
        line = [f"iterations {s['done']} / {run.spec['iterations']}",
                f"elapsed {duration_text(s['elapsed']) or '-'}",
                f"best {self.primary} {score_text(best['score'])} (iteration {best['iteration']})"
                if best is not None and best.get("score") is not None
                else "no completed iteration yet"]
        if s["link"]:
            line.append(f"link: {s['link']}")
        return {"id": run.id, "name": run.spec.get("name") or "",
                "experiment": run.experiment.name, "target": run.spec["target"]["name"],
                "status": s["status"], "live": not s["finished"], "line": " \u00b7 ".join(line),
                "error": s["error"] or "",
                "warnings": [w["message"] for w in s["warnings"]
                             if w.get("status", "warning") != "passed"],
                "primary_metric": self.primary,
                "best_iteration": None if best is None else best["iteration"],
                "empty": ("Waiting for the first iteration\u2026" if not s["finished"]
                          else "No iteration ran.")}

    def metrics(self) -> list[dict]:
        """Every metric computed so far (the dropdown), with its best-so-far line as steps:
        only the points where the best improves, O(improvements), so a new iteration that
        does not improve changes nothing here (the plot draws the last step on to its end)."""
        out = []
        records = sorted((r for r in self.snapshot["iterations"]
                          if r.get("status") == Status.COMPLETED), key=lambda r: r["iteration"])
        for name in metrics.computed(records, self.primary):
            gib = _greater_is_better(name)
            pts = [(r["iteration"], _point((r.get("metrics") or {}).get(name))) for r in records]
            pts = [(x, y) for x, y in pts if y is not None]
            steps = []
            for (x, _), best in zip(pts, metrics.running_best([y for _, y in pts], gib)):
                if not steps or best != steps[-1][1]:
                    steps.append([x, best])
            out.append({"name": name, "greater_is_better": gib, "best": steps})
        return out

    def families(self) -> list[dict]:
        """The best primary score of each model family, best first."""
        found: dict[str, dict] = {}
        for r in self.snapshot["iterations"]:
            fam = catalog.family_of(r.get("pipeline"))
            if not fam:
                continue
            f = found.setdefault(fam, {"family": fam, "iterations": 0, "best": None,
                                       "iteration": None})
            f["iterations"] += 1
            score = r.get("score") if r.get("status") == Status.COMPLETED else None
            if score is not None and (f["best"] is None or _better(score, f["best"],
                                                                    self.greater_is_better)):
                f["best"], f["iteration"] = score, r["iteration"]
        sign = 1 if self.greater_is_better else -1
        out = sorted(found.values(), key=lambda f: (f["best"] is None,
                                                     -sign * (f["best"] or 0), f["family"]))
        for f in out:
            f["best_text"] = score_text(f["best"])
        return out

    def cancelable(self) -> list[int]:
        """Iterations whose "Cancel iteration" is enabled: running, none asked yet."""
        s = self.snapshot
        if s["finished"]:
            return []
        asked = self.run.cancel_requests()
        return [r["iteration"] for r in s["iterations"]
                if r.get("status") == Status.RUNNING and r["iteration"] not in asked]

    def can_cancel_run(self) -> bool:
        s = self.snapshot
        return not s["finished"] and s["status"] != Status.CANCEL_REQUESTED

    def properties(self, n) -> dict | None:
        """The selected iteration's properties as [label, text] pairs."""
        if n is None:
            return None
        rec = next((r for r in self.snapshot["iterations"] if r["iteration"] == n), None)
        title = f"Iteration {n} ({self.run.id}_{n})"
        if rec is None:
            return {"iteration": n, "title": title, "rows": [["Status", "not started yet"]]}
        row = self._rows.get(n) or {}
        so_far = " so far" if rec.get("status") == Status.RUNNING and row.get("duration_text") else ""
        rows = [["Pipeline", rec.get("pipeline") or ""], ["Status", rec.get("status") or ""],
                ["Started", time_text(rec.get("start_time"))],
                ["Duration", (row.get("duration_text") or duration_text(rec.get("duration")))
                 + so_far]]
        if rec.get("reason"):
            rows.append(["Reason", rec["reason"]])
        if rec.get("worker"):   # Dask targets: where it runs, or ran
            rows.append(["Worker", rec["worker"]])
        rows.append(["Hyperparameters", params_text(rec.get("params"))])
        rows += [[k, metric_text(v)] for k, v in sorted((rec.get("metrics") or {}).items())]
        return {"iteration": n, "title": title, "rows": rows}

    def charts(self, n) -> dict | None:
        """The selected iteration's charts (automl_widgets.charts), made once per iteration
        and again when its feature importance appears."""
        if n is None:
            return None
        rec = next((r for r in self.snapshot["iterations"] if r["iteration"] == n), None)
        if rec is None or rec.get("status") != Status.COMPLETED:
            return None
        from .charts import iteration_charts
        from .client.run import ChildRun
        child = ChildRun(self.run, n)
        key = (n, os.path.exists(os.path.join(child.folder, IMPORTANCE)))
        if self._charts is None or self._charts[0] != key:
            self._charts = (key, iteration_charts(child))
        return self._charts[1]

    def log_size(self, n) -> int | None:
        return None if n is None else self.snapshot["log_sizes"].get(n)

    def state(self, selected=None) -> dict:
        """Everything but the rows and the log: what the widget's traits hold."""
        with self._lock:
            return {"header": self.header(), "metrics": self.metrics(),
                    "families": self.families(), "cancelable": self.cancelable(),
                    "can_cancel_run": self.can_cancel_run(),
                    "properties": self.properties(selected), "charts": self.charts(selected),
                    "started": self.snapshot["start_time"]}

    def text(self) -> str:
        """The view without a browser: the classic console table."""
        from .client import console
        run, s = self.run, self.snapshot
        lines = [console.header(run.id, self.primary, run.spec["target"]["name"],
                                run.get_guardrails())]
        records = s["iterations"]
        best = run.state.best_so_far([r["iteration"] for r in records])
        lines += [console.row(r, b) for r, b in zip(records, best)]
        if not records:
            lines.append(" (no iterations yet)")
        lines.append(f"Status: {s['status']}" + (f": {s['error']}" if s["error"] else ""))
        return "\n".join(lines)


def _row(rec, score, best, now) -> dict:
    status = rec.get("status")
    duration = rec.get("duration")
    start = rec.get("start_time")
    end = rec.get("end_time")
    running = status == Status.RUNNING and start is not None
    if running:
        duration = int(max(0.0, now - start))   # so far: the row changes once a second
    return {"iteration": rec["iteration"], "pipeline": rec.get("pipeline") or "",
            "family": catalog.family_of(rec.get("pipeline")), "status": status,
            "start": start, "end": end if status != Status.RUNNING else None,
            "duration": duration, "duration_text": duration_text(duration, whole=running),
            "score": score, "score_text": score_text(score),
            "best": best, "best_text": score_text(best),
            "metrics": {k: _point(v) for k, v in (rec.get("metrics") or {}).items()
                        if v is not None} if status == Status.COMPLETED else {}}


def _better(a, b, greater_is_better) -> bool:
    return a > b if greater_is_better else a < b


def _greater_is_better(name) -> bool:
    metric = metrics.REGISTRY.get(name)
    return metric is None or metric.greater_is_better
