"""The work list (db.worklist and `ketnap worklist`): each deadline of domain.md section 5 on a
small built database, the order, "as of" any date, the actor's scope, and the demo.

Due dates are counted by hand in working days (the holidays of the pinned package; see
tests/test_calendar.py for the days off themselves).
"""

from __future__ import annotations

import datetime

import pytest

from db import connection, models
from db.access import Actor
from db.worklist import worklist
from tests.test_cli import isolated, run, run_json  # noqa: F401 (isolated: an autouse fixture)
from tests.test_db_read import make_person, make_step, make_unit

D = datetime.date
AS_OF = D(2021, 9, 30)


class World:
    """A district; a grassroots committee with two village branches (their votes go through the
    committee); a school branch directly under the district (no committee vote)."""

    def __init__(self):
        self.district = make_unit("HU", "Huyện ủy Ngân Sơn", "committee", level="district",
                                  founded=D(2000, 1, 1))
        self.commune = make_unit("TQ", "Đảng bộ xã Thượng Quan", "grassroots_committee",
                                 self.district, level="commune", sort_order=1)
        self.village = make_unit("TQ01", "Chi bộ thôn Nà Lạn", "branch", self.commune,
                                 category="village")
        self.other = make_unit("TQ03", "Chi bộ thôn Khuổi Ún", "branch", self.commune,
                               category="village", sort_order=1)
        self.school = make_unit("VT", "Chi bộ Trường THCS Vân Tùng", "grassroots_branch",
                                self.district, category="school", sort_order=2)
        self.count = 0

    def file(self, name, branch, steps, **fields):
        """A file with `steps` [(stage, date, {field: value})]; a branch_approved step gets its
        branch resolution dated the same day."""
        self.count += 1
        person = make_person(name, branch, born=D(1995, 1, 1), sex="M",
                             citizen_id=f"0060950{self.count:05d}")
        case = models.CaseFile.create(person=person, branch=branch, stage=steps[-1][0], **fields)
        for seq, (stage, day, *extra) in enumerate(steps, 1):
            step = make_step(case, seq, stage, day, branch, **(extra[0] if extra else {}))
            if stage == "branch_approved":
                models.Resolution.create(step=step, kind="branch_resolution", date=day,
                                         votes_for=9, votes_convened=10, votes_excused=0)
        return case


@pytest.fixture
def world(admin):
    w = World()
    connection.set_setting("today", AS_OF.isoformat())
    return w


def by_case(items):
    return {i.case_id: i for i in items}


def certify(case, issued):
    models.Certificate.create(person=case.person, kind="awareness", number=f"{case.id}/CN",
                              issued=issued, issuer="Trung tâm chính trị huyện")


# --- each deadline -----------------------------------------------------------------------------

def test_before_the_branch_vote_the_certificate_expiry_is_the_deadline(world, admin):
    new = world.file("Hà Văn Mới", world.village, [("identified", D(2021, 3, 1))])
    learning = world.file("Hà Văn Học", world.village, [("identified", D(2021, 3, 1)),
                                                        ("in_class", D(2021, 4, 1))])
    certified = world.file("Hà Văn Chứng", world.village, [("identified", D(2020, 3, 1)),
                                                           ("certified", D(2020, 5, 20))])
    certify(certified, D(2020, 5, 20))
    dossier = world.file("Hà Văn Đơn", world.village, [("identified", D(2016, 1, 4)),
                                                       ("certified", D(2016, 2, 29)),
                                                       ("dossier", D(2016, 6, 1))])
    certify(dossier, D(2016, 2, 29))
    items = by_case(worklist(admin, None, AS_OF))
    assert (items[new.id].next_action, items[new.id].due) == ("enrol_in_class", None)
    assert (items[learning.id].next_action, items[learning.id].due) == ("class_result", None)
    # issued 20/05/2020: valid through 20/05/2025
    assert (items[certified.id].next_action, items[certified.id].due) == (
        "collect_dossier", D(2025, 5, 20))
    # issued 29/02/2016: 60 months on is 28/02/2021 (no 29th), long past on 30/09/2021
    assert (items[dossier.id].next_action, items[dossier.id].due) == ("branch_vote", D(2021, 2, 28))
    assert items[dossier.id].overdue_days == (AS_OF - D(2021, 2, 28)).days == 214
    # a certificate issued after the day asked about does not count yet
    assert worklist(admin, None, D(2016, 2, 28))[0].due is None


