"""The book's figures are legible: every label at least 10 pt, no figure wider than the column allows
(figures are shown at 100 px per inch in a column of about 780 px, so 10 pt stays above 10 px)."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from cvae_lib import digit_plots, plots, score_plots  # noqa: E402
from cvae_lib.data import mask_quadrants  # noqa: E402
from tests.helpers import synthetic_data, synthetic_images  # noqa: E402


def _sweep(offset):  # what the β sweep plots: per measure, a mean and a spread for each β
    return {key: [{"mean": offset + beta, "std": 0.1} for beta in (1e-5, 1e-2, 1.0)]
            for key in ("fidelity", "diversity", "kl")}


def _figures():
    images = synthetic_images(10)
    inputs, targets = mask_quadrants(images, 1)
    samples = synthetic_images(50).reshape(10, 5, 28, 28)
    history = [{"epoch": e, "train_loss": 100 - e, "val_loss": 101 - e} for e in range(1, 6)]
    curve = {"S": [1, 10, 100], "is": [70.0, 66.0, 65.0], "mc": [90.0, 85.0, 82.0], "neg_elbo": 70.0}
    split = synthetic_data(1).test
    split.labels = torch.arange(len(split)) % 10
    return {
        "quadrant examples": plots.plot_quadrant_examples(images[:8]),
        "prediction grid": plots.plot_prediction_grid(inputs, targets, images, samples, title="1 input quadrant"),
        "prediction rows": plots.plot_prediction_grid(inputs[:4], targets[:4], images[:4], samples[:4, :4],
                                                      images_as_rows=True),
        "models side by side": plots.plot_prediction_grid(
            inputs[:8], targets[:8], images[:8], {m: samples[:8, :3] for m in ("CVAE", "GSNN", "hybrid")}),
        "graphical model": plots.plot_graphical_model(),
        "loss curves": plots.plot_loss_curves({f"CVAE, {q}q": history for q in (1, 2, 3)}, title="Learning"),
        "training snapshots": plots.plot_training_snapshots(samples[:, :4].transpose(0, 1), inputs[:4]),
        "estimates vs S": score_plots.plot_estimates_vs_samples({f"{q} input quadrants": curve for q in (1, 2, 3)}),
        "ambiguous pairs": plots.plot_ambiguous_pairs(split, [(0, 1), (2, 3), (4, 5)]),
        "identity switches": plots.plot_identity_switches(split, [(0, (3, 5)), (1, (4, 9))],
                                                          samples, torch.randint(0, 10, (10, 5))),
        "image rows": digit_plots.plot_image_rows(samples[:, :4], [f"asked {d}" for d in range(10)],
                                                  title="β = 1"),
        "misses": digit_plots.plot_misses(samples, torch.arange(50).reshape(10, 5) % 10, per_row=4),
        "β samples": digit_plots.plot_beta_samples({b: samples for b in (1e-5, 1e-2, 1.0)}),
        "β sweep": digit_plots.plot_sweep_with_errors(
            (1e-5, 1e-2, 1.0), {name: _sweep(i) for i, name in enumerate(("q(z | x), label added",
                                                                        "q(z | x, c), label concatenated"))},
            {"fidelity": "fidelity", "diversity": "diversity", "kl": "KL (nats)"}, {"diversity": 8.8}),
        "KL per dimension": digit_plots.plot_kl_per_dimension({f"β = {b:g}": [3.0 / (d + 1) for d in range(20)]
                                                               for b in (1e-5, 1.0)}),
    }


FIGURES = _figures()


@pytest.mark.parametrize("name", FIGURES)
def test_figures_are_legible_at_the_columns_width(name):
    fig = FIGURES[name]
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert sizes and min(sizes) >= 10, f"{name}: text at {min(sizes)} pt"
    fig.savefig(buffer := io.BytesIO(), format="png", dpi=100, bbox_inches="tight")
    width_inches = plt.imread(io.BytesIO(buffer.getvalue())).shape[1] / 100
    assert width_inches <= plots.MAX_WIDTH + 0.3, f"{name} is {width_inches:.1f} inches wide"
    plt.close(fig)


def test_the_models_compared_side_by_side_are_labelled_by_name():
    labels = {t.get_text() for t in FIGURES["models side by side"].findobj(Text)}
    assert {"CVAE 1", "CVAE 3", "GSNN 1", "hybrid 3", "baseline"} <= labels


def test_a_grid_title_sits_above_its_column_labels():
    samples = synthetic_images(20).reshape(10, 2, 28, 28)
    fig = digit_plots.plot_image_rows(samples, [f"label {d}" for d in range(10)], ["z 1", "z 2"], title="one z per column")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    columns = [ax.title.get_window_extent(renderer) for ax in fig.axes[:2]]
    assert all(title.y0 >= column.y1 for column in columns)
    plt.close(fig)


def test_the_misses_figure_shows_only_samples_read_as_another_digit():
    samples = synthetic_images(30).reshape(10, 3, 28, 28)
    read = torch.arange(10).unsqueeze(1).repeat(1, 3)  # every sample read as asked ...
    read[2, 1], read[7, 0], read[7, 2] = 5, 1, 9  # ... but three
    fig = digit_plots.plot_misses(samples, read, per_row=2)
    shown = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert shown == ["read 5", "read 1", "read 9"]
    assert sum(len(ax.images) for ax in fig.axes) == 3  # the other cells are blank
    assert [ax.get_ylabel() for ax in fig.axes[::2]] == [f"asked {d}" for d in range(10)]
    plt.close(fig)
