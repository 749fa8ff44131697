"""Ways to pick the final model, compared on the same runs: no rerun, no search noise.

    .venv/bin/python benchmarks/ensemble_ablation.py run --workspace /tmp/abl [--budget 60]
        [--datasets a,b]                       # one run of ours per dataset, kept
    .venv/bin/python benchmarks/ensemble_ablation.py analyse --workspace /tmp/abl

`run` runs ours as benchmarks/quality.py does (same split, settings and budget) and keeps
the workspace. `analyse` takes every completed iteration's held-out predictions (what the
ensembles are chosen from) and its fitted model's predictions on the 25 % test rows, and
scores each strategy's choice on the test rows. The search is the same for every strategy,
so the differences are the strategies', not the runs' luck. The predictions are kept in
the workspace (predictions_<dataset>.joblib), so a second `analyse` takes seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

import joblib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from quality import SEED, budget, fit_ours, score  # noqa: E402
from quality_datasets import BY_NAME, DATASETS  # noqa: E402
from sklearn.metrics import r2_score, roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from automl_widgets import Workspace, metrics  # noqa: E402
from automl_widgets.catalog import family_of  # noqa: E402


def split(ds):
    X, y = ds.load()
    return train_test_split(X, y, test_size=0.25, random_state=SEED,
                            stratify=None if ds.kind == "regression" else y)


def do_run(args):
    os.makedirs(args.workspace, exist_ok=True)
    try:
        ws = Workspace.from_config(args.workspace)
    except Exception:
        ws = Workspace.create(args.workspace)
    index_path = os.path.join(args.workspace, "runs.json")
    index = json.load(open(index_path)) if os.path.exists(index_path) else {}
    for ds in _datasets(args):
        X_train, X_test, y_train, y_test = split(ds)
        model, n, details = fit_ours(ws, ds, X_train, y_train, args.budget)
        index[ds.name] = {"run": _last_run(ws), "test": score(ds, model, X_test, y_test),
                          "iterations": n, "best": details["best"]}
        print(ds.name, index[ds.name], flush=True)
        json.dump(index, open(index_path, "w"), indent=1)


def _last_run(ws):
    return max(ws.runs(), key=lambda r: r[2])[0]


def _datasets(args):
    return [BY_NAME[n] for n in args.datasets.split(",")] if args.datasets else DATASETS


# ---- analysis ----------------------------------------------------------------------------

def measure(kind, y, s, classes):
    """The benchmark's test score of a signal: probabilities or regression values."""
    if kind == "regression":
        return float(r2_score(y, s))
    if kind == "binary":
        return float(roc_auc_score(y == classes[1], s[:, 1]))
    return float(roc_auc_score(y, s, labels=list(classes), multi_class="ovr",
                               average="weighted"))


def greedy(oof, order, score_fn, steps, init=1, keep_best=True):
    chosen = Counter({n: 1 for n in order[:init]})
    total = sum(oof[n] for n in order[:init])
    best, best_score = dict(chosen), score_fn(total / init)
    for k in range(init, steps):
        scores = {n: score_fn((total + oof[n]) / (k + 1)) for n in order}
        n = max(scores, key=scores.get)
        chosen[n] += 1
        total = total + oof[n]
        if not keep_best or scores[n] > best_score:
            best, best_score = dict(chosen), scores[n]
    return best


def capped(ranked, family, k, n=50):
    """The best n of ranked with at most k of each family: near-duplicates of one
    family's best configuration crowd out everything else otherwise."""
    seen, out = Counter(), []
    for m in ranked:
        if seen[family[m]] < k:
            seen[family[m]] += 1
            out.append(m)
    return out[:n]


def _unit(signal):
    """Centred and scaled to length 1: dot products of two are correlations."""
    v = signal[:, 1:] if signal.ndim == 2 and signal.shape[1] == 2 else signal
    v = v.ravel() - v.mean()
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def near_capped(ranked, signal, k, near=0.995, n=50):
    """The best n of ranked, each a near-copy (held-out predictions correlated at least
    `near`) of fewer than k of those taken before it, whatever the family."""
    out, units = [], []
    for m in ranked[:4 * n]:
        u = _unit(signal(m))
        if sum(float(u @ v) >= near for v in units) < k:
            out.append(m)
            units.append(u)
            if len(out) == n:
                break
    return out


def bagged(oof, order, score_fn, steps, bags=20, fraction=0.5, seed=0):
    rng = np.random.default_rng(seed)
    weights = Counter()
    for _ in range(bags):
        k = max(2, int(len(order) * fraction))
        pick = [order[i] for i in sorted(rng.choice(len(order), k, replace=False))]
        w = greedy(oof, pick, score_fn, steps)
        total = sum(w.values())
        for n, c in w.items():
            weights[n] += c / total
    return dict(weights)


