"""Tests of ndsim.ensemble and ``ndsim ensemble``: reproducibility, summaries, resume, CLI."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import types
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from _canonical import TINY, tiny_scenario

import ndsim.ensemble as en
from ndsim import conventions as cv
from ndsim import sampling
from ndsim.ensemble import executors
from ndsim.errors import UsageError


@pytest.fixture(scope="module")
def tiny():
    from ndsim.io.readers import load_dataset
    from ndsim.scenario import ForecastOptions, Scenario

    inputs = load_dataset(TINY)
    scenario = dataclasses.replace(
        Scenario(), name="tiny", forecast=ForecastOptions(enabled=False), sha256="0" * 64
    )
    return inputs, scenario


def run(tiny, **kw):
    inputs, scenario = tiny
    kw.setdefault("progress", False)
    return en.ensemble_from_inputs(inputs, scenario, **kw)


def draws_group(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, group="draws") as ds:
        return ds.load()


def same_summaries(a: xr.Dataset, b: xr.Dataset) -> None:
    for name in a.data_vars:
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


def test_per_draw_values_and_summaries_do_not_depend_on_chunk_size(tiny, tmp_path):
    outs = {}
    for k in (3, 7, 20):
        path = tmp_path / f"k{k}.nc"
        outs[k] = (run(tiny, draws=20, chunk_size=k, seed=11, output=path, full=True), path)
    ref_sum, ref_path = outs[20]
    ref = draws_group(ref_path)
    assert ref.stock.dims == ("draw", "product", "year") and ref.stock.dtype == np.float32
    for k in (3, 7):
        s, path = outs[k]
        same_summaries(s, ref_sum)
        d = draws_group(path)
        for name in ref.data_vars:
            assert np.array_equal(d[name].values, ref[name].values, equal_nan=True), name


def test_histogram_summaries_do_not_depend_on_chunk_size(tiny):
    a = run(tiny, draws=45, chunk_size=45, seed=5, exact_budget=0)
    b = run(tiny, draws=45, chunk_size=4, seed=5, exact_budget=0)
    same_summaries(a, b)
    assert "histogram" in a.stock.attrs["percentile_method"]


def test_summaries_against_the_draws(tiny, tmp_path):
    """mean, sd and exact percentiles equal numpy's over the per-draw values of the same run."""
    path = tmp_path / "out.nc"
    out = run(tiny, draws=30, chunk_size=8, seed=3, output=path, full=True)
    inputs, scenario = tiny
    # per-draw float64 values, recomputed independently for the whole ensemble at once
    from ndsim import pipeline

    ens = pipeline.run(sampling.sample_inputs(inputs, scenario, np.arange(30), 3), scenario)
    x = ens.stock.transpose("draw", "product", "year").values
    np.testing.assert_allclose(out.stock.sel(stat="mean").values, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(
        out.stock.sel(stat="sd").values, x.std(0, ddof=1), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_array_equal(out.stock.sel(stat="q975").values, np.quantile(x, 0.975, axis=0))
    det = pipeline.run(inputs, scenario)
    np.testing.assert_array_equal(out.stock.sel(stat="deterministic").values, det.stock.values)
    # the file's draws are the float32 of these values
    draws = draws_group(path)
    np.testing.assert_array_equal(draws.stock.values, x.astype(np.float32))
    # and the sampled input factors of every draw, as drawn (float64), labelled as the
    # sensitivity's inputs; a plain least-squares fit on them gives the stored SRCs
    factors = sampling.regressors(sampling.draw_factors(inputs, scenario, np.arange(30), 3))
    f = draws.input_factor
    assert f.dims == ("draw", "input") and f.dtype == np.float64
    assert list(f.input.values) == list(out.input.values) == list(factors.input.values)
    np.testing.assert_array_equal(f.values, factors.values)
    target = str(out.target.values[0])
    name, year = target[:-1].split("[")
    y = ens[name].sel(year=int(year))
    y = (y.sum([d for d in y.dims if d != "draw"]) if y.ndim > 1 else y).values
    zs = (f.values - f.values.mean(0)) / f.values.std(0, ddof=1)
    beta = np.linalg.lstsq(
        np.column_stack([np.ones(30), zs]), (y - y.mean()) / y.std(ddof=1), rcond=None
    )[0][1:]
    assert f.shape[1] + 1 < 30  # identified
    np.testing.assert_allclose(out.sensitivity_src.sel(target=target).values, beta, atol=1e-8)
    total = ens.stock.sum("product").transpose("draw", "year").values
    np.testing.assert_allclose(
        out.stock_total.sel(stat="q50").values, np.quantile(total, 0.5, axis=0), rtol=1e-12
    )
    # flow: only the pipeline's edges are summarised, the other node pairs come back as 0
    f = ens.flow.transpose("draw", "origin", "destination", "year").values
    assert out.flow.dims == ("stat", "origin", "destination", "year")
    np.testing.assert_allclose(out.flow.sel(stat="mean").values, f.mean(0), rtol=1e-12)
    np.testing.assert_array_equal(out.flow.sel(stat="q025").values, np.quantile(f, 0.025, axis=0))
    assert (f.std(0) > 0).any() and (out.flow.sel(stat="sd").values == 0).any()
    assert list(out.stat.values) == list(cv.STATS)
    assert out.sensitivity.dims == ("input", "target")
    assert out.balance_residual.dims == (cv.PROCESS, cv.YEAR)


def test_totals_over_products_against_a_plain_loop():
    # stock_total and outflow_total: every product added in order, NaN kept; dims without
    # the product, in the variable's order; other variables untouched
    from ndsim.ensemble.draws import with_derived

    rng = np.random.default_rng(3)
    stock = rng.uniform(0, 5, (2, 3, 4))  # (year, product, draw): not the usual order
    stock[1, 2, 3] = np.nan
    outflow = rng.uniform(0, 1, (4, 3, 2))  # (draw, product, year)
    ds = xr.Dataset(
        {
            "stock": (("year", "product", "draw"), stock),
            "outflow": (("draw", "product", "year"), outflow),
        }
    )
    out = with_derived(ds)
    assert out["stock_total"].dims == ("year", "draw")
    assert out["outflow_total"].dims == ("draw", "year")
    for y in range(2):
        for d in range(4):
            total = 0.0
            for p in range(3):
                total += stock[y, p, d]
            got = out["stock_total"].values[y, d]
            assert (np.isnan(got) and np.isnan(total)) or got == total
    assert np.isnan(out["stock_total"].values[1, 3])
    expect = outflow[:, 0] + outflow[:, 1] + outflow[:, 2]
    np.testing.assert_array_equal(out["outflow_total"].values, expect)
    assert out["stock_total"].attrs["units"] == cv.attrs("stock_total")["units"]
    assert list(out.data_vars) == ["stock", "outflow", "stock_total", "outflow_total"]


def test_summary_file_and_global_attributes(tiny, tmp_path):
    path = tmp_path / "sum.nc"
    run(tiny, draws=10, chunk_size=4, seed=1, output=path)
    with xr.open_dataset(path) as ds:
        assert ds.attrs["seed"] == 1 and ds.attrs["draws"] == 10
        assert ds.attrs["Conventions"] == "CF-1.11"
        assert "stat" in ds.total_demand.dims
    with netCDF4.Dataset(path) as nc:
        assert "draws" not in nc.groups
    assert not (tmp_path / "sum.nc.partial").exists()


def test_distributed_local_cluster_bit_identical(tiny, tmp_path):
    """2 worker processes give the same per-draw values and summaries as one process."""
    one = run(tiny, draws=16, chunk_size=5, seed=4, output=tmp_path / "a.nc", full=True)
    two = run(tiny, draws=16, chunk_size=3, seed=4, output=tmp_path / "b.nc", full=True, workers=2)
    same_summaries(one, two)
    a, b = draws_group(tmp_path / "a.nc"), draws_group(tmp_path / "b.nc")
    for name in a.data_vars:
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


def test_zstd_draws_are_the_zlib_draws(tiny, tmp_path):
    """--codec zstd changes how the draws are stored, not one bit of what is read back."""
    run(tiny, draws=12, chunk_size=5, seed=6, output=tmp_path / "zlib.nc", full=True)
    run(tiny, draws=12, chunk_size=5, seed=6, output=tmp_path / "zstd.nc", full=True, codec="zstd")
    a, b = draws_group(tmp_path / "zlib.nc"), draws_group(tmp_path / "zstd.nc")
    assert list(a.data_vars) == list(b.data_vars)
    for name in a.data_vars:
        assert a[name].dtype == b[name].dtype, name
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name
    with netCDF4.Dataset(tmp_path / "zstd.nc") as nc:
        per_draw = [v for v in nc["draws"].variables.values() if v.dimensions[:1] == ("draw",)]
        per_draw = [v for v in per_draw if v.ndim > 1]
        assert per_draw and all(v.filters()["zstd"] and not v.filters()["zlib"] for v in per_draw)


def test_local_process_pool_bit_identical(tiny, tmp_path, monkeypatch):
    """The default local pool (2 processes) gives what one process gives, bit for bit."""
    monkeypatch.setenv("NDSIM_WORKERS", "1")
    assert executors.local_workers(16, 3) == 1
    one = run(tiny, draws=16, chunk_size=16, seed=4, output=tmp_path / "a.nc", full=True)
    monkeypatch.setenv("NDSIM_WORKERS", "2")
    assert executors.local_workers(16, 3) == 2 and executors.local_workers(3, 3) == 1
    two = run(
        tiny, draws=16, chunk_size=3, seed=4, output=tmp_path / "b.nc", full=True, exact_budget=0
    )
    hist_one = run(tiny, draws=16, chunk_size=16, seed=4, exact_budget=0)
    same_summaries(hist_one, two)
    a, b = draws_group(tmp_path / "a.nc"), draws_group(tmp_path / "b.nc")
    for name in a.data_vars:
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name
    assert not np.array_equal(one["stock"].values, two["stock"].values, equal_nan=True)


def test_resume_after_injected_fault_is_bit_identical(tiny, tmp_path, monkeypatch):
    ref = run(tiny, draws=25, chunk_size=4, seed=8, output=tmp_path / "ref.nc", full=True)
    target = tmp_path / "out.nc"
    monkeypatch.setenv("NDSIM_FAULT_AFTER_CHUNK", "3")
    with pytest.raises(OSError, match="injected fault after chunk 3"):
        run(tiny, draws=25, chunk_size=4, seed=8, output=target, full=True)
    assert not target.exists()
    partial = tmp_path / "out.nc.partial"
    assert (partial / "manifest.json").is_file() and (partial / "state.npz").is_file()
    assert len(list(partial.glob("draws_*"))) == 3
    monkeypatch.delenv("NDSIM_FAULT_AFTER_CHUNK")
    # a new run without --resume refuses to overwrite the kept work
    with pytest.raises(UsageError, match="--resume"):
        run(tiny, draws=25, chunk_size=4, seed=8, output=target, full=True)
    out = run(tiny, draws=25, chunk_size=4, seed=8, output=target, full=True, resume=True)
    same_summaries(out, ref)
    a, b = draws_group(tmp_path / "ref.nc"), draws_group(target)
    for name in a.data_vars:
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name
    assert not partial.exists()


@pytest.mark.parametrize(
    "change,message",
    [({"seed": 9}, "--seed"), ({"chunk_size": 5}, "--chunk-size"), ({"draws": 26}, "--draws")],
)
def test_resume_refuses_changed_options(tiny, tmp_path, monkeypatch, change, message):
    target = tmp_path / "out.nc"
    monkeypatch.setenv("NDSIM_FAULT_AFTER_CHUNK", "1")
    opts = {"draws": 25, "chunk_size": 4, "seed": 8}
    with pytest.raises(OSError):
        run(tiny, output=target, **opts)
    monkeypatch.delenv("NDSIM_FAULT_AFTER_CHUNK")
    with pytest.raises(UsageError, match=message):
        run(tiny, output=target, resume=True, **{**opts, **change})


def test_resume_refuses_changed_data(tiny, tmp_path, monkeypatch):
    inputs, scenario = tiny
    target = tmp_path / "out.nc"
    monkeypatch.setenv("NDSIM_FAULT_AFTER_CHUNK", "1")
    with pytest.raises(OSError):
        run(tiny, draws=10, chunk_size=4, seed=1, output=target)
    monkeypatch.delenv("NDSIM_FAULT_AFTER_CHUNK")
    other = inputs.copy()
    other.attrs = {**inputs.attrs, "dataset_sha256": "f" * 64}
    with pytest.raises(UsageError, match="the data set"):
        en.ensemble_from_inputs(
            other, scenario, draws=10, chunk_size=4, seed=1, output=target, resume=True
        )
    changed = dataclasses.replace(scenario, sha256="e" * 64)
    with pytest.raises(UsageError, match="the scenario file"):
        en.ensemble_from_inputs(
            inputs, changed, draws=10, chunk_size=4, seed=1, output=target, resume=True
        )


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"draws": 0}, "--draws"),
        ({"draws": 10, "chunk_size": 0}, "--chunk-size"),
        ({"draws": 10, "seed": -1}, "--seed"),
        ({"draws": 10, "workers": 0}, "--workers"),
        ({"draws": 10, "codec": "lz4"}, "--codec lz4: must be one of zlib, zstd"),
        ({"draws": 10, "codec": "zstd"}, "--codec zstd needs --full"),
    ],
)
def test_bad_options(tiny, kw, message):
    with pytest.raises(UsageError, match=message):
        run(tiny, **kw)


