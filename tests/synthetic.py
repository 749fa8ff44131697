"""Run folders written here as the driver would write them, for tests and benchmarks of
the readers at sizes no quick real run reaches (2,000 iterations). Only the events are
made up; the spec is a real run's, and everything reads them through the real protocol."""
import json
import os
import uuid

from automl_widgets.protocol import EVENTS, SPEC, read_json, write_json

FAMILIES = ["LightGBM", "random forest", "extra trees", "kNN", "logistic regression"]


class AliveTarget:
    """The target of such a folder: no driver process exists to be checked on."""
    name = "local"

    def mirror(self, folder):
        return None

    def driver_alive(self, folder):
        return True


def new_run_folder(ws, spec_from: str, iterations: int) -> tuple[str, str, int]:
    """A run folder with the spec of the run in `spec_from` (for `iterations`) and the
    run_started and data_loaded events; returns (run id, folder, last seq)."""
    run_id = f"AutoML_{uuid.uuid4()}"
    folder = ws.run_folder(run_id)
    os.makedirs(folder)
    write_json(os.path.join(folder, SPEC), dict(read_json(os.path.join(spec_from, SPEC)),
                                                iterations=iterations))
    append(folder, json.dumps({"seq": 1, "event": "run_started", "time": 999_999.0}) + "\n" +
           json.dumps({"seq": 2, "event": "data_loaded", "time": 999_999.5}) + "\n")
    return run_id, folder, 2


def iterations(first: int, last: int, seq: int, t0=1_000_000.0) -> tuple[str, int]:
    """The started and finished events of iterations first..last-1 (all Completed), as
    the lines to append, and the last seq."""
    lines = []
    for n in range(first, last):
        # A few families and scores that improve now and then, as in a real search (the
        # view's best-so-far steps and per-family table grow with those, not with n).
        for kind, extra in (("iteration_started", {"pipeline": f"Standardize {FAMILIES[n % 5]}",
                                                    "params": {"C": n}}),
                            ("iteration_finished", {"status": "Completed", "duration": 0.1,
                                                    "metrics": {"accuracy": (n % 97) / 100,
                                                                "log_loss": 1 - (n % 89) / 100}})):
            seq += 1
            lines.append(json.dumps({"seq": seq, "event": kind, "time": t0 + seq,
                                     "iteration": n, **extra}))
    return "".join(line + "\n" for line in lines), seq


def append(folder: str, text: str) -> None:
    """One write, as the driver appends."""
    with open(os.path.join(folder, EVENTS), "a") as f:
        f.write(text)
