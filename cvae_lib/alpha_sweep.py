"""Which hybrid? The weight α of the hybrid objective, chosen on the validation split.

``α L_CVAE + (1 − α) L_GSNN`` is a family: α = 1 is the CVAE, α = 0 the GSNN. The table's hybrid
(:data:`cvae_lib.recipe.HYBRID_ALPHA`) is one member. Here, per setting and seed, a hybrid of each
weight of :data:`SWEEP_ALPHAS` is trained with the published recipe (or loaded: the recipe's own α is
the table's ``hybrid.pt``), and scored on the validation split two ways (:func:`validation_scores`):
its negative CLL by importance sampling with S = :data:`VALIDATION_SAMPLES`, and one draw from the
prior, the score of a single prediction. The CVAE is scored the same way as the end α = 1. The α of
the lowest validation CLL (mean over seeds) is chosen per setting; only that hybrid is evaluated on
the test set, with the table's estimators. ``python -m cvae_lib alpha-sweep`` writes
``alpha_sweep.json``; a stopped run resumes from the checkpoints and stored scores. Its
``--add-test-seeds`` (:func:`add_test_seeds`) then trains and tests the chosen hybrids for more seeds
without sweeping again, so that their test rows are means over the table's seeds, held against the
CVAE seed by seed. What chapter 6 says of the file is :mod:`cvae_lib.alpha_report`'s.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from .engine import Engine
from .recipe import HYBRID_ALPHA, RECIPE
from .results import one_draw_score, provenance
from .settings import RunConfig
from .tasks import Task, setting_key
from .util import atomic_write_json, ensure_writable_folder, read_stored_json

SWEEP_ALPHAS = (0.1, 0.25, 0.5, 0.75, 0.9)
VALIDATION_SAMPLES = 100  # importance samples per validation image: enough to rank models (chapter 5's curve)
RESULTS_FILE = "alpha_sweep.json"


def _model_key(base: str, alpha: float) -> str:
    """The table's own tasks where they are the same model: the CVAE (α = 1) and the recipe's hybrid."""
    if alpha == 1:
        return f"{base}/cvae"
    return f"{base}/hybrid" if alpha == HYBRID_ALPHA else f"alpha/{base}/hybrid{alpha:g}"


def _model_options(quadrants: int, alpha: float) -> tuple:
    if alpha == 1:
        return (("quadrants", quadrants), ("objective", "cvae"))
    return (("quadrants", quadrants), ("objective", "hybrid")) + ((("alpha", alpha),) if alpha != HYBRID_ALPHA else ())


def sweep_tasks(config: RunConfig, seeds, alphas=SWEEP_ALPHAS) -> list[Task]:
    """Per seed and setting: each α's hybrid (and the CVAE), then its validation scores."""
    tasks = []
    for seed in seeds:
        seeded = config.with_seed(seed)
        for q in config.quadrants:
            base = setting_key(q, seed)
            tasks.append(Task(f"{base}/baseline", "baseline", seeded, (("quadrants", q),)))
            for alpha in (*alphas, 1):
                model = _model_key(base, alpha)
                options = _model_options(q, alpha)
                tasks.append(Task(model, "model", seeded, options, (f"{base}/baseline",)))
                tasks.append(Task(f"alpha/{base}/validate{alpha:g}", "validate", seeded,
                                  options + (("samples", VALIDATION_SAMPLES),), (model,)))
    return tasks


def test_tasks(config: RunConfig, seeds, chosen: dict[int, float]) -> list[Task]:
    """The chosen hybrid of each setting on the test set (the table's estimators)."""
    tasks = []
    for seed in seeds:
        seeded = config.with_seed(seed)
        for q, alpha in chosen.items():
            base = setting_key(q, seed)
            model = _model_key(base, alpha)
            options = _model_options(q, alpha)
            tasks += [Task(f"{base}/baseline", "baseline", seeded, (("quadrants", q),)),
                      Task(model, "model", seeded, options, (f"{base}/baseline",)),
                      Task(f"{model}/evaluate", "evaluate", seeded, options, (model,))]
    return tasks


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "per_seed": values}


def choose(sweep: dict) -> dict[int, float]:
    """Per setting, the hybrid's α (α < 1) of the lowest mean validation CLL."""
    return {int(q): min((float(alpha) for alpha in entry["alphas"] if float(alpha) < 1),
                        key=lambda alpha: entry["alphas"][f"{alpha:g}"]["validation_cll"]["mean"])
            for q, entry in sweep["settings"].items()}


def assemble(config: RunConfig, seeds, alphas, outputs: dict[str, dict]) -> dict:
    """The sweep's validation scores, per setting and α, from the finished tasks."""
    settings = {}
    for q in config.quadrants:
        entries = {}
        for alpha in (*alphas, 1):
            runs = [(outputs[_model_key(setting_key(q, seed), alpha)],
                     outputs[f"alpha/{setting_key(q, seed)}/validate{alpha:g}"]) for seed in seeds]
            entries[f"{alpha:g}"] = {
                "validation_cll": _summary([scores[f"is_{VALIDATION_SAMPLES}"] for _, scores in runs]),
                "validation_one_draw": _summary([scores["one_draw"] for _, scores in runs]),
                "epochs_run": [model["epochs_run"] for model, _ in runs],
                "best_epoch": [model["best_epoch"] for model, _ in runs],
                "train_seconds": [model["made_seconds"] for model, _ in runs]}
        settings[str(q)] = {"alphas": entries}
    return {"format": 1, "profile": config.profile.name, "seeds": list(seeds), "quadrants": list(config.quadrants),
            "recipe": RECIPE.name, "table_alpha": HYBRID_ALPHA, "validation_samples": VALIDATION_SAMPLES,
            "settings": settings, **provenance()}


