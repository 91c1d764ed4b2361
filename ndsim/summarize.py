"""Summaries over the ``draw`` dimension that do not depend on the chunking.

An ensemble is computed chunk by chunk and never held in memory at once;
its summaries (SPEC §5) must nevertheless be bit-identical whatever the
chunk size. This module does that with three order-independent devices:

- **Mean and sd from fixed leaves and a fixed merge tree.** The draws are
  cut into leaves of :data:`LEAF` consecutive draws (by draw number, not
  by chunk). Each leaf's mean and sum of squared deviations are computed by
  a sequential loop; leaves are merged with Chan et al.'s pairwise update in
  a binary tree fixed by the leaf index (a binary counter: leaf 2k and 2k+1
  merge, then their parents, ...). A chunk boundary inside a leaf hands the
  leaf's raw values on to the next chunk; whole leaves that are siblings in
  the tree are merged where the chunk ran (the same merges, in the same
  order, that the accumulator would make). So the arithmetic is the same for
  any chunk size.
- **Percentiles exact** when ``draws x values x 8 bytes`` fits the memory
  budget (the ensemble's summarised values are kept and ``numpy.quantile``
  is used, method "linear"), **otherwise from integer-count histograms**:
  :data:`HIST_BINS` equal bins per value over the range of a pilot (the first
  :data:`PILOT` draws, the same for every chunking) widened by
  :data:`PILOT_MARGIN` of that range on each side, plus an under- and an
  overflow bin and the exact minimum and maximum. Integer counts add up
  in any order. The error of a histogram percentile is below one bin width
  (stated per variable in the attribute ``percentile_resolution``), as long
  as the percentile falls inside the widened pilot range. Values constant in
  the pilot (structural zeros of the flow matrix, years a variable is not
  modelled) are not binned draw by draw: a chunk only checks that they kept
  their value (and bins them if not), which gives the same counts.
- min, max and counts are exact in any order.

The same fixed tree carries the co-moments of the sensitivity regressors
and targets, so the standardised regression coefficients
(:func:`src_from_comoments`) are chunk-independent too.

References
----------
Chan, T. F., Golub, G. H. and LeVeque, R. J. (1979). Updating formulae and a
pairwise algorithm for computing sample variances. Technical Report
STAN-CS-79-773, Stanford University.
Hyndman, R. J. and Fan, Y. (1996). Sample quantiles in statistical packages.
The American Statistician 50(4), 361-365. doi:10.1080/00031305.1996.10473566
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from numba import njit

from ndsim import conventions as cv
from ndsim import kernels as _kernels  # noqa: F401 - its cache locators before any njit

#: draws per leaf of the fixed merge tree
LEAF = 100
#: histogram bins per value (between the widened pilot bounds)
HIST_BINS = 1024
#: draws in the pilot that sets the histogram range
PILOT = 1000
#: widening of the pilot range on each side, as a fraction of that range
PILOT_MARGIN = 0.5
#: default memory budget for exact percentiles [bytes]
EXACT_BUDGET = 256 * 2**20
#: probabilities of the percentile stats
QUANTILES = {"q025": 0.025, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q975": 0.975}


# --- kernels -------------------------------------------------------------------------


@njit(cache=True)
def _leaf_moments(x, mean, m2):  # pragma: no cover - compiled
    """Mean and sum of squared deviations over rows of x (n, s), sequential in row order."""
    n, s = x.shape
    for j in range(s):
        mean[j] = 0.0
        m2[j] = 0.0
    for i in range(n):
        for j in range(s):
            mean[j] += x[i, j]
    for j in range(s):
        mean[j] /= n
    for i in range(n):
        for j in range(s):
            d = x[i, j] - mean[j]
            m2[j] += d * d


@njit(cache=True)
def _leaf_comoments(z, mean, c):  # pragma: no cover - compiled
    """Mean and co-moment matrix sum (z - mean)(z - mean)^T over rows of z (n, p).

    Sums the upper triangle in row order and mirrors it: d_j d_k and d_k d_j are the
    same float64 product, so the lower triangle is the one a full loop would sum.
    """
    n, p = z.shape
    for j in range(p):
        mean[j] = 0.0
        for k in range(p):
            c[j, k] = 0.0
    for i in range(n):
        for j in range(p):
            mean[j] += z[i, j]
    for j in range(p):
        mean[j] /= n
    d = np.empty(p)
    for i in range(n):
        for j in range(p):
            d[j] = z[i, j] - mean[j]
        for j in range(p):
            # row views from index 0: loops the compiler vectorises (no negative-index check)
            row, rest, dj = c[j, j:], d[j:], d[j]
            for k in range(p - j):
                row[k] += dj * rest[k]
    for j in range(p):
        for k in range(j):
            c[j, k] = c[k, j]


#: columns per tile of :func:`_reduce_block`: a tile's uint16 counts (about 0.26 MiB with
#: 1,026 bins) and a leaf of its values (0.1 MiB) stay in a core's L2 cache while every
#: statistic is taken; on the China case's blocks (1,000 draws x up to 1,122 columns)
#: 128 took 110 ms a chunk against 116 ms for 512 and 124 ms for whole blocks (fastest
#: of five, twice)
_TILE = 128


@njit(cache=True)
def _hist_add(x, cols, lo, inv_w, nbins, counts, nan_count):  # pragma: no cover - compiled
    """Add the values of columns ``cols`` of x (n, s) to integer counts (len(cols), nbins + 2),
    NaN to ``nan_count``; ``lo``, ``inv_w`` are indexed by position in ``cols``. The bins of
    :func:`_hist_tile`, over the columns from the first to the last of ``cols``."""
    if cols.shape[0] == 0:
        return
    j0, j1 = cols.min(), cols.max() + 1
    lo_t, inv_w_t = _by_column(cols, lo, inv_w, j0, j1 - j0)
    b = np.empty(j1 - j0, dtype=np.int64)
    _hist_tile(x, j0, j1, lo_t, inv_w_t, nbins, cols, counts, nan_count, b)


@njit(cache=True)
def _by_column(cols, lo, inv_w, j0, w):  # pragma: no cover - compiled
    """``lo``, ``inv_w`` (by position in ``cols``) laid out over the w columns from j0: 0
    and 0 for the columns not in ``cols``."""
    lo_t = np.zeros(w)
    inv_w_t = np.zeros(w)
    for q in range(cols.shape[0]):
        lo_t[cols[q] - j0] = lo[q]
        inv_w_t[cols[q] - j0] = inv_w[q]
    return lo_t, inv_w_t


@njit(cache=True)
def _hist_tile(x, j0, j1, lo, inv_w, nbins, cols, counts, nan_count, b):  # pragma: no cover
    """Add the values of the columns ``cols`` (in [j0, j1)) of x (n, s) to integer counts
    (len(cols), nbins + 2), NaN to ``nan_count``, a row of the tile [j0, j1) at a time:
    first the bin of each of its values (``lo``, ``inv_w`` of the tile's columns, any
    finite numbers for the columns not counted; ``b`` a buffer of j1 - j0), then the
    counts of ``cols``.

    With t = (v - lo) inv_w: bin 0 below the range (t < 0), nbins + 1 at or above its
    top (t >= nbins), int(t) + 1 between. Taken without a branch, so the loop over a row
    vectorises; t is NaN only where v is (lo and inv_w are finite).
    """
    n = x.shape[0]
    m = j1 - j0
    top = float(nbins)
    nan_bin = nbins + 2
    for i in range(n):
        row = x[i, j0:j1]
        for j in range(m):
            t = (row[j] - lo[j]) * inv_w[j]
            tc = t if t < top else top  # (in [0, nbins]: a defined conversion)
            tc = tc if tc >= 0.0 else 0.0
            k = int(tc) + 1
            k = 0 if t < 0.0 else k
            b[j] = nan_bin if t != t else k
        for jj in range(cols.shape[0]):
            k = b[cols[jj] - j0]
            if k == nan_bin:
                nan_count[jj] += 1
            else:
                counts[jj, k] += 1


#: bins a row's empty ends are skipped by at a time (:func:`_pack_windows`)
_SCAN = 16


@njit(cache=True, inline="always")
def _any_nonzero(row, a):  # pragma: no cover - compiled
    """Whether any of row[a : a + _SCAN] is non-zero: a loop of constant length, vectorised."""
    acc = 0
    for j in range(_SCAN):
        acc |= row[a + j]
    return acc != 0


@njit(cache=True)
def _pack_windows(counts):  # pragma: no cover - compiled
    """Each row's window of counts (rows, bins), for :class:`PackedCounts`: first, width,
    the windows' counts as uint8 (0 where 256 or more), and those apart (flat position,
    value)."""
    rows, bins = counts.shape
    first = np.zeros(rows, dtype=np.int32)
    width = np.zeros(rows, dtype=np.int32)
    big = np.zeros(rows, dtype=np.int64)  # counts of 256 or more in each row
    total = 0
    for r in range(rows):
        row = counts[r]
        a = 0
        while a + _SCAN <= bins and not _any_nonzero(row, a):  # empty bins, _SCAN at a time
            a += _SCAN
        while a < bins and row[a] == 0:
            a += 1
        if a == bins:
            continue
        b = bins - 1
        while b - _SCAN >= a and not _any_nonzero(row, b - _SCAN + 1):
            b -= _SCAN
        while row[b] == 0:
            b -= 1
        first[r] = a
        width[r] = b - a + 1
        total += b - a + 1
        window = row[a : b + 1]
        n = 0
        for j in range(window.size):
            n += window[j] >= 256
        big[r] = n
    low = np.empty(total, dtype=np.uint8)
    k = 0
    for r in range(rows):  # (contiguous rows: the loops vectorise)
        window = counts[r, first[r] : first[r] + width[r]]
        out = low[k : k + width[r]]
        for j in range(window.size):
            c = window[j]
            out[j] = c if c < 256 else 0
        k += width[r]
    n_big = big.sum()
    pos = np.empty(n_big, dtype=np.int64)
    value = np.empty(n_big, dtype=np.int64)
    m = 0
    for r in np.flatnonzero(big):
        for j in range(first[r], first[r] + width[r]):
            if counts[r, j] >= 256:
                pos[m] = r * bins + j
                value[m] = counts[r, j]
                m += 1
    return first, width, low, pos, value


@njit(cache=True)
def _add_windows(counts, first, width, low):  # pragma: no cover - compiled
    """Add the windows of :class:`PackedCounts` to uint16 counts (rows, bins) in place,
    modulo 65,536; returns the flat positions that wrapped (each once at most: there
    the new count is below the one added)."""
    rows, bins = counts.shape
    n = 0
    k = 0
    for r in range(rows):  # a row's window and its counts as slices: loops that vectorise
        w = width[r]
        dst = counts[r, first[r] : first[r] + w]
        src = low[k : k + w]
        for j in range(w):
            dst[j] += src[j]
        m = 0
        for j in range(w):
            m += dst[j] < src[j]
        n += m
        k += w
    wrapped = np.empty(n, dtype=np.int64)
    if n:
        n = 0
        k = 0
        for r in range(rows):
            a = first[r]
            for j in range(a, a + width[r]):
                if counts[r, j] < low[k]:
                    wrapped[n] = r * bins + j
                    n += 1
                k += 1
    return wrapped


@njit(cache=True)
def _tile_moments(x, j0, j1, mean, m2):  # pragma: no cover - compiled
    """:func:`_leaf_moments` of columns [j0, j1) of x (n, s) into mean, m2 (j1 - j0)."""
    n = x.shape[0]
    w = j1 - j0
    for j in range(w):
        mean[j] = 0.0
        m2[j] = 0.0
    for i in range(n):
        row = x[i, j0:j1]  # a view from index 0: the loop vectorises
        for j in range(w):
            mean[j] += row[j]
    for j in range(w):
        mean[j] /= n
    for i in range(n):
        row = x[i, j0:j1]
        for j in range(w):
            d = row[j] - mean[j]
            m2[j] += d * d


@njit(cache=True)
def _tile_extremes(x, j0, j1, vmin, vmax, nan_seen):  # pragma: no cover - compiled
    """Fold columns [j0, j1) of x (n, s) into vmin, vmax, nan_seen (j1 - j0), NaN ignored.

    Start from NaN; NaN only where every value is. Of equal values the first
    stays (0.0 and -0.0 compare equal). ``nan_seen`` becomes 1 where a value is NaN.
    """
    n = x.shape[0]
    w = j1 - j0
    for i in range(n):
        row = x[i, j0:j1]
        for j in range(w):
            v = row[j]
            if v < vmin[j] or vmin[j] != vmin[j]:
                vmin[j] = v
            if v > vmax[j] or vmax[j] != vmax[j]:
                vmax[j] = v
            nan_seen[j] |= v != v


@njit(cache=True)
def _reduce_block(
    x,
    cut,
    leaf_of,
    mean,
    m2,
    c0,
    vcols,
    lo,
    inv_w,
    nbins,
    counts,
    nan_count,
    vmin,
    vmax,
    nan_seen,
    tile,
):  # pragma: no cover - compiled
    """Every statistic of a block x (n, w) of a chunk, read once, a tile at a time.

    The rows are cut into pieces [cut[p], cut[p + 1]); a piece with ``leaf_of[p] >= 0``
    is a whole leaf, whose moments go to row ``leaf_of[p]`` of mean, m2 (leaves, s),
    columns from c0 on.
    ``vcols`` (sorted) are the block's binned columns, with their ``lo``, ``inv_w``,
    ``counts`` and ``nan_count`` rows. vmin, vmax (w) are the extremes, ``nan_seen``
    (w) 1 where a column holds a NaN (the fixed columns' check,
    :meth:`_BlockCounts.check_fixed`). Per column, every sum runs in row order as in
    :func:`_leaf_moments` and :func:`_hist_add`: the same numbers, bit for bit.
    """
    w = x.shape[1]
    vmin[:] = np.nan
    vmax[:] = np.nan
    nan_seen[:] = 0
    lo_all, inv_w_all = _by_column(vcols, lo, inv_w, 0, w)  # the bins by column, for _hist_tile
    b = np.empty(min(tile, w), dtype=np.int64)
    va = 0
    for j0 in range(0, w, tile):
        j1 = min(j0 + tile, w)
        vb = va
        while vb < vcols.shape[0] and vcols[vb] < j1:
            vb += 1
        for p in range(cut.shape[0] - 1):
            rows = x[cut[p] : cut[p + 1]]
            k = leaf_of[p]
            if k >= 0:
                at = slice(c0 + j0, c0 + j1)
                _tile_moments(rows, j0, j1, mean[k, at], m2[k, at])
            if vb > va:
                vc = slice(va, vb)
                _hist_tile(
                    rows, j0, j1, lo_all[j0:j1], inv_w_all[j0:j1], nbins,
                    vcols[vc], counts[vc], nan_count[vc], b,
                )  # fmt: skip
            _tile_extremes(rows, j0, j1, vmin[j0:j1], vmax[j0:j1], nan_seen[j0:j1])
        va = vb


def leaf_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (mean, M2) over axis 0 of `x` (n, s), summed sequentially in row order."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    mean = np.empty(x.shape[1])
    m2 = np.empty(x.shape[1])
    _leaf_moments(x, mean, m2)
    return mean, m2


def leaf_comoments(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (mean, C) over axis 0 of `z` (n, p), C = Σ (z - mean)(z - mean)^T."""
    z = np.ascontiguousarray(z, dtype=np.float64)
    p = z.shape[1]
    mean = np.empty(p)
    c = np.empty((p, p))
    _leaf_comoments(z, mean, c)
    return mean, c


