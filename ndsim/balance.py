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

import functools
import math
import warnings
from collections.abc import Iterable

import numpy as np
import xarray as xr
from numba import njit

from ndsim import conventions as cv
from ndsim import flows
from ndsim import kernels as _kernels  # noqa: F401 - its cache locators before any njit
from ndsim.errors import BalanceError

__all__ = [
    "BalanceWarning",
    "residuals",
    "residual_values",
    "check_balance",
    "check_balance_values",
    "check_nonnegative",
    "surely_nonnegative",
    "worst_over_draws",
]

EPS = float(np.finfo(np.float64).eps)
#: tolerance factor: |residual| <= TOLERANCE_FACTOR * eps * max|x|
TOLERANCE_FACTOR = 100.0


class BalanceWarning(UserWarning):
    """A balance or sign violation, reported as a warning (scenario ``run.on_violation = "warn"``)."""


def residuals(
    flow: xr.DataArray,
    stock: xr.DataArray | None = None,
    initial_stock: float | xr.DataArray = 0.0,
) -> xr.Dataset:
    """Mass-balance residual and tolerance of each process in each year.

    Parameters
    ----------
    flow : xr.DataArray
        (..., origin, destination, year) [t yr-1]; NaN where a process is not modelled.
    stock : xr.DataArray, optional
        In-use stock (..., product, year) [t]; its change is the use process's stock change.
    initial_stock : float or xr.DataArray
        Total stock at the end of the year before the first year [t] (0: the
        paper's empty start); a DataArray may carry the leading dims of
        ``flow`` (e.g. ``draw``), for a stock with cohorts from before the
        first year (SPEC §2.2).

    Returns
    -------
    xr.Dataset
        ``residual`` and ``tolerance`` (..., process, year) [t yr-1]; NaN where
        the process is not modelled that year.
    """
    procs = list(cv.PROCESSES)
    if flows.is_edges(flow):
        return _edge_residuals(flow, stock, initial_stock)
    nodes = [str(n) for n in flow[cv.ORIGIN].values]
    if [str(n) for n in flow[cv.DESTINATION].values] != nodes:
        raise ValueError("flow: origin and destination must list the same nodes in the same order")
    missing = [p for p in procs if p not in nodes]
    if missing:
        raise ValueError(f"flow: process(es) {', '.join(missing)} are not nodes of the flow")
    lead = [d for d in flow.dims if d not in (cv.ORIGIN, cv.DESTINATION, cv.YEAR)]
    f = flow.transpose(*lead, cv.ORIGIN, cv.DESTINATION, cv.YEAR)
    years = f[cv.YEAR]
    n_nodes, n_years = len(nodes), years.size
    lead_shape = tuple(f.sizes[d] for d in lead)
    n_lead = math.prod(lead_shape)
    # the matrix as n_nodes² edges: each process sums its column and its row in node order
    fv = np.ascontiguousarray(f.values, dtype=np.float64).reshape(
        n_lead, n_nodes * n_nodes, n_years
    )
    index = np.array([nodes.index(p) for p in procs], dtype=np.int64)
    into = index[:, None] + n_nodes * np.arange(n_nodes)[None, :]  # (o, p): o * n + p
    out_of = index[:, None] * n_nodes + np.arange(n_nodes)[None, :]  # (p, q): p * n + q
    template = f.isel({cv.ORIGIN: 0, cv.DESTINATION: 0}, drop=True)
    tv, init, use_pos = _stock_terms(stock, initial_stock, template, lead)
    res = np.empty((n_lead, len(procs), n_years))
    tol = np.empty_like(res)
    _edge_residuals_kernel(fv, into, out_of, use_pos, tv, init, res, tol)
    return _residual_dataset(res, tol, f, lead, lead_shape, procs, years)


def _edge_residuals(flow, stock, initial_stock) -> xr.Dataset:
    """:func:`residuals` of flows kept as edges (:mod:`ndsim.flows`): the same sums.

    Each process sums its edges in node order, as the matrix's rows and
    columns are summed (the pairs without an edge add 0), so the residuals
    equal those of the matrix to the last bit.
    """
    procs = list(cv.PROCESSES)
    lead = [d for d in flow.dims if d not in (flows.EDGE, cv.YEAR)]
    f = flow.transpose(*lead, flows.EDGE, cv.YEAR)
    years = f[cv.YEAR]
    lead_shape = tuple(f.sizes[d] for d in lead)
    n_lead = math.prod(lead_shape)
    tv, init, use_pos = _stock_terms(stock, initial_stock, f.isel({flows.EDGE: 0}, drop=True), lead)
    res, tol = residual_values(
        f.values.reshape(n_lead, len(flows.EDGES), years.size), tv if use_pos >= 0 else None, init
    )
    return _residual_dataset(res, tol, f, lead, lead_shape, procs, years)


