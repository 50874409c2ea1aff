"""The Textual application: a thin shell around the screens, built from an AppContext.

Everything the session needs (database, account, "today", language) is settled before the App
is created, by the CLI or by a test, so that tests build the app exactly as `ketnap` does.
"""

from __future__ import annotations

import logging
import time

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.content import Content
from textual.filter import LineFilter
from textual.screen import ModalScreen
from textual.widgets import Input, TextArea

from screens.main import MainScreen
from tui import i18n
from tui.context import AppContext
from tui.history import History
from tui.i18n import t
from tui.theme import choose_theme, is_ansi, terminal_color_system
from tui.widgets import key_label, translate_bindings

log = logging.getLogger("ketnap")


class KetnapApp(App):
    """ketnap's terminal interface."""

    CSS_PATH = "app.tcss"
    # Textual's palette with our commands only (tui/palette.py): its English system commands and
    # its own key in every footer stay off; our bindings below open it
    ENABLE_COMMAND_PALETTE = False
    COMMANDS: set = set()
    HELP_TITLE = "help.general"

    BINDINGS = [
        Binding("ctrl+q", "quit", "keys.quit", priority=True, id="app.quit"),
        # priority: it works from every screen, a text field focused too (Textual's Input binds
        # nothing to Ctrl+F)
        Binding("ctrl+f", "search", "search.key", priority=True, show=False, id="app.search"),
        Binding("f1", "help", "keys.help", id="app.help"),
        Binding("question_mark", "help(True)", "keys.help", show=False, id="app.help_typed"),
        # the palette and the history: in the help (F1), the footer has no room at 80 columns
        Binding("ctrl+p", "command_palette", "palette.keys.open", tooltip="palette.keys.open_long",
                show=False, priority=True, id="app.palette"),
        # priority: the palette opens at once, so that the letters typed right behind the `:`
        # (in one go, over a slow link) reach it instead of the screen below
        Binding("colon", "command_palette(True)", "palette.keys.open", key_display=":",
                show=False, priority=True, id="app.palette_typed"),
        Binding("left_square_bracket", "history_back(True)", "palette.keys.back", key_display="[",
                tooltip="palette.keys.back_long", show=False, id="app.back_typed"),
        Binding("alt+left", "history_back", "palette.keys.back", show=False, id="app.back"),
        Binding("right_square_bracket", "history_forward(True)", "palette.keys.forward",
                key_display="]", tooltip="palette.keys.forward_long", show=False,
                id="app.forward_typed"),
        Binding("alt+right", "history_forward", "palette.keys.forward", show=False,
                id="app.forward"),
    ]

    def __init__(self, context: AppContext, *, theme: str | None = None) -> None:
        self._started = time.monotonic()
        i18n.set_language(context.lang)
        theme = theme or choose_theme(terminal_color_system())
        super().__init__(ansi_color=True if is_ansi(theme) else None)
        translate_bindings(self)
        self.context = context
        self.history = History(self)
        self.animation_level = "none"
        self.title = t("app.title")
        self.sub_title = t("header.today", date=i18n.date(context.today))
        if theme != self.theme:
            self.theme = theme
        self._ascii_filter = None
        if context.ascii:
            from textual.scrollbar import ScrollBar

            from tui.ascii_screen import AsciiFilter, AsciiScrollBarRender

            self._ascii_filter = AsciiFilter()
            self._scrollbar_renderer = ScrollBar.renderer
            ScrollBar.renderer = AsciiScrollBarRender

    def on_mount(self) -> None:
        self.push_screen(MainScreen(self.context))

    def on_unmount(self) -> None:
        if self._ascii_filter is not None:
            from textual.scrollbar import ScrollBar

            ScrollBar.renderer = self._scrollbar_renderer

    def get_line_filters(self) -> list[LineFilter]:
        filters = list(super().get_line_filters())
        if self._ascii_filter is not None:
            filters.append(self._ascii_filter)
        return filters

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """No blinking cursor anywhere (a blink costs bytes every half second over SSH): each
        text field or area stops blinking when it takes the focus, the only time it would.
        With --low-bandwidth, a scrolled text (a file's tab, the help) turns a page at a time
        on the arrows: scrolling it a line redraws all of it."""
        widget = event.widget
        if getattr(widget, "cursor_blink", False):
            widget.cursor_blink = False
        if self.context.low_bandwidth and isinstance(widget, ScrollableContainer) \
                and not getattr(widget, "_ketnap_paged", False):
            keys = widget._bindings.key_to_bindings
            keys["down"] = [Binding("down", "page_down", show=False)]
            keys["up"] = [Binding("up", "page_up", show=False)]
            widget._ketnap_paged = True

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header's title; a read-only session says so first, where it is never cut off."""
        content = super().format_title(title, sub_title)
        if self.context.actor.readonly:
            return Content.assemble((t("terminal.readonly_mark"), "bold reverse"), " ", content)
        return content

    def on_ready(self) -> None:
        log.info("ready in %.0f ms", (time.monotonic() - self._started) * 1000)

    async def action_quit(self) -> None:
        """Ctrl+Q: quit, but ask first when a form on screen holds typed input."""
        screen = self.screen
        if getattr(screen, "is_dirty", None) and screen.is_dirty():
            from screens.dialogs import ConfirmDialog

            def answered(discard: bool | None) -> None:
                if discard:
                    self.exit()

            self.push_screen(ConfirmDialog(t("quit.discard_question")), answered)
            return
        self.exit()

    def action_help_quit(self) -> None:
        """Ctrl+C (pressed out of habit): say how to quit, in the user's language."""
        self.notify(t("quit.hint"), title=t("quit.title"), markup=False)

    def get_key_display(self, binding: Binding) -> str:
        return binding.key_display or key_label(binding.key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "help":
            if getattr(self.screen, "IS_HELP", False):
                return False
            # `?` types a question mark into a text field; F1 always works
            if parameters and parameters[0] and isinstance(self.focused, Input):
                return False
        if action in ("command_palette", "history_back", "history_forward"):
            if isinstance(self.screen, ModalScreen):  # a question or the palette is open
                return False
            # `:`, `[` and `]` type into a text field
            if parameters and parameters[0] and isinstance(self.focused, (Input, TextArea)):
                return False
        return True

    def get_system_commands(self, screen):
        return iter(())  # Textual's (theme, screenshot, quit...) are in English

    def action_command_palette(self, typed: bool = False) -> None:
        from tui.palette import KetnapPalette  # imported on first use

        self.push_screen(KetnapPalette())

    def action_history_back(self, typed: bool = False) -> None:
        self.history.go_back()

    def action_history_forward(self, typed: bool = False) -> None:
        self.history.go_forward()

    def action_search(self) -> None:
        """Ctrl+F: search everywhere (screens/search.py); on the search screen, its field."""
        from screens.search import SearchScreen  # imported on first use

        if isinstance(self.screen, SearchScreen):
            self.screen.focus_field()
        elif not isinstance(self.screen, ModalScreen):  # a question is answered first
            self.push_screen(SearchScreen(self.context))

    def action_help(self, typed: bool = False) -> None:
        from screens.help import HelpScreen  # imported on first use: not on the first screen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))


def _log_to_file() -> None:
    """Send Python's logging to a file: the terminal (stderr included) belongs to Textual."""
    root = logging.getLogger()
    logging.captureWarnings(True)
    if root.handlers:
        return
    try:
        from platformdirs import user_log_path

        path = user_log_path("ketnap")
        path.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path / "ketnap.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    except OSError:
        handler = logging.NullHandler()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run_app(context: AppContext) -> None:
    """Run the interface until the user quits (called by `ketnap` with no subcommand, after
    tui.context.terminal_environ has set what Textual reads when it is imported)."""
    _log_to_file()
    KetnapApp(context).run(mouse=context.mouse)
