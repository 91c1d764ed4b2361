"""Tests of ndsim.sampling: per-draw reproducibility, truncation rules, moments."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ndsim import sampling
from ndsim.errors import ScenarioError, ValidationError
from ndsim.scenario import Scenario, UncertaintyOptions

YEARS = np.arange(2000, 2005)
PRODUCTS = ["A", "B", "C"]


@pytest.fixture
def inputs() -> xr.Dataset:
    """A tiny canonical input Dataset with quality flags."""
    return xr.Dataset(
        {
            "production": (("product", "year"), np.arange(15.0).reshape(3, 5) + 1),
            "q_production": (
                ("product", "year"),
                np.array([["statistic"] * 5, ["literature"] * 5, ["estimate"] * 5]),
            ),
            "nd_content": (("product",), np.array([0.5, 1.0, 2.0])),
            "q_nd_content": (("product",), np.array(["estimate"] * 3)),
            "adoption_rate": (
                ("product", "year"),
                np.array([[1.0] * 5, [0.5, 0.6, 0.9, 0.95, 0.98], [0.2] * 5]),
            ),
            "q_adoption_rate": (("product", "year"), np.full((3, 5), "estimate")),
            "growth_rate": (("product",), np.array([-0.02, 0.03, 0.0])),
            "q_growth_rate": (("product",), np.array(["estimate"] * 3)),
        },
        coords={"product": PRODUCTS, "year": YEARS},
    )


def scen(inputs=None, per_year=False, cv=None):
    names = sampling.DEFAULT_INPUTS if inputs is None else tuple(inputs)
    return Scenario(uncertainty=UncertaintyOptions(inputs=names, per_year=per_year, cv=cv or {}))


def splitmix_reference(seed: int, key: int, d: int) -> float:
    """Plain-Python reference of the counter-based uniform (integers mod 2**64)."""
    m = 2**64 - 1
    g = 0x9E3779B97F4A7C15

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        return z ^ (z >> 31)

    stream = mix(mix((seed + g) & m) ^ key)
    z = mix(mix((stream + (d + 1) * g) & m))
    return ((z >> 11) + 0.5) * 2.0**-53


def test_uniforms_match_plain_python_reference():
    keys = np.array([sampling.label_key("production", "product=AC"), 12345], dtype=np.uint64)
    draws = np.array([0, 1, 999_999])
    u = sampling.uniforms(42, keys, draws)
    for i, d in enumerate(draws):
        for j, k in enumerate(keys):
            assert u[i, j] == splitmix_reference(42, int(k), int(d))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**63),
    start=st.integers(0, 10**6),
    n=st.integers(1, 60),
    cut=st.integers(0, 60),
)
def test_draw_values_do_not_depend_on_chunking(seed, start, n, cut):
    """Any split of draws [start, start+n) gives bit-identical values (hypothesis)."""
    keys = np.arange(5, dtype=np.uint64)
    draws = np.arange(start, start + n)
    whole = sampling.uniforms(seed, keys, draws)
    c = min(cut, n)
    parts = np.concatenate(
        [sampling.uniforms(seed, keys, draws[:c]), sampling.uniforms(seed, keys, draws[c:])]
    )
    assert np.array_equal(whole, parts)
    single = sampling.uniforms(seed, keys, draws[::-1])[::-1]  # order does not matter either
    assert np.array_equal(whole, single)


def test_sample_inputs_bit_identical_across_chunks(inputs):
    whole = sampling.sample_inputs(inputs, None, np.arange(0, 50), seed=7)
    for a, b in [(0, 13), (13, 14), (14, 50)]:
        part = sampling.sample_inputs(inputs, None, np.arange(a, b), seed=7)
        for name in sampling.DEFAULT_INPUTS:
            assert np.array_equal(part[name].values, whole[name].values[a:b])
    other_seed = sampling.sample_inputs(inputs, None, np.arange(0, 50), seed=8)
    assert not np.array_equal(other_seed.production.values, whole.production.values)


def test_uniforms_look_uniform():
    u = sampling.uniforms(3, np.array([1, 2], dtype=np.uint64), np.arange(20000))
    assert u.min() > 0 and u.max() < 1
    for j in range(2):
        assert stats.kstest(u[:, j], "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 4 / np.sqrt(20000)
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 4 / np.sqrt(20000)


def test_truncated_normal_factor_matches_scipy():
    u = np.linspace(0.001, 0.999, 101)
    for c, lo, hi in [
        (0.1, 0.0, np.inf),
        (0.3, 0.0, 1.25),
        (0.05, -np.inf, np.inf),
        (0.8, 0.0, 2.0),
    ]:
        f = sampling.truncated_normal_factor(u, c, lo, hi)
        ref = stats.truncnorm.ppf(u, (lo - 1) / c, (hi - 1) / c, loc=1, scale=c)
        np.testing.assert_allclose(f, ref, rtol=1e-9, atol=1e-12)
    assert np.all(sampling.truncated_normal_factor(u, 0.0, 0.0, np.inf) == 1.0)


def test_truncated_normal_factor_per_column_parameters_match_scipy():
    # uniforms (draw, column) against one (cv, lower, upper) per column, as a chunk draws them
    u = np.linspace(0.001, 0.999, 101)[:, None]
    c = np.array([0.1, 0.3, 0.05, 0.8, 0.0])
    lo = np.array([0.0, 0.0, -np.inf, 0.0, 0.0])
    hi = np.array([np.inf, 1.25, np.inf, 2.0, np.inf])
    f = sampling.truncated_normal_factor(u, c, lo, hi)
    assert f.shape == (101, 5)
    for j in range(4):
        a, b = (lo[j] - 1) / c[j], (hi[j] - 1) / c[j]
        ref = stats.truncnorm.ppf(u[:, 0], a, b, loc=1, scale=c[j])
        np.testing.assert_allclose(f[:, j], ref, rtol=1e-9, atol=1e-12)
    assert np.all(f[:, 4] == 1.0)


def test_plan_factors_against_the_formula_in_numpy():
    """A plan item's factors (columns of distinct (stream, cv, lower, upper), spread by
    their inverse) against the formula written out in numpy, bit for bit."""
    from scipy.special import ndtr, ndtri

    u = sampling.uniforms(7, np.arange(1, 5, dtype=np.uint64), np.arange(3000))
    u[:3] = np.array([1e-300, 0.5, 1 - 2**-53])[:, None]  # the tails' extremes, the median
    uniq = np.array(  # stream, cv, lower, upper
        [
            [0, 0.1, 0.0, np.inf],
            [1, 0.3, 0.0, 1.25],
            [2, 0.05, -np.inf, np.inf],
            [3, 0.8, 0.0, 1.0],  # the upper bound at 1: half the draws clipped to it
            [1, 0.0, 0.0, np.inf],  # cv 0: 1 whatever the uniform
            [0, 2.0, 0.95, 1.02],  # a narrow window
        ]
    )
    inverse = np.array([5, 0, 0, 1, 4, 2, 3, 3, 0, 5, 1, 2])
    streams, bounds = sampling._columns(uniq)  # as factor_plan makes an item
    item = {"inverse": inverse, "shape": (3, 4), "cols": streams, "bounds": bounds}
    f = sampling._item_array(sampling._item_table(item, u), item)
    c, lo, hi = uniq[:, 1], uniq[:, 2], uniq[:, 3]
    safe = np.where(c > 0, c, 1.0)
    a, b = (lo - 1.0) / safe, (hi - 1.0) / safe
    x = u[:, uniq[:, 0].astype(int)]
    p = ndtr(a) + x * (ndtr(b) - ndtr(a))
    q = ndtr(-b) + (1.0 - x) * (ndtr(-a) - ndtr(-b))
    low = p < 0.5
    z = ndtri(np.minimum(np.where(low, p, q), 0.5))
    z = np.clip(np.where(low, z, -z), a, b)
    ref = np.where(c > 0, 1.0 + c * z, 1.0)[:, inverse].reshape(3000, 3, 4)
    np.testing.assert_array_equal(f.view(np.uint64), ref.view(np.uint64))
    assert f.strides == ref.strides  # the draws the fastest axis, as numpy's gather lays them
    assert (f[:, 1, 0] == 1.0).all() and f[:, 1, 3].max() <= 1.0  # cv 0; at most 1
    assert 0.95 <= f[:, 0, 0].min() and f[:, 0, 0].max() <= 1.02


def test_series_mode_one_factor_per_series(inputs):
    f = sampling.draw_factors(inputs, None, np.arange(200), seed=1)["production"]
    assert f.dims == ("draw", "product", "year")
    # same quality in every year: one factor scales the whole series
    assert np.all(f.values == f.values[:, :, :1])


def test_per_year_mode_independent_years(inputs):
    f = sampling.draw_factors(inputs, scen(per_year=True), np.arange(4000), seed=1)["production"]
    r = np.corrcoef(f.values[:, 2, 0], f.values[:, 2, 1])[0, 1]
    assert abs(r) < 4 / np.sqrt(4000)


def test_share_truncation_and_ones(inputs):
    for per_year in (False, True):
        out = sampling.sample_inputs(inputs, scen(per_year=per_year), np.arange(20000), seed=2)
        ar = out.adoption_rate
        assert float(ar.max()) <= 1.0
        assert float(ar.min()) >= 0.0
        assert np.all(ar.sel(product="A").values == 1.0)  # exactly 1 in every year: stays 1
        assert float(ar.sel(product="C").std("draw").max()) > 0.01
    # series mode: B is scaled by one factor truncated at 1 / 0.98
    out = sampling.sample_inputs(inputs, None, np.arange(20000), seed=2)
    b = out.adoption_rate.sel(product="B")
    ratio = b / inputs.adoption_rate.sel(product="B")
    assert np.allclose(ratio.values, ratio.values[:, :1])
    assert float(b.sel(year=2004).max()) <= 1.0 and float(b.sel(year=2004).max()) > 0.99
    # factors of exactly 1 (definitional) stay 1
    assert np.all(out.nd_content.sel(product="B").values == 1.0)


def test_nonnegative_truncated_at_zero_not_clipped(inputs):
    out = sampling.sample_inputs(inputs, scen(cv={"production": 0.8}), np.arange(20000), seed=3)
    p = out.production.sel(product="A", year=2000).values  # value 1, cv 0.8
    assert p.min() >= 0.0
    # inverse-CDF truncation: no atom at 0 (clipping would put ~10.6 % of draws there)
    assert np.mean(p == 0.0) == 0.0
    ref = stats.truncnorm(-1 / 0.8, np.inf, loc=1, scale=0.8)
    assert stats.kstest(p, ref.cdf).pvalue > 1e-3


def test_signed_parameters_not_truncated(inputs):
    out = sampling.sample_inputs(
        inputs, scen(inputs=["growth_rate"], cv={"growth_rate": 2.0}), np.arange(5000), seed=4
    )
    g = out.growth_rate.sel(product="A").values  # -0.02 with cv 2: both signs
    assert (g > 0).any() and (g < 0).any()
    assert np.all(out.growth_rate.sel(product="C").values == 0.0)


@pytest.mark.parametrize(
    "quality,cv", [("statistic", 0.02), ("literature", 0.05), ("estimate", 0.10)]
)
def test_sample_moments_match_theory(inputs, quality, cv):
    """Mean value and sd CV x value, within 4 standard errors for n draws."""
    n = 40000
    product = {"statistic": "A", "literature": "B", "estimate": "C"}[quality]
    out = sampling.sample_inputs(inputs, None, np.arange(n), seed=5)
    x = out.production.sel(product=product, year=2002).values
    v = float(inputs.production.sel(product=product, year=2002))
    sd = cv * v
    assert abs(x.mean() - v) < 4 * sd / np.sqrt(n)
    # sd of the sample sd of a normal: sd / sqrt(2 (n - 1))
    assert abs(x.std(ddof=1) - sd) < 4 * sd / np.sqrt(2 * (n - 1))


def test_unknown_input_and_missing_flag(inputs):
    with pytest.raises(ScenarioError, match="uncertainty.inputs"):
        sampling.uncertain_inputs(inputs, scen(inputs=["production", "nonsense"]))
    with pytest.raises(ValidationError, match="q_production"):
        sampling.draw_factors(inputs.drop_vars("q_production"), None, np.arange(3), 1)
    bad = inputs.copy()
    bad["q_nd_content"] = ("product", np.array(["estimate", "guess", "estimate"]))
    with pytest.raises(ValidationError, match="guess"):
        sampling.draw_factors(bad, None, np.arange(3), 1)


def test_series_key_depends_on_label_not_position(inputs):
    """Reordering products does not change a product's draws."""
    a = sampling.sample_inputs(inputs, None, np.arange(10), seed=9)
    b = sampling.sample_inputs(inputs.isel(product=[2, 0, 1]), None, np.arange(10), seed=9)
    assert np.array_equal(
        a.production.sel(product="C").values, b.production.sel(product="C").values
    )


