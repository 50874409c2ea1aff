"""The 2025 reorganisation, guided (db.reorganise_2025; domain.md section 2), for staff who will
not edit a TOML plan over PuTTY.

Opened with `G` on the organisation screen (screens/reorganise.py) when the unit is a province
committee, or a district committee (then its province); organisers and administrators only.
Three steps, each a screen pushed over the one before, so that Escape goes back a step with
nothing lost (what is chosen lives in one `Draft`, owned by the first step):

1. `GuideScreen`, the decision: number, decision date, effective date (01/07/2025, or today when
   that is still to come), note, and the district committees abolished (every district of the
   province active on the effective date, each with a mark, all marked at first).
2. `CommunesScreen`, the new communes: the old communes of those districts, each going into a new
   commune or left on its own (like `template()`: at first every commune on its own), and the
   other units directly under the districts (schools, agencies), each going under the province
   (the default: the district's dissolution puts it there) or into a commune. `n` creates a new
   commune and puts the highlighted old commune into it, `1`-`9` put the highlighted unit into
   new commune 1-9, Enter chooses from a list, `0` leaves it on its own, `e` renames.
3. `PlanPreviewScreen`: `reorganise_2025.preview` (carried out and rolled back) in a thread worker;
   per new commune its branches, members and open files afterwards, each change with what it
   moves, and the checks in words. Enter or Ctrl+S asks, then takes a copy of the database file
   (`reorganise_2025.run_after_copy`) and runs the plan; the copy's path is said afterwards.

A refusal (PlanError, ChangeError, AccessError) is shown at the step and field it is about: a
decision field on step 1, a unit's row on step 2, a new commune's code in its form; nothing is
saved. After saving, the guide dismisses with a `SavedChange`, and the organisation screen and
then the main tree reload as for the single changes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, DataTable, Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from db import connection, reorganise_2025, units
from db.access import AccessError, NotFound
from db.reorganise import ChangeError, Decision
from db.reorganise_2025 import Commune, Plan, PlanError, Result
from db.units import UnitNode
from screens.dialogs import (ConfirmDialog, FieldError, FormField, FormScreen, MessageBox, Tick,
                             ValueDialog, _dialog_css, collect, parse_date)
from screens.reorganise import SavedChange, _kind
from tui import i18n
from tui.context import AppContext
from tui.i18n import t
from tui.reorganise_text import change_error_text
from tui.widgets import fit, safe, translate_bindings

REORGANISED_ON = datetime.date(2025, 7, 1)
DIGITS = 9  # new communes reachable with a number key


def default_effective(today: datetime.date) -> datetime.date:
    return REORGANISED_ON if REORGANISED_ON <= today else today


# --- what is chosen ----------------------------------------------------------------------------------

@dataclass(eq=False)
class NewCommune:
    """A new commune of the plan (compared by identity: its code and name may be changed)."""

    code: str
    name: str


@dataclass(frozen=True)
class OldUnit:
    code: str
    name: str
    district: UnitNode
    commune: bool


@dataclass
class Draft:
    """Everything chosen in the three steps. `into`: old commune code -> its new commune (absent:
    on its own); `kept_names`: the name of a commune left on its own when changed; `moves`: other
    unit code -> a NewCommune or the code of an old commune (absent: under the province)."""

    province: UnitNode | None = None
    districts: list[UnitNode] = field(default_factory=list)
    marked: set[str] = field(default_factory=set)
    unmarked: set[str] = field(default_factory=set)  # unmarked by hand (kept across reloads)
    communes: list[OldUnit] = field(default_factory=list)
    others: list[OldUnit] = field(default_factory=list)
    new: list[NewCommune] = field(default_factory=list)
    into: dict[str, NewCommune] = field(default_factory=dict)
    kept_names: dict[str, str] = field(default_factory=dict)
    moves: dict[str, object] = field(default_factory=dict)

    def set_province(self, province: UnitNode | None) -> None:
        """The province as it stands on the effective day: its districts (marks kept by code,
        a district not seen before marked) and the units under the marked ones."""
        self.province = province
        self.districts = [c for c in (province.children if province else ()) if c.level == "district"]
        self.marked = {d.code for d in self.districts if d.code not in self.unmarked}
        self.refresh_units()

    def refresh_units(self) -> None:
        self.communes, self.others = [], []
        for district in self.districts:
            if district.code not in self.marked:
                continue
            for child in district.children:
                target = self.communes if child.level == "commune" else self.others
                target.append(OldUnit(child.code, child.name, district, child.level == "commune"))
        codes = {u.code for u in self.communes}
        self.into = {c: n for c, n in self.into.items() if c in codes}
        self.prune()

    def prune(self) -> None:
        """New communes left with no old commune are dropped (units sent there go back under the
        province)."""
        used = {id(n) for n in self.into.values()}
        self.new = [n for n in self.new if id(n) in used]
        alive = {id(n) for n in self.new}
        self.moves = {c: m for c, m in self.moves.items()
                      if (isinstance(m, NewCommune) and id(m) in alive)
                      or (isinstance(m, str) and m in {u.code for u in self.communes})}

    def mark(self, code: str, marked: bool) -> None:
        (self.marked.add if marked else self.marked.discard)(code)
        (self.unmarked.discard if marked else self.unmarked.add)(code)

    def touched(self) -> bool:
        return bool(self.new or self.kept_names or self.moves or self.unmarked)

    def number(self, new: NewCommune) -> int:
        return next(i for i, n in enumerate(self.new, 1) if n is new)

    def sources(self, new: NewCommune) -> list[OldUnit]:
        return [u for u in self.communes if self.into.get(u.code) is new]

    def kept(self) -> list[OldUnit]:
        return [u for u in self.communes if u.code not in self.into]

    def kept_name(self, unit: OldUnit) -> str:
        return self.kept_names.get(unit.code, unit.name)

    def target_code(self, target) -> str | None:
        """Where a moved unit goes: a new commune's code, or the commune an old one became."""
        if isinstance(target, NewCommune):
            return target.code
        if isinstance(target, str):
            new = self.into.get(target)
            return new.code if new is not None else target
        return None

    def plan(self, decision: Decision) -> Plan:
        """The plan for db.reorganise_2025; DraftError names the row that is wrong."""
        communes = []
        for new in self.new:
            sources = self.sources(new)
            if len(sources) == 1:
                raise DraftError(sources[0].code, t("guide2025.one_source", code=new.code,
                                                    source=sources[0].code))
            communes.append(Commune(new.code.strip(), new.name.strip(), tuple(s.code for s in sources)))
        for unit in self.kept():
            communes.append(Commune(unit.code, self.kept_name(unit), (unit.code,)))
        moves = tuple((u.code, self.target_code(self.moves[u.code])) for u in self.others
                      if self.target_code(self.moves.get(u.code)))
        return Plan(decision, tuple(d.code for d in self.districts if d.code in self.marked),
                    tuple(communes), moves)


