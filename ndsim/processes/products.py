"""Final products in units first, neodymium per cohort (SPEC §2.1, schema 2).

Per product j and year t (c: the cohort, the year a unit was sold):

    Q_j(t) = P_j(t) - E_p,j(t) + I_p,j(t)           units sold into use     [count yr-1]
    m_j(c) = k_j * MI_j * AR_j(c)                   cohort intensity        [t count-1]
    DC_j(t) = P_j(t) m_j(t),  E_j = E_p,j m_j,  I_j = I_p,j m_j,  F_in,j = Q_j m_j

The fleet N and the retired units R are the cohort convolution of Q, the Nd
stock S and the end-of-life flow F_out that of F_in, with the same lifetime
distribution (:func:`ndsim.processes.use.use_stage` on both layers), so a
retiring unit takes out the Nd its own cohort carried in. Imports carry the
intensity of the domestic cohort of their year (an assumption: the data hold
no intensity of imported products). End uses counted in t of the element
(``count_unit`` t: NiMH, glass, ...) have MI = AR = k = 1 and no unit layer;
their ``units_*`` outputs are NaN.

Every function broadcasts over extra dimensions (e.g. a leading ``draw``).

Reference: Yao et al. (2021), Resources, Conservation and Recycling 174:105752,
doi:10.1016/j.resconrec.2021.105752 (eq. 1-6, applied per cohort).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ndsim import conventions as cv

__all__ = [
    "cohort_intensity",
    "unit_sales",
    "nd_flows",
    "ownership_divisor",
    "unit_layer",
    "unit_layer_values",
]

#: per-product coordinate of the unit each product is counted in
COUNT_UNIT = "count_unit"
#: count unit of the end uses that have no unit layer (counted in t of the element)
NO_UNIT_LAYER = "t"


def cohort_intensity(
    nd_content: xr.DataArray, adoption_rate: xr.DataArray, calibration: xr.DataArray
) -> xr.DataArray:
    """Element per unit of each year's cohort, m = k * MI * AR.

    Parameters
    ----------
    nd_content : xr.DataArray
        MI (product) [t count-1].
    adoption_rate : xr.DataArray
        AR (product, year) [1], share of the cohort made with the technology.
    calibration : xr.DataArray
        k (product) [1] (``intensity_calibration``): the calibration goes into
        the intensity, never into the unit flows (SPEC §2.1).

    Returns
    -------
    xr.DataArray
        m (product, year) [t count-1].

    Examples
    --------
    >>> import xarray as xr
    >>> mi = xr.DataArray([5e-7], dims="product")
    >>> ar = xr.DataArray([[0.5]], dims=("product", "year"))
    >>> float(cohort_intensity(mi, ar, xr.DataArray([2.0], dims="product"))[0, 0])
    5e-07
    """
    m = calibration * nd_content * adoption_rate
    return m.rename("nd_intensity").assign_attrs(cv.attrs("nd_intensity"))


def unit_sales(production: xr.DataArray, exports: xr.DataArray, imports: xr.DataArray):
    """Units sold into domestic use, Q = P - E_p + I_p [count yr-1] (SPEC §2.1)."""
    return (production - exports + imports).rename("units_sales")


def nd_flows(
    production: xr.DataArray,
    exports: xr.DataArray,
    imports: xr.DataArray,
    intensity: xr.DataArray,
) -> xr.Dataset:
    """The Nd flows of the final-product layer from the unit flows and the cohort intensity.

    Parameters
    ----------
    production, exports, imports : xr.DataArray
        P, E_p, I_p (product, year) [count yr-1].
    intensity : xr.DataArray
        m (product, year) [t count-1], :func:`cohort_intensity`.

    Returns
    -------
    xr.Dataset
        ``domestic_consumption`` DC = P m (eq. 1), ``exports_final`` E = E_p m,
        ``imports_final`` I = I_p m and ``inflow`` F_in = Q m = DC - E + I
        (eq. 2-4), all (product, year) [t yr-1].
    """
    dc = production * intensity
    e = exports * intensity
    i = imports * intensity
    return xr.Dataset(
        {
            "domestic_consumption": dc.assign_attrs(cv.attrs("domestic_consumption")),
            "exports_final": e.assign_attrs(cv.attrs("exports_final")),
            "imports_final": i.assign_attrs(cv.attrs("imports_final")),
            "inflow": (dc - e + i).assign_attrs(cv.attrs("inflow")),
        }
    )


def unit_layer_values(
    production: np.ndarray,
    exports: np.ndarray,
    imports: np.ndarray,
    nd_content: np.ndarray,
    adoption_rate: np.ndarray,
    calibration: np.ndarray,
) -> dict[str, np.ndarray]:
    """:func:`cohort_intensity`, :func:`unit_sales` and :func:`nd_flows` on plain arrays.

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
        I_p m and ``inflow`` DC - E + I, each (..., product, year): the same
        numbers, operation for operation, as the labelled functions.
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
            per[kinds == name, :] = driver.reindex({cv.YEAR: years}).values
    return per


def unit_layer(count_unit: xr.DataArray) -> xr.DataArray:
    """True for the products counted in units (or MW), False for end uses counted in t."""
    return count_unit != NO_UNIT_LAYER
