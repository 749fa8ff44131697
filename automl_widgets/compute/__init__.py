"""Compute targets: where a run's driver runs. Each one is a ComputeTarget: it starts the
driver on a run folder, says whether it is alive, cancels, and mirrors a remote run folder;
everything else goes through the run folder."""
from __future__ import annotations

from .base import ComputeTarget, ComputeTargetException
from .dask import DaskCompute, DaskError
from .local import LocalCompute
from .ssh import SSHCompute, SSHError, UnknownHostError


class RunConfiguration:
    """Where to run: `target` is a compute target object or "local" (the default)."""

    def __init__(self, target="local"):
        self.target = target
        self.resolve_target()  # refuse a wrong target now, not at submit

    def __repr__(self):
        name = getattr(self.target, "name", self.target)
        return f"RunConfiguration(target={name!r})"

    def resolve_target(self) -> ComputeTarget:
        if self.target is None or (isinstance(self.target, str) and self.target == "local"):
            return LocalCompute()
        if not isinstance(self.target, ComputeTarget):
            raise ValueError(
                "The 'target' parameter of RunConfiguration must be 'local' or a compute "
                "target such as LocalCompute(), SSHCompute(ws, name) or DaskCompute(ws, name) "
                "(an object with name, "
                "start, mirror, driver_alive, cancel and describe). "
                f"Got {self.target!r} instead.")
        return self.target


def target_for(workspace, description: dict) -> ComputeTarget:
    """The target object a run's spec names, for a reader re-attaching to it."""
    if description.get("type") == SSHCompute.kind:
        return SSHCompute(workspace, description["name"])
    if description.get("type") == DaskCompute.kind:
        try:
            return DaskCompute(workspace, description["name"])
        except DaskError:  # detached since: its driver is local, so local reading serves
            return LocalCompute()
    return LocalCompute()


__all__ = ["ComputeTarget", "ComputeTargetException", "DaskCompute", "DaskError", "LocalCompute", "RunConfiguration",
           "SSHCompute", "SSHError", "UnknownHostError", "target_for"]
