"""The library's entry points: run a scenario, or an ensemble of it, and get an xarray Dataset."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

__all__ = ["run", "ensemble", "prepare"]


def prepare(
    scenario: str | Path | None = None, *, data: str | Path | None = None
) -> tuple[xr.Dataset, object]:
    """Load and check a scenario and its data set, before any computation.

    Parameters
    ----------
    scenario : str or Path, optional
        A scenario file or the name of a shipped scenario; default ``baseline``.
    data : str or Path, optional
        A data-set folder overriding the scenario's ``data``.

    Returns
    -------
    (inputs, scenario)
        The canonical input Dataset and the :class:`ndsim.scenario.Scenario`.

    Raises
    ------
    ndsim.errors.ScenarioError, ndsim.errors.ValidationError
        Bad scenario or data, with a one-line message naming file and field.
    """
    from ndsim.errors import UsageError
    from ndsim.io.readers import load_dataset
    from ndsim.scenario import apply_lifetimes, check_against, load_scenario

    sc = load_scenario(scenario)
    if data is not None:
        folder = Path(data)
        if not folder.is_dir():
            raise UsageError(f"--data {data}: no such folder")
    else:
        folder = sc.data_path()
    inputs = load_dataset(folder)
    check_against(sc, inputs)
    return apply_lifetimes(sc, inputs), sc


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


def ensemble(scenario: str | Path | None = None, **kwargs) -> xr.Dataset:
    """Run a Monte Carlo ensemble of a scenario (see :func:`ndsim.ensemble.run_ensemble`)."""
    from ndsim.ensemble import run_ensemble

    return run_ensemble(scenario, **kwargs)
