"""The shape of ndsim.ensemble: a package, one executor protocol, one function that runs draws."""

from __future__ import annotations

import dataclasses
import re
import types
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import ndsim
from ndsim.ensemble import draws, executors
from ndsim.ensemble.executors import Executor

PACKAGE = Path(ndsim.__file__).parent
TINY = Path(__file__).parent / "data" / "tiny"


def _sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


@pytest.fixture(scope="module")
def tiny():
    from ndsim.io.readers import load_dataset
    from ndsim.scenario import ForecastOptions, Scenario

    scenario = dataclasses.replace(
        Scenario(), name="tiny", forecast=ForecastOptions(enabled=False), sha256="0" * 64
    )
    return load_dataset(TINY), scenario


def test_ensemble_is_a_package_and_not_callable():
    import ndsim.ensemble

    assert isinstance(ndsim.ensemble, types.ModuleType)
    assert hasattr(ndsim.ensemble, "__path__")  # a package
    assert type(ndsim.ensemble) is types.ModuleType  # no module-class swap
    assert not callable(ndsim.ensemble)
    assert ndsim.run_ensemble is ndsim.ensemble.run_ensemble


def test_no_module_imports_the_public_facade():
    """ndsim.api re-exports; ndsim's own modules import from where functions live."""
    pattern = re.compile(
        r"^\s*(from\s+ndsim\s+import\s+[^#\n]*\bapi\b|import\s+ndsim\.api\b|from\s+ndsim\.api\s+import)",
        re.MULTILINE,
    )
    offenders = [
        str(path.relative_to(PACKAGE))
        for path, text in _sources().items()
        if path.name != "api.py" and pattern.search(text)
    ]
    assert offenders == []
    init = (PACKAGE / "__init__.py").read_text(encoding="utf-8")
    assert "import ndsim.api" not in init and "from ndsim.api" not in init  # lazy table only


def test_no_hasattr_dispatch_on_executors():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path, text in _sources().items()
        if "hasattr(executor" in text or "isinstance(executor" in text
    ]
    assert offenders == []


def test_the_draws_writer_lives_with_the_writers():
    ensemble = [p for p in _sources() if p.parent.name == "ensemble"]
    assert ensemble and not any("netCDF4" in p.read_text(encoding="utf-8") for p in ensemble)


def _tiny_plan(tiny, *, seed: int, n: int, full: bool):
    """The plan of an ensemble of the tiny case (exact percentiles)."""
    from ndsim import pipeline
    from ndsim.ensemble.plan import make_plan

    inputs, scenario = tiny
    det = draws.run_draws(inputs, scenario, None, model=pipeline.run, fits=None)
    return make_plan(
        inputs, scenario, det, seed=seed, draws=n, exact_budget=10**9, full=full,
        model=pipeline.run, shipped=False,
    )  # fmt: skip


def test_every_executor_is_an_executor(tiny):
    plan = _tiny_plan(tiny, seed=0, n=4, full=False)
    local = executors.InProcessExecutor(plan)
    pool = executors.PoolExecutor(plan, 1)
    try:
        assert isinstance(local, Executor) and isinstance(pool, Executor)
    finally:
        pool.close()
    assert not isinstance(object(), Executor)


def test_pool_workers_start_with_the_kernels_of_a_chunk_loaded(tiny):
    """Forked from a fork server that loaded them: before any chunk, not by each worker."""
    from ndsim.ensemble import workers

    plan = _tiny_plan(tiny, seed=0, n=4, full=False)
    pool = executors.PoolExecutor(plan, 2)
    try:
        loaded = pool.map(workers.loaded_kernels, [(), ()])
    finally:
        pool.close()
    # the pair kernel (a chunk's units and Nd) and the pdf: no worker set-up step loads them
    for names in loaded:
        assert {"inflow_driven_pair_params", "pdf_params", "stock_driven_params"} <= set(names)


