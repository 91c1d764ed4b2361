"""The model run: the processes of SPEC §1-4 in order, from inputs to one results Dataset.

:func:`run` reads like the model: domestic consumption (eq. 1), trade in
final products (eq. 2-4), the forecast (eq. 7-10), the use stage (eq. 5-6),
waste management, then top-down manufacturing, fabrication, refining and
mining (SPEC §3), the supply scenarios (SPEC §4) and the mass-balance check.
No I/O: the inputs come in as the canonical Dataset of
:func:`ndsim.io.readers.load_dataset`, the result goes out as an
:class:`xarray.Dataset` following the contract of :mod:`ndsim.conventions`.
Every array may carry a leading ``draw`` dimension.

Reference: Yao et al. (2021), Resources, Conservation and Recycling 174:105752,
doi:10.1016/j.resconrec.2021.105752.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import xarray as xr

# first: _xarray_lazy keeps xarray from importing dask.array to ask of each array it wraps
from ndsim import _xarray_lazy, balance, flows, forecast, sums  # noqa: F401
from ndsim import conventions as cv
from ndsim.errors import ValidationError
from ndsim.processes import consumption, products, supply, trade, upstream, use, waste
from ndsim.scenario import Scenario

if TYPE_CHECKING:
    from ndsim.fleet import FleetFit

__all__ = ["run", "RunVariables", "accounted_years", "model_years", "history_start"]

#: processes and trade that are accounted for the retrospective years only (SPEC §3)
UPSTREAM = ("mining", "refining", "fabrication", "manufacturing")
#: the unit layer's variables (SPEC §2.1, §6), accounted and forecast
UNIT_VARIABLES = (
    "units_production",
    "units_exports",
    "units_imports",
    "units_sales",
    "units_retired",
    "units_in_use",
    "nd_intensity",
    "unmet_fleet_decline",
    "ownership_fitted",
)
#: product coordinates copied from the inputs to the output
PRODUCT_COORDS = (
    "name",
    "category",
    "group",
    "count_unit",
    "in_total_demand",
    "forecast_method",
    "ownership_basis",
    "ownership_group",
)


@overload
def run(
    inputs: xr.Dataset,
    scenario: Scenario,
    *,
    diagnostics: bool = ...,
    fits: Mapping[str, FleetFit] | None = ...,
    flow_form: str = ...,
    labels: Literal[True] = ...,
) -> xr.Dataset: ...
@overload
def run(
    inputs: xr.Dataset,
    scenario: Scenario,
    *,
    diagnostics: bool = ...,
    fits: Mapping[str, FleetFit] | None = ...,
    flow_form: str = ...,
    labels: Literal[False],
) -> RunVariables: ...
def run(
    inputs: xr.Dataset,
    scenario: Scenario,
    *,
    diagnostics: bool = True,
    fits: Mapping[str, FleetFit] | None = None,
    flow_form: str = "matrix",
    labels: bool = True,
) -> xr.Dataset | RunVariables:
    """Run the accounting (and the forecast and supply scenarios if enabled).

    Parameters
    ----------
    inputs : xr.Dataset
        Canonical input Dataset (``docs/data_format.md``), possibly with a
        leading ``draw`` dimension on any variable.
    scenario : Scenario
        A checked scenario (:func:`ndsim.scenario.load_scenario`).
    diagnostics : bool
        Include the forecast's diagnostic variables (Gompertz fits, implied
        units and ownership; see :func:`ndsim.forecast.project`). Ensemble
        chunks run without them.
    fits : mapping of str to ndsim.fleet.FleetFit, optional
        Ownership curves to use instead of fitting them (an ensemble's draws
        use the deterministic run's: :func:`ndsim.forecast.fits_from_dataset`).
    flow_form : {"matrix", "edges"}
        ``flow``, ``flow_prior`` and ``flow_sd`` as the (origin, destination, year)
        matrix of the output contract, or (``"edges"``, ensemble chunks) over the
        22 edges only, (..., edge, year) (:mod:`ndsim.flows`). The model is the
        same; only the last step differs.
    labels : bool
        False returns the variables without their labels (:class:`RunVariables`, what
        an ensemble's chunks read): the same Variables, no Dataset, coordinates or
        provenance built around them.

    Returns
    -------
    xr.Dataset or RunVariables
        The variables of SPEC §6 (``ndsim.conventions``) and extras, with
        provenance attributes; upstream variables are NaN after the last
        accounted year.

    Raises
    ------
    ndsim.errors.BalanceError
        A process out of balance or a negative stock, flow, production or
        trade, unless ``scenario.run.on_violation == "warn"``.
    """
    first, last = accounted_years(inputs)
    years = model_years(inputs, scenario)
    forecasting = len(years) > last - first + 1
    acc = inputs.sel({cv.YEAR: slice(first, last)})
    opts = scenario.run
    start = history_start(inputs, scenario)
    his = inputs.sel({cv.YEAR: slice(start, last)})  # the unit-flow years (SPEC §2.2)

    # lifetimes as specs: the kernels evaluate each pdf from its parameters (no (draw,
    # product, age) array); the same numbers as the pdf of use.lifetime_pdf
    pdf = use.lifetime_specs(inputs, opts.lifetime_variant, opts.timing)
    extras = xr.Dataset()
    # 1-2. final products in units, Nd per cohort (SPEC §2.1, eq. 1-4), on plain arrays
    # (draw, product, year) with a draw axis of length 1 without draws
    lead = his[cv.DRAW].values if cv.DRAW in his.dims else None
    n = 1 if lead is None else lead.size
    P, Y = cv.PRODUCT, cv.YEAR
    product_names = [str(p) for p in his[P].values]
    given = ("production", "units_exports", "units_imports")
    unit_flows = {v: forecast.lead_values(his[v], n, P, Y) for v in given}
    values = products.unit_layer_values(
        unit_flows["production"],
        unit_flows["units_exports"],
        unit_flows["units_imports"],
        forecast.lead_values(his["nd_content"], n, P),
        forecast.lead_values(his["adoption_rate"], n, P, Y),
        forecast.lead_values(his["intensity_calibration"], n, P),
    )
    if forecasting:
        # 3. the forecast (eq. 7-10) convolves the units sold into the fleet to T and runs
        # the use stage over all years (eq. 5-6)
        hist = forecast.History(
            values=unit_flows | values,
            products=product_names,
            years=his[Y].values,
            draws=lead,
            has_draws=lead is not None,
        )
        projection = forecast.project_values(
            inputs,
            hist,
            scenario.forecast,
            pdf,
            decline_policy=opts.decline_policy,
            file=scenario.file_name,
            fits=fits,
            diagnostics=diagnostics,
        )
        # labelled once, over the model's years (start to the last), what the run keeps
        n_years = int(np.searchsorted(projection.years, years[-1], side="right"))
        dc = projection.labelled("domestic_consumption", n_years)
        inflow = projection.labelled("inflow", n_years)
        in_use = xr.Dataset({v: projection.labelled(v, n_years) for v in ("outflow", "stock")})
        # the unit layer from the first accounted year, on arrays
        i0 = int(np.searchsorted(projection.years, first))
        fleet = {
            v: projection.values[v][..., i0:n_years]
            for v in UNIT_VARIABLES
            if v in projection.values
        }
        fitted = None
        if "ownership_fitted" in projection.extras:
            fitted = projection.extra("ownership_fitted", n_years).sel({Y: slice(first, None)})
        extras = projection.dataset(n_years, extras_only=True)
        # trade in final products after T held at its share of DC in T
        dc_values = forecast.lead_values(dc, n, P, Y)
        traded = {}
        for name in ("exports_final", "imports_final"):
            x = trade.extended_values(values[name], dc_values)
            traded[name] = dc.copy(data=x if lead is not None else x[0]).rename(name)
            traded[name].attrs = cv.attrs(name)
        exports_final, imports_final = traded["exports_final"], traded["imports_final"]
        del hist, unit_flows, values, dc_values, traded, projection
    else:
        # the use stage of units and of Nd over the history (eq. 5-6): the forecast's
        # kernels without the forecast
        lives = forecast.Lifetimes(pdf, product_names, lead, his[Y].values)
        (u_out, u_stock), (nd_out, nd_stock), _ = lives.use_pair(
            values["units_sales"], values["inflow"], product_names
        )

        def over_history(x, name):  # (draw, product, year) over the use-stage years
            dims, c = (P, Y), {P: his[P].values, Y: his[Y].values}
            if lead is not None:
                dims, c = (cv.DRAW, *dims), {cv.DRAW: lead, **c}
            x = x if lead is not None else x[0]
            return xr.DataArray(x, dims=dims, coords=c, name=name, attrs=cv.attrs(name))

        dc, inflow, exports_final, imports_final = (
            over_history(values[name], name)
            for name in ("domestic_consumption", "inflow", "exports_final", "imports_final")
        )
        in_use = xr.Dataset(
            {"outflow": over_history(nd_out, "outflow"), "stock": over_history(nd_stock, "stock")}
        )
        i0 = int(np.searchsorted(his[Y].values, first))
        fleet = {
            name: x[..., i0:]
            for name, x in (
                ("units_production", forecast.lead_values(his["production"], 1, P, Y)),
                ("units_exports", forecast.lead_values(his["units_exports"], 1, P, Y)),
                ("units_imports", forecast.lead_values(his["units_imports"], 1, P, Y)),
                ("units_sales", values["units_sales"]),
                ("units_retired", u_out),
                ("units_in_use", u_stock),
                ("nd_intensity", values["nd_intensity"]),
            )
        }
        fitted = None
        del unit_flows, values
    stock_before = (
        # (two years: the sum of each year's products as numpy adds them over all years)
        sums.nansum(in_use["stock"].sel({cv.YEAR: slice(first - 1, first)}), cv.PRODUCT).sel(
            {cv.YEAR: first - 1}, drop=True
        )
        if start < first
        else None
    )
    dc, inflow, exports_final, imports_final = (
        da.sel({cv.YEAR: slice(first, None)}) for da in (dc, inflow, exports_final, imports_final)
    )
    in_use = in_use.sel({cv.YEAR: slice(first, None)})
    if cv.YEAR in extras.dims:
        extras = extras.sel({cv.YEAR: slice(first, None)})
    # what the result keeps is labelled once, from arrays (draw, ..., year) with a draw axis
    # of length 1 where an array has none (the draws `lead` of the unit layer's inputs):
    # over the accounted years unless said
    k = last - first + 1  # the accounted years: the first k of the run's

    # one DataArray built for each layout and set of labels, the others its shallow copies
    # (a DataArray built from coordinates copies them deeply, indexes included)
    built: list = []

    def has_draws(x):  # a (draw, ..., year) array of the run's: its first axis the draws?
        return lead is not None and x.shape[0] == n

    def plain(x, *dims):  # such an array as the run's Variable: labelled's layout, no labels
        drawn = has_draws(x)
        return xr.Variable(((cv.DRAW,) if drawn else ()) + (*dims, Y), x if drawn else x[0])

    def labelled(x, *dims, on_years=years[:k], name=None, attrs=None, **coords):
        drawn = has_draws(x)
        x = x if drawn else x[0]
        c = {**coords, Y: on_years} | ({cv.DRAW: lead} if drawn else {})
        dims = ((cv.DRAW,) if drawn else ()) + (*dims, Y)
        # the same label objects (kept alive in `built`, so never a recycled id): the same coords
        have = next(
            (
                t
                for layout, labels, t in built
                if layout == (dims, x.shape)
                and labels.keys() == c.keys()
                and all(labels[d] is c[d] for d in c)
            ),
            None,
        )
        if have is None:
            da = xr.DataArray(x, dims=dims, coords=xr.Coordinates(c), name=name, attrs=attrs)
            built.append(((dims, x.shape), c, da.copy(deep=False)))
            return da
        da = have.copy(deep=False, data=x)
        da.name = name
        da.attrs = {} if attrs is None else attrs
        return da

    units, flag = _unit_outputs(
        fleet,
        fitted,
        inputs,
        first,
        lambda x, **kw: labelled(x, P, on_years=years, product=product_names, **kw),
    )
    del fleet  # the unit layer over all its years: units holds what the output keeps

    # 4. waste management: R = r x eta x F_out to refining, the rest to landfill
    rate = waste.recycling_path(acc["recycling_rate"], years, last, scenario.recycling.rate)
    eta_after = scenario.recycling.recovery_efficiency
    eta = waste.recycling_path(
        acc["recovery_efficiency"], years, last, None if eta_after is None else ((last, eta_after),)
    )
    # 4-8 on plain arrays (draw, ..., year): a draw axis of length 1 where an array has
    # none, numpy broadcasting where xarray's would; the accounted years come first
    K, S = cv.INTERMEDIATE, cv.SOURCE
    acc_v = {
        name: forecast.lead_values(acc[name], 1, *dims)
        for name, dims in (
            ("yield_manufacturing", (K, Y)),
            ("exports_intermediate", (K, Y)),
            ("imports_intermediate", (K, Y)),
            ("yield_fabrication", (K, Y)),
            ("exports_primary", (Y,)),
            ("exports_primary_unregistered", (Y,)),
            ("imports_primary", (Y,)),
            ("yield_refining", (Y,)),
            ("exports_concentrate", (Y,)),
            ("imports_concentrate", (Y,)),
            ("mining", (S, Y)),
            ("yield_mining", (Y,)),
        )
    }
    for da in (dc, exports_final, imports_final, in_use["outflow"]):
        if not np.array_equal(da[Y].values, years):
            raise ValueError(f"{da.name}: not over the run's years {years[0]}-{years[-1]}")
    dc_v, ef_v = forecast.lead_values(dc, 1, P, Y), forecast.lead_values(exports_final, 1, P, Y)
    eol = waste.waste_values(
        forecast.lead_values(in_use["outflow"], 1, P, Y),
        forecast.lead_values(rate, 1, Y),
        forecast.lead_values(eta, 1, Y),
    )

    # 5-8. top-down over the accounted years: manufacturing, fabrication, refining, mining
    made = upstream.manufacturing_values(
        dc_v[..., :k],
        membership(inputs).transpose(K, P).values,
        acc_v["yield_manufacturing"],
    )
    fab = upstream.fabrication_values(
        made["input"],
        acc_v["exports_intermediate"],
        acc_v["imports_intermediate"],
        acc_v["yield_fabrication"],
    )
    by_k = {name: sums.nansum_values(x, -2) for name, x in (
        ("primary_input", fab["primary_input"]),
        ("imports_intermediate", acc_v["imports_intermediate"]),
        ("exports_intermediate", acc_v["exports_intermediate"]),
        ("manufacturing_input", made["input"]),
        ("manufacturing_loss", made["loss"]),
        ("fabrication_loss", fab["loss"]),
    )}  # fmt: skip
    ref = upstream.refining_values(
        by_k["primary_input"],
        acc_v["exports_primary"],
        acc_v["exports_primary_unregistered"],
        acc_v["imports_primary"],
        eol["recycled"][..., :k],
        acc_v["yield_refining"],
    )
    basis = inputs.attrs.get("mining_basis", "ore")
    mine = upstream.mining_values(
        ref["concentrate_input"],
        acc_v["exports_concentrate"],
        acc_v["imports_concentrate"],
        acc_v["mining"],
        acc_v["yield_mining"],
        basis,
    )
    final_imports = sums.nansum_values(forecast.lead_values(imports_final, 1, P, Y), -2)
    final_exports = sums.nansum_values(ef_v, -2)

    # the flows between processes (a Sankey can be drawn from them alone), flows.FLOW_EDGES
    accounted, every = slice(0, k), slice(None)
    flow = flows.edge_values(
        {
            ("ore", "mining"): (mine["official_ore"], accounted),
            ("unregistered_mining", "mining"): (mine["unregistered_ore"], accounted),
            ("import", "mining"): (acc_v["imports_concentrate"], accounted),
            ("mining", "refining"): (ref["concentrate_input"], accounted),
            ("mining", "export"): (acc_v["exports_concentrate"], accounted),
            ("mining", "loss"): (mine["loss"], accounted),
            ("import", "refining"): (acc_v["imports_primary"], accounted),
            ("waste", "refining"): (eol["recycled"], every),
            ("refining", "fabrication"): (by_k["primary_input"], accounted),
            ("refining", "export"): (acc_v["exports_primary"], accounted),
            ("refining", "export_unregistered"): (acc_v["exports_primary_unregistered"], accounted),
            ("refining", "loss"): (ref["loss"], accounted),
            ("import", "fabrication"): (by_k["imports_intermediate"], accounted),
            ("fabrication", "manufacturing"): (by_k["manufacturing_input"], accounted),
            ("fabrication", "export"): (by_k["exports_intermediate"], accounted),
            ("fabrication", "loss"): (by_k["fabrication_loss"], accounted),
            ("manufacturing", "use"): (sums.nansum_values(dc_v - ef_v, -2), every),
            ("manufacturing", "export"): (final_exports[..., :k], accounted),
            ("manufacturing", "loss"): (by_k["manufacturing_loss"], accounted),
            ("import", "use"): (final_imports, every),
            ("use", "waste"): (eol["end_of_life"], every),
            ("waste", "landfill"): (eol["landfill"], every),
        },
        years.size,
        (n,),
    )

    intermediates = {K: acc[K].values}
    stage_parts = {
        "imports": (acc_v["imports_concentrate"], acc_v["imports_primary"],
                    by_k["imports_intermediate"], final_imports[..., :k]),
        "exports": (acc_v["exports_concentrate"], acc_v["exports_primary"],
                    by_k["exports_intermediate"], final_exports[..., :k]),
    }  # fmt: skip
    by_stage = {
        name: labelled(
            np.stack(np.broadcast_arrays(*parts), axis=1), cv.STAGE, stage=list(cv.STAGES)
        ).transpose(cv.STAGE, ...)
        for name, parts in stage_parts.items()
    }
    # the result as Variables and coordinates, a Dataset built once at the end (and only
    # where labels are asked for)
    result, coords = _on_years(
        {
            "domestic_consumption": dc,
            "total_demand": consumption.total_demand(dc, inputs["in_total_demand"]),
            "inflow": inflow,
            "outflow": in_use["outflow"],
            "stock": in_use["stock"],
            "exports_final": exports_final,
            "imports_final": imports_final,
            "mining": acc["mining"],
            "mining_unregistered": labelled(
                mine["unregistered"], attrs=dict(cv.attrs("mining_unregistered"))
            ),
            "mining_total": labelled(mine["total"], attrs=dict(cv.attrs("mining_total"))),
            "intermediate_production": labelled(fab["production"], K, **intermediates),
            "imports": by_stage["imports"],
            "exports": by_stage["exports"],
            "exports_unregistered": acc["exports_primary_unregistered"],
            "flow": labelled(
                flow,
                flows.EDGE,
                on_years=years,
                edge=list(flows.LABELS),
                name="flow",
                attrs=dict(cv.attrs("flow")),
            ),
            "recycling_rate": rate,
            "recovery_efficiency": eta,
            **units,
            **{
                d: inputs[d].reindex({cv.YEAR: years})
                for d in ("population", "households")
                if d in inputs
            },
        },
        years,
    )
    if extras.variables:  # (nothing to merge without the forecast's diagnostics)
        merged = xr.Dataset(result, coords=coords).merge(extras, compat="override", join="left")
        result, coords = _parts(merged)
    replaced: dict = {}
    if scenario.run.upstream == "reconciled":
        arrays = {
            "manufacturing_input": made["input"],
            "manufacturing_total": by_k["manufacturing_input"],
            "recycled": eol["recycled"][..., :k],
            "final_imports": final_imports[..., :k],
            "final_exports": final_exports[..., :k],
            "yield_mining": acc_v["yield_mining"],
        }
        replaced = _reconciled(
            inputs, acc, arrays, flow, years, labelled, plain, basis, scenario.uncertainty.cv
        )
    replaced["plausibility_flag"] = flag
    _assign(result, coords, replaced)

    # 9. supply scenarios against the requirement (SPEC §4)
    flow_v = forecast.lead_values(result["flow"], 1, flows.EDGE, Y)
    if forecasting:
        i_t = int(np.searchsorted(years, last))
        result.update(
            supply.supply_variables(
                result,
                supply.flows_at_values(flow_v, i_t),
                years,
                i_t,
                basis == "concentrate",
                scenario.supply,
            )
        )
        coords[cv.SCENARIO] = xr.Variable(cv.SCENARIO, list(dict(scenario.supply.growth)))

    # 10. mass balance of every process, and signs (SPEC §3)
    # (on the arrays: the stock summed over products as xarray's sum adds, NaN kept)
    stock_total = sums.sum_values(forecast.lead_values(result["stock"], 1, P, Y), 1)
    worst = balance.check_balance_values(
        flow_v,
        stock_total,
        np.zeros(1) if stock_before is None else forecast.lead_values(stock_before, 1),
        years,
        lead if cv.DRAW in result["flow"].dims else None,
        on_violation=opts.on_violation,
    )
    result["balance_residual"] = xr.Variable(
        (cv.PROCESS, Y), worst, attrs=cv.attrs("balance_residual")
    )
    coords[cv.PROCESS] = xr.Variable(cv.PROCESS, list(cv.PROCESSES))
    # a reconciled flow may come out negative: a result, reported in the summary, never
    # clipped and not an error (SPEC §3); the inputs it came from were checked at load
    reconciled_names = ("mining", "intermediate_production", "imports", "exports")
    reconciled_names += ("exports_unregistered",)
    balance.check_nonnegative(
        [  # (a DataArray only for a variable the compiled pass finds a negative value in)
            (name, _labelled(name, result[name], coords))
            for name in (
                "domestic_consumption",
                "exports_final",
                "imports_final",
                "inflow",
                "units_sales",
                "outflow",
                "stock",
                "mining",
                "intermediate_production",
                "imports",
                "exports",
                "exports_unregistered",
            )
            if not (scenario.run.upstream == "reconciled" and name in reconciled_names)
            and not balance.surely_nonnegative(result[name])
        ],
        on_violation=opts.on_violation,
    )
    return _finish(result, coords, inputs, scenario, flow_form, labels)


class RunVariables(dict):
    """A run's variables without their labels: name -> :class:`xarray.Variable` (dims,
    values, attributes), in the order of the Dataset :func:`run` returns.

    What the chunks of an ensemble read (:mod:`ndsim.summarize`, the draws kept for
    ``--full``): like a Dataset's ``variables``, without its coordinates and indexes.
    """

    @property
    def variables(self) -> RunVariables:
        return self


# --- helpers ----------------------------------------------------------------
def _reconciled(
    inputs: xr.Dataset,
    acc: xr.Dataset,
    arrays: Mapping[str, np.ndarray],
    flow: np.ndarray,
    years: np.ndarray,
    labelled: Callable[..., xr.DataArray],
    plain: Callable[..., xr.Variable],
    basis: str,
    cv_overrides: Mapping[str, float] | None = None,
) -> dict:
    """The upstream flows replaced by their reconciliation (SPEC §3); the residual ones stay
    as prior.

    ``arrays``: the run's (draw, ..., year) arrays over the accounted years (a draw axis
    of 1 where they have none) of ``manufacturing_input`` (..., intermediate, year), of
    ``recycled``, the manufacturing input and the imports and exports of final
    products summed (..., year), and the input ``yield_mining``; ``flow`` the residual flows (draw, edge, year)
    over the run's ``years``; ``labelled`` labels a (draw, ..., year) array of the
    run's, ``plain`` makes it the run's Variable (the same layout, without labels).
    Returns the variables that replace the result's.
    """
    from ndsim.processes import reconciled

    first, last = accounted_years(inputs)
    if (
        "unregistered_mining_prior" not in inputs
        and "intermediate_production_statistic" not in inputs
    ):
        raise ValidationError(
            'upstream = "reconciled" needs a measurement beyond the balances: an '
            "unregistered_mining_prior.csv or an intermediate_production.csv in the data set",
            file="scenario",
            field="run.upstream",
        )
    K, S, Y = cv.INTERMEDIATE, cv.SOURCE, cv.YEAR
    rec = reconciled.reconcile_upstream_values(
        inputs,
        acc,
        plain(arrays["manufacturing_input"], K),
        plain(arrays["recycled"]),
        basis,
        cv_overrides=cv_overrides,
    )
    if not np.array_equal(rec.years, acc.get_index(Y)):
        raise ValueError("the reconciliation's years are not the accounted years")
    if rec.lead not in ((), (cv.DRAW,)):
        raise ValueError(f"the reconciliation's leading dimensions {rec.lead} are not (draw,)")
    # on the run's arrays: (draw, year, flow), a draw axis of 1 without draws
    out = {k: v if rec.lead or k in ("dof", "role") else v[None] for k, v in rec.values.items()}
    column = {name: i for i, name in enumerate(rec.flows)}
    z, sd = out["flow"], out["sd"]

    def f(name):
        return z[..., column[name]]

    def s(name):
        return sd[..., column[name]]

    def by(prefix, dim):  # the flows "prefix:<label>" (draw, year, label), as they lie in z
        return z[..., [column[f"{prefix}:{x}"] for x in acc.get_index(dim)]]

    def label_first(x):  # (draw, year, label) -> (draw, label, year)
        return np.moveaxis(x, -1, -2)

    # the sums over sources and intermediates add along the last axis, as they lie in z
    official, o_k = by("official", S), by("intermediate_production", K)
    p_k, ii_k, xi_k = (
        by(name, K)
        for name in ("primary_to_fabrication", "imports_intermediate", "exports_intermediate")
    )
    p_sum, ii_sum, xi_sum = (
        sums.nansum_values(p_k, -1),
        sums.nansum_values(ii_k, -1),
        sums.nansum_values(xi_k, -1),
    )
    y_min = arrays["yield_mining"]
    # official output and IM on the basis of the official figures (the reconciliation's
    # are on the concentrate basis)
    to_conc = y_min if basis == "ore" else 1.0
    to_conc_by_source = y_min[..., None] if basis == "ore" else 1.0
    off_total, im = sums.nansum_values(official, -1), f("unregistered")
    ic, xc, c = f("imports_concentrate"), f("exports_concentrate"), f("concentrate_to_refining")
    ip, xp, xu = f("imports_primary"), f("exports_primary"), f("exports_unregistered")
    m_total, recycled = arrays["manufacturing_total"], arrays["recycled"]
    # losses as differences: every balance closes exactly in float64 (SPEC §3)
    edges = {
        ("ore", "mining"): off_total / y_min,
        ("unregistered_mining", "mining"): im / y_min,
        ("import", "mining"): ic,
        ("mining", "refining"): c,
        ("mining", "export"): xc,
        ("mining", "loss"): (off_total + im) / y_min + ic - c - xc,
        ("import", "refining"): ip,
        ("refining", "fabrication"): p_sum,
        ("refining", "export"): xp,
        ("refining", "export_unregistered"): xu,
        ("import", "fabrication"): ii_sum,
        ("fabrication", "manufacturing"): m_total,
        ("fabrication", "export"): xi_sum,
    }
    edges[("refining", "loss")] = c + ip + recycled - p_sum - xp - xu
    edges[("fabrication", "loss")] = p_sum + ii_sum - m_total - xi_sum
    edge_sd = {
        ("ore", "mining"): out["sd_ore_official"],
        ("unregistered_mining", "mining"): out["sd_ore_unregistered"],
        ("import", "mining"): s("imports_concentrate"),
        ("mining", "refining"): s("concentrate_to_refining"),
        ("mining", "export"): s("exports_concentrate"),
        ("mining", "loss"): out["sd_mining_loss"],
        ("import", "refining"): s("imports_primary"),
        ("refining", "fabrication"): out["sd_to_fabrication"],
        ("refining", "export"): s("exports_primary"),
        ("refining", "export_unregistered"): s("exports_unregistered"),
        ("refining", "loss"): out["sd_refining_loss"],
        ("import", "fabrication"): out["sd_fabrication_imports"],
        ("fabrication", "export"): out["sd_fabrication_exports"],
        ("fabrication", "loss"): out["sd_fabrication_loss"],
    }
    k = rec.years.size
    i0 = int(np.searchsorted(years, rec.years[0]))
    if not np.array_equal(years[i0 : i0 + k], rec.years):
        raise ValueError("the accounted years are not a run of the model's years")

    def with_edges(base, replaced):  # base (draw, edge, year), the edges' accounted years replaced
        new = np.array(np.broadcast_to(base, (max(base.shape[0], z.shape[0]), *base.shape[1:])))
        for pair, x in replaced.items():
            new[..., flows.EDGES.index(pair), i0 : i0 + k] = x
        return new

    def on_years(x, fill=np.nan):  # the accounted years of the model's years, fill elsewhere
        new = np.full((*x.shape[:-1], years.size), fill, dtype=x.dtype)
        new[..., i0 : i0 + k] = x
        return new

    def variable(x, *dims):  # (draw, ..., year) over the accounted years as the run's Variable
        return plain(on_years(x), *dims)

    # the flows before reconciliation: the measured value where the edge is measured (the
    # prior of unregistered mining), the residual chain's value elsewhere
    im_edge = ("unregistered_mining", "mining")
    im_prior = out["prior"][..., column["unregistered"]] / y_min
    residual_im = flow[..., flows.EDGES.index(im_edge), i0 : i0 + k]
    unreconciled = np.where(years <= last, 0.0, np.nan)  # flow_sd after the accounted years
    res: dict = {
        "flow": with_edges(flow, edges),
        "flow_prior": with_edges(
            flow, {im_edge: np.where(np.isnan(im_prior), residual_im, im_prior)}
        ),
        "flow_sd": with_edges(np.broadcast_to(unreconciled, flow.shape), edge_sd),
    }
    res = {name: plain(x, flows.EDGE) for name, x in res.items()}
    res["mining"] = variable(label_first(official / to_conc_by_source), S)
    res["mining_unregistered"] = variable(im / to_conc)
    res["mining_unregistered_sd"] = variable(s("unregistered") / to_conc)
    res["mining_total"] = variable((off_total + im) / to_conc)
    res["intermediate_production"] = variable(label_first(o_k), K)
    stages = {
        "imports": (ic, ip, ii_sum, arrays["final_imports"]),
        "exports": (xc, xp, xi_sum, arrays["final_exports"]),
    }
    for name, parts in stages.items():
        res[name] = variable(np.stack(np.broadcast_arrays(*parts), axis=-2), cv.STAGE)
    res["exports_unregistered"] = variable(xu)
    role = out["role"]  # (year, flow)
    measured = np.flatnonzero((role == reconciled.MEASURED).any(axis=0))
    names = np.asarray(rec.flows)[measured]
    res["reconciliation_adjustment"] = labelled(
        on_years(label_first(out["adjustment"][..., measured])),
        "measurement",
        on_years=years,
        measurement=names,
    )
    res["reconciliation_chi2"] = variable(out["chi2"])
    for name, x, fill in (
        ("reconciliation_dof", out["dof"], -1),
        ("reconciliation_measurements", (role == reconciled.MEASURED).sum(axis=1), 0),
        ("reconciliation_unknowns", (role == reconciled.UNKNOWN).sum(axis=1), 0),
    ):
        res[name] = xr.Variable(Y, on_years(x, fill))
    return res


def _on_years(
    arrays: Mapping[str, xr.DataArray], years: np.ndarray
) -> tuple[dict[Hashable, xr.Variable], dict[Hashable, xr.Variable]]:
    """The Variables and the coordinates of ``arrays`` over the run's ``years``, NaN where an
    array has no value: those of the Dataset ``xr.Dataset(arrays).reindex(year=years)``.

    Built without aligning every array on every other: the arrays of one run share the
    labels of their other dimensions and their coordinates, which is checked (where they
    do not, that construction itself makes them). Arrays already on ``years`` are not
    copied.
    """
    years = np.asarray(years)
    coords: dict[Hashable, xr.Variable] = {}
    variables: dict[Hashable, xr.Variable] = {}
    for name, da in arrays.items():
        var, own = da.variable, da.coords.variables
        if cv.YEAR in da.dims and not np.array_equal(own[cv.YEAR].values, years):
            # a run of the years (the accounted ones): NaN before and after, as in _reconciled
            y = own[cv.YEAR].values
            i0 = int(np.searchsorted(years, y[0])) if y.size else 0
            if var.dtype.kind != "f" or not np.array_equal(years[i0 : i0 + y.size], y):
                # (xarray's fill changes other dtypes; years not a run: xarray's reindex)
                return _parts(xr.Dataset(arrays).reindex({cv.YEAR: years}, copy=False))
            var = var.pad({cv.YEAR: (i0, years.size - i0 - y.size)}, constant_values=np.nan)
        for key, coord in own.items():
            if key == cv.YEAR:
                continue
            have = coords.setdefault(key, coord)
            if have is not coord and not (
                have.dims == coord.dims and np.array_equal(have.values, coord.values)
            ):
                return _parts(xr.Dataset(arrays).reindex({cv.YEAR: years}, copy=False))
        variables[name] = var
    year = next(
        (da.coords.variables[cv.YEAR] for da in arrays.values() if cv.YEAR in da.dims), None
    )
    coords[cv.YEAR] = xr.Variable(cv.YEAR, years, {} if year is None else year.attrs)
    return variables, coords


def _parts(ds: xr.Dataset) -> tuple[dict[Hashable, xr.Variable], dict[Hashable, xr.Variable]]:
    """A Dataset as its data Variables and its coordinates (``xr.Dataset(*parts)`` again)."""
    return (
        {name: ds.variables[name] for name in ds.data_vars},
        {name: ds.variables[name] for name in ds.coords},
    )


def _assign(
    variables: dict[Hashable, xr.Variable],
    coords: dict[Hashable, xr.Variable],
    new: Mapping[Hashable, xr.Variable | xr.DataArray],
) -> None:
    """``Dataset.assign(new)`` on a run's Variables and coordinates, in place: a replaced
    variable keeps its place, a DataArray's coordinates not yet in ``coords`` come along
    (those of the run's labels it shares are the run's own)."""
    for name, x in new.items():
        if isinstance(x, xr.DataArray):
            for key, coord in x.coords.variables.items():
                coords.setdefault(key, coord)
            x = x.variable
        variables[name] = x


def _labelled(
    name: Hashable, var: xr.Variable, coords: Mapping[Hashable, xr.Variable]
) -> xr.DataArray:
    """A run's Variable as the DataArray a Dataset of it and ``coords`` would give."""
    dims = set(var.dims)
    own = {key: c for key, c in coords.items() if set(c.dims) <= dims}
    return xr.DataArray(var, coords=own, name=name)


