"""Figures of the book. Every function returns a matplotlib Figure (or Animation).

Figures get an explicit white background so they read the same in light and dark
page themes. Missing pixels (the -1 sentinel) are drawn in a muted blue, so the
reader always sees which part was given and which was predicted.
"""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

from .data import IMAGE_SIZE, MASK_VALUE, mask_quadrants

MISSING_COLOUR = "#9db4d0"
# Every label is at least FONT points, and no figure is wider than MAX_WIDTH inches, so that at the
# site's column width (about 780 px, figures at 100 px per inch) no text is drawn under 10 px.
FONT = 10
TITLE_FONT = 11
MAX_WIDTH = 10.4
_CMAP = matplotlib.colormaps["gray_r"].with_extremes(bad=MISSING_COLOUR)


def new_figure(rows: int, cols: int, cell: float = 0.9, **kwargs):
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell + 1.2, rows * cell + 0.3),
                             squeeze=False, **kwargs)
    fig.patch.set_facecolor("white")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes


def show_image(ax, image, given=None):
    """Draw a 28x28 image; -1 pixels as 'missing'; ``given`` pixels drawn over it."""
    image = torch.as_tensor(image, dtype=torch.float32).reshape(IMAGE_SIZE, IMAGE_SIZE)
    if given is not None:
        given = torch.as_tensor(given, dtype=torch.float32).reshape(IMAGE_SIZE, IMAGE_SIZE)
        image = torch.where(given != MASK_VALUE, given, image)
    array = np.ma.masked_equal(image.numpy(), MASK_VALUE)
    # "none": an SVG keeps the 28 x 28 pixels as they are and the browser draws them square at any zoom
    ax.imshow(array, cmap=_CMAP, vmin=0.0, vmax=1.0, interpolation="none")
    for pos in (IMAGE_SIZE / 2 - 0.5,):
        ax.axhline(pos, color="#d62728", lw=0.5, alpha=0.6)
        ax.axvline(pos, color="#d62728", lw=0.5, alpha=0.6)


def row_label(ax, text):
    ax.set_ylabel(text, rotation=0, ha="right", va="center", fontsize=FONT)


def plot_quadrant_examples(images: torch.Tensor, quadrants=(1, 2, 3)):
    """Each image whole, then as the input x and output y for every quadrant setting."""
    images = torch.as_tensor(images)
    rows = 1 + 2 * len(quadrants)
    fig, axes = new_figure(rows, images.shape[0])
    for col, image in enumerate(images):
        show_image(axes[0, col], image)
        for i, q in enumerate(quadrants):
            inputs, targets = mask_quadrants(image, q)
            show_image(axes[1 + 2 * i, col], inputs)
            show_image(axes[2 + 2 * i, col], targets)
    row_label(axes[0, 0], "image")
    for i, q in enumerate(quadrants):
        row_label(axes[1 + 2 * i, 0], f"x ({q}q)")
        row_label(axes[2 + 2 * i, 0], f"y ({q}q)")
    fig.tight_layout(pad=0.3)
    return fig


def plot_prediction_grid(inputs, targets, baseline_probs, cvae_samples=None, title: str | None = None,
                         images_as_rows: bool = False):
    """Input, truth, baseline, then K CVAE samples for each image.

    By default these are rows and each image is a column (the book's figures); with
    ``images_as_rows=True`` each image is a row (the explorer, which shows one image).
    ``inputs``/``targets``: (N, 28, 28) with -1 sentinels; ``baseline_probs``: (N, 784)
    or (N, 28, 28); ``cvae_samples``: (N, K, 28, 28), or a dict of them by model name (each
    model's K samples side by side). The given quadrants are drawn over every prediction, as in
    Pyro's tutorial, so each cell shows a complete digit.
    """
    inputs, targets = torch.as_tensor(inputs), torch.as_tensor(targets)
    if cvae_samples is None:  # the baseline alone
        cvae_samples = torch.empty(inputs.shape[0], 0, IMAGE_SIZE, IMAGE_SIZE)
    models = cvae_samples if isinstance(cvae_samples, dict) else {"CVAE": cvae_samples}
    cvae_samples = torch.cat(list(models.values()), dim=1)
    n, k = cvae_samples.shape[:2]
    labels = ["input", "truth", "baseline"] + [f"{name} {s + 1}" for name, samples in models.items()
                                               for s in range(samples.shape[1])]
    fig, axes = new_figure(n, 3 + k) if images_as_rows else new_figure(3 + k, n)
    cell = (lambda image, kind: axes[image, kind]) if images_as_rows else (lambda image, kind: axes[kind, image])
    for i in range(n):
        truth = torch.where(targets[i] != MASK_VALUE, targets[i], inputs[i])
        show_image(cell(i, 0), inputs[i])
        show_image(cell(i, 1), truth)
        show_image(cell(i, 2), baseline_probs[i], given=inputs[i])
        for s in range(k):
            show_image(cell(i, 3 + s), cvae_samples[i, s], given=inputs[i])
    for kind, text in enumerate(labels):
        if images_as_rows:
            axes[0, kind].set_title(text, fontsize=FONT)
        else:
            row_label(axes[kind, 0], text)
    if title:
        fig.suptitle(title, fontsize=TITLE_FONT)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.97 if title else 1))
    return fig


