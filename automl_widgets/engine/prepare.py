"""On the target, before the first iteration: load and check the data, fix the folds."""
from __future__ import annotations

import os

import joblib
import numpy as np

from .. import catalog, datacheck
from ..metrics import CLASSIFICATION
from ..protocol import INLINE_DATA
from . import data
from .iteration import Context, take


def load(spec, folder) -> tuple[dict, str]:
    source = spec["data"]
    if source["kind"] == "inline":
        return joblib.load(os.path.join(folder, INLINE_DATA)), "AutoMLConfig"
    script = source["script"]
    return data.run_data_script(script, spec.get("path")), f"get_data() in {script}"


# With no validation given: 5-fold cross-validation, or a 10 % holdout when folds would
# cost too much for the budget. With experiment_timeout_minutes, FLAML's rule: a holdout
# from CELLS_PER_HOUR cells (rows x columns / 0.9) per hour of budget, or from
# ALWAYS_HOLDOUT rows; without a budget, the later SDK's rule: above LARGE rows.
LARGE, ALWAYS_HOLDOUT, CELLS_PER_HOUR = 20_000, 100_000, 10_000_000
# Below ALWAYS_HOLDOUT rows, a holdout must hold enough to judge by: HOLDOUT_CLASS_ROWS of
# every class, HOLDOUT_ROWS for regression. Else the search picks by the holdout's noise:
# caravan (85 columns, 6 % positive) got 26 positives in 437 rows, and the pick scored AUC
# 0.90 there and 0.73 on new rows. Folds score every row, and small tables fit fast.
HOLDOUT_CLASS_ROWS, HOLDOUT_ROWS = 50, 500


def auto_holdout(spec, rows, columns, smallest_class=None) -> tuple[bool, str | None]:
    """Whether our own holdout replaces the 5 folds, and why, for the log (None: folds
    as usual). smallest_class: (label, rows) of the rarest class, for classification."""
    if rows >= ALWAYS_HOLDOUT:
        return True, f"{rows} rows, {ALWAYS_HOLDOUT} or more"
    minutes = spec["experiment_timeout_minutes"]
    if minutes is None and rows > LARGE:
        why = f"more than {LARGE} rows"
    elif minutes is not None and rows * columns / 0.9 >= CELLS_PER_HOUR * minutes / 60:
        why = f"{rows} rows x {columns} columns in {minutes:g} min of budget"
    else:
        return False, None
    if smallest_class is not None and smallest_class[1] * HOLDOUT < HOLDOUT_CLASS_ROWS:
        return False, (f"a holdout would hold about {int(smallest_class[1] * HOLDOUT)} rows "
                       f"of class {smallest_class[0]!r}, too few to judge by "
                       f"(at least {HOLDOUT_CLASS_ROWS})")
    if smallest_class is None and rows * HOLDOUT < HOLDOUT_ROWS:
        return False, (f"a holdout would hold {int(rows * HOLDOUT)} rows, too few to "
                       f"judge by (at least {HOLDOUT_ROWS})")
    return True, why


HOLDOUT = 0.1   # our own holdout's share of the rows


