"""Bad input is refused with one line naming the file, the column and the rows.

A table-driven suite copies each data set (the tiny invented one, and the
shipped China Nd case when present), corrupts the copy one way per case and
checks the ValidationError; a subprocess test checks ``ndsim validate``
(exit 2, one line, no traceback); a property test feeds random tables.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ndsim.errors import ValidationError
from ndsim.io.readers import load_dataset
from ndsim.resources import data_dir
from ndsim.validate import OPTIONAL_TABLES, REQUIRED_TABLES, validate_dataset

TINY = Path(__file__).parent / "data" / "tiny"
DATASETS = [TINY] + ([data_dir()] if (data_dir() / "dataset.toml").is_file() else [])


def copy_dataset(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("build*", "*.md"))
    return target


# --- editing helpers: each returns the line it changed (header = line 1) ---


def read(folder: Path, name: str) -> tuple[list[str], list[list[str]]]:
    with open(folder / name, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def write(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> None:
    with open(folder / name, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *rows])


def set_cell(
    name: str, column: str, value: str, where: Callable[[dict], bool] = lambda r: True, **also
) -> Callable[[Path], int]:
    """Set ``column`` (and the columns in ``also``) of the first row where ``where`` holds."""

    def edit(folder: Path) -> int:
        header, rows = read(folder, name)
        for i, row in enumerate(rows):
            if where(dict(zip(header, row, strict=True))):
                row[header.index(column)] = value
                for col, val in also.items():
                    row[header.index(col)] = val
                write(folder, name, header, rows)
                return i + 2
        raise AssertionError(f"no row of {name} to edit")

    return edit


def drop_rows(name: str, where: Callable[[dict, list[dict]], bool]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        header, rows = read(folder, name)
        dicts = [dict(zip(header, r, strict=True)) for r in rows]
        keep = [r for r, d in zip(rows, dicts, strict=True) if not where(d, dicts)]
        assert len(keep) < len(rows)
        write(folder, name, header, keep)

    return edit


def rename_column(name: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        header, rows = read(folder, name)
        header[header.index(old)] = new
        write(folder, name, header, rows)

    return edit


def drop_column(name: str, column: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        header, rows = read(folder, name)
        i = header.index(column)
        write(folder, name, header[:i] + header[i + 1 :], [r[:i] + r[i + 1 :] for r in rows])

    return edit


def add_column(name: str, column: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        header, rows = read(folder, name)
        write(folder, name, [*header, column], [[*r, "x"] for r in rows])

    return edit


def duplicate_first_row(name: str) -> Callable[[Path], int]:
    def edit(folder: Path) -> int:
        header, rows = read(folder, name)
        write(folder, name, header, [*rows, rows[0]])
        return 2

    return edit


def raw_edit(name: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / name
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    return edit


def write_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return edit


def ragged(extra: bool) -> Callable[[Path], int]:
    def edit(folder: Path) -> int:
        lines = (folder / "adoption_rate.csv").read_text(encoding="utf-8").splitlines()
        lines[2] = lines[2] + ",extra" if extra else lines[2].rsplit(",", 1)[0]
        (folder / "adoption_rate.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return 3

    return edit


def middle_year(folder: Path) -> str:
    text = (folder / "dataset.toml").read_text()
    first = int(re.search(r"(?m)^first\s*=\s*(\d+)", text).group(1))
    return str(first + 2)


def history_first_year(folder: Path) -> str:
    text = (folder / "dataset.toml").read_text()
    return re.search(r"history_first\s*=\s*(\d+)", text).group(1)


def last_year(folder: Path) -> str:
    text = (folder / "dataset.toml").read_text()
    return re.search(r"\blast\s*=\s*(\d+)", text).group(1)


def drop_year(name: str, which: Callable[[Path], str]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        year = which(folder)
        drop_rows(name, lambda r, _: r["year"] == year)(folder)

    return edit


def drop_first_mean(folder: Path) -> None:
    header, rows = read(folder, "lifetimes.csv")
    dicts = [dict(zip(header, r, strict=True)) for r in rows]
    fixed = next(d for d in dicts if d["parameter"] == "model" and d["value"] == "fixed")
    keep = [
        r
        for r, d in zip(rows, dicts, strict=True)
        if not (
            d["parameter"] == "mean"
            and d["variant"] == fixed["variant"]
            and d["product"] == fixed["product"]
        )
    ]
    write(folder, "lifetimes.csv", header, keep)


def numeric_lifetime(r: dict) -> bool:
    return r["parameter"] == "mean"


def is_rate(r: dict) -> bool:
    return r["parameter"] == "recycling_rate" and r["year"] != ""


def is_population(r: dict) -> bool:
    return r["driver"] == "population"


# (id, edit, file, column named in the error or None, words the message must contain);
# edits that change one row return its line, which the message must list
# fmt: off
CASES = [
    ("missing file", lambda f: (f / "production.csv").unlink(), "production.csv", None, "missing file"),
    ("missing toml", lambda f: (f / "dataset.toml").unlink(), "dataset.toml", None, "missing file"),
    ("toml syntax", raw_edit("dataset.toml", lambda t: t + "\nname = \n"), "dataset.toml", None, "TOML does not parse"),
    ("toml years", raw_edit("dataset.toml", lambda t: re.sub(r"forecast_last\s*=\s*\d+", "forecast_last = 1990", t)), "dataset.toml", "years", "first <= last"),
    ("toml misspelled key", raw_edit("dataset.toml", lambda t: t.replace("forecast_last", "forcast_last")), "dataset.toml", "forcast_last", "did you mean 'forecast_last'"),
    ("summary year outside", raw_edit("dataset.toml", lambda t: re.sub(r"(?m)^summary_years.*\n", "", t).replace("[years]", "summary_years = [1990]\n[years]", 1)), "dataset.toml", "summary_years", "outside the data set's years"),
    ("summary years not years", raw_edit("dataset.toml", lambda t: re.sub(r"(?m)^summary_years.*\n", "", t).replace("[years]", 'summary_years = ["2005", "2005"]\n[years]', 1)), "dataset.toml", "summary_years", "distinct integer years"),
    ("unreadable", write_bytes("mining.csv", b"\xff\xfe\x00\x81garbage"), "mining.csv", None, "not UTF-8"),
    ("NUL bytes", write_bytes("mining.csv", b"ore_source,year\x00,value\n"), "mining.csv", None, "unreadable CSV"),
    ("empty file", write_bytes("nd_content.csv", b""), "nd_content.csv", None, "no header"),
    ("header only", raw_edit("production.csv", lambda t: t.splitlines()[0] + "\n"), "production.csv", "product", "no rows"),
    ("ragged long", ragged(True), "adoption_rate.csv", None, "ragged CSV"),
    ("ragged short", ragged(False), "adoption_rate.csv", None, "ragged CSV"),
    ("misspelled column", rename_column("nd_content.csv", "value", "vaule"), "nd_content.csv", "value", "'vaule'"),
    ("missing column", drop_column("final_trade.csv", "quality"), "final_trade.csv", "quality", "missing column"),
    ("unknown column", add_column("mining.csv", "comment"), "mining.csv", "comment", "unknown column"),
    ("unit does not parse", set_cell("nd_content.csv", "unit", "g unicorn-1"), "nd_content.csv", "unit", "does not parse"),
    ("unit wrong dimension", set_cell("production.csv", "unit", "t"), "production.csv", "unit", "cannot be converted"),
    ("unit empty", set_cell("mining.csv", "unit", ""), "mining.csv", "unit", "empty value"),
    ("NaN", set_cell("production.csv", "value", "nan"), "production.csv", "value", "not a finite number"),
    ("inf", set_cell("mining.csv", "value", "inf"), "mining.csv", "value", "not a finite number"),
    ("empty value", set_cell("adoption_rate.csv", "value", ""), "adoption_rate.csv", "value", "empty"),
    ("text value", set_cell("final_trade.csv", "value", "abc"), "final_trade.csv", "value", "not a finite number"),
    ("negative production", set_cell("production.csv", "value", "-5"), "production.csv", "value", "negative"),
    ("negative final trade", set_cell("final_trade.csv", "value", "-1"), "final_trade.csv", "value", "negative"),
    ("negative primary trade", set_cell("primary_trade.csv", "value", "-1"), "primary_trade.csv", "value", "negative"),
    ("negative content", set_cell("nd_content.csv", "value", "-0.1"), "nd_content.csv", "value", "negative"),
    ("negative lifetime", set_cell("lifetimes.csv", "value", "-3", numeric_lifetime), "lifetimes.csv", "value", "negative"),
    ("zero lifetime", set_cell("lifetimes.csv", "value", "0", numeric_lifetime), "lifetimes.csv", "value", "> 0"),
    ("adoption above 1", set_cell("adoption_rate.csv", "value", "1.5", unit="1"), "adoption_rate.csv", "value", "outside [0, 1]"),
    ("adoption 150 %", set_cell("adoption_rate.csv", "value", "150", unit="%"), "adoption_rate.csv", "value", "outside [0, 1]"),
    ("recycling above 1", set_cell("recycling.csv", "value", "2", is_rate, unit="1"), "recycling.csv", "value", "outside [0, 1]"),
    ("yield above 1", set_cell("yields.csv", "value", "1.2", unit="1"), "yields.csv", "value", "outside [0, 1]"),
    ("yield zero", set_cell("yields.csv", "value", "0", unit="1"), "yields.csv", "value", "> 0"),
    ("yield negative", set_cell("yields.csv", "value", "-0.5", unit="1"), "yields.csv", "value", "negative"),
    ("duplicate rows", duplicate_first_row("production.csv"), "production.csv", "product/year", "duplicate"),
    ("unknown product", set_cell("production.csv", "product", "XYZ"), "production.csv", "product", "unknown product"),
    ("product code case", set_cell("adoption_rate.csv", "product", "fan"), "adoption_rate.csv", "product", "unknown product"),
    ("unknown source", set_cell("mining.csv", "ore_source", "BOGUS"), "mining.csv", "ore_source", "unknown ore_source 'BOGUS'"),
    ("unknown intermediate", set_cell("intermediate_trade.csv", "intermediate", "unobtainium"), "intermediate_trade.csv", "intermediate", "unknown intermediate"),
    ("unknown flow", set_cell("final_trade.csv", "flow", "exprot"), "final_trade.csv", "flow", "did you mean 'export'"),
    ("unknown year", set_cell("production.csv", "year", "2099"), "production.csv", "year", "unknown year"),
    ("not a year", set_cell("mining.csv", "year", "20x0"), "mining.csv", "year", "not an integer year"),
    ("years not contiguous", drop_year("mining.csv", middle_year), "mining.csv", "year", "not contiguous"),
    ("years do not cover", drop_year("adoption_rate.csv", last_year), "adoption_rate.csv", "year", "do not cover"),
    ("missing row", drop_rows("production.csv", lambda r, rows: r is rows[1]), "production.csv", "product/year", "missing rows"),
    ("unknown quality", set_cell("production.csv", "quality", "guess"), "production.csv", "quality", "unknown quality flag"),
    ("no source", set_cell("nd_content.csv", "source", "", method=""), "nd_content.csv", "source", "empty source"),
    ("duplicate product", duplicate_first_row("products.csv"), "products.csv", "product", "duplicate"),
    ("bad count unit", set_cell("products.csv", "count_unit", "widgets"), "products.csv", "count_unit", "does not parse"),
    ("bad forecast method", set_cell("products.csv", "forecast_method", "magic"), "products.csv", "forecast_method", "unknown forecast method"),
    ("bad boolean", set_cell("products.csv", "in_total_demand", "maybe"), "products.csv", "in_total_demand", "not a boolean"),
    ("unknown lifetime model", set_cell("lifetimes.csv", "value", "exponential", lambda r: r["parameter"] == "model"), "lifetimes.csv", "value", "unknown lifetime model"),
    ("lifetime parameter missing", drop_first_mean, "lifetimes.csv", "parameter", "needs mean"),
    ("zero population", set_cell("drivers.csv", "value", "0", is_population), "drivers.csv", "value", "> 0"),
    ("drivers do not cover", raw_edit("dataset.toml", lambda t: re.sub(r"forecast_last\s*=\s*(\d+)", lambda m: f"forecast_last = {int(m.group(1)) + 1}", t)), "drivers.csv", "year", "do not cover"),
    ("ownership in t", set_cell("ownership.csv", "unit", "t household-1"), "ownership.csv", "unit", "cannot be converted"),
    ("ownership unknown product", set_cell("ownership.csv", "products", "XYZ"), "ownership.csv", "products", "unknown product"),
    ("history years missing", drop_year("production.csv", history_first_year), "production.csv", "year", "do not cover"),
    ("trade in t of the element", set_cell("final_trade.csv", "unit", "t yr-1", lambda r: r["product"] != "COAT" and r["product"] in ("FAN", "CV")), "final_trade.csv", "unit", "cannot be converted"),
]
# fmt: on


@pytest.fixture(params=DATASETS, ids=[p.name for p in DATASETS], scope="module")
def dataset(request) -> Path:
    return request.param


@pytest.mark.parametrize(
    ("case", "edit", "file", "column", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_clear_line(tmp_path, dataset, case, edit, file, column, words):
    folder = copy_dataset(dataset, tmp_path / dataset.name)
    header, _ = read(folder, "nd_content.csv")
    if case == "no source" and "method" not in header:
        edit = set_cell("nd_content.csv", "source", "")
    line = edit(folder)
    with pytest.raises(ValidationError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(folder / file)), message
    assert info.value.file == str(folder / file)
    if column is not None:
        assert column in (info.value.field or ""), message
    assert words in message, message
    if isinstance(line, int):  # the offending row is listed by its line in the file
        assert f"line {line}" in message, message


def test_validate_dataset_summary(tmp_path):
    summary = validate_dataset(TINY)
    assert summary.rows["production.csv"] == 21  # 3 products x 1998-2004
    assert summary.rows["products.csv"] == 3
    assert set(summary.rows) == set(REQUIRED_TABLES) | set(OPTIONAL_TABLES)
    # production: FAN statistic, GEN literature, COAT estimate in 2000-2004; 1998-1999 estimate
    shares = summary.quality_shares("production.csv")
    assert shares == pytest.approx({"statistic": 5 / 21, "literature": 5 / 21, "estimate": 11 / 21})
    # whole data set: counted by hand from the tables
    counts = {"statistic": 0, "literature": 0, "estimate": 0}
    for name in summary.quality:
        _, rows = read(TINY, name)
        header, _ = read(TINY, name)
        for row in rows:
            counts[row[header.index("quality")]] += 1
    total = sum(counts.values())
    assert summary.quality_shares() == pytest.approx({k: v / total for k, v in counts.items()})
    text = summary.format()
    assert "production.csv" in text and "statistic" in text and "52.4%" in text


def test_validate_command_ok(cli_env, ndsim_cmd):
    out = subprocess.run(
        [*ndsim_cmd, "validate", "--data", str(TINY)], env=cli_env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "production.csv" in out.stdout and "literature" in out.stdout
    assert "all checks passed" in out.stdout


def test_validate_command_bad_data(tmp_path, cli_env, ndsim_cmd):
    folder = copy_dataset(TINY, tmp_path / "tiny")
    set_cell(
        "production.csv", "value", "-5", lambda r: r["product"] == "GEN" and r["year"] == "2000"
    )(folder)
    out = subprocess.run(
        [*ndsim_cmd, "validate", "--data", str(folder)], env=cli_env, capture_output=True, text=True
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert "production.csv, value: negative" in lines[0]
    assert "line 11 (product=GEN, year=2000)" in lines[0]
    assert out.stdout == ""


# --- property: random tables give a Dataset or ndsim's ValidationError, nothing else ---

_FILES = sorted(p.name for p in TINY.glob("*.csv"))
_CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            "nan",
            "inf",
            "-1",
            "0",
            "1e309",
            "2",
            "0.5",
            "-0",
            "abc",
            "2000",
            "2004",
            "1999",
            "export",
            "import",
            "FAN",
            "GEN",
            "magnet",
            "HILL",
            "yr",
            "t yr-1",
            "%",
            "1",
            "fixed",
            "statistic",
            "estimate",
            "mean",
            "model",
            "99999999999999999999",
            "10^4 unit yr-1",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)
_EDITS = st.one_of(
    st.tuples(
        st.just("cell"), st.sampled_from(_FILES), st.integers(0, 60), st.integers(0, 9), _CELLS
    ),
    st.tuples(st.just("drop_row"), st.sampled_from(_FILES), st.integers(0, 60)),
    st.tuples(st.just("dup_row"), st.sampled_from(_FILES), st.integers(0, 60)),
    st.tuples(st.just("drop_col"), st.sampled_from(_FILES), st.integers(0, 9)),
    st.tuples(st.just("truncate"), st.sampled_from(_FILES), st.integers(0, 400)),
    st.tuples(st.just("bytes"), st.sampled_from(_FILES), st.binary(max_size=40)),
    st.tuples(st.just("toml"), st.text(max_size=40)),
)


def _apply(folder: Path, edit: tuple) -> None:
    kind = edit[0]
    if kind == "toml":
        (folder / "dataset.toml").write_text(edit[1], encoding="utf-8")
        return
    name = edit[1]
    path = folder / name
    if kind == "truncate":
        path.write_bytes(path.read_bytes()[: edit[2]])
        return
    if kind == "bytes":
        path.write_bytes(edit[2])
        return
    try:
        header, rows = read(folder, name)
    except (UnicodeDecodeError, csv.Error, IndexError):
        return  # already broken by an earlier edit
    if not rows:
        return
    if kind == "cell":
        row = rows[edit[2] % len(rows)]
        if row:
            row[edit[3] % len(row)] = edit[4]
    elif kind == "drop_row":
        del rows[edit[2] % len(rows)]
    elif kind == "dup_row":
        rows.append(rows[edit[2] % len(rows)])
    elif kind == "drop_col":
        i = edit[2] % len(header)
        header = header[:i] + header[i + 1 :]
        rows = [r[:i] + r[i + 1 :] for r in rows]
    write(folder, name, header, rows)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_EDITS, min_size=0, max_size=3))
def test_random_tables_load_or_raise_validation_error(edits):
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_dataset(TINY, Path(tmp) / "tiny")
        for edit in edits:
            _apply(folder, edit)
        try:
            ds = load_dataset(folder)
        except ValidationError as exc:
            assert "\n" not in str(exc)
            return
        assert isinstance(ds, xr.Dataset)
        assert ds.sizes["product"] >= 1


def test_a_lifetime_longer_than_the_horizon_is_warned(tmp_path, cli_env, ndsim_cmd):
    """200 years for a mean lifetime (20 meant): both `validate` and `run` say so, and run."""
    folder = copy_dataset(TINY, tmp_path / "tiny")
    set_cell(
        "lifetimes.csv",
        "value",
        "200",
        lambda r: r["variant"] == "paper" and r["product"] == "GEN" and r["parameter"] == "mean",
    )(folder)
    out = subprocess.run(
        [*ndsim_cmd, "validate", "--data", str(folder)], env=cli_env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert (
        "variant paper, product GEN: mean lifetime 200 yr is longer than the 13 years" in out.stderr
    )
    sc = tmp_path / "s.toml"
    sc.write_text(
        f'data = "{folder.as_posix()}"\n[run]\nlifetime_variant = "paper"\n[forecast]\nenabled = false\n'
    )
    run = subprocess.run(
        [*ndsim_cmd, "run", str(sc), "--no-figures", "--output", str(tmp_path / "r.nc")],
        env=cli_env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "product GEN: mean lifetime 200 yr" in run.stderr
