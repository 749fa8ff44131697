"""Preprocessors x estimators: what the searcher may combine, how each is named and built.

Search spaces are declarative so the searcher (search.py) turns them into Optuna
distributions and the iteration (iteration.py) builds plain scikit-learn objects: the
fitted Pipeline never references this package and loads with scikit-learn alone.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from .metrics import CLASSIFICATION, REGRESSION

# A space entry: ("float"|"int", low, high, log) or ("cat", [choices]).


@dataclass(frozen=True)
class Component:
    key: str                  # the name users give in allowed_models / blocked_models
    display: str              # the name shown in the PIPELINE column
    cls: str                  # dotted path of the scikit-learn class
    tasks: tuple = (CLASSIFICATION, REGRESSION)
    defaults: dict = field(default_factory=dict)
    sparse_kwargs: dict | None = None   # None: cannot take sparse input
    space: dict = field(default_factory=dict)

    def klass(self):
        module, _, name = self.cls.rpartition(".")
        return getattr(importlib.import_module(module), name)

    def build(self, params=None, sparse=False, random_state=None, n_jobs=None):
        kwargs = dict(self.defaults)
        if sparse and self.sparse_kwargs:
            kwargs.update(self.sparse_kwargs)
        kwargs.update(params or {})
        klass = self.klass()
        accepted = klass().get_params()
        if "random_state" in accepted and random_state is not None:
            kwargs.setdefault("random_state", random_state)
        # 1 is every estimator's default; LogisticRegression ignores n_jobs since 1.8 and warns.
        if "n_jobs" in accepted and n_jobs not in (None, 1) and not self.key == "LogisticRegression":
            kwargs.setdefault("n_jobs", n_jobs)
        return klass(**kwargs)


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

_TREE = {"min_samples_leaf": ("int", 1, 32, True), "max_features": ("float", 0.1, 1.0, False)}
_FOREST = dict(_TREE, n_estimators=("int", 50, 400, True))
_BOOST = {"learning_rate": ("float", 0.01, 0.5, True), "n_estimators": ("int", 50, 400, True),
          "max_depth": ("int", 2, 8, False), "subsample": ("float", 0.5, 1.0, False)}
_HIST = {"learning_rate": ("float", 0.01, 0.5, True), "max_iter": ("int", 50, 500, True),
         "max_leaf_nodes": ("int", 8, 128, True), "min_samples_leaf": ("int", 5, 100, True),
         "l2_regularization": ("float", 1e-6, 10.0, True)}
_KNN = {"n_neighbors": ("int", 1, 50, True), "weights": ("cat", ["uniform", "distance"]),
        "p": ("cat", [1, 2])}

CLASSIFIERS = {e.key: e for e in [
    _c("LogisticRegression", "logistic regression", "sklearn.linear_model.LogisticRegression",
       (CLASSIFICATION,), {"max_iter": 1000}, {}, {"C": ("float", 1e-3, 1e3, True)}),
    _c("SGD", "SGD classifier", "sklearn.linear_model.SGDClassifier", (CLASSIFICATION,),
       {"loss": "log_loss", "tol": 1e-3}, {},
       {"loss": ("cat", ["log_loss", "modified_huber"]), "alpha": ("float", 1e-6, 1e-1, True),
        "penalty": ("cat", ["l2", "l1", "elasticnet"])}),
    _c("KNN", "kNN", "sklearn.neighbors.KNeighborsClassifier", (CLASSIFICATION,), {}, {}, _KNN),
    _c("DecisionTree", "DT", "sklearn.tree.DecisionTreeClassifier", (CLASSIFICATION,), {}, {},
       dict(_TREE, max_depth=("int", 2, 32, True), criterion=("cat", ["gini", "entropy"]))),
    _c("RandomForest", "random forest", "sklearn.ensemble.RandomForestClassifier",
       (CLASSIFICATION,), {}, {}, dict(_FOREST, criterion=("cat", ["gini", "entropy"]))),
    _c("ExtraTrees", "extra trees", "sklearn.ensemble.ExtraTreesClassifier",
       (CLASSIFICATION,), {}, {}, dict(_FOREST, criterion=("cat", ["gini", "entropy"]))),
    _c("GradientBoosting", "gradient boosting", "sklearn.ensemble.GradientBoostingClassifier",
       (CLASSIFICATION,), {}, {}, _BOOST),
    _c("HistGradientBoosting", "hist gradient boosting",
       "sklearn.ensemble.HistGradientBoostingClassifier", (CLASSIFICATION,), {}, None, _HIST),
    _c("BernoulliNaiveBayes", "Bernoulli naive Bayes", "sklearn.naive_bayes.BernoulliNB",
       (CLASSIFICATION,), {}, {}, {"alpha": ("float", 1e-3, 10.0, True)}),
]}

REGRESSORS = {e.key: e for e in [
    _c("ElasticNet", "elastic net", "sklearn.linear_model.ElasticNet", (REGRESSION,),
       {"max_iter": 5000}, {}, {"alpha": ("float", 1e-4, 10.0, True),
                                "l1_ratio": ("float", 0.0, 1.0, False)}),
    _c("LassoLars", "lasso lars", "sklearn.linear_model.LassoLars", (REGRESSION,), {}, None,
       {"alpha": ("float", 1e-5, 1.0, True)}),
    _c("SGD", "SGD regressor", "sklearn.linear_model.SGDRegressor", (REGRESSION,),
       {"tol": 1e-3}, {}, {"loss": ("cat", ["squared_error", "huber"]),
                           "alpha": ("float", 1e-6, 1e-1, True),
                           "penalty": ("cat", ["l2", "l1", "elasticnet"])}),
    _c("KNN", "kNN", "sklearn.neighbors.KNeighborsRegressor", (REGRESSION,), {}, {}, _KNN),
    _c("DecisionTree", "DT", "sklearn.tree.DecisionTreeRegressor", (REGRESSION,), {}, {},
       dict(_TREE, max_depth=("int", 2, 32, True))),
    _c("RandomForest", "random forest", "sklearn.ensemble.RandomForestRegressor",
       (REGRESSION,), {}, {}, _FOREST),
    _c("ExtraTrees", "extra trees", "sklearn.ensemble.ExtraTreesRegressor",
       (REGRESSION,), {}, {}, _FOREST),
    _c("GradientBoosting", "gradient boosting", "sklearn.ensemble.GradientBoostingRegressor",
       (REGRESSION,), {}, {}, _BOOST),
    _c("HistGradientBoosting", "hist gradient boosting",
       "sklearn.ensemble.HistGradientBoostingRegressor", (REGRESSION,), {}, None, _HIST),
]}

ENSEMBLES = ("VotingEnsemble", "StackEnsemble")

# Cheap, robust defaults of each family, tried first and in this order.
DEFAULTS = {
    CLASSIFICATION: [("StandardScalerWrapper", "LogisticRegression"),
                     ("MaxAbsScaler", "HistGradientBoosting"),
                     ("StandardScalerWrapper", "SGD"),
                     ("MinMaxScaler", "RandomForest"),
                     ("MaxAbsScaler", "ExtraTrees"),
                     ("StandardScalerWrapper", "KNN"),
                     ("RobustScaler", "DecisionTree"),
                     ("MinMaxScaler", "GradientBoosting"),
                     ("MinMaxScaler", "BernoulliNaiveBayes")],
    REGRESSION: [("StandardScalerWrapper", "ElasticNet"),
                 ("MaxAbsScaler", "HistGradientBoosting"),
                 ("MinMaxScaler", "RandomForest"),
                 ("MaxAbsScaler", "ExtraTrees"),
                 ("StandardScalerWrapper", "KNN"),
                 ("StandardScalerWrapper", "SGD"),
                 ("RobustScaler", "DecisionTree"),
                 ("MinMaxScaler", "GradientBoosting"),
                 ("StandardScalerWrapper", "LassoLars")],
}


def estimators(task: str) -> dict:
    return CLASSIFIERS if task == CLASSIFICATION else REGRESSORS


def model_names(task: str) -> list[str]:
    return list(estimators(task))


def pipeline_name(preprocessor: str, estimator: str, task: str) -> str:
    if estimator in ENSEMBLES:
        return estimator
    return f"{PREPROCESSORS[preprocessor].display} {estimators(task)[estimator].display}"


def allowed_estimators(task, allowed=None, blocked=None, sparse=False) -> list[str]:
    keys = [k for k in estimators(task)
            if (not allowed or k in allowed) and k not in (blocked or ())]
    if sparse:
        keys = [k for k in keys if estimators(task)[k].sparse_kwargs is not None]
    return keys


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
