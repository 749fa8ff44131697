"""A stack half for the regression VotingEnsemble, measured on kept runs: no rerun, no
search noise between the arms.

    .venv/bin/python benchmarks/ensemble_ablation.py run --workspace /tmp/abl --datasets ...
    .venv/bin/python benchmarks/ensemble_ablation.py analyse --workspace /tmp/abl --datasets ...
    .venv/bin/python benchmarks/regression_stack.py --workspace /tmp/abl

In classification half of the VotingEnsemble's vote is a stack over the best model of each
family (engine/ensemble.py, _with_stack); regression has none, since a RidgeCV stack lost
to the greedy selection there. For each kept regression run this scores on the test rows:
the run's greedy selection (the VotingEnsemble's members and weights), stacks over the same
members as the StackEnsemble with several meta-learners, and the greedy selection and each
stack half and half, with the engine's guard (the half is left out where the mix scores
below the best single iteration on the held-out rows).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import joblib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from ensemble_ablation import split  # noqa: E402
from quality_datasets import BY_NAME  # noqa: E402
from sklearn.linear_model import LinearRegression, RidgeCV  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402

from automl_widgets import Workspace  # noqa: E402
from automl_widgets.catalog import family_of  # noqa: E402
from automl_widgets.engine.ensemble import STACKED  # noqa: E402

META = {
    "ridge": lambda: RidgeCV(),
    "positive": lambda: LinearRegression(positive=True),
}


def convex(z, y):
    """Non-negative weights summing to 1, no intercept: a weighted average of the members,
    as the greedy selection's is (a positive least-squares fit, normalised)."""
    m = LinearRegression(positive=True, fit_intercept=False).fit(z, y)
    w = m.coef_ / m.coef_.sum() if m.coef_.sum() > 0 else np.full(z.shape[1], 1 / z.shape[1])
    return lambda a: a @ w


def run_one(ws, wsdir, index, name):
    ds = BY_NAME[name]
    run = ws.find_run(index[name]["run"])
    _, X_test, _, y_test = split(ds)
    y_test = np.asarray(y_test, dtype=float)
    truth = np.load(os.path.join(run.folder, "truth.npz"), allow_pickle=True)
    y_eval = truth["y"].astype(float)
    primary = run.spec["primary_metric"]
    cache = os.path.join(wsdir, f"predictions_{name}.joblib")
    oof, test = joblib.load(cache) if os.path.exists(cache) else ({}, {})
    folder = lambda n: os.path.join(run.folder, "iterations", str(n))   # noqa: E731

    def held(n):
        if n not in oof:
            with np.load(os.path.join(folder(n), "predictions.npz"), allow_pickle=True) as f:
                oof[n] = f["pred"].astype(float)
        return oof[n]

    def tested(n):
        if n not in test:
            test[n] = joblib.load(os.path.join(folder(n), "model.joblib")).predict(X_test)
        return np.asarray(test[n], dtype=float)

    members, vote = [], None
    for r in run.iterations:
        if r["status"] != "Completed":
            continue
        if r["pipeline"] == "VotingEnsemble":
            vote = json.load(open(os.path.join(folder(r["iteration"]), "result.json")))["params"]
        elif r["pipeline"] != "StackEnsemble":
            members.append((r["metrics"][primary], r["iteration"], family_of(r["pipeline"])))
    members.sort(reverse=True)
    best = {}
    for _, n, fam in members:
        best.setdefault(fam, n)
    stacked = list(best.values())[:STACKED]
    weights = dict(zip(vote["ensembled_iterations"], vote["weights"]))
    total = sum(weights.values())
    greedy_oof = sum(held(n) * w for n, w in weights.items()) / total
    greedy_test = sum(tested(n) * w for n, w in weights.items()) / total
    z, zt = np.column_stack([held(n) for n in stacked]), np.column_stack([tested(n) for n in stacked])
    single_oof = r2_score(y_eval, held(members[0][1]))
    out = {"greedy": r2_score(y_test, greedy_test), "single": r2_score(y_test, tested(members[0][1]))}
    fitted = {k: (lambda m: m.predict)(f().fit(z, y_eval)) for k, f in META.items()}
    fitted["convex"] = convex(z, y_eval)
    for k, predict in fitted.items():
        out[f"stack {k}"] = r2_score(y_test, predict(zt))
        mixed_oof = (greedy_oof + predict(z)) / 2
        mixed = r2_score(y_test, (greedy_test + predict(zt)) / 2)
        out[f"half {k}"] = mixed
        out[f"half {k}, guarded"] = mixed if r2_score(y_eval, mixed_oof) >= single_oof \
            else out["greedy"]
    joblib.dump((oof, test), cache)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--datasets")
    args = ap.parse_args()
    index = json.load(open(os.path.join(args.workspace, "runs.json")))
    ws = Workspace.from_config(args.workspace)
    names = args.datasets.split(",") if args.datasets else \
        [n for n in index if BY_NAME[n].kind == "regression"]
    table = {}
    for name in names:
        table[name] = run_one(ws, args.workspace, index, name)
        print(name, {k: round(v, 4) for k, v in table[name].items()}, flush=True)
    keys = list(next(iter(table.values())))
    print("\n| | " + " | ".join(table) + " | mean | minus greedy (SE) |")
    print("|---|" + "--:|" * (len(table) + 2))
    for k in keys:
        vals = [table[d][k] for d in table]
        diff = [table[d][k] - table[d]["greedy"] for d in table]
        se = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else 0.0
        print(f"| {k} | " + " | ".join(f"{v:.4f}" for v in vals) +
              f" | {np.mean(vals):.4f} | {np.mean(diff):+.4f} ({se:.4f}) |")


if __name__ == "__main__":
    main()
