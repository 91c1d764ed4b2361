"""Bad input stops ndsim before computing: one line naming file, field and rows or keys; exit 2; nothing written.

Complements tests/test_validate.py (every kind of bad table, on copies of
both data sets) and tests/test_scenario.py (every kind of bad scenario key):
here the kinds still missing there, on a copy of the real China Nd data set
and of the shipped ``baseline.toml``; a few end-to-end cases through the
command line (exit code 2, one stderr line, no NetCDF file, no figures
folder, no ensemble sidecar); run-time violations under both policies; and a
property test feeding random scenario files to the loader and the model.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import subprocess
import tempfile
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validate import DATASETS, copy_dataset, drop_year, duplicate_first_row, set_cell

from ndsim import cli
from ndsim.errors import BalanceError, ScenarioError, ValidationError
from ndsim.io.readers import load_dataset
from ndsim.resources import data_dir, scenarios_dir
from ndsim.scenario import check_against, load_scenario

TINY = Path(__file__).parent / "data" / "tiny"
CHINA = data_dir()
BASELINE = scenarios_dir() / "baseline.toml"


def first_year(folder: Path) -> str:
    return re.search(r"first\s*=\s*(\d+)", (folder / "dataset.toml").read_text()).group(1)


def is_efficiency(r: dict) -> bool:
    return r["parameter"] == "recovery_efficiency"


# --- data tables: the kinds test_validate.py does not have ------------------------------
# (id, edit, file, field named in the error, words the message must contain)
# fmt: off
DATA_CASES = [
    ("unknown final trade level", set_cell("final_trade.csv", "flow", "export_unregistered"), "final_trade.csv", "flow", "unknown flow 'export_unregistered'"),
    ("unknown primary trade level", set_cell("primary_trade.csv", "flow", "reexport"), "primary_trade.csv", "flow", "unknown flow 'reexport'"),
    ("negative intermediate trade", set_cell("intermediate_trade.csv", "value", "-2"), "intermediate_trade.csv", "value", "negative"),
    ("negative concentrate trade", set_cell("concentrate_trade.csv", "value", "-2"), "concentrate_trade.csv", "value", "negative"),
    ("negative mining", set_cell("mining.csv", "value", "-1"), "mining.csv", "value", "negative"),
    ("-inf content", set_cell("nd_content.csv", "value", "-inf"), "nd_content.csv", "value", "not a finite number"),
    ("NaN lifetime", set_cell("lifetimes.csv", "value", "NaN", lambda r: r["parameter"] == "mean"), "lifetimes.csv", "value", "not a finite number"),
    ("recovery efficiency above 1", set_cell("recycling.csv", "value", "1.5", is_efficiency), "recycling.csv", "value", "outside [0, 1]"),
    ("trade unit of a share", set_cell("final_trade.csv", "unit", "%"), "final_trade.csv", "unit", "cannot be converted"),
    ("duplicate trade row", duplicate_first_row("intermediate_trade.csv"), "intermediate_trade.csv", "intermediate/flow/year", "duplicate"),
    ("trade year before the history", set_cell("final_trade.csv", "year", "1949"), "final_trade.csv", "year", "unknown year"),
    ("production years not contiguous", drop_year("production.csv", lambda f: str(int(first_year(f)) + 3)), "production.csv", "year", "not contiguous"),
    ("trade years do not cover the run", drop_year("final_trade.csv", first_year), "final_trade.csv", "year", "do not cover"),
]
# fmt: on


@pytest.mark.parametrize("dataset", DATASETS, ids=[p.name for p in DATASETS])
@pytest.mark.parametrize(
    ("case", "edit", "file", "column", "words"), DATA_CASES, ids=[c[0] for c in DATA_CASES]
)
def test_bad_table_is_one_clear_line(tmp_path, dataset, case, edit, file, column, words):
    folder = copy_dataset(dataset, tmp_path / dataset.name)
    line = edit(folder)
    with pytest.raises(ValidationError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{folder / file}, {column}"), message
    assert words in message, message
    if isinstance(line, int):
        assert f"line {line}" in message, message


# --- scenario files: a corrupted copy of the shipped baseline.toml -----------------------


def sub(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def add(extra: str):
    return lambda text: text + "\n" + extra + "\n"


# (id, edit of the text, dotted key named, words); the message starts with "baseline.toml"
# fmt: off
SCENARIO_CASES = [
    ("TOML does not parse", add("[run"), None, "not valid TOML"),
    ("TOML key twice", sub('name = "baseline"', 'name = "baseline"\nname = "again"'), None, "not valid TOML"),
    ("misspelled key", sub("decline_policy", "decline_polcy"), "run.decline_polcy", "did you mean 'decline_policy'"),
    ("unknown top-level key", add('[output]\nformat = "csv"'), "output", "unknown key"),
    ("string for a number", sub("S1 = 0.02", 'S1 = "2 %"'), "supply.growth.S1", "expected a number, got string"),
    ("number for a boolean", sub("enabled = true", "enabled = 1"), "forecast.enabled", "expected true or false"),
    ("float for a year", sub("year = 2050", "year = 2050.0"), "forecast.levels.MRI.year", "expected an integer"),
    ("table for a list", sub("EL = [[2018, 2050, 0.10]]", "EL = {rate = 0.10}"), "forecast.growth_rates.EL", "expected a list"),
    ("list for a string", sub('timing = "end"', 'timing = ["end"]'), "run.timing", "expected a string"),
    ("inf growth", sub("EL = [[2018, 2050, 0.10]]", "EL = [[2018, 2050, inf]]"), "forecast.growth_rates.EL", "inf is not allowed"),
    ("growth rate in percent", sub("EL = [[2018, 2050, 0.10]]", "EL = [[2018, 2050, 5]]"), "forecast.growth_rates.EL", "did you mean 0.05?"),
    ("growth rate above 100 %", sub("EL = [[2018, 2050, 0.10]]", "EL = [[2018, 2050, 1.5]]"), "forecast.growth_rates.EL", "out of range (-1, 1]"),
    ("sales share above 1", sub("EV = {level = 0.50, year = 2035}", "EV = [[2025, 1.20]]"), "forecast.sales_share.EV", "out of range"),
    ("adoption logistic in the past", sub('adoption = "hold"', "adoption = {AC = {level = 0.9, year = 2015}}"), "forecast.adoption.AC", "not after the last accounted year"),
    ("NaN level", sub("value = 25.0", "value = nan"), "forecast.levels.MRI.value", "NaN is not allowed"),
    ("negative level", sub("value = 25.0", "value = -25.0"), "forecast.levels.MRI.value", "out of range"),
    ("recycling share above 1", sub("[recycling]", "[recycling]\nrate = [[2017, 0.01], [2050, 1.3]]"), "recycling.rate", "out of range [0.0, 1.0]"),
    ("recovery efficiency 0", sub("[recycling]", "[recycling]\nrecovery_efficiency = 0.0"), "recycling.recovery_efficiency", "must be > 0"),
    ("adoption share above 1", sub('adoption = "hold"', "adoption = {AC = [[2030, 1.1]]}"), "forecast.adoption.AC", "out of range"),
    ("supply decline of 100 %", sub("S1 = 0.02", "S1 = -1.0"), "supply.growth.S1", "must be > -1.0"),
    ("negative saturation", add("[forecast.gompertz.MO]\nsaturation = -5.0"), "forecast.gompertz.MO.saturation", "must be > 0"),
    ("positive Gompertz alpha", add("[forecast.gompertz.MO]\nalpha = 2.0\nbeta = -0.001"), "forecast.gompertz.MO.alpha", "must be < 0"),
    ("misspelled cv input", add("[uncertainty.cv]\nprodution = 0.1"), "uncertainty.cv.prodution", "did you mean 'production'"),
    ("unknown trade level to sample", sub('inputs = ["production"', 'inputs = ["retail_trade", "production"'), "uncertainty.inputs", "'retail_trade' is not one of"),
    ("unknown product", sub("EB = [[2018", "EBK = [[2018"), "forecast.growth_rates", "unknown product(s) EBK"),
    ("unknown product held", sub('hold = ["VC"', 'hold = ["glas", "VC"'), "forecast.hold", "did you mean 'glass'"),
    ("Gompertz table for a growth product", add("[forecast.gompertz.EL]\nsaturation = 5.0"), "forecast.gompertz.EL", "not forecast by an ownership curve"),
    ("product in two tables", sub('hold = ["VC"', 'hold = ["EL", "VC"'), "forecast.growth_rates", "more than one"),
    ("unknown lifetime variant", sub('lifetime_variant = "literature"', 'lifetime_variant = "literatur"'), "run.lifetime_variant", "did you mean 'literature'"),
    ("unknown year: growth period", sub("EL = [[2018, 2050", "EL = [[2018, 2060"), "forecast.growth_rates.EL", "outside the forecast years"),
    ("unknown year: adoption in the past", sub('adoption = "hold"', "adoption = {AC = [[2010, 0.5]]}"), "forecast.adoption.AC", "not after the last accounted year"),
    ("years do not cover the run: growth gap", sub("EL = [[2018, 2050, 0.10]]", "EL = [[2018, 2030, 0.10]]"), "forecast.growth_rates.EL", "no rate for 20 forecast year(s) in 2031-2050"),
    ("years do not cover the run: last year", sub("enabled = true", "enabled = true\nlast_year = 2070"), "forecast.last_year", "after the last year the data set covers"),
    ("last year before the forecast", sub("enabled = true", "enabled = true\nlast_year = 2015"), "forecast.last_year", "not after the last accounted year"),
    ("no such data set", sub('data = "china_nd"', 'data = "chinaa_nd"'), "data", "no data set 'chinaa_nd'"),
]
# fmt: on


@pytest.fixture(scope="module")
def china():
    return load_dataset(CHINA)


@pytest.mark.parametrize(
    ("case", "edit", "key", "words"), SCENARIO_CASES, ids=[c[0] for c in SCENARIO_CASES]
)
def test_bad_scenario_is_one_clear_line(tmp_path, china, case, edit, key, words):
    path = tmp_path / "baseline.toml"
    path.write_text(edit(BASELINE.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        sc = load_scenario(path)
        sc.data_path()
        check_against(sc, china)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("baseline.toml: "), message
    if key is not None:
        assert message.startswith(f"baseline.toml: key {key}:"), message
    assert words in message, message


def test_scenario_not_utf8_and_missing(tmp_path):
    path = tmp_path / "baseline.toml"
    path.write_bytes(BASELINE.read_bytes() + b"\n# \xff\xfe\n")
    with pytest.raises(ScenarioError, match=r"^baseline\.toml: not valid TOML: .*utf-8"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=r"absent\.toml: no such scenario file"):
        load_scenario(tmp_path / "absent.toml")


def test_shipped_baseline_passes_every_check(china):
    sc = load_scenario(BASELINE)
    check_against(sc, china)  # the table above fails only because of its edits


# --- the command line: exit 2, one line, nothing written --------------------------------


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def _assert_refused(code: int, stderr: str, stdout: str, start: str, root: Path) -> None:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"ndsim: error: {start}"), lines[0]
    assert "Traceback" not in stderr and stdout == ""
    assert not (root / "out").exists()  # no NetCDF file, no figures folder, no sidecar
    assert not (root / "ndsim_output").exists()


def test_run_on_corrupted_china_data_exit_2_nothing_written(tmp_path, cli_env, ndsim_cmd):
    folder = copy_dataset(CHINA, tmp_path / "china_nd")
    line = set_cell("production.csv", "value", "-3", lambda r: r["year"] == "2005")(folder)
    out = tmp_path / "out"
    proc = subprocess.run(
        [*ndsim_cmd, "run", "--data", str(folder), "--output", str(out / "r.nc")]
        + ["--figures", str(out / "figures")],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    start = f"{folder / 'production.csv'}, value: negative value in 1 row: line {line} ("
    _assert_refused(proc.returncode, proc.stderr, proc.stdout, start, tmp_path)
    assert "year=2005" in proc.stderr


def test_ensemble_on_corrupted_baseline_exit_2_nothing_written(tmp_path, cli_env, ndsim_cmd):
    path = tmp_path / "baseline.toml"
    path.write_text(BASELINE.read_text().replace("S2 = 0.05", "S2 = inf"))
    out = tmp_path / "out"
    proc = subprocess.run(
        [*ndsim_cmd, "ensemble", str(path), "--draws", "4", "--output", str(out / "e.nc")],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    start = "baseline.toml: key supply.growth.S2: inf is not allowed"
    _assert_refused(proc.returncode, proc.stderr, proc.stdout, start, tmp_path)


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (["run", "--output", "{tmp}/blocker/r.nc"], "--output {tmp}/blocker/r.nc: {tmp}/blocker is a file"),
        (["run", "--figures", "{tmp}/blocker"], "--figures {tmp}/blocker: is a file"),
        (["ensemble", "--draws", "2", "--output", "{tmp}"], "--output {tmp}: is a folder"),
        (["ensemble", "--draws", "-5"], "--draws -5: must be a positive"),
        (["ensemble", "--draws", "3", "--chunk-size", "0"], "--chunk-size 0: must be a positive"),
        (["ensemble", "--draws", "3", "--seed", "-1"], "--seed -1: must be a whole number"),
        (["ensemble", "--draws", "3", "--workers", "0"], "--workers 0: must be a positive"),
    ],
)  # fmt: skip
def test_bad_options_refused_before_loading(tmp_path, monkeypatch, args, start):
    """Options and output locations are checked first (no data loaded, nothing computed)."""
    (tmp_path / "blocker").write_text("a file where a folder is expected")
    monkeypatch.chdir(tmp_path)
    import ndsim.inputs

    def no_loading(*a, **k):
        raise AssertionError("data loaded before the options were checked")

    monkeypatch.setattr(ndsim.inputs, "prepare", no_loading)
    args = [a.format(tmp=tmp_path) for a in args]
    code, stdout, stderr = _cli(args)
    _assert_refused(code, stderr, stdout, start.format(tmp=tmp_path), tmp_path)


# --- run-time invariants: a violation fails the run, or warns when asked ----------------


@pytest.fixture
def overexported(tmp_path) -> Path:
    """The tiny data set with FAN's 2002 final-product exports above its production."""
    folder = copy_dataset(TINY, tmp_path / "tiny")
    set_cell(
        "final_trade.csv",
        "value",
        "1e9",
        lambda r: r["product"] == "FAN" and r["flow"] == "export" and r["year"] == "2002",
        unit="unit yr-1",
    )(folder)
    return folder


