"""The machine-readable descriptions: ``datapackage.json`` and ``scenario.schema.json``.

The shipped files must equal what :mod:`ndsim.schemas` generates now, so a
change of a table or of ndsim's checks without regenerating them fails
here. Independently of the generator, the Data Package is checked against
the CSV files by a small reader written with the :mod:`csv` module (header
order, types, constraints, primary and foreign keys), and with the
``frictionless`` library; scenario files are checked with ``jsonschema``,
and broken data and broken scenarios must be refused both by the
descriptions and by ndsim's own checks.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ndsim import schemas, validate
from ndsim.errors import ScenarioError, ValidationError
from ndsim.resources import data_dir, scenarios_dir
from ndsim.scenario import SCHEMA, _Table, load_scenario

DATA = data_dir()
PACKAGE = DATA / schemas.DATAPACKAGE
SCENARIO_SCHEMA = scenarios_dir() / schemas.SCENARIO_SCHEMA
TINY = Path(__file__).resolve().parent / "data" / "tiny"
SHIPPED_SCENARIOS = sorted(p.name for p in scenarios_dir().glob("*.toml"))


@pytest.fixture(scope="module")
def package() -> dict:
    return json.loads(PACKAGE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scenario_schema() -> dict:
    return json.loads(SCENARIO_SCHEMA.read_text(encoding="utf-8"))


# --- an independent reader of Table Schema (csv module, no ndsim) -------------

MISSING = ("",)
DEFAULT_TRUE = ("true", "True", "TRUE", "1")
DEFAULT_FALSE = ("false", "False", "FALSE", "0")
NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|NaN|-?INF")
KNOWN_CONSTRAINTS = {"required", "minimum", "maximum", "enum", "pattern"}


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line, cells) of each non-blank row."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [(reader.line_num, row) for row in reader if row]
    return header, rows


def parse(field: dict, cell: str):
    """The value of a non-missing cell under the field's type; ValueError if it is not one."""
    kind = field.get("type", "string")
    if kind == "string":
        return cell
    if kind == "integer" and re.fullmatch(r"[+-]?[0-9]+", cell):
        return int(cell)
    if kind == "number" and NUMBER.fullmatch(cell):
        return float(cell.replace("INF", "inf"))
    if kind == "year" and re.fullmatch(r"-?[0-9]{4}", cell):
        return int(cell)
    if kind == "boolean":
        if cell in field.get("trueValues", DEFAULT_TRUE):
            return True
        if cell in field.get("falseValues", DEFAULT_FALSE):
            return False
    if kind not in ("integer", "number", "year", "boolean"):
        raise ValueError(f"type {kind!r} is unknown to this reader")
    raise ValueError(f"not a {kind}")


def cell_problem(field: dict, cell: str) -> str | None:
    """Why a cell breaks its field's type or constraints (None if it does not)."""
    constraints = field.get("constraints", {})
    unknown = set(constraints) - KNOWN_CONSTRAINTS
    if unknown:
        return f"constraints {sorted(unknown)} are unknown to this reader"
    if cell in MISSING:
        return "required but empty" if constraints.get("required") else None
    try:
        value = parse(field, cell)
    except ValueError as exc:
        return f"{cell!r}: {exc}"
    if "minimum" in constraints and value < constraints["minimum"]:
        return f"{cell!r} < minimum {constraints['minimum']}"
    if "maximum" in constraints and value > constraints["maximum"]:
        return f"{cell!r} > maximum {constraints['maximum']}"
    if "enum" in constraints and value not in [parse(field, str(e)) for e in constraints["enum"]]:
        return f"{cell!r} not in enum"
    if "pattern" in constraints and not re.fullmatch(constraints["pattern"], cell):
        return f"{cell!r} does not match the pattern"
    return None


