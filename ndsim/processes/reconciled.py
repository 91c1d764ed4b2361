"""Upstream reconciliation: mining, refining and fabrication by weighted least squares (SPEC §3).

With ``upstream = "reconciled"`` the flows of the four upstream processes are
not worked out top-down alone: where measurements over-determine them (an
unregistered-mining prior, an intermediate production statistic), they are
reconciled under the balances of the chain, as STAN does (Cencic & Rechberger
2008). Per accounted year, in t Nd:

    mining          sum_s official_s + IM + I_conc - X_conc - C                = 0
    refining        y_ref C + I_prim + R - X_prim - X_unreg - sum_k P_k        = 0
    fabrication     y_fab,k P_k - O_k                                          = 0
                    O_k + I_int,k - X_int,k - M_k                              = 0

official output (by ore source) and unregistered mining IM on the concentrate
basis; C concentrate to refining; P_k primary input and O_k output of
fabrication of intermediate k; R recycled Nd and M_k manufacturing input, both
held fixed (they come from the final-product layer, SPEC §2). Measured: the
official output, the trade of every level, unregistered exports, IM where a
prior exists, O_k where a production statistic exists; unknown: C, P_k, O_k
without a statistic, IM without a prior.

Yields are fixed within a draw but differ between draws, so the coefficients
of the balances would differ per draw. Expressed in concentrate equivalents
(a flow divided by the yields between it and the concentrate: 1 at the
concentrate, y_ref at the primary level, y_ref y_fab,k at intermediate k),
every coefficient is ±1 and the structure is the same in every draw. The
objective sum ((x - x̃) / σ)² does not change when a flow and its σ are divided
by the same factor, so reconciling in equivalents and converting back is the
exact solution of the physical problem, with one factorisation for all draws.

Which flows are measured may differ by year (a statistic exists in some years);
years are grouped by that pattern and each group is solved at once over its
years and draws (:func:`ndsim.reconcile.reconcile`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ndsim.reconcile import _contract, reconcile

__all__ = [
    "Chain",
    "Reconciled",
    "reconcile_chain",
    "reconcile_upstream_values",
    "MEASURED",
    "UNKNOWN",
]

#: flows (name before ":") whose Nd is counted at the concentrate and at the primary level
_CONCENTRATE_LEVEL = frozenset(
    {"official", "unregistered", "imports_concentrate", "exports_concentrate",
     "concentrate_to_refining"}
)  # fmt: skip
_PRIMARY_LEVEL = frozenset(
    {"imports_primary", "exports_primary", "exports_unregistered", "recycled",
     "primary_to_fabrication"}
)  # fmt: skip
#: roles of a flow in a year
MEASURED, UNKNOWN, FIXED = 1, 0, 2


@dataclass(frozen=True)
class Chain:
    """The flows of the upstream chain, their level and the balance matrix.

    Flows are named ``official:<source>``, ``unregistered``, ``imports_concentrate``,
    ``exports_concentrate``, ``concentrate_to_refining``, ``imports_primary``,
    ``exports_primary``, ``exports_unregistered``, ``primary_to_fabrication:<k>``,
    ``intermediate_production:<k>``, ``imports_intermediate:<k>``,
    ``exports_intermediate:<k>``; the fixed terms ``recycled`` and
    ``manufacturing_input:<k>``.
    """

    sources: tuple[str, ...]
    intermediates: tuple[str, ...]

    @property
    def flows(self) -> tuple[str, ...]:
        s = tuple(f"official:{x}" for x in self.sources)
        k = self.intermediates
        return (
            s
            + ("unregistered", "imports_concentrate", "exports_concentrate")
            + ("concentrate_to_refining", "imports_primary", "exports_primary")
            + ("exports_unregistered",)
            + tuple(f"primary_to_fabrication:{x}" for x in k)
            + tuple(f"intermediate_production:{x}" for x in k)
            + tuple(f"imports_intermediate:{x}" for x in k)
            + tuple(f"exports_intermediate:{x}" for x in k)
        )

    @property
    def fixed_terms(self) -> tuple[str, ...]:
        return ("recycled",) + tuple(f"manufacturing_input:{x}" for x in self.intermediates)

    @property
    def balances(self) -> tuple[str, ...]:
        k = self.intermediates
        return (
            ("mining", "refining")
            + tuple(f"fabrication_yield:{x}" for x in k)
            + tuple(f"fabrication:{x}" for x in k)
        )

    def level(self, name: str) -> str:
        """``concentrate``, ``primary`` or ``intermediate:<k>``: where the flow's Nd is."""
        base, _, k = name.partition(":")
        if base in _CONCENTRATE_LEVEL:
            return "concentrate"
        if base in _PRIMARY_LEVEL:
            return "primary"
        return f"intermediate:{k}"

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Balance coefficients in concentrate equivalents: (A over flows, A over fixed terms)."""
        flows, fixed, rows = self.flows, self.fixed_terms, self.balances
        a = np.zeros((len(rows), len(flows)))
        a_fixed = np.zeros((len(rows), len(fixed)))
        col = {n: j for j, n in enumerate(flows)}
        fcol = {n: j for j, n in enumerate(fixed)}
        r = {n: i for i, n in enumerate(rows)}
        for s in self.sources:
            a[r["mining"], col[f"official:{s}"]] = 1.0
        a[r["mining"], col["unregistered"]] = 1.0
        a[r["mining"], col["imports_concentrate"]] = 1.0
        a[r["mining"], col["exports_concentrate"]] = -1.0
        a[r["mining"], col["concentrate_to_refining"]] = -1.0
        a[r["refining"], col["concentrate_to_refining"]] = 1.0
        a[r["refining"], col["imports_primary"]] = 1.0
        a_fixed[r["refining"], fcol["recycled"]] = 1.0
        a[r["refining"], col["exports_primary"]] = -1.0
        a[r["refining"], col["exports_unregistered"]] = -1.0
        for k in self.intermediates:
            a[r["refining"], col[f"primary_to_fabrication:{k}"]] = -1.0
            a[r[f"fabrication_yield:{k}"], col[f"primary_to_fabrication:{k}"]] = 1.0
            a[r[f"fabrication_yield:{k}"], col[f"intermediate_production:{k}"]] = -1.0
            a[r[f"fabrication:{k}"], col[f"intermediate_production:{k}"]] = 1.0
            a[r[f"fabrication:{k}"], col[f"imports_intermediate:{k}"]] = 1.0
            a[r[f"fabrication:{k}"], col[f"exports_intermediate:{k}"]] = -1.0
            a_fixed[r[f"fabrication:{k}"], fcol[f"manufacturing_input:{k}"]] = -1.0
        return a, a_fixed


def _scale(chain: Chain, names: Sequence[str], y_ref: np.ndarray, y_fab: Mapping[str, np.ndarray]):
    """(..., Y, len(names)) factors: physical flow = equivalent x factor.

    ``y_ref`` and the ``y_fab`` are (..., Y) of one shape.
    """
    factor: dict[str, np.ndarray | float] = {"concentrate": 1.0, "primary": y_ref}
    out = np.empty(y_ref.shape + (len(names),))
    for i, n in enumerate(names):
        lev = chain.level(n)
        if lev not in factor:  # an intermediate's: once for its flows
            factor[lev] = y_ref * y_fab[lev.partition(":")[2]]
        out[..., i] = factor[lev]
    return out


def reconcile_chain(
    chain: Chain,
    value: Mapping[str, np.ndarray],
    sd: Mapping[str, np.ndarray],
    fixed: Mapping[str, np.ndarray],
    y_ref: np.ndarray,
    y_fab: Mapping[str, np.ndarray],
    combinations: Mapping[str, Mapping[str, np.ndarray | float]] | None = None,
) -> dict[str, np.ndarray]:
    """Reconcile the upstream chain of every year and draw (arrays (..., year)).

    Parameters
    ----------
    chain : Chain
    value : mapping
        Measured flows by name (see :class:`Chain`), each (..., Y) [t yr-1]; NaN in
        a year where the flow is not measured (it is then unknown). A name
        missing from the mapping is unknown in every year.
    sd : mapping
        Their standard deviations, same shapes [t yr-1]; a measured flow with σ = 0
        in every draw of a year is held fixed that year.
    fixed : mapping
        ``recycled`` and ``manufacturing_input:<k>`` (..., Y) [t yr-1].
    y_ref, y_fab : numpy.ndarray, mapping
        Refining yield (..., Y) and fabrication yields by intermediate (..., Y) [1].
    combinations : mapping, optional
        Named linear combinations {name: {flow: weight}} of the physical flows whose
        posterior sd is wanted; weights are scalars or (..., Y) arrays.

    Returns
    -------
    dict
        ``flow`` (..., Y, F) reconciled physical flows in the order of
        ``chain.flows``, ``sd`` their posterior sd, ``prior`` the measured values
        (NaN for unknowns), ``adjustment`` (x̂ - x̃) / σ (NaN where not measured),
        ``role`` (Y, F) (1 measured, 0 unknown, 2 fixed), ``chi2`` (..., Y),
        ``dof`` (Y,), and ``sd_<name>`` (..., Y) per combination.

    Raises
    ------
    ndsim.reconcile.UnobservableError
        A flow that neither a measurement nor the balances determine.
    """
    flows = chain.flows
    nf = len(flows)
    y_ref = np.asarray(y_ref, dtype=float)
    fixed_arrays = [np.asarray(fixed[n], dtype=float) for n in chain.fixed_terms]
    shape = np.broadcast_shapes(
        *{
            y_ref.shape,
            *(np.shape(v) for v in value.values()),
            *(np.shape(v) for v in sd.values()),
            *(np.shape(v) for v in fixed_arrays),
            *(np.shape(v) for v in y_fab.values()),
        }
    )  # (each distinct shape once)
    batch, n_year = shape[:-1], shape[-1]
    x = np.full(shape + (nf,), np.nan)
    s = np.full(shape + (nf,), np.nan)
    for j, n in enumerate(flows):
        if n in value:
            x[..., j] = value[n]
            s[..., j] = sd[n]
    y_fab = {
        k: np.broadcast_to(np.asarray(y_fab[k], dtype=float), shape) for k in chain.intermediates
    }
    y_ref_b = np.broadcast_to(y_ref, shape)
    scale = _scale(chain, flows, y_ref_b, y_fab)
    scale_fixed = _scale(chain, chain.fixed_terms, y_ref_b, y_fab)
    xe, se = x / scale, s / scale
    fixed_e = np.stack([np.broadcast_to(f, shape) for f in fixed_arrays], axis=-1) / scale_fixed
    a, a_fixed = chain.matrix()

    # role of each flow in each year, the same in every draw
    axes = tuple(range(len(batch)))
    finite = np.isfinite(xe)
    has = finite.all(axis=axes) if axes else finite
    if axes and (finite.any(axis=axes) & ~has).any():
        raise ValueError("a flow is measured in some draws of a year and not in others")
    positive = (se > 0).all(axis=axes) if axes else se > 0
    role = np.where(has, np.where(positive, MEASURED, FIXED), UNKNOWN)  # (Y, F)

    flow_e = np.where(role == UNKNOWN, np.nan, xe)
    sd_e = np.zeros(shape + (nf,))
    adjustment = np.full(shape + (nf,), np.nan)
    chi2 = np.zeros(shape)
    dof = np.zeros(n_year, dtype=int)
    combos = dict(combinations or {})
    sd_combo = {name: np.zeros(shape) for name in combos}
    # the weights in equivalents (w x scale) of every year at once: (flow, (..., Y)) per term
    column = {n: j for j, n in enumerate(flows)}
    weighted = [
        [(column[n], w * scale[..., column[n]]) for n, w in weights.items()]
        for weights in combos.values()
    ]
    # the distinct rows of role in sorted order (np.unique's over axis 0)
    rows = [tuple(r) for r in role.tolist()]
    for key in sorted(set(rows)):
        pattern = np.array(key)
        years = np.flatnonzero([r == key for r in rows])
        meas, unk, fix = (np.flatnonzero(pattern == r) for r in (MEASURED, UNKNOWN, FIXED))
        at: slice | np.ndarray = years
        if years[-1] - years[0] + 1 == years.size:  # a run of years: a slice, fewer copies
            at = slice(years[0], years[-1] + 1)
        rows_at = at if isinstance(at, slice) else years[:, None]  # (with j: np.ix_'s)
        idx, idx_u, idx_f = ((..., rows_at, j) for j in (meas, unk, fix))
        known = _contract(fixed_e[..., at, :], a_fixed.T)
        if fix.size:
            known = known + _contract(xe[idx_f], a[:, fix].T)
        g = None
        if combos:  # sparse rows over (measured, unknown) columns, weights per draw and year
            order = {int(j): col for col, j in enumerate(np.concatenate([meas, unk]))}
            g = [  # (a fixed flow, not in order, has no variance)
                [(order[j], w_e[..., at]) for j, w_e in terms if j in order] for terms in weighted
            ]
        out = reconcile(
            a[:, meas],
            a[:, unk],
            xe[idx],
            se[idx],
            known,
            names_unknown=[flows[j] for j in unk],
            combinations=g,
        )
        flow_e[idx] = out["x"]
        sd_e[idx] = out["sd_x"]
        adjustment[idx] = out["adjustment"]
        flow_e[idx_u] = out["u"]
        sd_e[idx_u] = out["sd_u"]
        chi2[..., at] = out["chi2"]
        dof[at] = out["dof"]
        for e, name in enumerate(combos):
            sd_combo[name][..., at] = out["sd_combinations"][..., e]
    result = {
        "flow": flow_e * scale,
        "sd": sd_e * scale,
        "prior": np.where(role == UNKNOWN, np.nan, x),
        "adjustment": adjustment,
        "role": role,
        "chi2": chi2,
        "dof": dof,
    }
    result.update({f"sd_{name}": v for name, v in sd_combo.items()})
    return result


# --- the run's inputs and outputs (labels at the edge) ------------------------------------


def _common_layout(arrays: Mapping, year: str, items: Sequence[str] = ()):
    """Arrays (..., year) broadcast to one layout (lead dims..., year), as plain numpy.

    ``arrays`` holds DataArrays over the same years with at most the same leading
    dimensions (and scalars). An array may also carry one of the ``items``
    dimensions (e.g. source), kept as its axis before the year. Returns the leading
    dims, the year coordinate, the leading coordinates and the arrays.
    """
    import xarray as xr

    def lead_of(a):
        return [d for d in a.dims if d != year and d not in items]

    labelled = [a for a in arrays.values() if isinstance(a, xr.DataArray)]
    ref = max(labelled, key=lambda a: len(lead_of(a)))
    lead = lead_of(ref)
    years = ref[year]
    same_layout = all(
        set(a.dims) - set(items) <= set(ref.dims)
        and (year not in a.dims or np.array_equal(a.get_index(year).values, years.values))
        for a in labelled
    )
    if not same_layout:  # the general case: xarray's broadcast and alignment
        parts = xr.broadcast(
            *[a if isinstance(a, xr.DataArray) else xr.DataArray(a) for a in arrays.values()],
            exclude=items,
        )
        ref = parts[0]
        lead = lead_of(ref)
        years = ref[year]
        arrays = dict(zip(arrays, parts, strict=True))
    lead_shape = tuple(ref.sizes[d] for d in lead)
    out = _in_layout(arrays, lead, lead_shape, year, years.size, items)
    coords = {d: ref[d] for d in lead if d in ref.coords}
    return lead, years, coords, out


def _in_layout(
    arrays: Mapping, lead, lead_shape: tuple, year: str, n_year: int, items: Sequence[str]
):
    """:func:`_common_layout`'s arrays, labelled (DataArrays or Variables) or scalars, on its
    layout (lead..., [item,] year), given the leading dims and their shape."""
    out = {}
    for name, a in arrays.items():
        if not hasattr(a, "dims"):  # a scalar
            out[name] = np.broadcast_to(np.asarray(a, dtype=float), lead_shape + (n_year,))
            continue
        item = [d for d in a.dims if d in items]
        dims = (*lead, *item, year)
        values = np.transpose(a.values, [a.dims.index(d) for d in dims if d in a.dims])
        expand = tuple(slice(None) if d in a.dims else None for d in dims)
        shape = lead_shape + tuple(a.sizes[d] for d in item) + (n_year,)
        out[name] = np.broadcast_to(values[expand], shape)
    return out


def _sd_source_values(inputs, name: str, cv_overrides: Mapping[str, float] | None):
    """What the σ of a measured input is made of (the rule of :func:`measurement_sd`).

    ``("cv", c)`` for σ = c |x|, c the scenario's CV (a float) or the quality flags'
    (a Variable over the flags' dims, the same in every draw: :func:`ndsim.sampling.flag_cv`);
    ``("sd", s)`` for the stated sd s, a Variable over its own dims (NaN is 0).
    """
    from ndsim.sampling import cv_override, flag_cv

    override = cv_override(name, cv_overrides or {})
    if override is not None:
        return "cv", override
    sd_name = f"sd_{name}"
    if sd_name in inputs:
        return "sd", inputs.variables[sd_name]
    return "cv", flag_cv(inputs, name)


def _sigma(kind: str, c, x):
    """σ from what :func:`_sd_source_values` returns: c |x|, or the stated sd c (NaN: 0, held
    fixed).

    On DataArrays (:func:`measurement_sd`) or on the plain arrays of the reconciliation.
    """
    if kind == "cv":
        return c * abs(x)
    return c.fillna(0.0) if hasattr(c, "fillna") else np.where(np.isnan(c), 0.0, c)


def measurement_sd(inputs, acc, name: str, cv_overrides: Mapping[str, float] | None = None):
    """σ of a measured input in the accounted years.

    The scenario's CV for the input or its group (``uncertainty.cv``, the one
    the ensemble samples it with: :func:`ndsim.sampling.cv_override`) x |x|
    where it gives one; else the input's stated sd; else its quality flag's
    CV x |x| (SPEC §3, §5).
    """
    import xarray as xr

    from ndsim import conventions as cv

    x = acc[name]
    kind, source = _sd_source_values(inputs, name, cv_overrides)
    if isinstance(source, xr.Variable):  # labelled; over the inputs' years: the accounted ones
        coords = {d: inputs[d] for d in source.dims if d in inputs.coords}
        source = xr.DataArray(source, coords=coords)
        if cv.YEAR in source.dims:
            source = source.sel({cv.YEAR: x[cv.YEAR]})
    sigma = _sigma(kind, source, x)
    return sigma.transpose(*[d for d in x.dims if d in sigma.dims], ...)


#: measured flows of the chain (the name before ":") and the inputs that measure them
_MEASURED_INPUTS = {
    "official": "mining",
    "unregistered": "unregistered_mining_prior",
    "imports_concentrate": "imports_concentrate",
    "exports_concentrate": "exports_concentrate",
    "imports_primary": "imports_primary",
    "exports_primary": "exports_primary",
    "exports_unregistered": "exports_primary_unregistered",
    "imports_intermediate": "imports_intermediate",
    "exports_intermediate": "exports_intermediate",
    "intermediate_production": "intermediate_production_statistic",
}


@dataclass(frozen=True)
class Reconciled:
    """The reconciliation of the accounted upstream on plain arrays (:func:`reconcile_upstream_values`).

    Attributes
    ----------
    flows : tuple of str
        The flows of :class:`Chain`, in the order of the arrays' last axis.
    lead : tuple of str
        The names of the arrays' leading dimensions (``("draw",)`` or none).
    lead_coords : dict
        Their coordinates.
    years : numpy.ndarray
        The accounted years.
    values : dict of str to numpy.ndarray
        What :func:`reconcile_chain` returns: ``flow``, ``sd``, ``prior`` and
        ``adjustment`` (*lead, year, flow), ``chi2`` and ``sd_<combination>``
        (*lead, year), ``dof`` (year), ``role`` (year, flow).
    """

    flows: tuple[str, ...]
    lead: tuple[str, ...]
    lead_coords: dict
    years: np.ndarray
    values: dict


def reconcile_upstream_values(
    inputs,
    acc,
    manufacturing_input,
    recycled,
    basis: str,
    cv_overrides: Mapping[str, float] | None = None,
) -> Reconciled:
    """Reconcile the accounted upstream (SPEC §3) on plain arrays.

    Parameters
    ----------
    inputs : xarray.Dataset
        The canonical inputs (for the stated sd and the quality flags).
    acc : xarray.Dataset
        The inputs of the accounted years, as the run uses them (sampled in a draw).
    manufacturing_input : xarray.DataArray or xarray.Variable
        M_k (..., intermediate, year) [t yr-1], held fixed; a Variable lies over the
        years and intermediates of ``acc``, in their order.
    recycled : xarray.DataArray or xarray.Variable
        R (..., year) [t yr-1], held fixed; a Variable lies over the years of ``acc``.
    basis : str
        ``concentrate`` or ``ore``: the basis of official output and of the prior.
    cv_overrides : mapping of str to float, optional
        The scenario's ``uncertainty.cv`` (:func:`measurement_sd`).

    Returns
    -------
    Reconciled
        The reconciled physical flows of :class:`Chain` (official output and IM on
        the concentrate basis), their posterior sd, the measured values, the
        adjustments, χ² and its dof, each flow's role in each year and the
        posterior sd of the sums of several flows the flow edges need
        (:func:`reconcile_chain`).
    """
    import xarray as xr

    from ndsim import conventions as cv

    Y, S, K = cv.YEAR, cv.SOURCE, cv.INTERMEDIATE
    sources = tuple(str(s) for s in acc.get_index(S))
    inters = tuple(str(k) for k in acc.get_index(K))
    chain = Chain(sources, inters)
    optional = ("unregistered_mining_prior", "intermediate_production_statistic")
    measured = {n: v for n, v in _MEASURED_INPUTS.items() if v in acc or v not in optional}
    years = acc.get_index(Y)
    if isinstance(manufacturing_input, xr.DataArray):
        if not manufacturing_input.get_index(K).equals(acc.get_index(K)):  # in acc's order
            manufacturing_input = xr.concat([manufacturing_input.sel({K: k}) for k in inters], K)
    position = inputs.get_index(Y).get_indexer(years)  # of the accounted years in the inputs'
    if (position < 0).any():
        raise KeyError(f"the accounted years {years[position < 0].tolist()} are not the inputs'")

    def accounted(v):  # a Variable over the inputs' years -> over the accounted years
        return xr.Variable(v.dims, np.take(v.values, position, axis=v.dims.index(Y)))

    # every input once, on plain arrays of one layout (lead..., [source or intermediate,] year);
    # the first with the most leading dims gives their order (Variables over acc's years:
    # no DataArray built per input)
    variables, sd_sources = {}, {}
    for var in measured.values():
        variables[var] = acc.variables[var]
        sd_sources[var] = _sd_source_values(inputs, var, cv_overrides)
    if basis == "ore":  # official and prior on the concentrate basis
        y_min = acc.variables["yield_mining"]
        variables = {"mining": variables.pop("mining"), "yield_mining": y_min} | variables
    variables |= {
        f"sd:{var}": accounted(source)
        for var, (_, source) in sd_sources.items()
        if isinstance(source, xr.Variable)
    }
    variables |= {"recycled": recycled, "manufacturing_input": manufacturing_input} | {
        name: acc.variables[name]
        for name in ("yield_refining", "yield_fabrication", "yield_mining")
    }

    def lead_of(v):
        return [d for d in v.dims if d not in (Y, S, K)]

    ref = max(variables.values(), key=lambda v: len(lead_of(v)))
    lead = lead_of(ref)
    same_layout = all(
        set(v.dims) - {S, K} <= set(ref.dims)
        and (isinstance(v, xr.Variable) or Y not in v.dims or v.get_index(Y).equals(years))
        for v in variables.values()
    )
    if same_layout:
        lead_shape = tuple(ref.sizes[d] for d in lead)
        a = _in_layout(variables, lead, lead_shape, Y, years.size, (S, K))
        labels = ref if isinstance(ref, xr.DataArray) else acc
        lead_coords = {d: labels[d] for d in lead if d in labels.coords}
    else:  # the general case (:func:`_common_layout`'s)
        labelled = {
            n: v
            if isinstance(v, xr.DataArray)
            else xr.DataArray(v, coords={d: acc.variables[d] for d in v.dims if d in acc.coords})
            for n, v in variables.items()
        }
        lead, years, lead_coords, a = _common_layout(labelled, Y, items=(S, K))

    value: dict[str, np.ndarray] = {}
    sd: dict[str, np.ndarray] = {}
    for name, var in measured.items():
        x, (kind, source) = a[var], sd_sources[var]
        c = a[f"sd:{var}"] if isinstance(source, xr.Variable) else source
        s = _sigma(kind, c, x)
        dims = variables[var].dims
        if S not in dims and K not in dims:
            value[name], sd[name] = x, s
            continue
        for i, label in enumerate(sources if S in dims else inters):
            value[f"{name}:{label}"], sd[f"{name}:{label}"] = x[..., i, :], s[..., i, :]
    to_conc = a["yield_mining"] if basis == "ore" else 1.0
    for n in value:  # official output and the prior on the concentrate basis
        if n.partition(":")[0] in ("official", "unregistered"):
            value[n], sd[n] = value[n] * to_conc, sd[n] * to_conc
    fixed = {"recycled": a["recycled"]} | {
        f"manufacturing_input:{k}": a["manufacturing_input"][..., i, :]
        for i, k in enumerate(inters)
    }
    yf = {k: a["yield_fabrication"][..., i, :] for i, k in enumerate(inters)}
    inv = 1.0 / a["yield_mining"]
    combos = {
        "official_total": {f"official:{s}": 1.0 for s in sources},
        "mining_total": {f"official:{s}": 1.0 for s in sources} | {"unregistered": 1.0},
        "ore_official": {f"official:{s}": inv for s in sources},
        "ore_unregistered": {"unregistered": inv},
        "mining_loss": {f"official:{s}": inv - 1.0 for s in sources} | {"unregistered": inv - 1.0},
        "refining_loss": {"concentrate_to_refining": 1.0 - a["yield_refining"]},
        "to_fabrication": {f"primary_to_fabrication:{k}": 1.0 for k in inters},
        "fabrication_imports": {f"imports_intermediate:{k}": 1.0 for k in inters},
        "fabrication_exports": {f"exports_intermediate:{k}": 1.0 for k in inters},
        "fabrication_loss": {f"primary_to_fabrication:{k}": 1.0 - yf[k] for k in inters},
    }
    out = reconcile_chain(chain, value, sd, fixed, a["yield_refining"], yf, combinations=combos)
    return Reconciled(tuple(chain.flows), tuple(lead), dict(lead_coords), np.asarray(years), out)
