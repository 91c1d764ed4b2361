"""Scenario files: load a TOML file into a frozen, checked :class:`Scenario`.

A scenario names its data set and overrides parameters of the run, the
forecast, recycling, supply and uncertainty. The accepted keys, their types
and ranges are declared once, in :data:`SCHEMA`; anything else is an error
that names the file and the dotted key (with a suggestion for a near miss),
so a typo never silently falls back to a default.

Checks that need the data set (product codes, lifetime variants, forecast
years) are in :func:`check_against`, run before any computation.

Examples
--------
>>> from ndsim.scenario import load_scenario
>>> sc = load_scenario()  # the shipped scenarios/baseline.toml  # doctest: +SKIP
>>> sc.run.lifetime_variant  # doctest: +SKIP
'paper'
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ndsim.errors import ScenarioError
from ndsim.resources import DEFAULT_DATASET, DEFAULT_SCENARIO, data_dir, scenarios_dir

__all__ = [
    "Scenario",
    "RunOptions",
    "ForecastOptions",
    "Level",
    "LifetimeOverride",
    "apply_lifetimes",
    "RecyclingOptions",
    "SupplyOptions",
    "UncertaintyOptions",
    "SCHEMA",
    "load_scenario",
    "resolve_scenario_path",
    "check_against",
]

#: inputs a Monte Carlo run may draw (SPEC §5; the first three are the paper's)
UNCERTAIN_INPUTS = (
    "production",
    "nd_content",
    "adoption_rate",
    "final_trade",
    "intermediate_trade",
    "primary_trade",
    "concentrate_trade",
    "mining",
    "upstream_measurements",
    "yields",
    "recycling",
    "lifetimes",
    "growth_rates",
    "gompertz",
)
#: parameters of a Gompertz curve a scenario may set (eq. 7)
GOMPERTZ_PARAMETERS = ("saturation", "alpha", "beta")
#: how a supply scenario counts net exports (``[supply] net_exports``)
NET_EXPORTS = ("share", "tonnes")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


# --- the frozen scenario tree ------------------------------------------------
@dataclass(frozen=True)
class RunOptions:
    """How the accounting runs.

    Attributes
    ----------
    lifetime_variant : str
        Lifetime table of the data set to use (``paper``: the paper's fixed
        lifetimes; ``literature``: distributions from the literature).
    timing : str
        Lifetime timing convention, ``end`` or ``middle`` (ndsim.lifetime).
    decline_policy : str
        Stock-driven forecast when the stock falls faster than outflows allow:
        ``clip`` (inflow 0, unmet decline reported) or ``retire_early``.
    on_violation : str
        ``error`` raises :class:`ndsim.errors.BalanceError` on a mass-balance or
        sign violation; ``warn`` issues a warning and continues.
    history : str
        ``data``: the use stage runs from the data set's ``history_first``, so
        the stock of the first accounted year holds the cohorts sold before it
        (SPEC §2.2); ``empty``: nothing in use before the first accounted year
        (the paper's convention).
    upstream : str
        ``residual``: unregistered mining is what the top-down chain needs
        beyond official output (the paper's); ``reconciled``: the flows of
        mining, refining and fabrication are reconciled by weighted least
        squares against official output, trade, the intermediate production
        statistics and the unregistered-mining priors (SPEC §3).
    """

    lifetime_variant: str = "paper"
    timing: str = "end"
    decline_policy: str = "clip"
    on_violation: str = "error"
    history: str = "data"
    upstream: str = "residual"


@dataclass(frozen=True)
class LifetimeOverride:
    """A scenario's lifetime of one product (``[lifetimes] AC = {model = "weibull", mean = 12, sd = 4}``).

    Parameters not given keep the data set's value of the chosen variant; a
    ``model`` replaces the variant's model and all its parameters.
    """

    model: str | None = None
    mean: float | None = None
    sd: float | None = None
    shape: float | None = None
    scale: float | None = None

    def parameters(self) -> dict[str, float]:
        """The numeric parameters that are given."""
        return {
            k: v for k in ("mean", "sd", "shape", "scale") if (v := getattr(self, k)) is not None
        }


@dataclass(frozen=True)
class Level:
    """A target level of domestic consumption [t yr-1] in a year (geometric path from the last accounted year)."""

    year: int
    value: float


@dataclass(frozen=True)
class ForecastOptions:
    """Forecast to ``last_year`` (SPEC §2, eq. 7-10).

    Attributes
    ----------
    enabled : bool
        Run the forecast after the accounted years.
    last_year : int or None
        Last forecast year; None: the data set's ``forecast_last``.
    growth_rates : Mapping[str, tuple[tuple[int, int, float], ...]]
        Per product, periods ``(first_year, last_year, rate)`` of eq. 10 [yr-1, fraction].
    levels : Mapping[str, Level]
        Per product, a level of DC reached geometrically from the last accounted year.
    hold : tuple[str, ...] or None
        Products held at their last accounted level; None: the data set's ``hold`` products.
    adoption : str or Mapping
        ``"hold"`` (AR held at T), ``"full"`` (AR = 1 for the fleet-driven products'
        cohorts sold after T, the paper's eq. 8 as printed) or, per product, piecewise-linear points
        ``(year, adoption rate)`` or a logistic ``{"level": L, "year": Y}`` from AR(T).
    intensity : Mapping
        Per product, a path of the factor on k MI after T (1 at T): points or a logistic.
    sales_share : Mapping
        Per product, its share of its ownership group's unit sales after T (points or a
        logistic from the share of T); the group is then forecast as one fleet.
    units : Mapping
        Per product, a path of the units sold into use per year after T (points or
        a logistic from the sales of T, in the product's count_unit): the product
        is then forecast in units (``forecast_method = units``), its Nd from the
        cohort intensity (e.g. wind: capacity additions x PM share x kg per MW).
    join_years : float or None
        Time constant of the join of the forecast fleet to the ownership curve
        [yr]; None: each product's mean lifetime (:mod:`ndsim.fleet`).
    trade_shares : str
        ``"hold"``: final-product export and import shares of DC held at the last accounted year.
    gompertz : Mapping[str, Mapping[str, float]]
        Per product, overrides of fitted Gompertz parameters (``saturation``, ``alpha``, ``beta``).
    """

    enabled: bool = True
    last_year: int | None = None
    growth_rates: Mapping[str, tuple[tuple[int, int, float], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    levels: Mapping[str, Level] = field(default_factory=lambda: MappingProxyType({}))
    hold: tuple[str, ...] | None = None
    adoption: str | Mapping[str, tuple[tuple[int, float], ...] | Mapping[str, float]] = "hold"
    intensity: Mapping[str, tuple[tuple[int, float], ...] | Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    sales_share: Mapping[str, tuple[tuple[int, float], ...] | Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    units: Mapping[str, tuple[tuple[int, float], ...] | Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    join_years: float | None = None
    trade_shares: str = "hold"
    gompertz: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )


@dataclass(frozen=True)
class RecyclingOptions:
    """End-of-life recycling after the accounted period (waste process, SPEC §1 and §4).

    Attributes
    ----------
    rate : tuple[tuple[int, float], ...] or None
        Piecewise-linear points ``(year, r)`` of the collection-for-recycling rate,
        held flat beyond the first and last point; None: held at the last accounted value.
    recovery_efficiency : float or None
        Recovery efficiency eta after the accounted period; None: the data set's value.
    """

    rate: tuple[tuple[int, float], ...] | None = None
    recovery_efficiency: float | None = None


@dataclass(frozen=True)
class SupplyOptions:
    """Primary supply scenarios (SPEC §4).

    Attributes
    ----------
    base : str
        Q at the last accounted year: ``total_mining`` (official + unregistered) or
        ``official_mining``.
    growth : Mapping[str, float]
        Scenario name -> yearly growth of primary supply [yr-1, fraction].
    net_exports : str
        How the requirement carries net exports after the last accounted year:
        ``share`` (of domestic consumption, as the chain's throughput) or
        ``tonnes`` (held at their level of that year).
    """

    base: str = "total_mining"
    net_exports: str = "share"
    growth: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"S1": 0.02, "S2": 0.05, "S3": 0.08})
    )


@dataclass(frozen=True)
class UncertaintyOptions:
    """Monte Carlo inputs (SPEC §5).

    Attributes
    ----------
    inputs : tuple[str, ...]
        Inputs drawn per draw.
    per_year : bool
        Independent draws per year instead of one factor per series.
    cv : Mapping[str, float]
        Per input, a coefficient of variation that overrides the quality-flag default.
    """

    inputs: tuple[str, ...] = ("production", "nd_content", "adoption_rate")
    per_year: bool = False
    cv: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Scenario:
    """A checked scenario (see :func:`load_scenario`).

    Attributes
    ----------
    name, description : str
    data : str
        Shipped data set name or folder path relative to the scenario file.
    run, forecast, recycling, supply, uncertainty
        The option groups.
    path : Path or None
        The file it was read from.
    sha256 : str or None
        SHA-256 of the file's bytes (provenance).
    """

    name: str = "baseline"
    description: str = ""
    data: str = DEFAULT_DATASET
    run: RunOptions = field(default_factory=RunOptions)
    forecast: ForecastOptions = field(default_factory=ForecastOptions)
    recycling: RecyclingOptions = field(default_factory=RecyclingOptions)
    supply: SupplyOptions = field(default_factory=SupplyOptions)
    uncertainty: UncertaintyOptions = field(default_factory=UncertaintyOptions)
    lifetimes: Mapping[str, LifetimeOverride] = field(default_factory=lambda: MappingProxyType({}))
    path: Path | None = None
    sha256: str | None = None

    def data_path(self) -> Path:
        """The data set folder: relative to the scenario file if it exists there, else shipped."""
        candidate = Path(self.data)
        if not candidate.is_absolute() and self.path is not None:
            candidate = self.path.parent / candidate
        if candidate.is_dir():
            return candidate
        shipped = data_dir(self.data)
        if shipped.is_dir():
            return shipped
        raise ScenarioError(
            f"key data: no data set {self.data!r} (neither a folder next to the scenario "
            "file nor a shipped data set)",
            file=self.file_name,
        )

    @property
    def file_name(self) -> str:
        """The scenario file's name, for messages (``<scenario>`` if not read from a file)."""
        return self.path.name if self.path is not None else "<scenario>"


# --- the declarative schema --------------------------------------------------
class _Invalid(Exception):
    """A leaf check failed (message without the key; the walker adds file and key)."""


Leaf = Callable[[Any], Any]


def _string(choices: tuple[str, ...] | None = None, pattern: re.Pattern | None = None) -> Leaf:
    def check(v: Any) -> str:
        if not isinstance(v, str):
            raise _Invalid(f"expected a string, got {_typename(v)} {v!r}")
        if choices is not None and v not in choices:
            raise _Invalid(
                f"{v!r} is not one of {', '.join(map(repr, choices))}{_suggest(v, choices)}"
            )
        if pattern is not None and not pattern.fullmatch(v):
            raise _Invalid(f"{v!r} is not a valid name")
        return v

    check.__doc__ = "string" + (f" in {choices}" if choices else "")
    return check


def _boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Invalid(f"expected true or false, got {_typename(v)} {v!r}")
    return v


def _integer(lo: int | None = None, hi: int | None = None) -> Leaf:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Invalid(f"expected an integer, got {_typename(v)} {v!r}")
        _in_range(v, lo, hi)
        return v

    return check


def _number(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Leaf:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _Invalid(f"expected a number, got {_typename(v)} {v!r}")
        v = float(v)
        if v != v:
            raise _Invalid("NaN is not allowed")
        if v in (math.inf, -math.inf):
            raise _Invalid(f"{v!r} is not allowed (a finite number is needed)")
        if lo_open and lo is not None and v <= lo:
            raise _Invalid(f"{v!r} is out of range: must be > {lo}")
        if hi_open and hi is not None and v >= hi:
            raise _Invalid(f"{v!r} is out of range: must be < {hi}")
        _in_range(v, None if lo_open else lo, None if hi_open else hi)
        return v

    return check


def _in_range(v: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        lo_s = "-inf" if lo is None else f"{lo}"
        hi_s = "inf" if hi is None else f"{hi}"
        raise _Invalid(f"{v!r} is out of range [{lo_s}, {hi_s}]")


def _name_list(choices: tuple[str, ...] | None = None) -> Leaf:
    def check(v: Any) -> tuple[str, ...]:
        if not isinstance(v, list):
            raise _Invalid(f"expected a list of names, got {_typename(v)} {v!r}")
        item = _string(choices, None if choices else _NAME)
        out = tuple(item(x) for x in v)
        dup = sorted({x for x in out if out.count(x) > 1})
        if dup:
            raise _Invalid(f"duplicate entries {dup}")
        return out

    return check


_YEAR = _integer(1000, 3000)


def _rate(v: Any) -> float:
    """A yearly rate as a fraction in (-1, 1] (SPEC §2.4); a percent is refused with a hint."""
    x = _number()(v)
    if not -1.0 < x <= 1.0:
        hint = f" (did you mean {x / 100:g}?)" if -100.0 < x <= 100.0 else ""
        raise _Invalid(
            f"{v!r} is out of range (-1, 1]: rates are fractions per year, 0.05 = 5 %/yr{hint}"
        )
    return x


_RATE = _rate
_SHARE = _number(0.0, 1.0)


def _periods(v: Any) -> tuple[tuple[int, int, float], ...]:
    """Growth periods: a list of [first_year, last_year, rate], inclusive years, not overlapping."""
    if not isinstance(v, list) or not v:
        raise _Invalid(
            f"expected a list of [first_year, last_year, rate], got {_typename(v)} {v!r}"
        )
    out = []
    for p in v:
        if not isinstance(p, list) or len(p) != 3:
            raise _Invalid(f"each period must be [first_year, last_year, rate], got {p!r}")
        a, b, r = _YEAR(p[0]), _YEAR(p[1]), _RATE(p[2])
        if b < a:
            raise _Invalid(f"period {p!r} ends before it starts")
        out.append((a, b, r))
    out.sort()
    for (_, b0, _), (a1, _, _) in zip(out, out[1:], strict=False):
        if a1 <= b0:
            raise _Invalid(f"periods overlap at {a1}")
    return tuple(out)


def _points(value: Leaf) -> Leaf:
    """Piecewise-linear points: a list of [year, value] with strictly increasing years."""

    def check(v: Any) -> tuple[tuple[int, float], ...]:
        if not isinstance(v, list) or not v:
            raise _Invalid(f"expected a list of [year, value] points, got {_typename(v)} {v!r}")
        out = []
        for p in v:
            if not isinstance(p, list) or len(p) != 2:
                raise _Invalid(f"each point must be [year, value], got {p!r}")
            out.append((_YEAR(p[0]), value(p[1])))
        years = [y for y, _ in out]
        if any(b <= a for a, b in zip(years, years[1:], strict=False)):
            raise _Invalid(f"years must increase strictly, got {years}")
        return tuple(out)

    return check


@dataclass(frozen=True)
class _Table:
    """A TOML table with a fixed set of keys."""

    keys: Mapping[str, Any]
    build: Callable[..., Any] | None = None
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Map:
    """A TOML table with free keys (product codes, scenario names), each checked by `value`."""

    value: Any
    key_pattern: re.Pattern = _NAME
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _Path:
    """A list (checked by `points`) or a table (checked by `table`)."""

    points: Any
    table: Any


@dataclass(frozen=True)
class _Either:
    """A string from `choices` or a value checked by `other`."""

    choices: tuple[str, ...]
    other: Any


_LEVEL = _Table({"year": _YEAR, "value": _number(0.0)}, build=Level, required=("year", "value"))
#: eq. 7, V = VS exp(alpha exp(beta GDP)): VS > 0, alpha < 0, beta < 0
_GOMPERTZ = {
    "saturation": _number(0.0, lo_open=True),
    "alpha": _number(hi=0.0, hi_open=True),
    "beta": _number(hi=0.0, hi_open=True),
    "fit_first": _YEAR,
    "fit_last": _YEAR,
}
#: a path after the last accounted year (SPEC §2.4): a table of [year, value] points, or a
#: logistic from the value of T to `level` by `year`
_LOGISTIC = _Table({"level": _number(0.0), "year": _YEAR}, build=dict, required=("level", "year"))

#: a product's lifetime in a scenario (SPEC §2.3); the checks against the model are in
#: check_against (which parameters a model needs)
_LIFETIME = {
    "model": _string(("fixed", "normal", "lognormal", "weibull", "gamma")),
    "mean": _number(0.0, lo_open=True),
    "sd": _number(0.0, lo_open=True),
    "shape": _number(0.0, lo_open=True),
    "scale": _number(0.0, lo_open=True),
}

#: accepted keys, types and ranges of a scenario file
SCHEMA = _Table(
    {
        "name": _string(pattern=_NAME),
        "description": _string(),
        "data": _string(),
        "run": _Table(
            {
                "lifetime_variant": _string(pattern=_NAME),
                "timing": _string(("end", "middle")),
                "decline_policy": _string(("clip", "retire_early")),
                "on_violation": _string(("error", "warn")),
                "history": _string(("data", "empty")),
                "upstream": _string(("residual", "reconciled")),
            },
            build=RunOptions,
        ),
        "forecast": _Table(
            {
                "enabled": _boolean,
                "last_year": _YEAR,
                "growth_rates": _Map(_periods),
                "levels": _Map(_LEVEL),
                "hold": _name_list(),
                "adoption": _Either(("hold", "full"), _Map(_Path(_points(_SHARE), _LOGISTIC))),
                "intensity": _Map(_Path(_points(_number(0.0)), _LOGISTIC)),
                "sales_share": _Map(_Path(_points(_SHARE), _LOGISTIC)),
                "units": _Map(_Path(_points(_number(0.0)), _LOGISTIC)),
                "join_years": _number(0.0, lo_open=True),
                "trade_shares": _string(("hold",)),
                "gompertz": _Map(_Table(_GOMPERTZ, build=dict)),
            },
            build=ForecastOptions,
        ),
        "recycling": _Table(
            {
                "rate": _points(_SHARE),
                "recovery_efficiency": _number(0.0, 1.0, lo_open=True),
            },
            build=RecyclingOptions,
        ),
        "supply": _Table(
            {
                "base": _string(("total_mining", "official_mining")),
                "net_exports": _string(NET_EXPORTS),
                "growth": _Map(_number(-1.0, 1.0, lo_open=True)),
            },
            build=SupplyOptions,
        ),
        "lifetimes": _Map(_Table(_LIFETIME, build=LifetimeOverride)),
        "uncertainty": _Table(
            {
                "inputs": _name_list(UNCERTAIN_INPUTS),
                "per_year": _boolean,
                "cv": _Map(_number(0.0, 1.0), choices=UNCERTAIN_INPUTS),
            },
            build=UncertaintyOptions,
        ),
    },
    build=None,
)


def _typename(v: Any) -> str:
    return {dict: "table", list: "array", str: "string", bool: "boolean"}.get(
        type(v), type(v).__name__
    )


def _suggest(key: str, valid) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _walk(spec: Any, value: Any, dotted: str, file: str) -> Any:
    def fail(msg: str) -> ScenarioError:
        return ScenarioError(f"key {dotted}: {msg}" if dotted else msg, file=file)

    if isinstance(spec, _Table):
        if not isinstance(value, dict):
            raise fail(f"expected a table, got {_typename(value)} {value!r}")
        unknown = [k for k in value if k not in spec.keys]
        if unknown:
            k = unknown[0]
            key = f"{dotted}.{k}" if dotted else k
            raise ScenarioError(
                f"key {key}: unknown key{_suggest(k, spec.keys)}; valid keys here: "
                f"{', '.join(spec.keys)}",
                file=file,
            )
        missing = [k for k in spec.required if k not in value]
        if missing:
            raise fail(
                f"missing key(s) {', '.join(missing)} (this table needs {', '.join(spec.required)})"
            )
        out = {
            k: _walk(spec.keys[k], v, f"{dotted}.{k}" if dotted else k, file)
            for k, v in value.items()
        }
        return spec.build(**out) if spec.build is not None else out
    if isinstance(spec, _Map):
        if not isinstance(value, dict):
            raise fail(f"expected a table, got {_typename(value)} {value!r}")
        out = {}
        for k, v in value.items():
            if not spec.key_pattern.fullmatch(k):
                raise ScenarioError(f"key {dotted}.{k!r}: not a valid name", file=file)
            if spec.choices is not None and k not in spec.choices:
                raise ScenarioError(
                    f"key {dotted}.{k}: unknown key{_suggest(k, spec.choices)}; valid keys "
                    f"here: {', '.join(spec.choices)}",
                    file=file,
                )
            out[k] = _walk(spec.value, v, f"{dotted}.{k}", file)
        return MappingProxyType(out)
    if isinstance(spec, _Path):
        return _walk(spec.table if isinstance(value, dict) else spec.points, value, dotted, file)
    if isinstance(spec, _Either):
        if isinstance(value, str):
            return _walk(_string(spec.choices), value, dotted, file)
        return _walk(spec.other, value, dotted, file)
    try:
        return spec(value)
    except _Invalid as exc:
        raise fail(str(exc)) from None


# --- loading -----------------------------------------------------------------
def resolve_scenario_path(scenario: str | Path | None = None) -> Path:
    """Path of a scenario: a file, or the name of a shipped scenario (``baseline``), or None (default)."""
    if scenario is None:
        return scenarios_dir() / DEFAULT_SCENARIO
    path = Path(scenario)
    if path.is_file():
        return path
    shipped = scenarios_dir() / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
    if path.parent == Path(".") and shipped.is_file():
        return shipped
    available = sorted(p.stem for p in scenarios_dir().glob("*.toml"))
    raise ScenarioError(
        f"no such scenario file; shipped scenarios: {', '.join(available)}"
        f"{_suggest(path.stem, available)}",
        file=str(scenario),
    )


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read and check a scenario file.

    Parameters
    ----------
    path : str or Path, optional
        A TOML file, or the name of a shipped scenario (``"baseline"``,
        ``"recycling_30"``, ...). Default: the shipped ``baseline.toml``.

    Returns
    -------
    Scenario
        Frozen; ``path`` and ``sha256`` record where it came from.

    Raises
    ------
    ScenarioError
        Unreadable file, TOML syntax, unknown key, wrong type or value out of
        range; the message starts with the file and names the dotted key.
    """
    file = resolve_scenario_path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", file=str(file)) from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"not valid TOML: {exc}", file=file.name) from None
    parts = _walk(SCHEMA, doc, "", file.name)
    parts.setdefault("name", file.stem)
    return Scenario(**parts, path=file.resolve(), sha256=hashlib.sha256(raw).hexdigest())


# --- checks against a data set ------------------------------------------------
def check_against(scenario: Scenario, inputs) -> None:
    """Check the scenario's references to the data set before computing.

    Product codes in the forecast tables must be products of the data set,
    forecast years must lie after the last accounted year, the lifetime
    variant must exist in the data set.

    Raises
    ------
    ScenarioError
        Naming the file and dotted key and listing the offending entries.
    """
    file = scenario.file_name
    products = [str(p) for p in inputs["product"].values]
    last = _attr_year(inputs, "last_year", "last")
    fc = scenario.forecast
    tables = {
        "forecast.growth_rates": fc.growth_rates,
        "forecast.levels": fc.levels,
        "forecast.gompertz": fc.gompertz,
        "forecast.hold": fc.hold or (),
        "forecast.adoption": fc.adoption if not isinstance(fc.adoption, str) else (),
        "forecast.intensity": fc.intensity,
        "forecast.sales_share": fc.sales_share,
        "forecast.units": fc.units,
        "lifetimes": scenario.lifetimes,
    }
    for key, table in tables.items():
        bad = [p for p in table if p not in products]
        if bad:
            raise ScenarioError(
                f"key {key}: unknown product(s) {', '.join(bad)}{_suggest(bad[0], products)}; "
                f"products of the data set: {', '.join(products)}",
                file=file,
            )
    forecast_last = _forecast_last(scenario, inputs)
    if fc.last_year is not None and fc.last_year <= last:
        raise ScenarioError(
            f"key forecast.last_year: {fc.last_year} is not after the last accounted year {last}",
            file=file,
        )
    data_last = _attr_year(inputs, "forecast_last_year", "forecast_last")
    if fc.enabled and fc.last_year is not None and fc.last_year > data_last:
        raise ScenarioError(
            f"key forecast.last_year: {fc.last_year} is after the last year the data set "
            f"covers ({data_last}, forecast_last of its dataset.toml)",
            file=file,
        )
    paths = {
        "forecast.adoption": fc.adoption if not isinstance(fc.adoption, str) else {},
        "forecast.intensity": fc.intensity,
        "forecast.sales_share": fc.sales_share,
        "forecast.units": fc.units,
    }
    for key, table in paths.items():
        for p, spec in table.items():
            years = [spec["year"]] if isinstance(spec, Mapping) else [y for y, _ in spec]
            early = [y for y in years if y <= last]
            if early:
                raise ScenarioError(
                    f"key {key}.{p}: year(s) {', '.join(map(str, early))} not after "
                    f"the last accounted year {last} (the path starts from the data's {last} "
                    "value)",
                    file=file,
                )
    for p, periods in fc.growth_rates.items():
        for a, b, _ in periods:
            if a <= last or b > forecast_last:
                raise ScenarioError(
                    f"key forecast.growth_rates.{p}: period {a}-{b} is outside the forecast "
                    f"years {last + 1}-{forecast_last}",
                    file=file,
                )
    for p, level in fc.levels.items():
        if not last < level.year <= forecast_last:
            raise ScenarioError(
                f"key forecast.levels.{p}.year: {level.year} is outside the forecast years "
                f"{last + 1}-{forecast_last}",
                file=file,
            )
    if fc.enabled:
        _check_forecast_methods(scenario, inputs, last, forecast_last)
    _check_lifetimes(scenario, inputs)
    variants = lifetime_variants(inputs)
    if variants and scenario.run.lifetime_variant not in variants:
        v = scenario.run.lifetime_variant
        raise ScenarioError(
            f"key run.lifetime_variant: {v!r} is not a lifetime variant of the data set "
            f"({', '.join(variants)}){_suggest(v, variants)}",
            file=file,
        )


def _check_lifetimes(scenario: Scenario, inputs) -> None:
    """Each ``[lifetimes]`` entry gives its model the parameters it needs (SPEC §2.3)."""
    from ndsim.validate import LIFETIME_NEEDS

    for p, life in scenario.lifetimes.items():
        if life.model is None:
            if not life.parameters():
                raise ScenarioError(
                    f"key lifetimes.{p}: give a model and its parameters, or parameters to "
                    "change (mean, sd, shape, scale)",
                    file=scenario.file_name,
                )
            continue
        given = set(life.parameters())
        if not any(set(need) <= given for need in LIFETIME_NEEDS[life.model]):
            options = " or ".join("+".join(n) for n in LIFETIME_NEEDS[life.model])
            raise ScenarioError(
                f"key lifetimes.{p}: model {life.model!r} needs {options}", file=scenario.file_name
            )


def apply_lifetimes(scenario: Scenario, inputs):
    """The inputs with the scenario's ``[lifetimes]`` in the lifetime variant it runs.

    The overridden parameters get the quality flag ``estimate`` (a scenario
    assumption, SPEC §5); a ``model`` clears the parameters it does not give.
    """
    if not scenario.lifetimes:
        return inputs
    out = inputs.copy()
    variant = scenario.run.lifetime_variant
    at = {"variant": variant}
    for name in (
        "lifetime_model",
        "lifetime_mean",
        "lifetime_sd",
        "lifetime_shape",
        "lifetime_scale",
    ):
        for var in (name, f"q_{name}"):  # object dtype: a longer string is not cut
            out[var] = (
                inputs[var].astype(object) if inputs[var].dtype.kind == "U" else inputs[var].copy()
            )
    for p, life in scenario.lifetimes.items():
        sel = {**at, "product": p}
        if life.model is not None:
            out["lifetime_model"].loc[sel] = life.model
            out["q_lifetime_model"].loc[sel] = "estimate"
            for k in ("mean", "sd", "shape", "scale"):
                out[f"lifetime_{k}"].loc[sel] = float("nan")
                out[f"q_lifetime_{k}"].loc[sel] = ""
        for k, v in life.parameters().items():
            out[f"lifetime_{k}"].loc[sel] = v
            out[f"q_lifetime_{k}"].loc[sel] = "estimate"
    for name in ("lifetime_model", "q_lifetime_model", "q_lifetime_mean", "q_lifetime_sd"):
        out[name] = out[name].astype(str)
    for name in ("q_lifetime_shape", "q_lifetime_scale"):
        out[name] = out[name].astype(str)
    return out


def _check_forecast_methods(scenario: Scenario, inputs, last: int, forecast_last: int) -> None:
    """Each product's forecast method has what it needs, and no table names a product it does not use."""
    from ndsim.forecast import forecast_methods

    file = scenario.file_name
    fc = scenario.forecast
    methods = forecast_methods(inputs, fc, file=file)  # raises on a product in two tables
    other = [p for p in fc.gompertz if methods.get(p) not in ("fleet", "gompertz")]
    if other:
        p = other[0]
        raise ScenarioError(
            f"key forecast.gompertz.{p}: product(s) {', '.join(other)} are not forecast by an "
            f"ownership curve (forecast method {methods.get(p)!r}); remove the table or the "
            "product's other forecast entry",
            file=file,
        )
    no_level = [p for p, m in methods.items() if m == "level" and p not in fc.levels]
    if no_level:
        raise ScenarioError(
            f"key forecast.levels: no level for the product(s) {', '.join(no_level)} "
            "(forecast_method level in products.csv)",
            file=file,
        )
    future = set(range(last + 1, forecast_last + 1))
    for p, m in methods.items():
        if m != "growth":
            continue
        covered = {y for a, b, _ in fc.growth_rates.get(p, ()) for y in range(a, b + 1)}
        gaps = sorted(future - covered)
        if gaps:
            span = f"{gaps[0]}-{gaps[-1]}" if len(gaps) > 1 else f"{gaps[0]}"
            raise ScenarioError(
                f"key forecast.growth_rates.{p}: no rate for {len(gaps)} forecast year(s) in "
                f"{span} (the periods must cover {last + 1}-{forecast_last})",
                file=file,
            )


def _forecast_last(scenario: Scenario, inputs) -> int:
    if scenario.forecast.last_year is not None:
        return scenario.forecast.last_year
    return _attr_year(inputs, "forecast_last_year", "forecast_last")


def _attr_year(inputs, *names: str) -> int:
    """A year attribute of the canonical Dataset (``first_year``, ``last_year``, ``forecast_last_year``)."""
    for name in names:
        if name in inputs.attrs:
            return int(inputs.attrs[name])
    return int(inputs["year"].max())


def lifetime_variants(inputs) -> tuple[str, ...]:
    """Lifetime variants present in a canonical input Dataset (empty if it declares none)."""
    for name in ("variant", "lifetime_variant"):
        if name in inputs.coords:
            return tuple(str(v) for v in inputs[name].values)
    return ()
