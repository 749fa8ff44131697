"""A real OpenSSH server on 127.0.0.1 for the SSH tests, and a loopback relay that can go silent.

Everything here runs as root on a Debian host (the test machine) and uses no pytest, so the
benchmarks and notebooks can start the same server::

    with SSHServer() as server:            # installs openssh-server if /usr/sbin/sshd is missing
        print(server.run("whoami"))        # (0, "automl-ssh-test\n", "")

What `SSHServer.start()` sets up:

- Debian's openssh-server, python3-venv and python3-pip, installed with apt-get when missing
  (a bare host needs venv and pip for prepare()); nothing is ever skipped: it installs or
  raises SSHDSetupError with the apt output.
- an unprivileged user (``automl-ssh-test``, or $AUTOML_SSH_TEST_USER; one per pytest-xdist
  worker) with login shell
  /bin/bash and home /home/<user>, emptied at every start unless AUTOML_SSH_TEST_KEEP_HOME=1,
  so each test session meets a bare host again. The user has only the distribution's
  /usr/bin/python3 and the plain PATH /usr/local/bin:/usr/bin:/bin; it cannot read the
  server's folder (0700 root) nor pytest's tmp_path folders (under /tmp/pytest-of-root, 0700).
- in a fresh 0700 root folder: an ed25519 host key, an ed25519 user key (authorized in the
  user's ~/.ssh/authorized_keys), a known_hosts file, sshd_config, the pid file and sshd's log.
- a random password for the user (chpasswd), so password authentication can be tested.
- ``/usr/sbin/sshd -D -e -f <config>`` listening on 127.0.0.1 on a free port, ready once it
  answers with its SSH banner.

An exclusive lock (/run/automl-ssh-test-<user>.lock) is held from start() to stop(): two test
sessions never share the user; the second one waits (up to `lock_timeout`) for the first.
"""
import base64
import fcntl
import os
import pwd
import secrets
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import paramiko

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also when loaded by path
import debpkg  # noqa: E402

SSHD = "/usr/sbin/sshd"
PYTHON = "/usr/bin/python3"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
PACKAGES = ("openssh-server", "python3-venv", "python3-pip")
USER = "automl-ssh-test"


class SSHDSetupError(RuntimeError):
    """The test SSH server could not be set up; the message says what failed and its output."""


