"""The pipeline: every rule of domain.md section 4 on both sides of its boundary (pure functions
over plain data), the writes on a small database, and the demo replayed through the rules."""

from __future__ import annotations

import dataclasses
import datetime
import json
import sqlite3
from types import SimpleNamespace

import pytest

from db import models, pipeline
from db.access import AccessError, Actor, NotFound
from db.calendar import WorkingDays, add_months
from db.pipeline import (CaseState, CertificateInput, IntroducerInput, MemberFacts, PipelineError,
                         ResolutionInput, StepInput, StepRecord, StepRefused, Votes, check_step)
from tests.test_db_read import make_person, make_unit

D = datetime.date
NO_EXCEPTIONS = WorkingDays(exceptions={})  # Vietnamese public holidays only
VOTE = D(2020, 5, 4)
TODAY = D(2021, 9, 30)
BRANCH = 7
A, B = 101, 102  # two official members of the branch


def codes(violations, *, warnings=False):
    return sorted(v.code for v in violations if v.warning == warnings)


# --- pure rules: a file at `dossier`, about to be voted on ------------------------------------

def member(official_on=D(2010, 1, 1), since=D(2010, 1, 1), ended=None):
    return MemberFacts(((D(2009, 1, 1), official_on, ended),), ((BRANCH, since, None),))


def dossier_state(**over) -> CaseState:
    base = dict(
        case_id=1, branch_id=BRANCH, stage="dossier",
        steps=(StepRecord(1, "identified", D(2019, 1, 10)), StepRecord(2, "in_class", D(2019, 2, 1)),
               StepRecord(3, "certified", D(2019, 3, 1)), StepRecord(4, "dossier", D(2020, 3, 2))),
        documents=tuple((k, D(2020, 3, 2)) for k in pipeline.BRANCH_DOCUMENTS),
        certificates=(("awareness", D(2019, 3, 1)),),
        introducers=(IntroducerInput("member", A, date=D(2020, 4, 1)),
                     IntroducerInput("member", B, date=D(2020, 4, 1), together_since=D(2017, 1, 1))),
        born=D(1995, 6, 1), education="12/12",
        committee_on={VOTE: True}, official_members_on={VOTE: 23},
        candidate=MemberFacts((), ((BRANCH, D(2016, 1, 1), None),)),
        members={A: member(), B: member()})
    base.update(over)
    return CaseState(**base)


def vote(day=VOTE, votes=(20, 23, 2), **over) -> StepInput:
    return StepInput("branch_approved", day, resolution="12-NQ/CB", votes=votes, **over)


def run(state, step, today=TODAY):
    return check_step(state, step, today, NO_EXCEPTIONS)


def test_a_complete_dossier_passes():
    assert run(dossier_state(), vote()) == []


def test_age_under_18_counts_full_months():
    assert codes(run(dossier_state(born=D(2002, 5, 4)), vote())) == []  # 216 months that day
    assert codes(run(dossier_state(born=D(2002, 5, 5)), vote())) == ["age_under_18"]  # 215
    [v] = run(dossier_state(born=D(2002, 5, 5)), vote())
    assert v.params["months"] == 215


def test_age_over_60_unless_the_consent_is_recorded():
    assert codes(run(dossier_state(born=D(1960, 5, 4)), vote())) == []  # 720 months
    assert codes(run(dossier_state(born=D(1960, 4, 4)), vote())) == ["age_over_60"]  # 721
    consent = dossier_state(born=D(1960, 4, 4)).documents + (("over_60_consent", D(2020, 4, 20)),)
    assert codes(run(dossier_state(born=D(1960, 4, 4), documents=consent), vote())) == []
    late = dossier_state().documents + (("over_60_consent", D(2020, 5, 5)),)
    assert codes(run(dossier_state(born=D(1960, 4, 4), documents=late), vote())) == ["age_over_60"]


def test_missing_birth_date_cannot_pass_the_age_rule():
    assert codes(run(dossier_state(born=None), vote())) == ["age_under_18"]


@pytest.mark.parametrize("education, mountain, ok", [
    ("9/12", False, True), ("8/12", False, False), ("7/10", False, True), ("6/10", False, False),
    ("5/12", False, False), ("5/12", True, True), ("4/12", True, False),
    ("4/10", True, True), ("3/10", True, False), ("12/12", False, True), (None, True, False),
    ("lớp 9", False, False),
])
def test_education(education, mountain, ok):
    found = codes(run(dossier_state(education=education, mountain=mountain), vote()))
    assert found == ([] if ok else ["education"])


def test_certificate_valid_through_issue_plus_60_months():
    state = dossier_state(certificates=(("awareness", D(2015, 5, 4)),))
    assert codes(run(state, vote(D(2020, 5, 4)))) == []
    later = dossier_state(certificates=(("awareness", D(2015, 5, 4)),),
                          committee_on={D(2020, 5, 5): True}, official_members_on={D(2020, 5, 5): 23})
    [v] = run(later, vote(D(2020, 5, 5)))
    assert v.code == "certificate_expired" and v.params["valid_through"] == "2020-05-04"


