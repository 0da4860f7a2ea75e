"""The task list and its engines: the same numbers one at a time, in two processes and on Ray;
resuming after a stop; one progress line per task; the record and the plan of a publish run."""
import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cvae_lib import ablation, conditioning, publish_run as publish
from cvae_lib.engine import Engine
from cvae_lib.settings import PROFILES, RunConfig
from cvae_lib.tasks import Task, reproduce_tasks
from cvae_lib.util import cpu_model

ROOT = Path(__file__).resolve().parents[1]
DURATION = r"(?:\d+ h \d+ min|\d+ min \d+ s|\d+ s)"  # as the progress line writes it: a busy machine takes minutes


def fast_config(base: Path, quadrants=(3,)) -> RunConfig:
    """The `fast` profile cut to two epochs: the same tasks, trained three times here in a third of the time."""
    profile = dataclasses.replace(PROFILES["fast"], max_epochs=2)
    return RunConfig.from_environment(profile, quadrants=quadrants, checkpoint_dir=base / "ckpt",
                                      results_dir=base / "out", device="cpu", download=False)


def small_task_list(config: RunConfig) -> list[Task]:
    """The `fast` profile's baseline, CVAE and GSNN of one setting with their evaluations: models that
    need others, evaluations that need models, and two tasks that can run side by side."""
    return [task for task in reproduce_tasks(config, [0])
            if task.action in ("baseline", "model", "evaluate") and "hybrid" not in task.key]


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("serial")
    engine, lines = Engine(threads=1), []
    outputs = engine.run(small_task_list(fast_config(base)), progress=False, log=lines.append)
    return base, outputs, engine.records, lines


def _numbers(outputs: dict) -> dict:
    """What the results files take from a run: the evaluations' numbers and curves, the models'
    epochs and validation losses (not the seconds, not the paths)."""
    kept = {}
    for key, output in outputs.items():
        if "numbers" in output:
            kept[key] = (output["numbers"], output["curves"])
        else:
            kept[key] = (output["epochs_run"], output["best_epoch"], output["best_val_loss"])
    return kept


def test_one_task_at_a_time_makes_each_after_what_it_needs(serial_run):
    _, outputs, records, lines = serial_run
    tasks = small_task_list(fast_config(Path("unused")))
    assert set(outputs) == {task.key for task in tasks} and len(tasks) == 5
    order = [record["task"] for record in records]
    for task in tasks:
        assert all(order.index(need) < order.index(task.key) for need in task.needs)
    assert not any(record["loaded"] for record in records)
    assert all(record["device"] == "cpu" and record["threads"] == 1 for record in records)
    assert all(record["cpu"] == cpu_model() for record in records)  # bit for bit needs the same CPU model
    # one progress line per task: done / total, elapsed, and (while tasks are left) an estimate
    assert len(lines) == 5 and all(re.match(rf"\[{i}/5\] \S+: done in {DURATION} on .+ elapsed", line)
                                   for i, line in enumerate(lines, 1))
    assert "left" in lines[0] and "left" not in lines[-1]


def test_two_processes_give_the_same_numbers_bit_for_bit(serial_run, tmp_path):
    _, serial, _, _ = serial_run
    engine = Engine(jobs=2, threads=1)
    outputs = engine.run(small_task_list(fast_config(tmp_path)), progress=False, log=lambda _: None)
    assert _numbers(outputs) == _numbers(serial)
    assert len({record["worker"] for record in engine.records}) == 2  # both workers had tasks
    assert all(record["threads"] == 1 for record in engine.records)


def test_a_local_ray_cluster_gives_the_same_numbers_bit_for_bit(serial_run, tmp_path):
    pytest.importorskip("ray", reason="the Ray engine is an optional extra (cvae-lib[cluster])")
    engine = Engine(kind="ray", jobs=2, threads=1)
    outputs = engine.run(small_task_list(fast_config(tmp_path)), progress=False, log=lambda _: None)
    assert _numbers(outputs) == _numbers(serial_run[1])
    assert all(record["device"] == "cpu" for record in engine.records)


def test_a_stopped_run_resumes_loading_what_was_made(serial_run):
    base, first, _, _ = serial_run
    (base / "ckpt" / "fast" / "q3" / "seed0" / "gsnn.pt").unlink()  # as if the run had stopped there
    cache = base / "ckpt" / "fast" / "q3" / "seed0" / "evaluation_gsnn.json"
    cache.unlink()
    engine = Engine(threads=1)
    outputs = engine.run(small_task_list(fast_config(base)), progress=False, log=lambda _: None)
    made = {record["task"] for record in engine.records if not record["loaded"]}
    assert made == {"q3/seed0/gsnn", "q3/seed0/gsnn/evaluate"}
    assert _numbers(outputs) == _numbers(first)


