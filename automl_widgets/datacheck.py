"""Checks of the training data, shared by the kernel (in-memory X, y, before anything
starts) and the target (what a data script returned)."""
from __future__ import annotations

import numpy as np

from .errors import ConfigError  # noqa: F401 - raised here, imported from here elsewhere
from .metrics import REGRESSION

KEYS = ("X", "y", "X_valid", "y_valid", "sample_weight")


def is_sparse(X) -> bool:
    import scipy.sparse as sp
    return sp.issparse(X)


def is_frame(X) -> bool:
    return hasattr(X, "dtypes") and hasattr(X, "columns")


def n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def as_target(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    return y


def _is_numeric(col) -> bool:
    import pandas as pd
    return pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)


def _non_numeric_columns(X) -> list:
    if is_frame(X):
        return [c for c in X.columns if not _is_numeric(X[c])]
    if is_sparse(X):
        return []
    arr = np.asarray(X)
    return [] if np.issubdtype(arr.dtype, np.number) or arr.dtype == bool else ["(all)"]


def _nan_columns(X) -> list:
    if is_frame(X):
        return [c for c in X.columns if X[c].isna().any()]
    if is_sparse(X):
        return ["(sparse)"] if np.isnan(X.data).any() else []
    arr = np.asarray(X, dtype=float)
    return [int(i) for i in np.flatnonzero(np.isnan(arr).any(axis=0))]


def _inf_columns(X) -> list:
    """Numeric columns holding inf or -inf, which no imputer or model accepts."""
    if is_frame(X):
        return [c for c in X.columns if _is_numeric(X[c])
                and np.isinf(X[c].to_numpy(dtype=float, na_value=np.nan)).any()]
    if is_sparse(X):
        coo = X.tocoo()
        return [int(i) for i in np.unique(coo.col[np.isinf(coo.data)])]
    arr = np.asarray(X)
    if not np.issubdtype(arr.dtype, np.number):
        return []
    return [int(i) for i in np.flatnonzero(np.isinf(arr).any(axis=0))]


def _check_columns(key, X, source, preprocess) -> None:
    """The checks each of 'X' and 'X_valid' must pass, column by column."""
    if is_frame(X):
        dup = list(dict.fromkeys(X.columns[X.columns.duplicated()]))
        if dup:
            raise ConfigError(f"{source}: {key!r} has duplicated column names {dup[:5]}; give "
                              "each column a unique name.")
        types = sorted({type(c).__qualname__ for c in X.columns})
        if len(types) > 1 and "str" in types:  # scikit-learn refuses these names
            raise ConfigError(f"{source}: {key!r} has column names of mixed types {types} "
                              f"(e.g. {list(X.columns[:3])}); make them all str, e.g. "
                              f"{key}.columns = {key}.columns.astype(str).")
    inf = _inf_columns(X)
    if inf:
        raise ConfigError(f"{source}: {key!r} contains inf or -inf (columns {inf[:5]}); "
                          "replace them, e.g. with NaN (which preprocess=True imputes) or a "
                          "large finite value.")
    if preprocess:
        if not (is_frame(X) or is_sparse(X)) and _non_numeric_columns(X):
            raise ConfigError(f"{source}: {key!r} is a non-numeric array; with "
                              "preprocess=True give it as a pandas DataFrame, whose column "
                              "types say how each column is encoded, or encode it yourself.")
        return
    text = _non_numeric_columns(X)
    if text:
        raise ConfigError(f"{source}: {key!r} has non-numeric columns {text[:5]}; set "
                          "preprocess=True (featurization='auto') to encode them, or "
                          "encode them yourself.")
    nan = _nan_columns(X)
    if nan:
        raise ConfigError(f"{source}: {key!r} contains NaN (columns {nan[:5]}); set "
                          "preprocess=True (featurization='auto') to impute missing "
                          "values, or fill them yourself.")


