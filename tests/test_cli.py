"""The automl-widgets command line, run as a real process on a real workspace."""
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid

import pytest
import yaml
from helpers import cli, running

from automl_widgets import AutoMLConfig, DaskCompute, Experiment, RunConfiguration, Workspace
from automl_widgets.compute import SSHCompute

SETTINGS = {"task": "classification", "primary_metric": "accuracy",
            "data_script": "get_data.py", "iterations": 3, "n_cross_validations": 2,
            "enable_ensembling": False, "random_state": 0,
            "whitelist_models": ["LogisticRegression", "DecisionTree"]}
GET_DATA = textwrap.dedent("""
    from sklearn.datasets import load_iris
    def get_data():
        X, y = load_iris(return_X_y=True)
        return {"X": X, "y": y}
""")


def table_rows(out):
    """{iteration: (pipeline, metric, best)} from lines made by console.row."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^ +(\d+) {5}(.{38}) (.{17}) +(\S+) +(\S+)$", line)
        if m:
            rows[int(m[1])] = (m[2].strip(), m[4], m[5])
    return rows


def parent_run_id(out):
    return re.search(r"Parent Run ID: (AutoML_[0-9a-f-]{36})", out)[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A workspace and, elsewhere, a project folder with get_data.py and settings.json."""
    root = tmp_path_factory.mktemp("cli")
    ws = Workspace.create(root / "ws")
    (root / "project").mkdir()
    (root / "project" / "get_data.py").write_text(GET_DATA)
    settings = root / "project" / "settings.json"
    settings.write_text(json.dumps(SETTINGS))
    return ws, settings


@pytest.fixture(scope="module")
def finished(project):
    """A run submitted from a folder that is not the project's: data_script still resolves."""
    ws, settings = project
    proc = cli(ws.path, "run", str(settings), cwd=ws.path)
    assert proc.returncode == 0, proc.stderr
    return ws, parent_run_id(proc.stdout), proc


@pytest.mark.parametrize("task, metric", [("classification", "AUC_weighted"),
                                          ("regression", "r2_score")])
