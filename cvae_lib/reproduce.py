"""The whole experiment for one or more settings and seeds: train or load, evaluate, write.

``python -m cvae_lib reproduce`` calls :func:`reproduce`; the notebooks call the
smaller pieces (:func:`train_setting`, :func:`evaluate_setting`, :func:`load_results`)
so that both share one code path.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from . import evaluate
from .data import QuadrantData, load_digit_splits, load_mnist, load_splits
from .settings import RunProfile, check_quadrants, get_device, get_profile
from .quality import accuracy, setting_quality, train_or_load_digit_classifier
from .train import (TrainedModel, baseline_guesses, default_checkpoint_path, train_or_load_baseline,
                    train_or_load_cvae)
from .util import atomic_write_json, atomic_write_text

RESULTS_FORMAT = 2  # 2: adds the gap, chapter 8's quality measures and the classifier
EVALUATION_FORMAT = 1  # of the evaluation stored beside the checkpoints; bump when the estimators change


def estimator_keys(profile: RunProfile) -> list[str]:
    """The table's rows for a profile, in display order."""
    return (["baseline_nll", "cvae_neg_elbo"] + [f"cvae_mc_{s}" for s in profile.mc_samples]
            + [f"cvae_is_{s}" for s in profile.is_samples])


def estimator_label(key: str) -> str:
    if key == "baseline_nll":
        return "Baseline NN: NLL"
    if key == "cvae_neg_elbo":
        return "CVAE: negative ELBO (upper bound)"
    kind, samples = key.rsplit("_", 1)
    if kind == "cvae_mc":
        return f"CVAE: Monte Carlo from the prior, S = {samples}"
    if kind == "cvae_is":
        return f"CVAE: importance sampling, S = {samples}"
    raise KeyError(key)


@dataclasses.dataclass
class TrainedSetting:
    data: QuadrantData
    baseline: TrainedModel
    cvae: TrainedModel
    seed: int


def train_setting(num_quadrants: int, *, profile=None, seed: int = 0, mnist=None, root=None,
                  checkpoint_directory=None, progress: bool = True) -> TrainedSetting:
    """Data, baseline and CVAE for one quadrant setting: each loaded if checkpointed, else trained."""
    check_quadrants(num_quadrants)
    profile = get_profile(profile)
    data = load_splits(num_quadrants, root=root, profile=profile, mnist=mnist)
    paths = {kind: default_checkpoint_path(kind, num_quadrants, profile, seed, checkpoint_directory)
             for kind in ("baseline", "cvae")}
    baseline = train_or_load_baseline(data, profile=profile, seed=seed,
                                      checkpoint_path=paths["baseline"], progress=progress)
    cvae = train_or_load_cvae(data, baseline, profile=profile, seed=seed,
                              checkpoint_path=paths["cvae"], progress=progress)
    return TrainedSetting(data, baseline, cvae, seed)


CURVE_SAMPLES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
QUALITY_SAMPLES = 10  # K completions per test image for chapter 8's measures


def evaluate_setting(setting: TrainedSetting, profile=None) -> dict:
    """Every estimator on the test split, nats per image, and the estimates against S.

    Importance sampling draws the largest S once; each smaller S uses a prefix of the same
    draws (so the S = 100 and S = 1000 numbers, and the curve, come from one pass).
    Returns ``{"numbers": {...}, "curves": {"S": [...], "is": [...], "mc": [...]}}``.
    """
    profile = get_profile(profile)
    test, seed = setting.data.test, setting.seed
    device = get_device()
    cvae, baseline = setting.cvae.module.to(device), setting.baseline.module.to(device)
    try:
        return _evaluate(cvae, baseline, test, seed, profile)
    finally:
        cvae.to("cpu")
        baseline.to("cpu")


