"""Helpers shared by the tests (plain functions; fixtures live in conftest.py)."""
import os
import subprocess
import sys
import time

import numpy as np

from automl_widgets.engine.faults import VARIABLE as FAULTS
from automl_widgets.protocol import EventReader


def events(run) -> list[dict]:
    """The run's events as the dicts of their lines."""
    return [e.to_dict() for e in EventReader(run.folder).read_new()]


def finished_once(run) -> list[int]:
    """Every iteration of the run finished exactly once; returns their numbers."""
    done = [e["iteration"] for e in events(run) if e["event"] == "iteration_finished"]
    assert len(done) == len(set(done)), f"an iteration finished twice: {done}"
    return sorted(done)


def statuses(run) -> dict:
    return {r["iteration"]: r["status"] for r in run.iterations}


def reasons(run) -> dict:
    return {c.number: c.get_properties()["reason"] for c in run.get_children()}


def running(n):
    """A predicate for Run.wait_until: iteration n is running."""
    return lambda r: any(i["iteration"] == n and i["status"] == "Running" for i in r.iterations)


def hanging(submit, monkeypatch, n, **settings):
    """Submit a run whose iteration n hangs (a real process that never ends by itself) and
    return it once that iteration runs: a live run to cancel, kill or re-attach."""
    monkeypatch.setenv(FAULTS, f"{n}=hang")
    run = submit(**settings)
    assert run.wait_until(running(n), timeout=60)
    return run


def until(condition, timeout=60) -> bool:
    """Wait for a condition no run event announces (a process ending): poll it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def cli(ws, *args, cwd=None, faults=None, timeout=180):
    """Run the automl-widgets command in a subprocess, as a user would."""
    env = {k: v for k, v in os.environ.items() if k != FAULTS}
    if faults:
        env[FAULTS] = faults
    command = [sys.executable, "-m", "automl_widgets.client.cli"]
    command += ["--workspace", str(ws)] if ws else []
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True,
                          env=env, cwd=cwd or os.getcwd(), timeout=timeout)


def rng_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, (X[:, 0] + rng.normal(scale=0.5, size=n) > 0).astype(int)


def logged(run, n, text):
    """A predicate: iteration n's log (streamed from its worker) holds `text`."""
    def holds(r):
        child = next((c for c in r.get_children() if c.number == n), None)
        return child is not None and text in child.get_log()
    return holds
