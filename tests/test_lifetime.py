"""Lifetime models: hand-computed values, scipy.stats as an independent oracle, errors."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
import xarray as xr

from ndsim.errors import ValidationError
from ndsim.lifetime import Lifetime, from_table, pdf_by_product


def _pdf_from_sf(sf_at_year_ends: np.ndarray) -> np.ndarray:
    """f(a) = S(a - 1) - S(a), S(-1) = 1 (the oracle's own differencing)."""
    return -np.diff(np.concatenate([[1.0], sf_at_year_ends]))


# --- fixed ----------------------------------------------------------------------


@pytest.mark.parametrize("timing", ["end", "middle"])
def test_fixed_whole_year_retires_at_exactly_that_age(timing):
    f = Lifetime("fixed", timing, mean=7).pdf(12).values
    expected = np.zeros(12)
    expected[7] = 1.0
    np.testing.assert_array_equal(f, expected)


@pytest.mark.parametrize("timing", ["end", "middle"])
def test_fixed_fractional_splits_linearly_between_neighbouring_ages(timing):
    f = Lifetime("fixed", timing, mean=7.3).pdf(12).values
    assert f[7] == pytest.approx(0.7, abs=1e-15)
    assert f[8] == pytest.approx(0.3, abs=1e-15)
    assert np.count_nonzero(f) == 2


def test_fixed_draws_move_smoothly():
    means = xr.DataArray(np.linspace(3.0, 4.0, 11), dims=["draw"])
    f = Lifetime("fixed", mean=means).pdf(8)
    # the expected age moves linearly with L: sum a f(a) = L
    np.testing.assert_allclose((f * f.age).sum("age").values, means.values, rtol=1e-14)


def test_fixed_beyond_horizon_and_zero():
    assert Lifetime("fixed", mean=20).pdf(10).values.sum() == 0.0
    f0 = Lifetime("fixed", mean=0).pdf(3).values
    np.testing.assert_array_equal(f0, [1.0, 0.0, 0.0])


# --- normal ---------------------------------------------------------------------


def test_normal_known_values_by_hand():
    # end: f(10) = Phi(0) - Phi(-0.5) = 0.5 - 0.3085375387259869
    f_end = Lifetime("normal", mean=10.0, sd=2.0).pdf(30).values
    assert f_end[10] == pytest.approx(0.5 - 0.3085375387259869, rel=1e-13)
    # middle: f(10) = S(9.5) - S(10.5) = Phi(0.25) - Phi(-0.25)
    f_mid = Lifetime("normal", "middle", mean=10.0, sd=2.0).pdf(30).values
    assert f_mid[10] == pytest.approx(0.1974126513658474, rel=1e-13)
    # symmetry about the mean under "end": f(10 - j) = f(11 + j)
    np.testing.assert_allclose(f_end[5:11], f_end[11:17][::-1], rtol=1e-12)


def test_normal_mass_below_zero_retires_at_age_zero():
    f = Lifetime("normal", mean=1.0, sd=2.0).pdf(60).values
    # f(0) = P(X <= 0) = Phi(-0.5): the negative part included, nothing dropped
    assert f[0] == pytest.approx(0.3085375387259869, rel=1e-13)
    assert f.sum() == pytest.approx(1.0, abs=1e-14)
    assert (f >= 0).all()


@pytest.mark.parametrize("timing,shift", [("end", 0.0), ("middle", 0.5)])
def test_normal_matches_scipy(rng, timing, shift):
    for mean, sd in rng.uniform([2, 0.3], [30, 10], size=(20, 2)):
        ages = np.arange(60)
        expected = _pdf_from_sf(st.norm.sf(ages + shift, loc=mean, scale=sd))
        got = Lifetime("normal", timing, mean=mean, sd=sd).pdf(60).values
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


def test_normal_lower_tail_keeps_relative_precision():
    # Phi(-10)-level shares: a difference of survival values near 1 would lose them
    f = Lifetime("normal", mean=20.0, sd=2.0).pdf(3).values
    expected = np.diff(np.concatenate([[0.0], st.norm.cdf(np.arange(3), 20.0, 2.0)]))
    np.testing.assert_allclose(f, expected, rtol=1e-12)
    assert f[0] > 0


# --- lognormal ------------------------------------------------------------------


def test_lognormal_parameterised_by_the_lifetime_itself():
    mean, sd = 10.0, 5.0  # mean != sd
    sigma2 = 0.22314355131420976  # ln(1 + 25/100), by hand
    mu = 2.191013317336941  # ln 10 - sigma2 / 2
    ages = np.arange(200)
    expected = _pdf_from_sf(st.lognorm.sf(ages, s=math.sqrt(sigma2), scale=math.exp(mu)))
    got = Lifetime("lognormal", mean=mean, sd=sd).pdf(200).values
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)
    # the moments of the continuous lifetime come back (trapezoid rule on the
    # year ends, S(0) = 1, with its end correction h^2/12 g'(0) for g = 2 x S):
    # E[X] = int S dx, E[X^2] = int 2 x S dx
    s = 1.0 - np.cumsum(got)
    e1 = s.sum() - 0.5
    e2 = np.sum(2 * ages * s) + 2.0 / 12.0
    assert e1 == pytest.approx(mean, rel=1e-3)
    assert math.sqrt(e2 - e1**2) == pytest.approx(sd, rel=1e-3)


