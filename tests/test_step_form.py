"""Writing to a file from the case view, on the demo (today 30/09/2021): the step form, undo,
close and hold, driven with the keyboard at 80x24."""

from __future__ import annotations

import datetime

import pytest
from textual.widgets import Input, Static

from db import models, pipeline
from screens.case import CaseScreen
from screens.dialogs import ConfirmDialog, ReasonDialog
from screens.step_form import StepForm
from tests.ui_helpers import screen_text, settle
from tui import i18n
from tui.app import KetnapApp
from tui.context import AppContext

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)

pytestmark = pytest.mark.slow


def votable(actor) -> tuple[int, int]:
    """A dossier file whose branch vote passes every rule with a full vote: (id, members)."""
    C = models.CaseFile
    for case in C.select().where((C.stage == "dossier") & (C.status == "open")
                                 & (C.on_hold == False)).order_by(C.id):  # noqa: E712
        members = pipeline.official_members(case.branch_id, TODAY)
        step = pipeline.StepInput("branch_approved", TODAY, resolution="1-NQ/CB",
                                  votes=(members, members, 0))
        if members >= 3 and not pipeline.check(actor, case.id, step, TODAY):
            return case.id, members
    raise AssertionError("the demo has no dossier file ready for its branch vote")


@pytest.fixture
def app(demo_db, demo_admin):
    yield KetnapApp(AppContext(demo_db, demo_admin, TODAY, "vi"))
    i18n.set_language("vi")


async def open_case(pilot, case_id: int) -> CaseScreen:
    await settle(pilot)
    screen = CaseScreen(pilot.app.context, case_id)
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


async def open_step_form(pilot, case_id: int) -> None:
    """The file's view, then `a`: the form to record its next step."""
    await open_case(pilot, case_id)
    await pilot.press("a")
    await settle(pilot)


async def type_into(pilot, field: str, text: str) -> None:
    pilot.app.screen.query_one(f"#in-{field}", Input).focus()
    await pilot.pause()
    await pilot.press(*text)


def message(app) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query("#step-messages Static"))