def test_regressors_columns(inputs):
    f = sampling.draw_factors(inputs, None, np.arange(30), seed=1)
    x = sampling.regressors(f)
    labels = list(x.input.values)
    # A's adoption and B's nd_content are exactly 1: not sampled, not regressors
    assert "adoption_rate[A]" not in labels and "nd_content[B]" not in labels
    assert "production[C]" in labels
    np.testing.assert_allclose(
        x.sel(input="production[C]").values,
        f["production"].sel(product="C", year=2000).values,
        rtol=1e-15,
    )
    # same columns for a one-draw chunk
    assert (
        list(sampling.regressors(sampling.draw_factors(inputs, None, [3], 1)).input.values)
        == labels
    )


def test_mean_over_years_added_in_year_order():
    """The regressors' mean over years: Python's own left-to-right sum, then / n, bit for
    bit, for factors laid out as a chunk's (draws fastest) and in C order."""
    rng = np.random.default_rng(3)
    x = rng.lognormal(size=(5, 7, 40)).transpose(2, 0, 1)  # (draw, series, year)
    x[0, 0, :] = [0.1, 1e16, 0.3, -1e16, 0.7, 0.2, 0.4]  # the order of the sums shows
    for arr, axis in ((x, 2), (np.ascontiguousarray(x), 2), (x[:, 3, :], 1), (x, 1)):
        got = sampling._mean_in_order(arr, axis)
        by = np.moveaxis(arr, axis, -1)
        want = np.empty(by.shape[:-1])
        for idx in np.ndindex(*by.shape[:-1]):
            total = by[idx][0]
            for v in by[idx][1:]:
                total = total + v  # numpy float64 addition, one at a time
            want[idx] = total / by.shape[-1]
        np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))


