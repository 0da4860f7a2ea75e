"""The hybrid's weight α chosen on the validation split (cvae_lib/alpha_sweep.py; chapter 6's words for it
in alpha_report.py): its task list reuses the table's models, the choice is made on validation alone, and
a run writes alpha_sweep.json and resumes."""
import json
import shutil

import pytest

from cvae_lib import alpha_report, alpha_sweep
from cvae_lib.score_plots import plot_alpha_sweep
from cvae_lib.recipe import HYBRID_ALPHA
from tests.test_engine import fast_config


def test_the_sweep_reuses_the_tables_cvae_and_hybrid_and_scores_each_alpha_after_its_model(tmp_path):
    config = fast_config(tmp_path, quadrants=(1, 2))
    tasks = {task.key: task for task in alpha_sweep.sweep_tasks(config, [0, 1], alphas=(0.25, HYBRID_ALPHA))}
    # the CVAE (α = 1) and the recipe's hybrid are the table's own tasks: made once in a publish run
    assert {"q1/seed0/cvae", "q1/seed0/hybrid", "q2/seed1/hybrid", "alpha/q1/seed0/hybrid0.25"} <= set(tasks)
    assert tasks["alpha/q1/seed0/hybrid0.25"].settings == {"quadrants": 1, "objective": "hybrid", "alpha": 0.25}
    assert "alpha" not in tasks["q1/seed0/hybrid"].settings  # the table's hybrid.pt, as reproduce names it
    for alpha in ("0.25", "0.5", "1"):
        validate = tasks[f"alpha/q2/seed1/validate{alpha}"]
        assert validate.action == "validate" and validate.settings["samples"] == alpha_sweep.VALIDATION_SAMPLES
        assert len(validate.needs) == 1 and tasks[validate.needs[0]].action == "model"
    assert len(tasks) == 2 * 2 * (1 + 3 * 2)  # seeds × settings × (baseline + 3 models and their scores)


def _entry(cll: float, one_draw: float) -> dict:
    return {"validation_cll": {"mean": cll, "std": 0.1, "per_seed": [cll]},
            "validation_one_draw": {"mean": one_draw, "std": 0.2, "per_seed": [one_draw]}}


def test_alpha_is_chosen_among_the_hybrids_by_the_validation_cll_alone():
    sweep = {"validation_samples": 100, "settings": {
        "1": {"alphas": {"0.1": _entry(70, 90), "0.75": _entry(64, 150), "1": _entry(63, 175)}},
        "3": {"alphas": {"0.1": _entry(21, 25), "0.75": _entry(22, 30), "1": _entry(20, 33)}}}}
    # α = 1 (the CVAE) has the lowest CLL in both, but it is the end of the family, not a hybrid
    assert alpha_sweep.choose(sweep) == {1: 0.75, 3: 0.1}
    sweep["settings"]["1"]["chosen_alpha"] = 0.75
    figure = plot_alpha_sweep(sweep)
    assert len(figure.axes) == 4 and figure.axes[0].get_title() == "1 input quadrant"


@pytest.fixture(scope="module")
def first_sweep(tmp_path_factory):
    """One sweep of the fast profile (3 quadrants, seed 0, α = 0.25 and the recipe's): its folder and
    what it returned. Tests work on copies of the folder."""
    base = tmp_path_factory.mktemp("first_sweep")
    sweep = alpha_sweep.run_alpha_sweep(fast_config(base, quadrants=(3,)), [0], alphas=(0.25, HYBRID_ALPHA),
                                        progress=False, log=lambda _: None)
    return base, sweep


@pytest.fixture
def copy_of_sweep(first_sweep, tmp_path):
    base, sweep = first_sweep
    shutil.copytree(base, tmp_path, dirs_exist_ok=True)
    return fast_config(tmp_path, quadrants=(3,)), sweep


