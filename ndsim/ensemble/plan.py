"""What an ensemble computes: its options, variables, sensitivity targets and chunk context.

Nothing here runs the model on draws or knows where chunks run: the
:class:`Plan` is built once from the deterministic run and sent to every
process that runs chunks (:mod:`ndsim.ensemble.draws` reads it there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ndsim import conventions as cv
from ndsim import forecast, sampling, summarize
from ndsim.errors import UsageError

if TYPE_CHECKING:
    from ndsim.fleet import FleetFit
    from ndsim.scenario import Scenario

__all__ = [
    "DEFAULT_CHUNK",
    "DERIVED",
    "INPUT_FACTOR",
    "INPUT_FACTOR_ATTRS",
    "Plan",
    "check_options",
    "check_sobol",
    "deterministic_fits",
    "make_plan",
]

#: draws per chunk when the user does not say: a chunk's model run peaks at about 0.35
#: MiB per draw; two workers with 1000-draw chunks peaked at 1.33-1.46 GiB in all
#: (summed PSS, parent included), while a chunk's fixed cost (about 0.03 s of xarray
#: bookkeeping) stays near a tenth of its time
DEFAULT_CHUNK = 1000
#: the draws group's variable of sampled input factors (draw, input), float64
INPUT_FACTOR = "input_factor"
INPUT_FACTOR_ATTRS = {
    "units": "1",
    "long_name": "sampled input factor",
    "description": "per draw, the factor drawn for each uncertain input series (its mean "
    "over years where it is drawn per year): the multiplier of the data's value (1 = "
    "unchanged), and for gompertz_z* the standard-normal deviate of the fitted "
    "ownership-curve parameters; the columns of the sensitivity regression (input = the "
    "input coordinate of the summary's sensitivity variables)",
}
#: the variables summed over products per draw (uncertainty table, sensitivity targets)
DERIVED = {"stock_total": "stock", "outflow_total": "outflow"}

for _variable in (
    cv.Variable(
        "stock_total",
        (cv.YEAR,),
        cv.STOCK_UNITS,
        "in-use stock, all products",
        "in-use stock summed over products (per draw, before summarising)",
    ),
    cv.Variable(
        "outflow_total",
        (cv.YEAR,),
        cv.FLOW_UNITS,
        "end-of-life flow, all products",
        "end-of-life outflow summed over products (per draw, before summarising)",
    ),
    cv.Variable(
        "sensitivity",
        ("input", "target"),
        "1",
        "contribution to variance (squared standardised regression coefficient)",
        "SRC^2 of a linear regression of the target on the sampled input factors over the "
        "ensemble's draws: the share of the target's variance explained by the input",
    ),
    cv.Variable(
        "sensitivity_src",
        ("input", "target"),
        "1",
        "standardised regression coefficient",
        "beta_i sd(x_i) / sd(y): change of the target, in its sd, per sd of input factor i",
    ),
    cv.Variable(
        "sobol_first",
        ("input", "target"),
        "1",
        "first-order Sobol index",
        "share of the target's variance due to the input alone (Saltelli design)",
    ),
    cv.Variable(
        "sobol_total",
        ("input", "target"),
        "1",
        "total Sobol index",
        "share of the target's variance due to the input with all its interactions "
        "(Saltelli design)",
    ),
):
    cv.register(_variable)


@dataclass
class Plan:
    """Everything a chunk task needs (sent once to each worker).

    Attributes
    ----------
    inputs : xarray.Dataset
        The canonical inputs, as loaded (no draws, no fits).
    scenario : ndsim.scenario.Scenario
        The checked scenario.
    seed : int
        The ensemble's seed [-].
    layout : ndsim.summarize.Layout
        Which values of a run are summarised, and where they sit in a flat row.
    targets : list of (str, int)
        The sensitivity targets: label and flat position in the layout.
    regressor_labels : list of str
        The sampled input factors, in the order of the sensitivity regression.
    exact : bool
        Exact percentiles (every value kept) rather than histograms.
    full : list of str
        The variables written per draw (``--full``); empty otherwise.
    model : callable
        ``model(inputs, scenario) -> Dataset``: :func:`ndsim.pipeline.run` or a test's.
    factor_plan : list
        :func:`ndsim.sampling.factor_plan` of the inputs (computed once).
    fits : dict of str to ndsim.fleet.FleetFit, or None
        The deterministic run's ownership fits (:func:`ndsim.forecast.fits_from_dataset`),
        used by every draw, so that a draw does not depend on the other draws of its
        chunk; None without a fleet forecast.
    """

    inputs: xr.Dataset
    scenario: Scenario
    seed: int
    layout: summarize.Layout
    targets: list[tuple[str, int]]
    regressor_labels: list[str]
    exact: bool
    full: list[str]
    model: Callable
    factor_plan: list
    fits: dict[str, FleetFit] | None = None


def _whole(x: object) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def check_options(draws: object, chunk_size: object, seed: object, workers: object) -> None:
    """Refuse impossible options before anything is loaded (one-line usage errors)."""
    if not _whole(draws) or draws <= 0:  # type: ignore[operator]
        raise UsageError(f"--draws {draws}: must be a positive whole number")
    if chunk_size is not None and (not _whole(chunk_size) or chunk_size <= 0):  # type: ignore[operator]
        raise UsageError(f"--chunk-size {chunk_size}: must be a positive whole number")
    if not _whole(seed) or not 0 <= seed < 2**64:  # type: ignore[operator]
        raise UsageError(f"--seed {seed}: must be a whole number in [0, 2**64)")
    if workers is not None and (not isinstance(workers, int | np.integer) or workers <= 0):
        raise UsageError(f"--workers {workers}: must be a positive whole number")


def check_sobol(sobol: object) -> None:
    """Refuse a Saltelli design of fewer than 2 base samples."""
    if sobol is not None and (not _whole(sobol) or sobol < 2):  # type: ignore[operator]
        raise UsageError(f"--sobol {sobol}: must be a whole number of base samples, at least 2")


def deterministic_fits(det: xr.Dataset) -> dict[str, FleetFit] | None:
    """The ownership fits of the deterministic run (SPEC §5), or None if it fitted none."""
    return forecast.fits_from_dataset(det) or None


def summary_variables(det: xr.Dataset) -> list[str]:
    """The variables an ensemble summarises: the contract's, the reconciled ones, the totals."""
    names = [v for v in cv.CONTRACT_VARIABLES if v in det.data_vars and v != "balance_residual"]
    names += [v for v in cv.RECONCILED_VARIABLES if v in det.data_vars]
    return names + [v for v in DERIVED if v in det.data_vars]


