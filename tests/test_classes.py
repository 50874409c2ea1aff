"""Classes in the db layer and the CLI: the demo's 2021 figures, planning, enrolling across
branches, results with series numbers, and every refusal leaving nothing half-saved."""

from __future__ import annotations

import datetime
import json

import pytest

from db import classes, connection, models
from db.access import AccessError, account_actor
from tui import cli

TODAY = datetime.date(2021, 9, 30)


def unit_id(code: str) -> int:
    return models.Unit.get(models.Unit.code == code).id


@pytest.fixture
def organiser(demo_db):
    return account_actor("demo_organiser")


def planned_class(actor, capacity=12, start=TODAY, kind="awareness") -> int:
    return classes.new_class(actor, kind=kind, name="Lớp thử nghiệm", unit_id=unit_id("NS"),
                             planned_start=start, start=start, capacity=capacity, today=TODAY)


def picks(actor, class_id, n=12, branches=3) -> list[int]:
    """`n` eligible files, from at least `branches` branches."""
    found = [c for c in classes.candidates(actor, class_id, TODAY) if c.stage == "identified"][:n]
    assert len(found) == n and len({c.branch.code for c in found}) >= branches
    return [c.case_id for c in found]


def stages(case_ids) -> list[str]:
    rows = dict(models.CaseFile.select(models.CaseFile.id, models.CaseFile.stage)
                .where(models.CaseFile.id.in_(case_ids)).tuples())
    return [rows[c] for c in case_ids]


def test_the_demo_district_held_four_of_five_classes_for_152(organiser):
    progress = classes.plan_progress(organiser, unit_id("NS"), 2021, TODAY)
    assert (progress.held, progress.planned, progress.trainees, progress.percent) == (4, 5, 152, 80.0)
    awareness = classes.list_classes(organiser, TODAY, year=2021, kind="awareness")
    assert [r.status for r in awareness] == ["finished", "finished", "finished", "running", "planned"]
    assert sum(r.enrolled for r in awareness if r.start and r.start <= TODAY) == 152


def test_a_secretary_sees_the_districts_classes_but_only_her_trainees(organiser):
    secretary = account_actor("demo_secretary")
    assert len(classes.list_classes(secretary, TODAY, year=2021)) == 8
    view = classes.class_view(secretary, classes.list_classes(secretary, TODAY, year=2021)[0].id, TODAY)
    assert all(t.branch.code == "NS-NP-07" for t in view.trainees) and view.hidden > 0
    with pytest.raises(AccessError):
        planned_class(secretary)


def test_plan_enrol_twelve_from_three_branches_then_eleven_pass_and_one_fails(organiser):
    class_id = planned_class(organiser)
    files = picks(organiser, class_id)
    classes.enrol(organiser, class_id, files, TODAY)
    assert stages(files) == ["in_class"] * 12
    numbers = classes.number_series("0201/GCN", 11)
    assert numbers[0] == "0201/GCN" and numbers[-1] == "0211/GCN"
    results = [classes.ResultInput(c, "passed", n, TODAY) for c, n in zip(files, numbers)]
    classes.record_results(organiser, class_id, results + [classes.ResultInput(files[11], "failed")], TODAY)
    assert stages(files) == ["certified"] * 11 + ["identified"]
    view = classes.class_view(organiser, class_id, TODAY)
    assert (view.row.status, view.row.passed, view.row.failed) == ("finished", 11, 1)
    cert = models.Certificate.get(models.Certificate.number == "0205/GCN")
    assert cert.training_class_id == class_id and cert.kind == "awareness"
    # the one who failed can be enrolled again, in another class
    again = planned_class(organiser, start=TODAY)
    classes.enrol(organiser, again, [files[11]], TODAY)
    assert stages([files[11]]) == ["in_class"]


def entries() -> int:
    return models.AuditEntry.select().count()


def test_over_capacity_refuses_everyone(organiser):
    class_id = planned_class(organiser, capacity=3)
    files = picks(organiser, class_id, n=4, branches=2)
    before = entries()
    with pytest.raises(classes.ClassError) as refused:
        classes.enrol(organiser, class_id, files, TODAY)
    assert refused.value.code == "over_capacity"
    assert stages(files) == ["identified"] * 4 and entries() == before
    assert classes.class_view(organiser, class_id, TODAY).row.enrolled == 0


