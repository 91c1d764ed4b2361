"""Regenerate the final-product tables of the China Nd data set from raw sources.

Run from anywhere::

    python data/china_nd/build/make_tables.py [--trade FILE] [--out DIR] [--without-trade]

Reads the copies of public sources in ``raw/`` (each with its own ``source``
column), the paper's figures in ``data/reference/yao2021.csv`` (Yao et al.
2021, doi:10.1016/j.resconrec.2021.105752), the non-magnet end uses in
``data/china_nd/build_upstream/nonmagnet.csv`` (placeholders if missing), the
trade builder's ``build/trade_by_product.csv`` (required unless
``--without-trade``) and, when present, ``build/households.csv``; writes
``products.csv``, ``production.csv``, ``production_statistic.csv``,
``nd_content.csv``, ``adoption_rate.csv``, ``intensity_calibration.csv``,
``final_trade.csv``, ``lifetimes.csv`` and ``drivers.csv`` next to
``dataset.toml``. ``ownership*.csv`` are written by the ownership builder, not
here. Every method is written in ``data/china_nd/SOURCES.md``.

Units first (SPEC §2.1): production P is in units (MW for wind) as the
statistics give them, 1978-2017, never scaled to the paper. The paper's 2017
domestic consumption enters through the intensity factor
k = DC_paper(2017) / (P(2017) x MI x AR(2017)) (``intensity_calibration.csv``);
the script fails if P(2017) x k x MI x AR(2017) differs from the paper's DC by
more than 0.1 % for any of the 17 final products.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
OUT = HERE.parent
REFERENCE = OUT.parent / "reference" / "yao2021.csv"
NONMAGNET = OUT / "build_upstream" / "nonmagnet.csv"
TRADE = HERE / "trade_by_product.csv"

FIRST, LAST, FORECAST_LAST = 2000, 2017, 2050
YEARS = np.arange(FIRST, LAST + 1)
HIST_FIRST = 1978  # first year of the unit-flow tables (dataset.toml [years] history_first)
HYEARS = np.arange(HIST_FIRST, LAST + 1)
NDFEB_YEAR = 1984  # NdFeB magnets introduced (SPEC §2.2): AR = 0 before
WT_START = 1985  # wind: linear ramp from 0 in this year (assumption)
MRI_START = 1985  # MRI: 0 before (assumption)
CP_START = 1993  # CD/VCD/DVD players: 0 before (assumption)

PAPER = (
    "Yao, Geng, Sarkis, Xiao & Gao (2021) Dynamic neodymium stocks and flows analysis in China, "
    "Resour. Conserv. Recycl. 174:105752, doi:10.1016/j.resconrec.2021.105752"
)
NBS = (
    "NBS National Data, annual output of major industrial products (hgnd, table A0E0H), "
    "as scraped in GitHub zhuang1234/National-Data commit 4b467dda7a0fbef29f937a60f08db0e6420da6a6"
)

# ---------------------------------------------------------------------------
# products (SPEC §1)
# ---------------------------------------------------------------------------
MAGNET = [
    # code, name, category, group, forecast method
    ("CV", "conventional vehicles", "vehicles", "other", "fleet"),
    ("EV", "electric vehicles", "vehicles", "other", "growth"),
    ("EB", "e-bikes", "vehicles", "other", "growth"),
    ("WT", "wind turbines (newly installed capacity)", "clean energy", "other", "growth"),
    ("AC", "air conditioners", "home appliances", "home appliances", "fleet"),
    ("RE", "refrigerators", "home appliances", "home appliances", "fleet"),
    ("WM", "washing machines", "home appliances", "home appliances", "fleet"),
    ("MO", "microwave ovens", "home appliances", "home appliances", "fleet"),
    ("VC", "vacuum cleaners", "home appliances", "home appliances", "fleet"),
    ("MRI", "MRI machines", "medical", "other", "level"),
    ("DC", "desktop computers", "electronic devices", "electronic devices", "fleet"),
    ("LP", "laptop computers", "electronic devices", "electronic devices", "fleet"),
    ("MP", "mobile phones", "electronic devices", "electronic devices", "fleet"),
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
# production in units (units/yr, MW/yr for WT), 1978-2017, never scaled
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


def pre2000(key: str) -> dict[int, float]:
    """NBS output points before 2000 (CSY 2009 table 13-23: 1978/1980/1985; hgnd: 1998/1999), units."""
    d = pd.read_csv(RAW / "china_nbs_output_pre2000_points.csv")
    d = d[d["key"] == key]
    return {int(y): float(v) * 1e4 for y, v in zip(d["year"], d["value"], strict=True)}


CSY2009 = (
    "NBS, China Statistical Yearbook 2009, table 13-23 'Output of Industrial Products by Region' "
    "(national rows 1978, 1980, 1985), stats.gov.cn/sj/ndsj/2009/html/N1323e.htm"
)


class Series:
    """A product's yearly values over HYEARS with a quality, source and method per year."""

    def __init__(self, code: str):
        self.code = code
        n = len(HYEARS)
        self.val = np.full(n, np.nan)
        self.q = [""] * n
        self.src = [""] * n
        self.meth = [""] * n

    def put(self, years, values, q, src, meth):
        for y, v in zip(np.atleast_1d(years), np.atleast_1d(values), strict=True):
            i = int(y) - HIST_FIRST
            self.val[i] = float(v)
            self.q[i], self.src[i], self.meth[i] = q, src, meth

    def get(self, y: int) -> float:
        return float(self.val[int(y) - HIST_FIRST])

    def missing(self) -> np.ndarray:
        return HYEARS[np.isnan(self.val)]

    def fill_gaps(self, src: str, note: str = ""):
        """Geometric interpolation between the neighbouring known years (inner gaps only)."""
        known = HYEARS[~np.isnan(self.val)]
        for y in self.missing():
            lo, hi = known[known < y], known[known > y]
            if len(lo) and len(hi):
                y0, y1 = int(lo.max()), int(hi.min())
                v = geometric_path(self.get(y0), self.get(y1), y0, y1, np.array([y]))[0]
                self.put(
                    y,
                    v,
                    "estimate",
                    src,
                    f"geometric interpolation between {y0} and {y1}{note}",
                )

    def back(self, first_known: int, rate: float, start: int, src: str, why: str):
        """Constant-growth back-extrapolation before first_known at `rate`/yr down to `start`;
        0 before `start` (the product's start, stated in `why`)."""
        x0 = self.get(first_known)
        for y in range(HIST_FIRST, first_known):
            if y >= start:
                self.put(
                    y,
                    x0 / (1 + rate) ** (first_known - y),
                    "estimate",
                    src,
                    f"back-extrapolated from {first_known} at {rate:.1%}/yr; {why}",
                )
            else:
                self.put(y, 0.0, "estimate", "estimate: assumption", f"0 before {start}: {why}")

    def index(self, ref_year: int, proxy: Series, last: int, src: str, why: str):
        """Years before `last` (inclusive) follow a proxy index: x(t) = x(ref) * proxy(t) / proxy(ref)."""
        x0, p0 = self.get(ref_year), proxy.get(ref_year)
        for y in range(HIST_FIRST, last + 1):
            self.put(
                y,
                x0 * proxy.get(y) / p0,
                "estimate",
                src,
                f"x({ref_year}) x {why}({y}) / {why}({ref_year}) (proxy index; no statistic found)",
            )


