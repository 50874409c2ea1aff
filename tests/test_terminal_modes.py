"""The session's terminal switches: --readonly, --low-bandwidth, --ascii, --mouse; no blinking
cursor; every action with a key that PuTTY sends with its default settings."""

from __future__ import annotations

import datetime
import importlib
import inspect
import pkgutil
import re
import sqlite3
import unicodedata

import pytest
from peewee import OperationalError
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

import screens
from db import access, connection, models, pipeline, progress
from db.access import AccessError, account_actor, may_manage_accounts, may_override, may_write
from screens.case import CaseScreen
from screens.import_people import ImportPeopleScreen
from screens.main import MainScreen
from screens.meeting import MeetingScreen
from screens.progress import ProgressScreen
from tests.ui_helpers import open_unit, screen_text, settle
from tui import cli, i18n
from tui.app import KetnapApp
from tui.ascii import to_ascii
from tui.context import AppContext, terminal_environ

TODAY = datetime.date(2021, 9, 30)
SIZE = (80, 24)


def app_for(location: str, login: str, **switches) -> KetnapApp:
    actor = account_actor(login)
    if switches.pop("readonly", False):
        actor = access.read_only_actor(actor)
    return KetnapApp(AppContext(location=location, actor=actor, today=TODAY, **switches),
                     theme="textual-dark")


# --- --readonly in the database layer ----------------------------------------------------------

@pytest.fixture
def read_only(demo_db):
    connection.set_read_only(models.database.obj)
    return demo_db


def test_a_read_only_actor_may_not_write_whatever_its_role(demo_db):
    admin = account_actor("demo_admin")
    assert may_write(admin) and may_override(admin) and may_manage_accounts(admin)
    frozen = access.read_only_actor(admin)
    assert frozen.is_admin and not may_write(frozen) and not may_override(frozen)
    assert not may_manage_accounts(frozen)


def test_every_write_transaction_is_refused_with_forbidden(read_only):
    with pytest.raises(AccessError) as refused:
        with connection.write_transaction():
            pass
    assert refused.value.code == "forbidden" and refused.value.params["readonly"]


def test_sqlite_itself_refuses_a_write_on_each_connection(read_only):
    count = models.Setting.select().count()
    with pytest.raises(OperationalError, match="readonly"):
        connection.set_setting("x", "1")
    # a worker thread opens its own connection: the pragma follows it there
    import threading

    errors = []

    def write():
        try:
            models.database.execute_sql("INSERT INTO setting (key, value) VALUES ('y', '1')")
        except Exception as exc:  # noqa: BLE001 - the error is the point
            errors.append(exc)
        finally:
            models.database.close()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    assert errors and "readonly" in str(errors[0])
    assert models.Setting.select().count() == count


def test_a_pipeline_write_by_a_read_only_admin_is_refused_before_anything(demo_db):
    frozen = access.read_only_actor(account_actor("demo_admin"))
    case = models.CaseFile.select().where(models.CaseFile.status == "open").first()
    with pytest.raises(AccessError) as refused:
        pipeline.hold(frozen, case.id, "x", today=TODAY)
    assert refused.value.params.get("readonly")


def test_a_read_only_session_sees_files_as_a_viewer_does_as_no_opening_can_be_logged(read_only):
    from db.cases import case_view

    frozen = access.read_only_actor(account_actor("demo_admin"))
    case = models.CaseFile.select().where(models.CaseFile.status == "open").first()
    entries = models.AuditEntry.select().count()
    view = case_view(frozen, case.id, TODAY)
    assert view.background_hidden and view.person.born is None
    assert models.AuditEntry.select().count() == entries


def test_progress_counts_are_read_but_not_stored_in_a_read_only_session(demo_db):
    models.MemberTally.delete().execute()  # none stored: reading counts them, and would keep them
    connection.set_read_only(models.database.obj)
    frozen = access.read_only_actor(account_actor("demo_admin"))
    root = models.Unit.get(models.Unit.code == "NS")
    figures = progress.stats(frozen, root.id, TODAY.year, TODAY)
    assert figures.members > 0
    assert models.MemberTally.select().count() == 0


