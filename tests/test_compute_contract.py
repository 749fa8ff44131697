"""The ComputeTarget contract, checked the same way for every target: this machine, and an
SSH target on a real sshd on 127.0.0.1 (see conftest_ssh.py), and a Dask cluster of real
scheduler and worker processes on 127.0.0.1 (see conftest_dask.py)."""
import json
import os
import shutil

import pytest
from helpers import rng_data, running, until

from automl_widgets import AutoMLConfig, AutoMLRun, Experiment, RunConfiguration
from automl_widgets.compute import ComputeTarget, DaskCompute, LocalCompute, SSHCompute, target_for
from automl_widgets.engine.faults import VARIABLE as FAULTS
from automl_widgets.protocol import EVENTS, REMOTE, read_json


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh), "dask"])
def target(request, ws):
    if request.param == "local":
        return LocalCompute()
    if request.param == "dask":
        return DaskCompute.attach(ws, "contract", address=request.getfixturevalue("dask_cluster").address)
    sshd = request.getfixturevalue("sshd")
    vm = SSHCompute.attach(ws, "contract", address=sshd.host, port=sshd.port,
                           username=sshd.username, ssh_key=sshd.key_path)
    with open(vm.known_hosts_file, "a") as f:
        f.write(sshd.known_hosts_line() + "\n")
    vm.prepare(progress=lambda line: None)
    return vm


def submit(ws, target, experiment, **settings):
    X, y = rng_data(n=120)
    base = dict(task="classification", X=X, y=y, iterations=3, n_cross_validations=2,
                enable_ensembling=False, random_state=0,
                whitelist_models=["LogisticRegression", "DecisionTree"],
                run_configuration=RunConfiguration(target))
    base.update(settings)
    return Experiment(ws, experiment).submit(AutoMLConfig(**base))


def test_is_a_compute_target_that_describes_itself(target, ws):
    assert isinstance(target, ComputeTarget)
    described = target.describe()
    assert isinstance(described["type"], str) and described["name"] == target.name
    assert json.loads(json.dumps(described)) == described   # it goes into spec.json
    assert target_for(ws, described).describe() == described
    assert RunConfiguration(target).resolve_target() is target


def test_a_run_completes_with_an_iteration_canceled_and_liveness_follows(
        target, ws, monkeypatch, tmp_path):
    monkeypatch.setenv(FAULTS, "1=hang")
    run = submit(ws, target, "contract")
    assert run.wait_until(running(1), timeout=120)
    assert target.driver_alive(run.folder)
    target.cancel(run.folder, 1)
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Completed"
    assert [i["status"] for i in run.iterations] == ["Completed", "Canceled", "Completed"]
    assert until(lambda: not target.driver_alive(run.folder))

    mirror = target.mirror(run.folder)
    if target.describe()["type"] in ("local", "dask"):   # the run folder is here
        assert mirror is None
        return
    # A mirror of the remote run folder into an empty one copies what the driver wrote.
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(os.path.join(run.folder, REMOTE), copy / REMOTE)
    mirror = target.mirror(str(copy))
    try:
        assert mirror.pull()
    finally:
        mirror.close()
    remote = read_json(os.path.join(run.folder, REMOTE))["folder"]
    code, text, _ = target.run(["cat", f"{remote}/{EVENTS}"])
    assert code == 0 and text.count("\n") > 5
    assert (copy / EVENTS).read_text() == text


def test_cancel_the_run_with_nobody_following_it(target, ws, monkeypatch):
    monkeypatch.setenv(FAULTS, "0=hang")
    run = submit(ws, target, "contract_cancel")
    assert run.wait_until(running(0), timeout=120)
    run.close()   # no Run pushes or reads anything now: the target alone must deliver
    target.cancel(run.folder)
    assert until(lambda: not target.driver_alive(run.folder))
    again = AutoMLRun(Experiment(ws, "contract_cancel"), run.id)
    again.wait_for_completion(timeout=60)
    assert again.get_status() == "Canceled"
    assert again.iterations[0]["status"] == "Canceled"


def test_only_a_compute_target_is_accepted():
    class StartsOnly:   # what the old hasattr(target, "start") check let through
        name = "half"

        def start(self, folder):
            pass

    for bad in (StartsOnly(), "remote", 3):
        with pytest.raises(ValueError, match="The 'target' parameter of RunConfiguration "
                                             "must be 'local' or a compute target"):
            RunConfiguration(bad)
    assert isinstance(RunConfiguration().resolve_target(), LocalCompute)
    with pytest.raises(ValueError, match="iteration must be None"):
        LocalCompute().cancel("unused", "../x")
