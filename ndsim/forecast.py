"""Forecast of units, demand, inflow, stock and end-of-life flows after the accounted years.

Each end use follows one forecast method (SPEC §2.4), the data set's
``forecast_method`` unless the scenario names the product in a forecast table:

``fleet`` (``gompertz`` is the older name)
    The fleet in units follows an ownership curve of smoothed GDP per capita,
    fitted to the ownership statistics, joined to the accounted fleet without
    a break in level or slope (:mod:`ndsim.fleet`); unit sales come from the
    stock-driven inversion on units with the accounted sales as history, and
    Nd from each cohort's intensity: F_in = Q m, DC = P m with P = Q / (1 - e + i).
``growth``
    Eq. 10 on domestic consumption, DC(t) = DC(T) prod_{tau = T+1..t} (1 + a(tau)),
    with piecewise-constant rates from the scenario; units P = DC / m.
``level``
    Geometric path of DC from its last accounted value to a target level
    (``forecast.levels``), held after the target year.
``hold``
    DC held at its last accounted value.
``units``
    Units sold into use on a scenario path from Q(T) (``forecast.units``);
    DC = P m with P = Q / (1 - e + i) (e.g. wind: capacity additions in MW x
    PM share x kg Nd per MW).

T is the last accounted year; e and i are the export and import shares of
production in units in T, held after it. The cohort intensity after T,
m = k MI AR, follows the scenario's adoption and intensity paths (hold,
``full`` adoption, a table of points, or a logistic to a level by a year),
each starting at the accounted value of T. Stocks and outflows come from the
lifetime model applied to the whole series from the first year of the use
stage, so stock and fleet are continuous at T/T+1 and the mass balance
dS = F_in - F_out holds in every year.

References
----------
Yao, X., Geng, Y., Sarkis, J., Xiao, S., Gao, Z. (2021). Dynamic neodymium
stocks and flows analysis in China. Resources, Conservation and Recycling 174,
105752. doi:10.1016/j.resconrec.2021.105752
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ndsim import conventions as cv
from ndsim import fleet as fl
from ndsim.errors import ScenarioError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from ndsim.scenario import ForecastOptions

__all__ = [
    "project",
    "project_values",
    "History",
    "Projection",
    "Lifetimes",
    "lead_values",
    "fit_fleets",
    "fits_from_dataset",
    "growth_path",
    "level_path",
    "adoption_path",
    "intensity_path",
    "share_path",
    "plausibility_table",
    "forecast_methods",
    "unit_content",
    "FIT_VARIABLES",
]

#: the output variables that carry the ownership fits (what :func:`fits_from_dataset` reads);
#: an ensemble adds them from the deterministic run to every chunk's inputs
FIT_VARIABLES = (
    "gompertz_saturation",
    "gompertz_alpha",
    "gompertz_beta",
    "gompertz_theta",
    "gompertz_cov",
    "gompertz_scale",
    "gompertz_method",
    "gompertz_basis",
)
METHODS = ("fleet", "gompertz", "growth", "level", "hold", "sales_share", "units")
#: the standard-normal draws of the ownership-curve parameters (SPEC §5), one per parameter
Z_VARIABLES = ("gompertz_z1", "gompertz_z2", "gompertz_z3")
THETA = cv.GOMPERTZ_PARAMETER

_P = cv.PRODUCT
_Y = cv.YEAR
_D = cv.DRAW

#: the scenario file named in errors when the caller gives none
NO_FILE = "<scenario>"


def forecast_methods(
    inputs: xr.Dataset, options: ForecastOptions, *, file: str = NO_FILE
) -> dict[str, str]:
    """Forecast method of each product: the data set's, overridden by the scenario's tables.

    A product named in ``forecast.growth_rates`` is a growth product, in
    ``forecast.levels`` a level product, in ``forecast.hold`` a held product,
    in ``forecast.sales_share`` a sales-share product, in ``forecast.units``
    a units product.

    Parameters
    ----------
    inputs : xarray.Dataset
        Canonical inputs with the ``forecast_method`` coordinate on ``product``
        (every product ``hold`` without it).
    options : ndsim.scenario.ForecastOptions
        The scenario's ``[forecast]`` table.
    file : str
        The scenario file named in errors.

    Returns
    -------
    dict
        product -> method (one of :data:`METHODS`).

    Raises
    ------
    ScenarioError
        A product in two of these tables.
    ValidationError
        An unknown ``forecast_method`` in the data set.
    """
    # (the Variables: no DataArray built for a label)
    products = [str(p) for p in inputs.variables[_P].values]
    if "forecast_method" in inputs.coords:
        methods = {
            p: str(m)
            for p, m in zip(products, inputs.variables["forecast_method"].values, strict=True)
        }
    else:
        methods = dict.fromkeys(products, "hold")
    named: dict[str, list[str]] = {}
    for key, method, table in (
        ("growth_rates", "growth", options.growth_rates),
        ("levels", "level", options.levels),
        ("hold", "hold", options.hold or ()),
        ("sales_share", "sales_share", options.sales_share),
        ("units", "units", options.units),
    ):
        for p in table:
            named.setdefault(str(p), []).append(f"forecast.{key}")
            methods[str(p)] = method
    twice = {p: k for p, k in named.items() if len(k) > 1}
    if twice:
        p, keys = next(iter(twice.items()))
        raise ScenarioError(
            f"key {keys[0]}: product(s) {', '.join(twice)} named in more than one of "
            f"{', '.join(keys)}",
            file=file,
        )
    bad = {p: m for p, m in methods.items() if m not in METHODS}
    if bad:
        raise ValidationError(
            f"unknown forecast_method for {', '.join(f'{p}={m}' for p, m in bad.items())}; "
            f"valid: {', '.join(METHODS)}",
            file="products.csv",
            field="forecast_method",
        )
    return methods


def unit_content(inputs: xr.Dataset) -> xr.DataArray:
    """k * MI [t count-1]: the Nd per unit at full adoption, with the intensity calibration
    (SPEC §2.1), so that stocks and flows divided by it and AR are in units."""
    if "intensity_calibration" in inputs:
        return inputs["intensity_calibration"] * inputs["nd_content"]
    return inputs["nd_content"]


def _unit_content_variable(inputs: xr.Dataset) -> xr.Variable:
    """:func:`unit_content` as a Variable: the same product without the DataArrays (whose
    alignment changes nothing: the variables of one Dataset share its indexes)."""
    content = inputs.variables["nd_content"]
    if "intensity_calibration" in inputs:
        return inputs.variables["intensity_calibration"] * content
    return content


# --- paths ----------------------------------------------------------------------------
# Each path is computed on plain arrays (the ``_*_values`` functions, which the
# projection calls); the public functions put the labels around them.
def _growth_values(start: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Eq. 10 on arrays: start (...,), rates (..., year) -> (..., year) (NaN rates count as 0)."""
    return start[..., None] * np.nancumprod(1.0 + rates, axis=-1)


def growth_path(start: xr.DataArray, rates: xr.DataArray) -> xr.DataArray:
    """Eq. 10: a compound growth path from a start value.

    Parameters
    ----------
    start : xarray.DataArray
        DC(T) of the last accounted year (..., product) [t yr-1].
    rates : xarray.DataArray
        a(tau) for the forecast years (..., product, year) [yr-1, fraction].

    Returns
    -------
    xarray.DataArray
        DC(t) = DC(T) prod_{tau = T+1..t} (1 + a(tau)) over the forecast years.

    Examples
    --------
    >>> r = xr.DataArray(np.full(33, 0.13), dims="year", coords={"year": np.arange(2018, 2051)})
    >>> round(float(growth_path(xr.DataArray(728.0), r).sel(year=2050)))
    41079
    """
    return xr.apply_ufunc(
        _growth_values, start, rates, input_core_dims=[[], [_Y]], output_core_dims=[[_Y]]
    )


