"""Orchestration cost of the engine on the local target.

    .venv/bin/python benchmarks/overhead.py [--iterations N] [--parallel-iterations M]
        [--repeat R] [--json out.json] [--wait-quiet SECONDS] [--keep]

Runs in a temporary workspace, submitted through the public API (Workspace.create,
Experiment.submit, Run.wait_for_completion), then figures read back from the run folder:
events.jsonl plus the timestamps of files the iteration processes write. The replays that
give the reference figures use the engine's own modules (prepare, iteration, worker).

1. Per iteration: N trivial pipelines (200x5 rows, LogisticRegression, 2 folds), one at a
   time. How long a slot stays empty between one iteration and the next, split into its
   parts, and how much longer a pipeline takes in a forked iteration process than the same
   pipeline in a warm process.
2. Parallel efficiency, R times: M CPU-bound pipelines (kNN on 12000x20, 2 folds) with
   concurrent_iterations=2, against an ideal computed from exactly the same pipelines
   re-run one at a time through the driver's own fork path (automl_widgets.engine.worker.start),
   and against the same pipelines run two at a time with no driver at all.

What every figure means, and why the ideal is defined the way it is: docs/benchmarks.md.
Data comes only from scikit-learn's generators; nothing touches the network.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import resource
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # run from a checkout without installing

# The replays below stand in for the driver, so they load BLAS the way the driver does for
# max_cores_per_iteration=1 (driver._limit_threads), before numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from automl_widgets import AutoMLConfig, Experiment, Workspace  # noqa: E402

TARGET_OVERHEAD_MS = 50.0
TARGET_PARALLEL_RATIO = 1.15
SEED = 0


# ---- small helpers -----------------------------------------------------------------------

def median(values):
    return statistics.median(values) if values else float("nan")


def p90(values):
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def cpu_jiffies():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def busy_percent(before, after):
    """Machine-wide CPU use between two cpu_jiffies() samples, in % of one core."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return 100.0 * busy / total * os.cpu_count() if total else float("nan")


def own_cpu():
    """CPU seconds of this process and of its children that have been waited for."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def process_cpu(pid):
    """CPU seconds of a process and of its waited-for children (the driver reaps its
    iterations, so they count), from /proc/<pid>/stat; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rpartition(")")[2].split()
    except (OSError, ValueError):
        return None
    return sum(int(x) for x in rest[11:15]) / os.sysconf("SC_CLK_TCK")


class CpuWatch:
    """Machine-wide CPU use over a stretch of time, split into this benchmark's own
    processes (this one, its children, a followed driver and its iterations) and the rest,
    so that a figure taken while something else ran on the machine is flagged as such."""

    def __init__(self):
        self.t0, self.machine0, self.own0 = time.monotonic(), cpu_jiffies(), own_cpu()
        self.driver_cpu, self._stop = 0.0, threading.Event()
        self._thread = None

    def follow(self, pid):
        """Poll the (detached, not our child) driver's CPU time until it exits."""
        def poll():
            while not self._stop.is_set():
                cpu = process_cpu(pid)
                if cpu is None:
                    return
                self.driver_cpu = cpu
                self._stop.wait(0.02)
        if pid:
            self._thread = threading.Thread(target=poll, daemon=True)
            self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        if self._thread:
            self._thread.join()
        seconds = time.monotonic() - self.t0
        machine = busy_percent(self.machine0, cpu_jiffies())
        own = 100.0 * (own_cpu() - self.own0 + self.driver_cpu) / seconds
        return {"seconds": seconds, "machine": machine, "own": own,
                "others": max(0.0, machine - own)}


def wait_quiet(limit, threshold=10.0, needed=3):
    """Wait (at most `limit` seconds) until the machine has been idle for `needed`
    seconds in a row; True if it was."""
    end, calm = time.monotonic() + limit, 0
    while time.monotonic() < end:
        before = cpu_jiffies()
        time.sleep(1.0)
        calm = calm + 1 if busy_percent(before, cpu_jiffies()) < threshold else 0
        if calm >= needed:
            return True
    return limit <= 0


