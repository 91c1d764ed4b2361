"""Rebuild the upstream tables of the China Nd data set from the raw sources.

Run from anywhere: ``python data/china_nd/build_upstream/make_upstream.py``.
It reads ``raw/`` (copies of the public sources and of the figures taken from
Yao et al. 2021, each with its citation) and writes, in ``data/china_nd/``:
``mining.csv``, ``yields.csv``, ``recycling.csv``, ``intermediate_trade.csv``,
``primary_trade.csv``, ``concentrate_trade.csv``; in this folder:
``nonmagnet.csv`` (non-magnet end uses, merged into ``production.csv``),
``ndfeb_statistics.csv`` (public magnet statistics, validation only) and
``check_2017.txt`` (a top-down check of the 2017 chain with these yields).

Every reconstruction is written here as code and repeated, in words, in the
``method`` column of the row it makes and in ``SOURCES.md part 2``.

Reference: Yao T, Geng Y, Sarkis J, Xiao S, Gao Z (2021) Dynamic neodymium
stocks and flows analysis in China. Resour Conserv Recycl 174:105752,
doi:10.1016/j.resconrec.2021.105752 ("the paper" below).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
OUT = HERE.parent
YEARS = np.arange(2000, 2018)
FLOW = "t yr-1"

YAO = "Yao et al. (2021) Resour Conserv Recycl 174:105752, doi:10.1016/j.resconrec.2021.105752"
USGS = (
    "USGS Mineral Commodity Summaries, rare earths, China mine production "
    "(t REO), as parsed in GitHub materials-atlas/critical-materials-atlas "
    "out/usgs_revisions.json, commit 2c70644129b9d6f4a5b013ee0a04679591201abf"
)
MIIT = "MIIT (2016) 稀土行业规范条件(2016年本), https://www.bbjja.com/news/11162.html"
WIKI_ND = (
    "Wikipedia 'Neodymium' (Occurrence and production): Nd is 10-18 % of the "
    "RE content of bastnasite and monazite deposits"
)

# --- stated factors ----------------------------------------------------------
ND2O3_TO_ND = 2 * 144.242 / (2 * 144.242 + 3 * 15.999)  # t Nd per t Nd2O3
ND_SHARE_ROCK = 0.14  # Nd2O3 share of REO, mid-point of the generic 10-18 %
F_ROCK = ND_SHARE_ROCK * ND2O3_TO_ND  # t Nd per t REO, MON and BAST
F_ROCK_SD = 0.08 / np.sqrt(12) * ND2O3_TO_ND  # uniform on 10-18 % Nd2O3: sd 2.3 points
# ion-adsorption clays (SOURCES_reconciliation_data.md section 1): the majority LREE/MREE type
# (90 of 98 deposits) has La..Nd ~56 % of REO (Zhang et al. 2016) and Nd a fraction uniform on
# [0.105, 0.5] of La..Nd; the HREE type (8 of 98) has Nd2O3 uniform on [0, 10.53 %] (Longnan LREE).
_IAC_MAJ = (0.56 * (0.105 + 0.5) / 2, 0.56 * (0.5 - 0.105) / np.sqrt(12))
_IAC_HREE = (0.1053 / 2, 0.1053 / np.sqrt(12))
_W_MAJ, _W_HREE = 90 / 98, 8 / 98
ND_SHARE_IAC = _W_MAJ * _IAC_MAJ[0] + _W_HREE * _IAC_HREE[0]
F_IAC = ND_SHARE_IAC * ND2O3_TO_ND  # t Nd per t REO, ion-adsorption ores
F_IAC_SD = np.hypot(_W_MAJ * _IAC_MAJ[1], _W_HREE * _IAC_HREE[1]) * ND2O3_TO_ND
CV_SPLIT = 0.10  # the ore split of national output is an estimate (SPEC section 5: 10 %)
CV_REO = {"statistic": 0.02, "estimate": 0.10}  # SPEC section 5
MON_SHARE = 0.54  # Baotou (Bayan Obo, mixed ore) share of national output
ND_IN_NDFEB = 0.21  # t Nd per t magnet: mid-point of the paper's 18-24 %
# (equal to 0.67 Nd/RE (Argus 2018) x 0.315 RE/magnet (Yang et al. 2017))


def read_raw() -> dict[str, pd.DataFrame]:
    """Read the raw source tables of ``raw/``."""
    return {
        "mine": pd.read_csv(RAW / "china_ree_mine_production_usgs_bgs.csv"),
        "quota": pd.read_csv(RAW / "china_rare_earth_quotas.csv"),
        "points": pd.read_csv(RAW / "china_upstream_points.csv"),
        "magnets": pd.read_csv(RAW / "china_ndfeb_magnet_production.csv"),
        "yao": pd.read_csv(RAW / "yao2021_upstream.csv", dtype={"year": str}),
        "lit": pd.read_csv(RAW / "literature_factors.csv"),
    }


def paper(raw: dict, item: str, key: str, year: int | None = None) -> float:
    """One figure of the paper, from ``raw/yao2021_upstream.csv``."""
    t = raw["yao"]
    sel = (t["item"] == item) & (t["key"] == key)
    if year is not None:
        sel &= t["year"] == str(year)
    (value,) = t.loc[sel, "value"]
    return float(value)


def geometric(y0: int, v0: float, y1: int, v1: float, years) -> np.ndarray:
    """Geometric interpolation between (y0, v0) and (y1, v1) at ``years``."""
    years = np.asarray(years, dtype=float)
    return v0 * (v1 / v0) ** ((years - y0) / (y1 - y0))


def rows(dims: dict, values, quality, source, method, unit=FLOW) -> pd.DataFrame:
    """Tidy rows: dimension columns, then value, unit, quality, source, method."""
    n = len(np.atleast_1d(values))
    df = pd.DataFrame({k: np.broadcast_to(np.asarray(v, dtype=object), n) for k, v in dims.items()})
    df["value"] = np.round(np.asarray(values, dtype=float), 3)
    df["unit"] = unit
    for col, val in (("quality", quality), ("source", source), ("method", method)):
        df[col] = np.broadcast_to(np.asarray(val, dtype=object), n)
    return df


# --- mining -----------------------------------------------------------------
def official_reo(raw: dict) -> tuple[pd.Series, pd.Series]:
    """China rare-earth mine production 2000-2017 [t REO] and its quality.

    USGS 2003-2017; 2001 from a Chinese industry source (71,000 t, "+9.2 %
    over last year"); 2000 = 71,000 / 1.092 (that stated growth); 2002 by
    geometric interpolation between 2001 and 2003.
    """
    m = raw["mine"]
    usgs = m[(m["series"] == "rare earth mine production, China") & (m["agency"] == "USGS (MCS)")]
    reo = pd.Series(np.nan, index=YEARS)
    for y, v in zip(usgs["year"], usgs["value"], strict=True):
        if y in reo.index:
            reo[y] = v
    reo[2001] = float(m.loc[m["year"] == 2001, "value"].iloc[0])
    reo[2000] = reo[2001] / 1.092
    reo[2002] = geometric(2001, reo[2001], 2003, reo[2003], [2002])[0]
    quality = pd.Series("statistic", index=YEARS)
    quality[[2000, 2002]] = "estimate"
    return reo, quality


def iac_share(raw: dict) -> pd.Series:
    """Ion-adsorption (medium/heavy RE) share of China's REO production.

    Anchors: 35 % for 2000-2006 (Wikipedia, regolith-hosted deposits
    "contribute 35 % of China's REE production", undated, taken for the
    pre-quota years); quota shares of medium/heavy RE: 2011 13,400/93,800,
    2013 first batch 8,950/46,900, 2014 17,900/105,000, 2017 17 % (first
    batch). Linear in between.
    """
    q = raw["quota"]

    def val(year, kind):
        return float(q.loc[(q["year"] == year) & (q["quota_type"] == kind), "value"].iloc[0])

    anchors = {
        2000: 0.35,
        2006: 0.35,
        2011: val(2011, "mining quota medium+heavy REE") / val(2011, "mining quota total (REO)"),
        2013: val(2013, "mining quota first batch heavy")
        / val(2013, "mining quota first batch total"),
        2014: val(2014, "mining quota medium+heavy REE") / val(2014, "mining quota total (REO)"),
        2017: 0.17,
    }
    ys, vs = zip(*sorted(anchors.items()), strict=True)
    return pd.Series(np.interp(YEARS, ys, vs), index=YEARS)


def mining_table(raw: dict) -> tuple[pd.DataFrame, dict]:
    """Official production by ore source [t Nd yr-1], concentrate basis, with its sd.

    REO by ore = national REO x the ore's share (MON 0.54, IAC from the quotas, BAST the
    rest); t Nd = REO x the ore's t Nd per t REO (rock ores 0.1200 +- 0.0198, ion-adsorption
    0.137 +- 0.050; SOURCES_reconciliation_data.md section 1). The quota and USGS figures count
    REO in mine products (concentrate; leached mixed RE for clays): `basis` = concentrate, so
    the beneficiation yield is not applied to them again (SPEC section 3). sd: the Nd share,
    the national REO (quality CV) and the ore split (10 %) in quadrature.
    """
    reo, q_reo = official_reo(raw)
    s_iac = iac_share(raw)
    share = {
        "MON": pd.Series(MON_SHARE, index=YEARS),
        "BAST": 1.0 - MON_SHARE - s_iac,
        "IAC": s_iac,
    }
    factor = {"MON": (F_ROCK, F_ROCK_SD), "BAST": (F_ROCK, F_ROCK_SD), "IAC": (F_IAC, F_IAC_SD)}
    reo_txt = {
        y: (
            "REO: USGS"
            if q_reo[y] == "statistic" and y != 2001
            else "REO 2001: Chinese industry source"
            if y == 2001
            else "REO 2000 = 71,000 t (2001) / 1.092 (stated +9.2 % on 2000)"
            if y == 2000
            else "REO 2002: geometric interpolation 2001-2003"
        )
        for y in YEARS
    }
    share_txt = {
        "MON": lambda y: "x 0.54 (Baotou mixed bastnaesite-monazite ore)",
        "BAST": lambda y: f"x (1 - 0.54 - IAC share {s_iac[y]:.3f}) (Sichuan/Shandong bastnaesite)",
        "IAC": lambda y: f"x IAC share {s_iac[y]:.3f} (quota shares, linear between)",
    }
    factor_txt = {
        "MON": f"x {F_ROCK:.4f} +- {F_ROCK_SD:.4f} t Nd/t REO (Nd2O3 uniform on the generic 10-18 % "
        f"of REO x {ND2O3_TO_ND:.4f})",
        "IAC": f"x {F_IAC:.4f} +- {F_IAC_SD:.4f} t Nd/t REO (ion-adsorption ores: La..Nd ~56 % of REO "
        "(majority type) and Longnan's LREE bound, weighted 90:8; SOURCES_reconciliation_data.md)",
    }
    factor_txt["BAST"] = factor_txt["MON"]
    src = {
        "MON": f"{USGS}; kjservice.cn (Baotou ~54 % of national output); {WIKI_ND}",
        "BAST": f"{USGS}; mining quotas (MLR/MIIT via news); {WIKI_ND}",
        "IAC": f"{USGS}; mining quotas (MLR/MIIT via news); Zhang et al. 2016 (ion-adsorption partition, "
        "abstract); Longnan partition (see build_upstream/raw/ore_nd_shares.csv)",
    }
    parts, values = [], {}
    for ore in ("MON", "BAST", "IAC"):
        f, f_sd = factor[ore]
        v = share[ore] * reo * f
        cv_reo = np.array([CV_REO[q] for q in q_reo])
        sd = v * np.sqrt((f_sd / f) ** 2 + cv_reo**2 + CV_SPLIT**2)
        values[ore] = v
        t = rows(
            {"ore_source": ore, "year": YEARS},
            v.values,
            "estimate",
            src[ore],
            [f"{reo_txt[y]} {share_txt[ore](y)} {factor_txt[ore]}" for y in YEARS],
        )
        t.insert(3, "sd", np.round(sd.values, 3))
        t.insert(5, "basis", "concentrate")
        parts.append(t)
    table = pd.concat(parts, ignore_index=True)
    diag = {"reo": reo, "q_reo": q_reo, "s_iac": s_iac, **{k.lower(): v for k, v in values.items()}}
    return table, diag


def unregistered_prior_table(raw: dict, diag: dict) -> pd.DataFrame:
    """Priors of unregistered mining [t Nd yr-1], concentrate basis (SOURCES_reconciliation_data.md 4).

    IM = r x official REO x the ion-adsorption t Nd per t REO (the commentary places illegal
    mining in the southern clays), r = s / (1 - s) from the illegal share s of total output
    by period; sd from those of s (sd_r = sd_s / (1 - s)^2) and of the Nd share, in quadrature.
    """
    periods = [
        (2000, 2004, 0.23, 0.10, "Kingsnorth 'about 23 % before 2013' extended back (no source covers these years)"),
        (2005, 2012, 0.265, 0.05, "Adamas ~30 % (2005-2012) and Kingsnorth ~23 %: mean, sd widened to 5 points"),
        (2013, 2013, 0.28, 0.08, "interpolation between the two blocks"),
        (2014, 2016, 0.29, 0.10, "Adamas < 20 %, Kingsnorth ~40 % (c. 2016), tonnage ratios 24-28 % (40,000 t REO smuggled 2014, BGR 35,000 t/yr)"),
        (2017, 2017, 0.35, 0.15, "Adamas < 20 % vs Kingsnorth > 50 % after 2017: mean of 20 and 50, sd half the spread"),
    ]  # fmt: skip
    out = []
    for y0, y1, s, s_sd, why in periods:
        r, r_sd = s / (1 - s), s_sd / (1 - s) ** 2
        for y in range(y0, y1 + 1):
            v = r * diag["reo"][y] * F_IAC
            sd = v * np.hypot(r_sd / r, F_IAC_SD / F_IAC)
            out.append(
                dict(
                    year=y,
                    value=v,
                    sd=sd,
                    unit=FLOW,
                    basis="concentrate",
                    quality="estimate",
                    source="Adamas Intelligence 2016 and Kingsnorth 2016/2019 as reported in Mineral "
                    "Economics 2019 doi:10.1007/s13563-019-00214-2; BGR via MNR geoglobal 2014; Reuters "
                    "2014 (see build_upstream/raw/illegal_output_estimates.csv); " + USGS,
                    method=f"illegal share of total output s = {s:.3f} +- {s_sd:.2f} ({why}); "
                    f"r = s / (1 - s) = {r:.3f} +- {r_sd:.3f}; IM = r x official REO "
                    f"{diag['reo'][y]:,.0f} t x {F_IAC:.4f} +- {F_IAC_SD:.4f} t Nd/t REO (ion-adsorption "
                    "share: illegal mining placed in the southern clays by the commentary)",
                )
            )
    return pd.DataFrame(out)


def intermediate_production_table(stats: pd.DataFrame) -> pd.DataFrame:
    """NdFeB production statistics [t Nd yr-1] (fabrication output), statistic years only."""
    out = []
    nd_sd = 0.06 / np.sqrt(12)  # the paper's 18-24 % Nd in NdFeB, uniform
    for y, row in stats.iterrows():
        if row["quality"] != "statistic":
            continue
        v = row["production_t_magnet"] * ND_IN_NDFEB
        out.append(
            dict(
                intermediate="NdFeB",
                year=int(y),
                value=v,
                sd=v * np.hypot(CV_REO["statistic"], nd_sd / ND_IN_NDFEB),
                unit=FLOW,
                basis="fabrication output",
                quality="statistic",
                source="China Chemical Reporter 2011 issue 15, Table 1 (sintered + bonded NdFeB, t in "
                "kind); " + YAO + " (Table 1: 18-24 % Nd in NdFeB)",
                method=f"{row['production_t_magnet']:,.0f} t magnet x {ND_IN_NDFEB} t Nd/t magnet; sd: 2 % "
                f"(statistic) and the Nd content uniform on 18-24 % ({nd_sd:.4f}) in quadrature",
            )
        )
    return pd.DataFrame(out)


# --- yields -----------------------------------------------------------------
def fabrication_yield_ndfeb() -> tuple[float, str]:
    """Net Nd yield of NdFeB magnet making, with swarf recycled in-house.

    Gross block-to-part yield y_g (60-80 %, mid 70 %) and swarf share of
    magnet feedstock s (20-30 %, mid 25 %, Roskill): primary input per unit
    input is 1 - s, output y_g, so the net yield on primary Nd is
    y_g / (1 - s).
    """
    y_g, s = 0.70, 0.25
    return y_g / (1.0 - s), (
        "net yield = gross yield / (1 - swarf share of feedstock) = 0.70 / (1 - 0.25); "
        "gross block-to-part yield 60-80 % (mid 70 %), swarf 20-30 % of feedstock "
        "(mid 25 %, recycled in-house); range 0.75-1"
    )


def yields_table() -> pd.DataFrame:
    """Process yields (fractions; blank intermediate = all, blank year = all years)."""
    y_ref = 0.92 * 0.96
    y_fab, fab_txt = fabrication_yield_ndfeb()
    recs = [
        (
            "mining",
            "",
            0.75,
            "literature",
            MIIT,
            "minimum beneficiation recovery for mixed and bastnaesite ores (选矿回收率 >=75 %) "
            "and minimum combined mining-beneficiation recovery for ion-adsorption ores "
            "(采选综合回收率 >=75 %) in the MIIT standard conditions; a floor for compliant "
            "plants, so actual losses may be larger",
        ),
        (
            "refining",
            "",
            round(y_ref, 4),
            "literature",
            MIIT,
            "0.92 (concentrate to mixed RE, >92 %) x 0.96 (mixed RE to single compounds, "
            ">96 %) for mixed and bastnaesite ores; the ion-adsorption route (>94 % from "
            "mixed RE) is close; metal reduction not included",
        ),
        (
            "fabrication",
            "NdFeB",
            round(y_fab, 4),
            "estimate",
            "himagnet.com technical note (overall machining yield 60-80 %); Roskill via "
            "geomega.ca (swarf 20-30 % of NdFeB feedstock)",
            fab_txt,
        ),
    ]
    for k in ("NiMH", "glass", "ceramics", "catalyst", "alloy"):
        recs.append(
            (
                "fabrication",
                k,
                1.0,
                "estimate",
                "assumption (no loss figure found)",
                "no published Nd loss rate found for this route; lossless assumed",
            )
        )
    for k in ("NdFeB", "NiMH", "glass", "ceramics", "catalyst", "alloy"):
        recs.append(
            (
                "manufacturing",
                k,
                1.0,
                "estimate",
                "assumption (no loss figure found)",
                "no published Nd loss rate for assembling intermediates into final products "
                "found; lossless assumed",
            )
        )
    df = pd.DataFrame(
        recs, columns=["process", "intermediate", "value", "quality", "source", "method"]
    )
    df.insert(2, "year", "")
    df.insert(4, "unit", "1")
    return df


# --- recycling --------------------------------------------------------------
def recycling_table() -> pd.DataFrame:
    """End-of-life recycling rate by year and the recovery efficiency."""
    rate = np.interp(YEARS, [2000, 2017], [0.0, 0.01])
    q = np.where(YEARS == 2017, "literature", "estimate")
    r = rows(
        {"parameter": "recycling_rate", "year": YEARS},
        rate,
        q,
        [
            f"{YAO} (section 4.2: under 1 % in 2017); Ganguli & Cook (2018) doi:10.1557/mre.2018.7"
            if x == "literature"
            else "linear path (assumption)"
            for x in q
        ],
        [
            "upper bound of the paper's 'under 1 %'"
            if y == 2017
            else "linear from 0 in 2000 (no organised end-of-life recovery) to 1 % in 2017"
            for y in YEARS
        ],
        unit="1",
    )
    e = rows(
        {"parameter": "recovery_efficiency", "year": ""},
        [0.95],
        "literature",
        f"{YAO} (section 4.2: leaching >95 %, molten salt 86.6 %)",
        "hydrometallurgical leaching route, lower bound of '>95 %'; the molten-salt "
        "alternative (0.866) can be set in a scenario",
        unit="1",
    )
    return pd.concat([r, e], ignore_index=True)


# --- NdFeB statistics (validation) and intermediate trade --------------------
def ndfeb_production(raw: dict) -> pd.DataFrame:
    """Chinese NdFeB output [t magnet], statistic 2001-2010, reconstructed elsewhere."""
    m = raw["magnets"]
    ccr = m[m["source"].str.contains("ccr.com.cn") & m["product"].str.contains("NdFeB")]
    ccr = ccr.groupby("year")["value"].sum()
    p = pd.Series(np.nan, index=YEARS)
    q = pd.Series("estimate", index=YEARS, dtype=object)
    meth = pd.Series("", index=YEARS, dtype=object)
    for y, v in ccr.items():
        p[y], q[y], meth[y] = v, "statistic", "sintered + bonded (China Chemical Reporter 2011)"
    p[2000] = p[2001] ** 2 / p[2002]
    meth[2000] = "back-extrapolated with the 2001-2002 growth"
    sint18 = float(
        m.loc[(m["year"] == 2018) & (m["product"] == "sintered NdFeB blanks"), "value"].iloc[0]
    )
    bond18 = float(
        m.loc[(m["year"] == 2018) & (m["product"] == "bonded NdFeB powder"), "value"].iloc[0]
    )
    p[2017] = sint18 / 1.05 + bond18
    meth[2017] = "2018 sintered 155,000 t / 1.05 (stated +5 %) + bonded ~7,000 t (2018 level)"
    mid = YEARS[(YEARS > 2010) & (YEARS < 2017)]
    p[mid] = geometric(2010, p[2010], 2017, p[2017], mid)
    meth[mid] = "geometric interpolation 2010-2017 (2011-2016 not found)"
    return pd.DataFrame({"production_t_magnet": p, "quality": q, "method": meth})


def intermediate_trade_table(raw: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Intermediate exports and imports [t Nd yr-1]; NdFeB statistics for validation."""
    prod = ndfeb_production(raw)
    pts = raw["points"]

    def point(series):
        return float(pts.loc[pts["series"] == series, "value"].iloc[0])

    exp10_mag = point("rare earth permanent magnet exports")
    exp17_mag = point("NdFeB magnet exports (China Customs)")
    imp17_mag = point("NdFeB magnet imports (China Customs)")
    x11, x17 = (
        paper(raw, "trade", "intermediate_exports_peak"),
        paper(raw, "trade", "intermediate_exports"),
    )

    exp = pd.Series(np.nan, index=YEARS)
    e_q = pd.Series("estimate", index=YEARS, dtype=object)
    e_s = pd.Series("", index=YEARS, dtype=object)
    e_m = pd.Series("", index=YEARS, dtype=object)
    x10 = exp10_mag * ND_IN_NDFEB
    early = YEARS[YEARS <= 2010]
    exp[early] = (
        x10 * prod.loc[early, "production_t_magnet"] / prod.loc[2010, "production_t_magnet"]
    )
    e_s[early] = (
        "China Chemical Reporter 2011 (2010 magnet exports 13,886 t; NdFeB output 2001-2010); "
        f"{YAO} (Table 1: 18-24 % Nd in NdFeB)"
    )
    e_m[early] = (
        "2010 magnet exports 13,886 t x 0.21 t Nd/t magnet, scaled before 2010 with Chinese NdFeB output"
    )
    e_m[2010] = "2010 magnet exports 13,886 t (statistic) x 0.21 t Nd/t magnet"
    late = YEARS[YEARS >= 2011]
    exp[late] = geometric(2011, x11, 2017, x17, late)
    e_s[late] = YAO
    e_m[late] = "geometric interpolation between the paper's 3,900 t (2011 peak) and 1,880 t (2017)"
    for y in (2011, 2017):
        e_q[y], e_m[y] = "literature", "the paper's total intermediate exports, booked as NdFeB"

    imp = pd.Series(np.nan, index=YEARS)
    i_q = pd.Series("estimate", index=YEARS, dtype=object)
    i_m = pd.Series("", index=YEARS, dtype=object)
    imp[2017] = imp17_mag * ND_IN_NDFEB
    imp[2016] = imp17_mag / 1.015 * ND_IN_NDFEB
    i_m[2017] = "NdFeB imports 2,357 t (China Customs) x 0.21 t Nd/t magnet"
    i_m[2016] = "2,357 t / 1.015 (stated +1.5 % on 2016) x 0.21 t Nd/t magnet"
    before = YEARS[YEARS <= 2015]
    imp[before] = (
        imp[2017] * prod.loc[before, "production_t_magnet"] / prod.loc[2017, "production_t_magnet"]
    )
    i_m[before] = "2017 imports in t Nd scaled with Chinese NdFeB output (constant import share)"
    i_s = "Adamas Intelligence 2018-03-13 (China Customs); China Chemical Reporter 2011; " + YAO

    parts = [
        rows(
            {"intermediate": "NdFeB", "flow": "export", "year": YEARS},
            exp.values,
            e_q.values,
            e_s.values,
            e_m.values,
        ),
        rows(
            {"intermediate": "NdFeB", "flow": "import", "year": YEARS},
            imp.values,
            i_q.values,
            i_s,
            i_m.values,
        ),
    ]
    for k in ("NiMH", "glass", "ceramics", "catalyst", "alloy"):
        for f in ("export", "import"):
            parts.append(
                rows(
                    {"intermediate": k, "flow": f, "year": YEARS},
                    np.zeros(YEARS.size),
                    "estimate",
                    "no series found (unknown trade is 0)",
                    "the paper's intermediate exports are booked as NdFeB; no public series for this intermediate",
                )
            )
    table = pd.concat(parts, ignore_index=True)

    stats = prod.copy()
    stats["production_t_nd_at_0.21"] = stats["production_t_magnet"] * ND_IN_NDFEB
    stats["exports_t_magnet"] = np.nan
    stats.loc[2010, "exports_t_magnet"] = exp10_mag
    stats.loc[2016, "exports_t_magnet"] = exp17_mag / 1.11
    stats.loc[2017, "exports_t_magnet"] = exp17_mag
    stats["exports_t_nd_at_0.21"] = stats["exports_t_magnet"] * ND_IN_NDFEB
    stats["imports_t_magnet"] = np.nan
    stats.loc[2016, "imports_t_magnet"] = imp17_mag / 1.015
    stats.loc[2017, "imports_t_magnet"] = imp17_mag
    stats["intermediate_exports_used_t_nd"] = exp
    stats.index.name = "year"
    return table, stats