def geo_series(code: str, pts: dict[int, float], src_of) -> Series:
    s = Series(code)
    for y, v in sorted(pts.items()):
        if HIST_FIRST <= y <= LAST:
            s.put(y, v, "statistic", src_of(y), "")
    return s


def production_units(paper, mi, ar) -> tuple[dict[str, Series], list[dict], dict]:
    """Production of the 17 final products in units, 1978-2017, and the statistic rows.

    Returns the Series per product, the rows of production_statistic.csv and notes for the
    electronics residual (LS) which needs k and AR first.
    """
    w = nbs_wide().loc[FIRST:LAST]
    yrs = YEARS
    S: dict[str, Series] = {}
    stat: list[dict] = []

    def add_stat(c, year, value, series, source, unit="unit yr-1"):
        stat.append(
            dict(
                product=c,
                year=int(year),
                value=float(value),
                unit=unit,
                quality="statistic",
                series=series,
                source=source,
            )
        )

    def nbs_src(y):
        return CSY2009 if y < 1998 else NBS

    # ---- appliances with NBS points 1978/1980/1985 and 1998-2017: AC, RE, WM
    nbs_cols = {
        "AC": "room air conditioners",
        "RE": "household refrigerators",
        "WM": "household washing machines",
        "VC": "household vacuum cleaners",
        "MP": "mobile communication handsets (mobile phones)",
    }
    for c in ("AC", "RE", "WM", "VC", "MP"):
        col = nbs_cols[c]
        pts = pre2000(c) | {int(y): float(v) * 1e4 for y, v in zip(yrs, w[col], strict=True)}
        s = geo_series(c, pts, nbs_src)
        s.fill_gaps(
            NBS + "; " + CSY2009,
            " (NBS points; no annual NBS figure for these years found)",
        )
        S[c] = s
        for y, v in sorted(pts.items()):
            add_stat(c, y, v, f"NBS output: {col}", nbs_src(y))
    # vacuum cleaners before 1998: washing-machine index (no statistic before 1998)
    S["VC"].index(
        1998,
        S["WM"],
        1997,
        "estimate: proxy index of NBS washing-machine output",
        "WM output",
    )
    # mobile phones before 1998: 1998-1999 growth, 0 before 1990
    mp_rate = S["MP"].get(1999) / S["MP"].get(1998) - 1
    S["MP"].back(
        1998,
        mp_rate,
        1990,
        "estimate: back-extrapolation of NBS output",
        "assumption: no handset production in China before 1990 (no statistic before 1998 found)",
    )

    # ---- vehicles: NBS motor vehicles minus NEV
    nev = points(
        "china_point_values.csv",
        [
            "NEV production (CAAM)",
            "EV production (CAAM)",
            "NEV production (CATARC)",
            "NEV production (MIIT)",
        ],
    )
    nev_pts = {y: v for y, v in nev.items() if y in (2011, 2012, 2014, 2015, 2016, 2017)}
    # 2013 derived from CAAM's 2014 statement "3.5 times of such figure in last year"
    nev_pts[2013] = nev_pts[2014] / 3.5
    nev_src = (
        "CAAM (via evwind.es 2012-01-26; marketresearchreports.biz; InsideEVs 2015-01, 2016-01-20), "
        "CATARC (MarkLines Jan 2017), MIIT (People's Daily via dongguantoday.com 2018-03-13)"
    )
    ev = Series("EV")
    for y, v in nev_pts.items():
        ev.put(y, v, "statistic", nev_src, "")
        add_stat(
            "EV",
            y,
            v,
            "NEV production (CAAM 2011-2015, 2013 derived from the 2014 x3.5 statement; CATARC 2016; MIIT 2017)",
            nev_src,
        )
    ev.fill_gaps(nev_src)
    ev.back(
        2011,
        nev_pts[2012] / nev_pts[2011] - 1,
        FIRST,
        "estimate: back-extrapolation of the NEV points",
        "assumption: NEV series production counted from the first accounted year 2000 "
        "(no NEV statistic before 2011 found; the back-extrapolated values are below 100 vehicles in 2000)",
    )
    S["EV"] = ev
    mv = geo_series(
        "CV",
        pre2000("MV")
        | {int(y): float(v) * 1e4 for y, v in zip(yrs, w["motor vehicles (all)"], strict=True)},
        nbs_src,
    )
    mv.fill_gaps(NBS + "; " + CSY2009, " (NBS motor vehicles; no annual NBS figure found)")
    cv = Series("CV")
    for i, y in enumerate(HYEARS):
        e = ev.get(y) if y >= 2011 else 0.0
        q = mv.q[i]
        if y >= 2011 and ev.q[i] != "statistic":
            q = "estimate"
        cv.put(
            y,
            mv.get(y) - e,
            q,
            mv.src[i] + ("; NEV: " + nev_src if y >= 2011 else ""),
            (mv.meth[i] + "; " if mv.meth[i] else "")
            + (
                "NBS motor vehicles minus NEV production"
                if y >= 2011
                else "NBS motor vehicles (NEV taken as 0 before 2011)"
            ),
        )
        if mv.q[i] == "statistic" and (y < 2011 or ev.q[i] == "statistic"):
            add_stat(
                "CV",
                y,
                mv.get(y) - e,
                "NBS motor vehicles output minus NEV production (NEV taken as 0 before 2011)",
                mv.src[i],
            )
    S["CV"] = cv

    # ---- computers: NBS micro-computers minus notebooks; notebooks
    micro = pre2000("MICRO") | {
        int(y): float(v) * 1e4
        for y, v in zip(yrs, w["micro-computers (all, incl. notebooks)"], strict=True)
    }
    nb = {
        int(y): float(v) * 1e4
        for y, v in zip(yrs, w["notebook (laptop) computers"], strict=True)
        if not np.isnan(v)
    }
    share04 = (micro[2004] - nb[2004]) / micro[2004]
    dc = Series("DC")
    for y, m in sorted(micro.items()):
        if y in nb:
            dc.put(y, m - nb[y], "statistic", NBS, "NBS micro-computers minus notebook computers")
            add_stat("DC", y, m - nb[y], "NBS micro-computers minus notebook computers", NBS)
        else:
            dc.put(
                y,
                m * share04,
                "estimate",
                NBS,
                f"NBS micro-computers x the 2004 desktop share ({share04:.3f}); notebooks not reported before 2004",
            )
    S["DC"] = dc
    lp = Series("LP")
    for y, v in nb.items():
        lp.put(y, v, "statistic", NBS, "")
        add_stat("LP", y, v, "NBS output: notebook (laptop) computers", NBS)
    lp_rate = (nb[2006] / nb[2004]) ** 0.5 - 1
    lp.back(
        2004,
        lp_rate,
        1990,
        "estimate: back-extrapolation of NBS notebook output",
        "assumption: no notebook production in China before 1990 (NBS reports notebooks from 2004)",
    )
    S["LP"] = lp

    # ---- colour TV (proxy index for electronics before 1998/2000)
    tv = geo_series(
        "TV",
        pre2000("TV")
        | {int(y): float(v) * 1e4 for y, v in zip(yrs, w["colour TV sets"], strict=True)},
        nbs_src,
    )
    tv.fill_gaps(NBS + "; " + CSY2009)
    S["DC"].index(
        1998, tv, 1997, "estimate: proxy index of NBS colour-TV output", "colour-TV output"
    )

    # ---- e-bikes
    eb = points("china_ebike_points.csv", ["e-bike annual sales", "e-bike output"])
    eb |= points("china_ebike_output_2010_2011.csv", "e-bike output (e-bikes and e-scooters)")
    for ser in (
        "e-bike production (CBA, Wang Fenghe), dated copy",
        "e-bike production, derived",
        "e-bike production (Research and Markets 'China Sourcing Report on Bicycles')",
        "e-bike production (CBA), derived",
        "e-bike production (CBA)",
        "e-bike production (cumulative output of the year; statistical source not named)",
    ):
        eb |= points("production_points_extra.csv", ser)
    # output points the sources give as next year's output and its growth (2003 = 2004 / 1.70)
    EB_DERIVED = {2003, 2008, 2010, 2012, 2016}
    eb_years = (1998, 2002, 2003, 2004, 2005, 2008, 2009, 2010, 2011, 2012, 2013, 2016, 2017, 2018)
    eb_pts = {y: eb[y] for y in eb_years}
    eb_src = (
        "Weinert, Ma & Cherry (2007) Transportation 34:301-318 (sales 1998, 2005); China Bicycle "
        "Association via China.org.cn / chinahotelsreservation.com 2003-07-04 (output 2002); BikeBiz / "
        "Research and Markets (output 2004 'topped 6.7 million', 2003 derived); Bicycle Retailer "
        "2010-05-26 (output 2009, 2008 derived); Bike Europe 2013-01 (output 2011, 2010 derived); "
        "NextBigFuture 2014-11 citing the China Bicycle Association (output 2013, 2012 derived); "
        "bptrips.com (output 2017, 2016 derived); China Bicycle Association via bikenews.online (output 2018)"
    )
    path = log_interp(eb_pts, HYEARS)
    s = Series("EB")
    for y, v in zip(HYEARS, path, strict=True):
        if y in eb_pts and y <= LAST:
            derived = (
                "derived: the next year's output / (1 + the growth the source states)"
                if y in EB_DERIVED
                else ""
            )
            s.put(y, eb_pts[y], "statistic", eb_src, derived)
            add_stat(
                "EB",
                y,
                eb_pts[y],
                "e-bike sales (1998, 2005) and output (2002, 2003 d, 2004, 2008 d, 2009, 2010 d, 2011, "
                "2012 d, 2013, 2016 d, 2017); d = derived from a stated growth rate",
                eb_src,
            )
        elif y > 1998:
            s.put(
                y,
                v,
                "estimate",
                eb_src,
                "geometric interpolation between the e-bike points",
            )
    s.back(
        1998,
        (eb_pts[2005] / eb_pts[1998]) ** (1 / 7) - 1,
        1995,
        "estimate: back-extrapolation of the e-bike points",
        "assumption: e-bike series production from the mid-1990s (first sourced figure: 40,000 sold in 1998)",
    )
    S["EB"] = s

    # ---- wind: IRENA net additions (grid-connected) x CWEA/IRENA, GWEC 2016, CWEA 2017
    wd = pd.read_csv(RAW / "china_wind_capacity_irena_owid.csv").set_index("year")
    add = wd["net_addition_GW_derived"].reindex(yrs).to_numpy() * 1e3
    cum_irena_2017 = wd.loc[2017, "cumulative_capacity_GW"] * 1e3
    cwea_cum_2017 = 188390.0  # CWEA accumulated installed capacity end-2017, MW (raw point note)
    kw = cwea_cum_2017 / cum_irena_2017
    gwec = points("china_point_values.csv", "wind: newly installed capacity (GWEC)")
    cwea = points("china_point_values.csv", "wind: newly installed capacity (CWEA)")
    wsrc = (
        "CWEA (IEA Wind TCP member page); GWEC Annual Market Report 2016 (quoted); IRENA Renewable "
        "Capacity Statistics 2024 via Our World in Data"
    )
    s = Series("WT")
    for y, a in zip(yrs, add, strict=True):
        if y == 2016:
            s.put(y, gwec[2016], "statistic", wsrc, "GWEC newly installed capacity")
        elif y == 2017:
            s.put(y, cwea[2017], "statistic", wsrc, "CWEA newly installed (hoisted) capacity")
        elif not np.isnan(a):
            s.put(
                y,
                a * kw,
                "estimate",
                wsrc,
                f"IRENA net additions (grid-connected) x {kw:.4f} (CWEA installed / IRENA cumulative, end-2017)",
            )
    s.put(FIRST, s.get(FIRST + 1), "estimate", wsrc, "2000 held at 2001 (no 1999 IRENA value)")
    for y, a in zip(yrs, add, strict=True):
        if not np.isnan(a) and y < 2016:
            add_stat("WT", y, a, "IRENA net grid-connected additions (MW)", wsrc, "MW yr-1")
    add_stat("WT", 2016, gwec[2016], "GWEC newly installed capacity (MW)", wsrc, "MW yr-1")
    add_stat("WT", 2017, cwea[2017], "CWEA newly installed capacity (MW)", wsrc, "MW yr-1")
    x2000 = s.get(FIRST)
    for y in range(HIST_FIRST, FIRST):
        v = x2000 * max(0, y - WT_START) / (FIRST - WT_START)
        s.put(
            y,
            v,
            "estimate",
            "estimate: assumption",
            f"linear ramp from 0 in {WT_START} to the 2000 value (assumption: no grid-connected wind "
            f"farms before {WT_START + 1}); the ramp adds "
            f"{x2000 * (FIRST - WT_START - 1) / 2:.0f} MW over {WT_START + 1}-1999 against IRENA's "
            f"{wd.loc[2000, 'cumulative_capacity_GW'] * 1e3:.0f} MW x {kw:.3f} cumulative at end-2000",
        )
    S["WT"] = s

    # ---- elevators: CEA 1980-2016, 2017 by NBS growth, 1978-1979 back-extrapolated
    el = points("china_elevator_output_cea.csv", "elevator output (incl. exports)")
    dec = pd.read_csv(RAW / "china_nbs_output_dec_cumulative_2010_2022.csv")
    nbs_el = dec[dec["product"] == "elevators, escalators and lifts"].set_index("year")["value"]
    el_src = (
        "l-a-m-b.com.cn news page '2016年全國電梯產量77.6萬臺' (series usually attributed to the China "
        "Elevator Association); NBS monthly output, December cumulative"
    )
    s = Series("EL")
    for y, v in el.items():
        if HIST_FIRST <= y <= 2016:
            s.put(y, v, "statistic", el_src, "elevator output incl. exports (association series)")
            add_stat(
                "EL",
                y,
                v,
                "elevator output incl. exports (China Elevator Association series)",
                el_src,
            )
    g = nbs_el[2017] / nbs_el[2016]
    s.put(2017, el[2016] * g, "estimate", el_src, f"2016 x NBS growth 2016-2017 ({g:.4f})")
    add_stat(
        "EL",
        2017,
        nbs_el[2017] * 1e4,
        "NBS elevators, escalators and lifts (above-size enterprises)",
        el_src,
    )
    s.back(
        1980,
        el[1981] / el[1980] - 1,
        HIST_FIRST,
        "estimate: back-extrapolation",
        "no figure before 1980 found",
    )
    S["EL"] = s

    # ---- industrial robots: NBS output 2014 (d)-2017; before 2014 the IFR installation index
    rb = points("china_other_product_points.csv", "industrial robot output (NBS)")
    nbs_rb = dec[dec["product"] == "industrial robots"].set_index("year")["value"]
    rb_pts = {2014: rb[2014], 2015: rb[2015], 2016: float(nbs_rb[2016]), 2017: float(nbs_rb[2017])}
    rb_src = "NBS via 中国市场调查网 2016-05-21 (2015; 2014 from the stated +21.7 %); NBS monthly output, December cumulative (2016-2017)"
    inst = points("china_robot_installations_ifr.csv", "industrial robot installations (IFR)")
    ifr_src = (
        "IFR via Our World in Data (2011-2017, GitHub sjaubert/Cours-IA commit 0f03f9a); IFR via "
        "NextBigFuture 2008 (2006, 2007); IFR via People's Daily (2010)"
    )
    s = Series("IR")
    for y, v in rb_pts.items():
        s.put(
            y,
            v,
            "statistic",
            rb_src,
            "" if y >= 2015 else "derived: 2015 / 1.217 (NBS states +21.7 % in 2015)",
        )
        add_stat(
            "IR",
            y,
            v,
            "NBS industrial robot output (2014 derived from the stated +21.7 % in 2015)",
            rb_src,
        )
    ipath = log_interp({y: v for y, v in inst.items() if y <= 2014}, HYEARS)
    for y in range(2006, 2014):
        s.put(
            y,
            rb_pts[2014] * ipath[y - HIST_FIRST] / inst[2014],
            "estimate",
            ifr_src,
            "NBS output 2014 x IFR installations in China (t) / (2014): installations index "
            + ("(geometric interpolation 2008-2009)" if y in (2008, 2009) else "(IFR figure)"),
        )
    for y, v in sorted(inst.items()):
        if y <= 2013:
            add_stat(
                "IR",
                y,
                v,
                "IFR industrial robot installations in China (units; incl. imported robots)",
                ifr_src,
            )
    s.back(
        2006,
        0.29,
        HIST_FIRST,
        "estimate: back-extrapolation",
        "at the +29 % the IFR states for 2006 over 2005 (values below 15 units before 1985)",
    )
    S["IR"] = s
    return S, stat, dict(share04=share04, tv=tv, kw=kw)


