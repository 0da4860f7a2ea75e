"""Training the book's models: their objectives and train-or-load, on the shared loop.

The baseline's objective is the masked cross-entropy with a plain PyTorch optimiser; the
CVAE's is Pyro's ELBO. Both run through :func:`cvae_lib.loop.fit`, and both are kept in
checkpoints (:mod:`cvae_lib.checkpoints`) keyed by everything that defines them. The
whole-digit models of chapters 6–8 use :func:`train_or_load_digit_model`.
"""
from __future__ import annotations

import copy
from typing import Callable

import pyro
import pyro.infer
import torch

from .checkpoints import (CHECKPOINT_FORMAT, TrainedModel, default_checkpoint_path, digit_checkpoint_path,
                          train_or_load)
from .data import QuadrantData, QuadrantSplit
from .loop import EVAL_BATCH_SIZE, FitResult, fit
from .models import CVAE, BaselineNet, masked_bernoulli_log_likelihood
from .settings import RunConfig

SNAPSHOT_IMAGES = 8  # validation images whose predictions are stored after every epoch
# The whole-digit models of chapters 6–8 are small side experiments (a sweep trains five of them):
# they train for at most this many epochs, or the profile's limit if that is lower.
DIGIT_MAX_EPOCHS = 10


class BaselineObjective:
    """Masked Bernoulli cross-entropy on the output pixels, summed over the batch."""

    def __init__(self, net: BaselineNet):
        self.module = net

    def loss(self, inputs, targets) -> torch.Tensor:
        return -masked_bernoulli_log_likelihood(self.module(inputs), targets).sum()


ELBOS = {"trace": pyro.infer.Trace_ELBO, "meanfield": pyro.infer.TraceMeanField_ELBO}


class CVAEObjective:
    """The negative ELBO of the Pyro model and guide, summed over the batch.

    ``elbo="meanfield"`` (the default) computes KL(q || p) in closed form, which
    lowers the gradient variance; ``"trace"`` estimates it by sampling, as Pyro's
    tutorial does. Pyro's ``differentiable_loss`` gives a torch tensor, so the CVAE
    is optimised by the same loop and the same (fused) Adam as the baseline.

    ``kl_weight`` multiplies the KL term in training steps only (KL annealing changes it
    between epochs); validation always scores the true negative ELBO, weight 1.
    """

    def __init__(self, cvae: CVAE, elbo: str = "meanfield", kl_weight: float = 1.0):
        if elbo not in ELBOS:
            raise ValueError(f"elbo must be one of {sorted(ELBOS)}, got {elbo!r}")
        self.module = cvae
        self.kl_weight = kl_weight
        # pyro.module() registers the networks in Pyro's global parameter store; start
        # from an empty store so no entry from an earlier model lingers under the same name.
        pyro.clear_param_store()
        self.elbo = ELBOS[elbo]()

    def loss(self, inputs, targets, y_hat) -> torch.Tensor:
        kl_weight = self.kl_weight if self.module.training else 1.0
        return self.elbo.differentiable_loss(self.module.model, self.module.guide, inputs, targets, y_hat,
                                             kl_weight=kl_weight)


def _quadrant_config(kind: str, data: QuadrantData, config: RunConfig, lr: float, model: dict) -> dict:
    """What a quadrant model's checkpoint must match."""
    return {"format": CHECKPOINT_FORMAT, "kind": kind, "num_quadrants": data.num_quadrants,
            "profile": config.profile.training_dict(), "seed": config.seed, "lr": lr, "model": model,
            "data_sizes": {k: v for k, v in data.sizes().items() if k != "test"}}


def _fit(objective, data: QuadrantData, extra: tuple, config: RunConfig, lr: float, progress: bool,
         desc: str, **hooks) -> FitResult:
    """The loop on a quadrant task: (inputs, targets, *extra) batches, the profile's limits."""
    train_extra, val_extra = extra
    profile = config.profile
    return fit(objective, (data.train.inputs, data.train.targets, *train_extra),
               (data.val.inputs, data.val.targets, *val_extra), lr=lr, max_epochs=profile.max_epochs,
               patience=profile.patience, batch_size=profile.batch_size, progress=progress,
               device=config.device, desc=desc, **hooks)


