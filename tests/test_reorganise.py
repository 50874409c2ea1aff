"""Reorganising units (db.reorganise) on a copy of the demo: what moves on the effective day,
what stays as it was before it, refusals at the input that causes them, and a change recorded
ahead of its effective day."""

from __future__ import annotations

import datetime

import pytest

from db import models, progress, reorganise, worklist
from db.access import AccessError, account_actor
from db.reorganise import ChangeError, Decision, NewUnit
from db.units import unit_tree
from tests import demo_figures as fig

Date = datetime.date
TODAY = Date(2022, 6, 1)
EFFECTIVE = Date(2022, 1, 1)
BEFORE = Date(2021, 12, 31)
DECISION = Decision("45-QĐ/ĐU", Date(2021, 12, 20), EFFECTIVE, "Sáp nhập chi bộ tổ dân phố")


@pytest.fixture
def organiser(demo_db):
    return account_actor("demo_organiser")


def unit(code: str) -> models.Unit:
    return models.Unit.get(models.Unit.code == code)


def open_files(branch_id: int) -> set[int]:
    C = models.CaseFile
    return {c for (c,) in C.select(C.id).where((C.branch == branch_id) & C.is_open()).tuples()}


def tree_codes(actor, day: Date) -> set[str]:
    return {node.code for root in unit_tree(actor, day) for node in root.walk()}


def stats_2021(actor) -> list[dict]:
    return [progress.stats_json(progress.stats(actor, fig.unit_id(code), 2021, Date(2021, 12, 31)))
            for code in ("NS", "NS-NP", "NS-NP-01", "NS-NP-02")]


def test_merging_two_branches_moves_members_and_files_and_keeps_2021(organiser):
    a, b = unit("NS-NP-01"), unit("NS-NP-02")
    members = fig.member_ids(a.id, BEFORE) | fig.member_ids(b.id, BEFORE)
    files = open_files(a.id) | open_files(b.id)
    assert members and files
    before = stats_2021(organiser)
    list_before = worklist.worklist(organiser, fig.unit_id("NS-NP"), BEFORE)

    outcome = reorganise.merge(organiser, TODAY, DECISION, [a.id, b.id],
                               NewUnit("NS-NP-40", "Chi bộ Tổ dân phố Nà Phặc 1-2"))

    merged = unit("NS-NP-40")
    assert outcome.applied and outcome.results == ["NS-NP-40"]
    assert merged.founded == EFFECTIVE and merged.org_type == a.org_type and merged.category == a.category
    assert unit("NS-NP-01").ended == EFFECTIVE and unit("NS-NP-02").ended == EFFECTIVE
    # after the effective day: everyone and every open file in the merged branch
    assert fig.member_ids(merged.id, EFFECTIVE) == members
    assert fig.member_ids(fig.unit_id("NS-NP-01"), EFFECTIVE) == set()
    assert open_files(merged.id) == files
    assert models.Person.select().where(models.Person.branch.in_([a.id, b.id])).count() == 0
    # the day before: the old tree, the old members, the same 2021 figures and work list
    assert {"NS-NP-01", "NS-NP-02"} <= tree_codes(organiser, BEFORE)
    assert "NS-NP-40" not in tree_codes(organiser, BEFORE)
    assert {"NS-NP-01", "NS-NP-02"}.isdisjoint(tree_codes(organiser, TODAY))
    assert fig.member_ids(a.id, BEFORE) | fig.member_ids(b.id, BEFORE) == members
    assert stats_2021(organiser) == before
    assert worklist.worklist(organiser, fig.unit_id("NS-NP"), BEFORE) == list_before
    # every step keeps the unit that acted
    S = models.Step
    assert S.select().where(S.unit == merged.id).count() == 0
    # who did it
    entry = models.AuditEntry.select().order_by(models.AuditEntry.id.desc()).first()
    assert (entry.action, entry.account_id, entry.entity) == ("unit_merge", organiser.account_id, "unit_change")
    assert [h.kind for h in reorganise.history(merged.id)] == ["merge"]
    assert reorganise.history(merged.id)[0].made_from == ("NS-NP-01", "NS-NP-02")
    assert reorganise.history(a.id)[-1].became == ("NS-NP-40",)


def test_a_branch_panel_before_and_after(organiser):
    a, b = unit("NS-NP-01"), unit("NS-NP-02")
    members = fig.member_ids(a.id, TODAY) | fig.member_ids(b.id, TODAY)
    reorganise.merge(organiser, TODAY, DECISION, [a.id, b.id], NewUnit("NS-NP-40", "Chi bộ Tổ dân phố 1-2"))
    merged = progress.stats(organiser, unit("NS-NP-40").id, 2022, TODAY)
    assert merged.members == len(members)
    files = open_files(unit("NS-NP-40").id)
    assert sum(merged.funnel.values()) == sum(
        1 for c in files if models.CaseFile.get_by_id(c).stage in progress.FUNNEL)


