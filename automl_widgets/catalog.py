"""Preprocessors x estimators: what the searcher may combine, how each is named and built.

Search spaces are declarative so the searcher (search.py) turns them into Optuna
distributions and the iteration (iteration.py) builds plain scikit-learn objects: the
fitted Pipeline never references this package and loads with scikit-learn alone.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field

from .metrics import CLASSIFICATION, REGRESSION

# How a family that splits on categories itself takes the categorical columns: one-hot
# (as every family) or "codes", one integer column each that LightGBM splits by sets of
# categories (its categorical_feature). A choice of the search, not a rule: on ames (40
# categorical columns) codes scored R² 0.90 against one-hot's 0.88, on flights_late and
# wage lower (docs/benchmarks.md, 2026-12-01 and 2026-12-07 (4)). Only searched where a
# categorical column has more than CODES_LEVELS categories and the featurization is ours
# (preprocess=True).
CATEGORIES = "categories"
CODES_LEVELS = 4   # LightGBM's max_cat_to_onehot: up to this many, codes split as one-hot

# A space entry: ("float"|"int", low, high, log) or ("cat", [choices]), searched; or
# ("size", low, high): not searched, a proposal takes high and the searcher cuts it, to low
# at most, to fit the seconds it may cost.


@dataclass(frozen=True)
class Component:
    key: str                  # the name users give in allowed_models / blocked_models
    display: str              # the name shown in the PIPELINE column
    cls: str                  # dotted path of the scikit-learn class
    tasks: tuple = (CLASSIFICATION, REGRESSION)
    defaults: dict = field(default_factory=dict)
    sparse_kwargs: dict | None = None   # None: cannot take sparse input
    space: dict = field(default_factory=dict)
    # Cost: seconds of this family's default relative to LightGBM's default on the same
    # data (fits timed on digits and on 20,000 generated rows, docs/benchmarks.md), and
    # how the hyperparameters scale it: {name: (default value, exponent)}.
    cost: float = 1.0
    cost_params: dict = field(default_factory=dict)
    # A margin classifier (LinearSVC, SVC): no predict_proba of its own, so it goes inside
    # calibrated() below.
    calibrate: bool = False
    max_rows: int | None = None   # above this many rows its fit costs too much to try
    # Fits only classes 0..k-1 (XGBoost): other labels go through a one-member soft
    # VotingClassifier, scikit-learn's own label encoder around an estimator, so the model
    # still predicts the user's labels and stays plain scikit-learn.
    encode_labels: bool = False
    # skl2onnx (with onnxmltools' booster converters) converts it to a graph whose float32
    # predictions match: not HistGradientBoosting (its converter fails on scikit-learn 1.9),
    # XGBoost (its split points are data values, so a scaled feature one float32 step off
    # flips the row) nor kNN (float32 distances reorder tied neighbours)
    onnx: bool = True
    # Splits on thresholds: an affine scaler moves none of them, and the Normalizer (each
    # row to unit length) mixes the columns they split on. The search gives such a family
    # one preprocessor instead of choosing among five, four of which fit the same model.
    scale_free: bool = False

    def klass(self):
        return _load(self.cls)

    def build(self, params=None, sparse=False, random_state=None, n_jobs=None, classes=None):
        kwargs = dict(self.defaults)
        if sparse and self.sparse_kwargs:
            kwargs.update(self.sparse_kwargs)
        kwargs.update(params or {})
        kwargs.pop(CATEGORIES, None)   # the featurizer's choice, not the estimator's
        klass = self.klass()
        accepted = klass().get_params()
        if "random_state" in accepted and random_state is not None:
            kwargs.setdefault("random_state", random_state)
        # Always said: LightGBM and XGBoost otherwise take every core. LogisticRegression
        # ignores n_jobs since scikit-learn 1.8 and warns.
        if "n_jobs" in accepted and n_jobs is not None and self.key != "LogisticRegression":
            kwargs.setdefault("n_jobs", n_jobs)
        est = klass(**kwargs)
        if self.calibrate:
            est = calibrated(est, classes)
        if self.encode_labels and classes is not None and not _encoded(classes):
            from sklearn.ensemble import VotingClassifier
            est = VotingClassifier([(self.key, est)], voting="soft")
        return est

    def relative_cost(self, params, features=None) -> float:
        """How much more (or less) than its default this configuration should cost.
        features: the columns the model is fitted on, for a share given as "sqrt"."""
        factor = 1.0
        for name, (default, exponent) in self.cost_params.items():
            value = _share((params or {}).get(name, self.defaults.get(name, default)), features)
            if isinstance(value, (int, float)) and value > 0:
                factor *= (value / _share(default, features)) ** exponent
        return factor


def calibrated(est, classes=None):
    """Probabilities for a margin classifier, learnt from 3 folds of its decision values.
    Two classes: Platt's sigmoid, the 3 fold models averaged (CalibratedClassifierCV).
    More: a multinomial logistic regression over all the decision values, pairwise ones
    for SVC, the model refit on every row (a StackingClassifier of one). One-vs-rest
    sigmoids, normalised, scored 0.02-0.05 lower in AUC for SVC on 9 multiclass tables,
    and the refit scored lower on binary ones (docs/benchmarks.md, 2026-12-06 (3))."""
    from sklearn.calibration import CalibratedClassifierCV
    if classes is None or len(classes) <= 2:
        return CalibratedClassifierCV(est, cv=3)
    from sklearn.ensemble import StackingClassifier
    from sklearn.linear_model import LogisticRegression
    if "decision_function_shape" in est.get_params():
        est.set_params(decision_function_shape="ovo")
    return StackingClassifier([("margins", est)], LogisticRegression(max_iter=1000),
                              cv=3, stack_method="decision_function")


def _share(value, features):
    """A forest's max_features "sqrt" as a share of `features` columns; 0.3 (about 11
    columns) when they are not known. On 76 one-hot columns "sqrt" is 0.11, and a share
    of 0.135 read against 0.3 was priced at 5.6 s and took 17 s (docs/benchmarks.md)."""
    if value == "sqrt":
        return math.sqrt(features) / features if features else 0.3
    return value


def _encoded(classes) -> bool:
    """Classes 0..k-1, as XGBoost's classifier demands of y."""
    import numpy as np
    classes = np.asarray(classes)
    return np.issubdtype(classes.dtype, np.integer) and \
        np.array_equal(classes, np.arange(len(classes)))


