"""Sphinx extension: the trained CVAE live in the reader's browser (chapter 5, both editions).

A chapter marks the place with an empty ``<div class="live-demo"></div>`` in a Markdown cell (in
Jupyter or Colab it shows nothing). On the site it becomes the demo's controls, labelled in the
edition's language, and ``book/_static/live-demo.js``, which does the rest in the page:

* the graphs are the ones ``python -m cvae_lib export-web`` wrote (``$CVAE_WEB_MODELS``, else
  ``checkpoints/full/web``: exported from the trained models by ``make book``, or taken from the
  published archive); their checksums are checked against the manifest and they are copied, with
  onnxruntime-web's WebAssembly build from ``.site-deps`` (npm, ``make site-deps``), into
  ``_static/live/`` of the English site, which the Chinese one (in ``zh_CN/``) shares;
* nothing of it is fetched until the reader presses "Start": the chapter's first paint is
  unchanged;
* without graphs in the build the place holds one sentence saying so, and no script.
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
WEB_MODELS_ENV = "CVAE_WEB_MODELS"
DEFAULT_WEB_MODELS = ROOT / "checkpoints" / "full" / "web"
RUNTIME = ROOT / ".site-deps" / "node_modules" / "onnxruntime-web" / "dist"
# onnxruntime-web's plain WebAssembly build: its loader, and the module and binary it starts
RUNTIME_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
PLACE = '<div class="live-demo"></div>'
SITE_FOLDER = "_static/live"  # in the English site; the Chinese site lies in zh_CN/ below it
SAMPLE_COUNTS = (16, 32, 64)

TEXT = {
    "en": {
        "region": "Live demo: complete a digit of your own",
        "intro": "Press Start to run the trained baseline and CVAE of this chapter in your browser. Only then "
                 "does it download {runtime:.0f} MiB of WebAssembly runtime and {graph:.1f} MiB per quadrant "
                 "setting; nothing leaves your computer.",
        "start": "Start the live demo",
        "quadrants": "Given quadrants",
        "quadrant_option": {1: "1 (bottom left)", 2: "2 (left half)", 3: "3 (all but bottom right)"},
        "pad": "Drawing grid of 28 by 28 pixels",
        "keys": "Draw in the white part with a mouse, finger or pen; the blue part is hidden from the models "
                "(ink there is kept for when you show it again; Clear removes it). With the keyboard: the arrow "
                "keys move the pen, Space or Enter draws (erases in Erase mode), Delete or Backspace erases, "
                "Shift with an arrow draws while moving.",
        "draw": "Draw", "erase": "Erase", "clear": "Clear",
        "digit": "Start from a test digit", "digit_none": "—",
        "count": "Completions",
        "temperature": "Temperature (scales the prior's standard deviation)",
        "seed": "Seed of the noise",
        "resample": "New samples",
        "guess": "The baseline's one guess",
        "samples": "CVAE completions, each from its own z drawn from the conditional prior",
        "direction": "Latent direction",
        "direction_option": "{rank}: coordinate {dimension} of ε",
        "walk": "Completion 1 with one coordinate of its noise moved from −3 to +3 prior standard deviations",
        "no_graphs": "The live demo is not part of this build of the site: its models are exported from the "
                     "trained ones by <code>make book</code> after <code>make publish</code>. The explorer above "
                     "shows precomputed completions.",
        "msg_loading": "Loading the WebAssembly runtime and the models for {q} given quadrant(s)…",
        "msg_loading_model": "Loading the models for {q} given quadrant(s)…",
        "msg_ready": "Ready: draw, or change a setting, and the completions follow.",
        "msg_timing": "{n} completions and 9 steps along the latent direction in {ms} ms on this device "
                      "(WebAssembly).",
        "msg_failed": "The live demo could not start ({error}). The explorer above shows precomputed completions.",
        "msg_no_wasm": "This browser does not run WebAssembly, which the live demo needs. The explorer above "
                       "shows precomputed completions.",
        "msg_grid": "{n} completions of the drawn digit",
        "msg_walk": "Completion 1 as coordinate {dimension} of its noise goes from −3 to +3",
        "msg_guess": "The baseline's completion of the drawn digit",
    },
    "zh_CN": {
        "region": "在线演示：补全你自己画的数字",
        "intro": "按“开始”后，本章训练好的基线模型和 CVAE 将在你的浏览器中运行。只有那时才会下载 {runtime:.0f} MiB 的 "
                 "WebAssembly 运行库，以及每种象限设置 {graph:.1f} MiB 的模型；任何数据都不会离开你的电脑。",
        "start": "开始在线演示",
        "quadrants": "给定的象限",
        "quadrant_option": {1: "1 个（左下）", 2: "2 个（左半）", 3: "3 个（除右下外）"},
        "pad": "28×28 像素的绘图网格",
        "keys": "用鼠标、手指或触控笔在白色区域作画；蓝色区域对模型隐藏（那里的笔迹会保留，再次显示时仍在；“清空”会将其清除）。"
                "键盘操作：方向键移动画笔，空格键或回车键绘制（在擦除模式下为擦除），Delete 或 Backspace 键擦除，"
                "按住 Shift 再按方向键可边移动边绘制。",
        "draw": "绘制", "erase": "擦除", "clear": "清空",
        "digit": "从一个测试数字开始", "digit_none": "—",
        "count": "补全数量",
        "temperature": "温度（缩放先验的标准差）",
        "seed": "噪声的随机种子",
        "resample": "重新采样",
        "guess": "基线模型给出的唯一猜测",
        "samples": "CVAE 的补全，每个都来自从条件先验中抽取的一个 z",
        "direction": "隐空间方向",
        "direction_option": "{rank}：ε 的坐标 {dimension}",
        "walk": "第 1 个补全：将其噪声的一个坐标从先验标准差的 −3 倍移到 +3 倍",
        "no_graphs": "本次构建的网站不含在线演示：它的模型由 <code>make publish</code> 之后的 <code>make book</code> "
                     "从训练好的模型导出。上面的探索工具展示的是预先计算好的补全。",
        "msg_loading": "正在加载 WebAssembly 运行库和 {q} 个给定象限的模型……",
        "msg_loading_model": "正在加载 {q} 个给定象限的模型……",
        "msg_ready": "已就绪：作画或改变设置，补全会随之更新。",
        "msg_timing": "在本设备上（WebAssembly）生成 {n} 个补全以及沿隐空间方向的 9 步用时 {ms} 毫秒。",
        "msg_failed": "在线演示无法启动（{error}）。上面的探索工具展示的是预先计算好的补全。",
        "msg_no_wasm": "此浏览器不支持在线演示所需的 WebAssembly。上面的探索工具展示的是预先计算好的补全。",
        "msg_grid": "所画数字的 {n} 个补全",
        "msg_walk": "第 1 个补全：其噪声的坐标 {dimension} 从 −3 变到 +3",
        "msg_guess": "基线模型对所画数字的补全",
    },
}


def web_models() -> Path:
    return Path(os.environ.get(WEB_MODELS_ENV) or DEFAULT_WEB_MODELS)


def read_manifest(app) -> dict | None:
    """The export's manifest, its graphs checked against their checksums; ``None`` without one."""
    if hasattr(app, "_live_demo_manifest"):
        return app._live_demo_manifest
    folder, manifest = web_models(), None
    if (folder / "manifest.json").is_file():
        manifest = json.loads((folder / "manifest.json").read_text())
        for q, setting in manifest["settings"].items():
            graph = folder / setting["graph"]
            if not graph.is_file() or hashlib.sha256(graph.read_bytes()).hexdigest() != setting["sha256"]:
                raise ExtensionError(f"{graph} is missing or does not match {folder}/manifest.json; run "
                                     f"`python -m cvae_lib export-web` again")
        if not (RUNTIME / RUNTIME_FILES[0]).is_file():
            raise ExtensionError(f"onnxruntime-web for the live demo is missing ({RUNTIME.relative_to(ROOT)}); "
                                 f"run `make site-deps` first")
    app._live_demo_manifest = manifest
    return manifest


