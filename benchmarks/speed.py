"""Speed benchmark: seconds per training epoch and for the importance-sampled evaluation.

Prints, for the `full` profile's data sizes (50,000 training images, 10,000 test images):
  * baseline: seconds per epoch (training steps plus the validation pass);
  * CVAE: seconds per epoch, with the published recipe's batch size;
  * IS(S=100) and IS(S=1000): seconds for the importance-sampled CLL on the 10,000 test images
    (one quadrant given: the most output pixels, the slowest setting).
Targets on the project's 2-core CPU: baseline <= 6 s, CVAE <= 12 s, IS(S=100) <= 60 s,
IS(S=1000) <= 120 s. The time of a whole seed is measured by `reproduce` itself
(`seconds_per_seed` in results/cll.json); run both on an idle machine.

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
from cvae_lib.results import provenance
from cvae_lib.settings import RunConfig
from cvae_lib.recipe import RECIPE
from cvae_lib.train import baseline_guesses

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
    data = load_splits(args.quadrants, profile, load_mnist(config.data_dir))
    print(f"recipe: {RECIPE.name}")
    print(f"data: {data.sizes()}, batch size {RECIPE.cvae.batch_size or profile.batch_size}, "
          f"{torch.get_num_threads()} threads, "
          f"{made_with['machine']}, device {config.device}")

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

    failed = []
    for key, value in figures.items():
        ok = value <= TARGETS[key]
        failed += [] if ok else [key]
        print(f"{key:22s} {value:7.2f} s   (target <= {TARGETS[key]:.0f} s: {'met' if ok else 'MISSED'})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"figures": figures, "targets": TARGETS, **made_with}, handle, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
