"""A chapter run as Colab runs it: a clean Python with `google.colab` importable, the library
installed by the chapter's own install cell (pointed at a local clone of this repository), the
trained models downloaded from a server on 127.0.0.1 — and the chapter runs to its end.

The environment is a new virtual environment that sees the packages of this one (torch, pyro,
jupyter: Colab has them preinstalled) but not `cvae_lib`, which only the install cell brings.
MNIST comes from $CVAE_DATA_DIR (in Colab, torchvision downloads it).
"""
import dataclasses
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from cvae_lib.data import load_mnist, load_splits
from cvae_lib.published import pack
from cvae_lib.recipe import RECIPE
from cvae_lib.repository import INSTALL_CELL_MARK, read_repository
from cvae_lib.settings import PROFILES, RunConfig
from tests.test_published import _Server

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "02_baseline.ipynb"  # trains (or loads) one model per setting


def _run(*command, cwd=None, env=None):
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{command[:3]} failed:\n{(done.stdout + done.stderr)[-3000:]}"
    return done.stdout


def _clone_of_this_tree(target: Path) -> Path:
    """A git clone of this repository whose main branch holds the working tree as it is now
    (committed or not, ignored files left out)."""
    _run("git", "clone", "--quiet", "--no-local", ROOT, target)
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
        else:  # deleted here, not yet in a commit
            (target / name).unlink(missing_ok=True)
    return target


def _commit(clone: Path, message: str):
    _run("git", "add", "-A", cwd=clone)
    _run("git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "--quiet",
         "--allow-empty", "-m", message, cwd=clone)


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    base = tmp_path_factory.mktemp("colab")
    # 1. the models a reader would download: this chapter's, trained as the chapter trains them
    maker = base / "maker"
    config = RunConfig.from_environment("fast", checkpoint_dir=maker / "checkpoints", results_dir=maker / "results",
                                        download=False)
    mnist = load_mnist(config.data_dir)
    for q in config.quadrants:
        RECIPE.train_baseline(load_splits(q, PROFILES["fast"], mnist), config, progress=False)  # as chapter 2 does
    archive, manifest = pack(maker, sorted(maker.rglob("*.pt")), base / "release", read_repository(ROOT).url)
    server = _Server(archive)
    # 2. the repository, as Colab's install cell fetches it, publishing those models at that server
    clone = _clone_of_this_tree(base / "clone")
    dataclasses.replace(manifest, url=server.url).write(clone / "cvae_lib" / "published_models.json")
    _commit(clone, "models published at a local server")
    # 3. a clean Python: this one's packages, but no cvae_lib, and a google.colab module
    venv = base / "venv"
    # without a pip of its own: this environment's pip (a recent one, as Colab's) serves %pip
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "host_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    kernel = venv / "share" / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab (simulated)", "language": "python"}))
    fake = base / "fake_colab" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""Stands in for Colab\'s module: the book only asks whether it is loaded."""\n')
    startup = base / ".ipython" / "profile_default" / "startup"  # HOME is `base`: the kernel's IPython reads it
    startup.mkdir(parents=True)
    (startup / "00_colab.py").write_text("import google.colab  # as Colab's kernel has done when a notebook starts\n")
    content = base / "content"  # Colab's working folder: no checkout, nothing trained
    content.mkdir()
    notebook = json.loads((ROOT / "book" / CHAPTER).read_text())
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if INSTALL_CELL_MARK in source:
            cell["source"] = source.replace(f"git+{read_repository(ROOT).url}", f"git+file://{clone}")
    (content / CHAPTER).write_text(json.dumps(notebook))
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(base), "PYTHONPATH": str(base / "fake_colab"),
           "CVAE_PROFILE": "fast", "CVAE_DATA_DIR": str(config.data_dir), "PIP_NO_INDEX": "1",
           "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "MPLBACKEND": "agg",
           "JUPYTER_PATH": str(venv / "share" / "jupyter")}
    yield {"python": python, "env": env, "content": content, "maker": maker, "server": server, "clone": clone,
           "manifest": manifest}
    server.close()


def test_the_clean_environment_has_no_cvae_lib_until_the_install_cell_runs(colab):
    probe = "import importlib.util, google.colab; print(importlib.util.find_spec('cvae_lib') is None)"
    assert _run(colab["python"], "-c", probe, env=colab["env"], cwd=colab["content"]).strip() == "True"


def test_a_chapter_runs_in_colab_from_the_install_cell_to_the_end_with_downloaded_models(colab):
    script = (
        "import nbformat, sys\n"
        "from nbclient import NotebookClient\n"
        f"nb = nbformat.read({str(colab['content'] / CHAPTER)!r}, as_version=4)\n"
        "NotebookClient(nb, timeout=600, kernel_name='python3',"
        f" resources={{'metadata': {{'path': {str(colab['content'])!r}}}}}).execute()\n"
        f"nbformat.write(nb, {str(colab['content'] / 'executed.ipynb')!r})\n"
    )
    requests = colab["server"].requests
    _run(colab["python"], "-c", script, env=colab["env"], cwd=colab["content"])
    executed = json.loads((colab["content"] / "executed.ipynb").read_text())
    outputs = [output for cell in executed["cells"] for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "published models not used" not in text
    assert colab["server"].requests == requests + 1  # one archive, downloaded once
    # the chapter loaded the downloaded models: the very bytes that were published
    for entry in colab["manifest"].files:
        assert (colab["content"] / entry.path).read_bytes() == (colab["maker"] / entry.path).read_bytes()
    installed = _run(colab["python"], "-c", "import cvae_lib; print(cvae_lib.__file__)", env=colab["env"],
                     cwd=colab["content"])
    assert str(colab["clone"]) not in installed and "site-packages" in installed  # installed, not a path hack
