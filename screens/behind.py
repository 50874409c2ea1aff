"""The people behind one of the progress screen's numbers: the year's admissions, the people sent
to class, the members on a date (db.progress.admitted_list, sent_to_class_list, members_list).
The admissions may also be those of another span of dates (`first`..`last`): the term's, behind
the progress screen's term line, or one month's, behind a bar of its monthly chart; the caller
then names the list (`title`) and the count's line gives the two dates.

One screen for the three: a title saying which list of which unit, the count as of which day, and
a table (name, branch, date, what: the decision's number, the class, official or probationary)
shown a screenful at a time. Enter on a row opens the person's file where there is one (members
admitted before the files were kept here have none); Escape goes back.

The admissions and the people sent to class are a year's (tens of thousands on a province): their
keys (person, file, date: db.progress.admitted_keys, sent_keys) are read whole and kept, the names
of a page read when it is shown, and `/` filters what the rows show, reading them a chunk at a
time. The members are a
province's hundreds of thousands: they are read a page at a time from the database in name order
(db.progress.members_page, keyset cursors), counted apart (members_count, or the progress panel's
figures when given), and `/` filters them by name in the database.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace

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
from db.progress import Behind, BehindPage
from screens.classes import short_class_name
from screens.main import short_unit_name
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.widgets import (FilterRow, ListFilter, PagedTable, filter_bindings, filter_match, fit, safe,
                         translate_bindings)

Date = datetime.date
KINDS = ("admitted", "sent", "members")
DATE_WIDTH = 10
NAME_WIDTH = 24
BRANCH_WIDTH = 20


PAGED = ("members",)  # the lists read a page at a time from the database
DEFAULT_ROWS = 20  # a page until the table has been laid out


class BehindLoaded(Message):
    """The keys of a list kept whole (db.progress.admitted_keys, sent_keys), in its order."""

    def __init__(self, keys: list[tuple] | None, error: str | None = None) -> None:
        super().__init__()
        self.keys = keys
        self.error = error


class RowsRead(Message):
    """The rows of a page of a list kept whole, read from its keys (request `seq`)."""

    def __init__(self, seq: int, first: int, row: int, rows: list[Behind], has_after: bool) -> None:
        super().__init__()
        self.seq = seq
        self.first = first
        self.row = row
        self.rows = rows
        self.has_after = has_after


class KeysFiltered(Message):
    """The keys of a list kept whole whose rows match the filter of generation `generation`."""

    def __init__(self, generation: int, keys: list[tuple]) -> None:
        super().__init__()
        self.generation = generation
        self.keys = keys


@dataclass(frozen=True)
class PageAsked:
    """A page of a paged list asked of the database: after the row `after` (or before the row
    `before`, or the first page), `first` the number of rows before it, `row` the cursor's row
    on it (-1: the last)."""

    seq: int
    limit: int
    name_filter: str
    after: tuple[str, int] | None = None
    before: tuple[str, int] | None = None
    first: int = 0
    row: int = 0


class PageLoaded(Message):
    def __init__(self, asked: PageAsked, page: BehindPage | None, first: int,
                 error: str | None = None) -> None:
        super().__init__()
        self.asked = asked
        self.page = page
        self.first = first
        self.error = error


class Counted(Message):
    """(official, probationary) of the paged list with the filter of generation `generation`."""

    def __init__(self, generation: int, counts: tuple[int, int]) -> None:
        super().__init__()
        self.generation = generation
        self.counts = counts


FILTER_CHUNK = 2000  # rows read at a time while a list kept whole is filtered


def fetch_keys(context: AppContext, kind: str, unit_id: int, year: int, as_of: Date, *,
               first: Date | None = None, last: Date | None = None) -> list[tuple]:
    """The keys of the list behind the number `kind` ("admitted" or "sent"), in its order;
    `first`..`last`: the admissions of that span instead of the year's."""
    actor = context.actor
    if kind == "admitted":
        return progress.admitted_keys(actor, unit_id, year, as_of, first=first, last=last)
    if kind == "sent":
        return progress.sent_keys(actor, unit_id, year, as_of)
    raise ValueError(kind)


