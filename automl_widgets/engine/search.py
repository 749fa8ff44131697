"""The searcher: proposes the next pipeline, learns from scores and costs (ask/tell).

It knows nothing of processes or files: the driver asks with the seconds a proposal may
cost, runs it, and tells its score and duration. First the default of each family, in a
fixed order; then Optuna's TPE over the joint space (estimator, its preprocessor unless it
is a tree family, which has one, and its hyperparameters). Budget-aware, after FLAML's
CFO: each family's cost is learned from what its iterations took, and a proposal
predicted to cost more than allowed has its size (trees, boosting rounds) cut to fit, or
is not run; the model phase picks among the leading families by their estimated seconds
to the next improvement (FLAML's learner choice). Seeded: the same history (scores and
seconds) gives the same proposals.
"""
from __future__ import annotations

import math
import statistics
import warnings
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from .. import catalog

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class Proposal:
    preprocessor: str
    estimator: str
    params: dict = field(default_factory=dict)
    trial: object = None      # the Optuna trial behind it, if any
    cost: float | None = None  # predicted seconds, if the family's cost is known yet
    prune_below: float | None = None  # a first fold scoring worse than this stops it
    screen: bool = False      # on a holdout: fitted on iteration.SCREEN of the rows first

    def name(self, task) -> str:
        return catalog.pipeline_name(self.preprocessor, self.estimator, task)

    def portable(self) -> Proposal:
        """The same proposal without its Optuna trial, to send to another process."""
        return Proposal(self.preprocessor, self.estimator, dict(self.params),
                        prune_below=self.prune_below, screen=self.screen)


class Costs:
    """Predicted seconds of a proposal: its family's seconds per unit of relative cost
    (catalog.Component.relative_cost), learned from finished iterations; a family not yet
    seen is priced by its catalog cost against the families seen, which carries the data
    size over."""

    def __init__(self, task, features=None):
        self.task = task
        self.features = features   # columns the models are fitted on, if known
        self.units: dict[str, list[float]] = {}

    def observe(self, proposal, seconds):
        comp = catalog.estimators(self.task)[proposal.estimator]
        self.units.setdefault(proposal.estimator, []).append(
            seconds / comp.relative_cost(proposal.params, self.features))

    def predict(self, proposal) -> float | None:
        comps = catalog.estimators(self.task)
        comp = comps[proposal.estimator]
        if proposal.estimator in self.units:
            unit = statistics.median(self.units[proposal.estimator])
        elif self.units:
            unit = comp.cost * statistics.median(
                statistics.median(v) / comps[e].cost for e, v in self.units.items())
        else:
            return None
        return unit * comp.relative_cost(proposal.params, self.features)


