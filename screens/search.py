"""Search everywhere (Ctrl+F from any screen): people and units by any part of the name, the
other name, the citizen ID or the phone, diacritics and case ignored (db.cases.find_everything,
ranked as in db.search), only what the account may see.

A text field on top, the results below, numbered, one line each: the name, the year of birth,
the branch and the stage of the open file (or the party status); units after the people, marked
as such. Typing searches again in a worker (the latest search wins); Down or Enter moves into
the list; Enter opens: an open file, else the person's most recent file, else the main screen
on the person's branch with the person highlighted; a unit: the main screen on that unit.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from db import connection
from db.cases import FindResult, UnitHit, find_everything, search_scope
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.widgets import fit, safe, translate_bindings

PEOPLE_LIMIT = 50
UNIT_LIMIT = 10
BORN_WIDTH = 4
NUMBER_WIDTH = 4  # "123."


class SearchLoaded(Message):
    def __init__(self, seq: int, people: list[FindResult], units: list[UnitHit], more: bool,
                 text: str = "") -> None:
        super().__init__()
        self.seq = seq
        self.text = text
        self.people = people
        self.units = units
        self.more = more


def result_status(result: FindResult) -> str:
    """The open file's stage (short name), else the party status, else nothing."""
    if result.case_id is not None and result.stage:
        key = f"main.stage_short.{result.stage}"
        return t(key) if i18n.has(key) else code_name("stage", result.stage)
    return code_name("party_status", result.party_status) if result.party_status else ""


def _short(name: str) -> str:
    from screens.main import short_unit_name

    return short_unit_name(name)


