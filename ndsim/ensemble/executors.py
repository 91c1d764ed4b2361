"""Where chunks run: one protocol, three executors (this process, a local pool, dask.distributed).

The driver (:mod:`ndsim.ensemble.drive`) sees only :class:`Executor`:
submit a chunk, wait for its result, map a task over pieces (pilot, Saltelli
design), restart after a dead worker where that is possible, close. What a
chunk computes lives in :mod:`ndsim.ensemble.draws`; getting a worker
process ready in :mod:`ndsim.ensemble.workers`.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import time
import types
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ndsim.ensemble import workers
from ndsim.ensemble.draws import ChunkResult, chunk_task
from ndsim.ensemble.plan import Plan
from ndsim.errors import UsageError

__all__ = [
    "DistributedExecutor",
    "Executor",
    "InProcessExecutor",
    "PoolExecutor",
    "local_workers",
]

#: seconds between checks, while waiting for a chunk, that the local pool has a live worker
WAIT_POLL = 2.0
#: seconds a local pool may be without a live worker before the wait gives up
DEAD_POOL_GRACE = 10.0
#: seconds to connect to a ``--scheduler``
CONNECT_TIMEOUT = "20s"
#: seconds a stopped run lets the local pool's running chunks finish before ending them
#: (a worker ended while it writes its result leaves a partial message in the result pipe,
#: and the pool's manager thread, which the interpreter joins at exit, waits for the rest)
CLOSE_GRACE = 3.0


@runtime_checkable
class Executor(Protocol):
    """What runs chunk tasks, as the driver sees it."""

    #: worker processes (1 in this process)
    n_workers: int

    @property
    def window(self) -> int:
        """Chunks in flight at most (more than the workers keeps them busy)."""
        ...

    def set_hist(self, hist: Any) -> None:
        """Histogram bins every later chunk reduces into (None: exact percentiles)."""
        ...

    def set_keep(self, folder: str | None) -> None:
        """Where later chunks save their draws themselves (``--full``), if the workers
        share this machine's files; else (or None) the draws come back with the result."""
        ...

    def submit(self, start: int, stop: int) -> Any:
        """Start the chunk of draws [start, stop); a future."""
        ...

    def wait(self, future: Any) -> ChunkResult:
        """The chunk's result; raises, never waits forever, once no worker is alive."""
        ...

    def map(self, fn: Callable, args_list: Sequence[tuple]) -> list:
        """``fn(plan, *args)`` for every args, where the chunks run; results in order."""
        ...

    def restart(self) -> bool:
        """Fresh workers in place of a broken set; False where this executor cannot."""
        ...

    def close(self, failed: bool = False) -> None:
        """Stop the workers (at once, cancelling what runs, if ``failed``)."""
        ...


class _Done:
    """A future that is already resolved."""

    def __init__(self, value: Any):
        self.value = value

    def done(self) -> bool:
        return True

    def cancelled(self) -> bool:
        return False

    def exception(self) -> None:
        return None

    def result(self) -> Any:
        return self.value


class InProcessExecutor:
    """Runs chunk tasks one after the other in this process (futures resolve at once).

    Nothing about this process is changed: no malloc settings, no thread counts.
    """

    n_workers = 1

    def __init__(self, plan: Plan):
        self.plan = plan
        self.hist = None
        self.keep: str | None = None

    @property
    def window(self) -> int:
        return 1

    def set_hist(self, hist: Any) -> None:
        self.hist = hist

    def set_keep(self, folder: str | None) -> None:
        self.keep = folder

    def submit(self, start: int, stop: int) -> _Done:
        return _Done(chunk_task(self.plan, start, stop, self.hist, self.keep))

    def wait(self, future: Any) -> ChunkResult:
        return future.result()

    def map(self, fn: Callable, args_list: Sequence[tuple]) -> list:
        return [fn(self.plan, *args) for args in args_list]

    def restart(self) -> bool:
        return False

    def close(self, failed: bool = False) -> None:
        pass


