"""The `ketnap` command line: global options, the subcommands, and opening the application.

Everything the user reads goes through `tui.i18n.t`. Text that comes from the database (or from
the command line) is always printed literally: Rich gets `Text` objects and a console with markup
off, and control characters are stripped from everything printed, JSON included.

Rich is imported only when a table or tree is drawn and Textual only when the application opens,
so that scripted use stays fast.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sqlite3
import sys
from dataclasses import dataclass

from db import connection, models  # first: db keeps PostgreSQL's driver out of peewee's import
from peewee import PeeweeException  # noqa: I001
from db.access import (AccessError, Actor, active_accounts, first_admin, has_accounts,
                       has_active_account, os_login, resolve_actor)
from db.text import clean, printable
from tui import i18n
from tui.i18n import t

ENV_DB = "KETNAP_DB"
ENV_LANG = "KETNAP_LANG"
ENV_USER = "KETNAP_USER"
ENV_TODAY = "KETNAP_TODAY"
ENV_READONLY = "KETNAP_READONLY"
ENV_LOW_BANDWIDTH = "KETNAP_LOW_BANDWIDTH"
ENV_ASCII = "KETNAP_ASCII"
ENV_MOUSE = "KETNAP_MOUSE"
# The switches of the session (option, else its variable set to 1, yes, true or on).
_SWITCHES = {"readonly": ENV_READONLY, "low_bandwidth": ENV_LOW_BANDWIDTH, "ascii": ENV_ASCII,
             "mouse": ENV_MOUSE}
# What a read-only session may not run at all: they write before any account is known.
_READONLY_REFUSED = ("init", "demo", "synth")

# Commands that run before any account exists: they create the administrator.
_NO_ACCOUNT_COMMANDS = ("init", "demo")

class Refusal(Exception):
    """A refusal with one of interfaces.md's codes and the message in the user's language."""

    def __init__(self, code: str, message: str, **extra):
        super().__init__(code)
        self.code = code
        self.message = message
        self.extra = extra


# --- text that is printed -----------------------------------------------------------------

def safe(value) -> str:
    """`value` as text fit for a terminal: no control characters (newline and tab kept)."""
    if value is None:
        return ""
    return printable(str(value))


def _scrub(value):
    """A JSON-ready structure with control characters removed from every string."""
    if isinstance(value, str):
        return safe(value)
    if isinstance(value, dict):
        return {safe(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def print_json(document) -> None:
    sys.stdout.write(json.dumps(_scrub(document), ensure_ascii=False, indent=2) + "\n")


def _err(message: str) -> None:
    sys.stderr.write(safe(message) + "\n")


# --ascii for this command: its tables and trees drawn in ASCII (JSON and files are left as they are)
_ascii_output = False


def _console():
    from rich.console import Console

    if _ascii_output:
        from tui.ascii import AsciiOutput

        return Console(file=AsciiOutput(sys.stdout), markup=False, emoji=False, highlight=False)
    return Console(markup=False, emoji=False, highlight=False)


def _text(value, style: str = ""):
    from rich.text import Text

    return Text(safe(value), style=style)


def _table(title_key: str, header_keys: tuple[str, ...], rows: list[tuple], *, keep=(0, 1)):
    """A Rich table of `rows` (cells already text), without the columns empty in every row
    (except those in `keep`)."""
    from rich.table import Table

    shown = [i for i in range(len(header_keys))
             if i in keep or any(str(row[i]) for row in rows)]
    table = Table(title=_text(t(title_key)), title_justify="left")
    for i in shown:
        table.add_column(_text(t(header_keys[i])))
    for row in rows:
        table.add_row(*(row[i] if not isinstance(row[i], str) else _text(row[i]) for i in shown))
    return table


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None


# --- argparse in the user's language ------------------------------------------------------

# argparse's own messages (usage, errors) and the key of their translation.
_ARGPARSE_MESSAGES = {
    "usage: ": "cli.argparse.usage",
    "positional arguments": "cli.argparse.positional",
    "options": "cli.argparse.options",
    "show this help message and exit": "cli.argparse.help",
    "%(prog)s: error: %(message)s\n": "cli.argparse.error",
    "the following arguments are required: %s": "cli.argparse.required",
    "unrecognized arguments: %s": "cli.argparse.unrecognized",
    "invalid choice: %(value)r (choose from %(choices)s)": "cli.argparse.invalid_choice",
    "argument %(argument_name)s: %(message)s": "cli.argparse.argument",
    "expected one argument": "cli.argparse.expected_one",
    "invalid %(type)s value: %(value)r": "cli.argparse.invalid_value",
    "ambiguous option: %(option)s could match %(matches)s": "cli.argparse.ambiguous",
}


def _argparse_gettext(message: str) -> str:
    key = _ARGPARSE_MESSAGES.get(message)
    return i18n.t(key) if key and i18n.has(key) else message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        super().error(safe(message))  # it may quote what was typed


class _Version(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(f"ketnap {version()}\n")
        parser.exit()


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as package_version

    try:
        return package_version("ketnap")
    except PackageNotFoundError:
        return "0+unknown"


def _case_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("cli.usage.bad_id", value=safe(text))) from None
    if value < 1:
        raise argparse.ArgumentTypeError(t("cli.usage.bad_id", value=safe(text)))
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("cli.usage.bad_limit", value=safe(text))) from None
    if value < 1:
        raise argparse.ArgumentTypeError(t("cli.usage.bad_limit", value=safe(text)))
    return value


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("cli.usage.bad_days", value=safe(text))) from None
    if value < 0:
        raise argparse.ArgumentTypeError(t("cli.usage.bad_days", value=safe(text)))
    return value


class _NotOnlyOptions(Exception):
    """The light parser met something it does not know: a command, or a mistake."""


class _OptionsParser(_Parser):
    def error(self, message: str):
        raise _NotOnlyOptions(message)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """`argv` parsed: opening the application (only options, no command) is parsed without the
    commands' parsers, whose building imports most of the db package (a tenth of the start-up);
    anything else, help and every mistake included, by the whole parser."""
    if not any(arg in ("-h", "--help") for arg in argv):
        try:
            args, rest = build_parser(commands=False).parse_known_args(argv)
        except _NotOnlyOptions:
            rest = argv
        if not rest:
            args.command = None
            return args
    return build_parser().parse_args(argv)


def build_parser(*, commands: bool = True) -> argparse.ArgumentParser:
    """The parser, its help in the current language (set it first); without `commands`, only
    the options that open the application."""
    argparse._ = _argparse_gettext  # argparse's own words (usage:, error:) follow the language
    parser = (_Parser if commands else _OptionsParser)(
        prog="ketnap", description=t("cli.help.description"), allow_abbrev=False)
    parser.add_argument("--db", metavar="PATH|URL", help=t("cli.help.db"))
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help=t("cli.help.lang"))
    parser.add_argument("--user", metavar="NAME", help=t("cli.help.user"))
    parser.add_argument("--today", metavar="YYYY-MM-DD", help=t("cli.help.today"))
    parser.add_argument("--readonly", action="store_true", help=t("terminal.help.readonly"))
    parser.add_argument("--low-bandwidth", action="store_true", help=t("terminal.help.low_bandwidth"))
    parser.add_argument("--ascii", action="store_true", help=t("terminal.help.ascii"))
    parser.add_argument("--mouse", action="store_true", help=t("terminal.help.mouse"))
    parser.add_argument("--version", action=_Version, help=t("cli.help.version"))
    if not commands:
        return parser
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     title=t("cli.help.commands"))

    def command(name: str, key: str, parent=commands):
        return parent.add_parser(name, help=t(f"cli.help.{key}"), description=t(f"cli.help.{key}"),
                                 allow_abbrev=False)

    command("init", "init")
    demo = command("demo", "demo")
    demo.add_argument("--force", action="store_true", help=t("cli.help.demo_force"))
    from tui import cli_synth

    cli_synth.add_parser(commands)

    units = command("units", "units")
    units.add_argument("--all", action="store_true", help=t("cli.help.units_all"))
    units.add_argument("--json", action="store_true", help=t("cli.help.json"))

    find = command("find", "find")
    find.add_argument("text", metavar="TEXT", help=t("cli.help.find_text"))
    find.add_argument("--json", action="store_true", help=t("cli.help.json"))
    find.add_argument("--limit", type=_positive, default=20, metavar="N",
                      help=t("cli.help.find_limit"))

    worklist = command("worklist", "worklist")
    worklist.add_argument("--unit", metavar="U", help=t("cli.help.worklist_unit"))
    worklist.add_argument("--json", action="store_true", help=t("cli.help.json"))
    worklist.add_argument("--within", type=_days, metavar="N", help=t("cli.help.worklist_within"))

    case = command("case", "case")
    case_commands = case.add_subparsers(dest="case_command", metavar="COMMAND", required=True,
                                        title=t("cli.help.commands"))
    show = command("show", "case_show", case_commands)
    show.add_argument("id", type=_case_id, metavar="ID", help=t("cli.help.case_id"))
    show.add_argument("--json", action="store_true", help=t("cli.help.json"))
    _case_write_parsers(case_commands, command)
    _case_new_parser(case_commands)
    from tui import cli_admin, cli_backup, cli_classes, cli_migrate, cli_progress, cli_transfer, cli_units

    cli_units.add_parsers(commands)  # `unit`: returns its action parsers
    cli_transfer.add_parsers(commands)
    cli_admin.add_parsers(commands)
    cli_classes.add_parser(commands)
    cli_progress.add_parsers(commands)
    cli_backup.add_parsers(commands)
    cli_migrate.add_parsers(commands)
    return parser


def _case_new_parser(case_commands) -> None:
    """case new: a new person's file at `identified`."""
    p = case_commands.add_parser("new", help=t("cli.case_new.help"), description=t("cli.case_new.help"),
                                 allow_abbrev=False)
    p.add_argument("--branch", required=True, metavar="U", help=t("cli.case_new.help_branch"))
    p.add_argument("--name", required=True, metavar="TEXT", help=t("cli.case_new.help_name"))
    p.add_argument("--born", required=True, metavar="D", help=t("cli.case_new.help_born"))
    p.add_argument("--sex", required=True, choices=("F", "M"), help=t("cli.case_new.help_sex"))
    p.add_argument("--other-name", metavar="TEXT", help=t("cli.case_new.help_other_name"))
    p.add_argument("--citizen-id", metavar="N", help=t("cli.case_new.help_citizen_id"))
    p.add_argument("--phone", metavar="P", help=t("cli.case_new.help_phone"))
    p.add_argument("--ethnicity", metavar="E", help=t("cli.case_new.help_ethnicity"))
    p.add_argument("--education", metavar="E", help=t("cli.case_new.help_education"))
    p.add_argument("--youth-union", action="store_true", help=t("cli.case_new.help_youth_union"))
    p.add_argument("--recommended-by", metavar="TEXT", help=t("cli.case_new.help_recommended_by"))
    p.add_argument("--date", metavar="D", help=t("cli.case_new.help_date"))
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _case_write_parsers(case_commands, command) -> None:
    """advance, override, undo, close, reopen, hold, release: the writes of the pipeline."""
    from db.codes import OUTCOMES, STAGES

    def step_options(p) -> None:
        p.add_argument("id", type=_case_id, metavar="ID", help=t("cli.help.case_id"))
        p.add_argument("stage", choices=STAGES, metavar="STAGE", help=t("cli.help.case_stage"))
        p.add_argument("--step", metavar="FILE|-", help=t("cli.help.case_step"))
        p.add_argument("--date", metavar="D", help=t("cli.help.case_date"))
        p.add_argument("--resolution", metavar="NO", help=t("cli.help.case_resolution"))
        p.add_argument("--votes", metavar="FOR/CONVENED[/EXCUSED]", help=t("cli.help.case_votes"))
        p.add_argument("--decision", metavar="NO", help=t("cli.help.case_decision"))
        p.add_argument("--received", metavar="D", help=t("cli.help.case_received"))
        p.add_argument("--certificate", metavar="NO", help=t("cli.help.case_certificate"))
        p.add_argument("--issued", metavar="D", help=t("cli.help.case_issued"))
        p.add_argument("--issuer", metavar="TEXT", help=t("cli.help.case_issuer"))
        p.add_argument("--json", action="store_true", help=t("cli.help.json"))
        expect_version(p)

    def expect_version(p) -> None:
        p.add_argument("--expect-version", type=_positive, metavar="N",
                       help=t("cli.help.case_expect_version"))

    def with_id(name: str, key: str, reason: bool = True):
        p = command(name, key, case_commands)
        p.add_argument("id", type=_case_id, metavar="ID", help=t("cli.help.case_id"))
        expect_version(p)
        if reason:
            p.add_argument("--reason", metavar="TEXT", help=t("cli.help.case_reason"))
        return p

    advance = command("advance", "case_advance", case_commands)
    step_options(advance)
    advance.add_argument("--record-failed-vote", action="store_true",
                         help=t("cli.help.case_record_failed_vote"))
    advance.add_argument("--reason", metavar="TEXT", help=t("cli.help.case_failed_vote_reason"))
    override = command("override", "case_override", case_commands)
    step_options(override)
    override.add_argument("--reason", metavar="TEXT", help=t("cli.help.case_override_reason"))
    with_id("undo", "case_undo").add_argument("--json", action="store_true", help=t("cli.help.json"))
    close = with_id("close", "case_close")
    close.add_argument("outcome", choices=OUTCOMES, metavar="OUTCOME", help=t("cli.help.case_outcome"))
    close.add_argument("--date", metavar="D", help=t("cli.help.case_close_date"))
    close.add_argument("--json", action="store_true", help=t("cli.help.json"))
    for name in ("reopen", "hold"):
        with_id(name, f"case_{name}").add_argument("--json", action="store_true", help=t("cli.help.json"))
    with_id("release", "case_release", reason=False).add_argument(
        "--json", action="store_true", help=t("cli.help.json"))


