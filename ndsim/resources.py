"""Where the shipped data set and scenarios are.

Installed, they are the packages ``ndsim.data`` and ``ndsim.scenarios``
(read with :mod:`importlib.resources`); in a source checkout they are the
top-level folders ``data/`` and ``scenarios/``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

DEFAULT_DATASET = "china_nd"
DEFAULT_SCENARIO = "baseline.toml"


def _package_dir(package: str, fallback: str) -> Path:
    try:
        path = Path(str(importlib.resources.files(package)))
        if path.is_dir():
            return path
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / fallback


def data_dir(name: str = DEFAULT_DATASET) -> Path:
    """Folder of a shipped data set (default: the China Nd case)."""
    return _package_dir("ndsim.data", "data") / name


def scenarios_dir() -> Path:
    """Folder of the shipped scenario files."""
    return _package_dir("ndsim.scenarios", "scenarios")


def reference_dir() -> Path:
    """Folder of the reference figures (the paper's values)."""
    return _package_dir("ndsim.data", "data") / "reference"
