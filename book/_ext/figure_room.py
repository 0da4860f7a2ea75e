"""A translated figure keeps its words inside it.

A translated edition shows each figure with its words swapped (``translated_numbers``), in the
English figure's layout: a Chinese label is often wider than the English one ("x（给定 1 个象限）"
against "x (1q)"), and would run off the figure's edge or out of its legend's frame. Here, with the
width of every word estimated from its font (DejaVu Sans, matplotlib's, for Latin letters and digits;
one em for a full-width character, as CJK fonts draw them),

* the figure's canvas grows (its ``viewBox``, its size and its background) until every word lies
  inside it;
* a legend's frame grows to the right until its widest word fits, with matplotlib's padding;
* two words that overlap in the translation but not in the English are reported, for the
  translator to choose shorter words (the build runs with warnings as errors).
"""
from __future__ import annotations

import functools
import html
import re
import unicodedata

TEXT = re.compile(r"<text\b(?P<attributes>[^>]*)>(?P<text>[^<]*)</text>")
NUMBER = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"
VIEW_BOX = re.compile(rf'viewBox="(?P<box>{NUMBER} {NUMBER} {NUMBER} {NUMBER})"')
GROUP = re.compile(r"<g\b|</g>")
LEGEND = re.compile(r'<g id="legend_\d+">')
# a legend's frame: matplotlib draws it first in the legend's group (none when frameon=False)
FRAME = re.compile(r'\s*<g id="patch_\d+">\s*<path d="(?P<d>[^"]*)"')
POINT = re.compile(rf"(?P<x>{NUMBER}) (?P<y>{NUMBER})")
EDGE = 2.0  # room left between a word and the canvas's new edge (points)


@functools.lru_cache(maxsize=None)
def _latin_width(text: str, size: float) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width, _, _ = TextToPath().get_text_width_height_descent(
        text, FontProperties(family="DejaVu Sans", size=size), ismath=False)
    return width


def text_width(text: str, size: float) -> float:
    """The width of ``text`` at font size ``size`` (points)."""
    wide = sum(unicodedata.east_asian_width(character) in "WF" for character in text)
    narrow = "".join(character for character in text if unicodedata.east_asian_width(character) not in "WF")
    return wide * size + (_latin_width(narrow, size) if narrow else 0.0)


def _style(attributes: str, name: str, default: str) -> str:
    match = re.search(rf"{name}:\s*(?P<value>[^;\"]+)", attributes)
    return match["value"].strip() if match else default


def words(svg: str) -> list[dict]:
    """Each word of a figure (a ``<text>`` without ``<tspan>``): where it starts and ends in the
    file, its text and its box (left, top, right, bottom) in the figure's coordinates."""
    found = []
    for match in TEXT.finditer(svg):
        attributes, text = match["attributes"], match["text"].strip()
        if not text:
            continue
        size = float(re.match(NUMBER, _style(attributes, "font-size", "10")).group())
        anchor = _style(attributes, "text-anchor", "start")
        x, y = re.search(rf'\bx="({NUMBER})"', attributes), re.search(rf'\by="({NUMBER})"', attributes)
        if x and y:
            x, y = float(x.group(1)), float(y.group(1))
        else:
            translate = re.search(rf"translate\(({NUMBER}) ({NUMBER})\)", attributes)
            if not translate:
                continue
            x, y = float(translate.group(1)), float(translate.group(2))
        rotation = re.search(rf"rotate\(({NUMBER})", attributes)
        upright = rotation is None or abs(float(rotation.group(1))) < 45
        width = text_width(html.unescape(text), size)
        start = {"start": 0.0, "middle": -width / 2, "end": -width}.get(anchor, 0.0)
        if upright:
            box = (x + start, y - 0.8 * size, x + start + width, y + 0.25 * size)
        else:  # turned a quarter: the text runs upwards from (x, y)
            box = (x - 0.8 * size, y - start - width, x + 0.25 * size, y - start)
        found.append({"start": match.start(), "end": match.end(), "text": text, "box": box})
    return found


def _overlap(first, second) -> bool:
    return first[0] < second[2] and second[0] < first[2] and first[1] < second[3] and second[1] < first[3]


