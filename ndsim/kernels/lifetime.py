"""Lifetime pdf kernels: re-exported from :mod:`ndsim.kernels.stock`.

The compiled lifetime functions live in :mod:`ndsim.kernels.stock`, next to
the stock-model kernels that call them. (Callees in other kernel files are
safe for numba's cache too, see :mod:`ndsim.kernels._cache`.) This module
keeps the import names working.
"""

from ndsim.kernels.stock import (
    MODEL_CODES,
    MODEL_FIXED,
    MODEL_LOGNORMAL,
    MODEL_NORMAL,
    MODEL_WEIBULL,
    pdf_from_params,
    pdf_params,
)

__all__ = [
    "MODEL_CODES",
    "MODEL_FIXED",
    "MODEL_LOGNORMAL",
    "MODEL_NORMAL",
    "MODEL_WEIBULL",
    "pdf_from_params",
    "pdf_params",
]
