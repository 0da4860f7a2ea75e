"""The results document (``cll.json``): its estimators, its numbers and where they came from.

Estimators are data, not strings: an :class:`Estimator` is a kind and, for the sampling
estimators, a number of samples. Its ``key`` (``"cvae_is_1000"``) is how it is stored in
``cll.json``, and :meth:`Estimator.from_key` is the one place where a key is read back.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import statistics
from pathlib import Path

import torch

from .data import output_pixels
from .settings import RunProfile
from .util import cpu_model

RESULTS_FORMAT = 3  # 2: adds the gap, chapter 9's quality measures and the classifier; 3: the remedies
CURVE_SAMPLES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)  # S of the estimates-against-S figure
QUALITY_SAMPLES = 10  # K completions per test image for chapter 9's measures

_LABELS = {
    "baseline_nll": "Baseline NN: NLL",
    "cvae_neg_elbo": "CVAE: negative ELBO (upper bound)",
    "cvae_mc": "CVAE: Monte Carlo from the prior, S = {samples}",
    "cvae_is": "CVAE: importance sampling, S = {samples}",
    "gsnn_mc": "GSNN: Monte Carlo from the prior, S = {samples}",
    "hybrid_is": "hybrid: importance sampling, S = {samples}",
}
SAMPLED_KINDS = ("cvae_mc", "cvae_is", "gsnn_mc", "hybrid_is")
REMEDY_KINDS = ("gsnn_mc", "hybrid_is")  # the paper's remedies for the train/test gap (its section 4.2)


@dataclasses.dataclass(frozen=True, order=True)
class Estimator:
    """One row of the CLL table: ``kind`` and, for Monte Carlo and importance sampling, ``samples``."""

    kind: str
    samples: int | None = None

    def __post_init__(self):
        if self.kind not in _LABELS:
            raise ValueError(f"unknown estimator {self.kind!r}; one of {sorted(_LABELS)}")
        if (self.kind in SAMPLED_KINDS) != (self.samples is not None):
            raise ValueError(f"{self.kind} takes a number of samples exactly when it samples")

    @property
    def key(self) -> str:
        return self.kind if self.samples is None else f"{self.kind}_{self.samples}"

    @property
    def label(self) -> str:
        return _LABELS[self.kind].format(samples=self.samples)

    @classmethod
    def from_key(cls, key: str) -> Estimator:
        if key in _LABELS:
            return cls(key)
        kind, _, samples = key.rpartition("_")
        if kind not in SAMPLED_KINDS or not samples.isdigit():
            raise ValueError(f"not an estimator key: {key!r}")
        return cls(kind, int(samples))


def estimators(profile: RunProfile, remedies: bool = False) -> list[Estimator]:
    """The table's rows for a profile, in display order; with ``remedies``, also the GSNN (Monte
    Carlo from its prior) and the hybrid (importance sampling), each with the largest S."""
    rows = ([Estimator("baseline_nll"), Estimator("cvae_neg_elbo")]
            + [Estimator("cvae_mc", s) for s in profile.mc_samples]
            + [Estimator("cvae_is", s) for s in profile.is_samples])
    if remedies:
        rows += [Estimator(kind, max(profile.is_samples)) for kind in REMEDY_KINDS]
    return rows


def best_importance_sampling(keys) -> Estimator:
    """The importance-sampling estimator with the most samples among ``keys`` (the best estimate)."""
    return max((e for e in map(Estimator.from_key, keys) if e.kind == "cvae_is"), key=lambda e: e.samples)


def one_draw_score(evaluation: dict) -> float:
    """One draw from the prior, the score of a single prediction: the Monte Carlo estimate with S = 1
    of a stored evaluation (a run of ``cll.json`` or one of its remedies)."""
    return evaluation["curves"]["mc"][evaluation["curves"]["S"].index(1)]


def summarize(values: list[float]) -> dict:
    """Mean, standard deviation over seeds, and the values themselves."""
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "per_seed": values}


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (its continued fraction, Lentz's method)."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * fraction


def t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile of Student's t with ``df`` degrees of freedom (bisection on its
    CDF, P(T ≤ t) = 1 − I_{df/(df+t²)}(df/2, 1/2) / 2 for t ≥ 0)."""
    if not 0.5 <= probability < 1.0 or df < 1:
        raise ValueError(f"need 0.5 <= probability < 1 and df >= 1, got {probability!r}, {df!r}")
    low, high = 0.0, 1e6
    for _ in range(200):
        middle = (low + high) / 2
        if 1.0 - _incomplete_beta(df / 2, 0.5, df / (df + middle * middle)) / 2 < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """The ``level`` confidence interval of the mean of ``values`` (one per seed), Student's t:
    mean ± t · s / √n; ``None`` for fewer than two values."""
    if len(values) < 2:
        return None
    mean, spread = statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))
    half = t_quantile(0.5 + level / 2, len(values) - 1) * spread
    return mean - half, mean + half


