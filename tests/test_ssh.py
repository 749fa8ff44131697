"""SSH targets against a real OpenSSH server on 127.0.0.1 (see sshd.py, conftest_ssh.py)."""
import base64
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import paramiko
import pytest
from helpers import events, finished_once, running

from automl_widgets import (
    AutoMLConfig,
    AutoMLRun,
    ComputeTargetException,
    Experiment,
    RunConfiguration,
)
from automl_widgets.compute import SSHCompute, SSHError
from automl_widgets.compute.ssh import fingerprint
from automl_widgets.engine.faults import VARIABLE as FAULTS

GET_DATA = textwrap.dedent("""
    from sklearn.datasets import load_breast_cancer
    def get_data():
        X, y = load_breast_cancer(return_X_y=True)
        return {"X": X, "y": y}
""")


def trusted(ws, sshd, name="mydsvm", **kw):
    settings = dict(address=sshd.host, port=sshd.port, username=sshd.username,
                    ssh_key=sshd.key_path)
    settings.update(kw)
    vm = SSHCompute.attach(ws, name, **settings)
    with open(vm.known_hosts_file, "a") as f:
        f.write(sshd.known_hosts_line() + "\n")
    return vm


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "get_data.py").write_text(GET_DATA)
    return folder


@pytest.fixture
def vm(ws, sshd):
    target = trusted(ws, sshd)
    target.prepare()
    return target


def remote_config(vm, project, **settings):
    base = dict(task="classification", iterations=4, n_cross_validations=2,
                enable_ensembling=False, random_state=0, data_script="get_data.py",
                path=str(project), run_configuration=RunConfiguration(vm),
                whitelist_models=["LogisticRegression", "DecisionTree", "SGD"])
    base.update(settings)
    return AutoMLConfig(**base)


def test_target_names_follow_the_rule_and_no_secret_is_stored(ws, sshd):
    # the classic rules: at most 64 characters, none of ` ~ ! @ # ... _ ... / ?
    for bad in ("", "my_dsvm", "has space", "a" * 65, "semi;colon", "a/b", None):
        with pytest.raises(ComputeTargetException, match="1 to 64 characters, none of"):
            SSHCompute.attach(ws, bad, address=sshd.host, username=sshd.username)
    with pytest.raises(ComputeTargetException, match="No SSH compute target 'x'"):
        SSHCompute(ws, "x")   # a good name, and nothing attached under it
    SSHCompute.attach(ws, "pw-box", address=sshd.host, port=sshd.port,
                      username=sshd.username, password=sshd.password)
    stored = ws.load_target("pw-box")
    assert sshd.password not in repr(stored)
    with open(os.path.join(ws.data_dir, "index.sqlite"), "rb") as f:
        assert sshd.password.encode() not in f.read()
    with pytest.raises(SSHError, match="No SSH compute target 'nothere'"):
        SSHCompute(ws, "nothere")


def sshd_log_of(sshd, offset, n=1, timeout=10):
    """What sshd logged about the first `n` connections after `offset`, once all closed."""
    deadline = time.monotonic() + timeout
    while True:
        text = sshd.log()[offset:]
        ports = re.findall(r"Connection from \S+ port (\d+) ", text)[:n]
        lines = [line for line in text.splitlines()
                 if any(re.search(rf"port {p}\b", line) for p in ports)]
        closed = sum("[preauth]" in line for line in lines)
        if (len(ports), closed) == (n, n) or time.monotonic() > deadline:
            return "\n".join(lines)


def test_unknown_host_is_refused_with_the_fingerprint_and_the_call_to_trust_it(ws, sshd):
    vm = SSHCompute.attach(ws, "fresh", address=sshd.host, port=sshd.port,
                           username=sshd.username, password=sshd.password)
    with pytest.raises(SSHError) as err:
        vm.prepare()
    message = str(err.value)
    assert "not known" in message and "SHA256:" in message
    fp = message.split("trust_host('")[1].split("'")[0]
    offset = len(sshd.log())
    with pytest.raises(SSHError, match="nothing was trusted"):
        vm.trust_host("SHA256:not-the-key")
    vm.trust_host(fp)
    # Only key exchanges reached the unverified host: no login attempt, no password.
    log = sshd_log_of(sshd, offset, n=2)
    assert log.count("[preauth]") == 2, log
    assert "Failed" not in log and "authenticating user" not in log, log
    assert "Accepted" not in log, log
    vm.trust_host(fp)  # already trusted with that key: nothing to do
    with open(vm.known_hosts_file) as f:
        assert f.read().count(sshd.host_key_public) == 1
    code, out, _ = vm.run(["whoami"])
    assert (code, out.strip()) == (0, sshd.username)


