"""People of a unit, a page at a time in Vietnamese name order (keyset pagination on sort_key, id)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from peewee import JOIN, SQL, fn

from db import connection, models, search
from db.access import Actor, may_see_background
from db.units import subtree_ids

KINDS = ("all", "candidates", "members")


@dataclass(frozen=True)
class PersonRow:
    id: int
    full_name: str
    born: datetime.date | None
    sex: str | None
    branch_code: str | None
    branch_name: str | None
    party_status: str | None  # probationary / official / None
    case_id: int | None  # the open file, if any
    stage: str | None
    sort_key: str
    public_role: str | None = None

    @property
    def cursor(self) -> tuple[str, int]:
        return (self.sort_key, self.id)


@dataclass(frozen=True)
class Page:
    rows: tuple[PersonRow, ...]
    has_before: bool
    has_after: bool


def party_status(person_id: int, as_of: datetime.date) -> str | None:
    return _statuses([person_id], as_of).get(person_id)


def _statuses(ids: list[int], as_of: datetime.date) -> dict[int, str]:
    M = models.Membership
    rows = (M.select(M.person, M.official_on)
            .where(M.person.in_(ids) & (M.ceremony_on <= as_of)
                   & (M.ended_on.is_null() | (M.ended_on > as_of)))
            .tuples())
    return {pid: ("official" if official and official <= as_of else "probationary")
            for pid, official in rows}


def party_statuses(ids: list[int], as_of: datetime.date) -> dict[int, str]:
    """Each person's party status on `as_of` (probationary / official; absent: not a member)."""
    return _statuses(ids, as_of)


def _open_cases(ids: list[int]) -> dict[int, tuple[int, str]]:
    C = models.CaseFile
    # the files of these people, then the open ones (CaseFile.is_open) among them: asked for both
    # at once, SQLite (with no statistics) walks every open file of the database by its status
    # index, a tenth of a second per page on a province of a million people
    rows = (C.select(C.person, C.id, C.stage, C.status)
            .where(C.person.in_(ids))
            .order_by(C.id).tuples())
    return {pid: (cid, stage) for pid, cid, stage, status in rows
            if status == "open" and stage != "official"}


def _base_query(unit_ids: list[int], kind: str, as_of: datetime.date, name_filter: str | None = None,
                *, paged: bool = False, counted: bool = False):
    """`paged`: read in name order and stopped after a page (see connection.among); `counted`:
    only counted, so without the branch's name (a third of the time of a province's count)."""
    P, U = models.Person, models.Unit
    if counted:  # count(*): a third of the time of peewee's count() over a subquery
        query = P.select(fn.COUNT(SQL("*")))
    else:
        query = (P.select(P.id, P.full_name, P.born, P.sex, U.code, U.name, P.sort_key, P.public_role)
                 .join(U, JOIN.LEFT_OUTER, on=(P.branch == U.id)))
    query = query.where(connection.among(P.branch, unit_ids, by_index=not paged))
    condition = search.name_filter_ids_sql(name_filter) if name_filter else None
    if condition is not None:  # the `/` filter: the names with words starting with the typed ones
        sql, params = condition
        query = query.where(P.id.in_(SQL(f"({sql})", params)))
    if kind == "candidates":
        C = models.CaseFile
        query = query.where(fn.EXISTS(C.select(C.id).where((C.person == P.id) & C.is_open())))
    elif kind == "members":
        M = models.Membership
        query = query.where(fn.EXISTS(M.select(M.id).where(
            (M.person == P.id) & (M.ceremony_on <= as_of)
            & (M.ended_on.is_null() | (M.ended_on > as_of)))))
    return query


def people_page(actor: Actor, unit_id: int, as_of: datetime.date, *, kind: str = "all",
                after: tuple[str, int] | None = None, before: tuple[str, int] | None = None,
                limit: int = 25, name_filter: str | None = None) -> Page:
    """One page of the people whose branch is `unit_id` or below it.

    `after` (a row's cursor) gives the next page, `before` the previous one; neither, the first.
    `name_filter`: only people whose name or other name has words starting with every word typed
    (diacritics ignored; through the full-text index).
    """
    if kind not in KINDS:
        raise ValueError(kind)
    unit_ids = subtree_ids(actor, unit_id, as_of)
    if not unit_ids:
        return Page((), False, False)
    P = models.Person
    query = _base_query(unit_ids, kind, as_of, name_filter, paged=True)
    if before is not None:
        query = query.where((P.sort_key < before[0]) | ((P.sort_key == before[0]) & (P.id < before[1])))
        raw = list(query.order_by(P.sort_key.desc(), P.id.desc()).limit(limit + 1).tuples())
        more_before = len(raw) > limit
        raw = list(reversed(raw[:limit]))
        more_after = True
    else:
        if after is not None:
            query = query.where((P.sort_key > after[0]) | ((P.sort_key == after[0]) & (P.id > after[1])))
        raw = list(query.order_by(P.sort_key, P.id).limit(limit + 1).tuples())
        more_after = len(raw) > limit
        raw = raw[:limit]
        more_before = after is not None
    ids = [r[0] for r in raw]
    background = may_see_background(actor)
    statuses = _statuses(ids, as_of)
    cases = _open_cases(ids)
    rows = tuple(
        PersonRow(id=r[0], full_name=r[1], born=r[2] if background else None, sex=r[3], branch_code=r[4], branch_name=r[5],
                  party_status=statuses.get(r[0]), case_id=cases.get(r[0], (None, None))[0],
                  stage=cases.get(r[0], (None, None))[1], sort_key=r[6], public_role=r[7])
        for r in raw)
    return Page(rows, more_before, more_after)


def people_count(actor: Actor, unit_id: int, as_of: datetime.date, *, kind: str = "all",
                 name_filter: str | None = None) -> int:
    unit_ids = subtree_ids(actor, unit_id, as_of)
    if not unit_ids:
        return 0
    return _base_query(unit_ids, kind, as_of, name_filter, counted=True).scalar()


def people_position(actor: Actor, unit_id: int, as_of: datetime.date, person_id: int, *,
                    kind: str = "all", name_filter: str | None = None) -> tuple[tuple[str, int], int] | None:
    """Where a person stands in the list of `unit_id`: the cursor just before them (for
    `people_page(after=...)`) and how many rows come before; None when not in the list."""
    unit_ids = subtree_ids(actor, unit_id, as_of)
    if not unit_ids:
        return None
    P = models.Person
    row = (_base_query(unit_ids, kind, as_of, name_filter).where(P.id == person_id).tuples().first())
    if row is None:
        return None
    sort_key = row[6]
    before = (_base_query(unit_ids, kind, as_of, name_filter, counted=True)
              .where((P.sort_key < sort_key) | ((P.sort_key == sort_key) & (P.id < person_id))).scalar())
    return (sort_key, person_id - 1), before
