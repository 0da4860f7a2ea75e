"""The Chinese edition keeps up with the English text: every message of the current English chapters
has a translation that is not fuzzy and carries over the markup, the numbers and the glossary's terms
(book/_ext/translations.py). The site's own checks of the Chinese pages are in test_browser.py."""
import base64
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import translations  # noqa: E402  (the book's tool, not a package)

GLOSSARY = translations.read_glossary()


def test_every_message_of_the_english_text_is_translated_and_none_is_fuzzy():
    done = subprocess.run([sys.executable, str(ROOT / "book" / "_ext" / "translations.py"), "status", "--show", "20"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "untranslated" in done.stdout  # the table was printed: the check ran over the chapters


def test_the_glossary_fixes_the_terms_a_chinese_reader_expects():
    expected = {"conditional variational autoencoder": "条件变分自编码器", "evidence lower bound": "证据下界",
                "importance sampling": "重要性采样", "recognition network": "识别网络", "prior network": "先验网络",
                "generation network": "生成网络", "reparameterisation": "重参数化"}
    for english, chinese in expected.items():
        assert GLOSSARY.get(english) == chinese, english


def test_a_faithful_translation_has_no_problems():
    english = ("The **baseline** reaches {glue:text}`baseline_nll_1:.1f` nats with $q(z\\mid x,y)$ over seeds 0, 1 "
               "([Pyro](https://pyro.ai), `max_epochs`).")
    chinese = ("**基线**在种子 0、1 上以 $q(z\\mid x,y)$ 达到 {glue:text}`baseline_nll_1:.1f` nats"
               "（[Pyro](https://pyro.ai)，`max_epochs`）。")
    assert translations.translation_problems(english, chinese, GLOSSARY) == []


@pytest.mark.parametrize("chinese, problem", [
    ("**基线**在种子 0、1 上达到 {glue:text}`baseline_nll_1:.1f` nats（[Pyro](https://pyro.ai)，`max_epochs`）。",
     "code, math, roles"),  # the formula was dropped
    ("**基线**在种子 0、2 上以 $q(z\\mid x,y)$ 达到 {glue:text}`baseline_nll_1:.1f` nats（[Pyro](https://pyro.ai)，"
     "`max_epochs`）。", "numbers"),  # a seed changed
    ("**基准**在种子 0、1 上以 $q(z\\mid x,y)$ 达到 {glue:text}`baseline_nll_1:.1f` nats（[Pyro](https://pyro.ai)，"
     "`max_epochs`）。", "glossary"),  # another word for the baseline
    ("**基线**在种子 0、1 上以 $q(z\\mid x,y)$ 达到 {glue:text}`baseline_nll_2:.1f` nats（[Pyro](https://pyro.ai)，"
     "`max_epochs`）。", "code, math, roles"),  # another glued number
])
def test_a_translation_that_changes_markup_numbers_or_terms_is_caught(chinese, problem):
    english = ("The **baseline** reaches {glue:text}`baseline_nll_1:.1f` nats with $q(z\\mid x,y)$ over seeds 0, 1 "
               "([Pyro](https://pyro.ai), `max_epochs`).")
    problems = translations.translation_problems(english, chinese, GLOSSARY)
    assert len(problems) == 1 and problem in problems[0], problems


def test_a_numbered_heading_must_not_read_as_a_numbered_list():
    # the English heading "# 3. The conditional VAE" gives the message "3. The conditional VAE"; its
    # translation is parsed as Markdown on its own, where "3. 条件 VAE" is a list (Sphinx then keeps
    # the English title)
    assert translations.translation_problems("3. The conditional VAE", "3\\. 条件 VAE", GLOSSARY) == []
    problems = translations.translation_problems("3. The conditional VAE", "3. 条件 VAE", GLOSSARY)
    assert len(problems) == 1 and "numbered heading" in problems[0]


def test_terms_inside_code_and_math_are_not_held_to_the_glossary():
    english = "Call `train_baseline` with `epochs=3`."
    assert translations.translation_problems(english, "调用 `train_baseline`，参数为 `epochs=3`。", GLOSSARY) == []


def test_fuzzy_missing_and_empty_translations_are_counted(tmp_path):
    template, catalogue = tmp_path / "chapter.pot", tmp_path / "chapter.po"
    template.write_text('msgid ""\nmsgstr ""\n\nmsgid "Done."\nmsgstr ""\n\nmsgid "Changed."\nmsgstr ""\n\n'
                        'msgid "Empty."\nmsgstr ""\n\nmsgid "New."\nmsgstr ""\n', encoding="utf-8")
    catalogue.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                         'msgid "Done."\nmsgstr "完成。"\n\n#, fuzzy\nmsgid "Changed."\nmsgstr "旧的。"\n\n'
                         'msgid "Empty."\nmsgstr ""\n', encoding="utf-8")
    state = translations.chapter_status(template, catalogue)
    assert state["translated"] == ["Done."] and state["fuzzy"] == ["Changed."]
    assert state["untranslated"] == ["Empty.", "New."]


def test_catalogues_hold_no_machine_paths_or_line_numbers():
    for catalogue in (ROOT / "locales").rglob("*.po"):
        text = catalogue.read_text(encoding="utf-8")
        assert "\n#: " not in text, f"{catalogue.name}: source locations churn with every edit (gettext_location)"
        assert "/work/" not in text and "/home/" not in text, catalogue.name


# -- computed prose: new numbers keep the translation; new words fail the build ------------------------

import translated_numbers  # noqa: E402  (book/_ext, beside translations)


def test_a_translation_follows_its_english_to_new_numbers():
    english = "With 1 quadrant the CVAE scores 63.4 nats, 9.3 below the baseline's 72.7 (3 seeds)."
    chinese = "给定 1 个象限时，CVAE 得分 63.4 nats，比基线模型的 72.7 低 9.3（3 个种子）。"
    rerun = "With 1 quadrant the CVAE scores 63.1 nats, 9.6 below the baseline's 72.7 (3 seeds)."
    assert translated_numbers.template(rerun) == translated_numbers.template(english)
    assert translated_numbers.adapt(english, chinese, rerun) == \
        "给定 1 个象限时，CVAE 得分 63.1 nats，比基线模型的 72.7 低 9.6（3 个种子）。"
    # one old number that became two different ones cannot be placed: no guess
    assert translated_numbers.adapt("3 of 3 runs", "3 次运行中的 3 次", "2 of 3 runs") is None


def _build_in_chinese(folder, catalogue):
    """The Sphinx project in ``folder`` built in Chinese, its catalogue holding ``catalogue``."""
    messages = folder / "locales" / "zh_CN" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (messages / "index.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "Title"\nmsgstr "标题"\n\n'
        + "".join(f'msgid "{en}"\nmsgstr "{zh}"\n\n' for en, zh in catalogue.items()), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(folder),
                           str(folder / "_build")], capture_output=True, text=True, timeout=300)


