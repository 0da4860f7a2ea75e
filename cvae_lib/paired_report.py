"""Two models held against each other seed by seed, in words (chapters 6 and 9).

Each seed's two models share the data split and the seed, so the book compares them as paired
differences: the mean difference per setting and, over several seeds, its 95% interval (Student's
t). A sentence built here names how many seeds it rests on; with one seed it gives no interval.
"""
from __future__ import annotations

import statistics
from typing import Callable

from .protocol_report import listed
from .results import QUALITY_SAMPLES, one_draw_score, t_interval


def signed(value: float, digits: int = 1) -> str:
    """``value`` with its sign and a true minus, and no "−0.0"."""
    text = f"{value:+.{digits}f}".replace("-", "−")
    return text[1:] if text.lstrip("+−").strip("0.") == "" else text


def paired_differences(per_setting: dict[str, list[float]], seeds: list[int],
                       form: Callable[[float], str] = signed) -> tuple[str, str]:
    """The mean of each setting's paired differences, listed ("+1.1, +0.1 and −0.1"), and what they
    rest on: "95% intervals over the 3 seeds, Student's t: …" with several seeds, else "seed 0"."""
    means, intervals = [], []
    for paired in per_setting.values():
        means.append(form(statistics.fmean(paired)))
        interval = t_interval(paired)
        intervals.append(interval and f"{form(interval[0])} to {form(interval[1])}")
    where = (f"95% intervals over the {len(seeds)} seeds, Student's t: {', '.join(intervals)}"
             if all(intervals) else f"seed {seeds[0]}")
    return listed(means), where


def _quadrants_text(quadrants: list[str]) -> str:
    return f"{listed(quadrants)} input quadrant{'s' if quadrants != ['1'] else ''}"


def _quality_differences(results: dict, cvae_key: str, baseline_key: str, scale: float = 1.0):
    quadrants = [str(q) for q in results["quadrants"]]
    return quadrants, {q: [scale * (cvae - baseline) for cvae, baseline in
                           zip(results["quality"][q][cvae_key]["per_seed"],
                               results["quality"][q][baseline_key]["per_seed"])] for q in quadrants}


def mode_against_baseline_sentence(results: dict) -> str:
    """How much more often the CVAE's most likely completion is read as the right digit than the
    baseline's one answer, per setting, each seed's CVAE against its own baseline (chapter 9)."""
    quadrants, paired = _quality_differences(results, "cvae_mode_accuracy", "baseline_accuracy", 100)
    means, where = paired_differences(paired, results["seeds"])
    return (f"The accuracy of the CVAE's most likely completion minus that of the baseline's one answer, "
            f"each seed's CVAE against its own baseline, is {means} percentage points with "
            f"{_quadrants_text(quadrants)} ({where}).")


def best_of_k_against_baseline_sentence(results: dict) -> str:
    """The squared error of the best of K CVAE samples minus that of the baseline's answer, per output
    pixel and setting, each seed's CVAE against its own baseline (chapter 9)."""
    quadrants, paired = _quality_differences(results, "cvae_best_of_k_mse", "baseline_mse")
    means, where = paired_differences(paired, results["seeds"], lambda value: signed(value, 4))
    return (f"The squared error of the best of {QUALITY_SAMPLES} samples minus the baseline's, each seed's "
            f"CVAE against its own baseline, is {means} per output pixel with {_quadrants_text(quadrants)} ({where}).")


def _in_words(nats: float, unit: str = "") -> str:
    return f"{abs(nats):.2f}{unit} {'better' if nats < 0 else 'worse'}"


def compared(differences: list[float], setting: str) -> str:
    """Paired differences of a score in nats (a model's minus the CVAE's of the same seed; lower is
    better) in words: "10.37 nats worse with 1 input quadrant (95% interval 8.79 to 11.95)", the
    interval's sizes smaller first, or "(95% interval from 0.12 better to 0.30 worse)" when it holds
    0 and the seeds do not tell the two apart; no interval for one seed."""
    difference = statistics.fmean(differences)
    interval = t_interval(differences)
    if not interval:
        within = ""
    elif (interval[0] < 0) == (interval[1] < 0):
        near, far = sorted(abs(end) for end in interval)
        within = f" (95% interval {near:.2f} to {far:.2f})"
    else:
        within = f" (95% interval from {_in_words(interval[0])} to {_in_words(interval[1])})"
    return f"{_in_words(difference, ' nats')} with {setting}{within}"


def hybrid_one_draw_sentence(results: dict) -> str:
    """The table's hybrid against the CVAE of its own seed with one draw from the prior, the score
    of a single prediction, per setting (chapter 6)."""
    parts = []
    for q in results["quadrants"]:
        runs = [run for run in results["runs"] if run["quadrants"] == q]
        parts.append(compared([one_draw_score(run["remedies"]["hybrid"]) - one_draw_score(run) for run in runs],
                              _quadrants_text([str(q)])))
    seeds = results["seeds"]
    whose = (f"each seed's hybrid against the CVAE of the same seed, {len(seeds)} seeds" if len(seeds) > 1
             else f"seed {seeds[0]}")
    return (f"With one draw from the prior, the score of a single prediction, the hybrid "
            f"(α = {results['hybrid_alpha']:g}) is {listed(parts)} than the CVAE with one draw ({whose}).")
