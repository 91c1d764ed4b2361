"""Data reconciliation (SPEC §3): closed forms, a general-purpose solver as oracle, properties.

The case of Mitsas (2010) (12 streams, 6 nodes; measured values and standard
deviations as given in the benchmark collection of E. C. do Valle,
github.com/EDSONCV/dr-ged-benchmarks, P12) is solved here by scipy's SLSQP as
an independent oracle; the paper's own reconciled values were not found in
print, so they are not used.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from ndsim.reconcile import UnobservableError, chi2_sf, classify, reconcile

MITSAS_X = np.array(
    [100.49, 29.46, 40.41, 30.05, 9.96, 10.05, 9.9, 70.34, 19.8, 10.21, 89.95, 100.0]
)
MITSAS_SD = np.array([1.0, 0.3, 0.4, 0.3, 0.1, 0.1, 0.1, 0.7, 0.2, 0.1, 0.9, 1.0])
MITSAS_A = np.array(
    [
        [1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 0, 0, -1, -1, -1, 0, 0, 0, 0, 0],
        [0, 0, 1, 0, 1, 1, 1, -1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 0, 0, -1, -1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, -1, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, -1],
    ],
    dtype=float,
)


def slsqp(a_x, a_u, x, sd, c=None):
    """The same problem by a general-purpose constrained optimiser (the oracle).

    SLSQP where it converges; the trust-region method of scipy otherwise (SLSQP's
    subproblem fails when the unknowns do not enter the objective).
    """
    from scipy.optimize import LinearConstraint

    n, k = a_x.shape[1], a_u.shape[1]
    c = np.zeros(a_x.shape[0]) if c is None else c

    def objective(z):
        return np.sum(((z[:n] - x) / sd) ** 2)

    def gradient(z):
        return np.concatenate([2 * (z[:n] - x) / sd**2, np.zeros(k)])

    z0 = np.concatenate([x, np.zeros(k)])
    cons = {"type": "eq", "fun": lambda z: a_x @ z[:n] + a_u @ z[n:] + c}
    res = minimize(
        objective, z0, jac=gradient, constraints=[cons], method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )  # fmt: skip
    if not res.success:
        lin = LinearConstraint(np.hstack([a_x, a_u]), -c, -c)
        res = minimize(
            objective, z0, jac=gradient, hess=lambda z: np.diag(np.concatenate([2 / sd**2, np.zeros(k)])),
            constraints=[lin], method="trust-constr", options={"gtol": 1e-12, "xtol": 1e-14, "maxiter": 5000},
        )  # fmt: skip
    assert res.success, res.message
    return res.x[:n], res.x[n:], res.fun


def test_mitsas_case_against_a_general_solver():
    out = reconcile(MITSAS_A, np.zeros((6, 0)), MITSAS_X, MITSAS_SD)
    x_ref, _, f = slsqp(MITSAS_A, np.zeros((6, 0)), MITSAS_X, MITSAS_SD)
    np.testing.assert_allclose(out["x"], x_ref, rtol=0, atol=1e-6)
    assert float(out["chi2"]) == pytest.approx(f, rel=1e-6)
    assert out["dof"] == 6
    np.testing.assert_allclose(MITSAS_A @ out["x"], 0.0, atol=100 * np.finfo(float).eps * 100)


def test_one_node_closed_form():
    # x1 = x2 + x3; misfit r = 3 shared in proportion to the variances 4 : 1 : 1
    out = reconcile([[1.0, -1.0, -1.0]], np.zeros((1, 0)), [100.0, 60.0, 37.0], [2.0, 1.0, 1.0])
    np.testing.assert_allclose(out["x"], [98.0, 60.5, 37.5], rtol=1e-14)
    assert float(out["chi2"]) == pytest.approx(9 / 6, rel=1e-14)
    np.testing.assert_allclose(out["adjustment"], [-1.0, 0.5, 0.5], rtol=1e-14)
    # posterior variance of x1: 4 - 4 * 4 / 6
    assert float(out["sd_x"][0]) == pytest.approx(np.sqrt(4 - 16 / 6), rel=1e-12)


def test_two_nodes_with_an_unknown_by_hand():
    """Node 1: x1 = x2 + u; node 2: u = x3 + x4. Eliminating u: x1 - x2 - x3 - x4 = 0.

    x = (50, 20, 18, 10), σ = (1, 1, 1, 1): r = 2, each flow moves by 2/4 = 0.5, u = 28.5.
    """
    a_x = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, -1.0]])
    a_u = np.array([[-1.0], [1.0]])
    out = reconcile(a_x, a_u, [50.0, 20.0, 18.0, 10.0], [1.0, 1.0, 1.0, 1.0], names_unknown=["u"])
    np.testing.assert_allclose(out["x"], [49.5, 20.5, 18.5, 10.5], rtol=1e-14)
    assert float(out["u"][0]) == pytest.approx(29.0, rel=1e-14)  # = 18.5 + 10.5
    assert out["dof"] == 1 and out["observable"].tolist() == [True]
    # sd of u: Var(x3 + x4) after reconciliation = 2 * 0.75 - 2 * 0.25 = 1
    assert float(out["sd_u"][0]) == pytest.approx(1.0, rel=1e-12)


def test_an_unobservable_unknown_is_refused():
    # x1 = u1 + u2: the split of u1 and u2 is not determined
    a_x = np.array([[1.0]])
    a_u = np.array([[-1.0, -1.0]])
    assert classify(a_x, a_u).observable.tolist() == [False, False]
    with pytest.raises(
        UnobservableError, match="unknown flow\\(s\\) mining, smuggling not observable"
    ):
        reconcile(a_x, a_u, [5.0], [1.0], names_unknown=["mining", "smuggling"])


def test_random_systems_against_the_solver(rng):
    solved = 0
    for _ in range(20):
        m, n, k = 5, 9, 2
        a_x = rng.integers(-1, 2, size=(m, n)).astype(float)
        a_u = rng.integers(-1, 2, size=(m, k)).astype(float)
        full = np.linalg.matrix_rank(np.hstack([a_x, a_u])) == m
        if not full or not classify(a_x, a_u).observable.all():
            continue  # dependent balances (the optimiser needs independent ones) or unobservable
        x = rng.uniform(10, 100, n)
        sd = rng.uniform(0.5, 5, n)
        c = rng.normal(size=m)
        out = reconcile(a_x, a_u, x, sd, c)
        x_ref, u_ref, _ = slsqp(a_x, a_u, x, sd, c)
        np.testing.assert_allclose(out["x"], x_ref, atol=1e-5)
        np.testing.assert_allclose(out["u"], u_ref, atol=1e-5)
        solved += 1
    assert solved >= 5


def test_properties_balance_consistency_scale_and_batches(rng):
    x, sd = MITSAS_X, MITSAS_SD
    out = reconcile(MITSAS_A, np.zeros((6, 0)), x, sd)
    # a consistent data set is left unchanged
    again = reconcile(MITSAS_A, np.zeros((6, 0)), out["x"], sd)
    np.testing.assert_allclose(again["x"], out["x"], rtol=1e-13)
    assert float(again["chi2"]) < 1e-20
    # scaling every σ by the same factor leaves the estimate unchanged (χ² scales by 1/f²)
    scaled = reconcile(MITSAS_A, np.zeros((6, 0)), x, 7.0 * sd)
    np.testing.assert_allclose(scaled["x"], out["x"], rtol=1e-13)
    assert float(scaled["chi2"]) == pytest.approx(float(out["chi2"]) / 49, rel=1e-12)
    # batches (years x draws) give what one problem at a time gives
    xs = x * rng.uniform(0.95, 1.05, size=(3, 4, 12))
    batch = reconcile(MITSAS_A, np.zeros((6, 0)), xs, sd)
    for i in range(3):
        for j in range(4):
            one = reconcile(MITSAS_A, np.zeros((6, 0)), xs[i, j], sd)
            np.testing.assert_allclose(batch["x"][i, j], one["x"], rtol=1e-13)
    residual = np.einsum("mn,...n->...m", MITSAS_A, batch["x"])
    assert np.abs(residual).max() <= 100 * np.finfo(float).eps * np.abs(xs).max()


def test_the_worked_example_of_the_docs_by_hand():
    """docs/reconciliation.md: two nodes, x1 + x2 = x3 = x4 + x5, x3 unknown.

    The one redundant equation x1 + x2 - x4 - x5 = 0 has residual r = 20 and
    B V B' = 100 + 400 + 81 + 9 = 590; each flow moves by -V_ii B_i r / 590;
    chi2 = r^2 / 590; the posterior variance of x3 = x1 + x2 is
    500 - 500^2 / 590 (H = (1, 1, 0, 0), B V H' = 500).
    """
    a_x = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, -1.0, -1.0]])
    a_u = np.array([[-1.0], [1.0]])
    x = np.array([100.0, 40.0, 90.0, 30.0])
    sd = np.array([10.0, 20.0, 9.0, 3.0])
    out = reconcile(a_x, a_u, x, sd, combinations=np.array([[0.0, 0.0, 0.0, 0.0, 1.0]]))
    by_hand = [100 - 100 * 20 / 590, 40 - 400 * 20 / 590, 90 + 81 * 20 / 590, 30 + 9 * 20 / 590]
    np.testing.assert_allclose(out["x"], by_hand, rtol=1e-12)
    np.testing.assert_allclose(out["u"], [by_hand[0] + by_hand[1]], rtol=1e-12)
    assert out["dof"] == 1
    np.testing.assert_allclose(out["chi2"], 400 / 590, rtol=1e-12)
    np.testing.assert_allclose(out["sd_x"][1], np.sqrt(400 - 400**2 / 590), rtol=1e-12)
    np.testing.assert_allclose(out["sd_u"], [np.sqrt(500 - 500**2 / 590)], rtol=1e-10)
    np.testing.assert_allclose(out["sd_combinations"], [np.sqrt(500 - 500**2 / 590)], rtol=1e-10)
    # the values printed in the docs, to their printed precision
    np.testing.assert_allclose(
        np.round(out["x"], 3), [96.610, 26.441, 92.746, 30.305], atol=0
    )  # fmt: skip
    assert round(float(out["u"][0]), 3) == 123.051
    assert round(float(out["sd_u"][0]), 3) == 8.733


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 7, 12, 25, 40])
def test_chi2_p_value_against_scipy(dof):
    """The closed forms of the p value against scipy's chi-squared survival function."""
    from scipy.special import chdtrc

    for x in [1e-9, 0.01, 0.5, 1.0, 3.84, float(dof), 2.0 * dof, 10.0 + 3.0 * dof, 150.0]:
        want = float(chdtrc(dof, x))
        assert chi2_sf(x, dof) == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_chi2_p_value_edges():
    assert chi2_sf(0.0, 3) == 1.0
    assert np.isnan(chi2_sf(float("nan"), 3))
    assert chi2_sf(2000.0, 2) == 0.0  # exp(-1000) underflows
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="dof must be a positive integer"):
            chi2_sf(1.0, bad)


