"""The rules of domain.md section 4 on both sides of their boundaries, each step taken three ways:
through the engine (`pipeline.check`), through `ketnap case advance --step FILE` and through
`ketnap import` of a whole `ketnap-case/1` document. The three must refuse with the same codes
(or all accept the step)."""

from __future__ import annotations

import datetime
import json
import shutil
from types import SimpleNamespace

import pytest

from db import connection, models, pipeline
from db.access import ensure_admin
from tests.test_cli import LOGIN, isolated  # noqa: F401  (isolated: autouse)
from tests.test_db_read import make_person, make_unit
from tui import cli

D = datetime.date
TODAY = D(2021, 9, 30)
BRANCH = "XA01"
MEMBERS = 23  # official members of the branch: every vote below is convened on all of them

O1, O2 = "001070000001", "001070000002"  # official introducers (citizen IDs)
P = "001080000099"  # a probationary introducer, official from P_OFFICIAL
P_OFFICIAL = D(2020, 8, 15)
CANDIDATE = "006301001234"


def build_world(actor_login: str = LOGIN) -> None:
    """Units and members, in the bound database: a district deciding admissions, a grassroots
    committee, the candidate's branch with 23 official members (two of them the introducers), and
    a second branch holding the probationary introducer (so that the first branch's count of
    official members is the same on every vote day)."""
    ensure_admin(actor_login)
    district = make_unit("HU", "Huyện ủy Thử", "committee", level="district", founded=D(2000, 1, 1))
    commune = make_unit("XA", "Đảng ủy xã Thử", "grassroots_committee", district, level="commune",
                        founded=D(2000, 1, 1))
    branch = make_unit(BRANCH, "Chi bộ thôn Một", "branch", commune, category="village",
                       founded=D(2000, 1, 1))
    other = make_unit("XA02", "Chi bộ thôn Hai", "branch", commune, category="village",
                      founded=D(2000, 1, 1))
    for unit in (commune, branch, other):
        unit.decides_admissions = district
        unit.save()
    for n in range(MEMBERS):
        citizen_id = f"0010700000{n + 1:02d}"
        person = make_person(f"Đảng viên Số {n + 1}", branch, born=D(1970, 1, 1), sex="M",
                             citizen_id=citizen_id)
        models.Membership.create(person=person, admitted_on=D(2000, 1, 1), ceremony_on=D(2000, 2, 1),
                                 official_on=D(2001, 2, 1))
        models.Affiliation.create(person=person, unit=branch, start=D(2005, 1, 1))
    p = make_person("Đảng viên Dự Bị", other, born=D(1990, 1, 1), sex="F", citizen_id=P)
    models.Membership.create(person=p, admitted_on=D(2019, 7, 1), ceremony_on=D(2019, 8, 15),
                             official_on=P_OFFICIAL)
    models.Affiliation.create(person=p, unit=other, start=D(2015, 1, 1))
    connection.set_setting("today", TODAY.isoformat())


# --- the case-file history, as step objects of interfaces.md -----------------------------------

def person(born: str = "1995-06-01") -> dict:
    return {"full_name": "Hoàng Thị Mai", "sex": "F", "born": born, "ethnicity": "Tày",
            "citizen_id": CANDIDATE, "education": "12/12", "youth_union": True}


def intro(citizen_id: str, day: str, since: str | None = "2018-01-01") -> dict:
    out = {"citizen_id": citizen_id, "kind": "member", "date": day}
    if since is not None:
        out["together_since"] = since
    return out


def dossier(day: str, introducers=None) -> dict:
    return {"stage": "dossier", "date": day,
            "documents": [{"kind": k, "received": day} for k in pipeline.BRANCH_DOCUMENTS],
            "introducers": introducers if introducers is not None else [intro(O1, day), intro(O2, day)]}


def up_to_certified(identified: str, in_class: str, issued: str) -> list[dict]:
    return [{"stage": "identified", "date": identified},
            {"stage": "in_class", "date": in_class},
            {"stage": "certified", "date": issued,
             "certificate": {"number": "123/CN", "issued": issued, "issuer": "Trung tâm chính trị"}}]