def _evaluate(cvae, baseline, test, seed: int, profile: RunProfile) -> dict:
    y_hat = baseline_guesses(baseline, test)
    numbers = {
        "baseline_nll": evaluate.baseline_nll(baseline, test),
        "cvae_neg_elbo": evaluate.cvae_neg_elbo(cvae, test, y_hat, profile.elbo_samples, seed),
    }
    weights = {
        kind: evaluate.cvae_log_weights(cvae, test.inputs, test.targets, y_hat, max(counts), proposal, seed)
        for kind, counts, proposal in (("mc", profile.mc_samples, "prior"), ("is", profile.is_samples, "posterior"))
    }
    for kind, counts in (("mc", profile.mc_samples), ("is", profile.is_samples)):
        for samples in counts:
            numbers[f"cvae_{kind}_{samples}"] = evaluate.nll_from_log_weights(weights[kind][:samples]).mean().item()
    curves = {"S": [s for s in CURVE_SAMPLES if s <= weights["is"].shape[0]]}
    for kind in ("is", "mc"):
        curves[kind] = [evaluate.nll_from_log_weights(weights[kind][:s]).mean().item()
                        if s <= weights[kind].shape[0] else None for s in curves["S"]]
    return {"numbers": numbers, "curves": curves}


EVALUATION_CACHE = "evaluation.json"


def _evaluation_key(setting: TrainedSetting, profile: RunProfile) -> dict | None:
    """What an evaluation depends on: the two checkpoints' bytes and the estimator settings."""
    paths = [setting.baseline.path, setting.cvae.path]
    if any(path is None or not path.exists() for path in paths):
        return None
    return json.loads(json.dumps({  # as it reads back from the file (tuples become lists)
        "format": EVALUATION_FORMAT,
        "checkpoints_sha256": [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths],
        "evaluation": {key: profile.as_dict()[key]
                       for key in ("test_size", "mc_samples", "is_samples", "elbo_samples")},
        "curve_samples": list(CURVE_SAMPLES),
    }))


def evaluate_setting_cached(setting: TrainedSetting, profile=None) -> dict:
    """:func:`evaluate_setting`, stored beside the checkpoints and reused while they are unchanged.

    The evaluation is deterministic given the checkpoints, so re-running ``reproduce`` for more
    seeds does not repeat the (slow) S = 1000 pass of the seeds already done. Adds ``seconds``:
    the wall time of the evaluation when it was computed.
    """
    profile = get_profile(profile)
    key = _evaluation_key(setting, profile)
    cache = None
    if key is not None:  # evaluation.json for the CVAE of cvae.pt, evaluation_<name>.json for others
        stem = setting.cvae.path.stem
        cache = setting.cvae.path.parent / (EVALUATION_CACHE if stem == "cvae" else f"evaluation_{stem}.json")
    if cache is not None and cache.exists():
        try:
            stored = json.loads(cache.read_text())
        except ValueError:
            stored = {}  # unreadable: evaluate again and overwrite it
        if stored.get("key") == key:
            return stored["evaluation"]
    start = time.perf_counter()
    evaluation = evaluate_setting(setting, profile)
    evaluation["seconds"] = time.perf_counter() - start
    if cache is not None:
        atomic_write_json({"key": key, "evaluation": evaluation}, cache)
    return evaluation


def output_pixels(num_quadrants: int) -> int:
    """Pixels of y: the (4 - q) quadrants of 14 x 14 that the models complete."""
    return (4 - num_quadrants) * 14 * 14


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "per_seed": values}


def library_versions() -> dict[str, str]:
    import matplotlib
    import pyro
    import torchvision

    from . import __version__

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "pyro": pyro.__version__,
            "matplotlib": matplotlib.__version__, "cvae_lib": __version__}


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (GPU); {os.cpu_count()} CPU cores"
    return f"{os.cpu_count()} CPU cores ({cpu}, {platform.system()}), no GPU used"


