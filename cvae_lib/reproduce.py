"""The paper's experiment, end to end: ``python -m cvae_lib reproduce``.

For every seed and quadrant setting of the run configuration: train or load the baseline, the
CVAE and the paper's two remedies (GSNN, hybrid), evaluate every estimator (cached beside the
checkpoints), measure the completions with chapter 9's digit classifier; then write
``cll.json``, ``cll.md``, ``quality.md`` and the figures.
This module is the pipeline only: the pieces live in :mod:`cvae_lib.experiment` (one setting),
:mod:`cvae_lib.results` (the document) and :mod:`cvae_lib.report` (its Markdown).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .data import load_digit_splits, load_mnist
from .evaluate import grey_scale_floor
from .experiment import TrainedSetting, evaluate_setting_cached, train_remedies, train_setting
from .quality import accuracy, setting_quality, train_or_load_digit_classifier
from .recipe import HYBRID_ALPHA, RECIPE
from .report import render_quality_markdown, render_table_markdown
from .results import QUALITY_SAMPLES, Estimator, build_results
from .settings import RunConfig
from .util import atomic_write_json, atomic_write_text, check_finite, ensure_writable_folder


def reproduce(config: RunConfig, seeds=None, out: str | Path | None = None, progress: bool = True,
              log=print) -> dict:
    """Train or load every (setting, seed), evaluate, and write the results files and figures.

    ``seeds`` defaults to the configuration's one seed; ``out`` to its results folder.
    """
    seeds = list(dict.fromkeys(seeds if seeds is not None else [config.seed]))
    for seed in seeds:
        config.with_seed(seed)  # validates every seed before anything runs
    out = ensure_writable_folder(out if out is not None else config.results_dir)
    mnist = load_mnist(config.data_dir)
    # The measuring instrument of chapter 9, the same for every seed of the models it measures.
    digits = load_digit_splits(config.profile, mnist)
    classifier = train_or_load_digit_classifier(digits, config, progress=progress)
    classifier_accuracy = accuracy(classifier.module, *digits.test)
    runs, seconds_per_seed, figure_settings = [], [], {}
    for seed in seeds:
        seed_seconds = 0.0
        for q in config.quadrants:
            setting = train_setting(q, config.with_seed(seed), mnist, progress=progress)
            evaluation = evaluate_setting_cached(setting, config)
            numbers = dict(evaluation["numbers"])  # the remedies' estimates join it below
            # Time to make this run from scratch, also when its parts were loaded: the training
            # times stored in the checkpoints plus the evaluation time stored with its numbers.
            seconds = setting.baseline.seconds + setting.cvae.seconds + evaluation["seconds"]
            seed_seconds += seconds
            remedies = _remedies(setting, config.with_seed(seed), progress)
            numbers.update({key: remedy["estimate"] for key, remedy in remedies.items()})
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
                "remedies": {remedy.pop("kind"): remedy for remedy in remedies.values()},
            })
            log(f"seed {seed}, {q} quadrant(s): {_what_happened(setting, evaluation)}: "
                + ", ".join(f"{k} {v:.2f}" for k, v in numbers.items()))
            if seed == seeds[0]:
                figure_settings[q] = setting
        seconds_per_seed.append(seed_seconds)
    results = build_results(config.profile, seeds, list(config.quadrants), runs, seconds_per_seed)
    # the least any model can score on these grey-scale targets (the test split is the same for every seed)
    results["floor"] = {str(q): grey_scale_floor(setting.data.test) for q, setting in figure_settings.items()}
    results["hybrid_alpha"] = HYBRID_ALPHA
    results["recipe"] = RECIPE.name
    results["classifier"] = {"test_accuracy": classifier_accuracy, "epochs": classifier.epochs_run,
                             "seed": classifier.config["seed"]}
    check_finite(results, "the results")
    # Figures first into a folder of their own, then everything moved into place: a run that fails
    # while drawing leaves the previous files of ``out`` as they were.
    with tempfile.TemporaryDirectory(dir=out, prefix=".figures-") as staging:
        results["figures"] = write_figures(figure_settings, runs, Path(staging))
        for name in results["figures"]:
            os.replace(Path(staging) / name, out / name)
    atomic_write_json(results, out / "cll.json")
    atomic_write_text(render_table_markdown(results), out / "cll.md")
    atomic_write_text(render_quality_markdown(results), out / "quality.md")
    return results


def _remedies(setting: TrainedSetting, config: RunConfig, progress: bool) -> dict[str, dict]:
    """The GSNN and the hybrid of one setting, trained or loaded and evaluated with the estimator
    that fits each: Monte Carlo from the prior for the GSNN (it has no recognition network),
    importance sampling for the hybrid; both with the largest S of the profile."""
    samples = max(config.profile.is_samples)
    found = {}
    for kind, remedy in train_remedies(setting, config, progress=progress).items():
        gsnn = kind == "gsnn"
        evaluation = evaluate_setting_cached(remedy, config, prior_only=gsnn)
        key = Estimator("gsnn_mc" if gsnn else "hybrid_is", samples).key
        found[key] = {
            "kind": kind, "estimate": evaluation["numbers"][f"cvae_{'mc' if gsnn else 'is'}_{samples}"],
            "numbers": evaluation["numbers"], "curves": evaluation["curves"], "epochs": remedy.cvae.epochs_run,
            "train_seconds": remedy.cvae.seconds, "evaluation_seconds": evaluation["seconds"],
            "seconds": remedy.cvae.seconds + evaluation["seconds"],
        }
    return found


def _what_happened(setting: TrainedSetting, evaluation: dict) -> str:
    """``baseline trained in 40 s, CVAE loaded (trained in 412 s), evaluation loaded (took 200 s)``."""
    parts = []
    for name, model in (("baseline", setting.baseline), ("CVAE", setting.cvae)):
        parts.append(f"{name} loaded (trained in {model.seconds:.0f} s)" if model.loaded
                     else f"{name} trained in {model.seconds:.0f} s")
    parts.append(f"evaluation loaded (took {evaluation['seconds']:.0f} s)" if evaluation["loaded"]
                 else f"evaluated in {evaluation['seconds']:.0f} s")
    return ", ".join(parts)


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
