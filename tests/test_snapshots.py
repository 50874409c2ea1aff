"""Snapshots of the screens (pytest-textual-snapshot) on the small sample database.

Nothing depends on the clock or the terminal: "today" is fixed by the sample, the theme is named
and NO_COLOR is cleared. After a deliberate change to a screen, look at the new pictures and
accept them with `pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest

from tests.snapshot_app import build_sample, sample_context
from tests.ui_helpers import open_unit, settle
from tui import i18n
from tui.app import KetnapApp
from tui.widgets import PagedTable


@pytest.fixture
def sample_app(empty_db, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    sample = build_sample()

    def make(lang: str = "vi") -> KetnapApp:
        return KetnapApp(sample_context(empty_db, lang=lang), theme="textual-dark")

    yield sample, make
    i18n.set_language("vi")


def _open(unit_id: int, *keys: str):
    """A run_before that opens a unit from the tree, then presses `keys`."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await open_unit(pilot, unit_id)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def _open_mai(sample, *keys: str):
    async def run_before(pilot) -> None:
        await _open(sample.big_branch, "l")(pilot)
        table = pilot.app.screen.query_one(PagedTable)
        names = [table.get_row_at(i)[1].plain for i in range(table.row_count)]
        table.move_cursor(row=names.index("Hoàng Thị Mai"))
        await pilot.press("enter")
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()

    return run_before


def test_main_screen_80x24(snap_compare, sample_app):
    sample, make = sample_app
    assert snap_compare(make(), terminal_size=(80, 24), run_before=_open(sample.town))


def test_main_screen_120x40(snap_compare, sample_app):
    sample, make = sample_app
    assert snap_compare(make(), terminal_size=(120, 40),
                        run_before=_open(sample.town))


def test_case_view_80x24(snap_compare, sample_app):
    sample, make = sample_app
    assert snap_compare(make(), terminal_size=(80, 24), run_before=_open_mai(sample))


def test_case_view_steps_80x24(snap_compare, sample_app):
    sample, make = sample_app
    assert snap_compare(make(), terminal_size=(80, 24), run_before=_open_mai(sample, "2"))


def test_main_screen_branch_100x30_page_two(snap_compare, sample_app):
    sample, make = sample_app
    assert snap_compare(make(), terminal_size=(100, 30),
                        run_before=_open(sample.big_branch, "pagedown"))


def test_help_80x24_english(snap_compare, sample_app):
    sample, make = sample_app
    assert snap_compare(make("en"), terminal_size=(80, 24), run_before=_open(sample.town, "f1"))


@pytest.fixture
def fixed_clock(monkeypatch):
    """Audit entries and accounts stamped at a fixed time, shown in UTC."""
    import datetime
    import time

    from db import models

    at = datetime.datetime(2021, 9, 30, 8, 15)
    monkeypatch.setattr(models, "_now", lambda: at)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield at
    monkeypatch.undo()
    time.tzset()


def test_audit_file_history_80x24(snap_compare, sample_app, fixed_clock):
    from db import pipeline
    from db.access import account_actor

    sample, make = sample_app
    actor = account_actor("tester")
    pipeline.add_note(actor, sample.mai_case, "Gia đình đã [bold]đồng ý[/bold]", today=fixed_clock.date())
    pipeline.hold(actor, sample.mai_case, "Chờ thẩm tra bổ sung", today=fixed_clock.date())
    pipeline.release(actor, sample.mai_case, today=fixed_clock.date())
    assert snap_compare(make(), terminal_size=(80, 24), run_before=_open_mai(sample, "y"))


def test_accounts_80x24(snap_compare, sample_app, fixed_clock):
    from db import accounts, models
    from db.access import account_actor

    sample, make = sample_app
    actor = account_actor("tester")
    accounts.add(actor, "to_chuc", "organiser", sample.district, full_name="Triệu Văn Khánh")
    accounts.add(actor, "bithu.np", "secretary", sample.big_branch, full_name="Hoàng Thị Thu Trang")
    accounts.add(actor, "xem", "viewer", sample.town, full_name="Ma Thị Quỳnh")
    accounts.set_disabled(actor, "xem")
    models.Account.update(created_at=fixed_clock).execute()

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("U")
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)

    assert snap_compare(make(), terminal_size=(80, 24), run_before=run_before)


