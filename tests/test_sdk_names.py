"""Code written for the classic SDK and for its later versions: every accepted name is
checked like the others, and the ones that change a run are run for real."""
import contextlib
import io
import json
import os

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from automl_widgets import (
    AutoMLConfig,
    ComputeTargetException,
    ConfigError,
    Experiment,
    LocalCompute,
    RunConfiguration,
)
from automl_widgets.client.cli import main as cli
from automl_widgets.compute import SSHCompute
from automl_widgets.viewmodel import RunView

X = np.random.default_rng(0).normal(size=(60, 3))
Y = np.array([0, 1] * 30)


def frame():
    d = load_breast_cancer(as_frame=True).frame
    d["fold"] = np.arange(len(d)) % 3
    d["w"] = np.where(d["target"] == 0, 2.0, 1.0)
    return d


def cfg(**kw):
    base = dict(task="classification", X=X, y=Y)
    base.update(kw)
    return AutoMLConfig(**base)


def test_name_and_the_classic_data_script_quirk(tmp_path):
    project = tmp_path / "automl-remote"
    project.mkdir()
    (project / "get_data.py").write_text("def get_data():\n    return {}\n")
    # project_folder + "./get_data.py", as the classic example wrote it
    c = AutoMLConfig(task="classification", name="AutoML_Demo_Experiment_1.5",
                     path=str(project), data_script=str(project) + "./get_data.py")
    assert c.data_script == str(project / "get_data.py")
    assert c.to_spec()["name"] == "AutoML_Demo_Experiment_1.5"
    assert "the file of that name in 'path'" in c.to_spec()["notes"][0]
    with pytest.raises(ConfigError, match="'name' parameter of AutoMLConfig must be a str"):
        cfg(name=3)
    with pytest.raises(ConfigError, match="does not exist"):   # not in path either
        AutoMLConfig(task="classification", path=str(project),
                     data_script=str(project) + "./other.py")


def test_later_names_map_onto_ours():
    assert cfg(experiment_timeout_hours=0.5).experiment_timeout_minutes == 30
    assert cfg(experiment_timeout_hours=float("inf")).experiment_timeout_minutes is None
    with pytest.raises(ConfigError, match="give only one"):
        cfg(experiment_timeout_hours=1, experiment_timeout_minutes=30)
    assert cfg(experiment_timeout_hours=1, experiment_timeout_minutes=60)
    assert cfg(n_cross_validations="auto").n_cross_validations is None
    with pytest.raises(ConfigError, match=r"a str among \{'auto'\}"):
        cfg(n_cross_validations="five")
    c = cfg(enable_voting_ensemble=False)
    assert c.enable_voting_ensemble is False and c.enable_stack_ensemble is True
    with pytest.raises(ConfigError, match="'enable_stack_ensemble' parameter .* must be a bool"):
        cfg(enable_stack_ensemble="no")
    assert cfg(enable_early_stopping=True).enable_early_stopping is True
    assert cfg().enable_early_stopping is False   # our default, not the later SDK's
    assert isinstance(cfg(compute_target=LocalCompute()).compute_target, LocalCompute)
    with pytest.raises(ConfigError, match="either 'compute_target' or 'run_configuration'"):
        cfg(compute_target="local", run_configuration=RunConfiguration())
    assert cfg(positive_label=0).positive_label == 0
    with pytest.raises(ConfigError, match="'positive_label' 7 is not a class of 'y'"):
        cfg(positive_label=7)
    with pytest.raises(ConfigError, match="'positive_label' is for classification"):
        cfg(task="regression", y=np.arange(60.0), positive_label=1)