def accounted_years(inputs: xr.Dataset) -> tuple[int, int]:
    """First and last accounted year of a canonical input Dataset (attrs ``first_year``, ``last_year``)."""
    years = inputs[cv.YEAR].values
    first = int(inputs.attrs.get("first_year", years.min()))
    last = int(inputs.attrs.get("last_year", years.max()))
    return first, last


def plausibility_flag(
    sales: np.ndarray, in_use: np.ndarray, inputs: xr.Dataset, years: np.ndarray
) -> np.ndarray:
    """1 where the units sold into use per year or in use per person exceed their sourced bound.

    (SPEC §2.4: the implied units of the growth-rate products, checked for every product
    with a bound, in every year.) ``sales`` and ``in_use`` are the unit layer's
    (draw, product, year) arrays over ``years``, in the products' order of ``inputs``.

    0 where a bound exists and holds, NaN where the product has no bound
    (``plausibility.csv``) or the data set no population.
    """
    if "population" not in inputs:
        return np.full(sales.shape, np.nan)
    per_year, per_person = (
        inputs.variables[n].transpose(cv.PRODUCT).values
        if n in inputs
        else np.full(inputs[cv.PRODUCT].size, np.nan)
        for n in ("plausibility_units_per_year", "plausibility_units_per_person")
    )
    population = products.year_values(inputs["population"], years)
    return products.over_bounds(sales, in_use, population, per_year, per_person)


