"""The Ngân Sơn demo data set: the article's figures come out of the rows, and every file follows
the rules of domain.md sections 3–5.

The figures are computed here straight from the tables (tests/demo_figures.py holds the
definitions), never with the loader's own code. The definitions, for reuse by the progress
module:

- member on D: Membership.ceremony_on <= D and (ended_on null or ended_on > D); official when
  official_on <= D, else probationary; counted in unit X when the person's Affiliation on D
  (start <= D < end, or end null) is a unit of X's subtree on D (UnitLink parent history; alive
  units: founded <= D and (ended null or ended > D));
- branches of X on D: alive units of org_type branch or grassroots_branch in X's subtree on D;
- admitted in year Y as of D: live (not undone) `admitted` steps dated 01/01/Y..D whose file's
  branch (the unit of its branch_approved step: the branch that voted) was in X's subtree on the
  decision date;
- sent to class: people whose Affiliation on the class's start date was in X's subtree, enrolled
  in awareness classes starting 01/01/Y..D (each person once);
- expected by year end: admitted + files open on D whose stage on D is branch_approved or
  committee_approved;
- classes held: awareness classes with TrainingClass.unit in X's subtree, year Y, start <= D;
  planned: the ClassPlan rows of the subtree for (Y, awareness); trainees: enrolments in the held
  classes;
- share of the population: members on D / the population of the commune-level units of the
  subtree on D, in percent to one decimal;
- reorganisations of a term: changes effective in the term; grassroots organisations = distinct
  grassroots_committee/grassroots_branch units among the sources; village branches = distinct
  village-category sources of splits and merges; agency branches dissolved = agency-category
  sources of dissolutions whose parent was commune-level, out of the agency branches under
  commune-level units alive on the term's first day.
"""

from __future__ import annotations

import datetime
import json
import re
import sqlite3
from collections import defaultdict

import pytest

from db import models
from db.calendar import WorkingDays, add_months, full_months_between
from db.demo import DemoError, load_demo
from tests import demo_figures as fig

Date = datetime.date
TODAY = Date(2021, 9, 30)
TERM_END = Date(2020, 6, 30)
ORGANISER = "Trung tâm Chính trị huyện Ngân Sơn"

ALLOWED = {
    "identified": {"in_class", "certified"},
    "in_class": {"certified", "identified"},
    "certified": {"dossier", "in_class"},
    "dossier": {"branch_approved"},
    "branch_approved": {"committee_approved", "admitted"},
    "committee_approved": {"admitted"},
    "admitted": {"probationary"},
    "probationary": {"official"},
}


# --- the article's figures --------------------------------------------------------------

def test_na_phac_on_30_09_2021(demo_db):
    np_ = fig.unit_id("NS-NP")
    assert fig.branch_count(np_, TODAY) == 27
    assert len(fig.member_ids(np_, TODAY)) == 635
    admitted = fig.admitted(np_, Date(2021, 1, 1), TODAY)
    assert admitted == 15
    assert fig.sent_to_class(np_, 2021, TODAY) == 23
    pending = fig.open_files_at(np_, TODAY, ("branch_approved", "committee_approved"))
    assert pending == 10
    assert admitted + pending == 25
    assert fig.target(np_, 2021) == 20


def test_district_in_2021(demo_db):
    ns = fig.unit_id("NS")
    classes = fig.classes(ns, 2021, TODAY)
    assert (classes["held"], classes["planned"], classes["trainees"]) == (4, 5, 152)
    assert round(100 * classes["held"] / classes["planned"], 1) == 80.0
    # Nà Phặc's 23 are among the 152
    E, A = models.Enrolment, models.Affiliation
    np_tree = fig.subtree(fig.unit_id("NS-NP"), TODAY)
    np_trainees = {e.person_id for e in E.select().where(E.training_class.in_(classes["held_ids"]))
                   if A.select().where((A.person == e.person_id) & A.unit.in_(list(np_tree))
                                       & A.end.is_null()).exists()}
    assert len(np_trainees) == 23
    # the classes are the district's, run by its political training centre; the fifth is not started
    C = models.TrainingClass
    of_2021 = list(C.select().where((C.year == 2021) & (C.kind == "awareness")).order_by(C.planned_start))
    assert {c.unit_id for c in of_2021} == {ns}
    assert {c.organiser for c in of_2021} == {ORGANISER}
    assert of_2021[-1].start is None and of_2021[-1].planned_start > TODAY and of_2021[-1].status == "planned"
    assert fig.admitted(ns, Date(2021, 1, 1), TODAY) == 113
    assert fig.target(ns, 2021) == 120


