"""MNIST cut into quadrants: the inputs x and outputs y of the completion task.

Every image is split into four 14x14 quadrants. With 1, 2 or 3 *input* quadrants
the remaining quadrants are the *output* to predict. Pixels that do not belong to
a side are set to the sentinel -1, which no real pixel (in [0, 1]) can take, so
``x == -1`` marks exactly the pixels the model has to fill in.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import torch

from .settings import RunProfile, check_quadrants

MASK_VALUE = -1.0
IMAGE_SIZE = 28
NUM_TRAIN_IMAGES = 60_000
NUM_VAL_IMAGES = 10_000
SPLIT_SEED = 0  # the validation hold-out is the same for every run and every training seed
BINARISATION_SEEDS = {"train": 1, "test": 2}  # the binarised protocol's one draw of each MNIST file
# The official files, uncompressed, and their MD5 digests: what is read is checked against them.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MNIST_FILES = tuple(MNIST_MD5)


class MNISTNotFoundError(FileNotFoundError):
    """MNIST is neither on disk nor downloadable."""


class MNISTCorruptError(ValueError):
    """An MNIST file is on disk but is not the official file (truncated, damaged or another file)."""


def verify_mnist_files(raw: Path) -> None:
    """Check every MNIST file present in ``raw`` against the official MD5; missing files pass
    (they are downloaded). Raises :class:`MNISTCorruptError` naming the first bad file."""
    for name, expected in MNIST_MD5.items():
        path = raw / name
        if not path.is_file():
            continue
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        if digest != expected:
            raise MNISTCorruptError(
                f"{path} is not the official MNIST file: truncated, damaged or replaced "
                f"({path.stat().st_size:,} bytes, MD5 {digest}, expected {expected}); delete it to "
                f"download it again, or put the official file there")


def input_mask(num_quadrants: int, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Boolean (size, size) mask, True on the input pixels (the layout of Pyro's tutorial).

    1 quadrant: bottom-left; 2: the left half; 3: everything but the bottom-right.
    """
    num_quadrants = check_quadrants(num_quadrants)
    half = size // 2
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[half:, :half] = True
    if num_quadrants >= 2:
        mask[:, :half] = True
    if num_quadrants == 3:
        mask[:half, :] = True
    return mask


def output_pixels(num_quadrants: int) -> int:
    """Pixels of y: the (4 - q) quadrants of 14 x 14 that the models complete."""
    return int((~input_mask(num_quadrants)).sum())


def _check_images(images) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE) or images.dim() not in (2, 3):
        raise ValueError(
            f"images must have shape (N, 28, 28) or (28, 28), got {tuple(images.shape)}"
        )
    if not images.is_floating_point():
        raise ValueError(
            f"images must be floats in [0, 1], got dtype {images.dtype}; divide uint8 pixels by 255"
        )
    if torch.isnan(images).any():
        raise ValueError("images contain NaN values")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(
            f"images must lie in [0, 1], got values in [{images.min().item():.3g}, "
            f"{images.max().item():.3g}]"
        )
    return images


