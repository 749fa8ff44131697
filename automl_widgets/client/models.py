"""The workspace's model registry: named, versioned copies of iterations' fitted Pipelines.

    model = run.register_model(model_name="cancer", description="...", tags={"team": "a"})
    Model.list(ws)                         # every version of every model, newest first
    Model(ws, "cancer").load()             # the latest version; version=2 for another
    Model(ws, "cancer", 1).download("out/")

A version's file is a copy in .automl/models/<name>/<version>/model.joblib, so it stays
when the run folder is deleted. The index (index.sqlite) holds its metadata: the source
run and iteration, metrics, the data's schema and the package versions that load it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from importlib import metadata

from ..errors import ConfigError

MODEL_FILE = "model.joblib"
FORMATS = ("joblib", "onnx")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}")
PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "joblib", "lightgbm", "xgboost-cpu",
            "xgboost", "skl2onnx", "onnxmltools", "onnx")
SCHEMA = """
CREATE TABLE IF NOT EXISTS models (name TEXT, version INTEGER, created REAL, run_id TEXT,
    iteration INTEGER, info TEXT, PRIMARY KEY (name, version));
"""


class Model:
    """One registered version; Model(ws, name) is the latest, Model(ws, name, version)."""

    def __init__(self, workspace, name, version=None):
        _check_name(name)
        with _db(workspace) as db:
            if version is None:
                row = db.execute("SELECT version, created, run_id, iteration, info FROM models "
                                 "WHERE name = ? ORDER BY version DESC LIMIT 1",
                                 (name,)).fetchone()
            else:
                row = db.execute("SELECT version, created, run_id, iteration, info FROM models "
                                 "WHERE name = ? AND version = ?", (name, version)).fetchone()
        if row is None:
            known = [v for v, in _versions(workspace, name)]
            raise ConfigError(f"No model {name!r}" + (f" version {version}" if version else "")
                              + f" in workspace {workspace.path}"
                              + (f"; its versions: {known}." if known else "."))
        self.workspace, self.name = workspace, name
        self.version, self.created, self.run_id, self.iteration = row[:4]
        info = json.loads(row[4])
        self.description, self.tags = info.get("description"), info.get("tags") or {}
        self.metrics, self.schema = info.get("metrics") or {}, info.get("schema") or {}
        self.packages, self.pipeline = info.get("packages") or {}, info.get("pipeline")
        self.primary_metric = info.get("primary_metric")

    def __repr__(self):
        return f"Model(name={self.name!r}, version={self.version}, run_id={self.run_id!r})"

    @property
    def path(self) -> str:
        return os.path.join(_folder(self.workspace, self.name, self.version), MODEL_FILE)

    def load(self):
        """The fitted scikit-learn Pipeline."""
        import joblib
        return joblib.load(self.path)

    def download(self, target_dir=".", exist_ok=False, format="joblib") -> str:
        """Copy the model into target_dir (made if missing); returns its path.

        format="onnx" writes <name>-<version>.onnx instead (the [onnx] extra)."""
        if format not in FORMATS:
            raise ConfigError(f"format must be one of {list(FORMATS)}; got {format!r}.")
        if format == "onnx":
            from .onnx_export import _import
            _import()
        dest = os.path.join(target_dir, f"{self.name}-{self.version}.{format}")
        if os.path.exists(dest) and not exist_ok:
            raise FileExistsError(f"{dest} exists; pass exist_ok=True to overwrite it.")
        os.makedirs(target_dir, exist_ok=True)
        if format == "onnx":
            from .onnx_export import convert
            data = convert(self.load()).SerializeToString()
            tmp = dest + ".part"   # a failed write never leaves a half file under the name
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dest)
        else:
            shutil.copyfile(self.path, dest)
        return dest

    @staticmethod
    def list(workspace, name=None) -> list[Model]:
        """Every registered version (of `name`, if given), newest first."""
        with _db(workspace) as db:
            rows = db.execute("SELECT name, version FROM models" +
                              (" WHERE name = ?" if name else "") +
                              " ORDER BY created DESC, version DESC",
                              (name,) if name else ()).fetchall()
        return [Model(workspace, n, v) for n, v in rows]


def register(run, model_name, description=None, tags=None, iteration=None) -> Model:
    """A new version of `model_name` from the run's best iteration, or `iteration`."""
    _check_name(model_name)
    if description is not None and not isinstance(description, str):
        raise ConfigError(f"description must be a str or None; got {description!r}.")
    if tags is not None and not (isinstance(tags, dict) and all(
            isinstance(k, str) for k in tags)):
        raise ConfigError(f"tags must be a dict with str keys; got {tags!r}.")
    child, model = run.get_output(iteration=iteration)
    rec = child.record
    ws = run.experiment.workspace
    info = {"description": description, "tags": tags or {}, "pipeline": rec.get("pipeline"),
            "metrics": rec.get("metrics") or {}, "primary_metric": run.spec["primary_metric"],
            "schema": _schema(run, model), "packages": _packages()}
    with _db(ws) as db:   # one transaction: two registrations never share a version
        version = (db.execute("SELECT MAX(version) FROM models WHERE name = ?",
                              (model_name,)).fetchone()[0] or 0) + 1
        folder = _folder(ws, model_name, version)
        os.makedirs(folder, exist_ok=True)
        shutil.copyfile(os.path.join(child.folder, MODEL_FILE), os.path.join(folder, MODEL_FILE))
        db.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?)",
                   (model_name, version, time.time(), run.id, child.number,
                    json.dumps(info, default=str)))
    return Model(ws, model_name, version)


def _schema(run, model) -> dict:
    data = run.state.data_info
    columns = getattr(model, "feature_names_in_", None)
    return {"task": run.spec["task"], "rows": data.get("rows"), "columns": data.get("columns"),
            "classes": data.get("classes"),
            "feature_names": None if columns is None else [str(c) for c in columns]}


def _packages() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _check_name(name):
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError(f"A model name must be 1 to 255 letters, digits, '_', '-' or '.', "
                          f"starting with a letter or digit; got {name!r}.")


def _folder(workspace, name, version) -> str:
    return os.path.join(workspace.data_dir, "models", name, str(version))


def _versions(workspace, name):
    with _db(workspace) as db:
        return db.execute("SELECT version FROM models WHERE name = ? ORDER BY version",
                          (name,)).fetchall()


def _db(workspace):
    db = workspace._db()
    return _WithSchema(db)


class _WithSchema:
    """The workspace's connection, with the models table made on first use (workspaces
    made before the registry existed have none)."""

    def __init__(self, cm):
        self.cm = cm

    def __enter__(self):
        db = self.cm.__enter__()
        db.executescript(SCHEMA)
        return db

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc)
