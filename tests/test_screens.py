"""The screens, driven with the keyboard through Textual's Pilot on small real databases."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.filter import Monochrome, NoColor
from textual.widgets import Input, Static, TabbedContent

from db import models, people
from db.text import clean
from screens.case import CaseScreen
from screens.help import HelpScreen
from screens.main import MainScreen
from tests.snapshot_app import MARKUP_NAME_RAW, MARKUP_UNIT_NAME, TODAY, build_sample, sample_context
from tests.ui_helpers import open_unit, screen_text, settle, tree_node
from tui import i18n
from tui.app import KetnapApp
from tui.widgets import PagedTable, UnitTree

SIZE = (80, 24)
ROWS_AT_80x24 = 20  # 24 lines - header - info line - column headers - footer


@pytest.fixture
def sample(empty_db):
    return build_sample()


@pytest.fixture
def make_app(empty_db, sample):
    created = []

    def make(lang: str = "vi") -> KetnapApp:
        app = KetnapApp(sample_context(empty_db, lang=lang))
        created.append(app)
        return app

    yield make
    i18n.set_language("vi")


def content_text(widget: Static, width: int = 200) -> str:
    """What a Static holds, as text on a wide line (no wrapping to test around)."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


def tab_text(app, name: str) -> str:
    return content_text(app.screen.query_one(f"#body-{name}", Static))


def names(app) -> list[str]:
    table = app.screen.query_one(PagedTable)
    return [table.get_row_at(i)[1].plain for i in range(table.row_count)]


def info(app) -> str:
    return str(app.screen.query_one("#people-info", Static).render())


def page_rows(app):
    return app.screen.page.rows


# --- the main screen ------------------------------------------------------------------------

