"""The anchors ndsim is measured against: flodym 1.1 and dynamic-stock-model 1.0.

Same workload and output layout as :mod:`_workload` (arrays over
(draw, product, year)). flodym runs with ``inflow_at="end"`` and one point
per interval, which is ndsim's default timing (``"end"``); with these
settings both compute the same numbers. flodym's ``StockArray(values=...)``
keeps a reference to the array it is given, so every array handed to
flodym here is a fresh copy.

References
----------
Lauinger, D. et al. (2025) flodym: Flexible Open Dynamic Material Systems
Model, version 1.1. doi:10.5281/zenodo.14284339.
Pauliuk, S. (2015) dynamic_stock_model (pyDSM) 1.0,
https://github.com/stefanpauliuk/pyDSM.
"""

from __future__ import annotations

import numpy as np
from _workload import PRODUCTS, YEARS

#: draws per flodym call: its fastest batch, so the ratio is against the best a flodym user
#: gets. Measured on 2 cores, N = 2 000, best of 3, ms per draw for batches of 250 / 500 /
#: 1 000 / 2 000 draws: stock-driven Weibull 1.32 / 1.13 / 1.48 / 1.28, inflow-driven normal
#: 1.20 / 1.21 / 1.36 / 1.46.
FLODYM_CHUNK = 500


def _flodym_lifetime(fd, dist: str, dims, p1: np.ndarray, p2: np.ndarray):
    """A flodym lifetime model over ``dims`` whose parameters broadcast from (..., product)."""
    kw = {"dims": dims, "inflow_at": "end"}
    if dist == "normal":
        return fd.NormalLifetime(mean=p1, std=p2, **kw)
    if dist == "lognormal":
        return fd.LogNormalLifetime(mean=p1, std=p2, **kw)
    return fd.WeibullLifetime(weibull_shape=p1, weibull_scale=p2, **kw)


def _flodym_dims(fd, n_draws: int | None):
    time = fd.Dimension(name="time", letter="t", items=[int(y) for y in YEARS])
    prod = fd.Dimension(name="product", letter="p", items=list(PRODUCTS))
    if n_draws is None:
        return fd.DimensionSet(dim_list=[time, prod])
    draw = fd.Dimension(name="draw", letter="d", items=list(range(n_draws)))
    return fd.DimensionSet(dim_list=[time, draw, prod])


def _flodym_solve(fd, dims, mode: str, dist: str, driver_t: np.ndarray, p1, p2) -> dict:
    """One flodym DSM on arrays with time first; returns time-first outputs."""
    lifetime = _flodym_lifetime(fd, dist, dims, p1, p2)
    if mode == "inflow":
        dsm = fd.InflowDrivenDSM(
            dims=dims,
            inflow=fd.StockArray(dims=dims, values=driver_t.copy()),
            lifetime_model=lifetime,
        )
        dsm.compute()
        return {"outflow": dsm.outflow.values, "stock": dsm.stock.values}
    dsm = fd.StockDrivenDSM(
        dims=dims,
        stock=fd.StockArray(dims=dims, values=driver_t.copy()),
        lifetime_model=lifetime,
    )
    dsm.compute()
    return {"inflow": dsm.inflow.values, "outflow": dsm.outflow.values, "stock": dsm.stock.values}


def _names(mode: str) -> tuple[str, ...]:
    return ("outflow", "stock") if mode == "inflow" else ("inflow", "outflow", "stock")


def run_flodym_dims(inp: dict, chunk: int = FLODYM_CHUNK) -> dict:
    """flodym with the draws as an extra dimension (t, d, p), in chunks of ``chunk`` draws."""
    import flodym as fd

    driver = inp["driver"]
    n = driver.shape[0]
    out = {k: np.empty_like(driver) for k in _names(inp["mode"])}
    dims_by_size = {}
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        size = hi - lo
        if size not in dims_by_size:
            dims_by_size[size] = _flodym_dims(fd, size)
        dims = dims_by_size[size]
        driver_t = np.ascontiguousarray(driver[lo:hi].transpose(2, 0, 1))  # (t, d, p), a copy
        res = _flodym_solve(
            fd, dims, inp["mode"], inp["dist"], driver_t, inp["p1"][lo:hi], inp["p2"][lo:hi]
        )
        for k, v in res.items():
            out[k][lo:hi] = v.transpose(1, 2, 0)
        del res
    return out


def run_flodym_loop(inp: dict) -> dict:
    """flodym looped over draws: one (t, p) DSM per draw."""
    import flodym as fd

    driver = inp["driver"]
    out = {k: np.empty_like(driver) for k in _names(inp["mode"])}
    dims = _flodym_dims(fd, None)
    for d in range(driver.shape[0]):
        driver_t = np.ascontiguousarray(driver[d].T)  # (t, p), a copy
        res = _flodym_solve(
            fd, dims, inp["mode"], inp["dist"], driver_t, inp["p1"][d], inp["p2"][d]
        )
        for k, v in res.items():
            out[k][d] = v.T
    return out


#: dynamic_stock_model's names of the distributions it offers (no lognormal)
DSM_TYPES = {"normal": "Normal", "weibull": "Weibull"}


def run_dsm(inp: dict, draws=None, products=None) -> dict:
    """dynamic-stock-model 1.0, looped over draws and products (it works on one series).

    Its Weibull pdf is F(a) - F(a - 1) for ages a >= 1 and 0 at age 0, which is
    ndsim's "end" timing; its normal pdf is the density at whole ages (no
    interval mass, nothing at age 0), a different convention.
    """
    from dynamic_stock_model import DynamicStockModel

    if inp["dist"] not in DSM_TYPES:
        raise ValueError(f"dynamic_stock_model has no {inp['dist']} lifetime")
    driver = inp["driver"]
    draws = range(driver.shape[0]) if draws is None else draws
    products = range(driver.shape[1]) if products is None else products
    out = {k: np.full_like(driver, np.nan) for k in _names(inp["mode"])}
    t = YEARS.copy()
    for d in draws:
        for p in products:
            a, b = float(inp["p1"][d, p]), float(inp["p2"][d, p])
            if inp["dist"] == "weibull":
                lt = {"Type": "Weibull", "Shape": [a], "Scale": [b]}
            else:
                lt = {"Type": "Normal", "Mean": [a], "StdDev": [b]}
            series = driver[d, p].copy()
            if inp["mode"] == "inflow":
                dsm = DynamicStockModel(t=t, i=series, lt=lt)
                dsm.compute_s_c_inflow_driven()
                dsm.compute_o_c_from_s_c()
                out["stock"][d, p] = dsm.compute_stock_total()[0]
                out["outflow"][d, p] = dsm.compute_outflow_total()[0]
            else:
                dsm = DynamicStockModel(t=t, s=series, lt=lt)
                dsm.compute_stock_driven_model()
                out["inflow"][d, p] = dsm.i
                out["outflow"][d, p] = dsm.compute_outflow_total()[0]
                out["stock"][d, p] = series
    return out
