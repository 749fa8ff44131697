"""What runs in the kernel, the CLI and the server: Workspace, Experiment, Run, console."""
