"""Iterations on a Dask cluster: the driver stays the run folder's only writer, each
iteration is a Dask task that runs it in a child process on a worker.

On the worker (`run_on_worker`, a Dask task): the iteration is forked from the worker
process by the same `worker.start` as on the local target, into a temporary folder, so a
cancel or max_time_sec kills it for real (a Dask future cannot interrupt a running task).
Its log travels back while it runs as Dask events on the run's topic; its result, model,
predictions and the rest of its log come back as the task's result.

In the driver (`DaskExecutor`): one Client; the data is scattered once to every worker;
each task gets a `DaskIteration` handle with the same interface as a local `worker.Worker`
(fileno, kill, reap, started), so the driver's loop does not change.
"""
from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import tempfile
import threading
import time
import uuid

from ..protocol import LOG, MODEL, PREDICTIONS, Status, iteration_dir
from .faults import VARIABLE as FAULTS

log = logging.getLogger("automl_widgets.engine.dask")

POLL = 0.2            # seconds between a task's looks at its log and its cancel flag
KILL_GRACE = 5.0      # after a kill, how long a task may take to answer before it is dropped
SCHEDULER_GRACE = 10  # seconds without the scheduler before the run is given up
MAX_ATTEMPTS = 2      # an iteration whose worker died is retried once on another worker
DATA_WAIT = 5         # seconds a worker waits for the run's data before looking it up again
FILES = (MODEL, PREDICTIONS)


def cancel_flag(run_id, n) -> str:
    return f"automl-{run_id}-cancel-{n}"


def topic(run_id) -> str:
    return f"automl-{run_id}"


def dataset(run_id) -> str:
    return f"automl-{run_id}-data"


# ---- on the worker ----------------------------------------------------------------------

_DATA: dict = {}   # run id -> its data, in this worker process: fetched once per run


def run_data(run_id):
    """The run's data on this worker: fetched from the cluster the first time only (Dask's
    memory manager may drop a replica between tasks; this copy stays for the run)."""
    if run_id not in _DATA:
        from distributed import get_client
        client = get_client()
        while True:  # a lost copy is never delivered: look the name up again, as the
            try:     # driver publishes a new copy when the cluster loses one
                data = client.get_dataset(dataset(run_id)).result(timeout=DATA_WAIT)
                break
            except (TimeoutError, KeyError):
                continue
        _DATA.clear()   # one run's data at a time per worker process
        _DATA[run_id] = data
    return _DATA[run_id]


_PRELOADED: set = set()


def preload(task):
    """Import the task's estimator classes once in this worker process, before forking, so
    iterations start with them loaded as they do on the local target (~60 ms each)."""
    if task not in _PRELOADED:
        from .. import catalog
        catalog.preload(task)
        _PRELOADED.add(task)


def forget_run(run_id):
    """Run on every worker when a run ends: its data goes."""
    _DATA.pop(run_id, None)


def run_on_worker(fn, args, n, run_id, cores, env=None):
    """A Dask task: fn(data, *args, out_dir) in a forked child process, streaming its log."""
    from distributed import Event, get_worker

    from . import worker as local
    w = get_worker()
    attempt = uuid.uuid4().hex[:8]
    where = {"worker": w.address, "worker_name": str(w.name)}
    w.log_event(topic(run_id), {"n": n, "kind": "start", "attempt": attempt, **where})
    data = run_data(run_id)
    preload(data.task)
    out = tempfile.mkdtemp(prefix=f"automl-{n}-")
    stop, ended = threading.Event(), threading.Event()
    # made here: a thread of our own has no worker context to find the client from
    flag = Event(cancel_flag(run_id, n))
    watcher = threading.Thread(target=_watch_flag, args=(flag, stop, ended), daemon=True)
    try:
        child = local.start(n, out, lambda: fn(data, *args, out), cores, env)
        watcher.start()
        shipped = 0
        while True:
            done = select.select([child], [], [], POLL)[0]
            shipped = _ship_log(w, run_id, n, attempt, out, shipped)
            if done:
                break
            if stop.is_set():
                child.kill(Status.CANCELED, "stopped at the driver's request")
        result = child.reap()
        _ship_log(w, run_id, n, attempt, out, shipped)
        files = {}
        for name in FILES:
            path = os.path.join(out, name)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    files[name] = f.read()
        with open(os.path.join(out, LOG), "rb") as f:
            text = f.read()
        return {"result": result, "files": files, "log": text, "attempt": attempt, **where}
    finally:
        ended.set()
        shutil.rmtree(out, ignore_errors=True)


