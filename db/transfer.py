"""Case files in and out: the `ketnap-case/1` JSON form (interfaces.md, "Case file (JSON)").

- `export_case` / `export_cases` write a file as the receiving unit needs it: the person, the
  branch's code, every live step with its own data, the documents and introducers placed on the
  step during which they were received, member introducers and the helper with a snapshot
  (citizen ID, name, admission and official dates, unit) so that another database can check
  them, and the outcome of a closed file.
- `import_cases` reads such documents into this database. Each file is replayed step by step
  through the pipeline's pure rules (`pipeline.check_step`) as if the earlier steps were saved,
  so that every violation of every step is listed, not just the first. Only a file with no
  blocking violation is written, in one transaction: a new candidate's person and file through
  `pipeline.open_case` (as `ketnap case new`), then each step through `pipeline.apply` (the same
  writes as the application), with the reason "import" for the warnings; the outcome through
  `pipeline.close`. `apply` and `close` open their own
  transaction, which inside the outer one is a savepoint, so a failure anywhere rolls the whole
  file back.

Choices:
- a file is matched to one already here (same person, same branch) when its live steps are a
  prefix of the document's: equal steps and outcome are `unchanged`, more steps or a new outcome
  `updated` (the missing part is replayed and written); a person with another open file is
  refused (`case_open`);
- an existing person's recorded details are kept (the people import updates them);
- `legacy`: a step whose details are missing (votes, resolution or decision numbers, the
  awareness certificate, the birth date or education) is recorded without the rules those
  details feed; `Step.details["unverified"]` names the missing fields and the rules, the file is
  marked `legacy`. `apply` cannot record such a step (its rules refuse it), so those steps are
  written by `_record_unverified`, which makes the same rows with the pipeline's own helpers. A
  legacy file may start after `identified`: it is opened at the stage before its first step;
- class ids and undone steps are not exported: they mean nothing to another database.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from db import audit, models, pipeline
from db.access import AccessError, Actor, NotFound, may_see_background, may_write, scope_root
from db.connection import get_setting, resolve_today, write_transaction
from db.text import fold, name_sort_key
from db.units import BRANCH_TYPES, UnitLookupError, find_unit, subtree_ids

Date = datetime.date
FORMAT = "ketnap-case/1"
IMPORT_REASON = "import"

PERSON_FIELDS = ("full_name", "other_name", "sex", "born", "ethnicity", "religion", "home_town",
                 "residence", "citizen_id", "phone", "education", "qualification", "theory_level",
                 "occupation", "workplace", "youth_union", "trade_union", "public_role")


# --- export --------------------------------------------------------------------------------

def _iso(day: Date | None) -> str | None:
    return day.isoformat() if day else None


def _as_of(as_of: Date | None) -> Date:
    return as_of or resolve_today(None).date


def _visible(actor: Actor, branch_id: int, as_of: Date) -> bool:
    root = scope_root(actor)
    return root is None or branch_id in subtree_ids(actor, root, as_of)


def person_snapshot(person: models.Person, day: Date | None = None) -> dict:
    """What another database needs to check a member introducer or helper: citizen ID, name,
    admission and official dates (the membership covering `day`, else the latest), unit."""
    M = models.Membership
    rows = list(M.select().where(M.person == person.id).order_by(M.admitted_on))
    chosen = None
    for m in rows:
        if day is None or m.admitted_on <= day:
            if m.ended_on is None or day is None or m.ended_on > day:
                chosen = m
    chosen = chosen or (rows[-1] if rows else None)
    out = {"citizen_id": person.citizen_id, "full_name": person.full_name,
           "admitted_on": _iso(chosen.admitted_on) if chosen else None,
           "official_on": _iso(chosen.official_on) if chosen else None,
           "unit": person.branch.code if person.branch_id else None}
    return {k: v for k, v in out.items() if v is not None}


def _resolution_json(r: models.Resolution) -> dict:
    out = {"number": r.number, "date": _iso(r.date)}
    if r.votes_convened is not None:
        out["votes"] = {"for": r.votes_for, "convened": r.votes_convened, "excused": r.votes_excused or 0}
    return out


def _place(steps: list[dict], day: Date) -> dict:
    """The step during which something dated `day` arrived: the last one dated on or before it."""
    chosen = steps[0]
    for step in steps:
        if Date.fromisoformat(step["date"]) <= day:
            chosen = step
    return chosen


def _together_since(case: models.CaseFile, intro: models.Introducer) -> Date | None:
    """The start of the shared stay in the branch, for an introducer recorded without it."""
    facts = pipeline.member_facts([intro.person_id, case.person_id])
    mine = pipeline._affiliation_start(facts[intro.person_id], case.branch_id, intro.date)
    theirs = pipeline._affiliation_start(facts[case.person_id], case.branch_id, intro.date)
    return max(mine, theirs) if mine and theirs else None


def export_case(actor: Actor, case_id: int, as_of: Date | None = None) -> dict:
    """One file as a `ketnap-case/1` document (NotFound when the actor may not see it). A file
    carries the person's background: a viewer may not export it (AccessError "forbidden")."""
    if not may_see_background(actor):
        raise AccessError("forbidden", role=actor.role)
    as_of = _as_of(as_of)
    case = models.CaseFile.get_or_none(models.CaseFile.id == case_id)
    if case is None or not _visible(actor, case.branch_id, as_of):
        raise NotFound(case_id)
    person = case.person
    S, R, C = models.Step, models.Resolution, models.Certificate
    rows = list(S.select().where((S.case == case.id) & S.undone_at.is_null()).order_by(S.seq))
    steps: list[dict] = []
    for row in rows:
        details = json.loads(row.details or "{}")
        res = {r.kind: r for r in R.select().where(R.step == row.id).order_by(R.id)}
        out: dict = {"stage": row.stage, "date": _iso(row.date)}
        if row.extension:
            out["extension"] = True
        if row.stage == "identified" and (details.get("recommended_by") or case.recommended_by):
            out["recommended_by"] = details.get("recommended_by") or case.recommended_by
        if row.stage == "certified":
            cert = C.get_or_none(C.id == details["certificate_id"]) if details.get("certificate_id") else None
            if cert is None:
                cert = (C.select().where((C.person == person.id) & (C.kind == "awareness")
                                         & (C.issued <= row.date)).order_by(C.issued.desc()).first())
            if cert is not None:
                out["certificate"] = {"number": cert.number, "issued": _iso(cert.issued),
                                      "issuer": cert.issuer}
        if row.stage in ("branch_approved", "committee_approved"):
            r = res.get("branch_resolution" if row.stage == "branch_approved" else "committee_resolution")
            if r is not None:
                if r.number:
                    out["resolution"] = r.number
                if r.votes_convened is not None:
                    out["votes"] = _resolution_json(r)["votes"]
        if row.stage in ("admitted", "official") and "decision" in res and res["decision"].number:
            out["decision"] = res["decision"].number
        if row.stage == "admitted" and row.received:
            out["received"] = _iso(row.received)
        if row.stage == "official":
            for kind in ("branch_resolution", "committee_resolution"):
                if kind in res:
                    out[kind] = _resolution_json(res[kind])
        if details.get("helper_person_id"):
            helper = models.Person.get_or_none(models.Person.id == details["helper_person_id"])
            if helper is not None:
                out["helper"] = person_snapshot(helper, row.date)
        elif details.get("helper_snapshot"):
            out["helper"] = dict(details["helper_snapshot"])
        if details.get("unverified"):
            out["unverified"] = details["unverified"]
        steps.append(out)
    if steps:
        D = models.Document
        for doc in D.select().where(D.case == case.id).order_by(D.received, D.id):
            _place(steps, doc.received).setdefault("documents", []).append(
                {"kind": doc.kind, "received": _iso(doc.received)})
        I = models.Introducer
        for intro in I.select().where(I.case == case.id).order_by(I.id):
            obj: dict = {"kind": intro.kind, "date": _iso(intro.date)}
            snapshot = json.loads(intro.snapshot) if intro.snapshot else {}
            if intro.kind == "member":
                if intro.person_id:
                    obj.update(person_snapshot(intro.person, intro.date))
                else:
                    obj.update(snapshot)
                since = intro.together_since or (_together_since(case, intro) if intro.person_id else None)
                if since:
                    obj["together_since"] = _iso(since)
                if intro.replacement:
                    obj["replacement"] = True
            else:
                if intro.resolution:
                    obj["resolution"] = intro.resolution
                if snapshot.get("body"):
                    obj["body"] = snapshot["body"]
            _place(steps, intro.date).setdefault("introducers", []).append(obj)
    document = {
        "format": FORMAT,
        "person": {k: (_iso(v) if isinstance(v, Date) else v) for k in PERSON_FIELDS
                   if (v := getattr(person, k)) is not None},
        "branch": case.branch.code,
        "steps": steps,
        "outcome": ({"code": case.outcome, "date": _iso(case.closed_on), "reason": case.close_reason}
                    if case.status == "closed" else None),
    }
    if case.readmission:
        document["readmission"] = True
    return document


