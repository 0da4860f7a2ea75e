"""The deterministic baseline and the CVAE of Sohn, Lee & Yan (2015), written in Pyro.

Images travel as (N, 28, 28) tensors with -1 on the pixels that are not given;
the networks flatten them to 784-vectors. Both models output *logits* for every
pixel; only the output pixels (where the input is -1) enter a likelihood.

On grey-scale targets: MNIST pixels are grey levels in [0, 1], not binary. Like
Pyro's tutorial we score them with the Bernoulli cross-entropy
y log p + (1 - y) log(1 - p),  so that our numbers stay comparable with the tutorial's
(its floor, the targets' own entropy, is ``evaluate.grey_scale_floor``). For non-binary y this is not a normalised
log-probability, and a validating Bernoulli rightly refuses such values; we
therefore build that one distribution with ``validate_args=False`` on purpose and
keep validation on everywhere else.
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from .data import IMAGE_SIZE, MASK_VALUE
from .settings import as_int

NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
GUESS_EPS = 1e-6  # a residual CVAE reads the baseline's guess as logits, clamped to [eps, 1 - eps]


def flatten_images(images: torch.Tensor) -> torch.Tensor:
    """(..., 28, 28) or (..., 784) -> (..., 784)."""
    if images.shape[-2:] == (IMAGE_SIZE, IMAGE_SIZE):
        return images.reshape(*images.shape[:-2], NUM_PIXELS)
    if images.shape[-1] != NUM_PIXELS:
        raise ValueError(
            f"expected images of shape (..., 28, 28) or (..., 784), got {tuple(images.shape)}"
        )
    return images


def output_mask(inputs: torch.Tensor) -> torch.Tensor:
    """True on the pixels to predict: those missing from the input."""
    return flatten_images(inputs) == MASK_VALUE


def fill_missing(inputs: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """The input with its missing pixels taken from ``fill`` (a guess or the truth)."""
    inputs, fill = flatten_images(inputs), flatten_images(fill)
    return torch.where(inputs == MASK_VALUE, fill, inputs)


def masked_bernoulli_log_likelihood(logits: torch.Tensor,
                                     targets: torch.Tensor) -> torch.Tensor:
    """Sum over the output pixels of y log p + (1 - y) log(1 - p), one value per image.

    ``targets`` marks non-output pixels with -1; ``logits`` may carry extra leading
    (sample) dimensions, which broadcast against ``targets``.
    """
    targets = flatten_images(targets)
    is_output = targets != MASK_VALUE
    per_pixel = -F.binary_cross_entropy_with_logits(
        logits, targets.clamp(min=0.0).expand_as(logits), reduction="none"
    )
    return (per_pixel * is_output).sum(-1)


class BaselineNet(nn.Module):
    """784-500-500-784 MLP: one deterministic guess of the missing pixels (logits)."""

    def __init__(self, hidden_1: int = 500, hidden_2: int = 500):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(NUM_PIXELS, hidden_1), nn.ReLU(),
            nn.Linear(hidden_1, hidden_2), nn.ReLU(),
            nn.Linear(hidden_2, NUM_PIXELS),
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits for all 784 pixels; the -1 sentinel is part of the input on purpose."""
        return self.net(flatten_images(inputs))

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities, shape (N, 784), on the device of ``inputs``."""
        device = next(self.parameters()).device
        return torch.sigmoid(self(inputs.to(device))).to(inputs.device)


class GaussianNet(nn.Module):
    """An MLP that maps a full 784-pixel image (or ``in_features`` values) to the mean and scale
    of a diagonal Gaussian."""

    def __init__(self, z_dim: int, hidden_1: int, hidden_2: int, in_features: int = NUM_PIXELS):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(in_features, hidden_1), nn.ReLU(), nn.Linear(hidden_1, hidden_2), nn.ReLU()
        )
        self.loc = nn.Linear(hidden_2, z_dim)
        self.raw_scale = nn.Linear(hidden_2, z_dim)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(image)
        # softplus keeps the scale positive without exp's overflow; the floor avoids log(0).
        return self.loc(hidden), F.softplus(self.raw_scale(hidden)) + 1e-4


class GenerationNet(nn.Module):
    """p(y | x, z): logits for every pixel from the latent z and, optionally, the input x.

    The first layer is split into a z part and an x part so that, when many z are
    drawn for one x, the x part is computed once and broadcast (evaluation with
    S = 1000 samples relies on this: :meth:`given`).
    """

    def __init__(self, z_dim: int, hidden_1: int, hidden_2: int, uses_input: bool):
        super().__init__()
        self.uses_input = uses_input
        self.from_z = nn.Linear(z_dim, hidden_1)
        self.from_x = nn.Linear(NUM_PIXELS, hidden_1, bias=False) if uses_input else None
        # in-place ReLUs: evaluation with S = 1000 samples is bound by memory traffic, not arithmetic
        self.rest = nn.Sequential(
            nn.ReLU(inplace=True), nn.Linear(hidden_1, hidden_2), nn.ReLU(inplace=True),
            nn.Linear(hidden_2, NUM_PIXELS)
        )

    def forward(self, z: torch.Tensor, inputs: torch.Tensor,
                pixels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of all 784 pixels, or only of the pixel indices ``pixels`` (evaluation uses
        this: the last layer then computes just the output pixels)."""
        return self.given(inputs, pixels)(z)

    def given(self, inputs: torch.Tensor, pixels: torch.Tensor | None = None):
        """z -> logits for these inputs, with the part that does not depend on z (the x part of the
        first layer, the last layer's rows of ``pixels``) computed once: the estimators call it for
        chunk after chunk of draws of z per batch of images. The logits are those of ``forward``,
        bit for bit."""
        x_part = None if self.from_x is None else self.from_x(flatten_images(inputs))
        if pixels is not None:
            body, last = self.rest[:-1], self.rest[-1]
            weight, bias = last.weight[pixels], last.bias[pixels]

        def logits(z: torch.Tensor) -> torch.Tensor:
            pre = self.from_z(z)
            if x_part is not None:
                pre = pre.add_(x_part)  # broadcast over the samples of z
            return self.rest(pre) if pixels is None else F.linear(body(pre), weight, bias)

        return logits


