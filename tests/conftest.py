"""Fixtures shared by the test modules: the built site, and one fast run of the command line."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The book built as CI builds it (`jupyter-book build . -W`, then the Chinese edition into its
    zh_CN/ folder), into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    for command in ([str(jupyter_book), "build", str(ROOT), "-W", "--path-output", str(out)],
                    [sys.executable, str(ROOT / "book" / "_ext" / "translations.py"), "build",
                     "--path-output", str(out)]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def fast_cli_run(tmp_path_factory):
    """`python -m cvae_lib reproduce --profile fast --quadrants 3` run once, from the command line as
    a user types it: its folder (out/, ckpt/) and the finished process. Trained once for the
    end-to-end test and for the fault tests, which break copies of it."""
    base = tmp_path_factory.mktemp("fast_cli_run")
    done = subprocess.run([sys.executable, "-m", "cvae_lib", "reproduce", "--profile", "fast", "--quadrants", "3",
                           "--out", str(base / "out"), "--checkpoint-dir", str(base / "ckpt"), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    return base, done
