"""The first and longest step of ``make publish``, as one task list: ``python -m cvae_lib publish-run``
(the α sweep, the recipe search and the binarised table are trained in the steps after it).

The CLL table (every seed and setting, with the remedies and the quality measures), the training
ablation and chapters 7–8's conditioning study are merged into one list (:mod:`cvae_lib.tasks`),
run by one engine (:mod:`cvae_lib.engine`: serial, ``--jobs N`` or Ray), and assembled into
``cll.json``, ``ablation.json`` and ``conditioning.json``. ``publish_run.json`` records what every
task took, where, on which device; :func:`plan` turns recorded seconds into the wall time on N workers.
"""
from __future__ import annotations

import datetime
import heapq
import json
import time
from pathlib import Path

from .ablation import VARIANTS, ablation_tasks, with_chosen_recipe, write_ablation_results
from .conditioning import chapter_tasks, write_conditioning_results
from .engine import Engine
from .recipe import ABLATION_CHOICE
from .recipe_search import RESULTS_FILE as RECIPE_SEARCH_FILE, baseline_candidate
from .reproduce import check_seeds, write_reproduce_results
from .results import provenance
from .settings import RunConfig
from .tasks import Task, merge, reproduce_tasks, setting_key
from .util import atomic_write_json, ensure_writable_folder

RUN_RECORD = "publish_run.json"
RUN_RECORD_FORMAT = 1
ABLATION_QUADRANTS = 1  # the setting the recipes are compared on (results/ablation.md)


def publish_tasks(config: RunConfig, seeds, conditioning_seeds) -> list[Task]:
    """Every task of the published results, each once."""
    return merge(reproduce_tasks(config, seeds),
                 ablation_tasks(config.with_seed(seeds[0]), ABLATION_QUADRANTS, with_chosen_recipe(list(VARIANTS))),
                 chapter_tasks(config, conditioning_seeds))


def publish_run(config: RunConfig, seeds, conditioning_seeds, *, out=None, engine: Engine | None = None,
                progress: bool = True, log=print) -> dict:
    """Run every task, write the three results files and ``publish_run.json``; return the record."""
    seeds = check_seeds(config, seeds)
    conditioning_seeds = check_seeds(config, conditioning_seeds)
    if ABLATION_QUADRANTS not in config.quadrants:
        raise ValueError(f"the ablation compares recipes with {ABLATION_QUADRANTS} input quadrant: "
                         f"keep {ABLATION_QUADRANTS} among --quadrants")
    out = ensure_writable_folder(out if out is not None else config.results_dir)
    engine = engine or Engine()
    tasks = publish_tasks(config, seeds, conditioning_seeds)
    log(f"{len(tasks)} tasks on {engine.describe()}")
    started, start = datetime.datetime.now(datetime.timezone.utc), time.perf_counter()
    try:
        outputs = engine.run(tasks, progress=progress, log=log, expected_seconds=recorded_seconds(out))
    except BaseException:  # a stop or a failure: the record keeps what finished (the next run's estimate)
        atomic_write_json(run_record(tasks, engine, time.perf_counter() - start, started, complete=False),
                          out / RUN_RECORD)
        raise
    wall = time.perf_counter() - start
    seeded = config.with_seed(seeds[0])
    write_reproduce_results(config, seeds, outputs, out, log=lambda _: None)
    write_ablation_results(seeded, ABLATION_QUADRANTS, VARIANTS, outputs, out)
    write_conditioning_results(config.with_seed(conditioning_seeds[0]), conditioning_seeds, outputs, out,
                               log=lambda _: None)
    record = run_record(tasks, engine, wall, started)
    atomic_write_json(record, out / RUN_RECORD)
    return record


def run_record(tasks: list[Task], engine: Engine, wall_seconds: float, started, complete: bool = True) -> dict:
    """The record of one run: every task's seconds, worker, device; the plan on paper from them."""
    made = {record["task"]: record["made_seconds"] for record in engine.records}
    return {"format": RUN_RECORD_FORMAT, "started": started.isoformat(timespec="seconds"), "complete": complete,
            "engine": {"kind": engine.kind, "jobs": engine.jobs, "threads_per_task": engine.threads_per_task,
                       "description": engine.describe()},
            "wall_seconds": round(wall_seconds, 1),
            "tasks_made": sum(not record["loaded"] for record in engine.records),
            "tasks_loaded": sum(record["loaded"] for record in engine.records),
            "seconds_from_scratch": round(sum(made.values()), 1),
            "plan": plan(tasks, made), "tasks": engine.records, **provenance()}


