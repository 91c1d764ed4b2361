"""Numba kernels of the dynamic stock model (cohort convolution and its inverse).

Every kernel works on one series (one product of one draw) with the years
along the last axis and is compiled as a generalized ufunc, so numpy
broadcasts it over any leading dimensions (``draw``, ``product``, ...).
The undecorated Python functions (``_inflow_driven_py``, ...) stay
importable for tests and debugging.

Conventions shared by all kernels (n years t = 0..n-1, m ages a = 0..m-1):

- ``pdf[a]``: share of a cohort that retires at age a (in the year t = c + a
  for the cohort of year c) [1]. Mass beyond the last age, 1 - sum(pdf),
  never retires within the horizon.
- ``init[a]``: initial stock by age at the end of the year before the first
  year [t]; age a entered in year -1 - a.
- Stock is measured at the end of a year, after that year's inflow and
  outflow: ``stock[t] = stock[t - 1] + inflow[t] - outflow[t]``.

Layouts (gufunc signatures):

========================  ===========================================================
kernel                    layout
========================  ===========================================================
inflow_driven             (n),(m),(k)->(n),(n)            inflow, pdf, init -> outflow, stock
stock_by_cohort           (n),(m),(k),(c)->(n,c)          c = k + n cohorts, oldest first
stock_driven              (n),(m),(k),(n),()->(n),(n),(n),(n)
                          target, pdf, init, history, policy
                          -> inflow, outflow, stock, gap
inflow_driven_params      (n),(k),(),(),(),()->(n),(n)    inflow, init, model, p1, p2, shift
inflow_driven_pair_params (n),(n),(k),(),(),(),()->(n),(n),(n),(n)
                          inflow, inflow2, init, model, p1, p2, shift
                          -> outflow, stock, outflow2, stock2
stock_driven_params       (n),(k),(n),(),(),(),(),()->(n),(n),(n),(n)
                          target, init, history, model, p1, p2, shift, policy
========================  ===========================================================

The ``*_params`` kernels evaluate the lifetime pdf per series from its
parameters inside the kernel (model codes below, section 'Lifetime pdfs'),
so a Monte Carlo ensemble never materialises a (draw, product, age) pdf.

Every year sums its cohorts in ascending order. Both kernels scatter each
cohort's retirements into the years ahead (``outflow[c + a] += inflow[c] *
pdf[a]``), an independent update per year that the compiler vectorises
without re-associating sums (no fastmath), into a contiguous work array
(the outputs may be strided views). The inflow-driven kernel takes eight
cohorts per pass over the years ('blocked scatter' below: the same sums, bit
for bit, without reloading a year's outflow right after storing it); the
stock-driven kernel, which must finish a year before the next, one cohort
at a time.

Cache safety: numba's on-disk cache (``cache=True``) by itself checks only
the source file of the cached function, not the files of the compiled
functions it calls. :mod:`ndsim.kernels._cache` stamps every kernel's cache
with all kernel files instead, so the kernels here call the exp, expm1 and
erfc of :mod:`ndsim.kernels.fastmath` safely: an edit of either file, or an
upgrade of ndsim that changes one, invalidates all cached kernels together.
:mod:`ndsim.kernels.lifetime` only re-exports names from here.

Parallelism: none inside the kernels (no ``parallel=True``); the callers
run independent blocks of draws on threads (dask chunks along ``draw``, or
:mod:`ndsim.dsm`'s thread blocks for in-memory arrays). The compiled loops
release the GIL.

Lifetime pdfs
-------------

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

Tail: once S(a) < 2**-64 (about 5.4e-20) the evaluation stops and f is 0
for all older ages; that last share of a cohort stays in use, like the mass
beyond the last age. It shifts any outflow by less than 5.4e-20 times the
sum of the inflows, far below the rounding error of the sums themselves,
and saves evaluating the special functions where they no longer add
anything (about a third of the ages of typical product lifetimes over 51
years). The kernels then also skip those zero ages in the convolution.

Accuracy: below the median the differences are taken of the cumulative
distribution F and above it of the survival function S, each evaluated with
``erfc`` / ``expm1``, so small probabilities in either tail keep their full
relative precision (a difference of two numbers near 1 would lose it).

Speed: the Weibull pdf uses the exp and expm1 of :mod:`ndsim.kernels.fastmath`
(within 1 ulp of ``math.exp`` / ``math.expm1`` in the tests) in loops
without branches or calls over blocks of ages, which the compiler turns into
vector instructions, no fastmath. The normal pdf likewise uses its erfc
(within 6 ulp of ``math.erfc``, 4 ulp of the exact value in the tests; pdf
values within 3e-14 of those from ``math.erfc``); the log-normal pdf calls
``math.erfc`` per age.

Imports only numpy, numba and math (and :mod:`ndsim.kernels.fastmath`).
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numba import guvectorize, njit

from ndsim.kernels import _cache
from ndsim.kernels import fastmath as fm

# --- gufuncs, built on first use ----------------------------------------------------


class _LazyGufunc:
    """A numba gufunc compiled (or loaded from numba's cache) on its first call.

    Building all six at import would load every kernel's machine code (about
    70 MB resident) into a process that calls one or two of them. The object
    stands in for the gufunc: calling it, or reading any gufunc attribute
    (``nin``, ``ntypes``, ...) builds it once, under a lock (threads may
    call it at once) and, across processes, under the lock of the kernels'
    cache folder (:func:`ndsim.kernels._cache.build_lock`); ``signature`` and
    ``__name__`` are known without building. Pickles by name, so dask workers
    find the module's own object.
    """

    def __init__(self, name, types, signature, py_func):
        self.__name__ = name
        self.signature = signature
        self.py_func = py_func
        self._types = types
        self._ufunc = None
        self._lock = threading.Lock()

    def build(self):
        """The numba gufunc (built on the first call of this method)."""
        if self._ufunc is None:
            with self._lock:
                if self._ufunc is None:
                    # one process at a time: the kernel's and the wrapper's cache entries
                    # must come from the same compilation (see ndsim.kernels._cache)
                    with _cache.build_lock(self.py_func):
                        self._ufunc = guvectorize(
                            self._types, self.signature, nopython=True, cache=True
                        )(self.py_func)
        return self._ufunc

    @property
    def built(self):
        """True once the gufunc is compiled or loaded."""
        return self._ufunc is not None

    def __call__(self, *args, **kwargs):
        return self.build()(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.build(), name)

    def __reduce__(self):
        return (_lazy_gufunc, (self.__name__,))

    def __repr__(self):
        state = "built" if self.built else "not built yet"
        return f"<gufunc {self.__name__} {self.signature} ({state})>"


def _lazy_gufunc(name):
    """The module's gufunc object of that name (for unpickling)."""
    return globals()[name]


