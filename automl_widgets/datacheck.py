"""Checks of the training data, shared by the kernel (in-memory X, y, before anything
starts) and the target (what a data script returned)."""
from __future__ import annotations

import numpy as np

from .metrics import REGRESSION


class ConfigError(ValueError):
    """A setting of AutoMLConfig (or the data it names) is not valid."""


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


def _non_numeric_columns(X) -> list:
    if is_frame(X):
        import pandas as pd
        return [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c])
                                             or pd.api.types.is_bool_dtype(X[c]))]
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
    y = as_target(y)
    if y.ndim != 1:
        raise ConfigError(f"{source}: 'y' must be 1-dimensional. Got shape {y.shape}.")
    for xk, yk in (("X", "y"), ("X_valid", "y_valid")):
        if d.get(xk) is not None and n_rows(d[xk]) != len(as_target(d[yk])):
            raise ConfigError(f"{source}: {xk!r} and {yk!r} have different lengths: {xk} has "
                              f"{n_rows(d[xk])} rows, {yk} has {len(as_target(d[yk]))}.")
    if d.get("X_valid") is not None and np.shape(d["X_valid"])[1:] != tuple(shape[1:]):
        raise ConfigError(f"{source}: 'X_valid' has {np.shape(d['X_valid'])[1]} columns but "
                          f"'X' has {shape[1]}; they must have the same columns.")
    if d.get("sample_weight") is not None and len(np.asarray(d["sample_weight"])) != len(y):
        raise ConfigError(f"{source}: 'sample_weight' has {len(np.asarray(d['sample_weight']))}"
                          f" values but 'y' has {len(y)}; give one weight per row.")
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
        classes = np.unique(y.astype(str) if y.dtype == object else y)
        if len(classes) < 2:
            raise ConfigError(f"{source}: 'y' has one class only ({classes[0]!r}); "
                              "classification needs at least two classes.")
    if not preprocess:
        text = _non_numeric_columns(X)
        if text:
            raise ConfigError(f"{source}: 'X' has non-numeric columns {text[:5]}; set "
                              "preprocess=True (featurization='auto') to encode them, or "
                              "encode them yourself.")
        nan = _nan_columns(X)
        if nan:
            raise ConfigError(f"{source}: 'X' contains NaN (columns {nan[:5]}); set "
                              "preprocess=True (featurization='auto') to impute missing "
                              "values, or fill them yourself.")
