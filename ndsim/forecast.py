"""Forecast of end-use demand, inflow, stock and end-of-life flows after the accounted years.

Each end use follows one forecast method (SPEC §1-2), the data set's
``forecast_method`` unless the scenario names the product in a forecast table:

``gompertz``
    Stock-driven (the paper's eq. 7-9): per-capita ownership follows a Gompertz
    curve of GDP per capita, the Nd stock is ownership x population x Nd content
    x adoption rate (eq. 8 with the adoption rate, SPEC's correction), the
    inflow comes from inverting the lifetime model with the accounted inflows
    as history, and domestic consumption from the inflow with the last
    accounted trade shares, DC = F_in / (1 - e + i).
``growth``
    Eq. 10 on domestic consumption, DC(t) = DC(T) prod_{tau = T+1..t} (1 + a(tau)),
    with piecewise-constant rates from the scenario; inflow = DC (1 - e + i).
``level``
    Geometric path of DC from its last accounted value to a target level
    (``forecast.levels``), held after the target year.
``hold``
    DC held at its last accounted value.

T is the last accounted year. Stocks and outflows come from the lifetime
model applied to the whole inflow series (first accounted year to the last
forecast year), so the stock is continuous at T/T+1 and the mass balance
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
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ndsim import conventions as cv
from ndsim import gompertz as gz
from ndsim.errors import ScenarioError, ValidationError

__all__ = [
    "ProductFit",
    "project",
    "fit_products",
    "fits_from_dataset",
    "growth_path",
    "level_path",
    "adoption_path",
    "plausibility_table",
    "forecast_methods",
    "BIAS_THRESHOLD",
    "FIT_VARIABLES",
]

#: the output variables that carry the spliced fits (what :func:`fits_from_dataset` reads);
#: an ensemble adds them from the deterministic run to every chunk's inputs
FIT_VARIABLES = (
    "gompertz_saturation",
    "gompertz_alpha",
    "gompertz_beta",
    "gompertz_anchor_stock",
    "gompertz_anchor_ownership",
    "gompertz_level_ratio",
    "gompertz_method",
)
#: largest share of the stock an empty start may leave out for an accounted year to enter a fit
BIAS_THRESHOLD = 0.05
#: fewest observed ownership points for a fit to observed ownership (else: accounted ownership)
MIN_OBSERVED_POINTS = 3
METHODS = ("gompertz", "growth", "level", "hold")

_P = cv.PRODUCT
_Y = cv.YEAR
_D = cv.DRAW

_EXTRA = [
    cv.Variable(
        "unmet_stock_decline",
        (_P, _Y),
        cv.STOCK_UNITS,
        "unmet stock decline",
        "stock-driven forecast: part of the target stock decline that outflows could not "
        "deliver under the decline policy `clip` (inflow set to 0 instead of negative)",
    ),
    cv.Variable(
        "gompertz_stock_target",
        (_P, _Y),
        cv.STOCK_UNITS,
        "Gompertz stock target",
        "S = V(GDP) x population x Nd content x adoption rate (eq. 7-8 with the adoption "
        "rate) for the stock-driven products after the last accounted year",
    ),
    cv.Variable(
        "gompertz_saturation",
        (_P,),
        "count person-1",
        "Gompertz saturation level",
        "VS of eq. 7 per person, spliced so that the curve meets the accounted stock of the "
        "last accounted year; per Monte Carlo draw rescaled by the draw's accounted ownership "
        "over gompertz_anchor_ownership (SPEC §5)",
    ),
    cv.Variable("gompertz_alpha", (_P,), "1", "Gompertz alpha", "alpha of eq. 7 (< 0)"),
    cv.Variable(
        "gompertz_beta",
        (_P,),
        "person yr USD-1",
        "Gompertz beta",
        "beta of eq. 7 (< 0), per unit of the data set's GDP per capita",
    ),
    cv.Variable(
        "gompertz_level_ratio",
        (_P,),
        "1",
        "Gompertz splice ratio",
        "spliced / fitted saturation level: accounted ownership of the last accounted year "
        "over the fitted curve there (1 for fits anchored to the accounted stock)",
    ),
    cv.Variable(
        "gompertz_anchor_stock",
        (_P,),
        cv.STOCK_UNITS,
        "Gompertz anchor stock",
        "accounted stock of the last accounted year the curve was spliced to",
    ),
    cv.Variable(
        "gompertz_anchor_ownership",
        (_P,),
        "count person-1",
        "Gompertz anchor ownership",
        "accounted ownership per person of the last accounted year, S / (MI AR population); "
        "per Monte Carlo draw VS_d = VS x (the draw's value) / (this value)",
    ),
    cv.Variable(
        "gompertz_rmse_log",
        (_P,),
        "1",
        "Gompertz fit RMSE (log)",
        "root mean square of ln(fitted) - ln(data) over the fitted points",
    ),
    cv.Variable(
        "gompertz_method",
        (_P,),
        "1",
        "Gompertz fit method",
        "data source (observed or accounted ownership) and which parameters were fitted",
    ),
    cv.Variable(
        "gompertz_data",
        (_P, _Y),
        "count person-1",
        "Gompertz fit data",
        "ownership per person the curve was fitted to (NaN: year not used)",
    ),
    cv.Variable(
        "gompertz_residual",
        (_P, _Y),
        "count person-1",
        "Gompertz fit residual",
        "data - fitted curve (before the splice) at the fitted points",
    ),
    cv.Variable(
        "implied_units",
        (_P, _Y),
        "count yr-1",
        "implied units per year",
        "DC / (Nd content x adoption rate): products (or MW) per year that the domestic "
        "consumption implies; NaN for end uses counted in tonnes of the element",
    ),
    cv.Variable(
        "implied_ownership",
        (_P, _Y),
        "count person-1",
        "implied ownership",
        "stock / (Nd content x adoption rate) / population, for the stock-driven products",
    ),
    cv.Variable(
        "inflow_ratio_2018_2017",
        (_P,),
        "1",
        "first-forecast-year inflow ratio",
        "use-stage inflow of the first forecast year over the last accounted year",
    ),
]
for _v in _EXTRA:
    cv.register(_v)


# --- scenario access ------------------------------------------------------------------
def _get(obj, name, default=None):
    """Field of a scenario part: attribute or mapping key, `default` if absent or None."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        value = obj.get(name, default)
    else:
        value = getattr(obj, name, default)
    return default if value is None else value