def test_regressors_of_two_dims_in_c_order_by_hand():
    """Factors over (source, product) and over a dim without labels: one column per element,
    the last dim fastest, labelled by hand; the 'sampled' mask drops a column."""
    import xarray as xr

    f = xr.DataArray(
        np.arange(12.0).reshape(2, 2, 3),
        dims=("draw", "source", "product"),
        coords={"draw": [0, 1], "source": ["s1", "s2"], "product": ["A", "B", "C"]},
    )
    f.attrs["sampled"] = xr.DataArray(
        [[True, True, True], [True, False, True]], dims=("source", "product")
    )
    g = xr.DataArray(np.array([[1.0, 2.0], [3.0, 4.0]]), dims=("draw", "slot"))
    x = sampling.regressors({"share": f, "k": g})
    assert list(x.input.values) == [
        "share[s1,A]", "share[s1,B]", "share[s1,C]", "share[s2,A]", "share[s2,C]",
        "k[0]", "k[1]",
    ]  # fmt: skip
    np.testing.assert_array_equal(
        x.values, [[0.0, 1.0, 2.0, 3.0, 5.0, 1.0, 2.0], [6.0, 7.0, 8.0, 9.0, 11.0, 3.0, 4.0]]
    )


def test_scenario_parameter_factors(inputs):
    out = sampling.sample_inputs(
        inputs, scen(inputs=["growth_rates", "gompertz"], cv={"gompertz": 0.2}), np.arange(8000), 6
    )
    g = out.growth_rate_factor
    assert g.dims == ("draw", "product")
    assert abs(float(g.mean()) - 1) < 4 * 0.1 / np.sqrt(8000)
    assert abs(float(g.std("draw").sel(product="A")) - 0.1) < 0.005
    # the ownership-curve draws: N(1, cv^2) factors, z = factor - 1 (cv 0.2 here, 1 by default)
    assert abs(float(out.gompertz_z2.std("draw").sel(product="B")) - 0.2) < 0.01
    a, b = out.gompertz_z1.values, out.gompertz_z3.values
    assert not np.array_equal(a, b)
    default = sampling.sample_inputs(inputs, scen(inputs=["gompertz"]), np.arange(8000), 6)
    assert abs(float(default.gompertz_z1.std("draw").sel(product="A")) - 1.0) < 0.03
    assert "growth_rate" in inputs and "growth_rate" in out and "draw" not in out.growth_rate.dims


