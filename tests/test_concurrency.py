"""Two people changing the same file at once, and many processes writing one SQLite file.

A save carries the version of the file its author read; a file changed since is refused, with
who changed what, and nothing is written. Separate processes (not threads: each staff member runs
their own ketnap) write one database at once: every write they were told was saved is there
afterwards, and a writer killed in the middle of a transaction leaves the database intact.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db import connection, models, pipeline
from db.access import account_actor
from tests.test_cli import isolated, run_json  # noqa: F401  (isolated: autouse)
from tests.test_cli_case import open_case, state

ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.date(2021, 9, 30)  # the demo's today


def test_a_save_on_a_file_changed_since_it_was_read_is_refused_with_what_changed(demo_admin, demo_db):
    case = open_case("certified")
    seen = case.version
    organiser = account_actor("demo_organiser")
    pipeline.hold(organiser, case.id, "Chờ xác minh lý lịch", today=TODAY, expected_version=seen)
    before = state(case.id)
    with pytest.raises(pipeline.CaseChanged) as caught:
        pipeline.close(demo_admin, case.id, "withdrawn", TODAY, "Rút đơn", today=TODAY,
                       expected_version=seen)
    assert state(case.id) == before  # nothing written
    params = caught.value.params
    assert (params["seen"], params["current"]) == (seen, seen + 1)
    assert [(c["account"], c["action"]) for c in params["changes"]] == [("demo_organiser", "hold")]
    # having seen the change, the same save with the current version goes through
    view = pipeline.close(demo_admin, case.id, "withdrawn", TODAY, "Rút đơn", today=TODAY,
                          expected_version=params["current"])
    assert view.status == "closed" and view.version == seen + 2


def test_every_write_of_the_pipeline_checks_the_version(demo_admin, demo_db):
    case = open_case("certified")
    stale = case.version - 1
    writes = {
        "apply": lambda v: pipeline.apply(demo_admin, case.id, pipeline.StepInput("dossier", TODAY),
                                          TODAY, expected_version=v),
        "undo": lambda v: pipeline.undo_last(demo_admin, case.id, "Nhầm", TODAY, expected_version=v),
        "close": lambda v: pipeline.close(demo_admin, case.id, "withdrawn", TODAY, "Rút", today=TODAY,
                                          expected_version=v),
        "hold": lambda v: pipeline.hold(demo_admin, case.id, "Chờ", today=TODAY, expected_version=v),
        "release": lambda v: pipeline.release(demo_admin, case.id, today=TODAY, expected_version=v),
        "reopen": lambda v: pipeline.reopen(demo_admin, case.id, "Lại", today=TODAY, expected_version=v),
        "vote_failed": lambda v: pipeline.record_failed_vote(demo_admin, case.id, TODAY, (1, 3, 0), TODAY,
                                                             reason="Không đạt", expected_version=v),
    }
    before = state(case.id)
    for name, write in writes.items():
        with pytest.raises(pipeline.CaseChanged):
            write(stale)
        assert state(case.id) == before, name


def test_a_script_names_the_version_it_read(demo_admin, demo_db, capsys):
    case = open_case("certified")
    status, shown, _ = run_json(capsys, "--db", demo_db, "case", "show", case.id)
    assert status == 0 and shown["version"] == case.version
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "hold", case.id, "--reason", "Chờ",
                              "--expect-version", shown["version"])
    assert status == 0 and doc["status"] == "on_hold"
    status, doc, _ = run_json(capsys, "--db", demo_db, "case", "release", case.id,
                              "--expect-version", shown["version"])
    assert status == 1 and doc["error"]["code"] == "case_changed"
    assert "tester" in doc["error"]["message"] and doc["error"]["params"]["current"] == shown["version"] + 1
    assert models.CaseFile.get_by_id(case.id).on_hold  # not released


# --- several processes on one file --------------------------------------------------------

WRITER = r"""
import datetime, sys
from db import connection, pipeline
from db.access import account_actor
connection.open_database(sys.argv[1])
actor = account_actor("tester")
case_ids = [int(x) for x in sys.argv[2].split(",")]
deadline = float(sys.argv[3])
tag = sys.argv[4]
import time
n = 0
while time.time() < deadline:
    case_id = case_ids[n % len(case_ids)]
    text = f"{tag}-{n}"
    pipeline.add_note(actor, case_id, text, today=datetime.date(2021, 9, 30))
    print(text, flush=True)  # acknowledged: the transaction has committed
    n += 1
"""


def _python(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _notes() -> set[str]:
    E = models.CaseEvent
    return {r for (r,) in E.select(E.reason).where(E.kind == "note").tuples()}


def test_eight_writers_at_once_lose_no_acknowledged_write(demo_admin, demo_db):
    C = models.CaseFile
    case_ids = [c.id for c in C.select(C.id).where(C.status == "open").order_by(C.id).limit(5)]
    deadline = time.time() + 3
    writers = [_python(WRITER, demo_db, ",".join(map(str, case_ids)), str(deadline), f"w{i}")
               for i in range(8)]
    acknowledged: set[str] = set()
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err  # a "database is locked" would end a writer here
        acknowledged |= set(out.split())
    assert len(acknowledged) >= 8  # every writer got through at least once
    missing = acknowledged - _notes()
    assert not missing
    assert connection.integrity_problems() == []


KILLED = r"""
import datetime, sys
from db import connection, models, pipeline
from db.access import account_actor
connection.open_database(sys.argv[1])
actor = account_actor("tester")
case_id = int(sys.argv[2])
for n in range(5):
    pipeline.add_note(actor, case_id, f"saved-{n}", today=datetime.date(2021, 9, 30))
    print(f"saved-{n}", flush=True)