def history_start(inputs: xr.Dataset, scenario: Scenario) -> int:
    """First year of the use stage: the data set's ``history_first`` with ``history = "data"``,
    the first accounted year with ``history = "empty"`` (SPEC §2.2)."""
    first, _ = accounted_years(inputs)
    if scenario.run.history == "empty":
        return first
    return int(inputs.attrs.get("history_first_year", first))


def _unit_outputs(
    fleet: Mapping[str, np.ndarray],
    fitted: xr.DataArray | None,
    inputs: xr.Dataset,
    first: int,
    labelled: Callable[..., xr.DataArray],
) -> tuple[dict, xr.DataArray]:
    """The schema-2 variables of the unit layer from the first accounted year (SPEC §2.1, §6).

    ``fleet``: the unit layer's arrays (draw, product, year) over the run's years from
    ``first``, a draw axis of 1 where they have none; ``fitted``: ``ownership_fitted``
    (fleet-driven products), or None; ``labelled`` makes a (draw, product, year) array
    one of the run's. NaN for the end uses counted in t of the element (no unit
    layer); the ownership variables on each product's ``ownership_basis``: the
    accounted fleet to T, the forecast fleet after. Also returns the
    ``plausibility_flag`` of the units (:func:`plausibility_flag`).
    """
    on = products.unit_layer(inputs["count_unit"]).values[:, None]  # (product, 1)
    units, kept = {}, {}
    for name in UNIT_VARIABLES:
        if name not in fleet:
            continue
        x = fleet[name]
        if name != "nd_intensity":  # NaN for the end uses without a unit layer
            x = products.kept_units(x, on[:, 0], nan_as_zero=name == "unmet_fleet_decline")
        kept[name] = x
        units[name] = labelled(x, name=name, attrs=dict(cv.attrs(name)))
    units["intensity_calibration"] = inputs["intensity_calibration"]
    span = {cv.YEAR: slice(first, None)}
    statistic = (
        inputs["ownership_statistic"].sel(span)
        if "ownership_statistic" in inputs
        else xr.full_like(units["units_in_use"], np.nan)
    )
    units["ownership_fitted"] = (
        fitted if fitted is not None else xr.full_like(units["units_in_use"], np.nan)
    ).assign_attrs(cv.attrs("ownership_fitted"))
    units["ownership_statistic"] = statistic.assign_attrs(cv.attrs("ownership_statistic"))
    # the fleet per household or per person, N / H (SPEC §6): one division
    fleet_years = units["units_in_use"][cv.YEAR].values
    per = products.ownership_divisor(
        inputs["ownership_basis"].values if "ownership_basis" in inputs.coords else None,
        inputs[cv.PRODUCT].size,
        fleet_years,
        inputs["households"] if "households" in inputs else None,
        inputs["population"] if "population" in inputs else None,
    )
    name = "ownership_model"
    units[name] = labelled(kept["units_in_use"] / per, name=name, attrs=dict(cv.attrs(name)))
    flag = plausibility_flag(kept["units_sales"], kept["units_in_use"], inputs, fleet_years)
    name = "plausibility_flag"
    return units, labelled(flag, name=name, attrs=dict(cv.attrs(name)))


