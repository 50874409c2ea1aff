"""Classes: the awareness class for candidates and the new-member class for probationary members.

A class is planned by a unit (usually the district) and run by the political training centre.
Enrolling a candidate moves the file to `in_class` and recording a result moves it on (`certified`,
with the certificate) or back (`identified`), each through the pipeline's rules; a new-member
class gives the member the `new_member_certificate` document. Each call is one transaction:
a refused trainee refuses the whole call, so nothing is half-saved.

Scope: a class's own data (dates, place, counts) is seen by every account whose scope is inside
or above the planning unit (a branch secretary sees the district's classes); its trainees are
listed only for the files the account may see.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from peewee import JOIN, Case, fn

from db import audit, connection, models, pipeline
from db.access import AccessError, Actor, NotFound, may_override, may_write, scope_root
from db.calendar import add_months
from db.cases import UnitRef
from db.connection import write_transaction
from db.text import clean
from db.units import subtree_ids

Date = datetime.date
KINDS = ("awareness", "new_member")
STATUSES = ("planned", "running", "finished", "cancelled")
RESULTS = ("passed", "failed", "left")
EXPIRY_WARNING_MONTHS = 6  # a certificate that expires within this, with no branch vote yet
PROBATION_WARNING_MONTHS = 3  # probation ending within this, with no new-member class


class ClassError(Exception):
    """A refused class operation: `code` is bad_value, missing_value, over_capacity,
    already_enrolled, duplicate_certificate, result_before_start, not_enrolled, not_eligible,
    class_closed or date_in_future; `params` say about what (and `case_id` whose)."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


class TraineeRefused(Exception):
    """The pipeline refused a trainee's step: `violations` for `case_id` (the whole call is off)."""

    def __init__(self, case_id: int, full_name: str, violations):
        super().__init__(f"{case_id}: " + ", ".join(v.code for v in violations))
        self.case_id = case_id
        self.full_name = full_name
        self.violations = list(violations)


@dataclass(frozen=True)
class ClassRow:
    id: int
    kind: str
    name: str
    organiser: str
    unit: UnitRef
    year: int
    planned_start: Date
    start: Date | None
    end: Date | None
    place: str | None
    capacity: int | None
    status: str
    enrolled: int  # every trainee, in scope or not
    passed: int
    failed: int  # failed or left


@dataclass(frozen=True)
class Trainee:
    enrolment_id: int
    person_id: int
    full_name: str
    branch: UnitRef | None
    case_id: int | None
    stage: str | None
    enrolled_on: Date
    result: str | None
    certificate_number: str | None
    certificate_issued: Date | None


@dataclass(frozen=True)
class ClassView:
    row: ClassRow
    trainees: tuple[Trainee, ...]  # the ones the actor may see
    hidden: int  # trainees of files outside the actor's scope


@dataclass(frozen=True)
class Candidate:
    case_id: int
    person_id: int
    full_name: str
    branch: UnitRef
    stage: str
    certificate_expired_on: Date | None  # a `certified` file whose certificate has expired


@dataclass(frozen=True)
class PlanProgress:
    unit: UnitRef
    year: int
    kind: str
    planned: int | None  # classes in the plan (None: no plan)
    planned_trainees: int | None
    held: int  # classes started by `as_of` and not cancelled
    trainees: int  # enrolled in the held classes
    scheduled: int  # classes of the year, not cancelled

    @property
    def percent(self) -> float | None:
        return 100.0 * self.held / self.planned if self.planned else None


@dataclass(frozen=True)
class ResultInput:
    case_id: int | None  # the trainee's file (awareness) ...
    result: str  # passed / failed / left
    number: str | None = None  # the certificate, when passed
    issued: Date | None = None
    person_id: int | None = None  # ... or the person (a new-member class without a file)


@dataclass(frozen=True)
class Warning:
    code: str  # certificate_expiring / new_member_class_due
    case_id: int
    full_name: str
    branch: UnitRef
    due: Date


def _ref(unit: models.Unit | None) -> UnitRef | None:
    return UnitRef(unit.id, unit.code, unit.name) if unit is not None else None


# --- what the actor may see ------------------------------------------------------------------

