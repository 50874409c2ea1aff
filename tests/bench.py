"""`make bench`: figures measured against a baseline in the same run, never asserted in tests.

Start-up: from process start to the first screen ready for input (its workers done, the screen
refreshed), and the peak memory (VmHWM) at that moment, for ketnap and for an empty Textual app
measured the same way; then ketnap goes on to every screen a province administrator opens
(tests.bench_screens) and its peak memory is read again. Both run through
`App.run(headless=True)` with an auto-pilot that waits for the workers, so the two differ only in
what the apps do. `make bench` runs tests.bench_all, which prints these figures with all the others
in one table, for the demo and for synthetic provinces of 10,000 to 1,000,000 people.

    python -m tests.bench [--runs N] [--panel-people N]
    python -m tests.bench --synth N [--runs N]   (only: a synthetic province of N people)
    python -m tests.bench --search-only [--runs N]   (only: the search on the 1,000,000-person file)
    python -m tests.bench --panel-only [--runs N]   (only: the progress panels on that file)
    python -m tests.bench --pg URL --search-only|--panel-only [--panel-people N]
        (the same figures on PostgreSQL beside SQLite's: the synthetic province copied once with
        `ketnap migrate-to` into the database ketnap_bench_synth_N of the server at URL)

The progress panels are also measured on a synthetic province (1,000,000 people unless
--panel-people says otherwise; 0 skips it), built once into bench-synth-N.sqlite3 beside the
checkout (about three minutes and 1.2 GB for a million) and reused by later runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench_table import Figure, people_label, print_figures, under, within

ROOT = Path(__file__).resolve().parent.parent
DEMO_DB = ROOT / "bench-demo.sqlite3"


# --- probe: runs in a child process ---------------------------------------------------------

def peak_rss_kib() -> int:
    """This process's peak resident memory (KiB): VmHWM, the high-water mark of its own memory
    since it started. Not ru_maxrss: on Linux that keeps the parent's peak across fork and exec,
    so a probe started by a driver that has grown (after reading a million people) would report
    the driver's memory, the empty app's as well as ketnap's."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _patch_run_to_report_ready(every_screen: bool) -> None:
    import textual.app

    original = textual.app.App.run

    async def report_when_ready(pilot) -> None:
        # ready: no worker running, and the screen says its data is shown (an app whose screen
        # has no such flag is ready once it has drawn)
        while True:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            if getattr(pilot.app.screen, "ready_for_input", True):
                break
        rss_kib = peak_rss_kib()
        print(f"READY {rss_kib}", flush=True)
        if every_screen:
            from tests.bench_screens import visit_every_screen

            try:
                visited = await visit_every_screen(
                    pilot, on_shown=lambda name: print(f"SCREEN {peak_rss_kib()} {name}", flush=True))
            except Exception as exc:  # noqa: BLE001 - told to the driver, which stops
                print(f"FAILED {type(exc).__name__}: {exc}", flush=True)
            else:
                rss_kib = peak_rss_kib()
                print(f"SCREENS {rss_kib} {len(visited)} {'|'.join(visited)}", flush=True)
        pilot.app.exit()

    def run(self, *args, **kwargs):
        # the size a terminal gives from the start: left to itself the headless driver starts
        # at 80x25 and then resizes to 80x24, which no terminal does (for ketnap a second read
        # of the first page, sized for the new height)
        kwargs.update(headless=True, size=(80, 24), auto_pilot=report_when_ready)
        return original(self, *args, **kwargs)

    textual.app.App.run = run


def probe(kind: str, db_path: str) -> int:
    """`kind` "empty": the empty Textual app; "widgets": the first screen's widgets with no
    data (_widgets_app); "ketnap": ketnap on `db_path`, as `ketnap --db`
    opens it (as the login running it); "ketnap-screens": the same, then every screen in turn
    (tests.bench_screens), a line "SCREEN peak-KiB name" as each is shown, before the peak
    memory is read again."""
    _patch_run_to_report_ready(every_screen=kind == "ketnap-screens")
    if kind == "empty":
        from textual.app import App, ComposeResult
        from textual.widgets import Footer, Header, Label

        class EmptyApp(App):
            def compose(self) -> ComposeResult:
                yield Header()
                yield Label("ready")
                yield Footer()

        EmptyApp().run()
        return 0
    if kind == "widgets":
        _widgets_app().run()
        return 0
    from tui.cli import main

    return main(["--db", db_path])


