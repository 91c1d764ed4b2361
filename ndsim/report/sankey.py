"""Sankey diagrams of the `flow` variable: static PNG (matplotlib) and offline HTML (plotly).

The `flow` variable of an output file (SPEC §6) holds every inter-process
flow over (origin, destination, year); :func:`sankey_links` turns one year
of it into a list of links, :func:`layout` places the processes as columns
in chain order (SPEC §1) and the sources, trade, losses and landfill as
small terminal nodes between them, and :func:`draw_png` / :func:`write_html`
draw that layout. Link widths are proportional to the flow [t yr-1].

After the last accounted year the upstream processes are not modelled
(SPEC §3), so the Sankey of such a year shows use and waste only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ndsim import conventions as cv
from ndsim.io.atomic import atomic_target
from ndsim.report import _select, style

#: processes shown after the last accounted year (SPEC §3)
FORECAST_PROCESSES = ("use", "waste")


def sankey_links(
    flow: xr.DataArray, year: int | None = None, *, only: Collection[str] | None = None
) -> pd.DataFrame:
    """The links of a Sankey diagram: one row per positive flow.

    Parameters
    ----------
    flow : xarray.DataArray
        The `flow` variable (origin, destination[, year]) [t yr-1]; a `stat`
        or `draw` dimension is reduced to its central value first
        (:func:`ndsim.report._select.central`).
    year : int, optional
        The year to select; required when `flow` has a `year` dimension.
    only : collection of str, optional
        Keep only links with an origin or destination in this set (e.g. the
        processes ``use`` and ``waste`` after the accounted period).

    Returns
    -------
    pandas.DataFrame
        Columns ``origin``, ``destination``, ``value`` [t yr-1] and ``kind``
        (chain, import, export, unregistered, loss, recycling, source), in
        the node order of :data:`ndsim.conventions.NODES`. Missing (NaN),
        zero and negative flows are left out; see :func:`negative_links`.

    Examples
    --------
    >>> links = sankey_links(ds["flow"], 2017)  # doctest: +SKIP
    """
    values = _flow_matrix(flow, year)
    rows = []
    for origin in _ordered(values.index):
        for destination in _ordered(values.columns):
            v = float(values.at[origin, destination])
            if np.isfinite(v) and v > 0:
                if only is not None and origin not in only and destination not in only:
                    continue
                kind = style.link_kind(origin, destination, cv.PROCESSES)
                rows.append((origin, destination, v, kind))
    links = pd.DataFrame(rows, columns=["origin", "destination", "value", "kind"])
    if only is not None:
        links.attrs["processes"] = tuple(p for p in cv.PROCESSES if p in only)
    return links


def negative_links(flow: xr.DataArray, year: int | None = None) -> pd.DataFrame:
    """Flows that are negative (e.g. a negative unregistered mining, SPEC §3): not drawable."""
    values = _flow_matrix(flow, year)
    stacked = values.stack()
    neg = stacked[stacked < 0]
    return pd.DataFrame(
        [(o, d, float(v)) for (o, d), v in neg.items()], columns=["origin", "destination", "value"]
    )


def links_for_year(ds: xr.Dataset, year: int) -> pd.DataFrame:
    """Links of the Sankey of `year` from an output Dataset (use and waste only after accounting).

    With a reconciled upstream (``flow_sd``), a column ``sd`` holds each link's posterior
    standard deviation [t yr-1] (0 for flows held fixed).
    """
    only = FORECAST_PROCESSES if year > _select.last_accounted_year(ds) else None
    links = sankey_links(ds["flow"], year, only=only)
    if "flow_sd" in ds and len(links):
        sd = _flow_matrix(ds["flow_sd"], year)
        links["sd"] = [
            float(sd.at[o, d]) for o, d in zip(links["origin"], links["destination"], strict=True)
        ]
    return links


def _flow_matrix(flow: xr.DataArray, year: int | None) -> pd.DataFrame:
    flow = _select.central(flow)
    if cv.YEAR in flow.dims:
        if year is None:
            raise ValueError("flow has a year dimension: give the year")
        flow = flow.sel({cv.YEAR: year})
    flow = flow.transpose(cv.ORIGIN, cv.DESTINATION)
    return pd.DataFrame(
        np.asarray(flow.values, dtype=float),
        index=[str(o) for o in flow[cv.ORIGIN].values],
        columns=[str(d) for d in flow[cv.DESTINATION].values],
    )


def _ordered(names) -> list[str]:
    rank = {n: i for i, n in enumerate(cv.NODES)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


# --- layout ---------------------------------------------------------------


@dataclass
class Node:
    """A box of the diagram: a process or a terminal (source, trade, loss)."""

    key: tuple[str, str, str]  # (name, process it attaches to, "in" | "out" | "process")
    label: str
    x: float  # column centre [column units]
    y0: float  # top [t yr-1]
    height: float  # [t yr-1]
    total_in: float = 0.0
    total_out: float = 0.0


@dataclass
class Ribbon:
    """A link drawn between two ports."""

    origin: str
    destination: str
    value: float
    kind: str
    x0: float
    y0: float  # top of the port at the origin
    x1: float
    y1: float  # top of the port at the destination
    backward: bool = False


@dataclass
class Layout:
    nodes: dict[tuple[str, str, str], Node] = field(default_factory=dict)
    ribbons: list[Ribbon] = field(default_factory=list)
    width: float = 0.0  # [column units]
    bottom: float = 0.0  # lowest drawn y [t yr-1]
    backward_y: float = 0.0  # y of the bottom lane of backward links


NODE_WIDTH = 0.12
TERMINAL_WIDTH = 0.06


def layout(links: pd.DataFrame, *, label_height: float = 0.0, gap: float | None = None) -> Layout:
    """Place processes as columns in chain order and terminals between them.

    Processes that are the origin or destination of a link are drawn at
    x = 1, 3, 5, …; the external nodes of a process (sources, imports,
    exports, losses, landfill, or a process not drawn) become terminals in
    the column just before it (inputs) or after it (outputs), stacked below
    the chain flows. Backward links (recycling) run in a lane under the
    diagram. All y values are in the units of the flow [t yr-1], downward.

    Parameters
    ----------
    links : pandas.DataFrame
        Output of :func:`sankey_links`; ``links.attrs["processes"]``, when
        set, limits the processes drawn as columns (the others become
        terminals).
    label_height : float
        Vertical room kept under each terminal for its label [t yr-1].
    gap : float, optional
        Vertical space between stacked terminals [t yr-1]; default 4 % of
        the largest process throughput.
    """
    out = Layout()
    if links.empty:
        return out
    present = set(links["origin"]) | set(links["destination"])
    drawn = links.attrs.get("processes", cv.PROCESSES)
    procs = [p for p in cv.PROCESSES if p in present and p in drawn]
    col = {p: 2 * i + 1 for i, p in enumerate(procs)}
    out.width = 2 * len(procs)
    ins = {p: links[links["destination"] == p] for p in procs}
    outs = {p: links[links["origin"] == p] for p in procs}
    throughput = {p: max(ins[p]["value"].sum(), outs[p]["value"].sum()) for p in procs}
    gap = gap if gap is not None else 0.04 * max(throughput.values())

    for p in procs:
        out.nodes[(p, p, "process")] = Node(
            (p, p, "process"),
            style.NODE_LABELS.get(p, p),
            col[p],
            0.0,
            throughput[p],
            float(ins[p]["value"].sum()),
            float(outs[p]["value"].sum()),
        )

    def is_process(name: str) -> bool:
        return name in col

    def rank(name: str) -> int:
        return cv.NODES.index(name) if name in cv.NODES else len(cv.NODES)

    # ports: left side of each process, top to bottom: forward links from processes, then
    # external inputs, then backward links; right side likewise
    left_y = dict.fromkeys(procs, 0.0)
    right_y = dict.fromkeys(procs, 0.0)
    port_in: dict[tuple[str, str], float] = {}
    port_out: dict[tuple[str, str], float] = {}
    for p in procs:
        rows = ins[p].to_dict("records")
        fwd = sorted(
            (r for r in rows if is_process(r["origin"]) and col[r["origin"]] < col[p]),
            key=lambda r: -col[r["origin"]],
        )
        ext = sorted(
            (r for r in rows if not is_process(r["origin"])), key=lambda r: rank(r["origin"])
        )
        back = [r for r in rows if is_process(r["origin"]) and col[r["origin"]] >= col[p]]
        for r in fwd + ext + back:
            port_in[(r["origin"], p)] = left_y[p]
            left_y[p] += r["value"]
        rows = outs[p].to_dict("records")
        fwd = sorted(
            (r for r in rows if is_process(r["destination"]) and col[r["destination"]] > col[p]),
            key=lambda r: col[r["destination"]],
        )
        ext = sorted(
            (r for r in rows if not is_process(r["destination"])),
            key=lambda r: rank(r["destination"]),
        )
        back = [r for r in rows if is_process(r["destination"]) and col[r["destination"]] <= col[p]]
        for r in fwd + ext + back:
            port_out[(p, r["destination"])] = right_y[p]
            right_y[p] += r["value"]

    # terminals: per between-column x, inputs of the process on the right first (just under
    # the chain flow into it, so their links stay short and cross nothing), then outputs of
    # the process on the left, stacked top-down under the chain flows
    column_y: dict[float, float] = {}
    bottom = max(throughput.values())
    for p in procs:
        for r in ins[p].to_dict("records"):
            o = r["origin"]
            if is_process(o):
                continue
            x = col[p] - 1
            y = max(port_in[(o, p)] + 0.5 * gap, column_y.get(x, 0.0))
            label = _terminal_label(o, "in")
            out.nodes[(o, p, "in")] = Node((o, p, "in"), label, x, y, r["value"], 0.0, r["value"])
            column_y[x] = y + r["value"] + label_height + gap
            bottom = max(bottom, column_y[x])
            out.ribbons.append(
                Ribbon(
                    o,
                    p,
                    r["value"],
                    r["kind"],
                    x + TERMINAL_WIDTH / 2,
                    y,
                    col[p] - NODE_WIDTH / 2,
                    port_in[(o, p)],
                )
            )
    for p in procs:
        for r in outs[p].to_dict("records"):
            d = r["destination"]
            if is_process(d):
                continue
            x = col[p] + 1
            y = max(port_out[(p, d)] + 0.5 * gap, column_y.get(x, 0.0))
            label = _terminal_label(d, "out")
            out.nodes[(d, p, "out")] = Node((d, p, "out"), label, x, y, r["value"], r["value"], 0.0)
            column_y[x] = y + r["value"] + label_height + gap
            bottom = max(bottom, column_y[x])
            out.ribbons.append(
                Ribbon(
                    p,
                    d,
                    r["value"],
                    r["kind"],
                    col[p] + NODE_WIDTH / 2,
                    port_out[(p, d)],
                    x - TERMINAL_WIDTH / 2,
                    y,
                )
            )
    # links between drawn processes
    for r in links.to_dict("records"):
        o, d = r["origin"], r["destination"]
        if is_process(o) and is_process(d):
            out.ribbons.append(
                Ribbon(
                    o,
                    d,
                    r["value"],
                    r["kind"],
                    col[o] + NODE_WIDTH / 2,
                    port_out[(o, d)],
                    col[d] - NODE_WIDTH / 2,
                    port_in[(o, d)],
                    backward=col[d] <= col[o],
                )
            )
    out.backward_y = bottom + label_height + gap
    n_back = sum(rb.backward for rb in out.ribbons)
    back_total = sum(rb.value for rb in out.ribbons if rb.backward)
    out.bottom = out.backward_y + back_total + (label_height + gap if n_back else 0.0)
    if not n_back:
        out.bottom = bottom
    return out


def _terminal_label(name: str, side: str) -> str:
    if name in cv.PROCESSES:
        return f"to {name}" if side == "out" else f"from {name}"
    return style.NODE_LABELS.get(name, name)


# --- drawing ----------------------------------------------------------------


def draw_png(
    links: pd.DataFrame, path: str | Path, *, title: str, note: str | None = None, dpi: int = 150
) -> Path:
    """Draw a Sankey diagram with matplotlib and write it as PNG (atomically).

    Parameters
    ----------
    links : pandas.DataFrame
        Output of :func:`sankey_links` [t yr-1].
    path : str or Path
        Target PNG file.
    title : str
        Figure title.
    note : str, optional
        A line printed under the diagram (e.g. flows that could not be drawn).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path as MplPath

    fig_w, fig_h = 16.0, 9.0
    axes_h = fig_h * 0.80 / 1.18  # the y range below is 1.18 spans
    font = 8.0
    # the label room depends on the data scale, which depends on the label room: iterate
    lay = layout(links)
    for _ in range(4):
        span = max(lay.bottom, 1e-12)
        per_inch = span / axes_h
        label_h = 3.2 * font / 72.0 * per_inch
        lay = layout(links, label_height=label_h)
    span = max(lay.bottom, 1e-12)
    per_inch = span / axes_h
    fig = plt.figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((0.02, 0.09, 0.96, 0.80))
    ax.set_xlim(-0.7, max(lay.width, 2) + 0.7)
    ax.set_ylim(span * 1.02, -0.16 * span)
    ax.axis("off")
    if links.empty:
        ax.text(0.5, 0.5, "no flows to draw", ha="center", transform=ax.transAxes)
    x_per_inch = (max(lay.width, 2) + 1.4) / (fig_w * 0.96)
    x_per_y = x_per_inch / per_inch  # converts a vertical width [t yr-1] to column units
    box = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8}

    for rb in lay.ribbons:
        colour = style.LINK_COLOURS.get(rb.kind, "#777777")
        if rb.backward:
            verts, codes = _backward_path(rb, lay.backward_y, x_per_y)
        else:
            verts, codes = _ribbon_path(rb)
        patch = PathPatch(MplPath(verts, codes), fc=colour, ec=colour, lw=0.4, alpha=0.55, zorder=1)
        ax.add_patch(patch)
        if rb.backward:
            ax.text(
                (rb.x0 + rb.x1) / 2,
                lay.backward_y + rb.value / 2,
                f"{style.NODE_LABELS.get(rb.origin, rb.origin).replace(chr(10), ' ')} → "
                f"{style.NODE_LABELS.get(rb.destination, rb.destination).replace(chr(10), ' ')}: "
                f"{style.fmt_value(rb.value)}",
                ha="center",
                va="center",
                fontsize=font,
                bbox=box,
                zorder=4,
            )
        elif rb.origin in lay_processes(lay) and rb.destination in lay_processes(lay):
            ax.text(
                (rb.x0 + rb.x1) / 2,
                (rb.y0 + rb.y1) / 2 + rb.value / 2,
                style.fmt_value(rb.value),
                ha="center",
                va="center",
                fontsize=font,
                bbox=box,
                zorder=4,
            )

    for node in lay.nodes.values():
        if node.key[2] == "process":
            ax.add_patch(
                Rectangle(
                    (node.x - NODE_WIDTH / 2, node.y0),
                    NODE_WIDTH,
                    node.height,
                    fc=style.PROCESS_COLOUR,
                    ec="none",
                    zorder=3,
                )
            )
            text = f"in {style.fmt_value(node.total_in)} | out {style.fmt_value(node.total_out)}"
            if node.key[0] == "use":
                text += f"\nstock change {node.total_in - node.total_out:+,.0f}"
            ax.text(node.x, -0.012 * span, text, ha="center", va="bottom", fontsize=font, zorder=4)
            ax.text(
                node.x,
                -0.012 * span - 2.6 * font / 72.0 * per_inch,
                node.label,
                ha="center",
                va="bottom",
                fontsize=font + 1.5,
                fontweight="bold",
                zorder=4,
            )
        else:
            colour = style.LINK_COLOURS.get(
                style.link_kind(
                    *(
                        (node.key[0], node.key[1])
                        if node.key[2] == "in"
                        else (node.key[1], node.key[0])
                    ),
                    cv.PROCESSES,
                ),
                "#777777",
            )
            ax.add_patch(
                Rectangle(
                    (node.x - TERMINAL_WIDTH / 2, node.y0),
                    TERMINAL_WIDTH,
                    node.height,
                    fc=colour,
                    ec=colour,
                    lw=0.4,
                    zorder=3,
                )
            )
            ax.text(
                node.x,
                node.y0 + node.height + 0.004 * span,
                f"{node.label}\n{style.fmt_value(node.height)}",
                ha="center",
                va="top",
                fontsize=font,
                bbox=box,
                zorder=4,
            )

    fig.suptitle(title, fontsize=13, y=0.975)
    footer = "Link widths proportional to flow; values in t Nd yr$^{-1}$."
    if note:
        footer += "  " + note
    fig.text(0.02, 0.02, footer, fontsize=8.5, ha="left", va="bottom")
    target = Path(path)
    with atomic_target(target) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return target


