"""Cost per draw of an ensemble chunk of the China Nd model, by part.

One command::

    python benchmarks/bench_parts.py                  # 1,000-draw chunks, 9 rounds
    python benchmarks/bench_parts.py --draws 200 --rounds 15 --json parts.json

What a worker of ``ndsim ensemble`` does with one chunk
(:func:`ndsim.ensemble.draws.chunk_task`: sample, run the model, reduce), run
in this process with a worker's settings (its malloc tuning, no huge-page
advice, one kernel thread), on a plan built as the command builds it (the
deterministic run, the factor plan, the pilot's histogram bins; histogram
percentiles, as at large N). Each round times one chunk of fresh draws
(draws 1,000 + r N on) after one untimed chunk; the parts are timed
inside the same chunks (a part's time excludes the parts it calls):

- sampling: the draws' uniforms and factors, the regressors, the scaled inputs
  (``sampling.factor_arrays``, ``Factors.regressors``, ``sampling.apply_factors``);
- lifetime kernels: the use-stage and stock-driven convolutions
  (``forecast.Lifetimes.use``, ``use_pair``, ``stock``, ``mean_age``);
- reconciliation: ``pipeline._reconciled`` (upstream flows and their sd);
- summaries: the sensitivity targets and the one-pass reduction of every value
  (``draws.target_values``, ``summarize.reduce_blocks``);
- the rest: the chunk's time less the parts above (the rest of the model, its
  labels and bookkeeping).

Reported per part: microseconds per draw, the median over rounds, and the
spread (min to max). For a before/after comparison, run it once per checkout
(``PYTHONPATH=<checkout> python benchmarks/bench_parts.py``) at the same hour.

``--small M`` also times chunks of M draws, alternately with the chunks of N
(the same hour for both), and splits each part into a fixed cost per chunk and a
marginal cost per draw: the line through the two medians,
``median(N) = fixed + N * marginal``. The marginal cost is what a chunk of any
size pays per draw; the fixed cost is why chunks are large::

    python benchmarks/bench_parts.py --small 250 --draws 2000 --rounds 7
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from pathlib import Path

PARTS = ("sampling", "lifetime kernels", "reconciliation", "summaries")


def _targets():
    """(owner, attribute name, part) of the functions timed as parts."""
    from ndsim import forecast, pipeline, sampling, summarize
    from ndsim.ensemble import draws

    return [
        (sampling, "factor_arrays", "sampling"),
        (sampling.Factors, "regressors", "sampling"),
        (sampling, "apply_factors", "sampling"),
        (forecast.Lifetimes, "use", "lifetime kernels"),
        (forecast.Lifetimes, "use_pair", "lifetime kernels"),
        (forecast.Lifetimes, "stock", "lifetime kernels"),
        (forecast.Lifetimes, "mean_age", "lifetime kernels"),
        (pipeline, "_reconciled", "reconciliation"),
        (draws, "target_values", "summaries"),
        (summarize, "reduce_blocks", "summaries"),
    ]


class PartTimer:
    """Wraps functions so that their time adds up by part, exclusive of nested parts; the
    originals are put back when the ``with`` block ends."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self._inner = [0.0]  # time of wrapped calls inside the current one
        self._saved: list[tuple[object, str, object]] = []

    def __enter__(self) -> PartTimer:
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, f in reversed(self._saved):
            setattr(owner, name, f)
        self._saved.clear()

    def wrap(self, owner: object, name: str, part: str) -> None:
        f = getattr(owner, name)
        self._saved.append((owner, name, owner.__dict__[name]))

        @functools.wraps(f)
        def timed(*args, **kwargs):
            self._inner.append(0.0)
            t0 = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                inner = self._inner.pop()
                self.totals[part] += elapsed - inner
                self._inner[-1] += elapsed

        setattr(owner, name, timed)

    def reset(self) -> None:
        self.totals = dict.fromkeys(PARTS, 0.0)


def measure(draws: int, rounds: int, scenario: str | None, worker_settings: bool = True) -> dict:
    """Per-round chunk times and part times [s] (see the module docstring).

    ``worker_settings`` False leaves this process's malloc, huge pages and kernel
    threads as they are (a test that calls it does not change its own process)."""
    return measure_sizes([draws], rounds, scenario, worker_settings)[0]


