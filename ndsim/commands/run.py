"""``ndsim run``: run a scenario, write the NetCDF file and the figures, print a summary.

A thin shell: parse -> load and check (before computing) -> run -> write.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ndsim.commands._common import add_shared_options, write_figures

if TYPE_CHECKING:  # numpy and xarray load when a run starts, not for --help
    import xarray as xr

HELP = "run a scenario: NetCDF results, figures and a summary table"
DEFAULT_OUTPUT_DIR = Path("ndsim_output")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "run",
        help=HELP,
        description=(
            "Run a scenario (default: the shipped baseline, the paper-style China Nd case) and "
            "write one NetCDF file and the figures. SCENARIO is a TOML file or the name of a "
            "shipped scenario (baseline, literature_lifetimes, recycling_30, recycling_60)."
        ),
    )
    p.add_argument("scenario", nargs="?", default=None, metavar="SCENARIO")
    add_shared_options(p, "ndsim_output/<scenario>/<scenario>.nc")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from ndsim import pipeline
    from ndsim.commands._common import (
        check_output_file,
        check_output_folder,
        say_compiling,
        violations_as_lines,
        write_failed,
    )
    from ndsim.inputs import prepare
    from ndsim.io.lock import output_locks
    from ndsim.io.writers import write_netcdf

    if args.output is not None:
        check_output_file(args.output, "--output")
    if args.figures is not None:
        check_output_folder(args.figures, "--figures")
    scenario, data, note = _default_data(args.scenario, args.data)
    inputs, sc = prepare(scenario, data=data)
    from ndsim.validate import long_lifetimes

    for line in long_lifetimes(inputs, sc.run.lifetime_variant):
        print(f"ndsim: warning: {line}", file=sys.stderr)
    if note:
        print(note)
        sc = _without_case_parameters(sc)
    folder = DEFAULT_OUTPUT_DIR / sc.name  # each scenario its own folder
    output = Path(args.output) if args.output else folder / f"{sc.name}.nc"
    figures = None
    if not args.no_figures:
        figures = Path(args.figures) if args.figures else output.parent / "figures"
        check_output_folder(figures, "--figures")
    check_output_file(output, "--output")

    # every check passed: take the outputs (one run owns them), compute, then write
    # (each file atomically)
    with output_locks(output, figures):
        say_compiling()
        with violations_as_lines():
            result = pipeline.run(inputs, sc)
        try:
            written = write_netcdf(result, output)
            print(f"results: {written}")
            if figures is not None:
                write_figures(result, figures)
        except OSError as exc:
            return write_failed(exc)
    print()
    print(summary(result))
    return 0


def _default_data(scenario, data):
    """The China data set, or the tiny invented example while the default data set is not built."""
    from ndsim.resources import data_dir

    if scenario is not None or data is not None or (data_dir() / "dataset.toml").is_file():
        return scenario, data, None
    tiny = Path(__file__).resolve().parents[2] / "tests" / "data" / "tiny"
    if not (tiny / "dataset.toml").is_file():
        return scenario, data, None
    return (
        None,
        tiny,
        "note: the default data set is not available in this build; running the tiny invented "
        "example data set instead (accounting only)",
    )


def _without_case_parameters(sc):
    import dataclasses

    from ndsim.scenario import ForecastOptions

    return dataclasses.replace(sc, name="tiny_example", forecast=ForecastOptions(enabled=False))


# --- the summary table ----------------------------------------------------------
def summary(ds: xr.Dataset) -> str:
    """A plain-text summary of a run: accounting, forecast, supply scenarios, plausibility."""
    if "draw" in ds.dims:
        ds = ds.mean("draw")
    first = int(ds.attrs.get("first_year", int(ds.year.min())))
    last = int(ds.attrs.get("last_accounted_year", int(ds.year.max())))
    end = int(ds.year.max())
    parts = [_accounting_table(ds, (first, last))]
    for note in (
        _negative_unregistered(ds, first, last),
        _reconciliation_note(ds, first, last),
        _units_note(ds, first, last),
    ):
        if note:
            parts.append(note)
    if end > last:
        parts.append(_forecast_table(ds, last, end))
        decline = _clipped_decline(ds, last, end)
        if decline:
            parts.append(decline)
        if "supply_gap" in ds:
            parts.append(_supply_table(ds, end))
        plaus = _plausibility(ds, last, end)
        if plaus:
            parts.append(plaus)
    return "\n\n".join(parts)


def _accounting_table(ds: xr.Dataset, years) -> str:
    import numpy as np

    sel = ds.sel(year=list(years))
    exports = sel["exports"].sum("stage", skipna=False) + sel["exports_unregistered"]
    net_exports = exports - sel["imports"].sum("stage", skipna=False)
    rows = [
        ("total mining (official + unregistered)", sel["mining_total"]),
        ("unregistered mining", sel["mining_unregistered"]),
        ("total demand (paper definition)", sel["total_demand"]),
        ("in-use stock [t]", sel["stock"].sum("product")),
        ("end-of-life flow", sel["outflow"].sum("product")),
        ("net exports, all levels incl. unregistered", net_exports),
    ]
    head = f"{'accounting [t/yr]':<46}" + "".join(f"{y:>10}" for y in years)
    lines = [head, "-" * len(head)]
    for label, da in rows:
        lines.append(f"{label:<46}" + "".join(f"{_fmt(v):>10}" for v in np.asarray(da.values)))
    if "reconciliation_dof" in ds:
        lines.append(
            "upstream reconciled: mining, refining and fabrication by weighted least squares "
            "against their measurements (SPEC §3; table below)."
        )
    else:
        lines.append(
            "upstream residual: unregistered mining is what the chain needs beyond official "
            "output and depends almost one for one on the process yields (SPEC §3)."
        )
    return "\n".join(lines)


#: measurements adjusted by more than this many standard deviations are listed
ADJUSTMENT_LIMIT = 2.0


def _reconciliation_note(ds: xr.Dataset, first: int, last: int) -> str:
    """Per year: measurements, unknowns, dof, the chi2 test, unregistered mining with its sd."""
    if "reconciliation_dof" not in ds:
        return ""
    from ndsim.reconcile import chi2_sf

    names = ["reconciliation_dof", "reconciliation_chi2", "reconciliation_measurements"]
    names += ["reconciliation_unknowns", "mining_unregistered_sd", "reconciliation_adjustment"]
    names += ["mining", "mining_unregistered", "intermediate_production", "imports", "exports"]
    sel = ds[names].sel(year=slice(first, last))  # what the note reads, not the whole result
    head = (
        f"{'reconciliation':<15}{'measured':>9}{'unknown':>9}{'dof':>5}{'chi2':>9}"
        f"{'p (chi2)':>10}   unregistered mining [t/yr]"
    )
    lines = [head, "-" * len(head)]
    no_test = []
    for i, y in enumerate(sel.year.values):
        dof = int(sel["reconciliation_dof"].values[i])
        c2 = float(sel["reconciliation_chi2"].values[i])
        test = f"{c2:>9.2f}{chi2_sf(c2, dof):>10.3f}" if dof > 0 else f"{'no test':>19}"
        if dof == 0:
            no_test.append(int(y))
        um = float(sel["mining_unregistered"].values[i])
        sd = float(sel["mining_unregistered_sd"].values[i])
        lines.append(
            f"{int(y):<15}{int(sel['reconciliation_measurements'].values[i]):>9}"
            f"{int(sel['reconciliation_unknowns'].values[i]):>9}{dof:>5}{test}   "
            f"{_fmt(um):>8} ± {_fmt(sd)}"
        )
    if no_test:
        lines.append(
            f"no test in {', '.join(map(str, no_test))}: dof 0, the reconciled flows equal the "
            "residual ones there."
        )
    negative = []
    for name in ("mining", "mining_unregistered", "intermediate_production", "imports", "exports"):
        da = sel[name]
        other = [d for d in da.dims if d != "year"]
        below = (da < 0).any(other) if other else da < 0
        negative += [f"{name} {int(y)}" for y in da.year.values[below.values]]
    if negative:
        lines.append(
            "negative reconciled flows (reported, not clipped): "
            + ", ".join(negative[:12])
            + (", ..." if len(negative) > 12 else "")
        )
    adj = sel["reconciliation_adjustment"]
    big = adj.where(abs(adj) > ADJUSTMENT_LIMIT).to_series().dropna()
    if len(big):
        lines.append(f"measurements adjusted by more than {ADJUSTMENT_LIMIT:g} sd:")
        for name, group in big.groupby(level=0, sort=False):
            years = [f"{int(y)} ({v:+.1f})" for (_, y), v in group.items()]
            lines.append(f"  {name}: {', '.join(years)}")
    else:
        lines.append(f"no measurement adjusted by more than {ADJUSTMENT_LIMIT:g} sd.")
    return "\n".join(lines)


def _clipped_decline(ds: xr.Dataset, last: int, end: int) -> str:
    """The fleet declines the forecast could not follow (decline policy ``clip``), when present."""
    import numpy as np

    lines = []
    for name, unit in (("unmet_fleet_decline", "units"), ("unmet_stock_decline", "t")):
        if name not in ds:
            continue
        da = ds[name].sel(year=slice(last + 1, end)).transpose("product", "year")
        all_years = da["year"].values
        for p, v in zip(da["product"].values, da.values, strict=True):
            years = all_years[v > 0]
            if years.size:  # some value > 0: its maximum is not NaN
                lines.append(
                    f"  {p}: {years.size} year(s) {int(years[0])}-{int(years[-1])}, at most "
                    f"{_fmt(float(np.nanmax(v)))} {unit} above the target"
                )
    if not lines:
        return ""
    return (
        "clipped declines (decline_policy clip: the target fell faster than units retire, so "
        "sales were set to 0 and the excess stays in use):\n" + "\n".join(lines)
    )


def _negative_unregistered(ds: xr.Dataset, first: int, last: int) -> str:
    """A note on the years where unregistered mining is below zero (a result, SPEC §3)."""
    import numpy as np

    if "mining_unregistered" not in ds:
        return ""
    um = ds["mining_unregistered"].sel(year=slice(first, last))
    years = [int(y) for y in um.year.values[np.asarray(um.values) < 0]]
    if not years:
        return ""
    return (
        f"note: unregistered mining is below zero in {len(years)} year(s) "
        f"({', '.join(map(str, years[:8]))}{', ...' if len(years) > 8 else ''}): the registered "
        "supply exceeds what the flows require. This is a result of the data, not an error."
    )


#: SPEC §2.1: an intensity calibration factor outside this band is flagged
CALIBRATION_BAND = (0.5, 2.0)
#: the fleet check: accounted ownership within this share of the statistic
OWNERSHIP_TOLERANCE = 0.25


def _units_note(ds: xr.Dataset, first: int, last: int) -> str:
    """Units first (SPEC §2.1-2.2): the history, flagged calibration factors, the fleet check."""
    import numpy as np

    from ndsim.report._select import ownership_comparison

    lines = []
    if "use_stage_history" in ds.attrs:
        start = ds.attrs.get("history_first_year", first)
        lines.append(
            f"products in units first, Nd per cohort; use stage from {start} "
            f"(history {ds.attrs['use_stage_history']})"
        )
    if "intensity_calibration" in ds:
        k = ds["intensity_calibration"]
        lo, hi = CALIBRATION_BAND
        out = [
            f"{p} {float(v):.3g}"
            for p, v in zip(k["product"].values, k.values, strict=True)
            if not lo <= float(v) <= hi
        ]
        if out:
            lines.append(
                f"intensity calibration k outside [{lo:g}, {hi:g}] (statistic and paper count "
                f"different things): {', '.join(out)}"
            )
    cmp = ownership_comparison(ds)
    if cmp.data_vars:
        ratio = cmp["ratio"].sel(year=slice(max(first, last - 7), last)).values
        ok = np.isfinite(ratio)
        inside = ok & (np.abs(ratio - 1) <= OWNERSHIP_TOLERANCE)
        y0 = max(first, last - 7)
        lines.append(
            f"fleets within ±{OWNERSHIP_TOLERANCE:.0%} of the ownership statistics in "
            f"{int(inside.sum())} of {int(ok.sum())} group-years {y0}-{last} "
            "(docs/validation.md)"
        )
    return "\n".join(lines)


def _report_years(ds: xr.Dataset, key: str) -> tuple[int, ...]:
    """The data set's report years (``summary_years``, ``supply_years``) the file carries."""
    import numpy as np

    return tuple(int(y) for y in np.atleast_1d(ds.attrs.get(key, ())))


