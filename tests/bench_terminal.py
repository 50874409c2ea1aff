"""`make bench` (tests.bench_all): what a user feels in the terminal, against a baseline
measured the same way in the same run. Figures are printed, never asserted.

Key press to updated screen, via Pilot (headless, 80x24): from the key pressed to the screen
showing what it changed (the state the key changes has changed, no worker or message is pending,
and the screen has been composited), p50 and p95. ketnap runs on a synthetic province as an
organiser of its first commune (about ten thousand people at a million); the baseline is an
empty Textual app with one DataTable holding the same rows (the same people, as text).

Bytes over SSH: a real sshd on 127.0.0.1 with throwaway keys; `ssh -tt` runs in a pseudo-terminal
of 80x24 owned by this process, and every byte read from its master side is counted: the first
screen (from start until the expected text is on it and nothing more comes for a while) and each
Down arrow in the list, for TERM=xterm-256color and TERM=linux, ketnap against the empty app.

    python -m tests.bench_terminal [--runs N] [--moves N] [--people N] [--skip keys|ssh]

The synthetic province is bench-synth-N.sqlite3 beside the checkout, as tests.bench builds it
(built here when missing; about three minutes and 1.2 GB for a million).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import fcntl
import os
import pty
import select
import shlex
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.bench import synth_database
from tests.bench_table import Figure, people_label, print_figures, under, within

ROOT = Path(__file__).resolve().parent.parent
SIZE = (80, 24)
PAGE_DOWN_AIM_MS = 50
BYTES_AIM = 1.2
QUIET = 0.3  # seconds without a byte: the terminal has received the whole update


# --- what both apps show ----------------------------------------------------------------------

@dataclass
class Subject:
    """The unit listed, as whom, on which day; its people as the baseline's rows of text."""

    location: str
    actor: object  # db.access.Actor
    today: datetime.date
    unit_id: int
    unit_name: str
    rows: list[tuple[str, str, str, str]]  # name, born, status, branch


def open_subject(location: str) -> Subject:
    """Open the database (bound in this process) and pick its first commune; the actor is an
    organiser whose scope is that commune, built in memory (no account is added to the file)."""
    from db import connection, models, people
    from db.access import Actor
    from screens.main import short_unit_name, status_label
    from tui import i18n

    connection.open_database(location, create=False)
    stored = connection.get_setting("today")
    today = datetime.date.fromisoformat(stored) if stored else datetime.date.today()
    U = models.Unit
    commune = U.select().where(U.level == "commune").order_by(U.id).first()
    actor = Actor(account_id=None, name="bench", role="organiser", unit_id=commune.id)
    count = people.people_count(actor, commune.id, today)
    page = people.people_page(actor, commune.id, today, limit=max(count, 1))
    rows = [(p.full_name, i18n.date(p.born), status_label(p), short_unit_name(p.branch_name))
            for p in page.rows]
    return Subject(location, actor, today, commune.id, commune.name, rows)


def ketnap_app(subject: Subject, *, over_ssh: bool = False):
    """ketnap's App as `ketnap` (tui.cli.cmd_app) builds it, for the subject's actor and day."""
    from tui.app import KetnapApp
    from tui.context import AppContext

    return KetnapApp(AppContext(subject.location, subject.actor, subject.today, "vi",
                                server_files=not over_ssh))


PEOPLE_COLUMNS = ("Họ và tên", "Ngày sinh", "Tình trạng", "Chi bộ")
CANDIDATE_COLUMNS = ("Họ và tên", "Chi bộ", "Giai đoạn")


