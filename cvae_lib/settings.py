"""Run profiles, the run configuration and seeding: the one place where a run's settings live.

A *profile* turns a long, publishable run into a quick smoke run (data subset sizes, epochs,
numbers of samples). A :class:`RunConfig` is everything one run needs: the profile, the seed,
the quadrant settings, the folders and the device. It is built once, at the edge (the command
line, or a chapter's settings cell, by :meth:`RunConfig.from_environment`, the only reader of
the ``CVAE_*`` environment variables), validated there, and passed down; nothing below looks
the settings up again.
"""
from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

import numpy as np
import torch

from .published import MANIFEST_PATH

PROFILE_ENV = "CVAE_PROFILE"
DATA_DIR_ENV = "CVAE_DATA_DIR"
CHECKPOINT_DIR_ENV = "CVAE_CHECKPOINT_DIR"
DEVICE_ENV = "CVAE_DEVICE"
DOWNLOAD_ENV = "CVAE_DOWNLOAD"  # 0 / no / off / false: never download the published models
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
    # "grey-scale": the pixels as MNIST stores them, scored as Bernoulli means (the book's table);
    # "binarised": every image sampled once to 0/1 with a fixed seed, as the literature scores it
    protocol: str = "grey-scale"

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; use one of {', '.join(PROTOCOLS)}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def training_dict(self) -> dict:
        """The fields that change a trained model (checkpoints are matched on these; the protocol
        only when it is not the grey-scale one, so that the checkpoints made before it still match)."""
        keys = ("name", "train_size", "val_size", "max_epochs", "patience", "batch_size")
        protocol = {"protocol": self.protocol} if self.protocol != "grey-scale" else {}
        return {**{key: getattr(self, key) for key in keys}, **protocol}


PROTOCOLS = ("grey-scale", "binarised")


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
# The published run on binarised MNIST (cvae_lib.data.binarise), the protocol papers report numbers for:
# its checkpoints in checkpoints/binarised/, its table in results/binarised/.
PROFILES["binarised"] = dataclasses.replace(PROFILES["full"], name="binarised", protocol="binarised")


def get_profile(profile: str | RunProfile | None = None) -> RunProfile:
    """The profile named by the argument, else by ``$CVAE_PROFILE``, else ``full`` (edges only)."""
    if isinstance(profile, RunProfile):
        return profile
    name = profile if profile is not None else os.environ.get(PROFILE_ENV, "full")
    if name not in PROFILES:
        source = "argument" if profile is not None else f"${PROFILE_ENV}"
        raise ValueError(
            f"unknown run profile {name!r} (from the {source}); choose one of {sorted(PROFILES)}"
        )
    return PROFILES[name]


