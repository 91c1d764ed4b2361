"""Labelled dynamic stock model: paths agree, dask == in-memory, attrs, conservation, errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from ndsim import dsm
from ndsim.errors import ValidationError
from ndsim.lifetime import Lifetime, pdf_by_product

PRODUCTS = ["CV", "AC", "MP"]
YEARS = np.arange(2000, 2021)


def cube(rng, draws=6, low=1.0, high=100.0):
    """Inflow-like cube (draw, product, year) with coordinates."""
    return xr.DataArray(
        rng.uniform(low, high, (draws, len(PRODUCTS), len(YEARS))),
        dims=("draw", "product", "year"),
        coords={"draw": np.arange(draws), "product": PRODUCTS, "year": YEARS},
    )


def specs(rng, draws=6, timing="end"):
    mean = xr.DataArray(rng.uniform(4, 15, draws), dims=["draw"], coords={"draw": np.arange(draws)})
    return {
        "CV": Lifetime("normal", timing, mean=mean, sd=0.3 * mean),
        "AC": Lifetime.weibull_from_mean_sd(mean, 0.4 * mean, timing=timing),
        "MP": Lifetime("fixed", timing, mean=3.5),
    }


def plain_loop(inflow, pdf):
    """Outflow and stock of one series with a plain double loop (the oracle)."""
    n = len(inflow)
    out = np.array([sum(inflow[c] * pdf[t - c] for c in range(t + 1)) for t in range(n)])
    return out, np.cumsum(inflow - out)


def test_inflow_driven_labels_attrs_and_oracle(rng):
    inflow = cube(rng)
    sp = specs(rng)
    ds = dsm.inflow_driven(inflow, sp)
    assert ds.outflow.dims == ("draw", "product", "year")
    assert list(ds["product"].values) == PRODUCTS
    np.testing.assert_array_equal(ds["year"].values, YEARS)
    assert ds.outflow.attrs["units"] == "t yr-1" and ds.stock.attrs["units"] == "t"
    assert ds.outflow.attrs["long_name"] == "end-of-life outflow"
    assert ds.stock.attrs["lifetime_timing"] == "end" and ds.attrs["lifetime_timing"] == "end"
    pdf = pdf_by_product(sp, len(YEARS))
    for d, p in [(0, "CV"), (3, "AC"), (5, "MP")]:
        out, stock = plain_loop(inflow.sel(product=p)[d].values, pdf.sel(product=p)[d].values)
        np.testing.assert_allclose(ds.outflow.sel(product=p)[d], out, rtol=1e-12)
        np.testing.assert_allclose(ds.stock.sel(product=p)[d], stock, rtol=1e-12)


@pytest.mark.parametrize("timing", ["end", "middle"])
def test_lifetime_mapping_and_pdf_paths_agree(rng, timing):
    inflow = cube(rng)
    sp = specs(rng, timing=timing)
    fused = dsm.inflow_driven(inflow, sp)
    via_pdf = dsm.inflow_driven(inflow, pdf_by_product(sp, len(YEARS) + 1))
    xr.testing.assert_allclose(
        fused.outflow, via_pdf.outflow.transpose(*fused.outflow.dims), rtol=1e-13
    )
    assert via_pdf.attrs["lifetime_timing"] == timing
    target = fused.stock
    a = dsm.stock_driven(target, sp)
    b = dsm.stock_driven(target, pdf_by_product(sp, len(YEARS) + 1))
    xr.testing.assert_allclose(a.inflow, b.inflow.transpose(*a.inflow.dims), rtol=1e-12)
    xr.testing.assert_allclose(a.inflow, inflow, rtol=1e-8)


def test_single_lifetime_with_product_dim(rng):
    inflow = cube(rng)
    mean = xr.DataArray([5.0, 9.0, 13.0], dims=["product"], coords={"product": PRODUCTS})
    ds = dsm.inflow_driven(inflow, Lifetime("lognormal", mean=mean, sd=mean / 2))
    ref = dsm.inflow_driven(
        inflow,
        {
            p: Lifetime("lognormal", mean=float(m), sd=float(m) / 2)
            for p, m in zip(PRODUCTS, mean.values, strict=True)
        },
    )
    xr.testing.assert_allclose(ds.stock, ref.stock, rtol=1e-14)


def test_gamma_and_table_go_through_the_pdf(rng):
    inflow = cube(rng, draws=2)
    surv = xr.DataArray([1.0, 0.9, 0.6, 0.2, 0.0], dims=["age"], coords={"age": range(5)})
    sp = {
        "CV": Lifetime("gamma", mean=6.0, sd=2.0),
        "AC": Lifetime("table", survival=surv),
        "MP": Lifetime("fixed", mean=2),
    }
    ds = dsm.inflow_driven(inflow, sp)
    out, _ = plain_loop(inflow.sel(product="AC")[1].values, [0.0, 0.1, 0.3, 0.4, 0.2] + [0.0] * 30)
    np.testing.assert_allclose(ds.outflow.sel(product="AC")[1], out, rtol=1e-12)


def test_dask_chunked_equals_in_memory(rng):
    inflow = cube(rng, draws=10)
    sp = specs(rng, draws=10)
    eager = dsm.inflow_driven(inflow, sp)
    lazy = dsm.inflow_driven(inflow.chunk({"draw": 3}), sp)
    assert lazy.outflow.chunks is not None
    xr.testing.assert_identical(eager, lazy.compute())
    hist = inflow.where(inflow.year <= 2010)
    e2 = dsm.stock_driven(eager.stock * 0.9, sp, inflow_history=hist, policy="retire_early")
    l2 = dsm.stock_driven(
        (eager.stock * 0.9).chunk({"draw": 4}),
        sp,
        inflow_history=hist.chunk({"draw": 4}),
        policy="retire_early",
    )
    xr.testing.assert_identical(e2, l2.compute())
    pdf = pdf_by_product(sp, len(YEARS) + 1)
    e3 = dsm.inflow_driven(inflow, pdf)
    l3 = dsm.inflow_driven(inflow.chunk({"draw": 5}), pdf.chunk({"draw": 5}))
    xr.testing.assert_identical(e3, l3.compute())
    init = xr.DataArray([3.0, 2.0], dims=["age"])
    e4 = dsm.inflow_driven(inflow, sp, initial_stock=init, by_cohort=True)
    l4 = dsm.inflow_driven(inflow.chunk({"draw": 5}), sp, initial_stock=init, by_cohort=True)
    xr.testing.assert_identical(e4, l4.compute())


def test_thread_blocks_equal_single_thread(rng, monkeypatch):
    inflow = cube(rng, draws=200)
    sp = specs(rng, draws=200)
    monkeypatch.setenv("NDSIM_NUM_THREADS", "3")
    threaded = dsm.inflow_driven(inflow, sp)
    threaded_s = dsm.stock_driven(threaded.stock, sp)
    monkeypatch.setenv("NDSIM_NUM_THREADS", "1")
    single = dsm.inflow_driven(inflow, sp)
    single_s = dsm.stock_driven(threaded.stock, sp)
    xr.testing.assert_identical(threaded, single)
    xr.testing.assert_identical(threaded_s, single_s)
    # one inflow for all draws, per-draw lifetimes: the draws come from the parameters
    shared = inflow.isel(draw=0, drop=True)
    monkeypatch.setenv("NDSIM_NUM_THREADS", "2")
    fanned = dsm.inflow_driven(shared, sp)
    assert fanned.outflow.sizes["draw"] == 200
    xr.testing.assert_allclose(
        fanned.outflow.isel(draw=7),
        dsm.inflow_driven(
            shared,
            {
                p: s.with_params(
                    **{k: v.isel(draw=7) if hasattr(v, "isel") else v for k, v in s.params.items()}
                )
                for p, s in sp.items()
            },
        ).outflow,
        rtol=1e-14,
    )


def test_initial_stock_conservation_and_cohorts(rng):
    inflow = cube(rng, draws=2)
    init = xr.DataArray(
        rng.uniform(0, 50, (3, 4)),
        dims=("product", "age"),
        coords={"product": PRODUCTS, "age": range(4)},
    )
    sp = specs(rng, draws=2)
    ds = dsm.inflow_driven(inflow, sp, initial_stock=init)
    lhs = inflow.cumsum("year") + init.sum("age")
    rhs = ds.stock + ds.outflow.cumsum("year")
    xr.testing.assert_allclose(lhs, rhs.transpose(*lhs.dims), rtol=1e-12)
    dc = dsm.inflow_driven(inflow, sp, initial_stock=init, by_cohort=True)
    assert dc.stock_by_cohort.attrs["units"] == "t"
    np.testing.assert_array_equal(dc["cohort"].values, np.arange(1996, 2021))
    xr.testing.assert_allclose(dc.stock_by_cohort.sum("cohort"), ds.stock, rtol=1e-10)
    # the 1999 cohort (age 0 at the end of 1999) holds init[age=0] before it retires
    first = dc.stock_by_cohort.sel(cohort=1999, year=2000)
    assert (first <= init.sel(age=0) + 1e-12).all()


def test_paper_case_fixed_lifetime_is_a_shift(rng):
    inflow = cube(rng, draws=1).isel(draw=0)
    ds = dsm.inflow_driven(inflow, Lifetime("fixed", mean=5))
    np.testing.assert_array_equal(
        ds.outflow.isel(year=slice(5, None)).values, inflow.isel(year=slice(None, -5)).values
    )
    np.testing.assert_array_equal(ds.stock.isel(year=0).values, inflow.isel(year=0).values)


def test_stock_driven_policies_and_history(rng):
    target = xr.DataArray(
        np.concatenate([np.linspace(10, 100, 10), np.full(5, 30.0), np.linspace(30, 60, 6)]),
        dims=["year"],
        coords={"year": YEARS},
    )
    lt = Lifetime("normal", mean=8.0, sd=2.0)
    clip = dsm.stock_driven(target, lt)
    early = dsm.stock_driven(target, lt, policy="retire_early")
    assert float(clip.inflow.min()) >= 0 and float(early.inflow.min()) >= 0
    assert float(clip.unmet_stock_decline.sel(year=2010)) > 0
    assert float(early.early_retirement.sel(year=2010)) > 0
    xr.testing.assert_allclose(early.stock, target.rename("stock"), rtol=1e-12)
    assert clip.attrs["decline_policy"] == "clip"
    assert clip.unmet_stock_decline.attrs["units"] == "t"
    assert early.early_retirement.attrs["units"] == "t yr-1"
    for ds in (clip, early):
        change = ds.stock.diff("year")
        np.testing.assert_allclose(
            change, (ds.inflow - ds.outflow).isel(year=slice(1, None)), atol=1e-9
        )
    # a shorter history is reindexed onto the target's years
    hist = xr.DataArray([5.0, 6.0, 7.0], dims=["year"], coords={"year": [2000, 2001, 2002]})
    h = dsm.stock_driven(target, lt, inflow_history=hist)
    np.testing.assert_array_equal(h.inflow.sel(year=[2000, 2001, 2002]).values, [5.0, 6.0, 7.0])
    assert float(h.stock.sel(year=2005)) == pytest.approx(float(target.sel(year=2005)))


def clip_loop(target, history, pdf):
    """Inflow and unmet decline of one series, stock-driven under ``clip`` (the oracle)."""
    n = len(target)
    inflow, gap, stock = np.zeros(n), np.zeros(n), 0.0
    for t in range(n):
        old = sum(inflow[c] * pdf[t - c] for c in range(t))
        if not np.isnan(history[t]):
            inflow[t] = history[t]
            stock = stock + inflow[t] - old - inflow[t] * pdf[0]
        elif target[t] - stock + old >= 0:
            inflow[t] = (target[t] - stock + old) / (1.0 - pdf[0])
            stock = target[t]
        else:
            stock = stock - old
            gap[t] = stock - target[t]
    return inflow, gap


def test_plain_array_entry_points(rng):
    """The array functions the projection runs on: against plain loops, and the labels' rule."""
    inflow = cube(rng)
    sp = specs(rng)
    draws = inflow["draw"].values
    code, p1, p2, shift, attrs = dsm.kernel_param_values(sp, draws)
    assert p1.shape == (6, 3) and attrs["lifetime_timing"] == "end"
    assert (p1[:, 2] == 3.5).all()  # a scalar parameter broadcast over the draws
    outflow, stock = dsm.inflow_driven_values(inflow.values, code, p1, p2, shift)
    pdf = pdf_by_product(sp, len(YEARS) + 1)
    for d, j in [(0, 0), (2, 1), (5, 2)]:
        f = pdf.isel(product=j, draw=d).values
        out, st = plain_loop(inflow.values[d, j], f)
        np.testing.assert_allclose(outflow[d, j], out, rtol=1e-12)
        np.testing.assert_allclose(stock[d, j], st, rtol=1e-12)
    # stock-driven, with two years of history and a target that falls in 2010-2014
    target = np.concatenate([np.linspace(10, 100, 10), np.full(5, 30.0), np.linspace(30, 60, 6)])
    targets = np.broadcast_to(target * (1 + np.arange(3))[:, None], (6, 3, len(YEARS))).copy()
    history = np.full_like(targets, np.nan)
    history[..., :2] = 4.0
    res = dsm.stock_driven_values(targets, history, code, p1, p2, shift, "clip")
    assert len(res) == 4
    for d, j in [(1, 0), (4, 1), (3, 2)]:
        f = pdf.isel(product=j, draw=d).values
        x, gap = clip_loop(targets[d, j], history[d, j], f)
        np.testing.assert_allclose(res[0][d, j], x, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res[3][d, j], gap, rtol=1e-10, atol=1e-9)
    assert (res[3][:, :2, 10] > 0).all()  # the fall is faster than retirement there
    # parameters over other draws, or over another dim, leave it to the labelled functions
    assert dsm.kernel_param_values(sp, draws + 1) is None
    assert dsm.kernel_param_values(sp, None) is None
    other = {"CV": Lifetime("normal", mean=xr.DataArray([5.0, 6.0], dims="region"), sd=1.0)}
    assert dsm.kernel_param_values(other, None) is None
    fixed = dsm.kernel_param_values({"MP": sp["MP"]}, None)
    assert fixed[1].shape == (1, 1) and float(fixed[1][0, 0]) == 3.5


