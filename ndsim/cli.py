"""The ``ndsim`` command line: a thin shell around the library.

Each subcommand lives in its own module under :mod:`ndsim.commands` and
exposes ``add_parser(subparsers)``; the parser it adds sets ``func``, which
takes the parsed arguments and returns an exit code. Errors in the user's
input (:class:`ndsim.errors.NdsimError`) become one line on stderr and exit
code 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ndsim._version import __version__

#: subcommand modules, in the order --help lists them
COMMANDS = ("run", "ensemble", "validate", "plot", "export")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ndsim",
        description=(
            "ndsim: dynamic material flow analysis (dMFA) with labelled output and native "
            "Monte Carlo ensembles. The default case is neodymium in mainland China 2000-2050 "
            "(Yao et al. 2021, doi:10.1016/j.resconrec.2021.105752)."
        ),
        epilog="Run 'ndsim COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"ndsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"ndsim.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != f"ndsim.commands.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


#: the cyclic garbage collector's generation-0 threshold in a command-line process (Python's
#: default is 700): the imports create ~150 000 objects, and a collection every 700
#: allocations costs ~0.1 s of a run; memory held by unreachable cycles stays small
GC_THRESHOLD = (10_000, 50, 100)


def main(argv: list[str] | None = None) -> int:
    """The ``ndsim`` command: ``argv`` (default ``sys.argv[1:]``) -> exit code.

    From the command line (``argv`` None) the process's garbage collector runs less often,
    and at the end every object is moved out of its reach (``gc.freeze``): the process is
    about to exit, and the collections during the interpreter's shutdown cost ~0.2 s.
    Called with ``argv`` (tests, scripts), the process's collector is left as it is.
    """
    import gc

    if argv is not None:
        return _main(argv)
    gc.set_threshold(*GC_THRESHOLD)
    try:
        return _main(argv)
    finally:
        gc.freeze()


def _main(argv: list[str] | None) -> int:
    from ndsim.errors import NdsimError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except NdsimError as exc:
        print(f"ndsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ndsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
