"""The jupyter_server extension behind the JupyterLab "AutoML" panel.

Setting: `c.AutomlWidgets.workspace = "/path/to/workspace"` (traitlets config); without
it, the workspace that Workspace.from_config() finds from the server's root folder.
"""
from __future__ import annotations

from traitlets import Unicode
from traitlets.config import Configurable

from .handlers import setup_handlers
from .view import WorkspaceView


class AutomlWidgets(Configurable):
    workspace = Unicode(
        None, allow_none=True, config=True,
        help="The AutoML workspace the panel shows (a folder holding .automl/config.json, "
             "or the config.json itself). Default: found from the server's root folder.")


def _load_jupyter_server_extension(serverapp):
    settings = AutomlWidgets(parent=serverapp)
    view = WorkspaceView(settings.workspace, serverapp.root_dir)
    setup_handlers(serverapp.web_app, view)
    serverapp.log.info("automl_widgets: the AutoML panel's API is at /automl-widgets/api/")


def _jupyter_server_extension_points():
    return [{"module": "automl_widgets.server"}]