def _load(dotted):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _c(*args, **kw):
    return Component(*args, **kw)


PREPROCESSORS = {p.key: p for p in [
    _c("StandardScalerWrapper", "Standardize", "sklearn.preprocessing.StandardScaler",
       sparse_kwargs={"with_mean": False}),
    _c("MinMaxScaler", "Scale 0/1", "sklearn.preprocessing.MinMaxScaler"),
    _c("MaxAbsScaler", "Scale MaxAbs 1", "sklearn.preprocessing.MaxAbsScaler", sparse_kwargs={}),
    _c("RobustScaler", "Robust Scaler", "sklearn.preprocessing.RobustScaler",
       sparse_kwargs={"with_centering": False}),
    _c("Normalizer", "Normalizer", "sklearn.preprocessing.Normalizer", sparse_kwargs={}),
]}

_BALANCED = {"class_weight": ("cat", [None, "balanced"])}
_TREE = {"min_samples_leaf": ("int", 1, 32, True), "max_features": ("float", 0.1, 1.0, False)}
# A forest's trees are not searched: more never hurts in expectation, only costs. Searched,
# the pick went to 50-tree forests whose CV had twice the seed noise of 300 trees' and won
# by it (docs/benchmarks.md, 2026-11-30 12:10: paired +0.0049, heating +0.025).
_FOREST = dict(_TREE, n_estimators=("size", 50, 300))
_FOREST_COST = {"n_estimators": (100, 1.0), "min_samples_leaf": (1, -0.3),
                "max_features": ("sqrt", 1.0)}   # a classifier's default
_FOREST_REG_COST = dict(_FOREST_COST, max_features=(1.0, 1.0))
_BOOST = {"learning_rate": ("float", 0.01, 0.5, True), "n_estimators": ("int", 50, 400, True),
          "max_depth": ("int", 2, 8, False), "subsample": ("float", 0.5, 1.0, False)}