# --- nodes of the fixed tree ----------------------------------------------------------


@dataclass
class Node:
    """Moments of a run of consecutive draws: count, mean and M2 of the values, co-moments of z."""

    level: int
    n: int
    mean: np.ndarray
    m2: np.ndarray
    zmean: np.ndarray
    zc: np.ndarray


def leaf_node(x: np.ndarray, z: np.ndarray) -> Node:
    """Node of one leaf from its raw values x (n, s) and regression columns z (n, p)."""
    mean, m2 = leaf_moments(x)
    zmean, zc = leaf_comoments(z)
    return Node(0, x.shape[0], mean, m2, zmean, zc)


def merge(a: Node, b: Node) -> Node:
    """Chan et al. (1979) pairwise update; `a` holds the earlier draws.

    Notes
    -----
    n = n_a + n_b, δ = mean_b - mean_a, mean = mean_a + δ n_b / n,
    M2 = M2_a + M2_b + δ² n_a n_b / n (and the outer product δ δ^T for co-moments).
    """
    n = a.n + b.n
    d = b.mean - a.mean
    f = a.n * b.n / n
    dz = b.zmean - a.zmean
    return Node(
        max(a.level, b.level) + 1,
        n,
        a.mean + d * (b.n / n),
        a.m2 + b.m2 + d * d * f,
        a.zmean + dz * (b.n / n),
        a.zc + b.zc + np.outer(dz, dz) * f,
    )