# --- primary and concentrate trade --------------------------------------------
def primary_trade_table(raw: dict, reo: pd.Series) -> pd.DataFrame:
    """Registered and unregistered primary exports, primary imports [t Nd yr-1]."""
    pts = raw["points"]
    re_exp = {}
    for y, series in (
        (2006, "rare earth exports (ore, metals, compounds; China Customs)"),
        (2010, "rare earth exports (ore, metals, compounds; China Customs)"),
        (2011, "rare earth exports (ore, metals, compounds; China Customs)"),
        (2012, "rare earth exports (ore, metals, compounds; China Customs)"),
        (2014, "rare earth exports (China Customs)"),
    ):
        re_exp[y] = float(pts.loc[(pts["series"] == series) & (pts["year"] == y), "value"].iloc[0])
    x06, x17 = paper(raw, "trade", "primary_exports_peak"), paper(raw, "trade", "primary_exports")
    k = x06 / re_exp[2006]  # Nd share of registered RE exports in 2006

    x = pd.Series(np.nan, index=YEARS)
    q = pd.Series("estimate", index=YEARS, dtype=object)
    m = pd.Series("", index=YEARS, dtype=object)
    pre = YEARS[YEARS <= 2006]
    x[pre] = x06 * reo[pre] / reo[2006]
    m[pre] = (
        "5,800 t (paper, 2006 peak) x REO(year)/REO(2006): constant share of official mine output"
    )
    for y in (2010, 2011, 2012, 2014):
        x[y] = k * re_exp[y]
        m[y] = (
            f"RE exports {re_exp[y]:,.0f} t (China Customs) x {k:.4f} (Nd share of 2006 exports: 5,800/61,560)"
        )
    for a, b, span in (
        (2006, 2010, [2007, 2008, 2009]),
        (2012, 2014, [2013]),
        (2014, 2017, [2015, 2016]),
    ):
        v1 = x17 if b == 2017 else x[b]
        x[span] = geometric(a, x[a], b, v1, span)
        m[span] = f"geometric interpolation {a}-{b}"
    x[2017] = x17
    q[[2006, 2017]] = "literature"
    m[2006], m[2017] = "the paper's figure (2006 peak)", "the paper's figure"
    src = [
        YAO
        if q[y] == "literature"
        else f"{YAO}; RE exports (China Customs via news, see SOURCES.md part 2); {USGS}"
        for y in YEARS
    ]

    pts_u = {
        y: paper(raw, "trade", "primary_exports_unregistered", y) for y in (2002, 2011, 2012, 2017)
    }
    u = pd.Series(np.nan, index=YEARS)
    um = pd.Series("", index=YEARS, dtype=object)
    u[[2000, 2001]] = pts_u[2002]
    um[[2000, 2001]] = "held at the paper's 2002 level"
    for a, b in ((2002, 2011), (2011, 2012), (2012, 2017)):
        span = YEARS[(YEARS >= a) & (YEARS <= b)]
        u[span] = geometric(a, pts_u[a], b, pts_u[b], span)
        um[span[1:-1]] = (
            f"geometric interpolation between the paper's mirror-statistics points {a} and {b}"
        )
    uq = pd.Series("estimate", index=YEARS, dtype=object)
    for y in pts_u:
        uq[y], um[y] = "literature", "the paper's mirror-statistics gap"
    return pd.concat(
        [
            rows({"flow": "export", "year": YEARS}, x.values, q.values, src, m.values),
            rows(
                {"flow": "import", "year": YEARS},
                np.zeros(YEARS.size),
                "estimate",
                "no series found (unknown imports are 0)",
                "assumption",
            ),
            rows(
                {"flow": "export_unregistered", "year": YEARS}, u.values, uq.values, YAO, um.values
            ),
        ],
        ignore_index=True,
    )


