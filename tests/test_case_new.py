"""Opening a new candidate's file: `db.pipeline.open_case`, `similar_people` and
`ketnap case new`, on the demo database (its today is 30/09/2021)."""

from __future__ import annotations

import datetime

import pytest

from db import models, pipeline
from db.access import account_actor
from tests.test_cli import LOGIN, isolated, run, run_json  # noqa: F401  (isolated: autouse)

TODAY = datetime.date(2021, 9, 30)
BRANCH = "NS-NP-01"  # Chi bộ Tổ dân phố Nà Phặc

pytestmark = pytest.mark.slow


def branch_id() -> int:
    return models.Unit.get(models.Unit.code == BRANCH).id


def person(**changes) -> dict:
    data = {"full_name": "Hoàng  Thị Thử", "sex": "F", "born": datetime.date(2001, 3, 2),
            "citizen_id": "001301000777", "phone": "0912 345 678"}
    data.update(changes)
    return data


def counts() -> tuple:
    return tuple(m.select().count() for m in (models.Person, models.CaseFile, models.Step,
                                              models.Affiliation, models.AuditEntry))


def test_open_case_creates_person_file_step_and_audit(demo_admin):
    before = counts()
    case_id = pipeline.open_case(demo_admin, branch_id(), person(), TODAY,
                                 recommended_by="Đoàn Thanh niên")
    case = models.CaseFile.get_by_id(case_id)
    assert (case.stage, case.status, case.branch_id, case.recommended_by) == (
        "identified", "open", branch_id(), "Đoàn Thanh niên")
    p = case.person
    assert (p.full_name, p.name_folded, p.phone, p.branch_id) == (
        "Hoàng Thị Thử", "hoang thi thu", "0912345678", branch_id())
    steps = list(models.Step.select().where(models.Step.case == case_id))
    assert [(s.seq, s.stage, s.date) for s in steps] == [(1, "identified", TODAY)]
    assert counts() == tuple(n + 1 for n in before)
    entry = models.AuditEntry.select().order_by(models.AuditEntry.id.desc()).first()
    assert (entry.action, entry.entity_id) == ("open", case_id)


def test_the_name_is_stored_nfc(demo_admin):
    decomposed = "Hoa\u0300ng Thi\u0323 Thu\u031b\u0309"
    case_id = pipeline.open_case(demo_admin, branch_id(), person(full_name=decomposed), TODAY)
    assert models.CaseFile.get_by_id(case_id).person.full_name == "Hoàng Thị Thử"


@pytest.mark.parametrize("changes, code, field", [
    ({"full_name": "  "}, "missing_value", "full_name"),
    ({"sex": "X"}, "bad_value", "sex"),
    ({"born": datetime.date(2021, 10, 1)}, "date_in_future", "born"),
    ({"born": "31/02/2001"}, "bad_value", "born"),
    ({"citizen_id": "00130100077"}, "bad_value", "citizen_id"),
    ({"citizen_id": "00130100077a"}, "bad_value", "citizen_id"),
    ({"phone": "912345678"}, "bad_value", "phone"),
    ({"phone": "091234567890"}, "bad_value", "phone"),
])
def test_open_case_refuses_bad_data_and_writes_nothing(demo_admin, changes, code, field):
    before = counts()
    with pytest.raises(pipeline.PipelineError) as caught:
        pipeline.open_case(demo_admin, branch_id(), person(**changes), TODAY)
    assert (caught.value.code, caught.value.params["field"]) == (code, field)
    assert counts() == before


def test_a_citizen_id_is_unique_and_an_open_file_is_named(demo_admin):
    pipeline.open_case(demo_admin, branch_id(), person(), TODAY)
    with pytest.raises(pipeline.PipelineError) as caught:
        pipeline.open_case(demo_admin, branch_id(), person(full_name="Người Khác"), TODAY)
    assert caught.value.code == "open_file_exists"
    member = models.Person.select().where(models.Person.citizen_id.is_null(False)
                                          & ~models.Person.id.in_(
                                              models.CaseFile.select(models.CaseFile.person)
                                              .where(models.CaseFile.status == "open"))).first()
    with pytest.raises(pipeline.PipelineError) as caught:
        pipeline.open_case(demo_admin, branch_id(), person(citizen_id=member.citizen_id), TODAY)
    assert caught.value.code == "duplicate_citizen_id"


def test_the_branch_must_be_a_branch_in_scope(demo_admin, demo_db):
    committee = models.Unit.get(models.Unit.code == "NS-NP")
    with pytest.raises(pipeline.NotFound):
        pipeline.open_case(demo_admin, committee.id, person(), TODAY)
    secretary = account_actor("demo_secretary")
    other = (models.Unit.select().where((models.Unit.org_type == "branch")
                                        & (models.Unit.id != secretary.unit_id)).first())
    with pytest.raises(pipeline.NotFound):
        pipeline.open_case(secretary, other.id, person(), TODAY)
    with pytest.raises(pipeline.AccessError):
        pipeline.open_case(account_actor("demo_viewer"), branch_id(), person(), TODAY)


