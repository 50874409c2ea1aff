"""The work list: every open file of a unit's tree with its next action and due date.

Computed from the recorded steps, so any past date can be asked about ("as of"): steps,
resolutions, documents, certificates and hold events dated after that day are left out. The
files of the whole tree are read in a fixed number of queries and the deadlines computed here,
never a query per file.

Each file's next action and due date are also stored (models.CaseDue) with the date of its
latest record (`settled`): for any day on or after it the stored row is the answer, and only the
other files (records dated later, or marked stale by a trigger since) are computed. Each write
transaction stores its files again before it commits (`refresh_due`, from
db.connection.write_transaction).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from peewee import SQL, fn

from db import connection, models, search
from db.access import Actor, scope_root
from db.calendar import WorkingDays
from db.cases import (CertificateView, DocumentView, NextAction, ResolutionView, StepView, UnitRef,
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


_WHOLE_TREE = 500  # from this many branches on, the whole unit table is read instead


def _chains(branch_ids: set[int]) -> tuple[dict[int, int | None], dict[int, str]]:
    """(parent, org type) of the branches and the units above them, for _needs_committee. A
    save touches one file: its branch's chain is read alone (a recursive query), not the tens
    of thousands of units of a province, since this runs while the save holds the write lock."""
    U = models.Unit
    if len(branch_ids) >= _WHOLE_TREE:
        rows = U.select(U.id, U.parent, U.org_type).tuples()
    else:
        up = (U.select(U.id, U.parent, U.org_type).where(U.id.in_(sorted(branch_ids)))
              .cte("up", recursive=True, columns=("id", "parent_id", "org_type")))
        above = U.alias("above")
        up = up.union(above.select(above.id, above.parent, above.org_type)
                      .join(up, on=(above.id == up.c.parent_id)))
        rows = up.select_from(up.c.id, up.c.parent_id, up.c.org_type).tuples()
    parents, org_types = {}, {}
    for uid, parent, org_type in rows:
        parents[uid], org_types[uid] = parent, org_type
    return parents, org_types


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


def _open_on(as_of: datetime.date):
    """The condition of a file not closed on `as_of` (open, or closed later). A file already
    recognised official that day has no next action, so it drops out where actions are read."""
    C = models.CaseFile
    return (C.status == "open") | (C.closed_on > as_of)


def on_branches(among, as_of: datetime.date):
    """The condition of a file whose branch on `as_of` passes `among` (a function giving the
    condition on a branch column): its branch now, unless a reorganisation moved it after that
    day (models.CaseMove), in which case the branch it left by its first later move."""
    C, M = models.CaseFile, models.CaseMove
    here = among(C.branch)
    if not M.select().where(M.effective > as_of).exists():
        return here
    M2 = M.alias("earlier")
    first = M.select(M.case).where(
        (M.effective > as_of) & among(M.from_branch)
        & ~fn.EXISTS(M2.select(M2.id).where((M2.case == M.case) & (M2.effective > as_of) & (
            (M2.effective < M.effective) | ((M2.effective == M.effective) & (M2.id < M.id))))))
    return (here & C.id.not_in(M.select(M.case).where(M.effective > as_of))) | C.id.in_(first)


def _answers(as_of: datetime.date):
    """The condition on a stored next action (models.CaseDue) that it answers for `as_of`:
    computed since the file last changed, from records none of which is dated after that day."""
    D = models.CaseDue
    return (D.stale == False) & (D.settled.is_null() | (D.settled <= as_of))  # noqa: E712


def _unanswered(as_of: datetime.date):
    """The files (a subquery of ids) whose stored next action does not answer for `as_of`: stale,
    or with a record dated later. Every file has its row (a trigger adds it with the file), so
    these are found in the stored rows' indexes, not by walking every file."""
    D = models.CaseDue
    return D.select(D.case).where((D.stale == True) | (D.settled > as_of))  # noqa: E712


@dataclass(frozen=True)
class _Computed:
    stage: str
    on_hold: bool
    action: NextAction | None


