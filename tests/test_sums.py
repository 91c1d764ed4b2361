"""ndsim.sums against xarray's NaN-skipping sum and numpy's sum, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ndsim.sums import nansum, nansum_values, sum_values


def _cube() -> xr.DataArray:
    rng = np.random.default_rng(7)
    shape = (40, 22, 73)
    # magnitudes over 16 orders: the order of the additions shows in the last bits
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 9, shape)
    x[3, 4, 5] = np.nan
    x[7, :, 9] = np.nan  # a year of one draw all NaN: 0, as xarray gives
    x[1, 2, 3] = -0.0
    return xr.DataArray(
        x,
        dims=("draw", "product", "year"),
        coords={
            "product": [f"p{i}" for i in range(22)],
            "name": ("product", [f"n{i}" for i in range(22)]),
            "year": np.arange(1978, 2051),
        },
        attrs={"units": "t"},
        name="stock",
    )


def _same(a, b) -> None:
    assert type(a) is type(b)
    assert a.identical(b)
    assert a.values.tobytes() == b.values.tobytes()  # the bits, -0.0 included


@pytest.mark.parametrize(
    "select",
    [
        lambda da: da,
        lambda da: da.sel(year=slice(2000, None)),  # a view over part of the years
        lambda da: da.isel(year=[60]),  # one year: numpy adds pairwise, xarray's sum applies
        lambda da: da.transpose("draw", "year", "product"),  # products innermost
        lambda da: da.isel(draw=0),
        lambda da: da.isel(draw=slice(0, 1)),
        lambda da: da - 2.0 * da.isel(draw=0),
    ],
)
@pytest.mark.parametrize("kind", ["DataArray", "Variable"])
def test_nansum_is_xarrays_sum_bit_for_bit(select, kind):
    da = select(_cube())
    x = da if kind == "DataArray" else da.variable
    _same(nansum(x, "product"), x.sum("product"))
    if "draw" in x.dims:
        _same(nansum(x, "draw"), x.sum("draw"))


def test_nansum_keeps_the_attributes_xarray_keeps():
    da = _cube()
    for keep in (True, False):
        with xr.set_options(keep_attrs=keep):
            _same(nansum(da, "product"), da.sum("product"))


def test_nansum_of_a_broadcast_array_is_xarrays():
    da = _cube().isel(draw=0, drop=True)
    wide = xr.DataArray(
        np.broadcast_to(da.values[None], (5, *da.shape)),
        dims=("draw", *da.dims),
        coords=da.coords,
    )
    _same(nansum(wide, "product"), wide.sum("product"))
    _same(nansum(wide, "draw"), wide.sum("draw"))


def test_nansum_of_other_dtypes_and_empty_dims_is_xarrays():
    ints = xr.DataArray(np.arange(24).reshape(2, 3, 4), dims=("a", "b", "c"))
    _same(nansum(ints, "b"), ints.sum("b"))
    empty = xr.DataArray(np.zeros((2, 0, 4)), dims=("a", "b", "c"))
    _same(nansum(empty, "b"), empty.sum("b"))


def test_nansum_is_xarrays_sum_over_many_memory_layouts():
    # seeded random layouts: C and Fortran order, steps, reversed axes, transposes, NaN
    rng = np.random.default_rng(11)
    for _ in range(300):
        nd = int(rng.integers(1, 5))
        shape = tuple(int(v) for v in rng.integers(1, 30, nd))
        x = rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 9, shape)
        x[rng.random(shape) < 0.1] = np.nan
        if rng.random() < 0.3:
            x = np.asfortranarray(x)
        x = x[tuple(slice(None, None, int(rng.choice([1, 2, -1]))) for _ in range(nd))]
        x = np.transpose(x, rng.permutation(nd))
        da = xr.DataArray(x, dims=[f"d{i}" for i in range(nd)])
        axis = int(rng.integers(0, nd))
        dim = f"d{axis}"
        _same(nansum(da, dim), da.sum(dim))
        # on the plain array, the axis counted from the end: the same bits
        want = da.sum(dim).values
        got = nansum_values(x, axis - nd)
        assert got.shape == want.shape and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("weighted", [False, True])
def test_sum_values_is_numpys_sum_over_many_memory_layouts(weighted):
    """``sum_values`` (NaN kept, -0.0 summed to 0.0 as numpy starts from 0.0) against
    numpy's ``(x * w).sum(axis)`` on views of many layouts, bit for bit; the total demand
    against a plain loop over the products."""
    from ndsim.processes import consumption

    x = _cube().values
    rng = np.random.default_rng(3)
    views = [x, x[:, :, 5:], x.transpose(2, 1, 0), np.asfortranarray(x), x[::2, 1:], x[:1]]
    views.append(np.broadcast_to(x[:1], x.shape))
    for v in views:
        for axis in range(v.ndim):
            w = rng.uniform(0.0, 2.0, v.shape[axis]) * (rng.uniform(size=v.shape[axis]) < 0.7)
            got = sum_values(v, axis, w if weighted else None)
            shape = (-1,) + (1,) * (v.ndim - axis - 1)
            want = np.sum(v * w.reshape(shape) if weighted else v, axis=axis)
            assert got.shape == want.shape and got.tobytes() == want.tobytes(), (v.strides, axis)
    zeros = np.full((2, 3, 4), -0.0)
    assert not np.signbit(sum_values(zeros, 1)).any() and not np.signbit(np.sum(zeros, 1)).any()
    dc = _cube()
    flag = xr.DataArray(np.arange(22) % 3 != 0, dims="product", coords={"product": dc["product"]})
    total = consumption.total_demand(dc, flag)
    assert total.dims == ("draw", "year") and "name" not in total.coords
    for i in (0, 7, 39):
        for t in (0, 9, 72):
            s = 0.0
            for j in range(22):
                s += float(dc.values[i, j, t]) * float(flag.values[j])
            assert total.values[i, t] == s or (np.isnan(s) and np.isnan(total.values[i, t]))
    shuffled = flag.isel(product=np.arange(22)[::-1])  # other order: xarray aligns
    xr.testing.assert_identical(consumption.total_demand(dc, shuffled), total)
