"""Machine-readable descriptions of a data set and of scenario files.

Two JSON documents are generated from ndsim's own declarations, so that they
follow the code rather than a second, hand-kept copy of it:

- :func:`datapackage`: a `Frictionless Data Package
  <https://specs.frictionlessdata.io/data-package/>`_ (v1, tabular) that
  describes every CSV table of a data set folder: its fields in file order,
  their types, constraints, primary key and foreign keys to ``products.csv``.
  The checks are taken from :mod:`ndsim.validate` by running
  :func:`ndsim.validate.check_dataset` on the folder and recording which
  check it applies to which column (required columns, codes, numbers, signs,
  years, duplicate keys, units). Tables that ndsim does not read get the
  types inferred from the file, and their descriptions say so.
- :func:`scenario_json_schema`: a JSON Schema (draft 2020-12) of scenario
  files as parsed by :mod:`tomllib`, generated from
  :data:`ndsim.scenario.SCHEMA` (sections, keys, types, ranges and allowed
  values; unknown keys are refused, as ndsim refuses them).

``python -m ndsim.schemas`` regenerates the shipped files
``data/china_nd/datapackage.json`` and ``scenarios/scenario.schema.json``;
``python -m ndsim.schemas --check`` only reports whether they are current.

Both documents describe more than they can enforce: a data set must also be
complete (a row for every product and year) and its numbers finite, and a
scenario's growth periods must not overlap; :mod:`ndsim.validate` and
:mod:`ndsim.scenario` check those, and the descriptions say so.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import inspect
import json
import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ndsim import validate
from ndsim.conventions import QUALITY_CV

__all__ = [
    "DATAPACKAGE",
    "SCENARIO_SCHEMA",
    "datapackage",
    "scenario_json_schema",
    "dumps",
    "write",
    "main",
]

#: file name of the Data Package descriptor, inside the data set folder
DATAPACKAGE = "datapackage.json"
#: file name of the JSON Schema of scenario files, beside the shipped scenarios
SCENARIO_SCHEMA = "scenario.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: a number as check_numbers reads it (the lexical form of a Table Schema number)
NUMBER_PATTERN = r"[+\-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+\-]?[0-9]+)?"
_INTEGER = re.compile(r"[+\-]?[0-9]+")
_NUMBER = re.compile(NUMBER_PATTERN)

# --- what the columns and tables mean (docs/data_format.md) -------------------

_COLUMN_DOCS = {
    "product": "Product (end use) code.",
    "products": "One product code, or several joined by '+' where one statistic covers them "
    "(e.g. DC+LP).",
    "intermediate": "Intermediate the end use is made from (a value of products.csv "
    "`intermediate`).",
    "flow": "Trade flow.",
    "year": "Year.",
    "value": "The value, in the unit of its row.",
    "unit": "Unit string read by ndsim's unit registry (ndsim.units), e.g. `unit yr-1`, "
    "`t yr-1`, `g unit-1`, `1`, `%`; a unit of the wrong dimension is an error.",
    "quality": "Quality flag (SPEC §5); sets the default Monte Carlo coefficient of variation.",
    "source": "The citation, or for an estimate the short name of the method; may be empty "
    "only where `method` is given.",
    "method": "How a reconstructed value was made.",
    "note": "A note on the row.",
    "sd": "Standard deviation of the value, in the value's unit: the Monte Carlo samples the "
    "value with CV = sd / value and the reconciliation (SPEC §3) weighs the value by it.",
    "basis": "What the figure counts the element on.",
    "ore_source": "Ore source (the column is `ore_source` because `source` is the citation).",
    "process": "Process of the yield.",
    "parameter": "Parameter.",
    "variant": "Lifetime variant: one lifetime table per variant (the scenario key "
    "`run.lifetime_variant` chooses one).",
    "driver": "Socio-economic driver of the forecast.",
    "quantity": "`units_per_year`: units sold into use per year; `units_per_person`: units in "
    "use per person.",
    "name": "Name of the product.",
    "category": "Category of the product.",
    "group": "Forecast group of the product.",
    "count_unit": "Unit the product is counted in (`unit`, `MW`, `t`): production is in "
    "count_unit per year, the content in t per count_unit.",
    "in_total_demand": "Whether the product counts in the total demand.",
    "forecast_method": "How the product is forecast (`gompertz` is the older name of `fleet`).",
    "description": "Description of the product.",
}

_TABLE_DOCS = {
    "products.csv": "The end-use products: codes, names, the intermediate each is made of, "
    "the unit it is counted in and its forecast method.",
    "production.csv": "Production P of each product, in its count_unit per year, as the "
    "statistics give it.",
    "nd_content.csv": "Content of the element per counted unit of each product.",
    "adoption_rate.csv": "Adoption rate: share of a product's production that contains the "
    "element (magnets).",
    "final_trade.csv": "Exports and imports of the final products, in their count_unit per year.",
    "intermediate_trade.csv": "Exports and imports of the intermediates (element content).",
    "primary_trade.csv": "Exports and imports of primary rare-earth products (element content), "
    "with unregistered exports.",
    "concentrate_trade.csv": "Exports and imports of concentrate (element content).",
    "mining.csv": "Official mine output per ore source (element content).",
    "yields.csv": "Process yields; a blank intermediate means all intermediates, a blank year "
    "all years, and a specific row wins over a blank one.",
    "recycling.csv": "End-of-life recycling rate per year and the one recovery efficiency "
    "(blank year).",
    "lifetimes.csv": "Product lifetimes per variant: a `model` row (fixed, normal, lognormal, "
    "weibull or gamma) and the parameters the model needs.",
    "unregistered_mining_prior.csv": "Independent estimates of unregistered mining, a "
    "measurement of the reconciliation (SPEC §3).",
    "intermediate_production.csv": "Production statistics of intermediates, a measurement of "
    "the reconciliation (SPEC §3).",
    "drivers.csv": "Socio-economic drivers of the forecast (population, GDP per capita, "
    "households).",
    "intensity_calibration.csv": "Calibration factor k of the cohort intensity m = k MI AR "
    "(1 where absent).",
    "ownership.csv": "Statistics of units in use per household or per person; the unit's "
    "denominator gives the basis.",
    "ownership_nonhousehold.csv": "Share of the units in use outside households.",
    "plausibility.csv": "Sourced upper bounds the forecast is flagged against.",
}

#: what check_range's kinds mean for the value in its canonical unit (validate.check_range)
_RANGE_DOCS = {
    "nonnegative": "Not negative.",
    "positive": "Greater than 0.",
    "share": "In [0, 1] after conversion to the unit 1 (e.g. up to 100 with unit %).",
    "yield": "In (0, 1] after conversion to the unit 1 (e.g. up to 100 with unit %).",
}


# --- recording the checks of ndsim.validate -----------------------------------


@dataclass
class _Column:
    """What the checks of :mod:`ndsim.validate` require of one column."""

    required: bool = False
    required_where: bool = False
    number: bool = False
    number_where: bool = False
    codes: tuple[str, ...] | None = None
    blank_ok: bool = False
    range: str | None = None
    range_where: bool = False
    years: tuple[int, int] | None = None
    units: tuple[str, ...] = ()


@dataclass
class _Record:
    """The checks run on one table."""

    name: str
    columns: dict[str, _Column] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    complete: tuple[str, ...] = ()
    coverage: tuple[str, int, int] | None = None
    mining_basis: bool = False

    def column(self, name: str) -> _Column:
        return self.columns.setdefault(name, _Column())


class _Recorder:
    """Hooks called after each check of :mod:`ndsim.validate` with its bound arguments."""

    def __init__(self) -> None:
        self.records: dict[str, _Record] = {}

    def record(self, table: validate.Table) -> _Record:
        name = Path(table.label).name
        return self.records.setdefault(name, _Record(name))

    def check_nonempty(
        self, table: validate.Table, columns: Iterable[str], mask: np.ndarray | None
    ) -> None:
        for column in columns:
            col = self.record(table).column(column)
            if mask is None:
                col.required = True
            else:
                col.required_where = True

    def check_codes(
        self,
        table: validate.Table,
        column: str,
        allowed: Sequence[str],
        what: str | None,
        blank_ok: bool,
    ) -> None:
        col = self.record(table).column(column)
        col.codes = tuple(str(a) for a in allowed)
        col.blank_ok = blank_ok
        if not blank_ok and "" not in col.codes:
            col.required = True

    def check_numbers(self, table: validate.Table, column: str, mask: np.ndarray | None) -> None:
        col = self.record(table).column(column)
        if mask is None:
            col.number = col.required = True
        else:
            col.number_where = True

    def check_range(
        self,
        table: validate.Table,
        values: np.ndarray,
        kind: str,
        column: str,
        mask: np.ndarray | None,
    ) -> None:
        col = self.record(table).column(column)
        col.range = kind
        col.range_where = mask is not None

    def check_years(
        self,
        table: validate.Table,
        first: int,
        last: int,
        column: str,
        blank_ok: bool,
        span: str,
    ) -> None:
        col = self.record(table).column(column)
        col.years = (int(first), int(last))
        col.blank_ok = blank_ok
        col.required = not blank_ok

    def check_year_coverage(
        self,
        table: validate.Table,
        years: np.ndarray,
        first: int,
        last: int,
        column: str,
        span: str,
    ) -> None:
        self.record(table).coverage = (column, int(first), int(last))

    def check_duplicates(self, table: validate.Table, keys: Sequence[str]) -> None:
        self.record(table).primary_key = tuple(keys)

    def check_complete(
        self,
        table: validate.Table,
        expected: Mapping[str, Sequence],
        observed: Mapping[str, np.ndarray],
        free: Sequence[str],
    ) -> None:
        self.record(table).complete = tuple(expected)

    def check_units(
        self,
        table: validate.Table,
        target: Callable[[int], str] | str,
        mask: np.ndarray | None,
    ) -> None:
        rows = np.flatnonzero(np.ones(len(table), bool) if mask is None else mask)
        goals = [target(i) if callable(target) else target for i in rows]
        col = self.record(table).column("unit")
        col.units = tuple(dict.fromkeys([*col.units, *goals]))

    def _mining_basis(self, name: str, table: Mapping[str, np.ndarray]) -> None:
        record = self.records.setdefault(Path(name).name, _Record(Path(name).name))
        record.mining_basis = True


#: the checks of ndsim.validate that _Recorder follows (one method of the same name each)
_RECORDED = (
    "check_nonempty",
    "check_codes",
    "check_numbers",
    "check_range",
    "check_years",
    "check_year_coverage",
    "check_duplicates",
    "check_complete",
    "check_units",
    "_mining_basis",
)


def _hooked(original: Callable, hook: Callable) -> Callable:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        hook(**bound.arguments)
        return result

    return run


@contextlib.contextmanager
def _recording(recorder: _Recorder) -> Iterator[None]:
    """Route the checks of :mod:`ndsim.validate` through ``recorder`` (not thread-safe)."""
    saved = {name: getattr(validate, name) for name in _RECORDED}
    try:
        for name in _RECORDED:
            setattr(validate, name, _hooked(saved[name], getattr(recorder, name)))
        yield
    finally:
        for name, original in saved.items():
            setattr(validate, name, original)


def _record_checks(folder: Path) -> tuple[dict[str, _Record], validate.CheckedData]:
    """Run :func:`ndsim.validate.check_dataset` on ``folder`` and record its checks."""
    recorder = _Recorder()
    with _recording(recorder):
        checked = validate.check_dataset(folder)
    return recorder.records, checked


# --- the Data Package ---------------------------------------------------------


def _inferred_type(cells: np.ndarray) -> str:
    """``integer``, ``number`` or ``string``: what every non-blank cell reads as."""
    filled = [c for c in cells if c != ""]
    if filled and all(_INTEGER.fullmatch(c) for c in filled):
        return "integer"
    if filled and all(_NUMBER.fullmatch(c) for c in filled):
        return "number"
    return "string"


def _code_pattern(codes: Sequence[str], separator: str) -> str:
    """An (implicitly anchored) pattern of codes joined by ``separator``."""
    one = "(" + "|".join(re.escape(c) for c in codes) + ")"
    return f"{one}({re.escape(separator)}{one})*"


def _boolean_words(words: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(w for word in words for w in (word, word.title(), word.upper())))


def _field(
    name: str,
    column: _Column | None,
    record: _Record | None,
    cells: np.ndarray,
    checked: validate.CheckedData,
) -> tuple[dict, dict | None]:
    """A Table Schema field for one column, and its foreign key (or None)."""
    codes = tuple(str(c) for c in checked.products["product"])
    table = record.name if record is not None else ""
    constraints: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    foreign = None
    if record is None:
        type_ = _inferred_type(cells)
        docs = [f"Type {type_} inferred from the file: ndsim does not read this table."]
        return _assemble(name, type_, docs, constraints, extra), None
    docs = [_COLUMN_DOCS.get(name, "")]
    column = column or _Column()
    type_ = "string"
    if column.required:
        constraints["required"] = True
    if column.number:
        type_ = "number"
        docs.append("A finite number (NaN and INF are refused).")
    if column.years is not None:
        type_ = "year"
        lo, hi = column.years
        constraints["minimum"], constraints["maximum"] = lo, hi
        if column.blank_ok:
            docs.append("Blank means every year.")
    if column.range is not None:
        docs.append(_RANGE_DOCS[column.range])
        if column.number and not column.range_where:
            # conversion factors are positive: the sign holds in any unit, a bound of 1 does not
            constraints["minimum"] = 0
    if table == "products.csv" and name == "in_total_demand":
        type_ = "boolean"
        extra["trueValues"] = _boolean_words(validate.TRUE_WORDS)
        extra["falseValues"] = _boolean_words(validate.FALSE_WORDS)
        docs.append("ndsim reads these words in any letter case.")
    if table == "lifetimes.csv" and name == "value" and column.number_where:
        models = validate.LIFETIME_MODELS
        # one group: a Table Schema pattern is anchored as ^(...)$ around the whole
        constraints["pattern"] = "(" + "|".join([*models, NUMBER_PATTERN]) + ")"
        docs.append(
            f"In a `model` row the lifetime model ({', '.join(models)}), in the other rows a "
            "number in the row's unit, greater than 0."
        )
    elif column.number_where:
        docs.append("A number in the rows that carry one.")
    if column.required_where and not column.required:
        docs.append("Required in the rows that carry a number.")
    if name == "unit" and column.units:
        docs.append(f"Converted at load to {' or '.join(f'`{u}`' for u in column.units)}.")
    if name == "products" and column.codes is not None:
        constraints["pattern"] = _code_pattern(codes, validate.GROUP_SEPARATOR)
        docs.append("Each code is a product of products.csv, in one group at most.")
    elif column.codes is not None:
        constraints["enum"] = list(column.codes)
        if column.codes == codes and table != "products.csv":
            foreign = {
                "fields": name,
                "reference": {"resource": "products", "fields": "product"},
            }
        elif column.codes == tuple(map(str, checked.intermediates)) and name == "intermediate":
            docs.append("Blank means every intermediate." if column.blank_ok else "")
        if name == "quality":
            docs.append(
                "CV: " + ", ".join(f"{k} {100 * v:g} %" for k, v in QUALITY_CV.items()) + "."
            )
    if name == "basis" and record.mining_basis:
        constraints["enum"] = list(validate.MINING_BASES)
        docs.append(
            "`ore`: in the ore mined; `concentrate`: in the rare-earth oxide of the concentrate "
            "(not passed through the beneficiation yield again); one basis per table."
        )
    return _assemble(name, type_, docs, constraints, extra), foreign


def _assemble(
    name: str, type_: str, docs: list[str], constraints: dict, extra: dict
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": type_}
    description = " ".join(d for d in docs if d)
    if description:
        out["description"] = description
    out.update(extra)
    if constraints:
        out["constraints"] = constraints
    return out


def _table_order(folder: Path) -> list[str]:
    """The CSV tables of ``folder``: ndsim's required tables, its optional ones, then the rest."""
    present = {p.name for p in folder.glob("*.csv") if p.is_file()}
    declared = [*validate.REQUIRED_TABLES, *validate.OPTIONAL_TABLES]
    return [n for n in declared if n in present] + sorted(present - set(declared))


