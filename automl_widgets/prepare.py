"""On the target, before the first iteration: load and check the data, fix the folds."""
from __future__ import annotations

import os

import joblib
import numpy as np

from . import catalog, data
from .iteration import Context, take
from .metrics import CLASSIFICATION

INLINE_DATA = "data.joblib"


def load(spec, folder) -> tuple[dict, str]:
    source = spec["data"]
    if source["kind"] == "inline":
        return joblib.load(os.path.join(folder, INLINE_DATA)), "AutoMLConfig"
    script = source["script"]
    return data.run_data_script(script, spec.get("path")), f"get_data() in {script}"


def prepare(spec, folder) -> tuple[Context, dict]:
    d, source = load(spec, folder)
    checked = dict(d, task=spec["task"], preprocess=spec["preprocess"],
                   n_cross_validations=spec["n_cross_validations"])
    data.validate(checked, source)
    task, rs = spec["task"], spec["random_state"]
    X, y = d["X"], data.as_target(d["y"])
    w = None if d.get("sample_weight") is None else np.asarray(d["sample_weight"], float)
    X_valid, y_valid = d.get("X_valid"), d.get("y_valid")
    y_valid = None if y_valid is None else data.as_target(y_valid)
    classification = task == CLASSIFICATION
    classes = None
    if classification:
        classes = np.unique(y if y_valid is None else np.concatenate([y, y_valid]))
    splits = None
    if X_valid is None and spec["validation_size"]:
        from sklearn.model_selection import train_test_split
        idx = np.arange(len(y))
        train, valid = train_test_split(idx, test_size=spec["validation_size"], random_state=rs,
                                        stratify=y if classification else None)
        X, X_valid = take(X, train), take(X, valid)
        y_valid, y = y[valid], y[train]
        w = None if w is None else w[train]
    elif X_valid is None:
        from sklearn.model_selection import KFold, StratifiedKFold
        folds = spec["n_cross_validations"] or 5
        cv = (StratifiedKFold if classification else KFold)(folds, shuffle=True, random_state=rs)
        splits = list(cv.split(np.zeros(len(y)), y))
    sparse = data._is_sparse(X)
    cores = spec["max_cores_per_iteration"]
    ctx = Context(task=task, primary_metric=spec["primary_metric"], X=X, y=y,
                  sample_weight=w, X_valid=X_valid, y_valid=y_valid, splits=splits,
                  classes=classes, kinds=data.column_kinds(X) if spec["preprocess"] else None,
                  sparse=sparse, random_state=rs, n_jobs=cores)
    info = {
        "rows": int(len(y)), "columns": int(np.shape(X)[1]), "sparse": sparse,
        "validation": ("cross_validation" if splits else "holdout"),
        "folds": len(splits) if splits else None,
        "validation_rows": None if y_valid is None else int(len(y_valid)),
        "classes": None if classes is None else [c.item() if hasattr(c, "item") else c
                                                 for c in classes],
        "estimators": catalog.allowed_estimators(task, spec["whitelist_models"],
                                                 spec["blacklist_models"], sparse),
        "preprocessors": catalog.allowed_preprocessors(sparse),
    }
    if not info["estimators"]:
        raise data.ConfigError("No allowed model accepts sparse X; allow one of "
                               f"{catalog.allowed_estimators(task, sparse=True)}.")
    return ctx, info

