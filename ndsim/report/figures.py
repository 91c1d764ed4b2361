"""Every figure of an ndsim output file, drawn from the file alone.

:func:`write_all` reads a Dataset that follows the output contract of
SPEC §6 (as written to NetCDF) and writes the figures of SPEC §6 for which
the variables are present: Sankey diagrams (PNG and offline HTML), demand,
in-use stock and end-of-life by product, trade by level, the forecast to the
last year by group, supply against requirement under each supply scenario,
fan charts of ensembles and a tornado plot of sensitivity indices. A figure
whose variables are absent is skipped without a message; nothing here
imports the model.

Colours: one Okabe-Ito hue per product group (SPEC §1), its products as
shades of it (:mod:`ndsim.report.style`).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim.io.atomic import atomic_target
from ndsim.report import _select, sankey, style

DPI = 150


def write_all(
    ds: xr.Dataset,
    out_dir: str | Path,
    years: Iterable[int] | None = None,
    draws: xr.Dataset | None = None,
) -> list[Path]:
    """Write every figure the Dataset has the variables for.

    Parameters
    ----------
    ds : xarray.Dataset
        An ndsim output (SPEC §6): a deterministic run, ensemble summaries
        over `stat`, or per-draw output over `draw`.
    out_dir : str or Path
        Folder for the figures (created if needed). Every file is written
        atomically.
    years : iterable of int, optional
        Extra years for the Sankey diagrams, besides the first and the last
        accounted year. After the last accounted year a Sankey shows use
        and waste only (SPEC §3).
    draws : xarray.Dataset, optional
        Every draw of the ensemble (the ``draws`` group of a ``--full``
        file, :func:`ndsim.report.tables.open_draws`): the bands of demand
        by group are then exact percentiles of each group's sum, not sums
        of per-product percentiles.

    Returns
    -------
    list of Path
        The files written, in the order drawn.

    Examples
    --------
    >>> paths = write_all(xr.open_dataset("ndsim_baseline.nc"), "figures")  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    token = _SCENARIO.set(str(ds.attrs.get("scenario", "")))
    try:
        written = _write_every(ds, out, years, draws)
    finally:
        _SCENARIO.reset(token)
    _forget_previous(out, written)
    return written


#: the file in a figure folder that lists what ndsim wrote there last (nothing else is removed)
MANIFEST = ".ndsim_figures.json"
#: the scenario whose figures are being drawn (stamped on every title)
_SCENARIO: contextvars.ContextVar[str] = contextvars.ContextVar("scenario", default="")


def _forget_previous(out: Path, written: list[Path]) -> None:
    """Remove the figures ndsim wrote in `out` before that this run did not write again.

    Only names listed in the folder's manifest are removed (a user's own files stay); the
    manifest then lists this run's files.
    """
    manifest = out / MANIFEST
    names = sorted({p.name for p in written})
    try:
        before = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        before = []
    for name in before:
        if isinstance(name, str) and name not in names and "/" not in name and name != MANIFEST:
            with contextlib.suppress(OSError):
                (out / name).unlink()
    with atomic_target(manifest) as tmp:
        tmp.write_text(json.dumps({"files": names}, indent=1) + "\n", encoding="utf-8")


def _stamp(fig) -> None:
    """Put the scenario's name in the figure's title (suptitle, else the first axes' title)."""
    name = _SCENARIO.get()
    if not name:
        return
    label = f"scenario {name}"
    if fig.get_suptitle():
        fig.suptitle(f"{fig.get_suptitle()} · {label}", y=fig._suptitle.get_position()[1])
    elif fig.axes and fig.axes[0].get_title():
        ax = fig.axes[0]
        ax.set_title(f"{ax.get_title()} · {label}")
    else:
        fig.suptitle(label)


def _write_every(ds, out, years, draws) -> list[Path]:
    written: list[Path] = []
    written += sankeys(ds, out, years)
    written += demand_by_product(ds, out)
    written += stock_by_product(ds, out)
    written += end_of_life_by_product(ds, out)
    written += fleets_against_ownership(ds, out)
    written += trade_by_level(ds, out)
    written += forecast_demand_by_group(ds, out)
    written += supply_scenarios(ds, out)
    written += forecast_stock_end_of_life(ds, out)
    written += fan_charts(ds, out, draws)
    written += tornado(ds, out)
    return written