def model_years(inputs: xr.Dataset, scenario: Scenario) -> np.ndarray:
    """The years of the run: accounted years, plus the forecast years if the forecast is enabled."""
    first, last = accounted_years(inputs)
    end = last
    if scenario.forecast.enabled:
        end = scenario.forecast.last_year or int(inputs.attrs.get("forecast_last_year", last))
    return np.arange(first, end + 1)


def membership(inputs: xr.Dataset) -> xr.DataArray:
    """(product, intermediate) 1 where the end use is made from the intermediate, else 0."""
    made_from = product_intermediate(inputs)
    intermediates = inputs[cv.INTERMEDIATE]
    member = (made_from == intermediates).astype(float)
    unknown = sorted(set(made_from.values.tolist()) - set(intermediates.values.tolist()))
    if unknown:
        raise ValidationError(
            f"intermediate(s) {', '.join(map(str, unknown))} are not intermediates of the data set",
            file="products.csv",
            field="intermediate",
        )
    return member


def product_intermediate(inputs: xr.Dataset) -> xr.DataArray:
    """The intermediate each end use is made from (product) as a DataArray of strings."""
    for name in ("product_intermediate", "made_from", cv.INTERMEDIATE):
        if name in inputs.coords and inputs[name].dims == (cv.PRODUCT,):
            return inputs[name].reset_coords(drop=True) if name != cv.INTERMEDIATE else inputs[name]
    raise ValidationError("no intermediate per product", file="products.csv", field="intermediate")


