"""Train-or-load: checkpoint files, the check of their configuration, the trained model.

A checkpoint stores a model's weights with the configuration it was trained under (data sizes,
profile, seed, learning rate, network sizes) and its training history. :func:`train_or_load`
loads it only when that configuration matches the one asked for; anything else trains.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Callable

import torch

from .loop import FitResult
from .settings import RunConfig, seed_everything
from .util import atomic_torch_save

CHECKPOINT_FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint is corrupt or was made with other settings."""


def default_checkpoint_path(kind: str, num_quadrants: int, config: RunConfig) -> Path:
    """``<checkpoints>/<profile>/q<quadrants>/seed<seed>/<kind>.pt``: one file per setting."""
    return (config.checkpoint_dir / config.profile.name / f"q{num_quadrants}" / f"seed{config.seed}"
            / f"{kind}.pt")


def digit_checkpoint_path(name: str, config: RunConfig) -> Path:
    """``<checkpoints>/<profile>/digits/seed<seed>/<name>.pt``: the whole-digit models."""
    return config.checkpoint_dir / config.profile.name / "digits" / f"seed{config.seed}" / f"{name}.pt"


CHECKSUM_KEY = "contents_sha256"


def contents_sha256(checkpoint: dict) -> str:
    """SHA-256 of everything a checkpoint holds (tensors by their bytes), its checksum left out."""
    digest = hashlib.sha256()

    def feed(value):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous()
            digest.update(f"tensor {value.dtype} {tuple(value.shape)}".encode())
            digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                digest.update(f"key {key!r}".encode())
                feed(value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(f"list {len(value)}".encode())
            for item in value:
                feed(item)
        else:
            digest.update(f"value {value!r}".encode())

    feed({key: value for key, value in checkpoint.items() if key != CHECKSUM_KEY})
    return digest.hexdigest()


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
    # Checkpoints written before the checksum existed carry none; every one written now does.
    if CHECKSUM_KEY in checkpoint and checkpoint[CHECKSUM_KEY] != contents_sha256(checkpoint):
        raise CheckpointError(f"checkpoint {path} is damaged: its contents no longer match the checksum "
                              f"stored in it; delete it to train again")
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


# What the work loaded in this process took to make: {file: (seconds of training or evaluating,
# whether the published record says so)}. The introduction's "from scratch" times add it to a
# chapter's measured time.
_REUSED_SECONDS: dict[str, tuple[float, bool]] = {}


def note_reused(path: Path, seconds: float, published: bool = False) -> None:
    """Record that ``path`` was loaded instead of made again, and what making it took. The
    published run's record of a file (``published=True``, from ``results/``) is kept over the
    seconds a local copy of the same file stores: the book states what the published run cost."""
    key = str(Path(path).resolve())
    if _REUSED_SECONDS.get(key, (0.0, False))[1] and not published:
        return
    _REUSED_SECONDS[key] = (float(seconds), published)


def reused_seconds() -> float:
    """The seconds saved in this process by loading instead of training and evaluating again."""
    return sum(seconds for seconds, _ in _REUSED_SECONDS.values())


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


def train_or_load(config: dict, build: Callable[[], torch.nn.Module],
                  train: Callable[[torch.nn.Module], tuple[FitResult, dict]],
                  checkpoint_path, fetch: Callable[[Path], bool] | None = None) -> TrainedModel:
    """Build the module; load it from ``checkpoint_path`` if that exists and its configuration is
    ``config``, else ``train`` it and save it there (atomically; ``None`` never saves).

    ``fetch(path)`` may first bring a missing checkpoint in (the published models,
    :mod:`cvae_lib.published`); when it cannot, the model is trained.
    """
    seed_everything(config["seed"])  # before build(): the initial weights are random too
    module = build()
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    if path is not None and not path.exists() and fetch is not None:
        fetch(path)
    if path is not None and path.exists():
        checkpoint = load_checkpoint(path, config)
        module.load_state_dict(checkpoint["state_dict"])
        module.eval()
        note_reused(path, checkpoint["seconds"])
        return TrainedModel(module, config, checkpoint["history"], checkpoint["epochs_run"],
                            checkpoint["best_epoch"], checkpoint["seconds"], path, True,
                            checkpoint.get("snapshots"), checkpoint.get("snapshot_inputs"))
    result, extras = train(module)
    trained = TrainedModel(module, config, result.history, result.epochs_run, result.best_epoch,
                           result.seconds, path, False, **extras)
    if path is not None:
        checkpoint = {"config": config, "state_dict": module.state_dict(), "history": result.history,
                      "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
                      "seconds": result.seconds, **extras}
        atomic_torch_save({**checkpoint, CHECKSUM_KEY: contents_sha256(checkpoint)}, path)
    return trained