def vote(day: str, votes=(MEMBERS, MEMBERS, 0), **more) -> dict:
    return {"stage": "branch_approved", "date": day, "resolution": "12-NQ/CB",
            "votes": {"for": votes[0], "convened": votes[1], "excused": votes[2]}, **more}


# a standard file at `dossier`, ready for its branch vote on 01/09/2020
AT_DOSSIER = up_to_certified("2020-01-06", "2020-02-03", "2020-03-02") + [dossier("2020-06-01")]
AT_CERTIFIED = up_to_certified("2020-01-06", "2020-02-03", "2020-03-02")


def at_probation(ceremony: str) -> list[dict]:
    """A file admitted and through its ceremony (the branch sits inside the grassroots committee)."""
    return up_to_certified("2019-06-03", "2019-07-01", "2019-08-01") + [
        dossier("2019-10-01"),
        vote("2020-01-06"),
        {"stage": "committee_approved", "date": "2020-01-13", "resolution": "30-NQ/ĐU",
         "votes": {"for": 9, "convened": 11, "excused": 0}},
        {"stage": "admitted", "date": "2020-02-03", "decision": "215-QĐ/HU", "received": "2020-02-05"},
        {"stage": "probationary", "date": ceremony,
         "documents": [{"kind": "member_records", "received": "2020-03-10"}]}]


def recognition(branch_day: str) -> dict:
    return {"stage": "official", "date": "2021-03-05", "decision": "301-QĐ/HU",
            "branch_resolution": {"number": "20-NQ/CB", "date": branch_day,
                                  "votes": {"for": MEMBERS, "convened": MEMBERS, "excused": 0}},
            "committee_resolution": {"number": "41-NQ/ĐU", "date": "2021-03-02",
                                     "votes": {"for": 9, "convened": 11, "excused": 0}},
            "documents": [{"kind": "new_member_certificate", "received": "2021-01-10"}]}


