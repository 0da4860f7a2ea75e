"""Sphinx extension: computed prose stays translated when its numbers change, and an edition never
falls back to English in silence.

Much of the book's prose is Markdown printed by code ("the CVAE scores 63.4 nats, 9.3 below the
baseline"), with the numbers of the last run in it. A re-run that changes one digit makes a new
message that no catalogue holds, and Sphinx would show that paragraph in English. Here

* a message missing from the edition's catalogue is looked up by its *template*, the message with
  every number replaced by a placeholder; when the catalogue holds a message of the same template
  (the same sentence with the numbers of an earlier run), its translation is used with each old
  number replaced by the new one at the same place in the English (a number the translation must
  carry, tests/test_translations.py checks it). The words are translated once; the numbers are the
  run's.
* the words that HTML printed by code shows a reader (a figure's ``alt``, ``aria-label`` and
  ``title`` attributes, the text of labels, options and buttons: the training video's player,
  chapter 5's explorer) are messages too: extracted with the prose, put back translated;
* the comments of the code a page shows (code cells, and the library's source that a chapter
  prints with ``cvae_lib.book.show_source``) are messages too, as in the Chinese d2l;
* the words of the notebooks' figures (SVG, their words kept as text:
  ``cvae_lib.plots.draw_notebook_figures_as_svg``): titles, labels, legends are messages too; a
  translated edition shows a copy of each figure with its words translated, and with room for them
  (``figure_room``: a wider word grows the canvas or the legend; one that overlaps another is a
  warning);
* after Sphinx's translation, any text of a translated edition that is still English is a warning
  naming the message (the build runs with warnings as errors): a sentence whose *words* changed
  needs its translation (`python book/_ext/translations.py update`, then translate it).
"""
from __future__ import annotations

import base64
import html
import io
import os
import re
import tokenize

from docutils import nodes
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.i18n import docname_to_domain
from sphinx.util.nodes import extract_messages

from figure_room import make_room  # book/_ext is on Sphinx's path (local_extensions)

logger = logging.getLogger(__name__)
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")  # as book/_ext/translations.py counts numbers
PLACEHOLDER = "\x00"
LATIN = re.compile(r"[A-Za-z]")
# what HTML printed by code shows a reader: attribute values, and the text of labels, options, buttons
HTML_WORDS = re.compile(r'(?P<before>\b(?:alt|aria-label|title)=")(?P<attribute>[^"<>]*[A-Za-z][^"<>]*)"'
                        r'|(?P<tag><(?:label|option|button)\b[^>]*>)(?P<text>[^<]*[A-Za-z][^<]*)(?=<)')


# a comment in code that Pygments highlighted (the library's source shown by a chapter)
HTML_COMMENTS = re.compile(r'(?P<tag><span class="c1?">#+\s*)(?P<text>[^<]*[A-Za-z][^<]*)(?=</span>)')
# a figure embedded in HTML printed by code (chapter 5's explorer, chapter 4's training video): matplotlib's
# player breaks the base64 of its frames into lines that end with a backslash
EMBEDDED_SVG = re.compile(r"data:image/svg\+xml;base64,(?P<data>[A-Za-z0-9+/=\\\n]+)")
# what a figure shows a reader: matplotlib writes each line of a title, label or legend as one <text>
SVG_WORDS = re.compile(r"(?P<tag><text\b[^>]*>)(?P<text>[^<]*[A-Za-z][^<]*)(?=</text>)")


def html_messages(markup: str, pattern: re.Pattern = HTML_WORDS) -> list[str]:
    """The messages of a piece of HTML (or of an SVG figure), unescaped and trimmed, in order."""
    return [html.unescape(match.groupdict().get("attribute") or match["text"]).strip()
            for match in pattern.finditer(markup)]


def translate_html(markup: str, translate, pattern: re.Pattern = HTML_WORDS) -> tuple[str, list[str]]:
    """``markup`` with its messages replaced by ``translate(message)``; the messages it had no
    translation for (``translate`` returned None) are left and listed."""
    missing = []

    def replace(match):
        attribute = match.groupdict().get("attribute")
        text = attribute if attribute is not None else match["text"]
        message = html.unescape(text).strip()
        translated = translate(message)
        if translated is None:
            missing.append(message)
            return match.group()
        escaped = text.replace(text.strip(), html.escape(translated, quote=attribute is not None), 1)
        return (match["before"] + escaped + '"') if attribute is not None else match["tag"] + escaped

    return pattern.sub(replace, markup), missing


def embedded_svgs(markup: str) -> list[str]:
    return [base64.b64decode(re.sub(r"[\\\n]", "", match["data"])).decode("utf-8")
            for match in EMBEDDED_SVG.finditer(markup)]