def _watch_flag(flag, stop, ended):
    """Long-polls the iteration's cancel flag: one scheduler call a second, not one per
    POLL, which with many iterations running loaded the scheduler (benchmarks/dask.py)."""
    while not ended.is_set():
        try:
            if flag.wait(timeout=1):
                stop.set()
                return
        except Exception:  # noqa: BLE001 - no scheduler: the driver gives the task up
            return


def _ship_log(w, run_id, n, attempt, out, offset) -> int:
    try:
        with open(os.path.join(out, LOG), "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return offset
    if data:
        w.log_event(topic(run_id), {"n": n, "kind": "log", "attempt": attempt,
                                    "offset": offset, "data": data})
    return offset + len(data)


# ---- in the driver ------------------------------------------------------------------------

class DaskExecutor:
    """The driver's side of a Dask target: submits iterations, follows their logs."""

    def __init__(self, target: dict, folder: str, run_id: str):
        from distributed import Client, Security
        self.folder, self.run_id = folder, run_id
        self.address = target["address"]
        security = Security(**target["security"]) if target.get("security") else None
        self.client = Client(self.address, security=security, timeout=10,
                             set_as_default=False)
        self.lock = threading.Lock()        # attempts, shipped offsets, running: with events
        self.data_lock = threading.Lock()
        self.attempts: dict[int, list] = {}   # n -> [(attempt id, worker address)]
        self.shipped: dict[tuple, int] = {}   # (n, attempt) -> bytes written to its log
        self.running: dict[int, DaskIteration] = {}
        self.data = None
        self.lost_since = None
        self.direct = True                    # fetch results from workers; see gather()
        self.client.subscribe_topic(topic(run_id), self._on_event)

    def describe(self) -> str:
        info = self.client.scheduler_info()
        threads = sum(w.get("nthreads", 0) for w in info.get("workers", {}).values())
        return f"{len(info.get('workers', {}))} worker(s), {threads} thread(s) at {self.address}"

    def scatter(self, ctx):
        """The run's data, once to every worker (workers that join later fetch it)."""
        self.ctx = ctx
        self.data = self.client.scatter(ctx, hash=False)
        # Published, so workers find it by name and the scheduler keeps it for the run.
        self.client.publish_dataset(self.data, name=dataset(self.run_id), override=True)

    def start(self, n, out_dir, fn, args, cores) -> DaskIteration:
        os.makedirs(out_dir, exist_ok=True)
        it = DaskIteration(self, n, out_dir, (fn, args, cores))
        self.running[n] = it
        it.submit()
        return it

    def submit(self, n, job):
        fn, args, cores = job
        drill = {FAULTS: os.environ[FAULTS]} if os.environ.get(FAULTS) else None
        return self.client.submit(run_on_worker, fn, args, n, self.run_id, cores, drill,
                                  pure=False)

    def data_lost(self) -> bool:
        """True if the cluster lost the run's data (the worker holding it died) and it was
        scattered again; iterations that failed for want of it are then submitted again."""
        with self.data_lock:   # not self.lock: events wait on that one in the client's loop
            if self.data is None or self.data.status == "finished" or \
                    self.client.status != "running":   # no scheduler: scheduler_lost() says
                return False
            log.info("the Dask cluster lost the run's data; scattering it again")
            try:
                self.scatter(self.ctx)
            except (OSError, TimeoutError) as exc:   # the scheduler went meanwhile
                log.info("scattering the data again failed: %s", exc)
                return False
            return True

    # Dask events arrive on the client's own thread.
    def _on_event(self, event):
        _, msg = event
        n, attempt = msg.get("n"), msg.get("attempt")
        with self.lock:
            it = self.running.get(n)
            if it is None or it.reaped:
                return
            if msg.get("kind") == "start":
                tries = self.attempts.setdefault(n, [])
                tries.append((attempt, msg.get("worker")))
                it.worker = msg.get("worker")
                if it.queued:
                    it.queued, it.started = False, time.monotonic()
                if 1 < len(tries) <= MAX_ATTEMPTS:
                    self._append(n, attempt, f"\n[automl-widgets] the worker {tries[-2][1]} "
                                 f"died; retrying on {it.worker}\n".encode(), fresh=True)
                if len(tries) > MAX_ATTEMPTS:
                    self._append(n, attempt, f"\n[automl-widgets] the worker {tries[-2][1]} "
                                 "died too; not retried again\n".encode(), fresh=True)
                    workers = ", ".join(w for _, w in tries[:-1])
                    threading.Thread(target=it.kill, args=(
                        Status.FAILED, f"the workers running it died ({workers})"),
                        daemon=True).start()
            elif msg.get("kind") == "log" and self.shipped.get((n, attempt), 0) == msg["offset"]:
                self._append(n, attempt, msg["data"])

    def _append(self, n, attempt, data, fresh=False):
        if fresh:
            self.shipped.setdefault((n, attempt), 0)
        with open(os.path.join(iteration_dir(self.folder, n), LOG), "ab") as f:
            f.write(data)
        if not fresh:
            self.shipped[(n, attempt)] = self.shipped.get((n, attempt), 0) + len(data)

    def gather(self, future):
        """A finished task's result straight from its worker (the model and predictions
        are MBs the scheduler need not relay); through the scheduler where the driver
        cannot reach the workers, as behind Dask Gateway."""
        if self.direct:
            try:
                return self.client.gather(future, direct=True)
            except Exception as exc:  # noqa: BLE001 - any failure: use the scheduler
                log.info("cannot fetch results from the workers directly (%s); "
                         "fetching them through the scheduler", exc)
                self.direct = False
        return future.result()

    def ready(self) -> bool:
        """Connected to the scheduler, so new iterations can be submitted."""
        return self.client.status == "running"

    def scheduler_lost(self) -> bool:
        """True once the scheduler has been unreachable for SCHEDULER_GRACE seconds."""
        if self.client.status == "running":
            self.lost_since = None
            return False
        self.lost_since = self.lost_since or time.monotonic()
        return self.client.status == "closed" or \
            time.monotonic() - self.lost_since > SCHEDULER_GRACE

    def close(self):
        try:
            self.client.run(forget_run, self.run_id)
            self.client.unpublish_dataset(dataset(self.run_id))
            self.client.unsubscribe_topic(topic(self.run_id))
            self.client.close(timeout=5)
        except Exception:  # a lost scheduler: nothing left to tell it
            pass


class DaskIteration:
    """A running Dask task, seen by the driver as a local iteration process is."""

    def __init__(self, executor, n, out_dir, job):
        self.executor, self.n, self.out_dir, self.job = executor, n, out_dir, job
        self.future = None
        self.resubmitted = 0
        self.started = time.monotonic()
        self.kill_reason = None
        self.killed_at = None
        self.worker = None            # the worker running it, once one has started it
        self.shown = None             # the worker the driver last announced
        self.queued = True            # until a worker starts it: max_time_sec waits
        self.reaped = False
        self._r, self._w = os.pipe()
        # A task's callbacks can come after the driver reaped it and closed the pipe; by
        # then a new iteration's pipe may have the same fd numbers, and a late write would
        # wake (and fail) that one.
        self._pipe_lock = threading.Lock()
        self._pipe_open = True

    def submit(self):
        self.future = self.executor.submit(self.n, self.job)
        self.future.add_done_callback(self._done)

    def _done(self, future):
        """On the client's thread: the task ended. If it failed for want of the run's data
        (lost with a worker), it goes again once the data is back; else the driver reaps."""
        if future is not self.future:
            return
        if future.status == "cancelled" and self.kill_reason is None and \
                self.executor.client.status != "running":
            return   # the scheduler is away: it comes back, or the driver gives the run up
        if future.status == "error" and self.kill_reason is None and self.resubmitted < 3:
            threading.Thread(target=self._again_or_done, daemon=True).start()
            return
        self._wake()

    def _again_or_done(self):
        try:
            if self.executor.data_lost():
                self.resubmitted += 1
                self.submit()
                return
        except Exception:  # no scheduler: let the driver reap what there is
            pass
        self._wake()

    def _wake(self):
        """Tell the driver's selector this task is done, unless it was reaped already."""
        with self._pipe_lock:
            if self._pipe_open:
                os.write(self._w, b"x")

    def _close_pipe(self):
        with self._pipe_lock:
            self._pipe_open = False
            os.close(self._r)
            os.close(self._w)

    def fileno(self):
        return self._r

    def kill(self, status, reason):
        if self.kill_reason is None:
            self.kill_reason = (status, reason)
            self.killed_at = time.monotonic()
        try:
            from distributed import Event
            Event(cancel_flag(self.executor.run_id, self.n), client=self.executor.client).set()
        except Exception:  # no scheduler: overdue() drops the task
            pass

    def overdue(self) -> bool:
        """Killed, yet no answer: the task's worker or the scheduler is gone; drop it."""
        if self.killed_at is not None and time.monotonic() - self.killed_at > KILL_GRACE:
            with contextlib.suppress(Exception):   # a closed client: nothing to cancel
                self.future.cancel()
            self._wake()
            return True
        return False

    def reap(self) -> dict:
        ex = self.executor
        with ex.lock:
            self.reaped = True
            ex.running.pop(self.n, None)
        self._close_pipe()
        duration = time.monotonic() - self.started
        out = None
        if self.future.done() and self.future.status == "finished":
            out = ex.gather(self.future)
            result = out["result"]
        elif self.future.status == "error":
            exc = self.future.exception()
            workers = ", ".join(w for _, w in ex.attempts.get(self.n, []))
            reason = (f"the workers running it died ({workers})"
                      if type(exc).__name__ == "KilledWorker" else f"{type(exc).__name__}: {exc}")
            result = {"status": Status.FAILED, "reason": reason}
        else:
            result = {"status": Status.FAILED,
                      "reason": f"its Dask task was lost ({self.future.status})"}
        if self.kill_reason is not None:
            result = {**result, "status": self.kill_reason[0], "reason": self.kill_reason[1]}
        if out is not None:
            self._save(out)
        if out is None or self.kill_reason is not None and result["status"] != Status.COMPLETED:
            with open(os.path.join(self.out_dir, LOG), "ab") as f:
                f.write(f"\n[automl-widgets] {result['status']}: {result['reason']}\n".encode())
        result["duration"] = duration
        result["worker"] = (out or {}).get("worker") or self.worker
        with contextlib.suppress(Exception):
            self.future.release()
        return result

    def _save(self, out):
        """The model and predictions, and whatever of the log the events did not bring."""
        for name, data in out["files"].items():
            with open(os.path.join(self.out_dir, name), "wb") as f:
                f.write(data)
        shipped = self.executor.shipped.get((self.n, out["attempt"]), 0)
        if len(out["log"]) > shipped:
            with open(os.path.join(self.out_dir, LOG), "ab") as f:
                f.write(out["log"][shipped:])