# (case, born, history, step, expected code or None)
CASES = [
    # age at the branch vote, in full months: 216 on 01/09/2020 for a birth on 01/09/2002
    ("age_216_months", "2002-09-01", AT_DOSSIER, vote("2020-09-01"), None),
    ("age_215_months", "2002-09-02", AT_DOSSIER, vote("2020-09-01"), "age_under_18"),
    ("age_720_months", "1960-09-01", AT_DOSSIER, vote("2020-09-01"), None),
    ("age_721_months", "1960-08-01", AT_DOSSIER, vote("2020-09-01"), "age_over_60"),
    ("age_721_months_with_consent", "1960-08-01", AT_DOSSIER,
     vote("2020-09-01", documents=[{"kind": "over_60_consent", "received": "2020-08-20"}]), None),
    # certificate issued 15/06/2015: valid through 15/06/2020
    ("certificate_last_valid_day", "1995-06-01",
     up_to_certified("2015-06-01", "2015-06-03", "2015-06-15") + [dossier("2020-06-01")],
     vote("2020-06-15"), None),
    ("certificate_day_after", "1995-06-01",
     up_to_certified("2015-06-01", "2015-06-03", "2015-06-15") + [dossier("2020-06-01")],
     vote("2020-06-16"), "certificate_expired"),
    # issued 29/02/2016: 60 months on is clamped to 28/02/2021
    ("certificate_29_02_last_valid_day", "1995-06-01",
     up_to_certified("2016-01-04", "2016-02-01", "2016-02-29") + [dossier("2021-01-04")],
     vote("2021-02-28"), None),
    ("certificate_29_02_day_after", "1995-06-01",
     up_to_certified("2016-01-04", "2016-02-01", "2016-02-29") + [dossier("2021-01-04")],
     vote("2021-03-01"), "certificate_expired"),
    # together with the candidate on the introduction day 01/06/2020
    ("together_12_months", "1995-06-01", AT_CERTIFIED,
     dossier("2020-06-01", [intro(O1, "2020-06-01", "2019-06-01"), intro(O2, "2020-06-01")]), None),
    ("together_11_months", "1995-06-01", AT_CERTIFIED,
     dossier("2020-06-01", [intro(O1, "2020-06-01", "2019-06-02"), intro(O2, "2020-06-01")]),
     "introducer_too_short"),
    # without `together_since`: from the affiliation history (the candidate's arrival, the day the
    # file was opened, is the later one)
    ("together_12_months_by_affiliation", "1995-06-01",
     up_to_certified("2019-06-01", "2019-07-01", "2019-08-01"),
     dossier("2020-06-01", [intro(O1, "2020-06-01", None), intro(O2, "2020-06-01", None)]), None),
    ("together_11_months_by_affiliation", "1995-06-01",
     up_to_certified("2019-06-02", "2019-07-01", "2019-08-01"),
     dossier("2020-06-01", [intro(O1, "2020-06-01", None), intro(O2, "2020-06-01")]),
     "introducer_too_short"),
    # the introducer is official from 15/08/2020: probationary the day before
    ("introducer_official", "1995-06-01", AT_CERTIFIED,
     dossier("2020-08-15", [intro(P, "2020-08-15"), intro(O2, "2020-08-15")]), None),
    ("introducer_probationary", "1995-06-01", AT_CERTIFIED,
     dossier("2020-08-14", [intro(P, "2020-08-14"), intro(O2, "2020-08-14")]),
     "introducer_not_official"),
    # 3 x 14 = 2 x (23 - 2): exactly two thirds; 13 is below
    ("votes_exactly_two_thirds", "1995-06-01", AT_DOSSIER, vote("2020-09-01", (14, MEMBERS, 2)), None),
    ("votes_just_below", "1995-06-01", AT_DOSSIER, vote("2020-09-01", (13, MEMBERS, 2)),
     "vote_below_two_thirds"),
    # ceremony 29/02/2020: official on 28/02/2021 (12 months on, clamped)
    ("probation_ends_28_02", "1995-06-01", at_probation("2020-02-29"), recognition("2021-02-28"), None),
    ("probation_one_day_short", "1995-06-01", at_probation("2020-02-29"), recognition("2021-02-27"),
     "probation_not_complete"),
]


# --- the three paths ------------------------------------------------------------------------------

def checkpoint_and_close() -> None:
    models.database.obj.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close_database()


def by_citizen_id(obj) -> int | None:
    if obj.get("citizen_id"):
        Pm = models.Person
        return Pm.select(Pm.id).where(Pm.citizen_id == obj["citizen_id"]).scalar()
    return None


@pytest.fixture
def paths(tmp_path):
    """build(born, history) -> the file's id: the world in three databases (engine, CLI,
    import), the history saved in the first two through the pipeline."""
    dbs = SimpleNamespace(engine=str(tmp_path / "engine.sqlite3"), cli=str(tmp_path / "cli.sqlite3"),
                          imported=str(tmp_path / "import.sqlite3"))

    def build(born: str, history: list[dict]) -> int:
        connection.open_database(dbs.engine)
        build_world()
        checkpoint_and_close()
        shutil.copy(dbs.engine, dbs.imported)
        connection.open_database(dbs.engine)
        actor, _ = ensure_admin(LOGIN)
        first, rest = history[0], history[1:]
        assert first["stage"] == "identified"
        branch = models.Unit.get(models.Unit.code == BRANCH)
        case_id = pipeline.open_case(actor, branch.id, person(born), TODAY,
                                     identified_on=D.fromisoformat(first["date"]))
        for data in rest:  # no warnings either: the history is clean
            pipeline.apply(actor, case_id, pipeline.step_from_dict(data, by_citizen_id), TODAY)
        checkpoint_and_close()
        shutil.copy(dbs.engine, dbs.cli)
        connection.open_database(dbs.engine)
        return case_id

    dbs.build = build
    yield dbs
    connection.close_database()


