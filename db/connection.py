"""Open a database from a path or URL: pragmas, schema version, migrations, "today".

SQLite-only SQL (pragmas, the backup API) lives here and in db/search.py alone, and so does its
PostgreSQL twin (a `postgresql://` URL): triggers in PL/pgSQL, one writer at a time through a
transaction-scoped advisory lock, a read-only session, the catalogue queries.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import threading
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from peewee import SQL, Database, DatabaseProxy, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse.migrations import Runner
from playhouse.schema_diff import diff_models

from db import audit, models

MIGRATIONS = Path(__file__).with_name("migrations")
SYSTEM_CONFIG = Path("/etc/ketnap/ketnap.toml")
VIETNAM = datetime.timezone(datetime.timedelta(hours=7))  # Asia/Ho_Chi_Minh: UTC+7, no DST


class DatabaseError(Exception):
    """The database cannot be opened or used; the message says why."""


class WrongCollation(DatabaseError):
    """A PostgreSQL database that sorts text by a language's rules (`collation`, e.g.
    "vi_VN.UTF-8" or an ICU locale) rather than byte by byte: lists of names and every keyset page
    would come in another order than on SQLite, and a page could skip or repeat a row. Create
    it with `TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'`."""

    def __init__(self, collation: str):
        super().__init__(collation)
        self.collation = collation


# how a database for ketnap is created on a PostgreSQL server (CREATE DATABASE name ...)
PG_CREATE_OPTIONS = "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"


def check_collation(database: Database) -> None:
    """Refuse (WrongCollation) a PostgreSQL database whose text does not sort byte by byte."""
    provider, collation = database.execute_sql(
        "SELECT datlocprovider, datcollate FROM pg_database WHERE datname = current_database()").fetchone()
    if provider != "c":  # ICU: the locale's rules, whatever datcollate says
        raise WrongCollation("ICU")
    if collation not in ("C", "POSIX") and not collation.startswith("C."):
        raise WrongCollation(collation)


def _config_value(path: Path, key: str) -> str | None:
    try:
        with path.open("rb") as fh:
            value = tomllib.load(fh).get(key)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return str(value) if value else None


def user_config_file() -> Path:
    from platformdirs import user_config_path

    return user_config_path("ketnap") / "ketnap.toml"


def resolve_location(option: str | None, environ: dict | None = None) -> str:
    """Where the database is: option, KETNAP_DB, system then user config file, data dir."""
    env = os.environ if environ is None else environ
    for candidate in (option, env.get("KETNAP_DB"), _config_value(SYSTEM_CONFIG, "db"),
                      _config_value(user_config_file(), "db")):
        if candidate:
            return candidate
    from platformdirs import user_data_path

    return str(user_data_path("ketnap") / "ketnap.sqlite3")


def is_server_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def shown_location(location: str) -> str:
    """The location as it may be printed: a server URL without its password."""
    if not is_server_url(location):
        return location
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(location)
    if parts.password is None:
        return location
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def sqlite_path(location: str) -> str:
    """The file a SQLite location names (`sqlite:///x` is the file `x`), or ':memory:'."""
    return location.removeprefix("sqlite:///")


def is_postgres(database=None) -> bool:
    """Whether `database` (default: the one the models are bound to) is a PostgreSQL server."""
    database = models.database if database is None else database
    if isinstance(database, DatabaseProxy):
        database = database.obj
    return isinstance(database, PostgresqlDatabase)


def load_postgres_driver() -> None:
    """Hand psycopg to peewee, which was imported without it (db/__init__.py): the names its
    import would have set (peewee is pinned to one version in pyproject.toml)."""
    import peewee

    if peewee.psycopg is not None:
        return
    import psycopg
    from psycopg.pq import TransactionStatus
    from psycopg.types.json import Json, Jsonb

    peewee.psycopg, peewee.TransactionStatus = psycopg, TransactionStatus
    peewee.Json_pg3, peewee.Jsonb_pg3 = Json, Jsonb
    adapter = peewee.Psycopg3Adapter
    adapter.txn_idle, adapter.txn_inerror = TransactionStatus.IDLE, TransactionStatus.INERROR
    adapter.txn_unknown = TransactionStatus.UNKNOWN


def make_database(location: str) -> Database:
    if is_server_url(location):
        load_postgres_driver()
        if location.startswith("postgres://"):
            location = "postgresql://" + location.removeprefix("postgres://")
        # psycopg 3 (peewee uses it when it is installed); a connection string is passed whole
        return PostgresqlDatabase(location, prefer_psycopg3=True, connect_timeout=10)
    path = sqlite_path(location)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteDatabase(path, pragmas={
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 10000,
        "synchronous": "normal",
        # SQLite's own 2 MB: the system keeps the file's pages for every process, while each
        # connection's cache counts in its session's memory, and twenty sessions share a small
        # server (at a million people the panel and the search were measured no slower than
        # with 16 MB, and each session 15 MB smaller)
        "cache_size": -2000,
    })


def after_bulk_insert(database: Database) -> None:
    """After rows were written with their ids given (the demo, a synthetic province, a copy):
    on PostgreSQL each table's id sequence moves past them, so that the next row gets a new id,
    and the planner's statistics are read again (until autovacuum gets to a freshly filled
    table, the planner takes it for empty: a province's panel took four times as long)."""
    if not is_postgres(database):
        return
    for model in models.ALL_MODELS:
        field = model._meta.primary_key
        if getattr(field, "field_type", None) != "AUTO":
            continue
        table, column = model._meta.table_name, field.column_name
        database.execute_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
            f"coalesce(max(\"{column}\"), 0) + 1, false) FROM \"{table}\"")
    database.execute_sql("ANALYZE")


