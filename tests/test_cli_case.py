"""`ketnap case advance|override|undo|close|reopen|hold|release` on the demo database: the
writes of the pipeline from the command line, their refusals as sentences, and nothing written
when refused."""

from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path

import pytest

from db import models, pipeline
from tests.test_cli import LOGIN, isolated, run, run_json  # noqa: F401  (isolated: autouse)
from tui import cli, i18n

ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.date(2021, 9, 30)  # the demo's today

pytestmark = pytest.mark.slow


def state(case_id: int) -> tuple:
    """What a refused command must leave as it was: stage, status, hold, steps, events."""
    case = models.CaseFile.get_by_id(case_id)
    return (case.stage, case.status, case.on_hold, case.version,
            models.Step.select().where(models.Step.case == case_id).count(),
            models.CaseEvent.select().where(models.CaseEvent.case == case_id).count())


def open_case(stage: str) -> models.CaseFile:
    C = models.CaseFile
    return (C.select().where((C.stage == stage) & (C.status == "open") & (C.on_hold == False))  # noqa: E712
            .order_by(C.id).first())


def votable(actor) -> tuple[int, int]:
    """A dossier file whose branch vote passes every rule with a full vote: (id, members)."""
    C = models.CaseFile
    for case in C.select().where((C.stage == "dossier") & (C.status == "open") & (C.on_hold == False)  # noqa: E712
                                 ).order_by(C.id):
        members = pipeline.official_members(case.branch_id, TODAY)
        step = pipeline.StepInput("branch_approved", TODAY, resolution="1-NQ/CB",
                                  votes=(members, members, 0))
        if members and not pipeline.check(actor, case.id, step, TODAY):
            return case.id, members
    raise AssertionError("the demo has no dossier file ready for its branch vote")


def test_advance_with_good_votes(demo_admin, demo_db, capsys):
    case_id, members = votable(demo_admin)
    status, doc, err = run_json(capsys, "--db", demo_db, "case", "advance", case_id, "branch_approved",
                                "--resolution", "12-NQ/CB", "--votes", f"{members}/{members}/0",
                                "--date", "30/09/2021")
    assert status == 0 and doc["ok"] is True and doc["stage"] == "branch_approved"
    assert doc["steps"][-1]["resolutions"][0]["votes"] == {"for": members, "convened": members, "excused": 0}
    assert models.CaseFile.get_by_id(case_id).stage == "branch_approved"


def test_votes_below_two_thirds_are_refused_and_nothing_is_written(demo_admin, demo_db, capsys):
    case_id, members = votable(demo_admin)
    before = state(case_id)
    low = members * 2 // 3 - 1
    args = ("--db", demo_db, "case", "advance", case_id, "branch_approved", "--resolution", "12-NQ/CB",
            "--votes", f"{low}/{members}")
    status, doc, _ = run_json(capsys, *args)
    assert status == 1 and doc["ok"] is False and doc["needs_override"] is False
    [vote] = [v for v in doc["violations"] if v["code"] == "vote_below_two_thirds"]
    assert "hai phần ba" in vote["message"] and str(low) in vote["message"]
    assert vote["params"]["for"] == low and vote["params"]["convened"] == members
    assert set(vote) >= {"code", "message", "params"}
    assert state(case_id) == before

    status, out, err = run(capsys, "--lang", "en", *args)
    assert status == 1 and out == ""
    assert f"File {case_id} was not changed" in err and "did not reach two thirds" in err
    assert state(case_id) == before


def test_step_object_from_stdin_with_options_over_it(demo_admin, demo_db, capsys, monkeypatch):
    case_id, members = votable(demo_admin)
    step = {"stage": "branch_approved", "date": "2021-09-29", "resolution": "7-NQ/CB",
            "votes": {"for": 0, "convened": members, "excused": 0}}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(step)))
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "advance", case_id, "branch_approved",
                              "--step", "-", "--votes", f"{members}/{members}")
    assert status == 0 and doc["steps"][-1]["date"] == "2021-09-29"
    assert doc["steps"][-1]["resolutions"][0]["number"] == "7-NQ/CB"


