"""Numba stock kernels against plain-Python oracles and closed forms.

The oracles below are written independently of the kernels: the year x
cohort sums of the textbook formulas, with explicit cohort bookkeeping.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra.numpy import arrays

from ndsim.kernels import stock as K
from ndsim.kernels.lifetime import MODEL_CODES, pdf_params

NONE = np.empty(0)
NAN_HIST = None  # built per length


def _no_history(n):
    return np.full(n, np.nan)


# --- oracles --------------------------------------------------------------------


def oracle_inflow_driven(inflow, pdf, init=()):
    """Year x cohort double sum; initial cohorts scaled by their survival."""
    n, m = len(inflow), len(pdf)

    def f(a):
        return pdf[a] if 0 <= a < m else 0.0

    def surv(a):
        return 1.0 - sum(f(j) for j in range(a + 1))

    out = [0.0] * n
    for t in range(n):
        for c in range(t + 1):
            out[t] += inflow[c] * f(t - c)
        for a, s_a in enumerate(init):
            out[t] += s_a * f(t + 1 + a) / surv(a)
    stock = []
    s = sum(init)
    for t in range(n):
        s += inflow[t] - out[t]
        stock.append(s)
    return np.array(out), np.array(stock)


def _scipy_pdf(dist, n, shift):
    """The kernels' pdf rule with scipy's cdf/sf, and the last age before S < 2**-64."""
    x = np.arange(n) + shift
    cdf, sf = dist.cdf(x), dist.sf(x)
    exact = np.where(
        cdf <= 0.5,
        cdf - np.concatenate([[0.0], cdf[:-1]]),
        np.concatenate([[1.0], sf[:-1]]) - sf,
    )
    cut = sf < 2.0**-64
    return exact, (int(np.argmax(cut)) if cut.any() else n - 1)


def oracle_stock_driven(target, pdf, policy):
    """Explicit cohorts: each cohort's remaining stock and retirements tracked one by one."""
    n, m = len(target), len(pdf)
    surv = [1.0 - sum(pdf[: a + 1]) for a in range(n)]
    cohorts = []  # [year, inflow, scale factor from early retirements]
    inflow, outflow, stock, unmet, early = (np.zeros(n) for _ in range(5))
    for t in range(n):

        def remaining(c, t=t):
            y, x, k = c
            return x * k * surv[t - y]

        def retiring(c, t=t):
            y, x, k = c
            return x * k * (pdf[t - y] if t - y < m else 0.0)

        prev = sum(c[1] * c[2] * surv[t - 1 - c[0]] for c in cohorts) if t else 0.0
        old_out = sum(retiring(c) for c in cohorts)
        need = (target[t] - prev + old_out) / surv[0]
        if need >= 0:
            cohorts.append([t, need, 1.0])
            inflow[t] = need
            outflow[t] = old_out + need * pdf[0]
        else:
            outflow[t] = old_out
            if policy == "retire_early":
                left = sum(remaining(c) for c in cohorts)
                k = target[t] / left
                early[t] = left - target[t]
                outflow[t] += early[t]
                for c in cohorts:
                    c[2] *= k
        stock[t] = sum(remaining(c) for c in cohorts)
        if policy == "clip":
            unmet[t] = max(stock[t] - target[t], 0.0)
    return inflow, outflow, stock, unmet, early


def normal_pdf(n, mean=6.0, sd=2.0):
    return pdf_params(MODEL_CODES["normal"], mean, sd, 0.0, np.zeros(n))


# --- inflow-driven --------------------------------------------------------------


def test_inflow_driven_matches_double_sum(rng):
    for _ in range(5):
        n = int(rng.integers(1, 30))
        inflow = rng.uniform(0, 100, n)
        pdf = rng.dirichlet(np.ones(int(rng.integers(1, 40)))) * rng.uniform(0.5, 1.0)
        out, stock = K.inflow_driven(inflow, pdf, NONE)
        ref_out, ref_stock = oracle_inflow_driven(inflow, pdf)
        np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(stock, ref_stock, rtol=1e-12, atol=1e-10)