def _requested_language(argv: list[str], environ) -> tuple[str | None, str | None]:
    """(language, where from) asked for before the command: `--lang`, else KETNAP_LANG.

    Read before the parser is built, so that its help is in that language.
    """
    valued = {"--db", "--user", "--today"}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--lang" and i + 1 < len(argv):
            return argv[i + 1], "option"
        if token.startswith("--lang="):
            return token.split("=", 1)[1], "option"
        if token in valued:
            i += 2
            continue
        if token == "--" or not token.startswith("-"):
            break
        i += 1
    if environ.get(ENV_LANG):
        return environ[ENV_LANG], "env"
    return None, None


# --- the session: database, today, account -----------------------------------------------

@dataclass
class Session:
    location: str
    today: datetime.date
    actor: Actor


def switch_on(args, name: str, environ=None) -> bool:
    """A session switch (`--readonly`, `--low-bandwidth`, `--ascii`, `--mouse`): the option, else
    its environment variable set to 1, yes, true or on."""
    env = os.environ if environ is None else environ
    if getattr(args, name, False):
        return True
    return env.get(_SWITCHES[name], "").strip().lower() in ("1", "yes", "true", "on")


def _database_error(exc: Exception) -> Refusal:
    return Refusal("database", t("error.database", message=safe(exc)))


