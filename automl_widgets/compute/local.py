"""LocalCompute: the driver as a detached process on this machine."""
from __future__ import annotations

import os
import subprocess
import sys

from ..protocol import DRIVER_LOG, liveness, request
from .base import cancel_request


class LocalCompute:
    name = "local"

    def start(self, folder: str) -> None:
        """Start the driver in its own session (well under a second); its pid is then in
        the run folder's driver.pid."""
        with open(os.path.join(folder, DRIVER_LOG), "ab") as log:
            subprocess.run([sys.executable, "-m", "automl_widgets.engine.driver", folder, "--detach"],
                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True, close_fds=True, cwd=folder, check=True)

    @staticmethod
    def driver_pid(folder) -> int | None:
        info = liveness.recorded(folder)
        return None if info is None else info["pid"]

    def mirror(self, folder):
        return None  # the run folder is here already

    def driver_alive(self, folder) -> bool:
        return liveness.alive(folder)

    def cancel(self, folder, iteration=None) -> None:
        # No signal: the driver looks at control/ every 50 ms in every phase, and a SIGTERM
        # before its handler is set would kill it instead of canceling.
        request(folder, cancel_request(iteration))

    def describe(self) -> dict:
        return {"type": "local", "name": self.name}

    def explain(self, folder, iteration, seconds) -> None:
        """The feature importance job, here (the run's data and model are here)."""
        done = subprocess.run([sys.executable, "-m", "automl_widgets.engine.explain", folder,
                               str(iteration), str(seconds)], cwd=folder, capture_output=True,
                              text=True, timeout=seconds + 600)
        if done.returncode != 0:
            raise RuntimeError(f"The feature importance of iteration {iteration} failed:\n"
                               f"{done.stderr[-3000:]}")

    def wait_for_completion(self, show_output=False):
        """Nothing to provision on this machine (the classic call, for symmetry)."""
        return self

    def __repr__(self):
        return "LocalCompute()"
