"""The change history (audit trail) of one file, one unit or one person, newest first.

Read-only: who did what and when, with a short "what changed"; Enter shows the entry's whole
before and after values. The newest `LIMIT` entries are read at once (db.audit.entries) and
shown a screenful at a time; the line above the list says when there are more.

Times are stored in UTC and shown in the server's local time, dd/mm/yyyy hh:mm. A viewer may not
read the history (it holds background data): `open_history` says so instead of opening it.
"""

from __future__ import annotations

import datetime
import json

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from db import audit, connection
from db.access import AccessError, may_see_background
from db.audit import EntryView
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.widgets import (FilterRow, InMemoryPages, ListFilter, PagedTable, filter_bindings,
                         filter_match, fit, rename_key, safe, translate_bindings)

LIMIT = 500
AT_WIDTH = 16  # dd/mm/yyyy hh:mm
HIDDEN_KEYS = ("version",)  # changes on every write: says nothing about what changed


def open_history(screen: Screen, title: str, *, case_id: int | None = None,
                 unit_id: int | None = None, person_id: int | None = None) -> None:
    """Open the history over `screen`, or tell a viewer why not."""
    context: AppContext = screen.context  # type: ignore[attr-defined]
    if not may_see_background(context.actor):
        screen.notify(t("audit.forbidden"), markup=False, severity="warning", timeout=5)
        return
    screen.app.push_screen(AuditScreen(context, title, case_id=case_id, unit_id=unit_id,
                                       person_id=person_id))


def local_time(at: datetime.datetime) -> datetime.datetime:
    """A stored (naive, UTC) time in the local time zone, without its zone."""
    return at.replace(tzinfo=datetime.timezone.utc).astimezone().replace(tzinfo=None)


def time_text(at: datetime.datetime) -> str:
    return local_time(at).strftime("%d/%m/%Y %H:%M")


def action_name(action: str) -> str:
    key = f"audit_action.{action}"
    return t(key) if i18n.has(key) else action


def _stage(code) -> str:
    key = f"main.stage_short.{code}"
    return t(key) if i18n.has(key) else code_name("stage", None if code is None else str(code))


def _field(key: str) -> str:
    name = f"audit.field.{key}"
    return t(name) if i18n.has(name) else key


def change_text(entry: EntryView) -> str:
    """What changed, in a few words: the stage or role before → after when it moved; the
    reason or the note typed; else the names of the values that changed (or were recorded)."""
    before, after = entry.before, entry.after
    if entry.action == "view_background":
        return ""  # the action says it all
    if isinstance(after, dict):
        if isinstance(before, dict):
            for key, name in (("stage", _stage), ("role", lambda c: code_name("role", c))):
                if key in before and key in after and before[key] != after[key]:
                    return f"{name(before[key])} → {name(after[key])}"
        if entry.action == "note" and after.get("text"):
            return str(after["text"])
        if after.get("reason"):
            return str(after["reason"])
        if before is None and entry.action in ("open", "import") and after.get("stage"):
            return _stage(after["stage"])
        if entry.entity == "unit_change" and after.get("decision"):  # a reorganisation
            return (f"{after['decision']}: {', '.join(after.get('sources') or [])} → "
                    f"{', '.join(after.get('results') or [])}")
        if before is None and entry.action == "account_add" and after.get("role"):
            return f"{after.get('name', '')} · {code_name('role', after['role'])}"
        if isinstance(before, dict):
            keys = [k for k in after if k not in HIDDEN_KEYS and before.get(k) != after[k]]
        else:
            keys = [k for k in after if k not in HIDDEN_KEYS]
        return ", ".join(_field(k) for k in keys)
    if after is not None:
        return str(after)
    return ""


class EntriesLoaded(Message):
    def __init__(self, entries: list[EntryView] | None, more: bool = False,
                 error: str | None = None) -> None:
        super().__init__()
        self.entries = entries
        self.more = more
        self.error = error


