"""automl-widgets command line: start, watch, list and cancel the runs of a workspace.

    automl-widgets [--workspace PATH] demo | run | list | show | logs | cancel | targets ...

Only demo and run submit; the other commands are readers of run folders like any kernel.
Interrupting a command never stops a run: the driver runs detached.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

from ..config import AutoMLConfig, ConfigError
from ..protocol import LOG, MODEL, Status, iteration_dir, read_from
from . import console
from .run import Run
from .workspace import Experiment, Workspace, WorkspaceNotFound

FOLLOW_POLL = 0.2  # seconds between looks at a followed log file (its growth is no event)


class UsageError(Exception):
    """A mistake of the user's: printed as one line without a traceback, exit code 2."""


def open_workspace(args, create=False) -> Workspace:
    if args.workspace and not create and not os.path.exists(args.workspace):
        raise UsageError(f"--workspace {args.workspace}: no such file or folder.")
    try:
        return Workspace.from_config(args.workspace)   # writes nothing
    except WorkspaceNotFound as exc:
        if not create:
            raise UsageError(f"{exc} Or give --workspace PATH.") from None
    ws = Workspace.create(args.workspace or os.getcwd())
    print(f"Created workspace {ws.path}", flush=True)
    return ws


def find_run(ws, run_id) -> Run:
    try:
        return ws.find_run(run_id)
    except (KeyError, ValueError) as exc:  # KeyError's str() would add quotes
        raise UsageError(exc.args[0]) from None


def load_settings(path) -> dict:
    """AutoMLConfig keyword arguments from a .json or .yaml file; relative data_script and
    path name files next to the settings file, wherever the command is run from."""
    if not os.path.isfile(path):
        raise UsageError(f"Settings file {path} does not exist.")
    import yaml
    kind = {".json": "JSON", ".yaml": "YAML", ".yml": "YAML"}.get(os.path.splitext(path)[1])
    if kind is None:
        raise UsageError(f"Settings file {path} must end in .json, .yaml or .yml.")
    try:
        with open(path, encoding="utf-8") as f:
            settings = json.load(f) if kind == "JSON" else yaml.safe_load(f)
    except (ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"Settings file {path} is not valid {kind}: {exc}") from None
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        raise UsageError(f"Settings file {path} must hold a mapping of AutoMLConfig settings "
                         f"(name: value); it holds {type(settings).__name__}.")
    base = os.path.dirname(os.path.abspath(path))
    if isinstance(settings.get("path"), str):
        settings["path"] = os.path.join(base, os.path.expanduser(settings["path"]))
    script = settings.get("data_script")
    if isinstance(script, str) and os.path.isfile(os.path.join(base, script)):
        settings["data_script"] = os.path.join(base, script)  # else AutoMLConfig looks in path
    return settings


