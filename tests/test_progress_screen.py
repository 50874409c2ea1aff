"""The progress screen on the demo (today 30/09/2021), driven with the keyboard: the article's
figures for Nà Phặc and the district (domain.md section 6), drilling down and back, another
as-of date, setting a target and who may, the lists behind the numbers."""

from __future__ import annotations

import datetime

import pytest
from textual.widgets import DataTable, Input

from db import progress, worklist
from db.access import account_actor
from db.units import find_unit
from tests import demo_figures as fig
from screens.behind import BehindScreen
from screens.case import CaseScreen
from screens.dialogs import FormField
from screens.main import MainScreen
from screens.progress import (AsOfDialog, MonthChart, Panel, ProgressScreen, TargetDialog,
                              TargetHistory, TermLine, big_lines, chart_text, month_ends)
from screens.worklist import WorklistScreen
from tests.ui_helpers import open_unit, screen_text, settle
from tui.widgets import PagedTable, help_rows

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)


@pytest.fixture
def make_app(make_demo_app):
    return make_demo_app


async def open_progress(pilot, code: str | None) -> ProgressScreen:
    app = pilot.app
    await settle(pilot)
    if code is not None:
        unit = find_unit(app.context.actor, code, TODAY)
        await open_unit(pilot, unit.id)
    await pilot.press("p")
    await settle(pilot)
    assert isinstance(app.screen, ProgressScreen)
    return app.screen


def panel(screen, key: str) -> str:
    return screen.query_one(f"#panel-{key}", Panel).plain


async def type_date(pilot, text: str) -> None:
    field = pilot.app.screen.query_one(Input)
    field.value = ""
    await pilot.press(*text)


# --- the figures ---------------------------------------------------------------------------------

