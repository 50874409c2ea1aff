"""Classes: the awareness class for candidates and the new-member class for probationary members.

`ClassListScreen` (key `k` on the main screen) lists the classes of the unit whose people are
listed (and of the units above it) for one year, with the year's plan above ("Kế hoạch 2021: 4/5
lớp đã mở (80 %), 152 học viên") and the warnings below (certificates about to expire with no
branch vote, probation ending with no new-member class); `[`/`]` (or `-`/`+`) change the year,
`n` plans a class (`ClassForm`), Enter opens it (`ClassScreen`: its data and trainees; `e` enrols,
`r` records results, `c` changes the class in the same `ClassForm`, Enter opens a trainee's
file). Enrolment and results live in screens/class_enrol.py and screens/class_results.py.

Every read and write goes through db.classes in a thread worker; a refusal (ClassError,
TraineeRefused, AccessError, NotFound) is shown as a sentence in the user's language
(`class_error_text`) and nothing is saved.
"""

from __future__ import annotations

import datetime
import string
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Select, Static

from db import classes, connection
from db.access import AccessError, NotFound, may_override, may_write
from db.classes import ClassError, ClassRow, ClassView, TraineeRefused, Trainee
from db.units import UnitNode
from screens.dialogs import FormField, FormScreen, MessageBox, collect
from screens.main import short_unit_name
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.messages import error_message, not_allowed, rule_message
from tui.widgets import (FilterRow, InMemoryPages, ListFilter, PagedTable, filter_bindings,
                         filter_terms, fit, hide_keys, rename_key, safe, terms_match,
                         translate_bindings)

DATE_WIDTH = 10

# --- shared helpers --------------------------------------------------------------------------

_DATE_PARAMS = ("date", "start", "due")


def class_error_text(exc: Exception) -> str:
    """A refusal from db.classes (or db.access) as a sentence in the user's language."""
    if isinstance(exc, TraineeRefused):
        reasons = "; ".join(rule_message(v.code, v.params, screen=True).rstrip(".")
                            for v in exc.violations)
        return t("class_error.trainee_refused", name=exc.full_name, case_id=exc.case_id,
                 reasons=reasons)
    if isinstance(exc, ClassError):
        key = f"class_error.{exc.code}"
        if not i18n.has(key):
            return safe(exc.code).plain
        template = i18n.catalogue()[key][i18n.language()]
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        return t(key, **{name: _param(name, exc.params.get(name)) for name in names})
    if isinstance(exc, AccessError):
        return t("classes.forbidden") if exc.code == "forbidden" else error_message(exc)
    if isinstance(exc, NotFound):
        return t("classes.not_found")
    raise exc


def _param(name: str, value) -> str:
    if value is None:
        return ""
    if name == "stage":
        return code_name("stage", str(value))
    if name == "status":
        return code_name("class_status", str(value))
    if name == "result":
        return code_name("class_result", str(value))
    if name == "field":
        key = f"classes.field.{value}"
        return t(key) if i18n.has(key) else safe(value).plain
    if name in _DATE_PARAMS and isinstance(value, str):
        try:
            return i18n.date(datetime.date.fromisoformat(value))
        except ValueError:
            pass
    if isinstance(value, int) and not isinstance(value, bool):
        return i18n.number(value)
    return safe(value).plain


def show_key(node, key: str, description: str) -> None:
    """Show `key` in the footer with `description` (DataTable's own Enter is hidden)."""
    from dataclasses import replace

    bindings = node._bindings
    if key in bindings.key_to_bindings:
        bindings.key_to_bindings[key] = [replace(b, description=description, show=True)
                                         for b in bindings.key_to_bindings[key]]


def short_class_name(name: str) -> str:
    """A class's name without the kind that starts it ("Lớp bồi dưỡng ..., khóa 2 năm 2021" ->
    "khóa 2 năm 2021"): the kind has its own column."""
    head, sep, rest = name.partition(", ")
    return rest if sep and rest and head.lower().startswith("lớp") else name


def kind_short(kind: str) -> str:
    key = f"classes.kind_short.{kind}"
    return t(key) if i18n.has(key) else code_name("class_kind", kind)


