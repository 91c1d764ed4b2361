"""``ndsim run`` as a user types it (subprocesses), and the NetCDF writer."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _canonical import hand_case
from test_report import make_dataset

from ndsim import pipeline
from ndsim.io.writers import write_netcdf
from ndsim.scenario import ForecastOptions, Scenario

TINY = Path(__file__).parent / "data" / "tiny"


def run_cli(cmd, env, *args, cwd=None):
    return subprocess.run(
        [*cmd, "run", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_default_run_writes_netcdf_and_prints_summary(tmp_path, cli_env, ndsim_cmd):
    out = tmp_path / "sub" / "result.nc"
    proc = run_cli(ndsim_cmd, cli_env, "--no-figures", "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"results: {out}" in proc.stdout
    for label in (
        "total mining",
        "unregistered mining",
        "total demand (paper definition)",
        "in-use stock",
        "end-of-life flow",
        "net exports",
    ):
        assert label in proc.stdout
    with xr.open_dataset(out) as ds:
        assert ds.attrs["Conventions"] == "CF-1.11"
        assert len(ds.attrs["dataset_sha256"]) == 64
        assert ds.attrs["schema_version"]
        assert "flow" in ds and "balance_residual" in ds
        first = int(ds.attrs["first_year"])
        # baseline: the history before the first year is in its stock (SPEC §2.2)
        assert (
            ds.attrs["use_stage_history"] == "data" and int(ds.attrs["history_first_year"]) < first
        )
        assert float(ds.stock.sel(year=first).sum()) > float(ds.inflow.sel(year=first).sum())
        assert ds.units_in_use.attrs["units"] == "count"
        assert ds.attrs["schema_version"] == "2.0"
    assert not (tmp_path / "ndsim_output").exists()  # --no-figures, --output elsewhere


def test_bad_scenario_is_one_line_exit_2_and_no_output(tmp_path, cli_env, ndsim_cmd):
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\ntimming = 'end'\n")
    out = tmp_path / "x.nc"
    proc = run_cli(ndsim_cmd, cli_env, str(bad), "--no-figures", "--output", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ndsim: error: bad.toml: key run.timming: unknown key")
    assert "did you mean 'timing'" in lines[0]
    assert not out.exists()


def test_missing_data_folder_is_a_usage_error(tmp_path, cli_env, ndsim_cmd):
    proc = run_cli(
        ndsim_cmd,
        cli_env,
        "--data",
        str(tmp_path / "nope"),
        "--no-figures",
        "--output",
        str(tmp_path / "x.nc"),
    )
    assert proc.returncode == 2
    assert "--data" in proc.stderr and "no such folder" in proc.stderr
    assert not (tmp_path / "x.nc").exists()


@pytest.mark.slow
def test_tiny_data_set_through_the_command_line(tmp_path, cli_env, ndsim_cmd):
    sc = tmp_path / "tiny.toml"
    sc.write_text(f'name = "tiny"\ndata = "{TINY.as_posix()}"\n[forecast]\nenabled = false\n')
    out = tmp_path / "tiny.nc"
    proc = run_cli(ndsim_cmd, cli_env, str(sc), "--no-figures", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    with xr.open_dataset(out) as ds:
        assert ds.attrs["scenario"] == "tiny"
        assert ds.attrs["scenario_file"] == "tiny.toml"


# --- the writer ----------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    return pipeline.run(
        hand_case(), dataclasses.replace(Scenario(), forecast=ForecastOptions(enabled=False))
    )


def test_netcdf_round_trip_keeps_values_and_attributes(tmp_path, result):
    path = write_netcdf(result, tmp_path / "r.nc")
    with xr.open_dataset(path) as back:
        for name in result.data_vars:
            np.testing.assert_array_equal(back[name].values, result[name].values, err_msg=name)
            assert back[name].attrs["units"] == result[name].attrs["units"]
            assert back[name].attrs["description"] == result[name].attrs["description"]
        assert back["in_total_demand"].dtype == bool
        assert list(back["category"].values) == list(result["category"].values)
        for key in (
            "Conventions",
            "title",
            "history",
            "ndsim_version",
            "schema_version",
            "scenario_file",
            "scenario_sha256",
            "dataset_sha256",
            "seed",
            "draws",
            "lifetime_timing",
            "creation_time",
        ):
            assert key in back.attrs, key
        # the title names the data set: its title, else its name
        inputs = hand_case()
        named = inputs.attrs.get("title", inputs.attrs.get("name", "data set"))
        assert back.attrs["title"] == f"ndsim results: {named}"


def test_writer_is_atomic(tmp_path, result, monkeypatch):
    target = tmp_path / "r.nc"
    target.write_text("previous")
    monkeypatch.setenv("NDSIM_FAULT_BEFORE_RENAME", "1")
    with pytest.raises(OSError, match="No space left"):
        write_netcdf(result, target)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["r.nc"]


def test_first_run_says_it_is_compiling(tmp_path, cli_env, ndsim_cmd):
    """An empty numba cache: one line says the kernels compile; the warm run says nothing."""
    sc = tmp_path / "tiny.toml"
    sc.write_text(f'data = "{TINY.as_posix()}"\n[forecast]\nenabled = false\n')
    cold = {**cli_env, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    cold.pop("NDSIM_NO_PROGRESS", None)  # the line is a progress message
    args = [*ndsim_cmd, "run", str(sc), "--no-figures", "--output", str(tmp_path / "a.nc")]
    first = subprocess.run(args, env=cold, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "ndsim: compiling the numba kernels (first run only" in first.stderr
    second = subprocess.run(args, env=cold, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "compiling" not in second.stderr


# --- one run owns its outputs ---------------------------------------------------------
def _tiny_scenario(tmp_path: Path) -> Path:
    sc = tmp_path / "tiny.toml"
    sc.write_text(f'name = "tiny"\ndata = "{TINY.as_posix()}"\n[forecast]\nenabled = false\n')
    return sc


def _run_with_lock(tmp_path, cli_env, ndsim_cmd, pid: int):
    """Run tiny into x.nc while x.nc.lock names `pid` on this host."""
    import socket

    out, lock = tmp_path / "x.nc", tmp_path / "x.nc.lock"
    lock.write_text(f"{pid} {socket.gethostname()}\n")
    proc = run_cli(
        ndsim_cmd, cli_env, str(_tiny_scenario(tmp_path)), "--no-figures", "--output", str(out)
    )
    return proc, out, lock


def test_a_run_aimed_at_a_locked_output_is_refused_in_one_line(tmp_path, cli_env, ndsim_cmd):
    """A live process (this test) holds x.nc.lock: the run stops before computing, exit 2."""
    import os

    proc, out, lock = _run_with_lock(tmp_path, cli_env, ndsim_cmd, os.getpid())
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "another ndsim run" in lines[0] and str(lock) in lines[0]
    assert not out.exists() and lock.exists()  # the other run's lock is left alone


def test_a_lock_left_by_a_dead_run_does_not_block(tmp_path, cli_env, ndsim_cmd):
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    proc, out, lock = _run_with_lock(tmp_path, cli_env, ndsim_cmd, int(dead.stdout))
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and not lock.exists()  # taken over, then released


def test_each_scenario_writes_to_its_own_folder(tmp_path, cli_env, ndsim_cmd):
    proc = run_cli(ndsim_cmd, cli_env, str(_tiny_scenario(tmp_path)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "ndsim_output" / "tiny"
    assert (folder / "tiny.nc").exists()
    assert (folder / "figures" / "sankey_2000.png").exists()
    assert not list(folder.glob("*.lock")) and not list((tmp_path / "ndsim_output").glob("*.lock"))


def test_figures_follow_an_output_file_given_elsewhere(tmp_path, cli_env, ndsim_cmd):
    """``--output DIR/X.nc`` without ``--figures``: the figures go to DIR/figures, not ndsim_output."""
    out = tmp_path / "results" / "x.nc"
    proc = run_cli(
        ndsim_cmd, cli_env, str(_tiny_scenario(tmp_path)), "--output", str(out), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and (out.parent / "figures" / "sankey_2000.png").exists()
    assert not (tmp_path / "ndsim_output").exists()


def test_the_summary_reports_clipped_declines_when_present():
    from ndsim.commands.run import _clipped_decline

    years = np.arange(2015, 2031)
    v = np.zeros((2, years.size))
    v[1, (years >= 2024) & (years <= 2026)] = [5.0, 12.0, 3.0]
    ds = xr.Dataset(
        {"unmet_fleet_decline": (("product", "year"), v)},
        coords={"product": ["AC", "DC"], "year": years},
    )
    text = _clipped_decline(ds, 2017, 2030)
    assert "DC: 3 year(s) 2024-2026, at most 12 units above the target" in text
    assert "AC" not in text
    assert (
        _clipped_decline(ds.assign(unmet_fleet_decline=ds.unmet_fleet_decline * 0), 2017, 2030)
        == ""
    )


def _access_as_a_user(path, mode, **kwargs):
    """``os.access`` as a non-root user sees it: the owner's mode bits decide (root ignores them)."""
    bits = os.stat(path).st_mode
    want = {os.R_OK: 0o400, os.W_OK: 0o200, os.X_OK: 0o100}
    return all(bits & b for m, b in want.items() if mode & m)


