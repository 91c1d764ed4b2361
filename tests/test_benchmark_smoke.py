"""Smoke test of the core benchmark: the ndsim and numpy paths at tiny N, no anchors, no timing.

The anchors (flodym, dynamic-stock-model) run only in ``benchmarks/``. Here
ndsim's public functions and the benchmark's plain numpy baseline (scipy's
``ndtr`` and array code, independent of ndsim's kernels) must give the same
numbers on the benchmark's own workload.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import _workload as wl  # noqa: E402
import bench_core  # noqa: E402
import bench_parts  # noqa: E402

TOL = 1e-12  # relative to each variable's largest value


@pytest.mark.parametrize("mode", wl.MODES)
@pytest.mark.parametrize("dist", wl.DISTS)
def test_ndsim_matches_numpy_baseline(mode, dist):
    inp = wl.make_inputs(4, dist, mode, seed=7)
    nd = wl.run_ndsim(inp)
    ref = wl.run_numpy(inp)
    assert set(nd) == set(ref)
    for k in ref:
        assert nd[k].shape == (4, len(wl.PRODUCTS), len(wl.YEARS))
        assert np.all(np.isfinite(nd[k]))
    assert wl.max_rel_diff(nd, ref) < TOL


def test_stock_driven_clip_matches_numpy_baseline():
    """A target that falls faster than products retire: both clip the inflow at 0."""
    inp = wl.make_inputs(3, "normal", "stock", seed=11)
    inp["driver"][:, :5] = inp["driver"][:, :5, ::-1].copy()  # falling targets for 5 products
    nd = wl.run_ndsim(inp)
    ref = wl.run_numpy(inp)
    assert np.any(ref["inflow"][:, :5] == 0.0)  # the clip branch is exercised
    assert np.all(nd["inflow"] >= 0.0)
    assert wl.max_rel_diff(nd, ref) < TOL


def test_inputs_reproducible_and_targets_rise():
    a = wl.make_inputs(5, "weibull", "stock", seed=3)
    b = wl.make_inputs(5, "weibull", "stock", seed=3)
    np.testing.assert_array_equal(a["driver"], b["driver"])
    np.testing.assert_array_equal(a["p1"], b["p1"])
    assert np.all(np.diff(a["driver"], axis=-1) > 0)  # no decline policy in the timed workload


@pytest.mark.parametrize("tool", ["ndsim", "numpy"])
def test_cell_worker_runs_in_process(tool):
    cell = bench_core.work_cell(tool, "inflow", "normal", 2, repeats=1, budget=0.0)
    assert cell["n"] == 2 and len(cell["times_s"]) >= 1
    assert cell["ms_per_draw"] > 0 and cell["peak_mb"] > 0


def test_extrapolated_cells_are_marked():
    cells = [
        {"tool": "ndsim", "mode": "inflow", "dist": "normal", "n": 10, "measured": True,
         "ms_per_draw": 0.02, "draws_per_s": 5e4, "peak_mb": 100.0},
        {"tool": "flodym-loop", "mode": "inflow", "dist": "normal", "n": 10, "measured": True,
         "ms_per_draw": 10.0, "draws_per_s": 100.0, "peak_mb": 150.0},
        {"tool": "ndsim", "mode": "inflow", "dist": "normal", "n": 100, "measured": True,
         "ms_per_draw": 0.01, "draws_per_s": 1e5, "peak_mb": 120.0},
    ]  # fmt: skip
    out = bench_core.extrapolate(cells, (10, 100))
    extra = [c for c in out if not c["measured"]]
    assert [(c["tool"], c["n"]) for c in extra] == [("flodym-loop", 100)]
    rats = {(r["tool"], r["n"]): r for r in bench_core.ratios(out)}
    assert rats[("flodym-loop", 10)]["speedup"] == pytest.approx(500.0)
    assert rats[("flodym-loop", 100)]["extrapolated"]
    assert rats[("flodym-loop", 100)]["memory_share"] is None
    assert "*" in bench_core.text_tables({"cells": out, "ratios": list(rats.values())})


def test_parts_of_a_chunk_add_up_and_the_originals_come_back():
    """bench_parts times every part inside real chunks (each part's functions are called),
    the parts and the rest add up to the chunk's time, and the functions it wrapped are the
    originals again afterwards."""
    before = {(o, n): o.__dict__[n] for o, n, _ in bench_parts._targets()}
    res = bench_parts.measure(draws=20, rounds=2, scenario=None, worker_settings=False)
    assert {(o, n): o.__dict__[n] for o, n, _ in bench_parts._targets()} == before
    assert len(res["rounds"]) == 2
    for r in res["rounds"]:
        parts = r["parts"]
        assert set(parts) == {*bench_parts.PARTS, "the rest"}
        assert all(parts[p] > 0.0 for p in bench_parts.PARTS)
        assert parts["the rest"] > 0.0
        assert sum(parts.values()) == pytest.approx(r["total"], rel=1e-9)
    assert "| **total** |" in bench_parts.table(res)


def _rounds(draws, totals, rest):
    """A bench_parts result of chunks of ``draws`` with given totals and rests [s]."""
    parts = {p: 0.0 for p in bench_parts.PARTS}
    return {
        "draws": draws,
        "rounds": [
            {"total": t, "parts": {**parts, "sampling": t - r, "the rest": r}}
            for t, r in zip(totals, rest, strict=True)
        ],
    }


def test_fixed_and_marginal_cost_from_two_chunk_sizes_by_hand():
    """Medians 10 ms at 100 draws and 28 ms at 1,000 (the outliers of each size ignored):
    20 µs per draw and 8 ms per chunk; the rest 2 and 4 ms: 2.2 µs and 1.78 ms."""
    small = _rounds(100, [0.010, 0.009, 0.050], [0.002, 0.002, 0.002])
    large = _rounds(1000, [0.028, 0.200, 0.027], [0.004, 0.004, 0.004])
    fit = bench_parts.fit(small, large)
    assert fit["total"] == pytest.approx((0.008, 20e-6))
    assert fit["the rest"] == pytest.approx((0.002 - 100 * 0.002 / 900, 0.002 / 900))
    # sampling: medians 8 and 24 ms (each part's own medians, not the total's less the rest's)
    assert fit["sampling"] == pytest.approx((0.008 - 100 * 0.016 / 900, 0.016 / 900))
    assert fit["reconciliation"] == (0.0, 0.0)
    with pytest.raises(ValueError, match="two different"):
        bench_parts.fit(small, small)
    text = bench_parts.fit_table(small, large)
    assert "| **total** | 8.0 | 20.0 | 28.0 |" in text


def test_bench_parts_times_two_chunk_sizes_alternately():
    """measure_sizes runs real chunks of both sizes from one plan, each round both sizes,
    and the fixed + marginal line of every part passes through both sizes' medians."""
    small, large = bench_parts.measure_sizes(
        [10, 30], rounds=2, scenario=None, worker_settings=False
    )
    assert (small["draws"], large["draws"]) == (10, 30)
    assert len(small["rounds"]) == len(large["rounds"]) == 2
    fit = bench_parts.fit(small, large)
    for res in (small, large):
        med = bench_parts._medians(res)
        for name, (fixed, marginal) in fit.items():
            assert fixed + res["draws"] * marginal == pytest.approx(med[name], abs=1e-12)
