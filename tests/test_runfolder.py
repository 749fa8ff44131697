"""The run-folder protocol: append-only events, offset readers, replay-safe state."""
import json

from automl_widgets.runfolder import EventReader, EventWriter, RunState

SPEC = {"primary_metric": "log_loss", "task": "classification"}


def test_reader_ignores_a_partial_last_line_and_resumes_by_offset(tmp_path):
    w = EventWriter(tmp_path)
    w.emit("run_started")
    with open(tmp_path / "events.jsonl", "ab") as f:  # a line still being written
        f.write(b'{"seq": 2, "event": "iteration_sta')
    r = EventReader(tmp_path)
    assert [e["seq"] for e in r.read_new()] == [1]
    with open(tmp_path / "events.jsonl", "ab") as f:
        f.write(b'rted", "iteration": 0, "pipeline": "x", "time": 1}\n')
    assert [e["seq"] for e in r.read_new()] == [2]
    assert r.read_new() == []
    # A second reader from a saved offset sees only what came after it.
    again = EventReader(tmp_path, offset=r.offset)
    w.seq = 2
    w.emit("run_finished", status="Completed")
    assert [e["event"] for e in again.read_new()] == ["run_finished"]


def test_writer_continues_the_sequence_and_writes_no_nan(tmp_path):
    EventWriter(tmp_path).emit("a", value=float("nan"))
    e = EventWriter(tmp_path).emit("b")
    assert e["seq"] == 2
    first = json.loads((tmp_path / "events.jsonl").read_text().splitlines()[0])
    assert first["value"] is None


def test_state_counts_replayed_events_once_and_respects_metric_direction():
    st = RunState(SPEC)
    evs = [{"seq": 1, "event": "run_started", "time": 0},
           {"seq": 2, "event": "iteration_started", "iteration": 0, "pipeline": "a", "time": 1},
           {"seq": 3, "event": "iteration_finished", "iteration": 0, "status": "Completed",
            "metrics": {"log_loss": 0.5}, "duration": 1, "time": 2},
           {"seq": 4, "event": "iteration_started", "iteration": 1, "pipeline": "b", "time": 2},
           {"seq": 5, "event": "iteration_finished", "iteration": 1, "status": "Completed",
            "metrics": {"log_loss": 0.3}, "duration": 1, "time": 3}]
    for e in evs + evs:  # a reconnecting reader replays from an older offset
        st.apply(e)
    assert st.finished_order == [0, 1]
    assert st.best == 1  # lower log_loss is better
    assert st.iterations[1]["best_so_far"] == 0.3
    assert st.status == "Running"
    st.apply({"seq": 6, "event": "run_finished", "status": "Completed", "time": 4})
    assert st.finished
