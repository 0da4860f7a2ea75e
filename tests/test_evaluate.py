"""The estimators checked against an exact answer, against each other, and against the bounds."""
import math

import pytest
import torch

from cvae_lib import evaluate
from cvae_lib.models import CVAE, BaselineNet
from cvae_lib.settings import seed_everything
from cvae_lib.loop import fit
from cvae_lib.objectives import CVAEObjective
from cvae_lib.train import baseline_guesses
from tests.helpers import synthetic_data


@pytest.fixture(scope="module")
def one_dim_model():
    """A small CVAE with a one-dimensional z, trained briefly so that q is a sensible proposal."""
    seed_everything(0)
    data = synthetic_data(num_quadrants=2, sizes=(512, 64, 64))
    baseline = BaselineNet(32, 32)
    y_hat = {name: baseline_guesses(baseline, getattr(data, name)) for name in ("train", "val", "test")}
    cvae = CVAE(z_dim=1, hidden_1=32, hidden_2=32)
    fit(CVAEObjective(cvae), (data.train.inputs, data.train.targets, y_hat["train"]),
        (data.val.inputs, data.val.targets, y_hat["val"]), lr=3e-3, max_epochs=15, patience=15,
        batch_size=64, progress=False)
    test = data.test
    return cvae, test.inputs[:16], test.targets[:16], y_hat["test"][:16]


@torch.no_grad()
def exact_nll(cvae, inputs, targets, y_hat, points=20001, width=12.0):
    """−log ∫ p(y|x,z) p(z|x) dz by quadrature on z = loc + scale·t, t ∈ [−width, width]."""
    from cvae_lib.models import flatten_images, masked_bernoulli_log_likelihood

    prior = cvae.prior(inputs, y_hat)
    loc, scale = prior.base_dist.loc.squeeze(-1), prior.base_dist.scale.squeeze(-1)
    t = torch.linspace(-width, width, points)
    dt = (t[1] - t[0]).item()
    log_std_normal = -0.5 * t**2 - 0.5 * math.log(2 * math.pi)
    out = []
    for i in range(inputs.shape[0]):
        z = (loc[i] + scale[i] * t).unsqueeze(-1)
        log_lik = masked_bernoulli_log_likelihood(
            cvae.generation_net(z, flatten_images(inputs[i : i + 1]).expand(points, -1)), targets[i : i + 1]
        )
        out.append(-(torch.logsumexp(log_lik + log_std_normal, 0) + math.log(dt)))
    return torch.stack(out)


def test_importance_sampling_converges_to_the_exact_value(one_dim_model):
    cvae, x, y, y_hat = one_dim_model
    exact = exact_nll(cvae, x, y, y_hat)
    errors = {s: (evaluate.cvae_nll_per_image(cvae, x, y, y_hat, s, "posterior") - exact).abs().mean().item()
              for s in (1, 10, 3000)}
    assert errors[3000] < 0.05, errors
    assert errors[3000] < errors[10] < errors[1], errors
    # and the quadrature itself is converged: a finer grid changes nothing
    assert torch.allclose(exact, exact_nll(cvae, x, y, y_hat, points=40001, width=14.0), atol=1e-3)


def test_importance_sampling_is_below_the_negative_elbo(one_dim_model):
    cvae, x, y, y_hat = one_dim_model
    neg_elbo = evaluate.cvae_neg_elbo_per_image(cvae, x, y, y_hat, num_samples=200).mean()
    is_100 = evaluate.cvae_nll_per_image(cvae, x, y, y_hat, 100, "posterior").mean()
    exact = exact_nll(cvae, x, y, y_hat).mean()
    assert is_100 < neg_elbo
    # E[IS] >= exact (Jensen), but one draw on 16 images may dip a little below it
    assert abs(is_100 - exact) < 0.25 < (neg_elbo - exact)
    # with one sample the IS estimate is an unbiased estimate of the negative ELBO
    is_1 = evaluate.cvae_nll_per_image(cvae, x.repeat(50, 1, 1), y.repeat(50, 1, 1),
                                       y_hat.repeat(50, 1), 1, "posterior").mean()
    assert is_1.item() == pytest.approx(neg_elbo.item(), abs=0.05 * abs(neg_elbo.item()) + 0.5)


def test_mc_and_is_agree_when_the_posterior_network_equals_the_prior_network():
    torch.manual_seed(0)
    data = synthetic_data(num_quadrants=1, sizes=(8, 8, 8))
    cvae = CVAE(z_dim=3, hidden_1=16, hidden_2=16)
    cvae.recognition_net.load_state_dict(cvae.prior_net.state_dict())
    x, y = data.test.inputs, data.test.targets
    y_hat = y.reshape(8, 784)  # the prior then sees exactly what the recognition net sees
    mc = evaluate.cvae_nll_per_image(cvae, x, y, y_hat, 50, "prior", seed=5)
    is_ = evaluate.cvae_nll_per_image(cvae, x, y, y_hat, 50, "posterior", seed=5)
    assert torch.allclose(mc, is_, atol=1e-4)
    neg_elbo = evaluate.cvae_neg_elbo_per_image(cvae, x, y, y_hat, 2000, seed=5)
    assert (mc <= neg_elbo + 1e-3).all()  # log of a mean ≥ mean of logs, KL is zero here


def test_baseline_nll_averages_the_masked_cross_entropy():
    data = synthetic_data(num_quadrants=3, sizes=(4, 4, 4))
    net = BaselineNet(16, 16)
    per_image = evaluate.baseline_nll_per_image(net, data.test.inputs, data.test.targets)
    assert per_image.shape == (4,) and (per_image > 0).all()
    assert evaluate.baseline_nll(net, data.test) == pytest.approx(per_image.mean().item())


