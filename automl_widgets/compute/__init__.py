"""Compute targets: where a run's driver runs. Each one starts the driver on a run folder
and says whether it is still alive; everything else goes through the run folder."""
from __future__ import annotations

from .local import LocalCompute
from .ssh import SSHCompute, SSHError, UnknownHostError


class RunConfiguration:
    """Where to run: `target` is a compute target object or "local" (the default)."""

    def __init__(self, target="local"):
        self.target = target

    def __repr__(self):
        name = getattr(self.target, "name", self.target)
        return f"RunConfiguration(target={name!r})"

    def resolve_target(self):
        if self.target in (None, "local"):
            return LocalCompute()
        if not hasattr(self.target, "start"):
            raise ValueError(f"RunConfiguration.target must be 'local' or a compute target "
                             f"such as LocalCompute(); got {self.target!r}.")
        return self.target


def target_for(workspace, description: dict):
    """The target object a run's spec names, for a reader re-attaching to it."""
    if description.get("type") == SSHCompute.kind:
        return SSHCompute(workspace, description["name"])
    return LocalCompute()


__all__ = ["LocalCompute", "RunConfiguration", "SSHCompute", "SSHError", "UnknownHostError",
           "target_for"]