# --- helpers ------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    _stamp(fig)
    for ax in fig.axes:  # every axis with its tick labels, also where panels share x
        if ax.get_visible() and len(ax.get_shared_x_axes().get_siblings(ax)) > 1:
            ax.tick_params(labelbottom=True)
    with atomic_target(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return path


def _period(ds: xr.Dataset, end: int | None = None) -> tuple[int, int]:
    ys = _select.years(ds)
    return int(ys[0]), int(end if end is not None else ys[-1])


def _sel_years(da: xr.DataArray, first: int, last: int) -> xr.DataArray:
    return da.sel({cv.YEAR: slice(first, last)})


def product_label(ds: xr.Dataset, product: str) -> str:
    """Legend label of a product: its code and name, the code once.

    An abbreviation (``CV``) is followed by the name ("CV conventional
    vehicles"); a code that is the first word of the name (``glass``,
    ``NiMH``, ``MRI``) or a plain word itself (``catalyst``) is not
    repeated: "glass", "NiMH batteries", "MRI machines", "automotive
    catalytic converters".
    """
    if "name" not in ds.coords or cv.PRODUCT not in ds["name"].dims:
        return product
    name = str(ds["name"].sel({cv.PRODUCT: product}).item()).strip()
    if not name or name == product:
        return product
    if name.lower().split()[0] == product.lower() or product != product.upper():
        return name
    return f"{product} {name}"


def _non_magnet(ds: xr.Dataset) -> set[str]:
    """Products whose category is ``non-magnet`` (hatched in stacked areas)."""
    if "category" not in ds.coords or cv.PRODUCT not in ds["category"].dims:
        return set()
    cat = ds["category"]
    return {
        str(p) for p, c in zip(cat[cv.PRODUCT].values, cat.values, strict=True) if c == "non-magnet"
    }


HATCH = "////"


def _hatch_non_magnet(ds: xr.Dataset, polys, products) -> bool:
    """Hatch the layers of non-magnet end uses; True if any was hatched."""
    non_magnet = _non_magnet(ds)
    hatched = False
    for poly, p in zip(polys, products, strict=True):
        if p in non_magnet:
            poly.set_hatch(HATCH)
            hatched = True
    return hatched


def _forecast_marker(ax, last: int, first: int, end: int) -> None:
    if first < last < end:
        ax.axvline(last + 0.5, color="#555555", lw=0.8, ls=":")
        ax.text(
            last + 1,
            0.97,
            "forecast →",
            transform=ax.get_xaxis_transform(),
            fontsize=8,
            va="top",
            ha="left",
            color="#555555",
        )


def _categories(ds: xr.Dataset) -> dict[str, str] | None:
    """Product -> category (SPEC §1), for the colours; None without the coordinate."""
    if "category" not in ds.coords:
        return None
    return {
        str(p): str(c) for p, c in zip(ds[cv.PRODUCT].values, ds["category"].values, strict=True)
    }


def _stacked_products(
    ds, ax, da: xr.DataArray, groups: dict[str, list[str]], *, legend: bool, extra=()
):
    """Stacked area of a (product, year) array, products in group order and group shades."""
    colours = style.product_colours(groups, _categories(ds))
    order = [p for members in groups.values() for p in members]
    x = da[cv.YEAR].values
    values = np.nan_to_num(da.sel({cv.PRODUCT: order}).transpose(cv.PRODUCT, cv.YEAR).values)
    polys = ax.stackplot(x, values, colors=[colours[p] for p in order], lw=0.3, edgecolor="white")
    if _hatch_non_magnet(ds, polys, order):
        from matplotlib.patches import Patch

        key = Patch(fc="white", ec="#777777", hatch=HATCH, lw=0.5)
        extra = [*extra, (key, "hatched: non-magnet end use")]
    if legend:
        _group_legend(ds, ax, polys, order, groups, extra=extra)
    return polys


def _group_legend(ds, ax, polys, order, groups, loc="upper left", anchor=(1.01, 1.0), extra=()):
    from matplotlib.patches import Patch

    handles, labels = [], []
    by_product = dict(zip(order, polys, strict=True))
    # top of the legend = top of the stack
    for group, members in reversed(groups.items()):
        handles.append(Patch(visible=False))
        labels.append(f"$\\bf{{{group.replace(' ', '~')}}}$")
        for p in reversed(members):
            handles.append(by_product[p])
            labels.append(product_label(ds, p))
    for h, label in extra:
        handles.append(h)
        labels.append(label)
    ax.legend(
        handles,
        labels,
        loc=loc,
        bbox_to_anchor=anchor,
        fontsize=8,
        frameon=False,
        handlelength=1.2,
        borderaxespad=0.0,
    )


def _finish_axis(ax, ylabel: str, first: int, last: int) -> None:
    ax.set_ylabel(ylabel)
    ax.set_xlabel("year")
    ax.set_xlim(first, last)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", lw=0.4, alpha=0.5)
    ax.yaxis.set_major_formatter(_thousands())


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.0f}")


# --- Sankey diagrams ------------------------------------------------------------


def sankey_years(ds: xr.Dataset, years: Iterable[int] | None = None) -> list[int]:
    """The first year, the last accounted year and any requested year, sorted, unique."""
    wanted = [int(_select.years(ds)[0]), _select.last_accounted_year(ds)]
    wanted += [int(y) for y in (years or [])]
    return sorted(set(wanted))


def sankeys(ds: xr.Dataset, out: Path, years: Iterable[int] | None = None) -> list[Path]:
    """``sankey_<year>.png`` and ``sankey_<year>.html`` for the years of :func:`sankey_years`."""
    if not _select.has(ds, "flow"):
        return []
    written = []
    last = _select.last_accounted_year(ds)
    for year in sankey_years(ds, years):
        links = sankey.links_for_year(ds, year)
        title = f"Neodymium flows, {year} [t Nd yr$^{{-1}}$]"
        note = None
        if year > last:
            note = (
                f"After {last} only use and waste are modelled (upstream processes not accounted)."
            )
        neg = sankey.negative_links(ds["flow"], year)
        if not neg.empty:
            parts = [f"{o} → {d} {v:,.0f}" for o, d, v in neg.itertuples(index=False)]
            note = (
                (note + "  " if note else "")
                + "Negative flows not drawn: "
                + "; ".join(parts)
                + "."
            )
        if year <= last and ds.attrs.get("mining_basis") == "concentrate":
            official = float(_select.central(ds["mining"]).sel({cv.YEAR: year}).sum())
            unreg = float(_select.central(ds["mining_unregistered"]).sel({cv.YEAR: year}))
            note = (note + "  " if note else "") + (
                "Flows from the ground count Nd in the ore mined; on the concentrate basis of "
                f"the statistics, official mining is {style.fmt_value(official)} t and "
                f"unregistered mining {style.fmt_value(unreg)} t."
            )
        if _select.is_ensemble(ds):
            note = (note + "  " if note else "") + "Central values (deterministic run or median)."
        scenario = _SCENARIO.get()
        stamp = f" · scenario {scenario}" if scenario else ""
        written.append(
            sankey.draw_png(links, out / f"sankey_{year}.png", title=title + stamp, note=note)
        )
        if "sd" in links and (links["sd"] > 0).any():
            note_html = "hover a flow for its value ± its posterior sd (reconciled upstream)"
        else:
            note_html = None
        written.append(
            sankey.write_html(
                links,
                out / f"sankey_{year}.html",
                title=f"Neodymium flows, {year} [t Nd/yr]{stamp}",
                plotlyjs="directory",
                note=note_html,
            )
        )
    if written:
        written.append(sankey.write_plotlyjs(out))
    return written


