"""numba's cache of the kernels is invalidated by an edit of any kernel file.

numba by itself stamps a cached function with its own source file only, so
a caller would keep the machine code of an edited callee in another file;
:mod:`ndsim.kernels._cache` stamps every kernel with all kernel files. The
end-to-end test edits :mod:`ndsim.kernels.fastmath` in a copy of the package
and checks that a kernel of :mod:`ndsim.kernels.stock` that calls it is
compiled again, and that an unchanged run loads it from the cache. A gufunc is
built under a lock of the cache folder that other processes wait for (numba
issue #10128: two processes writing one gufunc's two cache entries at once
leave a pair that crashes every later run).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba.core import caching

import ndsim
from ndsim.kernels import _cache
from ndsim.kernels import fastmath as fm
from ndsim.kernels import stock as K


def _dispatchers(module):
    return [v for v in vars(module).values() if isinstance(v, numba.core.registry.CPUDispatcher)]


def test_every_kernel_is_stamped_with_all_kernel_files():
    jitted = _dispatchers(K) + _dispatchers(fm)
    assert len(jitted) >= 20
    for disp in jitted:
        if disp.py_func.__module__ != K.__name__ and disp.py_func.__module__ != fm.__name__:
            continue  # (a name imported from elsewhere)
        assert os.path.dirname(disp.py_func.__code__.co_filename) == _cache.KERNEL_DIR
        locator = disp._cache._impl.locator
        assert isinstance(locator, _cache.KernelCacheLocator), disp
        assert locator.get_source_stamp() == ("ndsim.kernels", _cache.source_stamp())
    # the gufuncs: their kernel and their wrapper
    from numba.np.ufunc.wrappers import GufWrapperCache

    gufunc = K.inflow_driven.build()
    locator = gufunc.gufunc_builder.nb_func.cache._impl.locator
    assert isinstance(locator, _cache.KernelCacheLocator)
    wrapper = GufWrapperCache(py_func=K.inflow_driven.py_func)
    assert isinstance(wrapper._impl.locator, _cache.KernelCacheLocator)


def test_the_cache_stays_where_numba_puts_it():
    """Same folder, file names and line-number disambiguator as numba's own locator."""
    py_func = K._differences.py_func
    ours = _cache.KernelCacheLocator.from_function(py_func, py_func.__code__.co_filename)
    for cls in caching.CacheImpl._locator_classes:
        if cls is _cache.KernelCacheLocator:
            continue
        theirs = cls.from_function(py_func, py_func.__code__.co_filename)
        if theirs is not None:
            break
    assert ours.get_cache_path() == theirs.get_cache_path()
    assert ours.get_disambiguator() == theirs.get_disambiguator()
    if os.environ.get("NUMBA_CACHE_DIR"):
        assert Path(ours.get_cache_path()).parent == Path(os.environ["NUMBA_CACHE_DIR"])


def test_functions_outside_the_kernels_keep_numbas_locators():
    from ndsim import balance

    assert _cache.KernelCacheLocator.from_function(_cache.install, ndsim.__file__) is None
    for disp in _dispatchers(balance):
        assert not isinstance(disp._cache._impl.locator, _cache.KernelCacheLocator)


def test_every_compiled_function_of_ndsim_has_its_cache_folder_locked():
    """Numba's own locator, stamp and folder, the folder recorded for the locked reads and
    writes, in every module of ndsim that compiles."""
    from ndsim import balance, reconcile, sampling, summarize, sums
    from ndsim.processes import products

    for module in (balance, reconcile, sampling, summarize, sums, products):
        jitted = _dispatchers(module)
        assert jitted, module
        for disp in jitted:
            locator = disp._cache._impl.locator
            assert type(locator) is _cache.PackageCacheLocator, disp
            py_file = disp.py_func.__code__.co_filename
            theirs = locator._inner
            assert type(theirs).from_function(disp.py_func, py_file) is not None
            assert locator.get_source_stamp() == theirs.get_source_stamp()
            assert locator.get_cache_path() in _cache.LOCKED_FOLDERS
    assert getattr(caching.IndexDataCacheFile.save, "ndsim_locked", False)
    assert getattr(caching.IndexDataCacheFile.load, "ndsim_locked", False)


