"""AutoMLConfig: every setting checked in one table, before anything starts.

Messages follow scikit-learn's: "The 'n_cross_validations' parameter of AutoMLConfig must
be an int in the range [2, inf) or None. Got 1 instead."
"""
from __future__ import annotations

import ast
import difflib
import logging
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np

from . import catalog, frames, metrics, protocol
from .datacheck import ConfigError

# ---- constraints ----------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    kind: type            # numbers.Integral or numbers.Real
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"
    note: str = ""

    def ok(self, v) -> bool:
        if isinstance(v, bool) or not isinstance(v, self.kind) or v != v:  # v != v: NaN
            return False
        lo_ok = self.low is None or (v >= self.low if self.closed in ("both", "left") else v > self.low)
        hi_ok = self.high is None or (v <= self.high if self.closed in ("both", "right") else v < self.high)
        return lo_ok and hi_ok

    def __str__(self):
        name = "an int" if self.kind is numbers.Integral else "a float"
        lb = "[" if self.closed in ("both", "left") and self.low is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        return f"{name} in the range {lb}{lo}, {hi}{rb}{self.note}"


@dataclass(frozen=True)
class Options:
    values: tuple

    def ok(self, v) -> bool:
        return isinstance(v, (str, bool)) and v in self.values

    def __str__(self):
        return "a str among {" + ", ".join(repr(x) for x in self.values) + "}"


@dataclass(frozen=True)
class Kind:
    types: tuple
    label: str

    def ok(self, v) -> bool:
        if bool not in self.types and isinstance(v, bool):
            return False
        return isinstance(v, self.types)

    def __str__(self):
        return self.label


@dataclass(frozen=True)
class Exactly:
    value: object
    label: str

    def ok(self, v) -> bool:
        return not isinstance(v, bool) and v == self.value

    def __str__(self):
        return self.label


@dataclass(frozen=True)
class NonEmpty(Kind):
    def ok(self, v) -> bool:
        return super().ok(v) and len(v) > 0


@dataclass(frozen=True)
class FileName:
    """A log file name: the driver writes its basename into the run folder."""
    label: str

    def ok(self, v) -> bool:
        if not isinstance(v, str) or v.endswith(("/", os.sep)) or os.path.isdir(v):
            return False
        return os.path.basename(v) not in ("", ".", "..", *RUN_FOLDER_FILES)

    def __str__(self):
        return self.label


@dataclass(frozen=True)
class _NoneOk:
    label: str = "None"

    def ok(self, v):
        return v is None

    def __str__(self):
        return self.label


RUN_FOLDER_FILES = (protocol.SPEC, protocol.EVENTS, protocol.CONTROL, protocol.ITERATIONS,
                    protocol.DRIVER_LOG, protocol.DRIVER_PID, protocol.INLINE_DATA,
                    protocol.REMOTE)
NONE = _NoneOk()
BOOL = Kind((bool,), "a bool")
PATH = Kind((str, os.PathLike), "a str or path")
NAMES = Kind((list, tuple, set), "a list of model names")
SOME_NAMES = NonEmpty((list, tuple, set), "a non-empty list of model names")
ALL_MODELS = _NoneOk("None (all models)")
INT = numbers.Integral
REAL = numbers.Real
ANY = None  # arrays and objects: checked with the data
# inf means no limit: stored as None, which the driver reads so
TIME_LIMIT = Interval(REAL, 0, math.inf, "right", " (inf: no limit)")

