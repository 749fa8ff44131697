"""RunState: what the events say so far, folded in order; replaying is harmless."""
from __future__ import annotations

import os
import time

from . import events as ev
from .events import EventReader
from .files import SPEC, read_json
from .status import TERMINAL, Status


class RunState:
    def __init__(self, spec: dict):
        self.spec = spec
        from ..metrics import declare  # the run's custom metrics: names and directions
        declare(spec.get("custom_metrics"))
        self.primary = spec["primary_metric"]
        self.greater_is_better = _greater_is_better(self.primary)
        self.status = Status.NOT_STARTED
        self.iterations: dict[int, dict] = {}
        self.finished_order: list[int] = []
        self.best: int | None = None
        self.error: str | None = None
        self.warnings: list[dict] = []
        self.start_time = self.end_time = None
        self.last_seq = 0
        self.data_info: dict = {}
        self.stop_reason: str | None = None
        self.driver: dict = {}      # pid and host of the driver, from run_started

    def better(self, a, b) -> bool:
        """The one comparison of scores of the primary metric."""
        return a > b if self.greater_is_better else a < b

    def apply(self, e: ev.Event) -> None:
        if e.seq <= self.last_seq:  # replayed after a reconnect: already counted
            return
        self.last_seq = e.seq
        if isinstance(e, ev.RunStarted):
            self.status, self.start_time = Status.PREPARING, e.time
            self.driver = {"pid": e.pid, "host": e.host}
        elif isinstance(e, ev.RunContinued):
            self.status, self.error, self.stop_reason, self.end_time = (
                Status.PREPARING, None, None, None)
            self.driver = {"pid": e.pid, "host": e.host}
            self.spec = dict(self.spec, iterations=e.iterations)
        elif isinstance(e, ev.DataLoaded):
            self.data_info = {k: v for k, v in e.to_dict().items()
                              if k not in ("seq", "event", "time", "v")}
            self.status = Status.RUNNING
        elif isinstance(e, ev.IterationStarted):
            if self.status != Status.CANCEL_REQUESTED:
                self.status = Status.RUNNING
            self.iterations[e.iteration] = {
                "iteration": e.iteration, "pipeline": e.pipeline, "params": e.params or {},
                "status": Status.RUNNING, "start_time": e.time, "duration": None,
                "metrics": {}, "score": None, "reason": None, "run_id": e.run_id}
        elif isinstance(e, ev.IterationPlaced):
            if e.iteration in self.iterations:
                self.iterations[e.iteration]["worker"] = e.worker
        elif isinstance(e, ev.IterationFinished):
            self._finish_iteration(e.iteration, e.status, e.time, duration=e.duration,
                                   reason=e.reason, pipeline=e.pipeline, params=e.params,
                                   metrics=e.metrics)
            if e.worker:
                self.iterations[e.iteration]["worker"] = e.worker
        elif isinstance(e, ev.CancelRequested):
            if self.status not in TERMINAL:
                self.status = Status.CANCEL_REQUESTED
        elif isinstance(e, ev.Warning):
            self.warnings.append({"message": e.message, "check": e.check, "columns": e.columns,
                                  "status": e.status})
        elif isinstance(e, ev.RunFinished):
            self.end(Status(e.status), e.error, e.reason, e.time)

    def _finish_iteration(self, n, status, t, duration=None, reason=None, pipeline=None,
                          params=None, metrics=None):
        rec = self.iterations.setdefault(n, {"iteration": n, "params": {}, "run_id": None,
                                             "start_time": None})
        if rec.get("status") in TERMINAL:
            return
        rec.update(status=Status(status), duration=duration, reason=reason, end_time=t,
                   pipeline=pipeline if pipeline is not None else rec.get("pipeline"))
        if params is not None:   # ensembles learn their members and weights as they run
            rec["params"] = params
        rec["metrics"] = metrics or {}
        rec["score"] = rec["metrics"].get(self.primary)
        self.finished_order.append(n)
        if rec["status"] == Status.COMPLETED and rec["score"] is not None and (
                self.best is None or self.better(rec["score"], self.iterations[self.best]["score"])):
            self.best = n

    def reopen(self) -> None:
        """A finished run that spec.json says was continued after it ended: live again
        until its new driver's run_continued (or, if that driver dies first, the reader's
        verdict). Without this a reader would take the old run_finished for the end."""
        continued = self.spec.get("continued") or []
        if self.finished and continued and continued[-1]["time"] > (self.end_time or 0):
            self.status, self.error, self.stop_reason, self.end_time = (
                Status.PREPARING, None, None, None)

    def end(self, status: Status, error=None, reason=None, t=None) -> None:
        """The run is over: so is every iteration still running, with the reason."""
        self.status, self.error, self.stop_reason = status, error, reason
        self.end_time = t
        why = {Status.CANCELED: "the run was canceled",
               Status.COMPLETED: "the run ended"}.get(status, "the run failed")
        for n, rec in sorted(self.iterations.items()):
            if rec.get("status") not in TERMINAL:
                self._finish_iteration(
                    n, Status.CANCELED if status == Status.CANCELED else Status.FAILED,
                    t, reason=f"{why} before this iteration finished" + (
                        f": {error}" if error and status == Status.FAILED else ""))

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def done(self) -> int:
        """How many iterations have finished, whatever their status."""
        return len(self.finished_order)

    def elapsed(self, now=None) -> float | None:
        """Seconds from run_started to run_finished, or to `now` while live; None if it
        never started, or ended with no run_finished (a driver that died)."""
        if self.start_time is None or (self.finished and self.end_time is None):
            return None
        end = self.end_time if self.end_time is not None else (now or time.time())
        return end - self.start_time

    def best_so_far(self, order) -> list:
        """The best primary score up to each iteration of `order` (iteration numbers)."""
        from ..metrics import running_best
        return running_best([self.iterations[n].get("score")
                             if self.iterations[n].get("status") == Status.COMPLETED else None
                             for n in order], self.greater_is_better)


def _greater_is_better(metric: str) -> bool:
    from ..metrics import get  # here: the driver's starter stays light
    return get(metric).greater_is_better


def load_state(folder) -> RunState:
    state = RunState(read_json(os.path.join(folder, SPEC)))
    for e in EventReader(folder).read_new():
        state.apply(e)
    return state
