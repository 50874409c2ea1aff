"""The guided 2025 reorganisation as a screen (screens/reorganise_2025.py), driven with the keyboard
on a copy of the demo as of 1/7/2025: the communes grouped as in fixtures/demo/plan-2025.toml,
a preview that says what reorganise_2025.preview says, Escape back with nothing lost, saving
after a copy of the database file, refusals at their field with nothing written, and the accounts
that may not use it."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from db import models, progress, reorganise, reorganise_2025
from db.access import account_actor
from db.reorganise import Decision
from screens.dialogs import ConfirmDialog
from screens.help import HelpScreen
from screens.main import MainScreen
from screens.reorganise import ReorganiseScreen
from screens.reorganise_2025 import (CommunesScreen, GuideScreen, NewCommuneForm,
                                     PlanPreviewScreen, UnitsTable)
from tests.test_screens import content_text
from tests.ui_helpers import open_unit, screen_text, settle, tree_nodes
from tui import i18n
from tui.app import KetnapApp
from tui.context import AppContext
from tui.widgets import UnitTree

SIZE = (80, 24)
TODAY = datetime.date(2025, 7, 1)
PLAN = Path(__file__).resolve().parent.parent / "fixtures" / "demo" / "plan-2025.toml"


@pytest.fixture
def make_app(demo_db):
    """The application on the demo copy, as one of its accounts, on 1/7/2025."""

    def make(login: str = "demo_admin", today: datetime.date = TODAY, lang: str = "vi") -> KetnapApp:
        return KetnapApp(AppContext(location=demo_db, actor=account_actor(login), today=today,
                                    lang=lang), theme="textual-dark")

    yield make
    i18n.set_language("vi")


def plan() -> reorganise_2025.Plan:
    return reorganise_2025.read_plan(PLAN.read_text(encoding="utf-8"))


def unit(code: str) -> models.Unit:
    return models.Unit.get(models.Unit.code == code)


def written() -> tuple[int, int, int]:
    """What a change writes: changes, audit entries, units."""
    return (models.UnitChange.select().count(), models.AuditEntry.select().count(),
            models.Unit.select().count())


def report_2021(actor) -> list[dict]:
    return [progress.stats_json(progress.stats(actor, unit(code).id, 2021, datetime.date(2021, 9, 30)))
            for code in ("NS", "NS-NP", "NS-TQ")]


async def open_guide(pilot, code: str = "BK") -> GuideScreen:
    await settle(pilot)
    await open_unit(pilot, unit(code).id)
    pilot.app.screen.query_one(UnitTree).focus()
    await pilot.press("o")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ReorganiseScreen)
    await pilot.press("G")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, GuideScreen), screen_text(pilot.app)
    return screen


async def type_into(pilot, screen, name: str, text: str) -> None:
    field = screen._field(name)
    field.input.focus()
    field.input.value = ""
    await pilot.press(*text)


async def step1(pilot, decided: str = "20/06/2025") -> CommunesScreen:
    guide = pilot.app.screen
    await type_into(pilot, guide, "decision", "01-QĐ/TU")
    await type_into(pilot, guide, "decided", decided)
    await pilot.press("ctrl+s")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CommunesScreen), screen_text(pilot.app)
    return screen


async def go_to(pilot, screen: CommunesScreen, code: str) -> None:
    """The cursor of the communes table onto `code`, with the arrow keys."""
    table = screen.query_one("#guide2-communes", UnitsTable)
    table.focus()
    want = [u.code for u in screen.draft.communes].index(code)
    while table.cursor_row != want:
        await pilot.press("down" if table.cursor_row < want else "up")


async def group_as_the_plan(pilot, screen: CommunesScreen) -> None:
    """Each new commune of the example plan: `n` on its first old commune (code, name typed),
    then its number key on the others."""
    number = 0
    for commune in plan().communes:
        if len(commune.sources) == 1:
            continue
        number += 1
        await go_to(pilot, screen, commune.sources[0])
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(pilot.app.screen, NewCommuneForm)
        await pilot.press(*commune.code, "tab", *commune.name, "enter")
        await settle(pilot)
        assert pilot.app.screen is screen
        for source in commune.sources[1:]:
            await go_to(pilot, screen, source)
            await pilot.press(str(number))
    await pilot.pause()


def as_sets(p: reorganise_2025.Plan):
    return (p.districts, {(c.code, c.name, frozenset(c.sources)) for c in p.communes}, set(p.moves))


async def to_preview(pilot) -> PlanPreviewScreen:
    await pilot.press("ctrl+s")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PlanPreviewScreen), screen_text(pilot.app)
    return screen


def preview_text(screen: PlanPreviewScreen) -> str:
    return "\n".join(content_text(w) for w in screen.query(Static))


def tree_children(app, code: str) -> set[str]:
    node = next((n for n in tree_nodes(app) if n.data.code == code), None)
    if node is None:
        raise AssertionError(code)
    return {child.data.code for child in node.children}


async def test_grouping_previewing_going_back_and_saving(make_app, demo_db):
    app = make_app()
    admin = account_actor("demo_admin")
    before_2021 = report_2021(admin)
    async with app.run_test(size=SIZE) as pilot:
        guide = await open_guide(pilot)
        # step 1: the defaults
        assert guide._field("effective").input.value == "01/07/2025"
        assert guide.draft.marked == {"NS"}
        communes = await step1(pilot)
        assert {u.code for u in communes.draft.communes} == {
            "NS-NP", "NS-BV", "NS-CD", "NS-DV", "NS-HL", "NS-LN", "NS-TM", "NS-TA", "NS-TQ",
            "NS-TH", "NS-VT"}
        assert len(communes.draft.others) == 20 and "NS-THPT" in {u.code for u in communes.draft.others}
        assert not communes.draft.new  # each commune on its own, like template()
        await group_as_the_plan(pilot, communes)
        decision = Decision("01-QĐ/TU", datetime.date(2025, 6, 20), TODAY)
        assert as_sets(communes.draft.plan(decision)) == as_sets(plan())
        assert "vào 4 xã mới · 1 để riêng" in content_text(communes.query_one("#guide2-communes-label"))
        before = written()
        # step 3: the same numbers as reorganise_2025.preview on the example plan
        preview = await to_preview(pilot)
        expected = reorganise_2025.preview(admin, TODAY, plan())
        assert sorted(preview.result.communes) == sorted(expected.communes)
        assert (preview.result.open_files_outside, preview.result.units_left) == (0, [])

        def moves(result):
            return sorted((o.kind, frozenset(o.sources), tuple(o.results), m.source, m.target,
                           m.members, m.people, m.files, m.units)
                          for o in result.outcomes for m in o.moved)

        assert moves(preview.result) == moves(expected)
        text = preview_text(preview)
        for code, name, members, files, branches in expected.communes:
            row = next(line for line in text.splitlines() if line.strip().startswith(code + " "))
            assert name in row and row.split()[-3:] == [i18n.number(branches), i18n.number(members),
                                                        i18n.number(files)]
        assert "Kiểm tra: mọi hồ sơ đang xét và mọi đơn vị đều ở đơn vị đang hoạt động" in text
        assert written() == before  # the preview wrote nothing
        # Escape: back to step 2, the groups kept; back again to step 1, the decision kept
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is communes
        assert as_sets(communes.draft.plan(decision)) == as_sets(plan())
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is guide and guide._field("decision").input.value == "01-QĐ/TU"
        communes = await step1(pilot)
        assert as_sets(communes.draft.plan(decision)) == as_sets(plan())
        assert content_text(communes.query_one("#guide2-communes-label")).strip().endswith("1 để riêng")
        # save: asked first, then a copy of the database file, then the plan
        await to_preview(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "bản sao" in content_text(app.screen.query_one(".dialog-title"))
        assert written() == before
        await pilot.press("c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReorganiseScreen), screen_text(app)
        copies = list(Path(demo_db).parent.glob(Path(demo_db).name + ".before-reorganisation-*"))
        assert len(copies) == 1
        message = content_text(screen.query_one("#reorg-message", Static))
        assert "Đã ghi sắp xếp năm 2025" in message and str(copies[0]) in message
        assert unit("NS").ended == TODAY
        # the main tree: the new communes directly under the province
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        below = tree_children(app, "BK")
        assert {"BK-NPH", "BK-NSO", "BK-TQU", "BK-BVA", "NS-HL"} <= below and "NS" not in below
        assert report_2021(admin) == before_2021


async def test_a_commune_left_alone_renamed_and_a_school_sent_into_a_commune(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_guide(pilot)
        communes = await step1(pilot)
        await go_to(pilot, communes, "NS-HL")
        await pilot.press("e")
        await settle(pilot)
        field = app.screen.query_one(Input)
        field.value = ""
        await pilot.press(*"Đảng bộ xã Hiệp Lực mới", "enter")
        await settle(pilot)
        assert app.screen is communes
        # the other units: Tab to their table, Enter chooses NS-HL from the list
        await pilot.press("tab")
        others = communes.query_one("#guide2-others", UnitsTable)
        assert app.focused is others
        while communes.draft.others[others.cursor_row].code != "NS-THPT":
            await pilot.press("down")
        await pilot.press("enter")
        await settle(pilot)
        chooser = app.screen
        labels = [str(chooser.query_one("OptionList").get_option_at_index(i).prompt)
                  for i in range(chooser.query_one("OptionList").option_count)]
        index = next(i for i, label in enumerate(labels) if "NS-HL" in label)
        for _ in range(index):
            await pilot.press("down")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is communes
        made = communes.draft.plan(Decision("01", TODAY, TODAY))
        assert ("NS-THPT", "NS-HL") in made.moves
        assert any(c.sources == ("NS-HL",) and c.name == "Đảng bộ xã Hiệp Lực mới" for c in made.communes)
        preview = await to_preview(pilot)
        kinds = [(o.kind, o.sources) for o in preview.result.outcomes]
        assert ("rename", ["NS-HL"]) in kinds and ("transfer", ["NS-THPT"]) in kinds


async def test_refusals_at_their_field_and_nothing_saved(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        guide = await open_guide(pilot)
        before = written()
        # a decision date after today: said at that field, on step 1
        await type_into(pilot, guide, "decision", "01-QĐ/TU")
        await type_into(pilot, guide, "decided", "02/07/2025")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is guide
        assert "sau hôm nay (01/07/2025)" in guide._field("decided")._error
        assert app.focused is guide._field("decided").input
        communes = await step1(pilot)
        # a code listed in step 2: said in the small form at once
        await go_to(pilot, communes, "NS-NP")
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        await pilot.press(*"NS-TH", "tab", *"Xã mới", "enter")
        await settle(pilot)
        assert app.screen is form and "NS-TH" in form._field("code")._error
        assert "đã có" in form._field("code")._error
        # a code used by a unit elsewhere: the database refuses it at the preview, and the
        # new commune's form opens again with the refusal at its code
        form._field("code").input.value = "NS-NP-01"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is communes
        await go_to(pilot, communes, "NS-TH")
        await pilot.press("1")
        await pilot.press("ctrl+s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, NewCommuneForm), screen_text(app)
        assert "“NS-NP-01” đã có" in form._field("code")._error
        assert app.focused is form._field("code").input
        assert written() == before
        # a new commune of one old commune only: said on its row
        await pilot.press("escape")
        await settle(pilot)
        await go_to(pilot, communes, "NS-TH")
        await pilot.press("0")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is communes
        assert "chỉ gồm một xã cũ (NS-NP)" in " ".join(
            content_text(w) for w in communes.query("#guide2-messages Static"))
        assert communes.draft.communes[communes.query_one("#guide2-communes", UnitsTable).cursor_row].code == "NS-NP"
        assert written() == before


@pytest.mark.parametrize("login", ["demo_secretary", "demo_viewer"])
async def test_secretaries_and_viewers_cannot_open_it(make_app, login):
    app = make_app(login)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pilot.app.screen.query_one(UnitTree).focus()
        await pilot.press("o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReorganiseScreen)
        before = written()
        await pilot.press("G")
        await settle(pilot)
        assert app.screen is screen
        assert "Chỉ cán bộ tổ chức và quản trị viên" in content_text(screen.query_one("#reorg-message"))
        assert "Sắp xếp năm 2025" not in content_text(screen.query_one("#reorg-actions"))
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert "Sắp xếp năm 2025" not in content_text(app.screen.query_one("#help-body", Static))
        assert written() == before


async def test_the_key_is_for_a_province_or_a_district(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, unit("NS-NP").id)
        app.screen.query_one(UnitTree).focus()
        await pilot.press("o")
        await settle(pilot)
        screen = app.screen
        assert "G Sắp xếp" not in content_text(screen.query_one("#reorg-actions"))
        await pilot.press("G")
        await settle(pilot)
        assert app.screen is screen
        assert "chọn đảng bộ tỉnh" in content_text(screen.query_one("#reorg-message"))
        await pilot.press("escape")
        await settle(pilot)
        # a district: its province
        guide = await open_guide(pilot, "NS")
        assert guide.province.code == "BK"


@pytest.mark.parametrize(("lang", "words"), [("vi", "sẽ kết thúc ngày 01/10/2021"),
                                             ("en", "will end on 01/10/2021")])
async def test_a_unit_ending_after_today_says_when(make_app, lang, words):
    """A merge recorded ahead of its effective day: the unit will end, it has not ended."""
    today = datetime.date(2021, 9, 30)
    reorganise.merge(account_actor("demo_admin"), today,
                     Decision("45-QĐ/ĐU", datetime.date(2021, 9, 20), datetime.date(2021, 10, 1)),
                     [unit("NS-NP-01").id, unit("NS-NP-02").id],
                     reorganise.NewUnit("NS-NP-40", "Chi bộ mới"))
    app = make_app(today=today, lang=lang)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, unit("NS-NP-01").id)
        app.screen.query_one(UnitTree).focus()
        await pilot.press("o")
        await settle(pilot)
        line = content_text(app.screen.query_one("#reorg-unit"))
        assert words in line and "kết thúc 01/10" not in line.replace("sẽ kết thúc", "")
