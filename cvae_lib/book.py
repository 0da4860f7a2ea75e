"""Helpers for the book's notebooks: settings at the top, results, tables, the explorer.

Everything a chapter computes lives in the library; these functions only package it
for display, so that no notebook re-implements a piece of the pipeline.
"""
from __future__ import annotations

import os
from pathlib import Path

from .reproduce import (RESULTS_FORMAT, TrainedSetting, estimator_keys, estimator_label, load_results,
                        render_quality_markdown, render_table_markdown, reproduce, reproduction_time_sentence)
from .settings import (RunProfile, absolute_path_variables, checkpoint_dir, data_root, get_profile,
                       project_root, results_dir)

# Published numbers of Pyro's CVAE tutorial (examples/cvae, README table; test-set nats per image).
# Their "CVAE (Monte Carlo)" row is the average negative ELBO: an upper bound, not a CLL estimate.
PYRO_TUTORIAL = {
    "source": "Pyro's CVAE example (pyro-ppl, examples/cvae), results table of its README",
    "rows": {
        "NN (baseline)": {1: 100.4, 2: 61.9, 3: 25.4},
        "CVAE (Monte Carlo), in fact a negative ELBO": {1: 71.8, 2: 51.0, 3: 24.2},
    },
}


def _relative(path: Path) -> str:
    """A path as the reader should see it: relative to the project, never this machine's."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return f"<{path.name}>" if path.is_absolute() else str(path)


def describe_settings(profile: RunProfile | str | None = None, seed: int = 0) -> str:
    """The settings and paths a notebook runs with, as printed at its top."""
    profile = get_profile(profile)
    sizes = "all" if profile.train_size is None else f"{profile.train_size:,}"
    data_source = "$CVAE_DATA_DIR" if os.environ.get("CVAE_DATA_DIR") else _relative(data_root())
    lines = [
        f"profile      : {profile.name} ({sizes} training images, at most {profile.max_epochs} "
        f"epochs, patience {profile.patience})",
        f"seed         : {seed}",
        f"MNIST        : {data_source}",
        f"checkpoints  : {_relative(checkpoint_dir() / profile.name)}",
        f"results      : {_relative(results_dir(profile))}",
    ]
    return "\n".join(lines)


def results_for_book(profile: RunProfile | str | None = None, seeds=(0,), quadrants=(1, 2, 3),
                     progress: bool = False) -> dict:
    """Train-or-load for the results table: read ``cll.json`` when it matches, else reproduce."""
    profile = get_profile(profile)
    out = results_dir(profile)
    path = out / "cll.json"
    if path.exists():
        results = load_results(path)
        if (results.get("format") == RESULTS_FORMAT and results.get("profile") == profile.name
                and set(seeds) <= set(results.get("seeds", []))
                and list(quadrants) == results.get("quadrants")):
            return results
    return reproduce(profile=profile, quadrants=quadrants, seeds=seeds, out=out, progress=progress,
                     log=lambda message: None)


def results_markdown(results: dict):
    """The stored table, for display in a notebook (rendered by the static site too)."""
    from IPython.display import Markdown

    return Markdown(render_table_markdown(results))


def quality_markdown(results: dict):
    """Chapter 8's completion measures stored with the results, for display in a notebook."""
    from IPython.display import Markdown

    return Markdown(render_quality_markdown(results))


def numbers_markdown(rows: dict[str, dict], columns: dict[str, str], digits: int = 3):
    """A small table of computed numbers: ``rows`` maps a row label to ``{column key: value}``,
    ``columns`` maps the keys to show to their headers."""
    from IPython.display import Markdown

    lines = ["| | " + " | ".join(columns.values()) + " |", "|---|" + "---:|" * len(columns)]
    for label, numbers in rows.items():
        cell = label.replace("|", "\\|")  # a label such as "q(z | x)" must not split the row
        lines.append(f"| {cell} | " + " | ".join(f"{numbers[key]:.{digits}f}" for key in columns) + " |")
    return Markdown("\n".join(lines))


