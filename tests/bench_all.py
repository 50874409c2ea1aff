"""`make bench`: every figure of ketnap's aims beside its baseline from the same run, in one table.

    python -m tests.bench_all [--sizes 10000,100000,1000000] [--runs N] [--key-runs N]
                              [--sessions N] [--seconds S] [--skip WHAT ...]

For each size a synthetic province (bench-synth-N.sqlite3 beside the checkout, built once by
`ketnap synth` and reused: about three minutes and 1.2 GB for a million people): start-up to the
first screen ready and peak memory after every screen a province administrator opens (against
the empty Textual app), search p95 (against the plain prefix query of the index), the province's progress
panel (against one aggregate SQL query), key press to updated screen in the people list and the
search (against the same key in an empty app with a DataTable), and many sessions reading and
writing one file (against one session alone). On the demo database: start-up and memory, the
candidate files' figures (against bare SQL) and the bytes over SSH (skipped, with a line saying
so, where sshd is missing).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests import bench, bench_concurrency, bench_terminal
from tests.bench_table import Figure, people_label, print_figures

PARTS = ("startup", "pipeline", "search", "panel", "keys", "concurrency", "ssh")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not sizes or any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError("at least one size, each above 0")
    return sizes


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _keys_on(location: str, runs: int, people: str) -> list[Figure]:
    """Key figures on a database opened (and closed again) in this process."""
    from db import connection

    subject = bench_terminal.open_subject(location)
    try:
        return bench_terminal.key_figures(subject, runs, people)
    finally:
        connection.close_database()


def _ssh_on(location: str, moves: int, runs: int, people: str) -> list[Figure]:
    from db import connection

    subject = bench_terminal.open_subject(location)
    try:
        return bench_terminal.ssh_figures(location, subject, moves, runs, people=people)
    finally:
        connection.close_database()


def collect(sizes: list[int], *, runs: int, key_runs: int, sessions: int, seconds: float,
            pause: float, moves: int, ssh_runs: int, skip: set[str], pg: str | None = None) -> list[Figure]:
    """`pg`: a PostgreSQL server (a URL to any database of it): the search and panel figures
    again, each province copied there once, in rows beside SQLite's."""
    figures: list[Figure] = []
    demo = bench._ensure_demo()
    if "startup" not in skip:
        _say("start-up and memory on the demo")
        figures += bench.startup_figures(demo, runs, None)
    if "pipeline" not in skip:
        _say("candidate files on the demo")
        figures += bench.pipeline_rows(demo, runs * 3)
    if "ssh" not in skip:
        _say("bytes over SSH on the demo")
        figures += _ssh_on(demo, moves, ssh_runs, "demo")
    for people in sizes:
        location = str(bench.synth_database(people))
        label = people_label(people)
        if "startup" not in skip:
            _say(f"start-up and memory after every screen, {label} people")
            figures += bench.startup_figures(location, runs, people)
        for part, what, rows in (("search", "search", bench.search_rows),
                                 ("panel", "progress panels", bench.panel_rows)):
            for server in ((None, pg) if pg else (None,)) if part not in skip else ():
                _say(f"{what}, {label} people" + (", PostgreSQL" if server else ""))
                figures += rows(people, runs, server)
        if "keys" not in skip:
            _say(f"key press to updated screen, {label} people")
            figures += _keys_on(location, key_runs, label)
        if "concurrency" not in skip:
            _say(f"{sessions} sessions x {seconds:g} s, {label} people")
            figures += bench_concurrency.concurrency_figures(people, sessions, seconds, pause)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_all")
    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES), metavar="N,N,...",
                        help="synthetic provinces of these numbers of people (default 10000,100000,1000000)")
    parser.add_argument("--runs", type=int, default=3, help="start-ups per app; reads median of 3x this")
    parser.add_argument("--key-runs", type=int, default=30, help="key presses timed per figure")
    parser.add_argument("--sessions", type=int, default=20, help="sessions at once on one file")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the sessions work")
    parser.add_argument("--pause", type=float, default=0.25, metavar="S",
                        help="mean pause between two actions of a session")
    parser.add_argument("--moves", type=int, default=15, help="Down arrows counted per SSH session")
    parser.add_argument("--ssh-runs", type=int, default=3, help="SSH sessions per app and TERM")
    parser.add_argument("--skip", action="append", choices=PARTS, default=[], help="leave out a part")
    parser.add_argument("--pg", metavar="URL", default=os.environ.get("KETNAP_PG_SERVER"),
                        help="also the search and panels on this PostgreSQL server (default: KETNAP_PG_SERVER)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    figures = collect(args.sizes, runs=args.runs, key_runs=args.key_runs, sessions=args.sessions,
                      seconds=args.seconds, pause=args.pause, moves=args.moves, ssh_runs=args.ssh_runs,
                      skip=set(args.skip), pg=args.pg)
    print()
    print_figures(figures, f"ketnap against baselines measured in the same run ({time.monotonic() - started:.0f} s; "
                  f"start-ups median of {args.runs}, keys {args.key_runs} presses, "
                  f"{args.sessions} sessions x {args.seconds:g} s)")
    missed = [f for f in figures if f.met is False]
    print(f"{len(missed)} of {sum(f.met is not None for f in figures)} aims not met"
          + (": " + "; ".join(f"{f.name} ({f.people})" for f in missed) if missed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
