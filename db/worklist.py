"""The work list: every open file of a unit's tree with its next action and due date.

Computed from the recorded steps, so any past date can be asked about ("as of"): steps,
resolutions, documents, certificates and hold events dated after that day are left out. The
files of the whole tree are read in a fixed number of queries and the deadlines computed here,
never a query per file.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from db import models
from db.access import Actor, scope_root
from db.calendar import WorkingDays
from db.cases import (CertificateView, DocumentView, ResolutionView, StepView, UnitRef,
                      next_action)
from db.units import subtree_ids

_FAR = datetime.date.max


@dataclass(frozen=True)
class WorkItem:
    """One open file on the work list.

    `overdue_days` counts calendar days from the due date to the day asked about (0 when the
    file is not overdue or has no due date), although the deadlines themselves are counted in
    working days: it answers "how long has this been late", which users read in plain days.
    """

    case_id: int
    person_id: int
    full_name: str
    sort_key: str
    branch: UnitRef
    stage: str
    on_hold: bool  # held files keep their legal clocks (domain.md section 3): listed, flagged
    next_action: str
    due: datetime.date | None
    overdue_days: int

    @property
    def overdue(self) -> bool:
        return self.overdue_days > 0


def _needs_committee(branch_id: int, parents: dict[int, int | None], org_types: dict[int, str]) -> bool:
    """db.cases.needs_committee_vote over rows already read: a branch inside a grassroots
    committee goes through that committee's vote."""
    unit = parents.get(branch_id)
    seen = set()
    while unit is not None and unit not in seen:
        seen.add(unit)
        if org_types.get(unit) == "grassroots_committee":
            return True
        if org_types.get(unit) == "committee":
            return False
        unit = parents.get(unit)
    return False


def _date(value) -> datetime.date | None:
    """A date column as SQLite gives it (ISO text) or as a driver that converts it does."""
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(value[:10])


def _datetime(value) -> datetime.datetime | None:
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(value)


def _undone(undone_at: datetime.datetime | None, as_of: datetime.date) -> bool:
    """Undone on or before as_of (a step undone later was still live that day)."""
    return undone_at is not None and undone_at.date() <= as_of


