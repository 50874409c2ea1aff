"""`--ascii`: ASCII drawn around the text, for terminals without box characters.

Letters are kept (Vietnamese included) and so are digits; everything else outside ASCII that is
drawn (borders, the unit tree's guides and arrows, scroll bars, bars and large digits,
separators such as · and —, the ellipsis of a cut name) becomes an ASCII stand-in of the same
width. The screens get it through a line filter (tui/ascii_screen.py), the command line's tables
and trees through their console (tui/cli.py). No Textual here: the command line imports it.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len

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


def ascii_table() -> dict:
    """The table for str.translate (filled as characters are met)."""
    return _TABLE


def to_ascii(text: str) -> str:
    """`text` with every non-ASCII character that is not a letter or digit drawn in ASCII."""
    return text if text.isascii() else text.translate(_TABLE)


class AsciiOutput:
    """A text stream for Rich's console that writes `to_ascii` of what it is given. Its encoding
    says ASCII, so that Rich draws tables and trees with ASCII boxes and guides itself."""

    encoding = "ascii"

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(to_ascii(text))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()