def _level_values(
    start: np.ndarray, level: np.ndarray, target_year: np.ndarray, years, last: int
) -> np.ndarray:
    """The level path on arrays: start (..., k), level and target year (k,) -> (..., k, year)."""
    t = np.asarray(years, dtype=float)
    ty = np.asarray(target_year, dtype=float)[:, None]
    frac = (np.minimum(t, ty) - last) / (ty - last)
    safe = np.where(start > 0, start, np.nan)[..., None]
    out = safe * (np.asarray(level, dtype=float)[:, None] / safe) ** frac
    return np.where(np.isnan(out), 0.0, out)


def level_path(
    start: xr.DataArray, level: xr.DataArray, target_year: xr.DataArray, years, last: int
):
    """Geometric path from DC(T) to a level reached in a target year, held after it.

    Parameters
    ----------
    start : xarray.DataArray
        DC(T) (..., product) [t yr-1], > 0.
    level, target_year : xarray.DataArray
        Target DC [t yr-1] and its year, per product.
    years : array_like
        Forecast years.
    last : int
        Last accounted year T.

    Returns
    -------
    xarray.DataArray
        DC(t) = DC(T) (L / DC(T))^(min(t, Y) - T) / (Y - T)); 0 where DC(T) <= 0.
    """
    out = xr.apply_ufunc(
        lambda s, lv, ty: _level_values(s, lv, ty, years, last),
        start,
        level,
        target_year,
        input_core_dims=[[_P], [_P], [_P]],
        output_core_dims=[[_P, _Y]],
    )
    return out.assign_coords({_Y: np.asarray(years)})


def _piecewise_values(held: np.ndarray, points, years: np.ndarray, last: int) -> np.ndarray:
    """From held (...,) at T linearly through (year, value) points after T, flat after the last."""
    knots = [(last, None)] + [(int(y), float(v)) for y, v in points if int(y) > last]
    kx = np.array([k[0] for k in knots], dtype=float)
    h = np.asarray(held, dtype=float)[..., None]
    out = None
    for j, (_, v) in enumerate(knots):
        basis = np.interp(years.astype(float), kx, np.eye(len(knots))[j])
        term = basis * (h if v is None else v)
        out = term if out is None else out + term
    return out


def _logistic_values(held: np.ndarray, level: float, year: int, years: np.ndarray, last: int):
    """From held (...,) at T to `level` in `year` along a logistic in time, flat after.

    S(t) = (σ((t - m) / w) - σ((T - m) / w)) / (σ((Y - m) / w) - σ((T - m) / w)),
    m = (T + Y) / 2, w = (Y - T) / 8: S(T) = 0, S(Y) = 1, slow at both ends (the path
    leaves the accounted value of T without a step in level or slope).
    """
    mid, width = 0.5 * (last + year), (year - last) / 8.0

    def sig(t):
        return 1.0 / (1.0 + np.exp(-(t - mid) / width))

    t = np.minimum(years.astype(float), float(year))
    frac = np.clip((sig(t) - sig(float(last))) / (sig(float(year)) - sig(float(last))), 0.0, 1.0)
    h = np.asarray(held, dtype=float)[..., None]
    return h + (level - h) * frac


def _share_values(held: np.ndarray, spec, years: np.ndarray, last: int) -> np.ndarray:
    """:func:`share_path` on arrays: held (...,) -> (..., year)."""
    if isinstance(spec, Mapping):
        return _logistic_values(held, float(spec["level"]), int(spec["year"]), years, last)
    return _piecewise_values(held, spec, years, last)


def share_path(held: xr.DataArray, spec, years: np.ndarray, last: int) -> xr.DataArray:
    """One product's path after T from its value at T (SPEC §2.4).

    ``spec``: a sequence of (year, value) points (a table, linear between, flat
    after the last), or a mapping ``{"level": L, "year": Y}`` (a logistic to L by
    Y, slow at both ends). Dims (..., year).
    """
    out = xr.apply_ufunc(
        lambda h: _share_values(h, spec, years, last), held, output_core_dims=[[_Y]]
    )
    return out.assign_coords({_Y: years})


def _adoption_values(
    held: np.ndarray,
    products: list[str],
    spec,
    future: np.ndarray,
    last: int,
    full_for: list[str] | None = None,
) -> np.ndarray:
    """AR after T on arrays: AR(T) (..., product) -> (..., product, future year)."""
    index = {p: i for i, p in enumerate(products)}
    fut = np.repeat(held[..., None], future.size, axis=-1)
    if isinstance(spec, str) and spec == "full":
        targets = products if full_for is None else full_for
        fut[..., [index[p] for p in targets], :] = 1.0
    if not isinstance(spec, str):
        for p, pts in spec.items():
            fut[..., index[p], :] = _share_values(held[..., index[p]], pts, future, last)
    return fut


def adoption_path(
    adoption: xr.DataArray,
    options: ForecastOptions,
    years: np.ndarray,
    last: int,
    full_for: list[str] | None = None,
) -> xr.DataArray:
    """Adoption rate over all years: data to T, then the scenario's path.

    Parameters
    ----------
    adoption : xarray.DataArray
        AR (..., product, year) [1] over (at least) the accounted years.
    options : ndsim.scenario.ForecastOptions
        Its ``adoption``: ``"hold"`` (held at T), ``"full"`` (1 for every
        cohort sold after T: the paper's eq. 8 as printed), or per product a
        table of (year, AR) points or ``{level, year}`` for a logistic path;
        products not named are held.
    years : numpy.ndarray
        All model years.
    last : int
        Last accounted year T.
    full_for : list of str, optional
        The products ``"full"`` applies to (default: all). The paper's eq. 8 is
        the stock equation of its Gompertz products, so :func:`project` passes
        the fleet-driven ones; the growth-rate products grow their domestic
        consumption (eq. 10) and keep AR(T).
    """
    acc = adoption.sel({_Y: slice(None, last)})
    held = acc.sel({_Y: last}, drop=True).transpose(..., _P)
    future = years[years > last]
    products = [str(p) for p in held[_P].values]
    values = _adoption_values(held.values, products, options.adoption, future, last, full_for)
    fut = held.expand_dims({_Y: future}, axis=-1).copy(data=values)
    out = xr.concat([acc, fut.transpose(*acc.dims)], dim=_Y)
    return out.sel({_Y: years})


def _intensity_values(
    content: np.ndarray, products: list[str], spec, years: np.ndarray, last: int
) -> np.ndarray:
    """k MI on arrays: (..., product) -> (..., product, year), the scenario's factor after T."""
    factor = np.repeat((content * 0.0 + 1.0)[..., None], years.size, axis=-1)
    after = int(np.searchsorted(years, last, side="right"))
    index = {p: i for i, p in enumerate(products)}
    for p, pts in spec.items():
        factor[..., index[p], after:] = _share_values(np.asarray(1.0), pts, years[after:], last)
    return content[..., None] * factor


def intensity_path(
    content: xr.DataArray, options: ForecastOptions, years: np.ndarray, last: int
) -> xr.DataArray:
    """Nd per unit at full adoption, k MI, over all years: constant to T, then the scenario's factor.

    ``options.intensity`` (``[forecast.intensity]``): per product a path of the factor on
    k MI (1 at T): a table of (year, factor) points or ``{level, year}`` (logistic).
    """
    c = content.transpose(..., _P)
    products = [str(p) for p in c[_P].values]
    values = _intensity_values(c.values, products, options.intensity, years, last)
    return c.expand_dims({_Y: years}, axis=-1).copy(data=values)


def _rates(products: list[str], options: ForecastOptions, years: np.ndarray) -> np.ndarray:
    """Growth rates (product, year) from the scenario's periods; NaN where a year is not covered."""
    table = options.growth_rates
    rates = np.full((len(products), years.size), np.nan)
    for i, p in enumerate(products):
        for a, b, r in table.get(p, ()):
            rates[i, (years >= a) & (years <= b)] = r
    return rates


