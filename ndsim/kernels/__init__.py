"""Numba kernels of ndsim: lifetime pdfs by age and the dynamic stock model.

Kernels are pure, write into their outputs, import only numpy, numba and
math, and are compiled with ``cache=True`` and without fastmath. See
:mod:`ndsim.kernels.stock` for the gufunc layouts and the choice of
parallelism (threads across blocks of draws, none inside the kernels).
"""

from ndsim.kernels.stock import (
    MODEL_CODES,
    POLICIES,
    inflow_driven,
    inflow_driven_params,
    pdf_from_params,
    pdf_params,
    stock_by_cohort,
    stock_driven,
    stock_driven_params,
)

__all__ = [
    "MODEL_CODES",
    "POLICIES",
    "inflow_driven",
    "inflow_driven_params",
    "pdf_from_params",
    "pdf_params",
    "stock_by_cohort",
    "stock_driven",
    "stock_driven_params",
]
