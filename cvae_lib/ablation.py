"""Does training longer at a lower learning rate improve the CVAE's CLL? (a step schedule)

The published table trains the CVAE at one learning rate (1e-3) until the validation loss stops
improving for ``patience`` epochs. The ablation continues that model at a lower rate (1e-4) with
the same early stopping — the second step of a step learning-rate schedule — and evaluates both
with the same estimators. ``python -m cvae_lib ablation`` writes ``ablation.json`` and
``ablation.md``.
"""
from __future__ import annotations

from pathlib import Path

from .reproduce import (TrainedSetting, estimator_label, evaluate_setting_cached,
                        library_versions, machine_description, train_setting)
from .settings import get_profile
from .train import train_or_load_cvae_continued
from .util import atomic_write_json, atomic_write_text


def lr_step_ablation(num_quadrants: int = 1, *, profile=None, seed: int = 0, second_lr: float = 1e-4,
                     out="results", root=None, checkpoint_directory=None, progress: bool = True) -> dict:
    """Train-or-load both variants for one setting and seed, evaluate them, write the files."""
    profile = get_profile(profile)
    setting = train_setting(num_quadrants, profile=profile, seed=seed, root=root,
                            checkpoint_directory=checkpoint_directory, progress=progress)
    path = None
    if checkpoint_directory is not None:
        path = Path(setting.cvae.path).with_name(f"cvae_lr{second_lr:g}.pt")
    continued = train_or_load_cvae_continued(setting.data, setting.baseline, setting.cvae, lr=second_lr,
                                             profile=profile, progress=progress,
                                             **({"checkpoint_path": path} if path is not None else {}))
    variants = {}
    for name, cvae, epochs in (
            (f"one rate ({setting.cvae.config['lr']:g}), as published", setting.cvae, setting.cvae.epochs_run),
            (f"then {second_lr:g} (step schedule)", continued, setting.cvae.epochs_run + continued.epochs_run)):
        evaluation = evaluate_setting_cached(TrainedSetting(setting.data, setting.baseline, cvae, seed), profile)
        variants[name] = {"numbers": evaluation["numbers"], "epochs": epochs,
                          "best_val_loss": min(row["val_loss"] for row in cvae.history),
                          "train_seconds": cvae.seconds}
    results = {"profile": profile.name, "quadrants": num_quadrants, "seed": seed, "variants": variants,
               "versions": library_versions(), "machine": machine_description()}
    out = Path(out)
    atomic_write_json(results, out / "ablation.json")
    atomic_write_text(render_ablation_markdown(results), out / "ablation.md")
    return results


def render_ablation_markdown(results: dict) -> str:
    names = list(results["variants"])
    keys = [k for k in results["variants"][names[0]]["numbers"] if k != "baseline_nll"]  # same baseline in both
    lines = ["| CVAE training | epochs | " + " | ".join(estimator_label(k).replace("CVAE: ", "") for k in keys) + " |",
             "|---|---:|" + "---:|" * len(keys)]
    for name in names:
        variant = results["variants"][name]
        lines.append(f"| {name} | {variant['epochs']} | "
                     + " | ".join(f"{variant['numbers'][k]:.2f}" for k in keys) + " |")
    q = results["quadrants"]
    return ("\n".join(lines) + f"\n\n{q} input quadrant{'s' if q > 1 else ''}, seed {results['seed']}, profile "
            f"`{results['profile']}`; test-set nats per image, lower is better.\n")
