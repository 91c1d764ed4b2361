"""Getting a process ready to run chunks: memory reuse, kernel threads, compiled kernels, versions.

Which process gets what:

- the caller (chunks run in-process): nothing is changed;
- a worker of the local pool: malloc tuned, no huge-page advice, kernel threads from
  ``OMP_NUM_THREADS`` (else 1), kernels loaded before the first chunk;
- a worker of a LocalCluster ndsim created: malloc tuned, no huge-page advice, kernel
  threads from its ``nthreads``, kernels loaded;
- a worker of a ``--scheduler`` cluster: kernel threads from its ``nthreads``,
  kernels loaded, malloc untouched; refused if its ndsim, numba or numpy
  version or its kernel sources differ from the caller's.

Kernel threads are the threads :mod:`ndsim.dsm` runs the numba kernels on
(``NDSIM_NUM_THREADS``); the kernels themselves are serial, so numba's own
thread pool is sized only where something else has started it.
"""

from __future__ import annotations

import os
import sys

__all__ = [
    "kernel_threads",
    "loaded_kernels",
    "no_hugepage_advice",
    "prepare_started_worker",
    "prepare_worker",
    "reuse_freed_memory",
    "size_kernel_threads",
    "version_mismatch",
    "versions",
    "warm_kernels",
    "worker_versions",
]

#: glibc malloc settings of the processes ndsim starts to run chunks (see
#: :func:`reuse_freed_memory`)
_MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts (HEAP_MAX_SIZE / 2 on 64-bit)
_TRIM_THRESHOLD = 2**30
_MALLOC_SET = False


def reuse_freed_memory() -> bool:
    """Let glibc keep freed arrays up to 32 MiB for reuse in this process.

    A chunk allocates and frees arrays of a few MiB hundreds of times. By
    default glibc serves each from fresh ``mmap`` pages and unmaps them on
    free, so every array is paid again in page faults: measured on 2 cores,
    about a third of a chunk's time per draw (0.41 -> 0.27-0.29 ms per draw
    of the China model). With ``M_MMAP_THRESHOLD`` at 32 MiB and
    ``M_TRIM_THRESHOLD`` at 1 GiB freed memory stays in the heap and is
    reused; the peak does not change, the process just keeps it until it
    exits. Called only in processes ndsim started (the local pool's workers,
    the workers of a LocalCluster ndsim created), never in the caller's
    process or in a worker of someone else's cluster.

    Returns
    -------
    bool
        True once the settings are in place (False off glibc).
    """
    global _MALLOC_SET
    if _MALLOC_SET or not sys.platform.startswith("linux"):
        return _MALLOC_SET
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, _MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, _TRIM_THRESHOLD)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc (e.g. musl): keep its defaults
        return False
    _MALLOC_SET = True
    return True


def no_hugepage_advice() -> bool:
    """Stop numpy advising the kernel to back this process's large arrays with huge pages.

    Where transparent huge pages are on ``madvise`` (a common default), numpy asks
    for them on every array of 4 MiB or more, and the kernel may compact memory in
    the page fault of the first touch: on 2 cores that made the first chunks of a
    process several times slower in system time, with no gain once memory is
    reused (:data:`ndsim.cli.HUGEPAGE_ADVICE`). A process started by the ``ndsim``
    command has it off already through ``NUMPY_MADVISE_HUGEPAGE``; this call
    does the same in the workers of a Python caller's ensemble. Called only in
    processes ndsim started; a ``NUMPY_MADVISE_HUGEPAGE`` the user set is left as is.

    Returns
    -------
    bool
        True if the advice was switched off here.
    """
    if os.environ.get("NUMPY_MADVISE_HUGEPAGE") is not None:
        return False
    try:
        from numpy._core import multiarray  # numpy's own switch for the variable

        multiarray._set_madvise_hugepage(False)  # type: ignore[attr-defined]
    except (ImportError, AttributeError):  # a numpy without it: its default stays
        return False
    return True


