"""numba's on-disk cache for the kernels, invalidated by an edit of any kernel file.

numba's cache (``cache=True``) stamps the cached machine code of a function
with a hash of that function's own source file only. A compiled function
contains the code of the compiled functions it calls, inlined or linked in,
so when a callee in another file changes, the caller's stamp still matches
and numba loads the old code (numba issue #1833). Here every kernel
is stamped instead with one hash of all kernel files (``ndsim/kernels/*.py``,
names and contents): any edit of any of them, or an upgrade of ndsim that
changes one, invalidates the cached code of every kernel at once, and the
kernels may call each other across files (:mod:`ndsim.kernels.fastmath`).

Mechanism: :func:`install` puts :class:`KernelCacheLocator` first in
numba's list of cache locators (``numba.core.caching.CacheImpl._locator_classes``,
read when a function with ``cache=True`` is decorated, and for the wrappers
of gufuncs). It answers only for functions defined in ``ndsim/kernels``
and wraps the locator numba would have chosen for them, so the cache stays
where numba puts it (``$NUMBA_CACHE_DIR`` when set, else ``__pycache__``
next to the file, else the user's cache folder), with the same file names;
only the stamp in each index file differs. A stale index is discarded and
its entries are overwritten as numba does for an edited file, so no stale
files pile up. :class:`PackageCacheLocator`, second, answers for the other
compiled functions of ndsim and changes nothing but records their folders.
Functions defined outside ndsim keep numba's own locators.
:mod:`ndsim.kernels` calls :func:`install` before it imports any kernel, and
every module of ndsim that compiles imports :mod:`ndsim.kernels` first.

Limits: with ``NUMBA_CACHE_LOCATOR_CLASSES`` set, numba uses the locators
named there and not this one (the kernels then get numba's per-file stamps
back). Compiled functions outside ``ndsim/kernels`` that call a kernel are
not covered; none does. The stamp is computed when a function is decorated
(as numba computes its own), so an edit made while a process runs takes
effect in the next process.

One build at a time: numba caches a gufunc in two entries, its kernel and the
wrapper that calls it, and the wrapper names the kernel by a tag that depends
on what the process compiled before. Two processes that compile the same
gufunc at once (an ensemble's parent and its workers' fork server, on a cold
cache) can each write one of the two, and every process that loads the pair
afterwards crashes in the wrapper (numba issue #10128; a segmentation fault
on every later run, until the cache is deleted). :func:`build_lock` holds an
advisory lock on a file in the kernels' cache folder while a gufunc is built
(compiled and saved, or loaded), so the two entries always come from one
process; :class:`ndsim.kernels.stock._LazyGufunc` builds under it. And one
writer at a time: numba saves a new signature by reading a function's index,
numbering a data file from it and writing the index before the data, so two
processes saving two signatures of one function at once can leave an entry
that names the other's code. In the folders of ndsim's compiled functions a
save holds the folder's ``ndsim-cache.lock`` exclusively and a load holds it
shared (:func:`install`). Where there is no ``fcntl`` (Windows), builds and
cache files are not serialised.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
from collections.abc import Callable, Iterator
from typing import Any

from numba.core import caching

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: the file :func:`build_lock` locks, in the kernels' cache folder
LOCK_NAME = "ndsim-kernels.lock"
#: the file the cache reads and writes of ndsim's compiled functions lock, in each folder
IO_LOCK_NAME = "ndsim-cache.lock"
#: the cache folders of ndsim's compiled functions (recorded as numba decorates them)
LOCKED_FOLDERS: set[str] = set()

#: the folder of the kernel modules, whose ``*.py`` files make up the stamp
KERNEL_DIR = os.path.dirname(os.path.realpath(__file__))
#: the folder of the ndsim package
PACKAGE_DIR = os.path.dirname(KERNEL_DIR)


def kernel_files() -> list[str]:
    """Paths of the kernel modules (``*.py`` directly in ``ndsim/kernels``), sorted by name."""
    names = sorted(n for n in os.listdir(KERNEL_DIR) if n.endswith(".py"))
    return [os.path.join(KERNEL_DIR, n) for n in names]


@functools.lru_cache(maxsize=8)
def _hash_files(stats: tuple[tuple[str, int, int], ...]) -> str:
    # keyed on (path, mtime, size) of every file, as numba's own file hash: a file
    # that changes while the process runs is read again
    h = hashlib.sha256()
    for path, _mtime, _size in stats:
        with open(path, "rb") as f:
            data = f.read()
        h.update(os.path.basename(path).encode())
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def source_stamp() -> str:
    """SHA-256 (hex) of the names and contents of all kernel modules.

    Returns
    -------
    str
        Changes whenever a kernel file is edited, added, removed or renamed.
    """
    stats = []
    for path in kernel_files():
        st = os.stat(path)
        stats.append((path, st.st_mtime_ns, st.st_size))
    return _hash_files(tuple(stats))


def _is_kernel_file(py_file: str) -> bool:
    return os.path.dirname(os.path.realpath(py_file)) == KERNEL_DIR


def _is_package_file(py_file: str) -> bool:
    return os.path.realpath(py_file).startswith(PACKAGE_DIR + os.sep)


class PackageCacheLocator(caching._CacheLocator):
    """numba's cache locator for a compiled function of ndsim, its folder recorded.

    Wraps the locator numba itself would choose for the function (cache folder,
    file names, source stamp, disambiguator) and records the folder among
    those whose cache files are read and written under a lock (:func:`install`).

    Parameters
    ----------
    inner : numba.core.caching._CacheLocator
        numba's locator for the function.
    """

    def __init__(self, inner: caching._CacheLocator) -> None:
        self._inner = inner
        LOCKED_FOLDERS.add(inner.get_cache_path())

    def ensure_cache_path(self) -> None:
        """Create the cache folder and check that it is writable (numba's check)."""
        self._inner.ensure_cache_path()

    def get_cache_path(self) -> str:
        """The folder numba's own locator puts the function's cache in."""
        return self._inner.get_cache_path()

    def get_source_stamp(self) -> object:
        """numba's own stamp (of the function's source file)."""
        return self._inner.get_source_stamp()

    def get_disambiguator(self) -> str:
        """numba's own disambiguator (the line number of the function)."""
        return self._inner.get_disambiguator()

    @classmethod
    def _wrap(cls, py_func, py_file):
        for other in caching.CacheImpl._locator_classes:
            if issubclass(other, PackageCacheLocator):
                continue
            inner = other.from_function(py_func, py_file)
            if inner is not None:
                return cls(inner)
        return None

    @classmethod
    def from_function(cls, py_func, py_file):
        """The locator of a function defined in ndsim outside ``ndsim/kernels``; else None."""
        if not _is_package_file(py_file) or _is_kernel_file(py_file):
            return None
        return cls._wrap(py_func, py_file)


class KernelCacheLocator(PackageCacheLocator):
    """numba's cache locator for a kernel, stamped with all kernel files (:func:`source_stamp`).

    As :class:`PackageCacheLocator`, with the source stamp replaced.
    """

    def get_source_stamp(self) -> tuple[str, str]:
        """``("ndsim.kernels", sha256 of all kernel files)``, stored in and checked against the index."""
        return ("ndsim.kernels", source_stamp())

    @classmethod
    def from_function(cls, py_func, py_file):
        """The locator of a function defined in ``ndsim/kernels``; None for any other function."""
        if not _is_kernel_file(py_file):
            return None
        try:
            source_stamp()
        except OSError:  # files not readable as such (e.g. a zip import): numba's own stamps
            return None
        return cls._wrap(py_func, py_file)


def _flock(fd: int, mode: int) -> None:
    """``flock``, or nothing on a file system that has no locks (some network or FUSE
    mounts say ENOLCK or EOPNOTSUPP): numba's own behaviour there, unserialised."""
    try:
        fcntl.flock(fd, mode)
    except OSError:
        pass


@contextlib.contextmanager
def _held(path: str | None, mode: int) -> Iterator[None]:
    """``flock`` ``mode`` on the file ``path`` (made if missing) until the block ends.

    An ``flock`` lock: the operating system releases it when the file is closed, also
    when a process dies holding it. Nothing is held without ``fcntl``, without a path
    or without a file that can be opened (e.g. one another user made): numba's own
    behaviour, unserialised.
    """
    fd = None
    if fcntl is not None and path is not None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            fd = None
    try:
        if fd is not None:
            _flock(fd, mode)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def _folder_lock(folder: object, mode: int) -> contextlib.AbstractContextManager[None]:
    """:func:`_held` on the :data:`IO_LOCK_NAME` file of a recorded cache folder."""
    recorded = folder in LOCKED_FOLDERS
    return _held(os.path.join(str(folder), IO_LOCK_NAME) if recorded else None, mode)


def _locked(method: Callable, mode: int) -> Callable:
    @functools.wraps(method)
    def call(self, *args):
        with _folder_lock(getattr(self, "_cache_path", None), mode):
            return method(self, *args)

    call.ndsim_locked = True  # type: ignore[attr-defined]
    return call


def install() -> None:
    """Put :class:`KernelCacheLocator` and :class:`PackageCacheLocator` first in numba's
    cache locators, and lock the cache reads and writes in their folders (once; idempotent).

    A save (read the index, add the entry, write the index and the data) holds the
    folder's :data:`IO_LOCK_NAME` file exclusively, a load (read the index, then the
    data) shared: two processes saving new signatures of one function at once then
    cannot leave an index entry that names the other's code (numba writes the index
    before the data and numbers the data files from the index it read). Files of
    functions outside ndsim are read and written as numba does, unlocked.

    Must run before the first compiled function of ndsim is decorated:
    :mod:`ndsim.kernels` calls it before importing its modules, and every module of
    ndsim that compiles imports :mod:`ndsim.kernels` first.
    """
    locators: list[Any] = caching.CacheImpl._locator_classes
    if KernelCacheLocator not in locators:
        locators.insert(0, KernelCacheLocator)
    if PackageCacheLocator not in locators:
        locators.insert(1, PackageCacheLocator)
    files = caching.IndexDataCacheFile
    if fcntl is not None and not getattr(files.save, "ndsim_locked", False):
        files.save = _locked(files.save, fcntl.LOCK_EX)  # type: ignore[method-assign]
        files.load = _locked(files.load, fcntl.LOCK_SH)  # type: ignore[method-assign]


def lock_path(py_func: Callable) -> str | None:
    """The lock file of the folder numba caches the kernel ``py_func`` in; None for a
    function outside ``ndsim/kernels`` or without a writable cache folder."""
    try:
        locator = KernelCacheLocator.from_function(py_func, inspect.getfile(py_func))
    except (OSError, TypeError):
        return None
    return None if locator is None else os.path.join(locator.get_cache_path(), LOCK_NAME)


def build_lock(py_func: Callable) -> contextlib.AbstractContextManager[None]:
    """Hold, across processes, the lock of the kernels' cache folder (exclusive, blocking)
    for the build of the gufunc of kernel ``py_func`` (see the module docstring and
    :func:`_held`)."""
    if fcntl is None:
        return contextlib.nullcontext()
    return _held(lock_path(py_func), fcntl.LOCK_EX)
