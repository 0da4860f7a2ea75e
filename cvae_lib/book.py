"""What the notebooks display: computed tables, the results of the published run, the explorer.

Everything a chapter computes lives in the library; these functions only package it for
display (Markdown rendered by the static site too), so that no notebook re-implements a
piece of the pipeline.
"""
from __future__ import annotations

import json
import re

from .report import (markdown_table, render_quality_markdown, render_remedies_markdown, render_table_markdown,
                     reproduction_time_sentence)
from .notebook_figures import SVG_OPTIONS
from .results import Estimator, best_importance_sampling, load_results
from .settings import PROFILES, default_results_dir

BOOK_DIR = "book"
TIMINGS_FILE = "timings.json"

# Published numbers of Pyro's CVAE tutorial (the table of its page; test-set nats per image).
# Their "CVAE (Monte Carlo)" row is the average negative ELBO: an upper bound, not a CLL estimate.
PYRO_TUTORIAL = {
    "source": ("Pyro's CVAE tutorial (Souza 2020, https://pyro.ai/examples/cvae.html), the table of its "
               "section \"Evaluating the results\""),
    "rows": {
        "NN (baseline)": {1: 100.4, 2: 61.9, 3: 25.4},
        "CVAE (Monte Carlo), in fact a negative ELBO": {1: 71.8, 2: 51.0, 3: 24.2},
    },
}


def results_markdown(results: dict):
    """The stored table, for display in a notebook (rendered by the static site too)."""
    from IPython.display import Markdown

    return Markdown(render_table_markdown(results))


def quality_markdown(results: dict):
    """Chapter 9's completion measures stored with the results, for display in a notebook."""
    from IPython.display import Markdown

    return Markdown(render_quality_markdown(results))


def remedies_markdown(results: dict):
    """The train/test gap and the paper's two remedies (GSNN, hybrid), for chapter 6."""
    from IPython.display import Markdown

    return Markdown(render_remedies_markdown(results))


def numbers_markdown(rows: dict[str, dict], columns: dict[str, str], digits: int = 3):
    """A small table of computed numbers: ``rows`` maps a row label to ``{column key: value}``,
    ``columns`` maps the keys to show to their headers."""
    from IPython.display import Markdown

    body = [[label.replace("|", "\\|")]  # a label such as "q(z | x)" must not split the row
            + [f"{numbers[key]:.{digits}f}" for key in columns] for label, numbers in rows.items()]
    return Markdown(markdown_table(["", *columns.values()], body, "l" + "r" * len(columns)))


def tutorial_comparison_markdown(results: dict):
    """Our numbers beside Pyro's published ones, stating what each row measures."""
    from IPython.display import Markdown

    quadrants = [int(q) for q in results["quadrants"]]
    meaning = {"baseline_nll": "negative CLL of the baseline",
               "cvae_neg_elbo": "upper bound on the CVAE's negative CLL"}
    best = best_importance_sampling(results["table"][str(quadrants[0])]).key
    rows = []
    for key in ["baseline_nll", "cvae_neg_elbo", best]:
        rows.append([f"this book: {Estimator.from_key(key).label}"]
                    + [f"{results['table'][str(q)][key]['mean']:.1f}" for q in quadrants]
                    + [meaning.get(key, "estimate of the CVAE negative CLL (approaches it from above as S grows)")])
    for label, row in PYRO_TUTORIAL["rows"].items():
        what = "negative CLL of the baseline" if "baseline" in label else "upper bound (negative ELBO)"
        rows.append([f"Pyro tutorial: {label}"] + [f"{row[q]:.1f}" for q in quadrants] + [what])
    header = ["source: estimator", *(f"{q} q" for q in quadrants), "what it measures"]
    table = markdown_table(header, rows, "l" + "r" * len(quadrants) + "l")
    return Markdown(table + f"\n\nSource of the tutorial's numbers: {PYRO_TUTORIAL['source']}.\n")


# matplotlib's player draws its buttons with Font Awesome 4 from a CDN; plain characters need no network
_PLAYER_ICONS = {"fast-backward": "⏮", "step-backward": "◀︎|", "play fa-flip-horizontal": "◀︎", "pause": "❚❚",
                 "play": "▶︎", "step-forward": "|▶︎", "fast-forward": "⏭", "minus": "−", "plus": "+"}


_ANIMATION_ALT = ("The CVAE's completions of the same test inputs after each epoch of training, one frame per "
                  "epoch")


def training_animation_html(snapshots, inputs) -> "object":
    """The training video as self-contained HTML (frames embedded; no ffmpeg, no CDN needed)."""
    import matplotlib.pyplot as plt
    from IPython.display import HTML

    from .plots import animate_training, select_epochs

    frames = select_epochs(snapshots.shape[0], 25)  # keep the page light on long runs
    animation = animate_training(snapshots[frames], inputs)
    figure = animation._fig  # noqa: SLF001 (matplotlib keeps no public handle on it)
    width = round(figure.get_figwidth() * figure.dpi)
    # SVG frames, as the chapters' figures: sharp on any screen, their words translatable
    with plt.rc_context({"animation.frame_format": "svg", **SVG_OPTIONS}):
        html = animation.to_jshtml(fps=3, default_mode="loop")
    html = re.sub(r'<link rel="stylesheet"\s+href="https://[^"]*font-awesome[^"]*">', "", html)
    for icon, text in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="fa fa-{icon}"></i>', text)
    # what a screen reader says of the picture and of the frame slider
    html = re.sub(r'<img id="(_anim_img\w+)">', rf'<img id="\1" width="{width}" style="height: auto" '
                  f'alt="{_ANIMATION_ALT}">', html)
    html = re.sub(r'(<input id="_anim_slider\w+" type="range")', r'\1 aria-label="Epoch shown"', html)
    return HTML(html)


