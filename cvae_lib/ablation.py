"""Does a different training schedule improve the CVAE's CLL? A step learning rate and KL annealing.

The published table trains the CVAE at one learning rate (1e-3) with the KL term at full weight
until the validation loss stops improving for ``patience`` epochs. The ablation compares, for one
setting and seed, with the same estimators:

* a *step schedule*: that model continued at a lower rate (1e-4) with the same early stopping;
* *KL annealing*: a CVAE trained from scratch with the KL weight raised linearly to 1 over the
  first epochs (validation and early stopping always use the true negative ELBO);
* both: the annealed model continued at the lower rate.

``python -m cvae_lib ablation`` writes ``ablation.json`` and ``ablation.md``.
"""
from __future__ import annotations

from pathlib import Path

from .data import load_mnist
from .experiment import TrainedSetting, evaluate_setting_cached, train_setting
from .report import markdown_table
from .results import Estimator, best_importance_sampling, provenance
from .settings import RunConfig
from .train import train_or_load_cvae, train_or_load_cvae_continued
from .util import atomic_write_json, atomic_write_text, ensure_writable_folder


def training_ablation(config: RunConfig, num_quadrants: int = 1, *, second_lr: float = 1e-4,
                      kl_warmup_epochs: int = 10, out=None, progress: bool = True) -> dict:
    """Train-or-load the four variants for one setting and seed, evaluate them, write the files.

    Their checkpoints lie beside the published CVAE's (``cvae_lr<lr>.pt``,
    ``cvae_klwarmup<n>.pt``, ``cvae_klwarmup<n>_lr<lr>.pt``), so a second run only evaluates.
    The files go to ``out`` (default: the configuration's results folder).
    """
    if type(kl_warmup_epochs) is not int or kl_warmup_epochs < 1:
        raise ValueError(f"kl_warmup_epochs must be a positive int, got {kl_warmup_epochs!r}")
    out = ensure_writable_folder(out if out is not None else config.results_dir)
    setting = train_setting(num_quadrants, config, load_mnist(config.data_dir), progress=progress)
    folder = Path(setting.cvae.path).parent
    annealed_name = f"cvae_klwarmup{kl_warmup_epochs}"
    annealed = train_or_load_cvae(setting.data, setting.baseline, config, kl_warmup_epochs=kl_warmup_epochs,
                                  progress=progress, checkpoint_path=folder / f"{annealed_name}.pt")

    def continued(first_stage, stem):
        return train_or_load_cvae_continued(setting.data, setting.baseline, first_stage, config, lr=second_lr,
                                            progress=progress,
                                            checkpoint_path=folder / f"{stem}_lr{second_lr:g}.pt")

    stepped, annealed_stepped = continued(setting.cvae, "cvae"), continued(annealed, annealed_name)
    lr = setting.cvae.config["lr"]
    stages = [  # name, CVAE, epochs in all its stages
        (f"one rate ({lr:g}), as published", setting.cvae, setting.cvae.epochs_run),
        (f"then {second_lr:g} (step schedule)", stepped, setting.cvae.epochs_run + stepped.epochs_run),
        (f"KL weight annealed over {kl_warmup_epochs} epochs", annealed, annealed.epochs_run),
        (f"KL annealed, then {second_lr:g}", annealed_stepped, annealed.epochs_run + annealed_stepped.epochs_run),
    ]
    variants = {}
    for name, cvae, epochs in stages:
        evaluation = evaluate_setting_cached(TrainedSetting(setting.data, setting.baseline, cvae, config.seed),
                                             config)
        variants[name] = {"numbers": evaluation["numbers"], "epochs": epochs,
                          "best_val_loss": min(row["val_loss"] for row in cvae.history),
                          "train_seconds": cvae.seconds}
    results = {"profile": config.profile.name, "quadrants": num_quadrants, "seed": config.seed,
               "kl_warmup_epochs": kl_warmup_epochs, "second_lr": second_lr, "variants": variants,
               **provenance()}
    atomic_write_json(results, out / "ablation.json")
    atomic_write_text(render_ablation_markdown(results), out / "ablation.md")
    return results


def render_ablation_markdown(results: dict) -> str:
    names = list(results["variants"])
    keys = [k for k in results["variants"][names[0]]["numbers"] if k != "baseline_nll"]  # the same baseline in all
    header = ["CVAE training", "epochs"] + [Estimator.from_key(k).label.replace("CVAE: ", "") for k in keys]
    rows = [[name, str(results["variants"][name]["epochs"])]
            + [f"{results['variants'][name]['numbers'][k]:.2f}" for k in keys] for name in names]
    q = results["quadrants"]
    return (markdown_table(header, rows, "lr" + "r" * len(keys)) + f"\n\n{q} input quadrant{'s' if q > 1 else ''}, seed {results['seed']}, profile "
            f"`{results['profile']}`; test-set nats per image, lower is better.\n")


def ablation_summary(results: dict) -> str:
    """One sentence with the ablation's headline numbers (the evaluation chapter and the README):
    the importance-sampled estimate with the largest S, for each variant."""
    variants = list(results["variants"].items())
    estimator = best_importance_sampling(variants[0][1]["numbers"])
    (_, published), *others = [(name, variant["numbers"][estimator.key]) for name, variant in variants]
    best_name, best = min(others, key=lambda item: item[1])
    q = results["quadrants"]
    verdict = (f"the best change, “{best_name}”, gains {published - best:.2f} nats" if best < published
               else "none of the changes improves on it")
    return (f"With {q} input quadrant{'s' if q > 1 else ''} (seed {results['seed']}), the estimate by "
            f"{estimator.label.replace('CVAE: ', '')}, is {published:.2f} nats as published, "
            + ", ".join(f"{x:.2f} with “{name}”" for name, x in others) + f"; {verdict}.")