def reconstructed(paper, mi, ar, S, stat, g_total, total_2000) -> None:
    """MO and MRI (no series), 2000-2017: today's reconstruction, P(2017) from the paper."""
    # microwave ovens: output points 2000, 2010 (derived), 2011, the JEMA 2003 point, the paper's 2017 level
    mo = points(
        "china_other_product_points.csv",
        "microwave oven production (China plants, sold in 62 economies)",
    )
    mo |= points("production_points_extra.csv", "microwave oven production")
    mo |= points("production_points_extra.csv", "microwave oven production, derived")
    mo_src = {
        2003: "Appliance Magazine 2005-04-07 (JEMA survey: ovens made in China plants sold in 62 economies)",
        2000: "Daxue Consulting, Microwave oven market in China (output 2000; primary source not named)",
        2010: "Daxue Consulting (output 2011 and its growth: 2010 derived)",
        2011: "Daxue Consulting (output 2011; primary source not named)",
    }
    MO_METHOD = {
        2003: "ovens made in China plants and sold in 62 economies, taken as China's output",
        2010: "derived: the 2011 output / 1.0156 (the growth the source states)",
    }
    p17 = p2017_paper(paper, mi, ar, "MO")
    mo_pts = {y: mo[y] for y in sorted(mo_src)}
    path = log_interp(mo_pts | {LAST: p17}, YEARS)
    s = Series("MO")
    for y, v in zip(YEARS, path, strict=True):
        y = int(y)
        if y in mo_pts:
            # a consultancy that names no primary source, and a survey of ovens sold in 62
            # economies (not China's output): literature, not statistics
            s.put(y, mo_pts[y], "literature", mo_src[y], MO_METHOD.get(y, ""))
            stat.append(
                dict(
                    product="MO",
                    year=y,
                    value=mo_pts[y],
                    unit="unit yr-1",
                    quality="literature",
                    series="microwave ovens: output 2000, 2010 (derived), 2011; 2003 = ovens made in China "
                    "plants sold in 62 economies (JEMA survey)",
                    source=mo_src[y],
                )
            )
        elif y == LAST:
            s.put(
                y,
                v,
                "literature",
                PAPER,
                "P(2017) = the paper's DC / (MI x AR) (no statistic; k = 1 by construction)",
            )
        else:
            s.put(
                y,
                v,
                "estimate",
                "; ".join(mo_src.values()) + "; " + PAPER,
                "geometric interpolation between the microwave-oven points (2000, 2003, 2010, 2011) and "
                "the paper's 2017 level",
            )
    s.index(
        FIRST,
        S["WM"],
        FIRST - 1,
        "estimate: proxy index of NBS washing-machine output",
        "WM output",
    )
    S["MO"] = s
    # MRI: constant growth of the paper's total demand
    p17 = p2017_paper(paper, mi, ar, "MRI")
    s = Series("MRI")
    for y in HYEARS:
        if y >= MRI_START:
            v = p17 / (1 + g_total) ** ((LAST - y) * 18 / 17)
            s.put(
                int(y),
                v,
                "literature" if y == LAST else "estimate",
                PAPER,
                "P(2017) = the paper's DC / (MI x AR) (no statistic; k = 1 by construction)"
                if y == LAST
                else f"constant-growth path through the paper's 2017 level at the growth of the paper's total "
                f"demand ({total_2000:.0f} t in 2000 -> 15872 t in 2017 over 18 periods, {g_total:.4f}/yr); no "
                f"MRI series found; continued back to {MRI_START}",
            )
        else:
            s.put(
                int(y),
                0.0,
                "estimate",
                "estimate: assumption",
                f"0 before {MRI_START} (assumption: no MRI scanners made in China before {MRI_START})",
            )
    S["MRI"] = s


