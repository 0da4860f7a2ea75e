"""One training loop for both models, and train-or-load checkpoints.

The loop (:func:`fit`) knows nothing about either model: it asks an *objective*
for a training step and a validation loss per batch, keeps a history, stops
early on the validation split and restores the best weights. The baseline's
objective is a plain PyTorch optimiser on the masked cross-entropy; the CVAE's
is Pyro's SVI on the ELBO.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import pyro
import pyro.infer
import torch

from .data import QuadrantData, QuadrantSplit
from .models import CVAE, BaselineNet, masked_bernoulli_log_likelihood
from .settings import (RunProfile, check_quadrants, checkpoint_dir, get_device, get_profile,
                       seed_everything)
from .util import atomic_torch_save

CHECKPOINT_FORMAT = 1
EVAL_BATCH_SIZE = 1000
SNAPSHOT_IMAGES = 8  # validation images whose predictions are stored after every epoch


class CheckpointError(RuntimeError):
    """A checkpoint is corrupt or was made with other settings."""


# --------------------------------------------------------------------------------------
# Objectives: the loss of one batch, for each model
# --------------------------------------------------------------------------------------
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


def make_adam(parameters, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel when this torch has it on the CPU (about 30% faster here)."""
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(parameters, lr=lr)


# --------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class FitResult:
    history: list[dict]  # one row per epoch: epoch, train_loss, val_loss, seconds (per image)
    best_epoch: int
    epochs_run: int
    seconds: float
    snapshots: list = dataclasses.field(default_factory=list)  # whatever on_epoch_end returned


def _batches(tensors: Sequence[torch.Tensor], batch_size: int, shuffle: bool):
    count = tensors[0].shape[0]
    order = torch.randperm(count).to(tensors[0].device) if shuffle else torch.arange(count)
    for start in range(0, count, batch_size):
        index = order[start:start + batch_size]
        yield [t[index] for t in tensors]