def _scenario_file(scenario) -> str:
    path = _get(scenario, "path")
    return getattr(path, "name", None) or "<scenario>"


def forecast_methods(inputs: xr.Dataset, scenario) -> dict[str, str]:
    """Forecast method of each product: the data set's, overridden by the scenario's tables.

    A product named in ``forecast.growth_rates`` is a growth product, in
    ``forecast.levels`` a level product, in ``forecast.hold`` a held product.

    Raises
    ------
    ScenarioError
        A product in two of these tables.
    """
    products = [str(p) for p in inputs[_P].values]
    if "forecast_method" in inputs.coords:
        methods = {
            p: str(m) for p, m in zip(products, inputs["forecast_method"].values, strict=True)
        }
    else:
        methods = dict.fromkeys(products, "hold")
    fc = _get(scenario, "forecast")
    named: dict[str, list[str]] = {}
    for key, method in (("growth_rates", "growth"), ("levels", "level"), ("hold", "hold")):
        for p in _get(fc, key, ()) or ():
            named.setdefault(str(p), []).append(f"forecast.{key}")
            methods[str(p)] = method
    twice = {p: k for p, k in named.items() if len(k) > 1}
    if twice:
        p, keys = next(iter(twice.items()))
        raise ScenarioError(
            f"key {keys[0]}: product(s) {', '.join(twice)} named in more than one of "
            f"{', '.join(keys)}",
            file=_scenario_file(scenario),
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


# --- paths ----------------------------------------------------------------------------
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
    return start * (1.0 + rates).cumprod(_Y)


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
        DC(t) = DC(T) (L / DC(T))^(min(t, Y) - T) / (Y - T)).
    """
    t = xr.DataArray(np.asarray(years, dtype=float), dims=_Y, coords={_Y: np.asarray(years)})
    frac = (np.minimum(t, target_year) - last) / (target_year - last)
    safe = start.where(start > 0)
    return (safe * (level / safe) ** frac).fillna(0.0)


def _piecewise_linear(held: xr.DataArray, points, years: np.ndarray, last: int) -> xr.DataArray:
    """From the held value at T, linearly through (year, value) points after T, flat after the last."""
    knots = [(last, None)] + [(int(y), float(v)) for y, v in points if int(y) > last]
    kx = np.array([k[0] for k in knots], dtype=float)
    out = None
    for j, (_, v) in enumerate(knots):
        basis = np.interp(years.astype(float), kx, np.eye(len(knots))[j])
        b = xr.DataArray(basis, dims=_Y, coords={_Y: years})
        term = b * (held if v is None else v)
        out = term if out is None else out + term
    return out


def adoption_path(adoption: xr.DataArray, scenario, years: np.ndarray, last: int) -> xr.DataArray:
    """Adoption rate over all years: data to T, then held or the scenario's points.

    Parameters
    ----------
    adoption : xarray.DataArray
        AR (..., product, year) [1] over (at least) the accounted years.
    scenario
        ``forecast.adoption``: ``"hold"`` or per product a list of (year, AR)
        points, reached linearly from AR(T) and held after the last point.
    years : numpy.ndarray
        All model years.
    last : int
        Last accounted year T.
    """
    acc = adoption.sel({_Y: slice(None, last)})
    held = acc.sel({_Y: last}, drop=True)
    future = years[years > last]
    fut = held.expand_dims({_Y: future}).copy()
    spec = _get(_get(scenario, "forecast"), "adoption", "hold")
    if not isinstance(spec, str):
        for p, pts in spec.items():
            fut.loc[{_P: p}] = _piecewise_linear(held.sel({_P: p}), pts, future, last).transpose(
                *fut.sel({_P: p}).dims
            )
    out = xr.concat([acc, fut.transpose(*acc.dims)], dim=_Y)
    return out.sel({_Y: years})


def _rates(products: list[str], scenario, years: np.ndarray) -> xr.DataArray:
    """Growth rates (product, year) from the scenario's periods; NaN where a year is not covered."""
    table = _get(_get(scenario, "forecast"), "growth_rates", {})
    rates = np.full((len(products), years.size), np.nan)
    for i, p in enumerate(products):
        for a, b, r in table.get(p, ()):
            rates[i, (years >= a) & (years <= b)] = r
    return xr.DataArray(rates, dims=(_P, _Y), coords={_P: products, _Y: years})


