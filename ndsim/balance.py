"""Mass balance of every process, and the sign of quantities that cannot be negative (SPEC §3).

The balance is computed from the ``flow`` variable itself (origin,
destination, year), so the check also proves that the flow matrix written to
the output is complete: for each process p and year t (and draw),

    residual = sum_o flow(o -> p) - sum_d flow(p -> d) - (S(t) - S(t-1))

with S the in-use stock for ``use`` and 0 for the other processes. A residual
above 100 * eps * max|x| (x: every flow into or out of p that year, and the
stock) is a violation. Unregistered mining below 0 and a supply gap below 0
are results, not violations.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim.errors import BalanceError

__all__ = ["BalanceWarning", "residuals", "check_balance", "check_nonnegative", "worst_over_draws"]

EPS = np.finfo(np.float64).eps
#: tolerance factor: |residual| <= TOLERANCE_FACTOR * eps * max|x|
TOLERANCE_FACTOR = 100.0


class BalanceWarning(UserWarning):
    """A balance or sign violation, reported as a warning (scenario ``run.on_violation = "warn"``)."""


def residuals(
    flow: xr.DataArray, stock: xr.DataArray | None = None, initial_stock: float = 0.0
) -> xr.Dataset:
    """Mass-balance residual and tolerance of each process in each year.

    Parameters
    ----------
    flow : xr.DataArray
        (..., origin, destination, year) [t yr-1]; NaN where a process is not modelled.
    stock : xr.DataArray, optional
        In-use stock (..., product, year) [t]; its change is the use process's stock change.
    initial_stock : float
        Total stock before the first year [t] (0: the paper's empty start).

    Returns
    -------
    xr.Dataset
        ``residual`` and ``tolerance`` (..., process, year) [t yr-1]; NaN where
        the process is not modelled that year.
    """
    procs = list(cv.PROCESSES)
    into = flow.sel({cv.DESTINATION: procs}).rename({cv.DESTINATION: cv.PROCESS})
    out_of = flow.sel({cv.ORIGIN: procs}).rename({cv.ORIGIN: cv.PROCESS})
    inputs = into.sum(cv.ORIGIN, skipna=False)
    outputs = out_of.sum(cv.DESTINATION, skipna=False)
    scale = np.maximum(abs(into).max(cv.ORIGIN), abs(out_of).max(cv.DESTINATION))
    dstock = xr.zeros_like(inputs)
    if stock is not None:
        total = stock.sum(cv.PRODUCT, skipna=False)
        before = total.shift({cv.YEAR: 1}).fillna(initial_stock)
        is_use = xr.DataArray(
            [p == "use" for p in procs], dims=cv.PROCESS, coords={cv.PROCESS: procs}
        )
        dstock = (total - before).where(is_use, 0.0)
        scale = np.maximum(scale, np.maximum(abs(total), abs(before)).where(is_use, 0.0))
    residual = inputs - outputs - dstock
    tolerance = (TOLERANCE_FACTOR * EPS * scale).where(residual.notnull())
    return xr.Dataset({"residual": residual, "tolerance": tolerance})


def worst_over_draws(residual: xr.DataArray) -> xr.DataArray:
    """The residual of largest magnitude over ``draw`` (signed); unchanged without a draw dim."""
    if cv.DRAW not in residual.dims:
        return residual
    idx = abs(residual).fillna(-1.0).argmax(cv.DRAW)
    return residual.isel({cv.DRAW: idx}, drop=True)


def check_balance(
    flow: xr.DataArray,
    stock: xr.DataArray | None = None,
    *,
    initial_stock: float = 0.0,
    on_violation: str = "error",
) -> xr.DataArray:
    """Check every process in every year (and draw); return ``balance_residual``.

    Parameters
    ----------
    flow, stock, initial_stock
        As :func:`residuals`.
    on_violation : {"error", "warn"}
        Raise :class:`ndsim.errors.BalanceError` or warn with :class:`BalanceWarning`.

    Returns
    -------
    xr.DataArray
        ``balance_residual`` (process, year) [t yr-1], worst over draws.
    """
    res = residuals(flow, stock, initial_stock)
    bad = abs(res["residual"]) > res["tolerance"]
    if bool(bad.any()):
        where = _first(bad)
        r = float(res["residual"].sel(where))
        tol = float(res["tolerance"].sel(where))
        n = int(bad.sum())
        _violate(
            f"mass balance: {_describe(where)}: inputs - outputs - stock change = {r:.6g} t yr-1 "
            f"exceeds the tolerance {tol:.3g} (100 eps max|x|); {n} violation(s) in all",
            on_violation,
        )
    out = worst_over_draws(res["residual"]).transpose(cv.PROCESS, cv.YEAR)
    return out.rename("balance_residual").assign_attrs(cv.attrs("balance_residual"))


def check_nonnegative(
    variables: Iterable[tuple[str, xr.DataArray]], *, on_violation: str = "error"
) -> None:
    """Check that quantities which cannot be negative are not (beyond rounding).

    Parameters
    ----------
    variables : iterable of (name, DataArray)
        E.g. stocks, inflows, outflows, production, trade.
    on_violation : {"error", "warn"}

    Notes
    -----
    A value counts as negative below -100 eps max|x|, x the series over years
    of the same product (and draw). NaN (not modelled) is ignored.
    """
    for name, da in variables:
        scale = abs(da).max(cv.YEAR) if cv.YEAR in da.dims else abs(da)
        bad = da < -TOLERANCE_FACTOR * EPS * scale
        if bool(bad.any()):
            where = _first(bad)
            n = int(bad.sum())
            _violate(
                f"{name} is negative: {_describe(where)}: {float(da.sel(where)):.6g} "
                f"{da.attrs.get('units', '')}; {n} negative value(s) in all".replace("  ", " "),
                on_violation,
            )


def _first(mask: xr.DataArray) -> dict:
    """Coordinates of the first True element of a boolean DataArray."""
    idx = np.argwhere(np.asarray(mask.values))[0]
    return {dim: mask[dim].values[i] for dim, i in zip(mask.dims, idx, strict=True)}


def _describe(where: dict) -> str:
    order = [cv.PROCESS, cv.PRODUCT, cv.INTERMEDIATE, cv.STAGE, cv.SOURCE, cv.YEAR, cv.DRAW]
    keys = sorted(where, key=lambda d: order.index(d) if d in order else len(order))
    return ", ".join(f"{k} {_plain(where[k])}" for k in keys)


def _plain(v) -> str:
    return str(v.item() if hasattr(v, "item") else v)


def _violate(message: str, on_violation: str) -> None:
    if on_violation == "warn":
        warnings.warn(message, BalanceWarning, stacklevel=3)
    else:
        raise BalanceError(message)