def fit(objective, train: Sequence[torch.Tensor], val: Sequence[torch.Tensor], *, lr: float,
        max_epochs: int, patience: int, batch_size: int, progress: bool = True,
        on_epoch_end: Callable[[int], object] | None = None, desc: str = "training",
        device: str | torch.device | None = None, min_epochs: int = 0) -> FitResult:
    """Train with Adam until the validation loss has not improved for ``patience`` epochs
    (and at least ``min_epochs`` epochs have run).

    ``train`` and ``val`` are tuples of tensors that are batched together and passed
    to ``objective.loss``, which returns the summed loss of the batch. Losses in the
    history are per image. The best weights (by validation loss) are restored at the end.
    Training runs on ``device`` (default: :func:`get_device`); the module is returned on the CPU.
    """
    from tqdm.auto import tqdm

    device = get_device(device)
    module = objective.module.to(device)
    train = [t.to(device) for t in train]  # the whole split fits on any GPU: move it once
    val = [t.to(device) for t in val]
    optimizer = make_adam(module.parameters(), lr)

    def train_step(*batch) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = objective.loss(*batch)
        loss.backward()
        optimizer.step()
        return loss.item()

    num_train, num_val = train[0].shape[0], val[0].shape[0]
    best_loss, best_epoch, best_state = math.inf, 0, None
    history, snapshots = [], []
    started = time.perf_counter()
    bar = tqdm(range(1, max_epochs + 1), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        epoch_start = time.perf_counter()
        module.train()
        train_loss = sum(train_step(*b) for b in _batches(train, batch_size, True))
        module.eval()
        with torch.no_grad():
            val_loss = sum(objective.loss(*b).item() for b in _batches(val, EVAL_BATCH_SIZE, False))
        row = {"epoch": epoch, "train_loss": train_loss / num_train, "val_loss": val_loss / num_val,
               "seconds": time.perf_counter() - epoch_start}
        if not math.isfinite(row["train_loss"]):
            raise FloatingPointError(
                f"training diverged at epoch {epoch} (loss {row['train_loss']}); lower the learning rate"
            )
        history.append(row)
        if on_epoch_end is not None:
            snapshots.append(on_epoch_end(epoch))
        bar.set_postfix(train=f"{row['train_loss']:.2f}", val=f"{row['val_loss']:.2f}")
        if row["val_loss"] < best_loss:
            best_loss, best_epoch = row["val_loss"], epoch
            best_state = copy.deepcopy(module.state_dict())
        elif epoch - best_epoch >= patience and epoch >= min_epochs:
            break
    bar.close()
    module.load_state_dict(best_state)
    module.to("cpu").eval()
    return FitResult(history, best_epoch, len(history), time.perf_counter() - started, snapshots)


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------
def default_checkpoint_path(kind: str, num_quadrants: int, profile: str | RunProfile | None = None,
                            seed: int = 0, directory=None) -> Path:
    """``checkpoints/<profile>/q<quadrants>/seed<seed>/<kind>.pt``: one file per setting."""
    profile = get_profile(profile)
    return checkpoint_dir(directory) / profile.name / f"q{num_quadrants}" / f"seed{seed}" / f"{kind}.pt"


def load_checkpoint(path: str | os.PathLike, expected_config: dict | None = None) -> dict:
    """Read a checkpoint safely (``weights_only=True``); check its configuration if given."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or was not written by cvae_lib ({type(exc).__name__}); "
            f"delete it to train again"
        ) from None
    if not isinstance(checkpoint, dict) or {"config", "state_dict"} - checkpoint.keys():
        raise CheckpointError(f"{path} is not a cvae_lib checkpoint; delete it to train again")
    if expected_config is not None and checkpoint["config"] != expected_config:
        found = checkpoint["config"]
        differing = sorted(k for k in expected_config.keys() | found.keys()
                           if expected_config.get(k) != found.get(k))
        details = ", ".join(f"{k}: checkpoint {found.get(k)!r} vs requested {expected_config.get(k)!r}"
                            for k in differing)
        raise CheckpointError(
            f"checkpoint {path} was made with other settings ({details}); delete it or use "
            f"another checkpoint path"
        )
    return checkpoint


@dataclasses.dataclass
class TrainedModel:
    module: torch.nn.Module
    config: dict
    history: list[dict]
    epochs_run: int
    best_epoch: int
    seconds: float  # training time when it was trained (also when loaded)
    path: Path | None
    loaded: bool  # True when it came from an existing checkpoint
    snapshots: torch.Tensor | None = None  # CVAE: (epochs, images, 28, 28) predictions per epoch
    snapshot_inputs: torch.Tensor | None = None


def _train_or_load(config: dict, build: Callable[[], torch.nn.Module],
                   train: Callable[[torch.nn.Module], tuple[FitResult, dict]],
                   checkpoint_path) -> TrainedModel:
    seed_everything(config["seed"])  # before build(): the initial weights are random too
    module = build()
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    if path is not None and path.exists():
        checkpoint = load_checkpoint(path, config)
        module.load_state_dict(checkpoint["state_dict"])
        module.eval()
        return TrainedModel(module, config, checkpoint["history"], checkpoint["epochs_run"],
                            checkpoint["best_epoch"], checkpoint["seconds"], path, True,
                            checkpoint.get("snapshots"), checkpoint.get("snapshot_inputs"))
    result, extras = train(module)
    trained = TrainedModel(module, config, result.history, result.epochs_run, result.best_epoch,
                           result.seconds, path, False, **extras)
    if path is not None:
        atomic_torch_save({
            "config": config, "state_dict": module.state_dict(), "history": result.history,
            "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
            "seconds": result.seconds, **extras,
        }, path)
    return trained


def _base_config(kind, data: QuadrantData, profile: RunProfile, seed: int, lr: float, model: dict):
    check_quadrants(data.num_quadrants)
    if type(seed) is not int or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return {"format": CHECKPOINT_FORMAT, "kind": kind, "num_quadrants": data.num_quadrants,
            "profile": profile.training_dict(), "seed": seed, "lr": lr, "model": model,
            "data_sizes": {k: v for k, v in data.sizes().items() if k != "test"}}


def train_or_load_baseline(data: QuadrantData, *, profile=None, seed: int = 0, lr: float = 1e-3,
                           checkpoint_path="default", progress: bool = True,
                           hidden_1: int = 500, hidden_2: int = 500) -> TrainedModel:
    """Load the baseline from ``checkpoint_path`` if it exists and matches; else train and save.

    ``checkpoint_path="default"`` uses :func:`default_checkpoint_path`; ``None`` never saves.
    """
    profile = get_profile(profile)
    model = {"hidden_1": hidden_1, "hidden_2": hidden_2}
    config = _base_config("baseline", data, profile, seed, lr, model)
    if checkpoint_path == "default":
        checkpoint_path = default_checkpoint_path("baseline", data.num_quadrants, profile, seed)

    def train(net):
        objective = BaselineObjective(net)
        result = fit(objective, (data.train.inputs, data.train.targets),
                     (data.val.inputs, data.val.targets), lr=lr, max_epochs=profile.max_epochs,
                     patience=profile.patience, batch_size=profile.batch_size, progress=progress,
                     desc=f"baseline, {data.num_quadrants} quadrant(s)")
        return result, {}

    return _train_or_load(config, lambda: BaselineNet(hidden_1, hidden_2), train, checkpoint_path)


@torch.no_grad()
def baseline_guesses(baseline: BaselineNet, split: QuadrantSplit) -> torch.Tensor:
    """The frozen baseline's guess ŷ for every image of a split, (N, 784) probabilities.

    Computed once, not at every CVAE step: the baseline does not change while the CVAE trains.
    """
    baseline.eval()
    return torch.cat([baseline.predict(x) for x in split.inputs.split(EVAL_BATCH_SIZE)])


def train_or_load_cvae(data: QuadrantData, baseline: TrainedModel, *, profile=None, seed: int = 0,
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
    profile = get_profile(profile)
    if type(kl_warmup_epochs) is not int or kl_warmup_epochs < 0:
        raise ValueError(f"kl_warmup_epochs must be a non-negative int, got {kl_warmup_epochs!r}")
    model = {"z_dim": z_dim, "hidden_1": hidden_1, "hidden_2": hidden_2,
             "generation_uses_x": generation_uses_x}
    config = _base_config("cvae", data, profile, seed, lr, model)
    config["elbo"] = elbo
    if kl_warmup_epochs:  # only when used, so that checkpoints made before the option still match
        config["kl_warmup_epochs"] = kl_warmup_epochs
    config["baseline"] = baseline.config
    if checkpoint_path == "default":
        checkpoint_path = default_checkpoint_path("cvae", data.num_quadrants, profile, seed)

    def train(cvae):
        return _fit_cvae(cvae, data, baseline, lr=lr, elbo=elbo, profile=profile, seed=seed, progress=progress,
                         kl_warmup_epochs=kl_warmup_epochs)

    return _train_or_load(config, lambda: CVAE(z_dim, hidden_1, hidden_2, generation_uses_x), train,
                          checkpoint_path)


def kl_weight_schedule(epoch: int, warmup_epochs: int) -> float:
    """The KL weight in (1-based) ``epoch``: linear from 1/n to 1 over n warm-up epochs, then 1."""
    return 1.0 if warmup_epochs <= 0 else min(1.0, epoch / warmup_epochs)


def _fit_cvae(cvae: CVAE, data: QuadrantData, baseline: TrainedModel, *, lr: float, elbo: str,
              profile: RunProfile, seed: int, progress: bool,
              kl_warmup_epochs: int = 0) -> tuple[FitResult, dict]:
    objective = CVAEObjective(cvae, elbo, kl_weight=kl_weight_schedule(1, kl_warmup_epochs))
    train_guess = baseline_guesses(baseline.module, data.train)
    val_guess = baseline_guesses(baseline.module, data.val)
    snap_inputs = data.val.inputs[:SNAPSHOT_IMAGES]
    snap_noise = torch.randn((1, snap_inputs.shape[0], cvae.z_dim), generator=torch.Generator().manual_seed(seed))

    def snapshot(epoch):
        objective.kl_weight = kl_weight_schedule(epoch + 1, kl_warmup_epochs)  # for the next epoch
        return cvae.sample_completions(snap_inputs, val_guess[:SNAPSHOT_IMAGES], 1, noise=snap_noise)[:, 0]

    result = fit(objective, (data.train.inputs, data.train.targets, train_guess),
                 (data.val.inputs, data.val.targets, val_guess), lr=lr, max_epochs=profile.max_epochs,
                 patience=profile.patience, batch_size=profile.batch_size, progress=progress,
                 on_epoch_end=snapshot, desc=f"CVAE, {data.num_quadrants} quadrant(s)",
                 min_epochs=kl_warmup_epochs)
    return result, {"snapshots": torch.stack(result.snapshots), "snapshot_inputs": snap_inputs}


def train_or_load_cvae_continued(data: QuadrantData, baseline: TrainedModel, first_stage: TrainedModel, *,
                                 lr: float = 1e-4, profile=None, checkpoint_path="default",
                                 progress: bool = True) -> TrainedModel:
    """The second stage of a step learning-rate schedule: continue a trained CVAE at a lower rate.

    Starts from ``first_stage``'s weights (a fresh Adam) and trains with the same early stopping
    until the validation loss stops improving again. Saved as ``cvae_lr<lr>.pt`` beside the first
    stage; its configuration includes the first stage's, so a changed first stage is noticed.
    """
    profile = get_profile(profile)
    if not 0 < lr < first_stage.config["lr"]:
        raise ValueError(f"the second stage needs a lower learning rate than the first "
                         f"({first_stage.config['lr']}), got {lr!r}")
    config = {**first_stage.config, "kind": "cvae_continued", "lr": lr, "first_stage": first_stage.config,
              "first_stage_epochs": first_stage.epochs_run}
    config.pop("kl_warmup_epochs", None)  # the second stage trains at full KL weight (see first_stage)
    if checkpoint_path == "default":
        checkpoint_path = default_checkpoint_path(f"cvae_lr{lr:g}", data.num_quadrants, profile, config["seed"])

    def train(cvae):
        return _fit_cvae(cvae, data, baseline, lr=lr, elbo=config["elbo"], profile=profile, seed=config["seed"],
                         progress=progress)

    return _train_or_load(config, lambda: copy.deepcopy(first_stage.module), train, checkpoint_path)


# The whole-digit models of chapters 6–8 are small side experiments (a sweep trains five of them):
# they train for at most this many epochs, or the profile's limit if that is lower.
DIGIT_MAX_EPOCHS = 10


def train_or_load_digit_model(name: str, data, build: Callable[[], torch.nn.Module],
                              make_objective: Callable[[torch.nn.Module], object], *, model: dict,
                              profile=None, seed: int = 0, lr: float = 1e-3, checkpoint_path="default",
                              max_epochs: int | None = None, checkpoint_directory=None,
                              progress: bool = True) -> TrainedModel:
    """Train-or-load for the models of whole digits (chapters 6–8): images and labels in, the
    same loop, checkpoints and configuration checks as the quadrant models.

    ``data`` is a :class:`~cvae_lib.data.DigitData`; ``model`` (a dict of the sizes and
    weights that define the model) is part of the configuration a checkpoint must match.
    ``max_epochs`` lowers the profile's epoch limit (a sweep of many models uses it).
    """
    profile = get_profile(profile)
    if type(seed) is not int or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if max_epochs is not None and (type(max_epochs) is not int or max_epochs < 1):
        raise ValueError(f"max_epochs must be a positive int or None, got {max_epochs!r}")
    max_epochs = profile.max_epochs if max_epochs is None else min(max_epochs, profile.max_epochs)
    config = {"format": CHECKPOINT_FORMAT, "kind": name, "profile": profile.training_dict(), "seed": seed,
              "lr": lr, "model": model, "data_sizes": {k: v for k, v in data.sizes().items() if k != "test"},
              "max_epochs": max_epochs}
    if checkpoint_path == "default":
        checkpoint_path = checkpoint_dir(checkpoint_directory) / profile.name / "digits" / f"seed{seed}" / f"{name}.pt"

    def train(module):
        result = fit(make_objective(module), data.train, data.val, lr=lr, max_epochs=max_epochs,
                     patience=profile.patience, batch_size=profile.batch_size, progress=progress, desc=name)
        return result, {}

    return _train_or_load(config, build, train, checkpoint_path)
