"""The read side of db: units, people, files, search, text, calendar, connection, access.

Each test builds a small database with the models in tmp_path (the empty_db fixture).
`build_world` is shared with tests/test_cli.py.
"""

from __future__ import annotations

import datetime
import json
from types import SimpleNamespace

import pytest

from db import access, connection, models
from db.access import AccessError, Actor, ensure_admin, resolve_actor
from db.calendar import WorkingDays, add_months, full_months_between
from db.cases import NotFound, case_view, find, next_action
from db.people import party_status, people_count, people_page
from db.text import clean, fold, name_sort_key
from db.units import UnitLookupError, find_unit, get_unit, subtree_ids, unit_tree

D = datetime.date
TODAY = D(2021, 9, 30)


# --- builders (plain functions: test_cli.py imports them) ----------------------------------

def make_unit(code, name, org_type, parent=None, *, founded=D(2010, 1, 1), ended=None,
              level=None, category=None, sort_order=0, link=True):
    unit = models.Unit.create(code=code, name=name, name_folded=fold(name), level=level,
                              org_type=org_type, category=category, parent=parent,
                              founded=founded, ended=ended, sort_order=sort_order)
    if link:
        models.UnitLink.create(unit=unit, parent=parent, start=founded, end=ended)
    return unit


def make_person(full_name, branch=None, **fields):
    other = fields.get("other_name")
    return models.Person.create(full_name=full_name, name_folded=fold(full_name),
                                sort_key=name_sort_key(full_name),
                                other_folded=fold(other) if other else None,
                                branch=branch, **fields)


def make_step(case, seq, stage, date, unit, **fields):
    return models.Step.create(case=case, seq=seq, stage=stage, date=date, unit=unit, **fields)


def build_world():
    """A district with a grassroots committee (two village branches, one merged away in 2020)
    and a school branch founded in 2021; people, members and files.
    """
    w = SimpleNamespace()
    w.district = make_unit("HU", "Huyện ủy Ngân Sơn", "committee", level="district",
                           founded=D(2000, 1, 1))
    w.commune = make_unit("TQ", "Đảng bộ xã Thượng Quan", "grassroots_committee", w.district,
                          level="commune", sort_order=1)
    w.village = make_unit("TQ01", "Chi bộ thôn Nà Lạn", "branch", w.commune, category="village")
    w.merged = make_unit("TQ02", "Chi bộ thôn Khuổi Sáp", "branch", w.commune,
                         category="village", ended=D(2020, 7, 1))
    w.school = make_unit("VT", "Chi bộ Trường THCS Vân Tùng", "grassroots_branch", w.district,
                         category="school", founded=D(2021, 6, 1), sort_order=2)

    w.an = make_person("Nguyễn Văn An", w.village, born=D(1998, 3, 2), sex="M",
                       citizen_id="006098000001", phone="0912000001")
    w.anh = make_person("Trần Thị Ánh", w.village, born=D(2000, 5, 6), sex="F")
    w.binh = make_person("Lê Văn Bình", w.village, born=D(1990, 1, 1), sex="M")
    w.an2 = make_person("Lý Thị An", w.village, born=D(1995, 7, 7), sex="F",
                        other_name="Mai Hoa")
    w.dung = make_person("Hoàng Văn Dũng", w.village, born=D(1985, 2, 2), sex="M")
    w.dao = make_person("Nông Thị Đào", w.village, born=D(1988, 8, 8), sex="F")
    w.dang = make_person("Đặng Thị Hoạt", w.school, born=D(1999, 9, 9), sex="F")
    w.official = make_person("Nông Văn Hoạt", public_role="Bí thư Đảng ủy thị trấn Nà Phặc")

    # members: Bình official since 2019, Dũng probationary since 2021
    models.Membership.create(person=w.binh, admitted_on=D(2017, 12, 1), ceremony_on=D(2018, 1, 5),
                             official_on=D(2019, 1, 5))
    models.Membership.create(person=w.dung, admitted_on=D(2021, 3, 1), ceremony_on=D(2021, 3, 20))

    # An's file: at branch_approved since 01/02/2021, with the whole dossier
    w.case = models.CaseFile.create(person=w.an, branch=w.village, stage="branch_approved",
                                    recommended_by="youth_union")
    make_step(w.case, 1, "identified", D(2020, 3, 1), w.village)
    make_step(w.case, 2, "in_class", D(2020, 5, 10), w.district)
    make_step(w.case, 3, "certified", D(2020, 5, 20), w.district,
              details=json.dumps({"certificate": {"number": "123/CN"}}))
    make_step(w.case, 4, "dossier", D(2020, 6, 1), w.village)
    branch_step = make_step(w.case, 5, "branch_approved", D(2021, 2, 1), w.village)
    models.Resolution.create(step=branch_step, kind="branch_resolution", number="12-NQ/CB",
                             date=D(2021, 2, 1), votes_for=20, votes_convened=27, votes_excused=2)
    models.Certificate.create(person=w.an, kind="awareness", number="123/CN",
                              issued=D(2020, 5, 20), issuer="Trung tâm chính trị huyện")
    for kind, day in (("background_form", D(2020, 6, 5)), ("application_letter", D(2020, 6, 1)),
                      ("background_verification", D(2020, 8, 1)), ("comments", D(2020, 8, 10))):
        models.Document.create(case=w.case, kind=kind, received=day)
    models.Introducer.create(case=w.case, kind="member", person=w.binh, date=D(2020, 8, 15),
                             together_since=D(2018, 1, 1))
    models.Introducer.create(case=w.case, kind="youth_union", resolution="05-NQ/ĐTN",
                             date=D(2020, 8, 15))
    models.Helper.create(case=w.case, person=w.binh, since=D(2020, 3, 1))

    # Ánh's file: identified, on hold; Đặng Thị Hoạt's: in class (school branch)
    w.case_anh = models.CaseFile.create(person=w.anh, branch=w.village, stage="identified",
                                        on_hold=True, hold_reason="Đang thẩm tra")
    make_step(w.case_anh, 1, "identified", D(2021, 4, 1), w.village)
    w.case_dang = models.CaseFile.create(person=w.dang, branch=w.school, stage="in_class")
    make_step(w.case_dang, 1, "identified", D(2021, 6, 15), w.school)
    make_step(w.case_dang, 2, "in_class", D(2021, 8, 1), w.district)
    return w


