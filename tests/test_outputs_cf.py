"""Files a downstream user can rely on (SPEC §6): CF-1.11 by the IOOS checker, pint-ready.

The run file and the ensemble file of the tiny data set are checked by the
IOOS compliance-checker (cf:1.11): no high-priority failure. Their unit
strings are read by UDUNITS (cf-units) and the whole file is quantified by
pint-xarray with ndsim's registry.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ndsim import pipeline
from ndsim.io.readers import load_dataset
from ndsim.io.writers import write_netcdf
from ndsim.scenario import ForecastOptions, RunOptions, Scenario

TINY = Path(__file__).parent / "data" / "tiny"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import ndsim.ensemble as en

    folder = tmp_path_factory.mktemp("cf")
    inputs = load_dataset(TINY)
    sc = dataclasses.replace(
        Scenario(), name="tiny_case", run=RunOptions(upstream="reconciled"),
        forecast=ForecastOptions(enabled=False),
    )  # fmt: skip
    run = write_netcdf(pipeline.run(inputs, sc), folder / "run.nc")
    ens = folder / "ens.nc"
    en.ensemble_from_inputs(
        inputs, sc, draws=8, chunk_size=4, seed=3, output=ens, full=True, progress=False,
        exact_budget=0,
    )  # fmt: skip
    return run, ens


def _high_priority_failures(path: Path, tmp_path: Path) -> list[str]:
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    CheckSuite().load_all_available_checkers()
    report = tmp_path / f"{path.stem}.json"
    ComplianceChecker.run_checker(
        str(path), ["cf:1.11"], 0, "strict", output_filename=str(report), output_format="json"
    )
    result = json.loads(report.read_text())["cf:1.11"]
    bad = []
    for item in result["high_priorities"]:
        got, possible = item["value"]
        if got < possible or item["msgs"]:
            bad.append(f"{item['name']}: {item['msgs']}")
    return bad


@pytest.mark.parametrize("which", [0, 1], ids=["run", "ensemble"])
def test_no_high_priority_cf_failure(files, which, tmp_path):
    assert _high_priority_failures(files[which], tmp_path) == []


@pytest.mark.parametrize("which", [0, 1], ids=["run", "ensemble"])
def test_coordinates_units_and_flags(files, which):
    import cf_units

    with xr.open_dataset(files[which]) as ds:
        assert ds["year"].dtype.kind == "i" and "units" not in ds["year"].attrs
        assert ds["year"].attrs["long_name"] == "calendar year"
        assert int(ds.sel(year=2002)["year"]) == 2002
        for name in ds.coords:
            assert ds[name].attrs.get("long_name"), name
        for name in ds.variables:
            unit = ds[name].attrs.get("units")
            if unit is not None:
                cf_units.Unit(unit)  # UDUNITS reads it
        assert ds["in_total_demand"].attrs["flag_meanings"] == "false true"
        assert str(ds["run_scenario"].values) == "tiny_case"
        assert "105752" in ds.attrs["references"] and ds.attrs["institution"]
        assert ds.attrs["Conventions"] == "CF-1.11"
        if "stat" in ds.dims:
            assert ds["stat"].attrs["long_name"]


def test_draw_is_a_realization(files):
    with xr.open_dataset(files[1], group="draws") as draws:
        assert draws["draw"].size == 8
        assert draws["draw"].attrs["standard_name"] == "realization"


@pytest.mark.parametrize("which", [0, 1], ids=["run", "ensemble"])
def test_pint_xarray_quantifies_the_whole_file(files, which):
    import pint_xarray  # noqa: F401  (in the test extra)

    from ndsim.units import registry

    with xr.open_dataset(files[which]) as ds:
        q = ds.pint.quantify(unit_registry=registry())
        with_units = [v for v in q.data_vars if "units" in ds[v].attrs]
        assert with_units
        for v in with_units:
            assert hasattr(q[v].data, "units"), v
        stock = q["stock"] if "stat" not in q.dims else q["stock"].sel(stat="mean")
        kg = stock.pint.to("kg").pint.dequantify()
        t = ds["stock"] if "stat" not in ds.dims else ds["stock"].sel(stat="mean")
        np.testing.assert_allclose(kg.values, t.values * 1000.0, rtol=1e-12)


def test_files_of_two_scenarios_keep_their_names_when_combined(files, tmp_path):
    with xr.open_dataset(files[0]) as a:
        b = a.assign_coords(run_scenario="other")
        both = xr.concat([a, b], dim="run", coords=["run_scenario"], compat="override")
        assert both["run_scenario"].values.tolist() == ["tiny_case", "other"]