def p2017_paper(paper, mi, ar, c) -> float:
    v, u = mi[c]
    return dc2017(paper, c) / (v * TO_T[u] * ar[c])


ELECTRONICS = ["DC", "LP", "MP", "LS", "CP"]
NO_SERIES = ["LS"]
DISC = "china_nbs_disc_players_quarterly.csv"
DISC_SRC = (
    "NBS National Data quarterly database, sales and inventories of major industrial products: "
    "digital laser audio/video disc players (数字激光音视盘机), Q4 cumulative sales / production-sales ratio "
    "(GitHub zhuang1234/National-Data scrape)"
)
DISC_BREAK = 2012  # the NBS series is 2.65 x higher from 2012 on (scope change, see SOURCES.md)


def disc_players() -> dict[int, float]:
    """NBS disc-player production 2004-2015, units: Q4 cumulative sales / production-sales ratio."""
    d = pd.read_csv(RAW / DISC)
    d = d[d["quarter"] == "D"]
    return {
        int(y): float(s) * 1e4 / (float(r) / 100)
        for y, s, r in zip(
            d["year"], d["sales_cumulative"], d["production_sales_ratio_cumulative"], strict=True
        )
    }


def disc_series(stat) -> Series:
    """CD/DVD players in units: NBS 2004-2015 (statistic), the 2003 DVD point, trend ends."""
    nbs = disc_players()
    dvd = points("china_other_product_points.csv", "DVD player production")
    s = Series("CP")
    s.put(  # a share of a trade-press world total: literature
        2003,
        dvd[2003],
        "literature",
        "Home Media Magazine 2006-12-07 (DVD Forum)",
        "derived: 70 % of ~100 m players made worldwide in 2003",
    )
    stat.append(
        dict(
            product="CP",
            year=2003,
            value=dvd[2003],
            unit="unit yr-1",
            quality="literature",
            series="DVD players made in China, 2003 (70 % of ~100 m, derived)",
            source="Home Media Magazine 2006-12-07 (DVD Forum)",
        )
    )
    for y, v in sorted(nbs.items()):
        s.put(y, v, "statistic", DISC_SRC, "derived: sales / production-sales ratio (Q4 cumulative)")
        stat.append(
            dict(
                product="CP",
                year=y,
                value=v,
                unit="unit yr-1",
                quality="statistic",
                series="NBS disc players (digital laser audio/video), production = Q4 cumulative sales / "
                "production-sales ratio; enterprises above designated size; scope break in 2012",
                source=DISC_SRC,
            )
        )
    last = max(nbs)
    r = (nbs[last] / nbs[last - 2]) ** 0.5 - 1
    for y in range(last + 1, LAST + 1):
        s.put(
            y,
            nbs[last] * (1 + r) ** (y - last),
            "estimate",
            DISC_SRC,
            f"extrapolated from {last} at the {last - 2}-{last} NBS trend ({r:+.1%}/yr); no later statistic found",
        )
    r0 = (nbs[2004] / dvd[2003]) - 1
    s.back(
        2003,
        r0,
        CP_START,
        "estimate: back-extrapolation",
        f"at the 2003-2004 growth ({r0:.1%}/yr); assumption: disc players (VCD) made in China from {CP_START}",
    )
    return s


