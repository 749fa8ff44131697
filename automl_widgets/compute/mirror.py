"""Starting a run on an SSH target, and the mirror that copies its run folder back.

The remote run folder is the truth; the workspace holds a copy made by byte offset, so a
reader of the local copy (Run, CLI, widgets) works unchanged. Only the Run's sync thread
touches the mirror: it owns the one SSH connection and its one SFTP client (paramiko must
not share an SFTP client across threads). Every remote call has a deadline of ours, since
a half-open link never errors by itself; on any failure the link is dropped and rebuilt
with backoff, and copying resumes from the local files' sizes, so nothing is lost or
copied twice.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import posixpath
import time

from ..protocol import (
    CONTROL,
    DRIVER_LOG,
    EVENTS,
    INLINE_DATA,
    ITERATIONS,
    LOG,
    REMOTE,
    SPEC,
    EventReader,
    events,
    read_json,
    write_json,
)

DEADLINE = 10.0          # seconds any one remote operation may take before the link is dead
BACKOFF = (0.5, 1, 2, 4, 8)


def remote_folder(env, target, run_id) -> str:
    return posixpath.join(env["home"], target.remote_root, "runs", run_id)


def start(target, folder) -> None:
    """Upload what the run needs and start its driver, detached from the SSH session."""
    settings = target.workspace.load_target(target.name)
    env = settings.get("environment") or target.prepare()
    spec = read_json(os.path.join(folder, SPEC))
    remote = remote_folder(env, target, spec["run_id"])
    client = target.connect()
    try:
        sftp = client.open_sftp()
        target.run(["sh", "-c", 'umask 077 && mkdir -p "$@"', "-",  # private to the user
                    posixpath.join(remote, CONTROL), posixpath.join(remote, ITERATIONS),
                    posixpath.join(remote, "project")], client, timeout=30)
        remote_spec = dict(spec)
        if spec["data"]["kind"] == "script":
            project = posixpath.join(remote, "project")
            base = spec.get("path") or os.path.dirname(spec["data_script"])
            _upload_tree(sftp, base, project)
            rel = os.path.relpath(spec["data_script"], base)
            if rel.startswith(".."):  # the script lives outside `path`: send it alone
                rel = os.path.basename(spec["data_script"])
                sftp.put(spec["data_script"], posixpath.join(project, rel))
            remote_spec["data"] = {"kind": "script", "script": posixpath.join(project, rel)}
            remote_spec["data_script"] = remote_spec["data"]["script"]
            remote_spec["path"] = project
        else:
            sftp.put(os.path.join(folder, INLINE_DATA), posixpath.join(remote, INLINE_DATA))
        with sftp.open(posixpath.join(remote, SPEC), "w") as f:
            f.write(json.dumps(remote_spec, indent=1))
        sftp.close()
        # The fault-injection drill variable travels along, so drills work remotely too.
        launch = ('cd "$1" && PYTHONPATH="$2" AUTOML_WIDGETS_FAULTS="$4" exec setsid "$3" '
                  '-m automl_widgets.engine.driver "$1" --detach </dev/null >>"$1/driver.log" 2>&1')
        faults = os.environ.get("AUTOML_WIDGETS_FAULTS", "")
        code, out, err = target.run(["sh", "-c", launch, "-", remote, env["pkg"], env["python"],
                                     faults], client, timeout=60)
        if code != 0:
            raise RuntimeError(f"Starting the driver on {target.name} failed ({code}): "
                               f"{err or out}")
    finally:
        client.close()
    write_json(os.path.join(folder, REMOTE), {"target": target.name, "folder": remote})


def _upload_tree(sftp, local, remote):
    for dirpath, dirnames, filenames in os.walk(local):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # no .git, .automl
        rel = os.path.relpath(dirpath, local)
        dest = remote if rel == "." else posixpath.join(remote, *rel.split(os.sep))
        try:
            sftp.mkdir(dest, 0o700)
        except OSError:
            pass  # exists
        for name in filenames:
            sftp.put(os.path.join(dirpath, name), posixpath.join(dest, name))


@contextlib.contextmanager
def _copying(folder):
    """Yields whether this mirror may copy into `folder` now. Two mirrors of one run (two
    Run objects, threads or processes) must not copy at once: both would append the same
    bytes. The lock is on remote.json, which nothing writes after the start."""
    with open(os.path.join(folder, REMOTE)) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # the other one copies
            return
        yield True  # closing the file releases the lock


class Mirror:
    """Copies a remote run folder into the local one; pushes control requests the other way."""

    def __init__(self, target, folder):
        self.target, self.folder = target, folder
        self.remote = read_json(os.path.join(folder, REMOTE))["folder"]
        self.client = self.sftp = None
        self.failures = 0
        self.next_try = 0.0
        self.link = "connecting"      # connected | reconnecting: <reason>
        self.pushed = set()
        self._events = EventReader(folder)   # what the local copy says, for the logs
        self.live, self.closing = set(), set()
        self.alive = True
        self.last_alive_check = float("-inf")

    def _connect(self):
        self.client = self.target.connect()
        self.client.get_transport().set_keepalive(5)
        self.sftp = self.client.open_sftp()
        self.sftp.get_channel().settimeout(DEADLINE)

    def close(self):
        for c in (self.sftp, self.client):
            try:
                if c is not None:
                    c.close()
            except Exception:
                pass
        self.client = self.sftp = None

    def pull(self) -> bool:
        """One round: connect if needed, push requests, copy new bytes. True if all went."""
        if self.client is None:
            if time.monotonic() < self.next_try:
                return False
            try:
                self._connect()
            except Exception as exc:
                return self._failed(exc)
        try:
            alive = None
            if time.monotonic() - self.last_alive_check > 2:
                # Asked before copying: a driver found gone has written all it will, and
                # this round copies it, so `alive` turns False only with the copy complete.
                self.last_alive_check = time.monotonic()
                alive = self._driver_alive()
            self._push_requests()
            with _copying(self.folder) as ours:
                if ours:
                    self._copy(EVENTS, whole_lines=True)
                    self._copy(DRIVER_LOG)
                    self._copy_logs()
                    if alive is not None:
                        self.alive = alive
        except Exception as exc:
            self.close()
            return self._failed(exc)
        if self.failures:
            self.link = f"connected again after {self.failures} failed attempt(s)"
        else:
            self.link = "connected"
        self.failures = 0
        return True

    def _failed(self, exc) -> bool:
        self.failures += 1
        delay = BACKOFF[min(self.failures - 1, len(BACKOFF) - 1)]
        self.next_try = time.monotonic() + delay
        self.link = f"reconnecting ({type(exc).__name__}: {exc})"
        return False

    def _copy(self, rel, whole_lines=False):
        local = os.path.join(self.folder, rel)
        offset = os.path.getsize(local) if os.path.exists(local) else 0
        try:
            with self.sftp.open(posixpath.join(self.remote, *rel.split(os.sep)), "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return
        if whole_lines:  # a partial last line waits for the next round
            data = data[:data.rfind(b"\n") + 1]
        if data:
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "ab") as out:
                out.write(data)

    def _copy_logs(self):
        """Logs of running iterations, and of each finished one a last time."""
        for e in self._events.read_new():
            if isinstance(e, events.IterationStarted):
                self.live.add(e.iteration)
            elif isinstance(e, events.IterationFinished):
                self.live.discard(e.iteration)
                self.closing.add(e.iteration)
        for n in sorted(self.live | self.closing):
            self._copy(os.path.join(ITERATIONS, str(n), LOG))
        self.closing.clear()

    def _push_requests(self):
        try:
            names = set(os.listdir(os.path.join(self.folder, CONTROL)))
        except FileNotFoundError:
            return
        for name in sorted(names - self.pushed):
            with self.sftp.open(posixpath.join(self.remote, CONTROL, name), "w") as f:
                f.write(str(time.time()))
            self.pushed.add(name)

    def _driver_alive(self) -> bool:
        env = self.target.workspace.load_target(self.target.name).get("environment") or {}
        code, _, _ = self.target.run(
            ["sh", "-c", 'PYTHONPATH="$1" exec "$2" -m automl_widgets.protocol.liveness "$3"',
             "-", env.get("pkg", ""), env.get("python", "python3"), self.remote],
            self.client, timeout=DEADLINE)
        return code != 3  # anything else is no proof of death

    def push(self):
        """Push the control requests now (connecting if needed)."""
        if self.client is None:
            self._connect()
        self._push_requests()

    def fetch(self, rel) -> str:
        """Download one file of the remote run folder (a model) into the local copy."""
        local = os.path.join(self.folder, rel)
        if self.client is None:
            self._connect()
        os.makedirs(os.path.dirname(local), exist_ok=True)
        self.sftp.get(posixpath.join(self.remote, *rel.split(os.sep)), local + ".part")
        os.replace(local + ".part", local)
        return local