async def test_p_shows_na_phacs_figures_of_the_article(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        assert screen.unit.code == "NS-NP"
        assert panel(screen, "admitted").startswith(
            "15 / 20 · 75,0% chỉ tiêu · chưa đạt, còn thiếu 5")
        assert panel(screen, "expected").startswith("25 / 20 · 125,0% · vượt chỉ tiêu")
        assert "10 chờ quyết định" in panel(screen, "expected")  # 25 - 15
        assert panel(screen, "sent").startswith("23 ")
        assert panel(screen, "members").startswith("635")
        assert "27 chi bộ" in panel(screen, "members")
        text = screen_text(app)
        assert "Tiến độ: Đảng bộ thị trấn Nà Phặc" in text
        assert "75,0% chỉ tiêu" in text and "125,0% · vượt chỉ tiêu" in text
        # the large figures are drawn, not written: 15 in the 3x5 block font
        assert big_lines("15")[0] in text
        # the month-by-month chart: 15 admitted by the end of September, none later
        assert screen.cumulative == [0, 2, 5, 7, 8, 11, 13, 15, 15]
        assert "─ đường thẳng tới chỉ tiêu 20 ngày 31/12" in str(
            screen.query_one("#progress-chart").render())


async def test_the_district_its_classes_and_drilling_down_and_back(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS")
        assert panel(screen, "admitted").startswith("113 / 120")
        assert panel(screen, "classes").startswith("4 / 5 lớp · 80,0% kế hoạch · 152 học viên")
        children = screen.query_one("#progress-children", DataTable)
        codes = [c.unit.code for c in screen.stats.children]
        percents = [c.target_percent for c in screen.stats.children]
        known = [p for p in percents if p is not None]
        assert known == sorted(known, reverse=True)  # best first, no target last
        row = codes.index("NS-NP")
        assert children.get_row_at(row)[2].plain.strip() == "15/20"
        assert children.get_row_at(row)[3].plain.strip() == "75,0%"
        assert "█" in children.get_row_at(row)[1].plain and "░" in children.get_row_at(row)[1].plain
        children.focus()
        children.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.unit.code == "NS-NP" and len(screen.trail) == 2
        assert panel(screen, "admitted").startswith("15 / 20")
        assert "huyện Ngân Sơn › thị trấn Nà Phặc" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and screen.unit.code == "NS"
        assert panel(screen, "admitted").startswith("113 / 120")
        assert children.cursor_row == row  # back on the unit one came from
        children.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert screen.unit.code == "NS-NP"
        await pilot.press("backspace")
        await settle(pilot)
        assert screen.unit.code == "NS"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_as_of_the_end_of_the_term(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, AsOfDialog)
        field = app.screen.query_one(FormField)
        await type_date(pilot, "31/02/2020")
        await pilot.press("enter")
        assert isinstance(app.screen, AsOfDialog)
        assert "Không có ngày 31/02/2020" in screen_text(app)
        await type_date(pilot, "30-06-2020")
        await pilot.press("enter")
        assert "dd/mm/yyyy" in field._error
        await type_date(pilot, "01/10/2021")
        await pilot.press("enter")
        assert isinstance(app.screen, AsOfDialog)
        assert "sau hôm nay" in field._error
        await type_date(pilot, "30/06/2020")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert (screen.year, screen.as_of) == (2020, datetime.date(2020, 6, 30))
        assert panel(screen, "members").startswith("3.267 · 10,5% dân số")
        text = screen_text(app)
        assert "Năm 2020, tính đến 30/06/2020" in text
        assert "Nhiệm kỳ 2015–2020: kết nạp 801" in text
        # a year key goes back to that year's default date
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert (screen.year, screen.as_of) == (2021, TODAY)
        assert panel(screen, "admitted").startswith("113 / 120")
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert (screen.year, screen.as_of) == (2020, datetime.date(2020, 12, 31))


# --- targets -------------------------------------------------------------------------------------

async def test_setting_a_target_changes_the_percent_and_the_history_keeps_both(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TargetDialog)
        assert "Chỉ tiêu đang áp dụng: 20" in screen_text(app)
        await pilot.press(*"3x")
        assert "Chỉ gõ chữ số" in screen_text(app)  # said at the field as it is typed
        await pilot.press("enter")
        assert isinstance(app.screen, TargetDialog)  # nothing saved
        app.screen.query_one("#in-value", Input).value = ""
        await pilot.press(*"30", "tab", *"Nghị quyết Đảng ủy tháng 9")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert "Đã đặt chỉ tiêu năm 2021: 30." in screen_text(app)
        assert panel(screen, "admitted").startswith("15 / 30 · 50,0% chỉ tiêu")
        unit_id = screen.unit.id
        assert progress.target_for(unit_id, 2021) == 30
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, TargetHistory)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        newest = [cell.plain.strip() for cell in table.get_row_at(0)]
        assert newest[0] == "●" and newest[2] == "30" and newest[-1].startswith("Nghị quyết")
        assert "Nghị quyết Đảng ủy tháng 9" in screen_text(app)  # the whole note, below the table
        assert [c.plain.strip() for c in table.get_row_at(1)][:3] == ["", "Năm 2021", "20"]
        await pilot.press("escape")
        assert app.screen is screen


async def test_a_secretary_cannot_set_a_target(make_app):
    app = make_app("demo_secretary")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, None)
        assert not any(b.show for b in screen._bindings.key_to_bindings["t"])  # not in the footer
        assert "chưa có chỉ tiêu" in panel(screen, "admitted")
        assert "t: đặt" not in panel(screen, "admitted")  # not offered to those who may not
        before = list(progress.targets(account_actor("demo_organiser"), TODAY, unit_id=screen.unit.id))
        await pilot.press("t")
        await settle(pilot)
        assert app.screen is screen
        assert "Chỉ cán bộ tổ chức và quản trị viên được đặt chỉ tiêu." in screen_text(app)
        after = list(progress.targets(account_actor("demo_organiser"), TODAY, unit_id=screen.unit.id))
        assert after == before


# --- the lists behind the numbers ----------------------------------------------------------------

