"""The JupyterLab extension as shipped: its front-end unit tests (Vitest), and a wheel
built from this checkout that carries the built extension and the server config."""
import os
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABEXTENSION = os.path.join(ROOT, "labextension")


def _npm(*args, timeout=600):
    if not os.path.isdir(os.path.join(LABEXTENSION, "node_modules")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=LABEXTENSION,
                       check=True, capture_output=True, timeout=timeout)
    return subprocess.run(["npm", *args], cwd=LABEXTENSION, capture_output=True, text=True,
                          timeout=timeout)


def _plain(text):
    """Without colour codes (CI forces colour on), so the summary can be matched."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_front_end_unit_tests_pass():
    done = _npm("test")
    out = _plain(done.stdout + done.stderr)
    assert done.returncode == 0, out
    assert re.search(r"Tests\s+\d+ passed", out) and not re.search(r"\d+ failed", out), out


@pytest.mark.timeout(900)
def test_the_wheel_carries_the_lab_extension_and_the_server_config(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(tmp_path), ROOT], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    wheel, = tmp_path.glob("automl_widgets-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = "automl_widgets-0.1.0.data/data/"
    lab = data + "share/jupyter/labextensions/automl-widgets/"
    assert lab + "package.json" in names and lab + "install.json" in names
    assert any(n.startswith(lab + "static/remoteEntry.") for n in names), names
    assert data + "etc/jupyter/jupyter_server_config.d/automl_widgets.json" in names
    # the run view: its source, its style, and the bundle the notebook widget loads
    for module in ("automl_widgets/server/handlers.py", "automl_widgets/widget/runview.js",
                   "automl_widgets/widget/runview.css", "automl_widgets/widget/static/runview.js"):
        assert module in names
    assert not any("node_modules" in n for n in names)