def test_decision_sixty_working_days_after_the_branch_vote_ninety_when_extended(world, admin):
    school = world.file("Lý Văn Trường", world.school, [("identified", D(2020, 3, 1)),
                                                        ("dossier", D(2020, 6, 1)),
                                                        ("branch_approved", D(2021, 2, 1))])
    village = world.file("Lý Văn Thôn", world.village, [("identified", D(2020, 3, 1)),
                                                        ("dossier", D(2020, 6, 1)),
                                                        ("branch_approved", D(2021, 2, 1))])
    voted = world.file("Lý Văn Xã", world.village, [("identified", D(2020, 3, 1)),
                                                     ("dossier", D(2020, 6, 1)),
                                                     ("branch_approved", D(2021, 2, 1)),
                                                     ("committee_approved", D(2021, 2, 20))])
    as_of = D(2021, 3, 1)
    items = by_case(worklist(admin, None, as_of))
    # Mon 01/02/2021: 6 days in early February, 8 after Tết, 23 in March, 20 in April (21/04
    # and 30/04 off), then 4, 5, 6 May (03/05 off for 01/05): Thursday 06/05/2021
    assert (items[school.id].next_action, items[school.id].due) == ("admission_decision", D(2021, 5, 6))
    assert (items[village.id].next_action, items[village.id].due) == ("committee_vote", D(2021, 5, 6))
    # the committee's vote does not restart the clock: still from the branch resolution
    assert (items[voted.id].next_action, items[voted.id].due) == ("admission_decision", D(2021, 5, 6))

    models.Step.update(extension=True).where(
        (models.Step.case == school.id) & (models.Step.stage == "branch_approved")).execute()
    # 30 more: 7 May, 10-14, 17-21, 24-28, 31 May (77), 1-4 June (81), 7-11 (86), 14-17 (90)
    assert by_case(worklist(admin, None, as_of))[school.id].due == D(2021, 6, 17)


def test_ceremony_thirty_working_days_after_the_branch_receives_the_decision(world, admin):
    steps = [("identified", D(2020, 3, 1)), ("branch_approved", D(2021, 3, 1))]
    received = world.file("Đinh Văn Nhận", world.school,
                          steps + [("admitted", D(2021, 6, 1), {"received": D(2021, 6, 4)})])
    unknown = world.file("Đinh Văn Chưa", world.school, steps + [("admitted", D(2021, 6, 1))])
    items = by_case(worklist(admin, None, D(2021, 6, 10)))
    # from Fri 04/06/2021: 7-11 June (5), 14-18 (10), 21-25 (15), 28-30 (18), 1-2 July (20),
    # 5-9 (25), 12-16 (30): Friday 16/07/2021
    assert (items[received.id].next_action, items[received.id].due) == ("ceremony", D(2021, 7, 16))
    # without the day received, from the decision, Tue 01/06: Tuesday 13/07/2021
    assert items[unknown.id].due == D(2021, 7, 13)
    # on 03/06 the branch had not received it yet: the decision's date counts until it has
    assert by_case(worklist(admin, None, D(2021, 6, 3)))[received.id].due == D(2021, 7, 13)


