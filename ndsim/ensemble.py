"""Monte Carlo ensembles of the whole model, chunked along ``draw``, on one machine or a cluster.

:func:`run_ensemble` draws the uncertain inputs (:mod:`ndsim.sampling`),
runs :func:`ndsim.pipeline.run` on one chunk of draws at a time (the
pipeline is vectorised over the leading ``draw`` dimension), reduces each
chunk where it ran (:mod:`ndsim.summarize`) and merges the reductions in
draw order. The ensemble is never held in memory at once.

Parallel layer: one layer, across chunks; the numba kernels inside the
pipeline are serial (no ``parallel=True``). By default the chunks run on a
local pool of worker processes, one per core (``NDSIM_WORKERS`` overrides
the count; 1, or a single chunk, runs in this process). The workers are
forked from a fork server (a fresh single-threaded process that imported
ndsim and loaded the compiled kernels once, started while the deterministic
run computes), never from this process, which may hold threads; the context
is sent once to each worker and only each chunk's reduction (moments of its
leaves, integer histogram counts, a few MiB) travels back. Measured on 2
cores: about 0.7 s for the first pool of a process, 0.03 s for a later one;
a 1000-draw run of the China model takes about 0.6 s longer (4.1 s) than
with workers forked from this process, the price of never forking a
process that holds threads. dask.distributed, by
contrast, costs seconds and a few hundred MiB per worker to start, which
pays only across machines. ``workers=W`` starts a local
dask.distributed cluster with W single-threaded worker processes and
``scheduler=ADDRESS`` connects to an existing one (a cluster). Whatever
runs the chunks, at most workers + 1 chunks are in flight and results are
merged strictly in draw order, so memory does not grow with N: the parent
holds the merged reduction (a log-depth stack of leaf moments, histogram
counts of the values that vary, the sensitivity co-moments), never the
draws. The default chunk of :data:`DEFAULT_CHUNK` draws keeps a worker's
peak near 0.7 GiB.

Reproducibility: draw d's inputs depend only on (seed, d), the pipeline is
deterministic, and the summaries are computed by fixed leaves and a fixed
merge tree, so per-draw values and summaries are bit-identical whatever
the chunk size, the number of workers or the scheduler.

Interruptions: with an output file, finished work is kept in the sidecar
folder ``OUT.nc.partial/`` (the merged reduction, and with ``full=True`` the
per-draw values of every finished chunk). ``resume=True`` continues from
it, refusing if the scenario, data, seed, chunk size, draws or output mode
changed; the result equals an uninterrupted run bit for bit.

Fault injection for tests: ``NDSIM_FAULT_AFTER_CHUNK=k`` raises
``OSError(ENOSPC)`` after the k-th chunk (counting from 1) was merged and
kept, as a full disk would; with ``NDSIM_FAULT_SIGNAL=TERM`` the process
sends itself SIGTERM there instead.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import math
import os
import shutil
import signal
import sys
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim import sampling, summarize
from ndsim.errors import UsageError
from ndsim.io.writers import _attr_value as _attr

__all__ = ["run_ensemble", "ensemble_from_inputs", "uncertainty_table", "sensitivity_table"]

#: draws per chunk when the user does not say: a chunk's model run needs about 0.5 MiB
#: per draw at its peak; two workers with 1000-draw chunks peaked at 1.6 GiB in all
#: (summed PSS, parent included) while fixed costs per chunk (about 0.2 s of xarray
#: bookkeeping) stay below a third of the chunk's time
DEFAULT_CHUNK = 1000
#: seconds between checkpoints of the merged reduction to the sidecar
CHECKPOINT_SECONDS = 10.0
#: sidecar folder suffix
PARTIAL_SUFFIX = ".partial"
#: the draws group's variable of sampled input factors (draw, input), float64
INPUT_FACTOR = "input_factor"
INPUT_FACTOR_ATTRS = {
    "units": "1",
    "long_name": "sampled input factor",
    "description": "per draw, the factor drawn for each uncertain input series (its mean "
    "over years where it is drawn per year): the multiplier of the data's value (1 = "
    "unchanged), and for gompertz_z* the standard-normal deviate of the fitted "
    "ownership-curve parameters; the columns of the sensitivity regression (input = the "
    "input coordinate of the summary's sensitivity variables)",
}

#: draws per HDF5 chunk of the per-draw (``--full``) variables
FULL_DRAW_CHUNK = 1000
#: seconds between checks, while waiting for a chunk, that the local pool has a live worker
WAIT_POLL = 2.0
#: seconds a local pool may be without a live worker before the wait gives up
DEAD_POOL_GRACE = 10.0

cv.register(
    cv.Variable(
        "stock_total",
        (cv.YEAR,),
        cv.STOCK_UNITS,
        "in-use stock, all products",
        "in-use stock summed over products (per draw, before summarising)",
    )
)
cv.register(
    cv.Variable(
        "outflow_total",
        (cv.YEAR,),
        cv.FLOW_UNITS,
        "end-of-life flow, all products",
        "end-of-life outflow summed over products (per draw, before summarising)",
    )
)
cv.register(
    cv.Variable(
        "sensitivity",
        ("input", "target"),
        "1",
        "contribution to variance (squared standardised regression coefficient)",
        "SRC^2 of a linear regression of the target on the sampled input factors over the "
        "ensemble's draws: the share of the target's variance explained by the input",
    )
)
cv.register(
    cv.Variable(
        "sensitivity_src",
        ("input", "target"),
        "1",
        "standardised regression coefficient",
        "beta_i sd(x_i) / sd(y): change of the target, in its sd, per sd of input factor i",
    )
)

cv.register(
    cv.Variable(
        "sobol_first",
        ("input", "target"),
        "1",
        "first-order Sobol index",
        "share of the target's variance due to the input alone (Saltelli design)",
    )
)
cv.register(
    cv.Variable(
        "sobol_total",
        ("input", "target"),
        "1",
        "total Sobol index",
        "share of the target's variance due to the input with all its interactions "
        "(Saltelli design)",
    )
)

#: the variables summed over products per draw (uncertainty table, sensitivity targets)
DERIVED = {"stock_total": "stock", "outflow_total": "outflow"}


# --- what a chunk task needs and returns ------------------------------------------------


@dataclass
class _Context:
    """Everything a chunk task needs (sent once to each worker)."""

    inputs: xr.Dataset
    scenario: object
    seed: int
    layout: summarize.Layout
    targets: list[tuple[str, int]]  # (variable, flat index) of the sensitivity targets
    regressor_labels: list[str]
    exact: bool
    full: list[str]  # variables written per draw
    model: Callable
    plan: list | None = None  # sampling.factor_plan of the inputs (computed once)


@dataclass
class _ChunkResult:
    partial: summarize.ChunkPartial
    worst_residual: np.ndarray | None
    full: dict[str, np.ndarray] | None


def _with_derived(result: xr.Dataset) -> xr.Dataset:
    for name, source in DERIVED.items():
        if source in result and name not in result:
            result[name] = result[source].sum(cv.PRODUCT, skipna=False)
            result[name].attrs = dict(cv.attrs(name))
    return result


def _chunk_values(ctx: _Context, start: int, stop: int):
    draws = np.arange(start, stop)
    factors = sampling.draw_factors(ctx.inputs, ctx.scenario, draws, ctx.seed, plan=ctx.plan)
    sampled = sampling.apply_factors(ctx.inputs, factors)
    result = _with_derived(ctx.model(sampled, ctx.scenario))
    n = stop - start
    values = ctx.layout.flatten(result, n)
    reg = sampling.regressors(factors)
    if list(reg.input.values) != ctx.regressor_labels:
        raise RuntimeError("sensitivity regressors differ between chunks")
    z = np.concatenate([reg.values.reshape(n, -1), values[:, [i for _, i in ctx.targets]]], axis=1)
    return result, values, z


#: glibc malloc settings of the processes that run chunks (see :func:`_reuse_freed_memory`)
_MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts (HEAP_MAX_SIZE / 2 on 64-bit)
_TRIM_THRESHOLD = 2**30
_MALLOC_SET = False


def _reuse_freed_memory() -> None:
    """Let glibc keep freed arrays up to 32 MiB for reuse in this process (no-op elsewhere).

    A chunk allocates and frees arrays of a few MiB hundreds of times. By
    default glibc serves each from fresh ``mmap`` pages and unmaps them on
    free, so every array is paid again in page faults: measured on 2 cores,
    about a third of a chunk's time per draw (0.41 -> 0.27-0.29 ms per draw
    of the China model). With ``M_MMAP_THRESHOLD`` at 32 MiB and
    ``M_TRIM_THRESHOLD`` at 1 GiB freed memory stays in the heap and is
    reused; the peak does not change, the process just keeps it until it
    exits. Called once in every worker process that runs chunks (the local
    pool's, dask.distributed's), never in the caller's own process.
    """
    global _MALLOC_SET
    if _MALLOC_SET or not sys.platform.startswith("linux"):
        return
    _MALLOC_SET = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, _MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, _TRIM_THRESHOLD)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc (e.g. musl): keep its defaults
        pass


def _in_worker_process() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None


def _run_chunk(ctx: _Context, start: int, stop: int, hist=None) -> _ChunkResult:
    """Run the model on draws [start, stop) and reduce them (executed where the chunk runs)."""
    if _in_worker_process():
        _reuse_freed_memory()
    result, values, z = _chunk_values(ctx, start, stop)
    partial = summarize.reduce_chunk(values, z, start, hist=hist, keep_values=ctx.exact)
    worst = None
    if "balance_residual" in result:
        worst = result["balance_residual"].transpose(cv.PROCESS, cv.YEAR).values.copy()
    full = None
    if ctx.full:
        full = {}
        for name in ctx.full:
            da = result[name]
            if cv.DRAW in da.dims:
                full[name] = da.transpose(cv.DRAW, ...).values.astype(np.float32)
            elif start == 0:  # the same in every draw: kept once
                full[name] = da.values.astype(np.float32)
        # each draw's sampled input factors, exact, for the user's own sensitivity analysis
        full[INPUT_FACTOR] = z[:, : len(ctx.regressor_labels)].copy()
    return _ChunkResult(partial, worst, full)


def _worse(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Elementwise the residual of larger magnitude (order-independent up to exact ties)."""
    if a is None:
        return b
    if b is None:
        return a
    aa, bb = np.abs(np.nan_to_num(a, nan=-1.0)), np.abs(np.nan_to_num(b, nan=-1.0))
    return np.where(bb > aa, b, a)


