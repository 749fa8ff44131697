"""A logistic regression (ridge for regression) on the values alone against the same on
a spline basis of each numeric column of many values, on the quality benchmark's split: C
picked by 5-fold CV on the training rows, then the test score. The search does not use
splines (docs/benchmarks.md, 2026-12-07 (5): paired, the runs lost by them).

    .venv/bin/python benchmarks/splines.py --datasets titanic,churn,credit,wage,uk_vote

About 20 s a table. A screen: what the family alone gains, not what the run gains (for
that, benchmarks/paired.py).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))


def curves(X, kinds) -> list[int]:
    """The featurized positions of the numeric columns of more than 10 distinct values
    (the featurizer puts the numeric columns first, in kinds' order)."""
    return [j for j, c in enumerate(kinds["numeric"]) if X[c].nunique() > 10]


def splines(columns):
    """Each of `columns` also as a cubic spline basis on 5 knots at its quantiles (linear
    past the outer ones), beside its value; then all standardized."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer, StandardScaler
    return make_pipeline(
        ColumnTransformer([("splines", SplineTransformer(n_knots=5, knots="quantile",
                                                         extrapolation="linear"), columns),
                           ("values", "passthrough", columns)],
                          remainder="passthrough", sparse_threshold=0),
        StandardScaler())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="titanic,churn,credit,wage,uk_vote")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from quality import SEED, score
    from quality_datasets import BY_NAME
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score, train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from automl_widgets.engine import data

    for name in args.datasets.split(","):
        ds = BY_NAME[name]
        X, y = ds.load()
        Xtr, Xte, ytr, yte = train_test_split(   # the quality benchmark's split
            X, y, test_size=0.25, random_state=SEED,
            stratify=None if ds.kind == "regression" else y)
        kinds = data.column_kinds(Xtr)
        bent = curves(Xtr, kinds)
        regression = ds.kind == "regression"
        scoring = "r2" if regression else (
            "roc_auc" if ds.kind == "binary" else "roc_auc_ovr_weighted")
        cv = (KFold if regression else StratifiedKFold)(5, shuffle=True, random_state=SEED)
        out = []
        for spline in (False, True):
            if spline and not bent:
                continue
            best = None
            for C in (0.003, 0.01, 0.03, 0.1, 1, 10, 100):
                est = Ridge(alpha=1 / C) if regression else LogisticRegression(C=C, max_iter=2000)
                pipe = Pipeline([("featurization", data.build_featurizer(kinds, False)),
                                 ("preprocessor", splines(bent) if spline
                                  else StandardScaler()), ("estimator", est)])
                cv_score = cross_val_score(pipe, Xtr, ytr, cv=cv, scoring=scoring).mean()
                if best is None or cv_score > best[0]:
                    best = (cv_score, C, pipe)
            cv_score, C, pipe = best
            test = score(ds, pipe.fit(Xtr, ytr), Xte, yte)
            out.append(f"{'splines' if spline else 'values'}: C {C} cv {cv_score:.4f} "
                       f"test {test:.4f}")
        print(f"{name} ({len(bent)} columns bent): " + " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