def test_errors(rng):
    inflow = cube(rng, draws=1)
    with pytest.raises(ValidationError, match="inflow needs a 'year' dim"):
        dsm.inflow_driven(inflow.rename(year="t"), Lifetime("fixed", mean=2))
    with pytest.raises(ValidationError, match="no lifetime for products \\['MP'\\]"):
        dsm.inflow_driven(
            inflow, {"CV": Lifetime("fixed", mean=2), "AC": Lifetime("fixed", mean=2)}
        )
    with pytest.raises(ValidationError, match="policy 'drop' unknown"):
        dsm.stock_driven(inflow, Lifetime("fixed", mean=2), policy="drop")
    # like the balance checks: variable, then product, year and draw of the first bad value
    bad = inflow.where(inflow.product != "AC", -1.0)
    first_year, draw = int(inflow.year[0]), int(inflow.draw[0])
    with pytest.raises(ValidationError) as info:
        dsm.stock_driven(bad, Lifetime("fixed", mean=2))
    n_bad = int((bad < 0).sum())
    assert str(info.value) == (
        f"dsm: stock is negative: product AC, year {first_year}, draw {draw}: -1; "
        f"{n_bad} negative value(s) in all"
    )
    with pytest.raises(ValidationError, match="pdf needs an 'age' dim"):
        dsm.inflow_driven(inflow, inflow)


