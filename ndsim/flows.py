"""The flows between processes: a list of edges while the model runs, a matrix in the output.

The ``flow`` variable of the output contract is a (origin, destination, year)
matrix over the 13 nodes of SPEC §1 (``conventions.NODES``), of which 22 node
pairs carry a flow (:data:`FLOW_EDGES`); every other pair is 0. While the model
runs, and in ensemble chunks, the flows are kept as (..., edge, year) arrays over
those 22 edges only: a seventh of the memory and of the work per draw. The
edges are in node order (:data:`EDGES`), so the edges of one draw, flattened,
are the nonzero pairs of the matrix in C order.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ndsim import conventions as cv

__all__ = [
    "EDGE",
    "EDGES",
    "FLOW_EDGES",
    "edge",
    "edge_array",
    "edge_values",
    "has_edge",
    "is_edges",
    "to_matrix",
]

#: the (origin, destination) pairs of the ``flow`` variable that carry a flow; every
#: other pair is 0 by construction, which summaries may rely on
FLOW_EDGES = (
    ("ore", "mining"),
    ("unregistered_mining", "mining"),
    ("import", "mining"),
    ("mining", "refining"),
    ("mining", "export"),
    ("mining", "loss"),
    ("import", "refining"),
    ("waste", "refining"),
    ("refining", "fabrication"),
    ("refining", "export"),
    ("refining", "export_unregistered"),
    ("refining", "loss"),
    ("import", "fabrication"),
    ("fabrication", "manufacturing"),
    ("fabrication", "export"),
    ("fabrication", "loss"),
    ("manufacturing", "use"),
    ("manufacturing", "export"),
    ("manufacturing", "loss"),
    ("import", "use"),
    ("use", "waste"),
    ("waste", "landfill"),
)
#: the dimension of flows kept as edges
EDGE = "edge"
#: the edges in the order of the matrix (origin, then destination, in ``conventions.NODES``)
EDGES = tuple(sorted(FLOW_EDGES, key=lambda e: (cv.NODES.index(e[0]), cv.NODES.index(e[1]))))
#: the ``edge`` coordinate: ``origin->destination``
LABELS = tuple(f"{o}->{d}" for o, d in EDGES)
_POSITION = {e: i for i, e in enumerate(EDGES)}


def is_edges(flow: xr.DataArray | xr.Variable) -> bool:
    """True if ``flow`` is kept as edges (..., edge, year), False for a matrix."""
    return EDGE in flow.dims


def edge_array(edges: Mapping[tuple[str, str], xr.DataArray], years: np.ndarray) -> xr.DataArray:
    """Flows (..., edge, year) from a mapping of edges to (..., year) arrays.

    Edges given over fewer years are NaN in the others (not modelled); edges
    not given are 0. The labelled form of :func:`edge_values`.
    """
    years = np.asarray(years)
    parts = list(edges.values())
    # the leading dims of the result: those of the edges, in order of first appearance
    lead: dict[Hashable, int] = {}
    lead_coords: dict[Hashable, Any] = {}
    for da in parts:
        for d in da.dims:
            if d != cv.YEAR and d not in lead:
                lead[d] = da.sizes[d]
            if d != cv.YEAR and d in da.coords and d not in lead_coords:
                lead_coords[d] = da[d]
    values = {}
    for pair, da in zip(edges, parts, strict=True):
        # the edge's years among the result's: the others are dropped
        y = da[cv.YEAR].values
        at = np.minimum(np.searchsorted(years, y), years.size - 1)
        hit = years[at] == y
        present = [d for d in lead if d in da.dims]
        arr = da.transpose(*present, cv.YEAR).values
        # missing lead dims: size-1 axes that broadcast
        arr = arr.reshape([lead[d] if d in da.dims else 1 for d in lead] + [y.size])
        values[pair] = (arr[..., hit], at[hit])
    out = edge_values(values, years.size, tuple(lead.values()))
    coords: dict[Hashable, Any] = {**lead_coords, EDGE: list(LABELS), cv.YEAR: years}
    flow = xr.DataArray(out, dims=(*lead, EDGE, cv.YEAR), coords=coords)
    return flow.rename("flow").assign_attrs(cv.attrs("flow"))


def edge_values(
    edges: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray | slice]],
    n_years: int,
    lead: tuple[int, ...],
) -> np.ndarray:
    """Flows (*lead, edge, year) on plain arrays, built in one preallocated array.

    ``edges`` maps an edge to its values (..., k), broadcast to ``lead``, and
    where they stand among the ``n_years`` years (k positions, or a slice);
    an edge is NaN in the years it does not cover (not modelled), and an edge
    not given is 0.
    """
    unknown = [pair for pair in edges if pair not in _POSITION]
    if unknown:  # a new edge must be declared, so summaries do not take it for a zero
        raise ValueError(f"flow edge(s) {unknown} are not in ndsim.flows.FLOW_EDGES")
    out = np.zeros((*lead, len(EDGES), n_years))
    for pair, (arr, at) in edges.items():
        slot = out[..., _POSITION[pair], :]
        if arr.shape[-1] != n_years:
            slot[...] = np.nan
        slot[..., at] = arr
    return out


def edge(flow: xr.DataArray, origin: str, destination: str) -> xr.DataArray:
    """The flow of one edge (..., year), from edges or from a matrix."""
    if is_edges(flow):
        return flow.isel({EDGE: _POSITION[(origin, destination)]}, drop=True)
    return flow.sel({cv.ORIGIN: origin, cv.DESTINATION: destination}, drop=True)


def has_edge(flow: xr.DataArray, origin: str, destination: str) -> bool:
    """True if the pair is an edge (edges) or a pair of the matrix's nodes."""
    if is_edges(flow):
        return (origin, destination) in _POSITION
    return origin in flow[cv.ORIGIN].values and destination in flow[cv.DESTINATION].values


def to_matrix(flow: xr.DataArray, off_edge: float | xr.DataArray = 0.0) -> xr.DataArray:
    """The (..., origin, destination, year) matrix of flows kept as edges.

    ``off_edge`` is what the node pairs without an edge hold: 0, or an array
    over ``year`` (``flow_sd`` is NaN after the accounted years on every pair).
    """
    lead = [d for d in flow.dims if d not in (EDGE, cv.YEAR)]
    flow = flow.transpose(*lead, EDGE, cv.YEAR)
    nodes = list(cv.NODES)
    n_years = flow.sizes[cv.YEAR]
    fill: Any = off_edge
    if isinstance(off_edge, xr.DataArray):
        fill = off_edge.transpose(cv.YEAR).values
    out = np.empty((*flow.shape[:-2], len(nodes), len(nodes), n_years))
    out[...] = fill
    o = np.array([nodes.index(a) for a, _ in EDGES])
    d = np.array([nodes.index(b) for _, b in EDGES])
    out[..., o, d, :] = flow.values
    coords: dict[Hashable, Any] = {c: flow[c] for c in lead if c in flow.coords}
    coords.update({cv.ORIGIN: nodes, cv.DESTINATION: nodes, cv.YEAR: flow[cv.YEAR].values})
    return xr.DataArray(
        out,
        dims=(*lead, cv.ORIGIN, cv.DESTINATION, cv.YEAR),
        coords=coords,
        name=flow.name,
        attrs=flow.attrs,
    )
