"""The pieces of `make bench` that are not timing: the tour of every screen the memory figure is
measured after, on the demo, and the one table that says which aims are met. Nothing is timed."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from tests import bench_all
from tests.bench_screens import ScreenNotShown, visit_every_screen
from tests.bench_table import NONE, Figure, format_table, under, within


def _tour(location: str, actor, on_shown=None) -> list[str]:
    from db import connection
    from tests.bench_terminal import _settle
    from tui.app import KetnapApp
    from tui.context import AppContext

    today = datetime.date.fromisoformat(connection.get_setting("today"))

    async def run() -> list[str]:
        app = KetnapApp(AppContext(location, actor, today, "vi"))
        async with app.run_test(size=(80, 24)) as pilot:
            await _settle(pilot)
            return await visit_every_screen(pilot, on_shown=on_shown)

    return asyncio.run(run())


def test_an_administrator_visits_every_screen_with_its_data(demo_db):
    from db.access import account_actor

    told: list[str] = []
    visited = _tour(demo_db, account_actor("tester"), told.append)
    for screen in ("tree and people list", "work list", "classes", "a class", "progress panel",
                   "the people behind a number", "search (Ctrl+F)", "command palette (Ctrl+P)", "help (F1)",
                   "change history of a unit", "change history of a person", "accounts",
                   "reorganisation history of a unit", "meeting mode", "new candidate form", "a case file",
                   "change history of a case file"):
        assert screen in visited
    assert len(visited) == len(set(visited))
    assert told == visited  # the probe prints the peak memory as each screen is shown


def test_a_screen_that_does_not_open_stops_the_tour(demo_db):
    from db import models
    from db.access import Actor

    # an organiser of a commune: the accounts screen is for administrators only
    commune = models.Unit.select().where(models.Unit.level == "commune").order_by(models.Unit.id).first()
    with pytest.raises(ScreenNotShown, match="AccountsScreen"):
        _tour(demo_db, Actor(account_id=None, name="organiser", role="organiser", unit_id=commune.id))


def _row(table: list[str], name: str) -> str:
    return next(line for line in table if line.startswith(name))


def _cells(table: list[str], name: str) -> list[str]:
    return [cell.strip() for cell in _row(table, name).split("|")]


def test_the_table_marks_a_figure_over_its_aim():
    table = format_table([
        Figure("start-up", 0.9, 0.3, "empty Textual app", "s", within(1.5), "10,000"),
        Figure("peak memory", 50.0, 40.0, "empty Textual app", "MiB", within(2.0), "10,000"),
        Figure("search p95", 25.0, 0.5, "plain FTS5 prefix query", "ms", under(20), "1,000,000"),
        Figure("writes lost", 0, 0, "one session alone", "writes", NONE, "100,000"),
        Figure("check one step", 4.0, 0.1, "bare SQL", "ms", None, "demo"),
    ])
    assert table[0].split(" | ")[0].strip() == "figure"
    assert [cell.strip() for cell in table[0].split("|")] == [
        "figure", "people", "ketnap", "baseline", "baseline (unit)", "ratio", "aim", "met?"]
    assert _row(table, "start-up").endswith("NO") and "3.00" in _row(table, "start-up")
    assert _row(table, "peak memory").endswith("yes")
    assert _row(table, "search p95").endswith("NO") and "<20 ms" in _row(table, "search p95")
    assert _row(table, "writes lost").endswith("yes")
    assert _cells(table, "check one step")[-3:] == ["40.00", "", ""]  # no aim: nothing said


def test_sizes_are_read_from_the_command_line():
    assert bench_all._sizes("10000,100_000") == [10_000, 100_000]
    with pytest.raises(Exception, match="numbers"):
        bench_all._sizes("ten")
