"""``ndsim ensemble``: a Monte Carlo ensemble of a scenario, summarised (or in full) in one NetCDF file.

A thin shell: parse -> check options -> load and check data and scenario
(before computing) -> run chunk by chunk -> write -> print the uncertainty
and sensitivity tables. An interrupted run (Ctrl-C, SIGTERM, a full disk)
keeps its finished chunks next to the output and prints the command that
resumes it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ndsim.commands._common import add_shared_options, write_figures

HELP = "Monte Carlo ensemble: summary statistics (or every draw) in one NetCDF file"
DEFAULT_OUTPUT_DIR = Path("ndsim_output")
#: below this number of draws the percentiles are rough: a warning (SPEC §5)
MIN_DRAWS = 100


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "ensemble",
        help=HELP,
        description=(
            "Run a Monte Carlo ensemble of a scenario (default: the shipped baseline): the "
            "uncertain inputs of its [uncertainty] table are drawn per draw, the whole model runs "
            "chunk by chunk along the draw dimension, and the output holds summary statistics "
            "over draws (stat: deterministic, mean, sd, q025, q25, q50, q75, q975) for every "
            "output variable, plus the sensitivity of total demand, stock and end-of-life to the "
            "inputs. Per-draw values depend only on the seed and the draw number, so results do "
            "not depend on --chunk-size, the number of workers or the scheduler."
        ),
        epilog=(
            "Examples: ndsim ensemble --draws 10000 --seed 1; "
            "ndsim ensemble baseline --draws 100000 --workers 2 --output out.nc; "
            "ndsim ensemble --draws 1000000 --scheduler tcp://10.0.0.5:8786. "
            "If a run is interrupted, the same command with --resume continues it."
        ),
    )
    p.add_argument("scenario", nargs="?", default=None, metavar="SCENARIO")
    p.add_argument("--draws", type=_int, required=True, metavar="N", help="number of draws")
    p.add_argument(
        "--chunk-size",
        type=_int,
        default=None,
        metavar="K",
        help="draws per chunk (memory per task, about 0.5 MiB per draw; default min(N, 1000))",
    )
    p.add_argument("--seed", type=_int, default=0, metavar="S", help="random seed (default 0)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_int,
        default=None,
        metavar="W",
        help="start a local dask.distributed cluster with W worker processes",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on an existing dask.distributed cluster (tcp://host:port); its workers "
        "must run the same ndsim, numba and numpy (and kernel sources) as this one",
    )
    p.add_argument(
        "--dashboard",
        action="store_true",
        help="with --workers: serve the cluster's dask dashboard and print its link "
        '(needs bokeh: pip install "ndsim[cluster]")',
    )
    add_shared_options(p, "ndsim_output/<scenario>/<scenario>_ensemble.nc")
    p.add_argument(
        "--full",
        action="store_true",
        help="also write every draw (group 'draws' of the file, float32, compressed)",
    )
    p.add_argument(
        "--codec",
        default="zlib",
        metavar="CODEC",
        help="with --full: compression of the draws: zlib (default; every NetCDF-4 reader "
        "decodes it) or zstd (about 6x faster to write, files about 25%% larger; readers "
        "need the HDF5 zstd filter plugin, which the netCDF4 wheels have)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUTPUT.partial/ (same options required)",
    )
    p.add_argument(
        "--sobol",
        type=_int,
        default=None,
        metavar="B",
        help="also estimate first-order and total Sobol indices of the sensitivity targets "
        "from a Saltelli design of B base samples (B x (k + 2) more model runs, k the "
        "number of sampled series)",
    )
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from ndsim.commands._common import check_output_file, check_output_folder
    from ndsim.ensemble.core import check_codec
    from ndsim.ensemble.plan import check_options
    from ndsim.errors import UsageError
    from ndsim.inputs import prepare
    from ndsim.io.lock import output_locks

    check_options(args.draws, args.chunk_size, args.seed, args.workers)
    check_codec(args.codec, args.full)
    if args.dashboard and args.workers is None:
        raise UsageError("--dashboard needs --workers (the dashboard of the cluster ndsim starts)")
    if args.output is not None:
        check_output_file(args.output, "--output")
    if args.figures is not None:
        check_output_folder(args.figures, "--figures")
    inputs, sc = prepare(args.scenario, data=args.data)
    folder = DEFAULT_OUTPUT_DIR / sc.name  # each scenario its own folder
    output = Path(args.output) if args.output else folder / f"{sc.name}_ensemble.nc"
    check_output_file(output, "--output")
    figures = None
    if not args.no_figures:
        figures = Path(args.figures) if args.figures else output.parent / "figures"
        check_output_folder(figures, "--figures")
    with output_locks(output, figures):
        return _compute_and_write(args, inputs, sc, output, figures)


def _compute_and_write(args, inputs, sc, output, figures) -> int:
    from ndsim.commands._common import say_compiling, violations_as_lines, write_failed
    from ndsim.ensemble import ensemble_from_inputs, sensitivity_table, uncertainty_table
    from ndsim.errors import NdsimError

    say_compiling()
    try:
        with violations_as_lines():
            out = ensemble_from_inputs(
                inputs,
                sc,
                draws=args.draws,
                chunk_size=args.chunk_size,
                seed=args.seed,
                workers=args.workers,
                scheduler=args.scheduler,
                dashboard=args.dashboard,
                output=output,
                full=args.full,
                codec=args.codec,
                resume=args.resume,
                sobol=args.sobol,
            )
    except NdsimError:
        raise
    except (KeyboardInterrupt, Exception) as exc:
        # Ctrl-C, SIGTERM, a full disk, a killed worker: finished chunks are kept
        from concurrent.futures.process import BrokenProcessPool

        kept = getattr(exc, "ndsim_kept", None)
        interrupted = isinstance(exc, KeyboardInterrupt | OSError | BrokenProcessPool)
        if not interrupted and kept is None:
            raise  # a bug, not an interruption: the traceback helps
        if isinstance(exc, KeyboardInterrupt):
            if kept is not None:
                print(f"ndsim: resume with: {_resume_command(args)}", file=sys.stderr)
            raise
        reason = str(exc) or type(exc).__name__
        if not isinstance(exc, OSError):
            reason = f"the run stopped ({type(exc).__name__}: {reason})"
        print(f"ndsim: error: {' '.join(reason.split())}", file=sys.stderr)
        if kept is not None:
            print(f"ndsim: resume with: {_resume_command(args)}", file=sys.stderr)
        return 1
    print(f"results: {output}")
    if figures is not None:
        try:
            write_figures(out, figures)
        except OSError as exc:
            return write_failed(exc)
    print()
    if args.draws < MIN_DRAWS:
        print(
            f"ndsim: warning: {args.draws} draws: the percentiles of fewer than {MIN_DRAWS} "
            "draws are rough (q2.5 and q97.5 sit near the extremes); use --draws "
            f"{MIN_DRAWS} or more for the uncertainty table (SPEC §5)",
            file=sys.stderr,
        )
    print(uncertainty_table(out))
    table = sensitivity_table(out)
    if table:
        print()
        print(table)
    return 0


def _resume_command(args: argparse.Namespace) -> str:
    argv = sys.argv[1:] if sys.argv and Path(sys.argv[0]).name in ("ndsim", "cli.py") else None
    if not argv or argv[0] != "ensemble":
        argv = ["ensemble"]
        if args.scenario:
            argv.append(args.scenario)
        argv += ["--draws", str(args.draws), "--seed", str(args.seed)]
        for flag, value in (
            ("--chunk-size", args.chunk_size),
            ("--workers", args.workers),
            ("--scheduler", args.scheduler),
            ("--data", args.data),
            ("--output", args.output),
            ("--figures", args.figures),
        ):
            if value is not None:
                argv += [flag, str(value)]
        if args.no_figures:
            argv.append("--no-figures")
        if args.full:
            argv.append("--full")
        if args.codec != "zlib":
            argv += ["--codec", args.codec]
        if args.dashboard:
            argv.append("--dashboard")
    if "--resume" not in argv:
        argv = [*argv, "--resume"]
    return "ndsim " + " ".join(shlex.quote(a) for a in argv)