def build_results(profile: RunProfile, seeds: list[int], quadrants: list[int], runs: list[dict],
                  seconds_per_seed: list[float]) -> dict:
    """The results document: settings, per-run numbers and the mean ± std table."""
    table = {}
    for q in quadrants:
        rows = [run for run in runs if run["quadrants"] == q]
        table[str(q)] = {key: _summary([run["numbers"][key] for run in rows])
                         for key in estimator_keys(profile)}
    # The paper's claim in one number per column: how much better the CVAE's CLL is.
    best_is = f"cvae_is_{max(profile.is_samples)}"
    gap = {}
    for q in quadrants:
        per_image = [run["numbers"]["baseline_nll"] - run["numbers"][best_is]
                     for run in runs if run["quadrants"] == q]
        gap[str(q)] = {"estimator": best_is, "output_pixels": output_pixels(q),
                       "nats_per_image": _summary(per_image),
                       "nats_per_output_pixel": _summary([g / output_pixels(q) for g in per_image])}
    if all("quality" in run for run in runs):
        quality = {str(q): {key: _summary([run["quality"][key] for run in runs if run["quadrants"] == q])
                            for key in QUALITY_KEYS}
                   for q in quadrants}
    else:
        quality = None
    return {
        "format": RESULTS_FORMAT,
        "profile": profile.name,
        "profile_settings": profile.as_dict(),
        "seeds": seeds,
        "quadrants": quadrants,
        "seconds_per_seed": statistics.fmean(seconds_per_seed),
        "seconds_by_seed": dict(zip(map(str, seeds), seconds_per_seed)),
        "table": table,
        "gap": gap,
        "quality": quality,
        "runs": runs,
        "versions": library_versions(),
        "machine": machine_description(),
        "test_images": runs[0]["test_images"] if runs else None,
    }


def render_table_markdown(results: dict) -> str:
    """The CLL table as Markdown: one row per estimator, one column per quadrant setting."""
    quadrants = [str(q) for q in results["quadrants"]]
    keys = list(results["table"][quadrants[0]].keys())
    many = len(results["seeds"]) > 1
    header = "| negative CLL (nats per image) | " + " | ".join(f"{q} quadrant{'s' if q != '1' else ''}"
                                                          for q in quadrants) + " |"
    lines = [header, "|---|" + "---:|" * len(quadrants)]
    for key in keys:
        cells = []
        for q in quadrants:
            entry = results["table"][q][key]
            cells.append(f"{entry['mean']:.2f} ± {entry['std']:.2f}" if many else f"{entry['mean']:.2f}")
        lines.append(f"| {estimator_label(key)} | " + " | ".join(cells) + " |")
    if "gap" in results:
        samples = results["gap"][quadrants[0]]["estimator"].rsplit("_", 1)[1]
        for unit, label in (("nats_per_image", "per image"), ("nats_per_output_pixel", "per output pixel")):
            cells = []
            for q in quadrants:
                entry, digits = results["gap"][q][unit], 2 if unit == "nats_per_image" else 4
                cells.append(f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f}" if many
                             else f"{entry['mean']:.{digits}f}")
            lines.append(f"| gap: baseline − CVAE IS (S = {samples}), {label} | " + " | ".join(cells) + " |")
    seeds = ", ".join(map(str, results["seeds"]))
    note = (f"\nProfile `{results['profile']}`, seed{'s' if many else ''} {seeds}"
            f"{' (mean ± standard deviation over seeds)' if many else ''}; "
            f"{results['test_images']} test images. Lower is better.\n")
    return "\n".join(lines) + "\n" + note


QUALITY_KEYS = {  # chapter 8's measures, in display order
    "baseline_accuracy": "baseline: classifier accuracy of its prediction",
    "cvae_mode_accuracy": "CVAE: accuracy of the most likely completion (prior mean)",
    "cvae_top_k_accuracy": f"CVAE: true digit among K = {QUALITY_SAMPLES} samples",
    "cvae_label_entropy": "CVAE: entropy of the digit across samples (nats)",
    "cvae_diversity": "CVAE: mean pairwise distance between samples",
    "baseline_mse": "baseline: squared error per output pixel",
    "cvae_best_of_k_mse": f"CVAE: best-of-{QUALITY_SAMPLES} squared error per output pixel",
}