def test_bad_values_are_refused(demo_admin, demo_db, capsys, tmp_path):
    case_id, _ = votable(demo_admin)
    before = state(case_id)
    for extra in (("--votes", "ba/mươi"), ("--date", "31/02/2021")):
        status, doc, _ = run_json(capsys, "--db", demo_db, "case", "advance", case_id, "branch_approved",
                                  *extra)
        assert status == 1 and doc["error"]["code"] == "bad_value"
    bad = tmp_path / "step.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "advance", case_id, "branch_approved",
                              "--step", bad)
    assert status == 1 and doc["error"]["code"] == "bad_value"
    assert state(case_id) == before
    # a stage that is not one is wrong usage
    assert run(capsys, "--db", demo_db, "case", "advance", case_id, "elected")[0] == 2


def test_warnings_only_then_override_with_a_reason(demo_admin, demo_db, capsys):
    case_id = open_case("admitted").id
    before = state(case_id)
    args = ("--db", demo_db, "--today", "2022-01-10")
    status, doc, _ = run_json(capsys, *args, "case", "advance", case_id, "probationary",
                              "--date", "2021-12-31")
    assert status == 1 and doc["needs_override"] is True
    assert [v["code"] for v in doc["violations"]] == ["ceremony_late"]
    assert doc["violations"][0]["warning"] is True and "case override" in doc["violations"][0]["message"]
    status, out, err = run(capsys, *args, "case", "advance", case_id, "probationary", "--date", "2021-12-31")
    assert status == 1 and f"ketnap case override {case_id} probationary" in err
    assert state(case_id) == before

    # no reason: still refused
    status, doc, _ = run_json(capsys, *args, "case", "override", case_id, "probationary",
                              "--date", "2021-12-31")
    assert status == 1 and doc["error"]["code"] == "reason_required"
    assert state(case_id) == before

    status, out, err = run(capsys, *args, "--lang", "en", "case", "override", case_id, "probationary",
                           "--date", "2021-12-31", "--reason", "Flooded roads")
    assert status == 0 and "now at “Probationary member”" in out
    case = models.CaseFile.get_by_id(case_id)
    assert case.stage == "probationary"
    event = models.CaseEvent.get((models.CaseEvent.case == case_id) & (models.CaseEvent.kind == "override"))
    assert event.reason == "Flooded roads" and "ceremony_late" in event.details


def test_undo_needs_a_reason(demo_admin, demo_db, capsys):
    case_id = open_case("branch_approved").id
    before = state(case_id)
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "undo", case_id)
    assert status == 1 and doc["error"]["code"] == "reason_required"
    assert "--reason" in doc["error"]["message"]
    assert state(case_id) == before
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "undo", case_id, "--reason", "Nhập nhầm")
    assert status == 0 and doc["stage"] == "dossier"
    assert doc["steps"][-1]["undone"] and doc["steps"][-1]["undo_reason"] == "Nhập nhầm"
    assert models.CaseFile.get_by_id(case_id).stage == "dossier"


def test_close_and_reopen(demo_admin, demo_db, capsys):
    case_id = open_case("in_class").id
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "close", case_id, "withdrawn",
                              "--reason", "Xin rút")
    assert status == 1 and doc["error"]["code"] == "bad_value"  # no date
    status, out, _ = run(capsys, "--db", demo_db, "--lang", "en", "case", "close", case_id, "withdrawn",
                         "--date", "30/09/2021", "--reason", "Asked to withdraw")
    assert status == 0 and f"File {case_id}" in out and "Withdrawn" in out
    case = models.CaseFile.get_by_id(case_id)
    assert (case.status, case.outcome) == ("closed", "withdrawn")
    # a closed file takes no step and no second closing
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "advance", case_id, "certified",
                              "--certificate", "1/CN", "--issuer", "TTCT")
    assert status == 1 and doc["violations"][0]["code"] == "stage_order"
    assert "case reopen" in doc["violations"][0]["message"]

    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "reopen", case_id, "--reason", "Đổi ý")
    assert status == 0 and doc["status"] == "open" and doc["stage"] == "in_class"
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "reopen", case_id, "--reason", "Lần nữa")
    assert status == 1 and doc["error"]["code"] == "not_closed"