def test_certificate_month_end_clamped():
    """Issued 29/02/2016: valid through 28/02/2021 (60 months on, clamped)."""
    assert add_months(D(2021, 1, 31), 1) == D(2021, 2, 28)
    assert add_months(D(2020, 1, 31), 1) == D(2020, 2, 29)
    state = dossier_state(certificates=(("awareness", D(2016, 2, 29)),), steps=())
    state = dataclasses.replace(state, steps=(StepRecord(1, "dossier", D(2021, 1, 4)),))
    assert "certificate_expired" not in codes(run(state, vote(D(2021, 2, 28))))
    assert "certificate_expired" in codes(run(state, vote(D(2021, 3, 1))))


def test_certificate_missing_at_the_vote_and_at_certified():
    assert codes(run(dossier_state(certificates=()), vote())) == ["certificate_missing"]
    # a certificate issued after the vote does not count
    assert codes(run(dossier_state(certificates=(("awareness", D(2020, 5, 5)),)), vote())) == \
        ["certificate_missing"]
    at_class = CaseState(case_id=1, branch_id=BRANCH, stage="in_class",
                         steps=(StepRecord(1, "identified", D(2019, 1, 1)),
                                StepRecord(2, "in_class", D(2019, 2, 1))))
    assert codes(run(at_class, StepInput("certified", D(2019, 3, 1)))) == ["certificate_missing"]
    cert = CertificateInput("12/2019", D(2019, 3, 1), "Trung tâm Chính trị")
    assert run(at_class, StepInput("certified", D(2019, 3, 1), certificate=cert)) == []


def test_introducer_together_11_or_12_months():
    def with_since(since):
        intros = (IntroducerInput("member", A, date=D(2020, 4, 1), together_since=since),
                  dossier_state().introducers[1])
        return run(dossier_state(introducers=intros), vote())

    assert codes(with_since(D(2019, 4, 1))) == []  # 12 full months on 01/04/2020
    assert codes(with_since(D(2019, 4, 2))) == ["introducer_too_short"]  # 11
    # a replacement introducer is exempt
    intros = (IntroducerInput("member", A, date=D(2020, 4, 1), together_since=D(2020, 1, 1), replacement=True),
              dossier_state().introducers[1])
    assert codes(run(dossier_state(introducers=intros), vote())) == []


def test_introducer_time_together_from_the_affiliation_history():
    # A has no together_since: the later of A's and the candidate's arrival in the branch
    state = dossier_state(candidate=MemberFacts((), ((BRANCH, D(2019, 4, 2), None),)))
    assert codes(run(state, vote())) == ["introducer_too_short"]
    state = dossier_state(candidate=MemberFacts((), ((BRANCH, D(2019, 4, 1), None),)))
    assert codes(run(state, vote())) == []


def test_introducer_must_be_official_on_the_introduction_day():
    assert codes(run(dossier_state(members={A: member(D(2020, 4, 1)), B: member()}), vote())) == []
    found = run(dossier_state(members={A: member(D(2020, 4, 2)), B: member()}), vote())
    assert codes(found) == ["introducer_not_official"]
    ended = run(dossier_state(members={A: member(ended=D(2020, 3, 1)), B: member()}), vote())
    assert codes(ended) == ["introducer_not_official"]
    # an introducer from another database: the snapshot's official date is used
    snap = IntroducerInput("member", None, {"full_name": "X", "official_on": "2012-01-01"},
                           date=D(2020, 4, 1), together_since=D(2017, 1, 1))
    assert codes(run(dossier_state(introducers=(snap, dossier_state().introducers[1])), vote())) == []
    probationary = dataclasses.replace(snap, snapshot={"full_name": "X", "official_on": None})
    assert codes(run(dossier_state(introducers=(probationary, dossier_state().introducers[1])), vote())) \
        == ["introducer_not_official"]


def test_introducers_checked_when_recorded():
    at_certified = dossier_state(stage="certified", steps=dossier_state().steps[:3], introducers=())
    step = StepInput("dossier", D(2020, 3, 2), introducers=(IntroducerInput("member", A),),
                     documents=(("application_letter", D(2020, 3, 2)),))
    assert run(at_certified, step) == []
    early = dataclasses.replace(at_certified, members={A: member(official_on=D(2020, 6, 1))})
    assert codes(run(early, step)) == ["introducer_not_official"]


def test_introducers_missing_and_the_youth_and_trade_union_paths():
    one = (dossier_state().introducers[0],)
    youth = IntroducerInput("youth_union", resolution="05-NQ/ĐTN", date=D(2020, 4, 1))
    trade = IntroducerInput("trade_union", resolution="03-NQ/CĐCS", date=D(2020, 4, 1))
    assert codes(run(dossier_state(introducers=one), vote())) == ["introducers_missing"]
    # 30 years old (up to 30: 371 full months) on the resolution's day
    assert codes(run(dossier_state(introducers=one + (youth,), youth_union=True, born=D(1989, 4, 2)),
                     vote())) == []
    assert codes(run(dossier_state(introducers=one + (youth,), youth_union=True, born=D(1989, 4, 1)),
                     vote())) == ["introducers_missing"]
    assert codes(run(dossier_state(introducers=one + (youth,), youth_union=True, born=D(1989, 4, 1),
                                   youth_age_limit=31), vote())) == []
    assert codes(run(dossier_state(introducers=one + (youth,), youth_union=False), vote())) == \
        ["introducers_missing"]
    no_number = dataclasses.replace(youth, resolution=None)
    assert codes(run(dossier_state(introducers=one + (no_number,), youth_union=True), vote())) == \
        ["introducers_missing"]
    assert codes(run(dossier_state(introducers=one + (trade,), trade_union=True), vote())) == []
    assert codes(run(dossier_state(introducers=one + (trade,)), vote())) == ["introducers_missing"]


