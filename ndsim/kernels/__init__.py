"""Numba kernels of ndsim: lifetime pdfs by age and the dynamic stock model.

Kernels are pure, write into their outputs, import only numpy, numba and
math, and are compiled with ``cache=True`` and without fastmath. See
:mod:`ndsim.kernels.stock` for the gufunc layouts and the choice of
parallelism (threads across blocks of draws, none inside the kernels), and
:mod:`ndsim.kernels.fastmath` for the exp, expm1 and erfc they inline.

numba's cache of every kernel is stamped with all kernel files together
(:mod:`ndsim.kernels._cache`), so kernels may call compiled functions of
other kernel files: an edit of any of them invalidates every cached kernel.
"""

from ndsim.kernels import _cache

# before any kernel is decorated: their caches are stamped with all kernel files
_cache.install()

from ndsim.kernels.stock import (  # noqa: E402
    MODEL_CODES,
    POLICIES,
    inflow_driven,
    inflow_driven_pair_params,
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
    "inflow_driven_pair_params",
    "inflow_driven_params",
    "pdf_from_params",
    "pdf_params",
    "stock_by_cohort",
    "stock_driven",
    "stock_driven_params",
]