def engine_codes(case_id: int, step: dict) -> tuple[set, set]:
    actor, _ = ensure_admin(LOGIN)
    found = pipeline.check(actor, case_id, pipeline.step_from_dict(step, by_citizen_id), TODAY)
    return {v.code for v in found if not v.warning}, {v.code for v in found if v.warning}


def cli_codes(capsys, db: str, case_id: int, step: dict, tmp_path) -> tuple[set, set]:
    step_file = tmp_path / "step.json"
    step_file.write_text(json.dumps(step, ensure_ascii=False), encoding="utf-8")
    status = cli.main(["--db", db, "--today", TODAY.isoformat(), "case", "advance", str(case_id),
                       step["stage"], "--step", str(step_file), "--json"])
    out = json.loads(capsys.readouterr().out)
    if status == 0:
        assert out["ok"] is True and out["stage"] == step["stage"]
        return set(), set()
    assert status == 1 and out["ok"] is False, out
    return ({v["code"] for v in out["violations"] if not v.get("warning")},
            {v["code"] for v in out["violations"] if v.get("warning")})


def import_codes(capsys, db: str, born: str, history: list[dict], step: dict, tmp_path) -> tuple[set, set]:
    doc = {"format": "ketnap-case/1", "person": person(born), "branch": BRANCH,
           "steps": history + [step], "outcome": None}
    doc_file = tmp_path / "case.json"
    doc_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    status = cli.main(["--db", db, "--today", TODAY.isoformat(), "import", str(doc_file), "--json"])
    out = json.loads(capsys.readouterr().out)
    rejected = {v["code"] for r in out["rejected"] for v in r["violations"]}
    warnings = {w["code"] for w in out["warnings"]}
    if status == 0:
        assert out["ok"] is True and out["imported"] == 1 and not rejected
    else:
        assert status == 1 and out["ok"] is False and out["imported"] == 0, out
    return rejected, warnings


@pytest.mark.parametrize("name, born, history, step, expected", [
    pytest.param(*case, id=case[0]) for case in CASES])
def test_the_same_codes_through_engine_cli_and_import(paths, capsys, tmp_path, name, born, history,
                                                      step, expected):
    want = set() if expected is None else {expected}
    case_id = paths.build(born, history)
    engine = engine_codes(case_id, step)
    connection.close_database()
    by_cli = cli_codes(capsys, paths.cli, case_id, step, tmp_path)
    by_import = import_codes(capsys, paths.imported, born, history, step, tmp_path)
    assert engine == (want, set()), "engine"
    assert by_cli == (want, set()), "cli"
    assert by_import == (want, set()), "import"


def test_a_check_reads_the_units_it_needs_and_gives_what_reading_them_all_gives(demo_db):
    """pipeline.UnitTree reads a branch and the units above it when asked (a province has tens
    of thousands of units), then every unit at once past ASKED_MAX: the same answers either way."""
    import datetime

    from db import models, pipeline

    days = [datetime.date(2016, 1, 1), datetime.date(2021, 9, 30), datetime.date(2025, 8, 1)]
    ids = [u.id for u in models.Unit.select(models.Unit.id)]
    whole = pipeline.UnitTree()
    whole._read_all()

    def answers(tree):
        return [(uid, day, tree.parent_on(uid, day), tree.in_grassroots_committee(uid, day), tree.mountain(uid))
                for uid in ids for day in days]

    expected = answers(whole)
    lazy = pipeline.UnitTree()
    assert lazy.in_grassroots_committee(ids[-1], days[1]) == whole.in_grassroots_committee(ids[-1], days[1])
    assert 0 < len(lazy.units) < len(ids)  # only the branch and the units above it
    assert answers(pipeline.UnitTree()) == expected  # past ASKED_MAX for a big tree, else one by one
    few = pipeline.UnitTree()
    few.ASKED_MAX = 3
    assert answers(few) == expected and few._whole
