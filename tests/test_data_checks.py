"""Settings and data that used to be accepted and then broke the run (issue 9, defects 2,
3, 4, 12 and 14): each is now either run correctly or refused up front, by name."""
import json
import math
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from helpers import cli, rng_data

from automl_widgets import AutoMLConfig, ConfigError, Experiment

X, Y = rng_data(60)
FRAME = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])


def cfg(**kw):
    return AutoMLConfig(**dict(dict(task="classification", X=X, y=Y), **kw))


def spec_of(run):
    with open(os.path.join(run.folder, "spec.json"), encoding="utf-8") as f:
        return json.load(f)


def with_inf(frame, column, row=3):
    frame = frame.copy()
    frame.loc[row, column] = np.inf
    return frame


# ---- defect 2: numpy numbers ------------------------------------------------------------

def test_numpy_numbers_are_plain_numbers_in_the_settings_and_spec(submit):
    run = submit(iterations=np.int64(3), n_cross_validations=np.int32(2),
                 max_time_sec=np.float64(120), concurrent_iterations=np.int64(1),
                 enable_ensembling=np.bool_(False), preprocess=np.bool_(False),
                 random_state=np.int64(0), exit_score=np.float32(1.5))
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.get_details()["error"]
    assert sorted(r["iteration"] for r in run.iterations) == [0, 1, 2]
    spec = spec_of(run)
    for key, value in {"iterations": 3, "n_cross_validations": 2, "concurrent_iterations": 1,
                       "random_state": 0}.items():
        assert spec[key] == value and type(spec[key]) is int, key
    assert spec["max_time_sec"] == 120.0 and spec["exit_score"] == 1.5
    assert spec["enable_ensembling"] is False and spec["preprocess"] is False
    c = cfg(iterations=np.int64(3), enable_ensembling=np.bool_(True))
    assert type(c.iterations) is int and c.enable_ensembling is True


# ---- defect 3: inf is "no limit", NaN is refused -----------------------------------------

def test_infinite_time_limits_mean_no_limit(submit):
    run = submit(iterations=2, max_time_sec=math.inf, experiment_timeout_minutes=math.inf)
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.get_details()["error"]
    assert [r["status"] for r in run.iterations] == ["Completed", "Completed"]
    spec = spec_of(run)
    assert spec["max_time_sec"] is None and spec["experiment_timeout_minutes"] is None
    assert cfg(iteration_timeout_minutes=float("inf")).max_time_sec is None
    assert cfg(max_time_sec=np.float64("inf")).max_time_sec is None


@pytest.mark.parametrize("name", ["max_time_sec", "experiment_timeout_minutes",
                                  "iteration_timeout_minutes", "exit_score"])
def test_nan_setting_is_refused(name):
    with pytest.raises(ConfigError) as err:
        cfg(**{name: float("nan")})
    assert f"The {name!r} parameter of AutoMLConfig must be a float in the range" in str(err.value)
    assert "Got nan instead." in str(err.value)
    if name != "exit_score":
        assert "(0, inf] (inf: no limit)" in str(err.value)


GET_DATA = textwrap.dedent("""
    from sklearn.datasets import load_iris
    def get_data():
        X, y = load_iris(return_X_y=True)
        return {"X": X, "y": y}
""")


