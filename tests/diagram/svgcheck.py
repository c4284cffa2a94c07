"""Read the text boxes of a Graphviz SVG and find labels that overlap."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from itertools import combinations

SVG_NS = "{http://www.w3.org/2000/svg}"
# Helvetica's advance widths (AFM, 1/1000 em); Arial and Liberation Sans, which render
# the SVG where Helvetica is missing, share them. Unknown characters count a full em.
_WIDTHS = dict(
    zip(
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
        (
            278,
            278,
            355,
            556,
            556,
            889,
            667,
            191,
            333,
            333,
            389,
            584,
            278,
            333,
            278,
            278,
            556,
            556,
            556,
            556,
            556,
            556,
            556,
            556,
            556,
            556,
            278,
            278,
            584,
            584,
            584,
            556,
            1015,
            667,
            667,
            722,
            722,
            667,
            611,
            778,
            722,
            278,
            500,
            667,
            556,
            833,
            722,
            778,
            667,
            778,
            722,
            667,
            611,
            722,
            667,
            944,
            667,
            667,
            611,
            278,
            278,
            278,
            469,
            556,
            333,
            556,
            556,
            500,
            556,
            556,
            278,
            556,
            556,
            222,
            222,
            500,
            222,
            833,
            556,
            556,
            556,
            556,
            333,
            500,
            278,
            556,
            500,
            722,
            500,
            500,
            500,
            334,
            260,
            334,
            584,
        ),
        strict=True,
    )
)
_WIDTHS.update({"×": 584, "·": 278})
ASCENT_EM = 0.77  # top of the tallest glyphs above the baseline
DESCENT_EM = 0.23  # bottom of descenders below it
PADDING = 1.0  # px on each side, for anti-aliasing


def text_width(text: str, size: float) -> float:
    return sum(_WIDTHS.get(char, 1000) for char in text) * size / 1000


@dataclass(frozen=True)
class TextBox:
    text: str
    left: float
    top: float
    right: float
    bottom: float

    def intersects(self, other: TextBox) -> bool:
        return (
            self.left < other.right
            and other.left < self.right
            and self.top < other.bottom
            and other.top < self.bottom
        )


def text_boxes(svg: str) -> list[TextBox]:
    root = ET.fromstring(svg)
    boxes = []
    for element in root.iter(f"{SVG_NS}text"):
        text = "".join(element.itertext())
        if not text.strip():
            continue
        size = float(element.get("font-size", "14"))
        x, y = float(element.get("x", "0")), float(element.get("y", "0"))
        width = text_width(text, size) + 2 * PADDING
        anchor = element.get("text-anchor", "start")
        left = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
        boxes.append(TextBox(text, left, y - size * ASCENT_EM, left + width, y + size * DESCENT_EM))
    return boxes


def overlapping_labels(svg: str) -> list[tuple[str, str]]:
    return [(a.text, b.text) for a, b in combinations(text_boxes(svg), 2) if a.intersects(b)]