def _forecast_table(ds: xr.Dataset, last: int, end: int) -> str:
    years = [y for y in (last, *_report_years(ds, "summary_years"), end) if last <= y <= end]
    years = sorted(set(years))
    head = f"{'forecast [t/yr]':<46}" + "".join(f"{y:>10}" for y in years)
    lines = [head, "-" * len(head)]
    for label, da in (
        ("total demand (paper definition)", ds["total_demand"]),
        ("use-stage inflow", ds["inflow"].sum("product")),
        ("in-use stock [t]", ds["stock"].sum("product")),
        ("end-of-life flow", ds["outflow"].sum("product")),
    ):
        lines.append(f"{label:<46}" + "".join(f"{_fmt(float(da.sel(year=y))):>10}" for y in years))
    return "\n".join(lines)


def _supply_table(ds: xr.Dataset, end: int) -> str:
    """Per supply scenario: primary and secondary supply, the gap and the recycling it needs.

    A negative gap is oversupply: printed as such, never as a negative rate (SPEC §4).
    """
    years = [y for y in _report_years(ds, "supply_years") if y <= end] or [end]
    head = f"{'supply [t/yr]':<14}{'first deficit':>14}" + "".join(
        f"{'primary ' + str(y):>14}{'recycled ' + str(y):>15}{'gap ' + str(y):>11}"
        f"{'r* ' + str(y):>13}{'share ' + str(y):>12}"
        for y in years
    )
    lines = [head, "-" * len(head)]
    # (scenario, year) arrays, read by position: a .sel per cell costs milliseconds
    names = ["primary_supply", "secondary_supply", "supply_gap", "required_recycling_rate"]
    names += ["required_recycling_share_of_supply"]
    table = {v: ds[v].transpose("scenario", "year") for v in names}
    at = [int(i) for i in ds.indexes["year"].get_indexer(years)]
    if min(at) < 0:
        raise KeyError(f"supply years {years} not all in the result's years")
    gaps = table["supply_gap"].values
    for k, s in enumerate(ds["scenario"].values):
        deficit = ds["year"].values[gaps[k] > 0]
        first = "none" if deficit.size == 0 else str(int(deficit.min()))
        cells = ""
        for j in at:
            q, r, g, rate, share = (float(table[v].values[k, j]) for v in names)
            if rate < 0:
                rate_text, share_text = "oversupply", "oversupply"
            else:
                rate_text = _pct(rate) + ("!" if rate > 1 else "")
                share_text = _pct(share)
            gap_text = _fmt(g) if g >= 0 else f"({_fmt(-g)})"
            cells += f"{_fmt(q):>14}{_fmt(r):>15}{gap_text:>11}{rate_text:>13}{share_text:>12}"
        lines.append(f"{str(s):<14}{first:>14}" + cells)
    lines.append(
        "gap = requirement - primary - recycled; (x): oversupply of x. r*: recycling rate of "
        "end-of-life flow that closes the gap with primary supply ('!': above 100 %, not "
        "reachable); 'oversupply': primary supply alone exceeds the requirement. share: "
        "recycled share of total supply. Recycled: the scenario's own recycling."
    )
    return "\n".join(lines)