def _compute(condition, as_of: datetime.date) -> dict[int, _Computed]:
    """Stage, hold and next action on `as_of` of the files matching `condition`, from their
    steps, resolutions, documents, certificates and hold events dated up to that day (a fixed
    number of queries, whatever the number of files)."""
    C, U, S = models.CaseFile, models.Unit, models.Step
    files = list(C.select(C.id, C.person, C.stage, C.on_hold, C.branch).where(condition).tuples())
    if not files:
        return {}

    def case_ids():
        return C.select(C.id).where(condition)

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
    # the largest read (every step of the files): its rows are taken as the driver gives them
    # and the dates read with fromisoformat, several times faster than converting each column
    # through the model's fields
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

    parents, org_types = _chains({branch_id for *_, branch_id in files})

    calendar = WorkingDays()
    out = {}
    for case_id, person_id, stored_stage, on_hold, branch_id in files:
        file_steps = tuple(steps.get(case_id, ()))
        live = [s for s in file_steps if not s.undone]
        if not file_steps and case_id in changed_later:
            continue  # every step is later: the file did not exist yet
        # nothing changed since as_of: the recorded stage (kept by files imported without
        # every step); else the last step live on that day
        stage = live[-1].stage if case_id in changed_later and live else stored_stage
        action = next_action(stage, "open", file_steps, tuple(documents.get(case_id, ())),
                             tuple(certificates.get(person_id, ())),
                             _needs_committee(branch_id, parents, org_types), calendar)
        hold = held.get(case_id, False) if case_id in has_events else bool(on_hold)
        out[case_id] = _Computed(stage, hold, action)
    return out


def refresh_due() -> int:
    """Compute and store the next action of every file marked stale (models.CaseDue), from all
    its records; called inside each write transaction before it commits. The number refreshed."""
    D, C = models.CaseDue, models.CaseFile
    stale = [case_id for (case_id,) in D.select(D.case).where(D.stale == True).tuples()]  # noqa: E712
    refreshed = 0
    for start in range(0, len(stale), 3_000):
        chunk = stale[start:start + 3_000]
        computed = _compute(C.id.in_(chunk) & (C.status == "open"), datetime.date.max)
        settled = dict(models.database.execute_sql(_SETTLED.format(ids=",".join([models.database.param] * len(chunk))),
                                                   chunk * 9).fetchall())
        voted = voted_branches(chunk)
        rows = []
        for case_id in chunk:
            done = computed.get(case_id)
            action = done.action if done is not None else None
            rows.append((case_id, False, action.code if action else None,
                         action.due if action else None, settled.get(case_id), voted.get(case_id)))
        D.delete().where(D.case.in_(chunk)).execute()
        for part in range(0, len(rows), 5000):
            D.insert_many(rows[part:part + 5000],
                          fields=[D.case, D.stale, D.action, D.due, D.settled, D.voted_branch]).execute()
        refreshed += len(chunk)
    return refreshed


def voted_branches(case_ids: list[int]) -> dict[int, int]:
    """The branch that voted each file's admission: the unit of its live branch_approved step
    (files without one are left out)."""
    S = models.Step
    return dict(S.select(S.case, fn.MAX(S.unit))
                .where(S.case.in_(case_ids) & (S.stage == "branch_approved") & S.undone_at.is_null())
                .group_by(S.case).tuples())


def stored_problems() -> tuple[int, int]:
    """(files without a stored next action, stored rows not marked stale that differ from what
    the file's records give now): for `ketnap check`, which recomputes every file."""
    C, D = models.CaseFile, models.CaseDue
    missing = C.select().where(C.id.not_in(D.select(D.case))).count()
    wrong = 0
    fresh = D.select(D.case).where(D.stale == False)  # noqa: E712
    ids = [case_id for (case_id,) in fresh.tuples()]
    for start in range(0, len(ids), 3_000):
        chunk = ids[start:start + 3_000]
        computed = _compute(C.id.in_(chunk) & (C.status == "open"), datetime.date.max)
        voted = voted_branches(chunk)
        for case_id, action, due, branch in (D.select(D.case, D.action, D.due, D.voted_branch)
                                             .where(D.case.in_(chunk)).tuples()):
            done = computed.get(case_id)
            expected = (done.action.code, done.action.due) if done and done.action else (None, None)
            wrong += (action, due, branch) != (*expected, voted.get(case_id))
    return missing, wrong


def restore_stored() -> None:
    """Every stored figure recomputed from the records (`ketnap check --repair`): each file's
    next action, in this write transaction; the member counts and the counts of people sent to
    class, on their next reading."""
    models.database.execute_sql("INSERT INTO case_due (case_id, stale) SELECT id, TRUE FROM case_file WHERE TRUE "
                                "ON CONFLICT DO NOTHING")
    models.database.execute_sql("UPDATE case_due SET stale = TRUE")
    models.MemberTally.delete().execute()
    models.ClassTally.delete().execute()
    refresh_due()


