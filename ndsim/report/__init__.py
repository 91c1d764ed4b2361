"""Figures and tables from an ndsim output file (SPEC §6), never from the model.

- :func:`write_all` — every figure the file has the variables for;
- :func:`sankey_links` — one year of the `flow` variable as Sankey links;
- :func:`write_csv` / :func:`read_csv` — tidy CSV export and its reader.

Plotting libraries (matplotlib, plotly) are imported only when a figure is
drawn.
"""

from ndsim.report.figures import write_all
from ndsim.report.sankey import sankey_links
from ndsim.report.tables import read_csv, write_csv

__all__ = ["read_csv", "sankey_links", "write_all", "write_csv"]
