"""One iteration: build the pipeline, score it on held-out predictions, fit, save.

Runs inside a forked worker process (see worker.py); everything it needs arrives in a
Context built once by the driver, so an iteration starts without loading anything.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from .. import catalog, metrics
from ..protocol import MODEL, PREDICTIONS, Status
from . import data


@dataclass
class Context:
    """The data and fixed choices every iteration of a run shares."""
    task: str
    primary_metric: str
    X: object
    y: np.ndarray
    sample_weight: np.ndarray | None
    X_valid: object | None       # holdout rows (validation data or validation_size split)
    y_valid: np.ndarray | None
    splits: list | None          # CV folds, the same for every iteration
    classes: np.ndarray | None
    kinds: dict | None           # column kinds when preprocess=True
    sparse: bool
    random_state: int
    n_jobs: int | None
    final_rows: tuple | None = None   # (X, y, w) to fit the saved model on, if not X, y
    positive_label: object = None     # binary metrics' positive class (None: the last)
    custom_metrics: dict | None = None   # the user's metrics (spec.json), for Dask workers
    onnx: bool = False                   # enable_onnx_compatible_models: convertible steps only
    encoded: Encoded | None = None       # the featurization, done once (encode); local only
    coded: Encoded | None = None         # the same with categories as codes, where searched


    @property
    def y_eval(self):
        return self.y if self.y_valid is None else self.y_valid


@dataclass
class Encoded:
    """preprocess=True's featurizer fitted once per set of training rows, and the rows it
    fits and scores encoded by it. Every iteration fitted the same featurizer on the same
    rows again: on a large table, a third of a small iteration's time (docs/benchmarks.md,
    2026-12-01 05:00)."""
    scored: list   # per fold, or one for the holdout: (featurizer, training Z, scored Z)
    final: tuple   # (featurizer, Z) of the rows the saved model is fitted on


ENCODE_BYTES = 512 * 2**20   # the most the encoded rows may take, all sets together


def encode(ctx: Context, max_bytes=ENCODE_BYTES, codes=False) -> Encoded | None:
    """The featurization of every set of rows the iterations fit on, or None without
    preprocess=True, or where it would take more than max_bytes. codes: with the
    categories as codes (data.build_featurizer)."""
    if ctx.kinds is None:
        return None
    X = (ctx.final_rows or (ctx.X,))[0]
    sets_rows = len(ctx.y) + _len(ctx.X_valid) if ctx.y_valid is not None else \
        len(ctx.splits) * len(ctx.y)
    share = 1 + sets_rows / _len(X)
    # each raw column encodes to one or more: if they are too large already, fit nothing
    if _len(X) * X.shape[1] * 8 * share > max_bytes:
        return None
    featurizer = data.build_featurizer(ctx.kinds, ctx.sparse, ctx.onnx, codes)
    final = (featurizer, featurizer.fit_transform(X, (ctx.final_rows or (0, ctx.y))[1]))
    if _nbytes(final[1]) * share > max_bytes:
        return None
    sets = [(ctx.X, ctx.X_valid)] if ctx.y_valid is not None else \
        [(take(ctx.X, train), take(ctx.X, test)) for train, test in ctx.splits]
    scored = []
    for (train, test), y in zip(sets, _training_targets(ctx)):
        if train is X:   # a given holdout: the saved model is the one fitted on these rows
            scored.append((*final, featurizer.transform(test)))
            continue
        f = clone(featurizer)
        scored.append((f, f.fit_transform(train, y), f.transform(test)))
    return Encoded(scored, final)


def _encoding(ctx, model) -> Encoded | None:
    """The rows encoded as the model's own featurization step would encode them."""
    if ctx.kinds is None:
        return None
    return ctx.coded if data.coded(model.steps[0][1]) else ctx.encoded


def _training_targets(ctx):
    if ctx.y_valid is not None:
        return [ctx.y]
    return [ctx.y[train] for train, _ in ctx.splits]


def _len(X):
    return X.shape[0]


def _nbytes(Z):
    return Z.data.nbytes if hasattr(Z, "tocsr") else Z.nbytes


def _fit_encoded(model, part, y, w):
    """model (featurization first) fitted on rows whose encoding is part[1], by part[0]:
    its own featurization step is not fitted, the encoded rows' featurizer takes its
    place."""
    rest = _fit(Pipeline(clone(model).steps[1:]), part[1], y, w)
    return Pipeline([(model.steps[0][0], part[0])] + rest.steps)