# --- Gompertz fits ---------------------------------------------------------------------
@dataclass(frozen=True)
class ProductFit:
    """A Gompertz curve of one product, spliced to the accounted stock.

    Attributes
    ----------
    product : str
    saturation : float
        Spliced saturation level VS per person [count person-1].
    alpha : float
        [1], < 0.
    beta : float
        [person yr per unit of GDP per capita], < 0.
    anchor_stock : float
        Accounted stock of the last accounted year the curve meets [t].
    anchor_ownership : float
        The same as ownership per person, S / (MI AR pop) [count person-1].
    level_ratio : float
        Spliced over fitted saturation level [1].
    method : str
        Data source and fitted parameters, e.g.
        ``"observed ownership 2013-2022 (10 points): saturation, alpha, beta fitted"``.
    fit : ndsim.gompertz.GompertzFit or None
        The underlying least-squares fit (None when every parameter was given).
    years : tuple of int
        Years of the data points of ``fit``.
    """

    product: str
    saturation: float
    alpha: float
    beta: float
    anchor_stock: float
    anchor_ownership: float
    level_ratio: float
    method: str
    fit: gz.GompertzFit | None = None
    years: tuple[int, ...] = ()


def _span(years) -> str:
    years = list(years)
    if not years:
        return "no years"
    return (
        f"{years[0]}-{years[-1]} ({len(years)} points)"
        if len(years) > 1
        else f"{years[0]} (1 point)"
    )


def _fit_one(
    product: str,
    gdp: np.ndarray,
    years: np.ndarray,
    observed: np.ndarray,
    accounted: np.ndarray,
    usable: np.ndarray,
    last: int,
    anchor_stock: float,
    given: Mapping[str, float],
    file: str,
    label: str = "observed ownership",
) -> ProductFit:
    """Fit one product; see :func:`fit_products`."""
    key = f"forecast.gompertz.{product}"
    i_last = int(np.nonzero(years == last)[0][0])
    g_t, v_t = float(gdp[i_last]), float(accounted[i_last])
    if not (np.isfinite(v_t) and v_t > 0):
        raise ValidationError(
            f"product {product}: no accounted stock in {last} to splice the Gompertz curve to",
            file="production.csv",
            field="value",
        )
    vs_given = given.get("saturation")
    if "alpha" in given and "beta" in given:
        vs0 = vs_given if vs_given is not None else 1.0
        vs = float(gz.splice_saturation(vs0, given["alpha"], given["beta"], g_t, v_t))
        return ProductFit(
            product,
            vs,
            float(given["alpha"]),
            float(given["beta"]),
            anchor_stock,
            v_t,
            vs / vs0 if vs_given is not None else float("nan"),
            "alpha, beta given (scenario); saturation from the splice",
        )
    obs_ok = np.isfinite(observed) & (observed > 0) & np.isfinite(gdp)
    try:
        if obs_ok.sum() >= MIN_OBSERVED_POINTS:
            source = f"{label} {_span(years[obs_ok])}"
            fyears = years[obs_ok]
            if vs_given is None and obs_ok.sum() < 4:
                raise _NotIdentified(len(fyears), source)
            fit = gz.fit_gompertz(gdp[obs_ok], observed[obs_ok], saturation=vs_given)
            if not fit.saturation_identified:
                raise _NotIdentified(len(fyears), source)
            vs = float(gz.splice_saturation(fit.saturation, fit.alpha, fit.beta, g_t, v_t))
        else:
            ok = usable & np.isfinite(accounted) & (accounted > 0) & (years < last)
            fyears = years[ok]
            source = f"accounted ownership {_span(list(fyears) + [last])}, years with empty-start bias <= {BIAS_THRESHOLD:.0%}"
            if vs_given is None and ok.sum() < 3:
                raise _NotIdentified(len(fyears) + 1, source)
            fit = gz.fit_gompertz(gdp[ok], accounted[ok], saturation=vs_given, anchor=(g_t, v_t))
            if not fit.saturation_identified:
                raise _NotIdentified(len(fyears) + 1, source)
            vs = float(gz.splice_saturation(fit.saturation, fit.alpha, fit.beta, g_t, v_t))
    except _NotIdentified as exc:
        raise ScenarioError(
            f"key {key}.saturation: the saturation level is not identifiable from the "
            f"{exc.args[1]}; give it (count per person, literature or a stated estimate)",
            file=file,
        ) from None
    except ValueError as exc:
        raise ScenarioError(
            f"key {key}: cannot fit a Gompertz curve to the {source}: {exc}", file=file
        ) from None
    method = f"{source}: {fit.mode}"
    if vs_given is not None:
        method += " (saturation from the scenario, rescaled by the splice)"
    return ProductFit(
        product,
        vs,
        fit.alpha,
        fit.beta,
        anchor_stock,
        v_t,
        vs / fit.saturation,
        method,
        fit,
        tuple(int(y) for y in fyears),
    )


