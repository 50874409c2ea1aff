"""The command palette (Ctrl+P or `:`) and the back/forward history (`[` and `]`)."""

from __future__ import annotations

import datetime

from textual.command import CommandList, CommandPalette
from textual.widgets import Input

from db.access import account_actor
from db.units import find_unit
from screens.main import MainScreen
from screens.worklist import WorklistScreen
from tests.ui_helpers import open_unit, screen_text, settle
from tui.palette import KetnapPalette, match
from tui.widgets import PagedTable, UnitTree, help_rows

TODAY = datetime.date(2021, 9, 30)
SIZE = (100, 30)


def _prompts(app) -> list[str]:
    commands = app.screen.query_one(CommandList)
    return [commands.get_option_at_index(i).prompt.plain for i in range(commands.option_count)]


async def _palette(pilot, text: str, key: str = "ctrl+p") -> list[str]:
    await pilot.press(key)
    await settle(pilot)
    assert CommandPalette.is_open(pilot.app)
    await pilot.press(*text)
    await settle(pilot)
    return _prompts(pilot.app)


async def _choose(pilot, app, startswith: str) -> None:
    """Move the palette's highlight to the first command starting with `startswith`; Enter."""
    prompts = _prompts(app)
    index = next(i for i, p in enumerate(prompts) if p.startswith(startswith))
    app.screen.query_one(CommandList).highlighted = index
    await pilot.press("enter")
    await settle(pilot)


def _highlighted_person(app) -> int:
    screen = app.screen
    table = screen.query_one(PagedTable)
    return screen.page.rows[table.cursor_row].id


def test_every_word_must_match_ignoring_diacritics():
    assert match(["na", "phac"], "dang bo thi tran na phac ns-np") is not None
    assert match(["phac", "na"], "dang bo thi tran na phac ns-np") is not None
    assert match(["na", "chao"], "chi bo to dan pho na phac ns-np-01") is None
    # a word found in the unit above counts, for less than in the unit's own name
    own = match(["phac"], "chi bo truong thcs na phac ns-np-25", "dang bo thi tran na phac")
    above = match(["phac"], "chi bo to dan pho pac cap ns-np-03", "dang bo thi tran na phac")
    assert above is not None and own > above
    # the start of a word counts for more than the middle of one
    assert match(["ha"], "ha giang") > match(["ha"], "chi bo thanh")


async def test_ctrl_p_and_colon_open_the_palette_in_the_users_language(make_demo_app):
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("ctrl+p", "colon"):
            await pilot.press(key)
            await settle(pilot)
            assert CommandPalette.is_open(app)
            text = screen_text(app)
            assert "Gõ tên đơn vị" in text and "Mở: Việc cần làm" in text
            # none of Textual's own commands (English)
            assert "theme" not in text.lower() and "screenshot" not in text.lower()
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, MainScreen)


async def test_units_are_found_typed_without_diacritics_and_listed(make_demo_app):
    actor = account_actor("demo_organiser")
    branch = find_unit(actor, "NS-NP-25", TODAY)
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        prompts = await _palette(pilot, "na phac")
        assert prompts[0].startswith("Đơn vị: Đảng bộ thị trấn Nà Phặc")
        assert any(p.startswith("Đơn vị: Chi bộ Trường THCS Nà Phặc") for p in prompts)
        assert all("Nà Phặc" in p or "Đơn vị" not in p for p in prompts[:10])
        await _choose(pilot, app, "Đơn vị: Chi bộ Trường THCS Nà Phặc")
        screen = app.screen
        assert isinstance(screen, MainScreen) and screen.unit.id == branch.id
        assert screen.query_one(UnitTree).cursor_node.data.id == branch.id
        assert "Chi bộ Trường THCS Nà Phặc" in screen_text(app)


async def test_nothing_found_is_said_in_the_users_language(make_demo_app, monkeypatch):
    monkeypatch.setattr(KetnapPalette, "_NO_MATCHES_COUNTDOWN", 0.001)  # not half a second later
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _palette(pilot, "zzqx")
        await settle(pilot)
        assert _prompts(app) == ["Không tìm thấy"]


async def test_a_screen_chosen_opens_as_its_key_does(make_demo_app):
    actor = account_actor("demo_organiser")
    branch = find_unit(actor, "NS-NP-14", TODAY)
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, branch.id)
        prompts = await _palette(pilot, "viec can")
        assert prompts[0] == "Mở: Việc cần làm  w"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)
        assert app.screen.unit.id == branch.id


async def test_the_current_screens_keys_are_offered_by_name(make_demo_app):
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        kind = app.screen.kind
        prompts = await _palette(pilot, "loai")
        assert "Loại  l" in prompts
        await _choose(pilot, app, "Loại")
        assert app.screen.kind != kind


async def test_a_viewer_is_not_offered_accounts_nor_import(make_demo_app):
    app = make_demo_app("demo_viewer")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        prompts = _prompts(app)
        assert "Mở: Việc cần làm  w" in prompts
        assert not any("Tài khoản" in p or "Nhập danh sách" in p for p in prompts), [p for p in prompts if "Tài khoản" in p or "Nhập danh sách" in p]
    admin = make_demo_app("demo_admin")
    async with admin.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert "Mở: Tài khoản  U" in _prompts(admin)


async def test_colon_typed_into_a_text_field_is_a_colon(make_demo_app):
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("I")
        await settle(pilot)
        assert isinstance(app.focused, Input)
        await pilot.press("colon", "left_square_bracket", "right_square_bracket")
        await settle(pilot)
        assert not CommandPalette.is_open(app)
        assert app.focused.value.endswith(":[]")


