"""One candidate's file: the person, the steps, the documents, the introducers.

A summary (name, branch, stage, next action) stays on top; the details are in five tabs,
switched with 1-5 or the left and right arrows; Escape goes back to the list. The fifth tab holds
the free-text notes on the file (not the timeline of the Steps tab).

The writes of the pipeline, each asking what it needs first: `a` records the next step (the step
form), `u` undoes the last step, `c` closes the file, `r` reopens it, `o` puts it on hold or
releases it, `g` adds a note, `k` enrols the file in an awareness class. Each runs `db.pipeline` in a thread, then the file is read again; a refusal shows
its sentences under the summary and nothing is saved. `y` shows the file's history (the audit
trail).

Opening the screen logs one view of the person's background (db.cases); reading the file again
after a change does not. A viewer sees no background and no notes, and the writing keys are
left out of the footer and say why they do nothing.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from db import cases, connection, pipeline
from db.access import AccessError, NotFound, may_write
from db.cases import CaseView, EventView, ResolutionView, StepView
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.messages import error_message
from tui.widgets import hide_keys, safe, translate_bindings

TABS = ("person", "steps", "documents", "introducers", "notes")
# the label of each tab (the notes tab's message lives with the other note messages)
TAB_LABELS = {name: f"case.tab.{name}" for name in TABS} | {"notes": "case.note.tab"}


class CaseLoaded(Message):
    def __init__(self, view: CaseView | None, error: str | None = None) -> None:
        super().__init__()
        self.view = view
        self.error = error


def _grid(*widths: int | None) -> Table:
    """Two or more columns, no borders; the last one takes the rest and wraps."""
    table = Table.grid(padding=(0, 1), expand=True)
    for i, width in enumerate(widths):
        last = i == len(widths) - 1
        table.add_column(no_wrap=not last, width=width, ratio=1 if last else None,
                         overflow="fold")
    return table


def _line(label: str, value: object | None) -> tuple[Text, Text]:
    return Text(label, style="bold"), safe(value)


def votes_text(resolution: ResolutionView) -> str:
    if resolution.votes_for is None or resolution.votes_convened is None:
        return ""
    return t("case.votes", votes_for=resolution.votes_for, convened=resolution.votes_convened,
             excused=resolution.votes_excused or 0)


def resolution_text(resolution: ResolutionView) -> Text:
    text = Text(code_name("resolution", resolution.kind))
    if resolution.number:
        text.append(" " + t("case.number") + " ")
        text.append_text(safe(resolution.number))
    text.append(" " + t("case.dated", date=i18n.date(resolution.date)))
    votes = votes_text(resolution)
    if votes:
        text.append("; " + votes)
    return text


def step_body(step: StepView) -> Text:
    body = Text(code_name("stage", step.stage), style="bold strike" if step.undone else "bold")
    body.append(" · ")
    body.append_text(safe(step.unit.name))
    for resolution in step.resolutions:
        body.append("\n")
        body.append_text(resolution_text(resolution))
    if step.received is not None:
        body.append("\n" + t("case.received", date=i18n.date(step.received)))
    if step.extension:
        body.append("\n" + t("case.extension"))
    if step.undone:
        body.append("\n" + t("case.undone") + " ")
        body.append_text(safe(step.undo_reason))
    return _entered_by(body, step.entered_by)


def _entered_by(body: Text, account: str | None) -> Text:
    """`body` with a last, dim line naming the account that recorded it."""
    if account:
        body.append("\n" + t("case.entered_by") + " ", style="dim")
        body.append_text(safe(account, style="dim"))
    return body


def event_body(event: EventView) -> Text:
    """Anything else recorded on the file (hold, release, close, reopen, undo, override): what,
    why, by whom."""
    if event.kind == "vote_failed":
        body = failed_vote_body(event)
    else:
        body = Text(code_name("event", event.kind), style="bold")
        outcome = event.details.get("outcome")
        if outcome:
            body.append(" · " + code_name("outcome", outcome))
        if event.reason:
            body.append("\n" + t("case.reason") + " ")
            body.append_text(safe(event.reason))
    return _entered_by(body, event.entered_by)


def failed_vote_body(event: EventView) -> Text:
    """A branch vote that did not pass: the votes, the resolution, the reason; the file stayed."""
    body = Text(t("case.vote_failed"), style="bold")
    votes = event.details.get("votes") or {}
    if votes.get("for") is not None and votes.get("convened") is not None:
        body.append(" · " + t("case.votes", votes_for=votes["for"], convened=votes["convened"],
                               excused=votes.get("excused") or 0))
    if event.details.get("resolution"):
        body.append("\n" + code_name("resolution", "branch_resolution") + " " + t("case.number") + " ")
        body.append_text(safe(event.details["resolution"]))
    if event.reason:
        body.append("\n" + t("case.vote_failed_reason") + " ")
        body.append_text(safe(event.reason))
    return body


class CaseScreen(Screen):
    """The file of one candidate."""

    CSS_PATH = "case.tcss"
    HELP_TITLE = "case.help_title"
    HELP_NOTES = ()

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="case.back"),
        Binding("1", "show_tab('person')", "keys.tabs", key_display="1-5", id="case.tab_person"),
        *(Binding(str(number), f"show_tab('{name}')", "keys.tabs", key_display="1-5",
                  show=False, id=f"case.tab_{name}")
          for number, name in enumerate(TABS[1:], start=2)),
        Binding("right", "step_tab(1)", "keys.next_tab", show=False, priority=True,
                id="case.next_tab"),
        Binding("left", "step_tab(-1)", "keys.previous_tab", show=False, priority=True,
                id="case.previous_tab"),
        Binding("a", "add_step", "case.keys.step", id="case.step"),
        Binding("u", "undo", "case.keys.undo", show=False, id="case.undo"),
        Binding("c", "close_file", "case.keys.close", id="case.close"),
        Binding("r", "reopen", "case.keys.reopen", show=False, id="case.reopen"),
        Binding("o", "hold", "case.keys.hold", show=False, id="case.hold"),
        Binding("g", "add_note", "case.note.key", show=False, id="case.note"),
        Binding("k", "enrol_class", "picker.key", tooltip="picker.key_long", show=False,
                id="case.enrol_class"),
        # in the help (F1): the footer has no room at 80 columns
        Binding("y", "history", "audit.key_case", tooltip="audit.key_case_long", show=False,
                id="case.history"),
    ]
    WRITE_KEYS = ("a", "u", "c", "r", "o", "g", "k")

    def __init__(self, context: AppContext, case_id: int) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.case_id = case_id
        self.view: CaseView | None = None
        self._logged = False  # the opening of the background has been logged
        if not may_write(context.actor):
            hide_keys(self, self.WRITE_KEYS)  # they still answer, to say why they do nothing

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(t("case.loading"), id="case-summary", markup=False)
        yield Static("", id="case-message", markup=False)
        with TabbedContent(id="case-tabs"):
            for number, name in enumerate(TABS, start=1):
                with TabPane(f"{number} {t(TAB_LABELS[name])}", id=f"tab-{name}"):
                    with VerticalScroll(id=f"scroll-{name}", classes="case-scroll"):
                        yield Static("", id=f"body-{name}", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#case-message").display = False
        self.title = t("case.title", id=self.case_id)
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one("#scroll-person").focus()
        self._load()

    def _load(self) -> None:
        """Read the file; only the first read of the screen logs a view of the background."""
        log, self._logged = not self._logged, True
        self._fetch(log)

    @work(thread=True, exclusive=True, group="case")
    def _fetch(self, log: bool) -> None:
        try:
            view = cases.case_view(self.context.actor, self.case_id, self.context.today, log=log)
        except cases.NotFound:
            self.post_message(CaseLoaded(None, t("error.not_found", id=self.case_id)))
            return
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(CaseLoaded(view))

    @on(CaseLoaded)
    def _show(self, message: CaseLoaded) -> None:
        if message.view is None:
            self.query_one("#case-summary", Static).update(Text(message.error or ""))
            return
        view = self.view = message.view
        self.title = view.person.full_name
        self.query_one("#case-summary", Static).update(self._summary(view))
        self.query_one("#body-person", Static).update(self._person(view))
        self.query_one("#body-steps", Static).update(self._steps(view))
        # the newest step is what one looks for: a long timeline opens at its end
        self.call_after_refresh(self.query_one("#scroll-steps").scroll_end, animate=False)
        self.query_one("#body-documents", Static).update(self._documents(view))
        self.query_one("#body-introducers", Static).update(self._introducers(view))
        self.query_one("#body-notes", Static).update(self._notes(view))

    # --- what the tabs show ---------------------------------------------------------------

    def _summary(self, view: CaseView) -> Text:
        text = safe(view.person.full_name, style="bold")
        if view.branch is not None:
            text.append(" · ")
            text.append_text(safe(view.branch.name))
        text.append("\n" + t("case.stage") + ": ", style="bold")
        text.append(code_name("stage", view.stage))
        text.append(" · " + code_name("status", view.status))
        if view.outcome:
            text.append(" (" + code_name("outcome", view.outcome) + ")")
        if view.hold_reason and view.status == "on_hold":
            text.append(" — ")
            text.append_text(safe(view.hold_reason))
        text.append("\n" + t("case.next_action") + ": ", style="bold")
        action = view.next_action
        if action is None:
            text.append(t("case.nothing_next"))
        else:
            text.append(code_name("next_action", action.code))
            if action.due is not None:
                text.append(" · " + t("case.due", date=i18n.date(action.due)))
                if action.due < self.context.today:
                    late = (self.context.today - action.due).days
                    text.append(" " + t("case.overdue", days=i18n.number(late)),
                                style="bold reverse")
        return text

    def _person(self, view: CaseView) -> RenderableType:
        p = view.person
        if view.background_hidden:
            return self._person_hidden(view)
        rows = [
            (t("case.field.full_name"), p.full_name),
            (t("case.field.other_name"), p.other_name),
            (t("case.field.sex"), code_name("sex", p.sex)),
            (t("case.field.born"), i18n.date(p.born)),
            (t("case.field.ethnicity"), p.ethnicity),
            (t("case.field.religion"), p.religion),
            (t("case.field.residence"), p.residence),
            (t("case.field.education"), p.education),
            (t("case.field.occupation"), p.occupation),
            (t("case.field.youth_union"), t("case.yes") if p.youth_union else t("case.no")),
            (t("case.field.branch"), p.branch.name if p.branch else None),
        ]
        if p.public_role:
            rows.append((t("case.field.public_role"), p.public_role))
        grid = _grid(max(len(label) for label, _ in rows), None)
        for label, value in rows:
            grid.add_row(*_line(label, value))
        return grid

    def _person_hidden(self, view: CaseView) -> RenderableType:
        """What a viewer sees of the person: who, not their background."""
        p = view.person
        rows = [(t("case.field.full_name"), p.full_name), (t("case.field.sex"), code_name("sex", p.sex)),
                (t("case.field.branch"), p.branch.name if p.branch else None)]
        if p.public_role:
            rows.append((t("case.field.public_role"), p.public_role))
        grid = _grid(max(len(label) for label, _ in rows), None)
        for label, value in rows:
            grid.add_row(*_line(label, value))
        hidden = "terminal.hidden_person" if self.context.actor.readonly else "case.hidden.person"
        return Group(grid, Text(""), Text(t(hidden), style="italic"))

    def _steps(self, view: CaseView) -> RenderableType:
        events = [e for e in view.events if e.kind != "note"]  # notes have their own tab
        if not view.steps and not events:
            return Text(t("case.none"))
        # rows of (date, undone, body), the steps in their order; each failed vote goes before
        # the first step dated later or, on its own day, before a step past dossier (the vote
        # that passed afterwards); any other event after everything recorded up to its day
        past_dossier = set(pipeline.STAGES[pipeline.STAGES.index("dossier") + 1:])
        rows = [(step.date, step.undone, step_body(step)) for step in view.steps]
        for event in (e for e in reversed(events) if e.kind == "vote_failed"):
            at = next((n for n, step in enumerate(view.steps)
                       if step.date > event.date or (step.date == event.date and step.stage in past_dossier)),
                      len(view.steps))
            rows.insert(at, (event.date, False, event_body(event)))
        for event in (e for e in events if e.kind != "vote_failed"):
            at = next((n for n, row in enumerate(rows) if row[0] > event.date), len(rows))
            rows.insert(at, (event.date, False, event_body(event)))
        grid = _grid(10, None)
        for day, undone, body in rows:
            grid.add_row(Text(i18n.date(day), style="strike" if undone else ""), body)
        return grid

    def _documents(self, view: CaseView) -> RenderableType:
        parts: list[RenderableType] = [Text(t("case.documents"), style="bold underline")]
        # a checklist: what the file's next steps need, received ([x] and its date) or not ([ ])
        needed = list(pipeline.BRANCH_DOCUMENTS)
        if view.stage in ("admitted", "probationary", "official"):
            needed += ["member_records", "new_member_certificate"]
        received = {d.kind: d for d in view.documents}
        grid = _grid(3, 10, None)
        for kind in needed:
            document = received.get(kind)
            line = Text(code_name("document", kind))
            if document is None:
                line.append(" — " + t(f"case.missing_for.{'branch' if kind in pipeline.BRANCH_DOCUMENTS else kind}"),
                            style="bold")
            elif document.note:
                line.append(" — ")
                line.append_text(safe(document.note))
            grid.add_row(Text("[x]" if document else "[ ]"),
                         Text(i18n.date(document.received) if document else ""), line)
        for document in view.documents:  # anything else received
            if document.kind not in needed:
                line = Text(code_name("document", document.kind))
                if document.note:
                    line.append(" — ")
                    line.append_text(safe(document.note))
                grid.add_row(Text("[x]"), Text(i18n.date(document.received)), line)
        parts.append(grid)
        parts.append(Text(""))
        parts.append(Text(t("case.certificates"), style="bold underline"))
        if view.certificates:
            grid = _grid(10, None)
            for cert in view.certificates:
                line = Text(code_name("certificate", cert.kind) + " " + t("case.number") + " ")
                line.append_text(safe(cert.number))
                line.append(", ")
                line.append_text(safe(cert.issuer))
                grid.add_row(Text(i18n.date(cert.issued)), line)
            parts.append(grid)
        else:
            parts.append(Text(t("case.none")))
        return Group(*parts)

    def _introducers(self, view: CaseView) -> RenderableType:
        parts: list[RenderableType] = [Text(t("case.introducers"), style="bold underline")]
        if view.introducers:
            grid = _grid(10, None)
            for intro in view.introducers:
                line = Text(code_name("introducer", intro.kind) + ": ")
                if intro.full_name:
                    line.append_text(safe(intro.full_name))
                if intro.resolution:
                    line.append((", " if intro.full_name else "") + t("case.resolution") + " ")
                    line.append_text(safe(intro.resolution))
                if intro.together_since is not None:
                    line.append("; " + t("case.together_since",
                                         date=i18n.date(intro.together_since)))
                if intro.replacement:
                    line.append("; " + t("case.replacement"))
                grid.add_row(Text(i18n.date(intro.date)), line)
            parts.append(grid)
        else:
            parts.append(Text(t("case.none")))
        parts.append(Text(""))
        parts.append(Text(t("case.helpers"), style="bold underline"))
        if view.helpers:
            for _person_id, name in view.helpers:
                parts.append(safe(name or "?"))
        else:
            parts.append(Text(t("case.none")))
        return Group(*parts)

    def _notes(self, view: CaseView) -> RenderableType:
        """The notes, oldest first: the date, then who wrote it and the text."""
        if view.background_hidden:
            hidden = "terminal.hidden_notes" if self.context.actor.readonly else "case.hidden.notes"
            return Text(t(hidden), style="italic")
        notes = [e for e in view.events if e.kind == "note"]
        if not notes:
            return Text(t("case.note.none"))
        grid = _grid(10, None)
        for note in notes:
            body = safe(note.entered_by or "?", style="bold")
            body.append("\n")
            body.append_text(safe(note.reason))
            grid.add_row(Text(i18n.date(note.date)), body)
        return grid

    # --- keys -----------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_show_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{name}"
        self.query_one(f"#scroll-{name}").focus()

    def action_step_tab(self, step: int) -> None:
        active = self.query_one(TabbedContent).active.removeprefix("tab-")
        index = TABS.index(active) if active in TABS else 0
        self.action_show_tab(TABS[(index + step) % len(TABS)])

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # keys pressed in a burst (a slow link) leave activations queued behind newer ones:
        # only the pane active now takes the focus, or a stale one would switch the tab back
        if event.pane.id != self.query_one(TabbedContent).active:
            return
        name = (event.pane.id or "").removeprefix("tab-")
        if name in TABS:
            self.query_one(f"#scroll-{name}").focus()

    # --- writes -----------------------------------------------------------------------------

    def say(self, message: str | None) -> None:
        line = self.query_one("#case-message", Static)
        line.update(message or "")
        line.display = bool(message)

    def _read_only(self) -> bool:
        """True (and the user told why) when the account may not write."""
        if may_write(self.context.actor):
            return False
        self.say(t("terminal.readonly_key" if self.context.actor.readonly else "case.hidden.read_only"))
        return True

    def action_history(self) -> None:
        from screens.audit import open_history  # imported on first use

        name = self.view.person.full_name if self.view is not None else str(self.case_id)
        open_history(self, t("audit.title_case", name=name), case_id=self.case_id)

    def action_add_step(self) -> None:
        from screens.step_form import StepForm

        view = self.view
        if view is None or self._read_only():
            return
        if view.status == "closed":
            self.say(error_message(pipeline.PipelineError("closed")))
            return

        def saved(done: bool | str | None) -> None:
            if done:
                self.say(t("case.saved_vote_failed") if done == "vote_failed" else t("case.saved_step"))
                self._load()

        self.app.push_screen(StepForm(self.context, self.case_id, view.stage, view.person.full_name,
                                      view.version), saved)

    def action_enrol_class(self) -> None:
        """Enrol the file in one of the year's awareness classes (screens/class_enrol.py)."""
        from screens.class_enrol import ClassPicker  # imported on first use

        view = self.view
        if view is None or self._read_only():
            return

        def done(message: str | None) -> None:
            if message:
                self.say(message)
                self._load()

        self.app.push_screen(ClassPicker(self.context, self.case_id, view.person.full_name), done)

    def action_undo(self) -> None:
        if self.view is None or self._read_only():
            return
        self._ask_reason(t("case.ask.undo"), "undo", t("case.done.undo"))

    def action_reopen(self) -> None:
        if self.view is None or self._read_only():
            return
        self._ask_reason(t("case.ask.reopen"), "reopen", t("case.done.reopen"))

    def action_hold(self) -> None:
        view = self.view
        if view is None or self._read_only():
            return
        if view.status == "on_hold":
            self._write("release", None, t("case.done.release"))
        else:
            self._ask_reason(t("case.ask.hold"), "hold", t("case.done.hold"))

    def action_close_file(self) -> None:
        from screens.dialogs import CloseDialog

        if self.view is None or self._read_only():
            return

        def answered(result) -> None:
            if result:
                self._write("close", result, t("case.done.close"))

        self.app.push_screen(CloseDialog(pipeline.OUTCOMES, self.context.today), answered)

    def action_add_note(self) -> None:
        if self.view is None or self._read_only():
            return
        self._ask_reason(t("case.note.ask"), "note", t("case.note.done"), label=t("case.note.label"))

    def _ask_reason(self, title: str, what: str, done: str, *, label: str | None = None) -> None:
        from screens.dialogs import ReasonDialog

        def answered(reason: str | None) -> None:
            if reason:
                self._write(what, reason, done)

        self.app.push_screen(ReasonDialog(title, label=label), answered)

    def _write(self, what: str, argument, done: str) -> None:
        # the version the user was shown when deciding: a file changed since is not overwritten
        seen = self.view.version if self.view is not None else None
        self._write_seen(what, argument, done, seen)

    @work(thread=True, exclusive=True, group="case-write")
    def _write_seen(self, what: str, argument, done: str, seen: int | None) -> None:
        actor, today, case_id = self.context.actor, self.context.today, self.case_id
        day = None
        try:
            if what == "undo":
                pipeline.undo_last(actor, case_id, argument, today, expected_version=seen)
            elif what == "reopen":
                pipeline.reopen(actor, case_id, argument, today=today, expected_version=seen)
            elif what == "hold":
                pipeline.hold(actor, case_id, argument, today=today, expected_version=seen)
            elif what == "note":  # a note changes nothing of the file: it needs no version
                pipeline.add_note(actor, case_id, argument, today=today)
            elif what == "release":
                pipeline.release(actor, case_id, today=today, expected_version=seen)
            elif what == "close":
                outcome, day, reason = argument
                pipeline.close(actor, case_id, outcome, day, reason, today=today, expected_version=seen)
            message = done
        except (pipeline.StepRefused, pipeline.PipelineError, NotFound, AccessError) as exc:
            message = t("case.not_saved") + "\n" + error_message(exc, day)
        finally:
            connection.close_database()  # this thread's connection only
        tab = "notes" if what == "note" and message == done else None
        self.app.call_from_thread(self._written, message, tab)

    def _written(self, message: str, tab: str | None = None) -> None:
        self.say(message)
        self._load()
        if tab is not None:
            self.action_show_tab(tab)
