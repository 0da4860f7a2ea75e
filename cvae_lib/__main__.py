"""Command line: ``python -m cvae_lib reproduce --profile fast --quadrants 1 2 3 --seed 0 --out DIR``."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .command_line import build_parser


def _config(args, seed: int = 0):
    """The edge: the run configuration from the arguments, else the CVAE_* variables, else defaults."""
    from .settings import RunConfig

    return RunConfig.from_environment(args.profile, seed=seed, quadrants=args.quadrants, data_dir=args.data_dir,
                                      checkpoint_dir=args.checkpoint_dir, results_dir=args.out)


def _seeds(args) -> list[int]:
    if args.command in ("ablation", "recipe-search"):
        return [args.seed]
    if args.command in ("conditioning", "publish-run", "alpha-sweep"):
        return args.seeds
    return list(dict.fromkeys(args.seeds if args.seeds is not None else [args.seed if args.seed is not None else 0]))


def _engine(args):
    """The edge: how the tasks run, checked before anything runs."""
    from .engine import Engine

    return Engine(jobs=args.jobs, kind=args.engine, address=args.address, threads=args.threads)


def _run(args, config) -> None:
    engine = _engine(args) if hasattr(args, "jobs") else None
    if args.command == "reproduce":
        from .reproduce import reproduce

        results = reproduce(config, seeds=_seeds(args), progress=not args.no_progress, engine=engine,
                            add_to_stored=args.add_to_stored)
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

        results = training_ablation(config, args.quadrant, progress=not args.no_progress, log=print, engine=engine)
        print(f"wrote {config.results_dir}/ablation.json and {config.results_dir}/ablation.md")
        for name, variant in results["variants"].items():
            print(f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in variant["numbers"].items()))
    elif args.command == "recipe-search":
        from .recipe_search import RESULTS_FILE, run_recipe_search

        search = run_recipe_search(config, args.quadrant, progress=not args.no_progress, engine=engine)
        print(f"wrote {config.results_dir}/{RESULTS_FILE} and {config.results_dir}/{RESULTS_FILE[:-5]}.md")
        for model, found in search["models"].items():
            losses = ", ".join(f"{slug} {c['best_val_loss']:.2f}" for slug, c in found["candidates"].items())
            print(f"  {model}: validation loss {losses}; chosen {found['chosen']} (the table's: {found['table']})")
    elif args.command == "conditioning":
        from .conditioning import run_conditioning

        run_conditioning(config, args.seeds, progress=not args.no_progress, engine=engine)
        print(f"wrote {config.results_dir}/conditioning.json")
    elif args.command == "alpha-sweep" and args.add_test_seeds:
        from .alpha_sweep import RESULTS_FILE, add_test_seeds, tested_seeds

        sweep = add_test_seeds(config, args.add_test_seeds, engine=engine, progress=not args.no_progress)
        print(f"wrote {config.results_dir}/{RESULTS_FILE}: test rows over seeds {tested_seeds(sweep)}")
        for q, entry in sweep["settings"].items():
            scores = ", ".join(f"{name} {row['mean']:.2f}" for name, row in entry["test"].items())
            print(f"  {q} quadrant(s), α {entry['chosen_alpha']:g}: {scores}")
    elif args.command == "alpha-sweep":
        from .alpha_sweep import RESULTS_FILE, run_alpha_sweep

        sweep = run_alpha_sweep(config, args.seeds, engine=engine, progress=not args.no_progress)
        print(f"wrote {config.results_dir}/{RESULTS_FILE}")
        for q, entry in sweep["settings"].items():
            scores = ", ".join(f"α {alpha} {numbers['validation_cll']['mean']:.2f}"
                               for alpha, numbers in entry["alphas"].items())
            print(f"  {q} quadrant(s): validation CLL {scores}; chosen α {entry['chosen_alpha']:g}")
    elif args.command == "publish-run":
        from .publish_run import RUN_RECORD, publish_run

        record = publish_run(config, args.seeds, args.conditioning_seeds, engine=engine,
                             progress=not args.no_progress)
        out = config.results_dir
        print(f"wrote {out}/cll.json, {out}/ablation.json, {out}/conditioning.json and {out}/{RUN_RECORD}: "
              f"{record['tasks_made']} tasks made, {record['tasks_loaded']} loaded, in "
              f"{record['wall_seconds'] / 60:.1f} min ({record['seconds_from_scratch'] / 3600:.1f} h of work "
              f"from scratch)")
    elif args.command == "plan-run":
        from .publish_run import plan, publish_tasks, recorded_seconds, render_plan
        from .settings import RunConfig

        config = RunConfig.from_environment("full", download=False)
        tasks = publish_tasks(config, args.seeds, args.conditioning_seeds)
        found = plan(tasks, recorded_seconds(Path(args.results)), args.workers)
        print(f"{found['tasks']} tasks ({found['tasks_with_seconds']} with recorded seconds), "
              f"{found['total_seconds'] / 3600:.1f} h of work; the longest chain of needs "
              f"{found['longest_chain_seconds'] / 60:.0f} min")
        print(render_plan(found))
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
        search = Path(args.results).parent / "recipe_search.json"
        if search.exists():  # what the other models' search found, and what it means for the table
            from .remake_report import REMADE_FILE, search_machine_note
            from .search_report import search_note
            from .report import replace_readme_block

            stored = json.loads(search.read_text())
            before = Path(args.results).parent / "before_search" / "cll.json"
            summary = search_note(stored, load_results(args.results),
                                  load_results(before) if before.exists() else None)
            remade = Path(args.results).parent / REMADE_FILE
            if before.exists() and remade.exists():  # where the search ran, told by its numbers
                note = search_machine_note(stored, load_results(args.results), load_results(before),
                                           load_results(remade))
                summary += f" {note}" if note else ""
            changed = replace_readme_block("recipe-search", summary, args.readme) or changed
        binarised = Path(args.results).parent / "binarised" / "cll.json"
        if binarised.exists():  # the table on binary targets, the protocol papers score
            from .protocol_report import binarised_table_markdown
            from .report import replace_readme_block

            block = binarised_table_markdown(load_results(binarised), load_results(args.results))
            changed = replace_readme_block("binarised-table", block, args.readme) or changed
        from .remake_report import REMADE_FILE, RERUN_FILE

        remade, rerun = (Path(args.results).parent / name for name in (REMADE_FILE, RERUN_FILE))
        if remade.exists():  # the same table trained again on another machine, seed against seed
            from .remake_report import remade_block
            from .report import replace_readme_block

            block = remade_block(load_results(args.results), load_results(remade),
                                 load_results(rerun) if rerun.exists() else None)
            changed = replace_readme_block("remade-table", block, args.readme) or changed
        changed = _readme_published_models(args.readme) or changed
        changed = _readme_run_plan(Path(args.results).parent, args.readme) or changed
        print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
    elif args.command == "repository":
        from .repository import set_repository

        repository, changed = set_repository(args.url, args.branch)
        names = ", ".join(path.name for path in changed) or "none needed changing"
        print(f"the book follows {repository.url} (branch {repository.branch}); files rewritten: {names}")
    elif args.command == "publish-models":
        from .published import MANIFEST_PATH, RELEASE_DIR, Manifest, files_to_publish, pack
        from .repository import read_repository
        from .settings import project_root

        root = project_root()
        manifest_path = root / "cvae_lib" / MANIFEST_PATH.name
        archive, manifest = pack(root, files_to_publish(root), Path(args.out or root / RELEASE_DIR),
                                 read_repository(root).url, previous=Manifest.read(manifest_path))
        manifest.write(manifest_path)
        _readme_published_models(root / "README.md", manifest_path)
        kept = "".join(f"; {len(group.files)} published file{'s' * (len(group.files) != 1)} not found here stay"
                       f"{'s' * (len(group.files) == 1)} in the earlier release "
                       f"{group.tag}" for group in manifest.earlier)
        print(f"wrote {archive.name} ({manifest.size / 2**20:.0f} MiB, {len(manifest.files)} files) and "
              f"cvae_lib/published_models.json{kept}; attach it to the release: gh release create {manifest.tag} "
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


def _readme_run_plan(results_dir: Path, readme) -> bool:
    """The README's plan of the whole publish run on N workers, for the seeds of the results there."""
    from .publish_run import plan_summary, publish_tasks
    from .report import readme_markers, replace_readme_block
    from .settings import RunConfig

    readme = Path(readme)
    if not readme.exists() or readme_markers("run-plan")[0] not in readme.read_text():
        return False
    stored = {name: json.loads((results_dir / f"{name}.json").read_text()) for name in ("cll", "conditioning")
              if (results_dir / f"{name}.json").exists()}
    config = RunConfig.from_environment(stored["cll"]["profile"], download=False)
    tasks = publish_tasks(config, stored["cll"]["seeds"], stored.get("conditioning", {}).get("seeds", [0, 1]))
    return replace_readme_block("run-plan", plan_summary(tasks, results_dir), readme)


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
    from concurrent.futures.process import BrokenProcessPool

    from .checkpoints import CheckpointError
    from .engine import TaskFailed
    from .notebooks import NotebookFailed
    from .published import PublishError
    from .web_export import WebExportError

    config = None
    try:
        if args.command in ("reproduce", "ablation", "recipe-search", "conditioning", "publish-run", "alpha-sweep"):
            if args.command in ("ablation", "recipe-search"):
                args.quadrants = [args.quadrant]
            if args.command in ("conditioning", "publish-run"):
                args.quadrants = [1, 2, 3]
            _engine(args)  # a bad engine option is refused before anything runs
            config = _config(args, _seeds(args)[0])  # checked before anything runs, a bad device too
        _run(args, config)
    except KeyboardInterrupt:
        print(f"python -m cvae_lib: interrupted; kept: {_kept(args, config)}", file=sys.stderr)
        return 130
    except BrokenProcessPool:
        print("python -m cvae_lib: error: a worker process died (out of memory?); the tasks finished before it "
              "are kept: run the same command again, with fewer --jobs", file=sys.stderr)
        return 1
    except (CheckpointError, PublishError, WebExportError, NotebookFailed, TaskFailed, OSError, ValueError,
            FloatingPointError) as exc:
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
