"""The kernels' exp, expm1 and erfc (ndsim.kernels.fastmath) against the math module.

Dense grids over each function's range of full precision, the edges of its
range reduction, and the special values (0, -0, tiny, subnormal, large,
+-inf, NaN), each held to the tolerance the module documents.
"""

from __future__ import annotations

import math

import numpy as np

from ndsim.kernels import fastmath as fm

LN2 = math.log(2.0)
#: smallest normal and smallest subnormal double
TINY = np.finfo(np.float64).tiny
DENORM = 5e-324


def _ulp_diff(got, ref):
    """|got - ref| in units of the last place of ref (ref finite and nonzero)."""
    return np.abs(got - ref) / np.spacing(np.abs(ref))


def _apply(func_into, x):
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    func_into(x, out)
    return out


def _ref(func, x):
    return np.array([func(float(v)) for v in x])


# --- exp ---------------------------------------------------------------------------


def test_exp_within_one_ulp_of_math_exp_on_a_dense_grid():
    y = np.concatenate(
        [
            np.linspace(-708.0, 709.0, 1_000_001),
            np.linspace(-50.0, 5.0, 500_001),  # where the Weibull kernel uses it
            np.linspace(-1e-6, 1e-6, 20_001),
            np.arange(-1021, 1023) * LN2,  # the ends of the range reduction
            np.arange(-1021, 1023) * LN2 * (1 + 2e-16),
            np.arange(-1021, 1023) * LN2 * (1 - 2e-16),
            (np.arange(-1021, 1022) + 0.5) * LN2,  # where round(y / ln 2) switches
            [709.0, 708.0, -708.0, 1.0, -1.0, 0.5, -0.5],
        ]
    )
    y = y[(y >= -708.0) & (y <= 709.0)]
    got = _apply(fm.exp_into, y)
    ref = _ref(math.exp, y)
    assert _ulp_diff(got, ref).max() <= 1.0


def test_exp_of_tiny_arguments_is_one_or_next_to_it():
    y = np.array([0.0, -0.0, DENORM, -DENORM, TINY, -TINY, 1e-300, -1e-300, 1e-17, -1e-17])
    got = _apply(fm.exp_into, y)
    assert (got == _ref(math.exp, y)).all()
    assert got[0] == 1.0 and got[1] == 1.0


def test_exp_with_subnormal_results_within_one_least_subnormal():
    y = np.linspace(-745.2, -708.0, 200_001)
    got = _apply(fm.exp_into, y)
    assert np.abs(got - _ref(math.exp, y)).max() <= DENORM
    assert (got >= 0.0).all()


def test_exp_out_of_range_is_clamped_and_nan_stays_nan():
    y = np.array([-np.inf, -1e300, -1e4, -1000.5, 709.5, 710.0, 1e4, 1e300, np.inf, np.nan])
    got = _apply(fm.exp_into, y)
    assert (got[:4] == 0.0).all()
    assert (got[4:9] == math.exp(709.0)).all()  # y > 709 is taken as 709, +inf included
    assert math.isnan(got[9])


# --- expm1 ---------------------------------------------------------------------------


def test_expm1_neg_within_one_ulp_of_math_expm1_on_a_dense_grid():
    x = -np.concatenate(
        [
            np.linspace(0.0, LN2, 1_000_001),
            LN2 * np.logspace(-320.0, 0.0, 100_001),  # down to subnormal arguments
            [0.5 * LN2, LN2, LN2 * (1 - 2e-16), 0.5 * LN2 * (1 + 2e-16), 0.5 * LN2 * (1 - 2e-16)],
        ]
    )
    got = _apply(fm.expm1_neg_into, x)
    ref = _ref(math.expm1, x)
    nz = ref != 0.0
    assert _ulp_diff(got[nz], ref[nz]).max() <= 1.0
    assert (got[~nz] == 0.0).all()


def test_expm1_neg_keeps_tiny_arguments_and_nan():
    x = np.array([-0.0, 0.0, -DENORM, -TINY, -1e-300, -1e-17, np.nan])
    got = _apply(fm.expm1_neg_into, x)
    assert got[:2].tolist() == [0.0, 0.0]
    assert got[2:6].tolist() == x[2:6].tolist()  # expm1(x) = x to the last bit
    assert math.isnan(got[6])


# --- erfc ----------------------------------------------------------------------------


def test_erfc_pos_within_6_ulp_of_math_erfc_on_a_dense_grid():
    x = np.concatenate(
        [
            np.linspace(0.0, 26.0, 1_000_001),
            np.linspace(0.0, 7.0, 500_001),  # where the normal kernel uses it
            np.logspace(-320.0, 0.0, 20_001),  # tiny arguments: erfc near 1
            [0.0, 0.5, 1.0, 2.0, 6.4, 26.0],
        ]
    )
    got = _apply(fm.erfc_pos_into, x)
    ref = _ref(math.erfc, x)
    assert _ulp_diff(got, ref).max() <= 6.0


def test_erfc_pos_within_4_ulp_of_the_exact_value_in_a_sample():
    import mpmath

    rng = np.random.default_rng(13)
    x = np.concatenate([rng.uniform(0.0, 26.0, 1500), rng.uniform(0.0, 7.0, 1500)])
    got = _apply(fm.erfc_pos_into, x)
    with mpmath.workdps(40):
        exact = np.array([float(mpmath.erfc(mpmath.mpf(float(v)))) for v in x])
    assert _ulp_diff(got, exact).max() <= 4.0


def test_erfc_pos_in_the_far_tail_and_beyond():
    # [26, 27]: 6 ulp of math.erfc for normal results, two least subnormals below (x > 26.55)
    x = np.linspace(26.0, 27.0, 100_001)
    got = _apply(fm.erfc_pos_into, x)
    ref = _ref(math.erfc, x)
    normal = ref >= TINY
    assert 0 < normal.sum() < x.size
    assert _ulp_diff(got[normal], ref[normal]).max() <= 6.0
    assert np.abs(got[~normal] - ref[~normal]).max() <= 2 * DENORM
    # x > 27 (+inf included) is taken as 27; NaN stays NaN
    y = np.array([27.0, 27.5, 30.0, 1e300, np.inf, np.nan])
    got = _apply(fm.erfc_pos_into, y)
    assert (got[:5] == math.erfc(27.0)).all() and got[0] > 0.0
    assert math.isnan(got[5])


def test_erfc_pos_of_zero_and_tiny_arguments_is_one():
    x = np.array([0.0, -0.0, DENORM, TINY, 1e-300, 1e-17])
    assert (_apply(fm.erfc_pos_into, x) == 1.0).all()
