"""The events of events.jsonl: one small dataclass each, written and read only here.

Each line is {"seq", "event", "time", "v", **fields}. Readers skip an event kind they do
not know and ignore fields they do not know, so a newer driver's folder still reads.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import time as _time
from dataclasses import dataclass, field
from typing import ClassVar

from .files import EVENTS, clean, read_from
from .status import Status

VERSION = 1


@dataclass
class Event:
    kind: ClassVar[str] = ""
    seq: int = 0
    time: float = 0.0
    v: int = VERSION

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {"seq": d.pop("seq"), "event": self.kind, "time": d.pop("time"), **d}


@dataclass
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    pid: int | None = None
    host: str | None = None


@dataclass
class DataLoaded(Event):
    kind: ClassVar[str] = "data_loaded"
    rows: int | None = None
    columns: int | None = None
    sparse: bool = False
    validation: str | None = None       # "cross_validation" or "holdout"
    folds: int | None = None
    validation_rows: int | None = None
    classes: list | None = None
    estimators: list = field(default_factory=list)
    preprocessors: list = field(default_factory=list)


@dataclass
class IterationStarted(Event):
    kind: ClassVar[str] = "iteration_started"
    iteration: int = 0
    pipeline: str = ""
    params: dict = field(default_factory=dict)
    run_id: str | None = None


@dataclass
class IterationFinished(Event):
    kind: ClassVar[str] = "iteration_finished"
    iteration: int = 0
    pipeline: str = ""
    params: dict | None = None          # None: those of iteration_started
    status: str = Status.FAILED
    duration: float | None = None
    metrics: dict = field(default_factory=dict)
    reason: str | None = None
    worker: str | None = None           # Dask targets: the worker that ran it


@dataclass
class IterationPlaced(Event):
    """Dask targets: a worker started the iteration (again, after a worker died)."""
    kind: ClassVar[str] = "iteration_placed"
    iteration: int = 0
    worker: str | None = None


@dataclass
class CancelRequested(Event):
    kind: ClassVar[str] = "cancel_requested"


@dataclass
class Warning(Event):  # noqa: A001 - the event's name in the protocol
    kind: ClassVar[str] = "warning"
    message: str = ""
    check: str | None = None
    columns: list | None = None
    status: str = "warning"             # a data guardrail's: passed, warning or fixed


@dataclass
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    status: str = Status.FAILED
    error: str | None = None
    reason: str | None = None
    best_score: float | None = None


@dataclass
class RunContinued(Event):
    """A finished run goes on (Run.continue_experiment): a new driver, more iterations."""
    kind: ClassVar[str] = "run_continued"
    pid: int | None = None
    host: str | None = None
    iterations: int = 0                 # the run's total from now on


KINDS = {c.kind: c for c in (RunStarted, DataLoaded, IterationStarted, IterationPlaced,
                             IterationFinished, CancelRequested, Warning, RunFinished,
                             RunContinued)}


def parse(d: dict) -> Event | None:
    """The event of one decoded line, or None for a kind this version does not know."""
    cls = KINDS.get(d.get("event"))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


class EventWriter:
    """Appends events; only the driver holds one. Each event is one write() of a whole line."""

    def __init__(self, folder):
        self.path = os.path.join(folder, EVENTS)
        self.seq = 0
        if os.path.exists(self.path):  # a restarted driver continues the sequence
            self.seq = max((e.seq for e in EventReader(folder).read_new()), default=0)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def emit(self, event: Event) -> Event:
        event.seq, event.time = self.seq + 1, _time.time()
        line = (json.dumps(clean(event.to_dict()), default=str) + "\n").encode()
        end = os.fstat(self.fd).st_size
        try:
            written = os.write(self.fd, line)
            if written != len(line):  # a full disk: never leave half a line behind
                raise OSError(errno.ENOSPC, f"only {written} of {len(line)} bytes written")
        except OSError:
            os.ftruncate(self.fd, end)
            raise
        self.seq += 1
        return event

    def close(self):
        os.close(self.fd)


class EventReader:
    """Reads whole new lines from a byte offset; a partial last line waits for next time."""

    def __init__(self, folder, offset=0):
        self.path = os.path.join(folder, EVENTS)
        self.offset = offset

    def read_new(self) -> list[Event]:
        data, self.offset = read_from(self.path, self.offset, whole_lines=True)
        out = []
        for line in data.split(b"\n"):
            try:
                e = parse(json.loads(line)) if line.strip() else None
            except (ValueError, TypeError):  # a damaged line must not hide the rest
                e = None
            if e is not None:
                out.append(e)
        return out