def test_estimators_are_reproducible_and_check_their_arguments(one_dim_model):
    cvae, x, y, y_hat = one_dim_model
    first = evaluate.cvae_nll_per_image(cvae, x, y, y_hat, 30, "prior", seed=1)
    assert torch.equal(first, evaluate.cvae_nll_per_image(cvae, x, y, y_hat, 30, "prior", seed=1))
    with pytest.raises(ValueError, match="positive int"):
        evaluate.cvae_nll_per_image(cvae, x, y, y_hat, 0)
    with pytest.raises(ValueError, match="proposal"):
        evaluate.cvae_nll_per_image(cvae, x, y, y_hat, 10, proposal="uniform")


def test_a_thousand_samples_run_in_chunks():
    data = synthetic_data(num_quadrants=2, sizes=(4, 4, 600))
    cvae = CVAE(z_dim=8, hidden_1=32, hidden_2=32)
    test = data.test
    values = evaluate.cvae_nll_per_image(cvae, test.inputs, test.targets, torch.rand(600, 784), 1000)
    assert values.shape == (600,) and torch.isfinite(values).all()


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("q", [1, 2, 3])
def test_output_pixel_shortcut_equals_the_masked_likelihood(q, residual):
    from cvae_lib.models import masked_bernoulli_log_likelihood

    torch.manual_seed(q)
    data = synthetic_data(num_quadrants=q, sizes=(4, 4, 6))
    cvae = CVAE(z_dim=5, hidden_1=16, hidden_2=16, residual=residual)
    torch.nn.init.normal_(cvae.generation_net.rest[-1].weight)  # a residual network starts at 0: move it
    x, y, y_hat = data.test.inputs, data.test.targets, torch.rand(6, 784)
    z = torch.randn(3, 6, 5)
    full = masked_bernoulli_log_likelihood(cvae.logits(z, x, y_hat), y)
    assert torch.allclose(evaluate._log_likelihood_fn(cvae, x, y, y_hat)(z), full, atol=1e-4)
    # a batch mixing two settings takes the general path and still agrees
    other = synthetic_data(num_quadrants=1 + q % 3, sizes=(4, 4, 6)).test
    mixed_x, mixed_y = torch.cat([x[:3], other.inputs[:3]]), torch.cat([y[:3], other.targets[:3]])
    expected = masked_bernoulli_log_likelihood(cvae.logits(z, mixed_x, y_hat), mixed_y)
    assert torch.allclose(evaluate._log_likelihood_fn(cvae, mixed_x, mixed_y, y_hat)(z), expected, atol=1e-4)


def test_estimates_for_fewer_samples_come_from_a_prefix_of_the_weights(one_dim_model):
    cvae, x, y, y_hat = one_dim_model
    log_w = evaluate.cvae_log_weights(cvae, x, y, y_hat, 200, "posterior", seed=2)
    assert log_w.shape == (200, x.shape[0])
    assert torch.allclose(evaluate.nll_from_log_weights(log_w[:1]), -log_w[0])
    by_hand = -(torch.logsumexp(log_w[:50], 0) - torch.log(torch.tensor(50.0)))
    assert torch.allclose(evaluate.nll_from_log_weights(log_w[:50]), by_hand)


def test_the_floor_is_the_least_score_the_grey_scale_targets_allow():
    """−y log p − (1 − y) log(1 − p) is smallest at p = y, where it is the entropy of y: 0 for 0/1
    targets, log 2 per pixel at y = 0.5; the input pixels (−1) do not count."""
    targets = torch.full((2, 28, 28), -1.0)
    targets[0, 14:, 14:] = 0.5  # 196 output pixels at grey 0.5
    targets[1, 14:, 14:] = (torch.arange(196).reshape(14, 14) % 2).float()  # black and white only
    floor = evaluate.grey_scale_floor_per_image(targets)
    assert floor[0].item() == pytest.approx(196 * math.log(2), rel=1e-12) and floor[1].item() == 0.0
    # no prediction scores below it, the exact one (p = y) scores it: the baseline's NLL per image
    # is that cross-entropy, for any logits
    data = synthetic_data(3, sizes=(8, 8, 32))
    exact = torch.logit(data.test.targets.clamp(1e-6, 1 - 1e-6).reshape(32, -1).double())
    scores = [-evaluate.masked_bernoulli_log_likelihood(logits, data.test.targets.double())
              for logits in (exact, torch.zeros_like(exact), torch.randn(exact.shape, dtype=torch.float64))]
    floors = evaluate.grey_scale_floor_per_image(data.test.targets)
    assert torch.all(scores[0] - floors < 1e-3) and all(torch.all(s >= floors - 1e-9) for s in scores)


def test_the_unchecked_log_density_is_the_checked_one_and_a_nan_network_still_stops_early():
    """The importance weights skip the support check of every draw (evaluate._unchecked_log_density);
    the log-densities must be the checked ones exactly (the same formula on the same tensors). What
    that skip relies on, checked here as well: a network that gives NaN is still refused when its
    distribution is built, before any draw."""
    torch.manual_seed(0)
    cvae = CVAE(z_dim=3, hidden_1=8, hidden_2=8)
    data = synthetic_data(num_quadrants=1, sizes=(8, 8, 8)).test
    posterior = cvae.posterior(data.inputs, data.targets)
    z = posterior.sample((4,))
    assert torch.equal(evaluate._unchecked_log_density(posterior)(z), posterior.log_prob(z))
    with torch.no_grad():
        cvae.recognition_net.loc.bias.fill_(float("nan"))
    with pytest.raises(ValueError, match="loc"):
        cvae.posterior(data.inputs, data.targets)