# --- ownership fits ---------------------------------------------------------------------
def fit_fleets(
    inputs: xr.Dataset,
    options: ForecastOptions,
    groups: Mapping[str, list[str]],
    methods: Mapping[str, str],
    hist: xr.Dataset | None = None,
    *,
    file: str = NO_FILE,
) -> dict[str, fl.FleetFit]:
    """The ownership curve of each group with a fleet-driven member (deterministic inputs).

    A group without an ownership statistic is fitted to its accounted fleet per
    household (or person) from ``hist`` (``units_in_use``), with the saturation
    level from the scenario (``forecast.gompertz.<product>.saturation``, with its
    source in the scenario file).

    Parameters
    ----------
    inputs : xarray.Dataset
        Canonical inputs (drivers, ownership statistics, ``ownership_basis``).
    options : ndsim.scenario.ForecastOptions
        Its ``gompertz`` table: given parameters per product.
    groups : Mapping[str, list[str]]
        Ownership group -> member products (:func:`ndsim.fleet.groups_of`).
    methods : Mapping[str, str]
        Forecast method of each product (:func:`forecast_methods`).
    hist : xarray.Dataset, optional
        The accounting (``units_in_use``), for groups without a statistic.
    file : str
        The scenario file named in errors.

    Returns
    -------
    dict
        group -> :class:`ndsim.fleet.FleetFit`; the driver is the smoothed GDP
        per capita (:func:`ndsim.fleet.smooth_gdp`).
    """
    given_all = options.gompertz
    gdp = fl.smooth_gdp(_det(inputs["gdp_per_capita"]))
    first = int(inputs.attrs.get("first_year", int(inputs[_Y].min())))
    out = {}
    for group, members in groups.items():
        fleet_members = [p for p in members if methods[p] in fl.FLEET_METHODS]
        given: dict = {}
        for p in fleet_members:
            given.update(dict(given_all.get(p, {})))
        accounted = None
        has_stat = "ownership_statistic" in inputs and bool(
            inputs["ownership_statistic"].sel({_P: members[0]}).notnull().any()
        )
        if not has_stat and hist is not None:
            basis = (
                str(inputs["ownership_basis"].sel({_P: members[0]}).item())
                if "ownership_basis" in inputs.coords
                else ""
            ) or "household"
            driver = inputs["households" if basis == "household" else "population"]
            fleet = _det(hist["units_in_use"].sel({_P: members}).sum(_P))
            accounted = (fleet / driver).sel({_Y: slice(first, None)})
        out[group] = fl.fit_group(group, members, inputs, gdp, given, file, accounted=accounted)
    return out


def fits_from_dataset(ds: xr.Dataset) -> dict[str, fl.FleetFit]:
    """Rebuild the fits from a run's :data:`FIT_VARIABLES` (one group per set of equal rows)."""
    if "gompertz_saturation" not in ds:
        return {}
    products = [str(p) for p in ds[_P].values]
    group = (
        [str(g) for g in ds["ownership_group"].values]
        if "ownership_group" in ds.coords
        else products
    )
    out: dict[str, fl.FleetFit] = {}
    for i, p in enumerate(products):
        vs = float(_det(ds["gompertz_saturation"]).values[i])
        if not np.isfinite(vs):
            continue
        g = group[i] or p
        if g in out:
            continue
        members = tuple(q for q, gg in zip(products, group, strict=True) if (gg or q) == g)
        theta = np.asarray(_det(ds["gompertz_theta"]).values[i], dtype=float)
        k = int(np.isfinite(theta).sum())
        cov = np.asarray(_det(ds["gompertz_cov"]).values[i], dtype=float)[:k, :k]
        basis = str(ds["gompertz_basis"].values[i]) if "gompertz_basis" in ds else "person"
        out[g] = fl.FleetFit(
            g,
            members,
            basis or "person",
            vs,
            float(_det(ds["gompertz_alpha"]).values[i]),
            float(_det(ds["gompertz_beta"]).values[i]),
            theta=tuple(theta[:k]),
            cov=tuple(tuple(row) for row in cov) if k and np.isfinite(cov).all() else (),
            scale=float(_det(ds["gompertz_scale"]).values[i]),
            method=str(ds["gompertz_method"].values[i]),
        )
    return out


def _fit_variables(fits: Mapping[str, fl.FleetFit], products: list[str]) -> dict:
    """The ``gompertz_*`` output variables: each member of a group carries its group's fit."""
    n = len(products)
    index = {p: i for i, p in enumerate(products)}
    vs, a, b, scale, rmse = (np.full(n, np.nan) for _ in range(5))
    theta = np.full((n, 3), np.nan)
    cov = np.full((n, 3, 3), np.nan)
    method = np.full(n, "", dtype=object)
    basis = np.full(n, "", dtype=object)
    for fit in fits.values():
        for p in fit.members:
            i = index[p]
            vs[i], a[i], b[i], scale[i], rmse[i] = (
                fit.saturation,
                fit.alpha,
                fit.beta,
                fit.scale,
                fit.rmse_log,
            )
            k = len(fit.theta)
            theta[i, :k] = fit.theta
            if fit.cov:
                cov[i, :k, :k] = np.asarray(fit.cov)
            method[i] = f"{fit.group}: {fit.method}"
            basis[i] = fit.basis
    c = {_P: products}
    return {
        "gompertz_saturation": xr.DataArray(vs, dims=_P, coords=c),
        "gompertz_alpha": xr.DataArray(a, dims=_P, coords=c),
        "gompertz_beta": xr.DataArray(b, dims=_P, coords=c),
        "gompertz_theta": xr.DataArray(theta, dims=(_P, THETA), coords=c),
        "gompertz_cov": xr.DataArray(cov, dims=(_P, THETA, f"{THETA}_2"), coords=c),
        "gompertz_scale": xr.DataArray(scale, dims=_P, coords=c),
        "gompertz_rmse_log": xr.DataArray(rmse, dims=_P, coords=c),
        "gompertz_method": xr.DataArray(method.astype(str), dims=_P, coords=c),
        "gompertz_basis": xr.DataArray(basis.astype(str), dims=_P, coords=c),
    }


def _det(x: xr.DataArray) -> xr.DataArray:
    return x.mean(_D) if _D in x.dims else x


def _z_values(inputs: xr.Dataset) -> tuple[np.ndarray | None, dict[str, int]]:
    """Standard-normal draws (draw, product, k) of the curve parameters, if sampled (SPEC §5).

    The sampler draws them as signed factors N(1, cv²) (``gompertz_z1..3``, cv 1 by
    default): z = factor - 1; a ``[uncertainty] cv`` scales the fit's standard errors.
    Also the index of each product along the second axis.
    """
    if Z_VARIABLES[0] not in inputs:
        return None, {}
    index = {str(p): i for i, p in enumerate(inputs.variables[_P].values)}
    z = np.stack(
        [inputs.variables[name].transpose(_D, _P).values - 1.0 for name in Z_VARIABLES], -1
    )
    return z, index


def _year_positions(ds: xr.Dataset, years: np.ndarray) -> np.ndarray | None:
    """Position of each of ``years`` in ``ds``'s year index (-1: not there); None without a
    unique year index (the callers then go through xarray, which says what is wrong)."""
    index = ds.indexes.get(_Y)
    if index is None or not index.is_unique:
        return None
    return index.get_indexer(years)


def _lacks_years(inputs: xr.Dataset, name: str, years: np.ndarray, pos: np.ndarray | None) -> bool:
    """Whether ``inputs[name]`` is missing or NaN in some of ``years`` (at ``pos``, from
    :func:`_year_positions`; a year not labelled counts as NaN): on the values,
    ``inputs[name].reindex(year=years).isnull().any()``."""
    if name not in inputs:
        return True
    var = inputs.variables[name]
    if pos is None or _Y not in var.dims or var.dtype.kind != "f":
        return bool(inputs[name].reindex({_Y: years}).isnull().any())
    if (pos < 0).any():
        return True
    return bool(np.isnan(var.values.take(pos, axis=var.get_axis_num(_Y))).any())