def train_or_load_baseline(data: QuadrantData, config: RunConfig, *, lr: float = 1e-3,
                           checkpoint_path="default", progress: bool = True,
                           hidden_1: int = 500, hidden_2: int = 500) -> TrainedModel:
    """Load the baseline from ``checkpoint_path`` if it exists and matches; else train and save.

    ``checkpoint_path="default"`` uses :func:`~cvae_lib.checkpoints.default_checkpoint_path`;
    ``None`` never saves.
    """
    model = {"hidden_1": hidden_1, "hidden_2": hidden_2}
    checkpoint_config = _quadrant_config("baseline", data, config, lr, model)
    if checkpoint_path == "default":
        checkpoint_path = default_checkpoint_path("baseline", data.num_quadrants, config)

    def train(net):
        return _fit(BaselineObjective(net), data, ((), ()), config, lr, progress,
                    f"baseline, {data.num_quadrants} quadrant(s)"), {}

    return train_or_load(checkpoint_config, lambda: BaselineNet(hidden_1, hidden_2), train, checkpoint_path)


@torch.no_grad()
def baseline_guesses(baseline: BaselineNet, split: QuadrantSplit) -> torch.Tensor:
    """The frozen baseline's guess ŷ for every image of a split, (N, 784) probabilities.

    Computed once, not at every CVAE step: the baseline does not change while the CVAE trains.
    """
    baseline.eval()
    return torch.cat([baseline.predict(x) for x in split.inputs.split(EVAL_BATCH_SIZE)])


def train_or_load_cvae(data: QuadrantData, baseline: TrainedModel, config: RunConfig, *,
                       lr: float = 1e-3, elbo: str = "meanfield", kl_warmup_epochs: int = 0,
                       checkpoint_path="default", progress: bool = True, z_dim: int = 200,
                       hidden_1: int = 500, hidden_2: int = 500,
                       generation_uses_x: bool = True) -> TrainedModel:
    """Load the CVAE from ``checkpoint_path`` if it exists and matches; else train and save.

    ``baseline`` is the trained baseline of the same setting; its guesses feed the
    prior network. The training loop also stores, after every epoch, completions of
    a few fixed validation images with fixed noise: the frames of the training video.
    ``kl_warmup_epochs = n > 0`` anneals the KL weight linearly, 1/n, 2/n, … 1 over the
    first n epochs (early stopping waits until it reaches 1); 0, the default, never does.
    """
    if type(kl_warmup_epochs) is not int or kl_warmup_epochs < 0:
        raise ValueError(f"kl_warmup_epochs must be a non-negative int, got {kl_warmup_epochs!r}")
    model = {"z_dim": z_dim, "hidden_1": hidden_1, "hidden_2": hidden_2,
             "generation_uses_x": generation_uses_x}
    checkpoint_config = _quadrant_config("cvae", data, config, lr, model)
    checkpoint_config["elbo"] = elbo
    if kl_warmup_epochs:  # only when used, so that checkpoints made before the option still match
        checkpoint_config["kl_warmup_epochs"] = kl_warmup_epochs
    checkpoint_config["baseline"] = baseline.config
    if checkpoint_path == "default":
        checkpoint_path = default_checkpoint_path("cvae", data.num_quadrants, config)

    def train(cvae):
        return _fit_cvae(cvae, data, baseline, config, lr=lr, elbo=elbo, progress=progress,
                         kl_warmup_epochs=kl_warmup_epochs)

    return train_or_load(checkpoint_config, lambda: CVAE(z_dim, hidden_1, hidden_2, generation_uses_x), train,
                         checkpoint_path)


def kl_weight_schedule(epoch: int, warmup_epochs: int) -> float:
    """The KL weight in (1-based) ``epoch``: linear from 1/n to 1 over n warm-up epochs, then 1."""
    return 1.0 if warmup_epochs <= 0 else min(1.0, epoch / warmup_epochs)


