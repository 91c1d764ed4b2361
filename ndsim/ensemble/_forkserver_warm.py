"""Imported by the local pool's fork server: the kernels a chunk runs, loaded once there.

Every worker of the local pool is forked from the fork server
(:class:`ndsim.ensemble.executors.PoolExecutor`) and so starts with these kernels'
machine code in memory, shared with its siblings until written to, instead of
loading numba's cache itself: numba's first load in a process (its typing and
target registries) takes about 0.3 s, then each kernel a few milliseconds. The
kernels are serial and numba's thread pool is never started here, so the server
stays single-threaded and safe to fork. The fork server ignores only an
ImportError of the modules it preloads; any other error would stop it, so a
failure to load here is left to each worker, which loads the kernels itself.
"""

from __future__ import annotations

from ndsim.ensemble.workers import warm_kernels
from ndsim.kernels import stock

try:
    warm_kernels()  # the kernels of the labelled functions and numba's registries
    stock.inflow_driven_pair_params.build()  # the units and Nd of a chunk's draws
    stock.pdf_params.build()  # the mean ages of the fleets
except Exception:  # noqa: BLE001 - an error here would stop the fork server, not tell
    pass  # each worker then loads the kernels itself, and says what fails