def test_lognormal_middle_matches_scipy():
    ages = np.arange(80)
    sigma = math.sqrt(math.log1p((4.0 / 12.0) ** 2))
    mu = math.log(12.0) - sigma**2 / 2
    expected = _pdf_from_sf(st.lognorm.sf(ages + 0.5, s=sigma, scale=math.exp(mu)))
    got = Lifetime("lognormal", "middle", mean=12.0, sd=4.0).pdf(80).values
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


# --- weibull --------------------------------------------------------------------


def test_weibull_known_value_by_hand():
    f = Lifetime("weibull", shape=2.0, scale=10.0).pdf(30).values
    # S(9) - S(10) = exp(-0.81) - exp(-1)
    assert f[10] == pytest.approx(0.07697862505149877, rel=1e-13)
    assert f[0] == pytest.approx(1 - math.exp(-0.0), abs=0)  # S(0) = 1: nothing at age 0


@pytest.mark.parametrize("timing,shift", [("end", 0.0), ("middle", 0.5)])
def test_weibull_matches_scipy(rng, timing, shift):
    for k, lam in rng.uniform([0.6, 2.0], [6.0, 30.0], size=(20, 2)):
        ages = np.arange(80)
        expected = _pdf_from_sf(st.weibull_min.sf(ages + shift, c=k, scale=lam))
        got = Lifetime("weibull", timing, shape=k, scale=lam).pdf(80).values
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


def test_weibull_from_mean_sd_recovers_the_moments():
    # shape 1 is the exponential distribution: mean = sd = scale
    lt = Lifetime.weibull_from_mean_sd(10.0, 10.0)
    assert lt.shape == pytest.approx(1.0, rel=1e-12)
    assert lt.scale == pytest.approx(10.0, rel=1e-12)
    means = xr.DataArray([5.0, 12.0, 30.0], dims=["draw"])
    sds = xr.DataArray([1.0, 6.0, 45.0], dims=["draw"])
    lt = Lifetime.weibull_from_mean_sd(means, sds)
    k, lam = lt.shape.values, lt.scale.values
    g1 = np.array([math.gamma(1 + 1 / x) for x in k])
    g2 = np.array([math.gamma(1 + 2 / x) for x in k])
    np.testing.assert_allclose(lam * g1, means.values, rtol=1e-12)
    np.testing.assert_allclose(lam * np.sqrt(g2 - g1**2), sds.values, rtol=1e-9)


# --- gamma, table ---------------------------------------------------------------