@pytest.mark.parametrize(
    ("command", "flag", "target"),
    [
        ("run", "--output", "x.nc"),
        ("run", "--figures", "figs"),
        ("ensemble", "--output", "e.nc"),
        ("export", "--csv", "csv"),
        ("plot", "--out", "figs"),
    ],
)
def test_every_command_aimed_at_a_read_only_folder_is_one_line(
    tmp_path, cli_env, ndsim_cmd, monkeypatch, capsys, command, flag, target
):
    """A read-only folder stops every command before it computes: one line, exit 2, nothing written.

    A user other than root runs the command line in a subprocess; root ignores
    a folder's mode, so there the command runs in-process with ``os.access``
    answering as a user would.
    """
    nc = tmp_path / "run.nc"
    if command in ("export", "plot"):
        make_dataset().to_netcdf(nc)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    args = {"ensemble": ["--draws", "10"], "export": [str(nc)], "plot": [str(nc)]}.get(command, [])
    if flag == "--figures":
        args = ["--output", str(tmp_path / "elsewhere.nc")]
    argv = [command, *args, flag, str(locked / target)]
    try:
        if os.geteuid() != 0:
            res = subprocess.run(
                [*ndsim_cmd, *argv], env=cli_env, cwd=tmp_path, capture_output=True, text=True,
                timeout=600,
            )  # fmt: skip
            code, err = res.returncode, res.stderr
        else:
            from ndsim import cli

            monkeypatch.chdir(tmp_path)
            monkeypatch.setattr(os, "access", _access_as_a_user)
            code = cli.main(argv)
            err = capsys.readouterr().err
        assert code == 2, err
        assert (
            err.strip()
            == f"ndsim: error: {flag} {locked / target}: no permission to write in {locked}"
        )
        assert "Traceback" not in err
        assert list(locked.iterdir()) == []
        assert not (tmp_path / "elsewhere.nc").exists()
    finally:
        locked.chmod(0o755)
