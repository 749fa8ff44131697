"""The VotingEnsemble with and without its stack half, paired within one run: no search
noise between the two arms.

    .venv/bin/python benchmarks/vote_halves.py --datasets titanic,uk_vote,credit \
        --splits 1,2 --out /tmp/halves.jsonl

In a classification run half of the VotingEnsemble's vote is a stack (engine/ensemble.py,
_with_stack). Here each dataset is split (random_state 1, 2, ...; not the quality
benchmark's split 0), ours runs once at --budget, and from that one run:
- "blend": the VotingEnsemble as saved, and "greedy": its greedy half alone (the same
  members and weights, without the stack), "stack": the StackEnsemble, "single": the best
  searched iteration, each scored on the test rows;
- the pick the run made (best held-out score of every iteration) against the pick the
  code before the stack half made: the best of the single, the greedy half scored on the
  held-out rows as the VotingEnsemble was, and the StackEnsemble.
One line of JSON per run, then the mean differences with their standard errors.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

import joblib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from ensemble_ablation import measure  # noqa: E402
from quality import budget, fit_ours, score  # noqa: E402
from quality_datasets import BY_NAME  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from automl_widgets import Workspace, metrics  # noqa: E402

ENSEMBLES = ("VotingEnsemble", "StackEnsemble")


def _iteration_file(run, n, name):
    return os.path.join(run.folder, "iterations", str(n), name)


def halves(ds, run, model, X_test, y_test) -> dict:
    truth = np.load(os.path.join(run.folder, "truth.npz"), allow_pickle=True)
    y_eval, classes = truth["y"], truth["classes"]
    metric = metrics.get(run.spec["primary_metric"])
    done = [r for r in run.iterations if r["status"] == "Completed"]
    by_name = {r["pipeline"]: r for r in done if r["pipeline"] in ENSEMBLES}
    voting, stack = by_name["VotingEnsemble"], by_name["StackEnsemble"]
    weights = dict(zip(voting["params"]["ensembled_iterations"], voting["params"]["weights"]))
    total = sum(weights.values())

    def held_out(n):
        with np.load(_iteration_file(run, n, "predictions.npz"), allow_pickle=True) as f:
            return f["proba"]

    def load(n):
        return joblib.load(_iteration_file(run, n, "model.joblib"))

    greedy = sum(held_out(n) * w for n, w in weights.items()) / total
    greedy_cv = metric.compute(y_eval, classes[np.argmax(greedy, 1)], greedy, classes, None)
    vote = load(voting["iteration"]).steps[-1][1]
    greedy_test = sum(vote.named_estimators_[f"iteration_{n}"].predict_proba(X_test) * w
                      for n, w in weights.items()) / total
    single = max((r for r in done if r["pipeline"] not in ENSEMBLES), key=lambda r: r["score"])
    tests = {"greedy": measure(ds.kind, y_test, greedy_test, classes),
             "blend": score(ds, load(voting["iteration"]), X_test, y_test),
             "stack": score(ds, load(stack["iteration"]), X_test, y_test),
             "single": score(ds, load(single["iteration"]), X_test, y_test)}
    before = {"single": single["score"], "greedy": greedy_cv, "stack": stack["score"]}
    old = (max if metric.greater_is_better else min)(before, key=before.get)
    return {"held_out": {**before, "blend": voting["score"]}, "test": tests,
            "pick before": old, "before": tests[old], "after": score(ds, model, X_test, y_test),
            "stacked": voting["params"].get("stacked_iterations")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", required=True, help="classification tables, comma-separated")
    ap.add_argument("--splits", default="1,2", help="split seeds, comma-separated")
    ap.add_argument("--budget", type=budget, default=60)
    ap.add_argument("--out", help="append each run's line to this file")
    args = ap.parse_args()
    names = args.datasets.split(",")
    bad = [n for n in names if n not in BY_NAME or BY_NAME[n].kind == "regression"]
    if bad:
        ap.error(f"--datasets: {bad} are not classification tables of quality_datasets.py")
    rows = []
    for name in names:
        ds = BY_NAME[name]
        X, y = ds.load()
        for seed in (int(s) for s in args.splits.split(",")):
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=seed, stratify=y)
            folder = tempfile.mkdtemp(prefix="halves-")
            try:
                ws = Workspace.create(folder)
                model, iterations, details = fit_ours(ws, ds, X_train, y_train, args.budget)
                run = ws.find_run(max(ws.runs(), key=lambda r: r[2])[0])
                row = {"dataset": name, "split": seed, "pick": details["best"],
                       "iterations": iterations, **halves(ds, run, model, X_test, y_test)}
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
    for label, fn in [("the pick, after minus before", lambda r: r["after"] - r["before"]),
                      ("blend minus greedy half", lambda r: r["test"]["blend"] - r["test"]["greedy"]),
                      ("stack minus greedy half", lambda r: r["test"]["stack"] - r["test"]["greedy"])]:
        d = [fn(r) for r in rows]
        se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")
        print(f"{label}: mean {statistics.mean(d):+.4f}, standard error {se:.4f}, "
              f"{sum(x > 0 for x in d)} up, {sum(x < 0 for x in d)} down ({len(d)} runs)")


if __name__ == "__main__":
    main()
