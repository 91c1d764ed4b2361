"""Lifetime pdf kernels: re-exported from :mod:`ndsim.kernels.stock`.

The compiled lifetime functions live in :mod:`ndsim.kernels.stock`, next to
the stock-model kernels that call them, because numba's on-disk cache only
checks the source file of the cached function itself: a callee in another
file could change without invalidating its callers' cached machine code.
This module keeps the import names working.
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