def test_a_due_reorganisation_waits_for_a_session_that_may_write(read_only):
    from db.reorganise import apply_due

    assert apply_due(TODAY + datetime.timedelta(days=3650)) == 0


# --- --readonly on the command line --------------------------------------------------------------

@pytest.fixture
def quiet_cli(monkeypatch, tmp_path):
    for name in ("KETNAP_DB", "KETNAP_LANG", "KETNAP_USER", "KETNAP_TODAY", "KETNAP_READONLY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(connection, "SYSTEM_CONFIG", tmp_path / "no-etc" / "ketnap.toml")
    monkeypatch.setattr(connection, "user_config_file", lambda: tmp_path / "no-home" / "ketnap.toml")
    monkeypatch.setenv("COLUMNS", "200")
    yield
    i18n.set_language("vi")


def _run(capsys, *args):
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("command", [
    ["case", "hold", "{case}", "--reason", "x"],
    ["case", "new", "--branch", "NS-NP-03", "--name", "Nông Văn Thử", "--born", "1990-01-01", "--sex", "M"],
    ["target", "set", "--unit", "NS", "--year", "2021", "5"],
    ["users", "add", "someone", "--role", "viewer"],
    ["check", "--repair"],
    ["demo", "--force"],
    ["init"],
])
def test_cli_write_commands_refuse_in_a_read_only_session(demo_db, quiet_cli, capsys, command):
    case = models.CaseFile.select().where(models.CaseFile.status == "open").first().id
    connection.close_database()
    audit_rows = sqlite3.connect(demo_db).execute("SELECT count(*) FROM audit_entry").fetchone()[0]
    words = [w.format(case=case) for w in command]
    status, out, err = _run(capsys, "--db", demo_db, "--user", "demo_admin", "--lang", "en", "--readonly", *words)
    assert status == 1
    assert "read-only" in err
    con = sqlite3.connect(demo_db)
    assert con.execute("SELECT count(*) FROM audit_entry").fetchone()[0] == audit_rows
    con.close()


def test_cli_read_commands_work_and_the_variable_sets_read_only(demo_db, quiet_cli, capsys, monkeypatch):
    connection.close_database()
    status, out, err = _run(capsys, "--db", demo_db, "--user", "demo_admin", "--readonly", "units", "--json")
    assert status == 0 and "Ngân Sơn" in out
    status, out, err = _run(capsys, "--db", demo_db, "--user", "demo_admin", "--readonly", "whoami", "--json")
    assert status == 0 and '"readonly": true' in out
    status, out, err = _run(capsys, "--db", demo_db, "--user", "demo_admin", "whoami", "--json")
    assert status == 0 and '"readonly": false' in out
    monkeypatch.setenv("KETNAP_READONLY", "1")
    status, out, err = _run(capsys, "--db", demo_db, "--user", "demo_admin", "--lang", "en", "case", "hold", "1",
                            "--reason", "x")
    assert status == 1 and "read-only" in err
    status, out, err = _run(capsys, "--db", demo_db, "--user", "demo_admin", "--lang", "en",
                            "case", "hold", "1", "--reason", "x", "--json")
    assert status == 1 and '"code": "forbidden"' in out and "read-only" in out


def test_the_switches_are_global_options_a_forced_command_may_carry():
    environ = {"SSH_ORIGINAL_COMMAND": "worklist", "SSH_CONNECTION": "1 2 3 4"}
    assert cli.ssh_command(["--readonly", "--user", "luyen"], environ) == ["worklist"]
    assert cli.ssh_command(["--low-bandwidth", "--ascii", "--user", "luyen"], environ) == ["worklist"]
    # the client may add a switch, never take the forced command's --readonly away
    forced = ["--readonly", "--user", "luyen"]
    added = cli.ssh_command(forced, {**environ, "SSH_ORIGINAL_COMMAND": "--low-bandwidth"})
    assert added == ["--low-bandwidth"]
    both = cli.build_parser().parse_args(forced + added)
    assert both.readonly and both.low_bandwidth and both.command is None
    args = cli.build_parser().parse_args(["--readonly", "--low-bandwidth", "--ascii", "--mouse"])
    assert all(cli.switch_on(args, name, {}) for name in ("readonly", "low_bandwidth", "ascii", "mouse"))
    bare = cli.build_parser().parse_args([])
    assert not any(cli.switch_on(bare, name, {}) for name in ("readonly", "low_bandwidth", "ascii", "mouse"))
    assert cli.switch_on(bare, "ascii", {"KETNAP_ASCII": "yes"})
    assert not cli.switch_on(bare, "ascii", {"KETNAP_ASCII": "0"})


def test_the_application_gets_the_switches(demo_db, quiet_cli, monkeypatch):
    seen = {}
    import tui.app

    monkeypatch.setattr(tui.app, "run_app", lambda context: seen.setdefault("context", context))
    monkeypatch.setattr(cli.os, "environ", {})
    connection.close_database()
    assert cli.main(["--db", demo_db, "--user", "demo_secretary", "--readonly", "--ascii"]) == 0
    context = seen["context"]
    assert context.actor.readonly and context.ascii and not context.mouse and not context.low_bandwidth
    seen.clear()
    assert cli.main(["--db", demo_db, "--user", "demo_secretary", "--mouse", "--low-bandwidth"]) == 0
    context = seen["context"]
    assert context.mouse and context.low_bandwidth and not context.actor.readonly
    assert cli.os.environ["TEXTUAL_FPS"] == "10" and cli.os.environ["ESCDELAY"] == "400"


# --- --low-bandwidth -------------------------------------------------------------------------------

def test_low_bandwidth_lowers_the_frame_rate_and_lengthens_the_escape_delay():
    context = AppContext(location=":memory:", actor=access.SYSTEM, today=TODAY, low_bandwidth=True)
    environ = {}
    terminal_environ(context, environ)
    assert environ == {"TEXTUAL_FPS": "10", "ESCDELAY": "400"}
    environ = {"TEXTUAL_FPS": "5", "ESCDELAY": "1000"}  # already slower: kept
    terminal_environ(context, environ)
    assert environ == {"TEXTUAL_FPS": "5", "ESCDELAY": "1000"}
    environ = {"TEXTUAL_FPS": "60", "ESCDELAY": "25"}
    terminal_environ(context, environ)
    assert environ == {"TEXTUAL_FPS": "10", "ESCDELAY": "400"}
    plain = {"COLUMNS": "80", "LINES": "24", "TERM": "linux"}  # a size exported would pin the screen
    terminal_environ(AppContext(location=":memory:", actor=access.SYSTEM, today=TODAY), plain)
    assert plain == {"TERM": "linux"}


@pytest.mark.parametrize("low_bandwidth", [False, True])
async def test_low_bandwidth_turns_a_scrolled_text_a_page_at_a_time(demo_db, low_bandwidth):
    from screens.help import HelpScreen
    from textual.containers import VerticalScroll

    app = app_for(demo_db, "demo_admin", low_bandwidth=low_bandwidth)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        scroll = app.screen.query_one(VerticalScroll)
        assert app.focused is scroll and scroll.max_scroll_y > scroll.size.height
        await pilot.press("down")
        await pilot.pause()
        expected = scroll.size.height if low_bandwidth else 1
        assert scroll.scroll_y == expected
        await pilot.press("up")
        await pilot.pause()
        assert scroll.scroll_y == 0


def test_textual_reads_those_variables_when_imported():
    """The names are Textual's own (textual.constants): a rename there would make the switch
    silently do nothing."""
    import textual.constants

    source = inspect.getsource(textual.constants)
    assert '"TEXTUAL_FPS"' in source and '"ESCDELAY"' in source


# --- no blinking, no animation, no mouse -----------------------------------------------------------

class _Fields(Screen):
    """A screen with a text field and a text area made as Textual makes them (blinking)."""

    def compose(self):
        from textual.widgets import TextArea

        yield Input(id="field")
        yield TextArea(id="area")


async def test_no_text_field_blinks_and_nothing_animates(make_demo_app):
    from textual.widgets import TextArea

    app = make_demo_app("demo_organiser")
    assert app.animation_level == "none"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("I")  # the import screen opens on its path field
        await settle(pilot)
        assert isinstance(app.screen, ImportPeopleScreen)
        assert isinstance(app.focused, Input) and app.focused.cursor_blink is False
        await app.push_screen(_Fields())
        await pilot.pause()
        assert Input().cursor_blink and TextArea().cursor_blink  # Textual's default
        field, area = app.screen.query_one(Input), app.screen.query_one(TextArea)
        field.focus()
        await pilot.pause()
        area.focus()
        await pilot.pause()
        assert field.cursor_blink is False and area.cursor_blink is False


def test_the_mouse_is_off_unless_asked(monkeypatch):
    import tui.app

    asked = {}
    monkeypatch.setattr(tui.app.KetnapApp, "run", lambda self, **kw: asked.update(kw))
    monkeypatch.setattr(tui.app, "_log_to_file", lambda: None)
    actor = access.Actor(1, "x", "viewer", None)
    tui.app.run_app(AppContext(location=":memory:", actor=actor, today=TODAY))
    assert asked == {"mouse": False}
    tui.app.run_app(AppContext(location=":memory:", actor=actor, today=TODAY, mouse=True))
    assert asked == {"mouse": True}


# --- --readonly on the screens ---------------------------------------------------------------------

async def test_a_read_only_session_says_so_and_hides_the_writing_keys(demo_db):
    app = app_for(demo_db, "demo_admin", readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "CHỈ XEM" in text.splitlines()[0]
        tree_keys = {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}
        assert "U" not in tree_keys  # an administrator's accounts key, not in this footer
        help_keys = {b.key for bindings in app.screen._bindings.key_to_bindings.values()
                     for b in bindings if b.description}
        assert not {"I", "n"} & help_keys  # not offered in the help (F1) either
        for key in ("I", "U", "n"):  # they answer, with why they do nothing
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, MainScreen)
        case = models.CaseFile.select().where(models.CaseFile.status == "open").first()
        app.push_screen(CaseScreen(app.context, case.id))
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        shown = {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}
        assert "a" not in shown and "u" not in shown, footer
        assert tree_keys


async def test_a_read_only_administrator_is_told_the_session_is_read_only_not_about_roles(demo_db):
    app = app_for(demo_db, "demo_admin", readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ProgressScreen)
        shown = {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}
        assert "t" not in shown  # setting the target: not offered
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ProgressScreen)  # no form
        text = screen_text(app)
        assert "Phiên chỉ xem" in text and "Chỉ cán bộ tổ chức" not in text


