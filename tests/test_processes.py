"""The process functions against plain-Python loops and hand-computed values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from ndsim import balance, flows
from ndsim import conventions as cv
from ndsim.errors import BalanceError
from ndsim.processes import consumption, products, trade, upstream, waste

YEARS = np.arange(2000, 2004)
PRODUCTS = ["AA", "BB", "CC"]


def cube(rng, dims, lo=1.0, hi=10.0, draws=None):
    coords = {
        "product": PRODUCTS,
        "year": YEARS,
        "intermediate": ["k1", "k2"],
        "source": ["s1", "s2"],
    }
    shape = [len(coords[d]) for d in dims]
    if draws:
        dims, shape = ("draw", *dims), [draws, *shape]
        coords["draw"] = np.arange(draws)
    return xr.DataArray(rng.uniform(lo, hi, shape), dims=dims, coords={d: coords[d] for d in dims})


@pytest.mark.parametrize("draws", [None, 3])
def test_nd_flows_are_units_times_the_cohort_intensity(rng, draws):
    """DC = P m, E = E_p m, I = I_p m, F_in = DC - E + I, m = k MI AR, element by element
    (plain loops); inputs without draws broadcast over the draws of the others."""
    n = 1 if draws is None else draws
    shape = (n, len(PRODUCTS), len(YEARS))
    pv, ev = rng.uniform(1e3, 1e6, shape), rng.uniform(0.0, 5e2, shape)
    iv = rng.uniform(0.0, 5e2, (1, *shape[1:]))  # (no draws)
    mi = rng.uniform(1e-7, 1e-6, (1, len(PRODUCTS)))
    ar = rng.uniform(0.0, 1.0, (1, *shape[1:]))
    k = rng.uniform(0.5, 2.0, (n, len(PRODUCTS)))
    got = products.unit_layer_values(pv, ev, iv, mi, ar, k)
    for d in range(n):
        for j in range(len(PRODUCTS)):
            for t in range(len(YEARS)):
                mm = k[d, j] * mi[0, j] * ar[0, j, t]
                assert got["nd_intensity"][d, j, t] == pytest.approx(mm, rel=1e-15)
                assert got["units_sales"][d, j, t] == pv[d, j, t] - ev[d, j, t] + iv[0, j, t]
                dc = pv[d, j, t] * mm
                assert got["domestic_consumption"][d, j, t] == pytest.approx(dc, rel=1e-14)
                assert got["exports_final"][d, j, t] == pytest.approx(ev[d, j, t] * mm, rel=1e-14)
                inflow = dc - ev[d, j, t] * mm + iv[0, j, t] * mm
                assert got["inflow"][d, j, t] == pytest.approx(inflow, rel=1e-12, abs=1e-18)


def test_total_demand_counts_only_flagged_products(rng):
    dc = cube(rng, ("product", "year"))
    flag = xr.DataArray([True, False, True], dims="product", coords={"product": PRODUCTS})
    total = consumption.total_demand(dc, flag)
    want = [dc.values[0, t] + dc.values[2, t] for t in range(len(YEARS))]
    np.testing.assert_allclose(total.values, want, rtol=1e-15)
    assert total.attrs["long_name"] == "total demand (paper definition)"


def test_waste_splits_end_of_life_into_recycled_and_landfill():
    out = np.array([[100.0, 200.0], [50.0, np.nan]])  # (product, year); NaN: no outflow
    res = waste.waste_values(out, np.array([0.1, 0.5]), np.array(0.8))
    np.testing.assert_allclose(res["end_of_life"], [150.0, 200.0])
    np.testing.assert_allclose(res["recycled"], [0.1 * 0.8 * 150.0, 0.5 * 0.8 * 200.0])
    np.testing.assert_allclose(res["landfill"], [150.0 - 12.0, 200.0 - 80.0])


def test_recycling_path_data_then_points_then_flat():
    years = xr.DataArray(np.arange(2000, 2011), dims="year")
    data = xr.DataArray([0.01, 0.02, 0.03], dims="year", coords={"year": [2000, 2001, 2002]})
    held = waste.recycling_path(data, years, 2002, None)
    np.testing.assert_allclose(held.values, [0.01, 0.02] + [0.03] * 9)
    path = waste.recycling_path(data, years, 2002, ((2002, 0.03), (2006, 0.43)))
    np.testing.assert_allclose(path.values[:3], [0.01, 0.02, 0.03])
    np.testing.assert_allclose(path.values[3:7], [0.13, 0.23, 0.33, 0.43])
    np.testing.assert_allclose(path.values[7:], 0.43)
    eta = waste.recycling_path(xr.DataArray(0.9), years, 2002, ((2002, 0.5),))
    np.testing.assert_allclose(eta.values, [0.9] * 3 + [0.5] * 8)


def test_upstream_chain_against_a_plain_loop(rng):
    """Manufacturing -> fabrication -> refining -> mining, draws included, against scalar arithmetic."""
    draws = 2
    dc = cube(rng, ("product", "year"), 50, 100, draws)
    member = xr.DataArray(
        [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
        dims=("product", "intermediate"),
        coords={"product": PRODUCTS, "intermediate": ["k1", "k2"]},
    )
    y_man = cube(rng, ("intermediate", "year"), 0.8, 1.0)
    x_int, i_int = (
        cube(rng, ("intermediate", "year"), 0, 5),
        cube(rng, ("intermediate", "year"), 0, 5),
    )
    y_fab = cube(rng, ("intermediate", "year"), 0.7, 0.95)
    year_only = {
        n: cube(rng, ("year",), lo, hi)
        for n, lo, hi in (
            ("xp", 0, 10),
            ("xu", 0, 5),
            ("ip", 0, 8),
            ("rec", 0, 3),
            ("y_ref", 0.8, 0.95),
            ("xc", 0, 2),
            ("ic", 0, 6),
            ("y_min", 0.6, 0.9),
        )
    }
    official = cube(rng, ("source", "year"), 10, 60)

    def lead(x):  # (draw, ..., year) as the model hands them: a draw axis of 1 if none
        return x.values if "draw" in x.dims else x.values[None]

    made = upstream.manufacturing_values(
        lead(dc), member.transpose("intermediate", "product").values, lead(y_man)
    )
    fab = upstream.fabrication_values(made["input"], lead(x_int), lead(i_int), lead(y_fab))
    ref = upstream.refining_values(
        fab["primary_input"].sum(axis=-2),
        *(lead(year_only[n]) for n in ("xp", "xu", "ip", "rec", "y_ref")),
    )
    mine = upstream.mining_values(
        ref["concentrate_input"], lead(year_only["xc"]), lead(year_only["ic"]), lead(official),
        lead(year_only["y_min"]),
    )  # fmt: skip

    v = {k: da.values for k, da in year_only.items()}
    assert made["input"].shape == (draws, 2, len(YEARS))
    assert mine["unregistered"].shape == (draws, len(YEARS))
    for d in range(draws):
        for t in range(len(YEARS)):
            primary = 0.0
            for k, members in enumerate(([0, 1], [2])):
                m = sum(dc.values[d, j, t] for j in members) / y_man.values[k, t]
                assert made["input"][d, k, t] == pytest.approx(m, rel=1e-14)
                made_k = sum(dc.values[d, j, t] for j in members)
                assert made["loss"][d, k, t] == pytest.approx(m - made_k, rel=1e-12)
                o = m + x_int.values[k, t] - i_int.values[k, t]
                assert fab["production"][d, k, t] == pytest.approx(o, rel=1e-14)
                primary += o / y_fab.values[k, t]
            c = (primary + v["xp"][t] + v["xu"][t] - v["ip"][t] - v["rec"][t]) / v["y_ref"][t]
            assert ref["concentrate_input"][d, t] == pytest.approx(c, rel=1e-13)
            assert ref["loss"][d, t] == pytest.approx(c * (1 - v["y_ref"][t]), rel=1e-12)
            ore = (c - v["ic"][t] + v["xc"][t]) / v["y_min"][t]
            assert mine["ore_required"][d, t] == pytest.approx(ore, rel=1e-13)
            im = ore - official.values[0, t] - official.values[1, t]
            assert mine["unregistered"][d, t] == pytest.approx(im, rel=1e-12, abs=1e-9)


def test_negative_unregistered_mining_is_a_result():
    one = np.ones((1, 1))  # (draw, year)
    official = np.array([[[500.0]]])  # (draw, source, year)
    mine = upstream.mining_values(100.0 * one, 0 * one, 0 * one, official, 0.5 * one)
    assert float(mine["unregistered"][0, 0]) == -300.0
    # on the concentrate basis the official figure does not pass the beneficiation yield
    mine = upstream.mining_values(100.0 * one, 0 * one, 0 * one, official, 0.5 * one, "concentrate")
    assert float(mine["unregistered"][0, 0]) == -400.0
    assert float(mine["official_ore"][0, 0]) == 1000.0


# --- balance -------------------------------------------------------------------
def _flow(values: dict, years=(2000, 2001), draws=None):
    from ndsim.conventions import NODES

    shape = (len(NODES), len(NODES), len(years))
    dims = ("origin", "destination", "year")
    coords = {"origin": list(NODES), "destination": list(NODES), "year": list(years)}
    data = np.zeros(shape)
    if draws:
        data = np.zeros((draws, *shape))
        dims = ("draw", *dims)
        coords["draw"] = np.arange(draws)
    flow = xr.DataArray(data, dims=dims, coords=coords)
    for (o, d), v in values.items():
        flow.loc[{"origin": o, "destination": d}] = v
    return flow


def test_balance_of_a_consistent_system_is_zero():
    stock = xr.DataArray(
        [[60.0, 100.0]], dims=("product", "year"), coords={"product": ["A"], "year": [2000, 2001]}
    )
    flow = _flow(
        {
            ("import", "use"): [80.0, 70.0],
            ("use", "waste"): [20.0, 30.0],
            ("waste", "landfill"): [20.0, 30.0],
        }
    )
    res = balance.check_balance(flow, stock)
    assert res.dims == ("process", "year")
    assert float(abs(res).max()) == 0.0
    assert res.attrs["units"] == "t yr-1"


def test_balance_violation_names_process_year_and_draw():
    stock = xr.DataArray(
        [[60.0, 100.0]], dims=("product", "year"), coords={"product": ["A"], "year": [2000, 2001]}
    )
    flow = _flow(
        {
            ("import", "use"): [80.0, 70.0],
            ("use", "waste"): [20.0, 30.0],
            ("waste", "landfill"): [20.0, 30.0],
        },
        draws=3,
    )
    flow.loc[{"draw": 2, "origin": "waste", "destination": "landfill", "year": 2001}] = 29.0
    with pytest.raises(
        BalanceError, match=r"mass balance: process waste, year 2001, draw 2: .* = 1 t yr-1"
    ):
        balance.check_balance(flow, stock)
    with pytest.warns(balance.BalanceWarning, match="process waste, year 2001, draw 2"):
        res = balance.check_balance(flow, stock, on_violation="warn")
    assert float(res.sel(process="waste", year=2001)) == 1.0  # worst over draws


def test_balance_values_against_a_plain_loop():
    # flows on their edges (draw, edge, year), random, and a stock: every process's residual
    # by a loop over the edges, the worst draw picked by hand, and a violation named
    rng = np.random.default_rng(7)
    n, years = 4, np.array([2000, 2001, 2002])
    flow = rng.uniform(0.0, 10.0, (n, len(flows.EDGES), years.size))
    stock_total = rng.uniform(50.0, 60.0, (n, years.size))
    initial = rng.uniform(40.0, 50.0, n)
    res, _ = balance.residual_values(flow, stock_total, initial)
    for k in range(n):
        for i, p in enumerate(cv.PROCESSES):
            for t in range(years.size):
                s_in = s_out = 0.0
                for e, (o, d) in enumerate(flows.EDGES):
                    if d == p:
                        s_in += flow[k, e, t]
                    if o == p:
                        s_out += flow[k, e, t]
                change = 0.0
                if p == "use":
                    change = stock_total[k, t] - (stock_total[k, t - 1] if t else initial[k])
                assert res[k, i, t] == s_in - s_out - change
    with pytest.raises(BalanceError, match=r"mass balance: process (\w+), year 2000, draw 10:"):
        balance.check_balance_values(flow, stock_total, initial, years, np.arange(10, 14))
    # a balanced system but one draw: the worst residual over draws is that draw's, signed
    bal = np.zeros((n, len(flows.EDGES), years.size))
    bal[:, flows.EDGES.index(("import", "use")), :] = 5.0
    bal[:, flows.EDGES.index(("use", "waste")), :] = 5.0
    bal[:, flows.EDGES.index(("waste", "landfill")), :] = 5.0
    bal[2, flows.EDGES.index(("waste", "landfill")), 1] = 4.0  # waste keeps 1 in draw 2, 2001
    with pytest.warns(balance.BalanceWarning, match="process waste, year 2001, draw 12"):
        worst = balance.check_balance_values(
            bal, None, np.zeros(1), years, np.arange(10, 14), on_violation="warn"
        )
    assert worst.shape == (len(cv.PROCESSES), years.size)
    assert worst[list(cv.PROCESSES).index("waste"), 1] == 1.0
    assert np.count_nonzero(worst) == 1
    # the worst draw by hand: signed, NaN skipped unless every draw is NaN, the first of ties
    by_draw = np.array([[np.nan, -3.0, np.nan, 2.0], [np.nan, 2.0, 5.0, -2.0]])
    np.testing.assert_array_equal(balance._worst(by_draw), [np.nan, -3.0, 5.0, 2.0])
    labelled = xr.DataArray(by_draw.T, dims=("year", "draw"))
    np.testing.assert_array_equal(
        balance.worst_over_draws(labelled).values, [np.nan, -3.0, 5.0, 2.0]
    )


def test_balance_tolerance_scales_with_the_data():
    big = 1e9
    flow = _flow(
        {
            ("ore", "mining"): [big, big],
            ("mining", "refining"): [big * (1 - 1e-14), big],
            ("mining", "loss"): [big * 1e-14, 0.0],
            ("refining", "export"): [big * (1 - 1e-14), big],
        }
    )
    balance.check_balance(flow)  # rounding-level residual passes
    flow.loc[{"origin": "mining", "destination": "loss", "year": 2000}] = big * 1e-11
    with pytest.raises(BalanceError, match="process mining, year 2000"):
        balance.check_balance(flow)


def test_nan_processes_are_not_checked():
    flow = _flow({("ore", "mining"): [5.0, np.nan], ("mining", "loss"): [5.0, np.nan]})
    res = balance.check_balance(flow)
    assert np.isnan(float(res.sel(process="mining", year=2001)))
    assert float(res.sel(process="mining", year=2000)) == 0.0


def test_negative_values_are_reported_with_variable_product_year_draw():
    da = xr.DataArray(
        np.ones((2, 2, 3)),
        dims=("draw", "product", "year"),
        coords={"draw": [0, 1], "product": ["A", "B"], "year": [2000, 2001, 2002]},
        attrs={"units": "t"},
    )
    balance.check_nonnegative([("stock", da)])
    da[1, 0, 2] = -0.5
    with pytest.raises(
        BalanceError, match=r"stock is negative: product A, year 2002, draw 1: -0.5 t"
    ):
        balance.check_nonnegative([("stock", da)])
    with pytest.warns(balance.BalanceWarning):
        balance.check_nonnegative([("stock", da)], on_violation="warn")
    da[1, 0, 2] = -1e-17  # rounding, not a violation
    balance.check_nonnegative([("stock", da)])


@pytest.mark.parametrize("memory", ["year first", "four dims"])
def test_negative_values_are_found_whatever_the_memory_order(memory):
    """The compiled check reads series over years in any layout: the same verdicts."""
    dims = ("draw", "product", "year")
    if memory == "year first":  # (year, draw, product) in memory, (draw, product, year) dims
        da = xr.DataArray(np.ones((4, 3, 2)), dims=("year", "draw", "product")).transpose(*dims)
        assert not da.values.flags.c_contiguous
        where = {"draw": 2, "product": 1, "year": 3}
    else:
        da = xr.DataArray(np.ones((2, 2, 3, 4)), dims=("scenario", *dims))
        where = {"scenario": 1, "draw": 0, "product": 1, "year": 2}
    balance.check_nonnegative([("stock", da)])
    da[where] = -1e-17  # rounding against values of 1
    balance.check_nonnegative([("stock", da)])
    da[where] = -0.5
    with pytest.raises(BalanceError, match="stock is negative"):
        balance.check_nonnegative([("stock", da)])


def test_residuals_equal_a_plain_loop_over_processes_years_and_draws(rng):
    """The one-pass kernel against sums written out per process, year and draw."""
    nodes = list(cv.NODES)
    n_d, n_n, years = 3, len(nodes), [2000, 2001, 2002, 2003]
    data = rng.uniform(0.0, 10.0, (n_d, n_n, n_n, len(years)))
    data[rng.random(data.shape) < 0.7] = 0.0
    data[1, nodes.index("ore"), nodes.index("mining"), 2] = np.nan  # not modelled there
    flow = xr.DataArray(
        data,
        dims=("draw", "origin", "destination", "year"),
        coords={"draw": [0, 1, 2], "origin": nodes, "destination": nodes, "year": years},
    )
    stock = xr.DataArray(
        rng.uniform(0.0, 50.0, (n_d, 2, len(years))),
        dims=("draw", "product", "year"),
        coords={"draw": [0, 1, 2], "product": ["A", "B"], "year": years},
    )
    res = balance.residuals(flow, stock, initial_stock=7.0)
    eps = np.finfo(float).eps
    for d in range(n_d):
        for p in cv.PROCESSES:
            i = nodes.index(p)
            for t, y in enumerate(years):
                into = [data[d, o, i, t] for o in range(n_n)]
                out = [data[d, i, o, t] for o in range(n_n)]
                expect = sum(into) - sum(out)
                xs = into + out
                if p == "use":
                    now = float(stock[d, :, t].sum())
                    before = float(stock[d, :, t - 1].sum()) if t else 7.0
                    expect -= now - before
                    xs += [now, before]
                got = float(res["residual"].sel(draw=d, process=p, year=y))
                tol = float(res["tolerance"].sel(draw=d, process=p, year=y))
                if np.isnan(expect):
                    assert np.isnan(got) and np.isnan(tol)
                else:
                    assert got == pytest.approx(expect, rel=1e-12, abs=1e-12)
                    assert tol == pytest.approx(100 * eps * np.nanmax(np.abs(xs)), rel=1e-15)


@pytest.mark.parametrize("value", [-1e-13, -1e-9, np.nan])
def test_negative_check_tolerance_is_relative_to_the_series(value):
    """-100 eps max|x| of the series passes, below it fails; NaN is not a negative value."""
    x = np.array([[1000.0, 2000.0, 500.0], [1.0, 1.0, 1.0]])
    da = xr.DataArray(x, dims=("product", "year"), coords={"year": [2000, 2001, 2002]})
    da[0, 2] = value
    limit = -100 * np.finfo(float).eps * 2000.0  # about -4.4e-11
    if np.isnan(value) or value >= limit:
        balance.check_nonnegative([("x", da)])
    else:
        with pytest.raises(BalanceError, match="x is negative: product 0, year 2002"):
            balance.check_nonnegative([("x", da)])


def test_compiled_negative_check_is_numpys_verdict(rng):
    """The one-pass check against numpy's: some x < -100 eps max|x| in a series, NaN
    skipped, over series with NaN, infinities and values at the edge of the tolerance."""
    eps = np.finfo(float).eps
    for _ in range(400):
        x = rng.uniform(0.0, 10.0, (2, 3, 6)) * 10.0 ** rng.integers(-5, 6, (2, 3, 1))
        scale = np.abs(x).max(axis=-1, keepdims=True)
        pick = rng.random(x.shape)
        x = np.where(pick < 0.05, -100 * eps * scale * rng.uniform(0.5, 1.5, x.shape), x)
        x[pick > 0.97] = np.nan
        x[(pick > 0.955) & (pick <= 0.96)] = np.inf
        x[(pick > 0.95) & (pick <= 0.955)] = -np.inf
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN series
            limit = -100 * eps * np.nanmax(np.abs(x), axis=-1, keepdims=True)
        expected = bool((x < limit).any())
        assert balance._any_negative(x) == expected


def test_surely_nonnegative_on_variables_is_numpys_verdict(rng):
    """The pre-check the run makes on a result's Variables: False exactly where numpy finds
    a value below -100 eps max|x| of its series (year last or not, up to four dims)."""
    eps = np.finfo(float).eps
    for shape, dims in (
        ((5,), ("year",)),
        ((3, 5), ("product", "year")),
        ((5, 3), ("year", "product")),
        ((2, 3, 5), ("draw", "product", "year")),
        ((2, 3, 4, 5), ("draw", "stage", "product", "year")),
    ):
        for _ in range(50):
            x = rng.uniform(0.0, 10.0, shape)
            x[rng.random(shape) < 0.04] = -1e-3
            x[rng.random(shape) < 0.05] = np.nan
            var = xr.Variable(dims, x)
            series = np.moveaxis(x, dims.index("year"), -1)
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN series
                limit = -100 * eps * np.nanmax(np.abs(series), axis=-1, keepdims=True)
            assert balance.surely_nonnegative(var) == (not bool((series < limit).any()))
    assert not balance.surely_nonnegative(xr.Variable(("product",), np.ones(3)))  # no year
    assert not balance.surely_nonnegative(xr.Variable(("year",), np.ones(3, dtype=int)))


def test_year_values_are_xarrays_reindex():
    years = np.arange(1998, 2006)
    own = [2000, 2001, 2003, 2004, 2005]
    for values, dims in (
        (np.arange(5.0), ("year",)),
        (np.arange(10.0).reshape(5, 2), ("year", "draw")),
        (np.arange(10.0).reshape(2, 5), ("draw", "year")),
        (np.arange(5), ("year",)),  # integers: xarray fills NaN in floats
    ):
        da = xr.DataArray(values, dims=dims, coords={"year": own})
        for want in (years, np.array(own), np.array([2005, 2000]), np.array([1990])):
            expected = da.reindex(year=want).values
            got = products.year_values(da, want)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)


def test_unit_layer_on_arrays_by_hand():
    # by hand: P = 10, E_p = 2, I_p = 1 units; MI = 0.5 kg, k = 2, AR = 0.3
    v = products.unit_layer_values(
        np.array([[10.0]]),
        np.array([[2.0]]),
        np.array([[1.0]]),
        np.array([5e-4]),
        np.array([[0.3]]),
        np.array([2.0]),
    )
    m = 2.0 * 5e-4 * 0.3
    assert v["nd_intensity"][0, 0] == pytest.approx(m)
    assert v["units_sales"][0, 0] == 9.0
    assert v["domestic_consumption"][0, 0] == pytest.approx(10 * m)
    assert v["inflow"][0, 0] == pytest.approx(9 * m)


def test_trade_extension_by_hand_and_as_a_plain_loop(rng):
    """Data to T, then the share of DC in T (0 where DC(T) = 0) times DC; accounted trade
    without draws broadcasts over DC's draws."""
    dc = np.array([[10.0, 20.0, 40.0, 80.0], [0.0, 0.0, 0.0, 5.0]])
    e = np.array([[1.0, 4.0], [0.0, 0.0]])
    np.testing.assert_array_equal(
        trade.extended_values(e, dc), [[1.0, 4.0, 8.0, 16.0], [0.0, 0.0, 0.0, 0.0]]
    )
    dc_d = rng.uniform(1.0, 10.0, (3, 2, 6))  # (draw, product, year)
    dc_d[1, 1, 2] = 0.0  # DC(T) = 0 in one draw: share 0
    acc = rng.uniform(0.0, 2.0, (2, 3))  # (product, year to T), no draws
    got = trade.extended_values(acc, dc_d)
    assert got.shape == (3, 2, 6)
    for d in range(3):
        for p in range(2):
            share = acc[p, 2] / dc_d[d, p, 2] if dc_d[d, p, 2] != 0 else 0.0
            for t in range(6):
                want = acc[p, t] if t < 3 else dc_d[d, p, t] * share
                assert got[d, p, t] == want, (d, p, t)