def test_combinations_and_unknowns_against_the_covariance_matrix(rng):
    """Sparse combination rows (weights per batch element) and the sd of the unknowns
    against the full posterior covariance, formed here with plain matrices:
    Cov(x̂) = V - V Bᵀ (B V Bᵀ)⁻¹ B V, Cov(û) = G Cov(x̂) Gᵀ with G = A_u⁺ A_x."""
    a_x = np.array([[1.0, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, -1.0, 0.0], [0, 0, 0, 1, -1]])
    a_u = np.array([[-1.0], [1.0], [0.0]])  # u = x1 - x2 = x3 + x4; x4 = x5
    x = rng.uniform(10, 100, size=(3, 2, 5))
    sd = rng.uniform(0.5, 3, size=(3, 2, 5))
    w = rng.uniform(0.5, 2, size=(3, 2))  # a weight per batch element
    rows = [[(0, 1.0), (2, w)], [(5, 2.0), (4, -1.0)], [(5, w)]]  # x1 + w x3, 2u - x5, w u
    out = reconcile(a_x, a_u, x, sd, names_unknown=["u"], combinations=rows)
    cls = classify(a_x, a_u)
    b = cls.projector @ a_x
    g = np.linalg.pinv(a_u) @ a_x
    for i in range(3):
        for j in range(2):
            v = np.diag(sd[i, j] ** 2)
            cov = v - v @ b.T @ np.linalg.solve(b @ v @ b.T, b @ v)
            h = np.zeros((3, 5))
            h[0, 0], h[0, 2] = 1.0, w[i, j]
            h[1] = -2.0 * g[0]
            h[1, 4] -= 1.0
            h[2] = -w[i, j] * g[0]
            np.testing.assert_allclose(out["sd_x"][i, j], np.sqrt(np.diag(cov)), rtol=1e-10)
            np.testing.assert_allclose(
                out["sd_u"][i, j], np.sqrt(np.diag(g @ cov @ g.T)), rtol=1e-10
            )
            ref = np.sqrt(np.diag(h @ cov @ h.T))
            np.testing.assert_allclose(out["sd_combinations"][i, j], ref, rtol=1e-10)
            # one element alone gets the same numbers, bit for bit (SPEC §5)
            one_rows = [[(c, wt[i, j] if np.ndim(wt) else wt) for c, wt in r] for r in rows]
            one = reconcile(a_x, a_u, x[i, j], sd[i, j], combinations=one_rows)
            for key in ("x", "sd_x", "u", "sd_u", "chi2", "sd_combinations"):
                np.testing.assert_array_equal(out[key][i, j], one[key], err_msg=key)
    assert out["dof"] == 2
