"""The charts of one iteration, as plain JSON for the run view: from its held-out
predictions (ChildRun.get_predictions) and, if computed, its feature importance.

classification: the confusion matrix, and one-vs-rest ROC, precision-recall and
calibration curves (the positive class alone for two classes); regression: predicted
against true, and residuals. Curves keep at most POINTS points, scatters SAMPLE rows."""
from __future__ import annotations

import numpy as np

POINTS, SAMPLE, CLASSES = 200, 1000, 10


def iteration_charts(child) -> dict | None:
    try:
        p = child.get_predictions()
    except (RuntimeError, OSError, KeyError, ValueError):
        return None   # not completed, or a run from before predictions had their labels
    out = (_classification(p) if p["classes"] is not None and p["proba"] is not None
           else _regression(p))
    out["iteration"] = child.number
    try:
        import os

        from .protocol import IMPORTANCE, read_json
        path = os.path.join(child.folder, IMPORTANCE)
        if os.path.exists(path):
            top = read_json(path)["features"][:20]
            out["importance"] = {"feature": [f["feature"] for f in top],
                                 "importance": [round(f["importance"], 6) for f in top],
                                 "std": [round(f["std"], 6) for f in top]}
    except (OSError, ValueError, KeyError):
        pass
    return out


def _thin(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) > POINTS:
        keep = np.unique(np.linspace(0, len(x) - 1, POINTS).astype(int))
        x, y = x[keep], y[keep]
    return [round(v, 5) for v in x], [round(v, 5) for v in y]


def _classification(p) -> dict:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import auc, confusion_matrix, precision_recall_curve, roc_curve
    y, pred, proba, classes = p["y_true"], p["y_pred"], p["proba"], list(p["classes"])
    labels = [c.item() if hasattr(c, "item") else c for c in classes]
    matrix = confusion_matrix(y, pred, labels=classes).tolist()
    which = [len(classes) - 1] if len(classes) == 2 else list(range(min(CLASSES,
                                                                         len(classes))))
    roc, pr, calibration = [], [], []
    for k in which:
        truth = (np.asarray(y) == classes[k]).astype(int)
        if truth.min() == truth.max():
            continue
        fpr, tpr, _ = roc_curve(truth, proba[:, k])
        x, yv = _thin(fpr, tpr)
        roc.append({"label": str(labels[k]), "x": x, "y": yv, "auc": round(auc(fpr, tpr), 4)})
        precision, recall, _ = precision_recall_curve(truth, proba[:, k])
        x, yv = _thin(recall, precision)
        pr.append({"label": str(labels[k]), "x": x, "y": yv})
        prob_true, prob_pred = calibration_curve(truth, proba[:, k], n_bins=10)
        x, yv = _thin(prob_pred, prob_true)
        calibration.append({"label": str(labels[k]), "x": x, "y": yv})
    return {"kind": "classification", "labels": [str(v) for v in labels],
            "confusion": matrix, "roc": roc, "pr": pr, "calibration": calibration}


def _regression(p) -> dict:
    y, pred = np.asarray(p["y_true"], float), np.asarray(p["y_pred"], float)
    if len(y) > SAMPLE:
        keep = np.random.default_rng(0).choice(len(y), SAMPLE, replace=False)
        y, pred = y[keep], pred[keep]
    r = lambda a: [round(float(v), 5) for v in a]   # noqa: E731
    return {"kind": "regression", "true": r(y), "predicted": r(pred),
            "residual": r(y - pred)}
