"""The classic console table printed by submit(show_output=True) and
wait_for_completion(show_output=True)."""
from __future__ import annotations

from ..protocol import Status

LEGEND = """\
********************************************************************************************
ITERATION: The iteration being evaluated.
PIPELINE: A summary description of the pipeline being evaluated.
DURATION: Time taken for the current iteration.
METRIC: The result of computing {metric} on the fitted pipeline.
BEST: The best observed {metric} thus far.
********************************************************************************************
"""
HEADER = f" {'ITERATION':>9}     {'PIPELINE':<38} {'DURATION':<17} {'METRIC':>10} {'BEST':>9}"


def header(run_id, metric, target="local", guardrails=()) -> str:
    block = guardrail_lines(guardrails)
    return intro(run_id, target) + "\n" + (block + "\n" if block else "") + legend(metric)


def intro(run_id, target="local") -> str:
    where = "" if target == "local" else f"Running on remote compute: {target}\n"
    return f"{where}Parent Run ID: {run_id}"


def legend(metric) -> str:
    return f"{LEGEND.format(metric=metric)}\n{HEADER}"


def guardrail_lines(guardrails) -> str:
    """The data guardrails, one line each: status, check, what it found."""
    if not guardrails:
        return ""
    lines = ["DATA GUARDRAILS:"]
    lines += [f"  {g['status'].upper():<8} {g['message']}" for g in guardrails]
    return "\n".join(lines) + "\n"


def score_text(v) -> str:
    """Four decimals; a diverged model's R² of -5.1e+25 in four significant digits, not as
    a 32-character number that breaks the table's columns."""
    return f"{v:.4f}" if abs(v) < 1e6 else f"{v:.4g}"


def _num(v) -> str:
    return "nan" if v is None else score_text(v)


def row(rec: dict, best=None) -> str:
    """One line of the table; `best` is the best score so far, in the order shown."""
    status = rec.get("status")
    metric = _num(rec.get("score")) if status == Status.COMPLETED else str(status)
    duration = rec.get("duration")
    duration = "" if duration is None else f"{duration:.1f}"
    pipeline = rec.get("pipeline") or "(never started)"
    return (f" {rec['iteration']:>9}     {pipeline[:38]:<38} "
            f"{duration:<17} {metric:>10} {_num(best):>9}")
