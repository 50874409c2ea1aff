"""The figures kept between reads (migrations 0004 and 0009): each file's stored next action and
due date (models.CaseDue), each unit's member counts per day (models.MemberTally), the number a
unit sent to the year's awareness classes by a day (models.ClassTally) and the unit tree kept
in memory (db.progress.Tree.current). What a user would notice if one of them went wrong is a
work list, an overdue count or a member count that does not match the records: every test here
compares the figures with the stored rows in use against the same figures computed from the
records alone."""

from __future__ import annotations

import datetime
import json

import pytest

from db import connection, models, pipeline, progress, worklist
from db.access import account_actor
from tests import demo_figures as fig

Date = datetime.date
TODAY = Date(2021, 9, 30)
DAYS = (TODAY, Date(2021, 6, 30), Date(2020, 6, 30), Date(2019, 1, 1), Date(2030, 1, 1))


@pytest.fixture
def admin(demo_db):
    return account_actor("demo_admin")


def from_records(fn):
    """`fn()` with every stored next action ignored (marked stale in a transaction rolled back)."""
    with models.database.atomic() as tx:
        models.database.execute_sql("UPDATE case_due SET stale = TRUE")
        result = fn()
        tx.rollback()
    return result


def stored_row(case_id: int) -> models.CaseDue:
    return models.CaseDue.get_by_id(case_id)


def test_the_demo_keeps_a_fresh_next_action_for_every_file(admin):
    files = models.CaseFile.select().count()
    D = models.CaseDue
    assert D.select().count() == files
    assert D.select().where(D.stale == True).count() == 0  # noqa: E712


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_work_list_and_overdue_count_equal_those_from_the_records(admin, day):
    kept = worklist.worklist(admin, None, day)
    assert kept == from_records(lambda: worklist.worklist(admin, None, day))
    units = [u for (u,) in models.Unit.select(models.Unit.id).tuples()]
    count = worklist.overdue_count(units, day)
    assert count == sum(1 for item in kept if item.overdue)
    assert count == from_records(lambda: worklist.overdue_count(units, day))


def test_in_2030_every_open_file_with_a_deadline_is_overdue(admin):
    # a check that the count is not trivially zero: by 2030 every deadline has passed
    later = Date(2030, 1, 1)
    items = worklist.worklist(admin, None, later)
    assert sum(1 for i in items if i.overdue) == sum(1 for i in items if i.due is not None) > 100


def test_a_step_written_through_the_pipeline_is_stored_again_before_commit(admin):
    C = models.CaseFile
    case = C.select().join(models.Unit).where((C.stage == "committee_approved") & C.is_open()
                                              & models.Unit.code.startswith("NS-NP-")).first()
    before = stored_row(case.id)
    assert before.action == "admission_decision"
    pipeline.apply(admin, case.id, pipeline.StepInput("admitted", TODAY, decision="998-QĐ/HU", received=TODAY),
                   TODAY, override_reason="test")
    after = stored_row(case.id)
    assert not after.stale and after.action == "ceremony" and after.due > TODAY
    assert after.settled == TODAY
    item = next(i for i in worklist.worklist(admin, None, TODAY) if i.case_id == case.id)
    assert (item.next_action, item.due) == (after.action, after.due)


def test_a_record_written_outside_a_write_transaction_is_not_read_from_a_stale_row(admin):
    C = models.CaseFile
    case = C.select().where((C.stage == "committee_approved") & C.is_open()).first()
    item = next(i for i in worklist.worklist(admin, None, TODAY) if i.case_id == case.id)
    # the decision step written directly: the trigger marks the stored row stale, and nothing
    # refreshes it; the work list must compute the file from its records
    seq = models.Step.select().where(models.Step.case == case).count() + 1
    models.Step.create(case=case, seq=seq, stage="admitted", date=TODAY, unit=case.branch, received=TODAY)
    models.CaseFile.update(stage="admitted").where(C.id == case.id).execute()
    assert stored_row(case.id).stale
    again = next(i for i in worklist.worklist(admin, None, TODAY) if i.case_id == case.id)
    assert item.next_action == "admission_decision" and again.next_action == "ceremony"
    assert worklist.refresh_due() >= 1 and not stored_row(case.id).stale


