"""Which Textual theme to use on the terminal at hand.

Old PCs and consoles (PuTTY with TERM=xterm, the Linux console with TERM=linux) show 16
colours: Textual's default theme, squeezed into 16 colours, loses its contrast there. The ANSI
themes use the terminal's own palette instead, and read on a black or a white background.
NO_COLOR is honoured by Textual itself (it strips every colour, whatever the theme).
"""

from __future__ import annotations

import io
import os

from rich.console import Console

DEFAULT_THEME = "textual-dark"
ANSI_THEME = "ansi-dark"
ANSI_THEMES = ("ansi-dark", "ansi-light")
# Rich's names of the colour systems that have only the 16 ANSI colours (or none at all).
FEW_COLOURS = ("standard", "windows", None)


def terminal_color_system(environ: dict | None = None) -> str | None:
    """The colour system Textual will detect for this terminal (from TERM, COLORTERM and
    TEXTUAL_COLOR_SYSTEM), known before the App exists."""
    env = dict(os.environ if environ is None else environ)
    wanted = env.get("TEXTUAL_COLOR_SYSTEM", "auto")
    console = Console(color_system=wanted,  # type: ignore[arg-type]
                      file=io.StringIO(), force_terminal=True, force_jupyter=False, _environ=env)
    return console.color_system


def choose_theme(color_system: str | None) -> str:
    """The theme for a terminal whose colour system (as Rich detects it) is `color_system`."""
    return ANSI_THEME if color_system in FEW_COLOURS else DEFAULT_THEME


def is_ansi(theme: str) -> bool:
    """Whether `theme` draws with the terminal's own palette (Textual must then be told so when
    the App is created, so that NO_COLOR strips colours instead of turning them to grey)."""
    return theme in ANSI_THEMES