# --- executors -------------------------------------------------------------------------


class _LocalExecutor:
    """Runs chunk tasks one after the other in this process (futures resolve at once)."""

    n_workers = 1

    def __init__(self, ctx: _Context):
        self.ctx = ctx
        self.hist = None

    def call(self, fn, *args):
        return fn(self.ctx, *args)

    def call_many(self, fn, args_list):
        return [fn(self.ctx, *args) for args in args_list]

    def set_hist(self, hist) -> None:
        self.hist = hist

    def submit(self, start: int, stop: int):
        return _Done(_run_chunk(self.ctx, start, stop, self.hist))

    def close(self, failed: bool = False):
        pass


class _PoolExecutor:
    """Chunk tasks on a pool of local worker processes (the default on a multi-core machine).

    The workers are started by a fork server (``multiprocessing`` context
    ``forkserver``; ``spawn`` where there is none): a fresh single-threaded
    process that has imported :mod:`ndsim.pipeline` (and so loaded the
    compiled kernels) once, and forks each worker from there. The parent,
    which may hold threads (the kernels' thread pool, BLAS, a dask client),
    is never forked, so a worker cannot inherit a lock held by a thread that
    does not exist in it. The fork server starts once per process (about
    0.4 s); a pool after that starts in a few tens of milliseconds. The
    context is sent once to each worker (cloudpickle, about 0.4 MiB for the
    China data set); then nothing travels but each chunk's reduction on its
    way back. A worker runs the kernels on one thread (the processes are the
    parallel layer), ignores Ctrl-C (the parent keeps the finished work and
    ends them) and exits with the pool.
    """

    def __init__(self, ctx: _Context, n_workers: int):
        import cloudpickle

        self.n_workers = n_workers
        self.payload = cloudpickle.dumps(ctx)
        self.hist = None
        self.pool = self._start()

    @staticmethod
    def _context(start_server: bool = False):
        import multiprocessing as mp

        if "forkserver" not in mp.get_all_start_methods():  # pragma: no cover - Windows
            return mp.get_context("spawn")
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(["ndsim.pipeline", "ndsim.ensemble", "cloudpickle"])
        if start_server:
            from multiprocessing import forkserver

            forkserver.ensure_running()
        return context

    @classmethod
    def warm_up(cls) -> None:
        """Start the fork server now (it imports ndsim while this process computes)."""
        try:
            cls._context(start_server=True)
        except (OSError, ValueError):  # pragma: no cover - it starts with the pool instead
            pass

    def _start(self):
        from concurrent.futures import ProcessPoolExecutor

        context = self._context()
        return ProcessPoolExecutor(
            self.n_workers, mp_context=context, initializer=_pool_init, initargs=(self.payload,)
        )

    def restart(self) -> None:
        """A fresh pool in place of a broken one (a worker died)."""
        self.close(failed=True)
        self.pool = self._start()

    def _submit(self, fn, *args):
        # a worker starts on demand, here; it must not run the user's main script again
        # (a script without an ``if __name__ == "__main__"`` guard would start the
        # ensemble once more in every worker): the context it needs is in the payload
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            return self.pool.submit(fn, *args)
        finally:
            if main is not None:
                sys.modules["__main__"] = main

    def call(self, fn, *args):
        return self.wait(self._submit(_pool_call, fn, *args))

    def call_many(self, fn, args_list):
        futures = [self._submit(_pool_call, fn, *args) for args in args_list]
        return [self.wait(f) for f in futures]

    def set_hist(self, hist) -> None:
        self.hist = hist

    def submit(self, start: int, stop: int):
        return self._submit(_pool_chunk, start, stop, self.hist)

    def wait(self, future):
        """The future's result; raises, never waits forever, once no worker is alive."""
        from concurrent.futures import TimeoutError as FutureTimeout
        from concurrent.futures.process import BrokenProcessPool

        dead_since = None
        while True:
            try:
                return future.result(timeout=WAIT_POLL)
            except FutureTimeout:
                pass
            procs = list((getattr(self.pool, "_processes", None) or {}).values())
            if procs and not any(p.is_alive() for p in procs):
                dead_since = dead_since or time.monotonic()
                # the pool notices a dead worker at once; this is the guard if it does not
                if time.monotonic() - dead_since > DEAD_POOL_GRACE:
                    codes = sorted({p.exitcode for p in procs})
                    raise BrokenProcessPool(
                        f"every worker process of the pool has exited (exit codes {codes})"
                    )
            else:
                dead_since = None

    def close(self, failed: bool = False):
        if not failed:  # every chunk merged: the workers exit normally
            self.pool.shutdown(wait=True)
            return
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:  # a chunk still running when the run stops early
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(5)


