"""Every training and evaluation the published results need, as a list of tasks.

A :class:`Task` is built once, at the top, from the run configuration: what it does (``action``),
with which settings (``options``, and the seed and folders of its ``config``), and which tasks must
finish before it (``needs``: a CVAE needs its baseline, an evaluation its model). Running it (in this
process, a local worker process or a Ray worker: :mod:`cvae_lib.engine`) trains or loads the model
it names and returns a small JSON-able record; the results files are assembled from those records
(:mod:`cvae_lib.reproduce`, :mod:`cvae_lib.ablation`, :mod:`cvae_lib.recipe_search`,
:mod:`cvae_lib.conditioning`).

A task whose checkpoint or stored evaluation exists and verifies (configuration and checksum,
:mod:`cvae_lib.checkpoints`) loads it instead of making it again, so a stopped run resumes where it
stopped, and a task shared by two lists (the baseline the ablation's recipes train on is one of the
recipe search's candidates) runs once.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from .settings import RunConfig


@dataclasses.dataclass(frozen=True)
class Task:
    key: str  # names it in progress lines and in publish_run.json: "q1/seed0/cvae"
    action: str  # one of ACTIONS
    config: RunConfig  # profile, seed, folders and device of this task
    options: tuple = ()  # (name, value) pairs: the settings the action takes (a measure is a function)
    needs: tuple[str, ...] = ()  # keys of the tasks whose outputs it reads

    @property
    def settings(self) -> dict:
        return dict(self.options)

    def run(self, progress: bool = False) -> dict:
        """Train or load (and evaluate or measure) what this task names; a JSON-able record."""
        return ACTIONS[self.action](self.config, progress=progress, **self.settings)


# ---------------------------------------------------------------- the lists


def reproduce_tasks(config: RunConfig, seeds) -> list[Task]:
    """The CLL table's runs: per seed and setting the baseline, the CVAE and the two remedies, the
    evaluation of each and the CVAE's completion quality; and chapter 9's digit classifier."""
    tasks = [digit_classifier_task(config)]
    for seed in seeds:
        seeded = config.with_seed(seed)
        for q in config.quadrants:
            base = setting_key(q, seed)
            tasks.append(Task(f"{base}/baseline", "baseline", seeded, (("quadrants", q),)))
            for objective in ("cvae", "gsnn", "hybrid"):
                tasks.append(Task(f"{base}/{objective}", "model", seeded,
                                  (("quadrants", q), ("objective", objective)), (f"{base}/baseline",)))
                tasks.append(Task(f"{base}/{objective}/evaluate", "evaluate", seeded,
                                  (("quadrants", q), ("objective", objective)), (f"{base}/{objective}",)))
            tasks.append(Task(f"{base}/quality", "quality", seeded, (("quadrants", q),),
                              (f"{base}/cvae", classifier_key())))
    return tasks


def digit_classifier_task(config: RunConfig) -> Task:
    """Chapter 9's digit classifier: one measuring instrument, with its own seed, for every list."""
    from .quality import CLASSIFIER_SEED

    return Task(classifier_key(), "digit_classifier", config.with_seed(CLASSIFIER_SEED))


def setting_key(num_quadrants: int, seed: int) -> str:
    return f"q{num_quadrants}/seed{seed}"


def classifier_key() -> str:
    from .quality import CLASSIFIER_SEED

    return f"digits/seed{CLASSIFIER_SEED}/digit_classifier"


def merge(*lists: list[Task]) -> list[Task]:
    """The tasks of several lists, each key once (a shared key must mean the same task)."""
    merged: dict[str, Task] = {}
    for task in (task for tasks in lists for task in tasks):
        if task.key in merged and merged[task.key] != task:
            raise ValueError(f"two different tasks are both named {task.key!r}")
        merged.setdefault(task.key, task)
    return list(merged.values())


# ---------------------------------------------------------------- what a task does (in a worker)


@functools.lru_cache(maxsize=2)
def _mnist(data_dir: Path) -> dict:
    from .data import load_mnist

    return load_mnist(data_dir)


def _splits(num_quadrants: int, config: RunConfig):
    return _quadrant_splits(num_quadrants, config.profile, config.data_dir)


def _digits(config: RunConfig):
    return _digit_splits(config.profile, config.data_dir)


# A worker keeps what it loaded for its next task (a full setting's splits hold about 300 MB).
@functools.lru_cache(maxsize=3)
def _quadrant_splits(num_quadrants: int, profile, data_dir: Path):
    from .data import load_splits

    return load_splits(num_quadrants, profile, _mnist(data_dir))


@functools.lru_cache(maxsize=1)
def _digit_splits(profile, data_dir: Path):
    from .data import load_digit_splits

    return load_digit_splits(profile, _mnist(data_dir))


