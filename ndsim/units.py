"""Units: one project registry and the CF unit strings of the data tables.

The data tables write units the way CF metadata does (UDUNITS syntax):
space-separated factors with integer exponents, e.g. ``t yr-1``,
``g unit-1``, ``10^4 unit yr-1``, ``kg MW-1``, ``%``, ``ppm`` or ``1``.
:func:`parse_units` turns such a string into a :mod:`pint` quantity (its
magnitude is the numeric factor, 1 for a plain unit), :func:`to_cf` writes
one back, and :func:`convert` converts values between two unit strings.

pint lacks or misreads a few units the tables need, so the project registry
defines them:

- ``unit`` (alias ``units``, ``item``, ``items``): one counted product, a
  dimension of its own (``[item]``). Without it pint reads ``g/unit`` as
  grams per micro-nit.
- ``person`` (``persons``, ``capita``) and ``household`` (``households``):
  dimensions of their own, so that converting per household to per person
  is an error, not a silent factor (a household size is a stated factor
  with a source, not a unit conversion).
- ``kt`` is a kilotonne (pint reads it as a knot).
- currencies: ``USD``, ``EUR``, ``CNY`` and base-year tokens such as
  ``USD2005`` are each a dimension of their own (converting between them
  needs an exchange rate or a deflator, which is data); ``PPP`` marks
  purchasing-power parity and is a dimension too.

The registry is created on first use, so that ``import ndsim`` does not
import pint. pint keeps its parsed default definitions in ndsim's cache
folder (``pint/`` in :func:`ndsim.io.readers.cache_dir`; pint keys them on
the content of its definition files), which saves most of the time the
registry takes to build; without a cache folder it parses them each time.

Examples
--------
>>> from ndsim.units import convert, to_cf, parse_units
>>> float(convert(0.3, "g unit-1", "t unit-1"))
3e-07
>>> to_cf(parse_units("g unit-1") * parse_units("unit yr-1"))
'g yr-1'
"""

from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING, Any

from ndsim.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import pint

__all__ = [
    "registry",
    "parse_units",
    "to_cf",
    "convert",
    "conversion_factor",
    "is_compatible",
]

#: definitions added to pint's default registry
_DEFINITIONS = (
    "unit = [item] = _ = units = item = items",
    "person = [person] = _ = persons = capita",
    "household = [household] = _ = households",
    "kt = 1000 * metric_ton",
    "PPP = [purchasing_power_parity]",
)
#: currency codes known without a base year
_CURRENCIES = ("USD", "EUR", "CNY")
#: a currency with a base year, e.g. USD2005: its own dimension
_CURRENCY_YEAR = re.compile(r"^(?:USD|EUR|CNY)\d{4}$")
#: names pint would write with a symbol that is not the CF one
_CF_SYMBOLS = {"year": "yr", "metric_ton": "t", "percent": "%", "dimensionless": "1"}

_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_POWER_OF_TEN = re.compile(r"^10\^([+-]?\d+)$")
_FACTOR = re.compile(r"^([A-Za-z_$][A-Za-z_$]*)\^?([+-]?\d+)?$")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z_$0-9]*")


@functools.lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """Return the project's pint unit registry (created once, on first use).

    Returns
    -------
    pint.UnitRegistry
        pint's default registry plus the definitions listed in the module
        docstring.
    """
    import pint

    from ndsim.io.readers import cache_dir

    # force_ndarray_like: what pint-xarray requires of a registry (``ds.pint.quantify``)
    options: dict[str, Any] = {"on_redefinition": "ignore", "force_ndarray_like": True}
    ureg = None
    root = cache_dir()
    if root is not None:  # pint's own cache of its parsed definitions, keyed on their content
        try:
            ureg = pint.UnitRegistry(cache_folder=root / "pint", **options)
        except Exception:  # noqa: BLE001 - an unusable cache: parse the definitions instead
            ureg = None
    if ureg is None:
        ureg = pint.UnitRegistry(cache_folder=None, **options)
    for definition in _DEFINITIONS:
        ureg.define(definition)
    for code in _CURRENCIES:
        ureg.define(f"{code} = [currency_{code}]")

    defined: set[str] = set()

    def udunits(text: str) -> str:
        """Read the UDUNITS strings of ndsim's files (``t yr-1``) wherever pint parses units,
        e.g. in ``ds.pint.quantify(unit_registry=registry())``."""
        for token in _IDENTIFIER.findall(text):  # USD2005 and the like: a dimension each
            if _CURRENCY_YEAR.match(token) and token not in defined:
                defined.add(token)
                ureg.define(f"{token} = [currency_{token}]")
        try:
            return _cf_to_pint(text) if text.strip() else text
        except ValidationError:
            return text

    ureg.preprocessors.append(udunits)
    return ureg


def _define_currency_years(ureg: pint.UnitRegistry, text: str) -> None:
    """Define base-year currency tokens such as ``USD2005`` found in ``text``.

    The registry's own preprocessor defines them on first sight; parsing ``text`` once
    through it is enough."""
    ureg.preprocessors[-1](text)


