"""Run (AutoMLRun): the kernel-side view of one run, kept in sync with its run folder.

A background thread tails events.jsonl while the run is live and sets the traits
(status, iterations, best); widgets observe those traits and never read files.
A finished run is read once and needs no thread.
"""
from __future__ import annotations

import os
import threading
import time

import traitlets

from .. import metrics
from ..protocol import (
    CANCEL_RUN,
    CONTROL,
    DRIVER_LOG,
    IMPORTANCE,
    INLINE_DATA,
    LOG,
    MODEL,
    PREDICTIONS,
    REMOTE,
    SPEC,
    TRUTH,
    EventReader,
    RunState,
    Status,
    cancel_iteration_request,
    iteration_dir,
    read_from,
    read_json,
    request,
    requests,
    write_json,
)
from . import console

SYNC_INTERVAL = 0.1   # seconds between looks at events.jsonl
LIVENESS_INTERVAL = 2.0


class Run(traitlets.HasTraits):
    status = traitlets.Unicode(Status.NOT_STARTED)
    iterations = traitlets.List()        # one dict per iteration, by iteration number
    best = traitlets.Dict(default_value=None, allow_none=True)  # the best iteration, or None
    error = traitlets.Unicode(None, allow_none=True)
    link = traitlets.Unicode("")         # remote targets: the state of the link
    log_sizes = traitlets.Dict()         # {iteration: bytes in its log.txt}, so views can tail

    def __init__(self, experiment, run_id, target=None):
        super().__init__()
        self.experiment, self.id = experiment, run_id
        self.folder = experiment.workspace.run_folder(run_id)
        if not os.path.isfile(os.path.join(self.folder, SPEC)):
            raise KeyError(f"No run {run_id!r} in {experiment!r} (no {self.folder}).")
        self.spec = read_json(os.path.join(self.folder, SPEC))
        if target is None:
            from ..compute import target_for
            target = target_for(experiment.workspace, self.spec["target"])
        self.target = target
        # Remote targets: made here without connecting (liveness then comes from the mirror,
        # never a blocking probe), used by the sync thread alone.
        try:
            self._mirror = target.mirror(self.folder)
        except FileNotFoundError:   # no remote.json: the driver was never started there
            self._mirror = None
        self.state = RunState(self.spec)
        self._reader = EventReader(self.folder)
        self._changed = threading.Condition(threading.RLock())
        self._stop = threading.Event()
        self._thread = None
        self._last_alive_check = 0.0
        self._final_sizes = set()   # iterations whose log has its final size in log_sizes
        self._guessed = False       # the status is our guess (the driver vanished)
        self.refresh()
        if not self.state.finished:
            self._thread = threading.Thread(target=self._sync, name=f"sync-{run_id}", daemon=True)
            self._thread.start()

    def __repr__(self):
        return f"Run(id={self.id!r}, experiment={self.experiment.name!r}, status={self.status!r})"

    # ---- keeping up with the run folder ----------------------------------------------
    def refresh(self) -> bool:
        """Apply new events (and notice a dead driver); True if anything changed."""
        with self._changed:  # waiters see state and traits change together
            events = self._reader.read_new()
            for e in events:
                self.state.apply(e)
            changed = bool(events)
            if self.spec.get("continued"):
                self.state.spec = dict(self.state.spec, continued=self.spec["continued"])
                was = self.state.finished
                self.state.reopen()
                changed |= was and not self.state.finished
            if self.state.spec.get("iterations") != self.spec.get("iterations"):
                self.spec = dict(self.spec, iterations=self.state.spec["iterations"])
            if not self.state.finished and \
                    time.monotonic() - self._last_alive_check > LIVENESS_INTERVAL:
                self._last_alive_check = time.monotonic()
                alive = (self._mirror.alive if self._mirror is not None
                         else self.target.driver_alive(self.folder))
                if not alive:
                    changed |= self._driver_gone()
            if self._mirror is not None and self.link != self._mirror.link:
                self.link = self._mirror.link
            if changed:
                self._publish()
            self._update_log_sizes()
            return changed

    def _update_log_sizes(self):
        """Stat the logs of running iterations (and of each once more as it ends)."""
        changes = {}
        for n, rec in self.state.iterations.items():
            if n in self._final_sizes:
                continue
            try:
                size = os.stat(os.path.join(iteration_dir(self.folder, n), LOG)).st_size
            except OSError:
                continue
            if rec.get("status") != Status.RUNNING:
                self._final_sizes.add(n)
            if self.log_sizes.get(n) != size:
                changes[n] = size
        if changes:
            self.log_sizes = {**self.log_sizes, **changes}

    def _wake_if_continued(self):
        """A finished run is followed no more; if its events grew (continue_experiment from
        another process), follow it again. One stat."""
        if not self.state.finished or (self._thread is not None and self._thread.is_alive()):
            return
        try:
            grown = os.stat(self._reader.path).st_size > self._reader.offset
        except OSError:
            return
        if grown:
            self.refresh()
            if not self.state.finished:
                self._follow()

    def _driver_gone(self) -> bool:
        events = self._reader.read_new()  # it may have finished just now
        for e in events:
            self.state.apply(e)
        if self.state.finished:
            return True
        # A reader's conclusion, not the driver's word: shown, never written to the index.
        self.state.end(Status.FAILED, "The driver process ended without finishing the run; "
                       f"see {os.path.join(self.folder, DRIVER_LOG)}.", "driver_lost")
        self._guessed = True
        return True

    def _publish(self):
        s = self.state
        with self.hold_trait_notifications():
            self.iterations = [dict(s.iterations[n]) for n in sorted(s.iterations)]
            self.best = dict(s.iterations[s.best]) if s.best is not None else None
            self.error = s.error
            self.status = s.status
        if s.finished and not self._guessed:
            self.experiment.workspace.record_status(self.id, s.status)
        with self._changed:
            self._changed.notify_all()

    def _sync(self):
        try:
            while not self._stop.is_set() and not self.state.finished:
                try:
                    if self._mirror is not None:
                        self._mirror.pull()
                    self.refresh()
                except Exception:  # a bad read must not kill the thread; try again next tick
                    pass
                self._stop.wait(SYNC_INTERVAL)
        finally:
            if self._mirror is not None:
                self._mirror.close()

    def wait_until(self, predicate, timeout=None) -> bool:
        """Block until predicate(run) holds (checked at every change) or timeout passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                if self.state.finished and not (self._thread and self._thread.is_alive()):
                    return predicate(self)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(0.5 if left is None else min(left, 0.5))
                if self._thread is None or not self._thread.is_alive():
                    self.refresh()
        return True

    def close(self):
        self._stop.set()

    def snapshot(self) -> dict:
        """A consistent copy of what is known of the run, safe to use from any thread."""
        self._wake_if_continued()
        with self._changed:
            s = self.state
            return {"status": s.status, "finished": s.finished, "error": s.error,
                    "stop_reason": s.stop_reason, "warnings": [dict(w) for w in s.warnings],
                    "iterations": [dict(s.iterations[n]) for n in sorted(s.iterations)],
                    "best": s.best, "done": s.done, "last_seq": s.last_seq,
                    "start_time": s.start_time, "end_time": s.end_time,
                    "elapsed": s.elapsed(), "data": dict(s.data_info),
                    "link": self.link or None, "log_sizes": dict(self.log_sizes)}

    # ---- the classic API -------------------------------------------------------------
    def get_status(self) -> str:
        return self.status

    def get_details(self) -> dict:
        s = self.state
        return {"runId": self.id, "displayName": self.spec.get("name"),
                "experiment": self.experiment.name, "status": s.status,
                "target": self.spec["target"]["name"], "startTimeUtc": _iso(s.start_time),
                "endTimeUtc": _iso(s.end_time), "error": s.error, "stopReason": s.stop_reason,
                "warnings": [w for w in s.warnings if w.get("status", "warning") != "passed"],
                "data": dict(s.data_info),
                "properties": {k: self.spec[k] for k in (
                    "task", "primary_metric", "iterations", "max_time_sec",
                    "concurrent_iterations", "random_state", "preprocess")},
                "logFiles": {"driver": os.path.join(self.folder, DRIVER_LOG)},
                "remoteFolder": self._remote_folder(), "link": self.link or None}

    def _remote_folder(self):
        path = os.path.join(self.folder, REMOTE)
        return read_json(path)["folder"] if os.path.exists(path) else None

    def get_children(self) -> list[ChildRun]:
        return [ChildRun(self, n) for n in sorted(self.state.iterations)]

    def get_metrics(self) -> dict:
        """{iteration: {metric: value}} of every finished iteration."""
        return {n: dict(r.get("metrics") or {}) for n, r in sorted(self.state.iterations.items())
                if r.get("metrics")}

    def get_output(self, metric=None, iteration=None, return_onnx_model=False):
        """(best child run, fitted Pipeline); by `metric`, or a given `iteration`.

        return_onnx_model=True: (child run, onnx.ModelProto) instead, for a run with
        enable_onnx_compatible_models=True (needs the [onnx] extra); feed it with
        automl_widgets.onnx_inputs(model, X)."""
        import numpy as np
        if not isinstance(return_onnx_model, (bool, np.bool_)):
            raise ValueError(f"return_onnx_model must be a bool; got {return_onnx_model!r}.")
        if return_onnx_model:
            from .onnx_export import _import
            _import()   # the missing extra said before anything loads
        self.refresh()
        if iteration is None:
            iteration = self._best_by(metric or self.spec["primary_metric"])
        elif iteration not in self.state.iterations:
            raise ValueError(f"No iteration {iteration} in run {self.id}; it has "
                             f"{sorted(self.state.iterations)}.")
        child = ChildRun(self, iteration)
        if return_onnx_model:
            from .onnx_export import convert
            return child, convert(child.load_model())
        return child, child.load_model()

    def _best_by(self, name):
        task_metrics = metrics.names(self.spec["task"])
        if name not in task_metrics:
            raise ValueError(f"{name!r} is not a {self.spec['task']} metric; valid: "
                             f"{', '.join(task_metrics)}.")
        m = metrics.get(name)
        best = None
        for n, r in self.state.iterations.items():
            v = (r.get("metrics") or {}).get(name)
            if r.get("status") == Status.COMPLETED and v is not None and (
                    best is None or m.better(v, self.state.iterations[best]["metrics"][name])):
                best = n
        if best is None:
            raise RuntimeError(f"Run {self.id} has no completed iteration yet "
                               f"(status {self.status}).")
        return best

    def cancel(self):
        """Stop scheduling and end the running iterations; recorded results stay."""
        if self.state.finished:
            return
        request(self.folder, CANCEL_RUN)
        self.state.status = Status.CANCEL_REQUESTED
        self.status = Status.CANCEL_REQUESTED

    def cancel_iteration(self, iteration: int):
        n_max = self.spec["iterations"]
        if isinstance(iteration, bool) or not isinstance(iteration, int) or not 0 <= iteration < n_max:
            raise ValueError(f"iteration must be an int in [0, {n_max - 1}]; got {iteration!r}.")
        request(self.folder, cancel_iteration_request(iteration))

    def continue_experiment(self, iterations, experiment_timeout_minutes=None, X=None, y=None):
        """Go on with a finished or canceled run: `iterations` more, numbered after the last
        one, the searcher warm-started from every recorded proposal and score, and the
        ensembles made again at the end over all iterations. Optionally on new data (X and
        y; the earlier iterations then still teach the searcher, but only the new ones
        make the ensembles). The run is Running again and every view follows it."""
        from ..config import INLINE, INT, PARAMETERS, Interval, _check
        from ..datacheck import ConfigError, validate
        owner = "continue_experiment"
        _check(owner, "iterations", iterations, [Interval(INT, 1, 1000)])
        _check(owner, "experiment_timeout_minutes", experiment_timeout_minutes,
               PARAMETERS["experiment_timeout_minutes"][1])
        if not self.state.finished:
            raise ConfigError(f"Run {self.id} is {self.status}: only a finished or canceled run "
                              "can be continued (wait_for_completion() first).")
        if self._mirror is not None:
            raise ConfigError(f"Run {self.id} ran on the SSH target "
                              f"{self.spec['target']['name']!r}: continue_experiment works for "
                              "runs on this machine and on Dask clusters (a remote run folder "
                              "is not written from here). Submit a new run instead.")
        if (X is None) != (y is None):
            raise ConfigError("continue_experiment: give both 'X' and 'y', or neither.")
        spec = read_json(os.path.join(self.folder, SPEC))
        if X is not None:
            data = {"task": spec["task"], "X": X, "y": y, "preprocess": spec["preprocess"],
                    "primary_metric": spec["primary_metric"],
                    "positive_label": spec.get("positive_label")}
            validate(data, source=owner)
            import joblib
            joblib.dump({k: data.get(k) for k in INLINE},
                        os.path.join(self.folder, INLINE_DATA))
            spec.update(data={"kind": "inline"}, data_script=None, cv_splits=False)
        done = max(self.state.iterations, default=-1) + 1
        if experiment_timeout_minutes == float("inf"):
            experiment_timeout_minutes = None
        spec.update(iterations=done + iterations,
                    experiment_timeout_minutes=experiment_timeout_minutes,
                    continued=list(spec.get("continued") or []) + [
                        {"time": time.time(), "from": done, "iterations": iterations}])
        for name in requests(self.folder):   # the old cancel must not stop the new driver
            os.remove(os.path.join(self.folder, CONTROL, name))
        write_json(os.path.join(self.folder, SPEC), spec)
        self.spec = dict(self.spec, **{k: spec[k] for k in (
            "iterations", "experiment_timeout_minutes", "continued")})
        self.state.spec = dict(self.state.spec, **self.spec)
        self._last_alive_check = time.monotonic()   # the new driver needs a moment to start
        self.experiment.workspace.record_status(self.id, Status.NOT_STARTED)
        self.target.start(self.folder)
        self._guessed = False
        self._follow()
        return self

    def _follow(self):
        """Start following the run folder again (a continued run)."""
        self._stop.clear()
        self.refresh()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._sync, name=f"sync-{self.id}",
                                            daemon=True)
            self._thread.start()

    def register_model(self, model_name, description=None, tags=None, iteration=None):
        """Register the best iteration's Pipeline (or `iteration`'s) in the workspace's
        model registry as the next version of `model_name`; returns the Model."""
        from .models import register
        return register(self, model_name, description, tags, iteration)

    def get_leaderboard(self):
        """A pandas DataFrame, one row per iteration, best first by the primary metric (in
        its direction; iterations without a score last): iteration, pipeline, family,
        status, start, duration, every computed metric, and an ensemble's members and
        weights."""
        import pandas as pd

        from ..catalog import family_of
        with self._changed:
            records = [dict(self.state.iterations[n]) for n in sorted(self.state.iterations)]
        names = metrics.computed([r for r in records if r.get("status") == Status.COMPLETED],
                                 self.spec["primary_metric"])
        rows = []
        for r in records:
            params = r.get("params") or {}
            members = params.get("ensembled_iterations") or params.get("stacked_iterations")
            row = {"iteration": r["iteration"], "pipeline": r.get("pipeline"),
                   "family": family_of(r.get("pipeline")), "status": str(r.get("status")),
                   "start": pd.to_datetime(r["start_time"], unit="s", utc=True)
                   if r.get("start_time") else pd.NaT,
                   "duration": r.get("duration")}
            row.update({m: (r.get("metrics") or {}).get(m) for m in names})
            row["members"] = members
            row["weights"] = params.get("weights") if members else None
            rows.append(row)
        columns = ["iteration", "pipeline", "family", "status", "start", "duration", *names,
                   "members", "weights"]
        board = pd.DataFrame(rows, columns=columns)
        primary = self.spec["primary_metric"]
        board[names] = board[names].astype(float)
        return board.sort_values(primary, ascending=not self.state.greater_is_better,
                                 na_position="last", kind="stable").reset_index(drop=True)

    def get_guardrails(self) -> list[dict]:
        """The data guardrails the target ran when the data loaded: each a dict with type,
        status (passed, warning or fixed), message and columns."""
        with self._changed:
            return [{"type": w.get("check"), "status": w.get("status", "warning"),
                     "message": w["message"], "columns": w.get("columns")}
                    for w in self.state.warnings if w.get("check")]

    def cancel_requests(self) -> set[int]:
        """Iterations whose cancel was asked (by any process) and not yet acted on."""
        prefix = cancel_iteration_request(0)[:-1]
        return {int(name[len(prefix):]) for name in requests(self.folder)
                if name.startswith(prefix) and name[len(prefix):].isdigit()}

    def wait_for_completion(self, show_output=False, wait_post_processing=False, timeout=None):
        """Block until the run has ended or `timeout` seconds have passed (the run goes
        on); return its details either way, as the classic SDK does."""
        if show_output:
            self._print_table(timeout)
        else:
            self.wait_until(lambda r: r.state.finished, timeout)
        return self.get_details()

    def _print_table(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        print(console.intro(self.id, self.spec["target"]["name"]), flush=True)
        # The data guardrails come before the table: they are in once the data has loaded.
        self.wait_until(lambda r: r.state.data_info or r.state.finished
                        or r.state.finished_order, timeout)
        block = console.guardrail_lines(self.get_guardrails())
        if block:
            print(block, flush=True)
        print(console.legend(self.spec["primary_metric"]), flush=True)
        shown = 0
        def more(run):
            return run.state.finished or len(run.state.finished_order) > shown
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            arrived = self.wait_until(more, left)
            with self._changed:   # a consistent copy while the sync thread goes on
                order = list(self.state.finished_order)
                best = self.state.best_so_far(order)
                rows = [dict(self.state.iterations[n]) for n in order[shown:]]
                finished = self.state.finished
            for i, rec in enumerate(rows, start=shown):
                print(console.row(rec, best[i]), flush=True)
            shown = len(order)
            if finished:
                break
            if not arrived:
                print(f"Stopped waiting after {timeout} s; run {self.id} goes on "
                      f"({self.status}).", flush=True)
                return
        if self.state.error:
            print(f"Run {self.status}: {self.state.error}", flush=True)


AutoMLRun = Run


class ChildRun:
    """One iteration, named <parent run id>_<n> like the classic child runs."""

    def __init__(self, parent: Run, number: int):
        self.parent, self.number = parent, number
        self.id = f"{parent.id}_{number}"
        self.folder = iteration_dir(parent.folder, number)

    def __repr__(self):
        return f"ChildRun(id={self.id!r}, status={self.get_status()!r})"

    @property
    def record(self) -> dict:
        return self.parent.state.iterations.get(self.number, {"status": Status.NOT_STARTED})

    def get_status(self) -> str:
        return self.record.get("status", Status.NOT_STARTED)

    def get_metrics(self) -> dict:
        return dict(self.record.get("metrics") or {})

    def get_properties(self) -> dict:
        r = self.record
        return {"iteration": self.number, "pipeline": r.get("pipeline"),
                "params": r.get("params"), "duration": r.get("duration"),
                "reason": r.get("reason"), "run_id": self.id,
                "worker": r.get("worker")}

    def get_log(self) -> str:
        return self.read_log()[0]

    def read_log(self, offset: int = 0) -> tuple[str, int]:
        """The log from byte `offset` on, and the offset to read from next time; a
        partial UTF-8 character at the end waits for the next read."""
        data, _ = read_from(os.path.join(self.folder, LOG), offset)
        cut = len(data)
        while cut > 0 and cut > len(data) - 4 and data[cut - 1] & 0xC0 == 0x80:
            cut -= 1   # step back over continuation bytes to the lead byte ...
        if cut > 0 and data[cut - 1] >= 0xC0:
            lead = data[cut - 1]
            need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            cut = cut - 1 if len(data) - (cut - 1) < need else len(data)  # ... whole or not
        else:
            cut = len(data)
        return data[:cut].decode("utf-8", errors="replace"), offset + cut

    def get_predictions(self) -> dict:
        """The iteration's held-out predictions and the labels they are scored against:
        {"y_true", "y_pred", "proba" (None for regression), "classes"}. A remote run's
        files are copied here first."""
        import numpy as np
        files = [os.path.join(self.parent.folder, TRUTH), os.path.join(self.folder, PREDICTIONS)]
        if self.get_status() != Status.COMPLETED:
            raise RuntimeError(f"Iteration {self.number} has no predictions (status "
                               f"{self.get_status()}).")
        missing = [p for p in files if not os.path.exists(p)]
        if missing:
            mirror = self.parent.target.mirror(self.parent.folder)
            if mirror is not None:
                try:
                    for p in missing:
                        mirror.fetch(os.path.relpath(p, self.parent.folder))
                finally:
                    mirror.close()
        with np.load(files[0], allow_pickle=True) as truth, \
                np.load(files[1], allow_pickle=True) as pred:
            proba = pred["proba"]
            return {"y_true": truth["y"], "y_pred": pred["pred"],
                    "proba": proba if proba.size else None,
                    "classes": truth["classes"] if truth["classes"].size else None}

    def get_feature_importance(self, max_seconds=60):
        """A DataFrame of feature, importance and std: how much the primary metric drops
        on held-out rows when each of your input columns is shuffled, best first. Ready if
        the run had model_explainability=True (for its best iteration) or it was asked
        before; else computed now as a job on the run's target, in at most max_seconds."""
        import pandas as pd

        from ..config import TIME_LIMIT, _check
        _check("get_feature_importance", "max_seconds", max_seconds, [TIME_LIMIT])
        if self.get_status() != Status.COMPLETED:
            raise RuntimeError(f"Iteration {self.number} has no model (status "
                               f"{self.get_status()}).")
        path = os.path.join(self.folder, IMPORTANCE)
        if not os.path.exists(path):
            self.parent.target.explain(self.parent.folder, self.number,
                                       float(min(max_seconds, 3600)))
        data = read_json(path)
        board = pd.DataFrame(data["features"], columns=["feature", "importance", "std"])
        board.attrs.update({k: data.get(k) for k in ("metric", "note", "complete", "rows")})
        return board

    def load_model(self):
        path = os.path.join(self.folder, MODEL)
        if self.get_status() == Status.COMPLETED and not os.path.exists(path):
            mirror = self.parent.target.mirror(self.parent.folder)  # its own connection
            if mirror is not None:
                try:
                    mirror.fetch(os.path.relpath(path, self.parent.folder))
                finally:
                    mirror.close()
        if self.get_status() != Status.COMPLETED or not os.path.exists(path):
            raise RuntimeError(f"Iteration {self.number} has no model (status "
                               f"{self.get_status()}).")
        import joblib
        return joblib.load(path)


def _iso(t):
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
