"""Driving the chunks: a bounded window in flight, results merged in draw order, work kept.

Whatever runs the chunks (an :class:`ndsim.ensemble.executors.Executor`),
at most ``executor.window`` chunks are in flight and results are merged
strictly in draw order, so memory does not grow with the number of draws:
the caller holds the merged reduction, never the draws.

Fault injection for tests: ``NDSIM_FAULT_AFTER_CHUNK=k`` raises
``OSError(ENOSPC)`` after the k-th chunk (counting from 1) was merged and
kept, as a full disk would; with ``NDSIM_FAULT_SIGNAL=TERM`` the process
sends itself SIGTERM there instead.
"""

from __future__ import annotations

import errno
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ndsim import summarize
from ndsim.ensemble import checkpoint
from ndsim.ensemble.draws import pilot_task, worse
from ndsim.ensemble.executors import Executor
from ndsim.ensemble.plan import DEFAULT_CHUNK

if TYPE_CHECKING:
    from ndsim.io.writers import DrawsWriter

__all__ = [
    "Progress",
    "drive",
    "install_sigterm",
    "pilot_hist",
    "progress_bar",
    "restore_sigterm",
]


@dataclass
class Progress:
    """What the drive has merged so far (kept on an interruption)."""

    acc: summarize.Accumulator
    worst: np.ndarray | None = None
    merged: int = field(default=0)


def pilot_hist(executor: Executor, n: int) -> summarize.HistSpec:
    """Histogram bins from the first draws (the same for every chunking).

    The pilot's draws run in pieces on all workers at once (per-draw values
    do not depend on the pieces). A worker process that dies breaks the local
    pool, as in :func:`drive`: the pilot runs once more on a fresh pool, and a
    second death stops the run.
    """
    from concurrent.futures.process import BrokenProcessPool

    m = min(n, summarize.PILOT)
    step = min(math.ceil(m / max(1, executor.n_workers)), DEFAULT_CHUNK)
    pieces = [(a, min(a + step, m)) for a in range(0, m, step)]
    try:
        parts = executor.map(pilot_task, pieces)
    except BrokenProcessPool:
        if not executor.restart():
            raise
        print("ndsim: a worker process died; the pilot runs again on a fresh pool", file=sys.stderr)
        parts = executor.map(pilot_task, pieces)
    return summarize.HistSpec.from_pilot_stats(summarize.merge_pilot_stats(parts))


def drive(
    executor: Executor,
    n: int,
    k: int,
    state: Progress,
    sidecar: checkpoint.Sidecar | None,
    bar: Any,
    draws: DrawsWriter | None = None,
) -> None:
    """Submit chunks (a bounded window), merge their results in draw order, keep finished work.

    A worker process that dies breaks the local pool and fails every chunk
    in flight; those that had not finished run once more on a fresh pool.
    A second death stops the run (the finished chunks are kept). ``draws``, a
    :class:`~ndsim.io.writers.DrawsWriter`, is told of every chunk kept.
    """
    from concurrent.futures.process import BrokenProcessPool

    fault = os.environ.get("NDSIM_FAULT_AFTER_CHUNK")
    fault_after = int(fault) if fault else None
    pending: dict[int, Any] = {}
    queue = list(range(state.acc.next_draw, n, k))
    retried = False
    last_save = time.monotonic()
    while queue or pending:
        while queue and len(pending) < executor.window:
            s = queue.pop(0)
            pending[s] = executor.submit(s, min(s + k, n))
        s = state.acc.next_draw
        future = pending.pop(s)
        try:  # results are merged strictly in draw order
            res = executor.wait(future)
        except BrokenProcessPool:
            if retried:
                raise
            # a worker died (e.g. the out-of-memory killer): every chunk of the pool fails
            # with it; the chunks not finished run once more on a fresh pool
            retried = True
            pending[s] = future
            finished = {
                t: f
                for t, f in pending.items()
                if f.done() and not f.cancelled() and f.exception() is None
            }
            if not executor.restart():
                raise
            print(
                "ndsim: a worker process died; its chunks run again on a fresh pool",
                file=sys.stderr,
            )
            pending = {
                t: finished.get(t) or executor.submit(t, min(t + k, n)) for t in sorted(pending)
            }
            continue
        if sidecar is not None and res.staged is not None:
            sidecar.keep_staged(s, res.staged)
        elif sidecar is not None and res.full is not None:
            sidecar.save_chunk(s, res.full)
        if draws is not None and (res.staged is not None or res.full is not None):
            draws.ready(res.partial.stop)
        state.acc.add(res.partial)
        state.worst = worse(state.worst, res.worst_residual)
        state.merged += 1
        if bar is not None:
            bar.update(res.partial.stop - res.partial.start)
        last_chunk = state.acc.next_draw >= n
        now = time.monotonic()
        due = now - last_save >= checkpoint.CHECKPOINT_SECONDS or fault_after is not None
        if sidecar is not None and not last_chunk and due:
            sidecar.save_state(state.acc, state.worst)
            last_save = now
        if fault_after is not None and state.merged == fault_after and not last_chunk:
            _inject_fault(state.merged)
        del future, res  # merged: its arrays go before the next chunk's arrive


def _inject_fault(merged: int) -> None:
    if os.environ.get("NDSIM_FAULT_SIGNAL") == "TERM":  # as if the user's kill arrived
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises KeyboardInterrupt here
    raise OSError(errno.ENOSPC, f"No space left on device (injected fault after chunk {merged})")


def progress_bar(n: int, done: int, progress: bool | None):
    """A tqdm bar on stderr, or None (``progress`` False, or ``NDSIM_NO_PROGRESS=1``)."""
    if progress is None:
        progress = os.environ.get("NDSIM_NO_PROGRESS", "") != "1"
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(
        total=n, initial=done, unit="draw", unit_scale=True, desc="ensemble", file=sys.stderr
    )


def install_sigterm():
    """SIGTERM becomes KeyboardInterrupt, so finished work is kept as on Ctrl-C.

    Returns the previous handler, for :func:`restore_sigterm`; None outside the
    main thread (signals cannot be handled there).
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:
        return None


def restore_sigterm(previous) -> None:
    """Put back the handler :func:`install_sigterm` replaced."""
    if previous is not None:
        try:
            signal.signal(signal.SIGTERM, previous)
        except ValueError:
            pass


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
