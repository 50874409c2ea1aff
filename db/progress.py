"""Where a unit stands: the figures of `ketnap stats` (interfaces.md `stats --json`, domain.md
section 6) for a unit and everything under it, for a year, as of any date.

Everything is computed from the recorded rows: steps (a file's stage on a day is its last step
dated on or before it), memberships and affiliations, classes, targets; and the unit tree as it
stood on each date that matters (a decision counts for the units its branch sat under on the
decision's date), so that last year's report comes out the same today.

Four things are kept between reads so that a province's panel does not read a million rows:
each file's next action and due date (models.CaseDue, db.worklist), which answers for a day on
or after the file's last dated record and gives the recorded stage and the overdue count; each
unit's member counts per day (models.MemberTally); the number a unit sent to the year's
awareness classes by a day (models.ClassTally); and the unit tree (`Tree.current`). Triggers
installed by migrations 0004 and 0009 (db.connection.install_cache_triggers) drop or mark what
a change makes wrong, and whatever is missing is computed from the records.
"""

from __future__ import annotations

import bisect
import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from peewee import JOIN, SQL, Case, OperationalError, fn

from db import connection, models, search
from db.access import Actor, NotFound, scope_root
from db.cases import UnitRef
from db.connection import TREE_VERSION
from db.units import subtree_ids

Date = datetime.date
BRANCH_TYPES = ("branch", "grassroots_branch")
FUNNEL = ("identified", "in_class", "certified", "dossier", "branch_approved", "committee_approved",
          "admitted", "probationary")


@dataclass(frozen=True)
class ClassFigures:
    held: int
    planned: int
    trainees: int

    @property
    def held_percent(self) -> float | None:
        return _percent(self.held, self.planned)


@dataclass(frozen=True)
class TermFigures:
    name: str
    start: Date
    end: Date
    admitted: int
    target_per_year: int | None
    admitted_per_year: float
    reorganised: dict


@dataclass(frozen=True)
class ChildFigures:
    unit: UnitRef
    admitted: int
    target: int | None

    @property
    def target_percent(self) -> float | None:
        return _percent(self.admitted, self.target)


@dataclass(frozen=True)
class Stats:
    unit: UnitRef
    year: int
    as_of: Date
    branches: int
    members_official: int
    members_probationary: int
    population: int | None
    admitted: int
    target: int | None
    expected: int
    sent_to_class: int
    classes: dict[str, ClassFigures]
    funnel: dict[str, int]
    overdue: int
    term: TermFigures | None
    children: list[ChildFigures] = field(default_factory=list)

    @property
    def members(self) -> int:
        return self.members_official + self.members_probationary

    @property
    def members_percent_of_population(self) -> float | None:
        return round(100 * self.members / self.population, 1) if self.population else None

    @property
    def target_percent(self) -> float | None:
        return _percent(self.admitted, self.target)

    @property
    def expected_percent(self) -> float | None:
        return _percent(self.expected, self.target)

    @property
    def in_class(self) -> int:
        return self.funnel.get("in_class", 0)


def _percent(part: int, whole: int | None) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def default_as_of(year: int, today: Date) -> Date:
    """Today, or 31/12 of `year` when that is earlier."""
    return min(today, Date(year, 12, 31))


# --- the tree on any day ------------------------------------------------------------------------

class _UnitRow(NamedTuple):
    """A unit as the figures need it; its code and name are read when shown (Tree.named)."""

    id: int
    org_type: str
    level: str | None
    category: str | None
    population: int | None
    parent_id: int | None
    founded: Date
    ended: Date | None
    sort_order: int


