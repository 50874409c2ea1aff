"""What each role sees: a viewer's case screen without background, the change history (per file,
unit and person) and the accounts screen, driven with the keyboard on the demo database."""

from __future__ import annotations

import datetime

import pytest
from textual.widgets import Input, Static

from db import audit, models
from screens.accounts import AccountForm, AccountsScreen
from screens.audit import AuditScreen, EntryScreen, change_text
from screens.case import CaseScreen
from screens.main import MainScreen
from tests.test_screens import content_text, tab_text
from tests.ui_helpers import open_unit, screen_text, settle
from tui import i18n
from tui.widgets import PagedTable

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)


@pytest.fixture
def make_app(make_demo_app):
    return make_demo_app


def open_case_in(code: str) -> models.CaseFile:
    """The first open file of the unit `code` whose person has a birth date and a citizen ID."""
    C, U, P = models.CaseFile, models.Unit, models.Person
    return (C.select().join(U).switch(C).join(P)
            .where((U.code == code) & C.is_open() & P.born.is_null(False)
                   & P.citizen_id.is_null(False))
            .order_by(C.id).first())


def views_of(person_id: int) -> int:
    E = models.AuditEntry
    return E.select().where((E.action == "view_background") & (E.person == person_id)).count()


async def show_case(pilot, case_id: int) -> CaseScreen:
    app = pilot.app
    await settle(pilot)
    app.push_screen(CaseScreen(app.context, case_id))
    await settle(pilot)
    assert isinstance(app.screen, CaseScreen)
    return app.screen


def notified(app, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


# --- the case screen ------------------------------------------------------------------------

async def test_a_viewer_sees_no_background_and_cannot_write(make_app):
    case = open_case_in("NS-NP-07")
    person = case.person
    app = make_app("demo_viewer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await show_case(pilot, case.id)
        text = tab_text(app, "person")
        assert person.full_name in text
        assert "Ngày sinh" not in text and i18n.date(person.born) not in text
        assert person.citizen_id not in screen_text(app)
        assert "được ẩn với quyền Chỉ xem" in text
        assert "Ghi chú được ẩn" in tab_text(app, "notes")
        # the writing keys are not offered, and say why they do nothing
        footer = screen_text(app).splitlines()[-1]
        assert "Ghi bước" not in footer and "Đóng hồ sơ" not in footer
        for key in ("a", "c", "g"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen
            assert "chỉ xem không được sửa" in content_text(screen.query_one("#case-message", Static))
        # nor the history (it holds background data)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen
        assert notified(app, "không được xem lịch sử")
    assert views_of(person.id) == 0


async def test_opening_a_file_logs_one_view_of_the_background(make_app):
    case = open_case_in("NS-NP-07")
    app = make_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        screen = await show_case(pilot, case.id)
        assert i18n.date(case.person.born) in tab_text(app, "person")
        assert views_of(case.person_id) == 1
        screen._load()  # shown again, as after a change
        await settle(pilot)
        await pilot.press("g")  # a note: the file is read again once saved
        await settle(pilot)
        await pilot.press(*"Gặp gỡ gia đình", "enter")
        await settle(pilot)
        assert "Gặp gỡ gia đình" in tab_text(app, "notes")
        assert views_of(case.person_id) == 1
        # leaving and opening it again is another view
        await pilot.press("escape")
        await show_case(pilot, case.id)
    assert views_of(case.person_id) == 2


# --- the history ------------------------------------------------------------------------------

async def test_the_history_of_a_file_lists_its_entries_and_shows_one_in_full(make_app):
    case = open_case_in("NS-NP-07")
    app = make_app("demo_organiser")
    async with app.run_test(size=SIZE) as pilot:
        await show_case(pilot, case.id)
        await pilot.press("g")
        await settle(pilot)
        await pilot.press(*"[bold]Hẹn[/bold] gặp", "enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen) and screen.case_id == case.id
        expected = [e.id for e in audit.entries(app.context.actor, TODAY, case_id=case.id)]
        assert [e.id for e in screen.entries] == expected
        text = screen_text(app)
        assert "Lịch sử hồ sơ: " + case.person.full_name in text
        assert "demo_organiser" in text and "Ghi chú" in text
        assert "[bold]Hẹn[/bold] gặp" in text  # the note's text, literally
        # the note, and the opening of the file (its background view) before it
        assert "2 mục" in content_text(screen.query_one("#audit-info", Static))
        assert [e.action for e in screen.entries] == ["note", "view_background"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EntryScreen)
        body = content_text(app.screen.query_one("#entry-body", Static))
        assert '"text": "[bold]Hẹn[/bold] gặp"' in body and "Trước" in body
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)


async def test_the_history_of_a_unit_and_of_a_person_from_the_main_screen(make_app):
    case = open_case_in("NS-NP-07")
    app = make_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        await show_case(pilot, case.id)  # logs a view of the person's background
        await pilot.press("escape")
        await settle(pilot)
        await open_unit(pilot, case.branch_id)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen) and app.screen.unit_id == case.branch_id
        assert "Xem lý lịch" in screen_text(app) and case.person.full_name in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        table = main.query_one(PagedTable)
        table.focus()
        row = next(n for n, r in enumerate(main.page.rows) if r.id == case.person_id)
        table.move_cursor(row=row)
        await pilot.press("Y")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen) and app.screen.person_id == case.person_id
        assert {e.person_id for e in app.screen.entries} == {case.person_id}
        assert "Lịch sử của " + case.person.full_name in screen_text(app)


async def test_a_viewer_is_told_the_history_is_not_for_them(make_app):
    app = make_app("demo_viewer")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert notified(app, "không được xem lịch sử")


def test_what_changed_in_a_few_words():
    def entry(action, before, after):
        return audit.EntryView(1, datetime.datetime(2021, 9, 30, 8), "x", action, "case_file", 1,
                               None, None, None, None, before, after)

    assert change_text(entry("step", {"stage": "dossier", "version": 3},
                             {"stage": "branch_approved", "version": 4})) == "Làm hồ sơ → CB đề nghị"
    assert change_text(entry("hold", {"on_hold": False, "version": 1},
                             {"on_hold": True, "version": 2, "reason": "Chờ"})) == "Chờ"
    assert change_text(entry("release", {"on_hold": True, "version": 2},
                             {"on_hold": False, "version": 3, "reason": None})) == "tạm dừng"
    assert change_text(entry("account_role", {"role": "viewer"}, {"role": "organiser"})) == \
        "Chỉ xem → Cán bộ tổ chức"
    assert change_text(entry("view_background", None, {"case": 3})) == ""
    assert change_text(entry("export", None, {"kind": "cases", "files": 3})) == "kind, files"


# --- accounts -----------------------------------------------------------------------------

async def open_accounts(pilot) -> AccountsScreen:
    await settle(pilot)
    assert "U Tài khoản" in screen_text(pilot.app).splitlines()[-1]  # the tree has the focus
    await pilot.press("U")
    await settle(pilot)
    assert isinstance(pilot.app.screen, AccountsScreen)
    return pilot.app.screen


async def test_an_administrator_adds_an_account_and_a_bad_name_is_shown_at_its_field(make_app):
    app = make_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_accounts(pilot)
        assert "demo_viewer" in screen_text(app) and "Bí thư chi bộ" in screen_text(app)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, AccountForm)
        await pilot.press(*"Bad Name", "tab", *"Nông Thị Lan", "tab", "tab", *"NS-NP-07")
        await pilot.press("ctrl+s")
        await settle(pilot)
        name_field = form.query_one("#field-name")
        assert "Tên tài khoản là tên đăng nhập" in content_text(name_field.query_one(".form-error"))
        assert app.focused is form.query_one("#in-name", Input)
        form.query_one("#in-name", Input).value = "lan.nt"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert "Đã tạo tài khoản lan.nt" in screen_text(app)
        assert "lan.nt" in [r.name for r in screen.rows]
    account = models.Account.get(models.Account.name == "lan.nt")
    assert (account.role, account.unit.code, account.full_name) == ("viewer", "NS-NP-07", "Nông Thị Lan")