def resource_problems(folder: Path, resource: dict) -> list[str]:
    """Header, cells and primary key of one resource against its CSV file."""
    path = folder / resource["path"]
    header, rows = read_csv(path)
    fields = resource["schema"]["fields"]
    names = [f["name"] for f in fields]
    if header != names:
        return [f"{path.name}: header {header} != fields {names}"]
    out = []
    for line, row in rows:
        if len(row) != len(fields):
            out.append(f"{path.name} line {line}: {len(row)} cells, {len(fields)} fields")
            continue
        for field, cell in zip(fields, row, strict=True):
            problem = cell_problem(field, cell)
            if problem:
                out.append(f"{path.name} line {line} {field['name']}: {problem}")
    key = resource["schema"].get("primaryKey", [])
    key = [key] if isinstance(key, str) else key
    if key:
        index = [names.index(k) for k in key]
        seen: dict[tuple, int] = {}
        for line, row in rows:
            cells = tuple(row[i] for i in index)
            if cells in seen:
                out.append(
                    f"{path.name} line {line}: primary key {cells} repeats line {seen[cells]}"
                )
            seen.setdefault(cells, line)
    return out


def foreign_key_problems(folder: Path, package: dict) -> list[str]:
    """Every foreign key of every resource resolves in the resource it references."""
    by_name = {r["name"]: r for r in package["resources"]}
    out = []
    for resource in package["resources"]:
        header, rows = read_csv(folder / resource["path"])
        for key in resource["schema"].get("foreignKeys", []):
            fields = [key["fields"]] if isinstance(key["fields"], str) else key["fields"]
            ref = key["reference"]
            ref_fields = [ref["fields"]] if isinstance(ref["fields"], str) else ref["fields"]
            target = by_name.get(ref["resource"])
            if target is None:
                out.append(f"{resource['name']}: no resource {ref['resource']!r}")
                continue
            ref_header, ref_rows = read_csv(folder / target["path"])
            known = {tuple(row[ref_header.index(f)] for f in ref_fields) for _, row in ref_rows}
            for line, row in rows:
                cells = tuple(row[header.index(f)] for f in fields)
                if all(c not in MISSING for c in cells) and cells not in known:
                    out.append(f"{resource['path']} line {line}: {cells} not in {target['path']}")
    return out


def package_problems(folder: Path, package: dict) -> list[str]:
    out = []
    for resource in package["resources"]:
        out += resource_problems(folder, resource)
    return out + foreign_key_problems(folder, package)


# --- the Data Package ---------------------------------------------------------


def test_shipped_datapackage_is_current():
    generated = schemas.dumps(schemas.datapackage(DATA))
    assert PACKAGE.read_text(encoding="utf-8") == generated, (
        "data/china_nd/datapackage.json is out of date: run python -m ndsim.schemas"
    )


def test_every_csv_table_is_a_resource(package):
    paths = [r["path"] for r in package["resources"]]
    assert sorted(paths) == sorted(p.name for p in DATA.glob("*.csv"))
    assert len({r["name"] for r in package["resources"]}) == len(paths)
    assert package["profile"] == "tabular-data-package"
    assert package["name"] == tomllib.loads((DATA / "dataset.toml").read_text())["name"]
    for resource in package["resources"]:
        assert resource["profile"] == "tabular-data-resource"
        assert (resource["format"], resource["encoding"]) == ("csv", "utf-8")
        assert not Path(resource["path"]).is_absolute() and ".." not in resource["path"]


def test_every_required_table_is_described(package):
    paths = {r["path"] for r in package["resources"]}
    assert set(validate.REQUIRED_TABLES) <= paths


def test_fields_are_the_csv_headers_in_order(package):
    for resource in package["resources"]:
        header, _ = read_csv(DATA / resource["path"])
        assert [f["name"] for f in resource["schema"]["fields"]] == header, resource["path"]


def test_every_value_satisfies_its_type_and_constraints(package):
    problems = []
    for resource in package["resources"]:
        problems += resource_problems(DATA, resource)
    assert problems == [], "\n".join(problems[:20])