def crossfitted(oof, order, y, kind, classes, steps, folds=2, seed=0):
    """The greedy selection's own held-out score: candidates ranked and weights chosen on
    the other folds' rows, scored on this fold's; the mean over folds (pooled AUC would
    mix the folds' different ensembles' scales). Returns (score, per-fold weights)."""
    from sklearn.model_selection import KFold, StratifiedKFold
    cv = (KFold if kind == "regression" else StratifiedKFold)(folds, shuffle=True,
                                                               random_state=seed)
    scores, fold_weights = [], []
    for fit_rows, held in cv.split(np.zeros(len(y)), y):
        part = {n: oof[n][fit_rows] for n in order}
        fn = lambda s: measure(kind, y[fit_rows], s, classes)   # noqa: E731
        if kind != "regression":
            fn = metrics.fast_scorer("AUC_binary" if kind == "binary" else "AUC_weighted",
                                     y[fit_rows], classes)
        ranked = sorted(order, key=lambda n: fn(part[n]), reverse=True)
        w = greedy(part, ranked, fn, steps)
        fold_weights.append(w)
        scores.append(measure(kind, y[held], combine({n: oof[n][held] for n in w}, w),
                              classes))
    return float(np.mean(scores)), fold_weights


def combine(signals, weights):
    total = sum(weights.values())
    return sum(signals[n] * w for n, w in weights.items()) / total


