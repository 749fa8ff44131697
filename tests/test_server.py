"""The server extension's REST API, on a real jupyter_server (pytest-jupyter's jp_fetch),
against a workspace holding a finished, a running and a failed run."""
import json

import pytest
import tornado.httpclient

# pytest-jupyter's fixtures, for this module only (its autouse event-loop and server
# clean-up fixtures would otherwise wrap every test of the suite).
from pytest_jupyter.jupyter_core import *  # noqa: F401,F403
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403

from automl_widgets import DaskCompute, RunConfiguration
from automl_widgets.compute import SSHCompute
from automl_widgets.engine.faults import VARIABLE as FAULTS
from automl_widgets.server.handlers import ITERATION, ROUTES, RUN

HANGS = 1


@pytest.fixture
def runs(submit, tmp_path, monkeypatch):
    """A finished run, a run whose iteration 1 hangs, and a failed run."""
    done = submit("finished", iterations=3)
    script = tmp_path / "bad_data.py"
    script.write_text("def get_data():\n    raise ValueError('no database here')\n")
    failed = submit("failed", data_script=str(script))
    monkeypatch.setenv(FAULTS, f"{HANGS}=hang")
    live = submit("live", iterations=3)
    done.wait_for_completion()
    failed.wait_for_completion()
    assert live.wait_until(lambda r: (r.state.iterations.get(HANGS) or {}).get("status")
                           == "Running", timeout=60)
    yield {"finished": done, "failed": failed, "live": live}
    live.cancel()
    live.wait_for_completion(timeout=60)


@pytest.fixture
def jp_server_config(ws):
    return {"ServerApp": {"jpserver_extensions": {"automl_widgets": True}},
            "AutomlWidgets": {"workspace": ws.path}}


@pytest.fixture
def api(jp_fetch, jp_asyncio_loop, jp_serverapp):
    def call(*parts, method="GET", params=None, auth=True, expect=200):
        kwargs = {"method": method, "params": params, "raise_error": False}
        if method == "POST":
            kwargs["body"] = "{}"
        if not auth:
            kwargs["headers"] = {"Authorization": ""}
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("automl-widgets", "api", *parts, **kwargs))
        assert response.code == expect, (parts, response.code, response.reason)
        return json.loads(response.body) if response.code == 200 else response
    return call


def test_experiments_and_runs(api, runs, ws):
    data = api("experiments")
    assert data["workspace"]["path"] == ws.path
    by_name = {e["name"]: e["runs"] for e in data["experiments"]}
    assert set(by_name) == {"finished", "failed", "live"}
    finished, = by_name["finished"]
    assert finished["id"] == runs["finished"].id and finished["status"] == "Completed"
    assert (finished["done"], finished["total"], finished["live"]) == (3, 3, False)
    assert finished["best"]["value"] == pytest.approx(runs["finished"].best["score"])
    assert finished["target"] == "local" and finished["duration"] > 0
    live, = by_name["live"]
    assert live["status"] == "Running" and live["live"] and live["done"] == 1
    failed, = by_name["failed"]
    assert failed["status"] == "Failed" and failed["best"] is None


def test_a_look_that_finds_nothing_new_is_tiny_and_a_new_run_is_seen(api, runs, submit):
    stamp = api("experiments")["stamp"]
    assert api("experiments", params={"since": stamp}) == {"unchanged": True, "stamp": stamp}
    new = submit("another", iterations=1)
    data = api("experiments", params={"since": stamp})
    assert "unchanged" not in data and data["stamp"] != stamp
    assert [r["id"] for e in data["experiments"] if e["name"] == "another"
            for r in e["runs"]] == [new.id]
    new.wait_for_completion()