def test_enrolled_twice_in_overlapping_classes_is_refused(organiser):
    first = planned_class(organiser)
    second = planned_class(organiser)
    files = picks(organiser, first, n=2, branches=2)
    classes.enrol(organiser, first, files[:1], TODAY)
    with pytest.raises(classes.ClassError) as refused:
        classes.enrol(organiser, second, [files[1], files[0]], TODAY)
    assert refused.value.code == "already_enrolled" and refused.value.params["case_id"] == files[0]
    assert stages(files) == ["in_class", "identified"]  # the first of the two was not kept either


def test_a_certificate_number_used_twice_refuses_every_result(organiser):
    class_id = planned_class(organiser)
    files = picks(organiser, class_id, n=3, branches=2)
    classes.enrol(organiser, class_id, files, TODAY)
    used = models.Certificate.select().where(models.Certificate.kind == "awareness").first()
    organiser_name = models.TrainingClass.get_by_id(class_id).organiser
    assert used.issuer == organiser_name
    results = [classes.ResultInput(files[0], "passed", "0999/GCN", TODAY),
               classes.ResultInput(files[1], "passed", used.number, TODAY)]
    with pytest.raises(classes.ClassError) as refused:
        classes.record_results(organiser, class_id, results, TODAY)
    assert refused.value.code == "duplicate_certificate"
    assert stages(files) == ["in_class"] * 3
    with pytest.raises(classes.ClassError) as refused:  # the same number twice in one batch
        classes.record_results(organiser, class_id, [
            classes.ResultInput(files[0], "passed", "0999/GCN", TODAY),
            classes.ResultInput(files[1], "passed", "0999/GCN", TODAY)], TODAY)
    assert refused.value.code == "duplicate_certificate"
    assert not models.Certificate.select().where(models.Certificate.number == "0999/GCN").exists()


def test_a_result_dated_before_the_class_started_is_refused(organiser):
    class_id = planned_class(organiser)
    files = picks(organiser, class_id, n=1, branches=1)
    classes.enrol(organiser, class_id, files, TODAY)
    with pytest.raises(classes.ClassError) as refused:
        classes.record_results(organiser, class_id, [
            classes.ResultInput(files[0], "passed", "0998/GCN", TODAY - datetime.timedelta(days=3))], TODAY)
    assert refused.value.code == "result_before_start"
    assert stages(files) == ["in_class"]


def test_a_new_member_class_gives_the_document(organiser):
    class_id = planned_class(organiser, kind="new_member")
    [member] = classes.candidates(organiser, class_id, TODAY)[:1]
    assert member.stage == "probationary"
    classes.enrol(organiser, class_id, [member.case_id], TODAY)
    classes.record_results(organiser, class_id, [classes.ResultInput(member.case_id, "passed", "DV-77", TODAY)], TODAY)
    docs = models.Document.select().where((models.Document.case == member.case_id)
                                          & (models.Document.kind == "new_member_certificate"))
    assert docs.count() == 1 and stages([member.case_id]) == ["probationary"]


def test_warnings_a_year_later(organiser):
    later = datetime.date(2022, 6, 30)
    found = classes.warnings(organiser, later)
    codes = {w.code for w in found}
    assert "new_member_class_due" in codes
    assert all(w.due <= datetime.date(2022, 12, 31) for w in found)


def _warnings_from_the_records(as_of: datetime.date) -> set[tuple]:
    """classes.warnings worked out from every open file's records, one file at a time."""
    from db import pipeline
    from db.calendar import add_months

    C, Cert, S, D = models.CaseFile, models.Certificate, models.Step, models.Document
    found = set()
    for case in C.select().where((C.status == "open") & (C.stage != "official")):
        if case.stage in ("certified", "dossier"):
            issued = [c.issued for c in Cert.select().where((Cert.person == case.person_id)
                                                             & (Cert.kind == "awareness"))]
            if issued:
                end = add_months(max(issued), pipeline.CERTIFICATE_MONTHS)
                if as_of <= end <= add_months(as_of, classes.EXPIRY_WARNING_MONTHS):
                    found.add(("certificate_expiring", case.id, end))
        elif case.stage == "probationary":
            days = [s.date for s in S.select().where((S.case == case.id) & (S.stage == "probationary")
                                                     & S.undone_at.is_null())]
            files = [c.id for c in C.select(C.id).where(C.person == case.person_id)]
            done = (Cert.select().where((Cert.person == case.person_id) & (Cert.kind == "new_member")).exists()
                    or D.select().where(D.case.in_(files) & (D.kind == "new_member_certificate")).exists())
            if days and not done:
                end = add_months(max(days), pipeline.PROBATION_MONTHS)
                if end <= add_months(as_of, classes.PROBATION_WARNING_MONTHS):
                    found.add(("new_member_class_due", case.id, end))
    return found


