"""Optional MLflow logging (issue 14): each iteration a nested run, the best model on the
parent; a broken tracking store never costs the run."""
import os

import pytest
from sklearn.datasets import load_breast_cancer

from automl_widgets import AutoMLConfig, ConfigError, Experiment

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")   # the test's own client, too


def test_each_iteration_is_a_nested_mlflow_run_and_the_best_model_is_the_parents(ws, tmp_path):
    import mlflow
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    uri = (tmp_path / "mlruns").as_uri()
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "tracked").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=4, n_cross_validations=3, random_state=0,
        name="tracked run", mlflow_tracking_uri=uri,
        whitelist_models=["LogisticRegression", "DecisionTree"]))
    run.wait_for_completion()
    assert run.status == "Completed"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tracked")
    runs = client.search_runs([exp.experiment_id])
    parent, = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.run_name == "tracked run" and parent.info.status == "FINISHED"
    assert parent.data.tags["automl_widgets.run_id"] == run.id
    assert len(children) == len(run.iterations) == 4
    by_n = {int(c.data.tags["automl_widgets.iteration"]): c for c in children}
    for r in run.iterations:
        child = by_n[r["iteration"]]
        assert child.data.params["pipeline"] == r["pipeline"]
        if r["status"] == "Completed":
            assert child.data.metrics["accuracy"] == pytest.approx(r["metrics"]["accuracy"])
            assert [a.path for a in client.list_artifacts(child.info.run_id)] == ["model.joblib"]
    best = run.best
    assert parent.data.tags["automl_widgets.best_iteration"] == str(best["iteration"])
    assert parent.data.metrics["accuracy"] == pytest.approx(best["metrics"]["accuracy"])
    mlflow.set_tracking_uri(uri)
    model = mlflow.sklearn.load_model(f"runs:/{parent.info.run_id}/model")
    assert (model.predict(X) == run.get_output()[1].predict(X)).all()


def test_a_broken_tracking_store_is_said_once_and_the_run_goes_on(ws, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    X, y = load_breast_cancer(return_X_y=True)
    run = Experiment(ws, "tracked").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=2, n_cross_validations=3, random_state=0,
        enable_ensembling=False, mlflow_tracking_uri=(blocker / "mlruns").as_uri(),
        whitelist_models=["LogisticRegression"]))
    run.wait_for_completion()
    assert run.status == "Completed" and len(run.iterations) == 2
    log = open(os.path.join(run.folder, "driver.log")).read()
    assert log.count("MLflow logging stopped") == 1


def test_the_tracking_uri_is_checked_before_anything_starts():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.raises(ConfigError, match="'mlflow_tracking_uri' .* must be a tracking URI"):
        AutoMLConfig(task="classification", X=X, y=y, mlflow_tracking_uri=5)
