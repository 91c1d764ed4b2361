"""Read a data set (a folder of tidy CSV tables) into the canonical input Dataset.

:func:`load_dataset` checks every table at the boundary
(:func:`ndsim.validate.check_dataset`), converts every value to its
canonical unit and returns one :class:`xarray.Dataset` whose layout is
described in ``docs/data_format.md``. Stages after it trust their input.

Canonical Dataset
-----------------
Dimensions ``product``, ``year`` (first..forecast_last of ``dataset.toml``),
``intermediate``, ``source`` and ``variant`` (lifetime variants).
Variables of accounted years (production, adoption, trade, mining, yields,
recycling rate) are NaN after ``last_year``; drivers cover every year.
Every value variable ``x`` has a string array ``q_x`` of the same shape with
its quality flag (``statistic``, ``literature``, ``estimate``; ``""`` where
there is no value) and its CF unit string in ``attrs["units"]``. Per-product
counts use the product's ``count_unit`` coordinate (``unit``, ``MW``, ``t``),
written ``count`` in the unit strings (``count yr-1``, ``t count-1``).

The product coordinate carries the columns of ``products.csv`` as
non-dimension coordinates ``name``, ``category``, ``group``,
``product_intermediate`` (the ``intermediate`` column: ``intermediate`` is
already the name of a dimension), ``count_unit``, ``in_total_demand`` and
``forecast_method``.

Cache
-----
Checking and converting a data set takes a while (the unit registry alone is
a good part of a second), so :func:`load_dataset` keeps the canonical Dataset
of each data set it has checked in a cache folder, ``$NDSIM_CACHE_DIR`` or
the user's cache folder (``~/.cache/ndsim`` on Linux); an empty
``NDSIM_CACHE_DIR`` turns the cache off. An entry is keyed on the folder's
path, the content of the data set (:func:`dataset_sha256`: ``dataset.toml``
and every CSV table, which are all the files the checks read), the source
of ndsim (every module, so an edited check invalidates it) and the versions
of Python and of the libraries the Dataset is built with. Any change to any
table is therefore a new key: the data set is checked again from scratch,
and a data set that fails its checks is never stored. A cache that cannot be
read or written is skipped silently. The entries are Python pickles, so the
folder must be one only its user can write to (the user's cache folder is).
The ownership fits (:func:`ndsim.gompertz.fit_gompertz`) keep their results
in the same folder, keyed the same way on their arguments.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ndsim.conventions import (
    INPUT_VARIABLES,
    INTERMEDIATE,
    PRODUCT,
    SOURCE,
    VARIABLES,
    VARIANT,
    YEAR,
)
from ndsim.validate import (
    PRIMARY_FLOWS,
    TRADE_FLOWS,
    YIELD_PROCESSES,
    CheckedData,
    check_dataset,
)

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = [
    "load_dataset",
    "build_dataset",
    "dataset_sha256",
    "resolve_data_dir",
    "cache_dir",
    "cache_get",
    "cache_put",
    "source_stamp",
    "INPUT_VARIABLES",
]

#: the entries of the data-set cache kept (the most recently used)
CACHE_ENTRIES = 16
#: the libraries whose versions are part of a cache key (:func:`source_stamp`)
_STAMPED_LIBRARIES = ("numpy", "pandas", "xarray", "pint", "scipy")


def dataset_sha256(folder: str | Path) -> str:
    """SHA-256 of a data set: ``dataset.toml`` and every ``*.csv`` file in the folder.

    Files are taken in sorted name order; each contributes its name, its
    length and its bytes, so renaming, moving bytes between files or
    editing any table changes the hash. Documentation (``*.md``) and build
    scripts do not count.

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    folder = Path(folder)
    digest = hashlib.sha256()
    names = sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and (p.suffix == ".csv" or p.name == "dataset.toml")
    )
    for name in names:
        data = (folder / name).read_bytes()
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def resolve_data_dir(folder: str | Path | None) -> Path:
    """The folder of a data set: a path, the name of a shipped data set, or None (the default)."""
    from ndsim.resources import data_dir

    if folder is None:
        return data_dir()
    path = Path(folder)
    if not path.exists() and isinstance(folder, str) and "/" not in folder and "\\" not in folder:
        shipped = data_dir(folder)
        if shipped.is_dir():
            return shipped
    return path