@pytest.mark.parametrize("votes, ok", [((14, 23, 2), True), ((13, 23, 2), False), ((2, 3, 0), True),
                                       ((1, 3, 0), False), ((24, 23, 0), False), (None, False)])
def test_two_thirds_of_convened_minus_excused(votes, ok):
    assert codes(run(dossier_state(), vote(votes=votes))) == ([] if ok else ["vote_below_two_thirds"])


def test_vote_base_differs_is_a_warning():
    found = run(dossier_state(official_members_on={VOTE: 25}), vote())
    assert codes(found) == [] and codes(found, warnings=True) == ["vote_base_differs"]


def test_document_missing_or_received_after_the_vote():
    docs = tuple(d for d in dossier_state().documents if d[0] != "background_verification")
    [v] = run(dossier_state(documents=docs), vote())
    assert (v.code, v.params) == ("document_missing", {"kind": "background_verification"})
    late = docs + (("background_verification", D(2020, 5, 5)),)
    assert codes(run(dossier_state(documents=late), vote())) == ["document_missing"]
    on_the_day = docs + (("background_verification", VOTE),)
    assert codes(run(dossier_state(documents=on_the_day), vote())) == []


def test_stage_order_skipped_stage_and_closed_file():
    assert codes(run(dossier_state(), StepInput("admitted", VOTE, decision="1-QĐ/HU"))) == ["stage_order"]
    identified = CaseState(case_id=1, branch_id=BRANCH, stage="identified",
                           steps=(StepRecord(1, "identified", D(2019, 1, 1)),))
    assert codes(run(identified, StepInput("dossier", D(2019, 2, 1)))) == ["stage_order"]
    assert run(identified, StepInput("in_class", D(2019, 2, 1))) == []
    assert run(dataclasses.replace(identified, steps=(), stage="identified"),
               StepInput("identified", D(2019, 1, 1))) == []
    assert codes(run(dataclasses.replace(identified, steps=()), StepInput("in_class", D(2019, 1, 1)))) == \
        ["stage_order"]
    assert codes(run(dataclasses.replace(identified, status="closed"), StepInput("in_class", D(2019, 2, 1)))) \
        == ["stage_order"]
    # backwards moves of section 3
    in_class = dataclasses.replace(identified, stage="in_class",
                                   steps=identified.steps + (StepRecord(2, "in_class", D(2019, 2, 1)),))
    assert run(in_class, StepInput("identified", D(2019, 3, 1))) == []


def _approved(committee: bool) -> CaseState:
    return dossier_state(stage="branch_approved", committee_on={VOTE: committee},
                         steps=dossier_state().steps + (StepRecord(5, "branch_approved", VOTE),))


def test_committee_vote_required_exactly_inside_a_grassroots_committee():
    committee = StepInput("committee_approved", D(2020, 5, 15), resolution="30-NQ/ĐU", votes=(9, 11, 0))
    decision = StepInput("admitted", D(2020, 6, 1), decision="215-QĐ/HU", received=D(2020, 6, 3))
    assert run(_approved(True), committee) == []
    assert codes(run(_approved(True), decision)) == ["stage_order"]
    assert codes(run(_approved(False), committee)) == ["stage_order"]
    assert run(_approved(False), decision) == []
    assert codes(run(_approved(True), dataclasses.replace(committee, votes=(7, 11, 0)))) == \
        ["vote_below_two_thirds"]


def test_date_order():
    assert "date_order" in codes(run(dossier_state(), vote(D(2020, 3, 1))))
    assert codes(run(dossier_state(), vote(), today=D(2020, 5, 3))) == ["date_order"]
    assert run(dossier_state(), vote(), today=VOTE) == []


def test_readmission_36_months_out_once_only():
    state = dossier_state(readmission=True, earlier_memberships=((D(2005, 1, 1), D(2017, 5, 4)),))
    assert codes(run(state, vote())) == []  # 36 months out on 04/05/2020
    state = dossier_state(readmission=True, earlier_memberships=((D(2005, 1, 1), D(2017, 5, 5)),))
    assert codes(run(state, vote())) == ["readmission_too_soon"]
    twice = dossier_state(earlier_memberships=((D(2000, 1, 1), D(2005, 1, 1)), (D(2009, 1, 1), D(2012, 1, 1))))
    assert codes(run(twice, vote())) == ["readmission_too_soon"]


# --- after the vote: deadlines, ceremony, recognition ---------------------------------------------

def _later(stage: str, *records: StepRecord) -> CaseState:
    return dossier_state(stage=stage, steps=_approved(True).steps + records,
                         committee_on={VOTE: True, D(2021, 6, 21): True},
                         official_members_on={VOTE: 23, D(2021, 6, 21): 23})


