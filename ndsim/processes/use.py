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
    at = {"variant": inputs.get_index("variant").get_loc(variant)}  # (KeyError if not one)
    products = [str(p) for p in inputs.get_index(cv.PRODUCT)]

    def selected(name):  # the variable's Variable in the variant (no DataArray built)
        var = inputs.variables[name]
        return var.isel({k: v for k, v in at.items() if k in var.dims})

    models = np.broadcast_to(selected("lifetime_model").values, (len(products),))
    # per parameter: plain numbers by product, or (for a parameter with draws) DataArrays
    # over the parameter's other dims with their index coordinates, as ``isel`` would give
    columns = {}
    for name in names:
        var = selected(f"lifetime_{name}")
        if cv.PRODUCT not in var.dims:
            var = var.set_dims({cv.PRODUCT: len(products), **var.sizes})
        if var.dims == (cv.PRODUCT,):
            values = var.values.astype(float)
            columns[name] = [float(v) if not np.isnan(v) else None for v in values]
            continue
        other = var.transpose(cv.PRODUCT, ...)
        rest = other.dims[1:]
        values = other.values
        known = ~np.isnan(values).any(axis=tuple(range(1, values.ndim)))
        coords = xr.Coordinates(
            {d: inputs.variables[d] for d in rest if d in inputs.xindexes},
            indexes={d: inputs.xindexes[d] for d in rest if d in inputs.xindexes},
        )
        # one DataArray built, the others its shallow copies with their own values
        first = xr.DataArray(
            values[0], dims=rest, coords=coords, name=f"lifetime_{name}", attrs=dict(var.attrs)
        )
        columns[name] = [
            (first if i == 0 else first.copy(deep=False, data=values[i])) if known[i] else None
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
