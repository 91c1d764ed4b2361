"""Loading data sets: values converted at load, compared with hand-computed numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ndsim.io.readers import dataset_sha256, load_dataset, resolve_data_dir
from ndsim.resources import data_dir

TINY = Path(__file__).parent / "data" / "tiny"
DATASETS = [TINY] + ([data_dir()] if (data_dir() / "dataset.toml").is_file() else [])


@pytest.fixture(scope="module")
def tiny() -> xr.Dataset:
    return load_dataset(TINY)


def test_dimensions_and_coordinates(tiny):
    assert list(tiny["product"].values) == ["FAN", "GEN", "COAT"]
    # the unit-flow history from history_first (SPEC §2.2), then the run years
    assert list(tiny["year"].values) == list(range(1998, 2011))
    assert list(tiny["intermediate"].values) == ["magnet", "coating"]
    assert list(tiny["source"].values) == ["HILL", "SAND"]
    assert list(tiny["variant"].values) == ["paper", "literature"]
    assert list(tiny["count_unit"].values) == ["unit", "MW", "t"]
    assert list(tiny["product_intermediate"].values) == ["magnet", "magnet", "coating"]
    assert tiny["in_total_demand"].dtype == bool
    assert list(tiny["in_total_demand"].values) == [True, True, False]
    assert list(tiny["forecast_method"].values) == ["gompertz", "growth", "hold"]
    assert list(tiny["name"].values) == ["fan", "generator", "coating"]
    assert tiny.attrs["history_first_year"] == 1998
    assert tiny.attrs["first_year"] == 2000
    assert tiny.attrs["last_year"] == 2004
    assert tiny.attrs["forecast_last_year"] == 2010
    assert tiny.attrs["name"] == "tiny"
    assert tiny.attrs["element"] == "Xm"


def test_production_converted_to_count_per_year(tiny):
    p = tiny["production"]
    # FAN: 100..180 x 10^4 unit/yr
    np.testing.assert_allclose(
        p.sel(product="FAN", year=slice(2000, 2004)), [1e6, 1.2e6, 1.4e6, 1.6e6, 1.8e6]
    )
    # GEN 2004: 90000 kW/yr = 90 MW/yr
    assert float(p.sel(product="GEN", year=2004)) == pytest.approx(90.0)
    # COAT 2003: 3000 kg/yr = 3 t/yr
    assert float(p.sel(product="COAT", year=2003)) == pytest.approx(3.0)
    assert p.attrs["units"] == "count yr-1"
    assert bool(p.sel(year=slice(2005, 2010)).isnull().all())
    assert bool((tiny["q_production"].sel(year=slice(2005, 2010)) == "").all())
    assert str(tiny["q_production"].sel(product="FAN", year=2000).values) == "statistic"


def test_content_and_adoption(tiny):
    np.testing.assert_allclose(tiny["nd_content"], [2e-6, 0.2, 1.0])  # g/unit, kg/MW, 1
    assert tiny["nd_content"].attrs["units"] == "t count-1"
    # FAN adoption 60 % in 2002
    assert float(tiny["adoption_rate"].sel(product="FAN", year=2002)) == pytest.approx(0.6)
    # domestic consumption in 2000, by hand: FAN 1e6 x 2e-6 x 0.5, GEN 50 x 0.2 x 0.2, COAT 2 x 1 x 1
    dc = (tiny["production"] * tiny["nd_content"] * tiny["adoption_rate"]).sel(year=2000)
    np.testing.assert_allclose(dc, [1.0, 2.0, 2.0])


def test_trade_and_mining(tiny):
    # final-product trade in units: FAN 2001 90000 unit/yr, 1999 8 x 10^4 unit/yr (history)
    assert float(tiny["units_exports"].sel(product="FAN", year=2001)) == pytest.approx(9e4)
    assert float(tiny["units_exports"].sel(product="FAN", year=1999)) == pytest.approx(8e4)
    # GEN imports 2004: 2000 kW/yr = 2 MW/yr
    assert float(tiny["units_imports"].sel(product="GEN", year=2004)) == pytest.approx(2.0)
    assert tiny["units_exports"].attrs["units"] == "count yr-1"
    # the intensity calibration k of FAN (1.5); products without a row get 1
    np.testing.assert_allclose(tiny["intensity_calibration"], [1.5, 1.0, 1.0])
    np.testing.assert_allclose(tiny["exports_intermediate"].sel(year=2000), [0.3, 0.0])
    np.testing.assert_allclose(tiny["imports_intermediate"].sel(year=2000), [0.2, 0.1])
    np.testing.assert_allclose(
        tiny["exports_primary"].sel(year=slice(2000, 2004)), [1, 1, 1.5, 1.5, 2]
    )
    assert float(tiny["imports_primary"].sel(year=2002)) == pytest.approx(0.2)
    assert float(tiny["exports_primary_unregistered"].sel(year=2002)) == pytest.approx(0.5)
    assert str(tiny["q_exports_primary_unregistered"].sel(year=2002).values) == "estimate"
    assert float(tiny["exports_concentrate"].sel(year=2004)) == pytest.approx(0.4)
    assert float(tiny["imports_concentrate"].sel(year=2004)) == pytest.approx(0.3)
    np.testing.assert_allclose(
        tiny["mining"].sel(source="HILL", year=slice(2000, 2004)), [5, 6, 7, 8, 9]
    )
    assert tiny["mining"].dims == ("source", "year")


def test_yields_spread_with_specific_rows_winning(tiny):
    # refining: 90 % for all years, 0.92 in 2004 (a year-specific row wins)
    np.testing.assert_allclose(
        tiny["yield_refining"].sel(year=slice(2000, 2004)), [0.9, 0.9, 0.9, 0.9, 0.92]
    )
    assert list(tiny["q_yield_refining"].sel(year=slice(2000, 2004)).values) == [
        "literature"
    ] * 4 + ["estimate"]
    # fabrication: 0.85 for all intermediates, 0.75 for magnet
    fab = tiny["yield_fabrication"].sel(year=2003)
    assert fab.dims == ("intermediate",)
    np.testing.assert_allclose(fab.sel(intermediate=["magnet", "coating"]), [0.75, 0.85])
    np.testing.assert_allclose(tiny["yield_mining"].sel(year=slice(2000, 2004)), 0.8)
    np.testing.assert_allclose(tiny["yield_manufacturing"].sel(year=slice(2000, 2004)), 0.95)
    assert bool(tiny["yield_mining"].sel(year=2005).isnull())


def test_recycling(tiny):
    np.testing.assert_allclose(
        tiny["recycling_rate"].sel(year=slice(2000, 2004)), [0, 0, 0.005, 0.01, 0.01]
    )
    assert tiny["recovery_efficiency"].dims == ()
    assert float(tiny["recovery_efficiency"]) == pytest.approx(0.9)


def test_lifetimes(tiny):
    model = tiny["lifetime_model"]
    assert model.dims == ("variant", "product")
    assert list(model.sel(variant="paper").values) == ["fixed"] * 3
    assert list(model.sel(variant="literature").values) == ["weibull", "normal", "lognormal"]
    np.testing.assert_allclose(tiny["lifetime_mean"].sel(variant="paper"), [10, 12, 5])
    assert float(tiny["lifetime_sd"].sel(variant="literature", product="COAT")) == pytest.approx(
        2.0
    )  # 24 months
    assert float(tiny["lifetime_shape"].sel(variant="literature", product="FAN")) == 2.5
    assert float(tiny["lifetime_scale"].sel(variant="literature", product="FAN")) == 11.0
    assert bool(tiny["lifetime_sd"].sel(variant="paper").isnull().all())
    assert tiny["lifetime_mean"].attrs["units"] == "yr"
    assert tiny["lifetime_shape"].attrs["units"] == "1"


def test_drivers_and_ownership(tiny):
    pop = tiny["population"]
    assert float(pop.sel(year=2000)) == pytest.approx(1e7)  # 10 x 10^6 persons
    assert float(pop.sel(year=2010)) == pytest.approx(1.1e7)
    assert pop.attrs["units"] == "person"
    # drivers from the first accounted year (none in the history years 1998-1999)
    assert not bool(tiny["gdp_per_capita"].sel(year=slice(2000, None)).isnull().any())
    assert bool(tiny["gdp_per_capita"].sel(year=slice(None, 1999)).isnull().all())
    households = tiny["households"]  # 3.0 + 0.05 per year, x 10^6 households
    assert float(households.sel(year=2002)) == pytest.approx(3.1e6)
    assert households.attrs["units"] == "household"
    assert float(tiny["gdp_per_capita"].sel(year=2002)) == pytest.approx(1102.5)
    assert tiny["gdp_per_capita"].attrs["units"] == "USD2005 PPP person-1 yr-1"
    # ownership.csv: FAN per household (50..90 per 100 households), GEN per person (kW);
    # FAN's non-household share of 20 % divides the survey: 0.5 / 0.8 = 0.625
    stat = tiny["ownership_statistic"]
    np.testing.assert_allclose(
        stat.sel(product="FAN", year=slice(2000, 2004)),
        np.array([0.5, 0.6, 0.7, 0.8, 0.9]) / 0.8,
    )
    # GEN 2002: 4 kW/person = 0.004 MW/person (its count unit); no row for 2000
    assert float(stat.sel(product="GEN", year=2002)) == pytest.approx(0.004)
    assert np.isnan(float(stat.sel(product="GEN", year=2000)))
    assert list(tiny["ownership_basis"].values) == ["household", "person", ""]
    assert list(tiny["ownership_group"].values) == ["FAN", "GEN", ""]
    np.testing.assert_allclose(tiny["ownership_nonhousehold_share"], [0.2, 0.0, 0.0])
    # the forecast's fit data: FAN (gompertz) per household; GEN is a growth product
    per_household = tiny["ownership_household"]
    np.testing.assert_allclose(
        per_household.sel(product="FAN", year=slice(2000, 2004)),
        stat.sel(product="FAN", year=slice(2000, 2004)),
    )
    assert per_household.attrs["units"] == "count household-1"
    assert "ownership" not in tiny  # no person-basis statistic of a Gompertz product


def test_a_group_statistic_goes_on_every_member(tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    rows = ["products,year,value,unit,quality,source"]
    rows += [f"FAN+GEN,{y},{y - 1999},unit person-1,statistic,invented" for y in (2000, 2001)]
    (folder / "ownership.csv").write_text("\n".join(rows) + "\n")
    (folder / "ownership_nonhousehold.csv").unlink()
    with pytest.raises(Exception, match="mixes count units"):  # units and MW in one group
        load_dataset(folder)


def test_every_value_has_a_quality_array_of_its_shape(tiny):
    values = [v for v in tiny.data_vars if not v.startswith(("q_", "sd_"))]
    assert len(values) >= 25
    stated = {v[3:] for v in tiny.data_vars if v.startswith("sd_")}
    assert stated == {"unregistered_mining_prior", "intermediate_production_statistic"}
    for name in values:
        q = tiny[f"q_{name}"]
        assert q.dims == tiny[name].dims
        ancillary = f"q_{name}" + (f" sd_{name}" if name in stated else "")
        assert tiny[name].attrs["ancillary_variables"] == ancillary
        if name in stated:  # a stated sd exactly where there is a value
            sd = tiny[f"sd_{name}"]
            assert sd.dims == tiny[name].dims
            np.testing.assert_array_equal(np.isnan(sd.values), np.isnan(tiny[name].values))
        assert "units" in tiny[name].attrs
        flags = set(np.unique(q.values)) - {""}
        assert flags <= {"statistic", "literature", "estimate"}, name
        if tiny[name].dtype.kind == "f":  # a flag exactly where there is a value
            np.testing.assert_array_equal(q.values != "", ~np.isnan(tiny[name].values))


def test_optional_tables_may_be_absent(tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    (folder / "drivers.csv").unlink()
    (folder / "ownership.csv").unlink()
    (folder / "ownership_nonhousehold.csv").unlink()
    (folder / "intensity_calibration.csv").unlink()
    ds = load_dataset(folder)
    for name in ("population", "gdp_per_capita", "households", "ownership", "ownership_household"):
        assert name not in ds
    # no statistic: NaN everywhere and no basis; no calibration: k = 1
    assert bool(ds["ownership_statistic"].isnull().all())
    assert set(ds["ownership_basis"].values) == {""}
    np.testing.assert_array_equal(ds["intensity_calibration"], 1.0)
    assert "production" in ds


def test_dataset_hash(tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    before = dataset_sha256(folder)
    assert before == load_dataset(folder).attrs["dataset_sha256"]
    assert len(before) == 64 and int(before, 16) >= 0
    (folder / "README.md").write_text("documentation does not count\n")
    assert dataset_sha256(folder) == before
    text = (folder / "mining.csv").read_text()
    (folder / "mining.csv").write_text(text.replace("HILL,2000,5,", "HILL,2000,5.0,"))
    after = dataset_sha256(folder)
    assert after != before
    assert load_dataset(folder).attrs["dataset_sha256"] == after


def test_default_folder_is_the_shipped_data_set():
    assert resolve_data_dir(None) == data_dir()
    assert resolve_data_dir(TINY) == TINY


@pytest.mark.parametrize("folder", DATASETS, ids=[p.name for p in DATASETS])
def test_data_sets_load(folder):
    ds = load_dataset(folder)
    first, last = ds.attrs["first_year"], ds.attrs["last_year"]
    accounted = ds.sel(year=slice(first, last))
    for name in ("production", "nd_content", "adoption_rate", "units_exports", "mining"):
        assert not bool(accounted[name].isnull().any()), name
        assert bool((accounted[name] >= 0).all()), name
    assert bool(((accounted["adoption_rate"] >= 0) & (accounted["adoption_rate"] <= 1)).all())


def test_summary_years_are_read_from_dataset_toml(tmp_path):
    """``summary_years`` (optional) reaches the Dataset sorted, as ints; none where absent."""
    assert load_dataset(TINY).attrs["summary_years"] == ()
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    toml = folder / "dataset.toml"
    toml.write_text(toml.read_text().replace("[years]", "summary_years = [2008, 2005]\n[years]"))
    assert load_dataset(folder).attrs["summary_years"] == (2005, 2008)


def test_supply_years_reach_the_run_summary(tmp_path):
    """``supply_years`` of dataset.toml decide the supply table's years; without it, the last year."""
    from ndsim.commands.run import _report_years, _supply_table

    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    toml = folder / "dataset.toml"
    toml.write_text(toml.read_text().replace("[years]", "supply_years = [2009, 2006]\n[years]"))
    assert load_dataset(folder).attrs["supply_years"] == (2006, 2009)
    years = np.arange(2004, 2011)
    ds = xr.Dataset(
        {
            v: (("scenario", "year"), np.ones((1, years.size)))
            for v in ("primary_supply", "secondary_supply", "supply_gap",
                      "required_recycling_rate", "required_recycling_share_of_supply")
        },
        coords={"scenario": ["S1"], "year": years},
    )  # fmt: skip
    ds.attrs["supply_years"] = np.array([2006, 2009])
    assert _report_years(ds, "supply_years") == (2006, 2009)
    head = _supply_table(ds, 2010).splitlines()[0]
    assert "primary 2006" in head and "primary 2009" in head and "2010" not in head
    del ds.attrs["supply_years"]
    head = _supply_table(ds, 2010).splitlines()[0]
    assert "primary 2010" in head and "2009" not in head
