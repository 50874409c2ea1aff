"""Typing into the forms when the keys arrive in one burst (a slow SSH link delivers them so):
the text after Tab belongs to the next field, and Shift+Tab goes back the same way.

The keys are posted to the application all at once, as the terminal driver does with a burst,
without letting any of them be handled before the next is queued."""

from __future__ import annotations

import datetime

import pytest
from textual import events
from textual.widgets import Input, Static

from db import models
from screens.new_case import NewCaseForm
from screens.step_form import StepForm
from tests.ui_helpers import open_unit, settle
from tui import i18n
from tui.app import KetnapApp
from tui.context import AppContext

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)

pytestmark = pytest.mark.slow


@pytest.fixture
def app(demo_db, demo_admin):
    yield KetnapApp(AppContext(demo_db, demo_admin, TODAY, "vi"))
    i18n.set_language("vi")


def burst(app, *keys: str) -> None:
    """Queue the keys as one read from the terminal: single characters and key names."""
    for key in keys:
        if key == "tab":
            app.post_message(events.Key("tab", "\t"))
        elif key == "shift+tab":
            app.post_message(events.Key("shift+tab", None))
        else:
            for char in key:
                app.post_message(events.Key(char, char))


async def focus(pilot, field: str) -> None:
    pilot.app.screen.query_one(f"#in-{field}", Input).focus()
    await pilot.pause()


def value(app, field: str) -> str:
    return app.screen.query_one(f"#in-{field}", Input).value


async def test_step_form_text_after_tab_goes_to_the_next_field(app):
    dossier = models.CaseFile.select().where((models.CaseFile.stage == "dossier")
                                             & (models.CaseFile.status == "open")).first()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.push_screen(StepForm(app.context, dossier.id, "dossier", "X"))
        await settle(pilot)
        await focus(pilot, "resolution")
        burst(app, "18NQCB", "tab", "9", "tab", "x", "tab", "0")
        await settle(pilot)
        assert (value(app, "resolution"), value(app, "for"), value(app, "convened"),
                value(app, "excused")) == ("18NQCB", "9", "x", "0")  # focus selects the 0
        # the error below a field still follows what is typed
        error = app.screen.query_one("#field-convened .form-error", Static)
        assert error.display and "chữ số" in str(error.render())
        assert not app.screen.query_one("#field-for .form-error", Static).display
        burst(app, "shift+tab", "shift+tab", "7", "tab", "1")
        await settle(pilot)
        assert (value(app, "for"), value(app, "convened")) == ("7", "1")  # focus selects what was there
        assert app.focused is app.screen.query_one("#in-convened", Input)


async def test_new_case_form_text_after_tab_goes_to_the_next_field(app):
    branch = models.Unit.get(models.Unit.code == "NS-NP-01")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, branch.id)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NewCaseForm)
        assert app.focused is app.screen.query_one("#in-full_name", Input)
        burst(app, "Hoàng Thị Thử", "tab", "Thử", "tab", "tab", "02/03/2001", "tab", "0013")
        await settle(pilot)
        assert (value(app, "full_name"), value(app, "other_name"), value(app, "born"),
                value(app, "citizen_id")) == ("Hoàng Thị Thử", "Thử", "02/03/2001", "0013")
        error = app.screen.query_one("#field-citizen_id .form-error", Static)
        assert error.display and "12" in str(error.render())
