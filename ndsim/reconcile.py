"""Data reconciliation of flows under linear balances, as STAN does (SPEC §3).

Given balances A_x x + A_u u + c = 0 over measured flows x (with standard
deviations σ), unknown flows u and known terms c (flows held fixed), the
reconciled flows minimise Σ ((x̂ - x) / σ)² subject to every balance
(Cencic & Rechberger 2008). The unknowns are eliminated by projecting the
balances onto the left null space of A_u (P A_u = 0), which leaves the
redundant equations B x + P c = 0 with B = P A_x (Narasimhan & Jordache 2000,
ch. 3; Crowe et al. 1983). Then, with V = diag(σ²) and r = B x + P c,

    x̂ = x - V Bᵀ (B V Bᵀ)⁻¹ r,    Cov(x̂) = V - V Bᵀ (B V Bᵀ)⁻¹ B V,
    χ² = rᵀ (B V Bᵀ)⁻¹ r  with  dof = rank(B),

and û solves A_u û = -(A_x x̂ + c) (unique for the observable unknowns).
Before solving, every unknown is classified: it is observable when no
direction of the null space of A_u moves it (Cencic 2016). The structure
(A_x, A_u) is the same for every year and draw; x, σ and c may carry any
leading dimensions, solved at once with batched linear algebra (no loop over
years or draws).

References
----------
Cencic, O. & Rechberger, H. (2008). Material flow analysis with software STAN.
Journal of Environmental Engineering and Management 18(1), 3-7.
Cencic, O. (2016). Nonlinear data reconciliation in material flow analysis with
software STAN. Sustainable Environment Research 26(6), 291-298.
Crowe, C. M., Garcia Campos, Y. A. & Hrymak, A. (1983). Reconciliation of
process flow rates by matrix projection. AIChE Journal 29(6), 881-888.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ndsim import kernels as _kernels  # noqa: F401 - its cache locators before any njit

__all__ = ["Classification", "classify", "reconcile", "UnobservableError", "chi2_sf"]

#: relative tolerance of the rank decisions (singular values below it count as zero)
RANK_TOL = 1e-10


class UnobservableError(ValueError):
    """An unknown flow is not determined by the balances and the measurements."""

    def __init__(self, names: list[str]):
        self.names = names
        super().__init__(
            f"unknown flow(s) {', '.join(names)} not observable: the balances and the "
            "measurements do not determine them; measure one of them or a flow next to it"
        )


@dataclass(frozen=True)
class Classification:
    """What the structure allows, before any number is reconciled.

    Attributes
    ----------
    observable : numpy.ndarray of bool
        (k,) per unknown: determined by the balances and the measured flows.
    redundant : numpy.ndarray of bool
        (n,) per measured flow: it appears in a redundant equation, so
        reconciliation can adjust it (a non-redundant one is returned as measured).
    dof : int
        Number of independent redundant equations (the degrees of freedom of χ²).
    projector : numpy.ndarray
        (dof, m) rows spanning the redundant equations: P with P A_u = 0, reduced
        to an orthonormal basis of the row space of P A_x.
    pinv_unknown : numpy.ndarray
        (k, m) pseudo-inverse of A_u.
    """

    observable: np.ndarray
    redundant: np.ndarray
    dof: int
    projector: np.ndarray
    pinv_unknown: np.ndarray


def _contract(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Σ_j a[..., j] m[j]: a batched (..., J), m constant (J, *rest) -> (..., *rest).

    Each element sums over the structural index j (flows or balances, a few dozen)
    in order from 0: every draw gets the same bits alone or in a batch (``einsum``
    and ``matmul`` may change their loops, and so their rounding, with the batch
    shape). One compiled pass over the batch.
    """
    a = np.asarray(a, dtype=float)
    m = np.asarray(m, dtype=float)
    batch, rest = a.shape[:-1], m.shape[1:]
    a2 = np.ascontiguousarray(a).reshape(math.prod(batch), a.shape[-1])
    m2 = np.ascontiguousarray(m).reshape(m.shape[0], math.prod(rest))
    out = np.empty((a2.shape[0], m2.shape[1]))
    _contract_kernel(a2, m2, out)
    return out.reshape(batch + rest)


@njit(cache=True, nogil=True)
def _contract_kernel(a, m, out):
    for i in range(a.shape[0]):
        for r in range(m.shape[1]):
            acc = 0.0
            for j in range(a.shape[1]):
                acc += a[i, j] * m[j, r]
            out[i, r] = acc