def test_hold_and_release(demo_admin, demo_db, capsys):
    case_id = open_case("certified").id
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "hold", case_id, "--reason", "Sưu tra")
    assert status == 0 and doc["status"] == "on_hold" and doc["hold_reason"] == "Sưu tra"
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "hold", case_id, "--reason", "Lại")
    assert status == 1 and doc["error"]["code"] == "already_on_hold"
    status, out, _ = run(capsys, "--db", demo_db, "case", "release", case_id)
    assert status == 0 and f"Hồ sơ số {case_id}" in out
    assert not models.CaseFile.get_by_id(case_id).on_hold
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "release", case_id)
    assert status == 1 and doc["error"]["code"] == "not_on_hold"


def test_not_found(demo_admin, demo_db, capsys):
    for args in (("advance", 999999, "dossier"), ("undo", 999999, "--reason", "x"),
                 ("hold", 999999, "--reason", "x"), ("release", 999999)):
        status, doc, _ = run_json(capsys, "--db", demo_db, "case", *args)
        assert status == 1 and doc["error"]["code"] == "not_found"


def test_a_viewer_may_not_write(demo_admin, demo_db, capsys):
    case_id = open_case("certified").id
    before = state(case_id)
    for args in (("hold", case_id, "--reason", "x"), ("undo", case_id, "--reason", "x"),
                 ("close", case_id, "withdrawn", "--date", "30/09/2021", "--reason", "x")):
        status, doc, _ = run_json(capsys, "--db", demo_db, "--user", "demo_viewer", "case", *args)
        assert status == 1 and doc["error"]["code"] == "forbidden"
        assert "demo_viewer" in doc["error"]["message"]
    status, out, err = run(capsys, "--db", demo_db, "--user", "demo_viewer", "--lang", "en",
                           "case", "hold", case_id, "--reason", "x")
    assert status == 1 and out == "" and "is a viewer account: it may not change files" in err
    assert state(case_id) == before


def _pipeline_codes() -> tuple[set[str], set[str]]:
    source = (ROOT / "db" / "pipeline.py").read_text(encoding="utf-8")
    rules = set(re.findall(r'(?:\b_v|\bViolation)\(\s*"([a-z0-9_]+)"', source))
    errors = set(re.findall(r'\bPipelineError\(\s*"([a-z0-9_]+)"', source))
    return rules | set(pipeline.WARNINGS), errors


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_pipeline_code_has_a_sentence(lang):
    rules, errors = _pipeline_codes()
    assert {"age_under_18", "vote_below_two_thirds", "ceremony_late"} <= rules  # the scan works
    assert {"reason_required", "nothing_to_undo"} <= errors
    missing = sorted(c for c in rules | errors if not i18n.has(f"rule.{c}"))
    assert not missing, f"codes without a sentence in tui/locale/rules.toml: {missing}"
    try:
        i18n.set_language(lang)
        for code in sorted(rules | errors):
            entry = i18n.catalogue()[f"rule.{code}"]
            assert entry[lang].strip() and set(entry) == set(i18n.LANGUAGES)
            # any params (even none) make a sentence: missing ones show as a dash
            assert cli.rule_message(code, {}, TODAY)
    finally:
        i18n.set_language("vi")


def test_variants_of_a_code_read_their_params():
    try:
        i18n.set_language("en")
        assert "date of birth" in cli.rule_message("age_under_18", {"missing": True})
        assert "after today" in cli.rule_message("date_order", {"date": "2021-10-01", "today": "2021-09-30"})
        assert "01/10/2021" in cli.rule_message("date_order", {"date": "2021-10-01", "today": "2021-09-30"})
        assert "reopen" in cli.rule_message("stage_order", {"from": "dossier", "to": "dossier",
                                                            "status": "closed"})
        message = cli.rule_message("stage_order", {"from": "dossier", "to": "official"})
        assert "Building the file" in message and "Official member" in message
        assert "Background verification" in cli.rule_message("document_missing",
                                                             {"kind": "background_verification"}, TODAY)
        assert "missing or impossible" in cli.rule_message("vote_below_two_thirds",
                                                           {"vote": "branch", "missing": True})
    finally:
        i18n.set_language("vi")


