"""Chapter 7: a CVAE conditioned on the digit label — generate the digit you ask for.

Unlike the quadrant CVAE, the condition here is a class, not part of the image: the
encoder q(z|x) sees the whole image, and the decoder p(x|z, label) receives the label.
Three ways to give it the label:

* ``"add"``: the one-hot label is projected to the latent size (a linear layer and a
  tanh, so at most 1 per dimension) and added to z;
* ``"add_relu"``: the same with a ReLU, so the label's vector is unbounded (chapter 7 asks
  whether that lets the label outweigh z);
* ``"concat"``: the one-hot label is concatenated to z.

With ``encoder_sees_label=True`` the encoder reads the label too, q(z|x, label): then z need not
carry the digit's identity, and the decoder has a reason to take it from the label.

Loss per image: reconstruction (Bernoulli cross-entropy) + β · KL(q(z|x) ‖ N(0, I)).
With β = 1 this is the ELBO; smaller β lets z carry more of each image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import TrainedModel
from .data import IMAGE_SIZE
from .digits import NUM_CLASSES, WeightedTermsObjective, check_labels, standard_normal_kl
from .models import NUM_PIXELS, GaussianNet, masked_bernoulli_log_likelihood
from .recipe import DIGIT_CVAE_SCHEDULE
from .settings import RunConfig
from .train import Schedule, train_or_load_digit_model

CONDITIONINGS = ("add", "add_relu", "concat")
PROJECTIONS = {"add": nn.Tanh, "add_relu": nn.ReLU}  # the label's projection added to z
# The sweep of chapter 7: from "KL almost ignored" to the ELBO.
SWEEP_BETAS = (1e-5, 1e-3, 1e-2, 1e-1, 1.0)


class LabelCVAE(nn.Module):
    def __init__(self, z_dim: int = 20, hidden: int = 400, conditioning: str = "add",
                 encoder_sees_label: bool = False):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        self.z_dim, self.conditioning, self.encoder_sees_label = z_dim, conditioning, encoder_sees_label
        self.encoder = GaussianNet(z_dim, hidden, hidden, NUM_PIXELS + (NUM_CLASSES if encoder_sees_label else 0))
        if conditioning in PROJECTIONS:
            self.label_to_latent = nn.Sequential(nn.Linear(NUM_CLASSES, z_dim), PROJECTIONS[conditioning]())
        decoder_in = z_dim if conditioning in PROJECTIONS else z_dim + NUM_CLASSES
        self.decoder = nn.Sequential(nn.Linear(decoder_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                     nn.ReLU(), nn.Linear(hidden, NUM_PIXELS))

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Pixel logits for latents ``z`` (..., z_dim) and labels broadcast to them."""
        onehot = F.one_hot(check_labels(labels), NUM_CLASSES).to(z.dtype)
        onehot = onehot.expand(*z.shape[:-1], NUM_CLASSES)
        if self.conditioning in PROJECTIONS:
            return self.decoder(z + self.label_to_latent(onehot))
        return self.decoder(torch.cat([z, onehot], dim=-1))

    def encode(self, flat: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale of q(z|x), or of q(z|x, c) when the encoder sees the label."""
        if self.encoder_sees_label:
            return self.encoder(torch.cat([flat, F.one_hot(check_labels(labels), NUM_CLASSES).to(flat.dtype)], -1))
        return self.encoder(flat)

    def loss_terms(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction negative log-likelihood, KL) per image, one reparameterised sample."""
        flat = images.reshape(images.shape[0], NUM_PIXELS)
        loc, scale = self.encode(flat, labels)
        z = loc + scale * torch.randn_like(loc)
        reconstruction = -masked_bernoulli_log_likelihood(self.decode(z, labels), flat)
        return reconstruction, standard_normal_kl(loc, scale)

    @torch.no_grad()
    def label_shift(self) -> float | None:
        """With the label added to z: the mean distance between the shifts of two different labels,
        to compare with the distance between two draws of z (about √(2 · z_dim)). None with concat."""
        if self.conditioning not in PROJECTIONS:
            return None
        shifts = self.label_to_latent(torch.eye(NUM_CLASSES, device=next(self.parameters()).device))
        return (torch.cdist(shifts, shifts).sum() / (NUM_CLASSES * (NUM_CLASSES - 1))).item()

    @torch.no_grad()
    def generate_shared(self, num_columns: int, seed: int = 0) -> torch.Tensor:
        """One z per column, decoded with each of the ten labels: (10, num_columns, 28, 28).

        Down a column only the label changes: what it changes is what the decoder takes from it."""
        device = next(self.parameters()).device
        z = torch.randn((1, num_columns, self.z_dim), generator=torch.Generator().manual_seed(seed)).to(device)
        labels = torch.arange(NUM_CLASSES, device=device).unsqueeze(1).expand(NUM_CLASSES, num_columns)
        probs = torch.sigmoid(self.decode(z.expand(NUM_CLASSES, num_columns, self.z_dim), labels))
        return probs.reshape(NUM_CLASSES, num_columns, IMAGE_SIZE, IMAGE_SIZE).cpu()

    @torch.no_grad()
    def generate(self, labels: torch.Tensor, num_samples: int, seed: int = 0) -> torch.Tensor:
        """``num_samples`` images per requested label, z from the prior: (len(labels), K, 28, 28)."""
        device = next(self.parameters()).device
        labels = check_labels(torch.as_tensor(labels)).to(device)
        z = torch.randn((num_samples, len(labels), self.z_dim), generator=torch.Generator().manual_seed(seed))
        probs = torch.sigmoid(self.decode(z.to(device), labels))
        return probs.transpose(0, 1).reshape(len(labels), num_samples, IMAGE_SIZE, IMAGE_SIZE).cpu()


class LabelCVAEObjective(WeightedTermsObjective):
    """Reconstruction + β·KL, summed over the batch."""

    def __init__(self, model: LabelCVAE, beta: float = 1.0):
        super().__init__(model, beta=beta)


def train_or_load_label_cvae(data, config: RunConfig, *, beta: float = 1.0, conditioning: str = "add",
                             encoder_sees_label: bool = False, z_dim: int = 20, hidden: int = 400,
                             schedule: Schedule = DIGIT_CVAE_SCHEDULE, max_epochs: int | None = None,
                             progress: bool = True) -> TrainedModel:
    """Train-or-load one label-conditioned CVAE (checkpoint named by its conditioning and β), on the
    paper's CVAE schedule with early stopping on the validation split (``max_epochs`` caps the
    profile's limit)."""
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    model = {"z_dim": z_dim, "hidden": hidden, "conditioning": conditioning, "beta": beta}
    if encoder_sees_label:  # only then, so the checkpoints of q(z|x) models keep their configuration
        model["encoder_sees_label"] = True
    name = f"label_cvae_{conditioning}{'_labelled_encoder' if encoder_sees_label else ''}_beta{beta:g}"
    return train_or_load_digit_model(
        name, data, lambda: LabelCVAE(z_dim, hidden, conditioning, encoder_sees_label),
        lambda module: LabelCVAEObjective(module, beta), config, model=model, schedule=schedule,
        max_epochs=max_epochs, progress=progress)
