"""`/` filters the list in view on the classes, the accounts, the change history and the people
behind a progress figure: by what the row shows, diacritics, case and đ ignored; Escape in the
field clears it, Down and Enter go to the list keeping it."""

from __future__ import annotations

import datetime

import pytest
from textual.widgets import DataTable, Input

from db.access import account_actor
from db.text import fold
from db.units import find_unit
from screens.accounts import AccountsScreen
from screens.audit import AuditScreen, action_name, change_text
from screens.behind import BehindScreen
from screens.classes import ClassListScreen
from screens.main import MainScreen
from tests.test_progress_screen import open_behind, open_progress
from tests.ui_helpers import open_unit, screen_text, settle
from tui.widgets import PagedTable, filter_match

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)


def test_words_start_words_of_the_row_whatever_the_marks_and_brackets():
    assert filter_match(["dang", "h"], "Đặng Thị Hoạt")
    assert filter_match(["np"], "Nà Phặc", "(NP)")  # a code in brackets
    assert filter_match(["khoa", "3"], "khóa 3 năm 2021")
    assert filter_match(["viewer"], "demo_viewer") and filter_match(["ns-np-07"], "NS-NP-07")
    assert filter_match(["07"], "NS-NP-07")
    assert not filter_match(["hoat", "x"], "Đặng Thị Hoạt")
    assert not filter_match(["oat"], "Đặng Thị Hoạt")  # the start of a word, not the middle
    assert filter_match([], None)


def rows(table: DataTable, column: int) -> list[str]:
    return [table.get_row_at(i)[column].plain for i in range(table.row_count)]


async def test_classes_filtered_by_name_cleared_by_escape(make_demo_app):
    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ClassListScreen)
        table = screen.query_one("#classes", DataTable)
        everyone = table.row_count
        assert everyone > 1
        await pilot.press("slash", *"khoa", "space", "3")
        await settle(pilot)
        shown = rows(table, 1)
        assert shown and set(shown) == {"khóa 3 năm 2021"} and len(shown) < everyone
        assert "lọc “khoa 3”" in screen_text(app)
        await pilot.press("enter")  # into the list: the filter stays, the rows too
        await settle(pilot)
        assert app.focused is table and table.row_count == len(shown)
        assert screen.query_one("#classes-filter-row").display
        await pilot.press("slash", "escape")  # Escape in the field: cleared, on the list
        await settle(pilot)
        assert table.row_count == everyone and app.focused is table
        assert not screen.query_one("#classes-filter-row").display
        assert isinstance(app.screen, ClassListScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_accounts_filtered_by_login_role_or_unit(make_demo_app):
    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("U")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AccountsScreen)
        everyone = len(screen.all_rows)
        await pilot.press("slash", *"viewer")
        await settle(pilot)
        assert [r.name for r in screen.rows] == ["demo_viewer"]
        assert rows(screen.query_one(PagedTable), 0) == ["demo_viewer"]
        await pilot.press("ctrl+u", *"bi", "space", *"thu")  # a role, in words without marks
        await settle(pilot)
        assert screen.rows and len(screen.rows) < everyone
        assert all(r.role == "secretary" for r in screen.rows)
        await pilot.press("slash")  # in the field, a "/" is typed
        assert isinstance(app.focused, Input) and app.focused.value == "bi thu/"
        await pilot.press("escape")
        await settle(pilot)
        assert len(screen.rows) == everyone and isinstance(app.focused, PagedTable)
        assert isinstance(app.screen, AccountsScreen)


async def test_history_filtered_by_action_and_person(make_demo_app):
    admin = account_actor("demo_admin")
    town = find_unit(admin, "NS-NP", TODAY)
    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, town.id)
        await pilot.press("y")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        everyone = len(screen.all_entries)
        assert everyone
        word = fold(action_name(screen.all_entries[-1].action)).split()[0]
        await pilot.press("slash", *word)
        await settle(pilot)
        assert 0 < len(screen.entries) <= everyone
        assert all(filter_match([word], e.account, action_name(e.action), e.person_name,
                                e.unit_name, change_text(e)) for e in screen.entries)
        assert any(word in fold(action_name(e.action)) for e in screen.entries)
        await pilot.press(*"qqqq")
        await settle(pilot)
        assert screen.entries == [] and "lọc “" + word + "qqqq”" in screen_text(app)
        assert "không dòng nào khớp" in screen_text(app)  # the filter's doing, not an empty list
        assert "chưa có thay đổi" not in screen_text(app)
        await pilot.press("down")  # to the list, the filter kept
        await settle(pilot)
        assert isinstance(app.focused, PagedTable) and screen.filter_text == word + "qqqq"
        await pilot.press("slash", "escape")
        await settle(pilot)
        assert len(screen.entries) == everyone


