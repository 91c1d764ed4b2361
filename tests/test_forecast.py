"""Tests of ndsim.forecast on a small invented case (4 end uses, one per forecast method)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest
import xarray as xr

from ndsim import forecast as fc
from ndsim import gompertz as gz
from ndsim.errors import ScenarioError

FIRST, LAST, END = 2000, 2017, 2050
YEARS = np.arange(FIRST, END + 1)
ACC = YEARS[YEARS <= LAST]
PRODUCTS = ["A", "B", "C", "D", "G"]
LIFETIMES = [10, 8, 12, 5, 9]
MI = [1e-4, 2e-4, 0.4, 1.0, 5e-5]
AR = [0.5, 1.0, 1.0, 1.0, 0.8]
EXPORT_SHARE, IMPORT_SHARE = 0.1, 0.02


def make_inputs(gdp=None, pop=None):
    gdp = 3000 * 1.07 ** (YEARS - FIRST) if gdp is None else gdp
    pop = 1.3e9 + 1e6 * (YEARS - FIRST) if pop is None else pop
    ar = np.where(YEARS <= LAST, 1.0, np.nan)[None, :] * np.array(AR)[:, None]
    own = np.full((len(PRODUCTS), YEARS.size), np.nan)
    sel = (YEARS >= 2010) & (YEARS <= 2022)
    own[0, sel] = gz.gompertz(gdp[sel], 0.4, -6.0, -2.2e-4)  # observed ownership of A only
    return xr.Dataset(
        {
            "gdp_per_capita": ("year", gdp),
            "population": ("year", pop),
            "nd_content": ("product", MI),
            "adoption_rate": (("product", "year"), ar),
            "ownership": (("product", "year"), own),
        },
        coords={
            "year": YEARS,
            "product": PRODUCTS,
            "forecast_method": ("product", ["gompertz", "growth", "level", "hold", "gompertz"]),
            "count_unit": ("product", ["unit", "unit", "unit", "t", "unit"]),
        },
        attrs={"forecast_last": END},
    )


def make_hist():
    t = ACC - FIRST
    dc = np.stack([100 * 1.25**t, 50 * 1.1**t, 20 + 0 * t, 10.0 + t, 40 * 1.05**t]).astype(float)
    ex, im = EXPORT_SHARE * dc, IMPORT_SHARE * dc
    dims = ("product", "year")
    return xr.Dataset(
        {
            "domestic_consumption": (dims, dc),
            "exports_final": (dims, ex),
            "imports_final": (dims, im),
            "inflow": (dims, dc - ex + im),
        },
        coords={"product": PRODUCTS, "year": ACC},
    )


def make_pdf(lifetimes=LIFETIMES):
    f = np.zeros((len(PRODUCTS), YEARS.size))
    f[np.arange(len(PRODUCTS)), lifetimes] = 1.0
    return xr.DataArray(f, dims=("product", "age"), coords={"product": PRODUCTS})


def make_scenario(**forecast):
    options = dict(
        enabled=True,
        last_year=None,
        growth_rates={"B": ((2018, 2030, 0.05), (2031, 2050, -0.01))},
        levels={"C": NS(year=2050, value=5.0)},
        hold=None,
        adoption="hold",
        trade_shares="hold",
        gompertz={"G": {"saturation": 0.3}},
    )
    options.update(forecast)
    return NS(path=None, run=NS(decline_policy="clip"), forecast=NS(**options))


@pytest.fixture(scope="module")
def result():
    return fc.project(make_inputs(), make_hist(), make_scenario(), make_pdf())


def test_growth_path_closed_form_paper_ev():
    rates = xr.DataArray(np.full(33, 0.13), dims="year", coords={"year": np.arange(2018, 2051)})
    path = fc.growth_path(xr.DataArray(728.0), rates)
    assert float(path.sel(year=2050)) == pytest.approx(728 * 1.13**33, rel=1e-13)
    assert float(path.sel(year=2018)) == pytest.approx(728 * 1.13, rel=1e-13)


def test_growth_product_piecewise_rates(result):
    dc = result["domestic_consumption"].sel(product="B")
    dc17 = 50 * 1.1**17
    for t in (2018, 2024, 2030):
        assert float(dc.sel(year=t)) == pytest.approx(dc17 * 1.05 ** (t - 2017), rel=1e-12)
    for t in (2031, 2050):
        expected = dc17 * 1.05**13 * 0.99 ** (t - 2030)
        assert float(dc.sel(year=t)) == pytest.approx(expected, rel=1e-12)
    # inflow from DC with the held 2017 trade shares
    ratio = result["inflow"].sel(product="B", year=slice(2018, None)) / dc.sel(
        year=slice(2018, None)
    )
    np.testing.assert_allclose(ratio.values, 1 - EXPORT_SHARE + IMPORT_SHARE, rtol=1e-12)


def test_level_product_geometric_to_target(result):
    dc = result["domestic_consumption"].sel(product="C").sel(year=slice(2017, None)).values
    assert dc[-1] == pytest.approx(5.0, rel=1e-12)
    q = (5.0 / 20.0) ** (1 / 33)
    np.testing.assert_allclose(dc[1:] / dc[:-1], q, rtol=1e-12)


def test_hold_product_constant(result):
    dc = result["domestic_consumption"].sel(product="D", year=slice(2017, None))
    np.testing.assert_allclose(dc.values, 27.0, rtol=0, atol=0)
    assert np.isnan(result["implied_units"].sel(product="D")).all()


def test_history_unchanged(result):
    hist = make_hist()
    for name in ("domestic_consumption", "inflow"):
        np.testing.assert_array_equal(
            result[name].sel(year=slice(None, LAST)).values, hist[name].values
        )


def test_mass_balance_every_year(result):
    s = result["stock"].values
    ds = np.diff(s, axis=-1, prepend=0.0)
    net = (result["inflow"] - result["outflow"]).values
    scale = np.abs(s).max()
    np.testing.assert_allclose(ds, net, rtol=0, atol=1e-11 * scale)
    assert (result["inflow"].values >= 0).all()


def test_outflow_fixed_lifetime_shift(result):
    # fixed lifetime L: F_out(t) = F_in(t - L), forecast years included
    for p, lt in zip(PRODUCTS, LIFETIMES, strict=True):
        f_in = result["inflow"].sel(product=p).values
        f_out = result["outflow"].sel(product=p).values
        np.testing.assert_allclose(f_out[lt:], f_in[:-lt], rtol=1e-12)
        assert (f_out[:lt] == 0).all()


def curve_stock(result, inputs, p, year):
    vs, a, b = (
        float(result[f"gompertz_{k}"].sel(product=p)) for k in ("saturation", "alpha", "beta")
    )
    i = PRODUCTS.index(p)
    g = float(inputs["gdp_per_capita"].sel(year=year))
    pop = float(inputs["population"].sel(year=year))
    return vs * np.exp(a * np.exp(b * g)) * pop * MI[i] * AR[i]


@pytest.mark.parametrize("p", ["A", "G"])
def test_gompertz_splice_meets_accounted_stock(result, p):
    inputs = make_inputs()
    s17 = float(result["stock"].sel(product=p, year=LAST))
    assert curve_stock(result, inputs, p, LAST) == pytest.approx(s17, rel=1e-12)
    # rising curve, no clipping: the stock follows the curve from 2018 on, continuous at 2017/18
    for t in (2018, 2019, 2035, 2050):
        assert float(result["stock"].sel(product=p, year=t)) == pytest.approx(
            curve_stock(result, inputs, p, t), rel=1e-11
        )
    step = float(result["stock"].sel(product=p, year=2018)) / s17
    assert 0.9 < step < 1.3


def test_gompertz_dc_from_inflow_with_trade_shares(result):
    dc = result["domestic_consumption"].sel(product="A", year=slice(2018, None))
    inflow = result["inflow"].sel(product="A", year=slice(2018, None))
    np.testing.assert_allclose((inflow / dc).values, 1 - EXPORT_SHARE + IMPORT_SHARE, rtol=1e-12)


def test_gompertz_fit_records(result):
    method = str(result["gompertz_method"].sel(product="A").values)
    assert method.startswith("observed ownership 2010-2022 (13 points)")
    data = result["gompertz_data"].sel(product="A")
    assert int(data.notnull().sum()) == 13
    # exact curve data: residuals ~0 and the observed shape recovered
    assert float(abs(result["gompertz_residual"].sel(product="A")).max()) < 1e-9
    assert float(result["gompertz_alpha"].sel(product="A")) == pytest.approx(-6.0, rel=1e-6)
    assert float(result["gompertz_beta"].sel(product="A")) == pytest.approx(-2.2e-4, rel=1e-6)
    # the spliced level: saturation x level ratio back to the surveyed 0.4
    vs = float(result["gompertz_saturation"].sel(product="A"))
    k = float(result["gompertz_level_ratio"].sel(product="A"))
    assert vs / k == pytest.approx(0.4, rel=1e-6)
    # G: no observed data -> accounted ownership, saturation from the scenario, through 2017
    g_method = str(result["gompertz_method"].sel(product="G").values)
    assert g_method.startswith("accounted ownership")
    assert "saturation given" in g_method
    assert float(result["gompertz_level_ratio"].sel(product="G")) == pytest.approx(1.0, rel=1e-9)
    assert str(result["gompertz_method"].sel(product="B").values) == ""
    assert np.isnan(float(result["gompertz_saturation"].sel(product="B")))


def test_accounted_fit_uses_only_unbiased_years(result):
    used = result["gompertz_data"].sel(product="G").dropna("year")["year"].values
    bias = gz.empty_start_bias(make_hist()["inflow"].sel(product="G"), make_pdf().sel(product="G"))
    ok = bias["year"].values[(bias.values <= fc.BIAS_THRESHOLD) & (bias["year"].values < LAST)]
    np.testing.assert_array_equal(used, ok)
    assert used.min() > FIRST + 3


def test_implied_units_and_ownership(result):
    i = PRODUCTS.index("B")
    for t in (2017, 2050):
        assert float(result["implied_units"].sel(product="B", year=t)) == pytest.approx(
            float(result["domestic_consumption"].sel(product="B", year=t)) / (MI[i] * AR[i])
        )
    inputs = make_inputs()
    ia = PRODUCTS.index("A")
    own = result["implied_ownership"].sel(product="A", year=2050)
    expected = float(result["stock"].sel(product="A", year=2050)) / (
        MI[ia] * AR[ia] * float(inputs["population"].sel(year=2050))
    )
    assert float(own) == pytest.approx(expected)
    assert np.isnan(result["implied_ownership"].sel(product="B")).all()
    table = fc.plausibility_table(result.assign_coords(count_unit=inputs["count_unit"]))
    assert table.loc["B", "units 2050 [/yr]"] == pytest.approx(
        float(result["implied_units"].sel(product="B", year=2050))
    )


def test_inflow_ratio(result):
    r = result["inflow"].sel(year=2018) / result["inflow"].sel(year=2017)
    np.testing.assert_allclose(result["inflow_ratio_2018_2017"].values, r.values)
    # A grew 25 %/yr to 2017; a saturating curve cannot keep that up: the drop is reported
    assert float(result["inflow_ratio_2018_2017"].sel(product="A")) < 0.8


def test_falling_gompertz_stock_is_clipped_and_reported():
    # GDP collapses after 2017: ownership and the target stock fall faster than outflows allow
    gdp = 3000 * 1.07 ** (YEARS - FIRST)
    gdp[YEARS > LAST] = gdp[YEARS == LAST] * 0.3
    out = fc.project(make_inputs(gdp=gdp), make_hist(), make_scenario(), make_pdf())
    inflow = out["inflow"].sel(product="A")
    unmet = out["unmet_stock_decline"].sel(product="A")
    assert (inflow.values >= 0).all()
    clipped = unmet.values > 0
    assert clipped.any()
    assert (inflow.values[clipped] == 0).all()
    # where clipped, the stock only loses its outflow and stays above the target by the unmet amount
    s = out["stock"].sel(product="A").values
    f_out = out["outflow"].sel(product="A").values
    idx = np.nonzero(clipped)[0]
    np.testing.assert_allclose(s[idx], s[idx - 1] - f_out[idx], rtol=1e-12)
    target = out["gompertz_stock_target"].sel(product="A").values
    np.testing.assert_allclose(s[idx] - target[idx], unmet.values[idx], rtol=1e-9)
    assert (out["unmet_stock_decline"].sel(product=["B", "C", "D"]) == 0).all()


def test_adoption_path_points():
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
    assert float(a.sel(year=2032)) == pytest.approx(0.9)
    assert float(a.sel(year=2050)) == pytest.approx(0.8)
    assert (path.sel(product="B") == 0.5).all()


def test_monte_carlo_rescaling_keeps_splice_per_draw(result, rng):
    n = 4
    factor = xr.DataArray(rng.uniform(0.8, 1.2, (n, len(PRODUCTS))), dims=("draw", "product"))
    mi_factor = xr.DataArray(rng.uniform(0.9, 1.1, n), dims="draw")
    hist = make_hist() * factor
    inputs = make_inputs()
    inputs["nd_content"] = inputs["nd_content"] * mi_factor
    fits = fc.fits_from_dataset(result)
    assert set(fits) == {"A", "G"}
    out = fc.project(inputs, hist, make_scenario(), make_pdf(), fits=fits)
    assert out["stock"].dims == ("draw", "product", "year")
    det = result["stock"]
    for p in ("A", "G"):
        s = out["stock"].sel(product=p)
        # every draw meets its own accounted stock and then follows the deterministic curve's
        # relative path (population and adoption held): S_d(t) / S_d(2017) = S(t) / S(2017)
        rel_d = s.sel(year=slice(2017, None)) / s.sel(year=2017)
        rel = det.sel(product=p, year=slice(2017, None)) / det.sel(product=p, year=2017)
        np.testing.assert_allclose(
            rel_d.values, np.broadcast_to(rel.values, rel_d.shape), rtol=1e-11
        )
    # the deterministic fit reused unchanged (no refitting per draw)
    np.testing.assert_array_equal(out["gompertz_alpha"].values, result["gompertz_alpha"].values)


def test_fits_round_trip(result):
    again = fc.project(
        make_inputs(), make_hist(), make_scenario(), make_pdf(), fits=fc.fits_from_dataset(result)
    )
    np.testing.assert_allclose(again["stock"].values, result["stock"].values, rtol=1e-13)


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
    with pytest.raises(
        ScenarioError,
        match=r"forecast.gompertz.G.saturation: the saturation level is not identifiable",
    ):
        # lifetime 16 years: only 2015-2017 are free of the empty-start bias, too few for VS
        fc.project(inputs, hist, make_scenario(gompertz={}), make_pdf([10, 8, 12, 5, 16]))
    with pytest.raises(ScenarioError, match=r"forecast.gompertz.G: cannot fit"):
        # a saturation below the accounted ownership
        fc.project(inputs, hist, make_scenario(gompertz={"G": {"saturation": 1e-3}}), pdf)


def test_given_alpha_beta_splice_saturation():
    sc = make_scenario(gompertz={"G": {"alpha": -3.0, "beta": -1e-4}})
    out = fc.project(make_inputs(), make_hist(), sc, make_pdf())
    assert float(out["gompertz_alpha"].sel(product="G")) == -3.0
    assert curve_stock(out, make_inputs(), "G", LAST) == pytest.approx(
        float(out["stock"].sel(product="G", year=LAST)), rel=1e-12
    )


def test_forecast_disabled_returns_history_only():
    out = fc.project(make_inputs(), make_hist(), make_scenario(enabled=False), make_pdf())
    assert int(out["year"].max()) == LAST


def test_fits_carried_by_inputs_equal_fits_argument(result, rng):
    factor = xr.DataArray(rng.uniform(0.8, 1.2, (3, len(PRODUCTS))), dims=("draw", "product"))
    hist = make_hist() * factor
    by_arg = fc.project(
        make_inputs(), hist, make_scenario(), make_pdf(), fits=fc.fits_from_dataset(result)
    )
    inputs = make_inputs().merge(result[list(fc.FIT_VARIABLES)])
    by_inputs = fc.project(inputs, hist, make_scenario(), make_pdf())
    np.testing.assert_array_equal(by_inputs["stock"].values, by_arg["stock"].values)
    # chunk independence: draws 0-1 and 2 run apart give the same per-draw values
    part = fc.project(inputs, hist.isel(draw=[2]), make_scenario(), make_pdf())
    np.testing.assert_array_equal(
        part["stock"].isel(draw=0).values, by_inputs["stock"].isel(draw=2).values
    )


def test_fitting_on_draws_without_fits_warns(rng):
    hist = make_hist() * xr.DataArray(rng.uniform(0.9, 1.1, 2), dims="draw")
    with pytest.warns(UserWarning, match="mean of the draws"):
        fc.project(make_inputs(), hist, make_scenario(), make_pdf())


def test_monte_carlo_factors_on_growth_rates_and_gompertz_shape(result):
    f_rate = np.array([0.5, 1.0, 1.5])
    f_alpha = np.array([0.9, 1.0, 1.2])
    f_beta = np.array([1.1, 1.0, 0.8])
    inputs = make_inputs().merge(result[list(fc.FIT_VARIABLES)])
    ones = np.ones(len(PRODUCTS))
    inputs["growth_rate_factor"] = (("draw", "product"), f_rate[:, None] * ones)
    inputs["gompertz_alpha_factor"] = (("draw", "product"), f_alpha[:, None] * ones)
    inputs["gompertz_beta_factor"] = (("draw", "product"), f_beta[:, None] * ones)
    out = fc.project(inputs, make_hist(), make_scenario(), make_pdf())
    dc17 = 50 * 1.1**17
    for d, f in enumerate(f_rate):
        expected = dc17 * (1 + 0.05 * f) ** 13 * (1 - 0.01 * f) ** 20
        got = float(out["domestic_consumption"].sel(product="B", year=2050).isel(draw=d))
        assert got == pytest.approx(expected, rel=1e-12)
    # Gompertz: each draw's curve (drawn alpha, beta) meets the accounted 2017 stock, so the
    # stock follows S(2017) x V_d(t) / V_d(2017) x pop(t) / pop(2017) (VS cancels)
    gdp, pop = inputs["gdp_per_capita"], inputs["population"]
    a = float(result["gompertz_alpha"].sel(product="A"))
    b = float(result["gompertz_beta"].sel(product="A"))
    s17 = float(result["stock"].sel(product="A", year=LAST))
    for d in range(3):
        ad, bd = a * f_alpha[d], b * f_beta[d]
        for t in (2018, 2030, 2050):
            v_ratio = np.exp(ad * np.exp(bd * float(gdp.sel(year=t)))) / np.exp(
                ad * np.exp(bd * float(gdp.sel(year=LAST)))
            )
            expected = s17 * v_ratio * float(pop.sel(year=t)) / float(pop.sel(year=LAST))
            got = float(out["stock"].sel(product="A", year=t).isel(draw=d))
            assert got == pytest.approx(expected, rel=1e-11)


def test_household_ownership_used_as_shape():
    inputs = make_inputs()
    inputs["ownership_household"] = inputs["ownership"] * 3.0  # 3 persons per household
    inputs["ownership"] = inputs["ownership"] * np.nan
    out = fc.project(inputs, make_hist(), make_scenario(), make_pdf())
    assert "per household" in str(out["gompertz_method"].sel(product="A").values)
    # shape from the survey (alpha, beta), level from the accounted 2017 stock
    assert float(out["gompertz_alpha"].sel(product="A")) == pytest.approx(-6.0, rel=1e-6)
    assert curve_stock(out, inputs, "A", LAST) == pytest.approx(
        float(out["stock"].sel(product="A", year=LAST)), rel=1e-12
    )
