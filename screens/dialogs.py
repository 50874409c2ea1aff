"""Form parts shared by the writing screens: a labelled field that checks what is typed, a base
for forms that ask before throwing typed input away, and the small dialogs (confirm, reason,
closing a file).

Everything typed goes through `db.text.clean` (NFC, no control characters) before use. Dates are
typed dd/mm/yyyy. A field shows its own error on the line below it, as the user types.
"""

from __future__ import annotations

import datetime
import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, Input, Label, Select, Static

from db.text import clean
from tui import i18n
from tui.i18n import code_name, t
from tui.widgets import translate_bindings

_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
KINDS = ("text", "date", "count", "citizen_id", "phone")


class FieldError(ValueError):
    """A field's value cannot be used; the message says why, in the user's language."""


def parse_date(text: str) -> datetime.date:
    match = _DATE.match(text.strip())
    if not match:
        raise FieldError(t("form.error.date"))
    day, month, year = (int(g) for g in match.groups())
    try:
        return datetime.date(year, month, day)
    except ValueError:  # the right form, but no such day (31/02, 00/13/...)
        raise FieldError(t("form.error.no_such_date", value=text.strip())) from None


def parse_value(kind: str, text: str):
    """The typed text as the value the form uses (None when empty); FieldError when wrong."""
    value = clean(text) or ""
    if not value:
        return None
    if kind == "date":
        return parse_date(value)
    if kind == "count":
        if not value.isdigit():
            raise FieldError(t("form.error.count"))
        return int(value)
    if kind == "citizen_id":
        value = value.replace(" ", "")
        if not (value.isdigit() and len(value) == 12):
            raise FieldError(t("form.error.citizen_id", digits=len(value)))
        return value
    if kind == "phone":
        value = value.replace(" ", "").replace(".", "")
        if not (value.isdigit() and 10 <= len(value) <= 11 and value.startswith("0")):
            raise FieldError(t("form.error.phone"))
        return value
    return value


