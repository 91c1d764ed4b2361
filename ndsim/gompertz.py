"""Gompertz ownership curves: evaluation and fitting.

The stock-driven forecast (SPEC §2, the paper's eq. 7-8) lets the number of
products in use follow a Gompertz curve of GDP per capita,

    V(t) = VS * exp(alpha * exp(beta * GDP(t)))                       (7)

with VS the saturation level and alpha, beta < 0 shaping the S-curve. This
module holds the curve (one broadcasting expression, so it runs over any
``draw``/``product``/``year`` layout) and its least-squares fit to ownership
data, with the covariance of the fitted parameters; :mod:`ndsim.fleet` joins
the forecast fleet to it.

References
----------
Yao, X., Geng, Y., Sarkis, J., Xiao, S., Gao, Z. (2021). Dynamic neodymium
stocks and flows analysis in China. Resources, Conservation and Recycling 174,
105752. doi:10.1016/j.resconrec.2021.105752
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "GompertzFit",
    "gompertz",
    "fit_gompertz",
]

#: largest saturation a free fit may reach, as a multiple of the largest ownership observed;
#: a fit that runs into this bound has not identified the saturation level
MAX_SATURATION_FACTOR = 20.0
#: largest standard error of ln(VS) for the saturation to count as identified (factor ~1.65)
MAX_SATURATION_SE_LOG = 0.5
#: fewest degrees of freedom (points - free parameters) for a free saturation to count as identified
MIN_DOF_SATURATION = 2
#: the fits kept in the cache folder (the most recently used)
FIT_CACHE_ENTRIES = 64


def gompertz(gdp, saturation, alpha, beta):
    """Gompertz ownership curve of GDP per capita.

    Parameters
    ----------
    gdp : array_like or xarray.DataArray
        GDP per capita [currency person-1 yr-1], in the unit ``beta`` refers to.
    saturation : array_like or xarray.DataArray
        Saturation level VS [count person-1 or count].
    alpha : array_like or xarray.DataArray
        Displacement (< 0) [1].
    beta : array_like or xarray.DataArray
        Growth parameter (< 0) [person yr currency-1].

    Returns
    -------
    array_like or xarray.DataArray
        Ownership V [unit of ``saturation``], broadcast over all inputs.

    Notes
    -----
    V = VS exp(alpha exp(beta GDP)) (Yao et al. 2021, eq. 7). One expression:
    xarray arguments broadcast by dimension name (e.g. ``draw``, ``product``,
    ``year``), numpy ones by position.

    Examples
    --------
    >>> round(float(gompertz(10_000.0, 0.5, -4.0, -2e-4)), 6)
    0.290852
    """
    return saturation * np.exp(alpha * np.exp(beta * gdp))


@dataclass(frozen=True)
class GompertzFit:
    """One fitted Gompertz curve, with the data it was fitted to.

    Attributes
    ----------
    saturation, alpha, beta : float
        Fitted parameters (units as in :func:`gompertz`); before any splice.
    mode : str
        Which parameters were fitted, e.g. ``"saturation, alpha, beta fitted"``
        or ``"alpha, beta fitted; saturation given"``.
    gdp, ownership : tuple of float
        The data points used.
    residuals : tuple of float
        ownership - fitted curve, at those points [unit of ownership].
    rmse_log : float
        Root mean square of ln(fitted) - ln(observed) [1].
    saturation_identified : bool
        Whether the data determine the saturation level: a free fit with at
        least :data:`MIN_DOF_SATURATION` degrees of freedom that neither runs
        into the upper bound nor has a standard error of ln VS above
        :data:`MAX_SATURATION_SE_LOG`; a fit whose saturation falls to its lower
        bound, the highest ownership observed, counts as identified when a later
        point lies below that highest one (the statistic has peaked); ``True``
        when the saturation was given.
    saturation_se_log : float
        Standard error of ln(VS) from the Jacobian (NaN when given, when the
        degrees of freedom are zero or when the saturation is on its lower bound).
    """

    saturation: float
    alpha: float
    beta: float
    mode: str
    gdp: tuple[float, ...] = field(default=())
    ownership: tuple[float, ...] = field(default=())
    residuals: tuple[float, ...] = field(default=())
    rmse_log: float = float("nan")
    saturation_identified: bool = True
    saturation_se_log: float = float("nan")
    theta: tuple[float, ...] = field(default=())
    cov: tuple[tuple[float, ...], ...] = field(default=())
    scale: float = 1.0

    def __call__(self, gdp):
        """Evaluate the fitted curve at ``gdp``."""
        return gompertz(gdp, self.saturation, self.alpha, self.beta)


def fit_gompertz(
    gdp,
    ownership,
    *,
    saturation: float | None = None,
    max_saturation_factor: float = MAX_SATURATION_FACTOR,
) -> GompertzFit:
    """Least-squares fit of a Gompertz curve to ownership data.

    Parameters
    ----------
    gdp : array_like
        GDP per capita of the data points [currency person-1 yr-1].
    ownership : array_like
        Ownership at those points [count person-1 or count], > 0.
    saturation : float, optional
        Saturation level VS to hold fixed (from the literature or an estimate)
        instead of fitting it.
    max_saturation_factor : float
        Upper bound of a free VS as a multiple of the largest ownership.

    Returns
    -------
    GompertzFit

    Raises
    ------
    ValueError
        Too few points for the free parameters (at least one degree of freedom
        is required: 4 points for a free fit, 3 with VS given), non-positive ownership, or a given saturation not above
        the ownership it has to exceed.

    Notes
    -----
    Residuals are taken on ln V, so a fast-growing series weighs its early
    small values like its late ones. Parameters are searched in transformed
    form (ln VS, ln(-beta * max GDP), ln(-alpha)), which keeps alpha, beta < 0
    and VS above the data; a few starting points guard against local minima.

    A fit is a function of its arguments alone, and the twelve searches take a
    good part of a run's time: the result is kept in ndsim's cache folder
    (:func:`ndsim.io.readers.cache_dir`), keyed on the bytes of the arguments
    and on ndsim's source and library versions
    (:func:`ndsim.io.readers.source_stamp`), and a later call with the same
    arguments returns it. Other data is a new key, fitted from scratch.
    """
    x_gdp = np.asarray(gdp, dtype=float).ravel()
    y = np.asarray(ownership, dtype=float).ravel()
    key = _fit_key(x_gdp, y, saturation, max_saturation_factor)
    if key is not None:
        from ndsim.io.readers import cache_get

        cached = cache_get("fits", key)
        if isinstance(cached, GompertzFit):
            return cached
    fit = _fit(x_gdp, y, saturation, max_saturation_factor)
    if key is not None:
        from ndsim.io.readers import cache_put

        cache_put("fits", key, fit, FIT_CACHE_ENTRIES)
    return fit


def _fit_key(
    x_gdp: np.ndarray, y: np.ndarray, saturation: float | None, max_saturation_factor: float
) -> str | None:
    """Cache key of a fit: its arguments, ndsim's source and the machine; None without a cache."""
    import hashlib
    import platform

    from ndsim.io.readers import cache_dir, source_stamp

    if cache_dir() is None:
        return None
    digest = hashlib.sha256()
    for part in (
        "gompertz",
        source_stamp(),
        platform.machine(),
        *(
            f"{type(v).__module__}.{type(v).__qualname__} {v!r}"
            for v in (saturation, max_saturation_factor)
        ),
    ):
        digest.update(part.encode() + b"\0")
    for values in (x_gdp, y):
        digest.update(values.size.to_bytes(8, "little"))
        digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    return digest.hexdigest()