def test_negative_targets_stop_the_run_wherever_they_are(rng):
    """Every negative target stops the run with the place of the first one, among NaN
    targets (allowed) too, in the last year, in the years an inflow history covers (which
    the kernel does not read), and in a target whose year is not its last dim; NaN targets
    alone pass, NaN from their year on."""
    target = cube(rng, draws=3).cumsum("year")
    lifetime = Lifetime("normal", mean=6.0, sd=2.0)
    years = target.year.values
    with_nan = target.copy()
    with_nan[0, 1, 4] = np.nan  # allowed: NaN from there on
    ok = dsm.stock_driven(with_nan, lifetime)
    assert np.isnan(ok.stock[0, 1, 4:]).all() and np.isfinite(ok.stock[0, 1, :4]).all()
    assert np.isfinite(ok.stock[1:]).all()
    history = xr.DataArray(
        np.r_[np.ones(3), np.full(len(years) - 3, np.nan)], dims="year", coords={"year": years}
    )
    cases = [
        (with_nan, (2, 0, len(years) - 1), {}),  # the last year, beside a NaN series
        (with_nan, (0, 1, 6), {}),  # after a NaN year of the same series
        (target, (1, 2, 1), {"inflow_history": history}),  # a year of the history
        (target.transpose("year", "draw", "product"), (2, 1, 5), {}),
    ]
    for base, (d, p, y), kwargs in cases:
        bad = base.copy()
        bad.loc[{"draw": d, "product": PRODUCTS[p], "year": years[y]}] = -2.0
        with pytest.raises(ValidationError) as info:
            dsm.stock_driven(bad, lifetime, **kwargs)
        assert str(info.value) == (
            f"dsm: stock is negative: product {PRODUCTS[p]}, year {years[y]}, draw {d}: -2; "
            "1 negative value(s) in all"
        )