async def test_starts_on_the_scope_root_with_its_children_unfolded(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        tree = app.screen.query_one(UnitTree)
        assert app.focused is tree
        province = tree.root.children[0]
        assert province.label.plain == "Tỉnh ủy Bắc Kạn" and province.is_expanded
        district = province.children[0]
        assert district.is_expanded
        assert [n.label.plain for n in district.children] == [
            "thị trấn Nà Phặc", "xã Vân Tùng"]
        # the root's people are listed, the header names the unit and today
        assert app.screen.unit.id == sample.province
        text = screen_text(app)
        assert "Tỉnh ủy Bắc Kạn — Hôm nay 30/09/2021" in text
        assert "Ctrl+Q Thoát" in text and "F1 Trợ giúp" in text


async def test_a_committee_shows_its_branches_and_people_with_their_branch(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # province, district, town: down twice; unfold with the right arrow
        await pilot.press("down", "down", "right")
        await pilot.pause()
        town = tree_node(app, sample.town)
        assert app.screen.query_one(UnitTree).cursor_node is town
        # branches without the "Chi bộ" they all start with; the ended one hidden
        assert [n.label.plain for n in town.children] == [
            "thôn Nà Phặc", "thôn Khuổi Mạn", "thôn [bold]Lò[/bold]"]
        # the full name of the unit under the cursor shows below the tree
        await pilot.press("down")
        assert content_text(app.screen.query_one("#unit-name", Static)).strip() == (
            "Chi bộ thôn Nà Phặc")
        await pilot.press("up")
        await pilot.press("enter")
        await settle(pilot)
        assert app.focused is app.screen.query_one(PagedTable)
        assert app.screen.title == "Đảng bộ thị trấn Nà Phặc"
        total = people.people_count(app.context.actor, sample.town, TODAY)
        assert info(app) == f"Tất cả · dòng 1–{ROWS_AT_80x24}/{total} · Đảng bộ thị trấn Nà Phặc"
        table = app.screen.query_one(PagedTable)
        assert [c.label.plain for c in table.columns.values()] == [
            "", "Họ và tên", "Ngày sinh", "Tình trạng", "Chi bộ"]
        first = app.screen.page.rows[0]
        assert table.get_row_at(0)[2].plain == first.born.strftime("%d/%m/%Y")
        assert table.get_row_at(0)[4].plain.startswith("thôn ")


async def test_a_branch_lists_one_screenful_in_vietnamese_order(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, sample.big_branch)
        rows = page_rows(app)
        assert len(rows) == ROWS_AT_80x24
        expected = people.people_page(app.context.actor, sample.big_branch, TODAY,
                                      limit=ROWS_AT_80x24).rows
        assert [r.id for r in rows] == [r.id for r in expected]
        assert [r.sort_key for r in rows] == sorted(r.sort_key for r in rows)
        assert names(app)[:3] == ["Nông Minh Ánh", "Triệu Minh Ánh", "Hà Đức Ân"]
        # a branch's list has no branch column
        table = app.screen.query_one(PagedTable)
        assert [c.label.plain for c in table.columns.values()] == [
            "", "Họ và tên", "Ngày sinh", "Tình trạng"]
        # files are marked, and their stage named
        marked = [i for i, r in enumerate(rows) if r.case_id is not None]
        assert marked
        assert table.get_row_at(marked[0])[0].plain == "●"
        assert table.get_row_at(marked[0])[3].plain == "Đang học"


async def test_page_down_and_page_up(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, sample.big_branch)
        first_page = page_rows(app)
        await pilot.press("pagedown")
        await settle(pilot)
        second_page = page_rows(app)
        assert second_page[0].id != first_page[0].id
        assert first_page[-1].sort_key <= second_page[0].sort_key  # still in order
        assert [r.sort_key for r in second_page] == sorted(r.sort_key for r in second_page)
        assert "dòng 21–40/" in info(app)
        await pilot.press("pagedown")
        await settle(pilot)
        assert "dòng 41–" in info(app) and app.screen.page.has_after is False
        await pilot.press("pageup", "pageup")
        await settle(pilot)
        assert [r.id for r in page_rows(app)] == [r.id for r in first_page]
        assert "dòng 1–20/" in info(app)
    # the workers closed their own connections, not this thread's
    assert not models.database.is_closed()


async def test_keys_pressed_while_a_page_loads_are_not_lost(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, sample.big_branch)
        await pilot.press("pagedown", "pagedown")
        await settle(pilot)
        assert "dòng 41–" in info(app)


async def test_arrows_past_the_ends_turn_the_page(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, sample.big_branch)
        first_page = page_rows(app)
        table = app.screen.query_one(PagedTable)
        table.move_cursor(row=ROWS_AT_80x24 - 1)
        await pilot.press("down")
        await settle(pilot)
        assert "dòng 21–40/" in info(app) and table.cursor_row == 0
        await pilot.press("up")
        await settle(pilot)
        assert [r.id for r in page_rows(app)] == [r.id for r in first_page]
        assert table.cursor_row == ROWS_AT_80x24 - 1
        await pilot.press("up")  # inside the page: just a row up
        await pilot.pause()
        assert table.cursor_row == ROWS_AT_80x24 - 2 and "dòng 1–20/" in info(app)


async def test_bigger_terminal_bigger_page_same_first_row(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, sample.big_branch)
        await pilot.press("pagedown")
        await settle(pilot)
        first = page_rows(app)[0].id
        await pilot.resize_terminal(100, 30)
        await settle(pilot)
        assert page_rows(app)[0].id == first
        assert len(page_rows(app)) == 26
        assert "dòng 21–46/" in info(app)


async def test_kind_switches_between_everyone_candidates_and_members(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, sample.town)
        await pilot.press("l")
        await settle(pilot)
        assert info(app).startswith("Hồ sơ đang xét · dòng 1–")
        assert page_rows(app) and all(r.case_id is not None for r in page_rows(app))
        await pilot.press("l")
        await settle(pilot)
        assert info(app).startswith("Đảng viên · ")
        assert all(r.party_status in ("official", "probationary") for r in page_rows(app))
        await pilot.press("l")
        await settle(pilot)
        assert info(app).startswith("Tất cả · ")


async def test_ended_units_show_on_request_with_their_end_date(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        node = tree_node(app, sample.ended_branch)
        assert node.label.plain == "cơ quan thị trấn (kết thúc 30/06/2020)"
        # the tree keeps its cursor where it was
        assert app.screen.query_one(UnitTree).cursor_node.data.id == sample.province
        await open_unit(pilot, sample.ended_branch)
        assert info(app) == ("Tất cả · không có ai · Chi bộ cơ quan thị trấn"
                             " (kết thúc 30/06/2020)")
        await pilot.press("h")
        await settle(pilot)
        with pytest.raises(AssertionError):
            tree_node(app, sample.ended_branch)


async def test_tab_moves_between_the_tree_and_the_list(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(UnitTree)
        table = app.screen.query_one(PagedTable)
        assert app.focused is tree
        await pilot.press("tab")
        assert app.focused is table
        await pilot.press("shift+tab")
        assert app.focused is tree


async def test_enter_on_a_person_without_a_file_says_so(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, sample.small_branch)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert any("không có hồ sơ đang xét" in str(n.message) for n in app._notifications)


# --- the case view --------------------------------------------------------------------------

async def open_mai(pilot, sample) -> int:
    """Open Hoàng Thị Mai's file from the candidates of her branch; returns her row."""
    app = pilot.app
    await open_unit(pilot, sample.big_branch)
    await pilot.press("l")
    await settle(pilot)
    row = names(app).index("Hoàng Thị Mai")
    app.screen.query_one(PagedTable).move_cursor(row=row)
    await pilot.press("enter")
    await settle(pilot)
    return row


async def test_case_view_shows_the_file_and_escape_returns_to_the_same_row(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = await open_mai(pilot, sample)
        assert isinstance(app.screen, CaseScreen)
        summary = str(app.screen.query_one("#case-summary", Static).render())
        assert "Hoàng Thị Mai · Chi bộ thôn Nà Phặc" in summary
        assert "Giai đoạn: Đảng ủy cơ sở xét duyệt · Đang xét" in summary
        assert "Cấp ủy có thẩm quyền ra quyết định kết nạp · hạn " in summary
        assert "quá hạn" in summary
        person = screen_text(app)
        assert "Mai Hoàng" in person and "12/04/2001" in person and "Giáo viên mầm non" in person
        await pilot.press("2")
        await pilot.pause()
        assert app.screen.query_one(TabbedContent).active == "tab-steps"
        assert "01/03/2020 Quần chúng ưu tú · Chi bộ thôn Nà Phặc" in screen_text(app)
        steps = tab_text(app, "steps")
        assert "Nghị quyết chi bộ số 12-NQ/CB ngày 01/09/2020; tán thành 20/27 (2 không tính)" in steps
        await pilot.press("3")
        await pilot.pause()
        documents = tab_text(app, "documents")
        assert "01/06/2020 Đơn xin vào Đảng" in documents
        assert "123/CN" in documents
        await pilot.press("right")  # the next tab
        await pilot.pause()
        introducers = tab_text(app, "introducers")
        assert app.screen.query_one(TabbedContent).active == "tab-introducers"
        assert "Ban Chấp hành Đoàn cơ sở: nghị quyết 05-NQ/ĐTN" in introducers
        assert "cùng công tác từ 01/01/2018" in introducers
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert app.screen.query_one(PagedTable).cursor_row == row
        assert names(app)[row] == "Hoàng Thị Mai"


async def test_case_view_shows_decisions_received_dates_and_undone_steps(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, sample.small_branch)
        row = names(app).index("Bàn Thị Thu")
        table = app.screen.query_one(PagedTable)
        assert table.get_row_at(row)[0].plain == "●" and table.get_row_at(row)[3].plain == "Dự bị"
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        summary = str(app.screen.query_one("#case-summary", Static).render())
        assert "Giai đoạn: Đảng viên dự bị · Đang xét" in summary
        assert "Việc tiếp theo: Hoàn thành phiếu đảng viên · hạn " in summary
        steps = tab_text(app, "steps")
        assert "20/10/2020 Có quyết định kết nạp · Huyện ủy Ngân Sơn" in steps
        assert "Quyết định số 215-QĐ/HU ngày 20/10/2020" in steps
        assert "Chi bộ nhận quyết định ngày 23/10/2020" in steps
        assert "Đã hủy bước này: Nhập nhầm ngày" in steps
        assert "tán thành 10/11 (1 không tính)" in steps
        assert "88/CN, Trung tâm Chính trị huyện Ngân Sơn" in tab_text(app, "documents")
        assert "(chưa có)" in tab_text(app, "introducers")


async def test_case_view_in_english(make_app, sample):
    app = make_app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Today 30/09/2021" in screen_text(app)
        await open_unit(pilot, sample.big_branch)
        assert info(app).startswith("Everyone · rows 1–20 of ")
        table = app.screen.query_one(PagedTable)
        assert [c.label.plain for c in table.columns.values()] == ["", "Name", "Born", "Status"]
        await pilot.press("l")
        await settle(pilot)
        row = names(app).index("Hoàng Thị Mai")
        assert table.get_row_at(row)[3].plain == "Comm. OK"
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        summary = str(app.screen.query_one("#case-summary", Static).render())
        assert "Stage: Committee approved · Open" in summary
        assert "Admission decision by the competent committee · due " in summary
        await pilot.press("2")
        await pilot.pause()
        assert ("Branch resolution no. 12-NQ/CB of 01/09/2020; 20/27 for (2 excused)"
                in tab_text(app, "steps"))
        assert "Esc Back" in screen_text(app)


# --- help, quitting -------------------------------------------------------------------------

async def test_help_lists_the_keys_of_the_screen(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = content_text(app.screen.query_one("#help-body", Static))
        for line in ("PgDn", "Trang sau", "PgUp", "Trang trước", "Enter", "Mở hồ sơ", "Xem danh sách",
                     "Loại: đổi danh sách", "Đơn vị cũ", "Ctrl+Q", "Thoát", "F1, ?"):
            assert line in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        # F1 works as well, and from the case view it lists the case view's keys
        await open_mai(pilot, sample)
        await pilot.press("f1")
        await pilot.pause()
        text = content_text(app.screen.query_one("#help-body", Static))
        assert "Hồ sơ quần chúng" in text and "1-5" in text and "Quay lại" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CaseScreen)


async def test_letter_keys_type_into_a_text_field(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        field = Input(id="probe")
        await app.screen.mount(field)
        field.focus()
        await pilot.press("question_mark", "l", "h")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert field.value == "?lh"
        assert app.screen.kind == "all" and app.screen.show_ended is False


async def test_ctrl_q_quits_from_anywhere(make_app, sample):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_mai(pilot, sample)
        await pilot.press("f1")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


# --- text from the database is never markup -------------------------------------------------

async def test_markup_in_names_shows_literally(make_app, sample):
    stored = clean(MARKUP_NAME_RAW)
    assert "\x1b" not in stored and stored.startswith("[bold]Lò[/bold]")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "right")
        await pilot.pause()
        node = tree_node(app, sample.markup_branch)
        assert node.label.plain == "thôn [bold]Lò[/bold]"
        app.screen.query_one(UnitTree).move_cursor(node)
        await pilot.pause()
        assert MARKUP_UNIT_NAME in screen_text(app)  # the full name below the tree
        await open_unit(pilot, sample.markup_branch)
        assert names(app) == [stored]
        text = screen_text(app)
        assert stored in text  # the rendered cell, brackets and all
        assert f"Tất cả · dòng 1–1/1 · {MARKUP_UNIT_NAME}" in text
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        text = screen_text(app)
        assert f"{stored} · {MARKUP_UNIT_NAME}" in text
        assert "[i]Dao[/i]" in text and "Thôn [link=http://x]Lò[/link]" in text
        assert app.screen.title == stored


# --- the demo data set (once it exists) -----------------------------------------------------

@pytest.fixture
def demo_app(request):
    pytest.importorskip("db.demo")
    actor = request.getfixturevalue("demo_admin")
    db_path = request.getfixturevalue("demo_db")
    from tui.context import AppContext

    return KetnapApp(AppContext(location=db_path, actor=actor, today=TODAY))


@pytest.mark.slow
async def test_demo_na_phac_branches_and_people(demo_app):
    from db.units import find_unit

    app = demo_app
    town = find_unit(app.context.actor, "Đảng bộ thị trấn Nà Phặc", TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        node = tree_node(app, town.id)
        branches = [u for u in node.data.walk() if u.is_branch]
        assert len(branches) == 27
        await open_unit(pilot, branches[0].id)
        rows = page_rows(app)
        assert rows and [r.sort_key for r in rows] == sorted(r.sort_key for r in rows)


# --- the terminal ---------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "theme"), [
    ({"TERM": "linux"}, "ansi-dark"),
    ({"TERM": "xterm"}, "ansi-dark"),  # PuTTY's default: Rich counts 16 colours
    ({"TERM": "xterm-256color"}, "textual-dark"),
    ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "textual-dark"),
])
def test_theme_follows_the_terminal(make_app, monkeypatch, env, theme):
    for name in ("TERM", "COLORTERM", "TEXTUAL_COLOR_SYSTEM", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = make_app()
    assert app.theme == theme
    assert app.native_ansi_color is (theme == "ansi-dark")


async def test_no_color_on_a_16_colour_console_keeps_a_visible_cursor(make_app, monkeypatch,
                                                                       sample):
    monkeypatch.setenv("TERM", "linux")
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.no_color and app.native_ansi_color
        # colours stripped, not turned to grey (grey of the terminal's palette is black)
        assert any(isinstance(f, NoColor) for f in app._filters)
        assert not any(isinstance(f, Monochrome) for f in app._filters)
        await pilot.press("tab")
        table = app.screen.query_one(PagedTable)
        line = table.render_line(1)  # the first row, under the column headers: the cursor
        assert any(segment.style is not None and segment.style.reverse for segment in line)
        tree = app.screen.query_one(UnitTree)
        assert any(segment.style is not None and segment.style.underline
                   for segment in tree.render_line(0))


async def test_a_large_tree_opens_with_only_its_top_unfolded(make_demo_app, monkeypatch):
    """Two unfolded levels of a province are tens of thousands of lines, seconds to lay out at
    start-up: past FIRST_UNFOLDED_MAX lines only the top units open unfolded."""
    import screens.main

    for limit, communes_open in ((500, True), (5, False)):
        monkeypatch.setattr(screens.main, "FIRST_UNFOLDED_MAX", limit)
        app = make_demo_app("demo_organiser")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            tree = app.screen.query_one(UnitTree)
            (district,) = tree.root.children
            assert district.is_expanded
            assert any(c.is_expanded for c in district.children) is communes_open


async def test_a_folded_unit_gets_its_branches_when_unfolded_and_a_jump_reaches_any_unit(make_demo_app, monkeypatch):
    """A province's tree adds a unit's children when it is first unfolded (adding tens of
    thousands of nodes took seconds at start-up); unfolding, the palette's jump and the
    back key still reach every unit."""
    import screens.main

    monkeypatch.setattr(screens.main, "FIRST_UNFOLDED_MAX", 5)
    app = make_demo_app("demo_organiser")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(UnitTree)
        (district,) = tree.root.children
        commune = district.children[0]
        assert not commune.is_expanded and len(commune.children) == 0  # not added until unfolded
        tree.focus()
        tree.move_cursor(commune)
        await pilot.press("right")
        await pilot.pause()
        names = [n.label.plain for n in commune.children]
        assert commune.is_expanded and len(names) == commune.data.child_count > 0
        assert names[0] in screen_text(app)
        await pilot.press("right")  # into the first branch
        assert tree.cursor_node is commune.children[0]
        # a branch of another commune, never unfolded: the jump unfolds down to it and lists it
        other = next(c for c in reversed(district.children) if c.data.child_count and c is not commune)
        assert len(other.children) == 0
        branch = other.data.children[-1]
        app.screen.go_to_unit(branch.id)
        await settle(pilot)
        assert app.screen.unit.id == branch.id and other.is_expanded
        assert tree.cursor_node.data.id == branch.id
        assert branch.name in screen_text(app)


async def test_end_puts_the_cursor_on_the_pages_last_row(make_app, sample):
    """End moved the table's view and left the cursor: Enter then opened a row no longer shown."""
    from tui.widgets import PagedTable

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, sample.big_branch)
        table = app.screen.query_one(PagedTable)
        table.focus()
        await pilot.press("end")
        rows = page_rows(app)
        assert table.cursor_row == len(rows) - 1
        await pilot.press("home")
        assert table.cursor_row == 0
