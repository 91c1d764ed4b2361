"""Checks of a data set at the boundary: one place, one exception type.

A data set is a folder of tidy CSV tables plus ``dataset.toml``
(``docs/data_format.md``). :func:`check_dataset` reads every table, runs
small named checks on it and returns the checked values, converted to their
canonical units; :func:`ndsim.io.readers.load_dataset` builds the input
Dataset from them, and :func:`validate_dataset` returns only the summary
(rows per table, share of values by quality flag) that ``ndsim validate``
prints. Stages after this boundary trust their input.

Every check raises :class:`ndsim.errors.ValidationError` with one line that
starts with the file and the column and lists the offending rows by their
line in the file (the header is line 1) and their key values, e.g.::

    data/x/production.csv, value: negative in 1 row: line 4 (product=AC, year=2002) value='-5'

The checks stop at the first error. CSV files are read with the standard
:mod:`csv` module rather than pandas, so that line numbers are exact and
ragged rows (too few fields, which pandas silently pads) are caught.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ndsim.conventions import QUALITY_CV
from ndsim.errors import ValidationError

__all__ = [
    "REQUIRED_TABLES",
    "OPTIONAL_TABLES",
    "Table",
    "Summary",
    "CheckedData",
    "read_table",
    "check_columns",
    "check_nonempty",
    "check_codes",
    "check_numbers",
    "check_range",
    "check_quality",
    "check_years",
    "check_year_coverage",
    "check_duplicates",
    "check_complete",
    "check_units",
    "check_dataset",
    "validate_dataset",
]

QUALITY_FLAGS = tuple(QUALITY_CV)
#: columns every value table has after its key columns
VALUE_COLUMNS = ("value", "unit", "quality", "source")
OPTIONAL_COLUMNS = ("method", "note", "sd", "basis")
#: the basis a mining statistic or prior counts Nd on (SPEC §3): in the ore mined, or in the
#: rare-earth oxide of the concentrate (mine products); a concentrate figure does not pass
#: through the beneficiation yield again
MINING_BASES = ("ore", "concentrate")
PRODUCT_COLUMNS = (
    "product",
    "name",
    "category",
    "group",
    "intermediate",
    "count_unit",
    "in_total_demand",
    "forecast_method",
)
PRODUCT_OPTIONAL = ("source", "method", "note", "description")
FORECAST_METHODS = ("fleet", "gompertz", "growth", "level", "hold", "sales_share", "units")
TRADE_FLOWS = ("export", "import")
PRIMARY_FLOWS = ("export", "import", "export_unregistered")
YIELD_PROCESSES = ("mining", "refining", "fabrication", "manufacturing")
#: yields of these processes are per intermediate
YIELD_BY_INTERMEDIATE = ("fabrication", "manufacturing")
RECYCLING_PARAMETERS = ("recycling_rate", "recovery_efficiency")
LIFETIME_PARAMETERS = ("model", "mean", "sd", "shape", "scale")
LIFETIME_MODELS = ("fixed", "normal", "lognormal", "weibull", "gamma")
#: parameter sets a lifetime model accepts (any one of them is enough)
LIFETIME_NEEDS = {
    "fixed": (("mean",),),
    "normal": (("mean", "sd"),),
    "lognormal": (("mean", "sd"),),
    "weibull": (("shape", "scale"), ("mean", "sd")),
    "gamma": (("mean", "sd"), ("shape", "scale")),
}
DRIVERS = ("population", "gdp_per_capita", "households")
TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")

REQUIRED_TABLES = (
    "products.csv",
    "production.csv",
    "nd_content.csv",
    "adoption_rate.csv",
    "final_trade.csv",
    "intermediate_trade.csv",
    "primary_trade.csv",
    "concentrate_trade.csv",
    "mining.csv",
    "yields.csv",
    "recycling.csv",
    "lifetimes.csv",
)
OPTIONAL_TABLES = (
    "unregistered_mining_prior.csv",
    "intermediate_production.csv",
    "drivers.csv",
    "intensity_calibration.csv",
    "ownership.csv",
    "ownership_nonhousehold.csv",
    "plausibility.csv",
)
#: the quantities of plausibility.csv: units made per year, units in use per person
PLAUSIBILITY_QUANTITIES = ("units_per_year", "units_per_person")
#: separator of product codes in the ``products`` column of the ownership tables
GROUP_SEPARATOR = "+"
#: the bases of an ownership statistic: the unit it is counted per
OWNERSHIP_BASES = ("household", "person")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_YEAR = re.compile(r"^-?[0-9]{1,6}$")
#: longest run a data set may span (first..forecast_last), in years
MAX_SPAN = 1000
#: how many offending rows a message lists before "and N more"
MAX_LISTED = 5


# --- reading ------------------------------------------------------------


class Table:
    """A CSV table as read: text cells by column, with the line of each row.

    Attributes
    ----------
    label : str
        How messages name the file (the path as given by the user).
    columns : dict of str to numpy.ndarray
        The stripped text of each column (object arrays).
    lines : numpy.ndarray
        The line of each row in the file (the header is line 1).
    keys : tuple of str
        The key columns used to describe a row in messages.
    """

    def __init__(self, label: str, header: list[str], rows: list[list[str]], lines: list[int]):
        self.label = label
        self.header = header
        self.columns = {
            name: np.array([row[i] for row in rows], dtype=object) for i, name in enumerate(header)
        }
        self.lines = np.asarray(lines, dtype=np.int64)
        self.keys: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def error(self, field: str | None, message: str) -> ValidationError:
        """A ValidationError naming this file and ``field``."""
        return ValidationError(_one_line(message), file=self.label, field=_one_line(field))

    def rows(self, mask: np.ndarray, *, show: str | None = None) -> str:
        """Describe the rows where ``mask`` is true: count, lines and key values."""
        index = np.flatnonzero(mask)
        parts = []
        for i in index[:MAX_LISTED]:
            keys = ", ".join(
                f"{k}={_one_line(self.columns[k][i])}"
                for k in self.keys
                if k in self and self.columns[k][i]
            )
            text = f"line {self.lines[i]}" + (f" ({keys})" if keys else "")
            if show is not None:
                text += f" {show}={self.columns[show][i]!r}"
            parts.append(text)
        more = f"; and {len(index) - MAX_LISTED} more" if len(index) > MAX_LISTED else ""
        noun = "row" if len(index) == 1 else "rows"
        return f"{len(index)} {noun}: " + "; ".join(parts) + more


def _one_line(text: str | None) -> str | None:
    """Escape line breaks and other control characters, so a message stays one line."""
    if text is None or text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _closest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest valid name, or ''."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return f" (did you mean '{match[0]}'?)" if match else ""


def _label(folder: Path, name: str) -> str:
    return str(folder / name)


def read_table(folder: str | Path, name: str, *, required: bool = True) -> Table | None:
    """Read one CSV table of a data set, checking that it is a clean rectangle.

    Parameters
    ----------
    folder : str or Path
        The data-set folder.
    name : str
        The file name, e.g. ``production.csv``.
    required : bool
        Whether a missing file is an error (else None is returned).

    Returns
    -------
    Table or None

    Raises
    ------
    ndsim.errors.ValidationError
        Missing file, bytes that are not UTF-8 text, CSV the csv module
        cannot read, an empty or duplicated header, or a row whose number of
        fields differs from the header's (ragged).
    """
    folder = Path(folder)
    path = folder / name
    label = _label(folder, name)
    if not path.is_file():
        if not required:
            return None
        raise ValidationError(
            "missing file (every table of docs/data_format.md is required)",
            file=label,
        )
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"unreadable: not UTF-8 text (byte {exc.start}: {exc.reason})", file=label
        ) from None
    except OSError as exc:
        raise ValidationError(f"unreadable: {exc.strerror}", file=label) from None
    control = _CONTROL.search(text)
    if control:
        line = text.count("\n", 0, control.start()) + 1
        raise ValidationError(
            f"unreadable CSV: control character {control.group()!r} on line {line} "
            "(a binary file?)",
            file=label,
        )
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        for row in reader:
            if not row:  # a blank line
                continue
            rows.append([cell.strip() for cell in row])
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise ValidationError(f"unreadable CSV: {exc}", file=label) from None
    if header is None or not any(h.strip() for h in header):
        raise ValidationError("empty file: no header line", file=label)
    header = [h.strip() for h in header]
    for i, name_ in enumerate(header):
        if not name_:
            raise ValidationError(f"column {i + 1} of the header has no name", file=label)
        if header.index(name_) != i:
            raise ValidationError(f"column '{name_}' appears twice in the header", file=label)
    ragged = [
        (line, len(row)) for line, row in zip(lines, rows, strict=True) if len(row) != len(header)
    ]
    if ragged:
        shown = "; ".join(f"line {line} has {n}" for line, n in ragged[:MAX_LISTED])
        more = f"; and {len(ragged) - MAX_LISTED} more" if len(ragged) > MAX_LISTED else ""
        raise ValidationError(
            f"ragged CSV: the header has {len(header)} fields, "
            f"{len(ragged)} {'row differs' if len(ragged) == 1 else 'rows differ'}: "
            f"{shown} fields{more}",
            file=label,
        )
    return Table(label, header, rows, lines)


# --- small named checks -------------------------------------------------


def check_columns(table: Table, required: Sequence[str], optional: Sequence[str] = ()) -> None:
    """Every required column is present and no column is unknown (suggest the closest name)."""
    valid = list(required) + list(optional)
    unknown = [c for c in table.header if c not in valid]
    missing = [c for c in required if c not in table]
    if missing:
        column = missing[0]
        hint = _closest(column, unknown)
        found = f"; found unknown column '{hint.split(chr(39))[1]}', misspelled?" if hint else ""
        raise table.error(
            column, f"missing column '{column}' (columns are {', '.join(required)}){found}"
        )
    if unknown:
        column = unknown[0]
        raise table.error(
            column,
            f"unknown column '{column}'{_closest(column, valid)}; valid columns: {', '.join(valid)}",
        )


def check_nonempty(table: Table, columns: Iterable[str], mask: np.ndarray | None = None) -> None:
    """No empty cell in ``columns`` (restricted to the rows where ``mask`` is true)."""
    for column in columns:
        empty = table[column] == ""
        if mask is not None:
            empty &= mask
        if empty.any():
            raise table.error(column, f"empty value in {table.rows(empty)}")


def check_codes(
    table: Table,
    column: str,
    allowed: Sequence[str],
    *,
    what: str | None = None,
    blank_ok: bool = False,
) -> None:
    """Every code in ``column`` is one of ``allowed`` (unknown product, flow, source, ...)."""
    values = table[column]
    bad = ~np.isin(values, list(allowed))
    if blank_ok:
        bad &= values != ""
    if bad.any():
        first = values[np.flatnonzero(bad)[0]]
        raise table.error(
            column,
            f"unknown {what or column} '{first}'{_closest(first, allowed)} in "
            f"{table.rows(bad)}; known: {', '.join(allowed)}",
        )


def check_numbers(
    table: Table, column: str = "value", mask: np.ndarray | None = None
) -> np.ndarray:
    """Parse a column as finite numbers; empty, NaN, inf or text is an error.

    Returns
    -------
    numpy.ndarray of float
        The numbers (NaN where ``mask`` is false).
    """
    import pandas as pd

    text = table[column]
    values = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if mask is not None:
        bad &= mask
        values = np.where(mask, values, np.nan)
    if bad.any():
        kinds = sorted(
            {
                "empty" if t == "" else "NaN or inf" if _is_nonfinite(t) else "text"
                for t in text[bad]
            }
        )
        raise table.error(
            column, f"not a finite number ({', '.join(kinds)}) in {table.rows(bad, show=column)}"
        )
    return values


def _is_nonfinite(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_range(
    table: Table,
    values: np.ndarray,
    *,
    kind: str,
    column: str = "value",
    mask: np.ndarray | None = None,
) -> None:
    """Check signs and bounds of converted values.

    Parameters
    ----------
    kind : {"nonnegative", "positive", "share", "yield"}
        ``nonnegative``: production, trade, contents (>= 0);
        ``positive``: lifetimes, drivers (> 0);
        ``share``: adoption and recycling rates (in [0, 1]);
        ``yield``: process yields (in (0, 1], a required input is divided by it).
    """
    sel = np.ones(len(values), bool) if mask is None else mask
    negative = sel & (values < 0)
    if negative.any():
        raise table.error(column, f"negative value in {table.rows(negative, show=column)}")
    if kind in ("positive", "yield"):
        zero = sel & (values == 0)
        if zero.any():
            noun = "yield" if kind == "yield" else "value"
            raise table.error(
                column, f"{noun} must be > 0, found 0 in {table.rows(zero, show=column)}"
            )
    if kind in ("share", "yield"):
        above = sel & (values > 1)
        if above.any():
            raise table.error(
                column,
                f"share outside [0, 1] (after unit conversion) in {table.rows(above, show=column)}",
            )


def _finite_after_conversion(
    table: Table, values: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    bad = ~np.isfinite(values)
    if mask is not None:
        bad &= mask
    if bad.any():
        raise table.error(
            "value", f"not finite after unit conversion in {table.rows(bad, show='value')}"
        )
    return values


def check_quality(table: Table) -> None:
    """Every row has a known quality flag and a source (or a method)."""
    check_codes(table, "quality", QUALITY_FLAGS, what="quality flag")
    no_source = table["source"] == ""
    if "method" in table:
        no_source &= table["method"] == ""
    if no_source.any():
        raise table.error("source", f"empty source (and no method) in {table.rows(no_source)}")


def check_years(
    table: Table,
    first: int,
    last: int,
    *,
    column: str = "year",
    blank_ok: bool = False,
    span: str = "",
) -> np.ndarray:
    """Parse the year column as integers within ``first..last``.

    Returns
    -------
    numpy.ndarray of int
        The years (-1 where blank and ``blank_ok``).
    """
    text = table[column]
    blank = text == ""
    if blank.any() and not blank_ok:
        raise table.error(column, f"empty year in {table.rows(blank)}")
    years = np.full(len(text), -1, dtype=np.int64)
    good = np.array([_YEAR.match(t) is not None for t in text], dtype=bool)
    bad = ~good & ~blank
    if bad.any():
        raise table.error(column, f"not an integer year in {table.rows(bad, show=column)}")
    years[good] = [int(t) for t in text[good]]
    outside = good & ((years < first) | (years > last))
    if outside.any():
        raise table.error(
            column,
            f"unknown year (outside {first}-{last}{span}) in {table.rows(outside, show=column)}",
        )
    return years


def check_year_coverage(
    table: Table, years: np.ndarray, first: int, last: int, *, column: str = "year", span: str = ""
) -> None:
    """The years present are contiguous and cover ``first..last``."""
    present = np.unique(years[years >= 0])
    if present.size == 0:
        raise table.error(column, f"no rows for the years {first}-{last}{span}")
    gaps = np.setdiff1d(np.arange(present[0], present[-1] + 1), present)
    if gaps.size:
        raise table.error(
            column,
            f"years are not contiguous: no rows for {', '.join(map(str, gaps[:10]))}",
        )
    if present[0] > first or present[-1] < last:
        raise table.error(
            column,
            f"years {present[0]}-{present[-1]} do not cover the run {first}-{last}{span}",
        )


def check_duplicates(table: Table, keys: Sequence[str]) -> None:
    """No two rows share the same key values."""
    import pandas as pd

    frame = pd.DataFrame({k: table[k] for k in keys})
    duplicated = frame.duplicated(keep=False).to_numpy()
    if duplicated.any():
        raise table.error(
            "/".join(keys), f"duplicate rows (same {', '.join(keys)}) in {table.rows(duplicated)}"
        )


def check_complete(
    table: Table,
    expected: Mapping[str, Sequence],
    observed: Mapping[str, np.ndarray],
    *,
    free: Sequence[str] = (),
) -> None:
    """Every combination of the expected key values has a row (missing rows).

    Parameters
    ----------
    expected : mapping of column to the values it must cover (in order)
    observed : mapping of column to the parsed values of each row
    free : columns whose codes are not declared anywhere else (e.g. ore
        sources): an incomplete code close to another code is reported as
        an unknown (misspelled) code.
    """
    import pandas as pd

    columns = list(expected)
    full = pd.MultiIndex.from_product([list(expected[c]) for c in columns], names=columns)
    have = pd.MultiIndex.from_arrays([np.asarray(observed[c]) for c in columns], names=columns)
    missing = full.difference(have, sort=False)
    if len(missing) == 0:
        return
    for column in free:
        codes = list(expected[column])
        counts = pd.Index(np.asarray(observed[column])).value_counts()
        for code in codes:
            others = [c for c in codes if c != code]
            n = counts.get(code, 0)
            if n < counts.max() and (_closest(code, others) or 2 * n <= counts.max()):
                mask = np.asarray(observed[column]) == code
                raise table.error(
                    column,
                    f"unknown {column} '{code}'{_closest(code, others)} in {table.rows(mask)} "
                    f"(it has {n} of the {counts.max()} rows another code has)",
                )
    frame = missing.to_frame(index=False)
    last_col = columns[-1]
    head = columns[:-1]
    parts = []
    groups = frame.groupby(head, sort=False)[last_col] if head else [((), frame[last_col])]
    for key, values in groups:
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{c}={k}" for c, k in zip(head, key, strict=True))
        vals = ", ".join(str(v) for v in list(values)[:8]) + (", ..." if len(values) > 8 else "")
        parts.append(f"{label + ': ' if label else ''}{last_col} {vals}")
    shown = "; ".join(parts[:MAX_LISTED])
    more = f"; and {len(parts) - MAX_LISTED} more groups" if len(parts) > MAX_LISTED else ""
    raise table.error("/".join(columns), f"missing rows ({len(missing)}): {shown}{more}")


def check_units(
    table: Table, target: Callable[[int], str] | str, *, mask: np.ndarray | None = None
) -> np.ndarray:
    """Parse the unit of every row and return the factor to the canonical unit.

    Parameters
    ----------
    target : str or callable
        The canonical unit string, or a function of the row index that
        returns it (e.g. ``"unit yr-1"`` for a product counted in units).

    Returns
    -------
    numpy.ndarray of float
        Per-row factors (NaN where ``mask`` is false).
    """
    from ndsim import units

    text = table["unit"]
    factors = np.full(len(text), np.nan)
    rows = np.flatnonzero(np.ones(len(text), bool) if mask is None else mask)
    targets = [target(i) if callable(target) else target for i in rows]
    cache: dict[tuple[str, str], float | str] = {}
    for i, goal in zip(rows, targets, strict=True):  # a few distinct units per table
        key = (text[i], goal)
        if key not in cache:
            try:
                cache[key] = units.conversion_factor(text[i], goal)
            except ValidationError as exc:
                cache[key] = str(exc)
        factors[i] = cache[key] if isinstance(cache[key], float) else np.nan
    failed = [k for k, v in cache.items() if isinstance(v, str)]
    if failed:
        bad_unit, goal = failed[0]
        mask_bad = np.zeros(len(text), bool)
        for i, goal_i in zip(rows, targets, strict=True):
            mask_bad[i] = (text[i], goal_i) == (bad_unit, goal)
        raise table.error("unit", f"{cache[failed[0]]} in {table.rows(mask_bad)}")
    return factors


# --- the data set -------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What ``ndsim validate`` reports: rows per table, values by quality flag."""

    folder: str
    name: str
    years: tuple[int, int, int]
    rows: dict[str, int]
    quality: dict[str, dict[str, int]]

    def quality_shares(self, table: str | None = None) -> dict[str, float]:
        """Share of values by quality flag, for one table or the whole data set."""
        counts = dict.fromkeys(QUALITY_FLAGS, 0)
        for name, by_flag in self.quality.items():
            if table is None or name == table:
                for flag, n in by_flag.items():
                    counts[flag] += n
        total = sum(counts.values())
        return {flag: (n / total if total else 0.0) for flag, n in counts.items()}

    def format(self) -> str:
        """A plain-text table: one line per table and a total."""
        first, last, forecast_last = self.years
        head = f"{'table':<24}{'rows':>7}" + "".join(f"{f:>12}" for f in QUALITY_FLAGS)
        out = [
            f"data set {self.name} ({self.folder}): accounted {first}-{last}, "
            f"forecast to {forecast_last}",
            head,
        ]
        for name, n in self.rows.items():
            if name in self.quality:
                shares = self.quality_shares(name)
                cells = "".join(f"{100 * shares[f]:>11.1f}%" for f in QUALITY_FLAGS)
            else:
                cells = "".join(f"{'-':>12}" for _ in QUALITY_FLAGS)
            out.append(f"{name:<24}{n:>7}{cells}")
        total = self.quality_shares()
        out.append(
            f"{'all values':<24}{sum(sum(q.values()) for q in self.quality.values()):>7}"
            + "".join(f"{100 * total[f]:>11.1f}%" for f in QUALITY_FLAGS)
        )
        out.append("all checks passed")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.format()