def _grid(index_arrays, coords, values, fill=np.nan, dtype=float):
    """Place values at the positions of their codes (codes are already checked)."""
    import pandas as pd

    shape = tuple(len(c) for c in coords)
    out = np.full(shape, fill, dtype=dtype)
    positions = tuple(
        pd.Index(list(c)).get_indexer(np.asarray(a))
        for a, c in zip(index_arrays, coords, strict=True)
    )
    out[positions] = values
    return out


def build_dataset(checked: CheckedData) -> xr.Dataset:
    """Assemble the canonical Dataset from checked tables (see the module docstring)."""
    import xarray as xr

    first, last, forecast_last = checked.years
    history_first = int(checked.meta.get("history_first", first))
    products = checked.products
    codes = list(products["product"])
    years = np.arange(history_first, forecast_last + 1)
    accounted = (years >= first) & (years <= last)
    coords = {
        PRODUCT: codes,
        YEAR: years,
        INTERMEDIATE: list(checked.intermediates),
        SOURCE: list(checked.sources),
        VARIANT: list(checked.variants),
    }
    dims_coords = {
        PRODUCT: coords[PRODUCT],
        YEAR: years,
        INTERMEDIATE: coords[INTERMEDIATE],
        SOURCE: coords[SOURCE],
        VARIANT: coords[VARIANT],
    }
    data_vars: dict[str, tuple] = {}
    t = checked.tables

    def put(name, dims, values, quality, units=None):
        # inputs that are also outputs of the same meaning (units_exports, ...) are declared
        # in the output table only
        var = INPUT_VARIABLES.get(name) or VARIABLES[name]
        attrs = dict(var.attrs)
        if units is not None:
            attrs["units"] = units
        attrs["ancillary_variables"] = f"q_{name}"
        data_vars[name] = (dims, values, attrs)
        data_vars[f"q_{name}"] = (
            dims,
            np.asarray(quality, dtype=str),
            {
                "long_name": f"quality flag of {name}",
                "flag_values": "statistic literature estimate",
            },
        )

    def from_table(name, table, dims, mask=None):
        sel = np.ones(len(table["value"]), bool) if mask is None else mask
        keys = [table[d][sel] for d in dims]
        dim_coords = [dims_coords[d] for d in dims]
        values = _grid(keys, dim_coords, table["value"][sel])
        quality = _grid(keys, dim_coords, table["quality"][sel], fill="", dtype=object)
        put(name, dims, values, quality)
        if "sd" in table:  # a stated standard deviation (SPEC §3, §5), else the quality's CV
            data_vars[name][2]["ancillary_variables"] += f" sd_{name}"
            data_vars[f"sd_{name}"] = (
                dims,
                _grid(keys, dim_coords, table["sd"][sel]),
                {
                    "long_name": f"standard deviation of {name}",
                    "units": data_vars[name][2].get("units", ""),
                },
            )

    from_table("production", t["production"], (PRODUCT, YEAR))
    from_table("nd_content", t["nd_content"], (PRODUCT,))
    from_table("adoption_rate", t["adoption_rate"], (PRODUCT, YEAR))
    if "intensity_calibration" in t:
        table = t["intensity_calibration"]
        keys = [table[PRODUCT]]
        values = _grid(keys, [codes], table["value"], fill=1.0)
        quality = _grid(keys, [codes], table["quality"], fill="statistic", dtype=object)
        put("intensity_calibration", (PRODUCT,), values, quality)
    else:  # no calibration: k = 1 (a definition, never sampled)
        put("intensity_calibration", (PRODUCT,), np.ones(len(codes)), ["statistic"] * len(codes))
    for flow, prefix in (("export", "exports"), ("import", "imports")):
        assert flow in TRADE_FLOWS
        table = t["final_trade"]
        from_table(f"units_{prefix}", table, (PRODUCT, YEAR), table["flow"] == flow)
        table = t["intermediate_trade"]
        from_table(f"{prefix}_intermediate", table, (INTERMEDIATE, YEAR), table["flow"] == flow)
        for level in ("primary", "concentrate"):
            table = t[f"{level}_trade"]
            from_table(f"{prefix}_{level}", table, (YEAR,), table["flow"] == flow)
    assert "export_unregistered" in PRIMARY_FLOWS
    table = t["primary_trade"]
    from_table(
        "exports_primary_unregistered", table, (YEAR,), table["flow"] == "export_unregistered"
    )
    from_table("mining", t["mining"], (SOURCE, YEAR))
    if "unregistered_mining_prior" in t:
        from_table("unregistered_mining_prior", t["unregistered_mining_prior"], (YEAR,))
    if "intermediate_production" in t:
        from_table(
            "intermediate_production_statistic", t["intermediate_production"], (INTERMEDIATE, YEAR)
        )

    grids = t["_grids"]
    for process in YIELD_PROCESSES:
        values, quality = grids[f"yield_{process}"]
        dims = (INTERMEDIATE, YEAR) if values.ndim == 2 else (YEAR,)
        put(f"yield_{process}", dims, *_pad_years(values, quality, accounted))
    put("recycling_rate", (YEAR,), *_pad_years(*grids["recycling_rate"], accounted))
    put("recovery_efficiency", (), *grids["recovery_efficiency"])

    life = t["lifetimes"]
    numeric = life["parameter"] != "model"
    for parameter in ("mean", "sd", "shape", "scale"):
        from_table_mask = life["parameter"] == parameter
        from_table(f"lifetime_{parameter}", life, (VARIANT, PRODUCT), from_table_mask & numeric)
    model = life["parameter"] == "model"
    keys = [life[VARIANT][model], life[PRODUCT][model]]
    dim_coords = [coords[VARIANT], codes]
    put(
        "lifetime_model",
        (VARIANT, PRODUCT),
        _grid(keys, dim_coords, life["text"][model], fill="", dtype=object).astype(str),
        _grid(keys, dim_coords, life["quality"][model], fill="", dtype=object),
    )
    if "drivers" in t:
        drivers = t["drivers"]
        from_table("population", drivers, (YEAR,), drivers["driver"] == "population")
        if (drivers["driver"] == "households").any():
            from_table("households", drivers, (YEAR,), drivers["driver"] == "households")
        put_mask = drivers["driver"] == "gdp_per_capita"
        from_table("gdp_per_capita", drivers, (YEAR,), put_mask)
        data_vars["gdp_per_capita"][2]["units"] = checked.units["gdp_per_capita"]
    ownership_coords = _ownership(t, codes, years, products, put)
    if "plausibility" in t:
        table = t["plausibility"]
        for quantity in ("units_per_year", "units_per_person"):
            rows = table["quantity"] == quantity
            keys = [table[PRODUCT][rows]]
            put(
                f"plausibility_{quantity}",
                (PRODUCT,),
                _grid(keys, [codes], table["value"][rows]),
                _grid(keys, [codes], table["quality"][rows], fill="", dtype=object),
            )

    product_coords = {
        "name": products["name"],
        "category": products["category"],
        "group": products["group"],
        "product_intermediate": products["intermediate"],
        "count_unit": products["count_unit"],
        "in_total_demand": products["in_total_demand"].astype(bool),
        "forecast_method": products["forecast_method"],
        **ownership_coords,
    }
    all_coords = {k: v for k, v in coords.items()}
    for key, values in product_coords.items():
        all_coords[key] = (
            PRODUCT,
            np.asarray(values, dtype=bool if key == "in_total_demand" else str),
        )
    ds = xr.Dataset(data_vars, coords=all_coords)
    ds[YEAR].attrs.update({"long_name": "year", "units": "yr"})
    ds["product"].attrs["long_name"] = "end use"
    ds["product_intermediate"].attrs["long_name"] = "intermediate product the end use is made from"
    ds["count_unit"].attrs["long_name"] = "unit in which the end use is counted"
    meta = checked.meta
    ds.attrs.update(
        {
            "name": meta["name"],
            "title": meta["title"],
            "element": meta["element"],
            "region": meta.get("region", ""),
            "dataset_path": str(Path(checked.folder).resolve()),
            "dataset_sha256": dataset_sha256(checked.folder),
            "history_first_year": history_first,
            "first_year": int(first),
            "last_year": int(last),
            "forecast_last_year": int(forecast_last),
            "summary_years": meta["summary_years"],
            "supply_years": meta["supply_years"],
            "mining_basis": t.get("mining_basis", "ore"),
        }
    )
    return ds


