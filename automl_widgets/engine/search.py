"""The searcher: proposes the next pipeline, learns from scores (ask/tell).

It knows nothing of processes, files or time: the driver asks, runs, and tells. First the
cheap default of each family, in a fixed order; then Optuna's TPE over the joint space
(preprocessor, estimator, that estimator's hyperparameters). Seeded: the same history gives
the same proposals.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from .. import catalog

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class Proposal:
    preprocessor: str
    estimator: str
    params: dict = field(default_factory=dict)
    trial: object = None      # the Optuna trial behind it, if any

    def name(self, task) -> str:
        return catalog.pipeline_name(self.preprocessor, self.estimator, task)

    def portable(self) -> Proposal:
        """The same proposal without its Optuna trial, to send to another process."""
        return Proposal(self.preprocessor, self.estimator, dict(self.params))


class Searcher:
    def __init__(self, task, estimators, preprocessors, greater_is_better=True,
                 random_state=0):
        self.task = task
        self.estimators = list(estimators)
        self.preprocessors = list(preprocessors)
        self.sign = 1.0 if greater_is_better else -1.0
        self.defaults = [(p, e) for p, e in catalog.DEFAULTS[task]
                         if e in self.estimators and p in self.preprocessors]
        # Allowed estimators missing from the default list still get their default turn.
        listed = {e for _, e in self.defaults}
        self.defaults += [(self.preprocessors[0], e) for e in self.estimators if e not in listed]
        with warnings.catch_warnings():  # multivariate/group are marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=random_state, n_startup_trials=5,
                                                 multivariate=True, group=True,
                                                 constant_liar=True)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self._top = {"preprocessor": CategoricalDistribution(self.preprocessors),
                     "estimator": CategoricalDistribution(self.estimators)}

    def ask(self) -> Proposal:
        if self.defaults:
            p, e = self.defaults.pop(0)
            return Proposal(p, e)
        trial = self.study.ask()
        p = trial.suggest_categorical("preprocessor", self.preprocessors)
        e = trial.suggest_categorical("estimator", self.estimators)
        space = catalog.estimators(self.task)[e].space
        params = {}
        for name, spec in space.items():
            params[name] = _suggest(trial, f"{e}.{name}", spec)
        return Proposal(p, e, params, trial)

    def tell(self, proposal: Proposal, score: float | None) -> None:
        """score None (failed, canceled, timed out) or NaN means: learned nothing good."""
        ok = score is not None and not math.isnan(score)
        if proposal.trial is None:
            if ok:  # a default: record it so TPE starts from what the defaults showed
                self.study.add_trial(create_trial(
                    params={"preprocessor": proposal.preprocessor,
                            "estimator": proposal.estimator},
                    distributions=self._top, value=self.sign * score))
            return
        if ok:
            self.study.tell(proposal.trial, self.sign * score)
        else:
            self.study.tell(proposal.trial, state=TrialState.FAIL)


def _suggest(trial, name, spec):
    if spec[0] == "cat":
        return trial.suggest_categorical(name, spec[1])
    kind, low, high, log = spec
    if kind == "int":
        return trial.suggest_int(name, low, high, log=log)
    return trial.suggest_float(name, low, high, log=log)
