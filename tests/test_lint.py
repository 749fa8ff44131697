"""The import contracts (pyproject.toml [tool.importlinter]) and ruff hold for the code."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)   # the venv's tools, next to its python


@pytest.mark.parametrize("argv", [
    ["lint-imports"],
    ["ruff", "check", "automl_widgets", "tests", "benchmarks"],
], ids=["lint-imports", "ruff"])
def test_tool_passes(argv):
    done = subprocess.run([os.path.join(BIN, argv[0]), *argv[1:]], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