def pending_migrations(database: Database) -> list[str]:
    return [m.name for m in Runner(database, str(MIGRATIONS)).status() if not m.applied]


def _backup_before_migrating(database: SqliteDatabase) -> Path | None:
    return copy_before(database, "migration")


def copy_before(database: Database, reason: str) -> Path | None:
    """A copy of the database file beside it, `<file>.before-<reason>-<time>` (mode 0600), taken
    with SQLite's online backup before something large is done to it; None for a database with
    no file or no tables yet."""
    if not isinstance(database, SqliteDatabase):
        return None
    path = Path(database.database)
    if str(path) == ":memory:" or not path.exists() or path.stat().st_size == 0:
        return None
    if not database.table_exists("unit"):
        return None
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.before-{reason}-{stamp}")
    source = sqlite3.connect(str(path))
    try:
        dest = sqlite3.connect(str(target))
        with dest:
            source.backup(dest)
        dest.close()
    finally:
        source.close()
    os.chmod(target, 0o600)
    return target


def migrate(database: Database) -> list[str]:
    """Apply pending migrations (a backup of an existing database is taken first)."""
    pending = pending_migrations(database)
    if not pending:
        return []
    if isinstance(database, SqliteDatabase):
        _backup_before_migrating(database)
    return Runner(database, str(MIGRATIONS)).up()


def schema_differences(database: Database):
    """What differs between the models and the schema on disk (falsy when they agree). The
    search's own indexes (db/search.py on PostgreSQL: `*_words`, `*_trgm`) are not the models'
    and are left out."""
    diff = diff_models(database, models.ALL_MODELS)
    return diff._replace(drop_indexes=[index for index in diff.drop_indexes
                                       if not (index.name or "").endswith(("_words", "_trgm"))])


@dataclass(frozen=True)
class Opened:
    """What opening a database did (for `ketnap init` to report)."""

    database: Database
    created: bool  # the file did not exist (or was empty) before
    applied: tuple[str, ...]  # migrations applied by this open
    backup: Path | None  # the copy taken before migrating an existing database


def open_database_report(location: str, *, create: bool = True) -> Opened:
    """Open (creating and migrating when needed), bind the models, and say what was done."""
    path = None if is_server_url(location) else sqlite_path(location)
    is_file = path is not None and path != ":memory:"
    if is_file and not create and not Path(path).exists():
        raise DatabaseError(f"no database at {path}")
    existed = is_file and Path(path).exists() and Path(path).stat().st_size > 0
    database = make_database(location)
    models.database.initialize(database)
    try:
        database.connect(reuse_if_open=True)
    except OperationalError as exc:
        if not is_server_url(location):
            raise
        # the server is not there, refuses us, or has no such database
        raise DatabaseError(str(exc).strip()) from None
    if is_server_url(location):
        check_collation(database)
    if is_file and not existed:
        os.chmod(path, 0o600)  # and its -wal/-shm files follow the file's mode
    backup = None
    pending = pending_migrations(database)
    if pending and isinstance(database, SqliteDatabase):
        backup = _backup_before_migrating(database)
    applied = tuple(Runner(database, str(MIGRATIONS)).up()) if pending else ()
    if applied:
        audit.write_current_head()
    return Opened(database, is_file and not existed, applied, backup)


