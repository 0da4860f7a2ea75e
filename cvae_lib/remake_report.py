"""The table made again with the same command on another machine, held against the published one
seed by seed (the README's "Reproducing on another machine"): how far each model's number moved
against the table's own spread over seeds, how many seeds gave the same number to the last digit, and
whether the comparisons the book draws from the table (the ranking of the models, the CVAE's lead
over the baseline) still hold.
"""
from __future__ import annotations

import statistics

from .protocol_report import listed, model_rows
from .report import MODEL_NAMES, markdown_table, quadrant_header, row_label
from .results import names_its_cpu, t_interval
from .search_report import retraining_summary

# beside the published results/cll.json: the whole table made again on another machine, and seeds of it
# made again on one more CPU model (AMD EPYC), number for number
REMADE_FILE = "remade/cll.json"
RERUN_FILE = "remade/amd_epyc.json"


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


def _leads(results: dict, q: str, seeds: list[int]) -> list[float]:
    """The CVAE's lead over the baseline with ``q`` input quadrants, one per seed of ``seeds``."""
    gap = results["gap"][q]["nats_per_image"]["per_seed"]
    return [gap[results["seeds"].index(seed)] for seed in seeds]


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


def _remake_facts(published: dict, remade: dict) -> dict:
    """What both the README's block and chapter 5's paragraph say: the rows, how many numbers are
    equal for every seed, how many moved beyond the published spread over seeds, the settings whose
    ranking of the models changed, and the CVAE's lead over the baseline in both tables."""
    seeds = shared_seeds(published, remade)
    quadrants = [str(q) for q in remade["quadrants"] if q in published["quadrants"]]
    rows = remake_rows(published, remade)
    spread = [row for row in rows if len(row["published"]) > 1 and statistics.stdev(row["published"]) > 0]

    def ranking_of(side: str, q: str) -> list[str]:  # the models of q, from the best mean over the seeds
        return [row["model"] for row in sorted((row for row in rows if row["quadrants"] == q),
                                               key=lambda row: statistics.fmean(row[side]))]

    return {"seeds": seeds, "quadrants": quadrants, "rows": rows, "spread": len(spread),
            "beyond": sum(max(abs(c) for c in row["changes"]) > statistics.stdev(row["published"]) for row in spread),
            "equal": sum(row["equal"] == len(seeds) for row in rows),
            "reranked": [q for q in quadrants if ranking_of("published", q) != ranking_of("remade", q)],
            "leads": [(statistics.fmean(_leads(published, q, seeds)), statistics.fmean(_leads(remade, q, seeds)))
                      for q in quadrants]}


def _ranking_words(facts: dict) -> str:
    return ("the models rank the same in every setting" if not facts["reranked"] else
            "the models rank differently with " + listed(quadrant_header(facts["reranked"])) + " given")


def _whose(seeds: list[int]) -> str:
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {listed(map(str, seeds))}"


def _machine_words(machine: str) -> str:
    return machine if names_its_cpu(machine) else f"{machine}, its CPU model not recorded"


def remake_summary(published: dict, remade: dict) -> str:
    """The README's block: which machines made the two tables, the table of changes, and whether the
    ranking of the models and the CVAE's lead over the baseline hold in every setting."""
    facts = _remake_facts(published, remade)
    moved = (f", and {facts['beyond']} of {facts['spread']} moved on at least one seed by more than the published "
             f"numbers' standard deviation over these seeds (a spread measured on one machine)"
             ) if facts["spread"] else ""
    leads = "; ".join(f"{header}: {_number(before)} in the published table, {_number(after)} made again"
                      for (before, after), header in zip(facts["leads"], quadrant_header(facts["quadrants"])))
    ranking = _ranking_words(facts)
    return (f"The whole table trained and evaluated again ({_whose(facts['seeds'])}) on {remade['machine']}, "
            f"against the published one (made on {_machine_words(published['machine'])}), nats per test image, "
            f"seed against seed "
            f"(change = made again − published):\n\n{remake_table_markdown(published, remade)}\n\n"
            f"Of {len(facts['rows'])} numbers, {facts['equal'] or 'none'} came out the same to "
            f"the last digit for every seed{moved}; {ranking}. "
            f"The CVAE's lead over the baseline "
            f"(nats per image, the mean over the same seeds) with {leads}.")


def remade_block(published: dict, remade: dict, rerun: dict | None) -> str:
    """The README's block on the tables made again: the whole table against the published one, then
    the seeds made again on one more CPU model, where there are any."""
    block = remake_summary(published, remade)
    return block if rerun is None else f"{block}\n\n{rerun_note(published, rerun)}"