def table_app(rows: Sequence[tuple[str, ...]], *, columns: Sequence[str] = PEOPLE_COLUMNS,
              with_filter: bool = False):
    """The baseline: a header, one DataTable holding `rows` under `columns`, a footer.
    `with_filter`: a text field above the table; what is typed keeps the first screenful of the
    rows containing it, diacritics and case ignored as in ketnap (db.text.fold)."""
    from rich.text import Text
    from textual import on
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Footer, Header, Input

    from db.text import fold

    folded = [fold(" ".join(row)) for row in rows]

    class TableApp(App):
        def compose(self) -> ComposeResult:
            yield Header()
            if with_filter:
                yield Input(id="filter", compact=True)
            yield DataTable(cursor_type="row", id="table")
            yield Footer()

        def on_mount(self) -> None:
            self.animation_level = "none"  # as ketnap
            table = self.query_one(DataTable)
            for n, label in enumerate(columns):
                table.add_column(label, key=str(n))
            self._fill(rows)
            (self.query_one(Input) if with_filter else table).focus()

        def _fill(self, shown) -> None:
            table = self.query_one(DataTable)
            table.clear()
            table.add_rows([[Text(cell) for cell in row] for row in shown])

        @on(Input.Changed)
        def _typed(self, event: Input.Changed) -> None:
            words = fold(event.value).split()
            shown = [row for row, text in zip(rows, folded) if all(w in text for w in words)]
            self._fill(shown[:SIZE[1]])

    return TableApp()


# --- key press to updated screen (Pilot) ------------------------------------------------------

def _quiet(app) -> bool:
    """No worker pending or running and no message waiting, on the app or its screen."""
    from textual.worker import WorkerState

    if any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers):
        return False
    return all(node._message_queue.empty() for node in (app, *app.screen.walk_children(with_self=True)))


async def _next_event(app) -> None:
    """Wait for the running workers to end, else let the event loop run once: no polling with
    a sleep, which would take the interpreter from a worker's thread and slow it down."""
    from textual.worker import WorkerState

    running = [w for w in app.workers if w.state == WorkerState.RUNNING]
    if running:
        await app.workers.wait_for_complete(running)
    else:
        await asyncio.sleep(0)


