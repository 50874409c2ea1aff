"""Stages, moves and rules of the candidate pipeline (domain.md sections 3–5), and the writes.

Two halves:

- Pure rules. `StepInput` (a proposed step, plain data) and `CaseState` (what the database knew
  before the step, plain data) go into `check_step`, which returns `Violation(code, params)`s:
  the codes of domain.md section 4, warnings marked `warning=True`. No queries, no language:
  the UI, the CLI and the importer turn codes into sentences.
- Writes. `check`, `apply`, `record_failed_vote`, `undo_last`, `close`, `reopen`, `hold` and
  `release` read the state, run the rules and write, each in one transaction with an audit
  entry. A refusal raises before anything is written, so the database stays as it was.

Months are always `db.calendar.add_months` / `full_months_between`; working days
`db.calendar.WorkingDays`.

Where domain.md is silent, the choices made here (each marked "Choice:" below):
- a missing birth date, education, vote count, resolution or decision number cannot satisfy its
  rule, so the rule's own code is returned with `missing` in the params (the step's resolutions
  and decision number are reported as `document_missing` with their kind);
- the mountain flag of the branch or of any unit above it counts (a district marked mountain
  covers its branches);
- whether a branch sits inside a grassroots committee is read from the unit's parent history
  (`UnitLink`) on the day of the vote;
- member introducers are checked (official, 12 months) on the step that records them and again
  at the branch vote; the number of introducers only at the branch vote;
- the probationary step does not need `member_records` (they come after the ceremony): a
  `member_records` document later than 30 working days after the ceremony, or none by then when
  recognition is recorded, is the warning `member_records_late`;
- recognition needs the new-member class: a `new_member_certificate` document or a new-member
  `Certificate` of the person, either dated on or before the recognition;
- `vote_base_differs` compares the branch votes (branch vote, recognition vote) with the branch's
  official members on the vote's day; the committee's base (its members) is not recorded yet;
- a file on hold may still take steps: the hold is a flag and stops no clock;
- re-admission: the person has an earlier membership that ended (or the file is flagged
  `readmission`): at the branch vote, at least 36 full months since it ended, and no earlier
  re-admission;
- `decision_cancelled` closes only a file that has a decision (`admitted`, `probationary`);
  closing as `struck_off`, `deceased` or `decision_cancelled` ends the file's membership, and
  reopening restores it;
- undoing the ceremony removes the membership it created; documents, introducers and
  certificates recorded with an undone step stay (they were received);
- a failed branch vote needs a reason, like every other event that changes a file's course.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from db import audit, models
from db.access import AccessError, Actor, NotFound, refuse_readonly, scope_root
from db.calendar import WorkingDays, add_months, full_months_between
from db.codes import OUTCOMES, STAGES  # noqa: F401 (part of this module's API)
from db.connection import write_transaction
from db.units import subtree_ids

Date = datetime.date


# domain.md section 3, "Allowed moves"
ALLOWED: dict[str, frozenset[str]] = {
    "identified": frozenset({"in_class", "certified"}),
    "in_class": frozenset({"certified", "identified"}),
    "certified": frozenset({"dossier", "in_class"}),
    "dossier": frozenset({"branch_approved"}),
    "branch_approved": frozenset({"committee_approved", "admitted"}),
    "committee_approved": frozenset({"admitted"}),
    "admitted": frozenset({"probationary"}),
    "probationary": frozenset({"official"}),
    "official": frozenset(),
}

# Choice: an annulled decision can only close a file that has one.
DECISION_STAGES = frozenset({"admitted", "probationary"})

BRANCH_DOCUMENTS = ("application_letter", "background_form", "background_verification", "comments")

WARNINGS = frozenset({"decision_late", "ceremony_late", "member_records_late", "recognition_late",
                      "vote_base_differs"})
OVERRIDE_ROLES = frozenset({"admin", "organiser"})

MIN_AGE_MONTHS = 216  # 18 years
MAX_AGE_MONTHS = 720  # 60 years
CERTIFICATE_MONTHS = 60
PROBATION_MONTHS = 12
TOGETHER_MONTHS = 12
READMISSION_MONTHS = 36
DECISION_DAYS, EXTENSION_DAYS = 60, 30
CEREMONY_DAYS = RECORDS_DAYS = REVIEW_DAYS = RECOGNITION_DAYS = 30
YOUTH_AGE_LIMIT = 30  # default of the `youth_age_limit` setting (years, inclusive)


# --- plain data in and out ------------------------------------------------------------------

@dataclass(frozen=True)
class Violation:
    code: str
    params: dict = field(default_factory=dict)
    warning: bool = False

    def as_dict(self) -> dict:
        return {"code": self.code, "params": dict(self.params), "warning": self.warning}


@dataclass(frozen=True)
class Votes:
    for_: int | None
    convened: int | None
    excused: int | None = 0

    @classmethod
    def of(cls, value) -> "Votes | None":
        """From a Votes, a (for, convened, excused) tuple or a {"for", "convened", "excused"} dict."""
        if value is None or isinstance(value, Votes):
            return value
        if isinstance(value, Mapping):
            return cls(value.get("for"), value.get("convened"), value.get("excused", 0))
        return cls(*value)


@dataclass(frozen=True)
class CertificateInput:
    number: str
    issued: Date
    issuer: str


@dataclass(frozen=True)
class IntroducerInput:
    kind: str  # member / youth_union / trade_union
    person_id: int | None = None
    snapshot: Mapping | None = None  # for a member not in this database: full_name, official_on, ...
    resolution: str | None = None
    date: Date | None = None  # default: the dossier step's date
    together_since: Date | None = None
    replacement: bool = False


@dataclass(frozen=True)
class ResolutionInput:
    number: str | None
    date: Date
    votes: Votes | None = None


@dataclass(frozen=True)
class StepInput:
    """A proposed step: its stage, date and own data (the case-file JSON step object)."""

    stage: str
    date: Date
    certificate: CertificateInput | None = None
    documents: tuple[tuple[str, Date], ...] = ()
    introducers: tuple[IntroducerInput, ...] = ()
    resolution: str | None = None  # branch_approved / committee_approved: the resolution number
    votes: Votes | None = None
    decision: str | None = None  # admitted / official: the decision number
    received: Date | None = None  # admitted: the day the branch received the decision
    extension: bool = False
    helper: int | Mapping | None = None  # a person id, or a snapshot
    branch_resolution: ResolutionInput | None = None  # official
    committee_resolution: ResolutionInput | None = None  # official
    class_id: int | None = None  # in_class
    recommended_by: str | None = None  # identified

    def __post_init__(self):
        object.__setattr__(self, "documents", tuple((k, d) for k, d in self.documents))
        object.__setattr__(self, "introducers", tuple(self.introducers))
        object.__setattr__(self, "votes", Votes.of(self.votes))


@dataclass(frozen=True)
class StepRecord:
    seq: int
    stage: str
    date: Date
    received: Date | None = None
    extension: bool = False


@dataclass(frozen=True)
class MemberFacts:
    """A person's party record, as the introducer rules need it."""

    memberships: tuple[tuple[Date | None, Date | None, Date | None], ...] = ()  # ceremony, official, ended
    affiliations: tuple[tuple[int, Date, Date | None], ...] = ()  # unit, start, end
    full_name: str | None = None  # for the messages that name an introducer


@dataclass(frozen=True)
class CaseState:
    """What the database knew about a file before the proposed step."""

    case_id: int | None
    branch_id: int
    stage: str | None
    status: str = "open"
    on_hold: bool = False
    readmission: bool = False
    steps: tuple[StepRecord, ...] = ()  # live steps, in order
    documents: tuple[tuple[str, Date], ...] = ()
    certificates: tuple[tuple[str, Date], ...] = ()  # (kind, issued)
    introducers: tuple[IntroducerInput, ...] = ()  # dates filled in
    born: Date | None = None
    education: str | None = None
    youth_union: bool = False
    trade_union: bool = False
    mountain: bool = False
    committee_on: Mapping[Date, bool] = field(default_factory=dict)  # inside a grassroots committee
    official_members_on: Mapping[Date, int] = field(default_factory=dict)
    candidate: MemberFacts = MemberFacts()
    members: Mapping[int, MemberFacts] = field(default_factory=dict)  # introducers by person id
    earlier_memberships: tuple[tuple[Date, Date | None], ...] = ()  # (admitted_on, ended_on), other files
    youth_age_limit: int = YOUTH_AGE_LIMIT

    def last(self, stage: str) -> StepRecord | None:
        found = [s for s in self.steps if s.stage == stage]
        return found[-1] if found else None


