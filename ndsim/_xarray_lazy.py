"""Keep xarray from importing dask and pint just to answer "is this a dask/pint array?".

xarray's duck-array checks (``xarray.namedarray.pycompat.array_type``) import
the duck-array library on the first check when it is installed: any
``Variable`` construction imports ``dask.array`` (~0.2 s) and any index
creation imports ``pint`` (~0.07 s), although a deterministic run never holds
such an array. No object can be an instance of a class whose module has not
been imported, so until ``dask.array`` (``pint``) is in ``sys.modules`` the
answer is "no" without importing it. Once it is imported (an ensemble with
dask, a user's own code), the first check removes the stand-in and xarray's
own lookup takes over: the answers are always the same as xarray's.

The same holds for xarray's other question, "is this a dask collection?"
(``xarray.namedarray.utils.is_dask_collection``, asked of every array it wraps):
it imports ``dask`` itself (~0.1 s with the modules dask loads) to ask it. No
object is a dask collection while ``dask`` is not imported, so until then the
answer is False; from then on xarray's function answers.

Installed on import (:mod:`ndsim.pipeline` imports this module before any other
of ndsim's). Uses a private cache of xarray (``_cached_duck_array_modules``) and
replaces a function of a private module; if either is gone in a future xarray,
:func:`install` leaves it alone.
"""

from __future__ import annotations

import sys

#: xarray's duck-array module name -> (module that defines the type, type name)
_TYPES = {"dask": ("dask.array", "Array"), "pint": ("pint", "Quantity")}


class _Absent(type):
    """Metaclass of a stand-in type: instances exist only once its module is imported."""

    _module: str  # the module that defines the type
    _name: str  # the type's name in it
    _key: str  # xarray's name of the duck-array module
    _cache: dict  # xarray's cache, which the stand-in leaves once the module is imported

    def __instancecheck__(cls, obj) -> bool:
        module = sys.modules.get(cls._module)
        if module is None:
            return False
        cls._cache.pop(cls._key, None)  # xarray's own lookup from now on
        return isinstance(obj, getattr(module, cls._name))

    def __subclasscheck__(cls, sub) -> bool:
        module = sys.modules.get(cls._module)
        if module is None:
            return False
        cls._cache.pop(cls._key, None)
        return issubclass(sub, getattr(module, cls._name))


class _StandIn:
    """What xarray's cache holds for a duck-array module that is installed but not imported."""

    def __init__(self, key: str, cache: dict) -> None:
        module, name = _TYPES[key]
        attrs = {"_module": module, "_name": name, "_key": key, "_cache": cache}
        self.key = key
        self.type = (_Absent(f"_Absent_{key}", (), attrs),)
        self.available = True
        self.module = None

    @property
    def version(self):  # not asked by xarray for dask or pint: xarray's own answer
        from xarray.namedarray.pycompat import DuckArrayModule

        return DuckArrayModule(self.key).version


def _dask_collection_test(xarrays):
    """xarray's ``is_dask_collection``, answering False while ``dask`` is not imported."""

    def is_dask_collection(x: object) -> bool:
        if "dask" not in sys.modules:
            return False
        return xarrays(x)

    is_dask_collection.__wrapped__ = xarrays  # type: ignore[attr-defined]
    return is_dask_collection


def install() -> None:
    """Put the stand-ins into xarray's duck-array cache (for modules not yet imported)."""
    try:
        from xarray.namedarray import pycompat

        cache = pycompat._cached_duck_array_modules
    except (ImportError, AttributeError):  # pragma: no cover - a future xarray
        return
    for key, (module, _) in _TYPES.items():
        if key not in cache and module not in sys.modules:
            cache[key] = _StandIn(key, cache)  # type: ignore[index,assignment]  # duck-typed
    try:
        from xarray.namedarray import utils
    except ImportError:  # pragma: no cover - a future xarray
        return
    current = getattr(utils, "is_dask_collection", None)
    if callable(current) and not hasattr(current, "__wrapped__"):
        utils.is_dask_collection = _dask_collection_test(current)


install()
