"""Shared by the unit tests (tests/) and the notebook tests (pytest --nbval book/).

The plain `pytest` command runs quickly: the `fast` profile unless CVAE_PROFILE says
otherwise, MNIST from ../shared/data when CVAE_DATA_DIR is unset and that folder exists.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent

os.environ.setdefault("CVAE_PROFILE", "fast")
os.environ.setdefault("MPLBACKEND", "Agg")
_shared_data = ROOT.parent / "shared" / "data"
if not os.environ.get("CVAE_DATA_DIR") and (_shared_data / "MNIST" / "raw").is_dir():
    os.environ["CVAE_DATA_DIR"] = str(_shared_data)

collect_ignore_glob = ["_build/*", "**/.ipynb_checkpoints/*", ".venv/*"]
