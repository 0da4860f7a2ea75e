"""Executing the book: run every chapter in place, record how long each took, and show it.

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
from .report import markdown_table
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


# Run after each chapter (and removed): the seconds its loaded checkpoints and evaluations took to make.
_REUSED_PROBE = "from cvae_lib.checkpoints import reused_seconds\nprint(reused_seconds())"
# The longest one chapter may run before it is stopped (the longest from scratch took about 65 min).
NOTEBOOK_TIMEOUT = 4 * 3600


class NotebookFailed(RuntimeError):
    """A chapter stopped with an error or ran past its time; its file was left unchanged."""


def execute_notebook(path: Path) -> dict:
    """Run one notebook in place in a kernel of its own, shut down at the end; return its
    ``seconds`` and the ``reused`` seconds that making its loaded files took.

    Raises :class:`NotebookFailed` naming the cell and the error; the file is then left unchanged.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_REUSED_PROBE))  # asked after the chapter, then removed
    # The widget state is recorded (nbclient 0.11 fails on an Output widget without it), then
    # dropped: the static page shows a precomputed explorer, not dead sliders.
    # The figures' format is the notebook's own (its settings cell: SVG), as in Colab and under nbval.
    client = NotebookClient(nb, timeout=None, kernel_name="python3", record_timing=False, store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()  # starts the kernel, and shuts it down however the run ends
    except CellExecutionError as exc:
        cell = next((i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error"
                                                             for o in c.get("outputs", []))), None)
        where = f"code cell {cell + 1}" if cell is not None else "a cell"
        raise NotebookFailed(f"{where} raised {exc.ename}: {exc.evalue}".strip()) from None
    seconds = time.perf_counter() - start
    probe = nb.cells.pop()
    reused = float(json.loads(probe.outputs[0]["text"])) if probe.outputs else 0.0
    nb.metadata.pop("widgets", None)
    atomic_write_text(nbformat.writes(nb) + "\n", path)
    return {"seconds": seconds, "reused": reused}


def _execute_in_own_process(path: Path, timeout: float) -> dict:
    """:func:`execute_notebook` in a child process of its own session, killed with its kernel when
    it runs past ``timeout`` seconds: one chapter's kernel or client state never reaches the next
    (several chapters in one process used to hang after the first)."""
    import signal
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-m", "cvae_lib.notebooks", str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the child and the kernel it started
        child.communicate()
        limit = f"{timeout / 60:.0f} min" if timeout >= 60 else f"{timeout:.0f} s"
        raise NotebookFailed(f"still running after {limit}, stopped") from None
    except KeyboardInterrupt:
        os.killpg(child.pid, signal.SIGKILL)
        raise
    if child.returncode != 0:
        lines = [line for line in err.splitlines() if line.strip()]
        raise NotebookFailed(lines[-1].removeprefix("error: ") if lines else f"exit status {child.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def _record_timing(path: Path, profile: str, notebook: str | None = None, seconds: float = 0.0,
                   from_scratch: float = 0.0) -> dict:
    """Write one notebook's times into ``book/timings.json`` at once, read just before: an
    execute-book running beside another (each on its own chapters) keeps the other's times."""
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings["last_profile"] = profile  # which profile the stored outputs come from
    entry = timings.setdefault(profile, {})
    entry.update(provenance())
    if notebook is not None:
        entry.setdefault("seconds", {})[notebook] = round(seconds, 1)
        entry.setdefault("from_scratch_seconds", {})[notebook] = round(from_scratch, 1)
    atomic_write_json(timings, path)
    return timings


def execute_notebooks(profile: RunProfile, notebooks=None, timeout: float = NOTEBOOK_TIMEOUT, log=print,
                      timings_path: Path | None = None) -> dict:
    """Run every notebook in place under ``profile``, each in its own process and kernel with at most
    ``timeout`` seconds, and record each one's wall time.

    Each notebook's times go to ``book/timings.json`` (read by the introduction) as it finishes,
    so the introduction, run last, shows this run's figures. A chapter that fails is named in one line and left
    unchanged, the others still run; then :class:`NotebookFailed` lists the failed ones.
    """
    kernel_environment(profile)
    notebooks = [Path(p) for p in (notebooks or book_notebooks())]
    timings_path = timings_path or project_root() / BOOK_DIR / TIMINGS_FILE
    timings = _record_timing(timings_path, profile.name)
    failed = []
    for path in notebooks:
        try:
            run = _execute_in_own_process(path, timeout)
        except NotebookFailed as exc:
            failed.append(path.name)
            log(f"{path.name}: failed, left unchanged: {exc}")
            continue
        # the time with nothing to load: the measured time plus what making the loaded files took
        timings = _record_timing(timings_path, profile.name, path.stem, run["seconds"], run["seconds"] + run["reused"])
        entry = timings[profile.name]
        log(f"{path.name}: {entry['seconds'][path.stem]:.0f} s "
            f"(from scratch: {entry['from_scratch_seconds'][path.stem]:.0f} s)")
    if failed:
        raise NotebookFailed(f"{len(failed)} of {len(notebooks)} notebooks failed ({', '.join(failed)}); "
                             "open one in Jupyter and run it to see the whole traceback")
    return timings