@pytest.fixture
def world(admin):
    return build_world()


def _names(nodes):
    return [n.code for n in nodes]


# --- units -----------------------------------------------------------------------------------

def test_unit_tree_as_of_a_date_hides_ended_and_future_units(world, admin):
    (root,) = unit_tree(admin, TODAY)
    assert root.code == "HU"
    assert _names(root.children) == ["TQ", "VT"]
    assert _names(root.children[0].children) == ["TQ01"]  # TQ02 ended in 2020

    (old,) = unit_tree(admin, D(2019, 6, 1))
    assert _names(old.children) == ["TQ"]  # the school branch was founded in 2021
    assert _names(old.children[0].children) == ["TQ02", "TQ01"]  # Khuổi Sáp < Nà Lạn


def test_unit_tree_with_ended_units(world, admin):
    (root,) = unit_tree(admin, TODAY, include_ended=True)
    commune = root.children[0]
    assert _names(commune.children) == ["TQ02", "TQ01"]
    merged = commune.children[0]
    assert merged.ended == D(2020, 7, 1) and merged.parent_id == world.commune.id
    assert [n.code for n in root.walk()] == ["HU", "TQ", "TQ02", "TQ01", "VT"]


def test_unit_tree_follows_the_link_history(world, admin):
    # the village branch moved from the commune straight under the district on 01/01/2021
    models.UnitLink.update(end=D(2021, 1, 1)).where(models.UnitLink.unit == world.village).execute()
    models.UnitLink.create(unit=world.village, parent=world.district, start=D(2021, 1, 1))
    (before,) = unit_tree(admin, D(2020, 12, 31))
    assert "TQ01" in _names(before.children[0].children)
    (after,) = unit_tree(admin, D(2021, 1, 1))
    assert "TQ01" in _names(after.children)
    assert "TQ01" not in _names(after.children[0].children)


def test_unit_without_link_history_sits_under_its_parent(world, admin):
    make_unit("TQ03", "Chi bộ thôn Bản Súng", "branch", world.commune, link=False)
    (root,) = unit_tree(admin, TODAY)
    assert _names(root.children) == ["TQ", "VT"]
    assert _names(root.children[0].children) == ["TQ03", "TQ01"]  # Bản Súng < Nà Lạn