def test_python_kernel_equals_compiled(rng):
    inflow, pdf = rng.uniform(0, 5, 12), normal_pdf(12)
    out_py, stock_py = np.empty(12), np.empty(12)
    K._inflow_driven_py(inflow, pdf, NONE, out_py, stock_py)
    out, stock = K.inflow_driven(inflow, pdf, NONE)
    np.testing.assert_allclose(out_py, out, rtol=1e-14)
    np.testing.assert_allclose(stock_py, stock, rtol=1e-14)


def test_fixed_lifetime_is_a_shift(rng):
    inflow = rng.uniform(0, 10, 20)
    for lifetime in (0, 1, 4, 19, 25):
        pdf = np.zeros(30)
        if lifetime < 30:
            pdf[lifetime] = 1.0
        out, stock = K.inflow_driven(inflow, pdf, NONE)
        expected = np.concatenate([np.zeros(lifetime), inflow])[:20]
        np.testing.assert_array_equal(out, expected)
        if lifetime >= 1:
            assert stock[0] == inflow[0]  # S(first year) = F_in(first year)


def test_infinite_lifetime_is_a_cumulative_sum(rng):
    inflow = rng.uniform(0, 10, 25)
    out, stock = K.inflow_driven(inflow, np.zeros(25), NONE)
    np.testing.assert_array_equal(out, 0.0)
    np.testing.assert_allclose(stock, np.cumsum(inflow), rtol=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    a=arrays(np.float64, 15, elements=hst.floats(-1e3, 1e3)),
    b=arrays(np.float64, 15, elements=hst.floats(-1e3, 1e3)),
    alpha=hst.floats(-10, 10),
)
def test_linear_in_inflow(a, b, alpha):
    pdf = normal_pdf(15)
    oa, sa = K.inflow_driven(a, pdf, NONE)
    ob, sb = K.inflow_driven(b, pdf, NONE)
    oc, sc = K.inflow_driven(alpha * a + b, pdf, NONE)
    scale = 1e-9 * (1 + np.abs(alpha * a).sum() + np.abs(b).sum())
    np.testing.assert_allclose(oc, alpha * oa + ob, atol=scale)
    np.testing.assert_allclose(sc, alpha * sa + sb, atol=scale)


def test_initial_stock_matches_oracle_and_conserves_mass(rng):
    n = 15
    pdf = normal_pdf(n + 5, mean=5.0, sd=2.0)
    inflow = rng.uniform(0, 10, n)
    init = rng.uniform(0, 20, 4)
    out, stock = K.inflow_driven(inflow, pdf, init)
    ref_out, ref_stock = oracle_inflow_driven(inflow, pdf, init)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12)
    np.testing.assert_allclose(stock, ref_stock, rtol=1e-12)
    # cumulative inflow + initial stock = stock + cumulative outflow
    np.testing.assert_allclose(np.cumsum(inflow) + init.sum(), stock + np.cumsum(out), rtol=1e-12)


