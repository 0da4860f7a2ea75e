"""Even tuning: the recipe search the CVAE got, for the table's other models.

The CVAE's recipe was chosen among twelve (:mod:`cvae_lib.ablation`); the baseline, the GSNN and the
hybrid took one each. Here each of them trains with every learning-rate schedule of
:data:`CANDIDATES` (a constant rate until early stopping, or a cosine of two peak rates and two
lengths) on one setting and seed, the CVAE's (1 quadrant, seed 0), and the schedule of the lowest
validation loss of the model's own objective is chosen, as the CVAE's was. Two rounds: the baseline
first, then the GSNN and the hybrid on the baseline the first round chose (their prior network reads
its guess), so that each is searched on the baseline it would be trained on. Each candidate's test
number is reported, never used to choose. A candidate whose recipe is the table's is the table's own
model (its checkpoint and stored evaluation); the others lie in ``ablation/`` beside it.
``python -m cvae_lib recipe-search`` writes ``recipe_search.json`` and ``recipe_search.md``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from .engine import Engine
from .recipe import RECIPE, schedule_record
from .report import MODEL_NAMES, markdown_table, schedule_text
from .results import provenance
from .settings import RunConfig
from .tasks import Task, setting_key
from .train import Schedule
from .util import atomic_write_json, atomic_write_text, ensure_writable_folder, read_stored_json

MODELS = ("baseline", "gsnn", "hybrid")
RESULTS_FILE = "recipe_search.json"
CANDIDATES = {  # slug (names the checkpoint): schedule
    "constant_lr0.001": Schedule(1e-3),
    "cosine20_lr0.001": Schedule(1e-3, warmup_epochs=1, cosine_epochs=20),
    "cosine20_lr0.002": Schedule(2e-3, warmup_epochs=1, cosine_epochs=20),
    "cosine50_lr0.001": Schedule(1e-3, warmup_epochs=1, cosine_epochs=50),
    "cosine50_lr0.002": Schedule(2e-3, warmup_epochs=1, cosine_epochs=50),
}
# The number each model's test column shows (cvae_lib.tasks, action "candidate"): the table's, with
# the profile's largest S for the estimates.
TEST_LABELS = {"baseline": "its exact CLL", "gsnn": "Monte Carlo from the prior", "hybrid": "importance sampling"}


def table_schedule(model: str) -> Schedule:
    """The schedule the table trains ``model`` with."""
    return RECIPE.schedule_of(model)


def candidate_recipe(model: str, slug: str, baseline_slug: str | None = None):
    """The recipe whose ``model`` trains with candidate ``slug`` (the GSNN and the hybrid on the
    baseline of candidate ``baseline_slug``, default the table's); everything else as the table's,
    and the table's recipe itself where nothing changes."""
    if model == "baseline":
        baseline = CANDIDATES[slug]
    else:
        baseline = CANDIDATES[baseline_slug] if baseline_slug is not None else RECIPE.baseline
    changes = {"baseline": baseline} if baseline != RECIPE.baseline else {}
    if model != "baseline" and CANDIDATES[slug] != table_schedule(model):
        changes[model] = CANDIDATES[slug]
    return dataclasses.replace(RECIPE, **changes)


def _task(config: RunConfig, num_quadrants: int, model: str, slug: str, baseline_slug: str) -> Task:
    """One model with one candidate schedule; the table's own model where the recipe is the table's.
    A model of the CVAE's kind lies in ``<model>_<slug>.pt`` on the table's baseline, else in
    ``<model>_<slug>_on_baseline_<baseline slug>.pt``."""
    base = setting_key(num_quadrants, config.seed)
    recipe = candidate_recipe(model, slug, baseline_slug)
    baseline_own = CANDIDATES[baseline_slug] == RECIPE.baseline
    if recipe == RECIPE:
        checkpoint = None
    elif model == "baseline" or baseline_own:
        checkpoint = f"{model}_{slug}.pt"
    else:
        checkpoint = f"{model}_{slug}_on_baseline_{baseline_slug}.pt"
    options = (("quadrants", num_quadrants), ("model", model), ("recipe", recipe),
               ("baseline_checkpoint", None if baseline_own else f"baseline_{baseline_slug}.pt"),
               ("checkpoint", checkpoint))
    needs = () if model == "baseline" else (f"search/{base}/baseline/{baseline_slug}",)
    return Task(f"search/{base}/{model}/{slug}", "candidate", config, options, needs)


def baseline_candidate(schedule: Schedule) -> str | None:
    """The candidate that trains a baseline with ``schedule`` (``None``: none does). The ablation's
    recipes train on the first edition's baseline, the constant-rate candidate's checkpoint."""
    return next((slug for slug, candidate in CANDIDATES.items() if candidate == schedule), None)


def baseline_task(config: RunConfig, num_quadrants: int, slug: str) -> Task:
    """The baseline with candidate schedule ``slug``."""
    return _task(config, num_quadrants, "baseline", slug, slug)


def baseline_tasks(config: RunConfig, num_quadrants: int) -> list[Task]:
    """The first round: the baseline with every candidate schedule."""
    return [baseline_task(config, num_quadrants, slug) for slug in CANDIDATES]


def model_tasks(config: RunConfig, num_quadrants: int, baseline_slug: str, models=MODELS) -> list[Task]:
    """The second round: the GSNN and the hybrid with every candidate schedule, on the baseline the
    first round chose (its task first: it loads), so that they are searched on the baseline they would
    be trained on."""
    tasks = [baseline_task(config, num_quadrants, baseline_slug)]
    return tasks + [_task(config, num_quadrants, model, slug, baseline_slug)
                    for model in models if model != "baseline" for slug in CANDIDATES]


def _choose(candidates: dict) -> str:
    return min(candidates, key=lambda slug: candidates[slug]["best_val_loss"])


def assemble(config: RunConfig, num_quadrants: int, models, outputs: dict[str, dict]) -> dict:
    """Every candidate's record per model, the one of the lowest validation loss marked chosen."""
    base = setting_key(num_quadrants, config.seed)
    found = {}
    for model in models:
        candidates = {}
        for slug, schedule in CANDIDATES.items():
            record = outputs[f"search/{base}/{model}/{slug}"]
            fitted = schedule.within(config.profile.max_epochs)
            record_of_schedule = schedule_record(fitted, config.profile)
            if model == "hybrid":  # its KL weight is annealed as in the table, whatever the schedule
                record_of_schedule["kl_warmup_epochs"] = RECIPE.within(config.profile.max_epochs).kl_warmup_epochs
            candidates[slug] = {
                "schedule": record_of_schedule, "table": schedule == table_schedule(model),
                "epochs_run": record["epochs_run"], "best_epoch": record["best_epoch"],
                "epoch_limit": fitted.epoch_limit(config.profile.max_epochs),
                "best_val_loss": record["best_val_loss"], "train_seconds": record["made_seconds"],
                "test": record["test"]}
        found[model] = {"chosen": _choose(candidates), "table": next(s for s, c in candidates.items() if c["table"]),
                        "candidates": candidates}
    baseline = found["baseline"]["chosen"] if "baseline" in found else None
    return {"format": 1, "profile": config.profile.name, "quadrants": num_quadrants, "seed": config.seed,
            "criterion": "lowest loss of the model's own objective on the validation split",
            "test_samples": max(config.profile.is_samples), "baseline_of_the_others": baseline,
            "models": found, **provenance()}


def run_recipe_search(config: RunConfig, num_quadrants: int = 1, models=MODELS, *,
                      engine: Engine | None = None, progress: bool = True, log=print) -> dict:
    """Train (or load) every candidate, choose per model, write the two files to the results folder."""
    out, engine = ensure_writable_folder(config.results_dir), engine or Engine()
    outputs = engine.run(baseline_tasks(config, num_quadrants), progress=progress, log=log)
    base = setting_key(num_quadrants, config.seed)
    chosen = _choose({slug: outputs[f"search/{base}/baseline/{slug}"] for slug in CANDIDATES})
    outputs.update(engine.run(model_tasks(config, num_quadrants, chosen, models), progress=progress, log=log))
    search = assemble(config, num_quadrants, ("baseline", *(m for m in models if m != "baseline")), outputs)
    atomic_write_json(search, out / RESULTS_FILE)
    atomic_write_text(render_recipe_search_markdown(search), out / RESULTS_FILE.replace(".json", ".md"))
    return search


def load_recipe_search(results_dir) -> dict:
    """The stored search, or one line that says how to make it."""
    return read_stored_json(Path(results_dir) / RESULTS_FILE,
                            f"`python -m cvae_lib recipe-search --profile full --out {Path(results_dir)}` "
                            f"to train every model with every candidate schedule")


def render_recipe_search_markdown(search: dict) -> str:
    """One row per model and schedule: epochs, minutes, validation loss (what chooses) and the test number."""
    rows = []
    for model, found in search["models"].items():
        for slug, candidate in found["candidates"].items():
            marks = [word for word, yes in (("table's", slug == found["table"]), ("chosen", slug == found["chosen"]))
                     if yes]
            stop = "end" if candidate["epochs_run"] >= candidate["epoch_limit"] else "plateau"
            rows.append([MODEL_NAMES[model], schedule_text(candidate["schedule"])
                         + (f" **({', '.join(marks)})**" if marks else ""),
                         f"{candidate['epochs_run']} ({stop})", f"{candidate['train_seconds'] / 60:.1f}",
                         f"{candidate['best_val_loss']:.2f}", f"{candidate['test']:.2f}"])
    q = search["quadrants"]
    tests = "; ".join(f"{MODEL_NAMES[m]}: {TEST_LABELS[m]}" for m in search["models"])
    return (markdown_table(["model", "schedule", "epochs (stop)", "minutes", "validation loss", "test"], rows,
                           "llrrrr")
            + f"\n\n{q} input quadrant{'s' if q > 1 else ''}, seed {search['seed']}, profile `{search['profile']}`; "
            f"nats per image, lower is better. Each model is chosen on its own loss on the validation split "
            f"(the baseline's cross-entropy, the GSNN's and the hybrid's objectives); the test column ({tests}; "
            f"S = {search['test_samples']}) is reported, not used to choose. "
            "“Table's” marks the schedule the table was trained with when the search ran, “chosen” the one of "
            "the lowest validation loss. A stop at the end is the schedule's last epoch; a plateau, early "
            "stopping on the validation loss.\n")
