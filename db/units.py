"""The unit tree, as of a date, within what the actor may see; and finding a unit by code or name."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from db import connection, models
from db.access import Actor, scope_root
from db.text import fold

BRANCH_TYPES = ("branch", "grassroots_branch")


@dataclass(frozen=True)
class UnitNode:
    id: int
    code: str
    name: str
    level: str | None
    org_type: str
    category: str | None
    founded: datetime.date
    ended: datetime.date | None
    parent_id: int | None
    # the units below are made when first asked for (a province's tree has tens of thousands,
    # and a screen shows a few); left out of repr and ==, since Textual writes a worker's
    # arguments with repr and a page request carries its unit
    below: Callable[[int], tuple["UnitNode", ...]] | None = field(default=None, repr=False, compare=False)
    child_count: int = field(default=0, compare=False)  # len(children), without making them

    @cached_property
    def children(self) -> tuple["UnitNode", ...]:
        return self.below(self.id) if self.below is not None else ()

    @property
    def is_branch(self) -> bool:
        return self.org_type in BRANCH_TYPES

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class UnitLookupError(Exception):
    """`code` is unknown_unit or ambiguous_unit; `candidates` lists (code, name) pairs."""

    def __init__(self, code: str, text: str, candidates: tuple[tuple[str, str], ...] = ()):
        super().__init__(code)
        self.code = code
        self.text = text
        self.candidates = candidates


def _alive(unit_founded, unit_ended, as_of: datetime.date) -> bool:
    return unit_founded <= as_of and (unit_ended is None or unit_ended > as_of)


def _parent_map(as_of: datetime.date, current: dict[int, int | None]) -> dict[int, int | None]:
    """unit id -> its parent on `as_of`, from the link history.

    A unit with no link history at all sits under its current parent (`current`), so that a unit
    written without links is not shown as a root.
    """
    L = models.UnitLink
    linked = {unit_id for (unit_id,) in _plain_rows(L.select(L.unit).distinct())}
    parents = {unit_id: parent for unit_id, parent in current.items() if unit_id not in linked}
    del linked
    parents.update(models.database.execute_sql(*L.select(L.unit, L.parent).where(
        (L.start <= as_of) & ((L.end.is_null()) | (L.end > as_of))).sql()))  # a row at a time
    return parents


def _layout(as_of: datetime.date, include_ended: bool):
    """The units' shape: rows (id, parent, founded, ended) in the tree's order, each unit's
    parent and the set of units shown: those alive on `as_of` under their parents of that day,
    or with `include_ended` every unit ever, under its last parent; and a dict of what is made
    from them (the units' names and kinds among it, read when first shown: _details).

    Kept between calls while the tree's token (db.connection.TREE_VERSION, changed by a trigger
    on every unit or link change) stays the same: a province has tens of thousands of units, and
    every page of a list and every save checks the account's scope. The result is shared: read
    it, never change it."""
    token = models.Setting.select(models.Setting.value).where(models.Setting.key == models.TREE_VERSION).scalar()
    key = (id(models.database.obj), token, as_of, include_ended)
    kept = _LAYOUTS.get(key) if token is not None else None
    if kept is None:
        kept = _read_layout(as_of, include_ended)
        if token is not None:
            while len(_LAYOUTS) >= LAYOUTS_KEPT:  # the oldest first
                del _LAYOUTS[next(iter(_LAYOUTS))]
            _LAYOUTS[key] = kept
    return kept


_LAYOUTS: dict[tuple, tuple] = {}
# a province's layout is a few megabytes: today's tree, the one with ended units (reorganisation)
# and a past day or two (a report "as of")
LAYOUTS_KEPT = 4


def _plain_rows(query) -> list[tuple]:
    """The query's rows as the driver gives them: peewee's conversion of each value costs a
    third of a second for a province's units and links, and these columns need none but dates."""
    return models.database.execute_sql(*query.sql()).fetchall()


def _as_date(value):
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


def _alive_on(founded, ended, as_of: datetime.date, day_text: str) -> bool:
    """_alive on the driver's values: SQLite gives ISO text, which compares as the dates do."""
    if isinstance(founded, str):
        return founded <= day_text and (ended is None or ended > day_text)
    return _alive(founded, ended, as_of)


