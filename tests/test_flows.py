"""Flows kept as edges (ndsim.flows): the same numbers as the matrix, everywhere they are used."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import xarray as xr
from _canonical import hand_case

from ndsim import balance, flows, forecast, pipeline
from ndsim import conventions as cv
from ndsim.ensemble.core import ensemble_from_inputs
from ndsim.inputs import prepare
from ndsim.processes import supply
from ndsim.scenario import ForecastOptions, Scenario, load_scenario

ACCOUNTING = dataclasses.replace(Scenario(), forecast=ForecastOptions(enabled=False))


@pytest.fixture(scope="module")
def china():
    inputs, scenario = prepare("baseline")
    factor = xr.DataArray([1.0, 1.07, 0.93], dims="draw", coords={"draw": [0, 1, 2]})
    drawn = inputs.assign(production=inputs["production"] * factor)
    fits = forecast.fits_from_dataset(pipeline.run(inputs, scenario))
    return (
        inputs,
        scenario,
        pipeline.run(drawn, scenario, diagnostics=False, fits=fits),
        pipeline.run(drawn, scenario, diagnostics=False, fits=fits, flow_form="edges"),
    )


def test_edges_are_in_the_order_of_the_matrix():
    """Flattened, the edges of one draw are the matrix's nonzero pairs in C order."""
    nodes = list(cv.NODES)
    flat = [nodes.index(o) * len(nodes) + nodes.index(d) for o, d in flows.EDGES]
    assert flat == sorted(flat) and len(set(flows.EDGES)) == len(flows.FLOW_EDGES) == 22


def test_edges_and_matrix_of_a_run_hold_the_same_numbers(china):
    """Every edge of the edge form equals its pair of the matrix, bit for bit; every pair
    without an edge is 0 (and flow_sd NaN after the accounted years); the other
    variables are identical."""
    inputs, _, dense, edges = china
    last = pipeline.accounted_years(inputs)[1]
    for name in ("flow", "flow_prior", "flow_sd"):
        e, m = edges[name], dense[name]
        assert e.dims == ("draw", "edge", "year") and m.dims[1:] == cv.VARIABLES[name].dims
        seen = np.zeros((len(cv.NODES), len(cv.NODES)), dtype=bool)
        for i, (o, d) in enumerate(flows.EDGES):  # a plain loop over the pairs
            a = e.isel(edge=i).values
            b = m.sel(origin=o, destination=d).values
            assert np.array_equal(a, b, equal_nan=True), (name, o, d)
            seen[cv.NODES.index(o), cv.NODES.index(d)] = True
        off = m.transpose("origin", "destination", "draw", "year").values[~seen]
        years = m.year.values
        if name == "flow_sd":
            assert (off[..., years <= last] == 0.0).all() and np.isnan(off[..., years > last]).all()
        else:
            assert (off == 0.0).all()
    for name in dense.data_vars:
        if name not in ("flow", "flow_prior", "flow_sd"):
            xr.testing.assert_identical(edges[name], dense[name])


def test_unlabelled_run_holds_the_labelled_runs_variables(china):
    """Without labels (the chunks' result) a run gives the labelled run's variables in
    its order, each with the same dims, values and attributes, and nothing else."""
    inputs, scenario, _, edges = china
    fits = forecast.fits_from_dataset(pipeline.run(inputs, scenario))
    factor = xr.DataArray([1.0, 1.07, 0.93], dims="draw", coords={"draw": [0, 1, 2]})
    drawn = inputs.assign(production=inputs["production"] * factor)
    bare = pipeline.run(
        drawn, scenario, diagnostics=False, fits=fits, flow_form="edges", labels=False
    )
    assert isinstance(bare, pipeline.RunVariables) and bare.variables is bare
    assert list(bare) == list(edges.data_vars)
    for name, var in bare.items():
        assert isinstance(var, xr.Variable) and not isinstance(var, xr.IndexVariable)
        xr.testing.assert_identical(var, edges.variables[name])


def test_balance_of_edges_equals_the_balance_of_the_matrix(china):
    """The residuals from edges are those from the matrix to the last bit, also where a
    process is out of balance."""
    _, _, dense, edges = china
    flow_e = edges["flow"].copy()
    k = flows.EDGES.index(("refining", "fabrication"))
    flow_e[dict(draw=1, edge=k, year=3)] += 5.0  # refining and fabrication out by 5 t
    flow_m = flows.to_matrix(flow_e)
    a = balance.residuals(flow_e, dense["stock"], initial_stock=7.0)
    b = balance.residuals(flow_m, dense["stock"], initial_stock=7.0)
    for v in ("residual", "tolerance"):
        assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v
    year = int(flow_e.year[3])
    assert float(a.residual.sel(draw=1, process="refining", year=year)) == pytest.approx(-5.0)
    assert float(a.residual.sel(draw=1, process="fabrication", year=year)) == pytest.approx(5.0)
    with pytest.raises(Exception, match="mass balance"):
        balance.check_balance(flow_e, dense["stock"], initial_stock=7.0)


