"""Case files between databases: `db.transfer` export and import, `ketnap export cases` and
`ketnap import FILE`. A second database is opened on another file of tmp_path; the models are
bound to one database at a time, so each test switches between them."""

from __future__ import annotations

import datetime
import json
import os
import stat

import pytest

from db import cases, connection, models, pipeline, transfer
from db.access import account_actor, ensure_admin
from tests.test_cli import LOGIN, isolated, run, run_json  # noqa: F401  (isolated: autouse)

TODAY = datetime.date(2021, 9, 30)  # the demo's today
D = datetime.date

pytestmark = pytest.mark.slow

UNIT_FIELDS = ("code", "name", "name_folded", "level", "org_type", "category", "founded", "ended",
               "population", "mountain", "sort_order")


def unit_chain(code: str) -> list[dict]:
    """The unit and the units above it (top first), as rows to recreate elsewhere."""
    unit = models.Unit.get(models.Unit.code == code)
    chain = []
    while unit is not None:
        row = {k: getattr(unit, k) for k in UNIT_FIELDS}
        row["decides"] = unit.decides_admissions.code if unit.decides_admissions_id else None
        chain.append(row)
        unit = unit.parent
    return list(reversed(chain))


def make_units(chain: list[dict]) -> None:
    parent = None
    made = {}
    for row in chain:
        unit = models.Unit.get_or_none(models.Unit.code == row["code"])
        if unit is None:
            unit = models.Unit.create(**{k: row[k] for k in UNIT_FIELDS}, parent=parent)
        made[row["code"]] = unit
        parent = unit
    for row in chain:
        if row["decides"] and row["decides"] in made:
            made[row["code"]].decides_admissions = made[row["decides"]]
            made[row["code"]].save()


def view_summary(view: cases.CaseView) -> dict:
    return {
        "stage": view.stage, "status": view.status, "outcome": view.outcome,
        "person": (view.person.full_name, view.person.born, view.person.citizen_id),
        "steps": [(s.stage, s.date, s.received,
                   sorted((r.kind, r.number, r.date, r.votes_for, r.votes_convened, r.votes_excused)
                          for r in s.resolutions)) for s in view.steps if not s.undone],
        "documents": sorted((d.kind, d.received) for d in view.documents),
        "introducers": sorted((i.kind, i.full_name or "", i.date, i.together_since) for i in view.introducers),
        "certificates": sorted((c.kind, c.number, c.issued) for c in view.certificates if c.kind == "awareness"),
        "next_action": view.next_action,
    }


def demo_files(per_stage: int = 2) -> list[int]:
    """Open files not on hold at each stage (and a finished and a closed one)."""
    C = models.CaseFile
    ids = []
    for stage in pipeline.STAGES:
        q = (C.select(C.id).where((C.stage == stage) & (C.on_hold == False) & (C.status == "open"))  # noqa: E712
             .order_by(C.id))
        ids += [c.id for c in q.limit(per_stage)]
    closed = C.select(C.id).where(C.status == "closed").order_by(C.id).first()
    if closed is not None:
        ids.append(closed.id)
    return ids


@pytest.fixture
def second(tmp_path):
    """Switch to a fresh database (with an admin `tester`); returns its path."""
    path = str(tmp_path / "second.sqlite3")

    def switch():
        connection.close_database()
        connection.open_database(path)
        actor, _ = ensure_admin(LOGIN)
        connection.set_setting("today", TODAY.isoformat())
        return actor

    return switch


def counts() -> tuple:
    return tuple(m.select().count() for m in (models.Person, models.CaseFile, models.Step,
                                              models.Document, models.Introducer, models.CaseEvent,
                                              models.Certificate, models.AuditEntry))


# --- round trip ------------------------------------------------------------------------------

def test_round_trip_of_demo_files_at_every_stage(demo_admin, second):
    ids = demo_files()
    assert len(ids) >= 12
    docs = [transfer.export_case(demo_admin, cid, TODAY) for cid in ids]
    before = [view_summary(cases.case_view(demo_admin, cid, TODAY)) for cid in ids]
    chains = [unit_chain(doc["branch"]) for doc in docs]
    for doc in docs:
        assert doc["format"] == "ketnap-case/1"
        json.dumps(doc, ensure_ascii=False)  # plain JSON
    actor = second()
    for chain in chains:
        make_units(chain)
    report = transfer.import_cases(actor, docs, TODAY)
    assert [(f.row, f.problems) for f in report.rejected] == []
    assert report.imported == len(docs)
    after = [view_summary(cases.case_view(actor, f.case_id, TODAY)) for f in report.files]
    for b, a in zip(before, after):
        assert a == b
    # warnings (a vote counted against another branch's members...) recorded as overrides
    E = models.CaseEvent
    overrides = list(E.select().where(E.kind == "override"))
    assert {e.reason for e in overrides} <= {"import"}
    warned_steps = {(f.row, p.column, p.value) for f in report.files for p in f.warnings}
    assert len(overrides) == len(warned_steps)
    # the same documents again: nothing changes
    snapshot = counts()
    again = transfer.import_cases(actor, docs, TODAY)
    assert (again.imported, again.updated, again.unchanged, again.rejected) == (0, 0, len(docs), [])
    assert counts() == snapshot


