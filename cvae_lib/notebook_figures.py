"""How the book's notebooks show their figures: as SVG, their words kept as text.

An SVG is sharp at any zoom on any screen (a digit's 28 x 28 pixels are embedded as they are and
drawn square: :func:`cvae_lib.plots.show_image` draws them with ``interpolation="none"``), and its
words stay text, which the Chinese edition of the site translates like the prose
(``book/_ext/translated_numbers.py``).
"""
from __future__ import annotations

import matplotlib

# words as text, not as drawn paths; fixed ids: the same figure gives the same file
SVG_OPTIONS = {"svg.fonttype": "none", "svg.hashsalt": "cvae-book"}


def draw_notebook_figures_as_svg() -> None:
    """Called by every chapter's settings cell. No date in the file: the same figure gives the same
    file. Outside IPython it only sets matplotlib's SVG options."""
    matplotlib.rcParams.update(SVG_OPTIONS)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("svg", metadata={"Date": None})
