"""Whole runs on the local target: real driver, real forked iteration processes."""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import events, finished_once, hanging, running, statuses
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline

from automl_widgets import AutoMLRun, Experiment, metrics
from automl_widgets.engine.faults import VARIABLE as FAULTS


def test_run_completes_with_ensembles_and_returns_a_plain_pipeline(submit, cancer, tmp_path):
    run = submit(iterations=6, enable_ensembling=True, primary_metric="AUC_weighted")
    assert re.fullmatch(r"AutoML_[0-9a-f-]{36}", run.id)
    run.wait_for_completion()
    assert run.get_status() == "Completed"
    assert finished_once(run) == list(range(6))
    names = [r["pipeline"] for r in run.iterations]
    assert names[-2:] == ["VotingEnsemble", "StackEnsemble"]
    assert all(r["status"] == "Completed" for r in run.iterations)
    for r in run.iterations:
        assert set(r["metrics"]) == set(metrics.names("classification"))
    scores = {r["iteration"]: r["metrics"]["AUC_weighted"] for r in run.iterations}
    best_child, model = run.get_output()
    assert best_child.number == max(scores, key=scores.get)
    assert best_child.id == f"{run.id}_{best_child.number}"
    assert isinstance(model, Pipeline)
    X, y = cancer
    assert (model.predict(X[:50]) == y[:50]).mean() > 0.8
    losses = {r["iteration"]: r["metrics"]["log_loss"] for r in run.iterations}
    assert run.get_output(metric="log_loss")[0].number == min(losses, key=losses.get)
    assert run.get_output(iteration=0)[0].number == 0
    with pytest.raises(ValueError, match="not a classification metric"):
        run.get_output(metric="r2_score")
    # The model loads with scikit-learn alone.
    path = os.path.join(best_child.folder, "model.joblib")
    code = ("import joblib, sys; m = joblib.load(sys.argv[1]); "
            "assert not any(k.startswith('automl_widgets') for k in sys.modules); "
            "print(type(m).__module__)")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert out.stdout.strip() == "sklearn.pipeline"


def test_show_output_prints_the_classic_table(ws, cancer, capsys):
    from automl_widgets import AutoMLConfig
    X, y = cancer
    run = Experiment(ws, "table").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=3, n_cross_validations=2,
        enable_ensembling=False, whitelist_models=["LogisticRegression", "DecisionTree"],
        random_state=0), show_output=True)
    out = capsys.readouterr().out
    assert f"Parent Run ID: {run.id}" in out
    assert "BEST: The best observed accuracy thus far." in out
    header = next(line for line in out.splitlines() if "ITERATION" in line and "PIPELINE" in line)
    assert header.split() == ["ITERATION", "PIPELINE", "DURATION", "METRIC", "BEST"]
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s{5}", line)]
    assert sorted(int(r[0]) for r in rows) == [0, 1, 2]
    order = [int(r[0]) for r in rows]
    assert order == run.state.finished_order
    best = max(r["score"] for r in run.iterations)
    assert float(rows[-1][-1]) == pytest.approx(best, abs=1e-4)


def test_crash_exit_memoryerror_exception_and_hang_fail_only_their_iteration(
        submit, monkeypatch):
    monkeypatch.setenv(FAULTS, "1=crash,2=exit,3=memory,4=raise,5=hang")
    run = submit(iterations=7, concurrent_iterations=2, max_time_sec=3)
    run.wait_for_completion()
    assert run.get_status() == "Completed"
    st = statuses(run)
    assert st == {0: "Completed", 1: "Failed", 2: "Failed", 3: "Failed", 4: "Failed",
                  5: "TimedOut", 6: "Completed"}
    reasons = {r["iteration"]: r["reason"] for r in run.iterations}
    assert "SIGSEGV" in reasons[1]
    assert "exited with code 3" in reasons[2]
    assert reasons[3].startswith("MemoryError")
    assert reasons[4] == "RuntimeError: injected failure"
    assert "max_time_sec=3" in reasons[5]
    logs = {c.number: c.get_log() for c in run.get_children()}
    assert "RuntimeError: injected failure" in logs[4]
    assert "Traceback" in logs[4]
    assert "TimedOut" in logs[5] and "hanging on purpose" in logs[5]
    assert "Failed" in logs[1]
    assert run.get_output()[0].number in (0, 6)