class _NotIdentified(Exception):
    pass


def fit_products(
    inputs: xr.Dataset,
    accounted_stock: xr.DataArray,
    accounted_inflow: xr.DataArray,
    pdf: xr.DataArray,
    scenario,
    products: list[str],
    last: int,
) -> dict[str, ProductFit]:
    """Fit and splice the Gompertz curve of each stock-driven product (deterministic data).

    Parameters
    ----------
    inputs : xarray.Dataset
        Canonical inputs: ``gdp_per_capita``, ``population`` (year), ``nd_content``,
        ``adoption_rate`` and, where available, observed ``ownership`` (product, year)
        [count person-1] or ``ownership_household`` [count household-1].
    accounted_stock, accounted_inflow : xarray.DataArray
        Accounted stock [t] and use-stage inflow [t yr-1] (product, year), first..T.
    pdf : xarray.DataArray
        Lifetime pdf (product, age).
    scenario
        ``forecast.gompertz.<product>`` may give ``saturation``, ``alpha``, ``beta``.
    products : list of str
        The stock-driven products.
    last : int
        Last accounted year T.

    Returns
    -------
    dict
        product -> :class:`ProductFit`.

    Notes
    -----
    Data, per product (first that applies):

    1. ``alpha`` and ``beta`` given: the saturation level follows from the splice.
    2. At least :data:`MIN_OBSERVED_POINTS` observed ownership values (e.g. NBS
       household surveys converted to units per person): saturation, alpha, beta
       fitted to them (saturation held if given), then the saturation level is
       rescaled so the curve meets the accounted ownership of T (the shape comes
       from the survey, the level from the accounting; the ratio is reported).
    3. Else at least :data:`MIN_OBSERVED_POINTS` values of ``ownership_household``
       (units per household, e.g. the NBS survey): the same, as shape only; the
       splice turns the level into units per person, which holds the household
       size at its level of T (an assumption: household size kept falling).
    4. Otherwise the ownership the accounting implies, S / (MI AR) / population,
       in the years whose empty-start bias (:func:`ndsim.gompertz.empty_start_bias`)
       is at most :data:`BIAS_THRESHOLD`, with the curve forced through T.

    A saturation level the data do not identify (an exponential-looking series)
    must come from the scenario; the error names the key.
    """
    file = _scenario_file(scenario)
    given_all = _get(_get(scenario, "forecast"), "gompertz", {}) or {}
    years = accounted_stock[_Y].values
    pop = inputs["population"].sel({_Y: years})
    ar = inputs["adoption_rate"].sel({_Y: years})
    per_capita = accounted_stock / (unit_content(inputs) * ar * pop)
    bias = gz.empty_start_bias(accounted_inflow, pdf)
    all_years = inputs[_Y].values
    g_all = inputs["gdp_per_capita"].values.astype(float)

    def series(name, p):
        if name in inputs and p in inputs[name][_P].values:
            da = inputs[name].sel({_P: p})
            if _D in da.dims:
                da = da.mean(_D)
            return da.reindex({_Y: all_years}).values.astype(float)
        return np.full(all_years.size, np.nan)

    fits = {}
    for p in products:
        sel = {_P: p}
        acc = np.full(all_years.size, np.nan)
        acc[np.isin(all_years, years)] = per_capita.sel(sel).values
        use = np.zeros(all_years.size, dtype=bool)
        use[np.isin(all_years, years)] = bias.sel(sel).values <= BIAS_THRESHOLD
        obs, label = series("ownership", p), "observed ownership"
        if (np.isfinite(obs) & (obs > 0)).sum() < MIN_OBSERVED_POINTS:
            hh = series("ownership_household", p)
            if (np.isfinite(hh) & (hh > 0)).sum() >= MIN_OBSERVED_POINTS:
                obs = hh
                label = "observed ownership per household (shape; household size held)"
        fits[p] = _fit_one(
            p,
            g_all,
            all_years,
            obs,
            acc,
            use,
            last,
            float(accounted_stock.sel(sel).sel({_Y: last})),
            given_all.get(p, {}),
            file,
            label,
        )
    return fits