def test_training_data_with_label_weight_validation_and_fold_columns():
    d = frame()
    train, valid = d.iloc[:450], d.iloc[450:]
    c = AutoMLConfig(task="classification", training_data=train, label_column_name="target",
                     weight_column_name="w", validation_data=valid)
    assert list(c.X.columns) == [k for k in d.columns if k not in ("target", "w")]
    assert (c.y == train["target"].to_numpy()).all()
    assert (c.sample_weight == train["w"].to_numpy()).all()
    assert len(c.X_valid) == len(valid) and "target" not in c.X_valid.columns
    # one column of fold numbers: each fold validates on its rows
    c = AutoMLConfig(task="classification", training_data=train, label_column_name="target",
                     cv_split_column_names=["fold"])
    assert "fold" not in c.X.columns and len(c.cv_splits_indices) == 3
    for k, (tr, va) in enumerate(c.cv_splits_indices):
        assert (train["fold"].to_numpy()[va] == k).all() and len(tr) + len(va) == len(train)
    # the classic form: one 1/0 column per split
    two = train.assign(s1=(np.arange(len(train)) % 2), s2=1 - (np.arange(len(train)) % 2))
    c = AutoMLConfig(task="classification", training_data=two, label_column_name="target",
                     cv_split_column_names=["s1", "s2"])
    assert [len(v) for _, v in c.cv_splits_indices] == [225, 225]
    for bad, message in [
        (dict(training_data=train), "needs 'label_column_name'"),
        (dict(training_data=train.to_numpy(), label_column_name="target"),
         "must be a pandas DataFrame"),
        (dict(training_data=train, label_column_name="label"),
         "'label_column_name' 'label' is not a column of 'training_data'"),
        (dict(training_data=train, label_column_name="target", weight_column_name="weight"),
         "'weight_column_name' 'weight' is not a column"),
        (dict(training_data=train, label_column_name="target", X=X), "not both"),
        (dict(label_column_name="target", X=X, y=Y), "goes with 'training_data'"),
        (dict(training_data=train, label_column_name="target", cv_split_column_names="fold"),
         "must be a non-empty list of column names"),
        (dict(training_data=train, label_column_name="target", cv_split_column_names=["f"]),
         "names ['f'], which are not columns"),
        (dict(training_data=train, label_column_name="target", cv_split_column_names=["fold"],
              n_cross_validations=3), "the folds are given"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
            AutoMLConfig(task="classification", **bad)


def test_cv_splits_indices_are_checked():
    folds = [(np.arange(30, 60), np.arange(30)), (np.arange(30), np.arange(30, 60))]
    assert len(cfg(cv_splits_indices=folds).cv_splits_indices) == 2
    for bad, message in [([], "non-empty list"), ([(np.arange(3),)], "must be a pair"),
                         ([([0, 1], [60])], "validation index 60, outside the 60 rows"),
                         ([([0.5], [1])], "must be a non-empty 1-d list of row numbers")]:
        with pytest.raises(ConfigError, match=message):
            cfg(cv_splits_indices=bad)
    with pytest.raises(ConfigError, match="the folds are given"):
        cfg(cv_splits_indices=folds, validation_size=0.2)


def test_target_names_follow_the_classic_rules_and_a_missing_one_raises(ws):
    for bad in ("", "my_dsvm", "a b", "x" * 65, "a/b", "semi;colon", "q?"):
        with pytest.raises(ComputeTargetException, match="1 to 64 characters, none of"):
            SSHCompute.attach(ws, bad, address="127.0.0.1")
    with pytest.raises(ComputeTargetException, match="No SSH compute target 'mydsvm'"):
        SSHCompute(ws, "mydsvm")
    assert SSHCompute.attach(ws, "my.dsvm-2", address="127.0.0.1").name == "my.dsvm-2"


def test_a_run_from_a_table_with_fold_column_weights_binary_metric_and_one_ensemble(ws):
    d = frame()
    run = Experiment(ws, "later").submit(AutoMLConfig(
        task="classification", training_data=d, label_column_name="target",
        weight_column_name="w", cv_split_column_names=["fold"], iterations=4,
        enable_voting_ensemble=False, experiment_timeout_hours=0.25, positive_label=0,
        primary_metric="recall_score_binary", name="from a table", compute_target="local",
        whitelist_models=["LogisticRegression", "DecisionTree"], random_state=0))
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.error
    assert run.get_details()["displayName"] == "from a table"
    assert RunView(run).header()["name"] == "from a table"   # the widget's and the panel's
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as ended:
        cli(["--workspace", ws.path, "list"])
    assert ended.value.code == 0
    assert any(line.startswith(run.id) and line.rstrip().endswith("from a table")
               for line in out.getvalue().splitlines()), out.getvalue()
    assert run.get_details()["data"]["folds"] == 3
    pipelines = [r["pipeline"] for r in run.iterations]
    assert pipelines[-1] == "StackEnsemble" and "VotingEnsemble" not in pipelines
    # recall of class 0 (malignant), the positive label here, with the table's weights
    best = run.get_children()[run.best["iteration"]]
    assert 0 < best.get_metrics()["recall_score_binary"] <= 1
    spec = json.load(open(os.path.join(run.folder, "spec.json")))
    assert spec["positive_label"] == 0 and spec["cv_splits"] is True
    model = run.get_output()[1]
    assert model.predict(d.drop(columns=["target", "w", "fold"]).iloc[:5]).shape == (5,)


def test_a_binary_metric_needs_two_classes():
    with pytest.raises(ConfigError, match="'AUC_binary' is for two classes; 'y' has 3"):
        cfg(y=np.array([0, 1, 2] * 20), primary_metric="AUC_binary")


def test_continue_a_canceled_run_then_reattach_from_a_new_process(ws, monkeypatch):
    import subprocess
    import sys

    from automl_widgets.engine.faults import VARIABLE as FAULTS
    from automl_widgets.widget import RunDetails
    monkeypatch.setenv(FAULTS, "3=hang")
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "continued").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=8, n_cross_validations=3, random_state=0,
        whitelist_models=["LogisticRegression", "DecisionTree", "SGD", "KNN"]))
    assert run.wait_until(lambda r: (r.state.iterations.get(3) or {}).get("status") == "Running",
                          timeout=120)
    with pytest.raises(ConfigError, match="only a finished or canceled run can be continued"):
        run.continue_experiment(iterations=2)
    run.cancel()
    run.wait_for_completion()
    assert run.get_status() == "Canceled"
    before = {r["iteration"]: r for r in run.iterations}
    assert max(before) == 3 and before[3]["status"] == "Canceled"
    details = RunDetails(run)
    monkeypatch.delenv(FAULTS)
    for bad, message in [(dict(iterations=0), "must be an int in the range"),
                         (dict(iterations=2, X=X), "give both 'X' and 'y'"),
                         (dict(iterations=2, experiment_timeout_minutes=-1), "must be a float")]:
        with pytest.raises(ConfigError, match=message):
            run.continue_experiment(**bad)
    run.continue_experiment(iterations=5, experiment_timeout_minutes=10)
    assert run.get_status() in ("Preparing", "Running")   # live again at once, not Canceled
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.error
    after = {r["iteration"]: r for r in run.iterations}
    assert sorted(after) == list(range(9))   # the next numbers: 4 to 8, ensembles last
    assert {n: after[n]["status"] for n in before} == {n: r["status"] for n, r in before.items()}
    assert [after[n]["pipeline"] for n in (7, 8)] == ["VotingEnsemble", "StackEnsemble"]
    stacked = after[8]["params"]["stacked_iterations"]
    assert any(n < 3 for n in stacked) and any(4 <= n < 7 for n in stacked), stacked
    # the searcher started from what ran: no family's default twice
    defaults = [after[n]["pipeline"] for n in range(7) if not after[n]["params"]]
    assert len(defaults) == len(set(defaults)), defaults
    # the widget followed the run back to life, to its end
    assert details.wait_until(lambda d: len(d.rows) == 9 and d.header["status"] == "Completed")
    assert "iterations 9 / 9" in details.header["line"]
    code = (f"from automl_widgets import AutoMLRun, Experiment, Workspace\n"
            f"r = AutoMLRun(Experiment(Workspace.from_config({ws.path!r}), 'continued'), "
            f"{run.id!r})\nprint(r.get_status(), [i['iteration'] for i in r.iterations])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"Completed {list(range(9))}", out.stderr[-2000:]


def test_continue_on_new_data_keeps_the_old_iterations_out_of_the_ensembles(ws):
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "continued").submit(AutoMLConfig(
        task="classification", X=X[:300], y=y[:300], iterations=4, n_cross_validations=3,
        random_state=0, whitelist_models=["LogisticRegression", "DecisionTree"]))
    run.wait_for_completion()
    run.continue_experiment(iterations=4, X=X, y=y)
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.error
    stacked = run.iterations[-1]["params"]["stacked_iterations"]
    assert stacked and all(n >= 4 for n in stacked), stacked
    assert all(n >= 4 for n in run.iterations[-2]["params"].get("stacked_iterations", []))
    assert run.get_details()["data"]["rows"] == len(y)