def run_alpha_sweep(config: RunConfig, seeds, alphas=SWEEP_ALPHAS, *, engine: Engine | None = None,
                    progress: bool = True, log=print) -> dict:
    """Train (or load) and score every α, choose one per setting on validation, evaluate the chosen
    hybrids on the test set, write ``alpha_sweep.json`` to the results folder."""
    engine = engine or Engine()
    out = ensure_writable_folder(config.results_dir)
    sweep = assemble(config, seeds, alphas, engine.run(sweep_tasks(config, seeds, alphas), progress=progress,
                                                       log=log))
    chosen = choose(sweep)
    tested = engine.run(test_tasks(config, seeds, chosen), progress=progress, log=log)
    for q, alpha in chosen.items():
        sweep["settings"][str(q)]["chosen_alpha"] = alpha
        sweep["settings"][str(q)]["test"] = _test_row({}, {seed: _test_evaluation(tested, q, seed, alpha)
                                                          for seed in seeds})
    sweep["test_seeds"] = list(seeds)
    atomic_write_json(sweep, out / RESULTS_FILE)
    return sweep


def tested_seeds(sweep: dict) -> list[int]:
    """The seeds of the chosen hybrids' test rows: the sweep's own and those added by
    :func:`add_test_seeds` (a file written before either only has the sweep's)."""
    return sweep.get("test_seeds", sweep["seeds"])


def _test_evaluation(tested: dict[str, dict], q: int, seed: int, alpha: float) -> dict:
    return tested[f"{_model_key(setting_key(q, seed), alpha)}/evaluate"]


def _test_row(kept: dict[int, dict], evaluations: dict[int, dict]) -> dict:
    """A chosen hybrid's test row over seeds: the largest S of importance sampling and one draw from the
    prior, per seed in order of seed; ``evaluations`` replace or join the ``kept`` per-seed numbers
    (``{seed: {name: value}}``)."""
    per_seed = {seed: dict(numbers) for seed, numbers in kept.items()}
    for seed, evaluation in evaluations.items():
        best_is = max(int(key.rsplit("_", 1)[1]) for key in evaluation["numbers"] if key.startswith("cvae_is_"))
        per_seed[seed] = {f"cvae_is_{best_is}": evaluation["numbers"][f"cvae_is_{best_is}"],
                          "one_draw": one_draw_score(evaluation)}
    names = {tuple(numbers) for numbers in per_seed.values()}
    if len(names) != 1:
        raise ValueError(f"the seeds' test numbers name different estimators ({sorted(names)}): the added seeds "
                         "must be evaluated with the stored sweep's profile")
    return {name: _summary([per_seed[seed][name] for seed in sorted(per_seed)]) for name in names.pop()}


def add_test_seeds(config: RunConfig, seeds, *, engine: Engine | None = None, progress: bool = True,
                   log=print) -> dict:
    """Evaluate each setting's chosen hybrid of the stored ``alpha_sweep.json`` on the test set for more
    ``seeds`` (trained, or loaded, with the published recipe), without sweeping again: α stays the one
    chosen on the sweep's validation split, the new seeds' numbers join (or replace) the test rows, and
    the file records the seeds added and the machine and versions they were computed with."""
    engine = engine or Engine()
    out = ensure_writable_folder(config.results_dir)
    sweep = load_alpha_sweep(out)
    if sweep["profile"] != config.profile.name:
        raise ValueError(f"the stored sweep is of profile {sweep['profile']!r}, not {config.profile.name!r}: "
                         f"pass --profile {sweep['profile']}")
    chosen = {int(q): entry.get("chosen_alpha") for q, entry in sweep["settings"].items()}
    if None in chosen.values() or not all("test" in entry for entry in sweep["settings"].values()):
        raise ValueError(f"{out / RESULTS_FILE} has no chosen α with a test row for every setting: run "
                         "`python -m cvae_lib alpha-sweep` to the end first")
    seeds = list(dict.fromkeys(seeds))
    tested = engine.run(test_tasks(config, seeds, chosen), progress=progress, log=log)
    before = tested_seeds(sweep)
    for q, alpha in chosen.items():
        entry = sweep["settings"][str(q)]
        kept = {seed: {name: row["per_seed"][i] for name, row in entry["test"].items()}
                for i, seed in enumerate(before)}
        entry["test"] = _test_row(kept, {seed: _test_evaluation(tested, q, seed, alpha) for seed in seeds})
        # the baseline each added hybrid rests on: the table's own, or one trained again (another machine)
        entry["added_baseline_nll"] = {**entry.get("added_baseline_nll", {}), **{
            str(seed): _test_evaluation(tested, q, seed, alpha)["numbers"]["baseline_nll"] for seed in seeds}}
    sweep["test_seeds"] = sorted(set(before) | set(seeds))
    sweep["added_test_seeds"] = [*sweep.get("added_test_seeds", []), {"seeds": seeds, **provenance()}]
    atomic_write_json(sweep, out / RESULTS_FILE)
    return sweep


def load_alpha_sweep(results_dir) -> dict:
    """The stored sweep, or one line that says how to make it."""
    return read_stored_json(Path(results_dir) / RESULTS_FILE,
                            f"`python -m cvae_lib alpha-sweep --profile full --seeds 0 --out {Path(results_dir)}` "
                            f"to train and score the hybrids of every α")