def _resource(
    folder: Path, name: str, record: _Record | None, checked: validate.CheckedData
) -> dict[str, Any]:
    table = validate.read_table(folder, name)
    fields, foreign = [], []
    for column in table.header:
        spec, key = _field(
            column,
            record.columns.get(column) if record is not None else None,
            record,
            table[column],
            checked,
        )
        fields.append(spec)
        if key is not None:
            foreign.append(key)
    if record is None:
        role = "Not read by ndsim (an extra table of the data set)."
    elif name in validate.REQUIRED_TABLES:
        role = "Required by ndsim."
    else:
        role = "Optional: read by ndsim where present."
    docs = [_TABLE_DOCS.get(name, ""), role]
    if record is not None and record.complete:
        docs.append(f"A row for every combination of {', '.join(record.complete)}.")
    if record is not None and record.coverage is not None:
        column, lo, hi = record.coverage
        docs.append(f"The {column}s are contiguous and cover {lo}-{hi}.")
    schema: dict[str, Any] = {"fields": fields}
    if record is not None and record.primary_key:
        schema["primaryKey"] = list(record.primary_key)
    if foreign:
        schema["foreignKeys"] = foreign
    return {
        "name": Path(name).stem,
        "path": name,
        "profile": "tabular-data-resource",
        "description": " ".join(d for d in docs if d),
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": schema,
    }


