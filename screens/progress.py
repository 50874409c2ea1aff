"""Where a unit stands against its target: the figures of db.progress.stats on one screen.

`ProgressScreen` (key `p` on the main screen) shows, for the unit whose people are listed, for a
year (`[`/`]`) as of a date (`d`; default: today, or 31/12 of a past year):

- headline panels with large numbers (drawn with block characters that old consoles and PuTTY's
  fonts have: █ ▀ ▄): admitted / target, expected by year end / target, overdue files, awareness
  classes held / planned with trainees, people sent to class, members and their share of the
  population; Enter on a panel opens the list behind its number (every panel has one: the
  admissions, the people sent to class and the members in screens.behind, the others in the
  work list or the class list);
- admitted against target per child unit, one text bar each, best first; Enter drills down into
  the child, Escape or Backspace comes back up;
- the line of the current term (admitted since the term began, a year on average, the term's
  target), which takes the focus like the panels: Enter opens the term's admissions (term start
  up to the as-of date) in screens.behind;
- the funnel of open files per stage; Enter opens the work list of that stage;
- the year's admissions month by month (cumulative) against a straight line to the target. The
  chart takes the focus: a ▲ under one month (at first the as-of month), moved with ←/→ and
  Home/End, marks the month whose figures are written below it in words ("Tháng 3: 4 kết nạp,
  cộng dồn 12"), and Enter opens that month's admissions, the files behind its bar.

Meaning is never carried by colour alone: bars are █ against ░ with the figures written beside
them, the target line is ─, and "đạt"/"vượt chỉ tiêu" are words. `t` sets the unit's target
(organisers and administrators; TargetDialog), `h` shows the history of its targets.

The figures are read in a thread worker (db.progress.stats: about 20 ms on the demo's district, half a second for a
province of a million people); the monthly
series in a second one (db.progress.admitted_by, one query). The lists behind the term line and
the chart are db.progress.admitted_list over the term's or the month's dates.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Header, Input, Static

from db import connection, progress
from db.access import AccessError, NotFound, may_override
from db.cases import UnitRef
from db.progress import FUNNEL, Stats, TargetError, TargetRow
from screens.dialogs import FormField, FormScreen, MessageBox, Tick, _dialog_css, collect
from screens.main import short_unit_name
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.messages import not_allowed
from tui.widgets import fit, hide_keys, safe, translate_bindings

Date = datetime.date

# --- large numbers -------------------------------------------------------------------------------

# A 3x5 pixel font; each glyph is drawn on three lines with the half blocks ▀ ▄ and the full
# block █, which the Linux console, CP437 and the WGL4 fonts of old Windows PCs all have.
_FONT = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
    ".": ("0", "0", "0", "0", "1"),
    ",": ("0", "0", "0", "1", "1"),
    "%": ("101", "001", "010", "100", "101"),
    "–": ("000", "000", "111", "000", "000"),
    "-": ("000", "000", "111", "000", "000"),
    " ": ("0", "0", "0", "0", "0"),
}
_HALVES = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def big_lines(text: str) -> list[str] | None:
    """`text` in large characters, three lines of equal width; None when a character has no
    glyph (the caller then writes it in ordinary characters)."""
    if any(ch not in _FONT for ch in text):
        return None
    lines = ["", "", ""]
    for index, ch in enumerate(text):
        rows = [[c == "1" for c in row] for row in _FONT[ch]] + [[False] * len(_FONT[ch][0])]
        for line in range(3):
            top, bottom = rows[2 * line], rows[2 * line + 1]
            lines[line] += "".join(_HALVES[(a, b)] for a, b in zip(top, bottom))
            if index < len(text) - 1:
                lines[line] += " "
    return lines


def bar(fraction: float | None, width: int) -> Text:
    """A bar `width` cells long: █ for the part done, ░ for the rest (readable without colour)."""
    if fraction is None or width <= 0:
        return Text("")
    done = max(0, min(width, round(fraction * width)))
    if fraction > 0 and done == 0:
        done = 1  # something done shows
    text = Text("█" * done, style="bold green")
    text.append("░" * (width - done), style="dim")
    return text


def right(value: str, width: int, style: str = "") -> Text:
    """`value` against the right edge of `width` cells (a table's numbers line up)."""
    return fit(Text(value.rjust(width), style=style), width)


def verdict(part: int, target: int | None, *, short: bool = False) -> str:
    """"đạt" at 100 %, "vượt chỉ tiêu" above, what is missing below (domain.md section 6)."""
    if not target:
        return t("progress.no_target")
    if part == target:
        return t("progress.reached")
    if part > target:
        return t("progress.above")
    return t("progress.short" if short else "progress.below", n=i18n.number(target - part))


class Panel(Widget, can_focus=False):
    """A headline figure: its name in the border, the number large, a few words below. A panel
    whose number has a list behind it can take the focus (Enter opens the list)."""

    DEFAULT_CSS = """
    Panel { height: 7; border: round $primary; padding: 0 1; text-wrap: nowrap;
            text-overflow: ellipsis; }
    Panel:focus { border: double $accent; }
    Panel:focus > .panel--title { text-style: reverse; }
    """

    def __init__(self, key: str, *, opens: bool = False) -> None:
        super().__init__(id=f"panel-{key}", classes="panel")
        self.key = key
        self.can_focus = opens
        self.figure = ""
        self.suffix = ""
        self.details: list[str] = []

    def show(self, label: str, figure: str, suffix: str = "", details: list[str] | None = None) -> None:
        self.border_title = label + (" ↵" if self.can_focus else "")
        self.figure, self.suffix, self.details = figure, suffix, list(details or [])
        self.refresh()

    @property
    def plain(self) -> str:
        """What the panel says, in ordinary characters (tests, and the line a reader needs)."""
        head = f"{self.figure} {self.suffix}".strip()
        return " · ".join([head] + [d for d in self.details if d])

    def render(self) -> Text:
        width = self.content_size.width or 24
        # the half blocks have no ASCII likeness: with --ascii the figure is in ordinary characters
        ascii_only = getattr(getattr(self.app, "context", None), "ascii", False)
        lines = big_lines(self.figure) if self.figure and not ascii_only else None
        text = Text(no_wrap=True, overflow="ellipsis")
        if lines is not None and len(lines[0]) + 1 + len(self.suffix) <= width:
            for i, line in enumerate(lines):
                text.append(line, style="bold")
                if i == 1 and self.suffix:
                    text.append(" " + self.suffix, style="bold")
                text.append("\n")
        else:  # too wide for the panel: the figure in ordinary (bold) characters
            text.append("\n")
            text.append(self.figure, style="bold")
            text.append(" " + self.suffix if self.suffix else "", style="bold")
            text.append("\n\n")
        text.append("\n".join(self.details))
        return text


# --- the monthly chart ---------------------------------------------------------------------------

CHART_ROWS = 8
CHILD_ROWS = 11  # the children's table shows this many rows, then scrolls (progress.tcss)


def month_ends(year: int, as_of: Date) -> list[Date]:
    """The days the cumulative admissions are counted on: the end of each month of `year` up to
    `as_of`, the last one being `as_of` itself."""
    days = []
    for month in range(1, 13):
        first_of_next = Date(year + 1, 1, 1) if month == 12 else Date(year, month + 1, 1)
        end = first_of_next - datetime.timedelta(days=1)
        if Date(year, month, 1) > as_of:
            break
        days.append(min(end, as_of))
    return days


def chart_text(cumulative: list[int], target: int | None, width: int, marker: int | None = None,
               keys: bool = False) -> Text:
    """Admissions since 1 January at the end of each month (bars █, ▄ for half a step) against
    the straight line from 0 to the target on 31 December (─), the figures written below.

    `marker` (a month's index, 0 for January): a ▲ under that month, its number in reverse, and
    a line saying its figures in words (with the keys that move it when `keys`)."""
    if marker is not None and not 0 <= marker < len(cumulative):
        marker = None
    label_w = 5
    col = max(4, min(6, (width - label_w - 1) // 12))
    top = max([target or 0] + cumulative + [1])
    step = -(-top // CHART_ROWS)  # each line of the chart, in people (rounded up)
    top = step * CHART_ROWS
    line_at = [target * m / 12 if target else None for m in range(1, 13)]
    out = Text(no_wrap=True)
    for row in range(CHART_ROWS):
        high, low = top - row * step, top - (row + 1) * step  # this line holds (low, high]
        label = i18n.number(high) if row % 2 == 0 else ""
        out.append(label.rjust(label_w - 1) + " ┤" if label else " " * (label_w - 1) + " │")
        for m in range(12):
            cells = [" "] * col
            styles = [""] * col
            value = line_at[m]
            if value is not None and low < value <= high or (value == 0 and row == CHART_ROWS - 1):
                cells = ["─"] * col
                styles = ["yellow"] * col
            if m < len(cumulative):
                v = cumulative[m]
                mark = "█" if v >= high else "▄" if v >= low + step / 2 and v > low else None
                if mark:
                    for i in (1, 2):
                        cells[i], styles[i] = mark, "bold green"
            for cell, style in zip(cells, styles):
                out.append(cell, style=style)
        out.append("\n")
    out.append(" " * label_w + "└" + "─" * (col * 12) + "\n")
    out.append(t("progress.chart.month").rjust(label_w) + " ")
    for m in range(1, 13):
        label = str(m).center(col)[:col]
        if m - 1 == marker:  # the chosen month's number in reverse, the ▲ below says it too
            pad = len(label) - len(label.lstrip())
            out.append(label[:pad])
            out.append(str(m), style="bold reverse")
            out.append(label[pad + len(str(m)):])
        else:
            out.append(label)
    out.append("\n" + t("progress.chart.admitted").rjust(label_w) + " ")
    for m in range(12):
        out.append((i18n.number(cumulative[m]) if m < len(cumulative) else "").center(col)[:col],
                   style="bold")
    out.append("\n")
    if marker is not None:
        out.append(" " * (label_w + 1) + " " * (col * marker) + "▲".center(col)[:col] + "\n",
                   style="bold")
        month = cumulative[marker] - (cumulative[marker - 1] if marker else 0)
        out.append(t("progress.chart.marker", month=marker + 1, n=i18n.number(month),
                     total=i18n.number(cumulative[marker])), style="bold")
        if keys:
            out.append(" · " + t("progress.chart.keys"))
        out.append("\n")
    legend = t("progress.chart.legend_bars")
    if target:
        legend += " · " + t("progress.chart.legend_line", target=i18n.number(target))
    out.append(legend, style="italic")
    return out


class TermLine(Static, can_focus=True):
    """The current term's line: admitted since the term began, a year on average, the term's
    target. It takes the focus: Enter (the screen's) opens the term's admissions; marked ↵ like
    the panels, and in reverse when focused (seen without colours too)."""

    DEFAULT_CSS = """
    TermLine:focus { text-style: reverse; }
    """


class MonthChart(Static, can_focus=True):
    """The monthly chart with a month marker: ← → move the ▲ from month to month (Home/End: the
    first/last month), the chosen month's figures are written below the chart; Enter (the
    screen's) opens the admissions of that month. The marker starts on the as-of month."""

    HELP_TITLE = "progress.chart_help_title"

    BINDINGS = [
        Binding("left", "month(-1)", "progress.key_month", tooltip="progress.key_month_long",
                id="progress.chart.previous", show=False),
        Binding("right", "month(1)", "progress.key_month", tooltip="progress.key_month_long",
                id="progress.chart.next", show=False),
        Binding("home", "edge(0)", "progress.key_month_edge", tooltip="progress.key_month_edge_long",
                id="progress.chart.first", show=False),
        Binding("end", "edge(1)", "progress.key_month_edge", tooltip="progress.key_month_edge_long",
                id="progress.chart.last", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(t("progress.chart_loading"), id=id, markup=False)
        translate_bindings(self)
        self.cumulative: list[int] | None = None
        self.target: int | None = None
        self.month: int | None = None  # the index of the month under the ▲ (0: January)

    def show(self, cumulative: list[int] | None, target: int | None) -> None:
        """New figures: the marker goes to the last month (the as-of date's)."""
        self.cumulative, self.target = cumulative, target
        self.month = len(cumulative) - 1 if cumulative else None
        self.draw()

    def draw(self, focused: bool | None = None) -> None:
        if self.cumulative is None:
            self.update(Text(t("progress.chart_loading")))
            return
        width = self.size.width or self.app.size.width - 2
        keys = self.has_focus if focused is None else focused
        self.update(chart_text(self.cumulative, self.target, width, self.month, keys=keys))

    # (called before Widget._on_focus/_on_blur have changed `has_focus`)
    def on_focus(self) -> None:
        self.draw(focused=True)  # the keys that move the marker, while they work

    def on_blur(self) -> None:
        self.draw(focused=False)

    def action_month(self, step: int) -> None:
        if self.month is not None and self.cumulative:
            self.month = max(0, min(len(self.cumulative) - 1, self.month + step))
            self.draw()

    def action_edge(self, last: int) -> None:
        if self.month is not None and self.cumulative:
            self.month = len(self.cumulative) - 1 if last else 0
            self.draw()


# --- loading -------------------------------------------------------------------------------------

class StatsLoaded(Message):
    def __init__(self, seq: int, stats: Stats | None, error: str | None = None) -> None:
        super().__init__()
        self.seq = seq
        self.stats = stats
        self.error = error


class MonthsLoaded(Message):
    def __init__(self, seq: int, cumulative: list[int]) -> None:
        super().__init__()
        self.seq = seq
        self.cumulative = cumulative


@dataclass(frozen=True)
class Place:
    """Where the screen stands: the unit, the year, the as-of date."""

    unit: UnitRef
    year: int
    as_of: Date


def refusal_text(exc: Exception) -> str:
    if isinstance(exc, TargetError):
        key = f"progress.error.{exc.code}"
        return t(key) if i18n.has(key) else safe(exc.code).plain
    if isinstance(exc, AccessError):
        return t("progress.forbidden")
    if isinstance(exc, NotFound):
        return t("progress.not_found")
    raise exc


class ProgressScreen(Screen):
    """The figures of one unit for a year as of a date, its children's, the funnel and the
    year's admissions month by month."""

    CSS_PATH = "progress.tcss"
    AUTO_FOCUS = None  # the first panel with a list behind it, once the figures are in
    HELP_TITLE = "progress.help_title"
    HELP_NOTES = ("progress.help_note", "progress.help_note_lists")

    BINDINGS = [
        Binding("escape", "back", "progress.key_back", id="progress.back"),
        Binding("backspace", "back", "progress.key_back", show=False, id="progress.back_bs"),
        # not in the footer (no room at 80 columns): the panels that open a list are marked ↵
        # and the section titles say what Enter does
        Binding("enter", "open", "progress.key_open", tooltip="progress.key_open_long", show=False,
                id="progress.open"),
        Binding("left_square_bracket", "year(-1)", "progress.key_year", key_display="[ ]",
                tooltip="progress.key_year_long", id="progress.year"),
        Binding("minus", "year(-1)", "classes.key_previous_year", show=False, key_display="-",
                id="progress.previous_year"),
        Binding("right_square_bracket", "year(1)", "classes.key_next_year", show=False,
                key_display="]", id="progress.next_year"),
        Binding("plus", "year(1)", "classes.key_next_year", show=False, key_display="+",
                id="progress.next_year_plus"),
        Binding("d", "as_of", "progress.key_as_of", tooltip="progress.key_as_of_long",
                id="progress.as_of"),
        Binding("t", "target", "progress.key_target", tooltip="progress.key_target_long",
                id="progress.target"),
        Binding("h", "history", "progress.key_history", tooltip="progress.key_history_long",
                id="progress.history"),
        Binding("w", "worklist", "keys.worklist", tooltip="progress.key_worklist_long", show=False,
                id="progress.worklist"),
        Binding("tab", "app.focus_next", "progress.key_next", show=False, id="progress.next"),
        Binding("shift+tab", "app.focus_previous", "progress.key_previous", show=False,
                id="progress.previous"),
    ]

    def __init__(self, context: AppContext, unit, year: int | None = None,
                 as_of: Date | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.year = year or context.today.year
        self.as_of = as_of or progress.default_as_of(self.year, context.today)
        self.trail: list[UnitRef] = [UnitRef(unit.id, unit.code, unit.name)]
        self.stats: Stats | None = None
        self.cumulative: list[int] | None = None
        self._seq = 0
        self._select: int | None = None  # the child to put the cursor on once loaded
        self._back_to_child = False  # once loaded, the focus goes to that child's row
        if not may_override(context.actor):
            hide_keys(self, ["t"])  # still answers, to say who sets targets

    @property
    def unit(self) -> UnitRef:
        return self.trail[-1]

    # --- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(t("progress.loading"), id="progress-info", markup=False)
        yield Static("", id="progress-message", markup=False)
        with VerticalScroll(id="progress-body", can_focus=False):
            with Grid(id="progress-panels"):
                yield Panel("admitted", opens=True)
                yield Panel("expected", opens=True)
                yield Panel("overdue", opens=True)
                yield Panel("classes", opens=True)
                yield Panel("sent", opens=True)
                yield Panel("members", opens=True)
            yield TermLine("", id="progress-term", markup=False)
            yield Static(t("progress.children_title"), id="children-title", classes="section",
                         markup=False)
            yield DataTable(id="progress-children", cursor_type="row", cell_padding=0)
            yield Static(t("progress.funnel_title"), id="funnel-title", classes="section",
                         markup=False)
            yield DataTable(id="progress-funnel", cursor_type="row", cell_padding=0)
            yield Static(t("progress.chart_title"), id="chart-title", classes="section",
                         markup=False)
            yield MonthChart(id="progress-chart")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one("#progress-message").display = False
        self._load()

    def on_unmount(self) -> None:
        # the unit tree the figures were worked out on is kept while this screen (and the lists
        # opened from it) are open, then let go: the screens opened next reuse its memory
        progress.Tree.release()

    # --- loading ----------------------------------------------------------------------------

    def _load(self) -> None:
        self._seq += 1
        self.cumulative = None
        self.title = t("progress.title", unit=self.unit.name)
        self._show_info()
        self._show_chart()  # "counting…" and no marker until this place's months are in
        place = Place(self.unit, self.year, self.as_of)
        self._fetch(self._seq, place)

    @work(thread=True, exclusive=True, group="progress")
    def _fetch(self, seq: int, place: Place) -> None:
        """The figures, then the months of the chart below them: one after the other in one
        worker, not side by side, so that a province's two readings (tens of megabytes each)
        are not held at once."""
        cumulative: list[int] = []
        try:
            try:
                stats = progress.stats(self.context.actor, place.unit.id, place.year, place.as_of)
                message = StatsLoaded(seq, stats)
            except (NotFound, AccessError) as exc:
                message = StatsLoaded(seq, None, refusal_text(exc))
            self.post_message(message)
            if message.stats is not None:
                cumulative = progress.admitted_by(self.context.actor, place.unit.id, place.year,
                                                  list(month_ends(place.year, place.as_of)))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(MonthsLoaded(seq, cumulative))

    @on(StatsLoaded)
    def _loaded(self, message: StatsLoaded) -> None:
        if message.seq != self._seq:
            return
        self.stats = message.stats
        if message.error:
            self.say(message.error)
        if self.stats is None:
            return
        with self.app.batch_update():
            self._show_info()
            self._show_panels(self.stats)
            self._show_children(self.stats)
            self._show_funnel(self.stats)
            self._show_chart()
        if self._back_to_child:
            self._back_to_child = False
            children = self.query_one("#progress-children", DataTable)
            if children.row_count:
                children.focus()
                self.call_after_refresh(children.scroll_visible, animate=False)
        if self.focused is None:
            self._focus_first()

    @on(MonthsLoaded)
    def _months_loaded(self, message: MonthsLoaded) -> None:
        if message.seq != self._seq:
            return
        self.cumulative = message.cumulative
        self._show_chart()

    def _focus_first(self) -> None:
        self.query_one("#panel-admitted", Panel).focus(scroll_visible=False)

    # --- drawing ----------------------------------------------------------------------------

    def _show_info(self) -> None:
        line = Text(t("progress.info", year=self.year, date=i18n.date(self.as_of)), style="bold")
        if len(self.trail) > 1:  # where the user has drilled down from (the header names the unit)
            line.append(" · ")
            line.append_text(safe(" › ".join(short_unit_name(u.name) for u in self.trail)))
        self.query_one("#progress-info", Static).update(line)

    def _show_panels(self, s: Stats) -> None:
        def of(part: int, whole: int | None) -> str:
            return "/ " + (i18n.number(whole) if whole else "–")

        def pct(value: float | None, key: str) -> str:
            return t(key, percent=i18n.percent(value)) if value is not None else ""

        panels = {p.key: p for p in self.query(Panel)}
        # "t: set one" only to those who may
        no_target = t("progress.no_target_key" if may_override(self.context.actor)
                      else "progress.no_target_short")
        panels["admitted"].show(
            t("progress.panel.admitted", year=s.year), i18n.number(s.admitted), of(s.admitted, s.target),
            [pct(s.target_percent, "progress.of_target") or no_target,
             verdict(s.admitted, s.target) if s.target else ""])
        pending = s.expected - s.admitted
        panels["expected"].show(
            t("progress.panel.expected"), i18n.number(s.expected), of(s.expected, s.target),
            [" · ".join(x for x in (pct(s.expected_percent, "progress.percent_only"),
                                    verdict(s.expected, s.target, short=True) if s.target else "")
                                   if x) or t("progress.no_target_short"),
             t("progress.pending", n=i18n.number(pending))])
        open_files = sum(s.funnel.values())
        panels["overdue"].show(
            t("progress.panel.overdue"), i18n.number(s.overdue), t("progress.files"),
            [t("progress.open_files", n=i18n.number(open_files)), t("progress.as_of_short",
                                                                      date=i18n.date(s.as_of))])
        classes = s.classes.get("awareness")
        if classes is not None:
            panels["classes"].show(
                t("progress.panel.classes"), i18n.number(classes.held),
                t("progress.classes_of", planned=i18n.number(classes.planned)),
                [pct(classes.held_percent, "progress.of_plan") or t("progress.no_plan"),
                 t("progress.trainees", n=i18n.number(classes.trainees))])
        panels["sent"].show(
            t("progress.panel.sent"), i18n.number(s.sent_to_class), t("progress.people"),
            [t("progress.sent_note", year=s.year), t("progress.in_class", n=i18n.number(s.in_class))])
        share = s.members_percent_of_population
        panels["members"].show(
            t("progress.panel.members"), i18n.number(s.members), "",
            [t("progress.population_share", percent=i18n.percent(share)) if share is not None
             else t("progress.no_population"),
             t("progress.branches", n=i18n.number(s.branches),
               probationary=i18n.number(s.members_probationary))])
        term = self.query_one("#progress-term", TermLine)
        if s.term is None:
            term.update(Text(""))
            term.display = False
        else:
            term.display = True
            line = Text(t("progress.term", name=s.term.name, admitted=i18n.number(s.term.admitted),
                          per_year=i18n.number(s.term.admitted_per_year, 1)))
            if s.term.target_per_year:
                line.append(" · " + t("progress.term_target", n=i18n.number(s.term.target_per_year)))
            line.append(" ↵")  # Enter: the term's admissions
            term.update(line)

    def _table_width(self) -> int:
        """The width inside the scrolling body (its scrollbar is always there: progress.tcss)."""
        return self.query_one("#progress-body").scrollable_content_region.width or self.app.size.width - 1

    def on_resize(self) -> None:
        if self.stats is not None:  # the bars and the chart are drawn to the width
            self.call_after_refresh(self._redraw)

    def _redraw(self) -> None:
        # only when the width changed: a redraw empties and refills the tables, which is bytes
        # over a slow link, and a resize comes also when nothing is to be drawn anew
        if self.stats is not None and self._table_width() != getattr(self, "_drawn_width", None):
            self._show_children(self.stats)
            self._show_funnel(self.stats)
            self._show_chart()

    def _show_children(self, s: Stats) -> None:
        self._drawn_width = self._table_width()
        table = self.query_one("#progress-children", DataTable)
        title = self.query_one("#children-title", Static)
        keep = self._select
        if keep is None and table.row_count and table.cursor_row >= 0:
            try:
                keep = int(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)
            except Exception:  # noqa: BLE001 - a cleared table
                keep = None
        self._select = None
        table.clear(columns=True)
        table.display = bool(s.children)
        # the height set here, not left to the table: it learns its rows' height only when idle,
        # and was drawn without rows in between
        table.styles.height = min(len(s.children), CHILD_ROWS) + 1
        if not s.children:
            title.update(Text(t("progress.no_children")))
            return
        title.update(Text(t("progress.children_title"), style="bold"))
        width = self._table_width() - (1 if len(s.children) > CHILD_ROWS else 0)  # its scrollbar
        figures_w = max(len(t("progress.col.admitted")),
                        max(len(f"{i18n.number(c.admitted)}/{i18n.number(c.target)}") for c in s.children))
        percent_w = max(len(t("progress.col.percent")), 7)
        name_w = min(30, max(12, (width - figures_w - percent_w - 3) * 2 // 5))
        bar_w = max(width - name_w - figures_w - percent_w - 3, 4)
        table.add_column(fit(Text(t("progress.col.unit")), name_w), key="name", width=name_w + 1)
        table.add_column("", key="bar", width=bar_w + 1)
        table.add_column(right(t("progress.col.admitted"), figures_w + 1), key="figures",
                         width=figures_w + 1)
        table.add_column(right(t("progress.col.percent"), percent_w), key="percent", width=percent_w)
        for child in s.children:
            percent = child.target_percent
            table.add_row(
                fit(safe(short_unit_name(child.unit.name)), name_w),
                bar(percent / 100, bar_w) if percent is not None
                else Text(t("progress.no_target_short"), style="dim"),
                right(f"{i18n.number(child.admitted)}/{i18n.number(child.target)}", figures_w + 1),
                right(i18n.percent(percent), percent_w),
                key=str(child.unit.id))
        index = next((i for i, c in enumerate(s.children) if c.unit.id == keep), 0)
        table.move_cursor(row=index, animate=False)

    def _show_funnel(self, s: Stats) -> None:
        table = self.query_one("#progress-funnel", DataTable)
        table.clear(columns=True)
        table.styles.height = len(FUNNEL) + 1  # one row a stage and the header (see _show_children)
        width = self._table_width()
        names = {stage: code_name("stage", stage) for stage in FUNNEL}
        name_w = min(max(len(n) for n in names.values()), max(width // 3, 12))
        count_w = max(5, len(t("progress.col.files")))
        bar_w = max(width - name_w - count_w - 2, 4)
        table.add_column(fit(Text(t("progress.col.stage")), name_w), key="stage", width=name_w + 1)
        table.add_column("", key="bar", width=bar_w + 1)
        table.add_column(right(t("progress.col.files"), count_w), key="count", width=count_w)
        most = max(s.funnel.values()) if s.funnel else 0
        for stage in FUNNEL:
            n = s.funnel.get(stage, 0)
            table.add_row(fit(Text(names[stage]), name_w),
                          bar(n / most if most else 0, bar_w) if n else Text(""),
                          right(i18n.number(n), count_w, style="bold" if n else ""),
                          key=stage)

    def _show_chart(self) -> None:
        chart = self.query_one("#progress-chart", MonthChart)
        if self.cumulative is None or self.stats is None:
            chart.show(None, None)
        elif chart.cumulative is not self.cumulative or chart.target != self.stats.target:
            chart.show(self.cumulative, self.stats.target)  # new figures: the as-of month
        else:
            chart.draw()  # the same figures, another width: the marker stays

    def say(self, message: str | None) -> None:
        line = self.query_one("#progress-message", Static)
        line.update(Text(message or ""))
        line.display = bool(message)

    # --- keys -------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.say(None)
        if len(self.trail) > 1:
            self._select = self.trail.pop().id
            self._back_to_child = True
            self._load()
            return
        self.app.pop_screen()

    def action_year(self, step: int) -> None:
        self.year += step
        self.as_of = progress.default_as_of(self.year, self.context.today)
        self.say(None)
        self._load()

    def action_open(self) -> None:
        """Enter on a panel, the term's line or the chart: the list behind its number."""
        focused = self.focused
        if isinstance(focused, Panel):
            self._open_panel(focused.key)
        elif isinstance(focused, TermLine):
            self._open_term()
        elif isinstance(focused, MonthChart) and focused.month is not None:
            self._open_month(focused.month)

    def _open_term(self) -> None:
        """The admissions of the term, from its first day to the as-of date."""
        if self.stats is None or self.stats.term is None:
            return
        from screens.behind import BehindScreen  # imported on first use

        term = self.stats.term
        self.app.push_screen(BehindScreen(
            self.context, "admitted", self.unit, self.year, self.as_of, first=term.start,
            last=self.as_of, title=t("behind.title.term", term=term.name, unit=self.unit.name)))

    def _open_month(self, index: int) -> None:
        """The admissions of one month of the chart (0: January): the files behind its bar."""
        ends = month_ends(self.year, self.as_of)
        if self.stats is None or not 0 <= index < len(ends):
            return
        from screens.behind import BehindScreen  # imported on first use

        self.app.push_screen(BehindScreen(
            self.context, "admitted", self.unit, self.year, self.as_of,
            first=Date(self.year, index + 1, 1), last=ends[index],
            title=t("behind.title.month", month=index + 1, year=self.year, unit=self.unit.name)))

    def _open_panel(self, key: str) -> None:
        if self.stats is None:
            return
        if key == "overdue":
            self._open_worklist(overdue_only=True)
        elif key == "expected":
            self._open_worklist(stages=("branch_approved", "committee_approved"))
        elif key == "classes":
            from screens.classes import ClassListScreen  # imported on first use

            self.app.push_screen(ClassListScreen(self.context, self.unit, self.year))
        elif key in ("admitted", "sent", "members"):
            from screens.behind import BehindScreen  # imported on first use

            # the members are read a page at a time, and counted here already
            counts = ((self.stats.members_official, self.stats.members_probationary)
                      if key == "members" else None)
            self.app.push_screen(BehindScreen(self.context, key, self.unit, self.year, self.as_of,
                                              counts=counts))

    def _open_worklist(self, *, stages: tuple[str, ...] | None = None,
                       overdue_only: bool = False) -> None:
        from screens.worklist import WorklistScreen  # imported on first use

        self.app.push_screen(WorklistScreen(self.context, self.unit, as_of=self.as_of, stages=stages,
                                            overdue_only=overdue_only))

    def action_worklist(self) -> None:
        self._open_worklist()

    @on(DataTable.RowSelected, "#progress-children")
    def _drill_down(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.stats is None or event.row_key.value is None:
            return
        child = next((c for c in self.stats.children if str(c.unit.id) == event.row_key.value), None)
        if child is None:
            return
        self.say(None)
        self.trail.append(child.unit)
        self._load()
        # the child's headline first: back to the top, on its first panel with a list
        self.query_one("#panel-admitted", Panel).focus(scroll_visible=False)
        self.query_one("#progress-body", VerticalScroll).scroll_home(animate=False)

    @on(DataTable.RowSelected, "#progress-funnel")
    def _open_stage(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None:
            return
        self._open_worklist(stages=(event.row_key.value,))

    def action_as_of(self) -> None:
        def chosen(day: Date | None) -> None:
            if day is None:
                return
            self.as_of = day
            self.year = day.year
            self.say(None)
            self._load()

        self.app.push_screen(AsOfDialog(self.as_of, self.context.today), chosen)

    def action_target(self) -> None:
        if not may_override(self.context.actor):
            self.say(not_allowed(self.context.actor, "progress.forbidden"))
            return
        current = self.stats.target if self.stats is not None else None

        def saved(done: str | None) -> None:
            if done:
                self.say(done)
                self._load()

        self.app.push_screen(TargetDialog(self.context, self.unit, self.year, current), saved)

    def action_history(self) -> None:
        self.app.push_screen(TargetHistory(self.context, self.unit))


# --- the as-of date ------------------------------------------------------------------------------

class AsOfDialog(FormScreen, ModalScreen):
    """The date the figures are counted on: dismisses with the date (the year follows it)."""

    DEFAULT_CSS = _dialog_css("AsOfDialog")

    BINDINGS = [Binding("ctrl+s", "save", "form.keys.save", priority=True, id="as_of.save")]

    def __init__(self, as_of: Date, today: Date) -> None:
        super().__init__()
        self.as_of = as_of
        self.today = today

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(t("progress.as_of_title"), classes="dialog-title", markup=False)
            yield Static(t("progress.as_of_note", today=i18n.date(self.today)), classes="dialog-note",
                         markup=False)
            yield FormField("as_of", t("progress.field.as_of"), kind="date", required=True,
                            value=i18n.date(self.as_of))
            yield Static(t("form.reason_keys"), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def is_dirty(self) -> bool:
        return False  # one date: nothing worth asking about

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        values, bad = collect(self.query(FormField))
        if bad is not None:
            return
        day = values["as_of"]
        if day > self.today:
            self.query_one(FormField).show_error(t("progress.error.future", today=i18n.date(self.today)))
            return
        self.dismiss(day)


# --- setting a target ----------------------------------------------------------------------------

class TargetDialog(FormScreen, ModalScreen):
    """A new target for the unit: for the year, or (ticked) the yearly average of the term.
    Dismisses with the sentence saying what was saved."""

    DEFAULT_CSS = _dialog_css("TargetDialog")

    BINDINGS = [Binding("ctrl+s", "save", "form.keys.save", priority=True, id="target.save")]

    def __init__(self, context: AppContext, unit: UnitRef, year: int, current: int | None) -> None:
        super().__init__()
        self.context = context
        self.unit = unit
        self.year = year
        self.current = current
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(t("progress.target_title", year=self.year, unit=self.unit.name),
                         classes="dialog-title", markup=False)
            yield Static(t("progress.target_now", n=i18n.number(self.current)) if self.current
                         else t("progress.no_target"), classes="dialog-note", markup=False)
            yield FormField("value", t("progress.field.value"), kind="count", required=True)
            yield FormField("note", t("progress.field.note"))
            yield Tick(t("progress.field.term"), id="in-term")
            yield MessageBox(id="target-messages")
            yield Static(t("form.save_keys"), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(MessageBox).display = False
        self.query_one("#in-value", Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def _field(self, name: str) -> FormField:
        return next(f for f in self.query(FormField) if f.field_name == name)

    def action_save(self) -> None:
        if self._busy:
            return
        values, bad = collect(self.query(FormField))
        if bad is not None:
            bad.input.focus()
            return
        self._busy = True
        self._save(values["value"], values.get("note"), self.query_one("#in-term", Tick).value)

    @work(thread=True, exclusive=True, group="target-form")
    def _save(self, value: int, note: str | None, term: bool) -> None:
        ctx = self.context
        try:
            progress.set_target(ctx.actor, self.unit.id, value, ctx.today, year=self.year, term=term,
                                note=note)
            key = "progress.target_saved_term" if term else "progress.target_saved"
            result = ("saved", t(key, n=i18n.number(value), year=self.year), None)
        except (TargetError, AccessError, NotFound) as exc:
            field = exc.params.get("field") if isinstance(exc, TargetError) else None
            result = ("error", refusal_text(exc), field)
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._finished, result)

    def _finished(self, result: tuple) -> None:
        self._busy = False
        kind, text, field_name = result
        if kind == "saved":
            self.dismiss(text)
            return
        if field_name == "value":
            self._field("value").show_error(text)
            self._field("value").input.focus()
            return
        self.query_one(MessageBox).show([t("step.not_saved"), text])


# --- the history of targets ----------------------------------------------------------------------

class HistoryLoaded(Message):
    def __init__(self, rows: list[TargetRow] | None, error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class TargetHistory(ModalScreen):
    """Every target the unit has had, newest first, the ones in force marked."""

    DEFAULT_CSS = """
    TargetHistory { align: center middle; }
    TargetHistory .dialog { width: 100%; max-width: 110; height: auto; max-height: 90%;
                            border: round $primary; padding: 0 1; background: $surface; }
    TargetHistory .dialog-title { text-style: bold; }
    TargetHistory DataTable { height: auto; max-height: 14; overflow-x: hidden; }
    TargetHistory .dialog-keys { color: $text-muted; }
    TargetHistory #history-note { height: auto; max-height: 4; }
    """

    BINDINGS = [Binding("escape", "close", "keys.close", id="target_history.close")]
    HELP_TITLE = "progress.history_title_short"

    def __init__(self, context: AppContext, unit: UnitRef) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.unit = unit
        self.rows: list[TargetRow] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(t("progress.history_title", unit=self.unit.name), classes="dialog-title",
                         markup=False)
            yield Static(t("progress.loading"), id="history-info", markup=False)
            yield DataTable(id="target-history", cursor_type="row", cell_padding=0)
            yield Static("", id="history-note", markup=False)  # the highlighted row's note, whole
            yield Static(t("progress.history_keys"), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self._load()

    @work(thread=True, exclusive=True, group="target-history")
    def _load(self) -> None:
        try:
            rows = progress.targets(self.context.actor, self.context.today, unit_id=self.unit.id)
            message = HistoryLoaded([r for r in rows if r.unit.id == self.unit.id])
        except (NotFound, AccessError) as exc:
            message = HistoryLoaded(None, refusal_text(exc))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @on(HistoryLoaded)
    def _loaded(self, message: HistoryLoaded) -> None:
        info = self.query_one("#history-info", Static)
        table = self.query_one(DataTable)
        if message.rows is None or not message.rows:
            info.update(Text(message.error or t("progress.history_empty")))
            table.display = False
            return
        self.rows = message.rows
        info.update(Text(t("progress.history_info", n=i18n.number(len(message.rows)))))
        width = table.size.width or self.app.size.width - 4
        cols = {"for": 16, "value": 8, "set_on": 10, "by": 14}
        note_w = max(width - sum(cols.values()) - len(cols) - 2, 8)
        table.add_column("", key="mark", width=2)
        for key, w in cols.items():
            label = t(f"progress.history_col.{key}")
            table.add_column(right(label, w) if key == "value" else fit(Text(label), w), key=key,
                             width=w + 1)
        table.add_column(fit(Text(t("progress.history_col.note")), note_w), key="note", width=note_w)
        for i, row in enumerate(message.rows):
            what = (t("progress.history_year", year=row.year) if row.year is not None
                    else t("progress.history_term", name=row.term or ""))
            table.add_row(Text("●" if row.current else ""), fit(Text(what), cols["for"]),
                          right(i18n.number(row.value), cols["value"]),
                          Text(i18n.date(row.set_on)), fit(safe(row.set_by), cols["by"]),
                          fit(safe(row.note), note_w), key=str(i))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        index = event.cursor_row
        row = self.rows[index] if 0 <= index < len(self.rows) else None
        note = self.query_one("#history-note", Static)
        note.update(safe(row.note) if row is not None and row.note else Text(""))

    def action_close(self) -> None:
        self.dismiss(None)

