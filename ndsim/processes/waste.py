"""Waste management: end-of-life flows to recycling and to landfill (SPEC §1, §4)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim import sums

__all__ = ["waste_values", "recycling_path"]


def waste_values(
    outflow: np.ndarray, recycling_rate: np.ndarray, recovery_efficiency: np.ndarray
) -> dict[str, np.ndarray]:
    """Split end-of-life flows into recycled element and landfill.

    Parameters
    ----------
    outflow : numpy.ndarray
        F_out (..., product, year) [t yr-1].
    recycling_rate : numpy.ndarray
        r (..., year) [1], collection-for-recycling rate.
    recovery_efficiency : numpy.ndarray
        eta (..., year) or scalar [1].

    Returns
    -------
    dict of str to numpy.ndarray
        ``end_of_life``, ``recycled`` (to refining) and ``landfill`` (..., year)
        [t yr-1], summed over products.

    Notes
    -----
    R(t) = r(t) * eta(t) * F_out,total(t); landfill = F_out,total - R
    (SPEC §1; Yao et al. 2021, doi:10.1016/j.resconrec.2021.105752, section 4.2).
    """
    eol = sums.nansum_values(outflow, -2)
    recycled = recycling_rate * recovery_efficiency * eol
    return {"end_of_life": eol, "recycled": recycled, "landfill": eol - recycled}


def recycling_path(
    accounted: xr.DataArray,
    years: xr.DataArray,
    last: int,
    points: tuple[tuple[int, float], ...] | None,
) -> xr.DataArray:
    """A yearly series: data over the accounted years, then the scenario's path.

    Parameters
    ----------
    accounted : xr.DataArray
        Values over the accounted years (..., year), or a scalar (no year dim)
        that holds in every accounted year.
    years : array_like
        All model years.
    last : int
        Last accounted year.
    points : tuple of (year, value), optional
        Piecewise-linear points after the accounted years, flat beyond the first
        and last point; None: held at the last accounted value.
    """
    years = np.asarray(years)
    if cv.YEAR not in accounted.dims:
        accounted = accounted.expand_dims({cv.YEAR: years[years <= last]})
    accounted = accounted.sel({cv.YEAR: slice(None, last)})
    held = accounted.sel({cv.YEAR: last}, drop=True)
    future_years = years[years > last]
    if points is None:
        future = held.expand_dims({cv.YEAR: future_years})
    else:
        px, py = np.array(points, dtype=float).T
        path = np.interp(future_years.astype(float), px, py)
        future = xr.DataArray(path, dims=cv.YEAR, coords={cv.YEAR: future_years})
        future = future + 0.0 * held  # carry any extra dims (draw) of the data
    series = xr.concat([accounted, future], dim=cv.YEAR)
    return series.reindex({cv.YEAR: years}).transpose(..., cv.YEAR)
