"""ComputeTarget: what every compute target does, and nothing more. The rest goes through
the run folder (automl_widgets.protocol), which is the same wherever the driver runs."""
from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from ..protocol import CANCEL_RUN, cancel_iteration_request

# The classic SDK's rule for compute target names.
NAME_MAX = 64
NAME_FORBIDDEN = "`~!@#$%^&*()=+_[]{}\\|;:'\",<>/?"
NAME_RULE_TEXT = (f"1 to {NAME_MAX} characters, none of them whitespace nor any of "
                  + " ".join(NAME_FORBIDDEN))


class ComputeTargetException(RuntimeError):
    """A compute target that cannot be found, named, reached or used; the classic SDK's
    name, so `except ComputeTargetException:` around `SSHCompute(ws, name)` works as it did."""


def check_name(name) -> None:
    """Raise ComputeTargetException unless `name` follows the classic naming rules."""
    bad = None if not isinstance(name, str) else (
        "it is empty" if not name else
        f"it is {len(name)} characters long" if len(name) > NAME_MAX else
        "it has whitespace" if re.search(r"\s", name) else
        "it has " + ", ".join(repr(c) for c in dict.fromkeys(name) if c in NAME_FORBIDDEN)
        if any(c in NAME_FORBIDDEN for c in name) else None)
    if not isinstance(name, str) or bad:
        why = f" ({bad})" if bad else ""
        raise ComputeTargetException(
            f"Compute target name {name!r} is not valid{why}: use {NAME_RULE_TEXT}.")


@runtime_checkable
class ComputeTarget(Protocol):
    name: str   # shown to the user and stored in the index

    def start(self, folder: str) -> None:
        """Start the run's driver on a written run folder; returns once it runs (the pid
        and, for a remote, where it runs are recorded in the run folder)."""

    def mirror(self, folder: str):
        """None when the run folder is local; else an object whose pull() copies the
        remote run folder into `folder` (and pushes control requests the other way)."""

    def driver_alive(self, folder: str) -> bool:
        """False only when the driver is known to be gone and all it wrote is in `folder`
        (a remote target copies it first), so a reader may then trust what it reads."""

    def cancel(self, folder: str, iteration: int | None = None) -> None:
        """Ask the driver to cancel the run, or one iteration of it (a control request)."""

    def describe(self) -> dict:
        """JSON-able; "type" and "name" at least. Stored in spec.json as "target"."""


def cancel_request(iteration=None) -> str:
    """The control file name for a cancel of the run (None) or of one iteration."""
    if iteration is None:
        return CANCEL_RUN
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise ValueError(f"iteration must be None (the whole run) or an int >= 0; "
                         f"got {iteration!r}.")
    return cancel_iteration_request(iteration)