COMMITTEE = StepRecord(6, "committee_approved", D(2020, 5, 15))
ADMITTED = StepRecord(7, "admitted", D(2020, 6, 1), received=D(2020, 6, 3))
CEREMONY = StepRecord(8, "probationary", D(2020, 6, 20))


def test_decision_late_60_working_days_or_90_with_an_extension():
    state = _later("committee_approved", COMMITTEE)
    due = NO_EXCEPTIONS.add(VOTE, 60)
    on_time = StepInput("admitted", due, decision="1-QĐ/HU", received=due)
    assert run(state, on_time) == []
    late = dataclasses.replace(on_time, date=due + datetime.timedelta(days=1), received=None)
    assert codes(run(state, late), warnings=True) == ["decision_late"]
    assert run(state, dataclasses.replace(late, extension=True)) == []
    assert codes(run(state, dataclasses.replace(on_time, decision=None))) == ["document_missing"]


def test_ceremony_and_member_records_late():
    state = _later("admitted", COMMITTEE, ADMITTED)
    due = NO_EXCEPTIONS.add(D(2020, 6, 3), 30)  # from the day the branch received the decision
    assert run(state, StepInput("probationary", due, helper=A)) == []
    late = StepInput("probationary", due + datetime.timedelta(days=1))
    assert codes(run(state, late), warnings=True) == ["ceremony_late"]
    records_due = NO_EXCEPTIONS.add(due, 30)
    step = StepInput("probationary", due, documents=(("member_records", records_due + datetime.timedelta(days=1)),))
    assert codes(run(state, step, today=D(2022, 1, 1)), warnings=True) == ["member_records_late"]


def recognition(day=D(2021, 6, 25), branch_day=D(2021, 6, 21), **over) -> StepInput:
    fields = dict(decision="301-QĐ/HU",
                  branch_resolution=ResolutionInput("20-NQ/CB", branch_day, Votes(20, 23, 1)),
                  committee_resolution=ResolutionInput("41-NQ/ĐU", D(2021, 6, 23), Votes(10, 11, 0)),
                  documents=(("new_member_certificate", D(2021, 1, 10)),))
    fields.update(over)
    return StepInput("official", day, **fields)


def _probation():
    state = _later("probationary", COMMITTEE, ADMITTED, CEREMONY)
    return dataclasses.replace(state, documents=state.documents + (("member_records", D(2020, 7, 1)),),
                               official_members_on={**state.official_members_on, D(2021, 6, 20): 23},
                               committee_on={**state.committee_on, D(2021, 6, 20): True})


def test_probation_not_complete_one_day_short():
    state = _probation()  # ceremony 20/06/2020: official from 20/06/2021
    assert run(state, recognition(branch_day=D(2021, 6, 20))) == []
    short = run(state, recognition(D(2021, 6, 25), branch_day=D(2021, 6, 19),
                                   ))
    assert "probation_not_complete" in codes(short)


def test_recognition_needs_the_new_member_class_and_its_resolutions():
    state = _probation()
    assert codes(run(state, recognition(documents=()))) == ["new_member_class_missing"]
    with_certificate = dataclasses.replace(state, certificates=state.certificates + (("new_member", D(2021, 1, 10)),))
    assert run(with_certificate, recognition(documents=())) == []
    assert codes(run(state, recognition(committee_resolution=None))) == ["document_missing"]
    assert codes(run(state, recognition(branch_resolution=ResolutionInput("20-NQ/CB", D(2021, 6, 21),
                                                                          Votes(14, 23, 2))))) == []
    assert codes(run(state, recognition(branch_resolution=ResolutionInput("20-NQ/CB", D(2021, 6, 21),
                                                                          Votes(13, 23, 2))))) == \
        ["vote_below_two_thirds"]


def test_recognition_late():
    state = _probation()
    review_due = NO_EXCEPTIONS.add(D(2021, 6, 20), 30)
    late = recognition(day=review_due + datetime.timedelta(days=3), branch_day=review_due + datetime.timedelta(days=1),
                       committee_resolution=ResolutionInput("41", review_due + datetime.timedelta(days=2),
                                                            Votes(10, 11, 0)))
    state = dataclasses.replace(state, official_members_on={late.branch_resolution.date: 23})
    found = run(state, late)
    assert codes(found) == [] and codes(found, warnings=True) == ["recognition_late"]


# --- writes on a small database ---------------------------------------------------------------

