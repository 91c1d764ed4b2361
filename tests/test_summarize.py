"""Tests of ndsim.summarize: chunk-independent moments, exact and histogram percentiles."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from ndsim import conventions as cv
from ndsim import summarize as sm


def run(x, z, chunk, hist=None, leaf=sm.LEAF, checkpoint_at=None):
    acc = sm.Accumulator(x.shape[0], x.shape[1], z.shape[1], hist=hist, leaf=leaf)
    for a in range(0, x.shape[0], chunk):
        part = sm.reduce_chunk(
            x[a : a + chunk], z[a : a + chunk], a, leaf=leaf, hist=hist, keep_values=hist is None
        )
        acc.add(part)
        if checkpoint_at is not None and a // chunk == checkpoint_at:
            acc = sm.Accumulator.from_state(acc.state())
    return acc.result()


@pytest.fixture
def data(rng):
    n, s, p = 1234, 20, 3
    x = rng.lognormal(0.0, 0.7, size=(n, s)) * rng.uniform(1, 100, size=s)
    x[:, 0] = 5.0  # a constant value
    x[:, 1] = -x[:, 1]  # negative values
    return x, rng.normal(size=(n, p))


@settings(max_examples=25, deadline=None)
@given(chunk=st.integers(1, 1300), other=st.integers(1, 1300), exact=st.booleans())
def test_summaries_independent_of_chunk_size(chunk, other, exact):
    rng = np.random.default_rng(1)
    x = rng.normal(10, 3, size=(1234, 7))
    z = rng.normal(size=(1234, 2))
    hist = None if exact else sm.HistSpec.from_pilot(x[: sm.PILOT])
    (a, ra), (b, rb) = run(x, z, chunk, hist), run(x, z, other, hist)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert np.array_equal(ra.zc, rb.zc)


def test_moments_against_numpy(data):
    x, z = data
    stats, root = run(x, z, 97)
    np.testing.assert_allclose(stats["mean"], x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(stats["sd"], x.std(0, ddof=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(root.zc / (x.shape[0] - 1), np.cov(z.T), rtol=1e-12, atol=1e-14)
    assert stats["sd"][0] == 0.0 and stats["mean"][0] == 5.0


def test_leaf_moments_plain_loop():
    x = np.random.default_rng(3).normal(size=(7, 3))
    mean, m2 = sm.leaf_moments(x)
    for j in range(3):
        s = 0.0
        for i in range(7):
            s += x[i, j]
        mu = s / 7
        q = 0.0
        for i in range(7):
            q += (x[i, j] - mu) ** 2
        assert mean[j] == mu and m2[j] == q


def test_exact_percentiles_are_numpy_quantile(data):
    x, z = data
    stats, _ = run(x, z, 300)
    for name, p in sm.QUANTILES.items():
        np.testing.assert_array_equal(stats[name], np.quantile(x, p, axis=0))


def test_histogram_percentiles_within_resolution(data):
    """Histogram percentiles differ from exact ones by less than one bin width."""
    x, z = data
    hist = sm.HistSpec.from_pilot(x[: sm.PILOT])
    stats, _ = run(x, z, 250, hist)
    for name, p in sm.QUANTILES.items():
        exact = np.quantile(x, p, axis=0)
        err = np.abs(stats[name] - exact)
        assert np.all(err <= hist.width), (name, (err / hist.width).max())
    assert np.all(stats["q50"][0] == 5.0)  # constant value: exact


def test_histogram_percentiles_are_those_of_the_placed_order_statistics(rng):
    """Each count stands for values placed at the centres of equal shares of its bin (the
    minimum in the underflow bin, the maximum in the overflow bin): the percentiles from
    the counts are numpy's linear percentiles of those placed values, clipped to the
    extremes; a row without counts is NaN."""
    nbins, s = 12, 40
    counts = rng.integers(0, 4, size=(s, nbins + 2)) * (rng.random((s, nbins + 2)) < 0.6)
    counts[3] = 0  # no counts
    counts[4] = 0
    counts[4, 0] = 5  # only under the bins
    counts[5] = 0
    counts[5, -1] = 2  # only over them
    counts[6] = 0
    counts[6, 7] = 1  # one value
    lo = rng.normal(size=s) * 10.0
    width = rng.uniform(0.1, 2.0, size=s)
    vmin = lo - rng.uniform(0.0, 3.0, size=s)
    vmax = lo + nbins * width + rng.uniform(0.0, 3.0, size=s)
    vmax[7] = lo[7] + 0.5 * width[7]  # a maximum inside the bins: clipped to it
    probs = np.array([0.0, 0.025, 0.25, 0.5, 0.75, 0.975, 1.0])
    got = sm.hist_quantiles(counts, sm.HistSpec(lo, width, nbins), probs, vmin, vmax)
    for j in range(s):
        placed = []
        for b, c in enumerate(counts[j]):
            for r in range(c):
                if b == 0:
                    placed.append(vmin[j])
                elif b == nbins + 1:
                    placed.append(vmax[j])
                else:
                    placed.append(lo[j] + (b - 1 + (r + 0.5) / c) * width[j])
        if not placed:
            assert np.isnan(got[:, j]).all()
            continue
        want = np.clip(np.quantile(np.sort(placed), probs, method="linear"), vmin[j], vmax[j])
        np.testing.assert_allclose(got[:, j], want, rtol=1e-13, atol=1e-12)
    assert got[0, 4] == vmin[4] and got[-1, 5] == vmax[5]
    assert (got[:, 7] <= vmax[7]).all()


def test_histogram_resolution_coarse_bins_still_bounded(rng):
    """With only 16 bins the bound is still one bin width, and it is not trivially met."""
    x = rng.normal(size=(5000, 4))
    z = np.zeros((5000, 1))
    hist = sm.HistSpec.from_pilot(x[:1000], nbins=16)
    stats, _ = run(x, z, 999, hist)
    errs = []
    for name, p in sm.QUANTILES.items():
        err = np.abs(stats[name] - np.quantile(x, p, axis=0))
        assert np.all(err <= hist.width)
        errs.append(err / hist.width)
    assert np.max(errs) > 1e-3  # the histogram is really approximate at this resolution


def test_histogram_percentiles_in_blocks_of_values_and_small_count_types(rng, monkeypatch):
    """Blocks of 3 values give the percentiles of one block; uint16 chunk counts and uint32
    totals give those of int64 counts; the count types follow the largest count."""
    x = rng.normal(size=(3000, 8)) * np.arange(1, 9)
    z = np.zeros((3000, 1))
    hist = sm.HistSpec.from_pilot(x[:1000])
    stats, _ = run(x, z, 700, hist)
    counts = np.zeros((8, hist.nbins + 2), dtype=np.int64)  # counted by hand
    t = (x - hist.lo) * (1.0 / hist.width)  # as the compiled counter computes it
    b = np.where(t < 0, 0, np.where(t >= hist.nbins, hist.nbins + 1, np.floor(t).astype(int) + 1))
    for j in range(8):
        np.add.at(counts[j], b[:, j], 1)
    probs = np.array(list(sm.QUANTILES.values()))
    whole = sm.hist_quantiles(counts, hist, probs, x.min(axis=0), x.max(axis=0))
    monkeypatch.setattr(sm, "_QUANTILE_ROWS", 3)
    blocks = sm.hist_quantiles(counts, hist, probs, x.min(axis=0), x.max(axis=0))
    assert np.array_equal(whole, blocks)
    for k, name in enumerate(sm.QUANTILES):
        assert np.array_equal(stats[name], whole[k])
    assert sm.reduce_chunk(x[:700], z[:700], 0, hist=hist).counts.dtype == np.uint16
    assert sm.count_dtype(65_535) is np.uint16 and sm.count_dtype(65_536) is np.uint32
    assert sm.count_dtype(2**32 - 1) is np.uint32 and sm.count_dtype(2**32) is np.uint64


def hand_counts(x, hist):
    """Histogram counts (values, bins) as int64, counted with numpy."""
    counts = np.zeros((x.shape[1], hist.nbins + 2), dtype=np.int64)
    t = (x - hist.lo) * (1.0 / hist.width)  # as the compiled counter computes it
    b = np.where(t < 0, 0, np.where(t >= hist.nbins, hist.nbins + 1, np.floor(t).astype(int) + 1))
    for j in range(x.shape[1]):
        np.add.at(counts[j], b[:, j], 1)
    return counts


def test_counts_over_many_columns_are_numpys(rng):
    """The reduction takes the columns in tiles of ``_TILE``; across more than two
    tiles (the last one short) every column's counts are those counted with numpy."""
    width = 2 * sm._TILE + 37
    x = rng.normal(size=(400, width)) * rng.uniform(0.5, 3.0, width)
    hist = sm.HistSpec.from_pilot(x[:250])  # later values fall outside the range too
    assert hist.varying_cols.size == width
    part = sm.reduce_chunk(x, np.zeros((400, 1)), 0, hist=hist)
    np.testing.assert_array_equal(part.counts, hand_counts(x, hist))


