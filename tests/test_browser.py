"""The built site in a real browser (Debian's Chromium, driven by Playwright), as a reader meets it:
at desktop and phone width, every page of both editions (English, and Chinese in zh_CN/) loads
without a console error, shows every image, renders its math without the network, does not scroll
sideways, links to the configured repository and to the same page in the other edition, and has
no serious or critical accessibility finding of axe-core (the engine of the browsers' own audits).

CI installs Chromium (`.ci/run`); elsewhere these tests are skipped when it is missing.
"""
import base64
import contextlib
import functools
import html
import itertools
import http.server
import os
import re
import shutil
import sys
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


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a browser that drops a download when it leaves the page is no fault of the site
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on 127.0.0.1, as a reader's browser would fetch it."""
    httpd = _QuietServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=site))
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
    the book's repository and Colab point at the configured repository, at phone width the link to
    the other edition is visible and opens the same page there."""
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
        else:  # last: it leaves the page
            _the_edition_link_leads_to_the_same_page(tab, server, page)


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


def _the_edition_link_leads_to_the_same_page(tab, server, page):
    """The visible link to the other edition opens the same page there, in that language."""
    language = "zh-CN" if page.startswith(EDITIONS["zh-CN"]) else "en"
    other = next(code for code in EDITIONS if code != language)
    page = page.removeprefix(EDITIONS[language])
    assert tab.evaluate("() => document.documentElement.lang") == language
    link = tab.locator(f'nav.book-editions a[hreflang="{other}"]')
    assert link.count() == 1, f"{language} {page}: no link to the {other} edition"
    assert link.is_visible(), f"{language} {page}: the link to the {other} edition is hidden"
    link.click()
    tab.wait_for_load_state("domcontentloaded")
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


NAMES = {"CVAE", "VAE", "GSNN", "ELBO", "CLL", "MNIST", "nats"}  # kept as they are in both editions (the glossary)


def _figure_words(svg: str) -> list[str]:
    return [html.unescape(words) for words in re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)]


def test_the_chinese_edition_shows_figures_and_code_comments_in_chinese(site):
    """Every figure of a Chinese page is its Chinese copy, whose words (titles, labels, legends; the
    training video's frames and the explorer's pictures too) hold no English word but names; every
    comment in the code it shows is Chinese."""
    chinese = re.compile(r"[\u4e00-\u9fff]")
    figures = 0
    for page in [page for page in EDITION_PAGES if page.startswith(EDITIONS["zh-CN"])]:
        markup = (site / f"{page}.html").read_text(encoding="utf-8")
        svgs = []
        for source in re.findall(r'<img[^>]*\ssrc="([^"]+\.svg)"', markup):
            assert source.endswith(".zh_CN.svg"), f"{page} shows an English figure: {source}"
            svgs.append((site / page).parent.joinpath(source).read_text(encoding="utf-8"))
        for data in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=\\\n]+)", markup):
            svgs.append(base64.b64decode(re.sub(r"[\\\n]", "", data)).decode("utf-8"))
        for svg in svgs:
            figures += 1
            english = [words for words in _figure_words(svg)
                       if set(re.findall(r"[A-Za-z]{3,}", words)) - NAMES]
            assert english == [], f"{page}: a figure with English words {english[:5]}"
        for comment in re.findall(r'<span class="c1?">#+\s*([^<]*)</span>', markup):
            comment = html.unescape(comment)
            assert not re.search(r"[A-Za-z]{3,}", comment) or chinese.search(comment), \
                f"{page}: a code comment in English: {comment!r}"
    assert figures >= 25  # the chapters' figures, the video's frames, the explorer's pictures


# each word of a figure (an SVG document open in the tab) as Chromium lays it out: its box in the figure's
# coordinates, and the box of the legend frame it sits in, if any
_WORDS_AS_DRAWN = r"""() => {
    const root = document.documentElement, box = root.viewBox.baseVal;
    const inRoot = (element) => {
        const b = element.getBBox(), m = root.getScreenCTM().inverse().multiply(element.getScreenCTM());
        const corners = [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height], [b.x + b.width, b.y + b.height]]
            .map(([x, y]) => new DOMPoint(x, y).matrixTransform(m));
        return [Math.min(...corners.map(p => p.x)), Math.min(...corners.map(p => p.y)),
                Math.max(...corners.map(p => p.x)), Math.max(...corners.map(p => p.y))];
    };
    const words = [...root.querySelectorAll("text")].filter(t => t.textContent.trim()).map(t => {
        // a legend's frame is its first child (none when frameon=False)
        const first = t.closest("g[id^=legend_]")?.firstElementChild;
        const frame = first && first.id.startsWith("patch_") ? first.querySelector("path") : null;
        return {text: t.textContent.trim(), box: inRoot(t), frame: frame ? inRoot(frame) : null};
    });
    return {canvas: [box.x, box.y, box.x + box.width, box.y + box.height], words};
}"""


def _overlap(a, b, slack=0.5):
    return a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]


def test_the_words_of_every_chinese_figure_fit_inside_it(browser, server, site):
    """Measured in Chromium, as a reader sees it: each word of each Chinese figure (longer than the
    English it replaces) lies inside the figure and inside its legend's frame, and overlaps no other
    word that its English did not (book/_ext/figure_room.py makes the room)."""
    tab = browser.new_page()
    problems, checked = [], 0
    for chinese in sorted((site / EDITIONS["zh-CN"] / "_images").glob("*.zh_CN.svg")):
        english = site / "_images" / chinese.name.replace(".zh_CN.svg", ".svg")
        drawn = {}
        for edition, path in (("zh", chinese), ("en", english)):
            tab.goto(f"{server}/{path.relative_to(site).as_posix()}")
            drawn[edition] = tab.evaluate(_WORDS_AS_DRAWN)
        left, top, right, bottom = drawn["zh"]["canvas"]
        words = drawn["zh"]["words"]
        for word in words:
            x0, y0, x1, y1 = word["box"]
            if x0 < left - 0.5 or y0 < top - 0.5 or x1 > right + 0.5 or y1 > bottom + 0.5:
                problems.append(f"{chinese.name[:12]}: {word['text']!r} runs off the figure")
            frame = word["frame"]
            if frame and (x0 < frame[0] or x1 > frame[2]):
                problems.append(f"{chinese.name[:12]}: {word['text']!r} runs out of its legend")
        if len(drawn["en"]["words"]) == len(words):
            for i, j in itertools.combinations(range(len(words)), 2):
                if _overlap(words[i]["box"], words[j]["box"]) and \
                        not _overlap(drawn["en"]["words"][i]["box"], drawn["en"]["words"][j]["box"]):
                    problems.append(f"{chinese.name[:12]}: {words[i]['text']!r} overlaps {words[j]['text']!r}")
        checked += 1
    tab.close()
    assert checked >= 20 and problems == [], problems[:10]


# -- chapter 5's live demo: the exported fast-run graphs (conftest `web_models`) run in the page ----------------

def _page_noise(seed: int, count: int) -> list[float]:
    """The page's standard-normal noise (live-demo.js: mulberry32, then Box-Muller), computed here."""
    import math

    state, out = seed & 0xFFFFFFFF, []

    def uniform():
        nonlocal state
        state = (state + 0x6D2B79F5) & 0xFFFFFFFF
        t = state
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    while len(out) < count:
        u, v = 1 - uniform(), uniform()
        r = math.sqrt(-2 * math.log(u))
        out += [r * math.cos(2 * math.pi * v), r * math.sin(2 * math.pi * v)]
    return out[:count]