def _visible_units(actor: Actor, as_of: Date) -> set[int] | None:
    """The units whose classes the actor sees: its scope and every unit above it (None: all)."""
    root = scope_root(actor)
    if root is None:
        return None
    seen = set(subtree_ids(actor, root, as_of))
    tree = pipeline.UnitTree()
    unit = tree.parent_on(root, as_of)
    while unit is not None:
        seen.add(unit)
        unit = tree.parent_on(unit, as_of)
    return seen


def _branches(actor: Actor, as_of: Date) -> set[int] | None:
    root = scope_root(actor)
    return None if root is None else set(subtree_ids(actor, root, as_of))


def _class(actor: Actor, class_id: int, as_of: Date) -> models.TrainingClass:
    cls = models.TrainingClass.get_or_none(models.TrainingClass.id == class_id)
    visible = _visible_units(actor, as_of)
    if cls is None or (visible is not None and cls.unit_id not in visible):
        raise NotFound(class_id)
    return cls


def _counts(class_ids: Iterable[int]) -> dict[int, tuple[int, int, int]]:
    E = models.Enrolment
    ids = list(class_ids)
    if not ids:
        return {}
    rows = (E.select(E.training_class, fn.COUNT(E.id),
                     fn.SUM(Case(None, [(E.result == "passed", 1)], 0)),
                     fn.SUM(Case(None, [(E.result.in_(("failed", "left")), 1)], 0)))
            .where(connection.among(E.training_class, ids)).group_by(E.training_class).tuples())
    return {cid: (n, int(p or 0), int(f or 0)) for cid, n, p, f in rows}


def _row(cls: models.TrainingClass, counts: tuple[int, int, int]) -> ClassRow:
    return ClassRow(cls.id, cls.kind, cls.name, cls.organiser, _ref(cls.unit), cls.year,
                    cls.planned_start, cls.start, cls.end, cls.place, cls.capacity, cls.status,
                    *counts)


# --- reading ---------------------------------------------------------------------------------

def list_classes(actor: Actor, as_of: Date, *, unit_id: int | None = None, year: int | None = None,
                 kind: str | None = None) -> list[ClassRow]:
    """The classes the actor sees (planned by `unit_id` or a unit below it, when given), in the
    order they start."""
    T = models.TrainingClass
    query = T.select(T, models.Unit).join(models.Unit)
    visible = _visible_units(actor, as_of)
    if visible is not None:
        query = query.where(connection.among(T.unit, visible))
    if unit_id is not None:
        below = subtree_ids(actor, unit_id, as_of) or [unit_id]
        tree_units = set(below)
        if visible is not None and unit_id not in visible:
            raise NotFound(unit_id)
        query = query.where(connection.among(T.unit, tree_units | _ancestors(unit_id, as_of)))
    if year is not None:
        query = query.where(T.year == year)
    if kind is not None:
        query = query.where(T.kind == kind)
    classes = list(query.order_by(T.planned_start, T.id))
    counts = _counts(c.id for c in classes)
    return [_row(c, counts.get(c.id, (0, 0, 0))) for c in classes]


def _ancestors(unit_id: int, as_of: Date) -> set[int]:
    tree = pipeline.UnitTree()
    found, unit = set(), tree.parent_on(unit_id, as_of)
    while unit is not None:
        found.add(unit)
        unit = tree.parent_on(unit, as_of)
    return found


def class_view(actor: Actor, class_id: int, as_of: Date) -> ClassView:
    cls = _class(actor, class_id, as_of)
    E, P, C, U, Cert = models.Enrolment, models.Person, models.CaseFile, models.Unit, models.Certificate
    rows = (E.select(E, P, C, U, Cert)
            .join(P, on=(E.person == P.id))
            .switch(E).join(C, JOIN.LEFT_OUTER, on=(E.case == C.id))
            .switch(P).join(U, JOIN.LEFT_OUTER, on=(P.branch == U.id))
            .switch(E).join(Cert, JOIN.LEFT_OUTER, on=(E.certificate == Cert.id))
            .where(E.training_class == cls.id).order_by(P.sort_key, P.id))
    allowed = _branches(actor, as_of)
    trainees, hidden = [], 0
    for e in rows:
        person = e.person
        branch_id = e.case.branch_id if e.case_id else person.branch_id
        if allowed is not None and branch_id not in allowed:
            hidden += 1
            continue
        cert = e.certificate if e.certificate_id else None
        trainees.append(Trainee(
            e.id, person.id, person.full_name, _ref(person.branch) if person.branch_id else None,
            e.case_id, e.case.stage if e.case_id else None, e.enrolled_on, e.result,
            cert.number if cert else None, cert.issued if cert else None))
    counts = _counts([cls.id]).get(cls.id, (0, 0, 0))
    return ClassView(_row(cls, counts), tuple(trainees), hidden)