def _merge_siblings(segments: list, first_leaf: list[int]) -> list:
    """A chunk's segments with its whole leaves merged where the fixed tree merges them
    inside the chunk.

    ``first_leaf``: the leaf number of each segment's first draw. Two nodes of level m
    are siblings in the tree when the first covers leaves j 2^m to (j + 1) 2^m - 1
    with j even and the second follows it. The accumulator, pushing such a merged
    node, builds the tree it builds from the leaves one at a time (the same merges in
    the same order, so the same numbers bit for bit), and a chunk of 1,000 draws sends
    two to four nodes instead of ten.
    """
    out: list = []
    firsts: list[int] = []
    for seg, i in zip(segments, first_leaf, strict=True):
        if isinstance(seg, Node):
            while (
                out
                and isinstance(out[-1], Node)
                and out[-1].level == seg.level
                and firsts[-1] % (2 << seg.level) == 0
                and firsts[-1] + (1 << seg.level) == i
            ):
                seg = merge(out.pop(), seg)
                i = firsts.pop()
        out.append(seg)
        firsts.append(i)
    return out


# --- what a chunk hands back ------------------------------------------------------------


@dataclass
class ChunkPartial:
    """Reduction of one chunk of draws [start, stop), computed where the chunk ran.

    ``segments`` holds, in draw order, either a complete leaf as a :class:`Node`
    or the raw ``(values, z)`` of a piece of a leaf cut by a chunk boundary.
    """

    start: int
    stop: int
    segments: list
    counts: np.ndarray | PackedCounts | None = None  # (varying columns, nbins + 2)
    nan_count: np.ndarray | None = None
    vmin: np.ndarray | None = None
    vmax: np.ndarray | None = None
    values: np.ndarray | None = None  # kept for exact percentiles
    # fixed columns (constant in the pilot) with another value in this chunk: their counts
    other_cols: np.ndarray | None = None  # positions among the fixed columns
    other_counts: np.ndarray | None = None
    other_nan: np.ndarray | None = None

    def __getstate__(self) -> dict:
        # sent between processes with the counts packed (:class:`PackedCounts`): about half
        # the size, in the pipe and while a result waits in the parent to be merged
        state = dict(self.__dict__)
        if isinstance(self.counts, np.ndarray):
            state["counts"] = PackedCounts.of(self.counts)
        return state


@dataclass
class PackedCounts:
    """Histogram counts as a chunk sends them: each row's occupied window, one byte per
    bin, the few large counts apart.

    A row's bins from its first to its last nonzero count (``first``, ``width``; width
    0 for a row without a count) lie one after another in ``low`` (uint8), a count of
    256 or more as 0 there, with its flat position in the whole array in ``pos`` and
    its value in ``value`` (a value with a point mass puts a whole chunk in one bin).
    A chunk of 1,000 draws occupies about half of each row's 1,026 bins.
    """

    shape: tuple[int, int]
    first: np.ndarray
    width: np.ndarray
    low: np.ndarray
    pos: np.ndarray
    value: np.ndarray

    @classmethod
    def of(cls, counts: np.ndarray) -> PackedCounts:
        rows, bins = counts.shape
        return cls((rows, bins), *_pack_windows(counts))

    def dense(self) -> np.ndarray:
        """The counts as an int64 array."""
        out = np.zeros(self.shape, dtype=np.int64)
        row = np.repeat(np.arange(self.shape[0]), self.width)
        start = np.cumsum(self.width) - self.width  # each row's offset in low
        col = self.first[row] + np.arange(self.low.size) - start[row]
        out[row, col] = self.low
        out.reshape(-1)[self.pos] = self.value
        return out


@dataclass
class HistSpec:
    """Histogram bins of every value: lower bound and width [units of the value].

    ``fixed`` marks the values that were constant in the pilot (e.g. a flow
    that is zero by construction, a variable not modelled in a year) and
    ``fixed_value`` their value (NaN allowed). A chunk checks, for those, that
    every draw kept that value (from their extremes and NaN, normally so) and
    bins every value of a column that did not; the draws equal to it all fall
    in one known bin. The counts are the same as binning every value, at a
    fraction of the cost.
    """

    lo: np.ndarray
    width: np.ndarray
    nbins: int = HIST_BINS
    fixed: np.ndarray | None = None
    fixed_value: np.ndarray | None = None

    def __post_init__(self):
        if self.fixed is None:
            self.fixed = np.zeros(len(self.lo), dtype=bool)
            self.fixed_value = np.zeros(0)
        self.varying_cols = np.flatnonzero(~self.fixed).astype(np.int64)
        self.fixed_cols = np.flatnonzero(self.fixed).astype(np.int64)

    def bin_of_fixed(self, pos: np.ndarray | None = None) -> np.ndarray:
        """The bin of each fixed column's value (-1 for NaN), as the binning kernel assigns it.

        ``pos``: positions among the fixed columns to bin (default all); the kernel
        counts into a (columns, bins) array, 8 kB per column.
        """
        pos = np.arange(self.fixed_cols.size) if pos is None else np.asarray(pos, np.int64)
        x = self.fixed_value[pos].reshape(1, -1).astype(np.float64)
        cols = np.arange(x.shape[1], dtype=np.int64)
        counts = np.zeros((x.shape[1], self.nbins + 2), dtype=np.int64)
        nanc = np.zeros(x.shape[1], dtype=np.int64)
        fixed = self.fixed_cols[pos]
        lo, inv_w = self.lo[fixed], 1.0 / self.width[fixed]
        _hist_add(x, cols, lo, inv_w, self.nbins, counts, nanc)
        return np.where(nanc > 0, -1, counts.argmax(axis=1) if x.shape[1] else 0)

    @classmethod
    def from_pilot(cls, pilot: np.ndarray, nbins: int = HIST_BINS, margin: float = PILOT_MARGIN):
        """Bins over [min - m r, max + m r] of the pilot values (n, s), r = max - min."""
        return cls.from_pilot_stats(pilot_stats(pilot), nbins, margin)

    @classmethod
    def from_pilot_stats(
        cls, stats: dict, nbins: int = HIST_BINS, margin: float = PILOT_MARGIN
    ) -> HistSpec:
        """:meth:`from_pilot` from the :func:`pilot_stats` of the pilot (or merged pieces of it)."""
        lo = np.where(np.isfinite(stats["min"]), stats["min"], 0.0)
        hi = np.where(np.isfinite(stats["max"]), stats["max"], 0.0)
        r = hi - lo
        # a value constant in the pilot: a narrow range around it (1e-6 relative, at least 1e-12)
        r = np.where(r > 0, r, np.maximum(np.abs(lo) * 1e-6, 1e-12))
        lo = lo - margin * r
        width = r * (1 + 2 * margin) / nbins
        if stats["first"] is not None:
            fixed = stats["fixed"]
            return cls(lo, width, nbins, fixed, np.array(stats["first"][fixed], dtype=np.float64))
        return cls(lo, width, nbins)


