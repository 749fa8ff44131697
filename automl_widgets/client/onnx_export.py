"""ONNX export of a run's fitted Pipeline (the [onnx] extra: skl2onnx and onnxmltools).

    best, onx = run.get_output(return_onnx_model=True)
    session = onnxruntime.InferenceSession(onx.SerializeToString())
    labels, proba = session.run(None, onnx_inputs(onx, X_test))

The graph takes one input per raw column, named as the column: float32 for numeric ones,
strings for the rest (a missing value as "nan"); a model fitted on a plain array takes one
float32 input "X". onnx_inputs() builds that feed from a DataFrame or array. Classifiers
give labels and an array of probabilities in the order of the model's classes_.

Converted in the kernel from the joblib file, so the target needs none of this. The run
should have had enable_onnx_compatible_models=True, which keeps its search to steps that
convert; other pipelines are tried too and fail with the step that does not convert.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np

from ..errors import ConfigError

OPSET = {"": 18, "ai.onnx.ml": 3}
_registered = False


def convert(model):
    """The fitted Pipeline as an onnx.ModelProto."""
    skl2onnx = _import()
    from sklearn.compose import ColumnTransformer
    _register_boosters()
    model = _thawed(copy.deepcopy(model))
    featurizer = next(_find(model, ColumnTransformer), None)
    types = _input_types(model, featurizer)
    options = {"zipmap": False} if hasattr(model, "classes_") else None
    try:
        with warnings.catch_warnings():
            # skl2onnx reads SVC's probA_ and probB_, deprecated in scikit-learn 1.9:
            # nothing the user can act on
            warnings.filterwarnings("ignore", "Attribute `prob[AB]_`", FutureWarning)
            return skl2onnx.to_onnx(model, initial_types=types, options=options,
                                    target_opset=OPSET)
    except (RuntimeError, NotImplementedError, ValueError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ConfigError(
            f"This pipeline does not convert to ONNX ({type(exc).__name__}: {first}). Runs "
            "with enable_onnx_compatible_models=True search only pipelines that do.") from exc


def onnx_inputs(onnx_model, X) -> dict:
    """The onnxruntime feed for rows X (a DataFrame, or an array for an "X" input)."""
    names = [i.name for i in onnx_model.graph.input]
    kinds = {i.name: i.type.tensor_type.elem_type for i in onnx_model.graph.input}
    if names == ["X"]:
        return {"X": np.asarray(X, dtype=np.float32)}
    import pandas as pd
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=object))
    if len(frame.columns) != len(names):
        raise ValueError(f"The model takes {len(names)} columns ({names}); X has "
                         f"{len(frame.columns)}.")
    feed = {}
    for i, name in enumerate(names):
        col = frame.iloc[:, i]
        if kinds[name] == 8:   # onnx.TensorProto.STRING
            values = [("nan" if _missing(v) else str(v)) for v in col]
            feed[name] = np.array(values, dtype=object).reshape(-1, 1)
        else:
            feed[name] = pd.to_numeric(col, errors="coerce").to_numpy(
                dtype=np.float32, na_value=np.nan).reshape(-1, 1)
    return feed


def _missing(v) -> bool:
    try:
        return bool(v is None or v != v)
    except (TypeError, ValueError):
        return False


def _import():
    try:
        import onnxmltools  # noqa: F401
        import skl2onnx
    except ImportError as exc:
        raise ConfigError(f"ONNX export needs skl2onnx and onnxmltools ({exc}): "
                          "pip install 'automl-widgets[onnx]'.") from None
    return skl2onnx


def _register_boosters():
    """LightGBM and XGBoost through onnxmltools' converters, once per process."""
    global _registered
    if _registered:
        return
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        from lightgbm import LGBMClassifier, LGBMRegressor
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
        update_registered_converter(LGBMClassifier, "LightGbmLGBMClassifier",
                                    calculate_linear_classifier_output_shapes,
                                    convert_lightgbm, options=classifier_options)
        update_registered_converter(LGBMRegressor, "LightGbmLGBMRegressor",
                                    calculate_linear_regressor_output_shapes, convert_lightgbm,
                                    options={"split": None})
    except ImportError:
        pass
    try:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier, XGBRegressor
        update_registered_converter(XGBClassifier, "XGBoostXGBClassifier",
                                    calculate_linear_classifier_output_shapes, convert_xgboost,
                                    options=classifier_options)
        update_registered_converter(XGBRegressor, "XGBoostXGBRegressor",
                                    calculate_linear_regressor_output_shapes, convert_xgboost)
    except ImportError:
        pass
    _registered = True


def _thawed(est):
    """The ensembles' FrozenEstimator wrappers taken off (skl2onnx has no converter for
    them; they only stop refitting, so predictions are the same)."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline
    if isinstance(est, FrozenEstimator):
        return _thawed(est.estimator)
    if isinstance(est, Pipeline):
        est.steps = [(n, _thawed(s)) for n, s in est.steps]
    if isinstance(getattr(est, "estimators_", None), list):
        est.estimators_ = [_thawed(e) for e in est.estimators_]
    if hasattr(est, "named_estimators_"):
        for key in list(est.named_estimators_):
            est.named_estimators_[key] = _thawed(est.named_estimators_[key])
    if isinstance(getattr(est, "estimators", None), list):
        est.estimators = [(n, _thawed(e)) for n, e in est.estimators]
    if isinstance(getattr(est, "weights", None), list):   # its voting converter sums them
        est.weights = np.asarray(est.weights, dtype=float)
    if getattr(est, "flatten_transform", None):   # only transform() reads it; unconverted
        est.flatten_transform = False
    if hasattr(est, "final_estimator_"):
        est.final_estimator_ = _thawed(est.final_estimator_)
    return est


def _find(est, klass):
    """Every object of `klass` inside est's steps and members, depth first."""
    if isinstance(est, klass):
        yield est
    for _, step in getattr(est, "steps", []):
        yield from _find(step, klass)
    for member in getattr(est, "estimators_", None) or []:
        if not isinstance(member, str):
            yield from _find(member, klass)


def _input_types(model, featurizer):
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    if featurizer is None or not hasattr(featurizer, "transformers_"):
        return [("X", FloatTensorType([None, model.n_features_in_]))]
    names = getattr(featurizer, "feature_names_in_", None)
    width = featurizer.n_features_in_
    numeric = set()
    for part, _, columns in featurizer.transformers_:
        if part == "numeric":
            numeric.update(columns)
    types = []
    for i in range(width):
        key = names[i] if names is not None else i
        name = str(key) if names is not None else f"column_{i}"
        kind = FloatTensorType if key in numeric else StringTensorType
        types.append((name, kind([None, 1])))
    return types
