"""The trained models for the reader's browser: one ONNX graph per quadrant setting.

``python -m cvae_lib export-web`` (run by ``make book`` and ``make publish``) turns seed 0's
checkpoints of each setting (the baseline, and the CVAE's conditional prior and generation
network; the recognition network is not needed to predict) into ``q<N>.onnx`` with
:func:`torch.onnx.export`, beside a ``manifest.json`` that the page's script reads. The graph
computes, for one input x (784 values, -1 on the hidden pixels) and K noise vectors ε:

    ŷ = σ(baseline(x)),   (μ, σ_p) = prior_net(x with ŷ in its hidden pixels),
    z_k = μ + σ_p ⊙ ε_k,   p_k = σ(generation(z_k, x))                     (k = 1 … K)

so that the noise is an *input*: the page draws ε (and scales it by the temperature), and a given
ε gives one exact answer, the same as PyTorch's. Each graph is checked against the PyTorch modules
with onnxruntime before it is written; the largest difference is recorded in the manifest.

The manifest also holds ten test digits (the first of each class in the test split, as 0–255
grey levels) for the page's "start from a test digit", and, per setting, the latent coordinates
whose change moves the completions most on validation inputs: the directions the page walks.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from .checkpoints import CHECKSUM_KEY, CheckpointError, default_checkpoint_path, load_checkpoint
from .models import CVAE, BaselineNet, fill_missing, flatten_images
from .settings import RunConfig

WEB_FORMAT = 1
MANIFEST_NAME = "manifest.json"
OPSET = 18  # onnxruntime-web 1.25 runs opsets up to 22; every operator of these graphs is older
MAX_SAMPLES = 1024  # the page asks for at most 64 completions and a walk of 9
TOLERANCE = 1e-4  # largest |ONNX - PyTorch| of a pixel probability accepted at export (float32 graphs)
DIRECTIONS = 8  # latent coordinates offered to the page's walk, strongest first
DIRECTION_INPUTS = 128  # validation inputs on which the coordinates are ranked
DIRECTION_STEP = 2.0  # ±2 prior standard deviations


class WebExportError(RuntimeError):
    """The graphs cannot be exported (the message says why and what to do)."""


class LiveCompletion(nn.Module):
    """What the page runs: the baseline's guess and K completions from the conditional prior."""

    def __init__(self, baseline: BaselineNet, cvae: CVAE):
        super().__init__()
        self.baseline, self.cvae = baseline, cvae

    def forward(self, inputs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs`` (1, 784) with -1 on the hidden pixels, ``noise`` (K, z_dim) -> the guess
        (1, 784) and the completions (K, 784), pixel probabilities."""
        guess = torch.sigmoid(self.baseline(inputs))
        loc, scale = self.cvae.prior_net(fill_missing(inputs, guess))
        return guess, torch.sigmoid(self.cvae.logits(loc + scale * noise, inputs, guess))


@dataclasses.dataclass(frozen=True)
class ExportedSetting:
    quadrants: int
    graph: Path
    bytes: int
    max_difference: float
    skipped: bool  # True when the graph on disk was made from the same checkpoints


def web_dir(config: RunConfig) -> Path:
    """``<checkpoints>/<profile>/web``: derived from seed 0's checkpoints of that profile."""
    return config.checkpoint_dir / config.profile.name / "web"


def load_setting(num_quadrants: int, config: RunConfig) -> tuple[BaselineNet, CVAE, dict]:
    """Seed ``config.seed``'s baseline and CVAE of a setting from their checkpoints (checked), and
    the checksums of the two files' contents."""
    paths = {kind: default_checkpoint_path(kind, num_quadrants, config) for kind in ("baseline", "cvae")}
    missing = [str(path) for path in paths.values() if not path.exists()]
    if missing:
        raise WebExportError(f"no trained models for {num_quadrants} quadrant(s): {missing[0]} is missing; "
                             f"train them first (make reproduce PROFILE={config.profile.name})")
    checkpoints = {kind: load_checkpoint(path) for kind, path in paths.items()}
    baseline = BaselineNet(**checkpoints["baseline"]["config"]["model"])
    cvae = CVAE(**checkpoints["cvae"]["config"]["model"])
    for module, kind in ((baseline, "baseline"), (cvae, "cvae")):
        try:
            module.load_state_dict(checkpoints[kind]["state_dict"])
        except RuntimeError:
            raise CheckpointError(f"{paths[kind]} does not hold the network its configuration describes; "
                                  f"delete it to train again") from None
        module.eval()
    sources = {kind: checkpoint.get(CHECKSUM_KEY) or _sha256(paths[kind].read_bytes())
               for kind, checkpoint in checkpoints.items()}
    return baseline, cvae, sources


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def onnx_graph(model: LiveCompletion) -> bytes:
    """The serialised ONNX graph of ``model``, with a variable number of noise rows."""
    z_dim = model.cvae.z_dim
    example = (torch.full((1, 784), -1.0), torch.zeros(2, z_dim))
    samples = torch.export.Dim("samples", min=1, max=MAX_SAMPLES)
    quiet = io.StringIO()
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(quiet), \
            contextlib.redirect_stderr(quiet):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, example, dynamo=True, dynamic_shapes=({}, {0: samples}),
                                    input_names=["inputs", "noise"], output_names=["guess", "samples"],
                                    opset_version=OPSET, optimize=True, external_data=False, verbose=False)
    return program.model_proto.SerializeToString()


