"""The error a bad setting raises, in a module of its own so that every layer can raise it
(the metric registry included, which the run-folder protocol reads)."""


class ConfigError(ValueError):
    """A setting of AutoMLConfig (or the data it names) is not valid."""
