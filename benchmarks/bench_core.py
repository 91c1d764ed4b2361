"""Benchmark of ndsim's engine core against flodym, dynamic-stock-model and plain numpy.

Run from the repository root::

    python benchmarks/bench_core.py            # full run (about 35 min on 2 cores)
    python benchmarks/bench_core.py --quick    # about a minute
    python benchmarks/bench_core.py --report benchmarks/results/core.json  # tables again

The workload (see ``_workload.py``): 17 products x 51 years, normal, lognormal
and Weibull lifetimes with parameters per draw and product, inflow-driven and
stock-driven, for N draws in (1, 100, 1 000, 10 000, 100 000). Tools:

- ``ndsim``: ``ndsim.inflow_driven`` / ``ndsim.stock_driven`` on (draw,
  product, year) DataArrays (default threads: one block per core);
- ``ndsim-1t``: the same with ``NDSIM_NUM_THREADS=1`` (full run only);
- ``numpy``: a vectorised numpy/scipy baseline (``_workload.run_numpy``);
- ``flodym-dims``: flodym 1.1 with the draws as an extra dimension, in chunks
  of 500 draws (its fastest batch, ``_anchors.FLODYM_CHUNK``), up to N = 10 000;
- ``flodym-loop``: flodym looped over draws, up to N = 1 000;
- ``dsm``: dynamic-stock-model 1.0 looped over draws and products, 2 draws
  (normal and Weibull; it has no lognormal).

Each (tool, mode, lifetime, N) cell runs in its own process, so its peak
resident memory (``ru_maxrss``; it never falls within a process) is its own.
In the process: imports, inputs, one untimed warm-up call on at most 10
draws (loads compiled kernels and lazy imports), then timed calls; the cell
reports the median. Beyond a tool's cap the cell is extrapolated at the
largest measured N's time per draw and marked ``*`` (no memory figure).

Numba compilation is measured apart: import + first calls in a fresh process
with an empty compile cache (cold) and again with the cache it left (warm).
Warm start: seconds from launching a new process (cache warm) until it holds
its first result of the workload (N = 1 000, normal, inflow-driven) through
``ndsim.inflow_driven``. Agreement: max|x_ndsim - x_ref| / max|x_ref| per
output variable (the largest over variables) against flodym, numpy and
dynamic-stock-model (Weibull, where its convention is ndsim's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

NS = (1, 100, 1000, 10000, 100000)
#: largest N each tool runs (the issue's caps); None = every N
CAPS = {"ndsim": None, "ndsim-1t": None, "numpy": None, "flodym-dims": 10000,
        "flodym-loop": 1000, "dsm": 2}  # fmt: skip
TOOLS = ("ndsim", "ndsim-1t", "numpy", "flodym-dims", "flodym-loop", "dsm")
TARGET_N = 10000
#: (mode, lifetime) pairs the targets are stated for
TARGET_GROUPS = (
    ("inflow", "normal"),
    ("inflow", "weibull"),
    ("stock", "normal"),
    ("stock", "weibull"),
)
WARMUP_DRAWS = 10
#: rounds of the paired timings (each ndsim, flodym-dims, ndsim); the medians are reported
PAIRED_ROUNDS = 3


# --- measuring inside a worker process ------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _runner(tool: str):
    if tool in ("ndsim", "ndsim-1t"):
        from _workload import run_ndsim

        return run_ndsim
    if tool == "numpy":
        from _workload import run_numpy

        return run_numpy
    from _anchors import run_dsm, run_flodym_dims, run_flodym_loop

    return {"flodym-dims": run_flodym_dims, "flodym-loop": run_flodym_loop, "dsm": run_dsm}[tool]


def _slice(inp: dict, n: int) -> dict:
    return {k: (v[:n] if hasattr(v, "shape") else v) for k, v in inp.items()}


def work_cell(tool: str, mode: str, dist: str, n: int, repeats: int, budget: float) -> dict:
    """Time one cell in this process: median of timed calls, peak memory."""
    from _workload import make_inputs

    run = _runner(tool)
    import_rss = _rss_mb()
    inp = make_inputs(n, dist, mode)
    base_rss = _rss_mb()
    times = []
    if tool == "dsm":  # seconds per draw: time each draw once, no warm-up call
        from _anchors import run_dsm

        run_dsm(_slice(inp, 1), products=[0])  # loads scipy.stats' lazy parts
        ready_rss = _rss_mb()  # imports and inputs: what the timed calls start from
        for d in range(n):
            t0 = time.perf_counter()
            run_dsm(inp, draws=[d])
            times.append(time.perf_counter() - t0)
        per_draw = statistics.median(times)
    else:
        res = run(_slice(inp, min(n, WARMUP_DRAWS)))  # warm-up: compiled code, lazy imports
        del res
        ready_rss = _rss_mb()  # imports, inputs, compiled code: what the timed calls start from
        # at least 3 timed calls (2 when one takes over 10 s), more up to `repeats` within `budget`
        while len(times) < repeats and (
            len(times) < (2 if times and times[0] > 10.0 else 3) or sum(times) < budget
        ):
            t0 = time.perf_counter()
            res = run(inp)
            times.append(time.perf_counter() - t0)
            del res
        per_draw = statistics.median(times) / n
    return {
        "tool": tool, "mode": mode, "dist": dist, "n": n, "measured": True,
        "times_s": times, "ms_per_draw": per_draw * 1e3, "draws_per_s": 1.0 / per_draw,
        "peak_mb": _peak_mb(), "import_rss_mb": import_rss, "input_rss_mb": base_rss,
        "ready_rss_mb": ready_rss, "load_average": os.getloadavg(),
    }  # fmt: skip


def work_compile() -> dict:
    """Import + first and second calls, timed (run once with a cold, once with a warm cache)."""
    t0 = time.perf_counter()
    import ndsim.dsm  # noqa: F401  (the typed gufuncs compile, or load from cache, on import)

    t_import = time.perf_counter() - t0
    from _workload import make_inputs, run_ndsim

    out = {"import_s": t_import}
    for mode in ("inflow", "stock"):
        inp = make_inputs(10, "normal", mode)
        for key in ("first", "second"):
            t = time.perf_counter()
            run_ndsim(inp)
            out[f"{mode}_{key}_s"] = time.perf_counter() - t
    out["total_s"] = time.perf_counter() - t0
    return out


def work_warmstart() -> dict:
    """First result of the workload through the public function; wall-clock stamp for the parent."""
    t0 = time.perf_counter()
    from _workload import make_inputs

    import ndsim

    t_import = time.perf_counter() - t0
    inp = make_inputs(1000, "normal", "inflow")
    import xarray as xr

    from ndsim.lifetime import Lifetime

    dims = ("draw", "product")
    ds = ndsim.inflow_driven(
        xr.DataArray(inp["driver"], dims=(*dims, "year")),
        Lifetime("normal", mean=xr.DataArray(inp["p1"], dims=dims),
                 sd=xr.DataArray(inp["p2"], dims=dims)),
    )  # fmt: skip
    ok = bool(ds.stock.notnull().all())
    return {"result_at_epoch": time.time(), "import_s": t_import,
            "in_process_s": time.perf_counter() - t0, "result_ok": ok}  # fmt: skip


def work_pair(mode: str, dist: str, n: int, rounds: int) -> dict:
    """ndsim and flodym-dims timed alternately in one process (ABAB...): their time ratio.

    Both see the same load within seconds, so the ratio is steadier than one
    of two cells measured minutes apart on a shared machine. Memory is not
    measured here (the cells measure it, one process per tool).
    """
    from _anchors import run_flodym_dims
    from _workload import make_inputs, run_ndsim

    inp = make_inputs(n, dist, mode)
    small = _slice(inp, min(n, WARMUP_DRAWS))
    run_ndsim(small)
    run_flodym_dims(small)
    nd, fl = [], []
    for _ in range(rounds):
        for run, acc in ((run_ndsim, nd), (run_flodym_dims, fl), (run_ndsim, nd)):
            t0 = time.perf_counter()
            res = run(inp)
            acc.append(time.perf_counter() - t0)
            del res
    ms_nd = statistics.median(nd) / n * 1e3
    ms_fl = statistics.median(fl) / n * 1e3
    return {"mode": mode, "dist": dist, "n": n, "ndsim_times_s": nd, "flodym_times_s": fl,
            "ndsim_ms_per_draw": ms_nd, "flodym_ms_per_draw": ms_fl, "speedup": ms_fl / ms_nd,
            "load_average": os.getloadavg()}  # fmt: skip


def work_agree(n: int, dsm_products: int) -> dict:
    """Max relative differences of ndsim against flodym, numpy and dynamic-stock-model."""
    import numpy as np
    from _anchors import run_dsm, run_flodym_dims
    from _workload import DISTS, MODES, make_inputs, max_rel_diff, run_ndsim, run_numpy

    rows = []
    for mode in MODES:
        for dist in DISTS:
            inp = make_inputs(n, dist, mode)
            nd = run_ndsim(inp)
            row = {
                "mode": mode, "dist": dist, "n": n,
                "vs_flodym": max_rel_diff(nd, run_flodym_dims(inp)),
                "vs_numpy": max_rel_diff(nd, run_numpy(inp)),
            }  # fmt: skip
            if dist == "weibull" and dsm_products:
                prods = list(range(dsm_products))
                ref = run_dsm(inp, draws=[0], products=prods)
                row["vs_dsm"] = max_rel_diff(
                    {k: v[0, prods] for k, v in nd.items()},
                    {k: v[0, prods] for k, v in ref.items()},
                )
                row["dsm_series"] = len(prods)
            mass = nd.get("inflow", inp["driver"]) - nd["outflow"]
            row["ndsim_balance"] = float(
                np.max(np.abs(np.cumsum(mass, axis=-1) - nd["stock"])) / np.max(nd["stock"])
            )
            rows.append(row)
    return {"rows": rows}


# --- the parent: launch workers, collect, print ---------------------------------------


def _spawn(args: list[str], env: dict, timeout: float = 3600) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _env(cache_dir: str, threads: str | None = None) -> dict:
    env = dict(os.environ)  # OPENBLAS_CORETYPE and the like pass through untouched
    env["NUMBA_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    if threads is None:
        env.pop("NDSIM_NUM_THREADS", None)
    else:
        env["NDSIM_NUM_THREADS"] = threads
    return env


def _hardware() -> dict:
    info = {"machine": platform.machine(), "python": platform.python_version(),
            "nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0))}  # fmt: skip
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in (
                "Model name",
                "CPU(s)",
                "Thread(s) per core",
                "L2 cache",
                "L3 cache",
            ):
                info[key.strip()] = val.strip()
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            info["mem_total_gb"] = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("numpy", "scipy", "numba", "xarray", "flodym", "dynamic_stock_model"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    try:
        out["ndsim_commit"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
    except OSError:
        out["ndsim_commit"] = None
    return out


def plan(quick: bool) -> dict:
    if quick:
        return {"ns": (1000, 10000), "dists": ("normal",), "modes": ("inflow", "stock"),
                "tools": ("ndsim", "numpy", "flodym-dims", "flodym-loop"),
                "caps": {**CAPS, "flodym-dims": 1000, "flodym-loop": 100},
                "repeats": 3, "budget": 3.0, "agree_n": 100, "dsm_products": 2,
                "warmstarts": 2}  # fmt: skip
    return {"ns": NS, "dists": ("normal", "lognormal", "weibull"), "modes": ("inflow", "stock"),
            "tools": TOOLS, "caps": CAPS, "repeats": 5, "budget": 20.0, "agree_n": 1000,
            "dsm_products": 17, "warmstarts": 3}  # fmt: skip


def _measure_cells(p: dict, cache_dir: str, log) -> list[dict]:
    cells = []
    for mode in p["modes"]:
        for dist in p["dists"]:
            for tool in p["tools"]:
                if tool == "dsm" and dist == "lognormal":
                    continue
                cap = p["caps"][tool]
                ns = [n for n in p["ns"] if cap is None or n <= cap] or [cap]
                ns = [2] if tool == "dsm" else ns
                env = _env(cache_dir, "1" if tool == "ndsim-1t" else None)
                for n in ns:
                    args = ["--worker", "cell", "--tool", tool, "--mode", mode, "--dist", dist,
                            "--n", str(n), "--repeats", str(p["repeats"]),
                            "--budget", str(p["budget"])]  # fmt: skip
                    cell = _spawn(args, env)
                    log(f"  {mode:6s} {dist:9s} {tool:11s} N={n:<6d} "
                        f"{cell['ms_per_draw']:10.4f} ms/draw  peak {cell['peak_mb']:7.0f} MB")  # fmt: skip
                    cells.append(cell)
    return cells


def measure_paired(cache_dir: str, rounds: int, log) -> list[dict]:
    """ndsim vs flodym-dims at N = 10 000 timed alternately in one process per target group."""
    out = []
    for mode, dist in TARGET_GROUPS:
        args = ["--worker", "pair", "--mode", mode, "--dist", dist, "--n", str(TARGET_N),
                "--repeats", str(rounds)]  # fmt: skip
        r = _spawn(args, _env(cache_dir))
        log(f"  paired {mode:6s} {dist:9s} N={TARGET_N}: ndsim {r['ndsim_ms_per_draw']:.4f} "
            f"ms/draw, flodym-dims {r['flodym_ms_per_draw']:.3f} ms/draw, "
            f"speed-up {r['speedup']:.0f}x")  # fmt: skip
        out.append(r)
    return out


def extrapolate(cells: list[dict], ns) -> list[dict]:
    """Add marked cells beyond a tool's cap at the largest measured N's time per draw."""
    out = list(cells)
    keys = {(c["tool"], c["mode"], c["dist"]) for c in cells}
    for tool, mode, dist in sorted(keys):
        own = [c for c in cells if (c["tool"], c["mode"], c["dist"]) == (tool, mode, dist)]
        top = max(own, key=lambda c: c["n"])
        have = {c["n"] for c in own}
        for n in ns:
            if n not in have and n > top["n"]:
                out.append({"tool": tool, "mode": mode, "dist": dist, "n": n, "measured": False,
                            "extrapolated_from_n": top["n"], "ms_per_draw": top["ms_per_draw"],
                            "draws_per_s": top["draws_per_s"], "peak_mb": None})  # fmt: skip
    return out


def ratios(cells: list[dict]) -> list[dict]:
    """ndsim's speed-up (anchor ms/draw / ndsim ms/draw) and memory share (ndsim / anchor)."""
    ref = {
        (c["mode"], c["dist"], c["n"]): c for c in cells if c["tool"] == "ndsim" and c["measured"]
    }
    rows = []
    for c in cells:
        r = ref.get((c["mode"], c["dist"], c["n"]))
        if r is None or c["tool"] == "ndsim":
            continue
        row = {"tool": c["tool"], "mode": c["mode"], "dist": c["dist"], "n": c["n"],
               "speedup": c["ms_per_draw"] / r["ms_per_draw"], "extrapolated": not c["measured"],
               "memory_share": (r["peak_mb"] / c["peak_mb"]) if c["peak_mb"] else None}  # fmt: skip
        rows.append(row)
    return rows