def test_a_row_with_records_dated_later_does_not_answer_for_an_earlier_day(admin):
    C, S = models.CaseFile, models.Step
    # a file whose last record is its admission decision: the day before, it awaited the decision
    case, decided = next((c, d) for c, d in C.select(C.id, S.date).join(S).where(
        (C.stage == "admitted") & C.is_open() & (S.stage == "admitted")).tuples()
        if stored_row(c).settled == d)
    assert stored_row(case).action == "ceremony"
    earlier = decided - datetime.timedelta(days=1)
    on_day = [i for i in worklist.worklist(admin, None, earlier) if i.case_id == case]
    assert [i.next_action for i in on_day] == ["admission_decision"]
    assert on_day == [i for i in from_records(lambda: worklist.worklist(admin, None, earlier))
                      if i.case_id == case]


@pytest.mark.parametrize("table", ["certificate", "workday_exception", "unit_link", "unit"])
def test_what_every_file_reads_marks_the_files_stale(admin, table):
    D = models.CaseDue
    stale = lambda: D.select().where(D.stale == True).count()  # noqa: E731, E712
    assert stale() == 0
    if table == "certificate":
        case = models.CaseFile.select().where(models.CaseFile.status == "open").first()
        models.Certificate.create(person=case.person_id, kind="awareness", number="T-1", issued=TODAY,
                                  issuer="Trung tâm chính trị huyện")
        assert stored_row(case.id).stale
        assert 0 < stale() < models.CaseFile.select().count()
    elif table == "workday_exception":
        models.WorkdayException.create(date=Date(2021, 10, 4), kind="off", note="test")
        assert stale() == models.CaseFile.select().count()
    elif table == "unit_link":
        link = models.UnitLink.select().first()
        models.UnitLink.update(start=link.start).where(models.UnitLink.id == link.id).execute()
        assert stale() == models.CaseFile.select().count()
    else:
        unit = models.Unit.get(models.Unit.code == "NS-NP-07")
        models.Unit.update(name="Chi bộ đổi tên").where(models.Unit.id == unit.id).execute()
        assert stale() == 0  # a name is not read by the deadlines
        models.Unit.update(org_type="grassroots_branch").where(models.Unit.id == unit.id).execute()
        assert stale() == models.CaseFile.select().count()


def test_member_counts_are_kept_and_follow_a_change(admin):
    unit = fig.unit_id("NS-NP")
    counts = progress.stats(admin, unit, 2021, TODAY, children=False)
    assert (counts.members_official, counts.members) == (len(fig.member_ids(unit, TODAY, official=True)),
                                                         len(fig.member_ids(unit, TODAY)))
    MT = models.MemberTally
    assert MT.select().where(MT.day == TODAY).count() > 0
    # a member of a Nà Phặc branch leaves: that branch's kept counts go, the figure follows
    M, A = models.Membership, models.Affiliation
    person = next(iter(fig.member_ids(unit, TODAY)))
    branch = A.select(A.unit).where((A.person == person) & A.end.is_null()).scalar()
    assert MT.select().where((MT.day == TODAY) & (MT.unit == branch)).count() == 1
    M.update(ended_on=Date(2021, 9, 1), end_reason="moved_out").where(M.person == person).execute()
    assert MT.select().where((MT.day == TODAY) & (MT.unit == branch)).count() == 0
    again = progress.stats(admin, unit, 2021, TODAY, children=False)
    assert again.members == counts.members - 1 == len(fig.member_ids(unit, TODAY))


@pytest.mark.parametrize("day", DAYS[:4])
def test_the_members_of_every_unit_counted_at_once_are_each_units_members(admin, monkeypatch, day):
    """The first panel of a day counts every unit at once, reading the affiliations unit by unit
    (past a few hundred units: the demo has fewer, so the threshold is lowered here)."""
    tree = progress.Tree()
    units = set(tree.units)
    one_by_one = progress._count_members(tree, units, day)
    monkeypatch.setattr(progress, "_MANY_UNITS", 0)
    at_once = progress._count_members(tree, units, day)
    assert at_once == one_by_one
    for unit in (fig.unit_id("NS"), fig.unit_id("NS-NP")):
        inside = tree.subtree(unit, day)
        assert sum(at_once[u][0] for u in inside) == len(fig.member_ids(unit, day, official=True))
        assert sum(sum(at_once[u]) for u in inside) == len(fig.member_ids(unit, day))
    assert sum(sum(v) for v in at_once.values()) > 100


