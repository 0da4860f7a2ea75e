"""The table under the binarised protocol beside the grey-scale one (chapter 5): the CVAE's advantage
over the baseline under each, and whether the models rank the same."""
from __future__ import annotations

from .report import MODEL_NAMES, quadrant_header, render_table_markdown
from .results import best_importance_sampling, t_interval


def listed(items) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def model_rows(row: dict) -> dict[str, str]:
    """Each model's row of the table: the baseline's exact CLL, the best importance-sampled estimate
    of the CVAE, the remedies' rows."""
    rows = {"baseline": "baseline_nll",
            "CVAE": best_importance_sampling(k for k in row if k.startswith("cvae_is")).key}
    rows.update({MODEL_NAMES[k.split("_")[0]]: k for k in row if k.startswith(("gsnn", "hybrid"))})
    return rows


def model_ranking(results: dict, q: str) -> list[str]:
    """The table's models from the lowest negative CLL to the highest, each by its row of the table."""
    row = results["table"][q]
    rows = model_rows(row)
    return sorted(rows, key=lambda model: row[rows[model]]["mean"])


def _scored(results: dict, q: str) -> list[str]:
    """Each model of the ranking with its number, so that a reader sees how near a swap is."""
    row = results["table"][q]
    rows = model_rows(row)
    return [f"{model} {row[rows[model]]['mean']:.2f}" for model in model_ranking(results, q)]


def _swapped(binarised: dict, grey: dict, q: str) -> list[tuple[str, str]]:
    """The pairs of models in the opposite order in the two tables: (ahead on binary targets, behind)."""
    here, there = model_ranking(binarised, q), model_ranking(grey, q)
    return [(a, b) for i, a in enumerate(here) for b in here[i + 1:] if there.index(a) > there.index(b)]


def _lead(results: dict, q: str, ahead: str, behind: str) -> str:
    """``0.06 nats (95% interval −0.07 to 0.19 over the 3 seeds, which includes 0: …)``: by how much
    ``ahead`` scores better than ``behind``, paired by seed; the mean alone where seeds are not stored."""
    row = results["table"][q]
    rows = model_rows(row)
    first, second = row[rows[behind]], row[rows[ahead]]
    lead = first["mean"] - second["mean"]
    interval = (t_interval([a - b for a, b in zip(first["per_seed"], second["per_seed"])])
                if "per_seed" in first and "per_seed" in second else None)
    if interval is None:
        return f"{lead:.2f} nats"
    low, high = interval
    unsure = ", which includes 0: the seeds do not order the two" if low <= 0 <= high else ""
    return (f"{lead:.2f} nats (95% interval {low:.2f} to {high:.2f} over the {len(first['per_seed'])} "
            f"seeds{unsure})").replace("-", "−")


def _swap(binarised: dict, grey: dict, q: str, ahead: str, behind: str) -> str:
    """How one swapped pair stands in each table."""
    return (f"here the {ahead} is ahead of the {behind} by {_lead(binarised, q, ahead, behind)}, "
            f"on grey levels behind it by {_lead(grey, q, behind, ahead)}")


def _whose(results: dict) -> str:
    seeds = [str(seed) for seed in results["seeds"]]
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"the mean over seeds {listed(seeds)}"


def protocols_sentence(binarised: dict, grey: dict) -> str:
    """The CVAE's advantage on binary targets beside the one on grey levels, and the models' ranking;
    it names the grey-scale table's seeds, and its recipe where it is not the binarised table's."""
    quadrants = [str(q) for q in binarised["quadrants"]]
    gaps = [binarised["gap"][q]["nats_per_image"] for q in quadrants]
    intervals = [t_interval(gap["per_seed"]) for gap in gaps]
    seeds = binarised["seeds"]
    where = (f" (95% intervals over the {len(seeds)} seeds, Student's t: "
             + ", ".join(f"{low:.1f} to {high:.1f}" for low, high in intervals) + ")") if all(intervals) else ""
    binary_gaps = listed(f"{gap['mean']:.1f}" for gap in gaps)
    grey_gaps = listed(f"{grey['gap'][q]['nats_per_image']['mean']:.1f}" for q in quadrants)
    grey_table = (f"{_whose(grey)}, trained with another recipe, “{grey['recipe']}”"
                  if grey.get("recipe") != binarised.get("recipe") else _whose(grey))
    differ = [q for q in quadrants if model_ranking(binarised, q) != model_ranking(grey, q)]
    if not differ:
        order = (f"the models rank as on grey levels in every setting (with {quadrant_header(quadrants[:1])[0]} "
                 f"given, from the best: {', '.join(model_ranking(binarised, quadrants[0]))})")
    else:
        order = "the models do not rank as on grey levels with " + "; with ".join(
            f"{header} (from the best, here {', '.join(_scored(binarised, q))}; on grey levels "
            f"{', '.join(_scored(grey, q))}): " + ", and ".join(_swap(binarised, grey, q, a, b) for a, b in
                                                                _swapped(binarised, grey, q))
            for q, header in zip(differ, quadrant_header(differ)))
    return (f"On binary targets ({_whose(binarised)}), the CVAE explains the test completions better than the "
            f"baseline by {binary_gaps} nats per image with {listed(quadrants)} input quadrants{where}, against "
            f"{grey_gaps} on grey levels ({grey_table}); {order}.")


def binarised_table_markdown(binarised: dict, grey: dict) -> str:
    """The table on binary targets (README and chapter 5): its rows, the recipe it was trained with, and
    what it says beside the grey-scale table."""
    return (render_table_markdown(binarised).strip() + "\n\n"
            + f"Trained with the recipe “{binarised['recipe']}”. " + protocols_sentence(binarised, grey))
