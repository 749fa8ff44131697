"""The run folder: the one protocol between the driver (its only writer) and every reader.

Readers tail events.jsonl by byte offset and ignore a partial last line, so catching up,
re-reading and resuming after a reconnect are the same operation. This package imports
nothing of automl_widgets above it but metrics (a metric's direction).
"""
from . import events
from .events import EventReader, EventWriter
from .files import (
                    CANCEL_RUN,
                    CONTROL,
                    DRIVER_LOG,
                    DRIVER_PID,
                    EVENTS,
                    IMPORTANCE,
                    INLINE_DATA,
                    ITERATIONS,
                    LOG,
                    MODEL,
                    PREDICTIONS,
                    REMOTE,
                    RESULT,
                    SPEC,
                    TRUTH,
                    cancel_iteration_request,
                    clean,
                    iteration_dir,
                    read_from,
                    read_json,
                    request,
                    requests,
                    write_json,
)
from .state import RunState, load_state
from .status import TERMINAL, Status

__all__ = ["CANCEL_RUN", "CONTROL", "DRIVER_LOG", "DRIVER_PID", "EVENTS", "IMPORTANCE",
           "INLINE_DATA",
           "ITERATIONS", "LOG", "MODEL", "PREDICTIONS", "REMOTE", "RESULT", "SPEC", "TERMINAL", "TRUTH",
           "EventReader", "EventWriter", "RunState", "Status", "cancel_iteration_request",
           "clean", "events", "iteration_dir", "load_state", "read_from", "read_json",
           "request", "requests", "write_json"]
