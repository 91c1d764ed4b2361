"""``ndsim plot FILE.nc [--year Y ...] [--out DIR]``: redraw the figures from an output file alone."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plot",
        help="redraw the figures from an output file",
        description=(
            "Redraw every figure from an ndsim output file (NetCDF) alone: Sankey diagrams "
            "(PNG and offline HTML) for the first and the last accounted year and any --year, "
            "demand, stock and end-of-life by product, trade, forecast and supply figures, and "
            "fan charts for ensemble files. With two files (ndsim plot A.nc B.nc), draw their "
            "forecast demand by group side by side instead (compare_demand_by_group.png)."
        ),
    )
    parser.add_argument(
        "file",
        type=Path,
        nargs="+",
        metavar="FILE.nc",
        help="an ndsim output file, or two to compare",
    )
    parser.add_argument(
        "--year",
        type=int,
        action="append",
        default=[],
        metavar="Y",
        help="also draw the Sankey diagram of year Y (repeatable); after the last accounted "
        "year it shows use and waste only",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the figures (default: FILE_figures next to the file)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ndsim.commands._common import check_output_folder, figure_count, write_failed
    from ndsim.errors import UsageError
    from ndsim.report import _select
    from ndsim.report.figures import write_all
    from ndsim.report.tables import open_draws, open_output

    files = list(args.file)
    if len(files) > 2:
        raise UsageError(f"give one output file, or two to compare (got {len(files)})")
    if len(files) == 2:
        from ndsim.report.figures import compare_demand_by_group

        a, b = files
        out = args.out if args.out is not None else a.with_name(f"{a.stem}_vs_{b.stem}_figures")
        check_output_folder(out, "--out")
        try:
            with open_output(a) as da, open_output(b) as db:
                paths = compare_demand_by_group(da, db, out)
        except OSError as exc:
            return write_failed(exc)
        print(f"{len(paths)} figure written to {out}")
        return 0
    (file,) = files
    out = args.out if args.out is not None else file.with_name(f"{file.stem}_figures")
    check_output_folder(out, "--out")
    with open_output(file) as ds:
        years = _select.years(ds)
        bad = [y for y in args.year if y not in set(years.tolist())]
        if bad:
            raise UsageError(
                f"--year {', '.join(map(str, bad))}: outside the years of {file} "
                f"({years[0]}-{years[-1]})"
            )
        draws = open_draws(file)
        try:
            paths = write_all(ds, out, years=args.year, draws=draws)
        except OSError as exc:
            return write_failed(exc)
        finally:
            if draws is not None:
                draws.close()
    print(f"{figure_count(paths)} figures written to {out}")
    return 0
