"""The library's public entry points: run a scenario, or an ensemble of it, and get a Dataset.

A facade only: every function lives in its own module and is re-exported
here (:func:`ndsim.inputs.prepare`, :func:`ndsim.ensemble.run_ensemble`);
ndsim's own modules import them from there, never from this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ndsim.ensemble import run_ensemble
from ndsim.inputs import prepare

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["prepare", "run", "run_ensemble"]


def run(scenario: str | Path | None = None, *, data: str | Path | None = None) -> xr.Dataset:
    """Run a scenario deterministically.

    Parameters
    ----------
    scenario : str or Path, optional
        A scenario TOML file or a shipped scenario name; default: the shipped
        ``baseline`` (the paper-style China Nd run).
    data : str or Path, optional
        A data-set folder overriding the scenario's ``data``.

    Returns
    -------
    xr.Dataset
        Results following SPEC §6 (see :mod:`ndsim.conventions`).

    Examples
    --------
    >>> import ndsim
    >>> ds = ndsim.run()  # doctest: +SKIP
    >>> float(ds.total_demand.sel(year=2017))  # doctest: +SKIP
    15872.0
    """
    from ndsim import pipeline

    inputs, sc = prepare(scenario, data=data)
    return pipeline.run(inputs, sc)
