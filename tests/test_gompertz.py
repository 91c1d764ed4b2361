"""Tests of ndsim.gompertz: the curve, its fit, the splice and the Monte Carlo rescaling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from ndsim import gompertz as gz


def plain_gompertz(g, vs, a, b):
    return vs * math.exp(a * math.exp(b * g))


def test_curve_matches_plain_formula_and_broadcasts(rng):
    draws, products, years = 3, 4, 5
    gdp = xr.DataArray(rng.uniform(1e3, 3e4, years), dims="year")
    vs = xr.DataArray(rng.uniform(0.1, 2.0, (draws, products)), dims=("draw", "product"))
    a = xr.DataArray(rng.uniform(-8, -1, products), dims="product")
    b = xr.DataArray(rng.uniform(-4e-4, -5e-5, products), dims="product")
    v = gz.gompertz(gdp, vs, a, b).transpose("draw", "product", "year")
    assert v.shape == (draws, products, years)
    for d in range(draws):
        for p in range(products):
            for y in range(years):
                ref = plain_gompertz(float(gdp[y]), float(vs[d, p]), float(a[p]), float(b[p]))
                assert v.values[d, p, y] == pytest.approx(ref, rel=1e-14)


def test_curve_limits():
    # at GDP -> infinity the curve reaches the saturation level; at GDP = 0 it is VS e^alpha
    assert gz.gompertz(1e9, 0.7, -5.0, -1e-4) == pytest.approx(0.7)
    assert gz.gompertz(0.0, 0.7, -5.0, -1e-4) == pytest.approx(0.7 * math.exp(-5.0))


GDP = np.linspace(2500.0, 16000.0, 12)


@pytest.mark.parametrize(
    "vs,a,b", [(0.45, -5.0, -2.5e-4), (1.2, -3.0, -1.5e-4), (0.9, -9.0, -3e-4)]
)
def test_free_fit_recovers_parameters(vs, a, b):
    fit = gz.fit_gompertz(GDP, gz.gompertz(GDP, vs, a, b))
    assert fit.saturation == pytest.approx(vs, rel=1e-6)
    assert fit.alpha == pytest.approx(a, rel=1e-6)
    assert fit.beta == pytest.approx(b, rel=1e-6)
    assert fit.saturation_identified
    assert max(abs(r) for r in fit.residuals) < 1e-9
    assert len(fit.ownership) == GDP.size


def test_fit_with_saturation_given_recovers_shape():
    y = gz.gompertz(GDP[:5], 0.45, -5.0, -2.5e-4)
    fit = gz.fit_gompertz(GDP[:5], y, saturation=0.45)
    assert fit.saturation == 0.45
    assert fit.alpha == pytest.approx(-5.0, rel=1e-6)
    assert fit.beta == pytest.approx(-2.5e-4, rel=1e-6)
    assert "saturation given" in fit.mode


def test_anchored_fit_meets_anchor_exactly(rng):
    y = gz.gompertz(GDP, 0.6, -4.0, -2e-4) * np.exp(rng.normal(0, 0.05, GDP.size))
    anchor = (17000.0, 0.5)
    for sat in (None, 0.8):
        fit = gz.fit_gompertz(GDP, y, saturation=sat, anchor=anchor)
        assert fit(anchor[0]) == pytest.approx(anchor[1], rel=1e-12)
        assert fit.alpha < 0 and fit.beta < 0


def test_early_growth_does_not_identify_saturation():
    # only the exponential-looking start of a curve: saturation not determined
    g = np.linspace(1000.0, 2500.0, 6)
    fit = gz.fit_gompertz(g, gz.gompertz(g, 1.0, -9.0, -1e-4) * (1 + 0.03 * np.sin(np.arange(6))))
    assert not fit.saturation_identified


def test_few_points_do_not_identify_saturation():
    # exact curve points, but 4 points for 3 parameters leave 1 degree of freedom
    fit = gz.fit_gompertz(GDP[:4], gz.gompertz(GDP[:4], 0.45, -5.0, -2.5e-4))
    assert not fit.saturation_identified
    assert gz.fit_gompertz(GDP[:5], gz.gompertz(GDP[:5], 0.45, -5.0, -2.5e-4)).saturation_identified


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="need at least 4"):
        gz.fit_gompertz(GDP[:3], gz.gompertz(GDP[:3], 0.5, -5, -2e-4))
    with pytest.raises(ValueError, match="positive"):
        gz.fit_gompertz(GDP[:5], [0.1, 0.2, 0.0, 0.3, 0.4])
    with pytest.raises(ValueError, match="not above"):
        gz.fit_gompertz(GDP[:5], [0.1, 0.2, 0.3, 0.4, 0.5], saturation=0.3)
    # anchor + saturation: 1 free parameter, 2 points needed
    with pytest.raises(ValueError, match="need at least 2"):
        gz.fit_gompertz(GDP[:1], [0.1], saturation=1.0, anchor=(9000.0, 0.2))


@settings(max_examples=40, deadline=None)
@given(
    vs=st.floats(0.05, 5.0),
    a=st.floats(-10.0, -0.5),
    b=st.floats(-5e-4, -2e-5),
    g=st.floats(500.0, 60000.0),
    target=st.floats(1e-4, 4.0),
)
def test_splice_meets_anchor_and_keeps_shape(vs, a, b, g, target):
    vs2 = gz.splice_saturation(vs, a, b, g, target)
    assert gz.gompertz(g, vs2, a, b) == pytest.approx(target, rel=1e-12)
    # shape kept: the ratio of two points of the curve does not change
    r1 = gz.gompertz(2 * g, vs, a, b) / gz.gompertz(g, vs, a, b)
    r2 = gz.gompertz(2 * g, vs2, a, b) / gz.gompertz(g, vs2, a, b)
    assert r2 == pytest.approx(r1, rel=1e-12)


def test_monte_carlo_rescaling_keeps_the_splice_per_draw(rng):
    # deterministic splice: S(T) = V(T) pop MI AR; draws move MI, AR and the accounted stock
    gdp_t, pop, mi, ar = 9000.0, 1.4e9, 5e-5, 0.3
    vs, a, b = 0.4, -5.0, -2.5e-4
    v_ref = gz.gompertz(gdp_t, vs, a, b)
    s_ref = v_ref * pop * mi * ar
    n = 50
    mi_d = xr.DataArray(mi * rng.normal(1, 0.05, n), dims="draw")
    ar_d = xr.DataArray(ar * rng.normal(1, 0.1, n), dims="draw")
    s_d = xr.DataArray(s_ref * rng.lognormal(0, 0.2, n), dims="draw")  # each draw's stock in T
    v_d = s_d / (mi_d * ar_d * pop)
    vs_d = gz.rescale_saturation(vs, v_d, v_ref)
    stock_curve = gz.gompertz(gdp_t, vs_d, a, b) * pop * mi_d * ar_d
    np.testing.assert_allclose(stock_curve.values, s_d.values, rtol=1e-13)
    # alpha and beta unchanged: the relative path V(t)/V(T) is the deterministic one in every draw
    ratio = gz.gompertz(2 * gdp_t, vs_d, a, b) / gz.gompertz(gdp_t, vs_d, a, b)
    expected = gz.gompertz(2 * gdp_t, vs, a, b) / v_ref
    np.testing.assert_allclose(ratio.values, expected, rtol=1e-13)
    # without drawn MI and AR it is SPEC §5's stock rule VS_d = VS S_d(T) / S(T)
    np.testing.assert_allclose(
        gz.rescale_saturation(vs, s_d / (mi * ar * pop), v_ref).values,
        (vs * s_d / s_ref).values,
        rtol=1e-13,
    )


def fixed_pdf(n_ages, lifetime):
    f = np.zeros(n_ages)
    f[lifetime] = 1.0
    return xr.DataArray(f, dims="age")


def test_empty_start_bias_closed_form():
    # geometric inflow F(c) = (1+g)^c, fixed lifetime L (end timing: survival 1 below age L):
    # missing(t) = sum_{k=1}^{L-1-t} (1+g)^-k, stock(t) = sum_{c=0}^{t} (1+g)^c for t < L
    g, lifetime, n = 0.3, 10, 18
    years = np.arange(2000, 2000 + n)
    inflow = xr.DataArray((1 + g) ** np.arange(n), dims="year", coords={"year": years})
    bias = gz.empty_start_bias(inflow, fixed_pdf(40, lifetime))
    for t in range(n):
        missing = sum((1 + g) ** -k for k in range(1, lifetime - t))
        stock = sum((1 + g) ** c for c in range(max(0, t - lifetime + 1), t + 1))
        assert bias.values[t] == pytest.approx(missing / (stock + missing), abs=1e-14)
    assert bias.values[lifetime - 1 :].max() == 0.0


def test_empty_start_bias_flat_start_is_conservative():
    # a shrinking start counts as flat (g clamped at 0): more bias than a growing one
    years = np.arange(2000, 2018)
    shrinking = xr.DataArray(100 * 0.9 ** np.arange(18), dims="year", coords={"year": years})
    growing = xr.DataArray(100 * 1.2 ** np.arange(18), dims="year", coords={"year": years})
    pdf = fixed_pdf(30, 12)
    b_flat = gz.empty_start_bias(shrinking, pdf)
    b_grow = gz.empty_start_bias(growing, pdf)
    # year 2000: flat start misses 11 cohorts of the same size -> 11/12
    assert b_flat.values[0] == pytest.approx(11 / 12)
    assert np.all(b_grow.values[:11] < b_flat.values[:11])
