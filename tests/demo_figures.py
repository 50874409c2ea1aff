"""Progress figures computed straight from the rows (for the demo tests).

These are the definitions of domain.md section 6 and interfaces.md `stats --json`, written as
plain queries over the tables, independent of the demo loader. Where domain.md is silent, the
choice made is written next to the function.

- Unit tree on day D: the UnitLink rows with start <= D < end (end null: still open); a unit is
  alive on D when founded <= D and (ended null or ended > D). The subtree of X on D is X and every
  alive unit whose chain of parents on D reaches X.
- Member on D: a Membership with ceremony_on <= D and (ended_on null or ended_on > D); official
  when official_on <= D, else probationary. Counted in X when the person's Affiliation on D
  (start <= D < end, end null: open) is a unit of X's subtree on D.
- Branches of X on D: alive units of org_type branch or grassroots_branch in X's subtree on D.
- Stage of a file on D: the stage of its last step (by seq, undone steps left out) dated on or
  before D. Open on D: not closed, or closed after D.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from db import models

Date = datetime.date
BRANCH_TYPES = ("branch", "grassroots_branch")


def parents_on(day: Date) -> dict[int, int | None]:
    L = models.UnitLink
    rows = L.select(L.unit, L.parent).where((L.start <= day) & (L.end.is_null() | (L.end > day))).tuples()
    return dict(rows)


def alive_units(day: Date) -> set[int]:
    U = models.Unit
    return {uid for (uid,) in U.select(U.id).where((U.founded <= day) & (U.ended.is_null() | (U.ended > day)))
            .tuples()}


def subtree(unit_id: int, day: Date) -> set[int]:
    parents = parents_on(day)
    alive = alive_units(day)
    children: dict[int | None, list[int]] = defaultdict(list)
    for child, parent in parents.items():
        if child in alive:
            children[parent].append(child)
    found, todo = set(), [unit_id] if unit_id in alive else []
    while todo:
        uid = todo.pop()
        found.add(uid)
        todo.extend(children.get(uid, ()))
    return found


def unit_id(code: str) -> int:
    return models.Unit.get(models.Unit.code == code).id


def member_ids(unit: int, day: Date, *, official: bool | None = None) -> set[int]:
    """Members of `unit`'s tree on `day` (official=True/False: only official/probationary)."""
    M, A = models.Membership, models.Affiliation
    inside = subtree(unit, day)
    query = (M.select(M.person, M.official_on)
             .join(A, on=(A.person == M.person))
             .where((M.ceremony_on <= day) & (M.ended_on.is_null() | (M.ended_on > day))
                    & (A.start <= day) & (A.end.is_null() | (A.end > day)) & A.unit.in_(list(inside))))
    out = set()
    for person, official_on in query.tuples():
        is_official = official_on is not None and official_on <= day
        if official is None or official == is_official:
            out.add(person)
    return out


def branch_count(unit: int, day: Date) -> int:
    U = models.Unit
    inside = subtree(unit, day)
    return U.select().where(U.id.in_(list(inside)) & U.org_type.in_(BRANCH_TYPES)).count()


def admitted(unit: int, first: Date, last: Date) -> int:
    """Admission decisions dated first..last whose file's branch (the unit of the file's
    branch_approved step, i.e. the branch that voted) was in the tree on the decision date."""
    S = models.Step
    decisions = S.select(S.case, S.date).where((S.stage == "admitted") & S.undone_at.is_null()
                                               & (S.date >= first) & (S.date <= last)).tuples()
    voted = dict(S.select(S.case, S.unit).where((S.stage == "branch_approved") & S.undone_at.is_null())
                 .tuples())
    trees: dict[Date, set[int]] = {}
    count = 0
    for case, day in decisions:
        if day not in trees:
            trees[day] = subtree(unit, day)
        if voted.get(case) in trees[day]:
            count += 1
    return count


def sent_to_class(unit: int, year: int, as_of: Date) -> int:
    """People of the unit enrolled in awareness classes starting 01/01/year..as_of.

    "Of the unit": the person's Affiliation on the class's start date is in the unit's tree on
    that date (the branch that sent them). Each person counted once.
    """
    E, C, A = models.Enrolment, models.TrainingClass, models.Affiliation
    rows = (E.select(E.person, C.start).join(C, on=(E.training_class == C.id))
            .where((C.kind == "awareness") & C.start.is_null(False) & (C.start >= Date(year, 1, 1))
                   & (C.start <= as_of)).tuples())
    people = set()
    for person, start in rows:
        inside = subtree(unit, start)
        if A.select().where((A.person == person) & (A.start <= start) & (A.end.is_null() | (A.end > start))
                            & A.unit.in_(list(inside))).exists():
            people.add(person)
    return len(people)


