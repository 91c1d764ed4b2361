"""The ensemble from start to end: plan, drive, assemble (and write).

:func:`ensemble_from_inputs` reads like the run it makes: the deterministic
run and the :class:`~ndsim.ensemble.plan.Plan` built on it, the sidecar of
kept work, an executor, the drive over chunks (after the pilot that places
the histogram bins), the Sobol design, then the summary Dataset and its file.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim import sampling, summarize
from ndsim.ensemble import checkpoint, drive, executors, sensitivity
from ndsim.ensemble.draws import ExpandedChunk, run_draws
from ndsim.ensemble.plan import (
    DEFAULT_CHUNK,
    DERIVED,
    INPUT_FACTOR,
    INPUT_FACTOR_ATTRS,
    Plan,
    check_options,
    check_sobol,
    make_plan,
    summary_variables,
)
from ndsim.errors import UsageError

if TYPE_CHECKING:
    from ndsim.io.writers import DrawsWriter
    from ndsim.scenario import Scenario

__all__ = ["ensemble_from_inputs", "run_ensemble"]


def run_ensemble(
    scenario: str | Path | None = None,
    *,
    draws: int = 1000,
    chunk_size: int | None = None,
    seed: int = 0,
    data: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    dashboard: bool = False,
    output: str | Path | None = None,
    full: bool = False,
    codec: str = "zlib",
    resume: bool = False,
    progress: bool | None = None,
    exact_budget: int = summarize.EXACT_BUDGET,
    sobol: int | None = None,
) -> xr.Dataset:
    """Run a Monte Carlo ensemble of a scenario and summarise it over draws.

    Parameters
    ----------
    scenario : str or Path, optional
        Scenario file or shipped scenario name (default ``baseline``).
    draws : int
        Number of draws N [-].
    chunk_size : int, optional
        Draws per chunk (task) [-]; default ``min(N, DEFAULT_CHUNK)`` (1000). Changes neither
        per-draw values nor summaries, only memory and scheduling.
    seed : int
        Seed [-], in [0, 2**64).
    data : str or Path, optional
        Data-set folder overriding the scenario's.
    workers : int, optional
        Start a local dask.distributed cluster with this many worker processes.
        Default: a local process pool with one worker per core (see
        :mod:`ndsim.ensemble`).
    scheduler : str, optional
        Address of an existing dask.distributed scheduler (``tcp://host:port``); its
        workers must have the same ndsim, numba and numpy versions and kernel sources.
    dashboard : bool
        With ``workers``: serve the LocalCluster's dask dashboard and print its link
        (needs bokeh).
    output : str or Path, optional
        NetCDF file to write (atomically); also enables the resume sidecar.
    full : bool
        Also write every draw (group ``draws`` of the output file), float32.
    codec : {"zlib", "zstd"}
        With ``full``: the compression of the draws (:data:`ndsim.io.writers.CODECS`).
        zlib is read everywhere; zstd compresses about six times faster (with zlib, the
        writing thread bounds ``--full``) into files about a quarter larger, and its
        readers need the HDF5 zstd filter plugin.
    resume : bool
        Continue an interrupted run from ``OUTPUT.partial/``.
    progress : bool, optional
        Progress bar on stderr; default on unless ``NDSIM_NO_PROGRESS=1``.
    exact_budget : int
        Memory for exact percentiles [bytes]; above it, histograms.
    sobol : int, optional
        Also estimate first-order and total Sobol indices of the sensitivity
        targets from a Saltelli design of this many base samples: N (k + 2)
        more model runs, k the number of sampled series
        (:func:`ndsim.sampling.saltelli_factors`, :func:`ndsim.summarize.sobol_indices`).

    Returns
    -------
    xarray.Dataset
        Contract variables on the ``stat`` coordinate (deterministic, mean,
        sd, q025, q25, q50, q75, q975), ``stock_total`` and
        ``outflow_total`` likewise, ``balance_residual`` (worst over draws),
        ``sensitivity`` and ``sensitivity_src`` (input, target),
        ``sensitivity_r2`` (target), with ``sobol`` also ``sobol_first`` and
        ``sobol_total`` (input, target); global attrs record seed, draws,
        chunk size and the percentile method.

    Examples
    --------
    >>> import ndsim
    >>> ds = ndsim.run_ensemble("baseline", draws=1000, seed=1)  # doctest: +SKIP
    >>> ds.total_demand.sel(stat="q975", year=2050)  # doctest: +SKIP
    """
    from ndsim.inputs import prepare

    check_options(draws, chunk_size, seed, workers)
    check_codec(codec, full)
    inputs, sc = prepare(scenario, data=data)
    return ensemble_from_inputs(
        inputs,
        sc,
        draws=draws,
        chunk_size=chunk_size,
        seed=seed,
        workers=workers,
        scheduler=scheduler,
        dashboard=dashboard,
        output=output,
        full=full,
        codec=codec,
        resume=resume,
        progress=progress,
        exact_budget=exact_budget,
        sobol=sobol,
    )


def ensemble_from_inputs(
    inputs: xr.Dataset,
    scenario: Scenario,
    *,
    draws: int,
    chunk_size: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    dashboard: bool = False,
    output: str | Path | None = None,
    full: bool = False,
    codec: str = "zlib",
    resume: bool = False,
    progress: bool | None = None,
    exact_budget: int = summarize.EXACT_BUDGET,
    model: Callable | None = None,
    variables: Sequence[str] | None = None,
    sobol: int | None = None,
) -> xr.Dataset:
    """:func:`run_ensemble` on an already loaded input Dataset and Scenario.

    ``model`` replaces :func:`ndsim.pipeline.run` (tests); ``variables``
    restricts the summarised variables (default: every contract variable the
    run produces, plus ``stock_total`` and ``outflow_total``).
    """
    check_options(draws, chunk_size, seed, workers)
    check_sobol(sobol)
    n = int(draws)
    k = int(chunk_size) if chunk_size is not None else min(n, DEFAULT_CHUNK)
    target = Path(output) if output is not None else None
    if resume and target is None:
        raise UsageError("--resume needs --output FILE.nc (the run to continue)")
    if full and target is None:
        raise UsageError("--full needs --output FILE.nc (the draws are written there)")
    check_codec(codec, full)
    if dashboard and workers is None:
        raise UsageError("--dashboard needs --workers (the dashboard of the cluster ndsim starts)")
    if workers is None and scheduler is None and executors.local_workers(n, k) > 1:
        executors.PoolExecutor.warm_up()  # likely needed: it starts while the deterministic run computes

    det, plan = _plan(inputs, scenario, model, variables, seed, n, exact_budget, full)
    where = _Where(workers, scheduler, dashboard)
    # with --full, the draws are written while they compute (see DrawsWriter)
    start_writer = None
    if plan.full and target is not None:
        start_writer = functools.partial(_draws_writer, plan, det, target, n, k, codec)
    sidecar, done, writer = _run(plan, n, k, target, resume, sobol, progress, where, start_writer)
    try:
        out = _assemble(plan, det, done, n, k)
        if target is not None:
            _write(out, sidecar, target, n, k, writer)
    finally:
        if writer is not None:
            writer.discard()  # a no-op once the file is in place
    return out


def check_codec(codec: object, full: bool) -> None:
    """Refuse a codec of the draws that is unknown, unavailable or without ``--full``."""
    from ndsim.io import writers

    writers.check_codec(codec)
    if codec != "zlib" and not full:
        raise UsageError(f"--codec {codec} needs --full (it compresses the draws)")


@dataclass(frozen=True)
class _Where:
    """Where the chunks run (see :func:`_executor`)."""

    workers: int | None
    scheduler: str | None
    dashboard: bool


@dataclass
class _Done:
    """What the drive leaves for the summary: merged statistics and the Sobol indices."""

    stats: dict
    root: summarize.Node
    hist: summarize.HistSpec | None
    worst: np.ndarray | None
    indices: xr.Dataset | None


def _plan(
    inputs, scenario, model, variables, seed, n, exact_budget, full
) -> tuple[xr.Dataset, Plan]:
    """The deterministic run (with its totals) and the plan built on it."""
    chunk_model = model
    if model is None:
        from ndsim import pipeline

        model = pipeline.run
        # chunks summarise contract variables only: they skip the forecast's diagnostics,
        # keep the flows on their edges (the summaries carry only those) and read the
        # variables without labels (the deterministic run's label the summaries)
        chunk_model = functools.partial(
            pipeline.run, diagnostics=False, flow_form="edges", labels=False
        )
    shipped = chunk_model is not model
    # the ownership curves are fitted here, once (SPEC §5); every draw uses these fits
    det = run_draws(inputs, scenario, None, model=model, fits=None)
    names = list(variables) if variables is not None else summary_variables(det)
    lean = (*cv.CONTRACT_VARIABLES, *cv.RECONCILED_VARIABLES, *DERIVED)
    if any(v not in lean for v in names):
        chunk_model = model  # a diagnostic variable asked for by name
    plan = make_plan(
        inputs,
        scenario,
        det,
        seed=seed,
        draws=n,
        exact_budget=exact_budget,
        full=full,
        model=chunk_model,
        shipped=shipped,
        variables=names,
    )
    return det, plan


def _executor(plan: Plan, remaining: int, k: int, where: _Where) -> executors.Executor:
    if where.workers is not None or where.scheduler is not None:
        return executors.DistributedExecutor(
            plan, workers=where.workers, scheduler=where.scheduler, dashboard=where.dashboard
        )
    local = executors.local_workers(remaining, k)
    if local <= 1:
        return executors.InProcessExecutor(plan)
    return executors.PoolExecutor(plan, local)


def _run(
    plan, n, k, target, resume, sobol, progress, where, start_writer
) -> tuple[checkpoint.Sidecar | None, _Done, DrawsWriter | None]:
    """Drive every chunk (and the Sobol design); keep finished work if the run stops.

    ``start_writer(sidecar)`` starts the :class:`~ndsim.io.writers.DrawsWriter` of ``--full``.
    """
    manifest = checkpoint.manifest(
        plan.inputs,
        plan.scenario,
        seed=plan.seed,
        chunk_size=k,
        draws=n,
        full=bool(plan.full),
        variables=plan.layout.names,
    )
    sidecar, acc, worst = checkpoint.open_sidecar(target, manifest, resume)
    state = drive.Progress(acc, worst) if acc is not None else None
    executor = bar = draws = None
    failed = True
    previous = drive.install_sigterm()
    try:
        if start_writer is not None and sidecar is not None:
            draws = start_writer(sidecar)
            draws.ready(acc.next_draw if acc is not None else 0)  # the chunks kept before
        executor = _executor(plan, n - (acc.next_draw if acc is not None else 0), k, where)
        if state is None:  # histogram bins from the first draws, computed where chunks run
            hist = None if plan.exact else drive.pilot_hist(executor, n)
            width = len(plan.regressor_labels) + len(plan.targets)
            state = drive.Progress(summarize.Accumulator(n, plan.layout.size, width, hist=hist))
        executor.set_hist(state.acc.hist)
        if plan.full and sidecar is not None:  # workers on this machine keep their own draws
            executor.set_keep(str(sidecar.dir.resolve()))  # their working folder may differ
        bar = drive.progress_bar(n, state.acc.next_draw, progress)
        drive.drive(executor, n, k, state, sidecar, bar, draws)
        if sidecar is not None:  # every draw done: kept before the final write
            sidecar.save_state(state.acc, state.worst)
        stats, root = state.acc.result()
        if bar is not None:  # the draws are done: the bar stops before the Sobol design runs
            bar.close()
            bar = None
        indices = sensitivity.sobol_dataset(executor, plan, sobol, k) if sobol else None
        failed = False
    except BaseException as exc:
        if sidecar is not None and state is None and not resume:
            sidecar.remove()  # stopped before its first draw (e.g. a refused --scheduler)
        if sidecar is not None and state is not None:
            with contextlib.suppress(Exception):
                sidecar.save_state(state.acc, state.worst)
            checkpoint.report_kept(exc, state.acc.next_draw, n, k, sidecar)
        raise
    finally:
        drive.restore_sigterm(previous)
        if bar is not None:
            bar.close()
        if executor is not None:
            executor.close(failed)
        if failed and sidecar is not None:  # the workers are gone: no chunk is being saved
            sidecar.remove_unfinished()
        if failed and draws is not None:
            draws.discard()
    return sidecar, _Done(stats, root, state.acc.hist, state.worst, indices), draws


def _assemble(plan: Plan, det: xr.Dataset, done: _Done, n: int, k: int) -> xr.Dataset:
    """The summary Dataset: statistics over draws, worst residual, sensitivity, provenance."""
    layout = plan.layout
    det_flat = layout.flatten(det, 1)[0]
    out = summarize.summary_dataset(layout, done.stats, det_flat, hist=done.hist)
    if done.worst is not None:
        out["balance_residual"] = xr.DataArray(
            done.worst,
            dims=(cv.PROCESS, cv.YEAR),
            coords={cv.PROCESS: det[cv.PROCESS].values, cv.YEAR: det[cv.YEAR].values},
            attrs=cv.attrs("balance_residual"),
        )
    out = out.merge(sensitivity.sensitivity_dataset(done.root, plan.regressor_labels, plan.targets))
    if done.indices is not None:
        out = out.merge(done.indices)
    percentiles = (
        "exact (numpy.quantile, linear)"
        if plan.exact
        else f"from integer-count histograms of {summarize.HIST_BINS} bins "
        "(resolution per variable in attribute percentile_resolution)"
    )
    out.attrs = {
        **det.attrs,
        "title": str(det.attrs.get("title", "ndsim results")).replace("results", "ensemble", 1),
        "seed": plan.seed,
        "draws": n,
        "chunk_size": k,
        "ensemble_summary": "mean and sd (ddof 1) from fixed leaves of "
        f"{summarize.LEAF} draws merged in a fixed binary tree; percentiles {percentiles}",
        "sampled_inputs": ", ".join(sampling.uncertain_inputs(plan.inputs, plan.scenario)),
    }
    return out


#: the description of the group of every draw in a --full file
DRAWS_DESCRIPTION = (
    "every draw of the ensemble (float32, after the float64 mass-balance check); "
    "scenario-independent variables are not repeated per supply scenario"
)


def _draws_writer(
    plan: Plan,
    det: xr.Dataset,
    target: Path,
    n: int,
    k: int,
    codec: str,
    sidecar: checkpoint.Sidecar,
) -> DrawsWriter:
    """The writer of the group ``draws`` (--full), reading each chunk back from the sidecar."""
    from ndsim.io.writers import DrawsGroup, DrawsWriter

    # the sampled factors travel with the draws
    factor = xr.DataArray(
        np.ones(len(plan.regressor_labels)),
        dims="input",
        coords={"input": np.array(plan.regressor_labels, dtype=str)},
        attrs=INPUT_FACTOR_ATTRS,
    )
    group = DrawsGroup(
        template=det.assign({INPUT_FACTOR: factor}),
        names=[*plan.full, INPUT_FACTOR],
        n=n,
        chunks=(),
        exact=(INPUT_FACTOR,),
        description=DRAWS_DESCRIPTION,
        codec=codec,
    )

    def load(start: int):  # the flows kept on their edges come out as the file's matrices
        return ExpandedChunk(sidecar.load_chunk(start), plan.layout)

    return DrawsWriter(target, group, range(0, n, k), load)


def _write(out, sidecar, target: Path, n: int, k: int, writer: DrawsWriter | None) -> None:
    """The summary (root group) and, for --full, every draw (group ``draws``), atomically."""
    from ndsim.io.writers import write_netcdf

    try:
        write_netcdf(out, target, draws=writer)
    except BaseException as exc:  # e.g. a full disk: every draw is kept for --resume
        if sidecar is not None:
            checkpoint.report_kept(exc, n, n, k, sidecar)
        raise
    if sidecar is not None:
        sidecar.remove()