async def test_overdue_and_a_funnel_stage_open_the_work_list(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        unit_id = screen.unit.id
        screen.query_one("#panel-overdue", Panel).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen) and app.screen.overdue_only
        assert app.screen.total == screen.stats.overdue
        await pilot.press("escape")
        funnel = screen.query_one("#progress-funnel", DataTable)
        funnel.focus()
        funnel.move_cursor(row=list(progress.FUNNEL).index("branch_approved"))
        await pilot.press("enter")
        await settle(pilot)
        listed = app.screen
        assert isinstance(listed, WorklistScreen)
        expected = [i for i in worklist.worklist(app.context.actor, unit_id, TODAY)
                    if i.stage == "branch_approved"]
        assert len(listed.items) == screen.stats.funnel["branch_approved"] == len(expected) == 4
        assert "Chi bộ đề nghị kết nạp" in screen_text(app)
        await pilot.press("escape")
        screen.query_one("#panel-expected", Panel).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert len(app.screen.items) == screen.stats.expected - screen.stats.admitted
        await pilot.press("escape")
        assert app.screen is screen


async def open_behind(pilot, screen, key: str) -> BehindScreen:
    """Enter on the panel `key` of the progress screen: the list behind its number."""
    target = screen.query_one(f"#panel-{key}", Panel)
    assert target.can_focus and target.border_title.endswith(" ↵")  # marked as opening a list
    target.focus()
    await pilot.press("enter")
    await settle(pilot)
    listed = pilot.app.screen
    assert isinstance(listed, BehindScreen) and listed.kind == key
    return listed


