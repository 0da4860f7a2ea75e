"""The CVAE, GSNN and hybrid objectives, the residual generation network and the learning-rate schedule."""
import math

import pyro
import pytest
import torch

from cvae_lib import evaluate
from cvae_lib.loop import fit
from cvae_lib.models import CVAE, BaselineNet, flatten_images
from cvae_lib.objectives import CVAEObjective, GSNNObjective, HybridObjective, cvae_objective
from cvae_lib.train import Schedule, baseline_guesses, train_or_load_baseline, train_or_load_cvae
from tests.helpers import TINY, config_for, synthetic_data

SMALL = {"z_dim": 4, "hidden_1": 32, "hidden_2": 32}


def _batch(data, count=32, y_hat=None):
    inputs, targets = data.train.inputs[:count], data.train.targets[:count]
    return inputs, targets, torch.rand(count, 784) if y_hat is None else y_hat


def _loss(objective, batch, seed=0):
    pyro.set_rng_seed(seed)
    return objective.loss(*batch)


def test_with_the_recognition_network_equal_to_the_prior_the_cvae_and_gsnn_losses_agree():
    data = synthetic_data()
    cvae = CVAE(**SMALL)
    cvae.recognition_net.load_state_dict(cvae.prior_net.state_dict())
    inputs, targets = data.train.inputs[:32], data.train.targets[:32]
    # the prior sees x filled with y_hat, the recognition network x filled with y: make them the same image
    y_hat = flatten_images(targets).clamp(min=0.0)
    batch = (inputs, targets, y_hat)
    cvae_losses = torch.stack([_loss(CVAEObjective(cvae), batch, seed) for seed in range(20)])
    gsnn_losses = torch.stack([_loss(GSNNObjective(cvae), batch, seed) for seed in range(20)])
    assert torch.allclose(cvae_losses.mean(), gsnn_losses.mean(), rtol=1e-4)


def test_with_its_own_recognition_network_the_cvae_loss_differs_from_the_gsnn_loss():
    data = synthetic_data()
    cvae = CVAE(**SMALL)
    with torch.no_grad():
        cvae.recognition_net.loc.bias += 2.0  # q(z|x,y) now lies away from p(z|x): a KL of several nats
    batch = _batch(data)
    assert _loss(CVAEObjective(cvae), batch) - _loss(GSNNObjective(cvae), batch) > 100.0


def test_the_gsnn_loss_is_the_reconstruction_error_of_a_draw_from_the_prior():
    data = synthetic_data()
    cvae = CVAE(**SMALL)
    inputs, targets, y_hat = _batch(data)
    pyro.set_rng_seed(3)
    z = cvae.prior(inputs, y_hat).rsample()
    expected = -cvae.likelihood(z, inputs, y_hat).log_prob(flatten_images(targets).clamp(min=0.0)).sum()
    assert torch.allclose(_loss(GSNNObjective(cvae), (inputs, targets, y_hat), seed=3), expected, rtol=1e-5)


def test_the_gsnn_never_trains_the_recognition_network():
    data = synthetic_data()
    cvae = CVAE(**SMALL)
    _loss(GSNNObjective(cvae), _batch(data)).backward()
    assert all(p.grad is None for p in cvae.recognition_net.parameters())
    assert all(p.grad is not None for p in cvae.prior_net.parameters())


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_the_hybrid_interpolates_between_the_cvae_and_gsnn_losses(alpha):
    data = synthetic_data()
    cvae = CVAE(**SMALL)
    batch = _batch(data)
    pyro.set_rng_seed(5)  # the hybrid draws z for its CVAE term first, then for its GSNN term
    cvae_part, gsnn_part = CVAEObjective(cvae).loss(*batch), GSNNObjective(cvae).loss(*batch)
    hybrid = _loss(HybridObjective(cvae, alpha), batch, seed=5)
    assert torch.allclose(hybrid, alpha * cvae_part + (1 - alpha) * gsnn_part, rtol=1e-5)


@pytest.mark.parametrize("kind, alpha", [("iwae", 0.5), ("hybrid", 1.5), ("hybrid", True)])
def test_bad_objectives_are_rejected_in_one_line(kind, alpha):
    with pytest.raises(ValueError, match="objective must be one of|alpha must be a number"):
        cvae_objective(CVAE(**SMALL), kind, alpha=alpha)