async def test_a_writing_session_has_no_read_only_mark(demo_db):
    app = app_for(demo_db, "demo_admin")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "CHỈ XEM" not in screen_text(app)
        assert "U" in {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}


# --- --ascii ------------------------------------------------------------------------------------

def drawn_outside_ascii(text: str) -> set[str]:
    """The characters of a screen that are neither ASCII nor letters (with their tone marks) nor
    digits."""
    return {ch for ch in text if not ch.isascii()
            and unicodedata.category(ch)[0] not in "LM" and unicodedata.category(ch) != "Nd"}


def test_the_stand_ins_keep_the_letters_and_the_width():
    line = "▼ Đảng bộ tỉnh Bắc Kạn │ Tất cả · dòng 1–20/664 ├ └ ─ ┌┐ ▲ ► █▀▄░ … “x” ▇"
    out = to_ascii(line)
    assert out.isascii() is False and not drawn_outside_ascii(out)
    assert "Đảng bộ tỉnh Bắc Kạn" in out and len(out) == len(line)
    assert out.startswith("v ") and "| Tất cả | dòng 1-20/664 + + - ++ ^ >" in out


@pytest.mark.parametrize("command", [["units"], ["worklist"]])
def test_ascii_on_the_command_line_draws_tables_and_trees_in_ascii(demo_db, quiet_cli, capsys, command):
    connection.close_database()
    status, plain, err = _run(capsys, "--db", demo_db, "--user", "demo_xa", *command)
    assert status == 0 and drawn_outside_ascii(plain)  # ├── and table borders
    status, out, err = _run(capsys, "--db", demo_db, "--user", "demo_xa", "--ascii", *command)
    assert status == 0 and not drawn_outside_ascii(out), drawn_outside_ascii(out)
    assert "Nà Phặc" in out and len(out.splitlines()) == len(plain.splitlines())
    status, data, err = _run(capsys, "--db", demo_db, "--user", "demo_xa", "--ascii", *command, "--json")
    assert status == 0 and data == _run(capsys, "--db", demo_db, "--user", "demo_xa", *command, "--json")[1]