def test_a_sweep_writes_its_scores_and_the_chosen_hybrids_test_row_and_resumes(copy_of_sweep, tmp_path):
    config, sweep = copy_of_sweep
    stored = json.loads((tmp_path / "out" / alpha_sweep.RESULTS_FILE).read_text())
    assert stored == json.loads(json.dumps(sweep))
    entry = stored["settings"]["3"]
    assert set(entry["alphas"]) == {"0.25", "0.5", "1"} and entry["chosen_alpha"] in (0.25, 0.5)
    chosen = entry["alphas"][f"{entry['chosen_alpha']:g}"]["validation_cll"]["mean"]
    assert chosen == min(entry["alphas"][a]["validation_cll"]["mean"] for a in ("0.25", "0.5"))
    for scores in entry["alphas"].values():  # importance sampling beats one draw from the prior
        assert 0 < scores["validation_cll"]["mean"] < scores["validation_one_draw"]["mean"]
    assert set(entry["test"]) == {"cvae_is_100", "one_draw"}
    folder = tmp_path / "ckpt" / "fast" / "q3" / "seed0"
    assert {"hybrid.pt", "hybrid_alpha0.25.pt", "validation_hybrid_alpha0.25.json", "validation_cvae.json"} <= \
        {path.name for path in folder.iterdir()}
    # a second run loads every model and score: the same numbers
    again = alpha_sweep.run_alpha_sweep(config, [0], alphas=(0.25, HYBRID_ALPHA), progress=False,
                                        log=lambda _: None)
    assert again["settings"] == sweep["settings"]


def test_the_chapters_table_marks_the_chosen_alpha_and_holds_it_against_the_cvae_of_the_same_seeds():
    sweep = {"validation_samples": 100, "seeds": [1], "table_alpha": 0.5, "settings": {
        "1": {"alphas": {"0.1": _entry(70, 90), "0.5": _entry(66, 120), "1": _entry(63, 175)}, "chosen_alpha": 0.5,
              "test": {"cvae_is_1000": {"mean": 65.5, "per_seed": [65.5]},
                       "one_draw": {"mean": 118.0, "per_seed": [118.0]}}}}}
    runs = [{"quadrants": 1, "seed": seed, "numbers": {"cvae_is_1000": cvae}, "curves": {"S": [1], "mc": [one_draw]},
             "remedies": {"hybrid": {"numbers": {"cvae_is_1000": hybrid}}}}
            for seed, cvae, hybrid, one_draw in ((0, 63.0, 73.0, 170.0), (1, 64.0, 66.0, 171.0))]
    text = alpha_report.render_alpha_sweep_markdown(sweep, {"seeds": [0, 1], "runs": runs})
    assert "| 0.5 | 66.00 / 120.00 ← |" in text and "| 1 (the CVAE) | 63.00 / 175.00 |" in text
    # seed 1's CVAE and table hybrid, not the mean over the table's seeds, and the reader is told so
    assert ("with 1 input quadrant, α = 0.5 scores 65.50 nats by importance sampling (the CVAE 64.00, the table's "
            "α = 0.5 66.00) and 118.00 with one draw from the prior (the CVAE 171.00)") in text
    assert "On the test set (seed 1's models, not the mean over seeds 0, 1 of the tables above;" in text


def _trained(cll: float, one_draw: float, epochs: int) -> dict:
    return {**_entry(cll, one_draw), "epochs_run": [epochs], "best_epoch": [epochs - 5]}


