"""The example notebooks, executed for real in a kernel running this venv's Python.

Each notebook runs in a temporary copy of notebooks/, so its workspace (.automl/) and
run folders are made there and nothing is written into the repository. The SSH notebook
(02) runs against the real OpenSSH server of tests/sshd.py (the `sshd` fixture), which it
is given through the AUTOML_SSH_* environment variables the kernel inherits; the Dask
notebook (03) runs on the real cluster of tests/dask_cluster.py (the `dask_cluster` fixture),
given as AUTOML_DASK_ADDRESS.
"""
import json
import re
import shutil
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient.exceptions import CellExecutionError

from automl_widgets import ConfigError, Workspace
from automl_widgets.engine.faults import VARIABLE as FAULTS

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
ALL_NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
# Notebooks that need nothing but this machine. Those needing an SSH host or a Dask
# cluster will join with their own environment setup.
LOCAL_PREFIXES = ("01", "04")
LOCAL_NOTEBOOKS = [p for p in ALL_NOTEBOOKS if p.name.startswith(LOCAL_PREFIXES)]
SSH_NOTEBOOK = NOTEBOOKS_DIR / "02-remote-ssh.ipynb"
CLASSIC_NOTEBOOK = NOTEBOOKS_DIR / "00-classic-remote-example.ipynb"
DASK_NOTEBOOK = NOTEBOOKS_DIR / "03-dask-cluster.ipynb"
CELL_TIMEOUT = 300  # seconds, per cell
# prepare() on the test server's bare host installs numpy, scipy, scikit-learn, ... into a
# fresh remote venv (pip, or wheels uploaded from here): minutes, in one cell.
SSH_CELL_TIMEOUT = 1800
KERNEL = "python3"

# A row of the classic table: " <iteration>     <pipeline> <duration> <metric> <best>"
# (the pipeline reads "(never started)" for an iteration canceled before it started).
TABLE_ROW = re.compile(r"^ +\d+ {5}")


def _kernel_manager(tmp_path) -> KernelManager:
    """A kernel named "python3" that runs exactly this interpreter (the venv's), whatever
    kernelspecs the user or the system has installed."""
    kernels = tmp_path / "kernels"
    (kernels / KERNEL).mkdir(parents=True)
    (kernels / KERNEL / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (automl-widgets venv)", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)
    # A connection file of its own: left to itself, jupyter_client writes /tmp/tmpXXXX.json
    # and leaves it behind.
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs,
                         connection_file=str(tmp_path / "kernel.json"))


def _outputs_text(cell, stream=None) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and stream in (None, out.name):
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data") and stream is None:
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error" and stream is None:
            parts.append("\n".join(out.traceback))
    return "".join(parts)