def export_cases(actor: Actor, unit_id: int | None, as_of: Date | None = None, *,
                 destination: str | None = None) -> list[dict]:
    """Every file (open or closed) of the branches in the unit's tree on `as_of`, opened by
    then; `unit_id` None: everything the actor may see. Exporting personal data is for roles
    that may see backgrounds, and is logged (with `destination`, the file written)."""
    if not may_see_background(actor):
        raise AccessError("forbidden", role=actor.role)
    as_of = _as_of(as_of)
    if unit_id is None:
        root = scope_root(actor)
        if root is None:
            units = None
        else:
            units = subtree_ids(actor, root, as_of)
    else:
        units = subtree_ids(actor, unit_id, as_of)
        if not units:
            raise NotFound(unit_id)
    C, S = models.CaseFile, models.Step
    query = C.select(C.id).order_by(C.id)
    if units is not None:
        query = query.where(C.branch.in_(units))
    first = {cid: day for cid, day in S.select(S.case, S.date).where(S.seq == 1).tuples()}
    documents = [export_case(actor, cid, as_of) for (cid,) in query.tuples()
                 if first.get(cid) is None or first[cid] <= as_of]
    with write_transaction():
        audit.record(actor, "export", "database", None, None,
                     {"kind": "cases", "unit": unit_id, "as_of": as_of, "files": len(documents),
                      "destination": destination},
                     unit_id if unit_id is not None else scope_root(actor))
    return documents