def test_member_records_then_the_probation_review_then_the_recognition_decision(world, admin):
    case = world.file("Triệu Văn Dự", world.school, [("identified", D(2019, 3, 1)),
                                                     ("branch_approved", D(2020, 12, 1)),
                                                     ("admitted", D(2021, 2, 1)),
                                                     ("probationary", D(2021, 3, 15))])
    item = worklist(admin, None, D(2021, 3, 20))[0]
    # Mon 15/03/2021: 16-19 (4), 22-26 (9), 29-31 (12), 1-2 April (14), 5-9 (19), 12-16 (24),
    # 19-20 (26), 21/04 off (Hùng Kings), 22-23 (28), 26-27 (30): Tuesday 27/04/2021
    assert (item.next_action, item.due) == ("member_records", D(2021, 4, 27))

    models.Document.create(case=case, kind="member_records", received=D(2021, 4, 20))
    # before the records arrived they are still what the file waits for
    assert worklist(admin, None, D(2021, 4, 19))[0].next_action == "member_records"
    item = worklist(admin, None, D(2021, 9, 30))[0]
    # probation ends Tue 15/03/2022: 16-18 (3), 21-25 (8), 28-31 (12), 1 April (13), 4-8 (18),
    # 11/04 off (Hùng Kings' day, observed), 12-15 (22), 18-22 (27), 25-27 (30): Wed 27/04/2022
    assert (item.next_action, item.due, item.overdue_days) == (
        "probation_review", D(2022, 4, 27), 0)

    # the branch's recognition vote recorded on Tue 05/04/2022, no decision yet: 6-8 (3),
    # 12-15 (7), 18-22 (12), 25-29 (17), 2-3 May off, 4-6 (20), 9-13 (25), 16-20 (30)
    step = models.Step.get(case=case, stage="probationary")
    models.Resolution.create(step=step, kind="branch_resolution", date=D(2022, 4, 5),
                             votes_for=9, votes_convened=10, votes_excused=0)
    item = worklist(admin, None, D(2022, 4, 6))[0]
    assert (item.next_action, item.due) == ("recognition_decision", D(2022, 5, 20))
    # as of before that vote, the review is still what is awaited
    assert worklist(admin, None, D(2022, 4, 4))[0].next_action == "probation_review"

    # recognised: the file is finished, and gone from the list from that day
    make_step(case, 5, "official", D(2022, 5, 10), world.district)
    models.CaseFile.update(stage="official").where(models.CaseFile.id == case.id).execute()
    assert worklist(admin, None, D(2022, 5, 10)) == []
    assert worklist(admin, None, D(2022, 5, 9))[0].next_action == "recognition_decision"


# --- order, as of, filters ----------------------------------------------------------------------

def test_overdue_first_then_by_due_date_then_name_order(world, admin):
    def decided(name, day):
        return world.file(name, world.school, [("identified", D(2020, 1, 6)),
                                               ("branch_approved", D(2020, 12, 1)),
                                               ("admitted", day)])

    late = decided("Nông Văn Muộn", D(2021, 6, 1))  # due 13/07/2021
    later = decided("Nông Văn Trễ", D(2021, 5, 4))  # due 15/06/2021: the most overdue
    # same due date: Vietnamese order by the given name, An before Bình whatever the family
    binh = decided("Trần Văn Bình", D(2021, 9, 1))
    an = decided("Vũ Thị An", D(2021, 9, 1))
    undated = world.file("Nông Thị Chờ", world.school, [("identified", D(2021, 9, 1))])
    items = worklist(admin, None, AS_OF)
    assert [i.case_id for i in items] == [later.id, late.id, an.id, binh.id, undated.id]
    assert [i.overdue for i in items] == [True, True, False, False, False]
    assert items[0].overdue_days == (AS_OF - D(2021, 6, 15)).days
    # from Wed 01/09/2021: 2-3 off (National Day), 6-10 (5), 13-17 (10), 20-24 (15), 27-30 (19),
    # 1 October (20), 4-8 (25), 11-15 (30): Friday 15/10/2021
    assert items[2].due == D(2021, 10, 15) and items[2].overdue_days == 0
    assert items[4].due is None and items[4].overdue_days == 0

    # within 15 days of 30/09: the overdue ones and those due by 15/10; not the undated one
    assert [i.case_id for i in worklist(admin, None, AS_OF, within_days=15)] == [
        later.id, late.id, an.id, binh.id]
    assert [i.case_id for i in worklist(admin, None, AS_OF, within_days=14)] == [later.id, late.id]
    assert [i.case_id for i in worklist(admin, None, AS_OF, within_days=0)] == [later.id, late.id]


