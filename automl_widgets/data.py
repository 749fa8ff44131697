"""The training data: checks shared by the kernel (in-memory X, y) and the target
(a data script's result), loading on the target, and featurization for preprocess=True."""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

from .config import ConfigError
from .metrics import CLASSIFICATION, REGRESSION

KEYS = ("X", "y", "X_valid", "y_valid", "sample_weight")


def _is_sparse(X) -> bool:
    import scipy.sparse as sp
    return sp.issparse(X)


def _is_frame(X) -> bool:
    return hasattr(X, "dtypes") and hasattr(X, "columns")


def n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def as_target(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    return y


def _non_numeric_columns(X) -> list:
    if _is_frame(X):
        import pandas as pd
        return [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c])
                                             or pd.api.types.is_bool_dtype(X[c]))]
    if _is_sparse(X):
        return []
    arr = np.asarray(X)
    return [] if np.issubdtype(arr.dtype, np.number) or arr.dtype == bool else ["(all)"]


def _nan_columns(X) -> list:
    if _is_frame(X):
        return [c for c in X.columns if X[c].isna().any()]
    if _is_sparse(X):
        return ["(sparse)"] if np.isnan(X.data).any() else []
    arr = np.asarray(X, dtype=float)
    return [int(i) for i in np.flatnonzero(np.isnan(arr).any(axis=0))]


def validate(d: dict, source: str) -> None:
    """Raise ConfigError naming the setting (or the file) and what would be valid."""
    task, preprocess = d["task"], d.get("preprocess", False)
    X, y = d.get("X"), d.get("y")
    if X is None or y is None:
        raise ConfigError(f"{source}: both 'X' and 'y' are required.")
    if not (_is_frame(X) or _is_sparse(X) or hasattr(X, "__len__")):
        raise ConfigError(f"{source}: 'X' must be a numpy array, a pandas DataFrame or a "
                          f"scipy sparse matrix. Got {type(X).__name__}.")
    shape = np.shape(X) if not (_is_frame(X) or _is_sparse(X)) else X.shape
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


def run_data_script(script: str, path: str | None) -> dict:
    """Import the user's data script on the target and call its get_data()."""
    if path:
        os.chdir(path)
        sys.path.insert(0, path)
    sys.path.insert(0, os.path.dirname(script))
    spec = importlib.util.spec_from_file_location("automl_data_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "get_data", None)):
        raise ConfigError(f"The data_script {script} does not define get_data().")
    result = module.get_data()
    if not isinstance(result, dict):
        raise ConfigError(f"get_data() in {script} must return a dict with 'X' and 'y'; "
                          f"it returned {type(result).__name__}.")
    unknown = sorted(set(result) - set(KEYS))
    missing = [k for k in ("X", "y") if result.get(k) is None]
    if unknown or missing:
        raise ConfigError(f"get_data() in {script} returned keys {sorted(result)}; it must "
                          f"return 'X' and 'y' and may add 'X_valid', 'y_valid', "
                          f"'sample_weight'" + (f" (missing: {missing})" if missing else "")
                          + (f" (unknown: {unknown})" if unknown else "") + ".")
    return result


# ---- featurization (preprocess=True) --------------------------------------------------

def column_kinds(X) -> dict:
    """Split a DataFrame's columns into numeric, categorical and text-like."""
    kinds = {"numeric": [], "categorical": [], "text": []}
    if not _is_frame(X):
        kinds["numeric"] = None  # all columns
        return kinds
    import pandas as pd
    for c in X.columns:
        col = X[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            kinds["numeric"].append(c)
            continue
        values = col.dropna().astype(str)
        many = values.nunique() > max(50, 0.3 * len(values))
        wordy = values.str.contains(" ").mean() > 0.5 if len(values) else False
        kinds["text" if many and wordy else "categorical"].append(c)
    return kinds


def build_featurizer(kinds: dict, sparse: bool):
    """An unfitted scikit-learn transformer that imputes and encodes raw rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    if kinds["numeric"] is None:
        return SimpleImputer(strategy="median", keep_empty_features=True)
    parts = []
    if kinds["numeric"]:
        parts.append(("numeric", SimpleImputer(strategy="median", add_indicator=True,
                                               keep_empty_features=True), kinds["numeric"]))
    if kinds["categorical"]:
        parts.append(("categorical", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="missing"),
            FunctionTransformer(np.asarray, kw_args={"dtype": str}),
            OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=50,
                          sparse_output=False)), kinds["categorical"]))
    for c in kinds["text"]:
        parts.append((f"text_{c}", make_pipeline(
            SimpleImputer(strategy="constant", fill_value=""),
            FunctionTransformer(np.ravel),
            TfidfVectorizer(max_features=200)), [c]))
    return ColumnTransformer(parts, sparse_threshold=0.3 if sparse else 0)