def test_install_is_idempotent():
    _cache.install()
    _cache.install()
    locators = caching.CacheImpl._locator_classes
    assert locators.count(_cache.KernelCacheLocator) == 1
    assert locators[0] is _cache.KernelCacheLocator


def test_source_stamp_follows_every_kernel_file(tmp_path, monkeypatch):
    """Editing, adding or removing a kernel file changes the stamp; the same files give it again."""
    import shutil

    names = [os.path.basename(p) for p in _cache.kernel_files()]
    assert {"__init__.py", "_cache.py", "fastmath.py", "lifetime.py", "stock.py"} <= set(names)
    copy = tmp_path / "kernels"
    shutil.copytree(_cache.KERNEL_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_cache, "KERNEL_DIR", str(copy))
    first = _cache.source_stamp()
    assert (
        first
        == _cache.source_stamp()
        == _cache._hash_files.__wrapped__(tuple((str(copy / n), 0, 0) for n in sorted(names)))
    )
    with open(copy / "fastmath.py", "a") as f:
        f.write("\n# edited\n")
    edited = _cache.source_stamp()
    (copy / "extra.py").write_text("x = 1\n")
    added = _cache.source_stamp()
    assert len({first, edited, added}) == 3


# --- end to end: an edit of fastmath.py reaches its callers in stock.py ---------------

#: a Weibull pdf: stock.pdf_from_params -> stock._weibull_pdf -> fastmath.exp (inlined)
_RUN = """
import json, sys
import numpy as np
from ndsim.kernels import stock as K
pdf = np.empty(16)
K.pdf_from_params(3, 2.0, 4.0, 0.0, pdf)
stats = K.pdf_from_params.stats
print(json.dumps({
    "file": K.__file__,
    "pdf": pdf.tolist(),
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
}))
"""

#: appended to the copy of fastmath.py: a different exp (stock.py binds the last definition)
_EDIT = '''

@njit(cache=True, nogil=True, inline="always")
def exp(y):
    """exp(y) off by a factor 2 (a deliberate edit)."""
    q, n = expm1_reduced(y)
    return 2.0 * scale2(1.0 + q, n)
'''


