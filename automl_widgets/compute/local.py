"""LocalCompute: the driver as a detached process on this machine."""
from __future__ import annotations

import os
import subprocess
import sys

from ..runfolder import DRIVER_LOG, DRIVER_PID


class LocalCompute:
    name = "local"

    def start(self, folder: str) -> int:
        """Start the driver in its own session and return its pid (well under a second)."""
        with open(os.path.join(folder, DRIVER_LOG), "ab") as log:
            subprocess.run([sys.executable, "-m", "automl_widgets.driver", folder, "--detach"],
                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True, close_fds=True, cwd=folder, check=True)
        return self.driver_pid(folder)

    @staticmethod
    def driver_pid(folder) -> int | None:
        try:
            with open(os.path.join(folder, DRIVER_PID)) as f:
                return int(f.read().strip())
        except (FileNotFoundError, ValueError):
            return None

    def mirror(self, folder):
        return None  # the run folder is here already

    def driver_alive(self, folder) -> bool:
        pid = self.driver_pid(folder)
        if pid is None:
            return False
        try:  # the pid must still be our driver, not a process that reused the number
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except (FileNotFoundError, ProcessLookupError):
            return False
        return b"automl_widgets.driver" in cmd and folder.encode() in cmd

    def describe(self) -> dict:
        return {"type": "local", "name": self.name}
