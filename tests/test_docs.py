"""The documentation: its notebooks run at small size, and the site builds without warnings.

Each notebook is executed in a fresh kernel of this interpreter with
``NDSIM_NOTEBOOK_SMALL=1``, writing into the test's temporary folder; a last
cell, added here and not stored in the notebook, reports values the notebook
computed, which the test checks against the files it wrote. The site is
built with ``-W`` (warnings are errors), offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ipykernel  # noqa: F401  (the notebooks' kernel)
import nbclient
import nbformat
import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOTEBOOKS = DOCS / "notebooks"
#: seconds a cell may take; the slowest (a small ensemble) takes about 20 s
CELL_TIMEOUT = 300


def execute(name: str, tmp_path: Path, env: dict[str, str], probe: str) -> dict:
    """Run notebook `name` with the small settings and return what `probe` prints as JSON."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code"), (
        f"{name}.ipynb is stored with outputs"
    )
    probe = "import json as _json, sys as _sys\n" + probe
    nb.cells.append(nbformat.v4.new_code_cell(probe))

    # a kernel of exactly this interpreter, whatever kernels the machine has installed
    spec_dir = tmp_path / "kernels" / "ndsim-tests"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "ndsim tests", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    km = KernelManager(kernel_name="ndsim-tests", kernel_spec_manager=ksm)

    out = tmp_path / "out"
    out.mkdir()
    env = {**env, "NDSIM_NOTEBOOK_SMALL": "1", "NDSIM_NOTEBOOK_DIR": str(out)}
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, as for a reader
    client = nbclient.NotebookClient(
        nb, km=km, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=env)  # raises CellExecutionError on the first cell that fails
    if dump := os.environ.get("NDSIM_DUMP_NOTEBOOKS"):
        nbformat.write(nb, Path(dump) / f"{name}.ipynb")

    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    result = json.loads(text.strip().splitlines()[-1])
    assert result["executable"] == sys.executable
    # the notebook wrote where it was told to, and nothing into the repository
    assert Path(result["work"]) == out
    return result


def test_quickstart_notebook(tmp_path, cli_env):
    r = execute(
        "quickstart",
        tmp_path,
        cli_env,
        "print(_json.dumps({'executable': _sys.executable, 'work': str(WORK),"
        " 'base': str(base_file), 'other': str(other_file),"
        " 'difference_2050': float(compare.loc[2050, 'difference']),"
        " 'difference_2017': float(compare.loc[2017, 'difference']),"
        " 'top_2017': table['inflow'].idxmax()}))",
    )
    with xr.open_dataset(r["base"]) as base, xr.open_dataset(r["other"]) as other:
        assert base.attrs["scenario"] == "baseline"
        assert other.attrs["scenario"] == "adoption_full"
        d2050 = float(other.total_demand.sel(year=2050) - base.total_demand.sel(year=2050))
        assert r["difference_2050"] == pytest.approx(d2050, rel=1e-12)
        # full adoption after 2017 raises the forecast demand, not the accounted one
        assert r["difference_2050"] > 0
        assert r["difference_2017"] == pytest.approx(0.0, abs=1e-6)
        assert r["top_2017"] == str(base.inflow.sel(year=2017).idxmax("product").item())


def test_ensemble_analysis_notebook(tmp_path, cli_env):
    r = execute(
        "ensemble_analysis",
        tmp_path,
        cli_env,
        "print(_json.dumps({'executable': _sys.executable, 'work': str(WORK),"
        " 'file': str(ens_file), 'draws': DRAWS,"
        " 'q50_2050': float(summary.loc[2050, 'q50']),"
        " 'shares': {str(k): float(v) for k, v in shares.items()},"
        " 'top_input': str(top_sobol.index[0])}))",
    )
    assert r["draws"] == 200  # the small setting was honoured
    with xr.open_dataset(r["file"]) as ens, xr.open_dataset(r["file"], group="draws") as draws:
        assert ens.attrs["draws"] in (200, "200")
        assert draws.sizes["draw"] == 200
        q50 = float(ens.total_demand.sel(stat="q50", year=2050))
        assert r["q50_2050"] == pytest.approx(q50, rel=1e-12)
        # the first year in which S3's primary supply covers the requirement, per draw
        last = int(ens.attrs["last_accounted_year"])
        gap = draws.supply_gap.sel(scenario="S3").sel(year=slice(last + 1, None))
        covered = gap.transpose("draw", "year").values <= 0
        first = np.where(covered.any(axis=1), gap["year"].values[covered.argmax(axis=1)], 0)
        years, counts = np.unique(first, return_counts=True)
        expected = {
            ("nan" if y == 0 else f"{float(y)}"): c / first.size
            for y, c in zip(years, counts, strict=True)
        }
        assert r["shares"] == pytest.approx(expected)
        st = ens.sobol_total.sel(target="total_demand[2050]")
        assert r["top_input"] == str(st.idxmax("input").item())


def test_own_case_notebook(tmp_path, cli_env):
    r = execute(
        "own_case",
        tmp_path,
        cli_env,
        "print(_json.dumps({'executable': _sys.executable, 'work': str(WORK),"
        " 'data': str(DATA), 'file': str(result_file),"
        " 'demand_last': float(demand.sel(year=ds.attrs['last_accounted_year']))}))",
    )
    data = Path(r["data"])
    assert (data / "dataset.toml").is_file() and (data / "products.csv").is_file()
    with xr.open_dataset(r["file"]) as ds:
        assert ds.attrs["element"] == "Co" and ds.attrs["dataset"] == "northland_co"
        assert set(ds["product"].values) == {"PHN", "EVB", "SUP"}
        last = int(ds.attrs["last_accounted_year"])
        assert r["demand_last"] == pytest.approx(float(ds.total_demand.sel(year=last)))
        assert r["demand_last"] > 0
        assert int(ds["year"].max()) == 2030


def test_docs_build_offline_without_warnings(tmp_path):
    out = tmp_path / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    proc = subprocess.run([*cmd, str(DOCS), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    api = (out / "api.html").read_text(encoding="utf-8")
    for name in ("ndsim.api.run", "ndsim.ensemble.run_ensemble", "ndsim.dsm.inflow_driven"):
        assert f'id="{name}"' in api, name
    for page in ("getting_started", "SPEC", "data_format", "performance", "interoperability"):
        assert (out / f"{page}.html").is_file(), page
    for name in ("quickstart", "ensemble_analysis", "own_case"):
        assert (out / "notebooks" / f"{name}.html").is_file(), name
    # nothing the pages load comes from the network
    for html in out.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert (
            '<script src="http' not in text and '<link rel="stylesheet" href="http' not in text
        ), html