def _fmt_cell(c: dict | None) -> tuple[str, str, str]:
    if c is None:
        return "not run", "", ""
    star = "" if c["measured"] else "*"
    ms = c["ms_per_draw"]
    ms_s = f"{ms:.4g}{star}"
    dps = (
        f"{c['draws_per_s']:,.0f}{star}"
        if c["draws_per_s"] >= 10
        else f"{c['draws_per_s']:.3g}{star}"
    )
    mem = f"{c['peak_mb']:.0f}" if c["peak_mb"] else "-"
    return ms_s, dps, mem


def text_tables(res: dict) -> str:
    cells, rats = res["cells"], res["ratios"]
    lines = []
    groups = sorted({(c["mode"], c["dist"]) for c in cells}, key=lambda g: (g[0] != "inflow", g[1]))
    tools = [t for t in TOOLS if any(c["tool"] == t for c in cells)]
    for mode, dist in groups:
        lines.append(f"\n{mode}-driven, {dist} lifetimes")
        lines.append(f"{'N':>7s}  {'tool':11s} {'ms/draw':>11s} {'draws/s':>12s} {'peak MB':>8s}"
                     f" {'ndsim speed-up':>15s} {'ndsim mem share':>16s}")  # fmt: skip
        for n in sorted({c["n"] for c in cells if (c["mode"], c["dist"]) == (mode, dist)}):
            for tool in tools:
                c = next((x for x in cells if (x["tool"], x["mode"], x["dist"], x["n"])
                          == (tool, mode, dist, n)), None)  # fmt: skip
                if c is None:
                    continue
                ms, dps, mem = _fmt_cell(c)
                r = next((x for x in rats if (x["tool"], x["mode"], x["dist"], x["n"])
                          == (tool, mode, dist, n)), None)  # fmt: skip
                sp = f"{r['speedup']:.3g}x{'*' if r['extrapolated'] else ''}" if r else ""
                ms_share = f"{100 * r['memory_share']:.0f} %" if r and r["memory_share"] else ""
                lines.append(f"{n:>7d}  {tool:11s} {ms:>11s} {dps:>12s} {mem:>8s} {sp:>15s}"
                             f" {ms_share:>16s}")  # fmt: skip
    lines.append("\n* extrapolated at the largest measured N's time per draw (not run at this N)")
    return "\n".join(lines)


