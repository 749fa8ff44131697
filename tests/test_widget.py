"""RunDetails at the Python level: its widgets' state follows real runs, and what it sends
stays proportional to what changed. (tests/test_widget_browser.py shows it in JupyterLab.)"""
import json
import os
import shutil

import ipywidgets
import pytest
import synthetic
from plotly.callbacks import Points

from automl_widgets import Experiment
from automl_widgets.client.run import Run
from automl_widgets.engine.faults import VARIABLE as FAULTS
from automl_widgets.widget import RunDetails
from automl_widgets.widget.plot import MetricPlot
from automl_widgets.widget.table import IterationTable, table_rows


def rows_by(d):
    return {r["iteration"]: r for r in d.table.rows}


def status_of(n):
    return lambda d: rows_by(d).get(n, {}).get("status")


def test_follows_a_live_run_selection_log_dropdown_and_cancel(submit, monkeypatch):
    monkeypatch.setenv(FAULTS, "3=hang")
    run = submit(iterations=6)
    d = RunDetails(run)
    # Before any iteration: the table says it is waiting.
    if not d.table.rows:
        assert d.table.empty_text.startswith("Waiting for the first iteration")
    assert d.wait_until(lambda d: status_of(3)(d) == "Running")
    assert [status_of(n)(d) for n in range(3)] == ["Completed"] * 3
    assert "Running" in d.header.value and "iterations 3 / 6" in d.header.value
    best = run.best["iteration"]
    assert d.table.best_iteration == best
    assert rows_by(d)[2]["best"] == pytest.approx(max(rows_by(d)[n]["score"] for n in range(3)))
    assert not d.cancel_run_button.disabled and d.cancel_run_button.button_style == "danger"

    # Select the running iteration: its log so far, and a cancel button for it.
    d.select(3)
    log = open(os.path.join(run.folder, "iterations", "3", "log.txt")).read()
    assert log.splitlines()[0] in d.log_pane.value
    assert "Running" in d.properties_pane.value
    assert d.cancel_iteration_button.description == "Cancel iteration 3"
    assert not d.cancel_iteration_button.disabled
    d.cancel_iteration_button.click()
    assert os.path.exists(os.path.join(run.folder, "control", "cancel_iteration.3"))
    assert d.cancel_iteration_button.disabled  # sent once
    assert d.wait_until(lambda d: status_of(3)(d) == "Canceled")
    assert d.wait_until(lambda d: "Completed" in d.header.value)
    # The selected iteration's log kept tailing: it ends with the cancel.
    assert d.wait_until(lambda d: "Canceled" in d.log_pane.value)
    assert d.cancel_run_button.disabled and d.cancel_iteration_button.disabled
    assert d.cancel_run_button.button_style == ""   # a finished run shows no red button
    assert sorted(rows_by(d)) == list(range(6))

    # Selecting another iteration shows its properties, metrics and log.
    d.select(1)
    rec = next(r for r in run.iterations if r["iteration"] == 1)
    assert rec["pipeline"] in d.properties_pane.value
    assert "AUC_weighted" in d.properties_pane.value and "Hyperparameters" in d.properties_pane.value
    assert "Log of iteration 1" in d.log_pane.value

    # The plot: primary metric first, every metric computed in the dropdown.
    plot = d.plot
    assert plot.dropdown.value == "accuracy" and "AUC_weighted" in plot.dropdown.options
    completed = sorted(n for n, r in rows_by(d).items() if r["status"] == "Completed")
    assert list(plot.figure.data[0].x) == completed
    plot.dropdown.value = "log_loss"
    assert plot.figure.layout.yaxis.title.text == "log_loss"
    losses = [next(r for r in run.iterations if r["iteration"] == n)["metrics"]["log_loss"]
              for n in completed]
    assert list(plot.figure.data[0].y) == pytest.approx(losses, rel=1e-5)
    # best so far of a loss goes down, stepwise: the steps where it improves, then the end
    steps = [(n, v) for i, (n, v) in enumerate(zip(completed, losses))
             if v < min(losses[:i], default=2)]
    line_x, line_y = list(plot.figure.data[1].x), list(plot.figure.data[1].y)
    assert line_x[:len(steps)] == [n for n, _ in steps]
    assert line_y[:len(steps)] == pytest.approx([v for _, v in steps], rel=1e-5)
    assert line_x[-1] == completed[-1] and line_y[-1] == pytest.approx(min(losses), rel=1e-5)
    assert plot.figure.data[1].line.shape == "hv"
    assert plot.figure.layout.xaxis.dtick == 1   # few iterations: whole-number ticks
    # A click on a point selects that iteration.
    plot.figure.data[0]._dispatch_on_click(
        Points(point_inds=[1], xs=[completed[1]], ys=[losses[1]], trace_name="iteration",
               trace_index=0), None)
    assert d.table.selected == completed[1]
    d.close()


def test_cancel_run_button(submit, monkeypatch):
    monkeypatch.setenv(FAULTS, "1=hang")
    run = submit(iterations=10)
    d = RunDetails(run)
    assert d.wait_until(lambda d: status_of(1)(d) == "Running")
    d.cancel_run_button.click()
    assert d.wait_until(lambda d: "Canceled" in d.header.value and ">Canceled<" in d.header.value)
    assert d.cancel_run_button.disabled
    assert set(rows_by(d)) == {0, 1} and status_of(1)(d) == "Canceled"