def _finish(
    result: dict[Hashable, xr.Variable],
    coords: dict[Hashable, xr.Variable],
    inputs: xr.Dataset,
    scenario: Scenario,
    flow_form: str = "matrix",
    labels: bool = True,
) -> xr.Dataset | RunVariables:
    """Attach names, units, descriptions, product coordinates and provenance to a run's
    Variables and coordinates (without ``labels``: the variables with their units and
    descriptions only, no Dataset built)."""
    if flow_form == "matrix":  # the output contract's (origin, destination, year) matrices
        ds = xr.Dataset(result, coords=coords)
        last = accounted_years(inputs)[1]
        for matrix in ("flow", "flow_prior", "flow_sd"):
            if matrix in ds and flows.is_edges(ds[matrix]):
                off: float | xr.DataArray = 0.0
                if matrix == "flow_sd":  # not reconciled after the accounted years: NaN
                    off = xr.zeros_like(ds[cv.YEAR], dtype=float).where(ds[cv.YEAR] <= last)
                ds[matrix] = flows.to_matrix(ds[matrix], off)
        result, coords = _parts(ds.drop_vars(flows.EDGE, errors="ignore"))
    elif flow_form != "edges":
        raise ValueError(f"flow_form must be 'matrix' or 'edges', not {flow_form!r}")
    variables = {}
    for name, var in result.items():  # on the Variables: no DataArray built per variable
        if flows.is_edges(var):
            var = var.copy(deep=False)
            var.attrs = dict(cv.attrs(name))
        elif name in cv.VARIABLES:
            leading = [d for d in var.dims if d not in cv.VARIABLES[name].dims]
            var = var.transpose(*leading, *cv.VARIABLES[name].dims)
            var.attrs = dict(cv.attrs(name))
        variables[name] = var
    if not labels:
        return RunVariables(variables)
    ds = xr.Dataset(variables, coords=coords)  # one construction, no per-variable merge
    product_coords = {
        c: inputs[c]
        for c in PRODUCT_COORDS
        if c in inputs.coords and inputs[c].dims == (cv.PRODUCT,)
    }
    if scenario.forecast.enabled and "forecast_method" in product_coords:
        # the method each product is forecast by in this run (the scenario may override)
        methods = forecast.forecast_methods(inputs, scenario.forecast, file=scenario.file_name)
        product_coords["forecast_method"] = xr.DataArray(
            [methods[str(p)] for p in inputs[cv.PRODUCT].values],
            dims=cv.PRODUCT,
            coords={cv.PRODUCT: inputs[cv.PRODUCT].values},
        )
    ds = ds.assign_coords(product_coords)
    ds[cv.YEAR].attrs.update(long_name="year", units="yr")
    first, last = accounted_years(inputs)
    ds.attrs = {
        "title": f"ndsim results: {inputs.attrs.get('title', inputs.attrs.get('name', 'data set'))}",
        "scenario": scenario.name,
        "scenario_description": scenario.description,
        "scenario_file": scenario.path.name if scenario.path is not None else "",
        "scenario_sha256": scenario.sha256 or "",
        "dataset": str(inputs.attrs.get("name", "")),
        "region": str(inputs.attrs.get("region", "")),
        "element": str(inputs.attrs.get("element", "")),
        "dataset_sha256": str(inputs.attrs.get("sha256", inputs.attrs.get("dataset_sha256", ""))),
        "schema_version": cv.SCHEMA_VERSION,
        "lifetime_variant": scenario.run.lifetime_variant,
        "lifetime_timing": scenario.run.timing,
        "use_stage_history": scenario.run.history,
        "upstream": scenario.run.upstream,
        "mining_basis": str(inputs.attrs.get("mining_basis", "ore")),
        "history_first_year": history_start(inputs, scenario),
        "first_year": first,
        "last_accounted_year": last,
        "draws": int(ds.sizes.get(cv.DRAW, 0)),
    }
    for key in ("summary_years", "supply_years"):  # the data set's report years, where given
        if inputs.attrs.get(key):
            ds.attrs[key] = np.asarray(inputs.attrs[key], dtype=np.int64)
    return ds
