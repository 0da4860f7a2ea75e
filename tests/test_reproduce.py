import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from cvae_lib import experiment, report, reproduce, results as results_module
from cvae_lib.__main__ import main
from cvae_lib.settings import RunConfig, RunProfile

ROOT = Path(__file__).resolve().parents[1]

MNIST_TINY = RunProfile(name="tiny", train_size=512, val_size=256, test_size=128, max_epochs=2,
                        patience=2, batch_size=128, mc_samples=(10,), is_samples=(10, 20),
                        elbo_samples=2)


def tiny_config(checkpoints, out, quadrants=(1, 3), seed=0):
    """MNIST from the environment (as the tests' conftest sets it), everything else explicit."""
    return RunConfig.from_environment(MNIST_TINY, seed=seed, quadrants=quadrants, checkpoint_dir=checkpoints,
                                      results_dir=out, device="cpu")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiny")
    results = reproduce.reproduce(tiny_config(base / "ckpt", base / "out"), seeds=[0, 1], progress=False,
                                  log=lambda _: None)
    return base, results


def test_results_file_has_the_documented_shape(tiny_run):
    base, results = tiny_run
    stored = json.loads((base / "out" / "cll.json").read_text())
    assert stored == json.loads(json.dumps(results))
    assert stored["profile"] == "tiny" and stored["seeds"] == [0, 1]
    assert set(stored["table"]) == {"1", "3"}
    keys = ["baseline_nll", "cvae_neg_elbo", "cvae_mc_10", "cvae_is_10", "cvae_is_20", "gsnn_mc_20", "hybrid_is_20"]
    for column in stored["table"].values():
        assert list(column) == keys
        for entry in column.values():
            assert len(entry["per_seed"]) == 2
            assert entry["mean"] == pytest.approx(sum(entry["per_seed"]) / 2)
            assert entry["std"] >= 0
    assert len(stored["runs"]) == 4
    run = stored["runs"][0]
    for key in ("seed", "quadrants", "epochs_baseline", "epochs_cvae", "seconds", "numbers"):
        assert key in run
    assert {"torch", "pyro", "torchvision"} <= set(stored["versions"])
    assert stored["seconds_per_seed"] > 0 and stored["machine"]
    # fewer input quadrants leave more to predict, so the loss is larger
    assert stored["table"]["1"]["baseline_nll"]["mean"] > stored["table"]["3"]["baseline_nll"]["mean"]


def test_the_remedies_are_trained_beside_the_cvae_and_evaluated_with_their_own_estimators(tiny_run):
    base, results = tiny_run
    assert results["hybrid_alpha"] == 0.5 and results["recipe"]
    for run in results["runs"]:
        folder = base / "ckpt" / "tiny" / f"q{run['quadrants']}" / f"seed{run['seed']}"
        assert {"gsnn.pt", "hybrid.pt", "evaluation_gsnn.json", "evaluation_hybrid.json"} <= {
            p.name for p in folder.iterdir()}
        gsnn, hybrid = run["remedies"]["gsnn"], run["remedies"]["hybrid"]
        # the GSNN has no recognition network: Monte Carlo from its prior only, up to the largest S
        assert set(gsnn["numbers"]) == {"baseline_nll", "cvae_mc_10", "cvae_mc_20"}
        assert run["numbers"]["gsnn_mc_20"] == gsnn["estimate"] == gsnn["numbers"]["cvae_mc_20"]
        assert run["numbers"]["hybrid_is_20"] == hybrid["estimate"] == hybrid["numbers"]["cvae_is_20"]
        assert hybrid["numbers"]["baseline_nll"] == run["numbers"]["baseline_nll"]  # the same baseline
        assert gsnn["seconds"] == pytest.approx(gsnn["train_seconds"] + gsnn["evaluation_seconds"])
        # chapter 6 reads the estimate against S: the GSNN's from its prior, the hybrid's both ways
        assert gsnn["curves"]["mc"][gsnn["curves"]["S"].index(20)] == pytest.approx(gsnn["numbers"]["cvae_mc_20"])
        assert all(value is None for value in gsnn["curves"]["is"])
        assert hybrid["curves"]["is"][hybrid["curves"]["S"].index(20)] == pytest.approx(hybrid["numbers"]["cvae_is_20"])
    assert results["remedy_seconds_per_seed"]["gsnn"] > 0 and results["remedy_seconds_per_seed"]["hybrid"] > 0
    table = report.render_table_markdown(results)
    assert "GSNN: Monte Carlo from the prior, S = 20" in table and "hybrid (α = 0.5): importance sampling" in table
    gap = report.render_remedies_markdown(results)
    gsnn_20 = [run["remedies"]["gsnn"]["numbers"]["cvae_mc_20"] for run in results["runs"] if run["quadrants"] == 3]
    line = next(row for row in gap.splitlines() if row.startswith("| GSNN: Monte Carlo from the prior, S = 20 "))
    assert line.rstrip(" |").endswith(f"{sum(gsnn_20) / 2:.2f} ± {statistics.stdev(gsnn_20):.2f}")
    assert "q(z\\|x,y)" in gap and "α = 0.5" in gap


