"""The flodym adapter: a DataArray to a flodym FlodymArray and back.

Checks that the round trip is exact (values bit for bit, coordinates, order
of the dimensions, name, units through the argument), that flodym's own
indexing and arithmetic on a converted array give what xarray gives on the
original, that ndsim output variables convert, and that bad input is
refused in one line. flodym is installed by the test extra.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import flodym as fd
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report import make_dataset  # the synthetic SPEC §6 Dataset

import ndsim
from ndsim import conventions as cv
from ndsim.errors import ValidationError
from ndsim.interop import DEFAULT_LETTERS, from_flodym, to_flodym

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = ["EV", "WT", "AC", "NiMH"]
YEARS = list(range(2015, 2021))
DRAWS = [0, 1, 2]


def _bits(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)


def _assert_exact(back: xr.DataArray, expected: xr.DataArray) -> None:
    """Same dims in the same order, coordinates, name, attrs, and values bit for bit."""
    xr.testing.assert_identical(back, expected)
    assert back.dims == expected.dims
    assert back.name == expected.name
    np.testing.assert_array_equal(_bits(back.values), _bits(expected.values))


@pytest.fixture
def cube(rng: np.random.Generator) -> xr.DataArray:
    """product x year x draw, with NaN, -0.0, a subnormal and an infinity among the values."""
    values = rng.lognormal(3.0, 1.0, (len(PRODUCTS), len(YEARS), len(DRAWS)))
    values[0, 0, 0] = np.nan
    values[1, 2, 0] = -0.0
    values[2, 3, 1] = 5e-324
    values[3, 5, 2] = np.inf
    return xr.DataArray(
        values,
        dims=("product", "year", "draw"),
        coords={"product": PRODUCTS, "year": YEARS, "draw": DRAWS},
        name="inflow",
        attrs={"units": "t yr-1"},
    )


# --- round trip ---------------------------------------------------------------


def test_round_trip_is_exact(cube: xr.DataArray) -> None:
    arr = to_flodym(cube)

    assert isinstance(arr, fd.FlodymArray)
    assert arr.name == "inflow"
    assert arr.dims.names == ("product", "year", "draw")
    assert arr.dims.letters == ("g", "t", "d")
    assert arr.dims["product"].items == PRODUCTS
    assert arr.dims["t"].items == YEARS
    assert all(type(y) is int for y in arr.dims["t"].items)
    assert arr.values.dtype == np.float64 and arr.shape == cube.shape
    np.testing.assert_array_equal(_bits(arr.values), _bits(cube.values))

    back = from_flodym(arr, units=cube.attrs["units"])
    _assert_exact(back, cube)
    assert back["year"].dtype == np.int64


def test_dimension_order_is_kept(cube: xr.DataArray) -> None:
    turned = cube.transpose("draw", "year", "product")
    arr = to_flodym(turned)
    assert arr.dims.letters == ("d", "t", "g")
    _assert_exact(from_flodym(arr, units="t yr-1"), turned)


def test_units_come_back_only_through_the_argument(cube: xr.DataArray) -> None:
    arr = to_flodym(cube)
    assert from_flodym(arr).attrs == {}
    assert from_flodym(arr, units="kt yr-1").attrs == {"units": "kt yr-1"}


def test_name_default_and_override(cube: xr.DataArray) -> None:
    anonymous = to_flodym(cube.rename(None))
    assert anonymous.name == "unnamed"  # flodym's default
    assert from_flodym(anonymous).name is None
    assert from_flodym(to_flodym(cube), name="sales").name == "sales"


def test_values_are_copied_both_ways(cube: xr.DataArray) -> None:
    before = cube.copy(deep=True)
    arr = to_flodym(cube)
    arr.values[...] = 0.0
    _assert_exact(cube, before)

    arr = to_flodym(cube)
    back = from_flodym(arr)
    back.values[...] = 1.0
    np.testing.assert_array_equal(_bits(arr.values), _bits(cube.values))


def test_integer_values_become_float() -> None:
    da = xr.DataArray(
        np.arange(6, dtype=np.int32).reshape(2, 3),
        dims=("scenario", "year"),
        coords={"scenario": ["S1", "S2"], "year": [2020, 2021, 2022]},
    )
    arr = to_flodym(da)
    assert arr.values.dtype == np.float64
    xr.testing.assert_identical(from_flodym(arr), da.astype(np.float64))


def test_dimension_without_coordinate_gets_positions() -> None:
    da = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("draw", "year"))
    arr = to_flodym(da)
    assert arr.dims["d"].items == [0, 1] and arr.dims["t"].items == [0, 1, 2]
    back = from_flodym(arr)
    np.testing.assert_array_equal(back["draw"].values, [0, 1])
    xr.testing.assert_identical(back.drop_vars(["draw", "year"]), da)


def test_whole_float_years_become_integers() -> None:
    da = xr.DataArray([1.0, 2.0], dims="year", coords={"year": [2020.0, 2021.0]})
    arr = to_flodym(da)
    assert arr.dims["t"].items == [2020, 2021]
    assert all(type(y) is int for y in arr.dims["t"].items)
    back = from_flodym(arr)
    assert back["year"].dtype == np.int64
    assert back.sel(year=2021).item() == 2.0


def test_flodym_subclasses_convert_back() -> None:
    dims = fd.DimensionSet(
        dim_list=[
            fd.Dimension(name="year", letter="t", items=[2020, 2021]),
            fd.Dimension(name="product", letter="g", items=["EV", "WT"]),
        ]
    )
    values = np.array([[1.0, 2.0], [3.0, 4.0]])
    for cls in (fd.StockArray, fd.Parameter):
        da = from_flodym(cls(dims=dims, values=values.copy(), name="s"), units="t")
        assert da.dims == ("year", "product") and da.name == "s" and da.attrs == {"units": "t"}
        assert da.sel(year=2021, product="EV").item() == 3.0


def test_zero_dimensional_array() -> None:
    da = xr.DataArray(3.5, name="supply_upstream_share", attrs={"units": "1"})
    arr = to_flodym(da)
    assert arr.dims.letters == ()
    _assert_exact(from_flodym(arr, units="1"), da)


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    dims=st.lists(st.sampled_from(sorted(DEFAULT_LETTERS)), min_size=1, max_size=4, unique=True),
)
def test_round_trip_property(data: st.DataObject, dims: list[str]) -> None:
    sizes = [data.draw(st.integers(1, 4)) for _ in dims]
    coords = {}
    for dim, n in zip(dims, sizes, strict=True):
        if dim in (cv.YEAR, cv.DRAW, cv.AGE, cv.COHORT):
            first = data.draw(st.integers(-3000, 3000))
            coords[dim] = np.arange(first, first + n, dtype=np.int64)
        else:
            coords[dim] = [f"{dim}_{i}" for i in range(n)]
    flat = data.draw(
        st.lists(finite_or_not, min_size=int(np.prod(sizes)), max_size=int(np.prod(sizes)))
    )
    da = xr.DataArray(
        np.array(flat, dtype=np.float64).reshape(sizes),
        dims=tuple(dims),
        coords=coords,
        name="x",
        attrs={"units": "t"},
    )
    _assert_exact(from_flodym(to_flodym(da), units="t"), da)


# --- flodym's own indexing and arithmetic agree with xarray ----------------------


def test_values_at_items_equal_sel(cube: xr.DataArray) -> None:
    arr = to_flodym(cube)
    for product in PRODUCTS:
        for year in (YEARS[0], YEARS[3], YEARS[-1]):
            for draw in DRAWS:
                got = arr[{"g": product, "t": year, "d": draw}].values
                want = cube.sel(product=product, year=year, draw=draw).values
                np.testing.assert_array_equal(_bits(got), _bits(want))
    # a slice along one letter keeps the others, in order
    part = arr[{"t": 2017}]
    assert part.dims.letters == ("g", "d")
    np.testing.assert_array_equal(_bits(part.values), _bits(cube.sel(year=2017).values))
    # and converts back to the same labelled slice
    _assert_exact(from_flodym(part, units="t yr-1"), cube.sel(year=2017).drop_vars("year"))


def test_sum_over_product_equals_xarray_sum(rng: np.random.Generator) -> None:
    da = xr.DataArray(
        rng.uniform(0.0, 100.0, (len(PRODUCTS), len(YEARS), len(DRAWS))),
        dims=("product", "year", "draw"),
        coords={"product": PRODUCTS, "year": YEARS, "draw": DRAWS},
    )
    arr = to_flodym(da)
    by_name = from_flodym(arr.sum_over(("product",)))
    by_letter = from_flodym(arr.sum_over("g"))
    want = da.sum("product")
    assert by_name.dims == ("year", "draw")
    xr.testing.assert_allclose(by_name, want, rtol=1e-13, atol=0.0)
    xr.testing.assert_identical(by_name, by_letter)

    shares = from_flodym(arr.get_shares_over("g"))
    xr.testing.assert_allclose(shares, da / da.sum("product"), rtol=1e-13, atol=0.0)


def test_flodym_broadcasting_by_letter_equals_xarray_product(cube: xr.DataArray) -> None:
    da = cube.fillna(1.0).where(np.isfinite(cube), 2.0)
    arr = to_flodym(da)
    # an intensity over products, built in flodym as a model would build it
    intensity_values = np.array([0.5, 2.0, 0.25, 4.0])
    goods = fd.Dimension(name="product", letter="g", items=list(PRODUCTS))
    intensity = fd.FlodymArray(dims=goods.as_dimset(), values=intensity_values)

    product = from_flodym(arr * intensity, units="t yr-1", name="inflow")
    want = da * xr.DataArray(intensity_values, dims="product", coords={"product": PRODUCTS})
    # equal as numbers (numpy.einsum, which flodym multiplies with, turns -0.0 into 0.0)
    xr.testing.assert_identical(product, want.assign_attrs(units="t yr-1").rename("inflow"))

    # an intensity over (year, product), in the other order: flodym aligns by letter
    ty = np.linspace(0.5, 1.5, len(YEARS))[:, None] * intensity_values[None, :]
    year_goods = fd.DimensionSet(dim_list=[arr.dims["t"], goods])
    per_year = fd.FlodymArray(dims=year_goods, values=ty)
    got = from_flodym((arr * per_year).sum_over("g"))
    want = (
        da * xr.DataArray(ty, dims=("year", "product"), coords={"year": YEARS, "product": PRODUCTS})
    ).sum("product")
    assert got.dims == ("year", "draw")
    xr.testing.assert_allclose(got, want.transpose("year", "draw"), rtol=1e-13, atol=0.0)


# --- ndsim output variables -------------------------------------------------------


@pytest.mark.parametrize("ensemble", [False, True])
def test_output_variables_round_trip(ensemble: bool) -> None:
    ds = make_dataset(ensemble=ensemble)
    assert set(ds.dims) <= set(DEFAULT_LETTERS)
    for name, var in ds.data_vars.items():
        arr = to_flodym(var)
        assert arr.dims.names == var.dims
        assert arr.name == name
        back = from_flodym(arr, units=var.attrs["units"])
        # flodym carries neither attributes nor non-dimension coordinates
        expected = var.reset_coords(drop=True).copy()
        expected.attrs = {"units": var.attrs["units"]}
        _assert_exact(back, expected)
    if ensemble:
        assert to_flodym(ds["inflow"]).dims.letters == ("q", "g", "t")


def test_flow_matrix_indexing() -> None:
    flow = make_dataset()["flow"].fillna(0.0)  # flows that do not exist are 0 in flodym
    arr = to_flodym(flow)
    assert arr.dims.letters == ("f", "n", "t")
    got = arr[{"f": "refining", "n": "fabrication"}]
    want = flow.sel(origin="refining", destination="fabrication")
    np.testing.assert_array_equal(_bits(got.values), _bits(want.values))
    # what leaves use, per year: flodym sums over the destinations
    out_of_use = from_flodym(arr[{"f": "use"}].sum_over("n"))
    xr.testing.assert_allclose(
        out_of_use, flow.sel(origin="use").sum("destination").drop_vars("origin")
    )


def test_the_documentation_example_runs(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    text = (ROOT / "docs" / "interoperability.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    ds = make_dataset()
    monkeypatch.setattr(ndsim, "run", lambda *args, **kwargs: ds)  # the cheap Dataset
    exec(compile(code, "interoperability.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "('g', 't')"
    share = np.linspace(0.1, 0.9, ds.sizes["product"])
    want = float((ds["inflow"].sel(year=2017) * share).sum())
    assert float(lines[1]) == pytest.approx(want, rel=1e-12)


# --- letters and bad input -------------------------------------------------------


def test_default_letters_are_unique_ascii() -> None:
    letters = list(DEFAULT_LETTERS.values())
    assert len(set(letters)) == len(letters)
    assert all(len(x) == 1 and x.isascii() and x.isalpha() for x in letters)
    assert DEFAULT_LETTERS["year"] == "t"


def test_letters_override_and_extend(cube: xr.DataArray) -> None:
    arr = to_flodym(cube, letters={"product": "p", "unused_dimension": "z"})
    assert arr.dims.letters == ("p", "t", "d")
    da = xr.DataArray(
        np.ones((2, 3)),
        dims=("region", "year"),
        coords={"region": ["CN", "EU"], "year": [2020, 2021, 2022]},
    )
    arr = to_flodym(da, letters={"region": "r"})
    assert arr.dims.letters == ("r", "t")
    _assert_exact(from_flodym(arr), da)


def _one_line(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message
    return message


def test_two_dimensions_on_one_letter(cube: xr.DataArray) -> None:
    with pytest.raises(ValidationError) as excinfo:
        to_flodym(cube, letters={"draw": "t"})
    message = _one_line(excinfo)
    assert "share one flodym letter" in message
    assert "'year'" in message and "'draw'" in message and "'t'" in message


def test_dimension_without_letter() -> None:
    da = xr.DataArray(np.ones((2, 2)), dims=("region", "year"))
    with pytest.raises(ValidationError) as excinfo:
        to_flodym(da)
    message = _one_line(excinfo)
    assert "'region'" in message and "letters=" in message


@pytest.mark.parametrize("letter", ["tt", "1", "é", "", "_"])
def test_letter_must_be_one_ascii_letter(cube: xr.DataArray, letter: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        to_flodym(cube, letters={"draw": letter})
    assert "one ASCII letter" in _one_line(excinfo)


def test_not_a_dataarray() -> None:
    with pytest.raises(TypeError) as excinfo:
        to_flodym(np.ones(3))
    assert "xarray.DataArray" in _one_line(excinfo) and "ndarray" in str(excinfo.value)
    with pytest.raises(TypeError) as excinfo:
        to_flodym(make_dataset())
    assert "pick one variable" in _one_line(excinfo)
    with pytest.raises(TypeError) as excinfo:
        from_flodym(xr.DataArray([1.0]))
    assert "flodym.FlodymArray" in _one_line(excinfo)


def test_short_dimension_name_and_text_values() -> None:
    with pytest.raises(ValidationError) as excinfo:
        to_flodym(xr.DataArray([1.0, 2.0], dims="x"), letters={"x": "x"})
    assert "two characters" in _one_line(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        to_flodym(xr.DataArray(["a", "b"], dims="year", coords={"year": [2020, 2021]}))
    assert "numbers" in _one_line(excinfo)


def test_years_must_be_whole() -> None:
    da = xr.DataArray([1.0, 2.0], dims="year", coords={"year": [2020.5, 2021.0]})
    with pytest.raises(ValidationError) as excinfo:
        to_flodym(da)
    assert "whole years" in _one_line(excinfo)
    dims = fd.DimensionSet(dim_list=[fd.Dimension(name="year", letter="t", items=["2020"])])
    with pytest.raises(ValidationError) as excinfo:
        from_flodym(fd.FlodymArray(dims=dims, values=np.ones(1)))
    assert "whole years" in _one_line(excinfo)


def test_missing_flodym_names_the_install(
    monkeypatch: pytest.MonkeyPatch, cube: xr.DataArray
) -> None:
    monkeypatch.setitem(sys.modules, "flodym", None)  # as if not installed
    for call in (lambda: to_flodym(cube), lambda: from_flodym(object())):
        with pytest.raises(ImportError) as excinfo:
            call()
        assert "pip install flodym" in _one_line(excinfo)