def test_the_findings_say_how_each_score_moves_with_alpha_and_which_hybrids_stopped_early():
    epochs = alpha_report.schedule_epochs("full")
    sweep = {"profile": "full", "seeds": [0], "settings": {
        # the CLL rises and one draw falls at every step down from α = 1; α = 0.1 stopped early
        "1": {"alphas": {"0.1": _trained(70, 90, epochs - 21), "0.5": _trained(66, 120, epochs),
                         "1": _trained(63, 175, epochs)}, "chosen_alpha": 0.5,
              "test": {"cvae_is_1000": {"mean": 65.5, "per_seed": [65.5]},
                       "one_draw": {"mean": 118.0, "per_seed": [118.0]}}},
        # here a hybrid beats the CVAE's CLL, and one draw does not fall throughout
        "3": {"alphas": {"0.1": _trained(21, 34, epochs), "0.5": _trained(19.5, 30, epochs),
                         "1": _trained(20, 33, epochs)}, "chosen_alpha": 0.5}}}
    runs = [{"quadrants": 1, "seed": 0, "numbers": {"cvae_is_1000": 63.2, "baseline_nll": 99.4},
             "curves": {"S": [1, 10], "mc": [170.0, 100.0]},
             "remedies": {"gsnn": {"curves": {"S": [1], "mc": [98.9]}}}},
            {"quadrants": 1, "seed": 1, "numbers": {"cvae_is_1000": 99.0, "baseline_nll": 1.0},
             "curves": {"S": [1], "mc": [999.0]}, "remedies": {"gsnn": {"curves": {"S": [1], "mc": [1.0]}}}}]
    findings = alpha_report.sweep_findings(sweep, {"runs": runs})
    one, three = findings[1], findings[3]
    assert one["cll_rises_as_alpha_falls"] and one["one_draw_falls_as_alpha_falls"]
    assert (one["cvae_cll"], one["best_hybrid_cll"], one["chosen_cll"], one["chosen_one_draw"]) == (63, 66, 66, 120)
    assert one["stopped_early"] == {0.1: [epochs - 21]} and one["schedule_epochs"] == epochs
    # the test row beside the CVAE of the sweep's seeds only (seed 1's 99 is not averaged in)
    assert (one["test_cll"], one["cvae_test_cll"], one["test_one_draw"], one["cvae_test_one_draw"]) == \
        (65.5, 63.2, 118.0, 170.0)
    assert (one["baseline_test_nll"], one["gsnn_test_one_draw"]) == (99.4, 98.9)
    assert not three["cll_rises_as_alpha_falls"] and not three["one_draw_falls_as_alpha_falls"]
    assert three["best_hybrid_cll"] < three["cvae_cll"] and three["stopped_early"] == {}
    assert "test_cll" not in three  # no test row stored for it


def test_a_missing_sweep_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m cvae_lib alpha-sweep --profile full"):
        alpha_sweep.load_alpha_sweep(tmp_path)


def test_seeds_added_to_a_sweeps_test_rows_keep_its_alpha_and_its_other_seeds(copy_of_sweep, tmp_path):
    config, sweep = copy_of_sweep
    quiet = {"progress": False, "log": lambda _: None}
    before = sweep["settings"]["3"]
    assert sweep["test_seeds"] == [0]
    added = alpha_sweep.add_test_seeds(config, [2], **quiet)
    stored = json.loads((tmp_path / "out" / alpha_sweep.RESULTS_FILE).read_text())
    assert stored == json.loads(json.dumps(added))
    entry = stored["settings"]["3"]
    # nothing swept again: the validation scores and the choice are the stored ones
    assert entry["alphas"] == before["alphas"] and entry["chosen_alpha"] == before["chosen_alpha"]
    assert stored["seeds"] == [0] and alpha_sweep.tested_seeds(stored) == [0, 2]
    assert set(entry["test"]) == set(before["test"]) == {"cvae_is_100", "one_draw"}
    for name, row in entry["test"].items():
        assert row["per_seed"][0] == before["test"][name]["per_seed"][0]  # seed 0's kept as stored
        assert row["per_seed"][1] != row["per_seed"][0]  # seed 2's own models and data split
        assert row["mean"] == pytest.approx(sum(row["per_seed"]) / 2, rel=1e-12)
    assert entry["test"]["cvae_is_100"]["per_seed"][1] < entry["test"]["one_draw"]["per_seed"][1]
    assert list(entry["added_baseline_nll"]) == ["2"] and entry["added_baseline_nll"]["2"] > 0
    [record] = stored["added_test_seeds"]
    assert record["seeds"] == [2] and "CPU cores" in record["machine"] and "torch" in record["versions"]
    chosen = f"hybrid_alpha{entry['chosen_alpha']:g}.pt" if entry["chosen_alpha"] != HYBRID_ALPHA else "hybrid.pt"
    assert (tmp_path / "ckpt" / "fast" / "q3" / "seed2" / chosen).exists()
    # adding the same seed again loads its models: the same rows, the seed not counted twice
    again = alpha_sweep.add_test_seeds(config, [2, 2], **quiet)
    assert again["settings"]["3"]["test"] == entry["test"] and alpha_sweep.tested_seeds(again) == [0, 2]


