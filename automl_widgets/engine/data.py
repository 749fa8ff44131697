"""The training data on the target: running the user's data script, and featurization
for preprocess=True."""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

from ..datacheck import KEYS, ConfigError, is_frame


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

CODES = "category codes"   # the featurizer's part that gives categories as codes


def coded(featurizer) -> bool:
    """Whether a featurizer (build_featurizer's) gives the categories as codes."""
    return any(name == CODES for name, *_ in getattr(featurizer, "transformers", ()))


def column_kinds(X) -> dict:
    """Split a DataFrame's columns into numeric, datetime, categorical and text-like;
    "hour" lists the datetime columns whose times are not all midnight."""
    kinds = {"numeric": [], "datetime": [], "hour": [], "categorical": [], "text": []}
    if not is_frame(X):
        kinds["numeric"] = None  # all columns
        return kinds
    import pandas as pd
    # ColumnTransformer reads int keys as positions: name columns by position unless
    # every name is a str
    by_name = all(isinstance(c, str) for c in X.columns)
    for i, c in enumerate(X.columns):
        col, key = X.iloc[:, i], c if by_name else i
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            kinds["numeric"].append(key)
            continue
        if pd.api.types.is_datetime64_any_dtype(col):
            kinds["datetime"].append(key)
            times = col.dropna()
            if (times != times.dt.normalize()).any():
                kinds["hour"].append(key)
            continue
        values = col.dropna().astype(str)
        many = values.nunique() > max(50, 0.3 * len(values))
        wordy = values.str.contains(" ").mean() > 0.5 if len(values) else False
        kinds["text" if many and wordy else "categorical"].append(key)
    return kinds


def date_parts(parts):
    """Calendar numbers of datetime columns (tz-aware too), NaT imputed. Built from pandas
    and the standard library only, so a saved model loads without automl_widgets."""
    from operator import attrgetter, methodcaller

    import pandas as pd
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(
        FunctionTransformer(methodcaller("apply", pd.to_datetime)),
        FeatureUnion([(p, FunctionTransformer(methodcaller("apply", attrgetter(f"dt.{p}"))))
                      for p in parts]),
        SimpleImputer(strategy="median", keep_empty_features=True))


def filled(value) -> list:
    """Steps that fill a frame's missing values (None, NaN, pandas' NA) with `value`.
    SimpleImputer fails on the NA of a pandas "string" column ("boolean value of NA is
    ambiguous"). Pandas methods only, so the model loads without automl_widgets."""
    from operator import methodcaller

    from sklearn.preprocessing import FunctionTransformer
    return [FunctionTransformer(methodcaller("astype", object)),
            FunctionTransformer(methodcaller("fillna", value))]


def build_featurizer(kinds: dict, sparse: bool, onnx: bool = False, codes: bool = False):
    """An unfitted scikit-learn transformer that imputes and encodes raw rows.

    codes: categories as one column of integer codes each, first (so their positions are
    known before fitting), for a booster's own categorical splits (catalog.CATEGORIES);
    missing is a category of its own, as in the one-hot columns; a category not seen in
    fitting is -1, which LightGBM reads as missing.

    onnx: only steps skl2onnx converts. Its string imputer cannot take NaN, so categories
    go straight to the encoder (missing is a category of its own); no missing-value
    indicator; text is one-hot encoded like a category and dates are dropped (the
    driver's log says so)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder

    if kinds["numeric"] is None:
        return SimpleImputer(strategy="median", keep_empty_features=True)
    parts = []
    if codes and kinds["categorical"]:
        parts.append((CODES, make_pipeline(
            *filled("missing"),
            FunctionTransformer(np.asarray, kw_args={"dtype": str}),
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)),
            kinds["categorical"]))
    if kinds["numeric"]:
        parts.append(("numeric", SimpleImputer(strategy="median", add_indicator=not onnx,
                                               keep_empty_features=True), kinds["numeric"]))
    if onnx:
        categories = kinds["categorical"] + kinds["text"]
        if categories:
            parts.append(("categorical", OneHotEncoder(   # the converter knows no infrequent
                handle_unknown="ignore", sparse_output=False), categories))
        return ColumnTransformer(parts, sparse_threshold=0)
    if kinds.get("datetime"):
        parts.append(("datetime", date_parts(("year", "month", "day", "day_of_week")),
                      kinds["datetime"]))
    if kinds.get("hour"):
        parts.append(("hour", date_parts(("hour",)), kinds["hour"]))
    if kinds["categorical"] and not codes:
        parts.append(("categorical", make_pipeline(
            *filled("missing"),
            FunctionTransformer(np.asarray, kw_args={"dtype": str}),
            OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=50,
                          sparse_output=False)), kinds["categorical"]))
    for c in kinds["text"]:
        parts.append((f"text_{c}", make_pipeline(
            *filled(""),
            FunctionTransformer(np.ravel),
            TfidfVectorizer(max_features=200)), [c]))
    return ColumnTransformer(parts, sparse_threshold=0.3 if sparse else 0)