@pytest.fixture
def world(admin):
    w = SimpleNamespace(admin=admin)
    w.district = make_unit("HU", "Huyện ủy", "committee", level="district", founded=D(2000, 1, 1))
    w.commune = make_unit("XA", "Đảng bộ xã", "grassroots_committee", w.district, level="commune")
    w.branch = make_unit("XA01", "Chi bộ thôn Một", "branch", w.commune, category="village")
    w.other = make_unit("XB", "Chi bộ cơ sở Hai", "grassroots_branch", w.district)
    for unit in (w.commune, w.branch, w.other):
        unit.decides_admissions = w.district
        unit.save()
    w.members = []
    for n in range(3):
        p = make_person(f"Đảng viên Số {n}", w.branch, born=D(1970, 1, 1))
        models.Membership.create(person=p, admitted_on=D(2000, 1, 1), ceremony_on=D(2000, 2, 1),
                                 official_on=D(2001, 2, 1))
        models.Affiliation.create(person=p, unit=w.branch, start=D(2005, 1, 1))
        w.members.append(p)
    w.candidate = make_person("Hoàng Thị Mai", w.branch, born=D(2000, 1, 15), education="12/12",
                              citizen_id="000300000001")
    models.Affiliation.create(person=w.candidate, unit=w.branch, start=D(2016, 1, 1))
    w.case = models.CaseFile.create(person=w.candidate, branch=w.branch, stage="identified")
    w.organiser = Actor(None, "org", "organiser", w.district.id)
    w.secretary = Actor(None, "sec", "secretary", w.branch.id)
    w.viewer = Actor(None, "view", "viewer", None)
    w.outsider = Actor(None, "out", "organiser", w.other.id)
    return w


def walk(w, until: str):
    """Take the file through the pipeline up to `until` (inclusive); returns the last view."""
    m0, m1, _m2 = w.members
    steps = [
        StepInput("identified", D(2020, 1, 10), helper=m0.id, recommended_by="Đoàn thanh niên"),
        StepInput("in_class", D(2020, 2, 3)),
        StepInput("certified", D(2020, 3, 2), certificate=CertificateInput("12/2020", D(2020, 3, 2), "TTCT")),
        StepInput("dossier", D(2020, 4, 1),
                  documents=tuple((k, D(2020, 4, 1)) for k in pipeline.BRANCH_DOCUMENTS),
                  introducers=(IntroducerInput("member", m0.id), IntroducerInput("member", m1.id))),
        StepInput("branch_approved", D(2020, 5, 4), resolution="12-NQ/CB", votes=(2, 3, 0)),
        StepInput("committee_approved", D(2020, 5, 15), resolution="30-NQ/ĐU", votes=(9, 11, 0)),
        StepInput("admitted", D(2020, 6, 1), decision="215-QĐ/HU", received=D(2020, 6, 3)),
        StepInput("probationary", D(2020, 6, 22), documents=(("member_records", D(2020, 7, 1)),)),
        StepInput("official", D(2021, 6, 25), decision="301-QĐ/HU",
                  branch_resolution=ResolutionInput("20-NQ/CB", D(2021, 6, 22), Votes(3, 3, 0)),
                  committee_resolution=ResolutionInput("41-NQ/ĐU", D(2021, 6, 23), Votes(10, 11, 0)),
                  documents=(("new_member_certificate", D(2021, 1, 10)),)),
    ]
    view = None
    for step in steps:
        view = pipeline.apply(w.admin, w.case.id, step, TODAY)
        if step.stage == until:
            return view
    return view


def test_a_whole_file_through_apply(world):
    w = world
    view = walk(w, "official")
    assert view.stage == "official" and view.status == "closed"
    assert [s.stage for s in view.steps] == list(pipeline.STAGES)
    assert [s.seq for s in view.steps] == list(range(1, 10))
    case = models.CaseFile.get_by_id(w.case.id)
    assert case.version == 1 + 9
    m = models.Membership.get(models.Membership.case == w.case.id)
    assert (m.admitted_on, m.ceremony_on, m.official_on) == (D(2020, 6, 1), D(2020, 6, 22), D(2021, 6, 22))
    units = {s.stage: s.unit.code for s in view.steps}
    assert units["committee_approved"] == "XA" and units["admitted"] == "HU" and units["dossier"] == "XA01"
    assert {i.person_id for i in view.introducers} == {w.members[0].id, w.members[1].id}
    assert all(i.date == D(2020, 4, 1) for i in view.introducers)
    assert [c.number for c in view.certificates] == ["12/2020"]
    official = view.steps[-1]
    assert {r.kind for r in official.resolutions} == {"branch_resolution", "committee_resolution", "decision"}
    assert models.AuditEntry.select().where(models.AuditEntry.entity_id == w.case.id).count() == 9
    entry = models.AuditEntry.select().order_by(models.AuditEntry.id.desc()).first()
    assert entry.hash and entry.prev_hash and json.loads(entry.after)["stage"] == "official"
    # every step replays clean through the pure rules
    full = pipeline.read_state(w.case.id)
    for i, (_seq, step) in enumerate(pipeline.stored_steps(w.case.id)):
        state = dataclasses.replace(full, steps=full.steps[:i], stage=full.steps[i - 1].stage if i else None)
        assert pipeline.blocking(check_step(state, step, TODAY)) == []


DUMP_SKIP = {"audit_entry", "migratehistory", "moves"}


def dump(path) -> dict:
    con = sqlite3.connect(path)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
                  if t not in DUMP_SKIP and not t.startswith("sqlite_") and "fts" not in t]
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
    finally:
        con.close()