def _read_layout(as_of: datetime.date, include_ended: bool):
    # only the columns the shape needs: a province's names are a third of a second to read, and
    # a screen shows a few dozen of them
    U = models.Unit
    # a row at a time, each date value made once: a province's 31,000 units share a few hundred
    # dates (3 MB less than a string per value)
    shared: dict = {None: None}
    units = [(uid, parent, shared.setdefault(founded, founded), shared.setdefault(ended, ended))
             for uid, parent, founded, ended in models.database.execute_sql(*U.select(
                 U.id, U.parent, U.founded, U.ended).order_by(U.sort_order, U.name_folded, U.id).sql())]
    del shared
    current = {row[0]: row[1] for row in units}
    if include_ended:
        return units, current, set(current), {"details": {}}
    parents = _parent_map(as_of, current)
    day = as_of.isoformat()
    visible = {row[0] for row in units if _alive_on(row[2], row[3], as_of, day)}
    return units, parents, visible, {"details": {}}


DETAILS_ASKED_MAX = 200  # small reads of units' names, before the rest are read at once


def _details(kept: dict, ids) -> dict[int, tuple]:
    """Unit id -> (code, name, level, org_type, category) for `ids`, read when first asked for
    and kept with the layout; after DETAILS_ASKED_MAX reads (a caller walking the whole tree)
    every unit's are read in one go."""
    details = kept["details"]
    missing = [unit_id for unit_id in ids if unit_id not in details]
    if missing:
        U = models.Unit
        query = U.select(U.id, U.code, U.name, U.level, U.org_type, U.category)
        kept["asked"] = kept.get("asked", 0) + 1
        if kept["asked"] <= DETAILS_ASKED_MAX:
            query = query.where(connection.among(U.id, missing))
        for row in _plain_rows(query):
            details[row[0]] = row[1:]
    return details


def _nodes(as_of: datetime.date, include_ended: bool):
    """The layout, and a function making the UnitNodes of a list of its rows (their children
    made when first asked for)."""
    units, parents, visible, kept = _layout(as_of, include_ended)
    kids = kept.get("kids")
    if kids is None:  # kept with the layout it is made from
        kids = {}
        for row in units:  # read in the tree's order
            if row[0] in visible:
                parent = parents.get(row[0])
                kids.setdefault(parent if parent in visible else None, []).append(row)
        kept["kids"] = kids

    def made(rows) -> tuple[UnitNode, ...]:
        details = _details(kept, [row[0] for row in rows])
        return tuple(UnitNode(row[0], *details[row[0]], _as_date(row[2]), _as_date(row[3]),
                              parents.get(row[0]), below, len(kids.get(row[0], ())))
                     for row in rows)

    def below(unit_id: int) -> tuple[UnitNode, ...]:
        return made(kids.get(unit_id, ()))

    return (units, parents, visible, kept, kids), made


def unit_tree(actor: Actor, as_of: datetime.date, *, include_ended: bool = False) -> list[UnitNode]:
    """The tree as it stood on `as_of` (with `include_ended`: every unit ever, under its last parent).

    Roots are the actor's scope root, or the top units when the actor sees everything.
    Children are in `sort_order`, then name.
    """
    (units, _parents, visible, _kept, kids), made = _nodes(as_of, include_ended)
    root = scope_root(actor)
    if root is None:
        return list(made(kids.get(None, ())))
    return list(made([row for row in units if row[0] == root])) if root in visible else []


def subtree_ids(actor: Actor, unit_id: int, as_of: datetime.date) -> list[int]:
    """The unit and every unit below it on `as_of` (empty when the actor may not see it).

    Called for every page of a list and every save: the units and links are read again only
    when the tree has changed (_layout).
    """
    _units, parents, visible, kept = _layout(as_of, False)
    if unit_id not in visible:
        return []
    root = scope_root(actor)
    if root is not None:  # the unit must be the scope root or below it
        ancestor: int | None = unit_id
        while ancestor is not None and ancestor != root:
            ancestor = parents.get(ancestor)
        if ancestor is None:
            return []
    children = kept.get("children")
    if children is None:  # kept with the layout it is made from
        children = {}
        for unit, parent in parents.items():
            if unit in visible and parent in visible:
                children.setdefault(parent, []).append(unit)
        kept["children"] = children
    kept_subtrees = kept.setdefault("subtrees", {})  # the last few units' (a list's every page)
    found = kept_subtrees.get(unit_id)
    if found is None:
        found, stack = [], [unit_id]
        while stack:
            unit = stack.pop()
            found.append(unit)
            stack.extend(children.get(unit, ()))
        if len(kept_subtrees) >= 8:
            kept_subtrees.clear()
        kept_subtrees[unit_id] = found
    return list(found)  # the caller's own copy