def test_import_is_light(cli_env):
    code = (
        "import sys, ndsim.dsm\n"
        "heavy = [m for m in ('matplotlib', 'plotly', 'distributed', 'pint', 'netCDF4', 'dask')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_shared_thread_pools_are_never_shut_down_under_a_caller():
    """Threads asking for pools of different sizes at once each keep a working pool."""
    import threading

    got: list = []
    barrier = threading.Barrier(8)

    def ask(n):
        barrier.wait()
        pool = dsm._pool(n)
        got.append((n, pool, pool.submit(lambda: n).result()))

    threads = [threading.Thread(target=ask, args=(2 + i % 2,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(n for n, _, r in got if r == n) == [2, 2, 2, 2, 3, 3, 3, 3]
    assert len({id(p) for n, p, _ in got if n == 2}) == 1
    assert len({id(p) for n, p, _ in got if n == 3}) == 1


def test_output_units_do_not_depend_on_import_order(cli_env):
    """A module imported first that registers ``unmet_stock_decline`` (another unit) does not
    change the units of this module's outputs (it once made a test fail in some test orders):
    the second declaration is refused."""
    code = (
        "from ndsim import conventions as cv\n"
        "try:\n"
        "    cv.register(cv.Variable('unmet_stock_decline', ('product', 'year'), 't yr-1', 'x', 'x'))\n"
        "except cv.DuplicateVariableError:\n"
        "    print('refused', end='|')\n"
        "import xarray as xr\n"
        "from ndsim import dsm\n"
        "from ndsim.lifetime import Lifetime\n"
        "s = xr.DataArray([1.0, 2.0, 1.0], dims=['year'])\n"
        "ds = dsm.stock_driven(s, Lifetime('fixed', mean=2))\n"
        "print(ds.unmet_stock_decline.attrs['units'], ds.early_retirement.attrs['units'], sep='|')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().split("|") == ["refused", "t", "t yr-1"]
