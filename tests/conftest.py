import pytest
from sklearn.datasets import load_breast_cancer

from automl_widgets import AutoMLConfig, Experiment, Workspace

pytest_plugins = ["conftest_ssh", "conftest_dask"]  # the real sshd and Dask cluster fixtures


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