def share_of_big_misses(y_true, y_pred, sample_weight=None):
    """A user's metric, defined in a module the target does not have."""
    return float(np.average(np.abs(np.asarray(y_true) - y_pred) > 30, weights=sample_weight))


def test_custom_metrics_a_scorer_and_a_registered_name(ws):
    import subprocess
    import sys

    from sklearn.datasets import load_diabetes
    from sklearn.metrics import fbeta_score, make_scorer

    from automl_widgets import metrics
    from automl_widgets.widget import RunDetails
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "custom").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=3, n_cross_validations=3,
        primary_metric=make_scorer(fbeta_score, beta=2), random_state=0,
        whitelist_models=["LogisticRegression", "DecisionTree"]))
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.error
    assert run.spec["primary_metric"] == "fbeta_score"
    for child in run.get_children():   # computed like the built-in ones, from the predictions
        m = child.get_metrics()
        assert m["fbeta_score"] == pytest.approx(run.state.iterations[child.number]["score"])
        assert 0.5 < m["fbeta_score"] <= 1 and "accuracy" in m

    metrics.register("big_misses", share_of_big_misses, greater_is_better=False,
                     task="regression")
    Xr, yr = load_diabetes(return_X_y=True)
    reg = Experiment(ws, "custom").submit(AutoMLConfig(
        task="regression", X=Xr, y=yr, iterations=3, n_cross_validations=3,
        primary_metric="big_misses", random_state=0, enable_ensembling=False,
        whitelist_models=["ElasticNet", "DecisionTree", "KNN"]))
    reg.wait_for_completion()
    assert reg.get_status() == "Completed", reg.error
    scores = {r["iteration"]: r["score"] for r in reg.iterations}
    assert reg.best["iteration"] == min(scores, key=scores.get)   # lower is better
    details = RunDetails(reg)
    assert details.metrics[0]["name"] == "big_misses" and not details.metrics[0]["greater_is_better"]
    # a new process, which never registered it, knows its name and direction from the run
    code = (f"from automl_widgets import AutoMLRun, Experiment, Workspace\n"
            f"r = AutoMLRun(Experiment(Workspace.from_config({ws.path!r}), 'custom'), {reg.id!r})\n"
            f"print(r.best['iteration'], r.state.greater_is_better)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == [str(reg.best["iteration"]), "False"], out.stderr[-2000:]
    for bad, message in [(dict(name="accuracy", func=len), "is a built-in metric"),
                         (dict(name="bad name", func=len), "must be a Python identifier"),
                         (dict(name="x", func=3), "must be callable"),
                         (dict(name="x", func=len, task="ranking"), "must be one of")]:
        with pytest.raises(ConfigError, match=message):
            metrics.register(**bad)
    with pytest.raises(ConfigError, match="must be a metric name or a scorer"):
        cfg(primary_metric=3)
    metrics.REGISTRY.pop("big_misses"), metrics.CUSTOM.pop("big_misses")
