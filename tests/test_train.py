import dataclasses

import pyro
import pytest
import torch
from torch import nn

from cvae_lib import objectives, train, util
from cvae_lib.models import CVAE
from cvae_lib.checkpoints import CheckpointError
from cvae_lib.loop import fit
from cvae_lib.train import train_or_load_baseline, train_or_load_cvae
from tests.helpers import TINY, config_for, synthetic_data


class ScriptedObjective:
    """Validation losses follow a script, so early stopping can be checked exactly."""

    def __init__(self, val_script):
        self.module = nn.Linear(1, 1, bias=False)
        self.val_script = list(val_script)
        self.epoch = 0

    def loss(self, x):
        if torch.is_grad_enabled():  # training step
            return ((self.module(x) - 3.0) ** 2).sum()
        return torch.tensor(self.val_script[self.epoch - 1] * x.shape[0])


def test_early_stopping_restores_the_best_epoch():
    objective = ScriptedObjective([5.0, 4.0, 6.0, 7.0, 8.0, 1.0])
    weights = []

    def on_epoch_end(epoch):
        weights.append(objective.module.weight.item())
        objective.epoch = epoch + 1

    objective.epoch = 1
    data = (torch.ones(32, 1),)
    result = fit(objective, data, data, lr=0.1, max_epochs=6, patience=2, batch_size=8,
                 progress=False, on_epoch_end=on_epoch_end)
    assert result.epochs_run == 4  # best at 2, then two epochs without improvement
    assert result.best_epoch == 2
    assert [row["val_loss"] for row in result.history] == [5.0, 4.0, 6.0, 7.0]
    assert objective.module.weight.item() == pytest.approx(weights[1])
    assert weights[3] != weights[1]


def test_early_stopping_waits_for_min_epochs():
    objective = ScriptedObjective([5.0, 4.0, 6.0, 7.0, 8.0, 9.0])

    def on_epoch_end(epoch):
        objective.epoch = epoch + 1

    objective.epoch = 1
    data = (torch.ones(32, 1),)
    result = fit(objective, data, data, lr=0.1, max_epochs=6, patience=2, batch_size=8,
                 progress=False, on_epoch_end=on_epoch_end, min_epochs=5)
    assert result.epochs_run == 5 and result.best_epoch == 2  # patience alone would stop after 4


def test_schedules_run_before_an_epoch_and_recording_after_it():
    objective = ScriptedObjective([5.0, 4.0, 3.0])
    calls = []

    def on_epoch_start(epoch):
        calls.append(("start", epoch))
        objective.epoch = epoch

    def on_epoch_end(epoch):
        calls.append(("end", epoch))
        return epoch * 10

    data = (torch.ones(16, 1),)
    result = fit(objective, data, data, lr=0.1, max_epochs=3, patience=5, batch_size=8, progress=False,
                 on_epoch_start=on_epoch_start, on_epoch_end=on_epoch_end)
    assert calls == [("start", 1), ("end", 1), ("start", 2), ("end", 2), ("start", 3), ("end", 3)]
    assert result.snapshots == [10, 20, 30]  # only what the recording hook returned


def test_training_lowers_the_loss_and_is_deterministic(tmp_path):
    data = synthetic_data()
    first = train_or_load_baseline(data, config=config_for(TINY, seed=3), checkpoint_path=None, progress=False)
    second = train_or_load_baseline(data, config=config_for(TINY, seed=3), checkpoint_path=None, progress=False)
    history = first.history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert [r["val_loss"] for r in history] == [r["val_loss"] for r in second.history]
    for key, value in first.module.state_dict().items():
        assert torch.equal(value, second.module.state_dict()[key])


def test_train_or_load_round_trip(tmp_path):
    data = synthetic_data()
    path = tmp_path / "ckpt" / "baseline.pt"
    baseline = train_or_load_baseline(data, config=config_for(TINY), checkpoint_path=path, progress=False)
    assert not baseline.loaded and path.exists()
    cvae_path = tmp_path / "ckpt" / "cvae.pt"
    cvae = train_or_load_cvae(data, baseline, config=config_for(TINY), checkpoint_path=cvae_path, progress=False,
                              z_dim=4, hidden_1=32, hidden_2=32)
    assert cvae.snapshots.shape == (cvae.epochs_run, train.SNAPSHOT_IMAGES, 28, 28)

    again = train_or_load_baseline(data, config=config_for(TINY), checkpoint_path=path, progress=False)
    assert again.loaded and again.history == baseline.history
    cvae_again = train_or_load_cvae(data, again, config=config_for(TINY), checkpoint_path=cvae_path,
                                    progress=False, z_dim=4, hidden_1=32, hidden_2=32)
    assert cvae_again.loaded
    assert torch.equal(cvae_again.snapshots, cvae.snapshots)
    for key, value in cvae.module.state_dict().items():
        assert torch.equal(value, cvae_again.module.state_dict()[key])
    assert list(tmp_path.glob("ckpt/*.tmp")) == []
    # a tensor saved from a slice carries its whole storage: each must hold only its own values
    stored = torch.load(cvae_path, weights_only=True)
    for key in ("snapshots", "snapshot_inputs"):
        tensor = stored[key]
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size(), key


