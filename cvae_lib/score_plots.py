"""Figures of scores: the CLL estimates against the number of samples S (chapter 5), the hybrid's
validation scores against its weight α (chapter 6). The figures of digits are in :mod:`cvae_lib.plots`."""
from __future__ import annotations

import matplotlib.pyplot as plt

from .plots import FONT, MAX_WIDTH, TITLE_FONT


def plot_estimates_vs_samples(curves: dict):
    """CVAE negative-CLL estimates against the number of samples S, one panel per setting.

    ``curves`` maps a panel title to ``{"S": [...], "is": [...], "mc": [...], "neg_elbo": float}``
    (as stored in ``cll.json``). The negative ELBO is drawn as a line: importance sampling
    starts there at S = 1 and falls below it as S grows.
    """
    fig, axes = plt.subplots(1, len(curves), figsize=(min(3.3 * len(curves) + 0.6, MAX_WIDTH), 3.6),
                             squeeze=False)
    fig.patch.set_facecolor("white")
    for ax, (title, curve) in zip(axes[0], curves.items()):
        ax.set_facecolor("white")
        ax.plot(curve["S"], curve["is"], "o-", ms=3, label="importance sampling (q)")
        mc = [(s, v) for s, v in zip(curve["S"], curve.get("mc") or []) if v is not None]
        if mc:
            ax.plot(*zip(*mc), "s--", ms=3, label="Monte Carlo (prior)")
        ax.axhline(curve["neg_elbo"], color="k", lw=1, ls=":", label="negative ELBO")
        ax.set_xscale("log")
        ax.set_xlabel("samples S per image")
        ax.set_title(title, fontsize=TITLE_FONT)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("nats per image")
    axes[0, 0].legend(fontsize=FONT)
    fig.tight_layout()
    return fig


def plot_alpha_sweep(sweep: dict):
    """The hybrid's weight α against its two validation scores (``alpha_sweep.json``), one panel per
    setting: the negative CLL (importance sampling) and one draw from the prior, mean over seeds
    with one standard deviation as error bars; α = 1 is the CVAE, a ring marks the α chosen."""
    settings = sweep["settings"]
    fig, axes = plt.subplots(2, len(settings), figsize=(min(3.3 * len(settings) + 0.6, MAX_WIDTH), 5.6),
                             squeeze=False, sharex=True)
    fig.patch.set_facecolor("white")
    rows = (("validation_cll", f"negative CLL (IS, S = {sweep['validation_samples']})"),
            ("validation_one_draw", "one draw from the prior"))
    for column, (q, entry) in enumerate(settings.items()):
        alphas = sorted(entry["alphas"], key=float)
        for row, (key, label) in enumerate(rows):
            ax = axes[row, column]
            ax.set_facecolor("white")
            means = [entry["alphas"][a][key]["mean"] for a in alphas]
            stds = [entry["alphas"][a][key]["std"] for a in alphas]
            ax.errorbar([float(a) for a in alphas], means, yerr=stds, fmt="o-", ms=3, capsize=2)
            if "chosen_alpha" in entry:
                chosen = f"{entry['chosen_alpha']:g}"
                ax.plot(float(chosen), entry["alphas"][chosen][key]["mean"], "o", ms=9, mfc="none", mec="C3")
            ax.grid(alpha=0.3)
            if column == 0:
                ax.set_ylabel(f"{label}\n(nats per image)", fontsize=FONT)
            if row == 0:
                ax.set_title(f"{q} input quadrant{'s' if q != '1' else ''}", fontsize=TITLE_FONT)
            else:
                ax.set_xlabel("α (weight of the CVAE loss)")
    fig.tight_layout()
    return fig