def test_a_failing_task_stops_the_run_with_one_line_and_keeps_what_finished(fast_cli_run, tmp_path):
    base, trained = fast_cli_run  # `reproduce --profile fast --quadrants 1 3 --jobs 2`
    assert trained.returncode == 0, trained.stderr[-2000:]
    lines = re.findall(rf"^\[(\d+)/(\d+)\] (\S+): done in {DURATION} on (\S+) \(cpu\)", trained.stdout, re.M)
    assert len(lines) == 17 and {int(total) for _, total, _, _ in lines} == {17}
    assert len({worker for *_, worker in lines}) == 2  # two worker processes
    shutil.copytree(base, tmp_path, dirs_exist_ok=True)
    folder = tmp_path / "ckpt" / "fast" / "q3" / "seed0"
    damaged = folder / "hybrid.pt"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file() and path != damaged}
    again = subprocess.run(
        [sys.executable, "-m", "cvae_lib", "reproduce", "--profile", "fast", "--quadrants", "1", "3", "--jobs", "2",
         "--out", str(tmp_path / "out"), "--checkpoint-dir", str(tmp_path / "ckpt"), "--no-progress"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "hybrid.pt is corrupt" in again.stderr
    after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file() and path != damaged}
    assert after == before  # the results files too: a failed run writes none


def test_engine_options_are_checked_before_anything_runs():
    with pytest.raises(ValueError, match="positive int"):
        Engine(jobs=0)
    with pytest.raises(ValueError, match="unknown engine"):
        Engine(kind="slurm")
    with pytest.raises(ValueError, match="--engine ray"):
        Engine(address="10.0.0.1:6379")
    config = fast_config(Path("unused"))
    with pytest.raises(ValueError, match="needs 'q9/seed0/baseline'"):
        Engine().run([Task("a", "model", config, (("quadrants", 3), ("objective", "cvae")), ("q9/seed0/baseline",))])


def test_the_plan_takes_the_longest_ready_task_first_and_never_beats_the_longest_chain():
    config = fast_config(Path("unused"))
    tasks = [Task("a", "baseline", config), Task("b", "baseline", config, needs=("a",)),
             Task("c", "baseline", config), Task("d", "baseline", config)]
    seconds = {"a": 10.0, "b": 5.0, "c": 20.0, "d": 4.0}
    found = publish.plan(tasks, seconds, workers=(1, 2, 8))
    assert found["total_seconds"] == 39.0 and found["longest_chain_seconds"] == 20.0
    # two workers: c (20) on one; a (10), b (5), d (4) on the other; then nothing waits
    assert found["wall_seconds_by_workers"] == {"1": 39.0, "2": 20.0, "8": 20.0}
    assert "| 2 | 0 min |" in publish.render_plan(found)


def test_the_recorded_seconds_name_the_tasks_of_the_published_run():
    """Every seconds figure of the committed results files is filed under a task of the list (a
    renamed task would silently drop out of the plan in the README)."""
    config = RunConfig.from_environment("full", download=False)
    tasks = publish.publish_tasks(config, [0, 1, 2], [0, 1])
    seconds = publish.recorded_seconds(ROOT / "results")
    assert set(seconds) <= {task.key for task in tasks}
    stored = json.loads((ROOT / "results" / "cll.json").read_text())
    assert len([key for key in seconds if not key.startswith(("ablation/", "digits/", "search/"))]) == 7 * len(stored["runs"])
    assert "search/q1/seed0/baseline/constant_lr0.001" in seconds  # the ablation's baseline, from the search's file
    unrecorded = {task.action for task in tasks if task.key not in seconds}
    assert unrecorded == {"quality", "digit_classifier"}


def test_a_publish_run_writes_every_results_file_and_its_record(tmp_path, monkeypatch):
    monkeypatch.setattr(conditioning, "SWEEP_BETAS", (1.0,))
    monkeypatch.setattr(conditioning, "DESIGNS", (("x", "add"),))
    monkeypatch.setattr(conditioning, "SOURCE_BETAS", ())
    monkeypatch.setattr(conditioning, "CLASSIFIER_ENCODERS", ("x",))
    monkeypatch.setattr(conditioning, "SAMPLES_PER_DIGIT", 20)
    monkeypatch.setattr(conditioning, "DIVERSITY_SAMPLES", 2)
    monkeypatch.setattr(publish, "VARIANTS", [ablation.Variant("first_edition", ablation.FIRST_EDITION)])
    from tests.test_reproduce import tiny_config

    config = tiny_config(tmp_path / "ckpt", tmp_path / "out", quadrants=(1,))
    lines = []
    record = publish.publish_run(config, [0], [0], engine=Engine(threads=1), progress=False, log=lines.append)
    out = tmp_path / "out"
    for name in ("cll.json", "ablation.json", "conditioning.json", publish.RUN_RECORD):
        assert (out / name).exists()
    assert json.loads((out / publish.RUN_RECORD).read_text()) == json.loads(json.dumps(record))
    keys = [task["task"] for task in record["tasks"]]
    assert len(keys) == len(set(keys)) == record["plan"]["tasks"] == record["tasks_made"]
    # the ablation's recipes share one baseline, the recipe search's constant-rate candidate: made once;
    # its chosen recipe is a model of its own on it (the table's CVAE trains on the table's baseline)
    assert [key for key in keys if key.startswith("search/")] == ["search/q1/seed0/baseline/constant_lr0.001"]
    assert {"q1/seed0/cvae", "ablation/q1/seed0/chosen", "ablation/q1/seed0/first_edition"} <= set(keys)
    study = json.loads((out / "ablation.json").read_text())
    chosen = next(v for v in study["variants"].values() if v["chosen"])
    assert study["chosen_recipe"] == ablation.ABLATION_CHOICE.name and chosen["slug"] == "chosen"
    assert {v["baseline_epochs"] for v in study["variants"].values()} == {chosen["baseline_epochs"]}
    assert all(task["device"] == "cpu" and task["seconds"] > 0 for task in record["tasks"])
    assert record["seconds_from_scratch"] == pytest.approx(sum(t["made_seconds"] for t in record["tasks"]), abs=0.2)
    assert lines[0].startswith(f"{len(keys)} tasks on one task at a time")
    # run again: everything loads, the plan now comes from the record just written
    again = publish.publish_run(config, [0], [0], engine=Engine(threads=1), progress=False, log=lambda _: None)
    # the quality measures too: stored beside the CVAE (quality.json) like its evaluation
    assert again["tasks_made"] == 0 and again["tasks_loaded"] == len(again["tasks"]) == len(keys)
    assert publish.recorded_seconds(out) == {t["task"]: t["made_seconds"] for t in again["tasks"]}
