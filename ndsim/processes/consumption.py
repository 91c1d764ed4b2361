"""Domestic consumption of end uses (SPEC §1-2, eq. 1) and the paper's total demand.

Every function broadcasts over extra dimensions (e.g. a leading ``draw``).
"""

from __future__ import annotations

import xarray as xr

from ndsim import conventions as cv

__all__ = ["domestic_consumption", "total_demand"]


def domestic_consumption(
    production: xr.DataArray, nd_content: xr.DataArray, adoption_rate: xr.DataArray
) -> xr.DataArray:
    """Element contained in the final products made in the country.

    Parameters
    ----------
    production : xr.DataArray
        P, domestic production (product, year) [count yr-1], count = the
        product's ``count_unit`` (units, MW, or t for non-magnet end uses).
    nd_content : xr.DataArray
        MI, element content (product) [t count-1].
    adoption_rate : xr.DataArray
        AR, share of production using the element's technology (product, year) [1].

    Returns
    -------
    xr.DataArray
        DC (product, year) [t yr-1].

    Notes
    -----
    Eq. 1 of Yao et al. (2021): DC_j(t) = P_j(t) * MI_j * AR_j(t).

    References
    ----------
    Yao, T. et al. (2021). Dynamic neodymium stocks and flows analysis in China.
    Resources, Conservation and Recycling 174, 105752. doi:10.1016/j.resconrec.2021.105752

    Examples
    --------
    >>> import xarray as xr
    >>> p = xr.DataArray([[1.92e9]], dims=("product", "year"))
    >>> float(domestic_consumption(p, xr.DataArray([3e-7], dims="product"), xr.ones_like(p))[0, 0])
    576.0
    """
    dc = production * nd_content * adoption_rate
    return dc.rename("domestic_consumption").assign_attrs(cv.attrs("domestic_consumption"))


def total_demand(domestic_consumption: xr.DataArray, in_total_demand: xr.DataArray) -> xr.DataArray:
    """Domestic consumption summed over the end uses in the paper's total.

    Parameters
    ----------
    domestic_consumption : xr.DataArray
        DC (product, year) [t yr-1].
    in_total_demand : xr.DataArray
        Boolean flag per product (the 17 final products + NiMH + glass + ceramics
        in the China Nd case: 15,872 t in 2017).

    Returns
    -------
    xr.DataArray
        (year) [t yr-1]; NaN where a counted product is NaN.
    """
    weight = in_total_demand.astype(float)
    total = (domestic_consumption * weight).sum(cv.PRODUCT, skipna=False)
    return total.rename("total_demand").assign_attrs(cv.attrs("total_demand"))
