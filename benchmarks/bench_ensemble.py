"""Benchmark of ``ndsim ensemble``: the whole China Nd model at N = 1e3, 1e4, 1e5 draws (1e6 opt-in).

One command::

    python benchmarks/bench_ensemble.py                 # 1e3, 1e4, 1e5 summary; 1e5 --full (zlib, zstd)
    python benchmarks/bench_ensemble.py --large         # adds 1e6 (slow)
    python benchmarks/bench_ensemble.py --sizes 1000 --full-sizes 1000 --workers 2

By default the ensembles run on ndsim's default local process pool (one
worker per core); ``--workers W`` uses a dask.distributed LocalCluster of W
workers instead.

Every case runs in its own process (so peak memory is that case's), after a
warm-up (numba JIT, imports, a 10-draw ensemble) that is not timed. Reported:
wall time, draws per second and peak memory of the process and its worker
processes together (sampled every 0.1 s with psutil): ``peak_memory_mib`` is
the sum of their proportional set sizes (PSS, the physical memory of the
run: pages the forked workers share with the parent count once), and
``peak_rss_sum_mib`` the plain sum of resident set sizes (an upper bound). Targets:
1e6 draws with summary output in 60 s, 1e5 draws with ``--full`` in 30 s,
peak memory at most 1.5 GiB at every N and flat in N.

For comparison, the same per-draw work with flodym's stock model looped over
draws: one single-draw run of the ndsim pipeline (the model without
vectorisation over draws) plus flodym 1.1 ``InflowDrivenDSM`` for every
product, timed over a few draws and **extrapolated** linearly to N (marked
``extrapolated`` in the output).

Results go to ``benchmarks/results/ensemble.json`` (and are printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


class PeakMemory:
    """Peak memory of this process and its children together [bytes], sampled every 0.1 s.

    Two measures: the sum of the processes' resident set sizes (RSS; counts
    pages that forked workers share with the parent once per process, so it
    overstates) and the sum of their proportional set sizes (PSS: a shared
    page counts 1/k in each of the k processes sharing it, so the sum is the
    physical memory the run occupies).
    """

    def __init__(self, interval: float = 0.1):
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> tuple[int, int]:
        import psutil

        rss = pss = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                info = p.memory_full_info()
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            except psutil.Error:
                pass
        return rss, pss

    def _update(self):
        rss, pss = self._sample()
        self.peak = max(self.peak, rss)
        self.peak_pss = max(self.peak_pss, pss)

    def _run(self):
        while not self._stop.is_set():
            self._update()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._update()


def run_case(
    n: int, full: bool, workers: int | None, chunk: int | None, on_violation: str, codec: str
) -> dict:
    """One timed ensemble (in this process): the CLI's work without the figures."""
    os.environ.setdefault("NDSIM_NO_PROGRESS", "1")
    from ndsim import api
    from ndsim.ensemble import ensemble_from_inputs

    inputs, sc = api.prepare()
    if on_violation:  # a few tail draws of large ensembles violate signs (see the README)
        sc = dataclasses.replace(sc, run=dataclasses.replace(sc.run, on_violation=on_violation))
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up: imports, numba, one small ensemble (not timed)
        warm = Path(tmp) / "warm.nc"
        ensemble_from_inputs(inputs, sc, draws=10, seed=1, output=warm, full=full, codec=codec)
        out = Path(tmp) / "out.nc"
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            ensemble_from_inputs(
                inputs,
                sc,
                draws=n,
                chunk_size=chunk,
                seed=1,
                workers=workers,  # None: the default local process pool
                output=out,
                full=full,
                codec=codec,
            )
            wall = time.perf_counter() - t0
        size = out.stat().st_size
    return {
        "draws": n,
        "full": full,
        "codec": codec if full else None,
        "executor": (
            f"dask.distributed LocalCluster, {workers} workers"
            if workers
            else f"default local process pool ({os.cpu_count()} cores)"
        ),
        "chunk_size": chunk,
        "on_violation": on_violation,
        "wall_s": round(wall, 2),
        "draws_per_s": round(n / wall, 1),
        "peak_memory_mib": round(mem.peak_pss / 2**20, 1),
        "peak_rss_sum_mib": round(mem.peak / 2**20, 1),
        "output_mib": round(size / 2**20, 1),
    }


