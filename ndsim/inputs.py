"""Load and check a scenario and its data set, before any computation.

:func:`prepare` is the one place that turns a scenario name or file (and an
optional data folder) into the canonical input Dataset and the checked
:class:`ndsim.scenario.Scenario`; the library's entry points
(:mod:`ndsim.api`), the command line and the ensemble all start here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xarray as xr

    from ndsim.scenario import Scenario

__all__ = ["prepare"]


def prepare(
    scenario: str | Path | None = None, *, data: str | Path | None = None
) -> tuple[xr.Dataset, Scenario]:
    """Load and check a scenario and its data set, before any computation.

    Parameters
    ----------
    scenario : str or Path, optional
        A scenario file or the name of a shipped scenario; default ``baseline``.
    data : str or Path, optional
        A data-set folder overriding the scenario's ``data``.

    Returns
    -------
    (inputs, scenario)
        The canonical input Dataset (lifetimes of the scenario applied) and the
        :class:`ndsim.scenario.Scenario`.

    Raises
    ------
    ndsim.errors.ScenarioError, ndsim.errors.ValidationError
        Bad scenario or data, with a one-line message naming file and field.
    ndsim.errors.UsageError
        ``data`` is not a folder.
    """
    from ndsim.errors import UsageError
    from ndsim.io.readers import load_dataset
    from ndsim.scenario import apply_lifetimes, check_against, load_scenario

    sc = load_scenario(scenario)
    if data is not None:
        folder = Path(data)
        if not folder.is_dir():
            raise UsageError(f"--data {data}: no such folder")
    else:
        folder = sc.data_path()
    inputs = load_dataset(folder)
    check_against(sc, inputs)
    return apply_lifetimes(sc, inputs), sc
