"""The speed benchmark's work counts: the GFLOP/s it prints are only as right as these."""
import importlib.util
from pathlib import Path

import pytest
import torch

from cvae_lib.models import NUM_PIXELS, BaselineNet
from cvae_lib.objectives import BaselineObjective

SPEED = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("speed_benchmark", SPEED)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def masked_images(count: int, generator: torch.Generator) -> torch.Tensor:
    given = torch.rand(count, 28, 28, generator=generator) < 0.5
    return torch.where(given, torch.rand(count, 28, 28, generator=generator), torch.full((count, 28, 28), -1.0))


def test_an_epoch_of_the_baseline_is_counted_layer_by_layer(speed):
    """784-500-500-784: a training step multiplies each layer's weights forward, for their gradient and,
    except in the first layer (its input, the image, needs no gradient), for the input's gradient;
    validation only forward. 600 training images in steps of 256 (the last one short) and 600
    validation images (fewer than one evaluation batch) must count as 600 each."""
    generator = torch.Generator().manual_seed(0)
    inputs, targets = masked_images(600, generator), torch.rand(600, 28, 28, generator=generator)
    layers = [(NUM_PIXELS, 500), (500, 500), (500, NUM_PIXELS)]
    forward = sum(2 * i * o for i, o in layers)
    input_gradients = sum(2 * i * o for i, o in layers[1:])
    expected = 600 * (forward + forward + input_gradients) + 600 * forward

    counted = speed.epoch_flops(BaselineObjective(BaselineNet()), [inputs, targets], [inputs, targets], 256)

    assert counted == pytest.approx(expected, rel=1e-12)  # integer counts, scaled per image and back

