"""A hand-computed case through all six processes (two products, three years).

Expected numbers are worked out by hand below, step by step, from the inputs
of tests/_canonical.py:hand_case (fixed lifetimes A: 1 yr, B: 2 yr; timing end).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _canonical import hand_case

from ndsim import pipeline
from ndsim.scenario import ForecastOptions, Scenario

# DC = P x MI x AR: A = [1000, 2000, 2000] x 0.01 x [1, 1, 0.5]; B = [5, 5, 10] x 1 x 1
DC = {"A": [10, 20, 10], "B": [5, 5, 10]}
# F_in = DC - E + I: A: E = [2, 4, 2]; B: I = [1, 1, 2]
F_IN = {"A": [8, 16, 8], "B": [6, 6, 12]}
# fixed lifetimes, F_out(t) = F_in(t - L): A L = 1, B L = 2
F_OUT = {"A": [0, 8, 16], "B": [0, 0, 6]}
STOCK = {"A": [8, 16, 8], "B": [6, 12, 18]}
# waste: EOL = [0, 8, 22]; R = r x eta x EOL = [0, .5, .5] x .5 x EOL
EOL, RECYCLED, LANDFILL = [0, 8, 22], [0, 2, 5.5], [0, 6, 16.5]
# manufacturing: M_mag = DC_A / 0.8 = [12.5, 25, 12.5]; M_bat = DC_B / 1 = [5, 5, 10]
MAN_IN, MAN_LOSS = [17.5, 30, 22.5], [2.5, 5, 2.5]
MAN_TO_USE, MAN_EXPORT, IMPORT_TO_USE = [13, 21, 18], [2, 4, 2], [1, 1, 2]
# fabrication: O = M + X - I: mag = [12.5 + 2.5, 25 - 5, 12.5] = [15, 20, 12.5]; bat = [5, 5, 10 - 2] = [5, 5, 8]
INTERMEDIATE_PRODUCTION = {"mag": [15, 20, 12.5], "bat": [5, 5, 8]}
# P = O / y_fab: mag / 0.5 = [30, 40, 25]; bat / 1 = [5, 5, 8]
PRIMARY_TO_FAB, FAB_LOSS = [35, 45, 33], [15, 20, 12.5]
FAB_IMPORT, FAB_EXPORT = [0, 5, 2], [2.5, 0, 0]
# refining: C = (PF + Xp + Xu - Ip - R) / 0.8 = ([42, 44, 26.5]) / 0.8
CONCENTRATE, REF_LOSS = [52.5, 55, 33.125], [10.5, 11, 6.625]
REF_EXPORT, REF_EXPORT_UNREG, REF_IMPORT = [5, 3, 2], [2, 2, 0], [0, 4, 3]
# mining: C_dom = C - Ic + Xc = [50, 50, 32]; ore = C_dom / 0.5 = [100, 100, 64]
ORE, MINE_LOSS, MINE_IMPORT, MINE_EXPORT = [100, 100, 64], [50, 50, 32], [3, 5, 1.125], [0.5, 0, 0]
OFFICIAL = [80, 60, 84]
# IM = ore - official = [20, 40, -20]: negative in 2002, reported, not clipped
UNREGISTERED = [20, 40, -20]


@pytest.fixture(scope="module")
def result():
    sc = dataclasses.replace(Scenario(), forecast=ForecastOptions(enabled=False))
    return pipeline.run(hand_case(), sc)


def test_use_stage(result):
    for p in ("A", "B"):
        np.testing.assert_allclose(result.domestic_consumption.sel(product=p), DC[p], rtol=1e-14)
        np.testing.assert_allclose(result.inflow.sel(product=p), F_IN[p], rtol=1e-14)
        np.testing.assert_allclose(result.outflow.sel(product=p), F_OUT[p], rtol=1e-14)
        np.testing.assert_allclose(result.stock.sel(product=p), STOCK[p], rtol=1e-14)


def test_paper_style_start_stock_equals_first_inflow(result):
    np.testing.assert_allclose(
        result.stock.sel(year=2000), result.inflow.sel(year=2000), rtol=1e-15
    )


def test_total_demand_counts_flagged_products_only(result):
    np.testing.assert_allclose(result.total_demand, DC["A"], rtol=1e-14)


def test_unregistered_mining_and_exports(result):
    np.testing.assert_allclose(result.mining_unregistered, UNREGISTERED, rtol=1e-12)
    np.testing.assert_allclose(result.mining_total, ORE, rtol=1e-13)
    np.testing.assert_allclose(result.exports_unregistered, REF_EXPORT_UNREG)


def test_intermediate_production(result):
    for k, want in INTERMEDIATE_PRODUCTION.items():
        np.testing.assert_allclose(
            result.intermediate_production.sel(intermediate=k), want, rtol=1e-14
        )


def test_trade_by_stage(result):
    np.testing.assert_allclose(result.imports.sel(stage="concentrate"), MINE_IMPORT)
    np.testing.assert_allclose(result.exports.sel(stage="concentrate"), MINE_EXPORT)
    np.testing.assert_allclose(result.imports.sel(stage="primary"), REF_IMPORT)
    np.testing.assert_allclose(result.exports.sel(stage="primary"), REF_EXPORT)
    np.testing.assert_allclose(result.imports.sel(stage="intermediate"), FAB_IMPORT)
    np.testing.assert_allclose(result.exports.sel(stage="intermediate"), FAB_EXPORT)
    np.testing.assert_allclose(result.imports.sel(stage="final"), IMPORT_TO_USE)
    np.testing.assert_allclose(result.exports.sel(stage="final"), MAN_EXPORT)


EXPECTED_FLOWS = {
    ("ore", "mining"): OFFICIAL,
    ("unregistered_mining", "mining"): UNREGISTERED,
    ("import", "mining"): MINE_IMPORT,
    ("mining", "refining"): CONCENTRATE,
    ("mining", "export"): MINE_EXPORT,
    ("mining", "loss"): MINE_LOSS,
    ("import", "refining"): REF_IMPORT,
    ("waste", "refining"): RECYCLED,
    ("refining", "fabrication"): PRIMARY_TO_FAB,
    ("refining", "export"): REF_EXPORT,
    ("refining", "export_unregistered"): REF_EXPORT_UNREG,
    ("refining", "loss"): REF_LOSS,
    ("import", "fabrication"): FAB_IMPORT,
    ("fabrication", "manufacturing"): MAN_IN,
    ("fabrication", "export"): FAB_EXPORT,
    ("fabrication", "loss"): FAB_LOSS,
    ("manufacturing", "use"): MAN_TO_USE,
    ("manufacturing", "export"): MAN_EXPORT,
    ("manufacturing", "loss"): MAN_LOSS,
    ("import", "use"): IMPORT_TO_USE,
    ("use", "waste"): EOL,
    ("waste", "landfill"): LANDFILL,
}


def test_every_flow(result):
    flow = result.flow
    for (o, d), want in EXPECTED_FLOWS.items():
        np.testing.assert_allclose(
            flow.sel(origin=o, destination=d), want, rtol=1e-12, err_msg=f"{o}->{d}"
        )
    # and nothing else
    listed = np.zeros(flow.shape, bool)
    for o, d in EXPECTED_FLOWS:
        listed[list(flow.origin.values).index(o), list(flow.destination.values).index(d)] = True
    assert float(abs(flow.where(~listed, 0.0)).max()) == 0.0


def test_every_process_balances(result):
    assert float(abs(result.balance_residual).max()) <= 1e-12
    assert set(result.balance_residual.process.values) == {
        "mining",
        "refining",
        "fabrication",
        "manufacturing",
        "use",
        "waste",
    }
