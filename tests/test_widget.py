"""RunDetails and the run view model at the Python level: the view follows real runs, the
front end's messages act on them, and what is sent stays proportional to what changed.
(tests/test_view_browser.py draws the same view in JupyterLab, as widget and as panel.)"""
import json
import os
import shutil

import ipywidgets
import pytest
import synthetic

from automl_widgets import Experiment, catalog
from automl_widgets.client.run import Run
from automl_widgets.engine.faults import VARIABLE as FAULTS
from automl_widgets.viewmodel import RunView, duration_text, score_text
from automl_widgets.widget import RunDetails


def rows_by(d):
    return {r["iteration"]: r for r in d.rows}


def status_of(n):
    return lambda d: rows_by(d).get(n, {}).get("status")


def front_end(d, **msg):
    """What runview.js sends on a click."""
    d._on_front_end_msg(d, msg, [])


def props(d) -> dict:
    return dict(d.properties["rows"]) if d.properties else {}


def test_follows_a_live_run_selection_log_metrics_and_cancel(submit, monkeypatch):
    monkeypatch.setenv(FAULTS, "3=hang")
    run = submit(iterations=6)
    d = RunDetails(run)
    if not d.rows:   # before any iteration: the table says it is waiting
        assert d.header["empty"].startswith("Waiting for the first iteration")
    assert d.wait_until(lambda d: status_of(3)(d) == "Running")
    assert [status_of(n)(d) for n in range(3)] == ["Completed"] * 3
    assert d.header["status"] == "Running" and "iterations 3 / 6" in d.header["line"]
    assert d.header["best_iteration"] == run.best["iteration"]
    assert rows_by(d)[2]["best"] == pytest.approx(max(rows_by(d)[n]["score"] for n in range(3)))
    assert rows_by(d)[2]["best_text"] == score_text(rows_by(d)[2]["best"])
    assert d.can_cancel_run
    # A running row's duration counts up in whole seconds, formatted here.
    assert d.wait_until(lambda d: (rows_by(d)[3]["duration"] or 0) >= 1)
    assert rows_by(d)[3]["duration_text"].endswith(" s")

    # Select the running iteration: its log so far, and its cancel allowed.
    d.select(3)
    log = open(os.path.join(run.folder, "iterations", "3", "log.txt")).read()
    assert log.splitlines()[0] in d.log_text
    assert props(d)["Status"] == "Running" and d.properties["title"].startswith("Iteration 3")
    assert 3 in d.cancelable
    front_end(d, type="cancel_iteration", n=3)
    assert os.path.exists(os.path.join(run.folder, "control", "cancel_iteration.3"))
    assert 3 not in d.cancelable   # asked once: the button goes grey
    assert d.wait_until(lambda d: status_of(3)(d) == "Canceled")
    assert d.wait_until(lambda d: d.header["status"] == "Completed")
    # The selected iteration's log kept tailing: it ends with the cancel.
    assert d.wait_until(lambda d: "Canceled" in d.log_text)
    assert not d.can_cancel_run and d.cancelable == []
    assert sorted(rows_by(d)) == list(range(6))

    # Selecting another iteration shows its properties, metrics and log.
    d.select(1)
    rec = next(r for r in run.iterations if r["iteration"] == 1)
    assert props(d)["Pipeline"] == rec["pipeline"]
    assert "AUC_weighted" in props(d) and "Hyperparameters" in props(d)
    assert d.log_text.startswith("Pipeline: ")

    # The metrics: primary first, every computed one, each with its best-so-far steps.
    names = [m["name"] for m in d.metrics]
    assert names[0] == "accuracy" and "AUC_weighted" in names
    completed = sorted(n for n, r in rows_by(d).items() if r["status"] == "Completed")
    losses = [rows_by(d)[n]["metrics"]["log_loss"] for n in completed]
    want = [rec["metrics"]["log_loss"] for rec in run.iterations if rec["iteration"] in completed]
    assert losses == pytest.approx(want, rel=1e-5)
    steps = next(m for m in d.metrics if m["name"] == "log_loss")["best"]
    improving = [[n, v] for i, (n, v) in enumerate(zip(completed, losses))
                 if v < min(losses[:i], default=2)]
    assert steps == improving            # a loss: best goes down, stepwise
    # The families: the best of each, best first.
    fams = {f["family"]: f for f in d.families}
    assert set(fams) == {catalog.family_of(rows_by(d)[n]["pipeline"]) for n in rows_by(d)}
    bests = [f["best"] for f in d.families if f["best"] is not None]
    assert bests == sorted(bests, reverse=True)
    d.close()


def test_cancel_run_from_the_front_end(submit, monkeypatch):
    monkeypatch.setenv(FAULTS, "1=hang")
    run = submit(iterations=10)
    d = RunDetails(run)
    assert d.wait_until(lambda d: status_of(1)(d) == "Running")
    front_end(d, type="cancel_run")
    assert d.wait_until(lambda d: d.header["status"] == "Canceled")
    assert not d.can_cancel_run
    assert set(rows_by(d)) == {0, 1} and status_of(1)(d) == "Canceled"


