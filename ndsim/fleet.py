"""Fleet-driven forecast on units (SPEC §2.4): ownership curves, a smooth driver, a join.

For the products whose ``forecast_method`` is ``fleet`` (``gompertz`` is the
older name), per ownership group G (the products one statistic covers):

1. **Driver.** GDP per capita smoothed by a Hodrick–Prescott trend of its
   logarithm (λ = 100, the usual value for yearly data), so that one year's
   GDP shock does not become a multiple of one year's sales; households and
   population are smoothed the same way where they multiply the curve (their
   interpolated segments have kinks).
2. **Curve.** V_G(t) = VS exp(α exp(β GDP(t))) fitted by least squares on
   ln V to the ownership statistic of the group (units per household or per
   person, its ``ownership_basis``), in the years the scenario allows
   (``forecast.gompertz.<product>.fit_first`` / ``fit_last``); the target
   fleet is N*_G(t) = V_G(t) H(t) with H the households or the population.
   The parameters come from the statistics alone; their covariance (from the
   Jacobian at the optimum) is kept for Monte Carlo draws.
3. **Join.** The forecast fleet starts at the accounted fleet N(T) of the
   last accounted year T and joins the target without a break in level or in
   slope: N(T + s) = N*(T + s) + g(s), g(s) = (a + b s) r^s, r = exp(-1/τ),
   with a = N(T) - N*(T) and b such that the first difference of the gap
   continues, g(1) - g(0) = g(0) - g(-1). Then N(T) is the accounted value,
   N(T + 1) - N(T) = N*(T + 1) - N*(T) + (N(T) - N(T - 1)) - (N*(T) - N*(T - 1))
   (the accounted slope, bent by the target's change of slope), and the gap
   dies out with the time constant τ, by default the product's mean lifetime
   (a deviation of the fleet from its ownership path is corrected as the
   units in use are replaced). No accounted year is altered.
4. Where a group has members that are not fleet-driven (e.g. EV in CV + EV),
   the fleet-driven members' target is the group's minus the others'
   fleets; several fleet-driven members share their target in their
   proportions of T.

Unit sales follow from the stock-driven inversion on units (eq. 9) with the
accounted sales as history, :func:`ndsim.dsm.stock_driven`.

References
----------
Hodrick, R. J. & Prescott, E. C. (1997). Postwar U.S. business cycles: an
empirical investigation. Journal of Money, Credit and Banking 29(1), 1-16.
Dargay, J., Gately, D. & Sommer, M. (2007). Vehicle ownership and income
growth, worldwide: 1960-2030. The Energy Journal 28(4), 143-170 (Gompertz
ownership curves and partial adjustment of the stock towards them).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim import gompertz as gz
from ndsim.errors import ScenarioError

__all__ = [
    "HP_LAMBDA",
    "FleetFit",
    "hp_trend",
    "smooth_gdp",
    "smooth_driver",
    "smooth_values",
    "fit_group",
    "fitted_curve",
    "curve_values",
    "curve_parameters",
    "join",
    "join_values",
    "groups_of",
]

#: smoothing parameter of the Hodrick-Prescott filter for yearly data
HP_LAMBDA = 100.0
#: the forecast methods that mean "fleet-driven" (``gompertz`` is the older name)
FLEET_METHODS = ("fleet", "gompertz")

_P, _Y, _D = cv.PRODUCT, cv.YEAR, cv.DRAW


def hp_trend(y: np.ndarray, lam: float = HP_LAMBDA) -> np.ndarray:
    """Hodrick-Prescott trend of a series: argmin Σ (y - τ)² + λ Σ (Δ²τ)².

    Parameters
    ----------
    y : numpy.ndarray
        (n,) finite values, n >= 3.
    lam : float
        Smoothing parameter (100 for yearly data).

    Returns
    -------
    numpy.ndarray
        The trend τ, solving (I + λ DᵀD) τ = y with D the second-difference matrix.

    Examples
    --------
    >>> t = np.arange(10.0)
    >>> bool(np.allclose(hp_trend(2 * t + 1), 2 * t + 1))  # a line is its own trend
    True
    """
    y = np.asarray(y, dtype=float)
    n = y.size
    if n < 3:
        return y.copy()
    return np.linalg.solve(_hp_system(n, float(lam)), y)


@functools.lru_cache(maxsize=16)
def _hp_system(n: int, lam: float) -> np.ndarray:
    """I + λ DᵀD of :func:`hp_trend`, built once per length (read-only, shared)."""
    # dense: a run's series are a century at most, and numpy's solver spares the run
    # scipy.sparse's import (0.15 s of `ndsim run`)
    d = np.diff(np.eye(n), 2, axis=0)  # (n - 2, n): rows [1, -2, 1]
    m = np.eye(n) + lam * (d.T @ d)
    m.flags.writeable = False
    return m


def smooth_values(values: np.ndarray, lam: float = HP_LAMBDA) -> np.ndarray:
    """:func:`smooth_gdp` on a plain array (year,): NaN where the series is not positive."""
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values) & (values > 0)
    out = np.full(values.shape, np.nan)
    out[ok] = np.exp(hp_trend(np.log(values[ok]), lam))
    return out


def smooth_gdp(gdp: xr.DataArray, lam: float = HP_LAMBDA) -> xr.DataArray:
    """GDP per capita smoothed: exp of the HP trend of ln GDP over its finite years (year)."""
    return gdp.copy(data=smooth_values(gdp.values, lam)).rename("gdp_per_capita_trend")


def smooth_driver(driver: xr.DataArray, lam: float = HP_LAMBDA) -> xr.DataArray:
    """Households or population smoothed like GDP (HP trend of the logarithm, year).

    The household series is interpolated between censuses and projected in
    segments; its kinks (at 2020, 2035 in the China data) would otherwise pass
    into the target fleet's slope and from there into unit sales.
    """
    return smooth_gdp(driver, lam).rename(driver.name)


@dataclass(frozen=True)
class FleetFit:
    """The ownership curve of one group.

    Attributes
    ----------
    group : str
        The products the statistic covers (``DC+LP``).
    members : tuple of str
    basis : str
        ``household`` or ``person``.
    saturation, alpha, beta : float
        V = VS exp(alpha exp(beta GDP)) [units per household or person].
    theta : tuple of float
        The fitted parameters in the form they were searched in
        (:func:`ndsim.gompertz.fit_gompertz`): (ln VS, ln(-beta s), ln(-alpha))
        with s = ``scale``, or without ln VS when the saturation was given.
    cov : tuple of tuple of float
        Covariance of ``theta`` (from the Jacobian at the optimum and the
        residual variance); empty when not estimable.
    scale : float
        The GDP scale s of ``theta``.
    method : str
        Data and fitted parameters, in words.
    years : tuple of int
        Years of the statistic the curve was fitted to.
    rmse_log : float
        Root mean square of ln(fitted) - ln(data).
    """

    group: str
    members: tuple[str, ...]
    basis: str
    saturation: float
    alpha: float
    beta: float
    theta: tuple[float, ...] = ()
    cov: tuple[tuple[float, ...], ...] = ()
    scale: float = 1.0
    method: str = ""
    years: tuple[int, ...] = ()
    rmse_log: float = float("nan")
    data: tuple[float, ...] = field(default=())


def groups_of(inputs: xr.Dataset, methods: Mapping[str, str]) -> dict[str, list[str]]:
    """Ownership groups that have a fleet-driven member: group -> its products (in order).

    A fleet-driven product without an ownership statistic is a group of its own
    (its saturation level must then come from the scenario).
    """
    products = [str(p) for p in inputs.variables[_P].values]
    group = (
        [str(g) for g in inputs.variables["ownership_group"].values]
        if "ownership_group" in inputs.coords
        else [""] * len(products)
    )
    out: dict[str, list[str]] = {}
    for p, g in zip(products, group, strict=True):
        if methods[p] in FLEET_METHODS:
            out.setdefault(g or p, [])
    for p, g in zip(products, group, strict=True):
        key = g or p
        if key in out and p not in out[key]:
            out[key].append(p)
    return out


def fit_group(
    group: str,
    members: list[str],
    inputs: xr.Dataset,
    gdp: xr.DataArray,
    given: Mapping[str, float],
    file: str,
    *,
    accounted: xr.DataArray | None = None,
) -> FleetFit:
    """Fit the ownership curve of one group to its statistic (deterministic data).

    Parameters
    ----------
    group : str
    members : list of str
    inputs : xarray.Dataset
        ``ownership_statistic`` (product, year), coordinate ``ownership_basis``.
    gdp : xarray.DataArray
        The smoothed GDP per capita (year).
    given : mapping
        ``forecast.gompertz.<product>`` of a fleet-driven member: ``saturation``,
        ``alpha``, ``beta`` to hold, ``fit_first`` / ``fit_last`` years.
    file : str
        The scenario file, for messages.
    accounted : xarray.DataArray, optional
        The accounted fleet per household or person (year), used where the
        group has no statistic: the saturation level must then be given.

    Raises
    ------
    ScenarioError
        No statistic and no saturation given, or a saturation the data do not
        identify (the message names the key to set).
    """
    key = f"forecast.gompertz.{members[0]}"
    lead = members[0]
    basis = (
        str(inputs["ownership_basis"].sel({_P: lead}).item())
        if "ownership_basis" in inputs.coords
        else ""
    ) or ("household" if accounted is not None else "person")
    years = inputs[_Y].values
    stat = (
        inputs["ownership_statistic"].sel({_P: lead}).values.astype(float)
        if "ownership_statistic" in inputs
        else np.full(years.size, np.nan)
    )
    g = gdp.reindex({_Y: years}).values.astype(float)
    source = "ownership statistic"
    if not np.isfinite(stat).any() and accounted is not None:
        if vs_given_of(given) is None:
            raise ScenarioError(
                f"key {key}.saturation: group {group} has no ownership statistic; give the "
                "saturation level (units per household or person, with its source) to fit the "
                "accounted fleet",
                file=file,
            )
        stat = accounted.reindex({_Y: years}).values.astype(float)
        source = f"accounted fleet per {basis or 'household'} (no statistic)"
    ok = np.isfinite(stat) & (stat > 0) & np.isfinite(g)
    if "fit_first" in given:
        ok &= years >= int(given["fit_first"])
    if "fit_last" in given:
        ok &= years <= int(given["fit_last"])
    vs_given = given.get("saturation")
    if "alpha" in given and "beta" in given:
        if vs_given is None:
            raise ScenarioError(
                f"key {key}: alpha and beta are given, the saturation is needed too", file=file
            )
        return FleetFit(
            group,
            tuple(members),
            basis or "person",
            float(vs_given),
            float(given["alpha"]),
            float(given["beta"]),
            method="saturation, alpha, beta given (scenario)",
        )
    n = int(ok.sum())
    if n == 0:
        raise ScenarioError(
            f"key {key}.saturation: group {group} has no ownership statistic "
            "(ownership.csv) to fit a curve to; give saturation, alpha and beta",
            file=file,
        )
    if vs_given is None and n < 4:
        raise ScenarioError(
            f"key {key}.saturation: {n} ownership points of {group} cannot identify a "
            "saturation level; give it (units per household or person, with its source)",
            file=file,
        )
    try:
        fit = gz.fit_gompertz(g[ok], stat[ok], saturation=vs_given)
    except ValueError as exc:
        raise ScenarioError(
            f"key {key}: cannot fit the ownership of {group}: {exc}", file=file
        ) from None
    if not fit.saturation_identified:
        raise ScenarioError(
            f"key {key}.saturation: the ownership statistic of {group} "
            f"({years[ok][0]}-{years[ok][-1]}) does not identify a saturation level; give it "
            "(units per household or person, with its source)",
            file=file,
        )
    span = f"{int(years[ok][0])}-{int(years[ok][-1])} ({n} points)"
    method = f"{source} {span}: {fit.mode}"
    return FleetFit(
        group,
        tuple(members),
        basis or "person",
        fit.saturation,
        fit.alpha,
        fit.beta,
        theta=fit.theta,
        cov=fit.cov,
        scale=fit.scale,
        method=method,
        years=tuple(int(y) for y in years[ok]),
        rmse_log=fit.rmse_log,
        data=tuple(float(v) for v in stat[ok]),
    )


def vs_given_of(given: Mapping[str, float]) -> float | None:
    """The saturation level a scenario gives, or None."""
    v = given.get("saturation")
    return None if v is None else float(v)


def fitted_curve(fit: FleetFit, gdp: xr.DataArray, z: xr.DataArray | None = None):
    """V(GDP) of a fit, deterministic or per draw.

    Parameters
    ----------
    fit : FleetFit
    gdp : xarray.DataArray
        Smoothed GDP per capita (year).
    z : xarray.DataArray, optional
        Standard normal draws (draw, k) with k the number of fitted parameters:
        θ_d = θ + L z_d with L the Cholesky factor of the fit's covariance
        (SPEC §5: Gompertz parameters from the fit's covariance).

    Returns
    -------
    xarray.DataArray
        (year) or (draw, year) [units per household or person] (:func:`curve_values`).
    """
    zz = None if z is None else np.asarray(z.values, dtype=float)
    values = curve_values(fit, np.asarray(gdp.values, dtype=float), zz)
    coords = {k: c for k, c in gdp.coords.items() if set(c.dims) <= set(gdp.dims)}
    if z is None or values.ndim == gdp.ndim:
        return xr.DataArray(values, dims=gdp.dims, coords=coords)
    dim = z.dims[0]
    if dim in z.coords:
        coords[dim] = z[dim].values
    return xr.DataArray(values, dims=(dim, *gdp.dims), coords=coords)


def curve_values(fit: FleetFit, gdp: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
    """V(GDP) of a fit on plain arrays: (year,), or (draw, year) from normal draws z (draw, k).

    Per draw when ``z`` is given and the fit has a covariance
    (:func:`curve_parameters`); otherwise the fitted curve.
    """
    if z is None or not fit.cov:
        return gz.gompertz(gdp, fit.saturation, fit.alpha, fit.beta)
    vs, a, b = curve_parameters(fit, z)
    return gz.gompertz(gdp[None, :], vs[:, None], a[:, None], b[:, None])


def curve_parameters(fit: FleetFit, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """VS, α, β per draw (draw,) from standard normal draws ``z`` (draw, >= k) of a fit.

    θ_d = θ + L z_d with L the Cholesky factor of the fit's covariance (SPEC §5);
    the fit must have a covariance.
    """
    theta = np.asarray(fit.theta, dtype=float)
    k = theta.size
    chol = _cholesky(np.asarray(fit.cov, dtype=float))
    draws = theta[None, :] + z[:, :k] @ chol.T  # (draw, k)
    # the order in which ndsim.gompertz.fit_gompertz searches them: ln VS (when fitted),
    # ln(-beta scale), ln(-alpha)
    if k == 3:
        vs = np.exp(draws[:, 0])
        b = -np.exp(draws[:, 1]) / fit.scale
        a = -np.exp(draws[:, 2])
    else:
        vs = np.full(draws.shape[0], fit.saturation)
        b = -np.exp(draws[:, 0]) / fit.scale
        a = -np.exp(draws[:, 1])
    return vs, a, b


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a covariance, with a tiny ridge if it is not positive definite."""
    cov = 0.5 * (cov + cov.T)
    for ridge in (0.0, 1e-12, 1e-9, 1e-6):
        try:
            return np.linalg.cholesky(cov + ridge * np.eye(cov.shape[0]))
        except np.linalg.LinAlgError:
            continue
    w, v = np.linalg.eigh(cov)
    return v @ np.diag(np.sqrt(np.clip(w, 0.0, None)))


def join(
    accounted: xr.DataArray, target: xr.DataArray, last: int, tau: xr.DataArray | float
) -> xr.DataArray:
    """The forecast fleet: from the accounted fleet at T onto the target, level and slope kept.

    Parameters
    ----------
    accounted : xarray.DataArray
        N (..., year) over years up to T (at least T - 1 and T) [count].
    target : xarray.DataArray
        N* (..., year) over T - 1 .. the last forecast year [count].
    last : int
        T, the last accounted year.
    tau : xarray.DataArray or float
        Time constant of the join [yr] (e.g. by product), > 0.

    Returns
    -------
    xarray.DataArray
        N over T .. the last forecast year: N(T) = accounted(T) and
        N(T + s) = N*(T + s) + (a + b s) exp(-s / τ) with a the gap at T and b
        such that the first difference of the gap continues (module docstring).

    Examples
    --------
    >>> yrs = np.arange(2015, 2031)
    >>> tgt = xr.DataArray(100.0 + 0 * yrs, dims="year", coords={"year": yrs})
    >>> acc = xr.DataArray([80.0, 90.0, 95.0], dims="year", coords={"year": [2015, 2016, 2017]})
    >>> n = join(acc, tgt.sel(year=slice(2016, None)), 2017, 3.0)
    >>> float(n.sel(year=2017)), float(n.sel(year=2018) - n.sel(year=2017))  # level, slope 5
    (95.0, 5.0)
    """
    years = target[_Y].values
    future = years[years >= last]
    s = xr.DataArray((future - last).astype(float), dims=_Y, coords={_Y: future})
    return join_values(
        accounted.sel({_Y: last}, drop=True),
        accounted.sel({_Y: last - 1}, drop=True),
        target.sel({_Y: last}, drop=True),
        target.sel({_Y: last - 1}, drop=True),
        target.sel({_Y: future}),
        s,
        tau,
    )


def join_values(acc_last, acc_prev, target_last, target_prev, target_future, s, tau):
    """The join of :func:`join` on its parts: numpy arrays (broadcasting by position) or DataArrays.

    ``acc_*`` and ``target_*`` are the accounted fleet and the target at T and T - 1,
    ``target_future`` the target over T .. the last year, ``s`` those years minus T.
    """
    a = acc_last - target_last
    a1 = acc_prev - target_prev
    r = np.exp(-1.0 / tau)
    b = (2.0 * a - a1) / r - a
    gap = (a + b * s) * r**s
    return target_future + gap
