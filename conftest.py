"""Shared by the unit tests (tests/) and the notebook tests (pytest --nbval book/).

The plain `pytest` command runs quickly: the `fast` profile unless CVAE_PROFILE says
otherwise, MNIST from ../shared/data when CVAE_DATA_DIR is unset and that folder exists.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent

os.environ.setdefault("CVAE_PROFILE", "fast")
_shared_data = ROOT.parent / "shared" / "data"
if not os.environ.get("CVAE_DATA_DIR") and (_shared_data / "MNIST" / "raw").is_dir():
    os.environ["CVAE_DATA_DIR"] = str(_shared_data)

# Under pytest-xdist (`make test` runs `-n 2`) the workers share the machine's cores: each gets its
# share of torch's threads, and so do the kernels and commands it starts, instead of each taking all.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1 and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // _workers))

collect_ignore_glob = ["_build/*", "**/.ipynb_checkpoints/*", ".venv/*"]


def pytest_configure(config):
    """`pytest --nbval book/` needs no further flags: run the notebooks in this environment's
    kernel and sanitize progress bars, memory addresses and library paths."""
    if hasattr(config.option, "nbval_current_env"):
        config.option.nbval_current_env = True
        if not config.option.nbval_sanitize_with:
            config.option.nbval_sanitize_with = str(ROOT / "book" / "sanitize.cfg")