def _combination_terms(combinations, batch: tuple[int, ...], n: int, g: np.ndarray):
    """:func:`reconcile`'s ``combinations`` as sparse (row, column, weight) terms.

    Returns the number of rows and the terms' rows, columns and weights (terms, batch
    elements), in the rows' order and each row's terms in order (a matrix G: every
    column of a row a term); 0 and Nones for no combinations.
    """
    if combinations is None:
        return 0, None, None, None
    if not isinstance(combinations, list):  # a matrix G (..., e, n + k)
        gz = np.asarray(combinations, dtype=float)
        if gz.ndim < 2 or gz.shape[-1] != n + g.shape[0]:
            raise ValueError(f"combinations: {gz.shape[-1:]} columns, not n + k = {n + g.shape[0]}")
        combinations = [
            [(col, gz[..., e, col]) for col in range(gz.shape[-1])] for e in range(gz.shape[-2])
        ]
    terms = [(e, col, wt) for e, row in enumerate(combinations) for col, wt in row]
    weights = np.empty((len(terms), math.prod(batch)))
    for t, (e, col, wt) in enumerate(terms):
        if not 0 <= col < n + g.shape[0]:
            raise IndexError(f"combination {e}: column {col} of {n + g.shape[0]} flows")
        weights[t].reshape(batch)[...] = wt  # broadcast onto the batch
    rows = np.array([e for e, _, _ in terms], dtype=np.int64)
    cols = np.array([col for _, col, _ in terms], dtype=np.int64)
    return len(combinations), rows, cols, weights


#: batch elements per block of the posterior kernels: their work arrays stay in L1/L2 and
#: the loops over a block's elements are vectorised
_BLOCK = 128


@njit(cache=True, nogil=True)
def _normal_kernel(x, v, c, b, p, bb, r, s):
    """r = B x + P c and S = B V Bᵀ of every batch element (the last axis of every array).

    x, v (n, nb); c (m, nb); bb[j, d D + e] = B[d, j] B[e, j]; r (d, nb); s (d, d, nb).
    Each sum from 0.0 over its structural index in order (as :func:`_contract`).
    """
    nb = x.shape[1]
    n_dof = b.shape[0]
    for d in range(n_dof):
        for i in range(nb):
            r[d, i] = 0.0
        for j in range(x.shape[0]):
            bj = b[d, j]
            for i in range(nb):
                r[d, i] += x[j, i] * bj
        acc = np.zeros(nb)
        for k in range(c.shape[0]):
            pk = p[d, k]
            for i in range(nb):
                acc[i] += c[k, i] * pk
        for i in range(nb):
            r[d, i] = r[d, i] + acc[i]
        for e in range(n_dof):
            for i in range(nb):
                s[d, e, i] = 0.0
            for j in range(x.shape[0]):
                m = bb[j, d * n_dof + e]
                for i in range(nb):
                    s[d, e, i] += v[j, i] * m
    return r, s


@njit(cache=True, nogil=True, inline="always")
def _rows_dot(rows, i0, i1, coef, out):
    """out[i] = Σ_r rows[r, i0 + i] coef[r], from 0.0 in r order (rows C-contiguous)."""
    out[:] = 0.0
    for r in range(rows.shape[0]):
        row, cr = rows[r, i0:i1], coef[r]
        for i in range(out.shape[0]):
            out[i] += row[i] * cr