def test_unit_tree_is_limited_to_the_account_scope(world):
    secretary = Actor(None, "sec", "secretary", world.commune.id)
    (root,) = unit_tree(secretary, TODAY)
    assert root.code == "TQ" and _names(root.children) == ["TQ01"]
    assert subtree_ids(secretary, world.district.id, TODAY) == []
    assert sorted(subtree_ids(secretary, world.commune.id, TODAY)) == sorted(
        [world.commune.id, world.village.id])
    assert get_unit(secretary, world.school.id, TODAY) is None


def test_find_unit_by_code_name_prefix_and_substring(world, admin):
    assert find_unit(admin, "TQ01", TODAY).code == "TQ01"
    assert find_unit(admin, "tq01", TODAY).code == "TQ01"  # folded code
    assert find_unit(admin, "chi bo thon na lan", TODAY).code == "TQ01"  # no diacritics
    assert find_unit(admin, "CHI BỘ THÔN NÀ LẠN", TODAY).code == "TQ01"
    assert find_unit(admin, "Huyện", TODAY).code == "HU"  # unique prefix
    assert find_unit(admin, "van tung", TODAY).code == "VT"  # unique substring
    # two village branches match, but only one is alive today
    assert find_unit(admin, "chi bo thon", TODAY).code == "TQ01"
    assert find_unit(admin, "khuoi sap", TODAY).code == "TQ02"  # an ended unit by name


def test_find_unit_ambiguous_lists_the_candidates(world, admin):
    with pytest.raises(UnitLookupError) as caught:
        find_unit(admin, "chi bo", TODAY)
    assert caught.value.code == "ambiguous_unit"
    codes = {code for code, _ in caught.value.candidates}
    assert {"TQ01", "VT"} <= codes


@pytest.mark.parametrize("text", ["xyz", "", "   "])
def test_find_unit_unknown(world, admin, text):
    with pytest.raises(UnitLookupError) as caught:
        find_unit(admin, text, TODAY)
    assert caught.value.code == "unknown_unit" and caught.value.candidates == ()


def test_find_unit_outside_the_scope_is_unknown(world):
    secretary = Actor(None, "sec", "secretary", world.commune.id)
    with pytest.raises(UnitLookupError):
        find_unit(secretary, "VT", TODAY)


# --- people ----------------------------------------------------------------------------------

VIETNAMESE_ORDER = ["Lý Thị An", "Nguyễn Văn An", "Trần Thị Ánh", "Lê Văn Bình",
                    "Hoàng Văn Dũng", "Nông Thị Đào"]


def test_people_page_in_vietnamese_order_forward_and_back(world, admin):
    first = people_page(admin, world.village.id, TODAY, limit=2)
    assert [r.full_name for r in first.rows] == VIETNAMESE_ORDER[:2]
    assert (first.has_before, first.has_after) == (False, True)

    second = people_page(admin, world.village.id, TODAY, after=first.rows[-1].cursor, limit=2)
    assert [r.full_name for r in second.rows] == VIETNAMESE_ORDER[2:4]
    assert (second.has_before, second.has_after) == (True, True)

    third = people_page(admin, world.village.id, TODAY, after=second.rows[-1].cursor, limit=2)
    assert [r.full_name for r in third.rows] == VIETNAMESE_ORDER[4:]
    assert third.has_after is False

    back = people_page(admin, world.village.id, TODAY, before=third.rows[0].cursor, limit=2)
    assert back.rows == second.rows
    back_again = people_page(admin, world.village.id, TODAY, before=back.rows[0].cursor, limit=2)
    assert back_again.rows == first.rows and back_again.has_before is False


def test_people_page_rows_carry_status_file_and_branch(world, admin):
    rows = {r.full_name: r for r in people_page(admin, world.district.id, TODAY, limit=50).rows}
    assert rows["Lê Văn Bình"].party_status == "official"
    assert rows["Hoàng Văn Dũng"].party_status == "probationary"
    assert rows["Nguyễn Văn An"].case_id == world.case.id
    assert rows["Nguyễn Văn An"].stage == "branch_approved"
    assert rows["Đặng Thị Hoạt"].branch_code == "VT"
    assert "Nông Văn Hoạt" not in rows  # no branch: not listed under a unit
    assert party_status(world.dung.id, D(2021, 3, 19)) is None