def _open(location: str, *, create: bool) -> connection.Opened:
    path = None if connection.is_server_url(location) else connection.sqlite_path(location)
    if not create and path not in (None, ":memory:") and not os.path.exists(path):
        raise Refusal("no_database", t("cli.error.no_database", path=safe(path)))
    try:
        return connection.open_database_report(location, create=create)
    except connection.WrongCollation as exc:
        raise Refusal("database", t("cli.error.pg_collation", collation=safe(exc.collation))) from None
    except (connection.DatabaseError, PeeweeException, sqlite3.Error, OSError) as exc:
        raise _database_error(exc) from None


def _today(option: str | None) -> datetime.date:
    try:
        return connection.resolve_today(option).date
    except ValueError:
        value = option or os.environ.get(ENV_TODAY) or connection.get_setting("today")
        raise Refusal("bad_value", t("error.bad_date", value=safe(value))) from None


def _actor(requested: str | None, location: str) -> Actor:
    login = os_login()
    demo = connection.get_setting("demo") == "1"
    # the service account's processes are its forced commands: `ketnap --user NAME` per SSH key
    forced = requested is not None and login == connection.service_account(location)
    try:
        return resolve_actor(requested, login=login, demo=demo, forced_command=forced)
    except AccessError as exc:
        if exc.code == "forbidden":
            raise Refusal("forbidden", t("cli.error.user_forbidden", name=safe(requested),
                                         login=safe(login))) from None
        name = exc.params.get("name", login)
        if demo and name == login:
            # A demo database copied from elsewhere: anyone may act as any of its accounts,
            # so a login without one acts as its administrator.
            admin = first_admin()
            if admin is not None:
                _err(t("cli.note.demo_account", name=safe(admin.name), login=safe(login)))
                return admin
        if not has_accounts():
            raise Refusal("no_account", t("cli.error.no_accounts_yet")) from None
        if exc.params.get("disabled"):
            raise Refusal("no_account", t("error.account_disabled", name=safe(name))) from None
        raise Refusal("no_account", t("error.no_account", name=safe(name))) from None


def _session(args) -> Session:
    location = connection.resolve_location(args.db)
    opened = _open(location, create=False)
    readonly = switch_on(args, "readonly")
    if readonly:
        connection.set_read_only(opened.database)
    try:
        actor = _actor(args.user or os.environ.get(ENV_USER) or None, location)
        today = _today(args.today)
        if readonly:
            from db.access import read_only_actor

            actor = read_only_actor(actor)
        from db.reorganise import apply_due

        # reorganisations whose effective day has come since they were recorded (none in a
        # read-only session: they wait for the next session that may write)
        apply_due(today)
    except (PeeweeException, sqlite3.Error) as exc:
        raise _database_error(exc) from None
    return Session(location, today, actor)


def refusal_from(exc: Exception, actor: Actor | None = None) -> Refusal:
    """The refusal for an exception raised by db (unit lookups, files not found, access)."""
    from db.access import NotFound
    from db.units import UnitLookupError

    if isinstance(exc, UnitLookupError):
        if exc.code == "ambiguous_unit":
            names = ", ".join(f"{safe(code)} ({safe(name)})" for code, name in exc.candidates)
            return Refusal("ambiguous_unit", t("error.ambiguous_unit", text=safe(exc.text),
                                               candidates=names),
                           candidates=[{"code": c, "name": n} for c, n in exc.candidates])
        return Refusal("unknown_unit", t("error.unknown_unit", text=safe(exc.text)))
    if isinstance(exc, NotFound):
        return Refusal("not_found", t("error.not_found", id=safe(exc.args[0] if exc.args else "")))
    if isinstance(exc, AccessError):
        if exc.code == "forbidden" and (exc.params.get("readonly") or (actor is not None and actor.readonly)):
            return Refusal("forbidden", t("terminal.readonly_refused"))
        name = exc.params.get("name") or (actor.name if actor else "")
        key = "error.viewer_forbidden" if exc.params.get("role") == "viewer" else f"error.{exc.code}"
        return Refusal(exc.code, t(key, name=safe(name)))
    raise exc


# --- commands -----------------------------------------------------------------------------

def cmd_app(args, session: Session, lang: str) -> int:
    from tui.context import AppContext, terminal_environ

    context = AppContext(session.location, session.actor, session.today, lang,
                         mouse=switch_on(args, "mouse"),
                         server_files=not getattr(args, "over_ssh", False),
                         low_bandwidth=switch_on(args, "low_bandwidth"), ascii=switch_on(args, "ascii"))
    terminal_environ(context, os.environ)
    from tui.app import run_app  # Textual is imported only to open the application, after that

    result = run_app(context)
    return result if isinstance(result, int) else 0


def cmd_init(args) -> int:
    location = connection.resolve_location(args.db)
    opened = _open(location, create=True)
    path = safe(connection.sqlite_path(location))
    if opened.created:
        print(t("cli.init.created", path=path))
    elif opened.applied:
        print(t("cli.init.migrated", path=path, n=len(opened.applied)))
        if opened.backup:
            print(t("cli.init.backup", path=safe(opened.backup)))
    login = os_login()
    if not has_accounts():
        from db.accounts import create_first_admin

        create_first_admin(login)
        print(t("cli.init.admin_created", name=safe(login)))
    elif not opened.created and not opened.applied:
        print(t("cli.init.up_to_date", path=path))
        if not has_active_account(login):
            print(t("cli.init.no_account", name=safe(login)))
    return 0