@njit(cache=True, nogil=True)
def _block_variance(h, v, b, s_inv, i0, i1, wk, q, out):
    """out[k, :i1 - i0] = Var(h[k] x̂) of batch elements i0 <= i < i1, h (K, n, block).

    v (n, nb), s_inv (d, d, nb) hold every element. Var(h x̂) = H V Hᵀ - (B V Hᵀ)ᵀ S⁻¹
    (B V Hᵀ), diagonal: Σ_j (h h) v, less Σ_d Σ_e (S⁻¹ w_d) w_e with w_d = Σ_j (B v) h,
    each sum from 0.0 in index order, products grouped as written. ``wk``
    (d, K, block) and ``q`` (block,) are work space. Every loop over the elements runs
    on contiguous 1-d views, which the compiler vectorises.
    """
    n_dof = b.shape[0]
    ne = i1 - i0
    for k in range(h.shape[0]):
        o = out[k, :ne]
        o[:] = 0.0
        for j in range(h.shape[1]):
            hk, vj = h[k, j, :ne], v[j, i0:i1]
            for i in range(ne):
                o[i] += hk[i] * hk[i] * vj[i]
        for d in range(n_dof):
            wd = wk[d, k, :ne]
            wd[:] = 0.0
            for j in range(h.shape[1]):
                bdj, hk, vj = b[d, j], h[k, j, :ne], v[j, i0:i1]
                for i in range(ne):
                    wd[i] += bdj * vj[i] * hk[i]
    if n_dof:
        qb = q[:ne]
        for k in range(h.shape[0]):
            qb[:] = 0.0
            for d in range(n_dof):
                for e in range(n_dof):
                    sde, wd, we = s_inv[d, e, i0:i1], wk[d, k, :ne], wk[e, k, :ne]
                    for i in range(ne):
                        qb[i] += sde[i] * wd[i] * we[i]
            o = out[k, :ne]
            for i in range(ne):
                o[i] = o[i] - qb[i]


@njit(cache=True, nogil=True)
def _posterior_kernel(
    x, v, c, b, s_inv, r, a_x, pinv, neg_g, g, rows, cols, wts,
    x_hat, var_x, chi2, u, var_u, var_h,
):  # fmt: skip
    """Everything :func:`reconcile` gives from S⁻¹ = (B V Bᵀ)⁻¹, for every batch element.

    The batch is the last axis of every per-element array (each C-contiguous): x, v,
    x_hat, var_x (n, nb), c (m, nb), s_inv (d, d, nb), r (d, nb), wts (terms, nb),
    chi2 (nb,), u, var_u (k, nb), var_h (e, nb). Gives x̂, its variance, χ², û and
    its variance, and the variance of each combination row (terms rows, cols, wts;
    none: e = 0). Every sum runs from 0.0 over its structural index in order, so an
    element gets the same numbers alone or in any batch (SPEC §5). Blocks of
    :data:`_BLOCK` elements, every loop over them on contiguous 1-d views.
    """
    n, nb = x.shape
    n_dof = b.shape[0]
    m = a_x.shape[0]
    k_u = pinv.shape[0]
    n_h = var_h.shape[0]
    n_k = max(k_u, n_h)
    w = np.empty((n_dof, _BLOCK))
    t = np.empty(_BLOCK)
    q = np.empty(_BLOCK)
    rhs = np.empty((m, _BLOCK))
    hu = np.empty((k_u, n, _BLOCK))
    for k in range(k_u):
        for j in range(n):
            hu[k, j, :] = neg_g[k, j]
    h = np.empty((n_h, n, _BLOCK))
    wk = np.empty((n_dof, n_k, _BLOCK))
    vh = np.empty((n_k, _BLOCK))
    for i0 in range(0, nb, _BLOCK):
        i1 = min(nb, i0 + _BLOCK)
        ne = i1 - i0
        tb = t[:ne]
        if n_dof:
            for d in range(n_dof):
                wd = w[d, :ne]
                wd[:] = 0.0
                for e in range(n_dof):
                    sde, re = s_inv[d, e, i0:i1], r[e, i0:i1]
                    for i in range(ne):
                        wd[i] += sde[i] * re[i]
            for j in range(n):
                _rows_dot(w, 0, ne, b[:, j], tb)  # (B^T w)[j]
                xj, vj, out = x[j, i0:i1], v[j, i0:i1], x_hat[j, i0:i1]
                for i in range(ne):
                    out[i] = xj[i] - vj[i] * tb[i]
            tb[:] = 0.0
            for d in range(n_dof):
                rd, wd = r[d, i0:i1], w[d, :ne]
                for i in range(ne):
                    tb[i] += rd[i] * wd[i] * 1.0
            chi2[i0:i1] = tb
            for j in range(n):
                tb[:] = 0.0
                for d in range(n_dof):
                    for e in range(n_dof):
                        sde, bdj, bej = s_inv[d, e, i0:i1], b[d, j], b[e, j]
                        for i in range(ne):
                            tb[i] += sde[i] * bdj * bej
                vj, out = v[j, i0:i1], var_x[j, i0:i1]
                for i in range(ne):
                    out[i] = vj[i] - vj[i] * vj[i] * tb[i]
        else:
            x_hat[:, i0:i1] = x[:, i0:i1]
            var_x[:, i0:i1] = v[:, i0:i1]
            chi2[i0:i1] = 0.0
        for p in range(m):
            rp = rhs[p, :ne]
            _rows_dot(x_hat, i0, i1, a_x[p], rp)  # A_x x̂ + c
            cp = c[p, i0:i1]
            for i in range(ne):
                rp[i] = rp[i] + cp[i]
        for k in range(k_u):
            _rows_dot(rhs, 0, ne, pinv[k], tb)
            uk = u[k, i0:i1]
            for i in range(ne):
                uk[i] = -tb[i]
        _block_variance(hu, v, b, s_inv, i0, i1, wk, q, vh)
        for k in range(k_u):
            var_u[k, i0:i1] = vh[k, :ne]
        if n_h:
            h[:] = 0.0
            for tt in range(rows.shape[0]):
                e, col, wt = rows[tt], cols[tt], wts[tt, i0:i1]
                if col < n:
                    he = h[e, col, :ne]
                    for i in range(ne):
                        he[i] += wt[i]
                else:
                    for j in range(n):
                        gj, he = g[col - n, j], h[e, j, :ne]
                        for i in range(ne):
                            he[i] -= wt[i] * gj
            _block_variance(h, v, b, s_inv, i0, i1, wk, q, vh)
            for e in range(n_h):
                var_h[e, i0:i1] = vh[e, :ne]


