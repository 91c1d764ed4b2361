"""Scenario files: the shipped ones load, and every kind of mistake is an error naming file and key."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
import xarray as xr

from ndsim.errors import ScenarioError
from ndsim.resources import scenarios_dir
from ndsim.scenario import Level, Scenario, check_against, load_scenario

SHIPPED = sorted(p.stem for p in scenarios_dir().glob("*.toml"))


def write(tmp_path: Path, text: str, name: str = "my.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_scenarios_are_present():
    assert {"baseline", "literature_lifetimes", "recycling_30", "recycling_60"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_load(name):
    sc = load_scenario(name)
    assert sc.name == name
    assert sc.sha256 == hashlib.sha256(sc.path.read_bytes()).hexdigest()
    assert sc.path.name == f"{name}.toml"


def test_default_is_baseline_with_the_papers_parameters():
    sc = load_scenario()
    assert sc.name == "baseline"
    assert (sc.run.lifetime_variant, sc.run.timing, sc.run.decline_policy) == (
        "literature",
        "end",
        "clip",
    )
    assert sc.run.history == "data"
    assert {"final_trade", "lifetimes"} <= set(sc.uncertainty.inputs)
    assert sc.forecast.growth_rates["CP"] == ((2018, 2030, -0.01), (2031, 2050, -0.02))
    assert sc.forecast.growth_rates["WT"] == ((2018, 2030, 0.072), (2031, 2050, 0.047))
    # electric vehicles take a share of the vehicle fleet's sales (NEV targets), not a rate
    assert dict(sc.forecast.sales_share["EV"]) == {"level": 0.5, "year": 2035}
    assert "EV" not in sc.forecast.growth_rates
    assert load_scenario("yao2021").forecast.growth_rates["EV"] == ((2018, 2050, 0.13),)
    assert load_scenario("yao2021").forecast.adoption == "full"
    assert sc.forecast.levels["MRI"] == Level(2050, 25.0)
    assert dict(sc.supply.growth) == {"S1": 0.02, "S2": 0.05, "S3": 0.08}
    assert sc.supply.base == "total_mining"


def test_yao2021_keeps_the_papers_conventions():
    sc = load_scenario("yao2021")
    assert (sc.run.lifetime_variant, sc.run.history) == ("paper", "empty")
    assert sc.uncertainty.inputs == ("production", "nd_content", "adoption_rate")


def test_lifetimes_table_overrides_a_product(tmp_path):
    from ndsim import api

    path = tmp_path / "s.toml"
    path.write_text(
        'data = "china_nd"\n[forecast]\nenabled = false\n[run]\nlifetime_variant = "paper"\n'
        '[lifetimes]\nAC = {model = "weibull", mean = 12, sd = 4}\nCV = {mean = 16}\n'
    )
    sc = load_scenario(path)
    assert sc.lifetimes["AC"].model == "weibull" and sc.lifetimes["AC"].parameters() == {
        "mean": 12.0,
        "sd": 4.0,
    }
    inputs, _ = api.prepare(path)
    at = {"variant": "paper"}
    assert str(inputs["lifetime_model"].sel(product="AC", **at).values) == "weibull"
    assert float(inputs["lifetime_mean"].sel(product="AC", **at)) == 12.0
    assert float(inputs["lifetime_sd"].sel(product="AC", **at)) == 4.0
    assert str(inputs["q_lifetime_mean"].sel(product="AC", **at).values) == "estimate"
    # CV keeps the variant's model (fixed) with the new mean; others are untouched
    assert str(inputs["lifetime_model"].sel(product="CV", **at).values) == "fixed"
    assert float(inputs["lifetime_mean"].sel(product="CV", **at)) == 16.0
    assert float(inputs["lifetime_mean"].sel(product="RE", **at)) == 10.0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("XX = {mean = 3}", "lifetimes: unknown product"),
        ('AC = {model = "weibull", mean = 12}', r"needs shape\+scale or mean\+sd"),
        ('AC = {model = "gompertz", mean = 12}', "is not one of"),
        ("AC = {mean = -1}", "out of range"),
        ("AC = {}", "give a model and its parameters"),
    ],
)
def test_bad_lifetimes_table_is_one_line(tmp_path, table, message):
    from ndsim import api
    from ndsim.errors import ScenarioError

    path = tmp_path / "s.toml"
    path.write_text(f'data = "china_nd"\n[forecast]\nenabled = false\n[lifetimes]\n{table}\n')
    with pytest.raises(ScenarioError, match=message):
        api.prepare(path)


def test_recycling_variants_reach_their_rate_in_2050():
    for name, target in (("recycling_30", 0.30), ("recycling_60", 0.60)):
        sc = load_scenario(name)
        assert sc.recycling.rate[-1] == (2050, target)
        assert sc.recycling.recovery_efficiency == 0.9


def test_scenario_is_frozen(tmp_path):
    sc = load_scenario(write(tmp_path, 'name = "x"\n'))
    with pytest.raises(AttributeError):
        sc.name = "y"
    with pytest.raises(TypeError):
        sc.supply.growth["S4"] = 0.1


def test_empty_file_gives_defaults_and_file_stem_as_name(tmp_path):
    sc = load_scenario(write(tmp_path, "", name="quiet.toml"))
    assert sc.name == "quiet"
    assert sc.run == Scenario().run
    assert sc.forecast.enabled is True


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "[run]\nlifetime_varient = 'paper'\n",
            r"my\.toml: key run\.lifetime_varient: unknown key \(did you mean 'lifetime_variant'\?\)",
        ),
        ("nmae = 'x'\n", r"my\.toml: key nmae: unknown key \(did you mean 'name'\?\)"),
        (
            "[forecast]\nenabled = 'yes'\n",
            r"my\.toml: key forecast\.enabled: expected true or false",
        ),
        ("[run]\ntiming = 'start'\n", r"key run\.timing: 'start' is not one of 'end', 'middle'"),
        ("[supply.growth]\nS1 = -1.5\n", r"key supply\.growth\.S1: -1\.5 is out of range"),
        ("[supply.growth]\nS1 = '2 %'\n", r"key supply\.growth\.S1: expected a number, got string"),
        (
            "[recycling]\nrate = [[2017, 0.01], [2050, 1.2]]\n",
            r"key recycling\.rate: 1\.2 is out of range \[0\.0, 1\.0\]",
        ),
        (
            "[recycling]\nrate = [[2050, 0.1], [2017, 0.01]]\n",
            r"key recycling\.rate: years must increase",
        ),
        (
            "[recycling]\nrecovery_efficiency = 0\n",
            r"key recycling\.recovery_efficiency: 0\.0 is out of range: must be > 0",
        ),
        (
            "[forecast.growth_rates]\nCP = [[2030, 2018, -0.01]]\n",
            r"key forecast\.growth_rates\.CP: period .* ends before it starts",
        ),
        (
            "[forecast.growth_rates]\nCP = [[2018, 2030, -0.01], [2030, 2050, -0.02]]\n",
            r"growth_rates\.CP: periods overlap at 2030",
        ),
        (
            "[forecast.growth_rates]\nCP = -0.01\n",
            r"growth_rates\.CP: expected a list of \[first_year, last_year, rate\]",
        ),
        (
            "[forecast.levels]\nMRI = {year = 2050, valu = 25.0}\n",
            r"key forecast\.levels\.MRI\.valu: unknown key \(did you mean 'value'\?\)",
        ),
        ("[forecast]\nadoption = 'keep'\n", r"key forecast\.adoption: 'keep' is not one of 'hold'"),
        (
            "[forecast.adoption]\nAC = [[2030, 1.5]]\n",
            r"key forecast\.adoption\.AC: 1\.5 is out of range",
        ),
        (
            "[forecast.gompertz.AC]\nsaturaton = 1.0\n",
            r"key forecast\.gompertz\.AC\.saturaton: unknown key \(did you mean 'saturation'\?\)",
        ),
        (
            "[uncertainty]\ninputs = ['production', 'prodution']\n",
            r"key uncertainty\.inputs: 'prodution' is not one of .* \(did you mean 'production'\?\)",
        ),
        (
            "[uncertainty.cv]\nproduction = 2\n",
            r"key uncertainty\.cv\.production: 2\.0 is out of range",
        ),
        ("run = 3\n", r"key run: expected a table, got int"),
        (
            "[forecast]\nlast_year = 2050.5\n",
            r"key forecast\.last_year: expected an integer, got float",
        ),
        ("name = 'x'\nname = 'y'\n", r"my\.toml: not valid TOML"),
    ],
)
def test_bad_files_name_file_and_key(tmp_path, text, match):
    with pytest.raises(ScenarioError, match=match):
        load_scenario(write(tmp_path, text))


def test_missing_scenario_lists_the_shipped_ones(tmp_path):
    with pytest.raises(
        ScenarioError,
        match=r"no such scenario file; shipped scenarios: .*baseline.*did you mean 'baseline'",
    ):
        load_scenario("baselin")
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.toml")


def _inputs(products=("AA", "BB"), last=2004, forecast_last=2010, variants=("paper",)):
    return xr.Dataset(
        coords={
            "product": list(products),
            "year": list(range(2000, last + 1)),
            "variant": list(variants),
        },
        attrs={"first_year": 2000, "last_year": last, "forecast_last_year": forecast_last},
    )


def test_check_against_the_data_set(tmp_path):
    ok = load_scenario(write(tmp_path, "[forecast.growth_rates]\nAA = [[2005, 2010, 0.1]]\n"))
    check_against(ok, _inputs())
    bad_product = load_scenario(
        write(tmp_path, "[forecast.growth_rates]\nAB = [[2005, 2010, 0.1]]\n")
    )
    with pytest.raises(
        ScenarioError, match=r"my\.toml: key forecast\.growth_rates: unknown product\(s\) AB"
    ):
        check_against(bad_product, _inputs())
    early = load_scenario(write(tmp_path, "[forecast.growth_rates]\nAA = [[2004, 2010, 0.1]]\n"))
    with pytest.raises(
        ScenarioError,
        match=r"growth_rates\.AA: period 2004-2010 is outside the forecast years 2005-2010",
    ):
        check_against(early, _inputs())
    level = load_scenario(write(tmp_path, "[forecast.levels]\nBB = {year = 2011, value = 1.0}\n"))
    with pytest.raises(ScenarioError, match=r"levels\.BB\.year: 2011 is outside"):
        check_against(level, _inputs())
    variant = load_scenario(write(tmp_path, "[run]\nlifetime_variant = 'literatur'\n"))
    with pytest.raises(
        ScenarioError,
        match=r"run\.lifetime_variant: 'literatur' is not a lifetime variant.*did you mean 'literature'",
    ):
        check_against(variant, _inputs(variants=("paper", "literature")))


def test_data_path_relative_to_the_file(tmp_path):
    (tmp_path / "mydata").mkdir()
    sc = load_scenario(write(tmp_path, "data = 'mydata'\n"))
    assert sc.data_path() == (tmp_path / "mydata").resolve()
    missing = load_scenario(write(tmp_path, "data = 'nothere'\n"))
    with pytest.raises(ScenarioError, match=r"key data: no data set 'nothere'"):
        missing.data_path()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[forecast.levels]\nEV = {year = 2030}\n", "key forecast.levels.EV: missing key(s) value"),
        (
            "[forecast.adoption]\nEV = {level = 0.5}\n",
            "key forecast.adoption.EV: missing key(s) year",
        ),
        ('name = "abc\\n"\n', "key name:"),
        ('[forecast.levels]\n"EV\\n" = {year = 2030, value = 1.0}\n', "not a valid name"),
    ],
)
def test_incomplete_tables_and_names_with_a_newline_are_one_line(tmp_path, text, message):
    """A table missing a required key, or a name ending in a newline (which ``$`` lets
    through), is a ScenarioError naming the key, not a TypeError or KeyError later."""
    from ndsim.errors import ScenarioError

    with pytest.raises(ScenarioError) as err:
        load_scenario(write(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value).strip()
