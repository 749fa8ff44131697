"""Install Debian packages a test needs (as root, with apt-get), or say exactly why not.

The suite installs the real components it tests against (openssh-server, chromium) rather
than skipping: `ensure(["chromium"])` installs what is missing and raises AptError with
apt's output when it cannot. Package scripts are kept from starting services (policy-rc.d).
"""
import os
import shlex
import subprocess
import threading

_LOCK = threading.Lock()   # one apt-get at a time within this process


class AptError(RuntimeError):
    """A package could not be installed; the message holds the command and its output."""


def _run(args, check=True, env=None, timeout=1200):
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AptError(f"`{shlex.join(args)}` failed with exit code {proc.returncode}:\n"
                       f"{proc.stdout}{proc.stderr}")
    return proc


def missing(packages) -> list:
    """The packages that dpkg does not list as installed."""
    proc = _run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *packages],
                check=False)
    installed = {line.split()[0] for line in proc.stdout.splitlines()
                 if len(line.split()) > 1 and line.split()[1] == "ii"}
    return [p for p in packages if p not in installed]


def ensure(packages, purpose="the tests") -> list:
    """Install what is missing of `packages` (apt-get update only when needed); returns it."""
    with _LOCK:
        todo = missing(packages)
        if not todo:
            return []
        if os.geteuid() != 0:
            raise AptError(f"{', '.join(todo)} missing for {purpose} and not root: "
                           "cannot apt-get install")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *todo]
        # Keep package scripts from starting services (a system sshd on port 22, say):
        # invoke-rc.d asks policy-rc.d, and 101 means "action forbidden".
        policy = "/usr/sbin/policy-rc.d"
        added_policy = not os.path.exists(policy)
        if added_policy:
            with open(policy, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(policy, 0o755)
        try:
            have_lists = any("_Packages" in n for n in os.listdir("/var/lib/apt/lists"))
            if not have_lists:
                _run(["apt-get", "update", "-q"], env=env)
            proc = _run(install, check=False, env=env)
            if proc.returncode != 0 and have_lists:   # stale lists: update once, retry
                _run(["apt-get", "update", "-q"], env=env)
                proc = _run(install, check=False, env=env)
            if proc.returncode != 0:
                raise AptError(f"Could not install {', '.join(todo)} for {purpose} "
                               f"(`{shlex.join(install)}`, exit {proc.returncode}):\n"
                               f"{proc.stdout}{proc.stderr}")
        finally:
            if added_policy:
                os.unlink(policy)
        still = missing(todo)
        if still:
            raise AptError(f"apt-get install succeeded but {', '.join(still)} still missing")
        return todo
