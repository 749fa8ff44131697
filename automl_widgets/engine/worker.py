"""Iteration processes: forked from the driver, which has the data and libraries loaded,
so starting one costs a fork, not an interpreter. Each is its own process group so a kill
reaches anything it spawned; stdout and stderr stream into the iteration's log.txt."""
from __future__ import annotations

import os
import signal
import sys
import time
import traceback

from ..protocol import LOG, RESULT, Status, read_json, write_json

CANT_WRITE = 73  # exit code: the iteration could not write its log or result (EX_CANTCREAT)


class Worker:
    def __init__(self, n, pid, out_dir):
        self.n, self.pid, self.out_dir = n, pid, out_dir
        self.started = time.monotonic()
        self.fd = os.pidfd_open(pid)  # readable once the process exits
        self.kill_reason = None       # (status, reason) once we killed it

    def fileno(self):
        return self.fd

    def kill(self, status, reason):
        if self.kill_reason is None:
            self.kill_reason = (status, reason)
        for send in (lambda: os.killpg(self.pid, signal.SIGKILL),
                     lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                send()
                return
            except ProcessLookupError:
                continue

    def reap(self) -> dict:
        """Wait for the exit (it has happened or was forced) and say what became of it."""
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        duration = time.monotonic() - self.started
        result_path = os.path.join(self.out_dir, RESULT)
        if self.kill_reason is not None:
            result = {"status": self.kill_reason[0], "reason": self.kill_reason[1]}
        elif os.path.exists(result_path):
            try:
                result = read_json(result_path)
            except (OSError, ValueError) as exc:  # a full disk can truncate it
                result = {"status": Status.FAILED, "reason": f"its result could not be read: {exc}"}
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == CANT_WRITE:
            result = {"status": Status.FAILED, "reason": "the iteration process could not write "
                      f"its log or result in {self.out_dir} (a full disk or a read-only folder?)"}
        elif os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            result = {"status": Status.FAILED, "reason": f"the iteration process was killed by {name}"}
        else:
            result = {"status": Status.FAILED, "reason": "the iteration process exited with code "
                      f"{os.WEXITSTATUS(status)} before reporting a result"}
        if result["status"] != Status.COMPLETED:
            try:  # the reason goes to the log too, if the disk lets it: the event has it
                with open(os.path.join(self.out_dir, LOG), "a") as log:
                    log.write(f"\n[automl-widgets] {result['status']}: {result.get('reason')}\n")
            except OSError:
                pass
        result["duration"] = duration
        return result


def start(n, out_dir, job, max_cores=None, env=None) -> Worker:
    """Fork a process that runs job() -> result dict, written to out_dir/result.json;
    `env` is added to its environment (a Dask task passes the driver's fault drill on)."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError:
        pass  # the iteration fails on its own when it cannot write its log
    sys.stdout.flush()
    sys.stderr.flush()
    driver = os.getpid()
    pid = os.fork()
    if pid == 0:  # the iteration process: never returns
        code = 0
        try:
            os.setpgid(0, 0)
            _die_with_parent(driver)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            fd = os.open(os.path.join(out_dir, LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            os.environ.update(env or {})
            _run(n, job, out_dir, max_cores)
        except OSError as exc:  # its log or result: a full disk, a folder it cannot write
            code = CANT_WRITE
            _say(f"iteration {n}: {exc}\n")
        except BaseException:  # noqa: BLE001 - anything left must not escape the fork
            code = 70
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:  # a full disk fails the flush too, and nothing may return from here
                    stream.flush()
                except BaseException:  # noqa: BLE001
                    pass
            os._exit(code)
    try:
        os.setpgid(pid, pid)  # also from here, so a kill right away finds the group
    except (PermissionError, ProcessLookupError):
        pass
    return Worker(n, pid, out_dir)


def _say(text):
    """Best effort, to stderr: the iteration's log if it got that far, else driver.log."""
    try:
        os.write(2, text.encode())
    except OSError:
        pass


def _die_with_parent(driver):
    """If the driver is killed, its iterations go too instead of running on as orphans."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != driver:  # it died before the line above took effect
        os._exit(1)


def _run(n, job, out_dir, max_cores):
    from threadpoolctl import threadpool_limits

    from .faults import inject
    try:
        inject(str(n), os.path.join(out_dir, LOG))
        with threadpool_limits(limits=max_cores):
            result = job()
    except BaseException as exc:  # MemoryError and friends fail only this iteration
        try:
            traceback.print_exc()
        except OSError:  # the log may be what failed; the result still says why
            pass
        result = {"status": Status.FAILED, "reason": f"{type(exc).__name__}: {exc}"}
    write_json(os.path.join(out_dir, RESULT), result)