def test_foreign_keys_resolve_to_products(package):
    keyed = [r["name"] for r in package["resources"] if r["schema"].get("foreignKeys")]
    assert {"production", "nd_content", "adoption_rate", "final_trade", "lifetimes"} <= set(keyed)
    problems = foreign_key_problems(DATA, package)
    assert problems == [], "\n".join(problems[:20])


def test_keys_and_codes_come_from_the_checks(package):
    """Primary keys are the duplicate-check keys, codes the values ndsim allows."""
    resources = {r["path"]: r for r in package["resources"]}
    fields = {path: {f["name"]: f for f in r["schema"]["fields"]} for path, r in resources.items()}
    assert resources["products.csv"]["schema"]["primaryKey"] == ["product"]
    assert resources["final_trade.csv"]["schema"]["primaryKey"] == ["product", "flow", "year"]
    assert resources["lifetimes.csv"]["schema"]["primaryKey"] == ["variant", "product", "parameter"]
    quality = fields["production.csv"]["quality"]["constraints"]
    assert quality["enum"] == list(validate.QUALITY_FLAGS) and quality["required"]
    assert fields["primary_trade.csv"]["flow"]["constraints"]["enum"] == list(
        validate.PRIMARY_FLOWS
    )
    assert fields["mining.csv"]["basis"]["constraints"]["enum"] == list(validate.MINING_BASES)
    header, rows = read_csv(DATA / "products.csv")
    codes = [row[header.index("product")] for _, row in rows]
    assert fields["production.csv"]["product"]["constraints"]["enum"] == codes
    # the years of dataset.toml: history_first..last for the unit-flow tables
    years = tomllib.loads((DATA / "dataset.toml").read_text())["years"]
    year = fields["production.csv"]["year"]
    assert (year["type"], year["constraints"]["minimum"], year["constraints"]["maximum"]) == (
        "year",
        years["history_first"],
        years["last"],
    )
    assert "required" not in fields["yields.csv"]["year"].get("constraints", {})
    # a table ndsim does not read: types inferred from the file, and said so
    extra = fields["production_statistic.csv"]
    assert (extra["year"]["type"], extra["value"]["type"]) == ("integer", "number")
    assert "inferred from the file" in extra["value"]["description"]


def test_package_follows_validate(monkeypatch):
    """A change of ndsim's declarations changes the generated package."""
    monkeypatch.setattr(validate, "QUALITY_FLAGS", (*validate.QUALITY_FLAGS, "model"))
    package = schemas.datapackage(DATA)
    production = next(r for r in package["resources"] if r["path"] == "production.csv")
    quality = next(f for f in production["schema"]["fields"] if f["name"] == "quality")
    assert quality["constraints"]["enum"][-1] == "model"
    assert schemas.dumps(package) != PACKAGE.read_text(encoding="utf-8")


def _copy(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / folder.name
    out.mkdir()
    for path in folder.iterdir():
        if path.is_file():
            shutil.copy(path, out / path.name)
    return out


def _edit(path: Path, change: Callable[[list[str], list[list[str]]], None]) -> None:
    header, rows = read_csv(path)
    cells = [row for _, row in rows]
    change(header, cells)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *cells])


def _set(column: str, value: str, row: int = 0) -> Callable:
    def change(header: list[str], rows: list[list[str]]) -> None:
        rows[row][header.index(column)] = value

    return change


def _set_all(column: str, value: str) -> Callable:
    def change(header: list[str], rows: list[list[str]]) -> None:
        for row in rows:
            row[header.index(column)] = value

    return change


def _duplicate(header: list[str], rows: list[list[str]]) -> None:
    rows.append(list(rows[0]))


def _model(header: list[str], rows: list[list[str]]) -> None:
    i = next(i for i, r in enumerate(rows) if r[header.index("parameter")] == "model")
    rows[i][header.index("value")] = "exponential"