def concentrate_trade_table(raw: dict) -> pd.DataFrame:
    """Concentrate exports and imports [t Nd yr-1]."""
    i17 = paper(raw, "trade", "concentrate_imports")
    imp = np.interp(YEARS, [2000, 2010, 2017], [0.0, 0.0, i17])
    iq = np.where(YEARS == 2017, "literature", "estimate")
    return pd.concat(
        [
            rows(
                {"flow": "export", "year": YEARS},
                np.zeros(YEARS.size),
                "estimate",
                f"{YAO} (concentrate exports 'very small')",
                "set to 0",
            ),
            rows(
                {"flow": "import", "year": YEARS},
                imp,
                iq,
                [YAO if q == "literature" else "linear path (assumption)" for q in iq],
                [
                    "the paper's figure"
                    if y == 2017
                    else "0 to 2010, then linear to the paper's 1,340 t in 2017"
                    for y in YEARS
                ],
            ),
        ],
        ignore_index=True,
    )


# --- non-magnet end uses ---------------------------------------------------------
def nonmagnet_table(raw: dict) -> pd.DataFrame:
    """Non-magnet end uses in t Nd yr-1 (production with count_unit t)."""
    out = []
    nimh17 = paper(raw, "intermediate", "NiMH", 2017)
    g = 0.1407
    nimh00 = nimh17 / (1 + g) ** 18  # SPEC 2: 18-period convention
    specs = {
        "NiMH": (
            nimh00,
            nimh17,
            "literature 2017; 2000 = 342 / 1.1407^18 (paper's 14.07 %/yr over 18 periods)",
        ),
        "glass": (
            paper(raw, "intermediate", "glass", 2017) / 4.53,
            paper(raw, "intermediate", "glass", 2017),
            "'increased by 4.53 times' read as x(2017)/x(2000) = 4.53",
        ),
        "ceramics": (
            paper(raw, "intermediate", "ceramics", 2017) / 3.68,
            paper(raw, "intermediate", "ceramics", 2017),
            "'increased by 3.68 times' read as x(2017)/x(2000) = 3.68",
        ),
        "alloy": (
            paper(raw, "intermediate", "alloy", 2000),
            paper(raw, "intermediate", "alloy", 2017),
            "the paper's 121 t (2000) and 987 t (2017)",
        ),
        "catalyst": (
            10.0,
            60.0,
            "the paper's range 10-60 t/yr read as a rise from 10 t (2000) to 60 t (2017)",
        ),
    }
    for prod, (v0, v1, txt) in specs.items():
        vals = geometric(2000, v0, 2017, v1, YEARS)
        lit_years = {
            "NiMH": [2017],
            "glass": [2017],
            "ceramics": [2017],
            "alloy": [2000, 2017],
        }.get(prod, [])
        q = ["literature" if y in lit_years else "estimate" for y in YEARS]
        m = [
            "the paper's figure" if y in lit_years else f"geometric path 2000-2017; {txt}"
            for y in YEARS
        ]
        out.append(rows({"product": prod, "year": YEARS}, vals, q, YAO, m))
    return pd.concat(out, ignore_index=True)