def _widgets_app():
    """The first screen's widgets with no database behind them: a tree of 30 units each with a
    branch below, a line, a filter field, a table of 20 people in 5 columns, and a footer of 8
    keys. Its start-up against the empty app's is what Textual itself costs for such a screen,
    before ketnap reads or checks anything."""
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.containers import Horizontal, Vertical
    from textual.widgets import DataTable, Footer, Header, Input, Static, Tree

    class WidgetsApp(App):
        BINDINGS = [Binding(key, "bell", f"key {key}") for key in "abcdefgh"]

        def compose(self) -> ComposeResult:
            yield Header()
            with Horizontal():
                with Vertical():
                    tree = Tree("units")
                    tree.show_root = False
                    for n in range(30):
                        tree.root.add(f"Đảng ủy xã {n}").add_leaf(f"Chi bộ thôn {n}")
                    tree.root.expand()
                    yield tree
                    yield Static("Đảng ủy xã 0")
                with Vertical():
                    yield Static("Tất cả · dòng 1–20")
                    yield Input()
                    table = DataTable(cursor_type="row")
                    table.add_columns("", "Họ và tên", "Ngày sinh", "Tình trạng", "Chi bộ")
                    for n in range(20):
                        table.add_row("●", f"Nguyễn Văn {n}", "01/01/1990", "Chính thức", f"Thôn {n}")
                    yield table
            yield Footer()

    return WidgetsApp()


# --- driver -----------------------------------------------------------------------------------

def _measure(kind: str, db_path: str) -> tuple[float, int, int | None]:
    """Seconds to the first screen ready, peak memory then (KiB) and, for "ketnap-screens",
    after every screen (KiB); a probe that fails raises RuntimeError with what it said."""
    env = dict(os.environ, TERM="xterm-256color")
    if kind == "ketnap-screens":  # the branch the probe visits, found here, not in the app measured
        import sqlite3

        from tests.bench_screens import busiest_branch_sql

        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
            env["KETNAP_BENCH_BRANCH"] = str(db.execute(busiest_branch_sql()).fetchone()[0])
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench", "--probe", kind, db_path],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    elapsed = rss = None
    for line in proc.stdout:
        if line.startswith("READY "):
            elapsed = time.perf_counter() - started
            rss = int(line.split()[1])
            if kind != "ketnap-screens":
                break
        elif line.startswith("SCREENS "):
            proc.wait(timeout=60)
            return elapsed, rss, int(line.split()[1])
        elif line.startswith("FAILED "):
            proc.wait(timeout=60)
            raise RuntimeError(f"{kind} on {db_path}: {line[7:].strip()}")
    if elapsed is not None and kind != "ketnap-screens":
        proc.wait(timeout=60)
        return elapsed, rss, None
    proc.wait()
    raise RuntimeError(f"{kind} never became ready: {proc.stderr.read()[-2000:]}")


