"""Faults and bad input, as a user meets them: one clear line, the right exit status, and every
stored file left exactly as it was."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cvae_lib import experiment
from cvae_lib.__main__ import main
from cvae_lib.checkpoints import CheckpointError, load_checkpoint
from cvae_lib.data import MNIST_FILES, load_splits, mask_quadrants
from cvae_lib.report import update_readme
from cvae_lib.settings import PROFILES, RunConfig
from cvae_lib.train import train_or_load_baseline
from cvae_lib.util import NonFiniteError, atomic_write_json
from tests.helpers import TINY, config_for, synthetic_data

ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    return RunConfig.from_environment().data_dir


def _files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _reproduce(base: Path, *extra) -> list[str]:
    return ["reproduce", "--profile", "fast", "--quadrants", "3", "--out", str(base / "out"),
            "--checkpoint-dir", str(base / "ckpt"), "--no-progress", *extra]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def fast_run(fast_cli_run):
    """A finished fast run (1 and 3 quadrants, `fast_cli_run`): its checkpoints and results,
    to break copies of."""
    base, done = fast_cli_run
    assert done.returncode == 0, done.stderr
    return base


@pytest.fixture
def copy_of_run(fast_run, tmp_path):
    shutil.copytree(fast_run, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_a_damaged_checkpoint_is_refused_and_nothing_stored_changes(copy_of_run, capsys):
    cvae = copy_of_run / "ckpt" / "fast" / "q3" / "seed0" / "cvae.pt"
    before = _files(copy_of_run)
    size = cvae.stat().st_size
    with open(cvae, "r+b") as handle:  # 4,096 random bytes in the middle, the size unchanged
        handle.seek(size // 2)
        handle.write(np.random.default_rng(0).bytes(4096))
    damaged = _files(copy_of_run)
    assert main(_reproduce(copy_of_run)) == 1
    err = _one_line(capsys)
    assert "cvae.pt" in err and "delete it" in err and ("damaged" in err or "corrupt" in err)
    assert _files(copy_of_run) == damaged  # evaluation.json, cll.json and the figures untouched
    assert set(before) == set(damaged)


def test_an_evaluation_with_a_nan_is_never_stored(copy_of_run, capsys, monkeypatch):
    cache = copy_of_run / "ckpt" / "fast" / "q3" / "seed0" / experiment.EVALUATION_CACHE
    cache.unlink()  # so that the evaluation runs again
    before = _files(copy_of_run)
    real = experiment._evaluate

    def broken(*args):
        evaluation = real(*args)
        evaluation["numbers"]["cvae_is_100"] = float("nan")
        return evaluation

    monkeypatch.setattr(experiment, "_evaluate", broken)
    assert main(_reproduce(copy_of_run)) == 1
    err = _one_line(capsys)
    assert "non-finite" in err and "cvae_is_100" in err and "nothing was stored" in err
    assert _files(copy_of_run) == before and not cache.exists()


def test_quality_measures_with_a_nan_are_never_stored(copy_of_run, capsys, monkeypatch):
    from cvae_lib import quality

    cache = copy_of_run / "ckpt" / "fast" / "q3" / "seed0" / experiment.QUALITY_CACHE
    cache.unlink()  # so that the quality is measured again
    before = _files(copy_of_run)
    real = quality.setting_quality
    monkeypatch.setattr(quality, "setting_quality", lambda *a, **k: {**real(*a, **k), "cvae_diversity": float("nan")})
    assert main(_reproduce(copy_of_run)) == 1
    err = _one_line(capsys)
    assert "non-finite" in err and "cvae_diversity" in err and "nothing was stored" in err
    assert _files(copy_of_run) == before and not cache.exists()


def test_a_cache_beside_the_checkpoints_stores_only_finite_numbers_and_reuses_them_while_its_key_holds(tmp_path):
    # the one helper behind evaluation.json, quality.json and validation_<name>.json
    cache, calls = tmp_path / "scores.json", []

    def compute(value):
        def run():
            calls.append(value)
            return {"score": value}
        return run

    with pytest.raises(NonFiniteError, match=r"the scores of m gave non-finite numbers \(score\); nothing was stored"):
        experiment._cached(cache, {"v": 1}, "scores", compute(float("nan")), "the scores of m")
    assert not cache.exists()
    made = experiment._cached(cache, {"v": 1}, "scores", compute(2.5), "the scores of m")
    assert made["score"] == 2.5 and made["loaded"] is False and made["seconds"] >= 0
    again = experiment._cached(cache, {"v": 1}, "scores", compute(9.0), "the scores of m")
    assert again["score"] == 2.5 and again["loaded"] is True and len(calls) == 2  # the third compute never ran
    stale = experiment._cached(cache, {"v": 2}, "scores", compute(3.0), "the scores of m")  # another key: made again
    assert stale["score"] == 3.0 and stale["loaded"] is False
    assert experiment._cached(None, None, "scores", compute(4.0), "m")["score"] == 4.0  # nothing to key by: not stored
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]


def test_the_evaluation_caches_key_keeps_its_layout_so_the_stored_files_stay_valid(tmp_path):
    import hashlib
    from types import SimpleNamespace

    baseline, cvae = tmp_path / "baseline.pt", tmp_path / "cvae.pt"
    baseline.write_bytes(b"baseline")
    cvae.write_bytes(b"cvae")
    setting = SimpleNamespace(baseline=SimpleNamespace(path=baseline), cvae=SimpleNamespace(path=cvae))
    profile = PROFILES["fast"]
    digest = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (baseline, cvae)]
    # the layout every evaluation.json on disk was written with: changing it makes them all stale
    assert experiment._evaluation_key(setting, profile) == {
        "format": 2, "checkpoints_sha256": digest,
        "evaluation": {"test_size": profile.test_size, "mc_samples": list(profile.mc_samples),
                       "is_samples": list(profile.is_samples), "elbo_samples": profile.elbo_samples},
        "curve_samples": [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]}
    assert experiment._evaluation_key(setting, profile, prior_only=True)["prior_only"] is True
    cvae.unlink()  # a checkpoint not on disk: nothing to key a cache by, so nothing is stored
    assert experiment._checkpoints_sha256([baseline, cvae]) is None
    assert experiment._evaluation_key(setting, profile) is None


def test_a_run_that_only_loads_says_so(copy_of_run, capsys):
    assert main(_reproduce(copy_of_run)) == 0
    out = capsys.readouterr().out
    assert "every model was loaded from its checkpoint" in out and "when it was made" in out


def test_the_log_says_what_was_loaded_and_what_was_trained(copy_of_run):
    from cvae_lib.reproduce import reproduce

    (copy_of_run / "ckpt" / "fast" / "q3" / "seed0" / "cvae.pt").unlink()  # the CVAE trains again
    lines = []
    config = RunConfig.from_environment("fast", quadrants=(3,), checkpoint_dir=copy_of_run / "ckpt",
                                        results_dir=copy_of_run / "out")
    reproduce(config, progress=False, log=lines.append)
    # one progress line per task, then one line per setting that sums them up
    assert any(re.match(r"\[\d+/\d+\] q3/seed0/baseline: loaded \(made in", line) for line in lines)
    assert any(re.match(r"\[\d+/\d+\] q3/seed0/cvae: done in", line) for line in lines)
    summary = next(line for line in lines if line.startswith("seed 0, 3 quadrant(s):"))
    assert "baseline loaded (trained in" in summary and "CVAE trained in" in summary and "evaluated in" in summary


@pytest.mark.parametrize("damage", ["truncated", "header", "pixels"])
def test_a_broken_mnist_file_is_named_as_broken_not_missing(damage, tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        os.symlink(_data_dir() / "MNIST" / "raw" / name, raw / name)
    broken = raw / "train-images-idx3-ubyte"
    content = bytearray(broken.read_bytes())
    broken.unlink()
    if damage == "truncated":
        content = content[:1_000_000]
    elif damage == "header":
        content[:4] = b"\xff\xff\xff\xff"
    else:  # random pixels, the header intact
        content[16:16 + 4096] = np.random.default_rng(1).bytes(4096)
    broken.write_bytes(bytes(content))
    before = _files(tmp_path)
    assert main(_reproduce(tmp_path, "--data-dir", str(tmp_path))) == 1
    err = _one_line(capsys)
    assert "train-images-idx3-ubyte" in err and "not the official MNIST file" in err and "delete it" in err
    assert "not found" not in err
    assert _files(tmp_path) == before


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "results.txt"
    a_file.write_text("keep me")
    assert main(_reproduce(tmp_path, "--out", str(a_file))) == 1
    assert "is a file, not a folder" in _one_line(capsys)
    assert main(_reproduce(tmp_path, "--out", "/proc/forbidden")) == 1
    assert "cannot be written" in _one_line(capsys)
    assert a_file.read_text() == "keep me" and not (tmp_path / "ckpt").exists()  # nothing trained


@pytest.mark.parametrize("device, message", [("tpu", "device 'tpu'"), ("abacus", "unknown device")]
                         + ([] if torch.cuda.is_available() else [("cuda", "no CUDA GPU")]))
def test_a_bad_device_is_refused_even_when_nothing_needs_one(device, message, copy_of_run, capsys, monkeypatch):
    monkeypatch.setenv("CVAE_DEVICE", device)
    before = _files(copy_of_run)
    assert main(_reproduce(copy_of_run)) == 1
    assert message in _one_line(capsys)
    assert _files(copy_of_run) == before


@pytest.mark.parametrize("engine", [(), ("--jobs", "2")], ids=["in-process", "two-workers"])
def test_an_interrupted_run_says_what_it_kept_and_exits_130(engine, fast_run, tmp_path):
    # the fast run's digit classifier (the first task, there only for the quality scores) is loaded,
    # so the run comes to the CVAE in seconds instead of after the classifier's training
    shutil.copytree(fast_run / "ckpt" / "fast" / "digits", tmp_path / "ckpt" / "fast" / "digits")
    command = [sys.executable, "-m", "cvae_lib", *_reproduce(tmp_path, *engine)]
    # As from a terminal: a shell that starts a job in the background (CI under nohup, `cmd &`) hands
    # it SIGINT ignored, and Python then installs no KeyboardInterrupt handler at all
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Interrupt while the CVAE trains: right after the baseline's checkpoint appears. A fixed delay
    # was a race: on a fast machine the whole fast run had finished, on a slow one not yet begun.
    baseline = tmp_path / "ckpt" / "fast" / "q3" / "seed0" / "baseline.pt"
    deadline = time.monotonic() + 300
    while not baseline.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert baseline.exists() and process.poll() is None, "the run never reached the CVAE's training"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().startswith("python -m cvae_lib: interrupted; kept:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "cll.json").exists()
    assert not list(tmp_path.rglob("*.tmp"))  # nothing half-written
    assert not baseline.with_name("cvae.pt").exists()
    assert "leaked" not in err  # the workers were stopped and waited for, not left behind
    load_checkpoint(baseline)  # what was finished before the interrupt is kept, whole


def test_a_checkpoint_whose_contents_changed_is_refused(tmp_path):
    path = tmp_path / "baseline.pt"
    train_or_load_baseline(synthetic_data(), config_for(TINY), checkpoint_path=path, progress=False)
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["contents_sha256"]
    load_checkpoint(path)  # intact: loads
    checkpoint["state_dict"]["net.0.weight" if "net.0.weight" in checkpoint["state_dict"]
                             else next(iter(checkpoint["state_dict"]))].add_(1e-3)
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"baseline.pt is damaged.*delete it"):
        load_checkpoint(path)


def test_integer_like_values_are_accepted_where_an_int_is_expected():
    image = torch.rand(28, 28)
    for two in (np.int64(2), torch.tensor(2), np.int32(2)):
        x, _ = mask_quadrants(image, two)
        assert torch.equal(x, mask_quadrants(image, 2)[0])
    fake = {split: (torch.rand(20, 28, 28), torch.zeros(20, dtype=torch.long)) for split in ("train", "test")}
    assert load_splits(np.int64(3), PROFILES["fast"], fake).num_quadrants == 3
    config = RunConfig.from_environment("fast", seed=np.int64(4), quadrants=np.arange(1, 4))
    assert config.seed == 4 and config.quadrants == (1, 2, 3) and type(config.seed) is int
    for bad in (True, 1.5, 2.0, torch.tensor(2.0), torch.tensor([2]), np.bool_(True)):
        with pytest.raises(ValueError, match=r"\(1, 2, 3\)"):
            mask_quadrants(image, bad)


def test_non_finite_numbers_are_never_written(tmp_path):
    path = tmp_path / "numbers.json"
    atomic_write_json({"a": 1.0}, path)
    with pytest.raises(NonFiniteError, match=r"b\[1\]"):
        atomic_write_json({"a": 2.0, "b": [0.0, float("inf")]}, path)
    assert path.read_text() == '{\n  "a": 1.0\n}\n' and [p.name for p in tmp_path.iterdir()] == ["numbers.json"]
    readme = tmp_path / "README.md"
    readme.write_text("x")
    with pytest.raises(NonFiniteError):
        update_readme({"table": {"1": {"cvae_is_100": {"mean": float("nan")}}}}, readme)
    assert readme.read_text() == "x"
