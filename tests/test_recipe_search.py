"""The recipe search of the baseline, the GSNN and the hybrid (cvae_lib/recipe_search.py): the table's
schedule is the table's own model, each model is chosen on its own validation loss, and a run writes
recipe_search.json and resumes from its checkpoints."""
import dataclasses
import json
from pathlib import Path

from cvae_lib import recipe_search, search_report
from cvae_lib.recipe import ABLATION_CHOICE, RECIPE, model_recipes
from cvae_lib.settings import PROFILES
from cvae_lib.train import Schedule
from tests.test_engine import fast_config

STORED_SEARCH = Path(__file__).resolve().parents[1] / "results" / "recipe_search.json"


def test_the_tables_recipe_is_the_tables_own_model_and_the_others_lie_beside_it(tmp_path):
    config = fast_config(tmp_path, quadrants=(1,))
    first = {task.key: task for task in recipe_search.baseline_tasks(config, 1)}
    assert len(first) == len(recipe_search.CANDIDATES)
    assert first["search/q1/seed0/baseline/cosine50_lr0.002"].settings["checkpoint"] is None  # the table's
    constant = first["search/q1/seed0/baseline/constant_lr0.001"].settings
    assert constant["recipe"].baseline == Schedule(1e-3)
    assert constant["checkpoint"] == "baseline_constant_lr0.001.pt"
    # the second round on the table's baseline: the table's schedule is the table's gsnn.pt
    on_table = {task.key: task for task in recipe_search.model_tasks(config, 1, "cosine50_lr0.002")}
    assert len(on_table) == 1 + 2 * len(recipe_search.CANDIDATES)
    own = on_table["search/q1/seed0/gsnn/cosine20_lr0.002"].settings
    assert own["recipe"] == RECIPE and own["checkpoint"] is None and own["baseline_checkpoint"] is None
    other = on_table["search/q1/seed0/hybrid/cosine20_lr0.001"]
    assert other.settings["checkpoint"] == "hybrid_cosine20_lr0.001.pt"
    assert other.settings["recipe"].schedule_of("hybrid") == Schedule(1e-3, warmup_epochs=1, cosine_epochs=20)
    assert other.settings["recipe"].cvae == RECIPE.cvae  # only the hybrid's own schedule changes
    assert other.needs == ("search/q1/seed0/baseline/cosine50_lr0.002",)
    # on another baseline every model is the search's own, named after both schedules
    on_constant = {task.key: task for task in recipe_search.model_tasks(config, 1, "constant_lr0.001")}
    moved = on_constant["search/q1/seed0/gsnn/cosine20_lr0.002"].settings
    assert moved["checkpoint"] == "gsnn_cosine20_lr0.002_on_baseline_constant_lr0.001.pt"
    assert moved["baseline_checkpoint"] == "baseline_constant_lr0.001.pt"
    assert moved["recipe"].baseline == Schedule(1e-3)


def _record(val_loss: float, epochs: int, test: float) -> dict:
    return {"epochs_run": epochs, "best_epoch": epochs, "best_val_loss": val_loss, "made_seconds": 60.0,
            "test": test}


def test_each_model_is_chosen_on_its_validation_loss_never_on_the_test_number(tmp_path):
    config = fast_config(tmp_path, quadrants=(1,))
    losses = {"constant_lr0.001": 70.0, "cosine20_lr0.001": 68.5, "cosine20_lr0.002": 69.0,
              "cosine50_lr0.001": 71.0, "cosine50_lr0.002": 69.5}
    outputs = {f"search/q1/seed0/gsnn/{slug}": _record(loss, 2, test=100 - loss)  # the test ranks them backwards
               for slug, loss in losses.items()}
    outputs.update({f"search/q1/seed0/baseline/{slug}": _record(99.0 if slug == "cosine50_lr0.002" else 100.0, 20, 99.0)
                    for slug in losses})
    search = recipe_search.assemble(config, 1, ("baseline", "gsnn"), outputs)
    assert search["models"]["baseline"]["chosen"] == "cosine50_lr0.002"
    found = search["models"]["gsnn"]
    assert found["chosen"] == "cosine20_lr0.001" and found["table"] == "cosine20_lr0.002"
    text = recipe_search.render_recipe_search_markdown(search)
    assert text.count("**(chosen)**") == 1 and text.count("**(table's)**") == 1  # the GSNN's two
    assert text.count("**(table's, chosen)**") == 1  # the baseline's
    assert "| 68.50 | 31.50 |" in text and "“Table's” marks the schedule the table was trained with" in text