def _compile_once() -> None:
    """ketnap's bytecode written, as an installed ketnap has it: a process that may not write it
    (PYTHONDONTWRITEBYTECODE, a read-only checkout) would compile every changed module at each
    start, and the empty app's modules are compiled already."""
    import compileall

    for package in ("db", "screens", "tui"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def startup_figures(db_path: str, runs: int, people: int | None) -> list[Figure]:
    """Start-up to the first screen ready, peak memory then, and peak memory after every screen
    (tests.bench_screens), ketnap as the login running it (the administrator of a synthetic
    province) against the empty Textual app, median of `runs` interleaved runs each. Aims: on
    the demo 1.3x and 1.5x; on a synthetic province 1.5x, and 2x after every screen. Beside
    them, with no aim, the start-up of the first screen's widgets with no data (_widgets_app):
    the part of the ratio that is Textual's own."""
    results: dict[str, list[tuple[float, int, int | None]]] = {"empty": [], "ketnap-screens": [],
                                                              "widgets": []}
    _compile_once()
    _measure("empty", db_path)  # warm the file cache for both alike
    _measure("ketnap", db_path)
    for _ in range(runs):  # interleaved, so drift hits both alike
        for kind in results:
            results[kind].append(_measure(kind, db_path))

    def med(kind: str, index: int) -> float:
        return statistics.median(r[index] for r in results[kind])

    demo = people is None
    label = people_label(people)
    return [
        Figure("start-up to first screen ready", med("ketnap-screens", 0), med("empty", 0),
               "empty Textual app", "s", within(1.3 if demo else 1.5), label),
        Figure("  the first screen's widgets, no data", med("widgets", 0), med("empty", 0),
               "empty Textual app", "s", None, label),
        Figure("peak memory, first screen", med("ketnap-screens", 1) / 1024, med("empty", 1) / 1024,
               "empty Textual app", "MiB", within(1.5) if demo else None, label),
        Figure("peak memory after every screen", med("ketnap-screens", 2) / 1024, med("empty", 1) / 1024,
               "empty Textual app", "MiB", within(2.0), label),
    ]


def _ensure_demo() -> str:
    if not DEMO_DB.exists():
        subprocess.run([sys.executable, "-m", "tui.cli", "--db", str(DEMO_DB), "demo"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
    return str(DEMO_DB)


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def pipeline_figures(db_path: str, runs: int) -> list[tuple[str, float, float]]:
    """Checking and applying one step, and the district's work list, each against a bare SQL
    query of the same rows, on a private copy of the demo database (in this process)."""
    import datetime
    import shutil

    from db import connection, models, pipeline, worklist
    from db.access import account_actor, os_login
    from db.units import find_unit, subtree_ids

    copy = Path(tempfile.mkdtemp()) / "bench-pipeline.sqlite3"
    shutil.copy(db_path, copy)
    connection.open_database(str(copy))
    try:
        today = datetime.date(2021, 9, 30)
        actor = account_actor(os_login())
        district = find_unit(actor, "NS", today)
        sql = models.database.execute_sql
        C = models.CaseFile
        ready = []  # dossier files whose branch vote passes with a full vote
        for case in C.select().where((C.stage == "dossier") & C.is_open() & (C.on_hold == False)):  # noqa: E712
            members = pipeline.official_members(case.branch_id, today)
            step = pipeline.StepInput("branch_approved", today, resolution="1-NQ/CB",
                                      votes=(members, members, 0))
            if members and not pipeline.check(actor, case.id, step, today):
                ready.append((case.id, step))
        case_id, step = ready[0]

        def bare_read_file() -> None:  # the rows a check reads, fetched without the engine
            for table in ("step", "document", "introducer", "resolution"):
                column = "step_id" if table == "resolution" else "case_id"
                source = ("resolution JOIN step ON step.id = resolution.step_id"
                          if table == "resolution" else table)
                where = "step.case_id" if table == "resolution" else column
                sql(f"SELECT * FROM {source} WHERE {where} = ?", (case_id,)).fetchall()
            sql("SELECT * FROM case_file JOIN person ON person.id = case_file.person_id "
                "WHERE case_file.id = ?", (case_id,)).fetchall()

        figures = [("check one step (ms)", _median_ms(lambda: pipeline.check(actor, case_id, step, today), runs),
                    _median_ms(bare_read_file, runs))]

        pending = list(ready)

        def apply_next() -> None:
            cid, st = pending.pop()
            pipeline.apply(actor, cid, st, today)

        def bare_write() -> None:
            with connection.write_transaction():
                sql("INSERT INTO step (case_id, seq, stage, date, unit_id, extension, entered_at) "
                    "SELECT id, 1000 + version, 'bench', '2021-09-30', branch_id, 0, '2021-09-30' "
                    "FROM case_file WHERE id = ?", (case_id,))
                sql("UPDATE case_file SET version = version + 1 WHERE id = ?", (case_id,))

        apply_runs = max(1, min(runs, len(pending)))
        figures.append(("apply one step (ms)", _median_ms(apply_next, apply_runs),
                        _median_ms(bare_write, apply_runs)))

        ids = subtree_ids(actor, district.id, today)

        def bare_worklist_rows() -> None:
            marks = ",".join("?" * len(ids))
            sql(f"SELECT c.id, s.* FROM case_file c JOIN step s ON s.case_id = c.id "
                f"WHERE c.status = 'open' AND c.stage != 'official' AND c.branch_id IN ({marks})",
                ids).fetchall()
            sql(f"SELECT d.* FROM document d JOIN case_file c ON c.id = d.case_id "
                f"WHERE c.status = 'open' AND c.stage != 'official' AND c.branch_id IN ({marks})",
                ids).fetchall()

        figures.append(("work list of the district (ms)",
                        _median_ms(lambda: worklist.worklist(actor, district.id, today), runs),
                        _median_ms(bare_worklist_rows, runs)))

        from db import audit, cases

        # opening a file logs the background view (one chained audit entry, one commit, the
        # head file): against the same view without the entry
        figures.append(("open a file, view logged (ms)",
                        _median_ms(lambda: cases.case_view(actor, case_id, today), runs),
                        _median_ms(lambda: cases.case_view(actor, case_id, today, log=False), runs)))
        with connection.write_transaction():
            for n in range(10_000 - models.AuditEntry.select().count()):
                audit.record(actor, "note", "case_file", case_id, None, {"text": f"bench {n}"}, None)
        figures += _panel_figures(actor, today, 5)
        figures.append(("verify audit chain, 10k entries (ms)", _median_ms(audit.verify, 3),
                        _median_ms(lambda: sql("SELECT * FROM audit_entry ORDER BY id").fetchall(), 3)))
        return figures
    finally:
        connection.close_database()
        shutil.rmtree(copy.parent, ignore_errors=True)


def _panel_figures(actor, today, runs: int, *, first_of_day: bool = False) -> list[tuple[str, float, float]]:
    """The progress panel (db.progress.stats) of the top unit and of a branch, each against one
    aggregate SQL query over the same rows: the year's decisions, the open files per stage and
    the members of the unit's branches. `first_of_day`: also the top unit's panel with no member
    counts kept yet (the first panel opened on a new day)."""
    import json

    from db import models, progress
    from db.units import subtree_ids

    sql = models.database.execute_sql
    U = models.Unit
    top = progress.stats(actor, None, today.year, today, children=False).unit.id
    branch = U.select(U.id).where(U.org_type == "branch").order_by(U.id).scalar()
    out = []

    from db.connection import is_postgres

    postgres = is_postgres()
    mark = models.database.param

    def aggregate(ids: list[int]) -> None:
        day, first = today.isoformat(), f"{today.year}-01-01"
        # the units as a list of parameters when few (an index can be used), else one JSON array
        # (on PostgreSQL: one array)
        if postgres:
            inside, params = "(SELECT unnest(%s::int[]))", [ids]
        else:
            inside, params = (("(SELECT value FROM json_each(?))", [json.dumps(ids)]) if len(ids) > 500
                              else ("(" + ",".join("?" * len(ids)) + ")", ids))
        concat = "string_agg(stage || n, ',')" if postgres else "group_concat(stage || n)"
        sql(("SELECT (SELECT count(*) FROM step s JOIN case_file c ON c.id = s.case_id "
             "        WHERE s.stage = 'admitted' AND s.undone_at IS NULL AND s.date BETWEEN ? AND ? "
             f"       AND c.branch_id IN {inside}), "
             f"       (SELECT {concat} FROM (SELECT stage, count(*) AS n FROM case_file "
             f"       WHERE status = 'open' AND branch_id IN {inside} GROUP BY stage) AS stages), "
             "       (SELECT count(*) FROM membership m JOIN affiliation a ON a.person_id = m.person_id "
             "        WHERE m.ceremony_on <= ? AND (m.ended_on IS NULL OR m.ended_on > ?) "
             "        AND a.start <= ? AND (a.end IS NULL OR a.end > ?) "
             f"       AND a.unit_id IN {inside})").replace("?", mark),
            (first, day, *params, *params, day, day, day, day, *params)).fetchall()

    for label, unit in (("progress panel, top unit (ms)", top), ("progress panel, a branch (ms)", branch)):
        ids = subtree_ids(actor, unit, today)
        progress.stats(actor, unit, today.year, today)  # the member counts of the day kept
        out.append((label, _median_ms(lambda unit=unit: progress.stats(actor, unit, today.year, today), runs),
                    _median_ms(lambda ids=ids: aggregate(ids), runs)))
        if first_of_day and unit == top:
            def cold() -> None:
                models.MemberTally.delete().execute()  # no counts kept yet on a new day
                models.ClassTally.delete().execute()
                progress.stats(actor, top, today.year, today)

            out.append(("  the same, first of a day (ms)", _median_ms(cold, max(1, runs // 3)),
                        _median_ms(lambda ids=ids: aggregate(ids), max(1, runs // 3))))
    return out


def synth_database(people: int) -> Path:
    """bench-synth-N.sqlite3 beside the checkout, built when missing (`ketnap synth`) and reused
    by later runs and by the other benchmarks."""
    path = ROOT / f"bench-synth-{people}.sqlite3"
    if not path.exists():
        print(f"(building {path.name}: `ketnap synth --people {people:,}`, once)", flush=True)
        subprocess.run([sys.executable, "-m", "tui.cli", "--db", str(path), "synth", "--people", str(people)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def pg_synth_database(people: int, server: str) -> str:
    """The synthetic province on the PostgreSQL server at `server` (a URL to any database of
    it): the database ketnap_bench_synth_N, copied once from bench-synth-N.sqlite3 with
    `ketnap migrate-to` and reused by later runs."""
    import psycopg

    from db import connection

    name = f"ketnap_bench_synth_{people}"
    location = f"{server.rpartition('/')[0]}/{name}"
    with psycopg.connect(server, autocommit=True) as con:
        exists = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            con.execute(f'CREATE DATABASE "{name}" {connection.PG_CREATE_OPTIONS}')
    if not exists:
        path = synth_database(people)
        print(f"(copying {path.name} to {name}: `ketnap migrate-to`, once)", flush=True)
        done = subprocess.run([sys.executable, "-m", "tui.cli", "--db", str(path), "migrate-to", location],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            with psycopg.connect(server, autocommit=True) as con:
                con.execute(f'DROP DATABASE "{name}"')
            raise SystemExit(f"migrate-to failed: {done.stderr}")
    return location


def panel_figures_on(people: int, runs: int, location: str | None = None) -> list[tuple[str, float, float]]:
    """The panels on a synthetic province of `people`, built once into bench-synth-N.sqlite3
    beside the checkout and reused by later runs (migrated when the schema has moved on);
    `location`: the same province elsewhere (pg_synth_database)."""
    from db import connection, models, synth
    from db.access import account_actor

    path = location or synth_database(people)
    connection.open_database(str(path))
    try:
        admin = models.Account.select().where(models.Account.role == "admin").order_by(models.Account.id).first()
        return _panel_figures(account_actor(admin.name), synth.TODAY, runs, first_of_day=True)
    finally:
        connection.close_database()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def search_figures_on(people: int, runs: int, location: str | None = None) -> tuple[list[tuple[str, float, float]], int]:
    """Search everywhere on the synthetic province (the file panel_figures_on builds): p50 and p95
    over realistic queries (family and middle names, given names, parts of words, full names, a
    citizen ID) through `db.cases.find_everything`, the function the search screen and `ketnap
    find` call, against the plain FTS5 prefix query (MATCH with LIMIT, no ranking, no scope) over
    the same index, in the same run."""
    from db import connection, models, search, synth
    from db.access import account_actor
    from db.cases import find_everything

    path = ROOT / f"bench-synth-{people}.sqlite3"
    if not path.exists():
        panel_figures_on(people, 1)  # builds it
    connection.open_database(location or str(path))
    try:
        admin = models.Account.select().where(models.Account.role == "admin").order_by(models.Account.id).first()
        actor = account_actor(admin.name)
        P = models.Person
        someone = [P.get_by_id(i) for i in (people // 3, people // 2, 2 * people // 3)]
        queries = ["hoang thi", "nguyen van", "tran thi", "le van", "hoat", "dung", "mai", "thi",
                   "ngu", "hoa", "nguyen thi h", "tran m", "ba", "dang"]
        queries += [p.name_folded for p in someone]
        queries += [p.citizen_id for p in someone if p.citizen_id]
        ours: list[float] = []
        plain: list[float] = []
        people_only: list[float] = []
        for _ in range(runs):  # interleaved, so drift hits both alike
            for text in queries:
                started = time.perf_counter()
                find_everything(actor, text, synth.TODAY, limit=51)
                ours.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                search.matching_person_ids(text, 51)
                people_only.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                search.plain_prefix_ids(text, 51)
                plain.append((time.perf_counter() - started) * 1000)
        return ([
            ("search everywhere p50 (ms)", _percentile(ours, 0.5), _percentile(plain, 0.5)),
            ("search everywhere p95 (ms)", _percentile(ours, 0.95), _percentile(plain, 0.95)),
            ("  people ranking alone p50 (ms)", _percentile(people_only, 0.5), _percentile(plain, 0.5)),
            ("  people ranking alone p95 (ms)", _percentile(people_only, 0.95), _percentile(plain, 0.95)),
        ], len(queries))
    finally:
        connection.close_database()


def synth_figures(people: int, runs: int) -> list[tuple[str, float, float | None]]:
    """`ketnap synth --people N` into a fresh file (wall time, rows written), then a commune's
    work list and a name search on it, each against bare SQL reading the same rows."""
    import shutil

    from db import connection, models, search, synth, worklist
    from db.access import account_actor

    folder = Path(tempfile.mkdtemp())
    path = folder / "bench-synth.sqlite3"
    try:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tui.cli", "--db", str(path), "synth", "--people", str(people)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        load = time.perf_counter() - started
        connection.open_database(str(path))
        try:
            sql = models.database.execute_sql
            rows = sum(sql(f'SELECT count(*) FROM "{m._meta.table_name}"').fetchone()[0]
                       for m in models.ALL_MODELS)
            admin = models.Account.select().where(models.Account.role == "admin").order_by(models.Account.id).first()
            actor = account_actor(admin.name)
            U = models.Unit
            commune = U.select().where(U.level == "commune").order_by(U.id).first()
            ids = [commune.id] + [u for (u,) in U.select(U.id).where(U.parent == commune.id).tuples()]
            marks = ",".join("?" * len(ids))

            def bare_worklist_rows() -> None:
                sql(f"SELECT c.id, s.* FROM case_file c JOIN step s ON s.case_id = c.id "
                    f"WHERE c.status = 'open' AND c.stage != 'official' AND c.branch_id IN ({marks})",
                    ids).fetchall()
                sql(f"SELECT d.* FROM document d JOIN case_file c ON c.id = d.case_id "
                    f"WHERE c.status = 'open' AND c.stage != 'official' AND c.branch_id IN ({marks})",
                    ids).fetchall()

            name = models.Person.get_by_id(people // 2).name_folded

            def bare_search() -> None:
                sql("SELECT rowid FROM person_fts WHERE person_fts MATCH ? LIMIT 20",
                    (search.match_expression(name),)).fetchall()

            return [
                (f"synth --people {people} (s)", load, None),
                ("rows written per second", rows / load, None),
                ("work list of a commune (ms)",
                 _median_ms(lambda: worklist.worklist(actor, commune.id, synth.TODAY), runs),
                 _median_ms(bare_worklist_rows, runs)),
                ("search a name (ms)", _median_ms(lambda: search.matching_person_ids(name, 20), runs),
                 _median_ms(bare_search, runs)),
                *_panel_figures(actor, synth.TODAY, max(3, runs // 3)),
            ]
        finally:
            connection.close_database()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _rows(figures, base_name: str, people: str, aims: dict[str, object] | None = None) -> list[Figure]:
    """(name "... (unit)", ours, baseline) tuples as table rows; `aims` by name without unit."""
    out = []
    for name, ours, base in figures:
        unit = ""
        if name.endswith(")") and " (" in name:
            name, unit = name[:-1].rsplit(" (", 1)
        out.append(Figure(name, ours, base, base_name if base is not None else "", unit,
                          (aims or {}).get(name.strip()), people))
    return out


PANEL_AIM_MS = 300
SEARCH_AIM_MS = 20


def pipeline_rows(db_path: str, runs: int) -> list[Figure]:
    return _rows(pipeline_figures(db_path, runs), "bare SQL", "demo")


def panel_rows(people: int, runs: int, pg: str | None = None) -> list[Figure]:
    """The province's progress panel under 0.3 s, against one aggregate SQL query; `pg`: on
    the copy of the same province on that PostgreSQL server (its rows say so)."""
    location = pg_synth_database(people, pg) if pg else None
    return _rows(panel_figures_on(people, runs, location), "one aggregate SQL query",
                 people_label(people) + (" PostgreSQL" if pg else ""),
                 {"progress panel, top unit": under(PANEL_AIM_MS)})


def search_rows(people: int, runs: int, pg: str | None = None) -> list[Figure]:
    """Search everywhere, p95 under 20 ms, against the plain prefix query of the index (FTS5 on
    SQLite, the index of words on PostgreSQL); `pg` as for panel_rows."""
    location = pg_synth_database(people, pg) if pg else None
    figures, _count = search_figures_on(people, runs, location)
    return _rows(figures, "plain prefix query of the index", people_label(people) + (" PostgreSQL" if pg else ""),
                 {"search everywhere p95": under(SEARCH_AIM_MS)})


def _print_side_by_side(title: str, sqlite: list, postgres: list) -> None:
    print(title)
    print(f"{'figure':<38}{'SQLite':>10}{'PostgreSQL':>12}{'ratio':>8}{'  (baseline SQLite / PostgreSQL)'}")
    for (name, lite, lite_base), (_, pg, pg_base) in zip(sqlite, postgres):
        print(f"{name:<38}{lite:>10.2f}{pg:>12.2f}{pg / lite:>8.1f}   ({lite_base:.2f} / {pg_base:.2f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--probe", nargs=2, metavar=("KIND", "DB"), help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--panel-people", type=int, default=1_000_000, metavar="N",
                        help="the progress panels on a synthetic province of N people (0: skip)")
    parser.add_argument("--synth", type=int, metavar="N",
                        help="only: load a synthetic province of N people and time it")
    parser.add_argument("--search-only", action="store_true",
                        help="only: the search on the synthetic province (--panel-people N)")
    parser.add_argument("--panel-only", action="store_true",
                        help="only: the progress panels on the synthetic province (--panel-people N)")
    parser.add_argument("--pg", metavar="URL",
                        help="with --search-only or --panel-only: the same figures on this PostgreSQL server too")
    args = parser.parse_args(argv)
    if args.pg and (args.panel_only or args.search_only):
        location = pg_synth_database(args.panel_people, args.pg)
        if args.panel_only:
            _print_side_by_side(f"progress panels on a synthetic province of {args.panel_people:,} people, "
                                f"median of {args.runs}, ms", panel_figures_on(args.panel_people, args.runs),
                                panel_figures_on(args.panel_people, args.runs, location))
        else:
            lite, count = search_figures_on(args.panel_people, args.runs)
            pg, _ = search_figures_on(args.panel_people, args.runs, location)
            _print_side_by_side(f"search on a synthetic province of {args.panel_people:,} people ({count} "
                                f"queries x {args.runs} runs), ms; baseline: the plain prefix query "
                                "(FTS5 MATCH / the index of words)", lite, pg)
        return 0
    if args.panel_only:
        print_figures(panel_rows(args.panel_people, args.runs),
                      f"progress panels on a synthetic province, median of {args.runs}")
        return 0
    if args.probe:
        return probe(*args.probe)
    if args.search_only:
        print_figures(search_rows(args.panel_people, args.runs),
                      f"search on a synthetic province, {args.runs} runs of each query")
        return 0
    if args.synth:
        print_figures(_rows(synth_figures(args.synth, args.runs * 3), "bare SQL", people_label(args.synth)),
                      f"a synthetic province loaded once, the reads median of {args.runs * 3} each")
        return 0

    db_path = _ensure_demo()
    figures = startup_figures(db_path, args.runs, None)
    figures += pipeline_rows(db_path, args.runs * 3)
    if args.panel_people:
        figures += panel_rows(args.panel_people, args.runs)
        figures += search_rows(args.panel_people, args.runs)
    print_figures(figures, f"start-up median of {args.runs} interleaved runs (headless), the demo's "
                  f"candidate files median of {args.runs * 3}, panels median of {args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
