"""What a run tells about itself beyond its best model: the leaderboard and the data
guardrails (the rest of issue 14 is to come)."""
import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from automl_widgets import AutoMLConfig, Experiment
from automl_widgets import ConfigError as ConfigErrorFromConfig
from automl_widgets.viewmodel import RunView


def troubled_table():
    """Breast cancer, made imbalanced, with a constant column, an identifier, a leak and
    missing values: five guardrails to trip."""
    d = load_breast_cancer(as_frame=True).frame
    keep = np.r_[np.flatnonzero(d.target == 1), np.flatnonzero(d.target == 0)[:40]]
    d = d.iloc[np.random.default_rng(0).permutation(keep)].reset_index(drop=True)
    d["constant"] = 1.0
    d["customer_id"] = np.arange(len(d)) + 1000
    d["leak"] = d["target"] * 2 + np.random.default_rng(1).normal(0, 0.01, len(d))
    d.loc[::7, "mean radius"] = np.nan
    y = d.pop("target").to_numpy()
    return d, y


def test_guardrails_run_on_the_target_and_show_before_the_table(ws, capsys):
    X, y = troubled_table()
    run = Experiment(ws, "insight").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=3, preprocess=True, n_cross_validations=3,
        enable_ensembling=False, random_state=0,
        whitelist_models=["LogisticRegression", "DecisionTree"]), show_output=True)
    out = capsys.readouterr().out
    found = {g["type"]: g for g in run.get_guardrails()}
    assert set(found) == {"class_imbalance", "missing_values", "high_cardinality",
                          "constant_columns", "id_like_columns", "small_data", "leakage"}
    assert {k: g["status"] for k, g in found.items()} == {
        "class_imbalance": "warning", "missing_values": "fixed", "high_cardinality": "passed",
        "constant_columns": "warning", "id_like_columns": "warning", "small_data": "passed",
        "leakage": "warning"}
    assert found["missing_values"]["columns"] == ["mean radius"]
    assert "57 missing value(s)" in found["missing_values"]["message"]
    assert found["constant_columns"]["columns"] == ["constant"]
    assert found["id_like_columns"]["columns"] == ["customer_id"]
    assert "leak" in found["leakage"]["columns"]
    assert "smallest class 0 has 40 rows" in found["class_imbalance"]["message"]
    # the console: the guardrails come before the table's header
    lines = out.splitlines()
    guard, header = lines.index("DATA GUARDRAILS:"), next(
        i for i, line in enumerate(lines) if "ITERATION" in line and "PIPELINE" in line)
    assert guard < header and "  WARNING  Constant columns:" in out
    # the run view's header: what is not passed
    warnings = RunView(run).header()["warnings"]
    assert len(warnings) == 5 and not any("Data size" in w for w in warnings)
    assert [w["check"] for w in run.get_details()["warnings"]] == [
        "class_imbalance", "missing_values", "constant_columns", "id_like_columns", "leakage"]


def test_a_clean_table_passes_every_guardrail(ws):
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "insight").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=2, n_cross_validations=3,
        enable_ensembling=False, random_state=0, whitelist_models=["LogisticRegression"]))
    run.wait_for_completion()
    assert {g["status"] for g in run.get_guardrails()} == {"passed"}
    assert RunView(run).header()["warnings"] == []


def test_the_leaderboard_sorts_by_the_primary_metric_and_has_the_ensembles(ws):
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "insight").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=6, n_cross_validations=3,
        primary_metric="log_loss", random_state=0,
        whitelist_models=["LogisticRegression", "DecisionTree", "KNN", "SGD"]))
    run.wait_for_completion()
    board = run.get_leaderboard()
    assert isinstance(board, pd.DataFrame) and len(board) == 6
    assert list(board.columns[:6]) == ["iteration", "pipeline", "family", "status", "start",
                                       "duration"]
    assert board.columns[6] == "log_loss" and "accuracy" in board.columns
    losses = board["log_loss"].dropna().tolist()
    assert losses == sorted(losses)   # a loss: lowest first
    assert board.iloc[0]["iteration"] == run.best["iteration"]
    voting = board[board["pipeline"] == "VotingEnsemble"].iloc[0]
    assert voting["members"] and len(voting["members"]) == len(voting["weights"])
    stack = board[board["pipeline"] == "StackEnsemble"].iloc[0]
    assert stack["members"] and stack["weights"] is None
    assert str(board["start"].dtype).startswith("datetime64")
    csv = subprocess.run([sys.executable, "-m", "automl_widgets.client.cli", "--workspace",
                          ws.path, "show", "--csv", run.id], capture_output=True, text=True,
                         timeout=120)
    assert csv.returncode == 0, csv.stderr
    again = pd.read_csv(io.StringIO(csv.stdout))
    assert again["iteration"].tolist() == board["iteration"].tolist()
    assert again["log_loss"].tolist() == pytest.approx(board["log_loss"].tolist(), nan_ok=True)