def _expired_on(person_id: int, day: Date) -> Date | None:
    """When the person's newest awareness certificate expired, if it has by `day`."""
    C = models.Certificate
    issued = (C.select(fn.MAX(C.issued)).where((C.person == person_id) & (C.kind == "awareness"))
              .scalar())
    if issued is None:
        return None
    end = add_months(issued, pipeline.CERTIFICATE_MONTHS)
    return end if end < day else None


def candidates(actor: Actor, class_id: int, as_of: Date, *, unit_id: int | None = None,
               stage: str | None = None) -> list[Candidate]:
    """The files the actor may enrol in the class: for an awareness class, open files at
    `identified`, or at `certified` with an expired certificate; for a new-member class,
    probationary members with no new-member certificate. Not those already in it."""
    cls = _class(actor, class_id, as_of)
    C, P, U = models.CaseFile, models.Person, models.Unit
    wanted = ("identified", "certified") if cls.kind == "awareness" else ("probationary",)
    query = (C.select(C.id, C.person, P.full_name, U.id, U.code, U.name, C.stage)
             .join(P, on=(C.person == P.id)).switch(C).join(U, on=(C.branch == U.id))
             .where(C.is_open() & C.stage.in_(wanted) & (C.on_hold == False))  # noqa: E712
             .order_by(P.sort_key, P.id))
    root = unit_id if unit_id is not None else scope_root(actor)
    if root is not None:
        query = query.where(connection.among(C.branch, subtree_ids(actor, root, as_of)))
    if stage is not None:
        query = query.where(C.stage == stage)
    E = models.Enrolment
    taken = {pid for (pid,) in E.select(E.person).where(E.training_class == cls.id).tuples()}
    day = cls.start or cls.planned_start
    out = []
    for case_id, person_id, name, uid, code, uname, st in query.tuples():
        if person_id in taken:
            continue
        expired = None
        if cls.kind == "awareness" and st == "certified":
            expired = _expired_on(person_id, day)
            if expired is None:
                continue
        if cls.kind == "new_member" and models.Certificate.select().where(
                (models.Certificate.person == person_id) & (models.Certificate.kind == "new_member")).exists():
            continue
        out.append(Candidate(case_id, person_id, name, UnitRef(uid, code, uname), st, expired))
    return out


def plan_progress(actor: Actor, unit_id: int, year: int, as_of: Date,
                  kind: str = "awareness") -> PlanProgress:
    """The unit's plan for the year against the classes held by `as_of` (started, not cancelled)
    and their trainees: the article's "4/5 lớp, 80 %, 152 quần chúng"."""
    unit = models.Unit.get_or_none(models.Unit.id == unit_id)
    visible = _visible_units(actor, as_of)
    if unit is None or (visible is not None and unit_id not in visible):
        raise NotFound(unit_id)
    plan = models.ClassPlan.get_or_none((models.ClassPlan.unit == unit_id) & (models.ClassPlan.year == year)
                                        & (models.ClassPlan.kind == kind))
    T = models.TrainingClass
    classes = list(T.select().where((T.unit == unit_id) & (T.year == year) & (T.kind == kind)
                                    & (T.status != "cancelled")))
    held = [c for c in classes if c.start is not None and c.start <= as_of]
    counts = _counts(c.id for c in held)
    return PlanProgress(_ref(unit), year, kind, plan.classes if plan else None,
                        plan.trainees if plan else None, len(held),
                        sum(counts.get(c.id, (0, 0, 0))[0] for c in held), len(classes))