def cmd_demo(args) -> int:
    location = connection.resolve_location(args.db)
    _open(location, create=True)
    from db import demo

    login = os_login()
    try:
        summary = demo.load_demo(login, force=args.force)
    except demo.DemoError as exc:
        code = getattr(exc, "code", "not_empty")
        if code == "not_empty":
            raise Refusal(code, t("cli.demo.not_empty", path=safe(connection.sqlite_path(location)))) from None
        raise Refusal(code, t("cli.demo.failed", message=safe(exc))) from None
    print(t("cli.demo.loaded", path=safe(connection.sqlite_path(location))))
    print(t("cli.demo.summary", units=i18n.number(summary.units),
            people=i18n.number(summary.people), members=i18n.number(summary.members),
            cases=i18n.number(summary.cases), classes=i18n.number(summary.classes)))
    stored_today = connection.get_setting("today")
    if stored_today:
        print(t("cli.demo.today", date=i18n.date(datetime.date.fromisoformat(stored_today))))
    _print_accounts(login)
    return 0


def _print_accounts(login: str) -> None:
    """The accounts the demo made, to pick one with --user."""
    from rich.table import Table

    table = Table(title=_text(t("cli.demo.accounts")), title_justify="left")
    for key in ("cli.col.account", "cli.col.full_name", "cli.col.role", "cli.col.scope"):
        table.add_column(_text(t(key)))
    for row in active_accounts():
        name = _text(row.name, "bold")
        if row.name == login:
            name.append(" " + t("cli.demo.you"))
        table.add_row(name, _text(row.full_name or ""), _text(i18n.code_name("role", row.role)),
                      _text(row.unit_name or t("cli.demo.everything")))
    _console().print(table)


def _unit_json(node, history: dict | None = None) -> dict:
    doc = {"code": node.code, "name": node.name, "level": node.level, "org_type": node.org_type,
           "category": node.category, "founded": _iso(node.founded), "ended": _iso(node.ended),
           "children": [_unit_json(child, history) for child in node.children]}
    if history is not None:  # units --all: the reorganisations each unit took part in
        doc["history"] = history.get(node.id, [])
    return doc


def cmd_units(args, session: Session) -> int:
    from db.units import unit_tree

    from tui import cli_units

    roots = unit_tree(session.actor, session.today, include_ended=args.all)
    history = cli_units.unit_histories() if args.all else None
    if args.json:
        print_json([_unit_json(root, history) for root in roots])
        return 0
    console = _console()
    key = "cli.units.title_all" if args.all else "cli.units.title"
    console.print(_text(t(key, date=i18n.date(session.today)), "bold"))
    if not roots:
        console.print(_text(t("cli.units.empty")))
        return 0
    from rich.tree import Tree

    def label(node):
        text = _text(node.name, "bold")
        text.append(f"  [{safe(node.code)}]")
        parts = [i18n.code_name("org_type", node.org_type)]
        if node.category:
            parts.append(i18n.code_name("category", node.category))
        if node.ended and node.ended <= session.today:
            parts.append(t("cli.units.ended", date=i18n.date(node.ended)))
        text.append("  " + " · ".join(safe(p) for p in parts), style="dim")
        note = cli_units.tree_note(history.get(node.id)) if history else ""
        if note:
            text.append("\n" + safe(note), style="dim")
        return text

    def grow(tree, node):
        branch = tree.add(label(node))
        for child in node.children:
            grow(branch, child)

    for root in roots:
        tree = Tree(label(root))
        for child in root.children:
            grow(tree, child)
        console.print(tree)
    return 0


def cmd_find(args, session: Session) -> int:
    """`ketnap find`: the people the search screen lists, in the same order, then the units."""
    from db.cases import find_everything

    results, found_units = find_everything(session.actor, args.text, session.today,
                                           limit=args.limit + 1, unit_limit=args.limit)
    truncated = len(results) > args.limit  # more matches than shown
    results = results[:args.limit]
    if args.json:
        print_json({"results": [
            {"person_id": r.person_id, "full_name": r.full_name, "born": _iso(r.born),
             "branch": {"code": r.branch.code, "name": r.branch.name} if r.branch else None,
             "case_id": r.case_id, "stage": r.stage, "public_role": r.public_role}
            for r in results], "truncated": truncated,
            "units": [{"code": u.code, "name": u.name, "level": u.level} for u in found_units]})
        return 0
    console = _console()
    if not results and not found_units:
        console.print(_text(t("cli.find.none", text=clean(args.text) or "")))
        return 0
    from rich.table import Table

    if results:
        table = Table(title=_text(t("cli.find.title", text=clean(args.text) or "",
                                    n=i18n.number(len(results)))),
                      title_justify="left")
        table.add_column(_text(t("cli.col.person_id")), justify="right")
        table.add_column(_text(t("cli.col.full_name")))
        table.add_column(_text(t("cli.col.born")))
        table.add_column(_text(t("cli.col.branch")))
        table.add_column(_text(t("cli.col.case_id")), justify="right")
        table.add_column(_text(t("cli.col.stage")))
        for r in results:
            name = _text(r.full_name, "bold")
            if r.public_role:
                name.append("\n" + safe(r.public_role), style="italic")
            table.add_row(_text(r.person_id), name, _text(i18n.date(r.born)),
                          _text(r.branch.name if r.branch else ""),
                          _text(r.case_id if r.case_id else ""),
                          _text(i18n.code_name("stage", r.stage)))
        console.print(table)
        if truncated:
            console.print(_text(t("cli.find.more", n=i18n.number(args.limit))))
    if found_units:
        table = Table(title=_text(t("search.cli_units", n=i18n.number(len(found_units)))),
                      title_justify="left")
        table.add_column(_text(t("search.cli_code")))
        table.add_column(_text(t("search.cli_unit")))
        for u in found_units:
            table.add_row(_text(u.code), _text(u.name))
        console.print(table)
    return 0


