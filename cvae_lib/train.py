"""Training the book's models: their objectives and train-or-load, on the shared loop.

The objectives (:mod:`cvae_lib.objectives`) are the baseline's masked cross-entropy and the
Pyro ELBOs of the CVAE, the GSNN and the hybrid. All run through :func:`cvae_lib.loop.fit`, at a
:class:`Schedule` of learning rates, and all are kept in
checkpoints (:mod:`cvae_lib.checkpoints`) keyed by everything that defines them. The
whole-digit models of chapters 7–9 use :func:`train_or_load_digit_model`.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from typing import Callable

import torch

from .checkpoints import (CHECKPOINT_FORMAT, TrainedModel, default_checkpoint_path, digit_checkpoint_path,
                          train_or_load)
from .data import QuadrantData, QuadrantSplit
from .loop import EVAL_BATCH_SIZE, FitResult, fit
from .models import CVAE, BaselineNet
from .objectives import BaselineObjective, check_objective, cvae_objective
from .fetch import fetcher_for
from .settings import RunConfig, as_int

SNAPSHOT_IMAGES = 8  # validation images whose predictions are stored after every epoch


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How fast the loop moves: the peak learning rate, the batch size (``None``: the profile's),
    a linear warm-up of the rate over ``warmup_epochs``, and a cosine decay of it to 0 over
    ``cosine_epochs`` (0: a constant rate until early stopping; n: at most n epochs)."""

    lr: float = 1e-3
    batch_size: int | None = None
    warmup_epochs: float = 0.0
    cosine_epochs: int = 0

    def __post_init__(self):
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ValueError(f"the learning rate must be a positive float, got {self.lr!r}")
        if self.batch_size is not None and (as_int(self.batch_size) is None or self.batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, got {self.batch_size!r}")
        if self.warmup_epochs < 0 or as_int(self.cosine_epochs) is None or self.cosine_epochs < 0:
            raise ValueError(f"warm-up and cosine epochs cannot be negative: {self}")

    def lr_factor(self, progress: float) -> float:
        """The multiplier of the learning rate after ``progress`` epochs of training."""
        factor = 1.0
        if self.warmup_epochs > 0:
            factor = min(1.0, (progress + 1e-3) / self.warmup_epochs)
        if self.cosine_epochs > 0:
            factor *= 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress / self.cosine_epochs)))
        return factor

    def within(self, max_epochs: int) -> Schedule:
        """This schedule squeezed into ``max_epochs``: a cosine ends by the last epoch."""
        return dataclasses.replace(self, cosine_epochs=min(self.cosine_epochs, max_epochs))

    def epoch_limit(self, max_epochs: int) -> int:
        """At most ``max_epochs``, and a cosine's length when it has one."""
        return min(max_epochs, self.cosine_epochs or max_epochs)

    @property
    def step_factor(self) -> Callable[[float], float] | None:
        """What the loop scales the rate by before every step; ``None`` for a constant rate."""
        return self.lr_factor if self.warmup_epochs or self.cosine_epochs else None

    def describe(self, max_epochs: int, patience: int) -> str:
        """The schedule in words, for prose that must stay true when the recipe changes; the loop
        stops early after ``patience`` epochs without improvement whatever the schedule."""
        first = "the first epoch" if self.warmup_epochs == 1 else f"the first {_epochs(self.warmup_epochs)}"
        if self.warmup_epochs and self.cosine_epochs:
            rate = (f"a learning rate that rises linearly to {self.lr:g} over {first}, "
                    f"then falls to 0 along half a cosine")
        elif self.warmup_epochs:
            rate = f"a learning rate that rises linearly to {self.lr:g} over {first}"
        elif self.cosine_epochs:
            rate = f"a learning rate that falls from {self.lr:g} to 0 along half a cosine"
        else:
            rate = f"a constant learning rate of {self.lr:g}"
        limit = self.epoch_limit(max_epochs)
        length = f" over {_epochs(limit)}" if self.cosine_epochs else f", for at most {_epochs(limit)}"
        batches = f", in batches of {self.batch_size}" if self.batch_size else ""
        return (f"{rate}{length}{batches}, stopping earlier once the validation loss has not improved "
                f"for {_epochs(patience)}")

    def changes(self) -> dict:
        """The fields that differ from the constant-rate default, except ``lr`` (stored on its own):
        what a checkpoint's configuration records, so that older checkpoints still match."""
        default = Schedule(self.lr)
        return {k: v for k, v in dataclasses.asdict(self).items() if v != getattr(default, k)}


def _epochs(n: float) -> str:
    return "1 epoch" if n == 1 else f"{n:g} epochs"


def _fetch(config: RunConfig, progress: bool):
    """How a missing checkpoint is brought in from the published models (``None``: never)."""
    fetcher = fetcher_for(config, progress)
    return fetcher.fetch if fetcher is not None else None


def _quadrant_config(kind: str, data: QuadrantData, config: RunConfig, lr: float, model: dict) -> dict:
    """What a quadrant model's checkpoint must match."""
    return {"format": CHECKPOINT_FORMAT, "kind": kind, "num_quadrants": data.num_quadrants,
            "profile": config.profile.training_dict(), "seed": config.seed, "lr": lr, "model": model,
            "data_sizes": {k: v for k, v in data.sizes().items() if k != "test"}}