def _run(pkg_root: Path, cache_dir: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(pkg_root)
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env.pop("NUMBA_CACHE_LOCATOR_CLASSES", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run(
        [sys.executable, "-c", _RUN],
        env=env,
        cwd=pkg_root,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(res["file"]).resolve().is_relative_to(pkg_root.resolve())
    return res


def test_an_edit_of_fastmath_recompiles_its_callers_in_other_files(tmp_path):
    pkg_root = tmp_path / "src"
    shutil.copytree(
        Path(ndsim.__file__).parent,
        pkg_root / "ndsim",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    cache = tmp_path / "numba_cache"

    first = _run(pkg_root, cache)
    assert first["hits"] == 0 and first["misses"] >= 1  # compiled and saved
    again = _run(pkg_root, cache)
    assert again["hits"] >= 1 and again["misses"] == 0  # loaded from the cache
    assert again["pdf"] == first["pdf"]

    fastmath = pkg_root / "ndsim" / "kernels" / "fastmath.py"
    fastmath.write_text(fastmath.read_text() + _EDIT)

    edited = _run(pkg_root, cache)
    assert edited["hits"] == 0 and edited["misses"] >= 1  # stale code not loaded
    assert edited["pdf"] != first["pdf"]
    # the same pdf as the edited code compiled without any cache
    fresh = _run(pkg_root, tmp_path / "fresh_cache")
    assert fresh["hits"] == 0
    np.testing.assert_array_equal(edited["pdf"], fresh["pdf"])
    # and the recompiled code is cached in turn
    edited_again = _run(pkg_root, cache)
    assert edited_again["hits"] >= 1 and edited_again["misses"] == 0
    assert edited_again["pdf"] == edited["pdf"]


# --- one build at a time, across processes ------------------------------------------------


def test_the_build_lock_lies_in_the_kernels_cache_folder():
    locator = _cache.KernelCacheLocator.from_function(K._pdf_params_py, K.__file__)
    path = _cache.lock_path(K._pdf_params_py)
    assert path == os.path.join(locator.get_cache_path(), _cache.LOCK_NAME)
    from ndsim import dsm

    assert _cache.lock_path(dsm.inflow_driven) is None  # not in ndsim/kernels


def _waits_for(lock_file: str, script: str) -> tuple[bool, int, str]:
    """Run ``script`` in a child process while this one holds ``lock_file`` exclusively (as
    another process building or saving would): whether the child was still running 2 s
    after it printed "imported", then, the lock released, its exit code and the rest of
    its output."""
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_LOCATOR_CLASSES", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    with open(lock_file, "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        child = subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "imported"
            time.sleep(2.0)
            waiting = child.poll() is None
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
            out, _ = child.communicate(timeout=300)
    return waiting, child.returncode, out.strip()


#: builds one gufunc (loaded from the cache the test warmed) once it has imported ndsim
_BUILD = """
from ndsim.kernels import stock
print("imported", flush=True)
stock.pdf_params.build()
print("built", flush=True)
"""


def test_a_gufunc_is_built_only_while_no_other_process_holds_the_lock():
    K.pdf_params.build()  # the cache warm: the child's build is a load of a few ms
    waiting, code, out = _waits_for(_cache.lock_path(K._pdf_params_py), _BUILD)
    assert waiting, "the child built the gufunc while the lock was held"
    assert code == 0 and out == "built"


#: loads a compiled function of ndsim outside the kernels (cached by the test) once imported
_LOAD = """
import numpy as np
from ndsim import sums
print("imported", flush=True)
print(sums.sum_values(np.ones((2, 3, 4)), 1).sum(), flush=True)
"""


def test_a_cache_file_is_read_only_while_no_process_writes_in_its_folder():
    from ndsim import sums

    assert sums.sum_values(np.ones((2, 3, 4)), 1).sum() == 24.0  # saved (or loaded) here
    folder = sums._sum_middle._cache._impl.locator.get_cache_path()
    lock_file = os.path.join(folder, _cache.IO_LOCK_NAME)
    assert os.path.isfile(lock_file)
    waiting, code, out = _waits_for(lock_file, _LOAD)
    assert waiting, "the child read the cache while a writer held the folder's lock"
    assert code == 0 and out == "24.0"


def test_cache_files_of_functions_outside_ndsim_are_numbas_own(tmp_path, monkeypatch):
    """No lock, no lock file, numba's locator: for a compiled function of another package."""
    (tmp_path / "outside_ndsim.py").write_text(
        "from numba import njit\n\n\n@njit(cache=True)\ndef plus_one(x):\n    return x + 1.0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import outside_ndsim

    assert outside_ndsim.plus_one(1.0) == 2.0  # compiled and saved
    locator = outside_ndsim.plus_one._cache._impl.locator
    assert not isinstance(locator, _cache.PackageCacheLocator)
    folder = locator.get_cache_path()
    assert folder not in _cache.LOCKED_FOLDERS
    assert any(name.endswith(".nbi") for name in os.listdir(folder))  # cached there
    assert not os.path.exists(os.path.join(folder, _cache.IO_LOCK_NAME))


def test_a_file_system_without_locks_builds_and_caches_unlocked(monkeypatch):
    """flock failing (ENOLCK, as on some network mounts) neither stops a build nor a load."""
    import errno

    from ndsim import sums

    calls = []

    def no_locks(fd, mode):
        calls.append(mode)
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with _cache.build_lock(K._pdf_params_py):
        pass
    folder = sums._sum_middle._cache._impl.locator.get_cache_path()
    with _cache._folder_lock(folder, fcntl.LOCK_EX):
        pass
    assert calls == [fcntl.LOCK_EX, fcntl.LOCK_EX]  # both tried, neither raised
