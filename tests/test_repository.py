"""One repository setting (_config.yml); the Colab install cells and source links follow it."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cvae_lib.repository import Repository, RepositoryError, install_cells, read_repository, set_repository

ROOT = Path(__file__).resolve().parents[1]


def test_every_install_cell_installs_from_the_configured_repository_and_branch():
    repository = read_repository(ROOT)
    cells = install_cells(ROOT)
    assert len(cells) == 10
    for name, source in cells.items():
        assert f'%pip install --quiet "{repository.install_requirement}"' in source, (
            f"{name} installs from elsewhere; run `python -m cvae_lib repository`")


def test_links_to_repository_files_name_the_configured_repository():
    repository = read_repository(ROOT)
    for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
        text = "".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])
        for link in set(re.findall(r"https://github\.com/[^/\s)\"]+/[^/\s)\"]+/blob/[^/\s)\"]+/", text)):
            if "pyro-ppl" in link:
                continue  # Pyro's own example, not this book
            assert link == f"{repository.url}/blob/{repository.branch}/", f"{path.name} links {link}"


@pytest.fixture
def book_copy(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path)
    (tmp_path / "book").mkdir()
    for name in ("04_training.ipynb", "05_evaluation.ipynb"):
        shutil.copy(ROOT / "book" / name, tmp_path / "book" / name)
    (tmp_path / "cvae_lib").mkdir()
    shutil.copy(ROOT / "cvae_lib" / "published_models.json", tmp_path / "cvae_lib")
    return tmp_path


def test_one_command_moves_the_whole_book_to_another_repository(book_copy):
    new, changed = set_repository("https://github.com/someone/cvae-notes", "edition-2", root=book_copy)
    assert new == Repository("https://github.com/someone/cvae-notes", "edition-2")
    assert read_repository(book_copy) == new
    assert "# the one place" in (book_copy / "_config.yml").read_text()  # its comments are kept
    assert {path.name for path in changed} == {"04_training.ipynb", "05_evaluation.ipynb", "published_models.json"}
    manifest = json.loads((book_copy / "cvae_lib" / "published_models.json").read_text())
    assert manifest["archive"]["url"].startswith("https://github.com/someone/cvae-notes/releases/download/")
    for source in install_cells(book_copy).values():
        assert 'git+https://github.com/someone/cvae-notes@edition-2"' in source
    training = (book_copy / "book" / "04_training.ipynb").read_text()
    assert "https://github.com/someone/cvae-notes/blob/edition-2/cvae_lib/loop.py" in training
    assert "cvae-book/cvae-book" not in training
    # a second run finds nothing to do
    assert set_repository(root=book_copy)[1] == []


def test_an_edit_of_the_config_followed_by_the_command_also_works(book_copy):
    config = book_copy / "_config.yml"
    config.write_text(config.read_text().replace("cvae-book/cvae-book", "someone/else"))
    set_repository(root=book_copy)
    assert all("git+https://github.com/someone/else@main" in s for s in install_cells(book_copy).values())


@pytest.mark.parametrize("url", ["https://gitlab.com/a/b", "https://github.com/a/b.git",
                                 "https://github.com/a", "github.com/a/b"])
def test_a_url_that_is_not_a_github_repository_is_refused_in_one_line(book_copy, url):
    before = (book_copy / "_config.yml").read_text()
    with pytest.raises(RepositoryError, match="https://github.com/<owner>/<name>"):
        set_repository(url, root=book_copy)
    assert (book_copy / "_config.yml").read_text() == before


def test_the_command_line_says_what_it_did_and_refuses_bad_input(book_copy):
    run = subprocess.run([sys.executable, "-m", "cvae_lib", "repository", "https://github.com/a/b.git"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "python -m cvae_lib: error: repository URL 'https://github.com/a/b.git' is not of the form "
        "https://github.com/<owner>/<name>"]