@pytest.mark.sqlite_only("compares the file's rows read with the sqlite3 module")
def test_a_refused_step_changes_nothing(world, empty_db):
    w = world
    walk(w, "dossier")
    models.database.obj.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    before = dump(empty_db)
    audit_before = models.AuditEntry.select().count()
    bad = StepInput("branch_approved", D(2020, 5, 4), resolution="12-NQ/CB", votes=(1, 3, 0),
                    documents=(("comments", D(2020, 5, 1)),),
                    introducers=(IntroducerInput("member", w.members[2].id),))
    with pytest.raises(StepRefused) as refused:
        pipeline.apply(w.admin, w.case.id, bad, TODAY)
    assert [v.code for v in refused.value.violations] == ["vote_below_two_thirds"]
    assert not refused.value.needs_override
    models.database.obj.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert dump(empty_db) == before
    assert models.AuditEntry.select().count() == audit_before


def test_failed_vote_is_an_event_and_the_file_stays_in_dossier(world):
    w = world
    walk(w, "dossier")
    view = pipeline.record_failed_vote(w.admin, w.case.id, D(2020, 5, 4), (1, 3, 0), TODAY,
                                       reason="Không đủ hai phần ba", resolution="12-NQ/CB")
    assert view.stage == "dossier"
    event = models.CaseEvent.get(models.CaseEvent.kind == "vote_failed")
    assert json.loads(event.details)["votes"] == {"for": 1, "convened": 3, "excused": 0}
    with pytest.raises(PipelineError) as passed:
        pipeline.record_failed_vote(w.admin, w.case.id, D(2020, 5, 5), (2, 3, 0), TODAY, reason="x")
    assert passed.value.code == "bad_value"
    with pytest.raises(PipelineError):
        pipeline.record_failed_vote(w.admin, w.case.id, D(2020, 5, 5), (1, 3, 0), TODAY, reason=" ")
    # a later vote passes
    walk_on = StepInput("branch_approved", D(2020, 6, 1), resolution="15-NQ/CB", votes=(3, 3, 0))
    assert pipeline.apply(w.admin, w.case.id, walk_on, TODAY).stage == "branch_approved"


def test_warnings_need_a_reason_and_a_role_that_may_override(world):
    w = world
    walk(w, "committee_approved")
    late = StepInput("admitted", D(2020, 10, 1), decision="215-QĐ/HU")
    with pytest.raises(StepRefused) as refused:
        pipeline.apply(w.admin, w.case.id, late, TODAY)
    assert refused.value.needs_override and [v.code for v in refused.value.violations] == ["decision_late"]
    with pytest.raises(AccessError) as forbidden:
        pipeline.apply(w.secretary, w.case.id, late, TODAY, override_reason="Chậm do bão lũ")
    assert forbidden.value.code == "forbidden"
    with pytest.raises(StepRefused):  # the secretary without a reason: the warnings themselves
        pipeline.apply(w.secretary, w.case.id, late, TODAY)
    with pytest.raises(StepRefused):
        pipeline.apply(w.organiser, w.case.id, late, TODAY, override_reason="  ")
    view = pipeline.apply(w.organiser, w.case.id, late, TODAY, override_reason="Chậm do bão lũ")
    assert view.stage == "admitted"
    event = models.CaseEvent.get(models.CaseEvent.kind == "override")
    assert event.reason == "Chậm do bão lũ" and json.loads(event.details)["codes"] == ["decision_late"]


def test_permissions(world):
    w = world
    step = StepInput("identified", D(2020, 1, 10))
    with pytest.raises(AccessError) as forbidden:
        pipeline.apply(w.viewer, w.case.id, step, TODAY)
    assert forbidden.value.code == "forbidden"
    with pytest.raises(NotFound):
        pipeline.apply(w.outsider, w.case.id, step, TODAY)
    with pytest.raises(NotFound):
        pipeline.apply(w.admin, 999, step, TODAY)
    assert pipeline.apply(w.secretary, w.case.id, step, TODAY).stage == "identified"
    with pytest.raises(AccessError):
        pipeline.hold(w.viewer, w.case.id, "x", today=TODAY)


def test_undo_last(world):
    w = world
    walk(w, "dossier")
    with pytest.raises(PipelineError) as no_reason:
        pipeline.undo_last(w.admin, w.case.id, "", TODAY)
    assert no_reason.value.code == "reason_required"
    view = pipeline.undo_last(w.admin, w.case.id, "Nhập nhầm ngày", TODAY)
    assert view.stage == "certified"
    assert [(s.stage, s.undone) for s in view.steps][-1] == ("dossier", True)
    assert view.steps[-1].undo_reason == "Nhập nhầm ngày"
    assert models.CaseEvent.get(models.CaseEvent.kind == "undo").reason == "Nhập nhầm ngày"
    # the next step gets the next seq; the undone step stays
    again = StepInput("dossier", D(2020, 4, 2), documents=())
    assert [s.seq for s in pipeline.apply(w.admin, w.case.id, again, TODAY).steps] == [1, 2, 3, 4, 5]
    for _ in range(3):
        pipeline.undo_last(w.admin, w.case.id, "sai", TODAY)
    with pytest.raises(PipelineError) as nothing:
        pipeline.undo_last(w.admin, w.case.id, "sai", TODAY)
    assert nothing.value.code == "nothing_to_undo"


def test_undo_the_ceremony_removes_its_membership(world):
    w = world
    walk(w, "probationary")
    assert models.Membership.select().where(models.Membership.case == w.case.id).count() == 1
    assert pipeline.undo_last(w.admin, w.case.id, "Sai ngày lễ", TODAY).stage == "admitted"
    assert models.Membership.select().where(models.Membership.case == w.case.id).count() == 0


