"""prepare() for SSH targets: find the remote Python and give it a run environment with
the same numpy/scipy/scikit-learn/joblib/pandas as this side, plus this package uploaded.

Remote layout, under the user's home:
    <remote_root>/envs/<key>/      a virtual environment per set of pinned versions
    <remote_root>/pkg/<hash>/      this package's source, by content hash
A second prepare of an unchanged target costs three quick commands: probe the remote
Python, probe the environment's package versions, find the package folder.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import sys
import tarfile
from importlib import metadata

from .ssh import SSHError


def _installed(*names) -> str:
    """The first of these distributions installed here (xgboost comes as either)."""
    for name in names:
        try:
            metadata.version(name)
            return name
        except metadata.PackageNotFoundError:
            pass
    return names[0]


# Must equal this side's: models are pickled there and loaded here.
PINNED = ("numpy", "scipy", "scikit-learn", "joblib", "pandas", "lightgbm",
          _installed("xgboost-cpu", "xgboost"))
RUNTIME = ("threadpoolctl", "optuna", "psutil", "cloudpickle")                            # any recent version
_MODULES = {"scikit-learn": "sklearn", "xgboost-cpu": "xgboost"}

PROBE = """
import json, os, sys
from importlib import metadata
found = {}
for name in %r:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        found[name] = None
print(json.dumps({"python": sys.version.split()[0], "executable": sys.executable,
                  "home": os.path.expanduser("~"), "packages": found}))
"""


def local_versions() -> dict:
    return {name: metadata.version(name) for name in PINNED + RUNTIME}


def package_archive() -> tuple[str, bytes]:
    """This package's .py files as a tar.gz, and their content hash."""
    import automl_widgets
    root = os.path.dirname(automl_widgets.__file__)
    files = sorted(os.path.relpath(os.path.join(d, f), root)
                   for d, _, names in os.walk(root) for f in names if f.endswith(".py"))
    digest = hashlib.sha256()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel in files:
            data = open(os.path.join(root, rel), "rb").read()
            digest.update(rel.encode() + b"\0" + data)
            info = tarfile.TarInfo(posixpath.join("automl_widgets", rel))
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    return digest.hexdigest()[:16], buf.getvalue()


def _explain(what, argv, code, out, err, todo) -> SSHError:
    shown = " ".join(argv) if isinstance(argv, list) else argv
    output = (err or out).strip()[-2000:]
    return SSHError(f"{what}: the remote command `{shown}` exited with {code}.\n"
                    f"{output}\nWhat to do: {todo}")


def prepare(target, client, progress=print) -> dict:
    """Make the target's run environment if needed; returns {"python", "pkg", "home"}."""
    wanted = local_versions()
    probe = [target.python_path, "-c", PROBE % (list(wanted),)]
    code, out, err = target.run(probe, client, timeout=60)
    if code != 0:
        raise _explain(f"The remote Python {target.python_path!r} does not run", probe[:1],
                       code, out, err, "install Python 3 on the remote, or set python_path= "
                       "to its path when attaching the target.")
    info = json.loads(out.strip().splitlines()[-1])
    if info["python"].split(".")[:2] != sys.version.split()[0].split(".")[:2]:
        progress(f"note: remote Python {info['python']}, local {sys.version.split()[0]}")
    home = info["home"]
    root = posixpath.join(home, target.remote_root)
    have = info["packages"]
    lines = []
    def note(line):  # remembers whether anything was done, to verify only then
        lines.append(line)
        progress(line)
    if all(have.get(p) == wanted[p] for p in PINNED) and all(have.get(p) for p in RUNTIME):
        python = target.python_path   # that environment already has everything: use it
    else:
        python = _make_env(target, client, root, wanted, note)
    pkg = _upload_package(target, client, root, note)
    if not lines:  # environment and package found as they should be: nothing changed
        return {"python": python, "pkg": pkg, "home": home}
    check = [python, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
             "import automl_widgets.engine.driver, automl_widgets.engine.prepare, sklearn", pkg]
    code, out, err = target.run(check, client, timeout=120)
    if code != 0:
        raise _explain("The run environment does not import", check, code, out, err,
                       "run prepare() again; if it persists, remove "
                       f"{root} on the remote and prepare again.")
    return {"python": python, "pkg": pkg, "home": home}