@contextlib.contextmanager
def _live_demo(browser, server, width, **context_options):
    """Chapter 5 with its live demo started; yields (tab, problems, URLs fetched before the start)."""
    context = browser.new_context(viewport={"width": width, "height": 900}, **context_options)
    tab = context.new_page()
    problems, fetched = [], []
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("request", lambda r: fetched.append(r.url))
    try:
        tab.goto(f"{server}/book/05_evaluation.html", wait_until="networkidle")
        before_start = list(fetched)
        tab.locator(".live-demo-start").click()
        tab.wait_for_function("() => window.cvaeLiveDemo.runs > 0 && !window.cvaeLiveDemo.pending()", timeout=60000)
        yield tab, problems, before_start
    finally:
        context.close()


def _settled(tab, condition: str):
    tab.wait_for_function(f"() => !window.cvaeLiveDemo.pending() && ({condition})", timeout=30000)
    return tab.evaluate("() => window.cvaeLiveDemo.last")


def test_the_live_demo_completes_a_drawn_digit_as_pytorch_does(browser, server, fast_cli_run):
    """Drawn with the mouse at phone width, a fixed seed and temperature: the page's input is the
    drawing on the given quadrant with -1 elsewhere, its noise the seeded draws times the temperature,
    and its completions and the baseline's guess are PyTorch's within the export's tolerance."""
    import torch

    from cvae_lib.data import input_mask
    from cvae_lib.settings import RunConfig
    from cvae_lib.web_export import TOLERANCE, LiveCompletion, load_setting

    with _live_demo(browser, server, WIDTHS["phone"]) as (tab, problems, before_start):
        assert not [url for url in before_start if "/_static/live/" in url], "the demo loaded before its start"
        tab.get_by_label("1 (bottom left)").check()
        _settled(tab, "window.cvaeLiveDemo.last.quadrants === 1")  # its model loaded
        pad = tab.locator(".live-demo-pad").bounding_box()
        cell = pad["width"] / 28
        stroke = [(3, 16), (6, 19), (9, 23), (12, 25)]  # in pixels, inside the bottom-left quadrant
        tab.mouse.move(pad["x"] + stroke[0][0] * cell, pad["y"] + stroke[0][1] * cell)
        tab.mouse.down()
        for x, y in stroke[1:]:
            tab.mouse.move(pad["x"] + x * cell, pad["y"] + y * cell, steps=5)
        tab.mouse.up()
        tab.locator(".live-demo-seed").fill("7")
        tab.locator(".live-demo-seed").press("Enter")
        tab.locator(".live-demo-temperature").focus()
        for _ in range(5):  # the keyboard moves the slider: 1.0 -> 0.5
            tab.keyboard.press("ArrowLeft")
        tab.locator(".live-demo-direction").select_option(index=1)
        last = _settled(tab, "window.cvaeLiveDemo.last.settings.seed === 7 && "
                             "window.cvaeLiveDemo.last.settings.temperature === 0.5")
        first_cell = tab.evaluate("""() => Array.from(document.querySelector('.live-demo-grid canvas')
            .getContext('2d').getImageData(0, 0, 28, 28).data)""")
        overflow = tab.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert problems == [] and overflow <= 1, (problems, overflow)

    assert last["quadrants"] == 1 and last["settings"]["count"] == 16
    x = torch.tensor(last["inputs"]).reshape(1, 784)
    given = input_mask(1).reshape(-1)
    assert torch.all(x[0, ~given] == -1) and torch.all((x[0, given] >= 0) & (x[0, given] <= 1))
    assert int((x[0, given] > 0.5).sum()) >= 12, "the stroke did not reach the model's input"
    for px, py in stroke:  # the ink lies where the mouse went
        assert x[0, py * 28 + px] > 0.5, (px, py)

    base, _ = fast_cli_run
    config = RunConfig.from_environment("fast", quadrants=(1,), checkpoint_dir=base / "ckpt", download=False)
    baseline, cvae, _ = load_setting(1, config)
    z_dim, rows = cvae.z_dim, 16 + 9
    noise = torch.tensor(last["noise"]).reshape(rows, z_dim)
    expected_noise = 0.5 * torch.tensor(_page_noise(7, 16 * z_dim)).reshape(16, z_dim)
    assert (noise[:16] - expected_noise).abs().max() <= 1e-6  # float32 of the same float64 draws
    direction = last["settings"]["direction"]
    walk = noise[16:]
    assert torch.equal(walk[:, direction], torch.linspace(-3, 3, 9))
    others = [d for d in range(z_dim) if d != direction]
    assert torch.equal(walk[:, others], noise[:1, others].expand(9, -1))

    with torch.no_grad():
        guess, samples = LiveCompletion(baseline, cvae).eval()(x, noise)
    assert (torch.tensor(last["guess"]).reshape(1, 784) - guess).abs().max() <= TOLERANCE
    assert (torch.tensor(last["samples"]).reshape(rows, 784) - samples).abs().max() <= TOLERANCE
    # the first picture of the grid shows that completion: grey level 255 (1 - p) on the hidden pixels
    red = torch.tensor(first_cell[0::4], dtype=torch.float32)
    shown = 255 * (1 - torch.tensor(last["samples"][:784]))
    assert (red[~given] - shown[~given]).abs().max() <= 1.0