def _group_end(svg: str, start: int) -> int:
    depth = 0
    for match in GROUP.finditer(svg, start):
        depth += 1 if match.group() == "<g" else -1
        if depth == 0:
            return match.end()
    return len(svg)


def _widen_legends(svg: str) -> str:
    """Each legend's frame as wide as its widest word needs: the points right of the frame's middle
    moved right."""
    for legend in reversed(list(LEGEND.finditer(svg))):
        end = _group_end(svg, legend.start())
        frame = FRAME.match(svg, legend.end(), end)
        if frame is None:
            continue
        xs = [float(point["x"]) for point in POINT.finditer(frame["d"])]
        left, right = min(xs), max(xs)
        inside = [word["box"] for word in words(svg[frame.end():end])]
        if not inside:
            continue
        # matplotlib leaves as much room right of the words as left of them
        needed = max(box[2] for box in inside) + (min(box[0] for box in inside) - left)
        if needed <= right + 0.5:
            continue
        shift, middle = needed - right, (left + right) / 2

        def move(point):
            x = float(point["x"])
            return f"{x + shift if x > middle else x:f} {point['y']}"

        d = POINT.sub(move, frame["d"])
        svg = svg[:frame.start("d")] + d + svg[frame.end("d"):]
    return svg


def _grow_canvas(svg: str) -> str:
    """The figure's canvas grown until every word (and every legend) lies inside it."""
    view = VIEW_BOX.search(svg)
    if view is None:
        return svg
    left, top, width, height = (float(number) for number in view["box"].split())
    boxes = [word["box"] for word in words(svg)]
    for legend in LEGEND.finditer(svg):
        frame = FRAME.match(svg, legend.end())
        if frame:
            xs = [float(point["x"]) for point in POINT.finditer(frame["d"])]
            boxes.append((min(xs), top + 1, max(xs), top + 1))
    new_left = min([left] + [box[0] - EDGE for box in boxes if box[0] < left])
    new_top = min([top] + [box[1] - EDGE for box in boxes if box[1] < top])
    new_right = max([left + width] + [box[2] + EDGE for box in boxes if box[2] > left + width])
    new_bottom = max([top + height] + [box[3] + EDGE for box in boxes if box[3] > top + height])
    if (new_left, new_top, new_right, new_bottom) == (left, top, left + width, top + height):
        return svg
    new_width, new_height = new_right - new_left, new_bottom - new_top
    box = f'viewBox="{new_left:f} {new_top:f} {new_width:f} {new_height:f}"'
    opening = svg.rfind("<svg", 0, view.start())  # its width and height: the same units as the viewBox
    sized = re.sub(rf'\bwidth="{NUMBER}(?P<unit>pt|px)?"', lambda m: f'width="{new_width:f}{m["unit"] or ""}"',
                   svg[opening:view.start()], count=1)
    sized = re.sub(rf'\bheight="{NUMBER}(?P<unit>pt|px)?"', lambda m: f'height="{new_height:f}{m["unit"] or ""}"',
                   sized, count=1)
    svg = svg[:opening] + sized + box + svg[view.end():]
    # the figure's background (matplotlib's first patch) under the new strips too
    background = re.search(r'<g id="patch_1">\s*<path d="[^"]*"(?P<style> style="[^"]*fill:[^"]*")', svg)
    if background:
        svg = svg.replace(background.group(), f'<g id="patch_1">\n   <path d="M {new_left:f} {new_top:f} '
                          f'L {new_right:f} {new_top:f} L {new_right:f} {new_bottom:f} L {new_left:f} {new_bottom:f} '
                          f'z"{background["style"]}', 1)
    return svg


def make_room(english: str, translated: str) -> tuple[str, list[str]]:
    """``translated`` (the figure ``english`` with its words translated) with room for its words, and
    the translated words that overlap another word where the English ones did not."""
    before, after = words(english), words(translated)
    crowded = []
    if len(before) == len(after):
        for i in range(len(after)):
            for j in range(i + 1, len(after)):
                if _overlap(after[i]["box"], after[j]["box"]) and not _overlap(before[i]["box"], before[j]["box"]):
                    crowded.append(f"{html.unescape(after[i]['text'])!r} and {html.unescape(after[j]['text'])!r}")
    return _grow_canvas(_widen_legends(translated)), crowded
