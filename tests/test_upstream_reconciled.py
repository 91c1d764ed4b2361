"""The reconciled upstream in a run (SPEC §3), on the tiny invented data set.

tiny has an unregistered-mining prior for 2001-2003 and a magnet production
statistic for 2002, so the dof is 0 in 2000 and 2004 (no test: the residual
flows), 1 in 2001 and 2003, 2 in 2002.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from ndsim import pipeline
from ndsim.errors import ValidationError
from ndsim.io.readers import load_dataset
from ndsim.scenario import ForecastOptions, RunOptions, Scenario

TINY = Path(__file__).parent / "data" / "tiny"
YEARS = slice(2000, 2004)


def scenario(upstream: str) -> Scenario:
    return dataclasses.replace(
        Scenario(),
        run=RunOptions(upstream=upstream),
        forecast=ForecastOptions(enabled=False),
    )


@pytest.fixture(scope="module")
def runs():
    inputs = load_dataset(TINY)
    return (
        pipeline.run(inputs, scenario("residual")),
        pipeline.run(inputs, scenario("reconciled")),
    )


def test_dof_per_year_and_no_test_years_keep_the_residual(runs):
    res, rec = runs
    assert rec["reconciliation_dof"].sel(year=YEARS).values.tolist() == [0, 1, 2, 1, 0]
    for y in (2000, 2004):
        np.testing.assert_allclose(
            rec["flow"].sel(year=y).values, res["flow"].sel(year=y).values, rtol=1e-12, atol=1e-12
        )
        assert float(rec["reconciliation_chi2"].sel(year=y)) == 0.0
    for y in (2001, 2002, 2003):
        assert (
            abs(
                float(
                    rec["mining_unregistered"].sel(year=y) - res["mining_unregistered"].sel(year=y)
                )
            )
            > 1e-6
        )
    # the flows before reconciliation: the measured prior on the unregistered-mining edge
    # (tiny: basis ore, so the edge is the prior itself), the residual chain elsewhere
    edge = {"origin": "unregistered_mining", "destination": "mining"}
    prior_edge = rec["flow_prior"].sel(edge).sel(year=YEARS).values
    np.testing.assert_allclose(
        prior_edge, [float(res["flow"].sel(edge).sel(year=2000)), 5, 12, 13,
                     float(res["flow"].sel(edge).sel(year=2004))], rtol=1e-12
    )  # fmt: skip
    other = rec["flow_prior"].where(
        ~((rec["origin"] == "unregistered_mining") & (rec["destination"] == "mining"))
    )
    np.testing.assert_array_equal(
        other.values, res["flow"].where(other.notnull() | res["flow"].isnull()).values
    )


def test_the_prior_pulls_unregistered_mining_towards_it(runs):
    """2001: prior 5 below the residual 6.10 (in ore); 2002: prior 12 above 10.91."""
    res, rec = runs
    r, c = res["mining_unregistered"], rec["mining_unregistered"]
    assert 5 < float(c.sel(year=2001)) < float(r.sel(year=2001))
    assert float(r.sel(year=2002)) < float(c.sel(year=2002)) < 12
    sd = rec["mining_unregistered_sd"].sel(year=[2001, 2002, 2003]).values
    assert (sd > 0).all() and (sd < [2, 3, 4]).all()  # better known than the prior alone


def test_every_process_balances_and_flow_sd_is_zero_for_fixed_flows(runs):
    _, rec = runs
    assert float(abs(rec["balance_residual"]).max()) <= 1e-9
    sd = rec["flow_sd"].sel(year=2002)
    assert float(sd.sel(origin="manufacturing", destination="use")) == 0.0
    assert float(sd.sel(origin="unregistered_mining", destination="mining")) > 0.0


def test_adjustments_are_in_units_of_sd(runs):
    _, rec = runs
    adj = rec["reconciliation_adjustment"].sel(measurement="unregistered", year=2001)
    prior_sd = (
        2 * 0.8
    )  # the prior counts Nd in ore (tiny: basis ore); on the concentrate basis x y_min
    im_c = float(rec["mining_unregistered"].sel(year=2001)) * 0.8
    np.testing.assert_allclose(float(adj), (im_c - 5 * 0.8) / prior_sd, rtol=1e-10)
    assert np.isnan(rec["reconciliation_adjustment"].sel(measurement="unregistered", year=2000))


def test_concentrate_basis_takes_the_mining_yield_off_official_output(tmp_path):
    """Residual IM on the concentrate basis = C_dom - official = y_min x ore - official."""
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    lines = (folder / "mining.csv").read_text().splitlines()
    out = [lines[0] + ",basis"] + [line + ",concentrate" for line in lines[1:]]
    (folder / "mining.csv").write_text("\n".join(out) + "\n")
    prior = (folder / "unregistered_mining_prior.csv").read_text().splitlines()
    (folder / "unregistered_mining_prior.csv").write_text(
        "\n".join([prior[0] + ",basis"] + [p + ",concentrate" for p in prior[1:]]) + "\n"
    )
    ore = pipeline.run(load_dataset(TINY), scenario("residual"))
    conc = pipeline.run(load_dataset(folder), scenario("residual"))
    official = ore["mining"].sum("source")
    y_min = 0.8
    want = y_min * (ore["mining_unregistered"] + official) - official
    np.testing.assert_allclose(
        conc["mining_unregistered"].sel(year=YEARS), want.sel(year=YEARS), rtol=1e-12
    )
    np.testing.assert_allclose(
        conc["mining_total"].sel(year=YEARS), y_min * ore["mining_total"].sel(year=YEARS)
    )
    assert conc.attrs["mining_basis"] == "concentrate"
    # a prior on another basis than mining.csv is refused
    (folder / "unregistered_mining_prior.csv").write_text("\n".join(prior) + "\n")
    with pytest.raises(ValidationError, match="basis"):
        load_dataset(folder)


def test_reconciled_needs_a_measurement_beyond_the_balances(tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    (folder / "unregistered_mining_prior.csv").unlink()
    (folder / "intermediate_production.csv").unlink()
    with pytest.raises(ValidationError, match="unregistered_mining_prior.csv"):
        pipeline.run(load_dataset(folder), scenario("reconciled"))


def test_the_summary_gives_the_chi2_test_of_each_year(runs):
    """The run summary's p-value per year is the chi2 survival function of scipy.stats."""
    from scipy.stats import chi2

    from ndsim.commands.run import _reconciliation_note

    _, rec = runs
    first, last = int(rec.attrs["first_year"]), int(rec.attrs["last_accounted_year"])
    text = _reconciliation_note(rec, first, last)
    tested = 0
    for line in text.splitlines():
        cells = line.split()
        if not cells or not cells[0].isdigit() or "no" in cells[4:6]:
            continue
        year, dof, p = int(cells[0]), int(cells[3]), float(cells[5])
        assert dof == int(rec["reconciliation_dof"].sel(year=year))
        assert p == pytest.approx(
            chi2.sf(float(rec["reconciliation_chi2"].sel(year=year)), dof), abs=6e-4
        )
        tested += 1
    assert tested >= 1