_BOOST_COST = {"n_estimators": (100, 1.0), "max_depth": (3, 1.0), "subsample": (1.0, 1.0)}
_HIST = {"learning_rate": ("float", 0.01, 0.5, True), "max_iter": ("int", 50, 500, True),
         "max_leaf_nodes": ("int", 8, 128, True), "min_samples_leaf": ("int", 5, 100, True),
         "l2_regularization": ("float", 1e-6, 10.0, True)}
_HIST_COST = {"max_iter": (100, 1.0), "max_leaf_nodes": (31, 0.5)}
# reg_lambda up to 1000, as FLAML searches it: on small noisy tables the best boosters
# are strongly regularized (a random search's best on credit had 112, on uk_vote 76), and
# 10 at most cost 0.0023 a table, paired (docs/benchmarks.md, 2026-12-01 08:15).
_LGBM = {"n_estimators": ("int", 20, 1000, True), "num_leaves": ("int", 4, 256, True),
         "learning_rate": ("float", 0.01, 0.3, True),
         "min_child_samples": ("int", 2, 100, True),
         "colsample_bytree": ("float", 0.3, 1.0, False),
         "reg_lambda": ("float", 1e-3, 1e3, True),
         # Random split points (LightGBM's extremely randomized trees), as a choice: they
         # won on credit and wage in a screen and paired +0.0012 (benchmarks.md, 12-01 12:10).
         "extra_trees": ("cat", [False, True]),
         CATEGORIES: ("cat", ["one-hot", "codes"])}
_LGBM_DEFAULTS = {"verbose": -1, "extra_trees": False,   # told to TPE with the starts
                  CATEGORIES: "one-hot"}
_LGBM_COST = {"n_estimators": (100, 1.0), "num_leaves": (31, 0.5)}
_XGB = {"n_estimators": ("int", 20, 1000, True), "max_depth": ("int", 2, 10, False),
        "learning_rate": ("float", 0.01, 0.3, True),
        "min_child_weight": ("float", 0.5, 20.0, True),
        "subsample": ("float", 0.5, 1.0, False),
        "colsample_bytree": ("float", 0.3, 1.0, False),
        "reg_lambda": ("float", 1e-3, 1e3, True)}
_XGB_DEFAULTS = {"tree_method": "hist", "n_estimators": 100, "verbosity": 0}
_XGB_COST = {"n_estimators": (100, 1.0), "max_depth": (6, 0.7)}
_NO_ONNX = {"onnx": False}
_TREES = {"scale_free": True}
_KNN = {"n_neighbors": ("int", 1, 50, True), "weights": ("cat", ["uniform", "distance"]),
        "p": ("cat", [1, 2])}
# SVMs give probabilities through 3 folds of their margins (calibrated()), not SVC's own.

