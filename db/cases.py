"""One candidate file as the case view and `case show` present it, and the people search."""

from __future__ import annotations

import dataclasses
import datetime
import json
from dataclasses import dataclass

from peewee import JOIN

from db import audit, models, search
from db.access import Actor, NotFound, may_see_background, scope_root  # noqa: F401 (NotFound: part of this API)
from db.calendar import WorkingDays, add_months
from db.codes import STAGES  # noqa: F401 (part of this module's API)
from db.units import subtree_ids



@dataclass(frozen=True, slots=True)  # slots: lists behind a province's figures hold tens of thousands
class UnitRef:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class PersonView:
    id: int
    full_name: str
    other_name: str | None
    sex: str | None
    born: datetime.date | None
    ethnicity: str | None
    religion: str | None
    home_town: str | None
    residence: str | None
    citizen_id: str | None
    phone: str | None
    education: str | None
    occupation: str | None
    workplace: str | None
    youth_union: bool
    trade_union: bool
    public_role: str | None
    branch: UnitRef | None


@dataclass(frozen=True)
class ResolutionView:
    kind: str
    number: str | None
    date: datetime.date
    votes_for: int | None
    votes_convened: int | None
    votes_excused: int | None


@dataclass(frozen=True)
class StepView:
    seq: int
    stage: str
    date: datetime.date
    unit: UnitRef
    received: datetime.date | None
    resolutions: tuple[ResolutionView, ...]
    details: dict
    entered_by: str | None
    extension: bool
    undone: bool
    undo_reason: str | None


@dataclass(frozen=True)
class DocumentView:
    kind: str
    received: datetime.date
    note: str | None


@dataclass(frozen=True)
class IntroducerView:
    kind: str
    person_id: int | None
    full_name: str | None
    resolution: str | None
    date: datetime.date
    together_since: datetime.date | None
    replacement: bool


@dataclass(frozen=True)
class CertificateView:
    kind: str
    number: str
    issued: datetime.date
    issuer: str


@dataclass(frozen=True)
class EventView:
    """Something recorded on the file besides a step (e.g. a vote_failed), with its details."""
    kind: str
    date: datetime.date
    reason: str | None
    details: dict
    entered_by: str | None = None  # the account that recorded it


@dataclass(frozen=True)
class NextAction:
    code: str
    due: datetime.date | None


@dataclass(frozen=True)
class CaseView:
    id: int
    person: PersonView
    branch: UnitRef
    stage: str
    status: str  # open / closed / on_hold
    outcome: str | None
    hold_reason: str | None
    steps: tuple[StepView, ...]
    documents: tuple[DocumentView, ...]
    introducers: tuple[IntroducerView, ...]
    helpers: tuple[tuple[int | None, str | None], ...]
    certificates: tuple[CertificateView, ...]
    next_action: NextAction | None
    events: tuple[EventView, ...] = ()
    background_hidden: bool = False  # the actor may not see the person's background
    version: int = 0  # the file's version when read: a write passes it back (expected_version)


def _ref(unit: models.Unit | None) -> UnitRef | None:
    return UnitRef(unit.id, unit.code, unit.name) if unit is not None else None


def _visible_branch(actor: Actor, branch_id: int | None, as_of: datetime.date) -> bool:
    root = scope_root(actor)
    return root is None or branch_id in subtree_ids(actor, root, as_of)


def person_view(person: models.Person) -> PersonView:
    return PersonView(
        person.id, person.full_name, person.other_name, person.sex, person.born, person.ethnicity,
        person.religion, person.home_town, person.residence, person.citizen_id, person.phone,
        person.education, person.occupation, person.workplace, person.youth_union,
        person.trade_union, person.public_role, _ref(person.branch))


def _resolution_date(step: StepView, kind: str) -> datetime.date | None:
    """The date of the step's resolution of `kind`, if one is recorded."""
    dates = [r.date for r in step.resolutions if r.kind == kind]
    return max(dates) if dates else None