def test_only_a_few_days_of_member_counts_are_kept(admin):
    district = fig.unit_id("NS")
    days = [Date(2021, 9, 30) - datetime.timedelta(days=30 * n) for n in range(7)]
    for day in days:
        progress.stats(admin, district, day.year, day, children=False)
    MT = models.MemberTally
    kept = sorted(d for (d,) in MT.select(MT.day).distinct().tuples())
    assert len(kept) == progress._TALLY_DAYS and days[-1] in kept


def test_counts_sent_to_class_are_kept_and_follow_a_change(admin):
    unit = fig.unit_id("NS-NP")
    first = progress.stats(admin, unit, 2021, TODAY, children=False).sent_to_class
    assert first == fig.sent_to_class(unit, 2021, TODAY) == 23
    CT = models.ClassTally
    assert CT.get((CT.day == TODAY) & (CT.year == 2021) & (CT.unit == unit)).sent == 23
    # one of them had not been enrolled after all: the kept count goes, the figure follows
    E = models.Enrolment
    person = progress.sent_to_class_list(admin, unit, 2021, TODAY)[0].person_id
    E.delete().where(E.person == person).execute()
    assert CT.select().count() == 0
    again = progress.stats(admin, unit, 2021, TODAY, children=False).sent_to_class
    assert again == first - 1 == fig.sent_to_class(unit, 2021, TODAY)
    # the branch that sent someone moves to another district: the count follows the tree
    sent = progress.sent_to_class_list(admin, unit, 2021, TODAY)
    A = models.Affiliation
    branch = A.select(A.unit).where((A.person == sent[0].person_id) & (A.start <= sent[0].date)
                                    & (A.end.is_null() | (A.end > sent[0].date))).scalar()
    other = models.Unit.select(models.Unit.id).where(models.Unit.code == "NS").scalar()
    with connection.write_transaction():
        models.Unit.update(parent=None).where(models.Unit.id == branch).execute()
        models.UnitLink.delete().where(models.UnitLink.unit == branch).execute()
    assert CT.select().count() == 0
    moved = progress.stats(admin, unit, 2021, TODAY, children=False).sent_to_class
    assert moved == fig.sent_to_class(unit, 2021, TODAY) < again
    assert progress.stats(admin, other, 2021, TODAY, children=False).sent_to_class == \
        fig.sent_to_class(other, 2021, TODAY)