def pilot_stats(pilot: np.ndarray) -> dict:
    """What the histogram bins need from pilot values (n, s): min, max, constant columns.

    Pieces of a pilot (consecutive draws) combine with :func:`merge_pilot_stats`
    into exactly the statistics of the whole.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN values (not modelled)
        lo = np.nanmin(pilot, axis=0) if pilot.size else np.zeros(pilot.shape[1])
        hi = np.nanmax(pilot, axis=0) if pilot.size else np.ones(pilot.shape[1])
    if not pilot.shape[0]:
        return {"min": lo, "max": hi, "fixed": None, "first": None}
    first = pilot[0]
    same = (pilot == first) | (np.isnan(pilot) & np.isnan(first))
    return {"min": lo, "max": hi, "fixed": same.all(axis=0), "first": np.array(first)}


def merge_pilot_stats(pieces: list[dict]) -> dict:
    """The :func:`pilot_stats` of consecutive pilot pieces (in draw order) taken together."""
    pieces = [p for p in pieces if p["first"] is not None]
    if not pieces:
        raise ValueError("no pilot draws")
    first = pieces[0]["first"]
    out = {"min": pieces[0]["min"], "max": pieces[0]["max"], "fixed": pieces[0]["fixed"]}
    for p in pieces[1:]:
        same = (p["first"] == first) | (np.isnan(p["first"]) & np.isnan(first))
        out["min"] = np.fmin(out["min"], p["min"])
        out["max"] = np.fmax(out["max"], p["max"])
        out["fixed"] = out["fixed"] & p["fixed"] & same
    out["first"] = first
    return out


def count_dtype(n: int) -> type[np.unsignedinteger]:
    """The smallest unsigned integer that holds counts of up to n draws per bin.

    The histogram counts are the largest arrays of a summary (values x 1,026 bins):
    a chunk of up to 65,535 draws sends them back as uint16. (The ensemble's
    :class:`Accumulator` adds them up as uint16 too, whatever the number of draws,
    with the rare bins that pass 65,535 carried apart.)
    """
    for dtype in (np.uint16, np.uint32):
        if n <= np.iinfo(dtype).max:
            return dtype
    return np.uint64


def reduce_chunk(
    values: np.ndarray,
    z: np.ndarray,
    start: int,
    *,
    leaf: int = LEAF,
    hist: HistSpec | None = None,
    keep_values: bool = False,
) -> ChunkPartial:
    """Reduce the values of draws [start, start + n) to what the accumulator needs.

    Parameters
    ----------
    values : numpy.ndarray, shape (n, s)
        Per-draw summarised values (float64).
    z : numpy.ndarray, shape (n, p)
        Per-draw regressors and targets of the sensitivity analysis.
    start : int
        Draw number of the first row.
    leaf : int
        Draws per leaf.
    hist : HistSpec or None
        Histogram bins (None: no histogram, e.g. exact percentiles).
    keep_values : bool
        Hand the raw values back too (exact percentiles).
    """
    part = reduce_blocks([(0, values)], values.shape[1], z, start, leaf=leaf, hist=hist)
    if keep_values:
        part.values = values
    return part


def reduce_blocks(
    blocks: Iterable[tuple[int, np.ndarray]],
    size: int,
    z: np.ndarray,
    start: int,
    *,
    leaf: int = LEAF,
    hist: HistSpec | None = None,
) -> ChunkPartial:
    """:func:`reduce_chunk` of values given as blocks of columns, never all at once.

    ``blocks`` yields ``(first column, values (n, width))`` covering the ``size``
    columns in order. Every statistic is per column, so the partial is the one
    :func:`reduce_chunk` makes of the whole matrix, bit for bit.
    """
    n = z.shape[0]
    stop = start + n
    cuts = sorted({start, stop, *range((start // leaf + 1) * leaf, stop, leaf)})
    pieces = list(zip(cuts[:-1], cuts[1:], strict=True))
    # a whole leaf's moments (a row of mean, m2), or the raw values of a piece of a leaf
    # cut by the chunk
    whole = [k for k, (a, b) in enumerate(pieces) if a % leaf == 0 and b - a == leaf]
    leaf_of = np.full(len(pieces), -1, dtype=np.int64)
    leaf_of[whole] = np.arange(len(whole))
    mean, m2 = np.empty((len(whole), size)), np.empty((len(whole), size))
    raw = {k: np.empty((b - a, size)) for k, (a, b) in enumerate(pieces) if leaf_of[k] < 0}
    rows = np.array(cuts, dtype=np.int64) - start
    vmin, vmax = np.empty(size), np.empty(size)
    nan_seen = np.empty(size, dtype=np.uint8)  # (the check of the fixed columns)
    counter = _BlockCounts(hist, n, size)
    covered = 0
    for c0, block in blocks:
        x = np.ascontiguousarray(block, dtype=np.float64)
        c1 = c0 + x.shape[1]
        if c0 != covered:
            raise ValueError(f"blocks of columns: {c0} follows {covered}")
        covered = c1
        for k, piece in raw.items():
            piece[:, c0:c1] = x[rows[k] : rows[k + 1]]
        if n:
            v, f = counter.columns(c0, c1)
            _reduce_block(
                x, rows, leaf_of, mean, m2, c0,
                counter.vcols[v] - c0, counter.lo[v], counter.inv_w[v], counter.nbins,
                counter.counts[v], counter.nan_count[v],
                vmin[c0:c1], vmax[c0:c1], nan_seen[c0:c1], _TILE,
            )  # fmt: skip
            counter.check_fixed(x, c0, f, vmin, vmax, nan_seen)
    if covered != size:
        raise ValueError(f"blocks of columns cover {covered} of {size}")
    segments: list = []
    for k, (a, b) in enumerate(pieces):
        zz = z[a - start : b - start]
        if leaf_of[k] >= 0:
            zmean, zc = leaf_comoments(zz)
            segments.append(Node(0, b - a, mean[leaf_of[k]], m2[leaf_of[k]], zmean, zc))
        else:
            segments.append((raw[k], np.array(zz)))
    part = ChunkPartial(start, stop, _merge_siblings(segments, [a // leaf for a, _ in pieces]))
    if hist is not None:
        counter.finish(part)
    part.vmin = vmin if n else None
    part.vmax = vmax if n else None
    return part


class _BlockCounts:
    """The histogram counts of :func:`reduce_blocks`, added a block of columns at a time.

    Without a histogram (exact percentiles) every column is neither binned nor fixed.
    """

    def __init__(self, hist: HistSpec | None, n: int, size: int):
        self.hist = hist
        none = np.zeros(0, dtype=np.int64)
        self.vcols = none if hist is None else hist.varying_cols
        self.fcols = none if hist is None else hist.fixed_cols
        self.nbins = HIST_BINS if hist is None else hist.nbins
        if hist is None:
            self.lo = self.inv_w = self.fixed_value = np.zeros(0)
        else:
            # the bins of the binned columns, in their order (the kernel reads them in turn)
            self.lo = hist.lo[self.vcols]
            self.inv_w = 1.0 / hist.width[self.vcols]
            self.fixed_value = np.zeros(0) if hist.fixed_value is None else hist.fixed_value
        self.counts = np.zeros((self.vcols.size, self.nbins + 2), dtype=count_dtype(n))
        self.nan_count = np.zeros(self.vcols.size, dtype=np.int64)
        # fixed columns that took another value than their pilot's in this chunk
        self.moved = np.zeros(self.fcols.size, dtype=bool)
        self.moved_counts: list[np.ndarray] = []
        self.moved_nan: list[np.ndarray] = []

    def columns(self, c0: int, c1: int) -> tuple[slice, slice]:
        """The binned and the fixed columns among [c0, c1), as slices of their lists."""
        v0, v1 = np.searchsorted(self.vcols, [c0, c1])
        f0, f1 = np.searchsorted(self.fcols, [c0, c1])
        return slice(int(v0), int(v1)), slice(int(f0), int(f1))

    def check_fixed(
        self,
        x: np.ndarray,
        c0: int,
        f: slice,
        vmin: np.ndarray,
        vmax: np.ndarray,
        nan_seen: np.ndarray,
    ) -> None:
        """Find the fixed columns (slice ``f``) of block x that took another value, and bin
        every value of those.

        From the extremes and NaN flags of every column: a column fixed at a value v
        kept it in every draw iff its minimum and maximum are v and it holds no NaN; a
        column fixed at NaN kept it iff its maximum is NaN (every value NaN).
        """
        cols = self.fcols[f]
        if not cols.size:
            return
        value = self.fixed_value[f]
        lo, hi, nan = vmin[cols], vmax[cols], nan_seen[cols] != 0
        with np.errstate(invalid="ignore"):
            kept = np.where(np.isnan(value), np.isnan(hi), ~nan & (lo == value) & (hi == value))
        moved = np.flatnonzero(~kept)
        if not moved.size:
            return
        self.moved[f][moved] = True
        h = self.hist
        assert h is not None
        cols = cols[moved]
        counts = np.zeros((moved.size, self.nbins + 2), dtype=np.int64)
        nanc = np.zeros(moved.size, dtype=np.int64)
        _hist_add(x, cols - c0, h.lo[cols], 1.0 / h.width[cols], self.nbins, counts, nanc)
        self.moved_counts.append(counts)
        self.moved_nan.append(nanc)

    def finish(self, part: ChunkPartial) -> None:
        part.counts, part.nan_count = self.counts, self.nan_count
        part.other_cols = np.flatnonzero(self.moved).astype(np.int64)
        width = self.nbins + 2
        moved = self.moved_counts or [np.zeros((0, width), dtype=np.int64)]
        part.other_counts = np.concatenate(moved)
        part.other_nan = np.concatenate(self.moved_nan or [np.zeros(0, dtype=np.int64)])


# --- the accumulator ------------------------------------------------------------------


@dataclass
class Accumulator:
    """Combines chunk partials, in draw order, into the ensemble's summaries.

    Parameters
    ----------
    n_draws : int
        Total draws of the ensemble.
    n_values, n_z : int
        Summarised values per draw, sensitivity columns per draw.
    hist : HistSpec or None
        Histogram bins; None = exact percentiles (the accumulator keeps all values).
    """

    n_draws: int
    n_values: int
    n_z: int
    hist: HistSpec | None = None
    leaf: int = LEAF
    next_draw: int = 0
    stack: list = field(default_factory=list)
    pending: list = field(default_factory=list)
    counts: np.ndarray | None = None
    nan_count: np.ndarray | None = None
    vmin: np.ndarray | None = None
    vmax: np.ndarray | None = None
    values: np.ndarray | None = None
    #: per fixed column (HistSpec.fixed): draws equal to its value, outside the moved counts
    fixed_equal: np.ndarray | None = None
    #: fixed columns that took another value in some chunk: position -> (counts, NaN count)
    moved: dict = field(default_factory=dict)
    #: what the uint16 ``counts`` do not hold: flat position -> multiples of 65,536 draws
    carry: dict = field(default_factory=dict)

    def __post_init__(self):
        s = self.n_values
        if self.hist is not None and self.counts is None:
            nv = self.hist.varying_cols.size
            # uint16 at any number of draws (memory flat in N): a bin's count is
            # counts + 65,536 x carry, and few bins ever pass 65,535 draws
            self.counts = np.zeros((nv, self.hist.nbins + 2), dtype=np.uint16)
            self.nan_count = np.zeros(nv, dtype=np.int64)
            self.fixed_equal = np.zeros(self.hist.fixed_cols.size, dtype=np.int64)
        if self.hist is None and self.values is None:
            self.values = np.empty((self.n_draws, s))
        if self.vmin is None:
            self.vmin = np.full(s, np.inf)
            self.vmax = np.full(s, -np.inf)

    @property
    def exact(self) -> bool:
        return self.hist is None

    def _push(self, node: Node) -> None:
        self.stack.append(node)
        while len(self.stack) >= 2 and self.stack[-1].level == self.stack[-2].level:
            b = self.stack.pop()
            a = self.stack.pop()
            self.stack.append(merge(a, b))

    def _flush_pending(self) -> None:
        x = np.concatenate([p[0] for p in self.pending])
        z = np.concatenate([p[1] for p in self.pending])
        self.pending = []
        self._push(leaf_node(x, z))

    def add(self, part: ChunkPartial) -> None:
        """Add the partial of the next chunk (its start must be the next draw)."""
        if part.start != self.next_draw:
            raise ValueError(f"chunk starts at draw {part.start}, expected {self.next_draw}")
        for seg in part.segments:
            if isinstance(seg, Node):
                self._push(seg)
            else:
                self.pending.append(seg)
                if sum(p[0].shape[0] for p in self.pending) == self.leaf:
                    self._flush_pending()
        if part.counts is not None:
            self._add_counts(part.counts)
            self.nan_count += part.nan_count
            n = part.stop - part.start
            self.fixed_equal += n
            self.fixed_equal[part.other_cols] -= n
            for k, pos in enumerate(part.other_cols.tolist()):  # rare: a fixed value moved
                row, nanc = self.moved.get(pos, (0, 0))
                self.moved[pos] = (row + part.other_counts[k], nanc + int(part.other_nan[k]))
        if part.vmin is not None:
            np.fmin(self.vmin, part.vmin, out=self.vmin)
            np.fmax(self.vmax, part.vmax, out=self.vmax)
        if self.exact:
            self.values[part.start : part.stop] = part.values
        self.next_draw = part.stop

    def _add_counts(self, counts: np.ndarray | PackedCounts) -> None:
        """Add a chunk's counts (or as it sent them, packed); what passes 65,535 in a bin
        goes to :attr:`carry`.

        Integer counts add up exactly in any order, so the carries change nothing but
        the memory. Packed counts below 256, and uint16 counts as a chunk of this process
        gives them (every bin), add in place in one compiled pass over each row's
        window, a bin wrapping past 65,535 at most once (one carry); the others (packed
        apart, or wider counts) add at their positions.
        """
        assert self.counts is not None
        if isinstance(counts, PackedCounts) or counts.dtype != np.uint16:
            p = counts if isinstance(counts, PackedCounts) else PackedCounts.of(counts)
            first, width, low, pos, value = p.first, p.width, p.low, p.pos, p.value
        else:  # (not packed to be unpacked: every bin of every row is its window)
            rows, bins = counts.shape
            first, width = np.zeros(rows, dtype=np.int32), np.full(rows, bins, dtype=np.int32)
            low = np.ascontiguousarray(counts).reshape(-1)
            pos = value = np.zeros(0, dtype=np.int64)
        for wrapped in _add_windows(self.counts, first, width, low).tolist():
            self.carry[wrapped] = self.carry.get(wrapped, 0) + 1
        self._add_at(pos, value)

    def _add_at(self, pos: np.ndarray, value: np.ndarray) -> None:
        """Add counts at flat positions (distinct), carrying what passes 65,535."""
        assert self.counts is not None
        flat = self.counts.reshape(-1)
        total = flat[pos].astype(np.int64) + value
        flat[pos] = total & 0xFFFF
        high = total >> 16
        for p, c in zip(pos[high > 0].tolist(), high[high > 0].tolist(), strict=True):
            self.carry[p] = self.carry.get(p, 0) + c

    def full_counts(self) -> _Counts:
        """The counts with their carries, read a block of rows at a time (int64)."""
        assert self.counts is not None
        return _Counts(self.counts, self.carry)

    def total(self) -> Node:
        """The root of the fixed tree over every draw added so far."""
        if self.pending:
            self._flush_pending()  # the last, short leaf
        nodes = list(self.stack)
        out = nodes[-1]
        for node in reversed(nodes[:-1]):
            out = merge(node, out)
        return out

    def result(self) -> tuple[dict[str, np.ndarray], Node]:
        """Summary arrays (s,) by stat name (mean, sd, q025 .. q975) and the root node."""
        if self.next_draw != self.n_draws:
            raise ValueError(f"only {self.next_draw} of {self.n_draws} draws were added")
        root = self.total()
        stats = {"mean": root.mean, "sd": np.sqrt(root.m2 / max(root.n - 1, 1))}
        probs = np.array(list(QUANTILES.values()))
        if self.exact:
            q = np.quantile(self.values, probs, axis=0, method="linear")
        else:
            q = self._hist_quantiles(probs)
        for k, name in enumerate(QUANTILES):
            stats[name] = q[k]
        return stats, root

    def _hist_quantiles(self, probs: np.ndarray) -> np.ndarray:
        """Percentiles of every value from the counts (varying, fixed and moved columns)."""
        h = self.hist
        q = np.empty((len(probs), self.n_values))
        vc, fc = h.varying_cols, h.fixed_cols
        sub = HistSpec(h.lo[vc], h.width[vc], h.nbins)
        qv = hist_quantiles(self.full_counts(), sub, probs, self.vmin[vc], self.vmax[vc])
        qv[:, self.nan_count > 0] = np.nan
        q[:, vc] = qv
        # a fixed column that never moved: every draw has its value (NaN stays NaN)
        q[:, fc] = h.fixed_value
        if self.moved:
            pos = np.array(sorted(self.moved), dtype=np.int64)
            bins = h.bin_of_fixed(pos)  # the moved columns only
            rows = np.stack([np.asarray(self.moved[p][0], dtype=np.int64) for p in pos])
            nanc = np.array([self.moved[p][1] for p in pos], dtype=np.int64)
            eq = self.fixed_equal[pos]
            is_nan = bins < 0
            rows[np.flatnonzero(~is_nan), bins[~is_nan]] += eq[~is_nan]
            nanc = nanc + np.where(is_nan, eq, 0)
            cols = fc[pos]
            sub = HistSpec(h.lo[cols], h.width[cols], h.nbins)
            qm = hist_quantiles(rows, sub, probs, self.vmin[cols], self.vmax[cols])
            qm[:, nanc > 0] = np.nan
            q[:, cols] = qm
        return q

    # checkpointing ------------------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that restore this accumulator exactly (see :meth:`from_state`)."""
        st: dict[str, np.ndarray] = {
            "meta": np.array([self.n_draws, self.n_values, self.n_z, self.leaf, self.next_draw]),
            "levels": np.array([n.level for n in self.stack], dtype=np.int64),
            "ns": np.array([n.n for n in self.stack], dtype=np.int64),
            "vmin": self.vmin,
            "vmax": self.vmax,
        }
        for k, n in enumerate(self.stack):
            st[f"s{k}_mean"], st[f"s{k}_m2"] = n.mean, n.m2
            st[f"s{k}_zmean"], st[f"s{k}_zc"] = n.zmean, n.zc
        if self.pending:
            st["pending_x"] = np.concatenate([p[0] for p in self.pending])
            st["pending_z"] = np.concatenate([p[1] for p in self.pending])
        if self.hist is not None:
            st["hist_lo"], st["hist_width"] = self.hist.lo, self.hist.width
            st["hist_nbins"] = np.array(self.hist.nbins)
            st["hist_fixed"], st["hist_fixed_value"] = self.hist.fixed, self.hist.fixed_value
            st["counts"], st["nan_count"] = self.counts, self.nan_count
            st["carry_pos"] = np.array(sorted(self.carry), dtype=np.int64)
            st["carry"] = np.array([self.carry[p] for p in sorted(self.carry)], dtype=np.int64)
            st["fixed_equal"] = self.fixed_equal
            pos = sorted(self.moved)
            st["moved_cols"] = np.array(pos, dtype=np.int64)
            st["moved_counts"] = np.array([self.moved[p][0] for p in pos], dtype=np.int64).reshape(
                len(pos), self.hist.nbins + 2
            )
            st["moved_nan"] = np.array([self.moved[p][1] for p in pos], dtype=np.int64)
        else:
            st["values"] = self.values[: self.next_draw]
        return st

    @classmethod
    def from_state(cls, st) -> Accumulator:
        n_draws, n_values, n_z, leaf, next_draw = (int(v) for v in st["meta"])
        hist = None
        if "hist_lo" in st:
            hist = HistSpec(
                np.array(st["hist_lo"]),
                np.array(st["hist_width"]),
                int(st["hist_nbins"]),
                np.array(st["hist_fixed"]),
                np.array(st["hist_fixed_value"]),
            )
        acc = cls(n_draws, n_values, n_z, hist=hist, leaf=leaf)
        acc.next_draw = next_draw
        acc.vmin, acc.vmax = np.array(st["vmin"]), np.array(st["vmax"])
        acc.stack = [
            Node(
                int(lvl),
                int(n),
                np.array(st[f"s{k}_mean"]),
                np.array(st[f"s{k}_m2"]),
                np.array(st[f"s{k}_zmean"]),
                np.array(st[f"s{k}_zc"]),
            )
            for k, (lvl, n) in enumerate(zip(st["levels"], st["ns"], strict=True))
        ]
        if "pending_x" in st:
            acc.pending = [(np.array(st["pending_x"]), np.array(st["pending_z"]))]
        if hist is not None:
            counts, acc.nan_count = np.array(st["counts"]), np.array(st["nan_count"])
            if counts.dtype == np.uint16:
                acc.counts = counts
                if "carry_pos" in st:
                    carry = zip(st["carry_pos"].tolist(), st["carry"].tolist(), strict=True)
                    acc.carry = dict(carry)
            else:  # a checkpoint of wider counts, without carries: as uint16 and carries
                acc._add_counts(counts)
            acc.fixed_equal = np.array(st["fixed_equal"])
            acc.moved = {
                int(p): (np.array(row), int(nanc))
                for p, row, nanc in zip(
                    st["moved_cols"], st["moved_counts"], st["moved_nan"], strict=True
                )
            }
        else:
            acc.values[:next_draw] = st["values"]
        return acc