def tutorial_comparison_markdown(results: dict):
    """Our numbers beside Pyro's published ones, stating what each row measures."""
    from IPython.display import Markdown

    quadrants = [int(q) for q in results["quadrants"]]
    header = "| source: estimator | " + " | ".join(f"{q} q" for q in quadrants) + " | what it measures |"
    lines = [header, "|---|" + "---:|" * len(quadrants) + "---|"]
    meaning = {"baseline_nll": "negative CLL of the baseline",
               "cvae_neg_elbo": "upper bound on the CVAE's negative CLL"}
    keys = ["baseline_nll", "cvae_neg_elbo", max((k for k in estimator_keys(get_profile(results["profile"]))
                                                   if k.startswith("cvae_is_")),
                                                  key=lambda k: int(k.rsplit("_", 1)[1]))]
    for key in keys:
        cells = " | ".join(f"{results['table'][str(q)][key]['mean']:.1f}" for q in quadrants)
        lines.append(f"| this book: {estimator_label(key)} | {cells} | "
                     f"{meaning.get(key, 'estimate of the CVAE negative CLL (approaches it from above as S grows)')} |")
    for label, row in PYRO_TUTORIAL["rows"].items():
        cells = " | ".join(f"{row[q]:.1f}" for q in quadrants)
        what = "negative CLL of the baseline" if "baseline" in label else "upper bound (negative ELBO)"
        lines.append(f"| Pyro tutorial: {label} | {cells} | {what} |")
    return Markdown("\n".join(lines) + f"\n\nSource of the tutorial's numbers: {PYRO_TUTORIAL['source']}.\n")


def training_animation_html(snapshots, inputs) -> "object":
    """The training video as self-contained HTML (frames embedded; no ffmpeg needed)."""
    from IPython.display import HTML

    from .plots import animate_training, select_epochs

    frames = select_epochs(snapshots.shape[0], 25)  # keep the page light on long runs
    animation = animate_training(snapshots[frames], inputs)
    return HTML(animation.to_jshtml(fps=3, default_mode="loop"))


def quadrant_explorer(settings: dict[int, TrainedSetting], max_samples: int = 12):
    """An ipywidgets explorer: pick the quadrant setting, a test image and the number of samples."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from .models import predict_completions
    from .plots import plot_prediction_grid

    choices = sorted(settings)
    quadrant_box = widgets.Dropdown(options=[(f"{q} quadrant{'s' if q > 1 else ''}", q) for q in choices],
                                    value=choices[0], description="given")
    size = len(settings[choices[0]].data.test)
    image_box = widgets.IntSlider(value=0, min=0, max=size - 1, description="test image")
    samples_box = widgets.IntSlider(value=6, min=1, max=max_samples, description="samples")
    output = widgets.Output()

    def redraw(*_):
        setting = settings[quadrant_box.value]
        index = slice(image_box.value, image_box.value + 1)
        inputs, targets = setting.data.test.inputs[index], setting.data.test.targets[index]
        samples = predict_completions(setting.cvae.module, setting.baseline.module, inputs,
                                      samples_box.value, seed=image_box.value)
        grid = plot_prediction_grid(inputs, targets, setting.baseline.module.predict(inputs), samples,
                                    images_as_rows=True)
        with output:
            output.clear_output(wait=True)
            display(grid)
        plt.close(grid)

    for box in (quadrant_box, image_box, samples_box):
        box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([quadrant_box, image_box, samples_box]), output])


def show_source(obj):
    """The library's own source of a function or class, highlighted: the book shows, never re-types."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


BOOK_DIR = "book"
TIMINGS_FILE = "timings.json"


def book_notebooks(root: Path | None = None) -> list[Path]:
    """The chapters in reading order (the introduction last: it reports the others' timings)."""
    folder = (root or project_root()) / BOOK_DIR
    chapters = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))
    return chapters + sorted(folder.glob("00_*.ipynb"))