def fits_from_dataset(ds: xr.Dataset) -> dict[str, ProductFit]:
    """Rebuild the spliced fits from a result's ``gompertz_*`` variables (deterministic run).

    Gompertz parameters are fitted once, on the deterministic run (SPEC §5). An
    ensemble passes them on either as ``project(..., fits=fits_from_dataset(det))``
    or by adding ``det[list(FIT_VARIABLES)]`` to every chunk's inputs, which
    :func:`project` reads when ``fits`` is None. Only saturation, alpha and beta
    are required; products whose saturation is NaN are not Gompertz products.
    """
    products = [str(p) for p in ds[_P].values]

    def column(name, default=float("nan")):
        if name not in ds:
            return [default] * len(products)
        da = ds[name]
        if _D in da.dims:
            return None
        return da.transpose(_P).values.tolist()

    sat = column("gompertz_saturation")
    if sat is None:  # a saturation per draw is not a deterministic fit
        return {}
    cols = [
        column(n)
        for n in (
            "gompertz_alpha",
            "gompertz_beta",
            "gompertz_anchor_stock",
            "gompertz_anchor_ownership",
            "gompertz_level_ratio",
        )
    ]
    cols = [c if c is not None else [float("nan")] * len(products) for c in cols]
    method = column("gompertz_method", "")
    method = method if method is not None else [""] * len(products)
    fits = {}
    for i, p in enumerate(products):
        if not np.isfinite(float(sat[i])):
            continue
        fits[p] = ProductFit(p, float(sat[i]), *(float(c[i]) for c in cols), str(method[i]))
    return fits


# --- the projection ---------------------------------------------------------------------
def _by_product(parts: list[xr.Dataset], products: list[str], years: np.ndarray) -> xr.Dataset:
    """The parts' variables (([draw], product, year)) in one array each, over all products.

    Each variable is written into one preallocated (draw, product, year)
    array, NaN for a product no part gives (what concatenating the parts
    along product and reindexing would give, without the copies).
    """
    where = {p: i for i, p in enumerate(products)}
    n_draw = max((part.sizes.get(_D, 0) for part in parts), default=0)
    draw_coord = next((part[_D] for part in parts if _D in part.coords), None)
    lead = (n_draw,) if n_draw else ()
    out = {}
    for name in parts[0].data_vars:
        arr = np.full((*lead, len(products), years.size), np.nan)
        for part in parts:
            da = part[name]
            if not np.array_equal(da[_Y].values, years):
                da = da.reindex({_Y: years})
            da = da.transpose(*[d for d in (_D, _P, _Y) if d in da.dims])
            idx = [where[str(p)] for p in da[_P].values]
            vals = da.values if _D in da.dims or not n_draw else da.values[None]
            arr[..., idx, :] = vals
        out[name] = ((_D, _P, _Y) if n_draw else (_P, _Y), arr)
    coords = {_P: products, _Y: years}
    if draw_coord is not None:
        coords[_D] = draw_coord.values
    return xr.Dataset(out, coords=coords)