def electronics_residual(paper, mi, ar, S, k, arp, total_2000, extra, stat) -> None:
    """Loudspeakers (no production series), 2000-2017, in units.

    The paper states electronics (DC LP MP LS CP) at 50 % of total demand in 2000, a peak of
    5,421 t in 2012 and 4,000 t in 2017. The group path is log-linear through 0.5 x total(2000),
    5,421 t (2012) and the sum of the five 2017 figures; LS is that path minus the DC
    (= P x k x MI x AR) of DC, LP, MP and CP (statistics), in units on its proxy (NBS
    combination audio) only before 2000. P(2017) of LS is the paper's DC / (MI x AR)
    (k = 1 by construction).
    """
    w = nbs_wide().loc[FIRST:LAST]
    t_mi = {c: mi[c][0] * TO_T[mi[c][1]] for c in ELECTRONICS}
    idx = YEARS - HIST_FIRST
    dcn = {c: S[c].val[idx] * k[c] * t_mi[c] * arp[c][idx] for c in ("DC", "LP", "MP", "CP")}
    audio = (
        w[
            "combination audio systems (组合音响; proxy for loudspeaker-bearing audio products)"
        ].to_numpy()
        * 1e4
    )
    p17 = p2017_paper(paper, mi, ar, "LS")
    e2017 = sum(dc2017(paper, c) for c in ELECTRONICS)
    anchors = {
        FIRST: 0.5 * total_2000,
        2012: paper_value(paper, "consumption", "electronics_peak", "2012"),
        LAST: e2017,
    }
    group = log_interp(anchors, YEARS)
    residual = group - sum(dcn.values())
    if (residual <= 0).any():
        raise SystemExit("electronics residual for LS is not positive")
    method = (
        "electronics (DC LP MP LS CP) follow the paper's group figures: 50 % of total demand in 2000 "
        f"(total {total_2000:.0f} t = the paper's 2000 in-use stock 555 t + 305 t exports), {anchors[2012]:.0f} t "
        f"in 2012, {e2017:.0f} t in 2017, log-linear between; LS = group - DC of DC, LP, MP and CP "
        "(statistics); units = t / (MI x AR)"
    )
    s = Series("LS")
    for i, y in enumerate(YEARS):
        if y == LAST:
            s.put(
                y,
                p17,
                "literature",
                PAPER,
                "P(2017) = the paper's DC / (MI x AR) (no statistic; k = 1 by construction)",
            )
        else:
            s.put(
                y,
                residual[i] / (t_mi["LS"] * arp["LS"][y - HIST_FIRST]),
                "estimate",
                PAPER + "; " + NBS,
                method,
            )
    S["LS"] = s
    # before 2000: LS on the colour-TV index
    S["LS"].index(
        FIRST,
        extra["tv"],
        FIRST - 1,
        "estimate: proxy index of NBS colour-TV output",
        "colour-TV output",
    )
    for y, v in zip(YEARS, audio, strict=True):
        stat.append(
            dict(
                product="LS",
                year=int(y),
                value=float(v),
                unit="unit yr-1",
                quality="statistic",
                series="proxy: NBS output of combination audio systems (not a loudspeaker count)",
                source=NBS + " (proxy series)",
            )
        )


