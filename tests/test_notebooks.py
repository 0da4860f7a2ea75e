"""The stored notebooks: real outputs, in order, no errors or warnings, no paths of a machine."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
MACHINE_PATH = re.compile(r"(/work/|/tmp/|/root/|/home/|/Users/|[A-Z]:\\\\)")


def _cells(path):
    return json.loads(path.read_text())["cells"]


def test_there_are_nine_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05", "06", "07", "08"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_was_executed_in_order_without_errors(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert None not in counts, "a code cell was never executed"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), "cells ran out of order"
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error"
            assert not (output["output_type"] == "stream" and output["name"] == "stderr"), \
                f"stderr in stored output: {''.join(output['text'])[:200]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_show_no_paths_of_this_machine(path):
    for cell in _cells(path):
        for output in cell.get("outputs", []):
            text = json.dumps(output.get("text", "")) + json.dumps(output.get("data", {}).get("text/plain", ""))
            assert not MACHINE_PATH.search(text), f"machine path in {path.name}: {text[:200]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_installs_the_library_only_in_colab(path):
    first_code = next(c for c in _cells(path) if c["cell_type"] == "code")
    source = "".join(first_code["source"])
    assert '"google.colab" in sys.modules' in source and "pip install" in source
    assert first_code["outputs"] == []  # it did nothing where the outputs were made


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.stem)
def test_each_chapter_states_its_settings_at_the_top(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    settings = "".join(code[1]["source"])
    assert "PROFILE = settings.get_profile()" in settings and "SEED" in settings
    assert "nbval-ignore-output" in code[1]["metadata"].get("tags", [])
