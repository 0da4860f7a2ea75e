"""Chapter 5's live demo in Chromium: what it costs the reader.

    python benchmarks/live_demo.py [--site _build/html] [--repeats 30]

Serves the built site on 127.0.0.1, opens chapter 5 in Debian's Chromium (Playwright) and prints
* what the page fetches before the reader presses Start (the demo's share of the first load) and
  the chapter's first contentful paint;
* the payload after Start for each quadrant setting: runtime, manifest and that setting's graph;
* the seconds from Start to the first completions (download from localhost, compile, first run);
* milliseconds per update for 16 and 64 completions (each update also runs the walk's 9 rows), as
  the page measures them around `session.run`: median and slowest of --repeats updates.

The site must hold the graphs: `make book` after the models are trained (or from the published
archive), which runs `python -m cvae_lib export-web`. Run it on an idle machine.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _bytes(site: Path, urls) -> int:
    return sum((site / urlparse(url).path.lstrip("/")).stat().st_size for url in urls
               if (site / urlparse(url).path.lstrip("/")).is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    site = Path(args.site)
    if not (site / "_static" / "live" / "manifest.json").is_file():
        print(f"{site} has no live demo graphs: run `make book` with the trained models on disk", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=site))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/book/05_evaluation.html"
    print(f"machine: {os.cpu_count()} CPU cores; Chromium (Debian) driven by Playwright; site {site}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        fetched = []
        tab.on("request", lambda request: fetched.append(request.url))
        tab.goto(url, wait_until="networkidle")
        first_paint = tab.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0].startTime")
        demo_share = [u for u in fetched if "/_static/live" in u or "live-demo" in u]
        print(f"before Start: the page fetched {len(fetched)} files, {_bytes(site, fetched) / 2**20:.2f} MiB; "
              f"of them the demo's: {', '.join(Path(urlparse(u).path).name for u in demo_share) or 'none'} "
              f"({_bytes(site, demo_share) / 1024:.1f} KiB); first contentful paint {first_paint:.0f} ms")
        settings = [radio.get_attribute("value") for radio in tab.locator("input[name=live-demo-quadrants]").all()]
        fetched.clear()
        started = time.perf_counter()
        tab.locator(".live-demo-start").click()
        tab.wait_for_function("() => window.cvaeLiveDemo.runs > 0 && !window.cvaeLiveDemo.pending()", timeout=120000)
        ready = time.perf_counter() - started
        first = tab.evaluate("() => window.cvaeLiveDemo.last.quadrants")
        print(f"Start to the first completions ({first} quadrant(s)): {ready:.2f} s")
        for q in settings:
            tab.locator(f"input[name=live-demo-quadrants][value='{q}']").check()
            tab.wait_for_function(f"() => !window.cvaeLiveDemo.pending() && window.cvaeLiveDemo.last.quadrants === {q}",
                                  timeout=120000)
            graph = [u for u in fetched if u.endswith(f"q{q}.onnx")]
            runtime = [u for u in fetched if "/ort/" in u or u.endswith("manifest.json")]
            print(f"{q} quadrant(s): payload {(_bytes(site, runtime) + _bytes(site, graph)) / 2**20:.1f} MiB "
                  f"(runtime and manifest {_bytes(site, runtime) / 2**20:.1f} MiB, graph "
                  f"{_bytes(site, graph) / 2**20:.1f} MiB)")
            for count in (16, 64):
                tab.locator(".live-demo-count").select_option(str(count))
                times = []
                for seed in range(args.repeats):
                    tab.locator(".live-demo-seed").fill(str(1000 + seed))
                    tab.locator(".live-demo-seed").dispatch_event("change")
                    tab.wait_for_function(f"() => !window.cvaeLiveDemo.pending() && "
                                          f"window.cvaeLiveDemo.last.settings.seed === {1000 + seed}", timeout=60000)
                    times.append(tab.evaluate("() => window.cvaeLiveDemo.last.milliseconds"))
                print(f"  {count} completions (+ the walk's 9): median {statistics.median(times):.1f} ms, "
                      f"slowest {max(times):.1f} ms over {len(times)} updates")
            tab.locator(".live-demo-count").select_option("16")
        browser.close()
    httpd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