def markdown_targets(res: dict) -> str:
    """The targets table at N = 10 000 (markdown)."""
    lines = ["| mode | lifetime | ndsim ms/draw | flodym-dims ms/draw | speed-up (target >= 150x) "
             "| paired speed-up | ndsim peak MB | flodym peak MB | memory share (target <= 25 %) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    paired = {(r["mode"], r["dist"]): r for r in res.get("paired", [])}
    for r in res.get("ratios", []):
        if r["tool"] != "flodym-dims" or r["n"] != TARGET_N:
            continue
        nd = next(c for c in res["cells"] if (c["tool"], c["mode"], c["dist"], c["n"])
                  == ("ndsim", r["mode"], r["dist"], r["n"]))  # fmt: skip
        fl = next(c for c in res["cells"] if (c["tool"], c["mode"], c["dist"], c["n"])
                  == ("flodym-dims", r["mode"], r["dist"], r["n"]))  # fmt: skip
        star = "*" if r["extrapolated"] else ""
        share = f"{100 * r['memory_share']:.0f} %" if r["memory_share"] else "-"
        fl_mem = f"{fl['peak_mb']:.0f}" if fl["peak_mb"] else "-"
        pr = paired.get((r["mode"], r["dist"]))
        pr_s = f"{pr['speedup']:.0f}x" if pr else "-"
        lines.append(f"| {r['mode']} | {r['dist']} | {nd['ms_per_draw']:.4f} | "
                     f"{fl['ms_per_draw']:.3f}{star} | {r['speedup']:.0f}x{star} | {pr_s} | "
                     f"{nd['peak_mb']:.0f} | {fl_mem} | {share} |")  # fmt: skip
    return "\n".join(lines)


def markdown_cells(res: dict, n: int = TARGET_N) -> str:
    """All tools at one N (markdown)."""
    lines = ["| mode | lifetime | tool | ms/draw | draws/s | peak MB | ndsim speed-up |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    order = {t: i for i, t in enumerate(TOOLS)}
    cells = sorted((c for c in res["cells"] if c["n"] == n),
                   key=lambda c: (c["mode"] != "inflow", c["dist"], order[c["tool"]]))  # fmt: skip
    for c in cells:
        ms, dps, mem = _fmt_cell(c)
        r = next((x for x in res["ratios"] if (x["tool"], x["mode"], x["dist"], x["n"])
                  == (c["tool"], c["mode"], c["dist"], c["n"])), None)  # fmt: skip
        sp = f"{r['speedup']:.3g}x{'*' if r['extrapolated'] else ''}" if r else "-"
        lines.append(f"| {c['mode']} | {c['dist']} | {c['tool']} | {ms} | {dps} | {mem} | {sp} |")
    return "\n".join(lines)


def summary_text(res: dict) -> str:
    lines = []
    comp = res.get("compile")
    if comp:
        cold, warm = comp["cold"], comp["warm"]
        lines.append("\nnumba compilation (import ndsim.dsm + first inflow- and stock-driven call, "
                     "N = 10 draws):")  # fmt: skip
        for name, d in (("cold cache", cold), ("warm cache", warm)):
            lines.append(f"  {name}: import {d['import_s']:.2f} s, first inflow call "
                         f"{d['inflow_first_s']:.3f} s (second {d['inflow_second_s']:.4f} s), "
                         f"first stock call {d['stock_first_s']:.3f} s "
                         f"(second {d['stock_second_s']:.4f} s); total {d['total_s']:.2f} s")  # fmt: skip
        lines.append(f"  compilation cost (cold - warm total): {comp['compile_s']:.2f} s")
    ws = res.get("warm_start")
    if ws:
        lines.append(f"\nwarm start (new process, warm cache, N = 1000 normal inflow-driven, "
                     f"through ndsim.inflow_driven): first result {ws['median_s']:.2f} s after "
                     f"launch (runs {', '.join(f'{x:.2f}' for x in ws['runs_s'])}; "
                     f"imports {ws['import_s']:.2f} s); target <= 2 s")  # fmt: skip
    for r in res.get("paired", []):
        lines.append(f"paired (one process, ndsim/flodym-dims/ndsim alternating) {r['mode']} "
                     f"{r['dist']} N={r['n']}: ndsim {r['ndsim_ms_per_draw']:.4f} ms/draw, "
                     f"flodym-dims {r['flodym_ms_per_draw']:.3f} ms/draw, "
                     f"speed-up {r['speedup']:.0f}x")  # fmt: skip
    ag = res.get("agreement")
    if ag:
        lines.append("\nagreement, max|ndsim - ref| / max|ref| per variable (largest):")
        for r in ag["rows"]:
            extra = (
                f"  dynamic-stock-model {r['vs_dsm']:.1e} ({r['dsm_series']} series)"
                if "vs_dsm" in r
                else ""
            )
            lines.append(f"  {r['mode']:6s} {r['dist']:9s} N={r['n']}: flodym {r['vs_flodym']:.1e}  "
                         f"numpy {r['vs_numpy']:.1e}  ndsim balance {r['ndsim_balance']:.1e}{extra}")  # fmt: skip
    return "\n".join(lines)


def _measure_header(res: dict, p: dict, cache_dir: str, log) -> None:
    """Compilation (cold, then warm cache), warm start and agreement, into ``res``."""
    log("numba cache: fresh directory; compiling (cold) ...")
    cold = _spawn(["--worker", "compile"], _env(cache_dir))
    warm = _spawn(["--worker", "compile"], _env(cache_dir))
    res["compile"] = {
        "cold": cold,
        "warm": warm,
        "compile_s": cold["total_s"] - warm["total_s"],
    }
    runs, imports = [], []
    for _ in range(p["warmstarts"]):
        t0 = time.time()
        ws = _spawn(["--worker", "warmstart"], _env(cache_dir))
        runs.append(ws["result_at_epoch"] - t0)
        imports.append(ws["import_s"])
    res["warm_start"] = {"runs_s": runs, "median_s": statistics.median(runs),
                         "import_s": statistics.median(imports)}  # fmt: skip
    log(summary_text(res))
    log("agreement ...")
    res["agreement"] = _spawn(
        [
            "--worker",
            "agree",
            "--n",
            str(p["agree_n"]),
            "--dsm-products",
            str(p["dsm_products"]),
        ],
        _env(cache_dir),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="about a minute: fewer N, tools, lifetimes"
    )
    ap.add_argument(
        "--out", type=Path, help="JSON file (default benchmarks/results/core[_quick].json)"
    )
    ap.add_argument("--report", type=Path, help="print the tables of a results JSON and exit")
    ap.add_argument(
        "--remeasure",
        help="comma-separated tools: measure their cells again (plus compilation, warm start, "
        "agreement and paired timings) and merge into --out",
    )
    ap.add_argument(
        "--paired-only",
        action="store_true",
        help="only the paired ndsim/flodym timings at N = 10 000, merged into --out",
    )
    ap.add_argument(
        "--worker",
        choices=("cell", "compile", "warmstart", "agree", "pair"),
        help=argparse.SUPPRESS,
    )
    ap.add_argument("--tool", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--dist", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=5, help=argparse.SUPPRESS)
    ap.add_argument("--budget", type=float, default=30.0, help=argparse.SUPPRESS)
    ap.add_argument("--dsm-products", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.worker:
        if a.worker == "cell":
            out = work_cell(a.tool, a.mode, a.dist, a.n, a.repeats, a.budget)
        elif a.worker == "compile":
            out = work_compile()
        elif a.worker == "warmstart":
            out = work_warmstart()
        elif a.worker == "pair":
            out = work_pair(a.mode, a.dist, a.n, a.repeats)
        else:
            out = work_agree(a.n, a.dsm_products)
        print("RESULT " + json.dumps(out), flush=True)
        return 0

    if a.report:
        res = json.loads(a.report.read_text())
        print(text_tables(res) + "\n" + summary_text(res))
        print("\n" + markdown_targets(res) + "\n\n" + markdown_cells(res))
        return 0

    def log(msg: str) -> None:
        print(msg, flush=True)

    p = plan(a.quick)
    out_path = a.out or HERE / "results" / ("core_quick.json" if a.quick else "core.json")
    if a.remeasure:
        res = json.loads(out_path.read_text())
        tools = tuple(t for t in TOOLS if t in a.remeasure.split(","))
        cache_dir = tempfile.mkdtemp(prefix="ndsim-bench-numba-")
        try:
            _measure_header(res, p, cache_dir, log)
            new = _measure_cells({**p, "tools": tools}, cache_dir, log)
            res["paired"] = measure_paired(cache_dir, PAIRED_ROUNDS, log)
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
        kept = [c for c in res["cells"] if c["measured"] and c["tool"] not in tools]
        res["cells"] = extrapolate(kept + new, p["ns"])
        res["ratios"] = ratios(res["cells"])
        res["remeasured"] = {"tools": tools, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                             "ndsim_commit": _versions()["ndsim_commit"],
                             "load_average": os.getloadavg()}  # fmt: skip
        out_path.write_text(json.dumps(res, indent=1) + "\n")
        log(text_tables(res) + "\n" + summary_text(res) + "\n\n" + markdown_targets(res))
        return 0
    if a.paired_only:
        res = json.loads(out_path.read_text()) if out_path.exists() else {}
        cache_dir = tempfile.mkdtemp(prefix="ndsim-bench-numba-")
        try:
            _spawn(["--worker", "compile"], _env(cache_dir))  # fills the cache
            res["paired"] = measure_paired(cache_dir, PAIRED_ROUNDS, log)
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
        out_path.write_text(json.dumps(res, indent=1) + "\n")
        log(summary_text(res) + "\n\n" + markdown_targets(res))
        return 0
    t_start = time.perf_counter()
    res = {"quick": a.quick, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
           "hardware": _hardware(), "versions": _versions(),
           "load_average_start": os.getloadavg(),
           "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "NDSIM_NUM_THREADS")},
           "plan": {k: v for k, v in p.items() if k != "caps"}, "caps": p["caps"]}  # fmt: skip
    cache_dir = tempfile.mkdtemp(prefix="ndsim-bench-numba-")
    try:
        _measure_header(res, p, cache_dir, log)
        log("cells (one process each):")
        cells = _measure_cells(p, cache_dir, log)
        if not a.quick:
            log("paired timings at N = 10 000:")
            res["paired"] = measure_paired(cache_dir, PAIRED_ROUNDS, log)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    res["cells"] = extrapolate(cells, p["ns"])
    res["ratios"] = ratios(res["cells"])
    res["load_average_end"] = os.getloadavg()
    res["wall_s"] = time.perf_counter() - t_start
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(res, indent=1) + "\n")
    log(text_tables(res) + "\n" + summary_text(res))
    if any(r["n"] == TARGET_N and r["tool"] == "flodym-dims" for r in res["ratios"]):
        log("\ntargets at N = 10 000 (flodym-dims):\n" + markdown_targets(res))
    log(f"\nwrote {out_path} in {res['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
