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
_CMAP = matplotlib.colormaps["gray_r"].with_extremes(bad=MISSING_COLOUR)


def _new_figure(rows: int, cols: int, cell: float = 0.9, **kwargs):
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell + 1.2, rows * cell + 0.3),
                             squeeze=False, **kwargs)
    fig.patch.set_facecolor("white")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes


def _show(ax, image, given=None):
    """Draw a 28x28 image; -1 pixels as 'missing'; ``given`` pixels drawn over it."""
    image = torch.as_tensor(image, dtype=torch.float32).reshape(IMAGE_SIZE, IMAGE_SIZE)
    if given is not None:
        given = torch.as_tensor(given, dtype=torch.float32).reshape(IMAGE_SIZE, IMAGE_SIZE)
        image = torch.where(given != MASK_VALUE, given, image)
    array = np.ma.masked_equal(image.numpy(), MASK_VALUE)
    ax.imshow(array, cmap=_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    for pos in (IMAGE_SIZE / 2 - 0.5,):
        ax.axhline(pos, color="#d62728", lw=0.5, alpha=0.6)
        ax.axvline(pos, color="#d62728", lw=0.5, alpha=0.6)


def _row_label(ax, text):
    ax.set_ylabel(text, rotation=0, ha="right", va="center", fontsize=9)


def plot_quadrant_examples(images: torch.Tensor, quadrants=(1, 2, 3)):
    """Each image whole, then as the input x and output y for every quadrant setting."""
    images = torch.as_tensor(images)
    rows = 1 + 2 * len(quadrants)
    fig, axes = _new_figure(rows, images.shape[0])
    for col, image in enumerate(images):
        _show(axes[0, col], image)
        for i, q in enumerate(quadrants):
            inputs, targets = mask_quadrants(image, q)
            _show(axes[1 + 2 * i, col], inputs)
            _show(axes[2 + 2 * i, col], targets)
    _row_label(axes[0, 0], "image")
    for i, q in enumerate(quadrants):
        _row_label(axes[1 + 2 * i, 0], f"x ({q}q)")
        _row_label(axes[2 + 2 * i, 0], f"y ({q}q)")
    fig.tight_layout(pad=0.3)
    return fig


def plot_prediction_grid(inputs, targets, baseline_probs, cvae_samples, title: str | None = None):
    """Rows: input, truth, baseline, then K CVAE samples; one column per image.

    ``inputs``/``targets``: (N, 28, 28) with -1 sentinels; ``baseline_probs``: (N, 784)
    or (N, 28, 28); ``cvae_samples``: (N, K, 28, 28). The given quadrants are drawn over
    every prediction, as in Pyro's tutorial, so each cell shows a complete digit.
    """
    inputs, targets = torch.as_tensor(inputs), torch.as_tensor(targets)
    n, k = cvae_samples.shape[:2]
    fig, axes = _new_figure(3 + k, n)
    for col in range(n):
        truth = torch.where(targets[col] != MASK_VALUE, targets[col], inputs[col])
        _show(axes[0, col], inputs[col])
        _show(axes[1, col], truth)
        _show(axes[2, col], baseline_probs[col], given=inputs[col])
        for s in range(k):
            _show(axes[3 + s, col], cvae_samples[col, s], given=inputs[col])
    for row, text in enumerate(["input", "truth", "baseline"] + [f"CVAE {s + 1}" for s in range(k)]):
        _row_label(axes[row, 0], text)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.97 if title else 1))
    return fig


def plot_loss_curves(histories: dict, title: str | None = None):
    """Train (dashed) and validation (solid) loss per epoch, one colour per run.

    ``histories`` maps a label to a history (a list of rows with epoch, train_loss,
    val_loss), as stored by the training loop.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
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
    ax.legend(title="solid: validation, dashed: train", fontsize=8, title_fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _frame_epochs(num_epochs: int, max_frames: int):
    if num_epochs <= max_frames:
        return list(range(num_epochs))
    return sorted(set(np.linspace(0, num_epochs - 1, max_frames).round().astype(int).tolist()))


def plot_training_snapshots(snapshots, inputs, max_columns: int = 8):
    """Small multiples: the same inputs completed after successive epochs (one row per image).

    ``snapshots``: (epochs, N, 28, 28) predictions saved by the training loop with fixed noise.
    """
    snapshots, inputs = torch.as_tensor(snapshots), torch.as_tensor(inputs)
    epochs = _frame_epochs(snapshots.shape[0], max_columns)
    fig, axes = _new_figure(inputs.shape[0], len(epochs) + 1)
    for row in range(inputs.shape[0]):
        _show(axes[row, 0], inputs[row])
        for col, epoch in enumerate(epochs, start=1):
            _show(axes[row, col], snapshots[epoch, row], given=inputs[row])
    axes[0, 0].set_title("input", fontsize=8)
    for col, epoch in enumerate(epochs, start=1):
        axes[0, col].set_title(f"epoch {epoch + 1}", fontsize=8)
    fig.tight_layout(pad=0.3)
    return fig


def animate_training(snapshots, inputs, interval_ms: int = 400):
    """The training video: one frame per epoch, every snapshot image side by side."""
    from matplotlib.animation import FuncAnimation

    snapshots, inputs = torch.as_tensor(snapshots), torch.as_tensor(inputs)
    n = inputs.shape[0]
    fig, axes = _new_figure(1, n, cell=1.0)
    title = fig.suptitle("", fontsize=9)

    def draw(epoch):
        for col in range(n):
            axes[0, col].clear()
            axes[0, col].set_xticks([])
            axes[0, col].set_yticks([])
            _show(axes[0, col], snapshots[epoch, col], given=inputs[col])
        title.set_text(f"CVAE completions after epoch {epoch + 1}")
        return list(axes.flat)

    draw(0)
    fig.tight_layout(pad=0.3)
    animation = FuncAnimation(fig, draw, frames=snapshots.shape[0], interval=interval_ms)
    plt.close(fig)  # notebooks show the animation's HTML, not a stray static copy
    return animation


def plot_estimates_vs_samples(sample_counts, is_estimates, neg_elbo: float, mc_estimates=None,
                              title: str | None = None):
    """The importance-sampled estimate against S, with the negative ELBO as a line above it."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    fig.patch.set_facecolor("white")
    ax.set_facecolor("white")
    ax.plot(sample_counts, is_estimates, "o-", label="importance sampling (proposal q)")
    if mc_estimates is not None:
        ax.plot(sample_counts, mc_estimates, "s--", label="Monte Carlo from the prior")
    ax.axhline(neg_elbo, color="k", lw=1, ls=":", label="negative ELBO")
    ax.set_xscale("log")
    ax.set_xlabel("samples S per image")
    ax.set_ylabel("negative CLL estimate (nats per image)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
