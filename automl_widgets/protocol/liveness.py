"""driver.pid: which process is a run's driver, and whether it still runs.

A pid alone can be reused, and a path in a command line can be spelt many ways (symlinks,
relative paths), so the file holds the pid with that process's start time: the driver is
alive exactly when a process with that pid and that start time exists.

    python -m automl_widgets.protocol.liveness RUN_FOLDER   exits 0 if alive, 3 if not
                                                            (the SSH mirror's probe)
"""
from __future__ import annotations

import os
import sys

import psutil

from .files import DRIVER_PID, read_json, write_json


def record(folder, pid: int) -> None:
    write_json(os.path.join(folder, DRIVER_PID),
               {"pid": pid, "create_time": psutil.Process(pid).create_time(),
                "start_ticks": start_ticks(pid), "host": os.uname().nodename})


def start_ticks(pid: int) -> int | None:
    """The process's start in clock ticks since boot (Linux's /proc/PID/stat, field 22),
    or None where there is no such file. psutil's create_time adds the boot time as the
    wall clock gives it now: when the clock is stepped (NTP, a VM's clock sync) it moves,
    and a live driver was once read as gone while its run went on."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def recorded(folder) -> dict | None:
    try:
        info = read_json(os.path.join(folder, DRIVER_PID))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None


def alive(folder) -> bool:
    """False only when it is known: a driver on another host (a shared filesystem) cannot
    be checked from here, and a guess would show a live run as dead."""
    info = recorded(folder)
    if info is None:
        return False
    if info.get("host") not in (None, os.uname().nodename):
        return True
    try:
        p = psutil.Process(info["pid"])
        ticks = info.get("start_ticks")
        if isinstance(ticks, int):
            same = start_ticks(info["pid"]) == ticks
        else:   # written elsewhere than on Linux, or by an older version
            same = abs(p.create_time() - float(info.get("create_time") or 0)) < 0.5
        return same and p.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, TypeError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(0 if alive(sys.argv[1]) else 3)
