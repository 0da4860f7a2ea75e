"""Sphinx extension for the book's site: its own styles, and every page loads what it needs from
the site itself.

* ``book/_static/book.css``: wide figures and tables scroll sideways on a phone.
* MathJax comes from the npm package ``mathjax`` that ``make site-deps`` installs into
  ``.site-deps/`` at build time (nothing third-party is committed); the parts the pages use are
  copied into ``_static/mathjax/``, and ``_config.yml`` points ``mathjax_path`` there.
* References are labelled like the citations in the text ("Sohn et al., 2015"), not "[SLY15]".
* Each script is included once: Jupyter Book 1 registers sphinx-thebe's configuration script
  twice, which makes every page log "Identifier 'THEBE_JS_URL' has already been declared".
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
MATHJAX = ROOT / ".site-deps" / "node_modules" / "mathjax" / "es5"
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml/fonts", "ui", "a11y")


def check_mathjax(app) -> None:
    if app.builder.format == "html" and not (MATHJAX / MATHJAX_PARTS[0]).is_file():
        raise ExtensionError(f"MathJax for the site is missing ({MATHJAX.relative_to(ROOT)}); "
                             "run `make site-deps` (npm install of the mathjax package) first")


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        source = MATHJAX / part
        if source.is_dir():
            shutil.copytree(source, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)


def unique_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""  # an inline script's is None or ""
        key = (str(filename), tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def _register_author_year_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            for entry in sorted_entries:
                names = [person.last_names[-1] for person in entry.persons.get("author", [])]
                names = [name.replace("{", "").replace("}", "") for name in names]
                who = (names[0] if len(names) == 1 else f"{names[0]} & {names[1]}" if len(names) == 2
                       else f"{names[0]} et al.")
                yield f"{who}, {entry.fields.get('year', 'n.d.')}"

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = "authoryear"
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    _register_author_year_style()
    app.config.html_static_path.append(str(ROOT / "book" / "_static"))
    app.add_css_file("book.css")
    app.connect("builder-inited", check_mathjax)
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", unique_scripts, priority=900)  # after every extension added its own
    return {"parallel_read_safe": True, "parallel_write_safe": True}