# the latest date in each file's records: its steps (dated, received, undone), their
# resolutions, documents, hold events, the holder's certificates and the closing
_SETTLED = """SELECT case_id, max(day) FROM (
  SELECT case_id, date AS day FROM step WHERE case_id IN ({ids})
  UNION ALL SELECT case_id, received FROM step WHERE received IS NOT NULL AND case_id IN ({ids})
  UNION ALL SELECT case_id, date(undone_at) FROM step WHERE undone_at IS NOT NULL AND case_id IN ({ids})
  UNION ALL SELECT s.case_id, r.date FROM resolution r JOIN step s ON s.id = r.step_id WHERE s.case_id IN ({ids})
  UNION ALL SELECT case_id, received FROM document WHERE case_id IN ({ids})
  UNION ALL SELECT case_id, date FROM case_event WHERE case_id IN ({ids})
  UNION ALL SELECT c.id, t.issued FROM certificate t JOIN case_file c ON c.person_id = t.person_id
            WHERE c.id IN ({ids})
  UNION ALL SELECT id, closed_on FROM case_file WHERE closed_on IS NOT NULL AND id IN ({ids})
  UNION ALL SELECT case_id, effective FROM case_move WHERE case_id IN ({ids})
) AS days GROUP BY case_id"""


def overdue_count(unit_ids, as_of: datetime.date) -> int:
    """How many files of these branches (a list of ids, or a condition on models.CaseFile
    made with `on_branches`) are overdue on `as_of`: the work list's count, for a caller in db
    that has checked the units against the actor's scope. The stored due dates that answer for
    that day are counted in SQL, the other files computed."""
    C, D = models.CaseFile, models.CaseDue
    mine = on_branches(lambda column: connection.among(column, unit_ids), as_of) if isinstance(unit_ids, list) else unit_ids
    # read from the index of due dates (the files past theirs), not from every open file: the
    # file's status and the stored row's freshness are written so that no index is used for them
    # (the planner would otherwise walk every open file, 70 ms on a province of a million)
    fresh = (D.stale.cast("integer") == 0) & (D.settled.is_null() | (D.settled <= as_of))
    counted = (C.select(fn.COUNT(C.id)).join(D, on=(D.case == C.id))
               .where(mine & (C.status.concat("") == "open") & fresh & (D.due < as_of)).scalar())
    computed = _compute(mine & _open_on(as_of) & C.id.in_(_unanswered(as_of)), as_of)
    return counted + sum(1 for done in computed.values()
                         if done.action is not None and done.action.due is not None and done.action.due < as_of)


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
    C, P, U = models.CaseFile, models.Person, models.Unit
    root = unit_id if unit_id is not None else scope_root(actor)
    if unit_ids is None and root is not None:
        unit_ids = subtree_ids(actor, root, as_of)
        if not unit_ids:
            return []

    condition = _open_on(as_of)
    if unit_ids is not None:
        condition &= on_branches(lambda column: connection.among(column, unit_ids), as_of)

    cases = list(C.select(C.id, C.person, C.stage, C.on_hold, P.full_name, P.sort_key,
                          U.id, U.code, U.name)
                 .join(P, on=(C.person == P.id))
                 .switch(C).join(U, on=(C.branch == U.id))
                 .where(condition).tuples())
    if not cases:
        return []
    # a file a reorganisation moved after as_of shows the branch it was in that day
    M = models.CaseMove
    earlier = {}
    for case_id, bid, bcode, bname in (M.select(M.case, U.id, U.code, U.name).join(U, on=(M.from_branch == U.id))
                                        .where(M.effective > as_of).order_by(M.effective.desc(), M.id.desc())
                                        .tuples()):
        earlier[case_id] = (bid, bcode, bname)  # the first move after as_of is the last kept
    if earlier:
        cases = [(*row[:6], *earlier.get(row[0], row[6:])) for row in cases]
    # the stored next actions that answer for as_of; the other files computed from their records
    D = models.CaseDue
    stored = {case_id: (action, _date(due)) for case_id, action, due in models.database.execute_sql(*(
        C.select(C.id, D.action, D.due).join(D, on=(D.case == C.id))
        .where(condition & (C.status == "open") & _answers(as_of)).sql())).fetchall()}
    computed = _compute(condition & C.id.in_(_unanswered(as_of)), as_of)

    items = []
    for case_id, person_id, stored_stage, on_hold, full_name, sort_key, bid, bcode, bname in cases:
        if case_id in stored:
            code, due = stored[case_id]
            stage, hold = stored_stage, bool(on_hold)
        elif case_id in computed:
            done = computed[case_id]
            if done.action is None:
                continue
            stage, hold, code, due = done.stage, done.on_hold, done.action.code, done.action.due
        else:
            continue  # every step is later: the file did not exist yet
        if code is None:
            continue
        late = (as_of - due).days if due is not None and due < as_of else 0
        if within_days is not None and (
                due is None or due > as_of + datetime.timedelta(days=within_days)):
            continue
        items.append(WorkItem(case_id, person_id, full_name, sort_key, UnitRef(bid, bcode, bname),
                              stage, hold, code, due, late))
    items.sort(key=lambda i: (-i.overdue_days, i.due is None, i.due or _FAR, i.sort_key,
                              i.case_id))
    return items