# --- retrospective ----------------------------------------------------------------


def _by_product(ds, out, name, filename, title, ylabel, *, end=None, extra=None) -> list[Path]:
    if not _select.has(ds, name):
        return []
    plt = _pyplot()
    first, last = _period(ds, end if end is not None else _select.last_accounted_year(ds))
    da = _sel_years(_select.central(ds[name]), first, last)
    groups = _select.product_groups(ds)
    fig, ax = plt.subplots(figsize=(10, 5.6))
    fig.subplots_adjust(left=0.09, right=0.74, top=0.92, bottom=0.1)
    extra_handles = extra(ax, first, last) if extra is not None else []
    _stacked_products(ds, ax, da, groups, legend=True, extra=extra_handles)
    ax.set_title(title)
    _finish_axis(ax, ylabel, first, last)
    return [_save(fig, out / filename)]


def demand_by_product(ds: xr.Dataset, out: Path) -> list[Path]:
    """``demand_by_product.png``: domestic consumption by product, stacked by group, accounted years.

    The dashed line is `total_demand` (the paper's definition, which leaves
    some end uses out of the sum).
    """

    def total(ax, first, last):
        if not _select.has(ds, "total_demand"):
            return []
        td = _sel_years(_select.central(ds["total_demand"]), first, last)
        (h,) = ax.plot(td[cv.YEAR], td, color="black", lw=1.2, ls="--")
        label = "total demand\n(paper definition)"
        if "in_total_demand" in ds.coords:
            outside = [
                str(n)
                for n, inside in zip(
                    ds["name"].values if "name" in ds.coords else ds[cv.PRODUCT].values,
                    ds["in_total_demand"].values,
                    strict=True,
                )
                if not bool(inside)
            ]
            if outside:  # the stack is larger than the total by definition: say so
                label = "total demand (paper definition:\nwithout " + " and ".join(outside) + ")"
        return [(h, label)]

    return _by_product(
        ds,
        out,
        "domestic_consumption",
        "demand_by_product.png",
        "Domestic consumption of Nd by end use",
        f"demand [{style.FLOW_AXIS}]",
        extra=total,
    )


def stock_by_product(ds: xr.Dataset, out: Path) -> list[Path]:
    """``stock_by_product.png``: in-use stock by product, accounted years."""
    return _by_product(
        ds,
        out,
        "stock",
        "stock_by_product.png",
        "In-use stock of Nd by end use",
        f"in-use stock [{style.STOCK_AXIS}]",
    )


def end_of_life_by_product(ds: xr.Dataset, out: Path) -> list[Path]:
    """``end_of_life_by_product.png``: end-of-life outflow by product, accounted years."""
    return _by_product(
        ds,
        out,
        "outflow",
        "end_of_life_by_product.png",
        "End-of-life flows of Nd by end use",
        f"end-of-life flow [{style.FLOW_AXIS}]",
    )


def fleets_against_ownership(ds: xr.Dataset, out: Path) -> list[Path]:
    """``fleets_against_ownership.png``: the accounted fleet per household or person, by group.

    One panel per ownership statistic: the sum of the members' units in use
    per household (or person), accounted years, against the survey,
    registration or installed-base statistic, with a ±25 % band around it.
    """
    cmp = _select.ownership_comparison(ds)
    if not cmp.data_vars:
        return []
    plt = _pyplot()
    names = list(cmp["group"].values)
    ncol = 4
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.5 * nrow), squeeze=False)
    years = cmp[cv.YEAR].values
    for ax, g in zip(axes.flat, names, strict=False):
        c = cmp.sel(group=g)
        stat = c["statistic"].values
        ax.fill_between(
            years, 0.75 * stat, 1.25 * stat, color=style.OKABE_ITO["grey"], alpha=0.25, lw=0
        )
        ax.plot(years, c["model"].values, color=style.OKABE_ITO["blue"], lw=1.8)
        ax.plot(years, stat, "o", ms=3.5, color=style.OKABE_ITO["vermillion"])
        basis = str(c["basis"].item())
        ax.set_title(g.replace("+", " + "), fontsize=10)
        ax.set_ylabel(f"units per {basis}" if basis else "units", fontsize=8)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    handles = [
        plt.Line2D([], [], color=style.OKABE_ITO["blue"], lw=1.8, label="accounted fleet"),
        plt.Line2D(
            [], [], ls="", marker="o", color=style.OKABE_ITO["vermillion"], label="statistic"
        ),
        plt.matplotlib.patches.Patch(
            color=style.OKABE_ITO["grey"], alpha=0.25, label="statistic ±25 %"
        ),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=9)
    fig.suptitle("Units in use, accounted, against ownership statistics", y=1.0)
    fig.tight_layout(rect=(0, 0.05, 1, 0.98))
    return [_save(fig, out / "fleets_against_ownership.png")]


