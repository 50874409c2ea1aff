"""Accounts (administrators only): who may use ketnap, with which role and over which unit.

`a` adds an account, `e` (or Enter) changes the highlighted one's role and unit, `d` disables it
or enables it again, after a question. Every change goes through db.accounts, which checks it and
writes its audit entry; a refusal is shown at the field it is about. A unit is typed as its code
or (part of) its name and resolved with db.units.find_unit.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Select, Static

from db import accounts, connection, units
from db.access import ROLES, AccessError
from db.accounts import AccountError, AccountInfo
from screens.dialogs import ConfirmDialog, FormField, FormScreen, MessageBox, collect
from screens.main import short_unit_name
from tui import i18n
from tui.context import AppContext
from tui.i18n import code_name, t
from tui.widgets import (FilterRow, ListFilter, PagedTable, filter_bindings, filter_match, fit,
                         hide_keys, rename_key, safe, translate_bindings)

STATE_WIDTH = 8  # "Đã khóa"


class AccountsLoaded(Message):
    def __init__(self, rows: list[AccountInfo] | None, error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.error = error


def unit_label(row: AccountInfo, *, full: bool = False) -> str:
    if row.role == "admin" or row.unit_id is None:
        return t("accounts.everything")
    if full:
        return f"{row.unit_name} ({row.unit_code})"
    return short_unit_name(row.unit_name)


class AccountsScreen(ListFilter, Screen):
    """Every account, its role, unit and state."""

    FILTER = "accounts"
    CSS_PATH = "accounts.tcss"
    HELP_TITLE = "accounts.help_title"
    HELP_NOTES = ("accounts.help_note",)

    BINDINGS = [
        Binding("escape", "back", "keys.back", id="accounts.back"),
        *filter_bindings("accounts", "filters.key_filter_long"),
        Binding("a", "add", "accounts.key_add", id="accounts.add"),
        Binding("e", "edit", "accounts.key_edit", tooltip="accounts.key_edit_long", show=False,
                id="accounts.edit"),  # Enter too, in the footer
        Binding("d", "toggle_disabled", "accounts.key_disable",
                tooltip="accounts.key_disable_long", id="accounts.disable"),
    ]

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.rows: list[AccountInfo] | None = None  # those shown (the `/` filter applied)
        self.all_rows: list[AccountInfo] | None = None
        self.error: str | None = None
        self._select: str | None = None  # the account to put the cursor on after a reload

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(t("accounts.loading"), id="accounts-info", markup=False)
        yield FilterRow("accounts", "filters.placeholder")
        table = PagedTable(id="accounts")
        rename_key(table, "enter", t("accounts.key_edit"))
        hide_keys(table, ("pagedown",))  # every account is on the one page
        yield table
        yield Static("", id="accounts-detail", markup=False)
        yield Static("", id="accounts-message", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = t("accounts.title")
        self.sub_title = t("header.today", date=i18n.date(self.context.today))
        self.query_one("#accounts-message").display = False
        self.query_one(PagedTable).focus()
        self._load()

    @work(thread=True, exclusive=True, group="accounts")
    def _load(self) -> None:
        try:
            message = AccountsLoaded(accounts.list_accounts(self.context.actor))
        except AccessError:
            message = AccountsLoaded(None, t("accounts.admins_only"))
        finally:
            connection.close_database()  # this thread's connection only
        self.post_message(message)

    @on(AccountsLoaded)
    def _loaded(self, message: AccountsLoaded) -> None:
        self.all_rows = message.rows or []
        self.error = message.error
        self._filter_changed()

    def _filter_changed(self) -> None:
        """The accounts, less those where a word typed after `/` starts no word of the login
        name, the full name, the role or the unit."""
        if self.all_rows is None:
            return
        words = self.filter_words()
        self.rows = [row for row in self.all_rows
                     if filter_match(words, row.name, row.full_name, code_name("role", row.role),
                                     unit_label(row), row.unit_name, row.unit_code)]
        self._fill()

    def _widths(self, width: int) -> dict[str, int]:
        name = 16
        full = 24 if width >= 100 else 20
        role = max(len(code_name("role", r)) for r in ROLES)
        used = name + full + role + STATE_WIDTH + 4
        return {"name": name, "full_name": full, "role": role,
                "unit": max(width - used - 1, 10), "state": STATE_WIDTH}

    def _fill(self) -> None:
        table = self.query_one(PagedTable)
        rows = self.rows or []
        widths = self._widths(table.size.width or self.app.size.width)
        wanted = self._select
        if wanted is None and table.row_count and rows:
            wanted = self._current_name()
        with self.app.batch_update():
            table.clear(columns=True)
            for key, width in widths.items():
                table.add_column(fit(Text(t(f"accounts.col.{key}")), width), key=key,
                                 width=width + (0 if key == "state" else 1))
            for row in rows:
                table.add_row(
                    fit(safe(row.name, style="dim" if row.disabled else ""), widths["name"]),
                    fit(safe(row.full_name), widths["full_name"]),
                    fit(Text(code_name("role", row.role)), widths["role"]),
                    fit(safe(unit_label(row)), widths["unit"]),
                    Text(t("accounts.disabled") if row.disabled else "", style="bold"),
                    key=row.name)
            names = [r.name for r in rows]
            if rows:
                table.move_cursor(row=names.index(wanted) if wanted in names else 0, animate=False)
        self._select = None
        info = self.query_one("#accounts-info", Static)
        if self.error:
            info.update(Text(self.error, style="bold"))
        else:
            info.update(self.filter_note(Text(t("accounts.count", n=i18n.number(len(rows)),
                                                disabled=i18n.number(sum(r.disabled for r in rows))),
                                              style="bold"), len(rows)))
        self._show_detail()

    def _current_name(self) -> str | None:
        table = self.query_one(PagedTable)
        if not table.row_count or not self.rows:
            return None
        row = max(table.cursor_row, 0)
        return self.rows[row].name if row < len(self.rows) else None

    def _current(self) -> AccountInfo | None:
        name = self._current_name()
        return next((r for r in self.rows or [] if r.name == name), None)

    def _show_detail(self) -> None:
        """Below the list: the highlighted account in full (its unit's whole name and code)."""
        row = self._current()
        detail = self.query_one("#accounts-detail", Static)
        if row is None:
            detail.update("")
            return
        text = safe(row.name, style="bold")
        if row.name == self.context.actor.name:
            text.append(" " + t("accounts.you"))
        if row.full_name:
            text.append(" · ")
            text.append_text(safe(row.full_name))
        text.append(" · " + code_name("role", row.role) + " · ")
        text.append_text(safe(unit_label(row, full=True)))
        if row.created_at is not None:
            text.append(" · " + t("accounts.created", date=i18n.date(row.created_at.date())))
        if row.disabled:
            text.append(" · " + t("accounts.disabled"), style="bold")
        detail.update(text)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    @on(PagedTable.PageRequested)
    def _turn_page(self, message: PagedTable.PageRequested) -> None:
        message.stop()  # every account is in the list: nothing to fetch

    @on(PagedTable.Resized)
    def _resized(self, message: PagedTable.Resized) -> None:
        message.stop()
        if self.rows is not None:
            self._fill()

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def say(self, message: str | None) -> None:
        line = self.query_one("#accounts-message", Static)
        line.update(message or "")
        line.display = bool(message)

    # --- keys -----------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.filter_escape():
            return
        self.app.pop_screen()

    def _saved(self, result: tuple[str, str] | None) -> None:
        if result:
            message, name = result
            self.say(message)
            self._select = name
            self._load()

    def action_add(self) -> None:
        if self.error:
            return
        self.app.push_screen(AccountForm(self.context), self._saved)

    def action_edit(self) -> None:
        row = self._current()
        if row is None or self.error:
            return
        self.app.push_screen(AccountForm(self.context, row), self._saved)

    def action_toggle_disabled(self) -> None:
        row = self._current()
        if row is None or self.error:
            return
        disable = not row.disabled
        question = t("accounts.ask_disable" if disable else "accounts.ask_enable", name=row.name)

        def answered(yes: bool | None) -> None:
            if yes:
                self._set_disabled(row.name, disable)

        self.app.push_screen(ConfirmDialog(question, t("accounts.confirm_keys")), answered)

    @work(thread=True, exclusive=True, group="accounts-write")
    def _set_disabled(self, name: str, disable: bool) -> None:
        try:
            accounts.set_disabled(self.context.actor, name, disable)
            message = t("accounts.disabled_done" if disable else "accounts.enabled_done", name=name)
        except AccountError as exc:
            message = t("accounts.not_saved") + " " + account_error_text(exc)
        except AccessError:
            message = t("accounts.admins_only")
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._saved, (message, name))