def test_cancel_one_iteration(submit, monkeypatch):
    run = hanging(submit, monkeypatch, 1, iterations=3)
    run.cancel_iteration(1)
    run.wait_for_completion()
    assert statuses(run) == {0: "Completed", 1: "Canceled", 2: "Completed"}
    assert run.get_status() == "Completed"
    assert "Canceled" in run.get_children()[1].get_log()
    with pytest.raises(ValueError, match=r"iteration must be an int in \[0, 2\]"):
        run.cancel_iteration(7)


def test_cancel_the_run_keeps_what_was_recorded(submit, monkeypatch):
    run = hanging(submit, monkeypatch, 1, iterations=10)
    run.cancel()
    assert run.get_status() in ("CancelRequested", "Canceled")
    run.wait_for_completion()
    assert run.get_status() == "Canceled"
    assert statuses(run) == {0: "Completed", 1: "Canceled"}
    assert run.get_output()[0].number == 0
    kinds = [e["event"] for e in events(run)]
    assert kinds.count("cancel_requested") == 1 and kinds[-1] == "run_finished"


SUBMITTER = textwrap.dedent("""
    import os, sys
    from sklearn.datasets import load_breast_cancer
    from automl_widgets import AutoMLConfig, Experiment, Workspace
    ws = Workspace.from_config(sys.argv[1])
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "detached").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=6, n_cross_validations=2,
        enable_ensembling=False, max_time_sec=3, random_state=0,
        whitelist_models=["LogisticRegression", "DecisionTree"]))
    print(run.id, flush=True)
    run.wait_for_completion(show_output=True)
""")


