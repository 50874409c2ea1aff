"""The command palette (Ctrl+P or `:`): Textual's own palette with ketnap's commands only.

- every unit the account may see, as of today ("Đơn vị: ..."): back to the main screen, the
  unit chosen in the tree and its people listed;
- the screens the main screen opens (work list, progress, classes, meeting...), each running
  the same action as its key;
- the keys of the screen the palette was opened on, by their descriptions.

What is typed is matched without diacritics or case (`db.text.fold`): every word must be in the
command's name, a word that starts a word of the name counting for more. The units are read once
each time the palette opens, in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.strip import Strip
from textual.command import (CommandInput, CommandList, CommandPalette, SearchIcon,                              DiscoveryHit, Hit, Hits, Provider)
from textual.markup import escape
from textual.widgets import LoadingIndicator
from textual.widgets.option_list import Option

from db import connection, units
from db.access import may_write
from db.text import fold
from tui.history import main_screen
from tui.i18n import t
from tui.widgets import key_label

MAX_UNIT_HITS = 60  # more would only slow the list down: typing another word narrows it

# The screens opened from the main screen: (the main screen's binding id, its action).
SCREENS = (
    ("main.worklist", "worklist"),
    ("main.progress", "progress"),
    ("main.classes", "classes"),
    ("main.meeting", "meeting"),
    ("main.unit_history", "unit_history"),
    ("main.reorganise", "reorganise"),
    ("main.import_people", "import_people"),
    ("main.accounts", "accounts"),
)


def match(words: list[str], own: str, more: str = "") -> float | None:
    """How well the folded `words` match a command whose folded name is `own` (and whose other
    words, e.g. the unit above, are `more`): None when a word is in neither."""
    if not words:
        return 0.0
    score = 0.0
    for word in words:
        at = own.find(word)
        if at >= 0:
            starts = at == 0 or not own[at - 1].isalnum()
            if not starts:  # a later place where it starts a word counts for more
                starts = (" " + word) in own
            score += 1.0 if starts else 0.7
        elif word in more:
            score += 0.3
        else:
            return None
    return min(score / len(words), 1.0) * 0.99


def highlight(title: str, words: list[str], style: str = "bold underline") -> Text:
    """`title` with the typed words underlined where they match (diacritics ignored)."""
    text = Text(title)
    folded = "".join(fold(ch) or " " for ch in title)  # one character for one: positions agree
    if len(folded) != len(title):
        return text
    for word in words:
        at = folded.find(word)
        if at >= 0:
            text.stylize(style, at, at + len(word))
    return text


def _with_key(title: Text, key: str | None) -> Text:
    if key:
        title.append("  ")
        title.append(key, style="bold")
    return title


class UnitEntry(NamedTuple):
    """A unit the palette can jump to (a tuple: a province keeps 31,000 of them)."""

    id: int
    name: str
    code: str
    parent: str
    own: str  # folded name and code
    more: str  # folded name of the unit above


def read_units(actor, today, cached: tuple | None = None) -> tuple[tuple, list[UnitEntry]]:
    """The units the account may see as of today, in the tree's order, with the key they were
    read under (run in a thread). `cached`, a (key, units) read before, is kept while the tree
    has not changed: a province has tens of thousands of units."""
    try:
        key = (connection.get_setting(connection.TREE_VERSION), actor, today)
        if cached is not None and cached[0] == key and key[0] is not None:
            return cached
        rows = units.unit_rows(actor, today)
    finally:
        connection.close_database()  # this thread's connection only
    names = {uid: name for uid, _code, name, _parent, _ended in rows}
    folded: dict[int | None, str] = {}  # each parent's folded name made once, shared by its children

    def parent_folded(parent: int | None) -> str:
        if parent not in folded:
            folded[parent] = fold(names.get(parent, ""))
        return folded[parent]

    entries = [UnitEntry(uid, name, code, names.get(parent, ""), fold(name) + " " + fold(code),
                         parent_folded(parent))
               for uid, code, name, parent, _ended in rows]
    return key, entries


class UnitCommands(Provider):
    """Jump to a unit."""

    _reading: asyncio.Task | None = None

    async def _entries(self) -> list[UnitEntry]:
        """Read on the first word typed, not when the palette opens: on a province the reading
        takes a second, and the palette shows its other commands at once."""
        if self._reading is None or self._reading.cancelled():
            context = self.app.context
            self._reading = asyncio.create_task(asyncio.to_thread(
                read_units, context.actor, context.today, getattr(self.app, "_palette_units", None)))
        # each key typed cancels the search before it: not the reading, which the next one awaits
        self.app._palette_units = await asyncio.shield(self._reading)
        return self.app._palette_units[1]

    async def search(self, query: str) -> Hits:
        words = fold(query).split()
        if not words:
            return
        found = 0
        for entry in await self._entries():
            score = match(words, entry.own, entry.more)
            if score is None:
                continue
            title = Text(t("palette.unit") + " ")
            title.append_text(highlight(entry.name, words))
            where = entry.code + (" · " + t("palette.unit_in", parent=entry.parent)
                                  if entry.parent else "")
            yield Hit(score, title, partial(go_to_unit, self.app, entry.id),
                      text=entry.name, help=escape(where))
            found += 1
            if found >= MAX_UNIT_HITS:
                return


@dataclass(frozen=True)
class Command:
    title: str
    key: str | None
    run: Callable[[], object]
    screen: bool = False


def _binding_key(app, binding: Binding) -> str:
    return binding.key_display or key_label(binding.key)


def commands(provider: Provider) -> Iterator[Command]:
    """The screens of the main screen, then the keys of the screen the palette is over."""
    app = provider.app
    main = main_screen(app)
    actor = app.context.actor
    seen: set = set()  # the main screen's actions offered as screens; (node, action) pairs
    if main is not None:
        by_id = {b.id: b for _key, b in main._bindings if b.id}
        for binding_id, action in SCREENS:
            binding = by_id.get(binding_id)
            seen.add(action)  # offered here, or not at all (not below, among the keys)
            if binding is None or not binding.description:
                continue
            if action == "accounts" and not actor.is_admin:
                continue
            if action == "import_people" and not may_write(actor):
                continue
            yield Command(t("palette.screen", name=binding.description),
                          _binding_key(app, binding), partial(open_screen, app, action), True)
    for active in provider.screen.active_bindings.values():
        binding, node = active.binding, active.node
        if not active.enabled or binding.id is None or not binding.description or binding.system:
            continue
        if binding.action in ("command_palette", "app.command_palette"):
            continue
        name = binding.action.split("(")[0].removeprefix("screen.")
        if node is main and name in seen:
            continue
        if (node, binding.action) in seen:
            continue
        seen.add((node, binding.action))
        yield Command(binding.description, _binding_key(app, binding),
                      partial(app.run_action, binding.action, node))
    # the history's keys are off while the palette is open: offered all the same
    for binding_id in ("app.back_typed", "app.forward_typed"):
        binding = next((b for _key, b in app._bindings if b.id == binding_id), None)
        if binding is not None:
            yield Command(binding.description, _binding_key(app, binding),
                          partial(app.run_action, binding.action.replace("(True)", "()"), app))


class ScreenCommands(Provider):
    """Open a screen of the main screen, or press a key of this screen by its name."""

    async def startup(self) -> None:
        self.commands = list(commands(self))

    async def discover(self) -> Hits:
        for command in self.commands:
            yield DiscoveryHit(_with_key(Text(command.title), command.key), command.run,
                               text=command.title)

    async def search(self, query: str) -> Hits:
        words = fold(query).split()
        for command in self.commands:
            score = match(words, fold(command.title))
            if score is not None:
                # ahead of units that match as well: few commands, many units
                score = min(score + (0.005 if command.screen else 0.004), 1.0)
                yield Hit(score, _with_key(highlight(command.title, words), command.key),
                          command.run, text=command.title)


def go_to_unit(app, unit_id: int) -> None:
    app.history.leave(lambda main: main.go_to_unit(unit_id))


def open_screen(app, action: str) -> None:
    def run(main) -> None:
        app.history.record()
        getattr(main, f"action_{action}")()

    app.history.leave(run)


class Commands(CommandList):
    """The palette's list; without colours (NO_COLOR) the highlighted command is reversed (the
    list's own rule for it is lost on the way to the screen)."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if self.app.no_color and self.highlighted is not None:
            line = self.scroll_offset.y + y
            if line < len(self._lines) and self._lines[line][0] == self.highlighted:
                strip = strip.apply_style(Style(reverse=True))
        return strip


