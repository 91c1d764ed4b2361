"""Numba kernels: discrete lifetime distributions by age from their parameters.

A lifetime distribution becomes a discrete probability of retiring at age
``a`` (a = 0, 1, ..., m - 1 whole years after the inflow year):

    f(a) = S(a - 1) - S(a),   S(-1) = 1,   S(a) = P(X > a + shift)

with ``X`` the continuous lifetime [yr] and ``shift`` the timing offset
(0 for products that enter at the end of their inflow year, 0.5 for
products that enter mid-year; see :mod:`ndsim.lifetime`). Each age is
evaluated once (age-indexed), never on a year x cohort triangle.

Model codes (``model`` argument) and their two parameters ``p1, p2``:

=====  ===========  ====================  ==========================
code   model        p1                    p2
=====  ===========  ====================  ==========================
0      fixed        lifetime L [yr]       (unused)
1      normal       mean [yr]             standard deviation [yr]
2      lognormal    mean of X [yr]        standard deviation of X [yr]
3      weibull      shape k [-]           scale lambda [yr]
=====  ===========  ====================  ==========================

Accuracy: below the median the differences are taken of the cumulative
distribution F and above it of the survival function S, each evaluated with
``erfc`` / ``expm1``, so small probabilities in either tail keep their full
relative precision (a difference of two numbers near 1 would lose it).

This module imports only numpy, numba and math.
"""

from __future__ import annotations

import math

import numpy as np
from numba import guvectorize, njit

MODEL_FIXED = 0
MODEL_NORMAL = 1
MODEL_LOGNORMAL = 2
MODEL_WEIBULL = 3

#: model name -> kernel code, for the models the kernels evaluate themselves
MODEL_CODES = {
    "fixed": MODEL_FIXED,
    "normal": MODEL_NORMAL,
    "lognormal": MODEL_LOGNORMAL,
    "weibull": MODEL_WEIBULL,
}

_SQRT1_2 = 1.0 / math.sqrt(2.0)

# ln(x) at the year ends x = a (a >= 1) and x = a + 1/2, looked up instead of
# computed per series: the Weibull and log-normal kernels then need one exp
# (resp. one erfc) per age, not a pow or log besides
_N_LOG = 1024
_LOG_END = np.log(np.arange(1, _N_LOG + 1, dtype=np.float64))  # ln(a), index a - 1
_LOG_MID = np.log(np.arange(_N_LOG, dtype=np.float64) + 0.5)  # ln(a + 1/2), index a


@njit(cache=True, nogil=True)
def _log_age(a, shift):
    """ln(a + shift) for a >= 0 and a + shift > 0."""
    if shift == 0.0 and 1 <= a <= _N_LOG:
        return _LOG_END[a - 1]
    if shift == 0.5 and a < _N_LOG:
        return _LOG_MID[a]
    return math.log(a + shift)


@njit(cache=True, nogil=True)
def pdf_from_params(model, p1, p2, shift, pdf):
    """Write the discrete lifetime pdf f(a), a = 0..m-1, into ``pdf``.

    Parameters
    ----------
    model : int
        Model code (0 fixed, 1 normal, 2 lognormal, 3 weibull).
    p1, p2 : float
        Parameters of the model (see the module docstring).
    shift : float
        Timing offset [yr]: 0.0 ("end"), 0.5 ("middle"). Ignored by ``fixed``.
    pdf : ndarray, shape (m,)
        Output [1]; NaN everywhere when a parameter is NaN.

    Notes
    -----
    ``fixed`` splits a fractional lifetime linearly between the two
    neighbouring ages, f(floor L) = 1 - (L - floor L), f(floor L + 1) =
    L - floor L, which is what a fixed lifetime gives when inflows spread
    evenly over the year; a whole-year L retires at age L whatever the
    timing.
    """
    m = pdf.shape[0]
    if math.isnan(p1) or math.isnan(p2) or math.isnan(shift):
        for a in range(m):
            pdf[a] = np.nan
        return
    for a in range(m):
        pdf[a] = 0.0
    if model == MODEL_FIXED:
        if p1 >= m:  # retires beyond the last age (also L = inf)
            return
        lo = math.floor(p1)
        frac = p1 - lo
        ilo = int(lo)
        if 0 <= ilo < m:
            pdf[ilo] = 1.0 - frac
        if frac > 0.0 and 0 <= ilo + 1 < m:
            pdf[ilo + 1] = frac
        return
    prev_cdf = 0.0
    prev_sf = 1.0
    if model == MODEL_NORMAL:
        inv = _SQRT1_2 / p2
        for a in range(m):
            z = (a + shift - p1) * inv
            if z <= 0.0:
                cdf = 0.5 * math.erfc(-z)
                sf = 1.0 - cdf
                pdf[a] = cdf - prev_cdf
            else:
                sf = 0.5 * math.erfc(z)
                cdf = 1.0 - sf
                pdf[a] = prev_sf - sf
            prev_cdf = cdf
            prev_sf = sf
    elif model == MODEL_LOGNORMAL:
        sigma2 = math.log1p((p2 / p1) * (p2 / p1))
        mu = math.log(p1) - 0.5 * sigma2
        inv = _SQRT1_2 / math.sqrt(sigma2)
        for a in range(m):
            x = a + shift
            if x <= 0.0:
                cdf = 0.0
                sf = 1.0
            else:
                z = (_log_age(a, shift) - mu) * inv
                if z <= 0.0:
                    cdf = 0.5 * math.erfc(-z)
                    sf = 1.0 - cdf
                else:
                    sf = 0.5 * math.erfc(z)
                    cdf = 1.0 - sf
            if cdf <= 0.5:
                pdf[a] = cdf - prev_cdf
            else:
                pdf[a] = prev_sf - sf
            prev_cdf = cdf
            prev_sf = sf
    elif model == MODEL_WEIBULL:
        log_scale = math.log(p2)
        for a in range(m):
            x = a + shift
            if x <= 0.0:
                cdf = 0.0
                sf = 1.0
            else:
                u = math.exp(p1 * (_log_age(a, shift) - log_scale))  # (x / scale)^shape
                if u <= 0.6931471805599453:  # F <= 0.5
                    cdf = -math.expm1(-u)
                    sf = 1.0 - cdf
                else:
                    sf = math.exp(-u)
                    cdf = 1.0 - sf
            if cdf <= 0.5:
                pdf[a] = cdf - prev_cdf
            else:
                pdf[a] = prev_sf - sf
            prev_cdf = cdf
            prev_sf = sf
    else:
        for a in range(m):
            pdf[a] = np.nan


def _pdf_params_py(model, p1, p2, shift, ages, pdf):
    """gufunc ``(),(),(),(),(m)->(m)``: the pdf of :func:`pdf_from_params`.

    ``ages`` only gives the number of ages m (its values are not read).
    """
    pdf_from_params(model, p1, p2, shift, pdf)


pdf_params = guvectorize(
    ["void(int64, float64, float64, float64, float64[:], float64[:])"],
    "(),(),(),(),(m)->(m)",
    nopython=True,
    cache=True,
)(_pdf_params_py)
