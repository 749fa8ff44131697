"""automl-widgets: self-hosted automated machine learning for Jupyter."""
import importlib

__version__ = "0.1.0"

# Loaded on first use, so that `python -m automl_widgets.engine.driver` (the detached driver's
# starter) does not pay for scikit-learn before it has forked away.
_EXPORTS = {
    "AutoMLConfig": "config", "ConfigError": "config",
    "AutoMLRun": "client.run", "ChildRun": "client.run", "Run": "client.run",
    "Experiment": "client.workspace", "Workspace": "client.workspace",
    "LocalCompute": "compute", "RunConfiguration": "compute", "DaskCompute": "compute",
    "SSHCompute": "compute",
    "RunDetails": "widget", "Status": "protocol", "ComputeTarget": "compute",
    "ComputeTargetException": "compute", "Model": "client.models",
    "onnx_inputs": "client.onnx_export",
}
__all__ = sorted(_EXPORTS)


def _jupyter_server_extension_points():   # the REST API behind the JupyterLab panel
    return [{"module": "automl_widgets.server"}]


def _jupyter_labextension_paths():          # the panel itself, built into the wheel
    return [{"src": "labextension", "dest": "automl-widgets"}]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'automl_widgets' has no attribute {name!r}")


def __dir__():
    return __all__ + ["__version__"]