def _tiny_book(folder, paragraphs, catalogue):
    """A Sphinx project with this extension, in Chinese, its catalogue holding ``catalogue``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['translated_numbers']\nlanguage = 'zh_CN'\nlocale_dirs = ['locales']\n"
        "gettext_compact = False\n")
    (folder / "index.rst").write_text("Title\n=====\n\n" + "\n\n".join(paragraphs) + "\n")
    return _build_in_chinese(folder, catalogue)


def test_a_rerun_that_changes_a_computed_number_still_reads_in_chinese(tmp_path):
    """The catalogue holds the sentence of the last run; the page now prints other numbers."""
    catalogue = {"The CVAE scores 63.4 nats, 9.3 below the baseline.": "CVAE 得分 63.4 nats，比基线模型低 9.3。"}
    done = _tiny_book(tmp_path, ["The CVAE scores 61.9 nats, 10.8 below the baseline."], catalogue)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "_build" / "index.html").read_text(encoding="utf-8")
    assert "CVAE 得分 61.9 nats，比基线模型低 10.8。" in page and "below the baseline" not in page


def test_english_left_in_the_chinese_edition_fails_its_build(tmp_path):
    catalogue = {"The CVAE scores 63.4 nats.": "CVAE 得分 63.4 nats。"}
    done = _tiny_book(tmp_path, ["The CVAE scores 63.4 nats.", "The hybrid is worse than the CVAE."], catalogue)
    assert done.returncode != 0
    assert "not translated into zh_CN, shown in English: 'The hybrid is worse than the CVAE.'" in done.stderr


def test_the_words_html_printed_by_code_shows_are_messages_and_are_put_back_translated():
    markup = ('<label>Given: <select aria-label="given quadrants"><option value="1">1 quadrant given</option>'
              '</select></label><img alt="The CVAE&#x27;s completions" src="x.png"><button title="Play">▶</button>'
              '<script>const s = "not a message";</script>')
    assert translated_numbers.html_messages(markup) == [
        "Given:", "given quadrants", "1 quadrant given", "The CVAE's completions", "Play"]
    chinese = {"Given:": "给定：", "given quadrants": "给定的象限", "1 quadrant given": "给定 1 个象限",
               "The CVAE's completions": "CVAE 的补全"}
    translated, missing = translated_numbers.translate_html(markup, chinese.get)
    assert missing == ["Play"]
    assert translated == ('<label>给定： <select aria-label="给定的象限"><option value="1">给定 1 个象限</option>'
                          '</select></label><img alt="CVAE 的补全" src="x.png"><button title="Play">▶</button>'
                          '<script>const s = "not a message";</script>')


def test_html_printed_by_code_reads_in_chinese_and_an_untranslated_word_fails_the_build(tmp_path):
    raw = ('.. raw:: html\n\n   <label>Image: <select><option>test image 1</option><option>test image 2</option>'
           '</select></label><img alt="A grid of digits" src="x.png">\n')
    catalogue = {"Image:": "图像：", "test image 1": "测试图像 1", "A grid of digits": "数字的网格"}
    done = _tiny_book(tmp_path / "a", [raw], catalogue)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "a" / "_build" / "index.html").read_text(encoding="utf-8")
    assert "<label>图像： <select><option>测试图像 1</option><option>测试图像 2</option>" in page
    assert 'alt="数字的网格"' in page
    del catalogue["A grid of digits"]
    done = _tiny_book(tmp_path / "b", [raw], catalogue)
    assert done.returncode != 0 and "(HTML printed by code): 'A grid of digits'" in done.stderr


def test_a_message_whose_template_is_translated_counts_as_translated(tmp_path):
    template, catalogue = tmp_path / "chapter.pot", tmp_path / "chapter.po"
    header = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    template.write_text(header + 'msgid "test image 1"\nmsgstr ""\n\nmsgid "test image 2"\nmsgstr ""\n\n'
                        'msgid "Play"\nmsgstr ""\n', encoding="utf-8")
    catalogue.write_text(header + 'msgid "test image 1"\nmsgstr "测试图像 1"\n', encoding="utf-8")
    state = translations.chapter_status(template, catalogue)
    assert state["translated"] == ["test image 1", "test image 2"] and state["untranslated"] == ["Play"]


def test_a_comment_is_found_by_pythons_tokenizer_not_by_a_hash_sign():
    source = 'colour = "#9db4d0"  # the missing pixels\n%pip install x\n# Why: it helps\nn = 1  # 42\n'
    assert [words for *_, words in translated_numbers.code_comments(source)] == ["the missing pixels", "Why: it helps"]
    translated, missing = translated_numbers.translate_code(source, {"the missing pixels": "缺失的像素"}.get)
    assert translated == source.replace("the missing pixels", "缺失的像素") and missing == ["Why: it helps"]


def _svg(*words):
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="100pt" height="20pt">'
            + "".join(f'<text x="0" y="{10 * i}">{word}</text>' for i, word in enumerate(words, 1)) + "</svg>")


def _notebook_book(folder, catalogue):
    """A Sphinx project of one executed notebook (myst-nb) in Chinese: a code cell with a comment, an
    SVG figure, and HTML that embeds another SVG (as chapter 5's explorer and chapter 4's video do)."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['myst_nb', 'translated_numbers']\nlanguage = 'zh_CN'\nlocale_dirs = ['locales']\n"
        "gettext_compact = False\nnb_execution_mode = 'off'\n"
        # as _config.yml: the gettext builder renders outputs as the site does, not as text
        "nb_mime_priority_overrides = [('gettext', 'text/html', 10), ('gettext', 'image/svg+xml', 20),"
        " ('gettext', 'text/plain', 30)]\n")
    embedded = base64.encodebytes(_svg("truth").encode()).decode().replace("\n", "\\\n")
    cell = nbformat.v4.new_code_cell('colour = "#fff"  # the colour of the page\ncolour', outputs=[
        nbformat.v4.new_output("display_data", {"image/svg+xml": _svg("asked 3", "0.5"), "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", {"text/html": f'<img alt="A digit" src="data:image/svg+xml;base64,'
                                                             f'{embedded}">', "text/plain": "<HTML>"})])
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"), cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (folder / "index.ipynb").write_text(nbformat.writes(notebook))
    return _build_in_chinese(folder, catalogue)


def test_code_comments_and_the_words_of_figures_read_in_chinese_and_one_left_fails_the_build(tmp_path):
    catalogue = {"the colour of the page": "页面的颜色", "asked 2": "要求的数字 2", "truth": "真实值",
                 "A digit": "一个数字"}
    done = _notebook_book(tmp_path / "a", catalogue)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "a" / "_build" / "index.html").read_text(encoding="utf-8")
    assert "# 页面的颜色" in page and "the colour of the page" not in page
    assert '<span class="s2">"#fff"</span>  <span class="c1"># 页面的颜色</span>' in page  # still highlighted, the string left alone
    figure = re.search(r'<img alt="[^"]*" src="(_images/[^"]+\.zh_CN\.svg)"', page)
    assert figure, "the figure is not its Chinese copy"
    svg = (tmp_path / "a" / "_build" / figure[1]).read_text(encoding="utf-8")
    assert ">要求的数字 3</text>" in svg and ">0.5</text>" in svg and "asked" not in svg  # by its template
    inner = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', page)[1]
    assert ">真实值</text>" in base64.b64decode(inner).decode() and 'alt="一个数字"' in page
    for left, where in (("truth", "(HTML printed by code): 'truth'"), ("asked 2", "(a figure's words): 'asked 3'"),
                        ("the colour of the page", "(a comment in code): 'the colour of the page'")):
        done = _notebook_book(tmp_path / left.replace(" ", "_"), {k: v for k, v in catalogue.items() if k != left})
        assert done.returncode != 0 and where in done.stderr, done.stderr[-2000:]


