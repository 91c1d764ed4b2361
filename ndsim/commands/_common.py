"""Shared pieces of the commands: output locations checked before computing, warnings as one line.

Not a command itself (``ndsim.cli.COMMANDS`` lists the commands).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

#: how many run-time violations a command prints before summing up the rest
MAX_WARNINGS = 5


def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(".")


def check_output_file(
    path: str | os.PathLike, flag: str, suffix: str = ".nc", kind: str = "NetCDF"
) -> Path:
    """Check, before computing, that a result file can be written at ``path``.

    Raises
    ------
    ndsim.errors.UsageError
        ``path`` is a folder, does not end in `suffix`, a parent of it is a file, or its
        folder is not writable.
    """
    from ndsim.errors import UsageError

    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{flag} {target}: is a folder; give a file name such as results{suffix}")
    if target.suffix.lower() != suffix:
        raise UsageError(
            f"{flag} {target}: a {kind} file name ends in {suffix} (did you mean {target}{suffix}?)"
        )
    _check_parent(target.parent, target, flag)
    return target


def check_output_folder(path: str | os.PathLike, flag: str) -> Path:
    """Check, before computing, that figures can be written into the folder ``path``.

    Raises
    ------
    ndsim.errors.UsageError
        ``path`` is a file, a parent of it is a file, or it is not writable.
    """
    from ndsim.errors import UsageError

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag} {folder}: is a file, not a folder")
    _check_parent(folder, folder, flag)
    return folder


def _check_parent(folder: Path, target: Path, flag: str) -> None:
    from ndsim.errors import UsageError

    base = _existing_ancestor(folder)
    if not base.is_dir():
        raise UsageError(f"{flag} {target}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {target}: no permission to write in {base}")


def kernels_cached() -> bool:
    """True when numba's cache holds compiled kernels of ndsim (a first run compiles them).

    Looks where numba writes its cache: ``$NUMBA_CACHE_DIR`` (any depth) when set,
    else ``__pycache__`` next to ``ndsim/kernels``. A miss only means the
    "compiling" line is printed.
    """
    from ndsim import kernels

    root = os.environ.get("NUMBA_CACHE_DIR")
    folder = Path(root) if root else Path(kernels.__file__).parent / "__pycache__"
    if not folder.is_dir():
        return False
    return any(True for _ in folder.rglob("*stock.*.nbi"))


def say_compiling() -> None:
    """One line on stderr before a first run, which compiles the kernels for a while.

    A progress message: silent with ``NDSIM_NO_PROGRESS`` set, as the progress bars are.
    """
    if os.environ.get("NDSIM_NO_PROGRESS"):
        return
    if not kernels_cached():
        print(
            "ndsim: compiling the numba kernels (first run only; about 20 s, cached after)",
            file=sys.stderr,
            flush=True,
        )


def figure_count(paths) -> int:
    """How many figures (PNG and HTML, not the shared plotly.js) ``paths`` holds."""
    return sum(1 for p in paths or [] if Path(p).suffix in (".png", ".html"))


def write_figures(ds, folder: Path) -> None:
    """Draw a run's or an ensemble's figures into ``folder`` and say where."""
    from ndsim.report.figures import write_all

    n = figure_count(write_all(ds, folder))
    print(f"figures: {folder}" + (f" ({n} files)" if n else ""))


def write_failed(exc: OSError) -> int:
    """One line on stderr for a failed write (full disk, lost permission); exit code 1.

    The atomic writes (:mod:`ndsim.io.atomic`) left every target either absent
    or the previous complete file.
    """
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    print(
        f"ndsim: error: cannot write{where}: {reason} (no partial file left behind)",
        file=sys.stderr,
    )
    return 1


@contextlib.contextmanager
def violations_as_lines() -> Iterator[None]:
    """Print mass-balance and sign violations (``on_violation = "warn"``) as ``ndsim: warning:`` lines.

    The first :data:`MAX_WARNINGS` distinct messages are printed, then a count
    of the rest when the block ends. Other warnings are shown as usual.
    """
    from ndsim.balance import BalanceWarning

    seen: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("always", BalanceWarning)
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, BalanceWarning):
                previous(message, category, filename, lineno, file, line)
                return
            text = str(message)
            if text in seen:
                return
            seen.append(text)
            if len(seen) <= MAX_WARNINGS:
                print(f"ndsim: warning: {text}", file=sys.stderr)

        warnings.showwarning = show
        try:
            yield
        finally:
            if len(seen) > MAX_WARNINGS:
                print(
                    f"ndsim: warning: and {len(seen) - MAX_WARNINGS} more distinct violation "
                    'message(s) (run.on_violation = "warn")',
                    file=sys.stderr,
                )


def add_shared_options(p, output_default: str) -> None:
    """The options `ndsim run` and `ndsim ensemble` share: --data, --output, --figures | --no-figures."""
    p.add_argument("--data", metavar="DIR", help="data-set folder (default: the scenario's data)")
    p.add_argument("--output", metavar="FILE.nc", help=f"NetCDF output (default: {output_default})")
    fig = p.add_mutually_exclusive_group()
    fig.add_argument(
        "--figures", metavar="DIR", help="figure folder (default: figures/ next to the NetCDF file)"
    )
    fig.add_argument("--no-figures", action="store_true", help="write no figures")