def _scenario(tmp_path: Path, folder: Path, on_violation: str) -> Path:
    path = tmp_path / f"{on_violation}.toml"
    path.write_text(
        f'data = "{folder.as_posix()}"\n[run]\non_violation = "{on_violation}"\n'
        "[forecast]\nenabled = false\n"
    )
    return path


def test_violation_fails_the_run_and_writes_nothing(tmp_path, overexported, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = _scenario(tmp_path, overexported, "error")
    code, stdout, stderr = _cli(["run", str(scenario), "--output", str(tmp_path / "out" / "r.nc")])
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    # the first negative variable, where: variable, product, year
    assert re.match(r"ndsim: error: \w+ is negative: product FAN, year 2002: -", lines[0]), lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "ndsim_output").exists()


def test_violation_as_warning_runs_and_reports(tmp_path, overexported, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = _scenario(tmp_path, overexported, "warn")
    out = tmp_path / "out" / "r.nc"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing reaches Python's warning machinery
        code, stdout, stderr = _cli(["run", str(scenario), "--output", str(out), "--no-figures"])
    assert code == 0, stderr
    lines = stderr.strip().splitlines()
    assert lines and all(line.startswith("ndsim: warning: ") for line in lines), stderr
    assert any("is negative: product FAN, year 2002" in line for line in lines), stderr
    assert out.is_file()


def test_negative_unregistered_mining_is_reported_not_a_violation():
    import numpy as np
    import xarray as xr

    from ndsim.commands.run import _negative_unregistered

    ds = xr.Dataset(
        {"mining_unregistered": ("year", np.array([5.0, -1.0, 0.0, -2.0]))},
        coords={"year": [2000, 2001, 2002, 2003]},
    )
    note = _negative_unregistered(ds, 2000, 2003)
    assert "below zero in 2 year(s) (2001, 2003)" in note and "not an error" in note
    assert _negative_unregistered(ds, 2000, 2000) == ""


# --- property: random scenario files are run or refused with ndsim's own error ----------

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 3000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "hold", "end", "middle", "clip", "warn", "error", "paper", "FAN", "x y"]),
    st.lists(st.integers(1990, 2020), max_size=3),
)


