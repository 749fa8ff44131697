"""Data guardrails: checks of the training data, run on the target once it has loaded.
Each gives {"type", "status" (passed, warning or fixed), "message", "columns"}; the driver
emits each as a warning event before data_loaded, so a reader has them all once it sees
the data loaded."""
from __future__ import annotations

import numpy as np

from .. import datacheck
from ..metrics import CLASSIFICATION

IMBALANCE = 0.2        # smallest class below this share of the largest: a warning
SMALL_DATA = 100       # fewer training rows than this: a warning
HIGH_CARDINALITY = 100     # a categorical column with more distinct values than this
LEAKAGE = 0.99         # one feature alone scoring this well (accuracy or R²)
LEAKAGE_ROWS, LEAKAGE_COLUMNS = 2000, 50   # what the leakage check looks at, at most

TITLES = {"class_imbalance": "Class balance", "missing_values": "Missing values",
          "high_cardinality": "High-cardinality categoricals", "constant_columns":
          "Constant columns", "id_like_columns": "ID-like columns", "small_data": "Data size",
          "leakage": "Possible target leakage"}


def check(X, y, task, preprocess, random_state=0) -> list[dict]:
    frame = datacheck.is_frame(X)
    sparse = datacheck.is_sparse(X)
    out = [_imbalance(y) if task == CLASSIFICATION else
           _result("class_imbalance", "passed", "Not a classification task.")]
    out.append(_missing(X, frame, sparse, preprocess))
    out.append(_high_cardinality(X) if frame else
               _result("high_cardinality", "passed", "No categorical columns."))
    columns = [] if sparse else _columns(X, frame)
    out.append(_constant(columns))
    out.append(_id_like(columns, len(y)))
    out.append(_result("small_data", "warning", f"Only {len(y)} training rows: scores "
                       "will vary from fold to fold, and the best iteration may be luck.")
               if len(y) < SMALL_DATA else
               _result("small_data", "passed", f"{len(y)} training rows."))
    out.append(_leakage(columns, y, task, random_state))
    return out


def _result(kind, status, message, columns=None) -> dict:
    return {"type": kind, "status": status, "message": f"{TITLES[kind]}: {message}",
            "columns": [str(c) for c in columns] if columns else None}


def _imbalance(y):
    labels, counts = np.unique(y, return_counts=True)
    small, large = counts.argmin(), counts.argmax()
    ratio = counts[small] / counts[large]
    name = [v.item() if hasattr(v, "item") else v for v in (labels[small], labels[large])]
    text = (f"the smallest class {name[0]!r} has {counts[small]} rows, the largest "
            f"{name[1]!r} {counts[large]} ({ratio:.0%})")
    if ratio < IMBALANCE:
        return _result("class_imbalance", "warning", text + ". Prefer a primary_metric that "
                       "weighs classes (AUC_weighted, balanced_accuracy, norm_macro_recall); "
                       "class_weight is searched where a model takes it.")
    return _result("class_imbalance", "passed", text + ".")


def _missing(X, frame, sparse, preprocess):
    if sparse:
        return _result("missing_values", "passed", "Sparse data: none looked for.")
    if frame:
        counts = X.isna().sum()
        found = {str(c): int(n) for c, n in counts.items() if n}
    else:
        arr = np.asarray(X, dtype=float)
        found = {str(i): int(n) for i, n in enumerate(np.isnan(arr).sum(axis=0)) if n}
    if not found:
        return _result("missing_values", "passed", "No missing values.")
    listed = ", ".join(f"{c} ({n})" for c, n in list(found.items())[:10])
    total = sum(found.values())
    if preprocess:
        return _result("missing_values", "fixed", f"{total} missing value(s) in "
                       f"{len(found)} column(s) are imputed: {listed}.", found)
    return _result("missing_values", "warning", f"{total} missing value(s) in {len(found)} "
                   f"column(s): {listed}.", found)


def _high_cardinality(X):
    import pandas as pd
    high = [c for c in X.columns
            if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
                    or pd.api.types.is_datetime64_any_dtype(X[c]))
            and X[c].nunique() > max(HIGH_CARDINALITY, 0.5 * len(X))]
    if high:
        return _result("high_cardinality", "warning", f"{len(high)} categorical column(s) with "
                       "more distinct values than can be learned from (each category is rare): "
                       f"{', '.join(map(str, high[:10]))}.", high)
    return _result("high_cardinality", "passed", "No categorical column with too many values.")


def _columns(X, frame) -> list:
    """(name, values) of each column, values as a numpy array."""
    if frame:
        return [(c, X[c].to_numpy()) for c in X.columns]
    arr = np.asarray(X)
    return [(i, arr[:, i]) for i in range(arr.shape[1])]


def _distinct(values) -> int:
    try:
        import pandas as pd
        return int(pd.Series(values).nunique(dropna=True))
    except TypeError:   # unhashable cells
        return len(values)


def _constant(columns):
    flat = [c for c, v in columns if _distinct(v) <= 1]
    if flat:
        return _result("constant_columns", "warning", f"{len(flat)} column(s) hold a single "
                       f"value and tell the models nothing: {', '.join(map(str, flat[:10]))}.",
                       flat)
    return _result("constant_columns", "passed", "No constant column.")


def _id_like(columns, rows):
    ids = []
    if rows >= 50:
        for c, v in columns:
            whole = v.dtype.kind in "iuOSU" or (v.dtype.kind == "f" and np.all(
                np.mod(v[~np.isnan(v)], 1) == 0) and len(v))
            if whole and _distinct(v) == rows:
                ids.append(c)
    if ids:
        return _result("id_like_columns", "warning", f"{len(ids)} column(s) have a different "
                       "value in every row, like an identifier: a model can only memorise them. "
                       f"Drop them if they are: {', '.join(map(str, ids[:10]))}.", ids)
    return _result("id_like_columns", "passed", "No column looks like an identifier.")


def _leakage(columns, y, task, random_state):
    """Each numeric column alone, in a small tree, on a sample: one that nearly predicts
    the target by itself may hold the answer (a column filled in after the fact)."""
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
    numeric = [(c, v) for c, v in columns if v.dtype.kind in "biuf"][:LEAKAGE_COLUMNS]
    if not numeric or len(y) < 20:
        return _result("leakage", "passed", "Not checked (no numeric column, or too few rows).")
    rng = np.random.default_rng(random_state)
    rows = rng.choice(len(y), size=min(len(y), LEAKAGE_ROWS), replace=False)
    target = np.asarray(y)[rows]
    classify = task == CLASSIFICATION
    if classify and np.unique(target, return_counts=True)[1].min() < 3:
        return _result("leakage", "passed", "Not checked (a class with too few rows).")
    model = (DecisionTreeClassifier if classify else DecisionTreeRegressor)(
        max_depth=4, random_state=random_state)
    found = []
    for c, v in numeric:
        x = np.nan_to_num(v[rows].astype(float)).reshape(-1, 1)
        score = cross_val_score(model, x, target, cv=3,
                                scoring="balanced_accuracy" if classify else "r2").mean()
        if score >= LEAKAGE:
            found.append((c, score))
    if found:
        listed = ", ".join(f"{c} ({s:.3f})" for c, s in found[:10])
        return _result("leakage", "warning", "column(s) that predict the target nearly "
                       f"perfectly on their own: {listed}. Check they are known before the "
                       "target is.", [c for c, _ in found])
    return _result("leakage", "passed", "No column predicts the target on its own.")