def test_a_run_with_its_iterations_and_a_log_from_an_offset(api, runs):
    run = runs["finished"]
    data = api("runs", run.id)
    assert [i["iteration"] for i in data["iterations"]] == [0, 1, 2]
    assert data["metrics"][0] == {"name": "accuracy", "greater_is_better": True}
    assert data["snippet"] == f'AutoMLRun(Experiment(ws, "finished"), "{run.id}")'
    log = run.get_children()[0].get_log()
    whole = api("runs", run.id, "iterations", "0", "log")
    assert whole["text"] == log and whole["offset"] == len(log.encode())
    tail = api("runs", run.id, "iterations", "0", "log", params={"offset": "5"})
    assert tail["text"] == log.encode()[5:].decode()
    assert "no database here" in api("runs", runs["failed"].id)["error"]


def test_the_run_view_the_panel_draws_rows_since_a_version_and_the_selected(api, runs):
    run = runs["finished"]
    view = api("runs", run.id, "view")
    assert view["reset"] and [r["iteration"] for r in view["rows"]] == [0, 1, 2]
    assert view["header"]["status"] == "Completed" and "iterations 3 / 3" in view["header"]["line"]
    assert view["metrics"][0]["name"] == "accuracy" and view["properties"] is None
    assert not view["can_cancel_run"] and view["cancelable"] == []
    # the same figures as the widget's, formatted once (automl_widgets/viewmodel.py)
    row = view["rows"][1]
    assert row["score_text"] == f"{row['score']:.4f}" and row["duration_text"].endswith(" s")
    since = f"{view['epoch']}:{view['version']}"
    again = api("runs", run.id, "view", params={"since": since, "selected": "1"})
    assert not again["reset"] and again["rows"] == []       # nothing changed: no rows
    assert again["properties"]["title"].startswith("Iteration 1 (")
    assert again["log_size"] == len(run.get_children()[1].get_log().encode())
    # an answer from another server (or a made-up one) starts over
    assert api("runs", run.id, "view", params={"since": "other:99"})["reset"]
    for bad in ("-1", "x", "1.5"):
        response = api("runs", run.id, "view", params={"selected": bad}, expect=400)
        assert "'selected'" in json.loads(response.body)["reason"]
    api("runs", run.id, "view", params={"selected": "99"}, expect=404)


def test_cancel_an_iteration_and_a_run(api, runs, jp_serverapp):
    live = runs["live"]
    api("runs", live.id, "iterations", str(HANGS), "cancel", method="POST")
    assert live.wait_until(lambda r: r.state.iterations[HANGS]["status"] == "Canceled",
                           timeout=60)
    api("runs", live.id, "cancel", method="POST")
    # the server's own Run object follows the run folder, with no kernel involved
    served = jp_serverapp.web_app.settings["automl_widgets_view"].run(live.id)
    assert served is not live
    assert served.wait_until(lambda r: r.state.finished, timeout=60)
    data = api("runs", live.id)
    assert data["status"] in ("Canceled", "Completed") and not data["live"]
    assert {i["iteration"]: i["status"] for i in data["iterations"]}[HANGS] == "Canceled"


def test_bad_ids_are_refused_and_never_reach_the_file_system(api, runs):
    run = runs["finished"]
    for bad in ("..", "AutoML_..%2F..%2Fetc", "AutoML_00000000-0000-0000-0000-000000000000",
                "not-a-run"):
        api("runs", bad, expect=404)
    api("runs", run.id, "iterations", "99", "log", expect=404)


def test_an_id_with_a_trailing_newline_is_not_a_run(api, runs):
    live = runs["live"]
    for parts, method in (((live.id + "\n",), "GET"), ((live.id + "\n", "cancel"), "POST"),
                          ((live.id + "\n", "iterations", "0", "log"), "GET")):
        response = api("runs", *parts, method=method, expect=404)   # sent as %0A
        assert "is not a run id" in json.loads(response.body)["reason"]
    assert api("runs", live.id)["status"] == "Running"


