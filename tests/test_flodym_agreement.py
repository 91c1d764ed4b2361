"""Agreement with flodym 1.1 (InflowDrivenDSM, StockDrivenDSM) on random cases.

How the conventions map:

- ndsim ``timing="end"`` is flodym ``inflow_at="end"`` and ``timing="middle"``
  is flodym's default ``inflow_at="middle"``: in both, the share of cohort c
  still in use at the end of year t is S(t - c) resp. S(t - c + 1/2), and the
  outflow is the year-on-year drop of that share. flodym is run with one
  point per interval (``n_pts_per_interval=1``) and unit-length years.
- Fixed lifetimes: flodym's is a step (``age < mean``); ndsim's splits a
  fractional lifetime linearly between the neighbouring ages. For whole-year
  lifetimes both retire at exactly age L under both timings; only those are
  compared.
- Normal lifetimes: both assign the probability of a negative lifetime to
  age 0 (flodym takes the untruncated survival function); cases here keep
  that mass negligible anyway (mean >= 3 sd).
- flodym computes the stock from a year x cohort survival matrix and ndsim
  from the running balance, and ndsim takes differences of the cumulative
  distribution below the median where flodym differences the survival
  function; so values agree to rounding relative to the size of each series,
  not digit for digit on shares of 1e-20. The check: max |ndsim - flodym|
  <= 1e-9 max |flodym| per series, and elementwise 1e-9 relative on every
  value above 1e-6 of its series' maximum.
- Stock-driven cases use stocks that do not decline, so no policy applies
  (flodym 1.1 has none; it would return negative inflows).

``StockArray(values=...)`` keeps a reference to the array passed, so copies
are passed.
"""

from __future__ import annotations

import flodym as fd  # noqa: E402 - the test extra installs it
import numpy as np
import pytest
import xarray as xr

from ndsim import dsm
from ndsim.lifetime import Lifetime

N_DRAWS, N_PRODUCTS, N_YEARS = 3, 4, 30


def _dims():
    return fd.DimensionSet(
        dim_list=[
            fd.Dimension(name="time", letter="t", items=list(range(2000, 2000 + N_YEARS))),
            fd.Dimension(name="draw", letter="d", items=list(range(N_DRAWS))),
            fd.Dimension(name="product", letter="p", items=list(range(N_PRODUCTS))),
        ]
    )


def _labelled(values_dpt: np.ndarray) -> xr.DataArray:
    return xr.DataArray(
        values_dpt,
        dims=("draw", "product", "year"),
        coords={"year": np.arange(2000, 2000 + N_YEARS)},
    )


def _params(rng, model):
    shape = (N_DRAWS, N_PRODUCTS)
    if model == "fixed":
        return {"mean": rng.integers(1, 15, shape).astype(float)}
    mean = rng.uniform(3.0, 20.0, shape)
    return {"mean": mean, "sd": mean * rng.uniform(0.05, 1.0 / 3.0, shape)}


def _flodym_lifetime(dims, model, params, timing):
    dp = dims[("d", "p")]
    if model == "fixed":
        return fd.FixedLifetime(
            dims=dims, mean=fd.FlodymArray(dims=dp, values=params["mean"].copy()), inflow_at=timing
        )
    return fd.NormalLifetime(
        dims=dims,
        mean=fd.FlodymArray(dims=dp, values=params["mean"].copy()),
        std=fd.FlodymArray(dims=dp, values=params["sd"].copy()),
        inflow_at=timing,
    )


def _ndsim_lifetime(model, params, timing):
    arrays = {k: xr.DataArray(v, dims=("draw", "product")) for k, v in params.items()}
    return Lifetime(model, timing, **arrays)


def _assert_agree(ours: np.ndarray, theirs: np.ndarray) -> None:
    """ours, theirs: (draw, product, year)."""
    scale = np.abs(theirs).max(axis=-1, keepdims=True)
    diff = np.abs(ours - theirs)
    assert (diff <= 1e-9 * scale).all(), (
        f"max scaled diff {np.max(diff / np.maximum(scale, 1e-300))}"
    )
    big = np.abs(theirs) > 1e-6 * scale
    np.testing.assert_allclose(ours[big], theirs[big], rtol=1e-9)


@pytest.mark.parametrize("timing", ["end", "middle"])
@pytest.mark.parametrize("model", ["fixed", "normal"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_inflow_driven_agrees_with_flodym(model, timing, seed):
    rng = np.random.default_rng(seed)
    inflow = rng.uniform(0.0, 100.0, (N_DRAWS, N_PRODUCTS, N_YEARS))
    params = _params(rng, model)
    dims = _dims()
    flo = fd.InflowDrivenDSM(
        dims=dims,
        lifetime_model=_flodym_lifetime(dims, model, params, timing),
        inflow=fd.StockArray(dims=dims, values=np.moveaxis(inflow, -1, 0).copy()),
    )
    flo.compute()
    ours = dsm.inflow_driven(_labelled(inflow), _ndsim_lifetime(model, params, timing))
    _assert_agree(ours.outflow.values, np.moveaxis(flo.outflow.values, 0, -1))
    _assert_agree(ours.stock.values, np.moveaxis(flo.stock.values, 0, -1))
    assert ours.attrs["lifetime_timing"] == timing


@pytest.mark.parametrize("timing", ["end", "middle"])
@pytest.mark.parametrize("model", ["fixed", "normal"])
@pytest.mark.parametrize("seed", [4, 5, 6])
def test_stock_driven_agrees_with_flodym(model, timing, seed):
    rng = np.random.default_rng(seed)
    # a stock that never declines: no decline policy is involved
    stock = np.cumsum(rng.uniform(0.0, 50.0, (N_DRAWS, N_PRODUCTS, N_YEARS)), axis=-1)
    params = _params(rng, model)
    dims = _dims()
    flo = fd.StockDrivenDSM(
        dims=dims,
        lifetime_model=_flodym_lifetime(dims, model, params, timing),
        stock=fd.StockArray(dims=dims, values=np.moveaxis(stock, -1, 0).copy()),
    )
    flo.compute()
    ours = dsm.stock_driven(_labelled(stock), _ndsim_lifetime(model, params, timing))
    _assert_agree(ours.inflow.values, np.moveaxis(flo.inflow.values, 0, -1))
    _assert_agree(ours.outflow.values, np.moveaxis(flo.outflow.values, 0, -1))
    _assert_agree(ours.stock.values, stock)
    assert float(ours.unmet_stock_decline.max()) <= 1e-9 * stock.max()