@dataclass
class CheckedData:
    """The checked tables of a data set, values converted to canonical units.

    Attributes
    ----------
    folder : Path
    meta : dict
        ``dataset.toml``: name, title, element, region, history_first, first, last,
        forecast_last, sources, summary_years, supply_years.
    products : dict of str to numpy.ndarray
        The columns of ``products.csv`` (``in_total_demand`` as bool).
    intermediates, sources, variants : tuple of str
        The codes of the intermediate, source and lifetime-variant dims.
    tables : dict of str to dict
        Per variable group, the parsed key columns, ``value`` (canonical
        units) and ``quality`` arrays; see :func:`ndsim.io.readers.load_dataset`.
    units : dict of str to str
        Canonical CF unit of each variable whose unit is stated in the
        data (``gdp_per_capita``).
    summary : Summary
    """

    folder: Path
    meta: dict
    products: dict[str, np.ndarray]
    intermediates: tuple[str, ...]
    sources: tuple[str, ...]
    variants: tuple[str, ...]
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    summary: Summary | None = None

    @property
    def years(self) -> tuple[int, int, int]:
        return self.meta["first"], self.meta["last"], self.meta["forecast_last"]


def _check_toml(folder: Path) -> dict:
    label = _label(folder, "dataset.toml")
    if not folder.is_dir():
        raise ValidationError(f"data folder '{folder}' does not exist or is not a folder")
    path = folder / "dataset.toml"
    if not path.is_file():
        raise ValidationError("missing file (a data set folder needs dataset.toml)", file=label)
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValidationError("unreadable: not UTF-8 text", file=label) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"TOML does not parse ({exc})", file=label) from None
    name = meta.get("name", folder.name)
    if not isinstance(name, str) or not name:
        raise ValidationError("must be a non-empty string", file=label, field="name")
    years = meta.get("years")
    if not isinstance(years, dict):
        raise ValidationError(
            "missing table [years] (first, last, forecast_last)", file=label, field="years"
        )
    valid = ("first", "last", "forecast_last")
    optional = ("history_first",)
    for key in years:
        if key in optional:
            continue
        if key not in valid:
            raise ValidationError(
                f"unknown key{_closest(key, valid + optional)}; valid: "
                f"{', '.join(valid + optional)}",
                file=label,
                field=f"years.{key}",
            )
    for key in valid:
        value = years.get(key)
        if value is None:
            raise ValidationError("missing key", file=label, field=f"years.{key}")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(
                f"must be an integer year, got {value!r}", file=label, field=f"years.{key}"
            )
    first, last, forecast_last = (years[k] for k in valid)
    history_first = years.get("history_first", first)
    if not isinstance(history_first, int) or isinstance(history_first, bool):
        raise ValidationError(
            f"must be an integer year, got {history_first!r}",
            file=label,
            field="years.history_first",
        )
    if history_first > first:
        raise ValidationError(
            f"history_first {history_first} is after first {first} (the history is the years "
            "before the first accounted year)",
            file=label,
            field="years.history_first",
        )
    if not first <= last <= forecast_last:
        raise ValidationError(
            f"years must satisfy first <= last <= forecast_last, got {first}, {last}, {forecast_last}",
            file=label,
            field="years",
        )
    if forecast_last - history_first >= MAX_SPAN:
        raise ValidationError(
            f"history_first..forecast_last spans {forecast_last - history_first + 1} years "
            f"(at most {MAX_SPAN})",
            file=label,
            field="years",
        )
    sources = meta.get("sources")
    if sources is not None and (
        not isinstance(sources, list)
        or not sources
        or not all(isinstance(s, str) and s for s in sources)
        or len(set(sources)) != len(sources)
    ):
        raise ValidationError(
            "must be a list of distinct non-empty codes", file=label, field="sources"
        )
    summary_years = _summary_years(meta.get("summary_years", []), first, forecast_last, label)
    supply_years = _summary_years(
        meta.get("supply_years", []), first, forecast_last, label, "supply_years"
    )
    return {
        "name": name,
        "title": str(meta.get("title", name)),
        "element": str(meta.get("element", "")),
        "region": str(meta.get("region", "")),
        "history_first": history_first,
        "first": first,
        "last": last,
        "forecast_last": forecast_last,
        "sources": tuple(sources) if sources else None,
        "summary_years": summary_years,
        "supply_years": supply_years,
    }


