"""A quick, paired screen of one booster hyperparameter before a paired run of the engine:

    .venv/bin/python benchmarks/screen.py --family LightGBM --param path_smooth \
        --low 0.001 --high 100 --log --datasets credit,uk_vote,churn,wage
    .venv/bin/python benchmarks/screen.py --param linear_tree --value true \
        --configs 16 --datasets diabetes,boston,concrete

Random configurations of the family's catalog space, each cross-validated (5-fold, on the
quality benchmark's training rows behind the engine's featurizer) as it is and with
--param added, drawn from --low to --high (or set to --value). Both variants of a configuration share its
draws (uniform quantiles mapped through the space), so only --param differs. Reported per
dataset: the mean of the best three of each variant and the median pair's difference.
A gain here is only worth a `paired.py` run; it need not survive it (docs/development.md).
About 30 s a table for 24 LightGBM configurations.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from quality_datasets import BY_NAME  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score, train_test_split  # noqa: E402

from automl_widgets import catalog  # noqa: E402
from automl_widgets.engine import data  # noqa: E402

FAMILIES = {"LightGBM": ("LightGBM", "LightGBM"),
            "XGBoost": ("XGBoostClassifier", "XGBoostRegressor")}


def drawn(spec, u):
    """The value at quantile u of a catalog space entry."""
    if spec[0] == "cat":
        return spec[1][min(int(u * len(spec[1])), len(spec[1]) - 1)]
    kind, low, high, log = spec
    value = math.exp(math.log(low) + u * math.log(high / low)) if log else \
        low + u * (high - low)
    return int(round(value)) if kind in ("int", "size") else value


def screen(ds, family, param, spec, configs, seed=0):
    X, y = ds.load()
    classify = ds.kind != "regression"
    X, _, y, _ = train_test_split(X, y, test_size=0.25, random_state=0,
                                  stratify=y if classify else None)
    Z = data.build_featurizer(data.column_kinds(X), sparse=False).fit_transform(X, y)
    key = FAMILIES[family][0 if classify else 1]
    comp = catalog.estimators("classification" if classify else "regression")[key]
    if comp.encode_labels:
        y = np.unique(y, return_inverse=True)[1]
    base = comp.klass()(**dict(comp.defaults, n_jobs=2, random_state=seed))
    cv = (StratifiedKFold if classify else KFold)(5, shuffle=True, random_state=seed)
    scoring = {"binary": "roc_auc", "multiclass": "roc_auc_ovr_weighted"}.get(ds.kind, "r2")
    draws = np.random.default_rng(seed).random((configs, len(comp.space) + 1))
    scores = [[], []]
    for u in draws:
        params = {k: drawn(s, q) for (k, s), q in zip(comp.space.items(), u)}
        for variant in (0, 1):
            extra = {param: drawn(spec, u[-1])} if variant else {}
            est = clone(base).set_params(**{**params, **extra})   # --param may be in the space
            scores[variant].append(cross_val_score(est, Z, y, cv=cv, scoring=scoring).mean())
    top = [float(np.mean(sorted(s)[-3:])) for s in scores]
    median = float(np.median(np.subtract(scores[1], scores[0])))
    return top, median


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), default="LightGBM")
    parser.add_argument("--param", required=True, help="the hyperparameter to add")
    parser.add_argument("--low", type=float)
    parser.add_argument("--high", type=float)
    parser.add_argument("--value", help="one value instead of a range: a number, true or "
                        "false")
    parser.add_argument("--log", action="store_true", help="draw on a log scale")
    parser.add_argument("--int", action="store_true", help="an integer hyperparameter")
    parser.add_argument("--datasets", default="credit,uk_vote,churn,wage")
    parser.add_argument("--configs", type=int, default=24)
    args = parser.parse_args(argv)
    if args.value is not None:
        value = {"true": True, "false": False}.get(args.value.lower())
        spec = ("cat", [float(args.value) if value is None else value])
    elif args.low is None or args.high is None or args.low >= args.high or \
            (args.log and args.low <= 0):
        parser.error("give --value, or --low below --high (above 0 with --log)")
    else:
        spec = ("int" if args.int else "float", args.low, args.high, args.log)
    print(f"| dataset | best 3 without | best 3 with {args.param} | difference | median pair |")
    print("|---|--:|--:|--:|--:|")
    for name in args.datasets.split(","):
        (without, with_), median = screen(BY_NAME[name], args.family, args.param, spec,
                                          args.configs)
        print(f"| {name} | {without:.4f} | {with_:.4f} | {with_ - without:+.4f} | "
              f"{median:+.4f} |", flush=True)


if __name__ == "__main__":
    main()