def unit_rows(actor: Actor, as_of: datetime.date, *,
              include_ended: bool = False) -> list[tuple[int, str, str, int | None, datetime.date | None]]:
    """(id, code, name, parent id, ended) of every unit of unit_tree, in its order (a walk of
    every node, without making them: a province's 31,000 nodes are tens of megabytes)."""
    (units, parents, visible, _kept, kids), _made = _nodes(as_of, include_ended)
    root = scope_root(actor)
    if root is None:
        top = kids.get(None, ())
    else:
        top = [row for row in units if row[0] == root] if root in visible else []
    U = models.Unit
    names = {uid: (code, name) for uid, code, name in _plain_rows(U.select(U.id, U.code, U.name))}
    out, stack = [], [(row, None) for row in reversed(top)]
    while stack:
        row, parent = stack.pop()
        out.append((row[0], *names[row[0]], parent, _as_date(row[3])))
        stack.extend((kid, row[0]) for kid in reversed(kids.get(row[0], ())))
    return out


def unit_chain(actor: Actor, unit_id: int, as_of: datetime.date, *,
               include_ended: bool = False) -> list[int] | None:
    """The ids from the top of unit_tree down to the unit (the way to it in the tree), or None
    when that tree lacks it: read from the layout, without making any node."""
    _units, parents, visible, _kept = _layout(as_of, include_ended)
    if unit_id not in visible:
        return None
    chain, seen = [unit_id], {unit_id}
    while (parent := parents.get(chain[-1])) is not None and parent in visible and parent not in seen:
        chain.append(parent)
        seen.add(parent)
    root = scope_root(actor)
    if root is not None:
        if root not in seen:
            return None
        chain = chain[:chain.index(root) + 1]
    return chain[::-1]


def get_unit(actor: Actor, unit_id: int, as_of: datetime.date, *,
             include_ended: bool = True) -> UnitNode | None:
    """The unit, in the tree of every unit ever (`unit_tree(include_ended=True)`; without
    `include_ended`, the tree of `as_of`), when the actor may see it; made without making the
    others."""
    (units, parents, visible, kept, kids), made = _nodes(as_of, include_ended)
    if unit_id not in visible:
        return None
    root = scope_root(actor)
    if root is not None:  # the unit must be the scope root or below it
        ancestor, seen = unit_id, set()
        while ancestor is not None and ancestor != root and ancestor not in seen:
            seen.add(ancestor)
            ancestor = parents.get(ancestor) if parents.get(ancestor) in visible else None
        if ancestor != root:
            return None
    rows = kept.get("by_id")
    if rows is None:
        rows = kept["by_id"] = {row[0]: row for row in units}
    return made([rows[unit_id]])[0]


def find_unit(actor: Actor, text: str, as_of: datetime.date) -> UnitNode:
    """A unit by code or name (interfaces.md `U`): exact code, exact folded name, unique
    prefix, unique substring; else UnitLookupError unknown_unit / ambiguous_unit."""
    wanted = fold(text)
    if not wanted:
        raise UnitLookupError("unknown_unit", text)
    code = text.strip()
    # a code (what the screens pass): found without making every unit's node
    U = models.Unit
    unit_id = U.select(U.id).where(U.code == code).scalar()
    node = get_unit(actor, unit_id, as_of) if unit_id is not None else None
    if node is not None:
        return node
    # a name: every unit's, without making their nodes; the one found is made
    rows = [(uid, ucode, name, fold(name), ended)
            for uid, ucode, name, _parent, ended in unit_rows(actor, as_of, include_ended=True)]
    for test in (lambda r: r[3] == wanted or fold(r[1]) == wanted,
                 lambda r: r[3].startswith(wanted),
                 lambda r: wanted in r[3]):
        hits = [r for r in rows if test(r)]
        alive = [r for r in hits if r[4] is None or r[4] > as_of]
        if len(hits) == 1 or len(alive) == 1:
            return get_unit(actor, (alive or hits)[0][0], as_of)
        if hits:
            raise UnitLookupError("ambiguous_unit", text, tuple((r[1], r[2]) for r in hits))
    raise UnitLookupError("unknown_unit", text)
