"""RunDetails in a real JupyterLab in Debian's Chromium, driven by Playwright.

A notebook submits a small local run whose iteration 5 hangs (fault drill), then blocks in
run.wait_for_completion(), so the run is still going and the kernel busy while the test
looks: rows appear, a click on a row shows that iteration's log, the metric dropdown
changes the plot's axis title, and "Cancel iteration" on the hanging one lets the run and
the blocked cell finish. Screenshots go to artifacts/ (AUTOML_ARTIFACTS).
"""
import pathlib
import re
import shutil

import nbformat
import pytest
from browser import Browser, JupyterLab, Notebook7, run_all_cells, screenshot
from playwright.sync_api import expect

from automl_widgets.engine.faults import VARIABLE as FAULTS

HANGS = 5
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
WAIT = "run.wait_for_completion()\nprint('waited:', run.get_status())"


def _write_notebook(path, *cells):
    nbformat.write(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}}), path)


@pytest.mark.timeout(600)
def test_run_details_live_in_jupyterlab(tmp_path):
    _write_notebook(tmp_path / "details.ipynb", CELL, WAIT)
    with JupyterLab(tmp_path, env={FAULTS: f"{HANGS}=hang"}) as lab, Browser() as browser:
        page = browser.open(lab.url("lab/tree/details.ipynb"))
        try:
            _drive(page, tmp_path)
        except Exception:
            screenshot(page, "run-details-failure.png")
            print(lab.output())
            raise


def _drive(page, tmp_path):
    run_all_cells(page)
    # Only the notebook: the AutoML sidebar uses some of the same class names.
    nb = page.locator(".jp-Notebook")

    # Rows appear while the run is going (iteration 5 hangs until canceled).
    table = nb.locator(".aw-table")
    table.locator("tbody tr[data-iteration='4'].status-Completed").wait_for()
    nb.locator(f".aw-table tbody tr[data-iteration='{HANGS}'].status-Running").wait_for()
    badge = nb.locator(".aw-badge")
    assert badge.inner_text() == "Running"
    # Everything below happens while the second cell blocks in wait_for_completion (the
    # run cannot end before the hanging iteration is canceled from the widget).
    waiting = nb.locator(".jp-Cell").nth(1)
    assert "[*]" in waiting.locator(".jp-InputPrompt").inner_text()
    rows = table.locator("tbody tr")
    assert rows.count() == HANGS + 1
    # The running row's duration counts up in the browser (no kernel message needed).
    running = table.locator(f"tbody tr[data-iteration='{HANGS}'] td:nth-child(4)")
    running.filter(has_text=re.compile(r"^[1-9]\d*\.\d\d s$")).wait_for()
    screenshot(page, "run-details-running.png")

    # A click on a row shows that iteration's properties and log.
    workspace_runs = list((tmp_path / ".automl" / "runs").iterdir())
    assert len(workspace_runs) == 1
    log = (workspace_runs[0] / "iterations" / "2" / "log.txt").read_text()
    first_line = log.splitlines()[0]
    assert first_line.startswith("Pipeline: ")
    table.locator("tbody tr[data-iteration='2']").click()
    pane = nb.locator("pre.aw-log")
    pane.filter(has_text=first_line).wait_for()
    nb.locator(".aw-properties", has_text="Iteration 2").wait_for()
    expect(table.locator("tbody tr[data-iteration='2']")).to_have_class(re.compile(r"\bselected\b"))

    # The dropdown changes the plotted metric: the y axis title follows.
    ytitle = nb.locator(".js-plotly-plot .g-ytitle")
    assert ytitle.text_content() == "accuracy"
    nb.locator(".widget-dropdown select").select_option("AUC_weighted")
    nb.locator(".js-plotly-plot .g-ytitle", has_text="AUC_weighted").wait_for()
    points = nb.locator(".js-plotly-plot .scatterlayer .trace").first.locator(".point")
    assert points.count() >= HANGS

    # A click on a header sorts the table.
    table.locator("th[data-key='iteration']").click()
    nb.locator(".aw-table th[data-key='iteration']", has_text="\u25BC").wait_for()
    # Arrow and rows are drawn in one frame, so the order is already there.
    first = table.locator("tbody tr").first.get_attribute("data-iteration")
    assert first == str(HANGS)

    # Cancel the hanging iteration: it ends Canceled and the run completes.
    table.locator(f"tbody tr[data-iteration='{HANGS}']").click()
    button = nb.locator(f"button:has-text('Cancel iteration {HANGS}')")
    button.wait_for()
    assert button.is_enabled()
    button.click()
    nb.locator(f".aw-table tbody tr[data-iteration='{HANGS}'].status-Canceled").wait_for()
    nb.locator(".aw-badge", has_text="Completed").wait_for(timeout=120_000)
    waiting.locator(".jp-OutputArea-output", has_text="waited: Completed").wait_for()
    expect(table.locator("tbody tr")).to_have_count(8)   # rows and header update apart
    # The plot followed: every completed iteration is a point (all but the canceled one).
    page.wait_for_function("""() => {
        const x = document.querySelector('.js-plotly-plot').data[0].x;
        return JSON.stringify(Array.from(x)) === '[0,1,2,3,4,6,7]'; }""")
    expect(nb.locator("button:has-text('Cancel run')")).to_be_disabled()
    header = nb.locator(".aw-title").locator("xpath=..").inner_text()
    assert re.search(r"iterations 8 / 8", header), header
    table.locator("tbody tr[data-iteration='0']").click()
    nb.locator(".aw-properties", has_text="Iteration 0").wait_for()
    screenshot(page, "run-details.png")


@pytest.mark.timeout(600)
def test_run_details_in_notebook_7(tmp_path):
    """The same widget in Jupyter Notebook 7, with nothing installed beyond the package."""
    _write_notebook(tmp_path / "details.ipynb", CELL.replace("iterations=8", "iterations=4"))
    with Notebook7(tmp_path) as server, Browser() as browser:
        page = browser.open(server.url("notebooks/details.ipynb"))
        try:
            run_all_cells(page)
            widget = page.locator(".jp-Notebook .automl-run-details")
            widget.locator(".aw-badge", has_text="Completed").wait_for(timeout=300_000)
            rows = widget.locator(".aw-table tbody tr")
            expect(rows).to_have_count(4)
            expect(widget.locator("button:has-text('Cancel run')")).to_be_disabled()
            run_folder, = (tmp_path / ".automl" / "runs").iterdir()
            first = (run_folder / "iterations" / "1" / "log.txt").read_text().splitlines()[0]
            rows.nth(1).click()
            widget.locator("pre.aw-log", has_text=first).wait_for()
            widget.locator(".widget-dropdown select").select_option("AUC_weighted")
            widget.locator(".js-plotly-plot .g-ytitle", has_text="AUC_weighted").wait_for()
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
            widget = nb.locator(".automl-run-details")
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
            assert widget.locator(".js-plotly-plot .g-ytitle").text_content() == "AUC_weighted"
            widget.locator(".widget-dropdown select").select_option("accuracy")
            widget.locator(".js-plotly-plot .g-ytitle", has_text="accuracy").wait_for()
            widget.scroll_into_view_if_needed()
            screenshot(page, "notebook-01-run-details.png")
        except Exception:
            screenshot(page, "notebook-01-failure.png")
            print(lab.output())
            raise