@pytest.mark.parametrize("memory", ["C", "year slice"])
def test_units_kept_and_bounds_against_a_plain_loop(rng, memory):
    """The unit layer's kept copy (NaN off the layer, NaN as 0 where asked) and the
    plausibility flag, element by element as a plain loop decides them, in either memory
    layout; a population that is not by year is refused."""
    d, p, y = 4, 5, 7
    whole = rng.uniform(0.0, 10.0, size=(d, p, y + 3))
    whole[rng.uniform(size=whole.shape) < 0.2] = np.nan
    sales = whole[..., 3:] if memory == "year slice" else np.ascontiguousarray(whole[..., 3:])
    in_use = rng.uniform(0.0, 50.0, size=(d, p, y))
    on = np.array([True, False, True, True, False])
    population = rng.uniform(5.0, 10.0, size=y)
    per_year = np.array([5.0, np.nan, np.nan, 8.0, 1.0])
    per_person = np.array([np.nan, 2.0, np.nan, 4.0, np.nan])
    for nan_as_zero in (False, True):
        kept = products.kept_units(sales, on, nan_as_zero)
        assert kept.flags.c_contiguous
        for i in range(d):
            for j in range(p):
                for k in range(y):
                    v = sales[i, j, k]
                    want = np.nan if not on[j] else (0.0 if nan_as_zero and np.isnan(v) else v)
                    assert kept[i, j, k] == want or (np.isnan(want) and np.isnan(kept[i, j, k]))
    flag = products.over_bounds(sales, in_use, population, per_year, per_person)
    for i in range(d):
        for j in range(p):
            for k in range(y):
                s, owned = sales[i, j, k], in_use[i, j, k] / population[k]
                if np.isnan(s) or (np.isnan(per_year[j]) and np.isnan(per_person[j])):
                    assert np.isnan(flag[i, j, k])
                else:
                    assert flag[i, j, k] == float(s > per_year[j] or owned > per_person[j])
    with pytest.raises(ValueError, match="population by year"):
        products.over_bounds(sales, in_use, population[None, :], per_year, per_person)