def stage_short(stage: str | None) -> str:
    if not stage:
        return ""
    key = f"main.stage_short.{stage}"
    return t(key) if i18n.has(key) else code_name("stage", stage)


def class_dates(row: ClassRow) -> str:
    """When the class runs (or is planned to start)."""
    if row.start is None:
        return t("classes.planned_for", date=i18n.date(row.planned_start))
    if row.end is None or row.end == row.start:
        return t("classes.from", date=i18n.date(row.start))
    return t("classes.from_to", start=i18n.date(row.start), end=i18n.date(row.end))


def capacity_text(row: ClassRow) -> str:
    if row.capacity is None:
        return i18n.number(row.enrolled)
    return f"{i18n.number(row.enrolled)}/{i18n.number(row.capacity)}"


def results_default_date(row: ClassRow, today: datetime.date) -> datetime.date:
    """The certificates' date the results grid proposes: the class's last day, or today when
    that is still to come."""
    end = row.end or row.start or today
    return min(end, today)


def plan_line(progress: classes.PlanProgress | None, year: int) -> str:
    if progress is None or progress.planned is None:
        return t("classes.no_plan", year=year)
    percent = progress.percent if progress.percent is not None else 0
    return t("classes.plan", year=year, held=i18n.number(progress.held),
             planned=i18n.number(progress.planned), percent=i18n.number(percent),
             trainees=i18n.number(progress.trainees))


# --- the class list --------------------------------------------------------------------------

@dataclass(frozen=True)
class ListData:
    year: int
    rows: list[ClassRow]
    progress: classes.PlanProgress | None  # the awareness plan
    new_member: classes.PlanProgress | None
    warnings: list[classes.Warning]
    error: str | None = None


class ClassesLoaded(Message):
    def __init__(self, data: ListData, seq: int) -> None:
        super().__init__()
        self.data = data
        self.seq = seq


def load_list(context: AppContext, unit_id: int | None, year: int) -> ListData:
    actor, today = context.actor, context.today
    try:
        rows = classes.list_classes(actor, today, unit_id=unit_id, year=year)
        # the plan of the unit that planned the classes (usually the district), else the unit's own
        planners = [unit_id] if unit_id is not None else []
        planners += [r.unit.id for r in rows if r.unit.id not in planners]
        progress = new_member = None
        for kind in ("awareness", "new_member"):
            found = None
            for planner in planners:
                found = classes.plan_progress(actor, planner, year, today, kind)
                if found.planned is not None:
                    break
            if kind == "awareness":
                progress = found
            else:
                new_member = found
        warnings = classes.warnings(actor, today, unit_id)
    except (NotFound, AccessError) as exc:
        return ListData(year, [], None, None, [], class_error_text(exc))
    return ListData(year, rows, progress, new_member, warnings)


