"""Chapters 7 and 8's experiment: every whole-digit model trained to convergence, then measured.

Each model trains with early stopping on the validation split (at most the profile's epochs),
not for a fixed count. :func:`run_conditioning` (``python -m cvae_lib conditioning``) trains or
loads, for each seed, the label-conditioned CVAE in every design (encoder q(z|x) or q(z|x,c), label
added to or concatenated with z) at every β of :data:`SWEEP_BETAS`, and the classifier CVAE, and
writes every number the two chapters quote to ``results/conditioning.json``.

What is measured, and why:

* **fidelity**: the fraction of generated digits that chapter 9's classifier reads as the digit
  asked for (z from the prior, :data:`SAMPLES_PER_DIGIT` per digit);
* **diversity**: the mean distance between two samples of the same request;
* the test ELBO's two terms (reconstruction, KL) and the KL of each latent dimension, and the
  **active units** (dimensions whose encoder mean varies across images, Burda et al., 2016);
* **follows the label**: a test image encoded, then decoded with another label — is it read
  as that label? (z from the encoder, so the prior plays no part);
* **digit in z**: how well a linear classifier reads the digit from the encoder's mean of z —
  if z carries the identity, the decoder need not take it from the label;
* for the classifier CVAE, with z fixed and the code varied: does the digit follow the code
  (fidelity)? with the code fixed and z varied: does the digit stay (**digit consistency**)?
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .classifier_cvae import ClassifierCVAE
from .data import load_digit_splits, load_mnist
from .digits import NUM_CLASSES, mean_pairwise_distance
from .engine import Engine
from .label_cvae import SWEEP_BETAS
from .models import NUM_PIXELS
from .results import provenance
from .settings import RunConfig, seed_everything
from .tasks import Task, classifier_key, digit_classifier_task
from .util import atomic_write_json, ensure_writable_folder

DESIGNS = (("x,c", "concat"), ("x,c", "add"), ("x", "concat"), ("x", "add"))  # (encoder input, conditioning)
# The unbounded (ReLU) label vector that chapter 7 tests, at the two ends of its β sweep.
SOURCE_DESIGN, SOURCE_BETAS = ("x", "add_relu"), (1e-5, 1.0)
CLASSIFIER_ENCODERS = ("x", "x,c")  # the classifier CVAE's encoder: q(z|x), or q(z|x, ĉ) as in M2
SAMPLES_PER_DIGIT = 1000  # fidelity to ±0.01 or better
DIVERSITY_SAMPLES = 100  # per digit
ACTIVE_UNIT_VARIANCE = 0.01  # Burda et al.'s threshold on Var_x E[z | x]
CONDITIONING_FORMAT = 1


def encode(model, images, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoder's mean and scale of z for each image (the label CVAE's encoder may read the
    label too, the classifier CVAE's its own classifier's code)."""
    flat = images.reshape(images.shape[0], NUM_PIXELS)
    with torch.no_grad():
        if isinstance(model, ClassifierCVAE):
            return model.encode(flat, F.one_hot(model.classify(images), NUM_CLASSES).to(flat.dtype))
        return model.encode(flat, labels)


def latent_statistics(model, images, labels) -> dict:
    """KL of each latent dimension (nats per image, test set) and the number of active units."""
    loc, scale = encode(model, images, labels)
    kl = 0.5 * (loc.pow(2) + scale.pow(2) - 1.0 - 2.0 * scale.log()).mean(0)
    return {"kl_per_dim": [round(v, 4) for v in kl.tolist()],
            "active_units": int((loc.var(0) > ACTIVE_UNIT_VARIANCE).sum())}