def test_close_and_reopen(world):
    w = world
    walk(w, "dossier")
    with pytest.raises(PipelineError) as no_reason:
        pipeline.close(w.admin, w.case.id, "withdrawn", D(2020, 4, 10), "", today=TODAY)
    assert no_reason.value.code == "reason_required"
    with pytest.raises(StepRefused) as refused:
        pipeline.close(w.admin, w.case.id, "struck_off", D(2020, 4, 10), "lý do", today=TODAY)
    assert [v.code for v in refused.value.violations] == ["stage_order"]
    with pytest.raises(PipelineError):
        pipeline.close(w.admin, w.case.id, "vanished", D(2020, 4, 10), "lý do", today=TODAY)
    with pytest.raises(StepRefused):  # before the last step
        pipeline.close(w.admin, w.case.id, "withdrawn", D(2020, 3, 10), "lý do", today=TODAY)
    view = pipeline.close(w.admin, w.case.id, "withdrawn", D(2020, 4, 10), "Xin rút", today=TODAY)
    assert (view.status, view.outcome, view.stage) == ("closed", "withdrawn", "dossier")
    with pytest.raises(StepRefused) as closed:
        pipeline.apply(w.admin, w.case.id, StepInput("branch_approved", D(2020, 5, 4), resolution="1",
                                                     votes=(3, 3, 0)), TODAY)
    assert [v.code for v in closed.value.violations] == ["stage_order"]
    with pytest.raises(PipelineError):
        pipeline.reopen(w.admin, w.case.id, " ", today=TODAY)
    view = pipeline.reopen(w.admin, w.case.id, "Nộp lại đơn", today=TODAY)
    assert (view.status, view.outcome, view.stage) == ("open", None, "dossier")
    with pytest.raises(PipelineError) as not_closed:
        pipeline.reopen(w.admin, w.case.id, "again", today=TODAY)
    assert not_closed.value.code == "not_closed"


def test_struck_off_only_from_probationary_ends_the_membership(world):
    w = world
    walk(w, "probationary")
    pipeline.close(w.admin, w.case.id, "struck_off", D(2020, 12, 1), "Vi phạm", today=TODAY)
    m = models.Membership.get(models.Membership.case == w.case.id)
    assert (m.ended_on, m.end_reason) == (D(2020, 12, 1), "struck_off")
    pipeline.reopen(w.admin, w.case.id, "Quyết định bị hủy", today=TODAY)
    m = models.Membership.get(models.Membership.case == w.case.id)
    assert m.ended_on is None and m.end_reason is None


def test_hold_and_release(world):
    w = world
    walk(w, "dossier")
    with pytest.raises(PipelineError):
        pipeline.hold(w.admin, w.case.id, "", today=TODAY)
    with pytest.raises(PipelineError) as not_held:
        pipeline.release(w.admin, w.case.id, today=TODAY)
    assert not_held.value.code == "not_on_hold"
    view = pipeline.hold(w.admin, w.case.id, "Đang thẩm tra lý lịch", today=TODAY)
    assert (view.status, view.hold_reason) == ("on_hold", "Đang thẩm tra lý lịch")
    with pytest.raises(PipelineError):
        pipeline.hold(w.admin, w.case.id, "again", today=TODAY)
    view = pipeline.release(w.admin, w.case.id, today=TODAY)
    assert (view.status, view.hold_reason) == ("open", None)
    kinds = [e.kind for e in models.CaseEvent.select().order_by(models.CaseEvent.id)]
    assert kinds == ["hold", "release"]


def test_check_reports_without_writing(world):
    w = world
    walk(w, "certified")
    found = pipeline.check(w.admin, w.case.id, StepInput("branch_approved", D(2020, 5, 4)), TODAY)
    assert "stage_order" in codes(found)
    assert models.CaseFile.get_by_id(w.case.id).stage == "certified"


def test_a_grassroots_branch_goes_straight_to_the_decision(world):
    w = world
    m = make_person("Đảng viên Khác", w.other, born=D(1970, 1, 1))
    assert not pipeline.in_grassroots_committee(w.other.id, D(2020, 1, 1))
    assert pipeline.in_grassroots_committee(w.branch.id, D(2020, 1, 1))
    assert m.id


# --- the demo agrees with the engine -------------------------------------------------------------

def test_every_demo_file_replays_through_the_rules(demo_db):
    """Each live step of each demo file, checked against the state before it: nothing blocks."""
    today = D(2021, 9, 30)
    workdays = WorkingDays()
    tree = pipeline.UnitTree()
    problems: dict[int, list] = {}
    checked = 0
    for (case_id,) in models.CaseFile.select(models.CaseFile.id).tuples():
        full = pipeline.read_state(case_id, tree=tree)
        for i, (_seq, step) in enumerate(pipeline.stored_steps(case_id)):
            state = dataclasses.replace(full, steps=full.steps[:i], status="open",
                                        stage=full.steps[i - 1].stage if i else None)
            bad = pipeline.blocking(check_step(state, step, today, workdays))
            checked += 1
            if bad:
                problems.setdefault(case_id, []).append((step.stage, [(v.code, v.params) for v in bad]))
    assert checked > 9000
    assert not problems, dict(list(problems.items())[:5])


