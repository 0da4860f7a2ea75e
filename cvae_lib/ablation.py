"""Which training recipe for the CVAE? The comparison behind :data:`cvae_lib.recipe.ABLATION_CHOICE`.

For one setting and seed, every recipe of :data:`VARIANTS` trains (or loads) a baseline and a CVAE;
the table gives the epochs and seconds each took, the best validation loss (the negative ELBO on
the validation split: what the choice of recipe is made on, never the test set) and the test-set
estimates of the published table. Two variants continue a trained CVAE at a lower rate (a step
schedule). ``python -m cvae_lib ablation`` writes ``ablation.json`` and ``ablation.md``.

The recipe it chose, :data:`~cvae_lib.recipe.ABLATION_CHOICE`, gave the published recipe its CVAE;
the baseline every variant here trains on (the first edition's) was later replaced in the table by
the one the recipe search chose (:mod:`cvae_lib.recipe_search`), so the chosen variant is a model of
its own, not the table's. The variants' checkpoints lie in ``ablation/`` beside the published models
of that seed; a baseline that one of the search's candidates also trains is that candidate's
checkpoint (trained once, by its task), and a variant whose recipe is the table's is the table's model.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from .engine import Engine
from .recipe import ABLATION_CHOICE, FIRST_EDITION, RECIPE, Recipe
from .recipe_search import baseline_candidate, baseline_task
from .report import markdown_table
from .results import Estimator, best_importance_sampling, provenance
from .settings import RunConfig
from .tasks import Task, merge, setting_key
from .train import Schedule
from .util import atomic_write_json, atomic_write_text, ensure_writable_folder

SECOND_LR = 1e-4  # the step schedule's second rate


@dataclasses.dataclass(frozen=True)
class Variant:
    slug: str  # names its checkpoints
    recipe: Recipe
    continue_at: float | None = None  # a second stage at this rate (a step schedule)


def _cosine(lr: float, epochs: int, warmup: int = 1, batch_size: int | None = None,
            kl_warmup: int = 0) -> Variant:
    words = f"CVAE: {'warm-up 1 epoch, ' if warmup else ''}cosine from {lr:g} to 0 over {epochs} epochs"
    if batch_size:
        words += f", batches of {batch_size}"
    if kl_warmup:
        words += f", KL weight annealed over {kl_warmup} epochs"
    slug = (f"cosine{epochs}_lr{lr:g}" + (f"_b{batch_size}" if batch_size else "")
            + (f"_kl{kl_warmup}" if kl_warmup else ""))
    schedule = Schedule(lr, batch_size=batch_size, warmup_epochs=warmup, cosine_epochs=epochs)
    return Variant(slug, Recipe(words, cvae=schedule, kl_warmup_epochs=kl_warmup))


KL_ANNEALING = dataclasses.replace(FIRST_EDITION, name="KL weight annealed over 10 epochs", kl_warmup_epochs=10)
VARIANTS = [
    Variant("first_edition", FIRST_EDITION),
    Variant("first_edition_step", FIRST_EDITION, continue_at=SECOND_LR),
    Variant("kl_annealing", KL_ANNEALING),
    Variant("kl_annealing_step", KL_ANNEALING, continue_at=SECOND_LR),
    Variant("residual", dataclasses.replace(
        FIRST_EDITION, name="residual generation network (added to the baseline's logits)", residual=True)),
    _cosine(1e-3, 50, warmup=0),
    _cosine(2e-3, 20),
    _cosine(2e-3, 20, batch_size=512),
    _cosine(2e-3, 40),
    _cosine(2e-3, 50),
    _cosine(2e-3, 50, kl_warmup=10),
    _cosine(3e-3, 40),
]


def training_ablation(config: RunConfig, num_quadrants: int = 1, *, variants=None, out=None,
                      progress: bool = True, log=None, engine: Engine | None = None) -> dict:
    """Train-or-load every variant for one setting and seed, evaluate it, write the files to
    ``out`` (default: the configuration's results folder)."""
    variants = with_chosen_recipe(list(variants) if variants is not None else VARIANTS)
    out = ensure_writable_folder(out if out is not None else config.results_dir)
    tasks = ablation_tasks(config, num_quadrants, variants)
    outputs = (engine or Engine()).run(tasks, progress=progress, log=log or (lambda _: None))
    return write_ablation_results(config, num_quadrants, variants, outputs, out)


def write_ablation_results(config: RunConfig, num_quadrants: int, variants, outputs: dict[str, dict],
                           out: Path) -> dict:
    """``ablation.json`` and ``ablation.md`` from the finished tasks of :func:`ablation_tasks`."""
    results = {"profile": config.profile.name, "quadrants": num_quadrants, "seed": config.seed,
               "chosen_recipe": ABLATION_CHOICE.name, "variants": {}, **provenance()}
    base = setting_key(num_quadrants, config.seed)
    for variant in with_chosen_recipe(list(variants)):
        if variant.recipe == RECIPE and not variant.continue_at:  # the table's own CVAE
            cvae, evaluation = outputs[f"{base}/cvae"], outputs[f"{base}/cvae/evaluate"]
            baseline, first = outputs[f"{base}/baseline"], None
        else:
            cvae, evaluation = outputs[f"ablation/{base}/{variant.slug}"], outputs[f"ablation/{base}/{variant.slug}/evaluate"]
            baseline, first = cvae["baseline"], cvae["first_stage"]
        epochs = cvae["epochs_run"] + (first["epochs_run"] if first else 0)
        seconds = baseline["made_seconds"] + cvae["made_seconds"] + (first["made_seconds"] if first else 0)
        name = variant.recipe.name + (f", then {variant.continue_at:g} (step schedule)" if variant.continue_at else "")
        results["variants"][name] = {
            "slug": variant.slug, "numbers": evaluation["numbers"], "epochs": epochs,
            "baseline_epochs": baseline["epochs_run"], "train_seconds": seconds,
            "best_val_loss": cvae["best_val_loss"],
            "chosen": variant.recipe == ABLATION_CHOICE and not variant.continue_at}
    atomic_write_json(results, out / "ablation.json")
    atomic_write_text(render_ablation_markdown(results), out / "ablation.md")
    return results


def with_chosen_recipe(variants: list[Variant]) -> list[Variant]:
    """The variants, with the ablation's chosen recipe among them (first) if it is not already."""
    if any(v.recipe == ABLATION_CHOICE and not v.continue_at for v in variants):
        return variants
    return [Variant("chosen", ABLATION_CHOICE), *variants]


def ablation_tasks(config: RunConfig, num_quadrants: int, variants) -> list[Task]:
    """Every recipe of the ablation for one setting and seed: its models, then its evaluation. A
    recipe that is the table's has the table's own tasks (same keys), and a baseline that the table
    or one of the recipe search's candidates trains is that task's, so a full run makes each once."""
    base, tasks, slugs = setting_key(num_quadrants, config.seed), [], set()
    for variant in variants:
        shared = None  # the recipe search's task of the same baseline, where one trains it
        if variant.recipe.baseline != RECIPE.baseline and (slug := baseline_candidate(variant.recipe.baseline)):
            shared = baseline_task(config, num_quadrants, slug)
        if variant.continue_at:
            first = variant.slug.removesuffix("_step")
            if first not in slugs:
                raise ValueError(f"variant {variant.slug!r} continues {first!r}, which must come before it")
            needs = (f"ablation/{base}/{first}",)
        elif variant.recipe == RECIPE:
            tasks += [Task(f"{base}/baseline", "baseline", config, (("quadrants", num_quadrants),)),
                      Task(f"{base}/cvae", "model", config, (("quadrants", num_quadrants), ("objective", "cvae")),
                           (f"{base}/baseline",)),
                      Task(f"{base}/cvae/evaluate", "evaluate", config,
                           (("quadrants", num_quadrants), ("objective", "cvae")), (f"{base}/cvae",))]
            slugs.add(variant.slug)
            continue
        elif variant.recipe.baseline == RECIPE.baseline:  # waits for the table's baseline, not trained twice
            needs = (f"{base}/baseline",)
            tasks.append(Task(f"{base}/baseline", "baseline", config, (("quadrants", num_quadrants),)))
        elif shared is not None:  # likewise for the search's
            needs = (shared.key,)
            tasks.append(shared)
        else:
            needs = ()
        key = f"ablation/{base}/{variant.slug}"
        options = (("quadrants", num_quadrants), ("variant", variant)) + (
            (("baseline_checkpoint", shared.settings["checkpoint"]),) if shared is not None else ())
        tasks += [Task(key, "variant", config, options, needs),
                  Task(f"{key}/evaluate", "variant_evaluate", config, options, (key,))]
        slugs.add(variant.slug)
    return merge(tasks)


def render_ablation_markdown(results: dict) -> str:
    names = list(results["variants"])
    keys = list(results["variants"][names[0]]["numbers"])
    header = (["training recipe", "epochs (baseline, CVAE)", "minutes", "validation −ELBO"]
              + ["test: " + Estimator.from_key(k).label.replace("CVAE: ", "") for k in keys])
    rows = []
    for name in names:
        variant = results["variants"][name]
        rows.append([name + (" **(chosen)**" if variant["chosen"] else ""),
                     f"{variant['baseline_epochs']}, {variant['epochs']}", f"{variant['train_seconds'] / 60:.1f}",
                     f"{variant['best_val_loss']:.2f}"] + [f"{variant['numbers'][k]:.2f}" for k in keys])
    q = results["quadrants"]
    return (markdown_table(header, rows, "llrr" + "r" * len(keys))
            + f"\n\n{q} input quadrant{'s' if q > 1 else ''}, seed {results['seed']}, profile "
            f"`{results['profile']}`; nats per image, lower is better. The recipe is chosen on the validation "
            f"split; the test columns are reported, not used to choose.\n")


def ablation_summary(results: dict) -> str:
    """The ablation's headline in two sentences (the evaluation chapter and the README): which
    recipe reaches the lowest validation loss, at what cost in epochs and minutes, and the test
    estimate by importance sampling with the largest S, the chosen recipe against the first edition's."""
    variants = list(results["variants"].items())
    estimator = best_importance_sampling(variants[0][1]["numbers"])
    ranked = sorted(variants, key=lambda item: item[1]["best_val_loss"])
    (best_name, best), (next_name, runner_up) = ranked[0], ranked[1]
    chosen_name, chosen = next((name, v) for name, v in variants if v["chosen"])
    first = next((v for _, v in variants if v["slug"] == "first_edition"), chosen)
    q = results["quadrants"]

    def cost(variant):
        return (f"{variant['epochs']} CVAE epochs and {variant['train_seconds'] / 60:.0f} minutes "
                f"with the baseline")

    if best["chosen"]:
        who = (f"the recipe the table's CVAE trains with (“{chosen_name}”) reaches the lowest validation loss of "
               f"the {len(variants)} recipes tried, {best['best_val_loss']:.2f} nats (next: “{next_name}”, "
               f"{runner_up['best_val_loss']:.2f})")
    else:
        who = (f"“{best_name}” reaches the lowest validation loss of the {len(variants)} recipes tried, "
               f"{best['best_val_loss']:.2f} nats, not the recipe the table's CVAE trains with (“{chosen_name}”, "
               f"{chosen['best_val_loss']:.2f})")
    method = estimator.label.replace("CVAE: ", "").replace(", S = ", " with S = ")
    return (f"With {q} input quadrant{'s' if q > 1 else ''} (seed {results['seed']}), {who}; it took "
            f"{cost(chosen)}, the first edition's recipe {cost(first)}. On the test set, {method} "
            f"gives {chosen['numbers'][estimator.key]:.2f} nats with it and "
            f"{first['numbers'][estimator.key]:.2f} with the first edition's; `results/ablation.md` has "
            f"every recipe's numbers." + (" Every recipe here trains on the first edition's baseline, "
                                         "not on the table's." if _on_first_edition_baseline(results) else ""))


def _on_first_edition_baseline(results: dict) -> bool:
    """Whether every variant of a stored ablation trained the first edition's baseline (where the table
    trains another since the recipe search)."""
    known = {v.slug: v.recipe for v in with_chosen_recipe(list(VARIANTS))}
    return (RECIPE.baseline != FIRST_EDITION.baseline
            and all(known.get(v["slug"]) is not None and known[v["slug"]].baseline == FIRST_EDITION.baseline
                    for v in results["variants"].values()))