async def _settle(pilot, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if _quiet(pilot.app) and getattr(pilot.app.screen, "ready_for_input", True):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the app never settled")


def _send_key(app, key: str) -> None:
    """The key as the terminal's driver hands it to the app (what Pilot.press sends, without the
    pauses for idleness it adds after each key: those would be timed too)."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
    except KeyError:
        char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


async def _time_keys(app, open_keys, keys: Sequence[str], state, runs: int, size,
                     timeout: float) -> list[float]:
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        if callable(open_keys):
            await open_keys(pilot)
        else:
            await pilot.press(*open_keys)
        await _settle(pilot)
        times = []
        for n in range(runs):
            before = state(app)
            started = time.perf_counter()
            _send_key(app, keys[n % len(keys)])
            deadline = time.monotonic() + timeout
            while True:
                now = state(app)
                if now is not None and now != before and _quiet(app):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{keys[n % len(keys)]!r} changed nothing in {timeout} s ({before!r})")
                await _next_event(app)
            app.screen._on_timer_update()  # composite what changed now, not on the next tick
            times.append((time.perf_counter() - started) * 1000)
        return times


def time_keys(app_factory: Callable[[], object], open_keys: Sequence[str] | Callable[[object], Awaitable[None]],
              keys: str | Sequence[str], state: Callable[[object], object], runs: int,
              size: tuple[int, int] = SIZE, timeout: float = 30.0) -> list[float]:
    """Milliseconds from each of `runs` key presses to the updated screen.

    `app_factory()` builds the app; `open_keys` are pressed (or, if a coroutine function, awaited
    with the pilot) once it has settled, to reach the screen measured; then each press of `keys`
    (taken in turn) is timed until `state(app)` is not None and differs from before the press,
    no worker or message is pending, and the screen is composited. `state` returns None while
    what the key asked for is still on its way. A key that changes nothing within `timeout`
    seconds is an error (RuntimeError), not a figure."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    return asyncio.run(_time_keys(app_factory(), open_keys, keys, state, runs, size, timeout))


def p95(times: Sequence[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


# what each key changes: the first row shown (ketnap's list holds one page), the cursor and the
# scroll position (the DataTable holds every row), the filter's text with the rows it keeps

def people_page_state(app):
    from screens.main import MainScreen
    from tui.widgets import PagedTable

    screen = app.screen
    if not isinstance(screen, MainScreen) or not screen.ready_for_input:
        return None
    table = screen.query_one(PagedTable)
    if not table.row_count:
        return None
    return screen.first_index, table.coordinate_to_cell_key((0, 0)).row_key.value


def table_state(app):
    from textual.widgets import DataTable

    table = app.screen.query_one(DataTable)
    return table.cursor_row, table.scroll_y


def filter_state(app):
    from textual.widgets import DataTable, Input

    return app.screen.query_one(Input).value, app.screen.query_one(DataTable).row_count


def search_state(app):
    """What the search screen shows: the text its results are for and the rows; None while the
    results of what is typed are on their way."""
    from textual.widgets import DataTable, Input

    from screens.search import SearchScreen

    screen = app.screen
    if not isinstance(screen, SearchScreen):
        return None
    typed = screen.query_one("#search-field", Input).value
    if screen._shown_text != typed:
        return None
    return typed, screen.query_one("#search-results", DataTable).row_count


SEARCH_TYPED = "hoang thi"  # Ctrl+F and a surname with a middle name, without diacritics
SEARCH_KEYS = ("h", "backspace")  # a letter of the given name typed, then taken back


async def open_search(pilot) -> None:
    """Ctrl+F from the first screen, a name typed: the results shown."""
    await pilot.press("ctrl+f")
    await _settle(pilot)
    await pilot.press(*SEARCH_TYPED)
    await _settle(pilot)


async def open_people_list(pilot) -> None:
    """From the first screen: Tab to the people list."""
    await pilot.press("tab")


def enrol_screen_opener(subject: Subject):
    """The enrolment screen of the commune's first planned awareness class this year, its filter
    focused: the stand-in for a search screen (a list driven by a text field)."""
    from db import classes

    rows = [r for r in classes.list_classes(subject.actor, subject.today, unit_id=subject.unit_id,
                                            year=subject.today.year)
            if r.kind == "awareness" and r.status in ("planned", "running")]
    if not rows:
        return None, []
    row = rows[0]
    candidates = classes.candidates(subject.actor, row.id, subject.today)

    async def open_(pilot) -> None:
        from screens.class_enrol import EnrolScreen

        await pilot.app.push_screen(EnrolScreen(pilot.app.context, row))
        await _settle(pilot)
        while pilot.app.screen.all is None:  # the candidates are read by a worker
            await _settle(pilot)
        await pilot.press("slash")

    from screens.main import short_unit_name

    return open_, [(c.full_name, short_unit_name(c.branch.name), c.stage) for c in candidates]


FILTER_KEYS = ("n", "backspace")  # one letter typed, then taken back: the list changes each time


KEY_BASELINE = "empty app with a DataTable"


def key_figures(subject: Subject, runs: int, people: str = "") -> list[Figure]:
    """p50 and p95 rows, each ketnap figure against its baseline: PageDown in the people list;
    a key typed into the search (Ctrl+F) against the same key in the empty app's filter over the
    same rows; a key typed into a list's filter (class enrolment). `people` names the database."""
    out = []

    def pair(label: str, ketnap: list[float], base: list[float]) -> None:
        out.append(Figure(f"{label}, p50", statistics.median(ketnap), statistics.median(base), KEY_BASELINE,
                          "ms", None, people))
        out.append(Figure(f"{label}, p95", p95(ketnap), p95(base), KEY_BASELINE, "ms",
                          under(PAGE_DOWN_AIM_MS), people))

    pair("PageDown in the people list",
         time_keys(lambda: ketnap_app(subject), open_people_list, "pagedown", people_page_state, runs),
         time_keys(lambda: table_app(subject.rows), (), "pagedown", table_state, runs))
    pair("search (Ctrl+F), 1 key",
         time_keys(lambda: ketnap_app(subject), open_search, SEARCH_KEYS, search_state, runs),
         time_keys(lambda: table_app(subject.rows, with_filter=True), SEARCH_TYPED, SEARCH_KEYS,
                   filter_state, runs))
    opener, candidates = enrol_screen_opener(subject)
    if opener is None or not candidates:
        print("(no class open for enrolment: no filter figure)")
        return out
    pair(f"enrol filter, 1 key ({len(candidates)} rows)",
         time_keys(lambda: ketnap_app(subject), opener, FILTER_KEYS, filter_state, runs),
         time_keys(lambda: table_app(candidates, columns=CANDIDATE_COLUMNS, with_filter=True), (),
                   FILTER_KEYS, filter_state, runs))
    return out


# --- bytes over SSH ---------------------------------------------------------------------------

def serve(kind: str, location: str) -> int:
    """The forced command of a benchmark key: run the app in the SSH session's terminal."""
    subject = open_subject(location)
    if kind == "ketnap":
        from tui.app import _log_to_file

        _log_to_file()
        ketnap_app(subject, over_ssh=True).run(mouse=False)  # as tui.app.run_app
    else:
        table_app(subject.rows).run(mouse=False)
    return 0


@dataclass
class Session:
    """`ssh -tt` in a pseudo-terminal of ours; every byte read from the master side is counted."""

    process: subprocess.Popen
    master: int
    received: bytearray

    @classmethod
    def start(cls, command: list[str], term: str, size: tuple[int, int] = SIZE) -> Session:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("KETNAP_")}
        env["TERM"] = term
        process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                                   start_new_session=True, close_fds=True)
        os.close(slave)
        return cls(process, master, bytearray())

    def read_until_quiet(self, expect: bytes | None = None, *, first_within: float = 5.0,
                         timeout: float = 60.0) -> int:
        """Read until `expect` has been received (else the first byte, within `first_within`)
        and then nothing for QUIET seconds; the number of bytes read."""
        start = len(self.received)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            seen = (expect in self.received[start:]) if expect is not None else last is not None
            now = time.monotonic()
            if seen and last is not None and now - last >= QUIET:
                return len(self.received) - start
            if expect is None and last is None and now - (deadline - timeout) > first_within:
                return 0  # nothing came
            if now > deadline:
                tail = bytes(self.received[-600:]).decode("utf-8", "replace")
                raise RuntimeError(f"{expect!r} never came; last bytes: {tail!r}")
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise RuntimeError(f"the session ended: {bytes(self.received[-600:])!r}")
                self.received += chunk
                last = time.monotonic()

    def read_to_end(self, timeout: float = 60.0) -> int:
        """Read until the program ends (its side of the terminal closed); the bytes read."""
        start = len(self.received)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: no process has the terminal open any more
                    chunk = b""
                if not chunk:
                    self.process.wait(timeout=10)
                    return len(self.received) - start
                self.received += chunk
        raise RuntimeError("the program never ended")

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        try:
            self.send(b"\x11")  # Ctrl+Q
            deadline = time.monotonic() + 10
            while self.process.poll() is None and time.monotonic() < deadline:
                if select.select([self.master], [], [], 0.05)[0]:
                    try:
                        os.read(self.master, 65536)
                    except OSError:
                        break
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            os.close(self.master)


DOWN = b"\x1b[B"


def measure_bytes(command: list[str], term: str, expect: bytes, moves: int) -> tuple[int, float]:
    """Bytes of the first screen, and the mean bytes per Down arrow over `moves` presses (after a
    Tab to the list, not counted)."""
    session = Session.start(command, term)
    try:
        first = session.read_until_quiet(expect)
        session.send(b"\t")
        session.read_until_quiet()
        per_move = [0] * moves
        for n in range(moves):
            session.send(DOWN)
            per_move[n] = session.read_until_quiet()
        return first, sum(per_move) / moves
    finally:
        session.close()


def ssh_figures(location: str, subject: Subject, moves: int, runs: int = 5,
                terms: Sequence[str] = ("xterm-256color", "linux"), people: str = "") -> list[Figure]:
    """First screen and per-move bytes over SSH for each TERM, ketnap against the empty app,
    the median of `runs` sessions each (alternated: Textual paints the first screen two to six
    times, depending on when its events arrive); an empty list (and a line saying why) where
    sshd, ssh or ssh-keygen is missing."""
    from tests import ssh_helpers

    if missing := ssh_helpers.missing_programs():
        print(f"(bytes over SSH not measured: {', '.join(missing)} not installed)")
        return []
    if problem := ssh_helpers.pty_problem():
        print(f"(bytes over SSH not measured: {problem})")
        return []
    expect = subject.rows[0][0].encode() if subject.rows else subject.unit_name.encode()
    out = []
    with tempfile.TemporaryDirectory(prefix="ketnap-bench-ssh-") as folder:
        base = Path(folder)
        keys, lines = {}, []
        for kind in ("ketnap", "empty"):
            keys[kind] = ssh_helpers.make_key(base / f"{kind}_ed25519", kind)
            command = (f"cd {shlex.quote(str(ROOT))} && exec {shlex.quote(sys.executable)} "
                       f"-m tests.bench_terminal --serve {kind} {shlex.quote(location)}")
            lines.append(ssh_helpers.authorized_line(keys[kind], command))
        with ssh_helpers.running_sshd(base, lines) as sshd:
            for term in terms:
                figures: dict[str, list[tuple[int, float]]] = {"ketnap": [], "empty": []}
                for _ in range(runs):
                    for kind in figures:
                        figures[kind].append(measure_bytes(sshd.ssh_args(keys[kind], "-tt"), term, expect, moves))

                def med(kind: str, index: int) -> float:
                    return statistics.median(f[index] for f in figures[kind])

                out.append(Figure(f"SSH first screen, TERM={term}", med("ketnap", 0), med("empty", 0),
                                  "empty app", "bytes", within(BYTES_AIM), people))
                out.append(Figure(f"SSH per Down in the list, TERM={term}", med("ketnap", 1), med("empty", 1),
                                  "empty app", "bytes", within(BYTES_AIM), people))
    return out


# --- driver -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_terminal")
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "DB"), help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=50, help="key presses timed per figure")
    parser.add_argument("--moves", type=int, default=15, help="Down arrows counted per SSH session")
    parser.add_argument("--ssh-runs", type=int, default=5, help="SSH sessions per app and TERM")
    parser.add_argument("--people", type=int, default=1_000_000, metavar="N",
                        help="the synthetic province's size (bench-synth-N.sqlite3)")
    parser.add_argument("--db", help="measure on this database instead of the synthetic province")
    parser.add_argument("--skip", action="append", choices=("keys", "ssh"), default=[],
                        help="leave out the key-press or the SSH figures")
    args = parser.parse_args(argv)
    if args.serve:
        return serve(*args.serve)

    location = args.db or str(synth_database(args.people))
    people = Path(args.db).name if args.db else people_label(args.people)
    subject = open_subject(location)
    where = f"{subject.unit_name} ({len(subject.rows):,} people)"
    figures = []
    if "keys" not in args.skip:
        figures += key_figures(subject, args.runs, people)
    if "ssh" not in args.skip:
        figures += ssh_figures(location, subject, args.moves, args.ssh_runs, people=people)
    print_figures(figures, f"key press to updated screen (Pilot at {SIZE[0]}x{SIZE[1]}, {args.runs} presses) "
                  f"and bytes over SSH (per Down: mean of {args.moves}; median of {args.ssh_runs} sessions), "
                  f"ketnap as an organiser of {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