def test_the_live_demo_is_used_with_keys_and_touch_and_has_no_accessibility_finding(browser, server):
    with _live_demo(browser, server, WIDTHS["phone"], has_touch=True) as (tab, problems, _):
        tab.get_by_label("3 (all but bottom right)").check()
        tab.locator(".live-demo-clear").click()
        pad = tab.locator(".live-demo-pad")
        pad.focus()  # the pen starts at column 7, row 21; Shift + arrow draws while it moves
        tab.keyboard.press("Space")
        for _ in range(3):
            tab.keyboard.press("Shift+ArrowUp")
        last = _settled(tab, "true")
        inputs = last["inputs"]
        assert all(inputs[row * 28 + 7] > 0.5 for row in (18, 19, 20, 21)), "the keys drew nothing"
        box = pad.bounding_box()
        tab.touchscreen.tap(box["x"] + 20.5 / 28 * box["width"], box["y"] + 5.5 / 28 * box["height"])
        last = _settled(tab, "window.cvaeLiveDemo.last.inputs[5 * 28 + 20] > 0.5")
        assert last["quadrants"] == 3
        tab.add_script_tag(path=str(AXE))
        findings = tab.evaluate("""async () => (await axe.run('.live-demo', {resultTypes: ['violations']}))
            .violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)""")
        assert findings == [] and problems == [], (findings, problems)


def test_without_webassembly_the_live_demo_says_so_and_the_explorer_stays(browser, server):
    tab = browser.new_page(viewport={"width": WIDTHS["desktop"], "height": 900})
    try:
        tab.add_init_script("delete window.WebAssembly")
        tab.goto(f"{server}/book/05_evaluation.html", wait_until="networkidle")
        tab.locator(".live-demo-start").click()
        assert "does not run WebAssembly" in tab.locator(".live-demo-status").text_content()
        assert tab.locator(".live-demo-body").is_hidden() and tab.locator(".static-explorer").count() == 1
    finally:
        tab.close()
