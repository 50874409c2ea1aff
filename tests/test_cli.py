"""The `ketnap` command line: options and their precedence, commands, JSON shapes, refusals.

Most tests call `main([...])` in-process; a few run the real program for exit codes, for what it
imports, and for `demo` from another directory.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import pytest

from db import connection, models
from db.access import ensure_admin
from db.text import fold
from tests.test_db_read import build_world, make_person, make_unit
from tui import cli, i18n

ROOT = Path(__file__).resolve().parent.parent
LOGIN = "tester"  # the operating-system login, as the CLI sees it in these tests
NASTY = "[bold]Lò[/bold] \x1b[31m"  # markup and an escape sequence in a stored name
NASTY_SHOWN = "[bold]Lò[/bold] [31m"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No KETNAP_* from the outside world, no configuration files, a wide terminal."""
    for name in ("KETNAP_DB", "KETNAP_LANG", "KETNAP_USER", "KETNAP_TODAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(connection, "SYSTEM_CONFIG", tmp_path / "no-etc" / "ketnap.toml")
    monkeypatch.setattr(connection, "user_config_file", lambda: tmp_path / "no-home" / "ketnap.toml")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(cli, "os_login", lambda: LOGIN)
    yield
    i18n.set_language("vi")


@pytest.fixture
def world(admin):
    """The small district of test_db_read, with `tester` its administrator; today 30/09/2021."""
    w = build_world()
    connection.set_setting("today", "2021-09-30")
    return w


def run(capsys, *args):
    """main(args) -> (status, stdout, stderr)."""
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys, *args):
    """main(args + --json) -> (status, the parsed document, stderr)."""
    status, out, err = run(capsys, *args, "--json")
    return status, json.loads(out), err


def account_count(path) -> int:
    if connection.is_server_url(str(path)):
        import psycopg

        with psycopg.connect(path) as con:
            return con.execute("SELECT count(*) FROM account").fetchone()[0]
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM account").fetchone()[0]
    finally:
        con.close()


