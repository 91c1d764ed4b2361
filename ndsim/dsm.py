"""Dynamic stock model on labelled arrays: inflow-driven and stock-driven.

The two public functions wrap the numba kernels of :mod:`ndsim.kernels.stock`
with :func:`xarray.apply_ufunc` (``dask="parallelized"``): any dims besides
``year`` (and ``age`` on a pdf) broadcast, e.g. ``(draw, product, year)``,
and dask arrays chunked along ``draw`` (never along ``year``) run chunk by
chunk. Outputs carry ``units``, ``long_name`` and ``description`` from
:mod:`ndsim.conventions` and the lifetime timing (``lifetime_timing``).

The lifetime argument ``pdf`` is either

- a DataArray over ``age`` (e.g. from :meth:`ndsim.lifetime.Lifetime.pdf` or
  :func:`ndsim.lifetime.pdf_by_product`), or
- a :class:`~ndsim.lifetime.Lifetime`, or a mapping product -> Lifetime. For
  the fixed, normal, lognormal and Weibull models the kernels then evaluate
  the pdf from the parameters per series (the fast path for Monte Carlo
  ensembles: no (draw, product, age) array is built); gamma and table
  lifetimes go through :func:`~ndsim.lifetime.pdf_by_product`.

Both paths give the same numbers (the pdf is computed by the same compiled
function).

Code that already holds plain (draw, series, year) arrays (the forecast of
:mod:`ndsim.forecast`) calls the same kernels without labels:
:func:`kernel_param_values` stacks the lifetimes' parameters once, then
:func:`inflow_driven_values` and :func:`stock_driven_values` run the kernels
(no initial stock), with the thread blocks below.

Parallelism (one layer): the kernels are serial (no ``parallel=True``) and
release the GIL. Dask-backed inputs run their chunks on dask's threads; for
in-memory inputs this module splits the broadcast loop dims into one block
per core and runs the blocks on a thread pool (``NDSIM_NUM_THREADS`` sets the
number of threads; 1 turns it off). Never both at once. The pool is shared
by all calls, so callers that themselves run on several threads (e.g. dask
workers handing numpy blocks to these functions) still run at most that
many kernels at a time.

References
----------
Pauliuk, S. & Heeren, N. (2020) ODYM — An open software framework for studying
dynamic material systems. J. Ind. Ecol. 24:446-458. doi:10.1111/jiec.12952.
Lauinger, D. et al. (2025) flodym. doi:10.5281/zenodo.14284339.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim.conventions import AGE, COHORT, DRAW, PRODUCT, YEAR
from ndsim.errors import ValidationError
from ndsim.kernels import stock as _k
from ndsim.lifetime import Lifetime, common_timing, pdf_by_product, stacked_kernel_params

__all__ = [
    "inflow_driven",
    "stock_driven",
    "inflow_driven_values",
    "stock_driven_values",
    "kernel_param_values",
]

_INIT_AGE = "initial_age"
_MIN_BLOCK = 64  # series per thread block below which threads do not pay


# --- threads for in-memory arrays ------------------------------------------------


def _n_threads() -> int:
    env = os.environ.get("NDSIM_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(n: int) -> ThreadPoolExecutor:
    """The shared pool of ``n`` threads (created once per size, never shut down while in use).

    Callers on several threads may ask for different sizes at once (e.g. a
    test changing ``NDSIM_NUM_THREADS``): each size keeps its own pool, so no
    caller's pool is shut down under it, and the lock makes two first calls
    create one pool, not two.
    """
    with _POOLS_LOCK:
        pool = _POOLS.get(n)
        if pool is None:
            pool = _POOLS[n] = ThreadPoolExecutor(n, thread_name_prefix="ndsim")
        return pool


def shutdown_pools() -> None:
    """Stop the shared kernel threads (they are created again when needed)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.shutdown(wait=True)


