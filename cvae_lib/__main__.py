"""Command line: ``python -m cvae_lib reproduce --profile fast --quadrants 1 2 3 --seed 0 --out DIR``."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

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
        "reproduce", help="train or load the baseline and CVAE, evaluate, write the CLL table",
        description="Train (or load from checkpoints) the baseline and the CVAE for each quadrant "
                    "setting and seed, evaluate every CLL estimator on the test set, and write "
                    "DIR/cll.json, DIR/cll.md and figures (PNG) to DIR.")
    _add_run_options(rep)
    rep.add_argument("--quadrants", type=_quadrant, nargs="+", default=[1, 2, 3], metavar="Q",
                     help="input quadrant settings to run (default: 1 2 3)")
    seeds = rep.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=_seed, help="one training seed (default: 0)")
    seeds.add_argument("--seeds", type=_seed, nargs="+", help="several training seeds, e.g. 0 1 2")

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
                    "of cvae_lib.ablation.VARIANTS, the published one included; evaluate them and write "
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
    readme = commands.add_parser(
        "update-readme", help="write the results table of README.md from a cll.json",
        description="Replace the block between the cll-table markers of README.md with the table "
                    "rendered from RESULTS (default: results/cll.json), and the block between the "
                    "ablation markers with the summary of ablation.json beside it, if there is one.")
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


def _config(args, seed: int = 0):
    """The edge: the run configuration from the arguments, else the CVAE_* variables, else defaults."""
    from .settings import RunConfig

    return RunConfig.from_environment(args.profile, seed=seed, quadrants=args.quadrants, data_dir=args.data_dir,
                                      checkpoint_dir=args.checkpoint_dir, results_dir=args.out)


def _seeds(args) -> list[int]:
    if args.command == "ablation":
        return [args.seed]
    if args.command == "conditioning":
        return args.seeds
    return list(dict.fromkeys(args.seeds if args.seeds is not None else [args.seed if args.seed is not None else 0]))


def _run(args, config) -> None:
    if args.command == "reproduce":
        from .reproduce import reproduce

        results = reproduce(config, seeds=_seeds(args), progress=not args.no_progress)
        out = config.results_dir
        loaded = [run["loaded_from_checkpoint"] for run in results["runs"]]
        seconds = results["seconds_per_seed"]
        if all(loaded):
            took = f"every model was loaded from its checkpoint; one seed took {seconds:.0f} s when it was made"
        elif any(loaded):
            took = f"{seconds:.0f} s per seed, counting the stored training times of the models loaded"
        else:
            took = f"{seconds:.0f} s per seed"
        print(f"wrote {out}/cll.json, {out}/cll.md and {len(results['figures'])} figures ({took})")
    elif args.command == "ablation":
        from .ablation import training_ablation

        results = training_ablation(config, args.quadrant, progress=not args.no_progress)
        print(f"wrote {config.results_dir}/ablation.json and {config.results_dir}/ablation.md")
        for name, variant in results["variants"].items():
            print(f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in variant["numbers"].items()))
    elif args.command == "conditioning":
        from .conditioning import run_conditioning

        run_conditioning(config, args.seeds, progress=not args.no_progress)
        print(f"wrote {config.results_dir}/conditioning.json")
    elif args.command == "update-readme":
        from .report import update_readme
        from .results import load_results

        changed = update_readme(load_results(args.results), args.readme)
        ablation = Path(args.results).parent / "ablation.json"
        if ablation.exists():  # the ablation's headline sentence, beside the table it justifies
            from .ablation import ablation_summary
            from .report import replace_readme_block

            summary = ablation_summary(json.loads(ablation.read_text()))
            changed = replace_readme_block("ablation", summary, args.readme) or changed
        changed = _readme_published_models(args.readme) or changed
        print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
    elif args.command == "repository":
        from .repository import set_repository

        repository, changed = set_repository(args.url, args.branch)
        names = ", ".join(path.name for path in changed) or "none needed changing"
        print(f"the book follows {repository.url} (branch {repository.branch}); files rewritten: {names}")
    elif args.command == "publish-models":
        from .published import MANIFEST_PATH, RELEASE_DIR, files_to_publish, pack
        from .repository import read_repository
        from .settings import project_root

        root = project_root()
        archive, manifest = pack(root, files_to_publish(root), Path(args.out or root / RELEASE_DIR),
                                 read_repository(root).url)
        manifest.write(root / "cvae_lib" / MANIFEST_PATH.name)
        _readme_published_models(root / "README.md", root / "cvae_lib" / MANIFEST_PATH.name)
        print(f"wrote {archive.name} ({manifest.size / 2**20:.0f} MiB, {len(manifest.files)} files) and "
              f"cvae_lib/published_models.json; attach it to the release: gh release create {manifest.tag} "
              f"{archive} (make release-models)")
    elif args.command == "export-web":
        from .settings import RunConfig
        from .web_export import export_for_site

        config = RunConfig.from_environment(args.profile, quadrants=args.quadrants, data_dir=args.data_dir,
                                            checkpoint_dir=args.checkpoint_dir, download=False)
        print(export_for_site(config, Path(args.out) if args.out else None, args.if_available))
    elif args.command == "execute-book":
        from .notebooks import execute_notebooks
        from .settings import get_profile

        limit = {} if args.timeout is None else {"timeout": args.timeout * 60}
        execute_notebooks(get_profile(args.profile), args.notebooks or None, **limit)


def _readme_published_models(readme, manifest_path=None) -> bool:
    """The README's sentence on the published models, from the manifest (when both exist)."""
    from .published import MANIFEST_PATH, Manifest
    from .report import readme_markers, replace_readme_block

    manifest = Manifest.read(manifest_path or MANIFEST_PATH)
    readme = Path(readme)
    if manifest is None or not readme.exists() or readme_markers("published-models")[0] not in readme.read_text():
        return False
    return replace_readme_block("published-models", manifest.summary(), readme)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "execute-book":
        missing = [path for path in args.notebooks if not path.endswith(".ipynb") or not os.path.isfile(path)]
        if missing:
            print(f"python -m cvae_lib: error: not a notebook file: {missing[0]}", file=sys.stderr)
            return 2
    from .checkpoints import CheckpointError
    from .notebooks import NotebookFailed
    from .published import PublishError
    from .web_export import WebExportError

    config = None
    try:
        if args.command in ("reproduce", "ablation", "conditioning"):
            if args.command == "ablation":
                args.quadrants = [args.quadrant]
            if args.command == "conditioning":
                args.quadrants = [1, 2, 3]
            config = _config(args, _seeds(args)[0])  # checked before anything runs, a bad device too
        _run(args, config)
    except KeyboardInterrupt:
        print(f"python -m cvae_lib: interrupted; kept: {_kept(args, config)}", file=sys.stderr)
        return 130
    except (CheckpointError, PublishError, WebExportError, NotebookFailed, OSError, ValueError, FloatingPointError) as exc:
        print(f"python -m cvae_lib: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _kept(args, config) -> str:
    """What an interrupted command leaves: everything finished before it, nothing half-written."""
    if config is not None:
        return (f"every checkpoint and evaluation finished before it (under {config.checkpoint_dir}); "
                f"the files in {config.results_dir} are unchanged")
    if args.command == "execute-book":
        return "the notebooks executed before it; the one running was not changed"
    return "every file as it was"


if __name__ == "__main__":
    sys.exit(main())
