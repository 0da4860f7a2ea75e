"""Library parts of the chapters beyond the paper: label-conditioned CVAE, classifier CVAE, quality."""
import dataclasses
import math

import pytest
import torch

from cvae_lib.classifier_cvae import ClassifierCVAE, ClassifierCVAEObjective
from cvae_lib.data import DigitData, mask_quadrants
from cvae_lib.digits import mean_pairwise_distance, standard_normal_kl
from cvae_lib.label_cvae import LabelCVAE, LabelCVAEObjective
from cvae_lib.quality import DigitClassifier, ClassifierObjective, accuracy, complete, completion_quality, \
    prediction_entropy
from cvae_lib.train import Schedule, train_or_load_digit_model
from tests.helpers import TINY, config_for, synthetic_images

LONGER = dataclasses.replace(TINY, max_epochs=25, patience=25)  # enough to learn ten ring sizes


def labelled(count, seed=0):
    """Synthetic rings whose label is the ring's size class: learnable, like digits."""
    images = synthetic_images(count, seed)
    ink = images.reshape(count, -1).sum(-1)
    labels = torch.bucketize(ink, ink.quantile(torch.linspace(0, 1, 11)[1:-1]))
    return images, labels


@pytest.fixture(scope="module")
def digits():
    return DigitData(train=labelled(512, 0), val=labelled(128, 1), test=labelled(128, 2))