class SearchScreen(Screen):
    """Find a person or a unit and open it."""

    CSS_PATH = "search.tcss"
    HELP_TITLE = "search.help_title"
    HELP_NOTES = ("search.help_note",)

    BINDINGS = [
        # not priority: a key reaches this binding after the field has had the keys typed before
        # it (a burst over a slow link: "hoang thi", Down, Down, Enter); Enter is the field's
        # own (Input.Submitted)
        Binding("down", "to_list('down')", show=False),
        Binding("escape", "back", "keys.back", id="search.back"),
    ]

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.people: list[FindResult] = []
        self.units: list[UnitHit] = []
        self.more = False
        self._seq = 0
        self._scope: tuple[list[int] | None] | None = None  # read once, by the first search
        self._shown_text = ""  # what was typed for the results shown
        self._ahead: list[str] = []  # Down/Enter pressed before the results came: played then

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with Horizontal(id="search-row"):
            yield Label(t("search.label"), markup=False, id="search-label")
            field = Input(placeholder=t("search.placeholder"), id="search-field", compact=True)
            field.cursor_blink = False
            yield field
        yield Static(t("search.hint"), id="search-info", markup=False)
        table = DataTable(id="search-results", cursor_type="row", cell_padding=0)
        table.show_header = False
        yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("search.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.set_focus(self.query_one("#search-field", Input))

    # --- searching ------------------------------------------------------------------------

    @on(Input.Changed, "#search-field")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._seq += 1
        if not event.value.strip():
            self._show(SearchLoaded(self._seq, [], [], False, event.value))
            return
        self._search(self._seq, event.value)

    @work(thread=True, exclusive=True, group="search")
    def _search(self, seq: int, text: str) -> None:
        actor, today = self.context.actor, self.context.today
        try:
            if self._scope is None:  # the account's units: the same for every search here
                self._scope = (search_scope(actor, today),)
            people, units = find_everything(actor, text, today, limit=PEOPLE_LIMIT + 1,
                                            unit_limit=UNIT_LIMIT, scope=self._scope[0])
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(SearchLoaded(seq, people[:PEOPLE_LIMIT], units,
                                       len(people) > PEOPLE_LIMIT, text))

    @on(SearchLoaded)
    def _show(self, message: SearchLoaded) -> None:
        if message.seq != self._seq:
            return  # a newer search is on its way
        self._shown_text = message.text
        self.people, self.units, self.more = message.people, message.units, message.more
        table = self.query_one("#search-results", DataTable)
        widths = self._widths(table.size.width or self.app.size.width)
        with self.app.batch_update():
            table.clear(columns=True)
            for key in ("no", "name", "born", "branch", "status"):
                table.add_column("", key=key, width=widths[key] + (0 if key == "status" else 1))
            number = 0
            for result in self.people:
                number += 1
                name = safe(result.full_name)
                if result.public_role and result.branch is None:
                    name.append(" · " + result.public_role, style="italic")
                branch = _short(result.branch.name) if result.branch else ""
                table.add_row(Text(f"{number:>{NUMBER_WIDTH - 1}}."), fit(name, widths["name"]),
                              Text(str(result.born.year) if result.born else ""),
                              fit(safe(branch), widths["branch"]),
                              fit(Text(result_status(result)), widths["status"]),
                              key=f"p{result.person_id}")
            for unit in self.units:
                number += 1
                table.add_row(Text(f"{number:>{NUMBER_WIDTH - 1}}."),
                              fit(safe(_short(unit.name), style="bold"), widths["name"]),
                              Text(""), fit(safe(unit.code), widths["branch"]),
                              fit(Text(t("search.unit_marker"), style="italic"), widths["status"]),
                              key=f"u{unit.id}")
        self._info()
        if not self._ahead or message.text != self.query_one("#search-field", Input).value:
            return
        ahead, self._ahead = self._ahead, []
        if table.row_count:
            self.set_focus(table)
            for key in ahead[1:]:  # the first moved into the list
                if key == "down":
                    table.action_cursor_down()
                else:
                    table.action_select_cursor()
                    break

    def _info(self) -> None:
        field = self.query_one("#search-field", Input)
        if not field.value.strip():
            line = Text(t("search.hint"))
        elif not self.people and not self.units:
            line = Text(t("search.none"))
        else:
            line = Text(t("search.found", people=i18n.number(len(self.people)),
                          units=i18n.number(len(self.units))), style="bold")
            if self.more:
                line.append(" · " + t("search.more"))
        self.query_one("#search-info", Static).update(line)

    @staticmethod
    def _widths(width: int) -> dict[str, int]:
        status = 10
        # four gaps of one cell, one for the scrollbar, one to spare
        rest = max(width - NUMBER_WIDTH - BORN_WIDTH - status - 6, 20)
        name = min(max(rest // 2, 14), 30)
        return {"no": NUMBER_WIDTH, "name": name, "born": BORN_WIDTH, "branch": rest - name,
                "status": status}

    # --- keys -----------------------------------------------------------------------------

    @on(Input.Submitted, "#search-field")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_to_list("enter")

    def action_to_list(self, key: str = "down") -> None:
        """Down or Enter from the field: into the list (typed ahead of the results: when they
        come). A key of the same burst that reached the field before the focus moved acts on
        the list."""
        table = self.query_one("#search-results", DataTable)
        if self.focused is table:
            if key == "down":
                table.action_cursor_down()
            else:
                table.action_select_cursor()
            return
        if self._shown_text != self.query_one("#search-field", Input).value:
            # typed ahead of the results (a slow link): played when they come
            self._ahead.append(key)
        elif table.row_count:
            self.set_focus(table)  # set_focus: now, before the next key of a burst

    def focus_field(self) -> None:
        """Ctrl+F again: back to the text field, what was typed kept."""
        field = self.query_one("#search-field", Input)
        self.set_focus(field)
        field.cursor_position = len(field.value)

    def action_back(self) -> None:
        self.dismiss(None)

    @on(DataTable.RowSelected, "#search-results")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        if not key:
            return
        kind, ident = key[0], int(key[1:])
        if kind == "u":
            if any(u.id == ident for u in self.units):
                self._to_main(lambda main: main.show_unit_id(ident))
            return
        result = next((r for r in self.people if r.person_id == ident), None)
        if result is None:
            return
        if result.last_case_id is not None:
            from screens.case import CaseScreen  # imported on first use

            self.app.push_screen(CaseScreen(self.context, result.last_case_id))
            return
        if result.branch is None:
            self.notify(t("search.no_branch", name=result.full_name), markup=False, timeout=4)
            return
        branch_id = result.branch.id
        self._to_main(lambda main: main.show_person(branch_id, result.person_id))

    def _to_main(self, then) -> None:
        """Back to the main screen (closing the screens above it), then `then(main)`."""
        from screens.main import MainScreen

        stack = self.app.screen_stack
        main = next((s for s in stack if isinstance(s, MainScreen)), None)
        if main is None:
            return
        above = stack[stack.index(main) + 1:]
        dirty = any(getattr(s, "is_dirty", None) and s.is_dirty() for s in above)

        def go(yes: bool | None = True) -> None:
            if not yes:
                return
            while self.app.screen is not main:
                self.app.pop_screen()
            then(main)

        if dirty:
            from screens.dialogs import ConfirmDialog

            self.app.push_screen(ConfirmDialog(t("search.discard")), go)
            return
        go()
