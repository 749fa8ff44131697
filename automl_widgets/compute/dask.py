"""DaskCompute: an existing Dask cluster (a scheduler address) as a compute target.

The driver runs on this machine as for LocalCompute, detached and the run folder's only
writer; each iteration is a Dask task that runs it in a child process on a worker
(automl_widgets.engine.dask_exec). So start, liveness, cancel and the (absent) mirror are
LocalCompute's; what differs is where the iterations go, which the driver reads from the
target's description in spec.json.
"""
from __future__ import annotations

import gc
import re

from .base import NAME_RULE_TEXT
from .local import LocalCompute
from .ssh import SSHError, _check_name

CONNECT_TIMEOUT = 5        # seconds attach() waits for the scheduler to answer
ADDRESS = re.compile(r"(tcp|tls|inproc|ucx|ws|wss)://\S+")
# Security settings kept in the workspace: paths and flags only, never key material.
SECURITY_FIELDS = ("require_encryption", "tls_ca_file", "tls_ciphers", "tls_client_key",
                   "tls_client_cert", "tls_min_version", "tls_max_version")


class DaskError(SSHError):
    """A Dask target could not be attached or reached; the message says what to do."""


class DaskCompute(LocalCompute):
    """An attached Dask cluster. DaskCompute(ws, name) loads one; attach() creates one."""
    kind = "dask"

    def __init__(self, workspace, name):
        _check_name(name)
        settings = workspace.load_target(name)
        if settings is None or workspace.target_kind(name) != self.kind:
            raise DaskError(f"No Dask compute target {name!r} is attached to this workspace; "
                            f"attach it with DaskCompute.attach(ws, {name!r}, "
                            "address='tcp://scheduler:8786').")
        self.workspace, self.name = workspace, name
        self.address = settings["address"]
        self.security = settings.get("security")

    @classmethod
    def attach(cls, workspace, name, address, security=None) -> DaskCompute:
        """Check that a scheduler answers at `address` (within a few seconds), then record
        the target in the workspace: the address and the paths of a TLS `security`."""
        _check_name(name)
        if not isinstance(address, str) or not ADDRESS.fullmatch(address):
            raise DaskError(f"The 'address' of a Dask target must be a scheduler address "
                            f"such as 'tcp://10.0.0.5:8786' or 'tls://host:8786'. Got "
                            f"{address!r} instead.")
        saved = _security_settings(security)
        if address.startswith("tls://") and security is None:
            raise DaskError(f"The scheduler at {address} speaks TLS: give security="
                            "distributed.Security(tls_ca_file=..., tls_client_cert=..., "
                            "tls_client_key=..., require_encryption=True).")
        info = _ask_scheduler(address, security)
        workspace.save_target(name, cls.kind, {"address": address, "security": saved,
                                               "workers_at_attach": len(info["workers"])})
        return cls(workspace, name)

    def __repr__(self):
        return f"DaskCompute(name={self.name!r}, address={self.address!r})"

    def describe(self) -> dict:
        return {"type": self.kind, "name": self.name, "address": self.address,
                "security": self.security}

    def wait_for_completion(self, show_output=False):
        """The classic provisioning wait: here, check that the scheduler answers."""
        info = self.scheduler_info()
        if show_output:
            threads = sum(w.get("nthreads", 0) for w in info.get("workers", {}).values())
            print(f"{self.name}: {len(info.get('workers', {}))} worker(s), {threads} "
                  f"thread(s) at {self.address}.")
        return self

    def scheduler_info(self) -> dict:
        """What the scheduler says now: its workers and their threads."""
        return _ask_scheduler(self.address, self.security and _rebuild(self.security))


def _ask_scheduler(address, security) -> dict:
    from distributed import Client
    failure = None
    try:
        client = Client(address, security=security, timeout=CONNECT_TIMEOUT,
                        set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, TLS/comm errors alike
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        # The half-made Client is garbage now. Collected later, at a random moment, its
        # __del__ takes distributed's LoopRunner lock, which the moment may already hold
        # (a deadlock seen in the suite until a timeout); collected here, it holds nothing.
        gc.collect()
        raise DaskError(f"No Dask scheduler answered at {address} within {CONNECT_TIMEOUT} s "
                        f"({failure}). Check the address and that `dask scheduler` runs "
                        "there and is reachable from here.")
    try:
        return client.scheduler_info()
    finally:
        client.close()


def _security_settings(security) -> dict | None:
    if security is None:
        return None
    from distributed import Security
    if not isinstance(security, Security):
        raise DaskError(f"The 'security' of a Dask target must be a distributed.Security. "
                        f"Got {security!r} instead.")
    saved = {}
    for field in SECURITY_FIELDS:
        value = getattr(security, field, None)
        if isinstance(value, str) and "-----BEGIN" in value:
            raise DaskError("The 'security' of a Dask target must name its certificate and key "
                            "files (Security(tls_ca_file=..., tls_client_cert=..., "
                            "tls_client_key=...)); key material held in memory is not "
                            "stored in the workspace.")
        if value is not None:
            saved[field] = value
    return saved


def _rebuild(saved: dict):
    from distributed import Security
    return Security(**saved)


__all__ = ["DaskCompute", "DaskError", "NAME_RULE_TEXT"]