def _make_env(target, client, root, wanted, progress) -> str:
    key = hashlib.sha256(json.dumps([target.python_path, wanted], sort_keys=True)
                         .encode()).hexdigest()[:12]
    env = posixpath.join(root, "envs", key)
    python = posixpath.join(env, "bin", "python")
    # Ask the environment itself rather than trust a marker: one broken by hand (a package
    # removed or changed) is repaired here instead of failing at the first run.
    code, out, _ = target.run([python, "-c", PROBE % (list(wanted),)], client, timeout=60)
    if code == 0:
        found = json.loads(out.strip().splitlines()[-1])["packages"]
        wrong = [p for p in PINNED if found.get(p) != wanted[p]] + \
                [p for p in RUNTIME if not found.get(p)]
        if not wrong:
            return python
        progress(f"Preparing {target.name}: the environment {env} lacks "
                 + ", ".join(f"{p}=={wanted[p]} (has {found.get(p) or 'none'})"
                             for p in wrong) + "; repairing it")
    else:
        progress(f"Preparing {target.name}: creating a Python environment in {env}")
    argv = ["mkdir", "-p", "-m", "700", root]
    code, out, err = target.run(argv, client, timeout=30)
    if code != 0:
        raise _explain("Cannot create the remote folder", argv, code, out, err,
                       "check the user's home is writable.")
    argv = [target.python_path, "-m", "venv", env]
    code, out, err = target.run(argv, client, timeout=300)
    if code != 0:
        raise _explain("Cannot create a virtual environment", argv, code, out, err,
                       "install the venv module on the remote (Debian/Ubuntu: "
                       "apt-get install python3-venv) or set python_path= to a Python "
                       "that has numpy, scipy and scikit-learn of the versions: "
                       + ", ".join(f"{k}=={v}" for k, v in wanted.items()))
    pins = [f"{p}=={wanted[p]}" for p in PINNED] + [f"{p}>={wanted[p].split('.')[0]}"
                                                    for p in RUNTIME]
    progress(f"Preparing {target.name}: pip install {' '.join(pins)} (a few minutes "
             "the first time)")
    argv = [python, "-m", "pip", "install", "--disable-pip-version-check",
            "--no-input", "-q"] + pins
    code, out, err = target.run(argv, client, timeout=1800)
    if code != 0:  # no package index over there? Bring the wheels from this side.
        progress(f"Preparing {target.name}: the remote pip could not install ({_last(err)}); "
                 "uploading wheels from this machine instead")
        argv = _install_uploaded_wheels(target, client, root, python, pins, progress)
        code, out, err = target.run(argv, client, timeout=1800)
    if code != 0:
        raise _explain("Installing the run environment failed", argv, code, out, err,
                       "check the remote reaches a package index (pip), or give "
                       "python_path= of an environment that already has these packages "
                       "(numpy, scipy, scikit-learn, joblib, pandas of the versions above).")
    progress(f"Preparing {target.name}: environment ready")
    return python


def _last(text) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def _install_uploaded_wheels(target, client, root, python, pins, progress) -> list:
    """Download the pinned wheels here (same Python and platform as the remote is
    required for that) and upload them; returns the remote pip command that uses them."""
    import subprocess
    import tempfile
    code, out, err = target.run([python, "-c", "import sys, sysconfig; "
                                 "print(sys.version_info[:2], sysconfig.get_platform())"],
                                client, timeout=60)
    import sysconfig
    here = f"{tuple(sys.version_info[:2])} {sysconfig.get_platform()}"
    if code != 0 or out.strip() != here:
        raise SSHError(f"The remote reaches no package index, and its Python/platform "
                       f"({out.strip() or err.strip()}) differs from this side's ({here}), so "
                       "wheels from here would not fit. Give the remote access to a package "
                       "index, or python_path= of an environment with: " + " ".join(pins))
    folder = tempfile.mkdtemp(prefix="automl-wheels-")
    argv = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "-q", "-d",
            folder] + pins
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SSHError(f"The remote reaches no package index, and downloading the wheels "
                       f"here failed too: {_last(done.stderr)}")
    remote = posixpath.join(root, "wheels")
    target.run(["mkdir", "-p", "-m", "700", remote], client, timeout=30)
    sftp = client.open_sftp()
    try:
        names = sorted(os.listdir(folder))
        progress(f"Preparing {target.name}: uploading {len(names)} wheels")
        for name in names:
            sftp.put(os.path.join(folder, name), posixpath.join(remote, name))
    finally:
        sftp.close()
    return [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q",
            "--no-index", "--find-links", remote] + pins


def _upload_package(target, client, root, progress) -> str:
    digest, archive = package_archive()
    pkg = posixpath.join(root, "pkg", digest)
    code, _, _ = target.run(["test", "-f", posixpath.join(pkg, "automl_widgets",
                                                           "__init__.py")], client, timeout=30)
    if code == 0:
        return pkg
    progress(f"Preparing {target.name}: uploading automl_widgets ({len(archive)} bytes)")
    argv = ["sh", "-c", 'mkdir -p -m 700 "$1" && tar -xzf - -C "$1"', "-", pkg]
    sftp_free = target.run(argv, client, timeout=120, stdin_data=archive)
    if sftp_free[0] != 0:
        raise _explain("Uploading the package failed", argv, *sftp_free,
                       "check the remote has tar and free space in the home folder.")
    return pkg
