"""Enrolling candidates in a class, chosen across branches; and enrolling one file from its screen.

`EnrolScreen` lists the files db.classes.candidates offers for the class (open files at
`identified`, or `certified` with an expired certificate; probationary members for a new-member
class). `/` types a filter matched without diacritics against the name and the branch (db.text.fold),
`t` cycles the stage shown; Space marks a row ([x], not colour alone), `a` marks every row shown (or
unmarks them), Enter or Ctrl+S enrols the marked files after a question saying how many. One call,
one transaction: on a refusal the message says why and nobody is enrolled. Dismisses with the
number of people enrolled.

`ClassPicker` (key `k` on a candidate's file) lists the year's awareness classes still planned or
running; Enter enrols the file in the one highlighted.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from db import classes, connection
from db.access import AccessError, NotFound
from db.classes import Candidate, ClassError, ClassRow, TraineeRefused
from db.text import clean, fold
from db.units import UnitNode
from screens.classes import capacity_text, class_error_text, kind_short, short_class_name, stage_short
from screens.dialogs import ConfirmDialog, MessageBox
from screens.main import short_unit_name
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.widgets import InMemoryPages, PagedTable, fit, hide_keys, rename_key, safe, translate_bindings

CLASS_ERRORS = (ClassError, TraineeRefused, AccessError, NotFound)


class CandidatesLoaded(Message):
    def __init__(self, rows: list[Candidate] | None, error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class Enrolled(Message):
    def __init__(self, count: int, error: str | None = None, case_id: int | None = None) -> None:
        super().__init__()
        self.count = count
        self.error = error
        self.case_id = case_id


def matches(candidate: Candidate, words: list[str]) -> bool:
    """Every typed word is in the folded name, branch name or branch code."""
    haystack = " ".join((fold(candidate.full_name), fold(candidate.branch.name),
                         fold(short_unit_name(candidate.branch.name)), fold(candidate.branch.code)))
    return all(word in haystack for word in words)


class EnrolScreen(InMemoryPages, Screen):
    """The candidates for `row` (a class); the marked ones are enrolled together."""

    LIST = "shown"
    CSS_PATH = "classes.tcss"
    HELP_TITLE = "enrol.help_title"
    HELP_NOTES = ("enrol.help_note",)

    BINDINGS = [
        Binding("space", "toggle", "enrol.key_toggle", id="enrol.toggle"),
        Binding("a", "toggle_all", "enrol.key_all", tooltip="enrol.key_all_long", id="enrol.all"),
        Binding("ctrl+s", "enrol", "enrol.key_enrol", priority=True, show=False, id="enrol.save"),
        # priority: the focus moves as the key is read, so that what is typed next (a burst over
        # a slow link) goes where the user meant; each acts only while it means something
        Binding("slash", "filter", "enrol.key_filter", tooltip="enrol.key_filter_long", show=False,
                priority=True, id="enrol.filter"),
        Binding("t", "cycle_stage", "enrol.key_stage", show=False, id="enrol.stage"),
        Binding("enter,down", "to_table", show=False, priority=True),
        Binding("escape", "back", "keys.back", id="enrol.back"),
    ]

    def __init__(self, context: AppContext, row: ClassRow, unit: UnitNode | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.row = row
        self.unit = unit
        self.all: list[Candidate] | None = None
        self.shown: list[Candidate] | None = None
        self.marked: set[int] = set()
        self.stage: str | None = None  # the stage shown (None: every stage)
        self.enrolled = 0  # people enrolled from this screen
        self.first = 0
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static("", id="enrol-title", markup=False)
        with Horizontal(id="enrol-filter-row"):
            yield Label(t("enrol.filter_label"), markup=False, id="enrol-filter-label")
            field = Input(placeholder=t("enrol.filter_placeholder"), id="enrol-filter", compact=True)
            field.cursor_blink = False
            yield field
        yield Static(t("enrol.loading"), id="enrol-info", markup=False)
        table = PagedTable(id="candidates")
        rename_key(table, "enter", t("enrol.key_enrol"))
        hide_keys(table, ["pagedown"])
        yield table
        yield MessageBox(id="enrol-messages")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("enrol.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one(MessageBox).display = False
        self._title()
        self.query_one(PagedTable).focus()
        self._load()

    def _title(self) -> None:
        text = Text(t("enrol.into", kind=kind_short(self.row.kind)) + " ", style="bold")
        text.append_text(safe(short_class_name(self.row.name), style="bold"))
        text.append(" · " + t("enrol.capacity", n=capacity_text(self.row)))
        self.query_one("#enrol-title", Static).update(text)

    def _load(self) -> None:
        self._fetch()

    @work(thread=True, exclusive=True, group="candidates")
    def _fetch(self) -> None:
        try:
            rows = classes.candidates(self.context.actor, self.row.id, self.context.today,
                                      unit_id=self.unit.id if self.unit else None)
            message = CandidatesLoaded(rows)
        except CLASS_ERRORS as exc:
            message = CandidatesLoaded(None, class_error_text(exc))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @on(CandidatesLoaded)
    def _loaded(self, message: CandidatesLoaded) -> None:
        if message.rows is None:
            self.query_one(MessageBox).show([message.error or ""])
            self.all = []
        else:
            self.all = message.rows
        known = {c.case_id for c in self.all}
        self.marked &= known
        self._apply_filter()

    def _apply_filter(self, row: int = 0) -> None:
        words = fold(clean(self.query_one("#enrol-filter", Input).value) or "").split()
        self.shown = [c for c in self.all or []
                      if (self.stage is None or c.stage == self.stage) and matches(c, words)]
        self._show(0, row)

    def _widths(self, width: int) -> dict[str, int]:
        stage = max(len(stage_short(s)) for s in ("identified", "certified", "probationary"))
        # the marks are "[x]"/"[ ]"; the header a word ("Chọn"), not one that looks like a mark
        fixed = {"mark": max(3, len(t("enrol.col.mark"))), "stage": stage, "note": 10}
        rest = max(width - sum(fixed.values()) - 4, 20)
        name = min(max(rest // 2, 12), 28)
        return {**fixed, "name": name, "branch": rest - name}

    def _show(self, first: int, row: int) -> None:
        shown = self.shown or []
        size = self._page_size()
        self.first = max(0, min(first, max(len(shown) - 1, 0)))
        page = shown[self.first:self.first + size]
        table = self.query_one(PagedTable)
        widths = self._widths(table.size.width or self.app.size.width)
        order = ("mark", "name", "branch", "stage", "note")
        table.clear(columns=True)
        for key in order:
            gap = 0 if key == order[-1] else 1
            table.add_column(fit(Text(t(f"enrol.col.{key}")), widths[key]), key=key,
                             width=widths[key] + gap)
        for c in page:
            note = (t("enrol.expired", date=i18n.date(c.certificate_expired_on))
                    if c.certificate_expired_on else "")
            table.add_row(Text("[x]" if c.case_id in self.marked else "[ ]"),
                          fit(safe(c.full_name), widths["name"]),
                          fit(safe(short_unit_name(c.branch.name)), widths["branch"]),
                          Text(stage_short(c.stage)), fit(Text(note), widths["note"]),
                          key=str(c.case_id))
        table.has_before = self.first > 0
        table.has_after = self.first + size < len(shown)
        if page:
            table.move_cursor(row=len(page) - 1 if row < 0 else min(row, len(page) - 1), animate=False)
        self._info()

    def _info(self) -> None:
        shown = self.shown or []
        stage = code_name("stage", self.stage) if self.stage else t("enrol.every_stage")
        text = Text(t("enrol.info", total=i18n.number(len(self.all or [])), shown=i18n.number(len(shown)),
                      stage=stage))
        text.append(" · ")
        text.append(t("enrol.marked", n=i18n.number(len(self.marked))), style="bold")
        self.query_one("#enrol-info", Static).update(text)

    def _current(self) -> Candidate | None:
        table = self.query_one(PagedTable)
        shown = self.shown or []
        index = self.first + max(table.cursor_row, 0)
        return shown[index] if table.row_count and index < len(shown) else None

    # --- keys ---------------------------------------------------------------------------------

    @on(Input.Changed, "#enrol-filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        if self.all is not None:
            self._apply_filter()

    def check_action(self, action: str, parameters) -> bool | None:
        in_filter = isinstance(self.focused, Input)
        if action == "filter":
            return not in_filter  # a "/" typed into the filter is a "/"
        if action == "to_table":
            return in_filter
        return True

    # set_focus, not focus(): the focus moves now, before the next key of a burst is handed on
    def action_to_table(self) -> None:
        self.set_focus(self.query_one(PagedTable))

    def action_filter(self) -> None:
        field = self.query_one("#enrol-filter", Input)
        self.set_focus(field)
        field.cursor_position = len(field.value)  # Ctrl+U or Backspace typed next clears it

    def action_cycle_stage(self) -> None:
        stages = [None] + sorted({c.stage for c in self.all or []})
        self.stage = stages[(stages.index(self.stage) + 1) % len(stages)] if self.stage in stages else None
        self._apply_filter()

    def action_toggle(self) -> None:
        current = self._current()
        if current is None:
            return
        self.marked ^= {current.case_id}
        table = self.query_one(PagedTable)
        row = table.cursor_row
        table.update_cell_at((row, 0), Text("[x]" if current.case_id in self.marked else "[ ]"))
        if row < table.row_count - 1:  # on to the next row, as in a checklist
            table.move_cursor(row=row + 1, animate=False)
        self._info()

    def action_toggle_all(self) -> None:
        ids = {c.case_id for c in self.shown or []}
        if ids and ids <= self.marked:
            self.marked -= ids
        else:
            self.marked |= ids
        self._show(self.first, max(self.query_one(PagedTable).cursor_row, 0))

    @on(DataTable.RowSelected)
    def _enter(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_enrol()

    def action_enrol(self) -> None:
        if self._busy:
            return
        if not self.marked:
            self.query_one(MessageBox).show([t("enrol.none_marked")])
            return
        ids = [c.case_id for c in self.all or [] if c.case_id in self.marked]

        def answered(yes: bool | None) -> None:
            if yes and not self._busy:
                self._busy = True
                self._enrol(ids)

        self.app.push_screen(ConfirmDialog(
            t("enrol.ask", n=i18n.number(len(ids)), name=short_class_name(self.row.name)),
            t("classes.confirm_keys")), answered)

    @work(thread=True, exclusive=True, group="enrol")
    def _enrol(self, ids: list[int]) -> None:
        try:
            classes.enrol(self.context.actor, self.row.id, ids, self.context.today)
            message = Enrolled(len(ids))
        except CLASS_ERRORS as exc:
            case_id = exc.case_id if isinstance(exc, TraineeRefused) else (
                exc.params.get("case_id") if isinstance(exc, ClassError) else None)
            message = Enrolled(0, class_error_text(exc), case_id)
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @on(Enrolled)
    def _enrolled(self, message: Enrolled) -> None:
        self._busy = False
        box = self.query_one(MessageBox)
        if message.error:
            box.show([t("enrol.not_enrolled"), message.error])
            if message.case_id is not None:
                self._go_to(message.case_id)
            return
        self.enrolled += message.count
        self.marked.clear()
        self.row = _with_enrolled(self.row, self.row.enrolled + message.count)
        self._title()
        stage = t("enrol.moved") if self.row.kind == "awareness" else ""
        box.show([t("enrol.done", n=i18n.number(message.count)) + stage], good=True)
        self._load()

    def _go_to(self, case_id: int) -> None:
        shown = self.shown or []
        index = next((i for i, c in enumerate(shown) if c.case_id == case_id), None)
        if index is None:
            return
        size = self._page_size()
        self._show(index - index % size, index % size)

    def action_back(self) -> None:
        field = self.query_one("#enrol-filter", Input)
        if self.focused is field:  # Escape in the filter: clear it, back to the list
            field.value = ""
            self.set_focus(self.query_one(PagedTable))
            return
        if self.marked:
            def answered(yes: bool | None) -> None:
                if yes:
                    self.dismiss(self.enrolled)

            self.app.push_screen(ConfirmDialog(t("enrol.discard", n=i18n.number(len(self.marked))),
                                               t("classes.confirm_keys")), answered)
            return
        self.dismiss(self.enrolled)

    def is_dirty(self) -> bool:
        return bool(self.marked)


def _with_enrolled(row: ClassRow, enrolled: int) -> ClassRow:
    from dataclasses import replace

    return replace(row, enrolled=enrolled)


# --- from a candidate's file -----------------------------------------------------------------

class PickerLoaded(Message):
    def __init__(self, rows: list[ClassRow], error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class ClassPicker(ModalScreen):
    """The year's awareness classes still open for enrolment; Enter enrols the file in the one
    highlighted. Dismisses with a message to show (None: nothing done)."""

    DEFAULT_CSS = """
    ClassPicker { align: center middle; }
    ClassPicker .dialog { width: 78; height: auto; max-height: 20; border: round $primary; padding: 0 1; background: $surface; }
    ClassPicker .dialog-title { text-style: bold; }
    ClassPicker DataTable { height: auto; max-height: 10; }
    ClassPicker .dialog-keys { color: $text-muted; }
    ClassPicker #picker-message { text-style: bold; }
    """

    BINDINGS = [Binding("escape", "close", "keys.close", id="picker.close")]

    def __init__(self, context: AppContext, case_id: int, name: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.case_id = case_id
        self.person = name
        self.rows: list[ClassRow] = []
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(t("picker.title", name=self.person, year=self.context.today.year),
                         classes="dialog-title", markup=False)
            yield DataTable(id="picker", cursor_type="row", cell_padding=0)
            yield Static("", id="picker-message", markup=False)
            yield Static(t("picker.keys"), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#picker-message").display = False
        self.query_one(DataTable).focus()
        self._fetch()

    @work(thread=True, exclusive=True, group="picker")
    def _fetch(self) -> None:
        ctx = self.context
        try:
            rows = [r for r in classes.list_classes(ctx.actor, ctx.today, year=ctx.today.year,
                                                    kind="awareness")
                    if r.status in ("planned", "running")]
            message = PickerLoaded(rows)
        except CLASS_ERRORS as exc:
            message = PickerLoaded([], class_error_text(exc))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @on(PickerLoaded)
    def _loaded(self, message: PickerLoaded) -> None:
        self.rows = message.rows
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_column(t("classes.col.name"), key="name", width=31)
        table.add_column(t("classes.col.start"), key="start", width=11)
        table.add_column(t("classes.col.status"), key="status", width=11)
        table.add_column(t("classes.col.enrolled"), key="enrolled", width=9)
        for row in self.rows:
            table.add_row(fit(safe(short_class_name(row.name)), 30),
                          Text(i18n.date(row.start or row.planned_start)),
                          Text(code_name("class_status", row.status)), Text(capacity_text(row)),
                          key=str(row.id))
        if message.error or not self.rows:
            self._say(message.error or t("picker.none"))

    def _say(self, text: str) -> None:
        line = self.query_one("#picker-message", Static)
        line.update(text)
        line.display = bool(text)

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None or self._busy:
            return
        self._busy = True
        self._enrol(int(event.row_key.value))

    @work(thread=True, exclusive=True, group="picker-enrol")
    def _enrol(self, class_id: int) -> None:
        row = next(r for r in self.rows if r.id == class_id)
        try:
            classes.enrol(self.context.actor, class_id, [self.case_id], self.context.today)
            result = (True, t("picker.done", name=short_class_name(row.name)))
        except CLASS_ERRORS as exc:
            result = (False, class_error_text(exc))
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._finished, *result)

    def _finished(self, ok: bool, text: str) -> None:
        self._busy = False
        if ok:
            self.dismiss(text)
        else:
            self._say(text)

    def action_close(self) -> None:
        self.dismiss(None)
