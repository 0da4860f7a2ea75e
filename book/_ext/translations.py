"""The book's Chinese edition: the English chapters stay the one source of text, code and outputs;
``locales/zh_CN/LC_MESSAGES/book/<chapter>.po`` hold the Chinese of every paragraph, heading,
caption and exercise (Sphinx's gettext translation, ``sphinx-intl``).

    python book/_ext/translations.py update   # after an English edit: the catalogues follow it
    python book/_ext/translations.py status   # per chapter: translated, fuzzy, untranslated
    python book/_ext/translations.py build    # the Chinese site into _build/html/zh_CN/

``status`` exits with 1 unless every message of the current English text has a translation that is
not fuzzy (CI runs it through tests/test_translations.py). ``build`` comes after the English build
(`jupyter-book build .`), since the Chinese site lies inside the English one.
"""
from __future__ import annotations

import argparse
import collections
import io
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
LANGUAGES = ("zh_CN",)
GLOSSARY = LOCALES / "zh_CN" / "glossary.md"


def extract_messages(out: Path) -> Path:
    """The English text's message templates (``.pot``, one per chapter) in ``out/_build/gettext``."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run([str(jupyter_book), "build", str(ROOT), "--builder", "custom", "--custom-builder",
                           "gettext", "--path-output", str(out), "-W", "--quiet"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"extracting the English messages failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return out / "_build" / "gettext"


# what a translation must carry over unchanged: MyST roles ({doc}`...`), inline code, math, link targets
KEPT = re.compile(r"\{[\w:-]+\}`[^`]*`|``[^`]+``|`[^`]+`|\$\$.+?\$\$|\$[^$]+\$|\]\([^)\s]+\)")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
# a translated message is parsed on its own: a heading "3. 条件 VAE" would become a numbered list
BLOCK_START = re.compile(r"(\d+[.)]|[-*+>#])\s")
GLOSSARY_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|")


def read_glossary(path: Path = GLOSSARY) -> dict[str, str]:
    """The checked terms: the first table of the glossary, English -> the one translation."""
    terms, tables = {}, 0
    for line in path.read_text(encoding="utf-8").splitlines():
        row = GLOSSARY_ROW.match(line)
        if row is None:
            tables += bool(terms)
            if tables:
                break
            continue
        english, chinese = row.groups()
        if english != "English" and not set(english) <= {"-"}:
            terms[english] = chinese
    return terms


def _prose(text: str) -> str:
    return KEPT.sub(" ", text)


def translation_problems(english: str, translated: str, glossary: dict[str, str]) -> list[str]:
    """What a translation changed that it must not: markup, numbers, the glossary's terms."""
    problems = []
    kept, carried = collections.Counter(KEPT.findall(english)), collections.Counter(KEPT.findall(translated))
    if kept != carried:
        lost, added = kept - carried, carried - kept
        problems.append(f"code, math, roles and link targets must stay as they are (lost {sorted(lost)}, "
                        f"added {sorted(added)})")
    numbers = collections.Counter(NUMBER.findall(_prose(english)))
    missing = numbers - collections.Counter(NUMBER.findall(_prose(translated)))
    if missing:
        problems.append(f"numbers of the English missing from the translation: {sorted(missing)}")
    if BLOCK_START.match(translated):
        problems.append("it starts like a Markdown list or quote (\"3. \", \"- \", \"> \"), so Sphinx keeps "
                        "the English: write \"3\\. \" for a numbered heading")
    prose = _prose(english).lower()
    for term, chinese in glossary.items():
        if re.search(rf"(?<![\w-]){re.escape(term.lower())}(?:s|es)?(?![\w-])", prose) and chinese not in translated:
            problems.append(f"the glossary's {term!r} is {chinese!r}")
    return problems


def update(language: str) -> None:
    """New and changed English messages into the catalogues (changed ones come back fuzzy)."""
    with tempfile.TemporaryDirectory() as scratch:  # its own doctrees: the html build's do not suit gettext
        templates = extract_messages(Path(scratch))
        subprocess.run([sys.executable, "-m", "sphinx_intl", "update", "--pot-dir", str(templates),
                        "--locale-dir", str(LOCALES), "--language", language, "--line-width", "-1"], check=True)
    for catalogue in (LOCALES / language / "LC_MESSAGES").rglob("*.po"):
        tidy(catalogue)
    print(f"catalogues updated in {(LOCALES / language).relative_to(ROOT)}; translate what "
          f"`python book/_ext/translations.py status` lists, with the terms of "
          f"{GLOSSARY.relative_to(ROOT)}")


