"""`ketnap backup` and `ketnap restore`: a copy of the whole database taken while others work, and
putting such a copy back.

The backup API and the file locks below are SQLite's. On PostgreSQL `backup` runs the server's
own `pg_dump` (custom format, one consistent snapshot taken while others work, restored with
`pg_restore`); `restore` of a server database is the server's tools' work, and is refused.

Backup. SQLite's online backup API (`sqlite3.Connection.backup`) copies the pages from a
connection of its own, `STEP_PAGES` at a time, so that other processes keep reading and writing
meanwhile. When another process writes between two steps, SQLite starts the copy again; after
`MAX_RESTARTS` such restarts the copy is taken in one step instead (under WAL, which ketnap
always uses, one step holds a read snapshot and blocks no writer). The copy goes to a new file
beside the target (mode 0600, created exclusively), is made a single self-contained file
(journal mode DELETE: no -wal beside it), synced, then renamed over the target: a reader of the
target never sees half a backup. The audit chain's head file goes beside it as
`<FILE>.audit-head`, holding the last entry of the copy (the copy is a snapshot: entries written
after it are not in it); before it is written, the copy's chain is checked to contain the live
head file's entry, so the new head file continues the witness rather than replacing it.

Restore. FILE is copied (never moved) to a staging file beside the database and checked there:
it opens as SQLite, `PRAGMA integrity_check` and `PRAGMA foreign_key_check` find nothing, it has
ketnap's migration history and every migration in it is one this version knows (an older one is
migrated once in place), and its audit chain verifies against its head file `<FILE>.audit-head`
(without one, only with `accept_missing_head`: the chain is then checked against itself). Only
then is the current database touched: it is kept as `<db>.replaced-<time>` (a hard link to the
same file, else a copy), with its head file, and the staging file is renamed over it.

"Other sessions open". A ketnap process that has the database open, even idle, holds SQLite's
shared lock on it: under WAL every connection keeps a POSIX read lock on the database file's
shared-lock range and on the dead-man byte of the -shm file for as long as it is open (that is
how the last one to close knows it may fold the WAL back). `sessions_holding` asks the kernel
(`fcntl(F_GETLK)`) whether any other process holds either, without taking a lock, so it sees an
idle screen left open as well as a writer in a transaction; `BEGIN EXCLUSIVE` alone would not
(under WAL it only waits for writers, readers are never excluded). The check runs with this
process's own connection closed (POSIX locks belong to a process, and closing any descriptor of
the file drops them all, so this process never probes while it has the file open). Then a
connection of our own folds the WAL back (`wal_checkpoint(TRUNCATE)`, which fails if a reader
appeared meanwhile) before the swap. A process that opens the database in the moment between
that check and the rename would go on with the kept file: the window is a few milliseconds,
and restores are done when everybody has been asked to log out. Locks of other machines (a
database on a network share) are not seen; ketnap's database is a local file.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import shutil
import sqlite3
import struct
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from peewee import DatabaseError as PeeweeDatabaseError, SqliteDatabase

from db import audit, models
from db.access import Actor, refuse_readonly, require_admin

STEP_PAGES = 1024  # 4 MiB with the default page size
MAX_RESTARTS = 3
HEAD_SUFFIX = audit.HEAD_SUFFIX

# SQLite's unix file locks (os_unix.c): the shared-lock range of the database file, and the
# dead-man-switch byte of the -shm file that every connection in WAL mode holds shared.
_PENDING_BYTE = 0x40000000
_SHARED_FIRST, _SHARED_SIZE = _PENDING_BYTE + 2, 510
_SHM_DMS = 128


class BackupError(Exception):
    """Refused: `code` says why (exists, same_file, not_sqlite, not_a_database, corrupt,
    foreign_keys, newer_schema, chain, head_missing, head_mismatch, sessions_open, no_file,
    not_found, failed); `params` the details."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class BackupResult:
    path: Path
    head: Path | None  # the head file written beside it (None: the database has no audit entry)
    size: int
    people: int
    files: int
    audit_entries: int
    restarts: int  # how often another process's write made the copy start again


