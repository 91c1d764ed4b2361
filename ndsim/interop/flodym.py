"""Convert between an ndsim DataArray and a flodym ``FlodymArray``.

flodym (https://github.com/pik-piam/flodym) addresses the dimensions of its
arrays by one-letter codes and matches them by letter in arithmetic
(``a * b`` broadcasts over the union of the letters of ``a`` and ``b``).
:func:`to_flodym` gives each xarray dimension a :class:`flodym.Dimension`
whose name is the dimension's name, whose letter comes from
:data:`DEFAULT_LETTERS` (or the caller's ``letters``) and whose items are
the coordinate values; :func:`from_flodym` goes back.

flodym arrays have no units and no attributes: the ``units`` attribute of a
DataArray does not travel into flodym and has to be passed back to
:func:`from_flodym`. Non-dimension coordinates (``category`` and ``group``
on ``product``, scalar coordinates left by ``.sel``) are not carried either.

flodym is an optional dependency, imported when one of the functions is
called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim.errors import ValidationError

if TYPE_CHECKING:
    import flodym

#: The letter of each ndsim dimension in flodym. ``year`` is flodym's time
#: letter ``t`` and ``product`` its goods letter ``g``, so that the arrays
#: broadcast with the Time and Good dimensions of a flodym model; the others
#: are mnemonic and keep clear of ``r`` (region), ``e`` (element) and ``h``
#: (historic time), which flodym models use for dimensions ndsim does not have.
DEFAULT_LETTERS: dict[str, str] = {
    cv.YEAR: "t",
    cv.PRODUCT: "g",
    cv.DRAW: "d",
    cv.SCENARIO: "s",
    cv.STAGE: "l",  # trade level
    cv.SOURCE: "o",  # ore source
    cv.INTERMEDIATE: "i",
    cv.PROCESS: "p",
    cv.ORIGIN: "f",  # a flow from
    cv.DESTINATION: "n",  # a flow into
    cv.MEASUREMENT: "m",
    cv.STAT: "q",
    cv.AGE: "a",
    cv.COHORT: "c",
}

_INSTALL_HINT = "the flodym adapter needs flodym: pip install flodym"


def _import_flodym() -> Any:
    try:
        import flodym
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return flodym


def _letters_for(dims: tuple[str, ...], letters: Mapping[str, str] | None) -> list[str]:
    """One flodym letter per dimension, checked to be single, ASCII and unique."""
    table = {**DEFAULT_LETTERS, **(dict(letters) if letters is not None else {})}
    missing = [d for d in dims if d not in table]
    if missing:
        raise ValidationError(
            f"to_flodym: no flodym letter for dimension(s) {missing}; "
            f"pass letters={{{missing[0]!r}: 'x'}} with an unused letter"
        )
    chosen = [table[d] for d in dims]
    bad = {d: table[d] for d in dims if not _is_letter(table[d])}
    if bad:
        raise ValidationError(
            f"to_flodym: a flodym letter is one ASCII letter a-z or A-Z, got {bad}"
        )
    by_letter: dict[str, list[str]] = {}
    for d, letter in zip(dims, chosen, strict=True):
        by_letter.setdefault(letter, []).append(d)
    clashes = {letter: ds for letter, ds in by_letter.items() if len(ds) > 1}
    if clashes:
        text = "; ".join(f"{ds} -> {letter!r}" for letter, ds in clashes.items())
        raise ValidationError(
            f"to_flodym: two dimensions would share one flodym letter ({text}); "
            "give them different letters"
        )
    return chosen


def _is_letter(letter: object) -> bool:
    # flodym hands the letters to numpy.einsum, which takes a-z and A-Z only
    return isinstance(letter, str) and len(letter) == 1 and letter.isascii() and letter.isalpha()


def _items(da: xr.DataArray, dim: str) -> tuple[list, type | None]:
    """The items of one dimension as plain Python values, and their common type."""
    if dim not in da.coords:
        return list(range(da.sizes[dim])), int
    values = np.asarray(da[dim].values)
    if dim == cv.YEAR:
        if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values % 1 == 0):
            values = values.astype(np.int64)
        if values.dtype.kind not in "iu":
            raise ValidationError(
                f"to_flodym: the year coordinate must hold whole years, got dtype {values.dtype}"
            )
    if values.dtype.kind in "iu":
        return [int(v) for v in values], int
    if values.dtype.kind == "f":
        return [float(v) for v in values], float
    if values.dtype.kind in "US":
        return [str(v) for v in values], str
    items = values.tolist() if values.dtype.kind in "bO" else list(values)
    kinds = {type(v) for v in items}
    return items, (kinds.pop() if len(kinds) == 1 else None)


def to_flodym(da: xr.DataArray, letters: Mapping[str, str] | None = None) -> flodym.FlodymArray:
    """Make a flodym ``FlodymArray`` from a labelled DataArray.

    Each dimension of ``da`` becomes a :class:`flodym.Dimension` in the same
    order, named like the dimension, with the coordinate values as items
    (``year`` as Python ints, as flodym's time dimensions are; a dimension
    without a coordinate gets the items ``0 .. n-1``). The values are copied
    as a float64 array, so later changes on either side do not reach the
    other. The array's ``name`` is the DataArray's name.

    flodym arrays have no units: the ``units`` attribute (and every other
    attribute) stays behind and travels back to xarray only through the
    ``units`` argument of :func:`from_flodym`. Non-dimension coordinates are
    not carried.

    Parameters
    ----------
    da : xarray.DataArray
        The array, e.g. one variable of an ndsim output Dataset.
    letters : Mapping[str, str], optional
        flodym letters by dimension name, overriding :data:`DEFAULT_LETTERS`
        (``year`` -> ``t``, ``product`` -> ``g``, ``draw`` -> ``d``, ...).
        Needed for a dimension that is not in that table. Each letter is one
        ASCII letter and no two dimensions of ``da`` may share one.

    Returns
    -------
    flodym.FlodymArray
        An array whose ``dims`` follow ``da.dims`` and whose ``values`` equal
        ``da.values``.

    Raises
    ------
    TypeError
        If ``da`` is not a DataArray.
    ndsim.errors.ValidationError
        If a dimension has no letter, two dimensions share a letter, a letter
        is not one ASCII letter, a dimension name is shorter than the two
        characters flodym needs, the values are not numbers or ``year`` does
        not hold whole years.
    ImportError
        If flodym is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> from ndsim.interop import to_flodym
    >>> inflow = xr.DataArray(
    ...     np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
    ...     dims=("product", "year"),
    ...     coords={"product": ["laptop", "car"], "year": [2020, 2021, 2022]},
    ...     name="inflow",
    ...     attrs={"units": "t yr-1"},
    ... )
    >>> arr = to_flodym(inflow)
    >>> arr.dims.letters
    ('g', 't')
    >>> arr[{"g": "car", "t": 2021}].values
    array(5.)
    >>> arr.sum_over("g").values
    array([5., 7., 9.])
    """
    fd = _import_flodym()
    if not isinstance(da, xr.DataArray):
        raise TypeError(
            f"to_flodym takes an xarray.DataArray, got {type(da).__name__}"
            + (" (pick one variable, e.g. ds['inflow'])" if isinstance(da, xr.Dataset) else "")
        )
    dims = tuple(da.dims)
    short = [d for d in dims if not isinstance(d, str) or len(d) < 2]
    if short:
        raise ValidationError(
            f"to_flodym: flodym needs dimension names of two characters or more, got {short}; "
            "rename them first (DataArray.rename)"
        )
    if da.dtype.kind not in "biuf":
        raise ValidationError(f"to_flodym: the values must be numbers, got dtype {da.dtype}")
    chosen = _letters_for(dims, letters)
    dim_list = []
    for dim, letter in zip(dims, chosen, strict=True):
        items, dtype = _items(da, dim)
        dim_list.append(fd.Dimension(name=dim, letter=letter, items=items, dtype=dtype))
    values = np.array(da.values, dtype=np.float64, copy=True)
    kwargs = {} if da.name is None else {"name": str(da.name)}
    return fd.FlodymArray(dims=fd.DimensionSet(dim_list=dim_list), values=values, **kwargs)


def from_flodym(
    arr: flodym.FlodymArray, units: str | None = None, name: str | None = None
) -> xr.DataArray:
    """Make a labelled DataArray from a flodym ``FlodymArray``.

    The dimensions are named by the flodym dimension names, in the array's
    order, with the items as coordinates (a ``year`` coordinate as int64).
    The values are copied. Since flodym arrays have no units, the ``units``
    attribute is set only when ``units`` is given. The inverse of
    :func:`to_flodym`: values, coordinates, dimension order and name come
    back unchanged (bit for bit); a dimension that had no coordinate comes
    back with ``0 .. n-1``.

    Parameters
    ----------
    arr : flodym.FlodymArray
        The array (or one of its subclasses: ``Flow``, ``StockArray``,
        ``Parameter``).
    units : str, optional
        The units of the values, stored as the ``units`` attribute.
    name : str, optional
        The DataArray's name; by default the flodym array's name, unless that
        is flodym's default ``"unnamed"``.

    Returns
    -------
    xarray.DataArray
        The labelled array.

    Raises
    ------
    TypeError
        If ``arr`` is not a FlodymArray.
    ndsim.errors.ValidationError
        If a ``year`` dimension holds items that are not whole years.
    ImportError
        If flodym is not installed.

    Examples
    --------
    >>> import flodym as fd
    >>> import numpy as np
    >>> from ndsim.interop import from_flodym
    >>> dims = fd.DimensionSet(
    ...     dim_list=[
    ...         fd.Dimension(name="product", letter="g", items=["laptop", "car"]),
    ...         fd.Dimension(name="year", letter="t", items=[2020, 2021]),
    ...     ]
    ... )
    >>> arr = fd.FlodymArray(dims=dims, values=np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> da = from_flodym(arr, units="t yr-1", name="inflow")
    >>> da.sel(product="car", year=2021).item()
    4.0
    >>> da.attrs["units"]
    't yr-1'
    """
    fd = _import_flodym()
    if not isinstance(arr, fd.FlodymArray):
        raise TypeError(f"from_flodym takes a flodym.FlodymArray, got {type(arr).__name__}")
    dims = tuple(dim.name for dim in arr.dims)
    coords = {}
    for dim in arr.dims:
        items = list(dim.items)
        if dim.name == cv.YEAR:
            if not all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in items):
                raise ValidationError(
                    f"from_flodym: the {cv.YEAR!r} dimension must hold whole years as integers"
                )
            coords[dim.name] = np.array(items, dtype=np.int64)
        else:
            coords[dim.name] = np.array(items) if items else np.array([], dtype=float)
    values = np.array(arr.values, dtype=np.float64, copy=True)
    if name is None and arr.name not in (None, "unnamed"):
        name = arr.name
    attrs = {} if units is None else {"units": units}
    return xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=attrs)