def datapackage(folder: str | Path | None = None) -> dict[str, Any]:
    """A Frictionless Data Package (v1) describing every CSV table of a data set.

    Parameters
    ----------
    folder : str or Path, optional
        The data set folder (default: the shipped data set,
        :func:`ndsim.resources.data_dir`). It must pass ndsim's checks.

    Returns
    -------
    dict
        The descriptor (``tabular-data-package``): the metadata of
        ``dataset.toml`` and one ``tabular-data-resource`` per CSV table,
        with its fields in file order, their types and constraints, the key
        ndsim's duplicate check uses as ``primaryKey`` and ``foreignKeys``
        of product columns to ``products.csv``.

    Raises
    ------
    ndsim.errors.ValidationError
        The data set fails ndsim's checks.

    Notes
    -----
    Constraints are what holds for every table ndsim accepts: signs
    (``minimum``), years, codes (``enum``), required cells. Bounds that
    hold only after unit conversion (a share up to 1, or 100 with unit
    ``%``), completeness and finiteness are in the descriptions.

    The checks are recorded by wrapping the check functions of
    :mod:`ndsim.validate` while :func:`ndsim.validate.check_dataset` runs;
    do not call this from several threads at once.
    """
    if folder is None:
        from ndsim.resources import data_dir

        folder = data_dir()
    folder = Path(folder)
    records, checked = _record_checks(folder)
    raw = tomllib.loads((folder / "dataset.toml").read_text(encoding="utf-8"))
    meta = checked.meta
    package: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": meta["name"],
        "title": meta["title"],
    }
    if isinstance(raw.get("description"), str):
        package["description"] = raw["description"]
    for key in ("license", "licence", "licenses"):
        if key in raw:
            value = raw[key]
            package["licenses"] = value if isinstance(value, list) else [{"name": value}]
            break
    if (folder / "SOURCES.md").is_file():
        package["sources"] = [
            {"title": "Sources and methods of the data set", "path": "SOURCES.md"}
        ]
    for key in ("element", "region"):
        if meta.get(key):
            package[key] = meta[key]
    package["years"] = {
        k: meta[k] for k in ("history_first", "first", "last", "forecast_last") if k in meta
    }
    if meta.get("sources"):
        package["ore_sources"] = list(meta["sources"])
    for key in ("summary_years", "supply_years"):  # the years the run summary reports
        if meta.get(key):
            package[key] = [int(y) for y in meta[key]]
    package["resources"] = [
        _resource(folder, name, records.get(name), checked) for name in _table_order(folder)
    ]
    return package


