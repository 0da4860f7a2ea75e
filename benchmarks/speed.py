"""Speed benchmark: seconds per training epoch and for the importance-sampled evaluation.

Prints, for the `full` profile's data sizes (50,000 training images, 10,000 test images):
  * baseline: seconds per epoch (training steps plus the validation pass);
  * CVAE: seconds per epoch, with the published recipe's batch size;
  * IS(S=100) and IS(S=1000): seconds for the importance-sampled CLL on the 10,000 test images
    (one quadrant given: the most output pixels, the slowest setting).
Targets on the project's 2-core CPU: baseline <= 6 s, CVAE <= 12 s, IS(S=100) <= 60 s,
IS(S=1000) <= 120 s. The time of a whole seed is measured by `reproduce` itself
(`seconds_per_seed` in results/cll.json); run both on an idle machine.

The CPU lent to this project runs at different speeds on different days, so the script also
measures the machine itself: the rate of plain float32 matrix products of a training step's
shapes, which no code of this project touches. Beside each time it prints the rate at which
that work does the matrix products of its model (counted by torch's FlopCounterMode) and what
fraction of the machine's rate that is: a time can then be read beside the machine's own speed at
that moment, and a fraction near 1 would say the code leaves little to gain.

    python benchmarks/speed.py [--epochs 6] [--quadrants 1]

Weights are random (training from scratch for a couple of epochs); speed does not
depend on how well the models fit. Uses $CVAE_DATA_DIR like the library.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time

import torch

from cvae_lib import evaluate
from cvae_lib.data import load_mnist, load_splits
from cvae_lib.loop import EVAL_BATCH_SIZE
from cvae_lib.objectives import BaselineObjective, CVAEObjective
from cvae_lib.results import provenance
from cvae_lib.settings import RunConfig
from cvae_lib.recipe import RECIPE
from cvae_lib.train import baseline_guesses

# (rows, inner, columns) of the products in a training step: batch 256 through 784-500, 500-500 and
# 500-784 layers
STEP_SHAPES = ((256, 784, 500), (256, 500, 500), (256, 500, 784))


def machine_rate(seconds: float = 3.0) -> float:
    """GFLOP/s of float32 matrix products of a training step's shapes on this machine, now."""
    generator = torch.Generator().manual_seed(0)
    pairs = [(torch.randn(m, k, generator=generator), torch.randn(k, n, generator=generator))
             for m, k, n in STEP_SHAPES]
    flops_per_round = sum(2 * m * k * n for m, k, n in STEP_SHAPES)
    for a, b in pairs:  # warm-up: the first product allocates and picks its kernels
        a @ b
    rounds, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a, b in pairs:
            a @ b
        rounds += 1
    return rounds * flops_per_round / (time.perf_counter() - start) / 1e9


def flops(work) -> int:
    """Floating-point operations of the matrix products (and the rest torch counts) in ``work()``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        work()
    return counter.get_total_flops()


def epoch_flops(objective, train: list, val: list, batch_size: int) -> float:
    """One epoch's FLOPs: a training step (forward and backward) per image times the training
    images, plus the validation pass's forward per image times the validation images."""
    step_images, val_images = min(batch_size, train[0].shape[0]), min(EVAL_BATCH_SIZE, val[0].shape[0])

    def step():
        objective.module.train()
        objective.loss(*(t[:step_images] for t in train)).backward()
        objective.module.zero_grad(set_to_none=True)

    def validate():
        objective.module.eval()
        with torch.no_grad():
            objective.loss(*(t[:val_images] for t in val))

    return (flops(step) / step_images * train[0].shape[0]
            + flops(validate) / val_images * val[0].shape[0])


TARGETS = {"baseline_s_per_epoch": 6.0, "cvae_s_per_epoch": 12.0, "is100_s_10k": 60.0, "is1000_s_10k": 120.0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6,
                        help="epochs to time per model (default 6: denormal floats appear after 4)")
    parser.add_argument("--quadrants", type=int, choices=(1, 2, 3), default=1)
    parser.add_argument("--json", metavar="FILE", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    full = RunConfig.from_environment("full")
    # full data and batch size, but a fixed number of epochs and no early stop
    profile = dataclasses.replace(full.profile, name="benchmark", max_epochs=args.epochs, patience=args.epochs)
    config = dataclasses.replace(full, profile=profile)
    made_with = provenance()
    on_cpu = torch.device(config.device).type == "cpu"
    rate = machine_rate() if on_cpu else None  # a CPU's rate says nothing of a GPU's times
    data = load_splits(args.quadrants, profile, load_mnist(config.data_dir))
    print(f"recipe: {RECIPE.name}")
    print(f"data: {data.sizes()}, batch size {RECIPE.cvae.batch_size or profile.batch_size}, "
          f"{torch.get_num_threads()} threads, "
          f"{made_with['machine']}, device {config.device}")
    if rate is not None:
        print(f"machine: {rate:.0f} GFLOP/s in float32 matrix products of a training step's shapes "
              f"(this CPU now; no code of this project)")

    baseline = RECIPE.train_baseline(data, config, checkpoint_path=None, progress=False)
    cvae = RECIPE.train_cvae(data, baseline, config, checkpoint_path=None, progress=False)
    figures = {
        "baseline_s_per_epoch": statistics.fmean(r["seconds"] for r in baseline.history),
        "cvae_s_per_epoch": statistics.fmean(r["seconds"] for r in cvae.history),
    }
    y_hat = baseline_guesses(baseline.module, data.test)
    cvae.module.to(config.device)
    for samples in (100, 1000):
        start = time.perf_counter()
        evaluate.cvae_is_nll(cvae.module, data.test, y_hat, num_samples=samples)
        figures[f"is{samples}_s_10k"] = time.perf_counter() - start

    # the work each figure stands for, counted after the timings (counting slows it down)
    batch_size = RECIPE.cvae.batch_size or profile.batch_size
    train_guess = baseline_guesses(baseline.module, data.train)
    val_guess = baseline_guesses(baseline.module, data.val)
    cvae.module.to("cpu")
    work = {
        "baseline_s_per_epoch": epoch_flops(BaselineObjective(baseline.module), [data.train.inputs, data.train.targets],
                                            [data.val.inputs, data.val.targets], batch_size),
        "cvae_s_per_epoch": epoch_flops(CVAEObjective(cvae.module),
                                        [data.train.inputs, data.train.targets, train_guess],
                                        [data.val.inputs, data.val.targets, val_guess], batch_size),
    }
    images = evaluate.IMAGE_BATCH
    for samples in (100, 1000):
        per_image = flops(lambda: evaluate.cvae_log_weights(
            cvae.module, data.test.inputs[:images], data.test.targets[:images], y_hat[:images], samples)) / images
        work[f"is{samples}_s_10k"] = per_image * data.test.inputs.shape[0]

    failed = []
    for key, value in figures.items():
        ok = value <= TARGETS[key]
        failed += [] if ok else [key]
        achieved = work[key] / value / 1e9
        share = "" if rate is None else f", {achieved / rate:.0%} of the machine's rate"
        print(f"{key:22s} {value:7.2f} s   (target <= {TARGETS[key]:.0f} s: {'met' if ok else 'MISSED'}; "
              f"{work[key] / 1e9:,.0f} GFLOP at {achieved:.0f} GFLOP/s{share})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"figures": figures, "targets": TARGETS, "machine_gflops": rate,
                       "work_gflop": {key: value / 1e9 for key, value in work.items()}, **made_with},
                      handle, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