def _summary_years(
    value: object, first: int, forecast_last: int, label: str, key: str = "summary_years"
) -> tuple[int, ...]:
    """Report years of ``dataset.toml``: distinct integer years in first..forecast_last.

    ``summary_years``: the years a run's summary shows besides the last
    accounted and the last forecast year; ``supply_years``: the years of its
    supply table. None where the key is absent.
    """
    if (
        not isinstance(value, list)
        or not all(isinstance(y, int) and not isinstance(y, bool) for y in value)
        or len(set(value)) != len(value)
    ):
        raise ValidationError(
            f"must be a list of distinct integer years, got {value!r}",
            file=label,
            field=key,
        )
    outside = [y for y in value if not first <= y <= forecast_last]
    if outside:
        raise ValidationError(
            f"year(s) {', '.join(map(str, outside))} outside the data set's years "
            f"{first}-{forecast_last} (first..forecast_last)",
            file=label,
            field=key,
        )
    return tuple(sorted(value))


def _check_products(folder: Path) -> dict[str, np.ndarray]:
    from ndsim import units

    table = read_table(folder, "products.csv")
    check_columns(table, PRODUCT_COLUMNS, PRODUCT_OPTIONAL)
    table.keys = ("product",)
    if len(table) == 0:
        raise table.error("product", "no products")
    check_nonempty(table, PRODUCT_COLUMNS)
    check_duplicates(table, ("product",))
    check_codes(table, "forecast_method", FORECAST_METHODS, what="forecast method")
    flags = np.char.lower(table["in_total_demand"].astype(str))
    check_codes_lower = ~np.isin(flags, TRUE_WORDS + FALSE_WORDS)
    if check_codes_lower.any():
        raise table.error(
            "in_total_demand",
            f"not a boolean (true/false) in {table.rows(check_codes_lower, show='in_total_demand')}",
        )
    for count_unit in dict.fromkeys(table["count_unit"]):
        bad = table["count_unit"] == count_unit
        try:
            parsed = units.parse_units(count_unit)
        except ValidationError as exc:
            raise table.error("count_unit", f"{exc} in {table.rows(bad)}") from None
        if parsed.magnitude != 1:
            raise table.error(
                "count_unit",
                f"'{count_unit}' must be a plain unit without a factor in {table.rows(bad)}",
            )
    columns = {c: table[c].astype(str) for c in table.header}
    columns["in_total_demand"] = np.isin(flags, TRUE_WORDS)
    columns["_line"] = table.lines
    return columns


