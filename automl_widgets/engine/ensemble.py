"""The last two iterations, over the held-out predictions kept by earlier iterations:
VotingEnsemble (greedy ensemble selection with replacement, Caruana et al. 2004) and
StackEnsemble (a cheap linear meta-learner over the best model of each family).

Members are not fitted again: each was fitted on all training rows, with the sample
weights, by its own iteration. The voting ensemble holds them frozen
(sklearn.frozen.FrozenEstimator) and the stack holds them prefit with a meta-learner
trained on their out-of-fold predictions, so an ensemble costs a few predictions, not
its members' refits, and stays a plain scikit-learn object. In a classification run
that builds both, the VotingEnsemble gives half its vote to such a stack (_with_stack).
"""
from __future__ import annotations

import os
import time
from collections import Counter

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from .. import metrics
from ..protocol import MODEL
from . import iteration
from .iteration import Context

CANDIDATES = 50   # greedy selection looks at the best this many iterations,
PER_FAMILY = 15   # at most this many of each family: the search's near-copies of one
                  # configuration fit the folds' noise alike, and crowd out the others;
                  # 10 left out good members of a leading family (docs/benchmarks.md)
STACKED = 6       # the stack takes the best model of at most this many families


def _ranked(ctx, members):
    metric = metrics.get(ctx.primary_metric)
    return sorted(members, key=lambda m: m[2], reverse=metric.greater_is_better)


def _signal(ctx, folder):
    pred, proba = iteration.load_predictions(folder)
    return proba if ctx.task == metrics.CLASSIFICATION else pred.astype(float)


def _weights(ctx):
    """The held-out rows' sample weights, where those rows are training rows (CV)."""
    return ctx.sample_weight if ctx.y_valid is None else None


def _primary(ctx, avg):
    metric = metrics.get(ctx.primary_metric)
    if ctx.task == metrics.CLASSIFICATION:
        pred = ctx.classes[np.argmax(avg, axis=1)]
        value = metric.compute(ctx.y_eval, pred, avg, ctx.classes, _weights(ctx),
                               ctx.positive_label)
    else:
        value = metric.compute(ctx.y_eval, avg, None, None, _weights(ctx))
    return _greater(ctx, value)


def _greater(ctx, value):
    """A score of the primary metric, greater better."""
    return value if metrics.get(ctx.primary_metric).greater_is_better else -value


def _scorer(ctx):
    """fn(average of signals) -> the primary metric, greater better, for the greedy
    selection: the rank-based AUC where it applies, else the metric itself."""
    metric = metrics.get(ctx.primary_metric)
    if ctx.task == metrics.CLASSIFICATION:
        fast = metrics.fast_scorer(ctx.primary_metric, ctx.y_eval, ctx.classes,
                                   _weights(ctx), ctx.positive_label)
        if fast is not None:
            return fast if metric.greater_is_better else lambda avg: -fast(avg)
    return lambda avg: _primary(ctx, avg)


def _as_pred(ctx, avg):
    if ctx.task == metrics.CLASSIFICATION:
        return ctx.classes[np.argmax(avg, axis=1)], avg
    return avg, None


def candidates(ctx, members) -> list:
    """The best CANDIDATES members, at most PER_FAMILY of each family."""
    taken, out = Counter(), []
    for m in _ranked(ctx, members):
        family = m[3] if len(m) > 3 else m[0]
        if taken[family] < PER_FAMILY:
            taken[family] += 1
            out.append(m)
    return out[:CANDIDATES]


