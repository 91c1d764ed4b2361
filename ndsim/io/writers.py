"""Writing results: one NetCDF file per run, CF attributes, written atomically (SPEC §6)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim._version import __version__
from ndsim.errors import UsageError
from ndsim.io.atomic import atomic_target, temporary_path

__all__ = [
    "write_netcdf",
    "global_attrs",
    "cf_prepare",
    "DrawsGroup",
    "DrawsWriter",
    "CODECS",
    "check_codec",
]

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
#: the CF ``institution`` of ndsim's files, unless a Dataset names its own
INSTITUTION = "ndsim (open-source software; see CITATION.cff)"
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
    for name, var in out.variables.items():  # the Variables: no DataArray built per name
        var.attrs = _cf_attrs(name, var.attrs, var.dtype, name in out.coords)
    out.attrs.setdefault("references", REFERENCES)
    out.attrs.setdefault("institution", INSTITUTION)
    return out


def _cf_attrs(name: object, attrs: dict, dtype: np.dtype, coord: bool) -> dict:
    """One variable's attributes after the CF housekeeping of :func:`cf_prepare`."""
    attrs = dict(attrs)
    if coord and "long_name" not in attrs:
        attrs["long_name"] = COORD_LONG_NAMES.get(str(name), str(name).replace("_", " "))
    if name == cv.YEAR:
        attrs.pop("units", None)
        attrs["long_name"] = COORD_LONG_NAMES[cv.YEAR]
    if name == cv.DRAW:
        attrs["standard_name"] = "realization"
    if np.dtype(dtype).kind == "b":
        attrs["flag_values"] = np.array([0, 1], dtype="i1")
        attrs["flag_meanings"] = "false true"
    unit = attrs.get("units")
    if isinstance(unit, str) and unit in UDUNITS_EQUIVALENT:
        attrs["ndsim_units"] = unit
        attrs["units"] = UDUNITS_EQUIVALENT[unit]
    return attrs


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
            "institution": attrs.get("institution", INSTITUTION),
            "source": "ndsim, dynamic material flow analysis (https://doi.org/10.1016/j.resconrec.2021.105752 for the default case)",
        }
    )
    return {k: _attr_value(v) for k, v in attrs.items()}


@dataclass
class DrawsGroup:
    """Every draw of an ensemble, for the NetCDF group ``draws`` of its file (``--full``).

    Attributes
    ----------
    template : xarray.Dataset
        One run without draws (the deterministic one): dims, coordinates and
        attributes of every variable in ``names``.
    names : list of str
        The variables of the group.
    n : int
        Number of draws [-].
    chunks : iterable of mapping of str to numpy.ndarray
        Per-chunk arrays in draw order, consumed once: shape ``(draws, *dims)``
        for a variable that varies, and in the first chunk only, the
        variable's array without draws for one that does not.
    exact : tuple of str
        Variables written as float64 (the rest float32).
    description : str
        The group's ``description`` attribute.
    codec : {"zlib", "zstd"}
        The compression of the per-draw variables (:data:`CODECS`).
    """

    template: xr.Dataset
    names: list[str]
    n: int
    chunks: Iterable[Mapping[str, np.ndarray]]
    exact: tuple[str, ...] = ()
    description: str = ""
    codec: str = "zlib"


#: compression of a draws group's per-draw variables, at level 1: zlib after HDF5's byte
#: shuffle, which every NetCDF-4 and HDF5 reader decodes; or zstd (netCDF4 sets no shuffle
#: before it), which compresses about six times faster into files about a quarter larger,
#: and which a reader decodes only with the HDF5 zstd filter plugin (netCDF-C 4.9 or later
#: with its plugins, as in the netCDF4 wheels; h5py and h5netcdf after ``import hdf5plugin``)
CODECS = ("zlib", "zstd")


def check_codec(codec: object) -> None:
    """Refuse a codec that is not in :data:`CODECS` or that this netCDF4 cannot write."""
    if codec not in CODECS:
        raise UsageError(f"--codec {codec}: must be one of {', '.join(CODECS)}")
    if codec == "zstd":
        import netCDF4

        if not getattr(netCDF4, "__has_zstandard_support__", False):
            raise UsageError(
                "--codec zstd: this netCDF4 library has no zstd filter (netCDF-C 4.9 or later "
                "with its filter plugins is needed); use --codec zlib"
            )


