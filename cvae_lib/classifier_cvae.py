"""Chapter 8: a CVAE with an auxiliary digit classifier and a Gumbel-softmax label.

The model does not need the label to generate: a classifier reads the image and its
prediction, made one-hot by the (hard, straight-through) Gumbel-softmax trick, is
concatenated to z for the decoder. Training adds w · cross-entropy of the classifier
to the ELBO, so the one-hot part is pushed to carry the digit's identity and z its style.

Loss per image: reconstruction + KL(q(z|x) ‖ N(0, I)) + w · CE(classifier(x), label).

With ``encoder_sees_code=True`` the encoder reads the one-hot code as well, q(z|x, ĉ), as in
Kingma et al.'s model M2: then z need not carry the digit, which the decoder is handed anyway.
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


class ClassifierCVAE(nn.Module):
    def __init__(self, z_dim: int = 20, hidden: int = 128, temperature: float = 0.5,
                 encoder_sees_code: bool = False):
        super().__init__()
        self.z_dim, self.temperature, self.encoder_sees_code = z_dim, temperature, encoder_sees_code
        self.encoder = GaussianNet(z_dim, hidden, hidden, NUM_PIXELS + (NUM_CLASSES if encoder_sees_code else 0))
        self.classifier = nn.Sequential(nn.Linear(NUM_PIXELS, hidden), nn.ReLU(), nn.Linear(hidden, NUM_CLASSES))
        self.decoder = nn.Sequential(nn.Linear(z_dim + NUM_CLASSES, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                     nn.ReLU(), nn.Linear(hidden, NUM_PIXELS))

    def decode(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z, onehot], dim=-1))

    def digit_onehot(self, class_logits: torch.Tensor) -> torch.Tensor:
        """Training: a hard Gumbel-softmax sample (one-hot forward, soft gradients
        backward). Evaluation: the classifier's most likely digit."""
        if self.training:
            return F.gumbel_softmax(class_logits, tau=self.temperature, hard=True)
        return F.one_hot(class_logits.argmax(-1), NUM_CLASSES).to(class_logits.dtype)

    def encode(self, flat: torch.Tensor, onehot: torch.Tensor):
        """Mean and scale of q(z|x), or of q(z|x, ĉ) when the encoder sees the code."""
        if self.encoder_sees_code:
            return self.encoder(torch.cat([flat, onehot], -1))
        return self.encoder(flat)

    def loss_terms(self, images: torch.Tensor, labels: torch.Tensor):
        """(reconstruction NLL, KL, classifier cross-entropy) per image."""
        flat = images.reshape(images.shape[0], NUM_PIXELS)
        class_logits = self.classifier(flat)
        onehot = self.digit_onehot(class_logits)
        loc, scale = self.encode(flat, onehot)
        z = loc + scale * torch.randn_like(loc)
        reconstruction = -masked_bernoulli_log_likelihood(self.decode(z, onehot), flat)
        cross_entropy = F.cross_entropy(class_logits, check_labels(labels), reduction="none")
        return reconstruction, standard_normal_kl(loc, scale), cross_entropy

    @torch.no_grad()
    def classify(self, images: torch.Tensor) -> torch.Tensor:
        device = next(self.parameters()).device
        return self.classifier(images.reshape(images.shape[0], NUM_PIXELS).to(device)).argmax(-1).cpu()

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Encoder mean and predicted digit, decoded: (N, 28, 28) probabilities."""
        device = next(self.parameters()).device
        flat = images.reshape(images.shape[0], NUM_PIXELS).to(device)
        onehot = F.one_hot(self.classifier(flat).argmax(-1), NUM_CLASSES).to(flat.dtype)
        loc, _ = self.encode(flat, onehot)
        return torch.sigmoid(self.decode(loc, onehot)).reshape(-1, IMAGE_SIZE, IMAGE_SIZE).cpu()

    @torch.no_grad()
    def generate(self, labels: torch.Tensor, num_samples: int, seed: int = 0) -> torch.Tensor:
        """``num_samples`` images per requested digit, z from the prior: (len(labels), K, 28, 28)."""
        device = next(self.parameters()).device
        labels = check_labels(torch.as_tensor(labels)).to(device)
        z = torch.randn((num_samples, len(labels), self.z_dim), generator=torch.Generator().manual_seed(seed))
        onehot = F.one_hot(labels, NUM_CLASSES).to(z.dtype).expand(num_samples, len(labels), NUM_CLASSES)
        probs = torch.sigmoid(self.decode(z.to(device), onehot))
        return probs.transpose(0, 1).reshape(len(labels), num_samples, IMAGE_SIZE, IMAGE_SIZE).cpu()

    @torch.no_grad()
    def generate_styles(self, num_rows: int, seed: int = 0) -> torch.Tensor:
        """One z per row, shared by the ten digits of that row: (rows, 10, 28, 28).

        Holding z fixed along a row and changing only the one-hot part shows what each part
        encodes: the digit changes along a row, the style between rows."""
        device = next(self.parameters()).device
        z = torch.randn((num_rows, 1, self.z_dim), generator=torch.Generator().manual_seed(seed)).to(device)
        onehot = torch.eye(NUM_CLASSES, device=device).expand(num_rows, NUM_CLASSES, NUM_CLASSES)
        probs = torch.sigmoid(self.decode(z.expand(num_rows, NUM_CLASSES, self.z_dim), onehot))
        return probs.reshape(num_rows, NUM_CLASSES, IMAGE_SIZE, IMAGE_SIZE).cpu()


class ClassifierCVAEObjective(WeightedTermsObjective):
    """Reconstruction + KL + w · cross-entropy, summed over the batch (w = 10 by default)."""

    def __init__(self, model: ClassifierCVAE, classifier_weight: float = 10.0):
        super().__init__(model, kl=1.0, classifier_weight=classifier_weight)


def train_or_load_classifier_cvae(data, config: RunConfig, *, classifier_weight: float = 10.0, z_dim: int = 20,
                                  hidden: int = 128, temperature: float = 0.5, encoder_sees_code: bool = False,
                                  schedule: Schedule = DIGIT_CVAE_SCHEDULE, max_epochs: int | None = None,
                                  progress: bool = True) -> TrainedModel:
    """Train-or-load the classifier CVAE (defaults: hidden 128, latent 20, w = 10, encoder q(z|x)), on
    the paper's CVAE schedule with early stopping on the validation split."""
    model = {"z_dim": z_dim, "hidden": hidden, "temperature": temperature, "classifier_weight": classifier_weight}
    if encoder_sees_code:  # only then, so the checkpoints of q(z|x) models keep their configuration
        model["encoder_sees_code"] = True
    return train_or_load_digit_model(
        "classifier_cvae_coded_encoder" if encoder_sees_code else "classifier_cvae", data,
        lambda: ClassifierCVAE(z_dim, hidden, temperature, encoder_sees_code),
        lambda module: ClassifierCVAEObjective(module, classifier_weight), config, model=model,
        schedule=schedule, max_epochs=max_epochs, progress=progress)