_WORKER_CTX: _Context | None = None


def _pool_init(payload: bytes) -> None:
    global _WORKER_CTX
    import pickle

    os.environ["NDSIM_NUM_THREADS"] = "1"  # one kernel thread per process
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _WORKER_CTX = pickle.loads(payload)


def _pool_call(fn, *args):
    return fn(_WORKER_CTX, *args)


def _pool_chunk(start: int, stop: int, hist) -> _ChunkResult:
    return _run_chunk(_WORKER_CTX, start, stop, hist)


class _Done:
    def __init__(self, value):
        self.value = value

    def done(self) -> bool:
        return True

    def result(self):
        return self.value


class _DistributedExecutor:
    """Chunk tasks on a dask.distributed cluster (local or remote)."""

    def __init__(self, ctx: _Context, *, workers: int | None, scheduler: str | None):
        from distributed import Client, LocalCluster

        self.cluster = None
        if scheduler is not None:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        else:
            self.cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # the workers' own log lines (e.g. "task cancelled" when a run is
                # interrupted) would follow ndsim's one-line messages: errors only
                silence_logs=logging.ERROR,
                env={"NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", "")}
                if os.environ.get("NUMBA_CACHE_DIR")
                else None,
            )
            self.client = Client(self.cluster)
        self.n_workers = max(
            1, len(self.client.scheduler_info().get("workers", {})) or (workers or 1)
        )
        [self.ctx_future] = self.client.scatter([ctx], broadcast=True)
        self.hist_future = None

    def call(self, fn, *args):
        return self.client.submit(fn, self.ctx_future, *args, pure=False).result()

    def call_many(self, fn, args_list):
        futures = [self.client.submit(fn, self.ctx_future, *a, pure=False) for a in args_list]
        return self.client.gather(futures)

    def set_hist(self, hist) -> None:
        if hist is not None:
            [self.hist_future] = self.client.scatter([hist], broadcast=True)

    def submit(self, start: int, stop: int):
        return self.client.submit(
            _run_chunk, self.ctx_future, start, stop, self.hist_future, pure=False
        )

    def close(self, failed: bool = False):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# --- the sidecar of finished work ----------------------------------------------------------


class _Sidecar:
    """``OUT.nc.partial/``: manifest, checkpoint of the merged reduction, per-draw chunks."""

    def __init__(self, target: Path):
        self.dir = target.with_name(target.name + PARTIAL_SUFFIX)

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def start(self, manifest: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        _atomic_write_bytes(self.manifest_path, json.dumps(manifest, indent=1).encode())

    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())

    def save_state(self, acc: summarize.Accumulator, worst, extra: dict) -> None:
        st = acc.state()
        if worst is not None:
            st["worst_residual"] = worst
        st["extra"] = np.array(json.dumps(extra))
        tmp = self.dir / ".state.npz.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, **st)
        os.replace(tmp, self.dir / "state.npz")

    def load_state(self):
        path = self.dir / "state.npz"
        if not path.is_file():
            return None
        with np.load(path) as st:
            data = {k: st[k] for k in st.files}
        worst = data.pop("worst_residual", None)
        extra = json.loads(str(data.pop("extra")))
        return summarize.Accumulator.from_state(data), worst, extra

    def chunk_path(self, start: int) -> Path:
        return self.dir / f"draws_{start:012d}.npz"

    def save_chunk(self, start: int, full: dict[str, np.ndarray]) -> None:
        tmp = self.dir / f".draws_{start:012d}.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, **full)
        os.replace(tmp, self.chunk_path(start))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --- the ensemble ------------------------------------------------------------------------


def _check_options(draws, chunk_size, seed, workers) -> None:
    if not isinstance(draws, int | np.integer) or isinstance(draws, bool) or draws <= 0:
        raise UsageError(f"--draws {draws}: must be a positive whole number")
    if chunk_size is not None and (
        not isinstance(chunk_size, int | np.integer)
        or isinstance(chunk_size, bool)
        or chunk_size <= 0
    ):
        raise UsageError(f"--chunk-size {chunk_size}: must be a positive whole number")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or not 0 <= seed < 2**64:
        raise UsageError(f"--seed {seed}: must be a whole number in [0, 2**64)")
    if workers is not None and (not isinstance(workers, int | np.integer) or workers <= 0):
        raise UsageError(f"--workers {workers}: must be a positive whole number")