def test_a_partial_travels_with_its_counts_packed(rng):
    """Pickled, a chunk's counts go as one byte per bin and the large counts apart; merged,
    they give the counts, carries and percentiles of the partials that never travelled."""
    import pickle

    n = 3000
    x = rng.normal(size=(n, 3))
    x[:, 1] = np.where(rng.uniform(size=n) < 0.95, 2.0, x[:, 1])  # a point mass: big bins
    z = np.zeros((n, 1))
    hist = sm.HistSpec.from_pilot(x[:1000])
    direct = sm.Accumulator(n, 3, 1, hist=hist)
    sent = sm.Accumulator(n, 3, 1, hist=hist)
    for a in range(0, n, 1000):
        part = sm.reduce_chunk(x[a : a + 1000], z[a : a + 1000], a, hist=hist)
        wire = pickle.dumps(part)
        back = pickle.loads(wire)
        assert isinstance(back.counts, sm.PackedCounts) and back.counts.low.dtype == np.uint8
        assert back.counts.pos.size >= 1 and back.counts.value.max() >= 256
        np.testing.assert_array_equal(back.counts.dense(), part.counts)
        assert len(wire) < 0.6 * part.counts.nbytes + 100_000
        direct.add(part)
        sent.add(back)
    np.testing.assert_array_equal(sent.counts, direct.counts)
    np.testing.assert_array_equal(sent.full_counts()[0:3], hand_counts(x, hist))
    a, _ = direct.result()
    b, _ = sent.result()
    for name in sm.QUANTILES:
        np.testing.assert_array_equal(a[name], b[name])


def test_packed_windows_span_first_to_last_occupied_bin(rng):
    """Each row's window runs from its first to its last non-zero bin (np.flatnonzero),
    whatever the lengths of its empty ends (shorter and longer than the blocks the scan
    skips, none, all), and unpacks to the counts."""
    bins = 70
    ends = [(0, 0), (1, 2), (15, 16), (16, 15), (17, 33), (32, 0), (0, 47), (34, 35), (69, 0)]
    rows = []
    for lead, tail in ends:
        row = np.zeros(bins, dtype=np.uint16)
        row[lead : bins - tail] = rng.integers(0, 3, bins - lead - tail)
        row[lead] = row[bins - tail - 1] = 1 + rng.integers(0, 400)  # some past 255
        rows.append(row)
    for alone in ([16], [0, 69], [16, 53], [32, 33], [5]):  # long empty runs inside too
        row = np.zeros(bins, dtype=np.uint16)
        row[alone] = 1
        rows.append(row)
    rows.append(np.zeros(bins, dtype=np.uint16))  # no counts
    counts = np.stack(rows)
    packed = sm.PackedCounts.of(counts)
    for r, row in enumerate(counts):
        nz = np.flatnonzero(row)
        want = (nz[0], nz[-1] - nz[0] + 1) if nz.size else (0, 0)
        assert (packed.first[r], packed.width[r]) == want
    np.testing.assert_array_equal(packed.dense(), counts)


