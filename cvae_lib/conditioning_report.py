"""Chapters 7 and 8's tables and figures, rendered from ``results/conditioning.json``.

Nothing here trains or measures (that is :mod:`cvae_lib.conditioning`): numbers are read, averaged
over the seeds that were run, and laid out, so that every number the two chapters quote comes from
the stored file.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from .digit_plots import plot_sweep_with_errors
from .report import markdown_table

DESIGN_LABELS = {
    ("x,c", "concat"): "q(z | x, c), label concatenated",
    ("x,c", "add"): "q(z | x, c), label added",
    ("x", "concat"): "q(z | x), label concatenated",
    ("x", "add"): "q(z | x), label added",
    ("x", "add_relu"): "q(z | x), label added after a ReLU",
}
CLASSIFIER_LABELS = {"x": "classifier CVAE, encoder q(z | x)", "x,c": "classifier CVAE, encoder q(z | x, ĉ)"}
MEASURES = {  # key: (header, decimals)
    "fidelity": ("fidelity", 3), "follows_label": ("follows the label", 3),
    "digit_consistency": ("digit consistency", 3), "diversity": ("diversity", 2),
    "digit_in_z": ("digit read from z", 3), "active_units": ("active units", 1),
    "kl": ("KL (nats)", 1), "reconstruction": ("reconstruction (nats)", 1),
    "classifier_accuracy": ("classifier accuracy", 3), "label_shift": ("label shift", 2),
}


def load_conditioning(results_dir) -> dict:
    """The stored measurements, or one line that says how to make them."""
    path = Path(results_dir) / "conditioning.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `python -m cvae_lib conditioning --profile full "
                                f"--seeds 0 1 --out {Path(results_dir)}` to train and measure chapters 7–8's models")
    return json.loads(path.read_text())


def spread(values) -> dict:
    """Mean, standard deviation (0 for one value) and the values themselves."""
    values = list(values)
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def label_numbers(results: dict, encoder: str, conditioning: str, beta: float, key: str) -> dict:
    """One measure of one label-CVAE design and β, over the seeds that ran it."""
    rows = [r for r in results["label_cvae"]
            if (r["encoder"], r["conditioning"], r["beta"]) == (encoder, conditioning, beta)]
    if not rows:
        raise KeyError(f"no label CVAE q(z|{encoder}), {conditioning}, β = {beta:g} in conditioning.json")
    return spread(r[key] for r in rows)


def classifier_numbers(results: dict, encoder: str, key: str) -> dict:
    rows = [r for r in results["classifier_cvae"] if r["encoder"] == encoder]
    if not rows:
        raise KeyError(f"no classifier CVAE q(z|{encoder}) in conditioning.json")
    return spread(r[key] for r in rows)


def _cell(numbers: dict, decimals: int) -> str:
    if len(numbers["values"]) == 1:
        return f"{numbers['mean']:.{decimals}f}"
    return f"{numbers['mean']:.{decimals}f} ± {numbers['std']:.{decimals}f}"


def _footnote(results: dict, keys) -> str:
    seeds = results["seeds"]
    samples = (f"; fidelity over {results['samples_per_digit']:,} samples per digit" if "fidelity" in keys else "")
    return (f"\nProfile `{results['profile']}`, {'mean ± standard deviation over seeds ' if len(seeds) > 1 else 'seed '}"
            f"{', '.join(map(str, seeds))}{samples}.\n")


def label_table_markdown(results: dict, designs, beta: float, keys) -> str:
    """One row per design at one β, one column per measure."""
    rows = [[DESIGN_LABELS[design].replace("|", "\\|")]
            + [_cell(label_numbers(results, *design, beta, key), MEASURES[key][1]) for key in keys]
            for design in designs]
    table = markdown_table([f"β = {beta:g}", *(MEASURES[k][0] for k in keys)], rows, "l" + "r" * len(keys))
    return table + "\n" + _footnote(results, keys)


def rows_table_markdown(results: dict, pairs, keys) -> str:
    """One row per (design, β) in ``pairs``, one column per measure."""
    rows = [[DESIGN_LABELS[design].replace("|", "\\|"), f"{beta:g}"]
            + [_cell(label_numbers(results, *design, beta, key), MEASURES[key][1]) for key in keys]
            for design, beta in pairs]
    table = markdown_table(["design", "β", *(MEASURES[k][0] for k in keys)], rows, "lr" + "r" * len(keys))
    return table + "\n" + _footnote(results, keys)


def sweep_table_markdown(results: dict, designs, keys) -> str:
    """Every design at every β of the sweep: the numbers behind :func:`plot_conditioning_sweep`."""
    return rows_table_markdown(results, [(design, beta) for design in designs for beta in results["betas"]], keys)


def classifier_table_markdown(results: dict, keys, label_design=("x,c", "concat"), beta: float = 1.0) -> str:
    """Chapter 8's models beside chapter 7's label CVAE (which is given the true label)."""
    rows = [[CLASSIFIER_LABELS[r].replace("|", "\\|")]
            + [_cell(classifier_numbers(results, r, key), MEASURES[key][1]) for key in keys]
            for r in CLASSIFIER_LABELS]
    label_keys = [k if k != "classifier_accuracy" else None for k in keys]
    rows.append([f"chapter 7: {DESIGN_LABELS[label_design]}, β = {beta:g}".replace("|", "\\|")]
                + [_cell(label_numbers(results, *label_design, beta, key), MEASURES[key][1]) if key else "—"
                   for key in label_keys])
    table = markdown_table(["", *(MEASURES[k][0] for k in keys)], rows, "l" + "r" * len(keys))
    return table + "\n" + _footnote(results, keys)


def plot_conditioning_sweep(results: dict, designs, keys):
    """The measures against β, one line per design, error bars over seeds."""
    series = {DESIGN_LABELS[design]: {key: [label_numbers(results, *design, beta, key) for beta in results["betas"]]
                                      for key in keys}
              for design in designs}
    return plot_sweep_with_errors(results["betas"], series, {k: MEASURES[k][0] for k in keys},
                                  references={"diversity": results.get("real_diversity")}, log_scale=("kl",))
