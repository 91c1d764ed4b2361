"""The group of every draw (--full), written in a thread while the draws compute."""

from __future__ import annotations

import concurrent.futures
import errno
import gc
import threading
import weakref
from collections.abc import Mapping

import netCDF4
import numpy as np
import pytest
import xarray as xr

from ndsim.ensemble import executors
from ndsim.io import writers
from ndsim.io.writers import DrawsGroup, DrawsWriter, write_netcdf

N, K = 10, 4  # draws, draws per chunk: chunks start at 0, 4, 8
PRODUCTS = ["a", "b", "c"]
YEARS = [2000, 2001]


def _template() -> xr.Dataset:
    coords = {"product": PRODUCTS, "year": YEARS}
    return xr.Dataset(
        {
            "stock": (("product", "year"), np.zeros((3, 2)), {"units": "t"}),
            "price": (("year",), np.array([1.5, 2.5]), {"units": "USD"}),
        },
        coords=coords,
    )


def _chunk(start: int) -> dict[str, np.ndarray]:
    """Draw d, product p, year y holds 100 d + 10 p + y (exact in float32)."""
    d = np.arange(start, min(start + K, N))[:, None, None]
    stock = 100.0 * d + 10.0 * np.arange(3)[None, :, None] + np.arange(2)[None, None, :]
    out = {"stock": stock.astype(np.float32)}
    if start == 0:  # the same in every draw: sent once
        out["price"] = np.array([1.5, 2.5], dtype=np.float32)
    return out


def _group() -> DrawsGroup:
    return DrawsGroup(template=_template(), names=["stock", "price"], n=N, chunks=())


def _summary() -> xr.Dataset:
    return xr.Dataset({"total": (("year",), np.array([3.0, 4.0]))}, coords={"year": YEARS})


def test_every_draw_is_written_in_order_and_only_once_kept(tmp_path):
    loaded = []
    writer = DrawsWriter(tmp_path / "out.nc", _group(), range(0, N, K), lambda s: _load(s, loaded))
    writer.ready(4)  # only the first chunk is kept so far
    threading.Event().wait(0.3)
    assert set(loaded) <= {0}  # a chunk is read only once it is kept
    writer.ready(10)
    target = write_netcdf(_summary(), tmp_path / "out.nc", draws=writer)
    assert loaded == [0, 4, 8]
    expected = np.concatenate([_chunk(s)["stock"] for s in (0, 4, 8)])
    with xr.open_dataset(target, group="draws") as g:
        assert g["stock"].dims == ("draw", "product", "year")
        np.testing.assert_array_equal(g["stock"].values, expected)
        np.testing.assert_array_equal(g["price"].values, [1.5, 2.5])
        assert g["stock"].attrs["units"] == "t"
    with xr.open_dataset(target) as root:  # the summary, added after the draws
        np.testing.assert_array_equal(root["total"].values, [3.0, 4.0])
    assert not writer.path.exists()  # renamed into place
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def _load(start: int, log: list) -> dict[str, np.ndarray]:
    log.append(start)
    return _chunk(start)


def test_the_same_file_as_the_group_written_after_the_run(tmp_path):
    group = DrawsGroup(
        template=_template(), names=["stock", "price"], n=N, chunks=[_chunk(s) for s in (0, 4, 8)]
    )
    after = write_netcdf(_summary(), tmp_path / "after.nc", draws=group)
    writer = DrawsWriter(tmp_path / "during.nc", _group(), range(0, N, K), _chunk)
    writer.ready(N)
    during = write_netcdf(_summary(), tmp_path / "during.nc", draws=writer)
    for group_name in (None, "draws"):
        with (
            xr.open_dataset(after, group=group_name) as a,
            xr.open_dataset(during, group=group_name) as b,
        ):
            assert list(a.data_vars) == list(b.data_vars)
            for name in a.data_vars:
                assert a[name].dims == b[name].dims
                assert a[name].attrs == b[name].attrs
                np.testing.assert_array_equal(a[name].values, b[name].values)
    with netCDF4.Dataset(during) as nc:  # whole HDF5 chunks of draws, compressed
        var = nc["draws"]["stock"]
        assert var.chunking() == [N, 1, 2] and var.filters()["zlib"]


@pytest.mark.parametrize("codec", writers.CODECS)
def test_each_codec_stores_the_draws_as_given(tmp_path, codec):
    group = DrawsGroup(
        template=_template(),
        names=["stock", "price"],
        n=N,
        chunks=[_chunk(s) for s in (0, 4, 8)],
        codec=codec,
    )
    path = write_netcdf(_summary(), tmp_path / "out.nc", draws=group)
    expected = np.concatenate([_chunk(s)["stock"] for s in (0, 4, 8)])
    with netCDF4.Dataset(path) as nc:
        filters = nc["draws"]["stock"].filters()
        used = [k for k in ("zlib", "zstd", "blosc", "szip", "bzip2") if filters[k]]
        assert used == [codec] and filters["complevel"] == 1
        assert filters["shuffle"] == (codec == "zlib")  # netCDF4 sets none before zstd
        np.testing.assert_array_equal(nc["draws"]["stock"][:], expected)


