"""Fault injection for tests and drills: AUTOML_WIDGETS_FAULTS="2=crash,3=hang" makes
iteration 2 die of SIGSEGV and iteration 3 hang, inside the real iteration process."""
from __future__ import annotations

import os
import time

VARIABLE = "AUTOML_WIDGETS_FAULTS"


def inject(iteration: str) -> None:
    faults = dict(item.split("=", 1) for item in os.environ.get(VARIABLE, "").split(",")
                  if "=" in item)
    fault = faults.get(iteration)
    if fault == "crash":
        import ctypes
        ctypes.string_at(0)  # a real segmentation fault
    elif fault == "exit":
        os._exit(3)
    elif fault == "hang":
        print("hanging on purpose (fault injection)", flush=True)
        while True:
            time.sleep(3600)
    elif fault == "memory":
        import resource
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = size + 512 * 1024**2
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        bytearray(2 * limit)  # a real MemoryError under the limit
    elif fault == "raise":
        raise RuntimeError("injected failure")