def stage_on(day: Date) -> dict[int, str]:
    """Each file's stage on `day`, for the files open on `day`."""
    S, C = models.Step, models.CaseFile
    closed = {cid for cid, status, closed_on in C.select(C.id, C.status, C.closed_on).tuples()
              if status == "closed" and closed_on is not None and closed_on <= day}
    stage: dict[int, tuple[int, str]] = {}
    for case, seq, st in (S.select(S.case, S.seq, S.stage)
                          .where(S.undone_at.is_null() & (S.date <= day)).tuples()):
        if case not in closed and (case not in stage or seq > stage[case][0]):
            stage[case] = (seq, st)
    return {case: st for case, (seq, st) in stage.items()}


def open_files_at(unit: int, day: Date, stages: tuple[str, ...]) -> int:
    C = models.CaseFile
    inside = subtree(unit, day)
    branch = dict(C.select(C.id, C.branch).tuples())
    return sum(1 for case, st in stage_on(day).items() if st in stages and branch[case] in inside)


def classes(unit: int, year: int, as_of: Date, kind: str = "awareness") -> dict:
    """Classes organised by the unit or below (TrainingClass.unit in the tree on as_of) in `year`:
    held = started on or before as_of; planned = the year's plans of the units of the tree (else
    the count of classes scheduled that year); trainees = enrolments in the held classes."""
    C, E, P = models.TrainingClass, models.Enrolment, models.ClassPlan
    inside = list(subtree(unit, as_of))
    of_year = list(C.select().where((C.kind == kind) & (C.year == year) & C.unit.in_(inside)))
    held = [c for c in of_year if c.start is not None and c.start <= as_of]
    plans = [p.classes for p in P.select().where((P.unit.in_(inside)) & (P.year == year) & (P.kind == kind))]
    trainees = E.select().where(E.training_class.in_([c.id for c in held])).count() if held else 0
    return {"held": len(held), "planned": sum(plans) if plans else len(of_year), "trainees": trainees,
            "held_ids": [c.id for c in held]}


def population_share(unit: int, day: Date) -> float | None:
    """Members on `day` / population of the territorial (level commune) units of the tree, in
    percent to one decimal."""
    U = models.Unit
    inside = subtree(unit, day)
    population = sum(p for (p,) in U.select(U.population).where(
        U.id.in_(list(inside)) & (U.level == "commune") & U.population.is_null(False)).tuples())
    if not population:
        return None
    return round(100 * len(member_ids(unit, day)) / population, 1)


def target(unit: int, year: int) -> int | None:
    """The unit's latest yearly target for `year`, else its term's yearly average."""
    T, Term = models.Target, models.Term
    row = T.select().where((T.unit == unit) & (T.year == year)).order_by(T.set_on.desc(), T.id.desc()).first()
    if row is not None:
        return row.value
    day = Date(year, 12, 31)
    row = (T.select().join(Term).where((T.unit == unit) & (Term.start <= day) & (Term.end >= Date(year, 1, 1)))
           .order_by(T.set_on.desc(), T.id.desc()).first())
    return row.value if row else None


def reorganisations(unit: int, first: Date, last: Date) -> dict:
    """Changes effective first..last acting on units of the tree (as it stood the day before):
    grassroots = distinct grassroots organisations among the sources of any change;
    village_branches = distinct village-category sources of splits and merges;
    agency_branches_dissolved = agency-category sources of dissolutions whose parent (the day
    before) was a commune-level unit; agency_branches_at_start = agency-category branches under a
    commune-level unit alive on `first`."""
    U, C, P = models.Unit, models.UnitChange, models.UnitChangePart
    units = {u.id: u for u in U.select()}
    grassroots, villages, dissolved = set(), set(), set()
    for change in C.select().where((C.effective >= first) & (C.effective <= last)):
        before = change.effective - datetime.timedelta(days=1)
        inside = subtree(unit, before)
        parents = parents_on(before)
        for part in P.select().where((P.change == change) & (P.role == "source")):
            source = units[part.unit_id]
            if source.id not in inside:
                continue
            if source.org_type in ("grassroots_committee", "grassroots_branch"):
                grassroots.add(source.id)
            if change.kind in ("split", "merge") and source.category == "village":
                villages.add(source.id)
            parent = units.get(parents.get(source.id))
            if change.kind == "dissolve" and source.category == "agency" and parent is not None \
                    and parent.level == "commune":
                dissolved.add(source.id)
    inside = subtree(unit, first)
    parents = parents_on(first)
    at_start = {uid for uid in inside if units[uid].category == "agency" and units[uid].org_type in BRANCH_TYPES
                and parents.get(uid) in units and units[parents[uid]].level == "commune"}
    return {"grassroots": len(grassroots), "village_branches": len(villages),
            "agency_branches_dissolved": len(dissolved & at_start), "agency_branches_at_start": len(at_start)}