def recorded_seconds(results_dir: Path) -> dict[str, float]:
    """What each task took to make, by its key: from the last run's ``publish_run.json``, else from
    the seconds the results files store (training and evaluation; not the quality measures)."""
    results_dir = Path(results_dir)
    try:
        record = json.loads((results_dir / RUN_RECORD).read_text())
        return {task["task"]: task["made_seconds"] for task in record["tasks"]}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    seconds = {}
    try:
        table = json.loads((results_dir / "cll.json").read_text())
    except (OSError, ValueError):
        return seconds
    for run in table.get("runs", []):
        base = setting_key(run["quadrants"], run["seed"])
        seconds[f"{base}/baseline"] = run["train_seconds_baseline"]
        seconds[f"{base}/cvae"] = run["train_seconds_cvae"]
        seconds[f"{base}/cvae/evaluate"] = run["evaluation_seconds"]
        for kind, remedy in run.get("remedies", {}).items():
            seconds[f"{base}/{kind}"] = remedy["train_seconds"]
            seconds[f"{base}/{kind}/evaluate"] = remedy["evaluation_seconds"]
    try:
        ablation = json.loads((results_dir / "ablation.json").read_text())
    except (OSError, ValueError):
        ablation = None
    if ablation:
        base = setting_key(ablation["quadrants"], ablation["seed"])
        # the variants' baseline is the recipe search's candidate of the same schedule (its own task)
        slug = baseline_candidate(ABLATION_CHOICE.baseline)
        try:
            search = json.loads((results_dir / RECIPE_SEARCH_FILE).read_text())
            baseline = search["models"]["baseline"]["candidates"][slug]["train_seconds"]
            seconds[f"search/{base}/baseline/{slug}"] = baseline
        except (OSError, ValueError, KeyError, TypeError):
            baseline = 0.0
        evaluation = seconds.get(f"{base}/cvae/evaluate")
        firsts = {}
        for variant in ablation["variants"].values():
            key = f"ablation/{base}/{variant['slug']}"
            first = firsts.get(variant["slug"].removesuffix("_step"), 0.0) if variant["slug"].endswith("_step") else 0.0
            seconds[key] = max(0.0, variant["train_seconds"] - baseline - first)
            firsts[variant["slug"]] = seconds[key]
            if evaluation is not None:  # not stored: the same estimators on a CVAE of the same size
                seconds[f"{key}/evaluate"] = evaluation
    try:
        study = json.loads((results_dir / "conditioning.json").read_text())
    except (OSError, ValueError):
        study = None
    if study:
        for row in study["label_cvae"]:
            seconds[f"digits/seed{row['seed']}/label_cvae q(z|{row['encoder']}) {row['conditioning']} "
                    f"beta={row['beta']:g}"] = row["seconds"]
        for row in study["classifier_cvae"]:
            seconds[f"digits/seed{row['seed']}/classifier_cvae q(z|{row['encoder']})"] = row["seconds"]
    return seconds


def plan(tasks: list[Task], seconds: dict[str, float], workers=(1, 4, 16)) -> dict:
    """The wall time of ``tasks`` on N workers from what each took (a task without a record counts 0):
    the longest chain of needs (no number of workers beats it) and, for each N, the finish time of a
    greedy schedule that starts the longest ready task on the first free worker."""
    by_key = {task.key: task for task in tasks}
    chain: dict[str, float] = {}

    def longest(key):  # the longest chain that ends with this task
        if key not in chain:
            chain[key] = seconds.get(key, 0.0) + max((longest(need) for need in by_key[key].needs), default=0.0)
        return chain[key]

    critical = max((longest(key) for key in by_key), default=0.0)
    walls = {}
    for count in workers:
        walls[str(count)] = round(_greedy_wall(by_key, seconds, count), 1)
    return {"tasks": len(by_key), "tasks_with_seconds": sum(key in seconds for key in by_key),
            "total_seconds": round(sum(seconds.get(key, 0.0) for key in by_key), 1),
            "longest_chain_seconds": round(critical, 1), "wall_seconds_by_workers": walls}


def _greedy_wall(by_key: dict[str, Task], seconds: dict[str, float], workers: int) -> float:
    waiting = {key: set(task.needs) for key, task in by_key.items()}
    needed_by: dict[str, list[str]] = {key: [] for key in by_key}
    for key, task in by_key.items():
        for need in task.needs:
            needed_by[need].append(key)
    ready = [(-seconds.get(key, 0.0), key) for key, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []  # (finish time, key)
    now = 0.0
    while ready or running:
        while ready and len(running) < workers:
            duration, key = heapq.heappop(ready)
            heapq.heappush(running, (now - duration, key))
        now, key = heapq.heappop(running)
        for after in needed_by[key]:
            waiting[after].discard(key)
            if not waiting[after]:
                heapq.heappush(ready, (-seconds.get(after, 0.0), after))
    return now


def plan_summary(tasks: list[Task], results_dir: Path) -> str:
    """The README's plan on paper: the whole publish run on 1, 4 and 16 workers, from the seconds
    recorded in ``results_dir`` (by ``update-readme``)."""
    results_dir = Path(results_dir)
    seconds = recorded_seconds(results_dir)
    found = plan(tasks, seconds)
    source = ("`publish_run.json`" if (results_dir / RUN_RECORD).exists()
              else "the training and evaluation seconds stored in `cll.json`, `ablation.json` and `conditioning.json`")
    missing = sorted({task.action.replace("_", " ") for task in tasks
                      if task.key not in seconds})
    machine = json.loads((results_dir / "cll.json").read_text()).get("machine", "the machine of the results")
    return (f"{found['tasks']} tasks; from {source} ({machine}): {found['total_seconds'] / 3600:.1f} h of work "
            f"one after another, {found['tasks'] - found['tasks_with_seconds']} tasks without a recorded time "
            f"({', '.join(missing) or 'none'}; counted as 0). The longest chain of tasks that wait for each other "
            f"takes {_hours(found['longest_chain_seconds'])}: no number of workers finishes sooner. Expected wall "
            f"time, the longest ready task first on the first free worker:\n\n{render_plan(found)}")


def render_plan(record_plan: dict) -> str:
    """The plan as the README's table."""
    rows = [f"| {n} | {_hours(s)} |" for n, s in record_plan["wall_seconds_by_workers"].items()]
    return "\n".join(["| workers | expected wall time |", "|---:|---:|", *rows])


def _hours(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
