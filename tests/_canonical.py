"""Build canonical input Datasets in memory (the layout of ndsim.io.readers.load_dataset).

Used by the pipeline and hand-case tests, so they do not depend on any data
files: every number is given here, in canonical units.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

#: the tiny data set of the command-line and ensemble tests
TINY = Path(__file__).parent / "data" / "tiny"


def tiny_scenario(path: Path, name: str = "tiny") -> Path:
    """Write the scenario the ensemble tests run on ``tests/data/tiny`` (no forecast; three
    sampled inputs) to ``path`` and return it."""
    path.write_text(
        f'name = "{name}"\ndata = "{TINY.as_posix()}"\n[forecast]\nenabled = false\n'
        '[uncertainty]\ninputs = ["production", "nd_content", "adoption_rate"]\n'
    )
    return path


def canonical(
    *,
    years,
    products: dict,
    intermediates: dict,
    primary: dict,
    concentrate: dict,
    mining: dict,
    yield_mining,
    yield_refining,
    recycling_rate,
    recovery_efficiency: float,
    variants=("paper",),
    forecast_last: int | None = None,
    first: int | None = None,
) -> xr.Dataset:
    """A canonical input Dataset.

    products: code -> dict(intermediate, production, nd_content, adoption_rate, exports,
              imports (in units: the product's count_unit per year), lifetime (mean,
              fixed), in_total_demand, category, group, optional calibration (k))
    intermediates: code -> dict(exports, imports, yield_fabrication, yield_manufacturing)
    primary: dict(exports, imports, exports_unregistered); concentrate: dict(exports, imports)
    mining: source -> series
    Series are lists over `years` or scalars (held). `first`: the first accounted
    year when `years` starts with history years (SPEC §2.2; default: `years[0]`).
    """
    years = np.asarray(years)
    last = int(years[-1])
    end = forecast_last or last
    all_years = np.arange(int(years[0]), end + 1)
    n_acc, n_all = len(years), len(all_years)

    def series(v):
        a = np.full(n_all, np.nan)
        a[:n_acc] = np.broadcast_to(np.asarray(v, float), (n_acc,))
        return a

    codes = list(products)
    inter = list(intermediates)
    p = products

    def by_product(key):
        return (("product", "year"), np.array([series(p[c][key]) for c in codes]))

    def by_inter(key):
        return (("intermediate", "year"), np.array([series(intermediates[k][key]) for k in inter]))

    life_mean = np.array([[float(p[c]["lifetime"]) for c in codes] for _ in variants])
    data = {
        "production": by_product("production"),
        "nd_content": (("product",), np.array([float(p[c]["nd_content"]) for c in codes])),
        "adoption_rate": by_product("adoption_rate"),
        "intensity_calibration": (
            ("product",),
            np.array([float(p[c].get("calibration", 1.0)) for c in codes]),
        ),
        "units_exports": by_product("exports"),
        "units_imports": by_product("imports"),
        "exports_intermediate": by_inter("exports"),
        "imports_intermediate": by_inter("imports"),
        "exports_primary": (("year",), series(primary["exports"])),
        "imports_primary": (("year",), series(primary["imports"])),
        "exports_primary_unregistered": (("year",), series(primary["exports_unregistered"])),
        "exports_concentrate": (("year",), series(concentrate["exports"])),
        "imports_concentrate": (("year",), series(concentrate["imports"])),
        "mining": (("source", "year"), np.array([series(v) for v in mining.values()])),
        "yield_mining": (("year",), series(yield_mining)),
        "yield_refining": (("year",), series(yield_refining)),
        "yield_fabrication": by_inter("yield_fabrication"),
        "yield_manufacturing": by_inter("yield_manufacturing"),
        "recycling_rate": (("year",), series(recycling_rate)),
        "recovery_efficiency": ((), float(recovery_efficiency)),
        "lifetime_model": (("variant", "product"), np.full(life_mean.shape, "fixed")),
        "lifetime_mean": (("variant", "product"), life_mean),
        "lifetime_sd": (("variant", "product"), np.full(life_mean.shape, np.nan)),
        "lifetime_shape": (("variant", "product"), np.full(life_mean.shape, np.nan)),
        "lifetime_scale": (("variant", "product"), np.full(life_mean.shape, np.nan)),
    }
    coords = {
        "product": codes,
        "year": all_years,
        "intermediate": inter,
        "source": list(mining),
        "variant": list(variants),
        "name": ("product", np.array([p[c].get("name", c) for c in codes], dtype=str)),
        "category": (
            "product",
            np.array([p[c].get("category", "things") for c in codes], dtype=str),
        ),
        "group": ("product", np.array([p[c].get("group", "other") for c in codes], dtype=str)),
        "product_intermediate": (
            "product",
            np.array([p[c]["intermediate"] for c in codes], dtype=str),
        ),
        "count_unit": (
            "product",
            np.array([p[c].get("count_unit", "unit") for c in codes], dtype=str),
        ),
        "in_total_demand": (
            "product",
            np.array([p[c].get("in_total_demand", True) for c in codes]),
        ),
        "forecast_method": (
            "product",
            np.array([p[c].get("forecast_method", "hold") for c in codes], dtype=str),
        ),
    }
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(
        name="handmade",
        title="hand-made test case",
        element="X",
        dataset_sha256="0" * 64,
        history_first_year=int(years[0]),
        first_year=int(years[0]) if first is None else int(first),
        last_year=last,
        forecast_last_year=end,
    )
    return ds


def hand_case() -> xr.Dataset:
    """Two products, three years; every expected flow is computed by hand in test_hand_case.py."""
    return canonical(
        years=[2000, 2001, 2002],
        products={
            "A": dict(
                intermediate="mag",
                production=[1000, 2000, 2000],
                nd_content=0.01,
                adoption_rate=[1.0, 1.0, 0.5],
                exports=[200, 400, 400],  # units: 2, 4, 2 t at m = 0.01, 0.01, 0.005 t/unit
                imports=0,
                lifetime=1,
                in_total_demand=True,
            ),
            "B": dict(
                intermediate="bat",
                production=[5, 5, 10],
                nd_content=1.0,
                adoption_rate=1.0,
                exports=0,
                imports=[1, 1, 2],
                lifetime=2,
                in_total_demand=False,
                count_unit="t",
            ),
        },
        intermediates={
            "mag": dict(
                exports=[2.5, 0, 0],
                imports=[0, 5, 0],
                yield_fabrication=0.5,
                yield_manufacturing=0.8,
            ),
            "bat": dict(
                exports=0, imports=[0, 0, 2], yield_fabrication=1.0, yield_manufacturing=1.0
            ),
        },
        primary=dict(exports=[5, 3, 2], imports=[0, 4, 3], exports_unregistered=[2, 2, 0]),
        concentrate=dict(exports=[0.5, 0, 0], imports=[3, 5, 1.125]),
        mining={"s1": [60, 50, 80], "s2": [20, 10, 4]},
        yield_mining=0.5,
        yield_refining=0.8,
        recycling_rate=[0.0, 0.5, 0.5],
        recovery_efficiency=0.5,
    )