def rows_of(kind: str, keys: list[tuple]) -> list[Behind]:
    """The rows of `keys` (of fetch_keys), in their order."""
    return progress.admitted_rows(keys) if kind == "admitted" else progress.sent_rows(keys)


class BehindScreen(ListFilter, Screen):
    """The people counted in one number of the progress screen, a page at a time."""

    FILTER = "behind"
    CSS_PATH = "behind.tcss"
    HELP_TITLE = "behind.help_title"
    HELP_NOTES = ("behind.help_note",)

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="behind.back"),
        *filter_bindings("behind", "filters.key_filter_long"),
    ]

    def __init__(self, context: AppContext, kind: str, unit: UnitRef, year: int, as_of: Date, *,
                 first: Date | None = None, last: Date | None = None, title: str | None = None,
                 counts: tuple[int, int] | None = None) -> None:
        """`counts`: (official, probationary) of a paged list when the caller knows them (the
        progress panel's figures), so that they are not counted again."""
        if kind not in KINDS or (first is not None and kind != "admitted"):
            raise ValueError(kind)
        super().__init__()
        self.paged = kind in PAGED
        if self.paged:  # filtered by name in the database, not by what the rows show
            self._bindings.key_to_bindings["slash"] = [
                replace(b, tooltip="search.key_filter_long") for b in self._bindings.key_to_bindings["slash"]]
        translate_bindings(self)
        self.context = context
        self.kind = kind
        self.unit = unit
        self.year = year
        self.as_of = as_of
        # a span of admissions other than the year's (the term's, a month's), and its name
        self.span = (first, last or as_of) if first is not None else None
        self.list_title = title
        # kept whole (admitted, sent): the keys of the rows (a province's year is tens of
        # thousands), those the `/` filter keeps, and the rows of the page shown
        self.all_keys: list[tuple] | None = None
        self.keys: list[tuple] | None = None
        self.rows: list[Behind] = []
        # read a page at a time (members): the page shown, and the counts of the list filtered
        self.page: BehindPage | None = None
        self.known = counts  # those of the list without a filter
        self.counts: tuple[int, int] | None = counts
        self._seq = 0  # the latest page asked for
        self._asked: PageAsked | None = None
        self._shown: PageAsked | None = None  # the one whose result is shown
        self._queued: list[PagedTable.PageRequested] = []  # page turns asked for while loading
        self._generation = 0  # of the filter: a count of an older filter is not shown
        # the reads of the filter typed last: a key typed next stops them (a province's count
        # runs for a second, and a thread cannot be cancelled)
        self._counting: connection.Stoppable | None = None
        self._reading: connection.Stoppable | None = None
        self.first = 0  # index of the first row on the page shown (kept whole: asked for)
        self._drawn_first = 0  # that of the rows in the table
        self._rows_seq = 0  # the latest page of a list kept whole asked for

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(t("behind.loading"), id="behind-info", markup=False)
        yield FilterRow("behind", "search.filter_placeholder" if self.paged else "filters.placeholder")
        yield PagedTable(id="behind")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # the as-of date is on the count's line: a long unit name would push it out of the header
        self.title = self.list_title or t(f"behind.title.{self.kind}", year=self.year,
                                          unit=self.unit.name)
        self.sub_title = ""  # nor today's date, cut in half after a long title
        self.query_one(PagedTable).focus()
        if self.paged:
            self._ask(first=0, row=0)
            if self.counts is None:
                self._start_count("")
        else:
            self._load()

    # --- kept whole -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="behind")
    def _load(self) -> None:
        try:
            first, last = self.span or (None, None)
            message = BehindLoaded(fetch_keys(self.context, self.kind, self.unit.id, self.year,
                                              self.as_of, first=first, last=last))
        except NotFound:
            message = BehindLoaded(None, t("progress.not_found"))
        except AccessError:
            message = BehindLoaded(None, t("behind.forbidden"))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @on(BehindLoaded)
    def _loaded(self, message: BehindLoaded) -> None:
        if message.keys is None:
            self._say_error(message.error)
            return
        self.all_keys = message.keys
        self._filter_changed()

    @work(thread=True, exclusive=True, group="behind-filter")
    def _filter_keys(self, generation: int, words: list[str], keys: list[tuple]) -> None:
        """The keys whose rows match `words`, the rows read a chunk at a time (a province's
        list is not held whole as rows)."""
        kept = []
        try:
            for start in range(0, len(keys), FILTER_CHUNK):
                chunk = keys[start:start + FILTER_CHUNK]
                for key, item in zip(chunk, rows_of(self.kind, chunk)):
                    if filter_match(words, item.full_name, item.branch.name if item.branch else None,
                                    self._what(item).plain):
                        kept.append(key)
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(KeysFiltered(generation, kept))

    @on(KeysFiltered)
    def _keys_filtered(self, message: KeysFiltered) -> None:
        if message.generation == self._generation:
            self.keys = message.keys
            self._show(0, 0)

    def _say_error(self, error: str | None) -> None:
        self.query_one("#behind-info", Static).update(Text(error or "", style="bold"))

    def _filter_changed(self) -> None:
        """Read whole: the rows read, less those where a word typed after `/` starts no word of
        the name, the branch or the last column. Paged: the first page of the names matching
        what was typed, read again, and counted again."""
        if self.paged:
            self._generation += 1
            self._queued.clear()
            text = self.filter_text.strip()
            self.counts = self.known if not text else None
            self._stop_reads()
            self._ask(first=0, row=0)
            if self.counts is None:
                self._start_count(text)
            return
        if self.all_keys is None:
            return
        self._generation += 1
        words = self.filter_words()
        if not words:
            self.keys = self.all_keys
            self._show(0, 0)
        else:
            self._filter_keys(self._generation, words, self.all_keys)

    # --- read a page at a time --------------------------------------------------------------

    def _stop_reads(self) -> None:
        """Stop the page and the count being read for what was typed before."""
        for reading in (self._reading, self._counting):
            if reading is not None:
                reading.stop()
        self._reading = self._counting = None

    def on_unmount(self) -> None:
        self._stop_reads()

    def _start_count(self, name_filter: str) -> None:
        self._counting = connection.Stoppable()
        self._count(self._generation, name_filter, self._counting)

    def _ask(self, *, first: int, row: int, after: tuple[str, int] | None = None,
             before: tuple[str, int] | None = None) -> None:
        self._seq += 1
        self._asked = PageAsked(self._seq, self._page_size(), self.filter_text.strip(), after=after,
                                before=before, first=first, row=row)
        self._reading = connection.Stoppable()
        self._fetch_page(self._asked, self._reading)

    @work(thread=True, exclusive=True, group="behind")
    def _fetch_page(self, asked: PageAsked, reading: connection.Stoppable) -> None:
        actor = self.context.actor

        def read(**cursor) -> BehindPage:
            with reading:
                return progress.members_page(actor, self.unit.id, self.as_of, limit=asked.limit,
                                             name_filter=asked.name_filter or None, **cursor)

        try:
            if asked.before is not None:
                page = read(before=asked.before)
                first = asked.first - len(page.rows)
                if not page.has_before:  # back at the start: a full first page
                    first = 0
                    if len(page.rows) < asked.limit:
                        page = read()
            else:
                page, first = read(after=asked.after), asked.first
            message = PageLoaded(asked, page, first)
        except connection.Stopped:
            return  # a later key asked for another page
        except NotFound:
            message = PageLoaded(asked, None, 0, t("progress.not_found"))
        except AccessError:
            message = PageLoaded(asked, None, 0, t("behind.forbidden"))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @work(thread=True, exclusive=True, group="behind-count")
    def _count(self, generation: int, name_filter: str, counting: connection.Stoppable) -> None:
        """Counted apart from the pages: the page is shown without waiting for the count (a
        province's members with a common name typed: half a second); stopped by the next key."""
        try:
            with counting:
                counts = progress.members_count(self.context.actor, self.unit.id, self.as_of,
                                                name_filter=name_filter or None)
        except (NotFound, AccessError, connection.Stopped):
            return  # said by the page's reading, or another filter typed since
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(Counted(generation, counts))

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        if message.asked.seq != self._seq:
            return  # a newer page is on its way
        if message.page is None:
            self._say_error(message.error)
            return
        self._shown = message.asked
        self.page = message.page
        self.first = message.first
        self._draw(message.page.rows, self.first, self.first > 0, message.page.has_after,
                   message.asked.row)
        if message.page.rows and self._page_size() != message.asked.limit:
            # the table changed size while the page was read (the filter's row shown or
            # hidden): the same first row, as many rows as now fit
            top = message.page.rows[0]
            self._ask(after=(top.sort_key, top.person_id - 1), first=self.first,
                      row=max(self.query_one(PagedTable).cursor_row, 0))
        elif self._queued:
            self._turn_page(self._queued.pop(0))

    @on(Counted)
    def _counted(self, message: Counted) -> None:
        if message.generation != self._generation:
            return
        self.counts = message.counts
        if self.page is not None and self._shown is not None and self._shown.seq == self._seq:
            self._show_info(len(self.page.rows))

    def _turn_page(self, message: PagedTable.PageRequested) -> None:
        if self._asked is not None and self._shown is not self._asked:
            # a page is on its way: turn from it once it is shown (keys held down over a slow
            # link must not lose pages, nor pile up without end)
            if len(self._queued) < 10:
                self._queued.append(message)
            return
        page = self.page
        if page is None or not page.rows:
            return
        if message.step > 0 and page.has_after:
            self._ask(after=page.rows[-1].cursor, first=self.first + len(page.rows), row=message.row)
        elif message.step < 0 and self.first > 0:
            self._ask(before=page.rows[0].cursor, first=self.first, row=message.row)
        elif message.step == 0:
            self._ask(first=0, row=message.row)

    # --- pages ------------------------------------------------------------------------------

    def _page_size(self) -> int:
        table = self.query_one(PagedTable)
        if table.size.height > 1:
            return table.size.height - 1  # less the column headings
        # before the first layout: the terminal less the header, the count's line, the
        # headings and the footer (a resize reads the page again if this was wrong)
        return self.app.size.height - 4 if self.app.size.height > 8 else DEFAULT_ROWS

    def on_paged_table_page_requested(self, message: PagedTable.PageRequested) -> None:
        message.stop()
        if self.paged:
            self._turn_page(message)
            return
        size = self._page_size()
        self._show(0 if message.step == 0 else self.first + message.step * size, message.row)

    def on_paged_table_resized(self, message: PagedTable.Resized) -> None:
        message.stop()
        row = max(self.query_one(PagedTable).cursor_row, 0)
        if not self.paged:
            if self.keys is not None:
                self._show(self.first, row)
            return
        page, shown = self.page, self._shown
        if page is None or shown is None or shown is not self._asked:
            return  # nothing shown yet, or a page on its way (its size is fixed when asked)
        if page.rows and self._page_size() != shown.limit:
            # the same first row, as many rows as now fit (ids are integers: id - 1 is just before)
            top = page.rows[0]
            self._ask(after=(top.sort_key, top.person_id - 1), first=self.first, row=row)
        else:
            self._draw(page.rows, self.first, self.first > 0, page.has_after, row)

    # --- drawing ----------------------------------------------------------------------------

    def _show(self, first: int, row: int) -> None:
        """Kept whole: the page starting with the row `first` of those the filter keeps, its
        names read in a worker (a page's rows, by their keys: a few milliseconds, 20 ms for a
        province's term). `first` moves now, so that page turns typed meanwhile count from it."""
        keys = self.keys or []
        size = self._page_size()
        self.first = max(0, min(first, max(len(keys) - 1, 0)))
        self._rows_seq += 1
        self._read_rows(self._rows_seq, self.first, row, keys[self.first:self.first + size],
                        self.first + size < len(keys))

    @work(thread=True, exclusive=True, group="behind-rows")
    def _read_rows(self, seq: int, first: int, row: int, keys: list[tuple], has_after: bool) -> None:
        try:
            rows = rows_of(self.kind, keys) if keys else []
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(RowsRead(seq, first, row, rows, has_after))

    @on(RowsRead)
    def _rows_read(self, message: RowsRead) -> None:
        if message.seq != self._rows_seq:
            return  # a newer page is on its way
        self.rows = message.rows
        self._draw(message.rows, message.first, message.first > 0, message.has_after, message.row)

    def _draw(self, page, first: int, has_before: bool, has_after: bool, row: int) -> None:
        self._drawn_first = first  # the rows' keys in the table count from it
        table = self.query_one(PagedTable)
        widths = self._widths(table.size.width or self.app.size.width)
        with self.app.batch_update():
            table.clear(columns=True)
            for key in ("name", "branch", "date", "what"):
                gap = 0 if key == "what" else 1
                table.add_column(fit(Text(t(f"behind.col.{self.kind}.{key}")), widths[key]), key=key,
                                 width=widths[key] + gap)
            for index, item in enumerate(page, start=first):
                table.add_row(fit(safe(item.full_name), widths["name"]),
                              fit(safe(short_unit_name(item.branch.name) if item.branch else ""),
                                  widths["branch"]),
                              Text(i18n.date(item.date)),
                              fit(self._what(item), widths["what"]),
                              key=str(index))
            table.has_before = has_before
            table.has_after = has_after
            if page:
                table.move_cursor(row=len(page) - 1 if row < 0 else min(row, len(page) - 1),
                                  animate=False)
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
        info = self.query_one("#behind-info", Static)
        line = self._info_line(shown, split=True)
        if self.paged and line.cell_len > info.size.width - 2 > 0:
            # the official/probationary split left out (it is on the progress panel) rather
            # than which rows are shown (a province's members at 80 columns)
            line = self._info_line(shown, split=False)
        info.update(line)

    def _info_line(self, shown: int, *, split: bool) -> Text:
        """The count's line: how many as of when (the members: how many official and
        probationary, when `split`), the filter, which rows are shown."""
        day = i18n.date(self.as_of)
        if self.paged:
            total = sum(self.counts) if self.counts is not None else None
            if self.counts is None:
                line = Text(t("behind.counting", date=day), style="bold")
            elif self.filter_text.strip() or not split:
                line = Text(t("behind.count.members_short", n=i18n.number(total), date=day),
                            style="bold")
            else:
                official, probationary = self.counts
                line = Text(t("behind.count.members", n=i18n.number(total), date=day,
                              official=i18n.number(official),
                              probationary=i18n.number(probationary)), style="bold")
            self.filter_note(line, shown if total is None else total)
            empty = not shown and not self.filter_text.strip()
        else:
            total = len(self.keys or [])
            if self.span is not None:
                line = Text(t("behind.count.admitted_span", n=i18n.number(total),
                              first=i18n.date(self.span[0]), last=i18n.date(self.span[1])), style="bold")
            else:
                line = Text(t(f"behind.count.{self.kind}", n=i18n.number(total), date=day),
                            style="bold")
            self.filter_note(line, total)
            empty = not self.all_keys
        if empty:
            line.append(" · " + t("behind.none"))
        if shown:
            line.append(" · " + t("main.rows", first=i18n.number(self._drawn_first + 1),
                                  last=i18n.number(self._drawn_first + shown),
                                  total="…" if total is None else i18n.number(total)))
        return line

    # --- keys -------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None:
            return
        index = int(event.row_key.value)
        rows = self.page.rows if self.paged and self.page is not None else self.rows
        index -= self._drawn_first
        if not 0 <= index < len(rows):
            return
        item = rows[index]
        if item.case_id is None:
            self.notify(t("behind.no_file", name=item.full_name), markup=False, timeout=4)
            return
        from screens.case import CaseScreen  # imported on first use

        self.app.push_screen(CaseScreen(self.context, item.case_id))

    def action_back(self) -> None:
        if self.filter_escape():
            return
        self.app.pop_screen()