def test_refusals_name_what_is_wrong(organiser):
    a, b = unit("NS-NP-01"), unit("NS-NP-02")
    with pytest.raises(ChangeError) as err:
        reorganise.merge(organiser, TODAY, Decision("1", Date(2022, 7, 1), Date(2022, 7, 1)), [a.id, b.id],
                         NewUnit("X1", "X"))
    assert err.value.code == "decided_in_future"
    with pytest.raises(ChangeError) as err:
        reorganise.merge(organiser, TODAY, Decision("1", Date(2022, 1, 5), Date(2022, 1, 1)), [a.id, b.id],
                         NewUnit("X1", "X"))
    assert err.value.code == "effective_before_decided"
    with pytest.raises(ChangeError) as err:
        reorganise.merge(organiser, TODAY, DECISION, [a.id], NewUnit("X1", "X"))
    assert err.value.code == "too_few_sources"
    with pytest.raises(ChangeError) as err:
        reorganise.merge(organiser, TODAY, DECISION, [a.id, b.id], NewUnit("NS-NP-03", "X"))
    assert err.value.code == "code_taken"
    with pytest.raises(ChangeError) as err:
        reorganise.transfer(organiser, TODAY, DECISION, fig.unit_id("NS-NP"), a.id)
    assert err.value.code == "under_itself"
    ended = unit("NS-NP-29")  # dissolved in 2018
    with pytest.raises(ChangeError) as err:
        reorganise.dissolve(organiser, TODAY, DECISION, ended.id, a.id)
    assert err.value.code == "not_alive"
    with pytest.raises(AccessError):
        reorganise.rename(account_actor("demo_secretary"), TODAY, DECISION, a.id, "Tên mới")
    # nothing was written by the refused attempts
    assert models.UnitChange.select().where(models.UnitChange.decision == "1").count() == 0
    assert not models.Unit.select().where(models.Unit.code == "X1").exists()


def test_split_sends_each_person_and_their_file_where_chosen(organiser):
    source = unit("NS-NP-03")
    people = sorted(reorganise._people_of(source.id, EFFECTIVE))
    chosen = people[: len(people) // 2]
    with pytest.raises(ChangeError) as err:
        reorganise.split(organiser, TODAY, DECISION, source.id,
                         [NewUnit("NS-NP-41", "Chi bộ A"), NewUnit("NS-NP-42", "Chi bộ B")], {p: 0 for p in chosen})
    assert err.value.code == "unassigned"
    outcome = reorganise.split(organiser, TODAY, DECISION, source.id,
                               [NewUnit("NS-NP-41", "Chi bộ A"), NewUnit("NS-NP-42", "Chi bộ B")],
                               {p: 0 for p in chosen}, rest=1)
    first, second = unit("NS-NP-41"), unit("NS-NP-42")
    assert reorganise._people_of(first.id, EFFECTIVE) == set(chosen)
    assert reorganise._people_of(second.id, EFFECTIVE) == set(people) - set(chosen)
    C = models.CaseFile
    for case in C.select().where(C.branch.in_([first.id, second.id])):
        assert case.person_id in (set(chosen) if case.branch_id == first.id else set(people) - set(chosen))
    assert outcome.sources == ["NS-NP-03"] and unit("NS-NP-03").ended == EFFECTIVE


def test_rename_keeps_the_old_name_for_earlier_reports(organiser):
    np_ = fig.unit_id("NS-NP")
    reorganise.rename(organiser, TODAY, DECISION, np_, "Đảng bộ thị trấn Nà Phặc mới")
    assert progress.stats(organiser, np_, 2021, BEFORE).unit.name == "Đảng bộ thị trấn Nà Phặc"
    assert progress.stats(organiser, np_, 2022, TODAY).unit.name == "Đảng bộ thị trấn Nà Phặc mới"
    entry = reorganise.history(np_)[-1]
    assert (entry.kind, entry.old_name, entry.new_name) == ("rename", "Đảng bộ thị trấn Nà Phặc",
                                                            "Đảng bộ thị trấn Nà Phặc mới")


def test_transfer_and_found(organiser):
    branch, other = unit("NS-NP-03"), unit("NS-BV")
    reorganise.transfer(organiser, TODAY, DECISION, branch.id, other.id)
    assert reorganise.parent_on(branch.id, BEFORE) == fig.unit_id("NS-NP")
    assert reorganise.parent_on(branch.id, EFFECTIVE) == other.id and unit("NS-NP-03").parent_id == other.id
    assert progress.stats(organiser, fig.unit_id("NS-NP"), 2021, BEFORE).branches == \
        fig.branch_count(fig.unit_id("NS-NP"), BEFORE)
    reorganise.found(organiser, TODAY, DECISION, other.id, NewUnit("NS-BV-40", "Chi bộ thôn mới"))
    new = unit("NS-BV-40")
    assert new.parent_id == other.id and new.founded == EFFECTIVE and new.org_type == "branch"


def test_a_change_recorded_ahead_waits_for_its_day(organiser):
    a, b = unit("NS-NP-01"), unit("NS-NP-02")
    files = open_files(a.id) | open_files(b.id)
    later = Decision("50-QĐ/ĐU", Date(2022, 5, 20), Date(2022, 7, 1))
    outcome = reorganise.dissolve(organiser, TODAY, later, a.id, b.id)
    assert not outcome.applied
    # today: nothing has moved yet in the current columns; on 1/7 the history says it has
    assert open_files(a.id) == files - open_files(b.id)
    assert fig.member_ids(b.id, Date(2022, 7, 1)) >= fig.member_ids(a.id, TODAY)
    assert reorganise.apply_due(Date(2022, 6, 30)) == 0
    assert reorganise.apply_due(Date(2022, 7, 1)) == 1
    assert open_files(a.id) == set() and open_files(b.id) == files
    assert reorganise.apply_due(Date(2022, 7, 2)) == 0
