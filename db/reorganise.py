"""Reorganising units (domain.md section 2): found, rename, merge, split, dissolve, transfer.

Each change is a numbered decision with a decision date (not after today) and an effective date
(which may be later). Nothing is deleted or rewritten: a unit that goes gets an end date; its
parent link ends and a new one starts; a member's affiliation ends and a new one starts with the
receiving unit; an open file's move is recorded (models.CaseMove). Every step keeps the unit
that acted, so the tree, the members and the files as of an earlier date are those of that date.

The "current" columns (Unit.parent, Unit.name, CaseFile.branch, Person.branch, an account's
unit) follow the history: at once when the change is already effective, else when its day comes
(`apply_due`, run when a session starts). Every change is one write transaction with its audit
entry.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from db import audit, models
from db.access import AccessError, Actor, NotFound, may_override, scope_root
from db.connection import is_read_only, write_transaction
from db.text import clean, fold
from db.units import subtree_ids

Date = datetime.date
KINDS = ("found", "rename", "merge", "split", "dissolve", "transfer")
ORG_TYPES = ("committee", "grassroots_committee", "grassroots_branch", "sub_committee", "branch")


class ChangeError(Exception):
    """A change refused before anything is written; `code` names the reason (locale
    [reorganise_error]), `params` fill its message."""

    def __init__(self, reason: str, **params):
        super().__init__(reason)
        self.code = reason
        self.params = params


@dataclass(frozen=True)
class Decision:
    number: str
    decided: Date
    effective: Date
    note: str | None = None


@dataclass(frozen=True)
class NewUnit:
    """A unit a change founds. Left empty, org_type, category and level are those of the
    change's (first) source unit."""

    code: str
    name: str
    org_type: str | None = None
    category: str | None = None
    level: str | None = None
    population: int | None = None


@dataclass(frozen=True)
class Moved:
    """What a change moves from one unit to another, for a preview and the audit entry."""

    source: str  # unit codes
    target: str
    members: int
    people: int
    files: int
    units: int


@dataclass
class Outcome:
    change_id: int
    kind: str
    sources: list[str]
    results: list[str]
    moved: list[Moved] = field(default_factory=list)
    applied: bool = True  # False: effective later, the current columns follow on that day


# --- checks -------------------------------------------------------------------------------------

def _unit(unit_id: int) -> models.Unit:
    unit = models.Unit.get_or_none(models.Unit.id == unit_id)
    if unit is None:
        raise NotFound(unit_id)
    return unit


def _alive(unit: models.Unit, day: Date) -> bool:
    return unit.founded <= day and (unit.ended is None or unit.ended > day)


def _check_actor(actor: Actor) -> None:
    if not may_override(actor):  # the organisation board's work: organisers and administrators
        raise AccessError("forbidden", role=actor.role)


def _check_decision(decision: Decision, today: Date) -> None:
    if not clean(decision.number or ""):
        raise ChangeError("no_decision")
    if decision.decided > today:
        raise ChangeError("decided_in_future", decided=decision.decided, today=today)
    if decision.effective < decision.decided:
        raise ChangeError("effective_before_decided", effective=decision.effective, decided=decision.decided)


def _check_units(actor: Actor, units: list[models.Unit], day: Date, today: Date) -> None:
    """Each unit in the actor's scope (today, or on the effective day) and alive on the day the
    change takes effect, with no later change of it already recorded."""
    for unit in units:
        if not _alive(unit, day):
            raise ChangeError("not_alive", unit=unit.code, name=unit.name, day=day)
    root = scope_root(actor)
    if root is not None:
        inside = set(subtree_ids(actor, root, today)) | set(subtree_ids(actor, root, min(day, today)))
        for unit in units:
            if unit.id not in inside:
                raise NotFound(unit.id)
    C, P = models.UnitChange, models.UnitChangePart
    later = (P.select(P.unit, C.effective).join(C)
             .where(P.unit.in_([u.id for u in units]) & (C.effective > day)).first())
    if later is not None:
        unit = _unit(later.unit_id)
        raise ChangeError("later_change", unit=unit.code, name=unit.name, day=later.change.effective)


def _check_new(new: NewUnit) -> None:
    if not clean(new.code or "") or any(ch.isspace() for ch in new.code.strip()):
        raise ChangeError("bad_code", code=new.code)
    if not clean(new.name or ""):
        raise ChangeError("no_name", code=new.code)
    if models.Unit.select().where(models.Unit.code == new.code.strip()).exists():
        raise ChangeError("code_taken", code=new.code.strip())
    if new.org_type is not None and new.org_type not in ORG_TYPES:
        raise ChangeError("bad_org_type", org_type=new.org_type)


