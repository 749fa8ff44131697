"""RunDetails where users meet it first: Jupyter Notebook 7, and notebooks/01 run whole in
JupyterLab. (tests/test_view_browser.py drives the run view itself, as widget and panel.)
Screenshots go to artifacts/ (AUTOML_ARTIFACTS).
"""
import pathlib
import re
import shutil

import nbformat
import pytest
from browser import Browser, JupyterLab, Notebook7, run_all_cells, screenshot
from playwright.sync_api import expect

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
CELL = """\
from sklearn.datasets import load_breast_cancer
from automl_widgets import AutoMLConfig, Experiment, Workspace
from automl_widgets.widget import RunDetails

ws = Workspace.create(".")
X, y = load_breast_cancer(return_X_y=True)
run = Experiment(ws, "browser-test").submit(AutoMLConfig(
    task="classification", X=X, y=y, iterations=8, n_cross_validations=2,
    enable_ensembling=False, random_state=0))
RunDetails(run).show()
"""


def _write_notebook(path, *cells):
    nbformat.write(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}}), path)


@pytest.mark.timeout(600)
def test_run_details_in_notebook_7(tmp_path):
    """The same widget in Jupyter Notebook 7, with nothing installed beyond the package."""
    _write_notebook(tmp_path / "details.ipynb", CELL.replace("iterations=8", "iterations=4"))
    with Notebook7(tmp_path) as server, Browser() as browser:
        page = browser.open(server.url("notebooks/details.ipynb"))
        try:
            run_all_cells(page)
            widget = page.locator(".jp-Notebook .aw-view")
            widget.locator(".aw-badge", has_text="Completed").wait_for(timeout=300_000)
            rows = widget.locator(".aw-table tbody tr")
            expect(rows).to_have_count(4)
            expect(widget.locator("button:has-text('Cancel run')")).to_be_disabled()
            run_folder, = (tmp_path / ".automl" / "runs").iterdir()
            first = (run_folder / "iterations" / "1" / "log.txt").read_text().splitlines()[0]
            rows.nth(1).click()
            widget.locator("pre.aw-log", has_text=first).wait_for()
            widget.locator("select.aw-metric").select_option("AUC_weighted")
            widget.locator(".aw-plot .g-ytitle", has_text="AUC_weighted").wait_for()
            screenshot(page, "notebook7-run-details.png")
        except Exception:
            screenshot(page, "notebook7-failure.png")
            print(server.output())
            raise


@pytest.mark.timeout(900)
def test_notebook_01_in_jupyterlab(tmp_path):
    """What a newcomer does: open notebooks/01-local-classification.ipynb and run it all.
    The widget fills in (updates come from a background thread), then answers clicks once
    the kernel is free."""
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(
        ".automl", ".ipynb_checkpoints", "__pycache__", "*.log"))
    with JupyterLab(work) as lab, Browser() as browser:
        page = browser.open(lab.url("lab/tree/01-local-classification.ipynb"))
        try:
            run_all_cells(page)
            nb = page.locator(".jp-Notebook")
            widget = nb.locator(".aw-view")
            # The run (10 iterations, boosters, 2 at a time) may end before the widget
            # first draws: live updates are test_run_details_live_in_jupyterlab's.
            widget.locator(".aw-badge", has_text=re.compile("Running|Completed")).wait_for(
                timeout=300_000)
            widget.locator(".aw-table tbody tr").first.wait_for()
            widget.locator(".aw-badge", has_text="Completed").wait_for(timeout=600_000)
            # every cell has run (the kernel is free again): clicks are answered
            page.wait_for_function("""() => ![...document.querySelectorAll('.jp-InputPrompt')]
                .some(e => e.textContent.includes('*'))""", timeout=300_000)
            rows = widget.locator(".aw-table tbody tr")
            expect(rows).to_have_count(10)
            expect(widget.locator("button:has-text('Cancel run')")).to_be_disabled()
            run_folder, = (work / ".automl" / "runs").iterdir()
            first = (run_folder / "iterations" / "4" / "log.txt").read_text().splitlines()[0]
            rows.nth(4).click()
            widget.locator("pre.aw-log", has_text=first).wait_for()
            assert widget.locator(".aw-plot .g-ytitle").text_content() == "AUC_weighted"
            widget.locator("select.aw-metric").select_option("accuracy")
            widget.locator(".aw-plot .g-ytitle", has_text="accuracy").wait_for()
            widget.scroll_into_view_if_needed()
            screenshot(page, "notebook-01-run-details.png")
        except Exception:
            screenshot(page, "notebook-01-failure.png")
            print(lab.output())
            raise