class _Context:
    def __init__(self, folder: Path, meta: dict, products: dict[str, np.ndarray]):
        self.folder = folder
        self.meta = meta
        self.first, self.last, self.forecast_last = (
            meta["first"],
            meta["last"],
            meta["forecast_last"],
        )
        self.history_first = meta.get("history_first", self.first)
        self.products = products
        self.codes = tuple(products["product"])
        self.count_unit = dict(zip(products["product"], products["count_unit"], strict=True))
        self.intermediates = tuple(dict.fromkeys(products["intermediate"]))
        self.rows: dict[str, int] = {"products.csv": len(products["product"])}
        self.quality: dict[str, dict[str, int]] = {}
        self.units: dict[str, str] = {}

    def count(self, name: str, table: Table) -> None:
        self.rows[name] = len(table)
        flags, counts = np.unique(table["quality"].astype(str), return_counts=True)
        self.quality[name] = {f: int(n) for f, n in zip(flags, counts, strict=True)}


def _mining_basis(name: str, table: Mapping[str, np.ndarray]) -> str:
    """The one basis of a mining table's rows (``ore`` when the column is absent)."""
    if "basis" not in table:
        return "ore"
    found = sorted(set(table["basis"].tolist()))
    bad = [b for b in found if b not in MINING_BASES]
    if bad:
        raise ValidationError(
            f"unknown basis {bad}; valid: {', '.join(MINING_BASES)}", file=name, field="basis"
        )
    if len(found) > 1:
        raise ValidationError(
            f"rows on different bases {found}: state every row on one basis",
            file=name,
            field="basis",
        )
    return found[0]