def _at_year(inputs: xr.Dataset, name: str, year: int, pos: int | None) -> xr.Variable:
    """``inputs[name].sel(year=year, drop=True)`` as a Variable (the same view of the data);
    ``pos``: the year's position (:func:`_year_positions`)."""
    if pos is None or pos < 0:
        return inputs[name].sel({_Y: year}, drop=True).variable
    return inputs.variables[name].isel({_Y: pos})


def _smoothed(
    inputs: xr.Dataset, name: str, years: np.ndarray, pos: np.ndarray | None
) -> np.ndarray:
    """``fl.smooth_driver(_det(inputs[name])).reindex(year=years).values`` on the arrays
    (``pos``: the years' positions, :func:`_year_positions`)."""
    var = inputs.variables[name]
    if pos is None or var.dims != (_Y,):  # (a draw mean, or other dims: as labelled)
        return fl.smooth_driver(_det(inputs[name])).reindex({_Y: years}).values
    out = fl.smooth_values(var.values).take(pos)
    out[pos < 0] = np.nan
    return out


def _draw_coord(*objs) -> np.ndarray | None:
    """The draw labels of the first of some Datasets that has draws, or None."""
    for o in objs:
        if _D in o.dims:
            return o[_D].values
    return None


def lead_values(x: xr.DataArray | xr.Variable, n: int, *dims: str) -> np.ndarray:
    """``x``'s values with the axes ``(draw, *dims)``; the draw axis, of length ``n``, is
    broadcast (a view) if ``x`` has none.

    The layout of :class:`History` and :class:`Projection`.
    """
    # on the Variable: the same view of the data, without a DataArray's coordinates
    var = x.variable if isinstance(x, xr.DataArray) else x
    if _D in var.dims:
        return var.transpose(_D, *dims).values
    v = var.transpose(*dims).values
    return np.broadcast_to(v[None], (n, *v.shape))


def _labelled(values: np.ndarray, draws, products=None, years=None) -> xr.DataArray:
    """(draw, [product], [year]) values as a DataArray; without draws the axis (length 1) goes."""
    dims, coords = [], {}
    for dim, labels in ((_P, products), (_Y, years)):
        if labels is not None:
            dims.append(dim)
            coords[dim] = labels
    if draws is None:
        return xr.DataArray(values[0], dims=dims, coords=coords)
    return xr.DataArray(values, dims=[_D, *dims], coords={_D: draws, **coords})


@dataclass
class History:
    """The accounting to T for :func:`project`, on plain arrays.

    Attributes
    ----------
    values : dict of str to numpy.ndarray
        The variables :func:`project` names (``domestic_consumption``, ``inflow``,
        ``exports_final``, ``imports_final``, ``production``, ``units_exports``,
        ``units_imports``, ``units_sales``, ``nd_intensity`` and optionally
        ``units_in_use``), each (draw, product, year) with a draw axis of length 1
        without draws (it may be a broadcast view). Without ``units_in_use``,
        :func:`project` convolves ``units_sales`` with the lifetimes itself
        (the fleets to T of the products in an ownership group, the only ones it reads).
    products : list of str
    years : numpy.ndarray
        The use-stage years to T.
    draws : numpy.ndarray or None
        The draw labels (None: no draws).
    has_draws : bool
        Whether the accounting itself varies by draw (not only the inputs).
    attrs : dict of str to dict
        The attributes of each variable.
    """

    values: dict[str, np.ndarray]
    products: list[str]
    years: np.ndarray
    draws: np.ndarray | None
    has_draws: bool
    attrs: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, hist: xr.Dataset, inputs: xr.Dataset) -> History:
        """The arrays of a Dataset (..., product, year) of the accounting to T."""
        draws = _draw_coord(hist, inputs)
        n = 1 if draws is None else draws.size
        return cls(
            values={str(k): lead_values(v, n, _P, _Y) for k, v in hist.items()},
            products=[str(p) for p in hist[_P].values],
            years=hist[_Y].values,
            draws=draws,
            has_draws=_D in hist.dims,
            attrs={str(k): dict(v.attrs) for k, v in hist.items()},
        )


# --- the projection ---------------------------------------------------------------------
def project(
    inputs: xr.Dataset,
    hist: xr.Dataset | History,
    options: ForecastOptions,
    pdf: xr.DataArray | Mapping,
    **keywords,
) -> xr.Dataset:
    """Forecast units and Nd of every end use to the last forecast year (SPEC §2.4).

    The labelled form of :func:`project_values` (the same arguments and keywords): its
    :class:`Projection` as one Dataset.
    """
    return project_values(inputs, hist, options, pdf, **keywords).dataset()