def test_people_count_by_kind(world, admin):
    assert people_count(admin, world.district.id, TODAY) == 7
    assert people_count(admin, world.village.id, TODAY) == 6
    assert people_count(admin, world.district.id, TODAY, kind="candidates") == 3
    assert people_count(admin, world.district.id, TODAY, kind="members") == 2
    assert people_count(admin, world.district.id, D(2020, 1, 1), kind="members") == 1
    with pytest.raises(ValueError):
        people_page(admin, world.district.id, TODAY, kind="everyone")


def test_people_page_outside_the_scope_is_empty(world):
    secretary = Actor(None, "sec", "secretary", world.school.id)
    page = people_page(secretary, world.village.id, TODAY)
    assert page.rows == () and people_count(secretary, world.village.id, TODAY) == 0


# --- case files ------------------------------------------------------------------------------

def test_case_view_of_a_whole_file(world, admin):
    view = case_view(admin, world.case.id, TODAY)
    assert view.person.full_name == "Nguyễn Văn An" and view.person.citizen_id == "006098000001"
    assert view.branch.code == "TQ01"
    assert (view.stage, view.status) == ("branch_approved", "open")
    assert [s.stage for s in view.steps] == ["identified", "in_class", "certified", "dossier",
                                             "branch_approved"]
    assert view.steps[1].unit.code == "HU"
    assert view.steps[2].details == {"certificate": {"number": "123/CN"}}
    (resolution,) = view.steps[4].resolutions
    assert (resolution.kind, resolution.number, resolution.votes_for, resolution.votes_convened,
            resolution.votes_excused) == ("branch_resolution", "12-NQ/CB", 20, 27, 2)
    # documents in the order they were received
    assert [d.kind for d in view.documents] == ["application_letter", "background_form",
                                                "background_verification", "comments"]
    member, youth = view.introducers
    assert (member.kind, member.full_name, member.together_since) == (
        "member", "Lê Văn Bình", D(2018, 1, 1))
    assert (youth.kind, youth.resolution, youth.full_name) == ("youth_union", "05-NQ/ĐTN", None)
    assert view.helpers == ((world.binh.id, "Lê Văn Bình"),)
    assert [c.number for c in view.certificates] == ["123/CN"]


def test_case_view_status_hold_undone_and_snapshot(world, admin):
    models.Introducer.create(case=world.case_anh, kind="member", date=D(2021, 4, 2),
                             snapshot=json.dumps({"full_name": "Hà Văn Khách"}))
    make_step(world.case_anh, 2, "in_class", D(2021, 5, 1), world.district,
              undone_at=datetime.datetime(2021, 5, 2), undo_reason="nhập nhầm")
    view = case_view(admin, world.case_anh.id, TODAY)
    assert view.status == "on_hold" and view.hold_reason == "Đang thẩm tra"
    assert view.steps[-1].undone and view.steps[-1].undo_reason == "nhập nhầm"
    assert view.introducers[0].full_name == "Hà Văn Khách"
    assert view.next_action.code == "enrol_in_class"

    models.CaseFile.update(status="closed", outcome="withdrawn").where(
        models.CaseFile.id == world.case_anh.id).execute()
    closed = case_view(admin, world.case_anh.id, TODAY)
    assert closed.status == "closed" and closed.next_action is None


def test_a_file_recognised_official_is_finished(world, admin):
    models.CaseFile.update(stage="official", on_hold=False).where(
        models.CaseFile.id == world.case_anh.id).execute()
    view = case_view(admin, world.case_anh.id, TODAY)
    assert view.status == "closed" and view.outcome is None and view.next_action is None
    page = people_page(admin, world.district.id, TODAY, kind="candidates", limit=50)
    assert world.case_anh.id not in {row.case_id for row in page.rows}


def test_case_view_not_found_and_out_of_scope(world, admin):
    with pytest.raises(NotFound):
        case_view(admin, 9999, TODAY)
    secretary = Actor(None, "sec", "secretary", world.school.id)
    with pytest.raises(NotFound):
        case_view(secretary, world.case.id, TODAY)
    assert case_view(secretary, world.case_dang.id, TODAY).stage == "in_class"


def test_decision_due_60_working_days_after_the_branch_resolution_skipping_tet(world, admin):
    calendar = WorkingDays()
    for day in range(10, 17):  # Tết 2021: Wed 10/02 to Tue 16/02
        assert not calendar.is_working_day(D(2021, 2, day))
    view = case_view(admin, world.case.id, TODAY)
    # the village branch sits inside a grassroots committee: its vote comes first
    assert view.next_action.code == "committee_vote"
    # 6 days in early February, 8 after Tết, 23 in March, 20 in April (21/04 and 30/04 off),
    # then 04, 05, 06 May (03/05 off for 01/05): the 60th working day is Thursday 06/05/2021
    assert view.next_action.due == D(2021, 5, 6)
    assert calendar.between(D(2021, 2, 1), D(2021, 5, 6)) == 60