def test_packed_counts_add_with_their_carries(rng):
    """Counts packed as windows (rows empty, full, at either edge, large counts apart), and
    uint16 counts not packed, add into the accumulator's uint16 counts as int64 counts
    add: wrapped bins carried."""
    rows, bins = 40, 37
    counts = (rng.uniform(size=(rows, bins)) < 0.3) * rng.integers(1, 256, size=(rows, bins))
    counts[3] = 0  # an empty row
    counts[4] = rng.integers(1, 5, size=bins)  # a full one
    counts[5, [0, -1]] = 7  # its window at both edges
    counts[6, 10] = 70_000  # a count apart, past 65,535 alone
    counts[7, [2, 30]] = [300, 255]
    packed = sm.PackedCounts.of(counts.astype(np.uint32))
    assert packed.width[3] == 0 and packed.width[4] == bins and packed.width[5] == bins
    assert packed.low.size == packed.width.sum() and sorted(packed.value) == [300, 70_000]
    np.testing.assert_array_equal(packed.dense(), counts)
    before = rng.integers(0, 65_536, size=(rows, bins))
    before[: rows // 2] = rng.integers(65_300, 65_536, size=(rows // 2, bins))  # wraps
    acc = sm.Accumulator(10, 1, 1, hist=sm.HistSpec(np.zeros(rows), np.ones(rows), bins - 2))
    acc.counts[:] = before
    acc._add_counts(packed)
    assert len(acc.carry) > 50
    np.testing.assert_array_equal(acc.full_counts()[0:rows], before + counts)
    # uint16 counts as a chunk of this process gives them, added without packing
    dense = counts.copy()
    dense[6, 10] = 60_000  # (wraps on its own above 5,536)
    acc.counts[:] = before
    acc.carry = {}
    acc._add_counts(dense.astype(np.uint16))
    assert acc.carry.get(6 * bins + 10) == (1 if before[6, 10] + 60_000 > 65_535 else None)
    np.testing.assert_array_equal(acc.full_counts()[0:rows], before + dense)


def test_bins_of_fixed_values_some_or_all():
    """The bin of a fixed column's value is the one the binning kernel counts it in."""
    lo, width = np.array([0.0, 0.0, -1.0, 5.0]), np.array([0.5, 1.0, 0.25, 1.0])
    fixed = np.array([True, False, True, True])
    hist = sm.HistSpec(lo, width, 4, fixed, np.array([0.75, -2.0, np.nan]))
    # by hand: (0.75 - 0) / 0.5 = 1.5 -> bin 2; below the range -> 0; NaN -> -1
    assert hist.bin_of_fixed().tolist() == [2, 0, -1]
    assert hist.bin_of_fixed(np.array([2, 0])).tolist() == [-1, 2]


def test_ensemble_counts_carry_bins_past_65535_draws(rng):
    """The ensemble's uint16 counts carry what passes 65,535 draws in a bin apart: the
    counts, the percentiles and a checkpoint are those of int64 counts made by hand."""
    import pickle

    n = 200_000
    x = rng.integers(0, 3, size=(n, 3)) * 0.25  # three values, about 66,700 draws each
    x[:, 1] += rng.normal(size=n)  # spread over the bins: no carry
    x[:, 2] = np.where(rng.uniform(size=n) < 0.9, 0.5, x[:, 2])  # 180,000 draws in a bin
    z = np.zeros((n, 1))
    hist = sm.HistSpec.from_pilot(x[:1000])
    assert hist.varying_cols.tolist() == [0, 1, 2]
    acc = sm.Accumulator(n, 3, 1, hist=hist)
    # a chunk of over 65,535 draws (uint32 counts, a bin may carry twice), then uint16 ones
    for a, b in ((0, 100_000), (100_000, 130_000), (130_000, 160_000), (160_000, n)):
        part = sm.reduce_chunk(x[a:b], z[a:b], a, hist=hist)
        assert part.counts.dtype == (np.uint32 if b - a > 65_535 else np.uint16)
        if a >= 130_000:  # as a worker sends it: the counts packed, the large ones apart
            part = pickle.loads(pickle.dumps(part))
            assert isinstance(part.counts, sm.PackedCounts)
        acc.add(part)
        if a == 100_000:  # a checkpoint with carries restores them
            acc = sm.Accumulator.from_state(acc.state())
    counts = hand_counts(x, hist)
    assert acc.counts.dtype == np.uint16 and counts.max() > 2 * 65_535
    assert acc.carry and max(acc.carry.values()) == counts.max() >> 16
    assert np.array_equal(acc.full_counts()[0:3], counts)
    assert np.array_equal(acc.full_counts()[1:3], counts[1:3])
    probs = np.array(list(sm.QUANTILES.values()))
    expected = sm.hist_quantiles(counts, hist, probs, x.min(axis=0), x.max(axis=0))
    stats, _ = acc.result()
    for k, name in enumerate(sm.QUANTILES):
        assert np.array_equal(stats[name], expected[k])
    assert stats["q50"][2] == 0.5
    # a checkpoint of wider counts without carries (as written before them) restores too
    wide = acc.state()
    wide["counts"] = counts.astype(np.uint32)
    del wide["carry_pos"], wide["carry"]
    np.testing.assert_array_equal(sm.Accumulator.from_state(wide).full_counts()[0:3], counts)


def test_histogram_outside_pilot_range_uses_extremes():
    x = np.concatenate([np.zeros(100), np.arange(1.0, 11.0) * 1e6]).reshape(-1, 1)
    z = np.zeros((110, 1))
    hist = sm.HistSpec.from_pilot(x[:50])  # pilot sees zeros only
    stats, _ = run(x, z, 7, hist)
    assert stats["q975"][0] <= 1e7 and stats["q975"][0] >= 1e6  # between overflow extremes
    assert abs(stats["q50"][0]) <= hist.width[0]


def test_checkpoint_restores_exactly(data):
    x, z = data
    hist = sm.HistSpec.from_pilot(x[: sm.PILOT])
    for h in (None, hist):
        a, _ = run(x, z, 150, h)
        b, _ = run(x, z, 150, h, checkpoint_at=3)
        for k in a:
            assert np.array_equal(a[k], b[k])


def test_out_of_order_chunk_refused(data):
    x, z = data
    acc = sm.Accumulator(x.shape[0], x.shape[1], z.shape[1])
    with pytest.raises(ValueError, match="expected 0"):
        acc.add(sm.reduce_chunk(x[10:20], z[10:20], 10, keep_values=True))


def test_src_recovers_linear_model(rng):
    n = 20000
    xs = rng.normal(size=(n, 3)) * np.array([1.0, 2.0, 0.5])
    y = 3 * xs[:, 0] + 1 * xs[:, 1] + 0 * xs[:, 2] + rng.normal(scale=0.1, size=n)
    z = np.column_stack([xs, y])
    _, root = run(np.zeros((n, 1)), z, 1000, sm.HistSpec.from_pilot(np.zeros((10, 1))))
    src, r2 = sm.src_from_comoments(root.zc, 3)
    sy = np.sqrt(9 * 1 + 1 * 4 + 0.01)
    np.testing.assert_allclose(src[:, 0], [3 / sy, 2 / sy, 0.0], atol=0.01)
    assert abs(r2[0] - (13 / (13.01))) < 0.01


def test_layout_roundtrip_and_summary_dataset(rng):
    ds = xr.Dataset(
        {
            "stock": (("draw", "product", "year"), rng.normal(size=(5, 2, 3))),
            "total_demand": (("draw", "year"), rng.normal(size=(5, 3))),
            "fixed": (("year",), np.arange(3.0)),
        },
        coords={"product": ["a", "b"], "year": [2000, 2001, 2002], "draw": np.arange(5)},
    )
    ds.stock.attrs["units"] = "t"
    lay = sm.Layout.of(ds, ["stock", "total_demand", "fixed"])
    mat = lay.flatten(ds, 5)
    assert mat.shape == (5, 6 + 3 + 3)
    picked = lay.columns(ds, 5, [7, 0, 11])  # total_demand 2001, stock a 2000, fixed 2002
    expected = [ds.total_demand.values[:, 1], ds.stock.values[:, 0, 0], np.full(5, 2.0)]
    assert np.array_equal(picked, np.column_stack(expected))
    back = lay.unflatten(mat, "draw", np.arange(5))
    xr.testing.assert_equal(back.stock, ds.stock)
    assert np.all(back.fixed.values == np.arange(3.0))
    stats = {k: mat[i % 5] for i, k in enumerate(["mean", "sd", *sm.QUANTILES])}
    out = sm.summary_dataset(lay, stats, mat[0])
    assert list(out.stat.values) == list(cv.STATS)
    assert out.stock.dims == ("stat", "product", "year") and out.stock.attrs["units"] == "t"


def test_left_out_columns_come_back_as_the_deterministic_values(rng):
    """Positions outside ``keep`` (0 off the edges, NaN where not modelled) are not in the
    matrix; every statistic there is the value they hold in every draw."""
    x = np.zeros((4, 3, 2))  # (draw, pair, year): pair 1 is an edge, 0 and 2 are not
    x[:, 1, :] = rng.normal(size=(4, 2))
    x[:, :, 1] = np.where(np.arange(3) == 1, x[:, :, 1], np.nan)  # year 1: NaN off the edge
    ds = xr.Dataset({"m": (("draw", "pair", "year"), x)}, coords={"draw": np.arange(4)})
    keep = np.array([2, 3])  # flat (pair, year) positions of pair 1
    lay = sm.Layout.of(ds, ["m"], {"m": keep})
    mat = lay.flatten(ds, 4)
    assert mat.shape == (4, 2) and np.array_equal(mat, x[:, 1, :])
    # a column by its place among the kept positions (as sensitivity targets are picked)
    assert np.array_equal(lay.columns(ds, 4, [1]), x[:, 1, 1:])
    back = lay.unflatten(mat, "draw", np.arange(4))
    assert np.array_equal(back.m.values, x, equal_nan=True)
    stats = {k: mat.mean(axis=0) for k in ["mean", "sd", *sm.QUANTILES]}
    out = sm.summary_dataset(lay, stats, mat[0])
    expect = np.array([[0.0, np.nan], [np.nan, np.nan], [0.0, np.nan]])
    expect[1] = x[:, 1, :].mean(axis=0)
    assert np.array_equal(out.m.sel(stat="mean").values, expect, equal_nan=True)


@pytest.mark.parametrize("chunk", [1, 37, 500])
def test_fixed_columns_count_as_if_every_value_were_binned(rng, chunk):
    """Columns constant in the pilot (value, zero, NaN) are counted without binning each
    draw; where they move later, the counts must equal binning every value."""
    n = 600
    x = rng.normal(10, 2, size=(n, 8))
    x[:, 1] = 0.0  # fixed, never moves
    x[:, 2] = np.nan  # fixed NaN, never moves
    x[:, 3] = 4.0
    x[450:, 3] = rng.normal(4, 1, size=150)  # fixed in the pilot, moves later
    x[:, 4] = np.nan
    x[500:510, 4] = 1.0  # NaN in the pilot, values later
    x[:, 5] = -3.0
    x[:, 6] = 2.5
    x[520, 6] = np.nan  # fixed in the pilot, one NaN later: its extremes stay 2.5
    x[:, 7] = 0.0
    x[530:540, 7] = -0.0  # equal to 0.0: still fixed
    z = rng.normal(size=(n, 2))
    pilot = x[:100]
    hist = sm.HistSpec.from_pilot(pilot)
    assert hist.fixed.tolist() == [False] + [True] * 7
    part = sm.reduce_chunk(x[500:], z[500:], 500, hist=hist)
    assert part.other_cols.tolist() == [2, 3, 5]  # columns 3, 4 and 6 of the fixed ones
    every = sm.HistSpec(hist.lo, hist.width, hist.nbins)  # bins every value of every column
    assert not every.fixed.any()
    a, _ = run(x, z, chunk, hist, checkpoint_at=1)
    b, _ = run(x, z, 600, every)
    for k in sm.QUANTILES:
        assert np.array_equal(a[k], b[k], equal_nan=True), k
    assert a["q50"][1] == 0.0 and a["q975"][5] == -3.0 and np.isnan(a["q50"][2])
    assert np.isnan(a["q50"][4]) and np.isnan(a["q50"][6])  # NaN in some draws
    assert a["q025"][7] == 0.0 and a["q975"][7] == 0.0
    # the moved column really is spread: its percentiles differ from the fixed value
    assert a["q975"][3] > 4.0 and a["q025"][3] < 4.0


def test_pilot_statistics_of_pieces_equal_the_whole(rng):
    x = rng.normal(size=(90, 5))
    x[:, 1] = 2.0
    x[:, 2] = np.nan
    x[:, 3] = 1.0
    x[60:, 3] = 1.5  # constant in the first pieces only
    x[:30, 4] = np.nan  # NaN in the first piece only
    whole = sm.HistSpec.from_pilot(x)
    stats = sm.merge_pilot_stats([sm.pilot_stats(x[a : a + 30]) for a in (0, 30, 60)])
    pieced = sm.HistSpec.from_pilot_stats(stats)
    assert whole.fixed.tolist() == [False, True, True, False, False]
    for name in ("lo", "width", "fixed"):
        assert np.array_equal(getattr(whole, name), getattr(pieced, name)), name
    assert np.array_equal(whole.fixed_value, pieced.fixed_value, equal_nan=True)


def test_sobol_indices_of_the_ishigami_function(rng):
    """Saltelli/Jansen estimators against the closed-form indices (Ishigami, a = 7, b = 0.1)."""
    n, k = 2**14, 3
    a_, b_ = 7.0, 0.1
    A = rng.uniform(-np.pi, np.pi, (n, k))
    B = rng.uniform(-np.pi, np.pi, (n, k))
    blocks = [A, B]
    for i in range(k):
        ab = A.copy()
        ab[:, i] = B[:, i]
        blocks.append(ab)
    x = np.stack(blocks, axis=1).reshape(-1, k)  # design order: per base sample A, B, AB_i
    y = np.sin(x[:, 0]) + a_ * np.sin(x[:, 1]) ** 2 + b_ * x[:, 2] ** 4 * np.sin(x[:, 0])
    first, total = sm.sobol_indices(y[:, None], k)
    # closed form (Ishigami & Homma 1990; e.g. Saltelli et al. 2010, section 4)
    v1 = 0.5 * (1 + b_ * np.pi**4 / 5) ** 2
    v2 = a_**2 / 8
    v13 = b_**2 * np.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    np.testing.assert_allclose(first[:, 0], [v1 / v, v2 / v, 0.0], atol=0.03)
    np.testing.assert_allclose(total[:, 0], [(v1 + v13) / v, v2 / v, v13 / v], atol=0.03)


def test_sobol_indices_refuse_a_broken_design():
    with pytest.raises(ValueError, match="whole number"):
        sm.sobol_indices(np.zeros((11, 1)), 3)


# --- Sobol confidence intervals ---------------------------------------------------------


def _saltelli_rows(rng, n, a):
    """A Saltelli design for y = sum_i a_i x_i, x_i ~ N(0, 1): rows A, B, AB_1..AB_k per sample."""
    k = len(a)
    A, B = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    rows = []
    for s in range(n):
        rows.append(A[s] @ a)
        rows.append(B[s] @ a)
        for i in range(k):
            ab = A[s].copy()
            ab[i] = B[s, i]
            rows.append(ab @ a)
    return np.array(rows)[:, None]


def _indices_by_hand(y, k):
    """Saltelli et al. (2010) (b) and (f), written out with loops (the independent reference)."""
    n = len(y) // (k + 2)
    ya = [y[s * (k + 2)] for s in range(n)]
    yb = [y[s * (k + 2) + 1] for s in range(n)]
    mean = (sum(ya) + sum(yb)) / (2 * n)
    both = [v - mean for v in ya + yb]
    var = sum(v * v for v in both) / (2 * n - 1)
    first, total = [], []
    for i in range(k):
        yab = [y[s * (k + 2) + 2 + i] - mean for s in range(n)]
        a_c = [v - mean for v in ya]
        b_c = [v - mean for v in yb]
        first.append(sum(b_c[s] * (yab[s] - a_c[s]) for s in range(n)) / n / var)
        total.append(0.5 * sum((a_c[s] - yab[s]) ** 2 for s in range(n)) / n / var)
    return first, total


def test_sobol_bootstrap_equals_resampling_by_hand():
    rng = np.random.default_rng(4)
    a = np.array([2.0, 1.0, 0.5])
    y = _saltelli_rows(rng, 40, a)[:, 0]
    k = 3
    ci = sm.sobol_bootstrap(y[:, None], k, resamples=30, seed=11)
    picks = np.random.default_rng(11).integers(0, 40, size=(30, 40))
    firsts, totals = [], []
    for pick in picks:
        rows = np.concatenate([y[s * (k + 2) : (s + 1) * (k + 2)] for s in pick])
        f, t = _indices_by_hand(list(rows), k)
        firsts.append(f)
        totals.append(t)
    np.testing.assert_allclose(ci["first_lo"][:, 0], np.percentile(firsts, 2.5, axis=0), rtol=1e-9)
    np.testing.assert_allclose(ci["total_hi"][:, 0], np.percentile(totals, 97.5, axis=0), rtol=1e-9)
    sums = np.sum(firsts, axis=1)
    np.testing.assert_allclose(ci["sum_first_hi"][0], np.percentile(sums, 97.5), rtol=1e-9)


def test_sobol_intervals_cover_the_analytic_indices_of_a_linear_model():
    """y = 2 x1 + x2: S1 = S_T = (4/5, 1/5) exactly."""
    rng = np.random.default_rng(8)
    y = _saltelli_rows(rng, 1500, np.array([2.0, 1.0]))
    ci = sm.sobol_bootstrap(y, 2, seed=2)
    truth = np.array([0.8, 0.2])
    assert np.all(ci["first_lo"][:, 0] <= truth) and np.all(truth <= ci["first_hi"][:, 0])
    assert np.all(ci["total_lo"][:, 0] <= truth) and np.all(truth <= ci["total_hi"][:, 0])
    assert (
        ci["sum_first_lo"][0] <= 1.0 <= ci["sum_first_hi"][0] + 1e-12
        or ci["sum_first_hi"][0] >= 0.95
    )


def test_sobol_warns_where_the_estimates_contradict_their_definition():
    first = np.array([[0.9], [0.6]])
    total = np.array([[0.5], [0.7]])
    ci = {
        "first_lo": np.array([[0.8], [0.4]]),
        "first_hi": np.array([[1.0], [0.8]]),
        "total_lo": np.array([[0.4], [0.5]]),
        "total_hi": np.array([[0.6], [0.9]]),
        "sum_first_lo": np.array([1.2]),
        "sum_first_hi": np.array([1.8]),
    }
    lines = sm.sobol_warnings(first, total, ci, ["x1", "x2"], ["y"], 64)
    assert any("above total" in line and "x1" in line and "x2" not in line for line in lines)
    assert any("sum to 1.50" in line for line in lines)
    assert "--sobol 256" in lines[-1]
    # within their intervals: nothing to say
    ci_ok = {**ci, "first_lo": np.array([[0.4], [0.4]]), "sum_first_lo": np.array([0.9])}
    assert sm.sobol_warnings(first, total, ci_ok, ["x1", "x2"], ["y"], 64) == []


def test_src_is_not_identified_with_as_many_unknowns_as_draws(rng):
    """n = p + 1 draws: least squares fits any target exactly (numpy's R² is 1), so NaN."""
    p = 6
    for n, identified in ((p + 1, False), (p + 2, True)):
        xs = rng.normal(size=(n, p))
        y = rng.normal(size=n)  # pure noise: no input explains it
        design = np.column_stack([np.ones(n), xs])
        resid = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
        exact = float(resid @ resid) < 1e-20 * float(((y - y.mean()) ** 2).sum())
        assert exact is not identified  # the reference: a plain least-squares fit
        zc = np.cov(np.column_stack([xs, y]), rowvar=False)
        src, r2 = sm.src_from_comoments(zc, p, n)
        assert bool(np.isnan(src).all()) == (not identified)
        assert bool(np.isnan(r2).all()) == (not identified)


def test_src_precision_against_repeated_regressions(rng):
    """Adjusted R² by its formula on a hand fit; the stated se against the spread of the SRC
    over 400 independent replicates of the same design."""
    n, p = 60, 8
    beta = np.array([1.0, 0.5, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0])
    srcs, r2s = [], []
    for _ in range(400):
        xs = rng.normal(size=(n, p))
        y = xs @ beta + rng.normal(size=n)
        zc = np.cov(np.column_stack([xs, y]), rowvar=False)
        src, r2 = sm.src_from_comoments(zc, p, n)
        srcs.append(src[:, 0])
        r2s.append(r2[0])
    srcs, r2s = np.array(srcs), np.array(r2s)
    # one replicate by hand: R² = 1 - SSres/SStot, adjusted with (n - 1)/(n - p - 1)
    design = np.column_stack([np.ones(n), xs])
    resid = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r2_hand = 1 - (resid @ resid) / ((y - y.mean()) @ (y - y.mean()))
    adj, se = sm.src_precision(np.array([r2_hand]), n, p)
    np.testing.assert_allclose(r2s[-1], r2_hand, rtol=1e-10)
    np.testing.assert_allclose(adj[0], 1 - (1 - r2_hand) * (n - 1) / (n - p - 1), rtol=1e-12)
    # the stated se (for the mean R²) against the empirical sd of a null coefficient
    _, se_mean = sm.src_precision(np.array([r2s.mean()]), n, p)
    empirical = srcs[:, 2].std()
    assert 0.8 < empirical / se_mean[0] < 1.25, (empirical, se_mean[0])
    assert np.isnan(sm.src_precision(np.array([0.5]), p + 1, p)[0]).all()


def test_reduce_blocks_is_the_reduction_of_the_whole_matrix(rng):
    """Columns in uneven blocks give the partial of the whole matrix, field by field; the
    counts are those counted by hand, fixed columns that move included."""
    n, s, start = 300, 11, 130  # leaves of 100: a piece, two whole leaves, a piece
    x = rng.normal(size=(n, s)) * np.arange(1, s + 1)
    x[:, 2] = 7.0  # fixed in the pilot, and stays
    x[:, 5] = 0.0  # fixed in the pilot, moves in this chunk
    x[:, 8] = np.nan  # not modelled
    pilot = x.copy()
    x[[3, 60, 61], 5] = [1.0, -2.0, np.nan]
    x[40, 9] = np.nan
    z = rng.normal(size=(n, 2))
    hist = sm.HistSpec.from_pilot(pilot)
    assert list(hist.fixed_cols) == [2, 5, 8]
    edges = [0, 1, 4, 5, 6, 11]
    blocks = [(a, x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    part = sm.reduce_blocks(blocks, s, z, start, hist=hist)
    whole = sm.reduce_chunk(x, z, start, hist=hist)
    # (leaves 2 and 3 are siblings of the tree: one node of level 1)
    assert [type(g).__name__ for g in part.segments] == ["tuple", "Node", "tuple"]
    assert part.segments[1].level == 1 and part.segments[1].n == 200
    for g, h in zip(part.segments, whole.segments, strict=True):
        if isinstance(g, sm.Node):
            for f in ("n", "mean", "m2", "zmean", "zc"):
                assert np.array_equal(getattr(g, f), getattr(h, f), equal_nan=True), f
        else:
            assert np.array_equal(g[0], h[0], equal_nan=True) and np.array_equal(g[1], h[1])
    for f in ("counts", "nan_count", "vmin", "vmax", "other_cols", "other_counts", "other_nan"):
        assert np.array_equal(getattr(part, f), getattr(whole, f), equal_nan=True), f
    # counted by hand: varying columns bin every value, a moved fixed column all of its own
    t = (x - hist.lo) * (1.0 / hist.width)
    b = np.where(t < 0, 0, np.where(t >= hist.nbins, hist.nbins + 1, np.floor(t) + 1))
    for row, j in enumerate(hist.varying_cols):
        ok = ~np.isnan(x[:, j])
        expected = np.bincount(b[ok, j].astype(int), minlength=hist.nbins + 2)
        assert np.array_equal(part.counts[row], expected) and part.nan_count[row] == (~ok).sum()
    assert part.other_cols.tolist() == [1]  # column 5, the second fixed column
    ok = ~np.isnan(x[:, 5])
    expected = np.bincount(b[ok, 5].astype(int), minlength=hist.nbins + 2)
    assert np.array_equal(part.other_counts[0], expected) and part.other_nan.tolist() == [1]
    np.testing.assert_array_equal(part.vmin[[0, 5, 9]], np.nanmin(x[:, [0, 5, 9]], axis=0))
    with pytest.raises(ValueError, match="cover 5 of 11"):
        sm.reduce_blocks(blocks[:3], s, z, start, hist=hist)


def test_tile_bins_are_those_of_the_rule_on_edge_values(rng):
    """_hist_tile's branch-free bins against the rule counted by a plain loop: values on
    the bin edges (and one ulp either side), at the range's ends, beyond it, infinite,
    -0.0 and NaN, in a tile with columns that are not counted; and _hist_add, which counts
    with it."""
    nbins, n = 8, 40
    lo = np.array([0.0, -1.0, 5.0, 2.0, -3.0, 0.5])
    width = np.array([0.25, 0.1, 1.0 / 3.0, 1e-12, 2.0, 0.125])
    inv_w = 1.0 / width
    edges = lo[:, None] + np.arange(nbins + 1) * width[:, None]  # (column, edge)
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1e300, -1e300])
    x = np.empty((n, lo.size))
    for j in range(lo.size):
        e = edges[j]
        pool = np.concatenate([e, np.nextafter(e, np.inf), np.nextafter(e, -np.inf), special])
        x[:, j] = rng.choice(pool, size=n)
    j0, j1 = 1, 6  # a tile of columns 1-5, of which 1, 2, 4, 5 are counted
    cols = np.array([1, 2, 4, 5])
    counts = np.zeros((cols.size, nbins + 2), dtype=np.uint16)
    nan_count = np.zeros(cols.size, dtype=np.int64)
    lo_tile, inv_tile = lo[j0:j1].copy(), inv_w[j0:j1].copy()
    lo_tile[3 - j0], inv_tile[3 - j0] = 0.0, 0.0  # column 3: not counted
    b = np.empty(j1 - j0, dtype=np.int64)
    sm._hist_tile(x, j0, j1, lo_tile, inv_tile, nbins, cols, counts, nan_count, b)
    for jj, j in enumerate(cols):
        expected, nans = [0] * (nbins + 2), 0
        for v in x[:, j].tolist():
            if v != v:
                nans += 1
                continue
            t = (v - lo[j]) * inv_w[j]
            expected[0 if t < 0 else nbins + 1 if t >= nbins else int(t) + 1] += 1
        assert counts[jj].tolist() == expected and nan_count[jj] == nans, j
    # _hist_add, the counts of columns given by position with their own bins (here in
    # another order): the same counts, row for row
    order = cols[[2, 0, 3, 1]]
    ref = np.zeros_like(counts)
    ref_nan = np.zeros_like(nan_count)
    sm._hist_add(x, order, lo[order], inv_w[order], nbins, ref, ref_nan)
    at = [cols.tolist().index(j) for j in order]
    assert np.array_equal(ref, counts[at]) and np.array_equal(ref_nan, nan_count[at])


def test_chunks_merge_sibling_leaves_as_the_tree_does(rng):
    """A chunk merges the whole leaves that are siblings of the fixed tree before sending
    them; whatever the chunks, the accumulator's nodes are those of the leaves pushed one
    at a time onto a binary counter written out here, bit for bit."""
    n, s = 2_350, 3  # 23 whole leaves and a piece
    x = rng.normal(size=(n, s))
    z = rng.normal(size=(n, 2))
    # the reference: every whole leaf from its draws, merged where two of a level meet
    stack: list = []
    for a in range(0, n - n % sm.LEAF, sm.LEAF):
        node = sm.leaf_node(x[a : a + sm.LEAF], z[a : a + sm.LEAF])
        while stack and stack[-1].level == node.level:
            node = sm.merge(stack.pop(), node)
        stack.append(node)
    for sizes in ([n], [130, 1000, 700, 520], [800] * 2 + [750], [400, 1600, 350]):
        acc = sm.Accumulator(n, s, 2, hist=None)
        start = 0
        sent = 0
        for size in sizes:
            part = sm.reduce_chunk(x[start : start + size], z[start : start + size], start)
            sent += sum(isinstance(g, sm.Node) for g in part.segments)
            acc.add(part)
            start += size
        # what the accumulator holds: the reference's nodes, then the last piece pending
        assert [(g.level, g.n) for g in acc.stack] == [(g.level, g.n) for g in stack]
        for got, want in zip(acc.stack, stack, strict=True):
            for f in ("mean", "m2", "zmean", "zc"):
                assert getattr(got, f).tobytes() == getattr(want, f).tobytes(), (sizes, f)
        assert sent < 23
    # one chunk of the whole: 16 + 4 + 2 + 1 leaves in four nodes
    assert [g.level for g in sm.reduce_chunk(x, z, 0).segments[:4]] == [4, 2, 1, 0]


def test_one_pass_reduction_is_each_statistic_taken_alone(rng):
    """Over more than two tiles of columns: each whole leaf's moments are those of
    :func:`leaf_moments` (tested against a plain loop), the extremes numpy's nanmin and
    nanmax (NaN where every value is), the co-moments a plain loop's sums, bit for bit."""
    n, s, start = 250, 2 * sm._TILE + 45, 70  # a piece of 30, two whole leaves, 20
    x = rng.normal(size=(n, s)) * rng.uniform(0.1, 1e4, s)
    x[rng.uniform(size=(n, s)) < 0.05] = np.nan
    x[:, 7] = np.nan  # never modelled
    x[:, sm._TILE] = np.inf  # an infinite value stays the extreme it is
    x[3, sm._TILE + 1] = -np.inf
    z = rng.normal(size=(n, 4)) * [1.0, 10.0, 1e-3, 5.0]
    hist = sm.HistSpec.from_pilot(x[:100])
    part = sm.reduce_chunk(x, z, start, hist=hist)
    nodes = [g for g in part.segments if isinstance(g, sm.Node)]
    assert len(nodes) == 2
    for node, a in zip(nodes, (30, 130), strict=True):
        mean, m2 = sm.leaf_moments(x[a : a + 100])
        assert mean.tobytes() == node.mean.tobytes() and m2.tobytes() == node.m2.tobytes()
        zz = z[a : a + 100]
        mu = [sum(zz[i, j] for i in range(100)) / 100 for j in range(4)]
        for j in range(4):
            assert node.zmean[j] == mu[j]
            for k in range(4):
                c = 0.0
                for i in range(100):
                    c += (zz[i, j] - mu[j]) * (zz[i, k] - mu[k])
                assert node.zc[j, k] == c, (j, k)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    assert part.vmin.tobytes() == lo.tobytes() and part.vmax.tobytes() == hi.tobytes()
    assert np.isnan(part.vmin[7]) and part.vmax[sm._TILE] == np.inf
    assert part.vmin[sm._TILE + 1] == -np.inf


@pytest.mark.parametrize("with_fill", [True, False])
def test_expanded_slabs_are_the_expanded_array_slab_by_slab(with_fill):
    """Layout.expand_slabs gives expand's (n, *shape) array one index of the first dim at a
    time, checked against a plain loop that puts each kept value at its flat position
    (positions given out of order; float32 values over a float64 fill)."""
    rng = np.random.default_rng(5)
    shape, n = (4, 3, 5), 6
    size = int(np.prod(shape))
    kept = rng.choice(size, 17, replace=False)  # not sorted
    fill = rng.normal(size=size) if with_fill else None
    layout = sm.Layout(
        names=["m"],
        dims=[("a", "b", "c")],
        coords={},
        shapes=[shape],
        attrs={"m": {}},
        offsets=[0, kept.size],
        keep=[kept],
        fill=[fill],
    )
    values = rng.normal(size=(n, kept.size)).astype(np.float32)
    expected = np.empty((n, size), dtype=np.float32)
    for d in range(n):  # the plain loop
        for p in range(size):
            expected[d, p] = np.float32(0.0 if fill is None else fill[p])
        for c, p in enumerate(kept):
            expected[d, p] = values[d, c]
    expected = expected.reshape((n, *shape))
    slabs = list(layout.expand_slabs("m", values))
    assert [j for j, _ in slabs] == list(range(shape[0]))
    for j, slab in slabs:
        assert slab.dtype == np.float32 and slab.shape == (n, *shape[1:])
        np.testing.assert_array_equal(slab, expected[:, j])
    np.testing.assert_array_equal(layout.expand("m", values), expected)