# --- import: the report ----------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """A violation of one file: `column` the step's stage (or the key at fault), `value` the
    step's date (or the value at fault), `params` the rule's own."""

    code: str
    column: str | None = None
    value: object = None
    params: dict = field(default_factory=dict)
    warning: bool = False


@dataclass
class FileResult:
    row: int  # 1-based index of the document in the file
    record: str | None  # the person's name
    status: str  # imported / updated / unchanged / rejected
    case_id: int | None = None
    problems: list[Problem] = field(default_factory=list)  # rejected: blocking violations
    warnings: list[Problem] = field(default_factory=list)
    unverified: list[Problem] = field(default_factory=list)


@dataclass
class ImportReport:
    dry_run: bool
    files: list[FileResult] = field(default_factory=list)
    rolled_back: bool = False  # --all-or-nothing with a rejected file: nothing was written

    def count(self, status: str) -> int:
        if self.rolled_back and status in ("imported", "updated"):
            return 0
        return sum(1 for f in self.files if f.status == status)

    @property
    def imported(self) -> int:
        return self.count("imported")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def rejected(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "rejected"]

    @property
    def ok(self) -> bool:
        return not self.rejected


class _Reject(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(", ".join(p.code for p in problems))
        self.problems = problems


class _Rollback(Exception):
    pass


# --- import: reading a document --------------------------------------------------------------

def _date(value, column: str) -> Date | None:
    if value is None or value == "":
        return None
    try:
        return Date.fromisoformat(str(value))
    except ValueError:
        raise _Reject([Problem("bad_value", column, value, {"field": column, "value": value})]) from None


def _person_id(obj: Mapping) -> int | None:
    if obj.get("citizen_id"):
        P = models.Person
        return P.select(P.id).where(P.citizen_id == str(obj["citizen_id"]).strip()).scalar()
    return None


@dataclass
class _Parsed:
    person: dict
    born: Date | None
    steps: list[pipeline.StepInput]
    raw_steps: list[dict]
    outcome: dict | None
    readmission: bool


def _parse(doc) -> _Parsed:
    problems: list[Problem] = []
    if not isinstance(doc, Mapping):
        raise _Reject([Problem("bad_value", "format", None, {"field": "format", "value": type(doc).__name__})])
    if doc.get("format") != FORMAT:
        problems.append(Problem("bad_value", "format", doc.get("format"),
                                {"field": "format", "value": doc.get("format")}))
    person = doc.get("person")
    if not isinstance(person, Mapping) or not str(person.get("full_name") or "").strip():
        problems.append(Problem("missing_value", "person.full_name", None, {"field": "person.full_name"}))
        person = person if isinstance(person, Mapping) else {}
    born = None
    try:
        born = _date(person.get("born"), "person.born")
    except _Reject as exc:
        problems += exc.problems
    if person.get("sex") not in (None, "F", "M"):
        problems.append(Problem("bad_value", "person.sex", person.get("sex"),
                                {"field": "person.sex", "value": person.get("sex")}))
    raw = doc.get("steps")
    steps: list[pipeline.StepInput] = []
    if not isinstance(raw, list) or not raw:
        problems.append(Problem("missing_value", "steps", None, {"field": "steps"}))
        raw = []
    for i, data in enumerate(raw):
        stage = data.get("stage") if isinstance(data, Mapping) else None
        try:
            steps.append(pipeline.step_from_dict(data, person_id=_person_id))
        except pipeline.PipelineError as exc:
            problems.append(Problem(exc.code, stage or f"steps[{i + 1}]", exc.params.get("value"),
                                    dict(exc.params)))
    outcome = doc.get("outcome")
    if outcome is not None:
        if (not isinstance(outcome, Mapping) or outcome.get("code") not in pipeline.OUTCOMES):
            problems.append(Problem("bad_value", "outcome", outcome, {"field": "outcome", "value": outcome}))
        else:
            try:
                day = _date(outcome.get("date"), "outcome.date")
                if day is None:
                    problems.append(Problem("missing_value", "outcome.date", None, {"field": "outcome.date"}))
                outcome = {"code": outcome["code"], "date": day,
                           "reason": str(outcome.get("reason") or "").strip() or IMPORT_REASON}
            except _Reject as exc:
                problems += exc.problems
    if problems:
        raise _Reject(problems)
    return _Parsed(dict(person), born, steps, list(raw), outcome, bool(doc.get("readmission")))


def _branch(actor: Actor, doc: Mapping, branch_id: int | None, today: Date) -> models.Unit:
    if branch_id is not None:
        if not _visible(actor, branch_id, today):
            raise NotFound(branch_id)
        return models.Unit.get_by_id(branch_id)
    text = doc.get("branch") if isinstance(doc, Mapping) else None
    if not text or not isinstance(text, str):
        raise _Reject([Problem("missing_value", "branch", None, {"field": "branch"})])
    try:
        node = find_unit(actor, text, today)
    except UnitLookupError as exc:
        raise _Reject([Problem(exc.code, "branch", text, {"text": text,
                                                          "candidates": list(exc.candidates)})]) from None
    if node.org_type not in BRANCH_TYPES:
        raise _Reject([Problem("bad_value", "branch", text, {"field": "branch", "value": text})])
    return models.Unit.get_by_id(node.id)


def _find_person(parsed: _Parsed, branch: models.Unit) -> models.Person | None:
    P = models.Person
    citizen_id = str(parsed.person.get("citizen_id") or "").strip()
    if citizen_id:
        return P.get_or_none(P.citizen_id == citizen_id)
    return (P.select().where((P.name_folded == fold(parsed.person["full_name"])) & (P.born == parsed.born)
                             & (P.branch == branch.id)).order_by(P.id).first())


# --- import: the replay -------------------------------------------------------------------------

_DETAIL_OF = {"vote_below_two_thirds": "votes", "education": "education", "age_under_18": "born",
              "age_over_60": "born", "certificate_missing": "certificate"}


def _missing_detail(v: pipeline.Violation, step: pipeline.StepInput, parsed: _Parsed) -> str | None:
    """The detail whose absence made `v` fail (a rule that could not be checked), or None."""
    p = v.params
    if v.code == "vote_below_two_thirds" and (p.get("missing") or p.get("for") is None
                                              or p.get("convened") is None):
        return p.get("vote", "votes") + ".votes"
    if v.code == "document_missing" and p.get("kind") in ("branch_resolution", "committee_resolution",
                                                          "decision"):
        return p["kind"]
    if v.code == "education" and not p.get("education"):
        return "education"
    if v.code in ("age_under_18", "age_over_60") and p.get("missing"):
        return "born"
    stages = {s.stage for s in parsed.steps}
    if v.code == "certificate_missing" and not p.get("issued") and (
            "certified" not in stages
            or any(s.stage == "certified" and s.certificate is None for s in parsed.steps)):
        return "certificate"
    # a file that starts after the dossier: what the dossier holds is not in it
    if "dossier" not in stages:
        if v.code == "document_missing" and p.get("kind") in pipeline.BRANCH_DOCUMENTS:
            return p["kind"]
        if v.code == "introducers_missing":
            return "introducers"
    return None


def _days(steps) -> set[Date]:
    days = set()
    for s in steps:
        days.add(s.date)
        for res in (s.branch_resolution, s.committee_resolution):
            if res is not None:
                days.add(res.date)
    return days


def _fill(state: pipeline.CaseState, steps, tree: pipeline.UnitTree) -> pipeline.CaseState:
    """The state with the vote-day facts and introducers' records the new steps need."""
    days = _days(steps) - set(state.official_members_on)
    wanted = {i.person_id for s in steps for i in s.introducers if i.person_id is not None}
    wanted -= set(state.members)
    return dataclasses.replace(
        state,
        committee_on={**state.committee_on,
                      **{d: tree.in_grassroots_committee(state.branch_id, d) for d in days}},
        official_members_on={**state.official_members_on,
                             **{d: pipeline.official_members(state.branch_id, d) for d in days}},
        members={**state.members, **pipeline.member_facts(wanted)})