def test_a_changed_host_key_is_always_refused(ws, sshd):
    vm = SSHCompute.attach(ws, "changed", address=sshd.host, port=sshd.port,
                           username=sshd.username, password=sshd.password)
    other = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            os.path.join(ws.data_dir, "other_key")], check=True)
    assert other.returncode == 0
    pub = open(os.path.join(ws.data_dir, "other_key.pub")).read().split()
    wrong_line = f"[{sshd.host}]:{sshd.port} {pub[0]} {pub[1]}\n"
    with open(vm.known_hosts_file, "w") as f:
        f.write(wrong_line)
    known = paramiko.Ed25519Key(data=base64.b64decode(pub[1]))
    offered = paramiko.Ed25519Key(data=base64.b64decode(sshd.host_key_public.split()[1]))
    old, new = fingerprint(known), fingerprint(offered)
    with pytest.raises(SSHError, match="has CHANGED") as err:
        vm.run(["true"])
    assert old in str(err.value) and new in str(err.value)
    # trust_host() refuses too, even given the new fingerprint, naming both keys; it sends
    # no password to the host whose key changed.
    offset = len(sshd.log())
    with pytest.raises(SSHError, match="has CHANGED") as err:
        vm.trust_host(new)
    assert old in str(err.value) and new in str(err.value)
    assert "no credential was sent" in str(err.value)
    log = sshd_log_of(sshd, offset)
    assert log.count("[preauth]") == 1, log
    assert "Failed" not in log and "authenticating user" not in log, log
    with open(vm.known_hosts_file) as f:
        assert f.read() == wrong_line


def test_wrong_key_unreachable_port_and_bad_python_give_clear_errors(ws, sshd, tmp_path):
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)],
                   check=True)
    with pytest.raises(SSHError, match="Authentication as"):
        trusted(ws, sshd, "wrongkey", ssh_key=str(wrong)).run(["true"])
    with pytest.raises(SSHError, match="Cannot reach 127.0.0.1:1 over SSH"):
        SSHCompute.attach(ws, "noport", address="127.0.0.1", port=1,
                          username=sshd.username, ssh_key=sshd.key_path).run(["true"])
    with pytest.raises(SSHError) as err:
        trusted(ws, sshd, "badpython", python_path="/usr/bin/python-nope").prepare()
    assert "does not run" in str(err.value) and "python_path" in str(err.value)


def test_prepare_builds_the_environment_once_and_an_injection_is_harmless(ws, sshd):
    vm = trusted(ws, sshd)
    env = vm.prepare(progress=lambda line: None)
    assert env["python"].endswith("/bin/python")
    lines = []
    assert vm.prepare(progress=lines.append) == env
    assert lines == []  # nothing to do the second time
    code, out, _ = vm.run([env["python"], "-c", "import sklearn; print(sklearn.__version__)"])
    import sklearn
    assert (code, out.strip()) == (0, sklearn.__version__)
    # An environment broken by hand (scikit-learn removed) is found out and repaired.
    code, _, err = vm.run([env["python"], "-m", "pip", "uninstall", "-y", "-q", "scikit-learn"])
    assert code == 0, err
    assert vm.prepare(progress=lines.append) == env
    assert any("lacks scikit-learn==" in line and "repairing" in line for line in lines), lines
    code, out, _ = vm.run([env["python"], "-c", "import sklearn; print(sklearn.__version__)"])
    assert (code, out.strip()) == (0, sklearn.__version__)
    evil = "x'; touch /tmp/pwned-$(whoami); echo '"
    code, out, _ = vm.run(["echo", evil])
    assert out.strip() == evil
    assert not os.path.exists(f"/tmp/pwned-{sshd.username}")


