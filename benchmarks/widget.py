"""RunDetails: how soon a finished iteration is in the widget, and what an update costs.

    .venv/bin/python benchmarks/widget.py [--iterations N] [--rows R] [--updates U] [--json out.json]

1. latency: a real local run of N iterations (default 40; LogisticRegression on 200x5
   make_classification, 2 folds, one at a time). For each iteration, the moment its row
   first reads Completed in the widget's table state (IterationTable.update stamps
   time.time()) minus the `time` field of its iteration_finished event (the driver's
   time.time(), same machine). Target: at most 1 s.
2. bytes per update: a run folder holding R finished iterations (default 2,000), written
   here as the driver would, watched by a RunDetails; then U more iterations (default 20)
   finish one per update. Every widget message (ipywidgets' Widget._send) is recorded and
   its JSON size counted, per widget: the table, the plot, the rest (header, buttons,
   selected iteration). Target: the table's bytes per update in proportion to the rows
   that changed, not to R.
No kernel is needed: the widgets' comms are ipywidgets' own when none is connected, and
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
from automl_widgets.widget import RunDetails  # noqa: E402
from automl_widgets.widget.table import IterationTable  # noqa: E402


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
                self.sent.append((time.time(), widget, size))
            return original(widget, msg, buffers)
        ipywidgets.Widget._send = record


class Stamps:
    """When each iteration's row first read Completed in the table's state."""

    def __init__(self):
        self.completed = {}
        original = IterationTable.update

        def update(table, records):
            n = original(table, records)
            now = time.time()
            for row in table.rows:
                if row["status"] == "Completed":
                    self.completed.setdefault(row["iteration"], now)
            return n
        IterationTable.update = update


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
    # what the table's first state costs (it travels in the comm's open message, which
    # _send does not see): all rows, as a snapshot would send them
    initial = len(json.dumps({"method": "custom", "content": {
        "type": "rows", "rows": details.table.rows, "reset": True}}))
    per_update = []
    for i in range(updates):
        mark = len(recorder.sent)
        more, seq = synthetic.iterations(rows + i, rows + i + 1, seq)
        synthetic.append(folder, more)
        details.wait_until(lambda d: len(d.table.rows) == rows + i + 1, timeout=30)
        # let the plot's slower period pass too, so its message is in this update
        details.wait_until(lambda d: rows + i in list(d.plot.figure.data[0].x), timeout=30)
        batch = recorder.sent[mark:]
        per_update.append({
            "table": sum(s for _, w, s in batch if w is details.table),
            "plot": sum(s for _, w, s in batch if w is details.plot.figure),
            "other": sum(s for _, w, s in batch
                         if w is not details.table and w is not details.plot.figure),
            "messages": len(batch)})
    details.close()
    run.close()
    shutil.rmtree(folder)
    return {"build_s": build, "initial_table_bytes": initial, "per_update": per_update}


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
          f"target <= 1 s: {'PASS' if max(lat) <= 1 else 'MISS'}")
    print(f"2. with {args.rows} iterations: RunDetails built in {vol['build_s']:.2f} s, "
          f"the table's first state {vol['initial_table_bytes'] / 1e3:.0f} kB")
    print(f"   per update ({len(pu)} updates, one new iteration each; bytes, median / max):")
    for key in ("table", "plot", "other"):
        values = [u[key] for u in pu]
        print(f"     {key:<6} {med(values):>9.0f} / {max(values):>9.0f}")
    print(f"     messages per update: median {med([u['messages'] for u in pu]):.0f}")
    ok = max(u["table"] for u in pu) < vol["initial_table_bytes"] / 50
    print(f"   table bytes per update vs its first state: "
          f"{max(u['table'] for u in pu) / vol['initial_table_bytes']:.4f}   "
          f"target O(changed rows): {'PASS' if ok else 'MISS'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"latency": lat, "volume": vol}, f, indent=1)


if __name__ == "__main__":
    main()
