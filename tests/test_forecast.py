"""Tests of ndsim.forecast and ndsim.fleet on a small invented case (one product per method).

A and G are fleet-driven (A fitted to an ownership statistic made from a known
curve, G without a statistic: fitted to its accounted fleet with a given
saturation), B grows at rates, C goes to a level, D is held. Trade in units is
a fixed share of production; lifetimes are fixed, so every expected number has
a closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ndsim import fleet as fl
from ndsim import forecast as fc
from ndsim import gompertz as gz
from ndsim.errors import ScenarioError
from ndsim.scenario import ForecastOptions, Level

FIRST, LAST, END = 2000, 2017, 2050
YEARS = np.arange(FIRST, END + 1)
ACC = YEARS[YEARS <= LAST]
PRODUCTS = ["A", "B", "C", "D", "G"]
LIFETIMES = [10, 8, 12, 5, 9]
MI = [1e-4, 2e-4, 0.4, 1.0, 5e-5]
AR = [0.5, 1.0, 1.0, 1.0, 0.8]
EXPORT_SHARE, IMPORT_SHARE = 0.1, 0.02
KEEP = 1 - EXPORT_SHARE + IMPORT_SHARE
# A's ownership statistic per household: a known curve of GDP
VS, ALPHA, BETA = 0.9, -6.0, -2.2e-4


def gdp_of(years):
    return 3000 * 1.07 ** (np.asarray(years) - FIRST)  # ln GDP linear: its HP trend is itself


def households_of(years):
    return 3.0e8 * 1.01 ** (np.asarray(years) - FIRST)  # ln H linear too


def make_inputs(gdp=None, pop=None):
    gdp = gdp_of(YEARS) if gdp is None else gdp
    pop = 1.3e9 + 1e6 * (YEARS - FIRST) if pop is None else pop
    ar = np.where(YEARS <= LAST, 1.0, np.nan)[None, :] * np.array(AR)[:, None]
    stat = np.full((len(PRODUCTS), YEARS.size), np.nan)
    sel = (YEARS >= 2010) & (YEARS <= 2022)
    stat[0, sel] = gz.gompertz(gdp_of(YEARS)[sel], VS, ALPHA, BETA)  # the statistic as observed
    return xr.Dataset(
        {
            "gdp_per_capita": ("year", gdp),
            "population": ("year", pop),
            "households": ("year", households_of(YEARS)),
            "nd_content": ("product", MI),
            "intensity_calibration": ("product", np.ones(len(PRODUCTS))),
            "adoption_rate": (("product", "year"), ar),
            "ownership_statistic": (("product", "year"), stat),
        },
        coords={
            "year": YEARS,
            "product": PRODUCTS,
            "forecast_method": ("product", ["fleet", "growth", "level", "hold", "fleet"]),
            "count_unit": ("product", ["unit", "unit", "unit", "t", "unit"]),
            "ownership_basis": ("product", ["household", "", "", "", ""]),
            "ownership_group": ("product", ["A", "", "", "", ""]),
        },
        attrs={"forecast_last": END, "first_year": FIRST},
    )


def conv_stock(q, life):
    """Fleet of a fixed lifetime (timing end): the sales of the last `life` years."""
    return np.array([q[max(0, t - life + 1) : t + 1].sum() for t in range(q.size)])


def make_hist():
    t = ACC - FIRST
    # the fleet of A tracks its ownership curve; the others are invented series
    own_a = gz.gompertz(gdp_of(ACC), VS, ALPHA, BETA) * households_of(ACC)
    q_a = np.diff(own_a, prepend=0.0)  # sales that build that fleet, with few retirements
    q = np.stack([q_a, 5e5 * 1.1**t, 50 + 0 * t, 10.0 + t, 8e5 * 1.05**t]).astype(float)
    q = np.maximum(q, 0.0)
    m = np.array(MI)[:, None] * np.array(AR)[:, None] * np.ones(ACC.size)
    p = q / KEEP
    dims = ("product", "year")
    n = np.stack([conv_stock(q[i], LIFETIMES[i]) for i in range(len(PRODUCTS))])
    return xr.Dataset(
        {
            "production": (dims, p),
            "units_exports": (dims, EXPORT_SHARE * p),
            "units_imports": (dims, IMPORT_SHARE * p),
            "units_sales": (dims, q),
            "units_in_use": (dims, n),
            "nd_intensity": (dims, m),
            "domestic_consumption": (dims, p * m),
            "exports_final": (dims, EXPORT_SHARE * p * m),
            "imports_final": (dims, IMPORT_SHARE * p * m),
            "inflow": (dims, q * m),
        },
        coords={"product": PRODUCTS, "year": ACC},
    )


def make_pdf(lifetimes=LIFETIMES):
    f = np.zeros((len(PRODUCTS), YEARS.size + 1))
    f[np.arange(len(PRODUCTS)), lifetimes] = 1.0
    return xr.DataArray(f, dims=("product", "age"), coords={"product": PRODUCTS})


def make_scenario(**forecast):
    options = dict(
        enabled=True,
        last_year=None,
        growth_rates={"B": ((2018, 2030, 0.05), (2031, 2050, -0.01))},
        levels={"C": Level(year=2050, value=5.0)},
        hold=None,
        adoption="hold",
        trade_shares="hold",
        gompertz={"G": {"saturation": 0.1}},
        sales_share={},
        units={},
        intensity={},
        join_years=None,
    )
    options.update(forecast)
    return ForecastOptions(**options)


@pytest.fixture(scope="module")
def result():
    return fc.project(make_inputs(), make_hist(), make_scenario(), make_pdf())


# --- paths --------------------------------------------------------------------------------
def test_growth_path_closed_form_paper_ev():
    rates = xr.DataArray(np.full(33, 0.13), dims="year", coords={"year": np.arange(2018, 2051)})
    path = fc.growth_path(xr.DataArray(728.0), rates)
    assert float(path.sel(year=2050)) == pytest.approx(728 * 1.13**33, rel=1e-13)
    assert float(path.sel(year=2018)) == pytest.approx(728 * 1.13, rel=1e-13)


def test_growth_product_piecewise_rates_and_its_units(result):
    dc = result["domestic_consumption"].sel(product="B")
    dc17 = float(make_hist()["domestic_consumption"].sel(product="B", year=LAST))
    for t in (2018, 2024, 2030):
        assert float(dc.sel(year=t)) == pytest.approx(dc17 * 1.05 ** (t - 2017), rel=1e-12)
    for t in (2031, 2050):
        expected = dc17 * 1.05**13 * 0.99 ** (t - 2030)
        assert float(dc.sel(year=t)) == pytest.approx(expected, rel=1e-12)
    # units made P = DC / m; sold into use Q = P (1 - e + i); inflow = Q m
    m = MI[1] * AR[1]
    future = slice(2018, None)
    np.testing.assert_allclose(
        result["units_production"].sel(product="B", year=future),
        dc.sel(year=future) / m,
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        result["inflow"].sel(product="B", year=future) / dc.sel(year=future), KEEP, rtol=1e-12
    )


def test_level_product_geometric_to_target(result):
    dc = result["domestic_consumption"].sel(product="C").sel(year=slice(2017, None)).values
    assert dc[-1] == pytest.approx(5.0, rel=1e-12)
    q = (5.0 / dc[0]) ** (1 / 33)
    np.testing.assert_allclose(dc[1:] / dc[:-1], q, rtol=1e-12)


def test_hold_product_constant(result):
    dc = result["domestic_consumption"].sel(product="D", year=slice(2017, None))
    np.testing.assert_allclose(dc.values, 27.0 / KEEP, rtol=1e-14)


def test_history_unchanged(result):
    hist = make_hist()
    for name in ("domestic_consumption", "inflow", "units_sales", "units_in_use"):
        np.testing.assert_allclose(
            result[name].sel(year=slice(None, LAST)).values, hist[name].values, rtol=1e-12
        )


def test_mass_balance_every_year(result):
    for stock, f_in, f_out in (
        ("stock", "inflow", "outflow"),
        ("units_in_use", "units_sales", "units_retired"),
    ):
        s = result[stock].values
        ds = np.diff(s, axis=-1, prepend=0.0)
        net = (result[f_in] - result[f_out]).values
        np.testing.assert_allclose(ds, net, rtol=0, atol=1e-9 * np.abs(s).max())
        assert (result[f_in].values >= 0).all()


def test_outflow_fixed_lifetime_shift(result):
    # fixed lifetime L: F_out(t) = F_in(t - L), forecast years included, units and Nd alike
    for p, lt in zip(PRODUCTS, LIFETIMES, strict=True):
        for f_in, f_out in (("inflow", "outflow"), ("units_sales", "units_retired")):
            a = result[f_in].sel(product=p).values
            b = result[f_out].sel(product=p).values
            np.testing.assert_allclose(b[lt:], a[:-lt], rtol=1e-12)


# --- the fleet-driven forecast --------------------------------------------------------------
def test_fit_recovers_a_known_curve(result):
    # the statistic of A is the curve V = 0.9 exp(-6 exp(-2.2e-4 GDP)); GDP is exactly
    # exponential, so its HP trend is itself and the fit must give back the parameters
    vs, a, b = (
        float(result[f"gompertz_{k}"].sel(product="A")) for k in ("saturation", "alpha", "beta")
    )
    assert (vs, a, b) == pytest.approx((VS, ALPHA, BETA), rel=1e-6)
    assert "ownership statistic 2010-2022 (13 points)" in str(
        result["gompertz_method"].sel(product="A").values
    )
    fitted = result["ownership_fitted"].sel(product="A")
    np.testing.assert_allclose(fitted, gz.gompertz(gdp_of(YEARS), VS, ALPHA, BETA), rtol=1e-6)


def test_fleet_starts_at_the_accounted_fleet_and_keeps_its_slope(result):
    hist = make_hist()
    n = result["units_in_use"].sel(product="A")
    acc = hist["units_in_use"].sel(product="A")
    assert float(n.sel(year=LAST)) == float(acc.sel(year=LAST))
    # the forecast's first difference: the accounted slope, bent by the target's change of
    # slope (ndsim.fleet.join); the target is the fitted curve x households
    target = gz.gompertz(gdp_of(YEARS), VS, ALPHA, BETA) * households_of(YEARS)
    tgt = dict(zip(YEARS, target, strict=True))
    slope = float(acc.sel(year=LAST) - acc.sel(year=LAST - 1))
    expected = (tgt[LAST + 1] - tgt[LAST]) + slope - (tgt[LAST] - tgt[LAST - 1])
    assert float(n.sel(year=LAST + 1) - n.sel(year=LAST)) == pytest.approx(expected, rel=1e-5)
    # the gap to the target dies out (mean lifetime 10 yr as time constant)
    gap = abs((n - target) / target)
    assert float(gap.sel(year=2050)) < 0.05
    assert float(gap.sel(year=2050)) < 0.3 * float(gap.sel(year=slice(2018, 2030)).max())


def test_join_closed_form():
    years = np.arange(2015, 2041)
    target = xr.DataArray(100 + 2.0 * (years - 2015), dims="year", coords={"year": years})
    acc = xr.DataArray([80.0, 90.0, 95.0], dims="year", coords={"year": [2015, 2016, 2017]})
    n = fl.join(acc, target.sel(year=slice(2016, None)), 2017, 4.0)
    a = 95.0 - 104.0  # gap in T
    a1 = 90.0 - 102.0  # gap in T - 1
    r = np.exp(-1 / 4.0)
    b = (2 * a - a1) / r - a
    for s in (0, 1, 5, 20):
        assert float(n.sel(year=2017 + s)) == pytest.approx(104 + 2 * s + (a + b * s) * r**s)
    # level and slope of the accounted fleet carry on: 95, then +5 (as 2016 -> 2017)
    assert float(n.sel(year=2018) - n.sel(year=2017)) == pytest.approx(5.0)


def test_nd_follows_each_cohort(result):
    # F_in = Q m and DC = P m with P = Q / (1 - e + i), m held at AR(T) (adoption "hold")
    q = result["units_sales"].sel(product="A", year=slice(2018, None))
    m = MI[0] * AR[0]
    np.testing.assert_allclose(
        result["inflow"].sel(product="A", year=slice(2018, None)), q * m, rtol=1e-12
    )
    np.testing.assert_allclose(
        result["domestic_consumption"].sel(product="A", year=slice(2018, None)),
        q / KEEP * m,
        rtol=1e-12,
    )


def test_group_without_statistic_fits_its_accounted_fleet(result):
    method = str(result["gompertz_method"].sel(product="G").values)
    assert "accounted fleet per household (no statistic)" in method and "saturation given" in method
    assert float(result["gompertz_saturation"].sel(product="G")) == pytest.approx(0.1, rel=1e-14)
    with pytest.raises(
        ScenarioError, match=r"forecast.gompertz.G.saturation: group G has no ownership statistic"
    ):
        fc.project(make_inputs(), make_hist(), make_scenario(gompertz={}), make_pdf())


def test_falling_target_is_clipped_and_reported(result):
    gdp = gdp_of(YEARS).copy()
    gdp[YEARS > LAST] = gdp[YEARS == 2005][0]  # GDP collapses: the curve falls below the fleet
    fits = fc.fits_from_dataset(result)  # the curves of the data, driven by the collapse
    sc = make_scenario(join_years=1.0)
    out = fc.project(make_inputs(gdp=gdp), make_hist(), sc, make_pdf(), fits=fits)
    q = out["units_sales"].sel(product="A")
    assert float(q.min()) >= 0.0
    assert float(out["unmet_fleet_decline"].sel(product="A").max()) > 0
    assert (out["unmet_fleet_decline"].sel(product=["B", "C", "D"]) == 0).all()


def test_sales_share_product_takes_its_share_of_the_group_fleet():
    inputs = make_inputs().assign_coords(
        ownership_group=("product", ["A", "A", "", "", ""]),
        ownership_basis=("product", ["household", "household", "", "", ""]),
        forecast_method=("product", ["fleet", "sales_share", "level", "hold", "fleet"]),
    )
    hist = make_hist()
    sc = make_scenario(growth_rates={}, sales_share={"B": ((2030, 0.6),)})
    out = fc.project(inputs, hist, sc, make_pdf())
    q = out["units_sales"]
    q_t = hist["units_sales"].sel(year=LAST)
    share_t = float(q_t.sel(product="B") / q_t.sel(product=["A", "B"]).sum())
    share = q.sel(product="B") / q.sel(product=["A", "B"]).sum("product")
    # linear from the share of T to 0.6 in 2030, held after
    assert float(share.sel(year=2030)) == pytest.approx(0.6, rel=1e-12)
    assert float(share.sel(year=2024)) == pytest.approx(
        share_t + (0.6 - share_t) * 7 / 13, rel=1e-9
    )
    assert float(share.sel(year=2050)) == pytest.approx(0.6, rel=1e-12)
    # the two fleets together start at the accounted fleet of T
    n = out["units_in_use"].sel(product=["A", "B"]).sum("product")
    assert float(n.sel(year=LAST)) == pytest.approx(
        float(hist["units_in_use"].sel(product=["A", "B"], year=LAST).sum())
    )


def test_zero_draws_reproduce_the_fitted_curve():
    """z = 0 must give the deterministic curve of a real fit (the parameter order of the fit)."""
    gdp = gdp_of(np.arange(2005, 2023))
    own = gz.gompertz(gdp, VS, ALPHA, BETA) * np.exp(0.01 * np.sin(np.arange(gdp.size)))
    fit = gz.fit_gompertz(gdp, own)
    ff = fl.FleetFit("A", ("A",), "household", fit.saturation, fit.alpha, fit.beta,
                     theta=fit.theta, cov=fit.cov, scale=fit.scale)  # fmt: skip
    g = xr.DataArray(gdp_of(YEARS), dims="year", coords={"year": YEARS})
    z = xr.DataArray(np.zeros((2, 3)), dims=("draw", "k"), coords={"draw": [0, 1]})
    v = fl.fitted_curve(ff, g, z)
    np.testing.assert_allclose(v.sel(draw=1), fl.fitted_curve(ff, g), rtol=1e-10)
    # and the draws scatter around it, not off it: the median over many draws is the curve
    zs = xr.DataArray(np.random.default_rng(1).standard_normal((4000, 3)), dims=("draw", "k"))
    med = fl.fitted_curve(ff, g, zs).median("draw")
    np.testing.assert_allclose(med, fl.fitted_curve(ff, g), rtol=0.02)


def test_draws_of_the_curve_follow_the_fit_covariance():
    fit = fl.FleetFit(
        "A", ("A",), "household", VS, ALPHA, BETA,
        theta=(np.log(VS), np.log(-BETA * 1e4), np.log(-ALPHA)),
        cov=((0.01, 0.002, 0.0), (0.002, 0.04, 0.001), (0.0, 0.001, 0.0025)),
        scale=1e4,
    )  # fmt: skip
    z = xr.DataArray(
        [[0.0, 0.0, 0.0], [1.0, -0.5, 2.0]], dims=("draw", "k"), coords={"draw": [0, 1]}
    )
    gdp = xr.DataArray(gdp_of(YEARS), dims="year", coords={"year": YEARS})
    v = fl.fitted_curve(fit, gdp, z)
    np.testing.assert_allclose(v.sel(draw=0), gz.gompertz(gdp, VS, ALPHA, BETA), rtol=1e-12)
    chol = np.linalg.cholesky(np.array(fit.cov))
    th = np.array(fit.theta) + chol @ np.array([1.0, -0.5, 2.0])
    want = gz.gompertz(gdp, np.exp(th[0]), -np.exp(th[2]), -np.exp(th[1]) / 1e4)
    np.testing.assert_allclose(v.sel(draw=1), want, rtol=1e-12)


def test_hp_trend_matches_a_sparse_solve(rng):
    # the normal equations (I + lam D'D) t = y built by a loop and solved by scipy's sparse LU
    from scipy.sparse import lil_matrix
    from scipy.sparse.linalg import spsolve

    y = np.cumsum(rng.normal(size=40)) + rng.normal(size=40)
    n, lam = y.size, 100.0
    a = lil_matrix((n, n))
    for i in range(n):
        a[i, i] = 1.0
    for i in range(n - 2):  # each second difference t[i] - 2 t[i+1] + t[i+2] adds lam d d'
        for j, dj in zip(range(i, i + 3), (1.0, -2.0, 1.0), strict=True):
            for k, dk in zip(range(i, i + 3), (1.0, -2.0, 1.0), strict=True):
                a[j, k] += lam * dj * dk
    direct = spsolve(a.tocsc(), y)
    np.testing.assert_allclose(fl.hp_trend(y, lam), direct, rtol=1e-10, atol=1e-12)


# --- adoption and intensity paths ------------------------------------------------------------
def test_adoption_path_points_full_and_logistic():
    ar = xr.DataArray(
        np.full((2, ACC.size), 0.5),
        dims=("product", "year"),
        coords={"product": ["A", "B"], "year": ACC},
    )
    sc = make_scenario(adoption={"A": ((2027, 1.0), (2037, 0.8))})
    path = fc.adoption_path(ar, sc, YEARS, LAST)
    a = path.sel(product="A")
    assert float(a.sel(year=2017)) == 0.5
    assert float(a.sel(year=2022)) == pytest.approx(0.75)
    assert float(a.sel(year=2027)) == pytest.approx(1.0)
    assert float(a.sel(year=2050)) == pytest.approx(0.8)
    assert (path.sel(product="B") == 0.5).all()
    full = fc.adoption_path(ar, make_scenario(adoption="full"), YEARS, LAST)
    assert (full.sel(year=slice(2018, None)) == 1.0).all() and (full.sel(year=LAST) == 0.5).all()
    # logistic from 0.5 in 2017 to 0.9 by 2037: half way in 2027, flat after 2037
    log = fc.adoption_path(
        ar, make_scenario(adoption={"A": {"level": 0.9, "year": 2037}}), YEARS, LAST
    )
    la = log.sel(product="A")
    assert float(la.sel(year=2027)) == pytest.approx(0.7, rel=1e-12)
    assert float(la.sel(year=2037)) == pytest.approx(0.9, rel=1e-12)
    assert float(la.sel(year=2050)) == pytest.approx(0.9, rel=1e-12)
    # it leaves the value of T slowly: the first step is small against the mean step
    assert float(la.sel(year=2018) - la.sel(year=2017)) < 0.2 * (0.4 / 20)


def test_full_adoption_is_an_intensity_step_not_a_unit_step():
    out = fc.project(make_inputs(), make_hist(), make_scenario(adoption="full"), make_pdf())
    ratio_units = float(out["sales_ratio_first_forecast_year"].sel(product="A"))
    ratio_nd = float(out["inflow_ratio_first_forecast_year"].sel(product="A"))
    assert ratio_nd == pytest.approx(ratio_units / AR[0], rel=1e-12)  # AR 0.5 -> 1


def test_scenario_errors():
    inputs, hist, pdf = make_inputs(), make_hist(), make_pdf()
    with pytest.raises(
        ScenarioError, match=r"forecast.growth_rates.B: no rate for the years 2031-2050"
    ):
        fc.project(inputs, hist, make_scenario(growth_rates={"B": ((2018, 2030, 0.05),)}), pdf)
    with pytest.raises(ScenarioError, match=r"forecast.levels: no level for the product\(s\) C"):
        fc.project(inputs, hist, make_scenario(levels={}), pdf)
    with pytest.raises(ScenarioError, match=r"more than one"):
        fc.project(inputs, hist, make_scenario(hold=("B",)), pdf)
    short = make_inputs()
    short["ownership_statistic"] = short["ownership_statistic"].where(short.year >= 2020)
    with pytest.raises(ScenarioError, match=r"forecast.gompertz.A.saturation: 3 ownership points"):
        fc.project(short, hist, make_scenario(), pdf)


def test_fits_given_as_an_argument_are_the_ones_used(result):
    """The curves rebuilt from a run reproduce it; a changed curve changes the sales."""
    import dataclasses

    fits = fc.fits_from_dataset(result)
    assert set(fits) == {"A", "G"}
    again = fc.project(make_inputs(), make_hist(), make_scenario(), make_pdf(), fits=fits)
    xr.testing.assert_allclose(again["units_sales"], result["units_sales"], rtol=1e-12)
    higher = {**fits, "A": dataclasses.replace(fits["A"], saturation=1.5 * fits["A"].saturation)}
    moved = fc.project(make_inputs(), make_hist(), make_scenario(), make_pdf(), fits=higher)
    assert float(abs(moved["units_sales"] - result["units_sales"]).max()) > 1e-6


def test_forecast_disabled_returns_history_only():
    out = fc.project(make_inputs(), make_hist(), make_scenario(enabled=False), make_pdf())
    assert int(out.year.max()) == LAST


def test_units_path_and_intensity_path():
    """C forecast in units (a logistic from Q(T) to 80 by 2037), its magnet content halving
    linearly to 2027 (an intensity path): DC = Q / (1 - e + i) x k MI(t) AR."""
    inputs = make_inputs().assign_coords(
        forecast_method=("product", ["fleet", "growth", "units", "hold", "fleet"])
    )
    sc = make_scenario(
        levels={},
        units={"C": {"level": 80.0, "year": 2037}},
        intensity={"C": ((2027, 0.5),)},
    )
    out = fc.project(inputs, make_hist(), sc, make_pdf())
    q = out["units_sales"].sel(product="C")
    assert float(q.sel(year=LAST)) == 50.0
    assert float(q.sel(year=2027)) == pytest.approx(65.0, rel=1e-12)  # half way
    assert float(q.sel(year=2050)) == pytest.approx(80.0, rel=1e-12)
    m = out["nd_intensity"].sel(product="C")
    assert float(m.sel(year=2022)) == pytest.approx(MI[2] * 0.75, rel=1e-12)
    assert float(m.sel(year=2040)) == pytest.approx(MI[2] * 0.5, rel=1e-12)
    dc = out["domestic_consumption"].sel(product="C", year=slice(2018, None))
    np.testing.assert_allclose(dc, (q / KEEP * m).sel(year=slice(2018, None)), rtol=1e-12)


def test_lifetimes_as_specs_give_the_numbers_of_their_pdf():
    """Lifetimes given as specs run the kernels on plain arrays, a pdf goes through the
    labelled functions; the fixed lifetimes of this case give the same pdf either way."""
    from ndsim.lifetime import Lifetime

    specs = {p: Lifetime("fixed", mean=float(n)) for p, n in zip(PRODUCTS, LIFETIMES, strict=True)}
    for sc in (make_scenario(), make_scenario(join_years=3.0)):
        a = fc.project(make_inputs(), make_hist(), sc, make_pdf())
        b = fc.project(make_inputs(), make_hist(), sc, specs)
        assert set(a.data_vars) == set(b.data_vars)
        for name in a.data_vars:
            if a[name].dtype.kind == "f":
                np.testing.assert_allclose(b[name], a[name], rtol=1e-13, atol=0, err_msg=name)
    # the mean lifetime that joins the fleets (without join_years) is the fixed one
    for lives, expected in ((specs, [[10.0], [9.0]]), (make_pdf(), [10.0, 9.0])):
        mean = fc.Lifetimes(lives, PRODUCTS, None, YEARS).mean_age(["A", "G"], 40)
        np.testing.assert_array_equal(mean, expected)


def test_the_accounting_on_plain_arrays_and_the_fleet_from_the_units_sold():
    """A History without the fleet: the projection convolves the units sold itself (here
    through the labelled lifetimes, the pdf being given as an array), and gives what it
    gives with the fleet of a plain-Python convolution."""
    hist = make_hist()
    given = fc.project(make_inputs(), hist, make_scenario(), make_pdf())
    arrays = fc.History.from_dataset(hist.drop_vars("units_in_use"), make_inputs())
    assert arrays.values["units_sales"].shape == (1, len(PRODUCTS), ACC.size)
    assert arrays.draws is None and not arrays.has_draws
    np.testing.assert_array_equal(arrays.values["units_sales"][0], hist["units_sales"].values)
    derived = fc.project(make_inputs(), arrays, make_scenario(), make_pdf())
    assert "units_in_use" not in arrays.values  # the caller's History is left as it was
    to_t = {"year": slice(None, int(ACC[-1]))}
    np.testing.assert_allclose(
        derived["units_in_use"].sel(to_t).values, hist["units_in_use"].values, rtol=1e-12
    )
    # after T the fleet-driven products invert their fleets, which turns the rounding of
    # two ways of summing the same cohorts (1e-16) into about 1e-9 of the sales
    for name in ("units_sales", "units_in_use", "inflow", "stock", "domestic_consumption"):
        np.testing.assert_allclose(derived[name].values, given[name].values, rtol=1e-7)


def test_the_projection_on_arrays_labelled_over_its_first_years():
    """What a run keeps of the projection (its first years, labelled one variable at a
    time, the extras apart) is the projection's Dataset cut by xarray."""
    inputs, hist, sc, pdf = make_inputs(), make_hist(), make_scenario(), make_pdf()
    whole = fc.project(inputs, hist, sc, pdf)
    projection = fc.project_values(inputs, hist, sc, pdf)
    k = 30
    cut = whole.isel(year=slice(0, k))
    for name in projection.values:
        xr.testing.assert_identical(projection.labelled(name, k), cut[name].rename(name))
    extras = projection.dataset(k, extras_only=True)
    assert not set(projection.values) & set(extras.data_vars)
    assert "ownership_fitted" not in extras and "ownership_fitted" in whole
    xr.testing.assert_identical(extras, cut[list(extras.data_vars)])
    xr.testing.assert_identical(projection.extra("ownership_fitted", k), cut["ownership_fitted"])
