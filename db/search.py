"""Diacritic-insensitive search over people (SQLite FTS5 over the stored folded columns).

Only this module and db/connection.py hold SQL that SQLite alone understands. On PostgreSQL the
same questions are asked of the same folded columns, with the same tiers and the same ranking
(`rank_key`), so that the same people come back in the same order: people through a GIN index
of the words of their folded text (`to_tsvector('simple', ...)`: whole words and word prefixes,
as FTS5 answers, a two-letter word included), units through a `pg_trgm` trigram index (prefixes
and substrings alike). A trigram index alone served people too, but a common word or one of two
letters read most of a province: 200 ms for "ba" on 100,000 people, against 3 ms by words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from peewee import Database

from db import connection, models
from db.text import fold

_FTS_TABLE = "person_fts"
_TOKEN = re.compile(r"[0-9a-z]+")


_UNIT_FTS = "unit_fts"
# every unit's name starts with "Chi bộ" or "Đảng bộ": not what tells a unit from another
_UNIT_WORDS = ("CASE WHEN {n} LIKE 'chi bo %' THEN substr({n}, 8) "
               "WHEN {n} LIKE 'dang bo %' THEN substr({n}, 9) ELSE {n} END")


# PostgreSQL: the text a person is found by, one expression for the index and the queries
# (names alone, or names with the citizen ID and phone); and a unit's words and code.
_PG_NAMES = "(coalesce(p.name_folded, '') || ' ' || coalesce(p.other_folded, ''))"
_PG_ALL = ("(coalesce(p.name_folded, '') || ' ' || coalesce(p.other_folded, '') || ' ' || "
           "coalesce(p.citizen_id, '') || ' ' || lower(coalesce(p.phone, '')))")
# (a per cent sign doubled: psycopg reads the statement for its parameters)
_PG_UNIT_WORDS = _UNIT_WORDS.replace("%", "%%").format(n="u.name_folded")
_PG_UNIT_TEXT = f"({_PG_UNIT_WORDS} || ' ' || lower(u.code))"


def _postgres() -> bool:
    return connection.is_postgres()


def _words_of(text: str) -> str:
    return f"to_tsvector('simple', {text})"


def _install_pg_index(database: Database) -> None:
    """The indexes over the expressions the PostgreSQL queries test (words for people, trigrams
    for units): they follow the rows by themselves, no trigger needed."""
    database.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression in (("person_names_words", "person p", _words_of(_PG_NAMES)),
                                    ("person_search_words", "person p", _words_of(_PG_ALL)),
                                    ("unit_search_trgm", "unit u", f"{_PG_UNIT_TEXT} gin_trgm_ops")):
        table_name, alias = table.split()
        expression = expression.replace(f"{alias}.", "")  # "%%": peewee passes parameters, even none
        database.execute_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table_name} USING gin ({expression})")


def install_index(database: Database) -> None:
    """Create the full-text indexes and the triggers that keep them in step: over people (their
    folded names, IDs and phones, read from the person table) and over units (the folded name
    without its "Chi bộ"/"Đảng bộ", and the code; a small table that keeps its own text).
    An index is filled when it is created."""
    if connection.is_postgres(database):
        _install_pg_index(database)
        return
    existing = {row[0] for row in database.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
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
    ]
    if _FTS_TABLE not in existing:
        statements.append(f"INSERT INTO {_FTS_TABLE}({_FTS_TABLE}) VALUES ('rebuild')")
    new_words = _UNIT_WORDS.format(n="new.name_folded")
    statements += [
        f"""CREATE VIRTUAL TABLE IF NOT EXISTS {_UNIT_FTS} USING fts5(
                words, code, tokenize='unicode61 remove_diacritics 2')""",
        f"""CREATE TRIGGER IF NOT EXISTS unit_fts_ai AFTER INSERT ON unit BEGIN
                INSERT INTO {_UNIT_FTS}(rowid, words, code) VALUES (new.id, {new_words}, new.code);
            END""",
        f"""CREATE TRIGGER IF NOT EXISTS unit_fts_ad AFTER DELETE ON unit BEGIN
                DELETE FROM {_UNIT_FTS} WHERE rowid = old.id;
            END""",
        f"""CREATE TRIGGER IF NOT EXISTS unit_fts_au AFTER UPDATE OF name_folded, code ON unit BEGIN
                DELETE FROM {_UNIT_FTS} WHERE rowid = old.id;
                INSERT INTO {_UNIT_FTS}(rowid, words, code) VALUES (new.id, {new_words}, new.code);
            END""",
    ]
    if _UNIT_FTS not in existing:
        statements.append(f"INSERT INTO {_UNIT_FTS}(rowid, words, code) "
                          f"SELECT id, {_UNIT_WORDS.format(n='name_folded')}, code FROM unit")
    for sql in statements:
        database.execute_sql(sql)


def match_expression(text: str, *, prefix: bool = True) -> str | None:
    """The FTS5 query for what the user typed: all words required, each a prefix (or, with
    `prefix=False`, each a whole word)."""
    tokens = _TOKEN.findall(fold(text))
    if not tokens:
        return None
    star = "*" if prefix else ""
    return " AND ".join(f'"{token}"{star}' for token in tokens)


# How many matches one tier of the search reads from the index at most before ranking them. A
# query that matches more (a common word on a large database) is ranked within these: the
# first of each tier in index order, not every match, so that no query reads every row.
TIER_CAP = 400
# A scope with no more people than this is searched row by row (through the branch index, each
# row's words checked in SQL): a commune's scope on a province's database would otherwise walk
# the full-text index of a common word ("hoang", "thi") across every commune, for 50-80 ms.
SMALL_SCOPE = 30000

_COLUMNS = "p.id, p.name_folded, p.other_folded, p.citizen_id, p.phone, p.sort_key"


def _scope_sql(branch_ids: list[int] | None, include_public: bool) -> tuple[str, list]:
    if branch_ids is None:
        return "1 = 1", []
    if _postgres():
        scope, param = "p.branch_id = ANY(%s)", sorted(branch_ids)
    else:
        scope, param = "p.branch_id IN (SELECT value FROM json_each(?))", json.dumps(sorted(branch_ids))
    if include_public:
        scope = f"({scope} OR (p.branch_id IS NULL AND p.public_role IS NOT NULL))"
    return scope, [param]


def _words(row: tuple, names_only: bool) -> list[str]:
    words = _TOKEN.findall(row[1] or "")  # folded already
    if row[2]:
        words += _TOKEN.findall(row[2])
    if not names_only:
        for value in row[3:5]:  # digits
            if value:
                words += _TOKEN.findall(value.lower())
    return words


def rank_key(row: tuple, tokens: list[str], typed: str, names_only: bool) -> tuple | None:
    """Where a person (`_COLUMNS`) stands for the typed words, None when it does not match.

    The whole folded name equal to what was typed first; then people whose every typed word is
    a whole word of theirs, those whose given name (the last word of the name) is one of the
    typed words first; then people whose words only start with the typed ones (a given name
    starting with one first); ties in Vietnamese name order.
    """
    person_id, name_folded, sort_key = row[0], row[1] or "", row[5] or ""
    if name_folded == typed:
        return (0, 0, sort_key, person_id)
    words = _words(row, names_only)
    given = name_folded.rpartition(" ")[2]
    whole = set(words)
    if all(token in whole for token in tokens):
        return (1, 0 if given in tokens else 1, sort_key, person_id)
    if all(any(word.startswith(token) for word in words) for token in tokens):
        return (2, 0 if any(given.startswith(token) for token in tokens) else 1, sort_key, person_id)
    return None


def _fetch(sql: str, params: list) -> list[tuple]:
    if _postgres():
        sql = sql.replace("?", "%s")  # no question mark in this module's SQL but the parameters
    return list(models.database.execute_sql(sql, params).fetchall())


def _pg_words(tokens: list[str], names_only: bool, *, whole: bool) -> tuple[str, list]:
    """PostgreSQL: every typed word is a word of the person's text (`whole`), or starts one
    (`word:*`), through the index of words (`match_expression` on SQLite)."""
    text = _PG_NAMES if names_only else _PG_ALL
    star = "" if whole else ":*"
    return (f"{_words_of(text)} @@ to_tsquery('simple', ?)",  # the words are [0-9a-z]+: nothing to quote
            [" & ".join(f"{token}{star}" for token in tokens)])


def matching_person_ids(text: str, limit: int, *, branch_ids: Iterable[int] | None = None,
                        include_public: bool = True, names_only: bool = False) -> list[int]:
    """Ids of people whose name, other name, citizen ID or phone match, best first (`rank_key`).

    `branch_ids`: only people of these branches (and, with `include_public`, people recorded by
    public role only, who belong to no branch). The filter is part of the query, so that a
    narrow scope still gets `limit` results from a large database.

    `names_only`: match names and other names, not citizen IDs or phones (for a role that may
    not see them: finding a person by an ID would tell the ID).

    Index only, in tiers each read with a LIMIT: the exact folded name (its index), the people
    with every typed word whole (the full-text index), and only when those are too few, the
    people with words starting with the typed ones. A small scope is read through the branch
    index instead.
    """
    tokens = _TOKEN.findall(fold(text))
    if not tokens or limit <= 0:
        return []
    typed = " ".join(tokens)
    branches = None if branch_ids is None else sorted(set(branch_ids))
    scope, scope_params = _scope_sql(branches, include_public)
    rows: dict[int, tuple] = {}
    if branches is not None and _scope_size(scope, scope_params) <= SMALL_SCOPE:
        words, word_params = _word_prefixes(tokens, names_only)
        for row in _fetch(f"SELECT {_COLUMNS} FROM person p WHERE {scope} AND {words}",
                          [*scope_params, *word_params]):
            rows[row[0]] = row
    else:
        for row in _fetch(f"SELECT {_COLUMNS} FROM person p WHERE p.name_folded = ? AND {scope} "
                          f"ORDER BY p.sort_key, p.id LIMIT ?", [typed, *scope_params, limit]):
            rows[row[0]] = row
        columns = "{name_folded other_folded} : " if names_only else ""
        for prefix in (False, True):
            whole_found = len(rows)
            if prefix and whole_found >= limit:
                break  # enough people match whole words: the prefix-only ones rank after them
            wanted = typed
            if prefix and any(len(token) > 1 for token in tokens):
                # a one-letter prefix ("nguyen thi h") merges every word of that letter in the
                # index: the longer words find the rows, rank_key checks the letter
                wanted = " ".join(token for token in tokens if len(token) > 1)
            if _postgres():
                # in the order the index gives the rows (the order they lie in the table), as
                # FTS5 gives them in id order: the same for rows only appended, and the same
                # people in every tier that holds fewer than TIER_CAP. "ORDER BY p.id" would
                # sort every match of a common word first: 100 ms for "le van" on a million.
                words, word_params = _pg_words(wanted.split(), names_only, whole=not prefix)
                for row in _fetch(f"SELECT {_COLUMNS} FROM person p WHERE {words} AND {scope} "
                                  f"LIMIT ?", [*word_params, *scope_params, TIER_CAP]):
                    rows.setdefault(row[0], row)
                continue
            expression = columns + "(" + match_expression(wanted, prefix=prefix) + ")"
            for row in _fetch(f"SELECT {_COLUMNS} FROM {_FTS_TABLE} f JOIN person p ON p.id = f.rowid "
                              f"WHERE {_FTS_TABLE} MATCH ? AND {scope} LIMIT ?",
                              [expression, *scope_params, TIER_CAP]):
                rows.setdefault(row[0], row)
    ranked = []
    for row in rows.values():
        key = rank_key(row, tokens, typed, names_only)
        if key is not None:
            ranked.append(key)
    ranked.sort()
    return [key[3] for key in ranked[:limit]]


def _word_prefixes(tokens: list[str], names_only: bool) -> tuple[str, list]:
    """An SQL condition every row that rank_key accepts meets: each typed word is inside the
    person's name or other name (or citizen ID or phone, unless `names_only`). Checked by SQLite
    on each row of the scope, so that Python ranks the few that may match, not every row; a
    substring rather than a word start, so that no punctuation in a name can hide a match."""
    columns = ["p.name_folded", "p.other_folded"] + ([] if names_only else ["p.citizen_id", "p.phone"])
    conditions, params = [], []
    contains = "strpos(coalesce({c}, ''), ?) > 0" if _postgres() else "instr(coalesce({c}, ''), ?) > 0"
    for token in tokens:
        conditions.append("(" + " OR ".join(contains.format(c=c) for c in columns) + ")")
        params += [token] * len(columns)
    return " AND ".join(conditions), params


def _scope_size(scope: str, params: list) -> int:
    """The people in a scope, counted up to one more than a small scope holds (index only)."""
    return _fetch(f"SELECT count(*) FROM (SELECT 1 FROM person p WHERE {scope} LIMIT ?) AS scoped",
                  [*params, SMALL_SCOPE + 1])[0][0]


def name_filter_ids_sql(text: str) -> tuple[str, list] | None:
    """A condition on `person.id` for the people whose name or other name has words starting with
    every typed word (the `/` filter of a list), through the full-text index; None when nothing
    was typed."""
    expression = match_expression(text)
    if expression is None:
        return None
    if _postgres():
        words, params = _pg_words(_TOKEN.findall(fold(text)), True, whole=False)
        return f"SELECT p.id FROM person p WHERE {words}".replace("?", "%s"), params
    return (f"SELECT rowid FROM {_FTS_TABLE} WHERE {_FTS_TABLE} MATCH ?",
            [f"{{name_folded other_folded}} : ({expression})"])


def plain_prefix_ids(text: str, limit: int) -> list[int]:
    """The plain FTS5 prefix query (no ranking, no scope): what the search is measured against."""
    expression = match_expression(text)
    if expression is None:
        return []
    if _postgres():
        words, params = _pg_words(_TOKEN.findall(fold(text)), False, whole=False)
        return [row[0] for row in _fetch(f"SELECT p.id FROM person p WHERE {words} LIMIT ?", [*params, limit])]
    return [row[0] for row in _fetch(
        f"SELECT rowid FROM {_FTS_TABLE} WHERE {_FTS_TABLE} MATCH ? LIMIT ?", [expression, limit])]


def matching_unit_ids(text: str, as_of, limit: int, *, unit_ids: Iterable[int] | None = None) -> list[int]:
    """Units current on `as_of` (and among `unit_ids`) whose folded name (the "Chi bộ" or "Đảng
    bộ" that starts every name left out) or code has words starting with every typed word,
    through the units' full-text index; whole words first, then the shorter name (the committee
    before the branches named after it), then by name."""
    tokens = _TOKEN.findall(fold(text))
    if not tokens or limit <= 0:
        return []
    current = "u.founded <= ? AND (u.ended IS NULL OR u.ended > ?)"
    if _postgres():
        where, params = current, [as_of, as_of]
        for token in tokens:
            where += f" AND {_PG_UNIT_TEXT} LIKE ? AND {_PG_UNIT_TEXT} ~ ?"
            params += [f"%{token}%", f"\\m{token}"]
        if unit_ids is not None:
            where += " AND u.id = ANY(?)"
            params.append(sorted(set(unit_ids)))
        sql = f"SELECT u.id, {_PG_UNIT_WORDS}, u.code FROM unit u WHERE {where} ORDER BY u.id LIMIT ?"
    else:
        where = f"{_UNIT_FTS} MATCH ? AND {current}"
        params = [match_expression(" ".join(tokens)), as_of.isoformat(), as_of.isoformat()]
        if unit_ids is not None:
            where += " AND u.id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(sorted(set(unit_ids))))
        sql = f"SELECT u.id, f.words, u.code FROM {_UNIT_FTS} f JOIN unit u ON u.id = f.rowid WHERE {where} LIMIT ?"
    found = []
    for unit_id, words_text, code in _fetch(sql, [*params, TIER_CAP]):
        words = _TOKEN.findall(words_text or "") + _TOKEN.findall(fold(code))
        whole = all(token in words for token in tokens)
        found.append((0 if whole else 1, len(words_text or ""), words_text or "", unit_id))
    found.sort()
    return [unit_id for *_, unit_id in found[:limit]]
