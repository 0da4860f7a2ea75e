"""Results as Markdown: the one table builder, the CLL and quality tables, and the README block.

Everything here renders what :mod:`cvae_lib.results` stored; nothing computes a number.
"""
from __future__ import annotations

import os
from pathlib import Path

from .recipe import ABLATION_CHOICE, FIRST_EDITION, RECIPE, model_recipes
from .results import QUALITY_KEYS, Estimator, best_importance_sampling
from .settings import PROFILES
from .util import atomic_write_text, check_finite


def markdown_table(header: list[str], rows: list[list[str]], align: str) -> str:
    """A Markdown table; ``align`` has one letter per column: ``l`` (left) or ``r`` (right)."""
    if len(align) != len(header) or any(len(row) != len(header) for row in rows):
        raise ValueError("every row and the alignment need one entry per column")

    def line(cells):
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"

    rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align)
    return "\n".join([line(header), rule, *map(line, rows)])


def quadrant_header(quadrants) -> list[str]:
    return [f"{q} quadrant{'s' if str(q) != '1' else ''}" for q in quadrants]


def mean_std(entry: dict, digits: int, many: bool) -> str:
    """``mean ± std`` over seeds, or the mean alone for one seed."""
    return f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f}" if many else f"{entry['mean']:.{digits}f}"


def render_table_markdown(results: dict) -> str:
    """The CLL table as Markdown: one row per estimator, one column per quadrant setting."""
    quadrants = [str(q) for q in results["quadrants"]]
    many = len(results["seeds"]) > 1
    rows = [[row_label(key, results)] + [mean_std(results["table"][q][key], 2, many) for q in quadrants]
            for key in results["table"][quadrants[0]]]
    if "gap" in results:
        samples = Estimator.from_key(results["gap"][quadrants[0]]["estimator"]).samples
        for unit, label, digits in (("nats_per_image", "per image", 2),
                                    ("nats_per_output_pixel", "per output pixel", 4)):
            rows.append([f"gap: baseline − CVAE IS (S = {samples}), {label}"]
                        + [mean_std(results["gap"][q][unit], digits, many) for q in quadrants])
    rows += floor_rows(results, quadrants, many)
    table = markdown_table(["negative CLL (nats per image)", *quadrant_header(quadrants)], rows,
                           "l" + "r" * len(quadrants))
    seeds = ", ".join(map(str, results["seeds"]))
    note = (f"\nProfile `{results['profile']}`, seed{'s' if many else ''} {seeds}"
            f"{' (mean ± standard deviation over seeds)' if many else ''}; "
            f"{results['test_images']} test images. Lower is better.\n")
    return table + "\n" + note


FLOOR_LABEL = "floor: the Bernoulli entropy of the grey-scale targets (no model's exact negative CLL is below it)"


def floor_rows(results: dict, quadrants: list[str], many: bool) -> list[list[str]]:
    """The floor of the grey-scale targets, and how far above it each model's best estimate lies."""
    if "floor" not in results:
        return []
    floor = results["floor"]
    table = results["table"]
    rows = [[FLOOR_LABEL] + [f"{floor[q]:.2f}" for q in quadrants]]
    best_is = best_importance_sampling(k for k in table[quadrants[0]] if k.startswith("cvae_is")).key
    for key in ("baseline_nll", best_is, *(k for k in table[quadrants[0]] if k.startswith(("gsnn", "hybrid")))):
        rows.append([f"excess over the floor: {row_label(key, results)}"]
                    + [mean_std({"mean": table[q][key]["mean"] - floor[q], "std": table[q][key]["std"]}, 2, many)
                       for q in quadrants])
    return rows


def row_label(key: str, results: dict) -> str:
    """A row's name in the CLL table: the estimator's label, the hybrid's with its α."""
    label = Estimator.from_key(key).label
    if Estimator.from_key(key).kind == "hybrid_is" and "hybrid_alpha" in results:
        label = label.replace("hybrid:", f"hybrid (α = {results['hybrid_alpha']:g}):")
    return label


REMEDY_ROWS = [  # (model, key of its evaluation, what the row measures)
    ("cvae", "cvae_neg_elbo", "CVAE: negative ELBO (z from q(z|x,y), as in training)"),
    ("cvae", "cvae_mc_{mc}", "CVAE: Monte Carlo from the prior, S = {mc} (z as in prediction)"),
    ("cvae", "cvae_is_{s}", "CVAE: importance sampling, S = {s}"),
    ("gsnn", "cvae_mc_{mc}", "GSNN: Monte Carlo from the prior, S = {mc}"),
    ("gsnn", "cvae_mc_{s}", "GSNN: Monte Carlo from the prior, S = {s}"),
    ("hybrid", "cvae_neg_elbo", "hybrid: negative ELBO"),
    ("hybrid", "cvae_mc_{mc}", "hybrid: Monte Carlo from the prior, S = {mc}"),
    ("hybrid", "cvae_is_{s}", "hybrid: importance sampling, S = {s}"),
]


