"""Lifetime models: discrete probability of retiring at each age, per product and draw.

A :class:`Lifetime` holds a model name, a timing convention and parameters
that may be numbers or :class:`xarray.DataArray` objects carrying ``draw``,
``product`` or any other dimension. :meth:`Lifetime.pdf` turns it into the
share of a cohort that retires at each whole age a = 0, 1, ..., evaluated
once per age (never on a year x cohort triangle), which the stock kernels of
:mod:`ndsim.dsm` convolve with the inflows.

Models
------
``fixed`` (mean)
    Every product retires at age ``mean`` [yr]. A fractional lifetime splits
    linearly between the neighbouring ages (L = 7.3: 70 % at age 7, 30 % at
    age 8), which is what a fixed lifetime gives when inflows spread evenly
    over the year; so a Monte Carlo draw of L changes outflows smoothly.
    Whole-year lifetimes retire at exactly age L under both timings:
    F_out(t) = F_in(t - L).
``normal`` (mean, sd)
    Normal lifetime [yr]. The probability of a lifetime below zero (Phi(-mean
    / sd), e.g. 0.04 % for mean = 10, sd = 3) is not dropped: it retires at age
    0 together with the mass between 0 and the first year end, so a cohort's
    shares still sum to 1 (the same as flodym 1.1 and ODYM, which take
    differences of the untruncated survival function).
``lognormal`` (mean, sd)
    Log-normal lifetime with the given mean and standard deviation *of the
    lifetime itself* [yr]: sigma^2 = ln(1 + sd^2 / mean^2), mu = ln(mean) -
    sigma^2 / 2.
``weibull`` (shape, scale)
    S(x) = exp(-(x / scale)^shape); or from mean and sd with
    :meth:`Lifetime.weibull_from_mean_sd`.
``gamma`` (mean, sd) or (shape, scale)
    Gamma lifetime; shape = mean^2 / sd^2, scale = sd^2 / mean.
``table`` (survival)
    An empirical survival table S(a) over ``age`` [1]: the share of a cohort
    still in use at the end of the year in which it is a years old (a = 0 is
    its inflow year). Ages past the table keep its last value (what has not
    retired by then never does). Used as given under both timings.

Timing
------
``"end"`` (default, ODYM's convention): products enter at the end of their
inflow year and a cohort is a whole years old at the end of year c + a, so
S(a) = P(X > a). ``"middle"`` (flodym's default ``inflow_at="middle"``):
products enter mid-year, S(a) = P(X > a + 1/2). In both, the share retiring
at age a is f(a) = S(a - 1) - S(a) with S(-1) = 1, and the stock is counted
at the end of the year. The chosen timing is written to the output
attributes (``lifetime_timing``).

References
----------
Lauinger, D., Billy, R. G., Dürrschnabel, J. et al. (2025) flodym: Flexible
Open Dynamic Material Systems Model. doi:10.5281/zenodo.14284339.
Pauliuk, S. & Heeren, N. (2020) ODYM — An open software framework for studying
dynamic material systems. J. Ind. Ecol. 24:446-458. doi:10.1111/jiec.12952.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import xarray as xr

from ndsim.conventions import AGE, DEFAULT_TIMING, PRODUCT, TIMING_CONVENTIONS
from ndsim.errors import ValidationError
from ndsim.kernels.lifetime import MODEL_CODES

__all__ = [
    "MODELS",
    "TIMING_SHIFT",
    "Lifetime",
    "common_timing",
    "from_table",
    "kernel_attrs",
    "pdf_by_product",
    "stacked_kernel_params",
]

#: parameters each model accepts (alternatives separated)
MODEL_PARAMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "fixed": (("mean",),),
    "normal": (("mean", "sd"),),
    "lognormal": (("mean", "sd"),),
    "weibull": (("shape", "scale"),),
    "gamma": (("mean", "sd"), ("shape", "scale")),
    "table": (("survival",),),
}
MODELS = tuple(MODEL_PARAMS)
#: timing -> offset [yr] between the inflow point and the end of the inflow year
TIMING_SHIFT = {"end": 0.0, "middle": 0.5}

Param = float | xr.DataArray


def _offending(mask, value) -> str:
    """List up to 10 offending positions (dim=label) and values of a bad parameter."""
    if isinstance(mask, xr.DataArray) and mask.ndim:
        vals = value.broadcast_like(mask).transpose(*mask.dims).values
        idx = np.argwhere(mask.values)
        items = []
        for pos in idx[:10]:
            label = ", ".join(
                f"{d}={mask[d].values[i].item() if d in mask.coords else i}"
                for d, i in zip(mask.dims, pos, strict=True)
            )
            items.append(f"[{label}] {float(vals[tuple(pos)])!r}")
        more = f" and {len(idx) - 10} more" if len(idx) > 10 else ""
        return "; ".join(items) + more
    return repr(float(np.asarray(value).ravel()[0]))


def _check(name: str, field: str, value: Param, ok) -> None:
    """Raise ValidationError if ``ok(value)`` is False anywhere (NaN counts as bad).

    ``ok`` runs on the plain numbers (a DataArray's ``.values``): no xarray
    operation unless a value is bad and the message names its position.
    """
    labelled = value if isinstance(value, xr.DataArray) else None
    arr = np.asarray(labelled.values if labelled is not None else value, dtype=float)
    with np.errstate(invalid="ignore"):
        good = ok(arr)
    if not np.all(good):
        bad = ~good
        mask = labelled.copy(data=bad) if labelled is not None else bad
        raise ValidationError(
            f"lifetime {name!r}: {field} out of range: {_offending(mask, value)}", field=field
        )


class Lifetime:
    """A lifetime distribution of one product (or of several, through parameter dims).

    Parameters
    ----------
    model : {"fixed", "normal", "lognormal", "weibull", "gamma", "table"}
        The distribution (see the module docstring).
    timing : {"end", "middle"}
        When in the year products enter the stock; default "end".
    **params : float or xarray.DataArray
        The model's parameters [yr] (``survival`` [1] for ``table``); arrays
        may carry ``draw``, ``product`` and other dims, which broadcast.

    Examples
    --------
    >>> lt = Lifetime("normal", mean=10.0, sd=3.0)
    >>> f = lt.pdf(51)  # share retiring at ages 0..50
    >>> round(float(f.sum()), 6)
    1.0

    Raises
    ------
    ValidationError
        Unknown model or timing, missing or extra parameters, or a parameter
        out of range (listing the offending positions).
    """

    __slots__ = ("_model", "_timing", "_params")

    def __init__(self, model: str, timing: str = DEFAULT_TIMING, **params: Param):
        if model not in MODEL_PARAMS:
            raise ValidationError(
                f"lifetime model {model!r} unknown; valid: {', '.join(MODELS)}", field="model"
            )
        if timing not in TIMING_CONVENTIONS:
            raise ValidationError(
                f"lifetime timing {timing!r} unknown; valid: {', '.join(TIMING_CONVENTIONS)}",
                field="timing",
            )
        given = set(params)
        if not any(given == set(names) for names in MODEL_PARAMS[model]):
            options = " or ".join("(" + ", ".join(n) + ")" for n in MODEL_PARAMS[model])
            raise ValidationError(
                f"lifetime {model!r} takes parameters {options}; got ({', '.join(sorted(given))})",
                field="parameter",
            )
        clean = {}
        for key, value in params.items():
            if not isinstance(value, xr.DataArray):
                value = float(value)
            clean[key] = value
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_timing", timing)
        object.__setattr__(self, "_params", MappingProxyType(clean))
        self._validate()

    def __setattr__(self, name, value):
        raise AttributeError("Lifetime is immutable; use with_params() or with_timing()")

    # --- properties -----------------------------------------------------------

    @property
    def model(self) -> str:
        """The model name."""
        return self._model

    @property
    def timing(self) -> str:
        """The timing convention ("end" or "middle")."""
        return self._timing

    @property
    def params(self) -> Mapping[str, Param]:
        """The parameters as given (read-only)."""
        return self._params

    def __getattr__(self, name: str) -> Param:
        params = object.__getattribute__(self, "_params")
        if name in params:
            return params[name]
        raise AttributeError(f"Lifetime has no attribute or parameter {name!r}")

    def __repr__(self) -> str:
        def show(v):
            return f"DataArray{tuple(v.dims)}" if isinstance(v, xr.DataArray) else repr(v)

        ps = ", ".join(f"{k}={show(v)}" for k, v in self._params.items())
        return f"Lifetime({self._model!r}, timing={self._timing!r}, {ps})"

    def with_params(self, **params: Param) -> Lifetime:
        """A copy with some parameters replaced (e.g. Monte Carlo draws of ``mean``)."""
        return Lifetime(self._model, self._timing, **{**self._params, **params})

    def with_timing(self, timing: str) -> Lifetime:
        """A copy with another timing convention."""
        return Lifetime(self._model, timing, **self._params)

    # --- constructors ---------------------------------------------------------

    @classmethod
    def weibull_from_mean_sd(cls, mean: Param, sd: Param, timing: str = DEFAULT_TIMING) -> Lifetime:
        """A Weibull lifetime with the given mean and standard deviation [yr].

        Notes
        -----
        The shape k solves ln Gamma(1 + 2/k) - 2 ln Gamma(1 + 1/k) = ln(1 + sd^2/mean^2)
        (Newton's method on ln k, elementwise, to machine precision; shapes
        between 0.02 and 1000); then scale = mean / Gamma(1 + 1/k).
        """
        _check("weibull", "mean", mean, lambda v: v > 0)
        _check("weibull", "sd", sd, lambda v: v > 0)
        shape, scale = xr.apply_ufunc(_weibull_shape_scale, mean, sd, output_core_dims=[[], []])
        if not isinstance(mean, xr.DataArray) and not isinstance(sd, xr.DataArray):
            shape, scale = float(shape), float(scale)
        return cls("weibull", timing, shape=shape, scale=scale)

    # --- validation -----------------------------------------------------------

    def _validate(self) -> None:
        m, p = self._model, self._params
        if m == "fixed":
            _check(m, "mean", p["mean"], lambda v: v >= 0)
        elif m in ("normal", "lognormal") or (m == "gamma" and "mean" in p):
            _check(m, "mean", p["mean"], (lambda v: v >= 0) if m == "normal" else (lambda v: v > 0))
            _check(m, "sd", p["sd"], lambda v: v > 0)
        elif m in ("weibull", "gamma"):
            _check(m, "shape", p["shape"], lambda v: v > 0)
            _check(m, "scale", p["scale"], lambda v: v > 0)
        elif m == "table":
            s = p["survival"]
            if not isinstance(s, xr.DataArray) or AGE not in s.dims:
                raise ValidationError(
                    "lifetime 'table': survival must be a DataArray with an 'age' dim",
                    field="survival",
                )
            _check(m, "survival", s, lambda v: (v >= 0) & (v <= 1))
            rise = s.diff(AGE) > 1e-12
            if bool(rise.any()):
                raise ValidationError(
                    f"lifetime 'table': survival increases with age at {_offending(rise, s)}",
                    field="survival",
                )

    # --- evaluation -----------------------------------------------------------

    @property
    def fusable(self) -> bool:
        """True if the stock kernels can evaluate this model from its parameters."""
        return self._model in MODEL_CODES

    def kernel_params(self) -> tuple[int, Param, Param, float]:
        """(model code, p1, p2, shift) for the kernels of :mod:`ndsim.kernels`."""
        if not self.fusable:
            raise ValidationError(f"lifetime {self._model!r} is not evaluated in the kernels")
        p = self._params
        shift = TIMING_SHIFT[self._timing]
        if self._model == "fixed":
            return MODEL_CODES["fixed"], p["mean"], 0.0, shift
        if self._model == "weibull":
            return MODEL_CODES["weibull"], p["shape"], p["scale"], shift
        return MODEL_CODES[self._model], p["mean"], p["sd"], shift

    def pdf(self, n_ages: int) -> xr.DataArray:
        """Share of a cohort retiring at each age a = 0..n_ages-1 [1].

        Returns
        -------
        xarray.DataArray
            Dims: the parameters' dims, then ``age``; attrs ``units``,
            ``long_name``, ``lifetime_model``, ``lifetime_timing``.
            The shares sum to 1 minus what survives age n_ages - 1.
        """
        n_ages = int(n_ages)
        if n_ages < 1:
            raise ValidationError(f"lifetime pdf: n_ages must be >= 1, got {n_ages}")
        if self.fusable:
            out = _kernel_pdf(*self.kernel_params(), n_ages)
        elif self._model == "gamma":
            out = self._gamma_pdf(xr.DataArray(np.arange(n_ages, dtype=float), dims=[AGE]))
        else:
            out = self._table_pdf(n_ages)
        out = out.assign_coords({AGE: np.arange(n_ages)})
        out.attrs = self.attrs()
        out.attrs.update(units="1", long_name="share of a cohort retiring at each age")
        return out

    def survival(self, n_ages: int) -> xr.DataArray:
        """Share of a cohort still in use at the end of the year it is a years old [1]."""
        f = self.pdf(n_ages)
        s = 1.0 - f.cumsum(AGE)
        s.attrs = self.attrs()
        s.attrs.update(units="1", long_name="share of a cohort still in use at each age")
        return s

    def attrs(self) -> dict[str, str]:
        """Attributes that describe this lifetime on outputs."""
        return {"lifetime_model": self._model, "lifetime_timing": self._timing}

    def _gamma_pdf(self, ages: xr.DataArray) -> xr.DataArray:
        from scipy.special import gammainc, gammaincc

        p = self._params
        if "mean" in p:
            shape = (p["mean"] / p["sd"]) ** 2
            scale = p["sd"] ** 2 / p["mean"]
        else:
            shape, scale = p["shape"], p["scale"]
        x = (ages + TIMING_SHIFT[self._timing]) / scale
        cdf = xr.apply_ufunc(gammainc, shape, x, dask="allowed")
        sf = xr.apply_ufunc(gammaincc, shape, x, dask="allowed")
        return _pdf_from_cdf_sf(cdf, sf)

    def _table_pdf(self, n_ages: int) -> xr.DataArray:
        s = self._params["survival"].sortby(AGE).transpose(..., AGE)
        idx = np.minimum(np.arange(n_ages), s.sizes[AGE] - 1)  # hold the last value
        sv = s.isel({AGE: idx}).drop_vars(AGE, errors="ignore")
        return sv.shift({AGE: 1}, fill_value=1.0) - sv

    def __reduce__(self):
        return (_rebuild, (self._model, self._timing, dict(self._params)))


def _kernel_pdf(code, p1, p2, shift, n_ages: int) -> xr.DataArray:
    """The pdf (..., age) of model ``code`` from its parameters, by the kernels' ``pdf_params``."""
    from ndsim.kernels.lifetime import pdf_params

    ages = xr.DataArray(np.arange(n_ages, dtype=float), dims=[AGE])
    return xr.apply_ufunc(
        pdf_params,
        code,
        p1,
        p2,
        shift,
        ages,
        input_core_dims=[[], [], [], [], [AGE]],
        output_core_dims=[[AGE]],
        dask="parallelized",
        output_dtypes=[float],
    )


def _rebuild(model: str, timing: str, params: dict) -> Lifetime:
    return Lifetime(model, timing, **params)


def _pdf_from_cdf_sf(cdf: xr.DataArray, sf: xr.DataArray) -> xr.DataArray:
    """f(a) from F and S at the year ends: differences of F below the median, of S above."""
    prev_cdf = cdf.shift({AGE: 1}, fill_value=0.0)
    prev_sf = sf.shift({AGE: 1}, fill_value=1.0)
    return xr.where(cdf <= 0.5, cdf - prev_cdf, prev_sf - sf)


def _weibull_shape_scale(mean, sd):
    """Weibull shape and scale with the given mean and sd (numpy, elementwise).

    Newton's method on u = ln k for g(u) = ln Gamma(1 + 2/k) - 2 ln Gamma(1 + 1/k)
    - ln(1 + cv^2), from Justus' start k = cv^-1.086; g is monotone in u, and any
    element not converged after 40 steps is solved by bisection instead.
    """
    from scipy.special import digamma, gammaln

    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    cv = sd / mean
    target = np.log1p(cv**2)
    lo_u, hi_u = math.log(0.02), math.log(1000.0)
    u = np.clip(-1.086 * np.log(cv), lo_u, hi_u)

    def newton(u):
        r = np.exp(-u)
        g = gammaln(1.0 + 2.0 * r) - 2.0 * gammaln(1.0 + r) - target
        dg = -2.0 * r * (digamma(1.0 + 2.0 * r) - digamma(1.0 + r))
        step = g / dg
        return np.clip(u - step, lo_u, hi_u), np.abs(step) / np.maximum(1.0, np.abs(u))

    for _ in range(40):
        u, rel = newton(u)
        if np.all(rel <= 1e-9):  # quadratic convergence: one more step reaches rounding
            u, rel = newton(u)
            break
    bad = ~(rel <= 1e-12)
    if np.any(bad):
        u = np.where(bad, _weibull_log_shape_bisect(np.broadcast_to(target, u.shape)), u)
    k = np.exp(u)
    scale = np.exp(np.log(mean) - gammaln(1.0 + 1.0 / k))
    return k, scale


def _weibull_log_shape_bisect(target):
    from scipy.special import gammaln

    lo = np.full(target.shape, math.log(0.02))
    hi = np.full(target.shape, math.log(1000.0))
    for _ in range(60):  # width 10.8 / 2^60: below double precision
        mid = 0.5 * (lo + hi)
        r = np.exp(-mid)
        too_small = gammaln(1.0 + 2.0 * r) - 2.0 * gammaln(1.0 + r) > target
        lo = np.where(too_small, mid, lo)
        hi = np.where(too_small, hi, mid)
    return 0.5 * (lo + hi)


def stacked_kernel_params(
    specs: Mapping[str, Lifetime],
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray, float, dict[str, str]] | None:
    """(code, p1, p2, shift, attrs) of several products for the kernels, stacked along ``product``.

    ``code`` has dims (product,), ``p1`` and ``p2`` (product, [the parameters' dims]);
    None if a model is not evaluated in the kernels (:attr:`Lifetime.fusable`).
    """
    if not all(s.fusable for s in specs.values()):
        return None
    rows = [s.kernel_params() for s in specs.values()]
    names = list(specs)
    code = xr.DataArray(np.array([r[0] for r in rows], dtype=np.int64), dims=[PRODUCT])
    code = code.assign_coords({PRODUCT: names})

    def stack(j):
        vals = [r[j] if isinstance(r[j], xr.DataArray) else xr.DataArray(float(r[j])) for r in rows]
        first = vals[0]
        if _same_labels(vals):  # the common case (e.g. every product drawn over the same
            # draws): one numpy stack
            data = np.stack([np.asarray(v.values, dtype=float) for v in vals], axis=0)
            coords = dict(first.coords)  # as concat(compat="override"): the first's
            return xr.DataArray(
                data, dims=(PRODUCT, *first.dims), coords={**coords, PRODUCT: names}
            )
        vals = xr.broadcast(*vals)  # parameters labelled otherwise: the union, NaN where missing
        return xr.concat(
            vals, dim=PRODUCT, coords="minimal", compat="override", join="outer"
        ).assign_coords({PRODUCT: names})

    return code, stack(1), stack(2), float(rows[0][3]), kernel_attrs(specs)


def kernel_attrs(specs: Mapping[str, Lifetime]) -> dict[str, str]:
    """``lifetime_model`` (``product:model`` pairs) and ``lifetime_timing`` of several lifetimes."""
    return {
        "lifetime_model": ",".join(f"{p}:{s.model}" for p, s in specs.items()),
        "lifetime_timing": common_timing(specs),
    }


def _same_labels(vals: list[xr.DataArray]) -> bool:
    """True if the arrays have the same dims, shape and index labels."""
    first = vals[0]
    return all(v.dims == first.dims and v.shape == first.shape for v in vals) and all(
        d in v.indexes and v.indexes[d].equals(first.indexes[d])
        for v in vals
        for d in first.indexes
    )


def _consistent_labels(specs: Mapping[str, Lifetime]) -> bool:
    """True if every labelled dim has the same labels in every parameter of every spec."""
    seen: dict = {}
    for spec in specs.values():
        for v in spec.params.values():
            if not isinstance(v, xr.DataArray):
                continue
            for d, index in v.indexes.items():
                if not seen.setdefault(d, index).equals(index):
                    return False
    return True


def pdf_by_product(specs: Mapping[str, Lifetime], n_ages: int) -> xr.DataArray:
    """Stack the pdfs of several products along ``product``.

    Parameters
    ----------
    specs : mapping of product code -> Lifetime
        All with the same timing.
    n_ages : int
        Number of ages (normally at least the number of years modelled).

    Returns
    -------
    xarray.DataArray
        Dims (product, [other parameter dims, e.g. draw], age) [1].
    """
    if int(n_ages) < 1:
        raise ValidationError(f"lifetime pdf: n_ages must be >= 1, got {n_ages}")
    timing = common_timing(specs)
    params = stacked_kernel_params(specs) if _consistent_labels(specs) else None
    if params is not None:
        # one kernel call for all products, as dsm's fused kernels (parameters labelled
        # otherwise from product to product go through each product's pdf below)
        out = _kernel_pdf(*params[:4], int(n_ages))
        # the coordinates in the order of the stacking below: the parameters', age, product
        out = out.drop_vars(PRODUCT).assign_coords(
            {AGE: np.arange(int(n_ages)), PRODUCT: list(specs)}
        )
        out = out.transpose(PRODUCT, ..., AGE)
    else:
        pdfs = [spec.pdf(n_ages) for spec in specs.values()]
        pdfs = xr.broadcast(*pdfs)
        out = xr.concat(pdfs, dim=PRODUCT, coords="minimal", compat="override", join="outer")
        out = out.assign_coords({PRODUCT: list(specs)}).transpose(PRODUCT, ..., AGE)
    out.attrs = {
        "units": "1",
        "long_name": "share of a cohort retiring at each age",
        "lifetime_model": ",".join(f"{p}:{s.model}" for p, s in specs.items()),
        "lifetime_timing": timing,
    }
    return out


def common_timing(specs: Mapping[str, Lifetime]) -> str:
    """The timing shared by all specs; ValidationError if they differ or specs is empty."""
    timings = {s.timing for s in specs.values()}
    if len(timings) != 1:
        raise ValidationError(
            f"lifetimes: all products need one timing convention, got {sorted(timings) or 'none'}",
            field="timing",
        )
    return timings.pop()


def from_table(
    table, variant: str, *, timing: str = DEFAULT_TIMING, file: str = "lifetimes.csv"
) -> dict[str, Lifetime]:
    """Build the lifetimes of one variant from the tidy ``lifetimes.csv`` table.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``variant, product, parameter, value`` (parameter ``model``
        holds the model name; the others are numbers in yr).
    variant : str
        e.g. ``"paper"`` or ``"literature"``.
    timing : {"end", "middle"}
    file : str
        File name used in error messages.

    Returns
    -------
    dict
        product code -> :class:`Lifetime`, in the table's product order.
    """
    missing = {"variant", "product", "parameter", "value"} - set(table.columns)
    if missing:
        raise ValidationError(f"missing columns {sorted(missing)}", file=file)
    rows = table[table["variant"].astype(str) == variant]
    if rows.empty:
        variants = sorted(set(table["variant"].astype(str)))
        raise ValidationError(
            f"variant {variant!r} not found; valid: {variants}", file=file, field="variant"
        )
    dup = rows.duplicated(["product", "parameter"], keep=False)
    if dup.any():
        bad = sorted(
            {f"{p}/{q}" for p, q in rows.loc[dup, ["product", "parameter"]].itertuples(index=False)}
        )
        raise ValidationError(f"duplicate rows for {bad}", file=file, field="parameter")
    specs: dict[str, Lifetime] = {}
    for product, group in rows.groupby("product", sort=False):
        values = dict(zip(group["parameter"].astype(str), group["value"], strict=True))
        model = str(values.pop("model", "")).strip()
        try:
            params = {k: float(v) for k, v in values.items()}
        except ValueError as err:
            raise ValidationError(f"product {product}: {err}", file=file, field="value") from None
        if model == "weibull" and set(params) == {"mean", "sd"}:
            specs[str(product)] = Lifetime.weibull_from_mean_sd(
                params["mean"], params["sd"], timing
            )
            continue
        try:
            specs[str(product)] = Lifetime(model, timing, **params)
        except ValidationError as err:
            raise ValidationError(
                f"product {product}: {err}", file=file, field="parameter"
            ) from None
    return specs
