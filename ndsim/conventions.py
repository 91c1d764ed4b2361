"""One registry of names: dimensions, coordinates and output variables.

Readers, the pipeline, writers, figures and tests take names, units and
descriptions from here. The output variables below are the contract of
SPEC §6 that downstream analysis relies on; changing one of them bumps
:data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = "2.0"

# --- dimensions ---------------------------------------------------------
YEAR = "year"
PRODUCT = "product"
SOURCE = "source"
INTERMEDIATE = "intermediate"
STAGE = "stage"
PROCESS = "process"
ORIGIN = "origin"
DESTINATION = "destination"
SCENARIO = "scenario"
DRAW = "draw"
#: a measured flow of the reconciled upstream (``official:MON``, ``unregistered``, ...)
MEASUREMENT = "measurement"
STAT = "stat"
AGE = "age"
COHORT = "cohort"

#: the six processes of SPEC §1, in the order the pipeline runs them top-down
PROCESSES = ("mining", "refining", "fabrication", "manufacturing", "use", "waste")
#: trade levels
STAGES = ("concentrate", "primary", "intermediate", "final")
#: nodes of the `flow` variable besides the processes
EXTERNAL_NODES = (
    "ore",
    "unregistered_mining",
    "import",
    "export",
    "export_unregistered",
    "loss",
    "landfill",
)
NODES = PROCESSES + EXTERNAL_NODES
#: summary statistics of an ensemble, on the `stat` coordinate
STATS = ("deterministic", "mean", "sd", "q025", "q25", "q50", "q75", "q975")

#: quality flags of input data (SPEC §5) and their default coefficient of variation
QUALITY_CV = {"statistic": 0.02, "literature": 0.05, "estimate": 0.10}

#: lifetime timing conventions (when in the year products enter and retire)
TIMING_CONVENTIONS = ("end", "middle")
DEFAULT_TIMING = "end"

FLOW_UNITS = "t yr-1"
STOCK_UNITS = "t"
#: units of counted products (the product's ``count_unit``: units, or MW for wind turbines)
COUNT_FLOW_UNITS = "count yr-1"
COUNT_UNITS = "count"


@dataclass(frozen=True)
class Variable:
    """An output variable of the contract."""

    name: str
    dims: tuple[str, ...]
    units: str
    long_name: str
    description: str

    @property
    def attrs(self) -> dict[str, str]:
        return {"units": self.units, "long_name": self.long_name, "description": self.description}


_VARIABLES = [
    Variable(
        "domestic_consumption",
        (PRODUCT, YEAR),
        FLOW_UNITS,
        "domestic consumption",
        "Nd in final products made in the country, DC = P * MI * AR (eq. 1); eq. 10 or "
        "F_in / (1 - e + i) after the last accounted year",
    ),
    Variable(
        "total_demand",
        (YEAR,),
        FLOW_UNITS,
        "total demand (paper definition)",
        "domestic consumption summed over the end uses flagged `in_total_demand` "
        "(for the China Nd case: the 17 final products + NiMH + glass + ceramics)",
    ),
    Variable(
        "inflow",
        (PRODUCT, YEAR),
        FLOW_UNITS,
        "use-stage inflow",
        "F_in = DC - E + I (eq. 2); C of eq. 9 for stock-driven products in the forecast",
    ),
    Variable(
        "outflow",
        (PRODUCT, YEAR),
        FLOW_UNITS,
        "end-of-life outflow",
        "end-of-life flow from the lifetime (cohort) convolution",
    ),
    Variable(
        "stock", (PRODUCT, YEAR), STOCK_UNITS, "in-use stock", "in-use stock at the end of the year"
    ),
    Variable(
        "units_production",
        (PRODUCT, YEAR),
        COUNT_FLOW_UNITS,
        "production in units",
        "P (SPEC §2.1): products made in the country, in the product's count_unit per year "
        "(units; MW of capacity for wind turbines); NaN for end uses counted in t of the "
        "element; after the last accounted year from the forecast (SPEC §2.4)",
    ),
    Variable(
        "units_exports",
        (PRODUCT, YEAR),
        COUNT_FLOW_UNITS,
        "exports in units",
        "E_p (SPEC §2.1), in the product's count_unit per year",
    ),
    Variable(
        "units_imports",
        (PRODUCT, YEAR),
        COUNT_FLOW_UNITS,
        "imports in units",
        "I_p (SPEC §2.1), in the product's count_unit per year",
    ),
    Variable(
        "units_sales",
        (PRODUCT, YEAR),
        COUNT_FLOW_UNITS,
        "sales into use in units",
        "Q = P - E_p + I_p (SPEC §2.1), in the product's count_unit per year",
    ),
    Variable(
        "units_retired",
        (PRODUCT, YEAR),
        COUNT_FLOW_UNITS,
        "units retired",
        "R = sum over cohorts of Q(c) f(t - c) (SPEC §2.1), including cohorts sold before the "
        "first accounted year when the history is used",
    ),
    Variable(
        "units_in_use",
        (PRODUCT, YEAR),
        COUNT_UNITS,
        "units in use",
        "N = sum over cohorts of Q(c) G(t - c) (SPEC §2.1), the fleet at the end of the year",
    ),
    Variable(
        "nd_intensity",
        (PRODUCT, YEAR),
        "t count-1",
        "Nd intensity of the cohort",
        "m = k * MI * AR of the year's cohort (SPEC §2.1; k: intensity_calibration)",
    ),
    Variable(
        "ownership_statistic",
        (PRODUCT, YEAR),
        "1",
        "ownership statistic",
        "units in use per household or per person (coordinate ownership_basis) from surveys, "
        "registrations or installed-base statistics, divided by (1 - non-household share) "
        "where one is sourced; where one statistic covers several products (coordinate "
        "ownership_group) each member carries the group's value, to be compared with the "
        "sum of the members' ownership_model; NaN where none",
    ),
    Variable(
        "ownership_model",
        (PRODUCT, YEAR),
        "1",
        "accounted ownership",
        "units_in_use / H, H the households or the population (ownership_basis); NaN for "
        "products without an ownership statistic",
    ),
    Variable(
        "ownership_fitted",
        (PRODUCT, YEAR),
        "1",
        "fitted ownership",
        "V of eq. 7, the ownership curve of smoothed GDP per capita fitted to the ownership "
        "statistic of the product's group (each member carries its group's curve; "
        "ownership_basis); NaN for products without a curve",
    ),
    Variable(
        "plausibility_flag",
        (PRODUCT, YEAR),
        "1",
        "plausibility flag",
        "1 where the units sold into use per year or the units in use per person exceed the "
        "sourced bound of plausibility.csv (SPEC §2.4), 0 where they do not, NaN where the "
        "product has no bound",
    ),
    Variable(
        "mining",
        (SOURCE, YEAR),
        FLOW_UNITS,
        "official mining",
        "official mine production by ore source, in t Nd",
    ),
    Variable(
        "mining_unregistered",
        (YEAR,),
        FLOW_UNITS,
        "unregistered mining",
        "IM on the basis of official output (SPEC §3): the concentrate required beyond official "
        "output (upstream = residual; depends almost one for one on the process yields) or its "
        "reconciled value (upstream = reconciled); negative values are reported, not clipped",
    ),
    Variable(
        "mining_unregistered_sd",
        (YEAR,),
        FLOW_UNITS,
        "standard deviation of unregistered mining",
        "posterior standard deviation of the reconciled unregistered mining (SPEC §3)",
    ),
    Variable(
        "flow_prior",
        (ORIGIN, DESTINATION, YEAR),
        FLOW_UNITS,
        "flow between processes before reconciliation",
        "the flows of the top-down chain (upstream = residual) that the reconciliation adjusts",
    ),
    Variable(
        "flow_sd",
        (ORIGIN, DESTINATION, YEAR),
        FLOW_UNITS,
        "standard deviation of the reconciled flow",
        "posterior standard deviation of each reconciled flow (0 for flows held fixed: the "
        "final-product layer and recycling); NaN after the accounted years",
    ),
    Variable(
        "reconciliation_adjustment",
        (MEASUREMENT, YEAR),
        "1",
        "reconciliation adjustment in standard deviations",
        "(reconciled - measured) / sd of each measurement; NaN where the flow is not measured",
    ),
    Variable(
        "reconciliation_chi2",
        (YEAR,),
        "1",
        "chi-square of the reconciliation",
        "sum of squared adjustments weighted by the inverse covariance of the balance "
        "residuals; chi-square distributed with reconciliation_dof degrees of freedom",
    ),
    Variable(
        "reconciliation_measurements",
        (YEAR,),
        "1",
        "number of measured flows of the reconciliation",
        "flows of mining, refining and fabrication measured with a standard deviation > 0 "
        "(SPEC §3); 0 after the accounted years",
    ),
    Variable(
        "reconciliation_unknowns",
        (YEAR,),
        "1",
        "number of unknown flows of the reconciliation",
        "flows of mining, refining and fabrication that no measurement gives (SPEC §3); 0 after "
        "the accounted years",
    ),
    Variable(
        "reconciliation_dof",
        (YEAR,),
        "1",
        "degrees of freedom of the reconciliation",
        "number of independent redundant balances; 0: no test, the reconciled flows are the "
        "residual ones; -1 after the accounted years",
    ),
    Variable(
        "intermediate_production",
        (INTERMEDIATE, YEAR),
        FLOW_UNITS,
        "intermediate production",
        "domestic output of fabrication by intermediate product",
    ),
    Variable(
        "imports",
        (STAGE, YEAR),
        FLOW_UNITS,
        "registered imports",
        "registered imports by trade level",
    ),
    Variable(
        "exports",
        (STAGE, YEAR),
        FLOW_UNITS,
        "registered exports",
        "registered exports by trade level",
    ),
    Variable(
        "exports_unregistered",
        (YEAR,),
        FLOW_UNITS,
        "unregistered exports",
        "smuggled primary products: mirror statistics minus reported exports",
    ),
    Variable(
        "flow",
        (ORIGIN, DESTINATION, YEAR),
        FLOW_UNITS,
        "flow between processes",
        "every inter-process flow, including losses, recycling and landfill",
    ),
    Variable(
        "balance_residual",
        (PROCESS, YEAR),
        FLOW_UNITS,
        "mass-balance residual",
        "inputs - outputs - stock change of each process (worst over draws in ensembles)",
    ),
    Variable(
        "primary_supply",
        (SCENARIO, YEAR),
        FLOW_UNITS,
        "primary supply",
        "Q(t) = Q(base) * (1 + g)^(t - base) (SPEC §4)",
    ),
    Variable(
        "secondary_supply",
        (SCENARIO, YEAR),
        FLOW_UNITS,
        "secondary supply",
        "R(t) = r(t) * eta * F_out,total(t) (SPEC §4)",
    ),
    Variable(
        "supply_requirement",
        (SCENARIO, YEAR),
        FLOW_UNITS,
        "supply requirement",
        "D(t) = use-stage inflow + net exports + process losses (SPEC §4)",
    ),
    Variable(
        "supply_gap",
        (SCENARIO, YEAR),
        FLOW_UNITS,
        "supply gap",
        "D - Q - R; negative means oversupply",
    ),
    Variable(
        "required_recycling_rate",
        (SCENARIO, YEAR),
        "1",
        "required recycling rate",
        "(D - Q) / (eta * F_out,total): share of end-of-life flow to recycle to close the gap; "
        "above 1 is not reachable",
    ),
    Variable(
        "required_recycling_share_of_supply",
        (SCENARIO, YEAR),
        "1",
        "required recycled share of supply",
        "(D - Q) / D: share of total supply that recycling must provide",
    ),
]

VARIABLES: dict[str, Variable] = {v.name: v for v in _VARIABLES}
#: written only with a reconciled upstream (SPEC §3, ``[run] upstream = "reconciled"``)
RECONCILED_VARIABLES = (
    "mining_unregistered_sd",
    "flow_prior",
    "flow_sd",
    "reconciliation_adjustment",
    "reconciliation_measurements",
    "reconciliation_unknowns",
    "reconciliation_chi2",
    "reconciliation_dof",
)
CONTRACT_VARIABLES = tuple(n for n in VARIABLES if n not in RECONCILED_VARIABLES)


def attrs(name: str) -> dict[str, str]:
    """Return the `units`, `long_name` and `description` attributes of a registered variable."""
    return VARIABLES[name].attrs


def register(variable: Variable) -> Variable:
    """Add a non-contract output variable (e.g. Gompertz fits) to the registry."""
    VARIABLES.setdefault(variable.name, variable)
    return VARIABLES[variable.name]
