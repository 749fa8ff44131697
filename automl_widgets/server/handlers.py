"""REST handlers under /automl-widgets/api/: each one translates HTTP to one WorkspaceView
call. Every handler is authenticated (tornado.web.authenticated on jupyter_server's
APIHandler: 403 without a token or session)."""
from __future__ import annotations

import json
import re

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .view import NotFound

RUN = r"(?P<run_id>[^/]+)"       # validated by WorkspaceView.run, never used as a path
ITERATION = r"(?P<iteration>[0-9]{1,9})"
MAX_OFFSET_DIGITS = 4000   # below int()'s limit on digits (4300); far past any log


class _Base(APIHandler):
    @property
    def view(self):
        return self.settings["automl_widgets_view"]

    def reply(self, call, *args):
        try:
            self.finish(json.dumps(call(*args), default=str))
        except NotFound as e:
            raise tornado.web.HTTPError(404, reason=str(e.args[0])[:200]) from None
        except ValueError as e:
            raise tornado.web.HTTPError(400, reason=str(e)[:200]) from None


class WorkspaceHandler(_Base):
    @tornado.web.authenticated
    def get(self):
        self.reply(self.view.describe)


class ExperimentsHandler(_Base):
    @tornado.web.authenticated
    def get(self):
        self.reply(self.view.experiments, self.get_query_argument("since", None))


class RunHandler(_Base):
    @tornado.web.authenticated
    def get(self, run_id):
        self.reply(self.view.detail, run_id)


class ViewHandler(_Base):
    @tornado.web.authenticated
    def get(self, run_id):
        selected = self.get_query_argument("selected", None)
        if selected is not None and not re.fullmatch("[0-9]{1,9}", selected):
            raise tornado.web.HTTPError(400, reason=(
                "The 'selected' query argument must be an iteration number (0 or more). "
                f"Got {selected[:20]!r} instead."))
        self.reply(self.view.view, run_id, self.get_query_argument("since", None),
                   None if selected is None else int(selected))


class LogHandler(_Base):
    @tornado.web.authenticated
    def get(self, run_id, iteration):
        offset = self.get_query_argument("offset", "0")
        if not re.fullmatch(f"[0-9]{{1,{MAX_OFFSET_DIGITS}}}", offset):
            raise tornado.web.HTTPError(400, reason=(
                "The 'offset' query argument must be a non-negative integer (a byte offset "
                f"into the log) of at most {MAX_OFFSET_DIGITS} digits. Got {offset[:20]!r} "
                "instead."))
        self.reply(self.view.log, run_id, int(iteration), int(offset))


class CancelRunHandler(_Base):
    @tornado.web.authenticated
    def post(self, run_id):
        self.reply(self.view.cancel, run_id)


class CancelIterationHandler(_Base):
    @tornado.web.authenticated
    def post(self, run_id, iteration):
        self.reply(self.view.cancel_iteration, run_id, int(iteration))


class TargetsHandler(_Base):
    @tornado.web.authenticated
    def get(self):
        self.reply(self.view.targets)


class ExamplesHandler(_Base):
    @tornado.web.authenticated
    def get(self):
        self.reply(lambda: {"notebooks": self.view.examples()})


ROUTES = [
    ("workspace", WorkspaceHandler),
    ("experiments", ExperimentsHandler),
    ("examples", ExamplesHandler),
    ("targets", TargetsHandler),
    (f"runs/{RUN}", RunHandler),
    (f"runs/{RUN}/view", ViewHandler),
    (f"runs/{RUN}/cancel", CancelRunHandler),
    (f"runs/{RUN}/iterations/{ITERATION}/log", LogHandler),
    (f"runs/{RUN}/iterations/{ITERATION}/cancel", CancelIterationHandler),
]


def setup_handlers(web_app, view):
    base = url_path_join(web_app.settings["base_url"], "automl-widgets", "api")
    web_app.settings["automl_widgets_view"] = view
    web_app.add_handlers(".*$", [(url_path_join(base, path) + "/?", handler)
                                 for path, handler in ROUTES])