def test_district_at_the_end_of_the_2015_2020_term(demo_db):
    ns = fig.unit_id("NS")
    assert len(fig.member_ids(ns, TERM_END)) == 3267
    assert fig.population_share(ns, TERM_END) == 10.5
    assert fig.admitted(ns, Date(2015, 7, 1), TERM_END) == 801
    assert fig.reorganisations(ns, Date(2015, 7, 1), TERM_END) == {
        "grassroots": 4, "village_branches": 18, "agency_branches_dissolved": 7, "agency_branches_at_start": 7}
    T, Term = models.Target, models.Term
    term = Term.get(Term.name == "2020–2025")
    assert (term.start, term.end) == (Date(2020, 7, 1), Date(2025, 6, 30))
    row = T.get((T.unit == ns) & (T.term == term))
    assert row.value == 120 and row.year is None
    first = Term.get(Term.name == "2015–2020")
    assert (first.start, first.end) == (Date(2015, 7, 1), TERM_END)


def test_settings_accounts_and_tree(demo_db):
    S, A, U = models.Setting, models.Account, models.Unit
    assert S.get_by_id("today").value == "2021-09-30"
    assert S.get_by_id("demo").value == "1"
    accounts = {a.name: a for a in A.select()}
    assert accounts["tester"].role == "admin"
    expected = {"demo_admin": ("admin", None), "demo_organiser": ("organiser", "NS"),
                "demo_xa": ("organiser", "NS-NP"), "demo_viewer": ("viewer", "NS")}
    for name, (role, unit) in expected.items():
        assert accounts[name].role == role
        assert (accounts[name].unit.code if accounts[name].unit_id else None) == unit
        assert accounts[name].full_name
    secretary = accounts["demo_secretary"]
    assert secretary.role == "secretary" and secretary.unit.parent.code == "NS-NP"
    root = U.get(U.code == "BK")
    assert (root.name, root.level, root.org_type, root.parent_id) == ("Đảng bộ tỉnh Bắc Kạn", "province",
                                                                      "committee", None)
    district = U.get(U.code == "NS")
    assert (district.name, district.level, district.org_type, district.parent_id) == (
        "Đảng bộ huyện Ngân Sơn", "district", "committee", root.id)
    na_phac = U.get(U.code == "NS-NP")
    assert (na_phac.level, na_phac.org_type, na_phac.parent_id) == ("commune", "grassroots_committee", district.id)
    below = fig.subtree(district.id, Date(2015, 7, 1)) | fig.subtree(district.id, TODAY)
    for unit in U.select().where(U.id.in_(list(below))):
        assert unit.mountain, unit.code
        assert re.fullmatch(r"[A-Z0-9-]{2,12}", unit.code)
        if unit.id != district.id:
            assert unit.decides_admissions_id == district.id, unit.code
    # the parent history agrees with the current parent and the unit's life
    L = models.UnitLink
    for unit in U.select():
        links = list(L.select().where(L.unit == unit).order_by(L.start))
        assert links and links[0].start == unit.founded and links[-1].end == unit.ended
        assert links[-1].parent_id == unit.parent_id


# --- people ----------------------------------------------------------------------------

def test_officials_appear_by_name_and_role_only(demo_db):
    P = models.Person
    hoat = P.get(P.full_name == "Nông Văn Hoạt")
    thang = P.get(P.full_name == "Hà Sỹ Thắng")
    assert hoat.public_role.startswith("Bí thư Đảng ủy") and "Nà Phặc" in hoat.public_role
    assert thang.public_role == "Bí thư Huyện ủy Ngân Sơn"
    assert hoat.branch.parent.code == "NS-NP"
    assert thang.branch.parent.code == "NS-DT"
    for person in (hoat, thang):
        assert person.born is None and person.citizen_id is None and person.phone is None
        assert person.home_town is None and person.residence is None and person.ethnicity is None
        assert not models.Membership.select().where(models.Membership.person == person).exists()
        assert not models.CaseFile.select().where(models.CaseFile.person == person).exists()
    assert P.select().where(P.full_name.in_(["Nông Văn Hoạt", "Hà Sỹ Thắng"])).count() == 2


