"""Pytest plugin with the real Dask cluster fixtures; tests/conftest.py loads it with
``pytest_plugins = ["conftest_dask"]``. The cluster itself is tests/dask_cluster.py."""
import pytest
from dask_cluster import DaskCluster


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A real scheduler and 2 single-thread workers (worker-0, worker-1) on 127.0.0.1, shared
    by the module's tests: do not kill parts of it (use fresh_dask_cluster for that).

    Attributes: address, directory, setup_seconds; methods: client(), worker_pids(),
    worker_addresses(), kill_worker(name), kill_scheduler(), add_worker(name, env),
    leftover_processes(), log(name). See dask_cluster.DaskCluster.
    """
    with DaskCluster(n_workers=2, directory=tmp_path_factory.mktemp("dask")) as cluster:
        yield cluster


@pytest.fixture
def fresh_dask_cluster(request, tmp_path):
    """A cluster of its own for one test, stopped after it. Other settings, by indirect
    parametrization with DaskCluster's keyword arguments::

        @pytest.mark.parametrize("fresh_dask_cluster",
                                 [{"env": {"AUTOML_WIDGETS_FAULTS": "2=hang"}}], indirect=True)
    """
    settings = {"n_workers": 2, "directory": tmp_path / "dask", **getattr(request, "param", {})}
    with DaskCluster(**settings) as cluster:
        yield cluster
