"""The benchmark workload and the two in-house paths: ndsim and a plain numpy baseline.

The workload has the size of the paper's use stage (Yao et al. 2021,
doi:10.1016/j.resconrec.2021.105752): 17 final products x 51 years
(2000-2050), with lifetime parameters that differ per Monte Carlo draw and
product. Its numbers (lifetimes, inflow levels, stock curves) are invented
for timing; they are not the data set's values.

Every runner takes the dict of :func:`make_inputs` and returns a dict of
arrays with shape (draw, product, year): ``outflow`` and ``stock`` for the
inflow-driven model, ``inflow``, ``outflow`` and ``stock`` for the
stock-driven one.

Conventions (those of ndsim's default, ``timing="end"``): products enter at
the end of their inflow year, a cohort is ``a`` whole years old at the end
of year ``c + a``, the share retiring at age ``a`` is
``f(a) = S(a - 1) - S(a)`` with ``S(-1) = 1`` and ``S(a) = P(X > a)``; the
stock is counted at the end of the year. Stock-driven runs use targets that
never fall, so no decline policy applies.
"""

from __future__ import annotations

import math

import numpy as np

PRODUCTS = (
    "CV", "EV", "EB", "WT", "AC", "RE", "WM", "MO", "VC",
    "MRI", "DC", "LP", "MP", "LS", "CP", "EL", "IR",
)  # fmt: skip
YEARS = np.arange(2000, 2051)
DISTS = ("normal", "lognormal", "weibull")
MODES = ("inflow", "stock")

#: central mean lifetime per product [yr] (benchmark values, not data)
_MEAN = np.array([15, 12, 6, 20, 10, 12, 10, 9, 8, 12, 6, 5, 3, 8, 7, 25, 12], dtype=float)
#: Weibull shape per product [-] (benchmark values)
_SHAPE = np.linspace(2.0, 3.5, len(PRODUCTS))


def make_inputs(n_draws: int, dist: str, mode: str, seed: int = 20210752) -> dict:
    """Seeded inputs of the workload for ``n_draws`` draws.

    Parameters
    ----------
    n_draws : int
        Number of Monte Carlo draws N.
    dist : {"normal", "lognormal", "weibull"}
        Lifetime model.
    mode : {"inflow", "stock"}
        Inflow-driven (driver = inflow [t yr-1]) or stock-driven (driver =
        stock target [t]).
    seed : int
        Seed; the same seed gives the same numbers in every process.

    Returns
    -------
    dict
        ``dist``, ``mode``, ``driver`` (N, 17, 51), ``p1``, ``p2`` (N, 17):
        (mean, sd) [yr] for normal and lognormal, (shape [-], scale [yr])
        for Weibull. The driver is written in place, so the peak memory of
        building it is the array itself.
    """
    if dist not in DISTS or mode not in MODES:
        raise ValueError(f"dist must be one of {DISTS}, mode one of {MODES}")
    rng = np.random.default_rng(seed)
    n_p, n_t = len(PRODUCTS), len(YEARS)
    mean = _MEAN * np.exp(0.1 * rng.standard_normal((n_draws, n_p)))
    if dist == "weibull":
        shape = _SHAPE * np.exp(0.05 * rng.standard_normal((n_draws, n_p)))
        gamma = np.vectorize(math.gamma)(1.0 + 1.0 / shape)
        p1, p2 = shape, mean / gamma
    else:
        p1, p2 = mean, 0.3 * mean * np.exp(0.1 * rng.standard_normal((n_draws, n_p)))
    t = (YEARS - YEARS[0]).astype(float)
    level = np.exp(0.1 * rng.standard_normal((n_draws, n_p, 1)))
    driver = np.empty((n_draws, n_p, n_t))
    if mode == "inflow":
        growth = np.linspace(0.02, 0.08, n_p)[:, None]
        base = 100.0 * np.exp(growth * t)  # (product, year)
        rng.random(out=driver)  # +-10 % noise per draw, product and year
        driver *= 0.2
        driver += 0.9
        driver *= base
        driver *= level
    else:  # Gompertz stock targets: rise every year, so no decline policy applies
        rate = np.linspace(0.08, 0.2, n_p)[:, None]
        base = 1000.0 * np.exp(-5.0 * np.exp(-rate * t))
        np.multiply(base, level, out=driver)
    return {"dist": dist, "mode": mode, "driver": driver, "p1": p1, "p2": p2}


# --- ndsim, through its public functions -----------------------------------------------