@pytest.mark.parametrize("conditioning", ["add", "add_relu", "concat"])
def test_label_cvae_trains_and_generates_the_requested_shape(conditioning, digits, tmp_path):
    trained = train_or_load_digit_model(
        f"label_cvae_{conditioning}", digits, lambda: LabelCVAE(z_dim=4, hidden=64, conditioning=conditioning),
        lambda m: LabelCVAEObjective(m, beta=1.0), model={"conditioning": conditioning}, config=config_for(TINY),
        checkpoint_path=tmp_path / "m.pt", progress=False)
    history = trained.history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    model = trained.module
    samples = model.generate(torch.arange(10), num_samples=3, seed=1)
    assert samples.shape == (10, 3, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    z = torch.zeros(2, 4)
    asked, same = model.decode(z, torch.tensor([1, 7])), model.decode(z, torch.tensor([1, 1]))
    assert torch.allclose(asked[0], same[0]) and not torch.allclose(asked[1], same[1])
    again = train_or_load_digit_model(
        f"label_cvae_{conditioning}", digits, lambda: LabelCVAE(z_dim=4, hidden=64, conditioning=conditioning),
        lambda m: LabelCVAEObjective(m, beta=1.0), model={"conditioning": conditioning}, config=config_for(TINY),
        checkpoint_path=tmp_path / "m.pt", progress=False)
    assert again.loaded
    reconstruction, kl = again.module.loss_terms(*digits.test)
    assert reconstruction.shape == kl.shape == (len(digits.test[0]),) and (kl >= 0).all()


def test_label_cvae_rejects_bad_settings_and_labels():
    with pytest.raises(ValueError, match="add"):
        LabelCVAE(conditioning="multiply")
    with pytest.raises(ValueError, match="0–9"):
        LabelCVAE(z_dim=2, hidden=8).decode(torch.zeros(1, 2), torch.tensor([10]))
    with pytest.raises(ValueError, match="beta"):
        LabelCVAEObjective(LabelCVAE(z_dim=2, hidden=8), beta=-1)


def test_the_label_shift_is_bounded_by_tanh_and_not_by_relu():
    torch.manual_seed(0)
    bounded, unbounded = LabelCVAE(z_dim=4, hidden=8, conditioning="add"), LabelCVAE(z_dim=4, hidden=8, conditioning="add_relu")
    for model in (bounded, unbounded):
        with torch.no_grad():
            model.label_to_latent[0].weight.fill_(0.0)
            model.label_to_latent[0].weight[0, 0] = 50.0  # label 0 moves z's first coordinate by 50 before the activation
            model.label_to_latent[0].bias.fill_(0.0)
    # label 0 sits at distance ~1 (tanh) or 50 (ReLU) from the nine others, which coincide at the origin
    assert bounded.label_shift() == pytest.approx(2 * 9 * math.tanh(50.0) / 90)
    assert unbounded.label_shift() == pytest.approx(2 * 9 * 50.0 / 90)
    assert LabelCVAE(z_dim=4, hidden=8, conditioning="concat").label_shift() is None


def test_a_shared_z_changes_only_with_the_label_down_a_column():
    model = LabelCVAE(z_dim=4, hidden=16, conditioning="concat")
    grid = model.generate_shared(num_columns=3, seed=0)
    assert grid.shape == (10, 3, 28, 28)
    z = torch.randn((1, 3, 4), generator=torch.Generator().manual_seed(0))
    expected = torch.sigmoid(model.decode(z[0, 1].expand(10, 4), torch.arange(10))).reshape(10, 28, 28)
    assert torch.allclose(grid[:, 1], expected, atol=1e-6)  # column 1: one z, the ten labels
    assert not torch.allclose(grid[:, 0], grid[:, 1])


def test_beta_weights_only_the_kl_term(digits):
    model = LabelCVAE(z_dim=3, hidden=16)
    images, labels = digits.test
    torch.manual_seed(0)
    with_kl = LabelCVAEObjective(model, beta=1.0).loss(images, labels)
    torch.manual_seed(0)
    reconstruction, kl = model.loss_terms(images, labels)
    torch.manual_seed(0)
    without_kl = LabelCVAEObjective(model, beta=0.0).loss(images, labels)
    assert torch.allclose(without_kl, reconstruction.sum(), rtol=1e-5)
    assert torch.allclose(with_kl - without_kl, kl.sum(), atol=0.05)  # float32 sums near 7e4


def test_standard_normal_kl_matches_torch():
    loc, scale = torch.randn(5, 3), torch.rand(5, 3) + 0.1
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(loc, scale), torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(standard_normal_kl(loc, scale), expected, atol=1e-5)


def test_diversity_is_the_mean_pairwise_distance():
    same = torch.ones(2, 4, 10)
    assert mean_pairwise_distance(same) == pytest.approx(0.0)
    pair = torch.stack([torch.zeros(10), torch.full((10,), 0.5)]).unsqueeze(0)
    assert mean_pairwise_distance(pair) == pytest.approx(math.sqrt(10 * 0.25))
    with pytest.raises(ValueError, match="two samples"):
        mean_pairwise_distance(torch.zeros(3, 1, 10))


def test_classifier_cvae_learns_the_label_and_shares_z_along_a_row(digits):
    torch.manual_seed(0)
    model = ClassifierCVAE(z_dim=4, hidden=64)
    result = train_or_load_digit_model("classifier_cvae", digits, lambda: model,
                                       lambda m: ClassifierCVAEObjective(m, 10.0), model={}, config=config_for(LONGER),
                                       schedule=Schedule(3e-3), checkpoint_path=None, progress=False)
    images, labels = digits.test
    assert (result.module.classify(images) == labels).float().mean() > 0.5  # chance is 0.1
    rows = result.module.generate_styles(num_rows=3, seed=0)
    assert rows.shape == (3, 10, 28, 28)
    assert not torch.allclose(rows[0, 0], rows[0, 1])  # the digit part changes the image
    assert result.module.reconstruct(images[:5]).shape == (5, 28, 28)
    model.train()
    onehot = model.digit_onehot(torch.randn(6, 10))
    assert torch.equal(onehot.sum(-1), torch.ones(6)) and set(onehot.unique().tolist()) <= {0.0, 1.0}


def test_digit_classifier_trains_above_chance(digits):
    torch.manual_seed(0)
    trained = train_or_load_digit_model("classifier", digits, lambda: DigitClassifier((8, 16), hidden=64),
                                        ClassifierObjective, model={"hidden": 64}, config=config_for(LONGER),
                                        schedule=Schedule(3e-3), checkpoint_path=None, progress=False)
    assert accuracy(trained.module, *digits.test) > 0.5  # chance is 0.1


def test_digit_classifier_reads_images_in_any_layout_alike():
    torch.manual_seed(0)
    classifier = DigitClassifier((2, 4), hidden=8)
    images = torch.rand(2, 3, 28, 28)  # (samples, images, 28, 28) as completions come
    read = classifier.predict(images)
    assert read.shape == (2, 3)
    assert torch.equal(classifier.predict(images.reshape(2, 3, 784)), read)
    assert torch.equal(classifier.predict(images.reshape(6, 28, 28)), read.reshape(6))
    assert "2 and 4 channels" in classifier.describe()


def test_entropy_of_sample_labels():
    labels = torch.tensor([[3, 3, 3, 3], [3, 5, 3, 5]])
    assert torch.allclose(prediction_entropy(labels), torch.tensor([0.0, math.log(2)]), atol=1e-6)


def test_completion_quality_of_perfect_and_of_wrong_completions():
    images = synthetic_images(6)
    inputs, targets = mask_quadrants(images, 2)
    labels = torch.tensor([0, 1, 2, 3, 4, 5])

    class ReadsTheTruth:  # a stand-in classifier: says the right digit for the true image only
        def predict(self, completed):
            flat = completed.reshape(*completed.shape[:-1], -1) if completed.shape[-1] != 784 else completed
            truth = images.reshape(6, 784)
            match = (flat - truth.reshape(6, *[1] * (flat.dim() - 2), 784)).abs().amax(-1) < 1e-6
            return torch.where(match, labels.reshape(6, *[1] * (flat.dim() - 2)), torch.full_like(match, 9, dtype=torch.long))

    perfect = images.unsqueeze(1).expand(6, 4, 28, 28)
    numbers = completion_quality(ReadsTheTruth(), inputs, targets, labels, images.reshape(6, 784), images, perfect)
    assert numbers["baseline_accuracy"] == numbers["cvae_mode_accuracy"] == numbers["cvae_top_k_accuracy"] == 1.0
    assert numbers["cvae_best_of_k_mse"] == 0.0 and numbers["cvae_diversity"] == 0.0
    assert numbers["cvae_label_entropy"] == 0.0
    blank = torch.zeros(6, 4, 28, 28)
    worse = completion_quality(ReadsTheTruth(), inputs, targets, labels, torch.zeros(6, 784), blank[:, 0], blank)
    assert worse["cvae_top_k_accuracy"] == 0.0 and worse["cvae_best_of_k_mse"] > 0
    # completing keeps the given pixels
    completed = complete(inputs, blank.reshape(6, 4, 784))
    given = (inputs != -1).reshape(6, 1, 784).expand_as(completed)
    assert torch.equal(completed[given], inputs.reshape(6, 1, 784).expand_as(completed)[given])


def test_digit_models_respect_an_epoch_cap_that_is_part_of_the_checkpoint(digits, tmp_path):
    from cvae_lib.checkpoints import CheckpointError

    make = lambda cap: train_or_load_digit_model(
        "classifier", digits, lambda: DigitClassifier((2, 4), hidden=16), ClassifierObjective, model={"hidden": 16},
        config=config_for(LONGER), max_epochs=cap, checkpoint_path=tmp_path / "c.pt", progress=False)
    assert make(2).epochs_run == 2
    with pytest.raises(CheckpointError, match="max_epochs"):
        make(3)
    with pytest.raises(ValueError, match="max_epochs"):
        make(0)


def test_the_classifier_cvae_encoder_reads_its_code_only_when_told(digits):
    images, labels = digits.test
    torch.manual_seed(0)
    plain, coded = ClassifierCVAE(z_dim=4, hidden=16), ClassifierCVAE(z_dim=4, hidden=16, encoder_sees_code=True)
    assert plain.encoder.body[0].in_features == 784 and coded.encoder.body[0].in_features == 794
    flat = images.reshape(len(images), -1)
    onehot = torch.eye(10)[labels]
    loc, _ = coded.encode(flat, onehot)
    other, _ = coded.encode(flat, torch.eye(10)[(labels + 1) % 10])
    assert not torch.allclose(loc, other)  # the code changes q(z | x, ĉ)
    assert torch.equal(plain.encode(flat, onehot)[0], plain.encode(flat, torch.eye(10)[(labels + 1) % 10])[0])
    coded.train()
    reconstruction, kl, cross_entropy = coded.loss_terms(images, labels)
    assert reconstruction.shape == kl.shape == cross_entropy.shape == (len(images),)
    (reconstruction + kl).sum().backward()  # the straight-through code passes gradients back to the classifier
    assert coded.classifier[0].weight.grad.abs().sum() > 0
    assert coded.reconstruct(images[:3]).shape == (3, 28, 28)


def test_classifier_cvae_generates_the_requested_digits():
    model = ClassifierCVAE(z_dim=4, hidden=32)
    samples = model.generate(torch.tensor([1, 7]), num_samples=3, seed=0)
    assert samples.shape == (2, 3, 28, 28)
    again = model.generate(torch.tensor([1, 7]), num_samples=3, seed=0)
    assert torch.equal(samples, again)
    assert not torch.allclose(samples[0], samples[1])  # same z, different digit


def test_identity_switches_finds_inputs_read_as_both_digits():
    from cvae_lib.quality import identity_switches

    labels = torch.tensor([[3, 3, 3], [3, 5, 3], [4, 4, 9], [5, 5, 5], [5, 3, 1]])
    assert identity_switches(labels, pairs=((3, 5), (4, 9)), count=3) == [(1, (3, 5)), (4, (3, 5)), (2, (4, 9))]
    assert identity_switches(labels, pairs=((3, 5),), count=1) == [(1, (3, 5))]