def account_error_text(exc: AccountError) -> str:
    params = dict(exc.params)
    if "field" in params:
        key = f"accounts.field.{params['field']}"
        params["field"] = t(key) if i18n.has(key) else params["field"]
    if "role" in params:
        params["role"] = code_name("role", params["role"])
    return t(f"account_error.{exc.code}", **params)


# the field each refusal is about
ERROR_FIELD = {"exists": "name", "needs_unit": "unit", "not_a_branch": "unit",
               "last_admin": "role"}


class AccountForm(FormScreen):
    """A new account (name, full name, role, unit), or another role and unit for `account`.
    Dismisses with (message, account name) once saved."""

    CSS_PATH = "accounts.tcss"
    HELP_TITLE = "accounts.help_title"
    HELP_NOTES = ("accounts.help_note",)

    BINDINGS = [Binding("ctrl+s", "save", "form.keys.save", priority=True, id="account.save")]

    def __init__(self, context: AppContext, account: AccountInfo | None = None) -> None:
        super().__init__()
        self.context = context
        self.account = account
        self.initial_role = account.role if account is not None else "viewer"
        self._busy = False

    def compose(self) -> ComposeResult:
        account = self.account
        title = (t("accounts.edit_title", name=account.name) if account is not None
                 else t("accounts.add_title"))
        with Vertical(id="account-form"):
            yield Static(title, id="account-title", markup=False)
            with VerticalScroll(id="account-fields", can_focus=False):
                if account is None:
                    yield FormField("name", t("accounts.field.name"), required=True)
                    yield FormField("full_name", t("accounts.field.full_name"))
                with Horizontal(classes="form-row"):
                    yield Label(t("accounts.field.role") + " *", classes="form-label", markup=False)
                    yield Select([(code_name("role", r), r) for r in ROLES], value=self.initial_role,
                                 allow_blank=False, compact=True, id="in-role")
                yield Static("", id="role-error", classes="form-error", markup=False)
                unit = account.unit_code if account is not None and account.role != "admin" else ""
                yield FormField("unit", t("accounts.field.unit"), value=unit or "")
                yield Static(t("accounts.unit_note"), classes="form-note", markup=False)
            yield MessageBox(id="account-messages")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(MessageBox).display = False
        self.query_one("#role-error").display = False
        first = "#in-name" if self.account is None else "#in-role"
        self.call_after_refresh(self.query_one(first).focus)

    def is_dirty(self) -> bool:
        return super().is_dirty() or self.query_one("#in-role", Select).value != self.initial_role

    def _field(self, name: str) -> FormField | None:
        return next((f for f in self.query(FormField) if f.field_name == name), None)

    def _show_error(self, field_name: str | None, message: str) -> None:
        """The refusal at its field (the role's line below the choice), and in the box below."""
        if field_name == "role":
            error = self.query_one("#role-error", Static)
            error.update(message)
            error.display = True
            self.query_one("#in-role").focus()
        else:
            field = self._field(field_name) if field_name else None
            if field is None:  # about no field: said in full below the form
                self.query_one(MessageBox).show([t("accounts.not_saved"), message])
                return
            field.show_error(message)
            field.input.focus()
        self.query_one(MessageBox).show([t("step.fix_fields")])

    def action_save(self) -> None:
        if self._busy:
            return
        self.query_one("#role-error").display = False
        values, bad = collect(self.query(FormField))
        if bad is not None:
            bad.input.focus()
            self.query_one(MessageBox).show([t("step.fix_fields")])
            return
        role = self.query_one("#in-role", Select).value
        if self.account is None and not accounts.NAME.match(values["name"]):
            # the same check db.accounts makes, before anything else is looked at
            self._show_error("name", account_error_text(
                AccountError("bad_value", field="name", value=values["name"])))
            return
        if role != "admin" and not values.get("unit"):
            self._show_error("unit", t("accounts.needs_unit", role=code_name("role", role)))
            return
        self._busy = True
        self._save(values, role)

    @work(thread=True, exclusive=True, group="account-form")
    def _save(self, values: dict, role: str) -> None:
        actor, today = self.context.actor, self.context.today
        result: tuple
        try:
            unit_id = None
            if role != "admin":
                unit_id = units.find_unit(actor, values["unit"], today).id
            if self.account is None:
                accounts.add(actor, values["name"] or "", role, unit_id,
                             full_name=values.get("full_name"))
                result = ("saved", (t("accounts.added", name=values["name"]), values["name"]))
            elif (role, unit_id) == (self.account.role,
                                     None if role == "admin" else self.account.unit_id):
                result = ("saved", (t("accounts.unchanged"), self.account.name))  # nothing to log
            else:
                accounts.set_role(actor, self.account.name, role, unit_id)
                result = ("saved", (t("accounts.changed", name=self.account.name),
                                    self.account.name))
        except units.UnitLookupError as exc:
            candidates = ", ".join(f"{code} ({name})" for code, name in exc.candidates[:5])
            result = ("unit", t(f"error.{exc.code}", text=exc.text, candidates=candidates))
        except AccountError as exc:
            field_name = ERROR_FIELD.get(exc.code, exc.params.get("field"))
            result = (field_name, account_error_text(exc))
        except AccessError:
            result = (None, t("accounts.admins_only"))
        finally:
            connection.close_database()  # this thread's connection only
        self.app.call_from_thread(self._finished, result)

    def _finished(self, result: tuple) -> None:
        self._busy = False
        kind, payload = result
        if kind == "saved":
            self.dismiss(payload)
        else:
            self._show_error(kind, payload)