def test_killing_the_submitter_does_not_stop_the_run_and_a_new_process_catches_up(
        ws, monkeypatch):
    monkeypatch.setenv(FAULTS, "2=hang")  # keeps the run alive long enough to kill its submitter
    proc = subprocess.Popen([sys.executable, "-c", SUBMITTER, ws.path], stdout=subprocess.PIPE,
                            text=True)
    run_id = proc.stdout.readline().strip()
    run = AutoMLRun(Experiment(ws, "detached"), run_id)
    assert run.wait_until(running(2), timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    run.wait_for_completion()
    assert run.get_status() == "Completed"
    # Another reader, started from nothing after the fact, sees the same thing.
    again = Experiment(ws, "detached").get_runs()[0]
    assert again.id == run_id
    assert finished_once(again) == list(range(6))
    assert statuses(again) == {**{n: "Completed" for n in range(6)}, 2: "TimedOut"}
    seqs = [e["seq"] for e in events(again)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert again._thread is None  # a finished run needs no sync thread


def test_a_killed_driver_is_reported_not_waited_for_forever(submit, monkeypatch):
    run = hanging(submit, monkeypatch, 0, iterations=2)
    os.kill(run.target.driver_pid(run.folder), signal.SIGKILL)
    assert run.wait_until(lambda r: r.status == "Failed", timeout=60)
    assert "driver process ended without finishing" in run.get_details()["error"]


@pytest.mark.parametrize("body, message", [
    ("return [X, y]", "must return a dict with 'X' and 'y'; it returned list"),
    ("return {'X': X}", "(missing: ['y'])"),
    ("return {'X': X, 'y': y, 'weights': y}", "(unknown: ['weights'])"),
    ("raise ValueError('no database here')", "no database here"),
    ("return {'X': X, 'y': y * 0}", "'y' has one class only"),
    ("return {'X': X[:10], 'y': y}", "'X' and 'y' have different lengths"),
])
def test_data_script_problems_end_the_run_as_failed_with_the_message(
        submit, tmp_path, body, message):
    script = tmp_path / "get_data.py"
    script.write_text("from sklearn.datasets import load_iris\n"
                      "def get_data():\n    X, y = load_iris(return_X_y=True)\n"
                      f"    {body}\n")
    run = submit(data_script=str(script))
    run.wait_for_completion()
    assert run.get_status() == "Failed"
    assert message in run.get_details()["error"]
    assert message in open(run.get_details()["logFiles"]["driver"]).read()
    assert run.iterations == []


def test_data_script_runs_on_the_target_in_the_project_folder(submit, tmp_path):
    (tmp_path / "helper.py").write_text("ROWS = 120\n")
    (tmp_path / "get_data.py").write_text(textwrap.dedent("""
        import os
        from helper import ROWS
        from sklearn.datasets import make_classification
        def get_data():
            X, y = make_classification(ROWS, 6, random_state=0)
            open("data_script_cwd.txt", "w").write(os.getcwd())
            return {"X": X, "y": y}
    """))
    run = submit(data_script="get_data.py", path=str(tmp_path))
    run.wait_for_completion()
    assert run.get_status() == "Completed"
    assert run.get_details()["data"]["rows"] == 120
    assert (tmp_path / "data_script_cwd.txt").read_text() == str(tmp_path)


def test_exit_score_stops_the_search(submit):
    run = submit(iterations=20, primary_metric="AUC_weighted", exit_score=0.5)
    run.wait_for_completion()
    assert run.get_details()["stopReason"] == "exit_score_reached"
    assert len(run.iterations) < 20


def test_experiment_timeout_ends_running_iterations(submit, monkeypatch):
    monkeypatch.setenv(FAULTS, "1=hang")
    # 12 s: iteration 0 must complete before the deadline for iteration 1 to start; at 3 s
    # a loaded CI machine once spent them all on the driver's start and iteration 0.
    run = submit(iterations=5, experiment_timeout_minutes=0.2, enable_ensembling=True)
    run.wait_for_completion()
    assert run.get_details()["stopReason"] == "experiment_timeout"
    assert statuses(run) == {0: "Completed", 1: "Canceled"}
    assert "experiment_timeout_minutes" in run.iterations[1]["reason"]


def test_early_stopping(submit):
    run = submit(iterations=40, whitelist_models=["DecisionTree"], enable_early_stopping=True,
                 early_stopping_n_iters=3)
    run.wait_for_completion()
    assert run.get_details()["stopReason"] == "early_stopping"
    assert len(run.iterations) < 40


def test_same_random_state_sequential_runs_propose_the_same_pipelines(submit):
    def proposals(run):
        run.wait_for_completion()
        return [(r["pipeline"], json.dumps(r["params"], sort_keys=True)) for r in run.iterations]
    a = proposals(submit(iterations=8, random_state=11))
    b = proposals(submit(iterations=8, random_state=11))
    assert a == b
    assert len({p for p, _ in a}) > 1 and any(params != "{}" for _, params in a)


def test_at_most_concurrent_iterations_run_at_once(submit, monkeypatch):
    monkeypatch.setenv(FAULTS, "2=hang")
    run = submit(iterations=6, concurrent_iterations=2, max_time_sec=2)
    run.wait_for_completion()
    live, peak = 0, 0
    for e in events(run):
        live += {"iteration_started": 1, "iteration_finished": -1}.get(e["event"], 0)
        peak = max(peak, live)
    assert peak == 2
    assert finished_once(run) == list(range(6))


def test_dataframe_with_categories_text_and_missing_values(ws):
    import pandas as pd

    from automl_widgets import AutoMLConfig
    rng = np.random.default_rng(0)
    n = 240
    words = ["good", "bad", "fine", "poor", "great", "awful"]
    df = pd.DataFrame({
        "num": rng.normal(size=n),
        "cat": rng.choice(["red", "green", "blue", None], size=n),
        "text": [" ".join(rng.choice(words, size=4)) + f" note{i}" for i in range(n)],
        "gappy": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        # pandas' own dtypes, their missing values pd.NA (SimpleImputer fails on it)
        "kind": pd.array(rng.choice(["a", "b", "c", "d", "e", "f", None], size=n),
                         dtype="string"),
        "flag": pd.array(rng.choice([True, False, None], size=n), dtype="boolean"),
        "count": pd.array(rng.choice([1, 2, 3, None], size=n), dtype="Int64"),
        "band": pd.Categorical(rng.choice(["low", "high", None], size=n)),
    })
    df.loc[3, "text"] = None
    y = np.where(df["num"] + (df["cat"] == "red") + df["text"].str.contains("good").fillna(False)
                 > 0.7, "yes", "no")
    with pytest.raises(Exception, match="non-numeric columns"):
        AutoMLConfig(task="classification", X=df, y=y)
    run = Experiment(ws, "frame").submit(AutoMLConfig(
        task="classification", X=df, y=y, featurization="auto", iterations=4,
        n_cross_validations=3, enable_ensembling=False, random_state=0))
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.get_details()
    assert all(r["status"] == "Completed" for r in run.iterations)
    _, model = run.get_output()
    raw = df.head(5).copy()
    raw.loc[0, "gappy"] = np.nan
    raw.loc[1, "cat"] = "never seen"
    raw.loc[2, ["kind", "flag", "count", "text"]] = pd.NA
    assert set(model.predict(raw)) <= {"yes", "no"}
    # LightGBM's categories as codes (the "kind" column has 6): from pandas' NA too
    coded = [r for r in run.iterations if r["params"].get("categories") == "codes"]
    assert coded, [r["params"] for r in run.iterations]
    _, model = run.get_output(iteration=coded[0]["iteration"])
    assert set(model.predict(raw)) <= {"yes", "no"}


def test_sparse_input_uses_only_sparse_capable_models(ws):
    import scipy.sparse as sp
    from sklearn.datasets import make_classification

    from automl_widgets import AutoMLConfig
    X, y = make_classification(200, 40, random_state=0)
    Xs = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0))
    run = Experiment(ws, "sparse").submit(AutoMLConfig(
        task="classification", X=Xs, y=y, iterations=7, n_cross_validations=2,
        enable_ensembling=False, random_state=0))
    run.wait_for_completion()
    assert all(r["status"] == "Completed" for r in run.iterations), run.iterations
    assert "HistGradientBoosting" not in run.get_details()["data"]["estimators"]
    assert not any("MinMax" in r["pipeline"] or "Scale 0/1" in r["pipeline"]
                   for r in run.iterations)


