"""`ketnap backup`, `ketnap restore` and the rule check of `ketnap check` (db/backup.py,
db/rules_check.py, tui/cli_backup.py).

Processes that write or hold the database run as real subprocesses and talk through pipes: each
says when it has started and runs until told to stop, so no test waits on a clock.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playhouse.migrations import Runner

from db import audit, backup, connection, models, pipeline, rules_check
from tui import cli, i18n

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("--user", "demo_admin")
TODAY = datetime.date(2021, 9, 30)


# backup and restore of a SQLite file (on PostgreSQL, backup is pg_dump: tests/test_postgres.py)
SQLITE_FILE = pytest.mark.sqlite_only("a SQLite file's backup and restore")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for name in ("KETNAP_DB", "KETNAP_LANG", "KETNAP_USER", "KETNAP_TODAY", "SSH_CONNECTION",
                 "SSH_ORIGINAL_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(connection, "SYSTEM_CONFIG", tmp_path / "no-etc" / "ketnap.toml")
    monkeypatch.setattr(connection, "user_config_file", lambda: tmp_path / "no-home" / "ketnap.toml")
    monkeypatch.setattr(cli, "os_login", lambda: "tester")
    monkeypatch.setenv("COLUMNS", "200")
    yield
    i18n.set_language("vi")


@pytest.fixture
def demo(demo_db):
    """The demo copy with its head file (the session's template is copied without it), and no
    connection of this process open on it."""
    audit.write_current_head()
    connection.close_database()
    return demo_db if connection.is_server_url(demo_db) else Path(demo_db)


def run(capsys, *args):
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys, *args):
    status, out, err = run(capsys, *args, "--json")
    return status, json.loads(out)


def _environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KETNAP_", "SSH_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _program(*args):
    return subprocess.run([sys.executable, "-m", "tui.cli", *map(str, args)], cwd=ROOT, env=_environment(),
                          capture_output=True, text=True, timeout=120)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count_notes(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM audit_entry WHERE action = 'note'").fetchone()[0]
    finally:
        con.close()


def first_open_case(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT min(id) FROM case_file WHERE status = 'open'").fetchone()[0]
    finally:
        con.close()


# A process that adds notes to a file (through db, as the application does) until a line comes on
# its standard input; it prints "started" after its first note and the count when it stops.
WRITER = """
import datetime, select, sys
from db import connection, pipeline
from db.access import account_actor
connection.open_database(sys.argv[1])
actor = account_actor("demo_admin")
n = 0
while True:
    pipeline.add_note(actor, int(sys.argv[2]), f"ghi chú {n}", today=datetime.date(2021, 9, 30))
    n += 1
    if n == 1:
        print("started", flush=True)
    if select.select([sys.stdin], [], [], 0)[0]:
        break
print(n, flush=True)
"""

# A process that opens the database and holds it (idle, or inside a write transaction) until a line
# comes on its standard input.
HOLDER = """
import sys
from db import connection, models
connection.open_database(sys.argv[1])
models.Person.select().count()
if sys.argv[2] == "write":
    models.database.obj.execute_sql("BEGIN IMMEDIATE")
    models.database.obj.execute_sql("UPDATE setting SET value = value WHERE key = 'today'")
print("holding", flush=True)
sys.stdin.readline()
"""


def start(script: str, *args) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=ROOT, env=_environment(),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    first = process.stdout.readline().strip()
    assert first in ("started", "holding"), first
    return process


def stop(process: subprocess.Popen) -> str:
    out, _ = process.communicate("stop\n", timeout=120)
    assert process.returncode == 0
    return out.strip()


# --- backup -------------------------------------------------------------------------------------

@SQLITE_FILE
def test_backup_while_another_process_writes(demo, tmp_path, capsys, monkeypatch):
    # small steps: the copy takes many, and the writer's commits fall between them (SQLite then
    # starts the copy again; after a few restarts it is taken in one step)
    monkeypatch.setattr(backup, "STEP_PAGES", 8)
    case_id = first_open_case(demo)
    before = count_notes(demo)
    writer = start(WRITER, demo, case_id)
    try:
        target = tmp_path / "copy" / "ketnap-backup.sqlite3"
        target.parent.mkdir()
        status, doc = run_json(capsys, "--db", demo, *ADMIN, "backup", target)
        written_while_copying = count_notes(demo)
    finally:
        notes = int(stop(writer))
    assert status == 0, doc
    assert doc["ok"] and doc["path"] == str(target) and doc["files"] > 1000 and doc["people"] > 1000
    assert doc["size"] == target.stat().st_size
    # a snapshot from the middle of the writing: notes from before, not all of those after
    in_backup = count_notes(target)
    assert before < in_backup <= written_while_copying <= before + notes
    assert target.stat().st_mode & 0o777 == 0o600
    head = Path(f"{target}.audit-head")
    assert head.stat().st_mode & 0o777 == 0o600 and doc["head"] == str(head)
    assert not [p for p in target.parent.iterdir() if p.name not in (target.name, head.name)]
    # the backup is one self-contained file that opens, and its check passes
    assert not Path(f"{target}-wal").exists()
    done = _program("--db", target, *ADMIN, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    # the live database is still whole too
    assert _program("--db", demo, *ADMIN, "check").returncode == 0


@SQLITE_FILE
def test_backup_text_refuses_an_existing_file_unless_forced(demo, tmp_path, capsys):
    target = tmp_path / "b.sqlite3"
    status, out, _ = run(capsys, "--db", demo, *ADMIN, "--lang", "en", "backup", target)
    assert status == 0
    assert f"Backup written to {target}:" in out and "files." in out
    assert f"{target}.audit-head" in out
    first = digest(target)
    status, _, err = run(capsys, "--db", demo, *ADMIN, "--lang", "en", "backup", target)
    assert status == 1 and "exists" in err and "--force" in err
    assert digest(target) == first
    status, out, _ = run(capsys, "--db", demo, *ADMIN, "backup", target, "--force")
    assert status == 0 and "Đã sao lưu" in out
    status, doc = run_json(capsys, "--db", demo, *ADMIN, "backup", demo)
    assert status == 1 and doc["error"]["code"] == "same_file"


@SQLITE_FILE
def test_backup_and_restore_are_for_administrators(demo, tmp_path, capsys):
    target = tmp_path / "b.sqlite3"
    status, doc = run_json(capsys, "--db", demo, "--user", "demo_organiser", "backup", target)
    assert status == 1 and doc["error"]["code"] == "forbidden"
    assert not target.exists()
    assert run(capsys, "--db", demo, *ADMIN, "backup", target)[0] == 0
    before = digest(demo)
    status, doc = run_json(capsys, "--db", demo, "--user", "demo_organiser", "restore", target)
    assert status == 1 and doc["error"]["code"] == "forbidden"
    assert digest(demo) == before and not list(demo.parent.glob("*.replaced-*"))


@pytest.mark.parametrize("typed", ["backup /tmp/ketnap-x.sqlite3", "restore /tmp/ketnap-x.sqlite3"])
def test_backup_and_restore_are_refused_over_ssh(demo, monkeypatch, capsys, typed):
    monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 5000 127.0.0.1 22")
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", typed)
    status, _, err = run(capsys, "--db", demo, *ADMIN)
    assert status == 1 and "SSH" in err
    assert not Path("/tmp/ketnap-x.sqlite3").exists() or typed.startswith("restore")


# --- restore ------------------------------------------------------------------------------------

@pytest.fixture
def saved(demo, tmp_path, capsys):
    """A backup of the demo, then one more note in the live database (not in the backup)."""
    target = tmp_path / "saved" / "b.sqlite3"
    target.parent.mkdir()
    assert run(capsys, "--db", demo, *ADMIN, "backup", target)[0] == 0
    connection.open_database(str(demo))
    from db.access import account_actor

    pipeline.add_note(account_actor("demo_admin"), first_open_case(demo), "sau khi sao lưu", today=TODAY)
    connection.close_database()
    return target


@SQLITE_FILE
def test_restore_keeps_the_replaced_database_and_checks_the_restored_one(demo, saved, capsys):
    backup_bytes = digest(saved)
    notes_now = count_notes(demo)
    status, out, err = run(capsys, "--db", demo, *ADMIN, "--lang", "en", "restore", saved)
    assert status == 0, out + err
    kept = list(demo.parent.glob("demo.sqlite3.replaced-*"))
    kept_db = [p for p in kept if not p.name.endswith(".audit-head")]
    assert len(kept_db) == 1 and Path(f"{kept_db[0]}.audit-head").exists()
    assert f"kept as {kept_db[0]}" in out and "Checking the restored database" in out
    assert "Check done: no problems." in out
    # the kept one is the database as it was (with the note taken after the backup)
    assert count_notes(kept_db[0]) == notes_now
    assert count_notes(demo) == notes_now - 1
    assert digest(saved) == backup_bytes and Path(f"{saved}.audit-head").exists()  # copied, not moved
    assert demo.stat().st_mode & 0o777 == 0o600
    assert not list(demo.parent.glob(".demo.sqlite3.restore-*"))
    done = _program("--db", demo, *ADMIN, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    # and the kept one still checks as itself
    assert _program("--db", kept_db[0], *ADMIN, "check").returncode == 0


@SQLITE_FILE
def test_restore_json(demo, saved, capsys):
    status, doc = run_json(capsys, "--db", demo, *ADMIN, "restore", saved)
    assert status == 0 and doc["ok"] and doc["check"]["ok"]
    assert doc["kept"].startswith(f"{demo}.replaced-") and doc["kept_head"] == doc["kept"] + ".audit-head"
    assert doc["files"] > 1000 and doc["migrated"] == [] and doc["head_checked"]


@SQLITE_FILE
@pytest.mark.parametrize("how", ["idle", "write"])
def test_restore_is_refused_while_another_process_has_the_database_open(demo, saved, capsys, how):
    holder = start(HOLDER, demo, how)
    try:
        before = digest(demo)
        status, doc = run_json(capsys, "--db", demo, *ADMIN, "restore", saved)
        assert status == 1 and doc["error"]["code"] == "sessions_open"
        assert str(holder.pid) in doc["error"]["message"]
        assert digest(demo) == before
        assert not list(demo.parent.glob("*.replaced-*")) and not list(demo.parent.glob(".*restore*"))
    finally:
        stop(holder)
    # once it has gone, the restore goes ahead
    status, doc = run_json(capsys, "--db", demo, *ADMIN, "restore", saved)
    assert status == 0 and doc["check"]["ok"]


@SQLITE_FILE
@pytest.mark.parametrize("damage", ["truncated", "random", "not_ketnap", "chain", "no_head"])
def test_restore_refuses_a_bad_file_and_changes_nothing(demo, saved, tmp_path, capsys, damage):
    bad = tmp_path / "bad.sqlite3"
    expected = {"truncated": ("corrupt", "not_sqlite"), "random": ("not_sqlite",),
                "not_ketnap": ("not_a_database",), "chain": ("chain",), "no_head": ("head_missing",)}[damage]
    data = saved.read_bytes()
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 3])
    elif damage == "random":
        bad.write_bytes(os.urandom(64 * 1024))
    elif damage == "not_ketnap":
        con = sqlite3.connect(bad)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
    else:
        shutil.copy(saved, bad)
        if damage == "chain":
            shutil.copy(f"{saved}.audit-head", f"{bad}.audit-head")
            con = sqlite3.connect(bad)
            con.execute("DROP TRIGGER audit_entry_no_update")
            con.execute("UPDATE audit_entry SET after = '{}' WHERE id = 1")
            con.commit()
            con.close()
    before = digest(demo)
    status, doc = run_json(capsys, "--db", demo, *ADMIN, "restore", bad)
    assert status == 1 and doc["error"]["code"] in expected, doc
    assert digest(demo) == before
    assert not list(demo.parent.glob("*.replaced-*")) and not list(demo.parent.glob(".*restore*"))
    if damage == "no_head":  # a copy that never had a head file may be accepted, on request
        status, out, _ = run(capsys, "--db", demo, *ADMIN, "--lang", "en", "restore", bad,
                             "--accept-missing-head")
        assert status == 0 and "checked against itself only" in out and "no problems" in out


@SQLITE_FILE
def test_an_older_backup_is_migrated_after_restoring(demo, tmp_path, capsys):
    older_migrations = tmp_path / "migrations"
    older_migrations.mkdir()
    known = sorted(p for p in connection.MIGRATIONS.glob("0*.py"))
    for path in known[:-1]:
        shutil.copy(path, older_migrations)
    old = tmp_path / "old.sqlite3"
    database = connection.make_database(str(old))
    models.database.initialize(database)
    Runner(database, str(older_migrations)).up()
    database.execute_sql(
        "INSERT INTO unit (code, name, name_folded, level, org_type, category, founded, mountain, "
        "sort_order) VALUES ('OLD', 'Đảng bộ cũ', 'dang bo cu', 'province', 'committee', "
        "'territorial', '2000-01-01', 0, 0)")
    database.close()
    connection.close_database()
    status, doc = run_json(capsys, "--db", demo, *ADMIN, "restore", old)
    assert status == 0, doc
    assert doc["migrated"] == [known[-1].stem] and doc["check"]["ok"]
    con = sqlite3.connect(demo)
    assert con.execute("SELECT code FROM unit").fetchall() == [("OLD",)]
    con.close()


@SQLITE_FILE
def test_a_backup_from_a_newer_version_is_refused(demo, saved, capsys):
    con = sqlite3.connect(saved)
    con.execute("INSERT INTO schema_migration (name, applied) VALUES ('9999_from_the_future', '2030-01-01')")
    con.commit()
    con.close()
    status, doc = run_json(capsys, "--db", demo, *ADMIN, "restore", saved)
    assert status == 1 and doc["error"]["code"] == "newer_schema"
    assert "9999_from_the_future" in doc["error"]["message"]


# --- the rule check -----------------------------------------------------------------------------

def test_the_demo_satisfies_the_rules_quickly(demo, capsys):
    started = time.perf_counter()
    status, doc = run_json(capsys, "--db", demo, *ADMIN, "check")
    elapsed = time.perf_counter() - started
    assert status == 0 and doc["ok"]
    connection.open_database(str(demo))
    files = models.CaseFile.select().count()
    connection.close_database()
    assert doc["rules"] == {"files_checked": files, "broken": []}
    assert elapsed < 15, f"check took {elapsed:.1f} s"
    status, out, _ = run(capsys, "--db", demo, *ADMIN, "check")
    assert status == 0 and f"các bước đã ghi của {i18n.number(files)} hồ sơ" in out


def _steps(stage: str, other_than: int = 0) -> tuple[int, int]:
    """(case, seq) of a live step at `stage` that has a step after it (not of file `other_than`)."""
    S = models.Step
    later = S.alias()
    row = (S.select(S.case, S.seq).join(later, on=((later.case == S.case) & (later.seq == S.seq + 1)))
           .where((S.stage == stage) & S.undone_at.is_null() & later.undone_at.is_null()
                  & (S.case != other_than))
           .order_by(S.case).first())
    return row.case_id, row.seq


def test_a_step_edited_to_break_a_rule_is_reported(demo, capsys):
    connection.open_database(str(demo))
    S, R = models.Step, models.Resolution
    vote_case, vote_seq = _steps("branch_approved")
    step = S.get((S.case == vote_case) & (S.seq == vote_seq))
    R.update(votes_for=1).where((R.step == step.id) & (R.kind == "branch_resolution")).execute()
    date_case, date_seq = _steps("dossier", other_than=vote_case)
    previous = S.get((S.case == date_case) & (S.seq == date_seq - 1))
    S.update(date=previous.date - datetime.timedelta(days=3)).where(
        (S.case == date_case) & (S.seq == date_seq)).execute()
    connection.close_database()
    status, doc = run_json(capsys, "--db", demo, *ADMIN, "check")
    assert status == 1 and not doc["ok"]
    broken = {(b["case_id"], b["seq"]): (b["stage"], b["codes"]) for b in doc["rules"]["broken"]}
    assert broken[(vote_case, vote_seq)] == ("branch_approved", ["vote_below_two_thirds"])
    assert broken[(date_case, date_seq)] == ("dossier", ["date_order"])
    assert set(broken) == {(vote_case, vote_seq), (date_case, date_seq)}
    status, out, _ = run(capsys, "--db", demo, *ADMIN, "--lang", "en", "check")
    assert status == 1
    assert f"file {vote_case}, step {vote_seq} (" in out and "vote_below_two_thirds" in out
    assert "Rules: recorded steps that break a blocking rule (overridden warnings aside): 2, in 2 of" in out
    # a code recorded as overridden for that step is not reported
    connection.open_database(str(demo))
    models.CaseEvent.create(case=date_case, kind="override", date=TODAY, reason="đã xét",
                            details=json.dumps({"seq": date_seq, "codes": ["date_order"]}))
    report = rules_check.check_recorded_steps(TODAY)
    assert [(b.case_id, b.seq, b.codes) for b in report.broken] == [
        (vote_case, vote_seq, ("vote_below_two_thirds",))]
    # the reading of many files at once finds what the pipeline's own reading finds
    assert rules_check.check_file(vote_case, TODAY) == [b for b in report.broken if b.case_id == vote_case]
    connection.close_database()


def test_the_bulk_reading_equals_the_pipelines(demo):
    """rules_check.read_states reads what pipeline.read_state and stored_steps read (but the
    official members on vote days, which only a warning uses)."""
    connection.open_database(str(demo))
    try:
        tree = pipeline.UnitTree()
        ids = [c for (c,) in models.CaseFile.select(models.CaseFile.id).order_by(models.CaseFile.id).tuples()]
        seen = 0
        for case_id, state, steps in rules_check.read_states(ids, tree, pipeline.YOUTH_AGE_LIMIT):
            reference = pipeline.read_state(case_id, tree=tree)
            assert steps == pipeline.stored_steps(case_id)
            assert all(state.committee_on[d] == v for d, v in reference.committee_on.items())
            assert (dataclasses.replace(state, committee_on={}, official_members_on={})
                    == dataclasses.replace(reference, committee_on={}, official_members_on={})), case_id
            seen += 1
        assert seen == len(ids) > 1000
    finally:
        connection.close_database()
