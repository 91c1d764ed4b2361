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


#: numpy's advice to the kernel to back its large arrays with transparent huge pages, in a
#: command-line process and the workers it starts: off ("0") unless the user set
#: NUMPY_MADVISE_HUGEPAGE. Where the kernel's THP defrag setting is "madvise" (a common
#: default), the first touch of such memory compacts it in the page fault: measured on
#: 2 cores, a 1,000-draw ensemble took 6.2-6.9 s with the advice (3.4-4.2 s of system
#: time) and 3.5-3.7 s without (0.7-0.8 s), with the same per-chunk time once memory
#: is reused (:func:`ndsim.ensemble.workers.reuse_freed_memory`)
HUGEPAGE_ADVICE = "0"

#: the cyclic garbage collector's generation-0 threshold in a command-line process (Python's
#: default is 700): the imports create ~150 000 objects, and a collection every 700
#: allocations costs ~0.1 s of a run; memory held by unreachable cycles stays small
GC_THRESHOLD = (10_000, 50, 100)


def main(argv: list[str] | None = None) -> int:
    """The ``ndsim`` command: ``argv`` (default ``sys.argv[1:]``) -> exit code.

    From the command line (``argv`` None) the process's garbage collector runs less often,
    and at the end every object is moved out of its reach (``gc.freeze``): the process is
    about to exit, and the collections during the interpreter's shutdown cost ~0.2 s.
    numpy, imported after this point, gives no huge-page advice (:data:`HUGEPAGE_ADVICE`),
    nor do the workers the process starts, which inherit its environment.
    Called with ``argv`` (tests, scripts), the process is left as it is.
    """
    import gc
    import os

    if argv is not None:
        return _main(argv)
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", HUGEPAGE_ADVICE)
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