def release_data() -> None:
    """Forget the splits kept for the next task (the engine calls it when a run in this process ends)."""
    for cached in (_mnist, _quadrant_splits, _digit_splits):
        cached.cache_clear()


def model_record(model) -> dict:
    """What the assembly needs of a trained (or loaded) model."""
    return {"loaded": model.loaded, "made_seconds": model.seconds, "epochs_run": model.epochs_run,
            "best_epoch": model.best_epoch, "best_val_loss": min(row["val_loss"] for row in model.history),
            "path": str(model.path) if model.path is not None else None}


def _setting(config: RunConfig, quadrants: int, objective: str, progress: bool, alpha: float | None = None):
    """The setting's data, its baseline and one of its CVAEs (cvae, gsnn or hybrid, of weight
    ``alpha`` if given, else the recipe's), trained or loaded."""
    from .experiment import TrainedSetting
    from .recipe import RECIPE

    data = _splits(quadrants, config)
    baseline = RECIPE.train_baseline(data, config, progress=progress)
    weight = {} if alpha is None else {"alpha": alpha}
    cvae = RECIPE.train_cvae(data, baseline, config, objective=objective, progress=progress, **weight)
    return TrainedSetting(data, baseline, cvae, config.seed)


def _baseline(config: RunConfig, *, quadrants: int, progress: bool) -> dict:
    from .recipe import RECIPE

    return model_record(RECIPE.train_baseline(_splits(quadrants, config), config, progress=progress))


def _model(config: RunConfig, *, quadrants: int, objective: str, progress: bool, alpha: float | None = None) -> dict:
    return model_record(_setting(config, quadrants, objective, progress, alpha).cvae)


def _evaluate(config: RunConfig, *, quadrants: int, objective: str, progress: bool,
              alpha: float | None = None) -> dict:
    from .experiment import evaluate_setting_cached

    setting = _setting(config, quadrants, objective, progress, alpha)
    evaluation = evaluate_setting_cached(setting, config, prior_only=objective == "gsnn")
    return {**evaluation, "made_seconds": evaluation["seconds"], "data_sizes": setting.data.sizes()}


def _validate(config: RunConfig, *, quadrants: int, objective: str, samples: int, progress: bool,
              alpha: float | None = None) -> dict:
    from .experiment import validation_scores

    scores = validation_scores(_setting(config, quadrants, objective, progress, alpha), config, samples)
    return {**scores, "made_seconds": scores["seconds"]}


def _quality(config: RunConfig, *, quadrants: int, progress: bool) -> dict:
    from .experiment import setting_quality_cached
    from .quality import train_or_load_digit_classifier
    from .results import QUALITY_SAMPLES

    setting = _setting(config, quadrants, "cvae", progress)
    classifier = train_or_load_digit_classifier(_digits(config), config, progress=progress)
    measured = setting_quality_cached(setting, classifier, QUALITY_SAMPLES)
    return {**measured, "made_seconds": measured["seconds"]}


def _digit_classifier(config: RunConfig, *, progress: bool) -> dict:
    from .quality import accuracy, train_or_load_digit_classifier

    digits = _digits(config)
    classifier = train_or_load_digit_classifier(digits, config, progress=progress)
    return {**model_record(classifier), "test_accuracy": accuracy(classifier.module, *digits.test),
            "seed": classifier.config["seed"]}


def _ablation_folder(quadrants: int, config: RunConfig) -> Path:
    """Where the models of the recipe searches lie: ``ablation/`` beside the setting's published ones."""
    return config.checkpoint_dir / config.profile.name / f"q{quadrants}" / f"seed{config.seed}" / "ablation"


def _variant_models(config: RunConfig, quadrants: int, variant, progress: bool,
                    baseline_checkpoint: str | None = None):
    """An ablation variant's baseline and CVAE (the second stage of a step schedule continues its first).
    The baseline is the table's where the recipe trains it the same way, else ``ablation/<baseline_checkpoint>``
    (a checkpoint another task makes), else the variant's own."""
    from .recipe import RECIPE
    from .train import train_or_load_cvae_continued

    data = _splits(quadrants, config)
    folder = _ablation_folder(quadrants, config)
    if variant.continue_at:
        first_variant = dataclasses.replace(variant, slug=variant.slug.removesuffix("_step"), continue_at=None)
        baseline, first = _variant_models(config, quadrants, first_variant, progress, baseline_checkpoint)[:2]
        cvae = train_or_load_cvae_continued(data, baseline, first, config, lr=variant.continue_at,
                                            progress=progress, checkpoint_path=folder / f"{variant.slug}.pt")
        return baseline, cvae, first
    recipe = variant.recipe
    baseline_path = ("default" if recipe.baseline == RECIPE.baseline
                     else folder / (baseline_checkpoint or f"baseline_{variant.slug}.pt"))
    cvae_path = "default" if recipe == RECIPE else folder / f"{variant.slug}.pt"
    baseline = recipe.train_baseline(data, config, progress=progress, checkpoint_path=baseline_path)
    return baseline, recipe.train_cvae(data, baseline, config, progress=progress, checkpoint_path=cvae_path), None


