"""Tests of ndsim.processes.supply against a hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ndsim import conventions as cv
from ndsim.processes import supply
from ndsim.scenario import SupplyOptions

YEARS = np.arange(2015, 2021)
LAST = 2017
NODES = list(cv.NODES)


def make_result():
    """A small run: 2 products, accounted to 2017, forecast to 2020, a chain that balances in 2017."""
    ny = YEARS.size
    dc = np.array([[100.0, 110, 120, 150, 180, 200], [50.0, 50, 60, 60, 60, 90]])
    exports = 0.2 * dc
    imports = 0.05 * dc
    inflow = dc - exports + imports
    outflow = np.array([[10.0, 12, 15, 20, 30, 40], [5.0, 5, 6, 8, 10, 20]])
    flow = np.full((len(NODES), len(NODES), ny), np.nan)

    def put(o, d, v):
        flow[NODES.index(o), NODES.index(d), YEARS <= LAST] = v

    # 2017 chain: losses 12 + 20 + 8 + 4 = 44, upstream exports 5 + 9 + 3 + 7 = 24, imports 2 + 6 + 1 = 9
    put("mining", "loss", 12.0)
    put("refining", "loss", 20.0)
    put("fabrication", "loss", 8.0)
    put("manufacturing", "loss", 4.0)
    put("mining", "export", 5.0)
    put("refining", "export", 9.0)
    put("refining", "export_unregistered", 3.0)
    put("fabrication", "export", 7.0)
    put("import", "mining", 2.0)
    put("import", "refining", 6.0)
    put("import", "fabrication", 1.0)
    put("use", "waste", 99.0)  # not part of the requirement
    nan_after = np.where(YEARS <= LAST, 1.0, np.nan)
    return xr.Dataset(
        {
            "domestic_consumption": (("product", "year"), dc),
            "inflow": (("product", "year"), inflow),
            "outflow": (("product", "year"), outflow),
            "exports_final": (("product", "year"), exports),
            "imports_final": (("product", "year"), imports),
            "mining": (
                ("source", "year"),
                np.array([[60.0] * ny, [30.0] * ny, [10.0] * ny]) * nan_after,
            ),
            "mining_unregistered": ("year", 40.0 * nan_after),
            "flow": (("origin", "destination", "year"), flow),
            "recycling_rate": ("year", [0.01, 0.01, 0.01, 0.1, 0.2, 0.3]),
            "recovery_efficiency": ("year", [0.9] * ny),
        },
        coords={
            "product": ["X", "Y"],
            "year": YEARS,
            "source": ["MON", "BAST", "IAC"],
            "origin": NODES,
            "destination": NODES,
        },
    )


def scenario(base="total_mining", growth=None):
    growth = {"S1": 0.02, "S2": 0.05, "S3": 0.08} if growth is None else growth
    return SupplyOptions(base=base, growth=growth)


INPUTS = xr.Dataset(attrs={"last_year": LAST})


def hand(year, g, base):
    """Plain-Python reference of SPEC §4 for one year and growth rate."""
    res = make_result()
    i = int(np.nonzero(YEARS == year)[0][0])
    i17 = int(np.nonzero(YEARS == LAST)[0][0])
    dc = res["domestic_consumption"].values.sum(axis=0)
    f_in = res["inflow"].values.sum(axis=0)
    nx_final = (res["exports_final"] - res["imports_final"]).values.sum(axis=0)
    u = (24.0 - 9.0 + 44.0) / dc[i17]
    d = f_in[i] + nx_final[i] + u * dc[i]
    q = base * (1 + g) ** (year - LAST)
    eol = res["outflow"].values.sum(axis=0)[i]
    eta = 0.9
    r = res["recycling_rate"].values[i] * eta * eol
    return dict(q=q, d=d, r=r, gap=d - q - r, rate=(d - q) / (eta * eol), share=(d - q) / d)


@pytest.mark.parametrize("base_name,base", [("total_mining", 140.0), ("official_mining", 100.0)])
def test_supply_variables_against_hand_computation(base_name, base):
    sc = scenario(base_name)
    out = supply.supply_scenarios(make_result(), INPUTS, sc)
    for name in supply.SUPPLY_VARIABLES:
        assert out[name].dims == ("scenario", "year")
        assert out[name].attrs["units"] == cv.VARIABLES[name].units
    for s, g in sc.growth.items():
        for y in range(LAST, 2021):
            ref = hand(y, g, base)
            at = {"scenario": s, "year": y}
            assert float(out["primary_supply"].sel(at)) == pytest.approx(ref["q"], rel=1e-13)
            assert float(out["supply_requirement"].sel(at)) == pytest.approx(ref["d"], rel=1e-13)
            assert float(out["secondary_supply"].sel(at)) == pytest.approx(ref["r"], rel=1e-13)
            assert float(out["supply_gap"].sel(at)) == pytest.approx(
                ref["gap"], rel=1e-12, abs=1e-12
            )
            assert float(out["required_recycling_rate"].sel(at)) == pytest.approx(
                ref["rate"], rel=1e-12
            )
            assert float(out["required_recycling_share_of_supply"].sel(at)) == pytest.approx(
                ref["share"], rel=1e-12
            )
    # NaN before the base year, the base in it
    assert (
        out[list(supply.SUPPLY_VARIABLES)].sel(year=slice(None, LAST - 1)).to_array().isnull().all()
    )
    np.testing.assert_allclose(out["primary_supply"].sel(year=LAST).values, base)


def test_base_year_gap_is_zero_when_chain_balances():
    # requirement in 2017 = total mining + recycled, by the balance of the chain:
    # F_in + NX_final + NX_up + L = mined + recycled  <=>  gap(2017) = 0 with the total base
    res = make_result()
    d17, _ = supply.requirement(res, LAST)
    d17 = float(d17.sel(year=LAST))
    r17 = 0.01 * 0.9 * (15.0 + 6.0)
    # make the mined total match the chain, then the base-year gap must vanish
    res["mining_unregistered"] = res["mining_unregistered"] * 0 + (d17 - r17 - 100.0)
    out = supply.supply_scenarios(res, INPUTS, scenario())
    np.testing.assert_allclose(out["supply_gap"].sel(year=LAST).values, 0.0, atol=1e-12)


def test_requirement_needs_only_its_inputs_and_keeps_their_draws():
    # D and u(T) from the flows, DC, trade and inflow alone (no mining, no recycling), with
    # draws only on the inflow: D varies by draw, u(T) does not; D - inflow is the same in
    # every draw and equals the run without draws
    res = make_result()[
        ["flow", "domestic_consumption", "exports_final", "imports_final", "inflow"]
    ]
    factor = xr.DataArray([0.9, 1.0, 1.1], dims="draw")
    drawn = res.assign(inflow=res["inflow"] * factor)
    d, share = supply.requirement(drawn, LAST)
    d0, share0 = supply.requirement(res, LAST)
    assert d.dims == ("draw", "year") and share.dims == ()
    assert float(share) == float(share0)
    f_in = drawn["inflow"].sum("product")
    after = res.year >= LAST
    np.testing.assert_allclose(
        (d - f_in).sel(year=after).values,
        np.broadcast_to((d0 - res["inflow"].sum("product")).sel(year=after).values, (3, 4)),
        rtol=1e-13,
    )
    assert d.sel(year=slice(None, LAST - 1)).isnull().all()


def test_oversupply_negative_and_flag_above_one():
    out = supply.supply_scenarios(
        make_result(), INPUTS, scenario(growth={"low": -0.5, "high": 0.9})
    )
    gap = out["supply_gap"]
    assert float(gap.sel(scenario="high", year=2020)) < 0  # oversupply reported as negative
    assert float(out["required_recycling_rate"].sel(scenario="high", year=2020)) < 0
    above = out["required_recycling_rate_above_1"]
    np.testing.assert_array_equal(above.values, (out["required_recycling_rate"] > 1).values)
    assert bool(above.sel(scenario="low", year=2020))
    assert list(out["supply_growth_rate"].values) == [-0.5, 0.9]


def test_summary_first_deficit_and_rates():
    sc = scenario(growth={"S1": 0.02, "S9": 0.9})
    out = supply.supply_scenarios(make_result(), INPUTS, sc)
    table = supply.supply_summary(out, years=(2019, 2020))
    for s, g in sc.growth.items():
        gaps = {y: hand(y, g, 140.0)["gap"] for y in range(LAST + 1, 2021)}
        first = min((y for y, v in gaps.items() if v > 0), default=None)
        got = table.loc[s, "first_deficit_year"]
        assert pd.isna(got) if first is None else int(got) == first
        assert table.loc[s, "rate_2020"] == pytest.approx(hand(2020, g, 140.0)["rate"])
        assert table.loc[s, "share_2019"] == pytest.approx(hand(2019, g, 140.0)["share"])


def test_draws_broadcast():
    res = make_result()
    factor = xr.DataArray([0.9, 1.0, 1.1], dims="draw")
    res["inflow"] = res["inflow"] * factor
    out = supply.supply_scenarios(res, INPUTS, scenario())
    assert out["supply_requirement"].dims == ("draw", "scenario", "year")
    # only what the inflow enters varies by draw, as xarray's broadcasting would give it
    assert out["primary_supply"].dims == ("scenario", "year")
    assert out["secondary_supply"].dims == ("scenario", "year")
    assert out["supply_upstream_share"].dims == ()
    assert out["supply_gap"].dims == ("draw", "scenario", "year")
    d = out["supply_requirement"].sel(scenario="S1", year=2020)
    base = supply.supply_scenarios(make_result(), INPUTS, scenario())["supply_requirement"]
    f_in = make_result()["inflow"].sum("product").sel(year=2020)
    np.testing.assert_allclose(
        d.values, float(base.sel(scenario="S1", year=2020)) + (factor.values - 1) * float(f_in)
    )