class ClassListScreen(ListFilter, InMemoryPages, Screen):
    """The classes of a unit and a year, the year's plan and the warnings. The classes are held
    in memory and shown a page at a time (a province's year is 1,500 classes: drawing them all
    took a third of a second at each key typed into the filter)."""

    FILTER = "classes"
    CSS_PATH = "classes.tcss"
    HELP_TITLE = "classes.help_title"
    HELP_NOTES = ("classes.help_note",)

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="classes.back"),
        *filter_bindings("classes", "filters.key_filter_long"),
        Binding("n", "new_class", "classes.key_new", tooltip="classes.key_new_long",
                id="classes.new"),
        Binding("left_square_bracket", "year(-1)", "classes.key_year", key_display="[ ]",
                tooltip="classes.key_year_long", id="classes.year"),
        Binding("minus", "year(-1)", "classes.key_previous_year", show=False, key_display="-",
                id="classes.previous_year"),
        Binding("right_square_bracket", "year(1)", "classes.key_next_year", show=False,
                key_display="]", id="classes.next_year"),
        Binding("plus", "year(1)", "classes.key_next_year", show=False, key_display="+",
                id="classes.next_year_plus"),
    ]

    def __init__(self, context: AppContext, unit: UnitNode | None, year: int | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.unit = unit
        self.year = year or context.today.year
        self.data: ListData | None = None
        self.rows: list[ClassRow] = []  # the year's classes shown (the `/` filter applied)
        self.first = 0  # the index in `rows` of the page's first row
        self._terms: list[tuple[str, ...]] | None = None  # each row's words, made at the first `/` key
        self._seq = 0
        self._select: int | None = None  # the class to put the cursor on once loaded
        if not may_override(context.actor):
            hide_keys(self, ["n"])  # still answers, to say who plans classes

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(t("classes.loading"), id="classes-info", markup=False)
        yield Static("", id="classes-plan", markup=False)
        yield FilterRow("classes", "filters.placeholder")
        table = PagedTable(id="classes")
        show_key(table, "enter", t("classes.key_open"))
        hide_keys(table, ["pagedown"])  # the footer is full at 80 columns; in the help
        yield table
        yield Static("", id="classes-message", markup=False)
        yield Static("", id="warnings-title", markup=False)
        yield DataTable(id="class-warnings", cursor_type="row", cell_padding=0)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("classes.title", unit=self.unit.name if self.unit else t("accounts.everything"))
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one("#classes-message").display = False
        self.query_one("#class-warnings").display = False
        self.query_one("#classes", DataTable).focus()
        self._load()

    def on_screen_resume(self) -> None:
        if self.data is not None:
            self._load()  # enrolments and results change the counts

    def _load(self) -> None:
        self._seq += 1
        self._fetch(self._seq, self.year)

    @work(thread=True, exclusive=True, group="classes")
    def _fetch(self, seq: int, year: int) -> None:
        try:
            data = load_list(self.context, self.unit.id if self.unit else None, year)
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(ClassesLoaded(data, seq))

    @on(ClassesLoaded)
    def _loaded(self, message: ClassesLoaded) -> None:
        if message.seq != self._seq:
            return
        data = self.data = message.data
        self._terms = None  # those of the rows read before
        keep = self._select
        if keep is None:
            row = self.current()
            keep = row.id if row is not None else None
        self._select = None
        self._fill(data, keep)
        plan = Text(plan_line(data.progress, data.year), style="bold")
        if data.new_member is not None and data.new_member.planned is not None:
            plan.append(" · " + t("classes.plan_new_member", held=i18n.number(data.new_member.held),
                                  planned=i18n.number(data.new_member.planned)))
        self.query_one("#classes-plan", Static).update(plan)
        if data.error:
            self.say(data.error)
        self._fill_warnings(data.warnings)

    def _widths(self, width: int) -> dict[str, int]:
        def longest(key: str, values) -> int:
            return max([len(t(f"classes.col.{key}"))] + [len(v) for v in values])

        fixed = {"kind": longest("kind", [kind_short(k) for k in classes.KINDS]),
                 "start": DATE_WIDTH,
                 "status": longest("status", [code_name("class_status", s) for s in classes.STATUSES]),
                 "enrolled": longest("enrolled", ["100/100"]), "passed": longest("passed", ["100"])}
        rest = max(width - sum(fixed.values()) - len(fixed) - 1, 12)
        return {**fixed, "name": rest}

    def _filter_changed(self) -> None:
        if self.data is not None:
            row = self.current()
            self._fill(self.data, row.id if row is not None else None)

    def _fill(self, data: ListData, keep: int | None) -> None:
        """The year's classes, less those where a word typed after `/` starts no word of the
        kind, the name, the status or the organiser; the page holding `keep` if it is shown,
        with the cursor on it, else the first class not finished."""
        words = self.filter_words()
        if not words:
            self.rows = list(data.rows)
        else:
            if self._terms is None:
                self._terms = [filter_terms(kind_short(row.kind), code_name("class_kind", row.kind),
                                            row.name, code_name("class_status", row.status), row.organiser)
                               for row in data.rows]
            self.rows = [row for row, terms in zip(data.rows, self._terms) if terms_match(words, terms)]
        index = next((i for i, r in enumerate(self.rows) if r.id == keep), None)
        if index is None:  # the first class not finished: what one works on
            index = next((i for i, r in enumerate(self.rows) if r.status in ("planned", "running")), 0)
        size = self._page_size()
        self._show(index - index % size, index % size)  # _show moves a short last page back

    def _show(self, first: int, cursor: int) -> None:
        """The page of `rows` from `first`, the cursor on its row `cursor` (-1: the last)."""
        if self.data is None:
            return
        size = self._page_size()
        wanted = first + cursor  # the row the cursor goes to, wherever the page starts
        self.first = max(0, min(first, len(self.rows) - size))  # the last page is a full one
        if cursor >= 0:
            cursor = wanted - self.first
        page = self.rows[self.first:self.first + size]
        info = Text(t("classes.info", year=self.data.year, n=i18n.number(len(self.rows))), style="bold")
        if len(self.rows) > size:  # more than a page: which rows are shown
            info.append(" · " + t("main.rows", first=i18n.number(self.first + 1),
                                  last=i18n.number(self.first + len(page)),
                                  total=i18n.number(len(self.rows))))
        self.query_one("#classes-info", Static).update(self.filter_note(info, len(self.rows)))
        table = self.query_one("#classes", PagedTable)
        widths = self._widths(table.size.width or self.app.size.width)
        order = ("kind", "name", "start", "status", "enrolled", "passed")
        table.clear(columns=True)
        for key in order:
            gap = 0 if key == order[-1] else 1
            table.add_column(fit(Text(t(f"classes.col.{key}")), widths[key]), key=key,
                             width=widths[key] + gap)
        for row in page:
            table.add_row(
                Text(kind_short(row.kind)),
                fit(safe(short_class_name(row.name)), widths["name"]),
                Text(i18n.date(row.start or row.planned_start)),
                Text(code_name("class_status", row.status)),
                Text(capacity_text(row)),
                Text(i18n.number(row.passed) if row.passed or row.failed else ""),
                key=str(row.id))
        table.has_before = self.first > 0
        table.has_after = self.first + size < len(self.rows)
        if page:
            table.move_cursor(row=len(page) - 1 if cursor < 0 else min(cursor, len(page) - 1), animate=False)

    def _fill_warnings(self, warnings: list[classes.Warning]) -> None:
        title = self.query_one("#warnings-title", Static)
        table = self.query_one("#class-warnings", DataTable)
        table.display = bool(warnings)
        if not warnings:
            title.update(t("classes.no_warnings"))
            return
        title.update(Text(t("classes.warnings", n=i18n.number(len(warnings))), style="bold"))
        width = table.size.width or self.app.size.width
        name_w = min(24, max(width * 2 // 7, 12))
        branch_w = min(18, max(width // 6, 8))
        table.clear(columns=True)
        # the height set here, not left to the table: it learns its rows' height only when
        # idle, and was drawn without rows in between (classes.tcss: at most 4 rows and the header)
        table.styles.height = min(len(warnings), 4) + 1
        table.add_column(t("main.col.name"), key="name", width=name_w + 1)
        table.add_column(t("main.col.branch"), key="branch", width=branch_w + 1)
        rest = max(width - name_w - branch_w - 3, 10)
        table.add_column(t("classes.col.warning"), key="warning", width=rest)
        for w in warnings[:500]:  # the first 500 (a province's worth would not be read anyway)
            key = f"classes.warning_short.{w.code}"
            text = t(key, due=i18n.date(w.due)) if i18n.has(key) else t(f"class_warning.{w.code}",
                                                                         due=i18n.date(w.due))
            table.add_row(fit(safe(w.full_name), name_w), fit(safe(short_unit_name(w.branch.name)), branch_w),
                          fit(Text(text), rest), key=str(w.case_id))

    def say(self, message: str | None) -> None:
        line = self.query_one("#classes-message", Static)
        line.update(message or "")
        line.display = bool(message)

    def current(self) -> ClassRow | None:
        table = self.query_one("#classes", PagedTable)
        if self.data is None or not table.row_count or table.cursor_row < 0:
            return None
        index = self.first + table.cursor_row
        return self.rows[index] if index < len(self.rows) else None

    # --- keys ---------------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.filter_escape():
            return
        self.app.pop_screen()

    def action_year(self, step: int) -> None:
        self.year += step
        self.say(None)
        self._load()

    @on(DataTable.RowSelected, "#classes")
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None:
            return
        self.say(None)  # about what was done before; stale once back from the class
        self.app.push_screen(ClassScreen(self.context, int(event.row_key.value), self.unit))

    @on(DataTable.RowSelected, "#class-warnings")
    def _open_warning(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None:
            return
        from screens.case import CaseScreen  # imported on first use

        self.app.push_screen(CaseScreen(self.context, int(event.row_key.value)))

    def action_new_class(self) -> None:
        if not may_override(self.context.actor):
            self.say(not_allowed(self.context.actor, "classes.forbidden"))
            return
        if self.unit is None:
            self.say(t("classes.pick_unit"))
            return
        numbers = {kind: 1 + sum(1 for r in (self.data.rows if self.data else []) if r.kind == kind)
                   for kind in classes.KINDS}

        def saved(class_id: int | None) -> None:
            if class_id:
                self.say(t("classes.planned_done"))
                self._select = class_id
                self._load()

        self.app.push_screen(ClassForm(self.context, self.unit, self.year, numbers), saved)


# --- planning a class ------------------------------------------------------------------------

class ClassForm(FormScreen):
    """A new class of `unit`: kind, name, planned start, start, end, place, capacity. Dismisses
    with the new class's id.

    Given `row` (a class), the same form changes that class instead (key `c` on the class): its
    fields prefilled, the kind shown but not changeable, a status added; it saves only the fields
    that changed (`db.classes.update_class`) and dismisses with the names of the fields changed
    (an empty list when nothing was)."""

    CSS_PATH = "classes.tcss"
    HELP_TITLE = "classes.form_title"
    HELP_NOTES = ()

    BINDINGS = [Binding("ctrl+s", "save", "form.keys.save", priority=True, id="class_form.save")]

    FIELDS = ("name", "planned_start", "start", "end", "place", "capacity")

    def __init__(self, context: AppContext, unit: UnitNode | None, year: int,
                 numbers: dict[str, int] | None = None, *, row: ClassRow | None = None) -> None:
        super().__init__()
        self.context = context
        self.unit = unit
        self.year = year
        self.numbers = numbers or {}
        self.row = row
        self._busy = False
        self._suggested = self._suggest("awareness")
        if row is not None:
            self.HELP_TITLE = "classes.edit_title"

    def _suggest(self, kind: str) -> str:
        return t(f"classes.suggest_name.{kind}", n=self.numbers.get(kind, 1), year=self.year)

    def _initial(self) -> dict[str, str]:
        """The fields' text when the form opens: the class's values, or a new class's."""
        row = self.row
        if row is None:
            return {"name": self._suggested}
        return {"name": row.name, "planned_start": i18n.date(row.planned_start),
                "start": i18n.date(row.start), "end": i18n.date(row.end), "place": row.place or "",
                "capacity": "" if row.capacity is None else str(row.capacity)}

    def compose(self) -> ComposeResult:
        row = self.row
        initial = self._initial()
        title = (t("classes.form_title_in", unit=self.unit.name) if row is None
                 else t("classes.edit_title_of", name=short_class_name(row.name)))
        with Vertical(id="class-form"):
            yield Static(title, id="class-form-title", markup=False)
            with VerticalScroll(id="class-fields", can_focus=False):
                with Horizontal(classes="form-row"):
                    yield Label(t("classes.field.kind") + (" *" if row is None else ""),
                                classes="form-label", markup=False)
                    if row is None:
                        yield Select([(code_name("class_kind", k), k) for k in classes.KINDS],
                                     value="awareness", allow_blank=False, compact=True, id="in-kind")
                    else:  # not changeable: shown as text
                        yield Static(code_name("class_kind", row.kind), id="class-kind", markup=False)
                if row is not None:
                    with Horizontal(classes="form-row"):
                        yield Label(t("classes.field.status") + " *", classes="form-label",
                                    markup=False)
                        yield Select([(code_name("class_status", s), s) for s in classes.STATUSES],
                                     value=row.status, allow_blank=False, compact=True,
                                     id="in-status")
                yield FormField("name", t("classes.field.name"), required=True, value=initial["name"])
                yield FormField("planned_start", t("classes.field.planned_start"), kind="date",
                                required=True, value=initial.get("planned_start", ""))
                yield FormField("start", t("classes.field.start"), kind="date",
                                value=initial.get("start", ""))
                yield FormField("end", t("classes.field.end"), kind="date", value=initial.get("end", ""))
                yield FormField("place", t("classes.field.place"), value=initial.get("place", ""))
                yield FormField("capacity", t("classes.field.capacity"), kind="count",
                                value=initial.get("capacity", ""))
                note = (t("classes.form_note") if row is None
                        else t("classes.edit_note", n=i18n.number(row.enrolled)))
                yield Static(note, classes="form-note", markup=False)
            yield MessageBox(id="class-messages")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(MessageBox).display = False
        first = "#in-kind" if self.row is None else "#in-status"
        self.call_after_refresh(self.query_one(first, Select).focus)

    @on(Select.Changed, "#in-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str):
            return
        field = self._field("name")
        if field is not None and field.input.value == self._suggested:
            self._suggested = self._suggest(event.value)
            field.input.value = self._suggested
            field.initial = self._suggested

    def is_dirty(self) -> bool:
        if self.row is not None:
            return super().is_dirty() or self.query_one("#in-status", Select).value != self.row.status
        return super().is_dirty() or self.query_one("#in-kind", Select).value != "awareness"

    def _field(self, name: str) -> FormField | None:
        found = [f for f in self.query(FormField) if f.field_name == name]
        return found[0] if found else None

    def _changes(self, values: dict) -> dict:
        """The values that differ from the class's (a name or place retyped the same is none)."""
        row = self.row
        changes = {}
        for name in self.FIELDS:
            before = getattr(row, name)
            after = values.get(name)
            if name in ("name", "place"):
                if (after or "").strip() == (before or "").strip():
                    continue
            elif after == before:
                continue
            changes[name] = after
        status = self.query_one("#in-status", Select).value
        if status != row.status:
            changes["status"] = status
        return changes

    def action_save(self) -> None:
        if self._busy:
            return
        values, bad = collect(self.query(FormField))
        if bad is not None:
            bad.input.focus()
            self.query_one(MessageBox).show([t("step.fix_fields")])
            return
        if values.get("capacity") == 0:
            field = self._field("capacity")
            field.show_error(t("classes.error.capacity"))
            field.input.focus()
            self.query_one(MessageBox).show([t("step.fix_fields")])
            return
        if self.row is not None:
            changes = self._changes(values)
            if not changes:
                self.dismiss([])
                return
            self._busy = True
            self._update(changes)
            return
        values["kind"] = self.query_one("#in-kind", Select).value
        self._busy = True
        self._save(values)

    @work(thread=True, exclusive=True, group="class-form")
    def _save(self, values: dict) -> None:
        ctx = self.context
        try:
            class_id = classes.new_class(
                ctx.actor, kind=values["kind"], name=values["name"], unit_id=self.unit.id,
                planned_start=values["planned_start"], start=values.get("start"),
                end=values.get("end"), place=values.get("place"), capacity=values.get("capacity"),
                today=ctx.today)
            result = ("saved", class_id, None)
        except (ClassError, AccessError, NotFound) as exc:
            result = ("error", _form_error_text(exc), _error_field(exc))
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._finished, result)

    @work(thread=True, exclusive=True, group="class-form")
    def _update(self, changes: dict) -> None:
        ctx = self.context
        try:
            classes.update_class(ctx.actor, self.row.id, ctx.today, **changes)
            result = ("saved", sorted(changes), None)
        except (ClassError, AccessError, NotFound) as exc:
            result = ("error", _form_error_text(exc), _error_field(exc))
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._finished, result)

    def _finished(self, result: tuple) -> None:
        self._busy = False
        kind, payload, field_name = result
        if kind == "saved":
            self.dismiss(payload)
            return
        field = self._field(field_name) if field_name else None
        if field is not None:
            field.show_error(payload)
            field.input.focus()
        elif field_name == "status" and self.row is not None:
            self.query_one("#in-status", Select).focus()
        self.query_one(MessageBox).show([t("step.not_saved"), payload])


def _form_error_text(exc: Exception) -> str:
    """A refusal of the form's values, said about the field where the form can say it better."""
    if isinstance(exc, ClassError):
        if exc.code == "over_capacity" and "adding" not in exc.params:  # a capacity set too low
            return t("classes.error.capacity_below", capacity=_param("capacity", exc.params.get("capacity")),
                     enrolled=_param("enrolled", exc.params.get("enrolled")))
        if exc.code == "bad_value" and exc.params.get("field") == "end":
            return t("classes.error.end_before_start")
    return class_error_text(exc)


def _error_field(exc: Exception) -> str | None:
    """The form field a refusal is about (over capacity: the capacity)."""
    if not isinstance(exc, ClassError):
        return None
    if exc.code == "over_capacity":
        return "capacity"
    return exc.params.get("field")


# --- one class -------------------------------------------------------------------------------

class ClassLoaded(Message):
    def __init__(self, view: ClassView | None, error: str | None = None) -> None:
        super().__init__()
        self.view = view
        self.error = error


def class_summary(row: ClassRow, hidden: int = 0) -> Text:
    text = safe(row.name, style="bold")
    text.append("\n" + code_name("class_kind", row.kind) + " · ")
    text.append(code_name("class_status", row.status), style="bold")
    text.append(" · ")
    text.append_text(safe(row.organiser))
    text.append("\n" + class_dates(row))
    if row.place:
        text.append(" · ")
        text.append_text(safe(row.place))
    text.append("\n" + t("classes.counts", enrolled=capacity_text(row), passed=i18n.number(row.passed),
                         failed=i18n.number(row.failed)))
    if hidden:
        text.append(" " + t("classes.hidden", n=i18n.number(hidden)), style="italic")
    return text


class ClassScreen(InMemoryPages, Screen):
    """One class: its data and its trainees. `e` enrols, `r` records results, `c` changes the
    class (organisers and administrators; help-only, the footer being full at 80 columns)."""

    LIST = "trainees"
    CSS_PATH = "classes.tcss"
    HELP_TITLE = "classes.view_help_title"
    HELP_NOTES = ()

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="class.back"),
        Binding("e", "enrol", "classes.key_enrol", tooltip="classes.key_enrol_long", id="class.enrol"),
        Binding("r", "results", "classes.key_results", tooltip="classes.key_results_long",
                id="class.results"),
        # help-only: the footer is full at 80 columns
        Binding("c", "edit", "classes.key_edit", show=False, tooltip="classes.key_edit_long",
                id="class.edit"),
    ]

    def __init__(self, context: AppContext, class_id: int, unit: UnitNode | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.class_id = class_id
        self.unit = unit  # the unit whose candidates the enrolment offers (None: the account's)
        self.view: ClassView | None = None
        self.trainees: list[Trainee] | None = None
        self.first = 0
        if not may_write(context.actor):
            hide_keys(self, ["e", "r"])
        if not may_override(context.actor):
            rename_key(self, "c", "")  # out of the help too; still answers, to say who may

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(t("classes.loading_class"), id="class-summary", markup=False)
        yield Static("", id="class-message", markup=False)
        yield PagedTable(id="trainees")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("classes.view_title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one("#class-message").display = False
        table = self.query_one(PagedTable)
        hide_keys(table, ["pagedown"])
        table.focus()
        self._load()

    def _load(self) -> None:
        self._fetch()

    @work(thread=True, exclusive=True, group="class")
    def _fetch(self) -> None:
        try:
            view = classes.class_view(self.context.actor, self.class_id, self.context.today)
            message = ClassLoaded(view)
        except (NotFound, AccessError) as exc:
            message = ClassLoaded(None, class_error_text(exc))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @on(ClassLoaded)
    def _loaded(self, message: ClassLoaded) -> None:
        if message.view is None:
            self.query_one("#class-summary", Static).update(message.error or "")
            return
        self.view = message.view
        self.title = short_class_name(message.view.row.name)
        self.trainees = list(message.view.trainees)
        self.query_one("#class-summary", Static).update(class_summary(message.view.row, message.view.hidden))
        table = self.query_one(PagedTable)
        self._show(self.first, max(table.cursor_row, 0))

    def _widths(self, width: int) -> dict[str, int]:
        stage = max(len(stage_short(s)) for s in ("identified", "in_class", "certified", "probationary"))
        result = max(len(code_name("class_result", r)) for r in classes.RESULTS)
        fixed = {"stage": stage, "result": result, "number": 11, "issued": DATE_WIDTH}
        rest = max(width - sum(fixed.values()) - 6, 20)
        name = min(max(rest * 3 // 5, 12), 28)
        return {"name": name, "branch": rest - name, **fixed}

    def _show(self, first: int, row: int) -> None:
        trainees = self.trainees or []
        size = self._page_size()
        self.first = max(0, min(first, max(len(trainees) - 1, 0)))
        page = trainees[self.first:self.first + size]
        table = self.query_one(PagedTable)
        widths = self._widths(table.size.width or self.app.size.width)
        order = ("name", "branch", "stage", "result", "number", "issued")
        table.clear(columns=True)
        for key in order:
            gap = 0 if key == order[-1] else 1
            label = t("main.col.name") if key == "name" else t(f"classes.col.{key}")
            table.add_column(fit(Text(label), widths[key]), key=key,
                             width=widths[key] + gap)
        for trainee in page:
            table.add_row(
                fit(safe(trainee.full_name), widths["name"]),
                fit(safe(short_unit_name(trainee.branch.name if trainee.branch else "")), widths["branch"]),
                Text(stage_short(trainee.stage)),
                Text(code_name("class_result", trainee.result)),
                fit(safe(trainee.certificate_number), widths["number"]),
                Text(i18n.date(trainee.certificate_issued)),
                key=str(trainee.enrolment_id))
        table.has_before = self.first > 0
        table.has_after = self.first + size < len(trainees)
        if page:
            table.move_cursor(row=len(page) - 1 if row < 0 else min(row, len(page) - 1), animate=False)

    def say(self, message: str | None) -> None:
        line = self.query_one("#class-message", Static)
        line.update(message or "")
        line.display = bool(message)

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None or not self.trainees:
            return
        enrolment = int(event.row_key.value)
        trainee = next((tr for tr in self.trainees if tr.enrolment_id == enrolment), None)
        if trainee is None or trainee.case_id is None:
            self.say(t("classes.no_file"))
            return
        from screens.case import CaseScreen  # imported on first use

        self.app.push_screen(CaseScreen(self.context, trainee.case_id))

    def action_back(self) -> None:
        self.app.pop_screen()

    def _writable(self) -> bool:
        if self.view is None:
            return False
        if not may_write(self.context.actor):
            self.say(t("case.hidden.read_only"))
            return False
        return True

    def action_enrol(self) -> None:
        if not self._writable():
            return
        row = self.view.row
        if row.status in ("finished", "cancelled"):
            self.say(class_error_text(ClassError("class_closed", status=row.status)))
            return
        from screens.class_enrol import EnrolScreen  # imported on first use

        def done(count: int | None) -> None:
            if count:
                self.say(t("classes.enrolled_done", n=i18n.number(count)))
            self._load()

        self.app.push_screen(EnrolScreen(self.context, row, self.unit), done)

    def action_results(self) -> None:
        if not self._writable():
            return
        pending = [tr for tr in self.trainees or [] if tr.result is None]
        if not pending:
            self.say(t("classes.no_pending"))
            return
        from screens.class_results import ResultsScreen  # imported on first use

        def done(count: int | None) -> None:
            if count:
                self.say(t("classes.results_done", n=i18n.number(count)))
            self._load()

        self.app.push_screen(ResultsScreen(self.context, self.view.row, pending), done)

    def action_edit(self) -> None:
        if self.view is None:
            return
        if not may_override(self.context.actor):
            self.say(not_allowed(self.context.actor, "classes.forbidden"))
            return
        row = self.view.row

        def done(changed: list[str] | None) -> None:
            if changed is None:  # cancelled
                return
            self.say(t("classes.edited_done") if changed else t("classes.edit_unchanged"))
            if changed:
                self._load()

        self.app.push_screen(ClassForm(self.context, None, row.year, row=row), done)
