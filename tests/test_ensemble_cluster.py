"""Processes that run chunks: malloc only where ndsim started them, kernel threads, warm-up,
the version check of a ``--scheduler`` cluster, and ``--dashboard``."""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from _canonical import TINY, tiny_scenario

from ndsim import cli
from ndsim.ensemble import ensemble_from_inputs, executors, workers
from ndsim.ensemble.executors import Executor
from ndsim.errors import UsageError


@pytest.fixture(scope="module")
def external_scheduler():
    """A dask cluster ndsim did not start: its one worker (2 threads) lives in this process."""
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def tiny():
    from ndsim.io.readers import load_dataset
    from ndsim.scenario import ForecastOptions, Scenario

    scenario = dataclasses.replace(
        Scenario(), name="tiny", forecast=ForecastOptions(enabled=False), sha256="0" * 64
    )
    return load_dataset(TINY), scenario


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    return tiny_scenario(path, "tiny_cluster")


@pytest.fixture
def record(monkeypatch):
    """Calls of the worker set-up steps made in this process."""
    calls = []
    for name in ("reuse_freed_memory", "no_hugepage_advice", "warm_kernels"):
        original = getattr(workers, name)

        def spy(*a, _name=name, _original=original, **k):
            calls.append(_name)
            return _original(*a, **k) if _name == "warm_kernels" else False

        monkeypatch.setattr(workers, name, spy)
    monkeypatch.setenv("NDSIM_NUM_THREADS", "5")  # restored after the test
    return calls


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def _run(tiny, **kw):
    inputs, scenario = tiny
    kw.setdefault("progress", False)
    return ensemble_from_inputs(inputs, scenario, draws=8, chunk_size=4, seed=7, **kw)


# --- malloc tuning: only in processes ndsim started ----------------------------------------


def test_no_malloc_tuning_in_the_caller(tiny, record, monkeypatch):
    monkeypatch.setenv("NDSIM_WORKERS", "1")
    _run(tiny)
    assert record == []
    assert os.environ["NDSIM_NUM_THREADS"] == "5"  # the caller's threads untouched


def test_external_scheduler_workers_keep_their_malloc(
    tiny, record, external_scheduler, monkeypatch
):
    """Workers of someone else's cluster: kernels warmed, threads from nthreads, malloc untouched;
    the per-draw values and summaries equal those of a run in this process."""
    out = _run(tiny, scheduler=external_scheduler)
    assert "reuse_freed_memory" not in record and "warm_kernels" in record
    assert "no_hugepage_advice" not in record
    assert os.environ["NDSIM_NUM_THREADS"] == "2"  # the worker's nthreads, not one per core
    monkeypatch.setenv("NDSIM_WORKERS", "1")
    here = _run(tiny)
    for name in here.data_vars:
        assert np.array_equal(out[name].values, here[name].values, equal_nan=True), name


def test_a_started_worker_gives_numpy_no_huge_page_advice_unless_the_user_set_it(monkeypatch):
    from numpy._core import multiarray

    before = multiarray._get_madvise_hugepage()
    try:
        multiarray._set_madvise_hugepage(True)
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")  # the user's word stands
        assert not workers.no_hugepage_advice()
        assert multiarray._get_madvise_hugepage()
        monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE")
        assert workers.no_hugepage_advice()
        assert not multiarray._get_madvise_hugepage()
    finally:
        multiarray._set_madvise_hugepage(before)


def test_workers_ndsim_starts_are_tuned(monkeypatch):
    """The pool's initializer and a LocalCluster ndsim made prepare with malloc; a scheduler's not."""
    import cloudpickle
    import distributed

    seen = []
    monkeypatch.setattr(workers, "prepare_started_worker", lambda *a: seen.append("started"))
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # the initializer's, not here
    executors._pool_init(cloudpickle.dumps(None))
    assert seen == ["started"]

    ran = []

    class FakeCluster:
        dashboard_link = ""

        def __init__(self, **kw):
            pass

        def close(self):
            pass

    class FakeClient:
        def __init__(self, *a, **k):
            pass

        def scheduler_info(self):
            return {"workers": {"a": 1}}

        def run(self, fn, *a, **k):
            ran.append(fn)
            return {"a": workers.versions()} if fn is workers.worker_versions else {}

        def scatter(self, items, broadcast=False):
            return list(items)

        def close(self):
            pass

    monkeypatch.setattr(distributed, "LocalCluster", FakeCluster)
    monkeypatch.setattr(distributed, "Client", FakeClient)
    executors.DistributedExecutor(object(), workers=1).close()
    assert ran == [executors._prepare_started_worker]
    ran.clear()
    ex = executors.DistributedExecutor(object(), scheduler="tcp://elsewhere:8786")
    assert isinstance(ex, Executor)
    ex.close()
    assert ran == [workers.worker_versions, executors._prepare_worker]


# --- kernel threads -------------------------------------------------------------------------