CLASSIFIERS = {e.key: e for e in [
    _c("LightGBM", "LightGBM", "lightgbm.LGBMClassifier", (CLASSIFICATION,), _LGBM_DEFAULTS,
       {}, dict(_LGBM, **_BALANCED), cost=1.0, cost_params=_LGBM_COST, **_TREES),
    _c("LogisticRegression", "logistic regression", "sklearn.linear_model.LogisticRegression",
       (CLASSIFICATION,), {"max_iter": 1000}, {},
       dict({"C": ("float", 1e-3, 1e3, True)}, **_BALANCED), cost=0.3),
    _c("SGD", "SGD classifier", "sklearn.linear_model.SGDClassifier", (CLASSIFICATION,),
       {"loss": "log_loss", "tol": 1e-3}, {},
       dict({"loss": ("cat", ["log_loss", "modified_huber"]),
             "alpha": ("float", 1e-6, 1e-1, True),
             "penalty": ("cat", ["l2", "l1", "elasticnet"])}, **_BALANCED), cost=0.3),
    _c("KNN", "kNN", "sklearn.neighbors.KNeighborsClassifier", (CLASSIFICATION,), {}, {}, _KNN,
       cost=0.5, **_NO_ONNX),
    _c("DecisionTree", "DT", "sklearn.tree.DecisionTreeClassifier", (CLASSIFICATION,), {}, {},
       dict(_TREE, max_depth=("int", 2, 32, True), criterion=("cat", ["gini", "entropy"]),
            **_BALANCED), cost=0.5, **_TREES),
    _c("RandomForest", "random forest", "sklearn.ensemble.RandomForestClassifier",
       (CLASSIFICATION,), {}, {}, dict(_FOREST, criterion=("cat", ["gini", "entropy"]),
                                       **_BALANCED), cost=8.0, cost_params=_FOREST_COST,
       **_TREES),
    _c("ExtraTrees", "extra trees", "sklearn.ensemble.ExtraTreesClassifier",
       (CLASSIFICATION,), {}, {}, dict(_FOREST, criterion=("cat", ["gini", "entropy"]),
                                       **_BALANCED), cost=3.0, cost_params=_FOREST_COST,
       **_TREES),
    _c("GradientBoosting", "gradient boosting", "sklearn.ensemble.GradientBoostingClassifier",
       (CLASSIFICATION,), {}, {}, _BOOST, cost=20.0, cost_params=_BOOST_COST, **_TREES),
    _c("HistGradientBoosting", "hist gradient boosting",
       "sklearn.ensemble.HistGradientBoostingClassifier", (CLASSIFICATION,), {}, None,
       dict(_HIST, **_BALANCED), cost=2.0, cost_params=_HIST_COST, **_NO_ONNX, **_TREES),
    _c("XGBoostClassifier", "XGBoostClassifier", "xgboost.XGBClassifier", (CLASSIFICATION,),
       _XGB_DEFAULTS, {}, _XGB, cost=1.0, cost_params=_XGB_COST, encode_labels=True,
       **_NO_ONNX, **_TREES),
    _c("LinearSVM", "LinearSVM", "sklearn.svm.LinearSVC", (CLASSIFICATION,), {}, {},
       dict({"C": ("float", 1e-3, 1e2, True)}, **_BALANCED), cost=0.5, calibrate=True),
    _c("SVM", "SVM", "sklearn.svm.SVC", (CLASSIFICATION,), {}, None,
       dict({"C": ("float", 1e-2, 1e3, True), "gamma": ("cat", ["scale", "auto"])},
            **_BALANCED), cost=2.0, cost_params={"C": (1.0, 0.3)}, calibrate=True,
       max_rows=10_000),
    _c("BernoulliNaiveBayes", "Bernoulli naive Bayes", "sklearn.naive_bayes.BernoulliNB",
       (CLASSIFICATION,), {}, {}, {"alpha": ("float", 1e-3, 10.0, True)}, cost=0.05),
]}

REGRESSORS = {e.key: e for e in [
    _c("LightGBM", "LightGBM", "lightgbm.LGBMRegressor", (REGRESSION,), _LGBM_DEFAULTS, {},
       _LGBM, cost=1.0, cost_params=_LGBM_COST, **_TREES),
    _c("ElasticNet", "elastic net", "sklearn.linear_model.ElasticNet", (REGRESSION,),
       {"max_iter": 5000}, {}, {"alpha": ("float", 1e-4, 10.0, True),
                                "l1_ratio": ("float", 0.0, 1.0, False)}, cost=0.1),
    _c("LassoLars", "lasso lars", "sklearn.linear_model.LassoLars", (REGRESSION,), {}, None,
       {"alpha": ("float", 1e-5, 1.0, True)}, cost=0.1),
    _c("SGD", "SGD regressor", "sklearn.linear_model.SGDRegressor", (REGRESSION,),
       {"tol": 1e-3}, {}, {"loss": ("cat", ["squared_error", "huber"]),
                           "alpha": ("float", 1e-6, 1e-1, True),
                           "penalty": ("cat", ["l2", "l1", "elasticnet"])}, cost=0.1),
    _c("KNN", "kNN", "sklearn.neighbors.KNeighborsRegressor", (REGRESSION,), {}, {}, _KNN,
       cost=0.5, **_NO_ONNX),
    _c("DecisionTree", "DT", "sklearn.tree.DecisionTreeRegressor", (REGRESSION,), {}, {},
       dict(_TREE, max_depth=("int", 2, 32, True)), cost=1.0, **_TREES),
    _c("RandomForest", "random forest", "sklearn.ensemble.RandomForestRegressor",
       (REGRESSION,), {}, {}, _FOREST, cost=30.0, cost_params=_FOREST_REG_COST, **_TREES),
    _c("ExtraTrees", "extra trees", "sklearn.ensemble.ExtraTreesRegressor",
       (REGRESSION,), {}, {}, _FOREST, cost=12.0, cost_params=_FOREST_REG_COST, **_TREES),
    _c("GradientBoosting", "gradient boosting", "sklearn.ensemble.GradientBoostingRegressor",
       (REGRESSION,), {}, {}, _BOOST, cost=25.0, cost_params=_BOOST_COST, **_TREES),
    _c("HistGradientBoosting", "hist gradient boosting",
       "sklearn.ensemble.HistGradientBoostingRegressor", (REGRESSION,), {}, None, _HIST,
       cost=1.2, cost_params=_HIST_COST, **_NO_ONNX, **_TREES),
    _c("XGBoostRegressor", "XGBoostRegressor", "xgboost.XGBRegressor", (REGRESSION,),
       _XGB_DEFAULTS, {}, _XGB, cost=1.2, cost_params=_XGB_COST, **_NO_ONNX,
       **_TREES),
]}

