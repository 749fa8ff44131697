"""A real Dask cluster on 127.0.0.1 for the Dask tests: one `dask scheduler` and N `dask worker`
processes, started as subprocesses of the project's venv. No pytest here, so the benchmarks and
notebooks can start the same cluster::

    with DaskCluster(n_workers=2, env={"AUTOML_WIDGETS_FAULTS": "3=hang"}) as cluster:
        with cluster.client() as client:
            print(client.submit(sum, [1, 2]).result())       # 3
        cluster.kill_worker("worker-0")                      # SIGKILL

What it sets up, in `directory` (a new temporary folder, removed at stop, unless given):

- the scheduler on tcp://127.0.0.1:<free port> (``--port 0``; it writes its address to
  scheduler.json, which start() waits for), no dashboard (its small HTTP server listens on
  127.0.0.1 too: nothing listens beyond loopback);
- workers named worker-0, worker-1, ... with ``--host 127.0.0.1 --nthreads 1 --no-nanny
  --no-dashboard``. No nanny: the process that runs the tasks is the one started here (its pid
  is in worker_pids()), and a worker killed with kill_worker() stays dead, so a test knows
  which workers are left; add_worker() starts another;
- the environment of this process, plus `env` for the workers; AUTOML_WIDGETS_FAULTS comes
  only from `env` (or add_worker's), so a cluster's faults are fixed when its workers start;
- one log file per process (scheduler.log, worker-0.log, ...); when something does not come up,
  DaskClusterError shows their tails.

Readiness waits on conditions only: the scheduler file appearing, then the scheduler listing
the workers by name (as Client.wait_for_workers does, but by name and failing as soon as a
process exits). Startup takes about a second.

Every process gets AUTOML_DASK_TEST_CLUSTER=<token> in its environment, which their children
(iteration processes) inherit; stop() terminates, then kills, the processes, their process
groups and anything else still carrying the token, so nothing is left running even after a
failed test. Each process also gets PR_SET_PDEATHSIG, so it dies with the process (thread)
that started it if that one dies without calling stop().
"""
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import psutil

MARKER = "AUTOML_DASK_TEST_CLUSTER"
HOST = "127.0.0.1"
# --no-dashboard still serves /health and /metrics, by default on 0.0.0.0: keep it on loopback
# One BLAS/OpenMP thread per worker process, as dask-worker's nanny sets: without it each
# forked iteration spins up a pool of busy threads (~100 ms an iteration on 2 cores).
THREADS = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
NO_DASHBOARD = ["--no-dashboard", "--dashboard-address", f"{HOST}:0"]


class DaskClusterError(RuntimeError):
    """The test Dask cluster could not be started; the message has the processes' log tails."""


