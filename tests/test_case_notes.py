"""Notes on a file: `pipeline.add_note` and the fifth tab of the case view, on the demo (today
30/09/2021), driven with the keyboard at 80x24."""

from __future__ import annotations

import datetime
import io
import unicodedata

import pytest
from rich.console import Console
from textual.widgets import TabbedContent

from db import cases, models, pipeline
from db.access import AccessError, account_actor
from screens.case import CaseScreen
from screens.dialogs import ReasonDialog
from tests.ui_helpers import screen_text, settle
from tui import i18n
from tui.app import KetnapApp
from tui.context import AppContext

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)


def some_case() -> int:
    """An open file with steps (its Steps tab has a timeline)."""
    C = models.CaseFile
    case = (C.select().where((C.status == "open") & (C.stage == "dossier")).order_by(C.id).first())
    assert case is not None
    return case.id


def notes(actor, case_id: int):
    return [e for e in cases.case_view(actor, case_id, TODAY, log=False).events if e.kind == "note"]


def test_add_note_is_stored_and_read_back(demo_admin):
    case_id = some_case()
    version = models.CaseFile.get_by_id(case_id).version
    audits = models.AuditEntry.select().count()
    decomposed = unicodedata.normalize("NFD", "Đã gặp gia đình")
    assert pipeline.add_note(demo_admin, case_id, "  " + decomposed + "\n", today=TODAY) is None
    [note] = notes(demo_admin, case_id)
    assert note.date == TODAY
    assert note.reason == unicodedata.normalize("NFC", "Đã gặp gia đình")
    assert note.entered_by == "tester"
    assert models.CaseFile.get_by_id(case_id).version == version  # the file itself is unchanged
    entry = models.AuditEntry.select().order_by(models.AuditEntry.id.desc()).first()
    assert models.AuditEntry.select().count() == audits + 1
    assert (entry.action, entry.entity, entry.entity_id) == ("note", "case_file", case_id)
    pipeline.add_note(demo_admin, case_id, "Lần hai", today=TODAY)
    assert [n.reason for n in notes(demo_admin, case_id)][-1] == "Lần hai"  # newest last


@pytest.mark.parametrize("text", ["", "   ", None])
def test_add_note_needs_text(demo_admin, text):
    case_id = some_case()
    with pytest.raises(pipeline.PipelineError) as refused:
        pipeline.add_note(demo_admin, case_id, text, today=TODAY)
    assert refused.value.code == "reason_required"
    assert notes(demo_admin, case_id) == []


def test_a_viewer_may_not_add_a_note(demo_admin):
    case_id = some_case()
    audits = models.AuditEntry.select().count()
    with pytest.raises(AccessError) as refused:
        pipeline.add_note(account_actor("demo_viewer"), case_id, "không được", today=TODAY)
    assert refused.value.code == "forbidden"
    assert notes(demo_admin, case_id) == []
    assert models.AuditEntry.select().count() == audits


@pytest.fixture
def app(demo_db, demo_admin):
    yield KetnapApp(AppContext(demo_db, demo_admin, TODAY, "vi"))
    i18n.set_language("vi")


@pytest.mark.slow
async def test_g_adds_a_note_shown_in_tab_5_not_in_steps(app, demo_admin):
    case_id = some_case()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.push_screen(CaseScreen(app.context, case_id))
        await settle(pilot)
        screen = app.screen
        await pilot.press("g")
        await settle(pilot)
        assert isinstance(app.screen, ReasonDialog)
        assert "Ghi chú mới" in screen_text(app)
        await pilot.press(*"Gia dinh dong y [x]", "enter")
        await settle(pilot)
        assert app.screen is screen
        assert screen.query_one(TabbedContent).active == "tab-notes"
        text = screen_text(app)
        assert "Gia dinh dong y [x]" in text
        assert "30/09/2021" in text
        assert "tester" in text
        assert "Đã lưu ghi chú." in text
        console = Console(width=78, record=True, file=io.StringIO())
        console.print(screen._steps(screen.view))
        steps = console.export_text()
        assert i18n.code_name("stage", "dossier") in steps  # the timeline is there
        assert "Gia dinh dong y" not in steps
        await pilot.press("2")
        await settle(pilot)
        assert "Gia dinh dong y" not in screen_text(app)
    [note] = notes(demo_admin, case_id)
    assert note.reason == "Gia dinh dong y [x]"


@pytest.mark.slow
async def test_keys_1_to_5_switch_tabs(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.push_screen(CaseScreen(app.context, some_case()))
        await settle(pilot)
        tabs = app.screen.query_one(TabbedContent)
        await pilot.press("5")
        await pilot.pause()
        assert tabs.active == "tab-notes"
        assert "(chưa có ghi chú" in screen_text(app)
        await pilot.press("right")
        await pilot.pause()
        assert tabs.active == "tab-person"