#: draws per HDF5 chunk of the per-draw variables of a draws group
DRAW_CHUNK = 1000
#: dimensions a draws group's HDF5 chunks split one by one (the rest whole)
_ONE_PER_CHUNK = (cv.PRODUCT, cv.ORIGIN, cv.SCENARIO)


def write_netcdf(
    ds: xr.Dataset, path: str | os.PathLike, *, draws: DrawsGroup | DrawsWriter | None = None
) -> Path:
    """Write a results Dataset to a NetCDF-4 file, atomically.

    Parameters
    ----------
    ds : xr.Dataset
        Output of :func:`ndsim.pipeline.run` (or an ensemble summary).
    path : str or PathLike
        Target file; its folder is created. The file is either absent, the
        previous complete file or the new complete file, never partial.
    draws : DrawsGroup or DrawsWriter, optional
        Every draw of an ensemble, written chunk by chunk into the group
        ``draws`` (compressed, HDF5 chunks of :data:`DRAW_CHUNK` draws by one
        product, origin node or scenario); the draws are never all in memory.
        A :class:`DrawsWriter` has written them while they were computed:
        its file is finished with ``ds`` as the root group and renamed.

    Returns
    -------
    Path
        The path written.
    """
    target = Path(path)
    out = cf_prepare(ds)
    out.attrs = global_attrs(out)
    for var in out.variables.values():
        var.attrs = {k: _attr_value(v) for k, v in var.attrs.items()}
    encoding = {
        name: {"zlib": True, "complevel": 4, "_FillValue": np.nan}
        for name, var in out.variables.items()
        if name in out.data_vars and np.issubdtype(var.dtype, np.floating)
    }
    if isinstance(draws, DrawsWriter):
        with atomic_target(target, draws.finish()) as tmp:
            _to_netcdf4(out, tmp, encoding, mode="a")
        return target
    with atomic_target(target) as tmp:
        _to_netcdf4(out, tmp, encoding)
        if draws is not None:
            _write_draws_group(tmp, draws)
    return target


def _to_netcdf4(ds: xr.Dataset, path: Path, encoding: dict, mode: Literal["w", "a"] = "w") -> None:
    """``ds.to_netcdf(path, engine="netcdf4", format="NETCDF4", encoding=encoding)`` for numpy data.

    The same store and encoding as xarray's ``to_netcdf``, without its question which dask
    scheduler is active (``xarray.backends.locks.get_dask_scheduler``), which imports
    ``distributed`` (~0.2 s) even for a Dataset without dask arrays. A Dataset holding dask
    arrays goes through ``to_netcdf``. ``mode="a"`` adds ``ds`` as the root group of a file
    that holds the group ``draws`` already.
    """
    from xarray.backends import NetCDF4DataStore
    from xarray.backends.netCDF4_ import NETCDF4_PYTHON_LOCK

    if any(var.chunks is not None for var in ds.variables.values()):
        ds.to_netcdf(path, mode=mode, engine="netcdf4", format="NETCDF4", encoding=encoding)
        return
    # the lock xarray takes for netCDF4, without the per-file lock of the dask scheduler
    store = NetCDF4DataStore.open(path, mode=mode, format="NETCDF4", lock=NETCDF4_PYTHON_LOCK)
    try:
        ds.dump_to_store(store, encoding=encoding)  # numpy data: written here, nothing to sync
    finally:
        store.close()


def _write_draws_group(path: Path, draws: DrawsGroup, mode: Literal["w", "a"] = "a") -> None:
    """Add the group ``draws`` to the NetCDF-4 file at ``path`` (``mode="w"``: a new file)."""
    import netCDF4

    chunks = iter(draws.chunks)
    first = next(chunks)
    template = draws.template
    varying = [v for v in draws.names if first[v].ndim == template[v].ndim + 1]
    with netCDF4.Dataset(path, mode, format="NETCDF4") as nc:
        grp = nc.createGroup("draws")
        if draws.description:
            grp.setncattr("description", draws.description)
        _group_dimensions(grp, template, draws.names, draws.n)
        for name in draws.names:
            if name not in varying:  # the same in every draw: written once
                dims = tuple(str(d) for d in template[name].dims)
                var = grp.createVariable(name, "f4", dims, zlib=True)
                var[:] = first[name]
                _set_attrs(var, _variable_attrs(template, name))
        variables = {name: _draws_variable(grp, template, name, draws) for name in varying}
        every = _first_then(first, chunks)
        del first  # held only until it is written
        _stream(variables, every, draws.n)