class Tree:
    """The units and their parent links, read once; the subtree of a unit on any day.
    `Tree.current()` keeps one between calls while the tree does not change."""

    _kept: tuple | None = None  # (database, version token, tree)

    @classmethod
    def current(cls) -> Tree:
        """The tree of the open database, read again only after a unit or link changed (a token
        set by a trigger on every such change: db.connection.TREE_VERSION)."""
        database = models.database.obj
        version = models.Setting.select(models.Setting.value).where(
            models.Setting.key == TREE_VERSION).scalar()
        kept = cls._kept
        if kept is None or kept[0] is not database or kept[1] != version or version is None:
            cls._kept = None  # the old one may go before the new one is read
            cls._kept = kept = (database, version, cls())
        return kept[2]

    @classmethod
    def release(cls) -> None:
        """Let the kept tree go (its screens closed): a province's is about 10 MB once its
        figures have been worked out, and reading it again takes a fraction of a second."""
        cls._kept = None

    def __init__(self):
        U, L = models.Unit, models.UnitLink
        # read as the driver gives them, each date and each kind made once: a province's
        # 31,000 units share a few dates and a few kinds (20 MB less than one object per value)
        shared: dict = {}

        def once(value):
            return shared.setdefault(value, value)

        def day(value):
            if value is None or isinstance(value, Date):
                return value
            return shared.get(value) or shared.setdefault(value, Date.fromisoformat(value[:10]))

        rows = models.database.execute_sql(*U.select(
            U.id, U.org_type, U.level, U.category, U.population, U.parent, U.founded,
            U.ended, U.sort_order).sql())  # a row at a time
        self.units = {uid: _UnitRow(uid, once(org_type), once(level), once(category),
                                    population, parent, day(founded), day(ended), sort_order)
                      for uid, org_type, level, category, population, parent, founded, ended,
                      sort_order in rows}
        self._names: dict[int, tuple[str, str]] = {}  # unit id -> (code, name), as shown
        links: dict[int, list[tuple]] = defaultdict(list)
        for unit, parent, start, end in models.database.execute_sql(
                *L.select(L.unit, L.parent, L.start, L.end).sql()):
            links[unit].append((parent, day(start), day(end)))
        # kept as tuples, and only where they say more than the unit's own parent: most units
        # have one link, to that parent, over their whole life (5 MB of a province's tree)
        self.links: dict[int, tuple[tuple, ...]] = {
            unit: tuple(rows) for unit, rows in links.items()
            if unit not in self.units or not self._says_no_more(self.units[unit], rows)}
        del links
        # the tree is the same on every day between two dates on which a unit was founded or
        # ended or moved: what is worked out for a day is kept for its span (`_span`), since a
        # province's year of decisions falls on a few hundred days in a few spans
        self._changes = sorted({day for row in self.units.values() for day in (row.founded, row.ended)
                                if day is not None}
                               | {day for links in self.links.values() for _parent, start, end in links
                                  for day in (start, end) if day is not None})
        self._children: dict[int, dict[int | None, list[int]]] = {}
        self._subtrees: dict[tuple[int, int], set[int]] = {}
        # per span, a unit's chain upwards: a tuple (a year's admissions ask for tens of
        # thousands, and a frozenset of five units is twice the size)
        self._ancestors: dict[int, dict[int | None, tuple[int, ...]]] = {}
        self._ever_children: dict[int | None, list[int]] | None = None
        self._ever_below: dict[int, frozenset[int]] = {}
        # renames: a unit's name before each (db.reorganise), for the names of a past day
        P, C = models.UnitChangePart, models.UnitChange
        self.renames: dict[int, list[tuple[Date, str]]] = defaultdict(list)
        for unit, effective, old in (P.select(P.unit, C.effective, P.old_name).join(C)
                                     .where(P.new_name.is_null(False)).order_by(C.effective, C.id).tuples()):
            self.renames[unit].append((effective, old))

    @staticmethod
    def _says_no_more(unit: _UnitRow, links: list[tuple]) -> bool:
        """One link to the unit's own parent, from its founding or before, to its end or after:
        on every day the unit is alive, parent_on gives that parent without it."""
        if len(links) != 1:
            return False
        parent, start, end = links[0]
        return (parent == unit.parent_id and start <= unit.founded
                and (end is None or (unit.ended is not None and end >= unit.ended)))

    def named(self, unit_ids) -> dict[int, tuple[str, str]]:
        """(code, name) of the units, read the first time they are asked for (a panel shows a
        unit and its children, not the province's 31,000)."""
        missing = [uid for uid in unit_ids if uid not in self._names]
        if missing:
            U = models.Unit
            for uid, code, name in models.database.execute_sql(*U.select(U.id, U.code, U.name).where(
                    connection.among(U.id, missing)).sql()):
                self._names[uid] = (code, name)
        return self._names

    def code(self, unit_id: int) -> str:
        return self.named((unit_id,))[unit_id][0]

    def unit_ref(self, unit_id: int) -> UnitRef:
        """The unit with its name of today."""
        code, name = self.named((unit_id,))[unit_id]
        return UnitRef(unit_id, code, name)

    def ref_on(self, unit_id: int, day: Date) -> UnitRef:
        """The unit with the name it had on `day`."""
        ref = self.unit_ref(unit_id)
        name = next((old for effective, old in self.renames.get(unit_id, ()) if effective > day), ref.name)
        return UnitRef(unit_id, ref.code, name)

    def alive(self, unit_id: int, day: Date) -> bool:
        u = self.units[unit_id]
        return u.founded <= day and (u.ended is None or u.ended > day)

    def parent_on(self, unit_id: int, day: Date) -> int | None:
        links = self.links.get(unit_id)
        if not links:
            return self.units[unit_id].parent_id
        for parent, start, end in links:
            if start <= day and (end is None or end > day):
                return parent
        return None

    def _span(self, day: Date) -> int:
        """Which of the spans between the tree's change dates holds `day`."""
        return bisect.bisect_right(self._changes, day)

    def children_on(self, day: Date) -> dict[int | None, list[int]]:
        span = self._span(day)
        if span not in self._children:
            children: dict[int | None, list[int]] = defaultdict(list)
            for uid in self.units:
                if self.alive(uid, day):
                    children[self.parent_on(uid, day)].append(uid)
            self._children[span] = children
        return self._children[span]

    def subtree(self, unit_id: int, day: Date) -> set[int]:
        key = (unit_id, self._span(day))
        if key not in self._subtrees:
            found: set[int] = set()
            if unit_id in self.units and self.alive(unit_id, day):
                children = self.children_on(day)
                todo = [unit_id]
                while todo:
                    uid = todo.pop()
                    found.add(uid)
                    todo.extend(children.get(uid, ()))
            self._subtrees[key] = found
        return self._subtrees[key]

    def ever_below(self, unit_id: int) -> frozenset[int]:
        """Every unit that sat below `unit_id` at any time (a superset of each day's subtree),
        to narrow queries before the exact check of each row's day."""
        if self._ever_children is None:  # lists: a unit listed twice under a parent is walked once
            self._ever_children = defaultdict(list)
            for uid, row in self.units.items():
                self._ever_children[row.parent_id].append(uid)
                for parent, _start, _end in self.links.get(uid, ()):
                    if parent != row.parent_id:
                        self._ever_children[parent].append(uid)
        if unit_id not in self._ever_below:
            found, todo = set(), [unit_id]
            while todo:
                uid = todo.pop()
                if uid not in found:
                    found.add(uid)
                    todo.extend(self._ever_children.get(uid, ()))
            self._ever_below[unit_id] = frozenset(found)
        return self._ever_below[unit_id]

    def ancestors(self, unit_id: int | None, day: Date) -> tuple[int, ...]:
        """The unit and the units above it on `day`, upwards: the units whose subtree holds it
        then."""
        kept = self._ancestors.setdefault(self._span(day), {})
        chain = kept.get(unit_id)
        if chain is None:
            found, unit = [], unit_id
            while unit is not None and unit in self.units and unit not in found and self.alive(unit, day):
                found.append(unit)
                unit = self.parent_on(unit, day)
            kept[unit_id] = chain = tuple(found)
        return chain


def _within(column, ids, tree: Tree):
    """`column IN ids` for a query: nothing to check when `ids` holds every unit (a province's
    panel), else connection.among (one JSON parameter for a long list)."""
    ids = set(ids)
    if len(ids) >= len(tree.units) and ids >= tree.units.keys():
        return SQL("1 = 1")
    return connection.among(column, ids)


# --- the figures --------------------------------------------------------------------------------

def _admissions(first: Date, last: Date, units: set[int] | None = None,
                tree: Tree | None = None) -> list[tuple[int, Date, int]]:
    """(file, decision date, the branch that voted) for decisions dated first..last (of branches
    among `units`, when given). The voting branch is the one stored with the file's figures
    (models.CaseDue, by its key) when that row is not stale, else found through an index
    holding every column read (models.Step), with no grouping."""
    S, C, D = models.Step, models.CaseFile, models.CaseDue
    V, F = S.alias("vote"), C.alias("own")
    # the voting branch as stored with the file's figures (models.CaseDue), else found now
    voted = fn.COALESCE(
        Case(None, [(D.stale == False, D.voted_branch)], None),  # noqa: E712
        V.select(fn.MAX(V.unit)).where((V.case == S.case) & (V.stage == "branch_approved") & V.undone_at.is_null()),
        F.select(F.branch).where(F.id == S.case))
    tree = tree or Tree.current()
    some = units is not None and len(units) < len(tree.units)
    # a few units: start from their files (the stage written so that SQLite does not start
    # from the index of every decision of the period instead)
    admitted = (S.stage.concat("") if some else S.stage) == "admitted"
    query = (S.select(S.case, S.date, voted).join(D, JOIN.LEFT_OUTER, on=(D.case == S.case))
             .where(admitted & S.undone_at.is_null() & (S.date >= first) & (S.date <= last)))
    if some:  # only the files of these branches, or voted on by one
        query = query.where(S.case.in_(
            C.select(C.id).where(_within(C.branch, units, tree))
            | S.select(S.case).where((S.stage == "branch_approved") & _within(S.unit, units, tree))))
    rows = models.database.execute_sql(*query.sql()).fetchall()
    days: dict = {}  # each date read once (a year of decisions falls on a few hundred days)
    return [(case, days.get(day) or days.setdefault(day, _day(day)), branch) for case, day, branch in rows
            if units is None or branch in units]


def _day(value) -> Date:
    return value if isinstance(value, Date) else Date.fromisoformat(value[:10])


