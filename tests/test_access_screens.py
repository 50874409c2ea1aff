"""The application as a branch secretary and as a district organiser see it: the tree, the
people list and the work list stop at the account's scope."""

from __future__ import annotations

import datetime

from db import models
from db.access import account_actor
from screens.worklist import WorklistScreen
from tests.ui_helpers import screen_text, settle, tree_nodes
from tui.app import KetnapApp
from tui.context import AppContext
from tui.widgets import PagedTable, UnitTree

TODAY = datetime.date(2021, 9, 30)
OWN = "NS-NP-07"


def tree_units(app) -> set[str]:
    return {node.data.code for node in tree_nodes(app)}


async def test_the_secretary_sees_one_branch_the_organiser_the_district(demo_db):
    own = models.Unit.get(models.Unit.code == OWN)
    own_people = {p.full_name for p in models.Person.select().where(models.Person.branch == own.id)}
    for name, expected in (("demo_secretary", {OWN}), ("demo_organiser", None)):
        actor = account_actor(name)
        app = KetnapApp(AppContext(location=demo_db, actor=actor, today=TODAY, lang="vi"),
                        theme="textual-dark")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            units = tree_units(app)
            if expected is not None:
                assert units == expected
                table = app.screen.query_one(PagedTable)
                shown = {table.get_row_at(i)[1].plain for i in range(table.row_count)}
                assert shown and shown <= own_people
                await pilot.press("w")
                await settle(pilot)
                assert isinstance(app.screen, WorklistScreen)
                assert own.name in screen_text(app) or app.screen.query_one(PagedTable).row_count == 0
            else:
                assert "NS" in units and len(units) > 50  # the whole district, every branch
