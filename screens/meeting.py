"""Meeting mode: one screen for a branch meeting, with what the meeting decides (db.meeting).

The four counts in large digits at the top, then the four lists, one line per file: files
waiting for the branch vote with what the rules find missing, probation reviews due, awareness
certificates about to expire, helping members. Read only: Enter opens a line's file (the case
view), where changes are made. Escape goes back.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from db import connection, meeting
from db.access import NotFound
from db.meeting import Meeting, MeetingLine
from screens.progress import Panel
from tui import i18n
from tui.context import AppContext
from tui.i18n import t
from tui.messages import error_message, violation_lines
from tui.widgets import fit, safe, translate_bindings

LISTS = ("ready", "probation", "certificates", "helpers")
NAME_WIDTH = 24
DATE_WIDTH = 10


class MeetingLoaded(Message):
    def __init__(self, result: Meeting | None, error: str | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error


def line_what(kind: str, line: MeetingLine) -> Text:
    """What a line is about, in words (never by colour alone)."""
    if kind == "ready":
        if not line.violations:
            what = t("meeting.ready_ok")
        else:
            first = violation_lines(line.violations[:1])[0]
            what = t("meeting.missing", n=i18n.number(len(line.violations)), first=first)
    elif kind == "probation":
        what = i18n.code_name("next_action", "probation_review")
    elif kind == "certificates":
        what = t("meeting.expired") if line.overdue else t("meeting.expires")
    else:
        what = t("meeting.helps", name="")
        return Text(what) + safe(line.helper)
    if line.overdue and kind != "certificates":
        what = t("meeting.overdue") + " · " + what
    if line.on_hold:
        what += " · " + t("meeting.on_hold")
    return Text(what, style="bold" if line.overdue else "")


class MeetingScreen(Screen):
    """What a branch meeting decides, for one branch."""

    HELP_TITLE = "meeting.help_title"
    HELP_NOTES = ("meeting.help_note",)
    DEFAULT_CSS = """
    MeetingScreen #meeting-panels { height: 7; }
    MeetingScreen #meeting-panels Panel { width: 1fr; }
    MeetingScreen #meeting-info { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    MeetingScreen #meeting-lines { height: 1fr; border: none; padding: 0; }
    """

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="meeting.back"),
    ]

    def __init__(self, context: AppContext, unit) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.unit = unit  # anything with an id and a name (a UnitNode)
        self.result: Meeting | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with Horizontal(id="meeting-panels"):
            for key in LISTS:
                yield Panel(key)
        yield Static(t("meeting.loading"), id="meeting-info", markup=False)
        yield OptionList(id="meeting-lines", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("meeting.title", unit=self.unit.name)
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        for key in LISTS:
            self.query_one(f"#panel-{key}", Panel).show(t(f"meeting.panel.{key}"), "")
        self.query_one(OptionList).focus()
        self._load()

    @work(thread=True, exclusive=True, group="meeting")
    def _load(self) -> None:
        try:
            result = meeting.meeting(self.context.actor, self.unit.id, self.context.today)
        except (NotFound, meeting.NotABranch) as exc:
            self.post_message(MeetingLoaded(None, error_message(exc, self.context.today)
                                            if isinstance(exc, NotFound)
                                            else t("meeting.not_branch", unit=exc.unit.name)))
            return
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(MeetingLoaded(result))

    @on(MeetingLoaded)
    def _loaded(self, message: MeetingLoaded) -> None:
        info = self.query_one("#meeting-info", Static)
        if message.result is None:
            info.update(Text(message.error or "", style="bold"))
            return
        self.result = message.result
        for key, n in self.result.counts.items():
            self.query_one(f"#panel-{key}", Panel).show(t(f"meeting.panel.{key}"), i18n.number(n))
        info.update(Text(t("meeting.read_only")))
        self._fill()

    def _fill(self) -> None:
        lines = self.query_one(OptionList)
        width = max((lines.size.width or self.app.size.width) - 2, 40)
        what_width = width - NAME_WIDTH - DATE_WIDTH - 2
        options: list[Option] = []
        for kind in LISTS:
            rows: tuple[MeetingLine, ...] = getattr(self.result, kind)
            options.append(Option(Text(f"{t(f'meeting.section.{kind}')} ({i18n.number(len(rows))})",
                                       style="bold underline"), disabled=True))
            if not rows:
                options.append(Option(Text("  " + t("meeting.none"), style="dim"), disabled=True))
            for n, line in enumerate(rows):
                name, what = fit(safe(line.full_name), NAME_WIDTH), fit(line_what(kind, line), what_width)
                name.align("left", NAME_WIDTH)
                what.align("left", what_width)
                text = name + Text(" ") + what + Text(" ")
                text += Text(i18n.date(line.due) if line.due else "")
                options.append(Option(text, id=f"{kind}-{n}-{line.case_id}"))
        lines.clear_options()
        lines.add_options(options)
        first = next((i for i, o in enumerate(options) if not o.disabled), None)
        if first is not None:
            lines.highlighted = first

    @on(OptionList.OptionSelected)
    def _open(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if not event.option.id:
            return
        from screens.case import CaseScreen  # imported on first use

        self.app.push_screen(CaseScreen(self.context, int(event.option.id.rsplit("-", 1)[1])))

    def action_back(self) -> None:
        self.app.pop_screen()