def test_a_file_moves_between_databases_on_the_command_line(demo_db, second, capsys, tmp_path):
    C = models.CaseFile
    case = (C.select().where((C.stage == "admitted") & (C.status == "open") & (C.on_hold == False))  # noqa: E712
            .order_by(C.id).first())
    demo_admin = account_actor(LOGIN)
    before = view_summary(cases.case_view(demo_admin, case.id, TODAY))
    ceremony = pipeline.StepInput("probationary", TODAY)
    checks = pipeline.check(demo_admin, case.id, ceremony, TODAY)
    chain = unit_chain(case.branch.code)
    out = tmp_path / "out.json"
    status, _, err = run(capsys, "--db", demo_db, "export", "cases", "--unit", case.branch.code,
                         "--format", "json", "-o", out)
    assert status == 0, err
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    documents = json.loads(out.read_text(encoding="utf-8"))
    assert isinstance(documents, list) and documents
    mine = [d for d in documents if d["person"].get("citizen_id") == case.person.citizen_id]
    one = tmp_path / "one.json"
    one.write_text(json.dumps(mine[0], ensure_ascii=False), encoding="utf-8")

    second()
    # the receiving unit: a branch of another name under a committee like the sender's
    make_units(chain[:-1])
    parent = models.Unit.get(models.Unit.code == chain[-2]["code"])
    models.Unit.create(**{**{k: chain[-1][k] for k in UNIT_FIELDS}, "code": "NEW-01",
                          "name": "Chi bộ Nơi Đến", "name_folded": "chi bo noi den"}, parent=parent)
    second_path = models.database.obj.database
    status, doc, err = run_json(capsys, "--db", second_path, "import", one, "--branch", "NEW-01")
    assert status == 0, (doc, err)
    assert (doc["ok"], doc["imported"], doc["rejected"]) == (True, 1, [])
    actor = account_actor(LOGIN)
    new = models.CaseFile.get(models.CaseFile.person == models.Person.get(
        models.Person.citizen_id == case.person.citizen_id))
    assert new.branch.code == "NEW-01"
    after = view_summary(cases.case_view(actor, new.id, TODAY))
    assert after == before  # history, documents and the ceremony's deadline came along
    # the rules see the same file: the ceremony today meets the same checks as at the sender
    assert pipeline.check(actor, new.id, ceremony, TODAY) == checks
    assert after["next_action"].code == "ceremony" and after["next_action"].due is not None
    # the sender closes its copy as moved
    status, closed, err = run_json(capsys, "--db", demo_db, "case", "close", case.id, "moved",
                                   "--date", "30/09/2021", "--reason", "chuyển sinh hoạt")
    assert status == 0, err
    assert closed["status"] == "closed"


# --- refusals -------------------------------------------------------------------------------

def world_for_rules():
    """A branch with two official members (introducers), today 30/09/2021."""
    from db.text import fold, name_sort_key

    district = models.Unit.create(code="H", name="Huyện ủy Thử", name_folded="huyen uy thu", level="district",
                                  org_type="committee", founded=D(2000, 1, 1))
    branch = models.Unit.create(code="CB", name="Chi bộ Thử", name_folded="chi bo thu", org_type="grassroots_branch",
                                parent=district, founded=D(2000, 1, 1))
    members = []
    for i, name in enumerate(("Nguyễn Văn Một", "Trần Thị Hai")):
        p = models.Person.create(full_name=name, name_folded=fold(name), sort_key=name_sort_key(name),
                                 born=D(1970, 1, 1), sex="M", citizen_id=f"00107000000{i}", branch=branch)
        models.Affiliation.create(person=p, unit=branch, start=D(2000, 1, 1))
        models.Membership.create(person=p, admitted_on=D(1995, 1, 1), ceremony_on=D(1995, 2, 1),
                                 official_on=D(1996, 2, 1))
        members.append(p)
    return branch, members