def test_a_log_offset_past_the_end_reads_nothing_and_a_bad_one_is_refused(api, runs):
    log = ("runs", runs["finished"].id, "iterations", "0", "log")
    end = api(*log)["offset"]
    for past in (end, end + 1, 2**50, 2**63, 10**100, 10**3999):
        assert api(*log, params={"offset": str(past)}) == {
            "text": "", "offset": past, "status": "Completed"}
    for bad in ("-1", "", "1.5", "0x10", "\u00b2", "\u0661", "9" * 4001):
        response = api(*log, params={"offset": bad}, expect=400)
        reason = json.loads(response.body)["reason"]
        assert "'offset'" in reason and "non-negative integer" in reason


def test_every_route_refuses_unauthenticated_requests(api, runs, jp_serverapp):
    rules = [r for r in jp_serverapp.web_app.default_router.rules
             for r in getattr(r.target, "rules", [r])
             if "automl-widgets" in str(getattr(r.matcher, "regex", None) and r.matcher.regex.pattern)]
    assert len(rules) >= len(ROUTES)
    run_id = runs["finished"].id
    for path, handler in ROUTES:
        parts = path.replace(RUN, run_id).replace(ITERATION, "0").split("/")
        method = "POST" if hasattr(handler, "post") and handler.post is not \
            tornado.web.RequestHandler.post else "GET"
        api(*parts, method=method, auth=False, expect=403)


def test_no_workspace_says_how_to_create_one(jp_fetch, jp_asyncio_loop, jp_serverapp, tmp_path):
    jp_serverapp.web_app.settings["automl_widgets_view"]._explicit = str(tmp_path / "nothing")
    response = jp_asyncio_loop.run_until_complete(
        jp_fetch("automl-widgets", "api", "experiments"))
    data = json.loads(response.body)
    assert data["workspace"] is None and "Workspace.create" in data["help"]
    assert data["experiments"] == []


@pytest.fixture
def attached(ws, dask_cluster, tmp_path):
    """A Dask target on the test cluster and an SSH target (not contacted) with a key file."""
    key = tmp_path / "id_test"
    key.write_text("not a real key")
    cluster = DaskCompute.attach(ws, "cluster", address=dask_cluster.address)
    SSHCompute.attach(ws, "mydsvm", address="10.0.0.4", port=2222, username="ubuntu",
                      ssh_key=str(key), python_path="/opt/py/bin/python3")
    return cluster, str(key)


def test_a_run_says_which_target_ran_it_and_where(api, attached, submit, dask_cluster):
    cluster, _ = attached
    run = submit("on_dask", iterations=3, run_configuration=RunConfiguration(cluster))
    local = submit("local", iterations=1)
    assert run.wait_for_completion(timeout=120)["status"] == "Completed"
    local.wait_for_completion(timeout=120)
    on_dask = {"type": "dask", "name": "cluster", "address": dask_cluster.address}
    data = api("runs", run.id)
    assert (data["target"], data["target_description"]) == ("cluster", on_dask)
    workers = set(dask_cluster.worker_addresses().values())
    assert {i["iteration"] for i in data["iterations"]} == {0, 1, 2}
    assert all(i["worker"] in workers for i in data["iterations"]), data["iterations"]
    listed = {e["name"]: e["runs"] for e in api("experiments")["experiments"]}
    assert listed["on_dask"][0]["target_description"] == on_dask
    assert listed["local"][0]["target_description"] == {"type": "local", "name": "local"}
    assert api("runs", local.id)["iterations"][0]["worker"] is None


def test_targets_lists_where_each_target_is_and_nothing_more(api, attached, dask_cluster, ws):
    _, key = attached
    data = api("targets")
    assert data["workspace"]["path"] == ws.path
    assert data["targets"] == [
        {"type": "dask", "name": "cluster", "address": dask_cluster.address},
        {"type": "ssh", "name": "mydsvm", "address": "10.0.0.4", "port": 2222,
         "username": "ubuntu"}]
    assert key not in json.dumps(data) and "python3" not in json.dumps(data)


def test_targets_without_a_workspace_is_an_empty_list(api, jp_serverapp, tmp_path):
    jp_serverapp.web_app.settings["automl_widgets_view"]._explicit = str(tmp_path / "nothing")
    data = api("targets")
    assert data["workspace"] is None and data["targets"] == []