def measure_sizes(
    sizes: list[int], rounds: int, scenario: str | None, worker_settings: bool = True
) -> list[dict]:
    """:func:`measure` for chunks of each of ``sizes`` draws, one plan, the sizes
    alternating within each round (fresh draws for every chunk)."""
    os.environ.setdefault("NDSIM_NO_PROGRESS", "1")
    from ndsim import inputs as nd_inputs
    from ndsim.ensemble import core, drive, executors, workers
    from ndsim.ensemble.draws import chunk_task

    if worker_settings:
        workers.reuse_freed_memory()
        workers.no_hugepage_advice()
        workers.size_kernel_threads(1)
    inputs, sc = nd_inputs.prepare(scenario)
    # the plan as `ndsim ensemble` builds it, for a large run (histogram percentiles)
    _, plan = core._plan(inputs, sc, None, None, 1, 10**6, 0, False)
    hist = drive.pilot_hist(executors.InProcessExecutor(plan), 10**6)
    out: list[list[dict]] = [[] for _ in sizes]
    with PartTimer() as timer:
        for owner, name, part in _targets():
            timer.wrap(owner, name, part)
        chunk_task(plan, 0, min(sizes[0], 100), hist)  # untimed: first calls, lazy imports
        start = 1000
        for _ in range(rounds):
            for i, draws in enumerate(sizes):
                timer.reset()
                t0 = time.perf_counter()
                chunk_task(plan, start, start + draws, hist)
                total = time.perf_counter() - t0
                start += draws
                parts = dict(timer.totals)
                parts["the rest"] = total - sum(parts.values())
                out[i].append({"total": total, "parts": parts})
    return [{"draws": draws, "rounds": rows} for draws, rows in zip(sizes, out, strict=True)]


def _medians(res: dict) -> dict[str, float]:
    """Median seconds per chunk of each part, the rest and the total."""
    rows = res["rounds"]
    med = {name: statistics.median(r["parts"][name] for r in rows) for name in rows[0]["parts"]}
    med["total"] = statistics.median(r["total"] for r in rows)
    return med


def fit(small: dict, large: dict) -> dict[str, tuple[float, float]]:
    """Per part (and ``total``): (fixed cost per chunk [s], marginal cost per draw [s]), the
    line through the medians of chunks of two sizes."""
    m, n = small["draws"], large["draws"]
    if m == n:
        raise ValueError("two different chunk sizes are needed")
    a, b = _medians(small), _medians(large)
    out = {}
    for name in a:
        marginal = (b[name] - a[name]) / (n - m)
        out[name] = (a[name] - m * marginal, marginal)
    return out


def fit_table(small: dict, large: dict) -> str:
    """Markdown table of :func:`fit`: ms per chunk and µs per draw by part."""
    parts = fit(small, large)
    m, n = small["draws"], large["draws"]
    lines = [
        f"Fixed and marginal cost by part (chunks of {m:,} and {n:,} draws, alternately; "
        f"medians of {len(large['rounds'])} rounds each)",
        "",
        f"| part | fixed, ms per chunk | marginal, µs per draw | at {n:,} draws, µs per draw |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in [*PARTS, "the rest", "total"]:
        fixed, marginal = parts[name]
        label = f"**{name}**" if name == "total" else name
        per_draw = (fixed / n + marginal) * 1e6
        lines.append(f"| {label} | {fixed * 1e3:.1f} | {marginal * 1e6:.1f} | {per_draw:.1f} |")
    return "\n".join(lines)


def table(res: dict) -> str:
    """Markdown table: microseconds per draw by part (median, min to max over rounds)."""
    n = res["draws"]
    rows = res["rounds"]
    names = [*PARTS, "the rest"]
    lines = [
        f"Cost per draw of a {n:,}-draw chunk, by part (µs per draw; median of "
        f"{len(rows)} rounds, min-max)",
        "",
        "| part | µs per draw | min-max | share |",
        "| --- | ---: | ---: | ---: |",
    ]
    med_total = statistics.median(r["total"] for r in rows) / n * 1e6
    for name in [*names, "total"]:
        vals = [(r["total"] if name == "total" else r["parts"][name]) / n * 1e6 for r in rows]
        med = statistics.median(vals)
        share = f"{100 * med / med_total:.0f} %"
        label = f"**{name}**" if name == "total" else name
        lines.append(f"| {label} | {med:.1f} | {min(vals):.1f}-{max(vals):.1f} | {share} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--draws", type=int, default=1000, help="draws per chunk (default 1000)")
    p.add_argument("--rounds", type=int, default=9, help="timed chunks (default 9)")
    p.add_argument("--scenario", help="scenario file or shipped name (default baseline)")
    p.add_argument(
        "--small",
        type=int,
        help="also time chunks of this many draws, alternately, and split each part into "
        "a fixed cost per chunk and a marginal cost per draw",
    )
    p.add_argument("--json", type=Path, help="also write the timings to this JSON file")
    a = p.parse_args(argv)
    if a.draws < 1 or a.rounds < 1:
        p.error("--draws and --rounds must be at least 1")
    if a.small is not None and not 1 <= a.small < a.draws:
        p.error("--small must be at least 1 and below --draws")
    if a.small is None:
        res = measure(a.draws, a.rounds, a.scenario)
        print(table(res))
    else:
        small, res = measure_sizes([a.small, a.draws], a.rounds, a.scenario)
        print(table(res))
        print()
        print(fit_table(small, res))
        res = {**res, "small": small}
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