def cmd_worklist(args, session: Session) -> int:
    """`ketnap worklist`: open files with their next action and due date, overdue first."""
    from db.units import find_unit
    from db.worklist import worklist

    unit = find_unit(session.actor, args.unit, session.today) if args.unit else None
    items = worklist(session.actor, unit.id if unit else None, session.today,
                     within_days=args.within)
    if args.json:
        print_json({"as_of": _iso(session.today),
                    "unit": {"code": unit.code, "name": unit.name} if unit else None,
                    "within_days": args.within,
                    "items": [{"case_id": i.case_id, "full_name": i.full_name,
                               "branch": _ref_json(i.branch), "stage": i.stage,
                               "next_action": i.next_action, "due": _iso(i.due),
                               "overdue_days": i.overdue_days, "on_hold": i.on_hold}
                              for i in items]})
        return 0
    console = _console()
    overdue = sum(1 for i in items if i.overdue)
    title = t("cli.worklist.title", date=i18n.date(session.today), n=i18n.number(len(items)),
              overdue=i18n.number(overdue))
    if unit:
        title = safe(unit.name) + " · " + title
    if not items:
        console.print(_text(title, "bold"))
        console.print(_text(t("cli.worklist.empty_within" if args.within is not None
                              else "cli.worklist.empty", n=args.within)))
        return 0
    from rich.table import Table

    table = Table(title=_text(title), title_justify="left")
    table.add_column(_text(t("cli.col.case_id")), justify="right")
    table.add_column(_text(t("cli.col.full_name")))
    table.add_column(_text(t("cli.col.branch")))
    table.add_column(_text(t("cli.col.stage")))
    table.add_column(_text(t("cli.col.next_action")))
    table.add_column(_text(t("cli.col.due")), no_wrap=True, min_width=10)  # a date is never cut
    table.add_column(_text(t("cli.col.state")))
    for i in items:
        state = []
        if i.overdue:
            state.append(t("cli.worklist.overdue", days=i18n.number(i.overdue_days)))
        elif i.due is not None:
            state.append(t("cli.worklist.days_left", days=i18n.number((i.due - session.today).days)))
        if i.on_hold:
            state.append(t("cli.worklist.on_hold"))
        style = "bold" if i.overdue else ""
        table.add_row(_text(i.case_id, style), _text(i.full_name, style),
                      _text(i.branch.name), _text(i18n.code_name("stage", i.stage)),
                      _text(i18n.code_name("next_action", i.next_action)), _text(i18n.date(i.due), style),
                      _text(" · ".join(state), "bold reverse" if i.overdue else ""))
    console.print(table)
    return 0


def _ref_json(ref) -> dict | None:
    return {"code": ref.code, "name": ref.name} if ref else None


def case_json(view) -> dict:
    """`case show --json` (interfaces.md), dates ISO."""
    p = view.person
    return {
        "id": view.id,
        "version": view.version,
        "person": {"id": p.id, "full_name": p.full_name, "other_name": p.other_name,
                   "sex": p.sex, "born": _iso(p.born), "ethnicity": p.ethnicity,
                   "religion": p.religion, "home_town": p.home_town, "residence": p.residence,
                   "citizen_id": p.citizen_id, "phone": p.phone, "education": p.education,
                   "occupation": p.occupation, "workplace": p.workplace,
                   "youth_union": p.youth_union, "trade_union": p.trade_union,
                   "public_role": p.public_role, "branch": _ref_json(p.branch)},
        "branch": _ref_json(view.branch),
        "background_hidden": view.background_hidden,
        "stage": view.stage,
        "status": view.status,
        "outcome": view.outcome,
        "hold_reason": view.hold_reason,
        "steps": [
            {"seq": s.seq, "stage": s.stage, "date": _iso(s.date), "unit": _ref_json(s.unit),
             "received": _iso(s.received),
             "resolutions": [{"kind": r.kind, "number": r.number, "date": _iso(r.date),
                              "votes": {"for": r.votes_for, "convened": r.votes_convened,
                                        "excused": r.votes_excused}}
                             for r in s.resolutions],
             "details": s.details, "entered_by": s.entered_by, "extension": s.extension,
             "undone": s.undone, "undo_reason": s.undo_reason}
            for s in view.steps],
        "documents": [{"kind": d.kind, "received": _iso(d.received), "note": d.note}
                      for d in view.documents],
        "introducers": [{"kind": i.kind, "person_id": i.person_id, "full_name": i.full_name,
                         "resolution": i.resolution, "date": _iso(i.date),
                         "together_since": _iso(i.together_since), "replacement": i.replacement}
                        for i in view.introducers],
        "helpers": [{"person_id": pid, "full_name": name} for pid, name in view.helpers],
        "certificates": [{"kind": c.kind, "number": c.number, "issued": _iso(c.issued),
                          "issuer": c.issuer} for c in view.certificates],
        "events": [{"kind": e.kind, "date": _iso(e.date), "reason": e.reason, "details": e.details}
                   for e in view.events],
        "next_action": ({"code": view.next_action.code, "due": _iso(view.next_action.due)}
                        if view.next_action else {"code": None, "due": None}),
    }


def _votes(r) -> str:
    if r.votes_for is None:
        return ""
    return t("cli.case.votes", votes_for=r.votes_for, convened=r.votes_convened or 0,
             excused=r.votes_excused or 0)


def cmd_case_show(args, session: Session) -> int:
    from db.cases import case_view

    view = case_view(session.actor, args.id, session.today)
    if args.json:
        print_json(case_json(view))
        return 0
    from rich.table import Table

    console = _console()
    p = view.person
    title = _text(t("cli.case.title", id=view.id) + " · ", "bold")
    title.append(safe(p.full_name), style="bold")
    console.print(title)

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()

    def row(label_key: str, value) -> None:
        if value not in (None, ""):
            grid.add_row(_text(t(label_key)), value if not isinstance(value, str) else _text(value))

    status = i18n.code_name("status", view.status)
    if view.outcome:
        status += " · " + i18n.code_name("outcome", view.outcome)
    row("cli.case.stage", i18n.code_name("stage", view.stage))
    row("cli.case.status", status)
    row("cli.case.hold_reason", view.hold_reason)
    if view.branch:
        row("cli.case.branch", f"{safe(view.branch.name)} [{safe(view.branch.code)}]")
    action = view.next_action
    if action:
        text = i18n.code_name("next_action", action.code)
        if action.due:
            text += " · " + t("cli.case.due", date=i18n.date(action.due))
            if action.due < session.today and view.status != "closed":
                text += " · " + t("cli.case.overdue", days=(session.today - action.due).days)
        row("cli.case.next_action", text)
    row("cli.case.other_name", p.other_name)
    if view.background_hidden:
        row("cli.case.background", t("cli.case.background_hidden"))
    row("cli.case.born", i18n.date(p.born))
    row("cli.case.sex", i18n.code_name("sex", p.sex))
    row("cli.case.ethnicity", p.ethnicity)
    row("cli.case.religion", p.religion)
    row("cli.case.citizen_id", p.citizen_id)
    row("cli.case.phone", p.phone)
    row("cli.case.residence", p.residence)
    row("cli.case.education", p.education)
    row("cli.case.occupation", p.occupation)
    row("cli.case.public_role", p.public_role)
    unions = [t("cli.case.youth_union")] if p.youth_union else []
    unions += [t("cli.case.trade_union")] if p.trade_union else []
    row("cli.case.unions", ", ".join(unions))
    console.print(grid)

    if view.steps:
        rows = []
        for s in view.steps:
            stage = _text(i18n.code_name("stage", s.stage))
            if s.undone:
                stage.append("\n" + t("cli.case.undone", reason=safe(s.undo_reason or "")),
                             style="italic")
            papers = []
            for r in s.resolutions:
                line = i18n.code_name("resolution", r.kind)
                if r.number:
                    line += " " + safe(r.number)
                line += " · " + i18n.date(r.date)
                if _votes(r):
                    line += " · " + _votes(r)
                papers.append(line)
            if s.received:
                papers.append(t("cli.case.received", date=i18n.date(s.received)))
            if s.extension:
                papers.append(t("cli.case.extension"))
            rows.append((safe(s.seq), stage, i18n.date(s.date), safe(s.unit.name),
                         "\n".join(papers), safe(s.entered_by or "")))
        console.print(_table("cli.case.steps", ("cli.col.seq", "cli.col.stage", "cli.col.date",
                                                "cli.col.unit", "cli.col.papers",
                                                "cli.col.entered_by"), rows, keep=(0, 1, 2, 3)))

    if view.documents:
        rows = [(i18n.code_name("document", d.kind), i18n.date(d.received), safe(d.note or ""))
                for d in view.documents]
        console.print(_table("cli.case.documents",
                             ("cli.col.document", "cli.col.received", "cli.col.note"), rows))

    if view.introducers:
        rows = []
        for i in view.introducers:
            kind = i18n.code_name("introducer", i.kind)
            if i.replacement:
                kind += " · " + t("cli.case.replacement")
            rows.append((kind, safe(i.full_name or i.resolution or ""), i18n.date(i.date),
                         i18n.date(i.together_since)))
        console.print(_table("cli.case.introducers", ("cli.col.kind", "cli.col.introducer",
                                                      "cli.col.date", "cli.col.together_since"),
                             rows, keep=(0, 1, 2)))

    if view.certificates:
        rows = [(i18n.code_name("certificate", c.kind), safe(c.number), i18n.date(c.issued),
                 safe(c.issuer)) for c in view.certificates]
        console.print(_table("cli.case.certificates", ("cli.col.kind", "cli.col.number",
                                                       "cli.col.issued", "cli.col.issuer"),
                             rows, keep=(0, 1, 2, 3)))

    if view.helpers:
        helpers = _text(t("cli.case.helpers") + ": ", "bold")
        helpers.append(", ".join(safe(name or "") for _, name in view.helpers))
        console.print(helpers)

    if view.events:  # failed votes, holds, closings, undos, overrides, notes
        rows = []
        for e in view.events:
            what = i18n.code_name("event", e.kind)
            votes = e.details.get("votes") or {}
            if votes.get("for") is not None and votes.get("convened") is not None:
                what += f" · {votes['for']}/{votes['convened']} ({votes.get('excused') or 0})"
            if e.details.get("outcome"):
                what += " · " + i18n.code_name("outcome", e.details["outcome"])
            rows.append((i18n.date(e.date), what, safe(e.reason or ""), safe(e.entered_by or "")))
        console.print(_table("cli.case.events", ("cli.col.date", "cli.col.event", "cli.col.reason",
                                                 "cli.col.entered_by"), rows, keep=(0, 1)))
    return 0