def analyse(args):
    index = json.load(open(os.path.join(args.workspace, "runs.json")))
    ws = Workspace.from_config(args.workspace)
    table = {}
    for ds in _datasets(args):
        if ds.name not in index:
            continue
        entry = index[ds.name]
        run = ws.find_run(entry["run"])
        X_train, X_test, y_train, y_test = split(ds)
        truth = np.load(os.path.join(run.folder, "truth.npz"), allow_pickle=True)
        y_eval, classes = truth["y"], truth["classes"]
        primary = run.spec["primary_metric"]
        members = []
        for r in run.iterations:
            if r["status"] != "Completed" or r["pipeline"] in ("VotingEnsemble", "StackEnsemble"):
                continue
            members.append((r["iteration"], r["metrics"][primary], family_of(r["pipeline"])))
        members.sort(key=lambda m: m[1], reverse=True)
        order = [m[0] for m in members[:50]]
        family = {m[0]: m[2] for m in members}
        per_family = {k: capped([m[0] for m in members], family, k) for k in (3, 5, 10, 15)}
        cache = os.path.join(args.workspace, f"predictions_{ds.name}.joblib")
        oof, test = joblib.load(cache) if os.path.exists(cache) else ({}, {})

        def held_out(n):
            if n not in oof:
                folder = os.path.join(run.folder, "iterations", str(n))
                with np.load(os.path.join(folder, "predictions.npz"), allow_pickle=True) as f:
                    oof[n] = f["proba"] if ds.kind != "regression" else f["pred"].astype(float)
            return oof[n]

        near = {k: near_capped([m[0] for m in members], held_out, k) for k in (3, 5)}
        needed = sorted(set(order).union(*per_family.values(), *near.values()))
        for n in (n for n in needed if n not in test):
            held_out(n)
            folder = os.path.join(run.folder, "iterations", str(n))
            model = joblib.load(os.path.join(folder, "model.joblib"))
            test[n] = (model.predict(X_test) if ds.kind == "regression"
                       else model.predict_proba(X_test))
        joblib.dump((oof, test), cache)
        score_fn = lambda s: measure(ds.kind, y_eval, s, classes)   # noqa: E731
        if ds.kind != "regression":   # the same values, from ranks: 5-10 times faster
            score_fn = metrics.fast_scorer(
                "AUC_binary" if ds.kind == "binary" else "AUC_weighted", y_eval, classes)
        test_fn = lambda w: measure(ds.kind, y_test, combine(test, w), classes)  # noqa: E731
        results = {"run's pick": entry["test"], "best single": test_fn({order[0]: 1})}
        results["greedy 15"] = test_fn(greedy(oof, order, score_fn, 15))
        results["greedy 50"] = test_fn(greedy(oof, order, score_fn, 50))
        results["greedy 50 all steps"] = test_fn(greedy(oof, order, score_fn, 50,
                                                        keep_best=False))
        results["greedy 50 init 5"] = test_fn(greedy(oof, order, score_fn, 50, init=5))
        results["bagged 20x greedy 25"] = test_fn(bagged(oof, order, score_fn, 25))
        for k, cands in per_family.items():
            results[f"greedy 50, at most {k} a family"] = test_fn(
                greedy(oof, cands, score_fn, 50))
            results[f"greedy 15, at most {k} a family"] = test_fn(
                greedy(oof, cands, score_fn, 15))
        for k, cands in near.items():
            results[f"greedy 15, at most {k} near-copies"] = test_fn(
                greedy(oof, cands, score_fn, 15))
        for k in (3, 5):
            union = order + [n for n in per_family[k] if n not in order]
            results[f"greedy 50, top 50 and {k} a family"] = test_fn(
                greedy(oof, union, score_fn, 50))
        engine = per_family[15]
        w_in = greedy(oof, engine, score_fn, 15)
        runs = {r["pipeline"]: r for r in run.iterations if r["status"] == "Completed"}
        cv = {"single": members[0][1], "voting in-sample": score_fn(combine(oof, w_in))}
        tests = {"single": test_fn({order[0]: 1}), "voting in-sample": test_fn(w_in)}
        if "StackEnsemble" in runs:
            r = runs["StackEnsemble"]
            cv["stack"] = r["metrics"][primary]
            folder = os.path.join(run.folder, "iterations", str(r["iteration"]))
            model = joblib.load(os.path.join(folder, "model.joblib"))
            s = model.predict(X_test) if ds.kind == "regression" else model.predict_proba(X_test)
            tests["stack"] = measure(ds.kind, y_test, s, classes)
        for k in (2, 5):
            cv[f"voting {k}-fold"], fws = crossfitted(oof, engine, y_eval, ds.kind,
                                                      classes, 15, k)
            tests[f"voting {k}-fold"] = tests["voting in-sample"]
            bag = Counter()
            for fw in fws + [w_in]:
                for n, c in fw.items():
                    bag[n] += c / sum(fw.values())
            tests[f"voting {k}-fold bag"] = test_fn(dict(bag))
            cv[f"single {k}-fold"], _ = crossfitted(oof, engine, y_eval, ds.kind,
                                                    classes, 1, k)
            tests[f"single {k}-fold"] = tests["single"]
        for name in ("voting in-sample", "stack", "voting 2-fold", "voting 5-fold"):
            results[f"test: {name}"] = tests.get(name, np.nan)
        results["test: voting 5-fold bag"] = tests["voting 5-fold bag"]
        def pick(keys):
            best = max((k for k in keys if k in cv), key=cv.get)
            return tests[best]
        results["pick: single/in-sample/stack"] = pick(["single", "voting in-sample", "stack"])
        results["pick: single/2-fold/stack"] = pick(["single", "voting 2-fold", "stack"])
        results["pick: single/5-fold/stack"] = pick(["single", "voting 5-fold", "stack"])
        for k in (2, 5):
            results[f"pick: crossfit {k} single/voting/stack"] = pick(
                [f"single {k}-fold", f"voting {k}-fold", "stack"])
            results[f"pick: crossfit {k} single/voting"] = pick(
                [f"single {k}-fold", f"voting {k}-fold"])
        results["pick: 5-fold vs stack only"] = pick(["voting 5-fold", "stack"])
        print(ds.name, "CV", {k: round(v, 4) for k, v in cv.items()}, flush=True)
        if ds.kind != "regression":   # a proper scoring rule picks the weights instead
            codes = np.searchsorted(classes, y_eval)
            onehot = np.eye(len(classes))[codes]
            rows = np.arange(len(codes))
            loss_fn = lambda s: float(np.mean(np.log(np.clip(s[rows, codes], 1e-6, 1))))  # noqa: E731
            brier_fn = lambda s: -float(np.mean(((s - onehot) ** 2).sum(axis=1)))  # noqa: E731
            for steps in (15, 50):
                results[f"greedy {steps} on log loss"] = test_fn(greedy(oof, engine, loss_fn, steps))
                results[f"greedy {steps} on Brier"] = test_fn(greedy(oof, engine, brier_fn, steps))
        results["mean of top 5"] = test_fn({n: 1 for n in order[:5]})
        results["mean of top 10"] = test_fn({n: 1 for n in order[:10]})
        table[ds.name] = results
        print(ds.name, {k: round(v, 4) for k, v in results.items()}, flush=True)
    json.dump(table, open(os.path.join(args.workspace, "ablation.json"), "w"), indent=1)
    # classification runs have strategies regression runs lack (log loss, Brier)
    names = [s for s in next(iter(table.values())) if all(s in t for t in table.values())]
    print("\n| strategy | " + " | ".join(table) + " | mean |")
    print("|---|" + "--:|" * (len(table) + 1))
    for s in names:
        vals = [table[d][s] for d in table]
        print(f"| {s} | " + " | ".join(f"{v:.4f}" for v in vals) +
              f" | {np.mean(vals):.4f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["run", "analyse"])
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--budget", type=budget, default=60)
    ap.add_argument("--datasets")
    args = ap.parse_args()
    do_run(args) if args.what == "run" else analyse(args)


if __name__ == "__main__":
    main()
