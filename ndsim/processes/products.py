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

from ndsim import conventions as cv

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