def lay_processes(lay: Layout) -> set[str]:
    """Names of the processes drawn as columns."""
    return {k[0] for k in lay.nodes if k[2] == "process"}


def _ribbon_path(rb: Ribbon):
    from matplotlib.path import Path as MplPath

    xm = (rb.x0 + rb.x1) / 2
    verts = [
        (rb.x0, rb.y0),
        (xm, rb.y0),
        (xm, rb.y1),
        (rb.x1, rb.y1),
        (rb.x1, rb.y1 + rb.value),
        (xm, rb.y1 + rb.value),
        (xm, rb.y0 + rb.value),
        (rb.x0, rb.y0 + rb.value),
        (rb.x0, rb.y0),
    ]
    c4 = MplPath.CURVE4
    codes = [MplPath.MOVETO, c4, c4, c4, MplPath.LINETO, c4, c4, c4, MplPath.CLOSEPOLY]
    return verts, codes


def _backward_path(rb: Ribbon, lane_y: float, x_per_y: float):
    """A backward link: out of the right side, down, left under the diagram, up, in on the left."""
    from matplotlib.path import Path as MplPath

    w = rb.value
    wx = w * x_per_y  # the same width on a vertical segment, in column units
    d = 0.25
    verts = [
        (rb.x0, rb.y0),
        (rb.x0 + d + wx, rb.y0),
        (rb.x0 + d + wx, lane_y + w),
        (rb.x1 - d - wx, lane_y + w),
        (rb.x1 - d - wx, rb.y1),
        (rb.x1, rb.y1),
        (rb.x1, rb.y1 + w),
        (rb.x1 - d, rb.y1 + w),
        (rb.x1 - d, lane_y),
        (rb.x0 + d, lane_y),
        (rb.x0 + d, rb.y0 + w),
        (rb.x0, rb.y0 + w),
        (rb.x0, rb.y0),
    ]
    codes = [MplPath.MOVETO] + [MplPath.LINETO] * 11 + [MplPath.CLOSEPOLY]
    return verts, codes


