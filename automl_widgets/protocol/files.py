"""The run folder's files, and the small helpers every side uses to read and write them.

    <run_id>/spec.json       validated settings (immutable)
             events.jsonl    append-only JSON lines, each with a rising "seq"
             control/        cancel_run, cancel_iteration.<n>   (written by readers)
             iterations/<n>/ log.txt, model.joblib, result.json, predictions.npz
             data.joblib     in-memory X, y sent with the run
             driver.log, driver.pid, remote.json (SSH: where the remote copy is)
"""
from __future__ import annotations

import json
import math
import os
import time

SPEC, EVENTS, CONTROL, ITERATIONS = "spec.json", "events.jsonl", "control", "iterations"
DRIVER_LOG, DRIVER_PID, INLINE_DATA, REMOTE = "driver.log", "driver.pid", "data.joblib", "remote.json"
# in iterations/<n>/
LOG, MODEL, PREDICTIONS, RESULT = "log.txt", "model.joblib", "predictions.npz", "result.json"
IMPORTANCE = "importance.json"   # an iteration's feature importance, once computed
TRUTH = "truth.npz"              # the held-out labels the predictions are scored against
CANCEL_RUN = "cancel_run"


def cancel_iteration_request(n: int) -> str:
    return f"cancel_iteration.{n}"


def clean(value):
    """JSON has no NaN or inf: write them as null; numpy numbers become plain ones."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def write_json(path, obj) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(clean(obj), f, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def iteration_dir(folder, n) -> str:
    return os.path.join(folder, ITERATIONS, str(n))


def read_from(path, offset: int, whole_lines=False) -> tuple[bytes, int]:
    """The bytes of `path` from `offset` on and the offset to read from next time. With
    whole_lines, a partial last line is left for next time. A missing file reads empty;
    an offset past the end reads empty and stays where it is."""
    try:
        with open(path, "rb") as f:
            if offset >= os.fstat(f.fileno()).st_size:  # seek() refuses huge offsets
                return b"", offset
            f.seek(offset)
            data = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return b"", offset   # not written yet, or something else stands in its place
    if whole_lines:
        data = data[:data.rfind(b"\n") + 1]
    return data, offset + len(data)


def request(folder, name) -> None:
    """Drop a control file (cancel_run, cancel_iteration.<n>) for the driver to act on."""
    control = os.path.join(folder, CONTROL)
    os.makedirs(control, exist_ok=True)
    with open(os.path.join(control, name), "w") as f:
        f.write(str(time.time()))


def requests(folder) -> set[str]:
    try:
        return set(os.listdir(os.path.join(folder, CONTROL)))
    except FileNotFoundError:
        return set()