def remake_paragraph(published: dict, remade: dict) -> str:
    """Chapter 5's paragraph on the table made again elsewhere: which numbers are compared, how far
    they moved (the largest change, against the published spread over seeds), whether the ranking of
    the models holds, and whether the CVAE's lead stays inside the published 95% intervals over seeds."""
    facts = _remake_facts(published, remade)
    seeds, quadrants = facts["seeds"], facts["quadrants"]
    compared = {row["model"] for row in facts["rows"]}
    rows = listed(f"“{row_label(key, published)}”"
                  for model, key in model_rows(remade["table"][quadrants[0]]).items() if model in compared)
    largest = max(facts["rows"], key=lambda row: max(abs(c) for c in row["changes"]))
    change = max(largest["changes"], key=abs)
    std = statistics.stdev(largest["published"]) if len(largest["published"]) > 1 else 0.0
    moved = (f"{facts['beyond']} of {facts['spread']} moved on at least one seed by more than their "
             f"standard deviation over seeds in this table" if facts["spread"]
             else "a single seed gives no spread to hold them against")
    times = f", {abs(change) / std:.1f} times that standard deviation" if std > 0 else ""
    given = listed(quadrants) + (" input quadrant" if quadrants == ["1"] else " input quadrants")
    before, after = zip(*facts["leads"])
    # the published lead's 95% interval over the shared seeds (Student's t), where there are several
    intervals = [t_interval(_leads(published, q, seeds)) for q in quadrants]
    outside = [(q, interval) for q, interval, lead in zip(quadrants, intervals, after)
               if interval and not interval[0] <= lead <= interval[1]]
    covered = ("" if not any(intervals) else
               " Each lies inside this table's 95% interval over seeds." if not outside else
               " With " + listed(quadrant_header([q for q, _ in outside]))
               + " given it lies outside this table's 95% interval over seeds ("
               + "; ".join(f"{_number(low)} to {_number(high)}" for _, (low, high) in outside)
               + "): those intervals, measured on one machine, do not cover a change of machine.")
    ranking = _ranking_words(facts)
    return (f"The whole table was trained and evaluated again with the same command ({_whose(facts['seeds'])}) on "
            f"{remade['machine']}; this table was made on {_machine_words(published['machine'])}. Of the "
            f"{len(facts['rows'])} numbers that compare the models (the rows {rows} of the table above, "
            f"in {len(quadrants)} settings), {facts['equal'] or 'none'} came out the same to the last digit "
            f"for every seed, and {moved}; the largest change was the {largest['model']}'s with "
            f"{quadrant_header([largest['quadrants']])[0]} given, {_number(change, True)} nats on one "
            f"seed{times}. {ranking[0].upper()}{ranking[1:]}. The CVAE's lead over "
            f"the baseline with {given} is {listed([_number(v) for v in after])} nats per image made again, "
            f"against {listed([_number(v) for v in before])} in this table.{covered} So differences of up to "
            f"{_number(abs(change))} nats between this table and a run on another computer are no evidence "
            f"of a difference between methods.")


def search_machine_note(search: dict, published: dict, before: dict | None, remade: dict | None) -> str:
    """Which machine the recipe search and the table before it ran on, told by their numbers: where
    the search's chosen models equal, to the last digit, the same seed's models of the table made again
    (and not the published table's), the search ran on that CPU model; where the table before the
    search holds the search's baseline on its earlier schedule, so did that table. Then the change
    the search made is measured on that one CPU (before against made again), free of a change of
    machine. "" where the numbers do not show it (or a table is missing)."""
    if before is None or remade is None or any(search["seed"] not in table["seeds"] for table in (before, remade)):
        return ""
    q, seed = str(search["quadrants"]), search["seed"]

    def number(table: dict, key: str) -> float:
        return _per_seed(table, q, key, [seed])[0]

    keys = model_rows(remade["table"][q])
    chosen = {MODEL_NAMES[model]: entry["candidates"][entry["chosen"]]["test"]
              for model, entry in search["models"].items()}
    if not chosen or any(name not in keys or number(remade, keys[name]) != value for name, value in chosen.items()):
        return ""
    earlier = search["models"].get("baseline")
    if earlier is None or earlier["candidates"][earlier["table"]]["test"] != number(before, "baseline_nll"):
        return ""
    shown = listed(f"{_number(value)} ({name})" for name, value in chosen.items())
    published_shown = listed(_number(number(published, keys[name])) for name in chosen)
    header = quadrant_header([q])[0]
    measured = retraining_summary(before, remade)
    return (f"The search's numbers tell where it ran: on its chosen schedules, seed {seed}'s models with {header} "
            f"given score {shown}, each equal to the last digit to the table made again on {remade['machine']}, "
            f"not to this page's table ({published_shown} with the same schedules); and the table before the "
            f"search holds the one number it shares with the search, seed {seed}'s baseline on its earlier "
            f"schedule ({_number(earlier['candidates'][earlier['table']]['test'])}), to the last digit. So the "
            f"search and the table before it most likely ran on that CPU model, and the changes above mix the new "
            f"schedules with a change of machine. On that one CPU model, the table before the search held against "
            f"the table made again: {measured[0].lower()}{measured[1:]}")