def test_each_models_recipe_is_recorded_and_the_table_says_why_each_stopped(tiny_run):
    _, results = tiny_run
    recipes = results["recipes"]
    assert set(recipes) == {"baseline", "cvae", "gsnn", "hybrid"}
    assert recipes["gsnn"]["lr"] == recipes["cvae"]["lr"] and "α = 0.5" in recipes["hybrid"]["objective"]
    assert "kl_warmup_epochs" not in recipes["gsnn"]  # no KL term to anneal
    training = report.render_training_markdown(results)
    runs = len(results["runs"])
    for model, name in report.MODEL_NAMES.items():
        epochs = [report.epochs_run(run, model) for run in results["runs"]]
        last = recipes[model]["cosine_epochs"] or recipes[model]["max_epochs"]
        row = next(line for line in training.splitlines() if line.startswith(f"| {name} |"))
        # every run is counted once, as ended by its schedule or by a validation plateau
        plateau = sum(e < last for e in epochs)
        assert (f"plateau in {plateau} of {runs}" in row) if plateau else (f"schedule's end in all {runs}" in row)
        assert str(max(epochs)) in row.split("|")[4]


def test_markdown_table_is_rendered_from_the_numbers(tiny_run):
    base, results = tiny_run
    table = (base / "out" / "cll.md").read_text()
    assert table == report.render_table_markdown(results)
    entry = results["table"]["3"]["cvae_is_20"]
    assert f"{entry['mean']:.2f} ± {entry['std']:.2f}" in table
    assert "importance sampling, S = 20" in table and "| 1 quadrant | 3 quadrants |" in table
    for name in results["figures"]:
        assert (base / "out" / name).stat().st_size > 1000


def test_the_same_command_gives_the_same_numbers_and_reuses_checkpoints(tiny_run, tmp_path):
    base, first = tiny_run
    fresh = reproduce.reproduce(tiny_config(tmp_path / "ckpt", tmp_path / "a"), seeds=[0, 1], progress=False,
                                log=lambda _: None)
    assert fresh["table"] == first["table"]
    assert not any(run["loaded_from_checkpoint"] for run in fresh["runs"])
    loaded = reproduce.reproduce(tiny_config(base / "ckpt", tmp_path / "b", quadrants=[3], seed=1),
                                 progress=False, log=lambda _: None)
    assert all(run["loaded_from_checkpoint"] for run in loaded["runs"])
    assert loaded["runs"][0]["numbers"] == first["runs"][3]["numbers"]


def _made(runs):  # the runs as made, whether this run trained them or loaded them
    return [{k: v for k, v in run.items() if k != "loaded_from_checkpoint"} for run in runs]


def _run_tiny(base, out, seeds, **options):
    return reproduce.reproduce(tiny_config(base / "ckpt", out), seeds=seeds, progress=False, log=lambda _: None,
                               **options)