class _Counts:
    """uint16 counts (s, bins) and their carries, as int64 rows on slicing (for
    :func:`hist_quantiles`, which reads a block of rows at a time)."""

    def __init__(self, low: np.ndarray, carry: Mapping[int, int]):
        self.low, self.carry = low, carry
        self.shape = low.shape

    def __getitem__(self, rows: slice) -> np.ndarray:
        a, b, _ = rows.indices(self.shape[0])
        out = self.low[a:b].astype(np.int64)
        width = self.shape[1]
        for pos, c in self.carry.items():
            if a * width <= pos < b * width:
                out.reshape(-1)[pos - a * width] += c << 16
        return out


# --- percentiles from counts ------------------------------------------------------------


def hist_quantiles(
    counts: np.ndarray | _Counts,
    hist: HistSpec,
    probs: np.ndarray,
    vmin: np.ndarray,
    vmax: np.ndarray,
) -> np.ndarray:
    """Percentiles from integer counts (s, nbins + 2), matching numpy's "linear" method.

    Parameters
    ----------
    counts : numpy.ndarray of int, shape (s, nbins + 2)
        Bin 0 counts values below ``hist.lo``, bin nbins + 1 values at or above the top
        (or an accumulator's :meth:`Accumulator.full_counts`: read a block of rows at a time).
    hist : HistSpec
        The bins.
    probs : numpy.ndarray
        Probabilities in [0, 1].
    vmin, vmax : numpy.ndarray, shape (s,)
        Exact minimum and maximum of every value.

    Returns
    -------
    numpy.ndarray, shape (len(probs), s)

    Notes
    -----
    With N values and h = (N - 1) p, the linear estimate is
    x_(⌊h⌋) + (h - ⌊h⌋)(x_(⌊h⌋+1) - x_(⌊h⌋)) (Hyndman and Fan 1996, type 7).
    The k-th order statistic is placed inside its bin, at the centre of its
    share of the bin (rank r of c values: lo + (b + (r + 1/2)/c) w), so its
    error is below one bin width w; in the under- or overflow bin it is
    taken as the exact minimum or maximum. Results are clipped to [min, max].
    """
    s = counts.shape[0]
    out = np.empty((len(probs), s))
    for a in range(0, s, _QUANTILE_ROWS):  # rows in blocks: int64 temporaries of a block only
        b = min(a + _QUANTILE_ROWS, s)
        block = HistSpec(hist.lo[a:b], hist.width[a:b], hist.nbins)
        out[:, a:b] = _hist_quantiles_rows(counts[a:b], block, probs, vmin[a:b], vmax[a:b])
    return out