def flodym_case(n_small: int, n_targets: list[int]) -> dict:
    """Per-draw loop with flodym's InflowDrivenDSM, timed at n_small draws and extrapolated."""
    import flodym as fd
    import numpy as np

    from ndsim import api, pipeline, sampling

    inputs, sc = api.prepare()
    det = pipeline.run(inputs, sc)
    years = det["year"].values
    products = det["product"].values
    mean = inputs["lifetime_mean"].sel(variant=sc.run.lifetime_variant).values
    dims = fd.DimensionSet(
        dim_list=[
            fd.Dimension(name="time", letter="t", items=[int(y) for y in years]),
            fd.Dimension(name="product", letter="p", items=[str(p) for p in products]),
        ]
    )
    sampled = sampling.sample_inputs(inputs, sc, np.arange(n_small), seed=1)
    pipeline.run(sampled.isel(draw=[0]), sc)  # warm-up
    t_model = t_stock = 0.0
    for d in range(n_small):
        t0 = time.perf_counter()
        res = pipeline.run(sampled.isel(draw=[d]), sc)  # the model, one draw at a time
        t1 = time.perf_counter()
        inflow = res["inflow"].isel(draw=0).transpose("year", "product").values.copy()
        lt = fd.FixedLifetime(
            dims=dims, mean=fd.FlodymArray(dims=dims[("p",)], values=mean.copy()), inflow_at="end"
        )
        flo = fd.InflowDrivenDSM(
            dims=dims, lifetime_model=lt, inflow=fd.StockArray(dims=dims, values=inflow)
        )
        flo.compute()
        t2 = time.perf_counter()
        t_model += t1 - t0
        t_stock += t2 - t1
    per_draw = (t_model + t_stock) / n_small
    return {
        "method": "ndsim pipeline run one draw at a time + flodym 1.1 InflowDrivenDSM per draw",
        "timed_draws": n_small,
        "seconds_per_draw": round(per_draw, 4),
        "flodym_stock_seconds_per_draw": round(t_stock / n_small, 4),
        "extrapolated": {str(n): round(per_draw * n, 1) for n in n_targets},
        "note": "extrapolated linearly from the timed draws; single process",
    }


def _child(args: list[str]) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    # numpy's huge-page advice as the ndsim command sets it (ndsim.cli.HUGEPAGE_ADVICE): the
    # case runs the command's work in a Python process, which numpy would otherwise advise
    env.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"args": args, "error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[1000, 10_000, 100_000])
    p.add_argument("--full-sizes", type=int, nargs="*", default=[100_000])
    p.add_argument(
        "--codecs",
        nargs="*",
        default=["zlib", "zstd"],
        help="compressions of the --full cases, each a case (default: zlib zstd)",
    )
    p.add_argument("--large", action="store_true", help="add N = 1e6 (summary output)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="start a dask.distributed LocalCluster with W workers (default: the local pool)",
    )
    p.add_argument("--chunk-size", type=int, default=None)
    p.add_argument("--flodym-draws", type=int, default=10)
    p.add_argument(
        "--on-violation",
        default="warn",
        choices=["warn", "error"],
        help="sign/balance violations of single draws: warn (default here) or stop the run",
    )
    p.add_argument("--output", type=Path, default=RESULTS / "ensemble.json")
    p.add_argument("--case", nargs=3, metavar=("N", "FULL", "CODEC"), help=argparse.SUPPRESS)
    p.add_argument("--flodym", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.case:  # child process: one case
        n, full, codec = int(args.case[0]), args.case[1] == "1", args.case[2]
        case = run_case(n, full, args.workers, args.chunk_size, args.on_violation, codec)
        print(json.dumps(case))
        return 0
    if args.flodym:
        print(json.dumps(flodym_case(args.flodym_draws, sorted(set(args.sizes)))))
        return 0

    sizes = list(args.sizes) + ([1_000_000] if args.large else [])
    common = ["--on-violation", args.on_violation]
    if args.workers:
        common += ["--workers", str(args.workers)]
    if args.chunk_size:
        common += ["--chunk-size", str(args.chunk_size)]
    cases = []
    for n in sizes:
        cases.append(_child(["--case", str(n), "0", "zlib", *common]))
        print(json.dumps(cases[-1]), flush=True)
    for n in args.full_sizes:
        for codec in args.codecs:
            cases.append(_child(["--case", str(n), "1", codec, *common]))
            print(json.dumps(cases[-1]), flush=True)
    flo = _child(
        ["--flodym", "--flodym-draws", str(args.flodym_draws), "--sizes", *map(str, sizes)]
    )
    print(json.dumps(flo), flush=True)
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "targets": {
            "summary_1e6_s": 60,
            "full_1e5_s": 30,
            "peak_memory_mib": 1536,
        },
        "ndsim": cases,
        "flodym_loop": flo,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
