"""The stored notebooks: real outputs, in order, no errors or warnings, no paths of a machine."""
import base64
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
    assert "draw_notebook_figures_as_svg()" in source  # the figures' format: the same in Colab and nbval
    for name, cell in cells.items():
        # its printout names the profile, so it is the one setup cell whose output nbval ignores;
        # it is in the notebook (Colab, nbval) but not on the page
        assert cell["metadata"].get("tags") == ["nbval-ignore-output", "remove-cell"], name


def test_every_stored_figure_is_an_svg_whose_words_are_text():
    """As the settings cell draws them: no PNG, no date (the same figure is the same file), words as
    <text> (the Chinese edition translates them)."""
    figures = 0
    for path in NOTEBOOKS:
        for cell in _code(path):
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                assert "image/png" not in data, f"{path.name}: a PNG figure; re-execute the chapter"
                if "image/svg+xml" in data:
                    svg = "".join(data["image/svg+xml"])
                    assert "dc:date" not in svg and "<text" in svg, path.name
                    figures += 1
    assert figures >= 25


def test_setup_cells_are_off_the_page_but_in_the_notebook():
    for path in NOTEBOOKS:
        code = _code(path)
        assert "remove-cell" in code[0]["metadata"].get("tags", []), f"{path.name}: the Colab cell shows"
        if path is not NOTEBOOKS[0]:
            assert "remove-cell" in code[2]["metadata"].get("tags", []), f"{path.name}: its imports show"


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


def _tiny_notebook(path, *sources):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.write_text(nbformat.writes(nb))
    return path


# a chapter's figure: the settings cell's figure format, then a digit with a title
FIGURE = """from cvae_lib.notebook_figures import draw_notebook_figures_as_svg
from cvae_lib.plots import new_figure, show_image
import torch
draw_notebook_figures_as_svg()
fig, axes = new_figure(1, 1)
show_image(axes[0, 0], torch.linspace(0, 1, 784))
axes[0, 0].set_title("a digit & its title")"""


def _check_svg_figure(outputs):
    """The figure is an SVG whose words are text (the Chinese edition translates them) and whose
    digit is its 28 x 28 pixels, drawn square at any zoom; no date, so the same figure is the same file."""
    svg = next(o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {}))
    svg = "".join(svg)
    assert re.search(r"<text\b[^>]*>a digit &amp; its title</text>", svg)
    images = re.findall(r"<image\b[^>]*>", svg)
    assert len(images) == 1 and "image-rendering:pixelated" in images[0]
    png = base64.b64decode(re.sub(r"\s", "", re.search(r"base64,([^\"]+)", images[0])[1]))
    assert int.from_bytes(png[16:20], "big") == int.from_bytes(png[20:24], "big") == 28  # the PNG header's size
    assert "dc:date" not in svg and not any("image/png" in o.get("data", {}) for o in outputs)


def test_execute_book_runs_several_notebooks_in_one_call_each_in_its_own_kernel(tmp_path):
    """Several chapters in one call used to hang after the first; now each runs in a process and
    kernel of its own, a failing or hanging one is named in one line and left unchanged, and the
    others still run."""
    from cvae_lib.notebooks import NotebookFailed, execute_notebooks
    from cvae_lib.settings import get_profile

    first = _tiny_notebook(tmp_path / "01_first.ipynb", "import os\nprint(os.getpid())")
    second = _tiny_notebook(tmp_path / "02_second.ipynb", "import os\nprint(os.getpid())", "print(6 * 7)",
                            FIGURE)
    broken = _tiny_notebook(tmp_path / "03_broken.ipynb", "print('before')", "1 / 0")
    stuck = _tiny_notebook(tmp_path / "04_stuck.ipynb", "import time\ntime.sleep(600)")
    untouched = {path: path.read_text() for path in (broken, stuck)}
    lines, timings = [], tmp_path / "timings.json"
    with pytest.raises(NotebookFailed, match=r"2 of 4 notebooks failed \(03_broken.ipynb, 04_stuck.ipynb\)"):
        execute_notebooks(get_profile("fast"), [first, second, broken, stuck], timeout=20, log=lines.append,
                          timings_path=timings)
    assert lines[2] == "03_broken.ipynb: failed, left unchanged: code cell 2 raised ZeroDivisionError: division by zero"
    assert lines[3] == "04_stuck.ipynb: failed, left unchanged: still running after 20 s, stopped"
    assert all(path.read_text() == text for path, text in untouched.items())
    pids = ["".join(json.loads(path.read_text())["cells"][0]["outputs"][0]["text"]) for path in (first, second)]
    assert pids[0] != pids[1], "both notebooks ran in the same kernel"
    cells = json.loads(second.read_text())["cells"]
    assert "".join(cells[1]["outputs"][0]["text"]) == "42\n"
    _check_svg_figure(cells[2]["outputs"])
    recorded = json.loads(timings.read_text())["fast"]["seconds"]
    assert set(recorded) == {"01_first", "02_second"}


def test_execute_book_refuses_a_timeout_that_is_not_a_positive_number():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "cvae_lib", "execute-book", "--timeout", "0"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "'0' is not a number of minutes above 0" in done.stderr
