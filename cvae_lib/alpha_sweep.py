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
from pathlib import Path

from .engine import Engine
from .recipe import HYBRID_ALPHA, RECIPE
from .results import provenance
from .settings import PROFILES, RunConfig
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


def _one_draw(evaluation: dict) -> float:
    """One draw from the prior: the Monte Carlo estimate with S = 1 of a stored evaluation."""
    return evaluation["curves"]["mc"][evaluation["curves"]["S"].index(1)]


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
            "one_draw": _summary([_one_draw(e) for e in evaluations])}
    atomic_write_json(sweep, out / RESULTS_FILE)
    return sweep


def load_alpha_sweep(results_dir) -> dict:
    """The stored sweep, or one line that says how to make it."""
    return read_stored_json(Path(results_dir) / RESULTS_FILE,
                            f"`python -m cvae_lib alpha-sweep --profile full --seeds 0 --out {Path(results_dir)}` "
                            f"to train and score the hybrids of every α")


def schedule_epochs(profile_name: str) -> int:
    """How many epochs the published recipe's learning-rate schedule runs in a profile (its cosine)."""
    return RECIPE.within(PROFILES[profile_name].max_epochs).cvae.cosine_epochs


def sweep_findings(sweep: dict, results: dict | None = None) -> dict[int, dict]:
    """What chapter 6 says of the sweep, per setting: how each validation score moves as α falls from 1
    (the CVAE) towards the GSNN, the chosen hybrid against the CVAE (on validation, and on the test set
    against the CVAE of the same seeds in ``results``, the table's ``cll.json``), and which hybrids
    stopped before the end of the recipe's schedule (early stopping on the validation split)."""
    epochs = schedule_epochs(sweep["profile"])
    findings = {}
    for q, entry in sweep["settings"].items():
        alphas = sorted(entry["alphas"], key=float, reverse=True)  # from α = 1 down
        cll = [entry["alphas"][a]["validation_cll"]["mean"] for a in alphas]
        one_draw = [entry["alphas"][a]["validation_one_draw"]["mean"] for a in alphas]
        chosen = entry.get("chosen_alpha")
        stopped = {float(a): entry["alphas"][a]["epochs_run"] for a in alphas  # epochs run, per seed
                   if float(a) < 1 and min(entry["alphas"][a]["epochs_run"]) < epochs}
        findings[int(q)] = {
            "cll_rises_as_alpha_falls": all(b > a for a, b in zip(cll, cll[1:])),
            "one_draw_falls_as_alpha_falls": all(b < a for a, b in zip(one_draw, one_draw[1:])),
            "cvae_cll": cll[0], "cvae_one_draw": one_draw[0],
            "best_hybrid_cll": min(cll[1:]), "lowest_one_draw_alpha": float(alphas[one_draw.index(min(one_draw))]),
            "chosen_alpha": chosen,
            "chosen_cll": entry["alphas"][f"{chosen:g}"]["validation_cll"]["mean"] if chosen is not None else None,
            "chosen_one_draw": entry["alphas"][f"{chosen:g}"]["validation_one_draw"]["mean"] if chosen is not None else None,
            "stopped_early": stopped, "schedule_epochs": epochs}
        if results is not None and "test" in entry:
            key = next(key for key in entry["test"] if key.startswith("cvae_is_"))
            runs = [run for run in results["runs"] if run["quadrants"] == int(q) and run["seed"] in sweep["seeds"]]
            findings[int(q)].update(
                test_cll=entry["test"][key]["mean"], test_one_draw=entry["test"]["one_draw"]["mean"],
                cvae_test_cll=statistics.fmean(run["numbers"][key] for run in runs),
                cvae_test_one_draw=statistics.fmean(_one_draw(run) for run in runs),
                # the single answer of the baseline and one draw of the GSNN, on the same test set
                baseline_test_nll=statistics.fmean(run["numbers"]["baseline_nll"] for run in runs),
                gsnn_test_one_draw=statistics.fmean(_one_draw(run["remedies"]["gsnn"]) for run in runs)
                if all("remedies" in run for run in runs) else None)
    return findings


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
        cvae_one_draw = of_seeds([_one_draw(run) for run in results["runs"]
                                  if str(run["quadrants"]) == q])
        picks.append(f"with {q} input quadrant{'s' if q != '1' else ''}, α = {entry['chosen_alpha']:g} scores "
                     f"{entry['test'][key]['mean']:.2f} nats by importance sampling (the CVAE {cvae:.2f}, the "
                     f"table's α = {sweep['table_alpha']:g} {table_hybrid:.2f}) and "
                     f"{entry['test']['one_draw']['mean']:.2f} with one draw from the prior (the CVAE "
                     f"{cvae_one_draw:.2f})")
    samples = key.rsplit("_", 1)[1]
    whose = f"seed {seeds[0]}'s models" if len(seeds) == 1 else f"the mean over seeds {', '.join(map(str, seeds))}"
    if seeds != results["seeds"]:
        whose += f", not the mean over seeds {', '.join(map(str, results['seeds']))} of the tables above"
    return (table + "\n" + note + f"\nOn the test set ({whose}; importance sampling with S = {samples}): "
            + "; ".join(picks) + ".\n")
