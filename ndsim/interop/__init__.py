"""Exchange ndsim's labelled arrays with other MFA tools.

- :func:`to_flodym` / :func:`from_flodym` — an xarray DataArray to a flodym
  ``FlodymArray`` and back (flodym is imported only when they are called).
"""

from ndsim.interop.flodym import DEFAULT_LETTERS, from_flodym, to_flodym

__all__ = ["DEFAULT_LETTERS", "from_flodym", "to_flodym"]
