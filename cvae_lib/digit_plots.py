"""Figures of whole digits (chapters 7 and 8): grids of generated images and the β sweep.

Same conventions as :mod:`cvae_lib.plots` (white background, one Figure per function).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .plots import FONT, MAX_WIDTH, TITLE_FONT, new_figure, row_label, show_image


def plot_image_rows(images, row_labels=None, column_labels=None, title: str | None = None, cell: float = 0.6):
    """A grid of whole images ``(rows, columns, 28, 28)`` with optional row and column labels."""
    images = torch.as_tensor(images)
    rows, cols = images.shape[:2]
    fig, axes = new_figure(rows, cols, cell=cell)
    for r in range(rows):
        for c in range(cols):
            show_image(axes[r, c], images[r, c])
            for line in axes[r, c].lines:  # whole digits: no quadrant lines
                line.remove()
    for r, text in enumerate(row_labels or []):
        row_label(axes[r, 0], text)
    for c, text in enumerate(column_labels or []):
        axes[0, c].set_title(text, fontsize=FONT)
    if title:
        fig.suptitle(title, fontsize=TITLE_FONT)
    fig.tight_layout(pad=0.3)
    return fig


def plot_beta_samples(samples_by_beta: dict, digits=(2, 4, 7), per_digit: int = 4):
    """One row per β: ``per_digit`` generated samples of each of ``digits``.

    ``samples_by_beta`` maps β to generated images (10, K, 28, 28), row d asked for digit d.
    """
    rows = [torch.cat([samples[d, :per_digit] for d in digits]) for samples in samples_by_beta.values()]
    columns = [f"{d}" if i == 0 else "" for d in digits for i in range(per_digit)]
    return plot_image_rows(torch.stack(rows), [f"β = {b:g}" for b in samples_by_beta], columns)


def plot_beta_sweep(sweeps):
    """Reconstruction error, KL, diversity and fidelity against β (log scale), one panel each.

    ``sweeps``: a list of :class:`cvae_lib.label_cvae.SweepPoint`, or a dict naming several
    such lists (one line each).
    """
    if not isinstance(sweeps, dict):
        sweeps = {"": sweeps}
    panels = [("reconstruction", "reconstruction (nats per image)"), ("kl", "KL (nats per image)"),
              ("diversity", "diversity (mean pairwise distance)"),
              ("fidelity", "fidelity (read as the digit asked for)")]
    panels = [(key, title) for key, title in panels
              if all(key in p.numbers for points in sweeps.values() for p in points)]
    columns = min(len(panels), 2)  # two panels a row: wide enough to read at the column's width
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(min(3.9 * columns + 0.4, MAX_WIDTH), 3.3 * rows),
                             squeeze=False)
    fig.patch.set_facecolor("white")
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (key, title) in zip(axes.flat, panels):
        for name, points in sweeps.items():
            ax.plot([p.beta for p in points], [p.numbers[key] for p in points], "o-", ms=4, label=name or None)
        ax.set_xscale("log")
        ax.set_xlabel("β (weight of the KL term)")
        ax.set_title(title, fontsize=FONT)
        ax.grid(alpha=0.3)
    if len(sweeps) > 1:
        axes[0, 0].legend(fontsize=FONT)
    fig.tight_layout()
    return fig
