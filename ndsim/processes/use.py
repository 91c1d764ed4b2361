"""The use stage's lifetimes (SPEC §2, eq. 5-6): the data set's lifetime variant by product.

The cohort convolution itself runs in :mod:`ndsim.dsm`'s kernels
(:class:`ndsim.forecast.Lifetimes` on a run's arrays); this module picks the
data set's lifetime variant and gives each product's lifetime, as specs or as a pdf.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ndsim import conventions as cv

__all__ = ["lifetime_pdf", "lifetime_specs"]


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
