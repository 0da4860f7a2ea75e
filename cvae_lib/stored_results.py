"""The stored results a chapter reads: the tables and studies of ``results/``, each downloaded with the
published models when it is missing, or (the CLL table) made when no stored table matches the run.

A smoke run (profile ``fast``) reads the full profile's studies: the runs behind them train dozens of
models, and its own models are for the figures, not for these tables.
"""
from __future__ import annotations

from pathlib import Path

from .alpha_sweep import load_alpha_sweep
from .checkpoints import default_checkpoint_path, note_reused
from .conditioning_report import load_conditioning
from .fetch import fetcher_for
from .recipe_search import RESULTS_FILE as RECIPE_SEARCH_FILE, load_recipe_search
from .remake_report import REMADE_FILE, RERUN_FILE
from .reproduce import reproduce
from .results import RESULTS_FORMAT, load_results
from .settings import PROFILES, RunConfig, default_results_dir


def results_for_book(config: RunConfig, seeds=None, progress: bool = False) -> dict:
    """Train-or-load for the results table: read ``cll.json`` when it matches (downloaded with the
    published models when it is missing), else reproduce."""
    seeds = seeds if seeds is not None else (config.seed,)
    path = config.results_dir / "cll.json"
    fetcher = fetcher_for(config, progress)
    if not path.exists() and fetcher is not None:
        fetcher.fetch(path)  # the published results, if this run's folders are the published ones
    if path.exists():
        results = load_results(path)
        if (results.get("format") == RESULTS_FORMAT and results.get("profile") == config.profile.name
                and set(seeds) <= set(results.get("seeds", []))
                and list(config.quadrants) == results.get("quadrants")):
            _note_reused_results(results, config, seeds)
            return results
    return reproduce(config, seeds=seeds, progress=progress, log=lambda message: None)


def published_results_folder(config: RunConfig, *names: str) -> Path:
    """The full profile's results folder, with ``names`` in it (downloaded with the published models
    when missing). A smoke run reads the full profile's files too: the runs behind them train dozens
    of models, and its own models are for the figures, not for these tables."""
    folder = config.results_dir if config.profile.name == "full" else default_results_dir(PROFILES["full"])
    fetcher = fetcher_for(config, progress=False) if config.profile.name == "full" else None
    for name in names:
        if not (folder / name).exists() and fetcher is not None:
            fetcher.fetch(folder / name)
    return folder


def conditioning_for_book(config: RunConfig) -> dict:
    """Chapters 7–8's measurements over several seeds (``results/conditioning.json``)."""
    return load_conditioning(published_results_folder(config, "conditioning.json"))


def alpha_sweep_for_book(config: RunConfig) -> tuple[dict, dict]:
    """Chapter 6's sweep of the hybrid's α and the table it is compared with (``alpha_sweep.json``
    and ``cll.json`` of profile ``full``)."""
    folder = published_results_folder(config, "alpha_sweep.json", "cll.json")
    return load_alpha_sweep(folder), load_results(folder / "cll.json")


def recipe_search_for_book(config: RunConfig) -> dict:
    """Chapter 5's search of the other models' recipes (``recipe_search.json`` of profile ``full``)."""
    return load_recipe_search(published_results_folder(config, RECIPE_SEARCH_FILE))


def binarised_results_for_book(config: RunConfig) -> dict | None:
    """The table under the binarised protocol (``results/binarised/cll.json``), ``None`` when it was
    never made (its run takes about an hour per seed)."""
    return _kept_table(config, "binarised/cll.json")


def table_before_search_for_book(config: RunConfig) -> dict | None:
    """The table as it was before the recipe search (``results/before_search/cll.json``), which chapter
    5 compares the published one with; ``None`` where it is not on disk or in the published archive."""
    return _kept_table(config, "before_search/cll.json")


def remade_results_for_book(config: RunConfig) -> tuple[dict, dict] | None:
    """The published table and the same table made again on another machine
    (``results/remade/cll.json``), which chapter 5 holds against each other; ``None`` where no
    remade table is kept."""
    published, remade = _kept_table(config, "cll.json"), _kept_table(config, REMADE_FILE)
    return None if published is None or remade is None else (published, remade)


def rerun_for_book(config: RunConfig) -> tuple[dict, dict] | None:
    """The published table and seeds of it trained and evaluated again on one more machine
    (``results/remade/amd_epyc.json``), which chapter 5 holds against each other number for
    number; ``None`` where either is not kept."""
    published, rerun = _kept_table(config, "cll.json"), _kept_table(config, RERUN_FILE)
    return None if published is None or rerun is None else (published, rerun)


def _kept_table(config: RunConfig, name: str) -> dict | None:
    """A ``cll.json`` kept in the full profile's results folder under ``name``; ``None`` where it is missing."""
    path = published_results_folder(config, name) / name
    return load_results(path) if path.exists() else None


def _note_reused_results(results: dict, config: RunConfig, seeds) -> None:
    """Reading the stored table saves making it: what each part took, filed under the file that
    would hold it, so that a checkpoint the chapter loads as well is counted once."""
    for run in results["runs"]:
        if run["seed"] not in seeds:
            continue
        folder = default_checkpoint_path("cvae", run["quadrants"], config.with_seed(run["seed"])).parent
        parts = {"baseline.pt": run["train_seconds_baseline"], "cvae.pt": run["train_seconds_cvae"],
                 "evaluation.json": run["evaluation_seconds"]}
        for kind, remedy in run.get("remedies", {}).items():
            parts.update({f"{kind}.pt": remedy["train_seconds"], f"evaluation_{kind}.json": remedy["evaluation_seconds"]})
        for name, seconds in parts.items():
            note_reused(folder / name, seconds, published=True)