# name: (default, constraints)
PARAMETERS: dict = {
    "task": (None, [Options(metrics.TASKS)]),
    "primary_metric": (None, [Kind((str,), "a metric name"),
                              Kind((object,), "a scorer from sklearn.metrics.make_scorer"),
                              NONE]),
    "iterations": (100, [Interval(INT, 1, 1000)]),
    "max_time_sec": (3600, [TIME_LIMIT]),
    "n_cross_validations": (None, [Interval(INT, 2, None), Options(("auto",)), NONE]),
    "validation_size": (None, [Interval(REAL, 0, 1, "neither"), NONE]),
    "preprocess": (False, [BOOL]),
    "concurrent_iterations": (1, [Interval(INT, 1, 256)]),
    "max_cores_per_iteration": (1, [Interval(INT, 1, None), Exactly(-1, "-1 (all cores)"), NONE]),
    "verbosity": (logging.INFO, [Interval(INT, 0, 50)]),
    "debug_log": ("automl.log", [FileName(
        "a file name (not a folder, nor a name the run folder uses: "
        + ", ".join(RUN_FOLDER_FILES) + ")"), NONE]),
    "path": (None, [PATH, NONE]),
    "data_script": (None, [PATH, NONE]),
    "run_configuration": (None, [ANY]),
    "X": (None, [ANY]),
    "y": (None, [ANY]),
    "X_valid": (None, [ANY]),
    "y_valid": (None, [ANY]),
    "sample_weight": (None, [ANY]),
    "experiment_timeout_minutes": (None, [TIME_LIMIT, NONE]),
    "exit_score": (None, [Interval(REAL, None, None), NONE]),
    "enable_early_stopping": (False, [BOOL]),
    "early_stopping_n_iters": (10, [Interval(INT, 1, 1000)]),
    "blacklist_models": (None, [NAMES, NONE]),
    "whitelist_models": (None, [SOME_NAMES, ALL_MODELS]),
    "enable_ensembling": (True, [BOOL]),
    "ensemble_iterations": (15, [Interval(INT, 1, 1000)]),
    "random_state": (None, [Interval(INT, 0, 2**32 - 1), NONE]),
    # the classic display name of the run (automl_settings["name"])
    "name": (None, [Kind((str,), "a str"), NONE]),
    # later SDK names
    "enable_voting_ensemble": (True, [BOOL]),
    "enable_stack_ensemble": (True, [BOOL]),
    "positive_label": (None, [Kind((str, int, float, bool), "a class label (a str, int, "
                                  "float or bool)"), NONE]),
    "cv_splits_indices": (None, [ANY]),
    "training_data": (None, [ANY]),
    "validation_data": (None, [ANY]),
    "label_column_name": (None, [Kind((str,), "a column name"), NONE]),
    "weight_column_name": (None, [Kind((str,), "a column name"), NONE]),
    "cv_split_column_names": (None, [ANY]),
    "compute_target": (None, [ANY]),
    # the classic name: the best iteration's feature importance, computed at the end
    "model_explainability": (False, [BOOL]),
    # the classic name: search only pipelines that convert to ONNX (the [onnx] extra)
    "enable_onnx_compatible_models": (False, [BOOL]),
    # log every iteration to MLflow as a nested run (the [mlflow] extra)
    "mlflow_tracking_uri": (None, [Kind((str,), "a tracking URI (a str such as "
                                         "'file:///tmp/mlruns' or 'http://host:5000')"), NONE]),
}

# later name: (classic name, converter from the later value to the classic one)
ALIASES = {
    "iteration_timeout_minutes": ("max_time_sec", lambda v: v * 60 if _is_real(v) else v),
    "max_concurrent_iterations": ("concurrent_iterations", lambda v: v),
    "featurization": ("preprocess", lambda v: {"auto": True, "off": False}.get(v, v)),
    "blocked_models": ("blacklist_models", lambda v: v),
    "allowed_models": ("whitelist_models", lambda v: v),
    "experiment_exit_score": ("exit_score", lambda v: v),
    "experiment_timeout_hours": ("experiment_timeout_minutes",
                                 lambda v: v * 60 if _is_real(v) else v),
}
_ALIAS_CONSTRAINTS = {
    "iteration_timeout_minutes": [TIME_LIMIT],
    "featurization": [Options(("auto", "off"))],
    "allowed_models": [SOME_NAMES, ALL_MODELS],
    "experiment_timeout_hours": [TIME_LIMIT],
}
NO_LIMIT = ("max_time_sec", "experiment_timeout_minutes")

ARRAY_SETTINGS = ("X", "y", "X_valid", "y_valid", "sample_weight", "cv_splits_indices",
                  "training_data", "validation_data")
# what the driver's process loads from the run folder (data.joblib), when not a data_script
INLINE = ("X", "y", "X_valid", "y_valid", "sample_weight", "cv_splits_indices")


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _plain(value):
    """numpy scalars (np.int64(3), np.float64, np.bool_) as the Python values they hold,
    so the checks and spec.json see plain numbers."""
    return value.item() if isinstance(value, np.generic) else value


def _check(owner, name, value, constraints):
    constraints = [c for c in constraints if c is not None]
    if not constraints or any(c.ok(value) for c in constraints):
        return
    valid = [str(c) for c in constraints]
    text = valid[0] if len(valid) == 1 else ", ".join(valid[:-1]) + " or " + valid[-1]
    raise ConfigError(f"The {name!r} parameter of {owner} must be {text}. Got {value!r} instead.")


