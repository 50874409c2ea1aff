"""Back and forward through the places the user has been (`[` and `]`, Alt+← and Alt+→).

A place is the main screen's list (the unit, which list, the page, the highlighted row and the
filter: `screens.main.ListPlace`) and, when the user was on a screen opened from it (the work
list, progress, classes...), which one. Leaving a place by the command palette or by opening
another unit from the tree records it; going back returns to the main screen, puts the list as
it was and opens that screen again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.app import App
from textual.screen import ModalScreen

from screens.main import ListPlace, MainScreen
from tui.i18n import t

LIMIT = 50  # places kept each way

# The screens opened from the main screen, by the main screen's action that opens them. Other
# screens (a file, the change history of a person...) come back as the main screen below them.
SCREEN_ACTIONS = {
    "WorklistScreen": "worklist",
    "MeetingScreen": "meeting",
    "ClassListScreen": "classes",
    "ProgressScreen": "progress",
    "AccountsScreen": "accounts",
    "ReorganiseScreen": "reorganise",
    "ImportPeopleScreen": "import_people",
}


@dataclass(frozen=True)
class Place:
    list: ListPlace
    screen: str | None = None  # the main screen's action that opens the screen, if any


def main_screen(app: App) -> MainScreen | None:
    return next((s for s in reversed(app.screen_stack) if isinstance(s, MainScreen)), None)


class History:
    """The places left behind (`back`) and those gone back from (`forward`)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.back: list[Place] = []
        self.forward: list[Place] = []

    def here(self) -> Place | None:
        main = main_screen(self.app)
        if main is None:
            return None
        stack = self.app.screen_stack
        above = stack[stack.index(main) + 1:]
        screen = SCREEN_ACTIONS.get(type(above[0]).__name__) if above else None
        return Place(main.place(), screen)

    def record(self) -> None:
        """The user leaves the place they are in for another: remember it."""
        place = self.here()
        if place is None or place.list.unit_id is None:
            return
        if not self.back or self.back[-1] != place:
            self.back.append(place)
            del self.back[:-LIMIT]
        self.forward.clear()

    def leave(self, then: Callable[[MainScreen], None]) -> None:
        """Back to the main screen (asking first when a form holds typed input), then `then`."""
        app = self.app
        main = main_screen(app)
        if main is None or isinstance(app.screen, ModalScreen):
            return
        stack = app.screen_stack
        dirty = any(getattr(s, "is_dirty", None) and s.is_dirty()
                    for s in stack[stack.index(main) + 1:])

        def go(confirmed: bool | None = True) -> None:
            if not confirmed:
                return
            while app.screen is not main:
                app.pop_screen()
            then(main)

        if dirty:
            from screens.dialogs import ConfirmDialog

            app.push_screen(ConfirmDialog(t("palette.discard_question")), go)
        else:
            go()

    def go_back(self) -> None:
        self._step(self.back, self.forward, "palette.history_start")

    def go_forward(self) -> None:
        self._step(self.forward, self.back, "palette.history_end")

    def _step(self, source: list[Place], other: list[Place], empty: str) -> None:
        if not source:
            self.app.notify(t(empty), markup=False, timeout=3)
            return

        here = self.here()

        def restore(main: MainScreen) -> None:
            place = source.pop()
            if here is not None and here.list.unit_id is not None:
                other.append(here)
            main.restore_place(place.list)
            if place.screen is not None:
                getattr(main, f"action_{place.screen}")()

        self.leave(restore)