@functools.cache
def _edge_slots() -> tuple[np.ndarray, np.ndarray]:
    """The edges into and out of each process (process, slot), in node order, -1 after the last."""
    procs = list(cv.PROCESSES)
    into = np.full((len(procs), len(flows.EDGES)), -1, dtype=np.int64)
    out_of = np.full_like(into, -1)
    for i, p in enumerate(procs):
        ins = [e for e, (_, d) in enumerate(flows.EDGES) if d == p]
        outs = [e for e, (o, _) in enumerate(flows.EDGES) if o == p]
        into[i, : len(ins)] = ins
        out_of[i, : len(outs)] = outs
    return into, out_of


def residual_values(
    flow: np.ndarray, stock_total: np.ndarray | None, initial: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`residuals` on plain arrays: residual and tolerance (n, process, year) [t yr-1].

    ``flow`` (n, edge, year) on the edges of :data:`ndsim.flows.EDGES`; ``stock_total``
    (n, year) the in-use stock summed over products [t], or None (no stock change);
    ``initial`` (n,) the stock before the first year [t].
    """
    into, out_of = _edge_slots()
    n, _, n_years = flow.shape
    use_pos = -1 if stock_total is None else list(cv.PROCESSES).index("use")
    tv = np.zeros((n, n_years)) if stock_total is None else stock_total
    res = np.empty((n, len(cv.PROCESSES), n_years))
    tol = np.empty_like(res)
    _edge_residuals_kernel(
        np.ascontiguousarray(flow, dtype=np.float64),
        into,
        out_of,
        use_pos,
        np.ascontiguousarray(np.broadcast_to(tv, (n, n_years)), dtype=np.float64),
        np.ascontiguousarray(np.broadcast_to(initial, (n,)), dtype=np.float64),
        res,
        tol,
    )
    return res, tol


def _stock_terms(stock, initial_stock, template, lead):
    """The stock over products (n, year), the stock before the first year (n,), use's position."""
    procs = list(cv.PROCESSES)
    years = template[cv.YEAR]
    n_lead = math.prod(template.sizes[d] for d in lead)
    if stock is not None:
        total = stock.sum(cv.PRODUCT, skipna=False).reindex({cv.YEAR: years.values})
        extra = [d for d in total.dims if d not in lead and d != cv.YEAR]
        if extra:
            raise ValueError(f"stock: dimension(s) {', '.join(extra)} are not dimensions of flow")
        total = total.broadcast_like(template)
        tv = np.ascontiguousarray(total.transpose(*lead, cv.YEAR).values, dtype=np.float64)
        tv = tv.reshape(n_lead, years.size)
        use_pos = procs.index("use")
    else:
        tv = np.zeros((n_lead, years.size))
        use_pos = -1
    if isinstance(initial_stock, xr.DataArray):
        init = initial_stock.broadcast_like(template.isel({cv.YEAR: 0}))
        init = np.ascontiguousarray(init.transpose(*lead).values, dtype=np.float64)
        init = init.reshape(n_lead)
    else:
        init = np.full(n_lead, float(initial_stock))
    return tv, init, use_pos


def _residual_dataset(res, tol, f, lead, lead_shape, procs, years) -> xr.Dataset:
    dims = (*lead, cv.PROCESS, cv.YEAR)
    coords = {d: f[d] for d in lead if d in f.coords}
    coords.update({cv.PROCESS: procs, cv.YEAR: years})
    shape = (*lead_shape, len(procs), years.size)
    return xr.Dataset(
        {
            "residual": (dims, res.reshape(shape)),
            "tolerance": (dims, tol.reshape(shape)),
        },
        coords=coords,
    )


@njit(cache=True, nogil=True)
def _edge_residuals_kernel(flow, into, out_of, use_pos, total, initial, residual, tolerance):
    """Residual and tolerance of each process in one pass over the flows.

    flow (n, edge, year) [t yr-1]; into/out_of (process, slot) the edges into
    and out of each process in node order, -1 after the last; use_pos: position
    of ``use`` among the processes (-1: no stock); total (n, year) the stock
    over products [t]; outputs (n, process, year). Sums run over the edges in
    order, NaN propagating (not modelled); the scale skips NaN. The stock
    before the first year (or after a NaN year) is ``initial[k]``.
    """
    n, _, n_years = flow.shape
    for k in range(n):
        for i in range(into.shape[0]):
            for t in range(n_years):
                s_in = 0.0
                s_out = 0.0
                scale = 0.0
                for j in range(into.shape[1]):
                    e = into[i, j]
                    if e < 0:
                        break
                    x = flow[k, e, t]
                    s_in += x
                    if abs(x) > scale:
                        scale = abs(x)
                for j in range(out_of.shape[1]):
                    e = out_of[i, j]
                    if e < 0:
                        break
                    x = flow[k, e, t]
                    s_out += x
                    if abs(x) > scale:
                        scale = abs(x)
                change = 0.0
                if i == use_pos:
                    now = total[k, t]
                    before = initial[k]
                    if t > 0 and not math.isnan(total[k, t - 1]):
                        before = total[k, t - 1]
                    change = now - before
                    scale = max(scale, abs(now), abs(before))
                    if math.isnan(now):
                        scale = math.nan
                r = s_in - s_out - change
                residual[k, i, t] = r
                tolerance[k, i, t] = TOLERANCE_FACTOR * EPS * scale if r == r else math.nan


def worst_over_draws(residual: xr.DataArray) -> xr.DataArray:
    """The residual of largest magnitude over ``draw`` (signed); unchanged without a draw dim."""
    if cv.DRAW not in residual.dims:
        return residual
    r = residual.transpose(cv.DRAW, ...)
    return r.isel({cv.DRAW: 0}, drop=True).copy(data=_worst(r.values))


def _worst(residual: np.ndarray) -> np.ndarray:
    """:func:`worst_over_draws` of a (draw, ...) array: the first draw of largest magnitude
    (NaN where every draw is NaN)."""
    size = np.abs(residual)
    size[np.isnan(size)] = -1.0
    at = size.argmax(axis=0)
    return np.take_along_axis(residual, at[None], axis=0)[0]


def _report(res: np.ndarray, tol: np.ndarray, labels: list, on_violation: str) -> None:
    """Raise or warn on the residuals above their tolerance; ``labels`` (dim, values) per axis."""
    bad = np.abs(res) > tol
    if not bad.any():
        return
    idx = np.argwhere(bad)[0]
    where = {dim: values[i] for (dim, values), i in zip(labels, idx, strict=True)}
    n = int(bad.sum())
    _violate(
        f"mass balance: {_describe(where)}: inputs - outputs - stock change = "
        f"{float(res[tuple(idx)]):.6g} t yr-1 exceeds the tolerance {float(tol[tuple(idx)]):.3g} "
        f"(100 eps max|x|); {n} violation(s) in all",
        on_violation,
    )


def check_balance(
    flow: xr.DataArray,
    stock: xr.DataArray | None = None,
    *,
    initial_stock: float | xr.DataArray = 0.0,
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
    r = res["residual"]
    labels = [(d, r[d].values) for d in r.dims]
    _report(r.values, res["tolerance"].values, labels, on_violation)
    out = worst_over_draws(r).transpose(cv.PROCESS, cv.YEAR)
    return out.rename("balance_residual").assign_attrs(cv.attrs("balance_residual"))


def check_balance_values(
    flow: np.ndarray,
    stock_total: np.ndarray | None,
    initial: np.ndarray,
    years: np.ndarray,
    draws: np.ndarray | None,
    *,
    on_violation: str = "error",
) -> np.ndarray:
    """:func:`check_balance` on plain arrays (as :func:`residual_values` takes them, a draw
    axis of 1 without draws): the worst residual over draws (process, year) [t yr-1].

    ``years`` and ``draws`` (None: no draws) name a violation.
    """
    res, tol = residual_values(flow, stock_total, initial)
    labels = [(cv.PROCESS, list(cv.PROCESSES)), (cv.YEAR, years)]
    if draws is None:
        _report(res[0], tol[0], labels, on_violation)
        return res[0]
    _report(res, tol, [(cv.DRAW, draws), *labels], on_violation)
    return _worst(res)


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
        if surely_nonnegative(da):
            continue  # the common case, in one compiled pass; else locate it below
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


def surely_nonnegative(var: xr.Variable | xr.DataArray) -> bool:
    """True if no value of a float series over years is negative beyond rounding (the rule
    of :func:`check_nonnegative`); False if one may be (or ``var`` has no year or is not
    float64): :func:`check_nonnegative` then looks. At once where no value is below 0
    (numpy's NaN-skipping minimum of all values), else in one compiled pass per series.
    """
    if not (cv.YEAR in var.dims and var.dtype == np.float64 and var.size):
        return False
    if not np.fmin.reduce(var.values, axis=None) < 0.0:  # no value below 0 (NaN skipped)
        return True
    x = np.asarray(var.transpose(..., cv.YEAR).values)
    if x.ndim > 3:  # series over years as rows: a copy unless in C order
        x = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    # (a, b, year): a view of up to three dims, whatever their memory order
    return not _any_negative(x.reshape((1,) * (3 - x.ndim) + x.shape))


@njit(cache=True, nogil=True)
def _any_negative(x):
    """True if some x[i, j, t] < -100 eps max_t |x[i, j, t]| (NaN skipped): series over years.

    One pass per series: its smallest value is below the limit iff some value is.
    """
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            scale = 0.0
            low = math.inf
            for t in range(x.shape[2]):
                v = x[i, j, t]
                if abs(v) > scale:
                    scale = abs(v)
                if v < low:
                    low = v
            if low < -TOLERANCE_FACTOR * EPS * scale:
                return True
    return False


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
