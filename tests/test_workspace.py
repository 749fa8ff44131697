"""Workspaces, re-attaching to runs, and submit(): on real folders, runs and drivers."""
import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
from helpers import events, hanging

from automl_widgets import AutoMLConfig, AutoMLRun, Experiment, RunConfiguration, Workspace
from automl_widgets.compute import SSHCompute, SSHError
from automl_widgets.config import ConfigError
from automl_widgets.engine.faults import VARIABLE as FAULTS
from automl_widgets.protocol import TERMINAL


def index_status(ws, run_id):
    return {row[0]: row[4] for row in ws.runs()}[run_id]


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---- issue 9, defect 1: re-attaching through another spelling of the path -------------

def test_a_live_run_reattached_through_a_symlink_is_running(ws, submit, tmp_path, monkeypatch):
    run = hanging(submit, monkeypatch, 0, iterations=2)
    link = tmp_path / "wslink"
    os.symlink(ws.path, link)
    linked = Workspace.from_config(str(link))
    assert linked.path == ws.path   # one workspace, however its folder is spelt
    again = AutoMLRun(Experiment(linked, "test"), run.id)  # its first look checks the driver
    assert again.get_status() == "Running" and again.error is None
    assert Workspace.from_config(str(link / ".automl")).find_run(run.id).get_status() == "Running"
    assert index_status(ws, run.id) not in TERMINAL
    again.cancel()
    again.wait_for_completion(timeout=60)
    assert again.get_status() == "Canceled"
    assert index_status(ws, run.id) == "Canceled"   # the driver's own word, recorded


def test_a_readers_guess_is_shown_but_never_written_to_the_index(ws, submit, monkeypatch):
    run = hanging(submit, monkeypatch, 0, iterations=2)
    os.kill(run.target.driver_pid(run.folder), signal.SIGKILL)
    assert run.wait_until(lambda r: r.status == "Failed", timeout=60)
    assert "driver process ended without finishing" in run.get_details()["error"]
    fresh = ws.find_run(run.id)
    assert fresh.get_status() == "Failed"
    # No driver wrote an end, so the index still has what submit() wrote.
    assert "run_finished" not in [e["event"] for e in events(run)]
    assert index_status(ws, run.id) == "NotStarted"


# ---- issue 9, defect 7: wait_for_completion(show_output=True, timeout=...) ------------

@pytest.mark.timeout(120)
def test_wait_for_completion_with_output_returns_at_the_timeout(submit, monkeypatch, capsys):
    monkeypatch.setenv(FAULTS, "0=hang")
    run = submit(iterations=2)
    try:
        details = run.wait_for_completion(show_output=True, timeout=1)
        assert details["runId"] == run.id and details["status"] not in TERMINAL
        out = capsys.readouterr().out
        assert f"Parent Run ID: {run.id}" in out
        assert f"Stopped waiting after 1 s; run {run.id} goes on (" in out
    finally:
        run.cancel()
    assert run.wait_for_completion(timeout=60)["status"] == "Canceled"


# ---- issue 9, defect 9: only our own config.json is a workspace -----------------------

FOREIGN = {
    "other tool": json.dumps({"workspace_name": "theirs", "path": "/"}),
    "classic cloud": json.dumps({"subscription_id": "s", "resource_group": "r",
                                 "workspace_name": "w"}),
    "list": "[1, 2]",
    "not json": "name = x\n",
}


@pytest.mark.parametrize("text", FOREIGN.values(), ids=FOREIGN)
def test_a_config_json_that_is_not_ours_is_passed_by_and_nothing_is_created(tmp_path, text):
    (tmp_path / "config.json").write_text(text)
    (tmp_path / "sub").mkdir()
    before = tree(tmp_path)
    with pytest.raises(ConfigError, match="No workspace config.json found") as info:
        Workspace.from_config(str(tmp_path / "sub"))
    assert f"Passed by {tmp_path / 'config.json'}: " in str(info.value)
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'config.json'} is not an "
                                                    "automl-widgets workspace config: ")):
        Workspace.from_config(str(tmp_path / "config.json"))   # named: refused
    with pytest.raises(ConfigError, match="holds no workspace"):
        Workspace(str(tmp_path))
    assert tree(tmp_path) == before


def test_a_foreign_config_json_inside_a_workspace_neither_hides_nor_moves_it(ws, tmp_path):
    elsewhere = Workspace.create(tmp_path / "elsewhere")
    project = tmp_path / "ws" / "project"
    (project / "src").mkdir(parents=True)
    (project / "config.json").write_text(json.dumps({"path": elsewhere.path}))
    assert Workspace.from_config(str(project / "src")).path == ws.path


