"""Who may see and change what: every entry point tried from outside the actor's scope, the
viewer's missing background, account administration, and the audit chain under tampering."""

from __future__ import annotations

import datetime
import json
import os
import sqlite3

import pytest

from db import accounts, audit, cases, connection, models, people, pipeline, transfer
from db.access import AccessError, NotFound, account_actor, resolve_actor
from db.units import find_unit, subtree_ids, unit_tree
from db.worklist import worklist
from tui import cli

TODAY = datetime.date(2021, 9, 30)
OWN = "NS-NP-07"  # demo_secretary's branch


def unit_id(code: str) -> int:
    return models.Unit.get(models.Unit.code == code).id


def open_case_in(code: str, *, other_than: str | None = None) -> models.CaseFile:
    C, U = models.CaseFile, models.Unit
    query = C.select().join(U).where(C.is_open())
    query = query.where(U.code != other_than) if other_than else query.where(U.code == code)
    return query.order_by(C.id).first()


def branch_codes(actor) -> set[str]:
    return {node.code for root in unit_tree(actor, TODAY) for node in root.walk()}


@pytest.fixture
def who(demo_db):
    return {name: account_actor(f"demo_{name}") for name in
            ("admin", "organiser", "xa", "secretary", "viewer")}


# --- scope: the secretary sees one branch ----------------------------------------------------

def test_secretary_tree_worklist_search_and_lists_stop_at_the_branch(who):
    secretary = who["secretary"]
    assert branch_codes(secretary) == {OWN}
    assert {i.branch.code for i in worklist(secretary, None, TODAY)} == {OWN}
    assert worklist(secretary, unit_id("NS"), TODAY) == []
    outsider = open_case_in(OWN, other_than=OWN)
    found = cases.find(secretary, outsider.person.full_name, TODAY)
    assert outsider.person_id not in {r.person_id for r in found}
    assert all(r.branch is None or r.branch.code == OWN for r in found)
    assert people.people_page(secretary, unit_id("NS"), TODAY).rows == ()
    assert people.people_count(secretary, outsider.branch_id, TODAY) == 0
    with pytest.raises(NotFound):
        cases.case_view(secretary, outsider.id, TODAY)
    # the district organiser sees the whole district, the commune organiser its commune
    assert len(branch_codes(who["organiser"])) > len(branch_codes(who["xa"])) > 1
    assert all(code.startswith("NS-NP") for code in branch_codes(who["xa"]))


def test_secretary_cannot_change_a_file_of_another_branch(who):
    secretary = who["secretary"]
    outsider = open_case_in(OWN, other_than=OWN)
    before = models.CaseFile.get_by_id(outsider.id).version
    for attempt in (lambda: pipeline.add_note(secretary, outsider.id, "x", today=TODAY),
                    lambda: pipeline.hold(secretary, outsider.id, "x", today=TODAY),
                    lambda: pipeline.close(secretary, outsider.id, "withdrawn", TODAY, "x", today=TODAY),
                    lambda: pipeline.undo_last(secretary, outsider.id, "x", TODAY)):
        with pytest.raises(NotFound):
            attempt()
    with pytest.raises(NotFound):
        pipeline.open_case(secretary, outsider.branch_id,
                           {"full_name": "Lường Thị Thử", "sex": "F", "born": "01/01/2000"}, TODAY)
    assert models.CaseFile.get_by_id(outsider.id).version == before


def test_export_and_import_keep_to_the_scope(who):
    secretary = who["secretary"]
    documents = transfer.export_cases(secretary, None, TODAY)
    assert documents and {d["branch"] for d in documents} <= {OWN, find_unit(secretary, OWN, TODAY).name}
    with pytest.raises(NotFound):
        transfer.export_cases(secretary, unit_id("NS"), TODAY)
    # a district file imported by the secretary: into another branch it is refused
    district_doc = transfer.export_case(who["admin"], open_case_in(OWN, other_than=OWN).id, TODAY)
    report = transfer.import_cases(secretary, [district_doc], TODAY)
    assert report.rejected and not report.imported
    report = transfer.import_cases(secretary, [district_doc], TODAY,
                                   branch_id=open_case_in(OWN, other_than=OWN).branch_id)
    assert report.rejected and report.files[0].problems[0].code == "not_found"