def plot_graphical_model():
    """The CVAE's three networks as a graphical model: generation (solid), recognition (dashed)."""
    from matplotlib.patches import Circle, FancyArrowPatch

    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    fig.patch.set_facecolor("white")
    ax.set_facecolor("white")
    nodes = {"x": (0.8, 1.0), "ŷ": (2.4, 1.9), "z": (4.0, 1.9), "y": (4.0, 0.1)}
    shaded = {"x"}
    for name, (px, py) in nodes.items():
        ax.add_patch(Circle((px, py), 0.32, facecolor="#d9d9d9" if name in shaded else "white",
                            edgecolor="black", lw=1.2, zorder=2))
        ax.text(px, py, name, ha="center", va="center", fontsize=14, zorder=3)

    def arrow(a, b, style="-", colour="black", bend=0.0, label=None, offset=(0, 0)):
        (ax0, ay0), (bx0, by0) = nodes[a], nodes[b]
        patch = FancyArrowPatch((ax0, ay0), (bx0, by0), arrowstyle="-|>", mutation_scale=14,
                                shrinkA=17, shrinkB=17, linestyle=style, color=colour, lw=1.2,
                                connectionstyle=f"arc3,rad={bend}", zorder=1)
        ax.add_patch(patch)
        if label:
            ax.text((ax0 + bx0) / 2 + offset[0], (ay0 + by0) / 2 + offset[1], label, fontsize=FONT,
                    ha="center", color=colour)

    arrow("x", "ŷ", label="baseline", offset=(-0.45, 0.05))
    arrow("ŷ", "z", label="prior p(z|x, ŷ)", offset=(0, 0.25))
    arrow("x", "z", bend=0.45)
    arrow("z", "y", label="generation p(y|x,z)", offset=(0.95, 0.25))
    arrow("x", "y")
    # recognition q(z|x,y) reads both the input and the output: two dashed arrows into z
    arrow("y", "z", style="--", colour="#1f77b4", bend=-0.45, label="recognition q(z|x,y)",
          offset=(1.05, -0.45))
    arrow("x", "z", style="--", colour="#1f77b4", bend=0.15)
    ax.set_xlim(0.2, 6.2)
    ax.set_ylim(-0.4, 2.4)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_loss_curves(histories: dict, title: str | None = None):
    """Train (dashed) and validation (solid) loss per epoch, one colour per run.

    ``histories`` maps a label to a history (a list of rows with epoch, train_loss,
    val_loss), as stored by the training loop.
    """
    fig, ax = plt.subplots(figsize=(7.6, 3.8))
    fig.patch.set_facecolor("white")
    ax.set_facecolor("white")
    for i, (label, history) in enumerate(histories.items()):
        epochs = [row["epoch"] for row in history]
        colour = f"C{i}"
        ax.plot(epochs, [row["train_loss"] for row in history], ls="--", color=colour, alpha=0.7)
        ax.plot(epochs, [row["val_loss"] for row in history], color=colour, label=label)
        best = min(history, key=lambda row: row["val_loss"])
        ax.plot(best["epoch"], best["val_loss"], "o", color=colour, ms=4)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats per image)")
    ax.grid(alpha=0.3)
    ax.legend(title="solid: validation\ndashed: train", fontsize=FONT, title_fontsize=FONT,
              loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=TITLE_FONT)
    fig.tight_layout()
    return fig