def test_record_failed_vote_keeps_the_file_in_dossier(demo_admin, demo_db, capsys):
    case_id, members = votable(demo_admin)
    low = members * 2 // 3 - 1
    before = state(case_id)
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "advance", case_id, "branch_approved",
                              "--votes", f"{low}/{members}/0", "--resolution", "9-NQ/CB",
                              "--date", "29/09/2021", "--record-failed-vote",
                              "--reason", "Chưa đủ tín nhiệm")
    assert status == 0 and doc["ok"] is True and doc["stage"] == "dossier"
    [event] = [e for e in doc["events"] if e["kind"] == "vote_failed"]
    assert event["date"] == "2021-09-29" and event["reason"] == "Chưa đủ tín nhiệm"
    assert event["details"] == {"votes": {"for": low, "convened": members, "excused": 0},
                                "resolution": "9-NQ/CB"}
    case = models.CaseFile.get_by_id(case_id)
    assert case.stage == "dossier" and case.version == before[3] + 1
    assert models.Step.select().where(models.Step.case == case_id).count() == before[4]

    # in words, and the file can still pass a later vote
    status, out, err = run(capsys, "--lang", "en", "--db", demo_db, "case", "advance", case_id,
                           "branch_approved", "--votes", f"0/{members}", "--date", "30/09/2021",
                           "--record-failed-vote", "--reason", "Again")
    assert status == 0 and f"File {case_id}: the failed branch vote is recorded" in out
    assert "Building the file" in out
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "advance", case_id, "branch_approved",
                              "--resolution", "12-NQ/CB", "--votes", f"{members}/{members}/0",
                              "--date", "30/09/2021")
    assert status == 0 and doc["stage"] == "branch_approved" and len(doc["events"]) == before[5] + 2


def test_record_failed_vote_is_refused_when_the_vote_passed_or_is_incomplete(demo_admin, demo_db, capsys):
    case_id, members = votable(demo_admin)
    before = state(case_id)
    base = ("--db", demo_db, "case", "advance", case_id)
    status, doc, _ = run_json(capsys, *base, "branch_approved", "--votes", f"{members}/{members}",
                              "--record-failed-vote", "--reason", "x")
    assert status == 1 and doc["error"]["code"] == "bad_value"
    assert "hai phần ba" in doc["error"]["message"] and "--record-failed-vote" in doc["error"]["message"]
    status, out, err = run(capsys, "--lang", "en", *base, "branch_approved", "--votes",
                           f"{members}/{members}", "--record-failed-vote", "--reason", "x")
    assert status == 1 and "reach two thirds, so this is not a failed vote" in err
    # no reason, no votes, another stage, impossible votes, a reason without the option
    for extra, code in ((("branch_approved", "--votes", f"0/{members}", "--record-failed-vote"),
                         "reason_required"),
                        (("branch_approved", "--record-failed-vote", "--reason", "x"), "bad_value"),
                        (("committee_approved", "--votes", f"0/{members}", "--record-failed-vote",
                          "--reason", "x"), "bad_value"),
                        (("branch_approved", "--votes", f"{members + 5}/{members}", "--record-failed-vote",
                          "--reason", "x"), "bad_value"),
                        (("branch_approved", "--votes", f"0/{members}", "--reason", "x"), "bad_value")):
        status, doc, _ = run_json(capsys, *base, *extra)
        assert status == 1 and doc["error"]["code"] == code, extra
    assert state(case_id) == before


def test_record_failed_vote_outside_dossier_lists_the_rule(demo_admin, demo_db, capsys):
    case_id = open_case("branch_approved").id
    before = state(case_id)
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "advance", case_id, "branch_approved",
                              "--votes", "1/20", "--record-failed-vote", "--reason", "x")
    assert status == 1 and doc["ok"] is False
    assert "stage_order" in [v["code"] for v in doc["violations"]]
    assert state(case_id) == before


def test_case_show_lists_the_events_of_the_file(demo_admin, demo_db, capsys):
    case = open_case("dossier")
    status, _out, _err = run(capsys, "--db", demo_db, "case", "hold", case.id, "--reason", "Chờ thẩm tra")
    assert status == 0
    status, out, _err = run(capsys, "--db", demo_db, "case", "show", case.id)
    assert status == 0
    assert "Sự việc khác trên hồ sơ" in out and "Tạm dừng" in out and "Chờ thẩm tra" in out