def flow_edge_columns(flow: xr.DataArray) -> np.ndarray:
    """Flat positions of a flow matrix (without draw) on the pipeline's edges.

    The rest is 0 (or NaN in years the matrix does not cover, as ``flow_sd``
    after the accounted years) in every draw by construction. The summaries
    then carry the 22 edges, not all 169 node pairs; the rest is put back in
    the output from the deterministic run (:class:`ndsim.summarize.Layout`).
    ``flow``, ``flow_prior`` and ``flow_sd`` share the edges.
    """
    from ndsim.flows import FLOW_EDGES

    dims = [str(d) for d in flow.dims if d != cv.DRAW]
    mask = np.zeros([flow.sizes[d] for d in dims], dtype=bool)
    origins = [str(x) for x in flow[cv.ORIGIN].values]
    destinations = [str(x) for x in flow[cv.DESTINATION].values]
    for origin, destination in FLOW_EDGES:
        where = {cv.ORIGIN: origins.index(origin), cv.DESTINATION: destinations.index(destination)}
        mask[tuple(where.get(d, slice(None)) for d in dims)] = True
    values = flow.transpose(..., *dims).values.reshape(-1, mask.size)
    off = values[:, ~mask.ravel()]
    if np.any((off != 0.0) & ~np.isnan(off)):
        raise RuntimeError(f"{flow.name} is nonzero outside ndsim.flows.FLOW_EDGES")
    return np.flatnonzero(mask.ravel())


def sensitivity_targets(det: xr.Dataset, layout: summarize.Layout) -> list[tuple[str, int]]:
    """Total demand in the last year, stock and end-of-life in the last accounted year."""
    last = int(det.attrs.get("last_accounted_year", int(det[cv.YEAR].max())))
    end = int(det[cv.YEAR].max())
    wanted = [("total_demand", end), ("stock_total", last), ("outflow_total", last)]
    out = []
    for name, year in wanted:
        if name in layout.names:
            i = layout.names.index(name)
            if layout.keep is not None and layout.keep[i] is not None:
                raise RuntimeError(f"sensitivity target {name} has left-out columns")
            pos = list(det[cv.YEAR].values).index(year)
            out.append((f"{name}[{year}]", layout.offsets[i] + pos))
    return out


def make_plan(
    inputs: xr.Dataset,
    scenario: Scenario,
    det: xr.Dataset,
    *,
    seed: int,
    draws: int,
    exact_budget: int,
    full: bool,
    model: Callable,
    shipped: bool,
    variables: Sequence[str] | None = None,
) -> Plan:
    """The plan of an ensemble, from the deterministic run ``det`` (with its totals).

    ``model`` runs the chunks; ``shipped`` says it is :func:`ndsim.pipeline.run`
    without diagnostics, whose flows lie on the known edges only; ``variables``
    restricts the summarised variables (default :func:`summary_variables`).
    """
    names = list(variables) if variables is not None else summary_variables(det)
    matrices = [n for n in ("flow", "flow_prior", "flow_sd") if n in names] if shipped else []
    keep: dict[str, np.ndarray] | None = {n: flow_edge_columns(det[n]) for n in matrices} or None
    layout = summarize.Layout.of(det, names, keep)
    factor_plan = sampling.factor_plan(inputs, scenario)
    labels = sampling.regressors(sampling.factors_from_plan(factor_plan, np.arange(1), seed))
    return Plan(
        inputs=inputs,
        scenario=scenario,
        seed=int(seed),
        layout=layout,
        targets=sensitivity_targets(det, layout),
        regressor_labels=[str(x) for x in labels.input.values],
        exact=draws * layout.size * 8 <= exact_budget,
        full=[v for v in names if v not in DERIVED] if full else [],
        model=model,
        factor_plan=factor_plan,
        fits=deterministic_fits(det),
    )