def warnings(actor: Actor, as_of: Date, unit_id: int | None = None) -> list[Warning]:
    """Certificates expiring within 6 months with no branch vote yet; probation ending within
    3 months with no new-member class certificate.

    The dates are narrowed in SQL (a province has a hundred thousand open files at these stages:
    reading them all took seconds and a hundred megabytes), then checked here exactly, month
    ends and all: the narrowing keeps a few days' margin either side."""
    C, P, U, S = models.CaseFile, models.Person, models.Unit, models.Step
    Cert, D = models.Certificate, models.Document
    root = unit_id if unit_id is not None else scope_root(actor)
    branches = None if root is None else subtree_ids(actor, root, as_of)
    margin = datetime.timedelta(days=4)

    def files(stages, last, kept, *joined, where=None):
        """(file, person, stage, name, branch id, code, name, newest `last`) of the open files
        at `stages` whose newest `last` is `kept` (and that meet `where`): found on the files
        and `joined` alone, and only those then checked against `where` and given their
        people's and branches' names (joining the people first read a third of a province's
        database: 27 s with a cold disk)."""
        newest = fn.MAX(last)
        found = C.select(C.id.alias("case_id"), newest.alias("newest"))
        for model, on in joined:
            found = found.switch(C).join(model, on=on)
        found = found.where(C.is_open() & C.stage.in_(stages))
        if branches is not None:
            found = found.where(connection.among(C.branch, branches))
        found = found.group_by(C.id).having(kept(newest)).alias("found")
        query = (C.select(C.id, C.person, C.stage, P.full_name, U.id, U.code, U.name, found.c.newest)
                 .join(found, on=(C.id == found.c.case_id)).switch(C)
                 .join(P, on=(C.person == P.id)).switch(C).join(U, on=(C.branch == U.id)))
        return query if where is None else query.where(where)

    out = []
    # awareness certificates: the newest one's end between today and six months on
    low = add_months(as_of, -pipeline.CERTIFICATE_MONTHS) - margin
    high = add_months(add_months(as_of, EXPIRY_WARNING_MONTHS), -pipeline.CERTIFICATE_MONTHS) + margin
    expiring = files(("certified", "dossier"), Cert.issued, lambda newest: newest.between(low, high),
                     (Cert, (Cert.person == C.person) & (Cert.kind == "awareness")))
    for case_id, _person, _stage, name, uid, code, uname, issued in expiring.tuples():
        end = add_months(_day(issued), pipeline.CERTIFICATE_MONTHS)
        if as_of <= end <= add_months(as_of, EXPIRY_WARNING_MONTHS):
            out.append(Warning("certificate_expiring", case_id, name, UnitRef(uid, code, uname), end))
    # probation: its end within three months, and no new-member certificate (a certificate of
    # the person's, or one filed with any of the person's files)
    C2 = C.alias("other")
    high = add_months(add_months(as_of, PROBATION_WARNING_MONTHS), -pipeline.PROBATION_MONTHS) + margin
    ending = files(
        ("probationary",), S.date, lambda newest: newest <= high,
        # the stage written so that the file's steps are read by its index, not every
        # probationary step of the province for each file (a minute at a million)
        (S, (S.case == C.id) & (S.stage.concat("") == "probationary") & S.undone_at.is_null()),
        where=(~fn.EXISTS(Cert.select(Cert.id).where((Cert.person == C.person) & (Cert.kind == "new_member")))
               & ~fn.EXISTS(D.select(D.id).join(C2, on=(D.case == C2.id)).where(
                   (C2.person == C.person) & (D.kind == "new_member_certificate")))))
    for case_id, _person, _stage, name, uid, code, uname, ceremony in ending.tuples():
        end = add_months(_day(ceremony), pipeline.PROBATION_MONTHS)
        if end <= add_months(as_of, PROBATION_WARNING_MONTHS):
            out.append(Warning("new_member_class_due", case_id, name, UnitRef(uid, code, uname), end))
    return sorted(out, key=lambda w: (w.due, w.full_name))


def _day(value) -> Date:
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


# --- writing ---------------------------------------------------------------------------------

def _require_planner(actor: Actor) -> None:
    """Classes are planned by organisers (and administrators)."""
    if not may_override(actor):
        raise AccessError("forbidden", role=actor.role)


def _text(value, field: str, *, required: bool = False) -> str | None:
    value = clean(value).strip() if value is not None else ""
    if required and not value:
        raise ClassError("missing_value", field=field)
    return value or None


