"""What keeps `ndsim run` quick: the data-set and fit caches, and the imports a run (or
--help) does not need."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from ndsim import gompertz as gz
from ndsim.errors import ValidationError
from ndsim.io import readers
from tests._canonical import TINY

GDP = np.array([1500.0, 2400.0, 3300.0, 4700.0, 6100.0, 7800.0, 9500.0, 11800.0, 14000.0])


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("NDSIM_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    return folder


@pytest.fixture
def checks(monkeypatch):
    """Count the full checks of a data set (a cache miss)."""
    calls: list[str] = []
    check = readers.check_dataset

    def counted(folder):
        calls.append(str(folder))
        return check(folder)

    monkeypatch.setattr(readers, "check_dataset", counted)
    return calls


def _edit_production(folder, old: str, new: str) -> None:
    path = folder / "production.csv"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the data-set cache ----------------------------------------------------------------
def test_an_unchanged_data_set_is_read_from_the_cache(cache, data, checks):
    first = readers.load_dataset(data)
    assert len(checks) == 1
    assert len(list((cache / "datasets").glob("*.pickle"))) == 1
    again = readers.load_dataset(data)
    assert len(checks) == 1  # not checked again
    xr.testing.assert_identical(again, first)
    assert again is not first


def test_a_changed_table_is_read_and_checked_again(cache, data, checks):
    before = readers.load_dataset(data)
    _edit_production(data, "FAN,1998,60,", "FAN,1998,61,")
    after = readers.load_dataset(data)
    assert len(checks) == 2
    assert after.attrs["dataset_sha256"] != before.attrs["dataset_sha256"]
    fan = {"product": "FAN", "year": 1998}
    assert float(after["production"].sel(fan)) == pytest.approx(
        float(before["production"].sel(fan)) * 61 / 60
    )
    # and back: the first entry again, the tables checked once more
    _edit_production(data, "FAN,1998,61,", "FAN,1998,60,")
    xr.testing.assert_identical(readers.load_dataset(data), before)


def test_a_new_table_is_a_new_key(cache, data, checks):
    readers.load_dataset(data)
    (data / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    readers.load_dataset(data)
    assert len(checks) == 2


def test_the_cache_keeps_the_checks_as_strict(cache, data, monkeypatch):
    readers.load_dataset(data)  # a good version in the cache
    _edit_production(
        data, "FAN,1998,60,10^4 unit yr-1,estimate", "FAN,1998,60,10^4 unit yr-1,guess"
    )
    with pytest.raises(ValidationError) as cached:
        readers.load_dataset(data)
    monkeypatch.setenv("NDSIM_CACHE_DIR", "")
    with pytest.raises(ValidationError) as uncached:
        readers.load_dataset(data)
    assert str(cached.value) == str(uncached.value)
    assert "production.csv" in str(cached.value) and "\n" not in str(cached.value)
    # a data set that fails is never stored
    assert len(list((cache / "datasets").glob("*.pickle"))) == 1


def test_an_empty_cache_dir_turns_the_cache_off(tmp_path, data, checks, monkeypatch):
    monkeypatch.setenv("NDSIM_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    readers.load_dataset(data)
    readers.load_dataset(data)
    assert len(checks) == 2
    assert not (tmp_path / "xdg").exists()


def test_a_broken_cache_entry_is_a_miss(cache, data, checks):
    first = readers.load_dataset(data)
    (entry,) = (cache / "datasets").glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    xr.testing.assert_identical(readers.load_dataset(data), first)
    assert len(checks) == 2


def test_the_unit_registry_from_pints_cache_converts_the_same(tmp_path, cli_env):
    code = (
        "import json, sys\n"
        "from ndsim import units\n"
        "texts = ['g unit-1', 't unit-1', 'kg MW-1', '10^4 unit yr-1', 'kt yr-1', '%', 'ppm',\n"
        "         'USD2005 PPP person-1 yr-1', 'unit household-1', 'MW person-1', '1']\n"
        "pairs = [('g unit-1', 't unit-1'), ('kg MW-1', 't MW-1'), ('10^4 unit yr-1', 'unit yr-1'),\n"
        "         ('kt yr-1', 't yr-1'), ('%', '1'), ('ppm', '1'), ('Mt', 't')]\n"
        "out = [[units.to_cf(t), str(units.parse_units(t).dimensionality)] for t in texts]\n"
        "out += [units.conversion_factor(a, b).hex() for a, b in pairs]\n"
        "print(json.dumps(out))"
    )
    runs = {}
    for name, folder in (("none", ""), ("cold", str(tmp_path)), ("warm", str(tmp_path))):
        runs[name] = _run(code, {**cli_env, "NDSIM_CACHE_DIR": folder})
    assert list((tmp_path / "pint").glob("*.pickle"))  # pint wrote its cache, then read it
    assert runs["cold"] == runs["none"] and runs["warm"] == runs["none"]


# --- the ownership fits -----------------------------------------------------------------
def test_a_fit_is_kept_and_other_data_is_fitted_again(cache, monkeypatch):
    calls = []
    fit = gz._fit

    def counted(*args):
        calls.append(args)
        return fit(*args)

    monkeypatch.setattr(gz, "_fit", counted)
    own = gz.gompertz(GDP, 0.6, -5.0, -2.5e-4) * (1 + 0.02 * np.sin(np.arange(GDP.size)))
    first = gz.fit_gompertz(GDP, own)
    assert gz.fit_gompertz(GDP, own) == first
    assert len(calls) == 1
    changed = own.copy()
    changed[-1] *= 1.01
    other = gz.fit_gompertz(GDP, changed)
    assert len(calls) == 2
    assert other != first
    assert gz.fit_gompertz(GDP, own, saturation=1.0) != first  # the saturation is in the key
    assert len(calls) == 3
    monkeypatch.setenv("NDSIM_CACHE_DIR", "")
    assert gz.fit_gompertz(GDP, changed) == other  # the same as fitted without the cache
    assert len(calls) == 4


# --- imports ----------------------------------------------------------------------------
def _run(code: str, cli_env) -> str:
    res = subprocess.run(
        [sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, check=True
    )
    return res.stdout.strip()


def test_help_imports_neither_numpy_nor_xarray(cli_env):
    code = (
        "import sys, contextlib, io\n"
        "from ndsim import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.main(['run', '--help'])\n"
        "print(sorted(m for m in ('numpy', 'xarray') if m in sys.modules))"
    )
    assert _run(code, cli_env) == "[]"


def test_a_run_imports_neither_dask_array_nor_distributed(cli_env, tmp_path):
    """xarray asks "is this a dask array?" of every array it wraps; ndsim answers "no" while
    dask.array is not imported (no object can be one), instead of importing it."""
    code = (
        "import sys\n"
        "from ndsim import cli\n"
        f"cli.main(['run', '--no-figures', '--output', r'{tmp_path / 'out.nc'}'])\n"
        "print(sorted(m for m in ('dask.array', 'distributed') if m in sys.modules))"
    )
    assert _run(code, cli_env).splitlines()[-1] == "[]"


def test_wrapping_arrays_imports_no_dask_and_the_run_module_no_scipy_special(cli_env):
    """xarray asks "is this a dask collection?" of every array it wraps (importing dask to
    ask); until dask is imported the answer is "no". A run's CVs (ndsim.sampling) and its
    summary's chi2 test need no scipy.special."""
    code = (
        "import sys\n"
        "import ndsim.pipeline, ndsim.sampling, ndsim.commands.run, numpy as np, xarray as xr\n"
        "a = xr.DataArray(np.ones((2, 3)), coords={'x': [1, 2]}, dims=('x', 'y'))\n"
        "b = (a * 2).sum('x').assign_coords(y=[4, 5, 6]).sel(y=5)\n"
        "print(sorted(m for m in ('dask', 'scipy.special') if m in sys.modules), float(b))"
    )
    assert _run(code, cli_env).split() == ["[]", "4.0"]