def test_a_whole_remote_run(ws, vm, project, capsys):
    run = Experiment(ws, "automl_remote").submit(remote_config(vm, project), show_output=True)
    out = capsys.readouterr().out
    assert out.startswith("Running on remote compute: mydsvm")
    assert run.get_status() == "Completed"
    assert finished_once(run) == [0, 1, 2, 3]
    child, model = run.get_output()
    assert type(model).__name__ == "Pipeline"
    assert "Pipeline:" in child.get_log()
    remote = vm.run(["stat", "-c", "%a", os.path.dirname(run.get_details()["remoteFolder"])])
    assert remote[1].strip() == "700"


def weighted_recall_of_class_0(y_true, y_pred):
    """A metric of the test's own: the remote has no such module, so it travels by value."""
    import numpy as np
    sick = np.asarray(y_true) == 0
    return float((np.asarray(y_pred)[sick] == 0).mean())


def test_a_custom_metric_on_the_remote(ws, vm, project):
    from sklearn.metrics import make_scorer
    run = Experiment(ws, "automl_remote").submit(remote_config(
        vm, project, primary_metric=make_scorer(weighted_recall_of_class_0)))
    run.wait_for_completion()
    assert run.get_status() == "Completed", run.error
    assert run.spec["primary_metric"] == "weighted_recall_of_class_0"
    scores = [r["metrics"]["weighted_recall_of_class_0"] for r in run.iterations]
    assert all(0 < s <= 1 for s in scores) and run.best["score"] == max(scores)


def test_feature_importance_is_a_job_on_the_remote(ws, vm, project):
    run = Experiment(ws, "automl_remote").submit(remote_config(vm, project))
    run.wait_for_completion()
    child = run.get_children()[run.best["iteration"]]
    fi = child.get_feature_importance(max_seconds=30)
    assert len(fi) == 30 and fi["importance"].iloc[0] >= fi["importance"].iloc[-1]
    # it ran there, and its result came back here
    remote = run.get_details()["remoteFolder"]
    code, _, err = vm.run(["test", "-s", f"{remote}/iterations/{child.number}/importance.json"])
    assert code == 0, err


def test_cancel_an_iteration_and_survive_a_killed_link(ws, vm, project, sshd, monkeypatch):
    monkeypatch.setenv(FAULTS, "1=hang")
    run = Experiment(ws, "remote_cancel").submit(remote_config(vm, project))
    assert run.wait_until(running(1), timeout=120)
    sshd.kill_sessions()          # the link drops; the run goes on over there
    run.cancel_iteration(1)
    run.wait_for_completion(timeout=300)
    assert run.get_status() == "Completed"
    assert {r["iteration"]: r["status"] for r in run.iterations} == {
        0: "Completed", 1: "Canceled", 2: "Completed", 3: "Completed"}
    assert finished_once(run) == [0, 1, 2, 3]
    seqs = [e["seq"] for e in events(run)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_silent_link_is_noticed_and_the_run_catches_up(ws, sshd, project, monkeypatch):
    from sshd import Relay
    relay = Relay(sshd.port)
    try:
        vm = trusted(ws, sshd, "relayed", port=relay.port)
        with open(vm.known_hosts_file, "a") as f:
            f.write(sshd.known_hosts_line(port=relay.port) + "\n")
        vm.prepare(progress=lambda line: None)
        monkeypatch.setenv(FAULTS, "1=hang")
        run = Experiment(ws, "silent").submit(remote_config(vm, project, max_time_sec=20))
        assert run.wait_until(running(1), timeout=120)
        relay.silence()
        assert run.wait_until(lambda r: r.link.startswith("reconnecting"), timeout=60)
        relay.resume()
        run.wait_for_completion(timeout=300)
        assert run.get_status() == "Completed", (run.get_details(), run.link)
        assert finished_once(run) == [0, 1, 2, 3]
    finally:
        relay.close()


def test_kill_the_submitter_and_reattach_from_a_new_process(ws, vm, project):
    script = textwrap.dedent(f"""
        import sys
        from automl_widgets import AutoMLConfig, Experiment, RunConfiguration, Workspace
        from automl_widgets.compute import SSHCompute
        ws = Workspace.from_config({ws.path!r})
        run = Experiment(ws, "remote_detached").submit(AutoMLConfig(
            task="classification", iterations=4, n_cross_validations=2,
            enable_ensembling=False, random_state=0, data_script="get_data.py",
            path={str(project)!r}, max_time_sec=4,
            run_configuration=RunConfiguration(SSHCompute(ws, "mydsvm"))))
        print(run.id, flush=True)
        run.wait_for_completion()
    """)
    env = dict(os.environ, **{FAULTS: "2=hang"})
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=env)
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    run = AutoMLRun(Experiment(ws, "remote_detached"), run_id)
    run.wait_for_completion(timeout=300)
    assert run.get_status() == "Completed"
    assert finished_once(run) == [0, 1, 2, 3]
    assert run.iterations[2]["status"] == "TimedOut"


