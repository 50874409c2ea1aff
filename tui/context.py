"""What a session of ketnap runs with, settled before the App starts (by the CLI or a test)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from db.access import Actor


@dataclass(frozen=True)
class AppContext:
    location: str  # the database path or URL, already opened and migrated
    actor: Actor
    today: datetime.date
    lang: str = "vi"
    mouse: bool = False
    # the session may read and write files on the server (not over an SSH forced command, where
    # files come and go through standard input and output only)
    server_files: bool = True
    # for slow links: fewer frames a second, a longer wait for a lone Escape (tui.app.run_app)
    low_bandwidth: bool = False
    # only ASCII drawn around the text: borders, tree guides, scroll bars, bars and marks
    ascii: bool = False


# `--low-bandwidth`: frames a second (Textual's default is 60) and how long a lone Escape is
# waited for before it counts as the Escape key rather than the start of a key's sequence, in
# milliseconds (Textual's default is 100: over a slow link the rest of an arrow key's sequence can
# come later, and the arrow is read as Escape, which goes back a screen)
LOW_BANDWIDTH_FPS = 10
LOW_BANDWIDTH_ESCAPE_DELAY_MS = 400


def terminal_environ(context: AppContext, environ: dict) -> None:
    """Set in `environ` what Textual reads once, when it is imported (TEXTUAL_FPS, ESCDELAY):
    call it before the first import of Textual. A value already lower (frames) or longer (the
    Escape delay) is kept.

    COLUMNS and LINES go: Textual asks for the terminal's size through shutil, which takes them
    over the terminal's own size, so that an exported pair (a shell profile, a terminal library
    of the parent process) would keep the screen at that size after every resize."""
    environ.pop("COLUMNS", None)
    environ.pop("LINES", None)
    if not context.low_bandwidth:
        return

    def number(name: str) -> int | None:
        try:
            return int(environ.get(name, ""))
        except ValueError:
            return None

    fps = number("TEXTUAL_FPS")
    if fps is None or fps > LOW_BANDWIDTH_FPS:
        environ["TEXTUAL_FPS"] = str(LOW_BANDWIDTH_FPS)
    delay = number("ESCDELAY")
    if delay is None or delay < LOW_BANDWIDTH_ESCAPE_DELAY_MS:
        environ["ESCDELAY"] = str(LOW_BANDWIDTH_ESCAPE_DELAY_MS)
