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

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ndsim import conventions as cv
from ndsim import flows, sums
from ndsim.errors import ValidationError
from ndsim.scenario import NET_EXPORTS

if TYPE_CHECKING:  # pragma: no cover
    from ndsim.scenario import SupplyOptions

__all__ = ["supply_scenarios", "supply_summary", "primary_supply_base", "requirement"]

_Y, _S, _P = cv.YEAR, cv.SCENARIO, cv.PRODUCT
UPSTREAM = ("mining", "refining", "fabrication")
LOSS_PROCESSES = ("mining", "refining", "fabrication", "manufacturing")
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
    if base == "official_mining":
        return official
    if base == "total_mining":
        return official + result["mining_unregistered"].sel({_Y: last}, drop=True)
    raise ValidationError(
        f"unknown supply base {base!r}; valid: total_mining, official_mining",
        file="<scenario>",
        field="supply.base",
    )


def _flow_sum(flow: xr.DataArray, pairs) -> xr.Variable:
    """Sum of flow[origin, destination] over the pairs present in the flows (edges or matrix)."""
    total = None
    for o, d in pairs:
        if flows.has_edge(flow, o, d):
            x = flows.edge(flow, o, d).variable.fillna(0.0)
            total = x if total is None else total + x
    if total is not None:
        return total
    first = {flows.EDGE: 0} if flows.is_edges(flow) else {cv.ORIGIN: 0, cv.DESTINATION: 0}
    return xr.zeros_like(flow.isel(first, drop=True)).variable


def _labelled(result: xr.Dataset, variable: xr.Variable) -> xr.DataArray:
    """A variable computed from those of ``result``, with the coordinates of ``result`` it spans."""
    return xr.DataArray(variable, coords=_coords(result, variable.dims))


def _coords(result: xr.Dataset, dims) -> dict:
    """The coordinates of ``result`` over some of ``dims``."""
    return {k: v for k, v in result.coords.variables.items() if set(v.dims) <= set(dims)}


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
    d, share = _requirement(result, last, net_exports)
    return _labelled(result, d), _labelled(result, share)


def _requirement(
    result: xr.Dataset, last: int, net_exports: str
) -> tuple[xr.Variable, xr.Variable]:
    """:func:`requirement` on the variables of ``result`` (one set of coordinates: no alignment)."""
    if net_exports not in NET_EXPORTS:
        raise ValidationError(
            f"unknown supply.net_exports {net_exports!r}; valid: {', '.join(NET_EXPORTS)}",
            file="scenario",
            field="supply.net_exports",
        )
    flow = result["flow"].sel({_Y: last}, drop=True)
    at_last = {_Y: result.get_index(_Y).get_loc(last)}
    exports = _flow_sum(flow, [(o, d) for o in UPSTREAM for d in ("export", "export_unregistered")])
    imports = _flow_sum(flow, [("import", d) for d in UPSTREAM])
    processes = LOSS_PROCESSES
    if result.attrs.get("mining_basis") == "concentrate":
        processes = tuple(p for p in LOSS_PROCESSES if p != "mining")
    losses = _flow_sum(flow, [(o, "loss") for o in processes])
    dc = sums.nansum(result["domestic_consumption"].variable, _P)
    dc_t = dc.isel(at_last)
    per_dc = 1.0 / dc_t.where(dc_t != 0)
    net_final = sums.nansum(result["exports_final"].variable - result["imports_final"].variable, _P)
    inflow = sums.nansum(result["inflow"].variable, _P)
    if net_exports == "share":
        share = ((exports - imports + losses) * per_dc).fillna(0.0)
        d = inflow + net_final + share * dc
    else:
        share = (losses * per_dc).fillna(0.0)
        held = net_final.isel(at_last) + exports - imports
        d = inflow + held + share * dc
    return d.where(result[_Y].variable >= last), share


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
    balance residual of the accounting.
    """
    base = options.base
    net_exports = options.net_exports
    growth = dict(options.growth)
    last = _last_year(result, inputs)
    # on the variables of `result` (one set of coordinates: no alignment), labelled at the end
    years = result[_Y].variable
    after = years >= last

    names = list(growth)
    g = xr.Variable(_S, [float(growth[n]) for n in names])
    q_t = primary_supply_base(result, last, base).variable
    q = (q_t * (1.0 + g) ** (years - last)).where(after)
    d, share = _requirement(result, last, net_exports)
    eol = sums.nansum(result["outflow"].variable, _P)
    eta = result["recovery_efficiency"].variable
    r = (result["recycling_rate"].variable * eta * eol).where(after)
    gap = d - q - r
    need = d - q
    rate = need / (eta * eol).where(eol > 0)
    out = {
        "primary_supply": q,
        "secondary_supply": r + 0.0 * g,
        "supply_requirement": d + 0.0 * g,
        "supply_gap": gap,
        "required_recycling_rate": rate.where(after),
        "required_recycling_share_of_supply": (need / d.where(d != 0)).where(after),
    }
    for name, v in out.items():
        out[name] = v.transpose(*[dim for dim in (cv.DRAW, _S, _Y) if dim in v.dims])
        out[name].attrs.update(cv.attrs(name))
    above = out["required_recycling_rate"] > 1.0
    above.attrs.update(cv.attrs("required_recycling_rate_above_1"))
    out["required_recycling_rate_above_1"] = above
    out["required_recycling_rate"].attrs["flag"] = (
        "values above 1 need more than the whole end-of-life flow: see required_recycling_rate_above_1"
    )
    out["supply_growth_rate"] = xr.Variable(g.dims, g.data, cv.attrs("supply_growth_rate"))
    out["supply_upstream_share"] = xr.Variable(
        share.dims, share.data, share.attrs | cv.attrs("supply_upstream_share")
    )
    out["primary_supply"].attrs["base"] = f"{base} in {last}"
    out["supply_requirement"].attrs["net_exports"] = (
        "held as a share of domestic consumption"
        if net_exports == "share"
        else f"held at their tonnes of {last}"
    )
    coords = _coords(result, {dim for v in out.values() for dim in v.dims}) | {_S: names}
    order = [dim for dim in (cv.DRAW, _S, _Y) if dim in coords]  # the order of the dims first
    return xr.Dataset(out, coords={dim: coords[dim] for dim in order} | coords)


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