#: the plotly JavaScript shared by the HTML Sankeys of a folder
PLOTLYJS = "plotly.min.js"


def write_plotlyjs(folder: str | Path) -> Path:
    """Write plotly's JavaScript once into `folder` (atomically; kept if already the same)."""
    from plotly.offline import get_plotlyjs

    target = Path(folder) / PLOTLYJS
    data = get_plotlyjs().encode("utf-8")
    try:
        same = target.read_bytes() == data  # another plotly version may have the same size
    except OSError:
        same = False
    if not same:
        with atomic_target(target) as tmp:
            tmp.write_bytes(data)
    return target


def write_html(
    links: pd.DataFrame,
    path: str | Path,
    *,
    title: str,
    plotlyjs: bool | str = True,
    note: str | None = None,
) -> Path:
    """Write an interactive Sankey diagram as an HTML file (atomically).

    With ``plotlyjs=True`` the plotly JavaScript is embedded (a self-contained
    file); with ``"directory"`` the page loads ``plotly.min.js`` from its own
    folder (:func:`write_plotlyjs` writes it once for all the folder's
    Sankeys). Either way the file opens in a browser with no network.
    Terminal nodes carry their process (``losses (mining)``) and the hover
    shows human names, the value and, for a reconciled flow, its sd.
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    keys: list[tuple[str, str]] = []
    labels: list[str] = []
    colours: list[str] = []
    procs = [p for p in cv.PROCESSES if p in set(links["origin"]) | set(links["destination"])]

    def human(name: str) -> str:
        return style.NODE_LABELS.get(name, name).replace("\n", " ")

    def node(name: str, attach: str) -> int:
        key = (name, name) if name in procs else (name, attach)
        if key not in keys:
            keys.append(key)
            if name in procs:
                labels.append(human(name))
                colours.append(style.PROCESS_COLOUR)
            else:  # a terminal node: say which process it belongs to
                labels.append(
                    f"{human(name)} ({human(attach)})" if attach in procs else human(name)
                )
                colours.append("#bbbbbb")
        return keys.index(key)

    src, dst, val, col, hover = [], [], [], [], []
    for r in links.to_dict("records"):
        src.append(node(r["origin"], r["destination"]))
        dst.append(node(r["destination"], r["origin"]))
        val.append(r["value"])
        rgb = style.to_rgb(style.LINK_COLOURS.get(r["kind"], "#777777"))
        col.append("rgba({:.0f},{:.0f},{:.0f},0.5)".format(*(255 * c for c in rgb)))
        names = (
            style.NODE_LABELS.get(n, n).replace("\n", " ") for n in (r["origin"], r["destination"])
        )
        text = " → ".join(names)
        sd = r.get("sd", np.nan)
        if np.isfinite(sd) and sd > 0:
            text += f": {r['value']:,.0f} ± {sd:,.0f} t/yr (reconciled, ± 1 sd)"
        elif np.isfinite(sd):
            text += f": {r['value']:,.0f} t/yr (held fixed)"
        else:
            text += f": {r['value']:,.0f} t/yr"
        hover.append(text)
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            valueformat=",.0f",
            valuesuffix=" t/yr",
            node={"label": labels, "color": colours, "pad": 18, "thickness": 14},
            link={
                "source": src,
                "target": dst,
                "value": val,
                "color": col,
                "customdata": hover,
                "hovertemplate": "%{customdata}<extra></extra>",
            },
        )
    )
    full_title = title if note is None else f"{title}<br><sup>{note}</sup>"
    fig.update_layout(title_text=full_title, font_size=12, width=1400, height=750)
    html = pio.to_html(
        fig, include_plotlyjs=plotlyjs, full_html=True, config={"displaylogo": False}
    )
    target = Path(path)
    with atomic_target(target) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return target
