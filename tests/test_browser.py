"""The built site in a real browser (Debian's Chromium, driven by Playwright), as a reader meets it:
at desktop and phone width, every page of both editions (English, and Chinese in zh_CN/) loads
without a console error, shows every image, renders its math without the network, does not scroll
sideways, links to the configured repository and to the same page in the other edition, and has
no serious or critical accessibility finding of axe-core (the engine of the browsers' own audits).

CI installs Chromium (`.ci/run`); elsewhere these tests are skipped when it is missing.
"""
import contextlib
import functools
import http.server
import os
import re
import shutil
import threading

import pytest
import yaml

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it", allow_module_level=True)

TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = [TOC["root"], *(entry["file"] for entry in TOC["chapters"])]
EDITIONS = {"en": "", "zh-CN": "zh_CN/"}  # <html lang> -> where the edition lies in the site
EDITION_PAGES = [folder + page for folder in EDITIONS.values() for page in PAGES]
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
WIDTHS = {"desktop": 1400, "phone": 400}
AXE = ROOT / ".site-deps" / "node_modules" / "axe-core" / "axe.min.js"  # from npm: make site-deps


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on 127.0.0.1, as a reader's browser would fetch it."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=site))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # No network beyond 127.0.0.1 is needed: anything that reaches out fails the console check.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield launched
        launched.close()


@contextlib.contextmanager
def _open(browser, server, page, width, scheme="light"):
    """A tab with ``page`` loaded, its images and math done; yields (tab, problems), then closes."""
    tab = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    problems = []
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    tab.goto(f"{server}/{page}.html", wait_until="networkidle")
    # load every image now (some are lazy) and give MathJax its time
    tab.evaluate("""() => Promise.all([...document.images].map(img => {
        img.loading = 'eager';
        return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; });
    }))""")
    tab.wait_for_function("() => !window.MathJax || !window.MathJax.startup || "
                          "window.MathJax.startup.promise.then(() => true)", timeout=20000)
    try:
        yield tab, problems
    finally:
        tab.close()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("page", EDITION_PAGES)
