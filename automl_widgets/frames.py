"""The later SDK's way to give data: one table with a label column (training_data,
label_column_name, weight_column_name, validation_data), and custom folds
(cv_splits_indices, cv_split_column_names). Turned here into our X, y, sample_weight,
X_valid, y_valid and cv_splits_indices, before anything starts."""
from __future__ import annotations

import numpy as np

from .datacheck import ConfigError

TABLE_SETTINGS = ("training_data", "validation_data", "label_column_name",
                  "weight_column_name", "cv_split_column_names")


def from_tables(s: dict) -> None:
    """Fill X, y (, sample_weight, X_valid, y_valid, cv_splits_indices) of settings `s` from
    training_data and validation_data; raises ConfigError naming the setting."""
    data, valid = s.get("training_data"), s.get("validation_data")
    label, weight = s.get("label_column_name"), s.get("weight_column_name")
    folds = s.get("cv_split_column_names")
    if data is None:
        for name in ("validation_data", "label_column_name", "weight_column_name",
                     "cv_split_column_names"):
            if s.get(name) is not None:
                raise ConfigError(f"'{name}' goes with 'training_data' (a pandas DataFrame "
                                  "holding the label column), which was not given.")
        return
    for name in ("X", "y", "sample_weight", "X_valid", "y_valid", "data_script"):
        if s.get(name) is not None:
            raise ConfigError(f"Give the data either as 'training_data' (with "
                              f"'label_column_name') or as '{name}', not both.")
    if label is None:
        raise ConfigError("'training_data' needs 'label_column_name': the name of its column "
                          "that holds the target.")
    if folds is not None and not (isinstance(folds, (list, tuple)) and folds
                                  and all(isinstance(c, str) for c in folds)):
        raise ConfigError("The 'cv_split_column_names' parameter of AutoMLConfig must be a "
                          f"non-empty list of column names. Got {folds!r} instead.")
    drop = [label] + ([weight] if weight else []) + list(folds or [])
    X, y, w = _split(data, "training_data", label, weight, drop)
    s.update(X=X, y=y, sample_weight=w, training_data=None)
    if folds:
        s["cv_splits_indices"] = _folds_from_columns(data, list(folds))
    if valid is not None:
        X_valid, y_valid, _ = _split(valid, "validation_data", label, None,
                                     [c for c in drop if c in valid.columns])
        s.update(X_valid=X_valid, y_valid=y_valid, validation_data=None)


def _split(frame, name, label, weight, drop):
    if not hasattr(frame, "columns") or not hasattr(frame, "drop"):
        raise ConfigError(f"The '{name}' parameter of AutoMLConfig must be a pandas DataFrame "
                          f"(with the label column). Got {type(frame).__name__} instead.")
    for setting, column in (("label_column_name", label), ("weight_column_name", weight)):
        if column is not None and column not in frame.columns:
            raise ConfigError(f"The '{setting}' {column!r} is not a column of '{name}'; its "
                              f"columns are {list(frame.columns)[:20]}.")
    missing = [c for c in drop if c not in frame.columns]
    if missing:
        raise ConfigError(f"'cv_split_column_names' names {missing}, which are not columns of "
                          f"'{name}'; its columns are {list(frame.columns)[:20]}.")
    X = frame.drop(columns=drop)
    y = frame[label].to_numpy()
    w = None if weight is None else frame[weight].to_numpy(dtype=float)
    return X, y, w


def _folds_from_columns(frame, columns) -> list:
    """One column: fold numbers, each fold validated on its rows. Several columns (the
    classic form): one split each, 1 marking training rows and 0 validation rows."""
    if len(columns) == 1:
        fold = frame[columns[0]].to_numpy()
        values = [v for v in np.unique(fold)]
        if len(values) < 2:
            raise ConfigError(f"The cv_split_column_names column {columns[0]!r} must hold at "
                              f"least 2 fold numbers; it holds {values}.")
        return [(np.flatnonzero(fold != v), np.flatnonzero(fold == v)) for v in values]
    out = []
    for c in columns:
        col = frame[c].to_numpy()
        if not set(np.unique(col)) <= {0, 1}:
            raise ConfigError(f"With several cv_split_column_names, each column marks one "
                              f"split: 1 for training rows, 0 for validation rows; {c!r} "
                              f"holds {sorted(set(np.unique(col)))[:5]}.")
        out.append((np.flatnonzero(col == 1), np.flatnonzero(col == 0)))
    return out


def check_splits(splits, rows: int, source: str) -> list:
    """cv_splits_indices as a list of (train, validation) int arrays within the rows."""
    if not isinstance(splits, (list, tuple)) or not splits:
        raise ConfigError(f"{source}: 'cv_splits_indices' must be a non-empty list of "
                          "(training indices, validation indices) pairs.")
    out = []
    for k, pair in enumerate(splits):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError(f"{source}: 'cv_splits_indices'[{k}] must be a pair (training "
                              f"indices, validation indices). Got {type(pair).__name__}.")
        train, valid = (np.asarray(p) for p in pair)
        for part, idx in (("training", train), ("validation", valid)):
            if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
                raise ConfigError(f"{source}: the {part} indices of 'cv_splits_indices'[{k}] "
                                  "must be a non-empty 1-d list of row numbers.")
            if idx.min() < 0 or idx.max() >= rows:
                raise ConfigError(f"{source}: 'cv_splits_indices'[{k}] has {part} index "
                                  f"{int(idx.max() if idx.max() >= rows else idx.min())}, "
                                  f"outside the {rows} rows of 'X'.")
        out.append((train.astype(int), valid.astype(int)))
    return out
