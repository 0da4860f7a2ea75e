"""The published results: README, the evaluation chapter and results/cll.json must agree."""
import json
import statistics
from pathlib import Path

import pytest

from cvae_lib.report import readme_results_section, render_quality_markdown, render_table_markdown

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "cll.json"
pytestmark = pytest.mark.skipif(not RESULTS.exists(), reason="no published results/cll.json yet")


@pytest.fixture(scope="module")
def results():
    return json.loads(RESULTS.read_text())


def test_the_table_file_is_rendered_from_the_numbers(results):
    assert (ROOT / "results" / "cll.md").read_text() == render_table_markdown(results)


def test_the_readme_shows_the_same_table(results):
    assert readme_results_section(results) in (ROOT / "README.md").read_text(), \
        "README.md is out of date: run `python -m cvae_lib update-readme`"


def test_the_evaluation_chapter_shows_the_same_table(results):
    nb = json.loads((ROOT / "book" / "05_evaluation.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "results_markdown(results)" in "".join(c["source"]))
    stored = "".join(next(o for o in cell["outputs"] if "text/markdown" in o.get("data", {}))["data"]["text/markdown"])
    assert stored == render_table_markdown(results), \
        "book/05_evaluation.ipynb shows another table: re-run it (make book-execute PROFILE=full)"


def test_the_evaluation_chapter_shows_how_each_model_of_the_table_was_trained(results):
    from cvae_lib.report import render_training_markdown

    training = render_training_markdown(results)
    for name in ("baseline", "CVAE", "GSNN", "hybrid"):
        assert f"| {name} |" in training
    nb = json.loads((ROOT / "book" / "05_evaluation.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "training_markdown(results)" in "".join(c["source"]))
    stored = "".join(next(o for o in cell["outputs"] if "text/markdown" in o.get("data", {}))["data"]["text/markdown"])
    assert stored == training


def test_results_have_the_documented_shape(results):
    assert results["profile"] == "full"
    quadrants = [str(q) for q in results["quadrants"]]
    assert sorted(results["table"]) == sorted(quadrants)
    assert len(results["runs"]) == len(results["seeds"]) * len(quadrants)
    for q in quadrants:
        for key, entry in results["table"][q].items():
            per_seed = [r["numbers"][key] for r in results["runs"] if str(r["quadrants"]) == q]
            assert entry["per_seed"] == per_seed
            assert entry["mean"] == pytest.approx(statistics.fmean(per_seed))
    for key in ("seconds_per_seed", "versions", "machine", "seeds"):
        assert results[key]
    for name in results["figures"]:
        assert (ROOT / "results" / name).exists(), f"results/{name} is missing"


def test_the_quality_table_is_rendered_from_the_numbers(results):
    assert (ROOT / "results" / "quality.md").read_text() == render_quality_markdown(results)
    assert results["classifier"]["test_accuracy"] >= 0.98  # the instrument the issue asks for


def test_the_ablation_table_is_rendered_from_its_numbers():
    from cvae_lib.ablation import render_ablation_markdown

    path = ROOT / "results" / "ablation.json"
    if not path.exists():
        pytest.skip("no ablation stored")
    ablation = json.loads(path.read_text())
    assert (ROOT / "results" / "ablation.md").read_text() == render_ablation_markdown(ablation)


def test_the_readme_quotes_the_stored_ablation():
    from cvae_lib.ablation import ablation_summary

    path = ROOT / "results" / "ablation.json"
    if not path.exists():
        pytest.skip("no ablation stored")
    assert ablation_summary(json.loads(path.read_text())) in (ROOT / "README.md").read_text(), \
        "README.md quotes other ablation numbers: copy the sentence of ablation_summary(results/ablation.json)"


def test_the_readme_claim_about_pyros_baseline_holds(results):
    """README: "The baseline lands within ±3 nats of Pyro's tutorial … in every setting"."""
    from cvae_lib.book import PYRO_TUTORIAL

    assert "within ±3 nats of Pyro's tutorial" in (ROOT / "README.md").read_text()
    pyro = PYRO_TUTORIAL["rows"]["NN (baseline)"]
    for q in results["quadrants"]:
        assert abs(results["table"][str(q)]["baseline_nll"]["mean"] - pyro[q]) <= 3.0


def test_the_published_recipe_trains_the_cvae_as_the_stored_ablation_chose():
    """recipe.py's comments: ABLATION_CHOICE reached the lowest validation loss of the ablation, and
    RECIPE trains the CVAE with it (the recipe search changed the other models' schedules only)."""
    from cvae_lib.recipe import ABLATION_CHOICE, RECIPE

    path = ROOT / "results" / "ablation.json"
    if not path.exists():
        pytest.skip("no ablation stored")
    ablation = json.loads(path.read_text())
    assert ablation["chosen_recipe"] == ABLATION_CHOICE.name, "re-run `python -m cvae_lib ablation --profile full`"
    best = min(ablation["variants"].items(), key=lambda item: item[1]["best_val_loss"])
    assert best[0] == ABLATION_CHOICE.name and best[1]["chosen"]
    assert (RECIPE.cvae, RECIPE.kl_warmup_epochs, RECIPE.residual) == (
        ABLATION_CHOICE.cvae, ABLATION_CHOICE.kl_warmup_epochs, ABLATION_CHOICE.residual)


def test_students_t_quantiles_and_the_interval_over_seeds():
    """The closed forms for 1 and 2 degrees of freedom, the normal limit, and mean ± t·s/√n."""
    import math
    import statistics

    from cvae_lib.results import t_interval, t_quantile

    assert t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-12)
    assert t_quantile(0.975, 2) == pytest.approx(0.95 / math.sqrt(2 * 0.975 * 0.025), rel=1e-12)
    assert t_quantile(0.975, 100000) == pytest.approx(1.959964, abs=1e-4)
    assert t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-12)
    values = [36.03, 36.81, 37.04]
    low, high = t_interval(values)
    half = t_quantile(0.975, 2) * statistics.stdev(values) / math.sqrt(3)
    assert (low, high) == pytest.approx((statistics.fmean(values) - half, statistics.fmean(values) + half))
    assert t_interval([1.0]) is None
    with pytest.raises(ValueError):
        t_quantile(0.3, 2)


def test_the_readme_plans_the_whole_run_from_the_recorded_seconds(results):
    """The plan on paper (publish-run on 1, 4 and 16 workers) is the one `update-readme` computes
    from the seconds in results/, for the seeds the results files name."""
    from cvae_lib.publish_run import plan_summary, publish_tasks
    from cvae_lib.report import readme_markers
    from cvae_lib.settings import RunConfig

    study = json.loads((ROOT / "results" / "conditioning.json").read_text())
    tasks = publish_tasks(RunConfig.from_environment("full", download=False), results["seeds"], study["seeds"])
    start, end = readme_markers("run-plan")
    block = (ROOT / "README.md").read_text().split(start, 1)[1].split(end, 1)[0].strip()
    assert block == plan_summary(tasks, ROOT / "results"), \
        "README.md is out of date: run `python -m cvae_lib update-readme`"
    assert "| 16 |" in block and f"{len(tasks)} tasks" in block


def _table(gaps: dict, rows: dict, seeds=(0, 1, 2)) -> dict:
    """A stored table of the shape cll.json has: its gap per setting and one row per model."""
    return {"seeds": list(seeds), "quadrants": [int(q) for q in gaps],
            "gap": {q: {"nats_per_image": {"mean": statistics.fmean(g), "per_seed": g}} for q, g in gaps.items()},
            "table": {q: {key: {"mean": value} for key, value in rows[q].items()} for q in gaps}}


def test_the_protocols_sentence_gives_both_advantages_with_intervals_and_says_where_the_ranking_differs():
    from cvae_lib.protocol_report import model_ranking, protocols_sentence

    rows = {"1": {"baseline_nll": 100, "cvae_is_100": 64, "cvae_is_1000": 63, "gsnn_mc_1000": 99, "hybrid_is_1000": 73},
            "3": {"baseline_nll": 26, "cvae_is_100": 20.2, "cvae_is_1000": 20.1, "gsnn_mc_1000": 25.9,
                  "hybrid_is_1000": 22}}
    grey = _table({"1": [37.0, 36.5, 36.4], "3": [5.5, 5.6, 5.5]}, rows)
    assert model_ranking(grey, "1") == ["CVAE", "hybrid", "GSNN", "baseline"]
    binary_rows = {"1": dict(rows["1"]), "3": {**rows["3"], "gsnn_mc_1000": 27}}  # the GSNN falls behind
    binary = _table({"1": [30.0, 31.0, 32.0], "3": [6.0, 6.0, 6.0]}, binary_rows)
    sentence = protocols_sentence(binary, grey)
    assert "by 31.0 and 6.0 nats per image with 1 and 3 input quadrants" in sentence
    assert "against 36.6 and 5.5 on grey levels" in sentence
    assert "95% intervals over the 3 seeds" in sentence and "28.5 to 33.5" in sentence
    # both rankings, each model with its number: a reader sees how near the swap is
    assert ("do not rank as on grey levels with 3 quadrants (from the best, here CVAE 20.10, hybrid 22.00, "
            "baseline 26.00, GSNN 27.00; on grey levels CVAE 20.10, hybrid 22.00, GSNN 25.90, baseline 26.00)"
            in sentence)
    assert ("baseline 26.00): here the baseline is ahead of the GSNN by 1.00 nats, on grey levels behind it by "
            "0.10 nats.") in sentence
    assert "on grey levels (the mean over seeds 0, 1 and 2);" in sentence
    # with the seeds stored, each swap is paired by seed; one the seeds cannot order is called so
    for table, (gsnn, baseline) in ((binary, ([26.9, 27.0, 27.1], [26.0, 26.0, 26.0])),
                                    (grey, ([25.5, 26.3, 25.9], [26.0, 26.1, 25.9]))):
        table["table"]["3"]["gsnn_mc_1000"]["per_seed"] = gsnn
        table["table"]["3"]["baseline_nll"]["per_seed"] = baseline
    paired = protocols_sentence(binary, grey)
    # binary: GSNN − baseline 0.9, 1.0, 1.1 (mean 1.00, s 0.1, t 4.303: ±0.25); grey: baseline − GSNN 0.5, −0.2,
    # 0.0 (mean 0.10, s 0.361: ±0.90)
    assert ("here the baseline is ahead of the GSNN by 1.00 nats (95% interval 0.75 to 1.25 over the 3 seeds), "
            "on grey levels behind it by 0.10 nats (95% interval −0.80 to 1.00 over the 3 seeds, which includes "
            "0: the seeds do not order the two).") in paired
    other_recipe = {**grey, "recipe": "constant rate"}
    assert "(the mean over seeds 0, 1 and 2, trained with another recipe, “constant rate”)" in protocols_sentence(
        binary, other_recipe)
    assert "1 quadrant (" not in sentence  # that setting ranks as on grey levels
    one_seed = _table({"1": [30.0], "3": [6.0]}, rows, seeds=(0,))
    assert "intervals" not in protocols_sentence(one_seed, grey) and "(seed 0)" in protocols_sentence(one_seed, grey)


def test_the_readme_says_what_the_stored_recipe_search_found():
    from cvae_lib.search_report import search_consequence, search_summary

    path = ROOT / "results" / "recipe_search.json"
    if not path.exists():
        pytest.skip("no stored search yet")
    search = json.loads(path.read_text())
    summary = search_summary(search) + " " + search_consequence(search, json.loads(RESULTS.read_text()))
    assert summary in (ROOT / "README.md").read_text(), "run `python -m cvae_lib update-readme`"


def test_the_stored_binarised_table_is_the_binarised_protocol_and_the_readme_shows_it():
    from cvae_lib.protocol_report import binarised_table_markdown
    from cvae_lib.settings import PROFILES

    path = ROOT / "results" / "binarised" / "cll.json"
    if not path.exists():
        pytest.skip("no binarised table yet")
    binarised = json.loads(path.read_text())
    assert binarised["profile"] == "binarised" and binarised["profile_settings"]["protocol"] == "binarised"
    assert binarised["profile_settings"]["max_epochs"] == PROFILES["full"].max_epochs  # full size otherwise
    assert "floor" not in binarised or all(value == 0 for value in binarised["floor"].values())
    assert render_table_markdown(binarised) == (path.parent / "cll.md").read_text()
    block = binarised_table_markdown(binarised, json.loads(RESULTS.read_text()))
    assert block in (ROOT / "README.md").read_text(), "run `python -m cvae_lib update-readme`"


def test_the_published_table_trains_with_the_recipe_and_the_table_before_the_search_is_kept():
    """results/cll.json names RECIPE and each model's schedule in it; results/before_search/ holds the
    table of the same seeds on the ablation's recipe, which chapter 5 compares it with."""
    from cvae_lib.recipe import ABLATION_CHOICE, RECIPE, model_recipes
    from cvae_lib.report import trained_recipes
    from cvae_lib.settings import PROFILES

    published = json.loads(RESULTS.read_text())
    assert published["recipe"] == RECIPE.name
    assert published["recipes"] == json.loads(json.dumps(model_recipes(PROFILES["full"], RECIPE)))
    before = json.loads((ROOT / "results" / "before_search" / "cll.json").read_text())
    assert before["recipe"] == ABLATION_CHOICE.name
    # made before each model's recipe was recorded: its recipe's name stands for the schedules
    assert "recipes" not in before or before["recipes"] == json.loads(json.dumps(model_recipes(PROFILES["full"],
                                                                                             ABLATION_CHOICE)))
    assert trained_recipes(before) == model_recipes(PROFILES["full"], ABLATION_CHOICE)
    assert before["profile"] == "full" and before["quadrants"] == published["quadrants"]
    assert before["seeds"] == published["seeds"]  # seed against seed
    assert render_table_markdown(before) == (ROOT / "results" / "before_search" / "cll.md").read_text()


def _seeded_table(per_seed: dict, seeds, machine: str) -> dict:
    """A stored table with per-seed numbers: ``per_seed[q][key]`` lists one number per seed."""
    table = {q: {key: {"mean": statistics.fmean(v), "per_seed": v} for key, v in rows.items()}
             for q, rows in per_seed.items()}
    gaps = {q: [b - c for b, c in zip(rows["baseline_nll"], rows["cvae_is_1000"])] for q, rows in per_seed.items()}
    return {"seeds": list(seeds), "quadrants": [int(q) for q in per_seed], "machine": machine, "table": table,
            "gap": {q: {"nats_per_image": {"mean": statistics.fmean(g), "per_seed": g}} for q, g in gaps.items()}}


def test_the_remade_table_is_held_against_the_published_one_seed_by_seed():
    from cvae_lib.remake_report import remake_rows, remake_summary

    published = _seeded_table({"1": {"baseline_nll": [98.0, 98.2, 98.1], "cvae_is_1000": [63.2, 63.4, 63.3],
                                      "gsnn_mc_1000": [97.2, 97.3, 97.4]},
                                "3": {"baseline_nll": [25.5, 25.7, 25.6], "cvae_is_1000": [20.3, 20.2, 20.1],
                                      "gsnn_mc_1000": [25.4, 26.0, 25.3]}}, (0, 1, 2), "CPU A")
    # made again elsewhere for seeds 2 and 0, in that order: both baselines and the 3-quadrant CVAE equal
    # for both seeds, the 1-quadrant GSNN for one; the 3-quadrant GSNN falls behind the baseline
    remade = _seeded_table({"1": {"baseline_nll": [98.1, 98.0], "cvae_is_1000": [63.0, 63.4],
                                  "gsnn_mc_1000": [97.4, 97.3]},
                            "3": {"baseline_nll": [25.6, 25.5], "cvae_is_1000": [20.1, 20.3],
                                  "gsnn_mc_1000": [26.5, 26.4]}}, (2, 0), "CPU B")
    rows = {(row["model"], row["quadrants"]): row for row in remake_rows(published, remade)}
    assert rows["baseline", "1"]["equal"] == 2 and rows["baseline", "1"]["changes"] == [0.0, 0.0]
    assert rows["CVAE", "1"]["published"] == [63.3, 63.2] and rows["CVAE", "1"]["remade"] == [63.0, 63.4]
    assert rows["CVAE", "1"]["changes"] == pytest.approx([-0.3, 0.2])  # seed 2 against seed 2, 0 against 0
    summary = remake_summary(published, remade)
    assert "(seeds 2 and 0) on CPU B, against the published one (made on CPU A, its CPU model not recorded)" \
        in summary
    # published over the shared seeds, made again, mean change, largest in size, ÷ the published std, equal
    assert "| CVAE | 1 quadrant | 63.25 ± 0.07 | 63.20 ± 0.28 | −0.05 | −0.30 | 4.2 | 0 of 2 |" in summary
    assert "| GSNN | 1 quadrant | 97.30 ± 0.14 | 97.35 ± 0.07 | +0.05 | +0.10 | 0.7 | 1 of 2 |" in summary
    assert "| GSNN | 3 quadrants | 25.35 ± 0.07 | 26.45 ± 0.07 | +1.10 | +1.20 | 17.0 | 0 of 2 |" in summary
    assert "Of 6 numbers, 3 came out the same to the last digit for every seed" in summary
    assert "and 2 of 6 moved on at least one seed by more than the published numbers' standard deviation" in summary
    assert "the models rank differently with 3 quadrants given" in summary  # GSNN ahead of the baseline, then behind
    # the lead over the same seeds: (98.1 − 63.3 + 98.0 − 63.2) / 2 and (98.1 − 63.0 + 98.0 − 63.4) / 2
    assert "with 1 quadrant: 34.80 in the published table, 34.85 made again; 3 quadrants: 5.35" in summary
    assert "none came out the same" in remake_summary(published, {**remade, "table": {
        q: {key: {**entry, "per_seed": [v + 0.01 for v in entry["per_seed"]]} for key, entry in row.items()}
        for q, row in remade["table"].items()}})
    with pytest.raises(ValueError, match="share no seed"):
        remake_summary(published, {**remade, "seeds": [7, 8]})
    # one shared seed: no spread over seeds to hold a change against, so no such count
    one = _seeded_table({q: {key: values[:1] for key, values in rows.items()}
                         for q, rows in {"1": {"baseline_nll": [98.1], "cvae_is_1000": [63.0], "gsnn_mc_1000": [97.4]},
                                         "3": {"baseline_nll": [25.6], "cvae_is_1000": [20.1],
                                               "gsnn_mc_1000": [26.5]}}.items()}, (2,), "CPU B")
    single = remake_summary(published, one)
    assert "(seed 2) on CPU B" in single and "standard deviation" not in single and "| 63.30 | 63.00 |" in single
    # a model missing in one setting of one table: one line that says which
    del one["table"]["3"]["gsnn_mc_1000"]
    with pytest.raises(ValueError, match=r"GSNN \(gsnn_mc_1000\) is missing with 3 input quadrants"):
        remake_summary(published, one)


def test_chapter_5_says_in_words_how_far_the_remade_table_moved():
    from cvae_lib.remake_report import remake_paragraph

    published = _seeded_table({"1": {"baseline_nll": [98.0, 98.2, 98.1], "cvae_is_1000": [63.2, 63.4, 63.3]},
                                "2": {"baseline_nll": [61.0, 61.1, 60.9], "cvae_is_1000": [44.1, 44.2, 44.3]}},
                               (0, 1, 2), "CPU A")
    # seed 1's 2-quadrant baseline moves by 0.9 (nine times its spread); every other number stays
    remade = _seeded_table({"1": {"baseline_nll": [98.0, 98.2, 98.1], "cvae_is_1000": [63.2, 63.4, 63.3]},
                            "2": {"baseline_nll": [61.0, 62.0, 60.9], "cvae_is_1000": [44.1, 44.2, 44.3]}},
                           (0, 1, 2), "CPU B")
    words = remake_paragraph(published, remade)
    assert "again with the same command (seeds 0, 1 and 2) on CPU B; this table was made on CPU A, its CPU " \
           "model not recorded." in words
    assert "Of the 4 numbers that compare the models (the rows “Baseline NN: NLL” and “CVAE: importance " \
           "sampling, S = 1000” of the table above, in 2 settings), 3 came out the same to the last digit for " \
           "every seed, and 1 of 4 moved" in words
    assert "the largest change was the baseline's with 2 quadrants given, +0.90 nats on one seed, 9.0 times" in words
    # the lead with 2 quadrants, made again: (61.0 − 44.1 + 62.0 − 44.2 + 60.9 − 44.3) / 3 = 17.1, inside
    # the published leads' interval (16.9, 16.9, 16.6: 16.80 ± 4.30 · 0.17 / √3 = 16.37 to 17.23)
    assert "The CVAE's lead over the baseline with 1 and 2 input quadrants is 34.80 and 17.10 nats per image " \
           "made again, against 34.80 and 16.80 in this table. Each lies inside this table's 95% interval over " \
           "seeds." in words
    assert "So differences of up to 0.90 nats" in words
    # the CVAE falls behind the baseline with 2 quadrants: the ranking changes, the lead leaves its interval
    behind = _seeded_table({"1": {"baseline_nll": [98.0, 98.2, 98.1], "cvae_is_1000": [63.2, 63.4, 63.3]},
                            "2": {"baseline_nll": [61.0, 61.1, 60.9], "cvae_is_1000": [62.1, 62.2, 62.3]}},
                           (0, 1, 2), "CPU B")
    behind_words = remake_paragraph(published, behind)
    assert "The models rank differently with 2 quadrants given." in behind_words
    assert "With 2 quadrants given it lies outside this table's 95% interval over seeds (16.37 to 17.23): those " \
           "intervals, measured on one machine, do not cover a change of machine." in behind_words
    # a table that names its CPU is not said to lack it
    assert "not recorded" not in remake_paragraph({**published, "machine": "2 CPU cores (Xeon, model 1; x86_64, Linux)"},
                                                  remade)


def test_a_stored_machine_says_whether_it_names_its_cpu():
    from cvae_lib.results import names_its_cpu, provenance

    assert not names_its_cpu("2 CPU cores (x86_64, Linux), no GPU used")  # as written before 2026-12-06
    assert names_its_cpu("2 CPU cores (Intel(R) Xeon(R) Processor @ 2.80GHz, family 6, model 106; x86_64, Linux), "
                         "no GPU used")
    assert names_its_cpu("NVIDIA H100 (GPU); 16 CPU cores")
    assert names_its_cpu(provenance()["machine"])  # what this library writes today


def test_the_search_is_placed_on_the_cpu_whose_numbers_it_repeats():
    """The recipe search's chosen models equal the remade table's seed to the last digit and the table
    before the search holds the search's earlier baseline: the note says so and measures the search's
    change on that one CPU; where a number differs, it says nothing."""
    from cvae_lib.remake_report import search_machine_note
    from cvae_lib.search_report import retraining_summary

    def candidate(test):
        return {"test": test}

    search = {"seed": 0, "quadrants": 1, "models": {
        "baseline": {"chosen": "new", "table": "old", "candidates": {"new": candidate(98.2), "old": candidate(99.4)}},
        "gsnn": {"chosen": "new", "table": "new", "candidates": {"new": candidate(97.5)}}}}
    rows = {"baseline_nll": [98.0, 98.1], "cvae_is_1000": [63.3, 63.2], "gsnn_mc_1000": [97.2, 97.3]}
    published = _seeded_table({"1": rows}, (0, 1), "CPU A")
    remade = _seeded_table({"1": {**rows, "baseline_nll": [98.2, 98.3], "gsnn_mc_1000": [97.5, 97.1]}}, (0, 1), "CPU B")
    before = _seeded_table({"1": {**rows, "baseline_nll": [99.4, 99.0], "gsnn_mc_1000": [98.5, 98.0]}}, (0, 1), "CPU ?")
    for table in (published, remade, before):
        table["quadrants"] = [1]
    note = search_machine_note(search, published, before, remade)
    assert "seed 0's models with 1 quadrant given score 98.20 (baseline) and 97.50 (GSNN), each equal to the last " \
           "digit to the table made again on CPU B, not to this page's table (98.00 and 97.20" in note
    assert "seed 0's baseline on its earlier schedule (99.40), to the last digit" in note
    measured = retraining_summary(before, remade)
    assert note.endswith(measured[0].lower() + measured[1:])
    assert "the baseline's by −0.95 (" in note  # seed against seed: (98.2 − 99.4 + 98.3 − 99.0) / 2
    # one number that differs, or a table missing: nothing is claimed
    assert search_machine_note(search, published, before, {**remade, "table": {"1": {
        **remade["table"]["1"], "gsnn_mc_1000": {"mean": 97.3, "per_seed": [97.49, 97.1]}}}}) == ""
    assert search_machine_note(search, published, {**before, "table": {"1": {
        **before["table"]["1"], "baseline_nll": {"mean": 99.2, "per_seed": [99.41, 99.0]}}}}, remade) == ""
    assert search_machine_note(search, published, None, remade) == ""
    assert search_machine_note(search, published, before, None) == ""


def test_a_seed_made_again_is_held_against_the_published_one_number_for_number():
    """`rerun_note` compares every number a rerun's runs record with the published runs of the same
    seed and setting, both ways (a number one side lacks, or a null against a number, differs), and not
    their seconds: all equal, the CPU the rerun names is most likely the one the published table was
    made on; one number off anywhere, it says how many of the table's are equal."""
    from cvae_lib.remake_report import rerun_note

    def run(seed, q, numbers, curve, epochs, seconds):
        return {"seed": seed, "quadrants": q, "numbers": numbers, "curves": {"S": [1, 10], "is": curve},
                "epochs_cvae": epochs, "seconds": seconds, "loaded_from_checkpoint": False,
                "quality": {"cvae_diversity": None},
                "remedies": {"gsnn": {"numbers": {"cvae_mc_1000": numbers["gsnn_mc_1000"]}, "train_seconds": seconds}}}

    unnamed = "2 CPU cores (x86_64, Linux), no GPU used"
    published = {"seeds": [0, 1], "machine": unnamed, "runs": [
        run(0, 1, {"baseline_nll": 98.0, "cvae_is_1000": 63.2, "gsnn_mc_1000": 97.2}, [64.0, 63.5], 40, 900.0),
        run(0, 3, {"baseline_nll": 25.5, "cvae_is_1000": 20.3, "gsnn_mc_1000": 25.9}, [21.0, 20.5], 30, 300.0),
        run(1, 1, {"baseline_nll": 98.2, "cvae_is_1000": 63.4, "gsnn_mc_1000": 97.3}, [64.1, 63.6], 45, 950.0)]}
    cpu_b = "2 CPU cores (CPU B; x86_64, Linux), no GPU used"

    def again(*runs, seeds=(0,), machine=cpu_b):  # the same runs on CPU B, each with other seconds
        return {"seeds": list(seeds), "machine": machine, "runs": [
            {**r, "seconds": r["seconds"] / 2,
             "remedies": {kind: {**remedy, "train_seconds": 1.0} for kind, remedy in r["remedies"].items()}}
            for r in runs]}

    rerun = again(*published["runs"][:2])
    note = rerun_note(published, rerun)
    # 3 numbers of the table per setting; recorded: those 3, 2 of the curve, the epochs, the GSNN's own
    # number (the null of the quality is compared, not counted)
    assert note == ("Seed 0 of the published table was also trained and evaluated again with the same command on "
                    f"{cpu_b}: all 6 of its numbers in the CLL table (3 in each of 2 settings) and all 14 numbers its "
                    "runs record (those 6, the estimates against S, the epoch where early stopping ended each model, "
                    "the GSNN's and the hybrid's own estimates, the completions' quality) came out the same as the "
                    "published ones to the last digit. So the published table was most likely made on that CPU model.")
    # no guess where the published record names its CPU, nor where the rerun's names none
    assert "most likely" not in rerun_note({**published, "machine": cpu_b.replace("B", "A")}, rerun)
    assert "most likely" not in rerun_note(published, {**rerun, "machine": unnamed})
    # two seeds, seed 1 in one setting only: plural words, and no "in each" count
    both = rerun_note(published, again(*published["runs"], seeds=(0, 1)))
    assert both.startswith("Seeds 0 and 1 of the published table were also") and "all 9 of their numbers in the " \
        "CLL table (in 2 settings) and all 21 numbers their runs record" in both
    # one point of a curve off in its last digit, a null against a number, a measure one side lacks: not
    # the same run, though the table's numbers are
    for changed in ({"curves": {"S": [1, 10], "is": [21.0, 20.500001]}}, {"quality": {"cvae_diversity": 0.5}},
                    {"quality": {}}, {"remedies": {}}):
        off = again(published["runs"][0], {**published["runs"][1], **changed})
        assert ": all 6 of its numbers in the CLL table came out the same as the published ones to the last " \
            "digit, but only" in rerun_note(published, off), changed
    assert "but only 13 of the 14 numbers its runs record" in rerun_note(
        published, again(published["runs"][0], {**published["runs"][1], "epochs_cvae": 31}))
    # the table's numbers off: how many are equal, and the largest change in size, made again − published
    moved = again({**published["runs"][0], "numbers": {**published["runs"][0]["numbers"], "baseline_nll": 98.1}},
                  {**published["runs"][1], "numbers": {**published["runs"][1]["numbers"], "cvae_is_1000": 19.8}})
    assert rerun_note(published, moved).endswith(": 4 of 6 of its numbers in the CLL table came out the same as the "
                                                 "published ones to the last digit (the largest change, made again − "
                                                 "published: −0.50 nats).")
    with pytest.raises(ValueError, match="share no seed"):
        rerun_note(published, {**rerun, "seeds": [5]})
    with pytest.raises(ValueError, match="holds no run of the seeds"):
        rerun_note(published, {**rerun, "runs": []})
    with pytest.raises(ValueError, match="a setting the published table lacks"):
        rerun_note(published, {**rerun, "runs": [*rerun["runs"], {**rerun["runs"][0], "quadrants": 2}]})


def test_the_seeds_made_again_on_the_amd_epyc_are_the_published_ones_to_the_last_digit(results):
    """What the README and chapter 5 say of results/remade/amd_epyc.json, checked without
    `rerun_note`: each of its runs, its seconds aside, is the published run of that seed and setting."""
    path = ROOT / "results" / "remade" / "amd_epyc.json"
    if not path.exists():
        pytest.skip("no seed made again on one more CPU")
    rerun = json.loads(path.read_text())

    def measured(value):
        if isinstance(value, dict):
            return {key: measured(item) for key, item in value.items()
                    if "seconds" not in key and key != "loaded_from_checkpoint"}  # the machine's, not the model's
        return [measured(item) for item in value] if isinstance(value, list) else value

    stored = {(run["seed"], run["quadrants"]): run for run in results["runs"]}
    assert rerun["seeds"] and set(rerun["seeds"]) <= set(results["seeds"])
    assert sorted((run["seed"], run["quadrants"]) for run in rerun["runs"]) == \
        [(seed, q) for seed in sorted(rerun["seeds"]) for q in (1, 2, 3)]
    assert "AMD EPYC, family 26, model 2" in rerun["machine"]
    for run in rerun["runs"]:
        assert measured(run) == measured(stored[run["seed"], run["quadrants"]]), (run["seed"], run["quadrants"])


def test_the_evaluation_chapter_shows_the_remade_table_in_words(results):
    from cvae_lib.remake_report import remake_paragraph, rerun_note, search_machine_note

    path = ROOT / "results" / "remade" / "cll.json"
    if not path.exists():
        pytest.skip("no table made again yet")
    nb = json.loads((ROOT / "book" / "05_evaluation.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "remake_paragraph(" in "".join(c["source"]))
    stored = "".join(next(o for o in cell["outputs"] if "text/markdown" in o.get("data", {}))["data"]["text/markdown"])
    assert stored == remake_paragraph(results, json.loads(path.read_text())), \
        "book/05_evaluation.ipynb says otherwise than results/remade/cll.json: re-run it"
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "search_machine_note(" in "".join(c["source"]))
    stored = "".join(next(o for o in cell["outputs"] if "text/markdown" in o.get("data", {}))["data"]["text/markdown"])
    search = json.loads((ROOT / "results" / "recipe_search.json").read_text())
    before = json.loads((ROOT / "results" / "before_search" / "cll.json").read_text())
    assert stored == search_machine_note(search, results, before, json.loads(path.read_text()))
    assert stored.startswith("The search's numbers tell where it ran")  # the numbers do place it
    rerun = ROOT / "results" / "remade" / "amd_epyc.json"
    if rerun.exists():
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "rerun_note(" in "".join(c["source"]))
        stored = "".join(next(o for o in cell["outputs"] if "text/markdown" in o.get("data", {}))["data"]["text/markdown"])
        assert stored == rerun_note(results, json.loads(rerun.read_text())), \
            "book/05_evaluation.ipynb says otherwise than results/remade/amd_epyc.json: re-run it"


def test_the_readme_holds_the_remade_table_against_the_published_one():
    from cvae_lib.remake_report import remade_block

    path = ROOT / "results" / "remade" / "cll.json"
    if not path.exists():
        pytest.skip("no table made again yet")
    rerun = path.parent / "amd_epyc.json"  # seeds made again on one more CPU model close the block
    block = remade_block(json.loads(RESULTS.read_text()), json.loads(path.read_text()),
                         json.loads(rerun.read_text()) if rerun.exists() else None)
    assert f"{block}\n<!-- remade-table:end" in (ROOT / "README.md").read_text(), \
        "run `python -m cvae_lib update-readme`"


def test_the_readme_says_where_the_recipe_search_ran(results):
    from cvae_lib.remake_report import search_machine_note

    paths = [ROOT / "results" / name for name in ("recipe_search.json", "before_search/cll.json", "remade/cll.json")]
    if not all(path.exists() for path in paths):
        pytest.skip("no search, table before it or remade table yet")
    search, before, remade = (json.loads(path.read_text()) for path in paths)
    note = search_machine_note(search, results, before, remade)
    assert note and f"{note}\n<!-- recipe-search:end" in (ROOT / "README.md").read_text(), \
        "run `python -m cvae_lib update-readme`"


def test_update_readme_fills_the_remade_block_from_the_table_beside_the_published_one(tmp_path, capsys):
    """`update-readme` renders results/remade/cll.json against the published table into its block,
    and leaves the README alone when the folder has no remade table."""
    from cvae_lib.__main__ import main
    from cvae_lib.remake_report import remake_summary
    from cvae_lib.report import readme_markers

    published = json.loads(RESULTS.read_text())
    remade = json.loads(RESULTS.read_text())
    remade["machine"] = "another CPU"
    remade["table"]["1"]["baseline_nll"]["per_seed"] = [v + 0.5 for v in remade["table"]["1"]["baseline_nll"]["per_seed"]]
    (tmp_path / "cll.json").write_text(json.dumps(published))
    readme = tmp_path / "README.md"
    blocks = ("cll-table", "remade-table")
    readme.write_text("# title\n" + "\n".join(line for block in blocks for line in readme_markers(block)) + "\n")
    start, end = readme_markers("remade-table")
    assert main(["update-readme", "--results", str(tmp_path / "cll.json"), "--readme", str(readme)]) == 0
    assert f"{start}\n{end}" in readme.read_text()  # no remade table beside cll.json: the block stays empty
    (tmp_path / "remade").mkdir()
    (tmp_path / "remade" / "cll.json").write_text(json.dumps(remade))
    assert main(["update-readme", "--results", str(tmp_path / "cll.json"), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert remake_summary(published, remade) in text and "on another CPU" in text
    assert "| baseline | 1 quadrant |" in text and "+0.50 | +0.50 |" in text
