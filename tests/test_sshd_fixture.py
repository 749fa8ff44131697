"""The SSH test infrastructure itself: a real sshd (tests/sshd.py, fixtures in conftest_ssh.py)."""
import os
import socket
import tempfile
import time

import paramiko
import pytest
from sshd import PYTHON, SYSTEM_PATH


def client_for(sshd, known_hosts, port=None, **auth):
    """A paramiko client that checks the host key against a known_hosts file and nothing else."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    auth = auth or {"key_filename": sshd.key_path}
    client.connect(sshd.host, port=port or sshd.port, username=sshd.username,
                   look_for_keys=False, allow_agent=False, timeout=10, banner_timeout=10,
                   auth_timeout=10, **auth)
    return client


def execute(client, command, timeout=30):
    _, out, err = client.exec_command(command, timeout=timeout)
    text = out.read().decode()
    return out.channel.recv_exit_status(), text, err.read().decode()


@pytest.fixture
def known_hosts(sshd, tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line() + "\n")
    return path


def test_key_login_with_the_host_key_checked(sshd, known_hosts, tmp_path):
    assert sshd.host == "127.0.0.1" and sshd.port > 0
    assert sshd.known_hosts_line().startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    assert sshd.known_hosts_line().split()[1:] == sshd.host_key_public.split()
    client = client_for(sshd, known_hosts)
    try:
        assert execute(client, "whoami") == (0, sshd.username + "\n", "")
    finally:
        client.close()
    assert sshd.run("whoami") == (0, sshd.username + "\n", "")

    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        client_for(sshd, empty).close()
    other = paramiko.Ed25519Key.from_private_key_file(sshd.key_path)   # not the host key
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 {other.get_base64()}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        client_for(sshd, wrong).close()


def test_password_authentication(sshd, known_hosts):
    assert sshd.password
    client = client_for(sshd, known_hosts, password=sshd.password)
    try:
        assert execute(client, "whoami")[1] == sshd.username + "\n"
    finally:
        client.close()
    with pytest.raises(paramiko.AuthenticationException):
        client_for(sshd, known_hosts, password=sshd.password + "x").close()


def test_the_user_has_a_bare_system_python_and_the_plain_path(sshd):
    code, out, err = sshd.run('echo "$PATH"; command -v python3; '
                              'python3 -c "import sys; print(sys.executable)"')
    assert (code, err) == (0, "")
    assert out.splitlines() == [SYSTEM_PATH, PYTHON, PYTHON]
    code, _, err = sshd.run('python3 -c "import sklearn"')
    assert code != 0 and "No module named 'sklearn'" in err
    assert sshd.run('python3 -c "import numpy"')[0] != 0
    # what prepare() needs on a bare host: venv and pip of the distribution
    assert sshd.run("python3 -m venv --help")[0] == 0
    code, out, _ = sshd.run("python3 -m pip --version")
    assert code == 0 and "/usr/lib/python3/dist-packages/pip" in out
    # the project's venv (its python lives under root's pyenv) is out of reach
    venv_python = os.path.join(os.path.dirname(os.path.dirname(__file__)), ".venv", "bin",
                               "python")
    if os.path.exists(venv_python):
        assert sshd.run([venv_python, "-c", "pass"])[0] != 0


def test_the_user_cannot_read_the_tests_files_but_owns_its_home(sshd, tmp_path):
    private = tempfile.mkdtemp(prefix="automl-private-")
    try:
        assert os.stat(private).st_mode & 0o777 == 0o700
        secret = os.path.join(private, "secret")
        with open(secret, "w") as f:
            f.write("s3cret\n")
        os.chmod(secret, 0o644)    # readable by all, but the folder is not traversable
        (tmp_path / "secret").write_text("s3cret\n")
        for command in (["ls", private], ["cat", secret], ["cat", str(tmp_path / "secret")],
                        ["cat", sshd.key_path], ["ls", os.path.dirname(sshd.key_path)]):
            code, out, err = sshd.run(command)
            assert code != 0 and "s3cret" not in out, command
            assert "Permission denied" in err, (command, err)
    finally:
        os.unlink(secret)
        os.rmdir(private)
    code, out, _ = sshd.run('stat -c "%U %a" "$HOME" "$HOME/.ssh" "$HOME/.ssh/authorized_keys"; '
                            'touch "$HOME/mine" && echo ok; id -u')
    assert code == 0
    lines = out.splitlines()
    assert lines[:4] == [f"{sshd.username} 700", f"{sshd.username} 700",
                         f"{sshd.username} 600", "ok"]
    assert int(lines[4]) == sshd.uid != 0


def test_the_relay_forwards_and_silence_makes_reads_time_out(sshd, relay, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line(port=relay.port) + "\n")
    client = client_for(sshd, known, port=relay.port)
    try:
        transport = client.get_transport()
        channel = transport.open_session(timeout=10)
        channel.settimeout(1.0)
        channel.exec_command("cat")
        channel.sendall(b"ping\n")
        assert channel.recv(100) == b"ping\n"

        relay.silence()
        channel.sendall(b"again\n")       # accepted by the kernel: nothing looks wrong
        started = time.monotonic()
        with pytest.raises(socket.timeout):
            channel.recv(100)
        assert 0.9 < time.monotonic() - started < 10
        transport.send_ignore()           # a keepalive does not notice either
        assert transport.is_active() and relay.connections == 1

        # a new connection while silent is accepted but gets no banner (a black hole)
        with socket.create_connection((sshd.host, relay.port), timeout=5) as raw:
            raw.settimeout(1.0)
            with pytest.raises(socket.timeout):
                raw.recv(100)

        relay.resume()                    # new connections go through again
        assert sshd.run("echo back", port=relay.port) == (0, "back\n", "")
        channel.settimeout(0.5)
        with pytest.raises(socket.timeout):
            channel.recv(100)             # the silenced link stays silent
    finally:
        client.close()


def test_killing_the_session_processes_drops_an_open_connection(sshd, known_hosts):
    client = client_for(sshd, known_hosts)
    try:
        transport = client.get_transport()
        channel = transport.open_session(timeout=10)
        channel.settimeout(10.0)
        channel.exec_command("echo started; sleep 60")
        assert channel.recv(100) == b"started\n"
        assert sshd.kill_sessions()
        deadline = time.monotonic() + 10
        while transport.is_active() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not transport.is_active()
        assert channel.recv(100) == b""   # the command's output ends with the link
    finally:
        client.close()
    assert sshd.run("echo still listening") == (0, "still listening\n", "")


def test_restart_keeps_port_and_host_key_and_open_sessions(sshd, known_hosts):
    client = client_for(sshd, known_hosts)
    try:
        port, pid = sshd.port, sshd.proc.pid
        sshd.restart()
        assert sshd.port == port and sshd.proc.pid != pid
        assert execute(client, "echo old")[1] == "old\n"
        fresh = client_for(sshd, known_hosts)
        assert execute(fresh, "echo new")[1] == "new\n"
        fresh.close()
    finally:
        client.close()
