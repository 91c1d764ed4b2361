"""Final products in units first, neodymium per cohort (SPEC §2.1, schema 2).

Per product j and year t (c: the cohort, the year a unit was sold):

    Q_j(t) = P_j(t) - E_p,j(t) + I_p,j(t)           units sold into use     [count yr-1]
    m_j(c) = k_j * MI_j * AR_j(c)                   cohort intensity        [t count-1]
    DC_j(t) = P_j(t) m_j(t),  E_j = E_p,j m_j,  I_j = I_p,j m_j,  F_in,j = Q_j m_j

The fleet N and the retired units R are the cohort convolution of Q, the Nd
stock S and the end-of-life flow F_out that of F_in, with the same lifetime
distribution (the same kernel on both layers: :class:`ndsim.forecast.Lifetimes`), so a
retiring unit takes out the Nd its own cohort carried in. Imports carry the
intensity of the domestic cohort of their year (an assumption: the data hold
no intensity of imported products). End uses counted in t of the element
(``count_unit`` t: NiMH, glass, ...) have MI = AR = k = 1 and no unit layer;
their ``units_*`` outputs are NaN.

The layer is computed on plain arrays (:func:`unit_layer_values`), whose leading
dimensions (e.g. ``draw``) numpy broadcasts.

Reference: Yao et al. (2021), Resources, Conservation and Recycling 174:105752,
doi:10.1016/j.resconrec.2021.105752 (eq. 1-6, applied per cohort).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numba import njit

from ndsim import conventions as cv
from ndsim import kernels as _kernels  # noqa: F401 - its cache locators before any njit

__all__ = [
    "ownership_divisor",
    "year_values",
    "unit_layer",
    "unit_layer_values",
]

#: per-product coordinate of the unit each product is counted in
COUNT_UNIT = "count_unit"
#: count unit of the end uses that have no unit layer (counted in t of the element)
NO_UNIT_LAYER = "t"


def unit_layer_values(
    production: np.ndarray,
    exports: np.ndarray,
    imports: np.ndarray,
    nd_content: np.ndarray,
    adoption_rate: np.ndarray,
    calibration: np.ndarray,
) -> dict[str, np.ndarray]:
    """The final-product layer (SPEC §2.1, eq. 1-4): the cohort intensity, the units sold
    into use and the Nd flows, from the unit flows.

    Parameters
    ----------
    production, exports, imports : numpy.ndarray
        P, E_p, I_p (..., product, year) [count yr-1].
    nd_content, calibration : numpy.ndarray
        MI [t count-1] and k [1] (..., product).
    adoption_rate : numpy.ndarray
        AR (..., product, year) [1].

    Returns
    -------
    dict of numpy.ndarray
        ``nd_intensity`` m = k MI AR, ``units_sales`` Q = P - E_p + I_p,
        ``domestic_consumption`` P m, ``exports_final`` E_p m, ``imports_final``
        I_p m and ``inflow`` DC - E + I, each (..., product, year).
    """
    m = (calibration * nd_content)[..., None] * adoption_rate
    dc = production * m
    e = exports * m
    i = imports * m
    return {
        "nd_intensity": m,
        "units_sales": production - exports + imports,
        "domestic_consumption": dc,
        "exports_final": e,
        "imports_final": i,
        "inflow": dc - e + i,
    }


def ownership_divisor(
    basis: np.ndarray | None,
    n_products: int,
    years: np.ndarray,
    households: xr.DataArray | None,
    population: xr.DataArray | None,
) -> np.ndarray:
    """Each product's driver of ownership over ``years`` (product, year): the households
    or the population its ``ownership_basis`` names, NaN without a basis (``basis``
    None: no product has one) or where the driver is missing (the ``ownership_model`` N / H of SPEC §6).
    """
    per = np.full((n_products, years.size), np.nan)
    if basis is None:
        return per
    kinds = np.asarray(basis).astype(str)
    for name, driver in (("household", households), ("person", population)):
        if driver is not None:
            per[kinds == name, :] = year_values(driver, years)
    return per


def year_values(da: xr.DataArray, years: np.ndarray) -> np.ndarray:
    """The values of ``da.reindex(year=years)`` (NaN where a year is missing), taken from the
    array without building the reindexed DataArray."""
    at = da.get_index(cv.YEAR).get_indexer(np.asarray(years))
    missing = at < 0
    if missing.any() and da.dtype.kind != "f":  # (xarray's fill changes other dtypes)
        return da.reindex({cv.YEAR: years}).values
    axis = da.dims.index(cv.YEAR)
    values = np.take(da.variable.values, np.where(missing, 0, at), axis=axis)
    if missing.any():
        values[(slice(None),) * axis + (missing,)] = np.nan
    return values


def unit_layer(count_unit: xr.DataArray) -> xr.DataArray:
    """True for the products counted in units (or MW), False for end uses counted in t."""
    return count_unit != NO_UNIT_LAYER


def kept_units(x: np.ndarray, on: np.ndarray, nan_as_zero: bool = False) -> np.ndarray:
    """A copy of a unit-layer array (draw, product, year), NaN for the products without a
    unit layer (``on`` False, by product), and with ``nan_as_zero`` NaN as 0 elsewhere:
    one compiled pass, the numbers of ``y = np.array(x); y[np.isnan(y)] = 0
    (nan_as_zero); y[:, ~on] = nan``.
    """
    if x.ndim != 3 or on.shape != (x.shape[1],):
        raise ValueError(f"a (draw, product, year) array and a flag by product, not {x.shape}")
    out = np.empty(x.shape)
    _kept_units(x, on, nan_as_zero, out)
    return out


@njit(cache=True, nogil=True)
def _kept_units(x, on, nan_as_zero, out):  # pragma: no cover - compiled
    d, p, y = x.shape
    for i in range(d):
        for j in range(p):
            dst = out[i, j]
            if not on[j]:
                for k in range(y):
                    dst[k] = np.nan
                continue
            src = x[i, j]
            if nan_as_zero:
                for k in range(y):
                    v = src[k]
                    dst[k] = v if v == v else 0.0
            else:
                for k in range(y):
                    dst[k] = src[k]


def over_bounds(
    sales: np.ndarray,
    in_use: np.ndarray,
    population: np.ndarray,
    per_year: np.ndarray,
    per_person: np.ndarray,
) -> np.ndarray:
    """1.0 where the units sold per year exceed ``per_year`` or the units in use per person
    ``per_person`` (by product), else 0.0; NaN where ``sales`` is NaN or the product has
    neither bound (NaN in both). One compiled pass.

    ``sales``, ``in_use`` (draw, product, year); ``population`` (year); the bounds (product).
    """
    if sales.ndim != 3 or in_use.shape != sales.shape or population.shape != sales.shape[2:]:
        raise ValueError(
            f"sales and units in use (draw, product, year) and a population by year, not "
            f"{sales.shape}, {in_use.shape} and {population.shape}"
        )
    out = np.empty(sales.shape)
    _over_bounds(sales, in_use, population, per_year, per_person, out)
    return out


@njit(cache=True, nogil=True)
def _over_bounds(sales, in_use, population, per_year, per_person, out):  # pragma: no cover
    d, p, y = sales.shape
    for i in range(d):
        for j in range(p):
            py = per_year[j]
            pp = per_person[j]
            has = py == py or pp == pp
            s_row = sales[i, j]
            u_row = in_use[i, j]
            o = out[i, j]
            for k in range(y):
                s = s_row[k]
                if s != s or not has:
                    o[k] = np.nan
                elif s > py or u_row[k] / population[k] > pp:
                    o[k] = 1.0
                else:
                    o[k] = 0.0
