"""Which hybrid? The weight α of the hybrid objective, chosen on the validation split.

``α L_CVAE + (1 − α) L_GSNN`` is a family: α = 1 is the CVAE, α = 0 the GSNN. The table's hybrid
(:data:`cvae_lib.recipe.HYBRID_ALPHA`) is one member. Here, per setting and seed, a hybrid of each
weight of :data:`SWEEP_ALPHAS` is trained with the published recipe (or loaded: the recipe's own α is
the table's ``hybrid.pt``), and scored on the validation split two ways (:func:`validation_scores`):
its negative CLL by importance sampling with S = :data:`VALIDATION_SAMPLES`, and one draw from the
prior, the score of a single prediction. The CVAE is scored the same way as the end α = 1. The α of
the lowest validation CLL (mean over seeds) is chosen per setting; only that hybrid is evaluated on
the test set, with the table's estimators. ``python -m cvae_lib alpha-sweep`` writes
``alpha_sweep.json``; a stopped run resumes from the checkpoints and stored scores.
"""
from __future__ import annotations

import statistics

from .engine import Engine
from .recipe import HYBRID_ALPHA, RECIPE
from .results import provenance
from .settings import RunConfig
from .tasks import Task, setting_key
from .util import atomic_write_json, ensure_writable_folder

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
        evaluations = [tested[f"{_model_key(setting_key(q, seed), alpha)}/evaluate"] for seed in seeds]
        best_is = max(int(key.rsplit("_", 1)[1]) for key in evaluations[0]["numbers"] if key.startswith("cvae_is_"))
        sweep["settings"][str(q)]["chosen_alpha"] = alpha
        sweep["settings"][str(q)]["test"] = {
            f"cvae_is_{best_is}": _summary([e["numbers"][f"cvae_is_{best_is}"] for e in evaluations]),
            "one_draw": _summary([e["curves"]["mc"][e["curves"]["S"].index(1)] for e in evaluations])}
    atomic_write_json(sweep, out / RESULTS_FILE)
    return sweep


def render_alpha_sweep_markdown(sweep: dict, results: dict) -> str:
    """The sweep as chapter 6 shows it: each α's two validation scores per setting, then the chosen
    hybrid on the test set beside the CVAE and the table's hybrid of the same seeds (``cll.json``)."""
    from .report import markdown_table, quadrant_header, remedy_numbers

    quadrants = list(sweep["settings"])
    alphas = sorted(sweep["settings"][quadrants[0]]["alphas"], key=float)
    rows = []
    for alpha in alphas:
        label = "1 (the CVAE)" if alpha == "1" else alpha
        cells = []
        for q in quadrants:
            entry = sweep["settings"][q]
            scores = entry["alphas"][alpha]
            mark = " ←" if entry.get("chosen_alpha") is not None and f"{entry['chosen_alpha']:g}" == alpha else ""
            cells.append(f"{scores['validation_cll']['mean']:.2f} / {scores['validation_one_draw']['mean']:.2f}{mark}")
        rows.append([label, *cells])
    table = markdown_table(["α", *quadrant_header(quadrants)], rows, "l" + "r" * len(quadrants))
    seeds = sweep["seeds"]
    note = (f"\nValidation split, nats per image: negative CLL by importance sampling (S = "
            f"{sweep['validation_samples']}) / one draw from the prior; {'mean over seeds' if len(seeds) > 1 else 'seed'} "
            f"{', '.join(map(str, seeds))}; ← marks the α chosen (the lowest negative CLL of the hybrids).\n")
    if not all("test" in sweep["settings"][q] for q in quadrants):
        return table + "\n" + note
    picks = []
    positions = [results["seeds"].index(seed) for seed in seeds]
    for q in quadrants:
        entry = sweep["settings"][q]
        key = next(key for key in entry["test"] if key.startswith("cvae_is_"))
        of_seeds = lambda values: statistics.fmean(values[i] for i in positions)  # noqa: E731
        cvae, table_hybrid = (of_seeds(remedy_numbers(results, model, key, q)) for model in ("cvae", "hybrid"))
        picks.append(f"with {q} input quadrant{'s' if q != '1' else ''}, α = {entry['chosen_alpha']:g} scores "
                     f"{entry['test'][key]['mean']:.2f} nats (the CVAE {cvae:.2f}, the table's α = "
                     f"{sweep['table_alpha']:g} {table_hybrid:.2f}) and {entry['test']['one_draw']['mean']:.2f} "
                     f"with one draw from the prior")
    samples = key.rsplit("_", 1)[1]
    return (table + "\n" + note + f"\nOn the test set (importance sampling, S = {samples}): " + "; ".join(picks)
            + ".\n")
