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
from .protocol_report import listed
from .recipe import RECIPE, schedule_record
from .report import MODEL_NAMES, markdown_table, schedule_text, trained_recipes
from .results import best_importance_sampling, provenance, t_interval
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


def baseline_tasks(config: RunConfig, num_quadrants: int) -> list[Task]:
    """The first round: the baseline with every candidate schedule."""
    return [_task(config, num_quadrants, "baseline", slug, slug) for slug in CANDIDATES]


def model_tasks(config: RunConfig, num_quadrants: int, baseline_slug: str, models=MODELS) -> list[Task]:
    """The second round: the GSNN and the hybrid with every candidate schedule, on the baseline the
    first round chose (its task first: it loads), so that they are searched on the baseline they would
    be trained on."""
    tasks = [_task(config, num_quadrants, "baseline", baseline_slug, baseline_slug)]
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
            "A stop at the end is the schedule's last epoch; a plateau, early stopping on the validation loss.\n")


def search_summary(search: dict) -> str:
    """What the search found, per model, in words (chapter 5): the schedule chosen on validation
    against the table's, and both on the test set."""
    sentences = []
    for model, found in search["models"].items():
        candidates, chosen, table = found["candidates"], found["chosen"], found["table"]
        name = MODEL_NAMES[model]
        ranked = sorted(candidates, key=lambda slug: candidates[slug]["best_val_loss"])
        if chosen == table:
            runner_up = candidates[ranked[1]]
            sentences.append(f"the {name} keeps the table's schedule ({schedule_text(candidates[table]['schedule'])}"
                             f"): its validation loss, {candidates[table]['best_val_loss']:.2f} nats, is the lowest of "
                             f"the {len(candidates)}, {runner_up['best_val_loss'] - candidates[table]['best_val_loss']:.2f}"
                             f" below the next")
        else:
            gain = candidates[table]["best_val_loss"] - candidates[chosen]["best_val_loss"]
            test_change = candidates[chosen]["test"] - candidates[table]["test"]
            sentences.append(f"the {name} would train with {schedule_text(candidates[chosen]['schedule'])}: "
                             f"{gain:.2f} nats below the table's schedule on validation, and "
                             f"{abs(test_change):.2f} nats {'lower' if test_change < 0 else 'higher'} on the test set "
                             f"({candidates[chosen]['test']:.2f} against {candidates[table]['test']:.2f})")
    return "; ".join(sentences)[0].upper() + "; ".join(sentences)[1:] + "."


def search_consequence(search: dict, results: dict) -> str:
    """What the search means for the table in ``results`` (``cll.json``): whether its models were
    trained with the schedules the search chooses, and if not, what the chosen ones change on the test
    set of the searched setting and seed."""
    if results.get("profile") != search["profile"]:  # a smoke run's table: shorter schedules, less data
        return (f"The table above is a {results.get('profile')}-profile run; the search and what it changes "
                f"concern the {search['profile']} profile's table.")
    trained = trained_recipes(results)

    def follows(pick: str) -> bool:  # every model of the table trained with the schedule marked ``pick``
        return trained is not None and all(_same_schedule(trained[model], found["candidates"][found[pick]]["schedule"])
                                           for model, found in search["models"].items())

    if follows("chosen"):
        if any(found["chosen"] != found["table"] for found in search["models"].values()):
            return ("The table above trains every model with the schedule its own search chose (marked "
                    "“chosen”); those marked “table's” are the schedules of the table before this search.")
        return "Every model of the table trains with the schedule its own search chooses."
    if not follows("table"):
        return "The table above was trained with other schedules than this search started from; run both again."
    moved = {model: found for model, found in search["models"].items() if found["chosen"] != found["table"]}
    changes = []
    for model, found in moved.items():
        chosen, table = found["candidates"][found["chosen"]], found["candidates"][found["table"]]
        change = chosen["test"] - table["test"]
        on = (" (both on the chosen baseline, not the table's)" if model != "baseline"
              and search["models"].get("baseline", {}).get("chosen") != search["models"].get("baseline", {}).get("table")
              else "")
        changes.append(f"the {MODEL_NAMES[model]}'s {change:+.2f} nats ({table['test']:.2f} to {chosen['test']:.2f})"
                       .replace("-", "−") + on)
    q = search["quadrants"]
    sentence = (f"The table above was trained with the schedules marked “table's”, before this search. On the "
                f"searched setting ({q} input quadrant{'s' if q > 1 else ''}, seed {search['seed']}), the chosen "
                f"schedules change the test numbers by: {'; '.join(changes)}.")
    if "baseline" in moved:
        sentence += (" A better baseline also changes the CVAE, whose prior network reads the baseline's guess: "
                     "the table's CVAE, GSNN and hybrid would have to be trained again on it, and until they are, "
                     "the gap between the baseline and the CVAE above holds for the table's baseline only.")
    return sentence


def _same_schedule(trained: dict, candidate: dict) -> bool:
    return all(trained[key] == candidate[key] for key in ("lr", "batch_size", "warmup_epochs", "cosine_epochs"))



def retraining_summary(before: dict, after: dict) -> str:
    """What training the table again on the chosen schedules changed (``before`` and ``after``: two
    ``cll.json``): each model's test number, seed against the same seed, with a 95% interval of the
    mean change (Student's t) where both tables share two or more seeds."""
    seeds = [seed for seed in after["seeds"] if seed in before["seeds"]]
    if not seeds:
        raise ValueError("the two tables share no seed: train the same seeds on both schedules to compare them")
    quadrants = [str(q) for q in after["quadrants"] if q in before["quadrants"]]

    def changes(key: str) -> list[list[float]]:  # per setting, per shared seed: after − before
        def value(table: dict, q: str, seed: int) -> float:
            return table["table"][q][key]["per_seed"][table["seeds"].index(seed)]
        return [[value(after, q, s) - value(before, q, s) for s in seeds] for q in quadrants]

    row = after["table"][quadrants[0]]
    keys = {"baseline": "baseline_nll", "cvae": best_importance_sampling(k for k in row if k.startswith("cvae_is")).key}
    keys.update({k.split("_")[0]: k for k in row if k.startswith(("gsnn", "hybrid")) and k in before["table"][quadrants[0]]})
    verdicts, parts = {}, []
    for model, key in keys.items():
        per_setting = changes(key)
        means = [sum(values) / len(values) for values in per_setting]
        intervals = [t_interval(values) for values in per_setting]
        shown = ", ".join(f"{mean:+.2f}" + (f" ({interval[0]:+.2f} to {interval[1]:+.2f})" if interval else "")
                          for mean, interval in zip(means, intervals))
        parts.append(f"the {MODEL_NAMES[model]}'s by {shown}".replace("-", "−"))
        verdicts[model] = ["lower" if interval and interval[1] < 0 else "higher" if interval and interval[0] > 0
                           else "unclear" for interval in intervals]
    whose = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {listed(map(str, seeds))}"
    interval = ", 95% intervals over the seeds, Student's t" if len(seeds) > 1 else ""
    text = (f"Trained on the chosen schedules, the test numbers change (nats, each seed against the same seed of "
            f"the table before the search: {whose}; with {listed(quadrants)} input "
            f"quadrants{interval}): " + "; ".join(parts) + ".")
    if len(seeds) < 2:
        return text + " One seed cannot tell a change from the spread between seeds."
    if "lower" in verdicts["baseline"] and "lower" not in verdicts["cvae"]:
        text += (" The baseline's better guess did not make the CVAE better in any setting, although its prior "
                 "network reads that guess.")
    return text