def provenance() -> dict:
    """What a stored number was computed with: library versions and the machine, its CPU model
    included (the threads of each task are in the engine's records)."""
    import matplotlib
    import pyro
    import torchvision

    from . import __version__

    if torch.cuda.is_available():
        machine = f"{torch.cuda.get_device_name(0)} (GPU); {os.cpu_count()} CPU cores"
    else:
        machine = f"{os.cpu_count()} CPU cores ({cpu_model()}; {platform.machine()}, {platform.system()}), no GPU used"
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "torchvision": torchvision.__version__, "pyro": pyro.__version__,
                "matplotlib": matplotlib.__version__, "cvae_lib": __version__}
    return {"versions": versions, "machine": machine}


def names_its_cpu(machine: str) -> bool:
    """Whether a stored ``machine`` names its CPU model: "N CPU cores (CPU; arch, OS)" does, as written
    since 2026-12-06; the earlier "N CPU cores (arch, OS)" does not (a GPU machine names its GPU)."""
    return "(GPU)" in machine or ";" in machine.partition("(")[2]


QUALITY_KEYS = {  # chapter 9's measures, in display order
    "baseline_accuracy": "baseline: classifier accuracy of its prediction",
    "cvae_mode_accuracy": "CVAE: accuracy of the most likely completion (prior mean)",
    "cvae_top_k_accuracy": f"CVAE: true digit among K = {QUALITY_SAMPLES} samples",
    "cvae_label_entropy": "CVAE: entropy of the digit across samples (nats)",
    "cvae_diversity": "CVAE: mean pairwise distance between samples",
    "baseline_mse": "baseline: squared error per output pixel",
    "cvae_best_of_k_mse": f"CVAE: best-of-{QUALITY_SAMPLES} squared error per output pixel",
}


def build_results(profile: RunProfile, seeds: list[int], quadrants: list[int], runs: list[dict],
                  seconds_per_seed: list[float]) -> dict:
    """The results document: settings, per-run numbers and the mean ± std table."""
    rows_shown = estimators(profile, remedies=all("remedies" in run for run in runs))
    table = {}
    for q in quadrants:
        rows = [run for run in runs if run["quadrants"] == q]
        table[str(q)] = {e.key: summarize([run["numbers"][e.key] for run in rows]) for e in rows_shown}
    # The paper's claim in one number per column: how much better the CVAE's CLL is.
    best_is = best_importance_sampling(e.key for e in estimators(profile)).key
    gap = {}
    for q in quadrants:
        per_image = [run["numbers"]["baseline_nll"] - run["numbers"][best_is]
                     for run in runs if run["quadrants"] == q]
        gap[str(q)] = {"estimator": best_is, "output_pixels": output_pixels(q),
                       "nats_per_image": summarize(per_image),
                       "nats_per_output_pixel": summarize([g / output_pixels(q) for g in per_image])}
    if all("quality" in run for run in runs):
        quality = {str(q): {key: summarize([run["quality"][key] for run in runs if run["quadrants"] == q])
                            for key in QUALITY_KEYS}
                   for q in quadrants}
    else:
        quality = None
    made_with = provenance()
    remedy_seconds = {kind: statistics.fmean(sum(run["remedies"][kind]["seconds"] for run in runs if run["seed"] == seed)
                                             for seed in seeds)
                      for kind in ("gsnn", "hybrid")} if rows_shown[-1].kind in REMEDY_KINDS else None
    return {
        "format": RESULTS_FORMAT,
        "profile": profile.name,
        "profile_settings": profile.as_dict(),
        "seeds": seeds,
        "quadrants": quadrants,
        "seconds_per_seed": statistics.fmean(seconds_per_seed),
        "seconds_by_seed": dict(zip(map(str, seeds), seconds_per_seed)),
        "remedy_seconds_per_seed": remedy_seconds,  # training and evaluating the GSNN and the hybrid
        "table": table,
        "gap": gap,
        "quality": quality,
        "runs": runs,
        "versions": made_with["versions"],
        "machine": made_with["machine"],
        "test_images": runs[0]["test_images"] if runs else None,
    }


def load_results(path: str | os.PathLike) -> dict:
    """Read a ``cll.json`` written by ``reproduce``, with a clear error if it is missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no results at {path}; run `python -m cvae_lib reproduce --out {path.parent}` first"
        )
    return json.loads(path.read_text())