with connection.write_transaction():
    for n in range(200):
        models.CaseEvent.create(case=case_id, kind="note", date=datetime.date(2021, 9, 30),
                                reason=f"half-{n}")
    print("inside", flush=True)
    sys.stdin.readline()  # held open until the parent kills us
"""


def test_a_writer_killed_mid_transaction_leaves_every_earlier_write_and_nothing_of_its_own(demo_admin, demo_db):
    case_id = open_case("certified").id
    writer = _python(KILLED, demo_db, str(case_id), stdin=subprocess.PIPE)
    lines = []
    for line in writer.stdout:
        lines.append(line.strip())
        if line.strip() == "inside":
            break
    assert lines[-1] == "inside", writer.stderr.read()
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close(), writer.stderr.close(), writer.stdin.close()
    from db import connection

    connection.close_database()
    connection.open_database(demo_db)
    notes = _notes()
    assert {f"saved-{n}" for n in range(5)} <= notes
    assert not any(n.startswith("half-") for n in notes)
    assert connection.integrity_problems() == []
    # the audit chain and its head file still agree
    from tui import cli

    assert cli.main(["--db", demo_db, "check"]) == 0


# --- on the screens -----------------------------------------------------------------------

async def test_the_case_screen_refuses_a_hold_on_a_file_changed_meanwhile_and_shows_it(demo_db, demo_admin):
    from screens.case import CaseScreen
    from screens.dialogs import ReasonDialog
    from tests.ui_helpers import screen_text, settle
    from tui import i18n
    from tui.app import KetnapApp
    from tui.context import AppContext

    case_id = open_case("certified").id
    app = KetnapApp(AppContext(demo_db, demo_admin, TODAY, "vi"))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await app.push_screen(CaseScreen(app.context, case_id))
            await settle(pilot)
            screen = app.screen
            # meanwhile, in another office, the commune's organiser closes the file
            pipeline.close(account_actor("demo_organiser"), case_id, "withdrawn", TODAY, "Rút đơn",
                           today=TODAY)
            await pilot.press("o")
            await settle(pilot)
            assert isinstance(app.screen, ReasonDialog)
            await pilot.press(*"Cho xac minh", "enter")
            await settle(pilot)
            assert app.screen is screen
            text = screen_text(app)
            assert "Chưa lưu gì" in text and "người khác thay đổi" in text and "demo_organiser" in text
            assert screen.view.status == "closed"  # read again: the screen shows the file as it is
    finally:
        i18n.set_language("vi")
    case = models.CaseFile.get_by_id(case_id)
    assert (case.status, case.on_hold) == ("closed", False)  # the hold was not written


async def test_the_step_form_keeps_what_was_typed_when_the_file_changed_meanwhile(demo_db, demo_admin):
    from screens.step_form import StepForm
    from tests.ui_helpers import screen_text, settle
    from tui import i18n
    from tui.app import KetnapApp
    from tui.context import AppContext

    case = open_case("certified")
    app = KetnapApp(AppContext(demo_db, demo_admin, TODAY, "vi"))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            form = StepForm(app.context, case.id, case.stage, "", case.version)
            await app.push_screen(form)
            await settle(pilot)
            pipeline.hold(account_actor("demo_organiser"), case.id, "Chờ", today=TODAY)
            steps = models.Step.select().where(models.Step.case == case.id).count()
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is form  # not dismissed: nothing saved
            assert "người khác thay đổi" in screen_text(app)
            assert models.Step.select().where(models.Step.case == case.id).count() == steps
            assert form.version == case.version + 1  # told; a second save is a decision made knowing
    finally:
        i18n.set_language("vi")


# --- a read made useless by a later key --------------------------------------------------------

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT began() UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def _read_in_thread(stoppable: connection.Stoppable, sql: str, outcome: list, began=None):
    import threading

    def run() -> None:
        try:
            with stoppable:
                raw = models.database.connection()
                raw.create_function("began", 0, lambda: began.set() or 1)
                outcome.append(models.database.execute_sql(sql).fetchone()[0])
        except connection.Stopped:
            outcome.append("stopped")
        finally:
            connection.close_database()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.sqlite_only("SQLite's interrupt from another thread (PostgreSQL: the driver's cancel)")
def test_a_read_stopped_from_another_thread_ends_at_once_and_says_so(empty_db):
    """A count of what was typed before the last key (screens.behind) is stopped, not left to
    run for a second on a province: the statement ends in its thread, which is told why."""
    import threading

    began, outcome = threading.Event(), []
    reading = connection.Stoppable()
    thread = _read_in_thread(reading, ENDLESS, outcome, began)
    assert began.wait(30)
    reading.stop()
    thread.join(30)
    assert not thread.is_alive() and outcome == ["stopped"]
    # stopped before it started: it does not start
    early, outcome = connection.Stoppable(), []
    early.stop()
    _read_in_thread(early, "SELECT 1", outcome).join(30)
    assert outcome == ["stopped"]
    # a read that ended is not touched by a late stop, and its thread's next read runs
    done, outcome = connection.Stoppable(), []
    _read_in_thread(done, "SELECT began() + 1", outcome, threading.Event()).join(30)
    done.stop()
    assert outcome == [2]
    assert models.database.execute_sql("SELECT 41 + 1").fetchone()[0] == 42
