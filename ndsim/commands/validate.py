"""``ndsim validate``: check a data set and print a summary, compute nothing.

Runs every check of :mod:`ndsim.validate` (the same ones ``ndsim run``
runs before computing), assembles the input Dataset, and prints the rows
per table and the share of values by quality flag. A problem becomes one
line on stderr naming the file, the column and the offending rows, and exit
code 2 (see :func:`ndsim.cli.main`).
"""

from __future__ import annotations

import argparse

HELP = "check a data set (tables, units, codes, years) and print a summary"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "validate",
        help=HELP,
        description=(
            "Check every table of a data set (docs/data_format.md): missing or duplicate rows, "
            "unknown codes, NaN, inf, negatives, shares outside [0, 1], non-positive lifetimes, "
            "units that do not parse or do not match, years that do not cover the run. Print "
            "the rows per table and the share of values by quality flag. Exit code 2 on the "
            "first problem, with one line naming the file, the column and the rows."
        ),
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="data-set folder or name of a shipped data set (default: the China Nd case)",
    )
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from ndsim.io.readers import build_dataset, resolve_data_dir
    from ndsim.validate import check_dataset

    checked = check_dataset(resolve_data_dir(args.data))
    ds = build_dataset(checked)
    import sys

    from ndsim.validate import long_lifetimes

    for line in long_lifetimes(ds):
        print(f"ndsim: warning: {line}", file=sys.stderr)
    print(checked.summary.format())
    print(f"dataset sha256: {ds.attrs['dataset_sha256']}")
    return 0
