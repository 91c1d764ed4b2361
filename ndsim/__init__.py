"""ndsim: fast, labelled, reproducible dynamic material flow analysis.

The public API is small and imported lazily, so that ``import ndsim`` stays
fast (matplotlib, plotly, distributed, pint, netCDF4 and dask load only
when used).
"""

from __future__ import annotations

from ndsim._version import __version__

__all__ = [
    "__version__",
    "run",
    "run_ensemble",
    "load_dataset",
    "inflow_driven",
    "stock_driven",
]

#: public name -> the module that defines it (imported on first use)
_LAZY = {
    "run": "ndsim.api",
    "run_ensemble": "ndsim.ensemble",
    "load_dataset": "ndsim.io.readers",
    "inflow_driven": "ndsim.dsm",
    "stock_driven": "ndsim.dsm",
}
#: subpackages reachable as attributes before their first import (``ndsim.ensemble.…``)
_SUBPACKAGES = ("ensemble",)


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"ndsim.{name}")
    raise AttributeError(f"module 'ndsim' has no attribute {name!r}")