class DraftError(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


# --- refusals: at the step and field they are about -----------------------------------------------

@dataclass(frozen=True)
class Refusal:
    """`step` 1 (`field`: a decision field or "districts"), 2 (`field`: a unit code, or
    "new:<code>" for a new commune's code) or 0 (the step as a whole)."""

    step: int
    field: str | None
    text: str


STEP1_ERRORS = {"no_decision": "decision", "decided_in_future": "decided",
                "effective_before_decided": "effective", "plan_not_district": "districts",
                "plan_no_province": "districts", "plan_several_provinces": "districts"}


def refusal_of(exc: Exception, draft: Draft) -> Refusal:
    if isinstance(exc, (AccessError, NotFound)):
        return Refusal(0, None, t("reorganise.forbidden") if isinstance(exc, AccessError)
                       else t("reorganise.not_found"))
    text = change_error_text(exc)
    code, params = exc.code, exc.params
    if code in STEP1_ERRORS:
        return Refusal(1, STEP1_ERRORS[code], text)
    if code == "plan_missing" and params.get("field") == "districts":
        return Refusal(1, "districts", text)
    unit = params.get("unit") or params.get("code")
    if code in ("bad_code", "no_name", "code_taken"):
        typed = (params.get("code") or "").strip()
        if any(n.code.strip() == typed for n in draft.new):
            return Refusal(2, "new:" + typed, text)
    if unit in {d.code for d in draft.districts}:
        return Refusal(1, "districts", text)
    return Refusal(2, unit, text)


def run_plan(context: AppContext, plan: Plan, draft: Draft, *, save: bool
             ) -> tuple[Result | None, str | None, Refusal | None]:
    """The plan previewed (rolled back) or saved after a copy of the database file; in a worker
    thread. (result, path of the copy, refusal)."""
    copy = None
    try:
        if save:
            result, copy = reorganise_2025.run_after_copy(context.actor, context.today, plan)
        else:
            result = reorganise_2025.preview(context.actor, context.today, plan)
    except (ChangeError, PlanError, AccessError, NotFound) as exc:
        return None, None, refusal_of(exc, draft)
    finally:
        connection.close_database()  # this thread's connection only
    return result, str(copy) if copy else None, None


# --- step 1: the decision ---------------------------------------------------------------------------

GUIDE_CSS = """
GuideScreen { background: $background; }
GuideScreen #guide-form { height: 1fr; padding: 0 1; }
GuideScreen .guide-title { text-style: bold; height: auto; max-height: 2; }
GuideScreen #guide-fields { height: 1fr; }
GuideScreen #guide-districts-label { margin-top: 1; text-style: bold; }
GuideScreen #guide-districts { height: auto; }
GuideScreen #guide-districts Checkbox { height: 1; }
GuideScreen #districts-error { height: auto; text-style: bold; }
GuideScreen .guide-keys { color: $text-muted; height: auto; }
GuideScreen #guide-messages { height: auto; max-height: 6; border-top: solid $primary; }
GuideScreen #guide-messages .message-line { text-style: bold; }
"""


class TreeLoaded:
    def __init__(self, day: datetime.date, province: UnitNode | None) -> None:
        self.day = day
        self.province = province


class GuideScreen(FormScreen):
    """Step 1, and the owner of the draft. Dismisses with a SavedChange when the plan was saved."""

    DEFAULT_CSS = GUIDE_CSS
    HELP_TITLE = "guide2025.help_title"
    HELP_NOTES = ("guide2025.help_note",)
    BINDINGS = [Binding("ctrl+s", "next", "guide2025.key_next", tooltip="guide2025.key_next_long",
                        priority=True, id="guide2025.next")]

    def __init__(self, context: AppContext, province: UnitNode) -> None:
        super().__init__()
        self.context = context
        self.province = province
        self.draft = Draft()
        self._day: datetime.date | None = None  # the day the districts were read for
        self._loaded: datetime.date | None = None
        self._go_on = False  # Ctrl+S pressed while the districts were being read

    def compose(self) -> ComposeResult:
        with Vertical(id="guide-form"):
            yield Static(safe(t("guide2025.step1_title", name=self.province.name,
                                code=self.province.code)), classes="guide-title", markup=False)
            with VerticalScroll(id="guide-fields", can_focus=False):
                yield FormField("decision", t("reorganise.field.decision"), required=True)
                yield FormField("decided", t("reorganise.field.decided"), kind="date", required=True)
                yield FormField("effective", t("reorganise.field.effective"), kind="date",
                                required=True, value=i18n.date(default_effective(self.context.today)))
                yield FormField("note", t("reorganise.field.note"))
                yield Static(t("guide2025.districts_label"), id="guide-districts-label", markup=False)
                yield Vertical(id="guide-districts")
                yield Static(t("guide2025.districts_loading"), id="districts-info", markup=False)
                yield Static("", id="districts-error", markup=False)
            yield Static(t("guide2025.step1_keys"), classes="guide-keys", markup=False)
            yield MessageBox(id="guide-messages")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("guide2025.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one(MessageBox).display = False
        self.query_one("#districts-error").display = False
        self._load(default_effective(self.context.today))
        self.call_after_refresh(self._field("decision").input.focus)

    def _field(self, name: str) -> FormField | None:
        return next((f for f in self.query(FormField) if f.field_name == name), None)

    def is_dirty(self) -> bool:
        return (any(f.dirty for f in self.query(FormField)) or self.draft.touched())

    # the districts of the effective day

    @on(Input.Changed, "#in-effective")
    def _effective_changed(self, event: Input.Changed) -> None:
        try:
            day = parse_date(event.value)
        except FieldError:
            return
        if day != self._day:
            self._load(day)

    def _load(self, day: datetime.date) -> None:
        self._day = day
        self._fetch(day)

    @work(thread=True, exclusive=True, group="guide-tree")
    def _fetch(self, day: datetime.date) -> None:
        try:
            found = units.get_unit(self.context.actor, self.province.id, day, include_ended=False)
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._fetched, TreeLoaded(day, found))

    def _fetched(self, loaded: TreeLoaded) -> None:
        if loaded.day != self._day:
            return
        self._loaded = loaded.day
        self.draft.set_province(loaded.province)
        box = self.query_one("#guide-districts", Vertical)
        box.remove_children()
        box.mount_all([Tick(f"{d.name} ({d.code})", d.code in self.draft.marked, name=d.code)
                       for d in self.draft.districts])
        info = self.query_one("#districts-info", Static)
        if loaded.province is None:
            info.update(t("guide2025.no_province", date=i18n.date(loaded.day)))
        elif not self.draft.districts:
            info.update(t("guide2025.districts_none", date=i18n.date(loaded.day)))
        info.display = loaded.province is None or not self.draft.districts
        if self._go_on:
            self._go_on = False
            self.action_next()

    @on(Checkbox.Changed)
    def _ticked(self, event: Checkbox.Changed) -> None:
        self.draft.mark(event.checkbox.name, event.value)
        self.draft.refresh_units()
        self.query_one("#districts-error").display = False

    # on to step 2

    def decision(self, values: dict) -> Decision:
        return Decision(values["decision"], values["decided"], values["effective"], values.get("note"))

    def action_next(self) -> None:
        if not isinstance(self.app.screen, GuideScreen):
            return
        self.query_one(MessageBox).display = False
        values, bad = collect(self.query(FormField))
        if bad is not None:
            bad.input.focus()
            self.query_one(MessageBox).show([t("reorganise.fix_fields")])
            return
        if self._loaded != values["effective"]:  # still reading the districts of that day
            self._go_on = True
            if self._day != values["effective"]:
                self._load(values["effective"])
            return
        decision = self.decision(values)
        # the decision's own rules, said here rather than after step 2 (db.reorganise has the last word)
        today = self.context.today
        if decision.decided > today:
            self.show_refusal(Refusal(1, "decided", change_error_text(ChangeError(
                "decided_in_future", decided=decision.decided, today=today))))
            return
        if decision.effective < decision.decided:
            self.show_refusal(Refusal(1, "effective", change_error_text(ChangeError(
                "effective_before_decided", effective=decision.effective, decided=decision.decided))))
            return
        if self.draft.province is None or not self.draft.marked:
            text = (t("guide2025.no_province", date=i18n.date(decision.effective))
                    if self.draft.province is None else t("guide2025.no_district_marked"))
            self.show_refusal(Refusal(1, "districts", text))
            return
        self.app.push_screen(CommunesScreen(self.context, self.draft, decision), self._back_from_step2)

    def _back_from_step2(self, result) -> None:
        if isinstance(result, SavedChange):
            self.dismiss(result)
        elif isinstance(result, Refusal):
            self.show_refusal(result)

    def show_refusal(self, refusal: Refusal) -> None:
        if refusal.field == "districts":
            error = self.query_one("#districts-error", Static)
            error.update(refusal.text)
            error.display = True
            ticks = list(self.query(Tick))
            if ticks:
                ticks[0].focus()
        else:
            widget = self._field(refusal.field) if refusal.field else None
            if widget is not None:
                widget.show_error(refusal.text)
                widget.input.focus()
        self.query_one(MessageBox).show([t("reorganise.not_saved"), refusal.text])


# --- step 2: the new communes -------------------------------------------------------------------------

class UnitsTable(DataTable):
    """The old communes, or the other units under the districts (Enter: choose where it goes)."""

    def __init__(self, communes: bool, **kwargs) -> None:
        super().__init__(cursor_type="row", cell_padding=0, **kwargs)
        self.communes = communes


class CommunesScreen(Screen):
    """Step 2. Dismisses with a SavedChange (saved from step 3), a Refusal for step 1, or None
    (Escape: back to step 1, everything chosen kept in the draft)."""

    HELP_TITLE = "guide2025.help_title"
    HELP_NOTES = ("guide2025.help_note",)
    DEFAULT_CSS = """
    CommunesScreen #guide2-title { height: 1; padding: 0 1; text-style: bold; }
    CommunesScreen .guide2-label { height: 1; padding: 0 1; background: $boost; text-style: bold; }
    CommunesScreen UnitsTable { height: 1fr; min-height: 3; overflow-x: hidden; }
    CommunesScreen #guide2-communes { height: 3fr; }
    CommunesScreen #guide2-others { height: 2fr; }
    CommunesScreen #guide2-detail { height: auto; max-height: 2; padding: 0 1; }
    CommunesScreen #guide2-keys { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    CommunesScreen #guide2-messages { height: auto; max-height: 4; padding: 0 1; border-top: solid $primary; }
    CommunesScreen #guide2-messages .message-line { text-style: bold; }
    CommunesScreen DataTable:nocolor > .datatable--cursor { text-style: underline; }
    CommunesScreen DataTable:nocolor:focus > .datatable--cursor { text-style: reverse; }
    """
    BINDINGS = [
        Binding("escape", "back", "keys.back", id="guide2025.back"),
        Binding("ctrl+s", "preview", "reorganise.key_preview", tooltip="reorganise.key_preview_long",
                priority=True, id="guide2025.preview"),
        Binding("n", "new", "guide2025.key_new", tooltip="guide2025.key_new_long", show=False,
                id="guide2025.new"),
        Binding("1", "to(1)", "guide2025.key_to", key_display="1–9", show=False, id="guide2025.to"),
        *[Binding(str(i), f"to({i})", "guide2025.key_to", show=False) for i in range(2, DIGITS + 1)],
        Binding("0", "keep", "guide2025.key_keep", tooltip="guide2025.key_keep_long", show=False,
                id="guide2025.keep"),
        Binding("enter", "choose", "guide2025.key_choose", tooltip="guide2025.key_choose_long",
                show=False, id="guide2025.choose"),
        Binding("e", "edit", "guide2025.key_edit", tooltip="guide2025.key_edit_long", show=False,
                id="guide2025.edit"),
    ]

    def __init__(self, context: AppContext, draft: Draft, decision: Decision) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.draft = draft
        self.decision = decision
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(safe(t("guide2025.step2_title", decision=self.decision.number,
                            effective=i18n.date(self.decision.effective))), id="guide2-title",
                     markup=False)
        yield Static("", id="guide2-communes-label", classes="guide2-label", markup=False)
        yield UnitsTable(True, id="guide2-communes")
        yield Static("", id="guide2-others-label", classes="guide2-label", markup=False)
        yield UnitsTable(False, id="guide2-others")
        yield Static("", id="guide2-detail", markup=False)
        yield MessageBox(id="guide2-messages")
        yield Static(t("guide2025.step2_keys"), id="guide2-keys", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("guide2025.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one(MessageBox).display = False
        self.query_one("#guide2-others-label").display = bool(self.draft.others)
        self.query_one("#guide2-others").display = bool(self.draft.others)
        self.call_after_refresh(self._fill)
        self.query_one("#guide2-communes").focus()

    def on_resize(self) -> None:
        self._fill()

    # the tables

    def _table(self, communes: bool) -> UnitsTable:
        return self.query_one("#guide2-communes" if communes else "#guide2-others", UnitsTable)

    def _goes(self, unit: OldUnit) -> Text:
        draft = self.draft
        if unit.commune:
            new = draft.into.get(unit.code)
            if new is not None:
                return safe(t("guide2025.into_new", n=draft.number(new), code=new.code, name=new.name))
            if unit.code in draft.kept_names:
                return safe(t("guide2025.kept_renamed", name=draft.kept_name(unit)))
            return Text(t("guide2025.kept"))
        target = draft.moves.get(unit.code)
        if isinstance(target, NewCommune):
            return safe(t("guide2025.into_new", n=draft.number(target), code=target.code,
                          name=target.name))
        if isinstance(target, str):
            new = draft.into.get(target)
            if new is not None:
                return safe(t("guide2025.into_new", n=draft.number(new), code=new.code, name=new.name))
            old = next(u for u in draft.communes if u.code == target)
            return safe(t("guide2025.into_kept", code=target, name=draft.kept_name(old)))
        return Text(t("guide2025.province"))

    def _fill(self) -> None:
        for communes in (True, False):
            table = self._table(communes)
            rows = self.draft.communes if communes else self.draft.others
            width = (table.size.width or self.app.size.width) - 3  # room for the scroll bar
            code_w = max([len(u.code) for u in rows] + [len(t("guide2025.col_code"))])
            name_w = max((width - code_w - 2) * 2 // 5, 12)
            goes_w = max(width - code_w - name_w - 2, 10)
            row = max(table.cursor_row, 0)
            with self.app.batch_update():
                table.clear(columns=True)
                table.add_column(Text(t("guide2025.col_code")), key="code", width=code_w + 1)
                table.add_column(fit(Text(t("guide2025.col_old" if communes else "guide2025.col_unit")),
                                     name_w), key="name", width=name_w + 1)
                table.add_column(fit(Text(t("guide2025.col_into" if communes else "guide2025.col_goes_to")),
                                     goes_w), key="goes", width=goes_w)
                for unit in rows:
                    table.add_row(safe(unit.code), fit(safe(unit.name), name_w),
                                  fit(self._goes(unit), goes_w), key=unit.code)
                if table.row_count:
                    table.move_cursor(row=min(row, table.row_count - 1), animate=False)
        self._labels()
        self._detail()

    def _refresh_rows(self) -> None:
        """After a change of where units go: every row's last cell (a number may have moved)."""
        for communes in (True, False):
            table = self._table(communes)
            goes_w = table.columns["goes"].width if "goes" in table.columns else 20
            for unit in (self.draft.communes if communes else self.draft.others):
                table.update_cell(unit.code, "goes", fit(self._goes(unit), goes_w))
        self._labels()
        self._detail()

    def _labels(self) -> None:
        draft = self.draft
        self.query_one("#guide2-communes-label", Static).update(t(
            "guide2025.communes_label", n=i18n.number(len(draft.communes)),
            new=i18n.number(len(draft.new)), kept=i18n.number(len(draft.kept()))))
        self.query_one("#guide2-others-label", Static).update(t(
            "guide2025.others_label", n=i18n.number(len(draft.others))))

    def _current(self) -> OldUnit | None:
        table = self.focused if isinstance(self.focused, UnitsTable) else self._table(True)
        rows = self.draft.communes if table.communes else self.draft.others
        if not rows or not table.row_count:
            return None
        index = max(table.cursor_row, 0)
        return rows[index] if index < len(rows) else None

    def _detail(self) -> None:
        unit = self._current()
        detail = self.query_one("#guide2-detail", Static)
        if unit is None:
            detail.update(t("guide2025.none_below"))
            return
        text = safe(t("guide2025.detail", name=unit.name, code=unit.code, district=unit.district.name))
        new = self.draft.into.get(unit.code) if unit.commune else self.draft.moves.get(unit.code)
        if isinstance(new, NewCommune):
            text.append(" · ")
            text.append_text(safe(t("guide2025.detail_new", n=self.draft.number(new), name=new.name,
                                    code=new.code, sources=", ".join(
                                        s.code for s in self.draft.sources(new)))))
        detail.update(text)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._detail()

    def on_descendant_focus(self) -> None:
        self._detail()

    def _changed(self) -> None:
        self.draft.prune()
        self.query_one(MessageBox).display = False
        self._refresh_rows()

    def say(self, lines: list[str], good: bool = False) -> None:
        self.query_one(MessageBox).show(lines, good=good)

    # the keys

    def action_back(self) -> None:
        if not self._busy:
            self.dismiss(None)

    def _put(self, unit: OldUnit, target) -> None:
        """`target`: a NewCommune, an old commune's code (other units only), or None."""
        draft = self.draft
        if unit.commune:
            if target is None:
                draft.into.pop(unit.code, None)
            else:
                draft.into[unit.code] = target
        elif target is None:
            draft.moves.pop(unit.code, None)
        else:
            draft.moves[unit.code] = target
        self._changed()

    def action_to(self, number: int) -> None:
        unit = self._current()
        if unit is None:
            return
        if number > len(self.draft.new):
            self.say([t("guide2025.no_new_n", n=number)])
            return
        self._put(unit, self.draft.new[number - 1])

    def action_keep(self) -> None:
        unit = self._current()
        if unit is not None:
            self._put(unit, None)

    def action_new(self, error: str | None = None) -> None:
        unit = self._current()
        if unit is None:
            return
        if not unit.commune:
            self.say([t("guide2025.only_communes")])
            return

        def done(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                new = NewCommune(*answer)
                self.draft.new.append(new)
                self._put(unit, new)

        self.app.push_screen(NewCommuneForm(self.draft, t("guide2025.new_title", name=unit.name,
                                                          code=unit.code)), done)

    def action_edit(self, error: str | None = None, new: NewCommune | None = None) -> None:
        unit = self._current()
        if unit is None and new is None:
            return
        if new is None:
            new = self.draft.into.get(unit.code) if unit.commune else self.draft.moves.get(unit.code)
        if isinstance(new, NewCommune):
            def done(answer: tuple[str, str] | None) -> None:
                if answer is not None:
                    new.code, new.name = answer
                    self._changed()

            self.app.push_screen(NewCommuneForm(self.draft, t("guide2025.edit_title",
                                                              n=self.draft.number(new)),
                                                new=new, error=error), done)
            return
        if not unit.commune:  # another unit has no name of its own to change here
            self.say([t("guide2025.key_edit_long")])
            return

        def renamed(name: str | None) -> None:
            if name is None:
                return
            if name == unit.name:
                self.draft.kept_names.pop(unit.code, None)
            else:
                self.draft.kept_names[unit.code] = name
            self._changed()

        self.app.push_screen(ValueDialog(t("guide2025.rename_title", code=unit.code),
                                         t("guide2025.field_kept_name", code=unit.code),
                                         value=self.draft.kept_name(unit)), renamed)

    def action_choose(self) -> None:
        unit = self._current()
        if unit is None:
            return
        self.app.push_screen(CommuneChooser(self.draft, unit),
                             lambda choice: None if choice is None else self._put(unit, choice or None))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    # on to step 3

    def action_preview(self) -> None:
        if self._busy:
            return
        try:
            plan = self.draft.plan(self.decision)
        except DraftError as exc:
            self.show_refusal(Refusal(2, exc.code, exc.text))
            return
        self._busy = True
        self.say([t("guide2025.previewing")], good=True)
        self._preview(plan)

    @work(thread=True, exclusive=True, group="guide-preview")
    def _preview(self, plan: Plan) -> None:
        result, _copy, refusal = run_plan(self.context, plan, self.draft, save=False)
        self.app.call_from_thread(self._previewed, plan, result, refusal)

    def _previewed(self, plan: Plan, result: Result | None, refusal: Refusal | None) -> None:
        self._busy = False
        if refusal is not None:
            self.show_refusal(refusal)
            return
        self.query_one(MessageBox).display = False
        self.app.push_screen(PlanPreviewScreen(self.context, self.draft, plan, result),
                             self._back_from_step3)

    def _back_from_step3(self, result) -> None:
        if isinstance(result, SavedChange):
            self.dismiss(result)
        elif isinstance(result, Refusal):
            self.show_refusal(result)

    def show_refusal(self, refusal: Refusal) -> None:
        if refusal.step == 1:
            self.dismiss(refusal)
            return
        self.say([t("reorganise.not_saved"), refusal.text])
        if refusal.field and refusal.field.startswith("new:"):
            code = refusal.field[4:]
            new = next((n for n in self.draft.new if n.code.strip() == code), None)
            if new is not None:
                self._focus_row(self.draft.sources(new)[0].code)
                self.action_edit(error=refusal.text, new=new)
            return
        if refusal.field:
            self._focus_row(refusal.field)

    def _focus_row(self, code: str) -> None:
        for communes in (True, False):
            rows = self.draft.communes if communes else self.draft.others
            for index, unit in enumerate(rows):
                if unit.code == code:
                    table = self._table(communes)
                    table.focus()
                    table.move_cursor(row=index, animate=False)
                    return


class NewCommuneForm(FormScreen, ModalScreen):
    """A new commune's code and name; dismisses with (code, name). Checks what it can here: a
    code with no space, not used by another new commune nor by a unit listed in step 2."""

    DEFAULT_CSS = _dialog_css("NewCommuneForm")
    BINDINGS = [Binding("ctrl+s", "save", "form.keys.save", priority=True, id="newcommune.save")]

    def __init__(self, draft: Draft, title: str, *, new: NewCommune | None = None,
                 error: str | None = None) -> None:
        super().__init__()
        self.draft = draft
        self.title_text = title
        self.new = new
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield FormField("code", t("guide2025.field_code"), required=True,
                            value=self.new.code if self.new else "")
            yield FormField("name", t("guide2025.field_name"), required=True,
                            value=self.new.name if self.new else "")
            yield Static(t("guide2025.form_keys"), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#in-code", Input).focus()
        if self.error:
            self.call_after_refresh(self._field("code").show_error, self.error)

    def _field(self, name: str) -> FormField:
        return next(f for f in self.query(FormField) if f.field_name == name)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        values, bad = collect(self.query(FormField))
        if bad is not None:
            bad.input.focus()
            return
        code, name = values["code"].strip(), values["name"].strip()
        problem = None
        if any(ch.isspace() for ch in code):
            problem = change_error_text(ChangeError("bad_code", code=code))
        elif any(n.code.strip() == code for n in self.draft.new if n is not self.new):
            problem = t("guide2025.code_twice", code=code)
        elif code in {u.code for u in self.draft.communes + self.draft.others} | {
                d.code for d in self.draft.districts}:
            problem = change_error_text(ChangeError("code_taken", code=code))
        if problem:
            field_widget = self._field("code")
            field_widget.show_error(problem)
            field_widget.input.focus()
            return
        self.dismiss((code, name))


class CommuneChooser(ModalScreen):
    """Where the unit goes: on its own / under the province (dismisses ""), a new commune, or,
    for a unit other than a commune, a commune left on its own (its code). Escape: None."""

    DEFAULT_CSS = _dialog_css("CommuneChooser") + """
    CommuneChooser OptionList { height: auto; max-height: 14; }
    """
    BINDINGS = [Binding("escape", "cancel", "form.keys.cancel", id="chooser.cancel")]

    def __init__(self, draft: Draft, unit: OldUnit) -> None:
        super().__init__()
        translate_bindings(self)
        self.draft = draft
        self.unit = unit
        self.choices: list[object] = [""]
        self.choices += list(draft.new)
        if not unit.commune:
            self.choices += [u.code for u in draft.kept()]

    def compose(self) -> ComposeResult:
        draft = self.draft
        options = [Option(Text(t("guide2025.choose_keep" if self.unit.commune
                                 else "guide2025.choose_province")))]
        for new in draft.new:
            options.append(Option(safe(t("guide2025.into_new", n=draft.number(new), code=new.code,
                                         name=new.name))))
        if not self.unit.commune:
            options += [Option(safe(t("guide2025.into_kept", code=u.code, name=draft.kept_name(u))))
                        for u in draft.kept()]
        with Vertical(classes="dialog"):
            yield Static(safe(t("guide2025.chooser_title", name=self.unit.name, code=self.unit.code)),
                         classes="dialog-title", markup=False)
            yield OptionList(*options, id="chooser-list")
            yield Static(t("guide2025.chooser_keys"), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        now = (self.draft.into.get(self.unit.code) if self.unit.commune
               else self.draft.moves.get(self.unit.code))
        index = next((i for i, c in enumerate(self.choices) if c is now or (c == now and c)), 0)
        options.highlighted = index
        options.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- step 3: the preview ------------------------------------------------------------------------------

class PlanPreviewScreen(Screen):
    """What the plan would do, from reorganise_2025.preview. Enter or Ctrl+S asks, then saves
    (dismisses a SavedChange); Escape goes back to step 2 (None)."""

    HELP_TITLE = "guide2025.help_title"
    DEFAULT_CSS = """
    PlanPreviewScreen #plan-scroll { height: 1fr; padding: 0 1; }
    PlanPreviewScreen .preview-title { text-style: bold; }
    PlanPreviewScreen .preview-when { text-style: bold; margin-bottom: 1; }
    PlanPreviewScreen .preview-checks { text-style: bold; margin-bottom: 1; }
    PlanPreviewScreen #plan-keys { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    PlanPreviewScreen #plan-messages { height: auto; max-height: 5; padding: 0 1; border-top: solid $primary; }
    PlanPreviewScreen #plan-messages .message-line { text-style: bold; }
    """
    BINDINGS = [
        Binding("enter", "confirm", "reorganise.key_confirm", id="guide2025.confirm"),
        Binding("ctrl+s", "confirm", "reorganise.key_confirm", priority=True, show=False,
                id="guide2025.confirm_s"),
        Binding("escape", "back", "keys.back", id="guide2025.preview_back"),
    ]

    def __init__(self, context: AppContext, draft: Draft, plan: Plan, result: Result) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.draft = draft
        self.plan = plan
        self.result = result
        self._busy = False

    def compose(self) -> ComposeResult:
        decision = self.plan.decision
        yield Header(icon="")
        with VerticalScroll(id="plan-scroll"):
            yield Static(safe(t("guide2025.step3_title", decision=decision.number)),
                         classes="preview-title", markup=False)
            yield Static(t("reorganise.preview_dates", decided=i18n.date(decision.decided),
                           effective=i18n.date(decision.effective)), markup=False)
            when = (t("reorganise.preview_now") if decision.effective <= self.context.today
                    else t("reorganise.preview_later", date=i18n.date(decision.effective)))
            yield Static(when, classes="preview-when", markup=False)
            yield Static(self._communes(), id="plan-communes", markup=False)
            yield Static(self._checks(), id="plan-checks", classes="preview-checks", markup=False)
            yield Static(self._changes(), id="plan-changes", markup=False)
        yield MessageBox(id="plan-messages")
        yield Static(t("guide2025.step3_keys"), id="plan-keys", markup=False)
        yield Footer(compact=True)

    def _communes(self) -> Group:
        result = self.result
        province = self.draft.province
        heading = safe(t("guide2025.communes_after", n=i18n.number(len(result.communes)),
                         province=province.name if province else ""))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
                      expand=False)
        table.add_column(t("guide2025.col_code"), no_wrap=True)
        table.add_column(t("guide2025.col_commune"), no_wrap=True, overflow="ellipsis", max_width=36)
        table.add_column(t("guide2025.col_branches"), justify="right", no_wrap=True)
        table.add_column(t("reorganise.col.members"), justify="right", no_wrap=True)
        table.add_column(t("reorganise.col.files"), justify="right", no_wrap=True)
        for code, name, members, files, branches in result.communes:
            table.add_row(safe(code), safe(name), i18n.number(branches), i18n.number(members),
                          i18n.number(files))
        return Group(heading, table)

    def _checks(self) -> Text:
        result = self.result
        lines = []
        if result.open_files_outside:
            lines.append(t("guide2025.check_files", n=i18n.number(result.open_files_outside)))
        if result.units_left:
            lines.append(t("guide2025.check_units", units=", ".join(result.units_left)))
        if not lines:
            lines.append(t("guide2025.check_ok"))
        return safe("\n".join(lines))

    def _changes(self) -> Group:
        outcomes = self.result.outcomes
        heading = Text(t("guide2025.changes", n=i18n.number(len(outcomes))))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
                      expand=False)
        table.add_column(t("guide2025.col_change"), no_wrap=True)
        table.add_column(t("reorganise.col.source"), no_wrap=True)
        table.add_column(t("reorganise.col.target"), no_wrap=True)
        for key in ("members", "people", "files", "units"):
            table.add_column(t(f"reorganise.col.{key}"), justify="right", no_wrap=True)
        for outcome in outcomes:
            kind = _kind(outcome.kind)
            moved = [m for m in outcome.moved if m.people or m.files or m.units]
            if not moved:
                table.add_row(kind, safe(", ".join(outcome.sources)),
                              safe("→ " + ", ".join(outcome.results)), "", "", "", "")
                continue
            for m in moved:
                table.add_row(kind, safe(m.source), safe("→ " + m.target), i18n.number(m.members),
                              i18n.number(m.people), i18n.number(m.files), i18n.number(m.units))
                kind = ""
        return Group(heading, table)

    def on_mount(self) -> None:
        self.title = t("guide2025.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one(MessageBox).display = False
        self.query_one("#plan-scroll").focus()

    def action_back(self) -> None:
        if not self._busy:
            self.dismiss(None)

    def action_confirm(self) -> None:
        if self._busy:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._busy = True
                self.query_one(MessageBox).show([t("guide2025.saving")], good=True)
                self._save()

        self.app.push_screen(ConfirmDialog(
            t("guide2025.confirm", decision=self.plan.decision.number,
              n=i18n.number(len(self.result.outcomes))), t("guide2025.confirm_keys")), answered)

    @work(thread=True, exclusive=True, group="guide-save")
    def _save(self) -> None:
        result, copy, refusal = run_plan(self.context, self.plan, self.draft, save=True)
        self.app.call_from_thread(self._saved, result, copy, refusal)

    def _saved(self, result: Result | None, copy: str | None, refusal: Refusal | None) -> None:
        self._busy = False
        if refusal is not None:  # something changed since the preview: said here, then at its place
            if refusal.step == 0:
                self.query_one(MessageBox).show([t("reorganise.not_saved"), refusal.text])
            else:
                self.dismiss(refusal)
            return
        decision = self.plan.decision
        message = t("guide2025.saved", decision=decision.number,
                    n=i18n.number(len(result.communes)), date=i18n.date(decision.effective))
        message += " " + (t("guide2025.copy", path=copy) if copy else t("guide2025.no_copy"))
        self.dismiss(SavedChange(message, self.draft.province.id if self.draft.province else None))
