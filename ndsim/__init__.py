"""ndsim: fast, labelled, reproducible dynamic material flow analysis.

The public API is small and imported lazily, so that ``import ndsim`` stays
fast (matplotlib, plotly, distributed, pint, netCDF4 and dask load only
when used).
"""

from __future__ import annotations

from ndsim._version import __version__

__all__ = ["__version__", "run", "ensemble", "load_dataset", "inflow_driven", "stock_driven"]

_LAZY = {
    "run": "ndsim.api",
    "ensemble": "ndsim.api",
    "load_dataset": "ndsim.io.readers",
    "inflow_driven": "ndsim.dsm",
    "stock_driven": "ndsim.dsm",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ndsim' has no attribute {name!r}")