def test_next_action_codes_and_due_dates(world, admin):
    school = models.CaseFile.create(person=world.dao, branch=world.school, stage="branch_approved")
    step = make_step(school, 1, "branch_approved", D(2021, 2, 1), world.school)
    view = case_view(admin, school.id, TODAY)
    assert view.next_action.code == "admission_decision"  # a grassroots branch: no committee
    assert view.next_action.due == D(2021, 5, 6)

    models.Step.update(extension=True).where(models.Step.id == step.id).execute()
    assert case_view(admin, school.id, TODAY).next_action.due == WorkingDays().add(D(2021, 2, 1), 90)

    # an extra day off recorded by the administrator moves the deadline by one working day
    models.WorkdayException.create(date=D(2021, 3, 1), kind="off")
    models.Step.update(extension=False).where(models.Step.id == step.id).execute()
    assert case_view(admin, school.id, TODAY).next_action.due == D(2021, 5, 7)


def _step(stage, date, **kw):
    from db.cases import StepView, UnitRef

    return StepView(kw.get("seq", 1), stage, date, UnitRef(1, "X", "X"), kw.get("received"), (),
                    {}, None, kw.get("extension", False), kw.get("undone", False), None)


def test_next_action_along_the_pipeline(empty_db):
    from db.cases import CertificateView, DocumentView

    cal = WorkingDays({})
    cert = (CertificateView("awareness", "1", D(2020, 5, 20), "TTCT"),)
    assert next_action("identified", "open", (), (), (), False, cal).code == "enrol_in_class"
    assert next_action("in_class", "open", (), (), (), False, cal).code == "class_result"
    certified = next_action("certified", "open", (), (), cert, False, cal)
    assert (certified.code, certified.due) == ("collect_dossier", D(2025, 5, 20))
    assert next_action("dossier", "open", (), (), cert, False, cal).code == "branch_vote"

    admitted = next_action("admitted", "open",
                           (_step("admitted", D(2021, 6, 1), received=D(2021, 6, 4)),), (), (),
                           False, cal)
    assert (admitted.code, admitted.due) == ("ceremony", cal.add(D(2021, 6, 4), 30))

    ceremony = (_step("probationary", D(2021, 3, 20)),)
    records = next_action("probationary", "open", ceremony, (), (), False, cal)
    assert (records.code, records.due) == ("member_records", cal.add(D(2021, 3, 20), 30))
    docs = (DocumentView("member_records", D(2021, 4, 1), None),)
    review = next_action("probationary", "open", ceremony, docs, (), False, cal)
    assert (review.code, review.due) == ("probation_review", cal.add(D(2022, 3, 20), 30))

    assert next_action("official", "open", (), (), (), False, cal) is None
    assert next_action("dossier", "closed", (), (), (), False, cal) is None
    # an undone decision step does not count
    undone = (_step("branch_approved", D(2021, 2, 1)),
              _step("branch_approved", D(2021, 3, 1), seq=2, undone=True))
    assert next_action("branch_approved", "open", undone, (), (), False, cal).due == cal.add(
        D(2021, 2, 1), 60)
    # a legacy file at a stage without its step: the action, with no due date
    legacy = next_action("admitted", "open", (), (), (), False, cal)
    assert (legacy.code, legacy.due) == ("ceremony", None)
    assert next_action("branch_approved", "open", (), (), (), True, cal).due is None


# --- search ----------------------------------------------------------------------------------

def _found(actor, text, **kw):
    return [r.full_name for r in find(actor, text, TODAY, **kw)]


def test_find_ignores_diacritics_case_and_d(world, admin):
    assert set(_found(admin, "hoat")) == {"Nông Văn Hoạt", "Đặng Thị Hoạt"}
    assert _found(admin, "dang") == ["Đặng Thị Hoạt"]
    assert _found(admin, "ĐẶNG") == ["Đặng Thị Hoạt"]
    assert _found(admin, "Dang thi") == ["Đặng Thị Hoạt"]
    assert _found(admin, "dao") == ["Nông Thị Đào"]