BROKEN = {
    "unknown quality flag": ("production.csv", _set("quality", "guess")),
    "negative value": ("production.csv", _set("value", "-1", row=5)),
    "text for a number": ("recycling.csv", _set("value", "high")),
    "unknown product": ("nd_content.csv", _set("product", "XX")),
    "duplicate key": ("final_trade.csv", _duplicate),
    "year outside the run": ("adoption_rate.csv", _set("year", "1900")),
    "unknown mining basis": ("mining.csv", _set_all("basis", "oxide")),
    "unknown lifetime model": ("lifetimes.csv", _model),
    "not a boolean": ("products.csv", _set("in_total_demand", "maybe")),
    "empty unit": ("drivers.csv", _set("unit", "")),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_data_is_refused_by_package_and_ndsim(case, package, tmp_path):
    name, change = BROKEN[case]
    folder = _copy(DATA, tmp_path)
    _edit(folder / name, change)
    problems = package_problems(folder, package)
    assert any(p.startswith(name) for p in problems), f"{case}: the package accepts it"
    with pytest.raises(ValidationError):
        validate.check_dataset(folder)


def test_rewritten_copy_is_accepted_by_package_and_ndsim(package, tmp_path):
    """The control of the cases above: rewriting a table unchanged breaks nothing."""
    folder = _copy(DATA, tmp_path)
    for name in ("production.csv", "lifetimes.csv", "products.csv"):
        _edit(folder / name, lambda header, rows: None)
    assert package_problems(folder, package) == []
    validate.check_dataset(folder)


def test_tiny_dataset_package(tmp_path):
    """Every table of docs/data_format.md, ore-source codes and units other than 1."""
    package = schemas.datapackage(TINY)
    assert sorted(r["path"] for r in package["resources"]) == sorted(
        p.name for p in TINY.glob("*.csv")
    )
    fields = {
        r["path"]: {f["name"]: f for f in r["schema"]["fields"]} for r in package["resources"]
    }
    sources = tomllib.loads((TINY / "dataset.toml").read_text())["sources"]
    assert fields["mining.csv"]["ore_source"]["constraints"]["enum"] == sources
    assert package["ore_sources"] == sources
    # yields in % (90 %) pass: the bound of 1 holds after conversion, so it is no constraint
    assert "maximum" not in fields["yields.csv"]["value"]["constraints"]
    assert "pattern" in fields["ownership_nonhousehold.csv"]["products"]["constraints"]
    problems = package_problems(TINY, package)
    assert problems == [], "\n".join(problems[:20])


def test_frictionless_validates_the_shipped_package():
    import frictionless

    report = frictionless.validate(str(PACKAGE))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "message"])[:10]
    assert report.stats["tasks"] == len(list(DATA.glob("*.csv")))


def test_frictionless_refuses_broken_data(tmp_path):
    import frictionless

    folder = _copy(DATA, tmp_path)
    _edit(folder / "nd_content.csv", _set("product", "XX"))
    _edit(folder / "production.csv", _set("value", "-1", row=5))
    _edit(folder / "lifetimes.csv", _set("value", "normally"))  # starts with a model name
    report = frictionless.validate(str(folder / schemas.DATAPACKAGE))
    found = {(task.name, error.type) for task in report.tasks for error in task.errors}
    assert found == {
        ("nd_content", "constraint-error"),
        ("nd_content", "foreign-key"),
        ("production", "constraint-error"),
        ("lifetimes", "constraint-error"),
    }


def test_frictionless_validates_the_tiny_package(tmp_path):
    import frictionless

    folder = _copy(TINY, tmp_path)
    schemas.write(folder, tmp_path / "scenario.schema.json")
    report = frictionless.validate(str(folder / schemas.DATAPACKAGE))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "message"])[:10]


def test_write_and_check(tmp_path):
    folder = _copy(TINY, tmp_path)
    written = schemas.write(folder / schemas.DATAPACKAGE, tmp_path)
    assert written == (folder / schemas.DATAPACKAGE, tmp_path / schemas.SCENARIO_SCHEMA)
    assert written[0].read_text(encoding="utf-8") == schemas.dumps(schemas.datapackage(folder))
    assert written[1].read_text(encoding="utf-8") == SCENARIO_SCHEMA.read_text(encoding="utf-8")
    text = written[0].read_text(encoding="utf-8")
    assert text.endswith("}\n") and '\n  "resources": [\n' in text
    assert str(tmp_path) not in text
    assert schemas.main(["--check"]) == 0