def test_audit_entries_keep_to_the_scope(who):
    own_case = open_case_in(OWN)
    other = open_case_in(OWN, other_than=OWN)
    pipeline.add_note(who["admin"], own_case.id, "own", today=TODAY)
    pipeline.add_note(who["admin"], other.id, "other", today=TODAY)
    seen = audit.entries(who["secretary"], TODAY)
    assert {e.entity_id for e in seen if e.action == "note"} == {own_case.id}
    assert all(e.unit_id in subtree_ids(who["secretary"], unit_id(OWN), TODAY) for e in seen)
    assert audit.entries(who["secretary"], TODAY, unit_id=unit_id("NS")) == []
    assert {e.entity_id for e in audit.entries(who["admin"], TODAY) if e.action == "note"} == {own_case.id, other.id}
    with pytest.raises(AccessError):
        audit.entries(who["viewer"], TODAY)


# --- the viewer: read-only, no background ----------------------------------------------------

def test_viewer_sees_no_background_anywhere(who):
    viewer = who["viewer"]
    case = models.CaseFile.select().join(models.Person).where(
        models.Person.citizen_id.is_null(False) & models.CaseFile.is_open()).first()
    person = case.person
    view = cases.case_view(viewer, case.id, TODAY)
    assert view.background_hidden and view.person.full_name == person.full_name
    assert (view.person.born, view.person.citizen_id, view.person.phone, view.person.ethnicity,
            view.person.residence) == (None, None, None, None, None)
    held = open_case_in(OWN)
    pipeline.hold(who["admin"], held.id, "Chờ thẩm tra lý lịch", today=TODAY)
    held_view = cases.case_view(viewer, held.id, TODAY)
    assert held_view.status == "on_hold" and held_view.hold_reason is None
    assert all(e.reason is None for e in held_view.events)
    assert cases.find(viewer, person.citizen_id, TODAY) == []  # an ID finds nobody
    found = cases.find(viewer, person.full_name, TODAY)
    assert found and all(r.born is None for r in found)
    page = people.people_page(viewer, case.branch_id, TODAY)
    assert page.rows and all(row.born is None for row in page.rows)
    with pytest.raises(AccessError):
        transfer.export_cases(viewer, None, TODAY)
    with pytest.raises(AccessError):
        transfer.export_case(viewer, case.id, TODAY)
    with pytest.raises(AccessError):
        transfer.import_cases(viewer, [], TODAY)
    with pytest.raises(AccessError):
        pipeline.add_note(viewer, case.id, "x", today=TODAY)
    # and nothing of this was logged as a background view: the viewer saw none
    assert not models.AuditEntry.select().where(models.AuditEntry.action == "view_background").exists()


def test_opening_a_background_is_logged_once_per_opening(who):
    case = open_case_in(OWN)
    E = models.AuditEntry
    cases.case_view(who["secretary"], case.id, TODAY)
    cases.case_view(who["secretary"], case.id, TODAY, log=False)
    [entry] = E.select().where(E.action == "view_background")
    assert (entry.account_id, entry.person_id, entry.unit_id, entry.entity, entry.entity_id) == (
        who["secretary"].account_id, case.person_id, case.branch_id, "case_file", case.id)
    # so the file's history and the person's both show it
    assert [e.action for e in audit.entries(who["admin"], TODAY, case_id=case.id)] == ["view_background"]
    assert [e.action for e in audit.entries(who["admin"], TODAY, person_id=case.person_id)] == ["view_background"]


def test_only_organisers_and_admins_override_warnings(who):
    from db.access import may_override

    assert may_override(who["organiser"]) and may_override(who["admin"])
    assert not may_override(who["secretary"]) and not may_override(who["viewer"])


# --- accounts --------------------------------------------------------------------------------

def test_accounts_are_for_administrators(who):
    with pytest.raises(AccessError):
        accounts.add(who["organiser"], "mai", "viewer", unit_id("NS"))
    with pytest.raises(AccessError):
        accounts.list_accounts(who["secretary"])
    assert not models.Account.select().where(models.Account.name == "mai").exists()