def kernel_threads(dask_worker: object | None = None) -> int:
    """Threads for the kernels of this process [-]: never one per core per worker.

    A dask worker's ``nthreads`` (the tasks it runs at once share that many
    kernel threads); elsewhere ``OMP_NUM_THREADS`` if set, else 1 (the
    local pool's processes are the parallel layer).
    """
    worker = dask_worker if dask_worker is not None else _current_dask_worker()
    if worker is not None:
        return max(1, int(worker.state.nthreads))  # type: ignore[attr-defined]
    env = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, int(env)) if env.strip().isdigit() else 1


def _current_dask_worker() -> object | None:
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker

    try:
        return get_worker()
    except ValueError:  # not in a task or client.run of a worker
        return None


def size_kernel_threads(n: int) -> int:
    """Run the kernels of this process on ``n`` threads (``NDSIM_NUM_THREADS``); returns n.

    numba's own thread pool (unused by the serial kernels) is resized too
    when it is already running, never started for this.
    """
    n = max(1, int(n))
    os.environ["NDSIM_NUM_THREADS"] = str(n)
    numba = sys.modules.get("numba")
    if numba is not None:
        from numba.np.ufunc import parallel

        if getattr(parallel, "_is_initialized", False):
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    return n


def warm_kernels() -> None:
    """Load the compiled kernels (numba's cache) with a run of three years and one product."""
    import numpy as np
    import xarray as xr

    from ndsim import dsm
    from ndsim.lifetime import Lifetime

    years = np.arange(3)
    inflow = xr.DataArray(np.ones(3), dims="year", coords={"year": years})
    out = dsm.inflow_driven(inflow, Lifetime("weibull", shape=2.0, scale=2.0))
    dsm.stock_driven(out["stock"], Lifetime("weibull", shape=2.0, scale=2.0))


def loaded_kernels(*_: object) -> list[str]:
    """The lifetime kernels this process has loaded (names, in module order).

    Takes and ignores any arguments, so a pool runs it as a task (a chunk task's
    first argument is the plan): what a worker has before its first chunk.
    """
    from ndsim.kernels import stock

    return [g.__name__ for g in stock._lazy_gufuncs() if g.built]


def versions() -> dict[str, str]:
    """The versions a chunk's result depends on: ndsim, numba, numpy and the kernel sources."""
    import numba
    import numpy

    from ndsim._version import __version__
    from ndsim.kernels._cache import source_stamp

    return {
        "ndsim": __version__,
        "numba": numba.__version__,
        "numpy": numpy.__version__,
        "kernel sources": source_stamp()[:12],
    }


def worker_versions() -> dict[str, str]:
    """:func:`versions`, as reported by a worker (run there with ``Client.run``)."""
    return versions()


def version_mismatch(mine: dict[str, str], theirs: dict[str, dict[str, str]]) -> str | None:
    """One line naming the first worker whose versions differ from ``mine``, or None."""
    for address in sorted(theirs):
        reported = theirs[address]
        differ = [k for k in mine if reported.get(k) != mine[k]]
        if differ:
            what = ", ".join(f"{k} {reported.get(k, '?')} (here {mine[k]})" for k in differ)
            more = len([a for a in theirs if a != address and theirs[a] != mine])
            others = f"; and {more} other worker(s)" if more else ""
            return f"worker {address} has {what}{others}"
    return None


def prepare_worker(dask_worker: object | None = None) -> int:
    """Any dask worker: kernel threads from its ``nthreads``, kernels loaded; returns the threads."""
    n = size_kernel_threads(kernel_threads(dask_worker))
    warm_kernels()
    return n


def prepare_started_worker(dask_worker: object | None = None) -> int:
    """A process ndsim started (local pool, LocalCluster): malloc tuned, no huge-page advice."""
    reuse_freed_memory()
    no_hugepage_advice()
    return prepare_worker(dask_worker)
