"""One run owns its outputs: a lock file next to each target while a command writes it.

``<target>.lock`` holds the process id and host of the run that writes
``<target>`` (a NetCDF file or a figure folder). A second run aimed at the same
target while the first runs is refused in one line; a lock left by a process
that has died (same host, no such process) is taken over.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from ndsim.errors import UsageError

__all__ = ["lock_path", "output_locks"]


def lock_path(target: str | os.PathLike) -> Path:
    """The lock of a target: ``results.nc`` -> ``results.nc.lock``, ``figures/`` -> ``figures.lock``."""
    target = Path(target)
    return target.parent / (target.name + ".lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _take(target: Path, created: list[Path]) -> Path:
    lock = lock_path(target)
    missing = [p for p in (lock.parent, *lock.parent.parents) if not p.exists()]
    lock.parent.mkdir(parents=True, exist_ok=True)
    created.extend(missing)  # deepest first: removed again if the run leaves them empty
    me = f"{os.getpid()} {socket.gethostname()}\n"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid_text, _, host = lock.read_text(encoding="utf-8").strip().partition(" ")
                pid = int(pid_text)
            except (OSError, ValueError):
                pid, host = -1, ""
            if host == socket.gethostname() and pid > 0 and not _alive(pid):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()  # left by a run that died
                continue
            who = f"pid {pid} on {host}" if pid > 0 else "an unknown process"
            raise UsageError(
                f"{target}: another ndsim run ({who}) is writing it; wait for it to finish, "
                f"or remove {lock} if no run is going"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(me)
        return lock
    raise UsageError(f"{target}: could not take the lock {lock}")


@contextlib.contextmanager
def output_locks(*targets: str | os.PathLike | None) -> Iterator[None]:
    """Hold the locks of every target (None entries are skipped) for the block.

    Raises
    ------
    ndsim.errors.UsageError
        A live run holds one of them (checked before anything is computed).
    """
    held: list[Path] = []
    created: list[Path] = []
    try:
        for t in targets:
            if t is not None:
                held.append(_take(Path(t), created))
        yield
    finally:
        for lock in held:
            with contextlib.suppress(OSError):
                lock.unlink()
        for folder in created:  # a failed run leaves no empty output folders behind
            with contextlib.suppress(OSError):
                folder.rmdir()
