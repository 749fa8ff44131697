"""SSHCompute: a Linux machine reached over SSH (paramiko) as a compute target.

Host keys are verified: against the user's ~/.ssh/known_hosts and the workspace's own
.automl/known_hosts. An unknown host is refused with its fingerprint and the one call that
trusts it; a changed key is always refused. Remote commands are lists of words joined with
shlex quoting, never strings pasted together. Passwords stay in memory only.
"""
from __future__ import annotations

import base64
import hashlib
import os
import shlex

from ..protocol import REMOTE, request
from .base import ComputeTargetException, cancel_request, check_name

CONNECT_TIMEOUT = 15


class SSHError(ComputeTargetException):
    """An SSH target could not be reached or used; the message says what to do."""


class UnknownHostError(SSHError):
    pass


def fingerprint(key) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _host_id(host, port):
    return host if port == 22 else f"[{host}]:{port}"


class _Refuse:
    """paramiko policy for a host with no known key: refuse, saying how to trust it."""

    def __init__(self, target):
        self.target = target

    def missing_host_key(self, client, hostname, key):
        fp = fingerprint(key)
        raise UnknownHostError(
            f"The host key of {hostname} is not known, so the connection was refused. "
            f"Its {key.get_name()} key has fingerprint {fp}. If that is the key of your "
            f"machine, trust it with: SSHCompute(ws, {self.target.name!r})"
            f".trust_host({fp!r})")


def _prefer(transport, keytype):
    """Ask for the host key type we already know, as SSHClient.connect does."""
    options = transport.get_security_options()
    if keytype == "ssh-rsa":
        keytype = next((k for k in ("rsa-sha2-512", "rsa-sha2-256") if k in options.key_types),
                       keytype)
    if keytype in options.key_types:
        options.key_types = [keytype] + [k for k in options.key_types if k != keytype]


def _changed(target, key, known_key, outcome) -> str:
    return (f"The host key of {target.address}:{target.port} has CHANGED: it now offers "
            f"{key.get_name()} {fingerprint(key)}, but {known_key.get_name()} "
            f"{fingerprint(known_key)} is the one known; {outcome}. If the machine was really "
            "reinstalled, remove its old line from ~/.ssh/known_hosts and "
            f"{target.known_hosts_file}, then trust the new key.")