def prepare(spec, folder) -> tuple[Context, dict]:
    d, source = load(spec, folder)
    checked = dict(d, task=spec["task"], preprocess=spec["preprocess"],
                   n_cross_validations=spec["n_cross_validations"],
                   positive_label=spec.get("positive_label"),
                   primary_metric=spec["primary_metric"])
    datacheck.validate(checked, source)
    given = checked.get("cv_splits_indices")   # the user's folds, checked
    task, rs = spec["task"], spec["random_state"]
    X, y = d["X"], datacheck.as_target(d["y"])
    w = None if d.get("sample_weight") is None else np.asarray(d["sample_weight"], float)
    X_valid, y_valid = d.get("X_valid"), d.get("y_valid")
    y_valid = None if y_valid is None else datacheck.as_target(y_valid)
    classification = task == CLASSIFICATION
    classes = None
    if classification:
        classes = np.unique(y if y_valid is None else np.concatenate([y, y_valid]))
    splits = None
    holdout = spec["validation_size"]
    final_rows = None   # what the saved models are fitted on, if not the training rows
    why = None   # why our own choice of validation, for the log
    if X_valid is None and not holdout and not spec["n_cross_validations"] and given is None:
        own, why = auto_holdout(spec, len(y), np.shape(X)[1],
                                _smallest_class(y) if classification else None)
        if own:
            holdout = HOLDOUT
            final_rows = (X, y, w)   # our own choice of holdout: the models still get every row
    if X_valid is None and holdout:
        from sklearn.model_selection import train_test_split
        idx = np.arange(len(y))
        train, valid = train_test_split(idx, test_size=holdout, random_state=rs,
                                        stratify=y if classification else None)
        X, X_valid = take(X, train), take(X, valid)
        y_valid, y = y[valid], y[train]
        w = None if w is None else w[train]
    elif X_valid is None and given is not None:
        splits = given
    elif X_valid is None:
        from sklearn.model_selection import KFold, StratifiedKFold
        folds = spec["n_cross_validations"] or 5
        cv = (StratifiedKFold if classification else KFold)(folds, shuffle=True, random_state=rs)
        splits = list(cv.split(np.zeros(len(y)), y))
    sparse = datacheck.is_sparse(X)
    cores = spec["max_cores_per_iteration"]
    onnx = bool(spec.get("enable_onnx_compatible_models"))
    ctx = Context(task=task, primary_metric=spec["primary_metric"], X=X, y=y,
                  sample_weight=w, X_valid=X_valid, y_valid=y_valid, splits=splits,
                  classes=classes, kinds=data.column_kinds(X) if spec["preprocess"] else None,
                  sparse=sparse, random_state=rs, n_jobs=cores, final_rows=final_rows,
                  positive_label=spec.get("positive_label"),
                  custom_metrics=spec.get("custom_metrics"), onnx=onnx)
    info = {
        "rows": int(len(y)), "columns": int(np.shape(X)[1]), "sparse": sparse,
        "validation": ("cross_validation" if splits else "holdout"),
        "folds": len(splits) if splits else None,
        "validation_rows": None if y_valid is None else int(len(y_valid)),
        "classes": None if classes is None else [c.item() if hasattr(c, "item") else c
                                                 for c in classes],
        "estimators": catalog.allowed_estimators(
            task, spec["whitelist_models"], spec["blacklist_models"], sparse, rows=len(y),
            onnx=onnx),
        "preprocessors": catalog.allowed_preprocessors(sparse),
        "why": why,   # for the log, not the event
    }
    if not info["estimators"]:
        raise datacheck.ConfigError("No allowed model accepts sparse X; allow one of "
                               f"{catalog.allowed_estimators(task, sparse=True)}.")
    return ctx, info


def _smallest_class(y) -> tuple:
    labels, counts = np.unique(y, return_counts=True)
    i = int(counts.argmin())
    return (labels[i].item() if hasattr(labels[i], "item") else labels[i]), int(counts[i])


def left_out(spec, info) -> dict:
    """The allowed estimators the data rules out, each with why, for the log."""
    task = spec["task"]
    allowed = catalog.allowed_estimators(task, spec["whitelist_models"],
                                         spec["blacklist_models"])
    why = {}
    for key in set(allowed) - set(info["estimators"]):
        comp = catalog.estimators(task)[key]
        if info["sparse"] and comp.sparse_kwargs is None:
            why[key] = "it does not take sparse X"
        elif comp.max_rows is not None and info["rows"] > comp.max_rows:
            why[key] = f"more than {comp.max_rows} rows make it too slow"
        else:
            why[key] = "enable_onnx_compatible_models=True and skl2onnx cannot convert it"
    return why


def describe_error(exc: BaseException, spec) -> str:
    """What went wrong while loading the data, for get_details()["error"]: our own checks
    as they are; anything else with its type, message and the data script's frame."""
    import traceback

    from ..datacheck import ConfigError
    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, SystemExit):
        head = f"SystemExit: the data script called sys.exit({exc.code!r})"
    else:
        head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    script = (spec.get("data") or {}).get("script")
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if script and os.path.realpath(f.filename) == os.path.realpath(script)]
    if frames:
        f = frames[-1]
        head += f'\n  File "{f.filename}", line {f.lineno}, in {f.name}' + (
            f"\n    {f.line}" if f.line else "")
    where = f" in get_data() of {script}" if script else ""
    return f"Loading the data failed{where}: {head}"