def test_the_model_registry_versions_downloads_and_loads(ws, tmp_path):
    from automl_widgets import ConfigError, Model
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "insight").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=3, n_cross_validations=3,
        enable_ensembling=False, random_state=0,
        whitelist_models=["LogisticRegression", "DecisionTree"]))
    run.wait_for_completion()
    first = run.register_model(model_name="cancer", description="the best", tags={"team": "a"})
    assert (first.name, first.version, first.run_id) == ("cancer", 1, run.id)
    assert first.iteration == run.best["iteration"] and first.tags == {"team": "a"}
    assert first.metrics["accuracy"] == pytest.approx(run.best["metrics"]["accuracy"])
    assert first.schema["columns"] == 30 and first.schema["classes"] == [0, 1]
    assert "scikit-learn" in first.packages and first.description == "the best"
    other = next(r["iteration"] for r in run.iterations if r["iteration"] != first.iteration)
    second = run.register_model("cancer", iteration=other)
    assert second.version == 2 and Model(ws, "cancer").version == 2
    assert [m.version for m in Model.list(ws, "cancer")] == [2, 1]
    # it loads in a fresh interpreter with scikit-learn alone, from the downloaded copy
    path = Model(ws, "cancer", 1).download(tmp_path / "out")
    code = ("import joblib, sys; from sklearn.datasets import load_breast_cancer\n"
            "sys.modules['automl_widgets'] = None\n"
            "m = joblib.load(sys.argv[1]); X, y = load_breast_cancer(return_X_y=True)\n"
            "print((m.predict(X) == y).mean() > 0.9)")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr[-2000:]
    assert (Model(ws, "cancer", 1).load().predict(X[:5]) ==
            run.get_output(iteration=first.iteration)[1].predict(X[:5])).all()
    with pytest.raises(FileExistsError):
        Model(ws, "cancer", 1).download(tmp_path / "out")
    with pytest.raises(ConfigError, match="No model 'cancer' version 7 .* its versions: \\[1, 2\\]"):
        Model(ws, "cancer", 7)
    with pytest.raises(ConfigError, match="A model name must be"):
        run.register_model("bad name")
    listed = subprocess.run([sys.executable, "-m", "automl_widgets.client.cli", "--workspace",
                             ws.path, "models"], capture_output=True, text=True, timeout=60)
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "VERSION"] and len(lines) == 3, listed.stdout
    assert lines[1].split()[:3] == ["cancer", "2", run.id]


def test_feature_importance_at_the_end_and_on_demand(ws):
    d = load_breast_cancer(as_frame=True)
    run = Experiment(ws, "insight").submit(AutoMLConfig(
        task="classification", X=d.data, y=d.target.to_numpy(), iterations=4,
        n_cross_validations=3, preprocess=True, model_explainability=True,
        experiment_timeout_minutes=5, random_state=0, enable_ensembling=False,
        whitelist_models=["LogisticRegression", "DecisionTree"]))
    run.wait_for_completion()
    best = run.get_children()[run.best["iteration"]]
    # with model_explainability it was made by the driver at the end, on the target
    assert os.path.exists(os.path.join(best.folder, "importance.json"))
    fi = best.get_feature_importance()
    assert list(fi.columns) == ["feature", "importance", "std"]
    assert sorted(fi["feature"]) == sorted(d.data.columns)   # the user's own columns
    assert fi["importance"].tolist() == sorted(fi["importance"], reverse=True)
    assert fi["importance"].iloc[0] > 0 and fi.attrs["complete"] and fi.attrs["rows"] > 100
    # another iteration: computed now, as a job
    other = next(c for c in run.get_children() if c.number != best.number
                 and c.get_status() == "Completed")
    assert not os.path.exists(os.path.join(other.folder, "importance.json"))
    again = other.get_feature_importance(max_seconds=30)
    assert len(again) == 30 and "held-out rows" in again.attrs["note"]
    with pytest.raises(ConfigErrorFromConfig, match="max_seconds"):
        other.get_feature_importance(max_seconds=-1)


def test_charts_of_an_iteration_from_its_held_out_predictions(ws):
    from sklearn.datasets import load_diabetes

    from automl_widgets.widget import RunDetails
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "insight").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=2, n_cross_validations=3, random_state=0,
        enable_ensembling=False, whitelist_models=["LogisticRegression"]))
    run.wait_for_completion()
    n = run.best["iteration"]
    c = RunView(run).charts(n)
    assert c["kind"] == "classification" and c["labels"] == ["0", "1"]
    assert sum(map(sum, c["confusion"])) == len(y)   # every row held out once (3 folds)
    correct = c["confusion"][0][0] + c["confusion"][1][1]
    assert correct / len(y) == pytest.approx(run.best["metrics"]["accuracy"])
    roc, = c["roc"]
    assert roc["label"] == "1" and roc["auc"] == pytest.approx(
        run.best["metrics"]["AUC_binary"], abs=1e-3)
    assert roc["x"] == sorted(roc["x"]) and len(roc["x"]) <= 200
    assert c["pr"] and c["calibration"] and "importance" not in c
    run.get_children()[n].get_feature_importance()
    assert RunView(run).charts(n)["importance"]["feature"]   # once computed, it is drawn
    details = RunDetails(run)
    details.select(n)
    assert details.charts["iteration"] == n and details.charts["kind"] == "classification"
    details.close()

    Xr, yr = load_diabetes(return_X_y=True)
    reg = Experiment(ws, "insight").submit(AutoMLConfig(
        task="regression", X=Xr, y=yr, iterations=2, n_cross_validations=3, random_state=0,
        enable_ensembling=False, whitelist_models=["ElasticNet"]))
    reg.wait_for_completion()
    c = RunView(reg).charts(reg.best["iteration"])
    assert c["kind"] == "regression" and len(c["true"]) == len(yr)
    assert c["residual"][0] == pytest.approx(c["true"][0] - c["predicted"][0], abs=1e-4)
