"""Sums over a dimension of the model's labelled arrays without xarray's copies.

xarray's NaN-skipping sum makes three arrays the size of its argument (the
NaN mask, zeros, the argument with NaN as 0) before numpy adds; in an
ensemble chunk those copies of (draw, product, year) arrays cost more than
the sum. :func:`nansum` adds in one compiled pass instead (or, where the
array cannot be seen as three dimensions, one slice at a time), with the same
numbers, bit for bit.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import xarray as xr
from numba import njit

from ndsim import kernels as _kernels  # noqa: F401 - its cache locators before any njit

__all__ = ["nansum", "nansum_values", "sum_values"]

T = TypeVar("T", xr.DataArray, xr.Variable)


def nansum(x: T, dim: str) -> T:
    """``x.sum(dim)`` (NaN as 0, as xarray skips NaN): the same result, bit for bit.

    numpy adds along ``dim`` in index order, element by element, when another
    axis of more than one element lies inner in memory (the model's arrays
    keep the years innermost); so does this, in one compiled pass over a
    (before, dim, after) view of the array, or one slice at a time where the
    array has no such view or its other axes are not in C order in memory.
    Arrays numpy would add otherwise (pairwise, along their innermost axis) are
    summed as xarray does (NaN set to 0, then numpy's sum); other dtypes and an
    empty ``dim`` go to xarray's sum.

    Parameters
    ----------
    x : xarray.DataArray or xarray.Variable
        Float64 values with the dimension ``dim``.
    dim : str
        The dimension summed over.

    Returns
    -------
    xarray.DataArray or xarray.Variable
        What ``x.sum(dim)`` returns: the same type, coordinates and attributes.
    """
    if x.dtype != np.float64 or x.sizes[dim] == 0:
        return x.sum(dim)
    total = nansum_values(x.values, x.dims.index(dim))
    kept = x.isel({dim: 0}, drop=True) if isinstance(x, xr.DataArray) else x.isel({dim: 0})
    out = kept.copy(data=total)
    # the attributes xarray's sum keeps (its keep_attrs option), from one element's sum
    out.attrs = x.isel({d: slice(0, 1) for d in x.dims if d != dim}).sum(dim).attrs
    return out


def nansum_values(values: np.ndarray, axis: int) -> np.ndarray:
    """:func:`nansum` on a plain float64 array: the sum over ``axis`` (negative counts from
    the end), NaN as 0, bit for bit what ``x.sum(dim)`` gives for a labelled array with
    these values.

    Where numpy adds along ``axis`` element by element (another axis of more than one
    element lies inner in memory), in one compiled pass or one slice at a time; else
    (``axis`` innermost in memory, a broadcast axis) as xarray does: NaN set to 0, then
    numpy's sum.
    """
    axis %= values.ndim
    if not _in_index_order(values, axis):
        return np.sum(np.where(np.isnan(values), np.zeros_like(values), values), axis=axis)
    by = np.moveaxis(values, axis, 0)
    three = _three_dims(values, axis)
    if three is not None:
        flat = np.empty((three.shape[0], three.shape[2]))
        _nansum_middle(three, flat)
        return flat.reshape(by.shape[1:])
    total = np.where(np.isnan(by[0]), 0.0, by[0])
    for part in by[1:]:
        total += np.where(np.isnan(part), 0.0, part)
    return total


def sum_values(values: np.ndarray, axis: int, weights: np.ndarray | None = None) -> np.ndarray:
    """numpy's ``(values * weights).sum(axis)`` (NaN kept; ``weights`` along ``axis``, or
    none), bit for bit, without the product's array.

    Where numpy adds along ``axis`` element by element (as :func:`nansum_values` tells),
    one compiled pass from 0.0 in index order; else numpy's own sum.
    """
    axis %= values.ndim
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    if w is not None and w.shape != (values.shape[axis],):
        raise ValueError(f"weights of shape {w.shape} along an axis of {values.shape[axis]}")
    ordered = values.dtype == np.float64 and _in_index_order(values, axis)
    three = _three_dims(values, axis) if ordered else None
    if three is not None:
        flat = np.empty((three.shape[0], three.shape[2]))
        _sum_middle(three, np.ones(three.shape[1]) if w is None else w, w is not None, flat)
        return flat.reshape(values.shape[:axis] + values.shape[axis + 1 :])
    if w is None:
        return np.sum(values, axis=axis)
    return np.sum(values * w.reshape((-1,) + (1,) * (values.ndim - axis - 1)), axis=axis)


def _in_index_order(values: np.ndarray, axis: int) -> bool:
    """Does numpy add ``values`` along ``axis`` element by element, in index order (another
    axis of more than one element inner in memory, none broadcast)?"""
    longer = [k for k in range(values.ndim) if values.shape[k] > 1]
    return not (
        values.shape[axis] == 0
        or not longer
        or any(values.strides[k] == 0 for k in longer)  # broadcast: numpy's own order
        or min(longer, key=lambda k: abs(values.strides[k])) == axis
    )


@njit(cache=True)
def _sum_middle(x, w, weighted, out):  # pragma: no cover - compiled
    """out[i, k] = 0.0 + x[i, 0, k] w[0] + x[i, 1, k] w[1] + ..., added in j order (numpy
    starts a sum from its identity, so a sum of -0.0 is 0.0); unweighted without the
    products."""
    a, m, b = x.shape
    for i in range(a):
        row = out[i]
        for k in range(b):
            row[k] = 0.0
        for j in range(m):
            src = x[i, j]
            if weighted:
                f = w[j]
                for k in range(b):
                    row[k] += src[k] * f
            else:
                for k in range(b):
                    row[k] += src[k]


def _three_dims(values: np.ndarray, axis: int) -> np.ndarray | None:
    """``values`` as a (before, axis, after) view, or None where that needs a copy or the
    other axes are not in C order in memory (the order the slice-by-slice sum gives, so
    later sums add in the same order; checked first, as the reshape may copy)."""
    if not np.empty_like(np.moveaxis(values, axis, 0)[0]).flags.c_contiguous:
        return None
    shape = values.shape
    three = values.reshape(
        int(np.prod(shape[:axis], dtype=np.int64)),
        shape[axis],
        int(np.prod(shape[axis + 1 :], dtype=np.int64)),
    )
    return three if np.may_share_memory(three, values) else None


@njit(cache=True)
def _nansum_middle(x, out):  # pragma: no cover - compiled
    """out[i, k] = sum over j of x[i, j, k], NaN as 0, added in j order.

    Adds 0.0 for a NaN, as ``total += where(isnan(part), 0.0, part)`` does (so a
    -0.0 total becomes 0.0 there too).
    """
    a, m, b = x.shape
    for i in range(a):
        row = out[i]
        src = x[i, 0]
        for k in range(b):
            v = src[k]
            row[k] = v if v == v else 0.0
        for j in range(1, m):
            src = x[i, j]
            for k in range(b):
                v = src[k]
                row[k] += v if v == v else 0.0