def print_table(headers, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    for row in [headers, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


def where(kind, settings) -> str:
    """Where a target is, in one word: user@host:port for SSH, the scheduler for Dask."""
    address = settings.get("address") or ""
    if kind == "ssh":
        user = f"{settings['username']}@" if settings.get("username") else ""
        port = f":{settings['port']}" if settings.get("port") else ""
        return f"{user}{address}{port}"
    return address


def target_line(description) -> str:
    """A run's target as `show` prints it: "local", or "cluster (dask tcp://host:8786)"."""
    kind, name = description.get("type"), description.get("name")
    address = where(kind, description)
    return f"{name} ({kind} {address})" if address else str(name)


def report_best(run) -> int:
    """After a finished run: the best iteration, from run.state (complete once finished)."""
    s = run.state
    if s.best is None:
        print(f"Run {run.id} ended {s.status} with no completed iteration.", file=sys.stderr)
        return 1
    best = s.iterations[s.best]
    print(f"\nBest iteration: {s.best}\nPipeline: {best['pipeline']}\n"
          f"{run.spec['primary_metric']}: {best['score']:.4f}\n"
          f"Model: {os.path.join(iteration_dir(run.folder, s.best), MODEL)}")
    return 0 if s.status == Status.COMPLETED else 1


def submit_and_watch(ws, experiment, config, wait=True) -> int:
    run = Experiment(ws, experiment).submit(config)
    if not wait:
        print(run.id, flush=True)  # alone, so scripts can pick it up
        return 0
    run.wait_for_completion(show_output=True)
    return report_best(run)


def cmd_demo(args) -> int:
    from sklearn import datasets
    if args.task == "classification":
        X, y = datasets.load_breast_cancer(return_X_y=True)
        metric = "AUC_weighted"
    else:
        X, y = datasets.load_diabetes(return_X_y=True)
        metric = "r2_score"
    config = AutoMLConfig(task=args.task, X=X, y=y, primary_metric=metric,
                          iterations=args.iterations, concurrent_iterations=args.concurrent,
                          n_cross_validations=3, random_state=0)
    return submit_and_watch(open_workspace(args, create=True), "demo", config)


def cmd_run(args) -> int:
    settings = load_settings(args.settings_file)
    ws = open_workspace(args)
    try:
        config = AutoMLConfig(**settings)
    except ConfigError as exc:
        raise UsageError(f"{args.settings_file}: {exc}") from None
    stem = os.path.splitext(os.path.basename(args.settings_file))[0]
    name = args.experiment or re.sub(r"[^A-Za-z0-9_\-]", "_", stem).lstrip("_-") or "automl"
    return submit_and_watch(ws, name, config, wait=not args.no_wait)


def cmd_list(args) -> int:
    ws = open_workspace(args)
    rows = []
    for run_id, experiment, created, _target, cached in ws.runs(args.experiment):
        try:
            run = Run(Experiment(ws, experiment), run_id)  # reads the folder: the truth
            run.close()  # one look is enough
            status, metric, best = run.status, run.spec["primary_metric"], run.best
            name = run.spec.get("name") or ""
        except KeyError:  # its folder is gone: show what the index remembers
            status, metric, best, name = f"{cached} (folder missing)", "", None, ""
        rows.append((run_id, experiment, status,
                     time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)), metric,
                     "" if best is None else f"{best['score']:.4f}", name))
    if rows:
        print_table(("RUN ID", "EXPERIMENT", "STATUS", "CREATED", "METRIC", "BEST", "NAME"), rows)
    else:
        print(f"No runs in workspace {ws.path}.")
    return 0


def cmd_show(args) -> int:
    run = find_run(open_workspace(args), args.run_id)
    if args.csv:   # the leaderboard, for pandas, a spreadsheet or `column -ts,`
        run.get_leaderboard().to_csv(sys.stdout, index=False)
        return 0
    d = run.get_details()
    fields = [("Run", run.id), ("Name", d["displayName"] or ""), ("Experiment", d["experiment"]),
              ("Status", d["status"]),
              ("Task", run.spec["task"]), ("Metric", run.spec["primary_metric"]),
              ("Target", target_line(run.spec["target"])), ("Started", d["startTimeUtc"]),
              ("Ended", d["endTimeUtc"]), ("Stop reason", d["stopReason"]),
              ("Error", d["error"])] + [("Warning", w["message"]) for w in d["warnings"]]
    for label, value in fields:
        if value is not None:
            print(f"{label + ':':<13}{value}")
    print("\n" + console.HEADER)
    records = run.snapshot()["iterations"]   # a consistent copy while the run goes on
    best = run.state.best_so_far([r["iteration"] for r in records])
    for rec, b in zip(records, best):
        print(console.row(rec, b))
    return 0


def cmd_models(args) -> int:
    from .models import Model
    ws = open_workspace(args)
    rows = [(m.name, str(m.version), m.run_id, str(m.iteration), m.pipeline or "",
             f"{m.primary_metric} {m.metrics.get(m.primary_metric, float('nan')):.4f}",
             time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.created)))
            for m in Model.list(ws, args.name)]
    if rows:
        print_table(("NAME", "VERSION", "RUN ID", "ITERATION", "PIPELINE", "METRIC",
                     "REGISTERED"), rows)
    else:
        print(f"No models registered in workspace {ws.path}.")
    return 0