# --- 2017 top-down check ---------------------------------------------------------
def check_2017(raw, yields, mining, nonmag, itrade, ptrade, ctrade) -> str:
    """Top-down chain 2017 with these yields, against the paper's 11,300 t IM."""

    def v(df, **kw):
        sel = np.ones(len(df), bool)
        for k, val in kw.items():
            sel &= df[k].astype(str) == str(val)
        return float(df.loc[sel, "value"].sum())

    def y(process, inter=""):
        return v(yields, process=process, intermediate=inter)

    total_demand = paper(raw, "consumption", "total", 2017)
    nm = {
        k: v(nonmag, product=k, year=2017)
        for k in ("NiMH", "glass", "ceramics", "catalyst", "alloy")
    }
    dc = {"NdFeB": total_demand - nm["NiMH"] - nm["glass"] - nm["ceramics"], **nm}
    x_int = {k: v(itrade, intermediate=k, flow="export", year=2017) for k in dc}
    i_int = {k: v(itrade, intermediate=k, flow="import", year=2017) for k in dc}
    x_p = v(ptrade, flow="export", year=2017) + v(ptrade, flow="export_unregistered", year=2017)
    i_p = v(ptrade, flow="import", year=2017)
    x_c, i_c = v(ctrade, flow="export", year=2017), v(ctrade, flow="import", year=2017)
    official = v(mining, year=2017)

    def chain(y_min, y_ref, y_fab, y_man):
        """(total mining, IM) on the concentrate basis of the official figures."""
        prim = sum((dc[k] / y_man[k] + x_int[k] - i_int[k]) / y_fab[k] for k in dc)
        conc = (prim + x_p - i_p) / y_ref
        dom = conc - i_c + x_c
        return dom, dom - official

    y_fab = {k: y("fabrication", k) for k in dc}
    y_man = {k: y("manufacturing", k) for k in dc}
    base = (y("mining"), y("refining"), y_fab, y_man)
    ore, im = chain(*base)
    ones = {k: 1.0 for k in dc}
    ore0, im0 = chain(1.0, 1.0, ones, ones)
    ore_old = ore / base[0]  # the old reading: official as ore, the yield applied to it

    def sens(which):
        b = list(base)
        if which == "fab":
            b[2] = {**y_fab, "NdFeB": y_fab["NdFeB"] - 0.01}
        elif which == "man":
            b[3] = {k: val - 0.01 for k, val in y_man.items()}
        else:
            b[{"mining": 0, "refining": 1}[which]] -= 0.01
        return chain(*b)[1] - im

    lines = [
        "Top-down check of the 2017 chain (t Nd), upstream tables of this folder",
        "",
        f"domestic consumption: total_demand {total_demand:,.0f} (paper) + alloy {nm['alloy']:,.0f}"
        f" + catalyst {nm['catalyst']:,.0f} = {sum(dc.values()):,.0f}",
        "  (final-product exports, 4,600 t, are part of DC = P x MI x AR and are not added)",
        f"intermediate exports {sum(x_int.values()):,.0f}, imports {sum(i_int.values()):,.0f}",
        f"primary exports registered + unregistered {x_p:,.0f}, imports {i_p:,.0f}",
        f"concentrate imports {i_c:,.0f}, exports {x_c:,.0f}; EOL recycling (<~50 t) ignored",
        f"yields: mining {base[0]:.3f}, refining {base[1]:.4f}, fabrication NdFeB "
        f"{y_fab['NdFeB']:.4f} (others 1), manufacturing 1",
        "",
        f"official mining (mining.csv, concentrate basis) {official:,.0f}  [paper: ~15,700]",
        f"total mining, concentrate basis (official + IM) {ore:,.0f}  [paper: 27,000]; Nd in ore mined "
        f"{ore / base[0]:,.0f}",
        f"unregistered mining IM (concentrate basis) {im:,.0f}  [paper: 11,300]",
        "",
        f"without any losses: total mining {ore0:,.0f}, IM {im0:,.0f}",
        f"the old reading (official as ore, the mining yield applied to it): IM {ore_old - official:,.0f}",
        f"with the paper's official 15,700 instead: IM {ore - 15700:,.0f}",
        "",
        "sensitivity of IM to a 0.01 lower yield (t Nd):",
        f"  mining {sens('mining'):+,.0f}, refining {sens('refining'):+,.0f}, "
        f"fabrication NdFeB {sens('fab'):+,.0f}, manufacturing (all) {sens('man'):+,.0f}",
        "",
        "In the residual, IM is the balancing item: it moves almost one for one (and more,",
        "through the product of the yields) with every yield and with the Nd shares of REO",
        "used for official mining; these yields were chosen from the literature, not tuned.",
        "The reconciled upstream (SPEC section 3) weighs it against its priors instead.",
    ]
    return "\n".join(lines) + "\n"


