"""ONNX export (issue 14): a run with enable_onnx_compatible_models=True searches only
pipelines that convert, and onnxruntime gives the sklearn model's predictions."""
import os

import numpy as np
import onnx
import onnxruntime as rt
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from automl_widgets import AutoMLConfig, ConfigError, Experiment, catalog, onnx_inputs


def mixed_table():
    """Breast cancer's first columns plus a categorical one, both with missing values."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :6].copy()
    X["grade"] = np.random.default_rng(0).choice(["low", "mid", "high"], len(X)).astype(object)
    X.loc[::9, "grade"] = np.nan
    X.loc[::13, "mean radius"] = np.nan
    return X, y.to_numpy()


def predict(onx, X):
    session = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, onnx_inputs(onx, X))


def test_every_onnx_model_of_a_run_matches_its_pipeline(ws, tmp_path):
    X, y = mixed_table()
    run = Experiment(ws, "onnx").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=8, preprocess=True, n_cross_validations=3,
        enable_onnx_compatible_models=True, random_state=1,
        whitelist_models=["LightGBM", "LogisticRegression", "RandomForest", "LinearSVM",
                          "HistGradientBoosting"]))
    run.wait_for_completion()
    done = [r for r in run.iterations if r["status"] == "Completed"]
    families = {r["pipeline"].split()[-1] for r in done}
    assert "VotingEnsemble" in families and "StackEnsemble" not in families
    assert not any("hist gradient" in r["pipeline"] for r in run.iterations)
    log = open(os.path.join(run.folder, "driver.log")).read()
    assert "HistGradientBoosting is not tried: enable_onnx_compatible_models=True" in log
    assert "StackEnsemble is not built: enable_onnx_compatible_models=True" in log
    for r in done:
        child, model = run.get_output(iteration=r["iteration"])
        _, onx = run.get_output(iteration=r["iteration"], return_onnx_model=True)
        assert isinstance(onx, onnx.ModelProto)
        assert [i.name for i in onx.graph.input] == [c.replace(" ", "_") for c in X.columns]
        labels, proba = predict(onx, X)
        assert (labels == model.predict(X)).mean() >= 0.99, r["pipeline"]
        assert np.abs(proba - model.predict_proba(X)).mean() < 1e-3, r["pipeline"]
    # the registry's copy downloads as ONNX too, and runs without scikit-learn's objects
    m = run.register_model("cancer-onnx")
    path = m.download(tmp_path, format="onnx")
    assert path.endswith("cancer-onnx-1.onnx")
    labels, _ = predict(onnx.load(path), X)
    assert (labels == m.load().predict(X)).mean() >= 0.99
    with pytest.raises(ConfigError, match=r"format must be one of \['joblib', 'onnx'\]"):
        m.download(tmp_path, format="pmml")
    with pytest.raises(ValueError, match="return_onnx_model must be a bool"):
        run.get_output(return_onnx_model="yes")


def test_a_regression_on_a_plain_array_exports_one_input(ws):
    X, y = load_diabetes(return_X_y=True)
    run = Experiment(ws, "onnx").submit(AutoMLConfig(
        task="regression", X=X, y=y, iterations=3, n_cross_validations=3, random_state=0,
        enable_onnx_compatible_models=True, enable_ensembling=False,
        whitelist_models=["ElasticNet", "LightGBM"]))
    run.wait_for_completion()
    _, model = run.get_output()
    _, onx = run.get_output(return_onnx_model=True)
    assert [i.name for i in onx.graph.input] == ["X"]
    out, = predict(onx, X)
    assert out.ravel() == pytest.approx(model.predict(X), rel=1e-4, abs=1e-3)


def test_onnx_settings_are_checked_before_anything_starts():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ConfigError, match="enable_onnx_compatible_models.* must be a bool"):
        AutoMLConfig(task="regression", X=X, y=y, enable_onnx_compatible_models="yes")
    with pytest.raises(ConfigError, match="leave no model to try that converts to ONNX; "
                                          "valid regression models: LightGBM, ElasticNet"):
        AutoMLConfig(task="regression", X=X, y=y, enable_onnx_compatible_models=True,
                     whitelist_models=["XGBoostRegressor", "KNN"])
    assert "XGBoostRegressor" not in catalog.allowed_estimators("regression", onnx=True)


def test_a_pipeline_that_does_not_convert_says_which_setting_would(ws):
    X, y = load_diabetes(return_X_y=True)
    run = Experiment(ws, "onnx").submit(AutoMLConfig(
        task="regression", X=X, y=y, iterations=1, n_cross_validations=3, random_state=0,
        enable_ensembling=False, whitelist_models=["HistGradientBoosting"]))
    run.wait_for_completion()
    with pytest.raises(ConfigError, match="does not convert to ONNX .* "
                                          "enable_onnx_compatible_models=True"):
        run.get_output(return_onnx_model=True)