def translate_embedded_svgs(markup: str, translate) -> tuple[str, list[str], list[str]]:
    """``markup`` with the words of every SVG figure embedded in it translated, with room for them
    (``figure_room``); the words left in English listed, and the translated words that crowd another."""
    missing, crowding = [], []

    def replace(match):
        svg = base64.b64decode(re.sub(r"[\\\n]", "", match["data"])).decode("utf-8")
        translated, left = translate_html(svg, translate, SVG_WORDS)
        translated, crowded = make_room(svg, translated)
        missing.extend(left)
        crowding.extend(crowded)
        return "data:image/svg+xml;base64," + base64.b64encode(translated.encode("utf-8")).decode("ascii")

    return EMBEDDED_SVG.sub(replace, markup), missing, crowding


def code_comments(source: str) -> list[tuple[int, int, str]]:
    """The comments with words in a cell's Python code: (where the words start, where they end, the
    words), by Python's own tokenizer, so a ``#`` inside a string ("#9db4d0") is not one."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    found = []
    for token in tokens:
        if token.type == tokenize.COMMENT:
            marker = re.match(r"#+\s*", token.string)
            words = token.string[marker.end():].rstrip()
            if LATIN.search(words):
                start = starts[token.start[0] - 1] + token.start[1] + marker.end()
                found.append((start, start + len(words), words))
    return found


def translate_code(source: str, translate) -> tuple[str, list[str]]:
    """``source`` with the words of its comments translated; the comments left in English listed."""
    missing = []
    for start, end, words in reversed(code_comments(source)):
        translated = translate(words)
        if translated is None:
            missing.append(words)
        else:
            source = source[:start] + translated + source[end:]
    return source, missing[::-1]


def _code_cells(document) -> list[nodes.literal_block]:
    """The code of the notebook's cells on the page (myst-nb puts each in a ``cell_input`` container)."""
    return [block for block in document.findall(nodes.literal_block)
            if isinstance(block.parent, nodes.container) and "cell_input" in block.parent.get("classes", [])]


def _html_outputs(document):
    return [node for node in document.findall(nodes.raw) if "html" in node.get("format", "").split()]


def _svg_figures(transform: SphinxTransform) -> list[tuple[nodes.image, str]]:
    """The SVG figures of a notebook's outputs (written by myst-nb before the transforms run) and
    their files."""
    found = []
    for image in transform.document.findall(nodes.image):
        uri = image.get("uri", "")
        if uri.endswith(".svg") and "jupyter_execute" in uri:
            found.append((image, transform.env.relfn2path(uri, transform.env.docname)[1]))
    return found


class HtmlWordsAreMessages(SphinxTransform):
    """For the message catalogues (the gettext builder): each message of HTML printed by code as a
    paragraph of its own beside that HTML, so that it is extracted like the prose."""

    default_priority = 11

    def apply(self, **kwargs) -> None:
        if self.app.builder.name != "gettext":
            return
        for raw in _html_outputs(self.document):
            markup = raw.astext()
            messages = html_messages(markup) + html_messages(markup, HTML_COMMENTS)
            for svg in embedded_svgs(markup):
                messages += html_messages(svg, SVG_WORDS)
            _add_messages(raw, messages, self.document)
        for block in _code_cells(self.document):
            _add_messages(block, [words for *_, words in code_comments(block.astext())], self.document)
        for image, path in _svg_figures(self):
            with open(path, encoding="utf-8") as handle:
                _add_messages(image, html_messages(handle.read(), SVG_WORDS), self.document)


def _add_messages(node: nodes.Element, messages: list[str], document) -> None:
    for message in reversed(list(dict.fromkeys(messages))):
        paragraph = nodes.paragraph(message, message)
        paragraph.source, paragraph.line = node.source or document["source"], node.line or 1
        node.parent.insert(node.parent.index(node) + 1, paragraph)


def template(message: str) -> str:
    return NUMBER.sub(PLACEHOLDER, message)


def adapt(english: str, translation: str, new_english: str) -> str | None:
    """``translation`` (of ``english``) for ``new_english``, a message of the same template: each
    number of the English replaced by the new message's number at its place. ``None`` when that is
    ambiguous (one old number that became two different ones)."""
    old, new = NUMBER.findall(english), NUMBER.findall(new_english)
    if len(old) != len(new):
        return None
    mapping: dict[str, str] = {}
    for before, after in zip(old, new):
        if mapping.setdefault(before, after) != after:
            return None
    return NUMBER.sub(lambda match: mapping.get(match.group(), match.group()), translation)


