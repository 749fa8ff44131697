"""Workspace (a folder with an embedded SQLite index) and Experiment (a named group of runs).

    <workspace>/.automl/config.json       {"automl_widgets": 1, "workspace_name": ...}
    <workspace>/.automl/index.sqlite      experiments, runs, compute targets
    <workspace>/.automl/runs/<run_id>/    one run folder each (see protocol/files.py)
    <folder>/config.json                  optional, only with the "automl_widgets" key:
                                          {"automl_widgets": 1, "path": "<workspace>"}

The index only finds things; each run's truth is its run folder. Opening a workspace
writes nothing: only Workspace.create and Experiment.submit do.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import time
import uuid

from ..config import ConfigError
from ..protocol import CONTROL, INLINE_DATA, ITERATIONS, SPEC, EventWriter, Status, write_json
from ..protocol.events import RunFinished

DATA_DIR, CONFIG, INDEX = ".automl", "config.json", "index.sqlite"
MARKER, FORMAT = "automl_widgets", 1   # the key that makes a config.json ours, and its value
_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (name TEXT PRIMARY KEY, created REAL);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, experiment TEXT, created REAL,
                                 target TEXT, status TEXT);
CREATE TABLE IF NOT EXISTS targets (name TEXT PRIMARY KEY, kind TEXT, settings TEXT);
"""
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,254}")


class WorkspaceNotFound(ConfigError):
    """No workspace config in a folder or above it (Workspace.create makes one)."""