def suggest(name, valid) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class AutoMLConfig:
    """The settings of one AutoML experiment, validated when constructed.

    Takes the classic names (iterations, max_time_sec, preprocess, concurrent_iterations,
    blacklist_models, ...) and the later ones as aliases (iteration_timeout_minutes,
    max_concurrent_iterations, featurization, blocked_models, allowed_models,
    experiment_exit_score).
    """

    def __init__(self, task=None, **kwargs):
        self.user_settings = dict(kwargs, task=task)
        self.settings = resolve(self.user_settings)

    def __getattr__(self, name):
        settings = self.__dict__.get("settings")
        if settings is not None and name in settings:
            return settings[name]
        raise AttributeError(name)

    def __repr__(self):
        shown = {k: v for k, v in self.settings.items()
                 if k in PARAMETERS and k not in ARRAY_SETTINGS and v != PARAMETERS[k][0]}
        return "AutoMLConfig(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def data_script_path(self) -> str | None:
        return self.settings["data_script"]

    def to_spec(self) -> dict:
        """The JSON-able part of the settings, as written to spec.json."""
        spec = {k: v for k, v in self.settings.items()
                if k not in ARRAY_SETTINGS and k not in ("run_configuration", "compute_target")}
        spec["cv_splits"] = self.settings["cv_splits_indices"] is not None
        for key in ("blacklist_models", "whitelist_models"):
            if spec[key] is not None:
                spec[key] = sorted(spec[key])
        return spec


def resolve(given: dict) -> dict:
    """Aliases folded in, defaults filled, every value checked; raises ConfigError."""
    owner = "AutoMLConfig"
    known = set(PARAMETERS) | set(ALIASES)
    for name in given:
        if name not in known:
            raise ConfigError(f"{name!r} is not a setting of {owner}.{suggest(name, known)} "
                              f"Valid settings: {', '.join(sorted(known))}.")
    given = {k: v if k in ARRAY_SETTINGS else _plain(v) for k, v in given.items()}
    settings = {k: v for k, v in given.items() if k in PARAMETERS}
    for alias, (classic, convert) in ALIASES.items():
        if alias not in given or given[alias] is None:
            continue
        _check(owner, alias, given[alias], _ALIAS_CONSTRAINTS.get(alias, []))
        value = convert(given[alias])
        if settings.get(classic) is not None and settings[classic] != value:
            raise ConfigError(
                f"{alias!r} and {classic!r} name the same setting of {owner} and were given "
                f"different values ({given[alias]!r} and {settings[classic]!r}); give only one.")
        settings[classic] = value
    for name, (default, constraints) in PARAMETERS.items():
        if settings.get(name) is None:
            settings[name] = default
        if name == "task" and settings[name] is None:
            raise ConfigError(f"The 'task' parameter of {owner} is required: one of "
                              f"{list(metrics.TASKS)}.")
        _check(owner, name, settings[name], constraints)
    for name in NO_LIMIT:
        if settings[name] == math.inf:
            settings[name] = None
    if settings["n_cross_validations"] == "auto":   # the later SDK's name for our default
        settings["n_cross_validations"] = None
    settings["notes"] = []   # said once in driver.log: how a setting was understood
    _check_related(settings)
    return settings