def test_as_of_moves_a_file_from_due_to_overdue(world, admin):
    case = world.file("Hoàng Văn Hạn", world.school, [("identified", D(2020, 1, 6)),
                                                      ("branch_approved", D(2021, 2, 1))])
    on_the_day = worklist(admin, None, D(2021, 5, 6))[0]
    assert (on_the_day.due, on_the_day.overdue_days, on_the_day.overdue) == (D(2021, 5, 6), 0, False)
    next_day = worklist(admin, None, D(2021, 5, 7))[0]
    assert (next_day.overdue_days, next_day.overdue) == (1, True)
    # calendar days, not working days: a Monday is three days after the Friday
    assert worklist(admin, None, D(2021, 5, 10))[0].overdue_days == 4
    # and steps after the day asked about are ignored: decided on 20/05 (stored stage admitted)
    make_step(case, 3, "admitted", D(2021, 5, 20), world.district)
    models.CaseFile.update(stage="admitted").where(models.CaseFile.id == case.id).execute()
    before = worklist(admin, None, D(2021, 5, 19))[0]
    assert (before.stage, before.next_action, before.overdue_days) == (
        "branch_approved", "admission_decision", 13)
    after = worklist(admin, None, D(2021, 5, 20))[0]
    assert (after.stage, after.next_action, after.overdue) == ("admitted", "ceremony", False)


def test_which_files_are_open_on_a_day(world, admin):
    steps = [("identified", D(2021, 3, 1))]
    held = world.file("Lộc Văn Giữ", world.village, steps, on_hold=True, hold_reason="Thẩm tra")
    closed = world.file("Lộc Văn Rút", world.village, steps, status="closed", outcome="withdrawn",
                        closed_on=D(2021, 6, 1), close_reason="Chuyển đi")
    later = world.file("Lộc Văn Sau", world.village, [("identified", D(2021, 10, 5))])
    undone = world.file("Lộc Văn Hủy", world.school, [("identified", D(2020, 1, 6)),
                                                      ("branch_approved", D(2021, 2, 1))])
    models.Step.update(undone_at=datetime.datetime(2021, 4, 1, 9), undo_reason="Nhập nhầm").where(
        (models.Step.case == undone.id) & (models.Step.stage == "branch_approved")).execute()
    models.CaseFile.update(stage="identified").where(models.CaseFile.id == undone.id).execute()

    items = by_case(worklist(admin, None, AS_OF))
    assert set(items) == {held.id, undone.id}
    # held files keep their clocks: listed, and flagged
    assert items[held.id].on_hold and not items[undone.id].on_hold
    assert items[undone.id].next_action == "enrol_in_class"
    # before 01/06 the withdrawn file was open; before 01/04 the undone vote still stood
    earlier = by_case(worklist(admin, None, D(2021, 3, 15)))
    assert set(earlier) == {held.id, closed.id, undone.id}
    assert earlier[undone.id].next_action == "admission_decision"
    assert later.id in by_case(worklist(admin, None, D(2021, 10, 5)))

    # with hold and release events, the flag follows them through time
    models.CaseEvent.create(case=held, kind="hold", date=D(2021, 5, 1), reason="Thẩm tra")
    assert not by_case(worklist(admin, None, D(2021, 4, 30)))[held.id].on_hold
    assert by_case(worklist(admin, None, D(2021, 5, 1)))[held.id].on_hold


def test_scope_a_branch_account_sees_its_branch_only(world, admin):
    mine = world.file("Bế Văn Mình", world.village, [("identified", D(2021, 3, 1))])
    theirs = world.file("Bế Văn Khác", world.other, [("identified", D(2021, 3, 1))])
    school = world.file("Bế Văn Trường", world.school, [("identified", D(2021, 3, 1))])
    secretary = Actor(None, "bithu", "secretary", world.village.id)
    assert [i.case_id for i in worklist(secretary, None, AS_OF)] == [mine.id]
    assert worklist(secretary, world.other.id, AS_OF) == []  # another unit: nothing
    assert worklist(secretary, world.commune.id, AS_OF) == []  # above the scope: nothing
    commune = Actor(None, "xa", "organiser", world.commune.id)
    assert {i.case_id for i in worklist(commune, None, AS_OF)} == {mine.id, theirs.id}
    assert {i.case_id for i in worklist(admin, None, AS_OF)} == {mine.id, theirs.id, school.id}
    assert [i.case_id for i in worklist(admin, world.school.id, AS_OF)] == [school.id]
    assert worklist(admin, world.village.id, AS_OF)[0].branch.code == "TQ01"


