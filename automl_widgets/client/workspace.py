"""Workspace (a folder with an embedded SQLite index) and Experiment (a named group of runs).

    <workspace>/config.json or <workspace>/.automl/config.json
    <workspace>/.automl/index.sqlite      experiments, runs, compute targets
    <workspace>/.automl/runs/<run_id>/    one run folder each (see runfolder.py)

The index only finds things; each run's truth is its run folder.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
import uuid

from ..config import ConfigError
from ..protocol import CONTROL, INLINE_DATA, ITERATIONS, SPEC, write_json

DATA_DIR, CONFIG = ".automl", "config.json"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (name TEXT PRIMARY KEY, created REAL);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, experiment TEXT, created REAL,
                                 target TEXT, status TEXT);
CREATE TABLE IF NOT EXISTS targets (name TEXT PRIMARY KEY, kind TEXT, settings TEXT);
"""
_EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,254}$")


class Workspace:
    def __init__(self, path, name=None):
        self.path = os.path.abspath(path)
        self.data_dir = os.path.join(self.path, DATA_DIR)
        self.runs_dir = os.path.join(self.data_dir, "runs")
        self.name = name or os.path.basename(self.path)
        os.makedirs(self.runs_dir, mode=0o700, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    def __repr__(self):
        return f"Workspace(name={self.name!r}, path={self.path!r})"

    @classmethod
    def create(cls, path=".", name=None) -> Workspace:
        """Make (or reopen) a workspace in `path`, writing .automl/config.json."""
        path = os.path.abspath(path)
        os.makedirs(os.path.join(path, DATA_DIR), exist_ok=True)
        config = os.path.join(path, DATA_DIR, CONFIG)
        if not os.path.exists(config):
            write_json(config, {"workspace_name": name or os.path.basename(path)})
        return cls.from_config(config)

    @classmethod
    def from_config(cls, path=None) -> Workspace:
        """Find config.json (or .automl/config.json) in `path` or the folders above it."""
        start = os.path.abspath(path or os.getcwd())
        if os.path.isfile(start):
            return cls._load(start)
        here = start
        while True:
            for candidate in (os.path.join(here, CONFIG), os.path.join(here, DATA_DIR, CONFIG)):
                if os.path.isfile(candidate):
                    return cls._load(candidate)
            parent = os.path.dirname(here)
            if parent == here:
                raise ConfigError(f"No workspace config.json found in {start} or any folder "
                                  "above it; make one with Workspace.create(path).")
            here = parent

    @classmethod
    def _load(cls, config_file):
        with open(config_file, encoding="utf-8") as f:
            config = json.load(f)
        folder = os.path.dirname(config_file)
        root = os.path.dirname(folder) if os.path.basename(folder) == DATA_DIR else folder
        return cls(os.path.join(root, config.get("path", ".")), config.get("workspace_name"))

    @contextlib.contextmanager
    def _db(self):
        """A connection for one transaction: committed (or rolled back) and closed."""
        db = sqlite3.connect(os.path.join(self.data_dir, "index.sqlite"), timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        finally:
            db.close()

    def run_folder(self, run_id) -> str:
        if not re.fullmatch(r"AutoML_[0-9a-f\-]{36}", run_id or ""):
            raise ValueError(f"{run_id!r} is not a run id (AutoML_<uuid>).")
        return os.path.join(self.runs_dir, run_id)

    @property
    def experiments(self) -> dict:
        with self._db() as db:
            names = [r[0] for r in db.execute("SELECT name FROM experiments ORDER BY name")]
        return {n: Experiment(self, n) for n in names}

    def runs(self, experiment=None) -> list[tuple]:
        """(run_id, experiment, created, target, cached status), newest first."""
        query = "SELECT run_id, experiment, created, target, status FROM runs"
        args = ()
        if experiment:
            query, args = query + " WHERE experiment = ?", (experiment,)
        with self._db() as db:
            return list(db.execute(query + " ORDER BY created DESC", args))

    def find_run(self, run_id):
        """The Run with this id, in whichever experiment it is."""
        from .run import Run
        with self._db() as db:
            row = db.execute("SELECT experiment FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"No run {run_id!r} in workspace {self.path}.")
        return Run(Experiment(self, row[0]), run_id)

    def save_target(self, name, kind, settings: dict) -> None:
        """Record a compute target: connection settings only, never a secret."""
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO targets VALUES (?, ?, ?)",
                       (name, kind, json.dumps(settings)))

    def load_target(self, name) -> dict | None:
        with self._db() as db:
            row = db.execute("SELECT settings FROM targets WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def record_status(self, run_id, status):
        """Cache a run's final status in the index (the run folder stays the truth)."""
        with self._db() as db:
            db.execute("UPDATE runs SET status = ? WHERE run_id = ?", (status, run_id))


class Experiment:
    def __init__(self, workspace: Workspace, name: str):
        if not isinstance(name, str) or not _EXPERIMENT_NAME.match(name):
            raise ConfigError(f"Experiment name {name!r} is not valid: use 1 to 255 letters, "
                              "digits, '-' or '_', starting with a letter or digit.")
        self.workspace, self.name = workspace, name

    def __repr__(self):
        return f"Experiment(name={self.name!r}, workspace={self.workspace.name!r})"

    def submit(self, config, show_output=False):
        """Write the run folder, start the driver on the target, return the Run at once."""
        from ..compute import RunConfiguration
        from .run import Run
        run_config = config.settings.get("run_configuration") or RunConfiguration()
        target = run_config.resolve_target()
        run_id = f"AutoML_{uuid.uuid4()}"
        folder = self.workspace.run_folder(run_id)
        spec = config.to_spec()
        if spec["random_state"] is None:  # record one, so the run can be repeated exactly
            spec["random_state"] = int.from_bytes(os.urandom(4), "little") % (2**31)
        spec.update(run_id=run_id, experiment=self.name, created=time.time(),
                    target=target.describe())
        os.makedirs(os.path.join(folder, CONTROL), mode=0o700)
        os.makedirs(os.path.join(folder, ITERATIONS))
        if spec["data_script"]:
            spec["data"] = {"kind": "script", "script": spec["data_script"]}
        else:
            spec["data"] = {"kind": "inline"}
            import joblib
            joblib.dump({k: config.settings[k] for k in
                         ("X", "y", "X_valid", "y_valid", "sample_weight")},
                        os.path.join(folder, INLINE_DATA))
        write_json(os.path.join(folder, SPEC), spec)
        with self.workspace._db() as db:
            db.execute("INSERT OR IGNORE INTO experiments VALUES (?, ?)", (self.name, time.time()))
            db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                       (run_id, self.name, spec["created"], target.name, "NotStarted"))
        target.start(folder)
        run = Run(self, run_id, target=target)
        if show_output:
            run.wait_for_completion(show_output=True)
        return run

    def get_runs(self):
        from .run import Run
        return [Run(self, r[0]) for r in self.workspace.runs(self.name)]