def worklist(actor: Actor, unit_id: int | None, as_of: datetime.date, *,
             within_days: int | None = None, unit_ids: list[int] | None = None) -> list[WorkItem]:
    """The open files of `unit_id` and every unit below it on `as_of` (None: the actor's scope,
    which for an administrator is everything), each with its next action and due date.

    Order: overdue first, the most overdue first; then by due date, files without one last;
    then Vietnamese name order, then file number. `within_days` keeps only the files due within
    that many calendar days of `as_of`, overdue ones included.

    A file counts as open on `as_of` when it is not closed (or was closed after that day), it has
    a step on or before that day, and it was not yet recognised official. Its stage is its last
    live step on or before `as_of` (its recorded stage when no step is dated later, so files
    imported without every step keep theirs). A unit outside the actor's scope gives an empty
    list. `unit_ids`: the units themselves, for a caller in db that has already worked out the
    subtree and checked it against the actor's scope (db.progress).
    """
    C, P, U, S = models.CaseFile, models.Person, models.Unit, models.Step
    root = unit_id if unit_id is not None else scope_root(actor)
    if unit_ids is None and root is not None:
        unit_ids = subtree_ids(actor, root, as_of)
        if not unit_ids:
            return []

    # files recognised official by as_of: one uncorrelated subquery (a correlated EXISTS lets
    # SQLite walk every official step for each file)
    recognised = (S.select(S.case).where((S.stage == "official") & S.undone_at.is_null()
                                         & (S.date <= as_of)))
    condition = (((C.status == "open") | (C.closed_on > as_of)) & C.id.not_in(recognised))
    if unit_ids is not None:
        condition &= C.branch.in_(unit_ids)

    def case_ids():
        return C.select(C.id).where(condition)

    cases = list(C.select(C.id, C.person, C.stage, C.on_hold, P.full_name, P.sort_key,
                          U.id, U.code, U.name)
                 .join(P, on=(C.person == P.id))
                 .switch(C).join(U, on=(C.branch == U.id))
                 .where(condition).tuples())
    if not cases:
        return []

    resolutions: dict[int, list[ResolutionView]] = {}
    R = models.Resolution
    for step_id, kind, number, day, v_for, v_convened, v_excused in (
            R.select(R.step, R.kind, R.number, R.date, R.votes_for, R.votes_convened,
                     R.votes_excused)
            .join(S, on=(R.step == S.id))
            .where(S.case.in_(case_ids()) & (R.date <= as_of))
            .order_by(R.id).tuples()):
        resolutions.setdefault(step_id, []).append(
            ResolutionView(kind, number, day, v_for, v_convened, v_excused))

    steps: dict[int, list[StepView]] = {}
    changed_later: set[int] = set()  # files with a step dated, or undone, after as_of
    # the largest read of the list (every step of every open file): its rows are taken as the
    # driver gives them and the dates read with fromisoformat, several times faster than
    # converting each column through the model's fields
    step_rows = models.database.execute_sql(*(
        S.select(S.id, S.case, S.seq, S.stage, S.date, S.received, S.extension, S.undone_at,
                 U.id, U.code, U.name)
        .join(U, on=(S.unit == U.id))
        .where(S.case.in_(case_ids()))
        .order_by(S.case, S.seq).sql()))
    for step_id, case_id, seq, stage, day, received, extension, undone_at, uid, ucode, uname in step_rows:
        day, received, undone_at = _date(day), _date(received), _datetime(undone_at)
        extension = bool(extension)
        undone = _undone(undone_at, as_of)
        if day > as_of or (undone_at is not None and not undone):
            changed_later.add(case_id)
        if day > as_of:
            continue
        steps.setdefault(case_id, []).append(StepView(
            seq, stage, day, UnitRef(uid, ucode, uname),
            received if received is not None and received <= as_of else None,
            tuple(resolutions.get(step_id, ())), {}, None, extension, undone, None))

    D = models.Document
    documents: dict[int, list[DocumentView]] = {}
    for case_id, kind, received in (D.select(D.case, D.kind, D.received)
                                    .where(D.case.in_(case_ids()) & (D.received <= as_of))
                                    .tuples()):
        documents.setdefault(case_id, []).append(DocumentView(kind, received, None))

    Cert = models.Certificate
    certificates: dict[int, list[CertificateView]] = {}
    for person_id, kind, number, issued, issuer in (
            Cert.select(Cert.person, Cert.kind, Cert.number, Cert.issued, Cert.issuer)
            .where(Cert.person.in_(C.select(C.person).where(condition))
                   & (Cert.issued <= as_of)).tuples()):
        certificates.setdefault(person_id, []).append(CertificateView(kind, number, issued, issuer))

    E = models.CaseEvent
    held: dict[int, bool] = {}  # from the hold and release events up to as_of
    has_events: set[int] = set()
    for case_id, kind, day in (E.select(E.case, E.kind, E.date)
                               .where(E.case.in_(case_ids()) & E.kind.in_(("hold", "release")))
                               .order_by(E.date, E.id).tuples()):
        has_events.add(case_id)
        if day <= as_of:
            held[case_id] = kind == "hold"

    parents, org_types = {}, {}
    for uid, parent, org_type in U.select(U.id, U.parent, U.org_type).tuples():
        parents[uid], org_types[uid] = parent, org_type

    calendar = WorkingDays()
    items = []
    for case_id, person_id, stored_stage, on_hold, full_name, sort_key, bid, bcode, bname in cases:
        file_steps = tuple(steps.get(case_id, ()))
        live = [s for s in file_steps if not s.undone]
        if not file_steps and case_id in changed_later:
            continue  # every step is later: the file did not exist yet
        # nothing changed since as_of: the recorded stage (kept by files imported without
        # every step); else the last step live on that day
        stage = live[-1].stage if case_id in changed_later and live else stored_stage
        action = next_action(stage, "open", file_steps, tuple(documents.get(case_id, ())),
                             tuple(certificates.get(person_id, ())),
                             _needs_committee(bid, parents, org_types), calendar)
        if action is None:
            continue
        late = (as_of - action.due).days if action.due is not None and action.due < as_of else 0
        if within_days is not None and (
                action.due is None or action.due > as_of + datetime.timedelta(days=within_days)):
            continue
        hold = held.get(case_id, False) if case_id in has_events else bool(on_hold)
        items.append(WorkItem(case_id, person_id, full_name, sort_key, UnitRef(bid, bcode, bname),
                              stage, hold, action.code, action.due, late))
    items.sort(key=lambda i: (-i.overdue_days, i.due is None, i.due or _FAR, i.sort_key,
                              i.case_id))
    return items
