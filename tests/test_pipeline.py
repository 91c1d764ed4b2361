"""The pipeline: output contract, draws, violations, the tiny data set and the China calibration."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _canonical import hand_case

from ndsim import conventions as cv
from ndsim import flows, pipeline
from ndsim.errors import BalanceError
from ndsim.resources import data_dir
from ndsim.scenario import ForecastOptions, RunOptions, Scenario, load_scenario

ACCOUNTING = dataclasses.replace(Scenario(), forecast=ForecastOptions(enabled=False))
TINY = Path(__file__).parent / "data" / "tiny"
#: the China case's comparison with the paper (a build script of the data set, not installed)
REPORT = (
    Path(__file__).resolve().parents[1] / "data" / "china_nd" / "build" / "validation_report.py"
)


def _validation_report():
    """The module ``data/china_nd/build/validation_report.py``, imported from its file."""
    spec = importlib.util.spec_from_file_location("china_nd_validation_report", REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_output_contract():
    res = pipeline.run(hand_case(), ACCOUNTING)
    # the contract of SPEC §6 (input variables registered by the readers may
    # reappear in the output with a year dimension, e.g. a recovery-efficiency path)
    for name in cv.CONTRACT_VARIABLES:
        var = cv.VARIABLES[name]
        if cv.SCENARIO in var.dims or name not in res:
            continue
        assert res[name].dims == var.dims, name
        for key in ("units", "long_name", "description"):
            assert res[name].attrs[key] == getattr(var, key), (name, key)
    missing = {
        n
        for n, v in cv.VARIABLES.items()
        if cv.SCENARIO not in v.dims and n in cv.CONTRACT_VARIABLES
    } - set(res.data_vars)
    assert not missing
    assert list(res.flow.origin.values) == list(cv.NODES)
    assert list(res.balance_residual.process.values) == list(cv.PROCESSES)
    assert {"category", "group"} <= set(res["product"].coords)
    assert res.attrs["schema_version"] == cv.SCHEMA_VERSION
    assert res.attrs["dataset_sha256"] == "0" * 64
    assert res.attrs["lifetime_timing"] == "end"


def test_draws_broadcast_and_match_single_runs():
    base = hand_case()
    factor = xr.DataArray([1.0, 1.1, 0.95], dims="draw", coords={"draw": [0, 1, 2]})
    drawn = base.assign(production=base["production"] * factor)
    res = pipeline.run(drawn, ACCOUNTING)
    assert res.stock.dims == ("draw", "product", "year")
    assert res.flow.dims == ("draw", "origin", "destination", "year")
    assert res.balance_residual.dims == ("process", "year")
    for d, f in enumerate(factor.values):
        single = pipeline.run(base.assign(production=base["production"] * f), ACCOUNTING)
        for name in (
            "stock",
            "mining_unregistered",
            "flow",
            "intermediate_production",
            "total_demand",
        ):
            np.testing.assert_allclose(
                res[name].isel(draw=d), single[name], rtol=1e-13, err_msg=name
            )


def test_negative_inflow_stops_the_run_or_warns():
    base = hand_case()
    bad = base.copy()
    # 2500 units exported at 0.01 t/unit: 25 t against DC 20 t
    bad["units_exports"] = base["units_exports"].where(
        ~((base["product"] == "A") & (base["year"] == 2001)), 2500.0
    )
    with pytest.raises(BalanceError, match=r"inflow is negative: product A, year 2001: -5 t yr-1"):
        pipeline.run(bad, ACCOUNTING)
    warn = dataclasses.replace(ACCOUNTING, run=RunOptions(on_violation="warn"))
    with pytest.warns(UserWarning, match="inflow is negative"):
        res = pipeline.run(bad, warn)
    assert float(res.inflow.sel(product="A", year=2001)) == -5.0


def test_the_run_uses_the_scenarios_lifetime_variant():
    base = hand_case()
    two = base.reindex(variant=["paper", "literature"])
    two["lifetime_model"] = two["lifetime_model"].fillna("fixed").astype(str)
    two["lifetime_model"][1, :] = "fixed"
    two["lifetime_mean"][1, :] = [2.0, 2.0]
    lit = dataclasses.replace(ACCOUNTING, run=RunOptions(lifetime_variant="literature"))
    res = pipeline.run(two, lit)
    np.testing.assert_allclose(
        res.outflow.sel(product="A"), [0, 0, 8]
    )  # F_in(A) = [8, 16, 8], L = 2


# --- data sets on disk --------------------------------------------------------
def _load(folder):
    from ndsim.io.readers import load_dataset

    return load_dataset(folder)


@pytest.mark.slow
def test_tiny_invented_data_set_runs_end_to_end():
    inputs = _load(TINY)
    res = pipeline.run(inputs, ACCOUNTING)
    first, last = pipeline.accounted_years(inputs)
    assert int(res.year[0]) == first and int(res.year[-1]) == last
    assert float(abs(res.balance_residual).max()) < 1e-9
    # history 1998-1999 in the data: the 2000 stock holds those cohorts too
    assert bool(
        (res.stock.isel(year=0) > res.inflow.isel(year=0)).sel(product=["FAN", "GEN"]).all()
    )
    empty = dataclasses.replace(ACCOUNTING, run=RunOptions(history="empty"))
    res = pipeline.run(inputs, empty)
    assert float(abs(res.balance_residual).max()) < 1e-9
    np.testing.assert_allclose(res.stock.isel(year=0), res.inflow.isel(year=0), rtol=1e-14)


@pytest.fixture(scope="module")
def china():
    inputs = _load(data_dir())
    return inputs, pipeline.run(inputs, load_scenario("baseline"))


def test_every_output_variable_of_a_run_is_declared_once(china):
    """Every variable of the China run (reconciled upstream, forecast, supply, diagnostics)
    and of a residual-upstream run is declared, once, and carries its declaration's dims
    (after any leading draw) and attributes."""
    inputs, res = china
    scenario = load_scenario("baseline")
    residual = pipeline.run(
        inputs,
        dataclasses.replace(scenario, run=dataclasses.replace(scenario.run, upstream="residual")),
        diagnostics=False,
    )
    assert set(res.data_vars) >= set(cv.RECONCILED_VARIABLES)
    for run in (res, residual):
        undeclared = sorted(set(run.data_vars) - set(cv.VARIABLES))
        assert not undeclared
        for name, da in run.data_vars.items():
            var = cv.VARIABLES[name]
            assert da.dims[da.ndim - len(var.dims) :] == var.dims, name
            for key in ("units", "long_name", "description"):
                assert da.attrs[key] == getattr(var, key), (name, key)
    names = [v.name for v in cv._VARIABLES]
    assert len(names) == len(set(names))


# the paper's 2017 domestic consumption per product (section 3.1), EL/IR swapped (SPEC §1)
PAPER_2017 = {
    "CV": 2300,
    "EV": 728,
    "EB": 321,
    "WT": 1100,
    "AC": 1840,
    "RE": 1070,
    "WM": 788,
    "MO": 753,
    "VC": 242,
    "MRI": 141,
    "DC": 79,
    "LP": 362,
    "MP": 577,
    "LS": 1502,
    "CP": 1466,
    "EL": 1318,
    "IR": 75,
}


@pytest.mark.slow
def test_calibration_consistency_2017(china):
    _, res = china
    dc = res.domestic_consumption.sel(year=2017)
    for product, paper in PAPER_2017.items():
        assert float(dc.sel(product=product)) == pytest.approx(paper, rel=1e-3), product
    assert float(res.total_demand.sel(year=2017)) == pytest.approx(15872, rel=1e-3)


@pytest.mark.slow
def test_china_history_and_upstream_nan_after_2017(china):
    inputs, res = china
    # baseline: the use stage runs from 1978 (SPEC §2.2); the 2000 stock holds the cohorts
    # of long-lived products sold before 2000, and 2000-2017 end-of-life flows include them
    assert int(res.year[0]) == 2000
    assert inputs.attrs["history_first_year"] < 2000
    for p in ("CV", "EL"):
        assert float(res.stock.sel(product=p, year=2000)) > 1.5 * float(
            res.inflow.sel(product=p, year=2000)
        ), p
        assert float(res.outflow.sel(product=p, year=2000)) > 0, p
    # the paper's convention (yao2021): nothing in use before 2000, S(2000) = F_in(2000)
    paper = pipeline.run(inputs, load_scenario("yao2021"))
    np.testing.assert_allclose(paper.stock.sel(year=2000), paper.inflow.sel(year=2000), rtol=1e-14)
    if int(res.year[-1]) > 2017:
        assert bool(res.mining_unregistered.sel(year=slice(2018, None)).isnull().all())
        assert bool(res.flow.sel(origin="mining", destination="refining", year=2030).isnull())
        assert bool(res.stock.sel(year=2050).notnull().all())
        assert (
            float(
                abs(
                    res.balance_residual.sel(process=["use", "waste"], year=slice(2018, None))
                ).max()
            )
            < 1e-6
        )


# --- the validation report ---------------------------------------------------------
def test_reference_figures_are_parsed():
    _paper_number = _validation_report()._paper_number

    assert _paper_number("15872") == 15872.0
    assert _paper_number("15-20") == (15.0, 20.0)
    assert _paper_number("2/3") == pytest.approx(2 / 3)
    assert _paper_number("equal") == 1.0
    assert _paper_number("<1") is None


def test_back_calculated_inputs_are_read_from_quality_and_source(tmp_path):
    back_calculated = _validation_report().back_calculated

    (tmp_path / "production.csv").write_text(
        "product,year,value,unit,quality,source,method\n"
        "A,2000,1,unit yr-1,estimate,Yao et al. (2021),scaled to the paper's 2017 level (f = 0.5)\n"
        "A,2001,1,unit yr-1,estimate,Yao et al. (2021),scaled to the paper's 2017 level (f = 0.5)\n"
        "B,2000,1,unit yr-1,estimate,Yao et al. (2021),scaled to the paper's 2017 level (f = 0.7)\n"
        "C,2000,1,unit yr-1,statistic,Yao et al. (2021),as printed\n"
        "D,2000,1,unit yr-1,estimate,own assumption,held\n"
    )
    table = back_calculated(tmp_path)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row.file, row.key, row.years, row.rows) == ("production.csv", "A, B", "2000-2001", 3)


@pytest.mark.slow
def test_validation_report_on_the_china_run(china):
    import pandas as pd

    from ndsim.resources import reference_dir

    compare = _validation_report().compare

    _, res = china
    table = compare(res, pd.read_csv(reference_dir() / "yao2021.csv", dtype={"year": str}))
    keys = set(zip(table["item"], table["key"], strict=True))
    assert {
        ("mining", "unregistered"),
        ("mining", "total"),
        ("intermediate", "NdFeB"),
        ("trade", "final_exports"),
        ("consumption", "total"),
        ("growth_rate_hist", "AC"),
    } <= keys
    assert (table.loc[table["large"], "why"].str.len() > 20).all()
    total = table[(table["item"] == "consumption") & (table["key"] == "total")].iloc[0]
    assert abs(total.deviation) < 1e-3


def test_run_without_diagnostics_gives_the_same_contract_variables(china):
    """Ensemble chunks skip the forecast diagnostics; every SPEC §6 variable is unchanged."""
    inputs, full = china
    lean = pipeline.run(inputs, load_scenario("baseline"), diagnostics=False)
    contract = [v for v in full.data_vars if v in cv.CONTRACT_VARIABLES]
    assert {"flow", "stock", "total_demand", "supply_gap"} <= set(contract)
    for name in contract:
        xr.testing.assert_identical(lean[name], full[name])
    assert "gompertz_theta" in full and "gompertz_theta" not in lean


def test_flow_is_zero_off_the_declared_edges_and_new_edges_must_be_declared(china):
    _, res = china
    nodes = list(res.origin.values)
    mask = np.zeros((len(nodes), len(nodes)), dtype=bool)
    for o, d in flows.FLOW_EDGES:
        mask[nodes.index(o), nodes.index(d)] = True
    f = res.flow.transpose("origin", "destination", "year").values
    assert (f[~mask] == 0.0).all() and (np.nan_to_num(f[mask]) != 0.0).any()
    one = xr.DataArray([1.0], dims="year", coords={"year": [2000]})
    with pytest.raises(ValueError, match="not in ndsim.flows.FLOW_EDGES"):
        flows.edge_array({("use", "landfill"): one}, np.array([2000]))


def _labelled(values, dims, **coords):
    return xr.DataArray(np.asarray(values, dtype=float), dims=dims, coords=coords)


def _on_years(arrays, years):
    """The Dataset of the Variables and coordinates pipeline._on_years gives."""
    variables, coords = pipeline._on_years(arrays, years)
    return xr.Dataset(variables, coords=coords)


def test_results_are_assembled_on_the_run_years_as_xarray_would_align_them():
    years = np.arange(2000, 2006)
    product = {"product": ["A", "B"], "name": ("product", ["a", "b"])}
    arrays = {
        "whole": _labelled(np.arange(12).reshape(2, 6), ("product", "year"), year=years, **product),
        # accounted years only: NaN after 2002
        "accounted": _labelled([[1, 2, 3]], ("draw", "year"), draw=[7], year=years[:3]),
        # the years in between: NaN before and after
        "middle": _labelled(
            [[1.5, 2.5], [3.5, 4.5]], ("year", "product"), year=years[2:4], **product
        ),  # fmt: skip
        "plain": _labelled([1.0, 2.0], ("product",), **product),
    }
    # the reference: xarray's own alignment, as the run built its result before
    ref = xr.Dataset(arrays).reindex(year=years)
    got = _on_years(arrays, years)
    assert got.identical(ref)
    assert np.isnan(got["accounted"].values[0, 3:]).all()
    assert np.shares_memory(got["whole"].values, arrays["whole"].values)  # not copied
    # arrays that disagree on another dimension's labels: xarray's outer join decides
    other = dict(arrays, plain=_labelled([1.0, 2.0], ("product",), product=["B", "A"]))
    assert _on_years(other, years).identical(xr.Dataset(other).reindex(year=years))
    assert _on_years(other, years).sizes["product"] == 2
    # single precision stays single; integers and flags become what xarray's fill makes
    odd = dict(
        arrays,
        single=arrays["accounted"].astype(np.float32),
        whole_flags=arrays["accounted"] > 1,
        counts=arrays["accounted"].astype(np.int64),
    )
    ref = xr.Dataset(odd).reindex(year=years)
    got = _on_years(odd, years)
    assert got.identical(ref)
    assert got["single"].dtype == np.float32
    # years with a gap: xarray's reindex
    gappy = dict(
        arrays, gappy=_labelled([[1.0, 3.0]], ("draw", "year"), draw=[7], year=years[[1, 3]])
    )
    assert _on_years(gappy, years).identical(xr.Dataset(gappy).reindex(year=years))


def test_variables_are_assigned_and_labelled_as_a_dataset_would():
    """pipeline._assign and _labelled on Variables against Dataset.assign and ds[name]."""
    years = np.arange(2000, 2004)
    product = {"product": ["A", "B"], "name": ("product", ["a", "b"])}
    ds = xr.Dataset(
        {
            "stock": _labelled(
                np.arange(8).reshape(2, 4), ("product", "year"), year=years, **product
            ),
            "rate": _labelled([0.1, 0.2, 0.3, 0.4], ("year",), year=years),
            "flag": _labelled([1.0, 0.0], ("product",), **product),
        }
    )
    new = {
        # a replaced variable keeps its place; a new one comes last
        "rate": xr.Variable("year", np.array([1.0, 2.0, 3.0, 4.0]), {"units": "1"}),
        # a DataArray brings a coordinate the run has not, and shares the run's labels
        "adjustment": _labelled(
            [[1.0, 2.0, 3.0, 4.0]] * 3,
            ("measurement", "year"),
            measurement=["x", "y", "z"],
            year=years,
        ),
        "share": _labelled([[0.5] * 4] * 2, ("product", "year"), year=years, **product),
    }
    variables, coords = pipeline._parts(ds)
    pipeline._assign(variables, coords, new)
    got = xr.Dataset(variables, coords=coords)
    ref = ds.assign(new)
    assert got.identical(ref)
    assert list(got.data_vars) == list(ref.data_vars)  # in the same order
    assert list(got.coords) == list(ref.coords)
    for name in ref.data_vars:
        assert pipeline._labelled(name, variables[name], coords).identical(ref[name])


def test_plausibility_flag_against_a_hand_case():
    """1 above a bound, 0 within, NaN without a bound, without units or without population."""
    p, y = ["A", "B", "C", "D"], [2000, 2001]
    inputs = xr.Dataset(
        {
            "plausibility_units_per_year": ("product", [10.0, np.nan, np.nan, 1.0]),
            "plausibility_units_per_person": ("product", [np.nan, 0.5, np.nan, np.nan]),
            "population": ("year", [100.0, 200.0]),
        },
        coords={"product": p, "year": y},
    )
    sales = np.array([[[5.0, 11.0], [1.0, 1.0], [7.0, 7.0], [np.nan, 2.0]]])
    in_use = np.array([[[0.0, 0.0], [40.0, 120.0], [1.0, 1.0], [0.0, 0.0]]])
    flag = pipeline.plausibility_flag(sales, in_use, inputs, np.array(y))
    want = [[0.0, 1.0], [0.0, 1.0], [np.nan, np.nan], [np.nan, 1.0]]
    np.testing.assert_array_equal(flag[0], want)
    no_people = pipeline.plausibility_flag(sales, in_use, inputs.drop_vars("population"), y)
    assert no_people.shape == sales.shape and np.isnan(no_people).all()