def check_table(name: str, df: pd.DataFrame, dims: list[str]) -> None:
    """Fail loudly on gaps, duplicates, NaN or negatives in a generated table."""
    if df[dims].duplicated().any():
        raise ValueError(f"{name}: duplicate rows for {dims}")
    bad = df["value"].isna() | (df["value"] < 0)
    if bad.any():
        raise ValueError(f"{name}: NaN or negative values in rows {list(df.index[bad])}")
    if "year" in dims and (df["year"].astype(str) != "").all():
        per_key = df.groupby([d for d in dims if d != "year"] or (lambda _: 0))["year"]
        if not per_key.apply(lambda y: sorted(map(int, y)) == list(YEARS)).all():
            raise ValueError(f"{name}: years do not cover {YEARS[0]}-{YEARS[-1]} for every key")


def main() -> None:
    raw = read_raw()
    mining, diag = mining_table(raw)
    yields = yields_table()
    recycling = recycling_table()
    itrade, ndfeb_stats = intermediate_trade_table(raw)
    ptrade = primary_trade_table(raw, diag["reo"])
    ctrade = concentrate_trade_table(raw)
    nonmag = nonmagnet_table(raw)

    for name, df, dims in (
        ("mining", mining, ["ore_source", "year"]),
        ("yields", yields, ["process", "intermediate", "year"]),
        ("recycling", recycling, ["parameter", "year"]),
        ("intermediate_trade", itrade, ["intermediate", "flow", "year"]),
        ("primary_trade", ptrade, ["flow", "year"]),
        ("concentrate_trade", ctrade, ["flow", "year"]),
        ("nonmagnet", nonmag, ["product", "year"]),
    ):
        check_table(name, df, dims)
    mining.to_csv(OUT / "mining.csv", index=False)
    prior = unregistered_prior_table(raw, diag)
    prior.round(3).to_csv(OUT / "unregistered_mining_prior.csv", index=False)
    istat = intermediate_production_table(ndfeb_stats)
    istat.round(3).to_csv(OUT / "intermediate_production.csv", index=False)
    yields.to_csv(OUT / "yields.csv", index=False)
    recycling.to_csv(OUT / "recycling.csv", index=False)
    itrade.to_csv(OUT / "intermediate_trade.csv", index=False)
    ptrade.to_csv(OUT / "primary_trade.csv", index=False)
    ctrade.to_csv(OUT / "concentrate_trade.csv", index=False)
    nonmag.to_csv(HERE / "nonmagnet.csv", index=False)
    ndfeb_stats.round(1).to_csv(HERE / "ndfeb_statistics.csv")

    text = check_2017(raw, yields, mining, nonmag, itrade, ptrade, ctrade)
    text += (
        "\nmining: official REO 2017 {:,.0f} t; IAC share 2006 {:.3f}, 2017 {:.3f}; t Nd per t REO: "
        "rock ores {:.4f} +- {:.4f}, ion-adsorption {:.4f} +- {:.4f}\n"
    ).format(
        diag["reo"][2017],
        diag["s_iac"][2006],
        diag["s_iac"][2017],
        F_ROCK,
        F_ROCK_SD,
        F_IAC,
        F_IAC_SD,
    )
    (HERE / "check_2017.txt").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