def test_seeds_are_added_only_to_a_finished_sweep_of_the_same_profile(tmp_path):
    config = fast_config(tmp_path, quadrants=(3,))
    with pytest.raises(FileNotFoundError, match="alpha-sweep"):
        alpha_sweep.add_test_seeds(config, [1], progress=False)
    stored = {"profile": "full", "seeds": [0], "settings": {"3": {"alphas": {}, "chosen_alpha": 0.9, "test": {}}}}
    (tmp_path / "out" / alpha_sweep.RESULTS_FILE).write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="of profile 'full', not 'fast': pass --profile full"):
        alpha_sweep.add_test_seeds(config, [1], progress=False)
    stored["profile"] = "fast"
    del stored["settings"]["3"]["test"]
    (tmp_path / "out" / alpha_sweep.RESULTS_FILE).write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="no chosen α with a test row"):
        alpha_sweep.add_test_seeds(config, [1], progress=False)


def test_the_chosen_hybrid_over_several_seeds_is_held_against_the_cvae_seed_by_seed():
    seeds = [0, 1, 2]
    hybrid, cvae = [65.0, 66.0, 67.5], [63.0, 63.5, 64.0]
    hybrid_draw, cvae_draw = [119.0, 121.0, 120.0], [170.0, 180.0, 175.0]
    sweep = {"profile": "full", "validation_samples": 100, "seeds": [0], "test_seeds": seeds, "table_alpha": 0.5,
             "settings": {"1": {"alphas": {"0.9": _trained(65, 120, 50), "1": _trained(63, 175, 50)},
                                "chosen_alpha": 0.9,
                                "test": {"cvae_is_1000": {"mean": sum(hybrid) / 3, "per_seed": hybrid},
                                         "one_draw": {"mean": sum(hybrid_draw) / 3, "per_seed": hybrid_draw}}}}}
    runs = [{"quadrants": 1, "seed": seed, "numbers": {"cvae_is_1000": c, "baseline_nll": 98.0},
             "curves": {"S": [1], "mc": [d]}, "remedies": {"hybrid": {"numbers": {"cvae_is_1000": 73.0}},
                                                           "gsnn": {"curves": {"S": [1], "mc": [97.0]}}}}
            for seed, c, d in zip(seeds, cvae, cvae_draw)]
    findings = alpha_report.sweep_findings(sweep, {"seeds": seeds, "runs": runs})[1]
    # the differences per seed are 2.0, 2.5, 3.5: mean 2.667, standard deviation 0.764, t(0.975, 2) = 4.303
    low, high = findings["test_cll_interval"]
    half = 4.302653 * 0.7637626 / 3 ** 0.5
    assert (low, high) == pytest.approx((8 / 3 - half, 8 / 3 + half), abs=1e-4)
    assert findings["test_one_draw_interval"][1] < 0 < findings["test_cll_interval"][0]
    text = alpha_report.render_alpha_sweep_markdown(sweep, {"seeds": seeds, "runs": runs})
    assert (f"α = 0.9 scores 66.17 nats by importance sampling (the CVAE 63.50, the table's α = 0.5 73.00; "
            f"hybrid − CVAE 2.67, 95% interval {low:.2f} to {high:.2f} over 3 seeds)") in text
    assert "On the test set (the mean over seeds 0, 1, 2, the α chosen on the validation split of seed 0;" in text
    assert "not the mean" not in text and "trained again" not in text
    # seeds added later on baselines other than the table's: the reader is told by how much those differ
    sweep["settings"]["1"]["added_baseline_nll"] = {"1": 98.0, "2": 98.08}
    assert text.endswith("over 3 seeds).\n")
    assert ("The hybrids of seed 2 were added later, on baselines trained again for them rather than the table's "
            "(the file names the machine): their test NLLs differ from the table's baselines by up to 0.08 nats.") \
        in alpha_report.render_alpha_sweep_markdown(sweep, {"seeds": seeds, "runs": runs})
    runs.pop()  # a table without seed 2 cannot be held against a test row of seed 2
    with pytest.raises(ValueError, match=r"no run of seed\(s\) \[2\]"):
        alpha_report.render_alpha_sweep_markdown(sweep, {"seeds": [0, 1], "runs": runs})