#: values per block of :func:`hist_quantiles`
_QUANTILE_ROWS = 4096


def _hist_quantiles_rows(
    counts: np.ndarray, hist: HistSpec, probs: np.ndarray, vmin: np.ndarray, vmax: np.ndarray
) -> np.ndarray:
    """:func:`hist_quantiles` of some rows."""
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    probs = np.ascontiguousarray(probs, dtype=np.float64)
    lo = np.ascontiguousarray(hist.lo, dtype=np.float64)
    width = np.ascontiguousarray(hist.width, dtype=np.float64)
    vmin = np.ascontiguousarray(vmin, dtype=np.float64)
    vmax = np.ascontiguousarray(vmax, dtype=np.float64)
    q = np.empty((len(probs), counts.shape[0]))
    total = np.empty(counts.shape[0], dtype=np.int64)
    _order_stat_quantiles(counts, lo, width, probs, vmin, vmax, q, total)
    with np.errstate(invalid="ignore"):  # values that are NaN in every draw
        out = np.clip(q, vmin, vmax)
    out[:, total == 0] = np.nan
    return out


@njit(cache=True)
def _order_stat_quantiles(counts, lo, width, probs, vmin, vmax, q, total):  # pragma: no cover
    """Unclipped percentiles of each row of ``counts`` (s, nbins + 2) into ``q`` (probs, s),
    the count of each row into ``total`` (s): one pass over a row's bins per order
    statistic, stopping at its bin.

    With h = (N - 1) p, k0 = floor(h), k1 = min(k0 + 1, N - 1): q = v(k0) + (h - k0)
    (v(k1) - v(k0)), v(k) the k-th order statistic placed in the first bin b whose
    cumulative count exceeds k at lo + (b - 1 + (k - before + 1/2) / c) width (``before``
    the count below the bin, c its count), the minimum in the underflow bin (b = 0) and
    the maximum in the overflow bin. A row without counts gives v(0) = its minimum.
    """
    s, nb2 = counts.shape
    for j in range(s):
        row = counts[j]
        n = 0
        for b in range(nb2):
            n += row[b]
        total[j] = n
        for i in range(probs.shape[0]):
            h = (max(n, 1) - 1) * probs[i]
            k0 = np.int64(math.floor(h))
            k1 = min(k0 + 1, max(n - 1, 0))
            v0 = _order_stat(row, k0, lo[j], width[j], vmin[j], vmax[j])
            v1 = _order_stat(row, k1, lo[j], width[j], vmin[j], vmax[j])
            q[i, j] = v0 + (h - k0) * (v1 - v0)