async def test_back_and_forward_keep_the_unit_the_page_and_the_row(make_demo_app):
    actor = account_actor("demo_organiser")
    town = find_unit(actor, "NS-NP", TODAY)
    other = find_unit(actor, "NS-NP-05", TODAY)
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, town.id)
        await pilot.press("pagedown")
        await settle(pilot)
        for _ in range(3):
            await pilot.press("down")
        screen = app.screen
        first, person = screen.first_index, _highlighted_person(app)
        assert first > 0 and screen.query_one(PagedTable).cursor_row == 3
        await _palette(pilot, "na chao")
        await _choose(pilot, app, "Đơn vị: Chi bộ Tổ dân phố Nà Cháo")
        assert screen.unit.id == other.id

        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert screen.unit.id == town.id
        assert screen.first_index == first
        assert screen.query_one(PagedTable).cursor_row == 3
        assert _highlighted_person(app) == person
        assert screen.query_one(UnitTree).cursor_node.data.id == town.id

        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.unit.id == other.id
        await pilot.press("alt+left")
        await settle(pilot)
        assert screen.unit.id == town.id and _highlighted_person(app) == person
        await pilot.press("alt+right")
        await settle(pilot)
        assert screen.unit.id == other.id
        # by name, from the palette, as well
        await _palette(pilot, "cho truoc")
        await _choose(pilot, app, "Về chỗ trước  [")
        assert screen.unit.id == town.id and _highlighted_person(app) == person


async def test_back_from_a_screen_returns_to_the_place_and_forward_reopens_it(make_demo_app):
    actor = account_actor("demo_organiser")
    town = find_unit(actor, "NS-NP", TODAY)
    branch = find_unit(actor, "NS-NP-14", TODAY)
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, town.id)
        await open_unit(pilot, branch.id)  # opening from the tree records the place left
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and app.screen.unit.id == town.id
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen) and app.screen.unit.id == branch.id
        await pilot.press("right_square_bracket")  # nothing further: said, nothing moves
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)
        assert any("Không còn" in str(n.message) for n in app._notifications)


async def test_the_history_keys_are_in_the_help(make_demo_app):
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert app.screen.IS_HELP
        keys = {row[0] for row in help_rows([app])}  # the help's last part: keys everywhere
        assert {"Ctrl+P, :", "[, Alt+←", "], Alt+→"} <= keys


async def test_without_colours_the_highlighted_command_is_reversed(make_demo_app, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _palette(pilot, "na phac")
        commands = app.screen.query_one(CommandList)
        assert app.no_color and commands.highlighted == 0

        def reversed_lines() -> list[int]:
            return [y for y in range(6) if any(segment.style and segment.style.reverse
                                               for segment in commands.render_line(y))]

        assert reversed_lines() == [0, 1]  # the unit's name and the line below it
        await pilot.press("down")
        await pilot.pause()
        assert reversed_lines() == [2, 3]


async def test_leaving_a_form_with_typed_input_asks_first(make_demo_app):
    from screens.dialogs import ConfirmDialog
    from screens.new_case import NewCaseForm

    actor = account_actor("demo_organiser")
    branch = find_unit(actor, "NS-NP-14", TODAY)
    other = find_unit(actor, "NS-NP-05", TODAY)
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_unit(pilot, branch.id)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, NewCaseForm) and isinstance(app.focused, Input)
        await pilot.press(*"Lan")
        for answer in ("k", "c"):
            await _palette(pilot, "na chao")
            await _choose(pilot, app, "Đơn vị: Chi bộ Tổ dân phố Nà Cháo")
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press(answer)
            await settle(pilot)
            if answer == "k":  # no: the form stays, as typed
                assert app.screen is form and form.is_dirty()
        assert isinstance(app.screen, MainScreen) and app.screen.unit.id == other.id
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert app.screen.unit.id == branch.id


def test_the_units_read_are_kept_until_the_tree_changes(demo_db):
    from db import connection, models
    from tui.palette import read_units

    actor = account_actor("demo_xa")
    first = read_units(actor, TODAY)
    connection.open_database(demo_db)  # the reading closed this thread's connection
    names = [entry.name for entry in first[1]]
    assert names[0] == "Đảng bộ thị trấn Nà Phặc" and "Chi bộ Tổ dân phố Nà Cháo" in names
    assert not any("Bằng Vân" in name for name in names)  # outside the account's commune
    assert read_units(actor, TODAY, first) is first
    connection.open_database(demo_db)
    connection.new_tree_version(models.database)
    again = read_units(actor, TODAY, first)
    assert again is not first and again[1] == first[1]


async def test_a_name_typed_right_behind_the_colon_reaches_the_palette_every_time(make_demo_app):
    """`:` and a name arriving in one read (typed fast over a slow link): every letter lands in
    the palette's field, the second time too, and none acts as a key of the screen below."""
    from textual import events

    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(2):
            for key, character in [("colon", ":")] + [("space" if c == " " else c, c) for c in "ban chang"]:
                app.post_message(events.Key(key, character))
            await settle(pilot)
            assert CommandPalette.is_open(app)
            assert app.screen.query_one(Input).value == "ban chang"
            assert isinstance(app.screen_stack[-2], MainScreen)  # no key opened a screen below
            await pilot.press("escape")
            await settle(pilot)