# --- the JSON Schema of scenario files ----------------------------------------


def _plain(text: str) -> str:
    """Docstring markup to plain text: one line, single backticks, no roles, no Python None."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    text = re.sub(r"\bNone\b", "absent", text)
    return " ".join(text.replace("``", "`").split())


def _attribute_docs(cls: Any) -> dict[str, str]:
    """The ``Attributes`` section of a numpydoc class docstring: name -> description."""
    lines = (inspect.getdoc(cls) or "").splitlines() if cls is not None else []
    out: dict[str, str] = {}
    starts = [
        i
        for i, line in enumerate(lines[:-1])
        if line.strip() == "Attributes" and set(lines[i + 1].strip()) == {"-"}
    ]
    if not starts:
        return out
    names: list[str] = []
    text: list[str] = []

    def flush() -> None:
        for n in names:
            if text:
                out[n] = _plain(" ".join(text))

    body = lines[starts[0] + 2 :]
    for i, line in enumerate(body):
        if line and not line[0].isspace():
            if i + 1 < len(body) and set(body[i + 1].strip()) == {"-"}:
                break  # the next section
            flush()
            names = [n.strip() for n in line.split(" : ")[0].split(",")]
            text = []
        elif line.strip():
            text.append(line.strip())
    flush()
    return out


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return _plain(doc.split("\n\n")[0])


def _json_value(value: Any) -> Any:
    if isinstance(value, Mapping | MappingProxyType):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    return value


def _dataclass_defaults(cls: Any) -> tuple[dict[str, Any], list[str]]:
    """Defaults of a dataclass's fields (None left out) and the fields without one."""
    defaults: dict[str, Any] = {}
    required: list[str] = []
    if cls is None or not dataclasses.is_dataclass(cls):
        return defaults, required
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            required.append(f.name)
            continue
        if value is not None:
            defaults[f.name] = _json_value(value)
    return defaults, required


