"""Small synthetic data and profiles so that most tests run in seconds without MNIST."""
import torch

from cvae_lib.data import QuadrantData, QuadrantSplit, mask_quadrants
from cvae_lib.settings import RunConfig, RunProfile

TINY = RunProfile(name="tiny", train_size=None, val_size=None, test_size=None, max_epochs=3,
                  patience=2, batch_size=64, mc_samples=(20,), is_samples=(20,), elbo_samples=4)


def synthetic_images(count: int, seed: int = 0) -> torch.Tensor:
    """Blurry strokes in [0, 1]: structured enough to learn, cheap to make."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.arange(28.0).view(1, 28, 1)
    cols = torch.arange(28.0).view(1, 1, 28)
    centre_r = 8 + 12 * torch.rand(count, 1, 1, generator=g)
    centre_c = 8 + 12 * torch.rand(count, 1, 1, generator=g)
    radius = 4 + 5 * torch.rand(count, 1, 1, generator=g)
    distance = ((rows - centre_r) ** 2 + (cols - centre_c) ** 2).sqrt()
    return torch.exp(-((distance - radius) ** 2) / 3.0).clamp(0, 1)


def synthetic_data(num_quadrants: int = 2, sizes=(256, 128, 128), seed: int = 0) -> QuadrantData:
    splits = []
    for i, size in enumerate(sizes):
        images = synthetic_images(size, seed=seed * 10 + i)
        inputs, targets = mask_quadrants(images, num_quadrants)
        splits.append(QuadrantSplit(inputs, targets, images, torch.zeros(size, dtype=torch.long)))
    return QuadrantData(num_quadrants, *splits)


def config_for(profile: RunProfile = TINY, seed: int = 0, directory=None) -> RunConfig:
    """A run configuration built without the environment: the profile, a seed, and (optionally)
    one folder for checkpoints and results."""
    folder = directory if directory is not None else "unused"
    return RunConfig(profile, data_dir="unused", checkpoint_dir=folder, results_dir=folder, seed=seed)