def test_account_rules(who):
    admin = who["admin"]
    with pytest.raises(accounts.AccountError) as refused:
        accounts.add(admin, "mai", "secretary", unit_id("NS-NP"))
    assert refused.value.code == "not_a_branch"
    with pytest.raises(accounts.AccountError) as refused:
        accounts.add(admin, "mai", "viewer", None)
    assert refused.value.code == "needs_unit"
    with pytest.raises(accounts.AccountError) as refused:
        accounts.add(admin, "Mai Hoa", "viewer", unit_id("NS"))
    assert refused.value.code == "bad_value"
    accounts.add(admin, "mai", "secretary", unit_id(OWN), full_name="Hoàng Thị Mai")
    assert account_actor("mai").unit_id == unit_id(OWN)
    accounts.set_role(admin, "mai", "organiser", unit_id("NS-NP"))
    assert account_actor("mai").role == "organiser"
    accounts.set_disabled(admin, "mai")
    with pytest.raises(AccessError) as refused:
        account_actor("mai")
    assert refused.value.code == "no_account"
    with pytest.raises(accounts.AccountError) as refused:
        accounts.set_disabled(admin, "demo_admin")
    assert refused.value.code == "self"
    actions = [e.action for e in models.AuditEntry.select().order_by(models.AuditEntry.id)]
    assert actions[-3:] == ["account_add", "account_role", "account_disable"]


def test_the_last_administrator_stays(empty_db):
    from db.access import ensure_admin

    only, _ = ensure_admin("solo")
    second, _ = ensure_admin("other")
    accounts.set_disabled(only, "other")
    with pytest.raises(accounts.AccountError) as refused:
        accounts.set_role(only, "solo", "viewer", None)
    assert refused.value.code in ("last_admin", "needs_unit")


# --- who is acting ---------------------------------------------------------------------------

def test_user_option_is_for_admins_service_account_and_demo(who):
    accounts.add(who["admin"], "mai", "secretary", unit_id(OWN))
    with pytest.raises(AccessError) as refused:
        resolve_actor("demo_admin", login="mai")
    assert refused.value.code == "forbidden"
    assert resolve_actor("mai", login="demo_admin").name == "mai"  # an admin may
    assert resolve_actor("mai", login="svc", forced_command=True).name == "mai"
    assert resolve_actor("demo_admin", login="mai", demo=True).name == "demo_admin"
    with pytest.raises(AccessError) as refused:
        resolve_actor(None, login="nobody")
    assert refused.value.code == "no_account"


def test_the_service_account_is_the_database_owner_unless_configured(tmp_path, monkeypatch):
    import pwd

    path = tmp_path / "x.sqlite3"
    path.write_bytes(b"")
    monkeypatch.setattr(connection, "SYSTEM_CONFIG", tmp_path / "none.toml")
    monkeypatch.setattr(connection, "user_config_file", lambda: tmp_path / "user.toml")
    assert connection.service_account(str(path)) == pwd.getpwuid(os.getuid()).pw_name
    (tmp_path / "user.toml").write_text('service_account = "ketnap"\n')
    assert connection.service_account(str(path)) == "ketnap"


@pytest.mark.parametrize("typed, code", [
    ("--user demo_admin whoami", "forbidden"),
    ("--db /tmp/other.sqlite3 whoami", "forbidden"),
    ("--today=2020-01-01 whoami", "forbidden"),
    ("demo --force", "forbidden"),
    ("export cases -o /tmp/x.json", "forbidden"),
    ("import /etc/passwd", "forbidden"),
])
def test_a_forced_command_refuses_what_the_client_may_not_choose(demo_db, monkeypatch, capsys, typed, code):
    monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 5000 127.0.0.1 22")
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", typed)
    monkeypatch.setattr(cli, "os_login", lambda: "svc")
    status = cli.main(["--db", demo_db, "--user", "demo_secretary"])
    out, err = capsys.readouterr()
    assert status == 1 and "demo_admin" not in out
    assert not os.path.exists("/tmp/x.json") or "x.json" not in typed
    connection.open_database(demo_db)
    assert models.Person.select().count() > 1000  # demo --force did not run