def test_missing_years_without_flag(inputs):
    """Padded years (NaN value, empty flag) are allowed and do not stop a 1-share staying 1."""
    ds = inputs.reindex(year=np.arange(2000, 2008))
    for name in ("production", "adoption_rate"):
        ds[f"q_{name}"] = ds[f"q_{name}"].fillna("").astype(str)
    out = sampling.sample_inputs(ds, None, np.arange(500), seed=1)
    a = out.adoption_rate.sel(product="A")
    assert np.all(a.sel(year=slice(2000, 2004)).values == 1.0)
    assert np.all(np.isnan(a.sel(year=slice(2005, 2007)).values))
    bad = ds.copy()
    bad["q_production"] = bad.q_production.where(bad.year != 2001, "")
    with pytest.raises(ValidationError, match="q_production"):
        sampling.draw_factors(bad, None, np.arange(3), 1)


def test_final_trade_keeps_its_share_of_production_in_every_draw():
    """A draw with low production must not export more than it makes.

    Oracle: the export share of production in units, E_p / P, is the data's
    share in every draw, computed here with plain numpy on the arrays; a draw
    of the content or the adoption does not touch trade in units.
    """
    import xarray as xr

    from ndsim.sampling import apply_factors

    years = [2000, 2001]
    products = ["A", "B"]
    coords = {"product": products, "year": years}
    inputs = xr.Dataset(
        {
            "production": (("product", "year"), np.array([[10.0, 20.0], [5.0, 0.0]])),
            "nd_content": (("product",), np.array([2.0, 3.0])),
            "adoption_rate": (("product", "year"), np.array([[1.0, 0.5], [1.0, 1.0]])),
            "units_exports": (("product", "year"), np.array([[9.0, 10.0], [3.0, 0.0]])),
            "units_imports": (("product", "year"), np.array([[1.0, 2.0], [0.0, 0.0]])),
        },
        coords=coords,
    )
    f = xr.DataArray(
        np.array([[0.5, 0.9], [1.2, 0.7]]),
        dims=("draw", "product"),
        coords={"draw": [0, 1], "product": products},
    )
    g = xr.DataArray(np.array([0.8, 1.3]), dims="draw", coords={"draw": [0, 1]})
    out = apply_factors(inputs, {"production": f, "nd_content": g * xr.ones_like(f)})
    p = inputs.production.values
    for d in range(2):
        p_d = p * f.values[d][:, None]
        for name in ("units_exports", "units_imports"):
            got = out[name].sel(draw=d).values
            want = np.where(
                p > 0, inputs[name].values * p_d / np.where(p > 0, p, 1), inputs[name].values
            )
            np.testing.assert_allclose(got, want, rtol=1e-12)
        assert (p_d - out.units_exports.sel(draw=d).values >= 0).all()