@pytest.mark.sqlite_only("counts the statements with sqlite3's trace callback")
def test_a_fixed_number_of_queries_whatever_the_number_of_files(world, admin):
    def queries(n_files):
        for k in range(n_files):
            case = world.file(f"Ma Văn Số{k}", world.village, [
                ("identified", D(2020, 1, 6)), ("certified", D(2020, 2, 3)),
                ("branch_approved", D(2021, 2, 1)), ("admitted", D(2021, 5, 3))])
            certify(case, D(2020, 2, 3))
            models.Document.create(case=case, kind="application_letter", received=D(2020, 3, 2))
        statements = []
        connection_ = models.database.obj.connection()
        connection_.set_trace_callback(statements.append)
        try:
            assert len(worklist(admin, None, AS_OF)) == world.count
        finally:
            connection_.set_trace_callback(None)
        return len(statements)

    assert queries(2) == queries(20)


# --- the command line -----------------------------------------------------------------------------

def test_cli_json_and_table(world, empty_db, capsys):
    late = world.file("Hoàng Thị Trễ", world.village, [("identified", D(2020, 1, 6)),
                                                       ("branch_approved", D(2021, 2, 1))])
    soon = world.file("Hoàng Thị Sớm", world.school, [("identified", D(2020, 1, 6)),
                                                      ("admitted", D(2021, 9, 27))])
    status, doc, _ = run_json(capsys, "--db", empty_db, "worklist")
    assert status == 0
    assert doc["items"][0] == {
        "case_id": late.id, "full_name": "Hoàng Thị Trễ",
        "branch": {"code": "TQ01", "name": "Chi bộ thôn Nà Lạn"}, "stage": "branch_approved",
        "next_action": "committee_vote", "due": "2021-05-06",
        "overdue_days": 147, "on_hold": False}
    assert [i["case_id"] for i in doc["items"]] == [late.id, soon.id]
    assert doc["as_of"] == "2021-09-30" and doc["unit"] is None

    status, doc, _ = run_json(capsys, "--db", empty_db, "worklist", "--unit", "Vân Tùng")
    assert [i["case_id"] for i in doc["items"]] == [soon.id]
    assert doc["unit"] == {"code": "VT", "name": "Chi bộ Trường THCS Vân Tùng"}
    status, doc, _ = run_json(capsys, "--db", empty_db, "--today", "2021-04-01", "worklist",
                              "--within", "0")
    assert status == 0 and doc["items"] == []

    status, out, err = run(capsys, "--db", empty_db, "--lang", "en", "worklist")
    assert status == 0 and err == ""
    assert "Work list as of 30/09/2021: 2 files, 1 overdue" in out
    assert "OVERDUE by 147 days" in out and "Grassroots committee vote" in out
    status, out, _ = run(capsys, "--db", empty_db, "worklist")
    assert "QUÁ HẠN 147 ngày" in out and "Hoàng Thị Sớm" in out
    status, out, _ = run(capsys, "--db", empty_db, "--lang", "en", "worklist", "--unit", "VT",
                         "--within", "1")
    assert "No file is due within 1 days." in out


def test_cli_refusals(world, empty_db, capsys):
    status, doc, _ = run_json(capsys, "--db", empty_db, "worklist", "--unit", "Chi bộ thôn")
    assert status == 1 and doc["error"]["code"] == "ambiguous_unit"
    status, doc, _ = run_json(capsys, "--db", empty_db, "worklist", "--unit", "Không có")
    assert status == 1 and doc["error"]["code"] == "unknown_unit"
    status, _, err = run(capsys, "--db", empty_db, "--lang", "en", "worklist", "--within", "-2")
    assert status == 2 and "is not a number of days" in err


