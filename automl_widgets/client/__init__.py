"""What runs in the kernel, the CLI and the server: Workspace, Experiment, Run, console."""
from ..protocol import Status  # the run and iteration statuses users compare against

__all__ = ["Status"]
