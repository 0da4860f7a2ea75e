"""Chapters 7 and 8's measures: they tell a z that carries the digit from one that does not, and the
pipeline writes every number the chapters quote."""
import dataclasses
import json

import torch

from cvae_lib import conditioning
from cvae_lib.classifier_cvae import ClassifierCVAE
from cvae_lib.data import DigitData
from cvae_lib.label_cvae import LabelCVAE
from cvae_lib.settings import PROFILES, RunConfig
from tests.test_beyond import labelled


class _Encoder(torch.nn.Module):
    """An encoder whose mean of z is the one-hot digit (``carries``) or always 0, with unit scale."""

    def __init__(self, carries: bool):
        super().__init__()
        self.carries = carries

    def forward(self, flat):
        onehot = flat[:, 784:]
        loc = onehot * 3.0 if self.carries else torch.zeros(len(flat), 10)
        return loc, torch.ones_like(loc)


def _model(carries: bool) -> LabelCVAE:
    model = LabelCVAE(z_dim=10, hidden=16, encoder_sees_label=True)
    model.encoder = _Encoder(carries)
    return model


def test_digit_in_z_is_near_one_when_z_carries_the_digit_and_near_chance_when_not():
    digits = DigitData(train=labelled(512, 0), val=labelled(128, 1), test=labelled(256, 2))
    assert conditioning.digit_in_z(_model(True), digits.train, digits.test, seed=0) > 0.95
    assert conditioning.digit_in_z(_model(False), digits.train, digits.test, seed=0) < 0.3


def test_active_units_and_kl_per_dimension():
    images, labels = labelled(256, 0)
    stats = conditioning.latent_statistics(_model(True), images, labels)
    assert stats["active_units"] == 10  # every dimension's mean varies with the digit
    expected = 0.5 * (9.0 * 0.1)  # KL per dimension: loc² / 2 with loc = 3 one time in ten, scale 1
    assert all(abs(v - expected) < 0.2 for v in stats["kl_per_dim"])
    assert conditioning.latent_statistics(_model(False), images, labels)["active_units"] == 0


class _Reader:
    """A 'classifier' that reads the brightest of ten bands of rows as the digit."""

    def predict(self, images):
        bands = images[..., :20, :].reshape(*images.shape[:-2], 10, 56).mean(-1)  # rows 2d, 2d + 1
        return bands.argmax(-1)


class _Drawer(ClassifierCVAE):
    """Draws digit d as a bright band d whatever z is (``follows``), or band 0 always."""

    def __init__(self, follows: bool):
        super().__init__(z_dim=4, hidden=8)
        self.follows = follows

    def decode(self, z, onehot):
        rows = torch.zeros(*onehot.shape[:-1], 28, 28)
        digit = onehot.argmax(-1) if self.follows else torch.zeros(onehot.shape[:-1], dtype=torch.long)
        for d in range(10):
            rows[..., 2 * d:2 * d + 2, :] = torch.where((digit == d)[..., None, None], 1.0, -5.0)
        return rows.reshape(*onehot.shape[:-1], 784) * 10 + z[..., :1] * 0


class _LabelDrawer(LabelCVAE):
    """Decodes band ``label`` (``follows``) or band ``argmax z`` (z carries the digit, the label is
    ignored); its encoder puts the image's own digit into z."""

    def __init__(self, follows: bool):
        super().__init__(z_dim=10, hidden=8, encoder_sees_label=True)
        self.encoder, self.follows = _Encoder(True), follows

    def decode(self, z, labels):
        digit = labels if self.follows else z.argmax(-1)
        rows = torch.full((*digit.shape, 28, 28), -50.0)
        for d in range(10):
            rows[..., 2 * d:2 * d + 2, :] = torch.where((digit == d)[..., None, None], 50.0, -50.0)
        return rows.reshape(*digit.shape, 784)