def _initial_state(parsed: _Parsed, person: models.Person | None, branch: models.Unit, stage: str,
                   tree: pipeline.UnitTree) -> pipeline.CaseState:
    if person is not None:
        M, C = models.Membership, models.Certificate
        earlier = tuple(M.select(M.admitted_on, M.ended_on).where(M.person == person.id).tuples())
        certificates = tuple(C.select(C.kind, C.issued).where(C.person == person.id).tuples())
        facts = pipeline.member_facts([person.id])[person.id]
        born, education = person.born, person.education
        youth, trade = person.youth_union, person.trade_union
    else:
        # a new person arrives in the branch with the file's first step, as open_case records
        # it: the introducers' months together count from there
        first = parsed.steps[0].date if parsed.steps else None
        arrival = ((branch.id, first, None),) if first is not None else ()
        earlier, certificates = (), ()
        facts = pipeline.MemberFacts(affiliations=arrival)
        born, education = parsed.born, parsed.person.get("education")
        youth, trade = bool(parsed.person.get("youth_union")), bool(parsed.person.get("trade_union"))
    try:
        limit = int(get_setting("youth_age_limit") or pipeline.YOUTH_AGE_LIMIT)
    except ValueError:
        limit = pipeline.YOUTH_AGE_LIMIT
    return pipeline.CaseState(
        case_id=None, branch_id=branch.id, stage=stage, readmission=parsed.readmission,
        certificates=certificates, born=born, education=education, youth_union=youth,
        trade_union=trade, mountain=tree.mountain(branch.id), candidate=facts,
        earlier_memberships=earlier, youth_age_limit=limit)


