"""Primary supply scenarios against the forecast requirement (SPEC §4).

After the accounted years the upstream chain is not modelled; the supply
side is described by scenarios of domestic primary supply instead (the
paper's S1-S3: +2, +5, +8 %/yr). For each scenario and year:

- primary supply Q(t) = Q(T) (1 + g)^(t - T), Q(T) total (official +
  unregistered) or official mining of the last accounted year T;
- requirement D(t) = F_in(t) + NX_final(t) + (NX_up(T) + L(T)) DC(t) / DC(T):
  use-stage inflow, net exports of final products (from the forecast's held
  trade shares), and the net exports of the upstream levels (concentrate,
  primary incl. unregistered, intermediate) and process losses held at their
  T share of domestic consumption (final products made in the country, the
  throughput of the chain above it). In T this is, by the balance of the
  chain, total mining plus recycled Nd;
- secondary supply R(t) = r(t) eta F_out,total(t), the recycled flow of the
  waste process;
- gap(t) = D - Q - R (negative: oversupply, reported, not an error);
- the recycling rate that closes the gap, r*(t) = (D - Q) / (eta F_out,total),
  flagged where above 1, and the share of supply recycling must provide,
  (D - Q) / D.

All supply variables are NaN before T and hold the base in T.

References
----------
Yao, X., Geng, Y., Sarkis, J., Xiao, S., Gao, Z. (2021). Dynamic neodymium
stocks and flows analysis in China. Resources, Conservation and Recycling 174,
105752. doi:10.1016/j.resconrec.2021.105752 (Table 2: supply scenarios).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ndsim import conventions as cv
from ndsim import flows, sums
from ndsim.errors import ValidationError
from ndsim.forecast import lead_values
from ndsim.scenario import NET_EXPORTS

if TYPE_CHECKING:  # pragma: no cover
    from ndsim.scenario import SupplyOptions

__all__ = [
    "supply_scenarios",
    "supply_variables",
    "flows_at_values",
    "supply_values",
    "supply_attrs",
    "supply_summary",
    "primary_supply_base",
    "requirement",
]

_Y, _S, _P = cv.YEAR, cv.SCENARIO, cv.PRODUCT
UPSTREAM = ("mining", "refining", "fabrication")
LOSS_PROCESSES = ("mining", "refining", "fabrication", "manufacturing")
#: the flows of T in the requirement: the upstream levels' exports and imports, the losses
EXPORT_PAIRS = tuple((o, d) for o in UPSTREAM for d in ("export", "export_unregistered"))
IMPORT_PAIRS = tuple(("import", d) for d in UPSTREAM)
LOSS_PAIRS = tuple((o, "loss") for o in LOSS_PROCESSES)
SUPPLY_VARIABLES = (
    "primary_supply",
    "secondary_supply",
    "supply_requirement",
    "supply_gap",
    "required_recycling_rate",
    "required_recycling_share_of_supply",
)


def _last_year(result: xr.Dataset, inputs: xr.Dataset | None) -> int:
    if inputs is not None and "last_year" in inputs.attrs:
        return int(inputs.attrs["last_year"])
    if "last_accounted_year" in result.attrs:
        return int(result.attrs["last_accounted_year"])
    im = result["mining_unregistered"]
    other = [d for d in im.dims if d != _Y]
    years = im[_Y].values[im.notnull().any(other).values if other else im.notnull().values]
    return int(years.max())


def primary_supply_base(result: xr.Dataset, last: int, base: str = "total_mining") -> xr.DataArray:
    """Q(T): total (official + unregistered) or official mining of the last accounted year [t yr-1].

    Raises
    ------
    ValidationError
        Unknown base (valid: ``total_mining``, ``official_mining``).
    """
    official = result["mining"].sel({_Y: last}, drop=True).sum(cv.SOURCE)
    return _base(official, lambda: result["mining_unregistered"].sel({_Y: last}, drop=True), base)


def _base(official, unregistered, base: str):
    """Q(T) from official mining and a callable giving unregistered mining (labelled or not)."""
    if base == "official_mining":
        return official
    if base == "total_mining":
        return official + unregistered()
    raise ValidationError(
        f"unknown supply base {base!r}; valid: total_mining, official_mining",
        file="<scenario>",
        field="supply.base",
    )


def _pair_sum(flow_t: Mapping[tuple[str, str], np.ndarray], pairs, n: int) -> np.ndarray:
    """Sum of the flows of the pairs present in ``flow_t`` (NaN as 0), in the pairs' order."""
    total = None
    for pair in pairs:
        if pair in flow_t:
            x = flow_t[pair]
            x = np.where(np.isnan(x), 0.0, x)
            total = x if total is None else total + x
    return np.zeros(n) if total is None else total