# --- writing to a file: advance, override, undo, close, reopen, hold, release ----------------

from tui.messages import _rule_value, _rule_variant, rule_message  # noqa: E402,F401  (shared with the screens)


def _option_date(text: str) -> datetime.date:
    try:
        return connection.parse_date(text)
    except ValueError:
        raise Refusal("bad_value", t("error.bad_date", value=safe(text))) from None


def _option_votes(text: str) -> dict:
    parts = text.split("/")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or any(n < 0 for n in numbers):
        raise Refusal("bad_value", t("cli.write.bad_votes", value=safe(text)))
    return {"for": numbers[0], "convened": numbers[1], "excused": numbers[2] if len(numbers) == 3 else 0}


def _read_step_file(name: str) -> dict:
    try:
        text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise Refusal("bad_value", t("cli.write.bad_step_file", name=safe(name), message=safe(exc))) from None
    if not isinstance(data, dict):
        raise Refusal("bad_value", t("cli.write.bad_step_file", name=safe(name),
                                     message=t("cli.write.not_an_object")))
    return data


def step_data(args, today: datetime.date) -> dict:
    """The step object (case-file JSON) from --step, with the named options laid over it."""
    data = _read_step_file(args.step) if args.step else {}
    data["stage"] = args.stage
    if args.date:
        data["date"] = _option_date(args.date).isoformat()
    elif not data.get("date"):
        data["date"] = today.isoformat()
    if args.resolution:
        data["resolution"] = args.resolution
    if args.votes:
        data["votes"] = _option_votes(args.votes)
    if args.decision:
        data["decision"] = args.decision
    if args.received:
        data["received"] = _option_date(args.received).isoformat()
    if args.certificate or args.issued or args.issuer:
        cert = dict(data.get("certificate") or {})
        if args.certificate:
            cert["number"] = args.certificate
        if args.issued:
            cert["issued"] = _option_date(args.issued).isoformat()
        if args.issuer:
            cert["issuer"] = args.issuer
        data["certificate"] = cert
    return data


def _person_by_citizen_id(obj) -> int | None:
    """An introducer's or helper's person id: given, or found by citizen ID."""
    if obj.get("person_id") is not None:
        return obj["person_id"]
    if obj.get("citizen_id"):
        P = models.Person
        return P.select(P.id).where(P.citizen_id == str(obj["citizen_id"])).scalar()
    return None


def _violations_json(violations, day: datetime.date | None) -> list[dict]:
    return [{"code": v.code, "message": rule_message(v.code, v.params, day), "params": v.params,
             "warning": v.warning} for v in violations]


def _print_refused(args, exc, day: datetime.date | None) -> int:
    items = _violations_json(exc.violations, day)
    if args.json:
        print_json({"ok": False, "violations": items, "needs_override": exc.needs_override})
        return 1
    _err(t("cli.write.refused", id=args.id))
    for item in items:
        mark = t("cli.write.warning") + ": " if item["warning"] else ""
        _err(f"- {mark}{item['message']}")
    if exc.needs_override:
        _err(t("cli.write.needs_override", id=args.id, stage=getattr(args, "stage", "")))
    return 1


def _print_done(args, session: Session, view, key: str, **params) -> int:
    if args.json:
        print_json({"ok": True, **case_json(view)})
        return 0
    console = _console()
    console.print(_text(t(key, id=view.id, stage=i18n.code_name("stage", view.stage), **params)))
    action = view.next_action
    if action and view.status != "closed":
        text = t("cli.case.next_action") + ": " + i18n.code_name("next_action", action.code)
        if action.due:
            text += " · " + t("cli.case.due", date=i18n.date(action.due))
        console.print(_text(text))
    return 0


def _record_failed_vote(args, session: Session) -> int:
    """`case advance ID branch_approved --record-failed-vote`: a branch vote below two thirds,
    recorded as a vote_failed event; the file stays in dossier."""
    from db import pipeline

    if args.stage != "branch_approved":
        raise Refusal("bad_value", t("cli.write.failed_vote_stage", stage=safe(args.stage)))
    if not args.votes:
        raise Refusal("bad_value", t("cli.write.failed_vote_votes"))
    if not (args.reason and args.reason.strip()):
        raise pipeline.PipelineError("reason_required")
    data = step_data(args, session.today)
    day = _option_date(data["date"])
    votes = pipeline.Votes.of(data["votes"])
    if pipeline._votes_valid(votes) and pipeline.votes_pass(votes):
        raise Refusal("bad_value", t("cli.write.failed_vote_passed", id=args.id, votes=safe(args.votes)))
    try:
        view = pipeline.record_failed_vote(session.actor, args.id, day, data["votes"], session.today,
                                           reason=args.reason, resolution=data.get("resolution"),
                                           expected_version=args.expect_version)
    except pipeline.StepRefused as exc:
        return _print_refused(args, exc, day)
    return _print_done(args, session, view, "cli.write.failed_vote_recorded")