def _advance(state: pipeline.CaseState, step: pipeline.StepInput) -> pipeline.CaseState:
    """The state once `step` is saved (what `apply` writes, as `read_state` would read it)."""
    seq = (state.steps[-1].seq if state.steps else 0) + 1
    record = pipeline.StepRecord(seq, step.stage, step.date,
                                 step.received if step.stage == "admitted" else None, step.extension)
    certificates = state.certificates
    if step.certificate is not None:
        certificates = certificates + (("awareness", step.certificate.issued),)
    introducers = state.introducers + tuple(
        dataclasses.replace(i, date=pipeline.introduction_date(state, step, i)) for i in step.introducers)
    return dataclasses.replace(state, stage=step.stage, steps=state.steps + (record,),
                               documents=tuple(state.documents) + tuple(step.documents),
                               certificates=certificates, introducers=introducers)


def _replay(state, steps, parsed: _Parsed, today: Date, legacy: bool):
    """Every step checked in order as if the earlier ones were saved: (blocking, warnings,
    unverified) Problems, and each step's unverified details."""
    blocking, warnings, unverified = [], [], []
    per_step: list[list[dict]] = []
    for step in steps:
        mine = []
        for v in pipeline.check_step(state, step, today):
            problem = Problem(v.code, step.stage, step.date.isoformat(), dict(v.params), v.warning)
            detail = _missing_detail(v, step, parsed) if legacy and not v.warning else None
            if detail:
                unverified.append(dataclasses.replace(problem, params={**problem.params, "field": detail}))
                mine.append({"field": detail, "rule": v.code})
            elif v.warning:
                warnings.append(problem)
            else:
                blocking.append(problem)
        per_step.append(mine)
        state = _advance(state, step)
    return blocking, warnings, unverified, per_step