def test_the_words_of_figures_and_code_comments_are_extracted_as_messages(tmp_path):
    _notebook_book(tmp_path, {})
    done = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "gettext", str(tmp_path),
                           str(tmp_path / "_pot")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pot = (tmp_path / "_pot" / "index.pot").read_text(encoding="utf-8")
    for message in ("the colour of the page", "asked 3", "truth", "A digit"):
        assert f'msgid "{message}"' in pot
    assert 'msgid "0.5"' not in pot and "#fff" not in pot


# -- a translated figure keeps its words inside it (book/_ext/figure_room.py) ---------------------------

import figure_room  # noqa: E402  (book/_ext)

_FIGURE = ('<svg width="100pt" height="60pt" viewBox="0 0 100 60" xmlns="http://www.w3.org/2000/svg">\n'
           ' <g id="figure_1">\n  <g id="patch_1">\n   <path d="M 0 60 L 100 60 L 100 0 L 0 0 z" style="fill: #ffffff"/>\n'
           '  </g>\n'
           '  <text style="font-size: 10px; text-anchor: end" x="30" y="20">{label}</text>\n'
           '  <g id="legend_1">\n   <g id="patch_2">\n    <path d="M 60 50 L 96 50 Q 98 50 98 48 L 98 32 Q 98 30 96 30 '
           'L 60 30 Q 58 30 58 32 L 58 48 Q 58 50 60 50 z" style="fill: #ffffff"/>\n   </g>\n'
           '   <g id="text_1">\n    <text style="font-size: 10px" transform="translate(62 44)">{entry}</text>\n   </g>\n'
           '  </g>\n </g>\n</svg>\n')