def open_database(location: str, *, create: bool = True) -> Database:
    """Open (creating and migrating when needed) and bind the models to it."""
    return open_database_report(location, create=create).database


def set_read_only(database: Database) -> None:
    """Make this process's connections to `database` read-only (`ketnap --readonly`): SQLite
    refuses every write (`PRAGMA query_only`, on each connection, the workers' threads included),
    and write_transaction refuses before it starts."""
    if isinstance(database, SqliteDatabase):
        database.pragma("query_only", 1, permanent=True)
    elif isinstance(database, PostgresqlDatabase):
        # this connection, and the settings every later one of this process starts with
        database.connect_params["options"] = "-c default_transaction_read_only=on"
        if not database.is_closed():
            database.execute_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    database.ketnap_read_only = True


def is_read_only() -> bool:
    """Whether the bound database was opened read-only (set_read_only)."""
    return bool(getattr(models.database.obj, "ketnap_read_only", False))


@contextmanager
def write_transaction():
    """One write transaction. On SQLite it is IMMEDIATE: a transaction that reads then writes
    waits for the lock (busy_timeout) instead of failing with "database is locked". After the
    outermost one commits, the audit chain's head is written to its file. Before it commits, the
    next actions of the files it touched are stored again (db.worklist.refresh_due)."""
    database = models.database
    if is_read_only():
        from db.access import AccessError

        raise AccessError("forbidden", readonly=True)
    outer = not database.in_transaction()
    if isinstance(database.obj, SqliteDatabase) and outer:
        context = database.atomic("IMMEDIATE")
    else:
        context = database.atomic()
    try:
        with context:
            if outer and isinstance(database.obj, PostgresqlDatabase):
                # what IMMEDIATE does on SQLite: one writer at a time, the others wait. The
                # audit chain's head and a file's version are read and then written in the
                # same transaction; a row lock would not cover the chain's next entry.
                database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            yield
            if outer:
                from db.worklist import refresh_due  # db.worklist reads models bound here

                refresh_due()
    except BaseException:
        if outer:
            audit.discard_pending()
        raise
    if outer:
        audit.publish_head()


# The key of the advisory lock every write transaction takes on PostgreSQL (any number the
# application alone uses: "ketnap" in ASCII).
WRITER_LOCK = 0x6B65746E6170

_APPEND_ONLY = ("audit_entry_no_update", "audit_entry_no_delete")


def _pg_trigger(database: Database, name: str, when: str, body: str) -> None:
    """A PL/pgSQL twin of a SQLite trigger: a function named like the trigger runs `body`, for
    each row when it reads the row, else once per statement (SQLite has row triggers only: a
    statement changing a thousand units would mark every file stale a thousand times)."""
    each = "ROW" if "NEW." in body or "OLD." in body else "STATEMENT"
    database.execute_sql(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
                         f"AS $$ BEGIN {body}; RETURN NULL; END $$")
    database.execute_sql(f"CREATE OR REPLACE TRIGGER {name} {when} FOR EACH {each} EXECUTE FUNCTION {name}()")


def _pg_drop_trigger(database: Database, name: str, table: str) -> None:
    database.execute_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")


def _pg_triggers(database: Database, table: str | None = None) -> set[str]:
    sql = ("SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
           "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace")
    params: tuple = ()
    if table is not None:
        sql += " AND c.relname = %s"
        params = (table,)
    return {row[0] for row in database.execute_sql(sql, params)}


def _tables(database: Database) -> set[str]:
    return set(database.get_tables())