def test_a_failed_run_a_reattached_run_and_the_text_form(submit, tmp_path):
    script = tmp_path / "get_data.py"
    script.write_text("def get_data():\n    raise ValueError('no database here')\n")
    failed = submit(data_script=str(script))
    failed.wait_for_completion()
    d = RunDetails(failed)
    assert ">Failed<" in d.header.value and "no database here" in d.header.value
    assert d.table.rows == [] and d.table.empty_text == "No iteration ran."
    assert d.cancel_run_button.disabled

    done = submit(iterations=3)
    done.wait_for_completion()
    again = Run(Experiment(done.experiment.workspace, "test"), done.id)  # as a new kernel would
    d = RunDetails(again)
    assert [r["status"] for r in d.table.rows] == ["Completed"] * 3
    assert list(d.plot.figure.data[0].x) == [0, 1, 2]
    # Where widgets cannot render, the text form is the classic table.
    text = d._repr_mimebundle_()["text/plain"]
    assert f"Parent Run ID: {done.id}" in text and "Status: Completed" in text
    assert "RunDetails(" not in text and "widget_settings" not in text
    assert len([line for line in text.splitlines() if line.startswith("         ")]) == 3
    with pytest.raises(TypeError, match="widget_settings must be a dict"):
        RunDetails(again, widget_settings="fast")


def test_best_so_far_is_in_iteration_order_whatever_order_they_finished_in():
    def rec(n, score, status="Completed"):
        return {"iteration": n, "status": status, "score": score, "pipeline": f"p{n}"}
    # 2 finished first (the table must not show 0.90 then 0.95 then 0.90)
    records = [rec(0, 0.90), rec(2, 0.80), rec(1, 0.95), rec(3, None, "Failed")]
    assert [r["best"] for r in table_rows(records)] == [0.90, 0.95, 0.95, 0.95]
    assert [r["best"] for r in table_rows(records, greater_is_better=False)] == \
        [0.90, 0.90, 0.80, 0.80]
    table = IterationTable(records, metric="log_loss")   # a loss: lower is better
    assert [r["best"] for r in table.rows] == [0.90, 0.90, 0.80, 0.80]


def test_plot_ticks_whole_iterations():
    plot = MetricPlot("accuracy")

    def records(n):
        return [{"iteration": i, "status": "Completed", "metrics": {"accuracy": 0.5}}
                for i in range(n)]
    plot.update(records(4))
    assert plot.figure.layout.xaxis.dtick == 1
    plot.update(records(12))   # plotly's own spacing: whole numbers from here on
    assert plot.figure.layout.xaxis.dtick is None and len(plot.figure.data[0].x) == 12


def test_two_thousand_iterations_cost_messages_in_proportion_to_what_changed(
        submit, monkeypatch):
    # A real run's folder, given a spec for 2,100 iterations and events written here.
    base = submit(iterations=1)
    base.wait_for_completion()
    ws = base.experiment.workspace
    run_id, folder, seq = synthetic.new_run_folder(ws, base.folder, 2100)
    run = Run(Experiment(ws, "test"), run_id, target=synthetic.AliveTarget())
    d = RunDetails(run)

    sent = []
    original = ipywidgets.Widget._send

    def record(widget, msg, buffers=None):
        sent.append((widget, msg))
        return original(widget, msg, buffers)
    monkeypatch.setattr(ipywidgets.Widget, "_send", record)

    def table_messages():
        return [m for w, m in sent if w is d.table and m.get("method") == "custom"]

    # 2,000 iterations arrive at once: a handful of messages, each row sent once.
    burst, seq = synthetic.iterations(0, 2000, seq)
    synthetic.append(folder, burst)
    assert d.wait_until(lambda d: len(d.table.rows) == 2000)
    custom = table_messages()
    assert 1 <= len(custom) <= 3, len(custom)
    assert sum(len(m["content"]["rows"]) for m in custom) == 2000
    whole = sum(len(json.dumps(m["content"])) for m in custom)

    # Five more iterations: only their rows travel.
    before = len(sent)
    more, seq = synthetic.iterations(2000, 2005, seq)
    synthetic.append(folder, more)
    assert d.wait_until(lambda d: len(d.table.rows) == 2005)
    later = [m for w, m in sent[before:] if w is d.table and m.get("method") == "custom"]
    rows = sum(len(m["content"]["rows"]) for m in later)
    assert 5 <= rows <= 10       # each new row, perhaps once running and once finished
    table_bytes = sum(len(json.dumps(m)) for w, m in sent[before:] if w is d.table)
    assert table_bytes < 200 * rows + 1000 < whole / 20
    # Nothing else sends the whole table: the largest message of any widget is the plot's
    # two traces (numbers only), far below the table's size.
    biggest = max(len(json.dumps(m, default=str)) for _, m in sent[before:])
    assert biggest < whole / 2
    d.close()
    run.close()
    shutil.rmtree(folder)
