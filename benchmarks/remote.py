"""The SSH target against the local one, on a real OpenSSH server on 127.0.0.1.

    .venv/bin/python benchmarks/remote.py [--runs R] [--iterations N] [--json out.json]
        [--keep-home] [--wait-quiet SECONDS] [--user NAME] [--keep]

Needs root: the server is tests/sshd.py's SSHServer (Debian's sshd serving a dedicated
unprivileged user with a bare home, so the first prepare() builds the remote environment
for real). Its user is $AUTOML_SSH_TEST_USER, else `automl-ssh-bench`, so a benchmark never
waits for, nor disturbs, a test session on the same machine. All SSH traffic stays on
127.0.0.1; only the first prepare() reaches out, through the remote's pip, to the package
index (skip that with --keep-home once the environment exists).

What it measures, each for the remote target beside the same figure for the local target:

1. submit latency: `Experiment(ws, name).submit(AutoMLConfig(...))` returning, the target
   already prepared. Target <= 3 s (judged on the slowest remote submit).
2. orchestration overhead per iteration: iteration_started(n+1) - iteration_finished(n),
   the `time` fields the driver writes (the definition of benchmarks/overhead.py), median
   over sequential runs of trivial pipelines. Target <= 250 ms.
3. event-to-kernel latency: the moment the kernel-side Run's `iterations` trait first shows
   an iteration as Completed (a traitlets observer records time.time()) minus the `time`
   field of its iteration_finished event (the driver's time.time(); same machine, same
   clock). Target <= 1 s (judged on the p90).

R runs per target, alternating local and remote, each N iterations of LogisticRegression on
200x5 make_classification data (a data_script, as in the classic remote flow), 2 folds,
one at a time, no ensembles. Definitions and figures: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # run from a checkout without installing
sys.path.insert(0, HERE)

from overhead import busy_percent, by_iteration, cpu_jiffies, median, p90, read_events, wait_quiet  # noqa: E402

from automl_widgets import AutoMLConfig, Experiment, RunConfiguration, Workspace  # noqa: E402
from automl_widgets.compute import LocalCompute, SSHCompute  # noqa: E402

TARGET_SUBMIT_S = 3.0
TARGET_OVERHEAD_MS = 250.0
TARGET_LATENCY_S = 1.0
SEED = 0
GET_DATA = textwrap.dedent("""\
    from sklearn.datasets import make_classification

    def get_data():
        X, y = make_classification(n_samples=200, n_features=5, n_informative=3,
                                   random_state=0)
        return {"X": X, "y": y}
