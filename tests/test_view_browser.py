"""The run view in a real JupyterLab in Debian's Chromium, driven by Playwright: the same
checks, one test body, on both surfaces that draw it (automl_widgets/widget/runview.js):

- widget: RunDetails(run).show() in a notebook whose next cell blocks in
  run.wait_for_completion(), so every click is answered while the kernel is busy;
- panel: the run opened from the AutoML sidebar, fed by the server's REST API.

The run's iteration 5 hangs writing a log line every half second (fault drill "chatter"),
so the run is live, and that log grows, until the view cancels the iteration. Screenshots
go to artifacts/ (AUTOML_ARTIFACTS) in the light and the dark theme; the README shows them.
"""
import re

import nbformat
import pytest
from browser import Browser, JupyterLab, lab_command, run_all_cells, screenshot
from playwright.sync_api import expect

from automl_widgets import AutoMLConfig, ConfigError, Experiment, Workspace
from automl_widgets.engine.faults import VARIABLE as FAULTS

CHATTERS = 5
ITERATIONS = 8
SETTINGS = dict(task="classification", iterations=ITERATIONS, n_cross_validations=2,
                enable_ensembling=False, random_state=0)
CELL = f"""\
from sklearn.datasets import load_breast_cancer
from automl_widgets import AutoMLConfig, ConfigError, Experiment, Workspace
from automl_widgets.widget import RunDetails

ws = Workspace.create(".")
X, y = load_breast_cancer(return_X_y=True)
run = Experiment(ws, "view-test").submit(AutoMLConfig(X=X, y=y, **{SETTINGS!r}))
RunDetails(run).show()
"""
WAIT = "run.wait_for_completion()\nprint('waited:', run.get_status())"


def _write_notebook(path, *cells):
    nbformat.write(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}}), path)


def _open_widget(page, lab, tmp_path):
    page.goto(lab.url("lab/tree/details.ipynb"))
    run_all_cells(page)
    view = page.locator(".jp-Notebook .aw-view")
    view.wait_for()
    return view, page.locator(".jp-Notebook .jp-Cell").nth(1)


def _open_panel(page, lab, tmp_path):
    X, y = _cancer()
    run = Experiment(Workspace.from_config(tmp_path), "view-test").submit(
        AutoMLConfig(X=X, y=y, **SETTINGS))
    page.goto(lab.url("lab"))
    page.locator(".lm-TabBar-tab[data-id='automl-widgets-sidebar']").click()
    page.locator(f".aw-side-run[data-run='{run.id}']").click()
    view = page.locator(f"#automl-run-{run.id} .aw-view")
    view.wait_for()
    return view, None


def _cancer():
    from sklearn.datasets import load_breast_cancer
    return load_breast_cancer(return_X_y=True)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("surface", ["widget", "panel"])
def test_run_view(tmp_path, monkeypatch, surface):
    monkeypatch.setenv(FAULTS, f"{CHATTERS}=chatter")   # the kernel's run and the test's
    if surface == "widget":
        _write_notebook(tmp_path / "details.ipynb", CELL, WAIT)
    else:
        Workspace.create(tmp_path)
    with JupyterLab(tmp_path) as lab, Browser() as browser:
        page = browser.open(lab.url("lab"))
        try:
            view, waiting = (_open_widget if surface == "widget" else _open_panel)(
                page, lab, tmp_path)
            _drive(page, view, surface, tmp_path)
            if waiting is not None:   # the blocked cell ended when the run did
                waiting.locator(".jp-OutputArea-output", has_text="waited: Completed").wait_for()
        except Exception:
            screenshot(page, f"view-{surface}-failure.png")
            print(lab.output())
            raise
        finally:   # a failed check must not leave the chattering run going for ever
            _cancel_runs(tmp_path)


def _cancel_runs(root):
    try:
        ws = Workspace.from_config(root)
    except ConfigError:
        return
    for run_id, *_ in ws.runs():
        run = ws.find_run(run_id)
        if not run.state.finished:
            run.cancel()
        run.close()