@dataclass(frozen=True)
class WorkPage:
    """A page of the work list (`worklist_page`), and when asked for, how many files the whole
    list has and how many of them are overdue."""

    items: tuple[WorkItem, ...]
    total: int | None = None
    late: int | None = None


def worklist_page(actor: Actor, unit_id: int, as_of: datetime.date, *, offset: int = 0,
                  limit: int = 50, stages: tuple[str, ...] | None = None, overdue_only: bool = False,
                  name_filter: str | None = None, counts: bool = True) -> WorkPage:
    """The files `offset` to `offset + limit` of the work list of `unit_id` (the order and the
    files of `worklist`), only those at `stages`, the overdue ones, or those whose name has words
    starting with each word of `name_filter`; `counts`: also the list's size and overdue count.

    Read a page at a time from the stored next actions (models.CaseDue) in the order of their due
    dates: a province's list has a hundred thousand files, and reading them all took seconds and
    hundreds of megabytes. When a file of the list has no stored action answering for `as_of`
    (a day in the past before its latest record, or a file changed outside ketnap's writes), the
    list is computed whole by `worklist` as before and the page cut from it."""
    C, P, U, D = models.CaseFile, models.Person, models.Unit, models.CaseDue
    unit_ids = subtree_ids(actor, unit_id, as_of)
    if not unit_ids:
        return WorkPage((), 0 if counts else None, 0 if counts else None)
    mine = _open_on(as_of) & on_branches(lambda column: connection.among(column, unit_ids), as_of)
    named = None
    if name_filter:
        condition = search.name_filter_ids_sql(name_filter)
        if condition is not None:
            named = C.person.in_(SQL(f"({condition[0]})", condition[1]))
    if C.select(C.id).where(mine & C.id.in_(_unanswered(as_of))).exists():
        items = worklist(actor, unit_id, as_of, unit_ids=unit_ids)
        if stages is not None:
            items = [item for item in items if item.stage in stages]
        if overdue_only:
            items = [item for item in items if item.overdue]
        if named is not None:
            people = {person for (person,) in C.select(C.person).where(named).tuples()}
            items = [item for item in items if item.person_id in people]
        return WorkPage(tuple(items[offset:offset + limit]), len(items) if counts else None,
                        sum(1 for item in items if item.overdue) if counts else None)
    listed = mine & (C.status == "open") & _answers(as_of) & D.action.is_null(False)
    if stages is not None:
        listed &= C.stage.in_(stages)
    if overdue_only:
        listed &= D.due < as_of
    if named is not None:
        listed &= named
    rows = models.database.execute_sql(*(
        C.select(C.id, C.person, P.full_name, P.sort_key, U.id, U.code, U.name, C.stage, C.on_hold,
                 D.action, D.due)
        .join(D, on=(D.case == C.id)).switch(C).join(P, on=(C.person == P.id))
        .switch(C).join(U, on=(C.branch == U.id))
        .where(listed).order_by(D.due.is_null(), D.due, P.sort_key, C.id)
        .limit(limit).offset(offset).sql())).fetchall()
    # a file a reorganisation moved after as_of shows the branch it was in that day
    M = models.CaseMove
    earlier = {}
    if rows:
        for case_id, bid, bcode, bname in (M.select(M.case, U.id, U.code, U.name)
                                            .join(U, on=(M.from_branch == U.id))
                                            .where((M.effective > as_of) & M.case.in_([r[0] for r in rows]))
                                            .order_by(M.effective.desc(), M.id.desc()).tuples()):
            earlier[case_id] = UnitRef(bid, bcode, bname)
    items = []
    for case_id, person_id, full_name, sort_key, bid, bcode, bname, stage, on_hold, code, due in rows:
        due = _date(due)
        items.append(WorkItem(case_id, person_id, full_name, sort_key,
                              earlier.get(case_id) or UnitRef(bid, bcode, bname), stage, bool(on_hold),
                              code, due, (as_of - due).days if due is not None and due < as_of else 0))
    total = late = None
    if counts:
        counted = C.select(fn.COUNT(C.id)).join(D, on=(D.case == C.id)).where(listed)
        total = counted.scalar()
        late = total if overdue_only else counted.where(D.due < as_of).scalar()
    return WorkPage(tuple(items), total, late)