def _lazy_gufuncs():
    """The module's gufunc objects (for tests and diagnostics)."""
    return [g for g in globals().values() if isinstance(g, _LazyGufunc)]


# --- lifetime pdfs by age (see the section 'Lifetime pdfs' of the module docstring) ---
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

#: survival share below which the pdf is not evaluated further [1] (2**-64):
#: the ages after it keep f(a) = 0, so a cohort's last 5.4e-20 never retires
#: within the horizon (see 'Lifetime pdfs', Tail)
_TAIL = 2.0**-64

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


#: ln(a) for a = 0.._N_LOG - 1 (-inf at 0): the year ends of the Weibull kernel's vector loop
with np.errstate(divide="ignore"):
    _LOG_INT = np.log(np.arange(_N_LOG, dtype=np.float64))
#: ages per block of the Weibull kernel's vector loop (a loop of constant length
#: the compiler turns into vector instructions, instead of a short loop it leaves scalar)
_BLOCK = 8
#: exp(-u) < 2**-64 = _TAIL for every u above this (64 ln 2 = 44.36...)
_U_TAIL = 44.5


@njit(cache=True, nogil=True, inline="always")
def _padded(m):
    """m rounded up to whole blocks of ``_BLOCK`` (the length of a pdf work buffer)."""
    return (m + _BLOCK - 1) // _BLOCK * _BLOCK