def test_apply_factors_multiplies_by_label_whatever_the_factors_order():
    """Factors on the input's own labels, and the same factors with products in another
    order: both scale each (draw, product, year) by its own factor (numpy oracle)."""
    import xarray as xr

    products, years = ["A", "B", "C"], [2000, 2001]
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    inputs = xr.Dataset(
        {"nd_content": (("product", "year"), x)}, coords={"product": products, "year": years}
    )
    f = np.arange(1.0, 13.0).reshape(2, 3, 2) / 4.0  # (draw, product, year)
    same = xr.DataArray(
        f,
        dims=("draw", "product", "year"),
        coords={"draw": [0, 1], "product": products, "year": years},
    )
    flipped = same.isel(product=[2, 0, 1])  # labels C, A, B
    for factors in (same, flipped):
        out = sampling.apply_factors(inputs, {"nd_content": factors})["nd_content"]
        assert out.dims == ("draw", "product", "year")
        got = out.transpose("draw", "product", "year").sel(product=products).values
        np.testing.assert_array_equal(got, f * x[None])


def test_sampled_exports_never_exceed_production():
    """Exports at 95 % of production, sampled with a CV of 10 % (quality estimate) on top of
    production's own draw: the factor is truncated at 1 / max(E / P), so no draw sells a
    negative number of units into use; and the truncation is where it should be.
    """
    import xarray as xr

    years = [2000, 2001, 2002]
    coords = {"product": ["A"], "year": years}
    p = np.array([[100.0, 200.0, 300.0]])
    e = np.array([[50.0, 190.0, 150.0]])  # the largest share, 0.95, in 2001
    inputs = xr.Dataset(
        {
            "production": (("product", "year"), p),
            "units_exports": (("product", "year"), e),
            "q_production": (("product", "year"), np.full((1, 3), "statistic")),
            "q_units_exports": (("product", "year"), np.full((1, 3), "estimate")),
        },
        coords=coords,
    )

    sc = scen(inputs=("production", "final_trade"))
    factors = sampling.draw_factors(inputs, sc, np.arange(4000), seed=3)
    f_e = factors["units_exports"].sel(product="A").values
    assert f_e.max() <= 1 / 0.95 + 1e-12
    assert f_e.max() > 1.04  # the bound is reached, not a cap far below it
    out = sampling.apply_factors(inputs, factors)
    sales = out["production"] - out["units_exports"]
    assert float(sales.min()) >= -1e-9


