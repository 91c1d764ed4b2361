"""Shared fixtures.

Subprocess tests (the command line) share one numba cache directory with
the test process, so kernels compile once per machine, not once per test.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
# no progress bars and no "compiling" line in the tests (their stderr is checked line by line)
os.environ.setdefault("NDSIM_NO_PROGRESS", "1")
# checked data sets and ownership fits are cached in a folder of this test run only, so no
# test depends on what an earlier run left in the user's cache
_CACHE = tempfile.mkdtemp(prefix="ndsim-test-cache-")
os.environ.setdefault("NDSIM_CACHE_DIR", _CACHE)
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator, so every failure can be replayed."""
    return np.random.default_rng(20210752)


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for subprocess tests: the shared numba cache, no colour, no progress bars."""
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = os.environ["NUMBA_CACHE_DIR"]
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["NDSIM_NO_PROGRESS"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


@pytest.fixture
def ndsim_cmd() -> list[str]:
    """The command that runs the ndsim CLI in a subprocess."""
    return [sys.executable, "-m", "ndsim.cli"]
