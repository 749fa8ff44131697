"""The notebook widgets: RunDetails(run).show()."""
from .details import RunDetails

__all__ = ["RunDetails"]