# --- import: the writes ----------------------------------------------------------------------------

def _new_person(actor: Actor, parsed: _Parsed, branch: models.Unit, today: Date,
                start: Date) -> models.Person:
    """A person for a file that does not start at `identified` (legacy): the same fields and
    checks as `pipeline.open_case`, except that a legacy file may lack the birth date."""
    if parsed.born is not None or parsed.person.get("born"):
        data = pipeline._person_fields(parsed.person, today)
    else:
        data = pipeline._person_fields({**parsed.person, "born": start}, today)
        data["born"] = None
    for k in ("qualification", "theory_level", "public_role"):
        if parsed.person.get(k):
            data[k] = str(parsed.person[k])
    name = data["full_name"]
    person = models.Person.create(
        **data, name_folded=fold(name), sort_key=name_sort_key(name),
        other_folded=fold(data.get("other_name")) or None, branch=branch.id)
    models.Affiliation.create(person=person.id, unit=branch.id, start=start)
    audit.record(actor, "import", "person", person.id, None, {**data, "branch": branch.id}, branch.id)
    return person


def _record_unverified(actor: Actor, case_id: int, step: pipeline.StepInput, unverified: list[dict],
                       today: Date) -> None:
    """A legacy step whose missing details stop the rules: the rows `apply` writes, without the
    rules those details feed, and `details["unverified"]` naming them. The rules that could be
    checked were (in the replay); warnings among them are recorded as an override."""
    with write_transaction():
        case = pipeline.writable_case(actor, case_id, today)
        state = pipeline.read_state(case_id, step)
        warnings = sorted({v.code for v in pipeline.check_step(state, step, today) if v.warning})
        pipeline.record_step(actor, case, state, step, warnings=warnings,
                             reason=IMPORT_REASON if warnings else None, unverified=unverified)


