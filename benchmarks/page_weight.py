"""The weight of the built site: what a reader's browser downloads to show each page on a first
visit (HTML, images, styles, scripts, fonts, MathJax; nothing cached), in Chromium, and the site's
size on disk. Run after `make book`:

    python benchmarks/page_weight.py [SITE]     # SITE: the built site, default _build/html

Needs Debian's Chromium and Playwright's Python package (as the browser tests do).
"""
from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import sys
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *(entry["file"] for entry in toc["chapters"])]


def first_visit_bytes(site: Path, names: list[str]) -> dict[str, int]:
    from playwright.sync_api import sync_playwright

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=site))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    weights = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                             args=["--no-sandbox"])
        for name in names:
            tab = browser.new_page(viewport={"width": 1400, "height": 900})  # a fresh tab: nothing cached
            sizes = []
            tab.on("response", lambda response: sizes.append(len(response.body()) if response.ok else 0))
            tab.goto(f"{url}/{name}.html", wait_until="networkidle")
            tab.evaluate("""() => Promise.all([...document.images].map(img => { img.loading = 'eager';
                return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; }); }))""")
            tab.wait_for_load_state("networkidle")
            weights[name] = sum(sizes)
            tab.close()
        browser.close()
    httpd.shutdown()
    return weights


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else ROOT / "_build" / "html"
    if not (site / "index.html").is_file():
        print(f"page_weight: no built site in {site}; run `make book` first", file=sys.stderr)
        return 1
    mib = 2 ** 20
    for edition, folder in (("English", ""), ("Chinese", "zh_CN/")):
        weights = first_visit_bytes(site, [folder + name for name in pages()])
        for name, size in weights.items():
            print(f"{name}: {size / mib:.2f} MiB")
        figures = [f for f in (site / folder / "_images").glob("*") if f.is_file()]
        images = sum(f.stat().st_size for f in figures)
        # what a server that compresses text (GitHub Pages does, SVG included; PNG it sends as it is) sends
        sent = sum(len(gzip.compress(f.read_bytes())) if f.suffix == ".svg" else f.stat().st_size for f in figures)
        print(f"{edition} edition: {len(weights)} pages, {sum(weights.values()) / mib:.1f} MiB on first "
              f"visits in all, largest {max(weights.values()) / mib:.2f} MiB; its figures on disk "
              f"{images / mib:.1f} MiB, {sent / mib:.1f} MiB sent gzip-compressed")
    on_disk = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    live = sum(f.stat().st_size for f in (site / "_static" / "live").rglob("*") if f.is_file())
    print(f"the whole site on disk: {on_disk / mib:.1f} MiB, {(on_disk - live) / mib:.1f} MiB without the "
          f"live demo's files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
