"""Households and ownership statistics for the China Nd data set (ndsim).

Run standalone:  python data/china_nd/build/make_ownership.py

Reads only files in data/china_nd/build/raw/ (copies of public sources, each row
with its source and quote) and data/china_nd/drivers.csv (UN WPP population
2000-2050), and writes

  data/china_nd/build/households.csv      driver = households, 1978..2050
  data/china_nd/ownership.csv             products,year,value,unit,quality,source,method
  (no data/china_nd/ownership_nonhousehold.csv: no sourced share was found)

It deletes data/china_nd/ownership_household.csv (merged into ownership.csv).
Methods are described in build/SOURCES_ownership.md and in the `method` column.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
DATA = HERE.parent

YEARS = range(1978, 2051)
CENSUS_YEARS = [1982, 1990, 2000, 2010, 2020]

# ---------------------------------------------------------------- sources (short)
SRC_HH_NBS = ("NBS National Data (hgnd) via GitHub scrapes yiyuezhuo/National-Data "
              "(commit bece4b18df7832d7721b5124d532a51ab0ceb0d4) and zhuang1234/National-Data "
              "(commit 4b467dda7a0fbef29f937a60f08db0e6420da6a6): census family-household size "
              "1982-2020, urban/rural household-survey persons per household, year-end urban/rural "
              "population (raw/china_households_nbs_1978_2022.csv)")
SRC_CENSUS = ("NBS census bulletins 2010 (No. 1) and 2020 (7th census main results): family-household "
              "population and total/collective population (raw/china_census_household_population.csv)")
SRC_POP = ("UN World Population Prospects 2024 via Our World in Data (data/china_nd/drivers.csv "
           "2000-2050; raw/china_population_unwpp2024_owid.csv 1990-1999; "
           "raw/china_population_unwpp2024_owid_1978_1989.csv 1978-1989)")
SRC_PROJ = ("Beike Research Institute (2023) 家庭小型化趋势下首套住房需求测算: household size "
            "'around 2.45 by 2030-2035'; Fu et al. (2021) Population Research 45(1):98-113: "
            "'fluctuates around 2.5' (raw/china_household_size_projection.csv)")
SRC_OWN_NAT = ("NBS integrated household survey, national average units per 100 households at year "
               "end (NBS National Data as scraped in GitHub zhuang1234/National-Data; "
               "raw/china_household_ownership_per100.csv)")
SRC_OWN_UR = ("NBS urban household survey (城镇居民家庭平均每百户拥有量) and rural household survey "
              "(农村居民家庭平均每百户拥有量), units per 100 households at year end "
              "(raw/china_household_ownership_per100.csv); weights from NBS year-end urban/rural "
              "population and survey persons per household (raw/china_households_nbs_1978_2022.csv)")
SRC_VEH = ("NBS civil vehicles in use (民用汽车拥有量), 10^4 vehicles, year end (NBS National Data "
           "via GitHub yiyuezhuo/National-Data and zhuang1234/National-Data; "
           "raw/china_vehicle_stock_nbs_1978_2022.csv) / UN WPP 2024 population")
SRC_WT = ("IRENA Renewable Capacity Statistics 2024 via Our World in Data, cumulative installed wind "
          "capacity, China (raw/china_wind_capacity_irena_owid.csv) / UN WPP 2024 population")


# ---------------------------------------------------------------- population
def population() -> pd.Series:
    """UN WPP 2024 population [person], 1978..2050 (drivers.csv from 2000)."""
    drv = pd.read_csv(DATA / "drivers.csv")
    p = drv[drv.driver == "population"].set_index("year")["value"].astype(float)
    a = pd.read_csv(RAW / "china_population_unwpp2024_owid.csv")
    a = a[(a.year < 2000)].set_index("year")["population_persons"].astype(float)
    b = pd.read_csv(RAW / "china_population_unwpp2024_owid_1978_1989.csv")
    b = b.set_index("year")["population_persons"].astype(float)
    pop = pd.concat([b, a[a.index >= 1990], p[p.index >= 2000]]).sort_index()
    pop = pop[~pop.index.duplicated(keep="last")]
    missing = [y for y in YEARS if y not in pop.index]
    assert not missing, f"population missing for {missing}"
    return pop.loc[list(YEARS)]


# ---------------------------------------------------------------- NBS household data
def nbs_households() -> dict[str, pd.Series]:
    d = pd.read_csv(RAW / "china_households_nbs_1978_2022.csv")

    def s(prefix: str) -> pd.Series:
        x = d[d.series.str.startswith(prefix)]
        return x.set_index("year")["value"].astype(float).sort_index()

    return {
        "census_size": s("census: average family-household size"),
        "urban_size": s("urban household survey: average persons"),
        "rural_size": s("rural household survey: average resident"),
        "urban_pop": s("year-end urban population"),   # 10^4 persons
        "rural_pop": s("year-end rural population"),   # 10^4 persons
    }


def survey_composite(h: dict[str, pd.Series], years) -> pd.Series:
    """National persons per household implied by the urban and rural surveys:
    P / (P_u / s_u + P_r / s_r) (households-weighted, i.e. harmonic in size).
    The urban survey starts 1981: 1978-1980 use the 1981 urban size."""
    su = h["urban_size"].reindex(years)
    su = su.bfill()  # 1978-1980 <- 1981 (stated)
    sr = h["rural_size"].reindex(years)
    pu = h["urban_pop"].reindex(years)
    pr = h["rural_pop"].reindex(years)
    return (pu + pr) / (pu / su + pr / sr)


def household_size(h) -> tuple[pd.Series, dict[int, str]]:
    """Family-household size [person/household] 1978..2050 and a method note per year."""
    cen = h["census_size"]
    comp = survey_composite(h, range(1978, 2013))
    ratio_c = {y: cen[y] / comp[y] for y in CENSUS_YEARS if y <= 2010}
    size, note = {}, {}
    for y in YEARS:
        if y in cen.index:
            size[y] = cen[y]
            note[y] = f"census family-household size {cen[y]:.2f} (NBS)"
        elif y < 1982:
            r = ratio_c[1982]
            size[y] = comp[y] * r
            note[y] = (f"before the first census: urban/rural survey composite x census/composite ratio "
                       f"of 1982 ({r:.3f}) held; urban survey size 1981 used for 1978-1980")
        elif y < 2010:
            y0 = max(c for c in CENSUS_YEARS if c < y)
            y1 = min(c for c in CENSUS_YEARS if c > y)
            w = (y - y0) / (y1 - y0)
            r = (1 - w) * ratio_c[y0] + w * ratio_c[y1]
            size[y] = comp[y] * r
            note[y] = (f"between censuses {y0} and {y1}: urban/rural survey composite (shape) x "
                       f"census/composite ratio interpolated linearly ({r:.3f})")
        elif y < 2020:
            g = (cen[2020] / cen[2010]) ** (1 / 10)
            size[y] = cen[2010] * g ** (y - 2010)
            note[y] = ("between censuses 2010 and 2020: geometric interpolation of the census sizes "
                       "(urban/rural surveys end 2012; sample-survey sizes 2011-2019 (2.92-3.11) do not "
                       "meet the 2020 census level 2.62 and are not used)")
        elif y <= 2035:
            size[y] = cen[2020] + (2.45 - cen[2020]) * (y - 2020) / 15
            note[y] = ("projection: linear from census 2020 (2.62) to 2.45 in 2035 (Beike Research "
                       "Institute 2023: 'around 2.45 by 2030-2035', taken at the later end)")
        else:
            size[y] = 2.45
            note[y] = ("projection: held at 2.45 after 2035 (floor; no published path beyond 2035 read; "
                       "Fu et al. 2021 project a household size fluctuating around 2.5)")
    return pd.Series(size), note


def family_share() -> tuple[pd.Series, dict[int, str]]:
    """Share of the population living in family households (census 2010 and 2020)."""
    c = pd.read_csv(RAW / "china_census_household_population.csv")
    v = {(r.year, r.item.split(" (")[0]): float(r.value) for r in c.itertuples()}
    f2010 = v[(2010, "population in family households")] / v[(2010, "total population, 31 provinces and active military")]
    f2020 = v[(2020, "population in family households")] / (
        v[(2020, "population in family households")] + v[(2020, "population in collective households")])
    f, note = {}, {}
    for y in YEARS:
        if y < 2010:
            f[y] = f2010
            note[y] = f"family-household share of population {f2010:.4f} = census 2010, held before 2010 (no earlier census share found)"
        elif y <= 2020:
            f[y] = f2010 + (f2020 - f2010) * (y - 2010) / 10
            note[y] = (f"family-household share {f[y]:.4f} (census 2010 {f2010:.4f}, 2020 {f2020:.4f}, linear between)")
        else:
            f[y] = f2020
            note[y] = f"family-household share {f2020:.4f} = census 2020, held after 2020"
    return pd.Series(f), note


def build_households() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    pop = population()
    h = nbs_households()
    size, snote = household_size(h)
    fam, fnote = family_share()
    hh = pop * fam / size
    rows = []
    for y in YEARS:
        if y in (2010, 2020):
            q = "statistic"
        elif y == 2035:
            q = "literature"  # the published projection point (Beike 2023), on UN WPP population
        else:
            q = "estimate"
        src = f"{SRC_POP}; {SRC_HH_NBS}; {SRC_CENSUS}" + (f"; {SRC_PROJ}" if y > 2020 else "")
        meth = (f"households = population x family-household share / family-household size; "
                f"population {pop[y]:.0f} (UN WPP); {fnote[y]}; size {size[y]:.3f}: {snote[y]}. "
                f"Counts family households (the unit of the NBS household surveys); persons in "
                f"collective households (dormitories, military) are excluded")
        if y in (1982, 1990, 2000):
            meth += "; census year, but the family-household share is the 2010 value (hence estimate)"
        rows.append(dict(driver="households", year=y, value=round(float(hh[y])), unit="household",
                         quality=q, source=src, method=meth))
    return pd.DataFrame(rows), size, pop


# ---------------------------------------------------------------- ownership
ITEMS = {  # products -> item in china_household_ownership_per100.csv
    "AC": "air conditioners",
    "RE": "refrigerators",
    "WM": "washing machines",
    "MO": "microwave ovens",
    "MP": "mobile phones",
    "DC+LP": "computers",
    "EB": "e-bikes (电动助力车)",
}


def household_ownership(h) -> list[dict]:
    own = pd.read_csv(RAW / "china_household_ownership_per100.csv")
    # urban / rural household counts used as weights (10^4 households)
    yrs = range(1978, 2013)
    hu = h["urban_pop"].reindex(yrs) / h["urban_size"].reindex(yrs)
    hr = h["rural_pop"].reindex(yrs) / h["rural_size"].reindex(yrs)
    rows = []
    for prod, item in ITEMS.items():
        x = own[own["item"] == item]
        nat = x[x.scope == "national"].set_index("year")["value"].astype(float)
        for y, v in nat.items():
            rows.append(dict(products=prod, year=int(y), value=v / 100, unit="unit household-1",
                             quality="statistic", source=SRC_OWN_NAT,
                             method=("national average units per 100 households / 100 (integrated "
                                     "household survey, resident basis, from 2013)")))
        # older surveys (series ending 2012; the 2013- urban/rural series belong to the integrated survey)
        old = x[(x.scope != "national") & (x.year <= 2012)]
        u = old[old.scope == "urban"].set_index("year")["value"].astype(float)
        r = old[old.scope == "rural"].set_index("year")["value"].astype(float)
        for y in sorted(set(u.index) & set(r.index)):
            if y in nat.index:
                continue
            wu = hu[y] / (hu[y] + hr[y])
            v = (u[y] * hu[y] + r[y] * hr[y]) / (hu[y] + hr[y]) / 100
            rows.append(dict(
                products=prod, year=int(y), value=v, unit="unit household-1", quality="statistic",
                source=SRC_OWN_UR,
                method=(f"combination of two survey statistics by stated weights: (urban per 100 x H_u + "
                        f"rural per 100 x H_r) / (H_u + H_r) / 100 with urban {u[y]:g}, rural {r[y]:g}; "
                        f"H_u = year-end urban population / urban survey persons per household, H_r "
                        f"likewise (urban weight {wu:.3f}). Old urban/rural surveys (to 2012); not "
                        f"strictly comparable with the integrated survey from 2013 (break 2012/2013)")))
        # years with an urban value but no rural one are left out (e.g. MO before 2013)
    return rows


def person_ownership(pop: pd.Series) -> list[dict]:
    rows = []
    # CV+EV: civil vehicles in use
    v = pd.read_csv(RAW / "china_vehicle_stock_nbs_1978_2022.csv")
    v = v[v.series.str.startswith("civil vehicles in use, all")].set_index("year")["value"].astype(float)
    for y, val in v.items():
        if y not in pop.index:
            continue
        rows.append(dict(
            products="CV+EV", year=int(y), value=val * 1e4 / pop[y], unit="unit person-1",
            quality="statistic", source=SRC_VEH,
            method=(f"civil vehicles in use {val:g} x 10^4 (year end) / UN WPP population (mid-year); "
                    f"all civil motor vehicles: passenger cars, buses, trucks and other vehicles, "
                    f"including NEVs (NBS vehicle production also counts all motor vehicles); "
                    f"excludes motorcycles and military vehicles")))
    # WT: cumulative installed capacity
    w = pd.read_csv(RAW / "china_wind_capacity_irena_owid.csv").set_index("year")["cumulative_capacity_GW"].astype(float)
    for y, gw in w.items():
        rows.append(dict(
            products="WT", year=int(y), value=gw * 1000 / pop[y], unit="MW person-1", quality="statistic",
            source=SRC_WT,
            method=(f"cumulative installed (grid-connected) wind capacity {gw * 1000:.0f} MW (year end) / "
                    f"UN WPP population: the installed base of the product counted in MW")))
    # EL: elevators in use (points)
    e_old = pd.read_csv(RAW / "china_elevator_output_cea.csv")
    e_old = e_old[e_old.series.str.startswith("elevators in use")]
    e_new = pd.read_csv(RAW / "china_installed_base_points.csv")
    pts = {}
    for r in e_old.itertuples():
        pts[int(r.year)] = (float(r.value), r.series, r.source)
    for r in e_new[e_new.series.str.startswith("elevators in use")].itertuples():
        pts[int(r.year)] = (float(r.value), r.series, r.source)  # SAMR register replaces CEA 493万 (2016)
    for y in sorted(pts):
        val, ser, src = pts[y]
        rows.append(dict(
            products="EL", year=y, value=val / pop[y], unit="unit person-1", quality="statistic",
            source=f"{src} (raw/china_elevator_output_cea.csv or raw/china_installed_base_points.csv) / UN WPP 2024 population",
            method=(f"{ser}: {val:.0f} units (year end) / UN WPP population; elevators registered in use "
                    f"(special-equipment register; includes escalators where the source does)")))
    # IR: IFR operational stock
    for r in e_new[e_new.series.str.startswith("industrial robots")].itertuples():
        y = int(r.year)
        rows.append(dict(
            products="IR", year=y, value=float(r.value) / pop[y], unit="unit person-1", quality="statistic",
            source=f"{r.source} (raw/china_installed_base_points.csv) / UN WPP 2024 population",
            method=(f"IFR operational stock of industrial robots {float(r.value):.0f} units (year end) / UN WPP "
                    f"population; single point (no 2000-2017 stock figure read)")))
    return rows


# ---------------------------------------------------------------- main
def main() -> None:
    hh, size, pop = build_households()
    hh.to_csv(HERE / "households.csv", index=False)

    h = nbs_households()
    own = pd.DataFrame(household_ownership(h) + person_ownership(pop))
    own = own.sort_values(["products", "year"]).reset_index(drop=True)
    own["value"] = own["value"].astype(float)
    own.to_csv(DATA / "ownership.csv", index=False, float_format="%.6g")

    # no sourced non-household share was found (SOURCES.md): the optional table is absent
    # rather than empty, so that no share is invented
    nh = DATA / "ownership_nonhousehold.csv"
    if nh.exists():
        nh.unlink()

    old = DATA / "ownership_household.csv"
    if old.exists():
        old.unlink()

    # ---- checks
    units = {"AC": "unit household-1", "RE": "unit household-1", "WM": "unit household-1",
             "MO": "unit household-1", "MP": "unit household-1", "DC+LP": "unit household-1",
             "EB": "unit household-1", "CV+EV": "unit person-1", "WT": "MW person-1",
             "EL": "unit person-1", "IR": "unit person-1"}
    o = pd.read_csv(DATA / "ownership.csv")
    assert not o.duplicated(["products", "year"]).any()
    assert (o.value > 0).all()
    assert o.groupby("products").unit.nunique().max() == 1
    assert all(o.set_index("products").unit.groupby(level=0).first()[k] == u for k, u in units.items())
    assert o.quality.isin(["statistic", "literature", "estimate"]).all()
    hcsv = pd.read_csv(HERE / "households.csv")
    assert list(hcsv.year) == list(YEARS) and (hcsv.value > 0).all()
    assert not hcsv.duplicated(["driver", "year"]).any()

    # ---- summary
    print("households (million) and size:")
    for y in (1982, 1990, 2000, 2010, 2017, 2020, 2030, 2050):
        print(f"  {y}: {hh.set_index('year').value[y] / 1e6:8.1f}  size {size[y]:.3f}")
    print("ownership by group:")
    for p, g in o.groupby("products"):
        g = g.set_index("year")
        v10 = g.value.get(2010, float("nan"))
        v17 = g.value.get(2017, float("nan"))
        print(f"  {p:6s} {g.unit.iloc[0]:17s} {g.index.min()}-{g.index.max()} n={len(g):2d} "
              f"2010={v10:.4g} 2017={v17:.4g}")


if __name__ == "__main__":
    main()
