"""What a branch meeting decides, for one branch on one day (the meeting screen).

Four lists, each of the branch's open files:
- `ready`: files waiting for the branch vote (stage `dossier`), each with what the pipeline's
  rules for the `branch_approved` step say now (pipeline.check_step on a vote proposed today),
  leaving out what only the vote itself supplies (the counts, the resolution number);
- `probation`: probationary members whose review by the branch (db.cases.next_action
  `probation_review`) is due within PROBATION_DAYS or overdue;
- `certificates`: awareness certificates (valid CERTIFICATE_MONTHS after issue) of files not yet
  voted on that expire within CERTIFICATE_DAYS, or have expired;
- `helpers`: the helping members (models.Helper) assigned to the branch's open files.

The files and their next actions come from db.worklist (the stored next actions); the rule
states of the ready files are read together (db.rules_check.read_states), the certificates and
the helpers in one query each: a fixed number of queries, whatever the number of files.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from dataclasses import dataclass

from peewee import JOIN

from db import models, pipeline, worklist
from db.access import Actor, NotFound
from db.calendar import add_months
from db.cases import UnitRef
from db.units import BRANCH_TYPES, subtree_ids

PROBATION_DAYS = 60
CERTIFICATE_DAYS = 90
BEFORE_VOTE = ("identified", "in_class", "certified", "dossier")
# what the vote itself brings: not missing before the meeting
VOTE_ONLY = frozenset({"vote_below_two_thirds", "vote_base_differs"})


class NotABranch(Exception):
    """The unit is not a party branch (chi bộ): meetings are held by branches."""

    code = "not_a_branch"

    def __init__(self, unit: UnitRef):
        super().__init__(self.code)
        self.unit = unit


@dataclass(frozen=True)
class MeetingLine:
    """One line of a list: a file, its candidate, what the line is about and its date.

    `violations`: what the rules find missing (ready files); `helper`: the helping member's name
    (helpers, `due` being the day the helper was assigned)."""

    case_id: int
    full_name: str
    sort_key: str
    due: datetime.date | None
    overdue: bool = False
    on_hold: bool = False
    violations: tuple[pipeline.Violation, ...] = ()
    helper: str | None = None


@dataclass(frozen=True)
class Meeting:
    branch: UnitRef
    today: datetime.date
    ready: tuple[MeetingLine, ...]
    probation: tuple[MeetingLine, ...]
    certificates: tuple[MeetingLine, ...]
    helpers: tuple[MeetingLine, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {"ready": len(self.ready), "probation": len(self.probation),
                "certificates": len(self.certificates), "helpers": len(self.helpers)}


def _missing(violations) -> tuple[pipeline.Violation, ...]:
    return tuple(v for v in violations
                 if v.code not in VOTE_ONLY
                 and not (v.code == "document_missing" and v.params.get("kind") == "branch_resolution"))


def _ready_checks(case_ids: list[int], today: datetime.date) -> dict[int, tuple[pipeline.Violation, ...]]:
    """The `branch_approved` rules on a vote proposed today, for each file."""
    from db.pipeline import youth_age_limit
    from db.rules_check import read_states

    if not case_ids:
        return {}
    tree = pipeline.UnitTree()
    step = pipeline.StepInput(stage="branch_approved", date=today)
    out = {}
    for case_id, state, _stored in read_states(case_ids, tree, youth_age_limit()):
        # the facts of the vote's day, as read_state gives them for a proposed step
        state = dataclasses.replace(
            state, committee_on={**state.committee_on,
                                 today: tree.in_grassroots_committee(state.branch_id, today)})
        out[case_id] = _missing(pipeline.check_step(state, step, today))
    return out


def meeting(actor: Actor, branch_id: int, today: datetime.date) -> Meeting:
    """The four lists of `branch_id` on `today`. A unit the actor may not see is `NotFound`; a
    unit that is not a branch is `NotABranch`."""
    unit = models.Unit.get_or_none(models.Unit.id == branch_id)
    if unit is None or not subtree_ids(actor, branch_id, today):
        raise NotFound(branch_id)
    ref = UnitRef(unit.id, unit.code, unit.name)
    if unit.org_type not in BRANCH_TYPES:
        raise NotABranch(ref)
    items = [i for i in worklist.worklist(actor, branch_id, today, unit_ids=[branch_id])
             if i.branch.id == branch_id]

    checks = _ready_checks([i.case_id for i in items if i.stage == "dossier"], today)
    ready = [MeetingLine(i.case_id, i.full_name, i.sort_key, i.due, i.overdue, i.on_hold,
                         checks.get(i.case_id, ()))
             for i in items if i.stage == "dossier"]

    horizon = today + datetime.timedelta(days=PROBATION_DAYS)
    probation = [MeetingLine(i.case_id, i.full_name, i.sort_key, i.due, i.overdue, i.on_hold)
                 for i in items if i.next_action == "probation_review"
                 and i.due is not None and i.due <= horizon]

    before = {i.person_id: i for i in items if i.stage in BEFORE_VOTE}
    Cert = models.Certificate
    issued: dict[int, datetime.date] = {}
    for person_id, day in (Cert.select(Cert.person, Cert.issued)
                           .where(Cert.person.in_(list(before)) & (Cert.kind == "awareness")
                                  & (Cert.issued <= today)).tuples() if before else ()):
        issued[person_id] = max(day, issued.get(person_id, day))
    limit = today + datetime.timedelta(days=CERTIFICATE_DAYS)
    certificates = []
    for person_id, day in issued.items():
        expiry = add_months(day, pipeline.CERTIFICATE_MONTHS)
        if expiry <= limit:
            i = before[person_id]
            certificates.append(MeetingLine(i.case_id, i.full_name, i.sort_key, expiry,
                                            expiry < today, i.on_hold))

    by_case = {i.case_id: i for i in items}
    H, P = models.Helper, models.Person
    helpers = []
    for case_id, since, snapshot, name in (
            H.select(H.case, H.since, H.snapshot, P.full_name)
            .join(P, JOIN.LEFT_OUTER, on=(H.person == P.id))
            .where(H.case.in_(list(by_case)) & (H.since <= today)).tuples() if by_case else ()):
        i = by_case[case_id]
        helper = name if name is not None else json.loads(snapshot or "{}").get("full_name")
        helpers.append(MeetingLine(case_id, i.full_name, i.sort_key, since, False, i.on_hold,
                                   helper=helper))

    def by_due(line: MeetingLine):
        return (line.due is None, line.due or datetime.date.max, line.sort_key, line.case_id)

    return Meeting(ref, today, tuple(sorted(ready, key=lambda x: (x.sort_key, x.case_id))),
                   tuple(sorted(probation, key=by_due)), tuple(sorted(certificates, key=by_due)),
                   tuple(sorted(helpers, key=lambda x: (x.sort_key, x.case_id, x.helper or ""))))