def _leaf(check: Callable) -> dict[str, Any]:
    """The JSON Schema of one leaf check of :mod:`ndsim.scenario`."""
    from ndsim import scenario as sc

    if check is sc._boolean:
        return {"type": "boolean"}
    if check is sc._rate:
        # _rate refuses what is outside (-1, 1] in its body (a percent gets a hint)
        return {
            "type": "number",
            "exclusiveMinimum": -1.0,
            "maximum": 1.0,
            "description": _summary(check),
        }
    if check is sc._periods:
        names = inspect.getclosurevars(check).globals
        year, rate = _leaf(names["_YEAR"]), _leaf(names["_RATE"])
        return {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "array",
                "prefixItems": [year, year, rate],
                "items": False,
                "minItems": 3,
            },
            "description": _summary(check),
        }
    kind = check.__qualname__.split(".")[0]
    bound = inspect.getclosurevars(check)
    free = bound.nonlocals
    if kind == "_string":
        out: dict[str, Any] = {"type": "string"}
        if free["choices"] is not None:
            out["enum"] = list(free["choices"])
        if free["pattern"] is not None:
            out["pattern"] = free["pattern"].pattern
        return out
    if kind == "_integer":
        out = {"type": "integer"}
        if free["lo"] is not None:
            out["minimum"] = free["lo"]
        if free["hi"] is not None:
            out["maximum"] = free["hi"]
        return out
    if kind == "_number":
        out = {"type": "number"}
        if free["lo"] is not None:
            out["exclusiveMinimum" if free["lo_open"] else "minimum"] = free["lo"]
        if free["hi"] is not None:
            out["exclusiveMaximum" if free["hi_open"] else "maximum"] = free["hi"]
        return out
    if kind == "_name_list":
        choices = free["choices"]
        item: dict[str, Any] = {"type": "string"}
        if choices:
            item["enum"] = list(choices)
        else:
            item["pattern"] = sc._NAME.pattern
        return {"type": "array", "items": item, "uniqueItems": True}
    if kind == "_points":
        year = _leaf(bound.globals["_YEAR"])
        return {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "array",
                "prefixItems": [year, _leaf(free["value"])],
                "items": False,
                "minItems": 2,
            },
            "description": "Points [year, value], years strictly increasing.",
        }
    raise TypeError(f"no JSON Schema for the scenario check {check.__qualname__!r}")