def run_ndsim(inp: dict) -> dict:
    """The workload through ``ndsim.inflow_driven`` / ``ndsim.stock_driven``.

    Lifetime parameters go in as (draw, product) DataArrays on one
    :class:`ndsim.lifetime.Lifetime`, so the kernels evaluate the pdf per
    series from its parameters (no (draw, product, age) array).
    """
    import xarray as xr

    import ndsim
    from ndsim.lifetime import Lifetime

    n = inp["driver"].shape[0]
    dims = ("draw", "product", "year")
    coords = {"draw": np.arange(n), "product": list(PRODUCTS), "year": YEARS}
    driver = xr.DataArray(inp["driver"], dims=dims, coords=coords)
    pc = {"draw": coords["draw"], "product": coords["product"]}
    p1 = xr.DataArray(inp["p1"], dims=dims[:2], coords=pc)
    p2 = xr.DataArray(inp["p2"], dims=dims[:2], coords=pc)
    if inp["dist"] == "weibull":
        lifetime = Lifetime("weibull", shape=p1, scale=p2)
    else:
        lifetime = Lifetime(inp["dist"], mean=p1, sd=p2)
    if inp["mode"] == "inflow":
        ds = ndsim.inflow_driven(driver, lifetime)
        names = ("outflow", "stock")
    else:
        ds = ndsim.stock_driven(driver, lifetime)
        names = ("inflow", "outflow", "stock")
    return {k: ds[k].transpose(*dims).values for k in names}


# --- plain numpy baseline --------------------------------------------------------------


def pdf_numpy(dist: str, p1: np.ndarray, p2: np.ndarray, n_ages: int) -> np.ndarray:
    """Discrete lifetime pdf f(a), a = 0..n_ages-1, with numpy/scipy [1], shape (..., n_ages).

    Differences of the CDF below the median and of the survival function
    above it (the same rule as ndsim's kernels), untruncated normal (the
    mass below age 0 retires at age 0).
    """
    from scipy.special import ndtr

    x = np.arange(n_ages, dtype=float)
    p1, p2 = np.asarray(p1, float)[..., None], np.asarray(p2, float)[..., None]
    with np.errstate(divide="ignore"):
        if dist == "normal":
            z = (x - p1) / p2
            cdf, sf = ndtr(z), ndtr(-z)
        elif dist == "lognormal":
            sigma2 = np.log1p((p2 / p1) ** 2)
            mu = np.log(p1) - 0.5 * sigma2
            z = (np.log(x) - mu) / np.sqrt(sigma2)  # -inf at x = 0: cdf 0, sf 1
            cdf, sf = ndtr(z), ndtr(-z)
        elif dist == "weibull":
            u = (x / p2) ** p1
            cdf, sf = -np.expm1(-u), np.exp(-u)
        else:
            raise ValueError(f"unknown dist {dist!r}")
    prev_cdf = np.concatenate([np.zeros_like(cdf[..., :1]), cdf[..., :-1]], axis=-1)
    prev_sf = np.concatenate([np.ones_like(sf[..., :1]), sf[..., :-1]], axis=-1)
    return np.where(cdf <= 0.5, cdf - prev_cdf, prev_sf - sf)


def run_numpy(inp: dict) -> dict:
    """The workload in vectorised numpy: a loop over ages (inflow-driven) or years (stock-driven).

    Notes
    -----
    Inflow-driven: ``outflow(t) = sum_a inflow(t - a) f(a)``,
    ``stock(t) = sum_{c <= t} (inflow(c) - outflow(c))``. Stock-driven, year by
    year: ``inflow(t) = (S*(t) - S(t - 1) + out_old(t)) / (1 - f(0))``.
    """
    driver = inp["driver"]
    n_t = driver.shape[-1]
    f = pdf_numpy(inp["dist"], inp["p1"], inp["p2"], n_t)
    outflow = np.zeros_like(driver)
    if inp["mode"] == "inflow":
        for a in range(n_t):
            outflow[..., a:] += driver[..., : n_t - a] * f[..., a : a + 1]
        return {"outflow": outflow, "stock": np.cumsum(driver - outflow, axis=-1)}
    inflow = np.empty_like(driver)
    stock = np.empty_like(driver)
    s_prev = np.zeros(driver.shape[:-1])
    survive0 = 1.0 - f[..., 0]
    for t in range(n_t):
        rhs = driver[..., t] - s_prev + outflow[..., t]
        met = rhs >= 0.0
        x = np.where(met, rhs / survive0, 0.0)
        s = np.where(met, driver[..., t], s_prev - outflow[..., t])
        outflow[..., t:] += x[..., None] * f[..., : n_t - t]
        inflow[..., t] = x
        stock[..., t] = s
        s_prev = s
    return {"inflow": inflow, "outflow": outflow, "stock": stock}


def max_rel_diff(a: dict, b: dict) -> float:
    """max over variables of max|a - b| / max|b| (difference relative to the variable's scale)."""
    out = 0.0
    for k in b:
        scale = float(np.max(np.abs(b[k])))
        if scale > 0:
            out = max(out, float(np.max(np.abs(a[k] - b[k]))) / scale)
    return out
