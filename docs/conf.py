"""Sphinx configuration of the ndsim documentation.

Build offline from the repository root::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Nothing is fetched from the network: no intersphinx, a theme whose assets ship
with it, and the notebooks are rendered as stored (they are executed by the
tests, not by the build).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from docutils.nodes import SkipNode

ROOT = Path(__file__).resolve().parent.parent
# document the package of this checkout, not another installed copy
sys.path.insert(0, str(ROOT))
# importing ndsim for autodoc must not draw on a display or compile kernels eagerly
os.environ.setdefault("MPLBACKEND", "Agg")

import ndsim  # noqa: E402

project = "ndsim"
author = "ndsim developers"
copyright = "ndsim developers"
release = ndsim.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "myst_nb",  # Markdown pages (it loads myst_parser) and the notebooks
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

# --- Markdown (MyST) -------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
# "## 2.1 ..." headings get anchors, so SPEC sections can be linked
myst_heading_anchors = 3

# --- notebooks (myst-nb) ---------------------------------------------------
# rendered as stored, without outputs; the tests execute them at small size
nb_execution_mode = "off"

# --- API reference (autodoc + numpydoc) -------------------------------------
# docs/api.md uses autodoc in eval-rst blocks: MyST's own directive syntax loses
# flag options such as :members: with Sphinx 9
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters sections give the types
numpydoc_show_class_members = False  # no autosummary stubs: members are documented in place
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- HTML -------------------------------------------------------------------
# furo ships its CSS and JavaScript; the pages load nothing from elsewhere
html_theme = "furo"
html_title = f"ndsim {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
# MathJax would come from a CDN at view time: the few formulas of the docstrings
# are shown as their TeX source instead (renderer "tex_source" below)
html_math_renderer = "tex_source"


def _inline_tex(self, node):
    self.body.append(self.starttag(node, "code", "", CLASS="math"))
    self.body.append(self.encode(node.astext()))
    self.body.append("</code>")
    raise SkipNode


def _block_tex(self, node):
    self.body.append(self.starttag(node, "pre", "", CLASS="math"))
    self.body.append(self.encode(node.astext()))
    self.body.append("</pre>\n")
    raise SkipNode


def _module_sections_as_rubrics(app, what, name, obj, options, lines):
    """Turn the numpydoc sections of a module docstring into rubrics.

    numpydoc rewrites the sections of functions and classes but leaves those of
    modules as reST section titles; several modules on the API page with an
    "Examples" or "References" section would then give duplicate ids.
    """
    if what != "module":
        return
    out: list[str] = []
    i = 0
    while i < len(lines):
        title = lines[i].strip()
        under = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if title and under and set(under) <= set("-=~^") and len(under) >= len(title):
            out += [f".. rubric:: {title}", ""]
            i += 2
            continue
        out.append(lines[i])
        i += 1
    lines[:] = out


def setup(app):
    """Register the offline math renderer and the module-docstring rubrics."""
    app.add_html_math_renderer("tex_source", (_inline_tex, None), (_block_tex, None))
    app.connect("autodoc-process-docstring", _module_sections_as_rubrics)
