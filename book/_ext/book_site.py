"""Sphinx extension for the book's site: its own styles, and every page loads what it needs from
the site itself.

* ``book/_static/book.css``: wide figures and tables scroll sideways on a phone.
* MathJax comes from the npm package ``mathjax`` that ``make site-deps`` installs into
  ``.site-deps/`` at build time (nothing third-party is committed); the parts the pages use are
  copied into ``_static/mathjax/``, and ``_config.yml`` points ``mathjax_path`` there.
* References are labelled like the citations in the text ("Sohn et al., 2015"), not "[SLY15]".
* Each script is included once: Jupyter Book 1 registers sphinx-thebe's configuration script
  twice, which makes every page log "Identifier 'THEBE_JS_URL' has already been declared".
* Editions: every page links to the same page in the other language (the English site at the
  root, the Chinese one in ``zh_CN/``, built by ``book/_ext/translations.py``); the Chinese site's
  title comes from the chapters' message catalogue like the rest of its text; text without a
  letter in it (a table cell "0.949 ± 0.006") is not offered for translation.
* A chapter starts with the chapter: its setup cells (Colab install, settings, imports) are in the
  notebook but not on the page; one sentence under the first paragraph says how to run it, with
  the link that opens it in Colab.
* Accessibility (axe-core, tests/test_browser.py): the theme's search and colour-mode buttons are
  named by what they show (``book/_templates``); myst-nb's folded cells are named by their visible
  "Show code cell source"; references are list items; ``book.js`` makes a figure or table that
  scrolls sideways on a phone reachable with the keyboard.
"""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.transforms import SphinxTransform

ROOT = Path(__file__).resolve().parents[2]
MATHJAX = ROOT / ".site-deps" / "node_modules" / "mathjax" / "es5"
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml/fonts", "ui", "a11y")
LOCALES = ROOT / "locales"
# language code -> (where its site lies below the English one, the link that leads to it)
EDITIONS = {"en": ("", "English edition"), "zh_CN": ("zh_CN/", "中文版")}
HTML_LANG = {"en": "en", "zh_CN": "zh-CN"}
# myst-nb's buttons over folded cells are configuration, not text of the chapters; myst-nb puts the
# English "source", "outputs", ... in place of {type}, which the page then says in its language
CODE_PROMPTS = {"zh_CN": {"nb_code_prompt_show": "显示代码单元的{type}", "nb_code_prompt_hide": "隐藏代码单元的{type}"}}
FOLDED_PARTS = {"zh_CN": {"outputs": "输出", "output": "输出", "source": "源代码", "content": "内容"}}
# the sentence under a chapter's first paragraph: {colab} opens the notebook in Colab, {notebook} is its path
RUN_CHAPTER = {
    "en": 'To run this chapter, open it in <a href="{colab}">Colab</a> (its first cells install the library '
          'and choose the run profile) or open <code>{notebook}</code> in Jupyter from a clone of the repository.',
    "zh_CN": '运行本章：在 <a href="{colab}">Colab</a> 中打开（开头的几个单元会安装本书的库并选择运行配置），'
             '或在本书仓库的克隆中用 Jupyter 打开 <code>{notebook}</code>。',
}
LETTER = re.compile(r"[^\W\d_]")


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


class NumbersAreNotTranslated(SphinxTransform):
    """Text with no letter in it (numbers, signs) and displayed formulas and code (a listing that
    ``show_source`` prints as LaTeX is a formula to Sphinx) read the same in every edition; leaving
    them out of the catalogue keeps a re-run's new numbers from leaving messages untranslated."""

    default_priority = 10  # before sphinx.transforms.i18n.Locale (20) reads the catalogue

    def apply(self, **kwargs) -> None:
        for node in self.document.findall(nodes.TextElement):
            if isinstance(node, nodes.math_block) or (not isinstance(node, nodes.Inline)
                                                      and not LETTER.search(node.astext())):
                node["translatable"] = False


def glue_in_translated_paragraphs() -> None:
    """myst-nb parses each translated paragraph as a small document of its own, which does not see
    the notebook's glue data (``{glue:text}`key``` then fails); such a paragraph reads the value from
    the glue cache that myst-nb wrote for the page while it parsed the notebook."""
    from myst_nb.ext.glue import roles, utils

    retrieve = roles.retrieve_glue_data

    def retrieve_also_in_translations(document, key):
        try:
            return retrieve(document, key)
        except utils.RetrievalError:
            env = getattr(document.settings, "env", None)
            if env is None or not str(document.current_source or "").endswith("<translated>"):
                raise
            *folders, name = env.docname.split("/")
            cache = Path(env.mystnb_config.output_folder, *folders, f"{name}.glue.json")
            glued = json.loads(cache.read_text()) if cache.is_file() else {}
            if key not in glued:
                raise
            return utils.VariableOutput(data=glued[key]["data"], metadata=glued[key].get("metadata", {}),
                                        nb_renderer=None, vtype="glue")

    roles.retrieve_glue_data = retrieve_also_in_translations