class StepRefused(Exception):
    """A step (or close, undo...) refused by the rules; `violations` says why."""

    def __init__(self, violations: list[Violation]):
        super().__init__(", ".join(v.code for v in violations))
        self.violations = list(violations)

    @property
    def needs_override(self) -> bool:
        return bool(self.violations) and all(v.warning for v in self.violations)


class PipelineError(Exception):
    """A refusal that is not a rule: `code` is reason_required, bad_value, nothing_to_undo, ..."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


class CaseChanged(PipelineError):
    """The file changed after the user read it: the write was refused and nothing was saved.

    `seen` is the version the user read, `current` the version now; `changes` says who changed
    what since, newest last (dicts: at, account, action, stage_before, stage_after)."""

    def __init__(self, case_id: int, seen: int, current: int, changes: list[dict]):
        super().__init__("case_changed", id=case_id, seen=seen, current=current, changes=changes)


# --- pure rules -----------------------------------------------------------------------------

def _iso(day: Date | None) -> str | None:
    return day.isoformat() if day else None


def _v(code: str, **params) -> Violation:
    return Violation(code, params, code in WARNINGS)


def votes_pass(votes: Votes) -> bool:
    """3 x for >= 2 x (convened - excused)."""
    return 3 * votes.for_ >= 2 * (votes.convened - (votes.excused or 0))


def _votes_valid(votes: Votes | None) -> bool:
    if votes is None or votes.for_ is None or votes.convened is None:
        return False
    excused = votes.excused or 0
    return 0 <= votes.for_ and 0 <= excused <= votes.convened and votes.for_ <= votes.convened - excused


def rule_vote(votes: Votes | None, which: str) -> list[Violation]:
    """vote_below_two_thirds (Choice: missing or impossible counts fail too)."""
    if not _votes_valid(votes):
        return [_v("vote_below_two_thirds", vote=which, missing=votes is None,
                   **({} if votes is None else {"for": votes.for_, "convened": votes.convened,
                                                "excused": votes.excused}))]
    if not votes_pass(votes):
        return [_v("vote_below_two_thirds", vote=which, **{"for": votes.for_},
                   convened=votes.convened, excused=votes.excused or 0,
                   needed=-(-2 * (votes.convened - (votes.excused or 0)) // 3))]
    return []


def rule_vote_base(state: CaseState, votes: Votes | None, day: Date, which: str) -> list[Violation]:
    members = state.official_members_on.get(day)
    if votes is None or votes.convened is None or members is None or votes.convened == members:
        return []
    return [_v("vote_base_differs", vote=which, convened=votes.convened, official_members=members,
               date=_iso(day))]


def rule_stage_order(state: CaseState, step: StepInput) -> list[Violation]:
    if state.status == "closed":
        return [_v("stage_order", **{"from": state.stage, "to": step.stage, "status": "closed"})]
    if step.stage not in STAGES:
        return [_v("stage_order", **{"from": state.stage, "to": step.stage})]
    if not state.steps:
        # the first step is `identified`; a file imported at a later stage without its step
        # rows (legacy) moves on from the stage it has
        legacy = state.stage not in (None, "identified")
        if step.stage == "identified" or (legacy and step.stage in ALLOWED.get(state.stage, ())):
            return []
        return [_v("stage_order", **{"from": state.stage if legacy else None, "to": step.stage})]
    current = state.stage
    if step.stage not in ALLOWED.get(current, frozenset()):
        return [_v("stage_order", **{"from": current, "to": step.stage})]
    if current == "branch_approved":
        vote = state.last("branch_approved")
        committee = committee_applies(state, vote.date if vote else step.date)
        if committee and step.stage == "admitted":
            return [_v("stage_order", **{"from": current, "to": step.stage},
                       required="committee_approved")]
        if not committee and step.stage == "committee_approved":
            return [_v("stage_order", **{"from": current, "to": step.stage}, committee=False)]
    return []


def rule_date_order(state: CaseState, step: StepInput, today: Date) -> list[Violation]:
    out = []
    previous = state.steps[-1].date if state.steps else None
    if previous is not None and step.date < previous:
        out.append(_v("date_order", date=_iso(step.date), previous=_iso(previous)))
    if step.date > today:
        out.append(_v("date_order", date=_iso(step.date), today=_iso(today)))
    if step.received is not None and (step.received < step.date or step.received > today):
        out.append(_v("date_order", field="received", received=_iso(step.received)))
    for kind, received in step.documents:
        if received > today:
            out.append(_v("date_order", field="document", kind=kind, received=_iso(received)))
    for name in ("branch_resolution", "committee_resolution"):
        res = getattr(step, name)
        if res is not None and res.date > step.date:
            out.append(_v("date_order", field=name, resolution_date=_iso(res.date), date=_iso(step.date)))
    return out


def committee_applies(state: CaseState, day: Date) -> bool:
    if day in state.committee_on:
        return state.committee_on[day]
    # the nearest known day before, else any known value
    known = sorted(d for d in state.committee_on if d <= day)
    if known:
        return state.committee_on[known[-1]]
    return any(state.committee_on.values())


def rule_age(state: CaseState, step: StepInput, documents) -> list[Violation]:
    if state.born is None:
        return [_v("age_under_18", missing=True)]
    months = full_months_between(state.born, step.date)
    if months < MIN_AGE_MONTHS:
        return [_v("age_under_18", months=months, minimum=MIN_AGE_MONTHS)]
    if months > MAX_AGE_MONTHS and not any(k == "over_60_consent" and r <= step.date for k, r in documents):
        return [_v("age_over_60", months=months, maximum=MAX_AGE_MONTHS)]
    return []


def education_ok(education: str | None, mountain: bool) -> bool:
    """9/12 or 7/10 or higher; 5/12 or 4/10 where the unit is mountain/ethnic-minority."""
    try:
        grade_text, system_text = (education or "").strip().split("/")
        grade, system = int(grade_text), int(system_text)
    except ValueError:
        return False
    if system == 12:
        return grade >= (5 if mountain else 9)
    if system == 10:
        return grade >= (4 if mountain else 7)
    return False


def rule_education(state: CaseState) -> list[Violation]:
    if education_ok(state.education, state.mountain):
        return []
    return [_v("education", education=state.education, mountain=state.mountain)]


def _awareness_issued(state: CaseState, step: StepInput) -> list[Date]:
    days = [issued for kind, issued in state.certificates if kind == "awareness"]
    if step.certificate is not None:
        days.append(step.certificate.issued)
    return sorted(d for d in days if d <= step.date)


def rule_certificate(state: CaseState, step: StepInput, *, expiry: bool) -> list[Violation]:
    issued = _awareness_issued(state, step)
    if not issued:
        return [_v("certificate_missing")]
    valid_through = add_months(issued[-1], CERTIFICATE_MONTHS)
    if expiry and step.date > valid_through:
        return [_v("certificate_expired", issued=_iso(issued[-1]), valid_through=_iso(valid_through))]
    return []


def rule_documents(step: StepInput, documents, kinds) -> list[Violation]:
    return [_v("document_missing", kind=kind) for kind in kinds
            if not any(k == kind and r <= step.date for k, r in documents)]


def _is_official(facts: MemberFacts | None, snapshot: Mapping | None, day: Date) -> bool:
    if snapshot is not None and snapshot.get("official_on"):
        official = snapshot["official_on"]
        official = Date.fromisoformat(official) if isinstance(official, str) else official
        if official <= day:
            return True
    if facts is None:
        return False
    return any(official is not None and official <= day and (ended is None or ended > day)
               for _ceremony, official, ended in facts.memberships)


def _affiliation_start(facts: MemberFacts, unit_id: int, day: Date) -> Date | None:
    """The start of the stay in `unit_id` that covers `day` (back-to-back rows joined)."""
    rows = [(s, e) for u, s, e in facts.affiliations if u == unit_id]
    cover = [s for s, e in rows if s <= day and (e is None or e > day)]
    if not cover:
        return None
    start = min(cover)
    ends = {e: s for s, e in rows if e is not None}
    while start in ends and ends[start] < start:
        start = ends[start]
    return start


def together_months(state: CaseState, intro: IntroducerInput, day: Date) -> int | None:
    since = intro.together_since
    if since is None and intro.person_id is not None:
        mine = _affiliation_start(state.members.get(intro.person_id, MemberFacts()), state.branch_id, day)
        theirs = _affiliation_start(state.candidate, state.branch_id, day)
        since = max(mine, theirs) if mine and theirs else None
    return None if since is None else full_months_between(since, day)


def introduction_date(state: CaseState, step: StepInput, intro: IntroducerInput) -> Date:
    if intro.date is not None:
        return intro.date
    if step.stage == "dossier":
        return step.date
    dossier = state.last("dossier")
    return dossier.date if dossier else step.date


def rule_introducer(state: CaseState, intro: IntroducerInput, day: Date) -> list[Violation]:
    if intro.kind != "member":
        return []
    facts = state.members.get(intro.person_id) if intro.person_id else None
    # the introducer by name (the messages show it as it is); the id when no name is known
    who = (facts.full_name if facts and facts.full_name else intro.person_id) \
        if intro.person_id is not None else (intro.snapshot or {}).get("full_name")
    out = []
    if not _is_official(facts, intro.snapshot, day):
        out.append(_v("introducer_not_official", introducer=who, date=_iso(day)))
    if not intro.replacement:
        months = together_months(state, intro, day)
        if months is None or months < TOGETHER_MONTHS:
            out.append(_v("introducer_too_short", introducer=who, months=months, minimum=TOGETHER_MONTHS))
    return out


def rule_introducers_missing(state: CaseState, introducers: list[IntroducerInput],
                             dates: list[Date]) -> list[Violation]:
    members = [i for i in introducers if i.kind == "member"]
    if len(members) >= 2:
        return []
    if len(members) == 1:
        for intro, day in zip(introducers, dates):
            if not intro.resolution:
                continue
            if intro.kind == "youth_union" and state.youth_union and state.born is not None \
                    and full_months_between(state.born, day) < (state.youth_age_limit + 1) * 12:
                return []
            if intro.kind == "trade_union" and state.trade_union:
                return []
    return [_v("introducers_missing", members=len(members),
               youth_union=any(i.kind == "youth_union" for i in introducers),
               trade_union=any(i.kind == "trade_union" for i in introducers))]


def rule_readmission(state: CaseState, step: StepInput) -> list[Violation]:
    ended = sorted(e for _a, e in state.earlier_memberships if e is not None)
    if not ended and not state.readmission:
        return []
    if len(ended) >= 2:
        return [_v("readmission_too_soon", once_only=True, earlier=len(ended))]
    if not ended:
        return []  # flagged, but no earlier membership on record: nothing to count from
    months = full_months_between(ended[-1], step.date)
    if months < READMISSION_MONTHS:
        return [_v("readmission_too_soon", months=months, minimum=READMISSION_MONTHS,
                   ended=_iso(ended[-1]))]
    return []


def _member_records_late(state: CaseState, ceremony: Date, documents, today_or_step: Date,
                         wd: WorkingDays) -> list[Violation]:
    due = wd.add(ceremony, RECORDS_DAYS)
    records = [r for k, r in documents if k == "member_records"]
    if any(r <= due for r in records):
        return []
    if records or today_or_step > due:
        return [_v("member_records_late", due=_iso(due),
                   received=_iso(min(records)) if records else None)]
    return []


def check_step(state: CaseState, step: StepInput, today: Date,
               workdays: WorkingDays | None = None) -> list[Violation]:
    """Every rule that applies to `step` proposed on a file in `state` (blocking and warnings)."""
    wd = workdays or WorkingDays()
    out = rule_stage_order(state, step) + rule_date_order(state, step, today)
    documents = list(state.documents) + list(step.documents)
    # introducers recorded with this step: checked now (on their own introduction day)
    for intro in step.introducers:
        out += rule_introducer(state, intro, introduction_date(state, step, intro))
    stage = step.stage
    if stage == "certified":
        if step.certificate is not None and step.certificate.issued > step.date:
            out.append(_v("certificate_missing", issued=_iso(step.certificate.issued)))
        else:
            out += rule_certificate(state, step, expiry=False)
    elif stage == "branch_approved":
        out += rule_age(state, step, documents)
        out += rule_education(state)
        out += rule_certificate(state, step, expiry=True)
        out += rule_documents(step, documents, BRANCH_DOCUMENTS)
        intros = list(state.introducers) + list(step.introducers)
        dates = [introduction_date(state, step, i) for i in intros]
        out += rule_introducers_missing(state, intros, dates)
        for intro, day in zip(state.introducers, dates):
            out += rule_introducer(state, intro, day)
        out += rule_readmission(state, step)
        out += rule_vote(step.votes, "branch")
        if not step.resolution:
            out.append(_v("document_missing", kind="branch_resolution"))
        out += rule_vote_base(state, step.votes, step.date, "branch")
    elif stage == "committee_approved":
        out += rule_vote(step.votes, "committee")
        if not step.resolution:
            out.append(_v("document_missing", kind="committee_resolution"))
    elif stage == "admitted":
        if not step.decision:
            out.append(_v("document_missing", kind="decision"))
        vote = state.last("branch_approved")
        if vote is not None:
            extended = step.extension or any(s.extension for s in state.steps)
            due = wd.add(vote.date, DECISION_DAYS + (EXTENSION_DAYS if extended else 0))
            if step.date > due:
                out.append(_v("decision_late", due=_iso(due), date=_iso(step.date)))
    elif stage == "probationary":
        decision = state.last("admitted")
        if decision is not None:
            due = wd.add(decision.received or decision.date, CEREMONY_DAYS)
            if step.date > due:
                out.append(_v("ceremony_late", due=_iso(due), date=_iso(step.date)))
        records = [(k, r) for k, r in step.documents if k == "member_records"]
        if records:
            out += _member_records_late(state, step.date, records, step.date, wd)
    elif stage == "official":
        out += _official_rules(state, step, documents, wd)
    return out


def _official_rules(state: CaseState, step: StepInput, documents, wd: WorkingDays) -> list[Violation]:
    out: list[Violation] = []
    ceremony = state.last("probationary")
    if ceremony is None:
        return [_v("probation_not_complete", ceremony=None)]
    official_on = add_months(ceremony.date, PROBATION_MONTHS)
    branch = step.branch_resolution
    first_act = min(step.date, branch.date) if branch else step.date
    if first_act < official_on:
        out.append(_v("probation_not_complete", ceremony=_iso(ceremony.date), official_on=_iso(official_on),
                      date=_iso(first_act)))
    if not (any(k == "new_member_certificate" and r <= step.date for k, r in documents)
            or any(k == "new_member" and issued <= step.date for k, issued in state.certificates)):
        out.append(_v("new_member_class_missing"))
    if not step.decision:
        out.append(_v("document_missing", kind="decision"))
    if branch is None or not branch.number:
        out.append(_v("document_missing", kind="branch_resolution"))
    if branch is not None:
        out += rule_vote(branch.votes, "recognition_branch")
        out += rule_vote_base(state, branch.votes, branch.date, "recognition_branch")
    committee_day = branch.date if branch else step.date
    committee = step.committee_resolution
    if committee_applies(state, committee_day):
        if committee is None or not committee.number:
            out.append(_v("document_missing", kind="committee_resolution"))
        if committee is not None:
            out += rule_vote(committee.votes, "recognition_committee")
    elif committee is not None:
        out.append(_v("stage_order", **{"from": "probationary", "to": "official"}, committee=False))
    # deadlines: the branch reviews within 30 working days of the probation's end, the committee
    # decides within 30 of the branch's resolution
    if branch is not None:
        review_due = wd.add(official_on, REVIEW_DAYS)
        decide_due = wd.add(branch.date, RECOGNITION_DAYS)
        if branch.date > review_due:
            out.append(_v("recognition_late", due=_iso(review_due), date=_iso(branch.date), by="branch"))
        if step.date > decide_due:
            out.append(_v("recognition_late", due=_iso(decide_due), date=_iso(step.date), by="committee"))
    out += _member_records_late(state, ceremony.date, documents, step.date, wd)
    return out


def blocking(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if not v.warning]


# --- the case-file JSON step object -------------------------------------------------------------

def _date(value, field_name: str) -> Date | None:
    if value is None or isinstance(value, Date):
        return value
    try:
        return Date.fromisoformat(str(value))
    except ValueError:
        raise PipelineError("bad_value", field=field_name, value=value) from None


def _votes(value, field_name: str) -> Votes | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
            isinstance(value.get(k, 0), int) and not isinstance(value.get(k, 0), bool)
            for k in ("for", "convened", "excused")):
        raise PipelineError("bad_value", field=field_name, value=value)
    return Votes.of(value)


def _resolution(value, field_name: str) -> ResolutionInput | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or "date" not in value:
        raise PipelineError("bad_value", field=field_name, value=value)
    return ResolutionInput(value.get("number"), _date(value["date"], field_name + ".date"),
                           _votes(value.get("votes"), field_name + ".votes"))


def step_from_dict(data: Mapping, person_id=None) -> StepInput:
    """A StepInput from a step object of the case-file JSON (interfaces.md).

    `person_id(obj)` maps an introducer's or helper's object (with its `citizen_id`) to a
    person id of this database, or None; without a match a member introducer keeps its
    snapshot fields (`full_name`, `admitted_on`, `official_on`, `unit`). Bad values raise
    PipelineError("bad_value", field=...).
    """
    if not isinstance(data, Mapping) or data.get("stage") not in STAGES:
        raise PipelineError("bad_value", field="stage", value=(data or {}).get("stage")
                            if isinstance(data, Mapping) else data)
    lookup = person_id or (lambda obj: obj.get("person_id"))
    day = _date(data.get("date"), "date")
    if day is None:
        raise PipelineError("bad_value", field="date", value=None)
    cert = data.get("certificate")
    if cert is not None:
        if not isinstance(cert, Mapping) or not cert.get("number") or not cert.get("issuer"):
            raise PipelineError("bad_value", field="certificate", value=cert)
        cert = CertificateInput(str(cert["number"]), _date(cert.get("issued"), "certificate.issued") or day,
                                str(cert["issuer"]))
    documents = []
    for doc in data.get("documents") or ():
        if not isinstance(doc, Mapping) or not doc.get("kind"):
            raise PipelineError("bad_value", field="documents", value=doc)
        documents.append((str(doc["kind"]), _date(doc.get("received"), "documents.received") or day))
    introducers = []
    for obj in data.get("introducers") or ():
        if not isinstance(obj, Mapping) or obj.get("kind") not in ("member", "youth_union", "trade_union"):
            raise PipelineError("bad_value", field="introducers", value=obj)
        pid = lookup(obj) if obj["kind"] == "member" else None
        snapshot = None
        if obj["kind"] == "member" and pid is None:
            snapshot = {k: obj[k] for k in ("full_name", "admitted_on", "official_on", "unit", "citizen_id")
                        if obj.get(k) is not None}
        elif obj["kind"] != "member" and obj.get("body"):
            snapshot = {"body": obj["body"]}
        introducers.append(IntroducerInput(
            obj["kind"], pid, snapshot, obj.get("resolution"), _date(obj.get("date"), "introducers.date"),
            _date(obj.get("together_since"), "introducers.together_since"), bool(obj.get("replacement"))))
    helper = data.get("helper")
    if isinstance(helper, Mapping):
        helper = lookup(helper) or {k: v for k, v in helper.items() if v is not None}
    return StepInput(
        stage=data["stage"], date=day, certificate=cert, documents=tuple(documents),
        introducers=tuple(introducers), resolution=data.get("resolution"),
        votes=_votes(data.get("votes"), "votes"), decision=data.get("decision"),
        received=_date(data.get("received"), "received") or (day if data["stage"] == "admitted" else None),
        extension=bool(data.get("extension")), helper=helper,
        branch_resolution=_resolution(data.get("branch_resolution"), "branch_resolution"),
        committee_resolution=_resolution(data.get("committee_resolution"), "committee_resolution"),
        class_id=data.get("class_id"), recommended_by=data.get("recommended_by"))


# --- reading the state ----------------------------------------------------------------------

class UnitTree:
    """The unit rows and parent history a check needs: a file's branch and the units above it,
    each read when first asked for (a province has tens of thousands of units, and a file's
    check reads five), and every unit at once (two queries) for a caller that asks for many."""

    ASKED_MAX = 200  # units read one by one, before the rest are read at once

    def __init__(self):
        self.units: dict[int, tuple] = {}  # id -> (org_type, mountain, parent)
        self.links: dict[int, list[tuple]] = {}
        self._whole = False

    def _read_all(self) -> None:
        U, L = models.Unit, models.UnitLink
        self.units = {uid: (org_type, mountain, parent) for uid, org_type, mountain, parent in
                      U.select(U.id, U.org_type, U.mountain, U.parent).tuples()}
        self.links = {}
        for unit, parent, start, end in L.select(L.unit, L.parent, L.start, L.end).tuples():
            self.links.setdefault(unit, []).append((parent, start, end))
        self._whole = True

    def _unit(self, unit_id: int) -> tuple:
        row = self.units.get(unit_id)
        if row is None and not self._whole:
            if len(self.units) >= self.ASKED_MAX:
                self._read_all()
            else:
                U, L = models.Unit, models.UnitLink
                found = U.select(U.org_type, U.mountain, U.parent).where(U.id == unit_id).tuples().first()
                if found is not None:
                    self.units[unit_id] = found
                    links = list(L.select(L.parent, L.start, L.end).where(L.unit == unit_id)
                                 .order_by(L.id).tuples())
                    if links:
                        self.links[unit_id] = links
            row = self.units.get(unit_id)
        if row is None:
            raise KeyError(unit_id)
        return row

    def parent_on(self, unit_id: int, day: Date) -> int | None:
        row = self._unit(unit_id)
        links = self.links.get(unit_id)
        if not links:
            return row[2]
        for parent, start, end in links:
            if start <= day and (end is None or end > day):
                return parent
        return None

    def in_grassroots_committee(self, branch_id: int, day: Date) -> bool:
        """The branch sits inside a grassroots committee on `day` (parent history)."""
        unit_id, seen = self.parent_on(branch_id, day), set()
        while unit_id is not None and unit_id not in seen:
            seen.add(unit_id)
            org_type = self._unit(unit_id)[0]
            if org_type == "grassroots_committee":
                return True
            if org_type == "committee":
                return False
            unit_id = self.parent_on(unit_id, day)
        return False

    def mountain(self, unit_id: int | None) -> bool:
        """The unit or one above it (current parents) is marked mountain/ethnic-minority."""
        seen = set()
        while unit_id is not None and unit_id not in seen:
            seen.add(unit_id)
            _org, mountain, parent = self._unit(unit_id)
            if mountain:
                return True
            unit_id = parent
        return False


def in_grassroots_committee(branch_id: int, day: Date) -> bool:
    return UnitTree().in_grassroots_committee(branch_id, day)


def official_members(unit_id: int, day: Date) -> int:
    """Official members with an affiliation in the unit on `day`."""
    A, M = models.Affiliation, models.Membership
    return (A.select(A.person).distinct()
            .join(M, on=(M.person == A.person))
            .where((A.unit == unit_id) & (A.start <= day) & (A.end.is_null() | (A.end > day))
                   & M.official_on.is_null(False) & (M.official_on <= day)
                   & (M.ended_on.is_null() | (M.ended_on > day)))
            .count())


def member_facts(person_ids) -> dict[int, MemberFacts]:
    """Memberships and affiliations of the people, by person id (two queries)."""
    M, A = models.Membership, models.Affiliation
    ids = list(set(person_ids))
    ms: dict[int, list] = {pid: [] for pid in ids}
    affs: dict[int, list] = {pid: [] for pid in ids}
    if ids:
        for pid, *row in M.select(M.person, M.ceremony_on, M.official_on, M.ended_on).where(
                M.person.in_(ids)).tuples():
            ms[pid].append(tuple(row))
        for pid, *row in A.select(A.person, A.unit, A.start, A.end).where(
                A.person.in_(ids)).order_by(A.start).tuples():
            affs[pid].append(tuple(row))
    P = models.Person
    names = dict(P.select(P.id, P.full_name).where(P.id.in_(ids)).tuples()) if ids else {}
    return {pid: MemberFacts(tuple(ms[pid]), tuple(affs[pid]), names.get(pid)) for pid in ids}


def _setting_int(key: str, default: int) -> int:
    row = models.Setting.get_or_none(models.Setting.key == key)
    try:
        return int(row.value) if row else default
    except ValueError:
        return default


def youth_age_limit() -> int:
    """The age up to which a Youth Union member may be introduced by the Youth Union (the
    `youth_age_limit` setting, else the rule's default), as read_state reads it."""
    return _setting_int("youth_age_limit", YOUTH_AGE_LIMIT)


def _stored_introducer(row: models.Introducer) -> IntroducerInput:
    return IntroducerInput(row.kind, row.person_id, json.loads(row.snapshot) if row.snapshot else None,
                           row.resolution, row.date, row.together_since, row.replacement)


def read_state(case_id: int, step: StepInput | None = None, *, before_seq: int | None = None,
               tree: "UnitTree | None" = None) -> CaseState:
    """The file's state as plain data (live steps; with `before_seq`, only those before it).

    Vote-day facts (official members, committee membership) are read for every live step's
    date and for the dates of `step`, so slices of the state (replays) need no further reads.
    A caller reading many files may pass one `UnitTree` (the unit rows) for all of them.
    """
    case = models.CaseFile.get_by_id(case_id)
    person = case.person
    S = models.Step
    rows = list(S.select().where((S.case == case_id) & S.undone_at.is_null()).order_by(S.seq))
    if before_seq is not None:
        rows = [r for r in rows if r.seq < before_seq]
    steps = tuple(StepRecord(r.seq, r.stage, r.date, r.received, r.extension) for r in rows)
    stage = steps[-1].stage if steps else case.stage
    documents = tuple(models.Document.select(models.Document.kind, models.Document.received)
                      .where(models.Document.case == case_id).tuples())
    C = models.Certificate
    certificates = tuple(C.select(C.kind, C.issued).where(C.person == person.id).tuples())
    introducers = tuple(_stored_introducer(i) for i in
                        models.Introducer.select().where(models.Introducer.case == case_id)
                        .order_by(models.Introducer.id))
    # the days on which votes were or are held: the branch vote, the resolutions
    days = {s.date for s in steps if s.stage in ("branch_approved", "committee_approved")}
    if step is not None:
        days.add(step.date)
        for res in (step.branch_resolution, step.committee_resolution):
            if res is not None:
                days.add(res.date)
    R = models.Resolution
    voting = [r.id for r in rows if r.stage == "official"]
    for (day,) in (R.select(R.date).where(R.step.in_(voting)).tuples() if voting else []):
        days.add(day)
    wanted = {i.person_id for i in introducers if i.person_id is not None}
    if step is not None:
        wanted |= {i.person_id for i in step.introducers if i.person_id is not None}
    M = models.Membership
    earlier = tuple(M.select(M.admitted_on, M.ended_on)
                    .where((M.person == person.id) & (M.case.is_null() | (M.case != case_id))).tuples())
    facts = member_facts(wanted | {person.id})
    tree = tree or UnitTree()
    return CaseState(
        case_id=case_id, branch_id=case.branch_id, stage=stage, status=case.status,
        on_hold=case.on_hold, readmission=case.readmission, steps=steps, documents=documents,
        certificates=certificates, introducers=introducers, born=person.born,
        education=person.education, youth_union=person.youth_union, trade_union=person.trade_union,
        mountain=tree.mountain(case.branch_id),
        committee_on={d: tree.in_grassroots_committee(case.branch_id, d) for d in days},
        official_members_on={d: official_members(case.branch_id, d) for d in days},
        candidate=facts[person.id], members={pid: facts[pid] for pid in wanted},
        earlier_memberships=earlier,
        youth_age_limit=youth_age_limit())


def stored_steps(case_id: int) -> list[tuple[int, StepInput]]:
    """The file's live steps as (seq, StepInput): the data each step recorded in its own row.

    Documents, introducers and certificates are recorded on the file and the person, not on a
    step, so they are not repeated here (the state carries them).
    """
    S, R = models.Step, models.Resolution
    out = []
    rows = list(S.select().where((S.case == case_id) & S.undone_at.is_null()).order_by(S.seq))
    by_step: dict[int, dict] = {row.id: {} for row in rows}
    for r in R.select().where(R.step.in_(list(by_step))).order_by(R.id) if rows else ():
        by_step[r.step_id][r.kind] = r
    for row in rows:
        details = json.loads(row.details or "{}")
        res = by_step[row.id]

        def resolution(kind):
            r = res.get(kind)
            return None if r is None else ResolutionInput(
                r.number, r.date, Votes(r.votes_for, r.votes_convened, r.votes_excused)
                if r.votes_convened is not None else None)

        own = resolution("branch_resolution" if row.stage == "branch_approved" else "committee_resolution")
        out.append((row.seq, StepInput(
            stage=row.stage, date=row.date, received=row.received, extension=row.extension,
            resolution=own.number if own and row.stage in ("branch_approved", "committee_approved") else None,
            votes=own.votes if own and row.stage in ("branch_approved", "committee_approved") else None,
            decision=res["decision"].number if "decision" in res else None,
            helper=details.get("helper_person_id"), class_id=details.get("class_id"),
            recommended_by=details.get("recommended_by"),
            branch_resolution=resolution("branch_resolution") if row.stage == "official" else None,
            committee_resolution=resolution("committee_resolution") if row.stage == "official" else None)))
    return out


# --- writing ---------------------------------------------------------------------------------

def writable_case(actor: Actor, case_id: int, today: Date,
                  expected_version: int | None = None) -> models.CaseFile:
    """The file, if `actor` may change it. The one place write permission is decided.

    For now: a viewer may not write (`forbidden`); every other role may write within its scope
    (the file's branch in the subtree of the account's unit); a file outside it is `not_found`.

    `expected_version`: the version of the file the user saw before deciding (None: the caller
    does not know it, e.g. a script). When the file has changed since, CaseChanged is raised.
    Called inside the write transaction, which holds the write lock: nobody can change the
    file between this check and the commit.
    """
    refuse_readonly(actor)
    if actor.role == "viewer":
        raise AccessError("forbidden", role=actor.role)
    case = models.CaseFile.get_or_none(models.CaseFile.id == case_id)
    if case is None:
        raise NotFound(case_id)
    root = scope_root(actor)
    if root is not None and case.branch_id not in subtree_ids(actor, root, today):
        raise NotFound(case_id)
    if expected_version is not None and case.version != expected_version:
        raise CaseChanged(case_id, expected_version, case.version,
                          changes_since(case_id, expected_version))
    return case


def changes_since(case_id: int, version: int, *, limit: int = 10) -> list[dict]:
    """The recorded changes that took the file past `version`, oldest first (at most `limit`,
    the latest ones): when, by which account, what (the audit action) and the stage before and
    after. Read from the audit trail, newest first, until an entry at or below `version`."""
    from peewee import JOIN

    E, A = models.AuditEntry, models.Account
    found: list[dict] = []
    query = (E.select(E.at, E.action, E.before, E.after, A.name)
             .join(A, JOIN.LEFT_OUTER, on=(E.account == A.id))
             .where((E.entity == "case_file") & (E.entity_id == case_id))
             .order_by(E.id.desc()).limit(200))
    for entry in query.objects():
        after = json.loads(entry.after) if entry.after else {}
        before = json.loads(entry.before) if entry.before else {}
        if not isinstance(after, dict) or "version" not in after:
            continue  # a note or a view: the file itself did not change
        if after["version"] <= version:
            break
        found.append({"at": str(entry.at)[:16], "account": entry.name, "action": entry.action,
                      "stage_before": (before or {}).get("stage"), "stage_after": after.get("stage")})
        if len(found) >= limit:
            break
    return found[::-1]


def _snapshot(case: models.CaseFile) -> dict:
    return {"stage": case.stage, "status": case.status, "version": case.version,
            "on_hold": case.on_hold, "outcome": case.outcome}


def _require_reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise PipelineError("reason_required")
    return reason.strip()


def _today(today: Date | None) -> Date:
    if today is not None:
        return today
    from db.connection import resolve_today

    return resolve_today(None).date


def check(actor: Actor, case_id: int, step: StepInput, today: Date) -> list[Violation]:
    """The violations (blocking and warnings) `step` would meet on the file now. Writes nothing."""
    case = models.CaseFile.get_or_none(models.CaseFile.id == case_id)
    root = scope_root(actor)
    if case is None or (root is not None and case.branch_id not in subtree_ids(actor, root, today)):
        raise NotFound(case_id)
    return check_step(read_state(case_id, step), step, today)


def _acting_unit(branch_id: int, stage: str, day: Date) -> int:
    """The unit that acts at a stage: the branch; its grassroots committee for the committee
    vote; the committee that decides admissions for the decisions."""
    if stage not in ("committee_approved", "admitted", "official"):
        return branch_id
    parent_id = UnitTree().parent_on(branch_id, day)
    parent = models.Unit.get_by_id(parent_id) if parent_id else None
    committee = parent if parent is not None and parent.org_type == "grassroots_committee" else None
    if stage == "committee_approved":
        return committee.id if committee else branch_id
    grassroots = committee or models.Unit.get_by_id(branch_id)
    return grassroots.decides_admissions_id or grassroots.id


def _votes_columns(votes: Votes | None) -> dict:
    if votes is None:
        return {}
    return {"votes_for": votes.for_, "votes_convened": votes.convened, "votes_excused": votes.excused or 0}


def apply(actor: Actor, case_id: int, step: StepInput, today: Date, *,
          override_reason: str | None = None, expected_version: int | None = None):
    """Record `step` on the file, in one transaction; returns the file's `db.cases.CaseView`.

    Raises StepRefused with every violation when a rule fails, or when warnings remain and no
    override reason is given (`needs_override`); AccessError("forbidden") when a reason is given
    by a role that may not override (only admin and organiser may); CaseChanged when the file is
    no longer at `expected_version`.
    """
    from db.cases import case_view

    with write_transaction():
        case = writable_case(actor, case_id, today, expected_version)
        state = read_state(case_id, step)
        violations = check_step(state, step, today)
        if blocking(violations):
            raise StepRefused(violations)
        warnings = [v for v in violations if v.warning]
        reason = override_reason.strip() if override_reason else None
        if warnings and not reason:
            raise StepRefused(violations)  # needs_override: the caller asks for a reason
        if warnings and actor.role not in OVERRIDE_ROLES:
            raise AccessError("forbidden", action="override", role=actor.role,
                              codes=[v.code for v in warnings])
        record_step(actor, case, state, step, warnings=[v.code for v in warnings], reason=reason)
    return case_view(actor, case_id, today, log=False)


def record_step(actor: Actor, case: models.CaseFile, state: CaseState, step: StepInput, *,
                warnings: list[str], reason: str | None, unverified: list[dict] | None = None) -> int:
    """Write a step that was checked: the step, its resolutions, documents, introducers, helper,
    certificate and membership, the file's new stage, the override (when `warnings`) and the
    audit entry. Inside the caller's transaction. `unverified` (a legacy import) names the details
    the step lacks; the file is then marked legacy. Returns the step's seq."""
    case_id = case.id
    before = _snapshot(case)
    S = models.Step
    seq = (S.select(S.seq).where(S.case == case_id).order_by(S.seq.desc()).scalar() or 0) + 1
    details: dict = {"unverified": unverified} if unverified is not None else {}
    if step.recommended_by:
        details["recommended_by"] = step.recommended_by
    if step.class_id is not None:
        details["class_id"] = step.class_id
    if step.certificate is not None:
        details["certificate_id"] = _certificate(case.person_id, step.certificate)
    if step.helper is not None:
        if isinstance(step.helper, Mapping):
            details["helper_snapshot"] = dict(step.helper)
        else:
            details["helper_person_id"] = step.helper
    ceremony = state.last("probationary")
    if step.stage == "official" and ceremony is not None:
        details["official_on"] = add_months(ceremony.date, PROBATION_MONTHS).isoformat()
    row = S.create(case=case_id, seq=seq, stage=step.stage, date=step.date,
                   unit=_acting_unit(case.branch_id, step.stage, step.date),
                   received=step.received if step.stage == "admitted" else None,
                   extension=step.extension,
                   details=json.dumps(details, ensure_ascii=False) if details else None,
                   entered_by=actor.account_id)
    _write_resolutions(row, step)
    for kind, received in step.documents:
        models.Document.create(case=case_id, kind=kind, received=received)
    for intro in step.introducers:
        models.Introducer.create(
            case=case_id, kind=intro.kind, person=intro.person_id, resolution=intro.resolution,
            date=introduction_date(state, step, intro), together_since=intro.together_since,
            replacement=intro.replacement,
            snapshot=json.dumps(dict(intro.snapshot), ensure_ascii=False, default=str)
            if intro.snapshot else None)
    if step.helper is not None:
        models.Helper.create(
            case=case_id, person=None if isinstance(step.helper, Mapping) else step.helper,
            since=step.date, snapshot=json.dumps(dict(step.helper), ensure_ascii=False, default=str)
            if isinstance(step.helper, Mapping) else None)
    if step.stage != "official" or ceremony is not None:
        _membership(case, state, step)
    case.stage = step.stage
    if unverified is not None:
        case.legacy = True
    case.version += 1
    case.save()
    if warnings:
        models.CaseEvent.create(
            case=case_id, kind="override", date=step.date, reason=reason,
            details=json.dumps({"seq": seq, "codes": sorted(set(warnings))}),
            entered_by=actor.account_id)
    after = {**_snapshot(case), "seq": seq, "step": dataclasses.asdict(step),
             "override": {"reason": reason, "codes": warnings} if warnings else None}
    if unverified is not None:
        after["unverified"] = unverified
    audit.record(actor, "step", "case_file", case_id, before, after, case.branch_id)
    return seq


def _certificate(person_id: int, cert: CertificateInput) -> int:
    C = models.Certificate
    existing = C.get_or_none((C.kind == "awareness") & (C.issuer == cert.issuer) & (C.number == cert.number))
    if existing is not None:
        if existing.person_id != person_id or existing.issued != cert.issued:
            raise PipelineError("bad_value", field="certificate", number=cert.number)
        return existing.id
    return C.create(person=person_id, kind="awareness", number=cert.number, issued=cert.issued,
                    issuer=cert.issuer).id


def _write_resolutions(row: models.Step, step: StepInput) -> None:
    R = models.Resolution
    if step.stage in ("branch_approved", "committee_approved"):
        kind = "branch_resolution" if step.stage == "branch_approved" else "committee_resolution"
        R.create(step=row, kind=kind, number=step.resolution, date=step.date, **_votes_columns(step.votes))
    elif step.stage == "admitted":
        R.create(step=row, kind="decision", number=step.decision, date=step.date)
    elif step.stage == "official":
        for kind in ("branch_resolution", "committee_resolution"):
            res = getattr(step, kind)
            if res is not None:
                R.create(step=row, kind=kind, number=res.number, date=res.date, **_votes_columns(res.votes))
        R.create(step=row, kind="decision", number=step.decision, date=step.date)


def _membership(case: models.CaseFile, state: CaseState, step: StepInput) -> None:
    M = models.Membership
    if step.stage == "probationary":
        decision = state.last("admitted")
        if decision is None:  # a legacy file at `admitted` without its decision's step row
            raise PipelineError("missing_step", stage="admitted")
        M.create(person=case.person_id, case=case.id, admitted_on=decision.date, ceremony_on=step.date)
    elif step.stage == "official":
        ceremony = state.last("probationary").date
        (M.update(official_on=add_months(ceremony, PROBATION_MONTHS))
         .where((M.case == case.id) & M.ended_on.is_null()).execute())


def record_failed_vote(actor: Actor, case_id: int, date: Date, votes, today: Date, *,
                       reason: str, resolution: str | None = None,
                       expected_version: int | None = None):
    """A branch vote that did not reach two thirds: a `vote_failed` event; the file stays in
    `dossier`. Refused (StepRefused) when the file is not at `dossier` or the date is out of
    order; `bad_value` when the votes did pass (record the step instead)."""
    from db.cases import case_view

    votes = Votes.of(votes)
    reason = _require_reason(reason)
    with write_transaction():
        case = writable_case(actor, case_id, today, expected_version)
        state = read_state(case_id)
        refused = []
        if case.status == "closed" or state.stage != "dossier":
            refused.append(_v("stage_order", **{"from": state.stage, "to": "vote_failed"}))
        refused += rule_date_order(state, StepInput("branch_approved", date), today)
        if refused:
            raise StepRefused(refused)
        if not _votes_valid(votes) or votes_pass(votes):
            raise PipelineError("bad_value", field="votes")
        before = _snapshot(case)
        details = {"votes": {"for": votes.for_, "convened": votes.convened, "excused": votes.excused or 0}}
        if resolution:
            details["resolution"] = resolution
        event = models.CaseEvent.create(case=case_id, kind="vote_failed", date=date, reason=reason,
                                        details=json.dumps(details, ensure_ascii=False),
                                        entered_by=actor.account_id)
        case.version += 1
        case.save()
        audit.record(actor, "vote_failed", "case_file", case_id, before,
                     {**_snapshot(case), "event": event.id, **details}, case.branch_id)
    return case_view(actor, case_id, today, log=False)


def undo_last(actor: Actor, case_id: int, reason: str, today: Date, *,
              expected_version: int | None = None):
    """Mark the last live step undone with `reason`; the file goes back to the stage before.

    Undoing the ceremony removes the membership it created; undoing recognition clears the
    official date. Documents, introducers and certificates recorded with the step stay: they
    were received, whatever the step.
    """
    from db.cases import case_view

    reason = _require_reason(reason)
    with write_transaction():
        case = writable_case(actor, case_id, today, expected_version)
        if case.status == "closed":
            raise PipelineError("closed")
        S = models.Step
        live = list(S.select().where((S.case == case_id) & S.undone_at.is_null()).order_by(S.seq))
        if len(live) < 2:
            raise PipelineError("nothing_to_undo")
        last = live[-1]
        before = _snapshot(case)
        last.undone_at = models._now()
        last.undo_reason = reason
        last.save()
        M = models.Membership
        if last.stage == "probationary":
            gone = list(M.select().where(M.case == case_id))
            for m in gone:
                m.delete_instance()
        elif last.stage == "official":
            M.update(official_on=None).where(M.case == case_id).execute()
        case.stage = live[-2].stage
        case.version += 1
        case.save()
        models.CaseEvent.create(case=case_id, kind="undo", date=today, reason=reason,
                                details=json.dumps({"seq": last.seq, "stage": last.stage}),
                                entered_by=actor.account_id)
        audit.record(actor, "undo", "case_file", case_id, before,
                     {**_snapshot(case), "seq": last.seq, "undone_stage": last.stage, "reason": reason},
                     case.branch_id)
    return case_view(actor, case_id, today, log=False)


_MEMBERSHIP_ENDS = {"struck_off": "struck_off", "deceased": "deceased",
                    "decision_cancelled": "decision_cancelled"}


def close(actor: Actor, case_id: int, outcome: str, date: Date, reason: str, *,
          today: Date | None = None, expected_version: int | None = None):
    """Close an open file with `outcome` (withdrawn, rejected, moved, deceased from any open
    stage; struck_off from probationary; decision_cancelled once a decision exists)."""
    from db.cases import case_view

    reason = _require_reason(reason)
    today = _today(today)
    if outcome not in OUTCOMES:
        raise PipelineError("bad_value", field="outcome", value=outcome)
    with write_transaction():
        case = writable_case(actor, case_id, today, expected_version)
        state = read_state(case_id)
        refused = []
        if case.status == "closed" or case.stage == "official":
            refused.append(_v("stage_order", **{"from": case.stage, "to": outcome, "status": case.status}))
        elif outcome == "struck_off" and case.stage != "probationary":
            refused.append(_v("stage_order", **{"from": case.stage, "to": outcome}))
        elif outcome == "decision_cancelled" and case.stage not in DECISION_STAGES:
            refused.append(_v("stage_order", **{"from": case.stage, "to": outcome}))
        refused += rule_date_order(state, StepInput(outcome, date), today)
        if refused:
            raise StepRefused(refused)
        before = _snapshot(case)
        ended = []
        if outcome in _MEMBERSHIP_ENDS:
            M = models.Membership
            ended = [m.id for m in M.select().where((M.case == case_id) & M.ended_on.is_null())]
            if ended:
                M.update(ended_on=date, end_reason=_MEMBERSHIP_ENDS[outcome]).where(M.id.in_(ended)).execute()
        case.status, case.outcome, case.closed_on, case.close_reason = "closed", outcome, date, reason
        case.version += 1
        case.save()
        models.CaseEvent.create(case=case_id, kind="close", date=date, reason=reason,
                                details=json.dumps({"outcome": outcome, "memberships_ended": ended}),
                                entered_by=actor.account_id)
        audit.record(actor, "close", "case_file", case_id, before,
                     {**_snapshot(case), "reason": reason, "memberships_ended": ended}, case.branch_id)
    return case_view(actor, case_id, today, log=False)


def reopen(actor: Actor, case_id: int, reason: str, *, today: Date | None = None,
           expected_version: int | None = None):
    """Reopen a closed file at the stage it had; a membership the closing ended is restored."""
    from db.cases import case_view

    reason = _require_reason(reason)
    today = _today(today)
    with write_transaction():
        case = writable_case(actor, case_id, today, expected_version)
        if case.status != "closed":
            raise PipelineError("not_closed")
        before = _snapshot(case)
        E = models.CaseEvent
        last_close = (E.select().where((E.case == case_id) & (E.kind == "close"))
                      .order_by(E.id.desc()).first())
        ended = json.loads(last_close.details or "{}").get("memberships_ended", []) if last_close else []
        if ended:
            M = models.Membership
            M.update(ended_on=None, end_reason=None).where(M.id.in_(ended)).execute()
        case.status, case.outcome, case.closed_on, case.close_reason = "open", None, None, None
        case.version += 1
        case.save()
        E.create(case=case_id, kind="reopen", date=today, reason=reason,
                 details=json.dumps({"outcome": before["outcome"]}), entered_by=actor.account_id)
        audit.record(actor, "reopen", "case_file", case_id, before, {**_snapshot(case), "reason": reason},
                     case.branch_id)
    return case_view(actor, case_id, today, log=False)


def hold(actor: Actor, case_id: int, reason: str, *, today: Date | None = None,
         expected_version: int | None = None):
    """Put an open file on hold (a flag with a reason; the legal clocks keep running)."""
    return _set_hold(actor, case_id, True, _require_reason(reason), _today(today), expected_version)


def release(actor: Actor, case_id: int, *, today: Date | None = None,
            expected_version: int | None = None):
    return _set_hold(actor, case_id, False, None, _today(today), expected_version)


def _set_hold(actor: Actor, case_id: int, on: bool, reason: str | None, today: Date,
              expected_version: int | None = None):
    from db.cases import case_view

    with write_transaction():
        case = writable_case(actor, case_id, today, expected_version)
        if case.status == "closed" or case.stage == "official":
            raise PipelineError("closed")
        if case.on_hold == on:
            raise PipelineError("already_on_hold" if on else "not_on_hold")
        before = _snapshot(case)
        case.on_hold, case.hold_reason = on, reason
        case.version += 1
        case.save()
        models.CaseEvent.create(case=case_id, kind="hold" if on else "release", date=today, reason=reason,
                                entered_by=actor.account_id)
        audit.record(actor, "hold" if on else "release", "case_file", case_id, before,
                     {**_snapshot(case), "reason": reason}, case.branch_id)
    return case_view(actor, case_id, today, log=False)


def add_note(actor: Actor, case_id: int, text: str, *, today: Date | None = None) -> None:
    """A free-text note on the file (any state, closed too): a CaseEvent of kind "note" with the
    day, the text and who wrote it. The file itself does not change."""
    from db.text import clean

    note = (clean(text, multiline=True) or "").strip()
    if not note:
        raise PipelineError("reason_required")
    day = _today(today)
    with write_transaction():
        case = writable_case(actor, case_id, day)
        event = models.CaseEvent.create(case=case_id, kind="note", date=day, reason=note,
                                        entered_by=actor.account_id)
        audit.record(actor, "note", "case_file", case_id, None,
                     {"event": event.id, "date": day, "text": note}, case.branch_id)


# --- opening a file -------------------------------------------------------------------------

SEXES = ("F", "M")
CITIZEN_ID_DIGITS = 12
_PERSON_TEXT = ("full_name", "other_name", "ethnicity", "religion", "home_town", "residence",
                "education", "occupation", "workplace")


def _person_fields(person: Mapping, today: Date) -> dict:
    """The person's data, cleaned and checked; PipelineError(code, field=...) on the first fault."""
    from db.text import clean

    out: dict = {}
    for name in _PERSON_TEXT:
        value = clean(person.get(name)) if person.get(name) is not None else None
        out[name] = value or None
    if not out["full_name"]:
        raise PipelineError("missing_value", field="full_name")
    sex = (clean(person.get("sex")) or "").upper() or None
    if sex not in SEXES:
        raise PipelineError("bad_value", field="sex", value=person.get("sex"))
    out["sex"] = sex
    born = person.get("born")
    if born is None:
        raise PipelineError("missing_value", field="born")
    if isinstance(born, str):
        from db.connection import parse_date

        try:
            born = parse_date(born)
        except ValueError:
            raise PipelineError("bad_value", field="born", value=person.get("born")) from None
    if not isinstance(born, Date):
        raise PipelineError("bad_value", field="born", value=born)
    if born > today:
        raise PipelineError("date_in_future", field="born", date=born.isoformat(), today=today.isoformat())
    out["born"] = born
    citizen_id = clean(person.get("citizen_id")) or None
    if citizen_id is not None:
        citizen_id = citizen_id.replace(" ", "")
        if len(citizen_id) != CITIZEN_ID_DIGITS or not citizen_id.isdigit():
            raise PipelineError("bad_value", field="citizen_id", value=citizen_id)
    out["citizen_id"] = citizen_id
    phone = clean(person.get("phone")) or None
    if phone is not None:
        phone = phone.replace(" ", "").replace(".", "")
        if not (phone.isdigit() and 10 <= len(phone) <= 11 and phone.startswith("0")):
            raise PipelineError("bad_value", field="phone", value=phone)
    out["phone"] = phone
    out["youth_union"] = bool(person.get("youth_union"))
    out["trade_union"] = bool(person.get("trade_union"))
    return out


def open_case(actor: Actor, branch_id: int, person: Mapping, today: Date, *,
              identified_on: Date | None = None, recommended_by: str | None = None) -> int:
    """A new person's file at `identified`, in one transaction; returns the new file's id.

    `person` holds full_name, sex (F/M), born (a date or dd/mm/yyyy) and optionally other_name,
    citizen_id (12 digits, unique), phone (10-11 digits from 0), ethnicity, education,
    youth_union, trade_union... Refused with PipelineError: missing_value, bad_value,
    date_in_future, duplicate_citizen_id, open_file_exists; NotFound when the branch is not a
    live branch in the actor's scope; AccessError("forbidden") for a viewer.
    """
    from db.text import clean, fold, name_sort_key

    if actor.role == "viewer":
        raise AccessError("forbidden", role=actor.role)
    fields = _person_fields(person, today)
    day = identified_on or today
    if day > today:
        raise PipelineError("date_in_future", field="date", date=day.isoformat(), today=today.isoformat())
    if day < fields["born"]:
        raise PipelineError("bad_value", field="date", value=day.isoformat())
    recommended_by = clean(recommended_by) or None
    with write_transaction():
        unit = models.Unit.get_or_none(models.Unit.id == branch_id)
        root = scope_root(actor)
        if (unit is None or unit.org_type not in ("branch", "grassroots_branch")
                or not subtree_ids(actor, branch_id, today)
                or (root is not None and branch_id not in subtree_ids(actor, root, today))):
            raise NotFound(branch_id)
        P = models.Person
        if fields["citizen_id"] is not None:
            other = P.get_or_none(P.citizen_id == fields["citizen_id"])
            if other is not None:
                C = models.CaseFile
                if C.select().where((C.person == other.id) & (C.status == "open")).exists():
                    raise PipelineError("open_file_exists", citizen_id=fields["citizen_id"])
                raise PipelineError("duplicate_citizen_id", citizen_id=fields["citizen_id"])
        row = P.create(**fields, name_folded=fold(fields["full_name"]),
                       sort_key=name_sort_key(fields["full_name"]),
                       other_folded=fold(fields["other_name"]) if fields["other_name"] else None,
                       branch=branch_id)
        models.Affiliation.create(person=row.id, unit=branch_id, start=day)
        case = models.CaseFile.create(person=row.id, branch=branch_id, stage="identified",
                                      recommended_by=recommended_by)
        details = {"recommended_by": recommended_by} if recommended_by else None
        models.Step.create(case=case.id, seq=1, stage="identified", date=day, unit=branch_id,
                           details=json.dumps(details, ensure_ascii=False) if details else None,
                           entered_by=actor.account_id)
        audit.record(actor, "open", "case_file", case.id, None,
                     {**_snapshot(case), "person": {**fields, "id": row.id}, "date": day},
                     branch_id)
    return case.id


def similar_people(actor: Actor, full_name: str, born: Date | None) -> list[tuple[int, str, Date | None, str | None]]:
    """People the actor may see with the same name (diacritics and case aside) and the same date
    of birth: (person id, full name, born, branch name), for the "already on record?" warning."""
    from peewee import JOIN

    from db.text import fold

    folded = fold(full_name)
    if not folded or born is None:
        return []
    P, U = models.Person, models.Unit
    query = (P.select(P.id, P.full_name, P.born, P.branch, U.name.alias("branch_name"))
             .join(U, JOIN.LEFT_OUTER, on=(P.branch == U.id))
             .where((P.name_folded == folded) & (P.born == born)).order_by(P.id))
    root = scope_root(actor)
    allowed = set(subtree_ids(actor, root, _today(None))) if root is not None else None
    return [(row["id"], row["full_name"], row["born"], row["branch_name"]) for row in query.dicts()
            if allowed is None or row["branch"] in allowed]
