"""Diacritic-insensitive search over people (SQLite FTS5 over the stored folded columns).

Only this module and db/connection.py hold SQL that SQLite alone understands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from peewee import Database

from db import models
from db.text import fold

_FTS_TABLE = "person_fts"
_TOKEN = re.compile(r"[0-9a-z]+")


def install_index(database: Database) -> None:
    """Create the FTS5 index over people and the triggers that keep it in step."""
    statements = [
        f"""CREATE VIRTUAL TABLE IF NOT EXISTS {_FTS_TABLE} USING fts5(
                name_folded, other_folded, citizen_id, phone,
                content='person', content_rowid='id', tokenize='unicode61 remove_diacritics 2')""",
        f"""CREATE TRIGGER IF NOT EXISTS person_fts_ai AFTER INSERT ON person BEGIN
                INSERT INTO {_FTS_TABLE}(rowid, name_folded, other_folded, citizen_id, phone)
                VALUES (new.id, new.name_folded, new.other_folded, new.citizen_id, new.phone);
            END""",
        f"""CREATE TRIGGER IF NOT EXISTS person_fts_ad AFTER DELETE ON person BEGIN
                INSERT INTO {_FTS_TABLE}({_FTS_TABLE}, rowid, name_folded, other_folded, citizen_id, phone)
                VALUES ('delete', old.id, old.name_folded, old.other_folded, old.citizen_id, old.phone);
            END""",
        f"""CREATE TRIGGER IF NOT EXISTS person_fts_au AFTER UPDATE ON person BEGIN
                INSERT INTO {_FTS_TABLE}({_FTS_TABLE}, rowid, name_folded, other_folded, citizen_id, phone)
                VALUES ('delete', old.id, old.name_folded, old.other_folded, old.citizen_id, old.phone);
                INSERT INTO {_FTS_TABLE}(rowid, name_folded, other_folded, citizen_id, phone)
                VALUES (new.id, new.name_folded, new.other_folded, new.citizen_id, new.phone);
            END""",
        f"INSERT INTO {_FTS_TABLE}({_FTS_TABLE}) VALUES ('rebuild')",
    ]
    for sql in statements:
        database.execute_sql(sql)


def match_expression(text: str) -> str | None:
    """The FTS5 query for what the user typed: every word a prefix, all words required."""
    tokens = _TOKEN.findall(fold(text))
    if not tokens:
        return None
    return " AND ".join(f'"{token}"*' for token in tokens)


def matching_person_ids(text: str, limit: int, *, branch_ids: Iterable[int] | None = None,
                        include_public: bool = True, names_only: bool = False) -> list[int]:
    """Ids of people whose name, other name, citizen ID or phone match, best first.

    `branch_ids`: only people of these branches (and, with `include_public`, people recorded by
    public role only, who belong to no branch). The filter is part of the query, so that a
    narrow scope still gets `limit` results from a large database.

    `names_only`: match names and other names, not citizen IDs or phones (for a role that may
    not see them: finding a person by an ID would tell the ID).

    Ranking: the whole folded name equal to what was typed, then FTS5's bm25, then the
    Vietnamese name order. Uses the index only.
    """
    expression = match_expression(text)
    if expression is None:
        return []
    if names_only:
        expression = f"{{name_folded other_folded}} : ({expression})"
    where = f"{_FTS_TABLE} MATCH ?"
    params: list = [expression]
    if branch_ids is not None:
        scope = "p.branch_id IN (SELECT value FROM json_each(?))"
        if include_public:
            scope = f"({scope} OR (p.branch_id IS NULL AND p.public_role IS NOT NULL))"
        where += f" AND {scope}"
        params.append(json.dumps(sorted(branch_ids)))
    params += [fold(text), limit]
    cursor = models.database.execute_sql(
        f"SELECT p.id FROM {_FTS_TABLE} f JOIN person p ON p.id = f.rowid WHERE {where} "
        f"ORDER BY (p.name_folded = ?) DESC, bm25({_FTS_TABLE}), p.sort_key, p.id LIMIT ?",
        params,
    )
    return [row[0] for row in cursor.fetchall()]