def static_explorer(settings: dict, images: int = 8, samples: int = 6, seed: int = 0):
    """The explorer for a page without a kernel (HTML for display): completions precomputed for the first ``images``
    test images of every setting in ``settings`` (quadrants -> TrainedSetting), ``samples`` CVAE
    samples each, switched by two controls in the page's own JavaScript."""
    import base64
    import io

    import matplotlib.pyplot as plt
    from IPython.display import HTML

    from .models import predict_completions
    from .plots import plot_prediction_grid

    pictures, width = {}, 0
    for q, setting in sorted(settings.items()):
        test = setting.data.test
        for i in range(min(images, len(test))):
            inputs, targets = test.inputs[i:i + 1], test.targets[i:i + 1]
            drawn = predict_completions(setting.cvae.module, setting.baseline.module, inputs, samples, seed=seed + i)
            fig = plot_prediction_grid(inputs, targets, setting.baseline.module.predict(inputs), drawn,
                                       images_as_rows=True)
            buffer = io.BytesIO()
            with plt.rc_context(SVG_OPTIONS):  # as the chapters' figures: sharp, words translatable
                fig.savefig(buffer, format="svg", facecolor="white", bbox_inches="tight", pad_inches=0.05,
                            metadata={"Date": None})
            plt.close(fig)
            points = float(re.search(rb'<svg[^>]*\bwidth="([\d.]+)pt"', buffer.getvalue())[1])
            width = round(points * 4 / 3)  # CSS pixels
            pictures[f"{q}-{i}"] = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
    key = f"{seed}-{images}-{samples}"  # a stable id: the same page every run
    quadrant_options = "".join(f'<option value="{q}">{q} quadrant{"s" if q > 1 else ""} given</option>'
                               for q in sorted(settings))
    image_options = "".join(f'<option value="{i}">test image {i + 1}</option>' for i in range(images))
    first = pictures[f"{min(settings)}-0"]
    return HTML(f"""<div class="static-explorer" id="explorer-{key}">
<label>Given: <select class="explorer-quadrants" aria-label="given quadrants">{quadrant_options}</select></label>
<label>Image: <select class="explorer-image" aria-label="test image">{image_options}</select></label>
<div class="explorer-picture"><img src="{first}" width="{width}" alt="The chosen test image: its input, \
the truth, the baseline's prediction and {samples} CVAE samples"></div>
<script>(function () {{
  const root = document.getElementById("explorer-{key}");
  const pictures = {json.dumps(pictures)};
  const [given, image] = root.querySelectorAll("select");
  const picture = root.querySelector("img");
  const show = () => {{ picture.src = pictures[given.value + "-" + image.value]; }};
  given.addEventListener("change", show);
  image.addEventListener("change", show);
}})();</script>
</div>""")


def quadrant_explorer(settings: dict, max_samples: int = 12):
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


def show_source(obj, start: str | None = None, stop: str | None = None):
    """The library's own source of a function or class, highlighted: the book shows, never re-types.

    With ``start`` and ``stop``, only the lines from the first that contains ``start`` to the first
    after it that contains ``stop``, under a comment naming the file and the lines shown.
    """
    import inspect

    from IPython.display import Code

    lines, first = inspect.getsourcelines(obj)
    if start is None and stop is None:
        return Code("".join(lines), language="python")
    begin = next(i for i, line in enumerate(lines) if start is None or start in line)
    end = next(i for i, line in enumerate(lines) if i >= begin and (stop is None or stop in line))
    module = inspect.getmodule(obj).__name__.replace(".", "/") + ".py"
    shown = lines[begin:end + 1]
    indent = min(len(line) - len(line.lstrip()) for line in shown if line.strip())
    header = (f"# {module}, lines {first + begin}-{first + end} "
              f"(of {obj.__qualname__}, lines {first}-{first + len(lines) - 1})\n")
    return Code(header + "".join(line[indent:] if line.strip() else line for line in shown), language="python")


def published_run_markdown():
    """How long the published (``full``) reproduction took, read from its ``cll.json``."""
    from IPython.display import Markdown

    path = default_results_dir(PROFILES["full"]) / "cll.json"
    if not path.exists():
        return Markdown("*No published results yet: run `make reproduce`.*")
    results = load_results(path)
    seeds = ", ".join(map(str, results["seeds"]))
    return Markdown(f"The published numbers (`results/cll.json`, seeds {seeds}) come from "
                    f"`python -m cvae_lib reproduce --profile full --seeds {' '.join(map(str, results['seeds']))}`. "
                    + reproduction_time_sentence(results))
