"""What the whole-digit models share: chapters 7 and 8 generate digits, chapter 9 reads them.

The base beneath :mod:`cvae_lib.label_cvae`, :mod:`cvae_lib.classifier_cvae` and
:mod:`cvae_lib.quality` (and so beneath the paper's experiment, which uses chapter 9's
measures): the label format, the Gaussian KL, and the diversity of generated digits.
"""
from __future__ import annotations

import torch

NUM_CLASSES = 10


class WeightedTermsObjective:
    """reconstruction + Σ weight · term over the other terms of ``module.loss_terms(images, labels)``,
    summed over the batch (an objective for :func:`cvae_lib.loop.fit`)."""

    def __init__(self, module, **weights: float):
        for name, weight in weights.items():
            if not weight >= 0:
                raise ValueError(f"{name} must be >= 0, got {weight!r}")
        self.module, self.weights = module, weights

    def loss(self, images, labels) -> torch.Tensor:
        reconstruction, *others = self.module.loss_terms(images, labels)
        return (reconstruction + sum(w * term for w, term in zip(self.weights.values(), others))).sum()


def standard_normal_kl(loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """KL(N(loc, scale²) ‖ N(0, I)) summed over the latent dimensions, one value per image."""
    return 0.5 * (loc.pow(2) + scale.pow(2) - 1.0 - 2.0 * scale.log()).sum(-1)


def check_labels(labels: torch.Tensor) -> torch.Tensor:
    if labels.dtype not in (torch.int64, torch.int32) or labels.numel() and (
            labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"labels must be integer digits 0–9, got {labels.dtype} values "
                         f"{labels.unique().tolist()[:10]}")
    return labels.long()


def mean_pairwise_distance(samples: torch.Tensor) -> float:
    """Diversity: the mean Euclidean distance between two samples of the same request.

    ``samples``: (groups, K, ...) with K >= 2; pairs are taken within each group.
    """
    flat = samples.reshape(samples.shape[0], samples.shape[1], -1)
    if flat.shape[1] < 2:
        raise ValueError("diversity needs at least two samples per group")
    # Differences taken pixel by pixel, not through ||a||^2 + ||b||^2 - 2ab (cdist's matrix-product
    # shortcut for many rows): that shortcut leaves about 1e-3 between two identical images, and a
    # different amount with each BLAS and thread count; here identical samples are exactly 0 apart.
    distances = torch.cdist(flat, flat, compute_mode="donot_use_mm_for_euclid_dist")
    k = flat.shape[1]
    return (distances.sum() / (flat.shape[0] * k * (k - 1))).item()
