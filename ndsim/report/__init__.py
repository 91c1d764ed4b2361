"""Figures and tables from an ndsim output file (SPEC §6), never from the model.

- :func:`write_all` — every figure the file has the variables for;
- :func:`sankey_links` — one year of the `flow` variable as Sankey links;
- :func:`write_csv` / :func:`read_csv` — tidy CSV export and its reader.

Plotting libraries (matplotlib, plotly) are imported only when a figure is
drawn, and the modules above only when one of their names is first used (a
run's summary needs only :mod:`ndsim.report._select`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ndsim.report.figures import write_all
    from ndsim.report.sankey import sankey_links
    from ndsim.report.tables import read_csv, write_csv

__all__ = ["read_csv", "sankey_links", "write_all", "write_csv"]

#: public name -> the module that defines it (imported on first use)
_LAZY = {
    "write_all": "ndsim.report.figures",
    "sankey_links": "ndsim.report.sankey",
    "read_csv": "ndsim.report.tables",
    "write_csv": "ndsim.report.tables",
}
#: submodules reachable as attributes before their first import (``ndsim.report.figures``)
_SUBMODULES = ("_select", "figures", "sankey", "style", "tables")


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"ndsim.report.{name}")
    raise AttributeError(f"module 'ndsim.report' has no attribute {name!r}")