class Searcher:
    def __init__(self, task, estimators, preprocessors, greater_is_better=True,
                 random_state=0, columns=None, features=None, categories=False, rows=None):
        self.task = task
        # whether the table's categories may go to a family as codes (catalog.CATEGORIES):
        # else that choice is left out of every space, as it would change nothing
        self.categories = categories
        self.estimators = list(estimators)
        self.preprocessors = list(preprocessors)
        self.sign = 1.0 if greater_is_better else -1.0
        self.defaults = [(d[0], d[1], dict(d[2]) if len(d) > 2 else {})
                         for d in catalog.DEFAULTS[task]
                         if d[1] in self.estimators and d[0] in self.preprocessors
                         and _starts_here(d, columns)]
        # Allowed estimators missing from the default list still get their default turn.
        listed = {d[1] for d in self.defaults}
        self.defaults += [(self.preprocessors[0], e, {}) for e in self.estimators
                          if e not in listed]
        with warnings.catch_warnings():  # multivariate/group are marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=random_state, n_startup_trials=5,
                                                 multivariate=True, group=True,
                                                 constant_liar=True)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self._top = {"preprocessor": CategoricalDistribution(self.preprocessors),
                     "estimator": CategoricalDistribution(self.estimators)}
        self.costs = Costs(task, features)
        self.rng = np.random.default_rng(random_state)
        self.passed_over: list[tuple[str, float]] = []  # (estimator, predicted seconds)
        self.family_best: dict[str, float] = {}   # estimator -> best score, sign applied
        self.spent: dict[str, float] = {}   # estimator -> seconds its iterations took
        # estimator -> (its seconds spent when its best was found, when the best before
        # that was found, that earlier best or None): the family's pace, as FLAML keeps it
        self.found: dict[str, tuple] = {}
        self._known: dict[str, dict] = {}         # estimator -> its defaults, as a point
        self.ran: dict[tuple, float] = {}         # _key(proposal) -> its score
        # LightGBM's two first starts' scores ("small", "default"), until the big start
        # is decided: added where the default beat the small one (catalog.BIG_LGBM); and
        # the better of the two with its categories as codes, where that is searched
        self.grow: dict | None = {} if "LightGBM" in self.estimators and \
            self._fixed("LightGBM") in self.preprocessors else None
        self.coded_start = categories
        # the default's score, sign applied, once the big start is added where the rows
        # could feed the larger one: that is added if the big start beats it (_grow)
        self.larger: float | None = None
        self.rows = rows

    def ask(self, limit=None, hard_limit=None) -> Proposal | None:
        """The next proposal, predicted to cost at most `limit` seconds if any fits, else
        the cheapest tried that fits `hard_limit`; None when none does."""
        hard_limit = limit if hard_limit is None else hard_limit
        while self.defaults:
            p, e, params = self.defaults.pop(0)
            proposal = self._priced(Proposal(p, e, params))
            allowed = hard_limit if limit is None else limit
            if _fits(proposal, allowed):
                return proposal
            cost = proposal.cost
            # A start priced a little over the early ceiling (its price may come from the
            # catalog's prior) runs with fewer trees or rounds: passed over, its family
            # would never score nor enter the focus, even where it is the best one.
            # A forest priced by the prior alone may go below its space's least trees, as
            # a probe that teaches the cost model: the prior priced a random forest at
            # 10-34 s on 13 of 15 regression tables, so it never ran, and it took 1.5 s on
            # 506 rows. Not a searched size (GradientBoosting's rounds): its probe on
            # digits took 12.8 s for nothing (docs/benchmarks.md, 2026-12-07 (6)).
            probe = e not in self.costs.units
            proposal = self._priced(self._shrunk(proposal, allowed, probe))
            if _fits(proposal, allowed):
                return proposal
            self.passed_over.append((e, cost))
        cheapest, focus, again = None, self._focus(), None
        for _ in range(TRIES):
            if focus:   # the family is ours to pick; TPE picks the rest, given it
                self.study.enqueue_trial({"estimator": self._pick(focus)})
            proposal = self._priced(self._ask_model())
            if not _fits(proposal, limit):
                proposal = self._priced(self._shrunk(proposal, limit))
            known = self.ran.get(self._key(proposal))
            if known is not None:
                # The same model as one run before (a forest's max_features 0.10 and
                # 0.12 of 22 columns both take 2): its score is known, told not rerun.
                self.study.tell(proposal.trial, self.sign * known)
                again = Proposal(proposal.preprocessor, proposal.estimator,
                                 proposal.params, cost=proposal.cost)
                continue
            if _fits(proposal, limit):
                return proposal
            if cheapest is None or proposal.cost < cheapest.cost:
                cheapest, proposal = proposal, cheapest
            if proposal is not None:
                self.study.tell(proposal.trial, state=TrialState.FAIL)
        if _fits(cheapest, hard_limit):
            return cheapest
        if cheapest is not None:
            self.study.tell(cheapest.trial, state=TrialState.FAIL)
        # Every try was a model run before: run one again rather than end the search.
        return again if _fits(again, hard_limit) else None

    def _key(self, proposal) -> tuple:
        """What the fitted model depends on: a share of columns as the count it takes."""
        n = self.costs.features
        params = []
        for k, v in sorted(proposal.params.items()):
            if k == "max_features" and isinstance(v, float) and n:
                v = ("columns", max(1, int(v * n)))   # scikit-learn's own rounding
            params.append((k, repr(v)))
        return proposal.preprocessor, proposal.estimator, tuple(params)

    def _focus(self) -> list | None:
        """The FOCUS families with the best scores, best first, once more than that have
        scored: the model phase spends its budget there (FLAML likewise picks the learner
        most likely to improve), and the others keep their iterations in the ensembles."""
        if len(self.family_best) <= FOCUS or self.defaults:
            return None
        ranked = sorted(self.family_best, key=lambda e: (-self.family_best[e], e))
        return ranked[:FOCUS]

    def _pick(self, focus) -> str:
        """A family of the focus, with odds 1 / its estimated seconds to improve (its
        rank alone would let a slow family take most of the time): seeded, so the same
        history gives the same pick."""
        odds = np.array([1.0 / self._eci(e, focus[0]) for e in focus])
        return focus[self.rng.choice(len(focus), p=odds / odds.sum())]

    def _eci(self, e, leader) -> float:
        """The family's estimated seconds to its next improvement, after FLAML's
        learner choice: the longer of its last gap between improvements and its time
        since the last one; for a family behind the leader, at least twice the time its
        pace so far would take to close the gap. In seconds, whatever the metric."""
        if e not in self.found or not self.spent.get(e):
            known = [self._eci(f, leader) for f in self.found if self.spent.get(f)]
            return max(known, default=1.0)
        t_best, t_old, _ = self.found[e]
        eci = max(t_best - t_old, self.spent[e] - t_best)
        gap = self.family_best[leader] - self.family_best[e]
        if gap > 0:
            speed = self._speed(e)
            if speed is None:
                # No pace of its own yet (one best so far): the others' median. Taken as
                # none, a cheap family far behind (an SGD at R^2 0.12 against 0.27) looked
                # a second from improving and took a third of the model phase's iterations.
                known = [v for f in self.found if f != e and (v := self._speed(f))]
                speed = statistics.median(known) if known else None
            if speed:
                eci = max(eci, 2 * gap / speed)
        return max(eci, 1e-3)

    def _speed(self, e) -> float | None:
        """The family's score gained a second between its last two bests, if it has two."""
        t_best, t_old, best_old = self.found[e]
        if best_old is None:
            return None
        speed = (self.family_best[e] - best_old) / max(self.spent[e] - t_old, 1e-9)
        return speed if speed > 0 else None

    def _account(self, e, took, score) -> None:
        """A finished iteration of family e: its seconds, and its score if a new best."""
        t = self.spent[e] = self.spent.get(e, 0.0) + (took or 0.0)
        if score is None or math.isnan(score):
            return
        best = self.family_best.get(e)
        if best is None or self.sign * score > best:
            # The pace counts a gain only above MIN_GAIN: a cheap leader gaining 0.00001
            # an iteration (credit_card's logistic regression, C 330 to 340) looked always
            # about to improve and took 240 of 445 iterations.
            if best is None or self.sign * score - best > MIN_GAIN * max(1.0, abs(best)):
                self.found[e] = (t, self.found[e][0] if e in self.found else 0.0, best)
            self.family_best[e] = self.sign * score

    def _fixed(self, estimator) -> str | None:
        """The one preprocessor of a tree family (catalog.Component.scale_free): TPE
        chooses the preprocessor only where it changes the model."""
        return catalog.preprocessor_for(self.task, estimator, self.preprocessors)

    def _named(self, proposal) -> dict:
        """The proposal's values under the names its Optuna trial gave them."""
        named = {"estimator": proposal.estimator}
        if not self._fixed(proposal.estimator):
            named["preprocessor"] = proposal.preprocessor
        space = catalog.estimators(self.task)[proposal.estimator].space
        named.update({f"{proposal.estimator}.{k}": v for k, v in proposal.params.items()
                      if _searched(space.get(k))})
        return named

    def _priced(self, proposal):
        proposal.cost = self.costs.predict(proposal)
        return proposal

    def _ask_model(self) -> Proposal:
        trial = self.study.ask()
        e = trial.suggest_categorical("estimator", self.estimators)
        p = self._fixed(e) or trial.suggest_categorical("preprocessor", self.preprocessors)
        space = catalog.estimators(self.task)[e].space
        params = {}
        for name, spec in space.items():
            if name == catalog.CATEGORIES and not self.categories:
                continue
            params[name] = _suggest(trial, f"{e}.{name}", spec) if _searched(spec) else spec[2]
        return Proposal(p, e, params, trial)

    def _shrunk(self, proposal, limit, probe=False) -> Proposal:
        """The proposal with its size parameter (trees, rounds) cut to cost `limit`, to
        the least of its space, or with `probe` a forest's trees to 1/PROBE of them."""
        comp = catalog.estimators(self.task)[proposal.estimator]
        params = dict(proposal.params)
        name = _size(comp)
        if name:
            value = params.get(name, comp.defaults.get(name, comp.cost_params[name][0]))
            cut = int(value * 0.9 * limit / proposal.cost)   # value: a start's default
            least = comp.space[name][1]
            if probe and comp.space[name][0] == "size":
                least = min(least, max(1, value // PROBE))
            params[name] = max(least, min(value, cut))
        return Proposal(proposal.preprocessor, proposal.estimator, params, proposal.trial)

    def warm(self, preprocessor, estimator, params, score, seconds=None) -> None:
        """An iteration of an earlier part of the run (continue_experiment), told as if it
        had been asked now: its family's default is not tried again, its cost and score
        teach the cost model and TPE."""
        if preprocessor not in self.preprocessors or estimator not in self.estimators:
            return
        ran = self._unsized(estimator, params or {})
        self.defaults = [d for d in self.defaults
                         if not (d[1] == estimator and self._unsized(estimator, d[2]) == ran)]
        proposal = Proposal(preprocessor, estimator, dict(params or {}))
        if seconds is not None:
            self.costs.observe(proposal, seconds)
        self._account(estimator, seconds, score)
        self._grow(proposal, None if score is None or math.isnan(score) else score)
        if score is None or math.isnan(score):
            return
        if seconds is not None:
            self.ran[self._key(proposal)] = score
        self._add_given(proposal, score)

    def _grow(self, proposal, score) -> None:
        """Add the big LightGBM start once LightGBM's default has scored clearly better
        than the small one (by GROW_BY): larger trees paid there, so the next start tries
        larger still. A tie says nothing of larger trees: on digits (0.9995 against
        0.9994) the big start cost 21.7 s for 0.9990. Likewise the larger start, once the
        big one beat the default, where the rows can feed it (catalog.LARGER_ROWS)."""
        if proposal.estimator != "LightGBM":
            return
        ran = self._unsized("LightGBM", proposal.params)
        if self.larger is not None and ran == self._unsized("LightGBM", catalog.BIG_LGBM):
            default, self.larger = self.larger, None
            if score is not None and self.sign * score - default > GROW_BY * abs(default):
                self.defaults.insert(0, (self._fixed("LightGBM"), "LightGBM",
                                         dict(catalog.LARGER_LGBM)))
        if self.grow is None:
            return
        if ran.get(catalog.CATEGORIES) == "codes":
            self.coded_start = False   # it ran (an earlier part of the run)
        if ran == self._unsized("LightGBM", catalog.BIG_LGBM):
            self.grow = None   # it ran (an earlier part of the run)
            return
        which = {"default": {}, "small": self._unsized("LightGBM", catalog.SMALL_LGBM)}
        for name, params in which.items():
            if ran == params:
                self.grow[name] = None if score is None else self.sign * score
        if len(self.grow) < 2:
            return
        small, default = self.grow["small"], self.grow["default"]
        self.grow = None
        if self.coded_start and (small is not None or default is not None):
            # Codes against one-hot on the same settings: TPE learns the choice from a
            # pair, where one start among one-hot ones would seldom have it tried.
            better = catalog.SMALL_LGBM if default is None or \
                small is not None and small >= default else {}
            self.defaults.insert(0, (self._fixed("LightGBM"), "LightGBM",
                                     dict(better, **{catalog.CATEGORIES: "codes"})))
        if small is not None and default is not None and \
                default - small > GROW_BY * abs(small):
            self.defaults.insert(0, (self._fixed("LightGBM"), "LightGBM",
                                     dict(catalog.BIG_LGBM)))
            if self.rows and self.rows >= catalog.LARGER_LGBM["num_leaves"] * \
                    catalog.LARGER_ROWS:
                self.larger = default

    def _unsized(self, estimator, params) -> dict:
        """The params without the size (trees, rounds) that _shrunk may have cut: a start
        cut to fit is still that start."""
        size = _size(catalog.estimators(self.task)[estimator])
        return {k: v for k, v in params.items() if k != size}

    def _add_given(self, proposal, score) -> None:
        """A trial of a proposal TPE did not make (a start, an earlier part of the run):
        its family, preprocessor and the hyperparameters it set, so TPE's model of that
        family starts from them."""
        space = catalog.estimators(self.task)[proposal.estimator].space
        proposal = Proposal(proposal.preprocessor, proposal.estimator,
                            dict(self._defaults(proposal.estimator), **proposal.params))
        dists = dict(self._top)
        dists.update({f"{proposal.estimator}.{k}": _distribution(space[k])
                      for k in proposal.params if _searched(space.get(k))})
        params = {k: v for k, v in self._named(proposal).items() if k in dists}
        try:
            self.study.add_trial(create_trial(
                params=params, distributions={k: dists[k] for k in params},
                value=self.sign * score))
        except ValueError:   # a value outside today's space: keep what it says of the family
            self._add_top(proposal, score)

    def _defaults(self, estimator) -> dict:
        """The family's own defaults as a point of its space: the value the library
        (or the catalog) sets for each searched hyperparameter, a number clamped into its
        range (LightGBM's reg_lambda 0 is told as the space's 0.001) or a listed choice;
        left out where it is neither (XGBoost's None, a forest's "sqrt")."""
        if estimator not in self._known:
            comp = catalog.estimators(self.task)[estimator]
            given = dict(comp.klass()().get_params(), **comp.defaults)
            point = {}
            for name, spec in comp.space.items():
                value = given.get(name)
                if not _searched(spec) or name == catalog.CATEGORIES and not self.categories:
                    continue
                if spec[0] == "cat":
                    if value in spec[1]:
                        point[name] = value
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = min(max(value, spec[1]), spec[2])
                    point[name] = int(round(value)) if spec[0] == "int" else float(value)
            self._known[estimator] = point
        return self._known[estimator]

    def _add_top(self, proposal, score) -> None:
        """A trial of the proposal's family (and preprocessor, where searched) alone."""
        params = {k: v for k, v in self._named(proposal).items() if k in self._top}
        self.study.add_trial(create_trial(
            params=params, distributions={k: self._top[k] for k in params},
            value=self.sign * score))

    def tell(self, proposal: Proposal, score: float | None, seconds=None,
             pruned_at=None, took=None) -> None:
        """score None (failed, canceled, timed out) or NaN means: learned nothing good.
        seconds: what it took, if it ran to its end (or to max_time_sec). pruned_at: the
        first fold's score of a proposal stopped after it. took: what it took, however it
        ended (the family's time spent); seconds if not given."""
        if seconds is not None:
            self.costs.observe(proposal, seconds)
        self._account(proposal.estimator, seconds if took is None else took, score)
        if pruned_at is not None and proposal.trial is not None:
            proposal.trial.report(self.sign * pruned_at, step=0)
            self.study.tell(proposal.trial, state=TrialState.PRUNED)
            return
        ok = score is not None and not math.isnan(score)
        if ok and seconds is not None:   # ran to its end: a rerun would score the same
            self.ran[self._key(proposal)] = score
        if proposal.trial is not None and self._named(proposal) != proposal.trial.params:
            # The trial's own values did not run: record what did, as a trial of its own.
            self.study.tell(proposal.trial, state=TrialState.FAIL)
            if ok:
                self.study.add_trial(create_trial(
                    params=self._named(proposal), distributions=proposal.trial.distributions,
                    value=self.sign * score))
            return
        if proposal.trial is None:
            if ok:  # a start: record it so TPE starts from what the starts showed
                self._add_given(proposal, score)
            self._grow(proposal, score if ok else None)
            return
        if ok:
            self.study.tell(proposal.trial, self.sign * score)
        else:
            self.study.tell(proposal.trial, state=TrialState.FAIL)


TRIES = 10   # model proposals looked at before settling for the cheapest
FOCUS = 5    # families the model phase keeps to, by their best score
PROBE = 5    # a forest's start priced by the prior alone may be cut to 1/PROBE its trees
GROW_BY = 0.005   # share of the small LightGBM's score the default must beat it by
# A family's gain that counts for its pace, relative to its score where above 1 (an RMSE)
MIN_GAIN = 1e-4


def _starts_here(start, columns) -> bool:
    """False for the slow XGBoost start on a table of fewer than SLOW_XGB_COLUMNS."""
    if len(start) > 2 and start[2] is catalog.SLOW_XGB:
        return columns is None or columns >= catalog.SLOW_XGB_COLUMNS
    return True


def _size(comp) -> str | None:
    """The family's size parameter (trees, boosting rounds): its cost grows with it
    linearly, so it can be cut to fit a limit."""
    for name, (_, exponent) in comp.cost_params.items():
        spec = comp.space.get(name)
        if exponent == 1.0 and spec and spec[0] in ("int", "size"):
            return name
    return None


def _fits(proposal, limit) -> bool:
    return proposal is not None and (limit is None or proposal.cost is None
                                     or proposal.cost <= limit)


def _searched(spec) -> bool:
    """A hyperparameter TPE chooses: not a size the cost cut sets (catalog's "size")."""
    return spec is not None and spec[0] != "size"


def _distribution(spec):
    if spec[0] == "cat":
        return CategoricalDistribution(spec[1])
    kind, low, high, log = spec
    return (IntDistribution if kind == "int" else FloatDistribution)(low, high, log=log)


def _suggest(trial, name, spec):
    if spec[0] == "cat":
        return trial.suggest_categorical(name, spec[1])
    kind, low, high, log = spec
    if kind == "int":
        return trial.suggest_int(name, low, high, log=log)
    return trial.suggest_float(name, low, high, log=log)