def next_action(stage: str, status: str, steps: tuple[StepView, ...], documents, certificates,
                needs_committee: bool, calendar: WorkingDays | None = None) -> NextAction | None:
    """What the file waits for, and by when (domain.md section 5).

    Deadlines in working days (`calendar`), counted from:
    - the admission decision: 60 after the branch resolution (its resolution's date, else the
      step's), 90 when an extension is recorded on a live step;
    - the ceremony: 30 after the branch received the decision (`Step.received`, else the
      decision's date);
    - the member records: 30 after the ceremony, while no `member_records` document is recorded;
    - the branch's probation review: 30 after the probation ends (ceremony + 12 months);
    - the recognition decision: 30 after the branch's recognition resolution. The pipeline
      records that resolution on the `official` step together with the decision, so a file
      normally goes straight from the review to official. A `branch_resolution` attached to
      the live `probationary` step is read as the recognition vote already passed, and the
      file then waits for the decision (`recognition_decision`).
    - before the branch vote: the awareness certificate's expiry, 60 months after issue.

    The caller passes only what existed on the day it asks about (steps, documents and
    certificates dated later left out), so the same function answers "as of" any date.
    """
    if status == "closed" or stage == "official":
        return None
    calendar = calendar or WorkingDays()
    live = [s for s in steps if not s.undone]
    last = {s.stage: s for s in live}
    awareness = [c for c in certificates if c.kind == "awareness"]
    expiry = add_months(max(c.issued for c in awareness), 60) if awareness else None
    if stage == "identified":
        return NextAction("enrol_in_class", None)
    if stage == "in_class":
        return NextAction("class_result", None)
    if stage == "certified":
        return NextAction("collect_dossier", expiry)
    if stage == "dossier":
        return NextAction("branch_vote", expiry)
    # A file whose stage has no live step behind it (a legacy import without that step's
    # details) still has its next action; only the due date is unknown.
    if stage in ("branch_approved", "committee_approved"):
        branch = last.get("branch_approved")
        voted = (_resolution_date(branch, "branch_resolution") or branch.date) if branch else None
        due = (calendar.add(voted, 90 if any(s.extension for s in live) else 60)
               if voted else None)
        code = "committee_vote" if stage == "branch_approved" and needs_committee else "admission_decision"
        return NextAction(code, due)
    if stage == "admitted":
        step = last.get("admitted")
        return NextAction("ceremony", calendar.add(step.received or step.date, 30) if step else None)
    if stage == "probationary":
        step = last.get("probationary")
        ceremony = step.date if step else None
        if not any(d.kind == "member_records" for d in documents):
            return NextAction("member_records", calendar.add(ceremony, 30) if ceremony else None)
        recognised_by_branch = _resolution_date(step, "branch_resolution") if step else None
        if recognised_by_branch:
            return NextAction("recognition_decision", calendar.add(recognised_by_branch, 30))
        return NextAction("probation_review",
                          calendar.add(add_months(ceremony, 12), 30) if ceremony else None)
    return None


def needs_committee_vote(branch: models.Unit) -> bool:
    """A branch inside a grassroots committee goes through that committee's vote."""
    unit = branch.parent
    while unit is not None:
        if unit.org_type == "grassroots_committee":
            return True
        if unit.org_type in ("committee",):
            return False
        unit = unit.parent
    return False


def _hidden(person: PersonView) -> PersonView:
    """The person without background: name, sex, public role and branch only."""
    return PersonView(person.id, person.full_name, person.other_name, person.sex, None, None, None,
                      None, None, None, None, None, None, None, False, False, person.public_role,
                      person.branch)


def log_background_view(actor: Actor, person_id: int, unit_id: int | None, case_id: int | None) -> None:
    """Every opening of a person's background is on the audit trail."""
    from db.connection import write_transaction

    entity, entity_id = ("case_file", case_id) if case_id else ("person", person_id)
    with write_transaction():
        audit.record(actor, "view_background", entity, entity_id, None, None, unit_id,
                     person_id=person_id)