def new_class(actor: Actor, *, kind: str, name: str, unit_id: int, planned_start: Date,
              organiser: str | None = None, year: int | None = None, start: Date | None = None,
              end: Date | None = None, place: str | None = None, capacity: int | None = None,
              today: Date) -> int:
    """Plan a class; returns its id."""
    _require_planner(actor)
    if kind not in KINDS:
        raise ClassError("bad_value", field="kind", value=kind)
    name = _text(name, "name", required=True)
    if capacity is not None and capacity < 1:
        raise ClassError("bad_value", field="capacity", value=capacity)
    if start is not None and end is not None and end < start:
        raise ClassError("bad_value", field="end", value=end.isoformat())
    root = scope_root(actor)
    if root is not None and unit_id not in subtree_ids(actor, root, today):
        raise NotFound(unit_id)
    unit = models.Unit.get_by_id(unit_id)
    organiser = _text(organiser, "organiser") or _default_organiser(unit)
    with write_transaction():
        cls = models.TrainingClass.create(
            kind=kind, name=name, organiser=organiser, unit=unit_id,
            year=year or (start or planned_start).year, planned_start=planned_start, start=start,
            end=end, place=_text(place, "place"), capacity=capacity,
            status="running" if start is not None and start <= today else "planned")
        audit.record(actor, "class_new", "training_class", cls.id, None, _class_snapshot(cls), unit_id)
    return cls.id


def _default_organiser(unit: models.Unit) -> str:
    """The name of the training centre the unit's earlier classes had, else a generic one."""
    T = models.TrainingClass
    last = T.select(T.organiser).where(T.unit == unit.id).order_by(T.id.desc()).scalar()
    return last or "Trung tâm Chính trị"


def _class_snapshot(cls: models.TrainingClass) -> dict:
    return {"kind": cls.kind, "name": cls.name, "organiser": cls.organiser, "unit": cls.unit_id,
            "year": cls.year, "planned_start": cls.planned_start, "start": cls.start, "end": cls.end,
            "place": cls.place, "capacity": cls.capacity, "status": cls.status}


def update_class(actor: Actor, class_id: int, today: Date, **changes) -> None:
    """Change a class's dates, place, capacity or status (planned/running/finished/cancelled)."""
    _require_planner(actor)
    allowed = {"name", "organiser", "planned_start", "start", "end", "place", "capacity", "status"}
    unknown = set(changes) - allowed
    if unknown:
        raise ClassError("bad_value", field=sorted(unknown)[0], value=None)
    with write_transaction():
        cls = _class(actor, class_id, today)
        if scope_root(actor) is not None and cls.unit_id not in subtree_ids(actor, scope_root(actor), today):
            raise AccessError("forbidden", role=actor.role)  # a class planned above the account
        before = _class_snapshot(cls)
        if "status" in changes and changes["status"] not in STATUSES:
            raise ClassError("bad_value", field="status", value=changes["status"])
        if changes.get("capacity") is not None:
            enrolled = _counts([cls.id]).get(cls.id, (0, 0, 0))[0]
            if changes["capacity"] < max(enrolled, 1):
                raise ClassError("over_capacity", capacity=changes["capacity"], enrolled=enrolled)
        for key, value in changes.items():
            if key in ("name", "organiser", "place"):
                value = _text(value, key, required=key != "place")
            setattr(cls, key, value)
        if cls.start is not None and cls.end is not None and cls.end < cls.start:
            raise ClassError("bad_value", field="end", value=cls.end.isoformat())
        cls.save()
        audit.record(actor, "class_change", "training_class", cls.id, before, _class_snapshot(cls),
                     cls.unit_id)


def set_plan(actor: Actor, unit_id: int, year: int, kind: str, classes: int,
             trainees: int | None, today: Date) -> None:
    """The unit's plan for a year: how many classes of a kind, how many trainees."""
    _require_planner(actor)
    if kind not in KINDS:
        raise ClassError("bad_value", field="kind", value=kind)
    if classes < 0 or (trainees is not None and trainees < 0):
        raise ClassError("bad_value", field="classes", value=classes)
    root = scope_root(actor)
    if root is not None and unit_id not in subtree_ids(actor, root, today):
        raise NotFound(unit_id)
    CP = models.ClassPlan
    with write_transaction():
        plan = CP.get_or_none((CP.unit == unit_id) & (CP.year == year) & (CP.kind == kind))
        before = None if plan is None else {"classes": plan.classes, "trainees": plan.trainees}
        if plan is None:
            plan = CP.create(unit=unit_id, year=year, kind=kind, classes=classes, trainees=trainees)
        else:
            plan.classes, plan.trainees = classes, trainees
            plan.save()
        audit.record(actor, "class_plan", "class_plan", plan.id, before,
                     {"year": year, "kind": kind, "classes": classes, "trainees": trainees}, unit_id)