def test_warnings_are_those_worked_out_from_each_files_records(demo_db):
    """The warnings are narrowed in SQL before the people's names are read (a province's open
    files are a hundred thousand): on days across the demo's years they are exactly those found
    by reading every open file's certificates, steps and documents."""
    admin = account_actor("demo_admin")
    codes = set()
    for day in (datetime.date(2021, 9, 30), datetime.date(2021, 3, 1), datetime.date(2022, 6, 30),
                datetime.date(2023, 1, 15), datetime.date(2025, 12, 31)):
        got = {(w.code, w.case_id, w.due) for w in classes.warnings(admin, day)}
        assert got == _warnings_from_the_records(day), day
        codes |= {code for code, _case, _due in got}
    assert codes == {"certificate_expiring", "new_member_class_due"}  # both kinds were checked


# --- the CLI ---------------------------------------------------------------------------------

def run(capsys, *args):
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_plan_enrol_results_and_list_agree(demo_db, capsys):
    user = ("--db", demo_db, "--user", "demo_organiser", "--lang", "en")
    status, out, err = run(capsys, *user, "class", "new", "--kind", "awareness", "--name", "Khóa thử",
                           "--unit", "NS", "--planned-start", "30/09/2021", "--start", "30/09/2021",
                           "--capacity", "12", "--json")
    assert status == 0, err
    class_id = json.loads(out)["id"]
    connection.open_database(demo_db)
    files = picks(account_actor("demo_organiser"), class_id)
    status, out, err = run(capsys, *user, "class", "enrol", class_id, *files)
    assert status == 0 and "Enrolled 12 trainees" in out
    passed = ",".join(str(c) for c in files[:11])
    status, out, err = run(capsys, *user, "class", "result", class_id, "--passed", passed,
                           "--failed", files[11], "--first-number", "0301/GCN", "--issued", "30/09/2021")
    assert status == 0, err
    status, out, err = run(capsys, *user, "class", "list", "--year", "2021", "--json")
    doc = json.loads(out)
    [mine] = [c for c in doc["classes"] if c["id"] == class_id]
    assert (mine["kind"], mine["status"], mine["enrolled"], mine["passed"], mine["failed"]) == (
        "awareness", "finished", 12, 11, 1)
    assert sorted(t["certificate"]["number"] for t in mine["trainees"] if t["certificate"]) == \
        [f"03{n:02d}/GCN" for n in range(1, 12)]
    [plan] = [p for p in doc["plans"] if p["kind"] == "awareness"]
    assert (plan["held"], plan["planned"], plan["trainees"]) == (5, 5, 164)  # the new class is held too
    status, out, err = run(capsys, *user, "class", "result", class_id, "--passed", files[11],
                           "--numbers", "0301/GCN")
    assert status == 1 and "already has the result" in err


def test_cli_refusals_are_plain_sentences(demo_db, capsys):
    user = ("--db", demo_db, "--user", "demo_organiser", "--lang", "en")
    class_id = planned_class(account_actor("demo_organiser"), capacity=1)
    files = picks(account_actor("demo_organiser"), class_id, n=2, branches=2)
    status, out, err = run(capsys, *user, "class", "enrol", class_id, *files, "--json")
    doc = json.loads(out)
    assert status == 1 and doc["error"]["code"] == "over_capacity"
    assert "takes 1 trainees" in doc["error"]["message"] and "Nobody was enrolled" in doc["error"]["message"]
    status, out, err = run(capsys, "--db", demo_db, "--user", "demo_viewer", "class", "enrol", class_id, files[0])
    assert status == 1


def test_the_demo_has_a_group_of_twelve_from_three_nà_phặc_branches_to_enrol(organiser):
    class_id = classes.list_classes(organiser, TODAY, year=2021, kind="awareness")[-1].id  # khóa 5
    found = classes.candidates(organiser, class_id, TODAY, unit_id=unit_id("NS-NP"))
    by_branch: dict[str, int] = {}
    for c in found:
        by_branch[c.branch.code] = by_branch.get(c.branch.code, 0) + 1
    assert {code: n for code, n in by_branch.items() if n >= 4} == {"NS-NP-03": 4, "NS-NP-05": 4, "NS-NP-06": 4}