def trade_by_level(ds: xr.Dataset, out: Path) -> list[Path]:
    """``trade_by_level.png``: registered imports and exports per trade level, unregistered exports."""
    if not (_select.has(ds, "imports") or _select.has(ds, "exports")):
        return []
    plt = _pyplot()
    first, last = _period(ds, _select.last_accounted_year(ds))
    stages = [str(s) for s in ds[cv.STAGE].values]
    ncols = 2
    nrows = int(np.ceil(len(stages) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(11, 3.3 * nrows + 0.6), sharex=True, squeeze=False
    )
    fig.subplots_adjust(left=0.08, right=0.98, top=0.88, bottom=0.1, hspace=0.3, wspace=0.22)
    lines = {}
    for ax, stage in zip(axes.flat, stages, strict=False):
        for name, colour, label in (
            ("exports", style.OKABE_ITO["orange"], "registered exports"),
            ("imports", style.OKABE_ITO["bluish green"], "registered imports"),
        ):
            if _select.has(ds, name):
                da = _sel_years(_select.central(ds[name]).sel({cv.STAGE: stage}), first, last)
                (lines[label],) = ax.plot(da[cv.YEAR], da, color=colour, lw=1.6, label=label)
        if stage == "primary" and _select.has(ds, "exports_unregistered"):
            da = _sel_years(_select.central(ds["exports_unregistered"]), first, last)
            (lines["unregistered exports"],) = ax.plot(
                da[cv.YEAR],
                da,
                color=style.OKABE_ITO["vermillion"],
                lw=1.6,
                ls="--",
                label="unregistered exports",
            )
        ax.set_title(f"{stage} products" if stage != "final" else "final products", fontsize=10)
        _finish_axis(ax, f"trade [{style.FLOW_AXIS}]", first, last)
    for ax in axes.flat[len(stages) :]:
        ax.set_visible(False)
    fig.legend(
        list(lines.values()),
        list(lines),
        loc="upper center",
        ncol=len(lines),
        frameon=False,
        bbox_to_anchor=(0.5, 0.945),
        fontsize=9,
    )
    fig.suptitle("Trade in Nd by level (registered and unregistered)", y=0.99)
    return [_save(fig, out / "trade_by_level.png")]


# --- prospective ------------------------------------------------------------------


def _has_forecast(ds: xr.Dataset) -> bool:
    return int(_select.years(ds)[-1]) > _select.last_accounted_year(ds)


def forecast_demand_by_group(ds: xr.Dataset, out: Path) -> list[Path]:
    """``forecast_demand_by_group.png``: domestic consumption to the last year, a panel per group."""
    if not (_select.has(ds, "domestic_consumption") and _has_forecast(ds)):
        return []
    plt = _pyplot()
    first, end = _period(ds)
    last = _select.last_accounted_year(ds)
    da = _select.central(ds["domestic_consumption"])
    groups = _select.product_groups(ds)
    n = len(groups)
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    # each panel's legend sits to its right: leave room for it beside every column
    fig, axes = plt.subplots(nrows, ncols, figsize=(8.5 * ncols, 3.8 * nrows + 0.5), squeeze=False)
    fig.subplots_adjust(left=0.06, right=0.8, top=0.92, bottom=0.08, hspace=0.32, wspace=0.75)
    palette = style.product_colours(groups, _categories(ds))
    for ax, (group, members) in zip(axes.flat, groups.items(), strict=False):
        colours = [palette[p] for p in members]
        values = np.nan_to_num(da.sel({cv.PRODUCT: members}).transpose(cv.PRODUCT, cv.YEAR).values)
        polys = ax.stackplot(da[cv.YEAR].values, values, colors=colours, lw=0.3, edgecolor="white")
        handles = list(polys[::-1])
        labels = [product_label(ds, p) for p in members][::-1]
        if _hatch_non_magnet(ds, polys, members):
            from matplotlib.patches import Patch

            handles.append(Patch(fc="white", ec="#777777", hatch=HATCH, lw=0.5))
            labels.append("hatched: non-magnet end use")
        ax.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
            frameon=False,
            handlelength=1.2,
        )
        ax.set_title(group, fontsize=11)
        _finish_axis(ax, f"demand [{style.FLOW_AXIS}]", first, end)
        _forecast_marker(ax, last, first, end)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(f"Domestic consumption of Nd by group, {first}-{end}", y=0.985)
    return [_save(fig, out / "forecast_demand_by_group.png")]