def _measurement_table(
    ctx: _Context, name: str, keys: Mapping[str, Sequence[str] | None], what: str
) -> dict[str, np.ndarray] | None:
    """An optional table of measurements: any accounted years, an ``sd`` column required."""
    table = _value_table(
        ctx, name, keys, kind="nonnegative", unit="t yr-1", complete=False, required=False
    )
    if table is not None and "sd" not in table:
        raise ValidationError(
            f"missing column sd (the {what}'s standard deviation)", file=name, field="sd"
        )
    return table


def _check_upstream_measurements(ctx: _Context, tables: dict) -> None:
    """The optional measurements of the reconciliation (SPEC §3): priors and statistics with σ."""
    prior = _measurement_table(ctx, "unregistered_mining_prior.csv", {}, "prior")
    if prior is not None:
        basis = _mining_basis("unregistered_mining_prior.csv", prior)
        if basis != tables["mining_basis"]:
            raise ValidationError(
                f"basis {basis} differs from mining.csv ({tables['mining_basis']}): a prior is "
                "used on the basis of the official output it is added to",
                file="unregistered_mining_prior.csv",
                field="basis",
            )
        tables["unregistered_mining_prior"] = prior
    stat = _measurement_table(
        ctx, "intermediate_production.csv", {"intermediate": ctx.intermediates}, "statistic"
    )
    if stat is not None:
        tables["intermediate_production"] = stat


def _value_table(
    ctx: _Context,
    name: str,
    keys: Mapping[str, Sequence[str] | None],
    *,
    kind: str,
    unit: str | Callable[[Table, int], str],
    years: str | None = "accounted",
    blank_ok: Sequence[str] = (),
    complete: bool = True,
    required: bool = True,
) -> dict[str, np.ndarray] | None:
    """Read and check a tidy value table keyed by ``keys`` (+ year).

    ``keys`` maps each key column to its allowed codes (None: free codes,
    taken from the table). ``years``: "accounted" (first..last), "history"
    (history_first..last: the unit-flow tables, SPEC §2.2), "run"
    (first..forecast_last, earlier years from history_first allowed) or None
    (no year column).
    """
    table = read_table(ctx.folder, name, required=required)
    if table is None:
        return None
    key_cols = list(keys) + (["year"] if years else [])
    check_columns(table, key_cols + list(VALUE_COLUMNS), OPTIONAL_COLUMNS)
    table.keys = tuple(key_cols)
    if len(table) == 0:
        raise table.error(key_cols[0], "no rows (the file has only its header)")
    check_nonempty(table, [k for k in key_cols if k not in blank_ok] + ["unit", "quality"])
    for column, allowed in keys.items():
        if allowed is not None:
            check_codes(table, column, allowed, blank_ok=column in blank_ok)
    out: dict[str, np.ndarray] = {k: table[k].astype(str) for k in keys}
    if years:
        lo, hi, span = {
            "accounted": (ctx.first, ctx.last, " (first..last)"),
            "history": (ctx.history_first, ctx.last, " (history_first..last)"),
            "run": (ctx.first, ctx.forecast_last, " (first..forecast_last)"),
        }[years]
        span = " of dataset.toml" + span
        allowed_lo = ctx.history_first if years == "run" else lo
        out["year"] = check_years(table, allowed_lo, hi, blank_ok="year" in blank_ok, span=span)
    check_quality(table)
    values = check_numbers(table)
    check_duplicates(table, key_cols)
    factors = check_units(table, (lambda i: unit(table, i)) if callable(unit) else unit)
    values = _finite_after_conversion(table, values * factors)
    check_range(table, values, kind=kind)
    if "sd" in table:
        sd = _finite_after_conversion(table, check_numbers(table, "sd") * factors)
        check_range(table, sd, kind="nonnegative", column="sd")
        out["sd"] = sd
    if "basis" in table:
        check_nonempty(table, ["basis"])
        out["basis"] = table["basis"].astype(str)
    if complete:
        expected = {
            k: (v if v is not None else tuple(dict.fromkeys(out[k]))) for k, v in keys.items()
        }
        if years:
            check_year_coverage(table, out["year"], lo, hi, span=span)
            expected["year"] = range(lo, hi + 1)
        free = [k for k, v in keys.items() if v is None]
        check_complete(table, expected, out, free=free)
    out["value"] = values
    out["quality"] = table["quality"].astype(str)
    out["_line"] = table.lines
    ctx.count(name, table)
    out["_table"] = table  # type: ignore[assignment]
    return out


