"""Fixed booster and forest configurations, each fitted alone on benchmarks/quality.py's
splits: is a configuration (or early stopping) any good before it goes into the search?

    .venv/bin/python benchmarks/single_configs.py --datasets credit,uk_vote,wage
    .venv/bin/python benchmarks/single_configs.py --datasets titanic --early-stopping 50
    SPLIT=2 .venv/bin/python benchmarks/single_configs.py --datasets mortgage_deny \
        --configs rf_default,rf_300,rf_300_32_leaves

Each configuration runs behind the engine's own featurizer and a MaxAbsScaler: 5-fold CV
on the 75 % training rows (what the search would see), then a fit on all of them scored on
the 25 % test rows (what the benchmark judges). With --early-stopping N, each fit also
runs a second time holding back 10 % of its rows and stopping after N rounds without a
better loss there (boosters only); the test fit then gets 1.1 x the folds' mean best
rounds. SPLIT=n in the environment takes the train/test split of random_state n (as
benchmarks/paired.py's split n) instead of the quality benchmark's. The
configurations are in CONFIGS below; edit them to ask another question. Seconds are wall
time with n_jobs=2.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import lightgbm  # noqa: E402
import xgboost  # noqa: E402
from quality import SEED  # noqa: E402
from quality_datasets import BY_NAME  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.metrics import r2_score, roc_auc_score  # noqa: E402
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MaxAbsScaler  # noqa: E402

from automl_widgets import catalog  # noqa: E402
from automl_widgets.engine import data  # noqa: E402

_LOSSGUIDE = {"grow_policy": "lossguide", "max_depth": 0}
# name: (library, parameters); n_estimators is the cap when stopping early
CONFIGS = {
    "lgbm_default": ("lightgbm", {}),
    "lgbm_small": ("lightgbm", catalog.SMALL_LGBM),
    "lgbm_6_.01": ("lightgbm", {"num_leaves": 6, "learning_rate": 0.01,
                                "n_estimators": 1000, "colsample_bytree": 0.66}),
    "lgbm_6_.01_bag": ("lightgbm", {"num_leaves": 6, "learning_rate": 0.01,
                                    "n_estimators": 1000, "colsample_bytree": 0.66,
                                    "subsample": 0.8, "subsample_freq": 1}),
    "xgb_default": ("xgboost", {}),
    "xgb_6_.01_bag": ("xgboost", dict(_LOSSGUIDE, max_leaves=6, learning_rate=0.01,
                                      n_estimators=1000, subsample=0.8,
                                      colsample_bytree=0.66)),
    "rf_default": ("forest", {}),
    "rf_300": ("forest", {"n_estimators": 300}),
    "rf_300_32_leaves": ("forest", {"n_estimators": 300, "max_leaf_nodes": 32}),
    "et_300": ("extra_trees", {"n_estimators": 300}),
}
BOOSTERS = ("lightgbm", "xgboost")


def estimator(library, params, regression):
    if library in ("forest", "extra_trees"):
        from sklearn import ensemble
        kind = "RandomForest" if library == "forest" else "ExtraTrees"
        cls = getattr(ensemble, kind + ("Regressor" if regression else "Classifier"))
        return cls(n_jobs=2, random_state=SEED, **params)
    if library == "lightgbm":
        cls = lightgbm.LGBMRegressor if regression else lightgbm.LGBMClassifier
        return cls(verbose=-1, n_jobs=2, random_state=SEED, **params)
    cls = xgboost.XGBRegressor if regression else xgboost.XGBClassifier
    return cls(tree_method="hist", verbosity=0, n_jobs=2, random_state=SEED, **params)


def fit_stopping(pipe, X, y, regression, patience):
    """The pipeline fitted on 90 % of the rows, its booster stopped early on the other 10 %;
    with the best number of rounds."""
    fit, held = train_test_split(np.arange(len(y)), test_size=0.1, random_state=SEED,
                                 stratify=None if regression else y)
    head = clone(Pipeline(pipe.steps[:-1])).fit(X.iloc[fit], y[fit])
    est = clone(pipe.steps[-1][1])
    Xf, Xh = head.transform(X.iloc[fit]), head.transform(X.iloc[held])
    if isinstance(est, lightgbm.LGBMModel):
        with warnings.catch_warnings():   # eval_set is deprecated in LightGBM 4.7
            warnings.simplefilter("ignore")
            est.fit(Xf, y[fit], eval_set=[(Xh, y[held])],
                    callbacks=[lightgbm.early_stopping(patience, verbose=False)])
        best = est.best_iteration_ or est.n_estimators
    else:
        est.set_params(early_stopping_rounds=patience)
        est.fit(Xf, y[fit], eval_set=[(Xh, y[held])], verbose=False)
        best = est.best_iteration + 1
    return Pipeline(head.steps + [("estimator", est)]), best


def measure(kind, y, signal):
    if kind == "regression":
        return r2_score(y, signal)
    if kind == "binary":
        return roc_auc_score(y, signal[:, 1])
    return roc_auc_score(y, signal, multi_class="ovr", average="weighted")


def run_dataset(ds, names, patience, split=SEED):
    X, y = ds.load()
    regression = ds.kind == "regression"
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=split,
        stratify=None if regression else y)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if not regression:   # XGBoost wants classes 0..k-1
        classes = np.unique(y_train)
        y_train, y_test = np.searchsorted(classes, y_train), np.searchsorted(classes, y_test)
    kinds = data.column_kinds(X_train)
    folds = (KFold if regression else StratifiedKFold)(5, shuffle=True, random_state=SEED)
    signal = (lambda m, X: m.predict(X)) if regression else (lambda m, X: m.predict_proba(X))
    for name in names:
        library, params = CONFIGS[name]
        pipe = Pipeline([("featurization", data.build_featurizer(kinds, False)),
                         ("preprocessor", MaxAbsScaler()),
                         ("estimator", estimator(library, params, regression))])
        cap = pipe.get_params()["estimator__n_estimators"] or 100
        for stopping in ([False, True] if patience and library in BOOSTERS else [False]):
            t0, oof, rounds = time.perf_counter(), None, []
            for train, test in folds.split(X_train, y_train):
                if stopping:
                    m, best = fit_stopping(pipe, X_train.iloc[train], y_train[train],
                                           regression, patience)
                    rounds.append(best)
                else:
                    m = clone(pipe).fit(X_train.iloc[train], y_train[train])
                s = signal(m, X_train.iloc[test])
                oof = np.zeros((len(y_train),) + s.shape[1:]) if oof is None else oof
                oof[test] = s
            n = min(cap, round(np.mean(rounds) * 1.1)) if stopping else cap
            final = clone(pipe).set_params(estimator__n_estimators=n).fit(X_train, y_train)
            print(f"| {ds.name} | {name}{' stopped' if stopping else ''} | {n} | "
                  f"{measure(ds.kind, y_train, oof):.4f} | "
                  f"{measure(ds.kind, y_test, signal(final, X_test)):.4f} | "
                  f"{time.perf_counter() - t0:.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", required=True, help="comma-separated names")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--early-stopping", type=int, default=0, metavar="ROUNDS",
                        help="also fit each with early stopping after this many rounds")
    args = parser.parse_args()
    names, datasets = args.configs.split(","), args.datasets.split(",")
    for name in names:
        if name not in CONFIGS:
            parser.error(f"--configs: unknown {name!r}; choose from {', '.join(CONFIGS)}")
    for name in datasets:
        if name not in BY_NAME:
            parser.error(f"--datasets: unknown {name!r}; choose from {', '.join(BY_NAME)}")
    split = os.environ.get("SPLIT", str(SEED))
    if not split.isdigit():
        parser.error(f"SPLIT={split!r}: give the split's random_state, a whole number >= 0")
    print("| dataset | configuration | rounds | CV | test | seconds |")
    print("|---|---|--:|--:|--:|--:|")
    for ds_name in datasets:
        run_dataset(BY_NAME[ds_name], names, args.early_stopping, int(split))


if __name__ == "__main__":
    main()