def _fit(objective, data: QuadrantData, extra: tuple, config: RunConfig, schedule: Schedule, progress: bool,
         desc: str, **hooks) -> FitResult:
    """The loop on a quadrant task: (inputs, targets, *extra) batches, the profile's limits."""
    train_extra, val_extra = extra
    profile = config.profile
    max_epochs = schedule.epoch_limit(profile.max_epochs)
    return fit(objective, (data.train.inputs, data.train.targets, *train_extra),
               (data.val.inputs, data.val.targets, *val_extra), lr=schedule.lr, max_epochs=max_epochs,
               patience=profile.patience, batch_size=schedule.batch_size or profile.batch_size,
               progress=progress, device=config.device, desc=desc,
               lr_factor=schedule.step_factor,
               **hooks)


def _with_schedule(checkpoint_config: dict, schedule: Schedule) -> dict:
    if schedule.changes():  # only when used, so that checkpoints made before schedules still match
        checkpoint_config["schedule"] = schedule.changes()
    return checkpoint_config


def train_or_load_baseline(data: QuadrantData, config: RunConfig, *, schedule: Schedule = Schedule(),
                           checkpoint_path="default", progress: bool = True,
                           hidden_1: int = 500, hidden_2: int = 500) -> TrainedModel:
    """Load the baseline from ``checkpoint_path`` if it exists and matches; else train and save.

    ``checkpoint_path="default"`` uses :func:`~cvae_lib.checkpoints.default_checkpoint_path`;
    ``None`` never saves.
    """
    model = {"hidden_1": hidden_1, "hidden_2": hidden_2}
    checkpoint_config = _with_schedule(_quadrant_config("baseline", data, config, schedule.lr, model), schedule)
    if checkpoint_path == "default":
        checkpoint_path = default_checkpoint_path("baseline", data.num_quadrants, config)

    def train(net):
        return _fit(BaselineObjective(net), data, ((), ()), config, schedule, progress,
                    f"baseline, {data.num_quadrants} quadrant(s)"), {}

    return train_or_load(checkpoint_config, lambda: BaselineNet(hidden_1, hidden_2), train, checkpoint_path,
                         _fetch(config, progress))


@torch.no_grad()
def baseline_guesses(baseline: BaselineNet, split: QuadrantSplit) -> torch.Tensor:
    """The frozen baseline's guess ŷ for every image of a split, (N, 784) probabilities.

    Computed once, not at every CVAE step: the baseline does not change while the CVAE trains.
    """
    baseline.eval()
    return torch.cat([baseline.predict(x) for x in split.inputs.split(EVAL_BATCH_SIZE)])


def train_or_load_cvae(data: QuadrantData, baseline: TrainedModel, config: RunConfig, *,
                       schedule: Schedule = Schedule(), objective: str = "cvae", alpha: float = 0.5,
                       kl_warmup_epochs: int = 0, residual: bool = False, elbo: str = "meanfield",
                       checkpoint_path="default", progress: bool = True, z_dim: int = 200,
                       hidden_1: int = 500, hidden_2: int = 500,
                       generation_uses_x: bool = True) -> TrainedModel:
    """Load the CVAE from ``checkpoint_path`` if it exists and matches; else train and save.

    ``baseline`` is the trained baseline of the same setting; its guesses feed the
    prior network (and, with ``residual=True``, offset the generation network's logits).
    ``objective`` is "cvae" (the recognition network proposes z), "gsnn" (the prior network
    does) or "hybrid" (``alpha`` times the first plus ``1 - alpha`` times the second); see
    :mod:`cvae_lib.objectives`. The training loop also stores, after every epoch, completions of
    a few fixed validation images with fixed noise: the frames of the training video.
    ``kl_warmup_epochs = n > 0`` anneals the KL weight linearly, 1/n, 2/n, … 1 over the
    first n epochs (early stopping waits until it reaches 1); 0, the default, never does.
    """
    if type(kl_warmup_epochs) is not int or kl_warmup_epochs < 0:
        raise ValueError(f"kl_warmup_epochs must be a non-negative int, got {kl_warmup_epochs!r}")
    check_objective(objective, alpha)
    model = {"z_dim": z_dim, "hidden_1": hidden_1, "hidden_2": hidden_2,
             "generation_uses_x": generation_uses_x}
    if residual:  # only when used, so that checkpoints made before the option still match
        model["residual"] = True
    checkpoint_config = _with_schedule(_quadrant_config("cvae", data, config, schedule.lr, model), schedule)
    checkpoint_config["elbo"] = elbo
    if objective != "cvae":
        checkpoint_config["objective"] = {"kind": objective, **({"alpha": alpha} if objective == "hybrid" else {})}
    if kl_warmup_epochs:
        checkpoint_config["kl_warmup_epochs"] = kl_warmup_epochs
    checkpoint_config["baseline"] = baseline.config
    if checkpoint_path == "default":
        checkpoint_path = default_checkpoint_path(objective, data.num_quadrants, config)

    def train(cvae):
        return _fit_cvae(cvae_objective(cvae, objective, alpha=alpha, elbo=elbo), data, baseline, config,
                         schedule, progress=progress, kl_warmup_epochs=kl_warmup_epochs)

    return train_or_load(checkpoint_config, lambda: CVAE(z_dim, hidden_1, hidden_2, generation_uses_x, residual),
                         train, checkpoint_path, _fetch(config, progress))