def _expand(
    table: Table,
    rows: np.ndarray,
    values: np.ndarray,
    by_intermediate: Sequence[str] | None,
    year_values: np.ndarray,
    years: Sequence[int],
    label: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Spread rows with blank intermediate/year over all of them; specific rows win.

    Returns value and quality grids of shape (intermediate, year) or (year,).
    """
    inter = (
        table["intermediate"] if "intermediate" in table else np.full(len(table), "", dtype=object)
    )
    n_int = len(by_intermediate) if by_intermediate is not None else 1
    grid = np.full((n_int, len(years)), np.nan)
    quality = np.full((n_int, len(years)), "", dtype=object)
    year_index = {y: j for j, y in enumerate(years)}
    rank = (inter[rows] != "").astype(int) * 2 + (year_values[rows] >= 0).astype(int)
    for i in rows[np.argsort(rank, kind="stable")]:  # a handful of rows per process
        rows_i = slice(None) if inter[i] == "" else [list(by_intermediate or ()).index(inter[i])]
        cols_i = slice(None) if year_values[i] < 0 else [year_index[int(year_values[i])]]
        grid[rows_i, cols_i] = values[i]
        quality[rows_i, cols_i] = table["quality"][i]
    missing = np.isnan(grid)
    if missing.any():
        names = by_intermediate if by_intermediate is not None else [""]
        parts = []
        for k in np.flatnonzero(missing.any(axis=1)):
            ys = [str(y) for y, m in zip(years, missing[k], strict=True) if m]
            prefix = f"intermediate={names[k]} " if by_intermediate is not None else ""
            parts.append(f"{prefix}years {', '.join(ys[:8])}{', ...' if len(ys) > 8 else ''}")
        raise table.error(
            "/".join(table.keys), f"missing rows for {label}: " + "; ".join(parts[:MAX_LISTED])
        )
    return (grid if by_intermediate is not None else grid[0]), (
        quality if by_intermediate is not None else quality[0]
    )


def _check_yields(ctx: _Context) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    data = _value_table(
        ctx,
        "yields.csv",
        {"process": YIELD_PROCESSES, "intermediate": ctx.intermediates},
        kind="yield",
        unit="1",
        blank_ok=("intermediate", "year"),
        complete=False,
    )
    table: Table = data["_table"]
    years = list(range(ctx.first, ctx.last + 1))
    out = {}
    for process in YIELD_PROCESSES:
        rows = np.flatnonzero(data["process"] == process)
        if process not in YIELD_BY_INTERMEDIATE:
            wrong = (data["process"] == process) & (data["intermediate"] != "")
            if wrong.any():
                raise table.error(
                    "intermediate",
                    f"process '{process}' has one yield for all intermediates; leave intermediate "
                    f"blank in {table.rows(wrong)}",
                )
        by_int = ctx.intermediates if process in YIELD_BY_INTERMEDIATE else None
        if rows.size == 0:
            raise table.error("process", f"missing rows: no yield for process '{process}'")
        out[f"yield_{process}"] = _expand(
            table, rows, data["value"], by_int, data["year"], years, f"process={process}"
        )
    return out


def _check_recycling(ctx: _Context) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    data = _value_table(
        ctx,
        "recycling.csv",
        {"parameter": RECYCLING_PARAMETERS},
        kind="share",
        unit="1",
        blank_ok=("year",),
        complete=False,
    )
    table: Table = data["_table"]
    efficiency = data["parameter"] == "recovery_efficiency"
    dated = efficiency & (data["year"] >= 0)
    if dated.any():
        raise table.error(
            "year",
            f"recovery_efficiency is one value for all years; leave year blank in {table.rows(dated)}",
        )
    if efficiency.sum() != 1:
        raise table.error(
            "parameter",
            "missing rows: no recovery_efficiency row"
            if not efficiency.any()
            else f"one recovery_efficiency row expected, found {table.rows(efficiency)}",
        )
    rate_rows = np.flatnonzero(data["parameter"] == "recycling_rate")
    if rate_rows.size == 0:
        raise table.error("parameter", "missing rows: no recycling_rate rows")
    years = list(range(ctx.first, ctx.last + 1))
    rate = _expand(
        table, rate_rows, data["value"], None, data["year"], years, "parameter=recycling_rate"
    )
    i = np.flatnonzero(efficiency)[0]
    return {
        "recycling_rate": rate,
        "recovery_efficiency": (
            np.asarray(data["value"][i]),
            np.asarray(data["quality"][i], dtype=object),
        ),
    }


def _check_lifetimes(ctx: _Context) -> dict[str, np.ndarray]:
    name = "lifetimes.csv"
    table = read_table(ctx.folder, name)
    keys = ["variant", "product", "parameter"]
    check_columns(table, keys + list(VALUE_COLUMNS), OPTIONAL_COLUMNS)
    table.keys = tuple(keys)
    is_model = table["parameter"] == "model"
    check_nonempty(table, keys + ["value", "quality"])
    check_nonempty(table, ["unit"], mask=~is_model)
    check_codes(table, "product", ctx.codes)
    check_codes(table, "parameter", LIFETIME_PARAMETERS)
    bad_model = is_model & ~np.isin(table["value"], LIFETIME_MODELS)
    if bad_model.any():
        first = table["value"][np.flatnonzero(bad_model)[0]]
        raise table.error(
            "value",
            f"unknown lifetime model '{first}'{_closest(first, LIFETIME_MODELS)} in "
            f"{table.rows(bad_model)}; known: {', '.join(LIFETIME_MODELS)}",
        )
    bad_unit = is_model & ~np.isin(table["unit"], ["", "1", "-"])
    if bad_unit.any():
        raise table.error("unit", f"a model row takes no unit (blank) in {table.rows(bad_unit)}")
    check_quality(table)
    check_duplicates(table, keys)
    values = check_numbers(table, mask=~is_model)
    factors = check_units(
        table, lambda i: "1" if table["parameter"][i] == "shape" else "yr", mask=~is_model
    )
    values = _finite_after_conversion(table, values * factors, mask=~is_model)
    check_range(table, values, kind="positive", mask=~is_model)
    variants = tuple(dict.fromkeys(table["variant"]))
    # every variant x product has a model and the parameters the model needs
    check_complete(
        table,
        {"variant": variants, "product": ctx.codes},
        {"variant": table["variant"][is_model], "product": table["product"][is_model]},
    )
    present = set(zip(table["variant"], table["product"], table["parameter"], strict=True))
    for i in np.flatnonzero(is_model):  # one model row per variant x product
        v, p, model = table["variant"][i], table["product"][i], table["value"][i]
        if not any(all((v, p, k) in present for k in need) for need in LIFETIME_NEEDS[model]):
            options = " or ".join("+".join(n) for n in LIFETIME_NEEDS[model])
            mask = (table["variant"] == v) & (table["product"] == p)
            raise table.error(
                "parameter",
                f"missing rows: model '{model}' needs {options} for variant={v}, product={p} "
                f"({table.rows(mask)})",
            )
    ctx.count(name, table)
    return {
        "variant": table["variant"].astype(str),
        "product": table["product"].astype(str),
        "parameter": table["parameter"].astype(str),
        "value": values,
        "text": table["value"].astype(str),
        "quality": table["quality"].astype(str),
        "variants": np.array(variants, dtype=object),
    }


def _check_drivers(ctx: _Context) -> dict | None:
    from ndsim import units

    table = read_table(ctx.folder, "drivers.csv", required=False)
    if table is None:
        return None
    # the canonical unit of gdp_per_capita is the one stated in the table (first row)
    gdp_rows = np.flatnonzero(table["driver"] == "gdp_per_capita") if "driver" in table else []
    stated = table["unit"][gdp_rows[0]] if len(gdp_rows) and "unit" in table else "1"
    data = _value_table(
        ctx,
        "drivers.csv",
        {"driver": DRIVERS},
        kind="positive",
        unit=lambda t, i: {"population": "person", "households": "household"}.get(
            t["driver"][i], stated
        ),
        years="run",
    )
    dims = dict(units.parse_units(stated).dimensionality)
    if dims.get("[person]") != -1 or not any(k.startswith("[currency") for k in dims):
        tab: Table = data["_table"]
        raise tab.error(
            "unit",
            f"gdp_per_capita unit '{stated}' is not a currency per person (e.g. "
            f"'USD2005 PPP person-1') in {tab.rows(tab['driver'] == 'gdp_per_capita')}",
        )
    ctx.units = {"gdp_per_capita": units.to_cf(stated)}
    return data


def _check_ownership(ctx: _Context) -> dict | None:
    """``ownership.csv``: statistics of units in use per household or per person.

    The ``products`` column names one product, or several joined by ``+``
    where one statistic covers them (``DC+LP``); the unit says the basis
    (``unit household-1``, ``unit person-1``, ``MW person-1``), one basis per
    group, and a product belongs to one group at most.
    """
    from ndsim import units

    table = read_table(ctx.folder, "ownership.csv", required=False)
    if table is None:
        return None
    if "product" in table and "products" not in table:
        raise table.error(
            "product",
            "the column is `products` (one product code, or several joined by '+' where one "
            "statistic covers them); docs/data_format.md",
        )
    groups = table["products"].astype(str) if "products" in table else np.array([], dtype=str)
    members = {g: tuple(g.split(GROUP_SEPARATOR)) for g in dict.fromkeys(groups)}
    for group, codes in members.items():
        bad = [c for c in codes if c not in ctx.codes]
        if bad:
            raise table.error(
                "products",
                f"unknown product '{bad[0]}'{_closest(bad[0], ctx.codes)} in "
                f"{table.rows(groups == group)}",
            )
        units_of = {ctx.count_unit[c] for c in codes}
        if len(units_of) > 1 or "t" in units_of:
            raise table.error(
                "products",
                f"group '{group}' mixes count units {sorted(units_of)} or has no unit layer "
                f"(count_unit t) in {table.rows(groups == group)}",
            )
    owner: dict[str, str] = {}
    for group, codes in members.items():
        for c in codes:
            if c in owner:
                raise table.error(
                    "products",
                    f"product {c} is in two groups ('{owner[c]}' and '{group}') in "
                    f"{table.rows(np.isin(groups, [owner[c], group]))}",
                )
            owner[c] = group
    # the basis of each row: the unit's denominator, household or person
    basis = np.empty(len(groups), dtype=object)
    for i in range(len(groups)):
        text = table["unit"][i] if "unit" in table else ""
        try:
            dims = dict(units.parse_units(text).dimensionality) if text else {}
        except ValidationError:
            dims = {}
        basis[i] = next((b for b in OWNERSHIP_BASES if dims.get(f"[{b}]") == -1), "")
    for group in members:
        rows = groups == group
        found = set(basis[rows]) - {""}
        if len(found) > 1:
            raise table.error(
                "unit", f"group '{group}' mixes bases {sorted(found)} in {table.rows(rows)}"
            )
    count = {g: ctx.count_unit[codes[0]] for g, codes in members.items()}
    data = _value_table(
        ctx,
        "ownership.csv",
        {"products": tuple(members)},
        kind="nonnegative",
        years="run",
        complete=False,
        required=False,
        unit=lambda t, i: f"{count[t['products'][i]]} {basis[i] or 'person'}-1",
    )
    data["basis"] = basis.astype(str)
    data["members"] = members  # type: ignore[assignment]
    return data


def check_dataset(folder: str | Path | None = None) -> CheckedData:
    """Read and check every table of a data set.

    Parameters
    ----------
    folder : str or Path, optional
        The data-set folder (default: the shipped data set,
        :func:`ndsim.resources.data_dir`).

    Returns
    -------
    CheckedData
        Checked values in canonical units, ready for
        :func:`ndsim.io.readers.build_dataset`.

    Raises
    ------
    ndsim.errors.ValidationError
        At the first problem, with one line naming file, column and rows.
    """
    if folder is None:
        from ndsim.resources import data_dir

        folder = data_dir()
    folder = Path(folder)
    meta = _check_toml(folder)
    ctx = _Context(folder, meta, _check_products(folder))
    codes = ctx.codes
    tables: dict[str, dict] = {}
    # the unit-flow tables run from history_first (SPEC §2.2): units first, Nd per cohort
    tables["production"] = _value_table(
        ctx,
        "production.csv",
        {"product": codes},
        kind="nonnegative",
        years="history",
        unit=lambda t, i: f"{ctx.count_unit[t['product'][i]]} yr-1",
    )
    tables["nd_content"] = _value_table(
        ctx,
        "nd_content.csv",
        {"product": codes},
        kind="nonnegative",
        years=None,
        unit=lambda t, i: f"t {ctx.count_unit[t['product'][i]]}-1",
    )
    tables["adoption_rate"] = _value_table(
        ctx, "adoption_rate.csv", {"product": codes}, kind="share", unit="1", years="history"
    )
    calibration = _value_table(
        ctx,
        "intensity_calibration.csv",
        {"product": codes},
        kind="positive",
        years=None,
        unit="1",
        complete=False,
        required=False,
    )
    if calibration is not None:
        tables["intensity_calibration"] = calibration
    tables["final_trade"] = _value_table(
        ctx,
        "final_trade.csv",
        {"product": codes, "flow": TRADE_FLOWS},
        kind="nonnegative",
        years="history",
        unit=lambda t, i: f"{ctx.count_unit[t['product'][i]]} yr-1",
    )
    tables["intermediate_trade"] = _value_table(
        ctx,
        "intermediate_trade.csv",
        {"intermediate": ctx.intermediates, "flow": TRADE_FLOWS},
        kind="nonnegative",
        unit="t yr-1",
    )
    tables["primary_trade"] = _value_table(
        ctx, "primary_trade.csv", {"flow": PRIMARY_FLOWS}, kind="nonnegative", unit="t yr-1"
    )
    tables["concentrate_trade"] = _value_table(
        ctx, "concentrate_trade.csv", {"flow": TRADE_FLOWS}, kind="nonnegative", unit="t yr-1"
    )
    # the ore source column is `ore_source`: `source` is the citation column of every table
    mining = _value_table(
        ctx, "mining.csv", {"ore_source": meta["sources"]}, kind="nonnegative", unit="t yr-1"
    )
    mining["source"] = mining.pop("ore_source")
    tables["mining"] = mining
    tables["mining_basis"] = _mining_basis("mining.csv", mining)
    _check_upstream_measurements(ctx, tables)
    sources = meta["sources"] or tuple(dict.fromkeys(mining["source"]))
    grids = _check_yields(ctx)
    grids.update(_check_recycling(ctx))
    tables["lifetimes"] = _check_lifetimes(ctx)
    drivers = _check_drivers(ctx)
    if drivers is not None:
        tables["drivers"] = drivers
    ownership = _check_ownership(ctx)
    if ownership is not None:
        tables["ownership"] = ownership
        nonhousehold = _value_table(
            ctx,
            "ownership_nonhousehold.csv",
            {"products": tuple(dict.fromkeys(ownership["products"]))},
            kind="share",
            years=None,
            unit="1",
            complete=False,
            required=False,
        )
        if nonhousehold is not None:
            tables["ownership_nonhousehold"] = nonhousehold
    bounds = _value_table(
        ctx,
        "plausibility.csv",
        {"product": codes, "quantity": PLAUSIBILITY_QUANTITIES},
        kind="positive",
        years=None,
        complete=False,
        required=False,
        unit=lambda t, i: (
            f"{ctx.count_unit[t['product'][i]]} yr-1"
            if t["quantity"][i] == "units_per_year"
            else f"{ctx.count_unit[t['product'][i]]} person-1"
        ),
    )
    if bounds is not None:
        tables["plausibility"] = bounds
    for data in tables.values():
        if isinstance(data, dict):
            data.pop("_table", None)
    tables["_grids"] = grids  # type: ignore[assignment]
    summary = Summary(
        folder=str(folder),
        name=meta["name"],
        years=(ctx.first, ctx.last, ctx.forecast_last),
        rows=dict(ctx.rows),
        quality=dict(ctx.quality),
    )
    return CheckedData(
        folder=folder,
        meta=meta,
        products=ctx.products,
        intermediates=ctx.intermediates,
        sources=tuple(sources),
        variants=tuple(tables["lifetimes"]["variants"]),
        tables=tables,
        units=ctx.units,
        summary=summary,
    )


def long_lifetimes(inputs, variant: str | None = None) -> list[str]:
    """Warnings for lifetimes longer than the model's horizon (history_first..forecast_last).

    A product whose mean lifetime exceeds the years the run models retires
    (almost) nothing in it; a typo (200 for 20) would pass every check
    silently. Means: ``mean``, or shape x scale (gamma), or scale Γ(1 + 1/shape)
    (Weibull). ``variant``: one lifetime variant, or all of them.
    """
    import math

    years = inputs["year"].values
    horizon = int(years.max() - years.min() + 1)
    variants = [variant] if variant is not None else [str(v) for v in inputs["variant"].values]
    out = []
    for v in variants:
        # one selection per variable and variant, then plain arrays (product order)
        models, means, shapes, scales = (
            inputs[f"lifetime_{name}"].sel(variant=v).transpose("product").values
            for name in ("model", "mean", "shape", "scale")
        )
        for i, p in enumerate(inputs["product"].values):
            model = str(models[i])
            mean, shape, scale = float(means[i]), float(shapes[i]), float(scales[i])
            if not math.isfinite(mean) and math.isfinite(shape) and math.isfinite(scale):
                mean = shape * scale if model == "gamma" else scale * math.gamma(1 + 1 / shape)
            if math.isfinite(mean) and mean > horizon:
                out.append(
                    f"lifetimes.csv: variant {v}, product {p}: mean lifetime {mean:g} yr is longer "
                    f"than the {horizon} years the run models ({int(years.min())}-{int(years.max())}): "
                    "almost nothing retires"
                )
    return out


def validate_dataset(folder: str | Path | None = None) -> Summary:
    """Run every check on a data set and return its summary.

    Parameters
    ----------
    folder : str or Path, optional
        The data-set folder (default: the shipped data set).

    Returns
    -------
    Summary
        Rows per table and the share of values by quality flag.

    Raises
    ------
    ndsim.errors.ValidationError
        At the first problem (one line: file, column, offending rows).
    """
    return check_dataset(folder).summary