def test_a_residual_cvae_starts_as_the_baseline():
    data = synthetic_data()
    baseline = BaselineNet(32, 32)
    inputs, targets = data.test.inputs, data.test.targets
    y_hat = baseline.predict(inputs)
    cvae = CVAE(**SMALL, residual=True)
    z = torch.randn(3, inputs.shape[0], SMALL["z_dim"])
    assert torch.allclose(cvae.logits(z, inputs, y_hat), baseline(inputs).expand(3, -1, -1), atol=1e-4)
    # so every sample from its prior scores the baseline's likelihood
    mc = evaluate.cvae_nll_per_image(cvae, inputs, targets, y_hat, num_samples=5, proposal="prior")
    assert torch.allclose(mc, evaluate.baseline_nll_per_image(baseline, inputs, targets), rtol=1e-4)
    with pytest.raises(ValueError, match="y_hat"):
        cvae.logits(z, inputs)


def test_a_residual_cvae_learns_and_records_the_option_in_its_checkpoint(tmp_path):
    data = synthetic_data()
    config = config_for(TINY)
    baseline = train_or_load_baseline(data, config, checkpoint_path=None, progress=False)
    cvae = train_or_load_cvae(data, baseline, config, residual=True, checkpoint_path=tmp_path / "r.pt",
                              progress=False, **SMALL)
    assert cvae.config["model"]["residual"] is True
    assert cvae.history[-1]["val_loss"] < cvae.history[0]["val_loss"] or cvae.best_epoch > 1
    plain = train_or_load_cvae(data, baseline, config, checkpoint_path=None, progress=False, **SMALL)
    assert "residual" not in plain.config["model"]  # checkpoints made before the option still match


def test_gsnn_and_hybrid_train_to_their_own_checkpoints(tmp_path):
    data = synthetic_data()
    config = config_for(TINY, directory=tmp_path)
    baseline = train_or_load_baseline(data, config, checkpoint_path=None, progress=False)
    gsnn = train_or_load_cvae(data, baseline, config, objective="gsnn", progress=False, **SMALL)
    hybrid = train_or_load_cvae(data, baseline, config, objective="hybrid", alpha=0.25, progress=False, **SMALL)
    assert gsnn.path.name == "gsnn.pt" and hybrid.path.name == "hybrid.pt"
    assert gsnn.config["objective"] == {"kind": "gsnn"}
    assert hybrid.config["objective"] == {"kind": "hybrid", "alpha": 0.25}
    again = train_or_load_cvae(data, baseline, config, objective="gsnn", progress=False, **SMALL)
    assert again.loaded


def test_warm_up_then_cosine_decay():
    schedule = Schedule(1e-3, warmup_epochs=2, cosine_epochs=10)
    assert schedule.lr_factor(1.0) == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 0.1)), abs=1e-3)
    assert 0 < schedule.lr_factor(0.0) < 0.01
    assert schedule.lr_factor(2.0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)))
    assert schedule.lr_factor(10.0) == pytest.approx(0.0, abs=1e-12)
    assert Schedule(1e-3).lr_factor(7.3) == 1.0
    assert Schedule(1e-3).changes() == {} and Schedule(1e-3, batch_size=512).changes() == {"batch_size": 512}
    with pytest.raises(ValueError, match="learning rate"):
        Schedule(-1.0)


def test_the_loop_applies_the_learning_rate_factor_at_every_step():
    data = synthetic_data()
    baseline = BaselineNet(16, 16)
    before = [p.detach().clone() for p in baseline.parameters()]

    class Objective:
        module = baseline

        @staticmethod
        def loss(inputs, targets):
            from cvae_lib.models import masked_bernoulli_log_likelihood
            return -masked_bernoulli_log_likelihood(baseline(inputs), targets).sum()

    seen = []
    fit(Objective, (data.train.inputs, data.train.targets), (data.val.inputs, data.val.targets), lr=1e-2,
        max_epochs=2, patience=5, batch_size=64, progress=False, lr_factor=lambda t: seen.append(t) or 0.0)
    assert seen == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]  # 256 images in batches of 64, two epochs
    assert all(torch.equal(a, b) for a, b in zip(before, baseline.parameters()))  # a rate of 0 moves nothing