def project(
    inputs: xr.Dataset,
    hist: xr.Dataset,
    scenario,
    pdf: xr.DataArray | Mapping,
    *,
    fits: Mapping[str, ProductFit] | None = None,
    diagnostics: bool = True,
) -> xr.Dataset:
    """Forecast DC, inflow, outflow and stock of every end use to the last forecast year.

    Parameters
    ----------
    inputs : xarray.Dataset
        Canonical inputs (``ndsim.io.readers.load_dataset``), possibly with a
        leading ``draw`` dimension: ``nd_content``, ``adoption_rate``,
        ``population`` and ``gdp_per_capita`` (to the last forecast year),
        ``ownership`` (optional), coordinate ``forecast_method``.
    hist : xarray.Dataset
        Accounted ``domestic_consumption``, ``inflow``, ``exports_final``,
        ``imports_final`` (..., product, year <= T) [t yr-1].
    scenario : ndsim.scenario.Scenario
        ``forecast`` (growth rates, levels, hold, adoption, trade shares,
        Gompertz overrides, last year) and ``run.decline_policy``.
    pdf : xarray.DataArray or mapping of product -> ndsim.lifetime.Lifetime
        Lifetime pdf (product, [draw], age) [yr-1], or the lifetimes it comes
        from (the kernels then evaluate the pdf from the parameters).
    fits : mapping, optional
        Spliced Gompertz fits of the deterministic run (:func:`fits_from_dataset`);
        None: read from the inputs' :data:`FIT_VARIABLES` if present, else fit
        here (on the draw mean, with a warning, when the data carry draws). With
        draws, each draw's saturation is rescaled, VS_d = VS V_d(T) / V(T) with
        V = S / (MI AR pop) (SPEC §5), so every draw meets its own stock; optional
        per-draw factors ``gompertz_alpha_factor``, ``gompertz_beta_factor`` and
        ``growth_rate_factor`` (draw, product) in the inputs scale alpha, beta and
        the growth rates (the saturation is then spliced with the drawn shape).
    diagnostics : bool
        Also return the Gompertz fit variables, the stock target, the implied
        units and ownership and the 2018/2017 inflow ratio (default). An
        ensemble's chunks, which summarise only the SPEC §6 variables, leave
        them out.

    Returns
    -------
    xarray.Dataset
        Over years first..forecast_last: ``domestic_consumption``, ``inflow``,
        ``outflow``, ``stock``, ``unmet_stock_decline`` (product, year),
        ``gompertz_*`` fit variables, ``implied_units``, ``implied_ownership``,
        ``inflow_ratio_2018_2017`` (product); attributes ``last_accounted_year``
        and ``forecast_methods``.

    Raises
    ------
    ScenarioError
        A growth product without rates for every forecast year, a level product
        without a level, a saturation level that must be given.
    ValidationError
        Drivers missing in forecast years.

    Notes
    -----
    Gompertz products: V(t) = VS exp(alpha exp(beta GDP(t))) per person (eq. 7),
    S(t) = V(t) pop(t) MI AR(t) (eq. 8 with AR), inflow from
    :func:`ndsim.dsm.stock_driven` with the accounted inflows as history (eq. 9),
    DC = F_in / (1 - e + i). Other products: DC by eq. 10 (growth), a geometric
    path (level) or held; F_in = DC (1 - e + i); outflow and stock by
    :func:`ndsim.dsm.inflow_driven` over the whole series. e and i are the
    final-product export and import shares of DC in T (SPEC §2).
    """
    from ndsim import dsm

    file = _scenario_file(scenario)
    fc = _get(scenario, "forecast")
    last = int(hist[_Y].max())
    first = int(hist[_Y].min())
    end = _get(fc, "last_year") or int(inputs.attrs.get("forecast_last", int(inputs[_Y].max())))
    if not _get(fc, "enabled", True):
        end = last
    years = np.arange(first, end + 1)
    future = years[years > last]
    # drivers are needed from the first accounted year on (the history before it has none)
    driver_years = years[years >= int(inputs.attrs.get("first_year", first))]
    missing = [
        name
        for name in ("population", "gdp_per_capita")
        if name not in inputs or bool(inputs[name].reindex({_Y: driver_years}).isnull().any())
    ]
    methods = forecast_methods(inputs, scenario)
    products = [str(p) for p in hist[_P].values]
    gomp = [p for p in products if methods[p] == "gompertz"]
    if gomp and missing and future.size:
        raise ValidationError(
            f"{', '.join(missing)} missing in some of the years {driver_years[0]}-{end}",
            file="drivers.csv",
            field="value",
        )

    dc_hist = hist["domestic_consumption"]
    inflow_hist = hist["inflow"]
    dc_t = dc_hist.sel({_Y: last}, drop=True)
    safe = dc_t.where(dc_t != 0)
    trade_factor = (inflow_hist.sel({_Y: last}, drop=True) / safe).fillna(1.0)  # 1 - e + i
    ar = adoption_path(inputs["adoption_rate"], scenario, years, last)
    mi = unit_content(inputs)

    # --- DC and inflow of the flow-driven products over the forecast years
    pieces = []
    growth = [p for p in products if methods[p] == "growth"]
    if growth:
        rates = _rates(growth, scenario, future)
        gaps = [p for p in growth if bool(rates.sel({_P: p}).isnull().any())]
        if gaps:
            p = gaps[0]
            ys = future[rates.sel({_P: p}).isnull().values]
            raise ScenarioError(
                f"key forecast.growth_rates.{p}: no rate for the years {_span(ys)} "
                f"(growth products without full coverage: {', '.join(gaps)})",
                file=file,
            )
        if "growth_rate_factor" in inputs:  # Monte Carlo factor on the scenario's rates
            rates = rates * inputs["growth_rate_factor"].sel({_P: growth})
        pieces.append(growth_path(dc_t.sel({_P: growth}), rates))
    level = [p for p in products if methods[p] == "level"]
    if level:
        table = _get(fc, "levels", {})
        no_level = [p for p in level if p not in table]
        if no_level:
            raise ScenarioError(
                f"key forecast.levels: no level for the product(s) {', '.join(no_level)} "
                "(forecast_method level)",
                file=file,
            )
        lv = xr.DataArray(
            [float(_get(table[p], "value")) for p in level], dims=_P, coords={_P: level}
        )
        ly = xr.DataArray(
            [float(_get(table[p], "year")) for p in level], dims=_P, coords={_P: level}
        )
        pieces.append(level_path(dc_t.sel({_P: level}), lv, ly, future, last))
    hold = [p for p in products if methods[p] == "hold"]
    if hold:
        years_f = xr.DataArray(np.ones(future.size), dims=_Y, coords={_Y: future})
        pieces.append(dc_t.sel({_P: hold}) * years_f)
    template = dc_t.expand_dims({_Y: future}) * 0.0
    if pieces:
        base = template.isel({_P: 0}, drop=True)
        for pc in pieces:
            base = base + 0.0 * pc.isel({_P: 0}, drop=True).reset_coords(drop=True)
        pieces = [pc.reset_coords(drop=True).broadcast_like(base) for pc in pieces]
        dc_f = xr.concat(pieces, dim=_P).reindex({_P: products}).fillna(0.0)
    else:
        dc_f = template
    dc_f = dc_f.transpose(..., _P, _Y)
    flow_products = [p for p in products if methods[p] != "gompertz"]

    inflow_all = xr.concat([inflow_hist, dc_f * trade_factor], dim=_Y).transpose(..., _P, _Y)
    dc_all = xr.concat([dc_hist, dc_f], dim=_Y).transpose(..., _P, _Y)
    parts = []
    if flow_products:
        r = dsm.inflow_driven(inflow_all.sel({_P: flow_products}), _pdf_of(pdf, flow_products))
        parts.append(
            xr.Dataset(
                {
                    "inflow": inflow_all.sel({_P: flow_products}),
                    "outflow": r["outflow"],
                    "stock": r["stock"],
                    "unmet_stock_decline": xr.zeros_like(r["outflow"]),
                    "domestic_consumption": dc_all.sel({_P: flow_products}),
                }
            )
        )

    extras = {}
    if gomp:
        gsel = {_P: gomp}
        acc = dsm.inflow_driven(inflow_hist.sel(gsel), _pdf_of(pdf, gomp))
        s_t = acc["stock"].sel({_Y: last}, drop=True)
        if fits is None and all(f"gompertz_{k}" in inputs for k in ("saturation", "alpha", "beta")):
            fits = fits_from_dataset(inputs)  # the deterministic run's, carried by the inputs
        if fits is None:
            if _D in inputs.dims or _D in hist.dims:
                warnings.warn(
                    "Gompertz curves fitted on the mean of the draws: pass the deterministic "
                    "run's fits (inputs variables ndsim.forecast.FIT_VARIABLES) so that every "
                    "draw is independent of the chunking",
                    stacklevel=2,
                )

            def det(x):
                return x.mean(_D) if _D in x.dims else x

            inp_det = inputs.copy()
            for name in ("nd_content", "adoption_rate", "population", "gdp_per_capita"):
                inp_det[name] = det(inputs[name])
            fits = fit_products(
                inp_det,
                det(acc["stock"]),
                det(inflow_hist.sel(gsel)),
                det(_pdf_array(pdf, gomp, years.size)),
                scenario,
                gomp,
                last,
            )
        no_fit = [p for p in gomp if p not in fits]
        if no_fit:
            raise ValidationError(f"no Gompertz fit given for {', '.join(no_fit)}")

        def param(name):
            return xr.DataArray([getattr(fits[p], name) for p in gomp], dims=_P, coords=gsel)

        gdp = inputs["gdp_per_capita"].sel({_Y: years})
        pop = inputs["population"].sel({_Y: years})
        v_t = s_t / (
            mi.sel(gsel) * ar.sel(gsel).sel({_Y: last}, drop=True) * pop.sel({_Y: last}, drop=True)
        )
        alpha, beta = param("alpha"), param("beta")
        if "gompertz_alpha_factor" in inputs:  # Monte Carlo factors on the shape
            alpha = alpha * inputs["gompertz_alpha_factor"].sel(gsel)
        if "gompertz_beta_factor" in inputs:
            beta = beta * inputs["gompertz_beta_factor"].sel(gsel)
        # VS_d: the draw's curve meets the draw's accounted stock of T (SPEC §5); with the
        # fitted alpha, beta this is VS V_d(T) / V(T) (ndsim.gompertz.rescale_saturation)
        g_t = gdp.sel({_Y: last}, drop=True)
        vs = gz.splice_saturation(param("saturation"), alpha, beta, g_t, v_t)
        target = gz.gompertz(gdp, vs, alpha, beta) * pop * mi.sel(gsel) * ar.sel(gsel)
        hist_ext = inflow_hist.sel(gsel).reindex({_Y: years})
        stock_arg = target.where(target[_Y] > last).transpose(..., _P, _Y)
        policy = _get(_get(scenario, "run"), "decline_policy", "clip")
        sd = dsm.stock_driven(stock_arg, _pdf_of(pdf, gomp), policy=policy, inflow_history=hist_ext)
        inflow_g = sd["inflow"]
        dc_g = xr.concat(
            [dc_hist.sel(gsel), (inflow_g.sel({_Y: future}) / trade_factor.sel(gsel))], dim=_Y
        )
        parts.append(
            xr.Dataset(
                {
                    "inflow": inflow_g,
                    "outflow": sd["outflow"],
                    "stock": sd["stock"],
                    "unmet_stock_decline": sd["unmet_stock_decline"],
                    "domestic_consumption": dc_g,
                }
            )
        )
        if diagnostics:
            extras["gompertz_stock_target"] = target.where(target[_Y] > last)
            extras.update(_fit_variables(fits, gomp, inputs[_Y].values))

    out = _by_product([part.reset_coords(drop=True) for part in parts], products, years)
    if diagnostics:
        for name, da in extras.items():
            out[name] = da.reset_coords(drop=True).reindex({_P: products})
        denom = mi * ar
        count_unit = inputs["count_unit"] if "count_unit" in inputs.coords else None
        units = out["domestic_consumption"] / denom.where(denom > 0)
        if count_unit is not None:
            units = units.where(count_unit != "t")
        out["implied_units"] = units
        pop_all = inputs["population"].reindex({_Y: years}) if "population" in inputs else np.nan
        is_g = xr.DataArray([p in gomp for p in products], dims=_P, coords={_P: products})
        out["implied_ownership"] = (out["stock"] / denom.where(denom > 0) / pop_all).where(is_g)
        if future.size:
            ratio = out["inflow"].sel({_Y: last + 1}, drop=True) / out["inflow"].sel(
                {_Y: last}, drop=True
            )
        else:
            ratio = xr.full_like(out["inflow"].isel({_Y: 0}, drop=True), np.nan)
        out["inflow_ratio_2018_2017"] = ratio
    for name in out.data_vars:
        if name in cv.VARIABLES:
            out[name].attrs.update(cv.attrs(name))
    out = out.reset_coords(drop=True)
    if "gompertz_method" in out:
        out["gompertz_method"] = out["gompertz_method"].fillna("").astype(str)
    out.attrs["last_accounted_year"] = last
    out.attrs["forecast_methods"] = ", ".join(f"{p}:{methods[p]}" for p in products)
    return out