class CVAE(nn.Module):
    """Conditional VAE: recognition q(z|x,y), conditional prior p(z|x), generation p(y|x,z).

    The prior network sees the input with its missing pixels filled by the frozen
    baseline's guess ``y_hat``; the recognition network sees the true full image.
    Sizes default to Pyro's tutorial (z 200, hidden 500/500). With
    ``generation_uses_x=True`` the generation network also reads x, as in the paper's
    p(y|x,z); Pyro's tutorial feeds it z alone (``False``). With ``residual=True`` its
    output is added to the baseline's logits, p(y|x,z) = σ(logit ŷ + g(x,z)), and starts at 0.
    """

    def __init__(self, z_dim: int = 200, hidden_1: int = 500, hidden_2: int = 500,
                 generation_uses_x: bool = True, residual: bool = False):
        super().__init__()
        self.z_dim = z_dim
        self.residual = residual
        self.prior_net = GaussianNet(z_dim, hidden_1, hidden_2)
        self.recognition_net = GaussianNet(z_dim, hidden_1, hidden_2)
        self.generation_net = GenerationNet(z_dim, hidden_1, hidden_2, generation_uses_x)
        if residual:  # start exactly at the baseline's guess: the network learns only the departure
            nn.init.zeros_(self.generation_net.rest[-1].weight)
            nn.init.zeros_(self.generation_net.rest[-1].bias)

    # -- distributions used by the model, the guide and the estimators ---------------
    def prior(self, inputs: torch.Tensor, y_hat: torch.Tensor) -> dist.Distribution:
        loc, scale = self.prior_net(fill_missing(inputs, y_hat))
        return dist.Normal(loc, scale).to_event(1)

    def posterior(self, inputs: torch.Tensor, targets: torch.Tensor) -> dist.Distribution:
        loc, scale = self.recognition_net(fill_missing(inputs, targets))
        return dist.Normal(loc, scale).to_event(1)

    def logits(self, z: torch.Tensor, inputs: torch.Tensor, y_hat: torch.Tensor | None = None,
               pixels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of p(y|x,z) for all 784 pixels, or only for the pixel indices ``pixels``."""
        return self.logits_given(inputs, y_hat, pixels)(z)

    def logits_given(self, inputs: torch.Tensor, y_hat: torch.Tensor | None = None,
                     pixels: torch.Tensor | None = None):
        """z -> the logits of :meth:`logits` for these inputs, with everything that does not depend
        on z computed once (:meth:`GenerationNet.given`), for many draws of z per image."""
        generate = self.generation_net.given(inputs, pixels)
        if not self.residual:
            return generate
        if y_hat is None:
            raise ValueError("a residual CVAE needs the baseline's guess y_hat to compute its likelihood")
        base = torch.logit(flatten_images(y_hat), eps=GUESS_EPS)
        base = base if pixels is None else base[..., pixels]
        return lambda z: generate(z) + base

    def likelihood(self, z: torch.Tensor, inputs: torch.Tensor,
                   y_hat: torch.Tensor | None = None) -> dist.Distribution:
        """Bernoulli over all pixels, masked to the output pixels (module docstring)."""
        logits = self.logits(z, inputs, y_hat)
        # validate_args=False: the targets are grey levels in [0, 1], not only 0 and 1
        bernoulli = dist.Bernoulli(logits=logits, validate_args=False)
        return bernoulli.mask(output_mask(inputs)).to_event(1)

    # -- Pyro ----------------------------------------------------------------------------
    def model(self, inputs: torch.Tensor, targets: torch.Tensor | None = None,
              y_hat: torch.Tensor | None = None,
              kl_weight: float = 1.0) -> torch.Tensor:
        """p(z|x) p(y|x,z). ``y_hat`` is the baseline's guess for the missing pixels.

        ``kl_weight`` scales the z site in model and guide alike, i.e. the KL term
        of the ELBO; 1 is the true ELBO, smaller values are used while annealing
        (the published recipe's first epochs: ``cvae_lib.recipe``).
        """
        pyro.module("prior_net", self.prior_net)
        pyro.module("generation_net", self.generation_net)
        with pyro.plate("data", inputs.shape[0]):
            with pyro.poutine.scale(scale=kl_weight):
                z = pyro.sample("z", self.prior(inputs, y_hat))
            likelihood = self.likelihood(z, inputs, y_hat)
            if targets is None:
                # Predicting: report probabilities; a 0/1 sample would lose the greys.
                return pyro.deterministic("y", likelihood.base_dist.base_dist.probs)
            # -1 marks the input pixels; they are masked out of the likelihood anyway
            observed = flatten_images(targets).clamp(min=0.0)
            return pyro.sample("y", likelihood, obs=observed)

    def guide(self, inputs: torch.Tensor, targets: torch.Tensor | None = None,
              y_hat: torch.Tensor | None = None,
              kl_weight: float = 1.0) -> torch.Tensor:
        """q(z|x,y) when the target is known; the prior network when it is not."""
        pyro.module("recognition_net", self.recognition_net)
        with pyro.plate("data", inputs.shape[0]), pyro.poutine.scale(scale=kl_weight):
            if targets is None:
                pyro.module("prior_net", self.prior_net)
                return pyro.sample("z", self.prior(inputs, y_hat))
            return pyro.sample("z", self.posterior(inputs, targets))

    def prior_guide(self, inputs: torch.Tensor, targets: torch.Tensor | None = None,
                    y_hat: torch.Tensor | None = None,
                    kl_weight: float = 1.0) -> torch.Tensor:
        """The GSNN's "guide": z from the conditional prior p(z|x), never from q(z|x,y).

        With q = p the ELBO's KL term vanishes and what is left, E_p(z|x)[log p(y|x,z)],
        is the GSNN objective of Sohn et al. (2015): the networks are trained as they
        are used to predict.
        """
        pyro.module("prior_net", self.prior_net)
        with pyro.plate("data", inputs.shape[0]), pyro.poutine.scale(scale=kl_weight):
            return pyro.sample("z", self.prior(inputs, y_hat))

    # -- prediction ------------------------------------------------------------------------
    @torch.no_grad()
    def sample_completions(self, inputs: torch.Tensor, y_hat: torch.Tensor, num_samples: int,
                           generator: torch.Generator | None = None,
                           noise: torch.Tensor | None = None) -> torch.Tensor:
        """K completions per input from the prior path: probabilities, shape (N, K, 28, 28).

        Pass ``noise`` of shape (K, N, z_dim) to reuse the same standard-normal draws
        (the training loop does, so that per-epoch snapshots are comparable).
        """
        device = next(self.parameters()).device  # inputs and results stay on the CPU
        inputs = flatten_images(inputs).to(device)
        loc, scale = self.prior_net(fill_missing(inputs, y_hat.to(device)))
        if noise is None:
            noise = torch.randn((num_samples, *loc.shape), generator=generator)
        probs = torch.sigmoid(self.logits(loc + scale * noise.to(device), inputs, y_hat.to(device)))
        return probs.transpose(0, 1).reshape(inputs.shape[0], num_samples, IMAGE_SIZE, IMAGE_SIZE).cpu()


def predict_completions(cvae: CVAE, baseline: BaselineNet, inputs: torch.Tensor,
                        num_samples: int = 10, seed: int | None = 0) -> torch.Tensor:
    """K sampled CVAE completions per input (probabilities, (N, K, 28, 28)), for figures."""
    if as_int(num_samples) is None or as_int(num_samples) < 1:
        raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
    num_samples = as_int(num_samples)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    cvae.eval()
    baseline.eval()
    return cvae.sample_completions(inputs, baseline.predict(inputs), num_samples, generator)