def test_find_by_other_name_citizen_id_and_phone(world, admin):
    assert _found(admin, "mai hoa") == ["Lý Thị An"]
    assert _found(admin, "006098000001") == ["Nguyễn Văn An"]
    assert _found(admin, "0912000001") == ["Nguyễn Văn An"]
    assert _found(admin, "0060980") == ["Nguyễn Văn An"]  # a prefix of the ID
    assert _found(admin, "") == [] and _found(admin, "!!") == []


def test_find_needs_every_word(world, admin):
    assert _found(admin, "nong hoat") == ["Nông Văn Hoạt"]
    assert _found(admin, "nguyen binh") == []


def test_find_ranking_and_limit(world, admin):
    # every word is a prefix: "an" finds An and Ánh; a whole-name match comes first
    make_person("An", world.village)
    names = _found(admin, "an")
    assert names[0] == "An"
    assert set(names) == {"An", "Nguyễn Văn An", "Lý Thị An", "Trần Thị Ánh"}
    assert _found(admin, "nguyen van an") == ["Nguyễn Văn An"]
    assert len(_found(admin, "an", limit=2)) == 2
    assert _found(admin, "an", limit=2) == names[:2]
    # bm25 alone would put "Lê An Anh" (two words starting "an") before "Lê An"
    make_person("Lê An Anh", world.village)
    make_person("Lê An", world.village)
    assert _found(admin, "le an")[:2] == ["Lê An", "Lê An Anh"]


def test_find_reports_the_open_file(world, admin):
    (result,) = find(admin, "nguyen van an", TODAY)
    assert (result.case_id, result.stage, result.branch.code) == (world.case.id, "branch_approved",
                                                                  "TQ01")
    (official,) = find(admin, "nong van hoat", TODAY)
    assert official.case_id is None and official.branch is None
    assert official.public_role.startswith("Bí thư")


def test_find_within_the_account_scope(world):
    school = Actor(None, "sec", "secretary", world.school.id)
    # people of other branches are hidden; public officials (no branch) are found by all
    assert set(_found(school, "hoat")) == {"Đặng Thị Hoạt", "Nông Văn Hoạt"}
    assert _found(school, "nguyen") == []
    # the scope is applied in the query: many matches elsewhere do not crowd out the scope's own
    for i in range(60):
        make_person(f"Nguyễn Văn Tú {i}", world.village)
    make_person("Nguyễn Thị Tú", world.school)
    assert _found(school, "nguyen", limit=1) == ["Nguyễn Thị Tú"]


# --- text ------------------------------------------------------------------------------------

def test_clean_normalises_and_strips_control_characters():
    decomposed = "Nguye\u0302\u0303n"  # typed in decomposed form
    assert clean(decomposed) == "Nguyễn"
    assert clean("  Lò \x1b[31m  Văn\x07 ") == "Lò [31m Văn"
    assert clean("a\u009bb") == "ab"  # C1 CSI
    assert clean("dòng 1\n\tdòng 2\r", multiline=True) == "dòng 1\n\tdòng 2"
    assert clean(None) is None


def test_fold():
    assert fold("Đặng Thị Hoạt") == "dang thi hoat"
    assert fold("  NÔNG   Văn  HOẠT ") == "nong van hoat"
    assert fold("Nguye\u0302\u0303n") == "nguyen"
    assert fold(None) == "" and fold("") == ""


def test_name_sort_key_orders_names_vietnamese_style():
    names = ["Lê Văn Bình", "Trần Thị Ánh", "Nguyễn Văn An", "Nông Thị Đào", "Hoàng Văn Dũng",
             "Lý Thị An"]
    assert sorted(names, key=name_sort_key) == VIETNAMESE_ORDER
    # letters first (a < ă < â), then the tone (ngang, huyền, hỏi, ngã, sắc, nặng)
    words = ["Ân", "Ăn", "An", "Ạn", "Án", "Ãn", "Ản", "Àn"]
    assert sorted(words, key=name_sort_key) == ["An", "Àn", "Ản", "Ãn", "Án", "Ạn", "Ăn", "Ân"]
    assert sorted(["Đạt", "Dương", "Di"], key=name_sort_key) == ["Di", "Dương", "Đạt"]
    assert name_sort_key("Nguye\u0302\u0303n Văn An") == name_sort_key("Nguyễn Văn An")
    assert name_sort_key("") == "" and name_sort_key(None) == ""
    # a single word sorts before a longer name with the same given name
    assert name_sort_key("An") < name_sort_key("Lý Thị An")


