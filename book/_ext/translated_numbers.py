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
* after Sphinx's translation, any text of a translated edition that is still English is a warning
  naming the message (the build runs with warnings as errors): a sentence whose *words* changed
  needs its translation (`python book/_ext/translations.py update`, then translate it).
"""
from __future__ import annotations

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
        for _, message in extract_messages(self.document):
            if message in table or template(message) not in templates:
                continue
            adapted = adapt(*templates[template(message)], message)
            if adapted is not None:
                table[message] = adapted


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
    app.add_transform(TranslateByTemplate)
    app.add_transform(NoEnglishLeft)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
