"""Negative conditional log-likelihood (CLL) estimators, in nats per image.

For the CVAE, log p(y|x) = log ∫ p(y|x,z) p(z|x) dz has no closed form. Three
estimators are offered, and they measure different things:

* ``cvae_neg_elbo``: −ELBO = E_q[−log p(y|x,z)] + KL(q(z|x,y) ‖ p(z|x)). An *upper
  bound* on −log p(y|x); this is what Pyro's tutorial reports as "CVAE (Monte Carlo)".
* ``cvae_mc_nll``: −log (1/S) Σ_s p(y|x,z_s), z_s ~ p(z|x). Consistent, but for
  S < ∞ biased upwards, and very noisy when the posterior is narrow.
* ``cvae_is_nll``: −log (1/S) Σ_s p(y|x,z_s) p(z_s|x) / q(z_s|x,y), z_s ~ q(z|x,y).
  Importance sampling with the recognition network as proposal; its expectation
  decreases towards −log p(y|x) as S grows and equals −ELBO at S = 1.

The exact negative CLL of any model is at least the *floor* of the grey-scale targets
(``grey_scale_floor``): for a grey level y the cross-entropy −y log p − (1 − y) log(1 − p) is
smallest at p = y, where it is the Bernoulli entropy of y, above 0 for every y strictly between 0
and 1; so is every mixture of such terms over z. The negative ELBO and the Monte Carlo estimate
never go below it either; an importance-sampled estimate (its weights p(z|x)/q(z|x,y) can exceed 1)
only in expectation.

Every estimator is batched over images and samples; sampling uses its own seeded
generator, so results do not depend on what ran before. They run where the model is
(move it with ``.to(device)``); data and results stay on the CPU.
"""
from __future__ import annotations

import math

import pyro.distributions as dist
import torch
import torch.nn.functional as F

from .data import MASK_VALUE
from .models import CVAE, BaselineNet, flatten_images, masked_bernoulli_log_likelihood
from .settings import as_int
from .util import flush_denormal_floats

IMAGE_BATCH = 500
# Samples of z held in memory at once: (chunk, batch, 784) floats. Small chunks keep each
# temporary within a few MiB; with 100 the pass was twice as slow on a 2-core CPU (page faults and
# memory traffic of 100 MiB temporaries), with the same random draws and the same numbers.
SAMPLE_CHUNK = 10


def _batches(module, *tensors):
    """Image batches of ``tensors``, moved to the module's device."""
    device = next(module.parameters()).device
    for batch in zip(*(t.split(IMAGE_BATCH) for t in tensors)):
        yield [t.to(device) for t in batch]


def _check_samples(num_samples) -> int:
    if as_int(num_samples) is None or as_int(num_samples) < 1:
        raise ValueError(f"the number of samples must be a positive int, got {num_samples!r}")
    return as_int(num_samples)


@torch.no_grad()
def baseline_nll_per_image(baseline: BaselineNet, inputs: torch.Tensor, targets: torch.Tensor):
    """−log p(y|x) of the baseline for each image: masked Bernoulli cross-entropy."""
    baseline.eval()
    return torch.cat([-masked_bernoulli_log_likelihood(baseline(x), y).cpu()
                      for x, y in _batches(baseline, inputs, targets)])


def baseline_nll(baseline: BaselineNet, split) -> float:
    """Baseline negative log-likelihood, nats per image averaged over the split."""
    return baseline_nll_per_image(baseline, split.inputs, split.targets).mean().item()


def _draw(gaussian, num_samples: int, generator: torch.Generator) -> torch.Tensor:
    """S reparameterised draws from a diagonal Gaussian: (S, N, z_dim)."""
    loc, scale = gaussian.base_dist.loc, gaussian.base_dist.scale
    return loc + scale * torch.randn((num_samples, *loc.shape), generator=generator, device=loc.device)


def _log_likelihood_fn(cvae: CVAE, inputs, targets, y_hat):
    """z -> log p(y|x,z) per image. When every image has the same output pixels (always, within
    one quadrant setting) only those pixels are computed; otherwise all 784, masked."""
    x = flatten_images(inputs)
    y = flatten_images(targets)
    is_output = y != MASK_VALUE
    if bool((is_output == is_output[:1]).all()):
        pixels = is_output[0].nonzero().flatten()
        observed = y[:, pixels]
        logits_of = cvae.logits_given(x, y_hat, pixels)

        def log_likelihood(z):
            # y log σ(l) + (1 − y) log(1 − σ(l)) = y l − softplus(l): two passes over the logits, not five
            logits = logits_of(z)
            return (logits * observed).sum(-1) - F.softplus(logits).sum(-1)

        return log_likelihood
    logits_of = cvae.logits_given(x, y_hat)
    return lambda z: masked_bernoulli_log_likelihood(logits_of(z), targets)


def _unchecked_log_density(gaussian):
    """z -> ``gaussian.log_prob(z)``, the same floats, without checking each z against the support
    (that check rejects only NaN). A draw loc + scale · ε can be NaN only where loc or scale is NaN
    or infinite; the distribution's constructor, with validation on (the default), already refused a
    NaN loc and a scale that is not positive, and a NaN from infinities reaches the estimate, which is
    never stored (``experiment._cached``). The checks of every chunk took about 4% of an
    importance-sampling pass."""
    base = gaussian.base_dist
    return dist.Normal(base.loc, base.scale, validate_args=False).to_event(1).log_prob