@pytest.mark.slow
def test_on_the_demo_nothing_is_overdue_until_later(demo_db, capsys):
    status, doc, _ = run_json(capsys, "--db", demo_db, "worklist")
    assert status == 0 and len(doc["items"]) > 100
    assert all(i["overdue_days"] == 0 for i in doc["items"])
    assert any(i["due"] for i in doc["items"])

    status, doc, _ = run_json(capsys, "--db", demo_db, "--today", "2022-06-30", "worklist")
    overdue = [i for i in doc["items"] if i["overdue_days"] > 0]
    assert status == 0 and overdue
    assert doc["items"][:len(overdue)] == overdue  # overdue first, the most overdue first
    assert [i["overdue_days"] for i in overdue] == sorted((i["overdue_days"] for i in overdue),
                                                          reverse=True)
    status, doc, _ = run_json(capsys, "--db", demo_db, "--today", "2022-06-30", "worklist",
                              "--unit", "NS-NP", "--within", "0")
    assert doc["items"] and all(i["overdue_days"] > 0 for i in doc["items"])
    assert {i["branch"]["code"][:5] for i in doc["items"]} == {"NS-NP"}
    status, out, _ = run(capsys, "--db", demo_db, "--lang", "en", "--today", "2022-06-30",
                         "worklist", "--unit", "NS-NP", "--within", "0")
    assert status == 0 and "OVERDUE by" in out


def test_a_save_reads_only_its_branch_chain_and_decides_the_committee_vote_alike(demo_db):
    """The units above one branch (a recursive query, while a save holds the lock) give the same
    answer to "does a committee vote come between?" as the whole unit table."""
    from db import models
    from db.worklist import _chains, _needs_committee

    U = models.Unit
    branches = [u for (u,) in U.select(U.id).where(U.org_type.in_(("branch", "grassroots_branch"))).tuples()]
    whole = ({u: p for u, p, _ in U.select(U.id, U.parent, U.org_type).tuples()},
             {u: o for u, _, o in U.select(U.id, U.parent, U.org_type).tuples()})
    answers = set()
    for branch in branches:
        alone = _chains({branch})
        assert set(alone[0]) < set(whole[0])  # a chain, not the table
        answer = _needs_committee(branch, *alone)
        assert answer == _needs_committee(branch, *whole), branch
        answers.add(answer)
    assert answers == {True, False}  # the demo has branches of both kinds


def test_the_work_list_read_a_page_at_a_time_is_the_whole_list_cut_in_pages(demo_db):
    """worklist_page reads the stored next actions in SQL, a page at a time: its pages, read one
    after another, are the list worklist computes, in the same order, with the same counts; a
    day before files' latest records is computed whole and cut alike."""
    from db.access import account_actor
    from db.units import find_unit
    from db.worklist import worklist_page

    actor = account_actor("demo_organiser")
    for day in (datetime.date(2021, 9, 30), datetime.date(2022, 6, 30), datetime.date(2021, 3, 1)):
        district = find_unit(actor, "NS", day)
        for unit, kwargs in ((district, {}), (district, {"overdue_only": True}),
                             (find_unit(actor, "NS-NP", day), {"stages": ("dossier", "branch_approved")})):
            whole = worklist(actor, unit.id, day)
            if kwargs.get("overdue_only"):
                whole = [item for item in whole if item.overdue]
            if "stages" in kwargs:
                whole = [item for item in whole if item.stage in kwargs["stages"]]
            pages, offset = [], 0
            while True:
                page = worklist_page(actor, unit.id, day, offset=offset, limit=7, counts=offset == 0, **kwargs)
                if offset == 0:
                    assert (page.total, page.late) == (len(whole), sum(1 for i in whole if i.overdue))
                else:
                    assert page.total is None
                pages.extend(page.items)
                if len(page.items) < 7:
                    break
                offset += 7
            assert pages == whole, (day, unit.code, kwargs)
    assert any(item.overdue for item in worklist(actor, district.id, datetime.date(2022, 6, 30)))


def test_the_work_list_page_filters_by_name(demo_db):
    from db.access import account_actor
    from db.units import find_unit
    from db.text import fold
    from db.worklist import worklist_page

    actor = account_actor("demo_organiser")
    day = datetime.date(2021, 9, 30)
    district = find_unit(actor, "NS", day)
    whole = worklist(actor, district.id, day)
    surname = whole[0].full_name.split()[0]
    page = worklist_page(actor, district.id, day, limit=500, name_filter=surname.lower())
    assert page.items and page.total == len(page.items) < len(whole)
    # every file of the list whose name has a word starting so, and no other (nor other names)
    wanted = fold(surname)
    assert [i.case_id for i in page.items] == [
        i.case_id for i in whole if any(w.startswith(wanted) for w in fold(i.full_name).split())]