def as_int(value) -> int | None:
    """``value`` as a Python int if it is an integer (an int, a NumPy integer, a 0-d integer
    tensor), else None. A bool is not a count and a float 2.0 is not an intended one."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None
    if isinstance(value, torch.Tensor):
        if value.dim() != 0 or value.dtype == torch.bool or value.is_floating_point() or value.is_complex():
            return None
        return int(value.item())
    if isinstance(value, (int, np.integer)):
        return int(value)
    return None


def check_quadrants(num_quadrants) -> int:
    """Validate the number of input quadrants and return it as an int."""
    if as_int(num_quadrants) not in ALLOWED_QUADRANTS:
        raise ValueError(
            f"num_quadrants must be one of the ints {ALLOWED_QUADRANTS} (the number of input "
            f"quadrants), got {num_quadrants!r}"
        )
    return as_int(num_quadrants)


def check_seed(seed) -> int:
    if as_int(seed) is None or as_int(seed) < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return as_int(seed)


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


def default_results_dir(profile: RunProfile, root: Path | None = None) -> Path:
    """``<project>/results`` for the published ``full`` profile, ``results/<profile>`` (not
    committed) for smoke runs, so a smoke run never overwrites the published numbers."""
    folder = (root or project_root()) / "results"
    return folder if profile.name == "full" else folder / profile.name


def check_device(name: str) -> str:
    """A device name PyTorch knows and this machine has: ``cpu`` or ``cuda[:N]``."""
    try:
        chosen = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use 'cpu' or 'cuda'") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but PyTorch sees no CUDA GPU; use 'cpu'")
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {name!r}; use 'cpu' or 'cuda'")
    return str(chosen)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, resolved and validated once. Pass it down; never look it up again."""

    profile: RunProfile
    data_dir: Path  # the folder that holds MNIST/raw
    checkpoint_dir: Path  # checkpoints/<profile>/... lie below it
    results_dir: Path  # cll.json, the tables and figures
    seed: int = 0
    quadrants: tuple[int, ...] = ALLOWED_QUADRANTS
    device: str = "cpu"  # where training and evaluation run; data and results stay on the CPU
    data_dir_shown: str = ""  # how the data folder is named on the page (never a machine path)
    # the manifest of the published models, fetched when a checkpoint it lists is missing (None: never)
    models_manifest: Path | None = None

    def __post_init__(self):
        if not isinstance(self.profile, RunProfile):
            raise TypeError(f"profile must be a RunProfile, got {type(self.profile).__name__}")
        object.__setattr__(self, "seed", check_seed(self.seed))
        quadrants = tuple(check_quadrants(q) for q in self.quadrants)
        if not quadrants:
            raise ValueError("at least one quadrant setting is needed")
        object.__setattr__(self, "quadrants", tuple(dict.fromkeys(quadrants)))
        object.__setattr__(self, "device", check_device(self.device))
        for name in ("data_dir", "checkpoint_dir", "results_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        if self.models_manifest is not None:
            object.__setattr__(self, "models_manifest", Path(self.models_manifest))

    @classmethod
    def from_environment(cls, profile: str | RunProfile | None = None, *, seed: int = 0,
                         quadrants=ALLOWED_QUADRANTS, data_dir=None, checkpoint_dir=None,
                         results_dir=None, device: str | None = None, download: bool | None = None) -> RunConfig:
        """The edge: each argument, else its ``CVAE_*`` variable, else the default.

        Relative folders are taken from the working folder; the defaults lie in the project
        root (``data/``, ``checkpoints/``, ``results/``), so the notebooks (run in ``book/``)
        and the command line share them. The device defaults to CUDA when PyTorch sees one.
        Missing checkpoints that the library's manifest publishes are downloaded unless
        ``download`` is false or ``$CVAE_DOWNLOAD`` is 0, no, off or false.
        """
        resolved = get_profile(profile)
        root = project_root()
        env_data = os.environ.get(DATA_DIR_ENV)
        if data_dir is not None:
            data, shown = Path(data_dir).resolve(), None
        elif env_data:
            data, shown = Path(env_data).resolve(), f"${DATA_DIR_ENV}"
        else:
            data, shown = root / "data", None
        checkpoints = Path(checkpoint_dir or os.environ.get(CHECKPOINT_DIR_ENV) or root / "checkpoints").resolve()
        results = Path(results_dir).resolve() if results_dir is not None else default_results_dir(resolved, root)
        device = device or os.environ.get(DEVICE_ENV) or ("cuda" if torch.cuda.is_available() else "cpu")
        if download is None:
            download = os.environ.get(DOWNLOAD_ENV, "1").strip().lower() not in ("0", "no", "off", "false")
        return cls(resolved, data, checkpoints, results, seed=seed, quadrants=tuple(quadrants),
                   device=device, data_dir_shown=shown or _relative(data, root),
                   models_manifest=MANIFEST_PATH if download else None)

    def with_seed(self, seed: int) -> RunConfig:
        return dataclasses.replace(self, seed=seed)

    def describe(self) -> str:
        """The settings and folders, as a chapter prints them at its top (no machine paths)."""
        root, profile = project_root(), self.profile
        sizes = "all" if profile.train_size is None else f"{profile.train_size:,}"
        return "\n".join([
            f"profile      : {profile.name} ({sizes} training images, at most {profile.max_epochs} "
            f"epochs, patience {profile.patience})",
            f"seed         : {self.seed}",
            f"MNIST        : {self.data_dir_shown or _relative(self.data_dir, root)}",
            f"checkpoints  : {_relative(self.checkpoint_dir / profile.name, root)}",
            f"results      : {_relative(self.results_dir, root)}",
        ])


def _relative(path: Path, root: Path) -> str:
    """A path as a reader should see it: relative to the project, never this machine's."""
    # the path as given first: a folder of the project may be a link to another disk
    for candidate in (Path(os.path.abspath(path)), Path(path).resolve()):
        try:
            return str(candidate.relative_to(root))
        except ValueError:
            pass
    return f"<{Path(path).name}>"


def seed_everything(seed: int) -> None:
    """Seed every random number generator a run touches (Python, NumPy, torch, Pyro)."""
    import pyro

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    pyro.set_rng_seed(seed)