def _first_stage(parsed: _Parsed, legacy: bool) -> str:
    """The stage a new file opens at: `identified`, or for a legacy file starting later the
    stage before its first step."""
    first = parsed.steps[0].stage
    if first == "identified" or not legacy:
        return "identified"
    for stage in pipeline.STAGES:
        if first in pipeline.ALLOWED[stage]:
            return stage
    return "identified"


def _import_one(actor: Actor, doc, row: int, today: Date, branch_id: int | None, legacy: bool,
                dry_run: bool) -> FileResult:
    name = None
    if isinstance(doc, Mapping) and isinstance(doc.get("person"), Mapping):
        name = doc["person"].get("full_name")
    result = FileResult(row, name, "rejected")
    try:
        problems = []
        branch = None
        try:
            branch = _branch(actor, doc, branch_id, today)
        except _Reject as exc:
            problems += exc.problems
        try:
            parsed = _parse(doc)
        except _Reject as exc:
            raise _Reject(problems + exc.problems) from None
        if problems:
            raise _Reject(problems)
        person = _find_person(parsed, branch)
        if person is not None and person.branch_id is not None and not _visible(actor, person.branch_id, today):
            # the citizen ID is somebody's outside the actor's scope: not theirs to change
            raise _Reject([Problem("out_of_scope", "person.citizen_id", None, {})])
        case, todo = None, parsed.steps
        if person is not None:
            case, todo, status = _match(person, branch, parsed)
            if status == "unchanged":
                result.status, result.case_id = "unchanged", case.id
                return result
        tree = pipeline.UnitTree()
        if case is None:
            stage = _first_stage(parsed, legacy)
            state = _initial_state(parsed, person, branch, stage, tree)
        else:
            state = pipeline.read_state(case.id, tree=tree)
        state = _fill(state, todo, tree)
        blocking, warnings, unverified, per_step = _replay(state, todo, parsed, today, legacy)
        if person is None and not (legacy and not parsed.person.get("born")):
            try:
                pipeline._person_fields(parsed.person, today)
            except pipeline.PipelineError as exc:
                blocking.insert(0, Problem(exc.code, "person." + str(exc.params.get("field", "")),
                                           exc.params.get("value"), dict(exc.params)))
        if case is None and legacy and parsed.steps[0].stage != "identified":
            unverified.insert(0, Problem("stage_order", parsed.steps[0].stage, parsed.steps[0].date.isoformat(),
                                         {"field": "steps", "from": None, "to": parsed.steps[0].stage}))
        outcome = parsed.outcome
        if outcome is not None and case is not None and case.status == "closed":
            outcome = None
        if blocking:
            raise _Reject(blocking)
        result.warnings, result.unverified = warnings, unverified
        try:
            with write_transaction():
                first = parsed.steps[0]
                if case is None and person is None and first.stage == "identified" and not per_step[0]:
                    # a new candidate: opened as `ketnap case new` opens one
                    case = models.CaseFile.get_by_id(pipeline.open_case(
                        actor, branch.id, parsed.person, today, identified_on=first.date,
                        recommended_by=first.recommended_by))
                    if parsed.readmission:
                        case.readmission = True
                        case.save()
                    todo, per_step = todo[1:], per_step[1:]
                    result.status = "imported"
                elif case is None:
                    if person is None:
                        person = _new_person(actor, parsed, branch, today, first.date)
                    case = models.CaseFile.create(
                        person=person.id, branch=branch.id, stage=_first_stage(parsed, legacy),
                        recommended_by=first.recommended_by, readmission=parsed.readmission,
                        legacy=bool(unverified))
                    audit.record(actor, "import", "case_file", case.id, None,
                                 {"person": person.id, "stage": case.stage, "legacy": case.legacy},
                                 branch.id)
                    result.status = "imported"
                else:
                    result.status = "updated"
                result.case_id = case.id
                for step, missing in zip(todo, per_step):
                    if missing:
                        _record_unverified(actor, case.id, step, missing, today)
                    else:
                        pipeline.apply(actor, case.id, step, today, override_reason=IMPORT_REASON)
                if outcome is not None:
                    pipeline.close(actor, case.id, outcome["code"], outcome["date"], outcome["reason"],
                                   today=today)
                if dry_run:
                    raise _Rollback()
        except _Rollback:
            if result.status == "imported":
                result.case_id = None
        return result
    except _Reject as exc:
        result.status, result.problems = "rejected", exc.problems
    except pipeline.StepRefused as exc:
        result.status = "rejected"
        result.problems = [Problem(v.code, None, None, dict(v.params), v.warning) for v in exc.violations]
    except pipeline.PipelineError as exc:
        result.status = "rejected"
        result.problems = [Problem(exc.code, exc.params.get("field"), exc.params.get("value"), dict(exc.params))]
    except NotFound:
        result.status = "rejected"
        result.problems = [Problem("not_found", "branch", None, {})]
    except AccessError as exc:
        result.status = "rejected"
        result.problems = [Problem(exc.code, None, None, dict(exc.params))]
    result.case_id = None
    result.warnings, result.unverified = [], []
    return result


