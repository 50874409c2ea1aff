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