async def _four_screens(app, pilot) -> dict[str, str]:
    shots = {}
    await settle(pilot)
    shots["main"] = screen_text(app)
    unit = models.Unit.get(models.Unit.code == "NS-NP-14")
    await open_unit(pilot, unit.id)
    await pilot.press("M")
    await settle(pilot)
    assert isinstance(app.screen, MeetingScreen)
    shots["meeting"] = screen_text(app)
    await pilot.press("escape")
    await settle(pilot)
    await pilot.press("shift+tab")
    await pilot.press("p")
    await settle(pilot)
    assert isinstance(app.screen, ProgressScreen)
    shots["progress"] = screen_text(app)
    await pilot.press("escape")
    await settle(pilot)
    case = models.CaseFile.select().where(models.CaseFile.status == "open").first()
    app.push_screen(CaseScreen(app.context, case.id))
    await settle(pilot)
    shots["case"] = screen_text(app)
    return shots


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_ascii_mode_draws_nothing_outside_ascii_but_letters(demo_db, size):
    app = app_for(demo_db, "demo_admin", ascii=True)
    async with app.run_test(size=size) as pilot:
        shots = await _four_screens(app, pilot)
    for name, text in shots.items():
        assert not drawn_outside_ascii(text), (name, drawn_outside_ascii(text), text)
        assert re.search(r"[À-ỹ]", text), name  # the Vietnamese text itself stays
    assert "Ngân Sơn" in shots["main"]