def install_append_only(database: Database) -> None:
    """Triggers that refuse to change or remove an audit entry."""
    for name, event in zip(_APPEND_ONLY, ("UPDATE", "DELETE")):
        if is_postgres(database):
            database.execute_sql(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$")
            database.execute_sql(f"CREATE OR REPLACE TRIGGER {name} BEFORE {event} ON audit_entry "
                                 f"FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            database.execute_sql(
                f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {event} ON audit_entry "
                "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END")


def drop_append_only(database: Database) -> None:
    """Only for wiping a whole database (`ketnap demo --force`): the triggers go, then come back."""
    for name in _APPEND_ONLY:
        if is_postgres(database):
            _pg_drop_trigger(database, name, "audit_entry")
        else:
            database.execute_sql(f"DROP TRIGGER IF EXISTS {name}")


# What makes a file's stored next action and due date (models.CaseDue) stale: a change to a
# record the computation reads. The file's own records mark that file; a certificate marks its
# holder's files; the unit tree and the working-day exceptions mark every file.
# (TRUE is 1 on SQLite and the boolean on PostgreSQL; "ON CONFLICT" is understood by both.)
# A row already stale is left alone: on PostgreSQL an update writes a new version of the row
# even when nothing changes, and a tree change marks every file.
_MARK = ("INSERT INTO case_due (case_id, stale) {rows} "
         "ON CONFLICT (case_id) DO UPDATE SET stale = TRUE WHERE NOT case_due.stale")
_ONE = _MARK.format(rows="VALUES ({case}, TRUE)")
_OF_PERSON = _MARK.format(rows="SELECT id, TRUE FROM case_file WHERE person_id = {person}")
_OF_STEP = _MARK.format(rows="SELECT case_id, TRUE FROM step WHERE id = {step}")
_EVERY = "UPDATE case_due SET stale = TRUE WHERE NOT stale"
TREE_VERSION = models.TREE_VERSION
_TREE_CHANGED = (f"INSERT INTO setting (key, value) VALUES ('{TREE_VERSION}', {{token}}) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
_TOKEN = {"sqlite": "hex(randomblob(8))",
          "postgres": "substr(md5(random()::text || clock_timestamp()::text), 1, 16)"}


def _engine(database: Database) -> str:
    return "postgres" if is_postgres(database) else "sqlite"


def _tree_changed(database: Database) -> str:
    return _TREE_CHANGED.format(token=_TOKEN[_engine(database)])
# A unit's member counts (models.MemberTally) go when a membership of one of its people, or an
# affiliation with it, changes.
_TALLY_OF_PERSON = ("DELETE FROM member_tally WHERE unit_id IN "
                    "(SELECT unit_id FROM affiliation WHERE person_id = {row}.person_id)")
_TALLY_OF_UNIT = "DELETE FROM member_tally WHERE unit_id = {row}.unit_id"
# The kept counts of people sent to class (models.ClassTally) all go when an enrolment, a class,
# an affiliation or the unit tree changes: a figure reads them all, and only a few are kept.
_CLASS_TALLY = "DELETE FROM class_tally"
_CACHE_TRIGGERS = {
    "membership_tally_insert": ("AFTER INSERT ON membership", _TALLY_OF_PERSON.format(row="NEW")),
    "membership_tally_update": ("AFTER UPDATE ON membership", _TALLY_OF_PERSON.format(row="OLD") + "; "
                                + _TALLY_OF_PERSON.format(row="NEW")),
    "membership_tally_delete": ("AFTER DELETE ON membership", _TALLY_OF_PERSON.format(row="OLD")),
    "affiliation_tally_insert": ("AFTER INSERT ON affiliation", _TALLY_OF_UNIT.format(row="NEW")),
    "affiliation_tally_update": ("AFTER UPDATE ON affiliation", _TALLY_OF_UNIT.format(row="OLD") + "; "
                                 + _TALLY_OF_UNIT.format(row="NEW")),
    "affiliation_tally_delete": ("AFTER DELETE ON affiliation", _TALLY_OF_UNIT.format(row="OLD")),
    "case_file_due_insert": ("AFTER INSERT ON case_file", _ONE.format(case="NEW.id")),
    "case_file_due_update": ("AFTER UPDATE ON case_file", _ONE.format(case="NEW.id")),
    **{f"{table}_due_{event.lower()}": (f"AFTER {event} ON {table}", _ONE.format(case=f"{row}.case_id"))
       for table in ("step", "document", "case_event", "case_move")
       for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))},
    **{f"resolution_due_{event.lower()}": (f"AFTER {event} ON resolution", _OF_STEP.format(step=f"{row}.step_id"))
       for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))},
    **{f"certificate_due_{event.lower()}": (f"AFTER {event} ON certificate",
                                            _OF_PERSON.format(person=f"{row}.person_id"))
       for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))},
    "unit_due_update": ("AFTER UPDATE OF parent_id, org_type ON unit", _EVERY),
    # and a token that changes with every change of the unit tree, for a reader that keeps the
    # tree between calls (db.progress.Tree.current)
    **{f"{table}_tree_{event.lower()}": (f"AFTER {event} ON {table}", _TREE_CHANGED)
       for table in ("unit", "unit_link") for event in ("INSERT", "UPDATE", "DELETE")},
    **{f"{table}_due_{event.lower()}": (f"AFTER {event} ON {table}", _EVERY)
       for table in ("unit_link", "workday_exception") for event in ("INSERT", "UPDATE", "DELETE")},
    **{f"{table}_class_tally_{event.lower()}": (f"AFTER {event} ON {table}", _CLASS_TALLY)
       for table in ("enrolment", "training_class", "affiliation", "unit", "unit_link")
       for event in ("INSERT", "UPDATE", "DELETE")},
}