def test_a_pointer_config_json_of_ours_leads_to_the_workspace(ws, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text(json.dumps({"automl_widgets": 1, "path": "../ws"}))
    assert Workspace.from_config(str(project)).path == ws.path
    (project / "config.json").write_text(json.dumps({"automl_widgets": 1, "path": 3}))
    with pytest.raises(ConfigError, match=r"The 'path' key of workspace config .*config.json "
                                          r"must be a non-empty str .* Got 3 instead\."):
        Workspace.from_config(str(project))
    (project / "config.json").write_text(json.dumps({"automl_widgets": 1}))
    with pytest.raises(ConfigError, match=re.escape(f"names the folder {project}, which "
                                                    "holds no workspace")):
        Workspace.from_config(str(project))
    assert tree(project) == ["config.json"]


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", '{"workspace_name": 5}'])
def test_a_damaged_workspace_config_is_a_clear_error_not_the_workspace_above(tmp_path, text):
    Workspace.create(tmp_path)
    inner = Workspace.create(tmp_path / "inner")
    config = os.path.join(inner.data_dir, "config.json")
    with open(config, "w") as f:
        f.write(text)
    with pytest.raises(ConfigError, match=re.escape(f"workspace config {config}")):
        Workspace.from_config(str(tmp_path / "inner"))
    with pytest.raises(ConfigError, match=re.escape(f"workspace config {config}")):
        Workspace.create(tmp_path / "inner")   # nor is it overwritten


def test_create_marks_its_config_and_a_workspace_from_before_the_mark_still_opens(tmp_path):
    ws = Workspace.create(tmp_path / "ws", name="mine")
    with open(os.path.join(ws.data_dir, "config.json")) as f:
        assert json.load(f) == {"automl_widgets": 1, "workspace_name": "mine"}
    assert Workspace.create(tmp_path / "ws").name == "mine"   # reopened as it is
    with open(os.path.join(ws.data_dir, "config.json"), "w") as f:
        json.dump({"workspace_name": "old"}, f)   # as Workspace.create wrote it before
    assert Workspace.from_config(str(tmp_path / "ws" / ".automl")).name == "old"


# ---- issue 9, defect 11: a submit() that fails partway ---------------------------------

FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    import numpy as np
    from automl_widgets import AutoMLConfig, Experiment, Workspace
    ws = Workspace.from_config(sys.argv[1])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 50))   # 1.6 MB: data.joblib does not fit
    config = AutoMLConfig(task="classification", X=X, y=(X[:, 0] > 0).astype(int),
                          iterations=2, n_cross_validations=2, random_state=0)
    # Files may not grow past 1 MB: writes past it fail with EFBIG, as on a full disk.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, resource.RLIM_INFINITY))
    try:
        Experiment(ws, "full").submit(config)
    except OSError as exc:
        print(exc.errno)
""")


def test_a_submit_that_fails_writing_the_run_folder_raises_and_leaves_nothing(ws):
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, ws.path], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(errno.EFBIG)]   # the original error reached the caller
    assert ws.runs() == [] and os.listdir(ws.runs_dir) == []


def test_a_submit_whose_target_cannot_start_raises_and_records_the_run_failed(ws, cancer):
    with socket.socket() as s:   # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = SSHCompute.attach(ws, "nowhere", address="127.0.0.1", port=port, username="u")
    X, y = cancer
    config = AutoMLConfig(task="classification", X=X, y=y, iterations=2, random_state=0,
                          run_configuration=RunConfiguration(target=target))
    with pytest.raises(SSHError, match=f"Cannot reach 127.0.0.1:{port}") as info:
        Experiment(ws, "unreachable").submit(config)
    [(run_id, experiment, _, target_name, status)] = ws.runs()
    assert (experiment, target_name, status) == ("unreachable", "nowhere", "Failed")
    assert f"Run {run_id} is recorded as Failed with this error." in info.value.__notes__
    run = ws.find_run(run_id)
    assert run.get_status() == "Failed" and run._thread is None   # ended: nothing to follow
    error = run.get_details()["error"]
    assert error.startswith("Starting the driver on target 'nowhere' failed: SSHError: "
                            f"Cannot reach 127.0.0.1:{port}")
    assert [e["event"] for e in events(run)] == ["run_finished"]



def test_an_experiment_name_with_a_trailing_newline_is_refused(ws):
    with pytest.raises(ConfigError, match="Experiment name 'abc\\\\n' is not valid"):
        Experiment(ws, "abc\n")