def _sample_classes(sample):
    """A plan and three classes of the sample's district; the markup-named candidate enrolled in
    the running one."""
    import datetime

    from db import classes
    from db.access import account_actor

    actor = account_actor("tester")
    D, today = datetime.date, datetime.date(2021, 9, 30)
    classes.set_plan(actor, sample.district, 2021, "awareness", 3, 90, today)
    done = classes.new_class(actor, kind="awareness", name="Lớp bồi dưỡng nhận thức về Đảng, khóa 1 năm 2021",
                             unit_id=sample.district, planned_start=D(2021, 3, 15), start=D(2021, 3, 15),
                             end=D(2021, 3, 19), place="Trung tâm Chính trị", capacity=40, today=today)
    classes.update_class(actor, done, today, status="finished")
    running = classes.new_class(actor, kind="awareness",
                                name="Lớp bồi dưỡng nhận thức về Đảng, khóa 2 năm 2021",
                                unit_id=sample.district, planned_start=D(2021, 9, 27),
                                start=D(2021, 9, 27), end=D(2021, 10, 1), capacity=30, today=today)
    classes.new_class(actor, kind="new_member", name="Lớp bồi dưỡng lý luận chính trị cho đảng viên mới, khóa 1 năm 2021",
                      unit_id=sample.district, planned_start=D(2021, 11, 15), capacity=50, today=today)
    classes.enrol(actor, running, [sample.markup_case], today)
    return running


def test_class_list_80x24(snap_compare, sample_app):
    sample, make = sample_app
    _sample_classes(sample)
    assert snap_compare(make(), terminal_size=(80, 24), run_before=_open(sample.district, "k"))


def test_class_results_grid_80x24(snap_compare, sample_app):
    sample, make = sample_app
    running = _sample_classes(sample)

    async def run_before(pilot) -> None:
        from screens.classes import ClassScreen

        await settle(pilot)
        pilot.app.push_screen(ClassScreen(pilot.app.context, running))
        await settle(pilot)
        for key in ("r", "p"):
            await pilot.press(key)
            await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press(*"0201/GCN", "enter")
        await settle(pilot)

    assert snap_compare(make(), terminal_size=(80, 24), run_before=run_before)


def test_progress_na_phac_80x24(snap_compare, demo_db, monkeypatch):
    """The progress screen of Nà Phặc on the demo (the article's figures: 15/20, 25/20, 23)."""
    import datetime

    from db.access import account_actor
    from db.units import find_unit
    from tui.context import AppContext

    monkeypatch.delenv("NO_COLOR", raising=False)
    today = datetime.date(2021, 9, 30)
    actor = account_actor("demo_organiser")
    town = find_unit(actor, "NS-NP", today)
    app = KetnapApp(AppContext(location=demo_db, actor=actor, today=today, lang="vi"),
                    theme="textual-dark")
    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=_open(town.id, "p"))
    finally:
        i18n.set_language("vi")


def test_reorganise_history_80x24(snap_compare, demo_db, monkeypatch):
    """The organisational history of Nà Phặc's first branch on the demo (it received a dissolved
    branch in 2018), with the keys of the six changes."""
    import datetime

    from db.access import account_actor
    from db.units import find_unit
    from tui.context import AppContext

    monkeypatch.delenv("NO_COLOR", raising=False)
    today = datetime.date(2021, 9, 30)
    actor = account_actor("demo_organiser")
    branch = find_unit(actor, "NS-NP-01", today)
    app = KetnapApp(AppContext(location=demo_db, actor=actor, today=today, lang="vi"),
                    theme="textual-dark")

    async def run_before(pilot) -> None:
        await _open(branch.id)(pilot)
        pilot.app.screen.query_one("#units").focus()
        await pilot.press("o")
        await settle(pilot)

    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
    finally:
        i18n.set_language("vi")


def test_command_palette_80x24(snap_compare, sample_app):
    sample, make = sample_app
    assert snap_compare(make(), terminal_size=(80, 24),
                        run_before=_open(sample.town, "ctrl+p", *"na phac"))


def test_search_80x24(snap_compare, sample_app):
    """Ctrl+F from the main screen, a name typed without diacritics: numbered results."""
    sample, make = sample_app

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)
        await pilot.press(*"hoang")
        await settle(pilot)

    assert snap_compare(make(), terminal_size=(80, 24), run_before=run_before)
