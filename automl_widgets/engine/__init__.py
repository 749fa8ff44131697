"""What runs on the target: the driver, its iteration processes, search, catalog use,
ensembles and data loading. Imports nothing from client, compute, widget or server."""