def _pdf_of(pdf, products: list[str]):
    """The lifetimes of some products: a pdf DataArray's selection, or a mapping's subset."""
    if isinstance(pdf, Mapping):
        return {p: pdf[p] for p in products}
    return pdf.sel({_P: products})


def _pdf_array(pdf, products: list[str], n_ages: int) -> xr.DataArray:
    """The pdf (product, [draw], age) of some products, evaluated from specs if need be."""
    if isinstance(pdf, Mapping):
        from ndsim.lifetime import pdf_by_product

        return pdf_by_product({p: pdf[p] for p in products}, n_ages)
    return pdf.sel({_P: products})


def _fit_variables(fits: Mapping[str, ProductFit], gomp: list[str], years: np.ndarray) -> dict:
    """The ``gompertz_*`` output variables of the fits."""
    coords = {_P: gomp}

    def vec(name, dtype=float):
        return xr.DataArray(
            np.array([getattr(fits[p], name) for p in gomp], dtype=dtype), dims=_P, coords=coords
        )

    data = np.full((len(gomp), years.size), np.nan)
    resid = np.full((len(gomp), years.size), np.nan)
    rmse = np.full(len(gomp), np.nan)
    for i, p in enumerate(gomp):
        f = fits[p]
        if f.fit is not None and f.years:
            idx = np.searchsorted(years, np.array(f.years))
            data[i, idx] = f.fit.ownership
            resid[i, idx] = f.fit.residuals
            rmse[i] = f.fit.rmse_log
    yc = {_P: gomp, _Y: years}
    return {
        "gompertz_saturation": vec("saturation"),
        "gompertz_alpha": vec("alpha"),
        "gompertz_beta": vec("beta"),
        "gompertz_level_ratio": vec("level_ratio"),
        "gompertz_anchor_stock": vec("anchor_stock"),
        "gompertz_anchor_ownership": vec("anchor_ownership"),
        "gompertz_rmse_log": xr.DataArray(rmse, dims=_P, coords=coords),
        "gompertz_method": xr.DataArray(
            np.array([fits[p].method for p in gomp], dtype=str), dims=_P, coords=coords
        ),
        "gompertz_data": xr.DataArray(data, dims=(_P, _Y), coords=yc),
        "gompertz_residual": xr.DataArray(resid, dims=(_P, _Y), coords=yc),
    }