_NOT_MEASURED = {"seed", "quadrants", "data_sizes", "test_images", "S", "loaded_from_checkpoint"}
_MISSING = object()  # a number one of two runs records and the other does not


def _recorded_numbers(value, path: str = "") -> dict[str, float | None]:
    """Every number a run records, by its path in the run (the table's estimates, the estimates
    against S, the epochs where early stopping ended each model, the remedies', the completions'
    quality), a null among them; not what names the run or its sizes (seed, setting, split sizes, the
    sample counts S), nor its seconds, which time the machine, nor whether it was loaded."""
    if isinstance(value, dict):
        return {found: number for key, item in value.items() if key not in _NOT_MEASURED and "seconds" not in key
                for found, number in _recorded_numbers(item, f"{path}/{key}").items()}
    if isinstance(value, list):
        return {found: number for index, item in enumerate(value)
                for found, number in _recorded_numbers(item, f"{path}/{index}").items()}
    return {path: value} if value is None or isinstance(value, (int, float)) and not isinstance(value, bool) else {}


def _paired(mine: dict, theirs: dict) -> list[tuple]:
    """The values of two runs' numbers, path by path; a path only one of them has pairs with _MISSING."""
    return [(mine.get(path, _MISSING), theirs.get(path, _MISSING)) for path in sorted(mine.keys() | theirs.keys())]


def rerun_note(published: dict, rerun: dict) -> str:
    """Seeds of the published table trained and evaluated again with the same command on one more
    machine: how many of their numbers (the table's, and every other number their runs record) came
    out the same to the last digit. Where all of them did, the rerun's record names its CPU and the
    published table's does not, that CPU model is most likely the one the table was made on."""
    seeds = shared_seeds(published, rerun)
    stored = {(run["seed"], run["quadrants"]): run for run in published["runs"]}
    runs = [run for run in rerun["runs"] if run["seed"] in seeds]
    if not runs:
        raise ValueError("the rerun holds no run of the seeds it shares with the published table: rerun them")
    if any((run["seed"], run["quadrants"]) not in stored for run in runs):
        raise ValueError("the rerun has a setting the published table lacks: rerun the published settings")
    pairs = [(run, stored[run["seed"], run["quadrants"]]) for run in runs]
    table_by_run = [(run["quadrants"], _paired(run["numbers"], theirs["numbers"])) for run, theirs in pairs]
    table = [pair for _, paired in table_by_run for pair in paired]
    recorded = [pair for run, theirs in pairs for pair in _paired(_recorded_numbers(run), _recorded_numbers(theirs))]
    counted = sum(a is not None or b is not None for a, b in recorded)  # the nulls are compared, not counted
    per_setting = {q: sum(len(paired) for setting, paired in table_by_run if setting == q)
                   for q in sorted({q for q, _ in table_by_run})}
    settings = (f"{next(iter(per_setting.values()))} in each of {len(per_setting)} settings"
                if len(set(per_setting.values())) == 1 else f"in {len(per_setting)} settings")
    whose = "its" if len(seeds) == 1 else "their"
    made = (f"{_whose(seeds).capitalize()} of the published table {'was' if len(seeds) == 1 else 'were'} "
            f"also trained and evaluated again with the same command on {rerun['machine']}")
    same_table = sum(a == b for a, b in table)
    if all(a == b for a, b in recorded):
        where = (" So the published table was most likely made on that CPU model."
                 if names_its_cpu(rerun["machine"]) and not names_its_cpu(published["machine"]) else "")
        return (f"{made}: all {len(table)} of {whose} numbers in the CLL table ({settings}) and all "
                f"{counted} numbers {whose} runs record (those {len(table)}, the estimates against S, the "
                f"epoch where early stopping ended each model, the GSNN's and the hybrid's own estimates, the "
                f"completions' quality) came out the same as the published ones to the last digit.{where}")
    if same_table == len(table):
        return (f"{made}: all {len(table)} of {whose} numbers in the CLL table came out the same as the published "
                f"ones to the last digit, but only {sum(a == b and b is not None for a, b in recorded)} of the "
                f"{counted} numbers {whose} runs record (the estimates against S, the epochs, the GSNN's and the "
                f"hybrid's own estimates, the completions' quality).")
    numbers = (int, float)
    changes = [a - b for a, b in table if a != b and isinstance(a, numbers) and isinstance(b, numbers)]
    largest = (f"the largest change, made again − published: {_number(max(changes, key=abs), True)} nats"
               if changes else "the others are missing from one of the two")
    return (f"{made}: {same_table} of {len(table)} of {whose} numbers in the CLL table came out the same as the "
            f"published ones to the last digit ({largest}).")