#: the flows of T that enter the requirement
REQUIREMENT_PAIRS = (*EXPORT_PAIRS, *IMPORT_PAIRS, *LOSS_PAIRS)


def _flows_at(flow: xr.DataArray, last: int) -> dict[tuple[str, str], np.ndarray]:
    """The flows of T of the requirement present in a result's flows (edges or matrix), each
    (draw,)."""
    flow = flow.sel({_Y: last}, drop=True)
    return {
        (o, d): lead_values(flows.edge(flow, o, d), 1)
        for o, d in REQUIREMENT_PAIRS
        if flows.has_edge(flow, o, d)
    }


def _labelled(result: xr.Dataset, variable: xr.Variable) -> xr.DataArray:
    """A variable computed from those of ``result``, with the coordinates of ``result`` it spans."""
    return xr.DataArray(variable, coords=_coords(result, variable.dims))


def _coords(result: xr.Dataset, dims) -> dict:
    """The coordinates of ``result`` over some of ``dims``."""
    return {k: v for k, v in result.coords.variables.items() if set(v.dims) <= set(dims)}


def _requirement_values(
    flow_t: Mapping[tuple[str, str], np.ndarray],
    dc: np.ndarray,
    exports_final: np.ndarray,
    imports_final: np.ndarray,
    inflow: np.ndarray,
    i_last: int,
    net_exports: str,
    concentrate: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`requirement` on arrays (draw, product, year) and the flows of T (draw,): D (draw,
    year) over all years (NaN before T is applied by the caller) and u(T) (draw,)."""
    if net_exports not in NET_EXPORTS:
        raise ValidationError(
            f"unknown supply.net_exports {net_exports!r}; valid: {', '.join(NET_EXPORTS)}",
            file="scenario",
            field="supply.net_exports",
        )
    n = dc.shape[0]
    exports = _pair_sum(flow_t, EXPORT_PAIRS, n)
    imports = _pair_sum(flow_t, IMPORT_PAIRS, n)
    losses = _pair_sum(flow_t, [p for p in LOSS_PAIRS if not (concentrate and p[0] == "mining")], n)
    dc_sum = sums.nansum_values(dc, 1)
    dc_t = dc_sum[:, i_last]
    per_dc = 1.0 / np.where(dc_t != 0, dc_t, np.nan)
    net_final = sums.nansum_values(exports_final - imports_final, 1)
    inflow_sum = sums.nansum_values(inflow, 1)
    if net_exports == "share":
        share = (exports - imports + losses) * per_dc
        share = np.where(np.isnan(share), 0.0, share)
        d = inflow_sum + net_final + share[:, None] * dc_sum
    else:
        share = losses * per_dc
        share = np.where(np.isnan(share), 0.0, share)
        held = net_final[:, i_last] + exports - imports
        d = inflow_sum + held[:, None] + share[:, None] * dc_sum
    return d, share


def _product_arrays(v: Mapping[Hashable, xr.Variable]) -> dict:
    """DC, E, I of final products and the inflow of a run's Variables (draw, product, year),
    a draw axis of 1 where a variable has none."""
    return {
        key: lead_values(v[name], 1, _P, _Y)
        for key, name in (
            ("dc", "domestic_consumption"),
            ("exports_final", "exports_final"),
            ("imports_final", "imports_final"),
            ("inflow", "inflow"),
        )
    }


def _requirement_arrays(result: xr.Dataset, last: int) -> dict:
    """The arguments of :func:`_requirement_values` but the year of T, from a run's variables
    (a draw axis of 1 where a variable has none)."""
    return {
        "flow_t": _flows_at(result["flow"], last),
        **_product_arrays(result.variables),
        "concentrate": result.attrs.get("mining_basis") == "concentrate",
    }


def _arrays(v: Mapping[Hashable, xr.Variable], i_t: int) -> dict:
    """The arguments of :func:`supply_values` from a run's Variables but the flows of T,
    the basis, years, T and options (``i_t``: the position of T in the years)."""
    at_t = {_Y: i_t}
    return {
        **_product_arrays(v),
        "official_t": sums.nansum_values(lead_values(v["mining"].isel(at_t), 1, cv.SOURCE), -1),
        "unregistered_t": lead_values(v["mining_unregistered"].isel(at_t), 1),
        "outflow": lead_values(v["outflow"], 1, _P, _Y),
        "rate": lead_values(v["recycling_rate"], 1, _Y),
        "eta": lead_values(v["recovery_efficiency"], 1, _Y),
    }


def requirement(
    result: xr.Dataset, last: int, net_exports: str = "share"
) -> tuple[xr.DataArray, xr.DataArray]:
    """Requirement D(t) [t yr-1] over all years >= T, and the held upstream share u(T) [1].

    ``share``: D(t) = F_in(t) + (E_final(t) - I_final(t)) + u(T) DC(t), with
    u(T) = (NX_up(T) + L(T)) / DC(T) from the flow matrix of T (exports of
    mining, refining and fabrication incl. unregistered exports, minus their
    imports; losses of mining, refining, fabrication and manufacturing), and
    F_in, DC, E, I summed over products: net exports follow domestic consumption.
    ``tonnes``: net exports of every level are held at their tonnes of T,
    D(t) = F_in(t) + NX_final(T) +
    NX_up(T) + L(T) DC(t) / DC(T) (losses still follow the throughput).
    Official output on the concentrate basis (``mining_basis`` attribute) is
    compared with a requirement without the beneficiation losses, which happen
    before it is counted.
    """
    years = result[_Y].values
    i_last = int(np.searchsorted(years, last))
    d, share = _requirement_values(
        **_requirement_arrays(result, last), i_last=i_last, net_exports=net_exports
    )
    d = np.where(years >= last, d, np.nan)
    drawn = _drawn(result.variables, "official_mining")  # (the base does not enter D or u)

    def labelled(x, name, *dims):  # with a draw dim only where an input with draws enters
        return _labelled(
            result, xr.Variable((cv.DRAW, *dims), x) if drawn[name] else xr.Variable(dims, x[0])
        )

    return labelled(d, "supply_requirement", _Y), labelled(share, "supply_upstream_share")


def supply_values(
    official_t: np.ndarray,
    unregistered_t: np.ndarray,
    flow_t: Mapping[tuple[str, str], np.ndarray],
    dc: np.ndarray,
    exports_final: np.ndarray,
    imports_final: np.ndarray,
    inflow: np.ndarray,
    outflow: np.ndarray,
    rate: np.ndarray,
    eta: np.ndarray,
    concentrate: bool,
    years: np.ndarray,
    last: int,
    options: SupplyOptions,
) -> dict[str, np.ndarray]:
    """:func:`supply_scenarios` on plain arrays with a leading draw axis (of 1 without draws).

    ``official_t`` and ``unregistered_t`` (draw,): official mining of T summed over its
    sources and unregistered mining of T; ``flow_t``: the flows of T present in the run
    by (origin, destination), each (draw,); ``dc``, ``exports_final``, ``imports_final``,
    ``inflow``, ``outflow`` (draw, product, year) and ``rate``, ``eta`` (draw, year) over
    ``years``; ``concentrate``: official output counted as concentrate. Returns the
    variables of :func:`supply_scenarios`: the six of SPEC §6 (draw, scenario, year),
    ``required_recycling_rate_above_1`` (draw, scenario, year),
    ``supply_growth_rate`` (scenario) and ``supply_upstream_share`` (draw).
    """
    growth = dict(options.growth)
    g = np.array([float(growth[name]) for name in growth])
    after = years >= last
    i_last = int(np.searchsorted(years, last))
    q_t = _base(official_t, lambda: unregistered_t, options.base)
    q = np.where(after, q_t[:, None, None] * ((1.0 + g)[:, None] ** (years - last)), np.nan)
    d, share = _requirement_values(
        flow_t=flow_t,
        dc=dc,
        exports_final=exports_final,
        imports_final=imports_final,
        inflow=inflow,
        i_last=i_last,
        net_exports=options.net_exports,
        concentrate=concentrate,
    )
    d = np.where(after, d, np.nan)
    eol = sums.nansum_values(outflow, 1)
    r = np.where(after, rate * eta * eol, np.nan)
    gap = d[:, None] - q - r[:, None]
    need = d[:, None] - q
    rate_needed = need / np.where(eol > 0, eta * eol, np.nan)[:, None]
    out = {
        "primary_supply": q,
        "secondary_supply": r[:, None] + (0.0 * g)[:, None],
        "supply_requirement": d[:, None] + (0.0 * g)[:, None],
        "supply_gap": gap,
        "required_recycling_rate": np.where(after, rate_needed, np.nan),
        "required_recycling_share_of_supply": np.where(
            after, need / np.where(d != 0, d, np.nan)[:, None], np.nan
        ),
    }
    out["required_recycling_rate_above_1"] = out["required_recycling_rate"] > 1.0
    out["supply_growth_rate"] = g
    out["supply_upstream_share"] = share
    return out


def supply_attrs(name: str, options: SupplyOptions, last: int) -> dict[str, str]:
    """The attributes of a variable of :func:`supply_values` in a run."""
    attrs = dict(cv.attrs(name))
    if name == "required_recycling_rate":
        attrs["flag"] = (
            "values above 1 need more than the whole end-of-life flow: see "
            "required_recycling_rate_above_1"
        )
    elif name == "primary_supply":
        attrs["base"] = f"{options.base} in {last}"
    elif name == "supply_requirement":
        attrs["net_exports"] = (
            "held as a share of domestic consumption"
            if options.net_exports == "share"
            else f"held at their tonnes of {last}"
        )
    return attrs


def supply_scenarios(
    result: xr.Dataset, inputs: xr.Dataset | None, options: SupplyOptions
) -> xr.Dataset:
    """The six supply variables of SPEC §6 over (scenario, year), and flags.

    Parameters
    ----------
    result : xarray.Dataset
        A run over the accounted and forecast years with ``mining`` (source, year),
        ``mining_unregistered``, ``flow`` (origin, destination, year),
        ``domestic_consumption``, ``inflow``, ``outflow``, ``exports_final``,
        ``imports_final`` (product, year) and ``recycling_rate``,
        ``recovery_efficiency`` (year); any may carry a ``draw`` dimension.
    inputs : xarray.Dataset or None
        Canonical inputs (attribute ``last_year`` names the last accounted year T;
        without it, the last year with unregistered mining).
    options : ndsim.scenario.SupplyOptions
        The scenario's ``[supply]`` table: ``base`` (``total_mining`` or
        ``official_mining``), ``net_exports`` (``share`` or ``tonnes``) and
        ``growth`` (supply scenario name -> g [yr-1]).

    Returns
    -------
    xarray.Dataset
        ``primary_supply``, ``secondary_supply``, ``supply_requirement``,
        ``supply_gap`` [t yr-1], ``required_recycling_rate``,
        ``required_recycling_share_of_supply`` [1] over (scenario, year), NaN
        before T; ``required_recycling_rate_above_1`` (bool), ``supply_growth_rate``
        (scenario), ``supply_upstream_share``.

    Notes
    -----
    Q(t) = Q(T) (1 + g)^(t - T); R(t) = r(t) eta(t) F_out,total(t);
    gap = D - Q - R; r* = (D - Q) / (eta F_out,total); share = (D - Q) / D
    (SPEC §4). With the ``total_mining`` base the gap of T is zero up to the
    balance residual of the accounting. Computed by :func:`supply_values` on the run's
    arrays, then labelled.
    """
    last = _last_year(result, inputs)
    variables = supply_variables(
        result.variables,
        _flows_at(result["flow"], last),
        result[_Y].values,
        result.get_index(_Y).get_loc(last),
        result.attrs.get("mining_basis") == "concentrate",
        options,
    )
    names = list(dict(options.growth))
    coords = _coords(result, {d for v in variables.values() for d in v.dims}) | {_S: names}
    order = [d for d in (cv.DRAW, _S, _Y) if d in coords]  # the order of the dims first
    return xr.Dataset(variables, coords={d: coords[d] for d in order} | coords)


def supply_variables(
    variables: Mapping[Hashable, xr.Variable],
    flow_t: Mapping[tuple[str, str], np.ndarray],
    years: np.ndarray,
    i_t: int,
    concentrate: bool,
    options: SupplyOptions,
) -> dict[str, xr.Variable]:
    """The variables of :func:`supply_scenarios` without their labels, from a run's
    Variables (name -> :class:`xarray.Variable`, a Dataset's ``variables``).

    ``flow_t``: the flows of T (draw,) by (origin, destination) (:data:`REQUIREMENT_PAIRS`
    present in the run); ``years`` the run's, T at position ``i_t``; ``concentrate``:
    official output counted as concentrate. A variable has a ``draw`` dimension where a
    variable it is computed from has one.
    """
    last = int(years[i_t])
    out = supply_values(
        **_arrays(variables, i_t),
        flow_t=flow_t,
        concentrate=concentrate,
        years=years,
        last=last,
        options=options,
    )
    drawn = _drawn(variables, options.base)

    def labelled(name, *dims):  # (draw, *dims) where a draw's inputs made it, else *dims
        x = out[name]
        if name in drawn:
            dims, x = ((cv.DRAW, *dims), x) if drawn[name] else (dims, x[0])
        return xr.Variable(dims, x, supply_attrs(name, options, last))

    supplied = {name: labelled(name, _S, _Y) for name in SUPPLY_VARIABLES}
    supplied["required_recycling_rate_above_1"] = labelled(
        "required_recycling_rate_above_1", _S, _Y
    )
    supplied["supply_growth_rate"] = labelled("supply_growth_rate", _S)
    supplied["supply_upstream_share"] = labelled("supply_upstream_share")
    return supplied


def flows_at_values(flow: np.ndarray, i_t: int) -> dict[tuple[str, str], np.ndarray]:
    """The ``flow_t`` of :func:`supply_variables` from a run's flows over the edges of
    :mod:`ndsim.flows` (draw, edge, year), each (draw,)."""
    return {
        pair: flow[:, flows.EDGES.index(pair), i_t]
        for pair in REQUIREMENT_PAIRS
        if pair in flows.EDGES
    }


def _drawn(variables: Mapping[Hashable, xr.Variable], base: str) -> dict[str, bool]:
    """Which variables of :func:`supply_values` vary by draw: those computed from a variable
    of a run (``variables``: its Variables) with a ``draw`` dimension (as xarray's
    broadcasting would give them)."""

    def has(*names: str) -> bool:
        return any(name in variables and cv.DRAW in variables[name].dims for name in names)

    q = has("mining") or (base == "total_mining" and has("mining_unregistered"))
    share = has("flow", "domestic_consumption")
    d = share or has("inflow", "exports_final", "imports_final")
    r = has("recycling_rate", "recovery_efficiency", "outflow")
    needed = q or d or has("recovery_efficiency", "outflow")
    return {
        "primary_supply": q,
        "secondary_supply": r,
        "supply_requirement": d,
        "supply_gap": q or d or r,
        "required_recycling_rate": needed,
        "required_recycling_share_of_supply": q or d,
        "required_recycling_rate_above_1": needed,
        "supply_upstream_share": share,
    }


def supply_summary(result: xr.Dataset, years: Sequence[int]) -> pd.DataFrame:
    """Per supply scenario: first year of deficit and the required recycling in given years.

    Parameters
    ----------
    result : xarray.Dataset
        Output of :func:`supply_scenarios` (or a run holding its variables); a
        ``draw`` dimension is averaged.
    years : sequence of int
        Years of the required recycling rate and share (those outside the run are left out).

    Returns
    -------
    pandas.DataFrame
        Index ``scenario``; columns ``growth``, ``first_deficit_year`` (first year
        after the base year with a positive gap; <NA> if none), and per year
        ``rate_<year>`` (share of end-of-life flow) and ``share_<year>`` (share
        of supply).
    """
    ds = result.mean(cv.DRAW) if cv.DRAW in result.dims else result
    gap = ds["supply_gap"]
    known = gap.notnull().any(_S)
    base_year = int(gap[_Y].values[known.values].min())
    later = gap.where(gap[_Y] > base_year)
    rows = {}
    for s in gap[_S].values:
        gs = later.sel({_S: s})
        deficit = gs[_Y].values[(gs > 0).values]
        row = {
            "growth": float(ds["supply_growth_rate"].sel({_S: s}))
            if "supply_growth_rate" in ds
            else np.nan,
            "first_deficit_year": int(deficit.min()) if deficit.size else pd.NA,
        }
        for y in years:
            if y in gap[_Y].values:
                row[f"rate_{y}"] = float(ds["required_recycling_rate"].sel({_S: s, _Y: y}))
                row[f"share_{y}"] = float(
                    ds["required_recycling_share_of_supply"].sel({_S: s, _Y: y})
                )
        rows[str(s)] = row
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "scenario"
    return df
