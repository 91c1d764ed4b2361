"""Monte Carlo draws of the uncertain inputs, seeded per draw.

Draw ``d``'s random numbers depend only on ``(seed, d, input name, series
label[, year])``: a counter-based generator (the splitmix64 finaliser
applied to a key built from those numbers) gives one uniform number per
draw and series, with no state carried from one draw to the next. So every
per-draw value is bit-identical whatever the chunking of the draws, the
number of workers or the scheduler: a chunk of draws ``[a, b)`` computes
exactly the numbers the whole ensemble would give those draws.

Each uncertain series is scaled by a factor drawn from a normal
distribution with mean 1 and the coefficient of variation (CV) of its data
quality (SPEC §5: statistic 2 %, literature 5 %, estimate 10 %), truncated
by inverse-CDF sampling (never clipped):

- quantities that cannot be negative: at 0;
- shares (adoption rates, yields, recycling rates): also at 1 / max_t(x),
  so that no year exceeds 1; a series that is exactly 1 in every year
  stays 1 (so do definitional factors that are exactly 1, e.g. the Nd
  content of 1 t t-1 of the non-magnet end uses);
- signed parameters (growth rates, Gompertz α, β): not truncated.

Scenario parameters (``growth_rates``, ``gompertz`` in ``[uncertainty]
inputs``) are not in the input Dataset; they are drawn per product and added
to it: ``growth_rate_factor`` (draw, product), CV 10 % unless overridden;
``gompertz_z1..3`` (draw, product), factors N(1, 1) whose excess over 1 the
forecast reads as standard normals z, the ownership-curve parameters of a
draw being θ + cv L z with L the Cholesky factor of the fit's covariance
(SPEC §5; a ``cv`` override scales the fit's standard errors).

By default one factor scales a whole series (correlated across years); with
``[uncertainty] per_year = true`` each year gets its own factor (a share is
then truncated at 1 / x(t) year by year).

References
----------
Steele, G. L., Lea, D. and Flood, C. H. (2014). Fast splittable pseudorandom
number generators. OOPSLA 2014, 453-472. doi:10.1145/2660193.2660195
Yao, T., Geng, Y., Sarkis, J., Xiao, S. and Gao, Z. (2021). Dynamic
neodymium stocks and flows analysis in China. Resources, Conservation and
Recycling 174, 105752. doi:10.1016/j.resconrec.2021.105752
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping

import numpy as np
import xarray as xr
from numba import njit
from xarray.indexes import PandasIndex

from ndsim import conventions as cv
from ndsim import kernels as _kernels  # noqa: F401 - its cache locators before any njit
from ndsim.errors import ScenarioError, ValidationError
from ndsim.scenario import Scenario, UncertaintyOptions

#: inputs sampled when a scenario does not say otherwise (SPEC §5; the paper's three): the
#: default of ``[uncertainty] inputs``
DEFAULT_INPUTS = UncertaintyOptions().inputs

#: inputs that are shares in [0, 1] (truncated at 1 / max(x) as well as at 0)
SHARE_INPUTS = frozenset(
    {
        "adoption_rate",
        "yield_mining",
        "yield_refining",
        "yield_fabrication",
        "yield_manufacturing",
        "recycling_rate",
        "recovery_efficiency",
        "trade_share",
    }
)

#: inputs sampled as a share of another input: truncated at 1 / max(x / base) (SPEC §5)
SHARE_OF = {"units_exports": "production"}

#: inputs that may be negative (not truncated)
SIGNED_INPUTS = frozenset(
    {"growth_rate", "gompertz_alpha", "gompertz_beta", "gompertz_z1", "gompertz_z2", "gompertz_z3"}
)

#: names a scenario may use for a group of input variables (``[uncertainty] inputs``)
INPUT_GROUPS: dict[str, tuple[str, ...]] = {
    "final_trade": ("units_exports", "units_imports"),
    "intermediate_trade": ("exports_intermediate", "imports_intermediate"),
    "primary_trade": ("exports_primary", "imports_primary", "exports_primary_unregistered"),
    "concentrate_trade": ("exports_concentrate", "imports_concentrate"),
    "yields": ("yield_mining", "yield_refining", "yield_fabrication", "yield_manufacturing"),
    "recycling": ("recycling_rate", "recovery_efficiency"),
    "upstream_measurements": ("unregistered_mining_prior", "intermediate_production_statistic"),
}

#: scenario parameters drawn as per-product factors, added to the sampled inputs as
#: these variables (draw, product): the forecast multiplies the parameter by them
PARAMETER_FACTORS: dict[str, tuple[str, ...]] = {
    "growth_rates": ("growth_rate_factor",),
    "gompertz": ("gompertz_z1", "gompertz_z2", "gompertz_z3"),
}
#: default CV of scenario parameters (they are assumptions: quality `estimate`)
PARAMETER_CV = cv.QUALITY_CV["estimate"]
#: default CV of each parameter group: the ownership-curve draws are standard normals
#: (z = factor - 1), scaled by the fit's covariance in the forecast
PARAMETER_DEFAULT_CV = {"growth_rates": PARAMETER_CV, "gompertz": 1.0}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


# --- counter-based uniforms ---------------------------------------------------------


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijection of uint64 with good avalanche (Steele et al. 2014)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def label_key(*parts: object) -> np.uint64:
    """Stable 64-bit key of a tuple of labels (input name, coordinate values).

    Uses BLAKE2b, so it does not depend on Python's per-process string hashing.
    """
    text = "\x1f".join(str(p) for p in parts).encode()
    return np.uint64(int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little"))


def uniforms(seed: int, keys: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Uniform numbers in (0, 1) for every (draw, key), depending only on (seed, draw, key).

    Parameters
    ----------
    seed : int
        Non-negative seed [-], below 2**64.
    keys : numpy.ndarray of uint64, shape (k,)
        One key per random stream (e.g. per input series), see :func:`label_key`.
    draws : numpy.ndarray of int, shape (n,)
        Draw numbers [-] (not positions: draw 7 gets the same numbers in any chunk).

    Returns
    -------
    numpy.ndarray of float64, shape (n, k)
        ``u[i, j] = (floor(z / 2**11) + 0.5) / 2**53`` with
        ``z = mix(mix(mix(seed + γ) ^ key_j) + (d_i + 1) γ)``, ``mix`` the
        splitmix64 finaliser and γ the golden-ratio increment.
    """
    if seed < 0 or seed >= 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
    d = np.asarray(draws, dtype=np.int64).reshape(-1)
    if d.size and d.min() < 0:
        raise ValueError("draw numbers must be non-negative")
    with np.errstate(over="ignore"):
        s = _mix64(np.array([seed], dtype=np.uint64) + _GOLDEN)
        stream = _mix64(s ^ keys)  # (k,)
        counter = (d.astype(np.uint64) + np.uint64(1)) * _GOLDEN  # (n,)
    out = np.empty((d.size, keys.size))
    _uniform_table(stream, counter, out)  # (the numbers of _mix64 on the arrays)
    return out