def _check_weights(w, n, source) -> None:
    try:
        w = np.asarray(w, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: 'sample_weight' must hold numbers, one per row.") from None
    if w.ndim != 1 or len(w) != n:
        raise ConfigError(f"{source}: 'sample_weight' has shape {w.shape} but 'y' has {n} "
                          "values; give one weight per row.")
    bad = np.flatnonzero(~np.isfinite(w))
    if len(bad):
        raise ConfigError(f"{source}: 'sample_weight' contains NaN or inf (rows "
                          f"{bad[:5].tolist()}); every weight must be a finite number >= 0.")
    bad = np.flatnonzero(w < 0)
    if len(bad):
        raise ConfigError(f"{source}: 'sample_weight' has negative values (rows "
                          f"{bad[:5].tolist()}); every weight must be >= 0.")
    if not (w > 0).any():
        raise ConfigError(f"{source}: 'sample_weight' is all zeros; at least one row needs "
                          "a positive weight.")


def _label_kinds(y) -> dict:
    """{is text: an example} over the non-missing labels."""
    if y.dtype != object:
        return {y.dtype.kind in "US": y[0]} if len(y) else {}
    kinds = {}
    for v in y:
        if v == v:  # NaN != NaN
            kinds.setdefault(isinstance(v, str), v)
    return kinds


def validate(d: dict, source: str) -> None:
    """Raise ConfigError naming the setting (or the file) and what would be valid."""
    task, preprocess = d["task"], d.get("preprocess", False)
    X, y = d.get("X"), d.get("y")
    if X is None or y is None:
        raise ConfigError(f"{source}: both 'X' and 'y' are required.")
    if not (is_frame(X) or is_sparse(X) or hasattr(X, "__len__")):
        raise ConfigError(f"{source}: 'X' must be a numpy array, a pandas DataFrame or a "
                          f"scipy sparse matrix. Got {type(X).__name__}.")
    shape = np.shape(X) if not (is_frame(X) or is_sparse(X)) else X.shape
    if len(shape) != 2:
        raise ConfigError(f"{source}: 'X' must be 2-dimensional (rows x features). "
                          f"Got shape {shape}.")
    if shape[1] == 0:
        raise ConfigError(f"{source}: 'X' has no columns (shape {shape}); give at least "
                          "one feature.")
    y = as_target(y)
    if y.ndim != 1:
        raise ConfigError(f"{source}: 'y' must be 1-dimensional. Got shape {y.shape}.")
    for xk, yk in (("X", "y"), ("X_valid", "y_valid")):
        if d.get(xk) is not None and n_rows(d[xk]) != len(as_target(d[yk])):
            raise ConfigError(f"{source}: {xk!r} and {yk!r} have different lengths: {xk} has "
                              f"{n_rows(d[xk])} rows, {yk} has {len(as_target(d[yk]))}.")
    X_valid = d.get("X_valid")
    if X_valid is not None and np.shape(X_valid)[1:] != tuple(shape[1:]):
        raise ConfigError(f"{source}: 'X_valid' has {np.shape(X_valid)[1]} columns but "
                          f"'X' has {shape[1]}; they must have the same columns.")
    if (X_valid is not None and is_frame(X) and is_frame(X_valid)
            and list(X_valid.columns) != list(X.columns)):
        raise ConfigError(f"{source}: 'X_valid' has columns {list(X_valid.columns)[:5]} but "
                          f"'X' has {list(X.columns)[:5]}; they must have the same columns, "
                          "in the same order.")
    if d.get("sample_weight") is not None:
        _check_weights(d["sample_weight"], len(y), source)
    if d.get("cv_splits_indices") is not None:
        from .frames import check_splits
        d["cv_splits_indices"] = check_splits(d["cv_splits_indices"], len(y), source)
    label = d.get("positive_label")
    if task != REGRESSION and str(d.get("primary_metric")).endswith("_binary"):
        k = len(np.unique(y))
        if k != 2:
            raise ConfigError(f"{source}: the primary_metric {d['primary_metric']!r} is for two "
                              f"classes; 'y' has {k}. Use its _weighted or _macro form.")
    if label is not None and task != REGRESSION:
        present = set(np.unique(y).tolist())
        if label not in present:
            raise ConfigError(f"{source}: 'positive_label' {label!r} is not a class of 'y'; "
                              f"its classes are {sorted(present, key=str)[:20]}.")
    folds = d.get("n_cross_validations") or 5
    if len(y) < max(folds, 2) * 2:
        raise ConfigError(f"{source}: 'X' has only {len(y)} rows; at least {folds * 2} are "
                          f"needed for {folds}-fold cross-validation.")
    if task == REGRESSION:
        if not np.issubdtype(y.dtype, np.number) or y.dtype == bool:
            sample = next(iter(y[:1]), None)
            raise ConfigError(f"{source}: 'y' holds text labels (e.g. {sample!r}); "
                              "task='regression' needs numeric targets. Use "
                              "task='classification' to predict labels.")
        if np.isnan(y.astype(float)).any():
            raise ConfigError(f"{source}: 'y' contains NaN; drop those rows or fill them.")
    else:
        labels = [v for v in y if v == v]  # NaN != NaN
        if len(labels) != len(y):
            raise ConfigError(f"{source}: 'y' contains missing labels; drop those rows.")
        kinds = _label_kinds(y)
        if d.get("y_valid") is not None:
            kinds = {**_label_kinds(as_target(d["y_valid"])), **kinds}
        if len(kinds) > 1:
            where = "'y'" if len(_label_kinds(y)) > 1 else "'y' and 'y_valid'"
            raise ConfigError(f"{source}: {where} mix text and number labels (e.g. "
                              f"{kinds[True]!r} and {kinds[False]!r}); make them one type, "
                              "e.g. y.astype(str).")
        classes = np.unique(y.astype(str) if y.dtype == object else y)
        if len(classes) < 2:
            raise ConfigError(f"{source}: 'y' has one class only ({classes[0]!r}); "
                              "classification needs at least two classes.")
    for key in ("X", "X_valid"):
        if d.get(key) is not None:
            _check_columns(key, d[key], source, preprocess)
