"""The experiment loop on the target: the only writer of a run folder.

    python -m automl_widgets.engine.driver RUN_FOLDER [--detach]

Loads the data once, then keeps up to concurrent_iterations forked iteration processes
busy with the searcher's proposals, within the budgets; acts on control/ requests; ends
with the ensembles. Detached (its own session), it outlives whoever started it.
"""
from __future__ import annotations

import logging
import os
import selectors
import signal
import statistics
import sys
import threading
import time

from ..protocol import (
    CANCEL_RUN,
    MODEL,
    PREDICTIONS,
    SPEC,
    TRUTH,
    EventWriter,
    Status,
    cancel_iteration_request,
    iteration_dir,
    liveness,
    read_json,
    requests,
)
from ..protocol import events as ev

POLL = 0.05  # seconds between looks at control/ while iterations run or data loads
# The cost ceiling of the next iteration: CEILING times the median iteration so far, at
# least CEILING_MIN seconds, so the search starts cheap and grows (FLAML's CFO idea).
CEILING, CEILING_MIN = 4.0, 5.0
PRUNE_AFTER = 5   # completed iterations before pruning starts
SAVE_MARGIN = 1.5  # seconds the VotingEnsemble keeps to load, score and save its model
# The ensembles' reserve: RESERVE of experiment_timeout_minutes, at least RESERVE_MIN
# seconds (never over 10 %: a short budget is the search's), at most RESERVE_MAX.
# Both take 0.2-2.2 s on the benchmark's tables since the greedy selection ranks its
# AUCs itself; 10 % of a 60 s budget left 4-5 s unused (docs/benchmarks.md, 2026-12-06).
RESERVE, RESERVE_MIN, RESERVE_MAX = 0.05, 3.0, 30.0
# The ensembles load their members' saved models and save themselves with them: a default
# random forest on 187,500 rows is 253 MB and took 1.8 s to load, and a 3 s reserve did
# not see the VotingEnsemble over it through (docs/benchmarks.md, 2026-12-08). The reserve
# grows by LOAD_SECONDS a GB (that load's pace) of each family's largest saved model, up
# to LOAD_SHARE of experiment_timeout_minutes.
LOAD_SECONDS, LOAD_SHARE = 7.0, 0.25

log = logging.getLogger("automl_widgets.engine.driver")


def reserve(deadline_sec) -> float:
    """Seconds of experiment_timeout_minutes kept back from the search for the ensembles."""
    if not deadline_sec:
        return 0.0
    d = deadline_sec
    return min(RESERVE_MAX, max(RESERVE * d, min(RESERVE_MIN, 0.1 * d)))


def _size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:   # not saved here (a Dask worker's)
        return 0


def _limit(value):
    """A time budget from the spec: None (or inf, written as null) is no limit."""
    return None if value is None else float(value)


