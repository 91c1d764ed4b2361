"""The upstream processes, computed top-down from domestic consumption (SPEC §1, §3).

Working up the chain, each process's required input is its output plus its
net exports, divided by its yield:

    manufacturing   M_k = DC_k / y_man,k                      (DC_k: DC of the end uses made from k)
    fabrication     O_k = M_k + X_int,k - I_int,k,   P_k = O_k / y_fab,k
    refining        C   = (sum_k P_k + X_prim + X_unreg - I_prim - R) / y_ref
    mining          C_dom = C - I_conc + X_conc,   ore = C_dom / y_min,
                    IM = C_dom - official (official on the concentrate basis) or
                    IM = ore - official (official counted in ore)

Losses are input minus output of each process (refining: C (1 - y_ref), the
yield applying to the concentrate). IM, the unregistered mining, is the
balancing item of the whole chain; a negative value is a result, reported as
such. Every function broadcasts over extra dimensions (e.g. ``draw``).

Reference: Yao et al. (2021), doi:10.1016/j.resconrec.2021.105752, section 2.
"""

from __future__ import annotations

import xarray as xr

from ndsim import conventions as cv
from ndsim import sums

__all__ = ["manufacturing", "fabrication", "refining", "mining"]


def manufacturing(
    domestic_consumption: xr.DataArray,
    exports_final: xr.DataArray,
    membership: xr.DataArray,
    yield_manufacturing: xr.DataArray,
) -> xr.Dataset:
    """Manufacturing of final products from intermediates.

    Parameters
    ----------
    domestic_consumption : xr.DataArray
        DC (product, year) [t yr-1].
    exports_final : xr.DataArray
        E (product, year) [t yr-1], exported final products.
    membership : xr.DataArray
        1 where an end use is made from an intermediate, else 0 (product, intermediate) [1].
    yield_manufacturing : xr.DataArray
        y_man (intermediate, year) [1].

    Returns
    -------
    xr.Dataset
        ``input`` M_k (intermediate, year), ``loss`` (intermediate, year),
        ``to_use`` = sum_j (DC_j - E_j) and ``exports`` = sum_j E_j (year), all [t yr-1].
    """
    made = xr.dot(domestic_consumption, membership, dim=cv.PRODUCT).transpose(
        ..., cv.INTERMEDIATE, cv.YEAR
    )
    need = made / yield_manufacturing
    return xr.Dataset(
        {
            "input": need,
            "loss": need - made,
            "to_use": sums.nansum(domestic_consumption - exports_final, cv.PRODUCT),
            "exports": sums.nansum(exports_final, cv.PRODUCT),
        }
    )


def fabrication(
    manufacturing_input: xr.DataArray,
    exports_intermediate: xr.DataArray,
    imports_intermediate: xr.DataArray,
    yield_fabrication: xr.DataArray,
) -> xr.Dataset:
    """Fabrication of intermediates from primary products.

    Parameters
    ----------
    manufacturing_input : xr.DataArray
        M_k (intermediate, year) [t yr-1].
    exports_intermediate, imports_intermediate : xr.DataArray
        X_int, I_int (intermediate, year) [t yr-1]; imports enter fabrication.
    yield_fabrication : xr.DataArray
        y_fab (intermediate, year) [1].

    Returns
    -------
    xr.Dataset
        ``production`` O_k = M_k + X_k - I_k (domestic output), ``primary_input``
        P_k = O_k / y_fab and ``loss`` P_k - O_k (intermediate, year) [t yr-1].
    """
    output = manufacturing_input + exports_intermediate - imports_intermediate
    primary = output / yield_fabrication
    return xr.Dataset(
        {
            "production": output.assign_attrs(cv.attrs("intermediate_production")),
            "primary_input": primary,
            "loss": primary - output,
        }
    )


def refining(
    primary_to_fabrication: xr.DataArray,
    exports_primary: xr.DataArray,
    exports_unregistered: xr.DataArray,
    imports_primary: xr.DataArray,
    recycled: xr.DataArray,
    yield_refining: xr.DataArray,
) -> xr.Dataset:
    """Refining and separation: the concentrate it needs.

    Parameters
    ----------
    primary_to_fabrication : xr.DataArray
        sum_k P_k (year) [t yr-1].
    exports_primary, exports_unregistered, imports_primary : xr.DataArray
        Registered exports, unregistered exports (smuggling) and imports of
        primary products (year) [t yr-1].
    recycled : xr.DataArray
        R (year) [t yr-1], recycled element from waste management.
    yield_refining : xr.DataArray
        y_ref (year) [1], applied to the concentrate.

    Returns
    -------
    xr.Dataset
        ``concentrate_input`` C and ``loss`` C (1 - y_ref) (year) [t yr-1].
    """
    net = (
        primary_to_fabrication + exports_primary + exports_unregistered - imports_primary - recycled
    )
    concentrate = net / yield_refining
    return xr.Dataset({"concentrate_input": concentrate, "loss": concentrate - net})


def mining(
    concentrate_to_refining: xr.DataArray,
    exports_concentrate: xr.DataArray,
    imports_concentrate: xr.DataArray,
    official: xr.DataArray,
    yield_mining: xr.DataArray,
    basis: str = "ore",
) -> xr.Dataset:
    """Mining and beneficiation: ore required and unregistered mining.

    Parameters
    ----------
    concentrate_to_refining : xr.DataArray
        C (year) [t yr-1].
    exports_concentrate, imports_concentrate : xr.DataArray
        (year) [t yr-1]; imported concentrate passes through mining to refining.
    official : xr.DataArray
        Official production by ore source (source, year) [t yr-1].
    yield_mining : xr.DataArray
        y_min (year) [1], beneficiation recovery.
    basis : {"ore", "concentrate"}
        What the official figures count (SPEC §3): Nd in the ore mined, or Nd in
        the rare-earth oxide of the concentrate; a concentrate figure does not
        pass through the beneficiation yield again.

    Returns
    -------
    xr.Dataset
        ``concentrate_output`` C_dom = C - I + X, ``ore_required`` C_dom / y_min
        (Nd in the ore mined), ``total`` official + unregistered on the basis of
        the official figures, ``unregistered`` IM on that basis,
        ``official_ore`` and ``unregistered_ore`` (Nd in ore: the flows from the
        ground) and ``loss`` ore - C_dom (year) [t yr-1].

    Notes
    -----
    IM depends almost one for one on the yields of every process above
    (SPEC §3); it is negative where official production exceeds the requirement.
    """
    domestic = concentrate_to_refining - imports_concentrate + exports_concentrate
    ore = domestic / yield_mining
    official_total = official.sum(cv.SOURCE)
    if basis == "concentrate":
        unregistered = domestic - official_total
        total, official_ore = domestic, official_total / yield_mining
    else:
        unregistered = ore - official_total
        total, official_ore = ore, official_total
    return xr.Dataset(
        {
            "concentrate_output": domestic,
            "ore_required": ore,
            "total": total.assign_attrs(cv.attrs("mining_total")),
            "unregistered": unregistered.assign_attrs(cv.attrs("mining_unregistered")),
            "official_ore": official_ore,
            "unregistered_ore": ore - official_ore,
            "loss": ore - domestic,
        }
    )