@njit(cache=True, nogil=True)
def _uniform_table(stream, counter, out):  # pragma: no cover - compiled
    """out[i, j] = (floor(z / 2**11) + 0.5) / 2**53, z = mix(mix(stream[j] + counter[i])).

    :func:`_mix64` twice, on uint64 (wrapping as numpy's uint64 arithmetic does).
    """
    for i in range(out.shape[0]):
        c, o = counter[i], out[i]
        for j in range(o.shape[0]):
            z = stream[j] + c
            for _ in range(2):
                z = (z ^ (z >> _S30)) * _M1
                z = (z ^ (z >> _S27)) * _M2
                z = z ^ (z >> _S31)
            o[j] = (np.float64(z >> _S11) + 0.5) * (2.0**-53)


# --- truncated normal by inverse CDF ----------------------------------------------


def _tail_bounds(cv_, lower, upper) -> tuple[np.ndarray, ...]:
    """Per column of :func:`truncated_normal_factor`: c, the bounds a, b of z, Φ(a),
    Φ(b) - Φ(a), 1 - Φ(b) and Φ(b) - Φ(a) from the upper tail (arrays of one shape)."""
    # (imported here: a deterministic run uses this module's CVs but draws nothing)
    from scipy.special import ndtr

    # the bounds' probabilities once per (cv, lower, upper), not once per uniform
    c, lo, hi = np.broadcast_arrays(
        np.asarray(cv_, float), np.asarray(lower, float), np.asarray(upper, float)
    )
    safe = np.where(c > 0, c, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (lo - 1.0) / safe
        b = (hi - 1.0) / safe
    pa, pb = ndtr(a), ndtr(b)
    qa, qb = ndtr(-a), ndtr(-b)  # upper-tail probabilities
    return c, a, b, pa, pb - pa, qb, qa - qb


@njit(cache=True, nogil=True)
def _tail_probabilities(u, cols, pa, dp, qb, dq, prob, lower_half):  # pragma: no cover
    """prob[j, i]: the probability whose Φ⁻¹ gives z for uniform u[i, cols[j]].

    p = Φ(a) + u (Φ(b) - Φ(a)); below the median prob = p (``lower_half``), above it
    the upper tail q = (1 - Φ(b)) + (1 - u)(Φ(b) - Φ(a)), at most 0.5 (NaN stays).
    """
    for j in range(cols.shape[0]):
        k, paj, dpj, qbj, dqj = cols[j], pa[j], dp[j], qb[j], dq[j]
        for i in range(u.shape[0]):
            x = u[i, k]
            p = paj + x * dpj
            q = qbj + (1.0 - x) * dqj
            low = p < 0.5
            v = p if low else q
            prob[j, i] = 0.5 if v > 0.5 else v
            lower_half[j, i] = low


@njit(cache=True, nogil=True)
def _factors_from_quantiles(z, lower_half, c, a, b):  # pragma: no cover - compiled
    """z[j, i] = Φ⁻¹(prob) becomes the factor of column j in draw i, in place.

    z is negated above the median, clipped to [a, b] as ``numpy.clip`` does (NaN stays:
    max(z, a), then min(., b), each NaN-first) and gives 1 + c z where c > 0, else 1.
    """
    for j in range(z.shape[0]):
        cj, aj, bj = c[j], a[j], b[j]
        zj, lj = z[j], lower_half[j]
        for i in range(zj.shape[0]):
            x = zj[i] if lj[i] else -zj[i]
            if x == x:
                x = x if x > aj else aj
                if x == x:
                    x = x if x < bj else bj
            zj[i] = 1.0 + cj * x if cj > 0 else 1.0


@njit(cache=True, nogil=True)
def _laid_out(table, inverse, out):  # pragma: no cover - compiled
    """out[e, i] = table[inverse[e], i]: the factors of the elements from their columns'."""
    for e in range(inverse.shape[0]):
        out[e, :] = table[inverse[e]]


@njit(cache=True, nogil=True)
def _laid_out_times(table, inverse, x, out):  # pragma: no cover - compiled
    """out[e, i] = table[inverse[e], i] * x[e]: the elements' factors times their values."""
    for e in range(inverse.shape[0]):
        row, xe, o = table[inverse[e]], x[e], out[e]
        for i in range(o.shape[0]):
            o[i] = row[i] * xe


@njit(cache=True, nogil=True)
def _sum_rows_in_order(table, rows, out):  # pragma: no cover - compiled
    """out[j, i] = table[rows[j, 0], i] + table[rows[j, 1], i] + ..., added in that order."""
    for j in range(rows.shape[0]):
        o = out[j]
        o[:] = table[rows[j, 0]]
        for t in range(1, rows.shape[1]):
            r = table[rows[j, t]]
            for i in range(o.shape[0]):
                o[i] += r[i]


def _factor_table(u, cols, bounds) -> np.ndarray:
    """(columns, draws) factors of the columns ``bounds`` (:func:`_tail_bounds`, 1-d) from
    the uniforms u[:, cols] (draws, streams)."""
    from scipy.special import ndtri

    c, a, b, pa, dp, qb, dq = bounds
    n = u.shape[0]
    prob = np.empty((cols.size, n))
    lower_half = np.empty((cols.size, n), dtype=np.bool_)
    _tail_probabilities(u, cols, pa, dp, qb, dq, prob, lower_half)
    ndtri(prob, out=prob)
    _factors_from_quantiles(prob, lower_half, c, a, b)
    return prob


def _tail_factors(u, cols, bounds, inverse) -> np.ndarray:
    """(elements, draws) factors of the columns ``bounds`` (:func:`_tail_bounds`, 1-d) from
    the uniforms u[:, cols] (draws, streams), laid out by ``inverse``."""
    table = _factor_table(u, cols, bounds)
    out = np.empty((inverse.size, u.shape[0]))
    _laid_out(table, inverse, out)
    return out


def truncated_normal_factor(
    u: np.ndarray, cv_: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> np.ndarray:
    """Factor f ~ N(1, cv²) truncated to [lower, upper], by inverse CDF of the uniforms `u`.

    Parameters
    ----------
    u : array_like
        Uniform numbers in (0, 1) [-].
    cv_ : array_like
        Coefficient of variation = sd of the untruncated factor [-]; 0 gives f = 1.
    lower, upper : array_like
        Truncation bounds of the factor [-] (``-inf``/``inf`` for none). Must contain 1.

    Returns
    -------
    numpy.ndarray
        The factors, broadcast over the inputs.

    Notes
    -----
    With a = (lower - 1)/cv, b = (upper - 1)/cv and Φ the standard normal CDF,
    f = 1 + cv Φ⁻¹(Φ(a) + u (Φ(b) - Φ(a))). Above the median the upper tail
    is used, Φ⁻¹(1 - [(1 - Φ(b)) + (1 - u)(Φ(b) - Φ(a))]), so no precision is
    lost near 1.
    """
    u = np.asarray(u, float)
    bounds = _tail_bounds(cv_, lower, upper)
    shape = np.broadcast_shapes(u.shape, bounds[0].shape)
    size = math.prod(shape)
    # every element its own column (one draw): the same numbers as an ensemble's columns
    flat = [np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1) for x in bounds]
    every = np.arange(size, dtype=np.int64)
    uu = np.ascontiguousarray(np.broadcast_to(u, shape)).reshape(1, size)
    return _tail_factors(uu, every, flat, every).reshape(shape)


# --- which inputs, which CV -------------------------------------------------------


def _uncertainty(scenario: Scenario | None) -> UncertaintyOptions:
    """The scenario's ``[uncertainty]`` table; None: its defaults (SPEC §5)."""
    return UncertaintyOptions() if scenario is None else scenario.uncertainty


def _scenario_file(scenario: Scenario | None) -> str | None:
    return None if scenario is None else scenario.file_name


def uncertain_inputs(inputs: xr.Dataset, scenario: Scenario | None = None) -> tuple[str, ...]:
    """Names of the input variables sampled under `scenario` (groups expanded, in Dataset order).

    Parameters
    ----------
    inputs : xarray.Dataset
        Canonical input Dataset.
    scenario : Scenario or None
        Its ``uncertainty.inputs`` and ``uncertainty.cv``; None: SPEC §5 defaults.

    Returns
    -------
    tuple of str

    Raises
    ------
    ScenarioError
        If the scenario names an input that is neither a variable of `inputs` nor a group.
    """
    options = _uncertainty(scenario)
    names, overrides = options.inputs, options.cv
    wanted: list[str] = []
    unknown = []
    for name in names:
        if name in INPUT_GROUPS:
            wanted.extend(v for v in INPUT_GROUPS[name] if v in inputs.data_vars)
        elif name == "lifetimes":
            wanted.extend(
                v
                for v in inputs.data_vars
                if str(v).startswith("lifetime_") and inputs[v].dtype.kind == "f"
            )
        elif name in PARAMETER_FACTORS:
            wanted.extend(PARAMETER_FACTORS[name])
        elif name in inputs.data_vars:
            wanted.append(name)
        else:
            unknown.append(name)
    if unknown:
        raise ScenarioError(
            f"key uncertainty.inputs: unknown inputs {sorted(unknown)}; valid: "
            f"{sorted(set(INPUT_GROUPS) | {'lifetimes'} | {str(v) for v in inputs.data_vars if not str(v).startswith('q_')})}",
            file=_scenario_file(scenario),
        )
    bad_cv = [
        k
        for k in overrides
        if k not in wanted and k not in INPUT_GROUPS and k not in PARAMETER_FACTORS
    ]
    if bad_cv:
        raise ScenarioError(
            f"key uncertainty.cv: {sorted(bad_cv)} are not sampled inputs {sorted(wanted)}",
            file=_scenario_file(scenario),
        )
    seen: dict[str, None] = {}
    for w in wanted:
        seen.setdefault(w, None)
    return tuple(seen)


def _parameter_template(inputs: xr.Dataset, name: str) -> xr.DataArray:
    """Factor variables of scenario parameters: ones over product."""
    return xr.DataArray(
        np.ones(inputs.sizes[cv.PRODUCT]),
        dims=(cv.PRODUCT,),
        coords={cv.PRODUCT: inputs[cv.PRODUCT].values},
        name=name,
    )


def _group_cv(name: str, overrides: Mapping[str, float]) -> float | None:
    """The CV ``uncertainty.cv`` gives the group of an input or parameter factor, or None."""
    groups = {**INPUT_GROUPS, **PARAMETER_FACTORS}
    return next((float(overrides[g]) for g in groups if g in overrides and name in groups[g]), None)


def cv_override(name: str, overrides: Mapping[str, float]) -> float | None:
    """The CV a scenario's ``uncertainty.cv`` gives an input: its own, else its group's, else None."""
    return float(overrides[name]) if name in overrides else _group_cv(name, overrides)


def _cv_of(inputs: xr.Dataset, name: str, overrides: Mapping[str, float]) -> xr.DataArray:
    if name not in inputs.data_vars:  # a scenario parameter factor
        default = next(
            (PARAMETER_DEFAULT_CV[g] for g, names in PARAMETER_FACTORS.items() if name in names),
            PARAMETER_CV,
        )
        group = _group_cv(name, overrides)
        c = default if group is None else group
        return xr.full_like(_parameter_template(inputs, name), float(c), dtype=float)
    given = cv_override(name, overrides)
    if given is not None:
        return xr.full_like(inputs[name], given, dtype=float)
    sd_name = f"sd_{name}"
    if sd_name in inputs:  # a stated sd (e.g. the Nd share of an ore): its CV, where it has one
        x = inputs[name]
        stated = (inputs[sd_name] / abs(x)).where((x != 0) & np.isfinite(x))
        by_flag = cv_by_flag(inputs, name)
        return stated.fillna(by_flag).broadcast_like(x)
    return cv_by_flag(inputs, name)


def cv_by_flag(inputs: xr.Dataset, name: str) -> xr.DataArray:
    """The CV of each value of an input from its quality flag (SPEC §5)."""
    c = flag_cv(inputs, name)
    x, q = inputs[name], inputs[f"q_{name}"]
    out = c.set_dims({**x.sizes, **q.sizes})  # the value's dims, then any the flag adds
    coords = {**q.coords.variables, **{d: x.coords.variables[d] for d in x.dims if d in x.xindexes}}
    return xr.DataArray(out, coords=coords, dims=out.dims)


def flag_cv(inputs: xr.Dataset, name: str) -> xr.Variable:
    """:func:`cv_by_flag` over the flag's own dims (the same in every draw), on Variables.

    Raises
    ------
    ValidationError
        No flag, an unknown flag, or a blank flag where the input has a value.
    """
    flag = f"q_{name}"
    if flag not in inputs:
        raise ValidationError(
            f"no quality flag {flag} and no CV override", file="inputs", field=name
        )
    x, q = inputs.variables[name], inputs.variables[flag]
    # flags do not vary by draw: look up each distinct one once
    codes, where = np.unique(q.values.astype(str), return_inverse=True)
    codes, where = codes.tolist(), where.reshape(q.shape)
    unknown = [c for c in codes if c not in cv.QUALITY_CV and c != ""]
    # no flag where there is no value (e.g. years padded after the accounted period)
    if "" in codes:
        dims = {**x.sizes, **q.sizes}  # the value's dims, then any the flag adds
        blank = xr.Variable(q.dims, where == codes.index("")).set_dims(dims).values
        values = x if x.dtype == np.float64 else x.astype(float)  # (no copy)
        if (blank & ~np.isnan(values.set_dims(dims).values)).any():
            unknown.append("")
    if unknown:
        raise ValidationError(
            f"unknown quality flags {sorted(unknown)}; valid: {list(cv.QUALITY_CV)}",
            file="inputs",
            field=flag,
        )
    table = np.array([cv.QUALITY_CV.get(c, 0.0) for c in codes], dtype=float)
    return xr.Variable(q.dims, table[where])


def kind_of(name: str) -> str:
    """``"share"``, ``"signed"`` or ``"nonnegative"``: the truncation rule of an input."""
    if name in SHARE_INPUTS or name.startswith("yield_"):
        return "share"
    if name in SIGNED_INPUTS or name.endswith("_factor"):
        return "signed"
    return "nonnegative"


# --- factors and sampled inputs -----------------------------------------------------


def _series_keys(name: str, da: xr.DataArray, per_year: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """One uint64 key per random stream of variable `name` and the dims the streams vary over."""
    dims = tuple(d for d in da.dims if d != cv.YEAR or per_year)
    if not dims:
        return np.array([label_key(name)], dtype=np.uint64), ()
    labels = [da[d].values.tolist() if d in da.coords else list(range(da.sizes[d])) for d in dims]
    grids = np.meshgrid(*[np.arange(len(lab)) for lab in labels], indexing="ij")
    flat = [g.reshape(-1) for g in grids]
    keys = np.array(
        [
            label_key(name, *(f"{d}={labels[k][idx[k]]}" for k, d in enumerate(dims)))
            for idx in zip(*flat, strict=True)
        ],
        dtype=np.uint64,
    )
    return keys, dims


def draw_factors(
    inputs: xr.Dataset,
    scenario: Scenario | None,
    draws: np.ndarray,
    seed: int,
    plan: list | None = None,
) -> dict[str, xr.DataArray]:
    """Per-draw scaling factors of every uncertain input.

    Parameters
    ----------
    inputs : xarray.Dataset
        Canonical input Dataset (``ndsim.io.readers.load_dataset``), with the
        quality flags ``q_<name>``.
    scenario : Scenario or None
        Reads ``scenario.uncertainty.inputs``, ``.per_year`` and ``.cv``; None = SPEC §5 defaults.
    draws : numpy.ndarray of int
        The draw numbers to compute [-].
    seed : int
        The ensemble's seed [-].
    plan : list, optional
        :func:`factor_plan` of these inputs and scenario, if already computed.

    Returns
    -------
    dict of str to xarray.DataArray
        For each sampled input, the factor f with dims (draw, *input dims); the
        sampled value is ``f * x``.
    """
    plan = plan if plan is not None else factor_plan(inputs, scenario)
    return factors_from_plan(plan, draws, seed)


def factor_plan(inputs: xr.Dataset, scenario: Scenario | None) -> list[dict]:
    """Everything :func:`draw_factors` needs that does not depend on the draws or the seed.

    One entry per sampled input: its stream keys, the streams (``cols``) and the
    truncation bounds (``bounds``, :func:`_tail_bounds`) of its distinct (stream, CV,
    lower, upper) columns, how they spread over the input's elements (``inverse``),
    dims, coordinates and the ``sampled`` mask. An ensemble computes it once and
    reuses it for every chunk (:func:`factors_from_plan`).
    """
    options = _uncertainty(scenario)
    per_year, overrides = options.per_year, options.cv
    plan = []
    for name in uncertain_inputs(inputs, scenario):
        parameter = name not in inputs.data_vars
        x = _parameter_template(inputs, name) if parameter else inputs[name].astype(float)
        c = _cv_of(inputs, name, overrides)
        keys, sdims = _series_keys(name, x, per_year)
        kind = kind_of(name)
        series_dims = [d for d in x.dims if d not in sdims]  # [year] or []
        one = (x == 1.0) | x.isnull()  # missing years (padding) do not count
        if cv.YEAR in x.dims and "first_year" in inputs.attrs:
            # the history before the first accounted year (SPEC §2.2) does not count either:
            # a share of 1 in every accounted year (Table 1's 100 %) stays 1, as without it
            one = one | (x[cv.YEAR] < int(inputs.attrs["first_year"]))
        if per_year or not series_dims:
            ones = x == 1.0
            top = x
        else:
            ones = one.all(series_dims) & (x == 1.0).any(series_dims)
            top = x.max(series_dims)
        lower = xr.full_like(x, -np.inf if kind == "signed" else 0.0, dtype=float)
        if name in SHARE_OF and SHARE_OF[name] in inputs.data_vars:
            # exports are a share of production (SPEC §2.1): truncated at 1 / max(E / P),
            # so no draw exports more than it makes (sales into use stay >= 0)
            base = inputs[SHARE_OF[name]].astype(float)
            share = (x / base.where(base > 0)).fillna(0.0)
            top_share = share if per_year or not series_dims else share.max(series_dims)
            with np.errstate(divide="ignore"):
                upper = xr.where(top_share > 0, 1.0 / top_share, np.inf).broadcast_like(x)
        elif kind == "share":
            with np.errstate(divide="ignore"):
                upper = xr.where(top > 0, 1.0 / top, np.inf).broadcast_like(x)
        else:
            upper = xr.full_like(x, np.inf, dtype=float)
        # sd = cv |x| for signed parameters too: the factor formulation does that
        if not parameter:
            c = c.where(~ones.broadcast_like(x), 0.0)
        sampled = (c > 0).any(cv.YEAR) if cv.YEAR in c.dims else c > 0
        # one column per element: (stream, cv, lower, upper); compute each distinct one once
        stream = xr.DataArray(np.arange(keys.size).reshape([x.sizes[d] for d in sdims]), dims=sdims)
        cols = [_flat_like(a, x) for a in (stream, c, lower, upper)]
        uniq, inverse = np.unique(np.column_stack(cols), axis=0, return_inverse=True)
        streams, bounds = _columns(uniq)  # once: the same in every chunk
        plan.append(
            {
                "name": name,
                "keys": keys,
                "inverse": inverse.reshape(-1),
                "dims": x.dims,
                "shape": x.shape,
                "coords": dict(x.coords.items()),
                "sampled": sampled,
                "regressor_keep": _regressor_keep(x.dims, sampled),
                "cols": streams,
                "bounds": bounds,
            }
        )
    return plan


def _flat_like(a: xr.DataArray, x: xr.DataArray) -> np.ndarray:
    """The values of ``a.broadcast_like(x).transpose(*x.dims)``, flat in C order, as float.

    Where ``a``'s dims are some of ``x``'s, of the same sizes and with the same index
    wherever both have one (what the factor plan's columns are), broadcast as a Variable:
    the same numbers without xarray's alignment, which costs a plan of the China case
    about 0.1 s."""
    same = all(
        d in x.dims
        and a.sizes[d] == x.sizes[d]
        and (d not in a.indexes or d not in x.indexes or a.indexes[d].equals(x.indexes[d]))
        for d in a.dims
    )
    if not same:
        return a.broadcast_like(x).transpose(*x.dims).values.reshape(-1).astype(float)
    v = a.variable.set_dims(dict(x.sizes)).transpose(*x.dims).values  # a broadcast view
    return np.ascontiguousarray(v, dtype=float).reshape(-1)


def _regressor_keep(dims: tuple, sampled) -> np.ndarray:
    """Which regressor columns of a plan item are kept (:func:`regressors`), flat in C order."""
    other = [d for d in dims if d != cv.YEAR]
    if not other:
        return np.array([bool(np.asarray(sampled).any())])
    return np.asarray(sampled.transpose(*other).values, dtype=bool).reshape(-1)


class Factors:
    """Per-draw factors of the sampled inputs on plain arrays, labelled by their plan.

    What the chunks of an ensemble use. ``tables[name]`` holds, for each item of a
    :func:`factor_plan`, the factors of its distinct (cv, bounds, stream) columns,
    (columns, draws); the item's ``inverse`` lays them out over the input's elements.
    :meth:`array` gives the factor array (draw, *dims of the input), the same numbers
    as :func:`draw_factors` gives as DataArrays (:meth:`labelled`);
    :func:`apply_factors` and :meth:`regressors` read the tables without building
    that array or a labelled object per input.
    """

    __slots__ = ("plan", "draws", "tables")

    def __init__(self, plan: list[dict], draws: np.ndarray, tables: dict[str, np.ndarray]):
        self.plan = plan
        self.draws = draws
        self.tables = tables

    def array(self, item: dict, times: np.ndarray | None = None) -> np.ndarray:
        """The factors (draw, *dims) of a plan item; with ``times`` (the input's values,
        its dims), the factors times the input, computed as one array."""
        return _item_array(self.tables[item["name"]], item, times)

    def labelled(self) -> dict[str, xr.DataArray]:
        """The factors as DataArrays (draw, *input dims), as :func:`draw_factors` returns them."""
        return {
            item["name"]: xr.DataArray(
                self.array(item),
                dims=(cv.DRAW, *item["dims"]),
                coords={**item["coords"], cv.DRAW: self.draws},
                attrs={"sampled": item["sampled"]},
            )
            for item in self.plan
            if item["name"] in self.tables
        }

    def regressors(self) -> np.ndarray:
        """(draws, regressors) values of :func:`regressors` (the plan's columns, in its order).

        Read from the tables: a per-year factor's mean over years adds each element's
        column, year by year in :func:`_mean_in_order`'s order (the same numbers).
        """
        n = self.draws.size
        cols = []
        for item in self.plan:
            table, inverse = self.tables[item["name"]], item["inverse"].reshape(item["shape"])
            if cv.YEAR in item["dims"]:  # the mean over years
                rows = np.moveaxis(inverse, item["dims"].index(cv.YEAR), -1)
                if not rows.shape[-1]:
                    raise ValueError("a mean over no years")
                rows = np.ascontiguousarray(rows.reshape(-1, rows.shape[-1]), dtype=np.int64)
                total = np.empty((rows.shape[0], n))
                _sum_rows_in_order(table, rows, total)
                cols.append((total / rows.shape[1]).T[:, item["regressor_keep"]])
            else:
                cols.append(table[inverse.reshape(-1)[item["regressor_keep"]]].T)
        return np.concatenate(cols, axis=1) if cols else np.zeros((n, 0))

    def clear(self) -> None:
        """Let the tables go (see :func:`ndsim.ensemble.draws.run_draws`)."""
        self.tables.clear()


def factor_arrays(plan: list[dict], draws: np.ndarray, seed: int) -> Factors:
    """The factors of :func:`draw_factors` for the given draws, on plain arrays."""
    draws = np.asarray(draws, dtype=np.int64).reshape(-1)
    tables = {item["name"]: _item_table(item, uniforms(seed, item["keys"], draws)) for item in plan}
    return Factors(plan, draws, tables)


def factors_from_plan(plan: list[dict], draws: np.ndarray, seed: int) -> dict[str, xr.DataArray]:
    """The factors of :func:`draw_factors` for the given draws, from a :func:`factor_plan`."""
    return factor_arrays(plan, draws, seed).labelled()


def _columns(uniq: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The streams and the bounds (:func:`_tail_bounds`) of a plan item's distinct
    (stream, cv, lower, upper) columns."""
    return uniq[:, 0].astype(np.int64), _tail_bounds(uniq[:, 1], uniq[:, 2], uniq[:, 3])


def _item_table(item: dict, u: np.ndarray) -> np.ndarray:
    """Factors (columns, n) of the distinct columns of one plan item from its uniforms u
    (n, streams)."""
    return _factor_table(u, item["cols"], item["bounds"])


def _item_array(table: np.ndarray, item: dict, times: np.ndarray | None = None) -> np.ndarray:
    """The factors (n, *shape) of a plan item from its ``table`` (columns, n), laid out by
    its ``inverse``; with ``times`` (the input's values), the factors times the input."""
    inverse = item["inverse"]
    out = np.empty((inverse.size, table.shape[1]))
    if times is None:
        _laid_out(table, inverse, out)
    else:
        x = np.ascontiguousarray(times, dtype=np.float64).reshape(-1)
        if x.size != inverse.size:
            raise ValueError(f"the factors of {item.get('name', 'an input')} do not fit it")
        _laid_out_times(table, inverse, x, out)
    # (elements, draws) in memory: the draws are the factors' fastest axis
    return out.T.reshape((table.shape[1], *item["shape"]))


# --- Saltelli design (Sobol indices) ---------------------------------------------------

#: key offset of the second independent sample (B) of a Saltelli design
_SALTELLI_B = label_key("saltelli-B")


def saltelli_groups(
    plan: list[dict], scenario: Scenario | None = None
) -> list[tuple[int, int, str]]:
    """The inputs of a Sobol analysis: every sampled series, as (plan item, stream, label).

    Labels are those of :func:`regressors` (e.g. ``"production[AC]"``), so
    Sobol indices and regression coefficients line up.

    Raises
    ------
    ScenarioError
        With ``[uncertainty] per_year = true`` (a series is then many
        factors; Sobol indices here are per series).
    """
    if _uncertainty(scenario).per_year:
        raise ScenarioError(
            "key uncertainty.per_year: Sobol indices need one factor per series (per_year = false)",
            file=_scenario_file(scenario),
        )
    # the series in regressor order: plan items in turn, each item's sampled streams in
    # C order over its series dims (the stream numbering of factor_plan)
    pairs = [
        (i, int(j))
        for i, item in enumerate(plan)
        for j in np.flatnonzero(np.asarray(item["sampled"]).reshape(-1))
    ]
    labels = regressors(factors_from_plan(plan, np.zeros(1, dtype=np.int64), 0)).input.values
    if len(labels) != len(pairs):
        raise RuntimeError("Sobol inputs and regressors differ")
    groups = [(i, j, str(label)) for (i, j), label in zip(pairs, labels, strict=True)]
    return groups


def saltelli_factors(
    plan: list[dict], groups: list[tuple[int, int, str]], rows: np.ndarray, seed: int
) -> dict[str, xr.DataArray]:
    """Factors of rows of a Saltelli design as DataArrays (see :func:`saltelli_factor_arrays`)."""
    return saltelli_factor_arrays(plan, groups, rows, seed).labelled()


def saltelli_factor_arrays(
    plan: list[dict], groups: list[tuple[int, int, str]], rows: np.ndarray, seed: int
) -> Factors:
    """Factors of rows of a Saltelli design, each depending only on (seed, row).

    With k = len(groups) and m = k + 2, row r belongs to base sample n = r // m
    and block b = r % m: b = 0 is sample A (the ensemble's draw n), b = 1 an
    independent sample B, b = 2 + i is A with group i taken from B (Saltelli
    et al. 2010). Every row is a draw from the inputs' joint distribution.
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    m = len(groups) + 2
    base, block = rows // m, rows % m
    out: dict[str, np.ndarray] = {}
    for i, item in enumerate(plan):
        u = uniforms(seed, item["keys"], base)
        with np.errstate(over="ignore"):
            ub = uniforms(seed, item["keys"] ^ _SALTELLI_B, base)
        u[block == 1] = ub[block == 1]
        for g, (gi, j, _) in enumerate(groups):
            if gi == i:
                sel = block == 2 + g
                u[sel, j] = ub[sel, j]
        out[item["name"]] = _item_table(item, u)
    return Factors(plan, rows, out)


def sample_inputs(
    inputs: xr.Dataset, scenario: Scenario | None, draws: np.ndarray, seed: int
) -> xr.Dataset:
    """Return `inputs` with a leading ``draw`` dim on every sampled variable.

    Parameters
    ----------
    inputs : xarray.Dataset
        Canonical input Dataset with quality flags ``q_<name>``.
    scenario : Scenario or None
        Which inputs, per-year or per-series draws, CV overrides (``[uncertainty]``).
    draws : numpy.ndarray of int
        Draw numbers [-]; the result for draw d does not depend on the other draws.
    seed : int
        Seed [-], non-negative.

    Returns
    -------
    xarray.Dataset
        Sampled variables have dims (draw, ...) and keep their attrs; the rest is unchanged.

    Notes
    -----
    x_d = f_d · x with f_d ~ N(1, CV²) truncated as described in the module
    docstring (SPEC §5).

    Examples
    --------
    >>> ds = sample_inputs(inputs, None, np.arange(1000), seed=1)  # doctest: +SKIP
    """
    return apply_factors(inputs, draw_factors(inputs, scenario, draws, seed))


def apply_factors(inputs: xr.Dataset, factors: Mapping[str, xr.DataArray] | Factors) -> xr.Dataset:
    """`inputs` with each sampled variable multiplied by its factors (see :func:`draw_factors`).

    ``factors`` as DataArrays are matched to the inputs by label; as :class:`Factors` (an
    ensemble's chunks) they are laid out on the inputs' own dims by their plan and go in
    as plain arrays, the same numbers (each factor array times its input made in one
    pass, :meth:`Factors.array`); ``factors`` is then left empty.
    """
    if isinstance(factors, Factors):
        return _scaled(inputs, factors)  # trade follows production there too
    new = {}
    for name, f in factors.items():
        if name not in inputs.data_vars:  # factor of a scenario parameter
            v = f.transpose(cv.DRAW, cv.PRODUCT)
            v.attrs = _parameter_attrs(name)
            new[name] = v
            continue
        x = inputs[name]
        if f.dims == (cv.DRAW, *x.dims) and _same_indexes(f, x):
            # the factors are laid out on the input's own labels (factor_plan): the product
            # directly, without xarray's alignment
            data = f.values * x.values.astype(float)
            v = xr.DataArray(data, dims=f.dims, coords=f.coords, attrs=dict(x.attrs))
        else:
            v = (f * x.astype(float)).transpose(cv.DRAW, *x.dims)
            v.attrs = dict(x.attrs)
        new[name] = v
    out = inputs.copy()
    out.update(new)  # one merge for all sampled variables
    return _trade_follows_consumption(inputs, out)


def _parameter_attrs(name: str) -> dict[str, str]:
    """Attributes of a scenario parameter's factor variable in the sampled inputs."""
    return {
        "units": "1",
        "long_name": name.replace("_", " "),
        "description": "per-draw factor the forecast multiplies the scenario parameter by",
    }


def _scaled(inputs: xr.Dataset, factors: Factors) -> xr.Dataset:
    """`inputs` with each variable of ``factors`` multiplied by its factors, on plain arrays,
    and final-product trade following production (:func:`_trade_follows_consumption`).

    The factors are used up: each sampled variable is made from its factor table and
    the input in one pass (no factor array of the size of the sampled inputs), and
    ``factors`` is left empty. The Dataset is built once, from Variables and the
    inputs' own indexes (no merge of the sampled variables into a copy of the inputs).
    """
    new = {}
    for item in factors.plan:
        name = item["name"]
        if name not in factors.tables:
            continue
        dims = (cv.DRAW, *item["dims"])
        if name not in inputs.data_vars:  # factor of a scenario parameter (draw, product)
            new[name] = xr.Variable(dims, factors.array(item), _parameter_attrs(name))
        else:
            x = inputs.variables[name]
            if x.dims != tuple(item["dims"]) or x.shape != tuple(item["shape"]):
                raise ValueError(f"the factors of {name} do not fit the inputs: another plan's")
            # the factors times the input in one pass: f x as numpy multiplies them
            new[name] = xr.Variable(dims, factors.array(item, x.values), dict(x.attrs))
        del factors.tables[name]
    trade = _trade_values(inputs, new)
    if trade is not None:
        new.update(trade)
    draw = PandasIndex(factors.draws, cv.DRAW)
    coords = xr.Coordinates(
        {**{c: inputs.coords.variables[c] for c in inputs.coords}, **draw.create_variables()},
        indexes={**inputs.xindexes, cv.DRAW: draw},
    )
    variables = {v: inputs.variables[v] for v in inputs.data_vars} | new
    out = xr.Dataset(variables, coords=coords, attrs=inputs.attrs)
    return out if trade is not None else _trade_follows_consumption(inputs, out)


def _trade_values(inputs: xr.Dataset, new: Mapping[str, xr.Variable]) -> dict | None:
    """:func:`_trade_follows_consumption` on sampled Variables (``new``, with draws first).

    The same numbers, on arrays laid out on the inputs' own labels: ``{}`` where
    production is not sampled, None where a traded variable is laid out otherwise
    (the labelled rule applies then).
    """
    if "production" not in inputs.data_vars or "production" not in new:
        return {}
    det, prod = inputs.variables["production"], new["production"]
    d = det.values
    traded = {}
    for name in FOLLOWS_PRODUCTION:
        if name not in inputs.data_vars:
            continue
        x = new[name] if name in new else inputs.variables[name]
        if x.dims not in (prod.dims, prod.dims[1:]):
            return None
        traded[name] = x
    p = prod.values
    if p.ndim == 3 and d.shape == p.shape[1:] and d.dtype == np.float64:
        # one compiled pass: each draw's ratio to the data, times each traded variable
        updates = {}
        for name, x in traded.items():
            out = np.empty_like(p)  # (the layout of the draws' production)
            _times_ratio(p, d, np.broadcast_to(x.values.astype(float, copy=False), p.shape), out)
            updates[name] = xr.Variable(prod.dims, out, dict(x.attrs))
        return updates
    with np.errstate(invalid="ignore"):
        ratio = np.where(d > 0, p / np.where(d > 0, d, np.nan), 1.0)
    return {
        name: xr.Variable(prod.dims, ratio * x.values, dict(x.attrs)) for name, x in traded.items()
    }


@njit(cache=True, nogil=True)
def _times_ratio(p, d, x, out):  # pragma: no cover - compiled
    """out = r x with r = p / d where d > 0, else 1 (p, x, out (draw, a, b); d (a, b))."""
    for j in range(p.shape[1]):
        for k in range(p.shape[2]):
            dk = d[j, k]
            for i in range(p.shape[0]):
                r = p[i, j, k] / dk if dk > 0 else 1.0
                out[i, j, k] = r * x[i, j, k]


def _same_indexes(a: xr.DataArray, b: xr.DataArray) -> bool:
    """True if every index of ``b`` is one of ``a`` with the same labels."""
    return all(d in a.indexes and a.indexes[d].equals(idx) for d, idx in b.indexes.items())


#: final-product trade in units, held at its share of production in every draw
FOLLOWS_PRODUCTION = ("units_exports", "units_imports")


def _trade_follows_consumption(inputs: xr.Dataset, out: xr.Dataset) -> xr.Dataset:
    """Scale final-product trade in units with each draw's production.

    Exports and imports are data in units of the same products whose
    production a draw varies (SPEC §2.1). Each draw keeps the data's export
    and import shares of production, so a draw with low production does not
    export more than it makes (which would give negative sales into use).
    Trade's own factor, where trade is sampled, multiplies on top.
    """
    if "production" not in inputs.data_vars or cv.DRAW not in out["production"].dims:
        return out
    traded = [n for n in ("production", *FOLLOWS_PRODUCTION) if n in out.data_vars]
    if out["production"].dims == (cv.DRAW, *inputs["production"].dims) and all(
        _same_indexes(out[n], inputs[n]) for n in traded
    ):  # the layout apply_factors gives (the inputs' own labels): on the arrays
        sampled = {n: out.variables[n] for n in traded if cv.DRAW in out.variables[n].dims}
        updates = _trade_values(inputs, sampled)
        if updates is not None:
            out.update(updates)
            return out
    det, prod = inputs["production"], out["production"]
    ratio = xr.where(det > 0, prod / det.where(det > 0), 1.0)
    updates = {}
    for name in FOLLOWS_PRODUCTION:
        if name not in out.data_vars:
            continue
        x = out[name]
        v = (ratio * x).transpose(cv.DRAW, *[d for d in x.dims if d != cv.DRAW])
        v.attrs = dict(x.attrs)
        updates[name] = v
    out.update(updates)
    return out


def _mean_in_order(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` added in index order, elementwise: the same bits for any number of
    draws (numpy's reductions may group the additions differently for different shapes)."""
    by = np.moveaxis(x, axis, -1)
    if not by.shape[-1]:
        raise ValueError("a mean over no years")
    # (draw, series, year) as the factors come (a view), any other shape as (rest, 1, year)
    three = by if by.ndim == 3 else by.reshape(-1, 1, by.shape[-1])
    out = np.empty(three.shape[1::-1]).T  # (draw, series), the draws the fastest axis
    _sum_in_order(three, out)
    return (out / by.shape[-1]).reshape(by.shape[:-1])


@njit(cache=True, nogil=True)
def _sum_in_order(x, out):  # pragma: no cover - compiled
    """out[i, j] = x[i, j, 0] + x[i, j, 1] + ..., added in that order (from x[i, j, 0])."""
    for j in range(x.shape[1]):
        for i in range(x.shape[0]):
            out[i, j] = x[i, j, 0]
    for t in range(1, x.shape[2]):
        for j in range(x.shape[1]):
            for i in range(x.shape[0]):
                out[i, j] += x[i, j, t]


def _sequential_mean(f: xr.DataArray, dim: str) -> xr.DataArray:
    """:func:`_mean_in_order` of a DataArray over ``dim``."""
    g = f.transpose(dim, ...)
    return xr.DataArray(
        _mean_in_order(g.values, 0),
        dims=g.dims[1:],
        coords={k: g[k] for k in g.dims[1:] if k in g.coords},
    )


def regressors(factors: Mapping[str, xr.DataArray]) -> xr.DataArray:
    """Per-draw regressors for sensitivity analysis: one column per sampled series.

    The factor of each series (its mean over years for per-year draws);
    series that are not sampled (CV 0, or exactly 1 throughout) are left
    out. The columns do not depend on which draws are given.

    Returns
    -------
    xarray.DataArray
        Dims (draw, input); ``input`` labels like ``"production[AC]"``.
    """
    cols: list[np.ndarray] = []
    labels: list[str] = []
    for name, f in factors.items():
        g = _sequential_mean(f, cv.YEAR) if cv.YEAR in f.dims else f
        other = [d for d in g.dims if d != cv.DRAW]
        mask = f.attrs.get("sampled")
        # one column per element, in C order over the other dims (as stack() would)
        arr = g.transpose(cv.DRAW, *other).values.reshape(g.sizes[cv.DRAW], -1)
        names = [
            f"{name}[{','.join(str(v) for v in i)}]" if other else name
            for i in itertools.product(*(g[d].values for d in other))
        ]
        keep = np.ones(len(names), bool) if mask is None else _regressor_keep(tuple(other), mask)
        cols.append(arr[:, keep])
        labels.extend(np.array(names)[keep].tolist())
    n = next(iter(factors.values())).sizes[cv.DRAW] if factors else 0
    mat = np.concatenate(cols, axis=1) if cols else np.zeros((n, 0))
    return xr.DataArray(mat, dims=(cv.DRAW, "input"), coords={"input": np.array(labels, dtype=str)})
