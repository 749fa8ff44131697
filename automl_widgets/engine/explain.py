"""Feature importance by permutation, in terms of the user's own columns, on held-out rows.

The pipeline is fitted again on the training rows of the first fold (or of the holdout)
and scored on the rows it did not see; then each raw input column in turn is shuffled
there and the drop of the primary metric is its importance (mean and std over repeats).
An ensemble is scored as saved: its members were fitted on every row, so for it this says
what it relies on, not how that generalises. A time cap stops it early; columns not
reached are left out and the result says so.

Run where the run runs: by the driver at the end with model_explainability=True, or as a
job (python -m automl_widgets.engine.explain FOLDER ITERATION SECONDS) on demand.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from .. import metrics
from ..protocol import IMPORTANCE, MODEL, iteration_dir, read_json, write_json

ROWS = 2000          # held-out rows looked at, at most
REPEATS = 5


def compute(ctx, model_path, seconds, random_state=0) -> dict:
    import joblib
    from sklearn.base import clone

    from .. import datacheck
    from .iteration import _fit, _predict, take
    if datacheck.is_sparse(ctx.X):
        return {"features": [], "note": "not computed: the data is sparse (its columns are "
                "not the user's)", "complete": False}
    t0 = time.monotonic()
    model = joblib.load(model_path)
    if ctx.X_valid is not None:
        train, X_test, y_test = None, ctx.X_valid, ctx.y_valid
    else:
        train, test = ctx.splits[0]
        X_test, y_test = take(ctx.X, test), ctx.y[test]
    # An ensemble's members are fitted already (a VotingClassifier may also be the label
    # encoder around an XGBoost: that one is refitted like any other iteration).
    ensemble = model.steps[0][0] == "ensemble"
    if not ensemble:
        model = clone(model)
        X_fit, y_fit = (ctx.X, ctx.y) if train is None else (take(ctx.X, train), ctx.y[train])
        w = ctx.sample_weight if train is None or ctx.sample_weight is None \
            else ctx.sample_weight[train]
        model = _fit(model, X_fit, y_fit, w)
    rng = np.random.default_rng(random_state)
    if len(y_test) > ROWS:
        keep = rng.choice(len(y_test), ROWS, replace=False)
        X_test, y_test = take(X_test, keep), y_test[keep]
    metric = metrics.get(ctx.primary_metric)
    sign = 1 if metric.greater_is_better else -1

    def score(X):
        pred, proba = _predict(ctx, model, X)
        return metric.compute(y_test, pred, proba, ctx.classes, None, ctx.positive_label)
    t = time.monotonic()
    base = score(X_test)
    per_score = time.monotonic() - t
    frame = hasattr(X_test, "iloc")
    names = [str(c) for c in X_test.columns] if frame else \
        [str(i) for i in range(np.shape(X_test)[1])]
    # Fit the work to the time left: fewer repeats first, then fewer rows, so that every
    # column gets its turn (each shuffle costs about one scoring of the rows).
    left = seconds - (time.monotonic() - t0)
    repeats = max(1, min(REPEATS, int(left / (len(names) * max(per_score, 1e-3)))))
    if repeats == 1 and len(names) * per_score > 0.8 * left and len(y_test) > 200:
        keep = rng.choice(len(y_test), max(200, int(len(y_test) * 0.8 * left /
                                                     (len(names) * per_score))),
                          replace=False)
        X_test, y_test = take(X_test, np.sort(keep)), y_test[np.sort(keep)]
        base = score(X_test)
    out, complete = [], True
    for j, name in enumerate(names):
        drops = []
        for _ in range(repeats):
            if time.monotonic() - t0 > seconds:
                complete = False
                break
            shuffled = X_test.copy()
            order = rng.permutation(len(y_test))
            if frame:
                shuffled.iloc[:, j] = X_test.iloc[order, j].to_numpy()
            else:
                shuffled[:, j] = np.asarray(X_test)[order, j]
            drops.append(sign * (base - score(shuffled)))
        if not complete:
            break
        out.append({"feature": name, "importance": float(np.mean(drops)),
                    "std": float(np.std(drops))})
    out.sort(key=lambda f: -f["importance"])
    note = ("an ensemble, scored as saved: its members were fitted on every row"
            if ensemble else "refitted on the training rows, scored on held-out rows")
    if not complete:
        note += f"; stopped by the time cap ({seconds:.0f} s) after {len(out)} of " \
                f"{len(names)} columns"
    return {"features": out, "metric": ctx.primary_metric, "baseline": float(base),
            "rows": int(len(y_test)), "repeats": repeats, "complete": complete, "note": note,
            "seconds": round(time.monotonic() - t0, 2)}


def write(ctx, folder, n, seconds) -> dict:
    result = compute(ctx, os.path.join(iteration_dir(folder, n), MODEL), seconds)
    result["iteration"] = n
    write_json(os.path.join(iteration_dir(folder, n), IMPORTANCE), result)
    return result


def main(argv=None):
    """The on-demand job: load the run's data where it runs, and write importance.json."""
    folder, n, seconds = (argv or sys.argv[1:])[:3]
    from .prepare import prepare
    spec = read_json(os.path.join(folder, "spec.json"))
    metrics.load(spec.get("custom_metrics"))
    ctx, _ = prepare(spec, folder)
    print(json.dumps(write(ctx, folder, int(n), float(seconds))["seconds"]))


if __name__ == "__main__":
    main()
