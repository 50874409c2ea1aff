"""The people behind one of the progress screen's numbers: the year's admissions, the people sent
to class, the members on a date (db.progress.admitted_list, sent_to_class_list, members_list).
The admissions may also be those of another span of dates (`first`..`last`): the term's, behind
the progress screen's term line, or one month's, behind a bar of its monthly chart; the caller
then names the list (`title`) and the count's line gives the two dates.

One screen for the three: a title saying which list of which unit, the count as of which day, and
a table (name, branch, date, what: the decision's number, the class, official or probationary)
shown a screenful at a time. Enter on a row opens the person's file where there is one (members
admitted before the files were kept here have none); Escape goes back.
"""

from __future__ import annotations

import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from db import connection, progress
from db.access import AccessError, NotFound
from db.cases import UnitRef
from db.progress import Behind
from screens.classes import short_class_name
from screens.main import short_unit_name
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.widgets import (FilterRow, InMemoryPages, ListFilter, PagedTable, filter_bindings,
                         filter_match, fit, safe, translate_bindings)

Date = datetime.date
KINDS = ("admitted", "sent", "members")
DATE_WIDTH = 10
NAME_WIDTH = 24
BRANCH_WIDTH = 20


class BehindLoaded(Message):
    def __init__(self, rows: list[Behind] | None, error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.error = error


def fetch(context: AppContext, kind: str, unit_id: int, year: int, as_of: Date, *,
          first: Date | None = None, last: Date | None = None) -> list[Behind]:
    """The list behind the number `kind` (one of KINDS); `first`..`last`: the admissions of
    that span instead of the year's."""
    actor = context.actor
    if kind == "admitted":
        return progress.admitted_list(actor, unit_id, year, as_of, first=first, last=last)
    if kind == "sent":
        return progress.sent_to_class_list(actor, unit_id, year, as_of)
    if kind == "members":
        return progress.members_list(actor, unit_id, as_of)
    raise ValueError(kind)


class BehindScreen(ListFilter, InMemoryPages, Screen):
    """The people counted in one number of the progress screen, a page at a time."""

    LIST = "rows"
    FILTER = "behind"
    CSS_PATH = "behind.tcss"
    HELP_TITLE = "behind.help_title"
    HELP_NOTES = ("behind.help_note",)

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="behind.back"),
        *filter_bindings("behind", "filters.key_filter_long"),
    ]

    def __init__(self, context: AppContext, kind: str, unit: UnitRef, year: int, as_of: Date, *,
                 first: Date | None = None, last: Date | None = None, title: str | None = None) -> None:
        if kind not in KINDS or (first is not None and kind != "admitted"):
            raise ValueError(kind)
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.kind = kind
        self.unit = unit
        self.year = year
        self.as_of = as_of
        # a span of admissions other than the year's (the term's, a month's), and its name
        self.span = (first, last or as_of) if first is not None else None
        self.list_title = title
        self.rows: list[Behind] | None = None  # those shown (the `/` filter applied)
        self.all_rows: list[Behind] | None = None
        self.first = 0  # index of the first row on the page shown

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(t("behind.loading"), id="behind-info", markup=False)
        yield FilterRow("behind", "filters.placeholder")
        yield PagedTable(id="behind")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # the as-of date is on the count's line: a long unit name would push it out of the header
        self.title = self.list_title or t(f"behind.title.{self.kind}", year=self.year,
                                          unit=self.unit.name)
        self.sub_title = ""  # nor today's date, cut in half after a long title
        self.query_one(PagedTable).focus()
        self._load()

    @work(thread=True, exclusive=True, group="behind")
    def _load(self) -> None:
        try:
            first, last = self.span or (None, None)
            message = BehindLoaded(fetch(self.context, self.kind, self.unit.id, self.year, self.as_of,
                                         first=first, last=last))
        except NotFound:
            message = BehindLoaded(None, t("progress.not_found"))
        except AccessError:
            message = BehindLoaded(None, t("behind.forbidden"))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @on(BehindLoaded)
    def _loaded(self, message: BehindLoaded) -> None:
        if message.rows is None:
            self.query_one("#behind-info", Static).update(Text(message.error or "", style="bold"))
            return
        self.all_rows = message.rows
        self._filter_changed()

    def _filter_changed(self) -> None:
        """The rows read, less those where a word typed after `/` starts no word of the name,
        the branch or the last column."""
        if self.all_rows is None:
            return
        words = self.filter_words()
        self.rows = [item for item in self.all_rows
                     if filter_match(words, item.full_name,
                                     item.branch.name if item.branch else None,
                                     self._what(item).plain)]
        self._show(0, 0)

    # --- drawing ----------------------------------------------------------------------------

    def _show(self, first: int, row: int) -> None:
        rows = self.rows or []
        size = self._page_size()
        self.first = max(0, min(first, max(len(rows) - 1, 0)))
        page = rows[self.first:self.first + size]
        table = self.query_one(PagedTable)
        widths = self._widths(table.size.width or self.app.size.width)
        table.clear(columns=True)
        for key in ("name", "branch", "date", "what"):
            gap = 0 if key == "what" else 1
            table.add_column(fit(Text(t(f"behind.col.{self.kind}.{key}")), widths[key]), key=key,
                             width=widths[key] + gap)
        for index, item in enumerate(page, start=self.first):
            table.add_row(fit(safe(item.full_name), widths["name"]),
                          fit(safe(short_unit_name(item.branch.name) if item.branch else ""),
                              widths["branch"]),
                          Text(i18n.date(item.date)),
                          fit(self._what(item), widths["what"]),
                          key=str(index))
        table.has_before = self.first > 0
        table.has_after = self.first + size < len(rows)
        if page:
            table.move_cursor(row=len(page) - 1 if row < 0 else min(row, len(page) - 1))
        self._show_info(len(page))

    def _what(self, item: Behind) -> Text:
        if self.kind == "members":
            return Text(code_name("party_status", item.what))
        if self.kind == "sent":  # all awareness classes: "khóa 2 năm 2021" tells them apart
            return safe(short_class_name(item.what or ""))
        return safe(item.what or "")

    @staticmethod
    def _widths(width: int) -> dict[str, int]:
        rest = max(width - (DATE_WIDTH + 1) - 2, 30)
        name = min(NAME_WIDTH, rest * 2 // 5)
        branch = min(BRANCH_WIDTH, (rest - name) // 2)
        return {"name": name, "branch": branch, "date": DATE_WIDTH, "what": rest - name - branch}

    def _show_info(self, shown: int) -> None:
        rows = self.rows or []
        day = i18n.date(self.as_of)
        if self.kind == "members":
            official = sum(1 for r in rows if r.what == "official")
            line = Text(t("behind.count.members", n=i18n.number(len(rows)), date=day,
                          official=i18n.number(official),
                          probationary=i18n.number(len(rows) - official)), style="bold")
        elif self.span is not None:
            line = Text(t("behind.count.admitted_span", n=i18n.number(len(rows)),
                          first=i18n.date(self.span[0]), last=i18n.date(self.span[1])), style="bold")
        else:
            line = Text(t(f"behind.count.{self.kind}", n=i18n.number(len(rows)), date=day),
                        style="bold")
        self.filter_note(line, len(rows))
        if not self.all_rows:
            line.append(" · " + t("behind.none"))
        if shown:
            line.append(" · " + t("main.rows", first=i18n.number(self.first + 1),
                                  last=i18n.number(self.first + shown), total=i18n.number(len(rows))))
        self.query_one("#behind-info", Static).update(line)

    # --- keys -------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None or self.rows is None:
            return
        item = self.rows[int(event.row_key.value)]
        if item.case_id is None:
            self.notify(t("behind.no_file", name=item.full_name), markup=False, timeout=4)
            return
        from screens.case import CaseScreen  # imported on first use

        self.app.push_screen(CaseScreen(self.context, item.case_id))

    def action_back(self) -> None:
        if self.filter_escape():
            return
        self.app.pop_screen()