def _overlapping(cls: models.TrainingClass, person_id: int) -> models.TrainingClass | None:
    """Another class of the same kind the person is in, without a result, whose dates meet."""
    T, E = models.TrainingClass, models.Enrolment
    first = cls.start or cls.planned_start
    last = cls.end or first
    for other in (T.select().join(E, on=(E.training_class == T.id))
                  .where((E.person == person_id) & (T.id != cls.id) & (T.kind == cls.kind)
                         & (T.status != "cancelled") & E.result.is_null())):
        o_first = other.start or other.planned_start
        o_last = other.end or o_first
        if o_first <= last and first <= o_last:
            return other
    return None


def enrol(actor: Actor, class_id: int, case_ids: Sequence[int], today: Date, *,
          date: Date | None = None) -> list[int]:
    """Enrol the files' people in the class, in one transaction; returns the enrolment ids.

    An awareness class moves each file to `in_class` through the pipeline (from `identified`, or
    from `certified` when the certificate has expired). Refused whole (ClassError, TraineeRefused,
    NotFound) when one trainee is refused.
    """
    if not may_write(actor):
        raise AccessError("forbidden", role=actor.role)
    if not case_ids:
        raise ClassError("missing_value", field="cases")
    if len(set(case_ids)) != len(case_ids):
        raise ClassError("already_enrolled", case_id=next(c for c in case_ids if case_ids.count(c) > 1))
    with write_transaction():
        cls = _class(actor, class_id, today)
        if cls.status in ("finished", "cancelled"):
            raise ClassError("class_closed", status=cls.status)
        # enrolled today, or on the first day of a class already running
        day = date or (cls.start if cls.start is not None and cls.start <= today else today)
        if day > today:
            raise ClassError("date_in_future", date=day.isoformat())
        enrolled = _counts([cls.id]).get(cls.id, (0, 0, 0))[0]
        if cls.capacity is not None and enrolled + len(case_ids) > cls.capacity:
            raise ClassError("over_capacity", capacity=cls.capacity, enrolled=enrolled,
                             adding=len(case_ids))
        ids = []
        for case_id in case_ids:
            case = pipeline.writable_case(actor, case_id, today)
            person = case.person
            E = models.Enrolment
            if E.select().where((E.training_class == cls.id) & (E.person == person.id)).exists():
                raise ClassError("already_enrolled", case_id=case_id, name=person.full_name,
                                 other=cls.name)
            other = _overlapping(cls, person.id)
            if other is not None:
                raise ClassError("already_enrolled", case_id=case_id, name=person.full_name,
                                 other=other.name)
            if cls.kind == "awareness":
                if case.stage not in ("identified", "certified"):
                    raise ClassError("not_eligible", case_id=case_id, name=person.full_name,
                                     stage=case.stage)
                if case.stage == "certified" and _expired_on(person.id, day) is None:
                    raise ClassError("not_eligible", case_id=case_id, name=person.full_name,
                                     stage=case.stage)
                _step(actor, case, pipeline.StepInput("in_class", day, class_id=cls.id), today)
            elif case.stage != "probationary":
                raise ClassError("not_eligible", case_id=case_id, name=person.full_name, stage=case.stage)
            row = E.create(training_class=cls.id, person=person.id, case=case.id, enrolled_on=day)
            audit.record(actor, "enrol", "case_file", case.id, None,
                         {"class": cls.id, "class_name": cls.name, "enrolled_on": day}, case.branch_id)
            ids.append(row.id)
        if cls.status == "planned" and cls.start is not None and cls.start <= today:
            cls.status = "running"
            cls.save()
    return ids


def _step(actor: Actor, case: models.CaseFile, step: pipeline.StepInput, today: Date) -> None:
    """Record a pipeline step for a class (the rules checked as anywhere else)."""
    state = pipeline.read_state(case.id, step)
    violations = pipeline.check_step(state, step, today)
    if violations:  # a class step has no warnings worth an override: any violation refuses
        raise TraineeRefused(case.id, case.person.full_name, violations)
    pipeline.record_step(actor, case, state, step, warnings=[], reason=None)


_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")


