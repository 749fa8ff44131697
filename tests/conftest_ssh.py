"""Pytest plugin with the real-sshd fixtures; tests/conftest.py loads it with
``pytest_plugins = ["conftest_ssh"]``. The server itself is tests/sshd.py."""
import pytest
from sshd import Relay, SSHServer


@pytest.fixture(scope="session")
def sshd():
    """A real OpenSSH server on 127.0.0.1, for the whole session (see sshd.SSHServer).

    Attributes: host, port, username, password, key_path, host_key_public, known_hosts_file,
    home, uid, setup_seconds; methods: known_hosts_line(port=None), connect(), run(command),
    kill_sessions(), kill_user_processes(), restart(), log().
    """
    server = SSHServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def relay(sshd):
    """A loopback relay to the session's sshd, closed after the test (see sshd.Relay)."""
    with Relay(sshd.port) as r:
        yield r