def select_epochs(num_epochs: int, max_frames: int):
    if num_epochs <= max_frames:
        return list(range(num_epochs))
    return sorted(set(np.linspace(0, num_epochs - 1, max_frames).round().astype(int).tolist()))


def plot_training_snapshots(snapshots, inputs, max_columns: int = 8):
    """Small multiples: the same inputs completed after successive epochs (one row per image).

    ``snapshots``: (epochs, N, 28, 28) predictions saved by the training loop with fixed noise.
    """
    snapshots, inputs = torch.as_tensor(snapshots), torch.as_tensor(inputs)
    epochs = select_epochs(snapshots.shape[0], max_columns)
    fig, axes = new_figure(inputs.shape[0], len(epochs) + 1)
    for row in range(inputs.shape[0]):
        show_image(axes[row, 0], inputs[row])
        for col, epoch in enumerate(epochs, start=1):
            show_image(axes[row, col], snapshots[epoch, row], given=inputs[row])
    axes[0, 0].set_title("input", fontsize=FONT)
    for col, epoch in enumerate(epochs, start=1):
        axes[0, col].set_title(f"epoch {epoch + 1}", fontsize=FONT)
    fig.tight_layout(pad=0.3)
    return fig


def animate_training(snapshots, inputs, interval_ms: int = 400):
    """The training video: one frame per epoch, every snapshot image side by side."""
    from matplotlib.animation import FuncAnimation

    snapshots, inputs = torch.as_tensor(snapshots), torch.as_tensor(inputs)
    n = inputs.shape[0]
    fig, axes = new_figure(1, n, cell=1.0)
    title = fig.suptitle("", fontsize=FONT)

    def draw(epoch):
        for col in range(n):
            axes[0, col].clear()
            axes[0, col].set_xticks([])
            axes[0, col].set_yticks([])
            show_image(axes[0, col], snapshots[epoch, col], given=inputs[col])
        title.set_text(f"CVAE completions after epoch {epoch + 1}")
        return list(axes.flat)

    draw(0)
    fig.tight_layout(pad=0.3)
    animation = FuncAnimation(fig, draw, frames=snapshots.shape[0], interval=interval_ms)
    plt.close(fig)  # notebooks show the animation's HTML, not a stray static copy
    return animation


def plot_ambiguous_pairs(split, pairs, labels=("3", "5")):
    """For each pair of nearly identical inputs: both inputs and both true digits."""
    fig, axes = new_figure(4, len(pairs))
    for col, (i, j) in enumerate(pairs):
        show_image(axes[0, col], split.inputs[i])
        show_image(axes[1, col], split.images[i])
        show_image(axes[2, col], split.inputs[j])
        show_image(axes[3, col], split.images[j])
    for row, text in enumerate([f"input ({labels[0]})", f"truth ({labels[0]})",
                                f"input ({labels[1]})", f"truth ({labels[1]})"]):
        row_label(axes[row, 0], text)
    fig.tight_layout(pad=0.3)
    return fig


def plot_identity_switches(split, found, samples, sample_labels):
    """For each input whose samples change digit: the input, the truth, then the K completions
    with the classifier's reading of each above it (in red where it is not the true digit)."""
    samples = torch.as_tensor(samples)
    k = samples.shape[1]
    fig, axes = new_figure(len(found), k + 2, cell=0.75)
    for row, (index, pair) in enumerate(found):
        show_image(axes[row, 0], split.inputs[index])
        show_image(axes[row, 1], split.images[index])
        truth = int(split.labels[index])
        for c in range(k):
            show_image(axes[row, c + 2], samples[index, c], given=split.inputs[index])
            label = int(sample_labels[index, c])
            axes[row, c + 2].set_title(str(label), fontsize=FONT, color="black" if label == truth else "#d62728", pad=1)
        row_label(axes[row, 0], f"{pair[0]}↔{pair[1]}")
    axes[0, 0].set_title("input", fontsize=FONT)
    axes[0, 1].set_title("truth", fontsize=FONT)
    fig.tight_layout(pad=0.3)
    return fig
