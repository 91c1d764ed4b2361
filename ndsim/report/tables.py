"""Open an ndsim output file; export it as tidy CSV and read such CSV back.

The CSV export is for users without xarray: one file per variable with one
row per value, the columns being the variable's dimensions, then ``value``
and ``units`` (a tidy, "long" table). Next to them, ``variables.csv`` lists
every variable with its dimensions, units, long name and description,
``coordinates_<dim>.csv`` holds the non-dimension coordinates of a
dimension (e.g. each product's category and group, SPEC §1), and
``attributes.csv`` the global attributes (provenance, SPEC §6).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ndsim import conventions as cv
from ndsim.errors import UsageError, ValidationError
from ndsim.io.atomic import atomic_target

#: rows written per block, so large (per-draw) variables are never expanded in memory at once
BLOCK_ROWS = 2_000_000
_INTEGER = re.compile(r"^-?\d+$")


def open_output(path: str | os.PathLike) -> xr.Dataset:
    """Open an ndsim output NetCDF file, checking that it is one.

    Raises
    ------
    ndsim.errors.UsageError
        The file does not exist.
    ndsim.errors.ValidationError
        It is not a NetCDF file, or it holds none of the output variables of
        SPEC §6 over a `year` dimension.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such file")
    try:
        ds = xr.open_dataset(p)
    except Exception as exc:  # netCDF4/h5netcdf/scipy raise many types for a bad file
        raise ValidationError(f"not a NetCDF file ({type(exc).__name__})", file=str(p)) from None
    known = [name for name in cv.CONTRACT_VARIABLES if name in ds.data_vars]
    if not known or cv.YEAR not in ds.dims:
        ds.close()
        raise ValidationError(
            "not an ndsim output file: none of the output variables "
            f"({', '.join(cv.CONTRACT_VARIABLES[:4])}, ...) over a 'year' dimension",
            file=str(p),
        )
    return ds


#: largest ensemble whose draws `ndsim plot` reads for exact group bands [draws]
MAX_PLOT_DRAWS = 200_000


def open_draws(path: str | os.PathLike, max_draws: int = MAX_PLOT_DRAWS) -> xr.Dataset | None:
    """The per-draw output of a ``--full`` ensemble file (its ``draws`` group), if any.

    Returns None when the file has no ``draws`` group, or more than
    `max_draws` draws (the figures then use the summaries alone, so memory
    stays bounded).
    """
    try:
        import netCDF4

        with netCDF4.Dataset(path) as nc:
            if "draws" not in nc.groups or cv.DRAW not in nc["draws"].dimensions:
                return None
            if len(nc["draws"].dimensions[cv.DRAW]) > max_draws:
                return None
    except (ImportError, OSError):
        return None
    return xr.open_dataset(path, group="draws")


