"""MLflow logging (the [mlflow] extra), when the run's spec has mlflow_tracking_uri.

The run is an MLflow run in the MLflow experiment of the same name; each iteration is a
nested run (mlflow.parentRunId) with its hyperparameters, metrics and model.joblib; at
the end the best iteration's Pipeline is logged on the parent as an MLflow sklearn model
("runs:/<id>/model"), with its metrics.

It runs in a thread fed by the driver's events, so a slow tracking server never holds up
the search; a failure is logged once in driver.log and logging stops: the run goes on,
and its own record (the run folder) is complete either way.
"""
from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
import time

from ..protocol import MODEL, Status, iteration_dir
from ..protocol import events as ev

log = logging.getLogger(__name__)
MLFLOW_STATUS = {Status.COMPLETED: "FINISHED", Status.CANCELED: "KILLED"}
DRAIN_SECONDS = 120   # at the end, how long the driver waits for logging to catch up


class Tracker:
    def __init__(self, spec, folder):
        self.spec, self.folder = spec, folder
        self.queue = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="mlflow", daemon=True)
        self.client = self.parent = None
        self.broken = False
        self.best = {}   # metrics of the best iteration so far, with its number

    def start(self):
        self.thread.start()

    def on(self, event):
        if isinstance(event, ev.IterationFinished):
            self.queue.put(event)

    def finish(self, status, best_iteration):
        """Before RunFinished: log the best model and end the parent run, waiting
        (bounded) for the thread, so a finished run is finished in MLflow too."""
        if not self.thread.is_alive():
            return
        self.queue.put((status, best_iteration))
        self.queue.put(None)
        self.thread.join(DRAIN_SECONDS)
        if self.thread.is_alive():
            log.warning("MLflow: still logging after %d s; the rest is not logged", DRAIN_SECONDS)

    # ---- the thread ------------------------------------------------------------------
    def _work(self):
        while (item := self.queue.get()) is not None:
            if self.broken:
                continue
            try:
                if self.client is None:
                    self._connect()
                if isinstance(item, ev.IterationFinished):
                    self._iteration(item)
                else:
                    self._end(*item)
            except Exception as exc:  # noqa: BLE001 - logging must never end the run
                self.broken = True
                log.warning("MLflow logging stopped: %s: %s", type(exc).__name__, exc)

    def _connect(self):
        # Asked for explicitly, so a local file store is what the user wants (MLflow 3
        # refuses one unless told); and no usage report leaves the machine unless asked.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        try:
            import mlflow
        except ImportError:
            raise RuntimeError("mlflow is not installed where the run runs (its driver's "
                               "Python); pip install 'automl-widgets[mlflow]' there") from None
        # we choose cloudpickle (skops is not a dependency): no warning about it per run
        logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
        uri = self.spec["mlflow_tracking_uri"]
        self.mlflow, self.client = mlflow, mlflow.MlflowClient(tracking_uri=uri)
        name = self.spec["experiment"]
        found = self.client.get_experiment_by_name(name)
        exp_id = found.experiment_id if found else self.client.create_experiment(name)
        run = self.client.create_run(exp_id, run_name=self.spec.get("name") or self.spec["run_id"],
                                     tags={"automl_widgets.run_id": self.spec["run_id"],
                                           "automl_widgets.task": self.spec["task"]})
        self.exp_id, self.parent = exp_id, run.info.run_id
        settings = {k: self.spec[k] for k in ("task", "primary_metric", "iterations",
                                              "max_time_sec", "experiment_timeout_minutes",
                                              "preprocess", "random_state") if k in self.spec}
        self.client.log_batch(self.parent, params=self._params(settings))
        log.info("MLflow: logging to %s, experiment %r, run %s", uri, name, self.parent)

    def _iteration(self, e):
        from mlflow.entities import Metric
        n = e.iteration
        child = self.client.create_run(
            self.exp_id, run_name=f"{n} {e.pipeline}",
            tags={"mlflow.parentRunId": self.parent, "automl_widgets.iteration": str(n),
                  "automl_widgets.status": e.status})
        values = dict(e.metrics or {}, duration=e.duration)
        stamp = int(time.time() * 1000)
        metrics = [Metric(k, float(v), stamp, 0) for k, v in values.items()
                   if isinstance(v, (int, float)) and v == v]
        params = self._params(dict({"pipeline": e.pipeline}, **(e.params or {})))
        self.client.log_batch(child.info.run_id, metrics=metrics, params=params)
        path = os.path.join(iteration_dir(self.folder, n), MODEL)
        if e.status == Status.COMPLETED and os.path.exists(path):
            self.client.log_artifact(child.info.run_id, path)
        self.client.set_terminated(child.info.run_id, MLFLOW_STATUS.get(e.status, "FAILED"))
        if e.status == Status.COMPLETED:
            self.best[n] = metrics

    def _end(self, status, best):
        if best is not None and best in self.best:
            import joblib
            self.client.log_batch(self.parent, metrics=self.best[best])
            self.client.set_tag(self.parent, "automl_widgets.best_iteration", str(best))
            model = joblib.load(os.path.join(iteration_dir(self.folder, best), MODEL))
            with tempfile.TemporaryDirectory() as tmp:
                # Saved, then logged as files: works with MLflow 2 and 3 alike, and
                # needs no active run. Pickled, as skops is not a dependency.
                self.mlflow.sklearn.save_model(model, os.path.join(tmp, "model"),
                                               serialization_format="cloudpickle")
                self.client.log_artifacts(self.parent, os.path.join(tmp, "model"), "model")
        self.client.set_terminated(self.parent, MLFLOW_STATUS.get(status, "FAILED"))

    @staticmethod
    def _params(values):
        from mlflow.entities import Param
        return [Param(str(k), str(v)[:6000]) for k, v in values.items()]
