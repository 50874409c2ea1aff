"""The work list of a unit and everything below it: open files with their next action and due
date, overdue first. The list is read a screenful at a time (db.worklist.worklist_page): a
province's has a hundred thousand files.

The progress screen opens it for the files behind one of its numbers: as of another day than
today (`as_of`), for some stages only (`stages`), or the overdue files only (`overdue_only`).
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from db import connection, worklist
from db.units import UnitNode
from db.worklist import WorkItem
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.widgets import (FilterRow, InMemoryPages, ListFilter, PagedTable, filter_bindings,
                         fit, safe, translate_bindings)

DATE_WIDTH = 10
STATE_WIDTH = 18  # "QUÁ HẠN 1.234 ngày"
NAME_WIDTH = 26


class WorklistLoaded(Message):
    def __init__(self, seq: int, first: int, row: int, page: worklist.WorkPage) -> None:
        super().__init__()
        self.seq = seq
        self.first = first
        self.row = row
        self.page = page


def state_text(item: WorkItem, today) -> Text:
    """Overdue, days left, on hold: in words (and bold when late), never by colour alone."""
    parts = []
    if item.overdue:
        parts.append(t("worklist.overdue", days=i18n.number(item.overdue_days)))
    elif item.due is not None:
        parts.append(t("worklist.days_left", days=i18n.number((item.due - today).days)))
    if item.on_hold:
        parts.append(t("worklist.on_hold"))
    return Text(" · ".join(parts), style="bold" if item.overdue else "")


class WorklistScreen(ListFilter, InMemoryPages, Screen):
    """What is due and what is late, for one unit and the units below it."""

    LIST = "items"
    FILTER = "worklist"
    CSS_PATH = "worklist.tcss"
    HELP_TITLE = "worklist.help_title"
    HELP_NOTES = ("worklist.help_note",)

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="worklist.back"),
        *filter_bindings("worklist"),
    ]

    def __init__(self, context: AppContext, unit: UnitNode, *, as_of=None,
                 stages: tuple[str, ...] | None = None, overdue_only: bool = False) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.unit = unit  # anything with an id and a name (a UnitNode or a UnitRef)
        self.as_of = as_of or context.today
        self.stages = stages
        self.overdue_only = overdue_only
        self.items: tuple[WorkItem, ...] | None = None  # the page shown (None until loaded)
        self.total = 0  # files on the list (the `/` filter applied)
        self.late = 0  # of which overdue
        self.filter_text = ""
        self.first = 0  # index of the first item on the page shown
        self._seq = 0
        self._counts_due = True

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(t("worklist.loading"), id="worklist-info", markup=False)
        yield FilterRow("worklist")
        yield PagedTable(id="worklist")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("worklist.title", unit=self.unit.name)
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one(PagedTable).focus()
        self.call_after_refresh(self._load)  # the page's size is known once laid out

    def _load(self, first: int = 0, row: int = 0, *, counts: bool = True) -> None:
        """Ask for the page starting at `first`; `counts`: also the list's size, read again
        (on opening and when the filter changes, not at each page turn)."""
        self._seq += 1
        # counts asked for stay asked for until they come: a page turn or a resize may replace
        # the request that was to bring them
        self._counts_due = self._counts_due or counts
        if self.items is not None and self.total and not self._counts_due:
            first = max(0, min(first, self.total - 1))
        self._fetch(self._seq, max(first, 0), row, self._page_size(), self._counts_due, self.filter_text)

    @work(thread=True, exclusive=True, group="worklist")
    def _fetch(self, seq: int, first: int, row: int, size: int, counts: bool, name_filter: str) -> None:
        try:
            page = worklist.worklist_page(self.context.actor, self.unit.id, self.as_of, offset=first,
                                          limit=size, stages=self.stages, overdue_only=self.overdue_only,
                                          name_filter=name_filter, counts=counts)
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(WorklistLoaded(seq, first, row, page))

    @on(WorklistLoaded)
    def _loaded(self, message: WorklistLoaded) -> None:
        if message.seq != self._seq:
            return  # a newer request is on its way
        page = message.page
        if page.total is not None:
            self.total, self.late = page.total, page.late
            self._counts_due = False
        self.items = page.items
        self.first = message.first
        self._draw(message.row)

    def _filter_changed(self) -> None:
        """The `/` filter: the files whose name or other name has a word starting with each
        word typed (diacritics ignored), read again from the first."""
        self._load(0, 0)

    def _show(self, first: int, row: int) -> None:
        """A page turn or a resize (InMemoryPages)."""
        self._load(first, row, counts=False)

    def _draw(self, row: int) -> None:
        page = self.items or ()
        table = self.query_one(PagedTable)
        widths = self._widths(table.size.width or self.app.size.width)
        table.clear(columns=True)
        for key in ("name", "action", "due", "state"):
            gap = 0 if key == "state" else 1
            table.add_column(fit(Text(t(f"worklist.col.{key}")), widths[key]), key=key,
                             width=widths[key] + gap)
        for item in page:
            table.add_row(fit(safe(item.full_name), widths["name"]),
                          fit(Text(code_name("next_action", item.next_action)), widths["action"]),
                          Text(i18n.date(item.due)),
                          fit(state_text(item, self.as_of), widths["state"]),
                          key=str(item.case_id))
        table.has_before = self.first > 0
        table.has_after = self.first + len(page) < self.total
        if page:
            table.move_cursor(row=len(page) - 1 if row < 0 else min(row, len(page) - 1))
        self._show_info(len(page))

    @staticmethod
    def _widths(width: int) -> dict[str, int]:
        state = STATE_WIDTH
        rest = max(width - (DATE_WIDTH + 1) - state - 2, 20)
        name = min(NAME_WIDTH, rest * 2 // 5)
        return {"name": name, "action": rest - name, "due": DATE_WIDTH, "state": state}

    def _show_info(self, rows: int) -> None:
        line = Text(t("worklist.summary", n=i18n.number(self.total), late=i18n.number(self.late)),
                    style="bold")
        if self.stages is not None:
            line.append(" · " + ", ".join(code_name("stage", s) for s in self.stages))
        if self.overdue_only:
            line.append(" · " + t("worklist.filter.overdue_only"))
        self.filter_note(line, self.total)
        if self.as_of != self.context.today:
            line.append(" · " + t("worklist.filter.as_of", date=i18n.date(self.as_of)))
        if rows:
            line.append(" · " + t("main.rows", first=i18n.number(self.first + 1),
                                  last=i18n.number(self.first + rows),
                                  total=i18n.number(self.total)))
        self.query_one("#worklist-info", Static).update(line)

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None:
            return
        from screens.case import CaseScreen  # imported on first use

        self.app.push_screen(CaseScreen(self.context, int(event.row_key.value)))

    def action_back(self) -> None:
        if self.filter_escape():
            return
        self.app.pop_screen()