def _spec(spec: Any, owner: Any = None) -> dict[str, Any]:
    """The JSON Schema of a node of :data:`ndsim.scenario.SCHEMA`."""
    from ndsim import scenario as sc

    if isinstance(spec, sc._Table):
        cls = owner if owner is not None else spec.build
        docs = _attribute_docs(cls)
        defaults, required = _dataclass_defaults(spec.build)
        required = [*required, *(k for k in spec.required if k not in required)]
        properties = {}
        for key, sub in spec.keys.items():
            schema = _spec(sub)
            own = schema.get("description") if not isinstance(sub, sc._Table) else None
            if key in docs and not (isinstance(sub, sc._Table) and "description" in schema):
                # the key's own words first, then what its type says (points, periods)
                schema = {**schema, "description": " ".join(filter(None, [docs[key], own]))}
            if key in defaults:
                schema = {**schema, "default": defaults[key]}
            properties[key] = schema
        out: dict[str, Any] = {"type": "object"}
        if dataclasses.is_dataclass(spec.build):
            out["description"] = _summary(spec.build)
        out["properties"] = properties
        if required:
            out["required"] = [k for k in spec.keys if k in required]
        out["additionalProperties"] = False
        return out
    if isinstance(spec, sc._Map):
        names: dict[str, Any] = {"pattern": spec.key_pattern.pattern}
        if spec.choices is not None:
            names["enum"] = list(spec.choices)
        return {
            "type": "object",
            "propertyNames": names,
            "additionalProperties": _spec(spec.value),
        }
    if isinstance(spec, sc._Path):
        return {"anyOf": [_spec(spec.points), _spec(spec.table)]}
    if isinstance(spec, sc._Either):
        return {"anyOf": [{"type": "string", "enum": list(spec.choices)}, _spec(spec.other)]}
    if callable(spec):
        return _leaf(spec)
    raise TypeError(f"no JSON Schema for the scenario schema node {spec!r}")