def test_prepare_uploads_wheels_when_the_remote_reaches_no_package_index(ws, monkeypatch):
    from sshd import SSHServer
    monkeypatch.setenv("AUTOML_SSH_TEST_USER", "automl-ssh-noindex")
    server = SSHServer(setenv={"PIP_NO_INDEX": "1"}).start()
    try:
        vm = trusted(ws, server, "offline")
        lines = []
        env = vm.prepare(progress=lines.append)
        assert any("uploading wheels from this machine" in line for line in lines), lines
        code, out, _ = vm.run([env["python"], "-c", "import sklearn, numpy; print('ok')"])
        assert (code, out.strip()) == (0, "ok")
    finally:
        server.stop()


def test_an_ssh_config_alias_gives_host_port_user_and_key(ws, sshd, monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        f"Host mybox\n  HostName {sshd.host}\n  Port {sshd.port}\n  User {sshd.username}\n"
        f"  IdentityFile {sshd.key_path}\n")
    monkeypatch.setenv("HOME", str(home))
    vm = SSHCompute.attach(ws, "alias-box", address="mybox")
    assert (vm.address, vm.port, vm.username, vm.ssh_key) == (
        sshd.host, sshd.port, sshd.username, sshd.key_path)
    with open(vm.known_hosts_file, "a") as f:
        f.write(sshd.known_hosts_line() + "\n")
    assert vm.run(["whoami"])[1].strip() == sshd.username


def test_password_and_ssh_agent_logins(ws, sshd, tmp_path):
    vm = SSHCompute.attach(ws, "pw-login", address=sshd.host, port=sshd.port,
                           username=sshd.username, password=sshd.password)
    with open(vm.known_hosts_file, "a") as f:
        f.write(sshd.known_hosts_line() + "\n")
    assert vm.run(["whoami"])[1].strip() == sshd.username
    agent = subprocess.run(["ssh-agent", "-s", "-a", str(tmp_path / "agent.sock")],
                           capture_output=True, text=True, check=True)
    pid = int(agent.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        env = dict(os.environ, SSH_AUTH_SOCK=str(tmp_path / "agent.sock"))
        subprocess.run(["ssh-add", sshd.key_path], env=env, check=True, capture_output=True)
        os.environ["SSH_AUTH_SOCK"] = env["SSH_AUTH_SOCK"]
        by_agent = SSHCompute.attach(ws, "agent-login", address=sshd.host, port=sshd.port,
                                     username=sshd.username)
        assert by_agent.run(["whoami"])[1].strip() == sshd.username
    finally:
        os.environ.pop("SSH_AUTH_SOCK", None)
        os.kill(pid, signal.SIGTERM)


def test_the_panel_server_follows_and_cancels_a_remote_run_with_no_kernel(
        ws, vm, project, tmp_path, monkeypatch):
    """The JupyterLab panel's server side (WorkspaceView) keeps a live SSH run mirrored by
    itself: the submitting Run stops following it, and the server's own Run object sees
    it through, including a cancel pushed to the remote."""
    from automl_widgets.server.view import WorkspaceView
    monkeypatch.setenv(FAULTS, "1=hang")
    submitted = Experiment(ws, "remote_panel").submit(remote_config(vm, project))
    submitted.close()   # no kernel-side sync from here on
    view = WorkspaceView(ws.path, str(tmp_path))
    try:
        served = view.run(submitted.id)
        assert served is not submitted
        assert served.wait_until(running(1), timeout=120)
        assert view.detail(submitted.id)["live"]
        view.cancel_iteration(submitted.id, 1)
        assert served.wait_until(lambda r: r.state.finished, timeout=300)
        detail = view.detail(submitted.id)
        assert detail["status"] == "Completed" and detail["done"] == 4
        assert {i["iteration"]: i["status"] for i in detail["iterations"]}[1] == "Canceled"
        assert "Pipeline:" in view.log(submitted.id, 0)["text"]
    finally:
        view.close()
