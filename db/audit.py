"""The audit trail: one append-only AuditEntry row per change (and per opening of a person's
background), written inside the change's own transaction so that a change and its entry stand
or fall together.

Each entry carries `hash`: SHA-256 over its own fields and the previous entry's hash, so editing,
removing or reordering an entry breaks the chain from there on. Somebody able to write the
database could recompute the whole chain; so after every commit the head of the chain (the last
entry's id and hash) is also written to a file beside the database, which only the account that
owns the database can write. `verify` compares the two.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peewee import JOIN, SqliteDatabase

from db import models
from db.access import AccessError, Actor, refuse_readonly, scope_root
from db.units import subtree_ids

HEAD_SUFFIX = ".audit-head"

# Entries committed by this process whose head is not in the head file yet.
_pending: dict[str, tuple[int, str]] = {}


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_default)


def _default(value: Any):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _stamp(value) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    return None if value is None else str(value)


def parse_stamp(value):
    """A stored timestamp as the model reads it (for code that reads rows with plain SQL)."""
    return models.AuditEntry.at.python_value(value)


def digest(entry_id: int, at, account_id, action, entity, entity_id, unit_id, person_id,
           before, after, prev_hash) -> str:
    """The hash of one entry: its fields and the previous entry's hash, in a fixed order."""
    fields = [entry_id, _stamp(at), account_id, action, entity, entity_id, unit_id, person_id,
              before, after, prev_hash]
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _person_of(entity: str, entity_id: int | None) -> int | None:
    if entity_id is None:
        return None
    if entity == "person":
        return entity_id
    if entity == "case_file":
        return (models.CaseFile.select(models.CaseFile.person)
                .where(models.CaseFile.id == entity_id).scalar())
    return None


def record(actor: Actor, action: str, entity: str, entity_id: int | None,
           before: Any, after: Any, unit_id: int | None, *, person_id: int | None = None) -> int:
    """Append one entry (who, what, before/after as JSON) to the chain; returns its id.

    Call it inside a write transaction (db.connection.write_transaction): the chain's last entry
    is read and the new one written under the same lock.
    """
    refuse_readonly(actor)  # every recorded change passes here: none in a read-only session
    if person_id is None:
        person_id = _person_of(entity, entity_id)
    E = models.AuditEntry
    last = E.select(E.id, E.hash).order_by(E.id.desc()).first()
    entry_id = last.id + 1 if last else 1
    prev_hash = last.hash if last else None
    at = models._now()
    before_text, after_text = _json(before), _json(after)
    account_id = actor.account_id
    entry_hash = digest(entry_id, at, account_id, action, entity, entity_id, unit_id, person_id,
                        before_text, after_text, prev_hash)
    E.insert(id=entry_id, at=at, account=account_id, action=action, entity=entity,
             entity_id=entity_id, unit=unit_id, person=person_id, before=before_text,
             after=after_text, prev_hash=prev_hash, hash=entry_hash).execute()
    path = head_path()
    if path is not None:
        _pending[str(path)] = (entry_id, entry_hash)
    return entry_id


# --- the head file ------------------------------------------------------------------------

def head_path(database=None) -> Path | None:
    """The head file of the bound (or given) SQLite database; None for an in-memory one."""
    database = database or models.database.obj
    if not isinstance(database, SqliteDatabase) or database.database in ("", ":memory:"):
        return None
    return Path(database.database + HEAD_SUFFIX)