ENSEMBLES = ("VotingEnsemble", "StackEnsemble")

# A small, slow-learning LightGBM: on tables of a few thousand rows LightGBM's own default
# (31 leaves) overfits, scored last of the boosters and was left out of the search's focus,
# while this one matched FLAML's best (uk_vote 0.836 against 0.819 in the test split,
# titanic 0.836 against 0.808, wage 0.350 against 0.323; benchmarks/quality.py's splits).
SMALL_LGBM = {"num_leaves": 4, "learning_rate": 0.05, "n_estimators": 300,
              "colsample_bytree": 0.7, "min_child_samples": 20, "reg_lambda": 1.0}

# A slow, best-first XGBoost with column sampling: the best single booster on credit and
# uk_vote, but not on titanic's three columns, where sampling two of them per tree hurts.
SLOW_XGB = {"grow_policy": "lossguide", "max_depth": 0, "max_leaves": 6,
            "learning_rate": 0.01, "n_estimators": 1000, "subsample": 0.8,
            "colsample_bytree": 0.66}
SLOW_XGB_COLUMNS = 5   # the fewest columns it is a start for

# A large, slow-learning LightGBM: a start only where LightGBM's default (31 leaves)
# scored better than SMALL_LGBM, i.e. where the table rewards larger trees. On the
# large tables the search runs 30-50 iterations and TPE seldom gets that far up:
# flights_late's best was such a model (FLAML's: 122 leaves, rate 0.019, 508 rounds).
BIG_LGBM = {"num_leaves": 100, "learning_rate": 0.03, "n_estimators": 500,
            "min_child_samples": 4, "colsample_bytree": 0.85}

# Larger still, a start only where BIG_LGBM in turn scored clearly better than the default
# and the rows give its leaves LARGER_ROWS each: from about 100,000 rows on, where 60 s
# sees little but the starts. On 168,750 rows of flights it scored holdout AUC 0.792
# against 0.785 for BIG_LGBM (test 0.798 and 0.790); on 33,750 it overfit (holdout 0.766
# against 0.762, test 0.741 against 0.748), and on movielens' 67,500 the search found as
# good in its 50 iterations, so there the start's time was lost (docs/benchmarks.md).
LARGER_LGBM = {"num_leaves": 256, "learning_rate": 0.05, "n_estimators": 300,
               "min_child_samples": 10, "colsample_bytree": 0.7}
LARGER_ROWS = 400