class KetnapPalette(CommandPalette):
    """Textual's palette, in the user's language."""

    def compose(self) -> ComposeResult:
        with Vertical(id="--container"):
            with Horizontal(id="--input"):
                yield SearchIcon()
                yield CommandInput(placeholder=self._placeholder, select_on_focus=False)
            with Vertical(id="--results"):
                yield Commands()
                yield LoadingIndicator()

    def __init__(self) -> None:
        super().__init__(providers=[ScreenCommands, UnitCommands],
                         placeholder=t("palette.placeholder"), id="--command-palette")

    def on_mount(self) -> None:
        self.query_one(SearchIcon).icon = ">"  # the magnifier emoji is not in a console's font

    def on_key(self, event: events.Key) -> None:
        """A letter that reached the palette itself, not its field: typed before the field had
        the focus (`:` and a name typed in one go over a slow link), or in the list. It goes
        into the field rather than nowhere."""
        if event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            self.query_one(CommandInput).insert_text_at_cursor(event.character)

    def _start_no_matches_countdown(self, search_value: str) -> None:
        # as Textual's own, with the message in the user's language
        self._stop_no_matches_countdown()

        def show_no_matches() -> None:
            if search_value:
                self.query_one(CommandList).add_option(
                    Option(Text(t("palette.no_matches"), style="not bold"), disabled=True,
                           id=self._NO_MATCHES))
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show_no_matches)