class DaskCluster:
    """A real scheduler and workers on 127.0.0.1; see the module docstring. Use `with`."""

    def __init__(self, n_workers=2, nthreads=1, env=None, directory=None, timeout=30.0,
                 tls=False):
        self.n_workers = n_workers
        self.nthreads = nthreads
        self.env = dict(env or {})     # for the workers, e.g. {"AUTOML_WIDGETS_FAULTS": "3=hang"}
        self.timeout = timeout
        self._own_directory = directory is None
        self.directory = str(directory) if directory else None
        self.token = secrets.token_hex(8)
        self.address = None
        self.scheduler = None          # subprocess.Popen
        self.workers = {}              # name -> subprocess.Popen, in start order
        self.setup_seconds = None
        self.tls = tls                 # TLS for every connection: files from tls_files()
        self.tls_paths = None          # {ca, cert, key} once started with tls

    # -- lifecycle
    def start(self):
        t0 = time.monotonic()
        if self._own_directory:
            self.directory = tempfile.mkdtemp(prefix="automl-dask-")
        os.makedirs(self.directory, exist_ok=True)
        if self.tls:
            self.tls_paths = tls_files(self.directory)
        try:
            self._start_scheduler()
            for i in range(self.n_workers):
                self._launch_worker(f"worker-{i}")
            self._wait_for_workers(list(self.workers))
        except BaseException:
            self.stop()
            raise
        self.setup_seconds = time.monotonic() - t0
        return self

    def stop(self):
        """End every process (SIGTERM, then SIGKILL after 5 s) and whatever they started."""
        # workers first: a worker told to stop while its scheduler closes can hang for good
        # (its close is cancelled and it retries the scheduler forever; distributed 2026.8)
        _terminate(list(self.workers.values()))
        _terminate([self.scheduler] if self.scheduler else [])
        for p in self.leftover_processes():      # e.g. an iteration in a session of its own
            with contextlib.suppress(psutil.Error):
                p.kill()
        deadline = time.monotonic() + 5
        # until gone or a zombie: an orphan's zombie waits for pid 1, which may reap slowly
        while self.leftover_processes() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._own_directory and self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- for tests
    def client(self, timeout=10):
        """A new distributed.Client to this cluster (close it, or use it with `with`)."""
        from distributed import Client
        return Client(self.address, timeout=timeout, set_as_default=False,
                      security=self.security())

    def security(self):
        """The distributed.Security a client of this cluster needs (None without TLS)."""
        if not self.tls_paths:
            return None
        from distributed import Security
        t = self.tls_paths
        return Security(tls_ca_file=t["ca"], tls_client_cert=t["cert"],
                        tls_client_key=t["key"], require_encryption=True)

    def _tls_args(self, role):
        if not self.tls_paths:
            return []
        t = self.tls_paths
        return ["--tls-ca-file", t["ca"], "--tls-cert", t["cert"], "--tls-key", t["key"]] + (
            ["--protocol", "tls"] if role == "scheduler" else [])

    def worker_pids(self):
        """Name -> pid of each running worker process (the process that runs its tasks)."""
        return {name: p.pid for name, p in self.workers.items() if p.poll() is None}

    def worker_addresses(self):
        """Name -> address of each worker the scheduler knows of now."""
        with self.client() as client:
            return {w["name"]: addr for addr, w in client.scheduler_info()["workers"].items()}

    def kill_worker(self, name, process_group=False):
        """SIGKILL the worker `name` and reap it. With process_group, also the processes it
        started that are still in its group (like losing the whole machine)."""
        proc = self.workers[name]
        if process_group and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.wait()

    def kill_scheduler(self):
        """SIGKILL the scheduler and reap it. The workers (no nanny) notice the lost
        connection and exit by themselves at once, with code 0."""
        self.scheduler.kill()
        self.scheduler.wait()

    def add_worker(self, name=None, env=None):
        """Start one more worker (default name worker-<n>), with `env` over the cluster's env;
        returns its name once the scheduler lists it."""
        name = name or f"worker-{len(self.workers)}"
        if name in self.worker_pids():
            raise ValueError(f"worker {name!r} is already running")
        if name in self.workers:    # a killed one: the scheduler refuses a name it still lists
            deadline = time.monotonic() + self.timeout
            while name in self.worker_addresses():
                self._check_alive(self.scheduler, "scheduler", deadline)
                time.sleep(0.02)
        self._launch_worker(name, env)
        try:
            self._wait_for_workers([name])
        except BaseException:
            self.workers[name].kill()
            self.workers[name].wait()
            raise
        return name

    def leftover_processes(self):
        """Live processes started by this cluster, its workers' children included."""
        found = []
        for p in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if p.status() != psutil.STATUS_ZOMBIE and p.environ().get(MARKER) == self.token:
                    found.append(p)
        return found

    def log(self, name="scheduler"):
        with open(os.path.join(self.directory, f"{name}.log"), errors="replace") as f:
            return f.read()

    # -- internals
    def _popen(self, name, module, args, env=None):
        # imported here, not above: this file is also each process's entry point
        from automl_widgets.engine.faults import VARIABLE as FAULTS
        log_path = os.path.join(self.directory, f"{name}.log")
        # faults only from `env`, never inherited from a test's monkeypatched environment
        environ = {k: v for k, v in os.environ.items() if k != FAULTS}
        environ.update(env or {}, **{MARKER: self.token})
        with open(log_path, "a") as log:
            return subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), str(os.getpid()), module, *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=environ,
                cwd=self.directory, start_new_session=True)

    def _start_scheduler(self):
        path = os.path.join(self.directory, "scheduler.json")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.scheduler = self._popen(
            "scheduler", "distributed.cli.dask_scheduler",
            ["--host", HOST, "--port", "0", "--scheduler-file", path, *NO_DASHBOARD,
             *self._tls_args("scheduler")])
        deadline = time.monotonic() + self.timeout
        while True:      # the scheduler writes the file once it listens
            with contextlib.suppress(FileNotFoundError, ValueError):
                with open(path) as f:
                    self.address = json.load(f)["address"]
                break
            self._check_alive(self.scheduler, "scheduler", deadline)
            time.sleep(0.02)

    def _launch_worker(self, name, env=None):
        self.workers[name] = self._popen(
            name, "distributed.cli.dask_worker",
            [self.address, "--name", name, "--host", HOST, "--nthreads", str(self.nthreads),
             "--nworkers", "1", "--no-nanny", *NO_DASHBOARD,
             "--local-directory", os.path.join(self.directory, name), *self._tls_args("worker")],
            env={**THREADS, **self.env, **(env or {})})

    def _wait_for_workers(self, names):
        """Wait until the scheduler lists a running worker for each name."""
        deadline = time.monotonic() + self.timeout
        with self.client(timeout=self.timeout) as client:
            while True:
                workers = client.scheduler_info()["workers"].values()
                ready = {w["name"] for w in workers if w["status"] == "running"}
                if ready.issuperset(names):
                    return
                self._check_alive(self.scheduler, "scheduler", deadline)
                for name in names:
                    self._check_alive(self.workers[name], name, deadline)
                time.sleep(0.02)

    def _check_alive(self, proc, name, deadline):
        if proc.poll() is not None:
            raise DaskClusterError(f"{name} exited with code {proc.returncode}.\n{self._tails()}")
        if time.monotonic() > deadline:
            raise DaskClusterError(f"{name} was not ready within {self.timeout:.0f} s.\n"
                                   f"{self._tails()}")

    def _tails(self, lines=30):
        out = []
        for name in ["scheduler", *self.workers]:
            with contextlib.suppress(OSError):
                tail = self.log(name).splitlines()[-lines:]
                out.append(f"--- {name}.log (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(out)

    def __repr__(self):
        return f"<DaskCluster {self.address} workers={sorted(self.worker_pids())}>"


def _terminate(procs, timeout=5.0):
    """SIGTERM, then SIGKILL what is left after `timeout`, then the rest of their groups."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)     # children left in its group


def tls_files(directory) -> dict:
    """A throwaway CA-signed certificate and key for 127.0.0.1, as files in `directory`
    (distributed's own Security.temporary() makes them; TLS settings name files)."""
    from distributed import Security
    made = Security.temporary()
    paths = {}
    for name, pem in (("ca", made.tls_ca_file), ("cert", made.tls_client_cert),
                      ("key", made.tls_client_key)):
        paths[name] = os.path.join(directory, f"tls-{name}.pem")
        with open(os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(pem)
    return paths


def _exec(parent_pid, module):
    """The processes' entry point: die with the parent, then run the dask CLI as `-m` would."""
    import runpy
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)    # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:      # the parent died before prctl
        sys.exit(1)
    sys.path.pop(0)                     # this folder (tests/), which `-m` would not add
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _exec(int(sys.argv[1]), sys.argv[2])
