"""The run-folder protocol: append-only typed events, offset readers, replay-safe state."""
import json

from automl_widgets.protocol import EventReader, EventWriter, RunState, Status, events

SPEC = {"primary_metric": "log_loss", "task": "classification"}


def test_reader_ignores_a_partial_last_line_and_resumes_by_offset(tmp_path):
    w = EventWriter(tmp_path)
    w.emit(events.RunStarted(pid=1))
    with open(tmp_path / "events.jsonl", "ab") as f:  # a line still being written
        f.write(b'{"seq": 2, "event": "iteration_sta')
    r = EventReader(tmp_path)
    assert [e.seq for e in r.read_new()] == [1]
    with open(tmp_path / "events.jsonl", "ab") as f:
        f.write(b'rted", "iteration": 0, "pipeline": "x", "time": 1}\n')
    [started] = r.read_new()
    assert isinstance(started, events.IterationStarted) and started.pipeline == "x"
    assert r.read_new() == []
    # A second reader from a saved offset sees only what came after it.
    again = EventReader(tmp_path, offset=r.offset)
    w.seq = 2
    w.emit(events.RunFinished(status=Status.COMPLETED))
    assert [type(e) for e in again.read_new()] == [events.RunFinished]


def test_writer_continues_the_sequence_writes_no_nan_and_versions_each_line(tmp_path):
    EventWriter(tmp_path).emit(events.RunFinished(best_score=float("nan")))
    e = EventWriter(tmp_path).emit(events.CancelRequested())
    assert e.seq == 2
    first = json.loads((tmp_path / "events.jsonl").read_text().splitlines()[0])
    assert first["best_score"] is None and first["v"] == events.VERSION
    assert first["event"] == "run_finished"


def test_reader_skips_unknown_kinds_and_fields_of_a_newer_writer(tmp_path):
    (tmp_path / "events.jsonl").write_text(
        '{"seq": 1, "event": "from_the_future", "time": 0, "v": 9}\n'
        '{"seq": 2, "event": "warning", "time": 0, "v": 9, "message": "m", "new": 1}\n')
    [w] = EventReader(tmp_path).read_new()
    assert isinstance(w, events.Warning) and w.message == "m" and w.seq == 2


def _ev(cls, seq, **kw):
    return cls(seq=seq, time=float(seq), **kw)


def test_state_counts_replayed_events_once_and_respects_metric_direction():
    st = RunState(SPEC)
    evs = [_ev(events.RunStarted, 1),
           _ev(events.IterationStarted, 2, iteration=0, pipeline="a"),
           _ev(events.IterationFinished, 3, iteration=0, status="Completed",
               metrics={"log_loss": 0.5}, duration=1),
           _ev(events.IterationStarted, 4, iteration=1, pipeline="b"),
           _ev(events.IterationFinished, 5, iteration=1, status="Completed",
               metrics={"log_loss": 0.3}, duration=1)]
    for e in evs + evs:  # a reconnecting reader replays from an older offset
        st.apply(e)
    assert st.finished_order == [0, 1]
    assert st.best == 1  # lower log_loss is better
    assert st.best_so_far([0, 1]) == [0.5, 0.3]
    assert st.status == Status.RUNNING
    st.apply(_ev(events.RunFinished, 6, status="Completed"))
    assert st.finished


def test_when_the_run_ends_every_iteration_ends_with_the_reason():
    st = RunState(SPEC)
    st.apply(_ev(events.RunStarted, 1))
    st.apply(_ev(events.IterationStarted, 2, iteration=0, pipeline="a"))
    st.apply(_ev(events.RunFinished, 3, status="Failed", error="disk full"))
    rec = st.iterations[0]
    assert rec["status"] == Status.FAILED
    assert "the run failed before this iteration finished: disk full" == rec["reason"]
    assert st.finished_order == [0]


def test_ensemble_params_come_from_iteration_finished():
    st = RunState(SPEC)
    st.apply(_ev(events.IterationStarted, 1, iteration=5, pipeline="VotingEnsemble"))
    st.apply(_ev(events.IterationFinished, 2, iteration=5, status="Completed",
                 params={"ensembled_iterations": [1, 2], "weights": [2, 1]},
                 metrics={"log_loss": 0.1}))
    assert st.iterations[5]["params"] == {"ensembled_iterations": [1, 2], "weights": [2, 1]}


def test_a_damaged_line_is_skipped_and_the_rest_still_reads(tmp_path):
    (tmp_path / "events.jsonl").write_text(
        '{"seq": 1, "event": "run_started", "time": 0}\n'
        '{"seq": 2, "event": "iteration_sta{"seq": 3, "event": "warning", "time": 0}\n'
        '{"seq": 4, "event": "cancel_requested", "time": 0}\n')
    assert [e.seq for e in EventReader(tmp_path).read_new()] == [1, 4]


def test_a_log_that_is_a_folder_or_under_a_file_reads_empty(tmp_path):
    from automl_widgets.protocol import read_from
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    assert read_from(tmp_path / "dir", 0) == (b"", 0)
    assert read_from(tmp_path / "file" / "log.txt", 5) == (b"", 5)
    assert read_from(tmp_path / "file", 10**30) == (b"", 10**30)


def test_a_full_disk_never_leaves_half_a_line(tmp_path):
    """A real short write: the file-size limit stops the line part way (EFBIG)."""
    import subprocess
    import sys
    import textwrap
    code = textwrap.dedent(f"""
        import resource, signal
        from automl_widgets.protocol import EventWriter, events
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        w = EventWriter({str(tmp_path)!r})
        w.emit(events.RunStarted(pid=1))
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, hard))
        try:
            w.emit(events.Warning(message="x" * 1000))
        except OSError as exc:
            print("refused", exc.errno)
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        w.emit(events.CancelRequested())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("refused")
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    assert [type(e) for e in EventReader(tmp_path).read_new()] == [
        events.RunStarted, events.CancelRequested]


def test_a_live_driver_stays_alive_when_the_wall_clock_is_stepped(tmp_path):
    """The driver is known by its start in ticks since boot: create_time (boot time as
    the wall clock gives it now, plus those ticks) moves when the clock is stepped."""
    import os

    from automl_widgets.protocol import liveness
    liveness.record(str(tmp_path), os.getpid())
    assert liveness.alive(str(tmp_path))
    path = tmp_path / "driver.pid"
    info = json.loads(path.read_text())
    assert isinstance(info["start_ticks"], int)
    path.write_text(json.dumps(dict(info, create_time=info["create_time"] - 1000)))
    assert liveness.alive(str(tmp_path))     # as after a step of the clock
    path.write_text(json.dumps(dict(info, start_ticks=info["start_ticks"] + 1)))
    assert not liveness.alive(str(tmp_path))  # another process under a reused pid
    info.pop("start_ticks")                  # a file from an older version
    path.write_text(json.dumps(info))
    assert liveness.alive(str(tmp_path))