def _count_admitted(tree: Tree, unit_id: int, admissions) -> int:
    return sum(1 for _case, day, branch in admissions if unit_id in tree.ancestors(branch, day))


def _admitted_under(tree: Tree, admissions, wanted: set[int] | None = None) -> Counter:
    """How many of `admissions` count for each unit (of `wanted`, when given): every unit above
    the voting branch on the decision's day (one pass, for a unit and all its children at once)."""
    chains = Counter(tree.ancestors(branch, day) for _case, day, branch in admissions)
    counts: Counter = Counter()
    for chain, times in chains.items():
        for unit in (chain if wanted is None else wanted.intersection(chain)):
            counts[unit] += times
    return counts


def _funnel(tree: Tree, day: Date, branches: set[int]) -> Counter:
    """How many files of these branches were at each stage on `day` (open then: not closed, or
    closed later). A file's stage that day is its last live step dated on or before it. For the
    files whose stored next action answers for that day (models.CaseDue: nothing in them is dated
    later) that is their recorded stage: the open files are counted per recorded stage in an
    index, then the few others replayed from their steps."""
    from db.worklist import on_branches

    S, C, D = models.Step, models.CaseFile, models.CaseDue
    mine = on_branches(lambda column: _within(column, branches, tree), day)
    unanswered = D.select(D.case).where((D.stale == True) | D.settled.is_null() | (D.settled > day))  # noqa: E712
    counts = Counter(dict(C.select(C.stage, fn.COUNT(C.id)).where(mine & (C.status == "open"))
                          .group_by(C.stage).tuples()))
    counts.subtract(dict(C.select(C.stage, fn.COUNT(C.id)).where(mine & (C.status == "open") & C.id.in_(unanswered))
                         .group_by(C.stage).tuples()))
    files = C.select(C.id).where(mine & ((C.status == "open") | (C.closed_on > day)) & C.id.in_(unanswered))
    last_seq = (S.select(S.case, fn.MAX(S.seq).alias("seq"))
                .where(S.undone_at.is_null() & (S.date <= day) & S.case.in_(files)).group_by(S.case))
    rows = (S.select(S.stage, fn.COUNT(S.id))
            .join(last_seq, on=((S.case == last_seq.c.case_id) & (S.seq == last_seq.c.seq)))
            .group_by(S.stage).tuples())
    counts.update(dict(rows))
    return counts


def _members(tree: Tree, unit_id: int, day: Date) -> tuple[int, int]:
    """(official, probationary) members of the unit's tree on `day`: the sum of each unit's
    counts (models.MemberTally), the units without stored counts for that day counted now."""
    inside = tree.subtree(unit_id, day)
    MT = models.MemberTally
    mine = _within(MT.unit, inside, tree)
    # every unit's counts kept (the usual case): summed in SQL, not read row by row
    kept, official, probationary = models.database.execute_sql(*MT.select(
        fn.COUNT(MT.unit), fn.SUM(MT.official), fn.SUM(MT.probationary)).where((MT.day == day) & mine).sql()).fetchone()
    if kept == len(inside):
        return official or 0, probationary or 0
    counts = {unit: (official, probationary) for unit, official, probationary in models.database.execute_sql(*(
        MT.select(MT.unit, MT.official, MT.probationary).where((MT.day == day) & mine).sql())).fetchall()}
    missing = inside - counts.keys()
    if missing:
        fresh = _count_members(tree, missing, day)
        counts.update(fresh)
        _keep_tally(day, fresh)
    return sum(o for o, _p in counts.values()), sum(p for _o, p in counts.values())


_MANY_UNITS = 500  # past this, the member counts read every unit's affiliations in unit order


def _count_members(tree: Tree, units: set[int], day: Date) -> dict[int, tuple[int, int]]:
    """(official, probationary) members on `day` of each of these units (their affiliation that
    day), zero included."""
    M, A = models.Membership, models.Affiliation
    alive = (M.ceremony_on <= day) & (M.ended_on.is_null() | (M.ended_on > day)) \
        & (A.start <= day) & (A.end.is_null() | (A.end > day))
    if len(units) > _MANY_UNITS:
        # many units (the first panel of a day): every unit's affiliations in the order of their
        # index, each person's membership looked up by person, so no million rows sorted to group
        query = (A.select(A.unit, fn.COUNT(M.id), fn.SUM(Case(None, [(M.official_on <= day, 1)], 0)))
                 .join(M, JOIN.CROSS)
                 .where((M.person == A.person) & alive & _within(A.unit, units, tree)).group_by(A.unit))
    else:
        query = (M.select(A.unit, fn.COUNT(M.id), fn.SUM(Case(None, [(M.official_on <= day, 1)], 0)))
                 .join(A, on=(A.person == M.person)).where(alive & _within(A.unit, units, tree))
                 .group_by(A.unit))
    found = {unit: (0, 0) for unit in units}
    for unit, total, official in models.database.execute_sql(*query.sql()).fetchall():
        found[unit] = (official or 0, total - (official or 0))
    return found


_TALLY_DAYS = 4  # days whose member counts are kept (today's, and a few asked "as of")


def _keep_tally(day: Date, counts: dict[int, tuple[int, int]]) -> None:
    """Store counts just made, dropping those of older days past the few kept. Only a cache:
    when the database cannot take the write now (read-only, busy), nothing is stored."""
    from db.connection import is_read_only

    if is_read_only():
        return
    MT = models.MemberTally
    # one statement made once and run for every row (the first panel of a day keeps tens of
    # thousands: building a statement of them all took longer than counting them)
    statement, _ = (MT.insert(day=day, unit=0, official=0, probationary=0)
                    .on_conflict(conflict_target=[MT.day, MT.unit], preserve=[MT.official, MT.probationary])
                    .sql())
    stored_day = day.isoformat()  # as DateField stores it
    rows = [(stored_day, unit, official, probationary) for unit, (official, probationary) in counts.items()]
    try:
        with models.database.atomic():
            models.database.cursor().executemany(statement, rows)
            others = [d for (d,) in MT.select(MT.day).where(MT.day != day).distinct()
                      .order_by(MT.day.desc()).tuples()]
            if len(others) >= _TALLY_DAYS:  # the day just counted, and the latest others
                MT.delete().where(MT.day.not_in([day, *others[:_TALLY_DAYS - 1]])).execute()
    except OperationalError:
        pass


def _population(tree: Tree, unit_id: int, day: Date) -> int | None:
    total = sum(tree.units[u].population or 0 for u in tree.subtree(unit_id, day)
                if tree.units[u].level == "commune")
    return total or None


def target_for(unit_id: int, year: int) -> int | None:
    """The unit's latest target for `year`, else its term's yearly average."""
    return targets_for([unit_id], year).get(unit_id)