def greedy_weights(ctx, members, steps, until=None) -> dict:
    """Ensemble selection with replacement, starting from the best single model; the
    weights after the best-scoring step (a later step may score worse). until: a
    time.monotonic() past which no step is begun or finished: a step costs one metric
    evaluation per candidate (AUCs from ranks, _scorer: 0.5 ms for 1,500 rows and 3
    classes, 2.4 ms for 10; roc_auc_score took 4 and 12 ms)."""
    cands = candidates(ctx, members)
    signals = {m[0]: _signal(ctx, m[1]) for m in cands}
    score = _scorer(ctx)
    chosen = Counter({cands[0][0]: 1})
    total = signals[cands[0][0]].copy()
    best, best_score = dict(chosen), score(total)
    for k in range(1, steps):
        scores = {}
        for n, s in signals.items():
            if until is not None and time.monotonic() > until:
                print(f"greedy selection stopped in step {k + 1} of {steps}: the time "
                      "kept for the ensembles is nearly over", flush=True)
                return best
            scores[n] = score((total + s) / (k + 1))
        best_n = max(scores, key=scores.get)
        chosen[best_n] += 1
        total += signals[best_n]
        if scores[best_n] > best_score:
            best, best_score = dict(chosen), scores[best_n]
    return best


def _fitted(folders, ns):
    return [(f"iteration_{n}", joblib.load(os.path.join(folders[n], MODEL))) for n in ns]


