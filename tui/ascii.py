"""`--ascii`: a screen drawn with ASCII around the text, for terminals without box characters.

Letters are kept (Vietnamese included) and so are digits; everything else outside ASCII that a
screen draws (borders, the unit tree's guides and arrows, scroll bars, bars and large digits,
separators such as · and —, the ellipsis of a cut name) becomes an ASCII stand-in of the same
width. It is done by a line filter, Textual's own means of changing what every widget draws, so
that no screen has to know about it; scroll bars get a renderer without the eighth blocks.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter
from textual.scrollbar import ScrollBarRender

# Characters whose name does not say enough, and the marks ketnap draws.
_FIXED = {
    "█": "#", "▀": '"', "▄": "_", "▌": "|", "▐": "|",
    "░": ".", "▒": ":", "▓": "#",
    "·": "|", "•": "*", "●": "*", "○": "o", "◦": "o", "■": "#", "□": "o",
    "—": "-", "–": "-", "‒": "-", "―": "-", "−": "-", "…": ".",
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": ",",
    "↵": "<", "⏎": "<", "×": "x", "÷": "/", "≤": "<", "≥": ">", "≠": "#", "±": "+", "°": "o",
    "✓": "v", "✔": "v", "✗": "x", "✘": "x", "⚠": "!",
}


def _stand_in(ch: str) -> str:
    """The ASCII drawn instead of `ch`, as wide as it (`ch` itself when it is kept)."""
    if ch.isascii():
        return ch
    category = unicodedata.category(ch)
    if category[0] in "LM" or category == "Nd":
        return ch  # a letter (Vietnamese), its combining tone mark, a digit
    if category == "Zs":
        return " " * max(1, cell_len(ch))
    if ch in _FIXED:
        return _FIXED[ch]
    name = unicodedata.name(ch, "")
    if name.startswith("BOX DRAWINGS"):
        if "DIAGONAL UPPER RIGHT TO LOWER LEFT" in name:
            return "/"
        if "DIAGONAL UPPER LEFT TO LOWER RIGHT" in name:
            return "\\"
        if "DIAGONAL CROSS" in name:
            return "X"
        words = set(name.split())
        horizontal = bool(words & {"HORIZONTAL", "LEFT", "RIGHT"})
        vertical = bool(words & {"VERTICAL", "UP", "DOWN"})
        if horizontal and not vertical:
            return "-"
        if vertical and not horizontal:
            return "|"
        return "+"
    if name.endswith("BLOCK") or name.startswith("QUADRANT"):
        return "#"
    words = name.replace("-", " ").split()
    if {"ARROW", "ARROWS", "TRIANGLE", "POINTER"} & set(words):
        for direction, arrow in (("LEFTWARDS", "<"), ("RIGHTWARDS", ">"), ("UPWARDS", "^"),
                                 ("DOWNWARDS", "v"), ("LEFT", "<"), ("RIGHT", ">"), ("UP", "^"),
                                 ("DOWN", "v")):
            if direction in words:
                return arrow
    if "TRIANGLE" in name or "ARROW" in name:
        return ">"
    if "CIRCLE" in name or "BULLET" in name:
        return "o" if "WHITE" in name else "*"
    if "SQUARE" in name or "RECTANGLE" in name or "DIAMOND" in name:
        return "o" if "WHITE" in name else "#"
    if "DASH" in name or "HYPHEN" in name or "LINE" in name or "BAR" in name:
        return "-"
    if "QUOTATION" in name:
        return '"'
    decomposed = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    width = max(1, cell_len(ch))
    if len(decomposed) == width:
        return decomposed
    return "?" * width


class _Table(dict):
    """str.translate's table, filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        value = self[code] = _stand_in(chr(code))
        return value


_TABLE = _Table()


def to_ascii(text: str) -> str:
    """`text` with every non-ASCII character that is not a letter or digit drawn in ASCII."""
    return text if text.isascii() else text.translate(_TABLE)


class AsciiFilter(LineFilter):
    """The line filter of `--ascii` (see the module's docstring)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        out = []
        for segment in segments:
            text = segment.text
            if segment.control or text.isascii():
                out.append(segment)
            else:
                out.append(Segment(text.translate(_TABLE), segment.style, segment.control))
        return out


class AsciiScrollBarRender(ScrollBarRender):
    """Scroll bars without the eighth blocks at the thumb's ends: the thumb is reversed blanks,
    seen without colour too."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8