def render_quality_markdown(results: dict) -> str:
    """Chapter 8's completion measures as Markdown, one column per quadrant setting."""
    quadrants = [str(q) for q in results["quadrants"]]
    many = len(results["seeds"]) > 1
    lines = ["| completion measure (test set) | " + " | ".join(
        f"{q} quadrant{'s' if q != '1' else ''}" for q in quadrants) + " |", "|---|" + "---:|" * len(quadrants)]
    for key, label in QUALITY_KEYS.items():
        cells = [results["quality"][q][key] for q in quadrants]
        lines.append(f"| {label} | " + " | ".join(
            f"{c['mean']:.3f} ± {c['std']:.3f}" if many else f"{c['mean']:.3f}" for c in cells) + " |")
    classifier = results["classifier"]
    note = (f"\nMeasured with a digit classifier of test accuracy {100 * classifier['test_accuracy']:.2f}% "
            f"on whole digits; {'mean ± standard deviation over seeds ' if many else 'seed '}"
            f"{', '.join(map(str, results['seeds']))}. Accuracies are fractions of test images.\n")
    return "\n".join(lines) + "\n" + note


def load_results(path: str | os.PathLike) -> dict:
    """Read a ``cll.json`` written by :func:`reproduce`, with a clear error if it is missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no results at {path}; run `python -m cvae_lib reproduce --out {path.parent}` first"
        )
    return json.loads(path.read_text())


def write_figures(settings: dict[int, TrainedSetting], runs: list[dict], out: Path, num_images: int = 10,
                  num_samples: int = 5) -> list[str]:
    """Prediction grid per setting, the learning curves and the estimates against S (PNG files)."""
    import matplotlib.pyplot as plt

    from .models import predict_completions
    from .plots import plot_estimates_vs_samples, plot_loss_curves, plot_prediction_grid

    written = []
    for q, setting in settings.items():
        test = setting.data.test
        inputs, targets = test.inputs[:num_images], test.targets[:num_images]
        samples = predict_completions(setting.cvae.module, setting.baseline.module, inputs,
                                      num_samples, seed=setting.seed)
        fig = plot_prediction_grid(inputs, targets, setting.baseline.module.predict(inputs), samples,
                                   title=f"{q} input quadrant{'s' if q > 1 else ''}")
        name = f"predictions_q{q}.png"
        fig.savefig(out / name, dpi=110, facecolor="white")
        plt.close(fig)
        written.append(name)
    histories = {}
    for q, setting in settings.items():
        histories[f"baseline, {q}q"] = setting.baseline.history
        histories[f"CVAE, {q}q"] = setting.cvae.history
    fig = plot_loss_curves(histories, title="Learning curves")
    fig.savefig(out / "learning_curves.png", dpi=110, facecolor="white")
    plt.close(fig)
    written.append("learning_curves.png")
    curves = {}
    for q, setting in settings.items():
        run = next(r for r in runs if r["quadrants"] == q and r["seed"] == setting.seed)
        curves[f"{q} input quadrant{'s' if q > 1 else ''}"] = {
            **run["curves"], "neg_elbo": run["numbers"]["cvae_neg_elbo"]}
    fig = plot_estimates_vs_samples(curves)
    fig.savefig(out / "estimates_vs_samples.png", dpi=110, facecolor="white")
    plt.close(fig)
    written.append("estimates_vs_samples.png")
    return written


def reproduce(profile=None, quadrants=(1, 2, 3), seeds=(0,), out="results", root=None,
              checkpoint_directory=None, progress: bool = True, log=print) -> dict:
    """Train or load every (setting, seed), evaluate, and write ``cll.json``, ``cll.md`` and figures."""
    profile = get_profile(profile)
    quadrants = [check_quadrants(q) for q in quadrants]
    seeds = list(seeds)
    for seed in seeds:
        if type(seed) is not int or seed < 0:
            raise ValueError(f"seeds must be non-negative ints, got {seed!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mnist = load_mnist(root)
    # The measuring instrument of chapter 8, the same for every seed of the models it measures.
    digits = load_digit_splits(profile=profile, mnist=mnist)
    classifier = train_or_load_digit_classifier(digits, profile=profile, checkpoint_directory=checkpoint_directory,
                                                progress=progress)
    classifier_accuracy = accuracy(classifier.module, *digits.test)
    runs, seconds_per_seed, figure_settings = [], [], {}
    for seed in seeds:
        seed_seconds = 0.0
        for q in quadrants:
            setting = train_setting(q, profile=profile, seed=seed, mnist=mnist,
                                    checkpoint_directory=checkpoint_directory, progress=progress)
            evaluation = evaluate_setting_cached(setting, profile)
            numbers = evaluation["numbers"]
            # Time to make this run from scratch, also when its parts were loaded: the training
            # times stored in the checkpoints plus the evaluation time stored with its numbers.
            seconds = setting.baseline.seconds + setting.cvae.seconds + evaluation["seconds"]
            seed_seconds += seconds
            quality = setting_quality(classifier.module, setting.cvae.module, setting.baseline.module,
                                      setting.data.test, QUALITY_SAMPLES, seed=seed)
            runs.append({
                "seed": seed, "quadrants": q, "numbers": numbers, "curves": evaluation["curves"],
                "quality": quality,
                "epochs_baseline": setting.baseline.epochs_run, "epochs_cvae": setting.cvae.epochs_run,
                "best_epoch_baseline": setting.baseline.best_epoch,
                "best_epoch_cvae": setting.cvae.best_epoch,
                "train_seconds_baseline": setting.baseline.seconds,
                "train_seconds_cvae": setting.cvae.seconds,
                "loaded_from_checkpoint": setting.baseline.loaded and setting.cvae.loaded,
                "evaluation_seconds": evaluation["seconds"], "seconds": seconds,
                "test_images": len(setting.data.test),
                "data_sizes": setting.data.sizes(),
            })
            log(f"seed {seed}, {q} quadrant(s): " + ", ".join(f"{k} {v:.2f}" for k, v in numbers.items())
                + f" ({seconds:.0f} s)")
            if seed == seeds[0]:
                figure_settings[q] = setting
        seconds_per_seed.append(seed_seconds)
    results = build_results(profile, seeds, quadrants, runs, seconds_per_seed)
    results["classifier"] = {"test_accuracy": classifier_accuracy, "epochs": classifier.epochs_run,
                             "seed": classifier.config["seed"]}
    results["figures"] = write_figures(figure_settings, runs, out)
    atomic_write_json(results, out / "cll.json")
    atomic_write_text(render_table_markdown(results), out / "cll.md")
    atomic_write_text(render_quality_markdown(results), out / "quality.md")
    return results



README_START = "<!-- cll-table:start (written by `python -m cvae_lib update-readme`; do not edit) -->"
README_END = "<!-- cll-table:end -->"


def reproduction_time_sentence(results: dict) -> str:
    """How long one seed of the stored run took, in words (README and introduction)."""
    minutes = results["seconds_per_seed"] / 60
    by_seed = results.get("seconds_by_seed", {})
    if len(by_seed) > 1:
        detail = " (" + ", ".join(f"seed {seed}: {seconds / 60:.0f}" for seed, seconds in by_seed.items()) + ")"
        took = f"took {minutes:.0f} minutes on average{detail}"
    else:
        took = f"took {minutes:.0f} minutes"
    return f"One seed of this run (3 settings: baseline, CVAE and evaluation) {took} on {results['machine']}."


def readme_results_section(results: dict) -> str:
    """The block of README.md between the markers: the table and how it was made."""
    return (f"{README_START}\n{render_table_markdown(results)}\n"
            f"{reproduction_time_sentence(results)}\n{README_END}")


def update_readme(results: dict, readme: str | os.PathLike = "README.md") -> bool:
    """Replace the results block of the README with one rendered from ``results``.

    Returns True when the file changed. The README must already hold the two markers.
    """
    readme = Path(readme)
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no results block; add the lines {README_START!r} and {README_END!r}")
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    new = before + readme_results_section(results) + after
    if new != text:
        atomic_write_text(new, readme)
    return new != text