def timings_markdown(root=None):
    """How long each chapter takes, from ``book/timings.json``: with the models on disk (published or
    from an earlier run), from scratch (that time plus what making the loaded files took, as stored
    in them), and as a ``fast`` smoke run; then what the published models' download adds."""
    from IPython.display import Markdown

    from .published import MANIFEST_PATH, Manifest

    root = root or project_root()
    path = root / BOOK_DIR / TIMINGS_FILE
    timings = json.loads(path.read_text()) if path.exists() else {}
    full, fast = timings.get("full") or {}, timings.get("fast") or {}
    chapters = sorted(name for name in set(full.get("seconds", {})) | set(fast.get("seconds", {}))
                      if not name.startswith("00_"))  # this page itself
    if not chapters:
        return Markdown("*No timings recorded yet: run `make book-execute`.*")

    def minutes(entry, key, chapter):  # the unit in the header: a bare number is not re-translated per run
        value = entry.get(key, {}).get(chapter)
        return "–" if value is None else f"{value / 60:.1f}"

    rows = [[chapter, minutes(full, "seconds", chapter), minutes(full, "from_scratch_seconds", chapter),
             minutes(fast, "seconds", chapter)] for chapter in chapters]
    header = ["chapter", "`full`, models on disk (minutes)", "`full`, from scratch (minutes)",
              "`fast` smoke run (minutes)"]
    table = markdown_table(header, rows, "lrrr")
    machines = "; ".join(f"`{name}`: {entry['machine']}" for name, entry in (("full", full), ("fast", fast))
                         if entry.get("machine"))
    manifest = Manifest.read(root / "cvae_lib" / MANIFEST_PATH.name)
    if manifest is None:
        download = "No trained models have been published yet (`make publish`), so a first run trains them."
    else:
        archives = manifest.archives()
        sizes = " and ".join(f"{source.size / 2**20:.0f} MiB" for source in archives)
        download = (f"The published models are {'one archive' if len(archives) == 1 else f'{len(archives)} archives'}"
                    f" of {sizes} ({len(manifest.all_files())} files, listed with their SHA-256 in "
                    f"`cvae_lib/published_models.json`): the first chapter that needs a file downloads the "
                    f"archive that holds it, once, which adds the download time to the first column.")
    gpu = any("no GPU" not in entry.get("machine", "no GPU") for entry in (full, fast))
    last = timings.get("last_profile")
    status = ("The stored outputs on these pages come from the `full` profile: the published numbers."
              if last == "full" else
              f"The stored outputs on these pages come from the `{last}` profile, a smoke run: the models "
              "were trained on a subset for a few epochs, so the numbers are not the published ones.")
    return Markdown(
        table + f"\n\nMeasured on {machines}. *Models on disk*: the chapter found every checkpoint and "
        "stored evaluation it needs (as after the published models are downloaded) and only loads, "
        "evaluates and draws. *From scratch*: that time plus the training and evaluation times stored "
        "in the files it loaded, which is what a run without them costs on the same machine. A dash: "
        "not measured with this version of the library. "
        + download + ("" if gpu else " No time on a GPU has been measured.") + "\n\n" + status + "\n")


def _exit_with_parent() -> None:
    """End this child when ``execute-book`` ends (killed, say): it must not write its notebook after
    the command that started it is gone. Its kernel follows it (ipykernel watches its parent)."""
    import threading

    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":  # one notebook, in the child process of _execute_in_own_process
    import sys

    _exit_with_parent()
    try:
        print(json.dumps(execute_notebook(Path(sys.argv[1]))))
    except NotebookFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