def compare_demand_by_group(a: xr.Dataset, b: xr.Dataset, out: Path) -> list[Path]:
    """``compare_demand_by_group.png``: two runs' domestic consumption by group, and the total.

    One panel per forecast group and one for the paper's total demand; each run
    a line style (its scenario in the legend), the groups in their colours.
    """
    plt = _pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [(a, "-"), (b, "--")]
    names = [str(ds.attrs.get("scenario", f"run {i + 1}")) for i, (ds, _) in enumerate(runs)]
    if names[0] == names[1]:
        names = [f"{names[0]} (1)", f"{names[1]} (2)"]
    groups = _select.product_groups(a)
    panels = list(groups.items()) + [("total demand (paper definition)", None)]
    ncols = 3
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.6 * nrows), squeeze=False)
    first = min(int(_select.years(ds)[0]) for ds, _ in runs)
    end = max(int(_select.years(ds)[-1]) for ds, _ in runs)
    last = _select.last_accounted_year(a)
    for i, (ax, (group, members)) in enumerate(zip(axes.flat, panels, strict=False)):
        colour = style.group_colour(group, i) if members else style.OKABE_ITO["grey"]
        drawn = []
        for (ds, ls), name in zip(runs, names, strict=True):
            if members is None:
                da = _select.central(ds["total_demand"])
            else:
                present = [p for p in members if p in ds[cv.PRODUCT].values]
                da = _select.central(ds["domestic_consumption"]).sel({cv.PRODUCT: present})
                da = da.sum(cv.PRODUCT)
            ax.plot(da[cv.YEAR].values, da.values, ls=ls, color=colour, lw=1.8, label=name)
            drawn.append(da)
        a_, b_ = xr.align(*drawn)
        if a_.size and np.allclose(a_.values, b_.values, rtol=1e-9, atol=0.0):
            ax.text(0.03, 0.80, "the two runs coincide", transform=ax.transAxes,
                    fontsize=8, color="#555555")  # fmt: skip
        ax.set_title(group, fontsize=11)
        _finish_axis(ax, f"demand [{style.FLOW_AXIS}]", first, end)
        _forecast_marker(ax, last, first, end)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    # one legend for the figure: the line style names the run, the colour is the panel's group
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="#444444", ls=ls, lw=1.8) for _, ls in runs]
    fig.suptitle(f"Domestic consumption of Nd by group: {names[0]} against {names[1]}", y=1.0)
    fig.tight_layout()
    spare = axes.flat[len(panels)] if len(panels) < axes.size else None
    if spare is not None:  # the empty panel's place
        box = spare.get_position()
        fig.legend(handles, names, loc="center", frameon=False, fontsize=10,
                   bbox_to_anchor=(box.x0 + box.width / 2, box.y0 + box.height / 2))  # fmt: skip
    else:
        fig.legend(handles, names, loc="upper center", ncol=2, frameon=False, fontsize=9,
                   bbox_to_anchor=(0.5, 0.96))  # fmt: skip
    return [_save(fig, out / "compare_demand_by_group.png")]


SUPPLY_VARIABLES = ("primary_supply", "secondary_supply", "supply_requirement")


def _shared_top(axes, arrays, first: int, end: int, stacked=()) -> None:
    """Set the common top of panels sharing y to the largest value drawn, 3 % headroom.

    ``set_ylim(bottom=0)`` on the first of axes sharing y switches their
    autoscaling off, so a later panel with larger values would be clipped.
    `arrays` are the plotted arrays (over `scenario` and `year`, maybe
    `quantile`), `stacked` those drawn stacked on each other.
    """

    def peak(da):
        v = _sel_years(da, first, end)
        return float(v.max(skipna=True)) if bool(v.notnull().any()) else 0.0

    top = max([peak(a) for a in arrays] + [0.0])
    if stacked:
        total = sum(_sel_years(a, first, end).fillna(0.0) for a in stacked)
        top = max(top, float(total.max()))
    if top > 0 and np.isfinite(top):
        for ax in axes:
            ax.set_ylim(0, 1.03 * top)


def supply_scenarios(ds: xr.Dataset, out: Path) -> list[Path]:
    """``supply_scenarios.png``: primary and secondary supply against requirement, per scenario."""
    if not _select.has(ds, *SUPPLY_VARIABLES):
        return []
    plt = _pyplot()
    q = _select.central(ds["primary_supply"])
    r = _select.central(ds["secondary_supply"])
    d = _select.central(ds["supply_requirement"])
    finite = (q.notnull() & d.notnull()).any(cv.SCENARIO)
    if not bool(finite.any()):
        return []
    ys = d[cv.YEAR].values[finite.values]
    first, end = int(ys[0]), int(ys[-1])
    scenarios = [str(s) for s in ds[cv.SCENARIO].values]
    fig, axes = plt.subplots(
        1, len(scenarios), figsize=(4.2 * len(scenarios) + 1, 4.8), sharey=True, squeeze=False
    )
    fig.subplots_adjust(left=0.08, right=0.98, top=0.8, bottom=0.13, wspace=0.08)
    for ax, s in zip(axes.flat, scenarios, strict=True):
        x = np.arange(first, end + 1)
        qs = _sel_years(q.sel({cv.SCENARIO: s}), first, end).values
        rs = _sel_years(r.sel({cv.SCENARIO: s}), first, end).values
        ds_ = _sel_years(d.sel({cv.SCENARIO: s}), first, end).values
        h = ax.stackplot(
            x,
            np.nan_to_num(qs),
            np.nan_to_num(rs),
            colors=[style.OKABE_ITO["sky blue"], style.OKABE_ITO["bluish green"]],
            labels=["primary supply", "secondary supply (recycling)"],
            lw=0,
        )
        (line,) = ax.plot(x, ds_, color="black", lw=1.8, label="requirement")
        ax.set_title(f"scenario {s}", fontsize=11)
        _finish_axis(
            ax, f"supply, requirement [{style.FLOW_AXIS}]" if ax is axes.flat[0] else "", first, end
        )
    _shared_top(axes.flat, [q, r, d], first, end, stacked=(q, r))
    fig.legend(
        [*h, line],
        ["primary supply", "secondary supply (recycling)", "requirement"],
        loc="upper center",
        ncol=3,
        frameon=False,
        bbox_to_anchor=(0.5, 0.91),
        fontsize=9,
    )
    fig.suptitle("Nd supply against requirement under each supply scenario", y=0.985)
    return [_save(fig, out / "supply_scenarios.png")]


