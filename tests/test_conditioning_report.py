"""Chapters 7 and 8's tables are rendered from conditioning.json: means and spreads over seeds, the
right rows, and one clear line when the file is missing."""
import json

import matplotlib
import pytest

from cvae_lib import conditioning_report as report

matplotlib.use("Agg")


def _results():
    label = [{"encoder": e, "conditioning": c, "beta": b, "seed": s, "fidelity": f + 0.01 * s,
              "follows_label": 0.5, "digit_consistency": 0.9, "diversity": 6.0 + s, "digit_in_z": 0.3,
              "active_units": 10 + s, "kl": 20.0, "reconstruction": 80.0, "label_shift": None}
             for s in (0, 1) for (e, c), f in ((("x,c", "concat"), 0.95), (("x", "add"), 0.4))
             for b in (1e-5, 1.0)]
    classifier = [{"encoder": e, "seed": s, "classifier_accuracy": 0.97, "fidelity": 0.4 if e == "x" else 0.92,
                   "digit_consistency": 0.95, "diversity": 5.0, "digit_in_z": 0.8}
                  for s in (0, 1) for e in ("x", "x,c")]
    return {"profile": "full", "seeds": [0, 1], "betas": [1e-5, 1.0], "samples_per_digit": 1000,
            "real_diversity": 9.5, "label_cvae": label, "classifier_cvae": classifier}


def test_a_missing_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m cvae_lib conditioning"):
        report.load_conditioning(tmp_path)
    (tmp_path / "conditioning.json").write_text(json.dumps(_results()))
    assert report.load_conditioning(tmp_path)["seeds"] == [0, 1]


def test_the_label_table_shows_the_mean_and_spread_over_seeds():
    table = report.label_table_markdown(_results(), [("x,c", "concat"), ("x", "add")], 1.0,
                                        ["fidelity", "active_units"])
    lines = table.splitlines()
    assert lines[0] == "| β = 1 | fidelity | active units |"
    assert lines[2] == "| q(z \\| x, c), label concatenated | 0.955 ± 0.007 | 10.5 ± 0.7 |"
    assert lines[3].startswith("| q(z \\| x), label added | 0.405 ± 0.007 |")
    assert "mean ± standard deviation over seeds 0, 1" in table
    assert "samples per digit" in table  # fidelity is a column: how many samples it is measured on
    without = report.label_table_markdown(_results(), [("x,c", "concat")], 1.0, ["active_units"])
    assert "samples per digit" not in without
    with pytest.raises(KeyError, match="add_relu"):
        report.label_numbers(_results(), "x", "add_relu", 1.0, "fidelity")


def test_the_sweep_table_has_a_row_per_design_and_beta():
    table = report.sweep_table_markdown(_results(), [("x,c", "concat"), ("x", "add")], ["fidelity"])
    rows = [line for line in table.splitlines() if line.startswith("| q(z")]
    assert [row.split(" | ")[1] for row in rows] == ["1e-05", "1", "1e-05", "1"]


def test_the_classifier_table_sets_chapter_7s_model_beside_chapter_8s():
    table = report.classifier_table_markdown(_results(), ["classifier_accuracy", "fidelity"])
    lines = table.splitlines()
    assert lines[2] == "| classifier CVAE, encoder q(z \\| x) | 0.970 ± 0.000 | 0.400 ± 0.000 |"
    assert lines[4] == "| chapter 7: q(z \\| x, c), label concatenated, β = 1 | — | 0.955 ± 0.007 |"


def test_the_sweep_figure_has_a_panel_per_measure_with_error_bars():
    fig = report.plot_conditioning_sweep(_results(), [("x,c", "concat"), ("x", "add")], ["fidelity", "diversity"])
    panels = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in panels] == ["fidelity", "diversity"]
    assert len(panels[0].containers) == 2  # one error-bar line per design
    assert any(line.get_linestyle() == "--" for line in panels[1].lines)  # the real digits' diversity
    assert fig.get_size_inches()[0] <= 10.4
