"""Tidy CSV export: the files read back to the values of the output Dataset."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from test_report import make_dataset  # the synthetic SPEC §6 Dataset

from ndsim.report import tables


def read_values(path) -> pd.DataFrame:
    """A CSV with its value column parsed by Python's float (correctly rounded in any pandas)."""
    frame = pd.read_csv(path, dtype={"value": str}, keep_default_na=False)
    frame["value"] = [float(v) if v else np.nan for v in frame["value"]]
    return frame


def export(cmd, env, *args, cwd=None) -> subprocess.CompletedProcess:
    """``ndsim export ARGS`` in a subprocess."""
    return subprocess.run([*cmd, "export", *args], env=env, capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    ds = make_dataset()
    out = tmp_path_factory.mktemp("csv")
    return ds, tables.write_csv(ds, out), out


def test_one_tidy_file_per_variable(exported):
    ds, paths, out = exported
    names = {p.name for p in paths}
    assert {f"{v}.csv" for v in ds.data_vars} <= names
    assert {"variables.csv", "attributes.csv", "coordinates_product.csv"} <= names
    for name, da in ds.data_vars.items():
        frame = pd.read_csv(out / f"{name}.csv", dtype={"units": str})
        assert list(frame.columns) == [*da.dims, "value", "units"]
        assert len(frame) == da.size
        assert set(frame["units"]) == {da.attrs["units"]}


def test_values_read_with_plain_pandas(exported):
    ds, _, out = exported
    stock = read_values(out / "stock.csv")
    row = stock[(stock["product"] == "AC") & (stock["year"] == 2010)]
    assert row["value"].item() == float(ds["stock"].sel(product="AC", year=2010))
    flow = read_values(out / "flow.csv")
    row = flow[(flow.origin == "mining") & (flow.destination == "refining") & (flow.year == 2017)]
    assert row["value"].item() == float(
        ds["flow"].sel(origin="mining", destination="refining", year=2017)
    )
    # upstream after the accounted period: missing, written as an empty field
    row = flow[(flow.origin == "mining") & (flow.destination == "refining") & (flow.year == 2030)]
    assert np.isnan(row["value"].item())
    groups = pd.read_csv(out / "coordinates_product.csv")
    assert dict(zip(groups["product"], groups["group"], strict=True))["AC"] == "home appliances"


@pytest.mark.parametrize("ensemble", [False, True])
def test_round_trip_reproduces_the_dataset(tmp_path, ensemble):
    ds = make_dataset(ensemble=ensemble)
    tables.write_csv(ds, tmp_path)
    back = tables.read_csv(tmp_path)
    assert set(back.data_vars) == set(ds.data_vars)
    for name, da in ds.data_vars.items():
        got = back[name]
        assert got.dims == da.dims
        for dim in da.dims:
            assert got[dim].values.tolist() == da[dim].values.tolist()
        np.testing.assert_array_equal(got.values, da.values)  # NaN == NaN, bit-exact floats
        assert got.attrs["units"] == da.attrs["units"]
    assert back["group"].values.tolist() == ds["group"].values.tolist()
    assert back.attrs["schema_version"] == ds.attrs["schema_version"]


def test_blocked_writing_gives_the_same_files(tmp_path, monkeypatch):
    ds = make_dataset(ensemble=True)[["stock", "total_demand"]]
    tables.write_csv(ds, tmp_path / "whole")
    monkeypatch.setattr(tables, "BLOCK_ROWS", 7)
    tables.write_csv(ds, tmp_path / "blocks")
    for name in ("stock.csv", "total_demand.csv"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "blocks" / name).read_bytes()


def test_a_product_code_like_na_is_not_missing(tmp_path):
    ds = xr.Dataset(
        {"stock": (("product", "year"), [[1.0, 2.0], [3.0, np.nan]])},
        coords={"product": ["NA", "AC"], "year": [2000, 2001]},
    )
    ds["stock"].attrs["units"] = "t"
    tables.write_csv(ds, tmp_path)
    back = tables.read_csv(tmp_path)
    assert back["product"].values.tolist() == ["NA", "AC"]
    np.testing.assert_array_equal(back["stock"].values, ds["stock"].values)


def test_cli_export(tmp_path, cli_env, ndsim_cmd):
    nc = tmp_path / "run.nc"
    ds = make_dataset()
    ds.to_netcdf(nc)
    res = export(ndsim_cmd, cli_env, str(nc), "--csv", str(tmp_path / "csv"))
    assert res.returncode == 0, res.stderr
    frame = read_values(tmp_path / "csv" / "total_demand.csv")
    np.testing.assert_array_equal(frame["value"].to_numpy(), ds["total_demand"].values)
    assert "draws" not in res.stdout  # nothing to say about a file without draws


def test_cli_export_says_it_leaves_the_draws_group_out(tmp_path, cli_env, ndsim_cmd):
    nc = tmp_path / "ens.nc"
    make_dataset().to_netcdf(nc)
    xr.Dataset({"total_demand": (("draw", "year"), np.ones((2, 3)))}).to_netcdf(
        nc, mode="a", group="draws"
    )
    res = export(ndsim_cmd, cli_env, str(nc), "--csv", str(tmp_path / "csv"))
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stdout.splitlines() if "draws" in line]
    assert len(lines) == 1 and "group='draws'" in lines[0] and "not exported" in lines[0]


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        ("none", ["--csv", "out"], "no such file"),
        ("text", ["--csv", "out"], "not a NetCDF file"),
        ("other", ["--csv", "out"], "not an ndsim output file"),
        ("good", [], "--csv"),  # required option: argparse's usage error, also exit 2
    ],
)
def test_cli_export_errors_exit_2(tmp_path, cli_env, ndsim_cmd, make, args, message):
    nc = tmp_path / "x.nc"
    if make == "text":
        nc.write_text("not netcdf")
    elif make == "other":
        xr.Dataset({"a": ("x", [1.0])}).to_netcdf(nc)
    elif make == "good":
        make_dataset()[["stock"]].to_netcdf(nc)
    res = export(ndsim_cmd, cli_env, str(nc), *args, cwd=tmp_path)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["export", "plot"])