def largest_difference(graph: bytes, model: LiveCompletion, inputs: torch.Tensor, seed: int = 0) -> float:
    """max |ONNX - PyTorch| over the guess and the completions of each of ``inputs`` (N, 784),
    with 16 noise rows each, run by onnxruntime on the CPU."""
    try:
        import onnxruntime
    except ImportError:
        raise WebExportError("checking the graphs needs onnxruntime: pip install 'cvae-lib[web]' "
                             "(requirements.txt lists it)") from None
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for row in flatten_images(inputs):
        x = row.reshape(1, -1)
        noise = torch.randn(16, model.cvae.z_dim, generator=generator)
        with torch.no_grad():
            expected = model(x, noise)
        got = session.run(None, {"inputs": x.numpy(), "noise": noise.numpy()})
        worst = max(worst, *(float((torch.from_numpy(a) - b).abs().max()) for a, b in zip(got, expected)))
    return worst


@torch.no_grad()
def strongest_directions(model: LiveCompletion, inputs: torch.Tensor, count: int = DIRECTIONS) -> list[dict]:
    """The latent coordinates that move the completions most: for each coordinate d, the mean
    absolute change of the hidden pixels' probabilities when ε_d goes from -2 to +2 (the other
    coordinates at 0, i.e. z at the prior's mean), over ``inputs``; the ``count`` largest."""
    inputs = flatten_images(inputs)
    hidden = inputs == -1.0
    z_dim = model.cvae.z_dim
    change = torch.zeros(z_dim)
    steps = torch.cat([torch.eye(z_dim) * -DIRECTION_STEP, torch.eye(z_dim) * DIRECTION_STEP])
    for x, is_hidden in zip(inputs, hidden):
        _, probs = model(x.reshape(1, -1), steps)
        moved = (probs[z_dim:] - probs[:z_dim]).abs()[:, is_hidden]
        change += moved.mean(dim=1)
    change /= len(inputs)
    order = torch.argsort(change, descending=True, stable=True)[:count]
    return [{"dimension": int(d), "mean_change": round(float(change[d]), 5)} for d in order]


def digits_to_start_from(images: torch.Tensor, labels: torch.Tensor) -> list[dict]:
    """The first image of each class, as 0–255 grey levels (MNIST's own bytes), 784 bytes in hex."""
    digits = []
    for label in range(10):
        index = int((labels == label).nonzero()[0])
        pixels = (images[index].reshape(-1) * 255).round().to(torch.uint8)
        digits.append({"label": label, "test_index": index, "pixels_hex": pixels.numpy().tobytes().hex()})
    return digits