def test_a_checkpoint_with_other_settings_is_refused(tmp_path):
    data = synthetic_data()
    path = tmp_path / "baseline.pt"
    train_or_load_baseline(data, config=config_for(TINY), checkpoint_path=path, progress=False)
    with pytest.raises(CheckpointError, match="hidden_1|model"):
        train_or_load_baseline(data, config=config_for(TINY), checkpoint_path=path, progress=False, hidden_1=64)
    with pytest.raises(CheckpointError, match="num_quadrants"):
        train_or_load_baseline(synthetic_data(num_quadrants=3), config=config_for(TINY), checkpoint_path=path,
                               progress=False)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_a_corrupt_checkpoint_gives_a_clear_error(tmp_path, content):
    path = tmp_path / "baseline.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="corrupt.*delete it"):
        train_or_load_baseline(synthetic_data(), config=config_for(TINY), checkpoint_path=path, progress=False)


def test_a_foreign_file_is_not_taken_for_a_checkpoint(tmp_path):
    path = tmp_path / "baseline.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a cvae_lib checkpoint"):
        train_or_load_baseline(synthetic_data(), config=config_for(TINY), checkpoint_path=path, progress=False)


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "results.pt"
    util.atomic_torch_save({"version": 1}, path)

    def broken_save(obj, handle):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(util.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        util.atomic_torch_save({"version": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.pt"]


def test_bad_seed_is_rejected():
    with pytest.raises(ValueError, match="seed"):
        train_or_load_baseline(synthetic_data(), config=config_for(TINY, seed=-1), checkpoint_path=None)


def test_unknown_elbo_is_rejected():
    with pytest.raises(ValueError, match="meanfield"):
        objectives.CVAEObjective(nn.Linear(1, 1), elbo="iwae")


def test_kl_weight_schedule_rises_linearly_then_stays_at_one():
    assert [train.kl_weight_schedule(epoch, 4) for epoch in range(1, 7)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert train.kl_weight_schedule(1, 0) == 1.0


def test_the_cvae_objective_anneals_training_steps_but_validates_the_true_elbo():
    data = synthetic_data()
    cvae = CVAE(z_dim=4, hidden_1=32, hidden_2=32)
    batch = (data.train.inputs[:16], data.train.targets[:16], torch.rand(16, 784))
    objective = objectives.CVAEObjective(cvae, kl_weight=0.1)

    def loss(training):
        cvae.train(training)
        pyro.set_rng_seed(0)
        return objective.loss(*batch).item()

    assert loss(training=True) < loss(training=False)  # 0.9 KL is left out of training steps only
    objective.kl_weight = 1.0
    assert loss(training=True) == loss(training=False)


def test_kl_warmup_trains_at_least_the_warmup_epochs_and_is_part_of_the_checkpoint(tmp_path):
    data = synthetic_data()
    baseline = train_or_load_baseline(data, config=config_for(TINY), checkpoint_path=None, progress=False)
    patient = dataclasses.replace(TINY, max_epochs=6, patience=1)
    path = tmp_path / "cvae.pt"
    small = {"z_dim": 4, "hidden_1": 32, "hidden_2": 32}
    annealed = train_or_load_cvae(data, baseline, config=config_for(patient), kl_warmup_epochs=5, checkpoint_path=path,
                                  progress=False, **small)
    assert annealed.epochs_run >= 5 and annealed.config["kl_warmup_epochs"] == 5
    with pytest.raises(CheckpointError, match="kl_warmup_epochs"):
        train_or_load_cvae(data, baseline, config=config_for(patient), checkpoint_path=path, progress=False, **small)
    plain = train_or_load_cvae(data, baseline, config=config_for(patient), checkpoint_path=None, progress=False, **small)
    assert "kl_warmup_epochs" not in plain.config  # so checkpoints made before the option still load
    with pytest.raises(ValueError, match="kl_warmup_epochs"):
        train_or_load_cvae(data, baseline, config=config_for(patient), kl_warmup_epochs=-1, checkpoint_path=None)


def test_importing_the_library_flushes_denormal_floats_in_torchs_worker_threads_too():
    import os
    import subprocess
    import sys

    # 1e-39 is a denormal float32; a large tensor makes torch split the product over its workers
    code = ("import cvae_lib, torch; x = torch.full((4_000_000,), 1e-39) * 1.0; "
            "print(int(torch.count_nonzero(x)), torch.get_num_threads())")
    # two threads whatever the test run's own share (under pytest -n 2 each worker has one)
    environment = {**os.environ, "OMP_NUM_THREADS": "2"}
    nonzero, threads = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=True, env=environment).stdout.split()
    assert nonzero == "0", f"{nonzero} denormals survived with {threads} threads"


def test_a_from_scratch_time_counts_each_loaded_file_once_and_prefers_the_published_record(tmp_path, monkeypatch):
    """The introduction's "from scratch" column: what the work a chapter loaded took to make. The
    published run's record of a file wins over what a local copy of it stores (a copy trained
    beside other work takes longer); a file noted twice counts once."""
    from cvae_lib import checkpoints

    monkeypatch.setattr(checkpoints, "_REUSED_SECONDS", {})
    gsnn, cvae = tmp_path / "gsnn.pt", tmp_path / "cvae.pt"
    checkpoints.note_reused(gsnn, 700.0, published=True)  # results/cll.json: the published run
    checkpoints.note_reused(gsnn, 1100.0)  # the local checkpoint loaded after it
    checkpoints.note_reused(cvae, 300.0)
    checkpoints.note_reused(cvae, 250.0)  # the same file again: the later note
    assert checkpoints.reused_seconds() == 700.0 + 250.0
    checkpoints.note_reused(cvae, 320.0, published=True)
    assert checkpoints.reused_seconds() == 700.0 + 320.0