def _cf_to_pint(text: str) -> str:
    """Rewrite a CF (UDUNITS-style) unit string as a pint expression.

    ``10^4 unit yr-1`` becomes ``10**4 * unit * yr**-1``; strings that
    already use pint's operators (``/``, ``*``, ``(``) pass through.
    """
    if any(op in text for op in "/*()"):
        return text.replace("^", "**")
    terms = []
    for token in text.split():
        if token == "%":
            terms.append("percent")
        elif _NUMBER.match(token):
            terms.append(f"({token})")
        elif m := _POWER_OF_TEN.match(token):
            terms.append(f"(10**{m.group(1)})")
        elif _CURRENCY_YEAR.match(token):
            terms.append(token)
        elif m := _FACTOR.match(token):
            name, exponent = m.groups()
            terms.append(name if exponent is None else f"{name}**({int(exponent)})")
        else:
            raise ValidationError(f"unit '{text}': cannot read the factor '{token}'")
    return " * ".join(terms)


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> Any:
    ureg = registry()
    if text == "":
        raise ValidationError("empty unit string")
    _define_currency_years(ureg, text)
    expression = _cf_to_pint(text)
    try:
        quantity = ureg.Quantity(expression)
        if not isinstance(quantity, ureg.Quantity):  # a bare number
            quantity = ureg.Quantity(float(quantity))
        factor = float(quantity.magnitude)
    except Exception as exc:  # noqa: BLE001 - any failure of the unit library is "does not parse"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationError(f"unit '{text}' does not parse ({reason})") from None
    if not math.isfinite(factor) or factor <= 0:
        raise ValidationError(f"unit '{text}' has a factor that is not a positive finite number")
    return quantity


def parse_units(s: str | pint.Quantity | pint.Unit) -> pint.Quantity:
    """Parse a unit string (CF or pint syntax) with the project registry.

    Parameters
    ----------
    s : str
        A unit string: CF/UDUNITS style (``t yr-1``, ``10^4 unit yr-1``,
        ``g unit-1``, ``m2``, ``%``, ``ppm``, ``1``) or pint style
        (``g/unit``, ``t / yr``). A pint Unit or Quantity passes through.

    Returns
    -------
    pint.Quantity
        A quantity whose magnitude is the numeric factor of the string
        (1 for a plain unit, 10000 for ``10^4 unit yr-1``) and whose units
        are the unit part.

    Raises
    ------
    ndsim.errors.ValidationError
        If the string is empty or does not parse.

    Examples
    --------
    >>> parse_units("10^4 unit yr-1").magnitude
    10000.0
    """
    ureg = registry()
    if isinstance(s, ureg.Quantity):
        return s
    if isinstance(s, ureg.Unit):
        return ureg.Quantity(1.0, s)
    if not isinstance(s, str):
        raise ValidationError(f"unit {s!r} is not a string")
    return _parse_cached(s.strip())


def _format_factor(value: float) -> str:
    if value == 1:
        return ""
    exponent = math.log10(abs(value)) if value > 0 else float("nan")
    if math.isfinite(exponent) and abs(exponent - round(exponent)) < 1e-12:
        return f"10^{round(exponent)}"
    return repr(float(value))


def to_cf(units: str | pint.Quantity | pint.Unit) -> str:
    """Write units as a CF (UDUNITS-style) string, e.g. ``t yr-1``.

    Parameters
    ----------
    units : str or pint.Unit or pint.Quantity
        The units; a quantity's magnitude other than 1 is written as a
        leading factor (``10^4 unit yr-1``).

    Returns
    -------
    str
        Factors with positive exponents first, then negative ones, each as
        ``symbol`` or ``symbol<exponent>``; ``1`` for dimensionless.

    Examples
    --------
    >>> to_cf("kg / MW")
    'kg MW-1'
    """
    quantity = parse_units(units)
    ureg = registry()
    parts: list[str] = []
    container = quantity.units._units
    ordered = [(k, v) for k, v in container.items() if v > 0]
    ordered += [(k, v) for k, v in container.items() if v < 0]
    for name, exponent in ordered:
        symbol = _CF_SYMBOLS.get(name) or ureg.get_symbol(name)
        if float(exponent) != int(exponent):
            raise ValidationError(f"unit '{quantity.units}' has a non-integer exponent")
        parts.append(symbol if exponent == 1 else f"{symbol}{int(exponent)}")
    factor = _format_factor(float(quantity.magnitude))
    if factor:
        parts.insert(0, factor)
    return " ".join(parts) if parts else "1"


def conversion_factor(from_units: str, to_units: str) -> float:
    """Factor that converts a value in ``from_units`` to ``to_units``.

    Parameters
    ----------
    from_units, to_units : str
        Unit strings (see :func:`parse_units`).

    Returns
    -------
    float
        ``x [to_units] = factor * x [from_units]``.

    Raises
    ------
    ndsim.errors.ValidationError
        If a string does not parse or the dimensions differ.
    """
    import pint

    source = parse_units(from_units)
    target = parse_units(to_units)
    try:
        value = source.to(target.units).magnitude
    except pint.errors.PintError:
        raise ValidationError(
            f"unit '{from_units}' cannot be converted to '{to_units}' "
            f"(dimension {source.dimensionality} is not {target.dimensionality})"
        ) from None
    factor = float(value) / float(target.magnitude)
    if not math.isfinite(factor) or factor <= 0:
        raise ValidationError(f"unit '{from_units}' to '{to_units}': factor {factor} is not usable")
    return factor


def is_compatible(from_units: str, to_units: str) -> bool:
    """Whether two unit strings have the same dimension (both must parse)."""
    return parse_units(from_units).dimensionality == parse_units(to_units).dimensionality


def convert(values: Any, from_units: str, to_units: str) -> Any:
    """Convert values from one unit string to another.

    Parameters
    ----------
    values : float, numpy.ndarray or xarray.DataArray
        Values in ``from_units``.
    from_units, to_units : str
        Unit strings (see :func:`parse_units`).

    Returns
    -------
    same type as ``values``
        ``values * conversion_factor(from_units, to_units)``.

    Raises
    ------
    ndsim.errors.ValidationError
        If a string does not parse or the dimensions differ (one line).

    Examples
    --------
    >>> float(convert(25.0, "%", "1"))
    0.25
    """
    return values * conversion_factor(from_units, to_units)
