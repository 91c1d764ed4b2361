"""The use stage: in-use stock and end-of-life outflow from the inflow (SPEC §2, eq. 5-6).

The cohort convolution itself is :func:`ndsim.dsm.inflow_driven`; this module
picks the data set's lifetime variant and attaches the output names.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ndsim import conventions as cv

__all__ = ["use_stage", "lifetime_pdf"]


def use_stage(
    inflow: xr.DataArray, pdf: xr.DataArray, *, initial_stock: xr.DataArray | None = None
) -> xr.Dataset:
    """Stock and end-of-life outflow of the use stage, driven by the inflow.

    Parameters
    ----------
    inflow : xr.DataArray
        F_in (..., product, year) [t yr-1].
    pdf : xr.DataArray
        Discrete lifetime distribution f_j(a) (product, [draw], age) [yr-1],
        from :func:`lifetime_pdf`.
    initial_stock : xr.DataArray, optional
        Stock before the first year [t]; None: empty (the paper's convention).

    Returns
    -------
    xr.Dataset
        ``outflow`` (product, year) [t yr-1] and ``stock`` (product, year) [t],
        stock at the end of each year.

    Notes
    -----
    F_out,j(t) = sum_{c <= t} F_in,j(c) f_j(t - c) generalises the paper's
    fixed lifetime F_out,j(t) = F_in,j(t - L_j) (eq. 5);
    S_j(t) - S_j(t - 1) = F_in,j(t) - F_out,j(t) (eq. 6). Yao et al. (2021),
    doi:10.1016/j.resconrec.2021.105752.
    """
    from ndsim.dsm import inflow_driven

    res = inflow_driven(inflow, pdf, initial_stock=initial_stock)
    out = xr.Dataset(
        {
            "outflow": res["outflow"].assign_attrs(cv.attrs("outflow")),
            "stock": res["stock"].assign_attrs(cv.attrs("stock")),
        }
    )
    return out


def lifetime_pdf(inputs: xr.Dataset, variant: str, timing: str, n_ages: int) -> xr.DataArray:
    """Lifetime pdf by product of one lifetime variant of the data set.

    Parameters
    ----------
    inputs : xr.Dataset
        Canonical input Dataset (``ndsim.io.readers.load_dataset``).
    variant : str
        Lifetime variant (``paper``, ``literature``, ...).
    timing : str
        Timing convention (``end`` or ``middle``).
    n_ages : int
        Number of ages 0..n_ages-1 (the number of model years is enough).

    Returns
    -------
    xr.DataArray
        f(a) (product, [draw], age) [yr-1].
    """
    from ndsim.lifetime import pdf_by_product

    specs = lifetime_specs(inputs, variant, timing)
    return pdf_by_product(specs, n_ages)


def lifetime_specs(inputs: xr.Dataset, variant: str, timing: str) -> dict:
    """``{product: Lifetime}`` of one variant, from the canonical ``lifetime_*`` variables.

    Parameters that are NaN for a product are not passed; a parameter with a
    ``draw`` dimension is passed as a DataArray, so the pdf carries the draws.
    """
    from ndsim.lifetime import Lifetime

    names = ("mean", "sd", "shape", "scale")
    sel = inputs[["lifetime_model", *(f"lifetime_{n}" for n in names)]].sel({"variant": variant})
    products = [str(p) for p in sel[cv.PRODUCT].values]
    models = np.broadcast_to(sel["lifetime_model"].values, (len(products),))
    # per parameter: plain numbers by product, or (for a parameter with draws) DataArrays
    columns = {}
    for name in names:
        da = sel[f"lifetime_{name}"].reset_coords(drop=True)
        if cv.PRODUCT not in da.dims:
            da = da.expand_dims({cv.PRODUCT: len(products)})
        if da.dims == (cv.PRODUCT,):
            values = da.values.astype(float)
            columns[name] = [float(v) if not np.isnan(v) else None for v in values]
        else:
            other = da.transpose(cv.PRODUCT, ...)
            known = other.notnull().all([d for d in other.dims if d != cv.PRODUCT]).values
            columns[name] = [
                other.isel({cv.PRODUCT: i}, drop=True) if known[i] else None
                for i in range(len(products))
            ]
    specs = {}
    for i, product in enumerate(products):  # building one spec per product, not computing
        params = {n: columns[n][i] for n in names if columns[n][i] is not None}
        specs[product] = _lifetime(Lifetime, str(models[i]), timing, params)
    return specs


def _lifetime(Lifetime, model: str, timing: str, params: dict):
    if model == "weibull" and "shape" not in params and {"mean", "sd"} <= set(params):
        return Lifetime.weibull_from_mean_sd(params["mean"], params["sd"], timing=timing)
    return Lifetime(model, timing=timing, **params)
