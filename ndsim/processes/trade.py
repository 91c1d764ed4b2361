"""Trade in final products after the last accounted year: held at its share of DC (SPEC §2.1).

The accounted trade is in units (:func:`ndsim.processes.products.nd_flows`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ndsim import conventions as cv

__all__ = ["trade_shares", "extend_by_shares", "extended_values"]


def trade_shares(
    domestic_consumption: xr.DataArray, exports: xr.DataArray, imports: xr.DataArray, year: int
) -> tuple[xr.DataArray, xr.DataArray]:
    """Export and import shares of DC in one year, e = E/DC and i = I/DC [1] (0 where DC = 0)."""
    dc = domestic_consumption.sel({cv.YEAR: year}, drop=True)
    safe = dc.where(dc != 0)
    e = (exports.sel({cv.YEAR: year}, drop=True) / safe).fillna(0.0)
    i = (imports.sel({cv.YEAR: year}, drop=True) / safe).fillna(0.0)
    return e, i


def extend_by_shares(
    accounted: xr.DataArray, domestic_consumption: xr.DataArray, share: xr.DataArray
) -> xr.DataArray:
    """A trade series over all years of `domestic_consumption`: data where accounted, share x DC after.

    Parameters
    ----------
    accounted : xr.DataArray
        E or I over the accounted years (product, year) [t yr-1].
    domestic_consumption : xr.DataArray
        DC over all years (product, year) [t yr-1].
    share : xr.DataArray
        The held share of DC (product) [1], from :func:`trade_shares`.
    """
    years = domestic_consumption[cv.YEAR].values
    after = domestic_consumption.isel({cv.YEAR: years > accounted[cv.YEAR].values.max()})
    # the accounted years, then the projected ones, on the accounted products (the years of
    # `domestic_consumption` before the accounted ones, if any, are NaN)
    both = xr.concat([accounted, after * share], dim=cv.YEAR, join="left")
    return both.reindex({cv.YEAR: years}, copy=False).assign_attrs(accounted.attrs)


def extended_values(accounted: np.ndarray, domestic_consumption: np.ndarray) -> np.ndarray:
    """:func:`trade_shares` and :func:`extend_by_shares` in one, on plain arrays.

    Parameters
    ----------
    accounted : numpy.ndarray
        E or I over the years to T (..., year) [t yr-1].
    domestic_consumption : numpy.ndarray
        DC over all years, the same first years (..., year) [t yr-1].

    Returns
    -------
    numpy.ndarray
        (..., year) over DC's years: ``accounted`` to T, then the share of DC in T
        (0 where DC(T) = 0) times DC.
    """
    k = accounted.shape[-1]
    dc_t = domestic_consumption[..., k - 1]
    share = accounted[..., k - 1] / np.where(dc_t != 0, dc_t, np.nan)
    share = np.where(np.isnan(share), 0.0, share)
    lead = np.broadcast_shapes(accounted.shape[:-1], domestic_consumption.shape[:-1])
    out = np.empty((*lead, domestic_consumption.shape[-1]))
    out[..., :k] = accounted
    np.multiply(domestic_consumption[..., k:], share[..., None], out=out[..., k:])
    return out