async def test_admitted_opens_the_years_admissions_and_a_row_its_file(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        assert screen.focused is screen.query_one("#panel-admitted", Panel)  # the first panel
        listed = await open_behind(pilot, screen, "admitted")
        expected = progress.admitted_list(app.context.actor, screen.unit.id, 2021, TODAY)
        assert len(listed.keys) == len(expected) == screen.stats.admitted == 15
        assert listed.rows == expected[:len(listed.rows)]  # the first page, its names read
        text = screen_text(app)
        assert "Đã kết nạp năm 2021 · Đảng bộ thị trấn Nà Phặc" in text
        assert "15 người được kết nạp, tính đến 30/09/2021" in text
        table = listed.query_one(PagedTable)
        assert table.row_count == 15
        first = table.get_row_at(0)
        assert first[0].plain == expected[0].full_name
        assert first[2].plain == expected[0].date.strftime("%d/%m/%Y")
        assert first[3].plain == expected[0].what  # the decision's number
        table.move_cursor(row=2)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == expected[2].case_id
        await pilot.press("escape")
        assert app.screen is listed
        await pilot.press("escape")
        assert app.screen is screen


async def test_the_unit_tree_is_let_go_when_the_progress_screen_closes(make_app):
    """A province's tree with what was worked out on it is tens of megabytes: kept while the
    figures and their lists are open, let go on leaving, and read again the next time."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        kept = progress.Tree.current()
        await open_behind(pilot, screen, "admitted")
        assert progress.Tree.current() is kept  # the list reads the tree the figures used
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and progress.Tree.current() is kept
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert progress.Tree._kept is None
        again = await open_progress(pilot, "NS-NP")
        assert panel(again, "admitted").startswith("15 / 20")  # the same figures, read again
        assert progress.Tree.current() is not kept


async def test_members_and_sent_to_class_open_their_lists(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        listed = await open_behind(pilot, screen, "members")
        assert screen.stats.members == 635
        probationary = screen.stats.members_probationary
        assert (f"635 đảng viên ngày 30/09/2021: {635 - probationary} chính thức, "
                f"{probationary} dự bị" in screen_text(app))
        table = listed.query_one(PagedTable)
        assert 0 < table.row_count < 635  # a page at a time
        statuses = {table.get_row_at(i)[3].plain for i in range(table.row_count)}
        assert statuses <= {"Chính thức", "Dự bị"}  # the codes in words
        await pilot.press("pagedown")
        await settle(pilot)
        assert listed.first == table.row_count
        assert table.get_row_at(0)[0].plain == listed.page.rows[0].full_name
        await pilot.press("escape")
        assert app.screen is screen
        listed = await open_behind(pilot, screen, "sent")
        assert len(listed.keys) == screen.stats.sent_to_class == 23
        assert "23 người được cử đi học" in screen_text(app)
        assert listed.query_one(PagedTable).get_row_at(0)[3].plain == "khóa 1 năm 2021"
        await pilot.press("escape")
        assert app.screen is screen


async def test_the_members_list_is_read_a_page_at_a_time(make_app):
    """The members behind the figure come a page at a time, in name order: PageDown shows the
    next rows of members_list, the down arrow on the last row the page after, PageUp goes back;
    Enter opens the file of a member on a later page."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        listed = await open_behind(pilot, screen, "members")
        whole = progress.members_list(app.context.actor, screen.unit.id, TODAY)
        table = listed.query_one(PagedTable)
        size = table.row_count
        assert 10 < size < len(whole) == 635  # what fits at 80x24

        def names() -> list[str]:
            return [table.get_row_at(i)[0].plain for i in range(table.row_count)]

        assert names() == [b.full_name for b in whole[:size]]
        assert f"dòng 1–{size}/635" in screen_text(app)
        await pilot.press("pagedown")
        await settle(pilot)
        assert names() == [b.full_name for b in whole[size:2 * size]]
        assert f"dòng {size + 1}–{2 * size}/635" in screen_text(app)
        assert [table.get_row_at(i)[3].plain for i in range(size)] == [
            "Chính thức" if b.what == "official" else "Dự bị" for b in whole[size:2 * size]]
        table.move_cursor(row=size - 1)
        await pilot.press("down")
        await settle(pilot)
        assert names() == [b.full_name for b in whole[2 * size:3 * size]]
        assert table.cursor_row == 0
        await pilot.press("pageup", "pageup")
        await settle(pilot)
        assert names() == [b.full_name for b in whole[:size]]
        assert f"dòng 1–{size}/635" in screen_text(app)
        await pilot.press("pagedown")
        await settle(pilot)
        row = next(i for i in range(size) if whole[size + i].case_id is not None)
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == whole[size + row].case_id


async def test_a_count_made_useless_by_the_next_key_is_stopped(make_app, monkeypatch):
    """On a province a count of the members named as typed runs for a second: the next key
    typed, and leaving the list, stop the count still running instead of leaving it to the
    server (a count here never ends by itself, so only a stop ends it)."""
    import asyncio
    import threading

    from db import connection, models

    calls: list[dict] = []

    def endless_count(actor, unit_id, as_of, name_filter=None):
        call = {"filter": name_filter, "began": threading.Event(), "ended": threading.Event()}
        calls.append(call)
        try:
            models.database.connection().create_function("began", 0, lambda: call["began"].set() or 1)
            models.database.execute_sql(
                "WITH RECURSIVE c(x) AS (SELECT began() UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
        except Exception as exc:
            call["error"] = exc
            raise
        finally:
            call["ended"].set()
        return (0, 0)

    monkeypatch.setattr(progress, "members_count", endless_count)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        listed = await open_behind(pilot, screen, "members")
        await pilot.press("slash", "h")
        assert await asyncio.to_thread(lambda: len(calls) == 1 and calls[0]["began"].wait(30))
        await pilot.press("o")
        assert await asyncio.to_thread(calls[0]["ended"].wait, 30)  # stopped by the next key
        assert isinstance(calls[0]["error"], Exception)
        assert await asyncio.to_thread(lambda: len(calls) == 2 and calls[1]["began"].wait(30))
        assert calls[1]["filter"] == "ho"
        assert listed.counts is None  # "counting", not a number of the stopped count
        await pilot.press("escape", "escape", "escape")
        assert await asyncio.to_thread(calls[1]["ended"].wait, 30)  # the list left: stopped
        await settle(pilot)
        assert app.screen is not listed


async def test_the_members_count_line_keeps_the_rows_shown_at_80_columns(make_app):
    """The province's members: at 80 columns the count line cannot hold both the official/
    probationary split and which rows are shown; the rows shown stay (the split is on the
    panel), and a wider terminal shows both."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, None)  # the province, shown first
        members = screen.stats.members
        listed = await open_behind(pilot, screen, "members")
        size = listed.query_one(PagedTable).row_count
        await pilot.press("pagedown")
        await settle(pilot)
        total = f"{members:,}".replace(",", ".")
        line = screen_text(app).splitlines()[1]
        assert f"{total} đảng viên ngày 30/09/2021 · dòng {size + 1}–{2 * size}/{total}" in line
        await pilot.resize_terminal(120, 24)
        await settle(pilot)
        line = screen_text(app).splitlines()[1]
        assert "chính thức" in line and f"dòng {size + 1}–{2 * size}/{total}" in line


async def test_a_member_without_a_file_says_so(make_app):
    app = make_app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        listed = await open_behind(pilot, screen, "members")
        text = screen_text(app)
        assert "Members · Đảng bộ thị trấn Nà Phặc" in text and "635 members on 30/09/2021" in text
        table = listed.query_one(PagedTable)
        row = next(i for i in range(table.row_count) if listed.page.rows[i].case_id is None)
        table.move_cursor(row=row)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is listed
        assert any("no admission file here" in str(n.message) for n in app._notifications)


async def test_the_term_line_opens_the_terms_admissions(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        term = screen.stats.term
        line = screen.query_one("#progress-term", TermLine)
        assert "Nhiệm kỳ 2020–2025: kết nạp 23" in screen_text(app) and str(line.render()).endswith(" ↵")
        for _ in range(6):  # past the six panels, with the keyboard
            await pilot.press("tab")
        assert screen.focused is line
        await pilot.press("enter")
        await settle(pilot)
        listed = app.screen
        assert isinstance(listed, BehindScreen) and listed.kind == "admitted"
        # counted from the raw rows: decisions term start..today whose voting branch was in
        # Nà Phặc on the day, and the term line's own figure (stats, another path)
        raw = fig.admitted(screen.unit.id, term.start, TODAY)
        assert len(listed.keys) == raw == term.admitted == 23
        assert all(term.start <= day <= TODAY for _person, _case, day in listed.keys)
        assert len(listed.keys) > screen.stats.admitted  # more than the year's
        text = screen_text(app)
        assert "Đã kết nạp trong nhiệm kỳ 2020–2025 · Đảng bộ thị trấn Nà Phặc" in text
        assert "23 người được kết nạp từ 01/07/2020 đến 30/09/2021" in text
        await pilot.press("escape")
        assert app.screen is screen and screen.focused is line


async def test_the_chart_marker_moves_and_opens_a_months_admissions(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        chart = screen.query_one("#progress-chart", MonthChart)
        assert screen.focused is screen.query_one("#panel-admitted", Panel)
        await pilot.press("shift+tab")  # from the first panel back round to the chart, the last part
        assert screen.focused is chart
        cumulative = screen.cumulative
        assert cumulative == [0, 2, 5, 7, 8, 11, 13, 15, 15]
        assert chart.month == 8  # the as-of month, September
        text = screen_text(app)
        assert "▲ Tháng 9: 0 kết nạp, cộng dồn 15 · ← → tháng, Enter: danh sách" in text
        for _ in range(6):
            await pilot.press("left")
        assert chart.month == 2
        lines = screen_text(app).splitlines()
        months = next(line for line in lines if line.lstrip().startswith("Tháng   1"))
        under = lines[lines.index(months) + 2]  # the figures' line, then the ▲
        assert under.strip() == "▲" and months[under.index("▲")] == "3"  # not by colour alone
        in_march = cumulative[2] - cumulative[1]
        assert f"▲ Tháng 3: {in_march} kết nạp, cộng dồn {cumulative[2]}" in "\n".join(lines)
        await pilot.press("enter")
        await settle(pilot)
        listed = app.screen
        assert isinstance(listed, BehindScreen) and listed.kind == "admitted"
        march = (datetime.date(2021, 3, 1), datetime.date(2021, 3, 31))
        assert len(listed.keys) == in_march == fig.admitted(screen.unit.id, *march) == 3
        assert all(march[0] <= day <= march[1] for _person, _case, day in listed.keys)
        text = screen_text(app)
        assert "Đã kết nạp tháng 3/2021 · Đảng bộ thị trấn Nà Phặc" in text
        assert "3 người được kết nạp từ 01/03/2021 đến 31/03/2021" in text
        await pilot.press("escape")
        assert app.screen is screen and screen.focused is chart and chart.month == 2
        await pilot.press("home")
        assert chart.month == 0
        await pilot.press("left")
        assert chart.month == 0  # no month before January
        await pilot.press("end")
        assert chart.month == 8
        await pilot.press("right")
        assert chart.month == 8  # nor after the as-of month
        await pilot.press("left", "enter")  # August: the files behind its bar
        await settle(pilot)
        assert len(app.screen.keys) == cumulative[7] - cumulative[6] == 2
        await pilot.press("escape")
        # the keys are in the help, under the chart's own heading
        assert [row[:2] for row in help_rows([chart])] == [("←, →", "Tháng trước/sau"),
                                                           ("Home, End", "Tháng đầu/cuối")]
        # another year: twelve months, the marker on December, the keys gone once it loses focus
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert screen.year == 2020 and len(screen.cumulative) == 12 and chart.month == 11
        await pilot.press("tab")
        assert "← → tháng" not in str(chart.render())


async def test_the_chart_and_the_term_line_in_english(make_app):
    app = make_app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        chart = screen.query_one("#progress-chart", MonthChart)
        chart.focus()
        await pilot.press("home", "right")
        assert "▲ Month 2: 2 admitted, 2 since 1 January · ← → month, Enter: the list" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "Admitted in 2/2021 · Đảng bộ thị trấn Nà Phặc" in text
        assert "2 admitted from 01/02/2021 to 28/02/2021" in text
        await pilot.press("escape")
        screen.query_one(TermLine).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "Admitted in the 2020–2025 term · Đảng bộ thị trấn Nà Phặc" in screen_text(app)


async def test_help_lists_the_keys_and_english(make_app):
    app = make_app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot, "NS-NP")
        assert panel(screen, "expected").startswith("25 / 20 · 125.0% · above target")
        await pilot.press("f1")
        await pilot.pause()
        text = screen_text(app)
        for words in ("Progress against the target", "Year", "Date", "Target", "History", "Back"):
            assert words in text
        await pilot.press("escape")
        assert app.screen is screen


# --- the drawing ---------------------------------------------------------------------------------

def test_month_ends_and_the_chart():
    assert month_ends(2021, TODAY)[-2:] == [datetime.date(2021, 8, 31), TODAY]
    assert len(month_ends(2020, datetime.date(2020, 12, 31))) == 12
    chart = chart_text([0, 2, 5, 7, 8, 11, 13, 15, 15], 20, 78).plain.splitlines()
    assert len(chart) == 8 + 4
    assert all(len(line) <= 78 for line in chart)
    assert chart[-2].split()[1:] == ["0", "2", "5", "7", "8", "11", "13", "15", "15"]
    assert "█" in "".join(chart) and "─" in "".join(chart)


def test_the_chart_marker():
    cumulative = [0, 2, 5, 7, 8, 11, 13, 15, 15]
    chart = chart_text(cumulative, 20, 78, marker=2).plain.splitlines()
    assert len(chart) == 8 + 4 + 2
    months, marker, words = chart[9], chart[11], chart[12]
    assert marker.strip() == "▲" and months[marker.index("▲")] == "3"
    assert words == "▲ Tháng 3: 3 kết nạp, cộng dồn 5"
    assert chart_text(cumulative, 20, 78, marker=9).plain == chart_text(cumulative, 20, 78).plain
    assert chart_text(cumulative, 20, 78, marker=8, keys=True).plain.splitlines()[12].endswith(
        " · ← → tháng, Enter: danh sách")
