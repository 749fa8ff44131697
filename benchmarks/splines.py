"""A logistic regression (ridge for regression) on the values alone against the same on
a spline basis of each numeric column (data.splines, catalog.SPLINES), on the quality
benchmark's split: C picked by 5-fold CV on the training rows, then the test score.

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
        curves = data.curves(Xtr, kinds)
        regression = ds.kind == "regression"
        scoring = "r2" if regression else (
            "roc_auc" if ds.kind == "binary" else "roc_auc_ovr_weighted")
        cv = (KFold if regression else StratifiedKFold)(5, shuffle=True, random_state=SEED)
        out = []
        for spline in (False, True):
            if spline and not curves:
                continue
            best = None
            for C in (0.003, 0.01, 0.03, 0.1, 1, 10, 100):
                est = Ridge(alpha=1 / C) if regression else LogisticRegression(C=C, max_iter=2000)
                pipe = Pipeline([("featurization", data.build_featurizer(kinds, False)),
                                 ("preprocessor", data.splines(curves) if spline
                                  else StandardScaler()), ("estimator", est)])
                cv_score = cross_val_score(pipe, Xtr, ytr, cv=cv, scoring=scoring).mean()
                if best is None or cv_score > best[0]:
                    best = (cv_score, C, pipe)
            cv_score, C, pipe = best
            test = score(ds, pipe.fit(Xtr, ytr), Xte, yte)
            out.append(f"{'splines' if spline else 'values'}: C {C} cv {cv_score:.4f} "
                       f"test {test:.4f}")
        print(f"{name} ({len(curves)} columns bent): " + " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
