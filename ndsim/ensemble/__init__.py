"""Monte Carlo ensembles of the whole model, chunked along ``draw``, on one machine or a cluster.

:func:`run_ensemble` draws the uncertain inputs (:mod:`ndsim.sampling`),
runs :func:`ndsim.pipeline.run` on one chunk of draws at a time (the
pipeline is vectorised over the leading ``draw`` dimension), reduces each
chunk where it ran (:mod:`ndsim.summarize`) and merges the reductions in
draw order. The ensemble is never held in memory at once.

What is computed is kept apart from how it runs:

- :mod:`~ndsim.ensemble.plan`: options, summarised variables, sensitivity
  targets and the :class:`~ndsim.ensemble.plan.Plan` every chunk task gets;
- :mod:`~ndsim.ensemble.draws`: :func:`~ndsim.ensemble.draws.run_draws`, the one
  function that runs the model on draws (deterministic run, chunks, pilot,
  Saltelli design), and the tasks built on it;
- :mod:`~ndsim.ensemble.executors`: where the chunks run, behind one protocol,
  :class:`~ndsim.ensemble.executors.Executor` (this process, a local pool,
  dask.distributed); :mod:`~ndsim.ensemble.workers` gets their processes ready;
- :mod:`~ndsim.ensemble.drive`: chunks in flight, merged in draw order;
- :mod:`~ndsim.ensemble.checkpoint`: finished work kept, and resumed;
- :mod:`~ndsim.ensemble.sensitivity`: SRC, Sobol indices and the text tables;
- :mod:`~ndsim.ensemble.core`: plan, drive, assemble; the file is written by
  :func:`ndsim.io.writers.write_netcdf` (its ``draws`` group for ``--full``).

Parallel layer: one layer, across chunks; the numba kernels inside the
pipeline are serial (no ``parallel=True``). By default the chunks run on a
local pool of worker processes, one per core (``NDSIM_WORKERS`` overrides
the count; 1, or a single chunk, runs in this process). The workers are
forked from a fork server (a fresh single-threaded process that imported
ndsim and loaded the compiled kernels once, started while the deterministic
run computes), never from this process, which may hold threads; the plan is
sent once to each worker and only each chunk's reduction (moments of its
leaves, merged where the fixed tree merges them; integer histogram counts,
one byte per bin over each value's occupied bins: 9-10 MiB per 1,000 draws of
the China case) travels back; with ``full``, a chunk that runs on this machine writes
its draws into the run's folder itself. Measured on 2
cores: about 0.7 s for the first pool of a process, 0.03 s for a later one;
a 1000-draw run of the China model takes about 0.6 s longer (4.1 s) than
with workers forked from this process, the price of never forking a
process that holds threads. dask.distributed, by contrast, costs seconds and
a few hundred MiB per worker to start, which pays only across machines.
``workers=W`` starts a local dask.distributed cluster with W single-threaded
worker processes and ``scheduler=ADDRESS`` connects to an existing one (a
cluster), whose workers must run the same ndsim, numba and numpy and the same
kernel sources. Whatever runs the chunks, at most workers + 1 chunks are in
flight and results are merged strictly in draw order, so memory does not
grow with N: the caller holds the merged reduction (a log-depth stack of
leaf moments, histogram counts of the values that vary, the sensitivity
co-moments), never the draws. The default chunk of
:data:`~ndsim.ensemble.plan.DEFAULT_CHUNK` draws keeps a worker's peak near
0.55 GiB: a chunk reduces its values a variable at a time, without a
(draws, values) matrix.

Reproducibility: draw d's inputs depend only on (seed, d), the pipeline is
deterministic, every draw uses the ownership fits of the deterministic run,
and the summaries are computed by fixed leaves and a fixed merge tree, so
per-draw values and summaries are bit-identical whatever the chunk size, the
number of workers or the scheduler.

Interruptions: with an output file, finished work is kept in the sidecar
folder ``OUT.nc.partial/`` (:mod:`~ndsim.ensemble.checkpoint`); ``resume=True``
continues from it and gives the result of an uninterrupted run bit for bit.
"""

from __future__ import annotations

from ndsim.ensemble.core import ensemble_from_inputs, run_ensemble
from ndsim.ensemble.plan import DEFAULT_CHUNK
from ndsim.ensemble.sensitivity import sensitivity_table, uncertainty_table

__all__ = [
    "DEFAULT_CHUNK",
    "ensemble_from_inputs",
    "run_ensemble",
    "sensitivity_table",
    "uncertainty_table",
]