def execute_notebooks(profile: RunProfile | str | None = None, notebooks=None, timeout: int = 7200,
                      log=print) -> dict:
    """Run every notebook in place under ``profile`` and record each one's wall time.

    The timings go to ``book/timings.json`` (read by the introduction) before the
    introduction itself runs, so it shows this run's figures.
    """
    import json
    import time

    import nbformat
    from nbclient import NotebookClient

    from .reproduce import library_versions, machine_description
    from .util import atomic_write_json, atomic_write_text

    profile = get_profile(profile)
    os.environ["CVAE_PROFILE"] = profile.name  # the kernels inherit it
    absolute_path_variables()  # the kernels start in book/, not here
    notebooks = [Path(p) for p in (notebooks or book_notebooks())]
    timings_path = project_root() / BOOK_DIR / TIMINGS_FILE
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    timings["last_profile"] = profile.name  # which profile the stored outputs come from
    entry = timings.setdefault(profile.name, {})
    entry.update({"machine": machine_description(), "versions": library_versions()})
    seconds = entry.setdefault("seconds", {})
    for path in notebooks:
        if path.name.startswith("00_"):
            atomic_write_json(timings, timings_path)
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds[path.stem] = round(time.perf_counter() - start, 1)
        atomic_write_text(nbformat.writes(nb) + "\n", path)
        log(f"{path.name}: {seconds[path.stem]:.0f} s")
    atomic_write_json(timings, timings_path)
    return timings


def published_run_markdown():
    """How long the published (``full``) reproduction took, read from its ``cll.json``."""
    from IPython.display import Markdown

    path = results_dir("full") / "cll.json"
    if not path.exists():
        return Markdown("*No published results yet: run `make reproduce`.*")
    results = load_results(path)
    seeds = ", ".join(map(str, results["seeds"]))
    return Markdown(f"The published numbers (`results/cll.json`, seeds {seeds}) come from "
                    f"`python -m cvae_lib reproduce --profile full --seeds {' '.join(map(str, results['seeds']))}`. "
                    + reproduction_time_sentence(results))


def timings_markdown(profile_names=("fast", "full")):
    """How long each chapter took when its outputs were produced, from ``book/timings.json``."""
    import json

    from IPython.display import Markdown

    path = project_root() / BOOK_DIR / TIMINGS_FILE
    timings = json.loads(path.read_text()) if path.exists() else {}
    shown = [p for p in profile_names if isinstance(timings.get(p), dict)]
    chapters = sorted({name for p in shown for name in timings[p].get("seconds", {})})
    if not shown:
        return Markdown("*No timings recorded yet: run `make book-execute`.*")
    lines = ["| chapter | " + " | ".join(f"`{p}` profile" for p in shown) + " |",
             "|---|" + "---:|" * len(shown)]
    for chapter in chapters:
        cells = []
        for p in shown:
            value = timings[p]["seconds"].get(chapter)
            cells.append("–" if value is None else f"{value / 60:.1f} min")
        lines.append(f"| {chapter} | " + " | ".join(cells) + " |")
    machines = "; ".join(f"`{p}`: {timings[p]['machine']}" for p in shown)
    last = timings.get("last_profile")
    if last == "full":
        status = ("The stored outputs on these pages come from the `full` profile: the published "
                  "numbers, read from `results/cll.json`.")
    else:
        status = (f"The stored outputs on these pages come from the `{last}` profile, a smoke run: the "
                  "models were trained on a subset for a few epochs, so the numbers are not the published "
                  "ones. Each chapter prints its profile at the top.")
    return Markdown("\n".join(lines) + f"\n\nMeasured on {machines}. A chapter that finds the "
                    "checkpoints (or results) of an earlier run loads them instead of training again, "
                    "so the times of a chapter run after another can be short.\n\n" + status + "\n")