def targets_for(unit_ids: list[int], year: int) -> dict[int, int]:
    """target_for of several units in two queries (the units without one left out)."""
    T, Term = models.Target, models.Term
    found: dict[int, int] = {}
    # newest last, so that the newest row of each unit is the one kept
    for unit, value in (T.select(T.unit, T.value).where(connection.among(T.unit, unit_ids) & (T.year == year))
                        .order_by(T.set_on, T.id).tuples()):
        found[unit] = value
    averages: dict[int, int] = {}
    for unit, value in (T.select(T.unit, T.value).join(Term)
                        .where(connection.among(T.unit, unit_ids) & (Term.start <= Date(year, 12, 31))
                               & (Term.end >= Date(year, 1, 1)))
                        .order_by(T.set_on, T.id).tuples()):
        averages[unit] = value
    return {**averages, **found}


def _sent_to_class(tree: Tree, unit_id: int, year: int, as_of: Date) -> int:
    """`_count_sent` as kept for the unit, year and day (models.ClassTally), counted and kept
    when missing."""
    CT = models.ClassTally
    kept = models.database.execute_sql(*CT.select(CT.sent).where(
        (CT.day == as_of) & (CT.year == year) & (CT.unit == unit_id)).sql()).fetchone()
    if kept is not None:
        return kept[0]
    sent = _count_sent(tree, unit_id, year, as_of)
    _keep_class_tally(as_of, year, unit_id, sent)
    return sent


def _keep_class_tally(day: Date, year: int, unit_id: int, sent: int) -> None:
    """Store a count just made, dropping those of older days past the few kept. Only a cache:
    when the database cannot take the write now (read-only, busy), nothing is stored."""
    from db.connection import is_read_only

    if is_read_only():
        return
    CT = models.ClassTally
    try:
        with models.database.atomic():
            CT.insert(day=day, year=year, unit=unit_id, sent=sent).on_conflict(
                conflict_target=[CT.day, CT.year, CT.unit], preserve=[CT.sent]).execute()
            others = [d for (d,) in CT.select(CT.day).where(CT.day != day).distinct()
                      .order_by(CT.day.desc()).tuples()]
            if len(others) >= _TALLY_DAYS:
                CT.delete().where(CT.day.not_in([day, *others[:_TALLY_DAYS - 1]])).execute()
    except OperationalError:
        pass


def class_tally_problems() -> int:
    """How many kept counts of people sent to class (models.ClassTally) differ from a count
    made now from the records: for `ketnap check`."""
    CT = models.ClassTally
    tree = Tree()
    return sum(1 for day, year, unit, sent in CT.select(CT.day, CT.year, CT.unit, CT.sent).tuples()
               if unit not in tree.units or sent != _count_sent(tree, unit, year, day))


def _count_sent(tree: Tree, unit_id: int, year: int, as_of: Date) -> int:
    """How many people were sent to the year's awareness classes started by `as_of` by a branch
    of the unit: their branch on the class's first day, under the unit that day."""
    E, C, A = models.Enrolment, models.TrainingClass, models.Affiliation
    query = (E.select(E.person, C.start, A.unit).join(C, on=(E.training_class == C.id))
             .join(A, on=((A.person == E.person) & (A.start <= C.start) & (A.end.is_null() | (A.end > C.start))))
             .where((C.kind == "awareness") & C.start.is_null(False) & (C.start >= Date(year, 1, 1))
                    & (C.start <= as_of) & _within(A.unit, tree.ever_below(unit_id), tree)))
    rows = models.database.execute_sql(*query.sql()).fetchall()
    counted = {(unit, start): unit_id in tree.ancestors(unit, _day(start)) for unit, start in
               {(unit, start) for _person, start, unit in rows}}
    return len({person for person, start, unit in rows if counted[unit, start]})


def _classes(tree: Tree, unit_id: int, year: int, as_of: Date, kind: str) -> ClassFigures:
    T, E, P = models.TrainingClass, models.Enrolment, models.ClassPlan
    inside = tree.subtree(unit_id, as_of)
    of_year = (T.kind == kind) & (T.year == year) & _within(T.unit, inside, tree) & (T.status != "cancelled")
    held_on = T.start.is_null(False) & (T.start <= as_of)
    classes, held = T.select(fn.COUNT(T.id), fn.SUM(Case(None, [(held_on, 1)], 0))).where(of_year).tuples().get()
    planned = P.select(fn.SUM(P.classes)).where(_within(P.unit, inside, tree) & (P.year == year)
                                                & (P.kind == kind)).scalar()
    trainees = E.select().join(T, on=(E.training_class == T.id)).where(of_year & held_on).count()
    return ClassFigures(held or 0, planned if planned is not None else classes, trainees)


def _reorganised(tree: Tree, unit_id: int, first: Date, last: Date) -> dict:
    """Reorganisations effective first..last acting on units of the tree as it stood the day
    before (domain.md section 2): grassroots organisations among the sources, village branches
    split or merged, agency branches under a commune dissolved, and how many of those there were
    at the start."""
    C, P = models.UnitChange, models.UnitChangePart
    units = tree.units
    grassroots, villages, dissolved = set(), set(), set()
    for change in C.select().where((C.effective >= first) & (C.effective <= last)):
        before = change.effective - datetime.timedelta(days=1)
        inside = tree.subtree(unit_id, before)
        for (source_id,) in P.select(P.unit).where((P.change == change) & (P.role == "source")).tuples():
            source = units[source_id]
            if source.id not in inside:
                continue
            if source.org_type in ("grassroots_committee", "grassroots_branch"):
                grassroots.add(source.id)
            if change.kind in ("split", "merge") and source.category == "village":
                villages.add(source.id)
            parent = units.get(tree.parent_on(source.id, before))
            if change.kind == "dissolve" and source.category == "agency" and parent is not None \
                    and parent.level == "commune":
                dissolved.add(source.id)
    at_start = {uid for uid in tree.subtree(unit_id, first)
                if units[uid].category == "agency" and units[uid].org_type in BRANCH_TYPES
                and units.get(tree.parent_on(uid, first)) is not None
                and units[tree.parent_on(uid, first)].level == "commune"}
    return {"grassroots": len(grassroots), "village_branches": len(villages),
            "agency_branches_dissolved": len(dissolved & at_start), "agency_branches_at_start": len(at_start)}


def _term(tree: Tree, unit_id: int, as_of: Date,
          admissions: tuple[Date, list] | None = None) -> TermFigures | None:
    """The term running on `as_of`; `admissions`: (a day, the decisions from it to as_of) when
    the caller has read them."""
    Term, T = models.Term, models.Target
    term = Term.select().where((Term.start <= as_of) & (Term.end >= as_of)).first()
    if term is None:
        return None
    if admissions is None or admissions[0] > term.start:
        admissions = (term.start, _admissions(term.start, as_of, tree.ever_below(unit_id), tree))
    admitted = _count_admitted(tree, unit_id, [a for a in admissions[1] if a[1] >= term.start])
    row = (T.select(T.value).where((T.unit == unit_id) & (T.term == term.id))
           .order_by(T.set_on.desc(), T.id.desc()).first())
    years = max((as_of - term.start).days + 1, 1) / 365.25
    return TermFigures(term.name, term.start, term.end, admitted, row.value if row else None,
                       round(admitted / years, 1), _reorganised(tree, unit_id, term.start, as_of))


