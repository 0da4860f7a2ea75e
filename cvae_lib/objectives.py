"""What the training loop minimises, one class per objective.

Each objective has a ``module`` and a ``loss(*batch)`` that returns the summed loss of a batch
(:func:`cvae_lib.loop.fit` asks nothing more). The baseline's is a masked cross-entropy; the
CVAE's, the GSNN's and the hybrid's are Pyro ELBOs of the same networks that differ only in the
guide that proposes z (Sohn, Lee & Yan, 2015, section 4.2):

* CVAE: z ~ q(z|x,y), the recognition network; the loss is the negative ELBO;
* GSNN: z ~ p(z|x), the prior network, as at prediction time; the KL term vanishes and the loss is
  −E_p(z|x)[log p(y|x,z)] (one reparameterised draw per image and step);
* hybrid: α · CVAE loss + (1 − α) · GSNN loss, the networks shared.
"""
from __future__ import annotations

import pyro
import pyro.infer
import torch

from .models import CVAE, BaselineNet, masked_bernoulli_log_likelihood


class BaselineObjective:
    """Masked Bernoulli cross-entropy on the output pixels, summed over the batch."""

    def __init__(self, net: BaselineNet):
        self.module = net

    def loss(self, inputs, targets) -> torch.Tensor:
        return -masked_bernoulli_log_likelihood(self.module(inputs), targets).sum()


ELBOS = {"trace": pyro.infer.Trace_ELBO, "meanfield": pyro.infer.TraceMeanField_ELBO}
KINDS = ("cvae", "gsnn", "hybrid")


class CVAEObjective:
    """The negative ELBO of the Pyro model and guide, summed over the batch.

    ``elbo="meanfield"`` (the default) computes KL(q || p) in closed form, which
    lowers the gradient variance; ``"trace"`` estimates it by sampling, as Pyro's
    tutorial does. Pyro's ``differentiable_loss`` gives a torch tensor, so the CVAE
    is optimised by the same loop and the same (fused) Adam as the baseline.

    ``kl_weight`` multiplies the KL term in training steps only (KL annealing
    changes it between epochs); validation always scores the true negative ELBO.
    """

    def __init__(self, cvae: CVAE, elbo: str = "meanfield", kl_weight: float = 1.0):
        if elbo not in ELBOS:
            raise ValueError(f"elbo must be one of {sorted(ELBOS)}, got {elbo!r}")
        self.module = cvae
        self.kl_weight = kl_weight
        # pyro.module() registers the networks in Pyro's global parameter store;
        # start from an empty one, so no earlier model's entry lingers under a name.
        pyro.clear_param_store()
        self.elbo = ELBOS[elbo]()

    def loss(self, inputs, targets, y_hat) -> torch.Tensor:
        kl_weight = self.kl_weight if self.module.training else 1.0
        return self._negative_elbo(self.module.guide, inputs, targets, y_hat, kl_weight)

    def _negative_elbo(self, guide, inputs, targets, y_hat,
                       kl_weight: float = 1.0) -> torch.Tensor:
        return self.elbo.differentiable_loss(self.module.model, guide, inputs, targets,
                                             y_hat, kl_weight=kl_weight)


class GSNNObjective(CVAEObjective):
    """The GSNN's loss: the negative ELBO with the prior network as the guide, that is
    −log p(y|x,z), z ~ p(z|x), summed over the batch. The recognition network is not
    used."""

    def loss(self, inputs, targets, y_hat) -> torch.Tensor:
        return self._negative_elbo(self.module.prior_guide, inputs, targets, y_hat)


class HybridObjective(CVAEObjective):
    """α · (CVAE loss) + (1 − α) · (GSNN loss): the networks see both the recognition
    network's z (as in training) and the prior network's (as in testing)."""

    def __init__(self, cvae: CVAE, alpha: float, elbo: str = "meanfield",
                 kl_weight: float = 1.0):
        check_objective("hybrid", alpha)
        super().__init__(cvae, elbo, kl_weight)
        self.alpha = alpha

    def loss(self, inputs, targets, y_hat) -> torch.Tensor:
        cvae = super().loss(inputs, targets, y_hat)  # first: the draws keep their order
        gsnn = self._negative_elbo(self.module.prior_guide, inputs, targets, y_hat)
        return self.alpha * cvae + (1.0 - self.alpha) * gsnn


def check_objective(kind: str, alpha: float = 0.5) -> None:
    """Raise a one-line ValueError unless ``kind`` names an objective and ``alpha`` lies in [0, 1]."""
    if kind not in KINDS:
        raise ValueError(f"the objective must be one of {KINDS}, got {kind!r}")
    if kind == "hybrid" and (isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1):
        raise ValueError(f"the hybrid's alpha must be a number in [0, 1], got {alpha!r}")


def cvae_objective(cvae: CVAE, kind: str = "cvae", *, alpha: float = 0.5, elbo: str = "meanfield"):
    """The objective named ``kind`` ("cvae", "gsnn" or "hybrid") for ``cvae``'s networks."""
    check_objective(kind, alpha)
    if kind == "gsnn":
        return GSNNObjective(cvae, elbo)
    if kind == "hybrid":
        return HybridObjective(cvae, alpha, elbo)
    return CVAEObjective(cvae, elbo)
