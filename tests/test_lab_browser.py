"""The JupyterLab "AutoML" panel in a real jupyter lab and Debian's Chromium: the sidebar
lists the workspace's experiments and runs and follows a live run submitted while it is
open, and opens its run view (tests/test_view_browser.py drives the view itself)."""
import pathlib
import re
import shutil

import pytest
from browser import Browser, JupyterLab, screenshot

from automl_widgets import AutoMLConfig, Experiment, Workspace
from automl_widgets.engine.faults import VARIABLE as FAULTS

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
EXAMPLE = "notebooks/01-local-classification.ipynb"


def _print_run_folder(folder):
    for path in sorted(pathlib.Path(folder).rglob("*")):
        if path.is_file() and path.suffix in (".log", ".txt", ".jsonl", ".json"):
            print(f"--- {path} ---")
            print(path.read_text(errors="replace")[-4000:])


def _count(page, run_id):
    return page.locator(f".aw-side-run[data-run='{run_id}'] .aw-side-count")


@pytest.mark.timeout(600)
def test_sidebar_and_run_view(tmp_path, cancer, monkeypatch):
    ws = Workspace.create(tmp_path)
    X, y = cancer
    settings = dict(task="classification", X=X, y=y, n_cross_validations=2,
                    enable_ensembling=False, random_state=0)
    done = Experiment(ws, "finished_runs").submit(AutoMLConfig(iterations=3, **settings))
    done.wait_for_completion()
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS / EXAMPLE.split("/")[-1], tmp_path / "notebooks")
    live = None
    with JupyterLab(tmp_path) as lab, Browser() as browser:
        page = browser.open(lab.url("lab"))
        try:
            page.locator(".lm-TabBar-tab[data-id='automl-widgets-sidebar']").click()
            sidebar = page.locator("#automl-widgets-sidebar")
            sidebar.locator(".aw-side-experiment[data-experiment='finished_runs']").wait_for()
            row = sidebar.locator(f".aw-side-run[data-run='{done.id}']")
            assert "Completed" in row.locator(".aw-badge").inner_text()
            assert _count(page, done.id).inner_text() == "3 / 3"

            # A run submitted now (not from this page) shows up and its count goes up.
            monkeypatch.setenv(FAULTS, "1=hang,3=hang")
            live = Experiment(ws, "live_runs").submit(AutoMLConfig(iterations=6, **settings))
            _count(page, live.id).filter(has_text=re.compile(r"^1 / 6$")).wait_for()
            assert "Running" in sidebar.locator(f".aw-side-run[data-run='{live.id}'] .aw-badge").inner_text()
            sidebar.locator(".aw-side-filter").fill("live_runs")
            assert sidebar.locator(".aw-side-run").count() == 1
            screenshot(page, "lab-sidebar.png")

            # The run view opens from the sidebar (tests/test_view_browser.py drives it).
            sidebar.locator(f".aw-side-run[data-run='{live.id}']").click()
            view = page.locator(f"#automl-run-{live.id} .aw-view")
            view.locator(".aw-table tbody tr[data-iteration='1'].status-Running").wait_for()
            live.cancel()
            sidebar.locator(f".aw-side-run[data-run='{live.id}'] .aw-badge",
                            has_text="Canceled").wait_for(timeout=120_000)
            view.locator(".aw-badge", has_text="Canceled").wait_for()

            # The example notebooks under notebooks/ open from the panel.
            sidebar.locator(".aw-side-filter").fill("")
            sidebar.locator(".aw-side-example", has_text=EXAMPLE).click()
            page.locator(".lm-TabBar-tab", has_text=EXAMPLE.split("/")[-1]).wait_for()
        except Exception:
            screenshot(page, "lab-failure.png")
            print(lab.output())
            if live is not None:   # did the run stall, or the sidebar's follower?
                _print_run_folder(live.folder)
            raise