def _mib(paths) -> float:
    return sum(Path(path).stat().st_size for path in paths) / 2**20


def render(text: dict, manifest: dict | None, base: str, script: str) -> str:
    """The demo's markup in one language; ``base`` is where ``_static/live/`` lies from the page."""
    if not manifest or not manifest["settings"]:
        return f'<section class="live-demo" aria-label="{html.escape(text["region"])}"><p>{text["no_graphs"]}</p></section>'
    e = html.escape
    settings = sorted(int(q) for q in manifest["settings"])
    graph = max(setting["bytes"] for setting in manifest["settings"].values()) / 2**20
    messages = {key: value for key, value in text.items() if key.startswith("msg_")}
    data = " ".join(f'data-{key.replace("_", "-")}="{e(value)}"' for key, value in messages.items())
    directions = {q: manifest["settings"][str(q)]["directions"] for q in settings}
    first = 2 if 2 in settings else settings[-1]  # the left half: room to draw, and completions that differ
    quadrant_options = "".join(
        f'<label><input type="radio" name="live-demo-quadrants" value="{q}"{" checked" if q == first else ""}> '
        f'{e(text["quadrant_option"][q])}</label>' for q in settings)
    digits = "".join(f'<option value="{d["label"]}">{d["label"]}</option>' for d in manifest["test_digits"])
    counts = "".join(f'<option value="{n}">{n}</option>' for n in SAMPLE_COUNTS)
    return f"""<section class="live-demo" aria-label="{e(text['region'])}" data-base="{e(base)}" {data}
  data-directions='{e(json.dumps(directions))}' data-direction-label="{e(text['direction_option'])}">
<p class="live-demo-status" role="status" aria-live="polite">{e(text['intro'].format(runtime=_mib(RUNTIME / f for f in RUNTIME_FILES), graph=graph))}</p>
<button type="button" class="live-demo-start">{e(text['start'])}</button>
<div class="live-demo-body" hidden>
 <div class="live-demo-input">
  <fieldset class="live-demo-quadrants"><legend>{e(text['quadrants'])}</legend>{quadrant_options}</fieldset>
  <canvas class="live-demo-pad" width="224" height="224" tabindex="0" role="application"
    aria-label="{e(text['pad'])}" aria-describedby="live-demo-keys"></canvas>
  <p id="live-demo-keys" class="live-demo-help">{e(text['keys'])}</p>
  <div class="live-demo-tools">
   <button type="button" class="live-demo-draw" aria-pressed="true">{e(text['draw'])}</button>
   <button type="button" class="live-demo-erase" aria-pressed="false">{e(text['erase'])}</button>
   <button type="button" class="live-demo-clear">{e(text['clear'])}</button>
   <label>{e(text['digit'])} <select class="live-demo-digit"><option value="">{e(text['digit_none'])}</option>{digits}</select></label>
  </div>
 </div>
 <div class="live-demo-output">
  <div class="live-demo-controls">
   <label>{e(text['count'])} <select class="live-demo-count">{counts}</select></label>
   <label>{e(text['seed'])} <input class="live-demo-seed" type="number" min="0" max="999999" step="1" value="0"></label>
   <button type="button" class="live-demo-resample">{e(text['resample'])}</button>
   <label class="live-demo-wide">{e(text['temperature'])} <span class="live-demo-slider"><input class="live-demo-temperature" type="range" min="0" max="2" step="0.1" value="1">
    <output class="live-demo-temperature-value">1.0</output></span></label>
  </div>
  <p class="live-demo-timing"></p>
  <figure><div class="live-demo-guess" role="img" aria-label="{e(text['msg_guess'])}"></div><figcaption>{e(text['guess'])}</figcaption></figure>
  <figure><div class="live-demo-grid" role="img"></div><figcaption>{e(text['samples'])}</figcaption></figure>
  <label>{e(text['direction'])} <select class="live-demo-direction"></select></label>
  <figure><div class="live-demo-walk" role="img"></div><figcaption>{e(text['walk'])}</figcaption></figure>
 </div>
</div>
<script src="{e(script)}" defer></script>
</section>"""


def place_the_demo(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body", "")
    if PLACE not in body:
        return
    language = app.config.language if app.config.language in TEXT else "en"
    up = "../" * pagename.count("/") + ("../" if language != "en" else "")  # the English site's root
    script = context["pathto"]("_static/live-demo.js", 1)
    context["body"] = body.replace(PLACE, render(TEXT[language], read_manifest(app), up + SITE_FOLDER + "/", script))


def copy_models(app, exception) -> None:
    """The graphs, their manifest and the runtime into the English site's ``_static/live/``."""
    if exception is not None or app.builder.format != "html" or app.config.language not in (None, "en"):
        return
    manifest = read_manifest(app)
    target = Path(app.outdir) / SITE_FOLDER
    if target.exists():
        shutil.rmtree(target)
    if not manifest:
        return
    (target / "ort").mkdir(parents=True)
    for setting in manifest["settings"].values():
        shutil.copy2(web_models() / setting["graph"], target / setting["graph"])
    (target / "manifest.json").write_text(json.dumps(manifest))
    for name in RUNTIME_FILES:
        shutil.copy2(RUNTIME / name, target / "ort" / name)


def setup(app):
    app.connect("html-page-context", place_the_demo)
    app.connect("build-finished", copy_models)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
