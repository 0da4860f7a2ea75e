import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import pytest
import torch
import torch.nn.functional as F

from cvae_lib.data import MASK_VALUE, mask_quadrants
from cvae_lib.models import (CVAE, BaselineNet, fill_missing, masked_bernoulli_log_likelihood,
                             predict_completions)
from tests.helpers import synthetic_images


@pytest.fixture(autouse=True)
def validation_on():
    pyro.enable_validation(True)
    pyro.clear_param_store()
    torch.manual_seed(0)
    yield


def _batch(q=1, n=6):
    images = synthetic_images(n)
    inputs, targets = mask_quadrants(images, q)
    return images, inputs, targets


def test_baseline_outputs_logits_and_probabilities():
    _, inputs, _ = _batch()
    net = BaselineNet(hidden_1=32, hidden_2=16)
    assert net(inputs).shape == (6, 784)
    probs = net.predict(inputs)
    assert probs.min() >= 0 and probs.max() <= 1


def test_masked_likelihood_matches_the_tutorials_masked_bce():
    _, inputs, targets = _batch(q=2)
    logits = torch.randn(6, 784)
    flat_t = targets.reshape(6, 784)
    keep = flat_t != MASK_VALUE
    expected = torch.stack([
        -F.binary_cross_entropy(torch.sigmoid(logits[i][keep[i]]), flat_t[i][keep[i]], reduction="sum")
        for i in range(6)
    ])
    assert torch.allclose(masked_bernoulli_log_likelihood(logits, targets), expected, atol=1e-3)


def test_masked_likelihood_ignores_input_pixels():
    _, inputs, targets = _batch(q=3)
    logits = torch.randn(6, 784)
    given = (inputs != MASK_VALUE).reshape(6, 784)
    changed_logits = torch.where(given, torch.randn(6, 784) * 10, logits)
    assert torch.allclose(masked_bernoulli_log_likelihood(logits, targets),
                          masked_bernoulli_log_likelihood(changed_logits, targets))


@pytest.mark.parametrize("elbo", [pyro.infer.Trace_ELBO, pyro.infer.TraceMeanField_ELBO])
def test_cvae_trains_under_pyro_validation_with_grey_scale_targets(elbo):
    _, inputs, targets = _batch()
    assert ((targets > 0) & (targets < 1)).any(), "the test needs grey levels"
    cvae = CVAE(z_dim=4, hidden_1=32, hidden_2=16)
    y_hat = torch.rand(6, 784)
    svi = pyro.infer.SVI(cvae.model, cvae.guide, pyro.optim.Adam({"lr": 1e-2}), elbo())
    losses = [svi.step(inputs, targets, y_hat) for _ in range(30)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-5:]) < sum(losses[:5])


def test_a_validating_bernoulli_rejects_grey_levels():
    # The trap in Pyro's upstream example: this is why the likelihood disables validation.
    with pytest.raises(ValueError):
        dist.Bernoulli(probs=torch.tensor(0.3), validate_args=True).log_prob(torch.tensor(0.5))


def test_model_log_likelihood_covers_only_output_pixels():
    _, inputs, targets = _batch(q=1)
    cvae = CVAE(z_dim=3, hidden_1=16, hidden_2=16)
    y_hat = torch.rand(6, 784)
    guide_trace = poutine.trace(cvae.guide).get_trace(inputs, targets, y_hat)
    model_trace = poutine.trace(poutine.replay(cvae.model, trace=guide_trace)).get_trace(inputs, targets, y_hat)
    model_trace.compute_log_prob()
    z = guide_trace.nodes["z"]["value"]
    expected = masked_bernoulli_log_likelihood(cvae.generation_net(z, inputs), targets)
    assert torch.allclose(model_trace.nodes["y"]["log_prob"], expected, atol=1e-4)


def test_prior_sees_the_baseline_guess_and_recognition_sees_the_truth():
    images, inputs, targets = _batch(q=2)
    filled = fill_missing(inputs, targets)
    assert torch.equal(filled, images.reshape(6, 784))
    y_hat = torch.full((6, 784), 0.25)
    guess = fill_missing(inputs, y_hat)
    given = (inputs != MASK_VALUE).reshape(6, 784)
    assert torch.equal(guess[given], inputs.reshape(6, 784)[given])
    assert (guess[~given] == 0.25).all()


def test_prediction_returns_k_distinct_probability_images():
    _, inputs, _ = _batch(q=2, n=4)
    cvae, baseline = CVAE(z_dim=8, hidden_1=32, hidden_2=16), BaselineNet(32, 16)
    samples = predict_completions(cvae, baseline, inputs, num_samples=5, seed=1)
    assert samples.shape == (4, 5, 28, 28)
    assert samples.min() >= 0 and samples.max() <= 1
    assert not torch.allclose(samples[:, 0], samples[:, 1])
    assert torch.equal(samples, predict_completions(cvae, baseline, inputs, num_samples=5, seed=1))
    with pytest.raises(ValueError, match="positive int"):
        predict_completions(cvae, baseline, inputs, num_samples=0)