def _first_then(first, rest: Iterator) -> Iterator:
    """``first``, then the items of ``rest``; unlike ``itertools.chain``, not holding ``first`` after."""
    box = [first]
    del first
    yield box.pop()
    yield from rest


class _Stopped(Exception):
    """The run the draws came from stopped: the writer closes its file and ends."""


class DrawsWriter:
    """The group ``draws`` of an ensemble's file, written in a thread while the draws compute.

    Compressing every draw is the costly part of ``--full`` (zlib at about 50 MB/s
    for the float32 values of one variable): done after the last chunk, it keeps
    one core busy while the others wait. This writer starts with the run instead:
    a thread writes each chunk, in draw order, as soon as it is kept, and the
    netCDF library releases the GIL while it compresses. The chunks are read back
    with ``load`` (from the run's checkpoint folder) only when their turn comes,
    so memory holds one chunk, whatever the lead of the computation.

    :func:`write_netcdf` with ``draws=`` the writer waits for the last chunk,
    adds the summary as the root group and renames the file into place; if the
    run stops first, :meth:`discard` ends the thread and removes the file.

    Parameters
    ----------
    target : path
        The file the run writes; the draws go to a temporary file next to it.
    group : DrawsGroup
        What the group holds; its ``chunks`` are replaced by the chunks ``load``
        returns, in the order of ``starts``.
    starts : sequence of int
        First draw of every chunk, ascending.
    load : callable
        ``load(start)``: the chunk's arrays (see :class:`DrawsGroup`).
    """

    def __init__(
        self,
        target: str | os.PathLike,
        group: DrawsGroup,
        starts: Sequence[int],
        load: Callable[[int], Mapping[str, np.ndarray]],
    ):
        self.path = temporary_path(target)
        self._starts = list(starts)
        self._load = load
        self._ready = 0  # chunks starting below this draw may be loaded
        self._stopped = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        chunked = dataclasses.replace(group, chunks=self._chunks())
        self._thread = threading.Thread(
            target=self._write, args=(chunked,), name="ndsim-draws", daemon=True
        )
        self._thread.start()

    def ready(self, stop: int) -> None:
        """The chunks of the draws below ``stop`` are kept: they may be written."""
        with self._cond:
            self._ready = max(self._ready, stop)
            self._cond.notify()
        if self._error is not None:  # e.g. a full disk: the run stops now, not at the end
            raise self._error

    def finish(self) -> Path:
        """Wait until every chunk is written; the temporary file holding the group."""
        self.ready(self._starts[-1] + 1 if self._starts else 0)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.path

    def discard(self) -> None:
        """End the thread and remove the temporary file (a no-op once the file is renamed)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join()
        if self.path.exists():
            self.path.unlink()

    def _chunks(self) -> Iterator[Mapping[str, np.ndarray]]:
        for start in self._starts:
            with self._cond:
                while self._ready <= start and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    raise _Stopped
            yield self._load(start)

    def _write(self, group: DrawsGroup) -> None:
        try:
            _write_draws_group(self.path, group, mode="w")
        except _Stopped:
            pass
        except BaseException as exc:  # raised in the run's thread by ready() and finish()
            self._error = exc


def _group_dimensions(grp, template: xr.Dataset, names: list[str], n: int) -> None:
    sizes = {cv.DRAW: n}
    for name in names:
        for d in template[name].dims:
            sizes[str(d)] = template.sizes[d]
    for d, size in sizes.items():
        grp.createDimension(d, size)
        if d == cv.DRAW:
            var = grp.createVariable(d, "i8", (d,))
            var[:] = np.arange(n)
        elif d in template.coords and template[d].dtype.kind in "iuf":
            var = grp.createVariable(d, template[d].dtype, (d,))
            var[:] = template[d].values
        elif d in template.coords:
            var = grp.createVariable(d, str, (d,))
            var[:] = np.array([str(x) for x in template[d].values], dtype=object)
        else:
            continue
        attrs = template[d].attrs if d in template.coords else {}
        dtype = template[d].dtype if d in template.coords else np.dtype("i8")
        _set_attrs(var, _cf_attrs(d, attrs, dtype, coord=True))


def _variable_attrs(template: xr.Dataset, name: str) -> dict:
    attrs = cv.attrs(name) if name in cv.VARIABLES else template[name].attrs
    return _cf_attrs(name, attrs, template[name].dtype, coord=False)


def _set_attrs(var, attrs: Mapping) -> None:
    for key, value in attrs.items():
        var.setncattr(key, _attr_value(value))


def _draws_variable(grp, template: xr.Dataset, name: str, draws: DrawsGroup):
    dims = template[name].dims
    chunks = [min(draws.n, DRAW_CHUNK)] + [
        1 if d in _ONE_PER_CHUNK else template.sizes[d] for d in dims
    ]
    exact = name in draws.exact
    var = grp.createVariable(
        name,
        "f8" if exact else "f4",
        (cv.DRAW, *dims),
        compression=draws.codec,
        complevel=1,
        shuffle=True,
        chunksizes=chunks,
        fill_value=np.float64(np.nan) if exact else np.float32(np.nan),
    )
    # no chunk cache: each HDF5 chunk is compressed and written as its draws arrive (they
    # arrive whole), not all at once when the file closes, and memory holds none of them
    var.set_var_chunk_cache(size=1, nelems=1, preemption=1.0)
    _set_attrs(var, _variable_attrs(template, name))
    return var


@runtime_checkable
class SlabbedChunk(Protocol):
    """A chunk of draws that gives some variables a slab at a time along their first dim
    after the draws: ``slabs(name)`` yields (index, (draws, *rest)) in order, or is None
    for a variable read whole as ``chunk[name]``
    (:class:`ndsim.ensemble.draws.ExpandedChunk`)."""

    def slabs(self, name: str) -> Iterator[tuple[int, np.ndarray]] | None: ...


def _put(var, chunk: Mapping[str, np.ndarray], name: str, rows: slice) -> None:
    """Write variable ``name`` of ``chunk`` into draws ``rows`` of ``var``, by slabs where the
    chunk gives them (each then goes as it is made; a whole array is never built)."""
    slabs = chunk.slabs(name) if isinstance(chunk, SlabbedChunk) else None
    if slabs is None:
        var[rows] = chunk[name]
        return
    for j, slab in slabs:
        var[rows, j] = slab


def _stream(variables: dict, chunks: Iterable[Mapping[str, np.ndarray]], n: int) -> None:
    """Write the chunks, in draw order, in whole HDF5 chunks of draws where possible.

    A chunk that is whole HDF5 chunks of draws (the usual case) is written a
    variable at a time, read from ``chunk[name]`` only then: a chunk that reads
    its arrays on access (:meth:`ndsim.ensemble.checkpoint.Sidecar.load_chunk`)
    is then never all in memory. Other chunks are buffered until whole HDF5
    chunks can be written.
    """
    if not variables:
        return
    first = next(iter(variables))
    buffers: dict[str, list[np.ndarray]] = {v: [] for v in variables}
    written = buffered = 0
    step = min(n, DRAW_CHUNK)
    for chunk in chunks:
        size = chunk[first].shape[0]
        if not buffered and (size % step == 0 or written + size == n):
            for name, var in variables.items():
                _put(var, chunk, name, slice(written, written + size))
            written += size
            del chunk
            continue
        for name in variables:
            buffers[name].append(chunk[name])
        buffered += size
        last = written + buffered >= n
        if buffered >= step or last:
            take = buffered if last else (buffered // step) * step
            for name, var in variables.items():
                buffers[name] = _write_block(var, buffers[name], written, take)
            written += take
            buffered -= take
        del chunk  # written or buffered: nothing else holds it while the next is awaited


def _write_block(var, parts: list[np.ndarray], written: int, take: int) -> list[np.ndarray]:
    """Write the first ``take`` draws of ``parts`` at draw ``written``; the draws left over."""
    block = parts[0] if len(parts) == 1 else np.concatenate(parts)
    var[written : written + take] = block[:take]
    return [block[take:]] if take < block.shape[0] else []


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