# --- calendar --------------------------------------------------------------------------------

@pytest.mark.parametrize("start, months, expected", [
    (D(2021, 1, 31), 1, D(2021, 2, 28)),
    (D(2024, 1, 31), 1, D(2024, 2, 29)),
    (D(2021, 3, 20), 12, D(2022, 3, 20)),
    (D(2020, 2, 29), 12, D(2021, 2, 28)),
    (D(2021, 11, 30), 3, D(2022, 2, 28)),
    (D(2021, 3, 31), -1, D(2021, 2, 28)),
    (D(2020, 5, 20), 60, D(2025, 5, 20)),
])
def test_add_months_clamps_to_the_end_of_the_month(start, months, expected):
    assert add_months(start, months) == expected


def test_full_months_between():
    assert full_months_between(D(2021, 1, 31), D(2021, 2, 28)) == 1
    assert full_months_between(D(2021, 1, 31), D(2021, 2, 27)) == 0
    assert full_months_between(D(2018, 1, 1), D(2020, 8, 15)) == 31


def test_working_days_and_exceptions():
    cal = WorkingDays({D(2021, 2, 20): "work", D(2021, 2, 19): "off"})
    assert cal.is_working_day(D(2021, 2, 9)) and not cal.is_working_day(D(2021, 2, 12))
    assert cal.is_working_day(D(2021, 2, 20))  # a Saturday worked in exchange
    assert not cal.is_working_day(D(2021, 2, 19))
    assert not cal.is_working_day(D(2021, 9, 2)) and not cal.is_working_day(D(2021, 9, 3))
    assert cal.add(D(2021, 2, 9), 1) == D(2021, 2, 17)
    assert cal.add(D(2021, 2, 17), -1) == D(2021, 2, 9)
    assert cal.between(D(2021, 2, 17), D(2021, 2, 9)) == -1
    assert cal.add(D(2021, 2, 9), 0) == D(2021, 2, 9)


# --- connection ------------------------------------------------------------------------------

@pytest.fixture
def no_config(tmp_path, monkeypatch):
    """No system or user configuration file; the user's data directory in tmp_path."""
    monkeypatch.setattr(connection, "SYSTEM_CONFIG", tmp_path / "etc" / "ketnap.toml")
    monkeypatch.setattr(connection, "user_config_file", lambda: tmp_path / "home" / "ketnap.toml")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("KETNAP_DB", raising=False)
    return tmp_path


def test_resolve_location_precedence(no_config):
    tmp = no_config
    assert connection.resolve_location(None) == str(tmp / "data" / "ketnap" / "ketnap.sqlite3")
    (tmp / "home").mkdir()
    (tmp / "home" / "ketnap.toml").write_text('db = "/srv/user.sqlite3"\n')
    assert connection.resolve_location(None) == "/srv/user.sqlite3"
    (tmp / "etc").mkdir()
    (tmp / "etc" / "ketnap.toml").write_text('db = "/srv/system.sqlite3"\n')
    assert connection.resolve_location(None) == "/srv/system.sqlite3"
    env = {"KETNAP_DB": "/srv/env.sqlite3"}
    assert connection.resolve_location(None, env) == "/srv/env.sqlite3"
    assert connection.resolve_location("/srv/option.sqlite3", env) == "/srv/option.sqlite3"


def test_resolve_location_ignores_a_broken_config_file(no_config):
    (no_config / "etc").mkdir()
    (no_config / "etc" / "ketnap.toml").write_text("db = [unclosed\n")
    assert connection.resolve_location(None).endswith("ketnap.sqlite3")


def test_resolve_today_precedence(empty_db):
    env = {"KETNAP_TODAY": "01/02/2021"}
    clock = connection.resolve_today(None, {})
    assert clock.source == "clock"
    assert clock.date == datetime.datetime.now(connection.VIETNAM).date()
    connection.set_setting("today", "2021-09-30")
    assert connection.resolve_today(None, {}) == connection.Today(D(2021, 9, 30), "database")
    assert connection.resolve_today(None, env) == connection.Today(D(2021, 2, 1), "env")
    assert connection.resolve_today("2020-12-31", env) == connection.Today(D(2020, 12, 31), "option")
    with pytest.raises(ValueError):
        connection.resolve_today("31/02/2021", {})