def test_citizen_ids_fictitious_and_unique(demo_db):
    P = models.Person
    ids = [cid for (cid,) in P.select(P.citizen_id).where(P.citizen_id.is_null(False)).tuples()]
    assert len(ids) == len(set(ids)) == P.select().count() - 2
    assert all(re.fullmatch(r"000\d{9}", cid) for cid in ids)
    phones = [p for (p,) in P.select(P.phone).where(P.phone.is_null(False)).tuples()]
    assert phones and all(re.fullmatch(r"0900\d{6}", p) for p in phones)


def test_people_are_of_the_area(demo_db):
    from db.text import fold, name_sort_key
    import unicodedata

    P = models.Person
    ethnic = defaultdict(int)
    for p in P.select():
        assert p.full_name == unicodedata.normalize("NFC", p.full_name)
        assert p.name_folded == fold(p.full_name) and p.sort_key == name_sort_key(p.full_name)
        ethnic[p.ethnicity] += 1
    ethnic.pop(None)
    assert set(ethnic) == {"Tày", "Nùng", "Dao", "Kinh", "Mông"}
    assert max(ethnic, key=ethnic.get) == "Tày"
    sexes = {s for (s,) in P.select(P.sex).tuples()}
    assert {"F", "M"} <= sexes
    U = models.Unit
    for u in U.select():
        assert u.name_folded == fold(u.name)


def test_memberships_and_affiliations_agree(demo_db):
    """Every admission from 01/07/2015 has a file; Person.branch is the open affiliation."""
    M, P, A, S = models.Membership, models.Person, models.Affiliation, models.Step
    for m in M.select():
        if m.admitted_on >= Date(2015, 7, 1):
            assert m.case_id is not None
        assert m.ceremony_on is not None and m.admitted_on <= m.ceremony_on
        if m.official_on is not None:
            assert m.official_on == add_months(m.ceremony_on, 12)
        if m.ended_on is not None:
            assert m.end_reason in ("deceased", "moved_out")
    with_file = {case for (case,) in M.select(M.case).where(M.case.is_null(False)).tuples()}
    ceremonies = {case for (case,) in S.select(S.case).where((S.stage == "probationary")
                                                              & S.undone_at.is_null()).tuples()}
    assert with_file == ceremonies
    units = {u.id: u for u in models.Unit.select()}
    affs = defaultdict(list)
    for a in A.select().order_by(A.start):
        affs[a.person_id].append(a)
    for p in P.select():
        rows = affs[p.id]
        assert rows, p.id
        for before, after in zip(rows, rows[1:]):
            assert before.end is not None and before.end <= after.start
        current = rows[-1].unit_id if rows[-1].end is None else None
        assert p.branch_id == current
        unit = units[rows[-1].unit_id]
        if rows[-1].end is None:
            assert unit.ended is None and unit.org_type in fig.BRANCH_TYPES


@pytest.mark.parametrize("day", [Date(2015, 7, 1), Date(2017, 1, 1), Date(2019, 1, 1), TERM_END, TODAY])
def test_organisations_keep_their_shape(demo_db, day):
    """A branch has at least 3 official members; a grassroots branch under 30 members, a
    grassroots committee 30 or more (domain.md section 1)."""
    U = models.Unit
    alive = fig.alive_units(day)
    for unit in U.select().where(U.id.in_(list(alive))):
        if unit.org_type in fig.BRANCH_TYPES:
            assert len(fig.member_ids(unit.id, day, official=True)) >= 3, unit.code
        if unit.org_type == "grassroots_branch":
            assert len(fig.member_ids(unit.id, day)) < 30, unit.code
        if unit.org_type == "grassroots_committee":
            assert len(fig.member_ids(unit.id, day)) >= 30, unit.code


# --- every file follows the rules ---------------------------------------------------------

