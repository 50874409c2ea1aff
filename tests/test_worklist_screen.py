"""The work list screen on the demo, a year after its "today": overdue files first, paged,
each one key from its file."""

from __future__ import annotations

import datetime

from db import worklist
from db.units import find_unit
from screens.case import CaseScreen
from screens.worklist import WorklistScreen
from tests.ui_helpers import open_unit, screen_text, settle
from tui.app import KetnapApp
from tui.context import AppContext
from tui.widgets import PagedTable

LATER = datetime.date(2022, 6, 30)
SIZE = (80, 24)


def _app(demo_db, demo_admin, lang="vi") -> KetnapApp:
    return KetnapApp(AppContext(location=demo_db, actor=demo_admin, today=LATER, lang=lang),
                     theme="textual-dark")


async def test_w_opens_the_units_work_list_overdue_first_and_pages(demo_db, demo_admin):
    town = find_unit(demo_admin, "NS-NP", LATER)
    expected = worklist.worklist(demo_admin, town.id, LATER)
    late = [item for item in expected if item.overdue]
    assert late, "the demo a year on has overdue files"
    app = _app(demo_db, demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, town.id)
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)
        text = screen_text(app)
        assert f"{len(expected)} hồ sơ đang xét, {len(late)} quá hạn" in text
        table = app.screen.query_one(PagedTable)
        first = table.get_row_at(0)
        assert first[0].plain == expected[0].full_name
        assert first[3].plain.startswith("QUÁ HẠN")  # said in words, not by colour
        rows = table.row_count
        await pilot.press("pagedown")
        assert table.get_row_at(0)[0].plain == expected[rows].full_name
        await pilot.press("pageup")
        assert table.get_row_at(0)[0].plain == expected[0].full_name
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == expected[0].case_id
        await pilot.press("escape")
        await pilot.press("escape")
        assert not isinstance(app.screen, WorklistScreen)


async def test_work_list_in_english(demo_db, demo_admin):
    town = find_unit(demo_admin, "NS-NP", LATER)
    app = _app(demo_db, demo_admin, lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, town.id)
        await pilot.press("w")
        await settle(pilot)
        text = screen_text(app)
        assert "open files" in text and "OVERDUE by" in text and "Work list" in text
