"""Chapter 9: measuring completions with a digit classifier.

"Diverse but realistic" gets numbers: a classifier trained on MNIST reads each completed
image (given quadrants + prediction) and says which digit it shows.

* accuracy of the most likely completion (the baseline's prediction; for the CVAE, the
  decoding of the prior's mean) against the true digit;
* top-K: the true digit appears among the labels of K CVAE samples;
* entropy (nats) of the predicted digit across the K samples of one input;
* diversity: mean pairwise Euclidean distance between samples of one input (output pixels);
* best-of-K error: the smallest mean squared error over the output pixels among K samples.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import TrainedModel
from .data import IMAGE_SIZE, MASK_VALUE
from .digits import NUM_CLASSES, check_labels, mean_pairwise_distance
from .models import NUM_PIXELS, flatten_images
from .settings import RunConfig
from .train import train_or_load_digit_model


class DigitClassifier(nn.Module):
    """A small convolutional digit classifier: two 3×3 convolutions with max-pooling, one hidden
    layer, dropout; about 99.1% test accuracy on MNIST. Convolutional because the judge's own
    mistakes count against whatever it measures (an MLP of 784-1024-1024-10 reads 98.2% right)."""

    def __init__(self, channels: tuple[int, int] = (32, 64), hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        first, second = channels
        self.channels, self.hidden = (first, second), hidden
        self.net = nn.Sequential(
            nn.Conv2d(1, first, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(first, second, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(second * (IMAGE_SIZE // 4) ** 2, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, NUM_CLASSES))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(flatten_images(images).reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE))

    def describe(self) -> str:
        first, second = self.channels
        return (f"two 3×3 convolutions ({first} and {second} channels) with max-pooling, "
                f"{self.hidden} hidden units")

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """Predicted digit per image (any leading shape), on the CPU."""
        self.eval()
        device = next(self.parameters()).device
        flat = flatten_images(images)
        lead = flat.shape[:-1]
        flat = flat.reshape(-1, NUM_PIXELS)
        labels = torch.cat([self(chunk.to(device)).argmax(-1).cpu() for chunk in flat.split(batch_size)])
        return labels.reshape(lead)


CLASSIFIER_SEED = 0  # one measuring instrument for every seed of the models it measures


def train_or_load_digit_classifier(data, config: RunConfig, *, channels: tuple[int, int] = (32, 64),
                                   hidden: int = 128, max_epochs: int | None = 20,
                                   progress: bool = True) -> TrainedModel:
    """The measuring instrument of chapters 7 to 9, trained once per profile on whole MNIST digits
    (with its own seed, whatever the seed of the run that uses it)."""
    return train_or_load_digit_model("cnn_digit_classifier", data, lambda: DigitClassifier(channels, hidden),
                                     ClassifierObjective, config.with_seed(CLASSIFIER_SEED),
                                     model={"channels": list(channels), "hidden": hidden},
                                     max_epochs=max_epochs, progress=progress)


class ClassifierObjective:
    """Cross-entropy summed over the batch (for :func:`cvae_lib.train.fit`)."""

    def __init__(self, classifier: DigitClassifier):
        self.module = classifier

    def loss(self, images, labels) -> torch.Tensor:
        return F.cross_entropy(self.module(images), check_labels(labels), reduction="sum")


def accuracy(classifier: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    return (classifier.predict(images) == labels).float().mean().item()


def complete(inputs: torch.Tensor, predictions: torch.Tensor) -> torch.Tensor:
    """Given pixels from ``inputs``, the rest from ``predictions`` (broadcast over samples)."""
    inputs = flatten_images(inputs)
    predictions = flatten_images(predictions)
    if predictions.dim() == 3:  # (N, K, 784): K samples per input
        inputs = inputs.unsqueeze(1)
    return torch.where(inputs != MASK_VALUE, inputs, predictions)


def prediction_entropy(sample_labels: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of the empirical distribution of labels across K samples, per input."""
    counts = F.one_hot(sample_labels, NUM_CLASSES).sum(1).float()
    p = counts / counts.sum(-1, keepdim=True)
    return -(p * p.clamp_min(1e-12).log()).sum(-1)