async def test_without_ascii_the_same_screens_draw_box_characters(demo_db):
    """The check above can fail: the ordinary screens do draw outside ASCII."""
    app = app_for(demo_db, "demo_admin")
    async with app.run_test(size=SIZE) as pilot:
        shots = await _four_screens(app, pilot)
    for name, text in shots.items():
        assert drawn_outside_ascii(text), name


async def test_ascii_mode_leaves_scroll_bars_as_they_were_after_the_session(demo_db):
    from textual.scrollbar import ScrollBar, ScrollBarRender

    app = app_for(demo_db, "demo_admin", ascii=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert ScrollBar.renderer is not ScrollBarRender
    assert ScrollBar.renderer is ScrollBarRender


# --- keys that PuTTY sends with its default settings -----------------------------------------------

# ctrl+h, ctrl+i, ctrl+m and ctrl+[ arrive as Backspace, Tab, Enter and Escape: not keys of their own
_NOT_A_CTRL_KEY = {"h", "i", "m", "["}
_NAMED = {"enter", "escape", "tab", "shift+tab", "up", "down", "left", "right", "pageup", "pagedown",
          "home", "end", "delete", "backspace", "space", "insert"}


def putty_safe(key: str) -> bool:
    """A key a terminal sends as itself with PuTTY's default settings: a printable character
    (by name too, such as question_mark), a named key of the list above, ctrl+a..z (but h, i,
    m). F-keys, ctrl+arrows, alt+ and shift+ with a named key are extras only."""
    key = key.strip()
    if key in _NAMED:
        return True
    if key.startswith("ctrl+"):
        rest = key[5:]
        return len(rest) == 1 and rest.isalpha() and rest.lower() not in _NOT_A_CTRL_KEY
    if len(key) == 1:
        return key.isprintable()
    if "+" in key or key.startswith("f") and key[1:].isdigit():
        return False
    from textual.keys import _character_to_key

    return key in {_character_to_key(chr(code)) for code in range(32, 127)}


def _binding_classes():
    for module_info in pkgutil.iter_modules(screens.__path__):
        module = importlib.import_module(f"screens.{module_info.name}")
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if value.__module__ == module.__name__ and issubclass(value, (Screen, App)) or \
                    value.__module__ == module.__name__ and "BINDINGS" in value.__dict__:
                yield value
    yield KetnapApp
    from tui import widgets

    for _name, value in inspect.getmembers(widgets, inspect.isclass):
        if value.__module__ == widgets.__name__ and "BINDINGS" in value.__dict__:
            yield value


def _actions(cls) -> dict[str, list[str]]:
    """action -> its keys, from every BINDINGS up the class's own hierarchy in this project."""
    keys: dict[str, list[str]] = {}
    for klass in cls.__mro__:
        if not klass.__module__.startswith(("screens.", "tui.")):
            continue
        for binding in klass.__dict__.get("BINDINGS", []):
            if isinstance(binding, tuple):
                binding = Binding(*binding)
            for key in binding.key.split(","):
                # help and help(True): one action with the keys of both
                keys.setdefault(binding.action.split("(")[0], []).append(key.strip())
    return keys


def test_the_key_check_can_tell_safe_keys_from_extras():
    assert all(putty_safe(k) for k in ("a", "M", "1", "question_mark", "slash", "left_square_bracket",
                                       "enter", "pagedown", "ctrl+q", "ctrl+s", "shift+tab", "space"))
    assert not any(putty_safe(k) for k in ("f1", "f5", "ctrl+left", "alt+x", "ctrl+h", "ctrl+i",
                                           "ctrl+m", "ctrl+pageup", "shift+up"))


def test_every_action_has_a_key_that_putty_sends_with_default_settings():
    missing = {}
    classes = list(_binding_classes())
    assert len(classes) > 15
    for cls in classes:
        for action, keys in _actions(cls).items():
            if not any(putty_safe(k) for k in keys):
                missing[f"{cls.__module__}.{cls.__name__}:{action}"] = keys
    assert not missing, missing


@pytest.mark.parametrize("argv", [[], ["--readonly", "--user", "luyen"], ["--db", "x.sqlite3", "--lang", "en"],
                                  ["--today", "2021-09-30", "--ascii", "--mouse", "--low-bandwidth"]])
def test_opening_the_application_is_parsed_as_the_whole_parser_parses_it(argv):
    """Opening the application skips building the commands' parsers (a tenth of the start-up):
    the options come out as the whole parser gives them."""
    assert vars(cli.parse_arguments(argv)) == vars(cli.build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["units"], ["--db", "x.sqlite3", "find", "mai"], ["--readonly", "worklist"]])
def test_a_command_is_parsed_by_the_whole_parser(argv):
    assert vars(cli.parse_arguments(argv)) == vars(cli.build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["--today"], ["--frobnicate"], ["--read"], ["--lang", "fr"], ["--help"]])
def test_a_mistake_or_help_is_answered_by_the_whole_parser(argv, capsys):
    with pytest.raises(SystemExit) as light:
        cli.parse_arguments(argv)
    said = capsys.readouterr()
    with pytest.raises(SystemExit) as whole:
        cli.build_parser().parse_args(argv)
    assert light.value.code == whole.value.code
    assert said == capsys.readouterr()  # the same usage line and message, commands listed