def project_values(
    inputs: xr.Dataset,
    hist: xr.Dataset | History,
    options: ForecastOptions,
    pdf: xr.DataArray | Mapping,
    *,
    decline_policy: str = "clip",
    file: str = NO_FILE,
    fits: Mapping[str, fl.FleetFit] | None = None,
    diagnostics: bool = True,
) -> Projection:
    """Forecast units and Nd of every end use to the last forecast year (SPEC §2.4).

    Parameters
    ----------
    inputs : xarray.Dataset
        Canonical inputs (``ndsim.io.readers.load_dataset``), possibly with a
        leading ``draw`` dimension: ``nd_content``, ``intensity_calibration``,
        ``adoption_rate``, ``population``, ``households`` and ``gdp_per_capita``
        (to the last forecast year), ``ownership_statistic``, coordinates
        ``forecast_method``, ``ownership_basis``, ``ownership_group``.
    hist : xarray.Dataset or History
        The accounting over the use-stage years up to T: ``domestic_consumption``,
        ``inflow``, ``exports_final``, ``imports_final`` [t yr-1], ``production``,
        ``units_exports``, ``units_imports``, ``units_sales`` [count yr-1],
        ``units_in_use`` [count], ``nd_intensity`` [t count-1] (..., product, year);
        or the same as plain arrays (:class:`History`, which may leave out
        ``units_in_use``).
    options : ndsim.scenario.ForecastOptions
        The scenario's ``[forecast]`` table: growth rates, levels, hold, adoption
        and intensity paths, ownership-curve settings ``gompertz``, ``join_years``,
        last year.
    pdf : xarray.DataArray or mapping of product -> ndsim.lifetime.Lifetime
        Lifetime pdf (product, [draw], age) or the lifetimes it comes from.
    decline_policy : str
        ``run.decline_policy`` of the scenario: ``clip`` or ``retire_early``
        (:func:`ndsim.dsm.stock_driven`).
    file : str
        The scenario file named in errors.
    fits : mapping, optional
        The ownership curves of the deterministic run (:func:`fits_from_dataset`);
        None: fitted here (on the draw mean, with a warning, when the data carry
        draws). With
        draws and ``gompertz_z1..3`` in the inputs, each draw's parameters are
        θ + L z (SPEC §5); each draw's fleet starts at its own accounted fleet.
    diagnostics : bool
        Also return the fit variables, ``ownership_fitted``, the smoothed GDP and
        the first-forecast-year ratios (default). Ensemble chunks leave them out.

    Returns
    -------
    Projection
        Over the use-stage years to the last forecast year, as plain arrays (draw,
        product, year): ``domestic_consumption``, ``inflow``, ``outflow``, ``stock``
        (Nd), ``units_production``, ``units_exports``, ``units_imports``,
        ``units_sales``, ``units_retired``, ``units_in_use``, ``nd_intensity``,
        ``unmet_fleet_decline``; labelled, ``ownership_fitted`` for the fleet-driven
        products and with diagnostics the fit variables (:meth:`Projection.dataset`
        puts them in one Dataset, which :func:`project` returns).

    Raises
    ------
    ScenarioError
        A growth product without rates for every forecast year, a level product
        without a level, an ownership curve that cannot be fitted.
    ValidationError
        Drivers missing in forecast years.
    """
    if isinstance(hist, xr.Dataset):
        hist = History.from_dataset(hist, inputs)
    last = int(hist.years.max())
    first = int(hist.years.min())
    end = options.last_year or int(
        inputs.attrs["forecast_last"]
        if "forecast_last" in inputs.attrs
        else inputs.variables[_Y].values.max()
    )
    if not options.enabled:
        end = last
    years = np.arange(first, end + 1)
    future = years[years > last]
    methods = forecast_methods(inputs, options, file=file)
    products = list(hist.products)
    fleet_p = [p for p in products if methods[p] in fl.FLEET_METHODS]
    flow_p = [p for p in products if methods[p] in ("growth", "level", "hold", "units")]
    is_driver = years >= int(inputs.attrs.get("first_year", first))
    driver_years = years[is_driver]
    # the projection's years in the inputs, located once
    year_pos = _year_positions(inputs, years)
    driver_pos = None if year_pos is None else year_pos[is_driver]
    need = ["population", "gdp_per_capita"] + (["households"] if fleet_p else [])
    missing = [name for name in need if _lacks_years(inputs, name, driver_years, driver_pos)]
    if fleet_p and missing and future.size:
        raise ValidationError(
            f"{', '.join(missing)} missing in some of the years {driver_years[0]}-{end}",
            file="drivers.csv",
            field="value",
        )

    # the accounting as plain arrays with a leading draw axis (length 1 without draws);
    # the labels are put back once, at the end
    lead = hist.draws
    n_lead = 1 if lead is None else lead.size
    index = {p: i for i, p in enumerate(products)}
    n_years = years.size
    i_last = int(np.searchsorted(years, last))
    if not np.array_equal(hist.years, years[: i_last + 1]):
        raise ValueError("the accounting's years must be the first years of the projection")
    if [str(p) for p in inputs.variables[_P].values] != products:
        inputs = inputs.sel({_P: products})

    acc_values = dict(hist.values)  # (the caller's History is left as it is)

    def accounted(name: str) -> np.ndarray:  # (draw, product, year to T)
        v = acc_values[name]
        return v if v.shape[0] == n_lead else np.broadcast_to(v, (n_lead, *v.shape[1:]))

    def at_t(name: str) -> np.ndarray:  # (draw, product) in T
        return accounted(name)[:, :, i_last]

    lives = Lifetimes(pdf, products, lead, years)

    # cohort intensity after T (SPEC §2.4): adoption and intensity paths from the values of T
    full_for = [p for p in products if methods[p] in (*fl.FLEET_METHODS, "sales_share")]
    last_pos = None if year_pos is None else int(year_pos[i_last])
    held_ar = lead_values(_at_year(inputs, "adoption_rate", last, last_pos), n_lead, _P)
    content = lead_values(_unit_content_variable(inputs), n_lead, _P)
    m_f = _intensity_values(content, products, options.intensity, future, last) * (
        _adoption_values(held_ar, products, options.adoption, future, last, full_for)
    )
    del held_ar, content
    # trade in units held at its share of production in T: Q = P (1 - e + i)
    p_t = at_t("production")
    safe = np.where(p_t > 0, p_t, np.nan)
    e = _nan_to_zero(at_t("units_exports") / safe)
    i = _nan_to_zero(at_t("units_imports") / safe)
    keep = 1.0 - e + i

    # --- flow-driven products: DC by eq. 10, a level path or held; units from the intensity
    dc_t = at_t("domestic_consumption")
    q_t = at_t("units_sales")
    q_vals = np.full((n_lead, len(products), n_years), np.nan)
    dc_flow = np.zeros((n_lead, len(products), future.size))
    growth = [p for p in products if methods[p] == "growth"]
    if growth:
        rates = _rates(growth, options, future)
        gaps = [p for j, p in enumerate(growth) if bool(np.isnan(rates[j]).any())]
        if gaps:
            p = gaps[0]
            ys = future[np.isnan(rates[growth.index(p)])]
            raise ScenarioError(
                f"key forecast.growth_rates.{p}: no rate for the years {_span(ys)} "
                f"(growth products without full coverage: {', '.join(gaps)})",
                file=file,
            )
        rows = [index[p] for p in growth]
        if "growth_rate_factor" in inputs:  # Monte Carlo factor on the scenario's rates
            # (the inputs' products are the projection's here)
            factor = lead_values(inputs.variables["growth_rate_factor"], n_lead, _P)[:, rows]
            rates = rates * factor[..., None]
        dc_flow[:, rows] = _growth_values(dc_t[:, rows], rates)
    level = [p for p in products if methods[p] == "level"]
    if level:
        levels = options.levels
        no_level = [p for p in level if p not in levels]
        if no_level:
            raise ScenarioError(
                f"key forecast.levels: no level for the product(s) {', '.join(no_level)} "
                "(forecast_method level)",
                file=file,
            )
        lv = np.array([float(levels[p].value) for p in level])
        ly = np.array([float(levels[p].year) for p in level])
        rows = [index[p] for p in level]
        dc_flow[:, rows] = _level_values(dc_t[:, rows], lv, ly, future, last)
    hold = [p for p in products if methods[p] == "hold"]
    if hold:
        rows = [index[p] for p in hold]
        dc_flow[:, rows] = dc_t[:, rows, None] * np.ones(future.size)
    for p in (p for p in products if methods[p] == "units"):
        # units sold into use on a path from Q(T); DC = P m with P = Q / (1 - e + i)
        j = index[p]
        q_p = _share_values(q_t[:, j], options.units[p], future, last)
        k_p = np.where(keep[:, j] > 0, keep[:, j], np.nan)[:, None]
        dc_flow[:, j] = _nan_to_zero(q_p / k_p * m_f[:, j])
    flow_rows = [index[p] for p in flow_p]
    if flow_p:
        mm = m_f[:, flow_rows]
        q_f = _nan_to_zero(dc_flow[:, flow_rows] / np.where(mm > 0, mm, np.nan))
        q_vals[:, flow_rows, : i_last + 1] = accounted("units_sales")[:, flow_rows]
        q_vals[:, flow_rows, i_last + 1 :] = q_f * keep[:, flow_rows, None]
        del mm, q_f
    groups = fl.groups_of(inputs, methods) if fleet_p else {}
    if groups and "units_in_use" not in acc_values:
        # the fleet to T from the units sold, of the groups' members: the only fleets to T
        # read (the fitting and the joins below); NaN for the other products
        members = [p for p in products if any(p in m for m in groups.values())]
        rows = [index[p] for p in members]
        sold_to_t = accounted("units_sales")
        fleet_to_t = np.full(sold_to_t.shape, np.nan)
        fleet_to_t[:, rows] = lives.use(sold_to_t[:, rows], members)[1]
        acc_values["units_in_use"] = fleet_to_t
        del sold_to_t
    # the fleets of flow-driven products in a group with fleet-driven ones (EV in CV + EV)
    # come off the group's target: only those are convolved here
    in_groups = [p for members in groups.values() for p in members if p in flow_p]
    ff = lives.use(q_vals[:, [index[p] for p in in_groups]], in_groups)[1] if in_groups else None

    curves: np.ndarray | None = None  # ownership_fitted, labelled at the end
    curve_draws = False
    diagnosed: dict[str, xr.DataArray] = {}
    # unit sales and unmet fleet decline of the fleet-driven products
    unmet_vals = np.zeros((n_lead, len(products), n_years))
    unmet_attrs: dict = {}
    sd_attrs: dict = {}
    if fleet_p:
        if fits is None:
            if _D in inputs.dims or hist.has_draws:
                warnings.warn(
                    "ownership curves fitted on the mean of the draws: pass the deterministic "
                    "run's fits (fits=ndsim.forecast.fits_from_dataset(run)) so that every "
                    "draw is independent of the chunking",
                    stacklevel=2,
                )
            fleet = _labelled(  # (with the accounting's draws, if it has any)
                accounted("units_in_use"), lead if hist.has_draws else None, products, hist.years
            )
            fits = fit_fleets(
                inputs, options, groups, methods, xr.Dataset({"units_in_use": fleet}), file=file
            )
        gdp = _smoothed(inputs, "gdp_per_capita", years, year_pos)
        tau_all = options.join_years
        mean_life = None if tau_all else lives.mean_age(fleet_p, n_years + 1)
        shares_spec = options.sales_share
        in_use = accounted("units_in_use")
        sold = accounted("units_sales")
        z_all, z_index = _z_values(inputs)
        s = (future - last).astype(float)
        drivers: dict[str, np.ndarray] = {}
        keys: list[str] = []
        stock_rows, hist_rows, splits, fitted = [], [], {}, {}

        def tau_of(p):
            if tau_all:
                return float(tau_all)
            t = mean_life[fleet_p.index(p)]
            return t[:, None] if t.ndim else t

        def joined(acc, target, tau):  # (n, years to T), (n or 1, years) -> (n, future)
            return fl.join_values(
                acc[:, i_last, None],
                acc[:, i_last - 1, None],
                target[:, i_last, None],
                target[:, i_last - 1, None],
                target[:, i_last + 1 :],
                s,
                tau,
            )

        for group, members in groups.items():
            fit = fits.get(group)
            if fit is None:
                raise ValidationError(f"no ownership curve for the group {group}")
            own = [p for p in members if methods[p] in fl.FLEET_METHODS]
            shared = [p for p in members if methods[p] == "sales_share"]
            lead_p = own[0]
            z = None if z_all is None else z_all[:, z_index[lead_p], :]
            curve = fl.curve_values(fit, gdp, z)
            if curve.ndim == 2:  # per draw (sampled parameters)
                curve_draws = True
            else:
                curve = curve[None, :]
            fitted[group] = curve
            basis = "households" if fit.basis == "household" else "population"
            if basis not in drivers:
                drivers[basis] = _smoothed(inputs, basis, years, year_pos)
            target = curve * drivers[basis]
            others = [p for p in members if p not in own and p not in shared]
            if others:  # the others' own fleets (e.g. EV in CV + EV) come off the group's
                assert ff is not None
                rows = ff[:, [in_groups.index(p) for p in others], :]
                target = target - np.nansum(rows, axis=1)
            if shared:  # one fleet; the shared products take their share of its sales
                names = own + shared
                acc = np.nansum(in_use[:, [index[p] for p in names], :], axis=1)
                key = f"group:{group}"
                keys.append(key)
                stock_rows.append(np.clip(joined(acc, target, tau_of(lead_p)), 0.0, None))
                hist_rows.append(np.nansum(sold[:, [index[p] for p in names], :], axis=1))
                splits[key] = (own, shared, group)
                continue
            acc = in_use[:, [index[p] for p in own], :]
            total_t = np.nansum(acc[:, :, i_last], axis=1)
            share = acc[:, :, i_last] / np.where(total_t > 0, total_t, np.nan)[:, None]
            for j, p in enumerate(own):
                t_p = target * share[:, j, None]
                keys.append(p)
                stock_rows.append(np.clip(joined(acc[:, j], t_p, tau_of(p)), 0.0, None))
                hist_rows.append(sold[:, index[p], :])
        stock_vals = np.full((n_lead, len(keys), n_years), np.nan)
        hist_vals = np.full((n_lead, len(keys), n_years), np.nan)
        for row in range(len(keys)):
            stock_vals[:, row, i_last + 1 :] = stock_rows[row]
            hist_vals[:, row, : i_last + 1] = hist_rows[row]
        of = [splits[k][0][0] if k in splits else k for k in keys]
        q_keys, unmet_keys, sd_attrs = lives.stock(stock_vals, hist_vals, of, keys, decline_policy)
        del stock_rows, hist_rows, stock_vals, hist_vals
        unmet_attrs = {**cv.attrs("unmet_stock_decline"), **sd_attrs}
        for kk, k in enumerate(keys):
            if k not in splits:
                q_vals[:, index[k], :] = q_keys[:, kk, :]
                unmet_vals[:, index[k], :] = unmet_keys[:, kk, :]
                continue
            own, shared, group = splits[k]
            q_g = q_keys[:, kk, i_last + 1 :]
            q_last = sold[:, [index[p] for p in own + shared], i_last]
            total_t = np.nansum(q_last, axis=1)
            part = {}
            rest: np.ndarray | float = 1.0
            for j, p in enumerate(shared):  # each shared product's path from its share of T
                held = q_last[:, len(own) + j] / np.where(total_t > 0, total_t, np.nan)
                path = _share_values(_nan_to_zero(held), shares_spec[p], future, last)
                part[p] = path
                rest = rest - path
            own_t = np.nansum(q_last[:, : len(own)], axis=1)
            for j, p in enumerate(own):
                ratio = q_last[:, j] / np.where(own_t > 0, own_t, np.nan)
                part[p] = rest * np.where(np.isnan(ratio), 1.0 / len(own), ratio)[:, None]
            for p in own + shared:
                q_vals[:, index[p], : i_last + 1] = sold[:, index[p], :]
                q_vals[:, index[p], i_last + 1 :] = np.clip(q_g * part[p], 0.0, None)
                gap = unmet_keys[:, kk, :]
                unmet_vals[:, index[p], :] = gap if p == own[0] else 0.0 * gap
        del q_keys, unmet_keys  # copied into q_vals and unmet_vals
        # ownership_fitted is a contract variable (SPEC §6): ensemble chunks carry it too;
        # each member of a group carries its group's curve (with draws where it has them)
        curves = np.full((n_lead if curve_draws else 1, len(products), n_years), np.nan)
        for group, members in groups.items():
            for p in members:
                curves[:, index[p], :] = fitted[group]
        if diagnostics:
            diagnosed = _fit_variables(fits, products)
            diagnosed["gdp_per_capita_trend"] = fl.smooth_gdp(
                _det(inputs["gdp_per_capita"])
            ).reindex({_Y: years})

    q_attrs = (
        dict(hist.attrs.get("units_sales", {})) if flow_p else {**cv.attrs("inflow"), **sd_attrs}
    )
    unmet_vals[np.isnan(unmet_vals)] = 0.0
    # Nd per cohort: F_in = Q m; DC = P m with P = Q / (1 - e + i) (DC as given for the
    # flow-driven products after T); end-of-life and stock from the whole Nd inflow series
    # (the accounting to T, the projection after: each computed over its own years)
    sales_f = q_vals[:, :, i_last + 1 :]
    keep_v = keep[:, :, None]
    production_f = _nan_to_zero(sales_f / np.where(keep_v > 0, keep_v, np.nan))
    dc_after = production_f * m_f
    if flow_p:
        dc_after[:, flow_rows] = dc_flow[:, flow_rows]
    del dc_flow

    def then(name: str, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """The accounting to T, then ``a`` (or ``a * b``, computed in place)."""
        acc = accounted(name)
        k = acc.shape[-1]
        after = a.shape if b is None else np.broadcast_shapes(a.shape, b.shape)
        joined = np.empty(np.broadcast_shapes(acc.shape[:-1], after[:-1]) + (k + after[-1],))
        joined[..., :k] = acc
        if b is None:
            joined[..., k:] = a
        else:
            np.multiply(a, b, out=joined[..., k:])
        return joined

    inflow = then("inflow", sales_f, m_f)
    # the fleets in units and the stock of Nd: one pdf evaluation for both
    (u_out, u_stock), (nd_out, nd_stock), life_attrs = lives.use_pair(q_vals, inflow, products)
    values = {
        "domestic_consumption": then("domestic_consumption", dc_after),
        "inflow": inflow,
        "outflow": nd_out,
        "stock": nd_stock,
        "units_production": then("production", production_f),
        "units_exports": then("units_exports", production_f, e[..., None]),
        "units_imports": then("units_imports", production_f, i[..., None]),
        "units_sales": q_vals,
        "units_retired": u_out,
        "units_in_use": u_stock,
        "unmet_fleet_decline": unmet_vals,
        "nd_intensity": then("nd_intensity", m_f),
    }
    given = {"units_production": "production"}  # the accounting's name, where another
    attrs = {
        name: dict(hist.attrs.get(given.get(name, name), {}))
        for name in ("domestic_consumption", "inflow", "units_production")
        + ("units_exports", "units_imports", "nd_intensity")
    }
    attrs |= {
        "outflow": {**cv.attrs("outflow"), **life_attrs},
        "stock": {**cv.attrs("stock"), **life_attrs},
        "units_sales": q_attrs,
        "units_retired": {**cv.attrs("outflow"), **life_attrs},
        "units_in_use": {**cv.attrs("stock"), **life_attrs},
        "unmet_fleet_decline": dict(unmet_attrs if fleet_p else q_attrs),
    }
    projection = Projection(
        values=values,
        attrs=attrs,
        extras={},
        products=products,
        years=years,
        draws=lead,
        last=last,
        methods=", ".join(f"{p}:{methods[p]}" for p in products),
        ratios=diagnostics and bool(future.size),
    )
    if curves is not None:  # (on the projection's labels where it has the draws they have)
        projection.extras["ownership_fitted"] = (
            projection._on_labels(curves, n_years)
            if curve_draws or lead is None
            else _labelled(curves, None, products, years)
        )
    projection.extras.update(diagnosed)
    return projection


@dataclass
class Projection:
    """What :func:`project_values` gives: the projection on plain arrays, labels on demand.

    Attributes
    ----------
    values : dict of str to numpy.ndarray
        Each variable (draw, product, year), the draw axis of length 1 without draws,
        in the order of :meth:`dataset`.
    attrs : dict of str to dict
        Their attributes as the projection sets them (:meth:`labelled` adds those of
        the output contract).
    extras : dict of str to xarray.DataArray
        ``ownership_fitted`` (fleet-driven products) and, with diagnostics, the fit
        variables and the smoothed GDP, labelled.
    products : list of str
    years : numpy.ndarray
    draws : numpy.ndarray or None
    last : int
        The last accounted year T.
    methods : str
        ``product:method, ...``: the forecast method of each product.
    ratios : bool
        Whether :meth:`dataset` adds the first-forecast-year ratios (diagnostics).
    """

    values: dict[str, np.ndarray]
    attrs: dict[str, dict]
    extras: dict[str, xr.DataArray]
    products: list[str]
    years: np.ndarray
    draws: np.ndarray | None
    last: int
    methods: str
    ratios: bool
    _frames: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def labelled(
        self, name: str, n_years: int | None = None, *, contract: bool = True
    ) -> xr.DataArray:
        """One variable ([draw,] product, year) over the first ``n_years`` years (default all),
        with the attributes :meth:`dataset` gives it (``contract=False``: the projection's
        own, without the output contract's)."""
        n = self.years.size if n_years is None else n_years
        da = self._on_labels(self.values[name][..., :n], n)
        da.name = name
        da.attrs = self._attrs(name, self.attrs[name]) if contract else dict(self.attrs[name])
        return da

    def extra(self, name: str, n_years: int | None = None) -> xr.DataArray:
        """One of the :attr:`extras` over the first ``n_years`` years, as :meth:`dataset` has it."""
        da = self.extras[name]
        if any(k not in da.xindexes for k in da.coords):
            da = da.reset_coords(drop=True)
        da = da.copy(deep=False)  # (the name and attributes set here are the copy's)
        da.name = name
        if n_years is not None and _Y in da.dims and n_years < da.sizes[_Y]:
            da = da.isel({_Y: slice(0, n_years)})
        da.attrs = self._attrs(name, da.attrs)
        return da

    def dataset(self, n_years: int | None = None, *, extras_only: bool = False) -> xr.Dataset:
        """Every variable and extra in one Dataset, with the first-forecast-year ratios.

        ``n_years``: the first years only (default all); ``extras_only``: without the
        variables of :attr:`values` and ``ownership_fitted``.
        """
        names = [] if extras_only else list(self.values)
        out = xr.Dataset({name: self.labelled(name, n_years) for name in names})
        for name in self.extras:
            if not (extras_only and name == "ownership_fitted"):
                out[name] = self.extra(name, n_years)
        if self.ratios:
            t = self.last
            for name, var in (
                ("sales_ratio_first_forecast_year", "units_sales"),
                ("inflow_ratio_first_forecast_year", "inflow"),
            ):
                x = self.labelled(var, n_years, contract=False)
                ratio = x.sel({_Y: t + 1}, drop=True) / x.sel({_Y: t}, drop=True)
                ratio.attrs = self._attrs(name, ratio.attrs)
                out[name] = ratio.rename(name)
        out = out.reset_coords(drop=True)
        out.attrs["last_accounted_year"] = self.last
        out.attrs["forecast_methods"] = self.methods
        return out

    @staticmethod
    def _attrs(name: str, attrs: Mapping) -> dict:
        # the contract's attributes over the projection's (for the variables it names)
        return {**attrs, **cv.attrs(name)} if name in cv.VARIABLES else dict(attrs)

    def _on_labels(self, values: np.ndarray, n: int) -> xr.DataArray:
        """Values (draw, product, year) over the first ``n`` years labelled, without a name
        or attributes; without draws the draw axis (length 1) goes."""
        # a shallow copy of an unnamed array built once per number of years: its coordinates
        # and indexes are shared by every variable, not built (or copied) again
        if n not in self._frames:
            coords: dict = {} if self.draws is None else {_D: self.draws}
            coords |= {_P: self.products, _Y: self.years[:n]}
            shape = tuple(len(labels) for labels in coords.values())
            self._frames[n] = xr.DataArray(
                np.broadcast_to(np.nan, shape), coords=coords, dims=tuple(coords)
            )
        return self._frames[n].copy(data=values if self.draws is not None else values[0])


def _nan_to_zero(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), 0.0, x)