def scenario_json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of scenario files, from :data:`ndsim.scenario.SCHEMA`.

    Returns
    -------
    dict
        The schema of a scenario file as :mod:`tomllib` parses it: its
        sections and keys with their types, ranges and allowed values,
        descriptions and defaults from the option classes of
        :mod:`ndsim.scenario`, and ``additionalProperties: false`` wherever
        ndsim refuses unknown keys.

    Raises
    ------
    TypeError
        A node of the scenario schema has no JSON Schema translation yet.

    Notes
    -----
    JSON Schema cannot tell 2030 from 2030.0 or refuse NaN and infinity,
    and it does not check that growth periods do not overlap or that the
    product codes and years fit the data set; ndsim's loader and
    :func:`ndsim.scenario.check_against` do.
    """
    from ndsim import scenario as sc

    body = _spec(sc.SCHEMA, owner=sc.Scenario)
    body.pop("description", None)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "ndsim scenario file",
        "description": _plain(
            "A scenario names its data set and overrides parameters of the run, the forecast, "
            "recycling, supply and uncertainty; every key is optional and an unknown key is an "
            "error. Generated from ndsim.scenario.SCHEMA by `python -m ndsim.schemas`."
        ),
        **body,
    }


# --- writing ------------------------------------------------------------------


def dumps(document: Mapping[str, Any]) -> str:
    """The stable text of a JSON document: two-space indent, keys in order, final newline."""
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _targets(folder: str | Path | None, schema_path: str | Path | None) -> tuple[Path, Path]:
    from ndsim.resources import data_dir, scenarios_dir

    folder = Path(folder) if folder is not None else data_dir()
    if folder.suffix == ".json":
        folder = folder.parent
    schema = Path(schema_path) if schema_path is not None else scenarios_dir() / SCENARIO_SCHEMA
    if schema.is_dir():
        schema = schema / SCENARIO_SCHEMA
    return folder / DATAPACKAGE, schema


def write(
    folder: str | Path | None = None, schema_path: str | Path | None = None
) -> tuple[Path, Path]:
    """Write the Data Package of a data set and the JSON Schema of scenario files.

    Parameters
    ----------
    folder : str or Path, optional
        The data set folder, or the path of its ``datapackage.json``
        (default: the shipped data set).
    schema_path : str or Path, optional
        Where to write the scenario JSON Schema: a file, or a folder for
        ``scenario.schema.json`` (default: beside the shipped scenarios).

    Returns
    -------
    tuple of Path
        The two files written.
    """
    package_path, schema = _targets(folder, schema_path)
    documents = {
        package_path: datapackage(package_path.parent),
        schema: scenario_json_schema(),
    }
    for path, document in documents.items():
        path.write_text(dumps(document), encoding="utf-8", newline="\n")
    return package_path, schema


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ndsim.schemas [--check]``: regenerate (or check) the shipped files."""
    parser = argparse.ArgumentParser(
        prog="python -m ndsim.schemas",
        description="Regenerate data/china_nd/datapackage.json and scenarios/scenario.schema.json.",
    )
    parser.add_argument(
        "--check", action="store_true", help="only report whether the files are current"
    )
    args = parser.parse_args(argv)
    package_path, schema = _targets(None, None)
    if args.check:
        stale = [
            path
            for path, document in (
                (package_path, datapackage(package_path.parent)),
                (schema, scenario_json_schema()),
            )
            if not path.is_file() or path.read_text(encoding="utf-8") != dumps(document)
        ]
        for path in stale:
            print(f"{path.name} is out of date: run python -m ndsim.schemas", file=sys.stderr)
        return 1 if stale else 0
    for path in write(package_path.parent, schema):
        print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