def test_initial_stock_of_a_fixed_lifetime_retires_on_schedule():
    pdf = np.zeros(10)
    pdf[3] = 1.0  # L = 3: stock of age a at year -1 retires in year 2 - a
    init = np.array([5.0, 7.0, 11.0])
    out, stock = K.inflow_driven(np.zeros(6), pdf, init)
    np.testing.assert_array_equal(out, [11.0, 7.0, 5.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(stock, [12.0, 5.0, 0.0, 0.0, 0.0, 0.0])


def test_initial_stock_beyond_the_distribution_retires_in_the_first_year():
    pdf = np.zeros(10)
    pdf[1] = 1.0  # nothing survives age 1, yet there is stock aged 3
    out, _ = K.inflow_driven(np.zeros(4), pdf, np.array([0.0, 0.0, 0.0, 2.0]))
    np.testing.assert_array_equal(out, [2.0, 0.0, 0.0, 0.0])


def test_stock_by_cohort_sums_to_stock(rng):
    n = 12
    pdf = normal_pdf(n + 4, 4.0, 1.5)
    inflow = rng.uniform(0, 10, n)
    init = rng.uniform(0, 3, 3)
    sbc = K.stock_by_cohort(inflow, pdf, init, np.zeros(n + 3))
    _, stock = K.inflow_driven(inflow, pdf, init)
    np.testing.assert_allclose(sbc.sum(axis=1), stock, rtol=1e-12)
    surv = 1.0 - np.cumsum(pdf)
    # a model cohort: inflow x survival at its age; zero before it enters
    c = 5
    np.testing.assert_allclose(sbc[c:, 3 + c], inflow[c] * surv[: n - c], rtol=1e-12)
    np.testing.assert_array_equal(sbc[:c, 3 + c], 0.0)


# --- stock-driven ---------------------------------------------------------------


def test_stock_driven_inverts_inflow_driven(rng):
    n = 40
    pdf = normal_pdf(n, 8.0, 3.0)
    inflow = rng.uniform(1, 100, n)
    _, stock = K.inflow_driven(inflow, pdf, NONE)
    x, out, s, unmet = K.stock_driven(stock, pdf, NONE, _no_history(n), K.POLICY_CLIP)
    np.testing.assert_allclose(x, inflow, rtol=1e-9)
    np.testing.assert_allclose(s, stock, rtol=1e-12)
    assert unmet.max() <= 1e-9 * stock.max()


@pytest.mark.parametrize("policy", ["clip", "retire_early"])
def test_stock_driven_matches_cohort_oracle(rng, policy):
    n = 30
    pdf = normal_pdf(n, 7.0, 2.5)
    # rise, then a fall faster than retirements, then rise again
    target = np.concatenate(
        [np.linspace(10, 100, 12), np.linspace(90, 20, 8), np.linspace(25, 60, 10)]
    )
    res = K.stock_driven(target, pdf, NONE, _no_history(n), K.POLICIES[policy])
    inflow, outflow, stock, unmet, early = oracle_stock_driven(target, pdf, policy)
    gap = unmet if policy == "clip" else early
    assert gap.max() > 0  # the case does trigger the policy
    for got, exp in zip(res, (inflow, outflow, stock, gap), strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-9)


def test_clip_keeps_its_promises():
    n = 25
    pdf = normal_pdf(n, 6.0, 2.0)
    target = np.concatenate([np.linspace(10, 100, 10), np.full(5, 20.0), np.linspace(20, 80, 10)])
    x, out, s, unmet = K.stock_driven(target, pdf, NONE, _no_history(n), K.POLICY_CLIP)
    assert (x >= 0).all()
    assert x[10] == 0.0 and unmet[10] > 0  # the drop to 20 cannot be met by retirements
    np.testing.assert_allclose(unmet, np.maximum(s - target, 0), atol=1e-9)
    np.testing.assert_allclose(s[unmet == 0], target[unmet == 0], rtol=1e-12)
    balance = np.diff(np.concatenate([[0.0], s])) - (x - out)
    assert np.abs(balance).max() <= 1e-12 * s.max()


def test_retire_early_keeps_its_promises():
    n = 25
    pdf = normal_pdf(n, 6.0, 2.0)
    target = np.concatenate([np.linspace(10, 100, 10), np.full(5, 20.0), np.linspace(20, 80, 10)])
    x, out, s, early = K.stock_driven(target, pdf, NONE, _no_history(n), 1)
    assert (x >= 0).all() and (early >= 0).all()
    assert early[10] > 0 and x[10] == 0.0
    np.testing.assert_allclose(s, target, rtol=1e-12)  # the stock is met every year
    balance = np.diff(np.concatenate([[0.0], s])) - (x - out)
    assert np.abs(balance).max() <= 1e-12 * s.max()


def test_inflow_history_then_stock_target(rng):
    n = 20
    pdf = normal_pdf(n, 5.0, 2.0)
    inflow = rng.uniform(1, 10, n)
    _, stock = K.inflow_driven(inflow, pdf, NONE)
    hist = np.full(n, np.nan)
    hist[:8] = inflow[:8]
    target = stock.copy()
    target[:8] = np.nan  # ignored in history years
    x, out, s, unmet = K.stock_driven(target, pdf, NONE, hist, 0)
    np.testing.assert_array_equal(x[:8], inflow[:8])
    np.testing.assert_allclose(x, inflow, rtol=1e-9)
    np.testing.assert_allclose(s[:8], stock[:8], rtol=1e-12)


def test_stock_driven_nan_or_negative_target_poisons_later_years():
    pdf = normal_pdf(6)
    x, out, s, *_ = K.stock_driven(
        np.array([1.0, 2.0, -1.0, 3.0, 4.0, 5.0]), pdf, NONE, _no_history(6), 0
    )
    assert np.isfinite(x[:2]).all() and np.isnan(x[2:]).all() and np.isnan(s[2:]).all()


def test_stock_driven_with_initial_stock_conserves_mass(rng):
    n = 15
    pdf = normal_pdf(n + 4, 5.0, 2.0)
    init = rng.uniform(0, 5, 4)
    target = np.linspace(init.sum(), 3 * init.sum(), n)
    x, out, s, unmet = K.stock_driven(target, pdf, init, _no_history(n), 0)
    np.testing.assert_allclose(np.cumsum(x) + init.sum(), s + np.cumsum(out), rtol=1e-12)


# --- fused parameter kernels ------------------------------------------------------


@pytest.mark.parametrize(
    "model,p1,p2",
    [("fixed", 4.4, 0.0), ("normal", 7.0, 2.0), ("lognormal", 7.0, 3.0), ("weibull", 2.2, 8.0)],
)
@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_params_kernels_equal_pdf_kernels(rng, model, p1, p2, shift):
    n, code = 30, MODEL_CODES[model]
    inflow = rng.uniform(0, 10, (3, n))
    init = rng.uniform(0, 2, 4)
    pdf = pdf_params(code, p1, p2, shift, np.zeros(n + 4))
    a = K.inflow_driven_params(inflow, init, code, p1, p2, shift)
    b = K.inflow_driven(inflow, pdf, init)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    hist = _no_history(n)
    a = K.stock_driven_params(b[1], init, hist, code, p1, p2, shift, 1)
    b2 = K.stock_driven(b[1], pdf, init, hist, 1)
    for u, v in zip(a, b2, strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize(
    "model,p1,p2",
    [("fixed", 4.4, 0.0), ("normal", 7.0, 2.0), ("lognormal", 7.0, 3.0), ("weibull", 2.2, 8.0)],
)
def test_pair_kernel_equals_two_params_kernels(rng, model, p1, p2):
    # two inflows with one lifetime (units and Nd): each pair of outputs is the single
    # kernel's, bit for bit, NaN and inf inflows included
    n, code = 30, MODEL_CODES[model]
    inflow = rng.uniform(0, 10, (3, n))
    inflow2 = rng.uniform(0, 1e-3, (3, n))
    inflow2[1, 7] = np.nan
    inflow[2, 3] = np.inf
    init = rng.uniform(0, 2, 4)
    got = K.inflow_driven_pair_params(inflow, inflow2, init, code, p1, p2, 0.5)
    one = K.inflow_driven_params(inflow, init, code, p1, p2, 0.5)
    two = K.inflow_driven_params(inflow2, init, code, p1, p2, 0.5)
    assert len(got) == 4
    for u, v in zip(got, (*one, *two), strict=True):
        np.testing.assert_array_equal(u, v)
    assert np.isnan(got[2][1, 7:]).any() and np.isfinite(got[3][0]).all()


@pytest.mark.parametrize(
    ("model", "p1", "p2"),
    [("normal", 3.0, 0.9), ("lognormal", 3.0, 0.9), ("weibull", 2.0, 3.4)],
)
def test_pdf_tail_below_two_to_minus_64_is_cut_and_nothing_else(model, p1, p2):
    """Ages after S(a) < 2**-64 are 0; every age before equals the exact (scipy) difference."""
    from scipy import stats

    n = 51
    if model == "normal":
        dist = stats.norm(p1, p2)
    elif model == "lognormal":
        s2 = np.log1p((p2 / p1) ** 2)
        dist = stats.lognorm(np.sqrt(s2), scale=p1 * np.exp(-0.5 * s2))
    else:
        dist = stats.weibull_min(p1, scale=p2)
    sf = dist.sf(np.arange(n, dtype=float))
    exact = np.concatenate([[1.0], sf[:-1]]) - sf
    last = int(np.argmax(sf < 2.0**-64))  # first age with S below the cut
    assert 5 < last < n - 5  # the case reaches the cut well inside the horizon
    f = pdf_params(MODEL_CODES[model], p1, p2, 0.0, np.zeros(n))
    np.testing.assert_allclose(f[: last + 1], exact[: last + 1], rtol=1e-12, atol=1e-300)
    assert (f[last + 1 :] == 0.0).all() and exact[last + 1] > 0.0
    # what is left out is below 2**-64 of the cohort
    assert 0.0 < exact[last + 1 :].sum() < 2.0**-64
    # outflows differ from the uncut convolution by less than 2**-64 * sum(inflow)
    inflow = np.linspace(1.0, 3.0, n)
    out_cut = oracle_inflow_driven(inflow, f)[0]
    out_exact = oracle_inflow_driven(inflow, exact)[0]
    assert np.abs(out_cut - out_exact).max() <= 2.0**-64 * inflow.sum() + 1e-13 * out_exact.max()


# --- the Weibull pdf (its exp and expm1: tests/test_kernels_fastmath.py) ---------------


@pytest.mark.parametrize("shift", [0.0, 0.5, 0.25])
def test_weibull_pdf_matches_scipy_to_1e13_relative(shift):
    """Differences of scipy's cdf below the median and of its sf above (same rule)."""
    from scipy import stats

    worst = 0.0
    for shape in np.linspace(0.6, 6.0, 10):
        for scale in (0.8, 2.5, 7.0, 15.0, 30.0):
            n = 70
            f = pdf_params(MODEL_CODES["weibull"], shape, scale, shift, np.zeros(n))
            exact, last = _scipy_pdf(stats.weibull_min(shape, scale=scale), n, shift)
            # 1e-13 where the pdf holds more than 1e-9 of a cohort; in the far tail
            # the rounding of u = (x / scale)**shape ~ 40 (scipy: pow, the kernel: exp of
            # a log) is amplified by exp(-u), and both references drift apart a little
            fk, ek = f[: last + 1], exact[: last + 1]
            assert (fk[ek == 0.0] == 0.0).all()  # age 0 when shift = 0
            fk, ek = fk[ek > 0.0], ek[ek > 0.0]
            rel = np.abs(fk - ek) / ek
            worst = max(worst, rel[ek > 1e-9].max())
            assert rel.max() < 3e-13
            assert (f[last + 1 :] == 0.0).all()
    assert worst < 1e-13


# --- the blocked scatter ------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 8, 9, 23, 51, 64])
def test_blocked_inflow_kernel_equals_the_cohort_by_cohort_oracle(rng, n):
    """Blocks of 8 cohorts, partial last blocks, short and long pdfs."""
    for m in (1, 3, n, n + 5):
        inflow = rng.uniform(0, 10, n)
        pdf = rng.uniform(0, 1, m) * (rng.uniform(0, 1, m) < 0.8)
        pdf /= 1.3 * max(pdf.sum(), 1e-300)
        out, stock = K.inflow_driven(inflow, pdf, NONE)
        ref_out, ref_stock = oracle_inflow_driven(inflow, pdf)
        np.testing.assert_allclose(out, ref_out, rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(stock, ref_stock, rtol=1e-12, atol=1e-12)


def test_nonfinite_inflow_reaches_only_the_years_its_cohort_retires_in(rng):
    """A NaN or inf inflow must not leak into earlier years or past the pdf's last nonzero
    age (the blocked scatter would add NaN * 0 there; such inputs take the plain path,
    which spreads it over the ages 0..8 up to the last nonzero one)."""
    n = 40
    pdf = np.zeros(n)
    pdf[2:9] = 0.1
    for bad in (np.nan, np.inf):
        inflow = rng.uniform(1, 2, n)
        inflow[13] = bad
        out, _ = K.inflow_driven(inflow, pdf, NONE)
        assert np.isfinite(out[:13]).all() and np.isfinite(out[22:]).all()
        assert not np.isfinite(out[15:22]).any()


# --- gufuncs built on first use -------------------------------------------------------


def test_gufuncs_are_built_on_first_use_only(cli_env):
    """A fresh process that imports ndsim and runs the inflow-driven model builds only
    the gufunc it calls; the object keeps its layout without building."""
    import subprocess
    import sys

    code = (
        "import numpy as np, xarray as xr, ndsim\n"
        "from ndsim.kernels import stock as K\n"
        "from ndsim.lifetime import Lifetime\n"
        "assert not any(g.built for g in K._lazy_gufuncs())\n"
        "assert K.stock_driven.signature == '(n),(m),(k),(n),()->(n),(n),(n),(n)'\n"
        "f = xr.DataArray(np.ones((2, 5)), dims=['product', 'year'])\n"
        "ndsim.inflow_driven(f, Lifetime('normal', mean=3.0, sd=1.0))\n"
        "print(sorted(g.__name__ for g in K._lazy_gufuncs() if g.built))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert out.stdout.split("\n")[-2] == "['inflow_driven_params']"


def test_lazy_gufunc_pickles_to_the_module_object_and_calls_like_the_gufunc():
    import pickle

    assert pickle.loads(pickle.dumps(K.inflow_driven)) is K.inflow_driven
    pdf = np.array([0.0, 0.5, 0.5])
    out, stock = K.inflow_driven(np.ones(4), pdf, NONE)
    assert out.tolist() == [0.0, 0.5, 1.0, 1.0]
    assert K.inflow_driven.nin == 3 and K.inflow_driven.nout == 2


def test_stock_driven_zeroes_a_gap_output_holding_garbage(rng):
    """The kernel writes gap only where it is not 0 already (zero pages stay untouched):
    an output holding other values must still come out as 0 where no policy applied."""
    n = 12
    pdf = np.array([0.1, 0.3, 0.3, 0.3])
    target = np.cumsum(rng.uniform(0.5, 1.0, n))
    target[7] = target[6] - 5.0  # one decline the policy must handle
    target[8:] = target[7]
    for policy in (0, 1):
        outs = tuple(np.full(n, np.nan) for _ in range(4))
        K.stock_driven(target, pdf, NONE, _no_history(n), policy, out=outs)
        gap = outs[3]
        assert gap[7] > 0.0 and (gap[:7] == 0.0).all() and np.isfinite(gap).all()
        if policy == 1:  # retire_early: the target is met again from year 8 on
            assert (gap[8:] == 0.0).all()


# --- the normal pdf (its erfc: tests/test_kernels_fastmath.py) --------------------------


@pytest.mark.parametrize("shift", [0.0, 0.5, 0.25])
def test_normal_pdf_matches_scipy_to_1e13_relative(shift):
    """Differences of scipy's cdf below the mean and of its sf above (same rule)."""
    from scipy import stats

    worst = 0.0
    for mean in (0.8, 3.0, 8.0, 15.0, 25.0, 40.0):
        for cv in (0.05, 0.2, 0.3, 0.6, 1.0):
            n = 70
            f = pdf_params(MODEL_CODES["normal"], mean, cv * mean, shift, np.zeros(n))
            exact, last = _scipy_pdf(stats.norm(mean, cv * mean), n, shift)
            fk, ek = f[: last + 1], exact[: last + 1]
            keep = ek > 0.0
            rel = np.abs(fk[keep] - ek[keep]) / ek[keep]
            worst = max(worst, rel[ek[keep] > 1e-9].max())
            assert rel.max() < 3e-13
            assert (f[last + 1 :] == 0.0).all()
    assert worst < 1e-13