def test_a_count_target_is_scored_on_predictions_that_are_not_rounded(ws):
    # Visits to a doctor, 0.3 on average: the out-of-fold predictions took the target's
    # integer dtype, so 0.3 was stored as 0 and every model scored far below its worth.
    from automl_widgets import AutoMLConfig
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = rng.poisson(np.exp(X[:, 0] - 1.5))   # int64 counts, mostly 0
    run = Experiment(ws, "counts").submit(AutoMLConfig(
        task="regression", X=X, y=y, iterations=1, enable_ensembling=False,
        whitelist_models=["ElasticNet"], random_state=0))
    run.wait_for_completion(timeout=300)
    child = run.get_children()[0]
    with np.load(os.path.join(child.folder, "predictions.npz")) as f:
        pred = f["pred"]
    assert pred.dtype.kind == "f" and 0.2 < pred.mean() < 0.5
    assert abs(child.get_metrics()["r2_score"] - r2_score(y, pred)) < 1e-9


@pytest.mark.parametrize("split", ["validation_size", "X_valid"])
def test_regression_with_holdout_and_sample_weight(ws, split):
    from sklearn.datasets import load_diabetes

    from automl_widgets import AutoMLConfig
    X, y = load_diabetes(return_X_y=True)
    extra = ({"validation_size": 0.25, "sample_weight": np.linspace(0.5, 1.5, len(y))}
             if split == "validation_size" else
             {"X": X[:300], "y": y[:300], "X_valid": X[300:], "y_valid": y[300:]})
    settings = dict(task="regression", X=X, y=y, iterations=5, random_state=0,
                    primary_metric="normalized_root_mean_squared_error")
    settings.update(extra)
    run = Experiment(ws, "reg").submit(AutoMLConfig(**settings))
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.get_details()
    assert run.get_details()["data"]["validation"] == "holdout"
    rows = run.get_details()["data"]["validation_rows"]
    assert rows == (111 if split == "validation_size" else 142)
    scores = {r["iteration"]: r["score"] for r in run.iterations if r["score"] is not None}
    assert run.get_output()[0].number == min(scores, key=scores.get)  # lower is better
    assert [r["pipeline"] for r in run.iterations][-2:] == ["VotingEnsemble", "StackEnsemble"]
