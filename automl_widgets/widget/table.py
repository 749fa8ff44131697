"""IterationTable: every iteration of a run in one anywidget model.

The rows travel as custom messages holding only the rows that changed since the last
send (`update`), so a run of 2,000 iterations costs per update what changed, not the
whole table. The front end keeps the rows, sorts them and reports clicks via `selected`.
"""
from __future__ import annotations

import pathlib
import threading
import uuid

import anywidget
import traitlets

from .. import metrics
from ..client import Status

HERE = pathlib.Path(__file__).parent


def table_rows(records, greater_is_better: bool = True) -> list[dict]:
    """The table's view of RunState's iteration records, by iteration. "Best so far" is
    in iteration order, like the plot's line (the console's BEST is in finishing order)."""
    records = sorted(records, key=lambda r: r["iteration"])
    scores = [r.get("score") if r.get("status") == Status.COMPLETED else None for r in records]
    return [{"iteration": rec["iteration"], "pipeline": rec.get("pipeline") or "",
             "status": rec.get("status"), "duration": rec.get("duration"),
             "score": score, "best": best,
             # a running row's duration ticks in the browser from here
             "start": rec.get("start_time") if rec.get("status") == Status.RUNNING else None}
            for rec, score, best in zip(records, scores,
                                        metrics.running_best(scores, greater_is_better))]


def _greater_is_better(name) -> bool:
    metric = metrics.REGISTRY.get(name)   # no metric given: the placeholder "Score"
    return metric is None or metric.greater_is_better


class IterationTable(anywidget.AnyWidget):
    _esm = HERE / "table.js"
    _css = HERE / "table.css"

    _key = traitlets.Unicode().tag(sync=True)
    _initial = traitlets.List().tag(sync=True)    # the rows when the model was made
    metric = traitlets.Unicode("Score").tag(sync=True)
    selected = traitlets.Int(None, allow_none=True).tag(sync=True)
    best_iteration = traitlets.Int(None, allow_none=True).tag(sync=True)
    sort = traitlets.Unicode("iteration").tag(sync=True)   # a column, "-" first: descending
    empty_text = traitlets.Unicode("No iterations yet.").tag(sync=True)

    def __init__(self, records=(), **kwargs):
        self._lock = threading.Lock()
        rows = table_rows(records, _greater_is_better(kwargs.get("metric")))
        self._sent = {r["iteration"]: r for r in rows}
        super().__init__(_key=uuid.uuid4().hex, _initial=rows, **kwargs)
        self.on_msg(self._on_front_end_msg)

    @property
    def rows(self) -> list[dict]:
        """The rows as the front end has them, by iteration."""
        with self._lock:
            return [dict(self._sent[n]) for n in sorted(self._sent)]

    def update(self, records) -> int:
        """Send the rows of `records` that differ from what was sent; returns how many."""
        with self._lock:
            changed = []
            for row in table_rows(records, _greater_is_better(self.metric)):
                if self._sent.get(row["iteration"]) != row:
                    self._sent[row["iteration"]] = row
                    changed.append(row)
            if changed:
                self.send({"type": "rows", "rows": changed, "reset": False})
            return len(changed)

    def _on_front_end_msg(self, _widget, content, _buffers):
        if isinstance(content, dict) and content.get("type") == "snapshot":
            with self._lock:   # nothing can be sent between this snapshot and the next delta
                self.send({"type": "rows", "rows": [self._sent[n] for n in sorted(self._sent)],
                           "reset": True})
