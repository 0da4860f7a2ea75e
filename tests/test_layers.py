"""The library's shape: layers that import only downwards, settings read once at the edge, small modules."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cvae_lib"
# Bottom to top: a module may import only modules listed before it (the README's layout table).
LAYERS = [
    "util", "published", "fetch", "settings",
    "data", "models", "digits", "plots", "score_plots", "notebook_figures", "digit_plots",
    "objectives", "loop", "checkpoints", "train", "recipe",
    "evaluate", "quality", "label_cvae", "classifier_cvae",
    "results", "report", "protocol_report", "paired_report", "search_report", "remake_report", "experiment", "tasks", "engine",
    "reproduce", "recipe_search", "ablation", "alpha_sweep", "alpha_report", "conditioning", "publish_run", "conditioning_report",
    "web_export", "stored_results",
    "book", "notebooks", "repository", "command_line", "__main__",
]
EDGES = {"settings", "__main__"}  # where the run configuration is built from arguments and environment


def _modules():
    return sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _tree(name):
    return ast.parse((PACKAGE / f"{name}.py").read_text())


def _imported(name):
    """The cvae_lib modules ``name`` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cvae_lib."):
            found.add(node.module.split(".")[1])
    return found & set(_modules())  # `from . import __version__` names the package, not a module


def test_every_module_has_a_place_in_the_layers():
    assert sorted(LAYERS) == _modules()


@pytest.mark.parametrize("name", LAYERS)
def test_modules_import_only_from_the_layers_below(name):
    below = set(LAYERS[:LAYERS.index(name)])
    upward = _imported(name) - below
    assert not upward, f"cvae_lib.{name} imports {sorted(upward)}, which sit above it in the layers"


@pytest.mark.parametrize("name", LAYERS)
def test_settings_are_looked_up_only_at_the_edges(name):
    calls = {node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
             for node in ast.walk(_tree(name)) if isinstance(node, ast.Call)}
    if name not in EDGES:
        assert "get_profile" not in calls and "from_environment" not in calls, name
    source = (PACKAGE / f"{name}.py").read_text()
    if name not in EDGES | {"notebooks"}:  # notebooks sets the kernels' environment
        assert "os.environ" not in source and "getenv" not in source, name


@pytest.mark.parametrize("name", _modules())
def test_no_module_grows_past_300_lines(name):
    lines = len((PACKAGE / f"{name}.py").read_text().splitlines())
    assert lines <= 300, f"cvae_lib/{name}.py has {lines} lines: give one of its jobs a module of its own"


def test_the_papers_experiment_does_not_load_the_chapters_beyond_it():
    done = subprocess.run([sys.executable, "-c", "import sys, cvae_lib.reproduce; "
                           "print(sorted(m for m in sys.modules if m.startswith('cvae_lib.')))"],
                          capture_output=True, text=True, check=True)
    loaded = done.stdout
    assert "cvae_lib.reproduce" in loaded
    for chapter in ("cvae_lib.label_cvae", "cvae_lib.classifier_cvae", "cvae_lib.book", "cvae_lib.notebooks"):
        assert chapter not in loaded
