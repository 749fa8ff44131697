"""A change to the engine against the code without it, paired over several train/test
splits: is it worth more than the noise of one run on one split?

    .venv/bin/python benchmarks/paired.py --variable AUTOML_X --values 0,1 \
        --datasets titanic,uk_vote,credit,wage --splits 3 --budget 40

One run of ours on one split cannot rank two versions of the search that differ by
0.001-0.002 a table: the same code scored credit 0.8495 and 0.8526 on the same split
(docs/benchmarks.md). Here each dataset is split --splits times (random_state 1, 2, ...;
not the quality benchmark's split 0), and on each split ours runs once per value of
--variable, an environment variable that the submitting process passes on to the driver.
The engine code under test reads it (a temporary `os.environ.get` in the change, removed
once it is decided). Reported: each pair's test scores and difference, then the mean
difference per dataset and over all pairs with its standard error.

Runs are as in benchmarks/quality.py (fit_ours, score): one at a time, never two at once
on 2 cores. About 2 x budget seconds a pair. --keep DIR keeps every run's workspace
(DIR/<dataset>-<split>-<value>) instead of deleting it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from quality import budget, fit_ours, score  # noqa: E402
from quality_datasets import BY_NAME  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from automl_widgets import Workspace  # noqa: E402


def one_run(ds, X_train, y_train, X_test, y_test, budget, keep=None):
    folder = keep or tempfile.mkdtemp(prefix="paired-")
    try:
        model, iterations, _ = fit_ours(Workspace.create(folder), ds, X_train, y_train, budget)
        return score(ds, model, X_test, y_test), iterations
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variable", required=True, help="environment variable to vary")
    ap.add_argument("--values", required=True, help="two values, comma-separated: A,B")
    ap.add_argument("--datasets", required=True, help="comma-separated, see quality.py --list")
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--budget", type=budget, default=40.0)
    ap.add_argument("--out", help="write the pairs as JSON lines here too")
    ap.add_argument("--keep", help="keep each run's workspace under this folder, as "
                    "<dataset>-<split>-<value>, to read what a surprising run picked")
    args = ap.parse_args()
    a, b = args.values.split(",")
    unknown = [n for n in args.datasets.split(",") if n not in BY_NAME]
    if unknown or args.splits < 1 or args.budget <= 0:
        ap.error(f"unknown datasets {unknown}" if unknown else
                 "--splits must be at least 1 and --budget above 0")
    pairs = []
    for name in args.datasets.split(","):
        ds = BY_NAME[name]
        X, y = ds.load()
        for seed in range(1, args.splits + 1):
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=seed,
                stratify=None if ds.kind == "regression" else y)
            pair = {"dataset": name, "split": seed}
            for value in (a, b):
                os.environ[args.variable] = value
                keep = (os.path.join(args.keep, f"{name}-{seed}-{value}")
                        if args.keep else None)
                pair[value], pair[f"{value} iterations"] = one_run(
                    ds, X_train, y_train, X_test, y_test, args.budget, keep)
            pair["difference"] = pair[b] - pair[a]
            pairs.append(pair)
            print(json.dumps(pair), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(pair) + "\n")
    print(f"\n{args.variable}: {b} minus {a}, test score")
    for name in args.datasets.split(","):
        d = [p["difference"] for p in pairs if p["dataset"] == name]
        print(f"  {name:14s} mean {statistics.mean(d):+.4f}  "
              + " ".join(f"{x:+.4f}" for x in d))
    d = [p["difference"] for p in pairs]
    se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")
    print(f"  {'all':14s} mean {statistics.mean(d):+.4f}  standard error {se:.4f}  "
          f"({len(d)} pairs)")


if __name__ == "__main__":
    main()