class SSHCompute:
    """An attached SSH target. SSHCompute(ws, name) loads one; attach() creates one."""
    kind = "ssh"

    def __init__(self, workspace, name, password=None):
        _check_name(name)
        settings = workspace.load_target(name)
        if settings is None or workspace.target_kind(name) != self.kind:
            raise SSHError(f"No SSH compute target {name!r} is attached to this workspace; "
                           f"attach it with SSHCompute.attach(ws, {name!r}, address=..., "
                           "username=..., ssh_key=...).")
        self.workspace, self.name = workspace, name
        self.address = settings["address"]
        self.port = settings["port"]
        self.username = settings["username"]
        self.ssh_key = settings["ssh_key"]
        self.python_path = settings["python_path"]
        self.remote_root = settings["remote_root"]
        self.password = password  # memory only, never stored

    @classmethod
    def attach(cls, workspace, name, address, port=22, username=None, ssh_key=None,
               password=None, python_path="python3", remote_root=".automl-widgets"):
        """Record a target in the workspace (address, port, user, key path; no secrets)."""
        _check_name(name)
        host, port, username, ssh_key = _resolve_alias(address, port, username, ssh_key)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise SSHError(f"port must be an int in [1, 65535]; got {port!r}.")
        if ssh_key is not None:
            ssh_key = os.path.abspath(os.path.expanduser(os.fspath(ssh_key)))
            if not os.path.isfile(ssh_key):
                raise SSHError(f"ssh_key {ssh_key} does not exist; give the path of a "
                               "private key file (or leave it out to use ssh-agent or a "
                               "password).")
        workspace.save_target(name, cls.kind, {
            "address": host, "port": port, "username": username, "ssh_key": ssh_key,
            "python_path": python_path, "remote_root": remote_root})
        return cls(workspace, name, password=password)

    def __repr__(self):
        return (f"SSHCompute(name={self.name!r}, address={self.address!r}, port={self.port}, "
                f"username={self.username!r})")

    def describe(self) -> dict:
        return {"type": self.kind, "name": self.name, "address": self.address,
                "port": self.port, "username": self.username}

    # ---- connections -----------------------------------------------------------------
    @property
    def known_hosts_file(self) -> str:
        return os.path.join(self.workspace.data_dir, "known_hosts")

    def _client(self, policy):
        import paramiko
        client = paramiko.SSHClient()
        client.load_system_host_keys()  # ~/.ssh/known_hosts
        if os.path.exists(self.known_hosts_file):
            client.get_host_keys().load(self.known_hosts_file)
        client.set_missing_host_key_policy(policy)
        return client

    def connect(self, sock=None):
        """A connected paramiko SSHClient; raises SSHError with what to do."""
        import paramiko
        client = self._client(_Refuse(self))
        try:
            client.connect(self.address, port=self.port, username=self.username,
                           password=self.password, key_filename=self.ssh_key,
                           timeout=CONNECT_TIMEOUT, banner_timeout=CONNECT_TIMEOUT,
                           auth_timeout=CONNECT_TIMEOUT, allow_agent=True,
                           look_for_keys=self.ssh_key is None and self.password is None,
                           sock=sock)
        except UnknownHostError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise SSHError(_changed(self, exc.key, exc.expected_key,
                                    "the connection was refused")) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            raise SSHError(f"Authentication as {self.username!r} on {self.address}:"
                           f"{self.port} failed ({exc}); check ssh_key (now "
                           f"{self.ssh_key}), the password or your ssh-agent.") from None
        except (OSError, paramiko.SSHException) as exc:
            client.close()
            raise SSHError(f"Cannot reach {self.address}:{self.port} over SSH: {exc}. "
                           "Check the address, the port and that sshd runs there.") from None
        return client

    def explain(self, folder, iteration, seconds) -> None:
        """The feature importance job on the remote, where the run's data and model are;
        its importance.json is then copied here."""
        from ..protocol import IMPORTANCE, iteration_dir, read_json
        from .mirror import Mirror
        remote = read_json(os.path.join(folder, REMOTE))["folder"]
        env = self.workspace.load_target(self.name).get("environment") or self.prepare()
        job = 'cd "$1" && PYTHONPATH="$2" exec "$3" -m automl_widgets.engine.explain "$1" "$4" "$5"'
        code, out, err = self.run(["sh", "-c", job, "-", remote, env["pkg"], env["python"],
                                   str(iteration), str(seconds)], timeout=seconds + 600)
        if code != 0:
            raise SSHError(f"The feature importance of iteration {iteration} failed on "
                           f"{self.name} ({code}):\n{(err or out)[-3000:]}")
        mirror = Mirror(self, folder)
        try:
            mirror.fetch(os.path.relpath(os.path.join(iteration_dir(folder, iteration),
                                                      IMPORTANCE), folder))
        finally:
            mirror.close()

    def wait_for_completion(self, show_output=False):
        """The classic provisioning wait: here, connect and prepare the machine (its run
        environment), printing the progress with show_output. Returns self."""
        self.prepare(progress=print if show_output else (lambda _line: None))
        if show_output:
            print(f"{self.name}: ready ({self.username or ''}@{self.address}:{self.port}).")
        return self

    def prepare(self, progress=print) -> dict:
        """Check the remote and make its run environment (idempotent, near-free when
        nothing changed); remembers the result in the workspace."""
        from .remote_env import prepare
        client = self.connect()
        try:
            env = prepare(self, client, progress)
        finally:
            client.close()
        settings = self.workspace.load_target(self.name)
        settings["environment"] = env
        self.workspace.save_target(self.name, self.kind, settings)
        return env

    def start(self, folder) -> None:
        """Upload what the run needs and start its driver there; remote.json in the run
        folder then says where the remote copy is."""
        from .mirror import start
        start(self, folder)

    def mirror(self, folder):
        from .mirror import Mirror
        return Mirror(self, folder)

    def driver_alive(self, folder) -> bool:
        """Asks the remote, over a connection of its own, in one round of the mirror: a
        driver found gone has its last events copied into `folder` before this says
        False. A host that cannot be asked is no proof of death: True."""
        if not os.path.exists(os.path.join(folder, REMOTE)):
            return False  # never started
        return self._with_mirror(folder, lambda m: not m.pull() or m.alive, True)

    def cancel(self, folder, iteration=None) -> None:
        """The request goes into the local run folder, which a following Run's mirror
        pushes whenever the link is up, and is pushed at once over a connection of its
        own so it takes effect with no Run following too."""
        request(folder, cancel_request(iteration))
        if os.path.exists(os.path.join(folder, REMOTE)):
            self._with_mirror(folder, lambda m: m.push(), None)

    def _with_mirror(self, folder, action, unreachable):
        import paramiko

        from .mirror import Mirror
        mirror = Mirror(self, folder)
        try:
            return action(mirror)
        except (SSHError, OSError, EOFError, paramiko.SSHException):
            return unreachable
        finally:
            mirror.close()

    def trust_host(self, expected_fingerprint: str) -> None:
        """Add the host's key to the workspace's known_hosts, if it has this fingerprint.

        Only the key exchange happens: no credential is sent to a host not yet verified.
        A host already known with another key is refused: its key has changed."""
        known = self._known_keys()
        key = self._offered_key(known)
        fp = fingerprint(key)
        if known is not None:
            old = known.get(key.get_name())
            if old is None or old != key:
                old = old or next(iter(known.values()))
                raise SSHError(_changed(self, key, old, "nothing was trusted and no "
                                        "credential was sent"))
        if fp != expected_fingerprint:
            raise SSHError(f"The host now offers a key with fingerprint {fp}, not "
                           f"{expected_fingerprint}; nothing was trusted.")
        if known is not None:
            return  # already trusted with this very key
        line = (f"{_host_id(self.address, self.port)} {key.get_name()} "
                f"{key.get_base64()}\n")
        with open(self.known_hosts_file, "a") as f:
            f.write(line)

    def _known_keys(self):
        """The keys known for this host ({type: key}), looked up as SSHClient does: the
        user's known_hosts first, then the workspace's. None if neither knows it."""
        import paramiko
        host = _host_id(self.address, self.port)
        for path in (os.path.expanduser("~/.ssh/known_hosts"), self.known_hosts_file):
            keys = paramiko.HostKeys()
            try:
                keys.load(path)
            except OSError:
                continue
            found = keys.lookup(host)
            if found:
                return found
        return None

    def _offered_key(self, known):
        """The host key the server offers, from a bare key exchange (no authentication)."""
        import socket

        import paramiko
        try:
            sock = socket.create_connection((self.address, self.port), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise SSHError(f"Cannot reach {self.address}:{self.port} over SSH: {exc}. "
                           "Check the address, the port and that sshd runs there.") from None
        transport = paramiko.Transport(sock)
        try:
            transport.banner_timeout = CONNECT_TIMEOUT
            if known:  # ask for the type we know, as SSHClient does, to compare like with like
                _prefer(transport, next(iter(known.keys())))
            transport.start_client(timeout=CONNECT_TIMEOUT)
            return transport.get_remote_server_key()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SSHError(f"No SSH key exchange with {self.address}:{self.port}: {exc}. "
                           "Check the address, the port and that sshd runs there.") from None
        finally:
            transport.close()

    def run(self, argv, client=None, timeout=600, stdin_data=None):
        """Run a command given as a list of words; returns (exit code, stdout, stderr)."""
        command = argv if isinstance(argv, str) else shlex.join(argv)
        own = client is None
        client = client or self.connect()
        try:
            stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
            if stdin_data is not None:
                stdin.write(stdin_data)
            stdin.channel.shutdown_write()
            out = stdout.read().decode(errors="replace")
            err = stderr.read().decode(errors="replace")
            return stdout.channel.recv_exit_status(), out, err
        finally:
            if own:
                client.close()


_check_name = check_name


def _resolve_alias(address, port, username, ssh_key):
    """An address that is a Host alias in ~/.ssh/config takes its HostName, Port, User and
    IdentityFile, unless given explicitly."""
    import paramiko
    path = os.path.expanduser("~/.ssh/config")
    if not os.path.isfile(path):
        return address, port, username, ssh_key
    entry = paramiko.SSHConfig.from_path(path).lookup(address)
    host = entry.get("hostname", address)
    if port == 22 and "port" in entry:
        port = int(entry["port"])
    username = username or entry.get("user")
    if ssh_key is None and entry.get("identityfile"):
        ssh_key = entry["identityfile"][0]
    return host, port, username, ssh_key