def test_model_without_targets_returns_probabilities():
    _, inputs, _ = _batch()
    cvae = CVAE(z_dim=4, hidden_1=16, hidden_2=16)
    probs = cvae.model(inputs, None, torch.rand(6, 784))
    assert probs.shape == (6, 784) and probs.min() >= 0 and probs.max() <= 1


def test_generation_net_can_ignore_x_as_in_the_tutorial():
    _, inputs, _ = _batch()
    cvae = CVAE(z_dim=4, hidden_1=16, hidden_2=16, generation_uses_x=False)
    z = torch.randn(6, 4)
    assert torch.equal(cvae.generation_net(z, inputs), cvae.generation_net(z, torch.zeros_like(inputs)))


@pytest.mark.parametrize("elbo", [pyro.infer.Trace_ELBO, pyro.infer.TraceMeanField_ELBO])
def test_kl_weight_scales_only_the_kl_term(elbo):
    _, inputs, targets = _batch(q=2)
    cvae = CVAE(z_dim=4, hidden_1=32, hidden_2=16)
    y_hat = torch.rand(6, 784)

    def loss(kl_weight):
        pyro.set_rng_seed(1)  # the same draw of z for every weight
        return elbo().differentiable_loss(cvae.model, cvae.guide, inputs, targets, y_hat,
                                          kl_weight=kl_weight).item()

    pyro.set_rng_seed(1)
    z = cvae.posterior(inputs, targets).rsample()
    if elbo is pyro.infer.TraceMeanField_ELBO:  # analytic KL
        kl = torch.distributions.kl_divergence(cvae.posterior(inputs, targets), cvae.prior(inputs, y_hat)).sum().item()
    else:  # the sampled estimate log q(z) - log p(z) at the same z
        kl = (cvae.posterior(inputs, targets).log_prob(z) - cvae.prior(inputs, y_hat).log_prob(z)).sum().item()
    reconstruction = -cvae.likelihood(z, inputs).log_prob(targets.reshape(6, 784).clamp(min=0)).sum().item()
    for weight in (1.0, 0.5, 0.1):
        assert loss(weight) == pytest.approx(reconstruction + weight * kl, rel=1e-4)
    pyro.set_rng_seed(1)
    default = elbo().differentiable_loss(cvae.model, cvae.guide, inputs, targets, y_hat).item()
    assert default == loss(1.0)  # weight 1, the default, is the unchanged ELBO


@pytest.mark.parametrize("uses_x", [True, False])
@pytest.mark.parametrize("residual", [True, False])
def test_logits_given_the_inputs_serve_many_draws_of_z_as_the_layers_compute_them(uses_x, residual):
    """The estimators compute the z-free part of the generation network once per batch of images
    (logits_given) and call it for chunk after chunk of draws of z: each chunk's logits must be
    those of the layers applied to that chunk from scratch. Compared exactly: the same operations
    on tensors of the same shapes in one process give the same floats."""
    _, inputs, targets = _batch(q=1)
    cvae = CVAE(z_dim=4, hidden_1=16, hidden_2=16, generation_uses_x=uses_x, residual=residual)
    if residual:  # the residual net starts at exactly 0: move it off, or the test would compare zeros
        torch.nn.init.normal_(cvae.generation_net.rest[-1].weight)
    y_hat = torch.rand(6, 784).clamp(0.05, 0.95)
    pixels = (targets.reshape(6, 784)[0] != MASK_VALUE).nonzero().flatten()
    net = cvae.generation_net
    layers = [net.rest[1], net.rest[3]]

    def from_scratch(z, rows):
        pre = net.from_z(z) + (net.from_x(inputs.reshape(6, 784)) if uses_x else 0)
        hidden = torch.relu(layers[0](torch.relu(pre)))
        logits = F.linear(hidden, layers[1].weight[rows], layers[1].bias[rows])
        return logits + torch.logit(y_hat, eps=1e-6)[..., rows] if residual else logits

    x_parts = []  # each computation of the x part of the first layer
    if uses_x:
        net.from_x.register_forward_hook(lambda *_: x_parts.append(1))
    with torch.no_grad():
        for rows, argument in ((pixels, pixels), (torch.arange(784), None)):
            draws = [torch.randn(5, 6, 4) for _ in range(3)]
            before = len(x_parts)
            logits_of = cvae.logits_given(inputs, y_hat, argument)
            chunks = [logits_of(z) for z in draws]
            assert len(x_parts) - before == int(uses_x)  # once for the three chunks, not once per chunk
            for z, logits in zip(draws, chunks):
                assert torch.equal(logits, from_scratch(z, rows))
                assert torch.equal(cvae.logits(z, inputs, y_hat, argument), from_scratch(z, rows))
    # training goes through the same function under autograd: the same gradients as the layers'
    z = torch.randn(5, 6, 4)
    cvae.zero_grad()
    cvae.logits(z, inputs, y_hat).sum().backward()
    through_logits = {name: p.grad.clone() for name, p in net.named_parameters()}
    cvae.zero_grad()
    from_scratch(z, torch.arange(784)).sum().backward()
    assert all(torch.equal(through_logits[name], p.grad) for name, p in net.named_parameters())
