"""Trade in final products after the last accounted year: held at its share of DC (SPEC §2.1).

The accounted trade is in units (:func:`ndsim.processes.products.unit_layer_values`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["extended_values"]


def extended_values(accounted: np.ndarray, domestic_consumption: np.ndarray) -> np.ndarray:
    """E or I over all years: the data to T, then held at its share of DC in T (e = E/DC).

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
