"""`--ascii` on the screens (see tui/ascii.py): a line filter, Textual's own means of changing
what every widget draws, so that no screen has to know about it; and scroll bars drawn without
the eighth blocks."""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter
from textual.scrollbar import ScrollBarRender

from tui.ascii import ascii_table


class AsciiFilter(LineFilter):
    """Every segment's text through tui.ascii's stand-ins."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        table = ascii_table()
        out = []
        for segment in segments:
            text = segment.text
            if segment.control or text.isascii():
                out.append(segment)
            else:
                out.append(Segment(text.translate(table), segment.style, segment.control))
        return out


class AsciiScrollBarRender(ScrollBarRender):
    """Scroll bars without the eighth blocks at the thumb's ends: the thumb is reversed blanks,
    seen without colour too."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8
