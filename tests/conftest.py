"""Fixtures shared by the test modules: the built site with its live demo, and one fast run of the
command line.

`make test` runs these tests on two processes (pytest-xdist, `-n 2 --dist loadfile`). The three
session fixtures below are each made once per run all the same: the first worker to need one makes it
in a folder the workers share, under a file lock, and the others wait for it and read it."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]


def _made_once(tmp_path_factory, name: str, make) -> Path:
    """``make(folder)`` run once per test run, even on several workers; the folder it filled."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name)
        make(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, above each worker's own
    folder, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():  # a worker whose make failed leaves no mark: the next one tries again
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def web_models(fast_cli_run, tmp_path_factory):
    """`python -m cvae_lib export-web` on the fast run's models: the graphs of chapter 5's live demo,
    made offline as `make book` makes them from the published ones."""
    base, trained = fast_cli_run
    assert trained.returncode == 0, trained.stderr[-2000:]

    def export(out):
        done = subprocess.run([sys.executable, "-m", "cvae_lib", "export-web", "--profile", "fast",
                               "--checkpoint-dir", str(base / "ckpt"), "--quadrants", "1", "3", "--out", str(out)],
                              capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]

    return _made_once(tmp_path_factory, "web_models", export)


@pytest.fixture(scope="session")
def site(tmp_path_factory, web_models):
    """The book built as CI builds it (`jupyter-book build . -W`, then the Chinese edition into its
    zh_CN/ folder), into a temporary folder, with the live demo's graphs from the fast run."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    environment = {**os.environ, "CVAE_WEB_MODELS": str(web_models)}

    def build(out):
        for command in ([str(jupyter_book), "build", str(ROOT), "-W", "--path-output", str(out)],
                        [sys.executable, str(ROOT / "book" / "_ext" / "translations.py"), "build",
                         "--path-output", str(out)]):
            done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=environment)
            assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

    return _made_once(tmp_path_factory, "site", build) / "_build" / "html"


@pytest.fixture(scope="session")
def fast_cli_run(tmp_path_factory):
    """`python -m cvae_lib reproduce --profile fast --quadrants 1 3 --jobs 2` run once, from the command
    line as a user types it (its tasks in two worker processes): its folder (out/, ckpt/) and the
    finished process. Trained once for the
    end-to-end test, the fault tests, which break copies of it, and the live demo's graphs."""
    def train(base):
        done = subprocess.run([sys.executable, "-m", "cvae_lib", "reproduce", "--profile", "fast",
                               "--quadrants", "1", "3", "--jobs", "2", "--out", str(base / "out"),
                               "--checkpoint-dir", str(base / "ckpt"), "--no-progress"],
                              capture_output=True, text=True, cwd=ROOT, timeout=900)
        # kept beside the run, so that a worker that did not start it gets the same finished process
        (base / "process.json").write_text(json.dumps(
            {"args": done.args, "returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}))

    base = _made_once(tmp_path_factory, "fast_cli_run", train)
    return base, subprocess.CompletedProcess(**json.loads((base / "process.json").read_text()))


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the first module that needs the built site runs first, so that one worker
    builds it (a few minutes) while the other runs the modules that need neither the site nor the fast
    run; the other modules that need one of them run last, when it is there, instead of one worker
    waiting for the other. `make test` keeps this order (`--no-loadscope-reorder`)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)

    def needs(module, fixture):
        return any(fixture in getattr(item, "fixturenames", ()) for item in modules[module])

    builder = next((module for module in modules if needs(module, "site")), None)
    last = [module for module in modules if module != builder and needs(module, "fast_cli_run")]
    order = [builder] * (builder is not None) + [module for module in modules if module != builder and
                                                 module not in last] + last
    items[:] = [item for module in order for item in modules[module]]