def test_xarray_still_tells_dask_collections_once_dask_is_imported(cli_env):
    code = (
        "import ndsim.pipeline, numpy as np, xarray as xr\n"
        "from xarray.namedarray.utils import is_dask_collection, is_duck_dask_array\n"
        "before = is_dask_collection(np.ones(2))\n"
        "import dask.array as da\n"
        "d = da.ones(4, chunks=2)\n"
        "print(before, is_dask_collection(d), is_duck_dask_array(d), is_dask_collection(np.ones(2)),\n"
        "      xr.DataArray(d).chunks)"
    )
    assert _run(code, cli_env).split() == ["False", "True", "True", "False", "((2,", "2),)"]


def test_xarray_still_tells_dask_and_pint_arrays_once_they_are_imported(cli_env):
    code = (
        "import ndsim.pipeline, numpy as np, xarray as xr\n"
        "from xarray.namedarray.pycompat import array_type\n"
        "a = xr.DataArray(np.ones(3))\n"  # before the import: the stand-in answers
        "import dask.array as da, pint\n"
        "d = xr.DataArray(da.ones(4, chunks=2))\n"
        "q = xr.DataArray(pint.UnitRegistry().Quantity(np.ones(2), 'm'))\n"
        "print(d.chunks, isinstance(d.data, array_type('dask')), type(q.data).__name__,\n"
        "      isinstance(a.data, array_type('dask')), float(d.sum()))"
    )
    assert _run(code, cli_env).split() == ["((2,", "2),)", "True", "Quantity", "False", "4.0"]


def test_the_command_asks_numpy_for_no_huge_pages_unless_the_user_said_so(cli_env):
    code = (
        "import contextlib, io, os, sys\n"
        "from ndsim import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.main(['--version'])\n"  # a call from Python: the process is left as it is
        "print(os.environ.get('NUMPY_MADVISE_HUGEPAGE'))\n"
        "sys.argv = ['ndsim', '--version']\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.main()\n"
        "from numpy._core import multiarray\n"  # imported after, as the command imports it
        "print(os.environ.get('NUMPY_MADVISE_HUGEPAGE'), multiarray._get_madvise_hugepage())"
    )
    env = {k: v for k, v in cli_env.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    assert _run(code, env).split() == ["None", "0", "False"]
    user = {**env, "NUMPY_MADVISE_HUGEPAGE": "1"}
    assert _run(code, user).split() == ["1", "1", "True"]


def test_the_command_tunes_the_garbage_collector_and_a_call_from_python_does_not(cli_env):
    code = (
        "import contextlib, gc, io, sys\n"
        "from ndsim import cli\n"
        "before = gc.get_threshold()\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.main(['--version'])\n"
        "print(gc.get_threshold() == before, gc.get_freeze_count() == 0)\n"
        "sys.argv = ['ndsim', '--version']\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.main()\n"
        "print(gc.get_threshold() == cli.GC_THRESHOLD, gc.get_freeze_count() > 0)"
    )
    assert _run(code, cli_env).split() == ["True", "True", "True", "True"]
