"""Units: the project registry, CF strings, conversions (hand-computed factors)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ndsim.errors import ValidationError
from ndsim.units import conversion_factor, convert, is_compatible, parse_units, to_cf


def test_g_per_unit_times_units_per_year_round_trips_to_t_per_year():
    # 0.3 g per phone x 1.92e9 phones/yr = 576 t/yr (the paper's mobile phones)
    flow = parse_units("g unit-1") * parse_units("unit yr-1")
    assert to_cf(flow) == "g yr-1"
    assert flow.to("t/yr").magnitude == pytest.approx(1e-6)
    tonnes = convert(0.3, "g unit-1", "t unit-1") * convert(1.92e9, "unit yr-1", "unit yr-1")
    assert tonnes == pytest.approx(576.0)
    back = convert(convert(576.0, "t yr-1", "g yr-1"), "g yr-1", "t yr-1")
    assert back == pytest.approx(576.0, rel=1e-15)


def test_g_per_unit_is_not_grams_per_micronit():
    # pint alone reads g/unit as gram / micro-nit
    q = parse_units("g/unit")
    assert dict(q.dimensionality) == {"[mass]": 1, "[item]": -1}
    assert conversion_factor("g/unit", "g unit-1") == 1.0


@pytest.mark.parametrize(
    ("value", "unit", "target", "expected"),
    [
        (25.0, "%", "1", 0.25),
        (3.0, "ppm", "1", 3e-6),
        (1.0, "1", "1", 1.0),
        (2.0, "10^4 unit yr-1", "unit yr-1", 20000.0),
        (2.0, "1e4 unit yr-1", "unit yr-1", 20000.0),
        (90000.0, "kW yr-1", "MW yr-1", 90.0),
        (3000.0, "kg yr-1", "t yr-1", 3.0),
        (1.5, "kt", "t", 1500.0),
        (24.0, "month", "yr", 2.0),
        (35.0, "10^-2 unit person-1", "unit person-1", 0.35),
        (5.0, "10^6 person", "person", 5e6),
        (224.0, "kg MW-1", "t MW-1", 0.224),
        (1.0, "m2", "cm2", 1e4),
    ],
)
def test_conversions(value, unit, target, expected):
    assert convert(value, unit, target) == pytest.approx(expected, rel=1e-12)


def test_kg_per_mw_times_mw_per_year_is_t_per_year():
    # the paper's wind turbines: 19,659 MW x 224 kg/MW x 25 % = 1,100.9 t
    flow = parse_units("kg MW-1") * parse_units("MW yr-1") * parse_units("%")
    assert flow.to("t/yr").magnitude * 19659 * 224 * 25 == pytest.approx(1100.904, rel=1e-9)
    assert to_cf(parse_units("kg MW-1") * parse_units("MW yr-1")) == "kg yr-1"


def test_convert_keeps_arrays():
    values = np.array([1.0, 2.0, 4.0])
    out = convert(values, "g unit-1", "t unit-1")
    np.testing.assert_allclose(out, values * 1e-6)


@pytest.mark.parametrize(
    ("text", "cf"),
    [
        ("t yr-1", "t yr-1"),
        ("t / yr", "t yr-1"),
        ("kg/MW", "kg MW-1"),
        ("unit yr-1", "unit yr-1"),
        ("10^4 unit yr-1", "10^4 unit yr-1"),
        ("g unit-1", "g unit-1"),
        ("%", "%"),
        ("ppm", "ppm"),
        ("1", "1"),
        ("yr", "yr"),
        ("persons", "person"),
        ("USD2005 PPP person-1 yr-1", "USD2005 PPP person-1 yr-1"),
    ],
)
def test_to_cf(text, cf):
    assert to_cf(text) == cf


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("kg", "t yr-1"),
        ("unit household-1", "unit person-1"),  # a household size is data, not a unit
        ("t yr-1", "unit yr-1"),
        ("MW yr-1", "unit yr-1"),
        ("USD2005 person-1", "USD2015 person-1"),  # a deflator is data
        ("USD person-1", "CNY person-1"),
    ],
)
def test_dimension_mismatch_is_a_validation_error(a, b):
    assert not is_compatible(a, b)
    with pytest.raises(ValidationError, match=f"unit '{a}' cannot be converted to '{b}'"):
        convert(1.0, a, b)


@pytest.mark.parametrize(
    "text", ["unicorn yr-1", "g unit-x", "", "t yr-", "g/(unit", "10^400 t", "0 t"]
)
def test_bad_unit_strings(text):
    with pytest.raises(ValidationError):
        parse_units(text)


def test_import_ndsim_does_not_import_pint():
    code = "import sys, ndsim, ndsim.units; assert 'pint' not in sys.modules, 'pint imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


_FACTORS = ["t", "kg", "g", "yr", "unit", "MW", "person", "household", "m"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_FACTORS), st.integers(-3, 3).filter(bool)),
        min_size=1,
        max_size=4,
        unique_by=lambda t: t[0],
    ),
    st.sampled_from(["", "10^3 ", "10^-2 ", "2.5 "]),
)
def test_cf_strings_round_trip(factors, prefix):
    text = prefix + " ".join(f"{name}{exp if exp != 1 else ''}" for name, exp in factors)
    parsed = parse_units(text)
    again = parse_units(to_cf(parsed))
    assert conversion_factor(to_cf(parsed), text) == pytest.approx(1.0, rel=1e-12)
    assert again.dimensionality == parsed.dimensionality
    expected_factor = {"": 1.0, "10^3 ": 1e3, "10^-2 ": 1e-2, "2.5 ": 2.5}[prefix]
    assert parsed.magnitude == pytest.approx(expected_factor)