def _drive(page, view, surface, tmp_path):
    table = view.locator(".aw-table")
    row = lambda n: table.locator(f"tbody tr[data-iteration='{n}']")   # noqa: E731

    # Rows appear live; the chattering iteration keeps the run going.
    row(CHATTERS - 1).and_(table.locator(".status-Completed")).wait_for(timeout=240_000)
    row(CHATTERS).and_(table.locator(".status-Running")).wait_for()
    expect(view.locator(".aw-badge")).to_have_text("Running")
    expect(table.locator("tbody tr")).to_have_count(CHATTERS + 1)
    # Its duration so far counts up, formatted in Python: whole seconds.
    row(CHATTERS).locator("td").nth(3).filter(has_text=re.compile(r"^[1-9]\d* s$")).wait_for()

    # A click selects: its properties and its log.
    run_folder, = (tmp_path / ".automl" / "runs").iterdir()
    first = (run_folder / "iterations" / "2" / "log.txt").read_text().splitlines()[0]
    row(2).click()
    expect(row(2)).to_have_attribute("aria-selected", "true")
    view.locator(".aw-properties-title", has_text="Iteration 2 (").wait_for()
    view.locator("pre.aw-log", has_text=first).wait_for()
    expect(view.locator(".aw-properties")).to_contain_text("Hyperparameters")

    # Iteration 3's feature importance, computed on demand before it is selected, so its
    # charts include the importance bars.
    run = Workspace.from_config(tmp_path).find_run(run_folder.name)
    importance = run.get_children()[3].get_feature_importance(max_seconds=60)
    assert len(importance) == 30
    run.close()

    # The keyboard: arrows move the selection, Enter opens the details.
    table.locator(".aw-table-scroll").focus()
    page.keyboard.press("ArrowDown")
    expect(row(3)).to_have_class(re.compile(r"\bselected\b"))
    view.locator(".aw-properties-title", has_text="Iteration 3 (").wait_for()
    page.keyboard.press("Enter")
    expect(view.locator(".aw-properties")).to_be_focused()

    # The metric dropdown changes the plot; a point is each completed iteration.
    ytitle = view.locator(".aw-plot .g-ytitle")
    expect(ytitle).to_have_text("accuracy")
    view.locator("select.aw-metric").select_option("AUC_weighted")
    expect(ytitle).to_have_text("AUC_weighted")
    points = view.locator(".aw-plot .scatterlayer .trace").first.locator(".point")
    expect(points).to_have_count(CHATTERS)
    # The timeline: one bar per started iteration; the families: the best of each.
    view.locator(".aw-tab[data-tab='timeline']").click()
    expect(view.locator(".aw-plot .g-xtitle")).to_have_text("seconds since the run started")
    expect(view.locator(".aw-plot .barlayer .point")).to_have_count(CHATTERS + 1)
    screenshot(page, f"view-{surface}-timeline.png")
    view.locator(".aw-tab[data-tab='families']").click()
    families = view.locator(".aw-family-table tr[data-family]")
    families.first.wait_for()
    assert families.count() >= 2
    # The selected iteration's charts, from its held-out predictions (iteration 3 is
    # selected): confusion matrix, ROC, precision-recall, calibration.
    view.locator(".aw-tab[data-tab='iteration']").click()
    view.locator(".aw-iteration-title", has_text="Iteration 3,").wait_for()
    cells = view.locator(".aw-confusion td")
    expect(cells).to_have_count(4)
    assert sum(int(t) for t in cells.all_inner_texts()) == 569   # breast cancer, held out once
    for chart in ("roc", "pr", "calibration"):
        expect(view.locator(f".aw-chart-{chart} .scatterlayer .trace").first).to_be_visible()
    expect(view.locator(".aw-chart-roc .legendtext").first).to_contain_text("(AUC 0.")
    expect(view.locator(".aw-chart-importance .g-gtitle")).to_have_text("Feature importance")
    expect(view.locator(".aw-chart-importance .barlayer .point")).to_have_count(20)   # the top 20
    # most important on top, by name (the array's column numbers, as categories)
    # Looked up inside one evaluate: the charts may be drawn again (a new element) at any
    # moment while the run goes on, which a locator's two steps can straddle.
    top = view.evaluate("""(el) => [...el.querySelectorAll(
        '.aw-chart-importance .ytick text')].sort((a, b) => a.getBoundingClientRect().top -
        b.getBoundingClientRect().top)[0].textContent""")
    assert top == str(importance["feature"].iloc[0])
    screenshot(page, f"view-{surface}-iteration.png")
    view.evaluate("(el) => el.querySelector('.aw-chart-importance').scrollIntoView()")
    # New rows (the running iteration's duration ticking on) leave unchanged charts alone
    view.evaluate("(el) => { el.querySelector('.aw-chart-importance').dataset.mark = 'kept'; }")
    ticking = row(CHATTERS).locator("td").nth(3)
    expect(ticking).not_to_have_text(ticking.inner_text())
    expect(view.locator(".aw-chart-importance[data-mark='kept']")).to_have_count(1)
    screenshot(page, f"view-{surface}-importance.png")
    view.locator(".aw-tab[data-tab='metric']").click()
    expect(ytitle).to_have_text("AUC_weighted")   # the choice is kept

    # Sort: a click on a header, descending on the second.
    table.locator("th[data-key='iteration']").click()
    expect(table.locator("th[data-key='iteration']")).to_contain_text("\u25BC")
    expect(table.locator("tbody tr").first).to_have_attribute("data-iteration", str(CHATTERS))
    table.locator("th[data-key='iteration']").click()
    expect(table.locator("tbody tr").first).to_have_attribute("data-iteration", "0")

    # The running iteration's log grows while it is shown.
    row(CHATTERS).click()
    log = view.locator("pre.aw-log")
    log.filter(has_text="still working on purpose (fault injection): 2").wait_for()
    log.filter(has_text="still working on purpose (fault injection): 4").wait_for()
    view.scroll_into_view_if_needed()
    screenshot(page, f"view-{surface}-light.png")

    # The dark theme: the view and its plot follow JupyterLab's theme variables.
    lab_command(page, "apputils:change-theme", {"theme": "JupyterLab Dark"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.locator("#jupyterlab-splash").wait_for(state="detached")   # shown while it switches
    page.wait_for_function("""(el) => {
        const want = getComputedStyle(el).getPropertyValue('--jp-ui-font-color1').trim();
        const t = el.querySelector('.aw-plot .g-ytitle text');
        return t && want && getComputedStyle(t).fill.replace(/\\s/g, '') === hex2rgb(want);
        function hex2rgb(c) {
            const d = document.createElement('div'); d.style.color = c;
            document.body.appendChild(d);
            const v = getComputedStyle(d).color.replace(/\\s/g, ''); d.remove(); return v;
        }
    }""", arg=view.element_handle())
    background = page.evaluate("""(el) => getComputedStyle(el.querySelector('.aw-log'))
        .backgroundColor""", view.element_handle())
    assert _dark(background), background
    screenshot(page, f"view-{surface}-dark.png")
    lab_command(page, "apputils:change-theme", {"theme": "JupyterLab Light"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    page.locator("#jupyterlab-splash").wait_for(state="detached")

    # Cancel the chattering iteration: it ends Canceled, its log says so, the run completes.
    cancel = view.locator("button.aw-cancel-iteration")
    expect(cancel).to_have_text(f"Cancel iteration {CHATTERS}")
    expect(cancel).to_be_enabled()
    cancel.click()
    expect(cancel).to_be_disabled()   # asked once
    row(CHATTERS).and_(table.locator(".status-Canceled")).wait_for()
    log.filter(has_text="Canceled").wait_for()
    expect(view.locator(".aw-badge")).to_have_text("Completed", timeout=240_000)
    expect(table.locator("tbody tr")).to_have_count(ITERATIONS)
    expect(view.locator("button.aw-cancel-run")).to_be_disabled()
    expect(view.locator("button.aw-cancel-run")).not_to_have_class(re.compile("aw-danger"))
    expect(view.locator(".aw-run-line")).to_contain_text(f"iterations {ITERATIONS} / {ITERATIONS}")
    # The plot followed: every completed iteration is a point (all but the canceled one).
    expect(points).to_have_count(ITERATIONS - 1)


def _dark(css_color: str) -> bool:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return (r + g + b) / 3 < 100