def test_demo_creates_a_workspace_and_prints_the_table_and_the_best(tmp_path, task, metric):
    proc = cli(None, "demo", "--task", task, "--iterations", "4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"Created workspace {tmp_path}" in out
    assert "\n ITERATION     PIPELINE" in out
    assert f"BEST: The best observed {metric} thus far." in out
    rows = table_rows(out)
    assert sorted(rows) == [0, 1, 2, 3]
    scores = {n: float(metric_) for n, (_, metric_, _) in rows.items()}
    best = int(re.search(r"^Best iteration: (\d+)$", out, re.M).group(1))
    # the best by the full score; the table's 4 decimals may show a tie with it
    assert scores[best] == max(scores.values())
    assert f"Best iteration: {best}\nPipeline: {rows[best][0]}\n{metric}: {rows[best][1]}" in out
    # ensembling is on by default: the last two are the ensembles
    assert [rows[2][0], rows[3][0]] == ["VotingEnsemble", "StackEnsemble"]
    runs = Workspace.from_config(tmp_path).runs()
    assert [(r[0], r[1], r[4]) for r in runs] == [(parent_run_id(out), "demo", "Completed")]


def test_run_json_settings_resolves_data_script_next_to_the_file(finished):
    ws, run_id, proc = finished
    assert "\n ITERATION     PIPELINE" in proc.stdout
    assert sorted(table_rows(proc.stdout)) == [0, 1, 2]
    run = ws.find_run(run_id)
    assert run.get_status() == "Completed"
    assert run.experiment.name == "settings"  # named after the settings file
    assert run.get_details()["data"]["rows"] == 150
    assert f"Best iteration: {run.state.best}\n" in proc.stdout


def test_run_yaml_settings_with_experiment_name(project, tmp_path):
    ws, _ = project
    (tmp_path / "get_data.py").write_text(GET_DATA)
    settings = tmp_path / "automl.yaml"
    settings.write_text(yaml.safe_dump(dict(SETTINGS, iterations=2)))
    proc = cli(ws.path, "run", str(settings), "--experiment", "from_yaml", cwd=ws.path)
    assert proc.returncode == 0, proc.stderr
    run = ws.find_run(parent_run_id(proc.stdout))
    assert run.get_status() == "Completed"
    assert run.experiment.name == "from_yaml"
    assert run.spec["data_script"] == str(tmp_path / "get_data.py")
    assert sorted(table_rows(proc.stdout)) == [0, 1]


@pytest.mark.parametrize("name, text, message", [
    ("bad.json", json.dumps(dict(SETTINGS, n_cross_validations=1)),
     "The 'n_cross_validations' parameter of AutoMLConfig must be an int in the range "
     "[2, inf), a str among {'auto'} or None. Got 1 instead."),
    ("typo.yaml", yaml.safe_dump(dict(SETTINGS, iteration=3)),
     "'iteration' is not a setting of AutoMLConfig. Did you mean 'iterations'?"),
    ("nodata.json", json.dumps(dict(SETTINGS, data_script="missing.py")),
     "The 'data_script' file"),
    ("broken.yaml", "task: [classification\n", "is not valid YAML"),
    ("list.json", "[1, 2]", "must hold a mapping of AutoMLConfig settings"),
    ("settings.toml", "task = 1\n", "must end in .json, .yaml or .yml"),
])
def test_bad_settings_exit_2_with_the_message_and_start_nothing(tmp_path, name, text, message):
    ws = Workspace.create(tmp_path / "ws")
    (tmp_path / "get_data.py").write_text(GET_DATA)
    (tmp_path / name).write_text(text)
    proc = cli(ws.path, "run", str(tmp_path / name))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stderr.startswith("automl-widgets: error: ")
    assert "Traceback" not in proc.stderr
    assert ws.runs() == [] and os.listdir(ws.runs_dir) == []


def test_a_run_that_fails_on_the_target_exits_1_with_its_error(project, tmp_path):
    ws, _ = project
    (tmp_path / "get_data.py").write_text("def get_data():\n    raise OSError('no database')\n")
    (tmp_path / "s.json").write_text(json.dumps(SETTINGS))
    proc = cli(ws.path, "run", str(tmp_path / "s.json"), "--experiment", "failing")
    assert proc.returncode == 1
    # The error keeps its type and names the script's line (issue 9, defect 5).
    assert "Run Failed: Loading the data failed in get_data() of" in proc.stdout
    assert "OSError: no database" in proc.stdout and "line 2, in get_data" in proc.stdout
    assert "with no completed iteration" in proc.stderr and "Traceback" not in proc.stderr


def test_list_shows_runs_newest_first_and_filters_by_experiment(project, finished):
    ws, settings = project
    _, old_id, _ = finished
    proc = cli(ws.path, "run", str(settings), "--no-wait", "--experiment", "listed")
    assert proc.returncode == 0, proc.stderr
    new_id = proc.stdout.strip()
    assert re.fullmatch(r"AutoML_[0-9a-f-]{36}", new_id)
    try:
        out = cli(ws.path, "list").stdout.splitlines()
        assert out[0].split() == ["RUN", "ID", "EXPERIMENT", "STATUS", "CREATED", "METRIC",
                                  "BEST", "NAME"]
        ids = [line.split()[0] for line in out[1:]]
        assert ids[0] == new_id
        old = ws.find_run(old_id)
        old_line = out[1 + ids.index(old_id)].split()
        assert old_line[1:3] == ["settings", "Completed"]
        assert old_line[-2:] == ["accuracy", f"{old.best['score']:.4f}"]
        only = cli(ws.path, "list", "--experiment", "listed").stdout.splitlines()
        assert [line.split()[0] for line in only[1:]] == [new_id]
        none = cli(ws.path, "list", "--experiment", "nothing_here")
        assert none.returncode == 0 and "No runs in workspace" in none.stdout
    finally:
        ws.find_run(new_id).wait_for_completion(timeout=120)


def test_show_prints_details_and_every_iteration(finished):
    ws, run_id, _ = finished
    proc = cli(ws.path, "show", run_id)
    assert proc.returncode == 0, proc.stderr
    for line in (f"Run:         {run_id}", "Status:      Completed", "Task:        classification",
                 "Metric:      accuracy", "Stop reason: iterations_done"):
        assert line in proc.stdout.splitlines()
    rows = table_rows(proc.stdout)
    run = ws.find_run(run_id)
    best = 0.0
    expected = {}
    for r in run.iterations:   # best so far, in iteration order as show prints them
        best = max(best, r["score"])
        expected[r["iteration"]] = (r["pipeline"], f"{r['score']:.4f}", f"{best:.4f}")
    assert rows == expected


def test_logs_prints_the_iteration_log(finished):
    ws, run_id, _ = finished
    run = ws.find_run(run_id)
    proc = cli(ws.path, "logs", run_id, "1")
    assert proc.returncode == 0, proc.stderr
    assert f"Pipeline: {run.iterations[1]['pipeline']}\n" in proc.stdout
    assert proc.stdout == run.get_children()[1].get_log()
    follow = cli(ws.path, "logs", run_id, "1", "--follow")  # finished: prints and returns
    assert follow.returncode == 0 and follow.stdout == proc.stdout
    wrong = cli(ws.path, "logs", run_id, "3")
    assert wrong.returncode == 2
    assert "has iterations 0 to 2; there is no iteration 3" in wrong.stderr


@pytest.mark.timeout(180)
def test_cancel_one_hanging_iteration_while_following_its_log(project):
    ws, settings = project
    proc = cli(ws.path, "run", str(settings), "--no-wait", "--experiment", "cancel_one",
               faults="1=hang")
    assert proc.returncode == 0, proc.stderr
    run = ws.find_run(proc.stdout.strip())
    assert run.wait_until(running(1), timeout=60)
    follow = subprocess.Popen([sys.executable, "-m", "automl_widgets.client.cli", "--workspace",
                               ws.path, "logs", run.id, "1", "--follow"],
                              stdout=subprocess.PIPE, text=True)
    try:
        first = follow.stdout.readline()  # blocks until the hanging iteration has said so
        assert first == "hanging on purpose (fault injection)\n"
        cancel = cli(ws.path, "cancel", run.id, "--iteration", "1")
        assert cancel.returncode == 0, cancel.stderr
        assert f"Cancel requested for iteration 1 of run {run.id}." in cancel.stdout
        rest = follow.stdout.read()  # --follow returns once the iteration has ended
        assert follow.wait(timeout=60) == 0
    finally:
        follow.kill()
        follow.stdout.close()
    assert "[automl-widgets] Canceled: canceled on request" in rest
    run.wait_for_completion(timeout=120)
    run = ws.find_run(run.id)  # a fresh reader of the finished run
    assert {r["iteration"]: r["status"] for r in run.iterations} == {
        0: "Completed", 1: "Canceled", 2: "Completed"}
    assert run.get_status() == "Completed"
    again = cli(ws.path, "cancel", run.id, "--iteration", "1")
    assert again.returncode == 0 and "has already ended (Completed)" in again.stdout


@pytest.mark.timeout(180)
def test_cancel_the_run(project):
    ws, settings = project
    proc = cli(ws.path, "run", str(settings), "--no-wait", "--experiment", "cancel_all",
               faults="1=hang")
    run = ws.find_run(proc.stdout.strip())
    assert run.wait_until(running(1), timeout=60)
    bad = cli(ws.path, "cancel", run.id, "--iteration", "9")
    assert bad.returncode == 2 and r"iteration must be an int in [0, 2]" in bad.stderr
    cancel = cli(ws.path, "cancel", run.id)
    assert cancel.returncode == 0 and f"Cancel requested for run {run.id}." in cancel.stdout
    run.wait_for_completion(timeout=120)
    run = ws.find_run(run.id)  # a fresh reader of the finished run
    assert run.get_status() == "Canceled"
    assert {r["iteration"]: r["status"] for r in run.iterations} == {
        0: "Completed", 1: "Canceled"}
    show = cli(ws.path, "show", run.id).stdout.splitlines()
    assert "Status:      Canceled" in show and "Stop reason: canceled" in show


UNKNOWN = f"AutoML_{uuid.uuid4()}"


@pytest.mark.parametrize("args", [["show", UNKNOWN], ["logs", UNKNOWN, "0"],
                                  ["cancel", UNKNOWN, "--iteration", "0"],
                                  ["show", "not-a-run"]])
def test_unknown_run_id_exits_2(finished, args):
    ws, _, _ = finished
    proc = cli(ws.path, *args)
    assert proc.returncode == 2
    assert f"No run {args[1]!r} in workspace {ws.path}." in proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_workspace_is_a_clear_error(tmp_path):
    proc = cli(None, "list", cwd=tmp_path)
    assert proc.returncode == 2
    assert "No workspace config.json found" in proc.stderr and "--workspace" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / ".automl").exists()


