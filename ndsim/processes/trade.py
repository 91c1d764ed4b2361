"""Trade in final products and the inflow to the use stage (SPEC §2, eq. 2-4)."""

from __future__ import annotations

import xarray as xr

from ndsim import conventions as cv

__all__ = ["use_inflow", "trade_shares", "extend_by_shares"]

cv.register(
    cv.Variable(
        "exports_final",
        (cv.PRODUCT, cv.YEAR),
        cv.FLOW_UNITS,
        "exports of final products",
        "E_j, element contained in exported final products (eq. 3); after the "
        "last accounted year held at its share of DC",
    )
)
cv.register(
    cv.Variable(
        "imports_final",
        (cv.PRODUCT, cv.YEAR),
        cv.FLOW_UNITS,
        "imports of final products",
        "I_j, element contained in imported final products (eq. 4); after the "
        "last accounted year held at its share of DC",
    )
)


def use_inflow(
    domestic_consumption: xr.DataArray, exports: xr.DataArray, imports: xr.DataArray
) -> xr.DataArray:
    """Inflow of end uses to the domestic use stage.

    Parameters
    ----------
    domestic_consumption : xr.DataArray
        DC (product, year) [t yr-1], eq. 1.
    exports, imports : xr.DataArray
        E and I (product, year) [t yr-1]: element in exported and imported
        final products (eq. 3-4; the data give them in t of the element).

    Returns
    -------
    xr.DataArray
        F_in (product, year) [t yr-1].

    Notes
    -----
    Eq. 2 of Yao et al. (2021), doi:10.1016/j.resconrec.2021.105752:
    F_in,j(t) = DC_j(t) - E_j(t) + I_j(t).

    Examples
    --------
    >>> import xarray as xr
    >>> da = lambda v: xr.DataArray([v], dims="product")
    >>> float(use_inflow(da(100.0), da(30.0), da(5.0))[0])
    75.0
    """
    inflow = domestic_consumption - exports + imports
    return inflow.rename("inflow").assign_attrs(cv.attrs("inflow"))


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
    years = domestic_consumption[cv.YEAR]
    after = years > accounted[cv.YEAR].max()
    projected = (domestic_consumption * share).where(after)
    return accounted.reindex({cv.YEAR: years}).fillna(projected).assign_attrs(accounted.attrs)