# --- the tree's history -------------------------------------------------------------------------

def parent_on(unit_id: int, day: Date) -> int | None:
    L = models.UnitLink
    link = L.select(L.parent).where((L.unit == unit_id) & (L.start <= day)
                                    & (L.end.is_null() | (L.end > day))).first()
    if link is not None:
        return link.parent_id
    if L.select().where(L.unit == unit_id).exists():
        return None
    return _unit(unit_id).parent_id


def _below(unit_id: int, day: Date) -> set[int]:
    """The units under `unit_id` on `day` (not itself)."""
    L = models.UnitLink
    found, todo = set(), [unit_id]
    while todo:
        parent = todo.pop()
        for (child,) in L.select(L.unit).where((L.parent == parent) & (L.start <= day)
                                               & (L.end.is_null() | (L.end > day))).tuples():
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _relink(unit_id: int, parent_id: int | None, day: Date) -> None:
    """From `day` the unit sits under `parent_id`: its link of that day ends, a new one starts."""
    L = models.UnitLink
    link = L.select().where((L.unit == unit_id) & (L.start <= day) & (L.end.is_null() | (L.end > day))).first()
    if link is not None and link.start == day:
        L.update(parent=parent_id).where(L.id == link.id).execute()
        return
    end = None
    if link is not None:
        end = link.end
        L.update(end=day).where(L.id == link.id).execute()
    L.create(unit=unit_id, parent=parent_id, start=day, end=end)


def _end_unit(unit: models.Unit, day: Date) -> None:
    L = models.UnitLink
    models.Unit.update(ended=day).where(models.Unit.id == unit.id).execute()
    L.update(end=day).where((L.unit == unit.id) & (L.end.is_null() | (L.end > day)) & (L.start < day)).execute()


def _create_unit(new: NewUnit, parent_id: int | None, day: Date, like: models.Unit | None) -> models.Unit:
    U = models.Unit
    siblings = U.select(U.sort_order).where(U.parent == parent_id)
    order = max((s.sort_order for s in siblings), default=-1) + 1
    parent = U.get_or_none(U.id == parent_id) if parent_id else None
    unit = U.create(
        code=new.code.strip(), name=clean(new.name), name_folded=fold(new.name),
        level=new.level if new.level is not None else (like.level if like else None),
        org_type=new.org_type or (like.org_type if like else "branch"),
        category=new.category if new.category is not None else (like.category if like else None),
        parent=parent_id, founded=day, ended=None, population=new.population,
        mountain=bool(like.mountain if like else (parent.mountain if parent else False)),
        decides_admissions=(like.decides_admissions_id if like else
                            (parent.decides_admissions_id if parent else None)),
        sort_order=order)
    models.UnitLink.create(unit=unit.id, parent=parent_id, start=day, end=None)
    return unit


# --- moving what a unit holds -----------------------------------------------------------------------

def _members_on(person_ids, day: Date) -> set[int]:
    M = models.Membership
    return {p for (p,) in M.select(M.person).where(M.person.in_(list(person_ids)) & (M.ceremony_on <= day)
                                                     & (M.ended_on.is_null() | (M.ended_on > day))).tuples()}


def _move(change_id: int, source: models.Unit, target: models.Unit, day: Date, *,
          people: set[int] | None = None, files_of: set[int] | None = None,
          units: bool = True) -> Moved:
    """From `day`, the people affiliated with `source` (those in `people`, when given) belong to
    `target`; its open files (those of the people in `files_of`, when given) are recorded as
    moved; the units under it (when `units`) sit under `target`."""
    A, C = models.Affiliation, models.CaseFile
    query = A.select().where((A.unit == source.id) & (A.start <= day) & (A.end.is_null() | (A.end > day)))
    if people is not None:
        query = query.where(A.person.in_(list(people)))
    moved_people = []
    for aff in query:
        moved_people.append(aff.person_id)
        if aff.start == day:
            A.update(unit=target.id).where(A.id == aff.id).execute()
        else:
            A.update(end=day).where(A.id == aff.id).execute()
            A.create(person=aff.person_id, unit=target.id, start=day, end=aff.end)
    later = A.update(unit=target.id).where((A.unit == source.id) & (A.start > day))
    if people is not None:
        later = later.where(A.person.in_(list(people)))
    later.execute()
    files = C.select(C.id, C.person).where((C.branch == source.id) & (C.status == "open") & (C.stage != "official"))
    if files_of is not None:
        files = files.where(C.person.in_(list(files_of)))
    moved_files = 0
    for case in files:
        models.CaseMove.create(case=case.id, from_branch=source.id, to_branch=target.id, effective=day,
                               change=change_id)
        moved_files += 1
    moved_units = 0
    if units:
        L = models.UnitLink
        for (child,) in L.select(L.unit).where((L.parent == source.id) & (L.start <= day)
                                               & (L.end.is_null() | (L.end > day))).tuples():
            _relink(child, target.id, day)
            moved_units += 1
    # classes planned by the source and not yet begun are the target's
    T = models.TrainingClass
    T.update(unit=target.id).where((T.unit == source.id) & (T.start.is_null() | (T.start >= day))).execute()
    return Moved(source.code, target.code, len(_members_on(moved_people, day)), len(set(moved_people)),
                 moved_files, moved_units)


