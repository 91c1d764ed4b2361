"""The variable registry: every variable declared once, a second declaration refused."""

from __future__ import annotations

import collections
import subprocess
import sys

import pytest

from ndsim import conventions as cv


def test_declaring_an_existing_name_raises():
    """A second declaration is refused whatever its attributes, and the first one stays."""
    before = cv.VARIABLES["unmet_stock_decline"]
    clash = cv.Variable("unmet_stock_decline", (cv.PRODUCT, cv.YEAR), "t yr-1", "x", "x")
    with pytest.raises(cv.DuplicateVariableError, match="unmet_stock_decline.*already declared"):
        cv.declare(clash)
    with pytest.raises(cv.DuplicateVariableError):
        cv.register(before)  # the same declaration again is a second declaration too
    assert cv.VARIABLES["unmet_stock_decline"] is before
    assert cv.VARIABLES["unmet_stock_decline"].units == cv.STOCK_UNITS


def test_a_new_name_is_declared_once():
    v = cv.Variable("test_only_variable", (cv.YEAR,), "1", "test", "a name no module uses")
    try:
        assert cv.declare(v) is v
        assert cv.attrs("test_only_variable") == v.attrs
        with pytest.raises(cv.DuplicateVariableError):
            cv.declare(v)
    finally:
        del cv.VARIABLES["test_only_variable"]


def test_the_tables_declare_each_name_once():
    for table in (cv._VARIABLES, cv._INPUT_VARIABLES):
        twice = [n for n, k in collections.Counter(v.name for v in table).items() if k > 1]
        assert not twice
    assert set(cv.CONTRACT_VARIABLES) | set(cv.RECONCILED_VARIABLES) <= set(cv.VARIABLES)


def test_importing_every_module_declares_nothing_twice(cli_env):
    """The modules that declared variables at import time import together without a clash
    (in a fresh interpreter: this test process may have imported them already)."""
    code = (
        "import importlib\n"
        "for m in ('ndsim.io.readers', 'ndsim.forecast', 'ndsim.processes.supply', "
        "'ndsim.processes.trade', 'ndsim.processes.waste', 'ndsim.processes.upstream', "
        "'ndsim.dsm', 'ndsim.pipeline', 'ndsim.ensemble', 'ndsim.api'):\n"
        "    importlib.import_module(m)\n"
        "print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