# The first proposals, in this order: the default of each family (strongest first, so that
# even a short budget has a good model early), and a third field of parameters where a
# family gets a second start.
DEFAULTS = {
    CLASSIFICATION: [("MaxAbsScaler", "LightGBM", SMALL_LGBM),
                     ("MaxAbsScaler", "LightGBM"),
                     ("MaxAbsScaler", "HistGradientBoosting"),
                     ("StandardScalerWrapper", "LogisticRegression"),
                     ("MaxAbsScaler", "XGBoostClassifier"),
                     ("MaxAbsScaler", "XGBoostClassifier", SLOW_XGB),
                     ("MinMaxScaler", "RandomForest"),
                     ("MaxAbsScaler", "ExtraTrees"),
                     ("StandardScalerWrapper", "LinearSVM"),
                     ("StandardScalerWrapper", "SVM"),
                     ("StandardScalerWrapper", "KNN"),
                     ("StandardScalerWrapper", "SGD"),
                     ("RobustScaler", "DecisionTree"),
                     ("MinMaxScaler", "GradientBoosting"),
                     ("MinMaxScaler", "BernoulliNaiveBayes")],
    REGRESSION: [("MaxAbsScaler", "LightGBM", SMALL_LGBM),
                 ("MaxAbsScaler", "LightGBM"),
                 ("MaxAbsScaler", "HistGradientBoosting"),
                 ("StandardScalerWrapper", "ElasticNet"),
                 ("MaxAbsScaler", "XGBoostRegressor"),
                 ("MaxAbsScaler", "XGBoostRegressor", SLOW_XGB),
                 ("MinMaxScaler", "RandomForest"),
                 ("MaxAbsScaler", "ExtraTrees"),
                 ("StandardScalerWrapper", "KNN"),
                 ("StandardScalerWrapper", "SGD"),
                 ("RobustScaler", "DecisionTree"),
                 ("MinMaxScaler", "GradientBoosting"),
                 ("StandardScalerWrapper", "LassoLars")],
}


def preprocessor_for(task: str, estimator: str, allowed) -> str | None:
    """The one preprocessor of a scale-free family (its first start's in DEFAULTS, if
    allowed); None for a family whose preprocessor is searched."""
    if not estimators(task)[estimator].scale_free:
        return None
    first = next((d[0] for d in DEFAULTS[task] if d[1] == estimator), None)
    return first if first in allowed else list(allowed)[0]


def estimators(task: str) -> dict:
    return CLASSIFIERS if task == CLASSIFICATION else REGRESSORS


def model_names(task: str) -> list[str]:
    return list(estimators(task))


def pipeline_name(preprocessor: str, estimator: str, task: str) -> str:
    if estimator in ENSEMBLES:
        return estimator
    return f"{PREPROCESSORS[preprocessor].display} {estimators(task)[estimator].display}"


def family_of(pipeline: str | None) -> str:
    """The model family of a pipeline's name: "Scale MaxAbs 1 LightGBM" -> "LightGBM"."""
    if not pipeline:
        return ""
    for p in PREPROCESSORS.values():
        if pipeline.startswith(p.display + " "):
            return pipeline[len(p.display) + 1:]
    return pipeline


def keys_of(pipeline: str | None, task: str) -> tuple[str, str] | None:
    """(preprocessor key, estimator key) of a pipeline's name; None for an ensemble or a
    name this catalog does not make."""
    for pk, p in PREPROCESSORS.items():
        if pipeline and pipeline.startswith(p.display + " "):
            rest = pipeline[len(p.display) + 1:]
            return next(((pk, ek) for ek, c in estimators(task).items() if c.display == rest),
                        None)
    return None


def allowed_estimators(task, allowed=None, blocked=None, sparse=False, rows=None,
                       onnx=False) -> list[str]:
    """The estimators a run may use: allowed, not blocked, and fit for the data."""
    comps = [c for k, c in estimators(task).items()
             if (not allowed or k in allowed) and k not in (blocked or ())]
    return [c.key for c in comps
            if (not sparse or c.sparse_kwargs is not None)
            and (rows is None or c.max_rows is None or rows <= c.max_rows)
            and (not onnx or c.onnx)]


def allowed_preprocessors(sparse=False) -> list[str]:
    return [k for k, p in PREPROCESSORS.items() if not sparse or p.sparse_kwargs is not None]


def preload(task: str) -> None:
    """Import every class up front so forked iteration processes start with them loaded."""
    for comp in list(PREPROCESSORS.values()) + list(estimators(task).values()):
        comp.klass()
    import sklearn.compose
    import sklearn.ensemble
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.impute
    import sklearn.model_selection
    import sklearn.pipeline  # noqa: F401