@pytest.mark.parametrize("first, added", [([0], [1]), ([1], [0])])
def test_seeds_added_to_a_stored_table_give_the_table_of_all_of_them(tiny_run, tmp_path, first, added):
    base, both = tiny_run  # seeds 0 and 1 in one run; here one, then the other added to its table
    _run_tiny(base, tmp_path, first)
    figures = {name: (tmp_path / name).read_bytes() for name in both["figures"]}
    merged = _run_tiny(base, tmp_path, added, add_to_stored=True)
    assert merged["seeds"] == [0, 1] and merged["table"] == both["table"]
    assert _made(merged["runs"]) == _made(both["runs"])
    assert merged["seconds_by_seed"] == both["seconds_by_seed"] and merged["floor"] == both["floor"]
    assert json.loads((tmp_path / "cll.json").read_text())["table"] == both["table"]
    # the figures show seed 0's models: kept when seed 0 was stored, drawn when it is added
    unchanged = [(tmp_path / name).read_bytes() == image for name, image in figures.items()]
    assert all(unchanged) if first == [0] else not all(unchanged)
    again = _run_tiny(base, tmp_path, [1], add_to_stored=True)  # a stored seed run again replaces itself
    assert again["seeds"] == [0, 1] and _made(again["runs"]) == _made(both["runs"])


def test_seeds_are_added_only_to_a_table_of_the_same_experiment(tiny_run, tmp_path):
    base, _ = tiny_run
    with pytest.raises(FileNotFoundError, match="run python -m cvae_lib reproduce"):
        _run_tiny(base, tmp_path, [1], add_to_stored=True)
    reproduce.reproduce(tiny_config(base / "ckpt", tmp_path, quadrants=[3]), seeds=[0], progress=False,
                        log=lambda _: None)
    with pytest.raises(ValueError, match=r"another quadrants \(\[3\]; this run: \[1, 3\]\).*new folder"):
        _run_tiny(base, tmp_path, [1], add_to_stored=True)
    stored = json.loads((tmp_path / "cll.json").read_text())
    (tmp_path / stored["figures"][0]).unlink()
    with pytest.raises(FileNotFoundError, match="is missing"):
        reproduce.reproduce(tiny_config(base / "ckpt", tmp_path, quadrants=[3]), seeds=[1], progress=False,
                            log=lambda _: None, add_to_stored=True)


def test_the_gap_is_baseline_minus_the_best_importance_sampling_estimate(tiny_run):
    _, results = tiny_run
    for q, pixels in (("1", 588), ("3", 196)):
        gap, column = results["gap"][q], results["table"][q]
        per_image = [b - c for b, c in zip(column["baseline_nll"]["per_seed"], column["cvae_is_20"]["per_seed"])]
        assert gap["estimator"] == "cvae_is_20" and gap["output_pixels"] == pixels
        assert gap["nats_per_image"]["per_seed"] == pytest.approx(per_image)
        assert gap["nats_per_output_pixel"]["mean"] == pytest.approx(sum(per_image) / 2 / pixels)
    assert "gap: baseline − CVAE IS (S = 20), per output pixel" in report.render_table_markdown(results)


def test_completion_quality_is_stored_per_seed_with_the_classifier(tiny_run):
    base, results = tiny_run
    assert 0 <= results["classifier"]["test_accuracy"] <= 1
    for q in ("1", "3"):
        column = results["quality"][q]
        assert list(column) == list(results_module.QUALITY_KEYS)
        per_seed = [run["quality"]["cvae_top_k_accuracy"] for run in results["runs"] if str(run["quadrants"]) == q]
        assert column["cvae_top_k_accuracy"]["per_seed"] == per_seed
        # the true digit among K samples is at least as likely as the one most likely completion
        assert all(0 <= v <= 1 for v in per_seed)
        assert column["cvae_best_of_k_mse"]["mean"] >= 0
    assert (base / "out" / "quality.md").read_text() == report.render_quality_markdown(results)
    assert (base / "ckpt" / "tiny" / "digits" / "seed0" / "cnn_digit_classifier.pt").exists()


