"""What one iteration's own work costs, with and without the run's featurization done once
(iteration.encode) and the metrics computed on label codes (metrics.compute_all).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/iteration_cost.py
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/iteration_cost.py --datasets credit --repeat 9

Each dataset is split as benchmarks/quality.py splits it, and validated as a 60 s run
validates it (our own 10 % holdout on the large tables, else 5-fold CV). Then
iteration.run, in this process and one thread (no fork: the iteration's own work only),
runs a small LightGBM and a default logistic regression --repeat times in each of three
ways: as before (featurized in each iteration, metrics on the labels), with label codes
only, and with both. Reported: the median seconds of each, and what encode() took once.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402
from quality_datasets import BY_NAME  # noqa: E402
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split  # noqa: E402

from automl_widgets import metrics  # noqa: E402
from automl_widgets.engine import data, iteration, prepare  # noqa: E402
from automl_widgets.engine.search import Proposal  # noqa: E402

PROPOSALS = [Proposal("MaxAbsScaler", "LightGBM",
                      {"n_estimators": 30, "num_leaves": 64, "learning_rate": 0.1}),
             Proposal("StandardScalerWrapper", "LogisticRegression")]


def context(ds, X, y):
    classification = ds.kind != "regression"
    task = "classification" if classification else "regression"
    common = dict(task=task, primary_metric="AUC_weighted" if classification else "r2_score",
                  sample_weight=None, classes=np.unique(y) if classification else None,
                  kinds=data.column_kinds(X), sparse=False, random_state=0, n_jobs=1)
    y = np.asarray(y)
    smallest = (None, np.unique(y, return_counts=True)[1].min()) if classification else None
    if prepare.auto_holdout({"experiment_timeout_minutes": 1}, len(y), X.shape[1], smallest)[0]:
        Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.1, random_state=0,
                                          stratify=y if classification else None)
        return iteration.Context(X=Xt, y=yt, X_valid=Xv, y_valid=yv, splits=None,
                                 final_rows=(X, y, None), **common), "holdout"
    cv = (StratifiedKFold if classification else KFold)(5, shuffle=True, random_state=0)
    return iteration.Context(X=X, y=y, X_valid=None, y_valid=None,
                             splits=list(cv.split(np.zeros(len(y)), y)), **common), "5-fold"


def timed(ctx, proposal, repeat):
    seconds = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            iteration.run(ctx, proposal, out)
            seconds.append(time.perf_counter() - t)
    return statistics.median(seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="flights_late,crash_deaths,diamonds,credit,uk_vote")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    coded = metrics._coded
    print("| dataset | validation | pipeline | before (s) | label codes (s) | both (s) "
          "| encode once (s) |")
    print("|---|---|---|--:|--:|--:|--:|")
    for name in args.datasets.split(","):
        ds = BY_NAME[name]
        X, y = ds.load()
        X, _, y, _ = train_test_split(X, y, test_size=0.25, random_state=0,
                                      stratify=None if ds.kind == "regression" else y)
        ctx, how = context(ds, X, y)
        t = time.perf_counter()
        encoded = iteration.encode(ctx)
        once = time.perf_counter() - t
        for proposal in PROPOSALS:
            if ds.kind == "regression" and proposal.estimator == "LogisticRegression":
                proposal = Proposal("StandardScalerWrapper", "ElasticNet")
            sys.stdout = open(os.devnull, "w")   # the iterations' own prints
            try:
                timed(ctx, proposal, 1)   # warm: imports, first-use caches
                metrics._coded = lambda *a: None
                ctx.encoded = None
                before = timed(ctx, proposal, args.repeat)
                metrics._coded = coded
                codes = timed(ctx, proposal, args.repeat)
                ctx.encoded = encoded
                both = timed(ctx, proposal, args.repeat)
            finally:
                sys.stdout.close()
                sys.stdout = sys.__stdout__
                metrics._coded, ctx.encoded = coded, None
            print(f"| {name} | {how} | {proposal.name(ctx.task)} | {before:.3f} | {codes:.3f} "
                  f"| {both:.3f} | {once:.3f} |", flush=True)


if __name__ == "__main__":
    main()
