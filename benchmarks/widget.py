"""RunDetails: how soon a finished iteration is in the widget, and what an update costs.

    .venv/bin/python benchmarks/widget.py [--iterations N] [--rows R] [--updates U] [--json out.json]

1. latency: a real local run of N iterations (default 40; LogisticRegression on 200x5
   make_classification, 2 folds, one at a time). For each iteration, the moment its row
   first reads Completed in the rows the widget has sent (RunDetails._flush is stamped
   with time.time()) minus the `time` field of its iteration_finished event (the driver's
   time.time(), same machine). Target: median at most 250 ms.
2. bytes per update: a run folder holding R finished iterations (default 2,000), written
   here as the driver would, watched by a RunDetails; then U more iterations (default 20)
   finish one per update. Every widget message (ipywidgets' Widget._send) is recorded and
   its JSON size counted, by kind: rows (the row deltas), state (trait updates: header,
   metrics with their best-so-far steps, families, buttons, selected iteration). The
   panel's look at the server (WorkspaceView.view with the version of the previous look)
   is measured the same way. Target: bytes per update in proportion to the rows that
   changed, not to R.
3. the front end's size: the bundle the widget loads and the JupyterLab extension's files.
No kernel is needed: the widget's comm is ipywidgets' own when none is connected, and
_send is where every message leaves.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))   # synthetic.py

import ipywidgets  # noqa: E402
import synthetic  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402

from automl_widgets import AutoMLConfig, Experiment, Workspace  # noqa: E402
from automl_widgets.client.run import Run  # noqa: E402
from automl_widgets.protocol import EVENTS  # noqa: E402
from automl_widgets.server.view import WorkspaceView  # noqa: E402
from automl_widgets.widget import RunDetails  # noqa: E402
from automl_widgets.widget.details import BUNDLE  # noqa: E402


def p90(values):
    return sorted(values)[max(0, int(round(0.9 * len(values))) - 1)] if values else float("nan")


class Recorder:
    """Every message any widget sends: (time, widget, JSON bytes)."""

    def __init__(self):
        self.sent, self._lock = [], threading.Lock()
        original = ipywidgets.Widget._send

        def record(widget, msg, buffers=None):
            size = len(json.dumps(msg, default=str))
            with self._lock:
                self.sent.append((time.time(), widget, msg, size))
            return original(widget, msg, buffers)
        ipywidgets.Widget._send = record


class Stamps:
    """When each iteration's row first read Completed in the rows the widget sent."""

    def __init__(self):
        self.completed = {}
        original = RunDetails._flush

        def flush(details):
            original(details)
            now = time.time()
            for n, row in list(details._sent.items()):
                if row["status"] == "Completed":
                    self.completed.setdefault(n, now)
        RunDetails._flush = flush


def latency(ws, iterations, stamps):
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    run = Experiment(ws, "bench-widget").submit(AutoMLConfig(
        task="classification", X=X, y=y, iterations=iterations, n_cross_validations=2,
        whitelist_models=["LogisticRegression"], enable_ensembling=False, random_state=0))
    details = RunDetails(run)
    run.wait_for_completion()
    details.wait_until(lambda d: len(stamps.completed) >= iterations, timeout=30)
    events = [json.loads(line) for line in open(os.path.join(run.folder, EVENTS))]
    finished = {e["iteration"]: e["time"] for e in events if e["event"] == "iteration_finished"}
    details.close()
    return [stamps.completed[n] - t for n, t in finished.items() if n in stamps.completed]


