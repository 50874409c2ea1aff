"""The terminals people really have, in tmux: TERM=xterm, xterm-256color, screen and linux at
80x24; a resize from 100x30 to 80x24 and back; the link dropping (SIGHUP) in the middle of an
import; the switches (--ascii, --readonly) in the real program.

Skips with a reason where tmux (or a terminfo entry) is missing; under CI (KETNAP_CI=1) that is
a failure instead.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import people_sheet
from tests.tmux_helpers import Terminal, require_tmux

ROOT = Path(__file__).resolve().parent.parent


def _missing(reason: str) -> None:
    if os.environ.get("KETNAP_CI"):
        pytest.fail(f"{reason}: CI installs it", pytrace=False)
    pytest.skip(reason)


require_tmux(module=True)


def _ketnap(db_path: str, *options: str, user: str = "tester") -> list[str]:
    return [sys.executable, "-m", "tui.cli", "--db", db_path, "--user", user, *options]


# what a terminal shows when it is sent an escape sequence it does not understand
STRAY = re.compile(r"\x1b|\^\[|\[\?\d|\[\d+;\d+[Hm]|\d;\d+m")


def _main_screen_is_right(screen: str, width: int, rows: int) -> None:
    lines = screen.rstrip("\n").split("\n")
    assert all(len(line) <= width for line in lines), screen
    assert "Hôm nay 30/09/2021" in lines[0], screen  # the title
    assert "Bắc Kạn" in lines[1] and "huyện Ngân Sơn" in lines[2], screen  # the tree
    assert f"dòng 1–{rows}/" in lines[1] and "Họ và tên" in lines[2], screen  # the list
    assert "Bùi Thị Anh" in lines[3], screen
    assert "Ctrl+Q Thoát" in lines[-1] and "F1 Trợ giúp" in lines[-1], screen  # the footer
    assert not STRAY.search(screen), screen


@pytest.mark.parametrize("term", ["xterm", "xterm-256color", "screen", "linux"])
def test_the_main_screen_is_right_on_each_terminal_type(demo_file, term):
    if subprocess.run(["infocmp", term], capture_output=True).returncode != 0:
        _missing(f"no terminfo entry for {term} (ncurses-base / ncurses-term)")
    terminal = Terminal(_ketnap(demo_file), env={"TERM": term, "PYTHONPATH": str(ROOT)})
    try:
        screen = terminal.wait_for("dòng 1–20/")
        _main_screen_is_right(screen, 80, 20)
        assert len(screen.rstrip("\n").split("\n")) == 24
        terminal.keys("C-q")
        terminal.wait_for("EXITED 0")
    finally:
        terminal.close()


def test_ctrl_q_gets_through_a_terminal_with_flow_control_on(demo_file):
    """A terminal line starts with XON/XOFF flow control (`stty ixon`), which would take Ctrl+S
    and Ctrl+Q for itself: the program turns it off while it runs, and the keys reach it."""
    command = ["sh", "-c", 'stty ixon ixoff && exec "$@"', "sh", *_ketnap(demo_file)]
    terminal = Terminal(command, env={"TERM": "xterm", "PYTHONPATH": str(ROOT)})
    try:
        terminal.wait_for("dòng 1–20/")
        terminal.keys("C-q")
        terminal.wait_for("EXITED 0")
    finally:
        terminal.close()


def test_the_main_screen_is_right_after_a_resize_and_back(demo_file):
    # 80x24, 100x30, 80x24 and 100x30 again; COLUMNS and LINES exported (by a shell profile, or
    # a terminal library in the parent process) must not pin the screen at their size
    terminal = Terminal(_ketnap(demo_file), env={"TERM": "xterm-256color", "PYTHONPATH": str(ROOT),
                                                 "COLUMNS": "80", "LINES": "24"})
    try:
        _main_screen_is_right(terminal.wait_for("dòng 1–20/"), 80, 20)
        for width, height, rows in ((100, 30, 26), (80, 24, 20), (100, 30, 26)):
            terminal.resize(width, height)
            screen = terminal.wait_for(f"dòng 1–{rows}/")
            _main_screen_is_right(screen, width, rows)
            assert len(screen.rstrip("\n").split("\n")) == height
            assert any(len(line) > 80 for line in screen.split("\n")) == (width > 80)
        terminal.keys("Down")  # still answering keys
        terminal.wait_for("└ ▼ huyện Ngân Sơn")
    finally:
        terminal.close()


def test_ascii_and_read_only_in_the_real_program(demo_file):
    terminal = Terminal(_ketnap(demo_file, "--ascii", "--readonly"),
                        env={"TERM": "linux", "PYTHONPATH": str(ROOT)})
    try:
        screen = terminal.wait_for("dòng 1-20/")
        assert "CHỈ XEM" in screen.split("\n")[0]
        assert "Bắc Kạn" in screen and "Ctrl+Q Thoát" in screen
        for ch in screen:
            assert ch.isascii() or ch.isalpha(), (ch, screen)
        terminal.keys("C-q")
        terminal.wait_for("EXITED 0")
    finally:
        terminal.close()


def _count(db_path: str, sql: str) -> int:
    con = sqlite3.connect(db_path)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_the_link_dropping_mid_import_ends_the_program_and_saves_nothing_by_halves(demo_file, tmp_path):
    """SIGHUP (what the terminal's end sends when an SSH link drops) while the import screen
    writes a large sheet: the program ends at once, every person of the sheet is there whole or
    not at all, SQLite finds the file sound and `ketnap check` passes (the audit chain)."""
    sheet = tmp_path / "lon.csv"
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(people_sheet.rows(3000))
    ours = "SELECT count(*) FROM person WHERE citizen_id LIKE '0991%'"
    assert _count(demo_file, ours) == 0
    terminal = Terminal(_ketnap(demo_file, user="demo_organiser"), width=100, height=30,
                        env={"TERM": "xterm-256color", "PYTHONPATH": str(ROOT)})
    try:
        terminal.wait_for("dòng 1–")
        terminal.keys("I")
        terminal.wait_for("people-template")
        terminal.keys("-l", str(sheet))
        terminal.keys("Enter")  # the preview
        terminal.wait_for("3.000")
        terminal.keys("Enter")  # the dry run
        terminal.wait_for("người mới", timeout=180)
        terminal.keys("Enter")  # asked first
        terminal.wait_for("C: nhập")
        pid = terminal.program_pid()
        terminal.keys("c")
        deadline = time.monotonic() + 120
        while _count(demo_file, ours) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for the first batch to be committed (an observable event)
        os.kill(pid, signal.SIGHUP)
        screen = terminal.wait_for("EXITED", timeout=30)  # it ended, and did not hang
        assert f"EXITED {128 + signal.SIGHUP}" in screen
    finally:
        terminal.close()
    imported = _count(demo_file, ours)
    assert 0 < imported < 2980, "the link dropped after the first batch and before the end"
    con = sqlite3.connect(demo_file)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        half = con.execute(
            "SELECT count(*) FROM person p WHERE p.citizen_id LIKE '0991%' AND "
            "(EXISTS (SELECT 1 FROM case_file c WHERE c.person_id = p.id) = "
            " EXISTS (SELECT 1 FROM membership m WHERE m.person_id = p.id) OR "
            " (SELECT count(*) FROM affiliation a WHERE a.person_id = p.id) != 1)").fetchone()[0]
        assert half == 0  # each one with exactly one of a file or a membership, in one branch
    finally:
        con.close()
    check = subprocess.run([sys.executable, "-m", "tui.cli", "--db", demo_file, "--user", "demo_admin",
                            "--lang", "en", "check"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