def edition_settings(app, config) -> None:
    """The site's title in the edition's language, from the catalogue that translates the
    introduction's heading of the same words; myst-nb's folded-cell buttons in that language; the
    search's words."""
    if config.language == "en":
        return
    for name, value in CODE_PROMPTS.get(config.language, {}).items():
        setattr(config, name, value)
    if config.language.startswith("zh"):
        search_glossary_terms(app, config)
    from babel.messages.pofile import read_po

    for catalogue in sorted((LOCALES / config.language / "LC_MESSAGES").rglob("*.po")):
        with catalogue.open("rb") as handle:
            message = read_po(handle).get(config.html_title)
        if message is not None and message.string and not message.fuzzy:
            config.html_title = message.string
            return
    raise ExtensionError(f"the book's title {config.html_title!r} has no {config.language} translation "
                         f"in {LOCALES.relative_to(ROOT)}/{config.language}; run `make translation-status`")


def search_glossary_terms(app, config) -> None:
    """Chinese has no spaces between words: Sphinx's search cuts the text into words with jieba,
    which is told the glossary's terms (条件变分自编码器, 重要性采样, ...), so that a reader's search
    for one of them finds it as a word."""
    try:
        import jieba  # noqa: F401
    except ImportError:
        raise ExtensionError("the Chinese site's search needs jieba to find words: pip install jieba "
                             "(requirements.txt lists it)") from None
    from translations import read_glossary  # book/_ext, beside this file

    words = Path(app.doctreedir) / "glossary-words.txt"
    words.parent.mkdir(parents=True, exist_ok=True)
    terms = {term for chinese in read_glossary().values() for term in re.split(r"[\s（）()]+", chinese)}
    words.write_text("".join(f"{term}\n" for term in sorted(terms) if len(term) > 1), encoding="utf-8")
    config.html_search_options = {**(config.html_search_options or {}), "dict": str(words)}


def edition_links(app, pagename, templatename, context, doctree) -> None:
    """A link from each page to the same page in the other editions, at the top of the article, and
    ``<link rel="alternate" hreflang>`` in the head for search engines."""
    language = app.config.language
    if language not in EDITIONS or doctree is None:
        return
    to_site_root = "../" * pagename.count("/") + ("../" if EDITIONS[language][0] else "")
    links, alternates = [], []
    for other, (folder, text) in EDITIONS.items():
        href = html.escape(f"{to_site_root}{folder}{pagename}.html")
        alternates.append(f'<link rel="alternate" hreflang="{HTML_LANG[other]}" href="{href}">')
        if other != language:
            links.append(f'<a class="edition-link" href="{href}" hreflang="{HTML_LANG[other]}" '
                         f'lang="{HTML_LANG[other]}">{html.escape(text)}</a>')
    context["metatags"] = context.get("metatags", "") + "\n".join(alternates)
    context["body"] = f'<nav class="book-editions" aria-label="Editions">{" ".join(links)}</nav>\n' + context["body"]


def run_this_chapter(app, pagename, templatename, context, doctree) -> None:
    """Under a notebook's first paragraph: how to run it (its setup cells are not on the page)."""
    if (doctree is None or pagename == app.config.root_doc  # the introduction has a section on running the book
            or not str(app.env.doc2path(pagename)).endswith(".ipynb") or "body" not in context):
        return
    options = app.config.html_theme_options
    repository = options.get("repository_url", "").rstrip("/").removeprefix("https://github.com/")
    colab = options.get("launch_buttons", {}).get("colab_url", "https://colab.research.google.com").rstrip("/")
    notebook = f"{pagename}.ipynb"
    href = f"{colab}/github/{repository}/blob/{options.get('repository_branch', 'main')}/{notebook}"
    sentence = RUN_CHAPTER.get(app.config.language, RUN_CHAPTER["en"]).format(colab=html.escape(href),
                                                                                notebook=html.escape(notebook))
    body = context["body"]
    first = body.find("</p>", body.find("<h1"))
    if first != -1:
        end = first + len("</p>")
        context["body"] = body[:end] + f'\n<p class="run-chapter">{sentence}</p>' + body[end:]


def accessible_names(app, pagename, templatename, context, doctree) -> None:
    """What a screen reader announces is what the page shows: myst-nb names every folded cell
    "Toggle hidden content" over its visible "Show code cell source", and docutils marks references
    with the deprecated role doc-biblioentry, which a list may not hold. A translated edition's fold
    buttons name the folded part in its language."""
    if "body" in context:
        body = context["body"].replace('<summary aria-label="Toggle hidden content">', "<summary>")
        body = body.replace('role="doc-biblioentry"', 'role="listitem"')
        for prompt in CODE_PROMPTS.get(app.config.language, {}).values():
            for part, said in FOLDED_PARTS[app.config.language].items():  # "outputs" before "output"
                body = body.replace(prompt.replace("{type}", part), prompt.replace("{type}", said))
        context["body"] = body


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
    app.config.templates_path.insert(0, str(ROOT / "book" / "_templates"))  # before the theme's own
    app.add_css_file("book.css")
    app.add_js_file("book.js", defer="defer")
    app.connect("builder-inited", check_mathjax)
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", unique_scripts, priority=900)  # after every extension added its own
    app.connect("html-page-context", edition_links)
    app.connect("html-page-context", run_this_chapter)
    app.connect("html-page-context", accessible_names)
    app.connect("config-inited", edition_settings)
    app.add_transform(NumbersAreNotTranslated)
    glue_in_translated_paragraphs()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