@pytest.mark.parametrize("text", ['{"workspace_name": "theirs", "path": "/"}', "[1, 2]",
                                  "name = x\n"], ids=["other tool", "list", "not json"])
def test_read_only_commands_pass_by_a_config_json_not_ours_and_create_nothing(tmp_path, text):
    (tmp_path / "config.json").write_text(text)
    (tmp_path / "sub").mkdir()
    before = sorted(tmp_path.rglob("*"))
    for args in (["list"], ["show", UNKNOWN], ["logs", UNKNOWN, "0"], ["cancel", UNKNOWN]):
        proc = cli(None, *args, cwd=tmp_path / "sub")
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("automl-widgets: error: No workspace config.json found")
        assert f"Passed by {tmp_path / 'config.json'}: " in proc.stderr
        assert "Traceback" not in proc.stderr
    named = cli(tmp_path / "config.json", "list")
    assert named.returncode == 2 and "is not an automl-widgets workspace config" in named.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_a_damaged_workspace_config_is_one_clear_line(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    config = os.path.join(ws.data_dir, "config.json")
    with open(config, "w") as f:
        f.write("[1, 2]")
    proc = cli(ws.path, "list")
    assert proc.returncode == 2
    assert proc.stderr == (f"automl-widgets: error: The workspace config {config} is damaged: "
                           "it holds a JSON list, not an object. Workspace.create wrote it as "
                           '{"automl_widgets": 1, "workspace_name": "..."}.\n')


@pytest.mark.parametrize("args", [["list"], ["show", "RUN"], ["logs", "RUN", "1"]])
def test_a_reader_that_closes_early_ends_the_command_quietly(finished, args):
    ws, run_id, _ = finished
    args = [run_id if a == "RUN" else a for a in args]
    read, write = os.pipe()
    os.close(read)   # the reader is gone before the first byte, as `| head -1` may be
    try:
        proc = subprocess.run([sys.executable, "-m", "automl_widgets.client.cli",
                               "--workspace", ws.path, *args], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert proc.stderr == ""   # no BrokenPipeError traceback, nor "Exception ignored"
    assert proc.returncode == 1


@pytest.fixture(scope="module")
def on_dask(tmp_path_factory, dask_cluster):
    """A workspace with a Dask and an SSH target attached, and a finished run on the first."""
    root = tmp_path_factory.mktemp("cli-dask")
    ws = Workspace.create(root / "ws")
    (root / "get_data.py").write_text(GET_DATA)
    cluster = DaskCompute.attach(ws, "cluster", address=dask_cluster.address)
    SSHCompute.attach(ws, "mydsvm", address="10.0.0.4", port=2222, username="ubuntu")
    config = AutoMLConfig(**{**SETTINGS, "data_script": str(root / "get_data.py")},
                          run_configuration=RunConfiguration(cluster))
    run = Experiment(ws, "on_dask").submit(config)
    run.wait_for_completion(timeout=120)
    assert run.get_status() == "Completed", run.get_details()["error"]
    return ws, run


def test_targets_lists_each_attached_target_with_its_address(on_dask, dask_cluster):
    ws, _ = on_dask
    proc = cli(ws.path, "targets")
    assert proc.returncode == 0, proc.stderr
    assert [line.split() for line in proc.stdout.splitlines()] == [
        ["NAME", "KIND", "ADDRESS"], ["cluster", "dask", dask_cluster.address],
        ["mydsvm", "ssh", "ubuntu@10.0.0.4:2222"]]


def test_targets_of_a_workspace_without_any_says_so(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    proc = cli(ws.path, "targets")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"No compute targets attached to workspace {ws.path}")
    assert "DaskCompute.attach" in proc.stdout


def test_show_prints_the_target_and_where_it_is(on_dask, dask_cluster, finished):
    ws, run = on_dask
    proc = cli(ws.path, "show", run.id)
    assert proc.returncode == 0, proc.stderr
    assert f"Target:      cluster (dask {dask_cluster.address})" in proc.stdout.splitlines()
    assert len(table_rows(proc.stdout)) == SETTINGS["iterations"]
    local_ws, local_id, _ = finished
    local = cli(local_ws.path, "show", local_id)
    assert "Target:      local" in local.stdout.splitlines()
