"""Writing results: one NetCDF file per run, CF attributes, written atomically (SPEC §6)."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim._version import __version__
from ndsim.io.atomic import atomic_target

__all__ = ["write_netcdf", "global_attrs", "cf_prepare"]

#: unit strings UDUNITS cannot read, and the UDUNITS string written in their place; the
#: ndsim string (which says more: persons, households, currency) stays in ``ndsim_units``
UDUNITS_EQUIVALENT = {
    "person": "1",
    "household": "1",
    "person yr USD-1": "yr",
    "count person-1": "count",
    "count household-1": "count",
    "USD person-1 yr-1": "yr-1",
}
#: long names of the coordinates of an output file
COORD_LONG_NAMES = {
    cv.YEAR: "calendar year",
    cv.PRODUCT: "end use",
    cv.SOURCE: "ore source of official mining",
    cv.INTERMEDIATE: "intermediate product",
    cv.STAGE: "trade level",
    cv.ORIGIN: "process or node a flow leaves",
    cv.DESTINATION: "process or node a flow enters",
    cv.DRAW: "Monte Carlo draw",
    "stat": "statistic over the ensemble's draws",
    "scenario": "supply scenario",
    "measurement": "measured flow of the reconciled upstream",
    "process": "process",
    "input": "sampled input (sensitivity analysis)",
    "target": "output whose variance is decomposed (sensitivity analysis)",
    "name": "name of the end use",
    "category": "category of the end use",
    "group": "forecast group of the end use",
    "in_total_demand": "end use counted in the paper's total demand",
    "forecast_method": "forecast method of the end use",
    "ownership_basis": "unit the ownership statistic is counted per",
    "ownership_group": "end uses one ownership statistic covers",
    "count_unit": "unit in which the end use is counted",
    "product_intermediate": "intermediate product the end use is made from",
    "variant": "lifetime table",
    "run_scenario": "scenario of the run",
}
REFERENCES = (
    "Yao, Geng, Sarkis, Xiao & Gao (2021), Dynamic neodymium stocks and flows analysis in "
    "China, Resources, Conservation and Recycling 174:105752, doi:10.1016/j.resconrec.2021.105752 "
    "(the default case); ndsim (CITATION.cff)"
)


def cf_prepare(ds: xr.Dataset) -> xr.Dataset:
    """CF-1.11 housekeeping of an output (SPEC §6), applied by every writer.

    Every coordinate gets a ``long_name``; ``year`` stays an integer coordinate with no
    ``units`` (a calendar year is not a duration); booleans get ``flag_values`` and
    ``flag_meanings``; ``draw`` is a ``realization``; unit strings UDUNITS cannot read are
    written as their UDUNITS equivalent with ndsim's own in ``ndsim_units``; a scalar
    coordinate ``run_scenario`` names the scenario, so files concatenated along a new
    dimension keep it; ``references`` and ``institution`` are set.
    """
    out = ds.copy()
    scenario = str(out.attrs.get("scenario", ""))
    if scenario and "run_scenario" not in out.coords:
        out = out.assign_coords(run_scenario=scenario)
    for name in list(out.variables):
        attrs = dict(out[name].attrs)
        if name in out.coords and "long_name" not in attrs:
            attrs["long_name"] = COORD_LONG_NAMES.get(str(name), str(name).replace("_", " "))
        if name == cv.YEAR:
            attrs.pop("units", None)
            attrs["long_name"] = COORD_LONG_NAMES[cv.YEAR]
        if name == cv.DRAW:
            attrs["standard_name"] = "realization"
        if out[name].dtype == bool:
            attrs["flag_values"] = np.array([0, 1], dtype="i1")
            attrs["flag_meanings"] = "false true"
        unit = attrs.get("units")
        if isinstance(unit, str) and unit in UDUNITS_EQUIVALENT:
            attrs["ndsim_units"] = unit
            attrs["units"] = UDUNITS_EQUIVALENT[unit]
        out[name].attrs = attrs
    out.attrs.setdefault("references", REFERENCES)
    out.attrs.setdefault("institution", "ndsim (open-source software; see CITATION.cff)")
    return out


def global_attrs(ds: xr.Dataset, *, now: _dt.datetime | None = None) -> dict[str, str | int]:
    """The global attributes of an output file (SPEC §6), completed from what the run recorded.

    Keys: ``Conventions``, ``title``, ``history``, ``ndsim_version``,
    ``schema_version``, ``scenario``, ``scenario_file``, ``scenario_sha256``,
    ``dataset``, ``dataset_sha256``, ``seed``, ``draws``, ``lifetime_timing``,
    ``creation_time`` and whatever else the run put in ``ds.attrs``.
    """
    now = now or _dt.datetime.now(_dt.UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    attrs = dict(ds.attrs)
    draws = int(attrs.get("draws", ds.sizes.get(cv.DRAW, 0)))
    line = (
        f"{stamp}: ndsim {__version__} run, scenario {attrs.get('scenario_file', '') or attrs.get('scenario', '')}"
        f" (sha256 {str(attrs.get('scenario_sha256', ''))[:12]}), data set {attrs.get('dataset', '')}"
        f" (sha256 {str(attrs.get('dataset_sha256', ''))[:12]}), draws {draws}"
    )
    history = attrs.get("history")
    attrs.update(
        {
            "Conventions": "CF-1.11",
            "title": attrs.get("title", "ndsim results"),
            "history": f"{history}\n{line}" if history else line,
            "ndsim_version": __version__,
            "schema_version": attrs.get("schema_version", cv.SCHEMA_VERSION),
            "scenario": attrs.get("scenario", ""),
            "scenario_file": attrs.get("scenario_file", ""),
            "scenario_sha256": attrs.get("scenario_sha256", ""),
            "dataset": attrs.get("dataset", ""),
            "dataset_sha256": attrs.get("dataset_sha256", ""),
            "seed": attrs.get("seed", ""),
            "draws": draws,
            "lifetime_timing": attrs.get("lifetime_timing", cv.DEFAULT_TIMING),
            "creation_time": stamp,
            "references": attrs.get("references", REFERENCES),
            "institution": attrs.get(
                "institution", "ndsim (open-source software; see CITATION.cff)"
            ),
            "source": "ndsim, dynamic material flow analysis (https://doi.org/10.1016/j.resconrec.2021.105752 for the default case)",
        }
    )
    return {k: _attr_value(v) for k, v in attrs.items()}


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a results Dataset to a NetCDF-4 file, atomically.

    Parameters
    ----------
    ds : xr.Dataset
        Output of :func:`ndsim.pipeline.run` (or an ensemble summary).
    path : str or PathLike
        Target file; its folder is created. The file is either absent, the
        previous complete file or the new complete file, never partial.

    Returns
    -------
    Path
        The path written.
    """
    target = Path(path)
    out = cf_prepare(ds)
    out.attrs = global_attrs(out)
    for name in list(out.variables):
        out[name].attrs = {k: _attr_value(v) for k, v in out[name].attrs.items()}
    encoding = {
        name: {"zlib": True, "complevel": 4, "_FillValue": np.nan}
        for name, var in out.data_vars.items()
        if np.issubdtype(var.dtype, np.floating)
    }
    with atomic_target(target) as tmp:
        out.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
    return target


def _attr_value(v):
    """NetCDF attributes hold strings and numbers only."""
    if isinstance(v, bool | np.bool_):
        return int(v)
    if v is None:
        return ""
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, list | tuple) and not all(isinstance(x, int | float | str) for x in v):
        return str(v)
    return v