""")


def load_sshd():
    """tests/sshd.py, imported by path (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location("automl_bench_sshd",
                                                  os.path.join(ROOT, "tests", "sshd.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- CPU used by everything that is not this benchmark ------------------------------------

def _stat(pid):
    """(uid, ppid, own + reaped children's CPU seconds, cmdline) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rpartition(")")[2].split()
        uid = os.stat(f"/proc/{pid}").st_uid
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
    except (OSError, ValueError):
        return None
    return uid, int(rest[1]), sum(int(x) for x in rest[11:15]) / os.sysconf("SC_CLK_TCK"), cmd


class CpuWatch:
    """Machine-wide CPU use over a stretch of time, minus this benchmark's own processes:
    this one, the local drivers (found by the workspace path in their command line), the
    test user's processes (remote drivers, sftp-server) and the sshd listener with all its
    descendants. It reads the CPU (own + reaped children) of each such process whose parent
    is not one of them: reaped iterations and ended sessions are in their parent's total.
    What a process used after its last look (at most 20 ms before it exits) is missed."""

    def __init__(self, marker: bytes, uid: int, listener: int):
        self.marker, self.uid, self.listener = marker, uid, listener
        self.t0, self.machine0, self.me0 = time.monotonic(), cpu_jiffies(), self._me()
        self.first, self.last = {}, {}
        self.hz = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._sample(first=True)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @staticmethod
    def _me():
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def _sample(self, first=False):
        """Find this benchmark's processes (a full look at /proc, ~4 ms of CPU)."""
        procs = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                info = _stat(int(entry))
                if info is not None:
                    procs[int(entry)] = info

        def ours(pid, depth=0):
            info = procs.get(pid)
            if info is None or depth > 64:
                return False
            if info[0] == self.uid or pid == self.listener or self.marker in info[3]:
                return True
            return ours(info[1], depth + 1)   # a descendant of the listener
        mine = {pid for pid in procs if ours(pid)}
        for pid in mine:
            if procs[pid][1] in mine:
                continue  # counted in its parent's total once reaped
            if first:
                self.first[pid] = procs[pid][2]
            self.last[pid] = procs[pid][2]

    def _loop(self):
        """Every 20 ms the CPU of the processes found (cheap), every 0.25 s a new search,
        so a driver's last moments before it exits are not lost."""
        tick = 0
        while not self._stop.wait(0.02):
            tick += 1
            if tick % 12 == 0:
                self._sample()
                continue
            for pid in list(self.last):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        rest = f.read().rpartition(")")[2].split()
                except OSError:
                    continue
                if rest[0] != "Z":
                    self.last[pid] = sum(int(x) for x in rest[11:15]) / self.hz

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        seconds = time.monotonic() - self.t0
        machine = busy_percent(self.machine0, cpu_jiffies())
        tracked = sum(v - self.first.get(pid, 0.0) for pid, v in self.last.items())
        own = 100.0 * (tracked + self._me() - self.me0) / seconds
        return {"seconds": seconds, "machine": machine, "own": own,
                "others": max(0.0, machine - own)}


# ---- one run ------------------------------------------------------------------------------

class Seen:
    """When the kernel-side Run first showed each thing: a traitlets observer on
    `iterations` and `status`, stamping time.time() in the Run's sync thread."""

    def __init__(self, run):
        self.appeared, self.completed, self.status = {}, {}, {}
        self.before = {i["iteration"] for i in run.iterations}  # there before we looked
        run.observe(self._iterations, names="iterations")
        run.observe(self._status, names="status")

    def _iterations(self, change):
        now = time.time()
        for rec in change["new"]:
            n = rec.get("iteration")
            if n in self.before:
                continue
            self.appeared.setdefault(n, now)
            if rec.get("status") == "Completed":
                self.completed.setdefault(n, now)

    def _status(self, change):
        self.status.setdefault(change["new"], time.time())


class CallTimes:
    """Wraps a target's connect() and run() to time what submit() spends on them (calls
    from the submitting thread only; the Run's sync thread uses the same object)."""

    def __init__(self, target):
        self.calls = []
        self.main = threading.main_thread()
        for name in ("connect", "run"):
            setattr(target, name, self._wrap(name, getattr(target, name)))

    def _wrap(self, name, fn):
        def timed(*args, **kwargs):
            if threading.current_thread() is not self.main:
                return fn(*args, **kwargs)
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.calls.append((name, time.perf_counter() - t))
        return timed

    def take(self):
        calls, self.calls = self.calls, []
        return calls


class PullTimes:
    """Times every Mirror.pull() (one round of the Run's sync thread for a remote run:
    push requests, copy new bytes of events.jsonl, driver.log and live logs over SFTP,
    every 2 s a driver liveness command)."""

    def __init__(self):
        from automl_widgets.compute import mirror
        self.times = []
        original = mirror.Mirror.pull

        def pull(m):
            t = time.perf_counter()
            try:
                return original(m)
            finally:
                self.times.append(time.perf_counter() - t)
        mirror.Mirror.pull = pull

    def take(self):
        times, self.times = self.times, []
        return times


PULLS = None


def one_run(ws, target, project, iterations, marker, uid, listener, timeout):
    kind = "remote" if isinstance(target, SSHCompute) else "local"
    config = AutoMLConfig(task="classification", iterations=iterations,
                          n_cross_validations=2, whitelist_models=["LogisticRegression"],
                          enable_ensembling=False, concurrent_iterations=1,
                          random_state=SEED, data_script="get_data.py", path=project,
                          run_configuration=RunConfiguration(target))
    calls = getattr(target, "_bench_calls", None)
    if calls:
        calls.take()
    PULLS.take()
    watch = CpuWatch(marker, uid, listener)
    t0 = time.perf_counter()
    wall0 = time.time()
    run = Experiment(ws, f"bench-{kind}").submit(config)
    submit = time.perf_counter() - t0
    returned = time.time()
    seen = Seen(run)
    run.wait_for_completion(timeout=timeout)
    run.close()
    if run._thread is not None:
        run._thread.join(timeout=30)
    if run.status != "Completed":
        raise SystemExit(f"the {kind} run ended {run.status}: {run.state.error}; "
                         f"see {run.folder}")
    wait_drivers_gone(marker, uid)
    cpu = watch.stop()
    events = read_events(run.folder)
    started = by_iteration(events, "iteration_started")
    finished = by_iteration(events, "iteration_finished")
    marks = {e["event"]: e["time"] for e in events}
    rows = []
    for n in sorted(started):
        row = {"iteration": n, "duration": finished[n]["duration"],
               "appear_latency": (seen.appeared[n] - started[n]["time"]
                                  if n in seen.appeared else None),
               "latency": (seen.completed[n] - finished[n]["time"]
                           if n in seen.completed else None)}
        if n + 1 in started:
            row["overhead"] = started[n + 1]["time"] - finished[n]["time"]
            row["cycle"] = started[n + 1]["time"] - started[n]["time"]
        rows.append(row)
    return {"target": kind, "run_id": run.id, "folder": run.folder, "submit": submit,
            "submit_calls": calls.take() if calls else [],
            "submit_wall": [wall0, returned],
            "to_run_started": marks["run_started"] - returned,
            "to_first_iteration": min(e["time"] for e in started.values()) - returned,
            "run_wall": marks["run_finished"] - marks["run_started"],
            "run_finished_latency": (seen.status.get("Completed", float("nan"))
                                     - marks["run_finished"]),
            "missed": [n for n in started if n not in seen.completed],
            "pulls": PULLS.take(),
            "cpu": cpu, "rows": rows}


def wait_drivers_gone(marker, uid, timeout=15.0):
    """The driver writes run_finished, then exits; let it go before the next run."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        busy = False
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                info = _stat(int(entry))
                if info and b"automl_widgets.engine.driver" in info[3] and (
                        info[0] == uid or marker in info[3]):
                    busy = True
                    break
        if not busy:
            return
        time.sleep(0.05)


# ---- report -------------------------------------------------------------------------------

def pooled(runs, key):
    return [r[key] for run in runs for r in run["rows"] if r.get(key) is not None]


def figures(runs):
    submits = [r["submit"] for r in runs]
    return {
        "submit_median": median(submits), "submit_max": max(submits),
        "overhead_median": median(pooled(runs, "overhead")),
        "overhead_p90": p90(pooled(runs, "overhead")),
        "latency_median": median(pooled(runs, "latency")),
        "latency_p90": p90(pooled(runs, "latency")),
        "latency_max": max(pooled(runs, "latency"), default=float("nan")),
        "appear_median": median(pooled(runs, "appear_latency")),
        "appear_p90": p90(pooled(runs, "appear_latency")),
        "run_finished_median": median([r["run_finished_latency"] for r in runs]),
        "to_run_started_median": median([r["to_run_started"] for r in runs]),
        "to_first_iteration_median": median([r["to_first_iteration"] for r in runs]),
        "cycle_median": median(pooled(runs, "cycle")),
        "duration_median": median(pooled(runs, "duration")),
        "samples_latency": len(pooled(runs, "latency")),
        "samples_overhead": len(pooled(runs, "overhead")),
        "others_max": max(r["cpu"]["others"] for r in runs),
        "pull_median": median([t for r in runs for t in r["pulls"]]),
        "pull_p90": p90([t for r in runs for t in r["pulls"]]),
    }


def verdicts(f):
    return {"submit": f["submit_max"] <= TARGET_SUBMIT_S,
            "overhead": f["overhead_median"] <= TARGET_OVERHEAD_MS / 1e3,
            "latency": f["latency_p90"] <= TARGET_LATENCY_S}


def report(env, prep, local, remote):
    fl, fr = figures(local), figures(remote)
    ok = verdicts(fr)
    word = {True: "PASS", False: "MISS"}
    lines = [f"automl-widgets remote (SSH) target against local: {env['date']}, "
             f"{env['cores']} cores, Python {env['python']} (remote {env['remote_python']}), "
             f"scikit-learn {env['sklearn']}",
             f"sshd on 127.0.0.1:{env['port']} as {env['user']} (set up in "
             f"{env['sshd_setup']:.1f} s{', home kept' if env['keep_home'] else ', bare home'})",
             f"prepare(): first {prep['first']:.2f} s ({prep['first_steps']}), "
             f"second {prep['second']:.2f} s ({prep['second_steps']})",
             "",
             f"{len(local)} run(s) per target, alternating, {env['iterations']} iterations each: "
             "LogisticRegression on 200x5, 2 folds, one at a time, data_script",
             f"   {'':<58}{'local':>18}{'remote':>18}   target (remote)",
             f"   {'':<58}{'median':>9}{'p90':>9}{'median':>9}{'p90':>9}"]

    def fmt(x, unit):
        if x != x:
            return f"{'n/a':>9}"
        return f"{x:7.2f} s" if unit == "s" else f"{1e3 * x:6.1f} ms"

    def row(label, a, b, unit, target=""):
        cells = "".join(fmt(v, unit) if v is not None else " " * 9 for v in a + b)
        lines.append(f"   {label:<58}{cells}   {target}")
    row("submit latency  submit() -> Run returned", [fl["submit_median"], None],
        [fr["submit_median"], None], "s",
        f"max {fr['submit_max']:.2f} s <= {TARGET_SUBMIT_S:.0f} s  {word[ok['submit']]}")
    row("                slowest of the runs", [fl["submit_max"], None],
        [fr["submit_max"], None], "s")
    row("overhead        finished(n) -> started(n+1)",
        [fl["overhead_median"], fl["overhead_p90"]], [fr["overhead_median"], fr["overhead_p90"]],
        "ms", f"median <= {TARGET_OVERHEAD_MS:.0f} ms  {word[ok['overhead']]}")
    row("latency         iteration_finished -> Completed in Run",
        [fl["latency_median"], fl["latency_p90"]], [fr["latency_median"], fr["latency_p90"]],
        "ms", f"p90 <= {TARGET_LATENCY_S:.0f} s  {word[ok['latency']]}")
    row("                iteration_started -> in Run.iterations",
        [fl["appear_median"], fl["appear_p90"]], [fr["appear_median"], fr["appear_p90"]], "ms")
    row("                run_finished -> Run.status Completed",
        [fl["run_finished_median"], None], [fr["run_finished_median"], None], "ms")
    row("mirror round    one Mirror.pull() of the sync thread", [None, None],
        [fr["pull_median"], fr["pull_p90"]], "ms")
    row("driver start    submit returned -> run_started",
        [fl["to_run_started_median"], None], [fr["to_run_started_median"], None], "s")
    row("                submit returned -> first iteration_started",
        [fl["to_first_iteration_median"], None], [fr["to_first_iteration_median"], None], "s")
    row("cycle           started(n) -> started(n+1)", [fl["cycle_median"], None],
        [fr["cycle_median"], None], "ms")
    row("duration        of the iteration process", [fl["duration_median"], None],
        [fr["duration_median"], None], "ms")
    calls = [c for r in remote for c in r["submit_calls"]]
    if calls:
        per = len(remote)
        conn = [t for name, t in calls if name == "connect"]
        cmds = [t for name, t in calls if name == "run"]
        lines.append(f"   remote submit, per submit: {len(conn) / per:.0f} connection(s) "
                     f"{1e3 * sum(conn) / per:.0f} ms, {len(cmds) / per:.0f} command(s) "
                     f"{1e3 * sum(cmds) / per:.0f} ms, the rest (SFTP uploads, run folder, "
                     f"index) {1e3 * (fr['submit_median'] - (sum(conn) + sum(cmds)) / per):.0f} ms")
    lines.append(f"   samples: {fl['samples_latency']} local / {fr['samples_latency']} remote "
                 f"latencies, {fr['samples_overhead']} overheads; other processes: at most "
                 f"{max(fl['others_max'], fr['others_max']):.0f}% of a core in any run"
                 + (" (over 10%: figures unreliable)"
                    if max(fl["others_max"], fr["others_max"]) > 10 else ""))
    missed = [n for r in local + remote for n in r["missed"]]
    if missed:
        lines.append(f"   note: {len(missed)} iteration(s) never seen as Completed by the Run")
    return "\n".join(lines)


# ---- main ---------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per target (default 3)")
    ap.add_argument("--iterations", type=int, default=20,
                    help="iterations per run (default 20)")
    ap.add_argument("--json", metavar="OUT", help="also write every figure and raw value here")
    ap.add_argument("--keep-home", action="store_true",
                    help="keep the test user's home (and its prepared environment) from an "
                         "earlier run, so the first prepare() is near-free")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="before each run, wait up to this long for 3 idle seconds")
    ap.add_argument("--user", default=os.environ.get("AUTOML_SSH_TEST_USER") or
                    "automl-ssh-bench", help="the SSH server's test user "
                    "(default $AUTOML_SSH_TEST_USER, else automl-ssh-bench)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = ap.parse_args(argv)
    if args.iterations < 2 or args.runs < 1:
        ap.error("--iterations must be at least 2 and --runs at least 1")

    import sklearn
    global PULLS
    PULLS = PullTimes()
    sshd = load_sshd()
    server = sshd.SSHServer(username=args.user, keep_home=args.keep_home)
    root = tempfile.mkdtemp(prefix="automl-remote-bench-")
    t_all = time.monotonic()
    try:
        server.start()
        ws = Workspace.create(os.path.join(root, "ws"))
        project = os.path.join(root, "project")
        os.makedirs(project)
        with open(os.path.join(project, "get_data.py"), "w") as f:
            f.write(GET_DATA)
        vm = SSHCompute.attach(ws, "bench-vm", address=server.host, port=server.port,
                               username=server.username, ssh_key=server.key_path)
        with open(vm.known_hosts_file, "a") as f:
            f.write(server.known_hosts_line() + "\n")
        prep = {}
        for which in ("first", "second"):
            steps = []
            t = time.perf_counter()
            vm.prepare(progress=steps.append)
            prep[which] = time.perf_counter() - t
            prep[which + "_lines"] = steps
            prep[which + "_steps"] = (f"{len(steps)} step(s) done" if steps
                                      else "nothing to do")
        vm._bench_calls = CallTimes(vm)
        _, out, _ = vm.run(["python3", "--version"])
        env = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
               "cores": os.cpu_count(), "python": platform.python_version(),
               "remote_python": out.split()[-1] if out else "?",
               "sklearn": sklearn.__version__, "platform": platform.platform(),
               "argv": sys.argv[1:], "port": server.port, "user": server.username,
               "sshd_setup": server.setup_seconds, "keep_home": args.keep_home,
               "iterations": args.iterations, "runs": args.runs}
        vm._bench_calls.take()
        marker = ws.path.encode()
        local, remote = [], []
        for _ in range(args.runs):
            for target, into in ((LocalCompute(), local), (vm, remote)):
                wait_quiet(args.wait_quiet)
                into.append(one_run(ws, target, project, args.iterations, marker, server.uid,
                                    server.proc.pid, timeout=300))
        env["seconds"] = time.monotonic() - t_all
        print(report(env, prep, local, remote))
        print(f"   (whole benchmark {env['seconds']:.0f} s)")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"env": env, "prepare": prep, "local": local, "remote": remote,
                           "figures": {"local": figures(local), "remote": figures(remote)},
                           "pass": verdicts(figures(remote))}, f, indent=1)
    finally:
        server.stop()
        if args.keep:
            print(f"workspace kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