def kl_weight_schedule(epoch: int, warmup_epochs: int) -> float:
    """The KL weight in (1-based) ``epoch``: linear from 1/n to 1 over n warm-up epochs, then 1."""
    return 1.0 if warmup_epochs <= 0 else min(1.0, epoch / warmup_epochs)


def _fit_cvae(objective, data: QuadrantData, baseline: TrainedModel, config: RunConfig, schedule: Schedule, *,
              progress: bool, kl_warmup_epochs: int = 0) -> tuple[FitResult, dict]:
    cvae = objective.module
    train_guess = baseline_guesses(baseline.module, data.train)
    val_guess = baseline_guesses(baseline.module, data.val)
    snap_inputs, snap_guess = data.val.inputs[:SNAPSHOT_IMAGES], val_guess[:SNAPSHOT_IMAGES]
    snap_noise = torch.randn((1, snap_inputs.shape[0], cvae.z_dim),
                             generator=torch.Generator().manual_seed(config.seed))

    def set_kl_weight(epoch):  # the schedule
        objective.kl_weight = kl_weight_schedule(epoch, kl_warmup_epochs)

    def record_frame(epoch):  # the training video
        return cvae.sample_completions(snap_inputs, snap_guess, 1, noise=snap_noise)[:, 0]

    result = _fit(objective, data, ((train_guess,), (val_guess,)), config, schedule, progress,
                  f"CVAE, {data.num_quadrants} quadrant(s)", on_epoch_start=set_kl_weight,
                  on_epoch_end=record_frame, min_epochs=kl_warmup_epochs)
    # a copy: a slice would save the whole validation split with it (31 MB per checkpoint)
    return result, {"snapshots": torch.stack(result.snapshots), "snapshot_inputs": snap_inputs.clone()}


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
    # the second stage trains at full KL weight and one constant rate
    checkpoint_config.pop("kl_warmup_epochs", None)
    checkpoint_config.pop("schedule", None)
    kind = checkpoint_config.get("objective", {"kind": "cvae"})
    config = config.with_seed(checkpoint_config["seed"])
    if checkpoint_path == "default":
        checkpoint_path = default_checkpoint_path(f"cvae_lr{lr:g}", data.num_quadrants, config)

    def train(cvae):
        objective = cvae_objective(cvae, kind["kind"], alpha=kind.get("alpha", 0.5), elbo=checkpoint_config["elbo"])
        return _fit_cvae(objective, data, baseline, config, Schedule(lr), progress=progress)

    return train_or_load(checkpoint_config, lambda: copy.deepcopy(first_stage.module), train, checkpoint_path,
                         _fetch(config, progress))


def train_or_load_digit_model(name: str, data, build: Callable[[], torch.nn.Module],
                              make_objective: Callable[[torch.nn.Module], object], config: RunConfig, *,
                              model: dict, schedule: Schedule = Schedule(), checkpoint_path="default",
                              max_epochs: int | None = None, progress: bool = True) -> TrainedModel:
    """Train-or-load for the models of whole digits (chapters 7–9): images and labels in, the
    same loop, checkpoints and configuration checks as the quadrant models.

    ``data`` is a :class:`~cvae_lib.data.DigitData`; ``model`` (a dict of the sizes and
    weights that define the model) is part of the configuration a checkpoint must match.
    ``schedule`` is the learning rate's (a cosine ends by the profile's last epoch);
    ``max_epochs`` lowers the profile's epoch limit.
    """
    profile = config.profile
    if max_epochs is not None and (type(max_epochs) is not int or max_epochs < 1):
        raise ValueError(f"max_epochs must be a positive int or None, got {max_epochs!r}")
    max_epochs = profile.max_epochs if max_epochs is None else min(max_epochs, profile.max_epochs)
    schedule = schedule.within(max_epochs)
    max_epochs = schedule.epoch_limit(max_epochs)
    checkpoint_config = _with_schedule(
        {"format": CHECKPOINT_FORMAT, "kind": name, "profile": profile.training_dict(), "seed": config.seed,
         "lr": schedule.lr, "model": model, "data_sizes": {k: v for k, v in data.sizes().items() if k != "test"},
         "max_epochs": max_epochs}, schedule)
    if checkpoint_path == "default":
        checkpoint_path = digit_checkpoint_path(name, config)

    def train(module):
        result = fit(make_objective(module), data.train, data.val, lr=schedule.lr, max_epochs=max_epochs,
                     patience=profile.patience, batch_size=schedule.batch_size or profile.batch_size,
                     progress=progress, device=config.device, desc=name,
                     lr_factor=schedule.step_factor)
        return result, {}

    return train_or_load(checkpoint_config, build, train, checkpoint_path, _fetch(config, progress))
