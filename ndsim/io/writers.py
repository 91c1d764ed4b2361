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

__all__ = ["write_netcdf", "global_attrs"]


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
            "Conventions": "CF-1.8",
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
    out = ds.copy()
    out.attrs = global_attrs(ds)
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