def _rank(s: np.ndarray, shape: tuple[int, int]) -> int:
    if s.size == 0:
        return 0
    return int(np.sum(s > RANK_TOL * max(shape) * s[0]))


def classify(a_measured: np.ndarray, a_unknown: np.ndarray) -> Classification:
    """Classify the unknowns (observable or not) and the redundancy of the balances.

    Parameters
    ----------
    a_measured : numpy.ndarray
        (m, n) coefficients of the measured flows in the m balances.
    a_unknown : numpy.ndarray
        (m, k) coefficients of the unknown flows.

    Returns
    -------
    Classification

    Examples
    --------
    >>> a_x = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
    >>> a_u = np.array([[-1.0], [1.0]])  # x1 = x2 + u, u = x3
    >>> c = classify(a_x, a_u)
    >>> c.observable.tolist(), c.dof
    ([True], 1)
    """
    a_x = np.asarray(a_measured, dtype=float)
    a_u = np.asarray(a_unknown, dtype=float).reshape(a_x.shape[0], -1)
    m, k = a_u.shape
    if k:
        u_, s_u, vt_u = np.linalg.svd(a_u, full_matrices=True)
        r_u = _rank(s_u, a_u.shape)
        p = u_[:, r_u:].T  # left null space of A_u: P A_u = 0
        null_u = vt_u[r_u:].T  # (k, k - r_u): directions the balances do not fix
        observable = np.all(np.abs(null_u) <= RANK_TOL * 10, axis=1)
        pinv = np.linalg.pinv(a_u, rcond=RANK_TOL)
    else:
        p = np.eye(m)
        observable = np.zeros(0, dtype=bool)
        pinv = np.zeros((0, m))
    b = p @ a_x
    if b.size:
        u_b, s_b, vt_b = np.linalg.svd(b, full_matrices=False)
        dof = _rank(s_b, b.shape)
        basis = u_b[:, :dof].T @ p  # orthonormal combination of the redundant rows
        redundant = np.any(np.abs(vt_b[:dof]) > RANK_TOL * 10, axis=0)
    else:
        dof = 0
        basis = np.zeros((0, m))
        redundant = np.zeros(a_x.shape[1], dtype=bool)
    return Classification(observable, redundant, dof, basis, pinv)


#: the classifications of the structures seen, by their matrices' bytes (an ensemble solves
#: the same few structures in every chunk)
_CLASSIFIED: dict[tuple, Classification] = {}


def _classify_once(a_x: np.ndarray, a_u: np.ndarray) -> Classification:
    """:func:`classify` of float64 matrices, computed once for each structure."""
    key = (a_x.shape, a_x.tobytes(), a_u.shape, a_u.tobytes())
    cls = _CLASSIFIED.get(key)
    if cls is None:
        cls = classify(a_x, a_u)
        for arr in (cls.observable, cls.redundant, cls.projector, cls.pinv_unknown):
            arr.setflags(write=False)  # shared by every call with this structure
        if len(_CLASSIFIED) >= 256:
            _CLASSIFIED.clear()
        _CLASSIFIED[key] = cls
    return cls