class Data:
    """The rows the rule check needs, read once."""

    def __init__(self):
        self.units = {u.id: u for u in models.Unit.select()}
        self.links = defaultdict(list)
        for link in models.UnitLink.select():
            self.links[link.unit_id].append(link)
        self.people = {p.id: p for p in models.Person.select()}
        self.members = {m.person_id: m for m in models.Membership.select()}
        self.affs = defaultdict(list)
        self.by_unit = defaultdict(list)
        for a in models.Affiliation.select():
            self.affs[a.person_id].append(a)
            self.by_unit[a.unit_id].append(a)
        self.steps = defaultdict(list)
        for s in models.Step.select().order_by(models.Step.seq):
            self.steps[s.case_id].append(s)
        self.resolutions = defaultdict(list)
        for r in models.Resolution.select():
            self.resolutions[r.step_id].append(r)
        self.documents = defaultdict(list)
        for d in models.Document.select():
            self.documents[d.case_id].append(d)
        self.introducers = defaultdict(list)
        for i in models.Introducer.select():
            self.introducers[i.case_id].append(i)
        self.helpers = defaultdict(list)
        for h in models.Helper.select():
            self.helpers[h.case_id].append(h)
        self.certificates = defaultdict(list)
        for c in models.Certificate.select():
            self.certificates[c.person_id].append(c)
        self.enrolments = {(e.person_id, e.training_class_id): e for e in models.Enrolment.select()}
        self.classes = {c.id: c for c in models.TrainingClass.select()}
        self.events = defaultdict(list)
        for e in models.CaseEvent.select():
            self.events[e.case_id].append(e)

    def parent(self, unit_id: int, day: Date) -> int | None:
        for link in self.links[unit_id]:
            if link.start <= day and (link.end is None or link.end > day):
                return link.parent_id
        return None

    def official(self, person_id: int, day: Date) -> bool:
        m = self.members.get(person_id)
        return (m is not None and m.ceremony_on <= day and (m.ended_on is None or m.ended_on > day)
                and m.official_on is not None and m.official_on <= day)

    def aff_in(self, person_id: int, unit_id: int, day: Date):
        for a in self.affs[person_id]:
            if a.unit_id == unit_id and a.start <= day and (a.end is None or a.end > day):
                return a
        return None

    def officials_of(self, unit_id: int, day: Date) -> int:
        return sum(1 for a in self.by_unit[unit_id]
                   if a.start <= day and (a.end is None or a.end > day) and self.official(a.person_id, day))


def education_ok(education: str, mountain: bool) -> bool:
    grade, _, system = education.partition("/")
    grade, system = int(grade), int(system)
    if system == 12:
        return grade >= (5 if mountain else 9)
    return grade >= (4 if mountain else 7)