def _match(person: models.Person, branch: models.Unit, parsed: _Parsed):
    """(the file already here, the steps still to write, "unchanged"/"updated"/"new")."""
    C, S = models.CaseFile, models.Step
    wanted = [(s.stage, s.date) for s in parsed.steps]
    for case in C.select().where((C.person == person.id) & (C.branch == branch.id)).order_by(C.id.desc()):
        live = [(st, d) for st, d in S.select(S.stage, S.date)
                .where((S.case == case.id) & S.undone_at.is_null()).order_by(S.seq).tuples()]
        if not live or wanted[:len(live)] != live:
            continue
        closed = case.status == "closed"
        outcome = parsed.outcome
        same_end = (outcome is None and not closed) or (
            outcome is not None and closed and case.outcome == outcome["code"])
        if len(live) == len(wanted) and same_end:
            return case, [], "unchanged"
        if closed:
            continue
        return case, parsed.steps[len(live):], "updated"
    other = (C.select(C.id).where((C.person == person.id) & C.is_open()).order_by(C.id).first())
    if other is not None:
        raise _Reject([Problem("case_open", "person", other.id, {"case_id": other.id})])
    return None, parsed.steps, "new"


def import_cases(actor: Actor, documents: list, today: Date, *, branch_id: int | None = None,
                 legacy: bool = False, dry_run: bool = False,
                 all_or_nothing: bool = False) -> ImportReport:
    """Import `ketnap-case/1` documents (see the module docstring); nothing is written for a
    rejected file, nothing at all with `dry_run`, nor with `all_or_nothing` when one is rejected."""
    if not may_write(actor):
        raise AccessError("forbidden", role=actor.role)
    report = ImportReport(dry_run=dry_run)

    def each(inner_dry: bool) -> None:
        for row, doc in enumerate(documents, start=1):
            report.files.append(_import_one(actor, doc, row, today, branch_id, legacy, inner_dry))

    if not all_or_nothing:
        each(dry_run)
        return report
    try:
        with write_transaction():
            each(False)
            if report.rejected or dry_run:
                raise _Rollback()
    except _Rollback:
        report.rolled_back = bool(report.rejected) and not dry_run
    return report