def reconcile(
    a_measured: np.ndarray,
    a_unknown: np.ndarray,
    x: np.ndarray,
    sd: np.ndarray,
    known: np.ndarray | None = None,
    *,
    names_unknown: list[str] | None = None,
    combinations: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Weighted least-squares reconciliation of measured flows under linear balances.

    Parameters
    ----------
    a_measured : numpy.ndarray
        (m, n) coefficients of the measured flows.
    a_unknown : numpy.ndarray
        (m, k) coefficients of the unknown flows.
    x : numpy.ndarray
        (..., n) measured values [any flow unit].
    sd : numpy.ndarray
        (..., n) their standard deviations, > 0 [same unit].
    known : numpy.ndarray, optional
        (..., m) the sum of the fixed terms of each balance (flows held fixed,
        with their signs); default 0.
    names_unknown : list of str, optional
        Names of the unknowns, for the error message.
    combinations : numpy.ndarray or list, optional
        (..., e, n + k) linear combinations G of the stacked flows z = (x̂, û) whose
        posterior sd is wanted (sums of flows, flows in other units), without
        forming the (n + k)² covariance per batch: Var(G z) = H Cov(x̂) Hᵀ with
        H = G [I; -A_u⁺ A_x]. Or, sparse, a list of e rows, each a list of
        (column of z, weight) with weights scalars or (...) arrays.

    Returns
    -------
    dict
        ``x`` reconciled (..., n), ``sd_x`` their posterior sd, ``u`` (..., k)
        the unknowns, ``sd_u`` their sd, ``adjustment`` (x̂ - x) / σ (..., n),
        ``chi2`` (...), ``dof`` (int), ``observable`` (k,), ``redundant`` (n,),
        and ``sd_combinations`` (..., e) when `combinations` is given.

    Raises
    ------
    UnobservableError
        An unknown the structure does not determine (refused before solving).

    Examples
    --------
    One node, x1 = x2 + x3, all measured: the misfit r = x1 - x2 - x3 = 3 goes to
    each flow in proportion to its variance.

    >>> out = reconcile([[1.0, -1.0, -1.0]], np.zeros((1, 0)), [100.0, 60.0, 37.0], [2.0, 1.0, 1.0])
    >>> out["x"].round(6).tolist(), round(float(out["chi2"]), 6)
    ([98.0, 60.5, 37.5], 1.5)
    """
    a_x = np.asarray(a_measured, dtype=float)
    m, n = a_x.shape
    a_u = np.asarray(a_unknown, dtype=float).reshape(m, -1)
    cls = _classify_once(a_x, a_u)
    if not cls.observable.all():
        names = names_unknown or [f"u{j}" for j in range(a_u.shape[1])]
        raise UnobservableError([names[j] for j in np.flatnonzero(~cls.observable)])
    x = np.asarray(x, dtype=float)
    sd = np.broadcast_to(np.asarray(sd, dtype=float), x.shape)
    if np.any(~(sd > 0)):
        raise ValueError("every measured flow needs a standard deviation > 0 (hold it fixed else)")
    c = np.zeros(x.shape[:-1] + (m,)) if known is None else np.asarray(known, dtype=float)
    c = np.broadcast_to(c, x.shape[:-1] + (m,))
    v = sd**2
    b = cls.projector @ a_x  # (d, n)
    dof = cls.dof
    # every sum below runs over a structural index (flows, balances) in a fixed order, a
    # batch element (draw, year) at a time, so a draw's result does not depend on the
    # other draws solved with it (SPEC §5), and no (n, n) covariance per draw is formed
    batch = x.shape[:-1]
    nb = math.prod(batch)
    # the batch last (one element's numbers do not depend on the layout): the kernels'
    # loops over the elements of a block are vectorised
    x_t = np.ascontiguousarray(x.reshape(nb, n).T)
    v_t = np.ascontiguousarray(v.reshape(nb, n).T)
    c_t = np.ascontiguousarray(c.reshape(nb, m).T)
    b = np.ascontiguousarray(b)
    bb = np.ascontiguousarray((b.T[:, :, None] * b.T[:, None, :]).reshape(n, dof * dof))
    r, s = _normal_kernel(
        x_t, v_t, c_t, b, np.ascontiguousarray(cls.projector), bb,
        np.empty((dof, nb)), np.empty((dof, dof, nb)),
    )  # fmt: skip
    s_inv = s
    if dof == 1 and np.all(s != 0.0):
        s_inv = 1.0 / s  # what LAPACK's solve gives a 1 x 1 matrix, bit for bit
    elif dof:  # B V Bᵀ inverted (LAPACK, a matrix at a time; a singular one raises)
        s_inv = np.ascontiguousarray(np.linalg.inv(s.transpose(2, 0, 1)).transpose(1, 2, 0))
    g = cls.pinv_unknown @ a_x  # (k, n): û = -A_u⁺ (A_x x̂ + c)
    # the rows H of the combinations, sparse: term t adds w[t] to H[row[t], col[t]] (a
    # measured flow) or subtracts w[t] G[col[t] - n] from H[row[t]] (an unknown one)
    n_h, rows, cols, wts = _combination_terms(combinations, batch, n, g)
    k = g.shape[0]
    out = {
        "x": np.empty((n, nb)),
        "var_x": np.empty((n, nb)),
        "chi2": np.empty(nb),
        "u": np.empty((k, nb)),
        "var_u": np.empty((k, nb)),
        "var_h": np.empty((n_h, nb)),
    }
    _posterior_kernel(
        x_t, v_t, c_t, b, s_inv, r, np.ascontiguousarray(a_x),
        np.ascontiguousarray(cls.pinv_unknown), np.ascontiguousarray(-g), np.ascontiguousarray(g),
        np.zeros(0, np.int64) if rows is None else rows,
        np.zeros(0, np.int64) if cols is None else cols,
        np.zeros((0, nb)) if wts is None else wts,
        out["x"], out["var_x"], out["chi2"], out["u"], out["var_u"], out["var_h"],
    )  # fmt: skip
    x_hat = out["x"].T.reshape(x.shape)
    var_x = out["var_x"].T.reshape(x.shape)
    u = out["u"].T.reshape(batch + (k,))
    var_u = out["var_u"].T.reshape(batch + (k,))
    chi2 = out["chi2"].reshape(batch)
    extra = {}
    if combinations is not None:
        var_h = out["var_h"].T.reshape(batch + (n_h,))
        extra["sd_combinations"] = np.sqrt(np.clip(var_h, 0.0, None))
    return {
        **extra,
        "x": x_hat,
        "sd_x": np.sqrt(np.clip(var_x, 0.0, None)),
        "u": u,
        "sd_u": np.sqrt(np.clip(var_u, 0.0, None)),
        "adjustment": (x_hat - x) / sd,
        "chi2": chi2,
        "dof": dof,
        "observable": cls.observable.copy(),
        "redundant": cls.redundant.copy(),
    }


def chi2_sf(chi2: float, dof: int) -> float:
    """P(X >= chi2) for X ~ chi-squared with an integer number of degrees of freedom dof >= 1.

    The p value of the reconciliation's test. The finite sums for an integer dof
    (Abramowitz & Stegun 1964, 26.4.4 and 26.4.5): with y = chi2 / 2,

        even dof:  exp(-y) sum_{i < dof/2} y^i / i!,
        odd dof:   erfc(sqrt y) + sqrt(2 chi2 / pi) exp(-y) sum_{r=1}^{(dof-1)/2} chi2^(r-1) / (3 5 ... (2r - 1)),

    which need only the standard library (a run's summary need not import scipy.special).

    >>> round(chi2_sf(3.841458820694124, 1), 6), round(chi2_sf(5.991464547107979, 2), 6)
    (0.05, 0.05)
    """
    if dof < 1 or dof != int(dof):
        raise ValueError(f"chi2_sf: dof must be a positive integer, not {dof!r}")
    if not chi2 > 0.0:
        return 1.0 if chi2 == chi2 else math.nan
    y = 0.5 * chi2
    if dof % 2 == 0:
        term = total = math.exp(-y)
        for i in range(1, dof // 2):
            term *= y / i
            total += term
        return min(total, 1.0)
    total = math.erfc(math.sqrt(y))
    if dof > 1:
        term = math.sqrt(2.0 * chi2 / math.pi) * math.exp(-y)
        extra = term
        for r in range(1, (dof - 1) // 2):
            term *= chi2 / (2 * r + 1)
            extra += term
        total += extra
    return min(total, 1.0)