def test_each_page_as_a_reader_meets_it(browser, server, page, width):
    """No console error, every image loads, nothing scrolls sideways, nothing serious or critical
    for axe-core, the math rendered by the site's own MathJax; at desktop width the links into
    the book's repository and Colab point at the configured repository."""
    assert AXE.is_file(), f"{AXE.relative_to(ROOT)} is missing: run `make site-deps`"
    with _open(browser, server, page, width) as (tab, problems):
        assert problems == [], f"{page} at {width} px: {problems}"
        broken = tab.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                              ".map(i => i.src)")
        assert broken == [], f"{page} shows images that do not load: {broken}"
        overflow = tab.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{page} scrolls sideways by {overflow} px at {width} px"
        # axe-core's findings of impact serious or critical (missing names and labels, contrast below
        # WCAG AA, regions the keyboard cannot reach, ...); the README lists the moderate ones left
        tab.add_script_tag(path=str(AXE))
        findings = tab.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
            .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.impact} ${v.id} (${v.help}): ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join('; '))""")
        assert findings == [], f"{page} at {width} px: {findings}"
        _math_is_rendered_from_the_site_itself(tab, server, page)
        if width == WIDTHS["desktop"]:
            _links_point_at_the_configured_repository(tab, page)


def _math_is_rendered_from_the_site_itself(tab, server, page):
    math = tab.evaluate("() => document.querySelectorAll('.math').length")
    rendered = tab.evaluate("() => document.querySelectorAll('.math mjx-container, mjx-container').length")
    raw = tab.evaluate(r"""() => [...document.querySelectorAll('.math')]
        .filter(e => !e.querySelector('mjx-container') && /\\\(|\\\[|\$/.test(e.textContent)).length""")
    assert raw == 0 and rendered >= math, f"{page}: {math} formulas, {rendered} rendered, {raw} left as TeX"
    sources = tab.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")
    assert all(src.startswith(server) for src in sources), f"{page} loads scripts from elsewhere: {sources}"


def _links_point_at_the_configured_repository(tab, page):
    """The launch and repository buttons, and every link into the book's own sources."""
    repository = tab.evaluate("() => [...document.querySelectorAll('a.btn-source-repository-button')]"
                              ".map(a => a.href)")
    links = tab.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
    book_source = [link for link in links if "github.com/cvae-book" in link or REPOSITORY in link]
    assert repository and all(link.rstrip("/") == REPOSITORY for link in repository), repository
    # every link into the book's own sources (the repository button, "the whole function" links) is
    # into the configured repository
    assert all(link.startswith(REPOSITORY) or "colab.research.google.com" in link for link in book_source)
    colab = [link for link in links if "colab.research.google.com" in link]
    if (ROOT / f"{page.removeprefix(EDITIONS['zh-CN'])}.ipynb").exists():
        owner_and_name = REPOSITORY.removeprefix("https://github.com/")
        assert colab and all(f"/github/{owner_and_name}/blob/" in link for link in colab), colab


@pytest.mark.parametrize("language", EDITIONS)
@pytest.mark.parametrize("page", PAGES)
def test_each_page_links_to_the_same_page_in_the_other_edition(browser, server, page, language):
    other = next(code for code in EDITIONS if code != language)
    with _open(browser, server, EDITIONS[language] + page, WIDTHS["phone"]) as (tab, _):
        assert tab.evaluate("() => document.documentElement.lang") == language
        link = tab.locator(f'nav.book-editions a[hreflang="{other}"]')
        assert link.count() == 1, f"{language} {page}: no link to the {other} edition"
        assert link.is_visible(), f"{language} {page}: the link to the {other} edition is hidden"
        link.click()
        tab.wait_for_load_state("networkidle")
        assert tab.url == f"{server}/{EDITIONS[other]}{page}.html"
        assert tab.evaluate("() => document.documentElement.lang") == other
        title = tab.evaluate("() => document.querySelector('article h1').textContent")
    has_chinese = re.search(r"[\u4e00-\u9fff]", title) is not None
    assert has_chinese == (other == "zh-CN"), f"the {other} {page} is titled {title!r}"


@pytest.mark.parametrize("language, term", [("en", "importance sampling"), ("zh-CN", "重要性采样")])
def test_the_search_finds_a_term_of_the_book_in_each_edition(browser, server, language, term):
    """Chinese is written without spaces: the Chinese site's index is cut into words by jieba,
    which knows the glossary's terms."""
    from urllib.parse import quote

    tab = browser.new_page(viewport={"width": WIDTHS["desktop"], "height": 900})
    try:
        tab.goto(f"{server}/{EDITIONS[language]}search.html?q={quote(term)}", wait_until="networkidle")
        tab.wait_for_function("() => document.querySelectorAll('#search-results li a').length > 0",
                              timeout=20000)
        found = tab.evaluate("() => [...document.querySelectorAll('#search-results li a')]"
                             ".map(a => a.getAttribute('href'))")
    finally:
        tab.close()
    assert any("05_evaluation" in href for href in found), f"{term!r} found only {found}"


def _switch_and_watch(explorer):
    """Change both controls of a static explorer; return the picture's sources along the way."""
    picture = explorer.locator("img")
    first = picture.get_attribute("src")
    explorer.locator("select.explorer-quadrants").select_option("3")
    after_quadrants = picture.get_attribute("src")
    explorer.locator("select.explorer-image").select_option("1")
    return picture, [first, after_quadrants, picture.get_attribute("src")]


def test_the_static_explorer_follows_its_controls_without_a_kernel(browser):
    """The explorer's own page script, on small trained models: no kernel, no network."""
    from cvae_lib.book import static_explorer
    from cvae_lib.experiment import TrainedSetting
    from cvae_lib.train import train_or_load_baseline, train_or_load_cvae
    from tests.helpers import config_for, synthetic_data

    settings = {}
    for q in (1, 3):
        data = synthetic_data(q, sizes=(128, 64, 8))
        baseline = train_or_load_baseline(data, config_for(), checkpoint_path=None, progress=False)
        cvae = train_or_load_cvae(data, baseline, config_for(), checkpoint_path=None, progress=False,
                                  z_dim=4, hidden_1=32, hidden_2=32)
        settings[q] = TrainedSetting(data, baseline, cvae, 0)
    tab = browser.new_page(viewport={"width": WIDTHS["phone"], "height": 900})
    try:
        tab.set_content(static_explorer(settings, images=3, samples=2).data)
        picture, sources = _switch_and_watch(tab.locator(".static-explorer"))
        assert len(set(sources)) == 3, "the picture did not follow the controls"
        assert tab.evaluate("(img) => img.complete && img.naturalWidth > 0", picture.element_handle())
        assert picture.get_attribute("alt")
    finally:
        tab.close()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_explorer_of_chapter_5_changes_its_picture_with_its_controls(browser, server, width):
    if "static_explorer(" not in (ROOT / "book" / "05_evaluation.ipynb").read_text():
        pytest.skip("chapter 5 shows the static explorer once it is re-executed with the published models")
    with _open(browser, server, "book/05_evaluation", width) as (tab, problems):
        explorer = tab.locator(".static-explorer")
        assert explorer.count() == 1, "chapter 5 has no explorer on its static page"
        picture, sources = _switch_and_watch(explorer)
        assert len(set(sources)) == 3, "the picture did not follow the controls"
        assert tab.evaluate("(img) => img.complete && img.naturalWidth > 0", picture.element_handle())
        assert picture.get_attribute("alt") and problems == []


def test_every_figure_has_alt_text(site):
    for page in EDITION_PAGES:
        html = (site / f"{page}.html").read_text()
        for tag in re.findall(r"<img[^>]*>", html):
            if "_images/" in tag or "data:image" in tag:
                assert re.search(r'alt="[^"]+"', tag), f"{page}: an image without alt text: {tag[:120]}"