class Lifetimes:
    """The products' lifetimes for the kernels on plain arrays, their parameters stacked once.

    ``pdf``: a mapping product -> Lifetime or a pdf (product, [draw], age). The
    parameters (draw, product) are taken once per projection when every lifetime is
    one the kernels evaluate (:func:`ndsim.dsm.kernel_param_values`); otherwise each
    call goes through :mod:`ndsim.dsm`'s labelled functions (the same kernels, the
    same numbers).
    """

    def __init__(self, pdf, products: list[str], lead, years: np.ndarray):
        from ndsim import dsm

        self.pdf, self.lead, self.years = pdf, lead, years
        self.index = {p: i for i, p in enumerate(products)}
        specs = {p: pdf[p] for p in products} if isinstance(pdf, Mapping) else None
        self.params = (
            None
            if specs is None
            else _kernel_params(specs, lead) or dsm.kernel_param_values(specs, lead)
        )

    def arrays(self, of: list[str], keys: list[str]):
        """code, p1, p2, shift and attrs of the products ``of``, named ``keys`` in the attrs."""
        from ndsim.lifetime import kernel_attrs

        code, p1, p2, shift, _ = self.params
        rows = [self.index[p] for p in of]
        attrs = kernel_attrs({k: self.pdf[p] for k, p in zip(keys, of, strict=True)})
        return code[rows], p1[:, rows], p2[:, rows], shift, attrs

    def labelled(self, of: list[str], keys: list[str]):
        """The lifetimes of ``of`` for :mod:`ndsim.dsm`'s labelled functions, named ``keys``."""
        if isinstance(self.pdf, Mapping):
            return {k: self.pdf[p] for k, p in zip(keys, of, strict=True)}
        return self.pdf.sel({_P: of}).assign_coords({_P: keys})

    def use(self, inflow: np.ndarray, of: list[str]):
        """Outflow and stock (draw, product, year) of inflows (draw, product, year), and attrs."""
        from ndsim import dsm

        if self.params is not None:
            code, p1, p2, shift, attrs = self.arrays(of, of)
            outflow, stock = dsm.inflow_driven_values(inflow, code, p1, p2, shift)
            return outflow, stock, attrs
        n = inflow.shape[0]
        years = self.years[: inflow.shape[-1]]  # (the first years: e.g. the accounting's)
        res = dsm.inflow_driven(_labelled(inflow, self.lead, of, years), self.labelled(of, of))
        return (
            lead_values(res["outflow"], n, _P, _Y),
            lead_values(res["stock"], n, _P, _Y),
            dict(res.attrs),
        )

    def use_pair(self, inflow: np.ndarray, inflow2: np.ndarray, of: list[str]):
        """:meth:`use` of two inflows of the same shape with the same lifetimes (the units
        and the Nd of the products), each pdf evaluated once: (outflow, stock) of each, and
        attrs. The same numbers as two calls of :meth:`use`, which a single draw takes (a
        second compiled kernel to load costs a run about 20 ms, more than one pdf
        evaluation per product saves there)."""
        from ndsim import dsm

        if self.params is None or inflow.shape != inflow2.shape or inflow.shape[0] == 1:
            out, stock, attrs = self.use(inflow, of)
            out2, stock2, _ = self.use(inflow2, of)
            return (out, stock), (out2, stock2), attrs
        code, p1, p2, shift, attrs = self.arrays(of, of)
        out, stock, out2, stock2 = dsm.inflow_driven_pair_values(
            inflow, inflow2, code, p1, p2, shift
        )
        return (out, stock), (out2, stock2), attrs

    def stock(
        self, target: np.ndarray, history: np.ndarray, of: list[str], keys: list[str], policy: str
    ):
        """Inflow and unmet stock decline (draw, key, year) of the stock-driven model, and attrs.

        A negative target or history, or a policy the kernels do not know, goes through
        :func:`ndsim.dsm.stock_driven`, which says where.
        """
        from ndsim import dsm
        from ndsim.kernels.stock import POLICIES

        if (
            self.params is not None
            and policy in POLICIES
            and not (target < 0).any()
            and not (history < 0).any()
        ):
            code, p1, p2, shift, attrs = self.arrays(of, keys)
            inflow, _, _, gap = dsm.stock_driven_values(
                target, history, code, p1, p2, shift, policy
            )
            unmet = gap if policy == "clip" else np.zeros_like(gap)
            return inflow, unmet, {**attrs, "decline_policy": policy}
        n = target.shape[0]
        sd = dsm.stock_driven(
            _labelled(target, self.lead, keys, self.years),
            self.labelled(of, keys),
            policy=policy,
            inflow_history=_labelled(history, self.lead, keys, self.years),
        )
        return (
            lead_values(sd["inflow"], n, _P, _Y),
            lead_values(sd["unmet_stock_decline"], n, _P, _Y),
            dict(sd.attrs),
        )

    def mean_age(self, of: list[str], n_ages: int) -> np.ndarray:
        """Mean lifetime Σ a f(a) / Σ f(a) of each product's discrete pdf (product, draw) [yr]."""
        from ndsim.kernels.lifetime import pdf_params

        if self.params is None:
            f = _pdf_array(self.pdf, of, n_ages).transpose(_P, ..., "age").values
        else:
            code, p1, p2, shift, _ = self.arrays(of, of)
            f = pdf_params(code[None, :], p1, p2, shift, np.empty(n_ages)).transpose(1, 0, 2)
        ages = np.arange(f.shape[-1], dtype=float)
        # (as xarray's sums: NaN counts as 0)
        return _nan_to_zero(f * ages).sum(axis=-1) / _nan_to_zero(f).sum(axis=-1)