def check_file(data: Data, case: models.CaseFile, wd: WorkingDays) -> list[str]:  # noqa: C901
    out: list[str] = []
    bad = out.append
    steps = [s for s in data.steps[case.id] if s.undone_at is None]
    person = data.people[case.person_id]
    branch = data.units[case.branch_id]
    if not steps or steps[0].stage != "identified":
        return ["does not start at identified"]
    if case.stage != steps[-1].stage:
        bad("cached stage differs")
    seqs = [s.seq for s in data.steps[case.id]]
    if seqs != list(range(1, len(seqs) + 1)):
        bad("seq")
    by_stage: dict[str, models.Step] = {}
    for before, after in zip(steps, steps[1:]):
        if after.stage not in ALLOWED[before.stage]:
            bad(f"stage_order {before.stage}->{after.stage}")
        if after.date < before.date:
            bad(f"date_order {before.stage}->{after.stage}")
    for s in steps:
        by_stage[s.stage] = s
        if s.date > TODAY:
            bad("step after today")
    parent = data.parent(branch.id, steps[0].date)
    committee = data.units[parent].org_type == "grassroots_committee"
    grassroots = data.units[parent] if committee else branch
    decider = grassroots.decides_admissions_id
    for s in steps:
        expected = {"committee_approved": parent, "admitted": decider, "official": decider}.get(s.stage, branch.id)
        if s.unit_id != expected:
            bad(f"{s.stage} acted by the wrong unit")
    if "branch_approved" in by_stage:
        after = steps[steps.index(by_stage["branch_approved"]) + 1:]
        if after and (after[0].stage == "committee_approved") != committee:
            bad("committee vote where it does not apply, or missing")
    docs = defaultdict(list)
    for d in data.documents[case.id]:
        docs[d.kind].append(d.received)
    # class and certificate
    for s in steps:
        if s.stage == "in_class":
            class_id = json.loads(s.details)["class_id"]
            enrol = data.enrolments.get((person.id, class_id))
            if enrol is None or enrol.enrolled_on != s.date or enrol.case_id != case.id:
                bad("in_class without its enrolment")
            elif data.classes[class_id].kind != "awareness":
                bad("in_class in a class that is not an awareness class")
    awareness = [c for c in data.certificates[person.id] if c.kind == "awareness"]
    for c in awareness:
        enrol = data.enrolments.get((person.id, c.training_class_id))
        if c.issuer != ORGANISER or enrol is None or enrol.result != "passed" or enrol.certificate_id != c.id:
            bad("certificate without the class that produced it")
        if c.issued != data.classes[c.training_class_id].end:
            bad("certificate not issued at the end of its class")
    if "certified" in by_stage and not any(c.issued <= by_stage["certified"].date for c in awareness):
        bad("certificate_missing at certified")
    vote = by_stage.get("branch_approved")
    if vote is not None:
        day = vote.date
        months = full_months_between(person.born, day)
        if months < 216:
            bad("age_under_18")
        if months > 720:
            bad("age_over_60")
        if not education_ok(person.education, branch.mountain):
            bad("education")
        if not any(c.issued <= day <= add_months(c.issued, 60) for c in awareness):
            bad("certificate_expired or missing at the branch vote")
        for kind in ("application_letter", "background_form", "background_verification", "comments"):
            if not any(r <= day for r in docs[kind]):
                bad(f"document_missing {kind}")
        dossier = by_stage["dossier"].date
        intros = data.introducers[case.id]
        members = [i for i in intros if i.kind == "member"]
        youth = [i for i in intros if i.kind == "youth_union"]
        trade = [i for i in intros if i.kind == "trade_union"]
        for i in intros:
            if not dossier <= i.date <= day:
                bad("introduction dated outside dossier..vote")
        if len(members) >= 2:
            pass
        elif len(members) == 1 and youth and person.youth_union \
                and full_months_between(person.born, youth[0].date) < 31 * 12 and youth[0].resolution:
            pass
        elif len(members) == 1 and trade and person.trade_union and trade[0].resolution:
            pass
        else:
            bad("introducers_missing")
        own = data.aff_in(person.id, branch.id, day)
        for i in members:
            if not data.official(i.person_id, i.date):
                bad("introducer_not_official")
            aff = data.aff_in(i.person_id, branch.id, i.date)
            if aff is None or aff.start > i.together_since or own is None or own.start > i.together_since:
                bad("introducer not in the branch with the candidate since together_since")
            if full_months_between(i.together_since, i.date) < 12:
                bad("introducer_too_short")
            if i.person_id == person.id:
                bad("self introduction")
        votes = [r for r in data.resolutions[vote.id] if r.kind == "branch_resolution"]
        if len(votes) != 1 or votes[0].date != day or not votes[0].number:
            bad("branch resolution")
        else:
            r = votes[0]
            if r.votes_convened != data.officials_of(branch.id, day):
                bad("vote_base_differs at the branch vote")
            if 3 * r.votes_for < 2 * (r.votes_convened - r.votes_excused):
                bad("vote_below_two_thirds")
    vote_c = by_stage.get("committee_approved")
    if vote_c is not None:
        r = [r for r in data.resolutions[vote_c.id] if r.kind == "committee_resolution"]
        if len(r) != 1 or not 7 <= r[0].votes_convened <= 15 or \
                3 * r[0].votes_for < 2 * (r[0].votes_convened - r[0].votes_excused):
            bad("committee vote")
    decision = by_stage.get("admitted")
    if decision is not None:
        if decision.date > wd.add(vote.date, 60):
            bad("decision_late")
        if not decision.date <= decision.received <= decision.date + datetime.timedelta(days=7):
            bad("received not within a few days")
        r = [r for r in data.resolutions[decision.id] if r.kind == "decision"]
        if len(r) != 1 or not r[0].number.endswith("-QĐ/HU") or r[0].date != decision.date:
            bad("admission decision")
    ceremony = by_stage.get("probationary")
    m = data.members.get(person.id)
    if ceremony is not None:
        if ceremony.date > wd.add(decision.received, 30):
            bad("ceremony_late")
        if not any(ceremony.date <= r <= wd.add(ceremony.date, 30) for r in docs["member_records"]) \
                and wd.add(ceremony.date, 30) < TODAY:
            bad("member_records_late")
        if m is None or m.case_id != case.id or m.admitted_on != decision.date or m.ceremony_on != ceremony.date:
            bad("membership does not match the file")
        if not data.helpers[case.id]:
            bad("no helper")
    elif m is not None and m.case_id == case.id:
        bad("membership before the ceremony")
    official = by_stage.get("official")
    if official is not None:
        official_on = add_months(ceremony.date, 12)
        if m.official_on != official_on or official.date < official_on:
            bad("probation_not_complete")
        rs = {r.kind: r for r in data.resolutions[official.id]}
        b = rs.get("branch_resolution")
        if b is None or not official_on <= b.date <= wd.add(official_on, 30):
            bad("recognition_late (branch review)")
        elif b.votes_convened != data.officials_of(branch.id, b.date) or \
                3 * b.votes_for < 2 * (b.votes_convened - b.votes_excused):
            bad("recognition branch vote")
        c = rs.get("committee_resolution")
        if (c is not None) != committee:
            bad("recognition committee vote where it does not apply, or missing")
        if c is not None and (not b.date <= c.date <= official.date
                              or 3 * c.votes_for < 2 * (c.votes_convened - c.votes_excused)):
            bad("recognition committee vote")
        if "decision" not in rs or official.date > wd.add(b.date, 30):
            bad("recognition decision late")
        if not any(r <= official.date for r in docs["new_member_certificate"]):
            bad("new_member_class_missing")
        if not any(c.kind == "new_member" and c.issued <= official.date for c in data.certificates[person.id]):
            bad("no new-member certificate")
    elif m is not None and m.case_id == case.id and m.official_on is not None:
        bad("official without recognition")
    # helper: an official member of the branch when assigned
    for h in data.helpers[case.id]:
        if h.since != steps[0].date or not data.official(h.person_id, h.since) \
                or data.aff_in(h.person_id, branch.id, h.since) is None:
            bad("helper not an official member of the branch")
    if not data.helpers[case.id]:
        bad("no helper")
    # open files: nothing overdue today
    if case.status == "open":
        stage = steps[-1].stage
        due = None
        if stage in ("branch_approved", "committee_approved"):
            due = wd.add(vote.date, 60)
        elif stage == "admitted":
            due = wd.add(decision.received, 30)
        elif stage == "probationary":
            due = (wd.add(ceremony.date, 30) if not docs["member_records"]
                   else wd.add(add_months(ceremony.date, 12), 30))
        if due is not None and due < TODAY:
            bad(f"overdue at {stage}")
        if case.on_hold and not (case.hold_reason and any(e.kind == "hold" for e in data.events[case.id])):
            bad("on hold without a reason")
    else:
        close = [e for e in data.events[case.id] if e.kind == "close"]
        if case.outcome not in ("withdrawn", "rejected", "moved", "deceased") or not case.close_reason \
                or not close or not close[0].reason or case.closed_on < steps[-1].date or case.closed_on > TODAY:
            bad("closed without outcome, date or reason")
    # documents are never dated in the future or after the file closed
    for kind, days in docs.items():
        if any(r > TODAY for r in days):
            bad(f"{kind} dated after today")
    for event in data.events[case.id]:
        if event.kind == "vote_failed":
            v = json.loads(event.details)["votes"]
            if 3 * v["for"] >= 2 * (v["convened"] - v["excused"]) or \
                    v["convened"] != data.officials_of(branch.id, event.date):
                bad("vote_failed event that passed")
        if event.kind in ("undo", "vote_failed", "hold", "close") and not event.reason:
            bad(f"{event.kind} without a reason")
    return out