def test_uncertainty_table_by_hand(tiny):
    out = run(tiny, draws=20, chunk_size=10, seed=2)
    table = en.uncertainty_table(out)
    td = out.total_demand
    lo = float((td.sel(stat="q025") / td.sel(stat="deterministic") - 1).min())
    hi = float((td.sel(stat="q975") / td.sel(stat="deterministic") - 1).max())
    line = next(row for row in table.splitlines() if row.startswith("total demand"))
    assert f"{100 * lo:.1f} %" in line and f"{100 * hi:+.1f} %" in line
    assert "retrospective 2000-2004" in table
    # what was sampled is printed with the table
    sampled = next(row for row in table.splitlines() if row.startswith("sampled inputs"))
    assert sampled.endswith(out.attrs["sampled_inputs"]) and "production" in sampled


def test_public_names():
    """``ndsim.ensemble`` is the package; the function has one name, ``run_ensemble``."""
    import ndsim
    import ndsim.api

    assert isinstance(ndsim.ensemble, types.ModuleType) and hasattr(ndsim.ensemble, "__path__")
    assert ndsim.run_ensemble is en.run_ensemble is ndsim.api.run_ensemble


# --- the command line -------------------------------------------------------------------


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    return tiny_scenario(path, "tiny_ensemble")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--draws", "0"], "--draws"),
        (["--draws", "5", "--chunk-size", "0"], "--chunk-size"),
        (["--draws", "5", "--seed", "-3"], "--seed"),
        (["--draws", "5", "--sobol", "1"], "--sobol"),
        (["--draws", "5", "--full", "--codec", "gzip"], "--codec gzip"),
        (["--draws", "5", "--codec", "zstd"], "needs --full"),
    ],
)
def test_cli_bad_options_one_line_exit_2(cli_env, ndsim_cmd, tmp_path, args, message):
    out = tmp_path / "o.nc"
    proc = subprocess.run(
        [*ndsim_cmd, "ensemble", *args, "--output", str(out), "--no-figures"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_cli_interrupted_then_resumed(cli_env, ndsim_cmd, tmp_path, scenario_file):
    out = tmp_path / "o.nc"
    cmd = [
        *ndsim_cmd,
        "ensemble",
        str(scenario_file),
        "--draws",
        "12",
        "--chunk-size",
        "4",
        "--seed",
        "2",
        "--output",
        str(out),
        "--no-figures",
    ]
    env = {**cli_env, "NDSIM_FAULT_AFTER_CHUNK": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "kept 4 of 12 draws" in proc.stderr
    assert "resume with: ndsim ensemble" in proc.stderr and "--resume" in proc.stderr
    assert not out.exists()
    proc = subprocess.run(
        [*cmd, "--resume"], env=cli_env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and "total demand" in proc.stdout
    assert not Path(str(out) + ".partial").exists()
    os.remove(out)


@pytest.mark.slow
def test_full_china_model_per_draw_values_do_not_depend_on_chunk_size(tmp_path):
    """The whole model (accounting, Gompertz forecast, supply) per draw, chunk 2 vs 5 vs 1."""
    from ndsim import api

    inputs, scenario = api.prepare()
    kw = {"draws": 5, "seed": 21, "full": True, "progress": False, "exact_budget": 0}
    outs = {}
    for k in (5, 2):
        path = tmp_path / f"k{k}.nc"
        outs[k] = en.ensemble_from_inputs(inputs, scenario, chunk_size=k, output=path, **kw)
    same_summaries(outs[5], outs[2])
    a, b = draws_group(tmp_path / "k5.nc"), draws_group(tmp_path / "k2.nc")
    assert "supply_gap" in a and a.supply_gap.dims == ("draw", "scenario", "year")
    for name in a.data_vars:
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name
    # the forecast really varies between draws
    assert float(a.total_demand.sel(year=2050).std()) > 0
    # the flow matrices (kept on their edges until the file is written) are those of a
    # one-draw run of draw 3 on its own, with the deterministic run's ownership curves
    from ndsim import pipeline, sampling
    from ndsim.ensemble.plan import deterministic_fits

    fits = deterministic_fits(pipeline.run(inputs, scenario))
    one = pipeline.run(sampling.sample_inputs(inputs, scenario, [3], 21), scenario, fits=fits)
    for name in ("flow", "flow_prior", "flow_sd"):
        ref = one[name].isel(draw=0).transpose(*a[name].dims[1:]).values.astype(np.float32)
        assert np.array_equal(a[name].sel(draw=3).values, ref, equal_nan=True), name
        assert np.count_nonzero(ref) > 22
    # a diagnostic variable asked for by name is computed in the chunks too
    diag = en.ensemble_from_inputs(
        inputs, scenario, draws=3, chunk_size=3, seed=21, progress=False,
        variables=["sales_ratio_first_forecast_year", "stock"],
    )  # fmt: skip
    assert diag["sales_ratio_first_forecast_year"].sel(stat="mean").notnull().any()


@pytest.mark.slow
def test_cli_sigterm_keeps_work_and_prints_resume(cli_env, ndsim_cmd, tmp_path, scenario_file):
    out = tmp_path / "o.nc"
    cmd = [*ndsim_cmd, "ensemble", str(scenario_file), "--draws", "9", "--chunk-size", "3"]
    cmd += ["--output", str(out), "--no-figures"]
    env = {**cli_env, "NDSIM_FAULT_AFTER_CHUNK": "2", "NDSIM_FAULT_SIGNAL": "TERM"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 130, proc.stderr
    assert "kept 6 of 9 draws" in proc.stderr and "--resume" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
    assert (tmp_path / "o.nc.partial" / "state.npz").is_file()


def test_sobol_indices_from_a_saltelli_design(tiny):
    """For this nearly linear model (R2 > 0.99) first-order and total indices both equal the
    squared standardised regression coefficients, up to sampling error; the same bits
    whatever the chunk size."""
    a = run(tiny, draws=2000, chunk_size=500, seed=3, sobol=512)
    b = run(tiny, draws=2000, chunk_size=300, seed=3, sobol=512)
    assert a.sobol_first.dims == ("input", "target")
    assert list(a.sobol_first.input.values) == list(a.sensitivity.input.values)
    np.testing.assert_array_equal(a.sobol_first.values, b.sobol_first.values)
    np.testing.assert_array_equal(a.sobol_total.values, b.sobol_total.values)
    linear = (a.sensitivity_r2 > 0.99).values
    assert linear.sum() >= 2
    src2 = a.sensitivity.values[:, linear]
    np.testing.assert_allclose(a.sobol_total.values[:, linear], src2, atol=0.05)
    np.testing.assert_allclose(a.sobol_first.values[:, linear], src2, atol=0.1)
    assert a.sobol_total.attrs["units"] == "1"
    # bootstrap intervals, stored, chunk-invariant, around the estimates
    assert a.sobol_first_ci.dims == ("bound", "input", "target")
    np.testing.assert_array_equal(a.sobol_total_ci.values, b.sobol_total_ci.values)
    lo, hi = a.sobol_total_ci.sel(bound="q025"), a.sobol_total_ci.sel(bound="q975")
    est = a.sobol_total
    assert bool(((lo <= est) & (est <= hi)).where(est.notnull(), True).all())


def test_cli_warns_below_100_draws(cli_env, ndsim_cmd, tmp_path, scenario_file):
    cmd = [*ndsim_cmd, "ensemble", str(scenario_file), "--no-figures"]
    few = subprocess.run(
        [*cmd, "--draws", "3", "--output", str(tmp_path / "a.nc")],
        env=cli_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert few.returncode == 0, few.stderr
    assert (
        "ndsim: warning: 3 draws: the percentiles of fewer than 100 draws are rough" in few.stderr
    )
    enough = subprocess.run(
        [*cmd, "--draws", "100", "--output", str(tmp_path / "b.nc")],
        env=cli_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert enough.returncode == 0, enough.stderr
    assert "percentiles of fewer than" not in enough.stderr


def test_too_few_draws_leave_the_regression_indices_unidentified(tiny, tmp_path):
    """Fewer draws than inputs + 2: SRCs are NaN, the summary says why, no tornado is drawn;
    with enough draws the adjusted R² and the SRC's standard error follow their formulas."""
    from ndsim.report.figures import tornado

    many = run(tiny, draws=400, chunk_size=400, seed=5)
    n = many.sensitivity_r2.attrs["regression_draws"]
    p = many.sensitivity_r2.attrs["regression_inputs"]
    assert n == 400 and 2 <= p < many.sizes["input"] + 1
    r2 = many.sensitivity_r2.values
    np.testing.assert_allclose(
        many.sensitivity_r2_adjusted.values, 1 - (1 - r2) * (n - 1) / (n - p - 1), rtol=1e-12
    )
    np.testing.assert_allclose(
        many.sensitivity_src_se.values, np.sqrt(np.clip(1 - r2, 0, None) / (n - p - 1))
    )
    few = run(tiny, draws=p + 1, chunk_size=p + 1, seed=5)
    assert few.sensitivity.isnull().all() and few.sensitivity_r2.isnull().all()
    text = en.sensitivity_table(few)
    assert f"not identified: {p + 1} draws of {p} varying inputs" in text
    assert tornado(few, tmp_path) == [] and tornado(many, tmp_path)


def test_resume_command_keeps_the_codec(monkeypatch):
    """The command printed to resume a stopped run repeats --full and --codec."""
    from ndsim.cli import build_parser
    from ndsim.commands.ensemble import _resume_command

    monkeypatch.setattr("sys.argv", ["pytest"])  # not run as `ndsim ensemble ...`
    args = build_parser().parse_args(
        ["ensemble", "--draws", "50", "--full", "--codec", "zstd", "--output", "o.nc"]
    )
    command = _resume_command(args)
    assert command.startswith("ndsim ensemble --draws 50 --seed 0 ")
    assert command.endswith("--output o.nc --full --codec zstd --resume")
    plain = build_parser().parse_args(["ensemble", "--draws", "50", "--output", "o.nc"])
    assert "--codec" not in _resume_command(plain)