def test_fits_are_an_argument_of_run_draws():
    """run_draws hands the fits to the model as an argument; None lets the model fit its own."""
    inputs = xr.Dataset({"x": ("product", [1.0, 2.0])}, coords={"product": ["A", "B"]})
    fits = {"A": "the curve of A"}
    seen = []

    def model(ins, scenario, fits=None):
        seen.append((fits, sorted(ins.data_vars)))
        return xr.Dataset({"y": ((), 1.0)})

    draws.run_draws(inputs, None, None, model=model, fits=fits)
    draws.run_draws(inputs, None, None, model=model, fits=None)
    assert seen == [(fits, ["x"]), (None, ["x"])]  # never inside the inputs


def test_run_draws_lets_the_factors_go_before_the_model_runs():
    """The factors are as large as the sampled inputs: the model must not run with both held."""
    inputs = xr.Dataset({"x": ("product", [1.0, 2.0])}, coords={"product": ["A", "B"]})
    factors = {"x": xr.DataArray([[2.0, 3.0]], dims=("draw", "product"))}
    seen = []

    def model(ins, scenario, fits=None):
        seen.append((dict(factors), ins["x"].transpose("draw", "product").values.tolist()))
        return xr.Dataset({"y": ((), 1.0)})

    draws.run_draws(inputs, None, factors, model=model, fits=None)
    assert seen == [({}, [[2.0, 6.0]])]  # scaled by hand: 1 x 2, 2 x 3


def test_every_path_runs_draws_through_one_function(tiny, monkeypatch):
    """Deterministic run, pilot, chunks and the Saltelli design all call run_draws."""
    import ndsim.ensemble.core as core

    monkeypatch.setenv("NDSIM_WORKERS", "1")
    calls = []
    original = draws.run_draws

    def spy(inputs, scenario, factors, *, model, fits):
        n = 0 if factors is None else factors.draws.size
        calls.append((factors is None, n))
        assert "gompertz_alpha" not in inputs  # the fits never travel inside the inputs
        return original(inputs, scenario, factors, model=model, fits=fits)

    monkeypatch.setattr(draws, "run_draws", spy)
    monkeypatch.setattr(core, "run_draws", spy)
    inputs, scenario = tiny
    out = ndsim.ensemble.ensemble_from_inputs(
        inputs, scenario, draws=6, chunk_size=3, seed=2, progress=False, exact_budget=0, sobol=2
    )
    assert calls[0] == (True, 0)  # the deterministic run
    sampled = [n for det, n in calls[1:] if not det]
    assert len(sampled) == len(calls) - 1 >= 4  # pilot, two chunks, the design
    assert "sobol_first" in out and "stock" in out


def test_plan_holds_the_fits_of_the_deterministic_run():
    """The plan's fits are the deterministic run's curves, rebuilt from its fit variables."""
    from ndsim import pipeline
    from ndsim.ensemble.plan import deterministic_fits
    from ndsim.inputs import prepare

    inputs, scenario = prepare("baseline")
    det = pipeline.run(inputs, scenario)
    fits = deterministic_fits(det)
    assert fits is not None and fits
    for fit in fits.values():
        lead = fit.members[0]
        assert fit.saturation == float(det["gompertz_saturation"].sel(product=lead))
    assert deterministic_fits(det[["stock"]]) is None
    again = pipeline.run(inputs, scenario, fits=fits)  # the same curves: the same run
    np.testing.assert_array_equal(again["stock"].values, det["stock"].values)


def test_a_chunk_stages_its_own_draws_where_told(tiny, tmp_path):
    """With a folder, a chunk writes the draws it would send back there, and sends none."""
    from ndsim.ensemble import checkpoint

    plan = _tiny_plan(tiny, seed=3, n=9, full=True)
    sidecar = checkpoint.Sidecar(tmp_path / "out.nc")
    sidecar.dir.mkdir()
    sent = draws.chunk_task(plan, 4, 9)
    kept = draws.chunk_task(plan, 4, 9, keep=str(sidecar.dir))
    assert sent.full and sent.staged is None
    assert kept.full is None and kept.staged is not None
    # staged: a temporary folder until the chunk is merged, then the kept chunk
    assert [p.name for p in sidecar.dir.iterdir()] == [Path(kept.staged).name]
    assert Path(kept.staged).name.startswith(".") and kept.staged.endswith(".tmp")
    sidecar.keep_staged(4, kept.staged)
    assert [p.name for p in sidecar.dir.iterdir()] == [sidecar.chunk_path(4).name]
    data = sidecar.load_chunk(4)
    assert sorted(data) == sorted(sent.full)
    for name, values in sent.full.items():
        assert data[name].dtype == values.dtype
        np.testing.assert_array_equal(data[name], values)
    # the reduction is the same either way
    np.testing.assert_array_equal(kept.partial.vmin, sent.partial.vmin)


