"""Every claim about other work in the book's prose carries its source (issue 26): each citation key
is in book/references.bib, a chapter that names "Someone et al." cites a work of theirs, and a
chapter that speaks of Pyro's tutorial cites it. Reads the notebooks' text, no build."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
CITATION = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
PYRO_TUTORIAL_KEY = "souza2020cvae"


def bibliography() -> dict[str, str]:
    """Each entry's key and its first author's surname, lower case."""
    text = (BOOK / "references.bib").read_text()
    entries = {}
    for key, body in re.findall(r"@\w+\{([^,]+),(.*?)\n\}", text, flags=re.S):
        authors = re.search(r"author\s*=\s*\{(.*?)\},?\n", body, flags=re.S).group(1)
        entries[key.strip()] = authors.split(" and ")[0].split(",")[0].strip(" {}").lower()
    return entries


def prose(notebook: Path) -> str:
    """The text a reader reads: Markdown cells and Markdown outputs."""
    cells = json.loads(notebook.read_text())["cells"]
    parts = []
    for cell in cells:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("data", {}).get("text/markdown", [])))
    return "\n".join(parts)


def cited(text: str) -> set[str]:
    return {key.strip() for keys in CITATION.findall(text) for key in keys.split(",")}


def test_the_bibliography_is_read_as_intended():
    entries = bibliography()
    assert entries["sohn2015learning"] == "sohn" and entries[PYRO_TUTORIAL_KEY] == "souza"
    assert cited("as {cite}`a, b` and {cite:p}`c`") == {"a", "b", "c"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_citation_key_is_in_the_bibliography(notebook):
    missing = cited(prose(notebook)) - set(bibliography())
    assert not missing, f"{notebook.name} cites keys that book/references.bib lacks: {sorted(missing)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_chapter_that_names_authors_cites_their_work(notebook):
    text, entries = prose(notebook), bibliography()
    surnames_cited = {entries[key] for key in cited(text) if key in entries}
    named = {name.lower() for name in re.findall(r"\b([A-Z][a-z]+) et al\.", text)}
    uncited = named - surnames_cited
    assert not uncited, f"{notebook.name} names {sorted(uncited)} et al. without citing a work of theirs"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_chapter_that_speaks_of_pyros_tutorial_cites_it(notebook):
    text = prose(notebook)
    if re.search(r"Pyro's (CVAE )?(tutorial|example)", text):
        assert PYRO_TUTORIAL_KEY in cited(text), f"{notebook.name} speaks of Pyro's tutorial without citing it"


def test_every_entry_of_the_bibliography_is_cited_somewhere():
    everywhere = set().union(*(cited(prose(notebook)) for notebook in NOTEBOOKS))
    assert set(bibliography()) <= everywhere, sorted(set(bibliography()) - everywhere)