def _ownership(t: dict, codes: list, years: np.ndarray, products: dict, put) -> dict:
    """Ownership statistics by product (group values on every member) and their coordinates.

    Also the Gompertz fit data of the forecast, ``ownership`` (per person) and
    ``ownership_household``: a group's statistic on its one member whose
    forecast method is ``gompertz`` (on none if several are).
    """
    n_p, n_y = len(codes), years.size
    stat = np.full((n_p, n_y), np.nan)
    q_stat = np.full((n_p, n_y), "", dtype=object)
    basis = np.full(n_p, "", dtype=object)
    group = np.full(n_p, "", dtype=object)
    share = np.zeros(n_p)
    q_share = np.full(n_p, "statistic", dtype=object)
    if "ownership" in t:
        table = t["ownership"]
        shares = {}
        if "ownership_nonhousehold" in t:
            nh = t["ownership_nonhousehold"]
            shares = {
                str(g): (float(v), str(q))
                for g, v, q in zip(nh["products"], nh["value"], nh["quality"], strict=True)
            }
        index = {c: i for i, c in enumerate(codes)}
        y_index = {int(y): j for j, y in enumerate(years)}
        for g, members in table["members"].items():
            rows = table["products"] == g
            s, q_s = shares.get(g, (0.0, "statistic"))
            cols = [y_index[int(y)] for y in table["year"][rows]]
            for c in members:
                i = index[c]
                group[i] = g
                basis[i] = str(table["basis"][rows][0]) or "person"
                share[i], q_share[i] = s, q_s
                stat[i, cols] = table["value"][rows] / (1.0 - s)
                q_stat[i, cols] = table["quality"][rows]
    put("ownership_statistic", (PRODUCT, YEAR), stat, q_stat)
    put("ownership_nonhousehold_share", (PRODUCT,), share, q_share)
    gompertz = np.asarray(products["forecast_method"]) == "gompertz"
    for name, b in (("ownership", "person"), ("ownership_household", "household")):
        values = np.full((n_p, n_y), np.nan)
        quality = np.full((n_p, n_y), "", dtype=object)
        for g in dict.fromkeys(group[group != ""]):
            member = (group == g) & gompertz
            if member.sum() == 1 and basis[member][0] == b:
                values[member] = stat[member]
                quality[member] = q_stat[member]
        if np.isfinite(values).any():
            put(name, (PRODUCT, YEAR), values, quality)
    return {"ownership_basis": basis.astype(str), "ownership_group": group.astype(str)}


