"""Atomic writes: a target is either absent, the previous complete file, or the new complete file.

Every output ndsim writes (NetCDF, figures, reports, CSV) goes to a temporary
file in the target's folder and is renamed into place only once complete
(:func:`os.replace` is atomic on one file system). The temporary file is
flushed to disk (``fsync``) before the rename and the folder after it, so
"absent, the previous or the new complete file" also holds across a power
loss.

Fault injection for tests: if the environment variable
``NDSIM_FAULT_BEFORE_RENAME`` is set, :func:`atomic_target` raises
``OSError(ENOSPC)`` ("disk full") after the temporary file is written and
before the rename, so a test can check that the target is untouched. A value
other than ``1`` is a glob pattern on the target's file name (e.g.
``*.png``): only matching targets fail, so a test can let the NetCDF file
through and stop at a figure.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_path(path: Path, *, folder: bool = False) -> None:
    """Flush a file's (or a folder's entries') data to disk; a folder that cannot be opened is skipped."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if folder else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if folder:  # some platforms cannot open a folder for fsync
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:
            raise
    finally:
        os.close(fd)


def _fault(target: Path) -> bool:
    pattern = os.environ.get("NDSIM_FAULT_BEFORE_RENAME", "")
    return bool(pattern) and (pattern == "1" or fnmatch.fnmatch(target.name, pattern))


def temporary_path(path: str | os.PathLike) -> Path:
    """A new, empty temporary file next to `path` (its folder is created), for :func:`atomic_target`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(tmp_name)


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike, tmp: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success rename it onto `path`.

    On any exception the temporary file is removed and `path` is left as it was.
    ``tmp``, from :func:`temporary_path`, is a temporary file begun earlier (a file
    written while a long run computes) to finish and rename instead of a new one.

    Examples
    --------
    >>> with atomic_target("out.csv") as tmp:  # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    target = Path(path)
    if tmp is None:
        tmp = temporary_path(target)
    try:
        yield tmp
        if tmp.exists():
            # mkstemp creates the file private (0600); give it the usual permissions
            os.chmod(tmp, 0o666 & ~_umask())
            _fsync_path(tmp)  # the data on disk before the name points at it
        if _fault(target):
            raise OSError(errno.ENOSPC, "No space left on device (injected fault)", str(target))
        os.replace(tmp, target)
        _fsync_path(target.parent, folder=True)  # the rename itself on disk
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
