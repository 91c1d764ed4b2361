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
such.

Every function works on plain arrays, with the dimensions it names last
(``(..., product, year)``) and any leading ones (``draw``) broadcast by
numpy, as the model runs them in the deterministic run and in an ensemble's
chunks alike.

Reference: Yao et al. (2021), doi:10.1016/j.resconrec.2021.105752, section 2.
"""

from __future__ import annotations

import numpy as np

from ndsim import sums

__all__ = ["manufacturing_values", "fabrication_values", "refining_values", "mining_values"]


def manufacturing_values(
    domestic_consumption: np.ndarray,
    membership: np.ndarray,
    yield_manufacturing: np.ndarray,
) -> dict[str, np.ndarray]:
    """Manufacturing of final products from intermediates.

    Parameters
    ----------
    domestic_consumption : numpy.ndarray
        DC (..., product, year) [t yr-1].
    membership : numpy.ndarray
        (intermediate, product) 1 where an end use is made from an intermediate,
        else 0 [1] (:func:`ndsim.pipeline.membership`).
    yield_manufacturing : numpy.ndarray
        y_man (..., intermediate, year) [1].

    Returns
    -------
    dict of str to numpy.ndarray
        ``input`` M_k and ``loss`` (..., intermediate, year) [t yr-1]. (What goes to
        use and to export are the final products' flows, summed by the caller.)
    """
    made = np.einsum("...py,kp->...yk", domestic_consumption, membership)
    made = np.swapaxes(made, -1, -2)
    need = made / yield_manufacturing
    return {"input": need, "loss": need - made}


def fabrication_values(
    manufacturing_input: np.ndarray,
    exports_intermediate: np.ndarray,
    imports_intermediate: np.ndarray,
    yield_fabrication: np.ndarray,
) -> dict[str, np.ndarray]:
    """Fabrication of intermediates from primary products.

    Parameters
    ----------
    manufacturing_input : numpy.ndarray
        M_k (..., intermediate, year) [t yr-1].
    exports_intermediate, imports_intermediate : numpy.ndarray
        X_int, I_int (..., intermediate, year) [t yr-1]; imports enter fabrication.
    yield_fabrication : numpy.ndarray
        y_fab (..., intermediate, year) [1].

    Returns
    -------
    dict of str to numpy.ndarray
        ``production`` O_k = M_k + X_k - I_k (domestic output), ``primary_input``
        P_k = O_k / y_fab and ``loss`` P_k - O_k (..., intermediate, year) [t yr-1].
    """
    output = manufacturing_input + exports_intermediate - imports_intermediate
    primary = output / yield_fabrication
    return {"production": output, "primary_input": primary, "loss": primary - output}


def refining_values(
    primary_to_fabrication: np.ndarray,
    exports_primary: np.ndarray,
    exports_unregistered: np.ndarray,
    imports_primary: np.ndarray,
    recycled: np.ndarray,
    yield_refining: np.ndarray,
) -> dict[str, np.ndarray]:
    """Refining and separation: the concentrate it needs.

    Parameters
    ----------
    primary_to_fabrication : numpy.ndarray
        sum_k P_k (..., year) [t yr-1].
    exports_primary, exports_unregistered, imports_primary : numpy.ndarray
        Registered exports, unregistered exports (smuggling) and imports of
        primary products (..., year) [t yr-1].
    recycled : numpy.ndarray
        R (..., year) [t yr-1], recycled element from waste management.
    yield_refining : numpy.ndarray
        y_ref (..., year) [1], applied to the concentrate.

    Returns
    -------
    dict of str to numpy.ndarray
        ``concentrate_input`` C and ``loss`` C (1 - y_ref) (..., year) [t yr-1].
    """
    net = (
        primary_to_fabrication + exports_primary + exports_unregistered - imports_primary - recycled
    )
    concentrate = net / yield_refining
    return {"concentrate_input": concentrate, "loss": concentrate - net}


def mining_values(
    concentrate_to_refining: np.ndarray,
    exports_concentrate: np.ndarray,
    imports_concentrate: np.ndarray,
    official: np.ndarray,
    yield_mining: np.ndarray,
    basis: str = "ore",
) -> dict[str, np.ndarray]:
    """Mining and beneficiation: ore required and unregistered mining.

    Parameters
    ----------
    concentrate_to_refining : numpy.ndarray
        C (..., year) [t yr-1].
    exports_concentrate, imports_concentrate : numpy.ndarray
        (..., year) [t yr-1]; imported concentrate passes through mining to refining.
    official : numpy.ndarray
        Official production by ore source (..., source, year) [t yr-1].
    yield_mining : numpy.ndarray
        y_min (..., year) [1], beneficiation recovery.
    basis : {"ore", "concentrate"}
        What the official figures count (SPEC §3): Nd in the ore mined, or Nd in
        the rare-earth oxide of the concentrate; a concentrate figure does not
        pass through the beneficiation yield again.

    Returns
    -------
    dict of str to numpy.ndarray
        ``concentrate_output`` C_dom = C - I + X, ``ore_required`` C_dom / y_min
        (Nd in the ore mined), ``total`` official + unregistered on the basis of
        the official figures, ``unregistered`` IM on that basis,
        ``official_ore`` and ``unregistered_ore`` (Nd in ore: the flows from the
        ground) and ``loss`` ore - C_dom (..., year) [t yr-1].

    Notes
    -----
    IM depends almost one for one on the yields of every process above
    (SPEC §3); it is negative where official production exceeds the requirement.
    """
    domestic = concentrate_to_refining - imports_concentrate + exports_concentrate
    ore = domestic / yield_mining
    official_total = sums.nansum_values(official, -2)
    if basis == "concentrate":
        unregistered = domestic - official_total
        total, official_ore = domestic, official_total / yield_mining
    else:
        unregistered = ore - official_total
        total, official_ore = ore, official_total
    return {
        "concentrate_output": domestic,
        "ore_required": ore,
        "total": total,
        "unregistered": unregistered,
        "official_ore": official_ore,
        "unregistered_ore": ore - official_ore,
        "loss": ore - domestic,
    }