def _catalogue(transform: SphinxTransform) -> dict | None:
    """The edition's message table of the current document (Sphinx's own, which it reads next)."""
    domain = docname_to_domain(transform.env.docname, transform.config.gettext_compact)
    folders = [os.path.join(transform.env.srcdir, folder) for folder in transform.config.locale_dirs]
    catalog, found = init_locale(folders, transform.config.language, domain)
    return getattr(catalog, "_catalog", None) if found else None


class TranslateByTemplate(SphinxTransform):
    """Before Sphinx's ``Locale`` (priority 20): give messages of a known template their translation."""

    default_priority = 19

    def apply(self, **kwargs) -> None:
        if self.config.language in (None, "en"):
            return
        for image in self.document.findall(nodes.image):  # Sphinx translates an alt text without marking it
            if image.get("alt"):
                image["english_alt"] = image["alt"]
        table = _catalogue(self)
        if not table:
            return
        templates = {}
        for english, translation in list(table.items()):
            if isinstance(english, str) and english and translation and NUMBER.search(english):
                templates.setdefault(template(english), (english, translation))
        def translate(message):
            if message in table and table[message]:
                return table[message]
            if template(message) in templates:
                return adapt(*templates[template(message)], message)
            return None

        for _, message in extract_messages(self.document):
            if message not in table and translate(message) is not None:
                table[message] = translate(message)
        for raw in _html_outputs(self.document):
            translated, missing = translate_html(raw.astext(), translate)
            translated, comments = translate_html(translated, translate, HTML_COMMENTS)
            translated, figures, crowding = translate_embedded_svgs(translated, translate)
            missing += comments + figures
            raw.replace(raw.children[0], nodes.Text(translated))
            _warn_crowded(crowding, self.config.language, raw)
            for message in missing:
                logger.warning(f"not translated into {self.config.language}, shown in English (HTML printed by "
                               f"code): {message[:100]!r} (run `python book/_ext/translations.py update` and "
                               f"translate it)", location=raw)
        for block in _code_cells(self.document):
            translated, missing = translate_code(block.astext(), translate)
            # the same text in rawsource, or the HTML writer takes it for a parsed literal and does not highlight it
            block.rawsource = translated
            block.replace(block.children[0], nodes.Text(translated))
            for message in missing:
                logger.warning(f"not translated into {self.config.language}, shown in English (a comment in "
                               f"code): {message[:100]!r} (run `python book/_ext/translations.py update` and "
                               f"translate it)", location=block)
        for image, path in _svg_figures(self):
            with open(path, encoding="utf-8") as handle:
                english = handle.read()
            translated, missing = translate_html(english, translate, SVG_WORDS)
            translated, crowding = make_room(english, translated)
            _warn_crowded(crowding, self.config.language, image)
            stem, _ = os.path.splitext(path)
            with open(f"{stem}.{self.config.language}.svg", "w", encoding="utf-8") as handle:
                handle.write(translated)
            image["uri"] = f"{image['uri'][:-len('.svg')]}.{self.config.language}.svg"
            for message in missing:
                logger.warning(f"not translated into {self.config.language}, shown in English (a figure's "
                               f"words): {message[:100]!r} (run `python book/_ext/translations.py update` and "
                               f"translate it)", location=image)


def _warn_crowded(crowding: list[str], language: str, location) -> None:
    for pair in dict.fromkeys(crowding):
        logger.warning(f"in the {language} edition a figure's translated words overlap: {pair} (choose shorter "
                       f"words for one of them in locales/{language}/LC_MESSAGES)", location=location)


class NoEnglishLeft(SphinxTransform):
    """After Sphinx's ``Locale``: every message of a translated edition was translated."""

    default_priority = 21

    def apply(self, **kwargs) -> None:
        if self.config.language in (None, "en"):
            return  # a document without a catalogue has no translated marks, and no warning
        for node in self.document.findall(nodes.Element):
            if isinstance(node, nodes.image) and "english_alt" in node:
                if node.attributes.pop("english_alt") != node["alt"]:
                    continue  # its alt text was translated
            # a title that an extension wrote in the edition's language (sphinx-exercise's 练习) is not English
            if node.get("translated") is False and LATIN.search(node.astext()):
                logger.warning(f"not translated into {self.config.language}, shown in English: "
                               f"{node.astext()[:100]!r} (run `python book/_ext/translations.py update` "
                               f"and translate it)", location=node)


def setup(app):
    app.add_transform(HtmlWordsAreMessages)
    app.add_transform(TranslateByTemplate)
    app.add_transform(NoEnglishLeft)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
