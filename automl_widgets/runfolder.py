"""The run folder: the one protocol between the driver (the only writer) and every reader.

    <run_id>/spec.json       validated settings (immutable)
             events.jsonl    append-only JSON lines, each with a rising "seq"
             control/        cancel_run, cancel_iteration.<n>   (written by readers)
             iterations/<n>/ log.txt, model.joblib, result.json, predictions.npz
             driver.log, driver.pid

Readers tail events.jsonl by byte offset and ignore a partial last line, so catching up,
re-reading and resuming after a reconnect are the same operation.
"""
from __future__ import annotations

import json
import math
import os
import time


SPEC, EVENTS, CONTROL, ITERATIONS = "spec.json", "events.jsonl", "control", "iterations"
DRIVER_LOG, DRIVER_PID = "driver.log", "driver.pid"
MODEL, PREDICTIONS = "model.joblib", "predictions.npz"  # in iterations/<n>/

# Run statuses (the classic names).
NOT_STARTED, PREPARING, RUNNING = "NotStarted", "Preparing", "Running"
CANCEL_REQUESTED, COMPLETED, FAILED, CANCELED = "CancelRequested", "Completed", "Failed", "Canceled"
TERMINAL = (COMPLETED, FAILED, CANCELED)
# Iteration statuses.
TIMED_OUT = "TimedOut"


def _clean(value):
    """JSON has no NaN: write it as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(path, obj) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_clean(obj), f, indent=1, default=str)
    os.replace(tmp, path)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def iteration_dir(folder, n) -> str:
    return os.path.join(folder, ITERATIONS, str(n))


class EventWriter:
    """Appends events; only the driver holds one. Each event is one write() of a whole line."""

    def __init__(self, folder):
        self.path = os.path.join(folder, EVENTS)
        self.seq = 0
        if os.path.exists(self.path):  # a restarted driver continues the sequence
            self.seq = max((e["seq"] for e in EventReader(folder).read_new()), default=0)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def emit(self, kind, **fields) -> dict:
        self.seq += 1
        event = {"seq": self.seq, "event": kind, "time": time.time(), **_clean(fields)}
        os.write(self.fd, (json.dumps(event, default=str) + "\n").encode())
        return event

    def close(self):
        os.close(self.fd)


class EventReader:
    """Reads whole new lines from a byte offset; a partial last line waits for next time."""

    def __init__(self, folder, offset=0):
        self.path = os.path.join(folder, EVENTS)
        self.offset = offset

    def read_new(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        return [json.loads(line) for line in data[:end].split(b"\n") if line.strip()]


class RunState:
    """What the events say so far: folded from events in order, never from files."""

    def __init__(self, spec: dict):
        self.spec = spec
        from . import metrics  # here, not at the top: the driver's starter stays light
        self.metric = metrics.get(spec["primary_metric"])
        self.status = NOT_STARTED
        self.iterations: dict[int, dict] = {}
        self.finished_order: list[int] = []
        self.best: int | None = None
        self.error: str | None = None
        self.warnings: list[str] = []
        self.start_time = self.end_time = None
        self.last_seq = 0
        self.data_info: dict = {}
        self.stop_reason: str | None = None

    def apply(self, e: dict) -> None:
        if e["seq"] <= self.last_seq:  # replayed after a reconnect: already counted
            return
        self.last_seq = e["seq"]
        kind = e["event"]
        if kind == "run_started":
            self.status, self.start_time = PREPARING, e["time"]
        elif kind == "data_loaded":
            self.data_info = {k: v for k, v in e.items() if k not in ("seq", "event", "time")}
            self.status = RUNNING
        elif kind == "iteration_started":
            self.status = self.status if self.status == CANCEL_REQUESTED else RUNNING
            self.iterations[e["iteration"]] = {
                "iteration": e["iteration"], "pipeline": e["pipeline"],
                "params": e.get("params", {}), "status": RUNNING,
                "start_time": e["time"], "duration": None, "metrics": {}, "score": None,
                "reason": None, "run_id": e.get("run_id")}
        elif kind == "iteration_finished":
            rec = self.iterations.setdefault(e["iteration"], {"iteration": e["iteration"]})
            rec.update({k: e.get(k) for k in ("status", "duration", "reason", "pipeline")})
            rec["metrics"] = e.get("metrics") or {}
            rec["score"] = rec["metrics"].get(self.spec["primary_metric"])
            rec["end_time"] = e["time"]
            self.finished_order.append(e["iteration"])
            if rec["status"] == COMPLETED and rec["score"] is not None:
                if self.best is None or self.metric.better(
                        rec["score"], self.iterations[self.best]["score"]):
                    self.best = e["iteration"]
            rec["best_so_far"] = (self.iterations[self.best]["score"]
                                  if self.best is not None else None)
        elif kind == "cancel_requested":
            if self.status not in TERMINAL:
                self.status = CANCEL_REQUESTED
        elif kind == "warning":
            self.warnings.append(e["message"])
        elif kind == "run_finished":
            self.status, self.end_time = e["status"], e["time"]
            self.error = e.get("error")
            self.stop_reason = e.get("reason")

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


def load_state(folder) -> RunState:
    state = RunState(read_json(os.path.join(folder, SPEC)))
    for e in EventReader(folder).read_new():
        state.apply(e)
    return state


def request(folder, name) -> None:
    """Drop a control file (cancel_run, cancel_iteration.<n>) for the driver to act on."""
    control = os.path.join(folder, CONTROL)
    os.makedirs(control, exist_ok=True)
    with open(os.path.join(control, name), "w") as f:
        f.write(str(time.time()))
