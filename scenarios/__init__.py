"""The scenario files shipped with ndsim (read with importlib.resources)."""