def test_a_search_writes_its_file_keeps_the_tables_checkpoints_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(recipe_search, "CANDIDATES", {  # the table's two schedules, and the one before the search
        "constant_lr0.001": Schedule(1e-3), "cosine20_lr0.002": Schedule(2e-3, warmup_epochs=1, cosine_epochs=20),
        "cosine50_lr0.002": Schedule(2e-3, warmup_epochs=1, cosine_epochs=50)})
    config = fast_config(tmp_path, quadrants=(3,))
    search = recipe_search.run_recipe_search(config, 3, ("baseline", "gsnn"), progress=False, log=lambda _: None)
    stored = json.loads((tmp_path / "out" / recipe_search.RESULTS_FILE).read_text())
    assert stored == json.loads(json.dumps(search))
    assert (tmp_path / "out" / "recipe_search.md").read_text().count("\n| ") == 6
    folder = tmp_path / "ckpt" / "fast" / "q3" / "seed0"
    baseline = stored["models"]["baseline"]["chosen"]
    assert stored["baseline_of_the_others"] == baseline
    searched = {p.name for p in (folder / "ablation").iterdir()}
    assert {"baseline_constant_lr0.001.pt", "baseline_cosine20_lr0.002.pt"} <= searched
    if baseline == "cosine50_lr0.002":  # the table's baseline: the table's GSNN is one of the candidates
        assert {"baseline.pt", "gsnn.pt", "evaluation_gsnn.json"} <= {p.name for p in folder.iterdir()}
        assert {"gsnn_constant_lr0.001.pt", "gsnn_cosine50_lr0.002.pt"} <= searched
    else:
        assert {f"gsnn_{slug}_on_baseline_{baseline}.pt" for slug in recipe_search.CANDIDATES} <= searched
    for model in ("baseline", "gsnn"):
        candidates = stored["models"][model]["candidates"]
        chosen = stored["models"][model]["chosen"]
        assert candidates[chosen]["best_val_loss"] == min(c["best_val_loss"] for c in candidates.values())
        assert all(0 < c["test"] < 784 and 1 <= c["epochs_run"] <= 2 for c in candidates.values())
    again = recipe_search.run_recipe_search(config, 3, ("baseline", "gsnn"), progress=False, log=lambda _: None)
    assert again["models"] == search["models"]  # every model loaded: the same records


def test_a_missing_search_says_in_one_line_which_command_makes_it(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="python -m cvae_lib recipe-search --profile full"):
        recipe_search.load_recipe_search(tmp_path)


def test_what_the_search_means_for_the_table_follows_the_schedules_it_was_trained_with():
    search = json.loads(STORED_SEARCH.read_text())

    def table(recipe):  # a cll.json's record of how its models were trained
        return {"profile": "full", "recipes": model_recipes(PROFILES["full"], recipe)}

    assert search_report.search_consequence(search, table(ABLATION_CHOICE)).startswith(
        "The table above was trained with the schedules marked “table's”, before this search.")
    assert search_report.search_consequence(search, table(RECIPE)).startswith(
        "The table above trains every model with the schedule its own search chose")
    elsewhere = dataclasses.replace(RECIPE, baseline=recipe_search.CANDIDATES["cosine20_lr0.001"])
    assert "other schedules" in search_report.search_consequence(search, table(elsewhere))
    smoke = {"profile": "fast", "recipes": model_recipes(PROFILES["fast"], RECIPE)}
    assert search_report.search_consequence(search, smoke) == (
        "The table above is a fast-profile run; the search and what it changes concern the full profile's table.")


def test_the_published_recipe_is_the_one_the_stored_search_chose_from_the_ablations():
    search = json.loads(STORED_SEARCH.read_text())
    for model, found in search["models"].items():
        assert RECIPE.schedule_of(model) == recipe_search.CANDIDATES[found["chosen"]], model
        # the search started from the ablation's recipe: its schedules are those marked "table's"
        assert ABLATION_CHOICE.schedule_of(model) == recipe_search.CANDIDATES[found["table"]], model
    # the CVAE's own recipe is the one its ablation chose: only the searched models move
    assert (RECIPE.cvae, RECIPE.kl_warmup_epochs, RECIPE.residual) == (
        ABLATION_CHOICE.cvae, ABLATION_CHOICE.kl_warmup_epochs, ABLATION_CHOICE.residual)


def _table(seeds, per_seed):  # a cll.json's table: per_seed[model key][setting] = one value per seed
    return {"seeds": seeds, "quadrants": [1, 2, 3],
            "table": {str(q): {key: {"per_seed": list(settings[i])} for key, settings in per_seed.items()}
                      for i, q in enumerate((1, 2, 3))}}


def test_the_retraining_summary_pairs_each_seed_with_the_same_seed_before():
    flat = lambda a, b, c: [(a, a + 0.1, a - 0.1), (b, b + 0.1, b - 0.1), (c, c + 0.1, c - 0.1)]
    before = {"baseline_nll": flat(100, 60, 26), "cvae_is_1000": flat(63, 44, 20), "gsnn_mc_1000": flat(99, 61, 26)}
    # reorder the per-seed lists: seeds (2, 0, 1) after; each seed is 2 nats lower for the baseline
    after_rows = {"baseline_nll": flat(98, 58, 24), "cvae_is_1000": flat(63, 44, 20),
                  "gsnn_mc_1000": flat(99.5, 61.5, 26.5)}
    after = _table([2, 0, 1], {k: [tuple(v[i] for i in (2, 0, 1)) for v in settings]
                               for k, settings in after_rows.items()})
    text = search_report.retraining_summary(_table([0, 1, 2], before), after)
    # the same change for every seed: the interval is a point; the row names follow the table's keys
    assert "the baseline's by −2.00 (−2.00 to −2.00), −2.00 (−2.00 to −2.00), −2.00 (−2.00 to −2.00)" in text
    assert "the CVAE's by +0.00 (+0.00 to +0.00)" in text and "the GSNN's by +0.50" in text
    assert "seeds 2, 0 and 1" in text and "95% intervals" in text
    assert text.endswith("did not make the CVAE measurably better in any setting (no interval of the CVAE's change "
                         "lies below 0), although its prior network reads that guess.")
    only = lambda rows, seed: {k: [(v[seed],) for v in settings] for k, settings in rows.items()}
    one = search_report.retraining_summary(_table([0, 1, 2], before), _table([1], only(after_rows, 1)))
    assert "(seed 1;" not in one and "seed 1; with" in one and one.endswith("the spread between seeds.")
    import pytest

    with pytest.raises(ValueError, match="share no seed"):
        search_report.retraining_summary(_table([0], only(before, 0)), _table([5], only(after_rows, 0)))
