"""Each ensemble member as the mean of its fold models instead of its fit on every row
(AutoGluon's bagging), measured on runs kept by ensemble_ablation.py: no rerun, no
search noise.

    .venv/bin/python benchmarks/fold_models.py --workspace /tmp/abl [--datasets a,b]

For each kept run on folds, the greedy selection (15 steps, at most 15 of a family, as
the VotingEnsemble's greedy half) is chosen from the iterations' held-out predictions as
ensemble_ablation.py does; each member is then fitted again on the run's 5 folds' training
rows, and the test rows are scored with the same weights on the members as saved (fitted
on every row) and on the means of their fold models. Also the best single iteration and
the mean over the best five, each both ways. Runs on a holdout are skipped. Needs
`ensemble_ablation.py analyse` run first (it caches the saved models' test predictions).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import joblib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from ensemble_ablation import capped, combine, greedy, measure, split  # noqa: E402
from quality_datasets import BY_NAME  # noqa: E402
from sklearn.base import clone  # noqa: E402

from automl_widgets import Workspace, metrics  # noqa: E402
from automl_widgets.catalog import family_of  # noqa: E402
from automl_widgets.engine.iteration import _fit, _predict, take  # noqa: E402
from automl_widgets.engine.prepare import prepare  # noqa: E402


def _fold_fit(model, ctx, train, X_test, regression):
    pred, proba = _predict(ctx, _fit(clone(model), take(ctx.X, train), ctx.y[train], None),
                           X_test)
    return pred if regression else proba


def one(ws_path, ws, entry, ds):
    run = ws.find_run(entry["run"])
    _, X_test, _, y_test = split(ds)
    ctx, _ = prepare(run.spec, run.folder)
    if ctx.splits is None:
        return None
    truth = np.load(os.path.join(run.folder, "truth.npz"), allow_pickle=True)
    y_eval, classes = truth["y"], truth["classes"]
    primary = run.spec["primary_metric"]
    members = [(r["iteration"], r["metrics"][primary], family_of(r["pipeline"]))
               for r in run.iterations if r["status"] == "Completed"
               and r["pipeline"] not in ("VotingEnsemble", "StackEnsemble")]
    members.sort(key=lambda m: m[1], reverse=metrics.get(primary).greater_is_better)
    ranked = capped([m[0] for m in members], {m[0]: m[2] for m in members}, 15)
    oof, test = joblib.load(os.path.join(ws_path, f"predictions_{ds.name}.joblib"))
    regression = ds.kind == "regression"
    score_fn = (lambda s: measure(ds.kind, y_eval, s, classes)) if regression else \
        metrics.fast_scorer("AUC_binary" if ds.kind == "binary" else "AUC_weighted",
                            y_eval, classes)
    weights = greedy(oof, ranked, score_fn, 15)
    bagged = {}
    for n in sorted(set(weights) | set(ranked[:5])):
        folder = os.path.join(run.folder, "iterations", str(n))
        model = joblib.load(os.path.join(folder, "model.joblib"))
        bagged[n] = np.mean(joblib.Parallel(n_jobs=2)(
            joblib.delayed(_fold_fit)(model, ctx, train, X_test, regression)
            for train, _ in ctx.splits), axis=0)
        if n not in test:
            test[n] = model.predict(X_test) if regression else model.predict_proba(X_test)

    def scored(preds, w):
        return measure(ds.kind, y_test, combine(preds, w), classes)
    return {"greedy, saved": scored(test, weights), "greedy, fold means": scored(bagged, weights),
            "single, saved": scored(test, {ranked[0]: 1}),
            "single, fold means": scored(bagged, {ranked[0]: 1}),
            "best five each, saved": float(np.mean([scored(test, {n: 1}) for n in ranked[:5]])),
            "best five each, fold means": float(np.mean([scored(bagged, {n: 1})
                                                         for n in ranked[:5]])),
            "members": len(weights)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--datasets", help="comma-separated names (default: every kept run)")
    args = ap.parse_args()
    index = json.load(open(os.path.join(args.workspace, "runs.json")))
    names = args.datasets.split(",") if args.datasets else list(index)
    unknown = [n for n in names if n not in index]
    if unknown:
        ap.error(f"--datasets: no kept run for {', '.join(unknown)}; kept: {', '.join(index)}")
    ws = Workspace.from_config(args.workspace)
    table = {}
    for name in names:
        r = one(args.workspace, ws, index[name], BY_NAME[name])
        if r is None:
            print(name, "on a holdout: skipped", flush=True)
            continue
        table[name] = r
        print(name, {k: round(v, 4) for k, v in r.items()}, flush=True)
    for way in ("greedy", "single", "best five each"):
        d = np.array([t[f"{way}, fold means"] - t[f"{way}, saved"] for t in table.values()])
        print(f"{way}: fold means minus saved {d.mean():+.4f} (standard error "
              f"{d.std(ddof=1) / np.sqrt(len(d)):.4f}; {(d > 1e-4).sum()} up, "
              f"{(d < -1e-4).sum()} down, {len(d)} runs)")


if __name__ == "__main__":
    main()