@njit(cache=True, inline="always")
def _order_stat(row, k, lo, width, vmin, vmax):  # pragma: no cover - compiled
    """The k-th order statistic of one row of counts (see :func:`_order_stat_quantiles`)."""
    nb2 = row.shape[0]
    before = 0
    b = 0
    while b < nb2 and before + row[b] <= k:
        before += row[b]
        b += 1
    if b == 0 or b == nb2:  # under the bins, or a row without counts
        return vmin
    if b == nb2 - 1:
        return vmax
    c = max(row[b], 1)
    pos = (b - 1) + (k - before + 0.5) / c
    return lo + pos * width


# --- standardised regression coefficients -------------------------------------------------


def src_from_comoments(
    zc: np.ndarray, n_inputs: int, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Standardised regression coefficients of each target on the inputs.

    Parameters
    ----------
    zc : numpy.ndarray, shape (p + t, p + t)
        Co-moment matrix of [inputs, targets] (any positive multiple of the covariance).
    n_inputs : int
        p, the number of input columns (first in zc).
    n : int, optional
        Number of draws behind ``zc``. With ``n <= p' + 1`` (p' the inputs
        that vary) the regression fits any target exactly (R² = 1 whatever the
        model), so the coefficients are not identified and come back NaN.

    Returns
    -------
    src : numpy.ndarray, shape (p, t)
        β_i σ_i / σ_y: the change of the target, in its sd, per sd of input i.
    r2 : numpy.ndarray, shape (t,)
        Coefficient of determination of the linear model; Σ_i src_i² ≈ r2
        for independent inputs.

    Notes
    -----
    With R the correlation matrix, SRC = R_xx⁻¹ R_xy (Saltelli et al. 2008,
    Global Sensitivity Analysis: The Primer, Wiley, doi:10.1002/9780470725184, §1.2.5).
    """
    sd = np.sqrt(np.clip(np.diag(zc), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = zc / np.outer(sd, sd)
    p = n_inputs
    rxx, rxy = r[:p, :p], r[:p, p:]
    ok = sd[:p] > 0
    src = np.full(rxy.shape, np.nan)
    if ok.any():
        sol = np.linalg.lstsq(rxx[np.ix_(ok, ok)], rxy[ok], rcond=None)[0]
        src[ok] = sol
        src[~ok] = 0.0
    r2 = np.nansum(src * rxy, axis=0) if p else np.zeros(rxy.shape[1])
    if n is not None and n <= int(ok.sum()) + 1:  # as many unknowns as draws: an exact fit
        src[:] = np.nan
        r2[:] = np.nan
    constant = ~(sd[p:] > 0)  # a target without variance has no sensitivity
    src[:, constant] = np.nan
    r2[constant] = np.nan
    return src, r2


def src_precision(r2: np.ndarray, n: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted R² and the standard error of an SRC, for ``n`` draws of ``p`` inputs.

    Returns
    -------
    r2_adjusted : numpy.ndarray
        1 - (1 - R²)(n - 1)/(n - p - 1): R² corrected for the fit that ``p``
        inputs reach by chance; NaN where ``n <= p + 1``.
    se : numpy.ndarray
        sqrt((1 - R²)/(n - p - 1)), the standard error of a standardised
        coefficient when the inputs are sampled independently (their
        variance inflation is 1); NaN where ``n <= p + 1``.

    Notes
    -----
    From the OLS variance of a coefficient, σ²/((n - 1) s_x² (1 - R_j²)),
    in standardised units with R_j² = 0 (independent inputs).
    """
    r2 = np.asarray(r2, dtype=float)
    dof = n - p - 1
    if dof <= 0:
        return np.full_like(r2, np.nan), np.full_like(r2, np.nan)
    resid = np.clip(1.0 - r2, 0.0, None)
    return 1.0 - resid * (n - 1) / dof, np.sqrt(resid / dof)


