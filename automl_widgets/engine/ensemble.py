"""The last two iterations: VotingEnsemble (greedy ensemble selection, Caruana et al. 2004)
and StackEnsemble, both over the held-out predictions kept by earlier iterations."""
from __future__ import annotations

import os
from collections import Counter

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from .. import metrics
from ..protocol import MODEL
from . import iteration
from .iteration import Context


def _candidates(ctx, members, limit=15):
    """(n, folder, score) of completed iterations, best first, at most `limit`."""
    metric = metrics.get(ctx.primary_metric)
    ranked = sorted(members, key=lambda m: m[2], reverse=metric.greater_is_better)
    return ranked[:limit]


def _signal(ctx, folder):
    pred, proba = iteration.load_predictions(folder)
    return proba if ctx.task == metrics.CLASSIFICATION else pred.astype(float)


def _primary(ctx, avg):
    metric = metrics.get(ctx.primary_metric)
    if ctx.task == metrics.CLASSIFICATION:
        pred = ctx.classes[np.argmax(avg, axis=1)]
        value = metric.fn(ctx.y_eval, pred, avg, ctx.classes, None)
    else:
        value = metric.fn(ctx.y_eval, avg, None, None, None)
    return value if metric.greater_is_better else -value


def _as_pred(ctx, avg):
    if ctx.task == metrics.CLASSIFICATION:
        return ctx.classes[np.argmax(avg, axis=1)], avg
    return avg, None


def greedy_weights(ctx, members, steps) -> dict:
    """Ensemble selection with replacement, starting from the best single model."""
    cands = _candidates(ctx, members)
    signals = {n: _signal(ctx, folder) for n, folder, _ in cands}
    chosen = Counter({cands[0][0]: 1})
    total = signals[cands[0][0]].copy()
    for k in range(1, steps):
        best_n = max(signals, key=lambda n: _primary(ctx, (total + signals[n]) / (k + 1)))
        chosen[best_n] += 1
        total += signals[best_n]
    return dict(chosen)


def _members(folders, weights):
    return [(f"iteration_{n}", clone(joblib.load(os.path.join(folders[n], MODEL))))
            for n in weights]


def voting(ctx: Context, members, steps, out_dir) -> dict:
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    weights = greedy_weights(ctx, members, steps)
    folders = {n: f for n, f, _ in members}
    print(f"VotingEnsemble weights by iteration: {weights}", flush=True)
    total = sum(weights.values())
    avg = sum(_signal(ctx, folders[n]) * w for n, w in weights.items()) / total
    ests = _members(folders, weights)
    w = [weights[n] for n in weights]
    est = (VotingClassifier(ests, voting="soft", weights=w)
           if ctx.task == metrics.CLASSIFICATION else VotingRegressor(ests, weights=w))
    pred, proba = _as_pred(ctx, avg)
    result = _finish(ctx, est, pred, proba, out_dir)
    result["params"] = {"ensembled_iterations": list(weights), "weights": w}
    return result


def stacking(ctx: Context, members, out_dir, k=5) -> dict:
    from sklearn.ensemble import StackingClassifier, StackingRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV
    cands = _candidates(ctx, members, limit=k)
    folders = {n: f for n, f, _ in cands}
    print(f"StackEnsemble over iterations: {list(folders)}", flush=True)
    z = np.hstack([_signal(ctx, f).reshape(len(ctx.y_eval), -1) for f in folders.values()])
    classification = ctx.task == metrics.CLASSIFICATION
    meta = LogisticRegression(max_iter=1000) if classification else RidgeCV()
    folds = 5
    if classification:  # a small holdout may hold fewer than 5 rows of a class
        folds = max(2, min(5, np.unique(ctx.y_eval, return_counts=True)[1].min()))
    cv = (StratifiedKFold if classification else KFold)(folds, shuffle=True,
                                                         random_state=ctx.random_state)
    if classification:
        proba = cross_val_predict(meta, z, ctx.y_eval, cv=cv, method="predict_proba")
        pred = ctx.classes[np.argmax(proba, axis=1)]
    else:
        pred, proba = cross_val_predict(meta, z, ctx.y_eval, cv=cv), None
    n_folds = len(ctx.splits) if ctx.splits else 5
    est_cls = StackingClassifier if classification else StackingRegressor
    est = est_cls(_members(folders, folders), final_estimator=clone(meta), cv=n_folds)
    result = _finish(ctx, est, pred, proba, out_dir)
    result["params"] = {"stacked_iterations": list(folders)}
    return result


def _finish(ctx, est, pred, proba, out_dir):
    # Members are Pipelines, which take no plain sample_weight: the ensemble fits unweighted.
    unweighted = Context(**{**ctx.__dict__, "sample_weight": None})
    result = iteration.finish(unweighted, Pipeline([("ensemble", est)]), pred, proba, out_dir)
    if ctx.sample_weight is not None:  # but it is scored like every other iteration
        result["metrics"] = iteration.score(ctx, pred, proba)
        result["score"] = result["metrics"][ctx.primary_metric]
    return result