@pytest.mark.parametrize("timing,shift", [("end", 0.0), ("middle", 0.5)])
def test_gamma_matches_scipy_in_both_parameterisations(timing, shift):
    mean, sd = 9.0, 3.0
    k, theta = (mean / sd) ** 2, sd**2 / mean
    ages = np.arange(50)
    expected = _pdf_from_sf(st.gamma.sf(ages + shift, a=k, scale=theta))
    a = Lifetime("gamma", timing, mean=mean, sd=sd).pdf(50).values
    b = Lifetime("gamma", timing, shape=k, scale=theta).pdf(50).values
    np.testing.assert_allclose(a, expected, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(b, expected, rtol=1e-9, atol=1e-15)


def test_table_differences_and_holds_last_value():
    surv = xr.DataArray([1.0, 0.8, 0.5, 0.2, 0.1], dims=["age"], coords={"age": range(5)})
    f = Lifetime("table", survival=surv).pdf(8).values
    np.testing.assert_allclose(f, [0.0, 0.2, 0.3, 0.3, 0.1, 0.0, 0.0, 0.0], atol=1e-15)
    assert Lifetime("table", survival=surv).survival(8).values[-1] == pytest.approx(0.1)


def test_table_rejects_rising_survival():
    surv = xr.DataArray([1.0, 0.5, 0.7], dims=["age"], coords={"age": range(3)})
    with pytest.raises(ValidationError, match="survival increases with age at .*age=2"):
        Lifetime("table", survival=surv)


# --- arrays, attrs, stacking ----------------------------------------------------


def test_parameters_with_draw_and_product_dims_broadcast(rng):
    mean = xr.DataArray(
        rng.uniform(5, 15, (4, 3)), dims=["draw", "product"], coords={"product": ["A", "B", "C"]}
    )
    sd = xr.DataArray([1.0, 2.0, 3.0], dims=["product"], coords={"product": ["A", "B", "C"]})
    f = Lifetime("normal", "middle", mean=mean, sd=sd).pdf(25)
    assert f.dims == ("draw", "product", "age")
    for d in range(4):
        for j, p in enumerate("ABC"):
            single = Lifetime("normal", "middle", mean=float(mean[d, j]), sd=float(sd[j])).pdf(25)
            np.testing.assert_array_equal(f.sel(product=p).isel(draw=d).values, single.values)
    assert f.attrs["lifetime_timing"] == "middle"
    assert f.attrs["lifetime_model"] == "normal"
    assert f.attrs["units"] == "1"


def test_pdf_by_product_stacks_and_requires_one_timing():
    specs = {
        "CV": Lifetime("fixed", mean=3),
        "AC": Lifetime("normal", mean=10.0, sd=3.0),
        "X": Lifetime("gamma", mean=5.0, sd=1.0),
    }
    f = pdf_by_product(specs, 20)
    assert f.dims == ("product", "age")
    assert list(f["product"].values) == ["CV", "AC", "X"]
    np.testing.assert_array_equal(f.sel(product="AC").values, specs["AC"].pdf(20).values)
    with pytest.raises(ValidationError, match="one timing"):
        pdf_by_product(
            {"a": Lifetime("fixed", mean=1), "b": Lifetime("fixed", "middle", mean=1)}, 5
        )


def test_pdf_by_product_with_draws_matches_each_products_pdf(rng):
    mean = xr.DataArray(rng.uniform(5, 15, 5), dims=["draw"], coords={"draw": np.arange(5, 10)})
    specs = {
        "A": Lifetime("fixed", mean=mean),
        "B": Lifetime("normal", mean=mean, sd=2.0),
        "C": Lifetime("weibull", shape=mean / 5, scale=mean),
        "D": Lifetime("lognormal", mean=12.0, sd=3.0),  # no draws: the same for each
    }
    f = pdf_by_product(specs, 30)
    assert f.dims == ("product", "draw", "age")
    assert list(f.coords) == ["draw", "age", "product"]
    np.testing.assert_array_equal(f["draw"].values, mean["draw"].values)
    for p, spec in specs.items():
        single = spec.pdf(30).broadcast_like(mean).transpose("draw", "age")
        np.testing.assert_array_equal(f.sel(product=p).values, single.values)
    # draws labelled otherwise: aligned on the union of the labels, NaN where missing
    other = mean.assign_coords(draw=np.arange(7, 12))
    g = pdf_by_product({**specs, "E": Lifetime("fixed", mean=other)}, 30)
    assert g.dims == ("product", "draw", "age") and g.sizes["draw"] == 7
    assert np.isnan(g.sel(product="E", draw=5)).all()
    np.testing.assert_array_equal(g.sel(product="B", draw=7).values, f.sel(product="B", draw=7))
    with pytest.raises(ValidationError, match="n_ages must be >= 1"):
        pdf_by_product(specs, 0)


def test_errors_name_the_field():
    with pytest.raises(ValidationError, match="model 'weird' unknown"):
        Lifetime("weird", mean=3)
    with pytest.raises(ValidationError, match="timing 'start' unknown"):
        Lifetime("fixed", "start", mean=3)
    with pytest.raises(ValidationError, match=r"takes parameters \(mean, sd\)"):
        Lifetime("normal", mean=3)
    sd = xr.DataArray([1.0, -1.0, 0.0], dims=["draw"])
    with pytest.raises(ValidationError, match=r"sd out of range: \[draw=1\] -1.0; \[draw=2\] 0.0"):
        Lifetime("normal", mean=10.0, sd=sd)
    with pytest.raises(ValidationError, match="shape out of range"):
        Lifetime("weibull", shape=-1.0, scale=3.0)


def test_immutable_and_picklable():
    lt = Lifetime("lognormal", mean=10.0, sd=4.0)
    with pytest.raises(AttributeError):
        lt.model = "normal"
    back = pickle.loads(pickle.dumps(lt))
    assert back.model == "lognormal" and back.mean == 10.0 and back.sd == 4.0
    assert lt.with_params(mean=12.0).mean == 12.0
    assert lt.with_timing("middle").timing == "middle"


def test_from_table_builds_specs_per_variant():
    table = pd.DataFrame(
        [
            ("paper", "CV", "model", "fixed"),
            ("paper", "CV", "mean", "15"),
            ("paper", "AC", "model", "normal"),
            ("paper", "AC", "mean", "12"),
            ("paper", "AC", "sd", "4"),
            ("literature", "CV", "model", "weibull"),
            ("literature", "CV", "mean", "15"),
            ("literature", "CV", "sd", "5"),
        ],
        columns=["variant", "product", "parameter", "value"],
    )
    specs = from_table(table, "paper", timing="middle")
    assert list(specs) == ["CV", "AC"]
    assert specs["AC"].model == "normal" and specs["AC"].sd == 4.0
    assert specs["CV"].timing == "middle"
    lit = from_table(table, "literature")
    assert lit["CV"].model == "weibull"
    with pytest.raises(ValidationError, match="lifetimes.csv, variant: variant 'x' not found"):
        from_table(table, "x")
