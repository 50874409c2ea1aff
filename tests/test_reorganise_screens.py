"""Reorganising units from the screens (screens/reorganise.py), driven with the keyboard on a
copy of the demo: a merge of two Nà Phặc branches with its preview, a split with people sent to
the second unit, refusals shown at their field with nothing written, the history, and the
accounts that may only look."""

from __future__ import annotations

import datetime
import json

import pytest
from textual.widgets import Input, Static

from db import models, reorganise
from db.access import account_actor
from screens.help import HelpScreen
from screens.main import MainScreen
from screens.reorganise import ChangeForm, PreviewScreen, ReorganiseScreen, SplitForm
from tests.test_screens import content_text
from tests.ui_helpers import open_unit, screen_text, settle, tree_nodes
from tui import i18n
from tui.app import KetnapApp
from tui.context import AppContext
from tui.widgets import UnitTree

SIZE = (80, 24)
NEW_NAME = "Chi bộ Tổ dân phố Nà Phặc – Bản Duồm"


def unit(code: str) -> models.Unit:
    return models.Unit.get(models.Unit.code == code)


def written() -> tuple[int, int, int]:
    """What a change writes: changes, audit entries, units."""
    return (models.UnitChange.select().count(), models.AuditEntry.select().count(),
            models.Unit.select().count())


async def open_reorganise(pilot, code: str) -> ReorganiseScreen:
    await settle(pilot)
    await open_unit(pilot, unit(code).id)
    pilot.app.screen.query_one(UnitTree).focus()
    await pilot.press("o")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReorganiseScreen)
    assert screen.unit.code == code
    return screen


async def fill(pilot, **values: str) -> ChangeForm:
    form = pilot.app.screen
    assert isinstance(form, ChangeForm)
    for name, value in values.items():
        form._field(name).input.value = value
    await pilot.pause()
    return form


async def to_preview(pilot) -> PreviewScreen:
    await pilot.press("ctrl+s")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PreviewScreen), screen_text(pilot.app)
    return screen


def preview_text(screen: PreviewScreen) -> str:
    return "\n".join(content_text(w) for w in screen.query(Static))


def last_audit_moved() -> list[dict]:
    entry = models.AuditEntry.select().order_by(models.AuditEntry.id.desc()).first()
    assert entry.action.startswith("unit_")
    return json.loads(entry.after)["moved"]


def tree_codes(app) -> set[str]:
    return {node.data.code for node in tree_nodes(app)}


MERGE = dict(decision="45-QĐ/ĐU", decided="20/09/2021", effective="01/10/2021",
             others="NS-NP-02", code="NS-NP-40", name=NEW_NAME)


async def test_merging_two_na_phac_branches_previews_then_saves(make_demo_app):
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_reorganise(pilot, "NS-NP-01")
        await pilot.press("m")
        await settle(pilot)
        form = await fill(pilot, **MERGE)
        before = written()
        preview = await to_preview(pilot)
        text = preview_text(preview)
        # after today: recorded now, in effect on its day
        assert "01/10/2021 (sau hôm nay)" in text
        assert not preview.outcome.applied
        moved = [m.__dict__ for m in preview.outcome.moved]
        assert [(m["source"], m["target"]) for m in moved] == [("NS-NP-01", "NS-NP-40"),
                                                               ("NS-NP-02", "NS-NP-40")]
        assert all(m["people"] > 0 for m in moved)
        assert written() == before  # the preview wrote nothing
        # Escape: back to the form, nothing typed lost
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is form and form._field("code").input.value == "NS-NP-40"
        preview = await to_preview(pilot)
        assert [m.__dict__ for m in preview.outcome.moved] == moved
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReorganiseScreen)
        # what was saved is what the preview said
        assert last_audit_moved() == moved
        change = models.UnitChange.select().order_by(models.UnitChange.id.desc()).first()
        assert (change.kind, change.decision, change.applied) == ("merge", "45-QĐ/ĐU", False)
        assert "có hiệu lực từ 01/10/2021" in content_text(screen.query_one("#reorg-message", Static))
        # the history: the merge first, not yet in effect
        assert screen.rows[0].kind == "merge" and screen.rows[0].became == ("NS-NP-40",)
        assert "chưa có hiệu lực" in content_text(screen.query_one("#reorg-detail", Static))
        await pilot.press("escape")
        await settle(pilot)
        # the tree as of today: still the two branches, not yet the new one
        assert isinstance(app.screen, MainScreen)
        codes = tree_codes(app)
        assert {"NS-NP-01", "NS-NP-02"} <= codes and "NS-NP-40" not in codes
        assert app.screen.unit.code == "NS-NP-01"


async def test_a_merge_in_effect_shows_in_the_tree(demo_db):
    """On a later today the merge is in effect at once: the tree shows the new branch, listed."""
    today = datetime.date(2021, 10, 5)
    app = KetnapApp(AppContext(location=demo_db, actor=account_actor("demo_organiser"), today=today,
                               lang="vi"), theme="textual-dark")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_reorganise(pilot, "NS-NP-01")
            await pilot.press("m")
            await settle(pilot)
            await fill(pilot, **dict(MERGE, decided="30/09/2021"))
            preview = await to_preview(pilot)
            assert "Có hiệu lực ngay" in preview_text(preview)
            people = sum(m.people for m in preview.outcome.moved)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, ReorganiseScreen)
            assert app.screen.unit.ended == datetime.date(2021, 10, 1)
            await pilot.press("escape")
            await settle(pilot)
            main = app.screen
            codes = tree_codes(app)
            assert "NS-NP-40" in codes and not {"NS-NP-01", "NS-NP-02"} & codes
            assert main.unit.code == "NS-NP-40" and main.count == people
            assert main.query_one(UnitTree).cursor_node.data.code == "NS-NP-40"
    finally:
        i18n.set_language("vi")