@pytest.mark.parametrize("per_year", [False, True])
def test_plain_array_factors_give_the_labelled_sample(inputs, per_year):
    """The chunks' factors on plain arrays scale the inputs as the labelled factors do.

    The labelled path matches each factor to its input by label with xarray; the array
    path lays the factors out by the plan. Both must give the same sampled inputs (with
    scenario parameters added) and the same regressors, bit for bit.
    """
    sc = scen(
        inputs=["production", "nd_content", "adoption_rate", "growth_rates"], per_year=per_year
    )
    plan = sampling.factor_plan(inputs, sc)
    draws = np.array([0, 5, 6, 41])
    labelled = sampling.factors_from_plan(plan, draws, 9)
    expected = sampling.apply_factors(inputs, labelled)
    arrays = sampling.factor_arrays(plan, draws, 9)
    reg = arrays.regressors()
    got = sampling.apply_factors(inputs, arrays)
    xr.testing.assert_identical(got, expected)
    assert list(got.data_vars) == list(expected.data_vars)
    assert "growth_rate_factor" in got and got["production"].dims == ("draw", "product", "year")
    np.testing.assert_array_equal(reg, sampling.regressors(labelled).values)
    assert reg.shape[0] == 4 and reg.shape[1] >= 3
    assert not arrays.tables  # used up: its factors became the sampled variables
    # the regressors are each series' factor (its mean over years per year), by hand
    f = labelled["production"].sel(product="B").values  # (draw, year)
    col = list(sampling.regressors(labelled).input.values).index("production[B]")
    mean = f[:, 0].copy()
    for t in range(1, f.shape[1]):
        mean += f[:, t]
    np.testing.assert_array_equal(reg[:, col], mean / f.shape[1])