def _log_weights(cvae: CVAE, inputs, targets, y_hat, num_samples: int, proposal: str,
                 generator: torch.Generator) -> torch.Tensor:
    """log p(y|x,z_s) [+ log p(z_s|x) − log q(z_s|x,y)] for z_s from the proposal: (S, N)."""
    prior = cvae.prior(inputs, y_hat)
    posterior = cvae.posterior(inputs, targets)
    log_prior, log_posterior = _unchecked_log_density(prior), _unchecked_log_density(posterior)
    log_likelihood = _log_likelihood_fn(cvae, inputs, targets, y_hat)
    chunks = []
    for start in range(0, num_samples, SAMPLE_CHUNK):
        count = min(SAMPLE_CHUNK, num_samples - start)
        z = _draw(prior if proposal == "prior" else posterior, count, generator)
        log_w = log_likelihood(z)
        if proposal == "posterior":
            log_w = log_w + log_prior(z) - log_posterior(z)
        chunks.append(log_w)
    return torch.cat(chunks)


@torch.no_grad()
def cvae_log_weights(cvae: CVAE, inputs, targets, y_hat, num_samples: int,
                     proposal: str = "posterior", seed: int = 0) -> torch.Tensor:
    """Log importance weights of S samples for every image, shape (S, N).

    The estimate with S' <= S samples is ``nll_from_log_weights(log_w[:S'])``: one draw of
    1000 samples gives the estimates for S = 1, 10, 100 and 1000 alike.
    """
    num_samples = _check_samples(num_samples)
    if proposal not in ("prior", "posterior"):
        raise ValueError(f"proposal must be 'prior' or 'posterior', got {proposal!r}")
    cvae.eval()
    flush_denormal_floats()
    generator = torch.Generator(device=next(cvae.parameters()).device).manual_seed(seed)
    return torch.cat([_log_weights(cvae, x, y, g, num_samples, proposal, generator).cpu()
                      for x, y, g in _batches(cvae, inputs, targets, y_hat)], dim=1)


def nll_from_log_weights(log_weights: torch.Tensor) -> torch.Tensor:
    """−log (1/S) Σ_s w_s per image, computed stably with logsumexp."""
    return math.log(log_weights.shape[0]) - torch.logsumexp(log_weights, dim=0)


def cvae_nll_per_image(cvae: CVAE, inputs, targets, y_hat, num_samples: int,
                       proposal: str = "posterior", seed: int = 0) -> torch.Tensor:
    """−log (1/S) Σ_s w_s per image, with w_s from the prior (MC) or the posterior (IS)."""
    return nll_from_log_weights(cvae_log_weights(cvae, inputs, targets, y_hat, num_samples, proposal, seed))


@torch.no_grad()
def cvae_neg_elbo_per_image(cvae: CVAE, inputs, targets, y_hat, num_samples: int = 10,
                            seed: int = 0) -> torch.Tensor:
    """−ELBO per image: reconstruction averaged over S draws from q, plus the exact KL."""
    num_samples = _check_samples(num_samples)
    cvae.eval()
    generator = torch.Generator(device=next(cvae.parameters()).device).manual_seed(seed)
    out = []
    for x, y, g in _batches(cvae, inputs, targets, y_hat):
        prior, posterior = cvae.prior(x, g), cvae.posterior(x, y)
        log_lik = _log_likelihood_fn(cvae, x, y, g)(_draw(posterior, num_samples, generator))
        kl = torch.distributions.kl_divergence(posterior, prior)
        out.append((kl - log_lik.mean(0)).cpu())
    return torch.cat(out)


def cvae_neg_elbo(cvae: CVAE, split, y_hat, num_samples: int = 10, seed: int = 0) -> float:
    """CVAE negative ELBO, nats per image (an upper bound on the negative CLL)."""
    return cvae_neg_elbo_per_image(cvae, split.inputs, split.targets, y_hat, num_samples, seed).mean().item()


def cvae_mc_nll(cvae: CVAE, split, y_hat, num_samples: int = 100, seed: int = 0) -> float:
    """Monte Carlo estimate from the conditional prior, nats per image."""
    return cvae_nll_per_image(cvae, split.inputs, split.targets, y_hat, num_samples, "prior", seed).mean().item()


def cvae_is_nll(cvae: CVAE, split, y_hat, num_samples: int = 100, seed: int = 0) -> float:
    """Importance-sampled estimate with q(z|x,y) as proposal, nats per image."""
    return cvae_nll_per_image(cvae, split.inputs, split.targets, y_hat, num_samples, "posterior", seed).mean().item()


def grey_scale_floor_per_image(targets: torch.Tensor) -> torch.Tensor:
    """The least score the Bernoulli cross-entropy allows on each image's output pixels: the sum of
    their entropies −y log y − (1 − y) log(1 − y) (in float64: one exact sum per image)."""
    y = flatten_images(targets).double()
    is_output = y != MASK_VALUE
    y = y.clamp(min=0.0)
    return (-(torch.xlogy(y, y) + torch.xlogy(1 - y, 1 - y)) * is_output).sum(-1)


def grey_scale_floor(split) -> float:
    """No model's negative CLL on ``split`` can go below this (nats per image, mean over images)."""
    return float(grey_scale_floor_per_image(split.targets).mean())