def case_view(actor: Actor, case_id: int, as_of: datetime.date, *, log: bool = True) -> CaseView:
    """One file as the actor may see it. A viewer gets it without the person's background
    (`background_hidden`); for everyone else the opening is logged, unless `log` is false (a
    screen showing again the file it has open, or a write returning the file it changed)."""
    case = models.CaseFile.get_or_none(models.CaseFile.id == case_id)
    if case is None or not _visible_branch(actor, case.branch_id, as_of):
        raise NotFound(case_id)
    background = may_see_background(actor)
    if background and log:
        log_background_view(actor, case.person_id, case.branch_id, case.id)
    person = case.person
    steps = []
    S, R = models.Step, models.Resolution
    by_step: dict[int, list[ResolutionView]] = {}
    for r in R.select().join(S).where(S.case == case).order_by(R.id):  # one query, not one a step
        by_step.setdefault(r.step_id, []).append(
            ResolutionView(r.kind, r.number, r.date, r.votes_for, r.votes_convened, r.votes_excused))
    for step in (S.select(S, models.Unit, models.Account).join(models.Unit)
                 .switch(S).join(models.Account, JOIN.LEFT_OUTER, on=(S.entered_by == models.Account.id))
                 .where(S.case == case).order_by(S.seq)):
        resolutions = tuple(by_step.get(step.id, ()))
        account = step.entered_by.name if step.entered_by_id else None
        steps.append(StepView(step.seq, step.stage, step.date, _ref(step.unit), step.received,
                              resolutions, json.loads(step.details or "{}"), account,
                              step.extension, step.undone_at is not None, step.undo_reason))
    documents = tuple(DocumentView(d.kind, d.received, d.note)
                      for d in case.documents.order_by(models.Document.received, models.Document.id))
    introducers = []
    for intro in case.introducers.order_by(models.Introducer.id):
        name = intro.person.full_name if intro.person_id else None
        if name is None and intro.snapshot:
            name = json.loads(intro.snapshot).get("full_name")
        introducers.append(IntroducerView(intro.kind, intro.person_id, name, intro.resolution,
                                          intro.date, intro.together_since, intro.replacement))
    helpers = tuple((h.person_id, h.person.full_name if h.person_id else
                     json.loads(h.snapshot or "{}").get("full_name"))
                    for h in case.helpers.order_by(models.Helper.since))
    certificates = tuple(CertificateView(c.kind, c.number, c.issued, c.issuer)
                         for c in person.certificates.order_by(models.Certificate.issued))
    E, A = models.CaseEvent, models.Account
    events = tuple(EventView(e.kind, e.date, e.reason, json.loads(e.details or "{}"),
                             e.entered_by.name if e.entered_by_id else None)
                   for e in E.select(E, A).join(A, JOIN.LEFT_OUTER, on=(E.entered_by == A.id))
                   .where(E.case == case.id).order_by(E.date, E.id))
    # a file that reached official membership is finished: closed, with no outcome
    finished = case.status == "closed" or case.stage == "official"
    status = "closed" if finished else ("on_hold" if case.on_hold else "open")
    steps_t = tuple(steps)
    action = next_action(case.stage, case.status, steps_t, documents, certificates,
                         needs_committee_vote(case.branch))
    shown = person_view(person)
    if not background:
        shown = _hidden(shown)
        documents = tuple(DocumentView(d.kind, d.received, None) for d in documents)
        # free text (notes, reasons) may tell the background: a viewer gets none of it
        events = tuple(dataclasses.replace(e, reason=None) for e in events if e.kind != "note")
        steps_t = tuple(dataclasses.replace(s, undo_reason=None) for s in steps_t)
    return CaseView(case.id, shown, _ref(case.branch), case.stage, status,
                    case.outcome, case.hold_reason if background else None, steps_t, documents, tuple(introducers),
                    helpers, certificates, action, events, not background, case.version)