def number_series(first: str, count: int) -> list[str]:
    """`count` certificate numbers from `first`: its last run of digits counts up, keeping its
    width ("0123/GCN" -> "0123/GCN", "0124/GCN", ...). ClassError when it has no digits."""
    match = _NUMBER.match(first.strip())
    if not match:
        raise ClassError("bad_value", field="number", value=first)
    head, digits, tail = match.groups()
    return [f"{head}{str(int(digits) + i).zfill(len(digits))}{tail}" for i in range(count)]


def record_results(actor: Actor, class_id: int, results: Sequence[ResultInput], today: Date) -> None:
    """Record trainees' results in one transaction. A pass needs a certificate number and date
    (on or after the class's start, not after today, the number not used before by the same
    training centre); it moves an awareness file to `certified`, and gives a new-member trainee
    the `new_member_certificate` document. A fail or leave moves an awareness file back to
    `identified`, the result recorded."""
    if not may_write(actor):
        raise AccessError("forbidden", role=actor.role)
    if not results:
        raise ClassError("missing_value", field="results")
    E, Cert = models.Enrolment, models.Certificate
    with write_transaction():
        cls = _class(actor, class_id, today)
        if cls.status == "cancelled":
            raise ClassError("class_closed", status=cls.status)
        first_day = cls.start or cls.planned_start
        numbers_here: set[str] = set()
        for res in results:
            if res.result not in RESULTS:
                raise ClassError("bad_value", field="result", value=res.result, case_id=res.case_id)
            enrolment = _enrolment(cls, res)
            case = enrolment.case if enrolment.case_id else None
            if case is not None:
                pipeline.writable_case(actor, case.id, today)
            elif scope_root(actor) is not None:
                raise NotFound(enrolment.person_id)
            name = enrolment.person.full_name
            if enrolment.result is not None:
                raise ClassError("already_recorded", case_id=res.case_id, name=name, result=enrolment.result)
            issued = res.issued or (cls.end or today)
            if issued < first_day:
                raise ClassError("result_before_start", case_id=res.case_id, name=name,
                                 date=issued.isoformat(), start=first_day.isoformat())
            if issued > today:
                raise ClassError("date_in_future", case_id=res.case_id, name=name, date=issued.isoformat())
            before = {"result": None}
            if res.result == "passed":
                number = _text(res.number, "number", required=True)
                if number in numbers_here or Cert.select().where(
                        (Cert.kind == cls.kind) & (Cert.issuer == cls.organiser) & (Cert.number == number)).exists():
                    raise ClassError("duplicate_certificate", case_id=res.case_id, name=name, number=number)
                numbers_here.add(number)
                if cls.kind == "awareness":
                    _step(actor, case, pipeline.StepInput(
                        "certified", issued, certificate=pipeline.CertificateInput(number, issued, cls.organiser)),
                        today)
                    cert = Cert.get((Cert.kind == "awareness") & (Cert.issuer == cls.organiser)
                                    & (Cert.number == number))
                    cert.training_class = cls.id
                    cert.save()
                else:
                    cert = Cert.create(person=enrolment.person_id, kind="new_member", number=number,
                                       issued=issued, issuer=cls.organiser, training_class=cls.id)
                    if case is not None:
                        models.Document.create(case=case.id, kind="new_member_certificate", received=issued,
                                               note=f"{number} · {cls.organiser}")
                        case.version += 1
                        case.save()
                enrolment.certificate = cert.id
            elif cls.kind == "awareness" and case is not None and case.stage == "in_class":
                _step(actor, case, pipeline.StepInput("identified", issued), today)
            enrolment.result = res.result
            enrolment.save()
            audit.record(actor, "class_result", "case_file" if case else "person",
                         case.id if case else enrolment.person_id, before,
                         {"class": cls.id, "result": res.result, "number": res.number,
                          "issued": issued}, case.branch_id if case else enrolment.person.branch_id)
        if not E.select().where((E.training_class == cls.id) & E.result.is_null()).exists():
            cls.status = "finished"
            cls.save()


def _enrolment(cls: models.TrainingClass, res: ResultInput) -> models.Enrolment:
    E = models.Enrolment
    query = E.select().where(E.training_class == cls.id)
    if res.case_id is not None:
        query = query.where(E.case == res.case_id)
    elif res.person_id is not None:
        query = query.where(E.person == res.person_id)
    else:
        raise ClassError("missing_value", field="case")
    enrolment = query.first()
    if enrolment is None:
        raise ClassError("not_enrolled", case_id=res.case_id, person_id=res.person_id, name=cls.name)
    return enrolment