def test_follows_label_tells_a_decoder_that_takes_the_digit_from_the_label_from_one_that_takes_it_from_z():
    images, labels = labelled(200, 0)
    assert conditioning.follows_label(_LabelDrawer(True), images, labels, _Reader(), seed=0) == 1.0
    assert conditioning.follows_label(_LabelDrawer(False), images, labels, _Reader(), seed=0) == 0.0  # draws its own digit


def test_real_diversity_is_the_spread_of_real_digits_of_one_class():
    images, labels = labelled(400, 0)
    digits = DigitData(train=(images, labels), val=(images, labels), test=(images, labels))
    spread = conditioning.real_diversity(digits)
    assert spread > 0
    same = DigitData(train=digits.train, val=digits.val, test=(images[:1].expand(400, 28, 28), labels))
    # exact on any machine: the distance is taken pixel by pixel (digits.mean_pairwise_distance), and
    # the difference of two equal floats is 0 whatever the summation order or thread count
    assert conditioning.real_diversity(same) == 0.0


def test_the_classifier_cvae_measures_tell_a_code_that_is_followed_from_one_that_is_ignored(monkeypatch):
    monkeypatch.setattr(conditioning, "SAMPLES_PER_DIGIT", 20)
    monkeypatch.setattr(conditioning, "DIVERSITY_SAMPLES", 5)
    digits = DigitData(train=labelled(256, 0), val=labelled(64, 1), test=labelled(64, 2))
    follows = conditioning.classifier_cvae_numbers(_Drawer(True), digits, _Reader(), seed=0)
    assert follows["fidelity"] == 1.0 and follows["digit_consistency"] == 1.0
    ignores = conditioning.classifier_cvae_numbers(_Drawer(False), digits, _Reader(), seed=0)
    assert abs(ignores["fidelity"] - 0.1) < 1e-6 and ignores["digit_consistency"] == 1.0


def test_the_pipeline_writes_every_number_the_chapters_quote(tmp_path, monkeypatch):
    monkeypatch.setattr(conditioning, "SWEEP_BETAS", (1.0,))
    monkeypatch.setattr(conditioning, "DESIGNS", (("x,c", "concat"), ("x", "add")))
    monkeypatch.setattr(conditioning, "SOURCE_BETAS", (1e-5,))
    monkeypatch.setattr(conditioning, "SAMPLES_PER_DIGIT", 20)
    monkeypatch.setattr(conditioning, "DIVERSITY_SAMPLES", 5)
    # the fast profile cut to two epochs: every number is written whatever the models learnt
    config = RunConfig.from_environment(dataclasses.replace(PROFILES["fast"], max_epochs=2),
                                        checkpoint_dir=tmp_path / "ckpt", results_dir=tmp_path / "out", download=False)
    lines = []
    results = conditioning.run_conditioning(config, [0], progress=False, log=lines.append)
    stored = json.loads((tmp_path / "out" / "conditioning.json").read_text())
    assert stored == json.loads(json.dumps(results))
    assert [(r["encoder"], r["conditioning"], r["beta"], r["seed"]) for r in stored["label_cvae"]] == [
        ("x,c", "concat", 1.0, 0), ("x", "add", 1.0, 0), ("x", "add_relu", 1e-5, 0)]
    for row in stored["label_cvae"]:
        assert {"fidelity", "diversity", "kl", "reconstruction", "digit_in_z", "active_units",
                "kl_per_dim", "epochs"} <= row.keys()
        assert 0 <= row["fidelity"] <= 1 and 0 <= row["follows_label"] <= 1 and len(row["kl_per_dim"]) == 20
    assert stored["real_diversity"] > 0
    assert [row["label_shift"] is None for row in stored["label_cvae"]] == [True, False, False]
    assert [(row["encoder"], row["seed"]) for row in stored["classifier_cvae"]] == [("x", 0), ("x,c", 0)]
    for row in stored["classifier_cvae"]:
        assert {"classifier_accuracy", "fidelity", "digit_consistency", "diversity", "digit_in_z"} <= row.keys()
    assert stored["source_design"] == {"encoder": "x", "conditioning": "add_relu", "betas": [1e-5]}
    assert len(lines) == 5