def case_doc(born="2001-04-12", votes=(20, 27, 2), ceremony=None) -> dict:
    """The interfaces.md example, adapted to `world_for_rules`, up to the branch vote (and on)."""
    doc = {"format": "ketnap-case/1",
           "person": {"full_name": "Hoàng Thị Mai", "sex": "F", "born": born, "ethnicity": "Tày",
                      "citizen_id": "006301001234", "education": "12/12", "youth_union": True},
           "branch": "Chi bộ Thử",
           "steps": [
               {"stage": "identified", "date": "2020-03-01"},
               {"stage": "in_class", "date": "2020-05-10"},
               {"stage": "certified", "date": "2020-05-20",
                "certificate": {"number": "123/CN", "issued": "2020-05-20", "issuer": "Trung tâm chính trị"}},
               {"stage": "dossier", "date": "2020-06-01",
                "documents": [{"kind": "application_letter", "received": "2020-06-01"},
                              {"kind": "background_form", "received": "2020-06-05"},
                              {"kind": "background_verification", "received": "2020-08-01"},
                              {"kind": "comments", "received": "2020-08-10"}],
                "introducers": [{"citizen_id": "001070000000", "kind": "member", "date": "2020-08-15",
                                 "together_since": "2018-01-01"},
                                {"kind": "youth_union", "resolution": "05-NQ/ĐTN", "date": "2020-08-15"}]},
               {"stage": "branch_approved", "date": "2020-09-01", "resolution": "12-NQ/CB",
                "votes": {"for": votes[0], "convened": votes[1], "excused": votes[2]}},
               {"stage": "admitted", "date": "2020-10-20", "decision": "215-QĐ/HU", "received": "2020-10-23"},
               {"stage": "probationary", "date": ceremony or "2020-11-05", "helper": {"citizen_id": "001070000001"},
                "documents": [{"kind": "member_records", "received": "2020-11-20"}]}],
           "outcome": None}
    return doc


def test_the_interfaces_example_imports(admin, capsys, tmp_path):
    branch, members = world_for_rules()
    connection.set_setting("today", TODAY.isoformat())
    report = transfer.import_cases(admin, [case_doc(votes=(2, 2, 0))], TODAY)
    assert report.rejected == [] and report.imported == 1
    view = cases.case_view(admin, report.files[0].case_id, TODAY)
    assert view.stage == "probationary" and view.branch.code == "CB"
    assert [s.stage for s in view.steps] == ["identified", "in_class", "certified", "dossier",
                                             "branch_approved", "admitted", "probationary"]
    assert {i.kind for i in view.introducers} == {"member", "youth_union"}
    assert view.helpers == ((members[1].id, members[1].full_name),)
    assert models.Membership.get(models.Membership.case == view.id).ceremony_on == D(2020, 11, 5)
    assert view.next_action.code == "probation_review"


def test_a_file_breaking_rules_is_rejected_whole_with_every_violation(admin, capsys, tmp_path):
    world_for_rules()
    connection.set_setting("today", TODAY.isoformat())
    bad = case_doc(born="2003-01-01", votes=(10, 27, 2))  # 17 at the vote, 10 of 25 for
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([bad], ensure_ascii=False), encoding="utf-8")
    before = counts()
    status, doc, err = run_json(capsys, "--db", models.database.obj.database, "import", path)
    assert status == 1
    assert doc["ok"] is False and doc["imported"] == 0
    [rejected] = doc["rejected"]
    assert rejected["row"] == 1 and rejected["record"] == "Hoàng Thị Mai"
    codes = [(v["code"], v["column"]) for v in rejected["violations"]]
    assert ("age_under_18", "branch_approved") in codes
    assert ("vote_below_two_thirds", "branch_approved") in codes
    assert all(v["message"] and v["message"] != v["code"] for v in rejected["violations"])
    assert counts() == before


def test_every_step_is_checked_as_if_the_earlier_were_saved(admin):
    world_for_rules()
    doc = case_doc(votes=(20, 27, 2))
    doc["steps"][1]["date"] = "2019-01-01"  # in_class before identified
    doc["steps"][5]["decision"] = None  # no decision number
    report = transfer.import_cases(admin, [doc], TODAY)
    [rejected] = report.rejected
    found = [(p.code, p.column) for p in rejected.problems]
    assert ("date_order", "in_class") in found
    assert ("document_missing", "admitted") in found
    assert models.CaseFile.select().count() == 0


def test_warnings_only_import_with_the_reason_import(admin, capsys):
    world_for_rules()
    # 27 convened where the branch has 2 official members: vote_base_differs, a warning;
    # a ceremony past its 30 working days: ceremony_late
    doc = case_doc(votes=(20, 27, 2), ceremony="2021-01-20")
    report = transfer.import_cases(admin, [doc], TODAY)
    assert report.rejected == [] and report.imported == 1
    assert {p.code for p in report.files[0].warnings} == {"vote_base_differs", "ceremony_late"}
    E = models.CaseEvent
    overrides = list(E.select().where(E.kind == "override"))
    assert len(overrides) == 2 and {e.reason for e in overrides} == {"import"}
    # twice: unchanged
    again = transfer.import_cases(admin, [doc], TODAY)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 1)
    assert E.select().where(E.kind == "override").count() == 2


