"""The paper's experiment, end to end: ``python -m cvae_lib reproduce``.

For every seed and quadrant setting of the run configuration: train or load the baseline, the
CVAE and the paper's two remedies (GSNN, hybrid), evaluate every estimator (cached beside the
checkpoints), measure the completions with chapter 9's digit classifier; then write
``cll.json``, ``cll.md``, ``quality.md`` and the figures.
This module is the list of that work and the assembly of its results: the tasks are in
:mod:`cvae_lib.tasks` (run by :mod:`cvae_lib.engine`, one at a time or side by side), one setting's
pieces in :mod:`cvae_lib.experiment`, the document in :mod:`cvae_lib.results` and its Markdown in
:mod:`cvae_lib.report`.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .data import load_mnist, load_splits
from .engine import Engine
from .evaluate import grey_scale_floor
from .experiment import TrainedSetting, train_setting
from .recipe import HYBRID_ALPHA, RECIPE, model_recipes
from .report import render_quality_markdown, render_table_markdown
from .results import RESULTS_FORMAT, Estimator, build_results
from .settings import RunConfig
from .tasks import classifier_key, reproduce_tasks, setting_key
from .util import atomic_write_json, atomic_write_text, check_finite, ensure_writable_folder, read_stored_json


def reproduce(config: RunConfig, seeds=None, out: str | Path | None = None, progress: bool = True,
              log=print, engine: Engine | None = None, add_to_stored: bool = False) -> dict:
    """Train or load every (setting, seed), evaluate, and write the results files and figures.

    ``seeds`` defaults to the configuration's one seed; ``out`` to its results folder; ``engine``
    (:mod:`cvae_lib.engine`) to one task at a time in this process. With ``add_to_stored``, the
    table is that of ``out/cll.json``'s seeds and these (a seed run here replaces its stored runs):
    a table's seeds can then be made on different days or machines.
    """
    seeds = check_seeds(config, seeds)
    out = ensure_writable_folder(out if out is not None else config.results_dir)
    stored = stored_seeds(out, config, seeds) if add_to_stored else None  # refused before anything trains
    outputs = (engine or Engine()).run(reproduce_tasks(config, seeds), progress=progress, log=log)
    return write_reproduce_results(config, seeds, outputs, out, log, stored=stored)


def stored_seeds(out: Path, config: RunConfig, seeds: list[int]) -> dict:
    """The runs of ``out/cll.json`` that a run of ``seeds`` adds to, checked to be the same
    experiment: results format, profile, settings, recipes and the hybrid's weight."""
    stored = read_stored_json(out / "cll.json", "python -m cvae_lib reproduce (without --add-to-stored)")
    expected = {"format": RESULTS_FORMAT, "profile_settings": config.profile.as_dict(),
                "quadrants": list(config.quadrants), "recipe": RECIPE.name,
                "recipes": model_recipes(config.profile), "hybrid_alpha": HYBRID_ALPHA}
    for field, value in json.loads(json.dumps(expected)).items():  # as the file holds them (lists, not tuples)
        if stored.get(field) != value:
            raise ValueError(f"{out / 'cll.json'} was made with another {field} ({stored.get(field)!r}; this run: "
                             f"{value!r}): its seeds cannot join this table; reproduce every seed into a new folder")
    missing = [name for name in stored["figures"] if not (out / name).exists()]
    if missing:
        raise FileNotFoundError(f"{out / missing[0]} is missing: the stored seeds' figures go with their table; "
                                "restore it (git checkout) or reproduce every seed into a new folder")
    kept = [seed for seed in stored["seeds"] if seed not in seeds]
    return {"runs": [run for run in stored["runs"] if run["seed"] in kept],
            "seconds_by_seed": {seed: stored["seconds_by_seed"][str(seed)] for seed in kept},
            "figures": stored["figures"]}


def check_seeds(config: RunConfig, seeds) -> list[int]:
    seeds = list(dict.fromkeys(seeds if seeds is not None else [config.seed]))
    for seed in seeds:
        config.with_seed(seed)  # validates every seed before anything runs
    return seeds