def voting(ctx: Context, members, steps, out_dir, until=None, stack=False) -> dict:
    """The greedy selection's soft vote; with `stack` (a classification run that builds
    the StackEnsemble too), that stack holds half the vote (_with_stack)."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    weights = greedy_weights(ctx, members, steps, until)
    folders = {m[0]: m[1] for m in members}
    print(f"VotingEnsemble weights by iteration: {weights}", flush=True)
    total = sum(weights.values())
    avg = sum(_signal(ctx, folders[n]) * w for n, w in weights.items()) / total
    ests = [(name, FrozenEstimator(m)) for name, m in _fitted(folders, weights)]
    w = [weights[n] for n in weights]
    params = {"ensembled_iterations": list(weights), "weights": w}
    if stack and ctx.task == metrics.CLASSIFICATION and (until is None or
                                                          time.monotonic() < until):
        held = _with_stack(ctx, members)
        if held is not None:
            model, proba, stacked = held
            mixed, best = (avg + proba) / 2, _ranked(ctx, members)[0]
            # The greedy selection scores at least its best member on the held-out rows;
            # a vote that scores below it would lose the pick to a single model, which
            # did worse on the test rows (docs/benchmarks.md, 2026-12-06 (10)).
            if _primary(ctx, mixed) >= _greater(ctx, best[2]):
                ests.append(("stack", FrozenEstimator(model)))
                w = w + [total]
                avg = mixed
                params["stacked_iterations"] = stacked
                print(f"VotingEnsemble: half the vote is a stack over iterations {stacked}",
                      flush=True)
            else:
                print(f"VotingEnsemble: no stack half: with one over iterations {stacked} "
                      f"the vote scored below iteration {best[0]} alone on the held-out rows",
                      flush=True)
    est = (VotingClassifier(ests, voting="soft", weights=w)
           if ctx.task == metrics.CLASSIFICATION else VotingRegressor(ests, weights=w))
    pred, proba = _as_pred(ctx, avg)
    result = _finish(ctx, Pipeline([("ensemble", est)]), pred, proba, out_dir, fitted=False)
    result["params"] = params
    return result


def _with_stack(ctx, members):
    """(stack model, its probabilities for the held-out rows, its iterations) for the
    VotingEnsemble's other half, or None. On 15 classification tables the stack beat
    the greedy selection on the test rows 12 times, and their average 13 times (the
    greedy weights fit the held-out rows' noise: one put 8 of 12 on a weak boosting),
    but the stack's cross-validated score lost every pick to the greedy selection's
    in-sample one. So the vote holds both, and like the greedy weights the stack's
    meta-learner is scored on the rows it was fitted on (docs/benchmarks.md,
    2026-12-06 (10))."""
    folders, z, y = _stack_inputs(ctx, members)
    if len(np.unique(y)) < len(ctx.classes):   # a class missing from the held-out rows
        return None
    meta = _meta_learner(ctx).fit(z, y, sample_weight=_weights(ctx))
    return _stack_model(ctx, folders, meta), meta.predict_proba(z), list(folders)


def _stack_members(ctx, members):
    """The best iteration of each family, best first, at most STACKED."""
    best = {}
    for m in _ranked(ctx, members):
        best.setdefault(m[3] if len(m) > 3 else m[0], m)
    return list(best.values())[:STACKED]


def _meta_features(ctx, folders):
    """The members' held-out predictions laid out as StackingClassifier lays out theirs:
    one column per class, the first dropped when there are two."""
    cols = []
    for folder in folders:
        s = _signal(ctx, folder).reshape(len(ctx.y_eval), -1)
        cols.append(s[:, 1:] if s.shape[1] == 2 else s)
    return np.hstack(cols)


def _stack_inputs(ctx, members):
    """The stack's members' folders (the best of each family), its meta-learner's
    features and the targets it is fitted on (label codes: the stack encodes labels as
    0..k-1 before its meta-learner sees them)."""
    folders = {m[0]: m[1] for m in _stack_members(ctx, members)}
    z = _meta_features(ctx, folders.values())
    y = np.searchsorted(ctx.classes, ctx.y_eval) if ctx.task == metrics.CLASSIFICATION \
        else ctx.y_eval
    return folders, z, y


def _meta_learner(ctx):
    from sklearn.linear_model import LogisticRegression, RidgeCV
    return LogisticRegression(max_iter=1000) if ctx.task == metrics.CLASSIFICATION \
        else RidgeCV()


def _stack_model(ctx, folders, meta):
    from sklearn.ensemble import StackingClassifier, StackingRegressor
    est_cls = StackingClassifier if ctx.task == metrics.CLASSIFICATION else StackingRegressor
    est = est_cls(_fitted(folders, folders), final_estimator=FrozenEstimator(meta), cv="prefit")
    return Pipeline([("ensemble", est)]).fit(*_few_rows(ctx))


def stacking(ctx: Context, members, out_dir) -> dict:
    folders, z, y = _stack_inputs(ctx, members)
    print(f"StackEnsemble over iterations: {list(folders)}", flush=True)
    classification = ctx.task == metrics.CLASSIFICATION
    w = _weights(ctx)
    meta = _meta_learner(ctx)
    folds = 5
    if classification:  # a small holdout may hold fewer than 5 rows of a class
        folds = max(2, min(5, np.unique(y, return_counts=True)[1].min()))
    cv = (StratifiedKFold if classification else KFold)(folds, shuffle=True,
                                                         random_state=ctx.random_state)
    params = None if w is None else {"sample_weight": w}
    if classification:
        proba = cross_val_predict(meta, z, y, cv=cv, method="predict_proba", params=params)
        pred = ctx.classes[np.argmax(proba, axis=1)]
    else:
        pred, proba = cross_val_predict(meta, z, y, cv=cv, params=params), None
    meta = clone(meta).fit(z, y, sample_weight=w)
    result = _finish(ctx, _stack_model(ctx, folders, meta), pred, proba, out_dir)
    result["params"] = {"stacked_iterations": list(folders)}
    return result


def _few_rows(ctx):
    """Rows enough to fit a stack whose members and meta-learner are fitted already: its
    fit only predicts the members, and on every row of a large table that outlasted the
    ensembles' reserve (diamonds' stack was canceled at the deadline, docs/benchmarks.md,
    2026-12-06). The first row of each class, so that its classes_ are all rows'."""
    X, y = (ctx.final_rows or (ctx.X, ctx.y))[:2]
    idx = np.unique(y, return_index=True)[1] if ctx.task == metrics.CLASSIFICATION else [0]
    return iteration.take(X, np.sort(idx)), y[np.sort(idx)]


def _finish(ctx, model, pred, proba, out_dir, fitted=True):
    # The ensemble's own fit changes nothing (its members and meta-learner are fitted), so
    # it takes no sample weights; it is scored like every other iteration, weights and all.
    rows = ctx.final_rows and ctx.final_rows[:2] + (None,)
    unweighted = Context(**{**ctx.__dict__, "sample_weight": None, "final_rows": rows})
    result = iteration.finish(unweighted, model, pred, proba, out_dir, fitted=fitted)
    if ctx.sample_weight is not None:
        result["metrics"] = iteration.score(ctx, pred, proba)
        result["score"] = result["metrics"][ctx.primary_metric]
    return result