# --- making the current columns follow the history ---------------------------------------------------

def _apply(change: models.UnitChange, today: Date) -> None:
    """Bring the current columns in line with a change now effective."""
    U, C, P, A, L = models.Unit, models.CaseFile, models.Person, models.Affiliation, models.UnitLink
    day = change.effective
    for move in models.CaseMove.select().where(models.CaseMove.change == change.id).order_by(models.CaseMove.id):
        C.update(branch=move.to_branch_id, version=C.version + 1).where(
            (C.id == move.case_id) & (C.branch == move.from_branch_id)).execute()
    parts = list(models.UnitChangePart.select().where(models.UnitChangePart.change == change.id))
    touched = {p.unit_id for p in parts}
    # units whose parent changed that day: their links, and the units just founded
    for unit_id, parent_id in L.select(L.unit, L.parent).where((L.start == day)).tuples():
        U.update(parent=parent_id).where(U.id == unit_id).execute()
    for part in parts:
        if part.new_name:
            U.update(name=part.new_name, name_folded=fold(part.new_name)).where(U.id == part.unit_id).execute()
    # people of the units involved: their branch is their affiliation of today
    people = {p for (p,) in A.select(A.person).where(A.unit.in_(list(touched)) & (A.start == day)).tuples()}
    for person in people:
        now = A.select(A.unit).where((A.person == person) & (A.start <= today)
                                     & (A.end.is_null() | (A.end > today))).order_by(A.start.desc()).first()
        P.update(branch=now.unit_id if now else None).where(P.id == person).execute()
    # a dissolved committee no longer decides admissions: the units it decided for decide their own
    if change.kind == "dissolve":
        for part in parts:
            if part.role == "source":
                U.update(decides_admissions=None).where(U.decides_admissions == part.unit_id).execute()
    # accounts whose unit ended go to the unit that received it
    receivers = [p.unit_id for p in parts if p.role == "result"]
    for part in parts:
        if part.role == "source" and receivers and change.kind in ("merge", "split", "dissolve"):
            models.Account.update(unit=receivers[0]).where(models.Account.unit == part.unit_id).execute()
    models.UnitChange.update(applied=True).where(models.UnitChange.id == change.id).execute()


def apply_due(today: Date) -> int:
    """Apply the changes whose effective day has come since they were recorded (run when a
    session starts); how many."""
    UC = models.UnitChange
    if is_read_only():  # a read-only session leaves them to the next session that may write
        return 0
    due = list(UC.select().where((UC.applied == False) & (UC.effective <= today)).order_by(UC.effective, UC.id))  # noqa: E712
    if not due:
        return 0
    with write_transaction():
        for change in due:
            _apply(change, today)
    return len(due)


# --- the changes -----------------------------------------------------------------------------------

def _record(actor: Actor, kind: str, decision: Decision, parts: list[tuple[int, str, str | None, str | None]]
            ) -> models.UnitChange:
    change = models.UnitChange.create(kind=kind, decision=clean(decision.number), decided=decision.decided,
                                      effective=decision.effective, note=clean(decision.note) if decision.note else None,
                                      entered_by=actor.account_id, applied=False)
    for unit_id, role, old_name, new_name in parts:
        models.UnitChangePart.create(change=change.id, unit=unit_id, role=role, old_name=old_name,
                                     new_name=new_name)
    return change


def _finish(actor: Actor, change: models.UnitChange, today: Date, outcome: Outcome, unit_id: int | None) -> Outcome:
    if change.effective <= today:
        _apply(change, today)
    else:
        outcome.applied = False
    audit.record(actor, f"unit_{change.kind}", "unit_change", change.id, None, {
        "decision": change.decision, "decided": change.decided, "effective": change.effective,
        "sources": outcome.sources, "results": outcome.results,
        "moved": [m.__dict__ for m in outcome.moved]}, unit_id)
    return outcome


