"""Every screen a province administrator can open, visited by its keys from the first screen,
each until its data is shown: what the peak-memory figure of `make bench` measures after.

`visit_every_screen(pilot)` runs inside the app (tests.bench's probe, or a test's `run_test`);
it presses the keys a person would press, waits for the screen's workers and messages, checks
that the screen expected is on top with its data, and goes back. A screen that does not open,
or opens without its data, raises ScreenNotShown: the figure is never measured on fewer screens
than it says.
"""

from __future__ import annotations

from collections.abc import Callable


class ScreenNotShown(RuntimeError):
    """A screen did not open, or showed no data."""


def _table_rows(screen) -> int:
    from textual.widgets import DataTable

    return sum(table.row_count for table in screen.query(DataTable))


def _has_rows(screen) -> bool:
    return _table_rows(screen) > 0


def _always(_screen) -> bool:
    return True


async def _settled(pilot) -> None:
    from tests.bench_terminal import _settle

    await _settle(pilot)


async def _open(pilot, name: str, keys: tuple[str, ...], screen_class: str,
                shown: Callable[[object], bool] = _has_rows, visited: _Visits | None = None) -> object:
    """Press `keys`, then wait until a screen of class `screen_class` is on top, settled, and
    `shown(screen)`; the screen."""
    await pilot.press(*keys)
    for _ in range(50):  # a screen whose data comes in several steps (workers started by messages)
        await _settled(pilot)
        screen = pilot.app.screen
        if type(screen).__name__ == screen_class and shown(screen):
            if visited is not None:
                visited.append(name)
            return screen
        await pilot.pause(0.05)
    raise ScreenNotShown(f"{name}: {' '.join(keys)} showed {type(pilot.app.screen).__name__}, "
                         f"not {screen_class} with its data")


async def _back(pilot, screen_class: str = "MainScreen", *, discard: bool = False) -> None:
    """Escape; `discard`: a form asks whether to discard what it holds, and is told yes."""
    left = type(pilot.app.screen).__name__
    await pilot.press("escape")
    await _settled(pilot)
    if discard and type(pilot.app.screen).__name__ == "ConfirmDialog":
        await pilot.press("y")
        await _settled(pilot)
    if type(pilot.app.screen).__name__ != screen_class:
        raise ScreenNotShown(f"Escape on {left} led to {type(pilot.app.screen).__name__}, not {screen_class}")


async def _until(pilot, condition: Callable[[], bool], what: str) -> None:
    for _ in range(50):
        await _settled(pilot)
        if condition():
            return
        await pilot.pause(0.05)
    raise ScreenNotShown(f"never shown: {what}")


def busiest_branch_sql() -> str:
    return ("SELECT branch_id FROM case_file WHERE status = 'open' AND stage != 'official' GROUP BY branch_id "
            "ORDER BY count(id) DESC, branch_id LIMIT 1")


def _busiest_branch() -> int:
    """The branch with the most open files: given by the benchmark's driver (KETNAP_BENCH_BRANCH,
    so that the probe's own grouping of every open file is not counted in the app's memory),
    else read in the probe's own thread."""
    import os

    from peewee import fn

    from db import models

    if os.environ.get("KETNAP_BENCH_BRANCH"):
        return int(os.environ["KETNAP_BENCH_BRANCH"])

    C = models.CaseFile
    branch_id, _count = (C.select(C.branch_id, fn.count(C.id)).where(C.is_open())
                         .group_by(C.branch_id).order_by(fn.count(C.id).desc(), C.branch_id).tuples().first())
    return branch_id


class _Visits(list):
    """The names of the screens shown, in order; `on_shown(name)` is called as each is shown."""

    def __init__(self, on_shown: Callable[[str], None] | None) -> None:
        super().__init__()
        self.on_shown = on_shown

    def append(self, name: str) -> None:
        super().append(name)
        if self.on_shown is not None:
            self.on_shown(name)


