"""A real `jupyter lab` (or Notebook 7) on 127.0.0.1 and Debian's Chromium driven by Playwright.

    with JupyterLab(root) as lab, Browser() as browser:
        page = browser.open(lab.url("lab/tree/run.ipynb"))

Chromium is Debian's package (installed here when missing, see debpkg.py); Playwright only
drives it through `executable_path`, it never downloads a browser. The server gets its own
settings, workspaces and runtime folders, so nothing of the machine's Jupyter leaks in, and
everything it would fetch from the internet (news, update checks) is switched off.
"""
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import debpkg

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.environ.get("AUTOML_ARTIFACTS") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "artifacts")
# Headless Chromium on a closed network stalls without these.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking",
                 "--disable-component-update", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-default-apps"]


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    APP, MODULE = "LabApp", "jupyterlab"

    def __init__(self, root, env=None, startup_timeout=120):
        self.root, self.extra_env, self.startup_timeout = str(root), env or {}, startup_timeout
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.proc = None

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}/{path}{'&' if '?' in path else '?'}token={self.token}"

    def start(self):
        self.home = tempfile.mkdtemp(prefix="automl-lab-")
        env = dict(os.environ, **self.extra_env)
        env.update({
            "JUPYTER_CONFIG_DIR": os.path.join(self.home, "config"),
            "JUPYTER_RUNTIME_DIR": os.path.join(self.home, "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": os.path.join(self.home, "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": os.path.join(self.home, "workspaces"),
        })
        # No "get notified about Jupyter news?" toast over the page.
        settings = os.path.join(self.home, "settings", "@jupyterlab", "apputils-extension")
        os.makedirs(settings)
        with open(os.path.join(settings, "notification.jupyterlab-settings"), "w") as f:
            f.write('{"fetchNews": "false"}')
        self.log_path = os.path.join(self.home, "jupyter.log")
        argv = [sys.executable, "-m", self.MODULE, "--no-browser", "--allow-root",
                "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                f"--{self.APP}.expose_app_in_browser=True"]   # window.jupyterapp, for commands
        if self.APP == "LabApp":
            argv += ["--LabApp.news_url=None",
                     "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.root, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while True:   # ready once the REST API answers
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.MODULE} exited with {self.proc.returncode}:\n"
                                   + self.output())
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.MODULE} did not answer within "
                                   f"{self.startup_timeout} s:\n{self.output()}")
            try:   # look again in 0.2 s, or at once if the server exits meanwhile
                self.proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-5000:]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)   # the server and the kernels it started
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Notebook7(JupyterLab):
    """The same server with Jupyter Notebook 7's front end (`jupyter notebook`)."""
    APP, MODULE = "JupyterNotebookApp", "notebook"


class Browser:
    """Headless Chromium with a fresh profile; `open(url)` gives a Playwright page."""

    def __init__(self, width=1400, height=1000):
        self.size = {"width": width, "height": height}

    def start(self):
        debpkg.ensure(["chromium"], "the browser tests")
        from playwright.sync_api import sync_playwright
        self.profile = tempfile.mkdtemp(prefix="automl-chromium-")
        self.playwright = sync_playwright().start()
        self.context = self.playwright.chromium.launch_persistent_context(
            self.profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport=self.size)
        self.context.set_default_timeout(60_000)
        return self

    def open(self, url):
        page = self.context.new_page()
        page.goto(url)
        return page

    def stop(self):
        self.context.close()
        self.playwright.stop()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def lab_command(page, command, args=None):
    """Start a JupyterLab command (window.jupyterapp.commands); does not wait for its end
    (running cells ends when they do)."""
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands")
    page.evaluate("([c, a]) => { window.jupyterapp.commands.execute(c, a); }",
                  [command, args or {}])


def run_all_cells(page):
    """Run every cell of the open notebook once its kernel is connected and idle (asked
    earlier, JupyterLab would open its "Select Kernel" dialog over the page)."""
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_function("""() => {
        const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        const kernel = w && w.sessionContext && w.sessionContext.isReady &&
                       w.sessionContext.session && w.sessionContext.session.kernel;
        return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
    }""", timeout=120_000)
    lab_command(page, "notebook:run-all-cells")
    page.wait_for_function(r"""() => [...document.querySelectorAll('.jp-InputPrompt')]
        .some(e => /\[(\*|\d+)\]/.test(e.textContent))""")   # a cell has started


def screenshot(page, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name)
    page.screenshot(path=path, full_page=False)
    return path