def forecast_stock_end_of_life(ds: xr.Dataset, out: Path) -> list[Path]:
    """``forecast_stock_end_of_life.png``: in-use stock and end-of-life to the last year, by group."""
    if not (_select.has(ds, "stock", "outflow") and _has_forecast(ds)):
        return []
    plt = _pyplot()
    first, end = _period(ds)
    last = _select.last_accounted_year(ds)
    groups = _select.product_groups(ds)
    colours = [style.group_colour(g, i) for i, g in enumerate(groups)]
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.8))
    fig.subplots_adjust(left=0.09, right=0.98, top=0.8, bottom=0.12, wspace=0.3)
    for ax, name, title, unit in (
        (axes[0], "stock", "in-use stock", style.STOCK_AXIS),
        (axes[1], "outflow", "end-of-life flow", style.FLOW_AXIS),
    ):
        by_group = _select.sum_by_group(_select.central(ds[name]), groups)
        polys = ax.stackplot(
            by_group[cv.YEAR].values,
            np.nan_to_num(by_group.values),
            colors=colours,
            lw=0.3,
            edgecolor="white",
        )
        ax.set_title(title, fontsize=11)
        _finish_axis(ax, f"{title} [{unit}]", first, end)
        _forecast_marker(ax, last, first, end)
    fig.legend(
        polys,
        list(groups),
        loc="upper center",
        ncol=len(groups),
        frameon=False,
        bbox_to_anchor=(0.5, 0.91),
        fontsize=9,
    )
    fig.suptitle(f"In-use stock and end-of-life flows of Nd by group, {first}-{end}", y=0.985)
    return [_save(fig, out / "forecast_stock_end_of_life.png")]


# --- ensembles ----------------------------------------------------------------------

#: dedicated total variables an ensemble file may hold (exact quantiles of the total)
TOTAL_NAMES = {
    "stock": ("stock_total", "total_stock"),
    "outflow": ("outflow_total", "total_outflow", "end_of_life_total"),
}
APPROX_NOTE = (
    "Bands of a total from per-product percentiles summed (exact only for perfectly "
    "correlated parts; they overstate the spread)."
)


def _fan(ax, q: xr.DataArray, colour: str, label: str, det: xr.DataArray | None = None):
    x = q[cv.YEAR].values
    lo95, hi95 = q.sel(quantile="q025").values, q.sel(quantile="q975").values
    lo50, hi50 = q.sel(quantile="q25").values, q.sel(quantile="q75").values
    h95 = ax.fill_between(x, lo95, hi95, color=colour, alpha=0.22, lw=0, label="95 % band")
    h50 = ax.fill_between(x, lo50, hi50, color=colour, alpha=0.45, lw=0, label="50 % band")
    (hm,) = ax.plot(x, q.sel(quantile="q50").values, color=colour, lw=1.8, label=f"{label} median")
    handles = [hm, h50, h95]
    if det is not None:
        (hd,) = ax.plot(
            det[cv.YEAR].values,
            det.values,
            color="black",
            lw=0.9,
            ls="--",
            label="deterministic run",
        )
        handles.append(hd)
    return handles


