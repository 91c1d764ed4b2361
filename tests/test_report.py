"""Figures from an output Dataset: files written, Sankey links equal to the flow variable.

The tests build a synthetic Dataset that follows the output contract of
SPEC §6 (as written to NetCDF) and never run the model: the report reads
output files alone.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess

import numpy as np
import pytest
import xarray as xr

from ndsim import conventions as cv
from ndsim.report import _select, figures, sankey, style

# --- the synthetic contract Dataset -------------------------------------------

#: SPEC §1 end uses: code -> (category, group)
PRODUCTS = {
    "CV": ("vehicles", "other"),
    "EV": ("vehicles", "other"),
    "EB": ("vehicles", "other"),
    "WT": ("clean energy", "other"),
    "AC": ("home appliances", "home appliances"),
    "RE": ("home appliances", "home appliances"),
    "WM": ("home appliances", "home appliances"),
    "MO": ("home appliances", "home appliances"),
    "VC": ("home appliances", "home appliances"),
    "MRI": ("medical", "other"),
    "DC": ("electronic devices", "electronic devices"),
    "LP": ("electronic devices", "electronic devices"),
    "MP": ("electronic devices", "electronic devices"),
    "LS": ("electronic devices", "electronic devices"),
    "CP": ("electronic devices", "electronic devices"),
    "EL": ("general machinery", "general machinery"),
    "IR": ("general machinery", "general machinery"),
    "NiMH": ("non-magnet", "other"),
    "glass": ("non-magnet", "other"),
    "ceramics": ("non-magnet", "other"),
    "catalyst": ("non-magnet", "other"),
    "alloy": ("non-magnet", "other"),
}
FIRST, LAST, END = 2000, 2017, 2050
SCENARIOS = ("S1", "S2", "S3")


def make_dataset(*, ensemble: bool = False, seed: int = 1) -> xr.Dataset:
    """A Dataset following SPEC §6, with made-up but consistent numbers.

    Upstream variables are NaN after 2017; the `flow` variable balances every
    process in the accounted years; supply variables carry `scenario` and are
    NaN before 2017. With ``ensemble=True`` every variable gets a `stat`
    dimension (conventions.STATS) with ordered quantiles around the
    deterministic value.
    """
    rng = np.random.default_rng(seed)
    years = np.arange(FIRST, END + 1)
    products = list(PRODUCTS)
    n_p, n_y = len(products), len(years)
    t = years - FIRST
    base = rng.uniform(5.0, 400.0, n_p)
    growth = rng.uniform(0.02, 0.12, n_p)
    dc = base[:, None] * (1 + growth[:, None]) ** t[None, :]
    inflow = 0.9 * dc
    life = rng.integers(3, 15, n_p)
    outflow = np.zeros_like(inflow)
    for j in range(n_p):
        outflow[j, life[j] :] = inflow[j, : n_y - life[j]]
    stock = np.cumsum(inflow - outflow, axis=1)
    upstream = years <= LAST

    def up(x):
        x = np.array(x, dtype=float)
        x[..., ~upstream] = np.nan
        return x

    in_total = np.array([p not in ("catalyst", "alloy") for p in products])
    total_demand = dc[in_total].sum(axis=0)
    f_in = inflow.sum(axis=0)
    f_out = outflow.sum(axis=0)
    exports_final = 0.12 * dc.sum(axis=0)
    imports_final = dc.sum(axis=0) * 0.02
    manuf_out = f_in - imports_final  # manufacturing -> use
    manuf_in = (manuf_out + exports_final) / 0.97
    fab_exports = 0.15 * manuf_in
    fab_imports = 0.01 * manuf_in
    fab_in = (manuf_in + fab_exports - fab_imports) / 0.9
    recycled = 0.01 * 0.9 * f_out
    ref_exports = 0.1 * fab_in
    ref_unreg = 0.05 * fab_in
    ref_imports = 0.02 * fab_in
    ref_in_from_mining = (fab_in + ref_exports + ref_unreg - ref_imports - recycled) / 0.92
    conc_exports = 0.01 * ref_in_from_mining
    conc_imports = 0.03 * ref_in_from_mining
    mining_in = (ref_in_from_mining + conc_exports) / 0.8
    official = np.outer([0.1, 0.6, 0.3], 0.7 * mining_in)
    im = mining_in - conc_imports - official.sum(axis=0)

    nodes = list(cv.NODES)
    flow = np.full((len(nodes), len(nodes), n_y), np.nan)

    def put(o, d, v, always=False):
        flow[nodes.index(o), nodes.index(d)] = v if always else up(v)

    put("ore", "mining", official.sum(axis=0))
    put("unregistered_mining", "mining", im)
    put("import", "mining", conc_imports)
    put("mining", "refining", ref_in_from_mining)
    put("mining", "export", conc_exports)
    put("mining", "loss", mining_in - ref_in_from_mining - conc_exports)
    put("import", "refining", ref_imports)
    put("refining", "fabrication", fab_in)
    put("refining", "export", ref_exports)
    put("refining", "export_unregistered", ref_unreg)
    put(
        "refining",
        "loss",
        ref_in_from_mining + ref_imports + recycled - fab_in - ref_exports - ref_unreg,
    )
    put("import", "fabrication", fab_imports)
    put("fabrication", "manufacturing", manuf_in)
    put("fabrication", "export", fab_exports)
    put("fabrication", "loss", fab_in + fab_imports - manuf_in - fab_exports)
    put("manufacturing", "use", manuf_out, always=True)
    put("manufacturing", "export", exports_final)
    put("manufacturing", "loss", manuf_in - manuf_out - exports_final)
    put("import", "use", imports_final, always=True)
    put("use", "waste", f_out, always=True)
    put("waste", "refining", recycled, always=True)
    put("waste", "landfill", f_out - recycled, always=True)

    stage_exports = np.stack([conc_exports, ref_exports, fab_exports, exports_final])
    stage_imports = np.stack([conc_imports, ref_imports, fab_imports, imports_final])
    intermediates = ["NdFeB", "NiMH", "glass", "ceramics", "catalyst", "alloy"]
    inter = np.outer([0.8, 0.05, 0.04, 0.04, 0.04, 0.03], manuf_in)

    def supply(values):
        v = np.array(values, dtype=float)
        v[:, years < LAST] = np.nan
        return v

    g = np.array([0.02, 0.05, 0.08])[:, None]
    q = mining_in[years == LAST][0] * (1 + g) ** np.clip(years - LAST, 0, None)[None, :]
    r = np.broadcast_to(recycled, (3, n_y))
    d = np.broadcast_to(f_in * 1.6, (3, n_y))
    eta_f = np.where(f_out > 0, 0.9 * f_out, np.nan)
    data = {
        "domestic_consumption": (("product", "year"), dc),
        "total_demand": (("year",), total_demand),
        "inflow": (("product", "year"), inflow),
        "outflow": (("product", "year"), outflow),
        "stock": (("product", "year"), stock),
        "mining": (("source", "year"), up(official)),
        "mining_unregistered": (("year",), up(im)),
        "intermediate_production": (("intermediate", "year"), up(inter)),
        "imports": (("stage", "year"), up(stage_imports)),
        "exports": (("stage", "year"), up(stage_exports)),
        "exports_unregistered": (("year",), up(ref_unreg)),
        "flow": (("origin", "destination", "year"), flow),
        "balance_residual": (("process", "year"), up(np.zeros((6, n_y)))),
        "primary_supply": (("scenario", "year"), supply(q)),
        "secondary_supply": (("scenario", "year"), supply(r)),
        "supply_requirement": (("scenario", "year"), supply(d)),
        "supply_gap": (("scenario", "year"), supply(d - q - r)),
        "required_recycling_rate": (("scenario", "year"), supply((d - q) / eta_f)),
        "required_recycling_share_of_supply": (("scenario", "year"), supply((d - q) / d)),
    }
    ds = xr.Dataset(
        {k: xr.DataArray(v, dims=dims, attrs=cv.attrs(k)) for k, (dims, v) in data.items()},
        coords={
            "year": years,
            "product": products,
            "category": ("product", [PRODUCTS[p][0] for p in products]),
            "group": ("product", [PRODUCTS[p][1] for p in products]),
            "source": ["MON", "BAST", "IAC"],
            "intermediate": intermediates,
            "stage": list(cv.STAGES),
            "process": list(cv.PROCESSES),
            "origin": nodes,
            "destination": nodes,
            "scenario": list(SCENARIOS),
        },
        attrs={
            "Conventions": "CF-1.8",
            "title": "synthetic test output",
            "schema_version": cv.SCHEMA_VERSION,
        },
    )
    if ensemble:
        factors = {
            "deterministic": 1.0,
            "mean": 1.0,
            "q025": 0.8,
            "q25": 0.93,
            "q50": 1.0,
            "q75": 1.07,
            "q975": 1.25,
        }
        spread = xr.DataArray(np.linspace(0.2, 1.0, n_y), dims="year", coords={"year": years})
        parts = []
        for s in cv.STATS:
            if s == "sd":
                parts.append(ds.map(lambda v: abs(v) * 0.1 * spread, keep_attrs=True))
            else:
                f = 1 + (factors[s] - 1) * spread
                parts.append(ds.map(lambda v, f=f: v * f, keep_attrs=True))
        ens = xr.concat(parts, dim="stat", data_vars="all", coords="minimal", compat="override")
        ens = ens.assign_coords(stat=list(cv.STATS))
        ens = ens.transpose("stat", ...)
        ens.attrs = ds.attrs
        ds = ens
    return ds


@pytest.fixture
def contract_ds() -> xr.Dataset:
    return make_dataset()


@pytest.fixture
def ensemble_ds() -> xr.Dataset:
    return make_dataset(ensemble=True)


@pytest.fixture(scope="module")
def det_figures(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    return figures.write_all(make_dataset(), out, years=[2030]), out


@pytest.fixture(scope="module")
def ens_figures(tmp_path_factory):
    out = tmp_path_factory.mktemp("fan")
    # the Sankey of an ensemble (central values) is covered by test_central_*; leave it out here
    ds = make_dataset(ensemble=True).drop_vars("flow")
    return figures.write_all(ds, out), out


# --- Sankey links -------------------------------------------------------------------------


def _hand_flow() -> xr.DataArray:
    """A 4-node flow with a NaN, a zero and a negative entry."""
    nodes = ["ore", "mining", "refining", "loss"]
    v = np.full((4, 4), np.nan)
    v[0, 1] = 100.0  # ore -> mining
    v[1, 2] = 70.0  # mining -> refining
    v[1, 3] = 30.0  # mining -> loss
    v[2, 3] = 0.0  # zero: not a link
    v[3, 0] = -5.0  # negative: not drawable
    return xr.DataArray(
        v, dims=("origin", "destination"), coords={"origin": nodes, "destination": nodes}
    )


def test_sankey_links_equal_the_flow_variable():
    links = sankey.sankey_links(_hand_flow())
    got = {
        (o, d): v for o, d, v in links[["origin", "destination", "value"]].itertuples(index=False)
    }
    assert got == {("ore", "mining"): 100.0, ("mining", "refining"): 70.0, ("mining", "loss"): 30.0}
    assert dict(
        zip(zip(links.origin, links.destination, strict=True), links.kind, strict=True)
    ) == {
        ("ore", "mining"): "source",
        ("mining", "refining"): "chain",
        ("mining", "loss"): "loss",
    }
    neg = sankey.negative_links(_hand_flow())
    assert list(neg.itertuples(index=False, name=None)) == [("loss", "ore", -5.0)]


def test_sankey_links_select_year_and_central_value():
    flow = _hand_flow()
    by_year = xr.concat([flow, 2 * flow], dim="year").assign_coords(year=[2000, 2001])
    stat = xr.concat([3 * by_year, by_year, 5 * by_year], dim="stat").assign_coords(
        stat=["q025", "deterministic", "q975"]
    )
    links = sankey.sankey_links(stat, 2001)
    got = dict(zip(zip(links.origin, links.destination, strict=True), links.value, strict=True))
    assert got == {
        ("ore", "mining"): 200.0,
        ("mining", "refining"): 140.0,
        ("mining", "loss"): 60.0,
    }
    with pytest.raises(ValueError, match="year"):
        sankey.sankey_links(by_year)


def test_sankey_links_of_synthetic_file_equal_flow_for_every_year(contract_ds):
    flow = contract_ds["flow"]
    for year in (2000, 2017):
        links = sankey.links_for_year(contract_ds, year)
        expected = {}
        for o in cv.NODES:  # plain loop oracle
            for d in cv.NODES:
                v = float(flow.sel(origin=o, destination=d, year=year))
                if v == v and v > 0:
                    expected[(o, d)] = v
        got = {
            (o, d): v
            for o, d, v in links[["origin", "destination", "value"]].itertuples(index=False)
        }
        assert got == expected
        assert len(expected) >= 19  # no recycling in 2000: nothing has reached end of life


def test_sankey_after_last_accounted_year_shows_use_and_waste_only(contract_ds):
    links = sankey.links_for_year(contract_ds, 2030)
    assert not links.empty
    assert all(
        o in ("use", "waste") or d in ("use", "waste")
        for o, d in zip(links.origin, links.destination, strict=True)
    )
    assert set(zip(links.origin, links.destination, strict=True)) == {
        ("manufacturing", "use"),
        ("import", "use"),
        ("use", "waste"),
        ("waste", "refining"),
        ("waste", "landfill"),
    }
    lay = sankey.layout(links)
    assert sankey.lay_processes(lay) == {"use", "waste"}


def test_layout_draws_every_link_once_with_its_value(contract_ds):
    links = sankey.links_for_year(contract_ds, 2017)
    lay = sankey.layout(links)
    drawn = sorted((rb.origin, rb.destination, rb.value) for rb in lay.ribbons)
    assert drawn == sorted(
        links[["origin", "destination", "value"]].itertuples(index=False, name=None)
    )
    # process boxes are as tall as the larger of their inputs and outputs (widths proportional)
    for (name, _, kind), node in lay.nodes.items():
        if kind == "process":
            total_in = links.loc[links.destination == name, "value"].sum()
            total_out = links.loc[links.origin == name, "value"].sum()
            assert node.height == pytest.approx(max(total_in, total_out), rel=1e-12)
    assert [rb for rb in lay.ribbons if rb.backward] == [
        rb for rb in lay.ribbons if (rb.origin, rb.destination) == ("waste", "refining")
    ]


def test_import_terminals_sit_just_under_the_chain_flow_into_their_process(contract_ds):
    # an import into a process is stacked above the outputs of the process to its left, so
    # its link stays short instead of crossing those outputs' links and labels
    links = sankey.links_for_year(contract_ds, 2017)
    lay = sankey.layout(links, label_height=50.0)
    for (name, attach, side), node in lay.nodes.items():
        if side != "in" or attach == "mining":
            continue
        left = cv.PROCESSES[cv.PROCESSES.index(attach) - 1]
        outputs = [n for (_, a, s), n in lay.nodes.items() if a == left and s == "out"]
        assert outputs, (name, attach)
        assert all(node.y0 + node.height < o.y0 for o in outputs), (name, attach)
        (rb,) = [r for r in lay.ribbons if (r.origin, r.destination) == (name, attach)]
        gap = 0.04 * max(n.height for n in lay.nodes.values())
        assert abs(rb.y0 - rb.y1) <= 0.5 * gap + 1e-9


def test_last_accounted_year(contract_ds):
    assert _select.last_accounted_year(contract_ds) == 2017
    assert _select.last_accounted_year(contract_ds.assign_attrs(last_accounted_year=2015)) == 2015
    only_use = contract_ds[["stock", "inflow"]]
    assert _select.last_accounted_year(only_use) == 2050


def test_central_prefers_deterministic_then_median(ensemble_ds, contract_ds):
    xr.testing.assert_allclose(_select.central(ensemble_ds["stock"]), contract_ds["stock"])
    no_det = ensemble_ds["stock"].sel(stat=["q025", "q50", "q975"])
    xr.testing.assert_equal(_select.central(no_det), no_det.sel(stat="q50", drop=True))


def test_draw_quantiles_of_a_total_are_exact(contract_ds, rng):
    draws = xr.DataArray(
        rng.lognormal(0, 0.2, (40, contract_ds.sizes["product"])), dims=("draw", "product")
    )
    stock = contract_ds["stock"] * draws
    q, exact = _select.quantiles(stock, lambda da: da.sum("product"))
    assert exact
    total = stock.sum("product").transpose("draw", "year").values
    for name, p in (("q025", 2.5), ("q50", 50), ("q975", 97.5)):
        np.testing.assert_allclose(q.sel(quantile=name).values, np.percentile(total, p, axis=0))


# --- figures ------------------------------------------------------------------------------

DETERMINISTIC_FIGURES = [
    "sankey_2000.png",
    "sankey_2000.html",
    "sankey_2017.png",
    "sankey_2017.html",
    "sankey_2030.png",
    "sankey_2030.html",
    "plotly.min.js",
    "demand_by_product.png",
    "stock_by_product.png",
    "end_of_life_by_product.png",
    "trade_by_level.png",
    "forecast_demand_by_group.png",
    "supply_scenarios.png",
    "forecast_stock_end_of_life.png",
]
FAN_FIGURES = [
    "fan_total_demand.png",
    "fan_stock.png",
    "fan_end_of_life.png",
    "fan_demand_by_group.png",
    "fan_supply.png",
]


def png_size(path) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR), read independently of matplotlib."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_write_all_writes_every_figure(det_figures):
    paths, out = det_figures
    assert [p.name for p in paths] == DETERMINISTIC_FIGURES
    # no temp files; the manifest lists what ndsim wrote (to remove it on the next write)
    assert sorted(f.name for f in out.iterdir()) == sorted(
        [*DETERMINISTIC_FIGURES, figures.MANIFEST]
    )
    listed = json.loads((out / figures.MANIFEST).read_text(encoding="utf-8"))["files"]
    assert listed == sorted(DETERMINISTIC_FIGURES)
    for p in paths:
        if p.suffix == ".png":
            w, h = png_size(p)
            assert 600 <= w <= 4000 and 400 <= h <= 3000, (p.name, w, h)
            assert p.stat().st_size > 20_000, p.name


def test_sankey_html_shares_one_local_plotly_and_loads_nothing_from_the_network(det_figures):
    _, out = det_figures
    pages = sorted(out.glob("sankey_*.html"))
    assert len(pages) == 3
    bundle = out / "plotly.min.js"
    assert bundle.stat().st_size > 1_000_000  # the plotly.js bundle itself, once per folder
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert len(html) < 100_000  # not embedded again in every page
        assert "Plotly.newPlot" in html
        assert '"type":"sankey"' in html.replace(" ", "")
        srcs = re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']([^\"']+)", html, flags=re.IGNORECASE)
        assert srcs == ["plotly.min.js"]  # the file next to it: works offline
        assert not re.search(r"<link[^>]*href\s*=\s*[\"']https?:", html, flags=re.IGNORECASE)


def test_sankey_html_names_nodes_and_flows_for_people(contract_ds, tmp_path):
    """Terminal nodes say their process ("losses (mining & beneficiation)"), hovers carry no codes."""
    links = sankey.links_for_year(contract_ds, 2017)
    page = sankey.write_html(links, tmp_path / "s.html", title="t", plotlyjs=False)
    html = page.read_text(encoding="utf-8")
    data = json.loads(re.search(r'Plotly.newPlot\(\s*"[^"]+",\s*(\[.*?\])\s*,\s*\{', html, re.S)[1])
    labels = data[0]["node"]["label"]
    assert len(labels) == len(set(labels))  # no "losses" three times
    assert any(lab.startswith("losses (") for lab in labels)
    hovers = data[0]["link"]["customdata"]
    for code in ("unregistered_mining", "export_unregistered", "loss", "ore", "import"):
        assert not any(re.search(rf"\b{code}\b", h) for h in hovers), code
    assert all("t/yr" in h for h in hovers)


def test_write_all_removes_only_the_figures_it_wrote_before(contract_ds, tmp_path):
    out = tmp_path / "figs"
    out.mkdir()
    (out / "my_notes.txt").write_text("mine")
    first = figures.write_all(contract_ds, out)
    assert (out / "supply_scenarios.png").exists()
    # a later run without supply scenarios: their figure goes, the user's file stays
    second = figures.write_all(contract_ds.drop_vars(["primary_supply"]), out)
    assert not (out / "supply_scenarios.png").exists()
    assert (out / "my_notes.txt").read_text() == "mine"
    assert {p.name for p in second} < {p.name for p in first}


def test_titles_carry_the_scenario(contract_ds, tmp_path, monkeypatch):
    seen = _spy_on_figures(monkeypatch)
    figures.write_all(contract_ds.assign_attrs(scenario="my_case"), tmp_path)
    assert seen
    for name, fig in seen:
        titles = [fig.get_suptitle()]
        titles += [ax.get_title() for ax in fig.axes]
        assert any("scenario my_case" in t for t in titles), name


def test_panels_that_share_years_all_show_year_tick_labels(contract_ds, tmp_path, monkeypatch):
    seen = _spy_on_figures(monkeypatch)
    figures.trade_by_level(contract_ds, tmp_path)
    (_, fig) = seen[0]
    fig.canvas.draw()
    for ax in fig.axes:
        if ax.get_visible():
            shown = [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
            assert shown, ax.get_title()


def test_every_layer_of_a_stacked_panel_has_its_own_colour(contract_ds):
    """Products of one group but other categories (vehicles, wind, non-magnet) get other hues."""
    groups = {"other": ["CV", "EV", "WT", "NiMH", "glass"], "electronics": ["MP", "LP"]}
    categories = {
        "CV": "vehicles", "EV": "vehicles", "WT": "clean energy", "NiMH": "non-magnet",
        "glass": "non-magnet", "MP": "electronic devices", "LP": "electronic devices",
    }  # fmt: skip
    colours = style.product_colours(groups, categories)
    assert len(set(colours.values())) == len(colours)

    def distance(a, b):
        return (
            sum((x - y) ** 2 for x, y in zip(style.to_rgb(a), style.to_rgb(b), strict=True)) ** 0.5
        )

    # the pairs a reader confused before: EV, WT and NiMH were three shades of one purple
    for a, b in (("EV", "WT"), ("EV", "NiMH"), ("WT", "NiMH")):
        assert distance(colours[a], colours[b]) > 0.25, (a, b)


def test_total_demand_line_says_what_it_leaves_out(contract_ds, tmp_path, monkeypatch):
    seen = _spy_on_figures(monkeypatch)
    ds = contract_ds.assign_coords(
        in_total_demand=(
            "product",
            [p != contract_ds["product"].values[-1] for p in contract_ds["product"].values],
        )
    )
    figures.demand_by_product(ds, tmp_path)
    texts = _legend_texts(seen[0][1])
    line = [t for t in texts if t.startswith("total demand")]
    assert line and "without" in line[0]


def test_fan_charts_for_an_ensemble(ens_figures):
    paths, _ = ens_figures
    names = [p.name for p in paths]
    assert names[-len(FAN_FIGURES) :] == FAN_FIGURES
    assert "demand_by_product.png" in names
    for p in paths:
        if p.suffix == ".png":
            assert p.stat().st_size > 20_000


def test_no_fan_charts_without_ensemble(det_figures):
    paths, _ = det_figures
    assert not any(p.name.startswith("fan_") for p in paths)


def test_figures_skip_quietly_when_variables_are_absent(contract_ds, tmp_path):
    ds = contract_ds[["domestic_consumption"]].assign_attrs(last_accounted_year=2017)
    paths = figures.write_all(ds, tmp_path)
    assert [p.name for p in paths] == ["demand_by_product.png", "forecast_demand_by_group.png"]


def test_tornado_of_sensitivity_indices(contract_ds, tmp_path):
    sens = xr.DataArray(
        [[0.8, 0.1], [-0.3, 0.6], [0.05, -0.2]],
        dims=("input", "target"),
        coords={
            "input": ["production", "nd_content", "adoption_rate"],
            "target": ["total_demand 2050", "stock 2017"],
        },
        attrs={"units": "1", "long_name": "standardised regression coefficient"},
    )
    ds = contract_ds[["total_demand"]].assign(sensitivity=sens)
    paths = figures.write_all(ds, tmp_path)
    assert [p.name for p in paths] == ["tornado.png"]
    assert png_size(paths[0])[0] > 600


NAMES = {
    "CV": "conventional vehicles",
    "MRI": "MRI machines",
    "NiMH": "NiMH batteries",
    "glass": "glass",
    "ceramics": "ceramics",
    "catalyst": "automotive catalytic converters",
    "alloy": "other alloys",
}


def _spy_on_figures(monkeypatch) -> list:
    """Keep (file name, figure) of every figure saved, then save it as usual."""
    seen = []
    save = figures._save

    def spy(fig, path):
        seen.append((path.name, fig))
        return save(fig, path)

    monkeypatch.setattr(figures, "_save", spy)
    return seen


def _legend_texts(fig) -> list[str]:
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    return [t.get_text() for leg in legends if leg is not None for t in leg.get_texts()]


def test_product_labels_name_each_end_use_once(contract_ds):
    ds = contract_ds.assign_coords(
        name=("product", [NAMES.get(p, f"product {p}") for p in contract_ds["product"].values])
    )
    expected = {
        "CV": "CV conventional vehicles",
        "MRI": "MRI machines",
        "NiMH": "NiMH batteries",
        "glass": "glass",
        "ceramics": "ceramics",
        "catalyst": "automotive catalytic converters",
        "alloy": "other alloys",
        "EV": "EV product EV",  # the code later in the name: still shown first
    }
    assert {p: figures.product_label(ds, p) for p in expected} == expected
    assert figures.product_label(contract_ds, "glass") == "glass"  # no name coordinate


def test_legends_of_stacked_figures_do_not_repeat_codes(contract_ds, tmp_path, monkeypatch):
    ds = contract_ds.assign_coords(
        name=("product", [NAMES.get(p, p) for p in contract_ds["product"].values])
    )
    seen = _spy_on_figures(monkeypatch)
    figures.demand_by_product(ds, tmp_path)
    figures.forecast_demand_by_group(ds, tmp_path)
    assert [n for n, _ in seen] == ["demand_by_product.png", "forecast_demand_by_group.png"]
    non_magnet = [p for p, (cat, _) in PRODUCTS.items() if cat == "non-magnet"]
    for _, fig in seen:
        texts = _legend_texts(fig)
        assert {"glass", "ceramics", "NiMH batteries", "CV conventional vehicles"} <= set(texts)
        for t in texts:
            words = t.lower().split()
            assert len(words) < 2 or words[0] != words[1], t
        # the non-magnet end uses, and only they, are hatched
        hatched = [c for ax in fig.axes for c in ax.collections if c.get_hatch() == figures.HATCH]
        assert len(hatched) == len(non_magnet)
        assert "hatched: non-magnet end use" in texts


def test_supply_panels_show_every_scenario_whole(contract_ds, tmp_path, monkeypatch):
    # S3 grows fastest: with shared y axes its panel used to be cut at the first panel's top
    ds = contract_ds.copy()
    ds["primary_supply"] = ds["primary_supply"] * xr.DataArray(
        [1.0, 2.0, 6.0], dims="scenario", coords={"scenario": list(SCENARIOS)}
    )
    seen = _spy_on_figures(monkeypatch)
    figures.supply_scenarios(ds, tmp_path)
    ((_, fig),) = seen
    total = (ds["primary_supply"] + ds["secondary_supply"].fillna(0.0)).max()
    tops = [ax.get_ylim()[1] for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(tops) == len(SCENARIOS)
    for top in tops:
        assert top >= float(total)
        assert top >= float(ds["supply_requirement"].max())
        assert top <= 1.1 * max(float(total), float(ds["supply_requirement"].max()))


def test_tornado_shows_the_largest_contributions_in_order(contract_ds, tmp_path, monkeypatch):
    share = xr.DataArray(
        [[0.5, 0.01], [0.3, 0.6], [0.02, 0.2], [0.1, 0.15]],
        dims=("input", "target"),
        coords={"input": ["a", "b", "c", "d"], "target": ["t1", "t2"]},
        attrs={"units": "1", "long_name": "contribution to variance"},
    )
    src = xr.DataArray(
        [[0.7, 0.1], [-0.55, 0.77], [0.14, -0.45], [0.3, 0.4]],
        dims=("input", "target"),
        coords=share.coords,
    )
    ds = contract_ds[["total_demand"]].assign(sensitivity=share, sensitivity_src=src)
    seen = _spy_on_figures(monkeypatch)
    figures.tornado(ds, tmp_path, top=3)
    ((_, fig),) = seen
    panels = [ax for ax in fig.axes if ax.patches]
    assert [ax.get_title() for ax in panels] == ["t1", "t2"]
    blue, red = (figures.style.to_rgb(figures.style.OKABE_ITO[k]) for k in ("blue", "vermillion"))
    for ax, order, negative in ((panels[0], "abd", {"b"}), (panels[1], "bcd", {"c"})):
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == list(order)[::-1]  # largest on top
        for bar, name in zip(ax.patches, labels, strict=True):
            assert bar.get_width() == pytest.approx(
                float(share.sel(input=name, target=ax.get_title()))
            )
            assert tuple(bar.get_facecolor()[:3]) == pytest.approx(
                red if name in negative else blue
            )


def test_group_bands_from_the_draws_are_exact(ensemble_ds, contract_ds, tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    factors = xr.DataArray(
        rng.lognormal(0.0, 0.3, (40, contract_ds.sizes["product"])), dims=("draw", "product")
    )
    draws = xr.Dataset({"domestic_consumption": contract_ds["domestic_consumption"] * factors})
    ds = ensemble_ds[["domestic_consumption"]].assign_attrs(last_accounted_year=LAST)
    seen = _spy_on_figures(monkeypatch)
    figures.fan_charts(ds, tmp_path, draws=draws)
    ((name, fig),) = seen
    assert name == "fan_demand_by_group.png"
    assert not any("percentiles summed" in t.get_text() for t in fig.texts)
    ax = next(a for a in fig.axes if a.get_title() == "general machinery")
    members = [p for p, (_, g) in PRODUCTS.items() if g == "general machinery"]
    dc = draws["domestic_consumption"].transpose("draw", "product", "year")
    group_sum = dc.sel(product=members).values.sum(axis=1)
    median = np.array([sorted(col)[19:21] for col in group_sum.T]).mean(axis=1)  # 40 draws
    np.testing.assert_allclose(ax.lines[0].get_ydata(), median, rtol=1e-12)
    # without the draws, the same figure says its bands are approximate
    seen.clear()
    figures.fan_charts(ds, tmp_path)
    assert any("percentiles summed" in t.get_text() for t in seen[0][1].texts)


def test_figure_writes_are_atomic(contract_ds, tmp_path, monkeypatch):
    target = tmp_path / "out"
    target.mkdir()
    (target / "demand_by_product.png").write_bytes(b"old")
    monkeypatch.setenv("NDSIM_FAULT_BEFORE_RENAME", "1")
    with pytest.raises(OSError, match="injected"):
        figures.write_all(contract_ds[["domestic_consumption"]], target)
    assert sorted(f.name for f in target.iterdir()) == ["demand_by_product.png"]
    assert (target / "demand_by_product.png").read_bytes() == b"old"


def test_importing_the_report_does_not_import_plotting_libraries(cli_env):
    code = (
        "import sys, ndsim.report, ndsim.commands.plot, ndsim.commands.export; "
        "print(sorted(m for m in ('matplotlib', 'plotly') if m in sys.modules))"
    )
    res = subprocess.run(
        [__import__("sys").executable, "-c", code],
        env=cli_env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert res.stdout.strip() == "[]"


# --- ndsim plot -----------------------------------------------------------------------------


def test_cli_plot_redraws_from_the_file(tmp_path, cli_env, ndsim_cmd):
    nc = tmp_path / "run.nc"
    # a subset keeps the test fast; write_all on the whole Dataset is tested in-process
    keep = [
        "flow",
        "mining_unregistered",
        "primary_supply",
        "secondary_supply",
        "supply_requirement",
    ]
    make_dataset()[keep].to_netcdf(nc)
    res = subprocess.run(
        [
            *ndsim_cmd,
            "plot",
            str(nc),
            "--year",
            "2040",
            "--out",
            str(tmp_path / "figs"),
        ],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    names = {p.name for p in (tmp_path / "figs").iterdir()}
    assert names == {
        "sankey_2000.png",
        "sankey_2000.html",
        "sankey_2017.png",
        "sankey_2017.html",
        "sankey_2040.png",
        "sankey_2040.html",
        "plotly.min.js",
        "supply_scenarios.png",
        figures.MANIFEST,
    }
    assert "7 figures written to" in res.stdout


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        ("none", [], "no such file"),
        ("text", [], "not a NetCDF file"),
        ("other", [], "not an ndsim output file"),
        ("good", ["--year", "1999"], "--year 1999: outside the years"),
    ],
)
def test_cli_plot_errors_exit_2_with_one_line(tmp_path, cli_env, ndsim_cmd, make, extra, message):
    nc = tmp_path / "x.nc"
    if make == "text":
        nc.write_text("not netcdf")
    elif make == "other":
        xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(nc)
    elif make == "good":
        make_dataset()[["stock"]].to_netcdf(nc)
    res = subprocess.run(
        [*ndsim_cmd, "plot", str(nc), *extra, "--out", str(tmp_path / "f")],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "f").exists()


def test_fleets_against_ownership_sums_the_members_of_a_group(tmp_path):
    """Two products under one statistic (DC + LP): the check uses their summed fleet.

    By hand: N/H of A = 0.2, 0.3 and of B = 0.1, 0.1 per household; the group's statistic
    0.25, 0.5: ratio (0.2 + 0.1) / 0.25 = 1.2 and (0.3 + 0.1) / 0.5 = 0.8. C has no statistic.
    """
    years = [2016, 2017]
    ds = xr.Dataset(
        {
            "ownership_model": (
                ("product", "year"),
                np.array([[0.2, 0.3], [0.1, 0.1], [np.nan, np.nan]]),
            ),
            "ownership_statistic": (
                ("product", "year"),
                np.array([[0.25, 0.5], [0.25, 0.5], [np.nan, np.nan]]),
            ),
        },
        coords={
            "product": ["A", "B", "C"],
            "year": years,
            "ownership_group": ("product", ["A+B", "A+B", ""]),
            "ownership_basis": ("product", ["household", "household", ""]),
        },
    )
    cmp = _select.ownership_comparison(ds)
    assert list(cmp["group"].values) == ["A+B"]
    np.testing.assert_allclose(cmp["ratio"].sel(group="A+B"), [1.2, 0.8])
    assert str(cmp["basis"].sel(group="A+B").item()) == "household"
    (path,) = figures.fleets_against_ownership(ds, tmp_path)
    assert path.name == "fleets_against_ownership.png" and path.stat().st_size > 1000


def test_sankey_says_the_basis_of_the_mining_flows(contract_ds, tmp_path, monkeypatch):
    """The ore-basis flows from the ground differ from the concentrate-basis variables: say so."""
    notes = []
    draw = sankey.draw_png

    def spy(links, path, *, title, note=None, **kw):
        notes.append(note or "")
        return draw(links, path, title=title, note=note, **kw)

    monkeypatch.setattr(sankey, "draw_png", spy)
    ds = contract_ds.assign_attrs(mining_basis="concentrate")
    figures.sankeys(ds, tmp_path)
    official = float(ds["mining"].sel(year=2017).sum())
    assert any("Nd in the ore mined" in n and style.fmt_value(official) in n for n in notes)
    notes.clear()
    figures.sankeys(contract_ds.assign_attrs(mining_basis="ore"), tmp_path)
    assert not any("ore mined" in n for n in notes)


def test_comparison_names_each_run_once_and_says_where_they_coincide(
    contract_ds, tmp_path, monkeypatch
):
    """One legend for the figure (a line style per run); a panel whose runs are equal says so."""
    a = contract_ds.assign_attrs(scenario="left")
    b = contract_ds.copy(deep=True).assign_attrs(scenario="right")
    groups = _select.product_groups(a)
    changed, members = next(iter(groups.items()))
    b["domestic_consumption"] = b["domestic_consumption"] * xr.where(
        b[cv.PRODUCT].isin(members), 1.5, 1.0
    )
    b["total_demand"] = b["total_demand"] * 1.5
    seen = _spy_on_figures(monkeypatch)
    figures.compare_demand_by_group(a, b, tmp_path)
    ((name, fig),) = seen
    assert name == "compare_demand_by_group.png"
    assert [t.get_text() for leg in fig.legends for t in leg.get_texts()] == ["left", "right"]
    assert all(ax.get_legend() is None for ax in fig.axes)
    notes = {
        ax.get_title(): any(t.get_text() == "the two runs coincide" for t in ax.texts)
        for ax in fig.axes
        if ax.get_visible()
    }
    assert notes[changed] is False and notes["total demand (paper definition)"] is False
    assert all(notes[g] for g in groups if g != changed)


def test_the_shared_plotly_js_is_replaced_when_its_content_differs(tmp_path):
    """A plotly.min.js of the same size but other content (another plotly) is written again."""
    from plotly.offline import get_plotlyjs

    path = sankey.write_plotlyjs(tmp_path)
    data = get_plotlyjs().encode("utf-8")
    assert path.read_bytes() == data
    path.write_bytes(b"x" * len(data))  # same size, other content
    sankey.write_plotlyjs(tmp_path)
    assert path.read_bytes() == data
