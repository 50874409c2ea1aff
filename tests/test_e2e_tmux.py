"""The real program in a real terminal: `ketnap` started in tmux at 80x24, driven with keys.

Skips with a reason where tmux is missing; under CI (KETNAP_CI=1, set by .ci/run) a missing
tmux is a failure instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.tmux_helpers import Terminal, require_tmux

ROOT = Path(__file__).resolve().parent.parent

require_tmux(module=True)


def _ketnap(db_path: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", "--db", db_path, "--user", "tester", *options]


@pytest.mark.parametrize("lang,rows,today,quit_word", [
    ("vi", "dòng 1–", "Hôm nay 30/09/2021", "Thoát"),
    ("en", "rows 1–", "Today 30/09/2021", "Quit"),
])
def test_opens_on_the_demo_and_quits_with_ctrl_q(demo_file, lang, rows, today, quit_word):
    term = Terminal(_ketnap(demo_file, "--lang", lang), env={"TERM": "xterm-256color",
                                                             "PYTHONPATH": str(ROOT)})
    try:
        screen = term.wait_for(rows)  # the first page of people is on the screen
        assert today in screen and "Bắc Kạn" in screen and quit_word in screen
        assert all(len(line) <= 80 for line in screen.splitlines())
        term.keys("C-q")
        term.wait_for("EXITED 0")
    finally:
        term.close()


def test_open_a_branch_and_a_candidate_file_by_keyboard(demo_file):
    term = Terminal(_ketnap(demo_file, "--lang", "en"), env={"TERM": "xterm", "PYTHONPATH": str(ROOT)})
    try:
        term.wait_for("Today 30/09/2021")
        term.keys("l")  # people with an open file
        term.wait_for("Open files")
        term.keys("Tab")
        term.keys("Enter")  # the first candidate's file
        screen = term.wait_for("Stage")
        term.keys("Escape")
        term.wait_for("Open files")
        term.keys("C-q")
        term.wait_for("EXITED 0")
        assert "Traceback" not in screen
    finally:
        term.close()
