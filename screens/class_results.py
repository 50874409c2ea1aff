"""The results of a class as a keyboard grid: one row per trainee without a result.

Space cycles the highlighted row's result (passed, failed, left, none); `p`, `f` and `l` set it.
The certificate number and date of the highlighted row are edited in the two fields below the
grid: Enter (or Tab) goes to the number, Enter there keeps it and goes on to the next row, Escape
back to the grid. `s` fills the numbers of every passed row, in order, as a series from a first
number (db.classes.number_series); `d` sets one date for every row (proposed: the class's last
day, or today when that is still to come). Ctrl+S records every row with a result in one
db.classes.record_results call: a refusal says why, marks the row (!) and puts the cursor on it,
and nothing is saved. Dismisses with the number of results recorded.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from db import classes, connection
from db.access import AccessError, NotFound
from db.classes import ClassError, ClassRow, ResultInput, TraineeRefused, Trainee
from screens.classes import class_error_text, results_default_date, short_class_name
from screens.dialogs import FieldError, FormScreen, MessageBox, ValueDialog, parse_date
from screens.main import short_unit_name
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.widgets import InMemoryPages, PagedTable, fit, hide_keys, safe

CYCLE = (None, "passed", "failed", "left")


@dataclass
class GridRow:
    trainee: Trainee
    result: str | None = None
    number: str = ""
    issued: str = ""
    refused: bool = False  # the row the last refusal was about


class ResultsScreen(InMemoryPages, FormScreen):
    """The results of `row` (a class) for the trainees in `pending`."""

    LIST = "rows"
    CSS_PATH = "classes.tcss"
    HELP_TITLE = "results.help_title"
    HELP_NOTES = ("results.help_note",)

    BINDINGS = [
        Binding("space", "cycle", "results.key_cycle", id="results.cycle"),
        Binding("p", "set('passed')", "results.key_passed", show=False, id="results.passed"),
        Binding("f", "set('failed')", "results.key_failed", show=False, id="results.failed"),
        Binding("l", "set('left')", "results.key_left", show=False, id="results.left"),
        Binding("s", "series", "results.key_series", tooltip="results.key_series_long",
                id="results.series"),
        Binding("d", "date_all", "results.key_date", tooltip="results.key_date_long",
                id="results.date"),
        Binding("ctrl+s", "save", "form.keys.save", priority=True, id="results.save"),
        # priority: the focus and the row move as the key is read, so that the digits typed next
        # (a burst over a slow link) go into the right field of the right row
        Binding("enter", "enter", "results.key_edit", priority=True, show=False, id="results.edit"),
    ]

    def __init__(self, context: AppContext, row: ClassRow, pending: list[Trainee]) -> None:
        super().__init__()
        self.context = context
        self.row = row
        self.default_date = i18n.date(results_default_date(row, context.today))
        self.rows: list[GridRow] | None = [GridRow(tr, issued=self.default_date) for tr in pending]
        self.first = 0
        self._busy = False
        self._editing: int | None = None  # the row whose values the editor holds

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static("", id="results-title", markup=False)
        yield Static(t("results.hint"), id="results-hint", markup=False)
        table = PagedTable(id="results")
        hide_keys(table, ["pagedown", "enter"])
        yield table
        with Horizontal(id="results-editor"):
            yield Label(t("results.number"), markup=False, classes="editor-label")
            number = Input(id="in-number", compact=True)
            number.cursor_blink = False
            yield number
            yield Label(t("results.issued"), markup=False, classes="editor-label")
            issued = Input(id="in-issued", compact=True, placeholder=t("form.date_placeholder"))
            issued.cursor_blink = False
            yield issued
        yield MessageBox(id="results-messages")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("results.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one(MessageBox).display = False
        self.query_one(PagedTable).focus()
        self._show(0, 0)

    # --- the grid ---------------------------------------------------------------------------

    def _widths(self, width: int) -> dict[str, int]:
        result = max(len(code_name("class_result", r)) for r in classes.RESULTS)
        fixed = {"mark": 1, "result": result, "number": 12, "issued": 10}
        rest = max(width - sum(fixed.values()) - 5, 20)
        name = min(max(rest * 3 // 5, 12), 28)
        return {"mark": 1, "name": name, "branch": rest - name, **{k: v for k, v in fixed.items() if k != "mark"}}

    def _cells(self, row: GridRow, widths: dict[str, int]) -> list[Text]:
        passed = row.result == "passed"
        return [Text("!" if row.refused else "", style="bold"),
                fit(safe(row.trainee.full_name), widths["name"]),
                fit(safe(short_unit_name(row.trainee.branch.name if row.trainee.branch else "")),
                    widths["branch"]),
                Text(code_name("class_result", row.result) if row.result else "–",
                     style="bold" if row.result else "dim"),
                fit(safe(row.number if passed else ""), widths["number"]),
                Text(row.issued if row.result else "")]

    def _show(self, first: int, row: int) -> None:
        rows = self.rows or []
        size = self._page_size()
        self.first = max(0, min(first, max(len(rows) - 1, 0)))
        page = rows[self.first:self.first + size]
        table = self.query_one(PagedTable)
        widths = self._widths(table.size.width or self.app.size.width)
        order = ("mark", "name", "branch", "result", "number", "issued")
        table.clear(columns=True)
        for key in order:
            gap = 0 if key == order[-1] else 1
            label = "" if key == "mark" else t(f"results.col.{key}")
            table.add_column(fit(Text(label), widths[key]), key=key, width=widths[key] + gap)
        for index, grid_row in enumerate(page):
            table.add_row(*self._cells(grid_row, widths), key=str(self.first + index))
        table.has_before = self.first > 0
        table.has_after = self.first + size < len(rows)
        if page:
            table.move_cursor(row=len(page) - 1 if row < 0 else min(row, len(page) - 1), animate=False)
        self._title()
        self._load_editor()

    def _redraw_row(self, index: int) -> None:
        table = self.query_one(PagedTable)
        at = index - self.first
        if 0 <= at < table.row_count:
            widths = self._widths(table.size.width or self.app.size.width)
            for column, cell in enumerate(self._cells(self.rows[index], widths)):
                table.update_cell_at((at, column), cell)
        self._title()

    def _title(self) -> None:
        rows = self.rows or []
        counts = {r: sum(1 for g in rows if g.result == r) for r in classes.RESULTS}
        text = safe(short_class_name(self.row.name), style="bold")
        text.append(" · " + t("results.counts", n=i18n.number(len(rows)),
                              passed=i18n.number(counts["passed"]),
                              failed=i18n.number(counts["failed"] + counts["left"]),
                              open=i18n.number(sum(1 for g in rows if g.result is None))))
        self.query_one("#results-title", Static).update(text)

    def _index(self) -> int | None:
        table = self.query_one(PagedTable)
        rows = self.rows or []
        index = self.first + max(table.cursor_row, 0)
        return index if table.row_count and index < len(rows) else None

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._load_editor()

    def _load_editor(self) -> None:
        index = self._index()
        row = self.rows[index] if index is not None else None
        self._editing = index
        for name, value in (("number", row.number if row else ""), ("issued", row.issued if row else "")):
            field = self.query_one(f"#in-{name}", Input)
            field.value = value
            field.cursor_position = len(value)

    @on(Input.Changed, "#in-number")
    def _number_typed(self, event: Input.Changed) -> None:
        index = self._editing
        if index is None or not event.input.has_focus or index >= len(self.rows):
            return
        row = self.rows[index]
        if event.value.strip() == row.number:
            return
        row.number = event.value.strip()
        if row.number and row.result is None:
            row.result = "passed"  # a number typed: the trainee passed
        self._redraw_row(index)

    @on(Input.Changed, "#in-issued")
    def _issued_typed(self, event: Input.Changed) -> None:
        index = self._editing
        if index is None or not event.input.has_focus or index >= len(self.rows):
            return
        if event.value.strip() == self.rows[index].issued:
            return
        self.rows[index].issued = event.value.strip()
        self._redraw_row(index)

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "enter":  # a dialog above this screen has its own Enter
            return self.app.screen is self
        return True

    def action_enter(self) -> None:
        """Enter in the grid: edit the row's number. In the number or the date: keep it and go
        on to the next row (same field)."""
        focused = self.focused
        if not isinstance(focused, Input):
            # set_focus, not focus(): the focus moves now, before the next key is handed on
            self.set_focus(self.query_one("#in-number", Input))
            return
        table = self.query_one(PagedTable)
        index = self._index()
        if index is None:
            return
        if index + 1 < len(self.rows):
            if table.cursor_row + 1 < table.row_count:
                table.move_cursor(row=table.cursor_row + 1, animate=False)
            else:
                self._show(self.first + self._page_size(), 0)
            self._load_editor()
        else:
            self.set_focus(table)

    # --- keys ---------------------------------------------------------------------------------

    def is_dirty(self) -> bool:
        return any(r.result is not None or r.number for r in self.rows or [])

    def action_cancel(self) -> None:
        if isinstance(self.focused, Input):  # Escape in a field: back to the grid
            self.set_focus(self.query_one(PagedTable))
            return
        super().action_cancel()

    def _set(self, result: str | None) -> None:
        index = self._index()
        if index is None:
            return
        self.rows[index].result = result
        self._redraw_row(index)

    def action_cycle(self) -> None:
        index = self._index()
        if index is None:
            return
        current = self.rows[index].result
        self._set(CYCLE[(CYCLE.index(current) + 1) % len(CYCLE)])

    def action_set(self, result: str) -> None:
        index = self._index()
        if index is None:
            return
        self._set(result)
        table = self.query_one(PagedTable)
        if table.cursor_row < table.row_count - 1:  # on to the next trainee
            table.move_cursor(row=table.cursor_row + 1, animate=False)

    def action_series(self) -> None:
        passed = [r for r in self.rows or [] if r.result == "passed"]
        if not passed:
            self.query_one(MessageBox).show([t("results.no_passed")])
            return

        def answered(first: str | None) -> None:
            if not first:
                return
            try:
                numbers = classes.number_series(first, len(passed))
            except ClassError as exc:
                self.query_one(MessageBox).show([class_error_text(exc)])
                return
            for row, number in zip(passed, numbers):
                row.number = number
            self.query_one(MessageBox).show([t("results.series_done", first=numbers[0],
                                                last=numbers[-1], n=i18n.number(len(numbers)))],
                                            good=True)
            self._show(self.first, max(self.query_one(PagedTable).cursor_row, 0))

        first = next((r.number for r in passed if r.number), "")
        self.app.push_screen(ValueDialog(t("results.series_title"), t("results.series_label"),
                                         value=first,
                                         note=t("results.series_note", n=i18n.number(len(passed)))),
                             answered)

    def action_date_all(self) -> None:
        def answered(day: datetime.date | None) -> None:
            if not day:
                return
            for row in self.rows or []:
                row.issued = i18n.date(day)
            self.default_date = i18n.date(day)
            self._show(self.first, max(self.query_one(PagedTable).cursor_row, 0))

        self.app.push_screen(ValueDialog(t("results.date_title"), t("results.issued"),
                                         value=self.default_date, kind="date"), answered)

    # --- saving -------------------------------------------------------------------------------

    def _refuse(self, index: int | None, message: str) -> None:
        for row in self.rows or []:
            row.refused = False
        if index is not None:
            self.rows[index].refused = True
            size = self._page_size()
            self._show(index - index % size, index % size)
        else:
            self._show(self.first, max(self.query_one(PagedTable).cursor_row, 0))
        self.query_one(MessageBox).show([t("results.not_saved"), message])

    def action_save(self) -> None:
        if self._busy:
            return
        inputs, indexes = [], []
        for index, row in enumerate(self.rows or []):
            if row.result is None:
                continue
            name = row.trainee.full_name
            if row.result == "passed" and not row.number:
                self._refuse(index, t("results.number_missing", name=name))
                return
            try:
                issued = parse_date(row.issued) if row.issued else None
            except FieldError as exc:
                self._refuse(index, f"{name}: {exc}")
                return
            inputs.append(ResultInput(row.trainee.case_id, row.result,
                                      row.number if row.result == "passed" else None, issued,
                                      person_id=None if row.trainee.case_id else row.trainee.person_id))
            indexes.append(index)
        if not inputs:
            self.query_one(MessageBox).show([t("results.none_set")])
            return
        self._busy = True
        self._record(inputs)

    @work(thread=True, exclusive=True, group="results")
    def _record(self, inputs: list[ResultInput]) -> None:
        try:
            classes.record_results(self.context.actor, self.row.id, inputs, self.context.today)
            result = (True, len(inputs), None)
        except (ClassError, TraineeRefused, AccessError, NotFound) as exc:
            case_id = exc.case_id if isinstance(exc, TraineeRefused) else (
                exc.params.get("case_id") if isinstance(exc, ClassError) else None)
            result = (False, class_error_text(exc), case_id)
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._finished, *result)

    def _finished(self, ok: bool, payload, case_id: int | None) -> None:
        self._busy = False
        if ok:
            self.dismiss(payload)
            return
        index = next((i for i, r in enumerate(self.rows or []) if case_id is not None
                      and r.trainee.case_id == case_id), None)
        self._refuse(index, payload)