def test_cli_yaml_inf_runs_without_limit_and_nan_is_refused(ws, tmp_path):
    (tmp_path / "get_data.py").write_text(GET_DATA)
    settings = tmp_path / "settings.yaml"
    settings.write_text(textwrap.dedent("""
        task: classification
        data_script: get_data.py
        iterations: 2
        n_cross_validations: 2
        enable_ensembling: false
        whitelist_models: [LogisticRegression, DecisionTree]
        max_time_sec: .inf
        experiment_timeout_minutes: .inf
    """))
    proc = cli(ws.path, "run", str(settings), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_id = re.search(r"Parent Run ID: (AutoML_[0-9a-f-]{36})", proc.stdout)[1]
    run = ws.find_run(run_id)
    assert run.get_status() == "Completed"
    spec = spec_of(run)
    assert spec["max_time_sec"] is None and spec["experiment_timeout_minutes"] is None
    settings.write_text(settings.read_text().replace("max_time_sec: .inf", "max_time_sec: .nan"))
    proc = cli(ws.path, "run", str(settings), cwd=tmp_path)
    assert proc.returncode != 0
    assert ("The 'max_time_sec' parameter of AutoMLConfig must be a float in the range "
            "(0, inf] (inf: no limit). Got nan instead.") in proc.stderr
    assert len(ws.runs()) == 1


# ---- defect 4: debug_log must be a file name ---------------------------------------------

@pytest.mark.parametrize("value", [".", "..", "", "logs/", "spec.json", "run/events.jsonl",
                                   "iterations", "DIR"])
def test_debug_log_that_is_not_a_file_name_is_refused(value, tmp_path):
    value = str(tmp_path) if value == "DIR" else value
    with pytest.raises(ConfigError) as err:
        cfg(debug_log=value)
    assert str(err.value).startswith("The 'debug_log' parameter of AutoMLConfig must be a "
                                     "file name (not a folder")
    assert f"Got {value!r} instead." in str(err.value)


def test_debug_log_is_written_into_the_run_folder(submit):
    assert cfg(debug_log="logs/mine.log").debug_log == "logs/mine.log"
    run = submit(iterations=1, debug_log="somewhere/mine.log")
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.get_details()["error"]
    assert os.path.getsize(os.path.join(run.folder, "mine.log")) > 0


# ---- defect 12: data checks ----------------------------------------------------------------

@pytest.mark.parametrize("settings, expected", [
    ({"X": np.where(np.arange(5) == 2, np.inf, X)}, "'X' contains inf or -inf (columns [2])"),
    ({"X": with_inf(FRAME, "f1"), "preprocess": True}, "'X' contains inf or -inf (columns ['f1'])"),
    ({"X": FRAME, "X_valid": with_inf(FRAME, "f4")[:20], "y_valid": Y[:20]},
     "'X_valid' contains inf or -inf (columns ['f4'])"),
    ({"X": np.empty((60, 0))}, "'X' has no columns (shape (60, 0))"),
    ({"X": FRAME[[]], "preprocess": True}, "'X' has no columns"),
    ({"sample_weight": np.r_[-1.0, np.ones(59)]}, "'sample_weight' has negative values (rows [0]); every weight must be >= 0"),
    ({"sample_weight": np.zeros(60)}, "'sample_weight' is all zeros"),
    ({"sample_weight": np.r_[np.ones(59), np.nan]}, "'sample_weight' contains NaN or inf (rows [59])"),
    ({"sample_weight": ["heavy"] * 60}, "'sample_weight' must hold numbers"),
    ({"X": FRAME.set_axis(["a", "b", "a", "c", "d"], axis=1)}, "'X' has duplicated column names ['a']"),
    ({"X": FRAME.set_axis(["a", "b", 2, 3, "e"], axis=1)}, "'X' has column names of mixed types ['int', 'str']"),
    ({"X": FRAME, "X_valid": FRAME.set_axis(list("abcde"), axis=1)[:20], "y_valid": Y[:20]},
     "'X_valid' has columns ['a', 'b', 'c', 'd', 'e'] but 'X' has ['f0', 'f1'"),
    ({"y": np.array(["yes", 1] * 30, dtype=object)}, "'y' mix text and number labels (e.g. 'yes' and 1)"),
    ({"X_valid": X[:20], "y_valid": np.array(["0", "1"] * 10)}, "'y' and 'y_valid' mix text and number labels"),
    ({"X": np.array([["a", "b"]] * 60), "preprocess": True}, "with preprocess=True give it as a pandas DataFrame"),
    ({"X": FRAME.assign(day=pd.date_range("2020-01-01", periods=60))}, "'X' has non-numeric columns ['day']; set preprocess=True"),
])
def test_bad_data_is_refused_naming_the_setting_and_columns(settings, expected):
    with pytest.raises(ConfigError) as err:
        cfg(**settings)
    assert expected in str(err.value)


def test_bad_data_from_a_data_script_fails_the_run_with_the_same_check(submit, tmp_path):
    script = tmp_path / "get_data.py"
    script.write_text(textwrap.dedent("""
        import numpy as np, pandas as pd
        def get_data():
            X = pd.DataFrame({"a": np.arange(40.0), "b": np.r_[np.inf, np.zeros(39)]})
            return {"X": X, "y": np.arange(40) % 2}
    """))
    run = submit(data_script=str(script))
    run.wait_for_completion()
    assert run.get_status() == "Failed"
    assert "'X' contains inf or -inf (columns ['b'])" in run.get_details()["error"]


def test_datetime_columns_are_featurized_with_preprocess(ws, tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    when = pd.Series(pd.date_range("2021-01-01", periods=n, freq="37h"))
    X = pd.DataFrame({"x": rng.normal(size=n), "day": when.dt.normalize(),
                      "stamp": when.dt.tz_localize("Europe/Paris"),
                      "colour": rng.choice(["red", "blue"], n)})
    X.loc[5, "day"] = pd.NaT
    y = np.where(when.dt.month <= 6, "first half", "second half")
    run = Experiment(ws, "dates").submit(AutoMLConfig(
        task="classification", X=X, y=y, preprocess=True, iterations=3,
        n_cross_validations=2, enable_ensembling=False, random_state=0,
        whitelist_models=["DecisionTree", "LogisticRegression"]))
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.get_details()["error"]
    assert [r["status"] for r in run.iterations] == ["Completed"] * 3, \
        [r["reason"] for r in run.iterations]
    child, model = run.get_output()
    assert (model.predict(X[:50]) == y[:50]).mean() > 0.9
    featurizer = model.named_steps["featurization"]
    parts = {name: columns for name, _, columns in featurizer.transformers}
    assert parts["datetime"] == ["day", "stamp"] and parts["hour"] == ["stamp"]
    # The saved model predicts on raw rows with pandas and scikit-learn alone.
    rows = tmp_path / "rows.pkl"
    X[:10].to_pickle(rows)
    code = ("import joblib, pandas, sys; m = joblib.load(sys.argv[1]); "
            "print(list(m.predict(pandas.read_pickle(sys.argv[2])))); "
            "assert not any(k.startswith('automl_widgets') for k in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, os.path.join(child.folder, "model.joblib"),
                          str(rows)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(list(model.predict(X[:10])))


def test_int_column_names_work_with_preprocess(submit):
    X, y = rng_data(100)
    frame = pd.DataFrame(X, columns=[10, 11, 12, 13, 14])
    frame[15] = np.where(y == 1, "high", "low")  # ColumnTransformer reads 15 as a position
    run = submit(X=frame, y=y, preprocess=True, iterations=2)
    run.wait_for_completion()
    assert [r["status"] for r in run.iterations] == ["Completed", "Completed"], \
        [r["reason"] for r in run.iterations]


# ---- defect 14: an empty allow list ------------------------------------------------------

@pytest.mark.parametrize("name", ["whitelist_models", "allowed_models"])
def test_empty_allow_list_is_refused(name):
    with pytest.raises(ConfigError) as err:
        cfg(**{name: []})
    assert str(err.value) == (f"The {name!r} parameter of AutoMLConfig must be a non-empty "
                              "list of model names or None (all models). Got [] instead.")
    assert cfg(blacklist_models=[]).blacklist_models == []