def run_ensemble(
    scenario: str | Path | None = None,
    *,
    draws: int = 1000,
    chunk_size: int | None = None,
    seed: int = 0,
    data: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    output: str | Path | None = None,
    full: bool = False,
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
        Default: a local process pool with one worker per core (see the module
        docstring).
    scheduler : str, optional
        Address of an existing dask.distributed scheduler (``tcp://host:port``).
    output : str or Path, optional
        NetCDF file to write (atomically); also enables the resume sidecar.
    full : bool
        Also write every draw (group ``draws`` of the output file), float32.
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
    >>> from ndsim.ensemble import run_ensemble
    >>> ds = run_ensemble("baseline", draws=1000, seed=1)  # doctest: +SKIP
    >>> ds.total_demand.sel(stat="q975", year=2050)  # doctest: +SKIP
    """
    from ndsim import api

    _check_options(draws, chunk_size, seed, workers)
    inputs, sc = api.prepare(scenario, data=data)
    return ensemble_from_inputs(
        inputs,
        sc,
        draws=draws,
        chunk_size=chunk_size,
        seed=seed,
        workers=workers,
        scheduler=scheduler,
        output=output,
        full=full,
        resume=resume,
        progress=progress,
        exact_budget=exact_budget,
        sobol=sobol,
    )


def ensemble_from_inputs(
    inputs: xr.Dataset,
    scenario,
    *,
    draws: int,
    chunk_size: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    output: str | Path | None = None,
    full: bool = False,
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
    _check_options(draws, chunk_size, seed, workers)
    if sobol is not None and (
        not isinstance(sobol, int | np.integer) or isinstance(sobol, bool) or sobol < 2
    ):
        raise UsageError(f"--sobol {sobol}: must be a whole number of base samples, at least 2")
    chunk_model = model
    if model is None:
        from ndsim import pipeline

        model = pipeline.run
        # chunks summarise contract variables only: they skip the forecast's diagnostics
        chunk_model = functools.partial(pipeline.run, diagnostics=False)
    n = int(draws)
    k = int(chunk_size) if chunk_size is not None else min(n, DEFAULT_CHUNK)
    target = Path(output) if output is not None else None
    if resume and target is None:
        raise UsageError("--resume needs --output FILE.nc (the run to continue)")
    if full and target is None:
        raise UsageError("--full needs --output FILE.nc (the draws are written there)")

    if workers is None and scheduler is None and _local_workers(n, k) > 1:
        _PoolExecutor.warm_up()  # likely needed: start it while the deterministic run computes
    det = _with_derived(model(inputs, scenario))
    # Gompertz curves are fitted once, on the deterministic run (SPEC §5); every chunk
    # gets those fits, so a draw does not depend on the other draws of its chunk
    inputs = _with_deterministic_fits(inputs, det)
    names = list(variables) if variables is not None else _summary_variables(det)
    keep = None
    if chunk_model is not model and "flow" in names:  # the shipped pipeline: known edges
        keep = {"flow": _flow_edge_columns(det["flow"])}
    layout = summarize.Layout.of(det, names, keep)
    det_flat = layout.flatten(det, 1)[0]
    targets = _targets(det, layout)
    reg_labels = list(
        sampling.regressors(sampling.draw_factors(inputs, scenario, [0], seed)).input.values
    )
    exact = n * layout.size * 8 <= exact_budget
    full_names = [v for v in names if v not in DERIVED] if full else []
    if any(v not in cv.CONTRACT_VARIABLES and v not in DERIVED for v in names):
        chunk_model = model  # a diagnostic variable asked for by name
    ctx = _Context(
        inputs,
        scenario,
        int(seed),
        layout,
        targets,
        reg_labels,
        exact,
        full_names,
        chunk_model,
        sampling.factor_plan(inputs, scenario),
    )

    manifest = {
        "ndsim_version": _version(),
        "scenario_sha256": getattr(scenario, "sha256", None) or "",
        "dataset_sha256": str(inputs.attrs.get("dataset_sha256", inputs.attrs.get("sha256", ""))),
        "seed": int(seed),
        "chunk_size": k,
        "draws": n,
        "full": bool(full),
        "variables": names,
    }
    sidecar = _Sidecar(target) if target is not None else None
    acc = worst = None
    if sidecar is not None:
        if resume:
            acc, worst = _resume(sidecar, manifest)
        elif sidecar.exists():
            raise UsageError(
                f"{sidecar.dir}: an interrupted run of this output is kept there; add --resume "
                "to continue it, or delete the folder to start again"
            )
        else:
            sidecar.start(manifest)

    executor = None
    failed = True
    bar = None
    box: dict = {"worst": worst}  # worst balance residual so far, shared with _drive
    previous = _install_sigterm()
    try:
        if workers is not None or scheduler is not None:
            executor = _DistributedExecutor(ctx, workers=workers, scheduler=scheduler)
        else:
            local = _local_workers(n - (acc.next_draw if acc is not None else 0), k)
            executor = _LocalExecutor(ctx) if local <= 1 else _PoolExecutor(ctx, local)
        if acc is None:
            # histogram bins from the first draws, computed where the chunks run
            hist = None if exact else _pilot_hist(executor, n)
            acc = summarize.Accumulator(n, layout.size, len(reg_labels) + len(targets), hist=hist)
        executor.set_hist(acc.hist)
        starts = list(range(acc.next_draw, n, k))
        bar = _progress(n, acc.next_draw, progress)
        box["worst"] = worst
        _drive(executor, starts, n, k, acc, box, sidecar, bar)
        worst = box["worst"]
        if sidecar is not None:  # every draw done: kept before the final write
            sidecar.save_state(acc, worst, {"draws_done": acc.next_draw})
        stats, root = acc.result()
        if bar is not None:  # the draws are done: the bar stops before the Sobol design runs
            bar.close()
            bar = None
        indices = _sobol(executor, ctx, sobol, k, progress) if sobol else None
        failed = False
    except BaseException as exc:
        if sidecar is not None and acc is not None:
            done = acc.next_draw
            with _suppress_all():
                sidecar.save_state(acc, box["worst"], {"draws_done": done})
            _report_kept(exc, done, n, k, sidecar)
        raise
    finally:
        _restore_sigterm(previous)
        if bar is not None:
            bar.close()
        if executor is not None:
            executor.close(failed)

    out = summarize.summary_dataset(layout, stats, det_flat, hist=acc.hist)
    if worst is not None:
        out["balance_residual"] = xr.DataArray(
            worst,
            dims=(cv.PROCESS, cv.YEAR),
            coords={cv.PROCESS: det[cv.PROCESS].values, cv.YEAR: det[cv.YEAR].values},
            attrs=cv.attrs("balance_residual"),
        )
    out = out.merge(_sensitivity_dataset(root, reg_labels, targets))
    if indices is not None:
        out = out.merge(indices)
    out.attrs = {
        **det.attrs,
        "title": str(det.attrs.get("title", "ndsim results")).replace("results", "ensemble", 1),
        "seed": int(seed),
        "draws": n,
        "chunk_size": k,
        "ensemble_summary": (
            "mean and sd (ddof 1) from fixed leaves of "
            f"{summarize.LEAF} draws merged in a fixed binary tree; percentiles "
            + (
                "exact (numpy.quantile, linear)"
                if exact
                else f"from integer-count histograms of {summarize.HIST_BINS} bins "
                "(resolution per variable in attribute percentile_resolution)"
            )
        ),
        "sampled_inputs": ", ".join(sampling.uncertain_inputs(inputs, scenario)),
    }
    if target is not None:
        if full_names:  # the sampled factors travel with the draws
            det = det.assign(
                {
                    INPUT_FACTOR: xr.DataArray(
                        np.ones(len(reg_labels)),
                        dims="input",
                        coords={"input": np.array(reg_labels, dtype=str)},
                        attrs=INPUT_FACTOR_ATTRS,
                    )
                }
            )
            full_names = [*full_names, INPUT_FACTOR]
        try:
            _write(out, target, sidecar, full_names, det, n, k)
        except BaseException as exc:  # e.g. a full disk: every draw is kept for --resume
            if sidecar is not None:
                _report_kept(exc, n, n, k, sidecar)
            raise
        if sidecar is not None:
            sidecar.remove()
    return out


def _report_kept(exc: BaseException, done: int, n: int, k: int, sidecar: _Sidecar) -> None:
    """Tell what the sidecar keeps (stderr) and mark the exception for the command line."""
    exc.ndsim_kept = (done, n, sidecar.dir)  # read by the command line
    what = f"{done} of {n} draws ({math.ceil(done / k) if done else 0} chunks)"
    if done == n:
        what = (
            f"all {n} draws (the merged summaries{', every draw' if _has_chunks(sidecar) else ''})"
        )
    print(f"ndsim: kept {what} in {sidecar.dir}", file=sys.stderr)


def _has_chunks(sidecar: _Sidecar) -> bool:
    return sidecar.chunk_path(0).is_file()


def _with_deterministic_fits(inputs: xr.Dataset, det: xr.Dataset) -> xr.Dataset:
    try:
        from ndsim.forecast import FIT_VARIABLES
    except ImportError:  # a build without the forecast
        return inputs
    fits = [v for v in FIT_VARIABLES if v in det.data_vars]
    if not fits:
        return inputs
    return inputs.assign({v: det[v].reset_coords(drop=True) for v in fits})


def _version() -> str:
    from ndsim._version import __version__

    return __version__


def _summary_variables(det: xr.Dataset) -> list[str]:
    names = [v for v in cv.CONTRACT_VARIABLES if v in det.data_vars and v != "balance_residual"]
    names += [v for v in cv.RECONCILED_VARIABLES if v in det.data_vars]
    return names + [v for v in DERIVED if v in det.data_vars]


def _flow_edge_columns(flow: xr.DataArray) -> np.ndarray:
    """Flat positions of ``flow`` (without draw) on the pipeline's edges; the rest is 0.

    The summaries then carry the 22 edges, not all 169 node pairs (their
    zeros are put back in the output).
    """
    from ndsim.pipeline import FLOW_EDGES

    dims = [d for d in flow.dims if d != cv.DRAW]
    mask = np.zeros([flow.sizes[d] for d in dims], dtype=bool)
    origins = [str(x) for x in flow[cv.ORIGIN].values]
    destinations = [str(x) for x in flow[cv.DESTINATION].values]
    for origin, destination in FLOW_EDGES:
        where = {cv.ORIGIN: origins.index(origin), cv.DESTINATION: destinations.index(destination)}
        mask[tuple(where.get(d, slice(None)) for d in dims)] = True
    values = flow.transpose(..., *dims).values.reshape(-1, mask.size)
    if np.any(values[:, ~mask.ravel()] != 0.0):
        raise RuntimeError("flow is nonzero outside pipeline.FLOW_EDGES")
    return np.flatnonzero(mask.ravel())


def _targets(det: xr.Dataset, layout: summarize.Layout) -> list[tuple[str, int]]:
    """Sensitivity targets: total demand in the last year, stock and end-of-life in the last accounted year."""
    last = int(det.attrs.get("last_accounted_year", int(det[cv.YEAR].max())))
    end = int(det[cv.YEAR].max())
    wanted = [("total_demand", end), ("stock_total", last), ("outflow_total", last)]
    out = []
    for name, year in wanted:
        if name in layout.names:
            i = layout.names.index(name)
            if layout.keep is not None and layout.keep[i] is not None:
                raise RuntimeError(f"sensitivity target {name} has left-out columns")
            pos = list(det[cv.YEAR].values).index(year)
            out.append((f"{name}[{year}]", layout.offsets[i] + pos))
    return out


def _local_workers(remaining: int, k: int) -> int:
    """Worker processes of the default local pool: one per core, at most one per chunk.

    ``NDSIM_WORKERS`` overrides the number of cores (1: run in this process).
    """
    env = os.environ.get("NDSIM_WORKERS")
    if env:
        cores = max(1, int(env))
    else:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not on Linux
            cores = os.cpu_count() or 1
    return max(1, min(cores, math.ceil(remaining / k)))


def _pilot_hist(executor, n: int) -> summarize.HistSpec:
    """Histogram bins from the first draws (the same for every chunking).

    The pilot's draws run in pieces on all workers at once (per-draw values
    do not depend on the pieces).
    """
    m = min(n, summarize.PILOT)
    step = math.ceil(m / max(1, executor.n_workers))
    step = min(step, DEFAULT_CHUNK)
    pieces = [(a, min(a + step, m)) for a in range(0, m, step)]
    stats = summarize.merge_pilot_stats(executor.call_many(_pilot_stats, pieces))
    return summarize.HistSpec.from_pilot_stats(stats)


def _pilot_stats(ctx: _Context, start: int, stop: int) -> dict:
    return summarize.pilot_stats(_chunk_values(ctx, start, stop)[1])


def _resume(sidecar: _Sidecar, manifest: dict):
    if not sidecar.exists():
        raise UsageError(f"--resume: nothing to resume, {sidecar.dir} does not exist")
    old = sidecar.manifest()
    labels = {
        "scenario_sha256": "the scenario file",
        "dataset_sha256": "the data set",
        "seed": "--seed",
        "chunk_size": "--chunk-size",
        "draws": "--draws",
        "full": "--full",
        "variables": "the summarised variables",
        "ndsim_version": "the ndsim version",
    }
    changed = [labels[key] for key in labels if old.get(key) != manifest.get(key)]
    if changed:
        raise UsageError(
            f"--resume: {', '.join(changed)} changed since the interrupted run kept in "
            f"{sidecar.dir}; rerun with the same options, or delete that folder to start again"
        )
    loaded = sidecar.load_state()
    if loaded is None:
        return None, None
    acc, worst, _ = loaded
    return acc, worst


def _drive(executor, starts, n, k, acc, box, sidecar, bar):
    """Submit chunks (a bounded window), merge their results in draw order, keep finished work.

    A worker process that dies breaks the local pool and fails every chunk
    in flight; those that had not finished run once more on a fresh pool.
    A second death stops the run (the finished chunks are kept).
    """
    from concurrent.futures.process import BrokenProcessPool

    fault = os.environ.get("NDSIM_FAULT_AFTER_CHUNK")
    fault_after = int(fault) if fault else None
    # chunks in flight: one more than the workers keeps them busy; locally one at a time
    window = executor.n_workers + (0 if isinstance(executor, _LocalExecutor) else 1)
    pending: dict[int, object] = {}
    queue = list(starts)
    merged = 0
    retried = False
    last_save = time.monotonic()
    while queue or pending:
        while queue and len(pending) < window:
            s = queue.pop(0)
            pending[s] = executor.submit(s, min(s + k, n))
        s = acc.next_draw
        future = pending.pop(s)
        try:  # results are merged strictly in draw order
            res = executor.wait(future) if hasattr(executor, "wait") else future.result()
        except BrokenProcessPool:
            if retried or not hasattr(executor, "restart"):
                raise
            # a worker died (e.g. the out-of-memory killer): every chunk of the pool fails
            # with it; the chunks not finished run once more on a fresh pool
            retried = True
            print(
                "ndsim: a worker process died; its chunks run again on a fresh pool",
                file=sys.stderr,
            )
            pending[s] = future
            finished = {
                t: f
                for t, f in pending.items()
                if f.done() and not f.cancelled() and f.exception() is None
            }
            executor.restart()
            pending = {
                t: finished.get(t) or executor.submit(t, min(t + k, n)) for t in sorted(pending)
            }
            continue
        if sidecar is not None and res.full is not None:
            sidecar.save_chunk(s, res.full)
        acc.add(res.partial)
        box["worst"] = _worse(box["worst"], res.worst_residual)
        merged += 1
        if bar is not None:
            bar.update(res.partial.stop - res.partial.start)
        now = time.monotonic()
        last_chunk = acc.next_draw >= n
        if (
            sidecar is not None
            and not last_chunk
            and (now - last_save >= CHECKPOINT_SECONDS or fault_after is not None)
        ):
            sidecar.save_state(acc, box["worst"], {"draws_done": acc.next_draw})
            last_save = now
        if fault_after is not None and merged == fault_after and not last_chunk:
            if os.environ.get("NDSIM_FAULT_SIGNAL") == "TERM":  # as if the user's kill arrived
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises KeyboardInterrupt here
            raise OSError(
                errno.ENOSPC, f"No space left on device (injected fault after chunk {merged})"
            )


def _progress(n: int, done: int, progress: bool | None):
    if progress is None:
        progress = os.environ.get("NDSIM_NO_PROGRESS", "") != "1"
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(
        total=n, initial=done, unit="draw", unit_scale=True, desc="ensemble", file=sys.stderr
    )


def _install_sigterm():
    """SIGTERM becomes KeyboardInterrupt, so finished work is kept as on Ctrl-C."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


def _restore_sigterm(previous) -> None:
    if previous is not None:
        try:
            signal.signal(signal.SIGTERM, previous)
        except ValueError:
            pass


class _suppress_all:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and not issubclass(exc[0], KeyboardInterrupt)


# --- sensitivity ---------------------------------------------------------------------------


def _target_values(ctx: _Context, result: xr.Dataset, n: int) -> np.ndarray:
    """(n, T) values of the sensitivity targets in a chunk's result."""
    out = np.empty((n, len(ctx.targets)))
    for j, (_, flat) in enumerate(ctx.targets):
        i = int(np.searchsorted(ctx.layout.offsets, flat, side="right")) - 1
        name, dims = ctx.layout.names[i], ctx.layout.dims[i]
        da = result[name]
        x = da.transpose(cv.DRAW, *dims).values if cv.DRAW in da.dims else da.values[None]
        out[:, j] = x.reshape(x.shape[0], -1)[:, flat - ctx.layout.offsets[i]]
    return out


def _sobol_chunk(ctx: _Context, start: int, stop: int, groups) -> np.ndarray:
    """Targets of rows [start, stop) of the Saltelli design (executed where the chunk runs)."""
    if _in_worker_process():
        _reuse_freed_memory()
    rows = np.arange(start, stop)
    factors = sampling.saltelli_factors(ctx.plan, groups, rows, ctx.seed)
    result = _with_derived(ctx.model(sampling.apply_factors(ctx.inputs, factors), ctx.scenario))
    return _target_values(ctx, result, stop - start)


def _sobol(executor, ctx: _Context, base: int, k: int, progress) -> xr.Dataset:
    """Sobol indices of the sensitivity targets from a Saltelli design of ``base`` samples."""
    groups = sampling.saltelli_groups(ctx.plan, ctx.scenario)
    if not groups or not ctx.targets:
        return xr.Dataset()
    rows = base * (len(groups) + 2)
    pieces = [(a, min(a + k, rows), groups) for a in range(0, rows, k)]
    print(
        f"Sobol indices: Saltelli design of {base} base samples x ({len(groups)} inputs + 2) "
        f"= {rows} model runs",
        file=sys.stderr,
    )
    y = np.concatenate(executor.call_many(_sobol_chunk, pieces))
    first, total = summarize.sobol_indices(y, len(groups))
    ci = summarize.sobol_bootstrap(y, len(groups), seed=ctx.seed)
    coords = {
        "input": np.array([g[2] for g in groups], dtype=str),
        "target": [t for t, _ in ctx.targets],
    }
    note = (
        f"Saltelli design, {base} base samples ({rows} model runs); estimators of "
        "Saltelli et al. (2010) doi:10.1016/j.cpc.2009.09.018"
    )
    bound = {"bound": ["q025", "q975"]}
    ci_note = "95 % percentile bootstrap over the base samples (200 resamples)"
    out = xr.Dataset(
        {
            "sobol_first": (
                ("input", "target"),
                first,
                {**cv.attrs("sobol_first"), "method": note},
            ),
            "sobol_total": (
                ("input", "target"),
                total,
                {**cv.attrs("sobol_total"), "method": note},
            ),
            "sobol_first_ci": (
                ("bound", "input", "target"),
                np.stack([ci["first_lo"], ci["first_hi"]]),
                {"units": "1", "long_name": "confidence interval of the first-order Sobol index",
                 "method": ci_note},
            ),
            "sobol_total_ci": (
                ("bound", "input", "target"),
                np.stack([ci["total_lo"], ci["total_hi"]]),
                {"units": "1", "long_name": "confidence interval of the total Sobol index",
                 "method": ci_note},
            ),
        },
        coords={**coords, **bound},
    )  # fmt: skip
    for line in summarize.sobol_warnings(first, total, ci, coords["input"], coords["target"], base):
        print(f"ndsim: warning: Sobol: {line}", file=sys.stderr)
    return out


def _sensitivity_dataset(root: summarize.Node, labels: list[str], targets) -> xr.Dataset:
    if not labels or not targets:
        return xr.Dataset()
    src, r2 = summarize.src_from_comoments(root.zc, len(labels), root.n)
    varying = int((np.diag(root.zc)[: len(labels)] > 0).sum())
    r2_adj, se = summarize.src_precision(r2, root.n, varying)
    coords = {"input": np.array(labels, dtype=str), "target": [t for t, _ in targets]}
    fit = {"regression_draws": int(root.n), "regression_inputs": varying}
    return xr.Dataset(
        {
            "sensitivity": (("input", "target"), src**2, cv.attrs("sensitivity")),
            "sensitivity_src": (("input", "target"), src, cv.attrs("sensitivity_src")),
            "sensitivity_r2": (
                ("target",),
                r2,
                {
                    "units": "1",
                    "long_name": "R2 of the linear regression",
                    "description": "share of the target's variance the linear model explains; "
                    "SRC^2 are meaningful where it is close to 1; NaN where the draws "
                    "are too few to fit the inputs (draws <= inputs + 1)",
                    **fit,
                },
            ),
            "sensitivity_r2_adjusted": (
                ("target",),
                r2_adj,
                {
                    "units": "1",
                    "long_name": "adjusted R2 of the linear regression",
                    "description": "1 - (1 - R2)(n - 1)/(n - p - 1): R2 less what p inputs "
                    "explain by chance in n draws",
                    **fit,
                },
            ),
            "sensitivity_src_se": (
                ("target",),
                se,
                {
                    "units": "1",
                    "long_name": "standard error of a standardised regression coefficient",
                    "description": "sqrt((1 - R2)/(n - p - 1)), for independently sampled inputs",
                    **fit,
                },
            ),
        },
        coords=coords,
    )


def sensitivity_table(ds: xr.Dataset, top: int = 8) -> str:
    """The inputs ranked by contribution to variance, per target (plain text)."""
    if "sensitivity" not in ds:
        return ""
    lines = ["what drives the uncertainty (share of variance, SRC^2)"]
    for t in ds["target"].values:
        r2 = float(ds["sensitivity_r2"].sel(target=t))
        if math.isnan(r2):
            n = int(ds["sensitivity_r2"].attrs.get("regression_draws", 0))
            p = int(ds["sensitivity_r2"].attrs.get("regression_inputs", 0))
            if n and n <= p + 1:
                lines.append(
                    f"  {t}: not identified: {n} draws of {p} varying inputs fit any target "
                    f"exactly; run more than {p + 1} draws ({10 * p} for stable ranks) or --sobol"
                )
            else:
                lines.append(f"  {t}: the same in every draw, no variance to explain")
            continue
        s = ds["sensitivity"].sel(target=t).fillna(0.0)
        order = np.argsort(-s.values, kind="stable")[:top]
        precision = ""
        if "sensitivity_r2_adjusted" in ds:
            adj = float(ds["sensitivity_r2_adjusted"].sel(target=t))
            se = float(ds["sensitivity_src_se"].sel(target=t))
            precision = f", adjusted {adj:.2f}; each SRC +/- {se:.3f} (1 se)"
        lines.append(f"  {t} (linear R2 {r2:.2f}{precision}):")
        for i in order:
            lines.append(f"    {str(ds['input'].values[i]):<32}{100 * float(s.values[i]):6.1f} %")
    if "sobol_first" in ds:
        has_ci = "sobol_first_ci" in ds
        lines.append(
            "Sobol indices (first order, total"
            + (", each with its 95 % bootstrap interval" if has_ci else "")
            + "), ranked by the total index"
        )
        for t in ds["target"].values:
            s1 = ds["sobol_first"].sel(target=t)
            st = ds["sobol_total"].sel(target=t)
            if bool(st.isnull().all()):
                continue
            lines.append(f"  {t}:")
            for i in np.argsort(-st.fillna(0.0).values, kind="stable")[:top]:
                name = str(ds["input"].values[i])
                row = f"    {name:<32}{float(s1.values[i]):7.3f}"
                if has_ci:
                    c1 = ds["sobol_first_ci"].sel(target=t).values[:, i]
                    row += f" [{c1[0]:6.3f}, {c1[1]:6.3f}]"
                row += f"{float(st.values[i]):7.3f}"
                if has_ci:
                    ct = ds["sobol_total_ci"].sel(target=t).values[:, i]
                    row += f" [{ct[0]:6.3f}, {ct[1]:6.3f}]"
                lines.append(row)
    return "\n".join(lines)


# --- the uncertainty table (SPEC §5) ---------------------------------------------------------


def uncertainty_table(ds: xr.Dataset) -> str:
    """Relative deviation of q025 and q975 from the deterministic run (SPEC §5).

    For total demand, in-use stock and end-of-life flow (summed over
    products): min over years of (q025 / deterministic - 1) and max over
    years of (q975 / deterministic - 1), for the retrospective years
    (first..last accounted) and the prospective ones (after).
    """
    first = int(ds.attrs.get("first_year", int(ds[cv.YEAR].min())))
    last = int(ds.attrs.get("last_accounted_year", int(ds[cv.YEAR].max())))
    periods = [("retrospective", first, last)]
    if int(ds[cv.YEAR].max()) > last:
        periods.append(("prospective", last + 1, int(ds[cv.YEAR].max())))
    rows = [
        ("total demand", "total_demand"),
        ("in-use stock", "stock_total"),
        ("end-of-life flow", "outflow_total"),
    ]
    head = f"{'uncertainty (q2.5, q97.5 vs deterministic)':<44}" + "".join(
        f"{f'{p} {a}-{b}':>26}" for p, a, b in periods
    )
    lines = [head, "-" * len(head)]
    for label, name in rows:
        if name not in ds:
            continue
        cells = ""
        for _, a, b in periods:
            sel = ds[name].sel({cv.YEAR: slice(a, b)})
            det = sel.sel(stat="deterministic")
            with np.errstate(divide="ignore", invalid="ignore"):
                lo = (sel.sel(stat="q025") / det - 1).where(det != 0)
                hi = (sel.sel(stat="q975") / det - 1).where(det != 0)
            lo_v, hi_v = float(lo.min()), float(hi.max())
            cells += f"{_pct(lo_v) + ' / ' + _pct(hi_v, plus=True):>26}"
        lines.append(f"{label:<44}" + cells)
    if "mining_unregistered" in ds and periods:
        t = int(periods[0][2])
        um = ds["mining_unregistered"].sel({cv.YEAR: t})
        text = f"unregistered mining {t}: {float(um.sel(stat='deterministic')):,.0f} t"
        if "mining_unregistered_sd" in ds:
            sd = float(ds["mining_unregistered_sd"].sel({cv.YEAR: t}).sel(stat="deterministic"))
            text += f" ± {sd:,.0f} (reconciled, posterior sd)"
        text += (
            f"; ensemble q2.5 to q97.5: {float(um.sel(stat='q025')):,.0f} to "
            f"{float(um.sel(stat='q975')):,.0f} t"
        )
        lines.append(text)
    sampled = str(ds.attrs.get("sampled_inputs", ""))
    if sampled:
        lines.append(f"sampled inputs (CV by quality flag or stated sd, SPEC §5): {sampled}")
    return "\n".join(lines)


def _pct(v: float, plus: bool = False) -> str:
    if math.isnan(v):
        return "-"
    return f"{100 * v:+.1f} %" if plus else f"{100 * v:.1f} %"


# --- writing --------------------------------------------------------------------------------


def _write(out: xr.Dataset, target: Path, sidecar, full_names, det, n, k) -> None:
    """Write the summary (root group) and, for --full, every draw (group ``draws``), atomically."""
    from ndsim.io.atomic import atomic_target
    from ndsim.io.writers import global_attrs

    if not full_names:
        from ndsim.io.writers import write_netcdf

        write_netcdf(out, target)
        return
    import netCDF4

    from ndsim.io.writers import cf_prepare

    summary = cf_prepare(out)
    summary.attrs = global_attrs(summary)
    for name in list(summary.variables):
        summary[name].attrs = {kk: _attr(v) for kk, v in summary[name].attrs.items()}
    enc = {
        v: {"zlib": True, "complevel": 4, "_FillValue": np.nan}
        for v in summary.data_vars
        if np.issubdtype(summary[v].dtype, np.floating)
    }
    with atomic_target(target) as tmp:
        summary.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=enc)
        with netCDF4.Dataset(tmp, "a") as nc:
            grp = nc.createGroup("draws")
            grp.setncattr(
                "description",
                "every draw of the ensemble (float32, after the float64 mass-balance check); "
                "scenario-independent variables are not repeated per supply scenario",
            )
            dims_sizes = {cv.DRAW: n}
            for name in full_names:
                for d in det[name].dims:
                    dims_sizes[d] = det.sizes[d]
            for d, size in dims_sizes.items():
                grp.createDimension(d, size)
                if d == cv.DRAW:
                    var = grp.createVariable(d, "i8", (d,))
                    var[:] = np.arange(n)
                    var.setncattr("standard_name", "realization")
                    var.setncattr("long_name", "Monte Carlo draw")
                elif d in det.coords and det[d].dtype.kind in "iuf":
                    var = grp.createVariable(d, det[d].dtype, (d,))
                    var[:] = det[d].values
                elif d in det.coords:
                    var = grp.createVariable(d, str, (d,))
                    var[:] = np.array([str(x) for x in det[d].values], dtype=object)
            with np.load(sidecar.chunk_path(0)) as first:
                per_draw = [v for v in full_names if first[v].ndim == det[v].ndim + 1]
                for name in full_names:
                    if name not in per_draw:  # the same in every draw: written once
                        var = grp.createVariable(name, "f4", det[name].dims, zlib=True)
                        var[:] = first[name]
                        for kk, v in det[name].attrs.items():
                            var.setncattr(kk, _attr(v))
            full_names = per_draw
            variables = {}
            for name in full_names:
                dims = (cv.DRAW, *det[name].dims)
                chunks = [min(n, FULL_DRAW_CHUNK)] + [
                    1 if d in (cv.PRODUCT, cv.ORIGIN, cv.SCENARIO) else det.sizes[d]
                    for d in det[name].dims
                ]
                exact = name == INPUT_FACTOR  # the factors as drawn (float64)
                var = grp.createVariable(
                    name,
                    "f8" if exact else "f4",
                    dims,
                    zlib=True,
                    complevel=1,
                    shuffle=True,
                    chunksizes=chunks,
                    fill_value=np.float64(np.nan) if exact else np.float32(np.nan),
                )
                for kk, v in (
                    cv.attrs(name).items() if name in cv.VARIABLES else det[name].attrs.items()
                ):
                    var.setncattr(kk, _attr(v))
                variables[name] = var
            # stream the kept chunks, in draw order, in whole HDF5 chunks where possible
            buffers: dict[str, list[np.ndarray]] = {v: [] for v in full_names}
            written = 0
            buffered = 0
            step = min(n, FULL_DRAW_CHUNK)
            for s in range(0, n, k):
                with np.load(sidecar.chunk_path(s)) as data:
                    for name in full_names:
                        buffers[name].append(data[name])
                buffered += min(s + k, n) - s
                if buffered >= step or s + k >= n:
                    take = buffered if s + k >= n else (buffered // step) * step
                    for name in full_names:
                        block = np.concatenate(buffers[name])
                        variables[name][written : written + take] = block[:take]
                        buffers[name] = [block[take:]] if take < block.shape[0] else []
                    written += take
                    buffered -= take


class _CallableModule(types.ModuleType):
    """``ndsim.ensemble(...)`` is the public API function; importing this module (which
    makes ``ndsim.ensemble`` the module) must not break it, so the module is callable too."""

    def __call__(self, scenario=None, **kwargs):
        return run_ensemble(scenario, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