class FormField(Vertical):
    """A label, an input and, below, the input's error (hidden while there is none)."""

    SCOPED_CSS = False  # the label and row styles serve the other rows of the forms too
    DEFAULT_CSS = """
    FormField { height: auto; }
    .form-row { height: 1; }
    .form-label { width: 28; }
    .form-row Input, .form-row Select { width: 1fr; }
    FormField .form-error { height: auto; padding-left: 28; text-style: bold; color: $text-error; }
    """

    def __init__(self, name: str, label: str, *, kind: str = "text", value: str = "",
                 required: bool = False, placeholder: str = "") -> None:
        super().__init__(id=f"field-{name}", classes="form-field")
        self.field_name = name
        self.kind = kind
        self.required = required
        self.label = label + (" *" if required else "")
        self.initial = value
        self.placeholder = placeholder or (t("form.date_placeholder") if kind == "date" else "")
        self._error: str | None = None  # the error shown ("" none); None before the first

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(self.label, classes="form-label", markup=False)
            field = Input(self.initial, placeholder=self.placeholder, id=f"in-{self.field_name}",
                          compact=True)
            field.cursor_blink = False  # no blinking over SSH
            yield field
        yield Static("", classes="form-error", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def dirty(self) -> bool:
        return self.input.value != self.initial

    def show_error(self, message: str | None) -> None:
        """Show (or hide, when None) the error; nothing is redrawn while it stays the same."""
        message = message or ""
        if message == self._error:
            return
        self._error = message
        error = self.query_one(".form-error", Static)
        error.update(message)
        error.display = bool(message)

    def value(self):
        """The parsed value; FieldError (shown at the field) when wrong or required and empty."""
        try:
            parsed = parse_value(self.kind, self.input.value)
            if parsed is None and self.required:
                raise FieldError(t("form.error.required"))
        except FieldError as exc:
            self.show_error(str(exc))
            raise
        self.show_error(None)
        return parsed

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        try:
            parse_value(self.kind, event.value)
        except FieldError as exc:
            self.show_error(str(exc))
        else:
            self.show_error(None)

    def on_mount(self) -> None:
        self.show_error(None)


def collect(fields) -> tuple[dict, FormField | None]:
    """{name: value} of the fields, and the first field in error (None when all are right)."""
    values, first_bad = {}, None
    for field in fields:
        try:
            values[field.field_name] = field.value()
        except FieldError:
            first_bad = first_bad or field
    return values, first_bad


class Tick(Checkbox):
    """A checkbox whose state shows without colour: [x] ticked, [ ] not (Space toggles)."""

    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    def __init__(self, label: str, value: bool = False, **kwargs) -> None:
        super().__init__(label, value, compact=True, **kwargs)
        self.initial = value

    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802  (Textual's name)
        return "x" if self.value else " "


class FormScreen(Screen):
    """A form: Escape asks before throwing typed input away. A full screen, so that F1 and the
    application's keys work; the small dialogs below are modal.

    Tab and Shift+Tab are priority bindings here. The application hands each key to the widget
    focused when the key is read; a key that widget leaves (Tab in an Input) then climbs the
    widget tree, one message queue per level, and only at the top finds Textual's non-priority
    Tab binding. When a slow link delivers "text, Tab, text" in one read, the text after Tab was
    handed to the old field before the Tab had moved the focus. A priority binding is run by the
    application as it reads the key, so the focus moves before the next key is handed on.
    """

    BINDINGS = [
        Binding("escape", "cancel", "form.keys.cancel", id="form.cancel"),
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    def is_dirty(self) -> bool:
        return any(f.dirty for f in self.query(FormField)) or any(
            box.value != getattr(box, "initial", box.value) for box in self.query(Checkbox))

    def action_cancel(self) -> None:
        if not self.is_dirty():
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmDialog(t("form.discard_question")), answered)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question: C or Y says yes; K, N or Escape says no."""

    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog .dialog { width: 76; height: auto; max-height: 22; border: round $primary; padding: 0 1; background: $surface; }
    ConfirmDialog .dialog-title { text-style: bold; margin-bottom: 1; }
    ConfirmDialog .dialog-keys { color: $text-muted; }
    """


    BINDINGS = [
        Binding("c,y", "answer(True)", "form.keys.yes", id="confirm.yes"),
        Binding("k,n,escape", "answer(False)", "form.keys.no", id="confirm.no"),
    ]

    def __init__(self, question: str, keys: str | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.question = question
        self.keys = keys or t("form.confirm_keys")  # the default asks about throwing input away

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-title", markup=False)
            yield Static(self.keys, classes="dialog-keys", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def _dialog_css(name: str) -> str:
    """The look the small dialogs share: a box in the middle of the screen."""
    return f"""
    {name} {{ align: center middle; }}
    {name} .dialog {{ width: 76; height: auto; max-height: 22; border: round $primary; padding: 0 1; background: $surface; }}
    {name} .dialog-title {{ text-style: bold; margin-bottom: 1; }}
    {name} .dialog-keys {{ color: $text-muted; }}
    """


class ValueDialog(FormScreen, ModalScreen):
    """Asks one required value (a first number, a date): Enter or Ctrl+S gives it, Escape goes
    back. A short value is not worth asking about on Escape."""

    DEFAULT_CSS = _dialog_css("ValueDialog")
    BINDINGS = [Binding("ctrl+s", "save", "form.keys.save", priority=True, id="value.save")]
    FIELD = "value"

    def __init__(self, title: str, label: str, *, value: str = "", kind: str = "text",
                 note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.label = label
        self.value = value
        self.kind = kind
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            if self.note:
                yield Static(self.note, classes="dialog-note", markup=False)
            yield FormField(self.FIELD, self.label, kind=self.kind, value=self.value, required=True)
            yield Static(t("form.reason_keys"), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def is_dirty(self) -> bool:
        return False

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        values, bad = collect(self.query(FormField))
        if bad is None:
            self.dismiss(values[self.FIELD])


class ReasonDialog(ValueDialog):
    """Asks a reason (required); Escape asks before throwing a typed reason away."""

    DEFAULT_CSS = _dialog_css("ReasonDialog")
    BINDINGS = [Binding("ctrl+s", "save", "form.keys.save", priority=True, id="reason.save")]
    FIELD = "reason"

    def __init__(self, title: str, note: str = "", *, label: str | None = None) -> None:
        super().__init__(title, label or t("form.field.reason"), note=note)

    def is_dirty(self) -> bool:
        return FormScreen.is_dirty(self)


class CloseDialog(FormScreen, ModalScreen):
    """Closing a file: the outcome, the date and the reason. Returns (outcome, date, reason)."""

    DEFAULT_CSS = _dialog_css("CloseDialog")


    BINDINGS = [Binding("ctrl+s", "save", "form.keys.save", priority=True, id="close.save")]

    def __init__(self, outcomes, today: datetime.date) -> None:
        super().__init__()
        self.outcomes = tuple(outcomes)
        self.today = today

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(t("form.close_title"), classes="dialog-title", markup=False)
            with Horizontal(classes="form-row"):
                yield Label(t("form.field.outcome"), classes="form-label", markup=False)
                yield Select([(code_name("outcome", o), o) for o in self.outcomes], value=self.outcomes[0],
                             allow_blank=False, compact=True, id="in-outcome")
            yield FormField("date", t("form.field.date"), kind="date", required=True,
                            value=i18n.date(self.today))
            yield FormField("reason", t("form.field.reason"), required=True)
            yield Static(t("form.save_keys"), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(Select).focus()

    def action_save(self) -> None:
        values, bad = collect(self.query(FormField))
        if bad is not None:
            bad.input.focus()
            return
        self.dismiss((self.query_one(Select).value, values["date"], values["reason"]))


class MessageBox(VerticalScroll):
    """The refusals of the last check or save, one sentence a paragraph, never markup."""

    def show(self, lines: list[str], *, good: bool = False) -> None:
        self.remove_children()
        self.set_class(good, "-good")
        self.display = bool(lines)
        self.mount_all([Static(line, markup=False, classes="message-line") for line in lines])
        self.scroll_home(animate=False)
