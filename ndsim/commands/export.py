"""``ndsim export FILE.nc --csv DIR``: tidy CSV of an output file, for users without xarray."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export",
        help="export an output file as tidy CSV",
        description=(
            "Write every variable of an ndsim output file as a tidy CSV file (one row per "
            "value; columns: the variable's dimensions, value, units), plus variables.csv "
            "(names, dimensions, units, descriptions), coordinates_<dim>.csv and "
            "attributes.csv (provenance)."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE.nc", help="an ndsim output file")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--csv", type=Path, metavar="DIR", help="target folder (tidy CSV)")
    target.add_argument(
        "--iamc",
        type=Path,
        metavar="OUT.csv",
        help="one IAMC-format table (model, scenario, region, variable, unit, years), "
        "as pyam and remind-mfa read it",
    )
    parser.add_argument(
        "--region", default=None, help="region column of --iamc (default: the data set's name)"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ndsim.commands._common import check_output_folder, write_failed
    from ndsim.report.tables import open_output, write_csv, write_iamc

    if args.iamc is not None:
        from ndsim.commands._common import check_output_file

        check_output_file(args.iamc, "--iamc", ".csv", "CSV")
        try:
            with open_output(args.file) as ds:
                path = write_iamc(ds, args.iamc, region=args.region)
        except OSError as exc:
            return write_failed(exc)
        print(f"IAMC table written to {path}")
        return 0
    check_output_folder(args.csv, "--csv")
    try:
        with open_output(args.file) as ds:
            paths = write_csv(ds, args.csv)
    except OSError as exc:
        return write_failed(exc)
    print(f"{len(paths)} CSV files written to {args.csv}")
    if _has_draws(args.file):
        print(
            f"note: the per-draw values of {args.file} (NetCDF group 'draws', from --full) are not "
            f"exported; read them with xr.open_dataset('{args.file}', group='draws')"
        )
    return 0


def _has_draws(path) -> bool:
    """True when an output file holds the per-draw group of an ensemble run with --full."""
    import netCDF4

    try:
        with netCDF4.Dataset(path) as nc:
            return "draws" in nc.groups
    except OSError:
        return False