def _tagged(nb, tag):
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def execute(notebook: Path, tmp_path: Path, timeout=CELL_TIMEOUT):
    """Run `notebook` in a tmp copy of notebooks/; returns (executed nb, work folder)."""
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, work, ignore=shutil.ignore_patterns(
        ".automl", ".ipynb_checkpoints", "__pycache__", "*.log"))
    try:  # a workspace config in a folder above tmp would capture the run: keep it here
        Workspace.from_config(work)
        Workspace.create(work)
    except ConfigError:
        pass  # the usual case: the notebook creates its workspace, as on a fresh clone
    nb = nbformat.read(work / notebook.name, as_version=4)
    # Checked first, in the same kernel: it is the venv's interpreter.
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        "import sys; print('KERNEL-PYTHON', sys.executable, sys.prefix)"))
    client = nbclient.NotebookClient(
        nb, km=_kernel_manager(tmp_path), kernel_name=KERNEL, timeout=timeout,
        allow_errors=False, resources={"metadata": {"path": str(work)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{notebook.name}: a cell raised\n" + re.sub(r"\x1b\[[0-9;]*m", "", str(exc)))
    finally:  # kept for a look when something fails
        nbformat.write(nb, tmp_path / f"executed-{notebook.name}")
    return nb, work


def test_the_local_notebooks_are_found():
    assert [p.name for p in LOCAL_NOTEBOOKS] == ["01-local-classification.ipynb",
                                                 "04-insight.ipynb"]


def test_every_notebook_is_executed_by_a_test():
    assert set(ALL_NOTEBOOKS) == set(LOCAL_NOTEBOOKS) | {SSH_NOTEBOOK, DASK_NOTEBOOK,
                                                         CLASSIC_NOTEBOOK}


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{notebook.name} cell {i} has stored outputs; clear them before committing")


@pytest.mark.timeout(15 * 60)
@pytest.mark.parametrize("notebook", LOCAL_NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(notebook, tmp_path):
    nb, work = execute(notebook, tmp_path)
    run_folder = _check_ran_cleanly(nb, work)
    if notebook.name.startswith("01-local-classification"):
        _check_classification(nb, work, run_folder)
    if notebook.name.startswith("04-insight"):
        _check_insight(nb, work, run_folder)


def _check_ran_cleanly(nb, work) -> Path:
    """The kernel was this venv's, no cell failed, and the notebook made exactly one run,
    in the tmp workspace; returns its (local) run folder."""
    # The kernel ran this venv's Python.
    first = _outputs_text(nb.cells[0], "stdout").strip()
    assert first == f"KERNEL-PYTHON {sys.executable} {sys.prefix}", first

    # No cell failed, not even one whose exception was caught and printed as a traceback.
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert all(o.output_type != "error" for o in cell.outputs), f"cell {i} errored"
        assert "Traceback (most recent call last)" not in _outputs_text(cell), (
            f"cell {i} printed a traceback:\n{_outputs_text(cell)}")

    # Every run the notebook made lives in the tmp workspace, not in the repository.
    runs_dir = work / ".automl" / "runs"
    runs = sorted(p for p in runs_dir.iterdir() if p.name.startswith("AutoML_"))
    assert len(runs) == 1, f"expected one run folder in {runs_dir}, found {runs}"
    run_folder = runs[0]
    assert not (NOTEBOOKS_DIR / ".automl" / "runs" / run_folder.name).exists()
    return run_folder


def _check_classification(nb, work, run_folder):
    run_id = run_folder.name
    # The classic table: the header, the parent run id, then one row per iteration.
    _, rows = _table_rows(nb, run_id)
    numbers = [int(r[0]) for r in rows]
    assert len(numbers) == len(set(numbers)) and set(numbers) <= set(range(10)), numbers
    # METRIC is the score of a Completed iteration, else its status (Failed, TimedOut, ...).
    scores = [float(r[-2]) for r in rows if re.fullmatch(r"\d\.\d{4}", r[-2])]
    assert scores and all(0.5 < s <= 1 for s in scores), rows  # AUC on breast cancer
    assert float(rows[-1][-1]) == pytest.approx(max(scores), abs=1e-4)

    # The run finished as Completed, and the notebook says so.
    status = _outputs_text(_tagged(nb, "status"), "stdout")
    assert "Run status: Completed" in status, status
    events = [json.loads(line) for line in (run_folder / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "run_finished"
    finished = [e for e in events if e["event"] == "iteration_finished"]
    assert sorted(e["iteration"] for e in finished) == sorted(numbers)

    _check_prediction(nb)

    # RunDetails: a widget view, and the classic table as its text form.
    shown = [o for o in _tagged(nb, "widget").outputs if o.output_type == "display_data"]
    assert len(shown) == 1, _tagged(nb, "widget").outputs
    assert "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    assert f"Parent Run ID: {run_id}" in shown[0]["data"]["text/plain"]

    # debug_log went into the run folder, not into the notebook's folder.
    assert (run_folder / "automl_errors.log").is_file()
    assert not (work / "automl_errors.log").exists()


def _check_insight(nb, work, run_folder):
    """Guardrails before the table, two of them not passed; the leaderboard, importance,
    charts' data, a registered version and an ONNX graph that agrees with the Pipeline."""
    out = _outputs_text(_tagged(nb, "run"), "stdout")
    assert out.index("DATA GUARDRAILS:") < out.index("ITERATION") and "Run status: Completed" in out
    guard = _outputs_text(_tagged(nb, "guardrails"), "stdout")
    flagged = re.findall(r"^\d+ +(\w+) +(warning|fixed)", guard, re.M)
    assert ("class_imbalance", "warning") in flagged and ("id_like_columns", "warning") in flagged
    assert ("missing_values", "fixed") in flagged
    board = _outputs_text(_tagged(nb, "leaderboard"), "stdout").splitlines()
    assert board[0].split() == ["iteration", "pipeline", "status", "AUC_weighted", "duration"]
    scores = [float(line.split()[-2]) for line in board[1:] if "Completed" in line]
    assert len(scores) >= 3 and scores == sorted(scores, reverse=True)
    importance = _outputs_text(_tagged(nb, "importance"), "stdout")
    assert "feature  importance" in importance and "clinic_" not in importance
    charts = _outputs_text(_tagged(nb, "charts"), "stdout")
    assert re.search(r"^predicted +0 +1$", charts, re.M), charts
    assert "version 1" in _outputs_text(_tagged(nb, "register"), "stdout")
    onnx = _outputs_text(_tagged(nb, "onnx"), "stdout")
    agree = re.search(r"agree on ([\d.]+)% of rows", onnx)
    assert agree and float(agree.group(1)) >= 99, onnx
    assert (work / "exported" / "cancer-screen-1.onnx").stat().st_size > 1000
    events = [json.loads(line) for line in (run_folder / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "Completed"


def _table_rows(nb, run_id):
    """The classic table of the cell tagged "table": its lines, and its rows split."""
    table = _outputs_text(_tagged(nb, "table"), "stdout")
    assert f"Parent Run ID: {run_id}" in table
    lines = table.splitlines()
    header = [line for line in lines if "ITERATION" in line and "PIPELINE" in line]
    assert len(header) == 1, table
    assert header[0].split() == ["ITERATION", "PIPELINE", "DURATION", "METRIC", "BEST"]
    rows = [line.split() for line in lines[lines.index(header[0]) + 1:] if TABLE_ROW.match(line)]
    assert rows, f"no iteration rows under the header:\n{table}"
    return lines, rows


def _check_prediction(nb):
    """The best model was loaded and predicted the first ten rows."""
    assert "ChildRun(id=" in _outputs_text(_tagged(nb, "best"), "stdout")
    predict = _outputs_text(_tagged(nb, "predict"), "stdout")
    got = re.search(r"^predicted: \[(.*)\]$", predict, re.M)
    want = re.search(r"^actual: +\[(.*)\]$", predict, re.M)
    assert got and want, predict
    predicted = [int(v) for v in got.group(1).split(",")]
    actual = [int(v) for v in want.group(1).split(",")]
    assert len(predicted) == len(actual) == 10 and set(predicted) <= {0, 1}
    assert sum(p == a for p, a in zip(predicted, actual)) >= 8, predict


# --------------------------------------------------------------------------- over SSH

@pytest.mark.timeout(45 * 60)
def test_ssh_notebook_runs_against_the_test_server(sshd, tmp_path, monkeypatch):
    # The kernel is a child of this process and inherits its environment.
    for name, value in {"AUTOML_SSH_HOST": sshd.host, "AUTOML_SSH_PORT": str(sshd.port),
                        "AUTOML_SSH_USER": sshd.username, "AUTOML_SSH_KEY": sshd.key_path,
                        "AUTOML_SSH_KNOWN_HOSTS": sshd.known_hosts_line()}.items():
        monkeypatch.setenv(name, value)
    # The notebook cancels iteration 3 right after submit, long before the driver reaches
    # it, so it is skipped ("canceled before it started"). Should the request ever arrive
    # late on a loaded machine, iteration 3 hangs (fault drill; the variable travels to the
    # remote driver) until the request kills it: Canceled either way, never Completed.
    monkeypatch.setenv(FAULTS, "3=hang")
    nb, work = execute(SSH_NOTEBOOK, tmp_path, timeout=SSH_CELL_TIMEOUT)
    run_folder = _check_ran_cleanly(nb, work)
    run_id = run_folder.name

    # The host key: refused while unknown, with its fingerprint and the call that trusts
    # it; the known_hosts line given has that fingerprint; then the connection works.
    refusal = _outputs_text(_tagged(nb, "refusal"), "stdout")
    trust = _outputs_text(_tagged(nb, "trust"), "stdout")
    if refusal.startswith("Refused:"):  # the usual case: root's known_hosts lacks the server
        shown = re.search(r"fingerprint (SHA256:\S+?)\.", refusal)
        assert shown and ".trust_host('SHA256:" in refusal, refusal
        assert f"trusting [{sshd.host}]:{sshd.port} ssh-ed25519 {shown.group(1)}" in trust, trust
    else:
        assert refusal.startswith("Connected; the host key is already trusted"), refusal
    assert "Connected. Remote system: Linux" in trust, trust

    # prepare() made or found the run environment; the second call was near-free.
    assert "'python': '" in _outputs_text(_tagged(nb, "prepare"))

    # The table: it names the target first, then one row per iteration, each exactly once;
    # iteration 3, canceled, says so in the METRIC column.
    lines, rows = _table_rows(nb, run_id)
    assert lines[0] == "Running on remote compute: mydsvm", lines[:2]
    numbers = [int(r[0]) for r in rows]
    assert sorted(numbers) == list(range(6)), rows
    by_number = {int(r[0]): r for r in rows}
    assert by_number[3][-2] == "Canceled", by_number[3]
    scores = [float(r[-2]) for r in rows if re.fullmatch(r"\d\.\d{4}", r[-2])]
    assert len(scores) >= 3 and all(0.5 < s <= 1 for s in scores), rows
    assert float(rows[-1][-1]) == pytest.approx(max(scores), abs=1e-4)

    # The run completed; the notebook says so, and so does the mirrored event stream.
    status = _outputs_text(_tagged(nb, "status"), "stdout")
    assert "Run status: Completed" in status, status
    assert "Iteration 3: Canceled" in status, status
    events = [json.loads(line) for line in (run_folder / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "Completed"
    finished = {e["iteration"]: e for e in events if e["event"] == "iteration_finished"}
    assert sorted(finished) == list(range(6))
    assert len([e for e in events if e["event"] == "iteration_finished"]) == 6
    assert finished[3]["status"] == "Canceled"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    # The best model was downloaded into the workspace, loaded and predicted.
    _check_prediction(nb)
    best = re.search(r"ChildRun\(id='" + re.escape(run_id) + r"_(\d+)'",
                     _outputs_text(_tagged(nb, "best"), "stdout"))
    assert best and (run_folder / "iterations" / best.group(1) / "model.joblib").is_file()

    # RunDetails of the remote run: a widget view, and the classic table as its text form.
    shown = [o for o in _tagged(nb, "widget").outputs if o.output_type == "display_data"]
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    assert shown[0]["data"]["text/plain"].startswith("Running on remote compute: mydsvm")

    # A child's log came over from the remote.
    assert _outputs_text(_tagged(nb, "log"), "stdout").strip()

    # The run lives on the remote, in a private folder of the test user's home.
    remote = f"{sshd.home}/.automl-widgets/runs/{run_id}"
    folders = _outputs_text(_tagged(nb, "folders"), "stdout")
    assert f"remote folder: {remote}\n" in folders, folders
    assert "'events.jsonl'" in folders and "'spec.json'" in folders, folders
    code, out, err = sshd.run(["stat", "-c", "%a", remote])
    assert (code, out.strip()) == (0, "700"), err
    code, _, err = sshd.run(["test", "-s", f"{remote}/automl_errors.log"])
    assert code == 0, "the debug log is missing in the remote run folder"

    # A new Run for the same id re-attached and found it complete.
    reattach = _outputs_text(_tagged(nb, "reattach"), "stdout")
    assert f"Run(id='{run_id}', experiment='automl_remote', status='Completed')" in reattach
    assert f"best iteration: {run_id}_" in reattach


# ------------------------------------------------------- the classic example, verbatim

@pytest.mark.timeout(15 * 60)
def test_classic_example_runs_verbatim_on_this_machine(tmp_path, monkeypatch):
    """Without AUTOML_SSH_HOST the notebook's target cell picks "local"; every other cell
    is the classic example's, imports aside."""
    monkeypatch.delenv("AUTOML_SSH_HOST", raising=False)
    nb, work = execute(CLASSIC_NOTEBOOK, tmp_path)
    run_folder = _check_ran_cleanly(nb, work)
    lines = _check_classic(nb, run_folder)
    assert lines[0].startswith("Parent Run ID: "), lines[:2]
    assert "running on this machine" in _outputs_text(_tagged(nb, "target"), "stdout")
    log = (run_folder / "driver.log").read_text()
    assert "does not exist; using " in log and "get_data.py, the file of that name in " \
        "'path'" in log, log[:2000]


@pytest.mark.timeout(30 * 60)
def test_classic_example_runs_verbatim_over_ssh(sshd, tmp_path, monkeypatch):
    for name, value in {"AUTOML_SSH_HOST": sshd.host, "AUTOML_SSH_PORT": str(sshd.port),
                        "AUTOML_SSH_USER": sshd.username, "AUTOML_SSH_KEY": sshd.key_path,
                        "AUTOML_SSH_KNOWN_HOSTS": sshd.known_hosts_line()}.items():
        monkeypatch.setenv(name, value)
    nb, work = execute(CLASSIC_NOTEBOOK, tmp_path, timeout=SSH_CELL_TIMEOUT)
    run_folder = _check_ran_cleanly(nb, work)
    target = _outputs_text(_tagged(nb, "target"), "stdout")
    assert "attaching a new dsvm." in target and "mydsvm: ready (" in target, target
    lines = _check_classic(nb, run_folder)
    assert lines[0] == "Running on remote compute: mydsvm", lines[:2]
    code, out, err = sshd.run(["cat", f"{sshd.home}/.automl-widgets/runs/{run_folder.name}/"
                                      "driver.log"])
    assert code == 0 and "does not exist; using " in out, (err, out[:2000])


def _check_classic(nb, run_folder) -> list:
    """What both runs of the classic notebook show; returns the table's lines."""
    run_id = run_folder.name
    lines, rows = _table_rows(nb, run_id)
    assert sorted(int(r[0]) for r in rows) == list(range(20)), rows
    scores = [float(r[-2]) for r in rows if re.fullmatch(r"\d\.\d{4}", r[-2])]
    assert len(scores) >= 10 and all(0.5 < s <= 1 for s in scores), rows   # AUC on digits
    spec = json.loads((run_folder / "spec.json").read_text())
    assert spec["name"].startswith("AutoML_Demo_Experiment_") and spec["iterations"] == 20
    assert spec["data_script"].endswith("sample_projects/automl-remote/get_data.py")
    # The widget, every child's metrics in pandas, the best model predicting held-out digits.
    shown = [o for o in _tagged(nb, "widget").outputs if o.output_type == "display_data"]
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    assert "AUC_weighted" in _outputs_text(_tagged(nb, "metrics"))
    test = _outputs_text(_tagged(nb, "test"), "stdout")
    predicted = re.search(r"predicted: \[([\d ]+)\]", test)
    assert predicted and len(predicted.group(1).split()) == 10, test
    assert f"details: {spec['name']} Completed" in test, test
    return lines


# --------------------------------------------------------------------------- on Dask

@pytest.mark.timeout(15 * 60)
def test_dask_notebook_runs_on_the_test_cluster(dask_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_DASK_ADDRESS", dask_cluster.address)  # the kernel inherits it
    workers = set(dask_cluster.worker_addresses().values())
    nb, work = execute(DASK_NOTEBOOK, tmp_path)
    run_folder = _check_ran_cleanly(nb, work)
    run_id = run_folder.name

    # The cluster named in the environment was used, not a LocalCluster of the notebook's.
    used = _outputs_text(_tagged(nb, "cluster"), "stdout")
    assert used == f"using the cluster at {dask_cluster.address}\n", used
    attached = _outputs_text(_tagged(nb, "attach"))
    assert attached == f"DaskCompute(name='cluster', address='{dask_cluster.address}')"
    assert set(re.findall(r"tcp://\S+", _outputs_text(_tagged(nb, "workers-at-start")))) \
        == workers
    assert "closed" not in _outputs_text(_tagged(nb, "close"))

    # The table names the target, then has one row per iteration, each exactly once.
    lines, rows = _table_rows(nb, run_id)
    assert lines[0] == "Running on remote compute: cluster", lines[:2]
    assert sorted(int(r[0]) for r in rows) == list(range(10)), rows
    scores = [float(r[-2]) for r in rows if re.fullmatch(r"\d\.\d{4}", r[-2])]
    assert len(scores) == 10 and all(0.5 < s <= 1 for s in scores), rows
    assert float(rows[-1][-1]) == pytest.approx(max(scores), abs=1e-4)

    # The run completed; the notebook says so, and so does the event stream.
    status = _outputs_text(_tagged(nb, "status"), "stdout")
    assert "Run status: Completed" in status, status
    events = [json.loads(line) for line in (run_folder / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "Completed"
    finished = {e["iteration"]: e for e in events if e["event"] == "iteration_finished"}
    assert sorted(finished) == list(range(10))

    # Each search iteration ran on a worker of the cluster, both workers took some, and
    # the notebook printed, per child, the worker the events recorded.
    printed = {}
    for line in _outputs_text(_tagged(nb, "workers"), "stdout").splitlines():
        m = re.match(r"iteration +(\d+) +Completed +(tcp://\S+|the driver, here) ", line)
        assert m, line
        printed[int(m[1])] = m[2]
    assert sorted(printed) == list(range(10))
    on_workers = {n: w for n, w in printed.items() if w.startswith("tcp://")}
    assert set(range(8)) <= set(on_workers), printed   # 8 and 9 are the ensembles
    assert set(on_workers.values()) == workers, printed
    for n, w in printed.items():
        assert finished[n].get("worker") == (w if w in workers else None)

    # The log of an iteration that ran on a worker came back into the run folder.
    log = _outputs_text(_tagged(nb, "log"), "stdout")
    assert "Pipeline: " in log and "AUC_weighted: " in log, log

    # The best model was loaded and predicted; RunDetails showed the run.
    _check_prediction(nb)
    shown = [o for o in _tagged(nb, "widget").outputs if o.output_type == "display_data"]
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    assert shown[0]["data"]["text/plain"].startswith("Running on remote compute: cluster")
    assert f"Parent Run ID: {run_id}" in shown[0]["data"]["text/plain"]
