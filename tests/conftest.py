import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from automl_widgets import AutoMLConfig, Experiment, Workspace

pytest_plugins = ["conftest_ssh"]  # the real sshd fixture


@pytest.fixture
def ws(tmp_path):
    return Workspace.create(tmp_path / "ws")


@pytest.fixture(scope="session")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture
def submit(ws, cancer):
    """Submit a small, fast classification run; keyword arguments override settings."""
    def _submit(experiment="test", **settings):
        X, y = cancer
        base = dict(task="classification", X=X, y=y, iterations=4, n_cross_validations=2,
                    enable_ensembling=False, random_state=0,
                    whitelist_models=["LogisticRegression", "DecisionTree", "SGD"])
        base.update(settings)
        if "data_script" in settings:
            base.pop("X"), base.pop("y")
        return Experiment(ws, experiment).submit(AutoMLConfig(**base))
    return _submit


def events(run):
    from automl_widgets.protocol import EventReader
    return [e.to_dict() for e in EventReader(run.folder).read_new()]


def finished_once(run):
    """Every iteration of the run finished exactly once; returns their numbers."""
    done = [e["iteration"] for e in events(run) if e["event"] == "iteration_finished"]
    assert len(done) == len(set(done)), f"an iteration finished twice: {done}"
    return sorted(done)


def rng_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, (X[:, 0] + rng.normal(scale=0.5, size=n) > 0).astype(int)


UNIT_FILES = {"test_runfolder.py", "test_config.py", "test_metrics_search.py", "test_lint.py"}
SSH_FILES = {"test_ssh.py", "test_sshd_fixture.py"}


def pytest_collection_modifyitems(config, items):
    """One marker per test, by its file (see markers in pyproject.toml); `-m unit` is fast."""
    for item in items:
        name = item.path.name
        if name.endswith("_browser.py"):
            item.add_marker(pytest.mark.browser)
        elif item.get_closest_marker("ssh"):
            pass  # an ssh parameter of a test that runs for every target
        elif name in SSH_FILES or "sshd" in item.fixturenames:
            item.add_marker(pytest.mark.ssh)
        elif name in UNIT_FILES:
            item.add_marker(pytest.mark.unit)
        else:
            item.add_marker(pytest.mark.integration)
