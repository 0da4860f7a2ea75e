"""Run profiles, paths and seeding: the one place where a run's settings live.

A *profile* turns a long, publishable run into a quick smoke run. Everything that
depends on it (data subset sizes, epochs, number of Monte Carlo samples) reads it
from here, so notebooks and the command line never hard-code those numbers.
"""
from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

import numpy as np
import torch

PROFILE_ENV = "CVAE_PROFILE"
DATA_DIR_ENV = "CVAE_DATA_DIR"
CHECKPOINT_DIR_ENV = "CVAE_CHECKPOINT_DIR"
DEVICE_ENV = "CVAE_DEVICE"
ALLOWED_QUADRANTS = (1, 2, 3)


@dataclasses.dataclass(frozen=True)
class RunProfile:
    """How big a run is. ``None`` sizes mean "the whole split"."""

    name: str
    train_size: int | None  # images of the 50,000-image training split used
    val_size: int | None  # images of the 10,000-image validation split used
    test_size: int | None  # images of the 10,000-image test set evaluated
    max_epochs: int
    patience: int  # epochs without validation improvement before stopping
    batch_size: int
    mc_samples: tuple[int, ...]  # S for the Monte Carlo estimate from the prior
    is_samples: tuple[int, ...]  # S for the importance-sampled estimate
    elbo_samples: int  # samples of z per image for the negative ELBO

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def training_dict(self) -> dict:
        """The fields that change a trained model (checkpoints are matched on these)."""
        keys = ("name", "train_size", "val_size", "max_epochs", "patience", "batch_size")
        return {key: getattr(self, key) for key in keys}


PROFILES = {
    # CI and nbval: a subset and a few epochs, all three settings in a few minutes on 2 cores.
    "fast": RunProfile(
        name="fast", train_size=6000, val_size=1000, test_size=1000, max_epochs=6, patience=3,
        batch_size=128, mc_samples=(100,), is_samples=(100,), elbo_samples=10,
    ),
    # The published numbers: full data, early stopping on the validation split.
    "full": RunProfile(
        name="full", train_size=None, val_size=None, test_size=None, max_epochs=100, patience=5,
        batch_size=256, mc_samples=(100,), is_samples=(100, 1000), elbo_samples=10,
    ),
}


def get_profile(profile: str | RunProfile | None = None) -> RunProfile:
    """Return the profile named by the argument, else by ``$CVAE_PROFILE``, else ``full``."""
    if isinstance(profile, RunProfile):
        return profile
    name = profile if profile is not None else os.environ.get(PROFILE_ENV, "full")
    if name not in PROFILES:
        source = "argument" if profile is not None else f"${PROFILE_ENV}"
        raise ValueError(
            f"unknown run profile {name!r} (from the {source}); choose one of {sorted(PROFILES)}"
        )
    return PROFILES[name]


def check_quadrants(num_quadrants) -> int:
    """Validate the number of input quadrants and return it as an int."""
    # bool is an int subclass and a float 2.0 is not an intended count: reject both.
    if type(num_quadrants) is not int or num_quadrants not in ALLOWED_QUADRANTS:
        raise ValueError(
            f"num_quadrants must be one of the ints {ALLOWED_QUADRANTS} (the number of input "
            f"quadrants), got {num_quadrants!r}"
        )
    return num_quadrants


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The repository root (the folder with ``_config.yml`` and ``cvae_lib/``) above ``start``.

    Notebooks run inside ``book/`` and the command line at the root; resolving relative
    defaults against the root lets both share one ``checkpoints/`` and one ``results/``.
    Outside a checkout (say, in Colab with the library pip-installed) it is the working folder.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "cvae_lib").is_dir():
            return folder
    return here


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The MNIST root: the argument, else ``$CVAE_DATA_DIR``, else ``<project>/data``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(DATA_DIR_ENV) or project_root() / "data")


def absolute_path_variables() -> None:
    """Turn a relative ``$CVAE_DATA_DIR`` or ``$CVAE_CHECKPOINT_DIR`` into an absolute path.

    They mean "relative to where the command was typed"; the notebooks' kernels start in
    ``book/`` and would otherwise look one folder too deep.
    """
    for name in (DATA_DIR_ENV, CHECKPOINT_DIR_ENV):
        value = os.environ.get(name)
        if value and not Path(value).is_absolute():
            os.environ[name] = str(Path(value).resolve())


def checkpoint_dir(directory: str | os.PathLike | None = None) -> Path:
    """Checkpoints: the argument, else ``$CVAE_CHECKPOINT_DIR``, else ``<project>/checkpoints``."""
    if directory is not None:
        return Path(directory)
    return Path(os.environ.get(CHECKPOINT_DIR_ENV) or project_root() / "checkpoints")


def results_dir(profile: str | RunProfile | None = None) -> Path:
    """Where the book reads and writes results: ``<project>/results`` for the published
    ``full`` profile, ``<project>/results/<profile>`` (not committed) for smoke runs."""
    profile = get_profile(profile)
    root = project_root() / "results"
    return root if profile.name == "full" else root / profile.name


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Where to train and evaluate: the argument, else ``$CVAE_DEVICE``, else CUDA when present.

    Data and results always live on the CPU; only the heavy computation moves.
    """
    name = device if device is not None else os.environ.get(DEVICE_ENV) or (
        "cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use 'cpu' or 'cuda'") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but PyTorch sees no CUDA GPU; use 'cpu'")
    return chosen


def seed_everything(seed: int) -> None:
    """Seed every random number generator a run touches (Python, NumPy, torch, Pyro)."""
    import pyro

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    pyro.set_rng_seed(seed)
