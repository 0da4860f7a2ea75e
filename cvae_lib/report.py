"""Results as Markdown: the one table builder, the CLL and quality tables, and the README block.

Everything here renders what :mod:`cvae_lib.results` stored; nothing computes a number.
"""
from __future__ import annotations

import os
from pathlib import Path

from .results import QUALITY_KEYS, Estimator
from .util import atomic_write_text, check_finite


def markdown_table(header: list[str], rows: list[list[str]], align: str) -> str:
    """A Markdown table; ``align`` has one letter per column: ``l`` (left) or ``r`` (right)."""
    if len(align) != len(header) or any(len(row) != len(header) for row in rows):
        raise ValueError("every row and the alignment need one entry per column")

    def line(cells):
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"

    rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align)
    return "\n".join([line(header), rule, *map(line, rows)])


def quadrant_header(quadrants) -> list[str]:
    return [f"{q} quadrant{'s' if str(q) != '1' else ''}" for q in quadrants]


def mean_std(entry: dict, digits: int, many: bool) -> str:
    """``mean ± std`` over seeds, or the mean alone for one seed."""
    return f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f}" if many else f"{entry['mean']:.{digits}f}"


def render_table_markdown(results: dict) -> str:
    """The CLL table as Markdown: one row per estimator, one column per quadrant setting."""
    quadrants = [str(q) for q in results["quadrants"]]
    many = len(results["seeds"]) > 1
    rows = [[Estimator.from_key(key).label] + [mean_std(results["table"][q][key], 2, many) for q in quadrants]
            for key in results["table"][quadrants[0]]]
    if "gap" in results:
        samples = Estimator.from_key(results["gap"][quadrants[0]]["estimator"]).samples
        for unit, label, digits in (("nats_per_image", "per image", 2),
                                    ("nats_per_output_pixel", "per output pixel", 4)):
            rows.append([f"gap: baseline − CVAE IS (S = {samples}), {label}"]
                        + [mean_std(results["gap"][q][unit], digits, many) for q in quadrants])
    table = markdown_table(["negative CLL (nats per image)", *quadrant_header(quadrants)], rows,
                           "l" + "r" * len(quadrants))
    seeds = ", ".join(map(str, results["seeds"]))
    note = (f"\nProfile `{results['profile']}`, seed{'s' if many else ''} {seeds}"
            f"{' (mean ± standard deviation over seeds)' if many else ''}; "
            f"{results['test_images']} test images. Lower is better.\n")
    return table + "\n" + note


def render_quality_markdown(results: dict) -> str:
    """Chapter 8's completion measures as Markdown, one column per quadrant setting."""
    quadrants = [str(q) for q in results["quadrants"]]
    many = len(results["seeds"]) > 1
    rows = [[label] + [mean_std(results["quality"][q][key], 3, many) for q in quadrants]
            for key, label in QUALITY_KEYS.items()]
    table = markdown_table(["completion measure (test set)", *quadrant_header(quadrants)], rows,
                           "l" + "r" * len(quadrants))
    classifier = results["classifier"]
    note = (f"\nMeasured with a digit classifier of test accuracy {100 * classifier['test_accuracy']:.2f}% "
            f"on whole digits; {'mean ± standard deviation over seeds ' if many else 'seed '}"
            f"{', '.join(map(str, results['seeds']))}. Accuracies are fractions of test images.\n")
    return table + "\n" + note


def reproduction_time_sentence(results: dict) -> str:
    """How long one seed of the stored run took, in words (README and introduction)."""
    minutes = results["seconds_per_seed"] / 60
    by_seed = results.get("seconds_by_seed", {})
    if len(by_seed) > 1:
        detail = " (" + ", ".join(f"seed {seed}: {seconds / 60:.0f}" for seed, seconds in by_seed.items()) + ")"
        took = f"took {minutes:.0f} minutes on average{detail}"
    else:
        took = f"took {minutes:.0f} minutes"
    return f"One seed of this run (3 settings: baseline, CVAE and evaluation) {took} on {results['machine']}."


README_START = "<!-- cll-table:start (written by `python -m cvae_lib update-readme`; do not edit) -->"
README_END = "<!-- cll-table:end -->"


def readme_results_section(results: dict) -> str:
    """The block of README.md between the markers: the table and how it was made."""
    return (f"{README_START}\n{render_table_markdown(results)}\n"
            f"{reproduction_time_sentence(results)}\n{README_END}")


def update_readme(results: dict, readme: str | os.PathLike = "README.md") -> bool:
    """Replace the results block of the README with one rendered from ``results``.

    Returns True when the file changed. The README must already hold the two markers.
    """
    check_finite(results, "the results")
    readme = Path(readme)
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no results block; add the lines {README_START!r} and {README_END!r}")
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    new = before + readme_results_section(results) + after
    if new != text:
        atomic_write_text(new, readme)
    return new != text