async def test_a_refusal_shows_at_its_field_and_nothing_is_written(make_demo_app):
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_reorganise(pilot, "NS-NP-01")
        await pilot.press("m")
        await settle(pilot)
        form = await fill(pilot, **dict(MERGE, decided="", effective="02/10/2021"))
        # typed with the keyboard: the decision date, after today
        form._field("decided").input.focus()
        await pilot.press(*"01/10/2021")
        before = written()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        decided = form._field("decided")
        assert "sau hôm nay (30/09/2021)" in decided._error
        assert app.focused is decided.input
        assert written() == before
        # a code already used: said at the new unit's code
        form._field("decided").input.value = "20/09/2021"
        form._field("code").input.value = "NS-NP-02"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "NS-NP-02" in form._field("code")._error and "đã có" in form._field("code")._error
        assert app.focused is form._field("code").input
        # a unit nobody has: said at the field that named it
        form._field("code").input.value = "NS-NP-40"
        form._field("others").input.value = "khong co don vi nay"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Không có đơn vị nào khớp" in form._field("others")._error
        assert written() == before


@pytest.mark.parametrize("login", ["demo_viewer", "demo_secretary"])
async def test_viewers_and_secretaries_see_the_history_but_cannot_change(make_demo_app, login):
    app = make_demo_app(login)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reorganise(pilot, "NS-NP-07")
        before = written()
        for key in ("n", "r", "m", "s", "d", "t"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen
        assert "Chỉ cán bộ tổ chức và quản trị viên" in content_text(
            screen.query_one("#reorg-message", Static))
        assert "m Sáp nhập" not in content_text(screen.query_one("#reorg-actions", Static))
        assert written() == before
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        help_text = content_text(app.screen.query_one("#help-body", Static))
        assert "sáp nhập đơn vị này với các đơn vị khác" not in help_text


async def test_organisers_find_the_keys_in_the_help(make_demo_app):
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert "lịch sử tổ chức của đơn vị" in content_text(app.screen.query_one("#help-body", Static))
        await pilot.press("escape")
        await open_reorganise(pilot, "NS-NP-07")
        await pilot.press("f1")
        await settle(pilot)
        assert "sáp nhập đơn vị này với các đơn vị khác" in content_text(
            app.screen.query_one("#help-body", Static))


async def test_the_history_after_a_rename(make_demo_app):
    app = make_demo_app("demo_organiser", "en")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reorganise(pilot, "NS-NP-03")
        assert screen.rows == []
        assert "no change recorded yet" in content_text(screen.query_one("#reorg-info", Static))
        await pilot.press("r")
        await settle(pilot)
        await fill(pilot, decision="12-QĐ/ĐU", decided="28/09/2021", effective="01/10/2021",
                   new_name="Chi bộ Tổ dân phố Pác Cáp [mới]")
        preview = await to_preview(pilot)
        assert "“Chi bộ Tổ dân phố Pác Cáp [mới]”" in preview_text(preview)
        assert "Takes effect on 01/10/2021" in preview_text(preview)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert [(r.kind, r.new_name) for r in screen.rows] == [("rename", "Chi bộ Tổ dân phố Pác Cáp [mới]")]
        text = screen_text(app)
        assert "01/10/2021 Rename" in text and "12-QĐ/ĐU" in text
        assert "not yet in effect" in content_text(screen.query_one("#reorg-detail", Static))
        assert [h.kind for h in reorganise.history(unit("NS-NP-03").id)] == ["rename"]


async def test_a_split_sends_the_people_chosen_to_the_second_unit(make_demo_app):
    source = unit("NS-NP-05")
    day = datetime.date(2021, 10, 1)
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_reorganise(pilot, "NS-NP-05")
        await pilot.press("s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, SplitForm)
        assert {p.id for p in form.people} == reorganise._people_of(source.id, day)
        await fill(pilot, decision="46-QĐ/ĐU", decided="20/09/2021", effective="01/10/2021",
                   code1="NS-NP-41", name1="Chi bộ Tổ dân phố Nà Cháo 1",
                   code2="NS-NP-42", name2="Chi bộ Tổ dân phố Nà Cháo 2")
        await settle(pilot)
        table = form.query_one("#split-people")
        table.focus()
        chosen = [p.id for p in form.people[:3]]
        await pilot.press("2", "down", "space", "space", "down", "2")
        assert form.dest == {pid: 1 for pid in chosen}
        assert "2: 3" in content_text(form.query_one("#split-count", Static))
        preview = await to_preview(pilot)
        people = {}
        for m in preview.outcome.moved:  # (db.reorganise.split adds a row for files left over)
            people[(m.source, m.target)] = people.get((m.source, m.target), 0) + m.people
        assert people == {("NS-NP-05", "NS-NP-42"): 3, ("NS-NP-05", "NS-NP-41"): len(form.people) - 3}
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReorganiseScreen)
    assert reorganise._people_of(unit("NS-NP-42").id, day) == set(chosen)
    assert len(reorganise._people_of(unit("NS-NP-41").id, day)) == len(form.people) - 3


async def test_a_split_with_nobody_for_an_empty_third_unit_asks_for_it(make_demo_app):
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_reorganise(pilot, "NS-NP-05")
        await pilot.press("s")
        await settle(pilot)
        form = app.screen
        await fill(pilot, decision="46-QĐ/ĐU", decided="20/09/2021", effective="01/10/2021",
                   code1="NS-NP-41", name1="Một", code2="NS-NP-42", name2="Hai")
        await settle(pilot)
        form.query_one("#split-people").focus()
        await pilot.press("3")
        before = written()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "đơn vị mới 3" in form._field("code3")._error
        assert written() == before
        assert isinstance(app.focused, Input)