def test_every_file_follows_the_rules(demo_db):
    data = Data()
    wd = WorkingDays()
    problems = {}
    for case in models.CaseFile.select():
        found = check_file(data, case, wd)
        if found:
            problems[case.id] = found
    assert not problems, dict(list(problems.items())[:10])


def test_files_at_every_stage_and_the_unusual_ones(demo_db):
    C, E, S = models.CaseFile, models.CaseEvent, models.Step
    open_stages = {st for (st,) in C.select(C.stage).where(C.status == "open").tuples()}
    assert {"identified", "in_class", "certified", "dossier", "branch_approved", "committee_approved",
            "admitted", "probationary", "official"} <= open_stages
    outcomes = {o for (o,) in C.select(C.outcome).where(C.status == "closed").tuples()}
    assert {"withdrawn", "moved"} <= outcomes
    held = list(C.select().where(C.on_hold))
    assert len(held) == 1 and held[0].hold_reason == "Đang thẩm tra lý lịch" and held[0].status == "open"
    assert E.select().where(E.kind == "vote_failed").count() >= 1
    assert S.select().where(S.undone_at.is_null(False)).count() >= 1
    # at most one open file per person
    per_person = defaultdict(int)
    for (person,) in C.select(C.person).where(C.status == "open").tuples():
        per_person[person] += 1
    assert max(per_person.values()) == 1
    # files of every year
    years = {d.year for (d,) in S.select(S.date).where(S.stage == "admitted").tuples()}
    assert years == set(range(2015, 2022))