def _overdue(tree: Tree, units: set[int], as_of: Date) -> int:
    from db.worklist import overdue_count

    from db.worklist import on_branches

    return overdue_count(on_branches(lambda column: _within(column, units, tree), as_of), as_of)


def stats(actor: Actor, unit_id: int | None, year: int, as_of: Date, *, today: Date | None = None,
          children: bool = True, tree: Tree | None = None) -> Stats:
    """The figures of `unit_id` (None: the highest unit the actor may see) for `year` as of
    `as_of`. NotFound when the unit is not the actor's to see on `as_of`. A caller asking for
    several units may pass one `Tree`."""
    tree = tree or Tree.current()
    if unit_id is None:
        unit_id = scope_root(actor)
        if unit_id is None:
            tops = tree.children_on(as_of).get(None, [])
            if not tops:
                raise NotFound(None)
            unit_id = min(tops, key=lambda u: (tree.units[u].sort_order, u))
    root = scope_root(actor)
    if root is not None and unit_id not in subtree_ids(actor, root, as_of):
        raise NotFound(unit_id)
    if not tree.alive(unit_id, as_of):
        raise NotFound(unit_id)
    inside = tree.subtree(unit_id, as_of)
    # the decisions of the year, and of the running term when it began earlier: read once
    term = models.Term.select().where((models.Term.start <= as_of) & (models.Term.end >= as_of)).first()
    first = min(Date(year, 1, 1), term.start) if term is not None else Date(year, 1, 1)
    read = _admissions(first, as_of, tree.ever_below(unit_id), tree)
    below = tree.children_on(as_of).get(unit_id, []) if children else []
    under = _admitted_under(tree, [a for a in read if a[1] >= Date(year, 1, 1)], {unit_id, *below})
    admitted = under[unit_id]
    counts = _funnel(tree, as_of, inside)
    funnel = {stage: counts.get(stage, 0) for stage in FUNNEL}
    official, probationary = _members(tree, unit_id, as_of)
    kids = []
    if children:
        tree.named(below)
        below = sorted(below, key=lambda u: (tree.units[u].sort_order, tree.code(u)))
        goals = targets_for(below, year)
        kids = [ChildFigures(tree.ref_on(child, as_of), under[child], goals.get(child)) for child in below]
        kids.sort(key=lambda c: (c.target_percent is None, -(c.target_percent or 0)))
    return Stats(
        unit=tree.ref_on(unit_id, as_of), year=year, as_of=as_of,
        branches=sum(1 for u in inside if tree.units[u].org_type in BRANCH_TYPES),
        members_official=official, members_probationary=probationary,
        population=_population(tree, unit_id, as_of), admitted=admitted,
        target=target_for(unit_id, year),
        expected=admitted + funnel["branch_approved"] + funnel["committee_approved"],
        sent_to_class=_sent_to_class(tree, unit_id, year, as_of),
        classes={kind: _classes(tree, unit_id, year, as_of, kind) for kind in ("awareness", "new_member")},
        funnel=funnel, overdue=_overdue(tree, inside, as_of), term=_term(tree, unit_id, as_of, (first, read)),
        children=kids)


def stats_json(s: Stats) -> dict:
    """`stats --json` (interfaces.md)."""
    def iso(day):
        return day.isoformat() if day else None

    def ref(u):
        return {"code": u.code, "name": u.name}

    term = None
    if s.term is not None:
        term = {"name": s.term.name, "start": iso(s.term.start), "end": iso(s.term.end),
                "admitted": s.term.admitted, "target_per_year": s.term.target_per_year,
                "admitted_per_year": s.term.admitted_per_year, "reorganised": s.term.reorganised}
    return {
        "unit": ref(s.unit), "year": s.year, "as_of": iso(s.as_of), "branches": s.branches,
        "members": {"total": s.members, "official": s.members_official,
                    "probationary": s.members_probationary},
        "population": s.population, "members_percent_of_population": s.members_percent_of_population,
        "admitted": s.admitted, "target": s.target, "target_percent": s.target_percent,
        "expected_by_year_end": s.expected, "expected_percent": s.expected_percent,
        "sent_to_class": s.sent_to_class, "in_class": s.in_class,
        "classes": {kind: {"held": c.held, "planned": c.planned, "held_percent": c.held_percent,
                           "trainees": c.trainees} for kind, c in s.classes.items()},
        "funnel": dict(s.funnel), "overdue": s.overdue, "term": term,
        "children": [{"unit": ref(c.unit), "admitted": c.admitted, "target": c.target,
                      "target_percent": c.target_percent} for c in s.children],
    }


# --- targets ------------------------------------------------------------------------------------

