"""The synthetic province (`ketnap synth`): shape, determinism, refusal, rules, search."""

from __future__ import annotations

import dataclasses
import random
import shutil
import sqlite3

import pytest

from db import connection, models, pipeline, search, synth
from db.calendar import WorkingDays

PEOPLE = 2000


def _load(path, seed: int = 1, people: int = PEOPLE):
    connection.open_database(str(path))
    try:
        return synth.synthesize("tester", people, seed)
    finally:
        connection.close_database()


def _checkpoint(path) -> None:
    con = sqlite3.connect(str(path))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


@pytest.fixture(scope="module")
def synth_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "synth.sqlite3"
    _load(path)
    _checkpoint(path)
    return path


@pytest.fixture
def synth_db(synth_template, tmp_path):
    path = tmp_path / "synth.sqlite3"
    shutil.copy(synth_template, path)
    connection.open_database(str(path))
    yield str(path)
    connection.close_database()


def _dump(path) -> dict:
    con = sqlite3.connect(str(path))
    try:
        return {table: con.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                for table in ("person", "case_file", "step")}
    finally:
        con.close()


def test_counts_are_plausible(synth_db):
    U, P, C, M = models.Unit, models.Person, models.CaseFile, models.Membership
    assert P.select().count() == PEOPLE
    communes = list(U.select().where(U.level == "commune"))
    assert len(communes) == 3
    assert all(c.org_type == "grassroots_committee" for c in communes)
    province = U.get(U.level == "province")
    assert province.org_type == "committee" and province.name.startswith("Tỉnh ủy ")
    for commune in communes:
        branches = list(U.select().where(U.parent == commune))
        assert len(branches) >= 10
        assert {b.category for b in branches} >= {"agency", "school", "village"}
        sizes = [P.select().where(P.branch == b).count() for b in branches]
        assert min(sizes) >= 15 and max(sizes) <= 45
    assert M.select().count() > PEOPLE * 0.8
    open_stages = {s for (s,) in C.select(C.stage).where(C.is_open()).tuples()}
    assert open_stages == set(pipeline.STAGES) - {"official"}
    assert C.select().where(C.stage == "official").exists()
    assert C.select().where(C.status == "closed").exists()
    assert models.TrainingClass.select().count() > 0 and models.Enrolment.select().count() > 0
    assert models.Target.select().where(models.Target.year == 2026).count() == 4
    assert models.Term.select().count() == 2


def test_marked_synthetic_with_its_today_and_an_admin(synth_db):
    assert connection.get_setting("synthetic") == "1"
    assert connection.get_setting("today") == synth.TODAY.isoformat()
    assert models.Account.get(models.Account.name == "tester").role == "admin"


def test_same_seed_same_rows_other_seed_other_rows(synth_template, tmp_path):
    again, other = tmp_path / "again.sqlite3", tmp_path / "other.sqlite3"
    _load(again)
    _load(other, seed=2)
    first = _dump(synth_template)
    assert _dump(again) == first
    assert _dump(other) != first


def test_refuses_a_database_that_is_not_empty(synth_db):
    before = models.Person.select().count()
    with pytest.raises(synth.SynthError) as caught:
        synth.synthesize("tester", PEOPLE, 1)
    assert caught.value.code == "not_empty"
    assert models.Person.select().count() == before


def test_refuses_too_few_people(empty_db):
    with pytest.raises(synth.SynthError) as caught:
        synth.synthesize("tester", 10)
    assert caught.value.code == "bad_value"


def test_a_sample_of_files_replays_through_the_rules(synth_db):
    """Each live step of 200 files, checked against the state before it: nothing blocks."""
    workdays = WorkingDays()
    tree = pipeline.UnitTree()
    ids = [i for (i,) in models.CaseFile.select(models.CaseFile.id).tuples()]
    sample = random.Random(7).sample(ids, min(200, len(ids)))
    problems: dict[int, list] = {}
    stages = set()
    for case_id in sample:
        full = pipeline.read_state(case_id, tree=tree)
        for i, (_seq, step) in enumerate(pipeline.stored_steps(case_id)):
            state = dataclasses.replace(full, steps=full.steps[:i], status="open",
                                        stage=full.steps[i - 1].stage if i else None)
            found = pipeline.check_step(state, step, synth.TODAY, workdays)
            stages.add(step.stage)
            if found:
                problems.setdefault(case_id, []).append((step.stage, [(v.code, v.params) for v in found]))
    assert stages == set(pipeline.STAGES)
    assert not problems, dict(list(problems.items())[:5])


def test_search_finds_a_synthetic_person_by_folded_name(synth_db):
    person = models.Person.select().where(models.Person.full_name.contains("ư")).order_by(
        models.Person.id.desc()).first() or models.Person.select().order_by(models.Person.id.desc()).first()
    found = search.matching_person_ids(person.name_folded, 50)
    assert person.id in found
    assert person.id in search.matching_person_ids(person.citizen_id, 5)


def test_the_command_line_fills_then_refuses(tmp_path, capsys, monkeypatch):
    from tui import cli

    for name in ("KETNAP_DB", "KETNAP_LANG", "KETNAP_USER", "KETNAP_TODAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cli, "os_login", lambda: "synth-tester")
    path = tmp_path / "cli.sqlite3"
    assert cli.main(["--lang", "en", "--db", str(path), "synth", "--people", "300", "--seed", "3"]) == 0
    out, err = capsys.readouterr()
    assert "300 people" in out and "30/06/2026" in out
    assert cli.main(["--lang", "en", "--db", str(path), "synth", "--people", "300"]) == 1
    out, err = capsys.readouterr()
    assert "not empty" in err and out == ""
    assert cli.main(["--db", str(path), "synth", "--people", "0"]) == 2
    con = sqlite3.connect(str(path))
    try:
        assert con.execute("SELECT role FROM account WHERE name = 'synth-tester'").fetchone() == ("admin",)
        assert con.execute("SELECT count(*) FROM person").fetchone() == (300,)
    finally:
        con.close()