@njit(cache=True, nogil=True, inline="always")
def _weibull_share(u):
    """-F = expm1(-u) (sign bit set, also for F = 0) if u <= ln 2, else S = exp(-u) (sign clear).

    One range reduction serves both: n = 0 or -1 where u <= ln 2.
    """
    q, n = fm.expm1_reduced(-u)
    f = 0.0 - (0.5 * q - 0.5 if n < 0 else q)
    return -f if u <= fm.LN2 else fm.scale2(1.0 + q, n)


@njit(cache=True, nogil=True)
def _weibull_pdf(shape, scale, shift, buf, m):
    """Discrete Weibull pdf f(a), a < m, into ``buf[:m]`` (see 'Lifetime pdfs').

    ``buf`` holds at least ``_padded(m)`` elements; those past m are scratch.

    u(a) = ((a + shift) / scale)**shape = exp(shape (ln(a + shift) - ln scale)),
    F = -expm1(-u) while u <= ln 2 (F <= 1/2), S = exp(-u) above: the same
    rule and tail stop as the other models. A first pass evaluates the ages
    up to the first one past the tail (u > 44.5, so S < 2**-64) with
    :func:`~ndsim.kernels.fastmath.exp` and :func:`_weibull_share` in blocks of ``_BLOCK`` ages, a
    loop the compiler vectorises; it stores -F or S, told apart by the sign
    bit. A second pass takes the differences in order.
    """
    log_scale = math.log(scale)
    # ages to evaluate: up to the first with u >= _U_TAIL (2 more for rounding); NaN -> all
    a_tail = scale * math.exp(math.log(_U_TAIL) / shape) - shift
    n_eval = m
    if a_tail < m - 3:
        n_eval = max(int(math.ceil(a_tail)) + 3, 1)
    n_pad = _padded(n_eval)
    # (one loop per table: a loop reading "one of two tables" is not vectorised)
    if n_pad <= _N_LOG and shift == 0.0:
        for b in range(n_pad // _BLOCK):
            for j in range(_BLOCK):
                a = b * _BLOCK + j
                buf[a] = _weibull_share(fm.exp(shape * (_LOG_INT[a] - log_scale)))
    elif n_pad <= _N_LOG and shift == 0.5:
        for b in range(n_pad // _BLOCK):
            for j in range(_BLOCK):
                a = b * _BLOCK + j
                buf[a] = _weibull_share(fm.exp(shape * (_LOG_MID[a] - log_scale)))
    else:
        for a in range(n_eval):
            x = a + shift
            u = fm.exp(shape * (math.log(x) - log_scale)) if x > 0.0 else 0.0
            buf[a] = _weibull_share(u)
    _differences(buf, n_eval, m)


#: 0.5 erfc(z) < 2**-64 = _TAIL for every z above this (erfc(6.4) = 1.0e-19)
_Z_TAIL = 6.5


# error_model="numpy": no zero-division check in the division of fm.erfc_pos (2 + x > 0),
# which would keep the compiler from vectorising the loop
@njit(cache=True, nogil=True, error_model="numpy")
def _normal_pdf(mean, sd, shift, buf, m):
    """Discrete normal pdf f(a), a < m, into ``buf[:m]`` (see 'Lifetime pdfs'); sd > 0.

    ``buf`` holds at least ``_padded(m)`` elements; those past m are scratch.
    z(a) = (a + shift - mean) / (sd sqrt 2); F = erfc(-z) / 2 where z <= 0,
    S = erfc(z) / 2 above, by :func:`~ndsim.kernels.fastmath.erfc_pos` in blocks of ``_BLOCK`` ages
    (vectorised) up to the first age past the tail (z > 6.5, S < 2**-64);
    -F or S is stored (told apart by the sign bit), then the differences as
    in :func:`_weibull_pdf`.
    """
    inv = _SQRT1_2 / sd
    a_tail = mean - shift + _Z_TAIL / inv
    n_eval = m
    if a_tail < m - 3:
        n_eval = max(int(math.ceil(a_tail)) + 3, 1)
    for b in range(_padded(n_eval) // _BLOCK):
        for j in range(_BLOCK):
            a = b * _BLOCK + j
            z = (a + shift - mean) * inv
            w = 0.5 * fm.erfc_pos(abs(z))
            buf[a] = w if z > 0.0 else -w
    _differences(buf, n_eval, m)


@njit(cache=True, nogil=True)
def _differences(buf, n_eval, m):
    """buf[:n_eval] holds -F(a) (sign bit set) or S(a); write f(a) into buf[:m] in place.

    f(a) = F(a) - F(a - 1) where F(a) <= 1/2, S(a - 1) - S(a) above; f = 0
    after the first age with S < 2**-64 (see 'Lifetime pdfs').
    """
    prev_cdf = 0.0
    prev_sf = 1.0
    for a in range(n_eval):
        v = buf[a]
        if math.copysign(1.0, v) < 0.0:
            cdf = -v
            sf = 1.0 - cdf
        else:
            sf = v
            cdf = 1.0 - sf
        if cdf <= 0.5:
            buf[a] = cdf - prev_cdf
        else:
            buf[a] = prev_sf - sf
            if sf < _TAIL:
                n_eval = a + 1
                break
        prev_cdf = cdf
        prev_sf = sf
    for a in range(n_eval, m):
        buf[a] = 0.0


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
    if model == MODEL_WEIBULL or model == MODEL_NORMAL:
        buf = np.empty(_padded(m))
        _pdf_into(model, p1, p2, shift, buf, m)
        for a in range(m):
            pdf[a] = buf[a]
    else:
        _pdf_into(model, p1, p2, shift, pdf, m)


@njit(cache=True, nogil=True)
def _pdf_into(model, p1, p2, shift, pdf, m):
    """:func:`pdf_from_params` into ``pdf[:m]``; ``pdf`` holds at least ``_padded(m)`` values."""
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
    if model == MODEL_NORMAL and p2 > 0.0 and math.isfinite(p1 + p2 + shift):
        _normal_pdf(p1, p2, shift, pdf, m)
    elif model == MODEL_NORMAL:
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
                if sf < _TAIL:
                    return
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
                if sf < _TAIL:
                    return
            prev_cdf = cdf
            prev_sf = sf
    elif model == MODEL_WEIBULL:
        _weibull_pdf(p1, p2, shift, pdf, m)
    else:
        for a in range(m):
            pdf[a] = np.nan


def _pdf_params_py(model, p1, p2, shift, ages, pdf):
    """gufunc ``(),(),(),(),(m)->(m)``: the pdf of :func:`pdf_from_params`.

    ``ages`` only gives the number of ages m (its values are not read).
    """
    pdf_from_params(model, p1, p2, shift, pdf)


pdf_params = _LazyGufunc(
    "pdf_params",
    ["void(int64, float64, float64, float64, float64[:], float64[:])"],
    "(),(),(),(),(m)->(m)",
    _pdf_params_py,
)


# --- the dynamic stock model -------------------------------------------------

POLICY_CLIP = 0
POLICY_RETIRE_EARLY = 1
POLICIES = {"clip": POLICY_CLIP, "retire_early": POLICY_RETIRE_EARLY}


@njit(cache=True, nogil=True, inline="always")
def _last_nonzero(pdf):
    """Index of the last nonzero value of ``pdf``; the last index if all are 0.

    (An all-zero pdf keeps all ages, so a NaN inflow still makes its outflow NaN.)
    """
    hi = pdf.shape[0] - 1
    while hi >= 0 and pdf[hi] == 0.0:
        hi -= 1
    return hi if hi >= 0 else pdf.shape[0] - 1


def _survival_py(pdf, n_surv, surv):
    """Survival S(a) = sum_{j > a} pdf[j] + max(0, 1 - sum(pdf)) for a = 0..n_surv-1.

    Tail sums are accumulated from the oldest age down, so small survival
    shares keep their relative precision.
    """
    m = pdf.shape[0]
    total = 0.0
    for j in range(m):
        total += pdf[j]
    beyond = 1.0 - total
    if beyond < 0.0:
        beyond = 0.0
    tail = 0.0
    for a in range(max(n_surv, m) - 1, -1, -1):
        if a < n_surv:
            surv[a] = tail + beyond
        if a < m:
            tail += pdf[a]


_survival = njit(cache=True, nogil=True)(_survival_py)


def _initial_outflow_py(pdf, init, outflow):
    """Add the retirements of the initial stock to ``outflow``; return the initial stock [t].

    The cohort of age a (stock s_a at the end of year -1) entered with
    s_a / S(a) and retires s_a * pdf[t + 1 + a] / S(a) in year t. If S(a) = 0
    (the distribution says nothing of that age is left), all of s_a retires
    in the first year.
    """
    n = outflow.shape[0]
    m = pdf.shape[0]
    k = init.shape[0]
    s0 = 0.0
    if k == 0:
        return s0
    surv = np.empty(k)
    _survival(pdf, k, surv)
    for a in range(k):
        s_a = init[a]
        s0 += s_a
        if s_a == 0.0:
            continue
        if surv[a] > 0.0:
            scale = s_a / surv[a]
            for t in range(n):
                age = t + 1 + a
                if age >= m:
                    break
                outflow[t] += scale * pdf[age]
        elif n > 0:
            outflow[0] += s_a
    return s0


_initial_outflow = njit(cache=True, nogil=True)(_initial_outflow_py)


# --- blocked scatter ------------------------------------------------------------
# Scattering one cohort at a time, outflow[c + a] += x_c * pdf[a], stores the
# outflow of a year and loads it again one cohort later at a shifted address,
# which stalls the processor. The kernels below take _BLOCK cohorts per pass
# instead: each year adds their terms in ascending cohort order,
# ((v + x_c pdf[y - c]) + x_{c+1} pdf[y - c - 1]) + ..., the same sum, bit for
# bit, as cohort by cohort, with a zero-padded pdf for the ages outside
# [0, hi) (a term x * 0 = 0 changes no sum while x is finite; with inf or NaN
# inputs the kernels take the cohort-by-cohort path). Indices are unsigned so
# the compiler knows they are not negative and vectorises the loop over years.


@njit(cache=True, nogil=True)
def _padded_pdf(pdf, hi):
    """pz[_BLOCK + a] = pdf[a] for a < hi, 0 for the _BLOCK ages before 0 and from hi on."""
    pz = np.zeros(hi + 2 * _BLOCK)
    for a in range(hi):
        pz[_BLOCK + a] = pdf[a]
    return pz


@njit(cache=True, nogil=True)
def _scatter_block(outflow, x, c, pz, y0, y1):
    """outflow[y] += sum_{i < _BLOCK} x[c + i] pz[_BLOCK + y - c - i] for y0 <= y < y1, i ascending.

    Needs c <= y0; cohorts c + i past the end of ``x`` count as 0.
    """
    n = x.shape[0]
    x0 = x[c] if c < n else 0.0
    x1 = x[c + 1] if c + 1 < n else 0.0
    x2 = x[c + 2] if c + 2 < n else 0.0
    x3 = x[c + 3] if c + 3 < n else 0.0
    x4 = x[c + 4] if c + 4 < n else 0.0
    x5 = x[c + 5] if c + 5 < n else 0.0
    x6 = x[c + 6] if c + 6 < n else 0.0
    x7 = x[c + 7] if c + 7 < n else 0.0
    k0 = np.uint64(_BLOCK + y0 - c)
    for j in range(y1 - y0):
        y = np.uint64(y0 + j)
        k = k0 + np.uint64(j)
        v = outflow[y]
        v += x0 * pz[k]
        v += x1 * pz[k - np.uint64(1)]
        v += x2 * pz[k - np.uint64(2)]
        v += x3 * pz[k - np.uint64(3)]
        v += x4 * pz[k - np.uint64(4)]
        v += x5 * pz[k - np.uint64(5)]
        v += x6 * pz[k - np.uint64(6)]
        v += x7 * pz[k - np.uint64(7)]
        outflow[y] = v


@njit(cache=True, nogil=True)
def _all_finite(x):
    """True if no value of ``x`` is inf or NaN."""
    for i in range(x.shape[0]):
        if not math.isfinite(x[i]):
            return False
    return True


# --- inflow-driven ------------------------------------------------------------


def _inflow_driven_py(inflow, pdf, init, outflow, stock):
    """Outflow and stock from inflow and a lifetime pdf (gufunc ``(n),(m),(k)->(n),(n)``).

    Parameters
    ----------
    inflow : ndarray (n,)
        Inflow by year [t yr-1].
    pdf : ndarray (m,)
        Retirement share by age [1].
    init : ndarray (k,)
        Initial stock by age at the end of the year before the first [t]
        (k = 0: empty initial stock).
    outflow, stock : ndarray (n,)
        Outputs: outflow [t yr-1], stock at the end of the year [t].

    Notes
    -----
    outflow(t) = sum_{c <= t} inflow(c) pdf(t - c) + initial-stock retirements;
    stock(t) = stock(t - 1) + inflow(t) - outflow(t), stock(-1) = sum(init).
    """
    n = inflow.shape[0]
    # each cohort scatters its retirements into the years ahead,
    # outflow[c + a] += inflow[c] * pdf[a]: cohorts are taken in ascending
    # order, so every year still sums its cohorts in ascending order (the
    # same sum, bit for bit, as gathering them per year), in blocks of
    # _BLOCK cohorts (see 'blocked scatter'). Ages past the last nonzero pdf
    # value add nothing and are skipped.
    # (the sums go into a contiguous work array: the outputs may be strided views)
    hi = _last_nonzero(pdf) + 1
    ob = np.zeros(n)
    if _all_finite(inflow):
        pz = _padded_pdf(pdf, hi)
        for c in range(0, n, _BLOCK):
            _scatter_block(ob, inflow, c, pz, c, min(n, c + _BLOCK - 1 + hi))
    else:
        for c in range(n):
            x = inflow[c]
            end = min(hi, n - c)
            for a in range(end):
                ob[c + a] += x * pdf[a]
    s = _initial_outflow(pdf, init, ob)
    for t in range(n):
        outflow[t] = ob[t]
        s = s + inflow[t] - ob[t]
        stock[t] = s


_inflow_core = njit(cache=True, nogil=True)(_inflow_driven_py)


def _inflow_driven_gu(inflow, pdf, init, outflow, stock):
    # a separate function: compiling one Python function twice with cache=True
    # (njit and guvectorize) can mix up their cache entries
    _inflow_core(inflow, pdf, init, outflow, stock)


inflow_driven = _LazyGufunc(
    "inflow_driven",
    ["void(float64[:], float64[:], float64[:], float64[:], float64[:])"],
    "(n),(m),(k)->(n),(n)",
    _inflow_driven_gu,
)


def _stock_by_cohort_py(inflow, pdf, init, cohort, out):
    """Stock by year and cohort (gufunc ``(n),(m),(k),(c)->(n,c)``), c = k + n.

    ``cohort`` only gives c. Column j < k is the initial cohort of age
    k - 1 - j at the end of year -1; column k + c0 is the cohort of year c0.
    out[t, j] is its stock at the end of year t [t].
    """
    n = inflow.shape[0]
    k = init.shape[0]
    ns = n + k + 1
    surv = np.empty(ns)
    _survival(pdf, ns, surv)
    for t in range(n):
        for j in range(k + n):
            out[t, j] = 0.0
    for j in range(k):
        a = k - 1 - j
        s_a = init[a]
        if surv[a] > 0.0:
            scale = s_a / surv[a]
            for t in range(n):
                out[t, j] = scale * surv[t + 1 + a]
    for c in range(n):
        x = inflow[c]
        for t in range(c, n):
            out[t, k + c] = x * surv[t - c]


stock_by_cohort = _LazyGufunc(
    "stock_by_cohort",
    ["void(float64[:], float64[:], float64[:], float64[:], float64[:, :])"],
    "(n),(m),(k),(c)->(n,c)",
    _stock_by_cohort_py,
)


# --- stock-driven -------------------------------------------------------------


def _stock_driven_py(target, pdf, init, history, policy, inflow, outflow, stock, gap):
    """Inflow and outflow that give a stock target, solved year by year.

    gufunc ``(n),(m),(k),(n),()->(n),(n),(n),(n)``.

    Parameters
    ----------
    target : ndarray (n,)
        Stock target at the end of each year [t] (ignored in history years).
    pdf : ndarray (m,)
        Retirement share by age [1].
    init : ndarray (k,)
        Initial stock by age [t].
    history : ndarray (n,)
        Given inflows [t yr-1]: the years before the first NaN are
        inflow-driven with these inflows, the rest stock-driven.
    policy : int
        0 ``clip`` or 1 ``retire_early``: what happens when the target falls
        faster than products retire.
    inflow, outflow, stock, gap : ndarray (n,)
        Outputs: inflow and outflow [t yr-1], stock [t], and what the policy
        did: under ``clip`` the unmet stock decline (stock above target) [t],
        under ``retire_early`` the early retirement (extra outflow) [t yr-1].

    Notes
    -----
    With ``out_old(t)`` the retirements of earlier cohorts in year t and
    S(0) = 1 - pdf(0), the inflow that meets the target is

        inflow(t) = (target(t) - stock(t - 1) + out_old(t)) / S(0).

    When that is negative, ``clip`` sets inflow(t) = 0 and keeps
    stock(t) = stock(t - 1) - out_old(t) > target(t), reporting
    gap(t) = stock(t) - target(t); ``retire_early`` sets inflow(t) = 0 and
    retires gap(t) = stock(t - 1) - out_old(t) - target(t) extra, taken from
    every cohort in use in proportion to its remaining stock, so the future
    retirements of all those cohorts scale by target(t) / (stock(t - 1) -
    out_old(t)). Mass balance holds every year in both policies. A NaN or
    negative target, or S(0) = 0 (no stock can be held), makes that year and
    all later years NaN.
    """
    n = target.shape[0]
    m = pdf.shape[0]
    # the outflow sums go into a contiguous work array (the outputs may be strided
    # views, which would keep the scatter below from being vectorised)
    ob = np.zeros(n)
    # gap is written only where it is not 0 already: an output allocated with
    # np.zeros then keeps its untouched pages, and costs no memory, in the
    # usual case of a policy that never applies
    for t in range(n):
        if gap[t] != 0.0:
            gap[t] = 0.0
    s_prev = _initial_outflow(pdf, init, ob)
    hi = _last_nonzero(pdf) + 1
    f0 = pdf[0] if m > 0 else 0.0
    s0 = 1.0 - f0
    inv_s0 = 1.0 / s0 if s0 > 0.0 else 0.0
    # years with given inflows: those before the first NaN of the history
    n_given = 0
    while n_given < n and not math.isnan(history[n_given]):
        n_given += 1
    for t in range(n):
        if t < n_given:
            x = history[t]
            out_t = ob[t] + x * f0
            s = s_prev + x - out_t
        else:
            tg = target[t]
            rhs = tg - s_prev + ob[t]
            if math.isnan(rhs) or tg < 0.0 or not s0 > 0.0:
                x = np.nan
                out_t = np.nan
                s = np.nan
            elif rhs >= 0.0:
                x = rhs * inv_s0
                out_t = ob[t] + x * f0
                s = tg
            else:
                x = 0.0
                if policy == POLICY_RETIRE_EARLY:
                    avail = s_prev - ob[t]
                    e = avail - tg
                    gap[t] = e
                    out_t = ob[t] + e
                    kf = tg / avail
                    for t2 in range(t + 1, n):
                        ob[t2] *= kf
                    s = tg
                else:
                    out_t = ob[t]
                    s = s_prev - out_t
                    gap[t] = s - tg
        inflow[t] = x
        stock[t] = s
        s_prev = s
        # scatter this cohort's retirements (age 0 included: ob[t] + x * pdf[0]
        # is out_t again); a loop from age 0 keeps the compiler vectorising
        end = min(hi, n - t)
        for a in range(end):
            ob[t + a] += x * pdf[a]
        ob[t] = out_t
    for t in range(n):
        outflow[t] = ob[t]


_stock_core = njit(cache=True, nogil=True)(_stock_driven_py)


def _stock_driven_gu(target, pdf, init, history, policy, inflow, outflow, stock, gap):
    _stock_core(target, pdf, init, history, policy, inflow, outflow, stock, gap)


stock_driven = _LazyGufunc(
    "stock_driven",
    [
        "void(float64[:], float64[:], float64[:], float64[:], int64, "
        "float64[:], float64[:], float64[:], float64[:])"
    ],
    "(n),(m),(k),(n),()->(n),(n),(n),(n)",
    _stock_driven_gu,
)


# --- fused: lifetime parameters -> stock model ---------------------------------


def _inflow_driven_params_py(inflow, init, model, p1, p2, shift, outflow, stock):
    """Inflow-driven model with the pdf evaluated from parameters in the kernel.

    gufunc ``(n),(k),(),(),(),()->(n),(n)``: inflow [t yr-1], init [t],
    model code, p1, p2, shift (see 'Lifetime pdfs' above)
    -> outflow [t yr-1], stock [t]. The pdf covers the n + k ages the
    horizon can reach.
    """
    m = inflow.shape[0] + init.shape[0]
    pdf = np.empty(_padded(m))
    _pdf_into(model, p1, p2, shift, pdf, m)
    _inflow_core(inflow, pdf[:m], init, outflow, stock)


inflow_driven_params = _LazyGufunc(
    "inflow_driven_params",
    ["void(float64[:], float64[:], int64, float64, float64, float64, float64[:], float64[:])"],
    "(n),(k),(),(),(),()->(n),(n)",
    _inflow_driven_params_py,
)


def _inflow_driven_pair_params_py(
    inflow, inflow2, init, model, p1, p2, shift, outflow, stock, outflow2, stock2
):
    """:func:`_inflow_driven_params_py` of two inflow series with one lifetime, its pdf
    evaluated once (e.g. the units and the Nd of one product and draw).

    gufunc ``(n),(n),(k),(),(),(),()->(n),(n),(n),(n)``: each pair of outputs is what
    ``inflow_driven_params`` gives for its inflow, bit for bit.
    """
    m = inflow.shape[0] + init.shape[0]
    pdf = np.empty(_padded(m))
    _pdf_into(model, p1, p2, shift, pdf, m)
    _inflow_core(inflow, pdf[:m], init, outflow, stock)
    _inflow_core(inflow2, pdf[:m], init, outflow2, stock2)


inflow_driven_pair_params = _LazyGufunc(
    "inflow_driven_pair_params",
    [
        "void(float64[:], float64[:], float64[:], int64, float64, float64, float64, "
        "float64[:], float64[:], float64[:], float64[:])"
    ],
    "(n),(n),(k),(),(),(),()->(n),(n),(n),(n)",
    _inflow_driven_pair_params_py,
)


def _stock_driven_params_py(
    target, init, history, model, p1, p2, shift, policy, inflow, outflow, stock, gap
):
    """Stock-driven model with the pdf evaluated from parameters in the kernel.

    gufunc ``(n),(k),(n),(),(),(),(),()->(n),(n),(n),(n)``; arguments as
    in :func:`_stock_driven_py` with the pdf replaced by model, p1, p2, shift.
    """
    m = target.shape[0] + init.shape[0]
    pdf = np.empty(_padded(m))
    _pdf_into(model, p1, p2, shift, pdf, m)
    _stock_core(target, pdf[:m], init, history, policy, inflow, outflow, stock, gap)


stock_driven_params = _LazyGufunc(
    "stock_driven_params",
    [
        "void(float64[:], float64[:], float64[:], int64, float64, float64, float64, int64, "
        "float64[:], float64[:], float64[:], float64[:])"
    ],
    "(n),(k),(n),(),(),(),(),()->(n),(n),(n),(n)",
    _stock_driven_params_py,
)
