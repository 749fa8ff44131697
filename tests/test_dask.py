"""The Dask target against a real cluster: a `dask scheduler` and `dask worker` processes on
127.0.0.1 (conftest_dask.py). The driver runs here; iterations run as tasks on the workers."""
import json
import subprocess
import sys
import textwrap

import psutil
import pytest
from helpers import events, finished_once, hanging, logged, rng_data, statuses, until

from automl_widgets import (
    AutoMLConfig,
    AutoMLRun,
    DaskCompute,
    Experiment,
    RunConfiguration,
    RunDetails,
    Workspace,
)
from automl_widgets.compute import DaskError
from automl_widgets.engine.faults import VARIABLE as FAULTS


def settings(target, **kw):
    X, y = rng_data(n=300)
    base = dict(task="classification", X=X, y=y, iterations=6, n_cross_validations=2,
                enable_ensembling=False, random_state=0, concurrent_iterations=2,
                whitelist_models=["LogisticRegression", "DecisionTree", "RandomForest"],
                run_configuration=RunConfiguration(target))
    return {**base, **kw}


@pytest.fixture
def on_dask(ws):
    """submit(cluster, **settings): a run on that cluster, attached as target 'cluster'."""
    def _submit(cluster, experiment="dask", **kw):
        target = DaskCompute.attach(ws, "cluster", address=cluster.address)
        return Experiment(ws, experiment).submit(AutoMLConfig(**settings(target, **kw)))
    return _submit


def test_a_run_is_spread_over_the_workers_and_gives_a_plain_pipeline(on_dask, dask_cluster):
    run = on_dask(dask_cluster, iterations=8, enable_ensembling=True)
    run.wait_for_completion(timeout=240)
    assert run.get_status() == "Completed", run.error
    assert finished_once(run) == list(range(8))
    workers = {c.get_properties()["worker"] for c in run.get_children()[:6]}
    assert workers == set(dask_cluster.worker_addresses().values())   # both did work
    for child in run.get_children()[:6]:
        log = child.get_log()
        assert log.count("Pipeline: ") == 1   # streamed while running, nothing doubled
    _, model = run.get_output()
    assert type(model).__name__ == "Pipeline"
    X, _ = rng_data(n=10, seed=1)
    assert model.predict(X).shape == (10,)
    assert run.get_details()["target"] == "cluster"


def test_cancel_one_iteration_kills_it_on_its_worker(on_dask, dask_cluster, monkeypatch):
    monkeypatch.setenv(FAULTS, "1=hang")   # the driver passes the drill to its tasks
    run = on_dask(dask_cluster, iterations=4)
    # The log line comes from the worker while the iteration runs there.
    assert run.wait_until(logged(run, 1, "hanging on purpose"), timeout=120)
    hung = _iteration_processes(dask_cluster)
    assert hung
    # Where it runs is known while it runs, and RunDetails shows it.
    assert run.wait_until(lambda r: (r.state.iterations.get(1) or {}).get("worker"), timeout=60)
    where = run.get_children()[1].get_properties()["worker"]
    assert where in dask_cluster.worker_addresses().values()
    details = RunDetails(run)
    details.select(1)
    assert dict(details.properties["rows"])["Worker"] == where
    details.close()
    run.cancel_iteration(1)
    run.wait_for_completion(timeout=120)
    assert statuses(run) == {0: "Completed", 1: "Canceled", 2: "Completed", 3: "Completed"}
    assert run.get_status() == "Completed"
    assert "Canceled: canceled on request" in run.get_children()[1].get_log()
    assert until(lambda: not any(p.is_running() for p in hung), timeout=30)


def test_cancel_the_run_keeps_what_was_recorded(on_dask, dask_cluster, monkeypatch):
    run = hanging(lambda **kw: on_dask(dask_cluster, **kw), monkeypatch, 2, iterations=6,
                  concurrent_iterations=1)
    assert run.wait_until(logged(run, 2, "hanging on purpose"), timeout=120)
    run.cancel()
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Canceled"
    assert statuses(run) == {0: "Completed", 1: "Completed", 2: "Canceled"}
    assert run.get_output()[0].number in (0, 1)
    assert until(lambda: not _iteration_processes(dask_cluster), timeout=30)