def test_saltelli_design_rows(inputs):
    """A rows are the ensemble's draws, AB_i differs from A in series i only (taken from B)."""
    plan = sampling.factor_plan(inputs, None)
    groups = sampling.saltelli_groups(plan)
    labels = [g[2] for g in groups]
    # the Sobol inputs are the regressors (sampled series), with the same labels
    reg = sampling.regressors(sampling.draw_factors(inputs, None, np.arange(3), 5))
    assert labels == list(reg.input.values)
    k, n = len(groups), 4
    m = k + 2
    rows = np.arange(n * m)
    f = sampling.saltelli_factors(plan, groups, rows, 5)
    plain = sampling.draw_factors(inputs, None, np.arange(n), 5)
    reg_rows = sampling.regressors(f).values.reshape(n, m, k)
    for name in f:
        a = f[name].values.reshape(n, m, *f[name].shape[1:])
        np.testing.assert_array_equal(a[:, 0], plain[name].values)  # A = draws 0..n-1
    A, B = reg_rows[:, 0], reg_rows[:, 1]
    assert (A != B).all()
    for i in range(k):
        ab = reg_rows[:, 2 + i]
        np.testing.assert_array_equal(ab[:, i], B[:, i])
        others = np.arange(k) != i
        np.testing.assert_array_equal(ab[:, others], A[:, others])
    # each row depends only on (seed, row): any split gives the same factors
    part = sampling.saltelli_factors(plan, groups, rows[7:13], 5)
    for name in f:
        np.testing.assert_array_equal(part[name].values, f[name].values[7:13])


def test_saltelli_design_needs_one_factor_per_series(inputs):
    with pytest.raises(ScenarioError, match="per_year"):
        sampling.saltelli_groups(
            sampling.factor_plan(inputs, scen(per_year=True)), scen(per_year=True)
        )


def test_flat_columns_are_xarrays_broadcast(rng):
    """A plan's flat columns: a.broadcast_like(x) in x's dim order, whether a's labels are
    x's (numpy broadcasting), in another order (xarray aligns them) or absent."""
    x = xr.DataArray(
        rng.random((3, 4, 5)),
        dims=("product", "year", "source"),
        coords={"product": list("abc"), "year": np.arange(2000, 2004), "source": np.arange(5)},
    )
    cases = [
        xr.DataArray(
            rng.random((5, 3)), dims=("source", "product"), coords={"product": list("abc")}
        ),
        xr.DataArray(np.arange(4), dims=("year",), coords={"year": np.arange(2000, 2004)}),
        xr.DataArray(rng.random(3), dims=("product",), coords={"product": list("cab")}),
        xr.DataArray(rng.random((3, 4)), dims=("product", "year")),
        xr.DataArray(2.5),
    ]
    for a in cases:
        want = a.broadcast_like(x).transpose(*x.dims).values.reshape(-1).astype(float)
        got = sampling._flat_like(a, x)
        assert got.dtype == np.float64 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)
    # labels in another order are aligned, not taken by position
    flat = sampling._flat_like(cases[2], x).reshape(x.shape)
    assert flat[0, 0, 0] == cases[2].sel(product="a").item()