def _plausibility(ds: xr.Dataset, last: int, end: int) -> str:
    """Units per year and per person with the flags of the sourced bounds (SPEC §2.4)."""
    import numpy as np

    if "units_sales" not in ds:
        return ""
    from ndsim.forecast import plausibility_table

    table = plausibility_table(ds, (last, end))
    text = (
        "is it physically plausible? (units sold into use per year, units in use per person; "
        "bounds: the data set's plausibility.csv)\n"
        + table.to_string(float_format=lambda v: _fmt(v))
    )
    if "plausibility_flag" in ds:
        flag = ds["plausibility_flag"].sel(year=slice(last + 1, end)).transpose("product", "year")
        above = []
        for p, f in zip(flag["product"].values, flag.values, strict=True):
            if np.nanmax(np.nan_to_num(f, nan=0.0)) > 0:
                above.append(f"{p} from {int(flag.year.values[np.argmax(f > 0)])}")
        if above:
            text += "\nabove a sourced bound: " + ", ".join(above) + " (plausibility_flag)"
    return text


def _fmt(v: float) -> str:
    v = float(v)
    if math.isnan(v):
        return "-"
    if abs(v) >= 1e6:
        return f"{v:.3g}"
    if abs(v) < 100:
        return f"{v:.3g}"
    return f"{v:,.0f}"


def _pct(v: float) -> str:
    return "-" if math.isnan(v) else f"{100 * v:.0f} %"