class PoolExecutor:
    """Chunk tasks on a pool of local worker processes (the default on a multi-core machine).

    The workers are started by a fork server (``multiprocessing`` context
    ``forkserver``; ``spawn`` where there is none): a fresh single-threaded
    process that has imported :mod:`ndsim.pipeline` and loaded the compiled
    kernels a chunk runs (:mod:`ndsim.ensemble._forkserver_warm`) once, and
    forks each worker from there, kernels loaded. The parent,
    which may hold threads (the kernels' thread pool, BLAS, a dask client),
    is never forked, so a worker cannot inherit a lock held by a thread that
    does not exist in it. The fork server starts once per process (about
    0.4 s); a pool after that starts in a few tens of milliseconds. The
    plan is sent once to each worker (cloudpickle, about 0.4 MiB for the
    China data set); then nothing travels but each chunk's reduction on its
    way back. A worker tunes malloc, runs the kernels on one thread (or
    ``OMP_NUM_THREADS``; the processes are the parallel layer), loads them
    before its first chunk, ignores Ctrl-C (the parent keeps the finished
    work and ends them) and exits with the pool.
    """

    def __init__(self, plan: Plan, n_workers: int):
        import cloudpickle

        self.n_workers = n_workers
        self.payload = cloudpickle.dumps(plan)
        self.hist = None
        self.keep: str | None = None
        self.futures: list = []  # submitted, not yet known to be done
        self.pool = self._start()

    @property
    def window(self) -> int:
        return self.n_workers + 1

    @staticmethod
    def _context(start_server: bool = False):
        import multiprocessing as mp

        if "forkserver" not in mp.get_all_start_methods():  # pragma: no cover - Windows
            return mp.get_context("spawn")
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(
            ["ndsim.pipeline", "ndsim.ensemble.executors", "cloudpickle"]
            + ["ndsim.ensemble._forkserver_warm"]
        )
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

        return ProcessPoolExecutor(
            self.n_workers,
            mp_context=self._context(),
            initializer=_pool_init,
            initargs=(self.payload,),
        )

    def restart(self) -> bool:
        """A fresh pool in place of a broken one (a worker died)."""
        self.close(failed=True)
        self.pool = self._start()
        return True

    def _submit(self, fn: Callable, *args: Any):
        # a worker starts on demand, here; it must not run the user's main script again
        # (a script without an ``if __name__ == "__main__"`` guard would start the
        # ensemble once more in every worker): the plan it needs is in the payload
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            future = self.pool.submit(fn, *args)
            self.futures = [f for f in self.futures if not f.done()] + [future]
            return future
        finally:
            if main is not None:
                sys.modules["__main__"] = main

    def map(self, fn: Callable, args_list: Sequence[tuple]) -> list:
        futures = [self._submit(_pool_call, fn, *args) for args in args_list]
        return [self.wait(f) for f in futures]

    def set_hist(self, hist: Any) -> None:
        self.hist = hist

    def set_keep(self, folder: str | None) -> None:
        self.keep = folder

    def submit(self, start: int, stop: int):
        return self._submit(_pool_call, chunk_task, start, stop, self.hist, self.keep)

    def _processes(self) -> list:
        return list((getattr(self.pool, "_processes", None) or {}).values())

    def wait(self, future: Any) -> Any:
        """The future's result; raises, never waits forever, once no worker is alive."""
        from concurrent.futures import TimeoutError as FutureTimeout
        from concurrent.futures.process import BrokenProcessPool

        dead_since = None
        while True:
            try:
                result = future.result(timeout=WAIT_POLL)
            except FutureTimeout:
                pass
            else:  # a done future holds its result: only the caller keeps it now
                self.futures = [f for f in self.futures if f is not future]
                return result
            procs = self._processes()
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

    def close(self, failed: bool = False) -> None:
        if not failed:  # every chunk merged: the workers exit normally
            self.pool.shutdown(wait=True)
            return
        from concurrent.futures import wait

        procs = self._processes()
        self.pool.shutdown(wait=False, cancel_futures=True)
        running = [f for f in self.futures if not f.done()]
        if running and any(p.is_alive() for p in procs):  # whole results, then the end
            wait(running, timeout=CLOSE_GRACE)
        self.futures = []
        for proc in procs:  # a chunk still running when the run stops early
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(5)


_WORKER_PLAN: Plan | None = None


def _pool_init(payload: bytes) -> None:
    """Initializer of a local pool worker: signals, the plan, malloc, threads, kernels."""
    global _WORKER_PLAN
    import pickle

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _WORKER_PLAN = pickle.loads(payload)
    workers.prepare_started_worker()


def _pool_call(fn: Callable, *args: Any) -> Any:
    return fn(_WORKER_PLAN, *args)