def test_an_unknown_codec_is_refused():
    with pytest.raises(writers.UsageError, match="--codec lz4: must be one of zlib, zstd"):
        writers.check_codec("lz4")


def test_discard_ends_the_thread_and_removes_the_file(tmp_path):
    writer = DrawsWriter(tmp_path / "out.nc", _group(), range(0, N, K), _chunk)
    writer.ready(4)  # one chunk written, the thread waits for the next
    writer.discard()
    assert not writer._thread.is_alive()
    assert list(tmp_path.iterdir()) == []
    writer.discard()  # twice is harmless


def test_a_failed_write_stops_the_run_at_the_next_chunk(tmp_path):
    def load(start):
        if start == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return _chunk(start)

    writer = DrawsWriter(tmp_path / "out.nc", _group(), range(0, N, K), load)
    writer.ready(8)
    writer._thread.join(10)
    with pytest.raises(OSError, match="No space left"):
        writer.ready(N)
    with pytest.raises(OSError, match="No space left"):
        write_netcdf(_summary(), tmp_path / "out.nc", draws=writer)
    writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_written_chunk_is_let_go_before_the_next_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(writers, "DRAW_CHUNK", K)  # each chunk is one whole HDF5 chunk of draws
    alive: list[weakref.ref] = []

    def chunks():
        for start in range(0, N, K):
            gc.collect()
            # every earlier chunk is written and dropped when the next is asked for
            assert all(ref() is None for ref in alive), start
            chunk = _chunk(start)
            alive.append(weakref.ref(chunk["stock"]))
            yield chunk
            del chunk

    group = DrawsGroup(template=_template(), names=["stock", "price"], n=N, chunks=chunks())
    target = write_netcdf(_summary(), tmp_path / "out.nc", draws=group)
    assert len(alive) == 3
    with xr.open_dataset(target, group="draws") as g:
        expected = np.concatenate([_chunk(s)["stock"] for s in (0, 4, 8)])
        np.testing.assert_array_equal(g["stock"].values, expected)


def test_first_then_keeps_no_reference_to_the_first_item():
    class Item:
        pass

    first = Item()
    ref = weakref.ref(first)
    it = writers._first_then(first, iter([Item()]))
    del first
    taken = next(it)
    del taken
    next(it)
    assert ref() is None


def test_a_waited_future_is_dropped_by_the_pool_executor():
    # a done future keeps its result (a chunk's arrays): the executor must not hold it
    pool = executors.PoolExecutor.__new__(executors.PoolExecutor)
    done, running = concurrent.futures.Future(), concurrent.futures.Future()
    done.set_result("result")
    pool.futures = [done, running]
    assert pool.wait(done) == "result"
    assert pool.futures == [running]


class _OnAccess(Mapping):
    """A chunk that makes each array when it is accessed, as a kept chunk maps its files."""

    def __init__(self, start: int, alive: list):
        self.start, self.alive = start, alive

    def __getitem__(self, name):
        gc.collect()
        # the chunk's earlier arrays are written and dropped before the next is read
        assert all(ref() is None for ref in self.alive), (self.start, name)
        values = _chunk(self.start)["stock"] * (2.0 if name == "twice" else 1.0)
        self.alive.append(weakref.ref(values))
        return values

    def __iter__(self):
        return iter(["stock", "twice"])

    def __len__(self):
        return 2


def test_a_whole_chunk_is_written_a_variable_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(writers, "DRAW_CHUNK", K)  # each chunk is one whole HDF5 chunk of draws
    template = _template().drop_vars("price").assign(twice=lambda d: 2 * d["stock"])
    alive: list[weakref.ref] = []
    starts = list(range(0, N, K))
    group = DrawsGroup(template=template, names=["stock", "twice"], n=N, chunks=())
    writer = DrawsWriter(tmp_path / "out.nc", group, starts, lambda s: _OnAccess(s, alive))
    writer.ready(N)
    target = write_netcdf(_summary(), tmp_path / "out.nc", draws=writer)
    with xr.open_dataset(target, group="draws") as g:
        expected = np.concatenate([_chunk(s)["stock"] for s in starts])
        np.testing.assert_array_equal(g["stock"].values, expected)
        np.testing.assert_array_equal(g["twice"].values, 2 * expected)