def install_cache_triggers(database: Database) -> None:
    """The triggers that keep the stored figures honest: due dates marked stale (models.CaseDue),
    member counts removed (models.MemberTally), the counts of people sent to class removed
    (models.ClassTally), the tree's token changed (TREE_VERSION)."""
    tables = _tables(database)
    postgres = is_postgres(database)
    for name, (when, action) in _CACHE_TRIGGERS.items():
        # a migration installs those of the tables it has made (read and written)
        if when.split(" ON ")[-1] in tables and (action != _CLASS_TALLY or "class_tally" in tables):
            if action == _TREE_CHANGED:
                action = _tree_changed(database)
            if postgres:
                _pg_trigger(database, name, when, action)
            else:
                database.execute_sql(f"CREATE TRIGGER IF NOT EXISTS {name} {when} FOR EACH ROW BEGIN {action}; END")


def drop_cache_triggers(database: Database) -> None:
    """Only inside a bulk load's transaction, which puts them back before it commits
    (db.synth): a million rows written without a trigger firing for each."""
    for name, (when, _action) in _CACHE_TRIGGERS.items():
        if is_postgres(database):
            _pg_drop_trigger(database, name, when.split(" ON ")[-1])
        else:
            database.execute_sql(f"DROP TRIGGER IF EXISTS {name}")


def new_tree_version(database: Database) -> None:
    """Change the tree's token, as the triggers do on every change of a unit or link."""
    database.execute_sql(_tree_changed(database))