def dump(path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


# --- init ------------------------------------------------------------------------------------

def test_init_creates_the_database_and_an_admin_then_is_harmless(tmp_path, capsys):
    path = tmp_path / "sub" / "ketnap.sqlite3"
    status, out, err = run(capsys, "--db", path, "init")
    assert status == 0 and err == ""
    assert "Đã tạo cơ sở dữ liệu" in out and f"“{LOGIN}”" in out
    assert account_count(path) == 1
    assert path.stat().st_mode & 0o077 == 0
    before = dump(path)

    status, out, err = run(capsys, "--db", path, "--lang", "en", "init")
    assert status == 0 and err == ""
    assert "up to date" in out and "nothing changed" in out
    assert account_count(path) == 1
    assert dump(path) == before


def test_init_migrates_an_older_database_with_a_backup(tmp_path, capsys):
    path = tmp_path / "old.sqlite3"
    assert run(capsys, "--db", path, "init")[0] == 0
    con = sqlite3.connect(path)
    last = con.execute("SELECT max(name) FROM schema_migration").fetchone()[0]
    con.execute("DELETE FROM schema_migration WHERE name = ?", (last,))
    con.commit()
    con.close()
    status, out, _ = run(capsys, "--db", path, "--lang", "en", "init")
    assert status == 0
    assert "Migrated the database" in out and "(1 steps)" in out and "Copy taken" in out
    assert list(tmp_path.glob("old.sqlite3.before-migration-*"))
    assert account_count(path) == 1


def test_init_never_makes_a_second_login_an_admin(empty_db, capsys):
    ensure_admin("someone_else")
    status, out, _ = run(capsys, "--db", empty_db, "--lang", "en", "init")
    assert status == 0
    assert "up to date" in out and f"“{LOGIN}” has no account" in out
    assert account_count(empty_db) == 1


# --- where the database, the language and today come from ------------------------------------

def test_db_option_beats_env(tmp_path, capsys, monkeypatch):
    a, b = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    for path, code in ((a, "AAA"), (b, "BBB")):
        assert run(capsys, "--db", path, "init")[0] == 0
        connection.open_database(str(path))
        make_unit(code, f"Đơn vị {code}", "committee")
        connection.close_database()
    monkeypatch.setenv("KETNAP_DB", str(a))
    assert [u["code"] for u in run_json(capsys, "units")[1]] == ["AAA"]
    assert [u["code"] for u in run_json(capsys, "--db", b, "units")[1]] == ["BBB"]


def test_db_from_the_user_config_file_then_the_data_directory(tmp_path, capsys, monkeypatch):
    status, out, _ = run(capsys, "init")
    assert status == 0
    default = tmp_path / "data" / "ketnap" / "ketnap.sqlite3"
    assert default.exists() and str(default) in out
    config = tmp_path / "home.toml"
    target = tmp_path / "configured.sqlite3"
    config.write_text(f'db = "{target}"\n')
    monkeypatch.setattr(connection, "user_config_file", lambda: config)
    assert run(capsys, "init")[0] == 0
    assert target.exists()


def test_today_option_beats_env_beats_the_database_setting(world, empty_db, capsys, monkeypatch):
    def codes(*options):
        status, doc, _ = run_json(capsys, "--db", empty_db, *options, "units")
        assert status == 0
        return [n["code"] for root in doc for n in _walk(root)]

    assert codes() == ["HU", "TQ", "TQ01", "VT"]  # the database's today: 30/09/2021
    monkeypatch.setenv("KETNAP_TODAY", "01/01/2019")  # before the school branch, TQ02 alive
    assert codes() == ["HU", "TQ", "TQ02", "TQ01"]
    assert codes("--today", "2021-09-30") == ["HU", "TQ", "TQ01", "VT"]
    assert codes("--today", "01/01/1999") == []  # before the district existed


def test_today_from_the_clock_without_a_setting(empty_db, admin, capsys, monkeypatch):
    recorded = {}
    fake = types.ModuleType("tui.app")
    fake.run_app = lambda context: recorded.setdefault("context", context)
    monkeypatch.setitem(sys.modules, "tui.app", fake)
    assert run(capsys, "--db", empty_db)[0] == 0
    assert recorded["context"].today == datetime.datetime.now(connection.VIETNAM).date()


def test_bad_today_is_refused(world, empty_db, capsys, monkeypatch):
    status, out, err = run(capsys, "--db", empty_db, "--lang", "en", "--today", "31/02/2021", "units")
    assert status == 1 and out == "" and "31/02/2021" in err and "dd/mm/yyyy" in err
    monkeypatch.setenv("KETNAP_TODAY", "tomorrow")
    status, doc, _ = run_json(capsys, "--db", empty_db, "units")
    assert status == 1 and doc["error"]["code"] == "bad_value"


def test_language_option_beats_env_beats_the_account(world, empty_db, capsys, monkeypatch):
    models.Account.update(lang="en").where(models.Account.name == LOGIN).execute()

    def message(*options):
        status, out, err = run(capsys, "--db", empty_db, *options, "find", "zzzz")
        assert status == 0 and err == ""
        return out

    assert "Nobody matches" in message()  # the account's language
    monkeypatch.setenv("KETNAP_LANG", "vi")
    assert "Không tìm thấy ai" in message()
    assert "Nobody matches" in message("--lang", "en")
    assert "Nobody matches" in message("--lang=en")
    monkeypatch.delenv("KETNAP_LANG")
    models.Account.update(lang=None).where(models.Account.name == LOGIN).execute()
    assert "Không tìm thấy ai" in message()  # the default: Vietnamese
    assert i18n.language() == "vi"


def test_unknown_language(world, empty_db, capsys, monkeypatch):
    status, out, err = run(capsys, "--db", empty_db, "--lang", "fr", "units")
    assert status == 2 and out == "" and "fr" in err
    monkeypatch.setenv("KETNAP_LANG", "fr")
    status, out, err = run(capsys, "--db", empty_db, "units")
    assert status == 1 and out == "" and "“fr”" in err


def test_help_in_both_languages(capsys):
    for lang, words in (("vi", "cách dùng"), ("en", "usage")):
        for command in ([], ["init"], ["demo"], ["units"], ["find"], ["case"], ["case", "show"]):
            status, out, _ = run(capsys, "--lang", lang, *command, "--help")
            assert status == 0 and out.startswith(words)
    status, out, _ = run(capsys, "--lang", "en", "--help")
    assert "party-member development" in out and "find people" in out


def test_version(capsys):
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.startswith("ketnap ")


@pytest.mark.parametrize("args", [
    ["units", "--db", "x"],  # global options come before the command
    ["case"], ["case", "show"], ["case", "show", "abc"], ["case", "show", "0"],
    ["find"], ["find", "x", "--limit", "0"], ["find", "x", "--limit", "many"], ["nosuch"],
    ["--lan", "en", "units"],  # no abbreviations
])
def test_wrong_usage_exits_2(args, capsys):
    status, out, err = run(capsys, *args)
    assert status == 2 and out == "" and "ketnap" in err


def test_wrong_usage_is_reported_in_the_language(capsys):
    status, _, err = run(capsys, "case", "show", "abc")
    assert status == 2 and "lỗi" in err and "“abc” không phải số hồ sơ" in err
    status, _, err = run(capsys, "--lang", "en", "find")
    assert status == 2 and "error: the following arguments are required: TEXT" in err


# --- accounts --------------------------------------------------------------------------------

def test_no_account(world, empty_db, capsys, monkeypatch):
    monkeypatch.setattr(cli, "os_login", lambda: "stranger")
    status, out, err = run(capsys, "--db", empty_db, "--lang", "en", "units")
    assert status == 1 and out == "" and "“stranger” has no ketnap account" in err
    status, doc, err = run_json(capsys, "--db", empty_db, "find", "an")
    assert status == 1 and err == ""
    assert doc["ok"] is False and doc["error"]["code"] == "no_account"
    assert "stranger" in doc["error"]["message"]


def test_no_accounts_at_all_points_to_init(empty_db, capsys):
    status, out, err = run(capsys, "--db", empty_db, "--lang", "en", "units")
    assert status == 1 and out == "" and "ketnap init" in err


def test_missing_database_points_to_init(tmp_path, capsys):
    missing = tmp_path / "missing.sqlite3"
    status, out, err = run(capsys, "--db", missing, "--lang", "en", "units")
    assert status == 1 and out == "" and "ketnap init" in err
    assert not missing.exists()
    status, doc, _ = run_json(capsys, "--db", missing, "find", "x")
    assert status == 1 and doc["error"]["code"] == "no_database"


def test_broken_database_file(tmp_path, capsys):
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    status, out, err = run(capsys, "--db", path, "--lang", "en", "units")
    assert status == 1 and out == "" and "Cannot open the database" in err
    status, doc, _ = run_json(capsys, "--db", "postgresql://db/ketnap", "units")
    assert status == 1 and doc["error"]["code"] == "database"


def test_user_refused_for_a_non_admin(world, empty_db, capsys, monkeypatch):
    models.Account.create(name="sec", role="secretary", unit=world.school)
    monkeypatch.setattr(cli, "os_login", lambda: "sec")
    status, out, err = run(capsys, "--db", empty_db, "--lang", "en", "--user", LOGIN, "units")
    assert status == 1 and out == "" and "Only an administrator" in err
    monkeypatch.setenv("KETNAP_USER", LOGIN)
    status, doc, _ = run_json(capsys, "--db", empty_db, "units")
    assert status == 1 and doc["error"]["code"] == "forbidden"
    # the account's own name is always fine, and sees only its scope
    status, doc, _ = run_json(capsys, "--db", empty_db, "--user", "sec", "units")
    assert status == 0 and [u["code"] for u in doc] == ["VT"]


def test_user_honoured_for_an_admin(world, empty_db, capsys, monkeypatch):
    models.Account.create(name="sec", role="secretary", unit=world.school)
    status, doc, _ = run_json(capsys, "--db", empty_db, "--user", "sec", "units")
    assert status == 0 and [u["code"] for u in doc] == ["VT"]
    monkeypatch.setenv("KETNAP_USER", "sec")
    status, doc, _ = run_json(capsys, "--db", empty_db, "find", "hoat")
    assert {r["full_name"] for r in doc["results"]} == {"Đặng Thị Hoạt", "Nông Văn Hoạt"}
    status, doc, _ = run_json(capsys, "--db", empty_db, "--user", "nobody", "units")
    assert status == 1 and doc["error"]["code"] == "no_account"


def test_user_honoured_on_a_demo_database(world, empty_db, capsys, monkeypatch):
    models.Account.create(name="sec", role="secretary", unit=world.school)
    connection.set_setting("demo", "1")
    monkeypatch.setattr(cli, "os_login", lambda: "sec")
    status, doc, _ = run_json(capsys, "--db", empty_db, "--user", LOGIN, "units")
    assert status == 0 and [u["code"] for u in doc] == ["HU"]
    # a login with no account on a demo database acts as its administrator, and is told so
    monkeypatch.setattr(cli, "os_login", lambda: "visitor")
    status, doc, err = run_json(capsys, "--db", empty_db, "--lang", "en", "units")
    assert status == 0 and [u["code"] for u in doc] == ["HU"]
    assert "visitor" in err and LOGIN in err


# --- units -----------------------------------------------------------------------------------

UNIT_KEYS = {"code", "name", "level", "org_type", "category", "founded", "ended", "children"}


def _walk(node):
    yield node
    for child in node["children"]:
        yield from _walk(child)


def test_units_json(world, empty_db, capsys):
    status, doc, err = run_json(capsys, "--db", empty_db, "units")
    assert status == 0 and err == ""
    assert isinstance(doc, list) and len(doc) == 1
    (root,) = doc
    assert all(set(node) >= UNIT_KEYS for node in _walk(root))
    assert root == {
        "code": "HU", "name": "Huyện ủy Ngân Sơn", "level": "district", "org_type": "committee",
        "category": None, "founded": "2000-01-01", "ended": None, "children": [
            {"code": "TQ", "name": "Đảng bộ xã Thượng Quan", "level": "commune",
             "org_type": "grassroots_committee", "category": None, "founded": "2010-01-01",
             "ended": None, "children": [
                 {"code": "TQ01", "name": "Chi bộ thôn Nà Lạn", "level": None,
                  "org_type": "branch", "category": "village", "founded": "2010-01-01",
                  "ended": None, "children": []}]},
            {"code": "VT", "name": "Chi bộ Trường THCS Vân Tùng", "level": None,
             "org_type": "grassroots_branch", "category": "school", "founded": "2021-06-01",
             "ended": None, "children": []}]}


def test_units_all_shows_ended_units(world, empty_db, capsys):
    status, doc, _ = run_json(capsys, "--db", empty_db, "units", "--all")
    merged = [n for n in _walk(doc[0]) if n["code"] == "TQ02"]
    assert status == 0 and merged and merged[0]["ended"] == "2020-07-01"


def test_units_tree_for_people(world, empty_db, capsys):
    status, out, err = run(capsys, "--db", empty_db, "units", "--all")
    assert status == 0 and err == ""
    assert "30/09/2021" in out
    for text in ("Huyện ủy Ngân Sơn", "[TQ01]", "Chi bộ thôn Khuổi Sáp", "đã kết thúc 01/07/2020",
                 "Chi bộ cơ sở", "Trường học"):
        assert text in out
    status, out, _ = run(capsys, "--db", empty_db, "--lang", "en", "units")
    assert "Units as of 30/09/2021" in out and "Khuổi Sáp" not in out and "Village" in out


def test_units_empty(admin, empty_db, capsys):
    status, out, _ = run(capsys, "--db", empty_db, "units")
    assert status == 0 and "Chưa có đơn vị nào" in out
    assert run_json(capsys, "--db", empty_db, "units")[1] == []


# --- find ------------------------------------------------------------------------------------

RESULT_KEYS = {"person_id", "full_name", "born", "branch", "case_id", "stage", "public_role"}


def test_find_says_when_there_are_more_matches_than_shown(world, empty_db, capsys):
    status, doc, _ = run_json(capsys, "--db", empty_db, "find", "hoat", "--limit", "1")
    assert status == 0 and len(doc["results"]) == 1 and doc["truncated"] is True
    status, out, _ = run(capsys, "--db", empty_db, "--lang", "en", "find", "hoat", "--limit", "1")
    assert status == 0 and "There are more matches" in out


def test_find_json(world, empty_db, capsys):
    status, doc, err = run_json(capsys, "--db", empty_db, "find", "hoat")
    assert status == 0 and err == ""
    assert set(doc) == {"results", "truncated", "units"} and doc["truncated"] is False
    by_name = {r["full_name"]: r for r in doc["results"]}
    assert set(by_name) == {"Nông Văn Hoạt", "Đặng Thị Hoạt"}
    assert all(set(r) == RESULT_KEYS for r in doc["results"])
    dang = by_name["Đặng Thị Hoạt"]
    assert dang == {"person_id": world.dang.id, "full_name": "Đặng Thị Hoạt", "born": "1999-09-09",
                    "branch": {"code": "VT", "name": "Chi bộ Trường THCS Vân Tùng"},
                    "case_id": world.case_dang.id, "stage": "in_class", "public_role": None}
    official = by_name["Nông Văn Hoạt"]
    assert official["branch"] is None and official["case_id"] is None and official["stage"] is None
    assert official["public_role"] == "Bí thư Đảng ủy thị trấn Nà Phặc"


def test_find_ignores_diacritics_case_and_d(world, empty_db, capsys):
    def names(text):
        return [r["full_name"] for r in run_json(capsys, "--db", empty_db, "find", text)[1]["results"]]

    assert "Đặng Thị Hoạt" in names("hoat") and "Nông Văn Hoạt" in names("HOAT")
    assert names("dang") == ["Đặng Thị Hoạt"]
    assert names("Đặng") == ["Đặng Thị Hoạt"]
    assert names("0912000001") == ["Nguyễn Văn An"]


def test_find_limit(world, empty_db, capsys):
    status, doc, _ = run_json(capsys, "--db", empty_db, "find", "an")
    assert status == 0 and len(doc["results"]) == 3
    status, doc, _ = run_json(capsys, "--db", empty_db, "find", "an", "--limit", "1")
    assert len(doc["results"]) == 1


def test_find_table(world, empty_db, capsys):
    status, out, err = run(capsys, "--db", empty_db, "find", "hoat")
    assert status == 0 and err == ""
    for text in ("Đặng Thị Hoạt", "09/09/1999", "Chi bộ Trường THCS Vân Tùng",
                 "Đang học lớp nhận thức", "Nông Văn Hoạt", "Bí thư Đảng ủy thị trấn Nà Phặc",
                 "Họ và tên"):
        assert text in out
    status, out, _ = run(capsys, "--db", empty_db, "--lang", "en", "find", "nguyen van an")
    assert "Full name" in out and "Branch approved" in out and "02/03/1998" in out


# --- case show -------------------------------------------------------------------------------

CASE_KEYS = {"id", "person", "branch", "stage", "status", "steps", "documents", "introducers",
             "next_action"}


def test_case_show_json(world, empty_db, capsys):
    status, doc, err = run_json(capsys, "--db", empty_db, "case", "show", world.case.id)
    assert status == 0 and err == ""
    assert set(doc) >= CASE_KEYS
    assert doc["id"] == world.case.id
    assert doc["person"]["full_name"] == "Nguyễn Văn An" and doc["person"]["born"] == "1998-03-02"
    assert doc["person"]["citizen_id"] == "006098000001"
    assert doc["branch"] == {"code": "TQ01", "name": "Chi bộ thôn Nà Lạn"}
    assert (doc["stage"], doc["status"]) == ("branch_approved", "open")
    assert [s["stage"] for s in doc["steps"]] == ["identified", "in_class", "certified", "dossier",
                                                 "branch_approved"]
    step = doc["steps"][-1]
    assert set(step) >= {"seq", "stage", "date", "unit", "received", "resolutions", "details",
                         "entered_by", "undone"}
    assert step["date"] == "2021-02-01" and step["unit"] == {"code": "TQ01", "name": "Chi bộ thôn Nà Lạn"}
    assert step["resolutions"] == [{"kind": "branch_resolution", "number": "12-NQ/CB",
                                    "date": "2021-02-01",
                                    "votes": {"for": 20, "convened": 27, "excused": 2}}]
    assert doc["steps"][2]["details"] == {"certificate": {"number": "123/CN"}}
    assert doc["documents"][0] == {"kind": "application_letter", "received": "2020-06-01",
                                   "note": None}
    assert [i["kind"] for i in doc["introducers"]] == ["member", "youth_union"]
    assert doc["introducers"][0]["full_name"] == "Lê Văn Bình"
    assert doc["introducers"][0]["together_since"] == "2018-01-01"
    assert doc["next_action"] == {"code": "committee_vote", "due": "2021-05-06"}


def test_case_show_status_of_held_and_closed_files(world, empty_db, capsys):
    status, doc, _ = run_json(capsys, "--db", empty_db, "case", "show", world.case_anh.id)
    assert doc["status"] == "on_hold" and doc["next_action"]["code"] == "enrol_in_class"
    models.CaseFile.update(status="closed", outcome="withdrawn").where(
        models.CaseFile.id == world.case_anh.id).execute()
    status, doc, _ = run_json(capsys, "--db", empty_db, "case", "show", world.case_anh.id)
    assert doc["status"] == "closed" and doc["next_action"] == {"code": None, "due": None}
    status, out, _ = run(capsys, "--db", empty_db, "case", "show", world.case_anh.id)
    assert "Đã đóng · Rút hồ sơ" in out


def test_case_show_not_found(world, empty_db, capsys):
    status, out, err = run(capsys, "--db", empty_db, "case", "show", 999, "--json")
    assert status == 1 and err == ""
    assert json.loads(out) == {"ok": False, "error": {
        "code": "not_found", "message": "Không tìm thấy hồ sơ số 999 (hoặc bạn không có quyền xem)."}}
    status, out, err = run(capsys, "--db", empty_db, "--lang", "en", "case", "show", 999)
    assert status == 1 and out == "" and err == "No file number 999 (or you may not see it).\n"


def test_case_show_outside_the_scope_is_not_found(world, empty_db, capsys):
    models.Account.create(name="sec", role="secretary", unit=world.school)
    status, doc, _ = run_json(capsys, "--db", empty_db, "--user", "sec", "case", "show", world.case.id)
    assert status == 1 and doc["error"]["code"] == "not_found"


def test_case_show_for_people(world, empty_db, capsys):
    status, out, err = run(capsys, "--db", empty_db, "case", "show", world.case.id)
    assert status == 0 and err == ""
    for text in (f"Hồ sơ số {world.case.id}", "Nguyễn Văn An", "Chi bộ đề nghị kết nạp",
                 "Đang xét", "Đảng ủy cơ sở xét duyệt", "hạn 06/05/2021", "QUÁ HẠN",
                 "Nghị quyết chi bộ 12-NQ/CB", "tán thành 20/27, vắng 2", "01/02/2021",
                 "Đơn xin vào Đảng", "Lê Văn Bình", "05-NQ/ĐTN", "123/CN", "Trung tâm chính trị huyện",
                 "006098000001", "Đảng viên giúp đỡ"):
        assert text in out, text
    status, out, _ = run(capsys, "--db", empty_db, "--lang", "en", "case", "show", world.case.id)
    for text in (f"File {world.case.id}", "Branch approved", "Grassroots committee vote",
                 "due 06/05/2021", "OVERDUE by 147 days", "20 for of 27, 2 excused",
                 "Application letter", "Youth Union committee"):
        assert text in out, text


# --- text from the database is shown literally -----------------------------------------------

@pytest.fixture
def nasty(world):
    """A person whose stored name carries markup and an escape sequence, with an open file."""
    person = make_person("Lò Văn Tạm", world.village, born=datetime.date(2001, 1, 1))
    case = models.CaseFile.create(person=person, branch=world.village, stage="identified")
    models.Step.create(case=case, seq=1, stage="identified", date=datetime.date(2021, 3, 1),
                       unit=world.village, details=json.dumps({"note": "[red]x\x1b[0m"}))
    models.Document.create(case=case, kind="application_letter", received=datetime.date(2021, 3, 2),
                           note="[link=http://x]bấm[/link]")
    # written around the models, which would have cleaned it: as if an old import had stored it
    models.database.execute_sql("UPDATE person SET full_name = {0} WHERE id = {0}".format(models.database.param),
                                (NASTY, person.id))
    models.database.execute_sql("UPDATE document SET note = {0} WHERE case_id = {0}".format(models.database.param),
                                ("[link=http://x]bấm[/link]\x07", case.id))
    return types.SimpleNamespace(person_id=person.id, case_id=case.id)


def test_find_prints_names_literally(nasty, empty_db, capsys):
    status, out, err = run(capsys, "--db", empty_db, "find", "lo van tam")
    assert status == 0 and err == ""
    assert NASTY_SHOWN in out and "\x1b" not in out
    status, out, _ = run(capsys, "--db", empty_db, "find", "lo van tam", "--json")
    assert "\x1b" not in out and "\\u001b" not in out
    assert json.loads(out)["results"][0]["full_name"] == NASTY_SHOWN


def test_case_show_prints_text_literally(nasty, empty_db, capsys):
    status, out, err = run(capsys, "--db", empty_db, "case", "show", nasty.case_id)
    assert status == 0 and err == ""
    assert NASTY_SHOWN in out and "[link=http://x]bấm[/link]" in out
    assert "\x1b" not in out and "\x07" not in out
    status, out, _ = run(capsys, "--db", empty_db, "case", "show", nasty.case_id, "--json")
    assert "\x1b" not in out and "\\u001b" not in out and "\\u0007" not in out
    doc = json.loads(out)
    assert doc["person"]["full_name"] == NASTY_SHOWN
    assert doc["steps"][0]["details"] == {"note": "[red]x[0m"}
    assert doc["documents"][0]["note"] == "[link=http://x]bấm[/link]"


def test_refusals_echo_text_literally(world, empty_db, capsys):
    status, out, err = run(capsys, "--db", empty_db, "--user", "[b]x\x1b[2J", "units")
    assert status == 1 and out == "" and "[b]x[2J" in err and "\x1b" not in err
    status, out, _ = run(capsys, "--db", empty_db, "find", "[bold]zz\x1b[0m")
    assert "[bold]zz[0m" in out and "\x1b" not in out
    status, out, err = run(capsys, "--db", empty_db, "units", "\x1b[2J")
    assert status == 2 and "[2J" in err and "\x1b" not in err


def test_unit_lookup_refusals_list_the_candidates(world, admin):
    from db.units import find_unit, UnitLookupError

    with pytest.raises(UnitLookupError) as caught:
        find_unit(admin, "chi bo", datetime.date(2021, 9, 30))
    refusal = cli.refusal_from(caught.value)
    assert refusal.code == "ambiguous_unit"
    assert "TQ01 (Chi bộ thôn Nà Lạn)" in refusal.message and "VT (" in refusal.message
    assert {c["code"] for c in refusal.extra["candidates"]} >= {"TQ01", "VT"}
    with pytest.raises(UnitLookupError) as caught:
        find_unit(admin, "[x]", datetime.date(2021, 9, 30))
    refusal = cli.refusal_from(caught.value)
    assert refusal.code == "unknown_unit" and "“[x]”" in refusal.message


# --- the application -------------------------------------------------------------------------

def test_no_command_opens_the_application(world, empty_db, capsys, monkeypatch):
    recorded = {}

    def run_app(context):
        recorded["context"] = context
        recorded["lang"] = i18n.language()

    fake = types.ModuleType("tui.app")
    fake.run_app = run_app
    monkeypatch.setitem(sys.modules, "tui.app", fake)
    assert run(capsys, "--db", empty_db, "--lang", "en", "--today", "01/02/2021")[0] == 0
    context = recorded["context"]
    assert context.location == empty_db and context.actor.name == LOGIN
    assert context.today == datetime.date(2021, 2, 1) and context.lang == "en"
    assert recorded["lang"] == "en"


def test_no_command_without_an_account_does_not_open(world, empty_db, capsys, monkeypatch):
    fake = types.ModuleType("tui.app")
    fake.run_app = lambda context: pytest.fail("opened without an account")
    monkeypatch.setitem(sys.modules, "tui.app", fake)
    monkeypatch.setattr(cli, "os_login", lambda: "stranger")
    status, out, err = run(capsys, "--db", empty_db)
    assert status == 1 and "stranger" in err


# --- the real program ------------------------------------------------------------------------

def _environment(**extra) -> dict:
    """The test's environment without KETNAP_*, importing this checkout's code from anywhere."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KETNAP_")}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else []))
    environment.update(extra)
    return environment


def _program(*args, cwd=None, env=None):
    environment = _environment(**(env or {}))
    return subprocess.run([sys.executable, "-m", "tui.cli", *map(str, args)], cwd=cwd or ROOT,
                          env=environment, capture_output=True, text=True, timeout=120)


def test_exit_statuses_of_the_real_program(tmp_path):
    path = tmp_path / "real.sqlite3"
    done = _program("--db", path, "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _program("--db", path, "units", "--json").returncode == 0
    refused = _program("--db", path, "case", "show", "5", "--json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["error"]["code"] == "not_found"
    assert _program("--db", path, "case", "show", "five").returncode == 2


def test_commands_do_not_import_textual(tmp_path):
    path = tmp_path / "light.sqlite3"
    assert _program("--db", path, "init").returncode == 0
    code = ("import sys; from tui.cli import main; "
            f"status = main(['--db', {str(path)!r}, 'find', 'x', '--json']); "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'textual']; "
            "sys.exit(10 if bad else status)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_environment(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _have_demo() -> bool:
    try:
        import db.demo  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _have_demo(), reason="db.demo is not there yet")
def test_demo_from_another_directory(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = tmp_path / "demo.sqlite3"
    loaded = _program("--db", path, "--lang", "en", "demo", cwd=elsewhere)
    assert loaded.returncode == 0, loaded.stderr
    assert "Loaded the demo" in loaded.stdout
    units = _program("--db", path, "units", "--json", cwd=elsewhere)
    assert units.returncode == 0 and json.loads(units.stdout)
    again = _program("--db", path, "--lang", "en", "demo", cwd=elsewhere)
    assert again.returncode == 1 and "--force" in again.stderr and again.stdout == ""
    forced = _program("--db", path, "demo", "--force", cwd=elsewhere)
    assert forced.returncode == 0, forced.stderr
    found = _program("--db", path, "find", "hoat", "--json", cwd=elsewhere)
    assert "Nông Văn Hoạt" in {r["full_name"] for r in json.loads(found.stdout)["results"]}


# --- on the demo database --------------------------------------------------------------------

@pytest.mark.slow
def test_demo_database_through_the_cli(demo_db, capsys, monkeypatch):
    status, doc, _ = run_json(capsys, "--db", demo_db, "units")
    assert status == 0 and len(doc) == 1
    nodes = list(_walk(doc[0]))
    assert len(nodes) > 20 and all(set(n) >= UNIT_KEYS for n in nodes)
    assert any(n["children"] and any(c["children"] for c in n["children"]) for n in nodes)

    status, doc, _ = run_json(capsys, "--db", demo_db, "find", "hoat")
    assert "Nông Văn Hoạt" in {r["full_name"] for r in doc["results"]}
    status, doc, _ = run_json(capsys, "--db", demo_db, "find", "dang", "--limit", "5")
    assert len(doc["results"]) == 5
    assert all("dang" in fold(r["full_name"]) for r in doc["results"])
    assert any("Đặng" in r["full_name"] for r in doc["results"])

    # any open file shows, in both forms
    case_id = models.CaseFile.select(models.CaseFile.id).where(
        models.CaseFile.status == "open").order_by(models.CaseFile.id).scalar()
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "show", case_id)
    assert status == 0 and set(doc) >= CASE_KEYS and doc["steps"]
    status, out, err = run(capsys, "--db", demo_db, "--lang", "en", "case", "show", case_id)
    assert status == 0 and err == "" and f"File {case_id}" in out


@pytest.mark.slow
def test_user_on_the_demo_database(demo_db, capsys, monkeypatch):
    # a non-admin login may act as any demo account: the demo database says so
    monkeypatch.setattr(cli, "os_login", lambda: "demo_viewer")
    status, doc, _ = run_json(capsys, "--db", demo_db, "--user", "demo_secretary", "units")
    assert status == 0 and len(doc) == 1 and doc[0]["children"] == []
    monkeypatch.setenv("KETNAP_USER", "demo_admin")
    status, doc, _ = run_json(capsys, "--db", demo_db, "units")
    assert status == 0 and len(list(_walk(doc[0]))) > 20
    # without it, outside a demo database, the same login is refused
    connection.set_setting("demo", "0")
    status, doc, _ = run_json(capsys, "--db", demo_db, "units")
    assert status == 1 and doc["error"]["code"] == "forbidden"


def test_a_bug_is_reported_briefly(world, empty_db, capsys, monkeypatch):
    import db.cases

    def broken(*args, **kwargs):
        raise RuntimeError("boom \x1b[2J")

    monkeypatch.setattr(db.cases, "find", broken)
    status, out, err = run(capsys, "--db", empty_db, "--lang", "en", "find", "an")
    assert status == 1 and out == ""
    assert "RuntimeError: boom [2J" in err and "KETNAP_DEBUG=1" in err and "Traceback" not in err
    status, doc, _ = run_json(capsys, "--db", empty_db, "find", "an")
    assert status == 1 and doc["error"]["code"] == "internal"
    monkeypatch.setenv("KETNAP_DEBUG", "1")
    assert "Traceback" in run(capsys, "--db", empty_db, "find", "an")[2]