@pytest.mark.timeout(300)
def test_a_killed_worker_is_retried_once_on_another_then_fails(on_dask, fresh_dask_cluster,
                                                                monkeypatch):
    cluster = fresh_dask_cluster
    monkeypatch.setenv(FAULTS, "0=hang")
    run = on_dask(cluster, iterations=3, concurrent_iterations=1)
    assert run.wait_until(logged(run, 0, "hanging on purpose"), timeout=120)
    first = _worker_running_an_iteration(cluster)
    cluster.kill_worker(first)                               # SIGKILL mid-iteration
    assert run.wait_until(logged(run, 0, "retrying on"), timeout=120)
    assert run.wait_until(lambda r: r.get_children()[0].get_log().count(
        "hanging on purpose") == 2, timeout=120)              # it runs again, elsewhere
    second = _worker_running_an_iteration(cluster)
    assert second != first
    cluster.kill_worker(second)
    cluster.add_worker("worker-2")   # a third attempt is not allowed: it fails with why
    run.wait_for_completion(timeout=180)
    child = run.get_children()[0]
    assert child.get_status() == "Failed"
    assert child.get_properties()["reason"].startswith("the workers running it died (")
    assert statuses(run) == {0: "Failed", 1: "Completed", 2: "Completed"}  # the run went on
    assert run.get_status() == "Completed"
    assert finished_once(run) == [0, 1, 2]


@pytest.mark.timeout(300)
def test_a_lost_scheduler_fails_the_run_and_keeps_what_was_recorded(on_dask,
                                                                   fresh_dask_cluster,
                                                                   monkeypatch):
    run = hanging(lambda **kw: on_dask(fresh_dask_cluster, **kw), monkeypatch, 1,
                  iterations=4, concurrent_iterations=1)
    assert run.wait_until(lambda r: statuses(r).get(0) == "Completed", timeout=120)
    fresh_dask_cluster.kill_scheduler()
    run.wait_for_completion(timeout=180)
    assert run.get_status() == "Failed"
    assert "Dask scheduler" in run.error and "was lost" in run.error
    assert statuses(run) == {0: "Completed", 1: "Failed"}
    assert "was lost" in run.get_children()[1].get_properties()["reason"]
    assert run.get_output()[0].number == 0        # the recorded model is still there
    assert [e["event"] for e in events(run)][-1] == "run_finished"