def sobol_indices(y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total Sobol indices from the outputs of a Saltelli design.

    Parameters
    ----------
    y : numpy.ndarray, shape (N (k + 2), T)
        Model outputs in design order (see :func:`ndsim.sampling.saltelli_factors`):
        per base sample, A, B, then A with input i from B for i = 1..k.
    k : int
        Number of inputs.

    Returns
    -------
    first, total : numpy.ndarray, shape (k, T)
        NaN for a target without variance.

    Notes
    -----
    With V the variance of the A and B outputs together,

    .. math:: S_i = \\frac{1}{N V} \\sum_n y_B (y_{AB_i} - y_A), \\qquad
              S_{Ti} = \\frac{1}{2 N V} \\sum_n (y_A - y_{AB_i})^2

    (Saltelli et al. 2010, table 2, (b) and (f), the latter Jansen's), with y
    centred on the mean of the A and B outputs first. Sums run
    over the base samples in order, so the result does not depend on how the
    rows were split into chunks.

    References
    ----------
    Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M. and
    Tarantola, S. (2010). Variance based sensitivity analysis of model output.
    Computer Physics Communications 181, 259-270. doi:10.1016/j.cpc.2009.09.018
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0] // (k + 2)
    if n < 2 or n * (k + 2) != y.shape[0]:
        raise ValueError(f"need a whole number (>= 2) of base samples of {k + 2} rows")
    y = y.reshape(n, k + 2, -1)
    # centred on the mean of A and B: the same expectation, without the variance that
    # y_B's mean would bring into the first-order estimate
    y = y - np.mean(y[:, :2, :], axis=(0, 1))
    ya, yb, yab = y[:, 0, :], y[:, 1, :], y[:, 2:, :]
    v = np.var(np.concatenate([ya, yb]), axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.mean(yb[:, None, :] * (yab - ya[:, None, :]), axis=0) / v
        total = 0.5 * np.mean((ya[:, None, :] - yab) ** 2, axis=0) / v
    none = ~(v > 0)
    first[:, none] = np.nan
    total[:, none] = np.nan
    return first, total


def sobol_bootstrap(
    y: np.ndarray, k: int, *, resamples: int = 200, seed: int = 0, level: float = 0.95
) -> dict[str, np.ndarray]:
    """Bootstrap confidence intervals of the Sobol indices of :func:`sobol_indices`.

    The base samples (each with its k + 2 rows) are resampled with replacement
    `resamples` times (a generator seeded with `seed`, so the intervals are
    reproducible) and the indices recomputed; the interval is the central
    `level` of their distribution (percentile bootstrap; Saltelli et al.
    2010, section 4; Archer, Saltelli & Sobol 1997).

    Returns
    -------
    dict
        ``first_lo``, ``first_hi``, ``total_lo``, ``total_hi`` (k, T) and
        ``sum_first_lo``, ``sum_first_hi`` (T), the interval of the sum of the
        first-order indices.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0] // (k + 2)
    blocks = y.reshape(n, k + 2, -1)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, n))
    firsts, totals = [], []
    for pick in picks:  # a loop over resamples (a few hundred), each vectorised over inputs
        f, t = sobol_indices(blocks[pick].reshape(n * (k + 2), -1), k)
        firsts.append(f)
        totals.append(t)
    first, total = np.stack(firsts), np.stack(totals)
    tail = 100 * (1 - level) / 2
    lo, hi = tail, 100 - tail
    sums = first.sum(axis=1)
    with warnings.catch_warnings():  # a target without variance: NaN intervals, said once
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "first_lo": np.nanpercentile(first, lo, axis=0),
            "first_hi": np.nanpercentile(first, hi, axis=0),
            "total_lo": np.nanpercentile(total, lo, axis=0),
            "total_hi": np.nanpercentile(total, hi, axis=0),
            "sum_first_lo": np.nanpercentile(sums, lo, axis=0),
            "sum_first_hi": np.nanpercentile(sums, hi, axis=0),
        }


def sobol_warnings(first, total, ci: dict, inputs, targets, base: int) -> list[str]:
    """Where the Sobol estimates contradict their definition beyond their intervals.

    A first-order index cannot exceed its total index, and first-order indices
    cannot sum to more than 1; an estimate that does, beyond its 95 % interval,
    says the design is too small.
    """
    out = []
    for j, t in enumerate(targets):
        bad = [
            str(inputs[i])
            for i in range(len(inputs))
            if ci["first_lo"][i, j] > ci["total_hi"][i, j]
        ]
        if bad:
            out.append(
                f"{t}: first-order above total index beyond their intervals for "
                f"{', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''}"
            )
        if ci["sum_first_lo"][j] > 1:
            out.append(
                f"{t}: first-order indices sum to {np.nansum(first[:, j]):.2f} "
                f"(95 % interval from {ci['sum_first_lo'][j]:.2f}), above 1"
            )
    if out:
        out.append(
            f"the Saltelli design of {base} base samples is too small for these targets: "
            f"run --sobol {4 * base} or more (the intervals shrink as 1/sqrt(B))"
        )
    return out


# --- flat layout of a Dataset ---------------------------------------------------------


@dataclass
class Layout:
    """Where each variable of a Dataset sits in a flat (draw, value) matrix.

    ``keep[i]``, if not None, lists the flat positions (C order over the
    variable's dims without ``draw``) of variable i that are summarised; the
    others are the same in every draw by construction (node pairs of ``flow``
    without an edge: 0; years a flow is not modelled: NaN), left out of the
    matrix and put back by :meth:`unflatten` from ``fill[i]``, the variable's
    flat values in the Dataset the layout was made of.
    """

    names: list[str]
    dims: list[tuple[str, ...]]
    coords: dict
    shapes: list[tuple[int, ...]]
    attrs: dict
    offsets: list[int]
    keep: list[np.ndarray | None] | None = None
    fill: list[np.ndarray | None] | None = None

    @property
    def size(self) -> int:
        return self.offsets[-1]

    def _kept(self, i: int) -> np.ndarray | None:
        return None if self.keep is None else self.keep[i]

    def kept(self, name: str) -> np.ndarray | None:
        """The flat positions of ``name`` that vary (the rest from ``fill``), or None: all."""
        return self._kept(self.names.index(name))

    @classmethod
    def of(cls, ds: xr.Dataset, names, keep: dict[str, np.ndarray] | None = None) -> Layout:
        dims, shapes, offsets, attrs, kept = [], [], [0], {}, []
        fill: list[np.ndarray | None] = []
        coords = {}
        for name in names:
            da = ds[name]
            d = tuple(x for x in da.dims if x != cv.DRAW)
            dims.append(d)
            shapes.append(tuple(da.sizes[x] for x in d))
            k = None if keep is None or name not in keep else np.asarray(keep[name], np.int64)
            kept.append(k)
            if k is None:
                fill.append(None)
            else:  # what the left-out positions hold (the same in every draw)
                one = da.isel({cv.DRAW: 0}) if cv.DRAW in da.dims else da
                fill.append(np.asarray(one.transpose(*d).values, dtype=np.float64).ravel())
            width = int(np.prod(shapes[-1], dtype=np.int64)) if k is None else k.size
            offsets.append(offsets[-1] + width)
            attrs[name] = dict(da.attrs)
            for c in da.coords:
                if cv.DRAW not in da[c].dims:
                    coords[c] = da[c].variable
        return cls(list(names), dims, coords, shapes, attrs, offsets, kept, fill)

    def flatten(self, ds: xr.Dataset, n: int) -> np.ndarray:
        """(n, size) float64 matrix of the variables, draw first (broadcast if no draw dim)."""
        out = np.empty((n, self.size))
        for a, block in self.blocks(ds, n):
            out[:, a : a + block.shape[1]] = block
        return out

    def blocks(self, ds: xr.Dataset, n: int) -> Iterator[tuple[int, np.ndarray]]:
        """The columns of :meth:`flatten`, one variable at a time: (first column, (n, width))."""
        for i in range(len(self.names)):
            yield self.offsets[i], self._block(ds, n, i)

    def columns(self, ds: xr.Dataset, n: int, cols) -> np.ndarray:
        """(n, len(cols)) the columns ``cols`` of :meth:`flatten`, without the rest."""
        cols = np.asarray(cols, dtype=np.int64)
        out = np.empty((n, cols.size))
        for i, (a, b) in enumerate(zip(self.offsets[:-1], self.offsets[1:], strict=True)):
            inside = np.flatnonzero((cols >= a) & (cols < b))
            if inside.size:
                out[:, inside] = self._block(ds, n, i)[:, cols[inside] - a]
        return out

    def _block(self, ds: xr.Dataset, n: int, i: int) -> np.ndarray:
        """(n, width) the columns of variable i."""
        name, d, a, b = self.names[i], self.dims[i], self.offsets[i], self.offsets[i + 1]
        var = ds.variables[name]  # the Variable: no DataArray (and its coordinates) built
        k = self._kept(i)
        if k is not None and not set(d) <= set(var.dims):
            # already only the kept positions, in their order (flows kept as edges,
            # ndsim.flows): (draw, ...) with the kept positions' count per draw
            x = var.transpose(cv.DRAW, ...).values.reshape(n, -1)
            if x.shape[1] != b - a:
                raise ValueError(f"{name}: {x.shape[1]} values per draw, layout has {b - a}")
            return x
        if cv.DRAW in var.dims:
            arr = var.transpose(cv.DRAW, *d).values
        else:
            arr = np.broadcast_to(var.transpose(*d).values, (n, *var.shape))
        return arr.reshape(n, b - a) if k is None else arr.reshape(n, -1)[:, k]

    def _base(self, i: int) -> np.ndarray:
        """The flat values of variable i's left-out positions (``fill``, or zeros)."""
        filled = None if self.fill is None else self.fill[i]
        if filled is None:
            return np.zeros(int(np.prod(self.shapes[i], dtype=np.int64)))
        return filled

    def expand(self, name: str, values: np.ndarray) -> np.ndarray:
        """(n, *shape) values of ``name`` from its (n, kept) values: the rest from ``fill``."""
        i = self.names.index(name)
        k = self._kept(i)
        n = values.shape[0]
        if k is None:
            return values.reshape((n, *self.shapes[i]))
        out = np.repeat(self._base(i)[None, :].astype(values.dtype), n, axis=0)
        out[:, k] = values.reshape(n, -1)
        return out.reshape((n, *self.shapes[i]))

    def expand_slabs(self, name: str, values: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`expand` of a variable kept on some positions, a slab at a time along the
        first dim after the draws: (i, the (n, *shape[1:]) values of index i there), i in
        order.

        The same numbers as ``expand(name, values)[:, i]``; memory holds one slab, not
        the whole (n, *shape) array (for the flow matrices of 1,000 draws, 3 MB slabs
        by origin node instead of 46 MB).
        """
        i = self.names.index(name)
        k, shape = self._kept(i), self.shapes[i]
        if k is None or not shape:
            raise ValueError(f"{name}: not kept on some positions of an array")
        n = values.shape[0]
        values = values.reshape(n, -1)
        if not np.all(np.diff(k) > 0):  # positions out of order: sort them with their values
            order = np.argsort(k, kind="stable")
            k, values = k[order], values[:, order]
        base = self._base(i)
        inner = int(np.prod(shape[1:], dtype=np.int64))
        bounds = np.searchsorted(k, np.arange(shape[0] + 1) * inner)
        for j in range(shape[0]):
            slab = np.empty((n, inner), dtype=values.dtype)
            slab[:] = base[j * inner : (j + 1) * inner].astype(values.dtype)
            a, b = bounds[j], bounds[j + 1]
            if b > a:
                slab[:, k[a:b] - j * inner] = values[:, a:b]
            yield j, slab.reshape((n, *shape[1:]))

    def unflatten(self, mat: np.ndarray, lead: str, lead_coord) -> xr.Dataset:
        """Dataset with dims (lead, *dims) from a (m, size) matrix."""
        data = {}
        for name, d, a, b in zip(
            self.names, self.dims, self.offsets[:-1], self.offsets[1:], strict=True
        ):
            values = self.expand(name, mat[:, a:b])
            data[name] = xr.Variable((lead, *d), values, self.attrs[name])
        ds = xr.Dataset(data)
        for c, var in self.coords.items():
            if set(var.dims) <= set(ds.dims):
                ds = ds.assign_coords({c: var})
        return ds.assign_coords({lead: lead_coord})


def summary_dataset(
    layout: Layout,
    stats: dict[str, np.ndarray],
    deterministic: np.ndarray,
    *,
    hist: HistSpec | None = None,
) -> xr.Dataset:
    """Dataset on the ``stat`` coordinate (conventions.STATS) from flat summary arrays."""
    rows = [deterministic if s == "deterministic" else stats[s] for s in cv.STATS]
    ds = layout.unflatten(np.stack(rows), cv.STAT, list(cv.STATS))
    for name, a, b in zip(layout.names, layout.offsets[:-1], layout.offsets[1:], strict=True):
        if hist is None:
            ds[name].attrs["percentile_method"] = "exact (numpy.quantile, linear)"
        else:
            ds[name].attrs["percentile_method"] = (
                f"integer-count histogram, {hist.nbins} bins over the range of the first "
                f"{PILOT} draws widened by {PILOT_MARGIN:g} of it on each side; error below "
                "one bin width"
            )
            ds[name].attrs["percentile_resolution"] = float(np.max(hist.width[a:b], initial=0.0))
        ds[name].attrs["sd_ddof"] = 1
    return ds
