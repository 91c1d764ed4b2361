"""Regenerate the final-product tables of the China Nd data set from raw sources.

Run from anywhere::

    python data/china_nd/build/make_tables.py

Reads the copies of public sources in ``raw/`` (each with its own ``source``
column), the paper's figures in ``data/reference/yao2021.csv`` (Yao et al.
2021, doi:10.1016/j.resconrec.2021.105752) and, when present, the non-magnet
end uses in ``data/china_nd/build_upstream/nonmagnet.csv``; writes
``products.csv``, ``production.csv``, ``production_statistic.csv``,
``nd_content.csv``, ``adoption_rate.csv``, ``final_trade.csv``,
``lifetimes.csv``, ``drivers.csv`` and ``ownership.csv`` next to
``dataset.toml``. Every method is written in ``data/china_nd/SOURCES.md``.

Calibration (SPEC §2, data issue): the paper's 2017 domestic consumption
DC = P x MI x AR sets the 2017 production P(2017) = DC / (MI x AR); a public
series, where one exists, sets the shape over 2000-2016 (scaled by the factor
f = P(2017) / statistic(2017)); where none exists, a stated method does. The
script fails if the 2017 DC of any product differs from the paper by more
than 0.1 %.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
OUT = HERE.parent
REFERENCE = OUT.parent / "reference" / "yao2021.csv"
NONMAGNET = OUT / "build_upstream" / "nonmagnet.csv"

FIRST, LAST, FORECAST_LAST = 2000, 2017, 2050
YEARS = np.arange(FIRST, LAST + 1)

PAPER = (
    "Yao, Geng, Sarkis, Xiao & Gao (2021) Dynamic neodymium stocks and flows analysis in China, "
    "Resour. Conserv. Recycl. 174:105752, doi:10.1016/j.resconrec.2021.105752"
)
NBS = (
    "NBS National Data, annual output of major industrial products (hgnd, table A0E0H), "
    "as scraped in GitHub zhuang1234/National-Data commit 4b467dda7a0fbef29f937a60f08db0e6420da6a6"
)
# tolerance on |f - 1| under which a scaled statistic keeps the flag `statistic`
STATISTIC_TOLERANCE = 0.05

# ---------------------------------------------------------------------------
# products (SPEC §1)
# ---------------------------------------------------------------------------
MAGNET = [
    # code, name, category, group, forecast method
    ("CV", "conventional vehicles", "vehicles", "other", "gompertz"),
    ("EV", "electric vehicles", "vehicles", "other", "growth"),
    ("EB", "e-bikes", "vehicles", "other", "growth"),
    ("WT", "wind turbines (newly installed capacity)", "clean energy", "other", "growth"),
    ("AC", "air conditioners", "home appliances", "home appliances", "gompertz"),
    ("RE", "refrigerators", "home appliances", "home appliances", "gompertz"),
    ("WM", "washing machines", "home appliances", "home appliances", "gompertz"),
    ("MO", "microwave ovens", "home appliances", "home appliances", "gompertz"),
    ("VC", "vacuum cleaners", "home appliances", "home appliances", "gompertz"),
    ("MRI", "MRI machines", "medical", "other", "level"),
    ("DC", "desktop computers", "electronic devices", "electronic devices", "gompertz"),
    ("LP", "laptop computers", "electronic devices", "electronic devices", "gompertz"),
    ("MP", "mobile phones", "electronic devices", "electronic devices", "gompertz"),
    ("LS", "loudspeakers", "electronic devices", "electronic devices", "growth"),
    ("CP", "CD/DVD players", "electronic devices", "electronic devices", "growth"),
    ("EL", "elevators", "general machinery", "general machinery", "growth"),
    ("IR", "industrial robots", "general machinery", "general machinery", "growth"),
]
NONMAG = [
    # code, name, in total demand (paper definition)
    ("NiMH", "NiMH batteries", True),
    ("glass", "glass", True),
    ("ceramics", "ceramics", True),
    ("catalyst", "automotive catalytic converters", False),
    ("alloy", "other alloys", False),
]
MAGNET_CODES = [m[0] for m in MAGNET]
NONMAG_CODES = [m[0] for m in NONMAG]
PRODUCTS = MAGNET_CODES + NONMAG_CODES

# Nd content per unit (Table 1 of the paper) in the unit the paper prints it
CONTENT_UNIT = {"WT": "kg MW-1", "MRI": "kg unit-1"}
# factor from the printed content unit to t per count unit
TO_T = {"g unit-1": 1e-6, "kg MW-1": 1e-3, "kg unit-1": 1e-3}
# SPEC §1: EL and IR 2017 consumption are swapped in the paper; use the swapped pairing
SWAP = {"EL": "IR", "IR": "EL"}


def read_paper() -> pd.DataFrame:
    return pd.read_csv(REFERENCE, dtype=str)


def paper_value(paper: pd.DataFrame, item: str, key: str, year: str | None = None) -> float:
    rows = paper[(paper["item"] == item) & (paper["key"] == key)]
    if year is not None:
        rows = rows[rows["year"] == year]
    if len(rows) != 1:
        raise KeyError(f"yao2021.csv: {item}/{key}/{year}: {len(rows)} rows")
    return float(rows["value"].iloc[0])


def geometric_path(x0: float, x1: float, y0: int, y1: int, years: np.ndarray) -> np.ndarray:
    """Geometric interpolation (and extrapolation) through (y0, x0) and (y1, x1)."""
    return x0 * (x1 / x0) ** ((years - y0) / (y1 - y0))


def log_interp(points: dict[int, float], years: np.ndarray) -> np.ndarray:
    """Log-linear interpolation between dated points; constant growth beyond the ends."""
    ys = np.array(sorted(points))
    logs = np.log([points[y] for y in ys])
    out = np.interp(years, ys, logs)
    lo, hi = years < ys[0], years > ys[-1]
    if lo.any():
        g = (logs[1] - logs[0]) / (ys[1] - ys[0])
        out[lo] = logs[0] + g * (years[lo] - ys[0])
    if hi.any():
        g = (logs[-1] - logs[-2]) / (ys[-1] - ys[-2])
        out[hi] = logs[-1] + g * (years[hi] - ys[-1])
    return np.exp(out)


# ---------------------------------------------------------------------------
# production shapes (units/yr, MW/yr for WT) from the raw sources
# ---------------------------------------------------------------------------
def nbs_wide() -> pd.DataFrame:
    w = pd.read_csv(RAW / "china_nbs_industrial_output_wide_2000_2022.csv").set_index("year")
    w.columns = [c.split(" [")[0] for c in w.columns]
    return w


def points(
    file: str, series: str | list[str], year_col="year", value_col="value"
) -> dict[int, float]:
    d = pd.read_csv(RAW / file)
    series = [series] if isinstance(series, str) else series
    d = d[d["series"].isin(series)]
    return {int(y): float(v) for y, v in zip(d[year_col], d[value_col], strict=True)}


def shapes() -> dict[str, dict]:
    """Per product: the statistic series used for the shape and how it was made.

    Each entry: ``shape`` (np.ndarray over YEARS or None), ``observed`` (bool array:
    the shape value in that year is a statistic itself, not interpolated or
    extrapolated), ``stat`` (the statistic in its own definition, for
    production_statistic.csv: dict year -> value), ``source``, ``method``.
    """
    w = nbs_wide().loc[FIRST:LAST]
    yrs = YEARS
    out: dict[str, dict] = {}
    nbs_cols = {
        "AC": "room air conditioners",
        "RE": "household refrigerators",
        "WM": "household washing machines",
        "VC": "household vacuum cleaners",
        "MP": "mobile communication handsets (mobile phones)",
    }
    for code, col in nbs_cols.items():
        s = w[col].to_numpy() * 1e4
        out[code] = dict(
            shape=s,
            observed=np.ones(len(yrs), bool),
            stat={int(y): float(v) for y, v in zip(yrs, s, strict=True)},
            stat_name=f"NBS output: {col}",
            source=NBS,
            method=f"NBS output of {col} (10^4 units x 10^4) scaled by f to the paper's 2017 level",
        )

    # --- electric vehicles: NEV production points (CAAM, CATARC, MIIT)
    nev = points(
        "china_point_values.csv",
        ["NEV production (CAAM)", "NEV production (CATARC)", "NEV production (MIIT)"],
    )
    nev_pts = {y: v for y, v in nev.items() if y in (2011, 2012, 2014, 2015, 2016, 2017)}
    nev_shape = log_interp(
        nev_pts, yrs
    )  # 2013 interpolated; 2000-2010 back-extrapolated at the 2011-12 rate
    out["EV"] = dict(
        shape=nev_shape,
        observed=np.isin(yrs, list(nev_pts)),
        stat=nev_pts,
        stat_name="NEV production (CAAM 2011-2015, CATARC 2016, MIIT 2017)",
        source="CAAM (via evwind.es 2012-01-26; marketresearchreports.biz; InsideEVs 2015-01, 2016-01-20), "
        "CATARC (MarkLines Jan 2017), MIIT (People's Daily via dongguantoday.com 2018-03-13)",
        method="NEV production points, log-linear interpolation (2013), back-extrapolated before 2011 "
        "at the 2011-2012 growth rate; scaled by f to the paper's 2017 level",
    )

    # --- conventional vehicles: NBS motor vehicles minus NEV
    mv = w["motor vehicles (all)"].to_numpy() * 1e4
    cv_stat = mv - np.where(yrs >= 2011, nev_shape, 0.0)
    out["CV"] = dict(
        shape=cv_stat,
        observed=np.isin(yrs, [y for y in yrs if y < 2011 or y in nev_pts]),
        stat={int(y): float(v) for y, v in zip(yrs, cv_stat, strict=True)},
        stat_name="NBS motor vehicles output minus NEV production (NEV taken as 0 before 2011)",
        source=NBS + "; NEV points as for EV",
        method="NBS motor vehicles (10^4 vehicles x 10^4) minus NEV production from 2011; "
        "scaled by f to the paper's 2017 level",
    )

    # --- desktops: micro-computers minus notebooks (notebooks from 2004)
    micro = w["micro-computers (all, incl. notebooks)"].to_numpy() * 1e4
    nb = w["notebook (laptop) computers"].to_numpy() * 1e4
    nb_obs = ~np.isnan(nb)
    desk = micro - nb
    share04 = desk[yrs == 2004][0] / micro[yrs == 2004][0]
    desk = np.where(nb_obs, desk, micro * share04)
    out["DC"] = dict(
        shape=desk,
        observed=nb_obs,
        stat={int(y): float(v) for y, v in zip(yrs[nb_obs], desk[nb_obs], strict=True)},
        stat_name="NBS micro-computers minus notebook computers",
        source=NBS,
        method="NBS micro-computers minus notebooks (2004-2017); 2000-2003 micro-computers x the 2004 "
        f"desktop share ({share04:.3f}); scaled by f to the paper's 2017 level",
    )
    nb_pts = {int(y): float(v) for y, v in zip(yrs[nb_obs], nb[nb_obs], strict=True)}
    lp = log_interp({y: nb_pts[y] for y in (2004, 2005, 2006)}, yrs)
    lp = np.where(nb_obs, nb, lp)
    out["LP"] = dict(
        shape=lp,
        observed=nb_obs,
        stat=nb_pts,
        stat_name="NBS output: notebook (laptop) computers",
        source=NBS,
        method="NBS notebook computers (2004-2017); 2000-2003 back-extrapolated at the 2004-2006 "
        "growth rate; scaled by f to the paper's 2017 level",
    )

    # --- e-bikes: output/sales points, log-linear interpolation
    eb = points("china_ebike_points.csv", ["e-bike annual sales", "e-bike output"])
    eb_pts = {y: eb[y] for y in (1998, 2005, 2008, 2009, 2018)}
    out["EB"] = dict(
        shape=log_interp(eb_pts, yrs),
        observed=np.isin(yrs, [2005, 2008, 2009]),
        stat={y: v for y, v in eb_pts.items() if FIRST <= y <= LAST},
        stat_name="e-bike sales (1998, 2005) and output (2008 derived, 2009, 2018) points",
        source="Weinert, Ma & Cherry (2007) Transportation 34:301-318 (sales 1998, 2005); "
        "Bicycle Retailer 2010-05-26 (output 2009, 2008 derived); China Bicycle Association via "
        "bikenews.online (output 2018)",
        method="log-linear interpolation between the points 1998, 2005, 2008, 2009, 2018; "
        "scaled by f to the paper's 2017 level",
    )

    # --- wind: IRENA net additions (grid-connected) converted to installed basis
    wd = pd.read_csv(RAW / "china_wind_capacity_irena_owid.csv").set_index("year")
    add = wd["net_addition_GW_derived"].reindex(yrs).to_numpy() * 1e3  # MW
    cum_irena_2017 = wd.loc[2017, "cumulative_capacity_GW"] * 1e3
    cwea_cum_2017 = 188390.0  # CWEA accumulated installed capacity end-2017, MW (raw point note)
    k = cwea_cum_2017 / cum_irena_2017
    wt = add * k
    gwec = points("china_point_values.csv", "wind: newly installed capacity (GWEC)")
    cwea = points("china_point_values.csv", "wind: newly installed capacity (CWEA)")
    wt[yrs == 2016] = gwec[2016]
    wt[yrs == 2017] = cwea[2017]
    wt[yrs == 2000] = wt[yrs == 2001]
    out["WT"] = dict(
        shape=wt,
        observed=np.isin(yrs, [2016, 2017]),
        stat={2016: gwec[2016], 2017: cwea[2017]}
        | {int(y): float(a) for y, a in zip(yrs, add, strict=True) if not np.isnan(a) and y < 2016},
        stat_name="newly installed capacity: CWEA 2017, GWEC 2016; IRENA net grid-connected "
        "additions 2001-2015 (MW)",
        source="CWEA (IEA Wind TCP member page); GWEC Annual Market Report 2016 (quoted); IRENA "
        "Renewable Capacity Statistics 2024 via Our World in Data",
        method=f"IRENA net additions (grid-connected) x {k:.4f} (CWEA installed / IRENA "
        "cumulative capacity, end-2017) for 2001-2015; GWEC 2016; CWEA 2017; 2000 held at 2001",
    )

    # --- elevators: CEA series incl. exports 2000-2016, 2017 by NBS growth
    el = points("china_elevator_output_cea.csv", "elevator output (incl. exports)")
    dec = pd.read_csv(RAW / "china_nbs_output_dec_cumulative_2010_2022.csv")
    nbs_el = dec[dec["product"] == "elevators, escalators and lifts"].set_index("year")["value"]
    el2017 = el[2016] * nbs_el[2017] / nbs_el[2016]
    el_shape = np.array([el.get(int(y), el2017) for y in yrs])
    out["EL"] = dict(
        shape=el_shape,
        observed=yrs <= 2016,
        stat={int(y): el[int(y)] for y in yrs if int(y) in el} | {2017: nbs_el[2017] * 1e4},
        stat_name="elevator output incl. exports (China Elevator Association series) 2000-2016; "
        "NBS elevators, escalators and lifts 2017 (above-size enterprises)",
        source="l-a-m-b.com.cn news page '2016年全國電梯產量77.6萬臺' (series usually attributed to the "
        "China Elevator Association); NBS monthly output, December cumulative",
        method="CEA output series 2000-2016; 2017 = 2016 x NBS growth 2016-2017 "
        f"({nbs_el[2017] / nbs_el[2016]:.4f}); scaled by f to the paper's 2017 level",
    )

    # --- industrial robots: NBS 2015-2017, 2014 derived; earlier at the stated 2015 growth
    rb = points("china_other_product_points.csv", "industrial robot output (NBS)")
    nbs_rb = dec[dec["product"] == "industrial robots"].set_index("year")["value"]
    rb_pts = {2014: rb[2014], 2015: rb[2015], 2016: float(nbs_rb[2016]), 2017: float(nbs_rb[2017])}
    ir = log_interp(rb_pts, yrs)
    ir[yrs < 2014] = rb_pts[2014] / 1.217 ** (2014 - yrs[yrs < 2014])
    out["IR"] = dict(
        shape=ir,
        observed=np.isin(yrs, [2015, 2016, 2017]),
        stat=rb_pts,
        stat_name="NBS industrial robot output (2014 derived from the stated +21.7 % in 2015)",
        source="NBS via 中国市场调查网 2016-05-21 (2015); NBS monthly output, December cumulative (2016-2017)",
        method="NBS output 2014-2017; before 2014 back-extrapolated at the 21.7 %/yr growth NBS "
        "states for 2015; scaled by f to the paper's 2017 level",
    )

    # --- microwave ovens: one point (2003, JEMA) and the paper's 2017 level
    mo = points(
        "china_other_product_points.csv",
        "microwave oven production (China plants, sold in 62 economies)",
    )
    out["MO"] = dict(
        shape=None,
        anchor=(2003, mo[2003]),
        observed=np.zeros(len(yrs), bool),
        stat={2003: mo[2003]},
        stat_name="microwave ovens made in China plants (JEMA survey, 2003)",
        source="Appliance Magazine 2005-04-07 (JEMA survey)",
        method="constant growth path through the JEMA 2003 point and the paper's 2017 level, "
        "extrapolated to 2000-2002",
    )

    # --- loudspeakers: proxy NBS combination audio systems
    ca = (
        w[
            "combination audio systems (组合音响; proxy for loudspeaker-bearing audio products)"
        ].to_numpy()
        * 1e4
    )
    out["LS"] = dict(
        shape=ca,
        observed=np.zeros(len(yrs), bool),
        stat={},
        proxy={int(y): float(v) for y, v in zip(yrs, ca, strict=True)},
        stat_name="proxy: NBS output of combination audio systems",
        source=NBS + " (proxy series)",
        method="proxy: shape of NBS combination audio systems output (no loudspeaker series "
        "exists); scaled by f to the paper's 2017 level",
    )

    # --- CD/DVD players: DVD production (2003 derived) and export points, paper 2017
    cp = points("china_other_product_points.csv", ["DVD player production", "DVD player exports"])
    cp_pts = {2003: cp[2003], 2005: cp[2005], 2006: cp[2006]}
    out["CP"] = dict(
        shape=None,
        anchors=cp_pts,
        observed=np.zeros(len(yrs), bool),
        stat=cp_pts,
        stat_name="DVD players: production 2003 (70 % of ~100 m, derived), exports 2005 (derived) "
        "and 2006 (exports are a lower bound of production)",
        source="Home Media Magazine 2006-12-07 (DVD Forum; 2003); DVD & Beyond, CCID Consulting "
        "May 2007 (exports 2005-2006)",
        method="log-linear interpolation between the DVD points 2003, 2005, 2006 and the paper's "
        "2017 level; 2000-2002 back-extrapolated at the 2003-2005 growth rate",
    )
    return out


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------
def build_products() -> pd.DataFrame:
    rows = [
        dict(
            product=c,
            name=n,
            category=cat,
            group=g,
            intermediate="NdFeB",
            count_unit="MW" if c == "WT" else "unit",
            in_total_demand=True,
            forecast_method=fm,
            source="SPEC §1 (codes and forecast groups after Yao et al. 2021 section 3.2; categories and "
            "method mapping are assumptions)",
        )
        for c, n, cat, g, fm in MAGNET
    ]
    rows += [
        dict(
            product=c,
            name=n,
            category="non-magnet",
            group="other",
            intermediate=c,
            count_unit="t",
            in_total_demand=tot,
            forecast_method="hold",
            source="SPEC §1 (the paper's 2017 total of 15,872 t is the 17 products + NiMH + glass + ceramics)",
        )
        for c, n, tot in NONMAG
    ]
    return pd.DataFrame(rows)


def content_and_adoption(paper: pd.DataFrame):
    mi, ar = {}, {}
    for c in MAGNET_CODES:
        unit = CONTENT_UNIT.get(c, "g unit-1")
        mi[c] = (paper_value(paper, "nd_content", c), unit)
        ar[c] = paper_value(paper, "adoption_rate", c, "2017") / 100.0
    return mi, ar


def build_nd_content(mi) -> pd.DataFrame:
    rows = [
        dict(
            product=c, value=v, unit=u, quality="literature", source=PAPER + ", Table 1", method=""
        )
        for c, (v, u) in mi.items()
    ]
    rows += [
        dict(
            product=c,
            value=1.0,
            unit="t t-1",
            quality="statistic",
            source="definition",
            method="definition: production of a non-magnet end use is counted in t Nd",
        )
        for c in NONMAG_CODES
    ]
    return pd.DataFrame(rows)


def dc2017(paper, c) -> float:
    return paper_value(paper, "consumption", SWAP.get(c, c), "2017")


def hist_rate(paper, c) -> float | None:
    rows = paper[(paper["item"] == "growth_rate_hist") & (paper["key"] == c)]
    return float(rows["value"].iloc[0]) / 100 if len(rows) else None


def build_production(paper, mi, ar, sh):
    """Production of the 17 final products and the calibration table."""
    rows, calib, stat_rows = [], [], []
    # growth of the paper's total demand 2000-2017 over 18 periods (SPEC §2): DC_total(2000)
    # is the paper's in-use stock in 2000 (555 t) plus its final-product exports (305 t)
    total_2017 = paper_value(paper, "consumption", "total", "2017")
    total_2000 = 555.0 + paper_value(paper, "trade", "final_exports", "2000")
    g_total = (total_2017 / total_2000) ** (1 / 18) - 1
    for c in MAGNET_CODES:
        v, u = mi[c]
        p2017 = dc2017(paper, c) / (v * TO_T[u] * ar[c])
        s = sh.get(c)
        count_unit = "MW yr-1" if c == "WT" else "unit yr-1"
        if c == "MRI":
            path = p2017 / (1 + g_total) ** ((LAST - YEARS) * 18 / 17)
            f, observed = float("nan"), np.zeros(len(YEARS), bool)
            src = "estimate: constant growth of the paper's total demand"
            meth = (
                f"constant-growth path through the paper's 2017 level at the growth of the paper's total "
                f"demand ({total_2000:.0f} t in 2000 -> {total_2017:.0f} t in 2017 over 18 periods, "
                f"{g_total:.4f}/yr, SPEC §2 convention); no MRI series found"
            )
            stat_name = ""
        elif c == "MO":
            y0, x0 = s["anchor"]
            path = geometric_path(x0, p2017, y0, LAST, YEARS)
            f, observed = float("nan"), s["observed"]
            src, meth, stat_name = s["source"], s["method"], s["stat_name"]
        elif c == "CP":
            path = log_interp(s["anchors"] | {LAST: p2017}, YEARS)
            f, observed = float("nan"), s["observed"]
            src, meth, stat_name = s["source"], s["method"], s["stat_name"]
        else:
            f = p2017 / s["shape"][-1]
            path = s["shape"] * f
            observed = s["observed"]
            src, meth, stat_name = s["source"], s["method"], s["stat_name"]
        # quality: 2017 is the paper's level; a scaled statistic keeps `statistic` only when
        # statistic and paper agree within STATISTIC_TOLERANCE
        keep_stat = (not math.isnan(f)) and abs(f - 1) <= STATISTIC_TOLERANCE and c != "LS"
        for y, x, obs in zip(YEARS, path, observed, strict=True):
            if y == LAST:
                q, so, me = (
                    "literature",
                    PAPER + " (section 3.1, DC 2017 / (MI x AR))",
                    (
                        f"P(2017) = DC(2017) / (MI x AR) with the paper's DC {dc2017(paper, c):g} t"
                        + (" (swapped EL/IR pairing, SPEC §1)" if c in SWAP else "")
                    ),
                )
            else:
                q = "statistic" if (obs and keep_stat) else "estimate"
                so, me = src, meth + (f" (f = {f:.4f})" if not math.isnan(f) else "")
            rows.append(
                dict(
                    product=c,
                    year=int(y),
                    value=float(x),
                    unit=count_unit,
                    quality=q,
                    source=so,
                    method=me,
                )
            )
        stat_vals = s["stat"] if s else {}
        stat_2017 = stat_vals.get(LAST)
        calib.append(
            dict(
                product=c,
                statistic=stat_name or "none",
                paper_P2017=p2017,
                statistic_2017=stat_2017,
                f=f,
                diff_pct=(p2017 / stat_2017 - 1) * 100 if stat_2017 else float("nan"),
            )
        )
        for y, x in (stat_vals or {}).items():
            stat_rows.append(
                dict(
                    product=c,
                    year=int(y),
                    value=float(x),
                    unit=count_unit,
                    quality="statistic",
                    series=stat_name,
                    source=s["source"],
                )
            )
        if s and s.get("proxy"):
            for y, x in s["proxy"].items():
                stat_rows.append(
                    dict(
                        product=c,
                        year=int(y),
                        value=float(x),
                        unit="unit yr-1",
                        quality="statistic",
                        series=stat_name,
                        source=s["source"],
                    )
                )
    prod = pd.DataFrame(rows)
    prod = electronics_residual(paper, mi, ar, prod, total_2000)
    return prod, pd.DataFrame(calib), pd.DataFrame(stat_rows), g_total


ELECTRONICS = ["DC", "LP", "MP", "LS", "CP"]
NO_SERIES = ["LS", "CP"]


def electronics_residual(paper, mi, ar, prod: pd.DataFrame, total_2000: float) -> pd.DataFrame:
    """Loudspeakers and CD/DVD players (no production series) from the paper's electronics figures.

    The paper states electronics (DC LP MP LS CP) at 50 % of total demand in 2000, a peak of
    5,421 t in 2012 and 4,000 t in 2017. The group path is log-linear through 0.5 x total(2000),
    5,421 t (2012) and the sum of the five 2017 figures; LS + CP is that path minus the DC of
    DC, LP and MP (statistics); the residual is split between LS and CP in proportion to their
    proxy paths (NBS combination audio; DVD points), each scaled to its 2017 level.
    """
    t_mi = {c: mi[c][0] * TO_T[mi[c][1]] for c in ELECTRONICS}
    p = prod.set_index(["product", "year"])["value"]
    dc = {c: p.loc[c].reindex(YEARS).to_numpy() * t_mi[c] * ar[c] for c in ELECTRONICS}
    e2017 = sum(dc2017(paper, c) for c in ELECTRONICS)
    share_2000 = 0.5
    anchors = {
        FIRST: share_2000 * total_2000,
        2012: paper_value(paper, "consumption", "electronics_peak", "2012"),
        LAST: e2017,
    }
    group = log_interp(anchors, YEARS)
    residual = group - dc["DC"] - dc["LP"] - dc["MP"]
    if (residual <= 0).any():
        raise SystemExit("electronics residual for LS + CP is not positive")
    proxy_sum = dc["LS"] + dc["CP"]
    for c in NO_SERIES:
        dc_c = residual * dc[c] / proxy_sum
        dc_c[-1] = dc2017(paper, c)
        mask = (prod["product"] == c) & (prod["year"] < LAST)
        prod.loc[mask, "value"] = dc_c[:-1] / (t_mi[c] * ar[c])
        prod.loc[mask, "quality"] = "estimate"
        prod.loc[mask, "method"] = prod.loc[mask, "method"] + (
            f"; then rescaled with the other product without a series (LS, CP) so that electronics "
            f"(DC LP MP LS CP) follow the paper's group figures: {share_2000:.0%} of total demand in 2000 "
            f"(total {total_2000:.0f} t = the paper's 2000 in-use stock 555 t + 305 t exports), "
            f"{anchors[2012]:.0f} t in 2012, {e2017:.0f} t in 2017, log-linear between; DC LP MP from statistics"
        )
    return prod


def placeholder_nonmagnet(paper) -> pd.DataFrame:
    """Non-magnet end uses when the upstream table is not there yet (placeholders)."""
    rows = []
    nimh17 = paper_value(paper, "intermediate", "NiMH", "2017")
    g_nimh = 0.1407
    paths = {
        "NiMH": (
            nimh17 / (1 + g_nimh) ** ((LAST - YEARS) * 18 / 17),
            "constant growth 14.07 %/yr (paper) over 18 periods through the paper's 2017 level",
        ),
        "glass": (
            geometric_path(
                paper_value(paper, "intermediate", "glass", "2017") / 4.53,
                paper_value(paper, "intermediate", "glass", "2017"),
                FIRST,
                LAST,
                YEARS,
            ),
            "geometric path from 2017 / 4.53 in 2000 to the paper's 2017 level",
        ),
        "ceramics": (
            geometric_path(
                paper_value(paper, "intermediate", "ceramics", "2017") / 3.68,
                paper_value(paper, "intermediate", "ceramics", "2017"),
                FIRST,
                LAST,
                YEARS,
            ),
            "geometric path from 2017 / 3.68 in 2000 to the paper's 2017 level",
        ),
        "alloy": (
            geometric_path(
                paper_value(paper, "intermediate", "alloy", "2000"),
                paper_value(paper, "intermediate", "alloy", "2017"),
                FIRST,
                LAST,
                YEARS,
            ),
            "geometric path between the paper's 2000 and 2017 levels",
        ),
        "catalyst": (
            geometric_path(10.0, 60.0, FIRST, LAST, YEARS),
            "geometric path across the paper's 10-60 t range",
        ),
    }
    for c, (path, meth) in paths.items():
        for y, x in zip(YEARS, path, strict=True):
            rows.append(
                dict(
                    product=c,
                    year=int(y),
                    value=float(x),
                    unit="t yr-1",
                    quality="estimate",
                    source="placeholder from " + PAPER,
                    method="placeholder: " + meth,
                )
            )
    return pd.DataFrame(rows)


def nonmagnet(paper) -> tuple[pd.DataFrame, str]:
    if NONMAGNET.exists():
        d = pd.read_csv(NONMAGNET)
        d = d[d["year"].between(FIRST, LAST)]
        return d[["product", "year", "value", "unit", "quality", "source", "method"]], "upstream"
    return placeholder_nonmagnet(paper), "placeholder"


def adoption_paths(paper, mi, ar, production) -> pd.DataFrame:
    """Adoption rate by year: 2017 from Table 1; earlier years held, except where the paper
    states a historical growth rate of DC (AC, RE, CV), which with the production shape
    implies AR(2000); AR is then geometric between 2000 and 2017."""
    rows = []
    prod = production.set_index(["product", "year"])["value"]
    ratio = {}
    for c in ("AC", "RE", "CV"):
        g = hist_rate(paper, c)
        v, u = mi[c]
        dc2000 = dc2017(paper, c) / (1 + g) ** 18
        ratio[c] = (dc2000 / (prod[(c, FIRST)] * v * TO_T[u]), dc2000, g)
    appliance_ratio = np.mean([ratio[c][0] / ar[c] for c in ("AC", "RE")])
    for c in MAGNET_CODES:
        if c in ratio:
            ar2000, dc2000, g = ratio[c]
            path = geometric_path(ar2000, ar[c], FIRST, LAST, YEARS)
            meth = (
                f"AR(2000) = DC(2000) / (P(2000) x MI) with DC(2000) = DC(2017) / (1 + {g:.4f})^18 "
                f"(the paper's growth rate of {c} Nd use over 18 periods) = {dc2000:.1f} t; geometric "
                f"path to the 2017 value"
            )
            src = PAPER + f" (Table 1 for 2017; section 3.1 growth rate {g * 100:.2f} %/yr)"
        elif c in APPLIANCES_LIKE_AC_RE:
            path = geometric_path(ar[c] * appliance_ratio, ar[c], FIRST, LAST, YEARS)
            meth = (
                f"AR(2000) = AR(2017) x {appliance_ratio:.4f}, the mean AR(2000)/AR(2017) implied for air "
                "conditioners and refrigerators (diffusion of NdFeB inverter motors in home appliances); "
                "geometric path to the 2017 value"
            )
            src = PAPER + " (Table 1 for 2017; AC and RE growth rates of section 3.1)"
        else:
            path = np.full(len(YEARS), ar[c])
            meth, src = (
                "held at the 2017 value of Table 1 (no earlier figure found)",
                PAPER + " (Table 1, 2017)",
            )
        for y, x in zip(YEARS, path, strict=True):
            q = "literature" if y == LAST else "estimate"
            rows.append(
                dict(
                    product=c,
                    year=int(y),
                    value=float(x),
                    unit="1",
                    quality=q,
                    source=PAPER + " (Table 1)" if y == LAST else src,
                    method="" if y == LAST else meth,
                )
            )
    for c in NONMAG_CODES:
        for y in YEARS:
            rows.append(
                dict(
                    product=c,
                    year=int(y),
                    value=1.0,
                    unit="1",
                    quality="statistic",
                    source="definition",
                    method="definition: non-magnet production is counted in t Nd",
                )
            )
    return pd.DataFrame(rows)


def domestic_consumption(production, nd, adoption) -> pd.Series:
    p = production.set_index(["product", "year"])["value"]
    a = adoption.set_index(["product", "year"])["value"]
    to_t = {r["product"]: r["value"] * (TO_T.get(r["unit"], 1.0)) for _, r in nd.iterrows()}
    mi = pd.Series([to_t[k[0]] for k in p.index], index=p.index)
    return p * mi * a.reindex(p.index)


def build_final_trade(paper, dc: pd.Series) -> pd.DataFrame:
    e2000 = paper_value(paper, "trade", "final_exports", "2000")
    e2017 = paper_value(paper, "trade", "final_exports", "2017")
    total = geometric_path(e2000, e2017, FIRST, LAST, YEARS)
    dcm = dc.loc[MAGNET_CODES].unstack("year")
    share = dcm / dcm.sum(axis=0)
    rows = []
    for c in PRODUCTS:
        for i, y in enumerate(YEARS):
            if c in MAGNET_CODES:
                ex = float(total[i] * share.loc[c, y])
                meth = (
                    f"the paper's final-product exports ({e2000:g} t in 2000, {e2017:g} t in 2017, geometric "
                    f"between) x the product's share of DC among the 17 final products "
                    f"({share.loc[c, y]:.4f})"
                )
                src = "estimate: allocation of " + PAPER + " section 3.1 totals"
            else:
                ex, meth, src = (
                    0.0,
                    (
                        "non-magnet end uses are traded as intermediates "
                        "(intermediate_trade.csv); no final-product trade"
                    ),
                    "estimate: assumption",
                )
            rows.append(
                dict(
                    product=c,
                    flow="export",
                    year=int(y),
                    value=ex,
                    unit="t yr-1",
                    quality="estimate",
                    source=src,
                    method=meth,
                )
            )
            rows.append(
                dict(
                    product=c,
                    flow="import",
                    year=int(y),
                    value=0.0,
                    unit="t yr-1",
                    quality="estimate",
                    source="estimate: assumption",
                    method="no public series of final-product imports; 0",
                )
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# lifetimes
# ---------------------------------------------------------------------------
HAO = (
    "Hao, Wang & Ouyang (2011) Science China Technological Sciences 2011 issue 3 (abstract on CNKI, "
    "en.cnki.com.cn/Article_en/CJFDTOTAL-JEXG201103015.htm: average life span of private passenger vehicles "
    "14.5 yr, Weibull fits)"
)
CHEAA = (
    "CHEAA group standards 'safe service life of household appliances' (2020-01-10), Xinhua via "
    "cqn.com.cn 2020-01-12"
)
CES = "national safe-use periods of household appliances, ces.cn 2015-06-15"
MUELLER = (
    "Mueller, Cao, Kongar, Altonji & Weiner, report on product lifetime distributions (abstract at "
    "kiphub.com/paper/665e8c0db10e478aeca1ccea: appliances best fitted by Weibull, passenger cars by normal)"
)
PHONE = (
    "China Mobile Terminal Lab: average smartphone replacement cycle 25.3 months (todaychina.cc)"
)
WIND = "Power Technology 2024-03-18: wind turbine lifespan 20-30 yr (global)"
PCLIST = "popular list of appliance service lives (xuewenya.com; origin unstated): personal computers 6 yr, VCR 7 yr, microwave 11 yr"
BABBITT = "Babbitt, Kahhat, Williams & Babbitt (2009) Environ. Sci. Technol. 43:5106-5112: PC lifespan 5.5 yr in 2000 (US)"

# product: (mean [yr], quality, source, method)
LIFETIME_MEAN = {
    "CV": (14.5, "literature", HAO, "private passenger vehicles, China"),
    "EV": (
        14.5,
        "estimate",
        HAO,
        "assumption: as conventional vehicles (no EV lifetime for China found)",
    ),
    "EB": (
        8.0,
        "estimate",
        "estimate: assumption",
        "assumption (no e-bike lifetime found; batteries, 2-5 yr, are replaced within the vehicle's life)",
    ),
    "WT": (20.0, "literature", WIND, "lower end of the 20-30 yr range (design lifetime)"),
    "AC": (10.0, "literature", CHEAA, "safe service life, air conditioners"),
    "RE": (
        10.0,
        "literature",
        CHEAA,
        "safe service life, refrigerators (CHEARI 2004: average life ~10 yr)",
    ),
    "WM": (8.0, "literature", CHEAA, "safe service life, washing machines"),
    "MO": (10.0, "estimate", PCLIST, "popular lists give 10-11 yr (low-quality source)"),
    "VC": (8.0, "literature", CES, "national safe-use period, vacuum cleaners"),
    "MRI": (10.0, "estimate", "estimate: assumption", "assumption (no MRI service life found)"),
    "DC": (6.0, "estimate", PCLIST + "; " + BABBITT, "6 yr (list), close to 5.5 yr (US, 2000)"),
    "LP": (6.0, "estimate", PCLIST, "assumption: as personal computers"),
    "MP": (2.0, "literature", PHONE, "25.3 months rounded to whole years"),
    "LS": (
        8.0,
        "estimate",
        CES,
        "proxy: TV sets (8-10 yr safe-use period), where most loudspeakers sit",
    ),
    "CP": (7.0, "estimate", PCLIST, "proxy: VCR 7 yr (low-quality list)"),
    "EL": (
        20.0,
        "estimate",
        "estimate: assumption",
        "assumption (no elevator service life found; CEA stock 4.93 m in 2016 vs cumulative output shows few retirements)",
    ),
    "IR": (
        12.0,
        "estimate",
        "estimate: assumption",
        "assumption; a secondary page attributes 12-15 yr for well-maintained robots to the IFR",
    ),
    "NiMH": (5.0, "estimate", "estimate: assumption", "assumption for batteries in use"),
    "glass": (10.0, "estimate", "estimate: assumption", "assumption"),
    "ceramics": (10.0, "estimate", "estimate: assumption", "assumption"),
    "catalyst": (14.5, "estimate", HAO, "assumption: as the vehicle carrying the converter"),
    "alloy": (15.0, "estimate", "estimate: assumption", "assumption"),
}
APPLIANCES_LIKE_AC_RE = ("WM", "MO", "VC")
WEIBULL_PRODUCTS = {"AC", "RE", "WM", "MO", "VC", "DC", "LP", "MP", "LS", "CP", "NiMH"}
WEIBULL_SHAPE = 2.5  # estimate: no Chinese shape parameter found
NORMAL_CV = 0.3  # estimate: sd / mean of normal lifetimes


def build_lifetimes() -> pd.DataFrame:
    rows = []
    for c in PRODUCTS:
        mean, q, src, meth = LIFETIME_MEAN[c]
        rows.append(
            dict(
                variant="paper",
                product=c,
                parameter="model",
                value="fixed",
                unit="",
                quality=q,
                source=src,
                method="fixed mean lifetime (the paper's model, eq. 5)",
            )
        )
        rows.append(
            dict(
                variant="paper",
                product=c,
                parameter="mean",
                value=f"{mean:g}",
                unit="yr",
                quality=q,
                source=src,
                method=meth,
            )
        )
        if c in WEIBULL_PRODUCTS:
            scale = mean / math.gamma(1 + 1 / WEIBULL_SHAPE)
            rows += [
                dict(
                    variant="literature",
                    product=c,
                    parameter="model",
                    value="weibull",
                    unit="",
                    quality="literature",
                    source=MUELLER,
                    method="Weibull family for appliances and electronics",
                ),
                dict(
                    variant="literature",
                    product=c,
                    parameter="shape",
                    value=f"{WEIBULL_SHAPE:g}",
                    unit="1",
                    quality="estimate",
                    source="estimate: assumption",
                    method="no Chinese Weibull shape found; k = 2.5 assumed",
                ),
                dict(
                    variant="literature",
                    product=c,
                    parameter="scale",
                    value=f"{scale:.4f}",
                    unit="yr",
                    quality=q,
                    source=src,
                    method=f"scale = mean / Gamma(1 + 1/k), mean {mean:g} yr ({meth})",
                ),
            ]
        else:
            rows += [
                dict(
                    variant="literature",
                    product=c,
                    parameter="model",
                    value="normal",
                    unit="",
                    quality="literature",
                    source=MUELLER,
                    method="normal family for vehicles (Mueller et al.), also used for capital goods",
                ),
                dict(
                    variant="literature",
                    product=c,
                    parameter="mean",
                    value=f"{mean:g}",
                    unit="yr",
                    quality=q,
                    source=src,
                    method=meth,
                ),
                dict(
                    variant="literature",
                    product=c,
                    parameter="sd",
                    value=f"{NORMAL_CV * mean:g}",
                    unit="yr",
                    quality="estimate",
                    source="estimate: assumption",
                    method=f"sd = {NORMAL_CV:g} x mean (assumed)",
                ),
            ]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# drivers and ownership
# ---------------------------------------------------------------------------
def build_drivers() -> pd.DataFrame:
    years = np.arange(FIRST, FORECAST_LAST + 1)
    pop = pd.read_csv(RAW / "china_population_unwpp2024_owid.csv").set_index("year")
    wb = pd.read_csv(RAW / "china_gdp_constant2015usd_worldbank.csv").set_index("year")[
        "gdp_constant_2015_usd"
    ]
    ssp = pd.read_csv(RAW / "china_gdp_ppp_ssp_iiasa_v9.csv")
    ssp = ssp[ssp["scenario"].str.startswith("SSP2")].set_index("year")["gdp_ppp_billion_usd2005"]
    ssp_y = np.arange(2010, FORECAST_LAST + 1)
    ssp_annual = pd.Series(np.exp(np.interp(ssp_y, ssp.index, np.log(ssp.values))), index=ssp_y)
    wb_last = int(wb.index.max())
    gdp = {}
    for y in years:
        if y <= wb_last:
            gdp[y] = ssp.loc[2010] * wb.loc[y] / wb.loc[2010]
        else:
            gdp[y] = (
                ssp.loc[2010] * wb.loc[wb_last] / wb.loc[2010] * ssp_annual[y] / ssp_annual[wb_last]
            )
    pop_src = (
        "UN World Population Prospects 2024 (estimates to 2023, medium variant from 2024) via Our World in "
        "Data 'population-with-un-projections'"
    )
    rows = []
    for y in years:
        p = float(pop.loc[y, "population_persons"])
        est = pop.loc[y, "variant"] == "estimates"
        rows.append(
            dict(
                driver="population",
                year=int(y),
                value=p,
                unit="person",
                quality="statistic" if est else "literature",
                source=pop_src,
                method="" if est else "UN WPP 2024 medium-variant projection",
            )
        )
    for y in years:
        hist = y <= wb_last
        rows.append(
            dict(
                driver="gdp_per_capita",
                year=int(y),
                value=float(gdp[y] * 1e9 / pop.loc[y, "population_persons"]),
                unit="USD2005 PPP person-1 yr-1",
                quality="statistic" if hist else "literature",
                source=(
                    "World Bank WDI NY.GDP.MKTP.KD (real growth) levelled to IIASA SSP2 v9 GDP|PPP 2010"
                    if hist
                    else "IIASA SSP Database v9 (2013-02-19), SSP2, model 'IIASA GDP', GDP|PPP"
                ),
                method=(
                    "GDP PPP [billion US$2005] = SSP2(2010) x WDI(t) / WDI(2010), divided by UN WPP population"
                    if hist
                    else f"GDP PPP = GDP({wb_last}) x SSP2(t) / SSP2({wb_last}) (SSP2 geometric between "
                    "5-year points), divided by UN WPP population"
                ),
            )
        )
    return pd.DataFrame(rows)


OWNERSHIP_ITEMS = {
    "AC": "air conditioners",
    "RE": "refrigerators",
    "WM": "washing machines",
    "MO": "microwave ovens",
    "MP": "mobile phones",
}


def build_ownership() -> pd.DataFrame:
    o = pd.read_csv(RAW / "china_household_ownership_per100.csv")
    o = o[o["scope"] == "national"]
    rows = []
    for c, item in OWNERSHIP_ITEMS.items():
        for _, r in o[o["item"] == item].sort_values("year").iterrows():
            rows.append(
                dict(
                    product=c,
                    year=int(r["year"]),
                    value=float(r["value"]) / 100,
                    unit="unit household-1",
                    quality="statistic",
                    source="NBS integrated household survey, national average units per 100 households at "
                    "year end (NBS National Data, as scraped in GitHub zhuang1234/National-Data)",
                    method="units per 100 households / 100",
                )
            )
    ato = pd.read_csv(RAW / "china_vehicle_registrations_ato.csv")
    ato = ato[(ato["indicator"] == "Total Vehicle Registration") & (ato["year"] >= 2005)]
    pop = pd.read_csv(RAW / "china_population_unwpp2024_owid.csv").set_index("year")[
        "population_persons"
    ]
    for _, r in ato.sort_values("year").iterrows():
        rows.append(
            dict(
                product="CV",
                year=int(r["year"]),
                value=float(r["vehicles"]) / float(pop.loc[r["year"]]),
                unit="unit person-1",
                quality="statistic",
                source="Asian Transport Outlook National Database (NBS China Statistical Yearbook) total "
                "vehicle registrations / UN WPP 2024 population",
                method="registrations / population; 2000 left out (series break before 2005); includes NEVs",
            )
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
def main() -> None:
    paper = read_paper()
    mi, ar = content_and_adoption(paper)
    sh = shapes()
    prod_mag, calib, prod_stat, g_total = build_production(paper, mi, ar, sh)
    nm, nm_origin = nonmagnet(paper)
    production = pd.concat([prod_mag, nm], ignore_index=True)
    nd = build_nd_content(mi)
    adoption = adoption_paths(paper, mi, ar, production)
    dc = domestic_consumption(production, nd, adoption)

    # check: 2017 DC per product equals the paper within 0.1 %
    bad = []
    for c in MAGNET_CODES:
        got, want = dc[(c, LAST)], dc2017(paper, c)
        if abs(got / want - 1) > 1e-3:
            bad.append(f"{c}: {got:.2f} t vs paper {want:g} t")
    if bad:
        raise SystemExit("DC 2017 differs from the paper: " + "; ".join(bad))
    tot = dc.loc[[c for c in PRODUCTS if c not in ("catalyst", "alloy")]].groupby("year").sum()

    trade = build_final_trade(paper, dc)
    # per-person ownership is the loader's canonical unit; per-household series go to a
    # separate table (a household size would be a stated factor, not a unit conversion)
    own = build_ownership()
    tables = {
        "products.csv": build_products(),
        "production.csv": production,
        "production_statistic.csv": prod_stat,
        "nd_content.csv": nd,
        "adoption_rate.csv": adoption,
        "final_trade.csv": trade,
        "lifetimes.csv": build_lifetimes(),
        "drivers.csv": build_drivers(),
        "ownership.csv": own[own["unit"] == "unit person-1"],
        "ownership_household.csv": own[own["unit"] == "unit household-1"],
    }
    for name, df in tables.items():
        df.to_csv(OUT / name, index=False, float_format="%.10g", lineterminator="\n")

    pd.set_option("display.width", 200)
    print(f"non-magnet end uses: {nm_origin}")
    print("calibration (P in units/yr, MW/yr for WT):")
    print(calib.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"growth of the paper's total demand used for MRI: {g_total:.4f}/yr")
    groups = {
        "electronics": ["DC", "LP", "MP", "LS", "CP"],
        "home appliances": ["AC", "RE", "WM", "MO", "VC"],
    }
    for gname, codes in groups.items():
        s = dc.loc[codes].groupby("year").sum()
        print(
            f"{gname}: 2000 {s[FIRST]:.0f} t ({s[FIRST] / tot[FIRST]:.0%} of total), 2012 {s[2012]:.0f} t, "
            f"peak {s.idxmax()} {s.max():.0f} t, 2017 {s[LAST]:.0f} t ({s[LAST] / tot[LAST]:.0%})"
        )
    print(
        f"total demand (paper definition): 2000 {tot[FIRST]:.0f} t, 2017 {tot[LAST]:.0f} t "
        f"(x{tot[LAST] / tot[FIRST]:.1f})"
    )
    cv = dc.loc["CV"] / tot
    print(f"CV share of total: {cv.min():.0%}-{cv.max():.0%}")
    print("quality flags:")
    for name, df in tables.items():
        if "quality" in df:
            print(
                f"  {name}: "
                + ", ".join(f"{k} {v}" for k, v in df["quality"].value_counts().items())
            )


if __name__ == "__main__":
    main()