def test_a_new_process_re_attaches_and_sees_each_iteration_once(on_dask, dask_cluster, ws,
                                                                monkeypatch):
    run = hanging(lambda **kw: on_dask(dask_cluster, **kw), monkeypatch, 3, iterations=5)
    code = textwrap.dedent(f"""
        from automl_widgets import AutoMLRun, Experiment, Workspace
        run = AutoMLRun(Experiment(Workspace.from_config({ws.path!r}), "dask"), {run.id!r})
        assert run.wait_until(lambda r: any(i["iteration"] == 3 and i["status"] == "Running"
                                            for i in r.iterations), timeout=60)
        run.cancel_iteration(3)
        run.wait_for_completion(timeout=120)
        print(run.get_status(), [(i["iteration"], i["status"]) for i in run.iterations])
        print(run.get_children()[0].get_properties()["worker"])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr
    status, pairs = out.stdout.splitlines()[0].split(" ", 1)
    assert status == "Completed"
    assert pairs == str([(0, "Completed"), (1, "Completed"), (2, "Completed"),
                         (3, "Canceled"), (4, "Completed")])
    assert out.stdout.splitlines()[1].startswith("tcp://127.0.0.1:")
    run.wait_for_completion(timeout=60)
    assert finished_once(run) == [0, 1, 2, 3, 4]


def test_a_bad_address_is_a_clear_error_and_nothing_is_saved(ws):
    with pytest.raises(DaskError, match=r"No Dask scheduler answered at tcp://127.0.0.1:9 "):
        DaskCompute.attach(ws, "nowhere", address="tcp://127.0.0.1:9")
    with pytest.raises(DaskError, match=r"must be a scheduler address such as "):
        DaskCompute.attach(ws, "nowhere", address="127.0.0.1:8786")
    with pytest.raises(DaskError, match="No Dask compute target 'nowhere'"):
        DaskCompute(ws, "nowhere")
    assert ws.targets() == []


def test_a_saved_target_loads_by_name_and_a_run_re_attached_keeps_it(ws, dask_cluster):
    DaskCompute.attach(ws, "cluster", address=dask_cluster.address)
    again = DaskCompute(Workspace.from_config(ws.path), "cluster")
    assert again.address == dask_cluster.address
    assert again.describe() == {"type": "dask", "name": "cluster",
                                "address": dask_cluster.address, "security": None}
    assert len(again.scheduler_info()["workers"]) == 2
    run = Experiment(ws, "dask").submit(AutoMLConfig(**settings(again, iterations=2)))
    run.wait_for_completion(timeout=120)
    reread = AutoMLRun(Experiment(ws, "dask"), run.id)
    assert isinstance(reread.target, DaskCompute) and reread.get_status() == "Completed"


def _iteration_processes(cluster) -> list:
    """The iteration processes forked by the cluster's workers, now."""
    return [c for pid in cluster.worker_pids().values()
            for c in psutil.Process(pid).children() if c.is_running()]


def _worker_running_an_iteration(cluster) -> str:
    found = []
    assert until(lambda: found.extend(
        name for name, pid in cluster.worker_pids().items()
        if psutil.Process(pid).children()) or found, timeout=60)
    return found[0]


def test_a_tls_cluster_is_reached_with_the_security_given_and_only_paths_are_kept(ws, tmp_path):
    from dask_cluster import DaskCluster
    from distributed import Security
    with DaskCluster(n_workers=1, directory=tmp_path / "tls", tls=True) as cluster:
        assert cluster.address.startswith("tls://127.0.0.1:")
        with pytest.raises(DaskError, match="speaks TLS: give security="):
            DaskCompute.attach(ws, "plain", address=cluster.address)
        wrong = Security(tls_ca_file=cluster.tls_paths["ca"], require_encryption=True)
        with pytest.raises(DaskError, match="No Dask scheduler answered"):
            DaskCompute.attach(ws, "nocert", address=cluster.address, security=wrong)
        with pytest.raises(DaskError, match="must name its certificate and key files"):
            DaskCompute.attach(ws, "inmemory", address=cluster.address,
                               security=Security.temporary())
        target = DaskCompute.attach(ws, "secure", address=cluster.address,
                                    security=cluster.security())
        saved = {name: settings for name, _, settings in ws.targets()}["secure"]
        assert saved["security"]["tls_ca_file"] == cluster.tls_paths["ca"]
        assert "BEGIN" not in json.dumps(saved)          # paths, never key material
        run = Experiment(ws, "tls").submit(AutoMLConfig(**settings(target, iterations=2)))
        run.wait_for_completion(timeout=120)
        assert run.get_status() == "Completed", run.error
        assert {c.get_properties()["worker"] for c in run.get_children()} == set(
            cluster.worker_addresses().values())


def test_a_late_callback_of_a_reaped_task_does_not_wake_the_next_one(tmp_path):
    """Found in CI: iteration 0's task ended after the driver had reaped it, its callback
    wrote to its closed pipe's fd number, which iteration 1's new pipe had reused, and
    iteration 1 was reaped at once as 'lost (pending)'."""
    import os
    import select
    from types import SimpleNamespace

    from automl_widgets.engine.dask_exec import DaskIteration
    from automl_widgets.protocol import Status
    first = DaskIteration(SimpleNamespace(), 0, str(tmp_path), None)
    first.kill_reason = (Status.FAILED, "the workers running it died")
    first._close_pipe()                       # what reap() does
    r, w = os.pipe()                          # the next iteration's pipe
    try:
        late = SimpleNamespace(status="cancelled")
        first.future = late
        first._done(late)                     # the task's callback, after the reap
        assert select.select([r], [], [], 0)[0] == []
    finally:
        os.close(r)
        os.close(w)