def _pad_years(values: np.ndarray, quality: np.ndarray, accounted: np.ndarray):
    """Extend a grid over the accounted years to every year (NaN and '' after)."""
    shape = values.shape[:-1] + (accounted.size,)
    full = np.full(shape, np.nan)
    q = np.full(shape, "", dtype=object)
    full[..., accounted] = values
    q[..., accounted] = quality
    return full, q


def load_dataset(folder: str | Path | None = None) -> xr.Dataset:
    """Check a data set and load it into the canonical input Dataset.

    A data set checked before, unchanged, is read from the cache (module docstring).

    Parameters
    ----------
    folder : str or Path, optional
        The data-set folder (``docs/data_format.md``), or the name of a
        shipped data set; default: the shipped China Nd case
        (:func:`ndsim.resources.data_dir`).

    Returns
    -------
    xarray.Dataset
        Values in canonical units (see the module docstring), quality
        arrays ``q_<name>``, and attrs ``name``, ``title``, ``element``,
        ``dataset_path``, ``dataset_sha256``, ``first_year``, ``last_year``,
        ``forecast_last_year``, ``summary_years`` (tuple of int: the years a
        run's summary shows besides the last accounted and the last forecast
        year, from ``dataset.toml``; empty where it names none).

    Raises
    ------
    ndsim.errors.ValidationError
        At the first problem in the data, with one line naming the file, the
        column and the offending rows.

    Examples
    --------
    >>> ds = load_dataset("tests/data/tiny")  # doctest: +SKIP
    >>> (ds.production * ds.nd_content * ds.adoption_rate).sel(year=2000)  # t yr-1  # doctest: +SKIP
    """
    import xarray as xr

    path = resolve_data_dir(folder)
    key, content = _cache_key(path)
    if key is not None:
        cached = cache_get("datasets", key)
        if isinstance(cached, xr.Dataset):
            return cached
    ds = build_dataset(check_dataset(path))
    # the tables hashed again after reading (build_dataset): stored only if nothing changed
    if key is not None and ds.attrs.get("dataset_sha256") == content:
        cache_put("datasets", key, ds)
    return ds


