"""Fault injection for tests and drills: AUTOML_WIDGETS_FAULTS="2=crash,3=hang" makes
iteration 2 die of SIGSEGV and iteration 3 hang, inside the real iteration process.

In the iteration process: crash (SIGSEGV), exit (os._exit(3)), hang, chatter (hangs
writing a log line every half second, for views that tail logs), memory (a real
MemoryError), raise (RuntimeError), disk-full (its output goes to /dev/full, where every
write fails with the kernel's ENOSPC, and its log.txt becomes a link to nowhere, so the
driver's final line to it fails too; readers see an empty log).
In the driver: driver-error makes the driver itself fail with an I/O error as it is
about to start that iteration.
docs/faults.md lists what the user sees for each.
"""
from __future__ import annotations

import errno
import os
import time

VARIABLE = "AUTOML_WIDGETS_FAULTS"


def _faults() -> dict:
    return dict(item.split("=", 1) for item in os.environ.get(VARIABLE, "").split(",")
                if "=" in item)


def inject(iteration: str, log_path: str | None = None) -> None:
    fault = _faults().get(iteration)
    if fault == "crash":
        import ctypes
        ctypes.string_at(0)  # a real segmentation fault
    elif fault == "exit":
        os._exit(3)
    elif fault == "hang":
        print("hanging on purpose (fault injection)", flush=True)
        while True:
            time.sleep(3600)
    elif fault == "chatter":   # hangs too, writing a log line every half second
        for i in range(1, 10**9):
            print(f"still working on purpose (fault injection): {i}", flush=True)
            time.sleep(0.5)
    elif fault == "memory":
        import resource
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = size + 512 * 1024**2
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        bytearray(2 * limit)  # a real MemoryError under the limit
    elif fault == "raise":
        raise RuntimeError("injected failure")
    elif fault == "disk-full" and log_path:
        tmp = f"{log_path}.full"
        os.symlink(os.path.join("no-space-left", os.path.basename(log_path)), tmp)
        os.replace(tmp, log_path)
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, 1)
        os.dup2(full, 2)
        os.close(full)


def inject_driver(iteration: int) -> None:
    if _faults().get(str(iteration)) == "driver-error":
        raise OSError(errno.EIO, f"injected I/O error in the driver before iteration {iteration}")
