"""Bad settings are refused before anything starts, with the setting and what is valid."""
import os

import numpy as np
import pytest

from automl_widgets import AutoMLConfig, ConfigError, Experiment

X = np.random.default_rng(0).normal(size=(60, 3))
Y = np.array([0, 1] * 30)


def cfg(**kw):
    base = dict(task="classification", X=X, y=Y)
    base.update(kw)
    return AutoMLConfig(**base)


@pytest.mark.parametrize("settings, expected", [
    ({"task": "clustering"}, "'task' parameter of AutoMLConfig must be a str among {'classification', 'regression'}. Got 'clustering'"),
    ({"task": None}, "'task' parameter of AutoMLConfig is required"),
    ({"iterations": 0}, "'iterations' parameter of AutoMLConfig must be an int in the range [1, 1000]. Got 0"),
    ({"iterations": 1001}, "[1, 1000]. Got 1001"),
    ({"iterations": 2.5}, "'iterations' parameter"),
    ({"iterations": True}, "'iterations' parameter"),
    ({"n_cross_validations": 1}, "'n_cross_validations' parameter of AutoMLConfig must be an int in the range [2, inf), a str among {'auto'} or None. Got 1 instead."),
    ({"max_time_sec": 0}, "'max_time_sec' parameter of AutoMLConfig must be a float in the range (0, inf] (inf: no limit). Got 0 instead."),
    ({"validation_size": 1.5}, "'validation_size' parameter of AutoMLConfig must be a float in the range (0, 1)"),
    ({"concurrent_iterations": 0}, "'concurrent_iterations'"),
    ({"preprocess": "yes"}, "'preprocess' parameter of AutoMLConfig must be a bool"),
    ({"max_cores_per_iteration": 0}, "'max_cores_per_iteration' parameter of AutoMLConfig must be an int in the range [1, inf), -1 (all cores) or None"),
    ({"featurization": "maybe"}, "'featurization' parameter of AutoMLConfig must be a str among {'auto', 'off'}"),
    ({"experiment_timeout_minutes": -1}, "'experiment_timeout_minutes'"),
    ({"random_state": -3}, "'random_state'"),
    ({"primary_metric": "r2_score"}, "'primary_metric' 'r2_score' is not a classification metric"),
    ({"primary_metric": "AUC_weigthed"}, "Did you mean 'AUC_weighted'?"),
    ({"whitelist_models": ["RandomForrest"]}, "whitelist_models names 'RandomForrest', which is not a classification model. Did you mean 'RandomForest'?"),
    ({"blacklist_models": ["ElasticNet"]}, "not a classification model"),
    ({"whitelist_models": ["SGD"], "blacklist_models": ["SGD"]}, "leave no model to try"),
    ({"validation_size": 0.2, "n_cross_validations": 3}, "either 'validation_size' or 'n_cross_validations'"),
    ({"X_valid": X}, "'X_valid' and 'y_valid' go together"),
    ({"iteration_timeout_minutes": 2, "max_time_sec": 60}, "'iteration_timeout_minutes' and 'max_time_sec' name the same setting"),
    ({"max_concurrent_iterations": 3, "concurrent_iterations": 2}, "name the same setting"),
    ({"allowed_models": ["SGD"], "whitelist_models": ["KNN"]}, "name the same setting"),
    ({"n_cross_validaton": 3}, "'n_cross_validaton' is not a setting of AutoMLConfig. Did you mean 'n_cross_validations'?"),
    ({"X": None}, "'X' and 'y' go together"),
    ({"X": X[:50]}, "'X' and 'y' have different lengths: X has 50 rows, y has 60"),
    ({"y": np.zeros(60)}, "'y' has one class only"),
    ({"X": np.where(X > 1, np.nan, X)}, "'X' contains NaN (columns [0, 1, 2]); set preprocess=True"),
    ({"task": "regression", "y": np.array(["a", "b"] * 30)}, "'y' holds text labels (e.g. np.str_('a')); task='regression' needs numeric targets"),
    ({"X": np.array([["a", "b", "c"]] * 60)}, "'X' has non-numeric columns"),
    ({"sample_weight": np.ones(3)}, "'sample_weight' has shape (3,) but 'y' has 60 values; give one weight per row"),
    ({"X": X[:6], "y": Y[:6]}, "at least 10 are needed for 5-fold"),
    ({"X": X.ravel()[:60]}, "'X' must be 2-dimensional"),
    ({"path": "/no/such/folder"}, "The 'path' setting names '/no/such/folder', which is not a directory"),
])
def test_bad_setting_is_refused_with_a_clear_message(settings, expected):
    with pytest.raises(ConfigError) as err:
        cfg(**settings)
    assert expected in str(err.value)


def test_aliases_map_to_classic_names():
    c = cfg(iteration_timeout_minutes=2, max_concurrent_iterations=3, featurization="auto",
            blocked_models=["KNN"], allowed_models=["SGD", "DecisionTree"],
            experiment_exit_score=0.9)
    assert c.max_time_sec == 120
    assert c.concurrent_iterations == 3
    assert c.preprocess is True
    assert c.blacklist_models == ["KNN"]
    assert c.whitelist_models == ["SGD", "DecisionTree"]
    assert c.exit_score == 0.9
    # The same value under both names is fine.
    assert cfg(max_concurrent_iterations=2, concurrent_iterations=2).concurrent_iterations == 2


def test_defaults_and_primary_metric_per_task():
    assert cfg().primary_metric == "accuracy"
    assert cfg(task="regression", y=np.arange(60.0)).primary_metric == "r2_score"
    assert cfg(featurization="off").preprocess is False


def test_data_script_checked_up_front(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        AutoMLConfig(task="classification", data_script=str(tmp_path / "nope.py"))
    bad = tmp_path / "bad.py"
    bad.write_text("def get_date():\n    return {}\n")
    with pytest.raises(ConfigError, match="does not define get_data"):
        AutoMLConfig(task="classification", data_script=str(bad))
    broken = tmp_path / "broken.py"
    broken.write_text("def get_data(:\n")
    with pytest.raises(ConfigError, match="is not valid Python"):
        AutoMLConfig(task="classification", data_script=str(broken))
    good = tmp_path / "good.py"
    good.write_text("def get_data():\n    return {}\n")
    c = AutoMLConfig(task="classification", data_script="good.py", path=str(tmp_path))
    assert c.data_script == str(good)
    with pytest.raises(ConfigError, match="not both"):
        AutoMLConfig(task="classification", data_script=str(good), X=X, y=Y)
    with pytest.raises(ConfigError, match="No data"):
        AutoMLConfig(task="classification")


def test_refused_submit_leaves_no_run_behind(ws):
    from automl_widgets import RunConfiguration
    with pytest.raises(ValueError, match="RunConfiguration.* must be 'local'"):
        Experiment(ws, "x").submit(cfg(run_configuration=RunConfiguration(target="mars")))
    assert os.listdir(ws.runs_dir) == []
    assert ws.runs() == []
    with pytest.raises(ConfigError, match="Experiment name"):
        Experiment(ws, "../evil")


def test_a_target_given_as_run_configuration_is_refused_before_anything_starts(ws, cancer):
    from automl_widgets import Experiment, LocalCompute
    X, y = cancer
    config = AutoMLConfig(task="classification", X=X, y=y, iterations=2,
                          run_configuration=LocalCompute())
    with pytest.raises(ConfigError, match="'run_configuration' parameter of AutoMLConfig "
                                          "must be a RunConfiguration"):
        Experiment(ws, "wrong").submit(config)
    assert ws.runs() == []