class Workspace:
    def __init__(self, path, name=None):
        """An existing workspace; Workspace.create(path) makes one."""
        # realpath: every spelling of the folder (symlinks, ..) is one workspace
        self.path = os.path.realpath(path)
        self.data_dir = os.path.join(self.path, DATA_DIR)
        self.runs_dir = os.path.join(self.data_dir, "runs")
        self.name = name or os.path.basename(self.path)
        if not os.path.isfile(os.path.join(self.data_dir, INDEX)):
            raise WorkspaceNotFound(f"{self.path} holds no workspace (no {DATA_DIR}/{INDEX}); "
                                    f"make one with Workspace.create({self.path!r}).")

    def __repr__(self):
        return f"Workspace(name={self.name!r}, path={self.path!r})"

    @classmethod
    def create(cls, path=".", name=None) -> Workspace:
        """Make (or reopen) a workspace in `path`, writing .automl/config.json."""
        path = os.path.realpath(path)
        config = os.path.join(path, DATA_DIR, CONFIG)
        if os.path.exists(config):
            return cls._load(config)   # reopened, if it is ours
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"The 'name' parameter of Workspace.create must be a non-empty "
                              f"str or None. Got {name!r} instead.")
        os.makedirs(os.path.join(path, DATA_DIR, "runs"), mode=0o700, exist_ok=True)
        db = sqlite3.connect(os.path.join(path, DATA_DIR, INDEX))
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()
        # Written last: a config names a folder with a complete index.
        write_json(config, {MARKER: FORMAT, "workspace_name": name or os.path.basename(path)})
        return cls._load(config)

    @classmethod
    def from_config(cls, path=None) -> Workspace:
        """The workspace of `path` (a folder, or a config file), default the current
        folder: the first .automl/config.json, or config.json holding the "automl_widgets"
        key, found in it or the folders above it. Other config.json files are passed by."""
        if path is not None and not os.path.exists(path):
            raise WorkspaceNotFound(f"{path}: no such file or folder.")
        start = os.path.abspath(path or os.getcwd())
        if os.path.isfile(start):
            return cls._load(start)
        passed = []
        here = start
        while True:
            for candidate in (os.path.join(here, CONFIG), os.path.join(here, DATA_DIR, CONFIG)):
                if os.path.isfile(candidate):
                    ws = cls._load(candidate, passed)
                    if ws is not None:
                        return ws
            parent = os.path.dirname(here)
            if parent == here:
                others = "".join(f" Passed by {p}." for p in passed)
                raise WorkspaceNotFound(f"No workspace config.json found in {start} or any "
                                        f"folder above it; make one with "
                                        f"Workspace.create(path).{others}")
            here = parent

    @classmethod
    def _load(cls, config_file, passed=None):
        """The workspace of a config file. One that is not ours is noted in `passed` and
        None returned while searching, refused when named."""
        folder = os.path.dirname(os.path.abspath(config_file))
        in_data_dir = os.path.basename(folder) == DATA_DIR
        # A config that Workspace.create wrote before it had the marker: next to an index.
        legacy = in_data_dir and os.path.isfile(os.path.join(folder, INDEX))
        try:
            with open(config_file, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError) as exc:
            config, problem = None, f"it is not readable JSON ({exc})"
        else:
            problem = f"it holds a JSON {type(config).__name__}, not an object"
        if isinstance(config, dict):
            if MARKER in config or legacy:
                return cls._open(config_file, config, folder, in_data_dir)
            problem = f'it has no "{MARKER}" key'
        if legacy:   # the config of a workspace, damaged: never pass by to one above
            raise ConfigError(f"The workspace config {config_file} is damaged: {problem}. "
                              f"Workspace.create wrote it as "
                              f'{{"{MARKER}": {FORMAT}, "workspace_name": "..."}}.')
        if passed is None:
            raise ConfigError(f"{config_file} is not an automl-widgets workspace config: "
                              f"{problem}.")
        passed.append(f"{config_file}: {problem}")
        return None

    @classmethod
    def _open(cls, config_file, config, folder, in_data_dir):
        def check(key, ok, valid):
            if key in config and not ok(config[key]):
                raise ConfigError(f"The '{key}' key of workspace config {config_file} must be "
                                  f"{valid}. Got {config[key]!r} instead.")
        check(MARKER, lambda v: v == FORMAT and not isinstance(v, bool), f"{FORMAT}")
        check("workspace_name", lambda v: isinstance(v, str) and v, "a non-empty str")
        check("path", lambda v: isinstance(v, str) and v,
              "a non-empty str (the workspace folder, relative to the config's folder)")
        root = os.path.dirname(folder) if in_data_dir else folder
        root = os.path.join(root, os.path.expanduser(config.get("path", ".")))
        if not os.path.isfile(os.path.join(root, DATA_DIR, INDEX)):
            raise ConfigError(f"The workspace config {config_file} names the folder "
                              f"{os.path.realpath(root)}, which holds no workspace (no "
                              f"{DATA_DIR}/{INDEX}).")
        return cls(root, config.get("workspace_name"))

    @contextlib.contextmanager
    def _db(self):
        """A connection for one transaction: committed (or rolled back) and closed."""
        db = sqlite3.connect(os.path.join(self.data_dir, INDEX), timeout=30)
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

    def target_kind(self, name) -> str | None:
        with self._db() as db:
            row = db.execute("SELECT kind FROM targets WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def targets(self) -> list[tuple[str, str, dict]]:
        """(name, kind, settings) of every attached compute target, by name."""
        with self._db() as db:
            rows = list(db.execute("SELECT name, kind, settings FROM targets ORDER BY name"))
        return [(name, kind, json.loads(settings)) for name, kind, settings in rows]

    def record_status(self, run_id, status):
        """Cache a final status written in the run's folder (which stays the truth); never
        a reader's guess."""
        with self._db() as db:
            db.execute("UPDATE runs SET status = ? WHERE run_id = ?", (status, run_id))


class Experiment:
    def __init__(self, workspace: Workspace, name: str):
        if not isinstance(name, str) or not _EXPERIMENT_NAME.fullmatch(name):
            raise ConfigError(f"Experiment name {name!r} is not valid: use 1 to 255 letters, "
                              "digits, '-' or '_', starting with a letter or digit.")
        self.workspace, self.name = workspace, name

    def __repr__(self):
        return f"Experiment(name={self.name!r}, workspace={self.workspace.name!r})"

    def submit(self, config, show_output=False):
        """Write the run folder, start the driver on the target, return the Run at once.

        If it fails, the error is raised as it came. Before the target was asked to start
        the driver, the run existed only here and is removed; after, the run is kept,
        ended Failed with the error, since its driver may have got as far as starting."""
        from ..compute import RunConfiguration
        from .run import Run
        run_config = config.settings.get("run_configuration")
        if run_config is None and config.settings.get("compute_target") is not None:
            run_config = RunConfiguration(config.settings["compute_target"])   # the shortcut
        run_config = run_config or RunConfiguration()
        if not isinstance(run_config, RunConfiguration):
            raise ConfigError("The 'run_configuration' parameter of AutoMLConfig must be a "
                              "RunConfiguration (set its .target to a compute target). Got "
                              f"{run_config!r} instead.")
        target = run_config.resolve_target()
        run_id = f"AutoML_{uuid.uuid4()}"
        folder = self.workspace.run_folder(run_id)
        spec = config.to_spec()
        if spec["random_state"] is None:  # record one, so the run can be repeated exactly
            spec["random_state"] = int.from_bytes(os.urandom(4), "little") % (2**31)
        spec.update(run_id=run_id, experiment=self.name, created=time.time(),
                    target=target.describe())
        try:
            os.makedirs(os.path.join(folder, CONTROL), mode=0o700)
            os.makedirs(os.path.join(folder, ITERATIONS))
            if spec["data_script"]:
                spec["data"] = {"kind": "script", "script": spec["data_script"]}
            else:
                spec["data"] = {"kind": "inline"}
                import joblib

                from ..config import INLINE
                joblib.dump({k: config.settings[k] for k in INLINE},
                            os.path.join(folder, INLINE_DATA))
            write_json(os.path.join(folder, SPEC), spec)
            with self.workspace._db() as db:
                db.execute("INSERT OR IGNORE INTO experiments VALUES (?, ?)",
                           (self.name, time.time()))
                db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                           (run_id, self.name, spec["created"], target.name, Status.NOT_STARTED))
        except BaseException as exc:
            _remove(folder, exc)
            raise
        try:
            target.start(folder)
        except BaseException as exc:
            self._start_failed(run_id, folder, target, exc)
            raise
        run = Run(self, run_id, target=target)
        if show_output:
            run.wait_for_completion(show_output=True)
        return run

    def _start_failed(self, run_id, folder, target, exc):
        """End the run Failed with the error, in its folder (the truth) and the index.
        Should its driver have got going after all, its events follow this one and
        readers follow them."""
        error = f"Starting the driver on target {target.name!r} failed: " \
                f"{type(exc).__name__}: {exc}"
        try:
            writer = EventWriter(folder)
            try:
                writer.emit(RunFinished(status=Status.FAILED, error=error,
                                        reason="start_failed"))
            finally:
                writer.close()
            self.workspace.record_status(run_id, Status.FAILED)
        except Exception as second:  # the first error is the one to raise
            exc.add_note(f"Run {run_id} could not be marked Failed either ({second}); its "
                         f"folder is {folder}.")
        else:
            exc.add_note(f"Run {run_id} is recorded as Failed with this error.")

    def get_runs(self):
        from .run import Run
        return [Run(self, r[0]) for r in self.workspace.runs(self.name)]


def _remove(folder, exc):
    """Remove a run folder that no driver ever saw; a failure to is noted on `exc`."""
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        pass
    except OSError as second:
        exc.add_note(f"The unfinished run folder {folder} could not be removed ({second}).")
