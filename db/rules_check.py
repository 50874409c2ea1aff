"""Whether every file's recorded steps still satisfy the rules (`ketnap check`).

Each file's live steps are replayed in order through the pipeline's pure rules
(`pipeline.check_step`), each as if the earlier ones were saved, the way `db.transfer`'s import
replays a file that arrives. What the rules read is the file as it stands now: the state is read
once per file (`pipeline.read_state`, which reads the vote-day facts of every live step so that
slices of it need no further reads) and cut before each step. Documents, introducers and
certificates are recorded on the file and the person, not on a step, so each step sees all of
them: a step is reported only for what it truly lacks, never for a paper added later.

A step is reported when a blocking rule fails, except:
- codes recorded as overridden for that step (a `CaseEvent` of kind `override`, whose details
  hold the step's `seq` and the `codes`: the pipeline lets only warnings be overridden, but an
  import or an older version may have recorded more);
- the rules a legacy import could not check (`Step.details["unverified"]`: `{"field", "rule"}`);
- the stage order of a file's first step when the file came in by import (`legacy`, or an audit
  entry `import`): such a file opens at the stage before its first step.

A file that a reorganisation moved (`CaseMove`) is checked against the branch it had on each
step's day (whether a committee vote applies, the mountain flag).

`today` is the day the dates are checked against (a step dated after it is `date_order`).
Nothing is written.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from dataclasses import dataclass

from db import models, pipeline
from db.calendar import WorkingDays

Date = datetime.date


@dataclass(frozen=True)
class BrokenStep:
    case_id: int
    seq: int
    stage: str
    date: Date
    codes: tuple[str, ...]


@dataclass(frozen=True)
class RulesReport:
    files_checked: int
    broken: tuple[BrokenStep, ...]

    @property
    def ok(self) -> bool:
        return not self.broken


def _overridden() -> dict[tuple[int, int], set[str]]:
    """(case, seq) -> the codes recorded as overridden for that step."""
    E = models.CaseEvent
    out: dict[tuple[int, int], set[str]] = {}
    for case_id, details in E.select(E.case, E.details).where(E.kind == "override").tuples():
        try:
            data = json.loads(details or "{}")
            seq = int(data["seq"])
        except (ValueError, KeyError, TypeError):
            continue
        out.setdefault((case_id, seq), set()).update(str(c) for c in data.get("codes") or ())
    return out


def _unverified() -> dict[tuple[int, int], set[str]]:
    """(case, seq) -> the rules a legacy import could not check on that step."""
    S = models.Step
    out: dict[tuple[int, int], set[str]] = {}
    rows = (S.select(S.case, S.seq, S.details)
            .where(S.undone_at.is_null() & S.details.contains("unverified")).tuples())
    for case_id, seq, details in rows:
        try:
            items = json.loads(details).get("unverified") or ()
        except (ValueError, AttributeError):
            continue
        out[(case_id, seq)] = {str(i.get("rule")) for i in items if isinstance(i, dict)}
    return out


def _imported() -> set[int]:
    """Files that came in by import (they may start after `identified`)."""
    C, E = models.CaseFile, models.AuditEntry
    ids = {cid for (cid,) in C.select(C.id).where(C.legacy == True).tuples()}  # noqa: E712
    ids |= {eid for (eid,) in E.select(E.entity_id).where(
        (E.entity == "case_file") & (E.action == "import")).tuples()}
    return ids


def _moves() -> dict[int, list[tuple[Date, int]]]:
    """case -> [(effective, branch before that day)], oldest first."""
    M = models.CaseMove
    out: dict[int, list[tuple[Date, int]]] = {}
    for case_id, effective, from_branch in (M.select(M.case, M.effective, M.from_branch)
                                            .order_by(M.effective, M.id).tuples()):
        out.setdefault(case_id, []).append((effective, from_branch))
    return out


def _branch_on(current: int, moves: list[tuple[Date, int]], day: Date) -> int:
    for effective, from_branch in moves:
        if day < effective:
            return from_branch
    return current


def _first_stage(stage: str) -> str | None:
    """The stage an imported file opened at, before its first step (as db.transfer does)."""
    if stage == "identified":
        return None
    for before in pipeline.STAGES:
        if stage in pipeline.ALLOWED[before]:
            return before
    return None


def _replay(case_id: int, full: pipeline.CaseState, steps, today: Date, *, tree: pipeline.UnitTree,
            workdays: WorkingDays, overridden, unverified, imported: bool,
            moves: list[tuple[Date, int]] | None) -> list[BrokenStep]:
    out = []
    for i, (seq, step) in enumerate(steps):
        earlier = full.steps[:i]
        stage = earlier[-1].stage if earlier else (_first_stage(step.stage) if imported else None)
        # the file was open when each of its steps was taken
        state = dataclasses.replace(full, steps=earlier, stage=stage, status="open")
        if moves:
            branch = _branch_on(full.branch_id, moves, step.date)
            if branch != full.branch_id:
                state = dataclasses.replace(
                    state, branch_id=branch, mountain=tree.mountain(branch),
                    committee_on={d: tree.in_grassroots_committee(branch, d) for d in full.committee_on})
        codes = {v.code for v in pipeline.blocking(pipeline.check_step(state, step, today, workdays))}
        codes -= overridden.get((case_id, seq), set())
        codes -= unverified.get((case_id, seq), set())
        if codes:
            out.append(BrokenStep(case_id, seq, step.stage, step.date, tuple(sorted(codes))))
    return out


def check_file(case_id: int, today: Date) -> list[BrokenStep]:
    """One file's broken steps, read the pipeline's own way (`read_state`, `stored_steps`): the
    reference that the bulk reading of `check_recorded_steps` is tested against."""
    tree = pipeline.UnitTree()
    C = models.CaseFile
    imported = case_id in _imported() or bool(C.get_by_id(case_id).legacy)
    return _replay(case_id, pipeline.read_state(case_id, tree=tree), pipeline.stored_steps(case_id),
                   today, tree=tree, workdays=WorkingDays(), overridden=_overridden(),
                   unverified=_unverified(), imported=imported, moves=_moves().get(case_id))


# --- reading many files at once ---------------------------------------------------------------
# `read_state` and `stored_steps` take about fifteen queries a file, most of the time of a check of
# a thousand files; the same states are read here a chunk of files at a time (tests/test_backup.py
# holds them equal). One difference: `official_members_on` stays empty, as only the warning
# `vote_base_differs` reads it, and warnings are not reported.

CHUNK = 500


def _group(rows, key_index: int = 0) -> dict:
    out: dict = {}
    for row in rows:
        out.setdefault(row[key_index], []).append(row)
    return out


def read_states(case_ids: list[int], tree: pipeline.UnitTree, youth_age_limit: int):
    """(case_id, CaseState, stored steps) for each file, as `read_state(case_id)` and
    `stored_steps(case_id)` would give them (but `official_members_on`)."""
    C, P, S, R = models.CaseFile, models.Person, models.Step, models.Resolution
    D, I, Cert, M = models.Document, models.Introducer, models.Certificate, models.Membership
    cases = list(C.select(C.id, C.branch, C.stage, C.status, C.on_hold, C.readmission, C.person,
                          P.born, P.education, P.youth_union, P.trade_union)
                 .join(P, on=(C.person == P.id)).where(C.id.in_(case_ids)).order_by(C.id).tuples())
    step_rows = list(S.select(S.id, S.case, S.seq, S.stage, S.date, S.received, S.extension, S.details)
                     .where(S.case.in_(case_ids) & S.undone_at.is_null()).order_by(S.case, S.seq).tuples())
    steps_of = _group(step_rows, 1)
    resolutions: dict[int, dict] = {}
    step_ids = [r[0] for r in step_rows]
    for start in range(0, len(step_ids), CHUNK):
        for row in (R.select(R.step, R.kind, R.number, R.date, R.votes_for, R.votes_convened,
                             R.votes_excused).where(R.step.in_(step_ids[start:start + CHUNK]))
                    .order_by(R.id).tuples()):
            resolutions.setdefault(row[0], {})[row[1]] = row
    documents = _group(D.select(D.case, D.kind, D.received).where(D.case.in_(case_ids))
                       .order_by(D.id).tuples())
    introducers = _group(I.select(I.case, I.kind, I.person, I.snapshot, I.resolution, I.date,
                                  I.together_since, I.replacement).where(I.case.in_(case_ids))
                         .order_by(I.id).tuples())
    people = {row[6] for row in cases}
    wanted = {row[2] for rows in introducers.values() for row in rows if row[2] is not None}
    certificates = _group(Cert.select(Cert.person, Cert.kind, Cert.issued)
                          .where(Cert.person.in_(list(people))).tuples())
    memberships = _group(M.select(M.person, M.case, M.admitted_on, M.ended_on)
                         .where(M.person.in_(list(people))).tuples())
    facts = pipeline.member_facts(people | wanted)

    def resolution(res, kind):
        r = res.get(kind)
        if r is None:
            return None
        votes = pipeline.Votes(r[4], r[5], r[6]) if r[5] is not None else None
        return pipeline.ResolutionInput(r[2], r[3], votes)

    for (case_id, branch_id, stage, status, on_hold, readmission, person_id, born, education,
         youth, trade) in cases:
        rows = steps_of.get(case_id, [])
        records = tuple(pipeline.StepRecord(seq, st, day, received, extension)
                        for _id, _c, seq, st, day, received, extension, _d in rows)
        days = {r.date for r in records}  # every step's day: those `apply` read when it saved each
        stored = []
        for step_id, _c, seq, st, day, received, extension, details in rows:
            res = resolutions.get(step_id, {})
            data = json.loads(details or "{}")
            voting = st in ("branch_approved", "committee_approved")
            own = resolution(res, "branch_resolution" if st == "branch_approved" else "committee_resolution")
            official = st == "official"
            branch_res = resolution(res, "branch_resolution") if official else None
            committee_res = resolution(res, "committee_resolution") if official else None
            days |= {r.date for r in (branch_res, committee_res) if r is not None}
            stored.append((seq, pipeline.StepInput(
                stage=st, date=day, received=received, extension=extension,
                resolution=own.number if own and voting else None,
                votes=own.votes if own and voting else None,
                decision=res["decision"][2] if "decision" in res else None,
                helper=data.get("helper_person_id"), class_id=data.get("class_id"),
                recommended_by=data.get("recommended_by"),
                branch_resolution=branch_res, committee_resolution=committee_res)))
        intros = tuple(pipeline.IntroducerInput(kind, pid, json.loads(snap) if snap else None, res, day,
                                                since, replacement)
                       for _c, kind, pid, snap, res, day, since, replacement in introducers.get(case_id, []))
        intro_people = {i.person_id for i in intros if i.person_id is not None}
        state = pipeline.CaseState(
            case_id=case_id, branch_id=branch_id, stage=records[-1].stage if records else stage,
            status=status, on_hold=on_hold, readmission=readmission, steps=records,
            documents=tuple((k, r) for _c, k, r in documents.get(case_id, [])),
            certificates=tuple((k, d) for _p, k, d in certificates.get(person_id, [])),
            introducers=intros, born=born, education=education, youth_union=youth,
            trade_union=trade, mountain=tree.mountain(branch_id),
            committee_on={d: tree.in_grassroots_committee(branch_id, d) for d in days},
            official_members_on={}, candidate=facts[person_id],
            members={pid: facts[pid] for pid in intro_people},
            earlier_memberships=tuple((a, e) for _p, c, a, e in memberships.get(person_id, [])
                                      if c is None or c != case_id),
            youth_age_limit=youth_age_limit)
        yield case_id, state, stored


def check_recorded_steps(today: Date, case_ids=None) -> RulesReport:
    """Replay every file's live steps (or those of `case_ids`) through the rules."""
    C = models.CaseFile
    query = C.select(C.id).order_by(C.id)
    if case_ids is not None:
        query = query.where(C.id.in_(list(case_ids)))
    ids = [cid for (cid,) in query.tuples()]
    tree, workdays = pipeline.UnitTree(), WorkingDays()
    overridden, unverified, imported, moves = _overridden(), _unverified(), _imported(), _moves()
    limit = pipeline.youth_age_limit()
    broken: list[BrokenStep] = []
    for start in range(0, len(ids), CHUNK):
        for case_id, state, steps in read_states(ids[start:start + CHUNK], tree, limit):
            broken += _replay(case_id, state, steps, today, tree=tree, workdays=workdays,
                              overridden=overridden, unverified=unverified,
                              imported=case_id in imported, moves=moves.get(case_id))
    return RulesReport(len(ids), tuple(broken))
