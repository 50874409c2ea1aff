"""Many staff at once on one SQLite file: `python -m tests.bench_concurrency` (run by `make bench`).

Each process is a separate Python with its own connection, as each staff member over SSH runs
their own ketnap. For `--seconds` each does what a session does: opens files, reads a commune's
work list, searches names (reads), and writes: notes on files, and holds/releases carrying the
version the process read, retried after reading again when someone else changed the file
first. Every write that returned is "acknowledged"; afterwards each must be in the database.

The same mix is first run by one process alone (the baseline), then by `--processes` at once
on a fresh copy of the same database.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import synth_database
from tests.bench_table import NONE, Figure, people_label, print_figures, under

ROOT = Path(__file__).resolve().parent.parent


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def worker(db_path: str, seconds: float, seed: int, tag: str, pause: float) -> int:
    """One staff member's session for `seconds`; prints one JSON document with what it did."""
    import sqlite3

    from peewee import OperationalError

    from db import cases, connection, models, pipeline, synth, worklist
    from db.access import account_actor

    connection.open_database(db_path)
    rng = random.Random(seed)
    admin = models.Account.select().where(models.Account.role == "admin").order_by(models.Account.id).first()
    actor = account_actor(admin.name)
    today = synth.TODAY  # the synthetic province's own "today"
    C, U, P = models.CaseFile, models.Unit, models.Person
    open_ids = [i for (i,) in C.select(C.id).where(C.is_open() & (C.on_hold == False))  # noqa: E712
                .order_by(C.id).tuples()]
    files = rng.sample(open_ids, min(40, len(open_ids)))
    communes = [i for (i,) in U.select(U.id).where(U.org_type == "grassroots_committee").tuples()] or \
        [i for (i,) in U.select(U.id).tuples()]
    names = [n for (n,) in P.select(P.full_name).order_by(P.id).limit(2000).tuples()]
    reads: list[float] = []
    writes: list[float] = []
    kinds: dict[str, list[float]] = {}
    acknowledged: list[str] = []
    errors: dict[str, int] = {}
    conflicts = 0
    n = 0
    print("ready", flush=True)  # the clock starts when every session is ready (see _run)
    sys.stdin.readline()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pause:
            time.sleep(rng.uniform(0, 2 * pause))  # a person reads the screen between two keys
        n += 1
        roll = rng.random()
        case_id = rng.choice(files)
        started = time.perf_counter()
        try:
            if roll < 0.45:
                kind = "read: a file"
                cases.case_view(actor, case_id, today, log=False)
                reads.append(time.perf_counter() - started)
            elif roll < 0.55:
                kind = "read: a commune's work list"  # its first page, as the screen reads it
                worklist.worklist_page(actor, rng.choice(communes), today, limit=20)
                reads.append(time.perf_counter() - started)
            elif roll < 0.70:
                kind = "read: a name search"
                cases.find(actor, " ".join(rng.choice(names).split()[-2:]), today)
                reads.append(time.perf_counter() - started)
            elif roll < 0.85:
                kind = "write: a note"
                text = f"{tag}-{n}"
                pipeline.add_note(actor, case_id, text, today=today)
                writes.append(time.perf_counter() - started)
                acknowledged.append(text)
            else:
                kind = "write: hold or release"
                view = cases.case_view(actor, case_id, today, log=False)
                started = time.perf_counter()  # the write alone
                try:
                    if view.status == "on_hold":
                        pipeline.release(actor, case_id, today=today, expected_version=view.version)
                    else:
                        pipeline.hold(actor, case_id, f"{tag}-{n}", today=today,
                                      expected_version=view.version)
                except pipeline.CaseChanged:
                    conflicts += 1  # told, nothing overwritten: a user would look and retry
                writes.append(time.perf_counter() - started)
            kinds.setdefault(kind, []).append(time.perf_counter() - started)
        except (OperationalError, sqlite3.OperationalError) as exc:
            errors[str(exc)] = errors.get(str(exc), 0) + 1
    connection.close_database()
    print(json.dumps({"reads": reads, "writes": writes, "kinds": kinds, "acknowledged": acknowledged,
                      "errors": errors, "conflicts": conflicts}))
    return 0


def _run(db_path: str, processes: int, seconds: float, pause: float) -> dict:
    commands = [[sys.executable, "-m", "tests.bench_concurrency", "--worker", db_path, str(seconds),
                 str(i + 1), f"p{i}", str(pause)] for i in range(processes)]
    running = [subprocess.Popen(c, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for c in commands]
    for process in running:  # started and ready (imports done, database open): then all go at once
        line = process.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"a session did not start: {process.stderr.read()[-2000:]}")
    for process in running:
        process.stdin.write("go\n")
        process.stdin.flush()
    total: dict = {"reads": [], "writes": [], "kinds": {}, "acknowledged": [], "errors": {},
                   "conflicts": 0, "crashed": 0}
    for process in running:
        out, err = process.communicate()
        if process.returncode != 0:
            total["crashed"] += 1
            sys.stderr.write(err[-2000:])
            continue
        doc = json.loads(out.strip().splitlines()[-1])
        for key in ("reads", "writes", "acknowledged"):
            total[key] += doc[key]
        for kind, values in doc["kinds"].items():
            total["kinds"].setdefault(kind, []).extend(values)
        for message, count in doc["errors"].items():
            total["errors"][message] = total["errors"].get(message, 0) + count
        total["conflicts"] += doc["conflicts"]
    total["lost"] = _lost(db_path, total["acknowledged"])
    return total


