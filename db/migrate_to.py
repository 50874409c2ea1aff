"""`ketnap migrate-to URL`: copy a whole SQLite database into an empty PostgreSQL one.

Every row of every table is read from the bound (SQLite) database and written to the target
with its own id, in one transaction on the target: a failure leaves the target as it was. The
target is migrated first and must hold nothing. Each value passes through its field (a date
stored as text becomes a date, 0/1 a boolean), so that the copy reads back as the original
does. Units are written parents first (a unit may sit under one founded after it). The
triggers that keep the stored figures are lifted during the copy and put back, the id
sequences moved past the copied rows; the member counts and counts of people sent to class
are not copied (they are counted again when read). Then the copy is checked: the same number
of rows in every table, and its audit chain verifies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from peewee import Database, sort_models

from db import audit, connection, models
from db.access import Actor, require_admin

BATCH = 2000
# kept figures that are counted again when read: not copied
_NOT_COPIED = (models.MemberTally, models.ClassTally)


class MigrateError(Exception):
    """Refused: `code` (not_sqlite, not_postgres, not_empty, count_mismatch, chain), `params`."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class MigrateResult:
    target: str
    rows: dict[str, int]  # table -> rows copied
    audit_entries: int


def _batches(source: Database, model):
    """The table's rows, a batch at a time (a province's steps do not fit in memory at once)."""
    fields = list(model._meta.sorted_fields)
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    order = "" if model._meta.composite_key else f' ORDER BY "{model._meta.primary_key.column_name}"'
    cursor = source.execute_sql(f'SELECT {columns} FROM "{model._meta.table_name}"{order}')
    while rows := cursor.fetchmany(BATCH):
        yield [tuple(f.db_value(f.python_value(v)) if v is not None else None for f, v in zip(fields, row))
               for row in rows]


def _parents_first(rows: list[tuple], model) -> list[tuple]:
    """The rows of a table that points at itself (units), each after the rows it points at."""
    fields = list(model._meta.sorted_fields)
    key = fields.index(model._meta.primary_key)
    refs = [i for i, f in enumerate(fields) if getattr(f, "rel_model", None) is model]
    if not refs:
        return rows
    done: set = set()
    ordered: list[tuple] = []
    pending = rows
    while pending:
        later = []
        for row in pending:
            if all(row[i] is None or row[i] in done or row[i] == row[key] for i in refs):
                ordered.append(row)
                done.add(row[key])
            else:
                later.append(row)
        if len(later) == len(pending):  # a reference to a row that is not there: let the server say
            ordered += later
            break
        pending = later
    return ordered


def _is_empty(target: Database) -> bool:
    for table in ("unit", "person", "account", "audit_entry"):
        if target.execute_sql(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():
            return False
    return True


def migrate_to(actor: Actor, url: str, *, progress: Callable[[str, int], None] | None = None) -> MigrateResult:
    """Copy the bound SQLite database into the empty PostgreSQL database at `url`."""
    require_admin(actor)
    source = models.database.obj
    if connection.is_postgres(source):
        raise MigrateError("not_sqlite")
    if not connection.is_server_url(url):
        raise MigrateError("not_postgres", url=connection.shown_location(url))
    copied: dict[str, int] = {}
    target = connection.make_database(url)
    try:
        target.connect()
    except Exception as exc:  # the server is not there, refuses us, or has no such database
        raise MigrateError("unreachable", url=connection.shown_location(url), message=str(exc).strip()) from None
    try:
        # migrations and the checks below run with the models bound to the target
        models.database.initialize(target)
        try:
            from playhouse.migrations import Runner

            Runner(target, str(connection.MIGRATIONS)).up()
            if not _is_empty(target):
                raise MigrateError("not_empty", url=connection.shown_location(url))
            with target.atomic():
                connection.drop_cache_triggers(target)
                connection.drop_append_only(target)
                for model in sort_models(models.ALL_MODELS):
                    if model in _NOT_COPIED:
                        continue
                    # the target's rows are written by the schema the target's migrations made
                    target.execute_sql(f'DELETE FROM "{model._meta.table_name}"')
                    batches = _batches(source, model)
                    if any(getattr(f, "rel_model", None) is model for f in model._meta.sorted_fields):
                        batches = [_parents_first([row for batch in batches for row in batch], model)]
                    fields = list(model._meta.sorted_fields)
                    columns = ", ".join(f'"{f.column_name}"' for f in fields)
                    marks = ", ".join([target.param] * len(fields))
                    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
                    cursor = target.cursor()
                    count = 0
                    for batch in batches:
                        for i in range(0, len(batch), BATCH):
                            cursor.executemany(sql, batch[i:i + BATCH])
                        count += len(batch)
                        if progress is not None:
                            progress(model._meta.table_name, count)
                    copied[model._meta.table_name] = count
                connection.after_bulk_insert(target)
                connection.install_cache_triggers(target)
                connection.install_append_only(target)
                connection.new_tree_version(target)
            for table, count in copied.items():
                there = target.execute_sql(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                if there != count:
                    raise MigrateError("count_mismatch", table=table, copied=count, there=there)
            report = audit.verify()
            if report.first_broken is not None:
                raise MigrateError("chain", id=report.first_broken, reason=report.broken_reason)
        finally:
            models.database.initialize(source)
    finally:
        target.close()
    return MigrateResult(connection.shown_location(url), copied, copied.get("audit_entry", 0))
