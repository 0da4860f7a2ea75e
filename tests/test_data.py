import urllib.error

import pytest
import torch
import torchvision

from cvae_lib import data, settings
from cvae_lib.data import MASK_VALUE, input_mask, load_splits, mask_quadrants
from tests.helpers import synthetic_images


@pytest.fixture(scope="module")
def mnist():
    return data.load_mnist()


@pytest.mark.parametrize("q", [1, 2, 3])
def test_inputs_and_targets_partition_every_image(q):
    images = synthetic_images(16)
    inputs, targets = mask_quadrants(images, q)
    assert inputs.shape == targets.shape == images.shape
    given, wanted = inputs != MASK_VALUE, targets != MASK_VALUE
    assert torch.equal(given, ~wanted)  # every pixel on exactly one side
    assert torch.equal(torch.where(given, inputs, targets), images)


def test_quadrant_layout_matches_pyro_tutorial():
    image = torch.rand(28, 28)
    one, _ = mask_quadrants(image, 1)
    two, _ = mask_quadrants(image, 2)
    three, _ = mask_quadrants(image, 3)
    given = lambda t: t != MASK_VALUE  # noqa: E731
    # 1 quadrant: bottom-left only
    assert given(one)[14:, :14].all() and not given(one)[:14].any() and not given(one)[:, 14:].any()
    # 2 quadrants: the left half
    assert given(two)[:, :14].all() and not given(two)[:, 14:].any()
    # 3 quadrants: all but the bottom-right
    assert not given(three)[14:, 14:].any() and given(three).sum() == 3 * 14 * 14
    assert torch.equal(input_mask(2), given(two))


@pytest.mark.parametrize("bad", [0, 4, "2", 1.5, None, True, 2.0])
def test_bad_quadrant_counts_are_rejected(bad):
    with pytest.raises(ValueError, match=r"\(1, 2, 3\)"):
        mask_quadrants(torch.rand(28, 28), bad)
    with pytest.raises(ValueError, match=r"\(1, 2, 3\)"):
        load_splits(bad, mnist={})


@pytest.mark.parametrize("images, message", [
    (torch.rand(3, 27, 28), "shape"),
    (torch.rand(28 * 28), "shape"),
    (torch.rand(3, 28, 28) * 2, r"\[0, 1\]"),
    (-torch.rand(3, 28, 28), r"\[0, 1\]"),
    (torch.full((28, 28), float("nan")), "NaN"),
    (torch.zeros(28, 28, dtype=torch.uint8), "floats"),
])
def test_bad_images_are_rejected(images, message):
    with pytest.raises(ValueError, match=message):
        mask_quadrants(images, 2)


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("CVAE_DATA_DIR", str(tmp_path))
    assert settings.data_root("explicit") == settings.Path("explicit")
    assert settings.data_root() == tmp_path
    monkeypatch.delenv("CVAE_DATA_DIR")
    assert settings.data_root() == settings.project_root() / "data"
    monkeypatch.chdir(tmp_path)  # outside a checkout: relative to the working folder
    assert settings.data_root() == tmp_path.resolve() / "data"


def test_missing_mnist_gives_a_clear_error(monkeypatch, tmp_path):
    def offline(self):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(data.MNISTNotFoundError) as info:
        data.load_mnist(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "CVAE_DATA_DIR" in message and "train-images-idx3-ubyte" in message


def test_full_splits_hold_out_validation_from_training(mnist):
    splits = load_splits(2, profile="full", mnist=mnist)
    assert splits.sizes() == {"train": 50_000, "val": 10_000, "test": 10_000}
    train_idx, val_idx = data.train_val_indices()
    assert len(set(train_idx.tolist()) & set(val_idx.tolist())) == 0
    assert len(set(train_idx.tolist()) | set(val_idx.tolist())) == 60_000
    # validation images come from the official training set, the test split is the official test set
    assert torch.equal(splits.val.images, mnist["train"][0][val_idx])
    assert torch.equal(splits.test.images, mnist["test"][0])
    assert splits.train.images.min() >= 0 and splits.train.images.max() <= 1
    # the same split every time
    again_train, again_val = data.train_val_indices()
    assert torch.equal(again_val, val_idx) and torch.equal(again_train, train_idx)


def test_fast_profile_takes_nested_subsets(mnist):
    fast = load_splits(1, profile="fast", mnist=mnist)
    full = load_splits(1, profile="full", mnist=mnist)
    profile = settings.get_profile("fast")
    assert fast.sizes() == {"train": profile.train_size, "val": profile.val_size, "test": profile.test_size}
    assert torch.equal(fast.train.inputs, full.train.inputs[: profile.train_size])
    assert torch.equal(fast.test.targets, full.test.targets[: profile.test_size])


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("CVAE_PROFILE", "full")
    assert settings.get_profile().name == "full"
    assert settings.get_profile("fast").name == "fast"
    monkeypatch.setenv("CVAE_PROFILE", "quick")
    with pytest.raises(ValueError, match="fast.*full"):
        settings.get_profile()


def test_relative_path_variables_are_made_absolute_for_the_notebook_kernels(monkeypatch, tmp_path):
    # execute-book starts kernels in book/: a relative path typed at the root must still work there
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CVAE_DATA_DIR", "../shared/data")
    monkeypatch.setenv("CVAE_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    settings.absolute_path_variables()
    assert settings.data_root() == (tmp_path / "../shared/data").resolve()
    assert settings.checkpoint_dir() == tmp_path / "ckpt"


def test_device_choice_is_checked(monkeypatch):
    monkeypatch.setenv("CVAE_DEVICE", "cpu")
    assert settings.get_device().type == "cpu"
    with pytest.raises(ValueError, match="cpu"):
        settings.get_device("abacus")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            settings.get_device("cuda")
