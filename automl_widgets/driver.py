"""The experiment loop on the target: the only writer of a run folder.

    python -m automl_widgets.driver RUN_FOLDER [--detach]

Loads the data once, then keeps up to concurrent_iterations forked iteration processes
busy with the searcher's proposals, within the budgets; acts on control/ requests; ends
with the ensembles. Detached (its own session), it outlives whoever started it.
"""
from __future__ import annotations

import logging
import os
import selectors
import signal
import sys
import time

from .runfolder import (CANCELED, COMPLETED, CONTROL, DRIVER_PID, FAILED, SPEC, TIMED_OUT,
                        EventWriter, iteration_dir, read_json)

POLL = 0.05  # seconds between looks at control/ while iterations run

log = logging.getLogger("automl_widgets.driver")


class Driver:
    def __init__(self, folder):
        from . import metrics
        self.folder = folder
        self.spec = read_json(os.path.join(folder, SPEC))
        self.metric = metrics.get(self.spec["primary_metric"])
        self.events = EventWriter(folder)
        self.running = {}          # n -> (Worker, proposal)
        self.completed = []        # (n, folder, score) of iterations with predictions
        self.best = None
        self.since_best = 0
        self.cancel = False
        self.stop_reason = None
        self.selector = selectors.DefaultSelector()

    # ---- control ---------------------------------------------------------------------
    def _requests(self) -> set[str]:
        try:
            return set(os.listdir(os.path.join(self.folder, CONTROL)))
        except FileNotFoundError:
            return set()

    def check_control(self):
        requests = self._requests()
        if ("cancel_run" in requests or self.cancel) and self.stop_reason != "canceled":
            self.stop_reason, self.cancel = "canceled", True
            self.events.emit("cancel_requested")
            for worker, _ in self.running.values():
                worker.kill(CANCELED, "the run was canceled")
        for n, (worker, _) in self.running.items():
            if f"cancel_iteration.{n}" in requests:
                worker.kill(CANCELED, "canceled on request")
            elif time.monotonic() - worker.started > self.spec["max_time_sec"]:
                worker.kill(TIMED_OUT, f"exceeded max_time_sec={self.spec['max_time_sec']}")
        deadline = self.spec["experiment_timeout_minutes"]
        if deadline and not self.stop_reason and time.monotonic() - self.t0 > deadline * 60:
            self.stop_reason = "experiment_timeout"
            for worker, _ in self.running.values():
                worker.kill(CANCELED, "experiment_timeout_minutes reached")
        return requests

    # ---- iterations ------------------------------------------------------------------
    def launch(self, n, name, params, job, proposal=None):
        from . import worker
        self.events.emit("iteration_started", iteration=n, pipeline=name, params=params,
                         run_id=f"{self.spec['run_id']}_{n}")
        cores = self.spec["max_cores_per_iteration"]
        w = worker.start(n, iteration_dir(self.folder, n), job,
                         None if cores == -1 else cores)
        self.running[n] = (w, (name, params, proposal))
        self.selector.register(w, selectors.EVENT_READ, n)

    def reap(self, n):
        w, (name, params, proposal) = self.running.pop(n)
        self.selector.unregister(w)
        result = w.reap()
        score = result.get("score") if result["status"] == COMPLETED else None
        if proposal is not None:
            self.searcher.tell(proposal, score)
        params = result.get("params", params)
        self.events.emit("iteration_finished", iteration=n, pipeline=name, params=params,
                         status=result["status"], duration=result["duration"],
                         metrics=result.get("metrics", {}), reason=result.get("reason"))
        log.info("iteration %d %s %s %s", n, name, result["status"], score)
        if score is not None and score == score:
            self.completed.append((n, iteration_dir(self.folder, n), score))
            if self.best is None or self.metric.better(score, self.best):
                self.best, self.since_best = score, 0
                return
        self.since_best += 1

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
            requests = self.check_control()
            self.check_budgets()
            while not self.stop_reason and len(self.running) < self.spec["concurrent_iterations"] \
                    and n < last:
                if f"cancel_iteration.{n}" in requests:  # canceled before it began
                    self.events.emit("iteration_finished", iteration=n, pipeline="",
                                     status=CANCELED, duration=0, metrics={},
                                     reason="canceled before it started")
                else:
                    p = self.searcher.ask()
                    self.launch(n, p.name(ctx.task), p.params,
                                lambda p=p, n=n: iteration.run(ctx, p, iteration_dir(self.folder, n)),
                                proposal=p)
                n += 1
            if not self.running and (self.stop_reason or n >= last):
                return n
            self.wait_any()

    def ensembles(self, ctx, n):
        from . import ensemble
        jobs = [("VotingEnsemble", lambda d: ensemble.voting(
                    ctx, self.completed, self.spec["ensemble_iterations"], d)),
                ("StackEnsemble", lambda d: ensemble.stacking(ctx, self.completed, d))]
        for name, job in jobs:
            if self.stop_reason in ("canceled", "experiment_timeout"):
                return
            d = iteration_dir(self.folder, n)
            self.launch(n, name, {}, lambda job=job, d=d: job(d))
            while n in self.running:
                self.check_control()
                self.wait_any()
            n += 1

    # ---- the whole run ---------------------------------------------------------------
    def run(self):
        from . import catalog
        from .prepare import prepare
        from .search import Searcher
        self.t0 = time.monotonic()
        self.events.emit("run_started", pid=os.getpid(), host=os.uname().nodename)
        try:
            ctx, info = prepare(self.spec, self.folder)
        except Exception as exc:  # data script problems end the run with their message
            log.exception("preparing the data failed")
            self.events.emit("run_finished", status=FAILED, error=f"{exc}",
                             reason="data_error")
            return
        self.events.emit("data_loaded", **info)
        s = self.spec
        self.searcher = Searcher(ctx.task, info["estimators"], info["preprocessors"],
                                 self.metric.greater_is_better, s["random_state"])
        catalog.preload(ctx.task)
        ensembling = s["enable_ensembling"] and s["iterations"] >= 3
        last = s["iterations"] - 2 if ensembling else s["iterations"]
        n = self.search(ctx, last)
        if ensembling and len(self.completed) >= 2:
            self.ensembles(ctx, n)
        elif ensembling and not self.stop_reason:  # nothing to ensemble: search on instead
            self.search(ctx, s["iterations"], start=n)
        status = CANCELED if self.stop_reason == "canceled" else COMPLETED
        self.events.emit("run_finished", status=status, reason=self.stop_reason or
                         "iterations_done", best_score=self.best)


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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = os.path.abspath(argv[0])
    if "--detach" in argv:
        # Double fork: the starter waits only for the middle process, which records the
        # driver's pid and exits; the driver is then nobody's child and leaves no zombie.
        pid = os.fork()
        if pid:
            with open(os.path.join(folder, DRIVER_PID), "w") as f:
                f.write(str(pid))
            os._exit(0)
    else:
        with open(os.path.join(folder, DRIVER_PID), "w") as f:
            f.write(str(os.getpid()))
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
        for w, _ in driver.running.values():
            w.kill(FAILED, "the driver failed")
            w.reap()
        driver.events.emit("run_finished", status=FAILED, error=f"{type(exc).__name__}: {exc}",
                           reason="driver_error")
        raise


if __name__ == "__main__":
    main()