class AuditScreen(ListFilter, InMemoryPages, Screen):
    """The entries of one file, unit or person; Enter shows one in full."""

    LIST = "entries"
    FILTER = "audit"
    CSS_PATH = "audit.tcss"
    HELP_TITLE = "audit.help_title"
    HELP_NOTES = ("audit.help_note",)

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="audit.back"),
        *filter_bindings("audit", "filters.key_filter_long"),
    ]

    def __init__(self, context: AppContext, title: str, *, case_id: int | None = None,
                 unit_id: int | None = None, person_id: int | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.heading = title
        self.case_id, self.unit_id, self.person_id = case_id, unit_id, person_id
        self.entries: list[EntryView] | None = None  # those shown (the `/` filter applied)
        self.all_entries: list[EntryView] | None = None
        self.more = False
        self.first = 0
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(t("audit.loading"), id="audit-info", markup=False)
        yield FilterRow("audit", "filters.placeholder")
        table = PagedTable(id="audit")
        rename_key(table, "enter", t("audit.key_details"))
        yield table
        yield Static("", id="audit-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = self.heading
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one(PagedTable).focus()
        self._load()

    @work(thread=True, exclusive=True, group="audit")
    def _load(self) -> None:
        try:
            rows = audit.entries(self.context.actor, self.context.today, unit_id=self.unit_id,
                                 person_id=self.person_id, case_id=self.case_id, limit=LIMIT + 1)
            message = EntriesLoaded(rows[:LIMIT], more=len(rows) > LIMIT)
        except AccessError:
            message = EntriesLoaded(None, error=t("audit.forbidden"))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @on(EntriesLoaded)
    def _loaded(self, message: EntriesLoaded) -> None:
        self.all_entries = message.entries or []
        self.more = message.more
        self.error = message.error
        self._filter_changed()

    def _filter_changed(self) -> None:
        """The entries read, less those where a word typed after `/` starts no word of what
        the row shows: the account, the action, the person, the unit, the change."""
        if self.all_entries is None:
            return
        words = self.filter_words()
        self.entries = [entry for entry in self.all_entries
                        if filter_match(words, entry.account or t("audit.system"),
                                        action_name(entry.action), entry.person_name,
                                        entry.unit_name, change_text(entry))]
        self._show(0, 0)

    # --- the list -------------------------------------------------------------------------

    def _columns(self, width: int) -> dict[str, int]:
        """The columns and their widths: the person only when the list is not about one
        person; the unit only for a unit's list on a wide terminal; the change takes the rest."""
        action = 18 if width >= 100 else 15
        account = 14  # "demo_organiser"; login names are short
        columns = {"at": AT_WIDTH, "account": account, "action": action}
        if self.case_id is None and self.person_id is None:
            columns["person"] = 22 if width >= 100 else 16
            if width >= 110:
                columns["unit"] = 24
        used = sum(columns.values()) + len(columns)
        columns["change"] = max(width - used, 10)
        return columns

    def _show(self, first: int, row: int) -> None:
        entries = self.entries or []
        size = self._page_size()
        self.first = max(0, min(first, max(len(entries) - 1, 0)))
        page = entries[self.first:self.first + size]
        table = self.query_one(PagedTable)
        columns = self._columns(table.size.width or self.app.size.width)
        with self.app.batch_update():
            table.clear(columns=True)
            last = list(columns)[-1]
            for key, width in columns.items():
                table.add_column(fit(Text(t(f"audit.col.{key}")), width), key=key,
                                 width=width + (0 if key == last else 1))
            for entry in page:
                cells = {
                    "at": Text(time_text(entry.at)),
                    "account": fit(safe(entry.account) if entry.account
                                   else Text(t("audit.system"), style="italic"), columns["account"]),
                    "action": fit(Text(action_name(entry.action)), columns["action"]),
                    "person": fit(safe(entry.person_name), columns.get("person", 1)),
                    "unit": fit(safe(entry.unit_name), columns.get("unit", 1)),
                    "change": fit(safe(change_text(entry)), columns["change"]),
                }
                table.add_row(*(cells[key] for key in columns), key=str(entry.id))
            table.has_before = self.first > 0
            table.has_after = self.first + size < len(entries)
            if page:
                table.move_cursor(row=len(page) - 1 if row < 0 else min(row, len(page) - 1),
                                  animate=False)
        self._show_info(len(page))
        self._show_detail()

    def _show_info(self, rows: int) -> None:
        info = self.query_one("#audit-info", Static)
        if self.error:
            info.update(Text(self.error, style="bold"))
            return
        entries = self.entries or []
        line = Text(t("audit.count", n=i18n.number(len(entries))), style="bold")
        if not self.all_entries:
            line.append(" · " + t("audit.empty"))
        elif entries:
            line.append(" · " + t("main.rows", first=i18n.number(self.first + 1),
                                  last=i18n.number(self.first + rows),
                                  total=i18n.number(len(entries))))
        self.filter_note(line, len(entries))
        if self.more:
            line.append(" · " + t("audit.more", n=i18n.number(LIMIT)), style="bold")
        info.update(line)

    def _current(self) -> EntryView | None:
        table = self.query_one(PagedTable)
        if not self.entries or not table.row_count:
            return None
        index = self.first + max(table.cursor_row, 0)
        return self.entries[index] if index < len(self.entries) else None

    def _show_detail(self) -> None:
        """Below the list, the highlighted entry's unit, person and change, uncut."""
        entry = self._current()
        detail = self.query_one("#audit-detail", Static)
        if entry is None:
            detail.update("")
            return
        text = Text()
        for part in (entry.unit_name, entry.person_name, change_text(entry)):
            if part:
                if text.plain:
                    text.append(" · ")
                text.append_text(safe(part))
        detail.update(text)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None or not self.entries:
            return
        entry_id = int(event.row_key.value)
        entry = next((e for e in self.entries if e.id == entry_id), None)
        if entry is not None:
            self.app.push_screen(EntryScreen(entry))

    def action_back(self) -> None:
        if self.filter_escape():
            return
        self.app.pop_screen()


def _json_text(value) -> Text:
    if value is None:
        return Text(t("audit.nothing"), style="italic")
    return safe(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True))


class EntryScreen(Screen):
    """One entry in full: who, when, what, and the stored before and after values, literally."""

    CSS_PATH = "audit.tcss"
    HELP_TITLE = "audit.help_title"
    HELP_NOTES = ("audit.help_note",)

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="audit_entry.back"),
    ]

    def __init__(self, entry: EntryView) -> None:
        super().__init__()
        translate_bindings(self)
        self.entry = entry

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with VerticalScroll(id="entry-scroll"):
            yield Static(self._content(), id="entry-body", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        entry = self.entry
        self.title = t("audit.details_title", id=entry.id, at=time_text(entry.at),
                       account=entry.account or t("audit.system"))
        self.sub_title = action_name(entry.action)
        self.query_one("#entry-scroll").focus()

    def _content(self) -> RenderableType:
        entry = self.entry
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="bold")
        grid.add_column(ratio=1, overflow="fold")
        rows = [(t("audit.col.at"), Text(time_text(entry.at))),
                (t("audit.col.account"), safe(entry.account) if entry.account else Text(t("audit.system"))),
                (t("audit.col.action"), Text(action_name(entry.action)))]
        if entry.unit_name:
            rows.append((t("audit.col.unit"), safe(entry.unit_name)))
        if entry.person_name:
            rows.append((t("audit.col.person"), safe(entry.person_name)))
        rows.append((t("audit.col.change"), safe(change_text(entry))))
        for label, value in rows:
            grid.add_row(Text(label), value)
        record = Text(t("audit.record", entity=entry.entity, id=entry.entity_id or "–"), style="dim")
        return Group(grid, record, Text(""),
                     Text(t("audit.before"), style="bold underline"), _json_text(entry.before),
                     Text(""),
                     Text(t("audit.after"), style="bold underline"), _json_text(entry.after))

    def action_back(self) -> None:
        self.app.pop_screen()