def tidy(path: Path) -> None:
    """One catalogue as the repository keeps it: no format flags (Babel marks a message
    "python-format" when it sees "98.18% of", and "python-brace-format" for {cite}`...`; they are
    prose, and `msgfmt -c` would hold the Chinese to them), no messages the English has dropped
    (git remembers them), the book's name and translators in the header."""
    from babel.messages.pofile import write_po

    from translated_numbers import template  # beside this file

    catalogue = read_catalogue(path)
    if path.name == "sphinx.po":  # Sphinx's own words that its Chinese catalogue lacks ("Link to this
        for message in list(catalogue.obsolete.values()):  # heading"): no template of ours holds them
            if message.string:
                catalogue[message.id] = message
    translated = {template(m.id) for m in catalogue if m.id and m.string and not m.fuzzy}
    for message in list(catalogue):  # "test image 2" when "test image 1" is translated: the build fills it in
        if message.id and (not message.string or message.fuzzy) and template(message.id) in translated:
            del catalogue[message.id]
    for message in catalogue:
        message.flags -= {"python-format", "python-brace-format"}
    catalogue.obsolete.clear()
    catalogue.project, catalogue.version = "Conditional VAEs, executable", ""
    catalogue.last_translator = catalogue.language_team = "The CVAE book's translators"
    catalogue.copyright_holder = "The CVAE book authors"
    from cvae_lib.util import atomic_write_bytes

    text = io.BytesIO()
    write_po(text, catalogue, width=0, include_previous=True)
    atomic_write_bytes(text.getvalue(), path)  # never half a catalogue


def read_catalogue(path: Path):
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        return read_po(handle)


def chapter_status(template: Path, catalogue: Path) -> dict[str, list[str]]:
    """The messages of one chapter's current English text, sorted by their state in its catalogue."""
    from translated_numbers import template as numbers_out

    state = {"translated": [], "fuzzy": [], "untranslated": [], "inconsistent": []}
    translations = read_catalogue(catalogue) if catalogue.is_file() else None
    by_template = {numbers_out(m.id): m for m in translations or () if m.id and m.string and not m.fuzzy}
    glossary = read_glossary()
    for message in read_catalogue(template):
        if not message.id:
            continue
        found = translations.get(message.id) if translations is not None else None
        if found is None:  # the same sentence with other numbers: the build translates it from that one
            found = by_template.get(numbers_out(message.id))
            if found is not None:
                state["translated"].append(message.id)
                continue
        if found is None or not found.string:
            state["untranslated"].append(message.id)
        elif found.fuzzy:
            state["fuzzy"].append(message.id)
        else:
            state["translated"].append(message.id)
            for problem in translation_problems(message.id, found.string, glossary):
                state["inconsistent"].append(f"{problem}: {message.id[:80]!r}")
    return state


def status(language: str, limit: int = 3) -> bool:
    """Print each chapter's numbers; True when every message is translated and none is fuzzy."""
    complete = True
    with tempfile.TemporaryDirectory() as scratch:
        templates = extract_messages(Path(scratch))
        print(f"{'chapter':<32}{'messages':>9}{'translated':>11}{'fuzzy':>7}{'untranslated':>13}"
              f"{'inconsistent':>13}")
        for template in sorted(templates.rglob("*.pot")):
            name = template.relative_to(templates).with_suffix("")
            catalogue = LOCALES / language / "LC_MESSAGES" / name.with_suffix(".po")
            state = chapter_status(template, catalogue)
            total = sum(len(state[kind]) for kind in ("translated", "fuzzy", "untranslated"))
            print(f"{name.as_posix():<32}{total:>9}{len(state['translated']):>11}{len(state['fuzzy']):>7}"
                  f"{len(state['untranslated']):>13}{len(state['inconsistent']):>13}")
            for kind in ("fuzzy", "untranslated", "inconsistent"):
                for message in state[kind][:limit]:
                    print(f"    {kind}: {message[:200]!r}" if kind != "inconsistent" else f"    {message}")
            complete &= not state["fuzzy"] and not state["untranslated"] and not state["inconsistent"]
    if not complete:
        print(f"the {language} edition is behind the English text: run `python book/_ext/translations.py "
              f"update`, then translate the fuzzy and untranslated messages in "
              f"{(LOCALES / language).relative_to(ROOT)} and mend the inconsistent ones")
    return complete


def build(language: str, path_output: Path = ROOT) -> Path:
    """The edition's site, built from the stored outputs like the English one (warnings are
    errors), into ``<path_output>/_build/html/<language>/``."""
    from jupyter_book.sphinx import build_sphinx

    english = path_output / "_build" / "html"
    if not (english / "index.html").is_file():
        sys.exit(f"build the English site into {english} first (`jupyter-book build . -W`): the other "
                 "editions lie inside it")
    own = path_output / "_build" / language / "html"  # its own doctrees and jupyter_execute beside it
    failed = build_sphinx(ROOT, own, use_external_toc=True, noconfig=True, path_config=str(ROOT / "_config.yml"),
                          confoverrides={"external_toc_path": (ROOT / "_toc.yml").as_posix(),
                                         "latex_individualpages": False, "language": language},
                          builder="html", warningiserror=True, keep_going=True)
    if failed:
        sys.exit(f"the {language} site did not build (warnings are errors); see above")
    target = english / language
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(own, target)
    print(f"the {language} edition is in {target}/")
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("update", "status", "build"))
    parser.add_argument("--language", default=LANGUAGES[0], choices=LANGUAGES)
    parser.add_argument("--show", type=int, default=3, help="problems listed per chapter and kind (status)")
    parser.add_argument("--path-output", type=Path, default=ROOT,
                        help="where `jupyter-book build --path-output` put the English site (build)")
    args = parser.parse_args(argv)
    if args.command == "update":
        update(args.language)
    elif args.command == "status":
        return 0 if status(args.language, limit=args.show) else 1
    else:
        build(args.language, args.path_output.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
