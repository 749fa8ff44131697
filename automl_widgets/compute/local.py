"""LocalCompute: the driver as a detached process on this machine."""
from __future__ import annotations

import os
import subprocess
import sys

from ..protocol import DRIVER_LOG, liveness


class LocalCompute:
    name = "local"

    def start(self, folder: str) -> int:
        """Start the driver in its own session and return its pid (well under a second)."""
        with open(os.path.join(folder, DRIVER_LOG), "ab") as log:
            subprocess.run([sys.executable, "-m", "automl_widgets.engine.driver", folder, "--detach"],
                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True, close_fds=True, cwd=folder, check=True)
        return self.driver_pid(folder)

    @staticmethod
    def driver_pid(folder) -> int | None:
        info = liveness.recorded(folder)
        return None if info is None else info["pid"]

    def mirror(self, folder):
        return None  # the run folder is here already

    def driver_alive(self, folder) -> bool:
        return liveness.alive(folder)

    def describe(self) -> dict:
        return {"type": "local", "name": self.name}