async def test_people_behind_a_figure_filtered_by_name(make_demo_app):
    """The members (read a page at a time) are filtered by name in the database: the pages
    shown are the members whose name has a word starting with the one typed, and the count
    says how many; Escape gives the whole list back."""
    from db import progress as figures

    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        progress = await open_progress(pilot, "NS-NP")
        listed = await open_behind(pilot, progress, "members")
        whole = figures.members_list(app.context.actor, progress.unit.id, TODAY)
        word = fold(whole[0].full_name).split()[-1]
        wanted = [b for b in whole if any(w.startswith(word) for w in fold(b.full_name).split())]
        assert 0 < len(wanted) < len(whole)
        await pilot.press("slash", *word)
        await settle(pilot)
        table = listed.query_one(PagedTable)
        assert table.row_count == min(len(wanted), table.size.height - 1)  # filled, filter row shown
        assert rows(table, 0) == [b.full_name for b in wanted[:table.row_count]]
        assert f"{len(wanted)} đảng viên ngày 30/09/2021" in screen_text(app)
        assert f"lọc “{word}”" in screen_text(app)
        await pilot.press("slash", "q", "q", "q")
        await settle(pilot)
        assert table.row_count == 0 and "không dòng nào khớp" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == table.size.height - 1  # and again with the filter row gone
        assert rows(table, 0) == [b.full_name for b in whole[:table.row_count]]
        assert "635 đảng viên ngày" in screen_text(app) and isinstance(app.screen, BehindScreen)
        await pilot.press("f1")  # the help says the filter is by name here
        await settle(pilot)
        assert "lọc danh sách theo tên" in screen_text(app)
        assert "lọc danh sách theo chữ trên dòng" not in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is listed
        await pilot.press("escape")
        assert app.screen is progress


async def test_people_sent_to_class_filtered_by_what_the_rows_show(make_demo_app, monkeypatch):
    """The lists kept whole (here the people sent to class) are filtered by what the rows show:
    the name, the branch, the class; the rows read a chunk at a time (here three)."""
    import screens.behind
    from screens.behind import rows_of

    monkeypatch.setattr(screens.behind, "FILTER_CHUNK", 3)
    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        progress = await open_progress(pilot, "NS-NP")
        listed = await open_behind(pilot, progress, "sent")
        everyone = rows_of("sent", listed.all_keys)
        word = fold(everyone[-1].full_name).split()[-1]  # one in the last chunk
        await pilot.press("slash", *word)
        await settle(pilot)
        kept = rows_of("sent", listed.keys)
        matching = [r for r in everyone if filter_match([word], r.full_name, r.branch.name if r.branch else None,
                                                        listed._what(r).plain)]
        assert 0 < len(kept) < len(everyone) and kept == matching
        table = listed.query_one(PagedTable)
        assert table.get_row_at(0)[0].plain == kept[0].full_name
        await pilot.press("escape")
        await settle(pilot)
        assert len(listed.keys) == len(everyone) and isinstance(app.screen, BehindScreen)
        await pilot.press("escape")
        assert app.screen is progress


@pytest.mark.parametrize("key,screen_type", [("k", ClassListScreen), ("U", AccountsScreen)])
async def test_the_help_names_the_filter_key(make_demo_app, key, screen_type):
    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, screen_type)
        await pilot.press("f1")
        await settle(pilot)
        assert "lọc danh sách theo chữ trên dòng" in screen_text(app)


async def test_a_units_history_filtered_by_decision(make_demo_app):
    from tests.test_reorganise_screens import open_reorganise

    app = make_demo_app("demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reorganise(pilot, "NS-TQ-20")  # a split, then a dissolution
        assert len(screen.all_rows) == 2
        table = screen.query_one("#reorg-history", DataTable)
        await pilot.press("slash", *"10-qd")  # the split's decision, without marks
        await settle(pilot)
        assert [e.decision for e in screen.rows] == ["10-QĐ/ĐU"] and table.row_count == 1
        assert "lọc “10-qd”" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == 2 and app.screen is screen