class TargetError(Exception):
    """A refused target: `code` is bad_value or no_term."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class TargetRow:
    unit: UnitRef
    year: int | None
    term: str | None
    value: int
    set_on: Date
    set_by: str | None
    note: str | None
    current: bool  # the latest for its key (the one in force)


def set_target(actor: Actor, unit_id: int, value: int, today: Date, *, year: int | None = None,
               term: bool = False, note: str | None = None) -> None:
    """A new target for the unit: for `year`, or with `term` the yearly average of the term
    containing 31/12 of `year` (or today). Older rows stay: the history of changes."""
    from db import audit
    from db.access import may_override
    from db.connection import write_transaction
    from db.text import clean

    if not may_override(actor):
        from db.access import AccessError

        raise AccessError("forbidden", role=actor.role)
    if value < 0:
        raise TargetError("bad_value", field="value", value=value)
    root = scope_root(actor)
    if root is not None and unit_id not in subtree_ids(actor, root, today):
        raise NotFound(unit_id)
    T, Term = models.Target, models.Term
    with write_transaction():
        term_row = None
        if term:
            day = Date(year, 12, 31) if year else today
            term_row = Term.select().where((Term.start <= day) & (Term.end >= day)).first()
            if term_row is None:
                raise TargetError("no_term", date=day.isoformat())
        elif year is None:
            raise TargetError("bad_value", field="year", value=None)
        key = (T.unit == unit_id) & ((T.term == term_row.id) if term_row else (T.year == year))
        previous = T.select(T.value).where(key).order_by(T.set_on.desc(), T.id.desc()).first()
        row = T.create(unit=unit_id, year=None if term_row else year, term=term_row.id if term_row else None,
                       value=value, set_on=today, set_by=actor.account_id,
                       note=clean(note).strip() or None if note else None)
        audit.record(actor, "target", "target", row.id,
                     {"value": previous.value} if previous else None,
                     {"year": year if not term_row else None, "term": term_row.name if term_row else None,
                      "value": value, "note": row.note}, unit_id)


def targets(actor: Actor, today: Date, *, unit_id: int | None = None) -> list[TargetRow]:
    """Every target row of the units the actor sees (below `unit_id` when given), newest first
    per unit and key, with the one in force marked."""
    from peewee import JOIN

    T, Term, U, A = models.Target, models.Term, models.Unit, models.Account
    root = unit_id if unit_id is not None else scope_root(actor)
    query = (T.select(U.id, U.code, U.name, T.year, T.term, Term.name, T.value, T.set_on, A.name, T.note)
             .join(U, on=(T.unit == U.id)).switch(T)
             .join(Term, JOIN.LEFT_OUTER, on=(T.term == Term.id)).switch(T)
             .join(A, JOIN.LEFT_OUTER, on=(T.set_by == A.id)))
    if root is not None:
        query = query.where(connection.among(T.unit, subtree_ids(actor, root, today)))
    seen: set[tuple] = set()
    out = []
    for uid, code, uname, year, term_id, term_name, value, set_on, account, note in (
            query.order_by(U.code, T.year.desc(), T.term.desc(), T.set_on.desc(), T.id.desc()).tuples()):
        key = (uid, year, term_id)
        out.append(TargetRow(UnitRef(uid, code, uname), year, term_name, value, set_on, account, note,
                             key not in seen))
        seen.add(key)
    return out


# --- breakdowns and time in stage ---------------------------------------------------------------

BREAKDOWN = ("female", "ethnic_minority", "religion", "youth_union", "age_18_30", "upper_secondary",
             "readmitted")
MAJORITY = "Kinh"  # the majority group: everyone else counts as an ethnic minority


@dataclass(frozen=True)
class StageTime:
    stage: str
    files: int  # files that left the stage (the time is known)
    median_days: int | None
    slowest: tuple[tuple[int, str, int], ...]  # (file, name, days), the slowest first


def _admitted_files(tree: Tree, unit_id: int, year: int, as_of: Date) -> list[tuple[int, Date]]:
    return [(case, day) for case, day, branch in _admissions(Date(year, 1, 1), as_of, tree.ever_below(unit_id))
            if unit_id in tree.ancestors(branch, day)]


def breakdown(actor: Actor, unit_id: int, year: int, as_of: Date, *, tree: Tree | None = None) -> dict:
    """The year's admissions (as `stats().admitted`) by the statistics forms' columns (11-HD/BTCTW):
    women, ethnic minorities, religious believers, Youth Union members, aged 18-30 on the decision
    date, upper-secondary education (12/12), re-admitted; and by occupation."""
    root = scope_root(actor)
    if root is not None and unit_id not in subtree_ids(actor, root, as_of):
        raise NotFound(unit_id)
    from db.calendar import full_months_between

    tree = tree or Tree.current()
    files = dict(_admitted_files(tree, unit_id, year, as_of))
    C, P = models.CaseFile, models.Person
    rows = (C.select(C.id, C.readmission, P.sex, P.ethnicity, P.religion, P.youth_union, P.born,
                     P.education, P.occupation).join(P, on=(C.person == P.id))
            .where(C.id.in_(list(files))).tuples())
    counts = {key: 0 for key in BREAKDOWN}
    occupations: dict[str, int] = defaultdict(int)
    for case, readmission, sex, ethnicity, religion, youth, born, education, occupation in rows:
        counts["female"] += sex == "F"
        counts["ethnic_minority"] += bool(ethnicity) and ethnicity != MAJORITY
        counts["religion"] += bool(religion and religion.strip() and religion.strip().lower() not in ("không", "khong"))
        counts["youth_union"] += bool(youth)
        if born is not None:
            months = full_months_between(born, files[case])
            counts["age_18_30"] += 18 * 12 <= months < 31 * 12
        counts["upper_secondary"] += (education or "").startswith("12/12")
        counts["readmitted"] += bool(readmission)
        occupations[occupation or ""] += 1
    return {"admitted": len(files), **counts,
            "occupation": dict(sorted(occupations.items(), key=lambda kv: (-kv[1], kv[0])))}


def stage_times(actor: Actor, unit_id: int, as_of: Date, *, slowest: int = 5) -> list[StageTime]:
    """How long the unit's files (branch in its tree on `as_of`) stayed in each stage, from each
    step to the next one, for the steps up to `as_of`: the median in days and the slowest files."""
    import statistics

    root = scope_root(actor)
    if root is not None and unit_id not in subtree_ids(actor, root, as_of):
        raise NotFound(unit_id)
    from db.worklist import on_branches

    tree = Tree.current()
    inside = tree.subtree(unit_id, as_of)
    S, C, P = models.Step, models.CaseFile, models.Person
    rows = (S.select(S.case, S.seq, S.stage, S.date, P.full_name)
            .join(C, on=(S.case == C.id)).join(P, on=(C.person == P.id))
            .where(S.undone_at.is_null() & (S.date <= as_of)
                   & on_branches(lambda column: _within(column, inside, tree), as_of))
            .order_by(S.case, S.seq).tuples())
    spans: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    previous = None
    for case, _seq, stage, day, name in rows:
        if previous is not None and previous[0] == case:
            spans[previous[1]].append(((day - previous[2]).days, case, name))
        previous = (case, stage, day)
    out = []
    for stage in FUNNEL:
        times = spans.get(stage, [])
        days = [d for d, _c, _n in times]
        worst = tuple((c, n, d) for d, c, n in sorted(times, key=lambda x: (-x[0], x[1]))[:slowest])
        out.append(StageTime(stage, len(times), int(statistics.median(days)) if days else None, worst))
    return out


# --- the report a unit sends up -----------------------------------------------------------------

REPORT_COLUMNS = ("target", "admitted", "target_percent", "expected", "classes_held", "sent_to_class",
                  "members", "members_percent_of_population") + BREAKDOWN


@dataclass(frozen=True)
class Report:
    unit: UnitRef
    parent: UnitRef | None  # the unit above, for the document's header
    level: str | None
    year: int
    as_of: Date
    rows: list[tuple[UnitRef, dict]]  # one per child unit, in the tree's order
    totals: dict  # the sum of the rows (percentages computed from the sums)
    own: Stats  # the unit's own figures (its own target)


def _report_row(s: Stats, b: dict) -> dict:
    return {"target": s.target, "admitted": s.admitted, "target_percent": s.target_percent,
            "expected": s.expected, "classes_held": s.classes["awareness"].held,
            "sent_to_class": s.sent_to_class, "members": s.members,
            "members_percent_of_population": s.members_percent_of_population,
            "population": s.population, **{k: b[k] for k in BREAKDOWN}}


def report(actor: Actor, unit_id: int, year: int, as_of: Date) -> Report:
    """One row per child unit with its target, admissions, expected, classes, trainees, members,
    share of population and the breakdown columns; the totals are the sums of the rows."""
    tree = Tree.current()
    own = stats(actor, unit_id, year, as_of, children=False, tree=tree)
    rows = []
    tree.named(tree.children_on(as_of).get(unit_id, []))
    for child in sorted(tree.children_on(as_of).get(unit_id, []),
                        key=lambda u: (tree.units[u].sort_order, tree.code(u))):
        s = stats(actor, child, year, as_of, children=False, tree=tree)
        rows.append((s.unit, _report_row(s, breakdown(actor, child, year, as_of, tree=tree))))
    totals: dict = {}
    for key in REPORT_COLUMNS + ("population",):
        values = [r[key] for _u, r in rows if r[key] is not None]
        totals[key] = sum(values) if values else None
    totals["target_percent"] = _percent(totals["admitted"], totals["target"])
    totals["members_percent_of_population"] = (round(100 * totals["members"] / totals["population"], 1)
                                               if totals["population"] else None)
    parent_id = tree.parent_on(unit_id, as_of)
    unit = tree.units[unit_id]
    return Report(own.unit, tree.unit_ref(parent_id) if parent_id else None, unit.level, year, as_of,
                  rows, totals, own)


def admitted_by(actor: Actor, unit_id: int, year: int, days: list[Date]) -> list[int]:
    """The unit's admissions of `year` counted up to each of `days` (cumulative, one query):
    the monthly line of the progress chart."""
    if not days:
        return []
    root = scope_root(actor)
    if root is not None and unit_id not in subtree_ids(actor, root, max(days)):
        raise NotFound(unit_id)
    tree = Tree.current()
    dates = sorted(day for _case, day, branch in _admissions(Date(year, 1, 1), max(days), tree.ever_below(unit_id))
                   if unit_id in tree.ancestors(branch, day))
    return [bisect.bisect_right(dates, day) for day in days]


# --- the lists behind the numbers ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)  # slots: a province's lists hold tens of thousands
class Behind:
    """One row behind a number of the panel: a person, their branch, their file if any, the
    date that made them count and what it was."""

    person_id: int
    full_name: str
    branch: UnitRef | None
    case_id: int | None
    date: Date | None
    what: str | None  # the decision number, the class's name, "official"/"probationary"
    sort_key: str = ""  # the person's place in name order (models.Person.sort_key)

    @property
    def cursor(self) -> tuple[str, int]:
        """Where the row stands in name order, for members_page(after=..., before=...)."""
        return (self.sort_key, self.person_id)


@dataclass(frozen=True)
class BehindPage:
    """One page of a list behind a number, read in name order: `has_before` and `has_after`
    say whether rows come before its first and after its last."""

    rows: tuple[Behind, ...]
    has_before: bool
    has_after: bool


def _check_scope(actor: Actor, unit_id: int, day: Date) -> None:
    root = scope_root(actor)
    if root is not None and unit_id not in subtree_ids(actor, root, day):
        raise NotFound(unit_id)


def _people(ids) -> dict[int, tuple[str, UnitRef | None, str]]:
    P, U = models.Person, models.Unit
    out, branches = {}, {}  # one UnitRef per branch, shared by its people
    for pid, name, sort_key, uid, code, uname in models.database.execute_sql(*(
            P.select(P.id, P.full_name, P.sort_key, U.id, U.code, U.name)
            .join(U, JOIN.LEFT_OUTER, on=(P.branch == U.id)).where(connection.among(P.id, ids)).sql())):
        branch = None
        if uid:
            branch = branches.get(uid) or branches.setdefault(uid, UnitRef(uid, code, uname))
        out[pid] = (name, branch, sort_key)
    return out


def admitted_list(actor: Actor, unit_id: int, year: int, as_of: Date, *, first: Date | None = None,
                  last: Date | None = None) -> list[Behind]:
    """The files behind `admitted`: the decisions dated `first`..`last` (by default the year's,
    1 January up to `as_of`; the progress screen also asks for the term's, term start..as_of, and
    for one month's, the files behind a bar of its chart), in date order. A decision counts for
    the unit when the branch that voted was under it on the decision's date, as in `stats`."""
    return admitted_rows(admitted_keys(actor, unit_id, year, as_of, first=first, last=last))


def _in_name_order(keys: list[tuple], person_at: int, date_at: int) -> list[tuple]:
    """`keys` (tuples holding a person id and a date) by date, then the person's name, then
    the person and the rest: only the ids and the names' sort keys are read."""
    P = models.Person
    sort_key = dict(models.database.execute_sql(*P.select(P.id, P.sort_key).where(
        connection.among(P.id, {k[person_at] for k in keys})).sql()))
    return sorted(keys, key=lambda k: (k[date_at], sort_key.get(k[person_at], ""), k[person_at], k))


def admitted_keys(actor: Actor, unit_id: int, year: int, as_of: Date, *, first: Date | None = None,
                  last: Date | None = None) -> list[tuple[int, int, Date]]:
    """(person, file, decision date) of each row of admitted_list, in its order: what a screen
    keeps of a long list (a province's year is tens of thousands of rows), reading the names of
    a page with admitted_rows."""
    first = first or Date(year, 1, 1)
    last = last or as_of
    _check_scope(actor, unit_id, last)
    tree = Tree.current()
    rows = [(case, day) for case, day, branch in _admissions(first, last, tree.ever_below(unit_id))
            if unit_id in tree.ancestors(branch, day)]
    C = models.CaseFile
    person_of = dict(models.database.execute_sql(*C.select(C.id, C.person).where(
        connection.among(C.id, [c for c, _d in rows])).sql()))
    return _in_name_order([(person_of[case], case, day) for case, day in rows], 0, 2)


def admitted_rows(keys: list[tuple[int, int, Date]]) -> list[Behind]:
    """The rows of admitted_list for `keys` (of admitted_keys), in their order."""
    C, R, S = models.CaseFile, models.Resolution, models.Step
    cases = [case for _p, case, _d in keys]
    numbers = dict(R.select(S.case, R.number).join(S).where(
        connection.among(S.case, cases) & (S.stage == "admitted") & (R.kind == "decision")).tuples())
    people = _people({person for person, _c, _d in keys})
    return [Behind(person, people[person][0], people[person][1], case, day, numbers.get(case))
            for person, case, day in keys]


def sent_to_class_list(actor: Actor, unit_id: int, year: int, as_of: Date) -> list[Behind]:
    """The people behind `sent_to_class`: enrolled in the year's awareness classes started by
    `as_of`, sent by a branch of the unit (their branch on the class's first day)."""
    return sent_rows(sent_keys(actor, unit_id, year, as_of))


def sent_keys(actor: Actor, unit_id: int, year: int, as_of: Date) -> list[tuple[int, int | None, Date, int]]:
    """(person, file, the class's first day, the class) of each row of sent_to_class_list, in
    its order (see admitted_keys); sent_rows reads a page's names."""
    _check_scope(actor, unit_id, as_of)
    tree = Tree.current()
    E, T, A = models.Enrolment, models.TrainingClass, models.Affiliation
    rows = models.database.execute_sql(*(
        E.select(E.person, E.case, T.start, T.id, A.unit).join(T, on=(E.training_class == T.id))
        .join(A, on=((A.person == E.person) & (A.start <= T.start) & (A.end.is_null() | (A.end > T.start))))
        .where((T.kind == "awareness") & T.start.is_null(False) & (T.start >= Date(year, 1, 1))
               & (T.start <= as_of) & connection.among(A.unit, tree.ever_below(unit_id)))
        .order_by(T.start, E.id)).sql())
    seen, kept, days = set(), [], {}
    for person, case, start, class_id, unit in rows:
        start = days.get(start) or days.setdefault(start, _day(start))
        if person not in seen and unit_id in tree.ancestors(unit, start):
            seen.add(person)
            kept.append((person, case, start, class_id))
    return _in_name_order(kept, 0, 2)


def sent_rows(keys: list[tuple[int, int | None, Date, int]]) -> list[Behind]:
    """The rows of sent_to_class_list for `keys` (of sent_keys), in their order."""
    T = models.TrainingClass
    names = dict(T.select(T.id, T.name).where(connection.among(T.id, {k[3] for k in keys})).tuples())
    people = _people({k[0] for k in keys})
    return [Behind(person, people[person][0], people[person][1], case, start, names[class_id])
            for person, case, start, class_id in keys]


def members_list(actor: Actor, unit_id: int, as_of: Date) -> list[Behind]:
    """The members behind `members` on `as_of`, by name; `what` is official or probationary
    and `date` the ceremony."""
    _check_scope(actor, unit_id, as_of)
    tree = Tree.current()
    M, A = models.Membership, models.Affiliation
    rows = (M.select(M.person, M.case, M.ceremony_on, M.official_on).join(A, on=(A.person == M.person))
            .where((M.ceremony_on <= as_of) & (M.ended_on.is_null() | (M.ended_on > as_of))
                   & (A.start <= as_of) & (A.end.is_null() | (A.end > as_of))
                   & connection.among(A.unit, tree.subtree(unit_id, as_of))).tuples())
    found = {}
    for person, case, ceremony, official_on in rows:
        status = "official" if official_on is not None and official_on <= as_of else "probationary"
        found[person] = (case, ceremony, status)
    people = _people(found)
    return sorted((Behind(p, people[p][0], people[p][1], c, d, st, people[p][2])
                   for p, (c, d, st) in found.items()),
                  key=lambda b: (b.sort_key, b.person_id))


_FEW_UNITS = 500  # up to this many units, a members page starts from their affiliations


def _members_query(tree: Tree, unit_id: int, as_of: Date, name_filter: str | None, *, counted: bool = False):
    """The people who are members on `as_of` (a membership alive that day) with an affiliation
    alive that day to a unit of the unit's tree: what members_list reads, as one query on
    `person`, each person once. `counted`: only the count and how many are official.

    Read a page at a time in name order: for many units (a province) the people are walked in
    name order and each tested, so a page stops after its rows; for a few, the people of their
    affiliations are found first (a branch's thirty members, not a walk through a million names).
    Counted: from the affiliations of the units, or with a name typed, from the names found (on a
    province of a million people, 1.1 s and 0.4 s where the other way took 1.8 s and 0.65 s)."""
    P, U, M, A = models.Person, models.Unit, models.Membership, models.Affiliation
    alive = (M.person == P.id) & (M.ceremony_on <= as_of) & (M.ended_on.is_null() | (M.ended_on > as_of))
    placed = (A.start <= as_of) & (A.end.is_null() | (A.end > as_of))
    units = tree.subtree(unit_id, as_of)
    walked = len(units) > _FEW_UNITS and not counted  # the people walked in name order
    if walked or (len(units) > _FEW_UNITS and name_filter):
        inside = fn.EXISTS(A.select(SQL("1")).where(
            (A.person == P.id) & placed & connection.among(A.unit, units, by_index=False)))
    else:
        inside = P.id.in_(A.select(A.person).where(placed & connection.among(A.unit, units)))
    if counted:
        official = fn.SUM(Case(None, [(fn.EXISTS(M.select(SQL("1")).where(
            alive & (M.official_on <= as_of))), 1)], 0))
        query = P.select(fn.COUNT(SQL("*")), official)
    else:
        query = (P.select(P.id, P.full_name, P.sort_key, U.id, U.code, U.name)
                 .join(U, JOIN.LEFT_OUTER, on=(P.branch == U.id)))
    query = query.where(fn.EXISTS(M.select(SQL("1")).where(alive)) & inside)
    condition = search.name_filter_ids_sql(name_filter) if name_filter else None
    if condition is not None:  # the `/` filter: the names with words starting with the typed ones
        sql, params = condition
        # walked in name order, the names found are a set each person is looked up in (for
        # "h" on a province, 0.1 s, where reading them by the index and sorting took 0.8 s)
        query = query.where((P.id + 0 if walked else P.id).in_(SQL(f"({sql})", params)))
    return query


def members_page(actor: Actor, unit_id: int, as_of: Date, *, after: tuple[str, int] | None = None,
                 before: tuple[str, int] | None = None, limit: int = 25,
                 name_filter: str | None = None) -> BehindPage:
    """One page of members_list (the same rows, in the same order), read from the database
    alone: `after` (a row's cursor) gives the next page, `before` the previous one, neither the
    first. `name_filter`: only those whose name or other name has words starting with every
    word typed (diacritics ignored)."""
    _check_scope(actor, unit_id, as_of)
    P = models.Person
    query = _members_query(Tree.current(), unit_id, as_of, name_filter)
    # the cursor's test with the name alone beside it: SQLite then starts the walk at the
    # cursor (a range of the name's index), not at an end of the list (the page before the
    # tenth one of a province took 0.1-0.2 s, walking down from the last name)
    if before is not None:
        query = query.where((P.sort_key <= before[0])
                            & ((P.sort_key < before[0]) | (P.id < before[1])))
        raw = list(query.order_by(P.sort_key.desc(), P.id.desc()).limit(limit + 1).tuples())
        has_before, has_after = len(raw) > limit, True
        raw = list(reversed(raw[:limit]))
    else:
        if after is not None:
            query = query.where((P.sort_key >= after[0])
                                & ((P.sort_key > after[0]) | (P.id > after[1])))
        raw = list(query.order_by(P.sort_key, P.id).limit(limit + 1).tuples())
        has_before, has_after = after is not None, len(raw) > limit
        raw = raw[:limit]
    M = models.Membership
    found = {}  # each one's membership alive that day, as members_list reads it
    for person, case, ceremony, official_on in (
            M.select(M.person, M.case, M.ceremony_on, M.official_on)
            .where(M.person.in_([r[0] for r in raw]) & (M.ceremony_on <= as_of)
                   & (M.ended_on.is_null() | (M.ended_on > as_of))).order_by(M.id).tuples()):
        status = "official" if official_on is not None and official_on <= as_of else "probationary"
        found[person] = (case, ceremony, status)
    rows = tuple(Behind(pid, name, UnitRef(uid, code, uname) if uid else None, *found[pid], sort_key)
                 for pid, name, sort_key, uid, code, uname in raw
                 if pid in found)  # (a membership ended between the two reads: gone)
    return BehindPage(rows, has_before, has_after)


def members_count(actor: Actor, unit_id: int, as_of: Date, *,
                  name_filter: str | None = None) -> tuple[int, int]:
    """(official, probationary) among the rows of members_list (those of members_page with
    the same `name_filter`)."""
    _check_scope(actor, unit_id, as_of)
    query = _members_query(Tree.current(), unit_id, as_of, name_filter, counted=True)
    total, official = models.database.execute_sql(*query.sql()).fetchone()
    return official or 0, total - (official or 0)
