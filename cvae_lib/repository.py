"""Where the book lives: the one repository setting, and everything that must follow it.

``_config.yml`` names the repository and branch (``repository: url, branch``). Jupyter Book's
launch and repository buttons read them from there; the Colab install cell of every notebook and
the source links in the chapters' prose are written from them by
``python -m cvae_lib repository`` (with a URL it first writes the new setting into
``_config.yml``), and so is the download URL of the published models (:mod:`cvae_lib.published`).
``tests/test_repository.py`` fails when a notebook names another repository.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from .published import MANIFEST_PATH, Manifest
from .settings import project_root
from .util import atomic_write_text

CONFIG_FILE = "_config.yml"
INSTALL_CELL_MARK = '"google.colab" in sys.modules'  # how the Colab install cell is recognised
_GITHUB = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")


class RepositoryError(ValueError):
    """A repository setting that cannot be used (message says what to do)."""


@dataclasses.dataclass(frozen=True)
class Repository:
    url: str  # https://github.com/<owner>/<name>
    branch: str

    def __post_init__(self):
        if not _GITHUB.match(self.url) or self.url.endswith(".git"):
            raise RepositoryError(f"repository URL {self.url!r} is not of the form "
                                  "https://github.com/<owner>/<name>")
        if not _BRANCH.match(self.branch) or ".." in self.branch:
            raise RepositoryError(f"branch {self.branch!r} is not a valid branch name")

    @property
    def install_requirement(self) -> str:
        """What the Colab cell gives pip: the library with the book's extras, from this branch."""
        return f"cvae-lib[book] @ git+{self.url}@{self.branch}"

    def source_url(self, path: str) -> str:
        """A file of the repository on GitHub, on this branch."""
        return f"{self.url}/blob/{self.branch}/{path}"


def _repository_block(text: str) -> re.Match:
    block = re.search(r"^repository:\n((?:[ \t]+.*\n?)+)", text, flags=re.MULTILINE)
    if block is None:
        raise RepositoryError(f"{CONFIG_FILE} has no 'repository:' section; add url and branch")
    return block


def _value(block: str, key: str) -> str | None:
    found = re.search(rf"^[ \t]+{key}:[ \t]*([^#\n]*?)[ \t]*(?:#.*)?$", block, flags=re.MULTILINE)
    return found.group(1).strip("'\"") if found else None


def read_repository(root: Path | None = None) -> Repository:
    """The repository and branch named in ``_config.yml``."""
    text = ((root or project_root()) / CONFIG_FILE).read_text()
    block = _repository_block(text).group(1)
    url = _value(block, "url")
    if url is None:
        raise RepositoryError(f"{CONFIG_FILE}: 'repository:' has no url")
    return Repository(url.rstrip("/"), _value(block, "branch") or "main")


def write_repository(repository: Repository, root: Path | None = None) -> None:
    """Set url and branch in ``_config.yml``, keeping its comments and everything else."""
    path = (root or project_root()) / CONFIG_FILE
    text = path.read_text()
    match = _repository_block(text)
    block = match.group(1)
    for key, value in (("url", repository.url), ("branch", repository.branch)):
        line = re.compile(rf"^([ \t]+{key}:[ \t]*)[^#\n]*?([ \t]*(?:#.*)?)$", flags=re.MULTILINE)
        if line.search(block):
            block = line.sub(lambda m: m.group(1) + value + m.group(2), block, count=1)
        else:
            block = block.rstrip("\n") + f"\n  {key}: {value}\n"
    atomic_write_text(text[:match.start(1)] + block + text[match.end(1):], path)


def _rewrite(text: str, old: Repository, new: Repository) -> str:
    text = text.replace(old.install_requirement, new.install_requirement)
    return text.replace(f"{old.url}/blob/{old.branch}/", f"{new.url}/blob/{new.branch}/")


def _notebooks(root: Path | None):
    """(path, notebook) for every chapter of ``book/``, in order."""
    import nbformat

    for path in sorted(((root or project_root()) / "book").glob("[0-9][0-9]_*.ipynb")):
        yield path, nbformat.read(path, as_version=4)


def follow_repository(new: Repository, old: Repository, root: Path | None = None) -> list[Path]:
    """Rewrite every notebook of ``book/`` from ``old`` to ``new``: the Colab install cell and the
    links to files of the repository. Returns the notebooks that changed."""
    import nbformat

    changed = []
    for path, notebook in _notebooks(root):
        touched = False
        for cell in notebook.cells:
            source = _rewrite(cell.source, old, new)
            touched |= source != cell.source
            cell.source = source
        if touched:
            atomic_write_text(nbformat.writes(notebook).rstrip("\n") + "\n", path)
            changed.append(path)
    return changed


def install_cells(root: Path | None = None) -> dict[str, str]:
    """{notebook name: source of its Colab install cell}."""
    return {path.name: next((cell.source for cell in notebook.cells
                             if cell.cell_type == "code" and INSTALL_CELL_MARK in cell.source), "")
            for path, notebook in _notebooks(root)}


def follow_in_manifest(new: Repository, root: Path | None = None) -> bool:
    """Point the published models' download URL at a release of ``new``; whether it changed."""
    path = (root or project_root()) / "cvae_lib" / MANIFEST_PATH.name
    manifest = Manifest.read(path)
    if manifest is None or manifest.url == manifest.with_repository(new.url).url:
        return False
    manifest.with_repository(new.url).write(path)
    return True


def set_repository(url: str | None = None, branch: str | None = None,
                   root: Path | None = None) -> tuple[Repository, list[Path]]:
    """Point the book at ``url``/``branch`` (or, with neither, at what ``_config.yml`` says) and
    make the notebooks and the published models' manifest follow. Returns the setting and the
    files changed."""
    current = read_repository(root)
    new = Repository((url or current.url).rstrip("/"), branch or current.branch)
    old = _written_for(root) or current
    if url or branch:
        write_repository(new, root)
    changed = follow_repository(new, old, root)
    if follow_in_manifest(new, root):
        changed.append((root or project_root()) / "cvae_lib" / MANIFEST_PATH.name)
    return new, changed


def _written_for(root: Path | None) -> Repository | None:
    """The repository the notebooks' install cells name now (None when they name none)."""
    for source in install_cells(root).values():
        found = re.search(r"git\+(https://github\.com/[^\"@\s]+)(?:@([^\"\s]+))?\"", source)
        if found:
            return Repository(found.group(1), found.group(2) or read_repository(root).branch)
    return None