class DistributedExecutor:
    """Chunk tasks on a dask.distributed cluster: a LocalCluster ndsim starts, or a scheduler's.

    A LocalCluster has ``workers`` single-threaded worker processes; they
    tune malloc and load the kernels before the first chunk. The workers of
    a ``scheduler`` are someone else's processes: their versions of ndsim,
    numba, numpy and the kernel sources must equal this process's (else a
    one-line refusal), their kernels run on their ``nthreads``, and nothing
    else about them is changed.
    """

    def __init__(
        self,
        plan: Plan,
        *,
        workers: int | None = None,
        scheduler: str | None = None,
        dashboard: bool = False,
    ):
        from distributed import Client

        self.cluster = None
        if scheduler is not None:
            self.client = _connect(scheduler)
            self._setup: Callable = _prepare_worker
        else:
            self.cluster, with_dashboard = _local_cluster(workers, dashboard)
            self.client = Client(self.cluster)
            if with_dashboard:
                print(f"dashboard: {self.cluster.dashboard_link}", file=sys.stderr)
            self._setup = _prepare_started_worker
        self.hist_future = None
        self.keep: str | None = None
        try:
            self.n_workers = max(
                1, len(self.client.scheduler_info().get("workers", {})) or (workers or 1)
            )
            self.client.run(self._setup)  # before the first chunk: threads sized, kernels loaded
            [self.plan_future] = self.client.scatter([plan], broadcast=True)
        except BaseException:
            self.close(failed=True)
            raise

    @property
    def window(self) -> int:
        return self.n_workers + 1

    def map(self, fn: Callable, args_list: Sequence[tuple]) -> list:
        futures = [
            self.client.submit(_dask_call, self._setup, fn, self.plan_future, *a, pure=False)
            for a in args_list
        ]
        return self.client.gather(futures)

    def set_hist(self, hist: Any) -> None:
        if hist is not None:
            [self.hist_future] = self.client.scatter([hist], broadcast=True)

    def set_keep(self, folder: str | None) -> None:
        # a scheduler's workers may run on other machines: their draws come back
        self.keep = folder if self.cluster is not None else None

    def submit(self, start: int, stop: int):
        return self.client.submit(
            _dask_call,
            self._setup,
            chunk_task,
            self.plan_future,
            start,
            stop,
            self.hist_future,
            self.keep,
            pure=False,
        )

    def wait(self, future: Any) -> ChunkResult:
        return future.result()

    def restart(self) -> bool:
        return False  # dask reschedules the tasks of a dead worker itself

    def close(self, failed: bool = False) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


#: set in a worker process once it is prepared (by client.run, or by its first task)
_PREPARED = False


def _prepare_worker(dask_worker: object | None = None) -> int:
    global _PREPARED
    _PREPARED = True
    return workers.prepare_worker(dask_worker)


def _prepare_started_worker(dask_worker: object | None = None) -> int:
    global _PREPARED
    _PREPARED = True
    return workers.prepare_started_worker(dask_worker)


def _dask_call(setup: Callable, fn: Callable, plan: Plan, *args: Any) -> Any:
    """``fn(plan, *args)`` on a dask worker, prepared once (a worker that joined late, too)."""
    if not _PREPARED:
        setup()
    return fn(plan, *args)


def _connect(scheduler: str):
    """A client of the scheduler, once its workers passed the version check."""
    from distributed import Client

    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        _refuse_other_versions(client, scheduler)
    except BaseException:
        client.close()
        raise
    return client


def _local_cluster(n_workers: int | None, dashboard: bool) -> tuple[Any, bool]:
    """A LocalCluster of single-threaded worker processes, and whether it has a dashboard."""
    from distributed import LocalCluster

    address = None
    if dashboard:
        try:
            import bokeh  # noqa: F401
        except ImportError:
            print(
                'ndsim: --dashboard needs bokeh (pip install "ndsim[cluster]"); running '
                "without the dashboard",
                file=sys.stderr,
            )
        else:
            address = ":0"  # a free port
    cache = os.environ.get("NUMBA_CACHE_DIR")
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=address,
        # the workers' own log lines (e.g. "task cancelled" when a run is
        # interrupted) would follow ndsim's one-line messages: errors only
        silence_logs=logging.ERROR,
        env={"NUMBA_CACHE_DIR": cache} if cache else None,
    )
    return cluster, address is not None


def _refuse_other_versions(client: Any, scheduler: str) -> None:
    """A one-line usage error if a worker's versions or kernel sources differ from ours."""
    mine = workers.versions()
    try:
        theirs = client.run(workers.worker_versions)
    except Exception as exc:  # e.g. a worker whose ndsim lacks the function
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise UsageError(
            f"--scheduler {scheduler}: the workers cannot report their versions ({reason}); "
            "install the same ndsim, numba and numpy on every worker"
        ) from None
    problem = workers.version_mismatch(mine, theirs)
    if problem:
        raise UsageError(
            f"--scheduler {scheduler}: {problem}; install the same ndsim, numba and numpy "
            "on every worker"
        )


def local_workers(remaining: int, k: int) -> int:
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
