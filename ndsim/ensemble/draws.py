"""Running the model on draws: one function for every path, and the tasks built on it.

:func:`run_draws` is the one place where sampled factors, the deterministic
run's ownership fits and the model meet: the deterministic run, the chunks,
the pilot that places the histogram bins and the rows of the Saltelli design
all end there, as pvlib's ``ModelChain.run_model*`` entry points all end in
one helper. The tasks below run where the chunks run (this process, a local
pool's worker, a dask worker) and return only small reductions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim import flows, sampling, summarize, sums
from ndsim.ensemble import checkpoint
from ndsim.ensemble.plan import DERIVED, INPUT_FACTOR, Plan
from ndsim.pipeline import RunVariables

if TYPE_CHECKING:
    from ndsim.fleet import FleetFit

__all__ = [
    "ChunkResult",
    "ExpandedChunk",
    "chunk_task",
    "design_task",
    "pilot_task",
    "run_draws",
    "with_derived",
    "worse",
]


_Result = TypeVar("_Result", xr.Dataset, RunVariables)


def with_derived(result: _Result) -> _Result:
    """``result`` with the totals over products (:data:`ndsim.ensemble.plan.DERIVED`).

    Each is numpy's sum over the product axis of the variable's array (what xarray's
    ``sum(skipna=False)`` computes), added to ``result`` in one assignment (a
    :class:`~ndsim.pipeline.RunVariables`, the chunks' unlabelled result, in place).
    """
    totals = {}
    for name, source in DERIVED.items():
        if source in result and name not in result:
            var = result.variables[source]
            axis = var.dims.index(cv.PRODUCT)
            dims = var.dims[:axis] + var.dims[axis + 1 :]
            totals[name] = xr.Variable(dims, sums.sum_values(var.values, axis), cv.attrs(name))
    if isinstance(result, RunVariables):
        result.update(totals)
        return result
    return result.assign(totals) if totals else result


def run_draws(
    inputs: xr.Dataset,
    scenario: object,
    factors: MutableMapping[str, xr.DataArray] | sampling.Factors | None,
    *,
    model: Callable,
    fits: Mapping[str, FleetFit] | None,
) -> xr.Dataset:
    """Run the model on the inputs scaled by per-draw factors, with the totals over products.

    Parameters
    ----------
    inputs : xarray.Dataset
        The canonical inputs, without draws.
    scenario : ndsim.scenario.Scenario
        The checked scenario.
    factors : dict of str to xarray.DataArray, ndsim.sampling.Factors, or None
        Per-draw factors of the sampled inputs (:func:`ndsim.sampling.draw_factors`,
        :func:`ndsim.sampling.saltelli_factors`, or on plain arrays, as the chunks use
        them, :func:`ndsim.sampling.factor_arrays`); None runs the inputs as they are
        (the deterministic run). The factors are emptied once the inputs are scaled,
        so the factors, as large as the sampled inputs, are not held while the
        model runs (where a chunk peaks): take what else you need of them first.
    model : callable
        ``model(inputs, scenario) -> Dataset`` (:func:`ndsim.pipeline.run`).
    fits : dict of str to ndsim.fleet.FleetFit, or None
        The ownership fits every draw uses (:func:`ndsim.ensemble.plan.deterministic_fits`),
        handed to the model as ``model(inputs, scenario, fits=fits)``; None lets the
        model fit its own (the deterministic run) and calls ``model(inputs, scenario)``.

    Returns
    -------
    xarray.Dataset
        The model's output with ``stock_total`` and ``outflow_total``.
    """
    sampled = inputs
    if factors is not None:
        sampled = sampling.apply_factors(inputs, factors)
        factors.clear()
    result = model(sampled, scenario) if fits is None else model(sampled, scenario, fits=fits)
    return with_derived(result)


def _sampled_result(plan: Plan, start: int, stop: int) -> tuple[xr.Dataset, np.ndarray]:
    """The model on draws [start, stop), and the sampled factors as regressors (n, inputs)."""
    factors = sampling.factor_arrays(plan.factor_plan, np.arange(start, stop), plan.seed)
    reg = factors.regressors()  # before run_draws lets the factors go
    if reg.shape[1] != len(plan.regressor_labels):
        raise RuntimeError("sensitivity regressors differ between chunks")
    result = run_draws(plan.inputs, plan.scenario, factors, model=plan.model, fits=plan.fits)
    return result, reg


def _summarised(plan: Plan, result: xr.Dataset, reg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flat summarised values (n, values) and the regression rows (regressors, targets)."""
    values = plan.layout.flatten(result, reg.shape[0])
    z = np.concatenate([reg, values[:, [i for _, i in plan.targets]]], axis=1)
    return values, z


@dataclass
class ChunkResult:
    """What a chunk sends back: its reduction, worst balance residual and, for --full, its
    draws, or (``staged``) the file it wrote them to."""

    partial: summarize.ChunkPartial
    worst_residual: np.ndarray | None
    full: dict[str, np.ndarray] | None
    staged: str | None = None


def chunk_task(
    plan: Plan, start: int, stop: int, hist=None, keep: str | None = None
) -> ChunkResult:
    """Run the model on draws [start, stop) and reduce them (executed where the chunk runs).

    With ``--full`` and ``keep``, the folder of the run's kept chunks, the chunk writes its
    draws to a temporary folder there itself (:func:`ndsim.ensemble.checkpoint.stage_chunk`;
    kept once merged) rather than send them back: they are the largest part of a result by
    far (about 90 MB per 1,000 draws of the China case), and the process that merges the
    results also compresses them into the output file.
    """
    result, reg = _sampled_result(plan, start, stop)
    worst = None
    if "balance_residual" in result:
        worst = result["balance_residual"].transpose(cv.PROCESS, cv.YEAR).values.copy()
    full, staged = None, None
    if plan.full and keep is not None:  # written a variable at a time, before the reduction
        staged = checkpoint.stage_chunk(keep, start, _full_items(plan, result, reg, start))
    elif plan.full:
        full = dict(_full_items(plan, result, reg, start))
    if plan.exact:  # every value goes back to be kept
        values, z = _summarised(plan, result, reg)
        del result  # the model's arrays go before the reduction allocates its own
        partial = summarize.reduce_chunk(values, z, start, hist=hist, keep_values=True)
    else:  # reduced a variable at a time: no (draws, values) matrix (184 MB per 1,000 draws)
        z = np.concatenate([reg, target_values(plan, result, stop - start)], axis=1)
        blocks = plan.layout.blocks(result, stop - start)
        partial = summarize.reduce_blocks(blocks, plan.layout.size, z, start, hist=hist)
    return ChunkResult(partial, worst, full, staged)


def _full_items(
    plan: Plan, result: xr.Dataset, reg: np.ndarray, start: int
) -> Iterator[tuple[str, np.ndarray]]:
    """The per-draw values kept for --full (float32) and the sampled factors (float64),
    one variable at a time.

    The flows stay on their edges, (draws, edge x year): the file's (origin, destination,
    year) matrices are mostly zeros, ten times larger (about 46 MB per 1,000 draws each
    as float32); :class:`ExpandedChunk` makes them when the file is written.
    """
    for name in plan.full:
        da = result[name]
        if flows.is_edges(da):
            values = da.transpose(cv.DRAW, ...).values.reshape(da.sizes[cv.DRAW], -1)
            yield name, values.astype(np.float32)
        elif cv.DRAW in da.dims:
            yield name, da.transpose(cv.DRAW, ...).values.astype(np.float32)
        elif start == 0:  # the same in every draw: kept once
            yield name, da.values.astype(np.float32)
    # each draw's sampled input factors, exact, for the user's own sensitivity analysis
    yield INPUT_FACTOR, reg.copy()


class ExpandedChunk(Mapping[str, np.ndarray]):
    """A kept chunk (:func:`_full_items`) with each variable as the file holds it.

    Flows kept on their edges come out as the (draws, origin, destination, year)
    matrices of the output, built when asked for (float32, like the edges); the other
    variables as they are. Chunks kept whole (matrices) pass through unchanged.
    """

    def __init__(self, chunk: Mapping[str, np.ndarray], layout: summarize.Layout):
        self.chunk, self.layout = chunk, layout

    def _on_edges(self, name: str, values: np.ndarray) -> bool:
        """Is ``values`` a matrix kept on its edges, (draws, kept positions)?"""
        kept = self.layout.kept(name) if name in self.layout.names else None
        return kept is not None and values.ndim == 2 and values.shape[1] == kept.size

    def __getitem__(self, name: str) -> np.ndarray:
        values = self.chunk[name]
        return self.layout.expand(name, values) if self._on_edges(name, values) else values

    def slabs(self, name: str) -> Iterator[tuple[int, np.ndarray]] | None:
        """A matrix kept on its edges a slab at a time along its first dim after the draws
        (:meth:`ndsim.summarize.Layout.expand_slabs`), or None for a variable kept as the
        file holds it: the flow matrices are written by origin node (one HDF5 chunk of
        draws each), never built whole."""
        values = self.chunk[name]
        return self.layout.expand_slabs(name, values) if self._on_edges(name, values) else None

    def __iter__(self) -> Iterator[str]:
        return iter(self.chunk)

    def __len__(self) -> int:
        return len(self.chunk)


def pilot_task(plan: Plan, start: int, stop: int) -> dict:
    """Ranges of draws [start, stop) for the histogram bins (:func:`ndsim.summarize.pilot_stats`)."""
    result, reg = _sampled_result(plan, start, stop)
    return summarize.pilot_stats(plan.layout.flatten(result, reg.shape[0]))


def design_task(plan: Plan, start: int, stop: int, groups) -> np.ndarray:
    """Targets of rows [start, stop) of the Saltelli design (executed where the chunk runs)."""
    rows = np.arange(start, stop)
    factors = sampling.saltelli_factor_arrays(plan.factor_plan, groups, rows, plan.seed)
    result = run_draws(plan.inputs, plan.scenario, factors, model=plan.model, fits=plan.fits)
    return target_values(plan, result, stop - start)


def target_values(plan: Plan, result: xr.Dataset, n: int) -> np.ndarray:
    """(n, T) values of the sensitivity targets in a run of n draws."""
    return plan.layout.columns(result, n, [i for _, i in plan.targets])


def worse(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Elementwise the residual of larger magnitude (order-independent up to exact ties)."""
    if a is None:
        return b
    if b is None:
        return a
    aa, bb = np.abs(np.nan_to_num(a, nan=-1.0)), np.abs(np.nan_to_num(b, nan=-1.0))
    return np.where(bb > aa, b, a)