def test_demo_replay_is_not_vacuous(demo_db):
    """The same replay finds the faults put into a demo file's branch vote."""
    S = models.Step
    vote_row = S.select().where((S.stage == "branch_approved") & S.undone_at.is_null()).order_by(S.id).first()
    full = pipeline.read_state(vote_row.case_id)
    steps = dict(pipeline.stored_steps(vote_row.case_id))
    state = dataclasses.replace(full, steps=tuple(s for s in full.steps if s.seq < vote_row.seq),
                                stage="dossier", status="open")
    step = steps[vote_row.seq]
    assert pipeline.blocking(check_step(state, step, TODAY)) == []
    worse = dataclasses.replace(state, documents=(), introducers=state.introducers[:1], certificates=())
    found = codes(check_step(worse, dataclasses.replace(step, votes=Votes(1, 20, 0)), TODAY))
    assert {"document_missing", "introducers_missing", "certificate_missing",
            "vote_below_two_thirds"} <= set(found)


# --- the case-file JSON step object ------------------------------------------------------------

def test_step_from_dict_reads_the_interfaces_example():
    by_citizen = {"001": 5}
    lookup = lambda obj: by_citizen.get(obj.get("citizen_id"))  # noqa: E731
    dossier = pipeline.step_from_dict({
        "stage": "dossier", "date": "2020-06-01",
        "documents": [{"kind": "application_letter", "received": "2020-06-01"}],
        "introducers": [{"citizen_id": "001", "kind": "member", "date": "2020-08-15",
                         "together_since": "2018-01-01"},
                        {"citizen_id": "999", "kind": "member", "full_name": "Nông Văn A",
                         "official_on": "2010-01-01"},
                        {"kind": "youth_union", "resolution": "05-NQ/ĐTN", "date": "2020-08-15"}]},
        lookup)
    assert dossier.documents == (("application_letter", D(2020, 6, 1)),)
    member, snap, youth = dossier.introducers
    assert (member.person_id, member.together_since) == (5, D(2018, 1, 1))
    assert snap.person_id is None and snap.snapshot["official_on"] == "2010-01-01" and snap.date is None
    assert (youth.kind, youth.resolution) == ("youth_union", "05-NQ/ĐTN")
    vote_step = pipeline.step_from_dict({"stage": "branch_approved", "date": "2020-09-01",
                                         "resolution": "12-NQ/CB",
                                         "votes": {"for": 20, "convened": 27, "excused": 2}})
    assert vote_step.votes == Votes(20, 27, 2)
    admitted = pipeline.step_from_dict({"stage": "admitted", "date": "2020-10-20", "decision": "215-QĐ/HU"})
    assert admitted.received == D(2020, 10, 20)  # defaults to the decision date
    official = pipeline.step_from_dict({
        "stage": "official", "date": "2021-11-20", "decision": "301-QĐ/HU",
        "branch_resolution": {"number": "20-NQ/CB", "date": "2021-11-08",
                              "votes": {"for": 22, "convened": 27, "excused": 1}}})
    assert official.branch_resolution == ResolutionInput("20-NQ/CB", D(2021, 11, 8), Votes(22, 27, 1))
    helper = pipeline.step_from_dict({"stage": "probationary", "date": "2020-11-05",
                                      "helper": {"citizen_id": "001"}}, lookup)
    assert helper.helper == 5


@pytest.mark.parametrize("bad", [
    {"stage": "approved", "date": "2020-01-01"},
    {"stage": "dossier"},
    {"stage": "dossier", "date": "01/13/2020"},
    {"stage": "branch_approved", "date": "2020-01-01", "votes": {"for": "many", "convened": 3}},
    {"stage": "dossier", "date": "2020-01-01", "introducers": [{"kind": "friend"}]},
])
def test_step_from_dict_refuses_bad_values(bad):
    with pytest.raises(PipelineError) as refused:
        pipeline.step_from_dict(bad)
    assert refused.value.code == "bad_value"


def test_a_legacy_file_without_step_rows_moves_on_from_its_stage():
    legacy = CaseState(case_id=1, branch_id=BRANCH, stage="admitted")
    assert run(legacy, StepInput("probationary", D(2020, 6, 1))) == []
    assert "stage_order" in codes(run(legacy, StepInput("official", D(2020, 6, 1))))


def test_vote_base_is_the_branch_official_members_on_the_day(world):
    w = world
    walk(w, "dossier")
    step = StepInput("branch_approved", D(2020, 5, 4), resolution="12-NQ/CB", votes=(3, 4, 0))
    with pytest.raises(StepRefused) as refused:
        pipeline.apply(w.admin, w.case.id, step, TODAY)
    [v] = refused.value.violations
    assert (v.code, v.warning, v.params["official_members"], v.params["convened"]) == \
        ("vote_base_differs", True, 3, 4)
    assert pipeline.official_members(w.branch.id, D(2020, 5, 4)) == 3
    assert pipeline.official_members(w.branch.id, D(2000, 5, 4)) == 0  # before any affiliation