def test_cli_export_and_plot_write_failures_are_one_line(tmp_path, cli_env, ndsim_cmd, command):
    """A full disk (injected) or a target that is a file: one line, no traceback, no output."""
    nc = tmp_path / "run.nc"
    make_dataset().to_netcdf(nc)
    flag = "--csv" if command == "export" else "--out"
    full = {**cli_env, "NDSIM_FAULT_BEFORE_RENAME": "1"}
    res = subprocess.run(
        [*ndsim_cmd, command, str(nc), flag, str(tmp_path / "out")],
        env=full, capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ndsim: error: cannot write"), res.stderr
    assert "Traceback" not in res.stderr
    assert not [p for p in (tmp_path / "out").glob("*") if not p.name.startswith(".")]
    target = tmp_path / "a_file"
    target.write_text("not a folder")
    res = subprocess.run(
        [*ndsim_cmd, command, str(nc), flag, str(target)],
        env=cli_env, capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 2
    assert f"{flag} {target}: is a file, not a folder" in res.stderr
    assert "Traceback" not in res.stderr and target.read_text() == "not a folder"


def test_iamc_table_read_with_pandas(tmp_path, cli_env, ndsim_cmd):
    """IAMC layout: model, scenario, region, variable, unit, then one column per year."""
    nc = tmp_path / "run.nc"
    ds = make_dataset().assign_attrs(scenario="case_a", region="Atlantis", element="Xm")
    ds.to_netcdf(nc)
    out = tmp_path / "iamc.csv"
    res = export(ndsim_cmd, cli_env, str(nc), "--iamc", str(out))
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    years = [str(int(y)) for y in ds["year"].values]
    assert list(frame.columns) == ["model", "scenario", "region", "variable", "unit", *years]
    assert set(frame["scenario"]) == {"case_a"} and set(frame["region"]) == {"Atlantis"}
    total = frame[frame["variable"] == "Total Demand|Xm"]
    assert len(total) == 1 and total["unit"].item() == "t/yr"
    np.testing.assert_allclose(total[years].to_numpy()[0], ds["total_demand"].values, rtol=1e-9)
    p = str(ds["product"].values[0])
    name = str(ds["name"].sel(product=p).values) if "name" in ds.coords else p
    row = frame[frame["variable"] == f"Domestic Consumption|Xm|{name}"]
    np.testing.assert_allclose(
        row[years].to_numpy()[0], ds["domestic_consumption"].sel(product=p).values, rtol=1e-9
    )
    bad = export(ndsim_cmd, cli_env, str(nc), "--iamc", str(tmp_path / "x.txt"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