def _maybe(valid, invalid=_ANY):
    """Mostly (9 in 10) valid values, sometimes anything."""
    return st.integers(0, 9).flatmap(lambda i: invalid if i == 0 else valid)


_RATE = st.floats(-0.5, 0.5)
_FORECAST = st.fixed_dictionaries(
    {
        "enabled": _maybe(st.booleans()),
        "growth_rates": st.fixed_dictionaries(
            {
                "GEN": _maybe(
                    _RATE.map(lambda r: [[2005, 2010, r]])
                    | st.tuples(st.integers(2005, 2009), _RATE, _RATE).map(
                        lambda t: [[2005, t[0], t[1]], [t[0] + 1, 2010, t[2]]]
                    ),
                    invalid=_ANY
                    | st.lists(
                        st.tuples(st.integers(2003, 2011), st.integers(2003, 2011), _RATE).map(
                            list
                        ),
                        min_size=1,
                        max_size=2,
                    ),
                )
            },
            optional={"FAN": _maybe(st.just([[2005, 2010, 0.01]]))},
        ),
    },
    optional={
        "last_year": _maybe(st.just(2010), st.integers(2003, 2012)),
        "levels": st.fixed_dictionaries(
            {},
            optional={
                "COAT": _maybe(
                    st.fixed_dictionaries(
                        {"year": st.integers(2003, 2012), "value": st.floats(-1, 50)}
                    )
                )
            },
        ),
        "gompertz": st.fixed_dictionaries(
            {},
            optional={
                "FAN": st.fixed_dictionaries(
                    {},
                    optional={
                        "saturation": _maybe(st.floats(0.5, 5)),
                        "alpha": _maybe(st.floats(-8, -0.5)),
                        "beta": _maybe(st.floats(-1e-3, -1e-5)),
                    },
                )
            },
        ),
        "adoption": _maybe(
            st.just("hold")
            | st.fixed_dictionaries(
                {
                    "FAN": st.lists(
                        st.tuples(st.integers(2003, 2012), st.floats(0, 1.2)).map(list),
                        min_size=1,
                        max_size=2,
                    )
                }
            )
        ),
    },
)
_SCENARIO = st.fixed_dictionaries(
    {"forecast": _FORECAST},
    optional={
        "name": _maybe(st.sampled_from(["t", "random_1"])),
        "run": st.fixed_dictionaries(
            {},
            optional={
                "timing": _maybe(st.sampled_from(["end", "middle"])),
                "decline_policy": _maybe(st.sampled_from(["clip", "retire_early"])),
                "on_violation": _maybe(st.sampled_from(["error", "warn"])),
                "lifetime_variant": _maybe(st.sampled_from(["paper", "literature"])),
            },
        ),
        "recycling": st.fixed_dictionaries(
            {},
            optional={
                "rate": _maybe(
                    st.lists(st.integers(2000, 2012), min_size=1, max_size=3, unique=True).flatmap(
                        lambda ys: st.lists(st.floats(0, 1), min_size=len(ys), max_size=len(ys)).map(
                            lambda vs: [[y, v] for y, v in zip(sorted(ys), vs, strict=True)]
                        )
                    )
                ),
                "recovery_efficiency": _maybe(st.floats(0.01, 1)),
            },
        ),
        "supply": st.fixed_dictionaries(
            {},
            optional={
                "base": _maybe(st.sampled_from(["total_mining", "official_mining"])),
                "growth": st.dictionaries(_maybe(st.sampled_from(["S1", "S2"]), st.just("S 3")), _maybe(_RATE), max_size=2),
            },
        ),
        "uncertainty": st.fixed_dictionaries(
            {},
            optional={
                "inputs": _maybe(st.lists(st.sampled_from(["production", "yields", "mining"]), max_size=2, unique=True), st.just(["prodution"])),
                "cv": st.dictionaries(_maybe(st.sampled_from(["production", "mining"]), st.just("cost")), _maybe(st.floats(0, 1)), max_size=2),
            },
        ),
    },
)  # fmt: skip


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return (
            "nan" if v != v else ("inf" if v > 0 else "-inf") if abs(v) == float("inf") else repr(v)
        )
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _toml(doc: dict) -> str:
    lines = []
    for k, v in doc.items():
        if v is None:
            continue  # TOML has no null: leave the key out
        lines.append(f"{_toml_key(k)} = {_toml_value(_drop_none(v))}")
    return "\n".join(lines) + "\n"