def _run(args, check=True, input=None, env=None, timeout=600):
    proc = subprocess.run(args, input=input, capture_output=True, text=True, env=env,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise SSHDSetupError(f"`{shlex.join(args)}` failed with exit code {proc.returncode}:\n"
                             f"{proc.stdout}{proc.stderr}")
    return proc


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- installation

def ensure_installed():
    """Install what is missing (see tests/debpkg.py). Returns what it installed."""
    try:
        return debpkg.ensure(PACKAGES, "the SSH tests")
    except debpkg.AptError as e:
        raise SSHDSetupError(str(e)) from None


# --------------------------------------------------------------------------- the test user

def user_processes(uid):
    """Pids of the processes whose real uid is `uid`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(entry))
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return pids


def _wait_gone(pids, timeout=5.0):
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if os.path.exists(f"/proc/{p}") and not _is_zombie(p)]
        if left:
            time.sleep(0.01)
    return left


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def kill_user_processes(uid):
    """SIGKILL every process of the user (drivers left detached by earlier tests included)."""
    pids = user_processes(uid)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    left = _wait_gone(pids)
    if left:
        raise SSHDSetupError(f"processes {left} of uid {uid} survived SIGKILL")
    return pids


def ensure_user(username, public_key, password, keep_home=False):
    """Create or normalise the unprivileged test user; authorize `public_key`. Returns pwd entry."""
    home = f"/home/{username}"
    try:
        entry = pwd.getpwnam(username)
    except KeyError:
        _run(["useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash",
              "--user-group", username])
        entry = pwd.getpwnam(username)
    else:
        if entry.pw_uid == 0:
            raise SSHDSetupError(f"{username} has uid 0; refusing to use it as the test user")
        kill_user_processes(entry.pw_uid)
        if entry.pw_dir != home or entry.pw_shell != "/bin/bash":
            _run(["usermod", "--home", home, "--shell", "/bin/bash", username])
            entry = pwd.getpwnam(username)
        if not keep_home and os.path.lexists(home):
            shutil.rmtree(home)       # a bare host again: no venv left from an earlier session
    uid, gid = entry.pw_uid, entry.pw_gid
    if not os.path.isdir(home):
        shutil.copytree("/etc/skel", home, symlinks=True)
        for root, dirs, files in os.walk(home):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.lchown(name, uid, gid)
    os.chown(home, uid, gid)
    os.chmod(home, 0o700)
    ssh_dir = os.path.join(home, ".ssh")
    if os.path.islink(ssh_dir):
        os.unlink(ssh_dir)
    os.makedirs(ssh_dir, exist_ok=True)
    os.chown(ssh_dir, uid, gid)
    os.chmod(ssh_dir, 0o700)
    keys = os.path.join(ssh_dir, "authorized_keys")
    if os.path.lexists(keys):
        os.unlink(keys)
    fd = os.open(keys, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(public_key.strip() + "\n")
    os.chown(keys, uid, gid)
    _run(["chpasswd"], input=f"{username}:{password}\n")
    return entry


# --------------------------------------------------------------------------- the server

SSHD_CONFIG = """\
# Written by tests/sshd.py; the system's /etc/ssh/sshd_config is not read.
ListenAddress 127.0.0.1
Port {port}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication yes
PermitEmptyPasswords no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers {user}
ClientAliveInterval 0
TCPKeepAlive yes
UseDNS no
MaxStartups 100:30:200
MaxSessions 64
X11Forwarding no
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
Subsystem sftp /usr/lib/openssh/sftp-server
{setenv}
"""


class SSHServer:
    """A real sshd for tests; see the module docstring. Use start()/stop() or `with`."""

    host = "127.0.0.1"

    def __init__(self, username=None, keep_home=None, setenv=None, lock_timeout=300.0):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        base = os.environ.get("AUTOML_SSH_TEST_USER") or USER
        self.username = username or (f"{base}-{worker}" if worker else base)
        if keep_home is None:
            keep_home = os.environ.get("AUTOML_SSH_TEST_KEEP_HOME", "") not in ("", "0")
        self.keep_home = keep_home
        self.setenv = {"PATH": SYSTEM_PATH, **(setenv or {})}
        self.lock_timeout = lock_timeout
        self.port = None
        self.proc = None
        self.dir = None
        self.password = None
        self.installed = []
        self.setup_seconds = None
        self._lock = None

    # -- lifecycle
    def start(self):
        t0 = time.monotonic()
        if os.geteuid() != 0:
            raise SSHDSetupError("the SSH test server needs root (useradd, sshd)")
        self._acquire_lock()
        try:
            self.installed = ensure_installed()
            self.dir = tempfile.mkdtemp(prefix="automl-sshd-")          # 0700 root
            self.host_key_path = os.path.join(self.dir, "ssh_host_ed25519_key")
            self.key_path = os.path.join(self.dir, "id_ed25519")
            self.known_hosts_file = os.path.join(self.dir, "known_hosts")
            self.config_path = os.path.join(self.dir, "sshd_config")
            self.pid_file = os.path.join(self.dir, "sshd.pid")
            self.log_path = os.path.join(self.dir, "sshd.log")
            for path, comment in ((self.host_key_path, "automl-ssh-test-host"),
                                  (self.key_path, "automl-ssh-test-user")):
                _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
            with open(self.host_key_path + ".pub") as f:
                self.host_key_public = " ".join(f.read().split()[:2])
            with open(self.key_path + ".pub") as f:
                self.public_key = f.read().strip()
            self.password = secrets.token_urlsafe(18)
            entry = ensure_user(self.username, self.public_key, self.password, self.keep_home)
            self.uid, self.gid, self.home = entry.pw_uid, entry.pw_gid, entry.pw_dir
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)   # privilege separation dir
            self._launch(port=None)
            with open(self.known_hosts_file, "w") as f:
                f.write(self.known_hosts_line() + "\n")
        except BaseException:
            self.stop()
            raise
        self.setup_seconds = time.monotonic() - t0
        return self

    def _acquire_lock(self):
        fd = os.open(f"/run/automl-ssh-test-{self.username}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                    os.close(fd)
                    raise SSHDSetupError(
                        f"Test user {self.username} is in use by another test session "
                        f"(pid {holder or '?'}) for more than {self.lock_timeout:.0f} s") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock = fd

    def _launch(self, port):
        attempts = 1 if port else 5          # a free port may be taken before sshd binds it
        for attempt in range(attempts):
            self.port = port or free_port()
            with open(self.config_path, "w") as f:
                f.write(SSHD_CONFIG.format(
                    port=self.port, host_key=self.host_key_path, pid_file=self.pid_file,
                    user=self.username,
                    setenv="SetEnv " + " ".join(f"{k}={v}" for k, v in self.setenv.items())))
            log = open(self.log_path, "a")
            try:
                self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", self.config_path],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             start_new_session=True)
            finally:
                log.close()
            if self._wait_ready(timeout=10.0):
                return
            if self.proc.poll() is None:
                break
            if "Address already in use" not in self.log() or attempt == attempts - 1:
                break
        self._terminate()
        raise SSHDSetupError(f"sshd did not come up on {self.host}:{self.port}; its log:\n"
                             f"{self.log()}")

    def _wait_ready(self, timeout):
        """Ready once a connection to the port gets the SSH banner (polled with a deadline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as s:
                    if s.recv(64).startswith(b"SSH-2.0-"):
                        return True
            except OSError:
                pass
            time.sleep(0.01)
        return False

    def _terminate(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()           # the listener only: open sessions live on
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        """Stop the listener and start it again on the same port with the same host key."""
        self._terminate()
        self._launch(port=self.port)
        return self

    def stop(self):
        """Stop sshd, end every process of the test user, lock its password, remove the folder."""
        try:
            self._terminate()
            if getattr(self, "uid", None) is not None:
                kill_user_processes(self.uid)
                _run(["usermod", "--lock", self.username], check=False)
        finally:
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
            if self._lock is not None:
                os.close(self._lock)
                self._lock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- facts for the tests
    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError, TypeError):
            return ""

    def known_hosts_line(self, port=None):
        """known_hosts line for this server (or for the same key behind a relay's `port`)."""
        return f"[{self.host}]:{port or self.port} {self.host_key_public}"

    def host_keys(self, port=None):
        keys = paramiko.HostKeys()
        keytype, b64 = self.host_key_public.split()
        keys.add(f"[{self.host}]:{port or self.port}", keytype,
                 paramiko.Ed25519Key(data=base64.b64decode(b64)))
        return keys

    def connect(self, port=None, password=False, timeout=10.0):
        """A fresh paramiko client, host key checked (RejectPolicy), by key or by password."""
        client = paramiko.SSHClient()
        for hostname, entries in self.host_keys(port).items():
            for keytype, key in entries.items():
                client.get_host_keys().add(hostname, keytype, key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        auth = {"password": self.password} if password else {"key_filename": self.key_path}
        client.connect(self.host, port=port or self.port, username=self.username,
                       look_for_keys=False, allow_agent=False, timeout=timeout,
                       banner_timeout=timeout, auth_timeout=timeout, **auth)
        return client

    def run(self, command, timeout=60.0, port=None):
        """Run `command` (a shell string, or a list that gets quoted) as the test user.

        Returns (exit code, stdout, stderr); a fresh connection each time.
        """
        if not isinstance(command, str):
            command = shlex.join(command)
        client = self.connect(port=port, timeout=min(timeout, 10.0))
        try:
            _, stdout, stderr = client.exec_command(command, timeout=timeout)
            out = stdout.read().decode(errors="replace")
            err = stderr.read().decode(errors="replace")
            return stdout.channel.recv_exit_status(), out, err
        finally:
            client.close()

    def session_pids(self):
        """The server-side session processes (user-owned sshd children of our listener)."""
        if self.proc is None:
            return []
        ours = []
        for pid in user_processes(self.uid):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() not in ("sshd", "sshd-session"):
                        continue
                if self._descends_from(pid, self.proc.pid):
                    ours.append(pid)
            except (FileNotFoundError, ProcessLookupError):
                pass
        return ours

    @staticmethod
    def _descends_from(pid, ancestor):
        while pid > 1:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
            if pid == ancestor:
                return True
        return False

    def kill_sessions(self):
        """SIGKILL the server-side session processes (a dropped link); sshd keeps listening.

        Like `pkill -KILL -u <user> sshd`, limited to this server. Commands started in those
        sessions are not killed. Returns the pids; they are gone when this returns.
        """
        pids = self.session_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        left = _wait_gone(pids)
        if left:
            raise SSHDSetupError(f"session processes {left} survived SIGKILL")
        return pids

    def kill_user_processes(self):
        """SIGKILL every process of the test user (sessions and anything they started)."""
        return kill_user_processes(self.uid)


# --------------------------------------------------------------------------- the relay

class _Pair:
    def __init__(self, client, upstream, silent):
        self.socks = (client, upstream)
        self.bufs = (bytearray(), bytearray())    # bufs[i]: read from socks[i], to the other
        self.eof = [False, False]
        self.silent = silent


class Relay:
    """A loopback TCP relay on a free 127.0.0.1 port to `target_port`, that can go silent.

    silence(): from its return on, no byte is forwarded in either direction on any
    connection, and none is closed (a half-open, black-holed link: the peers' kernels still
    acknowledge what they send, so neither side sees an error). Connections accepted while
    silent are held silent too. resume(): new connections are forwarded again; connections
    silenced earlier stay silent (the old link never comes back) unless existing=True.
    close(): closes everything. One selector thread serves all connections.
    """

    LIMIT = 1 << 20       # bytes buffered per direction before reading pauses

    def __init__(self, target_port, target_host="127.0.0.1", host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.host = host
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._pairs = []
        self._silent = False
        self._closed = False
        self.accepted = 0
        self._thread = threading.Thread(target=self._loop, name=f"relay-{self.port}",
                                        daemon=True)
        self._thread.start()

    # -- control (each takes effect before it returns)
    def silence(self):
        with self._lock:
            self._silent = True
            for pair in self._pairs:
                pair.silent = True
        self._wake()

    def resume(self, existing=False):
        with self._lock:
            self._silent = False
            if existing:
                for pair in self._pairs:
                    pair.silent = False
        self._wake()

    @property
    def silent(self):
        return self._silent

    @property
    def connections(self):
        with self._lock:
            return len(self._pairs)

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        self._thread.join(timeout=5)
        with self._lock:
            for pair in self._pairs:
                for s in pair.socks:
                    s.close()
            self._pairs = []
        self._listener.close()
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the loop
    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass

    def _loop(self):
        while True:
            with self._lock:
                if self._closed:
                    return
                self._register()
            events = self._sel.select(timeout=0.5)
            with self._lock:
                if self._closed:
                    return
                for key, mask in events:
                    try:
                        self._handle(key.data, key.fileobj, mask)
                    except Exception:          # never let one connection stop the relay
                        if isinstance(key.data, tuple) and key.data[0] in self._pairs:
                            self._drop(key.data[0])
                        else:
                            raise

    def _register(self):
        wanted = {self._listener: (selectors.EVENT_READ, "accept"),
                  self._wake_r: (selectors.EVENT_READ, "wake")}
        for pair in self._pairs:
            if pair.silent:
                continue
            for i, s in enumerate(pair.socks):
                mask = 0
                if not pair.eof[i] and len(pair.bufs[i]) < self.LIMIT:
                    mask |= selectors.EVENT_READ
                if pair.bufs[1 - i]:
                    mask |= selectors.EVENT_WRITE
                if mask:
                    wanted[s] = (mask, (pair, i))
        for key in list(self._sel.get_map().values()):
            if key.fileobj not in wanted:
                self._sel.unregister(key.fileobj)
        for s, (mask, data) in wanted.items():
            try:
                key = self._sel.get_key(s)
            except KeyError:
                self._sel.register(s, mask, data)
            else:
                if key.events != mask or key.data != data:
                    self._sel.modify(s, mask, data)

    def _handle(self, data, sock, mask):
        if data == "wake":
            try:
                while self._wake_r.recv(512):
                    pass
            except BlockingIOError:
                pass
        elif data == "accept":
            self._accept()
        else:
            pair, i = data
            if pair.silent or pair not in self._pairs:
                return
            try:
                if mask & selectors.EVENT_READ:
                    chunk = sock.recv(65536)
                    if chunk:
                        pair.bufs[i].extend(chunk)
                    else:
                        pair.eof[i] = True
                if mask & selectors.EVENT_WRITE and pair.bufs[1 - i]:
                    sent = sock.send(pair.bufs[1 - i])
                    del pair.bufs[1 - i][:sent]
            except BlockingIOError:
                pass
            except OSError:
                self._drop(pair)
                return
            # a side that ended and whose data has all been delivered ends the connection
            if any(pair.eof[j] and not pair.bufs[j] for j in (0, 1)):
                self._drop(pair)

    def _accept(self):
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, OSError):
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()           # nothing behind the relay: the connection is refused
            return
        for s in (client, upstream):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.accepted += 1
        self._pairs.append(_Pair(client, upstream, self._silent))

    def _drop(self, pair):
        for s in pair.socks:
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self._pairs.remove(pair)


if __name__ == "__main__":          # a server to try things by hand: python tests/sshd.py
    with SSHServer() as server:
        print(f"sshd on {server.host}:{server.port} (setup {server.setup_seconds:.2f} s)\n"
              f"user {server.username}, password {server.password}\n"
              f"key {server.key_path}\nknown_hosts {server.known_hosts_file}\n"
              f"ssh -i {server.key_path} -o UserKnownHostsFile={server.known_hosts_file} "
              f"-p {server.port} {server.username}@{server.host}\nCtrl-C stops it.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