def export_web(config: RunConfig, mnist, out: Path | None = None, log=print) -> list[ExportedSetting]:
    """Export seed ``config.seed``'s models of every setting of ``config.quadrants`` to ``out``
    (default :func:`web_dir`); a graph made from the same checkpoints is kept. ``mnist`` is the
    data, or a function that loads it (called only when a graph is to be made). Writes the
    manifest last, so a stopped export leaves the old manifest or none."""
    from .data import load_splits

    def data():
        nonlocal mnist
        if callable(mnist):
            mnist = mnist()
        return mnist
    from .util import atomic_write_bytes, atomic_write_json

    out = Path(out) if out is not None else web_dir(config)
    manifest_path = out / MANIFEST_NAME
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    settings, exported, digits = {}, [], None
    for q in config.quadrants:
        baseline, cvae, sources = load_setting(q, config)
        model = LiveCompletion(baseline, cvae).eval()
        graph_path = out / f"q{q}.onnx"
        previous = old.get("settings", {}).get(str(q))
        if (previous and previous.get("from") == sources and graph_path.exists()
                and _sha256(graph_path.read_bytes()) == previous.get("sha256") and old.get("test_digits")):
            settings[str(q)] = previous
            exported.append(ExportedSetting(q, graph_path, previous["bytes"], previous["max_difference"], True))
            log(f"q{q}.onnx is up to date (made from the same checkpoints)")
            continue
        splits = load_splits(q, config.profile, data())
        if digits is None:
            digits = digits_to_start_from(splits.test.images, splits.test.labels)
        graph = onnx_graph(model)
        worst = largest_difference(graph, model, splits.test.inputs[:8])
        if not worst <= TOLERANCE:  # also catches NaN
            raise WebExportError(f"the ONNX graph of {q} quadrant(s) differs from the PyTorch model by {worst:.3g} "
                                 f"(more than {TOLERANCE:g}); nothing was written")
        atomic_write_bytes(graph, graph_path)
        settings[str(q)] = {
            "graph": graph_path.name, "bytes": len(graph), "sha256": _sha256(graph), "from": sources,
            "z_dim": cvae.z_dim, "max_difference": worst,
            "directions": strongest_directions(model, splits.val.inputs[:DIRECTION_INPUTS]),
        }
        exported.append(ExportedSetting(q, graph_path, len(graph), worst, False))
        log(f"wrote {graph_path} ({len(graph) / 2**20:.1f} MiB; largest difference from PyTorch {worst:.1e})")
    manifest = {"format": WEB_FORMAT, "profile": config.profile.name, "seed": config.seed,
                "tolerance": TOLERANCE, "test_digits": digits or old["test_digits"], "settings": settings}
    atomic_write_json(manifest, manifest_path)
    return exported


def export_for_site(config: RunConfig, out: Path | None = None, if_available: bool = False) -> str:
    """``python -m cvae_lib export-web``: export, and say in one line what was written. With
    ``if_available`` (``make book``) only the settings whose models are on disk, and with none of
    them a line saying the site will lack the graphs."""
    from .data import load_mnist

    if if_available:
        present = available_settings(config)
        if not present:
            return (f"export-web: no trained {config.profile.name} models under {config.checkpoint_dir}; the site "
                    f"is built without the live demo's graphs (make reproduce trains them)")
        config = dataclasses.replace(config, quadrants=tuple(present))
    out = out if out is not None else web_dir(config)
    exported = export_web(config, lambda: load_mnist(config.data_dir), out)
    total = sum(setting.bytes for setting in exported)
    return f"{out}: {len(exported)} graph(s) of {total / 2**20:.1f} MiB in all, and {MANIFEST_NAME}"


def available_settings(config: RunConfig) -> list[int]:
    """The settings of ``config.quadrants`` whose seed-``config.seed`` models are on disk."""
    return [q for q in config.quadrants
            if all(default_checkpoint_path(kind, q, config).exists() for kind in ("baseline", "cvae"))]