def found(actor: Actor, today: Date, decision: Decision, parent_id: int, new: NewUnit) -> Outcome:
    """A new unit under `parent_id` from the effective day."""
    _check_actor(actor)
    _check_decision(decision, today)
    with write_transaction():
        parent = _unit(parent_id)
        _check_units(actor, [parent], decision.effective, today)
        _check_new(new)
        like = None if new.org_type else models.Unit.select().where(models.Unit.parent == parent_id).first()
        unit = _create_unit(new, parent_id, decision.effective, like)
        change = _record(actor, "found", decision, [(unit.id, "result", None, None)])
        return _finish(actor, change, today, Outcome(change.id, "found", [], [unit.code]), parent_id)


def rename(actor: Actor, today: Date, decision: Decision, unit_id: int, name: str) -> Outcome:
    _check_actor(actor)
    _check_decision(decision, today)
    with write_transaction():
        unit = _unit(unit_id)
        _check_units(actor, [unit], decision.effective, today)
        if not clean(name or ""):
            raise ChangeError("no_name", code=unit.code)
        if clean(name) == unit.name:
            raise ChangeError("same_name", name=unit.name)
        change = _record(actor, "rename", decision, [(unit.id, "source", unit.name, clean(name))])
        return _finish(actor, change, today, Outcome(change.id, "rename", [unit.code], [unit.code]), unit.id)


def merge(actor: Actor, today: Date, decision: Decision, sources: list[int], into: int | NewUnit, *,
          parent_id: int | None = None) -> Outcome:
    """Several units into one: an existing unit (`into` an id; it stays) or a new one (`into` a
    NewUnit, under `parent_id` or else the first source's parent). The sources end on the
    effective day; their members, open files and units go to the result."""
    _check_actor(actor)
    _check_decision(decision, today)
    day = decision.effective
    with write_transaction():
        units = [_unit(s) for s in dict.fromkeys(sources)]
        existing = _unit(into) if isinstance(into, int) else None
        if len(units) + (1 if existing and existing.id not in {u.id for u in units} else 0) < 2:
            raise ChangeError("too_few_sources")
        if existing is not None and existing.id in {u.id for u in units}:
            raise ChangeError("into_is_source", unit=existing.code)
        _check_units(actor, units + ([existing] if existing else []), day, today)
        if existing is None:
            _check_new(into)
            parent = parent_id if parent_id is not None else parent_on(units[0].id, day)
            target = _create_unit(into, parent, day, units[0])
        else:
            target = existing
        change = _record(actor, "merge", decision, [(u.id, "source", None, None) for u in units]
                         + [(target.id, "result", None, None)])
        outcome = Outcome(change.id, "merge", [u.code for u in units], [target.code])
        for unit in units:
            outcome.moved.append(_move(change.id, unit, target, day))
            _end_unit(unit, day)
        return _finish(actor, change, today, outcome, target.id)


def split(actor: Actor, today: Date, decision: Decision, source_id: int, results: list[int | NewUnit],
          assign: dict[int, int], rest: int | None = None) -> Outcome:
    """One unit into several (new, or existing units that receive part of it). `assign` maps a
    person id to the index in `results` that receives them (their open files follow them);
    `rest` is the index for everyone not named (None: everyone must be named). The source ends."""
    _check_actor(actor)
    _check_decision(decision, today)
    day = decision.effective
    with write_transaction():
        source = _unit(source_id)
        existing = [_unit(r) for r in results if isinstance(r, int)]
        if len(results) < 2:
            raise ChangeError("too_few_results")
        if source.id in {u.id for u in existing}:
            raise ChangeError("into_is_source", unit=source.code)
        _check_units(actor, [source] + existing, day, today)
        people = _people_of(source.id, day)
        for person, index in assign.items():
            if person not in people:
                raise ChangeError("not_in_unit", person=person, unit=source.code)
            if not 0 <= index < len(results):
                raise ChangeError("bad_result", index=index)
        unnamed = people - assign.keys()
        if unnamed and rest is None:
            raise ChangeError("unassigned", n=len(unnamed), unit=source.code)
        parent = parent_on(source.id, day)
        targets = []
        for result in results:
            if isinstance(result, int):
                targets.append(_unit(result))
            else:
                _check_new(result)
                if result.code.strip() in {t.code for t in targets}:
                    raise ChangeError("code_taken", code=result.code.strip())
                targets.append(_create_unit(result, parent, day, source))
        change = _record(actor, "split", decision, [(source.id, "source", None, None)]
                         + [(t.id, "result", None, None) for t in targets])
        outcome = Outcome(change.id, "split", [source.code], [t.code for t in targets])
        for index, target in enumerate(targets):
            mine = {p for p, i in assign.items() if i == index} | (unnamed if rest == index else set())
            outcome.moved.append(_move(change.id, source, target, day, people=mine, files_of=mine,
                                       units=index == (rest if rest is not None else 0)))
        # open files of people not affiliated with the source (if any) go with the rest
        C = models.CaseFile
        moved = models.CaseMove.select(models.CaseMove.case).where(models.CaseMove.change == change.id)
        others = {p for (p,) in C.select(C.person).where((C.branch == source.id) & (C.status == "open")
                                                          & (C.stage != "official") & C.id.not_in(moved)).tuples()}
        if others:
            outcome.moved.append(_move(change.id, source, targets[rest if rest is not None else 0], day,
                                       people=set(), files_of=others, units=False))
        _end_unit(source, day)
        return _finish(actor, change, today, outcome, source.id)


