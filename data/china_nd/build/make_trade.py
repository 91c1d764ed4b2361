"""Build trade_by_product.csv: exports and imports of the 17 final products, 1978-2017.

Standalone: reads only files in build/raw/ (trade_*.csv, the NBS output table, the NBS
December-cumulative table, the elevator association series, the domestic-sales points
trade_domestic_sales_points.csv: E = P - D + I for MP, DC, LP, AC where D exists) and writes
build/trade_by_product.csv with columns
    product, flow, year, kind, value, unit, quality, source, method
kind = `units` (value in unit yr-1, MW yr-1 for WT) or `share_of_production`
(value in `1`; the builder multiplies it by production P of the same year).
Every year 1978..2017, both flows, all 17 products. See SOURCES_trade.md.

Run: python data/china_nd/build/make_trade.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
OUT = HERE / "trade_by_product.csv"
YEARS = list(range(1978, 2018))
PRODUCTS = ["CV", "EV", "EB", "WT", "AC", "RE", "WM", "MO", "VC", "MRI",
            "DC", "LP", "MP", "LS", "CP", "EL", "IR"]

NBS_TRADE = "trade_nbs_main_goods_2000_2019.csv"
POINTS = "trade_points_found.csv"
NBS_OUT = "china_nbs_industrial_output_wide_2000_2022.csv"
NBS_DEC = "china_nbs_output_dec_cumulative_2010_2022.csv"
CEA = "china_elevator_output_cea.csv"
DOM = "trade_domestic_sales_points.csv"


def src_file(name: str) -> str:
    return f"build/raw/{name}"


# ---------------------------------------------------------------- inputs
nbs_trade = pd.read_csv(RAW / NBS_TRADE)
points = pd.read_csv(RAW / POINTS)
nbs_out = pd.read_csv(RAW / NBS_OUT).set_index("year")
cea = pd.read_csv(RAW / CEA)
dec = pd.read_csv(RAW / NBS_DEC)
dom = pd.read_csv(RAW / DOM)


def trade_series(prefix: str) -> pd.Series:
    d = nbs_trade[nbs_trade.series.str.startswith(prefix)]
    return d.set_index("year")["value"].astype(float)


def point(product: str, series_start: str, year: int) -> float:
    d = points[(points["product"] == product) & points.series.str.startswith(series_start)
               & (points.year == year)]
    assert len(d) == 1, (product, series_start, year, len(d))
    return float(d.value.iloc[0])


def dpt(product: str, series_start: str, year: int) -> float:
    """One value from trade_domestic_sales_points.csv (domestic sales / shipments)."""
    d = dom[(dom["product"] == product) & dom.series.str.startswith(series_start)
            & (dom.year == year)]
    assert len(d) == 1, (product, series_start, year, len(d))
    return float(d.value.iloc[0])


def out_col(start: str) -> pd.Series:
    col = [c for c in nbs_out.columns if c.startswith(start)]
    assert len(col) == 1, (start, col)
    return nbs_out[col[0]].astype(float) * 1e4  # 10^4 units -> units


NBS_VEH = out_col("motor vehicles (all)")
NBS_AC = out_col("room air conditioners")
NBS_RE = out_col("household refrigerators")
NBS_MP = out_col("mobile communication handsets")
NBS_VC = out_col("household vacuum cleaners")
NBS_MICRO = out_col("micro-computers")
NBS_NOTE = out_col("notebook")
CEA_EL = (cea[cea.series == "elevator output (incl. exports)"].set_index("year")["value"]
          .astype(float))
IR_OUT = dec[dec["product"] == "industrial robots"].set_index("year")["value"].astype(float)

rows: list[dict] = []


def add(product, flow, year, kind, value, quality, source, method):
    unit = {"units": "MW yr-1" if product == "WT" else "unit yr-1",
            "share_of_production": "1"}[kind]
    rows.append(dict(product=product, flow=flow, year=int(year), kind=kind,
                     value=float(value), unit=unit, quality=quality, source=source,
                     method=method))


def share_path(anchors: dict[int, float], ramp_from: int | None = None) -> pd.Series:
    """Linear interpolation between anchor years; held flat after the last anchor;
    before the first anchor either held flat (ramp_from None) or linear from 0 in
    ramp_from."""
    ys = sorted(anchors)
    s = pd.Series(np.nan, index=YEARS, dtype=float)
    for y in ys:
        s[y] = anchors[y]
    if ramp_from is not None:
        s[ramp_from] = 0.0
        s[s.index < ramp_from] = 0.0
    s = s.interpolate(method="index", limit_direction="both")
    return s


def emit_shares(product, flow, path, anchors_q, src, method_anchor, method_other):
    """anchors_q: {year: (quality, method text)} for anchor years."""
    for y in YEARS:
        if y in anchors_q:
            q, m = anchors_q[y]
            add(product, flow, y, "share_of_production", round(path[y], 6), q, src, m)
        else:
            add(product, flow, y, "share_of_production", round(path[y], 6), "estimate", src,
                method_other)


def zero_imports(product, reason):
    for y in YEARS:
        add(product, "import", y, "share_of_production", 0.0, "estimate",
            "estimate: assumption (no import quantity found)", reason)


D_SRC = src_file(DOM)


def emit_from_domestic(product, P, D, imp_units, other_anchors, old_path, src, method_other,
                       ramp_from=None):
    """Exports from a sourced domestic-sales figure: E = P - D + I in every year with a D.

    P: production the data set uses (NBS, units, by year); D: {year: (value, quality, text)}
    where quality is 'statistic' only if D was read directly (not derived) in a source (P is
    an NBS statistic in all these years); imp_units: {year: imports in units} (0 if absent);
    other_anchors: {year: (share, quality, method)} for years without a D (e.g. customs
    shares kept from the earlier builder); old_path: the earlier estimate (used, and noted,
    where D > P + I would give negative exports). Years with a D are emitted as kind `units`;
    all other years as a share of production interpolated linearly between the export shares
    E/P of the anchor years (held flat outside, or ramped from 0 in ramp_from)."""
    units, shares, notes = {}, {}, {}
    for y, (d, qd, txt) in sorted(D.items()):
        i = imp_units.get(y, 0.0)
        e = P[y] - d + i
        if e < 0:
            notes[y] = (f"D ({d:,.0f}, {txt}) exceeds P + I ({P[y] + i:,.0f}): definitions differ; "
                        f"E = P - D + I would be negative, so the earlier estimate "
                        f"({old_path[y]:.4f} of P) is kept")
            shares[y] = float(old_path[y])
            continue
        units[y] = (e, qd, txt, i)
        shares[y] = e / P[y]
    for y, (sh, q, m) in other_anchors.items():
        if y not in shares:
            shares[y] = sh
    path = share_path(shares, ramp_from=ramp_from)
    for y in YEARS:
        if y in units:
            e, qd, txt, i = units[y]
            add(product, "export", y, "units", round(e), qd, f"{D_SRC}; {O_SRC}",
                f"E derived as P - D + I = {P[y]:,.0f} (NBS output) - {D[y][0]:,.0f} ({txt}) + "
                f"{i:,.0f} (imports) = {e:,.0f} (E/P = {e / P[y]:.4f})")
        elif y in notes:
            add(product, "export", y, "share_of_production", round(shares[y], 6), "estimate", src,
                notes[y])
        elif y in other_anchors:
            sh, q, m = other_anchors[y]
            add(product, "export", y, "share_of_production", round(path[y], 6), q, src, m)
        else:
            add(product, "export", y, "share_of_production", round(path[y], 6), "estimate",
                f"{D_SRC}; {src}", method_other)
    return path


P_SRC = src_file(POINTS)
T_SRC = src_file(NBS_TRADE)
O_SRC = src_file(NBS_OUT)

# ---------------------------------------------------------------- CV
exp_v = trade_series("motor vehicles (汽车), exports")
imp_v = trade_series("motor vehicles (汽车), imports")
e2005 = float(np.sqrt(exp_v[2004] * exp_v[2006]))
e_sh0 = exp_v[2000] / NBS_VEH[2000]
i_sh0 = imp_v[2000] / NBS_VEH[2000]
for y in YEARS:
    if y < 2000:
        add("CV", "export", y, "share_of_production", round(e_sh0, 6), "estimate",
            f"{T_SRC}; {O_SRC}",
            f"2000 export share of NBS motor-vehicle output ({exp_v[2000]:.0f} / "
            f"{NBS_VEH[2000]:.0f} = {e_sh0:.4f}) held back to 1978 (no earlier trade table)")
        add("CV", "import", y, "share_of_production", round(i_sh0, 6), "estimate",
            f"{T_SRC}; {O_SRC}",
            f"2000 import share of NBS motor-vehicle output ({imp_v[2000]:.0f} / "
            f"{NBS_VEH[2000]:.0f} = {i_sh0:.4f}) held back to 1978")
        continue
    if y == 2005:
        add("CV", "export", y, "units", round(e2005), "estimate", T_SRC,
            "NBS 2005 value 1,080,886 rejected as an outlier (3.1x 2006, 19 % of output); "
            "geometric mean of 2004 and 2006 NBS exports (the 2004 value, 401,354, may be high too)")
    else:
        add("CV", "export", y, "units", exp_v[y], "statistic", T_SRC,
            "NBS main export goods, motor vehicles (all, incl. NEVs), vehicles; unit checked "
            "against CAAM customs Jan-Aug 2017 (trade_points_found.csv)")
    add("CV", "import", y, "units", imp_v[y], "statistic", T_SRC,
        "NBS main import goods, motor vehicles (all), vehicles; unit checked against CAAM "
        "customs Jan-Aug 2017")

# ---------------------------------------------------------------- EV (CV shares)
cv_e = pd.Series({y: (e2005 if y == 2005 else exp_v[y]) / NBS_VEH[y] for y in range(2000, 2018)})
cv_i = pd.Series({y: imp_v[y] / NBS_VEH[y] for y in range(2000, 2018)})
for y in YEARS:
    yy = max(y, 2000)
    add("EV", "export", y, "share_of_production", round(cv_e[yy], 6), "estimate",
        f"{T_SRC}; {O_SRC}",
        "no NEV export series found; the year's export share of all motor vehicles "
        "(NBS exports / NBS output; 2000 value before 2000) used for NEVs")
    add("EV", "import", y, "share_of_production", round(cv_i[yy], 6), "estimate",
        f"{T_SRC}; {O_SRC}",
        "no NEV import series found; the year's import share of all motor vehicles "
        "(NBS imports / NBS output) used for NEVs")

# ---------------------------------------------------------------- EB
eb = point("EB", "e-bike exports", 2018) / point("EB", "e-bike output", 2018)
for y in YEARS:
    add("EB", "export", y, "share_of_production", round(eb, 6), "estimate", P_SRC,
        f"China Bicycle Association 2018: exports ~1.8 m of ~32 m e-bikes (share {eb:.4f}) "
        "held for all years (2020 check: 2.02/41.26 = 0.049); no earlier export figure found")
zero_imports("EB", "China supplies its own e-bikes (world's main producer); imports set to 0")

# ---------------------------------------------------------------- WT (MW units)
cum2017 = point("WT", "wind turbines exported, cumulative capacity end-2017", 2017)
cum2015 = point("WT", "wind turbines exported, cumulative ~2015", 2015)
# cumulative shape 2007-2015 from the taixueshu abstract: cum2010 = c; 2011 new = 3c;
# 2012 new = cum2011 = 4c; 2013 new = cum2012 = 8c; 2014 and 2015 new = 2013 new (8c);
# cum2015 = 32c = cum2015 source. 2007-2010 a linear rise 1:2:3:4 of c.
c = cum2015 / 32.0
wt = {y: 0.0 for y in YEARS}
for k, y in enumerate(range(2007, 2011), start=1):
    wt[y] = c * k / 10.0
wt.update({2011: 3 * c, 2012: 4 * c, 2013: 8 * c, 2014: 8 * c, 2015: 8 * c})
wt[2016] = wt[2017] = (cum2017 - cum2015) / 2.0
for y in YEARS:
    if y < 2007:
        m = "Chinese turbine exports started from zero in 2007 (taixueshu abstract); 0 before"
    elif y <= 2015:
        m = (f"reconstruction: cumulative exports ~{cum2015:.0f} MW at end-2015 (CRES, Caixin) "
             "distributed with the ratios in the taixueshu abstract (2011 new = 3x cum 2010, "
             "2012 new = cum 2011, 2013 new = cum 2012; 2014-2015 = 2013; 2007-2010 linear rise)")
    else:
        m = (f"(cumulative end-2017 {cum2017:.1f} MW (CWEA) - ~{cum2015:.0f} MW end-2015) / 2, "
             "split evenly over 2016-2017")
    # production of WT is newly installed capacity in China (the paper's P_WT, SPEC §1),
    # i.e. already the sales into use: exported turbines are not in it, so nothing is
    # subtracted; the reconstruction above is kept in the method for information
    add("WT", "export", y, "units", 0.0, "estimate", P_SRC,
        "0: production is newly installed capacity in China (the paper's P_WT), which "
        f"excludes exported turbines; turbine exports themselves ({round(wt[y], 1)} MW, "
        f"{m}) are not subtracted")
    add("WT", "import", y, "units", 0.0, "estimate", P_SRC,
        "0: production is newly installed capacity in China, imported turbines included "
        "(no customs quantity for HS 850231 found; foreign makers held 77 % of China's "
        "cumulative installed capacity in 2005, Worldwatch)")

# ---------------------------------------------------------------- AC
ac02 = point("AC", "air conditioner exports (customs, via JARN)", 2002) / NBS_AC[2002]
ac07 = (point("AC", "air conditioner exports, fiscal year", 2007)
        / point("AC", "air conditioner production, fiscal year", 2007))
ac17 = ((point("AC", "room AC exports (CHEAA", 2018) / 1.093)
        / (point("AC", "room AC production (CHEAA", 2018) / 1.044))
ac_old = share_path({2002: ac02, 2007: ac07, 2017: ac17}, ramp_from=1978)
# domestic sales D: JARN / JRAIA China AC demand (units sold in China, one definition); derived
# years from the stated growth of the next year's figure
ac_D = {
    2004: (dpt("AC", "China air-conditioner demand (JARN; refrigeration", 2004), "statistic",
           "JARN domestic sales, refrigeration year Sep 2003-Aug 2004, assigned to 2004"),
    2009: (dpt("AC", "China air-conditioner demand (JARN)", 2010) / 1.30, "estimate",
           "JARN 2010 China demand 29.8 m / 1.30 (stated growth)"),
    2010: (dpt("AC", "China air-conditioner demand (JARN)", 2010), "statistic",
           "JARN China AC demand 2010"),
    2012: (dpt("AC", "China air-conditioner demand, all ACs (JRAIA", 2013) / 1.088, "estimate",
           "JRAIA 2013 China demand 35.6 m / 1.088 (stated growth)"),
    2013: (dpt("AC", "China air-conditioner demand, all ACs (JRAIA", 2013), "statistic",
           "JRAIA estimate of China AC demand 2013"),
    2016: (dpt("AC", "China domestic sales of ACs (JARN", 2017) / 1.302, "estimate",
           "JARN 2017 China domestic sales 61 m / 1.302 (stated growth)"),
    2017: (dpt("AC", "China domestic sales of ACs (JARN", 2017), "statistic",
           "JARN China domestic sales of ACs 2017"),
}
ac = emit_from_domestic(
    "AC", NBS_AC, ac_D, {},
    {2002: (ac02, "statistic", f"customs exports 9.78 m / NBS output ({ac02:.4f}); no domestic-sales "
                               "figure for 2002"),
     2007: (ac07, "statistic", f"customs exports Aug 2006-Jul 2007 29.3 m / production same period "
                               f"63 m ({ac07:.4f}), assigned to 2007; no domestic-sales figure for 2007")},
    ac_old, P_SRC,
    "linear interpolation of the export share E/P between anchor years (E = P - D from JARN/JRAIA "
    "domestic sales; customs shares 2002 and 2007); linear from 0 in 1978 to the 2002 share",
    ramp_from=1978)
zero_imports("AC", "China is a net exporter of room ACs; no import quantity found; 0")

# ---------------------------------------------------------------- RE and WM
re17 = point("RE", "refrigerator exports", 2017) / NBS_RE[2017]
re09 = point("RE", "refrigerator exports", 2017) / 1.078 ** 8 / NBS_RE[2009]
re12 = point("RE", "share of China-made refrigerators", 2012)
re = share_path({2009: re09, 2012: re12, 2017: re17}, ramp_from=1978)
emit_shares("RE", "export", re, {
    2009: ("estimate", f"2017 exports 30.22 m back-cast at the stated 7.8 %/yr CAGR 2009-2017, / NBS "
                       f"output ({re09:.4f})"),
    2012: ("statistic", "Euromonitor: 30 % of fridges made in China are shipped abroad"),
    2017: ("statistic", f"exports 30.22 m / NBS output 83.14 m ({re17:.4f})"),
}, P_SRC, "", "linear interpolation between sourced shares; linear from 0 in 1978 to the 2009 "
   "share (no earlier export figure)")
zero_imports("RE", "no import quantity found; China is a net exporter; 0")
for y in YEARS:
    add("WM", "export", y, "share_of_production", round(re[y], 6), "estimate", P_SRC,
        "no washing-machine export quantity found; the refrigerator export share of the same "
        "year used (same white-goods makers and markets)")
zero_imports("WM", "no import quantity found; China is a net exporter; 0")

# ---------------------------------------------------------------- MO, VC, CP, LS, DC, LP
for y in YEARS:
    add("MO", "export", y, "share_of_production", 0.75, "estimate", P_SRC,
        "no output statistic to divide by: customs put 2007 exports near 50 m (over 90 % of "
        "world microwave exports) while China made ~50 % of the world's ovens; 0.75 assumed, "
        "held for all years")
    add("VC", "export", y, "share_of_production", 0.80, "estimate", P_SRC,
        "2005 customs exports 87.6 m exceed NBS output 46.8 m (NBS counts above-size firms "
        "only), so the share cannot be computed; capped at 0.80 to keep domestic sales > 0; "
        "held for all years")
    add("CP", "export", y, "share_of_production", 0.85, "estimate", P_SRC,
        "DVD exports 153 m in 2006 (CCID) against domestic sales of 3-5 m in 2000-2001: players "
        "were made mainly for export; 0.85 assumed for all years (leaves a domestic share)")
    add("LS", "export", y, "share_of_production", 0.50, "estimate",
        "estimate: assumption",
        "no loudspeaker export quantity found (HS 851822); the electro-acoustic industry is "
        "export-led but most speakers go into devices assembled in China; 0.50 assumed")
# DC and LP: domestic sales D from China PC shipments (iSuppli/IHS, IDC; Gartner share for 2009)
# split by the desktop share: 0.50 (IHS 2012, "an even 50-50 split"), held before 2012, linear
# to 0.29 in 2023 (quarterly Q4-2023 report, the only later split found)
DC_P = NBS_MICRO - NBS_NOTE   # the production table's DC: NBS micro-computers minus notebooks
LP_P = NBS_NOTE
pc_tot = {
    2009: (dpt("DC+LP", "China share of Asia/Pacific PC shipments (Gartner)", 2009) * 114.6e6 / 1.203,
           "estimate", "China PC shipments 2009 = 0.59 x Gartner APAC 2009 (114.6 m / 1.203)"),
    2010: (dpt("DC+LP", "PC shipments to China (iSuppli)", 2010), "statistic", "iSuppli China PC shipments"),
    2011: (dpt("DC+LP", "PC shipments to China (iSuppli)", 2011), "statistic", "iSuppli China PC shipments"),
    2012: (dpt("DC+LP", "PC shipments to China (IHS", 2012), "statistic", "IHS China PC shipments"),
    2016: (dpt("DC+LP", "China PC shipments (IDC, via", 2016), "statistic", "IDC China PC shipments"),
    2017: (dpt("DC+LP", "China PC shipments excl. workstations (IDC", 2017), "statistic",
           "IDC China PC shipments excl. workstations"),
}
d12 = dpt("DC+LP", "desktop share of China PC shipments (IHS)", 2012)
d23 = dpt("DC+LP", "desktop share of China PC shipments Q4 2023", 2023)


def desk_share(y):
    return d12 if y <= 2012 else d12 + (d23 - d12) * (y - 2012) / (2023 - 2012)


dc_D, lp_D = {}, {}
for y, (t, q, txt) in pc_tot.items():
    ds = desk_share(y)
    qq = "statistic" if (q == "statistic" and y == 2012) else "estimate"
    split = ("IHS 50-50 split" if y <= 2012 else
             f"desktop share {ds:.3f} interpolated 2012 (0.50, IHS) - 2023 (0.29)")
    dc_D[y] = (t * ds, qq, f"{txt} {t:,.0f} x desktop share {ds:.3f} ({split})")
    lp_D[y] = (t * (1 - ds), qq, f"{txt} {t:,.0f} x notebook share {1 - ds:.3f} ({split})")
lp_old = pd.Series(0.90, index=YEARS)
dc_old = pd.Series(round((18.0 / 82.0) * 0.90 * NBS_NOTE[2017] / (DC_P[2017]), 6), index=YEARS)
tab_note = ("; NBS micro-computers (and so P_DC) include tablets, so E_DC also removes tablets, "
            "which are not desktops")
emit_from_domestic(
    "DC", DC_P, dc_D, {}, {}, dc_old, P_SRC,
    "linear interpolation of the export share E/P between years with domestic PC sales "
    "(E = P - D); 2009 share held back to 1978 (no earlier China PC sales figure found)" + tab_note)
emit_from_domestic(
    "LP", LP_P, lp_D, {}, {}, lp_old, P_SRC,
    "linear interpolation of the export share E/P between years with domestic PC sales "
    "(E = P - D); 2009 share held back to 1978 (no earlier China PC sales figure found)")
for p in ["MO", "VC", "CP", "LS"]:
    zero_imports(p, "China is the main world supplier; no import quantity found; 0")
zero_imports("LP", "finished-notebook imports not found (NBS 'ADP machines and components' "
                   "imports are mostly parts); 0")
zero_imports("DC", "finished-desktop imports not found (NBS 'ADP machines and components' "
                   "imports are mostly parts); 0")

# ---------------------------------------------------------------- MP
mp04 = point("MP", "mobile phone exports (MOFCOM)", 2005) / 1.56 / NBS_MP[2004]
mp05 = point("MP", "mobile phone exports (MOFCOM)", 2005) / NBS_MP[2005]
mp06 = point("MP", "mobile phone exports", 2006) / NBS_MP[2006]
mp12 = point("MP", "mobile phone exports Jan-Aug", 2012) * 12 / 8 / NBS_MP[2012]
mp00 = point("MP", "mobile phone exports 2012 expected", 2012) / 1.372 ** 12 / NBS_MP[2000]
tel17 = trade_series("telephone sets (电话机, fixed + mobile), exports")[2017] * 1e4
mp17 = (2 * point("MP", "mobile phone exports H1 2017", 2017) + tel17) / 2 / NBS_MP[2017]
mp_old = share_path({2000: mp00, 2004: mp04, 2005: mp05, 2006: mp06, 2012: mp12, 2017: mp17})
tel_imp = trade_series("telephone sets (电话机), imports")
mpi = {2004: point("MP", "mobile phone imports Jan-May", 2004) * 12 / 5 / NBS_MP[2004]}
for y in range(2008, 2018):
    mpi[y] = tel_imp[y] / NBS_MP[y]
mpi_path = share_path(mpi)
emit_shares("MP", "import", mpi_path,
            {**{2004: ("estimate", f"imports Jan-May 5.2 m x 12/5 / NBS output ({mpi[2004]:.4f})")},
             **{y: ("estimate", f"NBS telephone-set imports (units, all telephones: upper bound for "
                                f"mobiles) / NBS mobile output ({mpi[y]:.5f})")
                for y in range(2008, 2018)}},
            f"{P_SRC}; {T_SRC}; {O_SRC}", "",
            "2004 share held back to 1978; linear 2004-2008")

mp_D = {
    2005: (dpt("MP", "mobile phone domestic market shipments (CATR, MIIT", 2005), "statistic",
           "CATR domestic shipments 2005 (white paper 2012)"),
    2006: (dpt("MP", "mobile phone sales in China (China Mobile Comm", 2006), "statistic",
           "China Mobile Communications Association: sales in China 2006"),
    2007: (dpt("MP", "mobile phone sales volume in China's market (CCID", 2007), "statistic",
           "CCID: sales in China 2007 (licensed; black market excluded)"),
    2010: (dpt("MP", "mobile phone market sales in mainland China", 2010), "statistic",
           "ITIS: sales in mainland China 2010 (excl. shanzhai phones)"),
    2011: (dpt("MP", "mobile phone domestic market shipments (CATR monthly", 2012) / 1.108, "estimate",
           "CATR 2012 domestic shipments 466 m / 1.108 (stated growth)"),
    2012: (dpt("MP", "mobile phone domestic market shipments (CATR monthly", 2012), "statistic",
           "CATR domestic shipments 2012"),
    2013: (dpt("MP", "mobile phone domestic market shipments (MIIT 2014", 2014) / (1 - 0.219),
           "estimate", "MIIT 2014 domestic shipments 452 m / (1 - 0.219) (stated fall)"),
    2014: (dpt("MP", "mobile phone domestic market shipments (MIIT 2014", 2014), "statistic",
           "MIIT domestic shipments 2014"),
    2015: (dpt("MP", "mobile phone domestic market shipments (CAICT)", 2016) / 1.080, "estimate",
           "CAICT 2016 domestic shipments 559.7 m / 1.080 (stated growth)"),
    2016: (dpt("MP", "mobile phone domestic market shipments (CAICT)", 2016), "statistic",
           "CAICT domestic shipments 2016"),
    2017: (dpt("MP", "mobile phone domestic market shipments (CAICT)", 2017), "statistic",
           "CAICT domestic shipments 2017"),
}
mp_imp = {y: float(mpi_path[y]) * NBS_MP[y] for y in YEARS if y >= 2000}
mp = emit_from_domestic(
    "MP", NBS_MP, mp_D, mp_imp,
    {2000: (mp00, "estimate", f"2012 exports (1 bn, CCCME expectation) back-cast at the MIIT 2000-2012 "
                              f"CAGR 37.2 %, / NBS output ({mp00:.4f}); no domestic-sales figure for 2000"),
     2004: (mp04, "statistic", f"MOFCOM 2005 exports 228 m / 1.56 (stated growth) / NBS output "
                               f"({mp04:.4f}); no domestic-sales figure for 2004")},
    mp_old, f"{P_SRC}; {T_SRC}; {O_SRC}",
    "linear interpolation of the export share E/P between anchor years (E = P - D + I where a "
    "domestic-sales figure exists; customs-based shares 2000 and 2004); 2000 share held back to 1978")

# ---------------------------------------------------------------- EL
el11 = point("EL", "elevator production and sales / exports", 2011) / CEA_EL[2011]
el16 = point("EL", "elevator and escalator exports", 2016) / CEA_EL[2016]
el = share_path({2000: el11, 2011: el11, 2016: el16}, ramp_from=1980)
emit_shares("EL", "export", el, {
    2011: ("statistic", f"exports >47,000 (People's Daily) / association output 457,000 ({el11:.4f})"),
    2016: ("statistic", f"elevator+escalator exports 76,400 / association output 776,000 ({el16:.4f})"),
}, f"{P_SRC}; {src_file(CEA)}", "", "2011 share held back to 2000, linear from 0 in 1980 to 2000; "
   "linear 2011-2016; 2016 share held for 2017")
zero_imports("EL", "elevators sold in China are made in China (incl. foreign-owned plants); no "
                   "import quantity found; 0")

# ---------------------------------------------------------------- IR
sh17 = point("IR", "industrial robot imports, Shanghai", 2017)
sh16 = sh17 / 1.845
q17 = point("IR", "industrial robots purchased in China", 2017)
q16 = point("IR", "industrial robot consumption", 2016)
p16, p17 = IR_OUT[2016], IR_OUT[2017]
ir_i = {2016: sh16 / p16, 2017: sh17 / p17}
ir_e = {2016: (p16 + sh16 - q16) / p16, 2017: (p17 + sh17 - q17) / p17}
for flow, d in [("import", ir_i), ("export", ir_e)]:
    path = share_path(d)
    if flow == "import":
        mq = {y: ("estimate", f"Shanghai customs-district robot imports ({'76,000' if y == 2017 else '76,000/1.845'}; "
                              f"lower bound of national imports) / NBS output ({d[y]:.4f})")
              for y in d}
    else:
        mq = {y: ("estimate", f"balance E = P + I - Q with P = NBS output, I = Shanghai-district "
                              f"imports, Q = CRIA sales/consumption in China ({d[y]:.4f}); a lower "
                              "bound, as I is")
              for y in d}
    emit_shares("IR", flow, path, mq, f"{P_SRC}; {src_file(NBS_DEC)}", "",
                "2016 share held back to 1978 (no earlier import or export figure)")

# ---------------------------------------------------------------- MRI
for y in YEARS:
    add("MRI", "export", y, "share_of_production", 0.10, "estimate", "estimate: assumption",
        "no MRI export figure found (HS 901813); domestic makers' exports assumed small: 0.10")
    s = 0.8 if y <= 2005 else 0.8 - 0.2 * (y - 2005) / 12.0
    add("MRI", "import", y, "share_of_production", round(s * 0.9 / (1 - s), 6), "estimate",
        P_SRC,
        f"no import quantity found; imported share of domestic supply s assumed 0.8 to 2005 "
        f"(1990: ~10 MRIs in China, all imported), falling linearly to 0.6 in 2017; "
        f"I/P = s x (1 - 0.10) / (1 - s) = {s * 0.9 / (1 - s):.3f}")

# ---------------------------------------------------------------- write and check
df = pd.DataFrame(rows)
df = df.sort_values(["product", "flow", "year"]).reset_index(drop=True)
assert set(df["product"]) == set(PRODUCTS)
assert len(df) == len(PRODUCTS) * 2 * len(YEARS), len(df)
assert not df.duplicated(["product", "flow", "year"]).any()
sh = df[(df.kind == "share_of_production") & (df.flow == "export")]
assert (sh.value < 1).all() and (df.value >= 0).all()
# units against the production statistic
for y in range(2000, 2018):
    e = df[(df["product"] == "CV") & (df.flow == "export") & (df.year == y)].value.iloc[0]
    assert e < NBS_VEH[y], (y, e)
df.to_csv(OUT, index=False)
print(f"wrote {OUT} ({len(df)} rows)")
