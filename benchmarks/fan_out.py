"""Fan-out benchmark: the publish run's task list one at a time against ``--jobs N`` processes.

Runs ``python -m cvae_lib publish-run`` three times on the ``fast`` profile, each into a fresh
checkpoint folder so that every task trains: one task at a time with PyTorch's default threads (all
cores: how ``make publish`` ran before), one task at a time on one thread, and ``--jobs N`` (the
cores split between the workers: one thread each with N = 2 on this 2-core machine). Prints the
wall times and the ratios. Target on the project's 2-core CPU: ``--jobs 2`` in at most 0.75 of the
serial time (default threads). Run it on an idle machine.

    python benchmarks/fan_out.py [--jobs 2] [--seeds 0] [--conditioning-seeds 0]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 0.75


def timed_run(folder: Path, seeds, conditioning_seeds, jobs: int, threads=None) -> tuple[float, dict]:
    command = [sys.executable, "-m", "cvae_lib", "publish-run", "--profile", "fast", "--no-progress",
               "--out", str(folder / "out"), "--checkpoint-dir", str(folder / "ckpt"), "--jobs", str(jobs),
               "--seeds", *map(str, seeds), "--conditioning-seeds", *map(str, conditioning_seeds)]
    command += ["--threads", str(threads)] if threads else []
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    return wall, json.loads((folder / "out" / "publish_run.json").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--conditioning-seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fan_out-") as scratch:
        serial, serial_record = timed_run(Path(scratch) / "serial", args.seeds, args.conditioning_seeds, 1)
        one_thread, _ = timed_run(Path(scratch) / "one_thread", args.seeds, args.conditioning_seeds, 1, threads=1)
        parallel, record = timed_run(Path(scratch) / "jobs", args.seeds, args.conditioning_seeds, args.jobs)
    ratio = parallel / serial
    tasks = serial_record["plan"]["tasks"]
    print(f"fast task list: {tasks} tasks (seeds {args.seeds}, conditioning seeds {args.conditioning_seeds}), "
          f"{serial_record['machine']}")
    print(f"one at a time ({serial_record['engine']['description']}): {serial:.0f} s")
    print(f"one at a time on one thread: {one_thread:.0f} s")
    print(f"--jobs {args.jobs} ({record['engine']['description']}): {parallel:.0f} s "
          f"({parallel / one_thread:.2f} of one at a time on one thread)")
    print(f"ratio {ratio:.2f} (target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'missed'}); "
          f"the command's wall time, its start and the writing of the results files included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