def _people_of(unit_id: int, day: Date) -> set[int]:
    A = models.Affiliation
    return {p for (p,) in A.select(A.person).where((A.unit == unit_id) & (A.start <= day)
                                                   & (A.end.is_null() | (A.end > day))).tuples()}


def dissolve(actor: Actor, today: Date, decision: Decision, source_id: int, receiver_id: int) -> Outcome:
    """The unit ends; its members, open files and units go to `receiver_id`."""
    _check_actor(actor)
    _check_decision(decision, today)
    day = decision.effective
    with write_transaction():
        source, receiver = _unit(source_id), _unit(receiver_id)
        if source.id == receiver.id or receiver.id in _below(source.id, day):
            raise ChangeError("into_is_source", unit=receiver.code)
        _check_units(actor, [source, receiver], day, today)
        change = _record(actor, "dissolve", decision, [(source.id, "source", None, None),
                                                       (receiver.id, "result", None, None)])
        outcome = Outcome(change.id, "dissolve", [source.code], [receiver.code])
        outcome.moved.append(_move(change.id, source, receiver, day))
        _end_unit(source, day)
        return _finish(actor, change, today, outcome, receiver.id)


def transfer(actor: Actor, today: Date, decision: Decision, unit_id: int, parent_id: int) -> Outcome:
    """The unit (with everything under it) sits under `parent_id` from the effective day."""
    _check_actor(actor)
    _check_decision(decision, today)
    day = decision.effective
    with write_transaction():
        unit, parent = _unit(unit_id), _unit(parent_id)
        if parent.id == unit.id or parent.id in _below(unit.id, day):
            raise ChangeError("under_itself", unit=unit.code, parent=parent.code)
        if parent_on(unit.id, day) == parent.id:
            raise ChangeError("already_there", unit=unit.code, parent=parent.code)
        _check_units(actor, [unit, parent], day, today)
        change = _record(actor, "transfer", decision, [(unit.id, "source", None, None),
                                                       (parent.id, "result", None, None)])
        _relink(unit.id, parent.id, day)
        outcome = Outcome(change.id, "transfer", [unit.code], [parent.code])
        return _finish(actor, change, today, outcome, parent.id)


# --- history ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryEntry:
    change_id: int
    kind: str
    decision: str
    decided: Date
    effective: Date
    role: str  # source: the unit was acted on; result: it was made or received
    made_from: tuple[str, ...]  # codes of the change's sources (for a result)
    became: tuple[str, ...]  # codes of the change's results (for a source)
    old_name: str | None
    new_name: str | None
    applied: bool


def history(unit_id: int) -> list[HistoryEntry]:
    """Every change the unit took part in, oldest first."""
    C, P = models.UnitChange, models.UnitChangePart
    out = []
    for part in P.select(P, C).join(C).where(P.unit == unit_id).order_by(C.effective, C.id):
        change = part.change
        others = list(P.select(P.role, models.Unit.code).join(models.Unit, on=(P.unit == models.Unit.id))
                      .where(P.change == change.id).order_by(P.id).tuples())
        sources = tuple(code for role, code in others if role == "source")
        results = tuple(code for role, code in others if role == "result")
        out.append(HistoryEntry(change.id, change.kind, change.decision, change.decided, change.effective,
                                part.role, sources if part.role == "result" else (),
                                results if part.role == "source" else (), part.old_name, part.new_name,
                                change.applied))
    return out