def _fit_cvae(cvae: CVAE, data: QuadrantData, baseline: TrainedModel, config: RunConfig, *, lr: float,
              elbo: str, progress: bool, kl_warmup_epochs: int = 0) -> tuple[FitResult, dict]:
    objective = CVAEObjective(cvae, elbo)
    train_guess = baseline_guesses(baseline.module, data.train)
    val_guess = baseline_guesses(baseline.module, data.val)
    snap_inputs, snap_guess = data.val.inputs[:SNAPSHOT_IMAGES], val_guess[:SNAPSHOT_IMAGES]
    snap_noise = torch.randn((1, snap_inputs.shape[0], cvae.z_dim),
                             generator=torch.Generator().manual_seed(config.seed))

    def set_kl_weight(epoch):  # the schedule
        objective.kl_weight = kl_weight_schedule(epoch, kl_warmup_epochs)

    def record_frame(epoch):  # the training video
        return cvae.sample_completions(snap_inputs, snap_guess, 1, noise=snap_noise)[:, 0]

    result = _fit(objective, data, ((train_guess,), (val_guess,)), config, lr, progress,
                  f"CVAE, {data.num_quadrants} quadrant(s)", on_epoch_start=set_kl_weight,
                  on_epoch_end=record_frame, min_epochs=kl_warmup_epochs)
    return result, {"snapshots": torch.stack(result.snapshots), "snapshot_inputs": snap_inputs}


def train_or_load_cvae_continued(data: QuadrantData, baseline: TrainedModel, first_stage: TrainedModel,
                                 config: RunConfig, *, lr: float = 1e-4, checkpoint_path="default",
                                 progress: bool = True) -> TrainedModel:
    """The second stage of a step learning-rate schedule: continue a trained CVAE at a lower rate.

    Starts from ``first_stage``'s weights (a fresh Adam) and trains with the same early stopping
    until the validation loss stops improving again. Saved as ``cvae_lr<lr>.pt`` beside the first
    stage; its configuration includes the first stage's, so a changed first stage is noticed.
    """
    if not 0 < lr < first_stage.config["lr"]:
        raise ValueError(f"the second stage needs a lower learning rate than the first "
                         f"({first_stage.config['lr']}), got {lr!r}")
    checkpoint_config = {**first_stage.config, "kind": "cvae_continued", "lr": lr,
                         "first_stage": first_stage.config, "first_stage_epochs": first_stage.epochs_run}
    checkpoint_config.pop("kl_warmup_epochs", None)  # the second stage trains at full KL weight
    config = config.with_seed(checkpoint_config["seed"])
    if checkpoint_path == "default":
        checkpoint_path = default_checkpoint_path(f"cvae_lr{lr:g}", data.num_quadrants, config)

    def train(cvae):
        return _fit_cvae(cvae, data, baseline, config, lr=lr, elbo=checkpoint_config["elbo"], progress=progress)

    return train_or_load(checkpoint_config, lambda: copy.deepcopy(first_stage.module), train, checkpoint_path)


def train_or_load_digit_model(name: str, data, build: Callable[[], torch.nn.Module],
                              make_objective: Callable[[torch.nn.Module], object], config: RunConfig, *,
                              model: dict, lr: float = 1e-3, checkpoint_path="default",
                              max_epochs: int | None = None, progress: bool = True) -> TrainedModel:
    """Train-or-load for the models of whole digits (chapters 6–8): images and labels in, the
    same loop, checkpoints and configuration checks as the quadrant models.

    ``data`` is a :class:`~cvae_lib.data.DigitData`; ``model`` (a dict of the sizes and
    weights that define the model) is part of the configuration a checkpoint must match.
    ``max_epochs`` lowers the profile's epoch limit (a sweep of many models uses it).
    """
    profile = config.profile
    if max_epochs is not None and (type(max_epochs) is not int or max_epochs < 1):
        raise ValueError(f"max_epochs must be a positive int or None, got {max_epochs!r}")
    max_epochs = profile.max_epochs if max_epochs is None else min(max_epochs, profile.max_epochs)
    checkpoint_config = {"format": CHECKPOINT_FORMAT, "kind": name, "profile": profile.training_dict(),
                         "seed": config.seed, "lr": lr, "model": model,
                         "data_sizes": {k: v for k, v in data.sizes().items() if k != "test"},
                         "max_epochs": max_epochs}
    if checkpoint_path == "default":
        checkpoint_path = digit_checkpoint_path(name, config)

    def train(module):
        result = fit(make_objective(module), data.train, data.val, lr=lr, max_epochs=max_epochs,
                     patience=profile.patience, batch_size=profile.batch_size, progress=progress,
                     device=config.device, desc=name)
        return result, {}

    return train_or_load(checkpoint_config, build, train, checkpoint_path)