def test_supply_sums_over_edges_or_the_matrix_alike(china):
    # the upstream exports of T the requirement holds: the same from the edges as from the
    # matrix (whose pairs without an edge, e.g. mining -> export_unregistered, add 0)
    _, _, dense, edges = china
    year = int(dense.year[5])
    n = dense.sizes.get(cv.DRAW, 1)
    a, b = (
        supply._pair_sum(supply._flows_at(run["flow"], year), supply.EXPORT_PAIRS, n)
        for run in (edges, dense)
    )
    at = dense["flow"].sel({cv.YEAR: year})
    expect = sum(
        at.sel(origin=o, destination=d).fillna(0.0)
        for o, d in [
            ("mining", "export"),
            ("refining", "export"),
            ("refining", "export_unregistered"),
            ("fabrication", "export"),
        ]
    )
    assert np.array_equal(a, b) and np.allclose(a, np.ravel(expect.values))


def test_supply_of_a_run_is_that_of_its_labelled_result(china):
    """The run computes its supply variables on its Variables and the flows of T taken from
    the edges' array; the public supply_scenarios on the labelled result (flows of T by
    label, from the edges and from the matrix) gives their numbers bit for bit."""
    inputs, scenario, dense, edges = china
    last = pipeline.accounted_years(inputs)[1]
    i_t = int(np.searchsorted(edges[cv.YEAR].values, last))
    on_arrays = supply.flows_at_values(
        forecast.lead_values(edges["flow"], 1, flows.EDGE, cv.YEAR), i_t
    )
    for run in (edges, dense):
        by_label = supply._flows_at(run["flow"], last)
        for pair, x in by_label.items():
            if pair in flows.EDGES:
                assert np.array_equal(on_arrays[pair], x, equal_nan=True), pair
            else:  # a pair of the matrix's nodes without an edge: 0
                assert run is dense and not x.any(), pair
        assert on_arrays.keys() == set(by_label) & set(flows.EDGES)
    for run in (edges, dense):
        ref = supply.supply_scenarios(run, inputs, scenario.supply)
        for name in ref.data_vars:  # (the run's attributes are those of the output contract)
            xr.testing.assert_equal(ref[name], run[name])
            assert np.array_equal(ref[name].values, run[name].values, equal_nan=True), name


def test_to_matrix_against_a_plain_loop():
    rng = np.random.default_rng(5)
    years = np.array([2000, 2001, 2002])
    parts = {
        e: xr.DataArray(rng.normal(size=(2, 3)), dims=("draw", "year"), coords={"year": years})
        for e in flows.FLOW_EDGES[::4]
    }
    assert ("use", "waste") in parts
    parts[("use", "waste")] = parts[("use", "waste")].isel(year=slice(0, 2))  # NaN in 2002
    # over 2001-2003: NaN in 2000, and 2003 is not a year of the flows
    late = xr.DataArray(rng.normal(size=(2, 3)), dims=("draw", "year"), coords={"year": years + 1})
    parts[flows.FLOW_EDGES[1]] = late
    m = flows.to_matrix(flows.edge_array(parts, years))
    nodes = list(cv.NODES)
    expect = np.zeros((2, len(nodes), len(nodes), 3))
    for (o, d), da in parts.items():
        for t, y in enumerate(years):
            v = da.sel(year=y).values if y in da.year.values else np.full(2, np.nan)
            expect[:, nodes.index(o), nodes.index(d), t] = v
    assert np.array_equal(m.values, expect, equal_nan=True)
    with pytest.raises(ValueError, match="not in ndsim.flows.FLOW_EDGES"):
        flows.edge_array({("use", "landfill"): parts[("use", "waste")]}, years)


def test_an_ensemble_with_edges_summarises_the_flows_of_the_matrix(tmp_path):
    """Chunks that keep flows as edges (the default) give the summaries, and with --full
    the per-draw matrices, of chunks that build the whole matrix. The edges' chunk holds
    all the draws, so its matrices are written by origin node as they are made; the
    matrices' chunks are written as a whole."""
    scenario = load_scenario("baseline")
    inputs, _ = prepare("baseline")
    common = dict(draws=6, seed=3, progress=False, full=True)
    a = ensemble_from_inputs(inputs, scenario, output=tmp_path / "a.nc", chunk_size=6, **common)
    dense = functools.partial(pipeline.run, diagnostics=False)  # the matrix in every chunk
    b = ensemble_from_inputs(
        inputs, scenario, output=tmp_path / "b.nc", model=dense, chunk_size=4, **common
    )
    for name in ("flow", "flow_prior", "flow_sd", "stock", "balance_residual"):
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name
    da = xr.open_dataset(tmp_path / "a.nc", group="draws")
    db = xr.open_dataset(tmp_path / "b.nc", group="draws")
    for name in ("flow", "flow_prior", "flow_sd"):
        assert da[name].dims == ("draw", "origin", "destination", "year")
        assert np.array_equal(da[name].values, db[name].values, equal_nan=True), name


def test_an_unknown_flow_form_is_refused():
    with pytest.raises(ValueError, match="flow_form"):
        pipeline.run(hand_case(), ACCOUNTING, flow_form="sparse")
