"""Meeting mode for a branch (db.meeting and screens/meeting.py) on the demo, whose today is
2021-09-30: each list against a count made from the raw rows, the scope, and the screen."""

from __future__ import annotations

import datetime

import pytest

from db import meeting, models
from db.access import NotFound, account_actor
from db.calendar import WorkingDays, add_months
from db.units import find_unit
from screens.case import CaseScreen
from screens.meeting import MeetingScreen
from screens.progress import Panel
from tests.ui_helpers import open_unit, screen_text, settle
from textual.widgets import OptionList

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)


def _branches():
    U = models.Unit
    return list(U.select().where(U.code.startswith("NS-NP-") & U.ended.is_null()).order_by(U.code))


def _open(branch_id):
    C = models.CaseFile
    # a file recognised official has nothing left for the branch, though not closed
    return C.select().where((C.branch == branch_id) & (C.status == "open") & (C.stage != "official"))


def _raw(branch_id) -> dict[str, set[int]]:
    """The four lists' files, from the rows, without db.worklist or db.meeting."""
    files = list(_open(branch_id))
    ready = {c.id for c in files if c.stage == "dossier"}
    wd = WorkingDays()
    probation = set()
    for c in files:
        if c.stage != "probationary":
            continue
        S = models.Step
        step = (S.select().where((S.case == c.id) & (S.stage == "probationary") & S.undone_at.is_null())
                .order_by(S.seq.desc()).first())
        records = models.Document.select().where((models.Document.case == c.id)
                                                 & (models.Document.kind == "member_records")).exists()
        voted = step is not None and models.Resolution.select().where(
            (models.Resolution.step == step.id) & (models.Resolution.kind == "branch_resolution")).exists()
        if step is None or not records or voted:
            continue
        if wd.add(add_months(step.date, 12), 30) <= TODAY + datetime.timedelta(days=60):
            probation.add(c.id)
    certificates = set()
    for c in files:
        if c.stage not in ("identified", "in_class", "certified", "dossier"):
            continue
        issued = [x.issued for x in c.person.certificates if x.kind == "awareness"]
        if issued and add_months(max(issued), 60) <= TODAY + datetime.timedelta(days=90):
            certificates.add(c.id)
    H = models.Helper
    helpers = {(h.case_id, h.id) for h in H.select().where(H.case.in_([c.id for c in files]))}
    return {"ready": ready, "probation": probation, "certificates": certificates,
            "helpers": helpers}


def _compare(actor, unit) -> meeting.Meeting:
    got = meeting.meeting(actor, unit.id, TODAY)
    raw = _raw(unit.id)
    for key in ("ready", "probation", "certificates"):
        assert {line.case_id for line in getattr(got, key)} == raw[key], (unit.code, key)
        assert got.counts[key] == len(raw[key])
    assert got.counts["helpers"] == len(raw["helpers"]), unit.code
    assert {line.case_id for line in got.helpers} == {case for case, _h in raw["helpers"]}
    return got


def test_each_list_matches_the_rows_on_every_na_phac_branch(demo_db, demo_admin):
    totals = dict.fromkeys(("ready", "probation", "certificates", "helpers"), 0)
    for unit in _branches():
        got = _compare(demo_admin, unit)
        for key, n in got.counts.items():
            totals[key] += n
    assert totals["ready"] and totals["probation"] and totals["helpers"], totals


def test_ready_files_carry_the_branch_vote_rules_without_the_vote_itself(demo_db, demo_admin):
    unit = find_unit(demo_admin, "NS-NP-14", TODAY)
    got = meeting.meeting(demo_admin, unit.id, TODAY)
    assert got.ready
    for line in got.ready:
        codes = {v.code for v in line.violations}
        assert not codes & {"vote_below_two_thirds", "vote_base_differs"}
    # take a paper away: the rule check reports it
    case_id = got.ready[0].case_id
    models.Document.delete().where((models.Document.case == case_id)
                                   & (models.Document.kind == "comments")).execute()
    again = meeting.meeting(demo_admin, unit.id, TODAY)
    line = next(x for x in again.ready if x.case_id == case_id)
    assert any(v.code == "document_missing" and v.params.get("kind") == "comments"
               for v in line.violations)


def test_an_awareness_certificate_about_to_expire_is_listed(demo_db, demo_admin):
    unit = find_unit(demo_admin, "NS-NP-14", TODAY)
    case = next(c for c in _open(unit.id) if c.stage == "dossier")
    with models.database.atomic():
        models.Certificate.create(person=case.person_id, kind="awareness", number="X-1",
                                  issued=datetime.date(2016, 11, 15), issuer="TTCT")
        models.Certificate.update(issued=datetime.date(2016, 11, 15)).where(
            (models.Certificate.person == case.person_id) & (models.Certificate.kind == "awareness")).execute()
    got = _compare(demo_admin, unit)
    line = next(x for x in got.certificates if x.case_id == case.id)
    assert line.due == datetime.date(2021, 11, 15) and not line.overdue


def test_a_secretary_sees_only_their_branch(demo_db):
    secretary = account_actor("demo_secretary")
    own = find_unit(secretary, "NS-NP-07", TODAY)
    _compare(secretary, own)
    other = models.Unit.get(models.Unit.code == "NS-NP-14")
    with pytest.raises(NotFound):
        meeting.meeting(secretary, other.id, TODAY)


def test_a_unit_that_is_not_a_branch_is_refused(demo_db, demo_admin):
    town = models.Unit.get(models.Unit.code == "NS-NP")
    with pytest.raises(meeting.NotABranch):
        meeting.meeting(demo_admin, town.id, TODAY)


# --- the screen --------------------------------------------------------------------------------

async def test_meeting_screen_counts_enter_opens_the_file_escape_back(make_demo_app, demo_admin):
    unit = find_unit(demo_admin, "NS-NP-14", TODAY)
    expected = meeting.meeting(demo_admin, unit.id, TODAY)
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, unit.id)
        await pilot.press("M")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MeetingScreen)
        for key, n in expected.counts.items():
            assert screen.query_one(f"#panel-{key}", Panel).figure == str(n)
        text = screen_text(app)
        assert "Chỉ để xem" in text
        assert expected.ready[0].full_name in text
        lines = screen.query_one(OptionList)
        option = lines.get_option_at_index(lines.highlighted)
        assert option.id.endswith(f"-{expected.ready[0].case_id}")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == expected.ready[0].case_id
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, MeetingScreen)


async def test_meeting_screen_in_english(make_demo_app, demo_admin):
    unit = find_unit(demo_admin, "NS-NP-14", TODAY)
    app = make_demo_app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, unit.id)
        await pilot.press("M")
        await settle(pilot)
        assert isinstance(app.screen, MeetingScreen)
        text = screen_text(app)
        assert "Files waiting for the branch vote" in text and "Read only" in text


async def test_a_unit_that_is_not_a_branch_is_refused_on_screen(make_demo_app, demo_admin):
    town = find_unit(demo_admin, "NS-NP", TODAY)
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, town.id)
        await pilot.press("M")
        await settle(pilot)
        assert not isinstance(app.screen, MeetingScreen)
        assert "không phải là chi bộ" in screen_text(app) or any(
            "không phải là chi bộ" in str(n.message) for n in app._notifications)
