"""Faults on the local target, each with a clear outcome and nothing recorded lost: real
driver, real iteration processes, real data scripts (docs/faults.md is the table)."""
import os
import signal
import textwrap

import psutil
import pytest
from helpers import events, finished_once, hanging, logged, reasons, statuses, until

from automl_widgets import AutoMLRun, Experiment
from automl_widgets.engine.faults import VARIABLE as FAULTS
from automl_widgets.protocol import liveness


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def data_script(tmp_path, body):
    """A get_data.py whose get_data() runs `body` (indented for it)."""
    path = tmp_path / "get_data.py"
    path.write_text("import os, subprocess, sys, time\n"
                    "from sklearn.datasets import load_iris\n\n\n"
                    "def get_data():\n" + textwrap.indent(textwrap.dedent(body), "    "))
    return path


# ---- errors from the data script keep their type and frame (defect 5) -----------------

@pytest.mark.parametrize("body, head, line", [
    ("data = {}\nreturn data['features']\n", "KeyError: 'features'", "return data['features']"),
    ("sys.exit(0)\n", "SystemExit: the data script called sys.exit(0)", "sys.exit(0)"),
])
def test_a_data_script_error_keeps_its_type_message_and_frame(submit, tmp_path, body, head,
                                                               line):
    script = data_script(tmp_path, body)
    run = submit(data_script=str(script))
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Failed"
    error = run.get_details()["error"]
    assert head in error
    lineno = 5 + body.count("\n")  # the last line of the body
    assert f'File "{script}", line {lineno}, in get_data' in error
    assert line in error
    assert run.get_details()["stopReason"] == "data_error"
    assert run.iterations == []


# ---- cancel and the experiment timeout while get_data() runs (defect 6) ---------------

HANGS = {
    "sleeping": "time.sleep(3600)\n",
    "busy": "while True:\n    pass\n",
}


def loading_script(tmp_path, how):
    """get_data() starts a child process, says so, then hangs `how`."""
    return data_script(tmp_path, f"""
        child = subprocess.Popen(["sleep", "3600"])
        with open("{tmp_path}/child.pid.tmp", "w") as f:
            f.write(str(child.pid))
        os.replace("{tmp_path}/child.pid.tmp", "{tmp_path}/child.pid")
        {textwrap.indent(HANGS[how], " " * 8).strip()}
    """)


def loading(tmp_path, run):
    """Wait until get_data() runs (it has started its child); the child's pid."""
    pid_file = tmp_path / "child.pid"
    assert run.wait_until(lambda r: pid_file.exists() or r.state.finished, timeout=120)
    assert run.get_status() == "Preparing"
    return int(pid_file.read_text())


@pytest.mark.parametrize("how", sorted(HANGS))
def test_cancel_takes_effect_while_get_data_runs(submit, tmp_path, how):
    run = submit(data_script=str(loading_script(tmp_path, how)))
    child = loading(tmp_path, run)
    run.cancel()
    run.wait_for_completion(timeout=60)
    assert run.get_status() == "Canceled"
    assert run.get_details()["stopReason"] == "canceled"
    assert until(lambda: not liveness.alive(run.folder))
    assert until(lambda: gone(child))  # what get_data() started goes with the driver
    assert run.iterations == []
    kinds = [e["event"] for e in events(run)]
    assert kinds == ["run_started", "cancel_requested", "run_finished"]


def test_experiment_timeout_bounds_data_loading(submit, tmp_path):
    run = submit(data_script=str(loading_script(tmp_path, "sleeping")),
                 experiment_timeout_minutes=0.02)
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Failed"
    details = run.get_details()
    assert "experiment_timeout_minutes=0.02" in details["error"]
    assert "still loading" in details["error"]
    assert details["stopReason"] == "experiment_timeout"
    assert until(lambda: not liveness.alive(run.folder))


# ---- iterations end with the run (defect 8) -------------------------------------------

def test_an_iteration_killed_from_outside_fails_alone(submit, monkeypatch):
    run = hanging(submit, monkeypatch, 1, iterations=3)
    driver = psutil.Process(liveness.recorded(run.folder)["pid"])
    # killed once it has begun, not as it forks: its log must show it ran
    assert run.wait_until(logged(run, 1, "hanging on purpose"), timeout=120)
    for worker in driver.children():  # iteration 1, killed as the OOM killer would
        worker.send_signal(signal.SIGKILL)
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Completed"
    assert statuses(run) == {0: "Completed", 1: "Failed", 2: "Completed"}
    assert reasons(run)[1] == "the iteration process was killed by SIGKILL"
    log = run.get_children()[1].get_log()
    assert "hanging on purpose" in log and "Failed: the iteration process was killed" in log