def test_the_scenarios_cv_is_the_measurements_sd_too(runs):
    """uncertainty.cv gives an input (or its group) the CV the ensemble samples it with; the
    reconciliation takes the same σ = CV |x| for it, so a larger CV on the measured trade
    can only lower each year's χ² (the same least squares with smaller weights)."""
    from ndsim.processes.reconciled import measurement_sd
    from ndsim.scenario import UncertaintyOptions

    inputs = load_dataset(TINY)
    acc = inputs.sel(year=YEARS)
    x = acc["imports_primary"]
    by_flag = measurement_sd(inputs, acc, "imports_primary")
    own = measurement_sd(inputs, acc, "imports_primary", {"imports_primary": 0.4})
    group = measurement_sd(inputs, acc, "imports_primary", {"primary_trade": 0.3})
    assert np.allclose(own.values, 0.4 * np.abs(x.values))
    assert np.allclose(group.values, 0.3 * np.abs(x.values))
    assert not np.allclose(by_flag.values, own.values)
    wide = dataclasses.replace(
        scenario("reconciled"),
        uncertainty=UncertaintyOptions(cv={"primary_trade": 1.0, "concentrate_trade": 1.0}),
    )
    base = runs[1]["reconciliation_chi2"].sel(year=YEARS).values
    out = pipeline.run(inputs, wide)["reconciliation_chi2"].sel(year=YEARS).values
    tested = base > 0
    assert tested.any()
    assert (out[tested] <= base[tested] * (1 + 1e-12)).all() and (out[tested] < base[tested]).any()