def test_the_2021_trainees_of_na_phac_went_through_the_classes(demo_db):
    C, E, Cl = models.CaseFile, models.Enrolment, models.TrainingClass
    np_tree = fig.subtree(fig.unit_id("NS-NP"), TODAY)
    rows = (E.select(E, Cl).join(Cl).where((Cl.year == 2021) & (Cl.kind == "awareness")))
    stages = defaultdict(int)
    for e in rows:
        case = C.get_by_id(e.case_id)
        if case.branch_id in np_tree:
            assert case.person_id == e.person_id
            stages[case.stage] += 1
            if e.training_class.status == "running":
                assert e.result is None and case.stage == "in_class"
    assert sum(stages.values()) == 23
    assert stages["in_class"] and stages["certified"] and stages["dossier"] and stages["committee_approved"]


# --- loading ---------------------------------------------------------------------------

DUMPED = ("unit", "unit_link", "unit_change", "unit_change_part", "person", "affiliation", "membership",
          "case_file", "step", "resolution", "document", "introducer", "helper", "certificate", "enrolment",
          "training_class", "class_plan", "target", "term", "case_event")


def dump(path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(str(path))
    try:
        return {table: con.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in DUMPED}
    finally:
        con.close()


@pytest.mark.sqlite_only("compares the file's rows with the template file's")
def test_refuses_a_database_with_data_and_force_reloads_the_same_rows(demo_db, demo_template):
    with pytest.raises(DemoError) as refused:
        load_demo(login="tester")
    assert refused.value.code == "not_empty"
    models.Target.delete().where(models.Target.year == 2021).execute()  # a change to be wiped
    summary = load_demo(login="tester", force=True)
    models.database.obj.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert summary.units == models.Unit.select().count()
    assert summary.cases == models.CaseFile.select().count()
    assert summary.accounts == 6
    assert dump(demo_db) == dump(demo_template)


def test_refuses_when_only_people_exist(empty_db):
    from db.text import fold, name_sort_key

    models.Person.create(full_name="Lý Thị Mai", name_folded=fold("Lý Thị Mai"), sort_key=name_sort_key("Lý Thị Mai"))
    with pytest.raises(DemoError):
        load_demo(login="tester")
    assert models.Unit.select().count() == 0


def test_loads_after_init_keeping_its_accounts(empty_db):
    """`ketnap init` leaves an admin account (and no units or people): the demo loads there."""
    from db.access import ensure_admin

    ensure_admin("alice")
    summary = load_demo(login="alice")
    A = models.Account
    assert A.get(A.name == "alice").role == "admin"
    assert {a.name for a in A.select()} == {"alice", "demo_admin", "demo_organiser", "demo_xa",
                                             "demo_secretary", "demo_viewer"}
    assert summary.accounts == 6 and summary.members == len(fig.member_ids(fig.unit_id("NS"), TODAY))
    assert len(fig.member_ids(fig.unit_id("NS-NP"), TODAY)) == 635
    S = models.Step
    assert S.select().where(S.entered_by.is_null(False)).count() == S.select().count()