@dataclass(frozen=True)
class FindResult:
    person_id: int
    full_name: str
    born: datetime.date | None
    branch: UnitRef | None
    case_id: int | None
    stage: str | None
    public_role: str | None
    party_status: str | None = None  # probationary / official on the day searched
    last_case_id: int | None = None  # the open file, else the most recent closed one


@dataclass(frozen=True)
class UnitHit:
    id: int
    code: str
    name: str
    level: str | None
    org_type: str


def search_scope(actor: Actor, as_of: datetime.date) -> list[int] | None:
    """The units whose people and which units the account finds (None: all): read once by a
    caller that searches again and again (the search screen)."""
    root = scope_root(actor)
    return None if root is None else subtree_ids(actor, root, as_of)


def find(actor: Actor, text: str, as_of: datetime.date, *, limit: int = 20,
         scope: list[int] | None = None) -> list[FindResult]:
    """People whose name, other name, citizen ID or phone match `text`, diacritics ignored, best
    first (see `db.search.rank_key`), only those the account may see. `scope`: the account's
    units when the caller already has them."""
    from db.people import party_statuses

    allowed = scope if scope is not None else search_scope(actor, as_of)
    background = may_see_background(actor)
    ids = search.matching_person_ids(text, limit, branch_ids=allowed, names_only=not background)
    if not ids:
        return []
    P, U, C = models.Person, models.Unit, models.CaseFile
    people = {row[0]: row for row in
              P.select(P.id, P.full_name, P.born, P.public_role, U.id, U.code, U.name)
              .join(U, on=(P.branch == U.id), join_type=JOIN.LEFT_OUTER)
              .where(P.id.in_(ids)).tuples()}
    # every file of these people through the person index (a condition on the status would
    # lead SQLite to the status index, every open file of the database), the open one picked here
    cases: dict[int, tuple[int, str]] = {}
    latest: dict[int, int] = {}
    for pid, cid, stage, status in (C.select(C.person, C.id, C.stage, C.status)
                                    .where(C.person.in_(ids)).order_by(C.id).tuples()):
        latest[pid] = cid  # the last one read is the most recent
        if status == "open" and stage != "official" and pid not in cases:
            cases[pid] = (cid, stage)
    statuses = party_statuses(ids, as_of)
    results = []
    for pid in ids:
        _, full_name, born, public_role, unit_id, code, name = people[pid]
        case_id, stage = cases.get(pid, (None, None))
        results.append(FindResult(pid, full_name, born if background else None,
                                  UnitRef(unit_id, code, name) if unit_id is not None else None,
                                  case_id, stage, public_role, statuses.get(pid),
                                  case_id or latest.get(pid)))
    return results


def find_units(actor: Actor, text: str, as_of: datetime.date, *, limit: int = 10,
               scope: list[int] | None = None) -> list[UnitHit]:
    """Current units the account may see whose name or code has words starting with the typed
    ones, whole words first."""
    allowed = scope if scope is not None else search_scope(actor, as_of)
    ids = search.matching_unit_ids(text, as_of, limit, unit_ids=allowed)
    if not ids:
        return []
    U = models.Unit
    units = {u.id: u for u in U.select().where(U.id.in_(ids))}
    return [UnitHit(u.id, u.code, u.name, u.level, u.org_type) for u in (units[i] for i in ids)]


_UNREAD = object()


def find_everything(actor: Actor, text: str, as_of: datetime.date, *, limit: int = 20,
                    unit_limit: int = 10, scope=_UNREAD) -> tuple[list[FindResult], list[UnitHit]]:
    """People and units for the search screen and `ketnap find` (one scope read for both;
    `scope`: what `search_scope` gave, when the caller keeps it)."""
    allowed = search_scope(actor, as_of) if scope is _UNREAD else scope
    return (find(actor, text, as_of, limit=limit, scope=allowed),
            find_units(actor, text, as_of, limit=unit_limit, scope=allowed))