def completion_quality(classifier: DigitClassifier, inputs, targets, labels,
                       baseline_probs, cvae_mode, cvae_samples) -> dict[str, float]:
    """Every measure of the module docstring for one quadrant setting.

    ``baseline_probs``: (N, 784); ``cvae_mode``: (N, 784) or (N, 28, 28), the
    decoding of the prior mean; ``cvae_samples``: (N, K, 28, 28).
    """
    labels = check_labels(labels)
    is_output = flatten_images(targets) != MASK_VALUE
    truth = flatten_images(targets).clamp(min=0)
    samples = flatten_images(cvae_samples)
    sample_labels = classifier.predict(complete(inputs, samples))
    squared = ((samples - truth.unsqueeze(1)) ** 2 * is_output.unsqueeze(1)).sum(-1)
    squared = squared / is_output.sum(-1, keepdim=True)
    output_only = samples * is_output.unsqueeze(1)
    baseline_error = (flatten_images(baseline_probs) - truth) ** 2 * is_output

    def accuracy_of(completions):
        predicted = classifier.predict(complete(inputs, completions))
        return (predicted == labels).float().mean().item()

    top_k_correct = (sample_labels == labels.unsqueeze(1)).any(1)

    return {
        "baseline_accuracy": accuracy_of(baseline_probs),
        "cvae_mode_accuracy": accuracy_of(cvae_mode),
        "cvae_top_k_accuracy": top_k_correct.float().mean().item(),
        "cvae_label_entropy": prediction_entropy(sample_labels).mean().item(),
        "cvae_diversity": mean_pairwise_distance(output_only),
        "cvae_best_of_k_mse": squared.min(1).values.mean().item(),
        "baseline_mse": (baseline_error.sum(-1) / is_output.sum(-1)).mean().item(),
    }


@torch.no_grad()
def cvae_completions(cvae, baseline, inputs: torch.Tensor, num_samples: int, seed: int = 0):
    """(baseline probabilities (N, 784), CVAE mode (N, 28, 28), K CVAE samples (N, K, 28, 28)).

    The CVAE's "most likely" completion is the decoding of the prior's mean (z = mean of
    p(z|x)); the samples draw z from p(z|x) with a fixed seed.
    """
    cvae.eval()
    baseline.eval()
    y_hat = baseline.predict(inputs)
    zero = torch.zeros(1, inputs.shape[0], cvae.z_dim)
    mode = cvae.sample_completions(inputs, y_hat, 1, noise=zero)[:, 0]
    samples = cvae.sample_completions(inputs, y_hat, num_samples, torch.Generator().manual_seed(seed))
    return flatten_images(y_hat), mode, samples


def setting_quality(classifier: DigitClassifier, cvae, baseline, split, num_samples: int = 10,
                    seed: int = 0, batch_size: int = 2000) -> dict[str, float]:
    """:func:`completion_quality` for a whole test split, in batches (mean over images)."""
    totals, count = {}, 0
    for start in range(0, len(split), batch_size):
        part = slice(start, start + batch_size)
        inputs, targets, labels = split.inputs[part], split.targets[part], split.labels[part]
        numbers = completion_quality(classifier, inputs, targets, labels,
                                     *cvae_completions(cvae, baseline, inputs, num_samples, seed + start))
        for key, value in numbers.items():
            totals[key] = totals.get(key, 0.0) + value * len(inputs)
        count += len(inputs)
    return {key: value / count for key, value in totals.items()}


def identity_switches(sample_labels: torch.Tensor, pairs=((3, 5), (4, 9)), count: int = 3) -> list[tuple[int, tuple]]:
    """Inputs whose samples are read as both digits of a pair: up to ``count`` per pair.

    ``sample_labels``: (N, K) classifier labels of K completions per input.
    Returns ``[(index, pair), ...]`` in input order within each pair.
    """
    found = []
    for a, b in pairs:
        both = ((sample_labels == a).any(1) & (sample_labels == b).any(1)).nonzero().flatten()
        found += [(i, (a, b)) for i in both[:count].tolist()]
    return found