def test_a_longer_file_updates_the_one_already_here(admin):
    world_for_rules()
    doc = case_doc(votes=(2, 2, 0))
    short = {**doc, "steps": doc["steps"][:4]}
    assert transfer.import_cases(admin, [short], TODAY).imported == 1
    report = transfer.import_cases(admin, [doc], TODAY)
    assert (report.imported, report.updated, report.rejected) == (0, 1, [])
    assert models.CaseFile.get().stage == "probationary"
    assert models.CaseFile.select().count() == 1


def test_dry_run_writes_nothing(admin, capsys, tmp_path):
    world_for_rules()
    connection.set_setting("today", TODAY.isoformat())
    path = tmp_path / "one.json"
    path.write_text(json.dumps(case_doc(votes=(2, 2, 0)), ensure_ascii=False), encoding="utf-8")
    before = counts()
    location = models.database.obj.database
    status, doc, err = run_json(capsys, "--db", location, "import", path, "--dry-run")
    assert status == 0, err
    assert (doc["dry_run"], doc["imported"], doc["rejected"]) == (True, 1, [])
    assert counts() == before
    report = transfer.import_cases(admin, [case_doc(votes=(2, 2, 0))] * 1, TODAY, dry_run=True,
                                   all_or_nothing=True)
    assert report.imported == 1 and counts() == before


def test_all_or_nothing(admin):
    world_for_rules()
    good = case_doc(votes=(2, 2, 0))
    bad = json.loads(json.dumps(good))
    bad["person"].update(full_name="Lò Văn Bảy", citizen_id="006301009999", born="2005-01-01")
    report = transfer.import_cases(admin, [good, bad], TODAY, all_or_nothing=True)
    assert [f.row for f in report.rejected] == [2]
    assert report.imported == 0 and report.rolled_back
    assert models.CaseFile.select().count() == 0
    report = transfer.import_cases(admin, [good, bad], TODAY)
    assert report.imported == 1 and models.CaseFile.select().count() == 1


def test_legacy_accepts_a_step_without_votes_and_names_what_was_not_checked(admin, capsys, tmp_path):
    world_for_rules()
    connection.set_setting("today", TODAY.isoformat())
    doc = case_doc(votes=(2, 2, 0))
    del doc["steps"][4]["votes"]
    del doc["steps"][5]["decision"]
    path = tmp_path / "legacy.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    location = models.database.obj.database
    status, plain, _ = run_json(capsys, "--db", location, "import", path)
    assert status == 1
    assert {v["code"] for v in plain["rejected"][0]["violations"]} == {"vote_below_two_thirds",
                                                                      "document_missing"}
    status, out, err = run_json(capsys, "--db", location, "import", path, "--legacy")
    assert status == 0, (out, err)
    assert out["imported"] == 1
    assert {(u["code"], u["column"]) for u in out["unverified"]} == {
        ("vote_below_two_thirds", "branch_approved"), ("document_missing", "admitted")}
    case = models.CaseFile.get()
    assert case.legacy and case.stage == "probationary"
    S = models.Step
    vote = S.get((S.case == case.id) & (S.stage == "branch_approved"))
    assert json.loads(vote.details)["unverified"] == [{"field": "branch.votes", "rule": "vote_below_two_thirds"}]
    status, text, err = run(capsys, "--db", location, "--lang", "en", "import", path, "--legacy")
    assert status == 0 and "unchanged 1" in text


def test_legacy_file_starting_at_the_branch_vote(admin):
    world_for_rules()
    doc = case_doc(votes=(2, 2, 0))
    doc["steps"] = doc["steps"][4:]
    del doc["person"]["born"]
    assert transfer.import_cases(admin, [doc], TODAY).rejected  # not without --legacy
    report = transfer.import_cases(admin, [doc], TODAY, legacy=True)
    assert report.imported == 1
    named = {(p.code, p.params["field"]) for p in report.files[0].unverified}
    assert {("age_under_18", "born"), ("certificate_missing", "certificate"),
            ("introducers_missing", "introducers"), ("stage_order", "steps")} <= named
    view = cases.case_view(admin, report.files[0].case_id, TODAY)
    assert [s.stage for s in view.steps] == ["branch_approved", "admitted", "probationary"]
    assert view.next_action.code == "probation_review"
    assert transfer.import_cases(admin, [doc], TODAY, legacy=True).unchanged == 1