@dataclass(frozen=True)
class Inspection:
    """What the checks of a file to restore found (all passed)."""

    people: int
    files: int
    audit_entries: int
    migrations: tuple[str, ...]  # recorded in the file
    pending: tuple[str, ...]  # known here, not in the file yet: applied after restoring
    head: bool  # the chain was checked against a head file


@dataclass(frozen=True)
class RestoreResult:
    path: Path  # the database, now the restored one
    kept: Path  # the database it replaced
    kept_head: Path | None
    source: Path
    inspection: Inspection
    migrated: tuple[str, ...]


def _database_path() -> Path:  # (PostgreSQL: no file to restore over, `no_file`)
    database = models.database.obj
    if not isinstance(database, SqliteDatabase) or database.database in ("", ":memory:"):
        raise BackupError("no_file")
    return Path(database.database)


def _count(con: sqlite3.Connection, table: str) -> int:
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.DatabaseError:
        return 0


def _last_entry(con: sqlite3.Connection) -> tuple[int, str] | None:
    try:
        row = con.execute("SELECT id, hash FROM audit_entry ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # a schema older than the audit chain
        return None
    return (row[0], row[1]) if row and row[1] else None


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_private(path: Path, text: str) -> None:
    """`text` to `path` (mode 0600), through a temporary name and a rename."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


# --- backup -------------------------------------------------------------------------------------

def _copy_pages(source: Path, target: Path, progress=None) -> int:
    """Copy `source` into the (new, empty) file `target` with the online backup API; returns
    the number of restarts."""
    restarts = 0

    class _Again(Exception):
        pass

    def step(status, remaining, total):
        nonlocal restarts, last
        if last is not None and remaining > last:  # another process wrote: SQLite began again
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise _Again
        last = remaining
        if progress is not None:
            progress(total - remaining, total)

    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10)
    try:
        for pages in (STEP_PAGES, -1):
            last = None
            dest = sqlite3.connect(str(target))
            try:
                src.backup(dest, pages=pages, progress=step if pages > 0 else None, sleep=0.05)
                dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                dest.commit()
                return restarts
            except _Again:
                continue
            finally:
                dest.close()
    finally:
        src.close()
    return restarts


def backup(actor: Actor, target: str | os.PathLike, *, force: bool = False, progress=None) -> BackupResult:
    """Copy the bound database to `target` while others may write; refuse an existing target
    unless `force`. Administrators only."""
    require_admin(actor)
    from db.connection import is_postgres

    if is_postgres():
        return _pg_dump(target, force=force)
    source = _database_path()
    target = Path(target).absolute()
    if target.exists() and target.resolve() == source.resolve():
        raise BackupError("same_file", path=str(target))
    _check_target(target, force)
    live_head = None
    head_file = audit.head_path()
    if head_file is not None:
        try:
            live_head = audit.read_head(head_file)
        except (ValueError, OSError):
            live_head = None
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        restarts = _copy_pages(source, temporary, progress)
        con = sqlite3.connect(str(temporary))
        try:
            people, files = _count(con, "person"), _count(con, "case_file")
            entries = _count(con, "audit_entry")
            last = _last_entry(con)
            if live_head is not None and last is not None and live_head[0] <= last[0]:
                row = con.execute("SELECT hash FROM audit_entry WHERE id = ?", (live_head[0],)).fetchone()
                if row is None or row[0] != live_head[1]:
                    raise BackupError("head_mismatch", id=live_head[0])
        finally:
            con.close()
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temporary, 0o600)
        head_target = Path(str(target) + HEAD_SUFFIX)
        os.replace(temporary, target)
        if last is not None:
            _write_private(head_target, f"{last[0]} {last[1]}\n")
        else:
            head_target.unlink(missing_ok=True)  # a forced overwrite: an old head means nothing
        _fsync_dir(target.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return BackupResult(target, head_target if last is not None else None, target.stat().st_size,
                        people, files, entries, restarts)


def pg_dump_program() -> str | None:
    """The `pg_dump` on PATH, else the newest of Debian's server packages (it must be at least
    the server's version)."""
    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return str(candidates[-1]) if candidates else None


def _check_target(target: Path, force: bool) -> None:
    """Refused: a folder, a file already there (unless `force`), a folder that does not exist."""
    if target.is_dir():
        raise BackupError("is_directory", path=str(target))
    if target.exists() and not force:
        raise BackupError("exists", path=str(target))
    if not target.parent.is_dir():
        raise BackupError("not_found", path=str(target.parent))


def _pg_dump(target, *, force: bool) -> BackupResult:
    """`pg_dump --format=custom` of the bound PostgreSQL database into `target` (mode 0600,
    written beside it first and renamed: a reader never sees half a backup)."""
    import subprocess

    target = Path(target).absolute()
    _check_target(target, force)
    program = pg_dump_program()
    if program is None:
        raise BackupError("no_pg_dump")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        done = subprocess.run([program, "--format=custom", "--no-owner", f"--file={temporary}",
                               f"--dbname={models.database.obj.database}"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError("failed", message=done.stderr.strip())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
        _fsync_dir(target.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    M = models
    return BackupResult(target, None, target.stat().st_size, M.Person.select().count(),
                        M.CaseFile.select().count(), M.AuditEntry.select().count(), 0)


# --- other sessions -----------------------------------------------------------------------------

def _holder(path: Path, start: int, length: int) -> int | None:
    """The pid of another process holding a lock that a write lock on the range would meet."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        probe = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
        kind, _whence, _start, _length, pid = struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, probe))
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid


def sessions_holding(path: str | os.PathLike) -> int | None:
    """The pid of another process that has the database at `path` open, or None.

    Call it with no connection of this process open on that file (see the module docstring)."""
    path = Path(path)
    return (_holder(path, _SHARED_FIRST, _SHARED_SIZE)
            or _holder(Path(f"{path}-shm"), _SHM_DMS, 1)
            or _holder(path, _PENDING_BYTE, 1))


# --- restore ------------------------------------------------------------------------------------

def _known_migrations() -> list[str]:
    from playhouse.migrations import Migration

    from db.connection import MIGRATIONS

    return [m.name for m in Migration.load_directory(str(MIGRATIONS))]


@contextmanager
def _bound(path: Path):
    """The models bound to the SQLite file `path` for a while (the bound database put back)."""
    previous = models.database.obj
    database = SqliteDatabase(str(path), pragmas={"journal_mode": "delete", "foreign_keys": 1})
    models.database.initialize(database)
    try:
        yield database
    finally:
        database.close()
        models.database.initialize(previous)


def inspect_file(path: Path, *, accept_missing_head: bool = False) -> Inspection:
    """Check a copy of a database to restore, against its head file `<path>.audit-head` when
    there is one. The copy is opened read-write (its journal is folded in): give a copy."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(16)
    except OSError as exc:
        raise BackupError("not_found", path=str(path), message=str(exc)) from None
    if magic != b"SQLite format 3\x00":
        raise BackupError("not_sqlite")
    con = sqlite3.connect(str(path))
    try:
        con.execute("PRAGMA journal_mode=DELETE")
        problems = [row[0] for row in con.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            raise BackupError("corrupt", problems="; ".join(problems[:5]))
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"schema_migration", "unit", "person", "case_file"} <= tables:
            raise BackupError("not_a_database")
        foreign = con.execute("PRAGMA foreign_key_check").fetchall()
        if foreign:
            raise BackupError("foreign_keys", n=len(foreign))
        recorded = [row[0] for row in con.execute("SELECT name FROM schema_migration ORDER BY name")]
        people, files = _count(con, "person"), _count(con, "case_file")
        has_chain = "audit_entry" in tables
    except sqlite3.DatabaseError as exc:
        raise BackupError("corrupt", problems=str(exc)) from None
    finally:
        con.close()
    known = _known_migrations()
    unknown = [name for name in recorded if name not in known]
    if unknown:
        raise BackupError("newer_schema", migrations=", ".join(unknown))
    pending = tuple(name for name in known if name not in recorded)
    head = head_file_of(path)
    entries = 0
    if has_chain:
        try:
            with _bound(path):
                report = audit.verify()
        except (sqlite3.DatabaseError, PeeweeDatabaseError) as exc:
            raise BackupError("corrupt", problems=str(exc)) from None
        entries = report.entries
        if report.first_broken is not None:
            raise BackupError("chain", id=report.first_broken, reason=report.broken_reason)
        if report.head_problem == "missing":
            if not accept_missing_head:
                raise BackupError("head_missing")
        elif report.head_problem not in (None, "behind"):
            raise BackupError("head_mismatch", problem=report.head_problem,
                              id=report.head[0] if report.head else "")
    return Inspection(people, files, entries, tuple(recorded), pending, head.is_file())


def head_file_of(path: str | os.PathLike) -> Path:
    return Path(f"{path}{HEAD_SUFFIX}")


def _stamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def _keep(path: Path, kept: Path) -> None:
    """`kept` becomes the file `path` is (a hard link; a copy where links are not possible)."""
    try:
        os.link(path, kept)
    except OSError:
        shutil.copy2(path, kept)
    os.chmod(kept, 0o600)


def restore(actor: Actor, source: str | os.PathLike, *, accept_missing_head: bool = False,
            when: str | None = None) -> RestoreResult:
    """Put the backup `source` in place of the bound database (see the module docstring).

    On return the models are bound to the restored database (migrated when it was older).
    Administrators only; refused with BackupError before anything is changed when a check fails
    or another process has the database open."""
    refuse_readonly(actor)
    require_admin(actor)
    database = _database_path()
    source = Path(source).absolute()
    if not source.is_file():
        raise BackupError("not_found", path=str(source))
    if source.resolve() == database.resolve():
        raise BackupError("same_file", path=str(source))
    staging = database.with_name(f".{database.name}.restore-{os.getpid()}")
    staging_head = head_file_of(staging)
    source_head = head_file_of(source)
    try:
        shutil.copyfile(source, staging)
        os.chmod(staging, 0o600)
        wal = Path(f"{source}-wal")
        if wal.exists():  # a copy of a live database: its last commits may still be there
            shutil.copyfile(wal, f"{staging}-wal")
        if source_head.is_file():
            shutil.copyfile(source_head, staging_head)
            os.chmod(staging_head, 0o600)
        inspection = inspect_file(staging, accept_missing_head=accept_missing_head)
        # this process's own connection goes first: its locks are not the others'
        models.database.obj.close()
        holder = sessions_holding(database)
        if holder is not None:
            raise BackupError("sessions_open", pid=holder)
        con = sqlite3.connect(str(database), timeout=0.5)
        try:
            con.execute("BEGIN EXCLUSIVE")  # fails (after 0.5 s) while a writer holds the lock
            con.rollback()
            busy, _log, _folded = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError as exc:  # locked: a writer in the moment since the check
            raise BackupError("sessions_open", pid="?", message=str(exc)) from None
        finally:
            con.close()
        if busy or sessions_holding(database) is not None:
            raise BackupError("sessions_open", pid=sessions_holding(database) or "?")
        # nobody else has it open and its WAL is folded back: keep it, then swap
        stamp = when or _stamp()
        kept = database.with_name(f"{database.name}.replaced-{stamp}")
        if kept.exists():
            raise BackupError("exists", path=str(kept))
        _keep(database, kept)
        head = head_file_of(database)
        kept_head = None
        if head.exists():
            kept_head = head_file_of(kept)
            _keep(head, kept_head)
        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        os.replace(staging, database)
        if staging_head.exists():
            os.replace(staging_head, head)
        else:
            head.unlink(missing_ok=True)
        _fsync_dir(database.parent)
    finally:
        for leftover in (staging, staging_head, *(Path(f"{staging}{s}") for s in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)
    from db import connection

    opened = connection.open_database_report(str(database), create=False)
    if not inspection.head and inspection.audit_entries:
        audit.write_current_head()  # accepted without a head file: the chain's own last entry
    return RestoreResult(database, kept, kept_head, source, inspection, opened.applied)
