"""The static site: it builds with -W, every chapter has its page in both editions (English, and
Chinese in zh_CN/), every image a page shows exists."""
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [entry["file"] for entry in yaml.safe_load((ROOT / "_toc.yml").read_text())["chapters"]]
ROOT_PAGE = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
NOTEBOOK_PAGES = [page for page in [ROOT_PAGE, *CHAPTERS] if (ROOT / f"{page}.ipynb").exists()]
EDITIONS = ["", "zh_CN/"]  # where each edition lies in the site
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_the_toc_lists_the_nine_chapters_and_the_references():
    assert len(NOTEBOOK_PAGES) == 10  # introduction + nine chapters
    assert CHAPTERS[-1] == "book/references"


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("page", [ROOT_PAGE, *CHAPTERS])
def test_every_page_exists_and_its_images_too(site, page, edition):
    html_path = site / f"{edition}{page}.html"
    assert html_path.exists(), f"{page} was not built"
    html = html_path.read_text()
    for source in re.findall(r'<img[^>]*src="([^"]+)"', html):
        if source.startswith(("http://", "https://", "data:")):
            continue
        assert (html_path.parent / source).resolve().exists(), f"{page} shows a missing image {source}"


@pytest.mark.parametrize("page", CHAPTERS[:-1])
def test_every_chapter_shows_figures(site, page):
    html = (site / f"{page}.html").read_text()
    figures = [s for s in re.findall(r'<img[^>]*src="([^"]+)"', html) if "_images/" in s]
    assert figures, f"{page} shows no figure"


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_colab_buttons_open_the_notebook_of_the_page(site, page, edition):
    html = (site / f"{edition}{page}.html").read_text()
    links = re.findall(r'https://colab\.research\.google\.com/github/[^"]+', html)
    assert links, f"{page} has no Colab launch button"
    assert links[0].endswith(f"/blob/main/{page}.ipynb")


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("page", [page for page in NOTEBOOK_PAGES if page != ROOT_PAGE])
def test_a_chapter_starts_with_the_chapter_then_says_how_to_run_it(site, page, edition):
    """The setup cells (install, settings, imports) are in the notebook, not between the title and
    the text: the page goes title, first paragraph, then one sentence with the Colab link."""
    html = (site / f"{edition}{page}.html").read_text()
    article = html[html.index("<h1"):]
    run = re.search(r'<p class="run-chapter">(.*?)</p>', article, re.S)
    assert run, f"{edition}{page}: no sentence on how to run the chapter"
    before = article[:run.start()]
    assert before.count("<p>") == 1 and "cell docutils container" not in before, \
        f"{edition}{page}: something stands between the title, the first paragraph and how to run it"
    assert re.search(rf'href="https://colab\.research\.google\.com/github/[^"]+/blob/main/{page}\.ipynb"', run[1])
    for setup in ("RunConfig.from_environment", "google.colab", "Show code cell content"):
        assert setup not in html, f"{edition}{page} shows its setup cells ({setup!r})"


def test_the_evaluation_page_renders_the_computed_table(site):
    html = (site / "book" / "05_evaluation.html").read_text()
    table = html[html.index("negative CLL (nats per image)") - 2000:]
    assert "<table" in table and "importance sampling" in table
    assert "Pyro tutorial" in html and "100.4" in html
    assert "completion measure (test set)" in html and "true digit among K = 10 samples" in html


def test_references_are_rendered(site):
    html = (site / "book" / "references.html").read_text()
    assert "learning structured output representation" in html.lower() and "Sohn" in html


@pytest.mark.parametrize("page", [ROOT_PAGE, *CHAPTERS])
def test_the_chinese_pages_are_in_chinese_with_the_same_figures_and_numbers(site, page):
    english, chinese = (site / f"{page}.html").read_text(), (site / f"zh_CN/{page}.html").read_text()
    assert '<html lang="zh-CN"' in chinese
    heading = re.search(r'<h1>([^<]*)<a class="headerlink"', chinese).group(1)
    assert CHINESE.search(heading), f"zh_CN/{page} is headed {heading!r}"
    images = re.compile(r'<img[^>]*src="(?!data:)[^"]*/([^"/]+)"')
    # the same figures, each as its Chinese copy (its words translated: book/_ext/translated_numbers.py),
    # and as many pictures embedded in HTML (the explorer's, translated too)
    translated = [name.replace(".zh_CN.svg", ".svg") for name in images.findall(chinese)]
    assert images.findall(english) == translated, f"zh_CN/{page} shows other figures"
    assert english.count("data:image/") == chinese.count("data:image/"), f"zh_CN/{page}"
    pasted = re.compile(r'<span class="pasted-text">([^<]*)</span>')  # numbers glued into the text
    assert sorted(pasted.findall(english)) == sorted(pasted.findall(chinese)), f"zh_CN/{page}"


@pytest.mark.parametrize("page", [ROOT_PAGE, *CHAPTERS])
def test_the_chinese_pages_have_chinese_fold_buttons_and_alt_texts(site, page):
    """myst-nb's fold buttons say what is folded in Chinese (not "显示代码单元 source"), and every
    figure's alt text is Chinese: an alt text is a message of the catalogue like the prose, and the
    English one is a description, not the file's path (myst-nb's default)."""
    chinese = (site / f"zh_CN/{page}.html").read_text()
    english = (site / f"{page}.html").read_text()
    folds = len(re.findall(r"(?:Show|Hide) code cell (?:source|outputs?|content)", english))
    assert len(re.findall(r"(?:显示|隐藏)代码单元的(?:源代码|输出|内容)", chinese)) == folds, f"zh_CN/{page}"
    assert not re.search(r"代码单元的?\s*(?:source|outputs?|content)", chinese), f"zh_CN/{page}"
    figure = re.compile(r'<img[^>]*src="[^"]*_images/[^"]*"[^>]*alt="([^"]+)"|<img[^>]*alt="([^"]+)"[^>]*src="[^"]*_images/')
    for found in figure.findall(english):
        assert "_images/" not in "".join(found), f"{page}: a figure whose alt text is its path"
    for alt in re.findall(r'<img[^>]*alt="([^"]+)"', chinese):  # the figures, the video, the explorer
        assert alt == "Colab logo" or CHINESE.search(alt), f"zh_CN/{page}: an English alt text {alt!r}"
