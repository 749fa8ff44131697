"""The Dask test infrastructure itself: a real cluster (tests/dask_cluster.py, fixtures in
conftest_dask.py)."""
import contextlib
import os
import signal
import subprocess
import sys

import psutil
import pytest
from dask_cluster import DaskCluster, DaskClusterError
from distributed import Client
from helpers import until

from automl_widgets.engine.faults import VARIABLE as FAULTS


def start_child(path):
    """Code for a task to exec (the scheduler cannot import this module, so no function of it
    can be a task): start a process as an iteration would, in a session of its own, out of the
    worker's process group; the process writes its pid to `path` once it runs."""
    child = f"import os, time; open({path!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    return ("import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', {child!r}], start_new_session=True)")


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_both_workers_answer_on_loopback_only(dask_cluster):
    assert dask_cluster.address.startswith("tcp://127.0.0.1:")
    pids = dask_cluster.worker_pids()
    addresses = dask_cluster.worker_addresses()
    assert set(pids) == set(addresses) == {"worker-0", "worker-1"}
    with dask_cluster.client() as client:
        assert client.scheduler_info()["total_threads"] == 2
        for name, address in addresses.items():
            future = client.submit(os.getpid, workers=[address], pure=False)
            assert future.result(timeout=30) == pids[name]
        # the faults of the test process stay out of the workers
        assert client.run(os.getenv, FAULTS) == {a: None for a in addresses.values()}
    listening = [c.laddr for p in dask_cluster.leftover_processes()
                 for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN]
    assert len(listening) == 6    # scheduler and each worker: the service and its HTTP server
    assert {ip for ip, _ in listening} == {"127.0.0.1"}


@pytest.mark.parametrize("fresh_dask_cluster", [{"env": {FAULTS: "2=hang"}}], indirect=True)
def test_killing_a_worker_leaves_the_other_answering(fresh_dask_cluster, tmp_path):
    cluster = fresh_dask_cluster
    addresses, pids = cluster.worker_addresses(), cluster.worker_pids()
    child_pid_file = tmp_path / "child.pid"
    with cluster.client() as client:
        assert client.run(os.getenv, FAULTS) == {a: "2=hang" for a in addresses.values()}
        client.submit(exec, start_child(str(child_pid_file)), workers=[addresses["worker-0"]],
                      pure=False).result(timeout=30)
        assert until(child_pid_file.exists, timeout=30)
        child = int(child_pid_file.read_text())

        cluster.kill_worker("worker-0")
        assert gone(pids["worker-0"]) and cluster.worker_pids() == {"worker-1": pids["worker-1"]}
        assert not gone(child)        # its own session: the worker's end does not reach it
        other = client.submit(os.getpid, workers=[addresses["worker-1"]], pure=False)
        assert other.result(timeout=30) == pids["worker-1"]

        assert cluster.add_worker("worker-0", env={FAULTS: "5=crash"}) == "worker-0"
        new = cluster.worker_addresses()
        assert set(new) == {"worker-0", "worker-1"} and new["worker-0"] != addresses["worker-0"]
        future = client.submit(os.getpid, workers=[new["worker-0"]], pure=False)
        assert future.result(timeout=30) == cluster.worker_pids()["worker-0"]
        assert client.run(os.getenv, FAULTS, workers=[new["worker-0"]]) == {
            new["worker-0"]: "5=crash"}
    assert child in [p.pid for p in cluster.leftover_processes()]   # until the cluster stops


def test_killing_the_scheduler_is_seen_by_a_client(fresh_dask_cluster):
    cluster = fresh_dask_cluster
    with cluster.client() as client:
        assert client.status == "running"
        cluster.kill_scheduler()
        assert until(lambda: client.status != "running", timeout=30)
        with pytest.raises(OSError):
            Client(cluster.address, timeout=1, set_as_default=False)
        # without a nanny the workers end with their scheduler
        assert until(lambda: not cluster.worker_pids(), timeout=30)


def test_nothing_is_left_running_after_the_context_exits(tmp_path):
    child_pid_file = tmp_path / "child.pid"
    with pytest.raises(RuntimeError, match="a failing test"):
        with DaskCluster(n_workers=2, directory=tmp_path / "dask") as cluster:
            pids = [cluster.scheduler.pid, *cluster.worker_pids().values()]
            with cluster.client() as client:
                client.submit(exec, start_child(str(child_pid_file)), pure=False).result(timeout=30)
            assert until(child_pid_file.exists, timeout=30)
            pids.append(int(child_pid_file.read_text()))
            assert {p.pid for p in cluster.leftover_processes()} == set(pids)
            raise RuntimeError("a failing test")
    assert all(gone(pid) for pid in pids)
    assert cluster.leftover_processes() == []
    assert (tmp_path / "dask" / "worker-0.log").exists()   # a given folder is kept


def test_a_worker_that_does_not_start_shows_its_log(tmp_path):
    with pytest.raises(DaskClusterError, match=r"worker-0 exited with code 2") as info:
        DaskCluster(n_workers=1, nthreads="many", directory=tmp_path).start()
    assert "--- worker-0.log" in str(info.value)
    assert "Invalid value for '--nthreads'" in str(info.value)
    assert "--- scheduler.log" in str(info.value)


def test_the_processes_die_with_their_owner(tmp_path):
    """A test session that ends without stop() (killed, os._exit) leaves no cluster behind."""
    code = ("import os, sys; from dask_cluster import DaskCluster\n"
            f"c = DaskCluster(n_workers=2, directory={str(tmp_path)!r}).start()\n"
            "print(c.scheduler.pid, *c.worker_pids().values(), flush=True); os._exit(1)")
    out = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(__file__),
                         capture_output=True, text=True, timeout=120)
    pids = [int(pid) for pid in out.stdout.split()]
    assert len(pids) == 3, out.stderr
    died = until(lambda: all(gone(pid) for pid in pids), timeout=30)
    if not died:                  # not left behind by this test either
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert died