async def test_branch_vote_recorded_from_the_form(app, demo_admin):
    case_id, members = votable(demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        assert isinstance(app.screen, StepForm)
        await type_into(pilot, "resolution", "12-NQ/CB")
        await type_into(pilot, "for", str(members))
        await type_into(pilot, "convened", str(members))
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert "đạt mọi quy định" in message(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert models.CaseFile.get_by_id(case_id).stage == "branch_approved"
        assert i18n.code_name("stage", "branch_approved") in screen_text(app)


async def test_a_vote_below_two_thirds_is_refused_and_nothing_saved(app, demo_admin):
    case_id, members = votable(demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        await type_into(pilot, "resolution", "12-NQ/CB")
        await type_into(pilot, "for", "1")
        await type_into(pilot, "convened", str(members))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, StepForm)
        assert "chưa đạt hai phần ba" in message(app)
        assert models.CaseFile.get_by_id(case_id).stage == "dossier"


async def test_fields_check_what_is_typed(app, demo_admin):
    case_id, _ = votable(demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        await type_into(pilot, "for", "x")
        error = app.screen.query_one("#field-for .form-error", Static)
        assert error.display and "chữ số" in str(error.render())
        await type_into(pilot, "date", "x")  # appended to 30/09/2021
        assert "dd/mm/yyyy" in str(app.screen.query_one("#field-date .form-error", Static).render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, StepForm)
        assert models.CaseFile.get_by_id(case_id).stage == "dossier"


async def test_escape_on_a_half_filled_form_asks_first(app, demo_admin):
    case_id, _ = votable(demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        await pilot.press("escape")  # nothing typed: leaves at once
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("a")
        await settle(pilot)
        await type_into(pilot, "resolution", "12")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")  # no: back to the form, input kept
        await settle(pilot)
        assert isinstance(app.screen, StepForm)
        assert app.screen.query_one("#in-resolution", Input).value == "12"
        await pilot.press("escape", "c")  # yes: thrown away
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)


async def test_ctrl_q_on_a_half_filled_form_asks_before_quitting(app, demo_admin):
    case_id, _ = votable(demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        await type_into(pilot, "resolution", "12")
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog) and app.is_running
        await pilot.press("escape")  # no: back to the form, input kept
        await settle(pilot)
        assert isinstance(app.screen, StepForm)
        assert app.screen.query_one("#in-resolution", Input).value == "12"
        await pilot.press("ctrl+q", "c")  # yes: quits
        await settle(pilot)
        assert not app.is_running


async def test_an_impossible_date_is_named_as_such(app, demo_admin):
    case_id, _ = votable(demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        field = app.screen.query_one("#in-date", Input)
        field.value = "31/02/2021"
        await settle(pilot)
        assert "Không có ngày 31/02/2021" in str(app.screen.query_one("#field-date .form-error").render())


async def test_undo_asks_a_reason_and_undoes(app, demo_admin):
    case_id, members = votable(demo_admin)
    pipeline.apply(demo_admin, case_id, pipeline.StepInput(
        "branch_approved", TODAY, resolution="1-NQ/CB", votes=(members, members, 0)), TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case_id)
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press("enter")  # no reason: refused at the field
        await settle(pilot)
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press(*"nhap nham", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert models.CaseFile.get_by_id(case_id).stage == "dossier"
        step = models.Step.select().where(models.Step.case == case_id).order_by(models.Step.seq.desc()).first()
        assert step.undo_reason == "nhap nham"
        assert "Đã hủy bước cuối" in screen_text(app)


async def test_hold_then_release_and_close_then_reopen(app, demo_admin):
    case_id, _ = votable(demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case_id)
        await pilot.press("o", *"sưu tra", "enter")
        await settle(pilot)
        assert models.CaseFile.get_by_id(case_id).on_hold
        await pilot.press("o")
        await settle(pilot)
        assert not models.CaseFile.get_by_id(case_id).on_hold
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("tab", "tab", *"xin rút", "ctrl+s")
        await settle(pilot)
        case = models.CaseFile.get_by_id(case_id)
        assert (case.status, case.outcome) == ("closed", "withdrawn")
        await pilot.press("r", *"nhầm", "enter")
        await settle(pilot)
        assert models.CaseFile.get_by_id(case_id).status == "open"


async def test_only_warnings_left_asks_an_override_reason(app, demo_admin):
    case_id, members = votable(demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        await type_into(pilot, "resolution", "12-NQ/CB")
        await type_into(pilot, "for", str(members))
        await type_into(pilot, "convened", str(members + 1))  # differs from the branch's members
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReasonDialog)
        assert models.CaseFile.get_by_id(case_id).stage == "dossier"
        await pilot.press(*"so lieu da kiem tra", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert models.CaseFile.get_by_id(case_id).stage == "branch_approved"
        event = models.CaseEvent.select().where((models.CaseEvent.case == case_id)
                                                & (models.CaseEvent.kind == "override")).get()
        assert event.reason == "so lieu da kiem tra"


async def test_a_secretary_is_told_who_may_override(demo_db, demo_admin):
    from dataclasses import replace

    case_id, members = votable(demo_admin)
    secretary = replace(demo_admin, role="secretary")  # any role that may write but not override
    app = KetnapApp(AppContext(demo_db, secretary, TODAY, "vi"))
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        await type_into(pilot, "resolution", "12-NQ/CB")
        await type_into(pilot, "for", str(members))
        await type_into(pilot, "convened", str(members + 1))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, StepForm)
        assert "cán bộ tổ chức hoặc quản trị viên" in message(app)
        assert models.CaseFile.get_by_id(case_id).stage == "dossier"


@pytest.mark.parametrize("stage, values, extra", [
    ("certified", {"cert_number": "12", "cert_issued": TODAY, "cert_issuer": "TTCT"}, {}),
    ("dossier", {"docs_received": None, "intro1_cid": "001200000001", "intro1_since": TODAY,
                 "union_resolution": "3-NQ/ĐTN"}, {"documents": ["application_letter"], "union": "youth_union"}),
    ("admitted", {"decision": "45-QĐ/ĐU", "received": None}, {}),
    ("probationary", {"member_records": TODAY}, {}),
    ("official", {"br_number": "1", "br_date": TODAY, "br_for": 5, "br_convened": 5, "br_excused": 0,
                  "cr_number": None, "cr_date": None, "cr_for": None, "cr_convened": None,
                  "cr_excused": None, "decision": "9-QĐ"}, {}),
])
def test_the_form_values_make_a_step_the_pipeline_reads(stage, values, extra):
    from screens.step_form import step_data

    data = step_data(stage, {"date": TODAY, **values}, extra.get("documents", []), extra.get("union", ""))
    step = pipeline.step_from_dict(data, person_id=lambda obj: 7 if obj.get("citizen_id") else None)
    assert step.stage == stage and step.date == TODAY
    if stage == "certified":
        assert step.certificate == pipeline.CertificateInput("12", TODAY, "TTCT")
    if stage == "dossier":
        assert step.documents == (("application_letter", TODAY),)
        assert [(i.kind, i.person_id) for i in step.introducers] == [("member", 7), ("youth_union", None)]
    if stage == "admitted":
        assert (step.decision, step.received) == ("45-QĐ/ĐU", TODAY)
    if stage == "probationary":
        assert step.documents == (("member_records", TODAY),)
    if stage == "official":
        assert step.branch_resolution.votes == pipeline.Votes(5, 5, 0) and step.committee_resolution is None


def test_the_moves_offered_are_the_allowed_ones_forward_first():
    from screens.step_form import target_stages

    assert target_stages("in_class") == ["certified", "identified"]
    assert target_stages("branch_approved") == ["committee_approved", "admitted"]
    assert target_stages("official") == []


def test_screen_sentences_name_keys_not_command_line_options():
    import re
    import tomllib

    from tui.messages import rule_message

    with open(i18n.LOCALE_DIR / "rules.toml", "rb") as fh:
        rules = tomllib.load(fh)
    cli_words = re.compile(r"--|\bcase [a-z]")
    for table in ("rule", "rule_variant"):
        for key, text in rules[table].items():
            if cli_words.search(text["vi"] + text["en"]):
                assert key in rules["rule_screen"], key
    for key, text in rules["rule_screen"].items():
        assert not cli_words.search(text["vi"] + text["en"]), key
    params = {"vote": "branch", "for": 1, "convened": 5, "excused": 0, "needed": 4}
    assert "--votes" in rule_message("vote_below_two_thirds", params, TODAY)  # the command line's
    assert "--votes" not in rule_message("vote_below_two_thirds", params, TODAY, screen=True)


async def test_a_failed_branch_vote_is_recorded_with_ctrl_g(app, demo_admin):
    case_id, members = votable(demo_admin)
    offer = "Ctrl+G"  # the footer shows the key only when the vote fell short and nothing else
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        assert offer not in screen_text(app)
        await pilot.press("ctrl+g")  # not offered: nothing happens
        await settle(pilot)
        assert isinstance(app.screen, StepForm)
        await type_into(pilot, "resolution", "12-NQ/CB")
        await type_into(pilot, "for", "1")
        await type_into(pilot, "convened", str(members))
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert "chưa đạt hai phần ba" in message(app) and offer in message(app)
        footer = screen_text(app).splitlines()[-1]
        assert offer in footer and footer.rstrip().endswith("F1 Trợ giúp"), footer  # nothing cut at 80
        await type_into(pilot, "for", "")
        await pilot.press("backspace", "0")  # a changed count withdraws the offer until checked again
        await settle(pilot)
        assert offer not in screen_text(app).splitlines()[-1]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert offer in screen_text(app).splitlines()[-1]
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press(*"chua du tin nhiem", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert models.CaseFile.get_by_id(case_id).stage == "dossier"
        event = models.CaseEvent.select().where((models.CaseEvent.case == case_id)
                                                & (models.CaseEvent.kind == "vote_failed")).get()
        assert (event.date, event.reason) == (TODAY, "chua du tin nhiem")
        assert "biểu quyết không đạt" in screen_text(app)
        await pilot.press("2")
        await settle(pilot)
        text = screen_text(app)
        assert f"Chi bộ biểu quyết không đạt · tán thành 0/{members}" in text
        assert "12-NQ/CB" in text and "chua du tin nhiem" in text


async def test_no_failed_vote_offer_when_something_else_blocks(app, demo_admin):
    case_id, members = votable(demo_admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_step_form(pilot, case_id)
        await type_into(pilot, "resolution", "12-NQ/CB")
        await type_into(pilot, "for", "1")
        await type_into(pilot, "convened", str(members))
        await type_into(pilot, "date", "")
        await pilot.press(*["backspace"] * 10, *"01/01/2030")  # a date in the future blocks too
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "chưa đạt hai phần ba" in message(app)
        assert "Ctrl+G" not in screen_text(app)
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, StepForm)
        assert not models.CaseEvent.select().where((models.CaseEvent.case == case_id)
                                                   & (models.CaseEvent.kind == "vote_failed")).exists()


async def test_a_failed_vote_shows_before_the_vote_that_passed_the_same_day(app, demo_admin):
    case_id, members = votable(demo_admin)
    pipeline.record_failed_vote(demo_admin, case_id, TODAY, (1, members, 0), TODAY, reason="lan 1",
                                resolution="5-NQ/CB")
    pipeline.apply(demo_admin, case_id, pipeline.StepInput(
        "branch_approved", TODAY, resolution="6-NQ/CB", votes=(members, members, 0)), TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case_id)
        await pilot.press("2")
        await settle(pilot)
        text = screen_text(app)
        failed = text.index("Chi bộ biểu quyết không đạt")
        assert text.index("5-NQ/CB") > failed
        assert failed < text.index("6-NQ/CB")
        assert text.index(i18n.code_name("stage", "dossier")) < failed