def test_check_reports_a_kept_count_sent_to_class_that_disagrees(admin, demo_db, capsys):
    from db import audit
    from tui import cli

    audit.write_current_head()
    unit = fig.unit_id("NS-NP")
    progress.stats(admin, unit, 2021, TODAY, children=False)
    user = ("--db", demo_db, "--user", "demo_admin", "--lang", "en")
    assert cli.main([*user, "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stored_figures"]["class_counts_wrong"] == 0
    CT = models.ClassTally
    CT.update(sent=99).where(CT.unit == unit).execute()
    assert progress.stats(admin, unit, 2021, TODAY, children=False).sent_to_class == 99  # what a panel shows
    assert cli.main([*user, "check"]) == 1
    assert "1 disagree with the records" in capsys.readouterr().out
    assert cli.main([*user, "check", "--repair"]) == 0
    assert "no problems" in capsys.readouterr().out
    assert progress.stats(admin, unit, 2021, TODAY, children=False).sent_to_class == 23


def test_the_kept_tree_is_read_again_after_a_unit_changes(admin):
    unit = fig.unit_id("NS-NP")
    tree = progress.Tree.current()
    assert progress.Tree.current() is tree
    with connection.write_transaction():
        models.Unit.update(name="Đảng bộ thị trấn Nà Phặc (mới)").where(models.Unit.id == unit).execute()
    assert progress.Tree.current() is not tree
    renamed = progress.stats(admin, unit, 2021, TODAY, children=False).unit.name
    assert renamed == "Đảng bộ thị trấn Nà Phặc (mới)"


def test_the_tree_without_the_links_that_say_no_more_gives_the_same_units_on_every_day(admin, monkeypatch):
    """A unit's one link to its own parent over its whole life is not kept (db.progress.Tree):
    on every day the demo's tree changed, and the days either side, the children, every unit's
    chain upwards and what ever sat below a unit are those of the tree keeping every link."""
    from db import reorganise

    U = models.Unit
    moved, other = (U.select(U.id).where(U.org_type == "branch", U.ended.is_null()).order_by(U.id)
                    .limit(2).tuples())
    moved, other = moved[0], other[0]
    parent = U.get_by_id(moved).parent_id
    with connection.write_transaction():  # a branch moved under another and back, as a transfer does
        reorganise._relink(moved, other, datetime.date(2020, 3, 1))
        reorganise._relink(moved, parent, datetime.date(2021, 2, 1))
    lean = progress.Tree()
    assert moved in lean.links  # its three links say more than its parent
    assert len(lean.links) < len(models.UnitLink.select(models.UnitLink.unit).distinct())
    assert other in lean.children_on(datetime.date(2020, 6, 1))
    assert moved in lean.children_on(datetime.date(2020, 6, 1))[other]
    monkeypatch.setattr(progress.Tree, "_says_no_more", staticmethod(lambda unit, links: False))
    whole = progress.Tree()
    assert whole._changes  # the demo's reorganisations, closings and moves
    days = sorted({day + datetime.timedelta(days=shift) for day in whole._changes for shift in (-1, 0, 1)})
    for day in days:
        assert lean.children_on(day) == whole.children_on(day), day
        for unit in whole.units:
            assert lean.ancestors(unit, day) == whole.ancestors(unit, day), (unit, day)
    for unit in whole.units:
        assert lean.ever_below(unit) == whole.ever_below(unit), unit


def test_check_reports_a_stored_due_date_that_disagrees_and_repair_recomputes_it(demo_db, capsys):
    from db import audit
    from tui import cli

    audit.write_current_head()  # the copy came without the chain's head file
    user = ("--db", demo_db, "--user", "demo_admin", "--lang", "en")
    assert cli.main([*user, "check", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stored_figures"] == {"triggers": True, "files_without_next_action": 0, "next_actions_wrong": 0,
                                     "class_counts_wrong": 0}
    D = models.CaseDue
    wrong = D.select().where(D.action.is_null(False)).order_by(D.case).limit(2)
    ids = [row.case_id for row in wrong]
    D.update(due=Date(2000, 1, 1)).where(D.case.in_(ids)).execute()
    assert cli.main([*user, "check"]) == 1
    assert "2 files disagree with their records" in capsys.readouterr().out
    assert cli.main([*user, "check", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "Recomputed every file's due date" in out and "no problems" in out
    assert all(D.get_by_id(i).due != Date(2000, 1, 1) for i in ids)


def test_the_stored_voting_branch_gives_the_decisions_the_records_give(admin):
    """A period's decisions per voting branch: the same from the stored branch (case_due) as
    found from the steps, and an undone branch vote is not kept stored."""
    from db import progress

    first, last = datetime.date(2016, 1, 1), datetime.date(2021, 9, 30)
    stored = progress._admissions(first, last)
    assert models.CaseDue.select().where(models.CaseDue.voted_branch.is_null(False)).count() > 100
    found = from_records(lambda: progress._admissions(first, last))
    assert sorted(stored) == sorted(found) and len(stored) > 50
    D = models.CaseDue
    D.update(voted_branch=None).execute()  # without them: found from the steps, the same
    assert sorted(progress._admissions(first, last)) == sorted(found)


def test_an_undone_branch_vote_is_not_kept_as_the_voting_branch(admin):
    C = models.CaseFile
    case = C.select().where((C.stage == "branch_approved") & (C.status == "open")).first()
    assert models.CaseDue.get_by_id(case.id).voted_branch is not None
    pipeline.undo_last(admin, case.id, "Nhầm biểu quyết", datetime.date(2021, 9, 30))
    assert models.CaseDue.get_by_id(case.id).voted_branch is None
    assert worklist.stored_problems() == (0, 0)