# ---------------------------------------------------------------------------
# adoption and intensity calibration
# ---------------------------------------------------------------------------
def calibration(paper, mi, ar, S) -> dict[str, tuple[float, str]]:
    """k_j = DC_paper(2017) / (P(2017) x MI x AR(2017)) and its method text."""
    out = {}
    for c in MAGNET_CODES:
        v, u = mi[c]
        p = S[c].get(LAST)
        want = dc2017(paper, c)
        kk = want / (p * v * TO_T[u] * ar[c])
        unit = "MW" if c == "WT" else "units"
        meth = (
            f"k = {want:g} t / ({p:,.0f} {unit} x {v:g} {u.replace(' unit-1', '/unit').replace(' MW-1', '/MW')} x "
            f"{ar[c]:g}) = {kk:.4f}" + (" (swapped EL/IR pairing, SPEC §1)" if c in SWAP else "")
        )
        if S[c].q[LAST - HIST_FIRST] == "literature":
            meth += "; P(2017) is itself the paper's level (no statistic), so k = 1 by construction"
        if not 0.5 <= kk <= 2:
            meth += "; OUTSIDE [0.5, 2]: " + K_REASON.get(c, "reason unknown")
        elif c in K_REASON:
            meth += "; " + K_REASON[c]
        out[c] = (kk, meth)
    return out


K_REASON = {
    "DC": "the statistic is NBS micro-computers minus notebooks (134 m in 2017), which includes tablets, "
    "servers and other devices and whose desktop/laptop split is ours; the paper's desktops are 13.2 m",
    "CV": "NBS motor vehicles minus NEVs (28.2 m) against the paper's 17.7 m implied vehicles; the paper may "
    "count passenger cars or domestic sales only",
    "EV": "NEV production (MIIT, 0.79 m) against the paper's 1.19 m implied; the paper may include hybrids or "
    "low-speed electric vehicles",
    "AC": "NBS room-AC output (179 m) against the paper's 119 m implied, close to output less exports "
    "(CHEAA: 58 m of 150 m exported in 2018)",
    "LP": "NBS notebooks (172 m) against the paper's 241 m implied; the desktop/laptop split differs",
    "VC": "NBS covers enterprises above designated size and undercounts vacuum cleaners",
    "EL": "P(2017) = association series 2016 x NBS growth 2016-2017 (no 2017 association figure)",
}


def adoption(paper, mi, ar, S, k) -> tuple[dict[str, np.ndarray], dict[str, list]]:
    """AR per product over HYEARS and per-year (quality, source, method)."""
    arp, meta = {}, {}
    # AC, RE, CV: DC(2000) from the paper's growth rates (SPEC §2), AR(2000) = DC(2000) / (P k MI)
    ratio = {}
    for c in ("AC", "RE", "CV"):
        g = hist_rate(paper, c)
        v, u = mi[c]
        dc2000 = dc2017(paper, c) / (1 + g) ** 18
        ratio[c] = (dc2000 / (S[c].get(FIRST) * k[c] * v * TO_T[u]), dc2000, g)
    appliance_ratio = np.mean([ratio[c][0] / ar[c] for c in ("AC", "RE")])
    for c in MAGNET_CODES:
        if c in ratio:
            ar2000, dc2000, g = ratio[c]
            meth = (
                f"AR(2000) = DC(2000) / (P(2000) x k x MI) with DC(2000) = DC(2017) / (1 + {g:.4f})^18 (the "
                f"paper's growth rate of {c} Nd use over 18 periods) = {dc2000:.1f} t; geometric path to the "
                "2017 value (the paper's data; no technology series found)"
            )
            src = PAPER + f" (Table 1 for 2017; section 3.1 growth rate {g * 100:.2f} %/yr)"
        elif c in APPLIANCES_LIKE_AC_RE:
            ar2000 = ar[c] * appliance_ratio
            meth = (
                f"AR(2000) = AR(2017) x {appliance_ratio:.4f}, the mean AR(2000)/AR(2017) implied for air "
                "conditioners and refrigerators (diffusion of NdFeB inverter motors in home appliances); "
                "geometric path to the 2017 value"
            )
            if c == "CP":
                meth += (
                    " (assumption by analogy, no disc-player series found: held at 1, the NBS unit counts "
                    "would put 373 t of the paper's 430 t of electronics in 2000 into disc players and "
                    "leave 26 m loudspeakers, fewer than the 52 m phones made that year)"
                )
            src = PAPER + " (Table 1 for 2017; AC and RE growth rates of section 3.1)"
        else:
            ar2000 = ar[c]
            meth = "held at the 2017 value of Table 1 (no earlier figure found)"
            src = PAPER + " (Table 1, 2017)"
        path = np.zeros(len(HYEARS))
        q, so, me = [], [], []
        for i, y in enumerate(HYEARS):
            if y < NDFEB_YEAR:
                x, qq, s_, m_ = (
                    0.0,
                    "estimate",
                    "SPEC §2.2",
                    f"0 before {NDFEB_YEAR}: NdFeB magnets were introduced in {NDFEB_YEAR}",
                )
            elif y < FIRST:
                x = ar2000 * (y - NDFEB_YEAR) / (FIRST - NDFEB_YEAR)
                qq, s_ = "estimate", src
                m_ = f"linear from 0 in {NDFEB_YEAR} (NdFeB introduced) to AR(2000) = {ar2000:.4f} (assumption; no diffusion data before 2000)"
            elif y == LAST:
                x, qq, s_, m_ = ar[c], "literature", PAPER + " (Table 1)", ""
            else:
                x = geometric_path(ar2000, ar[c], FIRST, LAST, np.array([y]))[0]
                qq, s_, m_ = "estimate", src, meth
            path[i] = x
            q.append(qq), so.append(s_), me.append(m_)
        arp[c] = path
        meta[c] = (q, so, me)
    return arp, meta


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
APPLIANCES_LIKE_AC_RE = ("WM", "MO", "VC", "CP")  # CP: see adoption()
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


