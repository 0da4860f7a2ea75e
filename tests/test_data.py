import dataclasses
import os
import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from cvae_lib import data, evaluate, settings
from cvae_lib.data import MASK_VALUE, input_mask, load_splits, mask_quadrants
from tests.helpers import synthetic_images


@pytest.fixture(scope="module")
def mnist():
    return data.load_mnist(settings.RunConfig.from_environment().data_dir)


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
        fake = {split: (torch.rand(20, 28, 28), torch.zeros(20, dtype=torch.long)) for split in ("train", "test")}
        load_splits(bad, settings.PROFILES["fast"], fake)


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


def test_the_run_configuration_is_resolved_once_at_the_edge(monkeypatch, tmp_path):
    monkeypatch.setenv("CVAE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CVAE_PROFILE", "fast")
    monkeypatch.delenv("CVAE_CHECKPOINT_DIR", raising=False)
    monkeypatch.delenv("CVAE_DEVICE", raising=False)
    config = settings.RunConfig.from_environment(seed=2)
    assert config.profile.name == "fast" and config.seed == 2 and config.quadrants == (1, 2, 3)
    assert config.data_dir == tmp_path and config.checkpoint_dir == settings.project_root() / "checkpoints"
    assert config.results_dir == settings.project_root() / "results" / "fast"  # never the published folder
    assert "MNIST        : $CVAE_DATA_DIR" in config.describe() and str(tmp_path) not in config.describe()
    explicit = settings.RunConfig.from_environment("full", data_dir="explicit")
    assert explicit.profile.name == "full" and explicit.data_dir == Path("explicit").resolve()
    assert explicit.results_dir == settings.project_root() / "results"
    monkeypatch.delenv("CVAE_DATA_DIR")
    assert settings.RunConfig.from_environment().data_dir == settings.project_root() / "data"
    monkeypatch.chdir(tmp_path)  # outside a checkout: relative to the working folder
    assert settings.RunConfig.from_environment().data_dir == tmp_path.resolve() / "data"


def test_a_configuration_validates_each_value_once(monkeypatch):
    with pytest.raises(ValueError, match="seed"):
        settings.RunConfig.from_environment("fast", seed=-1)
    with pytest.raises(ValueError, match="num_quadrants"):
        settings.RunConfig.from_environment("fast", quadrants=(1, 4))
    config = settings.RunConfig.from_environment("fast", quadrants=(3, 1, 3))
    assert config.quadrants == (3, 1)
    with pytest.raises(ValueError, match="seed"):
        config.with_seed(True)


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
    splits = load_splits(2, settings.PROFILES["full"], mnist)
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
    profile = settings.PROFILES["fast"]
    fast = load_splits(1, profile, mnist)
    full = load_splits(1, settings.PROFILES["full"], mnist)
    assert fast.sizes() == {"train": profile.train_size, "val": profile.val_size, "test": profile.test_size}
    assert torch.equal(fast.train.inputs, full.train.inputs[: profile.train_size])
    assert torch.equal(fast.test.targets, full.test.targets[: profile.test_size])


def test_the_binarised_protocol_samples_each_image_once_and_the_same_on_every_run(mnist):
    grey, binary = load_splits(1, settings.PROFILES["full"], mnist), load_splits(1, settings.PROFILES["binarised"], mnist)
    assert binary.sizes() == grey.sizes() and torch.equal(binary.test.labels, grey.test.labels)
    for split in ("train", "val", "test"):
        images = getattr(binary, split).images
        assert set(images.unique().tolist()) == {0.0, 1.0}
        assert set(getattr(binary, split).targets.unique().tolist()) == {-1.0, 0.0, 1.0}  # masked as before
    # a pixel is 1 with its grey level as the probability: over 7.8 million test pixels the share of
    # ones matches the mean grey level to well within 0.001 (its standard error is below 0.0002)
    assert abs(binary.test.images.mean().item() - grey.test.images.mean().item()) < 1e-3
    assert torch.all(binary.test.images[grey.test.images == 0] == 0)  # never ink where there is none
    assert torch.all(binary.test.images[grey.test.images == 1] == 1)
    again = load_splits(3, settings.PROFILES["binarised"], mnist)  # another setting: the same images
    assert torch.equal(again.test.images, binary.test.images) and torch.equal(again.val.images, binary.val.images)
    # binary targets leave no grey-scale floor: a model may reach 0 nats
    assert evaluate.grey_scale_floor(binary.test) == 0 < evaluate.grey_scale_floor(grey.test)


def test_the_protocol_is_part_of_a_checkpoints_settings_only_when_binarised():
    full, binarised = settings.PROFILES["full"], settings.PROFILES["binarised"]
    assert "protocol" not in full.training_dict()  # the published grey-scale checkpoints still match
    assert binarised.training_dict() == {**full.training_dict(), "name": "binarised", "protocol": "binarised"}
    with pytest.raises(ValueError, match="unknown protocol 'grey'"):
        dataclasses.replace(full, protocol="grey")
    assert settings.default_results_dir(binarised, Path("/book")) == Path("/book/results/binarised")


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("CVAE_PROFILE", "full")
    assert settings.get_profile().name == "full"
    assert settings.get_profile("fast").name == "fast"
    monkeypatch.setenv("CVAE_PROFILE", "quick")
    with pytest.raises(ValueError, match="fast.*full"):
        settings.get_profile()


def test_a_project_folder_linked_to_another_disk_is_shown_by_its_place_in_the_project(monkeypatch, tmp_path):
    """checkpoints/full may be a link to a larger disk: the chapters still print checkpoints/full, and
    a folder outside the project only by its name, never this machine's path."""
    root, disk = tmp_path.resolve() / "project", tmp_path.resolve() / "disk"
    (disk / "full").mkdir(parents=True)
    (root / "checkpoints").mkdir(parents=True)
    (root / "checkpoints" / "full").symlink_to(disk / "full", target_is_directory=True)
    monkeypatch.setattr(settings, "project_root", lambda: root)
    monkeypatch.delenv("CVAE_CHECKPOINT_DIR", raising=False)
    linked = settings.RunConfig.from_environment("full", data_dir=disk).describe()
    assert "checkpoints  : checkpoints/full\n" in linked and str(tmp_path) not in linked
    outside = settings.RunConfig.from_environment("full", data_dir=disk, checkpoint_dir=disk).describe()
    assert "checkpoints  : <full>\n" in outside and str(tmp_path) not in outside


def test_relative_path_variables_are_made_absolute_for_the_notebook_kernels(monkeypatch, tmp_path):
    # execute-book starts kernels in book/: a relative path typed at the root must still work there
    from cvae_lib.notebooks import kernel_environment

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CVAE_DATA_DIR", "../shared/data")
    monkeypatch.setenv("CVAE_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    kernel_environment(settings.PROFILES["fast"])
    assert os.environ["CVAE_PROFILE"] == "fast"
    monkeypatch.chdir(tmp_path / "..")  # where a kernel might start
    config = settings.RunConfig.from_environment()
    assert config.data_dir == (tmp_path / "../shared/data").resolve()
    assert config.checkpoint_dir == tmp_path / "ckpt"


def test_device_choice_is_checked(monkeypatch):
    monkeypatch.setenv("CVAE_DEVICE", "cpu")
    assert settings.RunConfig.from_environment("fast").device == "cpu"
    with pytest.raises(ValueError, match="cpu"):
        settings.RunConfig.from_environment("fast", device="abacus")
    monkeypatch.setenv("CVAE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="cpu"):
        settings.RunConfig.from_environment("fast")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            settings.RunConfig.from_environment("fast", device="cuda")
