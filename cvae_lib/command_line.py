"""The command line's words: every command, its options and how each argument is checked.

:func:`build_parser` is all of it; :mod:`cvae_lib.__main__` runs what the parsed arguments ask for.
"""
from __future__ import annotations

import argparse
import math

from .settings import ALLOWED_QUADRANTS, PROFILES


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one clear line on stderr and exit status 2, no usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _quadrant(text: str) -> int:
    if text not in {str(q) for q in ALLOWED_QUADRANTS}:
        raise argparse.ArgumentTypeError(f"{text!r} is not a quadrant count; use 1, 2 or 3")
    return int(text)


def _seed(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer seed")
    return int(text)


def _positive_minutes(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        minutes = 0.0  # refused below, with the same words
    if not (math.isfinite(minutes) and minutes > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes above 0")
    return minutes


def _add_run_options(command) -> None:
    """The options every training command shares: the profile, the folders, the progress bars."""
    command.add_argument("--profile", choices=sorted(PROFILES), default=None,
                         help="run size: 'fast' (subset, few epochs, CI) or 'full' (published numbers); "
                              "default: $CVAE_PROFILE, else full")
    command.add_argument("--out", default=None, metavar="DIR",
                         help="output folder (default: results/ for the full profile, results/<profile>/ "
                              "for others, so a smoke run never overwrites the published numbers)")
    _add_folder_options(command)
    command.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_engine_options(command)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


def _add_engine_options(command) -> None:
    """How the tasks run: one at a time here, N local processes, or on a Ray cluster."""
    command.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                         help="run N tasks at a time (local processes, the cores split between them; "
                              "with --engine ray, N tasks of --threads CPUs each); default: 1")
    command.add_argument("--engine", choices=["local", "ray"], default="local",
                         help="local (default) or ray: Ray tasks, on a cluster with --address "
                              "(pip install 'cvae-lib[cluster]')")
    command.add_argument("--address", default=None, metavar="ADDRESS",
                         help="the Ray cluster's address (ray start --head prints it); default: start one "
                              "on this machine")
    command.add_argument("--threads", type=_positive_int, default=None, metavar="T",
                         help="threads per task (default: the cores divided by --jobs)")


def _add_folder_options(command) -> None:
    """Where MNIST and the checkpoints are."""
    command.add_argument("--data-dir", default=None, metavar="DIR",
                         help="MNIST root (the folder holding MNIST/raw); default: $CVAE_DATA_DIR, else ./data")
    command.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                         help="checkpoint root; default: $CVAE_CHECKPOINT_DIR, else ./checkpoints")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m cvae_lib",
                     description="Conditional VAE on MNIST quadrant completion (Sohn et al., 2015).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    rep = commands.add_parser(
        "reproduce", help="train or load the baseline, CVAE, GSNN and hybrid, evaluate, write the CLL table",
        description="Train (or load from checkpoints) the baseline, the CVAE and the paper's two remedies "
                    "(the GSNN and the hybrid) for each quadrant setting and seed, evaluate every CLL "
                    "estimator on the test set, and write DIR/cll.json, DIR/cll.md, DIR/quality.md "
                    "and figures (PNG) to DIR.")
    _add_run_options(rep)
    rep.add_argument("--quadrants", type=_quadrant, nargs="+", default=[1, 2, 3], metavar="Q",
                     help="input quadrant settings to run (default: 1 2 3)")
    seeds = rep.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=_seed, help="one training seed (default: 0)")
    seeds.add_argument("--seeds", type=_seed, nargs="+", help="several training seeds, e.g. 0 1 2")
    rep.add_argument("--add-to-stored", action="store_true",
                     help="add these seeds to the table in DIR/cll.json (same profile, settings and recipe; "
                          "a seed run again replaces its stored runs) instead of a table of these seeds "
                          "alone: a table's seeds can be made on different days or machines")

    book = commands.add_parser(
        "execute-book", help="run the book's notebooks in place and store their outputs",
        description="Execute every notebook of book/ in place (the chapters, then the introduction, "
                    "which reports their timings) under the chosen profile, and record each "
                    "chapter's wall time in book/timings.json.")
    book.add_argument("--profile", choices=sorted(PROFILES), default=None,
                      help="run size for the notebooks; default: $CVAE_PROFILE, else full")
    book.add_argument("--timeout", type=_positive_minutes, default=None, metavar="MINUTES",
                      help="stop a notebook that runs longer than this (default: 240)")
    book.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                      help="only these notebooks (default: all of book/)")
    ablation = commands.add_parser(
        "ablation", help="compare training recipes (schedules, KL annealing, residual generation)",
        description="For one setting and seed, train (or load) a baseline and a CVAE with every recipe "
                    "of cvae_lib.ablation.VARIANTS, the chosen one included; evaluate them and write "
                    "DIR/ablation.json and DIR/ablation.md (the recipe is chosen on the validation split).")
    _add_run_options(ablation)
    ablation.add_argument("--quadrants", dest="quadrant", type=_quadrant, default=1, metavar="Q",
                          help="setting (default: 1)")
    ablation.add_argument("--seed", type=_seed, default=0, help="training seed (default: 0)")
    conditioning = commands.add_parser(
        "conditioning", help="train or load chapters 7 and 8's models to convergence and measure them",
        description="For each seed, train (or load) the label-conditioned CVAE in every design and at "
                    "every β of cvae_lib.conditioning, and the classifier CVAE, each with early stopping "
                    "on the validation split; write DIR/conditioning.json.")
    _add_run_options(conditioning)
    conditioning.add_argument("--seeds", type=_seed, nargs="+", default=[0, 1], help="training seeds (default: 0 1)")
    publish_run = commands.add_parser(
        "publish-run", help="the table, the ablation and chapters 7-9's models as one task list (the first step of make publish)",
        description="Train (or load) and evaluate everything of cll.json (every seed), ablation.json and "
                    "conditioning.json as one list of tasks, run one at a time, with --jobs N local "
                    "processes or on Ray; write the three files and DIR/publish_run.json (each task's "
                    "seconds, worker and device). Finished tasks are loaded, so a stopped run resumes.")
    _add_run_options(publish_run)
    publish_run.add_argument("--seeds", type=_seed, nargs="+", default=[0, 1, 2],
                             help="seeds of the CLL table (default: 0 1 2)")
    publish_run.add_argument("--conditioning-seeds", type=_seed, nargs="+", default=[0, 1], metavar="SEED",
                             help="seeds of chapters 7 and 8's study (default: 0 1)")
    sweep = commands.add_parser(
        "alpha-sweep", help="the hybrid objective's weight α, chosen on the validation split",
        description="For each seed and setting, train (or load) a hybrid of every weight α of "
                    "cvae_lib.alpha_sweep.SWEEP_ALPHAS and score it (and the CVAE, α = 1) on the validation "
                    "split: importance sampling with S = 100 and one draw from the prior; choose each "
                    "setting's α on the validation CLL, evaluate that hybrid on the test set and write "
                    "DIR/alpha_sweep.json. Finished tasks are loaded, so a stopped run resumes.")
    _add_run_options(sweep)
    sweep.add_argument("--quadrants", type=_quadrant, nargs="+", default=[1, 2, 3], metavar="Q",
                       help="input quadrant settings (default: 1 2 3)")
    sweep.add_argument("--seeds", type=_seed, nargs="+", default=[0], help="training seeds (default: 0)")
    sweep.add_argument("--add-test-seeds", type=_seed, nargs="+", metavar="SEED",
                       help="instead of sweeping: train (or load) and test each setting's hybrid of the α "
                            "chosen in DIR/alpha_sweep.json for these seeds too, and add them to its test rows")
    search = commands.add_parser(
        "recipe-search", help="the CVAE's kind of recipe search for the baseline, the GSNN and the hybrid",
        description="For one setting and seed, train (or load) the baseline, the GSNN and the hybrid with every "
                    "learning-rate schedule of cvae_lib.recipe_search.CANDIDATES (the table's included), choose "
                    "each model's schedule on its own validation loss, report each one's test number and write "
                    "DIR/recipe_search.json and DIR/recipe_search.md. Finished tasks are loaded, so a stopped "
                    "run resumes.")
    _add_run_options(search)
    search.add_argument("--quadrants", dest="quadrant", type=_quadrant, default=1, metavar="Q",
                        help="setting (default: 1, where the CVAE's recipe was searched)")
    search.add_argument("--seed", type=_seed, default=0, help="training seed (default: 0)")
    plan = commands.add_parser(
        "plan-run", help="the wall time of the whole publish run on N workers, from recorded task seconds",
        description="From DIR/publish_run.json (else the seconds stored in cll.json, ablation.json and "
                    "conditioning.json), print the tasks, the longest chain and the expected wall time "
                    "of publish-run on each number of workers.")
    plan.add_argument("--results", default="results", metavar="DIR", help="the results folder (default: results)")
    plan.add_argument("--workers", type=_positive_int, nargs="+", default=[1, 4, 16], metavar="N",
                      help="numbers of workers (default: 1 4 16)")
    plan.add_argument("--seeds", type=_seed, nargs="+", default=[0, 1, 2], help="seeds of the CLL table")
    plan.add_argument("--conditioning-seeds", type=_seed, nargs="+", default=[0, 1], metavar="SEED")
    readme = commands.add_parser(
        "update-readme", help="write the generated blocks of README.md from results/",
        description="Replace the block between the cll-table markers of README.md with the table "
                    "rendered from RESULTS (default: results/cll.json), and the blocks of the ablation, "
                    "the recipe search, the binarised table, the published models and the run plan "
                    "with what the files beside it (and cvae_lib/published_models.json) hold, where "
                    "they exist.")
    readme.add_argument("--results", default="results/cll.json", metavar="RESULTS")
    readme.add_argument("--readme", default="README.md", metavar="FILE")
    publish = commands.add_parser(
        "publish-models", help="pack the trained models the chapters load into a release archive",
        description="Pack the checkpoints, stored evaluations and results that the chapters load "
                    "(cvae_lib.published.PUBLISHED_FILES) into DIR/cvae-book-models-<hash>.tar.gz, and "
                    "write its manifest, cvae_lib/published_models.json, with the download URL of a "
                    "release of the repository named in _config.yml.")
    publish.add_argument("--out", default=None, metavar="DIR", help="where the archive goes (default: _build/release)")
    web = commands.add_parser(
        "export-web", help="the trained models as ONNX graphs for the book's page (the live demo)",
        description="Export seed 0's baseline and CVAE of each setting to DIR/q<N>.onnx (the noise is an "
                    "input), checked against PyTorch, and DIR/manifest.json, which the page reads.")
    web.add_argument("--profile", choices=sorted(PROFILES), default=None,
                     help="whose checkpoints; default: $CVAE_PROFILE, else full")
    web.add_argument("--out", default=None, metavar="DIR",
                     help="where the graphs go (default: <checkpoint-dir>/<profile>/web, where the site "
                          "build takes them from)")
    _add_folder_options(web)
    web.add_argument("--quadrants", type=_quadrant, nargs="+", default=[1, 2, 3], metavar="Q",
                     help="settings to export (default: 1 2 3)")
    web.add_argument("--if-available", action="store_true",
                     help="export the settings whose models are on disk; with none, say so and exit 0 "
                          "(make book: the page then says the demo is not part of this build)")
    repository = commands.add_parser(
        "repository", help="point the book at its GitHub repository (Colab cells, links)",
        description="Make every notebook's Colab install cell and its links to repository files "
                    "follow the repository named in _config.yml. With URL (and --branch), first "
                    "write that repository into _config.yml.")
    repository.add_argument("url", nargs="?", metavar="URL", help="https://github.com/<owner>/<name>")
    repository.add_argument("--branch", help="branch the book is read from (default: as in _config.yml)")
    return parser
