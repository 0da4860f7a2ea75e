"""Figures of whole digits (chapters 7 and 8): grids of generated images and the β sweep.

Same conventions as :mod:`cvae_lib.plots` (white background, one Figure per function).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .plots import FONT, MAX_WIDTH, TITLE_FONT, new_figure, row_label, show_image


def show_digit(ax, image):
    """A whole digit: :func:`~cvae_lib.plots.show_image` without the quadrant lines."""
    show_image(ax, image)
    for line in ax.lines:
        line.remove()


def plot_image_rows(images, row_labels=None, column_labels=None, title: str | None = None, cell: float = 0.6):
    """A grid of whole images ``(rows, columns, 28, 28)`` with optional row and column labels."""
    images = torch.as_tensor(images)
    rows, cols = images.shape[:2]
    fig, axes = new_figure(rows, cols, cell=cell)
    for r in range(rows):
        for c in range(cols):
            show_digit(axes[r, c], images[r, c])
    for r, text in enumerate(row_labels or []):
        row_label(axes[r, 0], text)
    for c, text in enumerate(column_labels or []):
        axes[0, c].set_title(text, fontsize=FONT)
    top = 1.0
    if title:  # room for the title above the column labels, which tight_layout does not leave
        fig.set_figheight(fig.get_figheight() + 0.35)
        fig.suptitle(title, fontsize=TITLE_FONT, y=1 - 0.05 / fig.get_figheight())
        top = 1 - 0.4 / fig.get_figheight()
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, top))
    return fig


def plot_misses(samples, read, per_row: int = 6, cell: float = 0.75):
    """What fidelity counts against a model: for each digit asked for (row d of ``samples``,
    ``(10, N, 28, 28)``), its first ``per_row`` samples that the classifier reads (``read``,
    ``(10, N)``) as another digit, each titled with that reading; blank where a row has fewer."""
    samples, read = torch.as_tensor(samples), torch.as_tensor(read)
    fig, axes = new_figure(samples.shape[0], per_row, cell=cell)
    for digit in range(samples.shape[0]):
        row_label(axes[digit, 0], f"asked {digit}")
        misses = (read[digit] != digit).nonzero().flatten()[:per_row].tolist()
        for column, index in enumerate(misses):
            show_digit(axes[digit, column], samples[digit, index])
            axes[digit, column].set_title(f"read {read[digit, index].item()}", fontsize=FONT, pad=2)
        for ax in axes[digit, len(misses):]:  # blank, but the row keeps its label
            ax.spines[:].set_visible(False)
    fig.tight_layout(pad=0.3)
    return fig


def plot_beta_samples(samples_by_beta: dict, digits=(2, 4, 7), per_digit: int = 4):
    """One row per β: ``per_digit`` generated samples of each of ``digits``.

    ``samples_by_beta`` maps β to generated images (10, K, 28, 28), row d asked for digit d.
    """
    rows = [torch.cat([samples[d, :per_digit] for d in digits]) for samples in samples_by_beta.values()]
    columns = [f"{d}" if i == 0 else "" for d in digits for i in range(per_digit)]
    return plot_image_rows(torch.stack(rows), [f"β = {b:g}" for b in samples_by_beta], columns)


def plot_sweep_with_errors(betas, series: dict, titles: dict, references: dict | None = None, log_scale=()):
    """Measures against β (log scale), one panel per measure, one line per series, error bars.

    ``series`` maps a name to ``{measure: [{"mean", "std"}, ... one per β]}``; ``titles`` maps the
    measures to their panel titles; ``references`` may give a measure a dashed horizontal line
    (for example the diversity of real digits); the measures in ``log_scale`` get a log axis."""
    references = {k: v for k, v in (references or {}).items() if v is not None and k in titles}
    columns = min(len(titles), 2)  # two panels a row: wide enough to read at the column's width
    rows = -(-len(titles) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(min(3.9 * columns + 0.4, MAX_WIDTH), 2.9 * rows + 0.8),
                             squeeze=False)
    fig.patch.set_facecolor("white")
    for ax in axes.flat[len(titles):]:
        ax.axis("off")
    for ax, (key, title) in zip(axes.flat, titles.items()):
        for name, measures in series.items():
            ax.errorbar(betas, [m["mean"] for m in measures[key]], yerr=[m["std"] for m in measures[key]],
                        marker="o", ms=4, capsize=3, label=name)
        if key in references:
            ax.axhline(references[key], color="grey", ls="--", lw=1, label="real test digits")
        ax.set_xscale("log")
        if key in log_scale:
            ax.set_yscale("log")
        ax.set_xlabel("β (weight of the KL term)")
        ax.set_title(title, fontsize=FONT)
        ax.grid(alpha=0.3)
    handles, labels = [], []
    for ax in axes.flat:  # one legend for the figure, below the panels
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=FONT, frameon=False)
    fig.tight_layout(rect=(0, 0.8 / (2.9 * rows + 0.8) + 0.02 * (len(labels) > 4), 1, 1))
    return fig


def plot_kl_per_dimension(kl_by_name: dict):
    """The KL of each latent dimension, sorted from largest, one bar group per named model (log scale):
    how many dimensions of z carry information about the image."""
    fig, ax = plt.subplots(figsize=(min(7.5, MAX_WIDTH), 3.2))
    fig.patch.set_facecolor("white")
    count = len(kl_by_name)
    width = 0.8 / count
    for i, (name, kl) in enumerate(kl_by_name.items()):
        values = sorted(kl, reverse=True)
        ax.bar([d + 1 + (i - (count - 1) / 2) * width for d in range(len(values))], [max(v, 1e-4) for v in values],
               width=width, label=name)
    ax.set_xticks(range(1, max(len(kl) for kl in kl_by_name.values()) + 1))
    ax.set_yscale("log")
    ax.set_xlabel("latent dimension, sorted by its KL")
    ax.set_ylabel("KL (nats per image)")
    ax.legend(fontsize=FONT, frameon=False)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