def cmd_case_write(args, session: Session) -> int:
    """The pipeline's writes; a rule refusal lists every violation, exit status 1."""
    from db import pipeline

    actor, today, what = session.actor, session.today, args.case_command
    seen = getattr(args, "expect_version", None)  # the version the script read (case show --json)
    day = None
    try:
        if what == "advance" and args.record_failed_vote:
            return _record_failed_vote(args, session)
        if what == "advance" and args.reason:
            raise Refusal("bad_value", t("cli.write.reason_only_failed_vote"))
        if what in ("advance", "override"):
            reason = getattr(args, "reason", None) if what == "override" else None
            if what == "override" and not (reason and reason.strip()):
                raise pipeline.PipelineError("reason_required")
            step = pipeline.step_from_dict(step_data(args, today), person_id=_person_by_citizen_id)
            day = step.date
            view = pipeline.apply(actor, args.id, step, today, override_reason=reason, expected_version=seen)
            return _print_done(args, session, view, "cli.write.overridden" if what == "override"
                               else "cli.write.advanced")
        if what == "undo":
            view = pipeline.undo_last(actor, args.id, args.reason, today, expected_version=seen)
            return _print_done(args, session, view, "cli.write.undone")
        if what == "close":
            if args.date is None:
                raise Refusal("bad_value", t("cli.write.date_required"))
            day = _option_date(args.date)
            view = pipeline.close(actor, args.id, args.outcome, day, args.reason, today=today,
                                  expected_version=seen)
            return _print_done(args, session, view, "cli.write.closed",
                               outcome=i18n.code_name("outcome", args.outcome))
        if what == "reopen":
            view = pipeline.reopen(actor, args.id, args.reason, today=today, expected_version=seen)
            return _print_done(args, session, view, "cli.write.reopened")
        if what == "hold":
            view = pipeline.hold(actor, args.id, args.reason, today=today, expected_version=seen)
            return _print_done(args, session, view, "cli.write.held")
        if what == "release":
            view = pipeline.release(actor, args.id, today=today, expected_version=seen)
            return _print_done(args, session, view, "cli.write.released")
    except pipeline.StepRefused as exc:
        return _print_refused(args, exc, day)
    except pipeline.PipelineError as exc:
        raise Refusal(exc.code, rule_message(exc.code, exc.params), params=exc.params) from None
    except AccessError as exc:
        if exc.code == "forbidden":
            raise refusal_from(exc, actor) from None
        raise
    raise AssertionError(f"unhandled case command {what!r}")


def cmd_case_new(args, session: Session) -> int:
    """A new person's file; a person with the same name and birth date is a printed warning."""
    from db import pipeline
    from db.access import NotFound
    from db.units import find_unit

    actor, today = session.actor, session.today
    branch = find_unit(actor, args.branch, today)
    born = _option_date(args.born)
    person = {"full_name": args.name, "other_name": args.other_name, "sex": args.sex, "born": born,
              "citizen_id": args.citizen_id, "phone": args.phone, "ethnicity": args.ethnicity,
              "education": args.education, "youth_union": args.youth_union}
    day = _option_date(args.date) if args.date else None
    similar = pipeline.similar_people(actor, clean(args.name) or "", born)
    try:
        case_id = pipeline.open_case(actor, branch.id, person, today, identified_on=day,
                                     recommended_by=args.recommended_by)
    except pipeline.PipelineError as exc:
        raise Refusal(exc.code, rule_message(exc.code, exc.params), params=exc.params) from None
    except NotFound:
        raise Refusal("not_found", t("cli.case_new.not_branch", name=safe(branch.name))) from None
    except AccessError as exc:
        if exc.code == "forbidden":
            raise refusal_from(exc, actor) from None
        raise
    warnings = [t("cli.case_new.similar", name=safe(name), born=i18n.date(when), branch=safe(unit or "–"),
                  id=pid) for pid, name, when, unit in similar]
    if args.json:
        print_json({"ok": True, "id": case_id, "stage": "identified",
                    "similar": [{"person_id": pid, "full_name": name, "born": when, "branch": unit}
                                for pid, name, when, unit in similar],
                    "warnings": warnings})
        return 0
    for line in warnings:
        _err(line)
    _console().print(_text(t("cli.case_new.opened", id=case_id, name=safe(clean(args.name)),
                             stage=i18n.code_name("stage", "identified"))))
    return 0


# --- main ---------------------------------------------------------------------------------

def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


def _run(args, lang_explicit: bool) -> int:
    if args.command in _READONLY_REFUSED and switch_on(args, "readonly"):
        raise Refusal("forbidden", t("terminal.readonly_refused"))
    if args.command == "init":
        return cmd_init(args)
    if args.command == "demo":
        return cmd_demo(args)
    if args.command == "synth":
        from tui import cli_synth

        location = connection.resolve_location(args.db)
        _open(location, create=True)
        return cli_synth.run(args, location, os_login(), Refusal)
    session = _session(args)
    if not lang_explicit and session.actor.lang in i18n.LANGUAGES:
        i18n.set_language(session.actor.lang)
    from db.access import NotFound
    from db.units import UnitLookupError

    try:
        if args.command is None:
            return cmd_app(args, session, i18n.language())
        if args.command == "units":
            return cmd_units(args, session)
        if args.command == "find":
            return cmd_find(args, session)
        if args.command == "worklist":
            return cmd_worklist(args, session)
        if args.command == "case" and args.case_command == "show":
            return cmd_case_show(args, session)
        if args.command == "case" and args.case_command == "new":
            return cmd_case_new(args, session)
        if args.command == "case":
            return cmd_case_write(args, session)
        if args.command in ("import", "export"):
            from tui import cli_transfer

            return cli_transfer.run(args, session)
        from tui import cli_admin

        if args.command == "class":
            from tui import cli_classes

            return cli_classes.run(args, session)
        if args.command in ("stats", "target"):
            from tui import cli_progress

            return cli_progress.run(args, session)
        if args.command in cli_admin.COMMANDS:
            return cli_admin.run(args, session)
        if args.command in ("backup", "restore"):
            from tui import cli_backup

            return cli_backup.run(args, session)
        if args.command == "migrate-to":
            from tui import cli_migrate

            return cli_migrate.run(args, session)
        if args.command == "unit":
            from tui import cli_units

            return cli_units.run(args, session)
    except (NotFound, UnitLookupError, AccessError) as exc:
        raise refusal_from(exc, session.actor) from None
    raise AssertionError(f"unhandled command {args.command!r}")  # the parser allows no other


