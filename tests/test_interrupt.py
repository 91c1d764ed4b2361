"""Nothing lost, nothing half-written: atomic outputs of ``ndsim run`` and interrupted ensembles.

Faults are injected deterministically, never by timing:

- ``NDSIM_FAULT_BEFORE_RENAME`` (a file-name pattern) makes the atomic write
  of matching targets fail as a full disk would, after the temporary file is
  complete and before it replaces the target;
- a model wrapper sends SIGINT or SIGTERM to the test process, or kills the
  worker process, when the chunk starting at a given draw begins: every
  earlier chunk is finished, that one is not.

tests/test_ensemble.py covers a full disk after chunk k, SIGTERM through the
command line and the refusals of ``--resume`` through the API; here: Ctrl-C
(what is printed, how to resume, the resumed result bit for bit), SIGTERM in
process, a killed worker, a full disk at the final write, and a refusal of
``--resume`` through the command line.
"""

from __future__ import annotations

import io
import os
import signal
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _canonical import TINY, tiny_scenario

import ndsim.ensemble as en
from ndsim import cli, pipeline
from ndsim.ensemble import executors

MAIN_PID = os.getpid()


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def _leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes (``.NAME.XXXX.tmp``) left anywhere below ``folder``."""
    return [p.name for p in folder.rglob(".*.tmp")]


@pytest.fixture
def scenario(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    return tiny_scenario(path, "tiny_interrupt")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("NDSIM_NO_PROGRESS", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("NDSIM_FAULT_BEFORE_RENAME", raising=False)
    monkeypatch.delenv("NDSIM_FAULT_AFTER_CHUNK", raising=False)


def stop_at_chunk(start: int, action):
    """pipeline.run, but ``action()`` when the chunk of draws beginning at ``start`` begins."""
    real = pipeline.run

    def model(inputs, scenario, **options):
        if "draw" in inputs.dims and int(inputs["draw"].values[0]) == start:
            action()
        return real(inputs, scenario, **options)

    return model


def killer(flag: Path | None = None):
    """An action that kills the worker process it runs in (as the out-of-memory killer
    would), never this one; with ``flag``, only the first time (then the file exists)."""

    def kill():
        if os.getpid() != MAIN_PID and (flag is None or not flag.exists()):
            if flag is not None:
                flag.write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)

    return kill


def _draws(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, group="draws") as ds:
        return ds.load()


def _same_file_values(a: Path, b: Path) -> None:
    """Per-draw values and summaries of two ensemble files are identical (NaN equal to NaN)."""
    da, db = _draws(a), _draws(b)
    assert set(da.data_vars) == set(db.data_vars)
    for name in da.data_vars:
        assert np.array_equal(da[name].values, db[name].values, equal_nan=True), name
    with xr.open_dataset(a) as sa, xr.open_dataset(b) as sb:
        for name in sa.data_vars:
            assert np.array_equal(sa[name].values, sb[name].values, equal_nan=True), name


# --- ndsim run: every output is absent or the previous complete file -----------------


def test_run_netcdf_write_fails_previous_file_kept(tmp_path, scenario, monkeypatch):
    out = tmp_path / "res" / "r.nc"
    out.parent.mkdir()
    out.write_bytes(b"previous complete file")
    monkeypatch.setenv("NDSIM_FAULT_BEFORE_RENAME", "*.nc")
    code, stdout, stderr = _cli(["run", str(scenario), "--output", str(out), "--no-figures"])
    assert code == 1
    assert stderr.strip().splitlines() == [
        f"ndsim: error: cannot write {out}: No space left on device (injected fault) "
        "(no partial file left behind)"
    ]
    assert out.read_bytes() == b"previous complete file"
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.nc"]
    # and with no previous file, the target stays absent
    code, _, _ = _cli(["run", str(scenario), "--output", str(tmp_path / "new.nc"), "--no-figures"])
    assert code == 1 and not (tmp_path / "new.nc").exists() and not _leftovers(tmp_path)


def test_run_figure_write_fails_previous_figure_kept(tmp_path, scenario, monkeypatch):
    out = tmp_path / "r.nc"
    figures = tmp_path / "figures"
    figures.mkdir()
    previous = figures / "demand_by_product.png"
    previous.write_bytes(b"previous figure")
    monkeypatch.setenv("NDSIM_FAULT_BEFORE_RENAME", "*.png")
    code, _, stderr = _cli(["run", str(scenario), "--output", str(out), "--figures", str(figures)])
    assert code == 1, stderr
    assert "No space left on device" in stderr and "Traceback" not in stderr
    # the NetCDF file was written before the figures, complete
    with xr.open_dataset(out) as ds:
        assert "stock" in ds and ds.attrs["scenario"] == "tiny_interrupt"
    # no figure replaced, none half-written
    assert previous.read_bytes() == b"previous figure"
    assert [p.name for p in figures.glob("*.png")] == ["demand_by_product.png"]
    assert not _leftovers(tmp_path)


# --- interrupted ensembles ----------------------------------------------------------


ENSEMBLE = ["--draws", "12", "--chunk-size", "4", "--seed", "3", "--full", "--no-figures"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted ensemble, the result every resumed run must equal bit for bit."""
    folder = tmp_path_factory.mktemp("reference")
    scenario = folder / "tiny.toml"
    tiny_scenario(scenario, "tiny_interrupt")
    out = folder / "ref.nc"
    env = {"NDSIM_NO_PROGRESS": "1", "NDSIM_WORKERS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        code, _, stderr = _cli(["ensemble", str(scenario), *ENSEMBLE, "--output", str(out)])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert code == 0, stderr
    return out


def test_ctrl_c_keeps_chunks_prints_resume_and_resumes_bit_for_bit(
    tmp_path, scenario, reference, monkeypatch
):
    monkeypatch.setenv("NDSIM_WORKERS", "1")
    out = tmp_path / "e.nc"
    args = ["ensemble", str(scenario), *ENSEMBLE, "--output", str(out)]
    monkeypatch.setattr(
        pipeline, "run", stop_at_chunk(8, lambda: os.kill(os.getpid(), signal.SIGINT))
    )
    code, _, stderr = _cli(args)
    assert code == 130, stderr
    lines = stderr.strip().splitlines()
    assert f"ndsim: kept 8 of 12 draws (2 chunks) in {out}.partial" in lines
    resume = [line for line in lines if line.startswith("ndsim: resume with: ")]
    assert len(resume) == 1 and resume[0].endswith("--resume")
    assert f"--output {out}" in resume[0] and "--seed 3" in resume[0]
    assert "--chunk-size 4" in resume[0]
    assert "Traceback" not in stderr
    assert not out.exists()
    partial = Path(f"{out}.partial")
    assert sorted(p.name for p in partial.glob("draws_*")) == [
        "draws_000000000000",
        "draws_000000000004",
    ]
    monkeypatch.undo()
    monkeypatch.setenv("NDSIM_WORKERS", "1")
    monkeypatch.setenv("NDSIM_NO_PROGRESS", "1")
    # a changed option is refused through the command line: one line, exit 2
    changed = [a if a != "3" else "4" for a in args]
    code, _, stderr = _cli([*changed, "--resume"])
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and "--resume: --seed changed" in stderr
    # the command printed resumes; only the missing chunk is computed
    computed = []
    real = pipeline.run

    def counting(inputs, scenario, **options):
        if "draw" in inputs.dims:
            computed.append(int(inputs["draw"].values[0]))
        return real(inputs, scenario, **options)

    monkeypatch.setattr(pipeline, "run", counting)
    code, stdout, stderr = _cli([*args, "--resume"])
    assert code == 0, stderr
    assert computed == [8]
    assert not partial.exists()
    _same_file_values(out, reference)


def test_sigterm_in_process_keeps_finished_chunks(tmp_path, monkeypatch):
    from ndsim.io.readers import load_dataset
    from ndsim.scenario import load_scenario

    monkeypatch.setenv("NDSIM_WORKERS", "1")
    path = tiny_scenario(tmp_path / "tiny.toml", "tiny_interrupt")
    sc = load_scenario(path)
    inputs = load_dataset(TINY)
    out = tmp_path / "t.nc"
    kill = stop_at_chunk(4, lambda: os.kill(os.getpid(), signal.SIGTERM))
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as info:
        en.ensemble_from_inputs(
            inputs, sc, draws=12, chunk_size=4, seed=3, output=out, progress=False, model=kill
        )
    assert info.value.ndsim_kept[:2] == (4, 12)
    assert signal.getsignal(signal.SIGTERM) == handler  # the previous handler is back
    assert (Path(f"{out}.partial") / "state.npz").is_file() and not out.exists()


def test_full_disk_at_the_final_write_then_resume(tmp_path, scenario, reference, monkeypatch):
    monkeypatch.setenv("NDSIM_WORKERS", "1")
    out = tmp_path / "e.nc"
    out.write_bytes(b"previous complete file")
    args = ["ensemble", str(scenario), *ENSEMBLE, "--output", str(out)]
    monkeypatch.setenv("NDSIM_FAULT_BEFORE_RENAME", "e.nc")
    code, _, stderr = _cli(args)
    assert code == 1, stderr
    assert "No space left on device" in stderr and "Traceback" not in stderr
    assert out.read_bytes() == b"previous complete file"
    assert Path(f"{out}.partial").is_dir() and not _leftovers(tmp_path)
    # the merged summaries are kept too, and the user is told so and how to resume
    assert (Path(f"{out}.partial") / "state.npz").is_file()
    kept = [line for line in stderr.splitlines() if line.startswith("ndsim: kept ")]
    assert kept == [f"ndsim: kept all 12 draws (the merged summaries, every draw) in {out}.partial"]
    assert "ndsim: resume with: " in stderr and "--resume" in stderr
    monkeypatch.delenv("NDSIM_FAULT_BEFORE_RENAME")
    # the resumed run only writes: no draw runs again
    real = pipeline.run

    def deterministic_only(inputs, scenario):
        assert "draw" not in inputs.dims, "a draw ran again"
        return real(inputs, scenario)

    monkeypatch.setattr(pipeline, "run", deterministic_only)
    code, _, stderr = _cli([*args, "--resume"])
    assert code == 0, stderr
    _same_file_values(out, reference)


def test_killed_worker_keeps_finished_chunks_and_resumes(
    tmp_path, scenario, reference, monkeypatch
):
    """A worker process killed (as by the out-of-memory killer) while running the chunk at draw 4."""

    monkeypatch.setenv("NDSIM_WORKERS", "2")
    monkeypatch.setattr(pipeline, "run", stop_at_chunk(4, killer()))
    out = tmp_path / "e.nc"
    args = ["ensemble", str(scenario), *ENSEMBLE, "--output", str(out)]
    code, _, stderr = _cli(args)
    assert code == 1, stderr
    assert "Traceback" not in stderr
    assert "ndsim: error: the run stopped" in stderr
    assert "ndsim: resume with: " in stderr and not out.exists()
    kept = [line for line in stderr.splitlines() if line.startswith("ndsim: kept ")]
    assert len(kept) == 1
    done = int(kept[0].split()[2])
    assert done in (0, 4)  # chunk 0 may or may not have finished on the other worker
    monkeypatch.undo()
    monkeypatch.setenv("NDSIM_WORKERS", "1")
    monkeypatch.setenv("NDSIM_NO_PROGRESS", "1")
    code, _, stderr = _cli([*args, "--resume"])
    assert code == 0, stderr
    _same_file_values(out, reference)


def test_worker_killed_once_the_chunks_run_again_on_a_fresh_pool(
    tmp_path, scenario, reference, monkeypatch
):
    """A worker killed once: the run continues on a fresh pool and equals the reference."""
    flag = tmp_path / "killed_once"

    monkeypatch.setenv("NDSIM_WORKERS", "2")
    monkeypatch.setattr(pipeline, "run", stop_at_chunk(4, killer(flag)))
    out = tmp_path / "e.nc"
    code, _, stderr = _cli(["ensemble", str(scenario), *ENSEMBLE, "--output", str(out)])
    assert code == 0, stderr
    assert flag.exists() and "run again on a fresh pool" in stderr
    assert not Path(f"{out}.partial").exists()
    _same_file_values(out, reference)


def _tiny_inputs():
    import dataclasses

    from ndsim.io.readers import load_dataset
    from ndsim.scenario import ForecastOptions, Scenario

    scenario = dataclasses.replace(
        Scenario(), name="tiny", forecast=ForecastOptions(enabled=False), sha256="0" * 64
    )
    return load_dataset(TINY), scenario


def test_worker_killed_in_the_pilot_the_pilot_runs_again_on_a_fresh_pool(
    tmp_path, monkeypatch, capsys
):
    """Histogram summaries (the pilot runs first): a worker killed once in the pilot."""
    inputs, scenario = _tiny_inputs()
    kw = {"draws": 12, "chunk_size": 4, "seed": 3, "progress": False, "exact_budget": 0}
    monkeypatch.setenv("NDSIM_WORKERS", "1")
    expected = en.ensemble_from_inputs(inputs, scenario, output=tmp_path / "ref.nc", **kw)
    flag = tmp_path / "killed_once"

    monkeypatch.setenv("NDSIM_WORKERS", "2")
    monkeypatch.setattr(pipeline, "run", stop_at_chunk(0, killer(flag)))
    capsys.readouterr()
    got = en.ensemble_from_inputs(inputs, scenario, output=tmp_path / "e.nc", **kw)
    assert flag.exists()  # the first draws ran in a worker first: the pilot's
    assert "the pilot runs again on a fresh pool" in capsys.readouterr().err
    assert set(got.data_vars) == set(expected.data_vars)
    for name in expected.data_vars:
        assert np.array_equal(got[name].values, expected[name].values, equal_nan=True), name


def test_a_dead_worker_before_any_chunk_is_kept_is_one_line(tmp_path, scenario, monkeypatch):
    """Every worker of the pilot's fresh pool died too: one line, exit code 1, no traceback."""
    from concurrent.futures.process import BrokenProcessPool

    import ndsim.ensemble

    def dies(*args, **kwargs):
        raise BrokenProcessPool("every worker process of the pool has exited (exit codes [-9])")

    monkeypatch.setattr(ndsim.ensemble, "ensemble_from_inputs", dies)
    out = tmp_path / "e.nc"
    code, _, stderr = _cli(["ensemble", str(scenario), *ENSEMBLE, "--output", str(out)])
    assert code == 1
    assert "Traceback" not in stderr and "resume with" not in stderr
    assert stderr.splitlines()[-1] == (
        "ndsim: error: the run stopped (BrokenProcessPool: every worker process of the pool "
        "has exited (exit codes [-9]))"
    )
    assert not out.exists()


def test_wait_raises_when_no_worker_is_alive(monkeypatch):
    """The parent never waits forever on a pool whose workers are all gone."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    class Dead:
        exitcode = -9

        def is_alive(self):
            return False

    executor = executors.PoolExecutor.__new__(executors.PoolExecutor)
    executor.pool = type("Pool", (), {"_processes": {1: Dead(), 2: Dead()}})()
    monkeypatch.setattr(executors, "WAIT_POLL", 0.01)
    monkeypatch.setattr(executors, "DEAD_POOL_GRACE", 0.05)
    with pytest.raises(BrokenProcessPool, match=r"exit codes \[-9\]"):
        executor.wait(Future())  # a future no worker will ever complete


def test_local_cluster_workers_log_errors_only(monkeypatch):
    """Interrupting a --workers run cancels the workers' tasks; their "task cancelled"
    warnings must not follow ndsim's one-line resume message (issue: stray log lines)."""
    import logging

    import distributed

    seen = {}

    class FakeCluster:
        def __init__(self, **kw):
            seen.update(kw)

        def close(self):
            pass

    class FakeClient:
        def __init__(self, *a, **k):
            pass

        def scheduler_info(self):
            return {"workers": {"a": 1, "b": 2}}

        def scatter(self, items, broadcast=False):
            return list(items)

        def run(self, fn, *args, **kwargs):
            return {}

        def close(self):
            pass

    monkeypatch.setattr(distributed, "LocalCluster", FakeCluster)
    monkeypatch.setattr(distributed, "Client", FakeClient)
    ex = executors.DistributedExecutor(object(), workers=2, scheduler=None)
    assert seen["silence_logs"] == logging.ERROR and ex.n_workers == 2
    ex.close()
