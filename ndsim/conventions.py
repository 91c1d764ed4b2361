"""One registry of names: dimensions, coordinates, output and input variables.

Readers, the pipeline, writers, figures and tests take names, units and
descriptions from here. Every variable is declared once, in the tables of
this module, and the tables are read once, at import:

- :data:`VARIABLES`, the output variables. Those of :data:`CONTRACT_VARIABLES`
  (and :data:`RECONCILED_VARIABLES`) are the contract of SPEC §6 that
  downstream analysis relies on; changing one of them bumps
  :data:`SCHEMA_VERSION`. The others (final-product trade, Gompertz fits,
  forecast diagnostics, supply flags, ...) are declared in the same table.
- :data:`INPUT_VARIABLES`, the variables of the canonical input Dataset
  (``docs/data_format.md``). An input that reappears in the output (e.g.
  ``recovery_efficiency``, a scalar input and a yearly path in the output)
  has one declaration in each table.

A second declaration of a name raises :class:`DuplicateVariableError`
(:func:`declare`): a module cannot redefine the units or meaning of a
variable by being imported first.
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
#: lifetime variants of the input data (``paper``, ``literature``, ...)
VARIANT = "variant"
#: the parameters of a fitted ownership curve (``gompertz_theta``, ``gompertz_cov``)
GOMPERTZ_PARAMETER = "gompertz_parameter"

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


class DuplicateVariableError(ValueError):
    """A variable name declared a second time."""


@dataclass(frozen=True)
class Variable:
    """A declared variable: its name, dimensions, units and meaning.

    Attributes
    ----------
    name : str
    dims : tuple of str
        Dimension names, in the order of the written variable (a leading ``draw``
        or ``stat`` may come before them).
    units : str
        CF/UDUNITS unit string (``count`` for the product's ``count_unit``).
    long_name, description : str
        The variable's CF ``long_name`` and a description with its equation.
    """

    name: str
    dims: tuple[str, ...]
    units: str
    long_name: str
    description: str

    @property
    def attrs(self) -> dict[str, str]:
        """The ``units``, ``long_name`` and ``description`` attributes."""
        return {"units": self.units, "long_name": self.long_name, "description": self.description}


#: k of the cohort intensity: an input of the data set that the output carries unchanged
_INTENSITY_CALIBRATION = Variable(
    "intensity_calibration",
    (PRODUCT,),
    "1",
    "intensity calibration factor",
    "k of the cohort intensity m = k * MI * AR (SPEC §2.1): the factor that brings the "
    "last accounted year's domestic consumption to a reference level; the unit flows are "
    "never scaled. 1 where the data set gives none",
)

#: the output variables of the contract (SPEC §6)
_CONTRACT = [
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
#: the other output variables
_EXTRA = [
    # --- final-product trade, total mining, the waste process ------------------------------
    Variable(
        "exports_final",
        (PRODUCT, YEAR),
        FLOW_UNITS,
        "exports of final products",
        "E_j, element contained in exported final products (eq. 3); after the "
        "last accounted year held at its share of DC",
    ),
    Variable(
        "imports_final",
        (PRODUCT, YEAR),
        FLOW_UNITS,
        "imports of final products",
        "I_j, element contained in imported final products (eq. 4); after the "
        "last accounted year held at its share of DC",
    ),
    Variable(
        "mining_total",
        (YEAR,),
        FLOW_UNITS,
        "total mining",
        "official production + unregistered mining (the paper's total mining), on the basis "
        "of the official figures (attribute basis)",
    ),
    Variable(
        "recycling_rate",
        (YEAR,),
        "1",
        "end-of-life recycling rate",
        "r: share of end-of-life flow collected for recycling; data over the "
        "accounted years, the scenario's path after",
    ),
    Variable(
        "recovery_efficiency",
        (YEAR,),
        "1",
        "recovery efficiency",
        "eta: share of the collected element recovered and returned to refining",
    ),
    # --- inputs carried into the output --------------------------------------------------
    _INTENSITY_CALIBRATION,
    Variable("population", (YEAR,), "person", "population", "resident population"),
    Variable("households", (YEAR,), "household", "households", "number of households"),
    # --- the dynamic stock model (ndsim.dsm) ------------------------------------------------
    Variable(
        "unmet_stock_decline",
        (PRODUCT, YEAR),
        STOCK_UNITS,
        "unmet stock decline",
        "stock-driven model, policy clip: in-use stock above the target because the target fell "
        "faster than products retire (inflow set to 0), at the end of the year",
    ),
    Variable(
        "early_retirement",
        (PRODUCT, YEAR),
        FLOW_UNITS,
        "early retirement",
        "stock-driven model, policy retire_early: outflow beyond the lifetime model's, taken "
        "from all cohorts in use in proportion to their stock, so the stock meets the target",
    ),
    Variable(
        "stock_by_cohort",
        (PRODUCT, YEAR, COHORT),
        STOCK_UNITS,
        "in-use stock by cohort",
        "in-use stock at the end of the year by inflow year (cohort); cohorts before the first "
        "year hold the initial stock",
    ),
    # --- the forecast (ndsim.forecast): unmet decline, ownership fits, diagnostics ---------
    Variable(
        "unmet_fleet_decline",
        (PRODUCT, YEAR),
        COUNT_UNITS,
        "unmet fleet decline",
        "fleet-driven forecast: units in use above the target fleet that retirements could "
        "not remove under the decline policy `clip` (sales set to 0 instead of negative)",
    ),
    Variable(
        "gompertz_saturation",
        (PRODUCT,),
        "1",
        "ownership curve saturation",
        "VS of eq. 7 [units per household or person, ownership_basis], fitted to the "
        "ownership statistic of the product's group (each member carries its group's curve)",
    ),
    Variable("gompertz_alpha", (PRODUCT,), "1", "ownership curve alpha", "alpha of eq. 7 (< 0)"),
    Variable(
        "gompertz_beta",
        (PRODUCT,),
        "person yr USD-1",
        "ownership curve beta",
        "beta of eq. 7 (< 0), per unit of the data set's GDP per capita",
    ),
    Variable(
        "gompertz_theta",
        (PRODUCT, GOMPERTZ_PARAMETER),
        "1",
        "ownership curve parameters as fitted",
        "(ln VS, ln(-beta scale), ln(-alpha)), without ln VS where the saturation was "
        "given; NaN where not fitted",
    ),
    Variable(
        "gompertz_cov",
        (PRODUCT, GOMPERTZ_PARAMETER, f"{GOMPERTZ_PARAMETER}_2"),
        "1",
        "covariance of the ownership curve parameters",
        "covariance of gompertz_theta from the Jacobian at the optimum and the residual "
        "variance; Monte Carlo draws take theta + L z (L its Cholesky factor)",
    ),
    Variable(
        "gompertz_scale",
        (PRODUCT,),
        "person yr USD-1",
        "GDP scale of the parameters",
        "beta = -exp(theta[k]) / scale, k the position of ln(-beta scale) in gompertz_theta",
    ),
    Variable(
        "gompertz_method",
        (PRODUCT,),
        "1",
        "ownership curve fit",
        "the statistic and years the curve was fitted to, and the parameters fitted",
    ),
    Variable(
        "gompertz_basis",
        (PRODUCT,),
        "1",
        "ownership curve basis",
        "household or person: what the curve counts units per",
    ),
    Variable(
        "gompertz_rmse_log",
        (PRODUCT,),
        "1",
        "ownership curve fit RMSE (log)",
        "root mean square of ln(fitted) - ln(statistic) over the fitted points",
    ),
    Variable(
        "gdp_per_capita_trend",
        (YEAR,),
        "",
        "GDP per capita, smoothed",
        "Hodrick-Prescott trend (lambda 100) of ln GDP per capita: the driver of the "
        "ownership curves",
    ),
    Variable(
        "sales_ratio_first_forecast_year",
        (PRODUCT,),
        "1",
        "unit sales, first forecast year over last accounted",
        "units_sales(T + 1) / units_sales(T)",
    ),
    Variable(
        "inflow_ratio_first_forecast_year",
        (PRODUCT,),
        "1",
        "use-stage inflow, first forecast year over last accounted",
        "inflow(T + 1) / inflow(T) in t Nd: with adoption 'full' the intensity step shows here",
    ),
    # --- the supply scenarios (ndsim.processes.supply) --------------------------------------
    Variable(
        "required_recycling_rate_above_1",
        (SCENARIO, YEAR),
        "1",
        "required recycling rate above 1",
        "true where the recycling rate that closes the gap exceeds the whole end-of-life flow "
        "(not reachable by recycling alone)",
    ),
    Variable(
        "supply_growth_rate",
        (SCENARIO,),
        "yr-1",
        "primary supply growth rate",
        "g of each supply scenario: Q(t) = Q(T) (1 + g)^(t - T)",
    ),
    Variable(
        "supply_upstream_share",
        (),
        "1",
        "upstream net exports and losses per unit of domestic consumption",
        "(net exports of concentrate, primary and intermediate products + process losses) / "
        "domestic consumption, in the last accounted year; held in the requirement",
    ),
]

_VARIABLES = _CONTRACT + _EXTRA

#: the variables of the canonical input Dataset (``ndsim.io.readers``); inputs that are also
#: output variables of the same meaning and shape (``units_exports``, ...) are declared in
#: the output table only
_INPUT_VARIABLES = [
    Variable(
        "production",
        (PRODUCT, YEAR),
        COUNT_FLOW_UNITS,
        "domestic production",
        "P of eq. 1, in the product's count_unit per year (units, MW newly installed, t of "
        "the element for non-magnet end uses)",
    ),
    Variable(
        "nd_content",
        (PRODUCT,),
        "t count-1",
        "element content per counted item",
        "MI of eq. 1, tonnes of the element per unit of the product's count_unit",
    ),
    Variable(
        "adoption_rate",
        (PRODUCT, YEAR),
        "1",
        "adoption rate",
        "AR of eq. 1: share of the products made with the technology that contains the element",
    ),
    _INTENSITY_CALIBRATION,
    Variable(
        "exports_intermediate",
        (INTERMEDIATE, YEAR),
        "t yr-1",
        "exports of intermediates",
        "element contained in exported intermediate products",
    ),
    Variable(
        "imports_intermediate",
        (INTERMEDIATE, YEAR),
        "t yr-1",
        "imports of intermediates",
        "element contained in imported intermediate products",
    ),
    Variable(
        "exports_primary",
        (YEAR,),
        "t yr-1",
        "registered exports of primary products",
        "element in registered exports of primary products (oxides, metal, salts)",
    ),
    Variable(
        "imports_primary",
        (YEAR,),
        "t yr-1",
        "imports of primary products",
        "element in imports of primary products",
    ),
    Variable(
        "exports_primary_unregistered",
        (YEAR,),
        "t yr-1",
        "unregistered exports of primary products",
        "mirror statistics minus registered exports (an input where reconstructed)",
    ),
    Variable(
        "exports_concentrate",
        (YEAR,),
        "t yr-1",
        "exports of concentrates",
        "element in exported ore concentrates",
    ),
    Variable(
        "imports_concentrate",
        (YEAR,),
        "t yr-1",
        "imports of concentrates",
        "element in imported ore concentrates",
    ),
    Variable(
        "mining",
        (SOURCE, YEAR),
        "t yr-1",
        "official mining",
        "official mine production by ore source, in t of the element",
    ),
    Variable(
        "unregistered_mining_prior",
        (YEAR,),
        "t yr-1",
        "prior of unregistered mining",
        "independent estimate of unregistered mining on the basis of official output, with its "
        "sd in sd_unregistered_mining_prior (a measurement of the reconciliation); NaN where none",
    ),
    Variable(
        "intermediate_production_statistic",
        (INTERMEDIATE, YEAR),
        "t yr-1",
        "intermediate production statistic",
        "public production statistic of an intermediate in t of the element, with its sd in "
        "sd_intermediate_production_statistic (a measurement of the reconciliation); NaN where none",
    ),
    Variable(
        "yield_mining",
        (YEAR,),
        "1",
        "yield of mining and beneficiation",
        "share of the element in mined ore that reaches the concentrate",
    ),
    Variable(
        "yield_refining",
        (YEAR,),
        "1",
        "yield of refining and separation",
        "share of the element in concentrates that reaches primary products",
    ),
    Variable(
        "yield_fabrication",
        (INTERMEDIATE, YEAR),
        "1",
        "yield of fabrication",
        "share of the element in primary products that reaches each intermediate",
    ),
    Variable(
        "yield_manufacturing",
        (INTERMEDIATE, YEAR),
        "1",
        "yield of manufacturing",
        "share of the element in each intermediate that reaches final products",
    ),
    Variable(
        "recycling_rate",
        (YEAR,),
        "1",
        "end-of-life recycling rate",
        "r(t): share of the end-of-life flow collected for recycling",
    ),
    Variable(
        "recovery_efficiency",
        (),
        "1",
        "recovery efficiency",
        "eta: share of the collected element recovered by recycling",
    ),
    Variable("lifetime_mean", (VARIANT, PRODUCT), "yr", "mean lifetime", "lifetime parameter"),
    Variable(
        "lifetime_sd",
        (VARIANT, PRODUCT),
        "yr",
        "standard deviation of the lifetime",
        "lifetime parameter",
    ),
    Variable(
        "lifetime_shape",
        (VARIANT, PRODUCT),
        "1",
        "shape of the lifetime distribution",
        "lifetime parameter (Weibull or gamma shape)",
    ),
    Variable(
        "lifetime_scale",
        (VARIANT, PRODUCT),
        "yr",
        "scale of the lifetime distribution",
        "lifetime parameter (Weibull or gamma scale)",
    ),
    Variable(
        "lifetime_model",
        (VARIANT, PRODUCT),
        "",
        "lifetime model",
        "fixed, normal, lognormal, weibull or gamma (read by ndsim.lifetime)",
    ),
    Variable("population", (YEAR,), "person", "population", "resident population"),
    Variable("households", (YEAR,), "household", "households", "number of households"),
    Variable(
        "gdp_per_capita",
        (YEAR,),
        "",
        "GDP per capita",
        "gross domestic product per person, in the unit stated in drivers.csv",
    ),
    Variable(
        "ownership_nonhousehold_share",
        (PRODUCT,),
        "1",
        "non-household share of units in use",
        "share of the units in use outside households (commercial, office) by which a "
        "household survey is divided; 0 where none is given",
    ),
    Variable(
        "plausibility_units_per_year",
        (PRODUCT,),
        COUNT_FLOW_UNITS,
        "plausibility bound: units per year",
        "sourced upper bound of the units sold into use per year (plausibility.csv; SPEC §2.4); "
        "NaN where none",
    ),
    Variable(
        "plausibility_units_per_person",
        (PRODUCT,),
        "count person-1",
        "plausibility bound: units in use per person",
        "sourced upper bound of the units in use per person (plausibility.csv); NaN where none",
    ),
    Variable(
        "ownership",
        (PRODUCT, YEAR),
        "count person-1",
        "observed ownership",
        "products in use per person (for Gompertz fits); NaN where not observed",
    ),
    Variable(
        "ownership_household",
        (PRODUCT, YEAR),
        "count household-1",
        "observed ownership per household",
        "products in use per household (shape data for Gompertz fits where ownership per "
        "person is not observed; a household size is data, not a unit); NaN where not observed",
    ),
]


def _declare(table: dict[str, Variable], variable: Variable, kind: str) -> Variable:
    if variable.name in table:
        raise DuplicateVariableError(
            f"{kind} variable {variable.name!r} is already declared "
            f"({table[variable.name].long_name!r}, {table[variable.name].units!r}); every "
            "variable is declared once, in ndsim.conventions"
        )
    table[variable.name] = variable
    return variable


#: the output variables, by name (each declared once; see :func:`declare`)
VARIABLES: dict[str, Variable] = {}
for _v in _VARIABLES:
    _declare(VARIABLES, _v, "output")
#: the input variables of the canonical Dataset, by name
INPUT_VARIABLES: dict[str, Variable] = {}
for _v in _INPUT_VARIABLES:
    _declare(INPUT_VARIABLES, _v, "input")
del _v
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
#: the contract of SPEC §6 written by every run (the reconciled ones only with a reconciled
#: upstream)
CONTRACT_VARIABLES = tuple(v.name for v in _CONTRACT if v.name not in RECONCILED_VARIABLES)


def attrs(name: str) -> dict[str, str]:
    """Return the `units`, `long_name` and `description` attributes of a declared variable."""
    return VARIABLES[name].attrs


def declare(variable: Variable) -> Variable:
    """Declare an output variable that is not in the table of this module.

    Parameters
    ----------
    variable : Variable

    Returns
    -------
    Variable
        `variable`, now in :data:`VARIABLES`.

    Raises
    ------
    DuplicateVariableError
        A variable of that name is already declared (whatever its attributes).
    """
    return _declare(VARIABLES, variable, "output")


#: the former name of :func:`declare`; it raises on a second declaration too
register = declare