async def test_an_unknown_unit_and_a_secretary_outside_a_branch_are_refused_at_the_unit(make_app):
    app = make_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_accounts(pilot)
        table = screen.query_one(PagedTable)
        table.move_cursor(row=[r.name for r in screen.rows].index("demo_secretary"))
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        unit = form.query_one("#in-unit", Input)
        assert unit.value == "NS-NP-07"
        unit.value = "không có nơi này"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Không có đơn vị nào khớp" in content_text(form.query_one("#field-unit .form-error"))
        unit.value = "NS"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "không phải chi bộ" in content_text(form.query_one("#field-unit .form-error"))
        assert app.screen is form
        unit.value = "NS-NP-07"  # back as it was: saved as nothing, not logged as a change
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen and "Không có gì thay đổi" in screen_text(app)
    E = models.AuditEntry
    assert not E.select().where(E.action == "account_role").exists()
    assert models.Account.get(models.Account.name == "demo_secretary").unit.code == "NS-NP-07"


async def test_disabling_an_account_asks_first(make_app):
    app = make_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_accounts(pilot)
        table = screen.query_one(PagedTable)
        table.move_cursor(row=[r.name for r in screen.rows].index("demo_viewer"))
        await pilot.press("d")
        await settle(pilot)
        assert "Khóa tài khoản demo_viewer?" in screen_text(app)
        assert "C: đồng ý · K hoặc Esc: thôi" in screen_text(app)
        await pilot.press("k")  # no
        await settle(pilot)
        assert not models.Account.get(models.Account.name == "demo_viewer").disabled
        await pilot.press("d", "c")
        await settle(pilot)
        assert models.Account.get(models.Account.name == "demo_viewer").disabled
        assert "Đã khóa tài khoản demo_viewer" in screen_text(app)
        # one's own account cannot be disabled: said, not crashed
        table.move_cursor(row=[r.name for r in screen.rows].index("demo_admin"))
        await pilot.press("d", "c")
        await settle(pilot)
        assert "Không thể tự khóa" in screen_text(app)
    assert not models.Account.get(models.Account.name == "demo_admin").disabled


@pytest.mark.parametrize("login", ["demo_organiser", "demo_secretary", "demo_viewer"])
async def test_only_administrators_open_the_accounts_screen(make_app, login):
    app = make_app(login)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Tài khoản" not in screen_text(app).splitlines()[-1]  # not in the footer
        await pilot.press("U")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert notified(app, "Chỉ quản trị viên")


async def test_the_help_lists_the_new_keys(make_app):
    app = make_app("demo_admin", lang="en")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        body = content_text(app.screen.query_one("#help-body", Static))
        assert "Unit history" in body and "Person history" in body and "Accounts" in body