class Driver:
    def __init__(self, folder):
        from .. import metrics
        self.folder = folder
        self.spec = read_json(os.path.join(folder, SPEC))
        metrics.load(self.spec.get("custom_metrics"))   # the user's, pickled in the spec
        self.metric = metrics.get(self.spec["primary_metric"])
        self.events = EventWriter(folder)
        self.tracker = None
        if self.spec.get("mlflow_tracking_uri"):
            from .tracking import Tracker
            self.tracker = Tracker(self.spec, folder)
        self.running = {}          # n -> (Worker, proposal)
        self.completed = []        # (n, folder, score, family) of iterations with predictions
        self.model_bytes = {}      # family -> its largest saved model, in bytes
        self.first_failure = None  # (n, reason) of the first iteration that failed
        self.best = None
        self.since_best = 0
        self.cancel = False
        self.stop_reason = None
        self.selector = selectors.DefaultSelector()
        self.max_time = _limit(self.spec["max_time_sec"])
        minutes = _limit(self.spec["experiment_timeout_minutes"])
        self.deadline_sec = None if minutes is None else minutes * 60
        self.t0 = time.monotonic()
        self.dask = None           # the DaskExecutor, when the target is a Dask cluster
        self.durations = []        # seconds of each completed searched iteration
        self.first_folds = []      # first folds' scores of completed and pruned ones
        self.ensembling = False    # the ensembles' turn: the search's time is over
        self.hard_stopped = False  # experiment_timeout_minutes itself has passed
        self.out_of_time = False   # the search ended as nothing fit in its time left
        s = self.spec
        will_ensemble = bool(_ensembles(s)) and s["iterations"] > len(_ensembles(s))
        # Time kept back from the search so the ensembles run before the deadline.
        self.reserve = reserve(self.deadline_sec) if will_ensemble else 0.0
        self.slots = s["concurrent_iterations"]

    def emit(self, event):
        if isinstance(event, ev.RunFinished) and self.tracker is not None:
            self.tracker.finish(event.status, self.best_iteration())
        out = self.events.emit(event)
        if self.tracker is not None:
            self.tracker.on(event)
        return out

    def best_iteration(self):
        return next((n for n, _, score, _ in self.completed if score == self.best), None)

    # ---- control ---------------------------------------------------------------------
    def cancel_wanted(self, found=None) -> bool:
        return self.cancel or CANCEL_RUN in (requests(self.folder) if found is None else found)

    def over_deadline(self) -> bool:
        return self.deadline_sec is not None and time.monotonic() - self.t0 > self.deadline_sec

    def search_time_left(self) -> float | None:
        """Seconds until the search must end, the ensembles' reserve kept; None: no limit."""
        if self.deadline_sec is None:
            return None
        return self.deadline_sec - self.kept_back() - (time.monotonic() - self.t0)

    def kept_back(self) -> float:
        """The ensembles' reserve, grown by the seconds loading their members may take."""
        return self.reserve and self.reserve + self.load_seconds()

    def load_seconds(self) -> float:
        extra = LOAD_SECONDS * sum(self.model_bytes.values()) / 1e9
        return min(extra, LOAD_SHARE * (self.deadline_sec or 0.0))

    def limits(self):
        """(soft, hard): seconds the next iteration may cost. Hard: max_time_sec and the
        search's time left; soft adds the growing cost ceiling."""
        hard, left = self.max_time, self.search_time_left()
        if left is not None:
            hard = left if hard is None else min(hard, left)
        soft = hard
        if self.durations:
            ceiling = max(CEILING_MIN, CEILING * statistics.median(self.durations))
            soft = ceiling if soft is None else min(soft, ceiling)
        return soft, hard

    def prune_threshold(self):
        """The median first fold of the iterations so far, pruned ones included, once there
        are PRUNE_AFTER (Optuna's MedianPruner, on one fold): a model proposal whose first
        fold does worse stops there, at a fraction of its cost."""
        if len(self.first_folds) < PRUNE_AFTER:
            return None
        return statistics.median(self.first_folds)

    def usable_slots(self) -> int:
        """concurrent_iterations, but no more than the cores of this machine can run at
        once: more would only share them (a Dask cluster queues tasks itself)."""
        wanted = self.spec["concurrent_iterations"]
        if self.dask is not None:
            return wanted
        cores = len(os.sched_getaffinity(0))
        per = self.spec["max_cores_per_iteration"]
        usable = max(1, cores // (cores if per in (None, -1) else min(per, cores)))
        if wanted > usable:
            log.info("concurrent_iterations=%d is more than this machine's %d core(s) can "
                     "run at once: %d iteration(s) run at a time, the others wait their turn",
                     wanted, cores, usable)
        return min(wanted, usable)

    def check_control(self):
        found = requests(self.folder)
        if self.cancel_wanted(found) and self.stop_reason != "canceled":
            self.stop_reason, self.cancel = "canceled", True
            self.emit(ev.CancelRequested())
            for worker, _ in self.running.values():
                worker.kill(Status.CANCELED, "the run was canceled")
        for n, (worker, _) in self.running.items():
            if cancel_iteration_request(n) in found:
                worker.kill(Status.CANCELED, "canceled on request")
            elif self.max_time is not None and not getattr(worker, "queued", False) and \
                    time.monotonic() - worker.started > self.max_time:
                worker.kill(Status.TIMED_OUT, f"exceeded max_time_sec={self.spec['max_time_sec']}")
            elif hasattr(worker, "overdue"):
                worker.overdue()
            if getattr(worker, "worker", None) and worker.worker != getattr(worker, "shown", None):
                worker.shown = worker.worker   # a Dask worker took it: say where, live
                self.emit(ev.IterationPlaced(iteration=n, worker=worker.worker))
        if self.dask is not None and not self.stop_reason:
            self.dask.data_lost()   # a worker that held the data died: scatter it again
        if self.dask is not None and not self.stop_reason and self.dask.scheduler_lost():
            self.stop_reason = "scheduler_lost"
            for worker, _ in self.running.values():
                worker.kill(Status.FAILED, f"the Dask scheduler at {self.dask.address} was lost")
        left = self.search_time_left()
        if not self.stop_reason and not self.ensembling and left is not None and left <= 0:
            self.stop_reason = "experiment_timeout"
            why = ("experiment_timeout_minutes reached" if not self.reserve else
                   f"experiment_timeout_minutes is {self.kept_back():.0f} s away: the time "
                   "left is the ensembles'")
            for worker, _ in self.running.values():
                worker.kill(Status.CANCELED, why)
        if not self.hard_stopped and self.over_deadline():
            self.hard_stopped = True
            self.stop_reason = self.stop_reason or "experiment_timeout"
            for worker, _ in self.running.values():
                worker.kill(Status.CANCELED, "experiment_timeout_minutes reached")
        return found

    # ---- iterations ------------------------------------------------------------------
    def launch(self, n, name, params, job, proposal=None, remote=None):
        """Start iteration n: job() in a forked local process, or, on a Dask target,
        remote = (fn, args) as a task whose worker runs fn(ctx, *args, out_dir)."""
        from . import worker
        from .faults import inject_driver
        inject_driver(n)
        self.emit(ev.IterationStarted(iteration=n, pipeline=name, params=params,
                                      run_id=f"{self.spec['run_id']}_{n}"))
        cores = self.spec["max_cores_per_iteration"]
        cores = None if cores == -1 else cores
        if remote is not None and self.dask is not None:
            w = self.dask.start(n, iteration_dir(self.folder, n), *remote, cores)
        else:
            w = worker.start(n, iteration_dir(self.folder, n), job, cores)
        self.running[n] = (w, (name, params, proposal))
        self.selector.register(w, selectors.EVENT_READ, n)

    def reap(self, n):
        w, (name, params, proposal) = self.running.pop(n)
        self.selector.unregister(w)
        result = w.reap()
        completed = result["status"] == Status.COMPLETED
        score = result.get("score") if completed else None
        if proposal is not None:
            ran = result["status"] in (Status.COMPLETED, Status.TIMED_OUT)
            pruned = result.get("first_fold") if result["status"] == Status.PRUNED else None
            self.searcher.tell(proposal, score, result["duration"] if ran else None, pruned,
                               took=result["duration"])
            if completed:
                self.durations.append(result["duration"])
            if result.get("first_fold") is not None:   # completed or pruned
                self.first_folds.append(result["first_fold"])
        self.emit(ev.IterationFinished(
            iteration=n, pipeline=name, params=result.get("params", params),
            status=result["status"], duration=result["duration"],
            metrics=result.get("metrics", {}), reason=result.get("reason"),
            worker=result.get("worker")))
        log.info("iteration %d %s %s %s", n, name, result["status"], score)
        if result["status"] in (Status.FAILED, Status.TIMED_OUT) and self.first_failure is None:
            self.first_failure = (n, result.get("reason"))
        if score is not None and score == score:
            family = proposal.estimator if proposal is not None else name
            self.keep(n, score, family)
            if self.best is None or self.metric.better(score, self.best):
                self.best, self.since_best = score, 0
                return
        self.since_best += 1

    def keep(self, n, score, family):
        """Iteration n, completed, is an ensemble member: its model's size counts for the
        time the ensembles are kept (kept_back)."""
        folder = iteration_dir(self.folder, n)
        self.completed.append((n, folder, score, family))
        self.model_bytes[family] = max(self.model_bytes.get(family, 0),
                                       _size(os.path.join(folder, MODEL)))

    def wait_any(self, timeout=POLL):
        for key, _ in self.selector.select(timeout):
            if key.data in self.running:
                self.reap(key.data)

    def check_budgets(self):
        s = self.spec
        if self.stop_reason or self.best is None:
            return
        if s["exit_score"] is not None and not self.metric.better(s["exit_score"], self.best):
            self.stop_reason = "exit_score_reached"
        elif (s["enable_early_stopping"] and not self.searcher.defaults
              and self.since_best >= s["early_stopping_n_iters"]):
            self.stop_reason = "early_stopping"

    def search(self, ctx, last, start=0):
        from . import iteration
        n = start
        while True:
            found = self.check_control()
            self.check_budgets()
            while not self.stop_reason and len(self.running) < self.slots \
                    and n < last and (self.dask is None or self.dask.ready()):
                if cancel_iteration_request(n) in found:  # canceled before it began
                    self.emit(ev.IterationFinished(iteration=n, status=Status.CANCELED,
                                                   duration=0, reason="canceled before it started"))
                else:
                    soft, hard = self.limits()
                    p = self.searcher.ask(soft, hard)
                    for e, cost in self.searcher.passed_over:
                        log.info("%s is not tried: its default would take about %.0f s, "
                                 "more than the %.0f s allowed now", e, cost, soft)
                    self.searcher.passed_over.clear()
                    if p is not None and p.trial is not None and len(ctx.splits or ()) >= 3:
                        p.prune_below = self.prune_threshold()
                    elif p is not None and p.trial is not None and iteration.screens(ctx):
                        p.screen, p.prune_below = True, self.prune_threshold()
                    if p is None:
                        log.info("no configuration fits in the %.1f s left for the search; "
                                 "it ends here", hard)
                        left = self.search_time_left()
                        self.out_of_time = left is not None and (
                            self.max_time is None or left < self.max_time)
                        last = n
                        break
                    self.launch(n, p.name(ctx.task), p.params,
                                lambda p=p, n=n: iteration.run(ctx, p, iteration_dir(self.folder, n)),
                                proposal=p, remote=(iteration.run, (p.portable(),)))
                n += 1
            if not self.running and (self.stop_reason or n >= last):
                return n
            self.wait_any()

    def ensembles(self, ctx, n):
        """Both ensembles, side by side when there are two slots, in the reserved time."""
        from . import ensemble
        self.ensembling = True
        members = list(self.completed)  # the searched iterations: not the VotingEnsemble
        # The greedy selection stops in time to save its model before the deadline: with
        # many classes its full length outlasts the reserve (docs/benchmarks.md).
        until = None if self.deadline_sec is None else \
            self.t0 + self.deadline_sec - max(SAVE_MARGIN, 0.5 * self.reserve) \
            - self.load_seconds()
        stack = "StackEnsemble" in _ensembles(self.spec)   # half the vote's, in classification
        jobs = [("VotingEnsemble", lambda d: ensemble.voting(
                    ctx, members, self.spec["ensemble_iterations"], d, until, stack)),
                ("StackEnsemble", lambda d: ensemble.stacking(ctx, members, d))]
        jobs = [job for job in jobs if job[0] in _ensembles(self.spec)]
        while True:
            self.check_control()
            if self.hard_stopped or self.stop_reason in ("canceled", "scheduler_lost"):
                jobs = []
            while jobs and len(self.running) < self.slots:
                name, job = jobs.pop(0)
                d = iteration_dir(self.folder, n)
                self.launch(n, name, {}, lambda job=job, d=d: job(d))
                n += 1
            if not self.running:
                return
            self.wait_any()

    # ---- loading the data, interruptibly ---------------------------------------------
    def load_data(self):
        """prepare() in a thread while this one watches control/ and the deadline, so a
        cancel or experiment_timeout_minutes takes effect while get_data() still runs.
        Returns (ctx, info), or None once the run has been ended here."""
        out = {}

        def work():
            try:
                from .prepare import prepare  # here too: importing sklearn takes seconds
                out["value"] = prepare(self.spec, self.folder)
            except BaseException as exc:  # noqa: BLE001 - SystemExit from the script too
                out["error"] = exc
        thread = threading.Thread(target=work, name="get_data", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(POLL)
            if thread.is_alive() and self.cancel_wanted():
                self.abandon(Status.CANCELED, None, "canceled",
                             "canceled while get_data() was running")
            if thread.is_alive() and self.over_deadline():
                minutes = self.spec["experiment_timeout_minutes"]
                self.abandon(Status.FAILED, f"experiment_timeout_minutes={minutes} was reached "
                             "while the data was still loading (get_data() had not returned).",
                             "experiment_timeout", "timed out while get_data() was running")
        if "error" in out:
            from .prepare import describe_error
            error = describe_error(out["error"], self.spec)
            log.error("preparing the data failed: %s", error)
            self.emit(ev.RunFinished(status=Status.FAILED, error=error, reason="data_error"))
            return None
        return out["value"]

    def abandon(self, status, error, reason, note):
        """End the run now, with the loading thread still busy: the process exits."""
        log.info("run ended: %s", note)
        if status == Status.CANCELED:
            self.emit(ev.CancelRequested())
        self.emit(ev.RunFinished(status=status, error=error, reason=reason))
        logging.shutdown()
        sys.stdout.flush()
        try:  # whatever get_data() started goes too
            import psutil
            for child in psutil.Process().children(recursive=True):
                child.kill()
        finally:
            os._exit(0)

    # ---- the whole run ---------------------------------------------------------------
    def run(self):
        from .. import catalog
        from .search import Searcher
        self.t0 = time.monotonic()
        if self.tracker is not None:
            self.tracker.start()
        prior = self.prior()
        if prior is None:
            self.emit(ev.RunStarted(pid=os.getpid(), host=os.uname().nodename))
        else:
            self.emit(ev.RunContinued(pid=os.getpid(), host=os.uname().nodename,
                                      iterations=self.spec["iterations"]))
        for note in self.spec.get("notes") or ():
            log.info("note: %s", note)
        if self.spec["target"].get("type") == "dask" and not self.connect_dask():
            return
        loaded = self.load_data()
        if loaded is None:
            return
        ctx, info = loaded
        self.guardrails(ctx)
        self.save_truth(ctx)
        why = info.pop("why")
        self.emit(ev.DataLoaded(**info))
        if info["validation"] == "holdout":
            log.info("validation: a holdout of %d rows%s", info["validation_rows"],
                     f" ({why}; the saved models are then fitted on every row)" if why else "")
        else:
            log.info("validation: %d-fold cross-validation%s", info["folds"],
                     f" ({why})" if why else "")
        from .prepare import left_out
        for key, why in sorted(left_out(self.spec, info).items()):
            log.info("%s is not tried: %s", key, why)
        if ctx.onnx and ctx.kinds and ctx.kinds["numeric"] is not None:
            for kind, what in (("datetime", "dropped"), ("text", "one-hot encoded as categories")):
                if ctx.kinds[kind]:
                    log.info("enable_onnx_compatible_models=True: %s columns %s are %s",
                             kind, ctx.kinds[kind], what)
        codes = _codes(ctx, info["estimators"])
        if self.dask is not None:
            self.dask.scatter(ctx)
        else:   # forked iterations inherit it; on Dask each iteration featurizes its rows
            from . import iteration
            ctx.encoded = iteration.encode(ctx)
            ctx.coded = iteration.encode(ctx, codes=True) if codes else None
        if codes:
            log.info("LightGBM may take the categorical columns as codes (its own splits on "
                     "sets of categories) or one-hot: searched, as %d of them have more "
                     "than %d categories (%s)", len(codes), catalog.CODES_LEVELS,
                     ", ".join(map(str, codes[:5])) + (", ..." if len(codes) > 5 else ""))
        s = self.spec
        self.slots = self.usable_slots()
        self.searcher = Searcher(ctx.task, info["estimators"], info["preprocessors"],
                                 self.metric.greater_is_better, s["random_state"],
                                 columns=_columns(ctx.X), features=_features(ctx),
                                 categories=bool(codes), rows=len(ctx.y))
        catalog.preload(ctx.task)
        wanted = _ensembles(s)
        if _onnx(s) and s["enable_ensembling"] and s.get("enable_stack_ensemble", True):
            log.info("StackEnsemble is not built: enable_onnx_compatible_models=True, and "
                     "skl2onnx cannot convert a stack over one input per column")
        ensembling = bool(wanted) and s["iterations"] > len(wanted)
        last = s["iterations"] - len(wanted) if ensembling else s["iterations"]
        n = self.search(ctx, last, start=0 if prior is None else self.resume(prior, ctx))
        if ensembling and len(self.completed) >= 2 and not self.hard_stopped and \
                self.stop_reason not in ("canceled", "scheduler_lost"):
            self.ensembles(ctx, n)
        elif ensembling and not self.stop_reason:  # nothing to ensemble: search on instead
            self.search(ctx, s["iterations"], start=n)
        if s.get("model_explainability") and self.completed and not self.hard_stopped and \
                self.stop_reason not in ("canceled", "scheduler_lost"):
            self.explain(ctx)
        status, error = Status.COMPLETED, None
        # A search that ended as nothing fit in its time left was ended by the budget.
        reason = self.stop_reason or ("experiment_timeout" if self.out_of_time
                                      else "iterations_done")
        if self.stop_reason == "canceled":
            status = Status.CANCELED
        elif self.stop_reason == "scheduler_lost":
            status = Status.FAILED
            error = (f"The Dask scheduler at {self.dask.address} was lost; the iterations that "
                     "finished before are kept.")
        elif not self.completed and self.first_failure is not None:
            n, why = self.first_failure
            status = Status.FAILED
            error = f"No iteration completed; the first failure was iteration {n}: {why}"
        elif not self.completed and reason == "experiment_timeout":
            status = Status.FAILED
            error = (f"experiment_timeout_minutes={s['experiment_timeout_minutes']} was reached "
                     "before any iteration completed.")
        self.emit(ev.RunFinished(status=status, error=error, best_score=self.best,
                                 reason=reason))

    def explain(self, ctx):
        """model_explainability: the best iteration's feature importance, in a tenth of
        the experiment's budget (30 s without one); a failure only says so."""
        from .explain import write
        n = max(self.completed, key=lambda c: c[2] * (1 if self.metric.greater_is_better
                                                      else -1))[0]
        cap = 0.1 * self.deadline_sec if self.deadline_sec else 30.0
        try:
            result = write(ctx, self.folder, n, cap)
            log.info("feature importance of iteration %d: %d column(s) in %.1f s", n,
                     len(result["features"]), result["seconds"])
        except Exception as exc:  # noqa: BLE001 - the run's results stand without it
            log.warning("feature importance of iteration %d failed: %s: %s", n,
                        type(exc).__name__, exc)

    def save_truth(self, ctx):
        """The labels every iteration's predictions.npz is scored against, once, so views
        can draw an iteration's errors (confusion matrix, ROC, residuals) from the folder."""
        import numpy as np
        try:
            np.savez(os.path.join(self.folder, TRUTH), y=ctx.y_eval,
                     classes=ctx.classes if ctx.classes is not None else np.empty(0))
        except OSError as exc:   # the charts go without; the run does not
            log.warning("could not save %s: %s", TRUTH, exc)

    def guardrails(self, ctx):
        """The data guardrails, each a warning event; a check that breaks only says so."""
        from .guardrails import check
        try:
            found = check(ctx.X, ctx.y, ctx.task, self.spec["preprocess"],
                          self.spec["random_state"])
        except Exception as exc:  # noqa: BLE001 - a guardrail must never fail the run
            log.warning("the data guardrails could not run: %s: %s", type(exc).__name__, exc)
            return
        for g in found:
            if g["status"] != "passed":
                log.info("guardrail %s: %s", g["status"], g["message"])
            self.emit(ev.Warning(message=g["message"], check=g["type"], columns=g["columns"],
                                 status=g["status"]))

    def prior(self):
        """The run so far when this driver continues it (continue_experiment), else None."""
        from ..protocol import EventReader, RunState
        events = EventReader(self.folder).read_new()
        if not events:
            return None
        state = RunState(self.spec)
        for e in events:
            state.apply(e)
        return state

    def resume(self, prior, ctx) -> int:
        """Learn from the iterations of the run so far: the searcher is told each proposal
        and score, and those whose predictions fit today's data join the ensembles (which
        are made again at the end, over all). Returns the next iteration's number."""
        from .. import catalog
        rows = len(ctx.y_eval)
        for n, rec in sorted(prior.iterations.items()):
            completed = rec.get("status") == Status.COMPLETED
            score = rec.get("score") if completed else None
            keys = catalog.keys_of(rec.get("pipeline"), ctx.task)
            if keys is None:   # an ensemble of the earlier part: its score still counts
                if score is not None and (self.best is None or self.metric.better(score, self.best)):
                    self.best = score
                continue
            self.searcher.warm(*keys, rec.get("params") or {}, score,
                               rec.get("duration") if completed else None)
            if score is None or score != score:
                continue
            if self.best is None or self.metric.better(score, self.best):
                self.best = score
            if _prediction_rows(iteration_dir(self.folder, n)) == rows:
                self.keep(n, score, keys[1])
                self.durations.append(rec.get("duration") or 0.0)
        start = max(prior.iterations, default=-1) + 1
        log.info("continuing the run at iteration %d: %d earlier iteration(s) completed and "
                 "fit today's data (ensemble members and the searcher's start)", start,
                 len(self.completed))
        return start

    def connect_dask(self) -> bool:
        """Reach the cluster; a run that cannot ends Failed, saying where it looked."""
        from .dask_exec import DaskExecutor
        target = self.spec["target"]
        try:
            self.dask = DaskExecutor(target, self.folder, self.spec["run_id"])
            log.info("Dask cluster: %s", self.dask.describe())
            return True
        except Exception as exc:  # noqa: BLE001 - any failure to connect ends the run
            self.emit(ev.RunFinished(status=Status.FAILED, reason="scheduler_unreachable",
                                     error=f"Cannot reach the Dask scheduler at "
                                           f"{target.get('address')}: {type(exc).__name__}: {exc}"))
            return False

    def fail(self, exc):
        """The driver itself failed: end every running iteration and the run, saying why."""
        why = f"{type(exc).__name__}: {exc}"
        reason = f"the driver failed ({why})"
        for n, (w, (name, params, _)) in list(self.running.items()):
            w.kill(Status.FAILED, reason)
            try:
                duration = w.reap()["duration"]
            except Exception:  # noqa: BLE001 - the run's end must still be written
                duration = None
            self.emit(ev.IterationFinished(iteration=n, pipeline=name, params=params,
                                           status=Status.FAILED, duration=duration,
                                           reason=reason))
        self.emit(ev.RunFinished(status=Status.FAILED, error=why, best_score=self.best,
                                 reason="driver_error"))


def _setup_logging(folder, spec):
    level = spec.get("verbosity", logging.INFO)
    handlers = [logging.StreamHandler(sys.stdout)]
    if spec.get("debug_log"):
        handlers.append(logging.FileHandler(os.path.join(folder, os.path.basename(
            spec["debug_log"]))))
    logging.basicConfig(level=level, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _limit_threads(spec):
    """Cap BLAS/OpenMP pools before numpy loads: a forked iteration otherwise rebuilds a
    pool of busy-waiting threads on its first threadpoolctl limit (~60 ms an iteration)."""
    cores = spec.get("max_cores_per_iteration")
    if isinstance(cores, int) and cores > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(cores))

def _prediction_rows(folder) -> int | None:
    import numpy as np  # here: the driver's starter stays light
    try:
        with np.load(os.path.join(folder, PREDICTIONS), allow_pickle=True) as f:
            return len(f["pred"])
    except (OSError, KeyError, ValueError):
        return None


def _ensembles(spec) -> list[str]:
    """The ensembles the run ends with: enable_ensembling, and the later SDK's switches
    for each (a spec written before they existed has neither: both)."""
    if not spec["enable_ensembling"]:
        return []
    return [name for name, key in (("VotingEnsemble", "enable_voting_ensemble"),
                                   ("StackEnsemble", "enable_stack_ensemble"))
            if spec.get(key, True) and not (name == "StackEnsemble" and _onnx(spec))]


def _onnx(spec) -> bool:
    # skl2onnx converts a stack only over a single input tensor, not one per raw column
    return bool(spec.get("enable_onnx_compatible_models"))


def _codes(ctx, estimators) -> list:
    """The categorical columns that make codes a choice for the search (catalog.CATEGORIES):
    with our own featurization, for a family that takes them, those of more than
    catalog.CODES_LEVELS categories. On fewer LightGBM splits codes one category against
    the rest, as on one-hot columns: the choice would change nothing but cost iterations
    (titanic and uk_vote, two and three levels, lost 0.0035 and 0.0027 paired by it)."""
    from .. import catalog
    if not ctx.kinds or ctx.onnx or not any(
            catalog.CATEGORIES in catalog.estimators(ctx.task)[e].space for e in estimators):
        return []
    X = ctx.X
    return [c for c in ctx.kinds["categorical"]
            if (X.iloc[:, c] if isinstance(c, int) else X[c]).nunique() > catalog.CODES_LEVELS]


def _features(ctx):
    """The columns the models are fitted on: featurized, where the driver did that;
    None where each iteration featurizes its own rows (on Dask)."""
    if ctx.encoded is not None:
        return ctx.encoded.final[1].shape[1]
    return None if ctx.kinds is not None else _columns(ctx.X)


def _columns(X):
    """The table's columns as given (before encoding); None if not a table."""
    shape = getattr(X, "shape", None)
    return shape[1] if shape is not None and len(shape) == 2 else None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = os.path.abspath(argv[0])
    if "--detach" in argv:
        # Double fork: the starter waits only for the middle process, which records the
        # driver's pid and exits; the driver is then nobody's child and leaves no zombie.
        pid = os.fork()
        if pid:
            liveness.record(folder, pid)
            os._exit(0)
    else:
        liveness.record(folder, os.getpid())
    _limit_threads(read_json(os.path.join(folder, SPEC)))
    driver = Driver(folder)
    _setup_logging(folder, driver.spec)

    def on_term(signum, frame):  # SIGTERM = cancel the run, cleanly
        driver.cancel = True
    signal.signal(signal.SIGTERM, on_term)
    try:
        driver.run()
    except BaseException as exc:
        log.exception("the driver failed")
        driver.fail(exc)
        raise
    finally:
        if driver.dask is not None:
            driver.dask.close()


if __name__ == "__main__":
    main()