def _parse_signature(signature: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    ins, outs = signature.split("->")

    def parse(part):
        return [tuple(d for d in g.split(",") if d) for g in re.findall(r"\(([^)]*)\)", part)]

    return parse(ins), parse(outs)


def _blocked(gufunc, zeroed: bool = True):
    """``gufunc`` run on blocks of its broadcast loop dims in threads (in-memory arrays).

    ``zeroed=False`` for a kernel that writes every element of its outputs: they are
    then not cleared first.
    """
    in_core, out_core = _parse_signature(gufunc.signature)

    def call(*args):
        args = [np.asarray(a) for a in args]
        n_threads = _n_threads()
        loop = np.broadcast_shapes(
            *(a.shape[: a.ndim - len(c)] for a, c in zip(args, in_core, strict=True))
        )
        total = math.prod(loop)
        sizes = {}
        for a, c in zip(args, in_core, strict=True):
            sizes.update(zip(c, a.shape[a.ndim - len(c) :], strict=True))
        # np.zeros: large outputs come as untouched zero pages, so an output the kernel
        # leaves at 0 (the stock-driven policy report, usually) costs no memory
        alloc = np.zeros if zeroed else np.empty
        outs = tuple(alloc(loop + tuple(sizes[d] for d in c)) for c in out_core)
        if n_threads <= 1 or not loop or total < 2 * _MIN_BLOCK:
            gufunc(*args, out=outs)
            return outs if len(outs) > 1 else outs[0]
        axis = int(np.argmax(loop))
        # a few blocks per thread, so a thread slowed by other work does not hold up the rest
        n_blocks = min(4 * n_threads, loop[axis], max(1, total // _MIN_BLOCK))
        bargs = [
            np.broadcast_to(a, loop + a.shape[a.ndim - len(c) :])
            for a, c in zip(args, in_core, strict=True)
        ]
        edges = np.linspace(0, loop[axis], n_blocks + 1).astype(int)

        def run(i):
            sl = (slice(None),) * axis + (slice(edges[i], edges[i + 1]),)
            gufunc(*[b[sl] for b in bargs], out=tuple(o[sl] for o in outs))

        for f in [_pool(n_threads).submit(run, i) for i in range(n_blocks)]:
            f.result()
        return outs if len(outs) > 1 else outs[0]

    return call


def _is_dask(*objs) -> bool:
    if "dask" not in sys.modules:  # no dask array exists (and dask is not imported to say so)
        return False
    from xarray.namedarray.utils import is_duck_dask_array

    return any(isinstance(o, xr.DataArray) and is_duck_dask_array(o.data) for o in objs)


def _apply(gufunc, args, in_dims, out_dims, n_out):
    """apply_ufunc with dask="parallelized" (dask inputs) or thread blocks (numpy).

    An argument given as :data:`_EMPTY_INIT` (no initial stock) is bound into
    the call instead of passed through xarray (dask cannot chunk a size-0 dim).
    """
    fixed = {i: np.empty(0) for i, a in enumerate(args) if a is _EMPTY_INIT}
    labelled = [a for a in args if a is not _EMPTY_INIT]
    dims = [d for a, d in zip(args, in_dims, strict=True) if a is not _EMPTY_INIT]
    kernel = gufunc if _is_dask(*labelled) else _blocked(gufunc)
    if fixed:

        def func(*xs):
            it = iter(xs)
            return kernel(*[fixed[i] if i in fixed else next(it) for i in range(len(args))])

    else:
        func = kernel
    res = xr.apply_ufunc(
        func,
        *labelled,
        input_core_dims=dims,
        output_core_dims=out_dims,
        dask="parallelized",
        output_dtypes=[float] * n_out,
    )
    return res if n_out > 1 else (res,)


# --- lifetime argument --------------------------------------------------------------


def _kernel_params(pdf, products):
    """(code, p1, p2, shift, attrs) for the fused kernels, or None if not fusable."""
    if isinstance(pdf, Lifetime):
        if not pdf.fusable:
            return None
        code, p1, p2, shift = pdf.kernel_params()
        return code, p1, p2, shift, pdf.attrs()
    return stacked_kernel_params(_specs_for(pdf, products))


def _specs_for(specs: Mapping[str, Lifetime], products) -> dict[str, Lifetime]:
    if products is None:
        raise ValidationError("dsm: a mapping of lifetimes needs a 'product' dim on the input")
    products = [str(p) for p in products]
    missing = [p for p in products if p not in specs]
    if missing:
        raise ValidationError(f"dsm: no lifetime for products {missing}", field="product")
    return {p: specs[p] for p in products}


def _pdf_array(pdf, products, n_ages: int) -> xr.DataArray:
    if isinstance(pdf, xr.DataArray):
        if AGE not in pdf.dims:
            raise ValidationError(f"dsm: pdf needs an '{AGE}' dim, has {tuple(pdf.dims)}")
        return pdf
    if isinstance(pdf, Lifetime):
        return pdf.pdf(n_ages)
    return pdf_by_product(_specs_for(pdf, products), n_ages)


def _lifetime_attrs(pdf) -> dict[str, str]:
    if isinstance(pdf, Lifetime):
        return pdf.attrs()
    if isinstance(pdf, xr.DataArray):
        return {k: pdf.attrs[k] for k in ("lifetime_model", "lifetime_timing") if k in pdf.attrs}
    return {"lifetime_timing": common_timing(pdf)}


def _products(x: xr.DataArray):
    return x[PRODUCT].values if PRODUCT in x.coords else None


class _NoInitialStock:
    """Stands for an empty initial stock (bound into the kernel call, see _apply)."""

    sizes = {_INIT_AGE: 0}


_EMPTY_INIT = _NoInitialStock()


def _initial(initial_stock: xr.DataArray | None) -> xr.DataArray | _NoInitialStock:
    if initial_stock is None:
        return _EMPTY_INIT
    if AGE not in initial_stock.dims:
        raise ValidationError(
            f"dsm: initial_stock needs an '{AGE}' dim, has {tuple(initial_stock.dims)}",
            field="initial_stock",
        )
    init = initial_stock.sortby(AGE) if AGE in initial_stock.coords else initial_stock
    return init.rename({AGE: _INIT_AGE}).drop_vars(_INIT_AGE, errors="ignore")


def _check_year(x: xr.DataArray, name: str) -> None:
    if not isinstance(x, xr.DataArray) or YEAR not in x.dims:
        dims = tuple(x.dims) if isinstance(x, xr.DataArray) else type(x).__name__
        raise ValidationError(f"dsm: {name} needs a '{YEAR}' dim, has {dims}", field=name)
    if _is_dask(x) and len(x.chunks[x.dims.index(YEAR)]) > 1:
        raise ValidationError(f"dsm: {name} is chunked along '{YEAR}'; chunk along '{DRAW}' only")


def _check_nonnegative(x: xr.DataArray, name: str) -> None:
    if _is_dask(x):
        return
    bad = np.asarray(x.values < 0)
    if bool(bad.any()):
        idx = np.argwhere(bad)[0]
        where = {
            d: (x[d].values[i] if d in x.coords else i) for d, i in zip(x.dims, idx, strict=True)
        }
        order = [PRODUCT, YEAR, DRAW]
        keys = sorted(where, key=lambda d: order.index(d) if d in order else len(order))
        place = ", ".join(f"{d} {_plain(where[d])}" for d in keys)
        value = float(x.values[tuple(idx)])
        raise ValidationError(
            f"dsm: {name} is negative: {place}: {value:.6g} {x.attrs.get('units', '')}".rstrip()
            + f"; {int(bad.sum())} negative value(s) in all",
            field=name,
        )


def _plain(v) -> str:
    return str(v.item() if hasattr(v, "item") else v)


def _finish(arr: xr.DataArray, name: str, extra: dict[str, str]) -> xr.DataArray:
    arr.attrs = {**cv.attrs(name), **extra}
    return arr.rename(name)


def _dataset(arrays: Mapping[str, xr.DataArray], extra: dict[str, str]) -> xr.Dataset:
    """The outputs of one kernel call (the same dims and coordinates) as a Dataset, each
    with its attributes: built from their Variables and the coordinates once, without
    aligning the arrays with each other again (about 2 ms for 10,000 x 17 series)."""
    first = next(iter(arrays.values()))
    return xr.Dataset(
        {
            n: xr.Variable(a.dims, a.variable.data, {**cv.attrs(n), **extra})
            for n, a in arrays.items()
        },
        coords=first.coords,
    )


# --- plain arrays ------------------------------------------------------------------


def kernel_param_values(
    specs: Mapping[str, Lifetime], draws: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, dict[str, str]] | None:
    """The lifetimes of some series as plain arrays for the fused kernels.

    Parameters
    ----------
    specs : mapping of str to Lifetime
        One lifetime per series (k of them), in the order of the series.
    draws : numpy.ndarray or None
        The draw labels of the leading axis (None: one row, no draws).

    Returns
    -------
    tuple or None
        ``code`` (k,), ``p1`` and ``p2`` (n, k) with n the number of draws (1
        without), ``shift`` and the lifetime attributes; None when a model is
        not evaluated in the kernels, or a parameter has another dim than
        ``draw`` or other draw labels (the labelled functions then apply).
    """
    params = stacked_kernel_params(specs)
    if params is None:
        return None
    code, p1, p2, shift, attrs = params
    n = 1 if draws is None else len(draws)
    out = []
    for p in (p1, p2):
        if not set(p.dims) <= {PRODUCT, DRAW}:
            return None
        if DRAW in p.dims:
            if draws is None or not np.array_equal(p[DRAW].values, draws):
                return None
            out.append(p.transpose(DRAW, PRODUCT).values)
        else:
            out.append(np.broadcast_to(p.values[None, :], (n, p.sizes[PRODUCT])))
    return code.values, out[0], out[1], shift, attrs


def inflow_driven_values(
    inflow: np.ndarray, code: np.ndarray, p1: np.ndarray, p2: np.ndarray, shift: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`inflow_driven` on plain arrays, with no initial stock.

    ``inflow`` (n, k, year) [t yr-1]; ``code`` (k,), ``p1`` and ``p2`` (n, k)
    and ``shift`` as :func:`kernel_param_values` gives them. Returns outflow
    [t yr-1] and stock [t], (n, k, year): the numbers of :func:`inflow_driven`,
    which runs the same kernel on each series.
    """
    # (the kernel writes every year of both outputs)
    return _blocked(_k.inflow_driven_params, zeroed=False)(
        inflow, np.empty(0), code[None, :], p1, p2, shift
    )


def inflow_driven_pair_values(
    inflow: np.ndarray,
    inflow2: np.ndarray,
    code: np.ndarray,
    p1: np.ndarray,
    p2: np.ndarray,
    shift: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`inflow_driven_values` of two inflows (n, k, year) with the same lifetimes,
    each pdf evaluated once: outflow and stock of ``inflow``, then of ``inflow2``."""
    return _blocked(_k.inflow_driven_pair_params, zeroed=False)(
        inflow, inflow2, np.empty(0), code[None, :], p1, p2, shift
    )


def stock_driven_values(
    stock: np.ndarray,
    history: np.ndarray,
    code: np.ndarray,
    p1: np.ndarray,
    p2: np.ndarray,
    shift: float,
    policy: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`stock_driven` on plain arrays, with no initial stock.

    ``stock`` and ``history`` (n, k, year), lifetimes as in
    :func:`inflow_driven_values`. Returns inflow, outflow, stock reached and
    what the policy did (the unmet stock decline under ``clip``, the early
    retirement under ``retire_early``), each (n, k, year). The caller checks
    that neither argument is negative (:func:`stock_driven` says where).
    """
    return _blocked(_k.stock_driven_params)(
        stock, np.empty(0), history, code[None, :], p1, p2, shift, _k.POLICIES[policy]
    )


# --- public ---------------------------------------------------------------------


def inflow_driven(
    inflow: xr.DataArray,
    pdf: xr.DataArray | Lifetime | Mapping[str, Lifetime],
    *,
    initial_stock: xr.DataArray | None = None,
    by_cohort: bool = False,
) -> xr.Dataset:
    """Outflow and in-use stock from inflows and a lifetime distribution.

    Parameters
    ----------
    inflow : xarray.DataArray
        Inflow to use [t yr-1], dims (..., year), e.g. (draw, product, year).
    pdf : xarray.DataArray, Lifetime or mapping product -> Lifetime
        Share of a cohort retiring at each age [1], dims (..., age); or the
        lifetime(s) it comes from.
    initial_stock : xarray.DataArray, optional
        Stock by age [t] at the end of the year before the first year, dims
        (..., age); age a entered a + 1 years before the first year. Default:
        an empty stock (the paper's case).
    by_cohort : bool
        Also return ``stock_by_cohort`` (..., year, cohort) [t].

    Returns
    -------
    xarray.Dataset
        ``outflow`` [t yr-1] and ``stock`` [t] (end of year) over the input's
        dims, attrs with units and ``lifetime_timing``.

    Notes
    -----
    .. math::

        F_{out}(t) = \\sum_{c \\le t} F_{in}(c) f(t - c) + \\sum_a S_0(a)
                     \\frac{f(t + 1 + a)}{S(a)}, \\qquad
        S(t) = S(t - 1) + F_{in}(t) - F_{out}(t),

    with :math:`S(-1) = \\sum_a S_0(a)`, the initial stock. For a fixed
    whole-year lifetime L, F_out(t) = F_in(t - L).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from ndsim.lifetime import Lifetime
    >>> f_in = xr.DataArray(np.ones(5), dims=["year"], coords={"year": range(2000, 2005)})
    >>> ds = inflow_driven(f_in, Lifetime("fixed", mean=2))
    >>> ds.outflow.values.tolist(), ds.stock.values.tolist()
    ([0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 2.0, 2.0, 2.0, 2.0])
    """
    _check_year(inflow, "inflow")
    init = _initial(initial_stock)
    n_ages = inflow.sizes[YEAR] + init.sizes[_INIT_AGE] + 1
    products = _products(inflow)
    params = None if (by_cohort or isinstance(pdf, xr.DataArray)) else _kernel_params(pdf, products)
    if params is not None:
        code, p1, p2, shift, lt_attrs = params
        outflow, stock = _apply(
            _k.inflow_driven_params,
            [inflow, init, code, p1, p2, shift],
            [[YEAR], [_INIT_AGE], [], [], [], []],
            [[YEAR], [YEAR]],
            2,
        )
    else:
        lt_attrs = _lifetime_attrs(pdf)
        f = _pdf_array(pdf, products, n_ages)
        outflow, stock = _apply(
            _k.inflow_driven,
            [inflow, f, init],
            [[YEAR], [AGE], [_INIT_AGE]],
            [[YEAR], [YEAR]],
            2,
        )
    ds = _dataset({"outflow": outflow, "stock": stock}, lt_attrs)
    if by_cohort:
        k = init.sizes[_INIT_AGE]
        years = inflow[YEAR].values if YEAR in inflow.coords else np.arange(inflow.sizes[YEAR])
        first = int(years[0]) if len(years) else 0
        cohorts = np.concatenate([np.arange(first - k, first), np.asarray(years)])
        dummy = xr.DataArray(np.zeros(len(cohorts)), dims=[COHORT], coords={COHORT: cohorts})
        (sbc,) = _apply(
            _k.stock_by_cohort,
            [inflow, f, init, dummy],
            [[YEAR], [AGE], [_INIT_AGE], [COHORT]],
            [[YEAR, COHORT]],
            1,
        )
        ds["stock_by_cohort"] = _finish(sbc, "stock_by_cohort", lt_attrs)
    ds.attrs.update(lt_attrs)
    return ds


def stock_driven(
    stock: xr.DataArray,
    pdf: xr.DataArray | Lifetime | Mapping[str, Lifetime],
    *,
    policy: str = "clip",
    inflow_history: xr.DataArray | None = None,
    initial_stock: xr.DataArray | None = None,
) -> xr.Dataset:
    """Inflow and outflow that give a stock target, solved forward year by year.

    Parameters
    ----------
    stock : xarray.DataArray
        Stock target at the end of each year [t], dims (..., year). Ignored
        (may be NaN) in the years the inflow history covers.
    pdf : xarray.DataArray, Lifetime or mapping product -> Lifetime
        As in :func:`inflow_driven`.
    policy : {"clip", "retire_early"}
        When the target falls faster than products retire: ``clip`` (default)
        sets the inflow to 0 and reports the stock left above the target as
        ``unmet_stock_decline``; ``retire_early`` sets the inflow to 0 and
        retires the excess early, from all cohorts in use in proportion to
        their stock (``early_retirement``). Never a negative inflow.
    inflow_history : xarray.DataArray, optional
        Given inflows [t yr-1] (..., year), reindexed to the stock's years:
        up to the first NaN year the model is inflow-driven with these
        inflows and the stock is what they imply; from the first NaN year on
        the stock target drives the inflow.
    initial_stock : xarray.DataArray, optional
        Stock by age before the first year [t], as in :func:`inflow_driven`.

    Returns
    -------
    xarray.Dataset
        ``inflow``, ``outflow`` [t yr-1], ``stock`` [t] (the stock reached),
        ``unmet_stock_decline`` [t], ``early_retirement`` [t yr-1] (the one the
        policy does not use is a read-only array of zeros). A year whose
        target is NaN or negative, and every later year, is NaN.

    Notes
    -----
    With out_old(t) the retirements in year t of earlier cohorts,

    .. math:: F_{in}(t) = \\frac{S^*(t) - S(t - 1) + out_{old}(t)}{1 - f(0)},

    then F_out(t) = out_old(t) + F_in(t) f(0) and S(t) = S*(t); if the
    numerator is negative the policy applies. Balance
    S(t) - S(t-1) = F_in(t) - F_out(t) holds every year.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from ndsim.lifetime import Lifetime
    >>> s = xr.DataArray([1.0, 2.0, 2.0, 2.0], dims=["year"])
    >>> stock_driven(s, Lifetime("fixed", mean=2)).inflow.values.tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    _check_year(stock, "stock")
    if policy not in _k.POLICIES:
        raise ValidationError(
            f"dsm: policy {policy!r} unknown; valid: {', '.join(_k.POLICIES)}", field="policy"
        )
    code_policy = _k.POLICIES[policy]
    init = _initial(initial_stock)
    n_years = stock.sizes[YEAR]
    # without a history, a negative target is found after the kernel (below): the kernel
    # makes its year and every later year NaN, so only a series that ends NaN can hold
    # one, and the whole target is read once, not twice
    checked_after = inflow_history is None and not _is_dask(stock) and n_years > 0
    if inflow_history is None:  # (no labels: aligned with the target by its size)
        hist = xr.DataArray(np.full(n_years, np.nan), dims=[YEAR])
    else:
        _check_year(inflow_history, "inflow_history")
        hist = inflow_history
        if YEAR in stock.coords and YEAR in hist.coords:
            hist = hist.reindex({YEAR: stock[YEAR].values})
        _check_nonnegative(hist, "inflow_history")
    if not checked_after:
        _check_nonnegative(stock, "stock")
    n_ages = n_years + init.sizes[_INIT_AGE] + 1
    products = _products(stock)
    params = None if isinstance(pdf, xr.DataArray) else _kernel_params(pdf, products)
    if params is not None:
        code, p1, p2, shift, lt_attrs = params
        res = _apply(
            _k.stock_driven_params,
            [stock, init, hist, code, p1, p2, shift, code_policy],
            [[YEAR], [_INIT_AGE], [YEAR], [], [], [], [], []],
            [[YEAR]] * 4,
            4,
        )
    else:
        lt_attrs = _lifetime_attrs(pdf)
        f = _pdf_array(pdf, products, n_ages)
        res = _apply(
            _k.stock_driven,
            [stock, f, init, hist, code_policy],
            [[YEAR], [AGE], [_INIT_AGE], [YEAR], []],
            [[YEAR]] * 4,
            4,
        )
    inflow, outflow, reached, gap = res
    if checked_after and np.isnan(reached.values[..., -1]).any():
        _check_nonnegative(stock, "stock")
    # the kernel reports what the policy did in one array; the other variable is 0
    zero = xr.zeros_like(gap) if _is_dask(gap) else gap.copy(data=np.broadcast_to(0.0, gap.shape))
    unmet, early = (gap, zero) if policy == "clip" else (zero, gap)
    extra = {**lt_attrs, "decline_policy": policy}
    out = {
        "inflow": inflow,
        "outflow": outflow,
        "stock": reached,
        "unmet_stock_decline": unmet,
        "early_retirement": early,
    }
    ds = _dataset(out, extra)
    ds.attrs.update(extra)
    return ds
