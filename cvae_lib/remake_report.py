"""The table made again with the same command on another machine, held against the published one
seed by seed (the README's "Reproducing on another machine"): how far each model's number moved
against the table's own spread over seeds, how many seeds gave the same number to the last digit, and
whether the comparisons the book draws from the table (the ranking of the models, the CVAE's lead
over the baseline) still hold.
"""
from __future__ import annotations

import statistics

from .protocol_report import listed, model_rows
from .report import markdown_table, quadrant_header


def shared_seeds(published: dict, remade: dict) -> list[int]:
    """The seeds both tables hold, in the remade table's order."""
    seeds = [seed for seed in remade["seeds"] if seed in published["seeds"]]
    if not seeds:
        raise ValueError("the two tables share no seed: make the published seeds again to compare them")
    return seeds


def _per_seed(results: dict, q: str, key: str, seeds: list[int]) -> list[float]:
    entry = results["table"][q][key]
    return [entry["per_seed"][results["seeds"].index(seed)] for seed in seeds] if "per_seed" in entry else []


def _number(value: float, signed: bool = False) -> str:
    """Two decimals, with a typographic minus."""
    return (f"{value:+.2f}" if signed else f"{value:.2f}").replace("-", "−")


def _spread(values: list[float]) -> str:
    return (f"{_number(statistics.fmean(values))} ± {_number(statistics.stdev(values))}" if len(values) > 1
            else _number(values[0]))


def _lead(results: dict, q: str, seeds: list[int]) -> float:
    """The CVAE's lead over the baseline with ``q`` input quadrants, the mean over ``seeds``."""
    gap = results["gap"][q]["nats_per_image"]["per_seed"]
    return statistics.fmean(gap[results["seeds"].index(seed)] for seed in seeds)


def remake_rows(published: dict, remade: dict) -> list[dict]:
    """One row per model and setting: both tables' numbers of the shared seeds, and the changes
    (remade − published) seed against seed."""
    seeds = shared_seeds(published, remade)
    quadrants = [str(q) for q in remade["quadrants"] if q in published["quadrants"]]
    rows = []
    for model, key in model_rows(remade["table"][quadrants[0]]).items():
        if key not in published["table"][quadrants[0]]:
            continue  # a model the published table does not have
        for q in quadrants:
            if key not in published["table"][q] or key not in remade["table"][q]:
                raise ValueError(f"{model} ({key}) is missing with {q} input quadrants in one of the tables: "
                                 f"make both tables with the same models in every setting")
            before, after = _per_seed(published, q, key, seeds), _per_seed(remade, q, key, seeds)
            if len(before) != len(seeds) or len(after) != len(seeds):
                raise ValueError(f"{model} with {q} input quadrants has no per-seed numbers in one of the tables")
            changes = [b - a for a, b in zip(before, after)]
            rows.append({"model": model, "quadrants": q, "published": before, "remade": after, "changes": changes,
                         "equal": sum(a == b for a, b in zip(before, after))})
    return rows


def remake_table_markdown(published: dict, remade: dict) -> str:
    """Each model in each setting: the two tables' numbers over the shared seeds (mean ± std), the
    mean change and the largest one in size, and how many seeds are equal to the last digit."""
    seeds = shared_seeds(published, remade)
    rows = []
    for row in remake_rows(published, remade):
        largest = max(row["changes"], key=abs)
        std = statistics.stdev(row["published"]) if len(row["published"]) > 1 else 0.0
        rows.append([row["model"], quadrant_header([row["quadrants"]])[0], _spread(row["published"]),
                     _spread(row["remade"]), _number(statistics.fmean(row["changes"]), True),
                     _number(largest, True), f"{abs(largest) / std:.1f}" if std > 0 else "",
                     f"{row['equal']} of {len(seeds)}"])
    header = ["model", "given", "published", "made again", "mean change", "largest change",
              "largest ÷ published std", "seeds equal"]
    return markdown_table(header, rows, "llrrrrrr")


def remake_summary(published: dict, remade: dict) -> str:
    """The README's block: which machines made the two tables, the table of changes, and whether the
    ranking of the models and the CVAE's lead over the baseline hold in every setting."""
    seeds = shared_seeds(published, remade)
    quadrants = [str(q) for q in remade["quadrants"] if q in published["quadrants"]]
    rows = remake_rows(published, remade)
    spread = [row for row in rows if len(row["published"]) > 1 and statistics.stdev(row["published"]) > 0]
    beyond = sum(max(abs(c) for c in row["changes"]) > statistics.stdev(row["published"]) for row in spread)
    moved = (f", and {beyond} of {len(spread)} moved on at least one seed by more than the published numbers' "
             f"standard deviation over these seeds (a spread measured on one machine)") if spread else ""

    def ranking_of(side: str, q: str) -> list[dict]:  # the rows of q, from the best mean over the seeds
        return sorted((row for row in rows if row["quadrants"] == q), key=lambda row: statistics.fmean(row[side]))

    ranked = [q for q in quadrants if [row["model"] for row in ranking_of("published", q)]
              != [row["model"] for row in ranking_of("remade", q)]]
    ranking = ("the models rank the same in every setting" if not ranked else
               "the models rank differently with " + listed(quadrant_header(ranked)) + " given")
    leads = "; ".join(f"{header}: {_number(_lead(published, q, seeds))} in the published "
                      f"table, {_number(_lead(remade, q, seeds))} made again"
                      for q, header in zip(quadrants, quadrant_header(quadrants)))
    whose = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {listed(map(str, seeds))}"
    return (f"The whole table trained and evaluated again ({whose}) on {remade['machine']}, against the "
            f"published one (made on {published['machine']}), nats per test image, seed against seed "
            f"(change = made again − published):\n\n{remake_table_markdown(published, remade)}\n\n"
            f"Of {len(rows)} numbers, {sum(row['equal'] == len(seeds) for row in rows) or 'none'} came out the same to "
            f"the last digit for every seed{moved}; {ranking}. "
            f"The CVAE's lead over the baseline "
            f"(nats per image, the mean over the same seeds) with {leads}.")