def _neutral_handles(with_deterministic: bool) -> list:
    """Legend proxies in grey for panels that each use their group's hue."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    grey = "#555555"
    handles = [
        Line2D([], [], color=grey, lw=1.8),
        Patch(color=grey, alpha=0.45),
        Patch(color=grey, alpha=0.22),
    ]
    if with_deterministic:
        handles.append(Line2D([], [], color="black", lw=0.9, ls="--"))
    return handles


def _deterministic(da: xr.DataArray, reduce=None) -> xr.DataArray | None:
    if cv.STAT in da.dims and "deterministic" in [str(s) for s in da[cv.STAT].values]:
        det = da.sel({cv.STAT: "deterministic"}, drop=True)
        det = reduce(det) if reduce is not None else det
        return det if bool(det.notnull().any()) else None
    return None


def _sum_products(da: xr.DataArray) -> xr.DataArray:
    return da.sum(cv.PRODUCT, min_count=1)


def _total_quantiles(ds: xr.Dataset, name: str):
    """Quantiles of a total over products, and its deterministic value, and whether exact."""
    dedicated = _select.first_variable(ds, *TOTAL_NAMES.get(name, ()))
    if dedicated is not None and _select.quantiles(dedicated) is not None:
        q, exact = _select.quantiles(dedicated)
        return q, _deterministic(dedicated), exact
    if not _select.has(ds, name):
        return None
    res = _select.quantiles(ds[name], _sum_products)
    if res is None:
        return None
    q, exact = res
    return q, _deterministic(ds[name], _sum_products), exact


def fan_charts(ds: xr.Dataset, out: Path, draws: xr.Dataset | None = None) -> list[Path]:
    """Fan charts (median, 50 % and 95 % bands) of an ensemble.

    ``fan_total_demand.png``, ``fan_stock.png``, ``fan_end_of_life.png``,
    ``fan_demand_by_group.png`` and ``fan_supply.png``; nothing without a
    `stat` or `draw` dimension. With `draws` (per-draw output over `draw`)
    the bands of demand by group are exact percentiles of the group sums.
    """
    if not _select.is_ensemble(ds):
        return []
    plt = _pyplot()
    written = []
    last = _select.last_accounted_year(ds)
    colour = style.OKABE_ITO["blue"]
    singles = []
    if _select.has(ds, "total_demand") and _select.quantiles(ds["total_demand"]) is not None:
        q, exact = _select.quantiles(ds["total_demand"])
        singles.append(
            (
                "fan_total_demand.png",
                "Total demand (paper definition)",
                q,
                _deterministic(ds["total_demand"]),
                exact,
                f"total demand [{style.FLOW_AXIS}]",
            )
        )
    for name, filename, title, unit in (
        (
            "stock",
            "fan_stock.png",
            "In-use stock, all end uses",
            f"in-use stock [{style.STOCK_AXIS}]",
        ),
        (
            "outflow",
            "fan_end_of_life.png",
            "End-of-life flow, all end uses",
            f"end-of-life flow [{style.FLOW_AXIS}]",
        ),
    ):
        res = _total_quantiles(ds, name)
        if res is not None:
            singles.append((filename, title, res[0], res[1], res[2], unit))
    for filename, title, q, det, exact, unit in singles:
        fig, ax = plt.subplots(figsize=(9, 5))
        fig.subplots_adjust(left=0.11, right=0.97, top=0.9, bottom=0.16 if not exact else 0.11)
        handles = _fan(ax, q, colour, "ensemble", det)
        first, end = int(q[cv.YEAR].values[0]), int(q[cv.YEAR].values[-1])
        _finish_axis(ax, unit, first, end)
        _forecast_marker(ax, last, first, end)
        ax.legend(handles=handles, loc="upper left", fontsize=9, frameon=False)
        ax.set_title(f"{title}: ensemble median with 50 % and 95 % bands")
        if not exact:
            fig.text(0.01, 0.01, APPROX_NOTE, fontsize=8)
        written.append(_save(fig, out / filename))

    if _select.has(ds, "domestic_consumption"):
        groups = _select.product_groups(ds)

        def by_group(da):
            return _select.sum_by_group(da, groups)

        source = ds["domestic_consumption"]
        if (
            draws is not None
            and "domestic_consumption" in draws.data_vars
            and cv.DRAW in draws["domestic_consumption"].dims
        ):
            source = draws["domestic_consumption"]
        res = _select.quantiles(source, by_group)
        if res is not None:
            q, exact = res
            det = _deterministic(ds["domestic_consumption"], by_group)
            n = len(groups)
            ncols = 2 if n > 1 else 1
            nrows = int(np.ceil(n / ncols))
            fig, axes = plt.subplots(nrows, ncols, figsize=(12, 3.7 * nrows + 0.8), squeeze=False)
            fig.subplots_adjust(
                left=0.08,
                right=0.98,
                top=0.88,
                bottom=0.1 if not exact else 0.07,
                hspace=0.35,
                wspace=0.2,
            )
            first, end = int(q[cv.YEAR].values[0]), int(q[cv.YEAR].values[-1])
            for i, (ax, group) in enumerate(zip(axes.flat, groups, strict=False)):
                handles = _fan(
                    ax,
                    q.sel(group=group),
                    style.group_colour(group, i),
                    "ensemble",
                    det.sel(group=group) if det is not None else None,
                )
                ax.set_title(group, fontsize=11)
                _finish_axis(ax, f"demand [{style.FLOW_AXIS}]", first, end)
                _forecast_marker(ax, last, first, end)
            for ax in axes.flat[n:]:
                ax.set_visible(False)
            handles = _neutral_handles(det is not None)
            fig.legend(
                handles,
                ["median", "50 % band", "95 % band", "deterministic run"][: len(handles)],
                loc="upper center",
                ncol=4,
                frameon=False,
                bbox_to_anchor=(0.5, 0.95),
                fontsize=9,
            )
            fig.suptitle(
                "Domestic consumption by group: ensemble median with 50 % and 95 % bands", y=0.99
            )
            if not exact:
                fig.text(0.01, 0.01, APPROX_NOTE.replace("a total", "a group"), fontsize=8)
            written.append(_save(fig, out / "fan_demand_by_group.png"))

    if _select.has(ds, "primary_supply", "secondary_supply", "supply_requirement"):
        parts = {
            name: _select.quantiles(ds[name])
            for name in ("supply_requirement", "primary_supply", "secondary_supply")
        }
        if all(p is not None for p in parts.values()):
            d = parts["supply_requirement"][0]
            finite = d.sel(quantile="q50").notnull().any(cv.SCENARIO)
            if bool(finite.any()):
                ys = d[cv.YEAR].values[finite.values]
                first, end = int(ys[0]), int(ys[-1])
                scenarios = [str(s) for s in ds[cv.SCENARIO].values]
                fig, axes = plt.subplots(
                    1,
                    len(scenarios),
                    figsize=(4.2 * len(scenarios) + 1, 4.8),
                    sharey=True,
                    squeeze=False,
                )
                fig.subplots_adjust(left=0.08, right=0.98, top=0.8, bottom=0.13, wspace=0.08)
                kinds = (
                    ("supply_requirement", "black", "requirement"),
                    ("primary_supply", style.OKABE_ITO["blue"], "primary supply"),
                    ("secondary_supply", style.OKABE_ITO["bluish green"], "secondary supply"),
                )
                for ax, s in zip(axes.flat, scenarios, strict=True):
                    handles = []
                    for name, c, label in kinds:
                        q = _sel_years(parts[name][0].sel({cv.SCENARIO: s}), first, end)
                        handles.append(_fan(ax, q, c, label)[0])
                    ax.set_title(f"scenario {s}", fontsize=11)
                    _finish_axis(
                        ax,
                        f"supply, requirement [{style.FLOW_AXIS}]" if ax is axes.flat[0] else "",
                        first,
                        end,
                    )
                _shared_top(
                    axes.flat,
                    [parts[k[0]][0].sel(quantile=["q975", "q50"]) for k in kinds],
                    first,
                    end,
                )
                fig.legend(
                    handles,
                    [k[2] + " (median; bands 50 % and 95 %)" for k in kinds],
                    loc="upper center",
                    ncol=3,
                    frameon=False,
                    bbox_to_anchor=(0.5, 0.91),
                    fontsize=9,
                )
                fig.suptitle(
                    "Nd supply against requirement: ensemble bands per supply scenario", y=0.985
                )
                written.append(_save(fig, out / "fan_supply.png"))
    return written


TORNADO_TOP = 12


def tornado(ds: xr.Dataset, out: Path, top: int = TORNADO_TOP) -> list[Path]:
    """``tornado.png``: the inputs that drive each target's uncertainty, largest first.

    Reads a variable ``sensitivity`` over (input, target), e.g. the share of
    variance of each target explained by each input (squared standardised
    regression coefficients), dimensionless. Each panel shows the `top`
    inputs of one target; the sum of the rest is printed under it. Where
    signed coefficients ``sensitivity_src`` are present, a bar is blue if
    the target rises with the input and vermillion if it falls; the
    coefficient of determination ``sensitivity_r2`` of each target (and its
    adjusted value ``sensitivity_r2_adjusted``), when present, is given in
    the panel title. Nothing is drawn when every index is NaN (too few draws
    to fit the inputs).
    """
    if not _select.has(ds, "sensitivity"):
        return []
    da = _select.central(ds["sensitivity"])
    if not {"input", "target"} <= set(da.dims) or bool(da.isnull().all()):
        return []  # all NaN: too few draws to fit the inputs (the summary says so)
    sign = None
    if _select.has(ds, "sensitivity_src"):
        src = _select.central(ds["sensitivity_src"])
        if {"input", "target"} <= set(src.dims):
            sign = src
    r2 = None
    if _select.has(ds, "sensitivity_r2"):
        r2 = _select.central(ds["sensitivity_r2"])
        r2 = r2 if r2.dims == ("target",) else None
    r2_adj = None
    if r2 is not None and _select.has(ds, "sensitivity_r2_adjusted"):
        r2_adj = _select.central(ds["sensitivity_r2_adjusted"])
    plt = _pyplot()
    from matplotlib.patches import Patch

    targets = [str(t) for t in da["target"].values]
    n_bars = min(top, da.sizes["input"])
    fig, axes = plt.subplots(
        1, len(targets), figsize=(4.6 * len(targets) + 0.6, 0.34 * n_bars + 2.4), squeeze=False
    )
    fig.subplots_adjust(left=0.1, right=0.98, top=0.78, bottom=0.16, wspace=0.75)
    units = ds["sensitivity"].attrs.get("units", "1")
    label = ds["sensitivity"].attrs.get("long_name", "sensitivity index")
    for ax, target in zip(axes.flat, targets, strict=True):
        v = da.sel(target=target).to_series().dropna()
        v = v.reindex(v.abs().sort_values(ascending=False).index)
        shown, rest = v.iloc[:n_bars][::-1], v.iloc[n_bars:]
        if sign is not None:
            sg = sign.sel(target=target).to_series().reindex(shown.index).fillna(0.0)
        else:
            sg = shown
        colours = [
            style.OKABE_ITO["vermillion"] if x < 0 else style.OKABE_ITO["blue"] for x in sg.values
        ]
        ax.barh([str(i) for i in shown.index], shown.values, color=colours)
        ax.axvline(0, color="black", lw=0.8)
        title = target
        if r2 is not None and target in [str(t) for t in r2["target"].values]:
            fit = f"linear fit R² {float(r2.sel(target=target)):.2f}"
            if r2_adj is not None:
                fit += f", adjusted {float(r2_adj.sel(target=target)):.2f}"
            title += f"\n({fit})"
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="y", labelsize=8.5)
        ax.grid(axis="x", lw=0.4, alpha=0.5)
        if len(rest):
            ax.text(
                0.98,
                0.02,
                f"{len(rest)} other inputs: {rest.abs().sum():.2g} in all",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=7.5,
                color="#555555",
            )
    fig.supxlabel(f"{label} [{units}]", fontsize=10, y=0.02)
    if sign is not None:
        # a legend entry only for a colour that is drawn
        drawn = {style.OKABE_ITO["blue"]: False, style.OKABE_ITO["vermillion"]: False}
        for target in targets:
            v = da.sel(target=target).to_series().dropna()
            v = v.reindex(v.abs().sort_values(ascending=False).index).iloc[:n_bars]
            sg = sign.sel(target=target).to_series().reindex(v.index).fillna(0.0)
            drawn[style.OKABE_ITO["blue"]] |= bool((sg >= 0).any())
            drawn[style.OKABE_ITO["vermillion"]] |= bool((sg < 0).any())
        entries = [
            (Patch(color=c), t)
            for c, t in (
                (style.OKABE_ITO["blue"], "target rises with the input"),
                (style.OKABE_ITO["vermillion"], "target falls as the input rises"),
            )
            if drawn[c]
        ]
        fig.legend(
            [e[0] for e in entries],
            [e[1] for e in entries],
            loc="upper center",
            ncol=max(len(entries), 1),
            frameon=False,
            bbox_to_anchor=(0.5, 0.9),
            fontsize=9,
        )
    fig.suptitle(
        f"What drives the uncertainty: the {n_bars} largest contributions per target", y=0.98
    )
    return [_save(fig, out / "tornado.png")]
