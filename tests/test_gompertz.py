"""Tests of ndsim.gompertz: the curve and its fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

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


def test_a_peaked_statistic_sets_the_saturation_at_its_peak_whatever_the_last_bits():
    # ownership that rises to 0.59 and falls back (a survey of computers per household):
    # no rising Gompertz curve fits better than the flat one at the highest point, where the
    # Jacobian is singular; the saturation is that point, identified, for every rounding of
    # the GDP values
    g = np.linspace(9000.0, 14000.0, 10)
    y = np.array([0.489, 0.53, 0.555, 0.5755, 0.5874, 0.5336, 0.5324, 0.5419, 0.47, 0.4746])
    for eps in (0.0, 1e-13, -2e-13, 3e-13):
        fit = gz.fit_gompertz(g * (1.0 + eps), y)
        assert fit.saturation == pytest.approx(0.5874, rel=1e-6)
        assert fit.saturation_identified
        assert "highest ownership observed" in fit.mode
        assert np.isnan(fit.saturation_se_log)
    # the saturation on the same bound when the highest point is the last: not identified
    rising = np.append(y[:-1], 0.62)
    fit = gz.fit_gompertz(g, rising)
    assert fit.saturation == pytest.approx(0.62, rel=1e-6)
    assert not fit.saturation_identified
    assert "highest ownership observed" not in fit.mode


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="need at least 4"):
        gz.fit_gompertz(GDP[:3], gz.gompertz(GDP[:3], 0.5, -5, -2e-4))
    with pytest.raises(ValueError, match="positive"):
        gz.fit_gompertz(GDP[:5], [0.1, 0.2, 0.0, 0.3, 0.4])
    with pytest.raises(ValueError, match="not above"):
        gz.fit_gompertz(GDP[:5], [0.1, 0.2, 0.3, 0.4, 0.5], saturation=0.3)
    # saturation given: 2 free parameters, 3 points needed
    with pytest.raises(ValueError, match="need at least 3"):
        gz.fit_gompertz(GDP[:2], [0.1, 0.2], saturation=1.0)


def fixed_pdf(n_ages, lifetime):
    f = np.zeros(n_ages)
    f[lifetime] = 1.0
    return xr.DataArray(f, dims="age")