# --- the data-set cache (see the module docstring) -------------------------------------
def cache_dir() -> Path | None:
    """The folder of ndsim's caches: ``$NDSIM_CACHE_DIR``, else the user's cache folder.

    Returns None (no cache) when ``NDSIM_CACHE_DIR`` is set to an empty string.
    """
    value = os.environ.get("NDSIM_CACHE_DIR")
    if value is not None:
        return Path(value).expanduser() if value.strip() else None
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ndsim"


@functools.lru_cache(maxsize=1)
def source_stamp() -> str:
    """SHA-256 of ndsim's source (every ``*.py`` of the package, names and bytes) and of the
    versions of Python and of the libraries cached results depend on."""
    from importlib import metadata

    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    digest.update(sys.version.encode() + b"\0")
    for name in _STAMPED_LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{name} {version}".encode() + b"\0")
    for path in sorted(package.rglob("*.py")):
        data = path.read_bytes()
        digest.update(str(path.relative_to(package)).encode() + b"\0")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _cache_key(folder: Path) -> tuple[str | None, str | None]:
    """(cache key, content hash) of a data-set folder; (None, None) without a cache."""
    if cache_dir() is None or not folder.is_dir():
        return None, None
    try:
        content = dataset_sha256(folder)
        stamp = source_stamp()
        where = str(folder.resolve())
    except OSError:  # an unreadable file: the checks say which
        return None, None
    digest = hashlib.sha256()
    for part in ("dataset", where, content, stamp):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest(), content


def _cache_file(kind: str, key: str) -> Path | None:
    root = cache_dir()
    return None if root is None else root / kind / f"{key}.pickle"


def cache_get(kind: str, key: str) -> object | None:
    """The object stored under `key` in the cache folder `kind`, or None (absent or unreadable).

    Keys are content hashes made by the caller (with :func:`source_stamp`)."""
    path = _cache_file(kind, key)
    if path is None or not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            value = pickle.load(f)
        os.utime(path)  # most recently used: kept longest
    except Exception:  # noqa: BLE001 - a broken entry is a miss
        return None
    return value


def cache_put(kind: str, key: str, value: object, entries: int = CACHE_ENTRIES) -> None:
    """Store `value` under `key` in the cache folder `kind` (a temporary file renamed into
    place) and keep its newest `entries` entries. Any failure leaves the cache as it was."""
    import tempfile

    path = _cache_file(kind, key)
    if path is None:
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        tmp = None
        stored = sorted(path.parent.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in stored[entries:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