def read_head(path: Path) -> tuple[int, str] | None:
    """(id, hash) from the head file; None when there is none. ValueError when unreadable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    entry_id, entry_hash = text.split()
    return int(entry_id), entry_hash


_HEAD_WIDTH = 127  # the record, padded with spaces: always longer than any earlier one


def _write_head(path: Path, entry_id: int, entry_hash: str) -> None:
    """Write (id, hash) unless the file already holds a later entry (another process).

    The record is overwritten in place at a fixed width, without truncating the file first:
    truncation cost more than the rest of a save together (about 10 ms) on some file systems."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        current = os.read(fd, 200).decode("ascii", "replace").split()
        if current and current[0].isdigit() and int(current[0]) >= entry_id:
            return
        record = f"{entry_id} {entry_hash}".ljust(_HEAD_WIDTH) + "\n"
        os.pwrite(fd, record.encode("ascii"), 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_head() -> None:
    """After a commit: write the newest entry's (id, hash) to the head file."""
    while _pending:
        path, (entry_id, entry_hash) = _pending.popitem()
        _write_head(Path(path), entry_id, entry_hash)


def discard_pending() -> None:
    """After a rollback: the entries recorded in it are gone."""
    _pending.clear()


def forget_head() -> None:
    """The whole database was wiped (`ketnap demo --force`): the old head means nothing now."""
    _pending.clear()
    path = head_path()
    if path is not None:
        path.unlink(missing_ok=True)


def write_current_head() -> None:
    """Write the head file from the database's last entry (after a migration or a restore)."""
    path = head_path()
    if path is None:
        return
    E = models.AuditEntry
    last = E.select(E.id, E.hash).order_by(E.id.desc()).first()
    if last is not None and last.hash:
        _write_head(path, last.id, last.hash)


# --- verifying ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_broken: int | None  # the id of the first entry whose hash does not hold
    broken_reason: str | None  # hash / link / missing
    head: tuple[int, str] | None  # what the head file holds
    head_problem: str | None  # missing / unreadable / mismatch / gone / behind
    behind: int = 0  # entries after the head file's entry (head_problem == "behind")

    @property
    def ok(self) -> bool:
        return self.first_broken is None and self.head_problem in (None, "behind")


def _entries() -> Iterator[tuple]:
    E = models.AuditEntry
    yield from (E.select(E.id, E.at, E.account, E.action, E.entity, E.entity_id, E.unit,
                         E.person, E.before, E.after, E.prev_hash, E.hash)
                .order_by(E.id).tuples().iterator())


def verify() -> ChainReport:
    """Recompute the chain and compare its head with the head file."""
    count = 0
    prev_hash = None
    expected_id = None
    first_broken = reason = None
    hashes: dict[int, str] = {}
    last_id = None
    for row in _entries():
        entry_id, *fields, stored_prev, stored_hash = row
        count += 1
        last_id = entry_id
        hashes[entry_id] = stored_hash
        if first_broken is not None:
            continue
        if expected_id is not None and entry_id != expected_id:
            first_broken, reason = expected_id, "missing"
        elif stored_prev != prev_hash:
            first_broken, reason = entry_id, "link"
        elif digest(entry_id, *fields, stored_prev) != stored_hash:
            first_broken, reason = entry_id, "hash"
        prev_hash, expected_id = stored_hash, entry_id + 1
    path = head_path()
    head = head_problem = None
    behind = 0
    if path is not None:
        try:
            head = read_head(path)
        except (ValueError, OSError):
            head_problem = "unreadable"
        else:
            if head is None:
                head_problem = "missing" if count else None
            elif head[0] not in hashes:
                head_problem = "gone"
            elif hashes[head[0]] != head[1]:
                head_problem = "mismatch"
            elif last_id is not None and last_id > head[0]:
                head_problem, behind = "behind", last_id - head[0]
    return ChainReport(count, first_broken, reason, head, head_problem, behind)


# --- reading ------------------------------------------------------------------------------

@dataclass(frozen=True)
class EntryView:
    id: int
    at: datetime.datetime
    account: str | None
    action: str
    entity: str
    entity_id: int | None
    unit_id: int | None
    unit_name: str | None
    person_id: int | None
    person_name: str | None
    before: Any
    after: Any


def entries(actor: Actor, as_of: datetime.date, *, unit_id: int | None = None,
            person_id: int | None = None, case_id: int | None = None,
            since: datetime.date | None = None, limit: int | None = None) -> list[EntryView]:
    """The entries the actor may read, newest first.

    A viewer reads none: entries hold before/after values, background included. Others read the
    entries of the units in their scope (below `unit_id` when given) on `as_of`; entries with no
    unit (accounts, the whole database) are for administrators alone.
    """
    if actor.role == "viewer":
        raise AccessError("forbidden", role=actor.role)
    E, A, U, P = models.AuditEntry, models.Account, models.Unit, models.Person
    query = (E.select(E, A.name.alias("account_name"), U.name.alias("unit_name"),
                      P.full_name.alias("person_name"))
             .join(A, JOIN.LEFT_OUTER, on=(E.account == A.id))
             .switch(E).join(U, JOIN.LEFT_OUTER, on=(E.unit == U.id))
             .switch(E).join(P, JOIN.LEFT_OUTER, on=(E.person == P.id)))
    root = unit_id if unit_id is not None else scope_root(actor)
    if root is not None:
        from db import connection  # (connection imports this module)

        query = query.where(connection.among(E.unit, subtree_ids(actor, root, as_of)))
    if person_id is not None:
        query = query.where(E.person == person_id)
    if case_id is not None:
        query = query.where((E.entity == "case_file") & (E.entity_id == case_id))
    if since is not None:
        query = query.where(E.at >= datetime.datetime.combine(since, datetime.time()))
    query = query.order_by(E.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [EntryView(row.id, row.at, row.account_name, row.action, row.entity, row.entity_id,
                      row.unit_id, row.unit_name, row.person_id, row.person_name,
                      json.loads(row.before) if row.before else None,
                      json.loads(row.after) if row.after else None)
            for row in query.objects()]