def write_csv(ds: xr.Dataset, out_dir: str | os.PathLike) -> list[Path]:
    """Write every variable of `ds` as a tidy CSV file (atomically).

    Parameters
    ----------
    ds : xarray.Dataset
        An ndsim output Dataset.
    out_dir : str or Path
        Target folder (created if needed).

    Returns
    -------
    list of Path
        ``<variable>.csv`` for every data variable, then ``variables.csv``,
        ``coordinates_<dim>.csv`` where a dimension has non-dimension
        coordinates, and ``attributes.csv``.

    Notes
    -----
    Values are written with the shortest representation that reads back to
    the same float64 (pandas' default); missing values are empty fields.

    Examples
    --------
    >>> write_csv(xr.open_dataset("ndsim_baseline.nc"), "csv")  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    meta = []
    for name, da in ds.data_vars.items():
        written.append(_write_variable(da, out / f"{name}.csv"))
        meta.append(
            {
                "variable": name,
                "dims": " ".join(str(d) for d in da.dims),
                "units": da.attrs.get("units", ""),
                "long_name": da.attrs.get("long_name", ""),
                "description": da.attrs.get("description", ""),
            }
        )
    written.append(
        _write_frame(
            pd.DataFrame(meta, columns=["variable", "dims", "units", "long_name", "description"]),
            out / "variables.csv",
        )
    )
    for dim in ds.dims:
        extra = [c for c, v in ds.coords.items() if c != dim and v.dims == (dim,)]
        if extra:
            frame = pd.DataFrame({dim: ds[dim].values, **{c: ds[c].values for c in extra}})
            written.append(_write_frame(frame, out / f"coordinates_{dim}.csv"))
    attrs = pd.DataFrame([(k, str(v)) for k, v in ds.attrs.items()], columns=["attribute", "value"])
    written.append(_write_frame(attrs, out / "attributes.csv"))
    return written


def _write_frame(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_target(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def _write_variable(da: xr.DataArray, path: Path) -> Path:
    units = da.attrs.get("units", "")
    dims = list(da.dims)
    with atomic_target(path) as tmp, open(tmp, "w", newline="") as fh:
        if not dims:
            pd.DataFrame({"value": [da.values.item()], "units": [units]}).to_csv(fh, index=False)
            return path
        lead = dims[0]
        per_lead = max(1, int(np.prod([da.sizes[d] for d in dims[1:]], dtype=np.int64)))
        step = max(1, BLOCK_ROWS // per_lead)
        header = True
        for start in range(0, da.sizes[lead], step):
            block = da.isel({lead: slice(start, start + step)})
            frame = block.to_series().rename("value").reset_index()
            frame["units"] = units
            frame.to_csv(fh, index=False, header=header)
            header = False
    return path


def read_csv(csv_dir: str | os.PathLike) -> xr.Dataset:
    """Read a folder written by :func:`write_csv` back into a Dataset.

    Coordinates keep the order of the file; units, long names, descriptions,
    non-dimension coordinates and global attributes (as strings) are
    restored.
    """
    folder = Path(csv_dir)
    index = folder / "variables.csv"
    if not index.is_file():
        raise ValidationError("missing: not a folder written by 'ndsim export'", file=str(index))
    meta = pd.read_csv(index, keep_default_na=False, dtype=str)
    variables = {}
    for row in meta.to_dict("records"):
        dims = row["dims"].split()
        frame = pd.read_csv(
            folder / f"{row['variable']}.csv",
            dtype={d: str for d in dims} | {"units": str, "value": str},
            keep_default_na=False,
        )
        frame["value"] = _values(frame["value"])
        attrs = {k: row[k] for k in ("units", "long_name", "description") if row[k]}
        if not dims:
            variables[row["variable"]] = xr.DataArray(frame["value"].iloc[0], attrs=attrs)
            continue
        for d in dims:
            frame[d] = _typed(frame[d])
        order = {d: pd.unique(frame[d]) for d in dims}
        da = frame.set_index(dims)["value"].to_xarray().reindex(order)
        da.attrs = attrs
        variables[row["variable"]] = da
    ds = xr.Dataset(variables)
    for path in sorted(folder.glob("coordinates_*.csv")):
        dim = path.stem[len("coordinates_") :]
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame[dim] = _typed(frame[dim])
        if dim in ds.dims:
            frame = frame.set_index(dim).reindex(ds[dim].values)
            ds = ds.assign_coords({c: (dim, frame[c].to_numpy()) for c in frame.columns})
    attrs_path = folder / "attributes.csv"
    if attrs_path.is_file():
        attrs = pd.read_csv(attrs_path, dtype=str, keep_default_na=False)
        ds.attrs = dict(zip(attrs["attribute"], attrs["value"], strict=True))
    return ds


def _values(column: pd.Series) -> pd.Series:
    """Values back to float64 with Python's correctly rounded parser (bit-exact round trip).

    Empty fields are missing values; a column that is not numeric stays text.
    """
    try:
        return pd.Series([float(v) if v != "" else np.nan for v in column], index=column.index)
    except ValueError:
        return column


def _typed(column: pd.Series) -> pd.Series:
    """Integer coordinate values (years, draws) back to int; everything else stays a string."""
    if len(column) and column.map(lambda v: bool(_INTEGER.match(v))).all():
        return column.astype(np.int64)
    return column


# --- IAMC table -------------------------------------------------------------------------

#: the variables of the IAMC table and their names there (the element is added after the
#: first level: "Domestic Consumption|Nd|...")
IAMC_VARIABLES = {
    "total_demand": "Total Demand",
    "domestic_consumption": "Domestic Consumption",
    "inflow": "Use Inflow",
    "outflow": "End-of-Life Flow",
    "stock": "In-Use Stock",
    "exports_final": "Exports|Final Products",
    "imports_final": "Imports|Final Products",
    "mining": "Mining|Official",
    "mining_unregistered": "Mining|Unregistered",
    "mining_total": "Mining|Total",
    "intermediate_production": "Production|Intermediate",
    "primary_supply": "Supply|Primary",
    "secondary_supply": "Supply|Secondary",
    "supply_requirement": "Supply|Requirement",
    "supply_gap": "Supply|Gap",
}


def _iamc_unit(unit: str) -> str:
    """A UDUNITS string as IAMC tables write it: ``t yr-1`` -> ``t/yr``."""
    parts = unit.split()
    num = [p for p in parts if not p.endswith("-1")]
    den = [p[:-2] for p in parts if p.endswith("-1")]
    text = " ".join(num) or "1"
    return text + ("/" + "/".join(den) if den else "")


def iamc_table(ds: xr.Dataset, *, model: str = "ndsim", region: str | None = None):
    """The output as an IAMC-format table (model, scenario, region, variable, unit, years).

    One row per variable and label: ``Domestic Consumption|Nd|air conditioners``,
    ``Mining|Nd|Official|MON``, ``Supply|Nd|Primary|S1``; ensemble files give their
    central value (the deterministic run). The scenario column is the run's scenario;
    the region is the file's ``region`` attribute, else the data set's name.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``scenario``, ``region``, ``variable``, ``unit`` and one per
        year (wide, as pyam and remind-mfa read it).
    """
    import pandas as pd

    from ndsim.report import _select

    element = str(ds.attrs.get("element", "Nd"))
    region = region or str(ds.attrs.get("region", "") or ds.attrs.get("dataset", "") or "World")
    scenario = str(ds.attrs.get("scenario", ""))
    years = [int(y) for y in ds[cv.YEAR].values]
    names = ds["name"] if "name" in ds.coords else None
    rows = []
    for var, label in IAMC_VARIABLES.items():
        if var not in ds.data_vars:
            continue
        da = _select.central(ds[var])
        first, _, rest = label.partition("|")
        base = f"{first}|{element}" + (f"|{rest}" if rest else "")
        unit = _iamc_unit(str(ds[var].attrs.get("units", "")))
        other = [d for d in da.dims if d != cv.YEAR]
        if len(other) > 1:
            continue
        if not other:
            rows.append((base, unit, da.transpose(cv.YEAR).values))
            continue
        dim = other[0]
        for lab in da[dim].values:
            text = str(lab)
            if dim == cv.PRODUCT and names is not None:
                text = str(names.sel({cv.PRODUCT: lab}).values)
            rows.append((f"{base}|{text}", unit, da.sel({dim: lab}).transpose(cv.YEAR).values))
    frame = pd.DataFrame(
        [
            {
                "model": model,
                "scenario": scenario,
                "region": region,
                "variable": v,
                "unit": u,
                **dict(zip(years, values.tolist(), strict=True)),
            }
            for v, u, values in rows
        ]
    )
    return frame


def write_iamc(ds: xr.Dataset, path: str | os.PathLike, **kw) -> Path:
    """Write :func:`iamc_table` as CSV, atomically."""
    target = Path(path)
    frame = iamc_table(ds, **kw)
    with atomic_target(target) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.10g")
    return target
