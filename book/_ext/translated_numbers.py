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
* after Sphinx's translation, any text of a translated edition that is still English is a warning
  naming the message (the build runs with warnings as errors): a sentence whose *words* changed
  needs its translation (`python book/_ext/translations.py update`, then translate it).
"""
from __future__ import annotations

import html
import os
import re

from docutils import nodes
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.i18n import docname_to_domain
from sphinx.util.nodes import extract_messages

logger = logging.getLogger(__name__)
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")  # as book/_ext/translations.py counts numbers
PLACEHOLDER = "\x00"
LATIN = re.compile(r"[A-Za-z]")
# what HTML printed by code shows a reader: attribute values, and the text of labels, options, buttons
HTML_WORDS = re.compile(r'(?P<before>\b(?:alt|aria-label|title)=")(?P<attribute>[^"<>]*[A-Za-z][^"<>]*)"'
                        r'|(?P<tag><(?:label|option|button)\b[^>]*>)(?P<text>[^<]*[A-Za-z][^<]*)(?=<)')


def html_messages(markup: str) -> list[str]:
    """The messages of a piece of HTML, unescaped and trimmed, in order."""
    return [html.unescape(match["attribute"] or match["text"]).strip() for match in HTML_WORDS.finditer(markup)]


def translate_html(markup: str, translate) -> tuple[str, list[str]]:
    """``markup`` with its messages replaced by ``translate(message)``; the messages it had no
    translation for (``translate`` returned None) are left and listed."""
    missing = []

    def replace(match):
        text = match["attribute"] if match["attribute"] is not None else match["text"]
        message = html.unescape(text).strip()
        translated = translate(message)
        if translated is None:
            missing.append(message)
            return match.group()
        escaped = text.replace(text.strip(), html.escape(translated, quote=match["attribute"] is not None), 1)
        return (match["before"] + escaped + '"') if match["attribute"] is not None else match["tag"] + escaped

    return HTML_WORDS.sub(replace, markup), missing


def _html_outputs(document):
    return [node for node in document.findall(nodes.raw) if "html" in node.get("format", "").split()]


class HtmlWordsAreMessages(SphinxTransform):
    """For the message catalogues (the gettext builder): each message of HTML printed by code as a
    paragraph of its own beside that HTML, so that it is extracted like the prose."""

    default_priority = 11

    def apply(self, **kwargs) -> None:
        if self.app.builder.name != "gettext":
            return
        for raw in _html_outputs(self.document):
            for message in dict.fromkeys(html_messages(raw.astext())):
                paragraph = nodes.paragraph(message, message)
                paragraph.source, paragraph.line = raw.source or self.document["source"], raw.line or 1
                raw.parent.insert(raw.parent.index(raw) + 1, paragraph)


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
            raw.replace(raw.children[0], nodes.Text(translated))
            for message in missing:
                logger.warning(f"not translated into {self.config.language}, shown in English (HTML printed by "
                               f"code): {message[:100]!r} (run `python book/_ext/translations.py update` and "
                               f"translate it)", location=raw)


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
