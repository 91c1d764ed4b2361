"""Gompertz ownership curves: evaluation, fitting, splicing and Monte Carlo rescaling.

The stock-driven forecast (SPEC §2, the paper's eq. 7-8) lets the number of
products in use follow a Gompertz curve of GDP per capita,

    V(t) = VS * exp(alpha * exp(beta * GDP(t)))                       (7)

with VS the saturation level and alpha, beta < 0 shaping the S-curve. This
module holds the curve (one broadcasting expression, so it runs over any
``draw``/``product``/``year`` layout), its least-squares fit to ownership
data, the splice that makes the curve meet the accounted stock of the last
accounted year, and the rule that picks the accounted years an empty start
stock no longer biases.

References
----------
Yao, X., Geng, Y., Sarkis, J., Xiao, S., Gao, Z. (2021). Dynamic neodymium
stocks and flows analysis in China. Resources, Conservation and Recycling 174,
105752. doi:10.1016/j.resconrec.2021.105752
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy.optimize import least_squares

__all__ = [
    "GompertzFit",
    "gompertz",
    "fit_gompertz",
    "splice_saturation",
    "rescale_saturation",
    "empty_start_bias",
]

#: largest saturation a free fit may reach, as a multiple of the largest ownership observed;
#: a fit that runs into this bound has not identified the saturation level
MAX_SATURATION_FACTOR = 20.0
#: largest standard error of ln(VS) for the saturation to count as identified (factor ~1.65)
MAX_SATURATION_SE_LOG = 0.5
#: fewest degrees of freedom (points - free parameters) for a free saturation to count as identified
MIN_DOF_SATURATION = 2


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


def splice_saturation(saturation, alpha, beta, gdp_anchor, value_anchor):
    """Saturation level that makes the curve pass through an anchor point.

    Parameters
    ----------
    saturation, alpha, beta : array_like or xarray.DataArray
        Curve parameters (units as in :func:`gompertz`).
    gdp_anchor : array_like or xarray.DataArray
        GDP per capita of the anchor year [currency person-1 yr-1].
    value_anchor : array_like or xarray.DataArray
        Ownership the curve must meet in that year [unit of ``saturation``].

    Returns
    -------
    array_like or xarray.DataArray
        VS' = VS * value_anchor / V(gdp_anchor): the shape (alpha, beta) is kept,
        the level scaled, so that V'(gdp_anchor) = value_anchor exactly
        (up to rounding).
    """
    return saturation * (value_anchor / gompertz(gdp_anchor, saturation, alpha, beta))


def rescale_saturation(saturation, ownership, ownership_reference):
    """Monte Carlo rescaling of the saturation level (SPEC §5).

    Parameters
    ----------
    saturation : array_like or xarray.DataArray
        Saturation level VS of the fit on the deterministic run.
    ownership : array_like or xarray.DataArray
        Each draw's accounted ownership in the last accounted year T,
        V_d(T) = S_d(T) / (MI_d AR_d(T) pop(T)) [unit of ``saturation``].
    ownership_reference : array_like or xarray.DataArray
        The deterministic ownership V(T) the fit was spliced to.

    Returns
    -------
    array_like or xarray.DataArray
        VS_d = VS * V_d(T) / V(T), so every draw's curve meets its own stock in T:
        S_d(T) = V_d(T) MI_d AR_d(T) pop(T).

    Notes
    -----
    SPEC §5 writes the rule on the stock, VS_d = VS S_d(T) / S(T), for a curve
    of the Nd stock itself. With the curve on ownership and the Nd content and
    adoption rate drawn too, the same rule applied to the stock-level curve
    VS MI AR pop reads as above (both coincide when MI and AR are not drawn).
    The parameters are fitted once; only the level moves with the draw, never
    alpha or beta (no refitting per draw).
    """
    return saturation * (ownership / ownership_reference)


def empty_start_bias(inflow: xr.DataArray, pdf: xr.DataArray, *, growth_years: int = 5):
    """Share of the in-use stock an empty start stock leaves out, per year.

    The accounting starts from an empty stock (SPEC §2): the products bought
    before the first year and still in use are missing from its stock. This
    estimates that missing share, assuming the pre-start inflows continued the
    growth of the first accounted years backwards.

    Parameters
    ----------
    inflow : xarray.DataArray
        Accounted use-stage inflow (..., year) [t yr-1]; the first year is the
        first accounted year.
    pdf : xarray.DataArray
        Lifetime pdf (..., age) [yr-1], f(a) for a = 0, 1, ...
    growth_years : int
        Number of years after the start whose geometric mean growth rate g is
        extrapolated backwards (clamped at g >= 0: a flat or shrinking start
        counts as flat, the conservative choice).

    Returns
    -------
    xarray.DataArray
        bias(t) = M(t) / (S(t) + M(t)) [1] over (..., year), with
        M(t) = sum_{k >= 1} F(first) (1 + g)^(-k) s(t - first + k) the missing
        survivors, s(a) = 1 - sum_{b <= a} f(b) the survival to age a, and S(t)
        the stock built from the accounted inflows alone (same survival).

    Notes
    -----
    Rule used for Gompertz fits to accounted ownership: a year is usable when
    its bias is at most 5 %. The survival sums are the ``end`` timing
    convention's; for ``middle`` timing they are a close approximation, good
    enough for a selection rule.
    """
    years = inflow["year"].values
    n_years = years.size
    n_ages = pdf.sizes["age"]
    cum = pdf.cumsum("age")
    surv = (1.0 - cum).clip(min=0.0)  # s(a), a = 0..n_ages-1
    # stock from the accounted inflows: S(t) = sum_c F(c) s(t - c)
    lag = np.arange(n_years)[:, None] - np.arange(n_years)[None, :]  # t - c
    valid = lag >= 0
    s_lag = surv.isel(age=xr.DataArray(np.clip(lag, 0, n_ages - 1), dims=("year", "cohort")))
    s_lag = s_lag.where(xr.DataArray(valid & (lag < n_ages), dims=("year", "cohort")), 0.0)
    f_c = inflow.drop_vars("year", errors="ignore").rename(year="cohort")
    stock = (s_lag * f_c).sum("cohort")
    # missing pre-start cohorts k = 1..n_ages back
    m = min(growth_years, n_years - 1)
    f0 = inflow.isel(year=0, drop=True)
    if m >= 1:
        fm = inflow.isel(year=m, drop=True)
        ratio = xr.where((f0 > 0) & (fm > 0), fm / f0, 1.0)
        g = (ratio ** (1.0 / m) - 1.0).clip(min=0.0)
    else:
        g = xr.zeros_like(f0)
    k = np.arange(1, n_ages + 1)
    age_missing = np.arange(n_years)[:, None] + k[None, :]  # t - first + k
    in_range = age_missing < n_ages
    s_m = surv.isel(age=xr.DataArray(np.clip(age_missing, 0, n_ages - 1), dims=("year", "back")))
    s_m = s_m.where(xr.DataArray(in_range, dims=("year", "back")), 0.0)
    weights = (1.0 + g) ** (-xr.DataArray(k.astype(float), dims="back"))
    missing = f0 * (weights * s_m).sum("back")
    total = stock + missing
    bias = xr.where(total > 0, missing / total, 0.0)
    return bias.assign_coords(year=years).transpose(*inflow.dims)


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
        into the bound nor has a standard error of ln VS above
        :data:`MAX_SATURATION_SE_LOG`; ``True`` when it was given.
    saturation_se_log : float
        Standard error of ln(VS) from the Jacobian (NaN when given or when the
        degrees of freedom are zero).
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
    anchor: tuple[float, float] | None = None,
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
    anchor : (gdp, ownership), optional
        A point the curve must pass through exactly (e.g. the accounted stock of
        the last accounted year): alpha then follows from VS and beta,
        alpha = ln(V_a / VS) exp(-beta GDP_a).
    max_saturation_factor : float
        Upper bound of a free VS as a multiple of the largest ownership (data
        and anchor).

    Returns
    -------
    GompertzFit

    Raises
    ------
    ValueError
        Too few points for the free parameters (at least one degree of freedom
        is required: 4 points for a free fit, 3 with VS given or with an anchor,
        2 with both), non-positive ownership, or a given saturation not above
        the ownership it has to exceed.

    Notes
    -----
    Residuals are taken on ln V, so a fast-growing series weighs its early
    small values like its late ones. Parameters are searched in transformed
    form (ln VS, ln(-alpha), ln(-beta * max GDP)), which keeps alpha, beta < 0
    and VS above the data; a few starting points guard against local minima.
    """
    x_gdp = np.asarray(gdp, dtype=float).ravel()
    y = np.asarray(ownership, dtype=float).ravel()
    if x_gdp.shape != y.shape:
        raise ValueError("gdp and ownership must have the same length")
    ok = np.isfinite(x_gdp) & np.isfinite(y)
    x_gdp, y = x_gdp[ok], y[ok]
    if np.any(y <= 0):
        raise ValueError("ownership must be positive")
    free_vs = saturation is None
    n_free = 1 + int(free_vs) + int(anchor is None)
    if y.size < n_free + 1:
        raise ValueError(
            f"{y.size} ownership points for {n_free} free parameters: need at least {n_free + 1}"
        )
    scale = float(np.max(np.abs(np.concatenate([x_gdp, [anchor[0]] if anchor else []]))))
    x = x_gdp / scale
    ly = np.log(y)
    y_max = float(max(y.max(), anchor[1] if anchor else 0.0))
    if not free_vs and saturation <= y_max:
        raise ValueError(f"saturation {saturation:g} is not above the ownership {y_max:g}")
    if anchor is not None:
        xa, la = anchor[0] / scale, np.log(anchor[1])

    def unpack(p):
        i = 0
        if free_vs:
            lvs = p[0]
            i = 1
        else:
            lvs = np.log(saturation)
        bs = -np.exp(p[i])
        if anchor is None:
            a = -np.exp(p[i + 1])
        else:
            a = (la - lvs) * np.exp(-bs * xa)
        return lvs, a, bs

    def resid(p):
        lvs, a, bs = unpack(p)
        return lvs + a * np.exp(bs * x) - ly

    lo_vs, hi_vs = np.log(y_max) + 1e-9, np.log(y_max * max_saturation_factor)
    lo, hi = [], []
    if free_vs:
        lo.append(lo_vs)
        hi.append(hi_vs)
    lo.append(np.log(1e-3))
    hi.append(np.log(60.0))
    if anchor is None:
        lo.append(np.log(1e-6))
        hi.append(np.log(1e4))
    lo, hi = np.array(lo), np.array(hi)

    best = None
    vs_starts = [1.05, 1.5, 3.0, 8.0] if free_vs else [None]
    for fvs in vs_starts:
        lvs0 = np.log(y_max * fvs) if free_vs else np.log(saturation)
        for bs0 in (0.5, 2.0, 6.0):
            p0 = []
            if free_vs:
                p0.append(lvs0)
            p0.append(np.log(bs0))
            if anchor is None:
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
    se = float("nan")
    identified = True
    if free_vs:
        jac = best.jac
        s2 = 2.0 * best.cost / dof if dof > 0 else np.inf
        try:
            cov = np.linalg.inv(jac.T @ jac) * s2
            se = float(np.sqrt(max(cov[0, 0], 0.0)))
        except np.linalg.LinAlgError:
            se = float("inf")
        at_bound = best.x[0] > hi_vs - 1e-3
        identified = bool(
            (not at_bound)
            and dof >= MIN_DOF_SATURATION
            and np.isfinite(se)
            and se <= MAX_SATURATION_SE_LOG
        )
    # covariance of the searched parameters (ln VS, ln(-beta scale), ln(-alpha)), for draws
    # from the fit (SPEC §5); empty where the Jacobian is singular or there is no dof
    # (none where a parameter sits on its search bound, or the matrix is not positive definite:
    # the curvature there says nothing about the spread)
    cov_t: tuple[tuple[float, ...], ...] = ()
    at_a_bound = bool(np.any(best.active_mask != 0)) or bool(
        np.any((best.x <= lo + 1e-6) | (best.x >= hi - 1e-6))
    )
    if dof > 0 and not at_a_bound:
        s2 = 2.0 * best.cost / dof
        try:
            c = np.linalg.inv(best.jac.T @ best.jac) * s2
            c = 0.5 * (c + c.T)
            if np.all(np.isfinite(c)) and np.all(np.linalg.eigvalsh(c) > 0):
                cov_t = tuple(tuple(float(v) for v in row) for row in c)
        except np.linalg.LinAlgError:
            cov_t = ()
    fitted_names = ", ".join(p for p in ["saturation" if free_vs else "", "beta"] if p)
    if anchor is None:
        fitted_names = fitted_names.replace("beta", "alpha, beta")
    mode = fitted_names + " fitted"
    if at_a_bound:
        mode += " (a parameter on its search bound: no covariance, not sampled)"
    if not free_vs:
        mode += "; saturation given"
    if anchor is not None:
        mode += "; alpha from the anchor point"
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
        theta=tuple(float(v) for v in best.x) if anchor is None else (),
        cov=cov_t if anchor is None else (),
        scale=scale,
    )
