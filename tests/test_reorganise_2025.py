"""The guided 2025 reorganisation (db.reorganise_2025) on a copy of the demo, run as of
1/7/2025 with the example plan fixtures/demo/plan-2025.toml: the preview saves nothing, the run
leaves the 2021 report as it was, every open file in a live branch, the commune committees
directly under the province and deciding admissions themselves."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from db import connection, models, pipeline, progress, reorganise, reorganise_2025
from db.access import account_actor
from db.reorganise_2025 import PlanError
from tests import demo_figures as fig

Date = datetime.date
TODAY = Date(2025, 7, 1)
PLAN = Path(__file__).resolve().parent.parent / "fixtures" / "demo" / "plan-2025.toml"


@pytest.fixture
def admin(demo_db):
    return account_actor("demo_admin")


def plan() -> reorganise_2025.Plan:
    return reorganise_2025.read_plan(PLAN.read_text(encoding="utf-8"))


def report_2021(actor) -> list[dict]:
    return [progress.stats_json(progress.stats(actor, fig.unit_id(code), 2021, Date(2021, 9, 30)))
            for code in ("NS", "NS-NP", "NS-TQ")]


def live_branch_of_every_open_file() -> bool:
    C = models.CaseFile
    return all(reorganise._alive(case.branch, TODAY) for case in C.select().where(C.is_open()))


def test_the_preview_saves_nothing(admin):
    tables = {m: m.select().count() for m in (models.Unit, models.UnitChange, models.Affiliation,
                                               models.CaseMove, models.AuditEntry)}
    result = reorganise_2025.preview(admin, TODAY, plan())
    assert not result.saved and result.open_files_outside == 0 and result.units_left == []
    assert [o.kind for o in result.outcomes] == ["merge"] * 4 + ["transfer", "dissolve"]
    assert {m: m.select().count() for m in tables} == tables
    assert models.Unit.get(models.Unit.code == "NS").ended is None


def test_the_run_keeps_2021_and_leaves_every_open_file_in_a_live_branch(admin):
    before = report_2021(admin)
    preview = reorganise_2025.preview(admin, TODAY, plan())
    result = reorganise_2025.run(admin, TODAY, plan())
    assert result.saved and result.open_files_outside == 0
    # what the preview said is what was done
    assert [(o.kind, o.sources, o.results, o.moved) for o in result.outcomes] == \
        [(o.kind, o.sources, o.results, o.moved) for o in preview.outcomes]
    assert report_2021(admin) == before
    assert live_branch_of_every_open_file()
    U = models.Unit
    province = U.get(U.code == "BK")
    district = U.get(U.code == "NS")
    assert district.ended == TODAY
    communes = U.select().where((U.level == "commune") & U.ended.is_null())
    assert {u.code for u in communes} == {"BK-NPH", "BK-NSO", "BK-TQU", "BK-BVA", "NS-HL"}
    for commune in communes:
        assert commune.parent_id == province.id and commune.decides_admissions_id is None
    # the branches of Nà Phặc and Trung Hòa are the new commune's, from 1/7/2025 only
    np_branch = U.get(U.code == "NS-NP-03")
    assert reorganise.parent_on(np_branch.id, TODAY) == U.get(U.code == "BK-NPH").id
    assert reorganise.parent_on(np_branch.id, Date(2025, 6, 30)) == U.get(U.code == "NS-NP").id
    # an admission decided after the reorganisation is the new commune's to sign
    assert pipeline._acting_unit(np_branch.id, "admitted", TODAY) == U.get(U.code == "BK-NPH").id
    assert pipeline._acting_unit(np_branch.id, "admitted", Date(2021, 9, 30)) in (
        district.id, U.get(U.code == "NS-NP").id)


def test_the_template_is_a_plan_that_keeps_every_commune(admin):
    text = reorganise_2025.template(TODAY)
    kept = reorganise_2025.read_plan(text.replace('decision = ""', 'decision = "9-QĐ/TU"'))
    assert kept.districts == ("NS",)
    assert len(kept.communes) == 11 and all(len(c.sources) == 1 for c in kept.communes)
    result = reorganise_2025.preview(admin, TODAY, kept)
    assert [o.kind for o in result.outcomes] == ["transfer"] * 11 + ["dissolve"]
    assert result.open_files_outside == 0


@pytest.mark.parametrize("edit, code", [
    (lambda t: t.replace('"NS-TA"]', '"NS-TA", "NS-NP"]'), "plan_twice"),
    (lambda t: t.replace('"NS-HL"]', '"NS-XX"]'), "plan_unknown_unit"),
    (lambda t: t.replace('districts = ["NS"]', 'districts = ["NS-NP"]'), "plan_not_district"),
    (lambda t: t.replace("effective = 2025-07-01", "effective = 1 tháng 7"), "plan_unreadable"),
    (lambda t: t.replace('decision = "01-QĐ/TU"\n', ""), "plan_missing"),
])
def test_a_wrong_plan_is_refused_before_anything_is_tried(admin, edit, code):
    text = edit(PLAN.read_text(encoding="utf-8"))
    with pytest.raises(PlanError) as err:
        reorganise_2025.preview(admin, TODAY, reorganise_2025.read_plan(text))
    assert err.value.code == code
    assert models.UnitChange.select().where(models.UnitChange.decision == "01-QĐ/TU").count() == 0


def test_the_command_line_guide_template_preview_apply(demo_db, capsys, tmp_path):
    import json

    from db import audit
    from tui import cli

    audit.write_current_head()  # the copy came without the chain's head file
    user = ("--db", demo_db, "--user", "demo_admin", "--today", "2025-07-01", "--lang", "en")

    def ketnap(*args):
        status = cli.main([*user, *args])
        return status, capsys.readouterr()

    status, out = ketnap("unit", "reorganise-2025", "--template")
    assert status == 0 and 'districts = ["NS"]' in out.out and out.out.count("\n[[commune]]\n") == 11
    before = ketnap("stats", "--unit", "NS", "--year", "2021", "--as-of", "30/09/2021", "--json")[1].out
    status, out = ketnap("unit", "reorganise-2025", "--plan", str(PLAN))
    assert status == 0 and "PREVIEW (nothing saved)" in out.out and "Nothing was saved" in out.out
    assert "Đảng bộ xã Nà Phặc [BK-NPH]: 42 branches" in out.out
    assert not models.Unit.select().where(models.Unit.code == "BK-NPH").exists()
    status, out = ketnap("unit", "reorganise-2025", "--plan", str(PLAN), "--apply", "--json")
    doc = json.loads(out.out)
    assert status == 0 and doc["saved"] and doc["open_files_outside"] == 0 and doc["units_left"] == []
    if connection.is_postgres():  # no file to copy: the server's backups and WAL archive serve
        assert doc["copy"] is None
    else:
        assert doc["copy"] and Path(doc["copy"]).exists()
    assert [c["code"] for c in doc["communes"]] == ["BK-NPH", "BK-NSO", "BK-TQU", "BK-BVA", "NS-HL"]
    assert ketnap("stats", "--unit", "NS", "--year", "2021", "--as-of", "30/09/2021", "--json")[1].out == before
    assert ketnap("check")[0] == 0
    # a district organiser may not put communes under the province; a plan that does not parse
    status, out = ketnap("--user", "demo_organiser", "unit", "reorganise-2025", "--plan", str(PLAN))
    assert status == 1
    bad = tmp_path / "plan.toml"
    bad.write_text("decision = \n", encoding="utf-8")
    status, out = ketnap("unit", "reorganise-2025", "--plan", str(bad))
    assert status == 1 and "The plan file cannot be read" in out.err + out.out