def remedy_numbers(results: dict, model: str, key: str, q: str) -> list[float]:
    """One number per seed: ``key`` of the CVAE's evaluation, or of the GSNN's or the hybrid's."""
    runs = [run for run in results["runs"] if str(run["quadrants"]) == q]
    return [(run["numbers"] if model == "cvae" else run["remedies"][model]["numbers"])[key] for run in runs]


def render_remedies_markdown(results: dict) -> str:
    """The train/test gap and the paper's two remedies: each model scored with z as in training
    (the negative ELBO, where there is a recognition network) and as in prediction (from the prior)."""
    import statistics

    quadrants = [str(q) for q in results["quadrants"]]
    many = len(results["seeds"]) > 1
    settings = results["profile_settings"]
    sizes = {"mc": max(settings["mc_samples"]), "s": max(settings["is_samples"])}
    rows = []
    for model, key, label in REMEDY_ROWS:
        key, label = key.format(**sizes), label.format(**sizes)
        cells = []
        for q in quadrants:
            values = remedy_numbers(results, model, key, q)
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(mean_std({"mean": statistics.fmean(values), "std": std}, 2, many))
        rows.append([label.replace("|", "\\|"), *cells])
    rows += floor_rows(results, quadrants, many)
    table = markdown_table(["negative CLL (nats per image)", *quadrant_header(quadrants)], rows,
                           "l" + "r" * len(quadrants))
    return table + (f"\n\nHybrid: α = {results['hybrid_alpha']:g}. Seeds {', '.join(map(str, results['seeds']))}"
                    f"{' (mean ± standard deviation)' if many else ''}; lower is better.\n")


def render_quality_markdown(results: dict) -> str:
    """Chapter 9's completion measures as Markdown, one column per quadrant setting."""
    quadrants = [str(q) for q in results["quadrants"]]
    many = len(results["seeds"]) > 1
    rows = [[label] + [mean_std(results["quality"][q][key], 3, many) for q in quadrants]
            for key, label in QUALITY_KEYS.items()]
    table = markdown_table(["completion measure (test set)", *quadrant_header(quadrants)], rows,
                           "l" + "r" * len(quadrants))
    classifier = results["classifier"]
    note = (f"\nMeasured with a digit classifier of test accuracy {100 * classifier['test_accuracy']:.2f}% "
            f"on whole digits; {'mean ± standard deviation over seeds ' if many else 'seed '}"
            f"{', '.join(map(str, results['seeds']))}. Accuracies are fractions of test images.\n")
    return table + "\n" + note


MODEL_NAMES = {"baseline": "baseline", "cvae": "CVAE", "gsnn": "GSNN", "hybrid": "hybrid"}


def epochs_run(run: dict, model: str) -> int:
    """How many epochs a model of one run of ``cll.json`` trained."""
    if model in ("baseline", "cvae"):
        return run[f"epochs_{model}"]
    return run["remedies"][model]["epochs"]


def schedule_text(recipe: dict) -> str:
    """A model's recipe of ``cll.json`` in words."""
    rate = f"Adam, rate {recipe['lr']:g}"
    if recipe["warmup_epochs"]:
        rate += f" after a {recipe['warmup_epochs']:g}-epoch warm-up"
    rate += (f", cosine to 0 over {recipe['cosine_epochs']} epochs" if recipe["cosine_epochs"] else ", constant")
    if recipe.get("kl_warmup_epochs"):
        rate += f", KL weight annealed over {recipe['kl_warmup_epochs']}"
    return f"{rate}; batch {recipe['batch_size']}"


def trained_recipes(results: dict) -> dict | None:
    """Each model's recipe as the table in ``results`` was trained: its record, or, in a file made
    before each model's recipe was stored, the recipe it names as :mod:`cvae_lib.recipe` defines it
    (None where it names another)."""
    if results.get("recipes"):
        return results["recipes"]
    named = {recipe.name: recipe for recipe in (RECIPE, ABLATION_CHOICE)}
    if results.get("recipe") in named and results["profile"] in PROFILES:
        return model_recipes(PROFILES[results["profile"]], named[results["recipe"]])
    return None


