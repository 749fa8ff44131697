"""Booster configurations worth starting the search with, chosen on tables the quality
benchmark does not use (quality_datasets.META): a small portfolio, as in FLAML's
zero-shot AutoML and auto-sklearn 2.0.

    .venv/bin/python benchmarks/portfolio.py evaluate --out /tmp/portfolio.json
    .venv/bin/python benchmarks/portfolio.py pick --out /tmp/portfolio.json --size 4

`evaluate` draws --configs random configurations from the catalog's LightGBM and XGBoost
spaces (half of them slow learners: rate 0.01-0.05, 300-1000 rounds), adds the search's
present starts, and scores each by 5-fold CV on every META table (at most --max-rows rows,
behind the engine's featurizer), with its seconds. `pick` then adds, one at a time, the
configuration that most raises the mean over tables of the best normalised score
((score - median) / (best - median), at most 1) of the present starts plus those picked,
among configurations whose median cost is at most --max-cost times LightGBM's default.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from quality_datasets import META  # noqa: E402
from single_configs import estimator, measure  # noqa: E402
from sklearn.model_selection import KFold, StratifiedKFold  # noqa: E402

from automl_widgets import catalog  # noqa: E402
from automl_widgets.engine import data  # noqa: E402

SEED = 0
PRESENT = {"lgbm_small": ("lightgbm", catalog.SMALL_LGBM), "lgbm_default": ("lightgbm", {}),
           "xgb_default": ("xgboost", {})}


def draw(space, rng, slow):
    params = {}
    for name, (kind, *spec) in space.items():
        if kind == "cat":
            continue   # class_weight: left at its default
        low, high, log = spec
        if slow and name == "learning_rate":
            low, high = 0.01, 0.05
        if slow and name == "n_estimators":
            low = 300
        value = (np.exp(rng.uniform(np.log(low), np.log(high))) if log
                 else rng.uniform(low, high))
        params[name] = int(round(value)) if kind == "int" else float(round(value, 4))
    return params


def configs(n):
    rng = np.random.default_rng(SEED)
    out = dict(PRESENT)
    for i in range(n):
        library = "lightgbm" if i % 3 else "xgboost"
        space = catalog._LGBM if library == "lightgbm" else catalog._XGB
        out[f"{library[:4]}_{i}"] = (library, draw(space, rng, slow=i % 2 == 1))
    return out


def evaluate(args):
    results = json.load(open(args.out)) if os.path.exists(args.out) else {}
    results.setdefault("configs", {k: list(v) for k, v in configs(args.configs).items()})
    results.setdefault("scores", {})
    for ds in META:
        if ds.name in results["scores"]:
            continue
        X, y = ds.load()
        if len(X) > args.max_rows:
            keep = np.random.default_rng(SEED).choice(len(X), args.max_rows, replace=False)
            X, y = X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)
        regression = ds.kind == "regression"
        y = np.asarray(y) if regression else np.unique(np.asarray(y), return_inverse=True)[1]
        Xf = data.build_featurizer(data.column_kinds(X), False).fit_transform(X, y)
        folds = list((KFold if regression else StratifiedKFold)(
            5, shuffle=True, random_state=SEED).split(Xf, y))
        row = {}
        for name, (library, params) in results["configs"].items():
            t0, oof = time.perf_counter(), None
            for train, test in folds:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = estimator(library, params, regression).fit(Xf[train], y[train])
                s = m.predict(Xf[test]) if regression else m.predict_proba(Xf[test])
                oof = np.zeros((len(y),) + s.shape[1:]) if oof is None else oof
                oof[test] = s
            row[name] = [measure(ds.kind, y, oof), time.perf_counter() - t0]
        results["scores"][ds.name] = row
        best = max(row, key=lambda k: row[k][0])
        print(f"{ds.name}: best {best} {row[best][0]:.4f}, lgbm_small "
              f"{row['lgbm_small'][0]:.4f}, {sum(v[1] for v in row.values()):.0f} s",
              flush=True)
        json.dump(results, open(args.out, "w"), indent=1)


def pick(args):
    results = json.load(open(args.out))
    scores = results["scores"]
    names = list(results["configs"])
    norm = {}
    for ds, row in scores.items():
        med = statistics.median(v[0] for v in row.values())
        top = max(v[0] for v in row.values())
        norm[ds] = {k: min(1.0, (v[0] - med) / (top - med or 1)) for k, v in row.items()}
    cost = {k: statistics.median(scores[ds][k][1] / scores[ds]["lgbm_default"][1]
                                 for ds in scores) for k in names}
    chosen = list(PRESENT)

    def value(members):
        return statistics.mean(max(norm[ds][k] for k in members) for ds in scores)

    print(f"present starts: {value(chosen):.3f}")
    for _ in range(args.size):
        options = [k for k in names if k not in chosen and cost[k] <= args.max_cost]
        best = max(options, key=lambda k: value(chosen + [k]))
        chosen.append(best)
        print(f"+ {best} (cost {cost[best]:.1f}x): {value(chosen):.3f}  "
              f"{results['configs'][best]}")
    for k in chosen:
        per = " ".join(f"{ds[:8]}={norm[ds][k]:+.2f}" for ds in scores)
        print(f"{k:14s} {per}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["evaluate", "pick"])
    ap.add_argument("--out", required=True, help="JSON of the scores (evaluate resumes it)")
    ap.add_argument("--configs", type=int, default=36, help="random configurations drawn")
    ap.add_argument("--max-rows", type=int, default=4000)
    ap.add_argument("--size", type=int, default=4, help="configurations to pick")
    ap.add_argument("--max-cost", type=float, default=8.0,
                    help="most median seconds, relative to LightGBM's default")
    args = ap.parse_args()
    evaluate(args) if args.what == "evaluate" else pick(args)


if __name__ == "__main__":
    main()