def test_a_staged_chunk_is_written_an_array_at_a_time(tmp_path):
    """Arrays given one at a time are written and let go before the next is made."""
    import gc
    import weakref

    from ndsim.ensemble import checkpoint

    alive: list[weakref.ref] = []

    def arrays():
        for k in range(3):
            gc.collect()
            assert all(ref() is None for ref in alive), k  # the earlier ones are gone
            values = np.full((4, 5), float(k), dtype=np.float32)
            alive.append(weakref.ref(values))
            yield f"v{k}", values
            del values

    staged = Path(checkpoint.stage_chunk(tmp_path, 0, arrays()))
    assert len(alive) == 3
    # a .npy file per array, as numpy.save writes it, read back by numpy.load
    assert sorted(p.name for p in staged.iterdir()) == ["v0.npy", "v1.npy", "v2.npy"]
    for k in range(3):
        values = np.load(staged / f"v{k}.npy")
        assert values.dtype == np.float32
        np.testing.assert_array_equal(values, np.full((4, 5), float(k)))
    data = checkpoint.KeptChunk(staged)  # the same, as a kept chunk maps them
    assert list(data) == ["v0", "v1", "v2"] and len(data) == 3
    np.testing.assert_array_equal(data["v2"], np.full((4, 5), 2.0))
    with pytest.raises(KeyError):
        data["v3"]


def test_only_workers_on_this_machine_keep_their_draws(tiny):
    """A scheduler's workers may be elsewhere: their draws come back with the result."""
    remote = object.__new__(executors.DistributedExecutor)
    remote.cluster = None  # connected to a scheduler, not a cluster ndsim started
    remote.set_keep("folder")
    assert remote.keep is None
    started = object.__new__(executors.DistributedExecutor)
    started.cluster = object()
    started.set_keep("folder")
    assert started.keep == "folder"


def test_unfinished_chunk_files_are_removed(tmp_path):
    from ndsim.ensemble import checkpoint

    sidecar = checkpoint.Sidecar(tmp_path / "out.nc")
    sidecar.dir.mkdir()
    sidecar.save_chunk(0, {"a": np.arange(3.0)})
    checkpoint.stage_chunk(sidecar.dir, 1000, {"a": np.arange(2.0)})  # never merged
    (sidecar.dir / ".draws_000000002000.123.tmp").write_bytes(b"half")  # an older stage
    sidecar.remove_unfinished()
    assert [p.name for p in sidecar.dir.iterdir()] == ["draws_000000000000"]
    np.testing.assert_array_equal(sidecar.load_chunk(0)["a"], [0.0, 1.0, 2.0])


def test_draws_kept_by_an_earlier_version_are_not_resumed(tmp_path):
    """Chunks kept as .npz archives (before kept chunks were folders) stop --resume in one
    line that names the folder; a folder with no chunks resumes."""
    from ndsim.ensemble import checkpoint
    from ndsim.errors import UsageError

    manifest = {"seed": 1, "draws": 8}
    sidecar = checkpoint.Sidecar(tmp_path / "out.nc")
    sidecar.start(manifest)
    assert checkpoint.open_sidecar(tmp_path / "out.nc", manifest, True)[1:] == (None, None)
    (sidecar.dir / "draws_000000000000.npz").write_bytes(b"PK")
    with pytest.raises(UsageError, match="earlier version of ndsim") as err:
        checkpoint.open_sidecar(tmp_path / "out.nc", manifest, True)
    assert str(sidecar.dir) in str(err.value) and "\n" not in str(err.value)