def _fit(
    x_gdp: np.ndarray, y: np.ndarray, saturation: float | None, max_saturation_factor: float
) -> GompertzFit:
    """The fit of :func:`fit_gompertz` (no cache)."""
    if x_gdp.shape != y.shape:
        raise ValueError("gdp and ownership must have the same length")
    ok = np.isfinite(x_gdp) & np.isfinite(y)
    x_gdp, y = x_gdp[ok], y[ok]
    if np.any(y <= 0):
        raise ValueError("ownership must be positive")
    free_vs = saturation is None
    n_free = 2 + int(free_vs)
    if y.size < n_free + 1:
        raise ValueError(
            f"{y.size} ownership points for {n_free} free parameters: need at least {n_free + 1}"
        )
    scale = float(np.max(np.abs(x_gdp)))
    x = x_gdp / scale
    ly = np.log(y)
    y_max = float(y.max())
    if not free_vs and saturation <= y_max:
        raise ValueError(f"saturation {saturation:g} is not above the ownership {y_max:g}")

    def unpack(p):
        i = 0
        if free_vs:
            lvs = p[0]
            i = 1
        else:
            lvs = np.log(saturation)
        bs = -np.exp(p[i])
        a = -np.exp(p[i + 1])
        return lvs, a, bs

    def resid(p):
        lvs, a, bs = unpack(p)
        return lvs + a * np.exp(bs * x) - ly

    lo_vs, hi_vs = np.log(y_max) + 1e-9, np.log(y_max * max_saturation_factor)
    lo, hi = [], []
    if free_vs:
        lo.append(lo_vs)
        hi.append(hi_vs)
    lo += [np.log(1e-3), np.log(1e-6)]
    hi += [np.log(60.0), np.log(1e4)]
    lo, hi = np.array(lo), np.array(hi)

    from scipy.optimize import least_squares

    best = None
    vs_starts = [1.05, 1.5, 3.0, 8.0] if free_vs else [None]
    for fvs in vs_starts:
        lvs0 = np.log(y_max * fvs) if free_vs else np.log(saturation)
        for bs0 in (0.5, 2.0, 6.0):
            p0 = []
            if free_vs:
                p0.append(lvs0)
            p0.append(np.log(bs0))
            # alpha from the mean of ln(y / VS) exp(bs x) (exact for a perfect curve)
            a0 = np.mean((ly - lvs0) * np.exp(bs0 * x))
            p0.append(np.log(min(max(-a0, 1e-5), 1e3)))
            p0 = np.clip(np.array(p0), lo + 1e-9, hi - 1e-9)
            res = least_squares(resid, p0, bounds=(lo, hi), method="trf", x_scale="jac")
            if best is None or res.cost < best.cost:
                best = res
    lvs, a, bs = unpack(best.x)
    r_log = resid(best.x)
    fitted = np.exp(lvs + a * np.exp(bs * x))
    dof = y.size - n_free
    # covariance of the searched parameters (ln VS, ln(-beta scale), ln(-alpha)) from the
    # Jacobian at the optimum, for the saturation's identification and for Monte Carlo draws
    # (SPEC §5); none where a parameter sits on its search bound or the matrix is not
    # positive definite: the curvature there says nothing about the spread
    at_a_bound = bool(np.any(best.active_mask != 0)) or bool(
        np.any((best.x <= lo + 1e-6) | (best.x >= hi - 1e-6))
    )
    cov = np.full((best.x.size, best.x.size), np.inf)
    if dof > 0:
        with contextlib.suppress(np.linalg.LinAlgError):
            cov = np.linalg.inv(best.jac.T @ best.jac) * (2.0 * best.cost / dof)
            cov = 0.5 * (cov + cov.T)
    positive = bool(np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(cov) > 0))
    cov_t = (
        tuple(tuple(float(v) for v in row) for row in cov) if positive and not at_a_bound else ()
    )
    se = float("nan")
    identified = True
    at_peak = False
    if free_vs:
        at_bound = best.x[0] > hi_vs - 1e-3
        # on its lower bound the saturation is the highest ownership observed, pressed there
        # by a statistic that stopped rising: a standard error from the Jacobian assumes an
        # optimum inside the bounds and says nothing here. Where beta is on its bound too,
        # the curve is flat, only VS e^alpha is fitted and the Jacobian singular: its
        # "standard error" is rounding noise (0 or 1e6 as the last bits of the data fall).
        # So the rule is the data's: the curve, capped at the highest point, is determined
        # when a later point lies below that point (the statistic has peaked), with enough
        # degrees of freedom
        at_peak = bool(lvs < lo_vs + 1e-6)
        if at_peak:
            peaked = int(np.argmax(y)) < y.size - 1
            identified = peaked and dof >= MIN_DOF_SATURATION
        else:
            se = float(np.sqrt(max(cov[0, 0], 0.0))) if np.isfinite(cov[0, 0]) else float("inf")
            identified = bool(
                (not at_bound)
                and dof >= MIN_DOF_SATURATION
                and np.isfinite(se)
                and se <= MAX_SATURATION_SE_LOG
            )
    mode = ("saturation, alpha, beta" if free_vs else "alpha, beta") + " fitted"
    if at_peak and identified:
        mode += "; saturation at the highest ownership observed, later points below it (peaked)"
    if at_a_bound:
        mode += " (a parameter on its search bound: no covariance, not sampled)"
    if not free_vs:
        mode += "; saturation given"
    return GompertzFit(
        saturation=float(np.exp(lvs)),
        alpha=float(a),
        beta=float(bs / scale),
        mode=mode,
        gdp=tuple(float(v) for v in x_gdp),
        ownership=tuple(float(v) for v in y),
        residuals=tuple(float(v) for v in (y - fitted)),
        rmse_log=float(np.sqrt(np.mean(r_log**2))),
        saturation_identified=identified,
        saturation_se_log=se,
        theta=tuple(float(v) for v in best.x),
        cov=cov_t,
        scale=scale,
    )
