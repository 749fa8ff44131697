"""Run and iteration statuses, by their classic names."""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NOT_STARTED = "NotStarted"
    PREPARING = "Preparing"
    RUNNING = "Running"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    TIMED_OUT = "TimedOut"   # iterations only: killed at max_time_sec
    PRUNED = "Pruned"        # iterations only: its first fold showed it was not worth more

    def __repr__(self):   # reads like the plain string it is, in reprs and printed dicts
        return repr(self.value)

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELED, Status.TIMED_OUT,
                      Status.PRUNED})
