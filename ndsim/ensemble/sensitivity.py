"""Sensitivity of an ensemble: SRC from the draws, Sobol indices with their bootstrap, text tables.

The standardised regression coefficients come from the co-moments the
chunks already merged (no second pass over the draws); the Sobol indices run
a Saltelli design through the same executor and the same
:func:`ndsim.ensemble.draws.run_draws` as the chunks. The two tables are
what ``ndsim ensemble`` prints.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim import sampling, summarize
from ndsim.ensemble.draws import design_task
from ndsim.ensemble.executors import Executor
from ndsim.ensemble.plan import Plan

__all__ = ["sensitivity_dataset", "sensitivity_table", "sobol_dataset", "uncertainty_table"]


def sobol_dataset(executor: Executor, plan: Plan, base: int, k: int) -> xr.Dataset:
    """Sobol indices of the sensitivity targets from a Saltelli design of ``base`` samples."""
    groups = sampling.saltelli_groups(plan.factor_plan, plan.scenario)
    if not groups or not plan.targets:
        return xr.Dataset()
    rows = base * (len(groups) + 2)
    pieces = [(a, min(a + k, rows), groups) for a in range(0, rows, k)]
    print(
        f"Sobol indices: Saltelli design of {base} base samples x ({len(groups)} inputs + 2) "
        f"= {rows} model runs",
        file=sys.stderr,
    )
    y = np.concatenate(executor.map(design_task, pieces))
    first, total = summarize.sobol_indices(y, len(groups))
    ci = summarize.sobol_bootstrap(y, len(groups), seed=plan.seed)
    coords = {
        "input": np.array([g[2] for g in groups], dtype=str),
        "target": [t for t, _ in plan.targets],
    }
    note = (
        f"Saltelli design, {base} base samples ({rows} model runs); estimators of "
        "Saltelli et al. (2010) doi:10.1016/j.cpc.2009.09.018"
    )
    bound = {"bound": ["q025", "q975"]}
    ci_note = "95 % percentile bootstrap over the base samples (200 resamples)"
    out = xr.Dataset(
        {
            "sobol_first": (
                ("input", "target"),
                first,
                {**cv.attrs("sobol_first"), "method": note},
            ),
            "sobol_total": (
                ("input", "target"),
                total,
                {**cv.attrs("sobol_total"), "method": note},
            ),
            "sobol_first_ci": (
                ("bound", "input", "target"),
                np.stack([ci["first_lo"], ci["first_hi"]]),
                {"units": "1", "long_name": "confidence interval of the first-order Sobol index",
                 "method": ci_note},
            ),
            "sobol_total_ci": (
                ("bound", "input", "target"),
                np.stack([ci["total_lo"], ci["total_hi"]]),
                {"units": "1", "long_name": "confidence interval of the total Sobol index",
                 "method": ci_note},
            ),
        },
        coords={**coords, **bound},
    )  # fmt: skip
    for line in summarize.sobol_warnings(first, total, ci, coords["input"], coords["target"], base):
        print(f"ndsim: warning: Sobol: {line}", file=sys.stderr)
    return out


def sensitivity_dataset(
    root: summarize.Node, labels: list[str], targets: list[tuple[str, int]]
) -> xr.Dataset:
    """SRC, SRC^2, R2 (plain and adjusted) and the SE of an SRC, from the merged co-moments."""
    if not labels or not targets:
        return xr.Dataset()
    src, r2 = summarize.src_from_comoments(root.zc, len(labels), root.n)
    varying = int((np.diag(root.zc)[: len(labels)] > 0).sum())
    r2_adj, se = summarize.src_precision(r2, root.n, varying)
    coords = {"input": np.array(labels, dtype=str), "target": [t for t, _ in targets]}
    fit = {"regression_draws": int(root.n), "regression_inputs": varying}
    return xr.Dataset(
        {
            "sensitivity": (("input", "target"), src**2, cv.attrs("sensitivity")),
            "sensitivity_src": (("input", "target"), src, cv.attrs("sensitivity_src")),
            "sensitivity_r2": (
                ("target",),
                r2,
                {
                    "units": "1",
                    "long_name": "R2 of the linear regression",
                    "description": "share of the target's variance the linear model explains; "
                    "SRC^2 are meaningful where it is close to 1; NaN where the draws "
                    "are too few to fit the inputs (draws <= inputs + 1)",
                    **fit,
                },
            ),
            "sensitivity_r2_adjusted": (
                ("target",),
                r2_adj,
                {
                    "units": "1",
                    "long_name": "adjusted R2 of the linear regression",
                    "description": "1 - (1 - R2)(n - 1)/(n - p - 1): R2 less what p inputs "
                    "explain by chance in n draws",
                    **fit,
                },
            ),
            "sensitivity_src_se": (
                ("target",),
                se,
                {
                    "units": "1",
                    "long_name": "standard error of a standardised regression coefficient",
                    "description": "sqrt((1 - R2)/(n - p - 1)), for independently sampled inputs",
                    **fit,
                },
            ),
        },
        coords=coords,
    )


def sensitivity_table(ds: xr.Dataset, top: int = 8) -> str:
    """The inputs ranked by contribution to variance, per target (plain text)."""
    if "sensitivity" not in ds:
        return ""
    lines = ["what drives the uncertainty (share of variance, SRC^2)"]
    for t in ds["target"].values:
        r2 = float(ds["sensitivity_r2"].sel(target=t))
        if math.isnan(r2):
            n = int(ds["sensitivity_r2"].attrs.get("regression_draws", 0))
            p = int(ds["sensitivity_r2"].attrs.get("regression_inputs", 0))
            if n and n <= p + 1:
                lines.append(
                    f"  {t}: not identified: {n} draws of {p} varying inputs fit any target "
                    f"exactly; run more than {p + 1} draws ({10 * p} for stable ranks) or --sobol"
                )
            else:
                lines.append(f"  {t}: the same in every draw, no variance to explain")
            continue
        s = ds["sensitivity"].sel(target=t).fillna(0.0)
        order = np.argsort(-s.values, kind="stable")[:top]
        precision = ""
        if "sensitivity_r2_adjusted" in ds:
            adj = float(ds["sensitivity_r2_adjusted"].sel(target=t))
            se = float(ds["sensitivity_src_se"].sel(target=t))
            precision = f", adjusted {adj:.2f}; each SRC +/- {se:.3f} (1 se)"
        lines.append(f"  {t} (linear R2 {r2:.2f}{precision}):")
        for i in order:
            lines.append(f"    {str(ds['input'].values[i]):<32}{100 * float(s.values[i]):6.1f} %")
    if "sobol_first" in ds:
        has_ci = "sobol_first_ci" in ds
        lines.append(
            "Sobol indices (first order, total"
            + (", each with its 95 % bootstrap interval" if has_ci else "")
            + "), ranked by the total index"
        )
        for t in ds["target"].values:
            s1 = ds["sobol_first"].sel(target=t)
            st = ds["sobol_total"].sel(target=t)
            if bool(st.isnull().all()):
                continue
            lines.append(f"  {t}:")
            for i in np.argsort(-st.fillna(0.0).values, kind="stable")[:top]:
                name = str(ds["input"].values[i])
                row = f"    {name:<32}{float(s1.values[i]):7.3f}"
                if has_ci:
                    c1 = ds["sobol_first_ci"].sel(target=t).values[:, i]
                    row += f" [{c1[0]:6.3f}, {c1[1]:6.3f}]"
                row += f"{float(st.values[i]):7.3f}"
                if has_ci:
                    ct = ds["sobol_total_ci"].sel(target=t).values[:, i]
                    row += f" [{ct[0]:6.3f}, {ct[1]:6.3f}]"
                lines.append(row)
    return "\n".join(lines)


# --- the uncertainty table (SPEC §5) ---------------------------------------------------------


def uncertainty_table(ds: xr.Dataset) -> str:
    """Relative deviation of q025 and q975 from the deterministic run (SPEC §5).

    For total demand, in-use stock and end-of-life flow (summed over
    products): min over years of (q025 / deterministic - 1) and max over
    years of (q975 / deterministic - 1), for the retrospective years
    (first..last accounted) and the prospective ones (after).
    """
    first = int(ds.attrs.get("first_year", int(ds[cv.YEAR].min())))
    last = int(ds.attrs.get("last_accounted_year", int(ds[cv.YEAR].max())))
    periods = [("retrospective", first, last)]
    if int(ds[cv.YEAR].max()) > last:
        periods.append(("prospective", last + 1, int(ds[cv.YEAR].max())))
    rows = [
        ("total demand", "total_demand"),
        ("in-use stock", "stock_total"),
        ("end-of-life flow", "outflow_total"),
    ]
    head = f"{'uncertainty (q2.5, q97.5 vs deterministic)':<44}" + "".join(
        f"{f'{p} {a}-{b}':>26}" for p, a, b in periods
    )
    lines = [head, "-" * len(head)]
    for label, name in rows:
        if name not in ds:
            continue
        cells = ""
        for _, a, b in periods:
            sel = ds[name].sel({cv.YEAR: slice(a, b)})
            det = sel.sel(stat="deterministic")
            with np.errstate(divide="ignore", invalid="ignore"):
                lo = (sel.sel(stat="q025") / det - 1).where(det != 0)
                hi = (sel.sel(stat="q975") / det - 1).where(det != 0)
            lo_v, hi_v = float(lo.min()), float(hi.max())
            cells += f"{_pct(lo_v) + ' / ' + _pct(hi_v, plus=True):>26}"
        lines.append(f"{label:<44}" + cells)
    if "mining_unregistered" in ds and periods:
        t = int(periods[0][2])
        um = ds["mining_unregistered"].sel({cv.YEAR: t})
        text = f"unregistered mining {t}: {float(um.sel(stat='deterministic')):,.0f} t"
        if "mining_unregistered_sd" in ds:
            sd = float(ds["mining_unregistered_sd"].sel({cv.YEAR: t}).sel(stat="deterministic"))
            text += f" ± {sd:,.0f} (reconciled, posterior sd)"
        text += (
            f"; ensemble q2.5 to q97.5: {float(um.sel(stat='q025')):,.0f} to "
            f"{float(um.sel(stat='q975')):,.0f} t"
        )
        lines.append(text)
    sampled = str(ds.attrs.get("sampled_inputs", ""))
    if sampled:
        lines.append(f"sampled inputs (CV by quality flag or stated sd, SPEC §5): {sampled}")
    return "\n".join(lines)


def _pct(v: float, plus: bool = False) -> str:
    if math.isnan(v):
        return "-"
    return f"{100 * v:+.1f} %" if plus else f"{100 * v:.1f} %"
