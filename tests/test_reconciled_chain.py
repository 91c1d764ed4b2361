"""The upstream chain reconciled (SPEC §3): against scipy on the physical problem, properties.

The chain is solved in concentrate equivalents (every coefficient ±1); the
oracle solves the physical problem, with the yields of each draw in its
balance coefficients, by scipy's general-purpose constrained optimiser.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import LinearConstraint, minimize

from ndsim.processes.reconciled import MEASURED, UNKNOWN, Chain, reconcile_chain
from ndsim.reconcile import UnobservableError

CHAIN = Chain(sources=("MON", "IAC"), intermediates=("NdFeB", "NiMH"))


def consistent(rng, n_draw, n_year):
    """Flows that satisfy every physical balance, built top-down, and the fixed terms."""
    sh = (n_draw, n_year)
    y_ref = rng.uniform(0.85, 0.97, sh)
    y_fab = {"NdFeB": rng.uniform(0.6, 0.8, sh), "NiMH": rng.uniform(0.8, 0.95, sh)}
    m = {"NdFeB": rng.uniform(4000, 6000, sh), "NiMH": rng.uniform(200, 400, sh)}
    ii = {"NdFeB": rng.uniform(50, 100, sh), "NiMH": rng.uniform(5, 20, sh)}
    xi = {"NdFeB": rng.uniform(800, 1500, sh), "NiMH": rng.uniform(10, 30, sh)}
    o = {k: m[k] + xi[k] - ii[k] for k in m}
    p = {k: o[k] / y_fab[k] for k in m}
    r = rng.uniform(100, 300, sh)
    ip, xp, xu = rng.uniform(50, 80, sh), rng.uniform(1000, 2000, sh), rng.uniform(200, 500, sh)
    c = (p["NdFeB"] + p["NiMH"] + xp + xu - ip - r) / y_ref
    ic, xc = rng.uniform(500, 900, sh), rng.uniform(10, 40, sh)
    dom = c - ic + xc
    off = {"MON": 0.5 * dom, "IAC": 0.2 * dom}
    im = dom - off["MON"] - off["IAC"]
    flows = {
        "official:MON": off["MON"],
        "official:IAC": off["IAC"],
        "unregistered": im,
        "imports_concentrate": ic,
        "exports_concentrate": xc,
        "concentrate_to_refining": c,
        "imports_primary": ip,
        "exports_primary": xp,
        "exports_unregistered": xu,
    }
    for k in m:
        flows[f"primary_to_fabrication:{k}"] = p[k]
        flows[f"intermediate_production:{k}"] = o[k]
        flows[f"imports_intermediate:{k}"] = ii[k]
        flows[f"exports_intermediate:{k}"] = xi[k]
    fixed = {"recycled": r} | {f"manufacturing_input:{k}": m[k] for k in m}
    return flows, fixed, y_ref, y_fab


MEASURED_NAMES = (
    "official:MON",
    "official:IAC",
    "unregistered",
    "imports_concentrate",
    "exports_concentrate",
    "imports_primary",
    "exports_primary",
    "exports_unregistered",
    "intermediate_production:NdFeB",
    "imports_intermediate:NdFeB",
    "exports_intermediate:NdFeB",
    "imports_intermediate:NiMH",
    "exports_intermediate:NiMH",
)


def physical_balances(z, fixed, y_ref, y_fab):
    """The four kinds of balance in physical units (SPEC §3), each should be 0."""
    ks = CHAIN.intermediates
    out = [
        z["official:MON"] + z["official:IAC"] + z["unregistered"] + z["imports_concentrate"]
        - z["exports_concentrate"] - z["concentrate_to_refining"],
        y_ref * z["concentrate_to_refining"] + z["imports_primary"] + fixed["recycled"]
        - z["exports_primary"] - z["exports_unregistered"]
        - sum(z[f"primary_to_fabrication:{k}"] for k in ks),
    ]  # fmt: skip
    for k in ks:
        out.append(y_fab[k] * z[f"primary_to_fabrication:{k}"] - z[f"intermediate_production:{k}"])
        out.append(
            z[f"intermediate_production:{k}"] + z[f"imports_intermediate:{k}"]
            - z[f"exports_intermediate:{k}"] - fixed[f"manufacturing_input:{k}"]
        )  # fmt: skip
    return np.array(out)


def oracle(x, sd, fixed, y_ref, y_fab, measured):
    """One draw-year by scipy: physical coefficients, unknowns free, WLS on the measured."""
    names = CHAIN.flows
    n = len(names)
    w = np.array([1 / sd[j] ** 2 if names[j] in measured else 0.0 for j in range(n)])
    x0 = np.array([x.get(nm, 0.0) for nm in names])
    ks = CHAIN.intermediates
    col = {nm: j for j, nm in enumerate(names)}
    rows, rhs = [], []

    def row(coef, b):
        r = np.zeros(n)
        for nm, v in coef.items():
            r[col[nm]] = v
        rows.append(r)
        rhs.append(b)

    row(
        {"official:MON": 1, "official:IAC": 1, "unregistered": 1, "imports_concentrate": 1,
         "exports_concentrate": -1, "concentrate_to_refining": -1},
        0.0,
    )  # fmt: skip
    coef = {"concentrate_to_refining": y_ref, "imports_primary": 1, "exports_primary": -1,
            "exports_unregistered": -1}  # fmt: skip
    coef |= {f"primary_to_fabrication:{k}": -1 for k in ks}
    row(coef, -fixed["recycled"])
    for k in ks:
        row({f"primary_to_fabrication:{k}": y_fab[k], f"intermediate_production:{k}": -1}, 0.0)
        row(
            {f"intermediate_production:{k}": 1, f"imports_intermediate:{k}": 1,
             f"exports_intermediate:{k}": -1},
            fixed[f"manufacturing_input:{k}"],
        )  # fmt: skip
    a, b = np.array(rows), np.array(rhs)
    scale = np.maximum(np.abs(x0), 1.0)

    def f(z):
        return np.sum(w * (z - x0) ** 2) / 1e3

    def g(z):
        return 2 * w * (z - x0) / 1e3

    z0 = x0.copy()
    res = minimize(
        lambda u: f(u * scale), z0 / scale, jac=lambda u: g(u * scale) * scale,
        hess=lambda u: np.diag(2 * w * scale**2 / 1e3),
        constraints=[LinearConstraint(a * scale, b, b)], method="trust-constr",
        options={"xtol": 1e-14, "gtol": 1e-12, "maxiter": 5000},
    )  # fmt: skip
    return dict(zip(names, res.x * scale, strict=True))


def noisy(rng, flows, names, cv=0.05):
    x = {n: flows[n] * (1 + cv * rng.standard_normal(flows[n].shape)) for n in names}
    sd = {n: cv * np.abs(flows[n]) for n in names}
    return x, sd


def test_chain_matches_a_general_solver_with_yields_per_draw():
    rng = np.random.default_rng(7)
    flows, fixed, y_ref, y_fab = consistent(rng, 3, 2)
    x, sd = noisy(rng, flows, MEASURED_NAMES)
    out = reconcile_chain(CHAIN, x, sd, fixed, y_ref, y_fab)
    assert (out["dof"] == 2).all()  # the IM prior and the NdFeB statistic
    for d in range(3):
        for t in range(2):
            ref = oracle(
                {n: x[n][d, t] for n in x},
                {CHAIN.flows.index(n): sd[n][d, t] for n in sd},
                {n: v[d, t] for n, v in fixed.items()},
                y_ref[d, t],
                {k: v[d, t] for k, v in y_fab.items()},
                set(MEASURED_NAMES),
            )
            got = out["flow"][d, t]
            want = np.array([ref[n] for n in CHAIN.flows])
            np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-4)


def test_balances_hold_in_physical_units():
    rng = np.random.default_rng(1)
    flows, fixed, y_ref, y_fab = consistent(rng, 4, 5)
    x, sd = noisy(rng, flows, MEASURED_NAMES)
    out = reconcile_chain(CHAIN, x, sd, fixed, y_ref, y_fab)
    z = {n: out["flow"][..., j] for j, n in enumerate(CHAIN.flows)}
    res = physical_balances(z, fixed, y_ref, y_fab)
    assert np.abs(res).max() < 1e-9 * max(np.abs(v).max() for v in z.values())
    # the data disagreed, so something moved and chi2 is positive
    assert (out["chi2"] > 0).all()


def test_consistent_data_are_left_unchanged():
    rng = np.random.default_rng(3)
    flows, fixed, y_ref, y_fab = consistent(rng, 2, 3)
    sd = {n: 0.05 * np.abs(flows[n]) for n in MEASURED_NAMES}
    out = reconcile_chain(CHAIN, {n: flows[n] for n in MEASURED_NAMES}, sd, fixed, y_ref, y_fab)
    want = np.stack([flows[n] for n in CHAIN.flows], axis=-1)
    np.testing.assert_allclose(out["flow"], want, rtol=1e-10)
    np.testing.assert_allclose(out["chi2"], 0.0, atol=1e-12)


def test_scaling_every_sd_leaves_the_estimate_unchanged():
    rng = np.random.default_rng(5)
    flows, fixed, y_ref, y_fab = consistent(rng, 2, 2)
    x, sd = noisy(rng, flows, MEASURED_NAMES)
    a = reconcile_chain(CHAIN, x, sd, fixed, y_ref, y_fab)
    b = reconcile_chain(CHAIN, x, {n: 7.5 * v for n, v in sd.items()}, fixed, y_ref, y_fab)
    np.testing.assert_allclose(a["flow"], b["flow"], rtol=1e-11)
    np.testing.assert_allclose(b["chi2"], a["chi2"] / 7.5**2, rtol=1e-10)


def test_without_redundancy_the_top_down_residual_is_returned():
    """No IM prior, no NdFeB statistic in year 1: dof 0 and IM is the residual of SPEC §3."""
    rng = np.random.default_rng(11)
    flows, fixed, y_ref, y_fab = consistent(rng, 2, 2)
    x, sd = noisy(rng, flows, MEASURED_NAMES)
    for n in ("unregistered", "intermediate_production:NdFeB"):
        x[n] = x[n].copy()
        x[n][:, 1] = np.nan
    out = reconcile_chain(CHAIN, x, sd, fixed, y_ref, y_fab)
    assert out["dof"].tolist() == [2, 0]
    j = CHAIN.flows.index
    assert out["role"][1, j("unregistered")] == UNKNOWN
    assert out["role"][0, j("unregistered")] == MEASURED
    # the top-down chain by hand, year 1
    t = 1
    p = {
        k: (fixed[f"manufacturing_input:{k}"][:, t] + x[f"exports_intermediate:{k}"][:, t]
            - x[f"imports_intermediate:{k}"][:, t]) / y_fab[k][:, t]
        for k in CHAIN.intermediates
    }  # fmt: skip
    c = (
        sum(p.values()) + x["exports_primary"][:, t] + x["exports_unregistered"][:, t]
        - x["imports_primary"][:, t] - fixed["recycled"][:, t]
    ) / y_ref[:, t]  # fmt: skip
    im = c - x["imports_concentrate"][:, t] + x["exports_concentrate"][:, t]
    im = im - x["official:MON"][:, t] - x["official:IAC"][:, t]
    np.testing.assert_allclose(out["flow"][:, t, j("unregistered")], im, rtol=1e-10)
    np.testing.assert_allclose(out["chi2"][:, t], 0.0, atol=1e-12)
    np.testing.assert_allclose(out["adjustment"][:, t, j("official:MON")], 0.0, atol=1e-10)


def test_posterior_sd_of_a_combination_by_linear_propagation():
    """The estimator is linear in the measurements: finite differences give its gain exactly."""
    rng = np.random.default_rng(2)
    flows, fixed, y_ref, y_fab = consistent(rng, 1, 1)
    x, sd = noisy(rng, flows, MEASURED_NAMES)
    combo = {
        "loss_fab": {
            f"primary_to_fabrication:{k}": 1.0 - y_fab[k] for k in CHAIN.intermediates
        },  # P_k (1 - y_fab,k)
        "mining_total": {"official:MON": 1.0, "official:IAC": 1.0, "unregistered": 1.0},
    }
    out = reconcile_chain(CHAIN, x, sd, fixed, y_ref, y_fab, combinations=combo)

    def value(xx):
        o = reconcile_chain(CHAIN, xx, sd, fixed, y_ref, y_fab)["flow"][0, 0]
        z = dict(zip(CHAIN.flows, o, strict=True))
        return np.array(
            [sum(float(np.ravel(w)[0]) * z[n] for n, w in c.items()) for c in combo.values()]
        )

    base = value(x)
    var = np.zeros(len(combo))
    for n in MEASURED_NAMES:
        h = 1e-3 * abs(float(x[n][0, 0]))
        xp = dict(x)
        xp[n] = x[n] + h
        gain = (value(xp) - base) / h
        var += (gain * sd[n][0, 0]) ** 2
    got = np.array([out["sd_loss_fab"][0, 0], out["sd_mining_total"][0, 0]])
    np.testing.assert_allclose(got, np.sqrt(var), rtol=1e-5)
    # and a single flow's sd agrees with the diagonal that reconcile reports
    one = reconcile_chain(
        CHAIN, x, sd, fixed, y_ref, y_fab, combinations={"c": {"concentrate_to_refining": 1.0}}
    )
    j = CHAIN.flows.index("concentrate_to_refining")
    np.testing.assert_allclose(one["sd_c"][0, 0], one["sd"][0, 0, j], rtol=1e-10)


def test_an_unmeasured_pair_is_refused_before_solving():
    rng = np.random.default_rng(4)
    flows, fixed, y_ref, y_fab = consistent(rng, 1, 1)
    names = [n for n in MEASURED_NAMES if n != "imports_intermediate:NiMH"]
    x, sd = noisy(rng, flows, names)
    # with the IM prior, the balances still determine the NiMH imports ...
    out = reconcile_chain(CHAIN, x, sd, fixed, y_ref, y_fab)
    assert out["dof"].tolist() == [1]
    # ... without it, neither they nor unregistered mining are determined
    del x["unregistered"]
    with pytest.raises(UnobservableError, match="unregistered.*imports_intermediate:NiMH"):
        reconcile_chain(CHAIN, x, sd, fixed, y_ref, y_fab)


def test_a_zero_sd_flow_is_held_fixed():
    rng = np.random.default_rng(9)
    flows, fixed, y_ref, y_fab = consistent(rng, 2, 1)
    x, sd = noisy(rng, flows, MEASURED_NAMES)
    sd["imports_primary"] = np.zeros_like(sd["imports_primary"])
    out = reconcile_chain(CHAIN, x, sd, fixed, y_ref, y_fab)
    j = CHAIN.flows.index("imports_primary")
    np.testing.assert_array_equal(out["flow"][..., j], x["imports_primary"])
    assert (out["sd"][..., j] == 0).all()


def test_a_draw_gives_the_same_bits_alone_or_with_others():
    """Chunk invariance (SPEC §5): draws solved one by one equal the batch, bit for bit,
    with a year group of a single year (no NdFeB statistic in year 0)."""
    rng = np.random.default_rng(12)
    flows, fixed, y_ref, y_fab = consistent(rng, 5, 4)
    x, sd = noisy(rng, flows, MEASURED_NAMES)
    x["intermediate_production:NdFeB"][:, 0] = np.nan
    combo = {"loss": {f"primary_to_fabrication:{k}": 1.0 - y_fab[k] for k in CHAIN.intermediates}}
    batch = reconcile_chain(CHAIN, x, sd, fixed, y_ref, y_fab, combinations=combo)
    for d in range(5):

        def one(m, d=d):
            return {n: v[d : d + 1] for n, v in m.items()}

        c1 = {"loss": {n: w[d : d + 1] for n, w in combo["loss"].items()}}
        alone = reconcile_chain(
            CHAIN, one(x), one(sd), one(fixed), y_ref[d : d + 1], one(y_fab), combinations=c1
        )
        for key in ("flow", "sd", "chi2", "adjustment", "sd_loss"):
            assert np.array_equal(batch[key][d : d + 1], alone[key], equal_nan=True), key


def test_common_layout_equals_xarray_broadcast():
    """The plain-array layout of the reconciliation's inputs is xarray's broadcast, in the
    same (draw, year) order, whether the arrays share their layout or not."""
    import xarray as xr

    from ndsim.processes.reconciled import _common_layout

    rng = np.random.default_rng(3)
    years = [2000, 2001, 2002]
    a = xr.DataArray(rng.normal(size=(4, 3)), dims=("draw", "year"), coords={"year": years})
    b = xr.DataArray(rng.normal(size=(3, 4)), dims=("year", "draw"), coords={"year": years})
    c = xr.DataArray(rng.normal(size=3), dims="year", coords={"year": years})
    shifted = c.assign_coords(year=[2001, 2002, 2003])  # other years: the general path
    for arrays in ({"a": a, "b": b, "c": c, "k": 2.0}, {"a": a, "c": c, "s": shifted}):
        lead, year, _, out = _common_layout(arrays, "year")
        parts = xr.broadcast(*[x if isinstance(x, xr.DataArray) else xr.DataArray(x)
                               for x in arrays.values()])  # fmt: skip
        assert lead == ["draw"]
        for name, part in zip(arrays, parts, strict=True):
            assert np.array_equal(
                out[name], part.transpose("draw", "year").values, equal_nan=True
            ), name
        assert list(year.values) == list(parts[0]["year"].values)
