"""The keys of the screen the user was on (F1 or ?), in the user's language. Escape closes it."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tui.i18n import t
from tui.widgets import help_rows, translate_bindings


def _section(title: str, rows: list[tuple[str, str, str | None]],
             key_width: int) -> list[RenderableType]:
    grid = Table.grid(padding=(0, 2), expand=True)
    grid.add_column(no_wrap=True, width=key_width)
    grid.add_column(ratio=1)
    for keys, description, tooltip in rows:
        text = Text(description)
        if tooltip and tooltip != description:
            text.append(": " + tooltip)
        grid.add_row(Text(keys, style="bold"), text)
    return [Text(title, style="bold underline"), grid, Text("")]


class HelpScreen(Screen):
    """Every key of the screen below it, with what it does."""

    CSS_PATH = "help.tcss"
    HELP_TITLE = "help.title"
    IS_HELP = True  # the app checks this without importing the module

    BINDINGS = [
        Binding("escape", "close", "keys.close", id="help.close"),
    ]

    def __init__(self, target: Screen) -> None:
        super().__init__()
        translate_bindings(self)
        self.target = target

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with VerticalScroll(id="help-scroll"):
            yield Static(self._content(), id="help-body", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("help.title")
        self.sub_title = t(getattr(self.target, "HELP_TITLE", "help.this_screen"))
        self.query_one("#help-scroll").focus()

    def _content(self) -> RenderableType:
        """The screen's own keys, then those of each of its parts, then the general ones."""
        target = self.target
        sections = [(getattr(target, "HELP_TITLE", "help.this_screen"), target)]
        sections += [(node.HELP_TITLE, node) for node in target.query("*")
                     if getattr(node, "HELP_TITLE", None)]
        sections.append(("help.general", self.app))
        tables = [(t(title), rows) for title, node in sections if (rows := help_rows([node]))]
        key_width = max(len(keys) for _title, rows in tables for keys, _d, _t in rows)
        parts: list[RenderableType] = []
        for title, rows in tables:
            parts += _section(title, rows, key_width)
        for note in getattr(target, "HELP_NOTES", ()):
            parts.append(Text(t(note)))
        return Group(*parts)

    def action_close(self) -> None:
        self.app.pop_screen()
