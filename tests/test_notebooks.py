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


def test_there_are_ten_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05", "06", "07", "08", "09"]


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


def _code(path):
    return [c for c in _cells(path) if c["cell_type"] == "code"]


def _source(cell):
    return "".join(cell["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_installs_the_library_only_in_colab(path):
    first_code = _code(path)[0]
    source = _source(first_code)
    assert '"google.colab" in sys.modules' in source and "pip install" in source
    assert first_code["outputs"] == []  # it did nothing where the outputs were made


def test_the_colab_install_cell_is_the_same_in_every_notebook():
    sources = {path.name: _source(_code(path)[0]) for path in NOTEBOOKS}
    assert len(set(sources.values())) == 1, (
        "the first code cell (Colab install) differs between notebooks; copy it from one to the others: "
        + ", ".join(sorted(sources)))


def test_the_settings_cell_is_the_same_in_every_chapter():
    cells = {path.name: _code(path)[1] for path in NOTEBOOKS[1:]}
    sources = {name: _source(cell) for name, cell in cells.items()}
    assert len(set(sources.values())) == 1, "the settings cell (second code cell) differs between chapters"
    source = next(iter(sources.values()))
    assert "CONFIG = RunConfig.from_environment(" in source and "print(CONFIG.describe())" in source
    for name, cell in cells.items():
        # its printout names the profile, so it is the one setup cell whose output nbval ignores;
        # on the page it is folded away (present in the notebook, quiet on the site)
        assert cell["metadata"].get("tags") == ["nbval-ignore-output", "hide-cell"], name


def test_setup_cells_are_off_the_page_but_in_the_notebook():
    for path in NOTEBOOKS:
        code = _code(path)
        assert "remove-cell" in code[0]["metadata"].get("tags", []), f"{path.name}: the Colab cell shows"
        if path is not NOTEBOOKS[0]:
            assert "hide-input" in code[2]["metadata"].get("tags", []), f"{path.name}: its imports show"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_lines_fit_the_page(path):
    shown = [cell for cell in _code(path) if "remove-cell" not in cell["metadata"].get("tags", [])]
    long = [line for cell in shown for line in _source(cell).splitlines() if len(line) > 88]
    assert not long, f"{path.name} has code lines over 88 characters: {long[:3]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_library_excerpts_fit_the_page(path):
    """What show_source prints is code too: on a phone a longer line scrolls sideways."""
    shown = [cell for cell in _code(path) if _source(cell).lstrip().startswith("show_source(")]
    for cell in shown:
        text = "".join(cell["outputs"][0]["data"]["text/plain"])
        long = [line for line in text.splitlines() if len(line) > 88]
        assert not long, f"{path.name}, cell {cell['id']} shows lines over 88 characters: {long[:2]}"


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.stem)
def test_settings_are_resolved_once_at_the_top_of_each_chapter(path):
    later = "".join(_source(cell) for cell in _code(path)[2:])
    for lookup in ("RunConfig.from_environment", "get_profile", "os.environ", "CVAE_PROFILE"):
        assert lookup not in later, f"{path.name} looks up its settings again ({lookup}); use CONFIG"


def test_the_notebooks_are_the_source_of_the_book():
    # nothing in book/ writes the chapters: an edit saved in Jupyter or Colab is the whole change
    assert sorted(p.name for p in (ROOT / "book").glob("*.py")) == []


def test_the_timing_table_holds_numbers_under_headers_that_name_the_unit(tmp_path):
    # a cell with a word in it ("2.4 min") would be a new message of the Chinese edition at every run
    from cvae_lib.notebooks import timings_markdown

    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "timings.json").write_text(json.dumps({
        "full": {"seconds": {"02_baseline": 6.0}, "from_scratch_seconds": {"02_baseline": 306.0}},
        "fast": {"seconds": {"02_baseline": 30.0, "07_label_cvae": 90.0}}, "last_profile": "full"}))
    lines = timings_markdown(tmp_path).data.splitlines()
    assert lines[0].count("(minutes)") == 3
    assert lines[2:4] == ["| 02_baseline | 0.1 | 5.1 | 0.5 |", "| 07_label_cvae | – | – | 1.5 |"]