def test_similar_people_by_folded_name_and_birth_date(demo_admin):
    pipeline.open_case(demo_admin, branch_id(), person(), TODAY)
    found = pipeline.similar_people(demo_admin, "hoang thi THU", datetime.date(2001, 3, 2))
    assert [(name, born) for _, name, born, _ in found] == [("Hoàng Thị Thử", datetime.date(2001, 3, 2))]
    assert pipeline.similar_people(demo_admin, "Hoàng Thị Thử", datetime.date(2001, 3, 3)) == []
    assert pipeline.similar_people(account_actor("demo_secretary"), "Hoàng Thị Thử",
                                   datetime.date(2001, 3, 2)) == []


def test_cli_case_new(demo_db, capsys):
    args = ("--db", demo_db, "--user", "demo_admin", "--today", "2021-09-30", "case", "new",
            "--branch", BRANCH, "--name", "Hoàng Thị Thử", "--born", "02/03/2001", "--sex", "F")
    status, out, err = run(capsys, *args, "--citizen-id", "001301000777", "--youth-union")
    assert status == 0 and "Hoàng Thị Thử" in out and not err
    case_id = int(out.split(":")[0].split()[-1])
    case = models.CaseFile.get_by_id(case_id)
    assert case.stage == "identified" and case.person.youth_union
    # the same name and birth date again: a warning, not a refusal
    status, doc, err = run_json(capsys, *args)
    assert status == 0 and doc["ok"] and doc["similar"][0]["full_name"] == "Hoàng Thị Thử"
    # an 11-digit citizen ID: refused with the sentence, nothing written
    before = counts()
    status, out, err = run(capsys, *args, "--citizen-id", "00130100077")
    assert status == 1 and "CCCD" in err and "00130100077" in err
    status, doc, err = run_json(capsys, "--lang", "en", *args, "--citizen-id", "001301000777")
    assert status == 1 and doc["error"]["code"] == "open_file_exists"
    assert "open file" in doc["error"]["message"]
    assert counts() == before


# --- the new-candidate form (n on the main screen) ----------------------------------------------

async def _new_case_form(pilot):
    from screens.new_case import NewCaseForm
    from tests.ui_helpers import open_unit, settle

    await settle(pilot)
    await open_unit(pilot, branch_id())
    await pilot.press("n")
    await settle(pilot)
    assert isinstance(pilot.app.screen, NewCaseForm)


async def _type(pilot, field: str, text: str) -> None:
    from textual.widgets import Input

    pilot.app.screen.query_one(f"#in-{field}", Input).focus()
    await pilot.pause()
    await pilot.press(*text)


@pytest.fixture
def tui_app(demo_db, demo_admin):
    from tui import i18n
    from tui.app import KetnapApp
    from tui.context import AppContext

    yield KetnapApp(AppContext(demo_db, demo_admin, TODAY, "vi"))
    i18n.set_language("vi")


async def test_form_refuses_an_11_digit_citizen_id_then_saves_and_opens_the_file(tui_app):
    from textual.widgets import Select, Static

    from screens.case import CaseScreen
    from tests.ui_helpers import screen_text, settle
    from tui import i18n

    app = tui_app
    async with app.run_test(size=(80, 24)) as pilot:
        await _new_case_form(pilot)
        await _type(pilot, "full_name", "Hoàng Thị Thử")
        app.screen.query_one("#in-sex", Select).focus()
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert app.screen.query_one("#in-sex", Select).value == "F"
        await _type(pilot, "born", "02/03/2001")
        await _type(pilot, "citizen_id", "00130100077")
        error = app.screen.query_one("#field-citizen_id .form-error", Static)
        assert error.display and "12 chữ số" in str(error.render())
        before = counts()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert counts() == before and not isinstance(app.screen, CaseScreen)
        await pilot.press("7")
        assert not error.display
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        case = models.CaseFile.get_by_id(app.screen.case_id)
        assert (case.person.full_name, case.person.citizen_id, case.stage) == (
            "Hoàng Thị Thử", "001301000777", "identified")
        assert "Hoàng Thị Thử" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        from db import people  # the branch's list counts the new person
        total = people.people_count(app.context.actor, branch_id(), TODAY)
        assert any(p.full_name == "Hoàng Thị Thử" for p in people.people_page(
            app.context.actor, branch_id(), TODAY, kind="candidates", limit=100).rows)
        assert f"/{i18n.number(total)}" in screen_text(app)


async def test_form_warns_of_the_same_person_before_saving(tui_app, demo_admin):
    from textual.widgets import Select

    from screens.case import CaseScreen
    from screens.dialogs import ConfirmDialog
    from screens.new_case import NewCaseForm
    from tests.ui_helpers import settle

    pipeline.open_case(demo_admin, branch_id(), person(citizen_id=None), TODAY)
    app = tui_app
    async with app.run_test(size=(80, 24)) as pilot:
        await _new_case_form(pilot)
        await _type(pilot, "full_name", "Hoang Thi Thu")
        await pilot.press("escape")  # typed: asks first
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#in-sex", Select).focus()
        await pilot.press("enter", "down", "enter")
        await _type(pilot, "born", "02/03/2001")
        before = counts()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, NewCaseForm) and counts() == before
        shown = "\n".join(str(s.render()) for s in app.screen.query("#step-messages Static"))
        assert "cùng họ tên và ngày sinh" in shown and "Hoàng Thị Thử" in shown
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
