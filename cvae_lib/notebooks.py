"""Executing the book: run every chapter in place and record how long each took.

``python -m cvae_lib execute-book`` (``make book-execute``) calls :func:`execute_notebooks`.
It needs ``nbclient`` and ``nbformat`` (the ``book`` extra and ``requirements.txt`` declare
them); nothing else in the library imports this module.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .book import BOOK_DIR, TIMINGS_FILE
from .results import provenance
from .settings import CHECKPOINT_DIR_ENV, DATA_DIR_ENV, PROFILE_ENV, RunProfile, project_root
from .util import atomic_write_json, atomic_write_text


def book_notebooks(root: Path | None = None) -> list[Path]:
    """The chapters in reading order (the introduction last: it reports the others' timings)."""
    folder = (root or project_root()) / BOOK_DIR
    chapters = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))
    return chapters + sorted(folder.glob("00_*.ipynb"))


def kernel_environment(profile: RunProfile) -> None:
    """What the kernels inherit: the profile, and the folders as absolute paths.

    A relative ``$CVAE_DATA_DIR`` or ``$CVAE_CHECKPOINT_DIR`` means "relative to where the
    command was typed"; the kernels start in ``book/`` and would otherwise look one folder too deep.
    """
    os.environ[PROFILE_ENV] = profile.name
    for name in (DATA_DIR_ENV, CHECKPOINT_DIR_ENV):
        value = os.environ.get(name)
        if value and not Path(value).is_absolute():
            os.environ[name] = str(Path(value).resolve())


def execute_notebooks(profile: RunProfile, notebooks=None, timeout: int = 7200, log=print) -> dict:
    """Run every notebook in place under ``profile`` and record each one's wall time.

    The timings go to ``book/timings.json`` (read by the introduction) before the
    introduction itself runs, so it shows this run's figures.
    """
    import nbformat
    from nbclient import NotebookClient

    kernel_environment(profile)
    notebooks = [Path(p) for p in (notebooks or book_notebooks())]
    timings_path = project_root() / BOOK_DIR / TIMINGS_FILE
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    timings["last_profile"] = profile.name  # which profile the stored outputs come from
    entry = timings.setdefault(profile.name, {})
    entry.update(provenance())
    seconds = entry.setdefault("seconds", {})
    for path in notebooks:
        if path.name.startswith("00_"):
            atomic_write_json(timings, timings_path)
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        # The widget state is recorded (nbclient 0.11 fails on an Output widget without it), then
        # dropped: the static page shows a precomputed explorer, not dead sliders.
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False, store_widget_state=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        nb.metadata.pop("widgets", None)
        seconds[path.stem] = round(time.perf_counter() - start, 1)
        atomic_write_text(nbformat.writes(nb) + "\n", path)
        log(f"{path.name}: {seconds[path.stem]:.0f} s")
    atomic_write_json(timings, timings_path)
    return timings