def plausibility_table(result: xr.Dataset, years=(2017, 2050)) -> pd.DataFrame:
    """Implied units per year (and ownership) beside the Nd demand, for a run summary.

    Parameters
    ----------
    result : xarray.Dataset
        A run's output with ``domestic_consumption``, ``implied_units`` and
        (optionally) ``implied_ownership``; a ``draw`` dimension is averaged.
    years : tuple of int
        The years to show (e.g. the last accounted year and the last forecast year).

    Returns
    -------
    pandas.DataFrame
        One row per product: ``count_unit`` and, per year, DC [t/yr], implied
        units [count/yr] and implied ownership [count/person].
    """
    ds = result
    if _D in ds.dims:
        ds = ds.mean(_D)
    years = [y for y in years if y in ds[_Y].values]
    cols = {}
    for y in years:
        cols[f"DC {y} [t/yr]"] = ds["domestic_consumption"].sel({_Y: y}).values
        cols[f"units {y} [/yr]"] = ds["implied_units"].sel({_Y: y}).values
        if "implied_ownership" in ds:
            cols[f"ownership {y} [/person]"] = ds["implied_ownership"].sel({_Y: y}).values
    df = pd.DataFrame(cols, index=pd.Index([str(p) for p in ds[_P].values], name="product"))
    if "count_unit" in ds.coords:
        df.insert(0, "count_unit", [str(u) for u in ds["count_unit"].values])
    return df
