"""What the recipe search means, in words (chapter 5 and the README): what it found per model
(:func:`search_summary`), what that means for the table it is shown beside (:func:`search_consequence`)
and, once the table was trained again on the chosen schedules, what that changed seed against seed
(:func:`retraining_summary`); :func:`search_note` is the three as one paragraph.
"""
from __future__ import annotations

from .protocol_report import listed
from .report import MODEL_NAMES, schedule_text, trained_recipes
from .results import best_importance_sampling, t_interval


def search_summary(search: dict) -> str:
    """What the search found, per model, in words (chapter 5): the schedule chosen on validation
    against the one the table had when the search ran, and both on the test set."""
    sentences = []
    for model, found in search["models"].items():
        candidates, chosen, table = found["candidates"], found["chosen"], found["table"]
        name = MODEL_NAMES[model]
        ranked = sorted(candidates, key=lambda slug: candidates[slug]["best_val_loss"])
        if chosen == table:
            runner_up = candidates[ranked[1]]
            sentences.append(f"the {name} keeps the schedule the table had ({schedule_text(candidates[table]['schedule'])}"
                             f"): its validation loss, {candidates[table]['best_val_loss']:.2f} nats, is the lowest of "
                             f"the {len(candidates)}, {runner_up['best_val_loss'] - candidates[table]['best_val_loss']:.2f}"
                             f" below the next")
        else:
            gain = candidates[table]["best_val_loss"] - candidates[chosen]["best_val_loss"]
            test_change = candidates[chosen]["test"] - candidates[table]["test"]
            sentences.append(f"the {name} moves to {schedule_text(candidates[chosen]['schedule'])}: "
                             f"on validation {gain:.2f} nats below the schedule the table had, and on the test set "
                             f"{abs(test_change):.2f} nats {'lower' if test_change < 0 else 'higher'} "
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


def search_note(search: dict, results: dict, before: dict | None = None) -> str:
    """The search in one paragraph (chapter 5 and the README): what it found, what it means for the
    table in ``results`` and, where ``before`` is the table of the same profile before the search and
    ``results`` was trained on the chosen schedules, what training it again changed."""
    text = search_summary(search) + " " + search_consequence(search, results)
    trained, earlier = trained_recipes(results), trained_recipes(before) if before is not None else None
    if (before is not None and results.get("profile") == before.get("profile") == search["profile"]
            and trained is not None and earlier is not None and trained != earlier):
        text += " " + retraining_summary(before, results)
    return text


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
        text += (" The baseline's better guess did not make the CVAE measurably better in any setting (no "
                 "interval of the CVAE's change lies below 0), although its prior network reads that guess.")
    return text