def test_evaluations_are_reused_only_while_the_checkpoints_are_unchanged(tiny_run, tmp_path):
    base, first = tiny_run
    cache = base / "ckpt" / "tiny" / "q3" / "seed1" / experiment.EVALUATION_CACHE
    stored = json.loads(cache.read_text())
    assert stored["evaluation"]["numbers"].items() <= first["runs"][3]["numbers"].items()  # + the remedies
    stored["evaluation"]["numbers"]["baseline_nll"] = -1.0  # a marker: only the cache can produce it
    cache.write_text(json.dumps(stored))
    run = lambda: reproduce.reproduce(tiny_config(base / "ckpt", tmp_path, quadrants=[3], seed=1),
                                      progress=False, log=lambda _: None)
    assert run()["runs"][0]["numbers"]["baseline_nll"] == -1.0
    stored["key"]["checkpoints_sha256"][1] = "0" * 64  # as if the CVAE had been retrained
    cache.write_text(json.dumps(stored))
    assert run()["runs"][0]["numbers"] == first["runs"][3]["numbers"]
    assert json.loads(cache.read_text())["evaluation"]["numbers"].items() <= first["runs"][3]["numbers"].items()


def test_the_quality_measures_are_reused_only_while_the_checkpoints_are_unchanged(tiny_run, tmp_path):
    base, first = tiny_run
    shutil.copytree(base / "ckpt", tmp_path / "ckpt")  # a copy: the module's other tests keep the run intact
    cache = tmp_path / "ckpt" / "tiny" / "q3" / "seed1" / experiment.QUALITY_CACHE
    stored = json.loads(cache.read_text())
    assert stored["measured"]["quality"] == first["runs"][3]["quality"]
    stored["measured"]["quality"]["baseline_accuracy"] = -1.0  # a marker: only the cache can produce it
    cache.write_text(json.dumps(stored))
    run = lambda: reproduce.reproduce(tiny_config(tmp_path / "ckpt", tmp_path / "out", quadrants=[3], seed=1),
                                      progress=False, log=lambda _: None)
    assert run()["runs"][0]["quality"]["baseline_accuracy"] == -1.0
    stored["key"]["checkpoints_sha256"][2] = "0" * 64  # as if the digit classifier had been retrained
    cache.write_text(json.dumps(stored))
    assert run()["runs"][0]["quality"] == first["runs"][3]["quality"]
    assert json.loads(cache.read_text())["measured"]["quality"] == first["runs"][3]["quality"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cvae_lib", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_help_documents_every_command_and_option():
    top = _cli("--help")
    assert top.returncode == 0 and "reproduce" in top.stdout
    sub = _cli("reproduce", "--help")
    for option in ("--profile", "--quadrants", "--seed", "--seeds", "--out", "--data-dir",
                   "--checkpoint-dir", "--no-progress", "--add-to-stored"):
        assert option in sub.stdout


@pytest.mark.parametrize("args, message", [
    (["reproduce", "--quadrants", "4"], "use 1, 2 or 3"),
    (["reproduce", "--quadrants", "two"], "use 1, 2 or 3"),
    (["reproduce", "--profile", "huge"], "invalid choice"),
    (["reproduce", "--seed", "-3"], "non-negative"),
    (["reproduce", "--seed", "1", "--seeds", "2"], "not allowed with"),
    ([], "required"),
    (["train"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_cli_reproduces_the_fast_profile_end_to_end(fast_cli_run):
    base, done = fast_cli_run  # `reproduce --profile fast --quadrants 1 3`, seed 0 by default
    assert done.returncode == 0, done.stderr
    results = json.loads((base / "out" / "cll.json").read_text())
    assert results["profile"] == "fast" and results["test_images"] == 1000 and results["seeds"] == [0]
    column = results["table"]["3"]
    assert column["cvae_is_100"]["mean"] < column["baseline_nll"]["mean"]
    # the floor of the grey-scale targets: above 0, below every model's score (chapter 3)
    assert 0 < results["floor"]["3"] < column["cvae_is_100"]["mean"] and results["floor"]["1"] > results["floor"]["3"]
    assert "floor: the Bernoulli entropy" in (base / "out" / "cll.md").read_text()
    assert (base / "out" / "predictions_q3.png").exists()
    assert (base / "ckpt" / "fast" / "q3" / "seed0" / "cvae.pt").exists()


def test_the_ablation_compares_recipes_with_the_chosen_one_among_them(tiny_run, tmp_path):
    from cvae_lib.ablation import Variant, ablation_summary, render_ablation_markdown, training_ablation
    from cvae_lib.recipe import ABLATION_CHOICE, FIRST_EDITION, Recipe
    from cvae_lib.train import Schedule

    base, first = tiny_run
    config = tiny_config(base / "ckpt", tmp_path, quadrants=[3])
    variants = [Variant("first_edition", FIRST_EDITION), Variant("first_edition_step", FIRST_EDITION, 1e-4),
                Variant("cosine", Recipe("cosine", cvae=Schedule(2e-3, cosine_epochs=2)))]
    results = training_ablation(config, 3, variants=variants, progress=False)
    chosen = [v for v in results["variants"].values() if v["chosen"]]
    assert len(chosen) == 1 and results["chosen_recipe"] == ABLATION_CHOICE.name
    assert "Every recipe here trains on the first edition's baseline" not in ablation_summary(results)  # not VARIANTS'
    run = next(r for r in first["runs"] if r["seed"] == 0 and r["quadrants"] == 3)
    # the table's CVAE trains on the table's baseline, the ablation's recipes on the first edition's
    assert chosen[0]["numbers"]["baseline_nll"] != run["numbers"]["baseline_nll"]
    by_slug = {v["slug"]: v for v in results["variants"].values()}
    assert by_slug["first_edition_step"]["epochs"] > by_slug["first_edition"]["epochs"]
    assert by_slug["first_edition_step"]["numbers"] != by_slug["first_edition"]["numbers"]
    assert all(v["best_val_loss"] > 0 and v["train_seconds"] > 0 for v in results["variants"].values())
    assert (tmp_path / "ablation.md").read_text() == render_ablation_markdown(results)
    assert "validation −ELBO" in (tmp_path / "ablation.md").read_text()
    folder = base / "ckpt" / "tiny" / "q3" / "seed0" / "ablation"
    for slug in ("chosen", "first_edition_step", "cosine"):
        assert (folder / f"{slug}.pt").exists() and (folder / f"evaluation_{slug}.json").exists()
    # one baseline for every recipe: the recipe search's constant-rate candidate's checkpoint
    assert [p.name for p in folder.glob("baseline*.pt")] == ["baseline_constant_lr0.001.pt"]
    with pytest.raises(ValueError, match="must come before it"):
        training_ablation(config, 3, variants=[Variant("cosine_step", FIRST_EDITION, 1e-4)], progress=False)

    # update-readme writes the table's block and, from the ablation.json beside cll.json, its summary
    (tmp_path / "cll.json").write_text((base / "out" / "cll.json").read_text())
    markers = [line for block in ("cll-table", "ablation") for line in report.readme_markers(block)]
    readme = tmp_path / "README.md"
    readme.write_text("# title\n" + "\n".join(markers) + "\nthe end\n")
    done = _cli("update-readme", "--results", str(tmp_path / "cll.json"), "--readme", str(readme))
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert report.readme_results_section(first) in text and ablation_summary(results) in text
    assert text.startswith("# title\n") and text.endswith("the end\n")
    readme.write_text("\n".join(markers[:2]) + "\n")  # no ablation block: one line says what to add
    done = _cli("update-readme", "--results", str(tmp_path / "cll.json"), "--readme", str(readme))
    assert done.returncode != 0 and "no ablation block" in done.stderr and "Traceback" not in done.stderr


def test_the_targets_sentence_says_met_exactly_when_the_stored_number_is_within_the_target(tiny_run):
    _, results = tiny_run
    sentence = report.targets_sentence(results)
    for q in ("1", "3"):
        value = results["table"][q]["cvae_is_20"]["mean"]
        verdict = "met" if value <= report.CLL_TARGETS[q] else "missed"
        assert f"{value:.2f} against ≤ {report.CLL_TARGETS[q]:g} with {q} quadrant" in sentence
        assert sentence.split(f"{value:.2f} against", 1)[1].split(")", 1)[0].endswith(f"({verdict}")
    assert f"one seed in {results['seconds_per_seed']:.0f} s against ≤ 1200 s (met)" in sentence
    assert sentence in report.readme_results_section(results)