def _drop_none(v):
    if isinstance(v, dict):
        return {k: _drop_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_none(x) for x in v if x is not None]
    return v


@pytest.fixture(scope="module")
def tiny_inputs():
    return load_dataset(TINY)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    doc=_SCENARIO,
    garble=st.one_of(
        st.none(), st.none(), st.none(), st.tuples(st.integers(0, 400), st.text(max_size=3))
    ),
)
def test_random_scenarios_run_or_raise_ndsim_errors(tiny_inputs, doc, garble):  # fmt: skip
    from ndsim import pipeline

    text = _toml(doc)
    if garble is not None:  # a typing slip somewhere in the file
        i = garble[0] % (len(text) + 1)
        text = text[:i] + garble[1] + text[i:]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.toml"
        path.write_text(text, encoding="utf-8")
        try:
            sc = load_scenario(path)
            sc = dataclasses.replace(sc, data=str(TINY))
            check_against(sc, tiny_inputs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # on_violation = "warn"
                result = pipeline.run(tiny_inputs, sc)
        except (ScenarioError, ValidationError, BalanceError) as exc:
            message = str(exc)
            assert "\n" not in message, message
            if isinstance(exc, ScenarioError):
                assert message.startswith("random.toml: "), message
            return
    assert int(result.year.max()) >= int(tiny_inputs.attrs["last_year"])
