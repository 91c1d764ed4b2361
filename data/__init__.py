"""The data sets shipped with ndsim (read with importlib.resources)."""