def _kernel_params(
    specs: Mapping, lead: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, dict[str, str]] | None:
    """:func:`ndsim.dsm.kernel_param_values` of the common case on plain arrays: every
    lifetime evaluated in the kernels, each parameter a number or a DataArray over the draws
    ``lead`` alone. The same arrays; None otherwise (the labelled stacking then decides)."""
    from ndsim.lifetime import kernel_attrs

    if not all(s.fusable for s in specs.values()):
        return None
    rows = [s.kernel_params() for s in specs.values()]
    n = 1 if lead is None else lead.size
    checked: list = []  # the draw indexes found to hold the labels ``lead`` (often one)
    out = []
    for j in (1, 2):
        vals: list = []
        drawn = False
        for r in rows:
            v = r[j]
            if not isinstance(v, xr.DataArray):
                vals.append(float(v))
                continue
            if v.dims == () and not v.coords:
                vals.append(np.asarray(v.values, dtype=float))
                continue
            if lead is None or v.dims != (_D,) or len(v.coords) != 1:
                return None
            ix = v.xindexes.get(_D)  # (then the one coordinate)
            if ix is None:
                return None
            if not any(ix is c for c in checked):
                if not np.array_equal(v.indexes[_D].values, lead):
                    return None
                checked.append(ix)
            vals.append(np.asarray(v.values, dtype=float))
            drawn = True
        if drawn:  # (draw, product): the transposed view of the stack along product
            stacked = np.empty((len(vals), n))
            for row, x in zip(stacked, vals, strict=True):
                row[...] = x
            out.append(stacked.T)
        else:
            out.append(np.broadcast_to(np.array(vals, dtype=float)[None, :], (n, len(vals))))
    code = np.array([r[0] for r in rows], dtype=np.int64)
    return code, out[0], out[1], float(rows[0][3]), kernel_attrs(specs)