def write_reproduce_results(config: RunConfig, seeds: list[int], outputs: dict[str, dict], out: Path,
                            log=print, stored: dict | None = None) -> dict:
    """``cll.json``, ``cll.md``, ``quality.md`` and the figures, from the finished tasks' records
    (and the ``stored`` seeds' runs, from :func:`stored_seeds`, where this run adds to them)."""
    stored = stored or {"runs": [], "seconds_by_seed": {}}
    runs, seconds_by_seed = list(stored["runs"]), dict(stored["seconds_by_seed"])
    for seed in seeds:
        seconds_by_seed[seed] = 0.0
        for q in config.quadrants:
            run = _run_record(outputs, q, seed, max(config.profile.is_samples))
            seconds_by_seed[seed] += run["seconds"]
            runs.append(run)
            log(f"seed {seed}, {q} quadrant(s): {_what_happened(outputs, q, seed)}: "
                + ", ".join(f"{k} {v:.2f}" for k, v in run["numbers"].items()))
    if stored["runs"]:  # the table's seeds in order, whichever run made them
        seeds = sorted(seconds_by_seed)
        runs.sort(key=lambda run: (run["seed"], run["quadrants"]))
    results = build_results(config.profile, seeds, list(config.quadrants), runs,
                            [seconds_by_seed[seed] for seed in seeds])
    # The figures show the first seed's models, loaded from the checkpoints its tasks made; where that
    # seed was stored, by the run that made it (its checkpoints may be on another machine).
    mnist = load_mnist(config.data_dir)
    draw = seeds[0] not in stored["seconds_by_seed"]
    figure_settings = {q: train_setting(q, config.with_seed(seeds[0]), mnist, progress=False)
                       for q in config.quadrants} if draw else {}
    # the least any model can score on these grey-scale targets (the test split is the same for every
    # seed); on binary targets it is 0, and the table has no floor rows
    if config.profile.protocol == "grey-scale":
        results["floor"] = {str(q): grey_scale_floor(figure_settings[q].data.test if draw
                                                     else load_splits(q, config.profile, mnist).test)
                            for q in config.quadrants}
    results["hybrid_alpha"] = HYBRID_ALPHA
    results["recipe"] = RECIPE.name
    results["recipes"] = model_recipes(config.profile)  # each model's schedule and stop, as trained
    classifier = outputs[classifier_key()]
    results["classifier"] = {"test_accuracy": classifier["test_accuracy"], "epochs": classifier["epochs_run"],
                             "seed": classifier["seed"]}
    check_finite(results, "the results")
    # Figures first into a folder of their own, then everything moved into place: a run that fails
    # while drawing leaves the previous files of ``out`` as they were.
    if draw:
        with tempfile.TemporaryDirectory(dir=out, prefix=".figures-") as staging:
            results["figures"] = write_figures(figure_settings, runs, Path(staging))
            for name in results["figures"]:
                os.replace(Path(staging) / name, out / name)
    else:
        results["figures"] = stored["figures"]
    atomic_write_json(results, out / "cll.json")
    atomic_write_text(render_table_markdown(results), out / "cll.md")
    atomic_write_text(render_quality_markdown(results), out / "quality.md")
    return results


def _run_record(outputs: dict[str, dict], q: int, seed: int, samples: int) -> dict:
    """One (seed, setting) of ``cll.json``: the numbers of every estimator and remedy, the epochs and
    the time to make it from scratch (the stored training and evaluation times, also when loaded)."""
    base = setting_key(q, seed)
    baseline, cvae, evaluation = (outputs[f"{base}/{name}"] for name in ("baseline", "cvae", "cvae/evaluate"))
    numbers = dict(evaluation["numbers"])
    remedies = {}
    for kind, estimator, column in (("gsnn", "gsnn_mc", "cvae_mc"), ("hybrid", "hybrid_is", "cvae_is")):
        model, remedy = outputs[f"{base}/{kind}"], outputs[f"{base}/{kind}/evaluate"]
        numbers[Estimator(estimator, samples).key] = remedy["numbers"][f"{column}_{samples}"]
        remedies[kind] = {
            "estimate": remedy["numbers"][f"{column}_{samples}"], "numbers": remedy["numbers"],
            "curves": remedy["curves"], "epochs": model["epochs_run"], "train_seconds": model["made_seconds"],
            "evaluation_seconds": remedy["seconds"], "seconds": model["made_seconds"] + remedy["seconds"]}
    return {
        "seed": seed, "quadrants": q, "numbers": numbers, "curves": evaluation["curves"],
        "quality": outputs[f"{base}/quality"]["quality"],
        "epochs_baseline": baseline["epochs_run"], "epochs_cvae": cvae["epochs_run"],
        "best_epoch_baseline": baseline["best_epoch"], "best_epoch_cvae": cvae["best_epoch"],
        "train_seconds_baseline": baseline["made_seconds"], "train_seconds_cvae": cvae["made_seconds"],
        "loaded_from_checkpoint": baseline["loaded"] and cvae["loaded"],
        "evaluation_seconds": evaluation["seconds"],
        "seconds": baseline["made_seconds"] + cvae["made_seconds"] + evaluation["seconds"],
        "test_images": evaluation["data_sizes"]["test"], "data_sizes": evaluation["data_sizes"],
        "remedies": remedies,
    }


def _what_happened(outputs: dict[str, dict], q: int, seed: int) -> str:
    """``baseline trained in 40 s, CVAE loaded (trained in 412 s), evaluation loaded (took 200 s)``."""
    base = setting_key(q, seed)
    parts = []
    for name, key in (("baseline", "baseline"), ("CVAE", "cvae")):
        model = outputs[f"{base}/{key}"]
        parts.append(f"{name} loaded (trained in {model['made_seconds']:.0f} s)" if model["loaded"]
                     else f"{name} trained in {model['made_seconds']:.0f} s")
    evaluation = outputs[f"{base}/cvae/evaluate"]
    parts.append(f"evaluation loaded (took {evaluation['seconds']:.0f} s)" if evaluation["loaded"]
                 else f"evaluated in {evaluation['seconds']:.0f} s")
    return ", ".join(parts)


def write_figures(settings: dict[int, TrainedSetting], runs: list[dict], out: Path, num_images: int = 10,
                  num_samples: int = 5) -> list[str]:
    """Prediction grid per setting, the learning curves and the estimates against S (PNG files)."""
    import matplotlib.pyplot as plt

    from .models import predict_completions
    from .plots import plot_loss_curves, plot_prediction_grid
    from .score_plots import plot_estimates_vs_samples

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