def _check_related(s):
    task = s["task"]
    if s["primary_metric"] is None:
        s["primary_metric"] = metrics.DEFAULT_PRIMARY[task]
    elif metrics.is_scorer(s["primary_metric"]):
        s["primary_metric"] = metrics.from_scorer(s["primary_metric"], task)
    elif not isinstance(s["primary_metric"], str):
        raise ConfigError("The 'primary_metric' parameter of AutoMLConfig must be a metric name "
                          "or a scorer from sklearn.metrics.make_scorer. Got "
                          f"{s['primary_metric']!r} instead.")
    valid_metrics = metrics.names(task)   # custom ones registered included
    if s["primary_metric"] not in valid_metrics:
        raise ConfigError(
            f"The 'primary_metric' {s['primary_metric']!r} is not a {task} metric."
            f"{suggest(s['primary_metric'], valid_metrics)} Valid for {task}: "
            f"{', '.join(valid_metrics)}.")
    s["custom_metrics"] = metrics.custom_entries(task)
    models = catalog.model_names(task)
    for key in ("whitelist_models", "blacklist_models"):
        if s[key] is None:
            continue
        for m in s[key]:
            if m not in models:
                raise ConfigError(f"{key} names {m!r}, which is not a {task} model."
                                  f"{suggest(str(m), models)} Valid: {', '.join(models)}.")
    onnx = s["enable_onnx_compatible_models"]
    left = catalog.allowed_estimators(task, s["whitelist_models"], s["blacklist_models"],
                                      onnx=onnx)
    if not left:
        valid = catalog.allowed_estimators(task, onnx=onnx)
        raise ConfigError("whitelist_models and blacklist_models leave no model to try"
                          + (" that converts to ONNX" if onnx else "")
                          + f"; valid {task} models: {', '.join(valid)}.")
    _check_extra(onnx, "enable_onnx_compatible_models=True", "onnx", ("skl2onnx", "onnxmltools"))
    _check_extra(s["mlflow_tracking_uri"], "mlflow_tracking_uri", "mlflow", ("mlflow",))
    if s["validation_size"] is not None and s["n_cross_validations"] is not None:
        raise ConfigError("Give either 'validation_size' or 'n_cross_validations', not both.")
    if s["X_valid"] is not None and (s["validation_size"] is not None
                                     or s["n_cross_validations"] is not None):
        raise ConfigError("With X_valid given, 'validation_size' and 'n_cross_validations' "
                          "must be left unset: the validation data is used instead.")
    if (s["X_valid"] is None) != (s["y_valid"] is None):
        raise ConfigError("'X_valid' and 'y_valid' go together: give both or neither.")
    if s["positive_label"] is not None and task != metrics.CLASSIFICATION:
        raise ConfigError("'positive_label' is for classification (the class that binary "
                          f"metrics count as positive); this task is {task!r}.")
    if s["compute_target"] is not None and s["run_configuration"] is not None:
        raise ConfigError("Give either 'compute_target' or 'run_configuration', not both "
                          "(compute_target=t is short for a RunConfiguration whose target is t).")
    frames.from_tables(s)
    if s["cv_splits_indices"] is not None and (
            s["n_cross_validations"] is not None or s["validation_size"] is not None
            or s["X_valid"] is not None):
        raise ConfigError("With 'cv_splits_indices' (or 'cv_split_column_names') the folds "
                          "are given: leave 'n_cross_validations', 'validation_size' and "
                          "'validation_data'/'X_valid' unset.")
    _check_data_source(s)


def _check_extra(wanted, setting, extra, modules):
    """An optional feature's packages, checked here rather than failing at the end."""
    import importlib.util
    missing = [m for m in modules if wanted and importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"{setting} needs {', '.join(missing)}, which is not installed: "
                          f"pip install 'automl-widgets[{extra}]'.")


def _check_data_source(s):
    has_arrays = s["X"] is not None or s["y"] is not None
    script = s["data_script"]
    if script is not None and has_arrays:
        raise ConfigError("Give the data either as 'data_script' or as 'X' and 'y', not both.")
    if script is None and not has_arrays:
        raise ConfigError("No data: give 'data_script' (a file defining get_data()) or 'X' "
                          "and 'y'.")
    if s["path"] is not None:
        s["path"] = os.path.abspath(os.fspath(s["path"]))
        if not os.path.isdir(s["path"]):
            raise ConfigError(f"The 'path' setting names {s['path']!r}, which is not a "
                              "directory; give the project folder.")
    if script is not None:
        s["data_script"] = _find_script(os.fspath(script), s["path"], s["notes"])
    elif s["X"] is None or s["y"] is None:
        raise ConfigError("'X' and 'y' go together: give both (or a 'data_script').")
    else:
        from .datacheck import validate
        validate(s, source="AutoMLConfig")


def _find_script(script, path, notes) -> str:
    candidates = [script] if os.path.isabs(script) else [os.path.abspath(script)]
    if path and not os.path.isabs(script):
        candidates.append(os.path.join(path, script))
    found = next((c for c in candidates if os.path.isfile(c)), None)
    if found is None and path and os.path.isfile(os.path.join(path, os.path.basename(script))):
        # The classic example wrote project_folder + "./get_data.py" (".../automl-remote./
        # get_data.py"), and the old SDK found the script in `path`: so do we, and say so.
        found = os.path.join(path, os.path.basename(script))
        notes.append(f"data_script {script!r} does not exist; using {found}, the file of "
                     "that name in 'path'")
    if found is None:
        raise ConfigError(f"The 'data_script' file {script!r} does not exist (looked at "
                          f"{', '.join(candidates)}); give a .py file that defines get_data().")
    try:
        tree = ast.parse(open(found, encoding="utf-8").read(), filename=found)
    except SyntaxError as exc:
        raise ConfigError(f"The 'data_script' {found} is not valid Python: {exc}") from None
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    defined |= {t.id for n in tree.body if isinstance(n, ast.Assign)
                for t in n.targets if isinstance(t, ast.Name)}
    defined |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom)
                for a in n.names}
    if "get_data" not in defined:
        raise ConfigError(f"The 'data_script' {found} does not define get_data(); it must "
                          "define a function get_data() returning a dict with 'X' and 'y' "
                          "(and optionally 'X_valid', 'y_valid', 'sample_weight').")
    return found