def read_events(folder):
    with open(os.path.join(folder, "events.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def by_iteration(events, kind):
    return {e["iteration"]: e for e in events if e["event"] == kind}


def file_times(paths):
    """{path: (birth time or None, modification time)} in time.time() seconds.

    Birth time comes from statx via coreutils' stat (Python 3.11 has no os.statx); the
    kernel stamps files from its coarse clock, so both can lag the truth by one timer tick
    (4 ms at HZ=250)."""
    out = {p: (None, os.stat(p).st_mtime_ns / 1e9) for p in paths if os.path.exists(p)}
    try:
        text = subprocess.run(["stat", "-c", "%n\t%.9W", *out], capture_output=True,
                              text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return out
    for line in text.splitlines():
        name, _, birth = line.rpartition("\t")
        try:
            b = float(birth)
        except ValueError:  # "-" or "?": the file system does not record birth times
            continue
        if name in out and b > 0:
            out[name] = (b, out[name][1])
    return out


def wait_driver_gone(run, timeout=10.0):
    """The driver writes run_finished, then exits; let it go before timing anything else."""
    end = time.monotonic() + timeout
    while run.target.driver_alive(run.folder) and time.monotonic() < end:
        time.sleep(0.02)


def submit(ws, name, **settings):
    """Submit, wait, and return (run, CPU use while it ran)."""
    watch = CpuWatch()
    run = Experiment(ws, name).submit(AutoMLConfig(task="classification", **settings))
    watch.follow(run.target.driver_pid(run.folder))
    run.wait_for_completion(timeout=900)
    run.close()
    if run.status != "Completed":
        raise SystemExit(f"the {name} run ended {run.status}: {run.state.error}; "
                         f"see {run.folder}")
    wait_driver_gone(run)
    return run, watch.stop()


class Replayer:
    """Re-runs iterations of a finished run, from its own spec and data, in this process."""

    def __init__(self, folder):
        from automl_widgets import catalog
        from automl_widgets.engine.prepare import prepare
        from automl_widgets.protocol import read_json
        self.spec = read_json(os.path.join(folder, "spec.json"))
        self.ctx, _ = prepare(self.spec, folder)
        task = self.ctx.task
        catalog.preload(task)
        self.names = {catalog.pipeline_name(p, e, task): (p, e)
                      for p in catalog.PREPROCESSORS for e in catalog.estimators(task)}
        cores = self.spec["max_cores_per_iteration"]
        self.cores = None if cores == -1 else cores

    def proposal(self, started_event):
        from automl_widgets.engine.search import Proposal
        pre, est = self.names[started_event["pipeline"]]
        return Proposal(pre, est, dict(started_event.get("params") or {}))

    def warm(self, started, repeat_first=2):
        """Seconds each pipeline's job takes in this already warm process."""
        from threadpoolctl import threadpool_limits

        from automl_widgets.engine import iteration
        out = {}
        with tempfile.TemporaryDirectory() as d, threadpool_limits(limits=self.cores), \
                contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            order = sorted(started)
            for n in order[:1] * repeat_first + order:  # warm-up runs first, untimed
                p = self.proposal(started[n])
                t = time.perf_counter()
                iteration.run(self.ctx, p, d)
                out[n] = time.perf_counter() - t
        return out

    def solo(self, started):
        """Each pipeline alone in a forked iteration process, exactly as the driver starts
        one (worker.start); its duration measured as the driver measures it (fork to reap)."""
        return self.together(started, 1)[0]

    def together(self, started, slots):
        """The pipelines in iteration order, `slots` at a time, each forked through
        worker.start the moment a slot frees (pidfd wake-up, as in the driver) but with no
        driver bookkeeping at all: what the machine itself gives. ({n: duration}, wall)"""
        from automl_widgets.engine import iteration, worker
        out, running, order = {}, {}, sorted(started)
        sel = selectors.DefaultSelector()
        with tempfile.TemporaryDirectory() as root:
            t0 = time.monotonic()
            while order or running:
                while order and len(running) < slots:
                    n = order.pop(0)
                    p, d = self.proposal(started[n]), os.path.join(root, str(n))
                    w = worker.start(n, d, lambda p=p, d=d: iteration.run(self.ctx, p, d),
                                     self.cores)
                    running[n] = w
                    sel.register(w, selectors.EVENT_READ, n)
                for key, _ in sel.select():
                    w = running.pop(key.data)
                    sel.unregister(w)
                    result = w.reap()
                    if result["status"] != "Completed":
                        raise SystemExit(f"replaying iteration {key.data} ended "
                                         f"{result['status']}: {result.get('reason')}")
                    out[key.data] = result["duration"]
            wall = time.monotonic() - t0
        sel.close()
        return out, wall


def list_schedule(durations, slots):
    """Makespan of running the jobs in this order, each on the first free slot, with no
    cost at all between them and no slowdown from running side by side."""
    free = [0.0] * slots
    for d in durations:
        i = free.index(min(free))
        free[i] += d
    return max(free)


# ---- 1. per-iteration overhead ---------------------------------------------------------

def bench_overhead(ws, iterations):
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=200, n_features=5, n_informative=3,
                               random_state=SEED)
    run, cpu = submit(ws, "overhead", X=X, y=y, iterations=iterations, n_cross_validations=2,
                      whitelist_models=["LogisticRegression"], enable_ensembling=False,
                      concurrent_iterations=1, random_state=SEED)
    events = read_events(run.folder)
    started = by_iteration(events, "iteration_started")
    finished = by_iteration(events, "iteration_finished")
    it_dir = os.path.join(run.folder, "iterations")
    files = file_times([os.path.join(it_dir, str(n), name) for n in started
                        for name in ("log.txt", "result.json")])

    def stamp(n, name, which):
        return files.get(os.path.join(it_dir, str(n), name), (None, None))[which]

    warm = Replayer(run.folder).warm(started)
    rows = []
    for n in sorted(started):
        s, f = started[n]["time"], finished[n]["time"]
        dur, log_born, result_written = (finished[n]["duration"], stamp(n, "log.txt", 0),
                                         stamp(n, "result.json", 1))
        row = {"iteration": n, "pipeline": started[n]["pipeline"],
               "params": started[n].get("params"), "duration": dur, "warm_job": warm[n],
               "child_start": log_born - s if log_born else None,
               "reap": f - result_written if result_written else None}
        if n + 1 in started:
            s1, next_born = started[n + 1]["time"], stamp(n + 1, "log.txt", 0)
            row.update(overhead=s1 - f, gap=s1 - (s + dur), cycle=s1 - s,
                       cycle_minus_warm=s1 - s - warm[n])
            if next_born and result_written:
                row["slot_idle"] = next_born - result_written
        rows.append(row)
    return {"run_folder": run.folder, "cpu": cpu, "rows": rows}


# ---- 2. parallel efficiency ------------------------------------------------------------

def bench_parallel(ws, iterations, slots=2, rows=12000, quiet=0.0):
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=rows, n_features=20, n_informative=10,
                               random_state=SEED)
    run, cpu_run = submit(ws, "parallel", X=X, y=y, iterations=iterations,
                          n_cross_validations=2, whitelist_models=["KNN"],
                          enable_ensembling=False, concurrent_iterations=slots,
                          random_state=SEED)
    events = read_events(run.folder)
    started = by_iteration(events, "iteration_started")
    finished = by_iteration(events, "iteration_finished")
    replayer = Replayer(run.folder)
    wait_quiet(quiet)
    watch = CpuWatch()
    solo = replayer.solo(started)
    cpu_solo = watch.stop()
    wait_quiet(quiet)
    watch = CpuWatch()
    together, wall_machine = replayer.together(started, slots)
    cpu_together = watch.stop()

    order = sorted(started)
    wall = max(e["time"] for e in finished.values()) - min(e["time"] for e in started.values())
    marks = {e["event"]: e["time"] for e in events if e["event"] in ("run_started", "run_finished")}
    # From the iteration_finished that freed a slot to the next iteration_started.
    finish_times = sorted(e["time"] for e in finished.values())
    launches = []
    for n in order[slots:]:
        prior = [t for t in finish_times if t <= started[n]["time"]]
        if prior:
            launches.append(started[n]["time"] - prior[-1])
    sum_solo = sum(solo.values())
    sum_engine = sum(finished[n]["duration"] for n in order)
    ideal = list_schedule([solo[n] for n in order], slots)
    return {"run_folder": run.folder, "slots": slots, "rows": rows,
            "cpu": {"run": cpu_run, "solo": cpu_solo, "together": cpu_together},
            "iterations": [{"iteration": n, "pipeline": started[n]["pipeline"],
                            "params": started[n].get("params"),
                            "duration_engine": finished[n]["duration"],
                            "duration_solo": solo[n], "duration_together": together[n]}
                           for n in order],
            "wall": wall, "run_wall": marks["run_finished"] - marks["run_started"],
            "wall_machine": wall_machine, "sum_solo": sum_solo, "sum_engine": sum_engine,
            "sum_together": sum(together.values()),
            "ideal": ideal, "ideal_packed": sum_solo / slots,
            "ratio": wall / ideal, "ratio_packed": wall / (sum_solo / slots),
            "machine_factor": wall_machine / ideal, "driver_factor": wall / wall_machine,
            "inflation_engine": sum_engine / sum_solo,
            "inflation_together": sum(together.values()) / sum_solo,
            "utilization": sum_engine / (slots * wall),
            "launch_median": median(launches), "launch_p90": p90(launches)}


# ---- report ------------------------------------------------------------------------------

def ms(x):
    return f"{1e3 * x:7.1f} ms" if x == x else "     n/a  "


def report(env, one, reps):
    lines = [f"automl-widgets orchestration overhead, local target: {env['date']}, "
             f"{env['cores']} cores, Python {env['python']}, scikit-learn {env['sklearn']}"]
    if one:
        rows = one["rows"]

        def pick(key):
            return [r[key] for r in rows if r.get(key) is not None]
        verdict = "PASS" if median(pick("overhead")) <= TARGET_OVERHEAD_MS / 1e3 else "MISS"
        others = one["cpu"]["others"]
        lines += ["", f"1. Per iteration: {len(rows)} iterations, LogisticRegression on 200x5, "
                  f"2 folds, one at a time (other processes: {others:.0f}% of a core"
                  + (", FIGURES UNRELIABLE)" if others > 10 else ")"),
                  f"   {'':<56}{'median':>10} {'p90':>10}   target"]
        table = [
            ("overhead   finished(n) -> started(n+1)", "overhead",
             f"<= {TARGET_OVERHEAD_MS:.0f} ms  {verdict}"),
            ("gap        started(n)+duration(n) -> started(n+1)", "gap", ""),
            ("child up   started(n) -> its log.txt created", "child_start", ""),
            ("reap       result.json(n) written -> finished(n)", "reap", ""),
            ("slot idle  result.json(n) written -> log.txt(n+1) created", "slot_idle", ""),
            ("duration   of the iteration process, fork -> reap", "duration", ""),
            ("warm job   the same pipeline in a warm process", "warm_job", ""),
            ("cycle      started(n) -> started(n+1)", "cycle", ""),
            ("cost       cycle - warm job", "cycle_minus_warm", ""),
        ]
        for label, key, target in table:
            v = pick(key)
            lines.append(f"   {label:<56}{ms(median(v))} {ms(p90(v))}   {target}")
    if reps:
        first = reps[0]
        ratio = median([r["ratio"] for r in reps])
        verdict = "PASS" if ratio <= TARGET_PARALLEL_RATIO else "MISS"
        head = "".join(f"{'rep ' + str(i + 1):>9}" for i in range(len(reps)))
        lines += ["", f"2. Parallel: {len(first['iterations'])} iterations, kNN on "
                  f"{first['rows']}x20, 2 folds, concurrent_iterations={first['slots']}; "
                  f"{len(reps)} repetition(s), each a new run",
                  f"   {'':<50}{head}{'median':>9}"]

        def row(label, get, fmt="{:9.2f}", tail=""):
            values = [get(r) for r in reps]
            cells = "".join(fmt.format(v) for v in values)
            lines.append(f"   {label:<50}{cells}{fmt.format(median(values))}{tail}")
        row("engine wall, first started -> last finished  s", lambda r: r["wall"])
        row("sum of solo durations (same pipelines)       s", lambda r: r["sum_solo"])
        row(f"ideal: solo durations list-scheduled on {first['slots']}    s",
            lambda r: r["ideal"])
        row("wall / ideal", lambda r: r["ratio"], "{:9.3f}",
            f"   target <= {TARGET_PARALLEL_RATIO}  {verdict}")
        row(f"wall / (sum solo / {first['slots']})", lambda r: r["ratio_packed"], "{:9.3f}")
        row(f"no driver: same pipelines {first['slots']} at a time, wall s",
            lambda r: r["wall_machine"])
        row("  machine share: no-driver wall / ideal", lambda r: r["machine_factor"], "{:9.3f}")
        row("  driver share: engine wall / no-driver wall", lambda r: r["driver_factor"],
            "{:9.3f}")
        row("durations side by side / alone, engine", lambda r: r["inflation_engine"],
            "{:9.3f}")
        row("durations side by side / alone, no driver", lambda r: r["inflation_together"],
            "{:9.3f}")
        row(f"slot use: sum of durations / ({first['slots']} x wall)", lambda r: r["utilization"],
            "{:9.3f}")
        row("finished -> next started, median          ms",
            lambda r: 1e3 * r["launch_median"], "{:9.1f}")
        for part, name in (("run", "engine run"), ("solo", "solo replay"),
                           ("together", "no-driver")):
            row(f"other processes, {name}, % of a core",
                lambda r, part=part: r["cpu"][part]["others"], "{:9.0f}")
        if any(r["cpu"][p]["others"] > 10 for r in reps for p in r["cpu"]):
            lines.append("   (other processes used over 10% of a core somewhere: "
                         "those figures are unreliable)")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=40,
                    help="iterations of the per-iteration run (default 40)")
    ap.add_argument("--parallel-iterations", type=int, default=24,
                    help="iterations of each parallel run; 0 skips that part (default 24)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="parallel runs, each with its replays; the verdict uses the "
                         "median (default 5)")
    ap.add_argument("--json", metavar="OUT", help="also write every figure and raw value here")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="before each timed part, wait up to this long for 3 idle seconds "
                         "(for shared machines; default 0: do not wait)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = ap.parse_args(argv)
    if args.iterations < 2:
        ap.error("--iterations must be at least 2")

    import sklearn
    env = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(),
           "python": platform.python_version(), "sklearn": sklearn.__version__,
           "platform": platform.platform(), "argv": sys.argv[1:],
           "blas_env": {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                   "MKL_NUM_THREADS") if k in os.environ}}
    root = tempfile.mkdtemp(prefix="automl-overhead-")
    try:
        ws = Workspace.create(root)
        wait_quiet(args.wait_quiet)
        one = bench_overhead(ws, args.iterations)
        reps = []
        for _ in range(args.repeat if args.parallel_iterations else 0):
            wait_quiet(args.wait_quiet)
            reps.append(bench_parallel(ws, args.parallel_iterations, quiet=args.wait_quiet))
        print(report(env, one, reps))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"env": env, "overhead": one, "parallel": reps}, f, indent=1)
    finally:
        if args.keep:
            print(f"workspace kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