@pytest.mark.parametrize("text, expected", [
    ("30/09/2021", D(2021, 9, 30)), ("1/2/2021", D(2021, 2, 1)), ("2021-09-30", D(2021, 9, 30)),
    (" 2021-09-30 ", D(2021, 9, 30)),
])
def test_parse_date(text, expected):
    assert connection.parse_date(text) == expected


@pytest.mark.parametrize("text", ["30/09/21", "2021/09/30", "31/02/2021", "09-30-2021", "", "x/y/z",
                                  "1/2"])
def test_parse_date_refuses(text):
    with pytest.raises(ValueError):
        connection.parse_date(text)


def test_open_database_reports_what_it_did(tmp_path):
    path = tmp_path / "new.sqlite3"
    opened = connection.open_database_report(str(path))
    assert opened.created and opened.applied and opened.backup is None
    connection.close_database()
    again = connection.open_database_report(str(path))
    assert not again.created and again.applied == () and again.backup is None
    # a migration to apply on an existing database: a backup copy is taken first
    again.database.execute_sql("DELETE FROM schema_migration WHERE name = ?", (opened.applied[-1],))
    connection.close_database()
    migrated = connection.open_database_report(str(path))
    assert migrated.applied == (opened.applied[-1],)
    assert migrated.backup is not None and migrated.backup.exists()
    assert migrated.backup.stat().st_mode & 0o077 == 0
    connection.close_database()


def test_open_database_accepts_a_sqlite_url(tmp_path):
    path = tmp_path / "url.sqlite3"
    connection.open_database(f"sqlite:///{path}")
    connection.close_database()
    assert path.exists() and path.stat().st_mode & 0o077 == 0
    connection.open_database(f"sqlite:///{path}", create=False)
    connection.close_database()


def test_open_database_without_create_refuses_a_missing_file(tmp_path):
    with pytest.raises(connection.DatabaseError):
        connection.open_database(str(tmp_path / "missing.sqlite3"), create=False)
    assert not (tmp_path / "missing.sqlite3").exists()
    with pytest.raises(connection.DatabaseError):  # no server there, or no such database
        connection.open_database("postgresql://127.0.0.1:1/ketnap")


# --- access ----------------------------------------------------------------------------------

def test_resolve_actor(world, admin):
    models.Account.create(name="sec", role="secretary", unit=world.village)
    models.Account.create(name="gone", role="viewer", disabled=True)
    assert resolve_actor(None, login="tester").is_admin
    assert resolve_actor("sec", login="tester").name == "sec"  # an admin may act as another
    with pytest.raises(AccessError) as caught:
        resolve_actor("tester", login="sec")
    assert caught.value.code == "forbidden"
    assert resolve_actor("tester", login="sec", demo=True).name == "tester"
    assert resolve_actor("tester", login="sec", forced_command=True).name == "tester"
    for login in ("nobody", "gone"):
        with pytest.raises(AccessError) as caught:
            resolve_actor(None, login=login)
        assert caught.value.code == "no_account"
    assert access.scope_root(resolve_actor(None, login="sec")) == world.village.id
    assert access.scope_root(admin) is None


def test_ensure_admin_is_idempotent(empty_db):
    actor, created = ensure_admin("boss")
    again, created_again = ensure_admin("boss")
    assert created and not created_again and actor == again and actor.is_admin
    assert models.Account.select().count() == 1


def test_the_scope_is_kept_between_calls_until_the_tree_changes(demo_db, demo_admin):
    """Every page of a list and every save checks the account's scope: the unit tree is kept
    between calls, and a change of the tree (here a unit founded) is seen at the next call."""
    from db import reorganise
    from db.units import subtree_ids

    today = datetime.date(2021, 9, 30)
    commune = models.Unit.get(models.Unit.org_type == "grassroots_committee")
    before = subtree_ids(demo_admin, commune.id, today)
    assert subtree_ids(demo_admin, commune.id, today) == before
    decision = reorganise.Decision("12-QĐ/HU", today, today)
    reorganise.found(demo_admin, today, decision, commune.id,
                     reorganise.NewUnit("NEW-1", "Chi bộ thôn Mới", "branch"))
    new = models.Unit.get(models.Unit.code == "NEW-1")
    after = subtree_ids(demo_admin, commune.id, today)
    assert set(after) == set(before) | {new.id}