def _pdf_array(pdf, products: list[str], n_ages: int) -> xr.DataArray:
    """The pdf (product, [draw], age) of some products, evaluated from specs if need be."""
    if isinstance(pdf, Mapping):
        from ndsim.lifetime import pdf_by_product

        return pdf_by_product({p: pdf[p] for p in products}, n_ages)
    return pdf.sel({_P: products})


def _span(years) -> str:
    years = list(years)
    if not years:
        return "no years"
    return (
        f"{years[0]}-{years[-1]} ({len(years)} points)"
        if len(years) > 1
        else f"{years[0]} (1 point)"
    )


def plausibility_table(result: xr.Dataset, years=None) -> pd.DataFrame:
    """Units sold per year and in use per person beside the Nd demand, with the flags.

    Parameters
    ----------
    result : xarray.Dataset
        A run's output with ``domestic_consumption``, ``units_sales``,
        ``units_in_use``, ``population`` and ``plausibility_flag`` (a ``draw``
        dimension is averaged).
    years : tuple of int, optional
        The years to show; default the last accounted and the last forecast year.

    Returns
    -------
    pandas.DataFrame
        One row per product counted in units: ``count_unit`` and, per year, DC
        [t/yr], units sold into use [count/yr], units in use per person and
        ``!`` where a sourced bound is exceeded (SPEC §2.4).
    """
    ds = result
    if _D in ds.dims:
        ds = ds.mean(_D)
    if years is None:
        last = int(ds.attrs.get("last_accounted_year", int(ds[_Y].max())))
        years = (last, int(ds[_Y].max()))
    years = [y for y in dict.fromkeys(years) if y in ds[_Y].values]
    cols = {}
    pop = ds["population"] if "population" in ds else None
    for y in years:
        cols[f"DC {y} [t/yr]"] = ds["domestic_consumption"].sel({_Y: y}).values
        cols[f"sold {y} [/yr]"] = ds["units_sales"].sel({_Y: y}).values
        if pop is not None:
            cols[f"in use {y} [/person]"] = (
                ds["units_in_use"].sel({_Y: y}) / pop.sel({_Y: y})
            ).values
        if "plausibility_flag" in ds:
            cols[f"{y} bound"] = np.where(
                ds["plausibility_flag"].sel({_Y: y}).values > 0,
                "above!",
                np.where(np.isnan(ds["plausibility_flag"].sel({_Y: y}).values), "", "ok"),
            )
    df = pd.DataFrame(cols, index=pd.Index([str(p) for p in ds[_P].values], name="product"))
    if "count_unit" in ds.coords:
        df.insert(0, "count_unit", [str(u) for u in ds["count_unit"].values])
        df = df[df["count_unit"] != "t"]
    return df