def render_training_markdown(results: dict) -> str:
    """How each model of the table was trained and why it stopped (``cll.json``'s "recipes" and the
    epochs of every run): at the end of its schedule, or on a plateau of its validation objective."""
    recipes = trained_recipes(results)
    source = "" if results.get("recipes") else (
        " The schedules are those of the recipe this `cll.json` names, as `cvae_lib.recipe` defines "
        "it (the file predates the record of each model's recipe).")
    if not recipes:
        return ""
    rows = []
    models = [model for model in MODEL_NAMES if model in recipes
              and (model in ("baseline", "cvae") or all(model in run.get("remedies", {}) for run in results["runs"]))]
    for model in models:
        recipe = recipes[model]
        last = recipe["cosine_epochs"] or recipe["max_epochs"]  # where the schedule ends
        epochs = [epochs_run(run, model) for run in results["runs"]]
        plateau = sum(e < last for e in epochs)
        ended = (f"plateau in {plateau} of {len(epochs)}" if plateau
                 else f"schedule's end in all {len(epochs)}")
        if 0 < plateau < len(epochs):
            ended += f", schedule's end in {len(epochs) - plateau}"
        rows.append([MODEL_NAMES[model], recipe["objective"], schedule_text(recipe),
                     f"{min(epochs)}–{max(epochs)}" if min(epochs) < max(epochs) else str(epochs[0]), ended])
    patience = {recipes[model]["patience"] for model in models}
    table = markdown_table(["model", "loss", "schedule", "epochs run", "stopped by"], rows, "lllrl")
    return (table + f"\n\nEvery run of the table (settings × seeds) counted; a plateau: {', '.join(map(str, patience))} "
            f"epochs without a lower loss on the validation split, the epoch of the lowest kept.{source}\n")


def reproduction_time_sentence(results: dict) -> str:
    """How long one seed of the stored run took, in words (README and introduction)."""
    minutes = results["seconds_per_seed"] / 60
    by_seed = results.get("seconds_by_seed", {})
    if len(by_seed) > 1:
        detail = " (" + ", ".join(f"seed {seed}: {seconds / 60:.0f}" for seed, seconds in by_seed.items()) + ")"
        took = f"took {minutes:.0f} minutes on average{detail}"
    else:
        took = f"took {minutes:.0f} minutes"
    sentence = (f"One seed of this run (1, 2 and 3 given quadrants, each with its baseline, CVAE and evaluation) "
                f"{took} on {results['machine']}.")
    remedies = results.get("remedy_seconds_per_seed")
    if remedies:
        sentence += (f" The paper's two remedies add, per seed, {remedies['gsnn'] / 60:.0f} minutes for the GSNN "
                     f"and {remedies['hybrid'] / 60:.0f} for the hybrid (training and evaluation).")
    return sentence


def readme_markers(block: str) -> tuple[str, str]:
    """The two lines around a block of README.md that ``update-readme`` writes."""
    return (f"<!-- {block}:start (written by `python -m cvae_lib update-readme`; do not edit) -->",
            f"<!-- {block}:end -->")


README_START, README_END = readme_markers("cll-table")


# The project's targets for the published table (mean over seeds, nats per image; seconds per seed).
CLL_TARGETS = {"1": 64.0, "2": 45.0, "3": 21.0}
SECONDS_PER_SEED_TARGET = 1200.0


def targets_sentence(results: dict) -> str:
    """Which targets the stored table meets: the CVAE's best importance-sampled estimate against
    CLL_TARGETS, and the time of one seed against SECONDS_PER_SEED_TARGET."""
    key = results["gap"][str(results["quadrants"][0])]["estimator"]
    parts = []
    for q in map(str, results["quadrants"]):
        value, target = results["table"][q][key]["mean"], CLL_TARGETS[q]
        parts.append(f"{value:.2f} against ≤ {target:g} with {q} quadrant{'s' if q != '1' else ''} "
                     f"({'met' if value <= target else 'missed'})")
    seconds = results["seconds_per_seed"]
    return (f"Targets: {Estimator.from_key(key).label}, " + "; ".join(parts)
            + f"; one seed in {seconds:.0f} s against ≤ {SECONDS_PER_SEED_TARGET:.0f} s "
            f"({'met' if seconds <= SECONDS_PER_SEED_TARGET else 'missed'}).")


def readme_results_section(results: dict) -> str:
    """The block of README.md between the markers: the table, how it was made, the targets."""
    recipe = results.get("recipe", FIRST_EDITION.name)  # results made before recipes were recorded
    training = render_training_markdown(results)
    return (f"{README_START}\n{render_table_markdown(results)}\n"
            f"{reproduction_time_sentence(results)} Training recipe: “{recipe}”.\n\n"
            + (f"How each model was trained:\n\n{training}\n" if training else "")
            + f"{targets_sentence(results)}\n{README_END}")


def update_readme(results: dict, readme: str | os.PathLike = "README.md") -> bool:
    """Replace the results block of the README with one rendered from ``results``.

    Returns True when the file changed. The README must already hold the two markers.
    """
    check_finite(results, "the results")
    section = readme_results_section(results)
    return replace_readme_block("cll-table", section[len(README_START) + 1:-len(README_END) - 1], readme)


def replace_readme_block(block: str, content: str, readme: str | os.PathLike = "README.md") -> bool:
    """Put ``content`` between the markers of ``block`` in the README; True when the file changed."""
    start, end = readme_markers(block)
    readme = Path(readme)
    text = readme.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no {block} block; add the lines {start!r} and {end!r}")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    new = f"{before}{start}\n{content.strip()}\n{end}{after}"
    if new != text:
        atomic_write_text(new, readme)
    return new != text