def cmd_logs(args) -> int:
    run = find_run(open_workspace(args), args.run_id)
    n, total = args.iteration, run.spec["iterations"]
    if not 0 <= n < total:
        raise UsageError(f"Run {run.id} has iterations 0 to {total - 1}; there is no "
                         f"iteration {n}.")
    path = os.path.join(iteration_dir(run.folder, n), LOG)

    def done(r):
        return n in r.state.finished_order or r.state.finished
    offset = 0
    while args.follow and not done(run):
        offset = copy_new_bytes(path, offset)
        run.wait_until(done, timeout=FOLLOW_POLL)
    # The driver appends the final status line before it reports the iteration finished.
    if copy_new_bytes(path, offset) == 0:
        print(f"Iteration {n} of run {run.id} has no log yet.", file=sys.stderr)
        return 1
    return 0


def copy_new_bytes(path, offset) -> int:
    data, offset = read_from(path, offset)   # nothing yet while it has not started
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return offset


def cmd_cancel(args) -> int:
    run = find_run(open_workspace(args), args.run_id)
    if run.state.finished:
        print(f"Run {run.id} has already ended ({run.state.status}); nothing to cancel.")
        return 0
    if args.iteration is None:
        run.cancel()
        print(f"Cancel requested for run {run.id}.")
        return 0
    if args.iteration in run.state.finished_order:
        status = run.state.iterations[args.iteration]["status"]
        print(f"Iteration {args.iteration} of run {run.id} has already ended ({status}).")
        return 0
    try:
        run.cancel_iteration(args.iteration)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"Cancel requested for iteration {args.iteration} of run {run.id}.")
    return 0


def cmd_targets(args) -> int:
    ws = open_workspace(args)
    rows = [(name, kind, where(kind, settings)) for name, kind, settings in ws.targets()]
    if rows:
        print_table(("NAME", "KIND", "ADDRESS"), rows)
    else:
        print(f"No compute targets attached to workspace {ws.path}; runs go to this machine. "
              "Attach one with SSHCompute.attach or DaskCompute.attach.")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="automl-widgets", description=__doc__.split("\n")[0])
    top.add_argument("--workspace", metavar="PATH", help="workspace folder or its config.json "
                     "(default: found from the current folder upwards)")
    # Also accepted after the command; SUPPRESS keeps the value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", metavar="PATH", default=argparse.SUPPRESS)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help):
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p
    p = command("demo", cmd_demo, "a short local run on a scikit-learn dataset")
    p.add_argument("--task", choices=("classification", "regression"), default="classification")
    p.add_argument("--iterations", type=int, default=12)
    p.add_argument("--concurrent", type=int, default=2, help="iterations at once")
    p = command("run", cmd_run, "submit a run: a .json or .yaml file of AutoMLConfig settings")
    p.add_argument("settings_file", metavar="SETTINGS_FILE")
    p.add_argument("--experiment", metavar="NAME",
                   help="experiment name (default: the settings file's name)")
    p.add_argument("--no-wait", action="store_true", help="print the run id and return")
    p = command("list", cmd_list, "the runs of the workspace, newest first")
    p.add_argument("--experiment", metavar="NAME")
    p = command("show", cmd_show, "a run's details and iterations")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--csv", action="store_true",
                   help="print the leaderboard as CSV instead: every iteration, best first, "
                        "with every metric")
    p = command("logs", cmd_logs, "the log of one iteration")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("iteration", metavar="ITERATION", type=int)
    p.add_argument("--follow", "-f", action="store_true",
                   help="keep printing until the iteration has finished")
    p = command("cancel", cmd_cancel, "cancel a run, or one iteration of it")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--iteration", type=int, metavar="N")
    command("targets", cmd_targets, "the compute targets attached to the workspace")
    p = command("models", cmd_models, "the registered models, every version, newest first")
    p.add_argument("name", nargs="?", metavar="NAME", help="only this model's versions")
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()   # here, so a closed pipe is caught below, not at exit
    except BrokenPipeError:
        # The reader went away (`... | head -1`): as the Python docs advise, send what
        # is still buffered to devnull and end quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    except (UsageError, ConfigError) as exc:
        print(f"automl-widgets: error: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("\nStopped watching; runs go on (automl-widgets cancel RUN_ID stops one).",
              file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
