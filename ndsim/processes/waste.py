"""Waste management: end-of-life flows to recycling and to landfill (SPEC §1, §4)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from xarray.indexes import PandasIndex

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
    fast = _path_values(accounted, np.asarray(years), last, points)
    if fast is not None:
        return fast
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


def _path_values(
    accounted: xr.DataArray,
    years: np.ndarray,
    last: int,
    points: tuple[tuple[int, float], ...] | None,
) -> xr.DataArray | None:
    """:func:`recycling_path` on the arrays where the data are over a run of the model's
    years up to ``last`` and year is their last dim (an ensemble chunk's case); the same
    numbers and labels. None otherwise."""
    if not accounted.dims or accounted.dims[-1] != cv.YEAR or years.size == 0:
        return None
    own = accounted.get_index(cv.YEAR).values
    own_attrs = dict(accounted.coords.variables[cv.YEAR].attrs)
    k = int(np.searchsorted(own, last, side="right"))
    if k == 0 or own[k - 1] != last or not np.array_equal(years[:k], own[:k]):
        return None
    future_years = years[k:]
    if np.any(future_years <= last):
        return None
    acc = accounted.values[..., :k]
    held = acc[..., k - 1 : k]
    if points is None:
        future = np.broadcast_to(held, (*held.shape[:-1], future_years.size))
    else:
        px, py = np.array(points, dtype=float).T
        path = np.interp(future_years.astype(float), px, py)
        future = path + 0.0 * held  # carry any extra dims (draw) of the data
    values = np.concatenate([acc, future], axis=-1)
    lead = {
        d: accounted.coords.variables[d] for d in accounted.dims[:-1] if d in accounted.xindexes
    }
    year = PandasIndex(years, cv.YEAR)
    year_var = year.create_variables({cv.YEAR: xr.Variable(cv.YEAR, years, own_attrs)})
    coords = xr.Coordinates(
        {**lead, **year_var},
        indexes={**{d: accounted.xindexes[d] for d in lead}, cv.YEAR: year},
    )
    return xr.DataArray(
        values, dims=accounted.dims, coords=coords, name=accounted.name, attrs=dict(accounted.attrs)
    )