def test_a_sigkilled_driver_ends_its_running_iteration_as_failed(submit, ws, monkeypatch):
    run = hanging(submit, monkeypatch, 1, iterations=3)
    driver = psutil.Process(liveness.recorded(run.folder)["pid"])
    assert until(driver.children)  # iteration 1's process: forked just after it is shown
    workers = driver.children()
    driver.send_signal(signal.SIGKILL)
    assert run.wait_until(lambda r: r.state.finished, timeout=60)
    assert run.get_status() == "Failed"
    assert "driver process ended without finishing" in run.get_details()["error"]
    children = run.get_children()
    assert [c.get_status() for c in children] == ["Completed", "Failed"]
    assert "driver process ended without finishing" in children[1].get_properties()["reason"]
    assert until(lambda: all(gone(w.pid) for w in workers))  # they die with the driver
    # Another reader, from nothing, concludes the same; what was recorded is all there.
    again = AutoMLRun(Experiment(ws, "test"), run.id)
    assert again.get_status() == "Failed"
    assert statuses(again) == {0: "Completed", 1: "Failed"}
    assert again.get_output()[0].number == 0


def test_a_failing_driver_ends_its_running_iterations_and_the_run(submit, monkeypatch):
    monkeypatch.setenv(FAULTS, "0=hang,1=driver-error")
    run = submit(iterations=4, concurrent_iterations=2)
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Failed"
    details = run.get_details()
    assert details["error"].startswith("OSError: [Errno 5] injected I/O error in the driver")
    assert details["stopReason"] == "driver_error"
    assert statuses(run) == {0: "Failed"}
    assert reasons(run)[0].startswith("the driver failed (OSError: [Errno 5]")
    assert finished_once(run) == [0]
    assert "[automl-widgets] Failed: the driver failed" in run.get_children()[0].get_log()
    assert until(lambda: not liveness.alive(run.folder))
    assert "injected I/O error" in open(details["logFiles"]["driver"]).read()


# ---- an iteration that cannot write fails alone (defect 10) ---------------------------

def test_a_full_disk_for_one_iteration_fails_that_iteration_only(submit, monkeypatch):
    monkeypatch.setenv(FAULTS, "1=disk-full")
    run = submit(iterations=4)
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Completed"
    assert statuses(run) == {0: "Completed", 1: "Failed", 2: "Completed", 3: "Completed"}
    assert reasons(run)[1] == "OSError: [Errno 28] No space left on device"
    assert run.get_children()[1].get_log() == ""  # nothing reached it; nothing else broke
    assert finished_once(run) == [0, 1, 2, 3]


def test_an_iteration_folder_that_cannot_be_written_fails_that_iteration_only(
        submit, monkeypatch):
    run = hanging(submit, monkeypatch, 0, iterations=4)
    # Iteration 1 has not started (one at a time): a file where its folder goes makes
    # every write there fail, as a read-only folder would, for it and for the driver.
    with open(os.path.join(run.folder, "iterations", "1"), "w") as f:
        f.write("not a folder")
    run.cancel_iteration(0)
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Completed"
    assert statuses(run) == {0: "Canceled", 1: "Failed", 2: "Completed", 3: "Completed"}
    assert "could not write its log or result" in reasons(run)[1]
    assert "Not a directory" in open(run.get_details()["logFiles"]["driver"]).read()
    assert finished_once(run) == [0, 1, 2, 3]


# ---- a run with no completed iteration fails, saying why (defect 13) ------------------

@pytest.mark.parametrize("faults, settings, why", [
    ("0=raise,1=raise,2=raise", {},
     "the first failure was iteration 0: RuntimeError: injected failure"),
    ("0=hang,1=hang", {"iterations": 2, "max_time_sec": 1},
     "the first failure was iteration 0: exceeded max_time_sec=1"),
    ("0=hang", {"experiment_timeout_minutes": 0.1},
     "experiment_timeout_minutes=0.1 was reached before any iteration completed"),
])
def test_a_run_whose_every_iteration_failed_ends_failed_with_the_first_reason(
        submit, ws, monkeypatch, faults, settings, why):
    monkeypatch.setenv(FAULTS, faults)
    run = submit(**{"iterations": 3, **settings})
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Failed"
    assert why in run.get_details()["error"]
    assert "Completed" not in statuses(run).values()
    assert Experiment(ws, "test").get_runs()[0].get_status() == "Failed"


# ---- ensembles keep their members and weights (defect 19) ----------------------------

def test_ensembles_show_their_members_and_weights(submit, ws):
    run = submit(iterations=6, enable_ensembling=True, ensemble_iterations=5)
    run.wait_for_completion(timeout=300)
    assert run.get_status() == "Completed"
    for reader in (run, AutoMLRun(Experiment(ws, "test"), run.id)):
        *searched, voting, stack = reader.get_children()
        assert voting.get_properties()["pipeline"] == "VotingEnsemble"
        assert stack.get_properties()["pipeline"] == "StackEnsemble"
        members = {c.number for c in searched if c.get_status() == "Completed"}
        params = voting.get_properties()["params"]
        assert set(params["ensembled_iterations"]) <= members
        assert len(params["weights"]) == len(params["ensembled_iterations"])
        # one per step of ensemble selection, up to its best step of the 5
        assert 1 <= sum(params["weights"]) <= 5
        stacked = stack.get_properties()["params"]["stacked_iterations"]
        assert stacked and set(stacked) <= members
