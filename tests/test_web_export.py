"""`python -m cvae_lib export-web`: the ONNX graphs of chapter 5's live demo compute what the PyTorch
models compute, for any input and any noise, and the command says in one line what it cannot do.

The browser side (the page runs these graphs and gets PyTorch's completions) is in test_browser.py.
"""
import json
import subprocess
import sys

import pytest
import torch

from cvae_lib.data import input_mask, load_mnist
from cvae_lib.models import CVAE, BaselineNet
from cvae_lib.settings import RunConfig
from cvae_lib.web_export import TOLERANCE, LiveCompletion, onnx_graph
from tests.conftest import ROOT

onnxruntime = pytest.importorskip("onnxruntime")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cvae_lib", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def _inputs(count: int, num_quadrants: int, generator) -> torch.Tensor:
    """Random grey levels on the given pixels, -1 on the hidden ones: (count, 784)."""
    images = torch.rand(count, 28, 28, generator=generator)
    return torch.where(input_mask(num_quadrants), images, torch.full_like(images, -1.0)).reshape(count, 784)


@pytest.mark.parametrize("residual, generation_uses_x", [(False, True), (True, True), (False, False)])
def test_the_graph_computes_the_pytorch_models_completions(residual, generation_uses_x):
    """Random weights (trained ones are only other numbers), every quadrant setting, 1 to 64 noise rows.
    The tolerance is the export's own: float32 throughout, so the two differ only in the order of
    summation inside the matrix products (about 1e-6 on a probability)."""
    torch.manual_seed(0)
    baseline = BaselineNet(64, 48)
    cvae = CVAE(z_dim=6, hidden_1=40, hidden_2=32, generation_uses_x=generation_uses_x, residual=residual)
    if residual:  # a residual CVAE starts at exactly the baseline's guess; move it away from that
        torch.nn.init.normal_(cvae.generation_net.rest[-1].weight, std=0.1)
    model = LiveCompletion(baseline, cvae).eval()
    session = onnxruntime.InferenceSession(onnx_graph(model), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(1)
    for num_quadrants in (1, 2, 3):
        for rows in (1, 16, 64):
            x = _inputs(1, num_quadrants, generator)
            noise = torch.randn(rows, 6, generator=generator) * 2
            guess, samples = session.run(None, {"inputs": x.numpy(), "noise": noise.numpy()})
            with torch.no_grad():
                expected_guess, expected_samples = model(x, noise)
                # and the library's own sampling path gives the same completions
                library = cvae.sample_completions(x, baseline.predict(x), rows, noise=noise.unsqueeze(1))
            assert samples.shape == (rows, 784) and guess.shape == (1, 784)
            assert (torch.from_numpy(samples) - expected_samples).abs().max() <= TOLERANCE
            assert (torch.from_numpy(guess) - expected_guess).abs().max() <= TOLERANCE
            assert (library.reshape(rows, 784) - expected_samples).abs().max() <= 1e-6


def test_export_web_writes_checked_graphs_and_the_manifest_the_page_reads(web_models, fast_cli_run):
    """The conftest's export of the fast run (1 and 3 quadrants): each graph is the fast run's models,
    the test digits are MNIST's, the walk's directions are ranked."""
    base, _ = fast_cli_run
    manifest = json.loads((web_models / "manifest.json").read_text())
    assert manifest["profile"] == "fast" and manifest["seed"] == 0 and sorted(manifest["settings"]) == ["1", "3"]
    config = RunConfig.from_environment("fast", quadrants=(1, 3), checkpoint_dir=base / "ckpt", download=False)
    from cvae_lib.web_export import load_setting

    generator = torch.Generator().manual_seed(2)
    for q, setting in manifest["settings"].items():
        graph = (web_models / setting["graph"]).read_bytes()
        assert len(graph) == setting["bytes"] and 0 <= setting["max_difference"] <= TOLERANCE
        baseline, cvae, sources = load_setting(int(q), config)
        assert setting["from"] == sources  # made from these checkpoints
        session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
        x, noise = _inputs(1, int(q), generator), torch.randn(16, setting["z_dim"], generator=generator)
        with torch.no_grad():
            _, expected = LiveCompletion(baseline, cvae)(x, noise)
        assert (torch.from_numpy(session.run(None, {"inputs": x.numpy(), "noise": noise.numpy()})[1])
                - expected).abs().max() <= TOLERANCE
        changes = [d["mean_change"] for d in setting["directions"]]
        dimensions = [d["dimension"] for d in setting["directions"]]
        assert len(set(dimensions)) == 8 and all(0 <= d < setting["z_dim"] for d in dimensions)
        assert changes == sorted(changes, reverse=True) and changes[0] > 0
    test_images, test_labels = load_mnist(config.data_dir)["test"]
    for digit in manifest["test_digits"]:
        pixels = torch.tensor(list(bytes.fromhex(digit["pixels_hex"])), dtype=torch.float32) / 255
        assert test_labels[digit["test_index"]] == digit["label"]
        assert torch.equal(pixels, test_images[digit["test_index"]].reshape(-1))
    assert [d["label"] for d in manifest["test_digits"]] == list(range(10))


def test_export_web_keeps_a_graph_made_from_the_same_checkpoints(web_models, fast_cli_run, tmp_path):
    base, _ = fast_cli_run
    out = tmp_path / "web"
    out.mkdir()
    for name in ("manifest.json", "q1.onnx"):
        (out / name).write_bytes((web_models / name).read_bytes())
    before = (out / "q1.onnx").stat().st_mtime_ns
    done = _cli("export-web", "--profile", "fast", "--checkpoint-dir", str(base / "ckpt"), "--quadrants", "1",
                "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "q1.onnx is up to date" in done.stdout and (out / "q1.onnx").stat().st_mtime_ns == before
    assert json.loads((out / "manifest.json").read_text())["settings"]["1"] == \
        json.loads((web_models / "manifest.json").read_text())["settings"]["1"]


def test_export_web_without_models_says_so_in_one_line(tmp_path):
    done = _cli("export-web", "--profile", "fast", "--checkpoint-dir", str(tmp_path / "none"), "--out",
                str(tmp_path / "web"))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "no trained models for 1 quadrant(s)" in done.stderr and "make reproduce" in done.stderr
    assert not (tmp_path / "web").exists()
    # what `make book` runs: nothing to export is not an error, and it says what the site will lack
    done = _cli("export-web", "--profile", "fast", "--checkpoint-dir", str(tmp_path / "none"), "--if-available")
    assert done.returncode == 0 and "without the live demo" in done.stdout, done.stderr


def _live_demo_extension():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import live_demo

    return live_demo


def test_the_demo_speaks_each_editions_language_and_without_graphs_says_so():
    live_demo = _live_demo_extension()
    assert live_demo.TEXT["en"].keys() == live_demo.TEXT["zh_CN"].keys()  # every string in both editions
    for text in live_demo.TEXT.values():
        markup = live_demo.render(text, None, "../_static/live/", "../_static/live-demo.js")
        assert "<script" not in markup and "make book" in markup and "<button" not in markup


def test_the_site_serves_the_graphs_once_for_both_editions(site, web_models):
    live = site / "_static" / "live"
    manifest = json.loads((live / "manifest.json").read_text())
    for setting in manifest["settings"].values():
        assert (live / setting["graph"]).read_bytes() == (web_models / setting["graph"]).read_bytes()
    assert sorted(path.name for path in (live / "ort").iterdir()) == sorted(_live_demo_extension().RUNTIME_FILES)
    assert not (site / "zh_CN" / "_static" / "live").exists()  # the Chinese edition uses the English site's
    english = (site / "book" / "05_evaluation.html").read_text()
    chinese = (site / "zh_CN" / "book" / "05_evaluation.html").read_text()
    assert 'data-base="../_static/live/"' in english and "Start the live demo" in english
    assert 'data-base="../../_static/live/"' in chinese and "开始在线演示" in chinese
    assert "Start the live demo" not in chinese