def cache_triggers_installed(database: Database) -> bool:
    if is_postgres(database):
        names = _pg_triggers(database)
    else:
        names = {row[0] for row in database.execute_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    return set(_CACHE_TRIGGERS) <= names


def integrity_problems() -> list[str]:
    """What SQLite's own integrity check finds (empty: none). PostgreSQL checks its pages
    itself (and `amcheck` is an administrator's tool): nothing to report here."""
    if is_postgres():
        return []
    rows = [row[0] for row in models.database.execute_sql("PRAGMA integrity_check").fetchall()]
    return [] if rows == ["ok"] else rows


def foreign_key_problems() -> list[tuple]:
    """Rows pointing at a row that is not there: (table, rowid, parent table). PostgreSQL
    enforces its foreign keys on every write and cannot hold such rows."""
    if is_postgres():
        return []
    return [tuple(row[:3]) for row in models.database.execute_sql("PRAGMA foreign_key_check").fetchall()]


def service_account(location: str) -> str | None:
    """The login that runs ketnap for everybody over SSH: the `service_account` key of the
    system then the user's config file, else the owner of the database file."""
    configured = _config_value(SYSTEM_CONFIG, "service_account") or \
        _config_value(user_config_file(), "service_account")
    if configured:
        return configured
    if is_server_url(location):
        return None
    try:
        import pwd

        return pwd.getpwuid(os.stat(sqlite_path(location)).st_uid).pw_name
    except (OSError, KeyError):
        return None


def append_only_installed(database: Database) -> bool:
    if is_postgres(database):
        return set(_APPEND_ONLY) <= _pg_triggers(database, "audit_entry")
    names = {row[0] for row in database.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entry'")}
    return set(_APPEND_ONLY) <= names


def close_database() -> None:
    db = models.database.obj
    if db is not None and not db.is_closed():
        db.close()


class Stoppable:
    """A long read in a thread that a later request makes useless (a count of what was typed
    before the last key): `stop()`, from any thread, ends the statement it is running, which
    then raises the driver's error in that thread; `stopped` says it was asked to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw = None
        self.stopped = False

    def __enter__(self) -> Stoppable:
        raw = models.database.connection()  # this thread's
        with self._lock:
            if self.stopped:  # asked to before it started
                raise Stopped
            self._raw = raw
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        with self._lock:
            self._raw = None
        if self.stopped and isinstance(exc, Exception) and not isinstance(exc, Stopped):
            raise Stopped from exc  # the driver's "interrupted" or "canceled"

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            raw = self._raw
            if raw is None:
                return
            try:  # SQLite: sqlite3_interrupt; PostgreSQL: a cancel request to the server
                (raw.interrupt if hasattr(raw, "interrupt") else raw.cancel)()
            except Exception:  # noqa: BLE001 - the statement ended meanwhile: nothing to stop
                pass


class Stopped(Exception):
    """The read was stopped (Stoppable.stop)."""


# --- settings kept in the database ---------------------------------------------------------

def get_setting(key: str, default: str | None = None) -> str | None:
    row = models.Setting.get_or_none(models.Setting.key == key)
    return row.value if row else default


def set_setting(key: str, value: str) -> None:
    S = models.Setting
    S.insert(key=key, value=value).on_conflict(conflict_target=[S.key], preserve=[S.value]).execute()


def parse_date(text: str) -> datetime.date:
    """dd/mm/yyyy or yyyy-mm-dd; ValueError otherwise."""
    text = text.strip()
    if "/" in text:
        day, month, year = text.split("/")
        if len(year) != 4:
            raise ValueError(text)
        return datetime.date(int(year), int(month), int(day))
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        return datetime.date.fromisoformat(text)
    raise ValueError(text)


@dataclass(frozen=True)
class Today:
    date: datetime.date
    source: str  # option / env / database / clock


def resolve_today(option: str | None, environ: dict | None = None) -> Today:
    """The date treated as today: option, KETNAP_TODAY, the database's setting, the clock."""
    env = os.environ if environ is None else environ
    if option:
        return Today(parse_date(option), "option")
    if env.get("KETNAP_TODAY"):
        return Today(parse_date(env["KETNAP_TODAY"]), "env")
    stored = get_setting("today")
    if stored:
        return Today(datetime.date.fromisoformat(stored), "database")
    return Today(datetime.datetime.now(VIETNAM).date(), "clock")


def among(column, ids, *, by_index: bool = True):
    """`column IN ids` for a query: one parameter per id when they are few (the planner can use
    an index with the list), else one JSON array, since a province holds tens of thousands of
    units, past SQLite's limit on parameters, and peewee builds a long list slowly.

    `by_index=False`: with a long list, keep the planner off the column's index, for a query
    read in another index's order and stopped after a page (a page of a province's people is
    the first rows by name that pass the test, not a million rows read by branch and sorted)."""
    if not isinstance(ids, (list, tuple, set, frozenset)):
        ids = list(ids)
    if len(ids) > 500 and not is_postgres():
        # the same long list asked again (a province's every page): its JSON made once
        key = tuple(ids)
        text = _AMONG_KEPT.get(key)
        if text is None:
            text = json.dumps(sorted(set(key)))
            if len(_AMONG_KEPT) >= 4:
                _AMONG_KEPT.clear()
            _AMONG_KEPT[key] = text
        tested = column if by_index else column + 0
        return tested.in_(SQL("(SELECT value FROM json_each(?))", (text,)))
    ids = sorted(set(ids))
    if len(ids) <= 500:
        return column.in_(ids)
    tested = column if by_index else column + 0
    # one array parameter: PostgreSQL takes a list of any length as `= ANY(array)`
    return tested == SQL("ANY(%s)", (ids,))


_AMONG_KEPT: dict[tuple, str] = {}  # the JSON of the last long lists (connection.among)
