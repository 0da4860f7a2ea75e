"""Chapter 6: a CVAE conditioned on the digit label — generate the digit you ask for.

Unlike the quadrant CVAE, the condition here is a class, not part of the image: the
encoder q(z|x) sees the whole image, and the decoder p(x|z, label) receives the label.
Two common ways to give it the label:

* ``"add"``: the one-hot label is projected to the latent size (a linear layer and a
  tanh) and added to z;
* ``"concat"``: the one-hot label is concatenated to z.

Loss per image: reconstruction (Bernoulli cross-entropy) + β · KL(q(z|x) ‖ N(0, I)).
With β = 1 this is the ELBO; smaller β lets z carry more of each image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .data import IMAGE_SIZE
from .models import NUM_PIXELS, GaussianNet, masked_bernoulli_log_likelihood
from .settings import seed_everything

NUM_CLASSES = 10
CONDITIONINGS = ("add", "concat")


def standard_normal_kl(loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """KL(N(loc, scale²) ‖ N(0, I)) summed over the latent dimensions, one value per image."""
    return 0.5 * (loc.pow(2) + scale.pow(2) - 1.0 - 2.0 * scale.log()).sum(-1)


def check_labels(labels: torch.Tensor) -> torch.Tensor:
    if labels.dtype not in (torch.int64, torch.int32) or labels.numel() and (
            labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"labels must be integer digits 0–9, got {labels.dtype} values "
                         f"{labels.unique().tolist()[:10]}")
    return labels.long()


class LabelCVAE(nn.Module):
    def __init__(self, z_dim: int = 20, hidden: int = 400, conditioning: str = "add"):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        self.z_dim, self.conditioning = z_dim, conditioning
        self.encoder = GaussianNet(z_dim, hidden, hidden)
        if conditioning == "add":
            self.label_to_latent = nn.Sequential(nn.Linear(NUM_CLASSES, z_dim), nn.Tanh())
        decoder_in = z_dim if conditioning == "add" else z_dim + NUM_CLASSES
        self.decoder = nn.Sequential(nn.Linear(decoder_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                     nn.ReLU(), nn.Linear(hidden, NUM_PIXELS))

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Pixel logits for latents ``z`` (..., z_dim) and labels broadcastable to z's batch."""
        onehot = F.one_hot(check_labels(labels), NUM_CLASSES).to(z.dtype).expand(*z.shape[:-1], NUM_CLASSES)
        if self.conditioning == "add":
            return self.decoder(z + self.label_to_latent(onehot))
        return self.decoder(torch.cat([z, onehot], dim=-1))

    def loss_terms(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction negative log-likelihood, KL) per image, one reparameterised sample."""
        flat = images.reshape(images.shape[0], NUM_PIXELS)
        loc, scale = self.encoder(flat)
        z = loc + scale * torch.randn_like(loc)
        reconstruction = -masked_bernoulli_log_likelihood(self.decode(z, labels), flat)
        return reconstruction, standard_normal_kl(loc, scale)

    @torch.no_grad()
    def generate(self, labels: torch.Tensor, num_samples: int, seed: int = 0) -> torch.Tensor:
        """``num_samples`` images per requested label, z from the prior: (len(labels), K, 28, 28)."""
        device = next(self.parameters()).device
        labels = check_labels(torch.as_tensor(labels)).to(device)
        z = torch.randn((num_samples, len(labels), self.z_dim), generator=torch.Generator().manual_seed(seed))
        probs = torch.sigmoid(self.decode(z.to(device), labels))
        return probs.transpose(0, 1).reshape(len(labels), num_samples, IMAGE_SIZE, IMAGE_SIZE).cpu()


class LabelCVAEObjective:
    """Reconstruction + β·KL, summed over the batch (for :func:`cvae_lib.train.fit`)."""

    def __init__(self, model: LabelCVAE, beta: float = 1.0):
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta!r}")
        self.module, self.beta = model, beta

    def loss(self, images, labels) -> torch.Tensor:
        reconstruction, kl = self.module.loss_terms(images, labels)
        return (reconstruction + self.beta * kl).sum()


def mean_pairwise_distance(samples: torch.Tensor) -> float:
    """Diversity: the mean Euclidean distance between two samples of the same request.

    ``samples``: (groups, K, ...) with K >= 2; pairs are taken within each group.
    """
    flat = samples.reshape(samples.shape[0], samples.shape[1], -1)
    if flat.shape[1] < 2:
        raise ValueError("diversity needs at least two samples per group")
    distances = torch.cdist(flat, flat)
    k = flat.shape[1]
    return (distances.sum() / (flat.shape[0] * k * (k - 1))).item()


@torch.no_grad()
def evaluate_label_cvae(model: LabelCVAE, images, labels, num_samples: int = 10, seed: int = 0) -> dict:
    """Test-set reconstruction error and KL (nats per image) and the diversity of generated digits."""
    seed_everything(seed)  # the reconstruction term draws z
    model.eval()
    reconstruction, kl = model.loss_terms(images, labels)
    generated = model.generate(torch.arange(NUM_CLASSES), num_samples, seed=seed)
    return {"reconstruction": reconstruction.mean().item(), "kl": kl.mean().item(),
            "diversity": mean_pairwise_distance(generated)}