def test_a_forced_command_runs_what_the_client_asked_as_its_own_account(demo_db, monkeypatch, capsys):
    monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 5000 127.0.0.1 22")
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "ketnap whoami --json")
    assert cli.main(["--db", demo_db, "--user", "demo_secretary"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["name"], doc["role"], doc["unit"]["code"]) == ("demo_secretary", "secretary", OWN)


# --- the CLI, out of scope -------------------------------------------------------------------

def run_json(capsys, *args):
    status = cli.main([str(a) for a in args] + ["--json"])
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_cli_out_of_scope(demo_db, capsys, tmp_path):
    outsider = open_case_in(OWN, other_than=OWN)
    user = ("--db", demo_db, "--user", "demo_secretary")
    status, doc = run_json(capsys, *user, "case", "show", outsider.id)
    assert status == 1 and doc["error"]["code"] == "not_found"
    status, doc = run_json(capsys, *user, "worklist")
    assert status == 0 and doc["items"] and {i["branch"]["code"] for i in doc["items"]} == {OWN}
    status, doc = run_json(capsys, *user, "find", outsider.person.full_name)
    assert all(r["branch"]["code"] == OWN for r in doc["results"] if r["branch"])
    status, doc = run_json(capsys, *user, "audit", "--unit", "NS")
    assert status == 1 and doc["error"]["code"] in ("unknown_unit", "not_found")
    status, doc = run_json(capsys, *user, "users", "list")
    assert status == 1 and doc["error"]["code"] == "forbidden"
    out = tmp_path / "v.json"
    status = cli.main(["--db", demo_db, "--user", "demo_viewer", "export", "cases", "-o", str(out)])
    assert status == 1 and not out.exists()
    status = cli.main(["--db", demo_db, "--user", "demo_secretary", "export", "cases", "-o", str(out)])
    assert status == 0 and out.stat().st_mode & 0o077 == 0
    exported = json.loads(out.read_text())
    assert exported and all(d["branch"] in (OWN, find_unit(account_actor("demo_admin"), OWN, TODAY).name)
                            for d in exported)
    connection.open_database(demo_db)
    [entry] = models.AuditEntry.select().where(models.AuditEntry.action == "export")
    assert json.loads(entry.after)["destination"] == str(out) and json.loads(entry.after)["files"] == len(exported)


# --- the audit chain -------------------------------------------------------------------------

@pytest.fixture
def chained(who):
    """A few chained entries and the head file, written as ketnap writes them."""
    case = open_case_in(OWN)
    for text in ("một", "hai", "ba"):
        pipeline.add_note(who["admin"], case.id, text, today=TODAY)
    report = audit.verify()
    assert report.ok and report.first_broken is None and report.head_problem is None
    return demo_db_path()


def demo_db_path() -> str:
    return models.database.obj.database  # a file, or the server's URL


def raw(path: str, *statements: str) -> None:
    """Change the database by hand, as somebody with the file and the sqlite3 shell (or the
    server's psql) could."""
    connection.close_database()
    if connection.is_server_url(path):
        import psycopg

        con = psycopg.connect(path)
        on = " ON audit_entry"
    else:
        con = sqlite3.connect(path)
        on = ""
    con.execute(f"DROP TRIGGER IF EXISTS audit_entry_no_update{on}")
    con.execute(f"DROP TRIGGER IF EXISTS audit_entry_no_delete{on}")
    for sql in statements:
        con.execute(sql)
    con.commit()
    con.close()
    connection.open_database(path)


def test_entries_cannot_be_changed_through_sql_while_the_triggers_stand(chained):
    with pytest.raises(Exception, match="append-only"):
        models.AuditEntry.update(action="x").where(models.AuditEntry.id == 2).execute()
    with pytest.raises(Exception, match="append-only"):
        models.AuditEntry.delete().where(models.AuditEntry.id == 2).execute()


def test_an_entry_edited_by_hand_is_reported(chained, capsys):
    raw(chained, "UPDATE audit_entry SET after = '{\"text\": \"sửa\"}' WHERE id = 2")
    report = audit.verify()
    assert (report.first_broken, report.broken_reason) == (2, "hash")
    status = cli.main(["--db", chained, "--lang", "en", "check"])
    out = capsys.readouterr().out
    assert status == 1 and "breaks at entry 2" in out and "triggers were removed" in out


def test_a_removed_entry_is_reported(chained):
    raw(chained, "DELETE FROM audit_entry WHERE id = 2")
    report = audit.verify()
    assert (report.first_broken, report.broken_reason) == (2, "missing")


HEAD_FILE = "the head file lives beside a SQLite file; a server's database has none yet"


@pytest.mark.sqlite_only(HEAD_FILE)
def test_a_chain_recomputed_inside_the_database_is_caught_by_the_head_file(chained, capsys):
    # rewrite an entry and recompute every hash after it, as a careful forger would
    connection.close_database()
    con = sqlite3.connect(chained)
    con.execute("DROP TRIGGER audit_entry_no_update")
    con.execute("UPDATE audit_entry SET after = '{\"text\": \"giả\"}' WHERE id = 2")
    prev = None
    rows = con.execute("SELECT id, at, account_id, action, entity, entity_id, unit_id, person_id, "
                       "before, after FROM audit_entry ORDER BY id").fetchall()
    for entry_id, at, *fields in rows:
        digest = audit.digest(entry_id, audit.parse_stamp(at), *fields, prev)
        con.execute("UPDATE audit_entry SET prev_hash = ?, hash = ? WHERE id = ?", (prev, digest, entry_id))
        prev = digest
    con.commit()
    con.close()
    connection.open_database(chained)
    connection.install_append_only(models.database.obj)  # and the triggers put back
    report = audit.verify()
    assert report.first_broken is None and report.head_problem == "mismatch" and not report.ok
    status = cli.main(["--db", chained, "--lang", "en", "check", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert status == 1 and doc["audit"]["head_problem"] == "mismatch"


@pytest.mark.sqlite_only(HEAD_FILE)
def test_entries_cut_from_the_end_are_caught_by_the_head_file(chained):
    last = models.AuditEntry.select().order_by(models.AuditEntry.id.desc()).first().id
    raw(chained, f"DELETE FROM audit_entry WHERE id = {last}")
    report = audit.verify()
    assert report.first_broken is None and report.head_problem == "gone"


@pytest.mark.sqlite_only(HEAD_FILE)
def test_a_rolled_back_change_leaves_no_head_behind(chained):
    head_before = audit.read_head(audit.head_path())
    with pytest.raises(RuntimeError):
        with connection.write_transaction():
            audit.record(account_actor("demo_admin"), "note", "case_file", None, None, {"x": 1}, None)
            raise RuntimeError("stop")
    assert audit.read_head(audit.head_path()) == head_before
    assert audit.verify().ok


def test_two_processes_writing_at_once_keep_one_unbroken_chain(demo_db):
    """Each change takes the chain's last entry under the write lock; the head file only moves
    forward, whichever process writes it last."""
    import subprocess
    import sys

    case_id = open_case_in(OWN).id
    connection.close_database()
    script = (
        "import sys, datetime\n"
        "from db import connection, pipeline\n"
        "from db.access import account_actor\n"
        "connection.open_database(sys.argv[1])\n"
        "actor = account_actor('demo_admin')\n"
        "for n in range(25):\n"
        "    pipeline.add_note(actor, int(sys.argv[2]), f'{sys.argv[3]} {n}', today=datetime.date(2021, 9, 30))\n"
    )
    workers = [subprocess.Popen([sys.executable, "-c", script, demo_db, str(case_id), name])
               for name in ("một", "hai")]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    connection.open_database(demo_db)
    report = audit.verify()
    assert report.ok and report.head_problem is None and report.first_broken is None
    notes = models.AuditEntry.select().where(models.AuditEntry.action == "note").count()
    assert notes == 50 and report.entries == models.AuditEntry.select().count()
    if not connection.is_postgres():  # (a server's database has no head file)
        assert report.head[0] == models.AuditEntry.select().count()
