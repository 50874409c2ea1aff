"""Reorganising units: a unit's organisational history, and the six changes (domain.md section 2).

`ReorganiseScreen` (key `o` on the main screen) shows the history of the unit chosen in the tree
(`db.reorganise.history`: effective date, kind, decision, made from / became, old -> new name)
and offers one key per change: `n` found a unit under it, `r` rename, `m` merge, `s` split,
`d` dissolve, `t` transfer, and, on a province or district committee, `G` the guided 2025
reorganisation of the province (screens/reorganise_2025.py). Only organisers and administrators may change units
(`db.access.may_override`); for the others the keys are neither in the footer nor in the help,
and pressing one says why nothing happens. The history is for everyone who sees the unit.

Each change is a form (`ChangeForm`, `SplitForm`): decision number, decision date, effective date
(today unless changed), note, and the kind's own fields. Units are typed as a code or a name,
diacritics optional, resolved with `db.units.find_unit`. Ctrl+S first shows a preview
(`PreviewScreen`): the db function is run for real inside a write transaction that is then rolled
back (its audit entry is never published), so the preview says exactly what saving would do;
Enter or Ctrl+S there saves, Escape goes back to the form with everything typed kept. A refusal
(db.reorganise.ChangeError) is shown at the field it is about, in the user's language.

A unit whose end date is after today (a change recorded ahead of its effective day) is said to
end on that date, not to have ended.

Going back to the main screen reloads its tree (as of today) and puts the cursor on the unit
acted on, or on the unit that received it when it ended.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Select, Static

from db import connection, people, reorganise, units
from db.access import AccessError, NotFound, may_override
from db.people import PersonRow
from db.reorganise import ChangeError, Decision, HistoryEntry, NewUnit, Outcome
from db.units import UnitLookupError, UnitNode
from screens.dialogs import FieldError, FormField, FormScreen, MessageBox, collect, parse_date
from screens.main import status_label
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.messages import not_allowed
from tui.reorganise_text import change_error_text
from tui.widgets import (FilterRow, ListFilter, filter_bindings, filter_match, fit, safe,
                         translate_bindings)

ACTION_KEYS = ("n", "r", "m", "s", "d", "t")
GUIDE_KEY = "G"  # the 2025 reorganisation (screens/reorganise_2025.py): a province, or a district
GUIDE_LEVELS = ("province", "district")
MOVING_KINDS = ("merge", "split", "dissolve")  # the units acted on end
MAX_RESULTS = 3  # a split's new units in the form
PEOPLE_LIMIT = 100_000  # a split lists every person of the unit


def _kind(kind: str) -> str:
    return code_name("change_kind", kind)


def _codes(codes) -> str:
    return ", ".join(codes)


def _hide_actions(node, keys=ACTION_KEYS + (GUIDE_KEY,)) -> None:
    """Out of the footer and out of the help (F1): the keys stay bound, to say why they do
    nothing for this account."""
    bindings = node._bindings
    for key in keys:
        if key in bindings.key_to_bindings:
            bindings.key_to_bindings[key] = [replace(b, show=False, id=None)
                                             for b in bindings.key_to_bindings[key]]


# --- the database work, in thread workers --------------------------------------------------------

@dataclass(frozen=True)
class ChangeRequest:
    """What a form asks for: the kind, the unit of the screen, the decision, the typed fields
    (already parsed) and, for a split, who goes where."""

    kind: str
    unit: UnitNode
    decision: Decision
    values: dict
    assign: dict[int, int] = field(default_factory=dict)  # split: person id -> result index
    rest: int = 0  # split: the result index of everyone not in `assign`


@dataclass(frozen=True)
class ChangeResult:
    """A change previewed or saved (`outcome`, `names`: code -> name of every unit in it,
    `follow`: the unit the main screen shows afterwards), or refused (`field`, `error`)."""

    outcome: Outcome | None = None
    names: dict[str, str] = field(default_factory=dict)
    follow: int | None = None
    field: str | None = None
    error: str | None = None


class _Rollback(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__("preview")
        self.outcome = outcome


class _Refused(Exception):
    def __init__(self, field_name: str | None, text: str) -> None:
        super().__init__(text)
        self.field = field_name
        self.text = text


def unit_list(text: str | None) -> list[str]:
    """Several units typed in one field, separated by semicolons."""
    return [part.strip() for part in (text or "").split(";") if part.strip()]


def new_units(request: ChangeRequest) -> list[tuple[str, str, NewUnit]]:
    """(code field, name field, NewUnit) of the units the change founds."""
    values = request.values
    if request.kind in ("found", "merge") and values.get("code"):
        return [("code", "name", NewUnit(values["code"], values.get("name") or ""))]
    if request.kind == "split":
        return [(f"code{i}", f"name{i}", NewUnit(values[f"code{i}"], values.get(f"name{i}") or ""))
                for i in range(1, MAX_RESULTS + 1) if values.get(f"code{i}")]
    return []


def run_change(context: AppContext, request: ChangeRequest, *, preview: bool) -> ChangeResult:
    """The change through db.reorganise; with `preview`, inside a write transaction rolled back
    at the end (nothing kept, no audit head published). Runs in a worker thread."""
    actor, today = context.actor, context.today
    unit = request.unit
    values = request.values
    names = {unit.code: unit.name}
    fields = {unit.code: "effective"}  # unit code -> the field that named it
    created = new_units(request)
    for code_field, _name_field, new in created:
        names[new.code.strip()] = new.name
        fields[new.code.strip()] = code_field

    def find(text: str, field_name: str) -> UnitNode:
        try:
            node = units.find_unit(actor, text, today)
        except UnitLookupError as exc:
            candidates = ", ".join(f"{code} ({name})" for code, name in exc.candidates[:5])
            raise _Refused(field_name, t(f"error.{exc.code}", text=exc.text,
                                         candidates=candidates)) from None
        names[node.code] = node.name
        fields.setdefault(node.code, field_name)
        return node

    def call() -> Outcome:
        kind, decision = request.kind, request.decision
        if kind == "found":
            return reorganise.found(actor, today, decision, unit.id, created[0][2])
        if kind == "rename":
            return reorganise.rename(actor, today, decision, unit.id, values["new_name"])
        if kind == "merge":
            others = [find(text, "others") for text in unit_list(values.get("others"))]
            into = find(values["into"], "into") if values.get("into") else created[0][2]
            sources = [o.id for o in others]
            if not (isinstance(into, UnitNode) and into.id == unit.id):
                sources.insert(0, unit.id)
            return reorganise.merge(actor, today, decision, sources,
                                    into.id if isinstance(into, UnitNode) else into)
        if kind == "split":
            return reorganise.split(actor, today, decision, unit.id, [new for _c, _n, new in created],
                                    dict(request.assign), request.rest)
        if kind == "dissolve":
            receiver = find(values["receiver"], "receiver")
            return reorganise.dissolve(actor, today, decision, unit.id, receiver.id)
        if kind == "transfer":
            parent = find(values["parent"], "parent")
            return reorganise.transfer(actor, today, decision, unit.id, parent.id)
        raise ValueError(kind)

    try:
        if preview:
            try:
                with connection.write_transaction():  # rolled back by the exception
                    raise _Rollback(call())
            except _Rollback as done:
                outcome = done.outcome
            follow = None
        else:
            outcome = call()
            follow = _follow(context, request, outcome)
    except _Refused as exc:
        return ChangeResult(field=exc.field, error=exc.text)
    except ChangeError as exc:
        return ChangeResult(field=error_field(exc, request, fields), error=change_error_text(exc))
    except AccessError:
        return ChangeResult(error=t("reorganise.forbidden"))
    except NotFound:
        return ChangeResult(error=t("reorganise.not_found"))
    return ChangeResult(outcome=outcome, names=names, follow=follow)


def _follow(context: AppContext, request: ChangeRequest, outcome: Outcome) -> int | None:
    """The unit the main screen shows afterwards: the one acted on, or, when it has ended today,
    the one that received it."""
    unit = request.unit
    if not (outcome.applied and outcome.kind in MOVING_KINDS and unit.code in outcome.sources
            and outcome.results):
        return unit.id
    try:
        return units.find_unit(context.actor, outcome.results[0], context.today).id
    except UnitLookupError:
        return None


def error_field(exc: ChangeError, request: ChangeRequest, fields: dict[str, str]) -> str | None:
    """The form field a refusal is about (None: the form as a whole)."""
    code, params, kind = exc.code, exc.params, request.kind
    simple = {"no_decision": "decision", "decided_in_future": "decided",
              "effective_before_decided": "effective", "too_few_sources": "others",
              "too_few_results": "code2", "unassigned": "rest", "under_itself": "parent",
              "already_there": "parent", "same_name": "new_name"}
    if code in simple:
        return simple[code]
    if code in ("not_alive", "later_change"):
        return fields.get(params.get("unit"), "effective")
    if code == "into_is_source":
        return {"merge": "into", "dissolve": "receiver"}.get(kind)
    if code in ("bad_code", "code_taken", "no_name"):
        if kind == "rename":
            return "new_name"
        typed = (params.get("code") or "").strip()
        for code_field, name_field, new in new_units(request):
            if new.code.strip() == typed:
                return name_field if code == "no_name" else code_field
        return "code" if kind in ("found", "merge") else None
    return None


# --- the history ---------------------------------------------------------------------------------

class HistoryLoaded(Message):
    def __init__(self, unit: UnitNode, rows: list[HistoryEntry]) -> None:
        super().__init__()
        self.unit = unit
        self.rows = rows


def links_text(entry: HistoryEntry) -> str:
    """What the change made of the unit, or what it was made from."""
    if entry.role == "source":
        if entry.kind == "rename" or not entry.became:
            return ""
        key = "reorganise.moved_under" if entry.kind == "transfer" else "reorganise.became"
        return t(key, codes=_codes(entry.became))
    if entry.kind == "found" or not entry.made_from:
        return t("reorganise.founded_by")
    key = "reorganise.received" if entry.kind in ("transfer", "dissolve") else "reorganise.made_from"
    return t(key, codes=_codes(entry.made_from))


def names_text(entry: HistoryEntry) -> str:
    if entry.old_name or entry.new_name:
        return t("reorganise.renamed", old=entry.old_name or "", new=entry.new_name or "")
    return ""


@dataclass(frozen=True)
class SavedChange:
    message: str
    follow: int | None


class ReorganiseScreen(ListFilter, Screen):
    """The history of one unit's organisation, and the keys that change it. Dismisses with the
    unit the main screen should show when something was saved (else None)."""

    FILTER = "reorg-history"
    HELP_TITLE = "reorganise.help_title"
    HELP_NOTES = ("reorganise.help_note",)
    DEFAULT_CSS = """
    ReorganiseScreen #reorg-unit { height: auto; max-height: 2; padding: 0 1; text-style: bold; }
    ReorganiseScreen #reorg-info { height: 1; padding: 0 1; background: $boost; }
    ReorganiseScreen #reorg-history { height: 1fr; }
    ReorganiseScreen #reorg-detail { height: 2; padding: 0 1; background: $boost; }
    ReorganiseScreen #reorg-actions { height: auto; max-height: 2; padding: 0 1; }
    ReorganiseScreen #reorg-message { height: auto; max-height: 3; padding: 0 1; text-style: bold; }
    ReorganiseScreen DataTable:nocolor > .datatable--cursor { text-style: underline; }
    ReorganiseScreen DataTable:nocolor:focus > .datatable--cursor { text-style: reverse; }
    """

    # the six changes are listed above the footer (and in the help): at 80 columns the footer
    # has no room for them
    BINDINGS = [
        Binding("escape", "back", "keys.back", id="reorganise.back"),
        *filter_bindings("reorganise", "filters.key_filter_long"),
        Binding("n", "change('found')", "reorganise.key_found", tooltip="reorganise.key_found_long",
                show=False, id="reorganise.found"),
        Binding("r", "change('rename')", "reorganise.key_rename", show=False, id="reorganise.rename"),
        Binding("m", "change('merge')", "reorganise.key_merge", tooltip="reorganise.key_merge_long",
                show=False, id="reorganise.merge"),
        Binding("s", "change('split')", "reorganise.key_split", tooltip="reorganise.key_split_long",
                show=False, id="reorganise.split"),
        Binding("d", "change('dissolve')", "reorganise.key_dissolve",
                tooltip="reorganise.key_dissolve_long", show=False, id="reorganise.dissolve"),
        Binding("t", "change('transfer')", "reorganise.key_transfer",
                tooltip="reorganise.key_transfer_long", show=False, id="reorganise.transfer"),
        Binding("G", "guide_2025", "guide2025.key", tooltip="guide2025.key_long", show=False,
                id="reorganise.guide2025"),
    ]

    def __init__(self, context: AppContext, unit: UnitNode) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.unit = unit
        self.may_change = may_override(context.actor)
        if not self.may_change:
            _hide_actions(self)
        elif unit.level not in GUIDE_LEVELS:
            _hide_actions(self, (GUIDE_KEY,))
        self.rows: list[HistoryEntry] | None = None  # those shown (the `/` filter applied)
        self.all_rows: list[HistoryEntry] | None = None
        self.follow: int | None = None
        self.changed = False

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static("", id="reorg-unit", markup=False)
        yield Static(t("reorganise.loading"), id="reorg-info", markup=False)
        yield FilterRow("reorg-history", "filters.placeholder")
        yield DataTable(id="reorg-history", cursor_type="row", cell_padding=0)
        yield Static("", id="reorg-detail", markup=False)
        yield Static(self._actions_text(), id="reorg-actions", markup=False)
        yield Static("", id="reorg-message", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("reorganise.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one("#reorg-message").display = False
        self._show_unit()
        self.query_one(DataTable).focus()
        self.load()

    def _actions_text(self) -> str:
        if not self.may_change:
            return not_allowed(self.context.actor, "reorganise.forbidden")
        if self.unit.level in GUIDE_LEVELS:
            return t("reorganise.actions") + " · " + t("guide2025.actions")
        return t("reorganise.actions")

    def load(self) -> None:
        self._fetch(self.unit)

    @work(thread=True, exclusive=True, group="reorganise-history")
    def _fetch(self, unit: UnitNode) -> None:
        try:
            try:  # the unit as it is now (it may have ended, or been renamed)
                unit = units.find_unit(self.context.actor, unit.code, self.context.today)
            except UnitLookupError:
                pass
            rows = reorganise.history(unit.id)
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(HistoryLoaded(unit, rows))

    @on(HistoryLoaded)
    def _loaded(self, message: HistoryLoaded) -> None:
        self.unit = message.unit
        self.all_rows = list(reversed(message.rows))  # the latest first
        self._show_unit()
        self._filter_changed()

    def _filter_changed(self) -> None:
        """The changes, less those where a word typed after `/` starts no word of the kind,
        the decision, the units made from or became, or the names."""
        if self.all_rows is None:
            return
        words = self.filter_words()
        self.rows = [entry for entry in self.all_rows
                     if filter_match(words, _kind(entry.kind), entry.decision, links_text(entry),
                                     names_text(entry))]
        self._fill()

    def _show_unit(self) -> None:
        unit = self.unit
        line = safe(t("reorganise.unit_line", name=unit.name, code=unit.code,
                      founded=i18n.date(unit.founded)))
        if unit.ended is not None and unit.ended > self.context.today:  # recorded ahead of its day
            line.append(" · " + t("reorganise.unit_will_end", date=i18n.date(unit.ended)))
        elif unit.ended is not None:
            line.append(" · " + t("reorganise.unit_ended", date=i18n.date(unit.ended)))
        self.query_one("#reorg-unit", Static).update(line)

    def _widths(self, width: int) -> dict[str, int]:
        kind = max(len(_kind(k)) for k in reorganise.KINDS)
        fixed = {"effective": 10, "kind": max(kind, len(t("reorganise.col.kind"))),
                 "decision": 14, "links": 18}
        used = sum(fixed.values()) + len(fixed)
        fixed["names"] = max(width - used, 10)
        return fixed

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        rows = self.rows or []
        widths = self._widths((table.size.width or self.app.size.width) - 1)
        with self.app.batch_update():
            table.clear(columns=True)
            for key, width in widths.items():
                table.add_column(fit(Text(t(f"reorganise.col.{key}")), width), key=key,
                                 width=width + (0 if key == "names" else 1))
            for i, entry in enumerate(rows):
                table.add_row(
                    Text(i18n.date(entry.effective)),
                    fit(Text(_kind(entry.kind)), widths["kind"]),
                    fit(safe(entry.decision), widths["decision"]),
                    fit(Text(links_text(entry)), widths["links"]),
                    fit(safe(names_text(entry)), widths["names"]),
                    key=str(i))
            if rows:
                table.move_cursor(row=0, animate=False)
        info = (t("reorganise.history_count", n=i18n.number(len(rows))) if self.all_rows
                else t("reorganise.history_none"))
        self.query_one("#reorg-info", Static).update(self.filter_note(Text(info, style="bold"),
                                                                      len(rows)))
        self._show_detail()

    def _current(self) -> HistoryEntry | None:
        table = self.query_one(DataTable)
        if not self.rows or not table.row_count:
            return None
        index = max(table.cursor_row, 0)
        return self.rows[index] if index < len(self.rows) else None

    def _show_detail(self) -> None:
        """The highlighted change in full, below the list."""
        entry = self._current()
        detail = self.query_one("#reorg-detail", Static)
        if entry is None:
            detail.update("")
            return
        text = Text(_kind(entry.kind) + " · ", style="bold")
        text.append_text(safe(t("reorganise.decided_line", decision=entry.decision,
                                 decided=i18n.date(entry.decided),
                                 effective=i18n.date(entry.effective))))
        for part in (links_text(entry), names_text(entry)):
            if part:
                text.append(" · ")
                text.append_text(safe(part))
        if not entry.applied and entry.effective > self.context.today:
            text.append(" · " + t("reorganise.pending", date=i18n.date(entry.effective)),
                        style="bold")
        detail.update(text)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def on_resize(self) -> None:
        if self.all_rows is not None:
            self._fill()

    def say(self, message: str | None) -> None:
        line = self.query_one("#reorg-message", Static)
        line.update(message or "")
        line.display = bool(message)

    # --- keys -----------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.filter_escape():
            return
        self.dismiss(self.follow if self.changed else None)

    def action_change(self, kind: str) -> None:
        if not self.may_change:
            self.say(not_allowed(self.context.actor, "reorganise.forbidden"))
            return
        form = SplitForm(self.context, self.unit) if kind == "split" else ChangeForm(
            self.context, self.unit, kind)
        self.app.push_screen(form, self._saved)

    def action_guide_2025(self) -> None:
        """The guided 2025 reorganisation of the unit's province (the unit itself, or the
        province of a district)."""
        if not self.may_change:
            self.say(not_allowed(self.context.actor, "reorganise.forbidden"))
            return
        unit = self.unit
        if unit.level not in GUIDE_LEVELS or (unit.level == "district" and unit.parent_id is None):
            self.say(t("guide2025.not_province"))
            return
        from screens.reorganise_2025 import GuideScreen  # imported on first use

        if unit.level == "district":
            self._province_of(unit)
        else:
            self.app.push_screen(GuideScreen(self.context, unit), self._saved)

    @work(thread=True, exclusive=True, group="reorganise-guide")
    def _province_of(self, district: UnitNode) -> None:
        try:
            province = units.get_unit(self.context.actor, district.parent_id, self.context.today)
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._open_guide, province)

    def _open_guide(self, province: UnitNode | None) -> None:
        from screens.reorganise_2025 import GuideScreen

        if province is None or province.level != "province":
            self.say(t("guide2025.not_province"))
            return
        self.app.push_screen(GuideScreen(self.context, province), self._saved)

    def _saved(self, result: SavedChange | None) -> None:
        if result is None:
            return
        self.changed = True
        self.follow = result.follow
        self.say(result.message)
        self.load()


# --- the forms -------------------------------------------------------------------------------------

FORM_CSS = """
ChangeForm { background: $background; }
ChangeForm #reorg-form { height: 1fr; padding: 0 1; }
ChangeForm #reorg-form-title { text-style: bold; height: auto; max-height: 2; }
ChangeForm #reorg-fields { height: 1fr; }
ChangeForm .form-note { color: $text-muted; height: auto; }
ChangeForm #reorg-messages { height: auto; max-height: 6; border-top: solid $primary; }
ChangeForm #reorg-messages .message-line { text-style: bold; }
ChangeForm #rest-error { height: auto; padding-left: 28; text-style: bold; }
"""


class ChangeForm(FormScreen):
    """One change of `unit`: the decision, and the fields of `kind`. Ctrl+S shows the preview;
    saving from there dismisses the form with a SavedChange."""

    DEFAULT_CSS = FORM_CSS
    HELP_TITLE = "reorganise.help_title"
    HELP_NOTES = ("reorganise.help_note",)
    BINDINGS = [Binding("ctrl+s", "save", "reorganise.key_preview",
                        tooltip="reorganise.key_preview_long", priority=True,
                        id="reorganise_form.save")]

    def __init__(self, context: AppContext, unit: UnitNode, kind: str) -> None:
        super().__init__()
        self.context = context
        self.unit = unit
        self.kind = kind
        self._busy = False

    # the kind's fields, between the decision's and the note
    def kind_fields(self) -> ComposeResult:
        kind = self.kind
        if kind == "found":
            yield FormField("code", t("reorganise.field.code"), required=True)
            yield FormField("name", t("reorganise.field.name"), required=True)
        elif kind == "rename":
            yield FormField("new_name", t("reorganise.field.new_name"), required=True,
                            value=self.unit.name)
        elif kind == "merge":
            yield FormField("others", t("reorganise.field.others"), required=True)
            yield FormField("into", t("reorganise.field.into"))
            yield FormField("code", t("reorganise.field.code"))
            yield FormField("name", t("reorganise.field.name"))
        elif kind == "dissolve":
            yield FormField("receiver", t("reorganise.field.receiver"), required=True)
        elif kind == "transfer":
            yield FormField("parent", t("reorganise.field.parent"), required=True)

    def notes(self) -> list[str]:
        if self.kind == "merge":
            return [t("reorganise.units_note"), t("reorganise.merge_note")]
        if self.kind in ("dissolve", "transfer"):
            return [t("reorganise.units_note")]
        return []

    def below_fields(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(id="reorg-form"):
            title = safe(t("reorganise.form_title", kind=_kind(self.kind), name=self.unit.name,
                           code=self.unit.code))
            yield Static(title, id="reorg-form-title", markup=False)
            with VerticalScroll(id="reorg-fields", can_focus=False):
                yield FormField("decision", t("reorganise.field.decision"), required=True)
                yield FormField("decided", t("reorganise.field.decided"), kind="date", required=True)
                yield FormField("effective", t("reorganise.field.effective"), kind="date",
                                required=True, value=i18n.date(self.context.today))
                yield from self.kind_fields()
                yield FormField("note", t("reorganise.field.note"))
                for note in self.notes():
                    yield Static(note, classes="form-note", markup=False)
            yield from self.below_fields()
            yield MessageBox(id="reorg-messages")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(MessageBox).display = False
        self.call_after_refresh(self._field("decision").input.focus)

    def _field(self, name: str) -> FormField | None:
        return next((f for f in self.query(FormField) if f.field_name == name), None)

    def show_refusal(self, field_name: str | None, text: str) -> None:
        """The refusal at its field, and in the box below the form."""
        field_widget = self._field(field_name) if field_name else None
        if field_widget is not None:
            field_widget.show_error(text)
            field_widget.input.focus()
        self.query_one(MessageBox).show([t("reorganise.not_saved"), text])

    def check(self, values: dict) -> tuple[str, str] | None:
        """What the form can tell before asking the database: (field, sentence), or None."""
        if self.kind == "merge":
            if not unit_list(values.get("others")):
                return "others", t("reorganise.no_others")
            if values.get("into"):
                if values.get("code") or values.get("name"):
                    return "into", t("reorganise.either_into")
            else:
                for name in ("code", "name"):
                    if not values.get(name):
                        return name, t("form.error.required")
        return None

    def request(self, values: dict) -> ChangeRequest:
        decision = Decision(values["decision"], values["decided"], values["effective"],
                            values.get("note"))
        return ChangeRequest(self.kind, self.unit, decision, values)

    def action_save(self) -> None:
        if self._busy:
            return
        values, bad = collect(self.query(FormField))
        if bad is not None:
            bad.input.focus()
            self.query_one(MessageBox).show([t("reorganise.fix_fields")])
            return
        problem = self.check(values)
        if problem is not None:
            self.show_refusal(*problem)
            return
        self._busy = True
        self.query_one(MessageBox).show([t("reorganise.checking")], good=True)
        self._run(self.request(values), preview=True)

    @work(thread=True, exclusive=True, group="reorganise-form")
    def _run(self, request: ChangeRequest, *, preview: bool) -> None:
        """The change tried and rolled back (`preview`), or saved; the result shown after."""
        try:
            result = run_change(self.context, request, preview=preview)
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._previewed if preview else self._committed, request, result)

    def _previewed(self, request: ChangeRequest, result: ChangeResult) -> None:
        self._busy = False
        if result.outcome is None:
            self.show_refusal(result.field, result.error or "")
            return
        self.query_one(MessageBox).display = False

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._busy = True
                self.query_one(MessageBox).show([t("reorganise.saving")], good=True)
                self._run(request, preview=False)

        self.app.push_screen(PreviewScreen(self.context, request, result), answered)

    def _committed(self, request: ChangeRequest, result: ChangeResult) -> None:
        self._busy = False
        outcome = result.outcome
        if outcome is None:  # something changed since the preview
            self.show_refusal(result.field, result.error or "")
            return
        decision = request.decision
        if outcome.applied:
            message = t("reorganise.saved", kind=_kind(outcome.kind), decision=decision.number)
        else:
            message = t("reorganise.saved_later", kind=_kind(outcome.kind), decision=decision.number,
                        date=i18n.date(decision.effective))
        self.dismiss(SavedChange(message, result.follow))


# --- a split: who goes where --------------------------------------------------------------------

class DestinationTable(DataTable):
    """The people of the unit being split; Space cycles the highlighted person's new unit."""

    HELP_TITLE = "reorganise.key_split"
    BINDINGS = [
        Binding("space", "cycle", "reorganise.key_cycle", id="split.cycle"),
        Binding("1", "to(0)", "reorganise.key_to", key_display="1 2 3", show=False, id="split.to"),
        Binding("2", "to(1)", "reorganise.key_to", show=False),
        Binding("3", "to(2)", "reorganise.key_to", show=False),
        Binding("0", "to(-1)", "reorganise.key_to_rest", show=False, id="split.to_rest"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", cell_padding=0, **kwargs)
        translate_bindings(self)

    def action_cycle(self) -> None:
        self.screen.cycle_destination()

    def action_to(self, index: int) -> None:
        self.screen.set_destination(None if index < 0 else index)


class PeopleLoaded(Message):
    def __init__(self, day: datetime.date, rows: list[PersonRow]) -> None:
        super().__init__()
        self.day = day
        self.rows = rows


def people_of(context: AppContext, unit: UnitNode, day: datetime.date) -> list[PersonRow]:
    """The people affiliated with the unit on `day` (db.reorganise._people_of), with their
    names and statuses (db.people.people_page, by their branch of today)."""
    ids = reorganise._people_of(unit.id, day)
    page = people.people_page(context.actor, unit.id, context.today, kind="all",
                              limit=PEOPLE_LIMIT)
    rows = [row for row in page.rows if row.id in ids]
    known = {row.id for row in rows}
    rows += [PersonRow(id=pid, full_name=f"#{pid}", born=None, sex=None, branch_code=None,
                       branch_name=None, party_status=None, case_id=None, stage=None,
                       sort_key="\uffff") for pid in sorted(ids - known)]
    return rows


class SplitForm(ChangeForm):
    """A split: up to three new units (code and name), and, in the table below, where each person
    of the unit goes; everyone not sent anywhere goes with "the rest"."""

    DEFAULT_CSS = FORM_CSS + """
    SplitForm #reorg-fields { height: 1fr; }
    SplitForm #split-count { height: 1; text-style: bold; }
    SplitForm #split-people { height: 1fr; min-height: 5; }
    """

    def __init__(self, context: AppContext, unit: UnitNode) -> None:
        super().__init__(context, unit, "split")
        self.people: list[PersonRow] | None = None
        self.dest: dict[int, int] = {}  # person id -> result index; absent: with the rest
        self._day: datetime.date | None = None

    def kind_fields(self) -> ComposeResult:
        for i in range(1, MAX_RESULTS + 1):
            yield FormField(f"code{i}", t("reorganise.field.code_n", index=i), required=i <= 2)
            yield FormField(f"name{i}", t("reorganise.field.name_n", index=i), required=i <= 2)
        with Horizontal(classes="form-row"):
            yield Label(t("reorganise.field.rest") + " *", classes="form-label", markup=False)
            yield Select([(t("reorganise.new_unit_n", index=i), i - 1)
                          for i in range(1, MAX_RESULTS + 1)],
                         value=0, allow_blank=False, compact=True, id="in-rest")
        yield Static("", id="rest-error", classes="form-error", markup=False)

    def notes(self) -> list[str]:
        return [t("reorganise.split_note")]

    def below_fields(self) -> ComposeResult:
        yield Static(t("reorganise.people_loading"), id="split-count", markup=False)
        yield DestinationTable(id="split-people")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#rest-error").display = False
        self._load_people(self.context.today)

    def is_dirty(self) -> bool:
        return super().is_dirty() or bool(self.dest) or self.query_one("#in-rest", Select).value != 0

    @on(Input.Changed, "#in-effective")
    def _effective_changed(self, event: Input.Changed) -> None:
        """The people are those of the effective day: read them again when it changes."""
        try:
            day = parse_date(event.value)
        except FieldError:
            return
        if day != self._day:
            self._load_people(day)

    def _load_people(self, day: datetime.date) -> None:
        self._day = day
        self._fetch_people(day)

    @work(thread=True, exclusive=True, group="split-people")
    def _fetch_people(self, day: datetime.date) -> None:
        try:
            rows = people_of(self.context, self.unit, day)
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(PeopleLoaded(day, rows))

    @on(PeopleLoaded)
    def _people_loaded(self, message: PeopleLoaded) -> None:
        if message.day != self._day:
            return
        self.people = sorted(message.rows, key=lambda r: (r.sort_key, r.id))
        ids = {row.id for row in self.people}
        self.dest = {pid: index for pid, index in self.dest.items() if pid in ids}
        self._fill()

    def _dest_text(self, person_id: int) -> Text:
        index = self.dest.get(person_id)
        if index is not None:
            return Text(str(index + 1), style="bold")
        rest = self.query_one("#in-rest", Select).value
        return Text(t("reorganise.rest") + " " + t("reorganise.rest_to", index=int(rest) + 1))

    def _fill(self) -> None:
        table = self.query_one(DestinationTable)
        width = (table.size.width or self.app.size.width - 2) - 3  # room for the scroll bar
        dest_width = max(len(t("reorganise.col.goes_to")),
                         len(t("reorganise.rest") + " " + t("reorganise.rest_to", index=1)))
        status = 12
        name = max(width - dest_width - status - 2, 12)
        row = max(table.cursor_row, 0)
        with self.app.batch_update():
            table.clear(columns=True)
            table.add_column(fit(Text(t("reorganise.col.person")), name), key="name", width=name + 1)
            table.add_column(fit(Text(t("reorganise.col.status")), status), key="status",
                             width=status + 1)
            table.add_column(Text(t("reorganise.col.goes_to")), key="dest", width=dest_width)
            for person in self.people or []:
                table.add_row(fit(safe(person.full_name), name),
                              fit(Text(status_label(person)), status),
                              self._dest_text(person.id), key=str(person.id))
            if table.row_count:
                table.move_cursor(row=min(row, table.row_count - 1), animate=False)
        self._count()

    def _count(self) -> None:
        rows = self.people or []
        counts = [sum(1 for r in rows if self.dest.get(r.id) == i) for i in range(MAX_RESULTS)]
        self.query_one("#split-count", Static).update(t(
            "reorganise.people_count", n=i18n.number(len(rows)), one=i18n.number(counts[0]),
            two=i18n.number(counts[1]), three=i18n.number(counts[2]),
            rest=i18n.number(len(rows) - sum(counts))))

    def _current_person(self) -> int | None:
        table = self.query_one(DestinationTable)
        if not self.people or not table.row_count:
            return None
        index = max(table.cursor_row, 0)
        return self.people[index].id if index < len(self.people) else None

    def set_destination(self, index: int | None) -> None:
        person = self._current_person()
        if person is None:
            return
        if index is None:
            self.dest.pop(person, None)
        else:
            self.dest[person] = index
        table = self.query_one(DestinationTable)
        table.update_cell(str(person), "dest", self._dest_text(person))
        self._count()

    def cycle_destination(self) -> None:
        """With the rest -> 1 -> 2 -> 3 -> with the rest."""
        person = self._current_person()
        if person is None:
            return
        now = self.dest.get(person)
        following = 0 if now is None else (now + 1 if now + 1 < MAX_RESULTS else None)
        self.set_destination(following)

    @on(Select.Changed, "#in-rest")
    def _rest_changed(self, event: Select.Changed) -> None:
        self.query_one("#rest-error").display = False
        if self.people is not None:
            self._fill()

    def show_refusal(self, field_name: str | None, text: str) -> None:
        if field_name == "rest":
            error = self.query_one("#rest-error", Static)
            error.update(text)
            error.display = True
            self.query_one("#in-rest").focus()
            self.query_one(MessageBox).show([t("reorganise.not_saved"), text])
            return
        super().show_refusal(field_name, text)

    def check(self, values: dict) -> tuple[str, str] | None:
        rest = int(self.query_one("#in-rest", Select).value)
        rows = self.people or []
        sent = [sum(1 for r in rows if self.dest.get(r.id) == i) for i in range(MAX_RESULTS)]
        sent[rest] += len(rows) - sum(1 for r in rows if r.id in self.dest)
        for i in range(3, MAX_RESULTS + 1):
            code, name = values.get(f"code{i}"), values.get(f"name{i}")
            if code and not name:
                return f"name{i}", t("form.error.required")
            if name and not code:
                return f"code{i}", t("form.error.required")
            if not code and (sent[i - 1] or rest == i - 1):
                return f"code{i}", t("reorganise.needed_for", n=i18n.number(sent[i - 1]), index=i)
        return None

    def request(self, values: dict) -> ChangeRequest:
        base = super().request(values)
        return replace(base, assign=dict(self.dest),
                       rest=int(self.query_one("#in-rest", Select).value))


# --- the preview ---------------------------------------------------------------------------------

class PreviewScreen(Screen):
    """What a change would do, from the db function run in a transaction rolled back: per source
    and target, the members, people, open files and units that move. Enter or Ctrl+S saves
    (dismisses True), Escape goes back to the form (False)."""

    HELP_TITLE = "reorganise.preview_help"
    DEFAULT_CSS = """
    PreviewScreen #preview-scroll { height: 1fr; padding: 0 1; }
    PreviewScreen .preview-title { text-style: bold; }
    PreviewScreen .preview-when { text-style: bold; margin-bottom: 1; }
    PreviewScreen .preview-keys { margin-top: 1; }
    """
    BINDINGS = [
        Binding("enter", "confirm", "reorganise.key_confirm", id="preview.confirm"),
        Binding("ctrl+s", "confirm", "reorganise.key_confirm", priority=True, show=False,
                id="preview.confirm_s"),
        Binding("escape", "back", "keys.back", id="preview.back"),
    ]

    def __init__(self, context: AppContext, request: ChangeRequest, result: ChangeResult) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.request = request
        self.outcome = result.outcome
        self.names = result.names

    def _unit(self, code: str) -> str:
        name = self.names.get(code)
        return f"{code} ({name})" if name else code

    def compose(self) -> ComposeResult:
        request, outcome = self.request, self.outcome
        decision = request.decision
        yield Header(icon="")
        with VerticalScroll(id="preview-scroll"):
            yield Static(safe(t("reorganise.preview_title", kind=_kind(request.kind),
                                decision=decision.number)), classes="preview-title", markup=False)
            yield Static(t("reorganise.preview_dates", decided=i18n.date(decision.decided),
                           effective=i18n.date(decision.effective)), markup=False)
            when = (t("reorganise.preview_now") if outcome.applied
                    else t("reorganise.preview_later", date=i18n.date(decision.effective)))
            yield Static(when, id="preview-when", classes="preview-when", markup=False)
            yield Static(self._body(), id="preview-body", markup=False)
            yield Static(t("reorganise.preview_keys"), classes="preview-keys", markup=False)
        yield Footer(compact=True)

    def _body(self) -> Group:
        request, outcome = self.request, self.outcome
        parts: list = []
        kind = request.kind
        if kind == "found":
            parts.append(safe(t("reorganise.preview_found", new=self._unit(outcome.results[0]),
                                parent=self._unit(request.unit.code))))
        elif kind == "rename":
            parts.append(safe(t("reorganise.preview_rename", unit=request.unit.code,
                                old=request.unit.name, new=request.values["new_name"])))
        elif kind == "transfer":
            parts.append(safe(t("reorganise.preview_transfer", unit=self._unit(outcome.sources[0]),
                                parent=self._unit(outcome.results[0]))))
        if outcome.moved:
            parts.append(self._table())
        elif kind in MOVING_KINDS:
            parts.append(Text(t("reorganise.preview_nothing_moves")))
        if kind in MOVING_KINDS:
            parts.append(safe(t("reorganise.preview_ends",
                                units="; ".join(self._unit(c) for c in outcome.sources))))
        fresh = [c for c in outcome.results if c in {n.code.strip() for _a, _b, n in new_units(request)}]
        if fresh and kind != "found":
            parts.append(safe(t("reorganise.preview_new", units="; ".join(self._unit(c) for c in fresh))))
        if kind in MOVING_KINDS:  # the names of the other units in the table
            named = set(outcome.sources) | set(fresh)
            codes = dict.fromkeys([m.target for m in outcome.moved])
            for code in codes:
                if code not in named and self.names.get(code):
                    parts.append(safe(f"{code} = {self.names[code]}"))
        return Group(*parts)

    def _table(self) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
                      expand=False)
        table.add_column(t("reorganise.col.source"), no_wrap=True)
        table.add_column(t("reorganise.col.target"), no_wrap=True)
        for key in ("members", "people", "files", "units"):
            table.add_column(t(f"reorganise.col.{key}"), justify="right", no_wrap=True)
        for moved in self.outcome.moved:
            table.add_row(safe(moved.source), safe("→ " + moved.target),
                          i18n.number(moved.members), i18n.number(moved.people),
                          i18n.number(moved.files), i18n.number(moved.units))
        return table

    def on_mount(self) -> None:
        self.title = t("reorganise.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one("#preview-scroll").focus()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)
