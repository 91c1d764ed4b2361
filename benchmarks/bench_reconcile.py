"""Benchmark of the upstream reconciliation (SPEC §3) against the model run it is part of.

One command::

    python benchmarks/bench_reconcile.py                  # N = 1 000 and 10 000 draws
    python benchmarks/bench_reconcile.py --sizes 1000     # one size

For each N, the `baseline` scenario's inputs are sampled for draws 0..N-1 (as
one ensemble chunk of N draws) and the whole model runs on them twice: with
the residual upstream and with the reconciled one. Reported: the time of the
reconciliation call alone
(:func:`ndsim.processes.reconciled.reconcile_upstream_values`, every year and
draw), the time of the whole chunk with the residual upstream, and their
ratio (target of issue 13: below 1/5 at N = 10 000 x 18 years). A warm-up
run (imports, numba compilation) is not timed; each timing is the best of
``--repeat`` runs.

Results go to ``benchmarks/results/reconcile.json`` (and are printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS / "reconcile.json")
    args = ap.parse_args(argv)

    from ndsim import api, pipeline, sampling
    from ndsim.processes import reconciled

    inputs, base = api.prepare("baseline")
    residual = dataclasses.replace(base, run=dataclasses.replace(base.run, upstream="residual"))
    recon = dataclasses.replace(base, run=dataclasses.replace(base.run, upstream="reconciled"))
    calls: list[float] = []
    original = reconciled.reconcile_upstream_values

    def timed(*a, **k):
        t0 = time.perf_counter()
        out = original(*a, **k)
        calls.append(time.perf_counter() - t0)
        return out

    reconciled.reconcile_upstream_values = timed
    warm = sampling.sample_inputs(inputs, base, np.arange(10), 1)
    pipeline.run(warm, recon)
    rows = []
    for n in args.sizes:
        draws = sampling.sample_inputs(inputs, base, np.arange(n), 1)
        chunk, rec_only, rec_chunk = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            pipeline.run(draws, residual)
            chunk.append(time.perf_counter() - t0)
            calls.clear()
            t0 = time.perf_counter()
            pipeline.run(draws, recon)
            rec_chunk.append(time.perf_counter() - t0)
            rec_only.append(sum(calls))
        years = int(inputs.attrs["last_year"]) - int(inputs.attrs["first_year"]) + 1
        row = {
            "draws": n,
            "years": years,
            "reconcile_s": min(rec_only),
            "chunk_residual_s": min(chunk),
            "chunk_reconciled_s": min(rec_chunk),
            "ratio_reconcile_to_chunk": min(rec_only) / min(chunk),
        }
        rows.append(row)
        print(
            f"N = {n:>6} x {years} years: reconciliation {row['reconcile_s']:.2f} s, chunk "
            f"(residual) {row['chunk_residual_s']:.2f} s, chunk (reconciled) "
            f"{row['chunk_reconciled_s']:.2f} s; reconciliation / chunk = "
            f"{row['ratio_reconcile_to_chunk']:.3f}"
        )
    reconciled.reconcile_upstream_values = original
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.platform(), "python": platform.python_version()}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"written: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