def test_a_failed_run_a_reattached_run_and_the_text_form(submit, tmp_path):
    script = tmp_path / "get_data.py"
    script.write_text("def get_data():\n    raise ValueError('no database here')\n")
    failed = submit(data_script=str(script))
    failed.wait_for_completion()
    d = RunDetails(failed)
    assert d.header["status"] == "Failed" and "no database here" in d.header["error"]
    assert d.rows == [] and d.header["empty"] == "No iteration ran."
    assert not d.can_cancel_run

    done = submit(iterations=3)
    done.wait_for_completion()
    again = Run(Experiment(done.experiment.workspace, "test"), done.id)  # as a new kernel would
    d = RunDetails(again)
    assert [r["status"] for r in d.rows] == ["Completed"] * 3
    assert all(r["metrics"]["accuracy"] is not None for r in d.rows)
    # Where widgets cannot render, the text form is the classic table.
    data, _ = d._repr_mimebundle_()
    text = data["text/plain"]
    assert f"Parent Run ID: {done.id}" in text and "Status: Completed" in text
    assert "RunDetails(" not in text and "widget_settings" not in text
    assert len([line for line in text.splitlines() if line.startswith("         ")]) == 3
    with pytest.raises(TypeError, match="widget_settings must be a dict"):
        RunDetails(again, widget_settings="fast")


class _Records:
    """Just enough of a Run for RunView: its records (the view's rules, not a run, are tested)."""

    def __init__(self, records, metric="accuracy"):
        self.id, self.spec = "AutoML_x", {"primary_metric": metric, "iterations": 10,
                                          "target": {"name": "local"}}
        self.records = records

    def snapshot(self):
        return {"iterations": self.records, "status": "Running", "finished": False,
                "error": None, "warnings": [], "best": None, "done": len(self.records),
                "start_time": 0.0, "elapsed": 1.0, "link": None, "log_sizes": {}}

    def cancel_requests(self):
        return set()


def test_best_so_far_is_in_iteration_order_whatever_order_they_finished_in():
    def rec(n, score, status="Completed"):
        return {"iteration": n, "status": status, "score": score,
                "pipeline": f"Standardize p{n}", "metrics": {"log_loss": score}}
    # 2 finished first (the table must not show 0.90 then 0.95 then 0.90)
    records = [rec(0, 0.90), rec(2, 0.80), rec(1, 0.95), rec(3, None, "Failed")]
    view = RunView(_Records(records))
    view.refresh()
    assert [r["best"] for r in view.rows()] == [0.90, 0.95, 0.95, 0.95]
    loss = RunView(_Records(records, "log_loss"))   # a loss: lower is better
    loss.refresh()
    assert [r["best"] for r in loss.rows()] == [0.90, 0.90, 0.80, 0.80]
    assert loss.metrics()[0]["best"] == [[0, 0.9], [2, 0.8]]


def test_rows_since_a_version_and_the_formats():
    records = [{"iteration": 0, "status": "Completed", "score": 0.5, "pipeline": "Standardize x"}]
    run = _Records(records)
    view = RunView(run)
    first = view.refresh()
    assert len(first) == 1 and view.refresh() == []        # nothing new: nothing to send
    version = view.version
    records.append({"iteration": 1, "status": "Completed", "score": 0.7, "pipeline": "y"})
    assert [r["iteration"] for r in view.refresh()] == [1]
    assert [r["iteration"] for r in view.rows(version)] == [1]
    assert duration_text(4.213) == "4.21 s" and duration_text(65) == "1 min 05 s"
    assert duration_text(7380) == "2 h 03 min" and duration_text(None) == ""
    assert duration_text(12.9, whole=True) == "12 s"
    assert score_text(0.91234) == "0.9123" and score_text(-6924054.67) == "-6.924e+06"
    assert score_text(-5.1044544153364945e25) == "-5.104e+25" and score_text(None) == ""
    assert catalog.family_of("Scale MaxAbs 1 LightGBM") == "LightGBM"
    assert catalog.family_of("StackEnsemble") == "StackEnsemble"


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

    def row_messages(since=0):
        return [m for w, m in sent[since:] if w is d and m.get("method") == "custom"
                and m["content"].get("type") == "rows"]

    # 2,000 iterations arrive at once: a handful of messages, each row sent once.
    burst, seq = synthetic.iterations(0, 2000, seq)
    synthetic.append(folder, burst)
    assert d.wait_until(lambda d: len(d.rows) == 2000)
    custom = row_messages()
    assert 1 <= len(custom) <= 3, len(custom)
    assert sum(len(m["content"]["rows"]) for m in custom) == 2000
    whole = sum(len(json.dumps(m["content"])) for m in custom)

    # Five more iterations: only their rows travel.
    before = len(sent)
    more, seq = synthetic.iterations(2000, 2005, seq)
    synthetic.append(folder, more)
    assert d.wait_until(lambda d: len(d.rows) == 2005)
    later = row_messages(before)
    rows = sum(len(m["content"]["rows"]) for m in later)
    assert 5 <= rows <= 10       # each new row, perhaps once running and once finished
    # Everything sent for them (rows, header, metric steps) is far below the whole table.
    after = sum(len(json.dumps(m, default=str)) for _, m in sent[before:])
    assert after < whole / 20, (after, whole)
    d.close()
    run.close()
    shutil.rmtree(folder)