# --- the JSON Schema of scenario files ----------------------------------------


def test_shipped_scenario_schema_is_current():
    generated = schemas.dumps(schemas.scenario_json_schema())
    assert SCENARIO_SCHEMA.read_text(encoding="utf-8") == generated, (
        "scenarios/scenario.schema.json is out of date: run python -m ndsim.schemas"
    )


def test_scenario_schema_is_a_valid_draft_2020_12_schema(scenario_schema):
    assert scenario_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(scenario_schema)


def test_scenario_schema_has_every_key_of_ndsim(scenario_schema):
    """Sections and keys read from ndsim.scenario.SCHEMA itself, not from the generator."""
    assert list(scenario_schema["properties"]) == list(SCHEMA.keys)
    assert scenario_schema["additionalProperties"] is False
    for section, spec in SCHEMA.keys.items():
        if isinstance(spec, _Table):
            node = scenario_schema["properties"][section]
            assert list(node["properties"]) == list(spec.keys), section
            assert node["additionalProperties"] is False, section
    run = scenario_schema["properties"]["run"]["properties"]
    assert run["upstream"]["enum"] == ["residual", "reconciled"]
    supply = scenario_schema["properties"]["supply"]["properties"]
    assert supply["net_exports"]["enum"] == ["share", "tonnes"]


@pytest.mark.parametrize("name", SHIPPED_SCENARIOS)
def test_shipped_scenarios_validate(name, scenario_schema):
    doc = tomllib.loads((scenarios_dir() / name).read_text(encoding="utf-8"))
    errors = [e.message for e in Draft202012Validator(scenario_schema).iter_errors(doc)]
    assert errors == []


REFUSED = {
    "unknown top-level key": 'nmae = "x"\n',
    "unknown key in a section": '[run]\nupstrem = "reconciled"\n',
    "bad upstream": '[run]\nupstream = "both"\n',
    "bad net_exports": '[supply]\nnet_exports = "percent"\n',
    "wrong type": '[forecast]\nenabled = "yes"\n',
    "rate in percent": "[forecast.growth_rates]\nEV = [[2018, 2050, 5]]\n",
    "unknown Monte Carlo input": "[uncertainty.cv]\nprodction = 0.1\n",
    "unknown lifetime model": '[lifetimes]\nAC = {model = "exponential", mean = 10}\n',
}
ACCEPTED = {
    "net exports in tonnes": '[supply]\nnet_exports = "tonnes"\n',
    "full adoption and a logistic": '[forecast]\nadoption = "full"\n'
    "[forecast.sales_share]\nEV = {level = 0.5, year = 2035}\n",
    "a lifetime override": '[lifetimes]\nAC = {model = "weibull", shape = 2.0, scale = 12}\n',
    "recycling points": "[recycling]\nrate = [[2020, 0.1], [2030, 0.3]]\n"
    "recovery_efficiency = 0.9\n",
}


def _scenario(tmp_path: Path, text: str) -> tuple[dict, Path]:
    path = tmp_path / "my.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tomllib.loads(path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_schema_and_loader_refuse_the_same(case, scenario_schema, tmp_path):
    doc, path = _scenario(tmp_path, REFUSED[case])
    assert list(Draft202012Validator(scenario_schema).iter_errors(doc)), case
    with pytest.raises(ScenarioError):
        load_scenario(path)


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_schema_and_loader_accept_the_same(case, scenario_schema, tmp_path):
    doc, path = _scenario(tmp_path, ACCEPTED[case])
    assert [e.message for e in Draft202012Validator(scenario_schema).iter_errors(doc)] == []
    load_scenario(path)