def volume(ws, spec_from, rows, updates, recorder):
    run_id, folder, seq = synthetic.new_run_folder(ws, spec_from, rows + updates)
    body, seq = synthetic.iterations(0, rows, seq)
    synthetic.append(folder, body)
    t = time.perf_counter()
    run = Run(Experiment(ws, "bench-widget"), run_id, target=synthetic.AliveTarget())
    details = RunDetails(run)
    build = time.perf_counter() - t
    # what the view's first state costs (it travels in the comm's open message, which
    # _send does not see): all rows, as a snapshot would send them
    initial = len(json.dumps({"method": "custom", "content": {
        "type": "rows", "rows": details.rows, "reset": True}}))
    panel = WorkspaceView(ws.path, ws.path)
    panel._runs[run_id] = run   # made up here, so not in the workspace's index
    first = panel.view(run_id)
    since = f"{first['epoch']}:{first['version']}"
    per_update = []
    for i in range(updates):
        mark = len(recorder.sent)
        more, seq = synthetic.iterations(rows + i, rows + i + 1, seq)
        synthetic.append(folder, more)
        details.wait_until(lambda d: len(d.rows) == rows + i + 1, timeout=30)
        batch = [(w, m, size) for _, w, m, size in recorder.sent[mark:] if w is details]
        look = panel.view(run_id, since)
        since = f"{look['epoch']}:{look['version']}"
        per_update.append({
            "rows": sum(size for _, m, size in batch if m.get("method") == "custom"),
            "state": sum(size for _, m, size in batch if m.get("method") != "custom"),
            "panel": len(json.dumps(look)), "messages": len(batch)})
    panel.close()
    details.close()
    run.close()
    shutil.rmtree(folder)
    return {"build_s": build, "initial_table_bytes": initial,
            "panel_first_bytes": len(json.dumps(first)), "per_update": per_update}


def bundle_sizes() -> dict:
    lab = os.path.join(os.path.dirname(HERE), "automl_widgets", "labextension", "static")
    return {"widget_bundle": os.path.getsize(BUNDLE),
            "lab_extension": sum(os.path.getsize(os.path.join(lab, f)) for f in os.listdir(lab))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    recorder, stamps = Recorder(), Stamps()
    root = tempfile.mkdtemp(prefix="automl-widget-bench-")
    try:
        ws = Workspace.create(os.path.join(root, "ws"))
        lat = latency(ws, args.iterations, stamps)
        spec_from = ws.run_folder(Experiment(ws, "bench-widget").get_runs()[0].id)
        vol = volume(ws, spec_from, args.rows, args.updates, recorder)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = statistics.median
    pu = vol["per_update"]
    print(f"RunDetails benchmark: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores")
    print(f"1. latency, iteration_finished -> row Completed in the widget state "
          f"({len(lat)} iterations): median {1e3 * med(lat):.0f} ms, p90 "
          f"{1e3 * p90(lat):.0f} ms, max {1e3 * max(lat):.0f} ms   "
          f"target median <= 250 ms: {'PASS' if med(lat) <= 0.25 else 'MISS'}")
    print(f"2. with {args.rows} iterations: RunDetails built in {vol['build_s']:.2f} s, "
          f"the rows' first state {vol['initial_table_bytes'] / 1e3:.0f} kB, the panel's "
          f"first look {vol['panel_first_bytes'] / 1e3:.0f} kB")
    print(f"   per update ({len(pu)} updates, one new iteration each; bytes, median / max):")
    for key, label in (("rows", "widget rows"), ("state", "widget state"),
                       ("panel", "panel look")):
        values = [u[key] for u in pu]
        print(f"     {label:<13} {med(values):>9.0f} / {max(values):>9.0f}")
    print(f"     widget messages per update: median {med([u['messages'] for u in pu]):.0f}")
    worst = max(max(u["rows"] + u["state"], u["panel"]) for u in pu)
    ok = worst < vol["initial_table_bytes"] / 50
    print(f"   bytes per update (widget or panel, the larger) vs the first state: "
          f"{worst / vol['initial_table_bytes']:.4f}   "
          f"target O(changed rows): {'PASS' if ok else 'MISS'}")
    sizes = bundle_sizes()
    print(f"3. front end: the widget's bundle {sizes['widget_bundle'] / 1e6:.2f} MB "
          f"(runview.js with plotly.js basic), the JupyterLab extension "
          f"{sizes['lab_extension'] / 1e6:.2f} MB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"latency": lat, "volume": vol, "sizes": bundle_sizes()}, f, indent=1)


if __name__ == "__main__":
    main()
