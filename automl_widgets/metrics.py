"""Metric registry: the classic names, how to compute each, and which way is better.

Every metric is computed from out-of-fold (or validation) predictions, so one set of
predictions per iteration gives all of them.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class _LazySklearnMetrics:
    """sklearn.metrics on first use: readers (CLI, RunState) need directions, not sklearn."""

    def __getattr__(self, name):
        from sklearn import metrics
        return getattr(metrics, name)


skm = _LazySklearnMetrics()

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    greater_is_better: bool
    # fn(y_true, y_pred, proba, classes, sample_weight) -> float
    fn: Callable

    def better(self, a: float, b: float) -> bool:
        """True if score a is strictly better than score b."""
        if b is None or (isinstance(b, float) and math.isnan(b)):
            return a is not None and not math.isnan(a)
        if a is None or math.isnan(a):
            return False
        return a > b if self.greater_is_better else a < b

    def compute(self, y, pred, proba, classes, w, positive_label=None) -> float:
        """The metric; a binary one of the positive class (positive_label, else the last
        of the two sorted classes)."""
        if self.name in BINARY:
            if classes is None or len(classes) != 2:
                return float("nan")
            positive = positive_label if positive_label is not None else classes[-1]
            return self.fn(y, pred, proba, classes, w, positive)
        return self.fn(y, pred, proba, classes, w)

    def worst(self) -> float:
        return -math.inf if self.greater_is_better else math.inf


REGISTRY: dict[str, Metric] = {}


def _register(name, task, greater, fn):
    REGISTRY[name] = Metric(name, task, greater, fn)


# ---- classification -------------------------------------------------------------------

def _indicator(y, classes):
    out = np.zeros((len(y), len(classes)))
    if _are_codes(classes):
        out[np.arange(len(y)), np.asarray(y, dtype=np.intp)] = 1.0
        return out
    index = {c: i for i, c in enumerate(classes)}
    for row, label in enumerate(y):
        out[row, index[label]] = 1.0
    return out


def _are_codes(classes) -> bool:
    classes = np.asarray(classes)
    return np.issubdtype(classes.dtype, np.integer) and \
        np.array_equal(classes, np.arange(len(classes)))


def _auc(average):
    def fn(y, pred, proba, classes, w):
        ind = _indicator(y, classes)
        present = ind.sum(axis=0) > 0
        if present.sum() < 2:
            return float("nan")
        return skm.roc_auc_score(ind[:, present], proba[:, present], average=average,
                                 sample_weight=w)
    return fn


def _avg_precision(average):
    def fn(y, pred, proba, classes, w):
        ind = _indicator(y, classes)
        present = ind.sum(axis=0) > 0
        return skm.average_precision_score(ind[:, present], proba[:, present],
                                           average=average, sample_weight=w)
    return fn


def _prf(scorer, average):
    def fn(y, pred, proba, classes, w):
        return getattr(skm, scorer)(y, pred, average=average, sample_weight=w, zero_division=0)
    return fn


def _weighted_accuracy(y, pred, proba, classes, w):
    # Each sample counts by the frequency of its true class (the classic definition).
    labels, counts = np.unique(y, return_counts=True)
    freq = dict(zip(labels, counts / len(y)))
    weights = np.array([freq[v] for v in y])
    if w is not None:
        weights = weights * w
    return float(np.sum(weights * (np.asarray(y) == np.asarray(pred))) / np.sum(weights))


def _norm_macro_recall(y, pred, proba, classes, w):
    r = skm.recall_score(y, pred, average="macro", sample_weight=w, zero_division=0)
    chance = 1.0 / len(classes)
    return float((r - chance) / (1 - chance))


def _log_loss(y, pred, proba, classes, w):
    return skm.log_loss(y, np.clip(proba, 1e-15, 1), labels=list(classes), sample_weight=w)


_register("accuracy", CLASSIFICATION, True,
          lambda y, p, pr, c, w: skm.accuracy_score(y, p, sample_weight=w))
for _avg in ("weighted", "macro", "micro"):
    _register(f"AUC_{_avg}", CLASSIFICATION, True, _auc(_avg))
    _register(f"average_precision_score_{_avg}", CLASSIFICATION, True, _avg_precision(_avg))
    _register(f"f1_score_{_avg}", CLASSIFICATION, True, _prf("f1_score", _avg))
    _register(f"precision_score_{_avg}", CLASSIFICATION, True, _prf("precision_score", _avg))
    _register(f"recall_score_{_avg}", CLASSIFICATION, True, _prf("recall_score", _avg))
_register("balanced_accuracy", CLASSIFICATION, True,
          lambda y, p, pr, c, w: skm.balanced_accuracy_score(y, p, sample_weight=w))
_register("log_loss", CLASSIFICATION, False, _log_loss)
_register("norm_macro_recall", CLASSIFICATION, True, _norm_macro_recall)
_register("weighted_accuracy", CLASSIFICATION, True, _weighted_accuracy)
_register("matthews_correlation", CLASSIFICATION, True,
          lambda y, p, pr, c, w: skm.matthews_corrcoef(y, p, sample_weight=w))

# ---- regression -----------------------------------------------------------------------


def _range(y):
    r = float(np.max(y) - np.min(y))
    return r if r > 0 else 1.0


def _rmse(y, p, w):
    return math.sqrt(skm.mean_squared_error(y, p, sample_weight=w))


def _rmsle(y, p, w):
    if np.min(y) <= -1 or np.min(p) <= -1:
        return float("nan")
    return math.sqrt(skm.mean_squared_log_error(y, p, sample_weight=w))


def _spearman(y, p, w):
    from scipy.stats import spearmanr
    return float(spearmanr(y, p).statistic)


def _mape(y, p, w):
    # In percent, over rows whose true value is not zero (the classic definition).
    y, p = np.asarray(y, float), np.asarray(p, float)
    keep = y != 0
    if not keep.any():
        return float("nan")
    err = np.abs((y[keep] - p[keep]) / y[keep])
    return float(100 * np.average(err, weights=None if w is None else np.asarray(w)[keep]))


# Binary classification only: the metric of one class, the positive one (positive_label,
# else the last of the sorted classes, scikit-learn's pos_label=1 for 0/1 labels).
BINARY = ("AUC_binary", "average_precision_score_binary", "f1_score_binary",
          "precision_score_binary", "recall_score_binary")


def _binary(kind):
    def fn(y, pred, proba, classes, w, positive):
        truth = np.asarray(y) == positive
        if kind in ("AUC", "average_precision_score"):
            column = proba[:, list(classes).index(positive)]
            return getattr(skm, "roc_auc_score" if kind == "AUC" else kind)(
                truth, column, sample_weight=w)
        return getattr(skm, kind)(truth, np.asarray(pred) == positive, sample_weight=w,
                                  zero_division=0)
    return fn


for _name in BINARY:
    _register(_name, CLASSIFICATION, True, _binary(_name.rsplit("_", 1)[0]))


_register("r2_score", REGRESSION, True, lambda y, p, pr, c, w: skm.r2_score(y, p, sample_weight=w))
_register("spearman_correlation", REGRESSION, True, lambda y, p, pr, c, w: _spearman(y, p, w))
_register("explained_variance", REGRESSION, True,
          lambda y, p, pr, c, w: skm.explained_variance_score(y, p, sample_weight=w))
_register("mean_absolute_error", REGRESSION, False,
          lambda y, p, pr, c, w: skm.mean_absolute_error(y, p, sample_weight=w))
_register("normalized_mean_absolute_error", REGRESSION, False,
          lambda y, p, pr, c, w: skm.mean_absolute_error(y, p, sample_weight=w) / _range(y))
_register("median_absolute_error", REGRESSION, False,
          lambda y, p, pr, c, w: skm.median_absolute_error(y, p, sample_weight=w))
_register("root_mean_squared_error", REGRESSION, False, lambda y, p, pr, c, w: _rmse(y, p, w))
_register("normalized_root_mean_squared_error", REGRESSION, False,
          lambda y, p, pr, c, w: _rmse(y, p, w) / _range(y))
_register("root_mean_squared_log_error", REGRESSION, False, lambda y, p, pr, c, w: _rmsle(y, p, w))
_register("normalized_root_mean_squared_log_error", REGRESSION, False,
          lambda y, p, pr, c, w: _rmsle(y, p, w) / _range(np.log1p(np.clip(y, -0.999, None))))
_register("mean_absolute_percentage_error", REGRESSION, False, lambda y, p, pr, c, w: _mape(y, p, w))

DEFAULT_PRIMARY = {CLASSIFICATION: "accuracy", REGRESSION: "r2_score"}
BUILT_IN = frozenset(REGISTRY)   # not the user's: these take labels as codes (compute_all)

# ---- custom metrics ----------------------------------------------------------------------
# A user's function, registered here by name or given as a scikit-learn scorer. It travels
# to the target inside spec.json, pickled by value with cloudpickle (so a function defined
# in a notebook works there too); readers only learn its name, task and direction.
CUSTOM: dict[str, dict] = {}


def register(name, func, greater_is_better=True, task=CLASSIFICATION, needs_proba=False,
             **kwargs) -> str:
    """Make `name` a metric of `task`: func(y_true, y_pred, **kwargs), or with
    needs_proba=True func(y_true, probabilities) (for two classes, the second class's
    column). It may then be the primary_metric, and every run of the task computes it."""
    from .errors import ConfigError
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"A custom metric's name must be a Python identifier; got {name!r}.")
    if name in REGISTRY and name not in CUSTOM:
        raise ConfigError(f"{name!r} is a built-in metric; give your metric another name.")
    if not callable(func):
        raise ConfigError(f"The function of metric {name!r} must be callable; got {func!r}.")
    if task not in TASKS:
        raise ConfigError(f"The task of metric {name!r} must be one of {list(TASKS)}; got {task!r}.")
    _install(name, func, bool(greater_is_better), task, "proba" if needs_proba else "predict",
             kwargs)
    return name


def from_scorer(scorer, task) -> str:
    """Register a scorer made with sklearn.metrics.make_scorer; returns its metric name."""
    func = scorer._score_func
    name = getattr(func, "__name__", "") or "custom_metric"
    name = name if name.isidentifier() and name != "<lambda>" else "custom_metric"
    response = getattr(scorer, "_response_method", "predict")
    needs_proba = response != "predict" and "predict" not in (
        response if isinstance(response, (list, tuple)) else [response])
    return register(name, func, greater_is_better=scorer._sign > 0, task=task,
                    needs_proba=needs_proba, **dict(scorer._kwargs))


def is_scorer(value) -> bool:
    return hasattr(value, "_score_func") and hasattr(value, "_sign")


def _install(name, func, greater_is_better, task, response, kwargs):
    import inspect
    try:
        weighted = "sample_weight" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        weighted = False

    def fn(y, pred, proba, classes, w):
        if response == "proba":
            if proba is None:
                return float("nan")
            pred = proba[:, 1] if proba.shape[1] == 2 else proba
        extra = {"sample_weight": w} if weighted and w is not None else {}
        return func(y, pred, **kwargs, **extra)
    REGISTRY[name] = Metric(name, task, greater_is_better, fn)
    CUSTOM[name] = {"func": func, "greater_is_better": greater_is_better, "task": task,
                    "response": response, "kwargs": kwargs}


def custom_entries(task) -> dict:
    """The task's custom metrics as spec.json carries them; raises ConfigError if one
    cannot be pickled."""
    import base64

    import cloudpickle

    from .errors import ConfigError
    out = {}
    for name, c in CUSTOM.items():
        if c["task"] != task:
            continue
        try:
            code = _dumps(cloudpickle, (c["func"], c["kwargs"]))
        except Exception as exc:  # noqa: BLE001 - any pickling failure
            raise ConfigError(f"The custom metric {name!r} cannot be sent to the target: "
                              f"{type(exc).__name__}: {exc}") from None
        out[name] = {"task": task, "greater_is_better": c["greater_is_better"],
                     "response": c["response"], "code": base64.b64encode(code).decode()}
    return out


def _dumps(cloudpickle, obj) -> bytes:
    """Pickled by value, unless the function comes from an installed package (which the
    target has too: scikit-learn's fbeta_score): a module of the user's, a test file or a
    notebook's __main__ need not exist where the run runs."""
    import sys
    import sysconfig
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    mod = sys.modules.get(getattr(obj[0], "__module__", None) or "")
    path = getattr(mod, "__file__", None) or ""
    own = mod is not None and mod.__name__ != "__main__" and \
        not any(path.startswith(p) for p in installed)
    if own:
        cloudpickle.register_pickle_by_value(mod)
    try:
        return cloudpickle.dumps(obj)
    finally:
        if own:
            cloudpickle.unregister_pickle_by_value(mod)


def declare(entries) -> None:
    """Readers: the run's custom metrics by name, task and direction (no code is loaded)."""
    for name, e in (entries or {}).items():
        if name not in REGISTRY:
            REGISTRY[name] = Metric(name, e["task"], e["greater_is_better"], _elsewhere(name))


def load(entries) -> None:
    """The engine: the run's custom metrics, with their code, ready to compute."""
    import base64
    import pickle
    for name, e in (entries or {}).items():
        if name in CUSTOM:
            continue
        func, kwargs = pickle.loads(base64.b64decode(e["code"]))
        _install(name, func, e["greater_is_better"], e["task"], e["response"], kwargs)


def _elsewhere(name):
    def fn(*_args):
        raise RuntimeError(f"the custom metric {name!r} is computed where the run runs")
    return fn


def names(task: str) -> list[str]:
    return [m.name for m in REGISTRY.values() if m.task == task]


def get(name: str) -> Metric:
    return REGISTRY[name]


def running_best(scores, greater_is_better: bool) -> list:
    """For each position, the best of the scores up to it (None ignored; None before the
    first score): the "best so far" in iteration order, as the table and plot show it."""
    best, out = None, []
    for v in scores:
        if v is not None and (best is None or (v > best if greater_is_better else v < best)):
            best = v
        out.append(best)
    return out


def computed(records, primary: str) -> list[str]:
    """The metrics some of `records` (iteration records) hold, the primary first, then by
    name; just the primary while none has finished."""
    found = {k for r in records for k in (r.get("metrics") or {})}
    return sorted(found | {primary}, key=lambda k: (k != primary, k))


def compute_all(task, y, pred, proba=None, classes=None, sample_weight=None,
                positive_label=None) -> dict:
    """Every metric of the task; a metric that cannot be computed is NaN, never an error.
    The binary metrics only for two classes."""
    out = {}
    binary = classes is not None and len(classes) == 2
    coded = _coded(y, pred, classes, positive_label) if task == CLASSIFICATION else None
    for metric in REGISTRY.values():
        if metric.task != task or (metric.name in BINARY and not binary):
            continue
        args = (y, pred, proba, classes, sample_weight, positive_label)
        if coded is not None and metric.name in BUILT_IN:
            args = (coded[0], coded[1], proba, coded[2], sample_weight, coded[3])
        try:
            value = float(metric.compute(*args))
        except Exception:  # e.g. RMSLE of negative targets, AUC with one class present
            value = float("nan")
        out[metric.name] = value
    return out


def _coded(y, pred, classes, positive_label):
    """(y, pred, classes, positive_label) with each label replaced by its position in
    the sorted classes, or None where that cannot be done. The built-in metrics give the
    same values; scikit-learn's label checks on string labels took two thirds of their
    time (0.54 s an iteration for 20,000 rows, docs/benchmarks.md 2026-12-01 05:00)."""
    if classes is None or len(classes) == 0:
        return None
    classes = np.asarray(classes)
    try:
        if len(classes) > 1 and not np.all(classes[:-1] < classes[1:]):
            return None
        codes = [np.searchsorted(classes, np.asarray(v)) for v in (y, pred)]
        if any(c.max(initial=0) >= len(classes) or not np.array_equal(classes[c], v)
               for c, v in zip(codes, (y, pred))):
            return None
    except TypeError:   # labels that do not compare with each other
        return None
    positive = None
    if positive_label is not None:
        where = np.flatnonzero(classes == positive_label)
        if len(where) != 1:
            return None
        positive = int(where[0])
    return codes[0], codes[1], np.arange(len(classes)), positive



def fast_scorer(name, y, classes, sample_weight=None, positive_label=None):
    """fn(proba) -> the metric `name` of these labels, or None: the AUCs of unweighted
    rows from ranks, each class's column ranked once (Mann-Whitney, ties at their mean
    rank, as scikit-learn counts them). The greedy ensemble selection scores thousands
    of averages of one set of labels; roc_auc_score's checks took 1-4 ms a call, and the
    selection outlasted its time on most tables (docs/benchmarks.md, 2026-12-06)."""
    if sample_weight is not None or name not in REGISTRY or name not in BUILT_IN \
            or not name.startswith("AUC_") or classes is None:
        return None
    coded = _coded(y, y, classes, positive_label)
    if coded is None:
        return None
    codes, k = coded[0], len(classes)
    from scipy.stats import rankdata
    if name == "AUC_binary":
        if k != 2:
            return None
        positive = coded[3] if coded[3] is not None else k - 1
        columns, weights = [positive], [1.0]
    else:
        counts = np.bincount(codes, minlength=k)
        columns = [c for c in range(k) if 0 < counts[c] < len(codes)]
        if len(columns) < 2 and name != "AUC_micro":
            return None
        weights = counts[columns] / counts[columns].sum() if name == "AUC_weighted" \
            else np.full(len(columns), 1 / len(columns))
    truth = np.zeros((len(codes), k), dtype=bool)
    truth[np.arange(len(codes)), codes] = True

    def auc(t, s):
        pos = int(t.sum())
        return (rankdata(s)[t].sum() - pos * (pos + 1) / 2) / (pos * (len(t) - pos))

    if name == "AUC_micro":
        present = truth.any(axis=0)   # scikit-learn's micro average: present classes only
        if present.sum() < 2:
            return None
        return lambda proba: float(auc(truth[:, present].ravel(), proba[:, present].ravel()))
    return lambda proba: float(sum(w * auc(truth[:, c], proba[:, c])
                                   for c, w in zip(columns, weights)))