def test_a_cosine_schedule_bounds_the_epochs(tmp_path):
    data = synthetic_data()
    config = config_for(TINY)
    baseline = train_or_load_baseline(data, config, schedule=Schedule(1e-3, cosine_epochs=2), checkpoint_path=None,
                                      progress=False)
    assert baseline.epochs_run == 2 and baseline.config["schedule"] == {"cosine_epochs": 2}
    guesses = baseline_guesses(baseline.module, data.val)
    assert guesses.shape == (data.val.inputs.shape[0], 784)


def test_a_schedule_in_words_names_its_rate_its_length_and_its_early_stop():
    # Chapters 2 and 4 print these words instead of typing the schedule, so they must follow its numbers.
    constant = Schedule(1e-3).describe(max_epochs=100, patience=5)
    assert constant.startswith("a constant learning rate of 0.001, for at most 100 epochs")
    assert constant.endswith("has not improved for 5 epochs")
    cosine = Schedule(2e-3, warmup_epochs=1, cosine_epochs=50)
    assert cosine.describe(100, 5) == ("a learning rate that rises linearly to 0.002 over the first epoch, then falls "
                                       "to 0 along half a cosine over 50 epochs, stopping earlier once the validation "
                                       "loss has not improved for 5 epochs")
    assert "half a cosine over 6 epochs" in cosine.describe(max_epochs=6, patience=2)  # the profile's limit wins
    assert "for 2 epochs" in cosine.describe(max_epochs=6, patience=2)
    assert "over the first 3 epochs, for at most 10 epochs, in batches of 64" in Schedule(
        1e-3, batch_size=64, warmup_epochs=3).describe(10, 1)


def test_a_recipe_is_squeezed_into_a_short_profile_and_left_alone_in_the_full_one():
    from cvae_lib.recipe import RECIPE
    from cvae_lib.settings import PROFILES

    assert RECIPE.within(PROFILES["full"].max_epochs) == RECIPE
    short = RECIPE.within(6)
    assert short.cvae.cosine_epochs == 6 and short.kl_warmup_epochs == 3
    assert short.cvae.lr == RECIPE.cvae.lr and short.baseline.lr == RECIPE.baseline.lr
    assert short.baseline.cosine_epochs == min(RECIPE.baseline.cosine_epochs, 6)  # 0 (constant) stays 0
    assert short.schedule_of("gsnn").cosine_epochs == min(RECIPE.schedule_of("gsnn").cosine_epochs, 6)
    data = synthetic_data()
    config = config_for(TINY)
    baseline = RECIPE.train_baseline(data, config, checkpoint_path=None, progress=False)
    cvae = RECIPE.train_cvae(data, baseline, config, checkpoint_path=None, progress=False)
    squeezed = RECIPE.within(TINY.max_epochs)
    assert baseline.config["schedule"]["cosine_epochs"] == squeezed.baseline.cosine_epochs <= TINY.max_epochs
    assert cvae.config["schedule"]["cosine_epochs"] == squeezed.cvae.cosine_epochs <= TINY.max_epochs
    assert cvae.config.get("kl_warmup_epochs", 0) == squeezed.kl_warmup_epochs
    assert cvae.epochs_run <= TINY.max_epochs


def test_a_recipe_in_words_adds_the_kl_warm_up_to_the_models_that_have_one():
    from cvae_lib.recipe import RECIPE
    from cvae_lib.settings import PROFILES

    full = PROFILES["full"]
    assert RECIPE.schedule_in_words("baseline", full) == RECIPE.baseline.describe(full.max_epochs, full.patience)
    cvae = RECIPE.schedule_in_words("cvae", full)
    assert cvae.endswith("(not before epoch 10); the KL weight rises to 1 over the first 10 epochs")
    gsnn = RECIPE.schedule_in_words("gsnn", full)
    assert "half a cosine over 20 epochs" in gsnn and gsnn.endswith("(not before epoch 10)")
    fast = RECIPE.schedule_in_words("cvae", PROFILES["fast"])  # squeezed like the training itself
    assert f"over {PROFILES['fast'].max_epochs} epochs" in fast