def mask_quadrants(images: torch.Tensor, num_quadrants: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split images into ``(inputs, targets)``; pixels not on a side are set to -1.

    ``images`` has shape (N, 28, 28) or (28, 28) with floats in [0, 1]; both outputs
    have the same shape, and inputs and targets partition every image.
    """
    return _apply_mask(_check_images(images), input_mask(num_quadrants))


def _apply_mask(images: torch.Tensor, is_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    is_input = is_input.to(images.device)
    inputs = torch.where(is_input, images, torch.full_like(images, MASK_VALUE))
    targets = torch.where(is_input, torch.full_like(images, MASK_VALUE), images)
    return inputs, targets


@dataclasses.dataclass
class QuadrantSplit:
    """One split of the task: masked inputs, targets, the full images and their labels."""

    inputs: torch.Tensor  # (N, 28, 28), -1 outside the input quadrants
    targets: torch.Tensor  # (N, 28, 28), -1 outside the output quadrants
    images: torch.Tensor  # (N, 28, 28) originals in [0, 1]
    labels: torch.Tensor  # (N,) digit classes

    def __len__(self) -> int:
        return self.inputs.shape[0]


@dataclasses.dataclass
class QuadrantData:
    num_quadrants: int
    train: QuadrantSplit
    val: QuadrantSplit
    test: QuadrantSplit

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _torchvision_mnist(root: str, train: bool):
    from torchvision.datasets import MNIST

    try:
        return MNIST(root=root, train=train, download=False)
    except RuntimeError:
        pass  # not on disk: try a download below
    try:
        return MNIST(root=root, train=train, download=True)
    except Exception as exc:  # offline, blocked, or an unwritable root
        raise MNISTNotFoundError(
            f"MNIST was not found under {os.path.join(root, 'MNIST', 'raw')} and could not be "
            f"downloaded ({type(exc).__name__}). Put the four idx files ({', '.join(MNIST_FILES)}) "
            f"in that folder, or point the library at an existing copy with "
            f"CVAE_DATA_DIR=/path/to/data (the folder that contains MNIST/raw)."
        ) from None


def load_mnist(root: str | os.PathLike) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Official MNIST as float images in [0, 1]: ``{"train": (images, labels), "test": ...}``.

    ``root`` is the folder that holds ``MNIST/raw`` (a run's ``config.data_dir``). The files are
    checked against the official MD5 digests before and after any download.
    """
    raw = Path(root) / "MNIST" / "raw"
    verify_mnist_files(raw)
    downloads = not all((raw / name).is_file() for name in MNIST_FILES)
    root = str(root)
    out = {}
    for split, is_train in (("train", True), ("test", False)):
        dataset = _torchvision_mnist(root, is_train)
        # One vectorised conversion instead of a per-sample transform every epoch.
        out[split] = (dataset.data.float().div_(255.0), dataset.targets.clone())
    if downloads:
        verify_mnist_files(raw)  # what was downloaded is checked too
    return out


def train_val_indices(num_images: int = NUM_TRAIN_IMAGES, num_val: int = NUM_VAL_IMAGES):
    """Fixed, seeded hold-out of the training images: ``(train_indices, val_indices)``."""
    order = torch.randperm(num_images, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return order[num_val:], order[:num_val]


def binarise(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Each pixel set to 1 with its grey level as the probability, else 0 (stochastic binarisation,
    as Salakhutdinov & Murray made the binarised MNIST of the literature), from a generator seeded
    with ``seed``: the same 0/1 images on every machine and run."""
    noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(seed))
    return (noise < images).to(images.dtype)


def _profile_subsets(mnist: dict, profile: RunProfile):
    """((train images, labels), (validation ...), (test ...)) as the profile sizes them, binarised
    once (all 60,000 training images, then all 10,000 test images) under the binarised protocol."""
    (train_images, train_labels), (test_images, test_labels) = mnist["train"], mnist["test"]
    if profile.protocol == "binarised":
        train_images, test_images = (binarise(train_images, BINARISATION_SEEDS["train"]),
                                     binarise(test_images, BINARISATION_SEEDS["test"]))
    train_idx, val_idx = train_val_indices(len(train_images))
    train_idx, val_idx = train_idx[: profile.train_size], val_idx[: profile.val_size]
    return ((train_images[train_idx], train_labels[train_idx]),
            (train_images[val_idx], train_labels[val_idx]),
            (test_images[: profile.test_size], test_labels[: profile.test_size]))


def load_splits(num_quadrants: int, profile: RunProfile, mnist: dict) -> QuadrantData:
    """Masked train / validation / test splits for ``num_quadrants`` input quadrants.

    Validation is a fixed hold-out of 10,000 of the 60,000 training images; the
    official test images are only ever used for the final evaluation. The profile
    may take a subset (the first images of each split, so subsets are nested).
    ``mnist`` comes from :func:`load_mnist`.
    """
    num_quadrants = check_quadrants(num_quadrants)
    is_input = input_mask(num_quadrants)

    def split(images, labels) -> QuadrantSplit:
        inputs, targets = _apply_mask(images, is_input)
        return QuadrantSplit(inputs, targets, images, labels)

    train, val, test = (split(*part) for part in _profile_subsets(mnist, profile))
    return QuadrantData(num_quadrants=num_quadrants, train=train, val=val, test=test)


def closest_inputs_across_labels(split: QuadrantSplit, label_a: int, label_b: int, count: int = 4,
                                 pool: int = 2000) -> list[tuple[int, int]]:
    """Pairs (i, j) of images labelled ``label_a`` and ``label_b`` whose *inputs* are nearest.

    These are the one-to-many cases: nearly the same x, different digits, so no single
    prediction of y can be right for both. Searches the first ``pool`` images of the split.
    """
    labels = split.labels[:pool]
    index_a = (labels == label_a).nonzero().flatten()
    index_b = (labels == label_b).nonzero().flatten()
    if len(index_a) == 0 or len(index_b) == 0:
        raise ValueError(f"no images labelled {label_a} or {label_b} among the first {pool}")
    given = split.inputs[0] != MASK_VALUE
    xa = split.inputs[index_a][:, given]
    xb = split.inputs[index_b][:, given]
    # pixel by pixel (see digits.mean_pairwise_distance): the matrix-product shortcut's rounding
    # differs between machines and could reorder near ties, and with them the pairs shown
    distance = torch.cdist(xa, xb, compute_mode="donot_use_mm_for_euclid_dist")
    pairs, used_a, used_b = [], set(), set()
    for flat in distance.flatten().argsort().tolist():
        i, j = divmod(flat, distance.shape[1])
        if i in used_a or j in used_b:
            continue
        pairs.append((index_a[i].item(), index_b[j].item()))
        used_a.add(i)
        used_b.add(j)
        if len(pairs) == count:
            break
    return pairs


@dataclasses.dataclass
class DigitData:
    """Whole images and labels with the same train / validation / test split as the quadrant task."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name)[0]) for name in ("train", "val", "test")}


def load_digit_splits(profile: RunProfile, mnist: dict) -> DigitData:
    """(images, labels) for train / validation / test: the same hold-out and profile subsets as
    :func:`load_splits`, for the models that generate or classify whole digits."""
    return DigitData(*_profile_subsets(mnist, profile))