def test_a_wider_translated_label_grows_the_figure_and_its_background():
    english = _FIGURE.format(label="x (1q)", entry="CVAE")
    chinese, crowded = figure_room.make_room(english, _FIGURE.format(label="x（给定 1 个象限）", entry="CVAE"))
    assert figure_room.make_room(english, english) == (english, [])  # the English needs no room
    # "x（给定 1 个象限）": 7 full-width characters (70 pt at 10 pt) and "x  1 " in DejaVu Sans, right-aligned
    # at x = 30, so it starts near -58: the canvas (and the white background under it) now starts left of that
    left, top, width, height = map(float, re.search(r'viewBox="([^"]+)"', chinese)[1].split())
    label = figure_room.words(chinese)[0]["box"]
    assert left <= label[0] < -40 and (top, height) == (0, 60) and left + width == pytest.approx(100)
    assert f'width="{width:f}pt"' in chinese and 'height="60.000000pt"' in chinese
    assert re.search(rf'<path d="M {left:f} 0.000000 L 100.000000 0.000000', chinese)
    assert crowded == []


def test_a_wider_legend_entry_widens_its_frame_and_a_crowded_word_is_reported():
    english = _FIGURE.format(label="x", entry="CVAE")
    chinese, _ = figure_room.make_room(english, _FIGURE.format(label="x", entry="CVAE，给定 1 个象限"))
    entry = figure_room.words(chinese)[1]["box"]
    frame = re.search(r'<g id="patch_2">\s*<path d="([^"]+)"', chinese)[1]
    xs = [float(x) for x, _ in re.findall(r"(-?[\d.]+) (-?[\d.]+)", frame)]
    assert min(xs) == 58 and max(xs) >= entry[2] + (entry[0] - 58)  # as much room right of the words as left
    assert float(re.search(r'viewBox="[^"]+ ([\d.]+) [\d.]+"', chinese)[1]) > max(xs)  # and the canvas holds it
    # a label that grows into another word is reported, one that overlapped in English too is not
    crowded = _FIGURE.replace('text-anchor: end" x="30" y="20"', 'text-anchor: start" x="20" y="44"')
    _, reported = figure_room.make_room(crowded.format(label="y", entry="CVAE"),
                                        crowded.format(label="y（给定 1 个象限）", entry="CVAE"))
    assert reported == ["'y（给定 1 个象限）' and 'CVAE'"]
