"""Units first, Nd per cohort (SPEC §2.1-2.2), computed by hand.

Two products, history year 1999 and accounted years 2000-2002, fixed
lifetimes (timing `end`: a unit sold in year c retires in c + L). Every
expected number is worked out in the comments from the inputs of
:func:`units_case`. The case has a retiring cohort whose intensity differs
from the new one's (V's 1999 cohort, 0.2 kg per unit, retires in 2001 when
new units carry 1 kg) and cohorts sold before 2000 (V and W, 1999).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr
from _canonical import canonical

from ndsim import pipeline
from ndsim.scenario import ForecastOptions, RunOptions, Scenario

YEARS = [1999, 2000, 2001, 2002]


def units_case() -> xr.Dataset:
    """V: vehicles (units, L = 2 yr), W: wind turbines (MW, L = 3 yr)."""
    ds = canonical(
        years=YEARS,
        first=2000,
        products={
            "V": dict(
                intermediate="mag",
                production=[100, 200, 300, 100],  # units/yr
                nd_content=0.001,  # t/unit (1 kg)
                calibration=2.0,  # k
                adoption_rate=[0.1, 0.5, 0.5, 1.0],
                exports=[0, 50, 100, 0],
                imports=[10, 0, 0, 20],
                lifetime=2,
            ),
            "W": dict(
                intermediate="mag",
                production=[10, 10, 20, 0],  # MW/yr
                nd_content=0.2,  # t/MW
                adoption_rate=1.0,
                exports=0,
                imports=0,
                lifetime=3,
                count_unit="MW",
            ),
        },
        intermediates={
            "mag": dict(exports=0, imports=0, yield_fabrication=1.0, yield_manufacturing=1.0)
        },
        primary=dict(exports=0, imports=0, exports_unregistered=0),
        concentrate=dict(exports=0, imports=0),
        mining={"s1": 1.0},
        yield_mining=1.0,
        yield_refining=1.0,
        recycling_rate=0.0,
        recovery_efficiency=0.5,
    )
    # V is counted per household: 100, 175, 160 households in 2000-2002
    ds["households"] = ("year", np.array([np.nan, 100.0, 175.0, 160.0]))
    ds["population"] = ("year", np.array([np.nan, 400.0, 500.0, 600.0]))
    ds["ownership_statistic"] = (
        ("product", "year"),
        np.array([[np.nan, 2.5, 2.0, 2.1], [np.nan] * 4]),
    )
    return ds.assign_coords(
        ownership_basis=("product", ["household", ""]), ownership_group=("product", ["V", ""])
    )


def _run(history: str) -> xr.Dataset:
    sc = dataclasses.replace(
        Scenario(),
        run=RunOptions(history=history),
        forecast=ForecastOptions(enabled=False),
    )
    return pipeline.run(units_case(), sc)


@pytest.fixture(scope="module")
def res():
    return _run("data")


def _v(res, name, product):
    return res[name].sel(product=product, year=[2000, 2001, 2002]).values


def test_units_sales_fleet_and_retirements(res):
    # Q = P - E + I: V 1999-2002 = 110, 150, 200, 120; W = 10, 10, 20, 0
    np.testing.assert_allclose(_v(res, "units_sales", "V"), [150, 200, 120])
    # fleet, L = 2: N(1999) = 110; N(2000) = 110 + 150 = 260;
    # N(2001) = 260 + 200 - 110 (the 1999 cohort retires) = 350; N(2002) = 350 + 120 - 150 = 320
    np.testing.assert_allclose(_v(res, "units_in_use", "V"), [260, 350, 320])
    np.testing.assert_allclose(_v(res, "units_retired", "V"), [0, 110, 150])
    # W, L = 3: N = 10, 20, 40, then 40 + 0 - 10 (the 1999 cohort) = 30 in 2002
    np.testing.assert_allclose(_v(res, "units_in_use", "W"), [20, 40, 30])
    np.testing.assert_allclose(_v(res, "units_retired", "W"), [0, 0, 10])


def test_cohort_intensity_and_nd_flows(res):
    # m = k MI AR = 2 x 0.001 x (0.1, 0.5, 0.5, 1.0) = 0.0002, 0.001, 0.001, 0.002 t/unit
    np.testing.assert_allclose(_v(res, "nd_intensity", "V"), [0.001, 0.001, 0.002])
    # DC = P m = 0.2, 0.3, 0.2 t; E = E_p m = 0.05, 0.1, 0; I = I_p m = 0, 0, 0.04
    np.testing.assert_allclose(_v(res, "domestic_consumption", "V"), [0.2, 0.3, 0.2])
    np.testing.assert_allclose(_v(res, "exports_final", "V"), [0.05, 0.1, 0.0])
    np.testing.assert_allclose(_v(res, "imports_final", "V"), [0.0, 0.0, 0.04])
    # F_in = Q m: 1999: 110 x 0.0002 = 0.022; 2000-2002: 0.15, 0.2, 0.24
    np.testing.assert_allclose(_v(res, "inflow", "V"), [0.15, 0.2, 0.24])


def test_a_retiring_cohort_takes_out_its_own_intensity(res):
    # 2001: the 110 units of 1999 retire with 0.0002 t each = 0.022 t (not 110 x 0.001);
    # 2002: the 150 units of 2000 with 0.001 t each = 0.15 t
    np.testing.assert_allclose(_v(res, "outflow", "V"), [0.0, 0.022, 0.15])
    # S(1999) = 0.022; S(2000) = 0.172; S(2001) = 0.172 + 0.2 - 0.022 = 0.35;
    # S(2002) = 0.35 + 0.24 - 0.15 = 0.44
    np.testing.assert_allclose(_v(res, "stock", "V"), [0.172, 0.35, 0.44])
    # W: F_in = 0.2 Q = 2, 2, 4, 0 t; the 1999 cohort (2 t) retires in 2002; S = 4, 8, 6
    np.testing.assert_allclose(_v(res, "outflow", "W"), [0.0, 0.0, 2.0])
    np.testing.assert_allclose(_v(res, "stock", "W"), [4.0, 8.0, 6.0])


def test_balance_counts_the_stock_from_before_2000(res):
    # use: S(2000) - S(1999) = F_in - F_out with S(1999) = 0.022 + 2 = 2.022 t; the run
    # checks it (it would raise otherwise) and the residual is rounding only
    assert float(abs(res["balance_residual"]).max()) < 1e-12
    # the reported years start at the first accounted year
    assert int(res.year[0]) == 2000


def test_ownership_model_is_fleet_per_household(res):
    # N / H = 260 / 100, 350 / 175, 320 / 160 = 2.6, 2.0, 2.0; W has no basis: NaN
    np.testing.assert_allclose(_v(res, "ownership_model", "V"), [2.6, 2.0, 2.0])
    assert np.isnan(_v(res, "ownership_model", "W")).all()
    np.testing.assert_allclose(_v(res, "ownership_statistic", "V"), [2.5, 2.0, 2.1])


def test_empty_history_starts_from_nothing():
    res = _run("empty")
    # only the cohorts from 2000 on: N = 150, 350, 320 - 0 ... V: 150, 150 + 200 = 350,
    # 350 + 120 - 150 = 320; nothing retires in 2001 (the 1999 cohort is not there)
    np.testing.assert_allclose(_v(res, "units_in_use", "V"), [150, 350, 320])
    np.testing.assert_allclose(_v(res, "units_retired", "V"), [0, 0, 150])
    # S(2000) = F_in(2000) (nothing retires at age 0): 0.15 t; S(2001) = 0.35
    np.testing.assert_allclose(_v(res, "stock", "V"), [0.15, 0.35, 0.44])
    np.testing.assert_allclose(_v(res, "outflow", "V"), [0.0, 0.0, 0.15])
    # W: 10, 30, 30 MW (no 1999 cohort to retire in 2002)
    np.testing.assert_allclose(_v(res, "units_in_use", "W"), [10, 30, 30])


def test_summary_names_the_history_flagged_calibration_and_the_fleet_check(res):
    from ndsim.commands.run import _units_note

    note = _units_note(res, 2000, 2002)
    assert "use stage from 1999 (history data)" in note
    assert "outside [0.5, 2]" not in note  # k = 2 for V is inside the band
    # V against its statistic: 2.6 / 2.5 = 1.04, 2.0 / 2.0 = 1, 2.0 / 2.1 = 0.95: 3 of 3
    assert "within ±25% of the ownership statistics in 3 of 3 group-years 2000-2002" in note
    flagged = res.assign(intensity_calibration=res["intensity_calibration"] * 1.5)
    assert "outside [0.5, 2] (statistic and paper count different things): V 3" in _units_note(
        flagged, 2000, 2002
    )