def _encoded(model):
    """The model without its featurization step, for rows already encoded."""
    return Pipeline(model.steps[1:])


def take(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


def build_pipeline(ctx: Context, preprocessor: str, estimator: str, params: dict) -> Pipeline:
    steps = []
    codes = len(ctx.kinds["categorical"]) if params.get(catalog.CATEGORIES) == "codes" \
        and ctx.kinds and ctx.kinds["categorical"] and not ctx.onnx else 0
    if ctx.kinds is not None:
        steps.append(("featurization", data.build_featurizer(ctx.kinds, ctx.sparse, ctx.onnx,
                                                             codes=bool(codes))))
    scaler = catalog.PREPROCESSORS[preprocessor].build(sparse=ctx.sparse)
    if codes:   # the codes (the first columns) stay integers; the scaler takes the rest
        from sklearn.compose import ColumnTransformer
        scaler = ColumnTransformer([(data.CODES, "passthrough", list(range(codes)))],
                                   remainder=scaler, sparse_threshold=0)
        # LightGBM's own name of fit()'s categorical_feature, as a parameter of the model
        # (a refit of the Pipeline keeps it); categorical_feature there warns, though used
        params = dict(params, categorical_column=list(range(codes)))
    steps.append(("preprocessor", scaler))
    est = catalog.estimators(ctx.task)[estimator].build(
        params, sparse=ctx.sparse, random_state=ctx.random_state, n_jobs=ctx.n_jobs,
        classes=ctx.classes)
    steps.append(("estimator", est))
    return Pipeline(steps)


def _takes_weights(est) -> bool:
    # A VotingClassifier's fit hides sample_weight in **fit_params, and hands it on.
    inner = [e for _, e in getattr(est, "estimators", None) or ()]
    return has_fit_parameter(est, "sample_weight") or bool(inner) and all(
        has_fit_parameter(e, "sample_weight") for e in inner)


def _fit(model, X, y, w):
    last = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if w is not None and _takes_weights(last):
        if isinstance(model, Pipeline):
            return model.fit(X, y, **{f"{model.steps[-1][0]}__sample_weight": w})
        return model.fit(X, y, sample_weight=w)
    return model.fit(X, y)


def _predict(ctx, model, X):
    if ctx.task == metrics.REGRESSION:
        return model.predict(X), None
    raw = model.predict_proba(X)
    proba = np.zeros((raw.shape[0], len(ctx.classes)))
    cols = np.searchsorted(ctx.classes, model.classes_)  # a fold may miss a rare class
    proba[:, cols] = raw
    # float32 boosters (XGBoost) sum to 1 only within their precision: make it exact, or
    # scikit-learn's log_loss warns in every iteration's log
    total = proba.sum(axis=1, keepdims=True)
    np.divide(proba, total, out=proba, where=total > 0)
    return ctx.classes[np.argmax(proba, axis=1)], proba


class Pruned(Exception):
    """The first fold (or a holdout's screen) scored worse than the proposal's prune_below."""

    def __init__(self, score, threshold, where, metric):
        super().__init__(f"stopped after {where}: its {metric} {score:.4f} is worse than "
                         f"{threshold:.4f}, the median so far")
        self.score = score


# A holdout has no first fold to stop a weak proposal at: from SCREEN_ROWS training rows
# on, a searched proposal is first fitted on SCREEN of them and scored on the holdout,
# and goes on to every row only if that is no worse than the median of such scores.
SCREEN, SCREEN_ROWS = 0.25, 10_000


def screens(ctx) -> bool:
    """Whether searched proposals get a screen (a holdout of enough training rows)."""
    return ctx.y_valid is not None and len(ctx.y) >= SCREEN_ROWS


def screen_rows(ctx) -> np.ndarray:
    """SCREEN of the training rows, at random; for classification SCREEN of each class's
    and at least one (XGBoost fails on labels with a gap, such as 0 and 2 without 1)."""
    perm = np.random.default_rng(ctx.random_state).permutation(len(ctx.y))
    if ctx.classes is None:
        return np.sort(perm[:int(len(perm) * SCREEN)])
    y = ctx.y[perm]
    return np.sort(np.concatenate([perm[y == c][:max(1, int((y == c).sum() * SCREEN))]
                                   for c in np.unique(y)]))


def screened(ctx: Context, model, prune_below=None) -> float:
    """The holdout's score of `model` (unchanged) fitted on SCREEN of the training rows;
    raises Pruned if it is worse than prune_below."""
    n, rows = len(ctx.y), screen_rows(ctx)
    w, enc = ctx.sample_weight, _encoding(ctx, model)
    w = None if w is None else w[rows]
    if enc is not None:
        featurizer, Z, Z_valid = enc.scored[0]
        fitted = _fit_encoded(model, (featurizer, take(Z, rows)), ctx.y[rows], w)
        pred, proba = _predict(ctx, _encoded(fitted), Z_valid)
    else:
        fitted = _fit(clone(model), take(ctx.X, rows), ctx.y[rows], w)
        pred, proba = _predict(ctx, fitted, ctx.X_valid)
    first = rows_score(ctx, None, pred, proba)
    print(f"fitted on {len(rows)} of {n} rows first: {ctx.primary_metric} {first}",
          flush=True)
    if prune_below is not None and metrics.get(ctx.primary_metric).better(prune_below, first):
        raise Pruned(first, prune_below, f"{len(rows)} of {n} rows", ctx.primary_metric)
    return first


def held_out_predictions(ctx: Context, model, prune_below=None):
    """Predictions for rows the model was not fitted on: the holdout or out-of-fold, and
    (fitted, test): a fitted model and the rows it was scored on (test None: the holdout).
    With a holdout, `model` itself is fitted on the training rows; with folds, clones of
    it are, the first fold's is returned. With prune_below, raises Pruned if the first
    fold scores worse than that."""
    w, enc = ctx.sample_weight, _encoding(ctx, model)
    if ctx.y_valid is not None:
        if enc is not None:
            fitted = _fit_encoded(model, enc.scored[0], ctx.y, w)
            return *_predict(ctx, _encoded(fitted), enc.scored[0][2]), (fitted, None)
        return *_predict(ctx, _fit(model, ctx.X, ctx.y, w), ctx.X_valid), (model, None)
    # labels for classification; for regression floats whatever the target's dtype (an
    # integer count target truncated every out-of-fold prediction: 0.3 visits became 0)
    pred = np.empty(len(ctx.y), dtype=ctx.y.dtype if ctx.classes is not None else float)
    proba = None if ctx.classes is None else np.zeros((len(ctx.y), len(ctx.classes)))
    for i, (train, test) in enumerate(ctx.splits):
        w_train = None if w is None else w[train]
        if enc is not None:
            fitted = _fit_encoded(model, enc.scored[i], ctx.y[train], w_train)
            p, pr = _predict(ctx, _encoded(fitted), enc.scored[i][2])
        else:
            fitted = _fit(clone(model), take(ctx.X, train), ctx.y[train], w_train)
            p, pr = _predict(ctx, fitted, take(ctx.X, test))
        pred[test] = p
        if proba is not None:
            proba[test] = pr
        if i == 0:
            seen = (fitted, test)
            first = fold_score(ctx, test, p, pr)
            print(f"fold 1 of {len(ctx.splits)}: {ctx.primary_metric} {first}", flush=True)
            metric = metrics.get(ctx.primary_metric)
            if prune_below is not None and metric.better(prune_below, first):
                raise Pruned(first, prune_below, f"fold 1 of {len(ctx.splits)}",
                             ctx.primary_metric)
    return pred, proba, seen


def rows_score(ctx, test, pred, proba) -> float:
    """The primary metric on the held-out rows `test` (None: the holdout)."""
    if test is None:
        return metrics.get(ctx.primary_metric).compute(ctx.y_valid, pred, proba, ctx.classes,
                                                        None, ctx.positive_label)
    return fold_score(ctx, test, pred[test], None if proba is None else proba[test])


# fit_all: a fit on every row that scores more than 0.1 % (or two rows' worth) worse on
# rows it saw than the fit that had not seen them went astray
ASTRAY = 0.001


def fit_all(ctx, model, seen, test, scored):
    """`model` fitted on every row; or, if that fit went astray, `seen`, the fitted model
    that scored `scored` on the rows `test`. Fitted on those rows too, a model should do
    at least as well on them as one that never saw them: SGD, for one, can land far from
    where the same settings landed on fewer rows, and the model saved must be the one
    its held-out predictions (and so the ensembles' weights) describe."""
    X, y, w = ctx.final_rows or (ctx.X, ctx.y, ctx.sample_weight)
    enc = _encoding(ctx, model)
    final = (_fit_encoded(model, enc.final, y, w) if enc is not None
             else _fit(clone(model), X, y, w))
    if test is None:
        again = rows_score(ctx, None, *_predict(ctx, final, ctx.X_valid))
    else:
        again = fold_score(ctx, test, *_predict(ctx, final, take(ctx.X, test)))
    metric = metrics.get(ctx.primary_metric)
    rows = len(ctx.y_valid) if test is None else len(test)
    slack = abs(scored) * max(ASTRAY, 2 / rows)   # two rows of a discrete metric: no alarm
    if not metric.better(scored, again + (slack if metric.greater_is_better else -slack)):
        return final
    where = "the holdout" if test is None else "the first fold"
    print(f"Fitted on every row it scored {again:.4f} on {where}, rows it had seen, worse "
          f"than the {scored:.4f} of the same settings that had not: that fit went astray. "
          f"The model saved is the one scored on {where}, fitted on {_rows(ctx, test)} rows.",
          flush=True)
    return seen


def _rows(ctx, test) -> int:
    return len(ctx.y) - (0 if test is None else len(test))


def fold_score(ctx, test, pred, proba) -> float:
    """The primary metric on one fold's rows."""
    w = None if ctx.sample_weight is None else ctx.sample_weight[test]
    return metrics.get(ctx.primary_metric).compute(ctx.y[test], pred, proba, ctx.classes, w,
                                                    ctx.positive_label)


def score(ctx: Context, pred, proba) -> dict:
    w = ctx.sample_weight if ctx.y_valid is None else None
    return metrics.compute_all(ctx.task, ctx.y_eval, pred, proba, ctx.classes, w,
                               positive_label=ctx.positive_label)


def finish(ctx, model, pred, proba, out_dir, fitted=False) -> dict:
    """Score, fit on all training rows (unless `fitted` already), save model and
    predictions; the result record."""
    values = score(ctx, pred, proba)
    if not fitted:
        _fit(model, *(ctx.final_rows or (ctx.X, ctx.y, ctx.sample_weight)))
    joblib.dump(model, os.path.join(out_dir, MODEL))
    np.savez(os.path.join(out_dir, PREDICTIONS), pred=pred,
             proba=proba if proba is not None else np.empty(0))
    return {"status": Status.COMPLETED, "metrics": values, "score": values[ctx.primary_metric]}


def run(ctx: Context, proposal, out_dir) -> dict:
    metrics.load(ctx.custom_metrics)   # a Dask worker has not seen them yet
    print(f"Pipeline: {proposal.name(ctx.task)}")
    print(f"Parameters: {proposal.params or 'defaults'}", flush=True)
    t0 = time.perf_counter()
    model = build_pipeline(ctx, proposal.preprocessor, proposal.estimator, proposal.params)
    first = None
    try:
        if proposal.screen:
            first = screened(ctx, model, proposal.prune_below)
        pred, proba, (seen, test) = held_out_predictions(ctx, model, proposal.prune_below)
    except Pruned as p:   # its predictions are partial: nothing is saved
        print(f"Pruned: {p}", flush=True)
        return {"status": Status.PRUNED, "reason": str(p), "first_fold": p.score}
    scored = rows_score(ctx, test, pred, proba)
    # A holdout's model was fitted on the training rows already: fitting it again on the
    # same rows would double the iteration's cost. Only our own holdout (large data) has
    # the saved model fitted on every row instead (ctx.final_rows).
    model = fit_all(ctx, model, seen, test, scored) \
        if ctx.y_valid is None or ctx.final_rows is not None else seen
    result = finish(ctx, model, pred, proba, out_dir, fitted=True)
    if ctx.splits or first is not None:   # what later proposals' first looks are held against
        result["first_fold"] = scored if ctx.splits else first
    print(f"{ctx.primary_metric}: {result['score']} ({time.perf_counter() - t0:.2f} s)",
          flush=True)
    return result


def load_predictions(out_dir):
    with np.load(os.path.join(out_dir, PREDICTIONS), allow_pickle=True) as f:
        proba = f["proba"]
        return f["pred"], (proba if proba.size else None)
