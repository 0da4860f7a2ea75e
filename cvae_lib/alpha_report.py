"""What the α sweep means, in words and a table (chapter 6): how each validation score moves as α falls
from 1 (the CVAE) towards the GSNN (:func:`sweep_findings`), and the sweep with the chosen hybrid's test
row held against the CVAE of the same seeds, paired by seed (:func:`render_alpha_sweep_markdown`).
The sweep itself, ``alpha_sweep.json``, is :mod:`cvae_lib.alpha_sweep`'s.
"""
from __future__ import annotations

import statistics

from .alpha_sweep import tested_seeds
from .recipe import RECIPE
from .report import markdown_table, quadrant_header
from .results import one_draw_score, t_interval
from .settings import PROFILES


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
            runs = _runs_of_seeds(results, int(q), tested_seeds(sweep))
            findings[int(q)].update(
                test_seeds=tested_seeds(sweep),
                test_cll=entry["test"][key]["mean"], test_one_draw=entry["test"]["one_draw"]["mean"],
                cvae_test_cll=statistics.fmean(run["numbers"][key] for run in runs),
                cvae_test_one_draw=statistics.fmean(one_draw_score(run) for run in runs),
                # hybrid − CVAE, paired by seed (the same data split and seeds): 95% interval of the mean
                test_cll_interval=t_interval([hybrid - run["numbers"][key]
                                              for hybrid, run in zip(entry["test"][key]["per_seed"], runs)]),
                test_one_draw_interval=t_interval([hybrid - one_draw_score(run) for hybrid, run
                                                   in zip(entry["test"]["one_draw"]["per_seed"], runs)]),
                # the single answer of the baseline and one draw of the GSNN, on the same test set
                baseline_test_nll=statistics.fmean(run["numbers"]["baseline_nll"] for run in runs),
                gsnn_test_one_draw=statistics.fmean(one_draw_score(run["remedies"]["gsnn"]) for run in runs)
                if all("remedies" in run for run in runs) else None)
    return findings


def _runs_of_seeds(results: dict, q: int, seeds: list[int]) -> list[dict]:
    """The table's runs of setting ``q`` for ``seeds``, in that order; one line if one is missing."""
    by_seed = {run["seed"]: run for run in results["runs"] if int(run["quadrants"]) == q}
    missing = [seed for seed in seeds if seed not in by_seed]
    if missing:
        raise ValueError(f"the table has no run of seed(s) {missing} with {q} input quadrant(s) to hold the "
                         "chosen hybrid against: the sweep and cll.json must come from the same seeds")
    return [by_seed[seed] for seed in seeds]


def render_alpha_sweep_markdown(sweep: dict, results: dict) -> str:
    """The sweep as chapter 6 shows it: each α's two validation scores per setting, then the chosen
    hybrid on the test set beside the CVAE and the table's hybrid of the same seeds (``cll.json``)."""
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
    tested = tested_seeds(sweep)
    for q in quadrants:
        entry = sweep["settings"][q]
        key = next(key for key in entry["test"] if key.startswith("cvae_is_"))
        runs = _runs_of_seeds(results, int(q), tested)
        cvae = [run["numbers"][key] for run in runs]
        table_hybrid = statistics.fmean(run["remedies"]["hybrid"]["numbers"][key] for run in runs)
        cvae_one_draw = [one_draw_score(run) for run in runs]
        one_draw = entry["test"]["one_draw"]
        picks.append(f"with {q} input quadrant{'s' if q != '1' else ''}, α = {entry['chosen_alpha']:g} scores "
                     f"{entry['test'][key]['mean']:.2f} nats by importance sampling (the CVAE "
                     f"{statistics.fmean(cvae):.2f}, the table's α = {sweep['table_alpha']:g} {table_hybrid:.2f}"
                     f"{_paired(entry['test'][key]['per_seed'], cvae)}) and "
                     f"{one_draw['mean']:.2f} with one draw from the prior (the CVAE "
                     f"{statistics.fmean(cvae_one_draw):.2f}{_paired(one_draw['per_seed'], cvae_one_draw)})")
    samples = key.rsplit("_", 1)[1]
    if len(tested) == 1:
        whose = f"seed {tested[0]}'s models"
    else:
        whose = f"the mean over seeds {', '.join(map(str, tested))}"
        if tested != seeds:
            whose += f", the α chosen on the validation split of seed{'s' if len(seeds) > 1 else ''} " \
                     f"{', '.join(map(str, seeds))}"
    if tested != results["seeds"]:
        whose += f", not the mean over seeds {', '.join(map(str, results['seeds']))} of the tables above"
    return (table + "\n" + note + f"\nOn the test set ({whose}; importance sampling with S = {samples}): "
            + "; ".join(picks) + "." + _other_baselines(sweep, results) + "\n")


def _other_baselines(sweep: dict, results: dict) -> str:
    """A sentence when added seeds' hybrids rest on baselines other than the table's (trained again,
    e.g. on another machine): by how much those baselines' test NLL differs from the table's."""
    moved = {}
    for q, entry in sweep["settings"].items():
        for seed, nll in entry.get("added_baseline_nll", {}).items():
            table_nll = _runs_of_seeds(results, int(q), [int(seed)])[0]["numbers"]["baseline_nll"]
            if nll != table_nll:  # the same checkpoint scores the same, bit for bit
                moved[int(seed)] = max(moved.get(int(seed), 0.0), abs(nll - table_nll))
    if not moved:
        return ""
    seeds = sorted(moved)
    named = f"seed {seeds[0]}" if len(seeds) == 1 else "seeds " + ", ".join(map(str, seeds))
    return (f" The hybrids of {named} were added later, on baselines trained again for them rather than the "
            f"table's (the file names the machine): their test NLLs differ from the table's baselines by up to "
            f"{max(moved.values()):.2f} nats.")


def _paired(hybrid: list[float], cvae: list[float]) -> str:
    """``; hybrid − CVAE 2.17, 95% interval 1.95 to 2.39 over 3 seeds``, paired by seed; nothing for one seed."""
    interval = t_interval([a - b for a, b in zip(hybrid, cvae)])
    if interval is None:
        return ""
    difference = statistics.fmean(hybrid) - statistics.fmean(cvae)
    return (f"; hybrid − CVAE {difference:.2f}, 95% interval {interval[0]:.2f} to {interval[1]:.2f} over "
            f"{len(hybrid)} seeds").replace("-", "−")