def _lost(db_path: str, acknowledged: list[str]) -> int:
    import sqlite3

    con = sqlite3.connect(db_path)
    try:
        present = {r for (r,) in con.execute("SELECT reason FROM case_event WHERE kind = 'note'")}
    finally:
        con.close()
    return len(set(acknowledged) - present)


def _fresh_copy(source: Path, folder: Path) -> str:
    """A copy to write on (the built database is kept as it is), with its WAL folded in first."""
    import sqlite3

    from db import connection

    connection.open_database(str(source))  # migrated if the schema has moved on
    connection.close_database()
    con = sqlite3.connect(str(source))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    target = folder / f"copy-{time.monotonic_ns()}.sqlite3"
    shutil.copy(source, target)
    return str(target)


WRITE_AIM_MS = 100


def _locked(errors: dict[str, int]) -> int:
    return sum(c for m, c in errors.items() if "locked" in m or "busy" in m)


def concurrency_figures(people: int, processes: int = 20, seconds: float = 60.0,
                        pause: float = 0.25) -> list[Figure]:
    """`processes` sessions at once on a fresh copy of the synthetic province of `people`, against
    one session alone on another fresh copy (run first): write and read p95, and the counts that
    must be zero (acknowledged writes lost, "database is locked" shown, sessions crashed)."""
    source = synth_database(people)
    with tempfile.TemporaryDirectory(prefix="ketnap-bench-") as folder:
        alone = _run(_fresh_copy(source, Path(folder)), 1, seconds, pause)
        many = _run(_fresh_copy(source, Path(folder)), processes, seconds, pause)
    label = people_label(people)
    base = "one session alone"
    tag = f"{processes} sessions x {seconds:g} s"
    rows = [
        Figure(f"{tag}: write p95", _p95(many["writes"]) * 1000, _p95(alone["writes"]) * 1000, base, "ms",
               under(WRITE_AIM_MS), label),
        Figure(f"{tag}: write median", statistics.median(many["writes"] or [0]) * 1000,
               statistics.median(alone["writes"] or [0]) * 1000, base, "ms", None, label),
        Figure(f"{tag}: read p95", _p95(many["reads"]) * 1000, _p95(alone["reads"]) * 1000, base, "ms", None, label),
    ]
    for kind in sorted(set(many["kinds"]) | set(alone["kinds"])):
        rows.append(Figure(f"  {kind} p95", _p95(many["kinds"].get(kind, [])) * 1000,
                           _p95(alone["kinds"].get(kind, [])) * 1000, base, "ms", None, label))
    rows += [
        Figure(f"{tag}: writes acknowledged", len(many["acknowledged"]), len(alone["acknowledged"]), base,
               "writes", None, label),
        Figure(f"{tag}: acknowledged writes lost", many["lost"], alone["lost"], base, "writes", NONE, label),
        Figure(f"{tag}: database is locked / busy", _locked(many["errors"]), _locked(alone["errors"]), base,
               "errors", NONE, label),
        Figure(f"{tag}: sessions that crashed", many["crashed"], alone["crashed"], base, "sessions", NONE, label),
        Figure(f"{tag}: saves refused, file changed meanwhile", many["conflicts"], alone["conflicts"], base,
               "saves", None, label),
    ]
    other = {m: c for m, c in many["errors"].items() if not ("locked" in m or "busy" in m)}
    if other:
        print("other database errors:", other)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_concurrency")
    parser.add_argument("--worker", nargs=5, metavar=("DB", "SECONDS", "SEED", "TAG", "PAUSE"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--people", type=int, default=100_000, metavar="N",
                        help="the synthetic province the sessions work on (built once, then reused)")
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pause", type=float, default=0.25, metavar="S",
                        help="mean pause between two actions of a session (0: no pause, saturation)")
    args = parser.parse_args(argv)
    if args.worker:
        db_path, seconds, seed, tag, pause = args.worker
        return worker(db_path, float(seconds), int(seed), tag, float(pause))

    figures = concurrency_figures(args.people, args.processes, args.seconds, args.pause)
    print_figures(figures, f"{args.processes} sessions at once for {args.seconds:.0f} s on one SQLite file vs "
                  f"one session alone, same mix, a pause of 0-{2 * args.pause:.1f} s between actions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
