"""Read what the figures need from an output Dataset (SPEC §6 contract) alone.

Helpers here never import the model: they take an :class:`xarray.Dataset`
as written to NetCDF by ``ndsim run`` or ``ndsim ensemble`` and return plain
labelled arrays — the central value of a quantity (deterministic run, or the
median of an ensemble), the quantile bands of an ensemble, the accounted and
forecast years, and the product groups of SPEC §1.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ndsim import conventions as cv

#: variables that are accounted only for the retrospective period (NaN after it, SPEC §3)
UPSTREAM_VARIABLES = (
    "mining_unregistered",
    "mining",
    "exports_unregistered",
    "intermediate_production",
    "exports",
    "imports",
)
#: global attributes that may name the last accounted year, tried in order
LAST_YEAR_ATTRS = ("last_accounted_year", "accounting_last_year", "years_last", "last_year")
#: the forecast groups of SPEC §1, in the order the paper's demand figure shows them
GROUP_ORDER = ("home appliances", "general machinery", "electronic devices", "other")
#: quantile pairs of a fan chart: (lower, upper) of the 95 % and the 50 % band, and the median
BANDS = (("q025", "q975"), ("q25", "q75"))
MEDIAN = "q50"


def has(ds: xr.Dataset, *names: str) -> bool:
    """True when every variable in `names` is in `ds`."""
    return all(name in ds.data_vars for name in names)


def is_ensemble(ds: xr.Dataset) -> bool:
    """True when the Dataset holds ensemble summaries (`stat`) or per-draw output (`draw`)."""
    return cv.STAT in ds.dims or cv.DRAW in ds.dims


def central(da: xr.DataArray) -> xr.DataArray:
    """Central value of a quantity: the deterministic run, else the ensemble median.

    Parameters
    ----------
    da : xarray.DataArray
        A contract variable, possibly with a `stat` or a `draw` dimension.

    Returns
    -------
    xarray.DataArray
        `da` without `stat` and `draw`: ``stat="deterministic"`` when that
        statistic is present and not all missing, else ``stat="q50"``; the
        median over `draw` for per-draw output.
    """
    if cv.STAT in da.dims:
        stats = list(da[cv.STAT].values)
        if "deterministic" in stats and bool(da.sel({cv.STAT: "deterministic"}).notnull().any()):
            da = da.sel({cv.STAT: "deterministic"}, drop=True)
        elif MEDIAN in stats:
            da = da.sel({cv.STAT: MEDIAN}, drop=True)
        else:
            da = da.isel({cv.STAT: 0}, drop=True)
    if cv.DRAW in da.dims:
        attrs = da.attrs
        with warnings.catch_warnings():  # all-NaN years (e.g. upstream after accounting)
            warnings.simplefilter("ignore", RuntimeWarning)
            da = da.median(cv.DRAW, skipna=True)
        da.attrs = attrs
    return da


def quantiles(da: xr.DataArray, reduce=None) -> tuple[xr.DataArray, bool] | None:
    """Median and band quantiles of a quantity along a `quantile` coordinate.

    Parameters
    ----------
    da : xarray.DataArray
        A variable with a `stat` dimension (summaries) or a `draw` dimension.
    reduce : callable, optional
        Applied to `da` first, e.g. a sum over products for a total, or
        :func:`sum_by_group`.

    Returns
    -------
    (xarray.DataArray, bool) or None
        The array over ``quantile`` = q025, q25, q50, q75, q975 and whether
        it is exact. With per-draw output `reduce` is applied draw by draw and
        the quantiles are exact. With summaries only, `reduce` is applied to
        the quantiles themselves: for a sum that is exact only for perfectly
        correlated parts and overstates the spread otherwise, so the flag is
        False. None when `da` has neither dimension or lacks a statistic.
    """
    names = ["q025", "q25", "q50", "q75", "q975"]
    if cv.DRAW in da.dims:
        if reduce is not None:
            da = reduce(da)
        with warnings.catch_warnings():  # all-NaN years (e.g. supply before its base year)
            warnings.simplefilter("ignore", RuntimeWarning)
            q = da.quantile([0.025, 0.25, 0.5, 0.75, 0.975], dim=cv.DRAW, skipna=True)
        return q.assign_coords(quantile=names), True
    if cv.STAT in da.dims:
        if not set(names) <= {str(s) for s in da[cv.STAT].values}:
            return None
        q = da.sel({cv.STAT: names}).rename({cv.STAT: "quantile"})
        if reduce is None:
            return q, True
        return reduce(q), False
    return None


def years(ds: xr.Dataset) -> np.ndarray:
    """The years of the Dataset as integers."""
    return np.asarray(ds[cv.YEAR].values).astype(int)


def last_accounted_year(ds: xr.Dataset) -> int:
    """The last year of the retrospective accounting (2017 for the China Nd case).

    Taken from a global attribute (`last_accounted_year` and synonyms) when
    the file has one, else the last year in which any upstream variable
    (mining, trade, intermediate production; NaN after the accounted period,
    SPEC §3) is not missing, else the last year of the file.
    """
    for key in LAST_YEAR_ATTRS:
        if key in ds.attrs:
            try:
                return int(ds.attrs[key])
            except (TypeError, ValueError):
                continue
    all_years = years(ds)
    found = []
    for name in UPSTREAM_VARIABLES:
        if name in ds.data_vars and cv.YEAR in ds[name].dims:
            da = ds[name]
            finite = da.notnull().any([d for d in da.dims if d != cv.YEAR])
            if bool(finite.any()):
                found.append(int(all_years[np.flatnonzero(finite.values)[-1]]))
    if not found and "flow" in ds.data_vars:
        flow = ds["flow"].sel({cv.ORIGIN: "mining"}) if "mining" in ds[cv.ORIGIN] else None
        if flow is not None:
            finite = flow.notnull().any([d for d in flow.dims if d != cv.YEAR])
            if bool(finite.any()):
                found.append(int(all_years[np.flatnonzero(finite.values)[-1]]))
    return max(found) if found else int(all_years[-1])


def product_groups(ds: xr.Dataset) -> dict[str, list[str]]:
    """Products by forecast group, groups in SPEC §1 order, products in file order.

    Uses the non-dimension coordinate `group` on `product`; without it every
    product is in one group "all".
    """
    products = [str(p) for p in ds[cv.PRODUCT].values]
    if "group" not in ds.coords:
        return {"all": products}
    groups = [str(g) for g in ds["group"].values]
    order = [g for g in GROUP_ORDER if g in groups] + [
        g for g in dict.fromkeys(groups) if g not in GROUP_ORDER
    ]
    return {g: [p for p, pg in zip(products, groups, strict=True) if pg == g] for g in order}


def sum_by_group(da: xr.DataArray, groups: dict[str, list[str]]) -> xr.DataArray:
    """Sum a (product, ...) array into a `group` dimension (NaN only where all members are)."""
    parts = [
        da.sel({cv.PRODUCT: members}).sum(cv.PRODUCT, min_count=1) for members in groups.values()
    ]
    out = xr.concat(parts, dim="group").assign_coords(group=list(groups))
    out.attrs = da.attrs
    return out


def first_variable(ds: xr.Dataset, *names: str) -> xr.DataArray | None:
    """The first of `names` present in `ds`, else None."""
    for name in names:
        if name in ds.data_vars:
            return ds[name]
    return None


def ownership_groups(ds: xr.Dataset) -> dict[str, list[str]]:
    """The products of each ownership statistic (``ownership_group``), in product order."""
    if "ownership_group" not in ds.coords:
        return {}
    groups: dict[str, list[str]] = {}
    for p, g in zip(ds[cv.PRODUCT].values, ds["ownership_group"].values, strict=True):
        if str(g):
            groups.setdefault(str(g), []).append(str(p))
    return groups


def ownership_comparison(ds: xr.Dataset) -> xr.Dataset:
    """Accounted ownership of each ownership group against its statistic (accounted years).

    Returns
    -------
    xarray.Dataset
        ``model`` (the sum of the members' ``ownership_model``), ``statistic``
        and ``ratio`` = model / statistic, over (group, year) [1]; the
        coordinate ``basis`` (household or person).
    """
    groups = ownership_groups(ds)
    if not groups or not has(ds, "ownership_model", "ownership_statistic"):
        return xr.Dataset()
    # on arrays (product first): a .sel per group costs milliseconds on the result's coords
    model = central(ds["ownership_model"]).transpose(cv.PRODUCT, ...)
    stat = central(ds["ownership_statistic"]).transpose(cv.PRODUCT, ...)
    names = list(groups)
    at = {str(p): i for i, p in enumerate(ds[cv.PRODUCT].values)}
    lead = [at[groups[g][0]] for g in names]
    mv = np.stack([model.values[[at[p] for p in groups[g]]].sum(axis=0) for g in names])
    m, s = (
        xr.DataArray(
            x, dims=("group", *da.dims[1:]), coords={d: da[d].variable for d in da.dims[1:]},
            attrs=da.attrs,
        )
        for x, da in ((mv, model), (stat.values[lead], stat))
    )  # fmt: skip
    basis = [str(v) for v in ds["ownership_basis"].values[lead]]
    out = xr.Dataset({"model": m, "statistic": s, "ratio": m / s})
    out = out.assign_coords(group=names, basis=("group", basis))
    out = out.dropna(cv.YEAR, how="all", subset=["model"])
    # groups whose statistic has no accounted year have nothing to compare
    return out.dropna("group", how="all", subset=["statistic"])