def test_kernel_threads_outside_a_dask_worker(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert workers.kernel_threads() == 1  # a local pool worker: the processes are the layer
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert workers.kernel_threads() == 3
    monkeypatch.setenv("NDSIM_NUM_THREADS", "9")
    assert workers.size_kernel_threads(workers.kernel_threads()) == 3
    assert os.environ["NDSIM_NUM_THREADS"] == "3"


def test_kernel_threads_of_a_dask_worker(external_scheduler, monkeypatch):
    from distributed import Client

    monkeypatch.setenv("NDSIM_NUM_THREADS", "9")
    with Client(external_scheduler) as client:
        assert list(client.run(workers.kernel_threads).values()) == [2]
        assert client.submit(workers.kernel_threads, pure=False).result() == 2


# --- the version check of a --scheduler cluster ----------------------------------------------


def _differing(**changes):
    def report():
        return {**workers.versions(), **changes}

    return report


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"ndsim": "0.0.1"}, "ndsim 0.0.1"),
        ({"numba": "0.1.0"}, "numba 0.1.0"),
        ({"numpy": "1.0.0"}, "numpy 1.0.0"),
        ({"kernel sources": "0123456789ab"}, "kernel sources 0123456789ab"),
    ],
)
def test_scheduler_with_other_versions_is_refused(
    tiny, external_scheduler, monkeypatch, changes, words
):
    monkeypatch.setattr(workers, "worker_versions", _differing(**changes))
    with pytest.raises(UsageError, match=f"--scheduler {external_scheduler}: worker .*{words}"):
        _run(tiny, scheduler=external_scheduler)


def test_scheduler_refusal_is_one_line_exit_2(
    scenario_file, tmp_path, external_scheduler, monkeypatch
):
    monkeypatch.setattr(workers, "worker_versions", _differing(numpy="1.0.0"))
    out = tmp_path / "e.nc"
    args = ["ensemble", str(scenario_file), "--draws", "4", "--scheduler", external_scheduler]
    code, _, stderr = _cli([*args, "--output", str(out), "--no-figures"])
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("ndsim: error: --scheduler ")
    assert "numpy 1.0.0" in stderr and "Traceback" not in stderr
    assert not out.exists() and not Path(f"{out}.partial").exists()  # nothing kept to resume


def test_same_versions_pass_and_mismatch_names_the_worker():
    mine = workers.versions()
    assert set(mine) == {"ndsim", "numba", "numpy", "kernel sources"}
    assert workers.version_mismatch(mine, {"tcp://a:1": dict(mine)}) is None
    line = workers.version_mismatch(mine, {"tcp://b:2": {**mine, "ndsim": "9"}})
    assert line is not None and "tcp://b:2" in line and "\n" not in line


# --- --dashboard ---------------------------------------------------------------------------


def test_dashboard_needs_workers(scenario_file, tmp_path):
    code, _, stderr = _cli(
        ["ensemble", str(scenario_file), "--draws", "4", "--dashboard", "--no-figures",
         "--output", str(tmp_path / "e.nc")]
    )  # fmt: skip
    assert code == 2 and stderr.count("\n") == 1 and "--dashboard needs --workers" in stderr


def test_dashboard_without_bokeh_says_so_and_goes_on(monkeypatch, capsys):
    import distributed

    seen = {}

    class FakeCluster:
        def __init__(self, **kw):
            seen.update(kw)

    monkeypatch.setattr(distributed, "LocalCluster", FakeCluster)
    monkeypatch.setitem(sys.modules, "bokeh", None)  # as if not installed
    _, with_dashboard = executors._local_cluster(1, dashboard=True)
    err = capsys.readouterr().err
    assert not with_dashboard and seen["dashboard_address"] is None
    assert err.count("\n") == 1 and "bokeh" in err


def test_dashboard_link_printed_with_bokeh(monkeypatch, capsys):
    import bokeh  # noqa: F401  (the dashboard needs it; in the test extra)
    import distributed

    cluster = executors._local_cluster  # real LocalCluster of one worker
    made, with_dashboard = cluster(1, dashboard=True)
    try:
        assert with_dashboard and made.dashboard_link.startswith("http")
    finally:
        made.close()
    assert distributed  # imported for the cluster


def test_a_worker_prepared_by_client_run_is_not_prepared_again(monkeypatch):
    """The first task of a worker that client.run prepared does not size threads and warm the
    kernels a second time; a worker that joined late is prepared by its first task."""
    calls = []
    monkeypatch.setattr(workers, "prepare_worker", lambda w=None: calls.append("setup") or 1)
    monkeypatch.setattr(executors, "_PREPARED", False)
    executors._prepare_worker()  # client.run on the workers present
    assert executors._dask_call(executors._prepare_worker, lambda plan: "ran", None) == "ran"
    assert calls == ["setup"]  # client.run's, and no other
    monkeypatch.setattr(executors, "_PREPARED", False)  # a worker that joined late
    executors._dask_call(executors._prepare_worker, lambda plan: "ran", None)
    executors._dask_call(executors._prepare_worker, lambda plan: "ran", None)
    assert calls == ["setup", "setup"]  # prepared by its first task only
