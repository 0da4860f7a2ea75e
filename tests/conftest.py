"""Fixtures shared by the test modules: the built site with its live demo, and one fast run of the
command line."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def web_models(fast_cli_run, tmp_path_factory):
    """`python -m cvae_lib export-web` on the fast run's models: the graphs of chapter 5's live demo,
    made offline as `make book` makes them from the published ones."""
    base, trained = fast_cli_run
    assert trained.returncode == 0, trained.stderr[-2000:]
    out = tmp_path_factory.mktemp("web_models")
    done = subprocess.run([sys.executable, "-m", "cvae_lib", "export-web", "--profile", "fast", "--checkpoint-dir",
                           str(base / "ckpt"), "--quadrants", "1", "3", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def site(tmp_path_factory, web_models):
    """The book built as CI builds it (`jupyter-book build . -W`, then the Chinese edition into its
    zh_CN/ folder), into a temporary folder, with the live demo's graphs from the fast run."""
    out = tmp_path_factory.mktemp("site")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    environment = {**os.environ, "CVAE_WEB_MODELS": str(web_models)}
    for command in ([str(jupyter_book), "build", str(ROOT), "-W", "--path-output", str(out)],
                    [sys.executable, str(ROOT / "book" / "_ext" / "translations.py"), "build",
                     "--path-output", str(out)]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=environment)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def fast_cli_run(tmp_path_factory):
    """`python -m cvae_lib reproduce --profile fast --quadrants 1 3 --jobs 2` run once, from the command
    line as a user types it (its tasks in two worker processes): its folder (out/, ckpt/) and the
    finished process. Trained once for the
    end-to-end test, the fault tests, which break copies of it, and the live demo's graphs."""
    base = tmp_path_factory.mktemp("fast_cli_run")
    done = subprocess.run([sys.executable, "-m", "cvae_lib", "reproduce", "--profile", "fast", "--quadrants", "1", "3",
                           "--jobs", "2", "--out", str(base / "out"), "--checkpoint-dir", str(base / "ckpt"),
                           "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    return base, done