async def visit_every_screen(pilot, search_text: str = "nguyen van",
                             on_shown: Callable[[str], None] | None = None) -> list[str]:
    """From the first screen (settled): every screen in turn, back to the first screen after each;
    the names of the screens shown, in order. `on_shown(name)` is called while each is shown
    (the probe prints the peak memory there: which screen makes it grow)."""
    from screens.main import MainScreen

    visited = _Visits(on_shown)
    main = pilot.app.screen
    if not isinstance(main, MainScreen) or not main.ready_for_input:
        raise ScreenNotShown("the first screen is not the tree and people list, ready")
    visited.append("tree and people list")
    await pilot.press("tab", "pagedown")  # to the list, its second page
    await _settled(pilot)

    await _open(pilot, "work list", ("w",), "WorklistScreen", _always, visited)
    await _back(pilot)
    await _open(pilot, "classes", ("k",), "ClassListScreen", _has_rows, visited)
    await pilot.press("enter")
    await _open(pilot, "a class", (), "ClassScreen", _always, visited)
    await _back(pilot, "ClassListScreen")
    await _back(pilot)
    await _open(pilot, "progress panel", ("p",), "ProgressScreen",
                lambda s: getattr(s, "stats", None) is not None, visited)
    await pilot.press("enter")
    await _open(pilot, "the people behind a number", (), "BehindScreen", _always, visited)
    await _back(pilot, "ProgressScreen")
    await _back(pilot)
    await _open(pilot, "search (Ctrl+F)", ("ctrl+f", *search_text), "SearchScreen",
                lambda s: s._shown_text == search_text and _has_rows(s), visited)
    await _back(pilot)
    word = (main.unit.name.split() or ["a"])[-1] if main.unit is not None else "a"
    await _open(pilot, "command palette (Ctrl+P)", ("ctrl+p", *word), "KetnapPalette",
                _palette_has_options, visited)
    await _back(pilot)
    await _open(pilot, "help (F1)", ("f1",), "HelpScreen", _always, visited)
    await _back(pilot)
    await _open(pilot, "change history of a unit", ("y",), "AuditScreen", _always, visited)
    await _back(pilot)
    await _open(pilot, "change history of a person", ("Y",), "AuditScreen", _always, visited)
    await _back(pilot)
    await _open(pilot, "accounts", ("U",), "AccountsScreen", _has_rows, visited)
    await _back(pilot)
    await _open(pilot, "reorganisation history of a unit", ("o",), "ReorganiseScreen", _always, visited)
    await _back(pilot)

    branch_id = _busiest_branch()
    main.show_unit_id(branch_id)  # as the search opening a unit
    await _until(pilot, lambda: main.unit is not None and main.unit.id == branch_id and main.page is not None,
                 f"the branch {branch_id} listed")
    await pilot.press("l")  # its candidates
    await _until(pilot, lambda: main.kind == "candidates" and main.page is not None
                 and any(r.case_id for r in main.page.rows), "the branch's candidates with their files")
    await _open(pilot, "meeting mode", ("M",), "MeetingScreen", _always, visited)
    await _back(pilot)
    await _open(pilot, "new candidate form", ("n",), "NewCaseForm", _always, visited)
    await _back(pilot, discard=True)
    from tui.widgets import PagedTable

    main.query_one(PagedTable).move_cursor(row=next(n for n, r in enumerate(main.page.rows) if r.case_id))
    await _open(pilot, "a case file", ("enter",), "CaseScreen", lambda s: getattr(s, "view", None) is not None, visited)
    await _open(pilot, "change history of a case file", ("y",), "AuditScreen", _always, visited)
    await _back(pilot, "CaseScreen")
    await _back(pilot)
    return list(visited)


def _palette_has_options(screen) -> bool:
    from textual.widgets import OptionList

    return any(o.option_count for o in screen.query(OptionList))