def _variant(config: RunConfig, *, quadrants: int, variant, progress: bool, baseline_checkpoint: str | None = None) -> dict:
    baseline, cvae, first = _variant_models(config, quadrants, variant, progress, baseline_checkpoint)
    record = model_record(cvae)
    record["baseline"] = model_record(baseline)
    record["first_stage"] = model_record(first) if first is not None else None
    return record


def _variant_evaluate(config: RunConfig, *, quadrants: int, variant, progress: bool,
                      baseline_checkpoint: str | None = None) -> dict:
    from .experiment import TrainedSetting, evaluate_setting_cached

    baseline, cvae, _ = _variant_models(config, quadrants, variant, progress, baseline_checkpoint)
    evaluation = evaluate_setting_cached(TrainedSetting(_splits(quadrants, config), baseline, cvae,
                                                        config.seed), config)
    return {**evaluation, "made_seconds": evaluation["seconds"]}


def _candidate(config: RunConfig, *, quadrants: int, model: str, recipe, baseline_checkpoint: str | None,
               checkpoint: str | None, progress: bool) -> dict:
    """A model of the recipe search (:mod:`cvae_lib.recipe_search`) trained (or loaded) with ``recipe``,
    kept in ``ablation/<checkpoint>`` (``None``: the table's own model; ``baseline_checkpoint`` likewise
    for the baseline a GSNN or hybrid trains on), and its test number: the baseline's CLL, the GSNN's
    Monte Carlo estimate, the hybrid's importance-sampled one (largest S)."""
    from . import evaluate
    from .experiment import TrainedSetting, evaluate_setting_cached

    data, folder = _splits(quadrants, config), _ablation_folder(quadrants, config)
    where = {} if checkpoint is None else {"checkpoint_path": folder / checkpoint}
    if model == "baseline":
        trained = recipe.train_baseline(data, config, progress=progress, **where)
        return {**model_record(trained), "test": evaluate.baseline_nll(trained.module, data.test)}
    baseline_where = {} if baseline_checkpoint is None else {"checkpoint_path": folder / baseline_checkpoint}
    baseline = recipe.train_baseline(data, config, progress=progress, **baseline_where)
    trained = recipe.train_cvae(data, baseline, config, objective=model, progress=progress, **where)
    evaluation = evaluate_setting_cached(TrainedSetting(data, baseline, trained, config.seed), config,
                                         prior_only=model == "gsnn")
    kind = "cvae_mc" if model == "gsnn" else "cvae_is"
    return {**model_record(trained), "test": evaluation["numbers"][f"{kind}_{max(config.profile.is_samples)}"]}


def _label_cvae(config: RunConfig, *, encoder: str, conditioning: str, beta: float, measure,
                progress: bool) -> dict:
    from .label_cvae import train_or_load_label_cvae
    from .quality import train_or_load_digit_classifier

    digits = _digits(config)
    trained = train_or_load_label_cvae(digits, config, beta=beta, conditioning=conditioning,
                                       encoder_sees_label=encoder == "x,c", max_epochs=None, progress=progress)
    classifier = train_or_load_digit_classifier(digits, config, progress=progress).module
    numbers = measure(trained.module, digits, classifier, config.seed)
    return {**model_record(trained), "numbers": numbers}


def _classifier_cvae(config: RunConfig, *, encoder: str, measure, progress: bool) -> dict:
    from .classifier_cvae import train_or_load_classifier_cvae
    from .quality import train_or_load_digit_classifier

    digits = _digits(config)
    trained = train_or_load_classifier_cvae(digits, config, encoder_sees_code=encoder == "x,c", max_epochs=None,
                                            progress=progress)
    classifier = train_or_load_digit_classifier(digits, config, progress=progress).module
    numbers = measure(trained.module, digits, classifier, config.seed)
    return {**model_record(trained), "numbers": numbers}


ACTIONS = {
    "baseline": _baseline, "model": _model, "evaluate": _evaluate, "validate": _validate, "quality": _quality,
    "digit_classifier": _digit_classifier, "variant": _variant, "variant_evaluate": _variant_evaluate,
    "candidate": _candidate, "label_cvae": _label_cvae, "classifier_cvae": _classifier_cvae,
}