# Global options and whether they take a value.
_GLOBAL_OPTIONS = {"--db": True, "--lang": True, "--user": True, "--today": True, "--version": False,
                   "-h": False, "--help": False, "--readonly": False, "--low-bandwidth": False,
                   "--ascii": False, "--mouse": False}
# What a client may not choose over SSH: the forced command chose them.
_CLIENT_FORBIDDEN = ("--db", "--user", "--today")
# What may not run over SSH at all: they act as the service account, not as the key's person.
_SERVICE_ONLY = ("init", "demo", "synth")


def _only_global_options(argv: list[str]) -> bool:
    i = 0
    while i < len(argv):
        word = argv[i]
        name = word.split("=", 1)[0]
        if name not in _GLOBAL_OPTIONS:
            return False
        i += 2 if _GLOBAL_OPTIONS[name] and "=" not in word else 1
    return True


def ssh_command(argv: list[str], environ) -> list[str] | None:
    """The command a client asked for over SSH, when this process is a forced command.

    With `command="ketnap --user NAME"` in authorized_keys, sshd runs that whatever the client
    typed, and puts what it typed in SSH_ORIGINAL_COMMAND (the pattern of gitolite). It becomes
    the subcommand, without the options the forced command alone may set. None: not over SSH,
    or the forced command names its subcommand itself.
    """
    import shlex

    original = environ.get("SSH_ORIGINAL_COMMAND")
    if original is None or not environ.get("SSH_CONNECTION") or not _only_global_options(argv):
        return None
    try:
        words = shlex.split(original)
    except ValueError:
        raise Refusal("bad_value", t("cli.error.ssh_command", command=safe(original))) from None
    if words and os.path.basename(words[0]) == "ketnap":
        words = words[1:]
    for word in words:
        if word.split("=", 1)[0] in _CLIENT_FORBIDDEN:
            raise Refusal("forbidden", t("cli.error.ssh_option", option=safe(word.split("=", 1)[0])))
    return words


def _refuse_over_ssh(args) -> None:
    """Over SSH a client acts as its key's person: no service commands, no server files."""
    if args.command in _SERVICE_ONLY:
        raise Refusal("forbidden", t("cli.error.ssh_service_only", command=args.command))
    if args.command == "import" and args.file != "-":
        raise Refusal("forbidden", t("cli.error.ssh_files"))
    if args.command == "export" and args.output != "-":
        raise Refusal("forbidden", t("cli.error.ssh_files"))
    if args.command == "unit" and getattr(args, "plan", None) not in (None, "-"):
        raise Refusal("forbidden", t("cli.error.ssh_files"))
    if args.command in ("backup", "restore", "migrate-to"):  # FILE is always a file on the server
        raise Refusal("forbidden", t("cli.error.ssh_files"))


def _utf8_environ(environ) -> bool:
    """Make the locale's character type UTF-8 in `environ`; True when it was not.

    An SSH session often arrives with no locale or C/POSIX (PuTTY sends none by default) or a
    server default such as LC_ALL=C. LC_ALL, then LC_CTYPE, then LANG decide (the first one set);
    without a UTF-8 codeset there, LC_CTYPE becomes C.UTF-8, and an LC_ALL that would override it
    moves to LANG, so that the other categories stay as they were.
    """
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(name)
        if value:
            codeset = value.partition(".")[2].partition("@")[0]
            if codeset.replace("-", "").replace("_", "").lower() == "utf8":
                return False
            break
    lc_all = environ.pop("LC_ALL", None)
    if lc_all:
        environ["LANG"] = lc_all
    environ["LC_CTYPE"] = "C.UTF-8"
    return True


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status: 0 done, 1 refused, 2 wrong usage."""
    if argv is None:
        argv = sys.argv[1:]
        # Vietnamese needs UTF-8 both ways: stdin too (`ssh ketnap@server import - < files.json`)
        utf8 = {}
        if _utf8_environ(os.environ):
            import locale

            utf8 = {"encoding": "utf-8"}
            try:
                locale.setlocale(locale.LC_CTYPE, "C.UTF-8")
            except locale.Error:
                pass
        for stream in (sys.stdin, sys.stdout, sys.stderr):
            options = utf8 if stream is sys.stdin else {"errors": "replace", **utf8}
            try:
                if options:
                    stream.reconfigure(**options)
            except (AttributeError, ValueError, OSError):
                pass
    argv = list(argv)
    # everything ketnap creates (database, backups, exports, the audit head) is its owner's alone
    os.umask(os.umask(0o077) | 0o077)
    previous_language = i18n.language()
    previous_database = models.database.obj
    lang, source = _requested_language(argv, os.environ)
    i18n.set_language(lang if lang in i18n.LANGUAGES else "vi")
    args = None
    try:
        over_ssh = ssh_command(argv, os.environ)
        if over_ssh is not None:
            argv = argv + over_ssh
        try:
            args = parse_arguments(argv)
        except SystemExit as exc:
            return _exit_status(exc)
        if over_ssh is not None:
            _refuse_over_ssh(args)
            args.over_ssh = True
        global _ascii_output
        _ascii_output = switch_on(args, "ascii")
        if source == "env" and lang not in i18n.LANGUAGES:
            raise Refusal("bad_value", t("cli.error.bad_lang", value=safe(lang),
                                         choices=", ".join(i18n.LANGUAGES)))
        try:
            return _run(args, lang_explicit=lang in i18n.LANGUAGES)
        except (PeeweeException, sqlite3.Error) as exc:
            if connection.is_read_only() and "readonly" in str(exc):  # SQLite's query_only
                raise Refusal("forbidden", t("terminal.readonly_refused")) from None
            raise _database_error(exc) from None
    except Refusal as refusal:
        if getattr(args, "json", False):
            print_json({"ok": False, "error": {"code": refusal.code, "message": refusal.message,
                                               **refusal.extra}})
        else:
            _err(refusal.message)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so briefly; KETNAP_DEBUG=1 shows the traceback
        if os.environ.get("KETNAP_DEBUG"):
            import traceback

            traceback.print_exc()
        message = t("cli.error.internal", kind=type(exc).__name__, message=safe(exc))
        if getattr(args, "json", False):
            print_json({"ok": False, "error": {"code": "internal", "message": message}})
        else:
            _err(message)
        return 1
    except BrokenPipeError:
        # the reader went away (`ketnap find x | head`): stop quietly, without a second error
        # when Python flushes stdout on exit
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    finally:
        _ascii_output = False
        i18n.set_language(previous_language)
        if models.database.obj is not previous_database:
            connection.close_database()
            if previous_database is not None:
                models.database.initialize(previous_database)


if __name__ == "__main__":
    # `python -m tui.cli`: run the imported module, so that its Refusal is the one that
    # tui.cli_* modules raise (this file as __main__ would be a second copy of it)
    from tui.cli import main as _main

    sys.exit(_main())
