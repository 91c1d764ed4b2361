"""The paper's total demand: domestic consumption summed over the end uses it counts (SPEC §1).

Domestic consumption itself, DC = P m (eq. 1 per cohort), is
:func:`ndsim.processes.products.unit_layer_values`.

Every function broadcasts over extra dimensions (e.g. a leading ``draw``).
"""

from __future__ import annotations

import xarray as xr

from ndsim import conventions as cv
from ndsim import sums

__all__ = ["total_demand"]


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
    dc = domestic_consumption
    if (
        weight.dims == (cv.PRODUCT,)
        and cv.PRODUCT in dc.dims
        and dc.indexes[cv.PRODUCT].equals(weight.indexes[cv.PRODUCT])
    ):  # the same products in the same order: on the arrays, without the product's array
        values = sums.sum_values(dc.values, dc.dims.index(cv.PRODUCT), weight.values)
        total = dc.isel({cv.PRODUCT: 0}, drop=True).copy(data=values)
        total.attrs = {}
    else:
        total = (dc * weight).sum(cv.PRODUCT, skipna=False)
    return total.rename("total_demand").assign_attrs(cv.attrs("total_demand"))