def digit_in_z(model, train, test, seed: int, steps: int = 300) -> float:
    """Test accuracy of a linear classifier of the digit from the encoder's mean of z, trained on
    the training split: near 1 when z carries the identity, near 0.1 when it carries none."""
    seed_everything(seed)
    train_z, test_z = encode(model, *train)[0], encode(model, *test)[0]
    mean, std = train_z.mean(0), train_z.std(0).clamp_min(1e-6)
    probe = torch.nn.Linear(train_z.shape[1], NUM_CLASSES)
    optimiser = torch.optim.LBFGS(probe.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = F.cross_entropy(probe((train_z - mean) / std), train[1])
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        return (probe((test_z - mean) / std).argmax(-1) == test[1]).float().mean().item()


def follows_label(model, images, labels, classifier, seed: int) -> float:
    """Encode each test image (with its own label, where the encoder reads one), decode the mean z
    with another label: the fraction the classifier reads as that label. Unlike fidelity, z here
    is one the decoder was trained on, so a failure is the decoder's, not the prior's."""
    other = (labels + torch.randint(1, NUM_CLASSES, labels.shape,
                                    generator=torch.Generator().manual_seed(seed))) % NUM_CLASSES
    loc, _ = encode(model, images, labels)
    with torch.no_grad():
        swapped = torch.sigmoid(model.decode(loc, other)).reshape(images.shape)
    return (classifier.predict(swapped) == other).float().mean().item()


def real_diversity(digits) -> float:
    """The diversity of real test digits: :data:`DIVERSITY_SAMPLES` of each class, the yardstick
    for the generated ones."""
    images, labels = digits.test
    # as many of each class (a small profile's test set has fewer than DIVERSITY_SAMPLES of some)
    count = min([DIVERSITY_SAMPLES] + [int((labels == d).sum()) for d in range(NUM_CLASSES)])
    return mean_pairwise_distance(torch.stack([images[labels == d][:count] for d in range(NUM_CLASSES)]))


def digit_consistency(read: torch.Tensor) -> float:
    """``read``: (samples, requests) digits the classifier reads. The fraction of samples read as the
    digit read most often for their request: 1 when z never changes the digit."""
    return (read == read.mode(dim=0).values).float().mean().item()


def fidelity_samples(model, seed: int) -> torch.Tensor:
    """The label CVAE's digits that fidelity is measured on: :data:`SAMPLES_PER_DIGIT` per digit,
    z from the prior; ``(10, samples, 28, 28)``, row d asked for digit d."""
    return model.generate(torch.arange(NUM_CLASSES), SAMPLES_PER_DIGIT, seed=seed)


def label_cvae_numbers(model, digits, classifier, seed: int) -> dict:
    """Everything chapter 7 quotes about one trained label CVAE (test split)."""
    seed_everything(seed)  # the reconstruction term draws z
    model.eval()
    images, labels = digits.test
    with torch.no_grad():
        reconstruction, kl = model.loss_terms(images, labels)
    generated = fidelity_samples(model, seed)
    read = classifier.predict(generated)  # row d asked for digit d
    return {"fidelity": (read == torch.arange(NUM_CLASSES).unsqueeze(1)).float().mean().item(),
            "digit_consistency": digit_consistency(read.T),
            "diversity": mean_pairwise_distance(generated[:, :DIVERSITY_SAMPLES]),
            "kl": kl.mean().item(), "reconstruction": reconstruction.mean().item(),
            "digit_in_z": digit_in_z(model, digits.train, digits.test, seed),
            "follows_label": follows_label(model, images, labels, classifier, seed),
            "label_shift": model.label_shift(), **latent_statistics(model, images, labels)}


def classifier_cvae_numbers(model, digits, classifier, seed: int) -> dict:
    """Chapter 8's questions of the classifier CVAE: one z per row with the ten codes along it."""
    model.eval()
    styles = model.generate_styles(SAMPLES_PER_DIGIT, seed=seed)  # (z, code, 28, 28)
    read = classifier.predict(styles.reshape(-1, *styles.shape[2:])).reshape(styles.shape[:2])
    images, labels = digits.test
    return {"classifier_accuracy": (model.classify(images) == labels).float().mean().item(),
            "fidelity": (read == torch.arange(NUM_CLASSES)).float().mean().item(),
            "digit_consistency": digit_consistency(read),
            "diversity": mean_pairwise_distance(styles[:DIVERSITY_SAMPLES].transpose(0, 1)),
            "digit_in_z": digit_in_z(model, digits.train, digits.test, seed),
            **latent_statistics(model, *digits.test)}


def run_conditioning(config: RunConfig, seeds, progress: bool = True, log=print,
                     engine: Engine | None = None) -> dict:
    """Train or load every model of chapters 7 and 8 for each seed, measure them, and write
    ``<results>/conditioning.json``."""
    seeds = list(dict.fromkeys(seeds))
    out = ensure_writable_folder(config.results_dir)
    outputs = (engine or Engine()).run(chapter_tasks(config, seeds), progress=progress, log=lambda _: None)
    return write_conditioning_results(config, seeds, outputs, out, log)


def chapter_tasks(config: RunConfig, seeds) -> list[Task]:
    """The tasks of :func:`run_conditioning`: every design at every β and the classifier CVAEs, each
    trained (or loaded) and measured with chapter 9's digit classifier, which they wait for."""
    tasks = [digit_classifier_task(config)]
    needs = (classifier_key(),)
    for seed in seeds:
        seeded = config.with_seed(seed)
        sweep = [(design, beta) for design in DESIGNS for beta in SWEEP_BETAS]
        for (encoder, conditioning), beta in sweep + [(SOURCE_DESIGN, beta) for beta in SOURCE_BETAS]:
            tasks.append(Task(f"digits/seed{seed}/label_cvae q(z|{encoder}) {conditioning} beta={beta:g}",
                              "label_cvae", seeded, (("encoder", encoder), ("conditioning", conditioning),
                                                     ("beta", beta), ("measure", label_cvae_numbers)), needs))
        for encoder in CLASSIFIER_ENCODERS:
            tasks.append(Task(f"digits/seed{seed}/classifier_cvae q(z|{encoder})", "classifier_cvae", seeded,
                              (("encoder", encoder), ("measure", classifier_cvae_numbers)), needs))
    return tasks


def write_conditioning_results(config: RunConfig, seeds, outputs: dict[str, dict], out, log=print) -> dict:
    """``conditioning.json`` from the finished tasks of :func:`chapter_tasks`, in their order."""
    label_rows, classifier_rows = [], []
    for task in chapter_tasks(config, seeds):
        output, settings, seed = outputs[task.key], task.settings, task.config.seed
        if task.action == "label_cvae":
            numbers = output["numbers"]
            label_rows.append({"encoder": settings["encoder"], "conditioning": settings["conditioning"],
                               "beta": settings["beta"], "seed": seed, **numbers,
                               "epochs": output["epochs_run"], "seconds": output["made_seconds"]})
            log(f"seed {seed}, q(z|{settings['encoder']}), {settings['conditioning']}, β = {settings['beta']:g}: "
                f"fidelity {numbers['fidelity']:.3f}, digit in z {numbers['digit_in_z']:.3f}, "
                f"{output['epochs_run']} epochs")
        elif task.action == "classifier_cvae":
            numbers = output["numbers"]
            classifier_rows.append({"encoder": settings["encoder"], "seed": seed, **numbers,
                                    "epochs": output["epochs_run"], "seconds": output["made_seconds"]})
            log(f"seed {seed}, classifier CVAE q(z|{settings['encoder']}): fidelity {numbers['fidelity']:.3f}, "
                f"digit consistency {numbers['digit_consistency']:.3f}")
    digits = load_digit_splits(config.profile, load_mnist(config.data_dir))
    results = {"format": CONDITIONING_FORMAT, "profile": config.profile.name, "seeds": list(seeds),
               "betas": list(SWEEP_BETAS), "source_design": {"encoder": SOURCE_DESIGN[0],
               "conditioning": SOURCE_DESIGN[1], "betas": list(SOURCE_BETAS)}, "samples_per_digit": SAMPLES_PER_DIGIT,
               "classifier_test_accuracy": outputs[classifier_key()]["test_accuracy"],
               "real_diversity": real_diversity(digits),
               "label_cvae": label_rows, "classifier_cvae": classifier_rows, **provenance()}
    atomic_write_json(results, out / "conditioning.json")
    return results