# ---------------------------------------------------------------------------
# final trade (units) from build/trade_by_product.csv (written by the trade builder)
# ---------------------------------------------------------------------------
TRADE_UNIT_FACTOR = {"unit yr-1": 1.0, "10^4 unit yr-1": 1e4, "MW yr-1": 1.0, "t yr-1": 1.0}


def build_final_trade(trade_file: Path, production: pd.DataFrame) -> pd.DataFrame:
    """Convert the trade builder's table to units: kind 'units' is copied (unit converted to the
    product's count unit), kind 'share_of_production' becomes E = share x P."""
    if not trade_file.exists():
        raise SystemExit(
            f"missing {trade_file}: final_trade.csv is converted from the trade builder's "
            "build/trade_by_product.csv (columns product, flow, year, kind, value, unit, quality, source, "
            "method). Run the trade builder first (or pass --without-trade to leave final_trade.csv as it is)."
        )
    t = pd.read_csv(trade_file)
    need = ["product", "flow", "year", "kind", "value", "unit", "quality", "source", "method"]
    miss = [c for c in need if c not in t.columns]
    if miss:
        raise SystemExit(f"{trade_file}: missing columns {miss}")
    t["method"] = t["method"].fillna("")
    p = production.set_index(["product", "year"])
    rows = []
    for _, r in t.iterrows():
        c, y = r["product"], int(r["year"])
        if y < HIST_FIRST or y > LAST:
            continue
        if (c, y) not in p.index:
            raise SystemExit(f"{trade_file}: product/year {c}/{y} not in production")
        pu = p.loc[(c, y), "unit"]
        if r["kind"] == "units":
            if r["unit"] not in TRADE_UNIT_FACTOR:
                raise SystemExit(f"{trade_file}: unit {r['unit']!r} of {c}/{y} not understood")
            val = float(r["value"]) * TRADE_UNIT_FACTOR[r["unit"]]
            meth = r["method"]
        elif r["kind"] == "share_of_production":
            share = float(r["value"])
            val = share * float(p.loc[(c, y), "value"])
            meth = (
                r["method"] + "; " if r["method"] else ""
            ) + f"E = share {share:.4f} x P ({float(p.loc[(c, y), 'value']):.6g})"
        else:
            raise SystemExit(
                f"{trade_file}: kind {r['kind']!r} of {c}/{y} not 'units' or 'share_of_production'"
            )
        rows.append(
            dict(
                product=c,
                flow=r["flow"],
                year=y,
                value=val,
                unit=pu,
                quality=r["quality"],
                source=r["source"],
                method=meth,
            )
        )
    # non-magnet end uses: no final-product trade (traded as intermediates) unless the file says so
    have = {(r["product"], r["flow"], r["year"]) for r in rows}
    for c in NONMAG_CODES:
        for fl in ("export", "import"):
            for y in HYEARS:
                if (c, fl, int(y)) not in have:
                    rows.append(
                        dict(
                            product=c,
                            flow=fl,
                            year=int(y),
                            value=0.0,
                            unit="t yr-1",
                            quality="estimate",
                            source="estimate: assumption",
                            method="non-magnet end uses are traded as intermediates (intermediate_trade.csv); "
                            "no final-product trade",
                        )
                    )
    out = pd.DataFrame(rows)
    # completeness and Q = P - E + I >= 0
    full = pd.MultiIndex.from_product(
        [PRODUCTS, ["export", "import"], HYEARS], names=["product", "flow", "year"]
    )
    got = out.set_index(["product", "flow", "year"])
    if got.index.duplicated().any():
        raise SystemExit(f"{trade_file}: duplicate product/flow/year rows")
    missing = full.difference(got.index)
    if len(missing):
        raise SystemExit(
            f"{trade_file}: {len(missing)} product/flow/year rows missing, e.g. {list(missing[:5])}"
        )
    e = got.xs("export", level="flow")["value"]
    i = got.xs("import", level="flow")["value"]
    q = p["value"] - e.reindex(p.index) + i.reindex(p.index)
    bad = q[q < -1e-9]
    if len(bad):
        raise SystemExit(
            f"sales into use Q = P - E + I < 0 in {len(bad)} product-years, e.g. {bad.head().to_dict()}"
        )
    return out.sort_values(["product", "flow", "year"]).reset_index(drop=True)


def merge_households(drivers: pd.DataFrame) -> pd.DataFrame:
    hh = HERE / "households.csv"
    if not hh.exists():
        print(
            f"note: {hh.relative_to(OUT.parent.parent)} not found; drivers.csv written without households"
        )
        return drivers
    h = pd.read_csv(hh)
    if list(h.columns) != list(drivers.columns):
        raise SystemExit(
            f"{hh}: columns {list(h.columns)} differ from drivers.csv {list(drivers.columns)}"
        )
    h = h[h["driver"] == "households"]
    return pd.concat([drivers[drivers["driver"] != "households"], h], ignore_index=True)


# ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--trade",
        type=Path,
        default=TRADE,
        help="trade by product (default build/trade_by_product.csv)",
    )
    ap.add_argument(
        "--out", type=Path, default=OUT, help="output folder (default: next to dataset.toml)"
    )
    ap.add_argument(
        "--without-trade",
        action="store_true",
        help="do not write final_trade.csv (leave it as it is) when the trade table is not there yet",
    )
    args = ap.parse_args(argv)
    if not args.without_trade and not args.trade.exists():
        build_final_trade(args.trade, pd.DataFrame())  # fails with the message

    paper = read_paper()
    mi, ar = content_and_adoption(paper)
    total_2017 = paper_value(paper, "consumption", "total", "2017")
    total_2000 = 555.0 + paper_value(paper, "trade", "final_exports", "2000")
    g_total = (total_2017 / total_2000) ** (1 / 18) - 1

    S, stat, extra = production_units(paper, mi, ar)
    S["CP"] = disc_series(stat)
    reconstructed(paper, mi, ar, S, stat, g_total, total_2000)
    k_partial = {}
    for c in S:
        if c in MAGNET_CODES:
            v, u = mi[c]
            k_partial[c] = dc2017(paper, c) / (S[c].get(LAST) * v * TO_T[u] * ar[c])
    arp, armeta = adoption(paper, mi, ar, S, k_partial)
    electronics_residual(paper, mi, ar, S, k_partial, arp, total_2000, extra, stat)
    calib = calibration(paper, mi, ar, S)
    k = {c: kk for c, (kk, _) in calib.items()}

    # ---- tables
    prod_rows = []
    for c in MAGNET_CODES:
        s = S[c]
        unit = "MW yr-1" if c == "WT" else "unit yr-1"
        for i, y in enumerate(HYEARS):
            prod_rows.append(
                dict(
                    product=c,
                    year=int(y),
                    value=float(s.val[i]),
                    unit=unit,
                    quality=s.q[i],
                    source=s.src[i],
                    method=s.meth[i],
                )
            )
    nm, nm_origin = nonmagnet(paper)
    for c in NONMAG_CODES:
        for y in range(HIST_FIRST, FIRST):
            prod_rows.append(
                dict(
                    product=c,
                    year=y,
                    value=0.0,
                    unit="t yr-1",
                    quality="estimate",
                    source="estimate: assumption",
                    method="no history before 2000: non-magnet end uses enter in t Nd from the first accounted year",
                )
            )
    production = pd.concat([pd.DataFrame(prod_rows), nm], ignore_index=True)
    production = production.sort_values(
        ["product", "year"],
        key=lambda s: s.map({p: i for i, p in enumerate(PRODUCTS)}) if s.name == "product" else s,
    ).reset_index(drop=True)
    prod_stat = pd.DataFrame(stat).sort_values(["product", "year"]).reset_index(drop=True)

    ad_rows = []
    for c in MAGNET_CODES:
        q, so, me = armeta[c]
        for i, y in enumerate(HYEARS):
            ad_rows.append(
                dict(
                    product=c,
                    year=int(y),
                    value=float(arp[c][i]),
                    unit="1",
                    quality=q[i],
                    source=so[i],
                    method=me[i],
                )
            )
    for c in NONMAG_CODES:
        for y in HYEARS:
            ad_rows.append(
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
    adoption_df = pd.DataFrame(ad_rows)

    kc_rows = [
        dict(
            product=c,
            value=calib[c][0],
            unit="1",
            quality="literature",
            source=PAPER + " (section 3.1 DC 2017, Table 1 MI and AR) and production.csv P(2017)",
            method=calib[c][1],
        )
        for c in MAGNET_CODES
    ] + [
        dict(
            product=c,
            value=1.0,
            unit="1",
            quality="statistic",
            source="definition",
            method="definition",
        )
        for c in NONMAG_CODES
    ]
    kcal = pd.DataFrame(kc_rows)

    # ---- check: P(2017) x k x MI x AR(2017) = the paper's DC within 0.1 %
    bad = []
    for c in MAGNET_CODES:
        v, u = mi[c]
        got = S[c].get(LAST) * k[c] * v * TO_T[u] * arp[c][-1]
        want = dc2017(paper, c)
        if abs(got / want - 1) > 1e-3:
            bad.append(f"{c}: {got:.2f} t vs paper {want:g} t")
    if bad:
        raise SystemExit("DC 2017 differs from the paper: " + "; ".join(bad))
    # electronics group check in t (LS from the residual)
    dc_t = {c: S[c].val * k[c] * mi[c][0] * TO_T[mi[c][1]] * arp[c] for c in MAGNET_CODES}
    nd = build_nd_content(mi)
    tables = {
        "products.csv": build_products(),
        "production.csv": production,
        "production_statistic.csv": prod_stat,
        "nd_content.csv": nd,
        "adoption_rate.csv": adoption_df,
        "intensity_calibration.csv": kcal,
        "lifetimes.csv": build_lifetimes(),
        "drivers.csv": merge_households(build_drivers()),
    }
    if not args.without_trade:
        tables["final_trade.csv"] = build_final_trade(args.trade, production)
    else:
        print("WARNING: --without-trade: final_trade.csv not written (left as it is)")
    check_tables(tables)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(args.out / name, index=False, float_format="%.10g", lineterminator="\n")

    pd.set_option("display.width", 200)
    print(f"non-magnet end uses: {nm_origin}")
    print("intensity calibration k = DC_paper(2017) / (P(2017) x MI x AR(2017)):")
    for c in MAGNET_CODES:
        flag = "" if 0.5 <= k[c] <= 2 else "  <-- outside [0.5, 2]"
        print(f"  {c:4s} P(2017) {S[c].get(LAST):14,.0f}  k {k[c]:8.4f}{flag}")
    is_stat = prod_stat["year"].between(FIRST, LAST) & (prod_stat["quality"] == "statistic")
    ps = prod_stat[is_stat].groupby("product")["year"].nunique()
    n10 = int((ps >= 10).sum())
    print(f"products with >= 10 statistic years 2000-2017 in production_statistic.csv: {n10} of 17")
    print("  " + ", ".join(f"{c} {int(ps.get(c, 0))}" for c in MAGNET_CODES))
    e = sum(dc_t[c] for c in ELECTRONICS)
    print(
        f"electronics (t): 2000 {e[FIRST - HIST_FIRST]:.0f}, 2012 {e[2012 - HIST_FIRST]:.0f}, 2017 {e[-1]:.0f}"
    )
    tot = sum(dc_t[c] for c in MAGNET_CODES)
    print(
        f"17 final products (t): 1990 {tot[1990 - HIST_FIRST]:.0f}, 2000 {tot[FIRST - HIST_FIRST]:.0f}, 2017 {tot[-1]:.0f}"
    )
    print("quality flags:")
    for name, df in tables.items():
        if "quality" in df:
            print(
                f"  {name}: "
                + ", ".join(f"{kq} {vq}" for kq, vq in df["quality"].value_counts().items())
            )


def check_tables(tables: dict[str, pd.DataFrame]) -> None:
    """Every product x year 1978-2017 once, no NaN, P >= 0, AR in [0, 1], units as agreed."""
    errs = []
    full = pd.MultiIndex.from_product([PRODUCTS, HYEARS], names=["product", "year"])
    for name in ("production.csv", "adoption_rate.csv"):
        d = tables[name]
        ix = d.set_index(["product", "year"]).index
        if ix.duplicated().any():
            errs.append(f"{name}: duplicate product/year")
        if len(full.difference(ix)):
            errs.append(f"{name}: missing {list(full.difference(ix))[:5]}")
        if d["value"].isna().any() or d[["quality", "source", "unit"]].isna().any().any():
            errs.append(f"{name}: NaN")
        if (d["value"] < 0).any():
            errs.append(f"{name}: negative values")
    a = tables["adoption_rate.csv"]
    if (a["value"] > 1).any():
        errs.append("adoption_rate.csv: AR > 1")
    p = tables["production.csv"]
    units = {
        c: ("MW yr-1" if c == "WT" else "t yr-1" if c in NONMAG_CODES else "unit yr-1")
        for c in PRODUCTS
    }
    if (p["unit"] != p["product"].map(units)).any():
        errs.append("production.csv: unexpected unit")
    k = tables["intensity_calibration.csv"]
    if (
        sorted(k["product"]) != sorted(PRODUCTS)
        or k["value"].isna().any()
        or (k["value"] <= 0).any()
    ):
        errs.append("intensity_calibration.csv: incomplete or non-positive")
    if errs:
        raise SystemExit("table check failed: " + "; ".join(errs))


if __name__ == "__main__":
    main()
