"""The 2025 reorganisation, guided (domain.md section 2): from 1/7/2025 the district level is
gone, communes are merged into new ones, and commune committees sit directly under the province
and decide admissions themselves.

A plan (TOML, `template` writes one for a database) names the district committees abolished and
the new communes, each made from one or more old ones:

    decision = "1234-QĐ/TU"
    decided = 2025-06-20
    effective = 2025-07-01
    districts = ["NS"]

    [[commune]]
    code = "BK-NS-1"
    name = "Đảng bộ xã Nà Phặc"
    from = ["NS-NP", "NS-TQ"]

    [[move]]            # optional: a unit directly under a district that goes under a commune
    unit = "NS-VT-CB"
    to = "BK-NS-1"

`run` carries it out with db.reorganise's changes, all in one transaction: each commune made of
several old ones is a merge (a new unit directly under the province), a commune kept alone is a
transfer (and a rename when the plan gives it another name), each [[move]] a transfer, and each
district a dissolve into the province (whatever is still under it goes there). A dissolved
district no longer decides admissions: the units it decided for decide their own (db.reorganise).
`preview` does the same and rolls it back, returning what would move where and what would be
left wrong (an open file in a unit that is not live afterwards).
"""

from __future__ import annotations

import datetime
import json
import tomllib
from dataclasses import dataclass, field

from db import models, reorganise
from db.access import Actor
from db.connection import write_transaction
from db.reorganise import ChangeError, Decision, NewUnit, Outcome

Date = datetime.date


class PlanError(ChangeError):
    """The plan itself is wrong (before any change is tried); `code` names the reason (locale
    [reorganise_error]), `params` fill its message."""


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    decision: Decision
    districts: tuple[str, ...]
    communes: tuple[Commune, ...]
    moves: tuple[tuple[str, str], ...] = ()


@dataclass
class Result:
    outcomes: list[Outcome] = field(default_factory=list)
    open_files_outside: int = 0  # open files whose branch is not live on the effective day
    units_left: list[str] = field(default_factory=list)  # units left under no live parent
    # each commune directly under the province afterwards: (code, name, members, open files, branches)
    communes: list[tuple[str, str, int, int, int]] = field(default_factory=list)
    saved: bool = False


def _date(value, name: str) -> Date:
    if isinstance(value, Date) and not isinstance(value, datetime.datetime):
        return value
    try:
        return Date.fromisoformat(str(value))
    except ValueError:
        raise PlanError("plan_bad_value", field=name, value=value) from None


def read_plan(text: str) -> Plan:
    """A plan from its TOML text (PlanError names what is wrong)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError("plan_unreadable", message=str(exc)) from None
    for key in ("decision", "decided", "effective", "districts"):
        if key not in data:
            raise PlanError("plan_missing", field=key)
    decision = Decision(str(data["decision"]), _date(data["decided"], "decided"),
                        _date(data["effective"], "effective"), data.get("note"))
    communes = []
    for number, entry in enumerate(data.get("commune", []), 1):
        for key in ("code", "name", "from"):
            if not entry.get(key):
                raise PlanError("plan_missing", field=f"commune {number}: {key}")
        sources = entry["from"] if isinstance(entry["from"], list) else [entry["from"]]
        communes.append(Commune(str(entry["code"]).strip(), str(entry["name"]).strip(),
                                tuple(str(s).strip() for s in sources)))
    moves = tuple((str(m.get("unit", "")).strip(), str(m.get("to", "")).strip()) for m in data.get("move", []))
    for unit, to in moves:
        if not unit or not to:
            raise PlanError("plan_missing", field="move: unit, to")
    return Plan(decision, tuple(str(d).strip() for d in data["districts"]), tuple(communes), moves)


def _by_code(code: str) -> models.Unit:
    unit = models.Unit.get_or_none(models.Unit.code == code)
    if unit is None:
        raise PlanError("plan_unknown_unit", code=code)
    return unit


def _quote(text: str) -> str:
    """A TOML basic string (JSON's escaping is TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def template(day: Date) -> str:
    """A plan to edit for the database as of `day`: every district committee, and each of its
    communes as a commune of its own (group them, name them, and remove what is not abolished)."""
    U = models.Unit
    lines = ["# ketnap: the 2025 reorganisation plan. Edit, then check it with the preview before",
             "# saving. Each [[commune]] is a new commune made of the old ones in `from` (one alone:",
             "# it is kept and put directly under the province).",
             'decision = ""', f"decided = {day.isoformat()}", f"effective = {day.isoformat()}"]
    districts = [u for u in U.select().where(U.level == "district").order_by(U.sort_order, U.code)
                 if reorganise._alive(u, day)]
    lines.append("districts = [" + ", ".join(_quote(d.code) for d in districts) + "]")
    for district in districts:
        lines.append("")
        lines.append(f"# {district.name} ({district.code})")
        for unit in sorted((U.get_by_id(u) for u in reorganise._below(district.id, day)),
                           key=lambda u: (u.sort_order, u.code)):
            if unit.level != "commune" or not reorganise._alive(unit, day):
                continue
            if reorganise.parent_on(unit.id, day) != district.id:
                continue
            lines += ["[[commune]]", f"code = {_quote(unit.code)}", f"name = {_quote(unit.name)}",
                      f"from = [{_quote(unit.code)}]", ""]
    return "\n".join(lines).rstrip() + "\n"


def _carry_out(actor: Actor, today: Date, plan: Plan) -> Result:
    day = plan.decision.effective
    result = Result()
    districts = [_by_code(code) for code in plan.districts]
    if not districts:
        raise PlanError("plan_missing", field="districts")
    provinces = set()
    for district in districts:
        if district.level != "district":
            raise PlanError("plan_not_district", code=district.code)
        parent = reorganise.parent_on(district.id, day)
        if parent is None:
            raise PlanError("plan_no_province", code=district.code)
        provinces.add(parent)
    if len(provinces) != 1:
        raise PlanError("plan_several_provinces")
    province = provinces.pop()
    under = {d.id: {u for u in reorganise._below(d.id, day)} for d in districts}
    seen: set[str] = set()
    for commune in plan.communes:
        sources = [_by_code(code) for code in commune.sources]
        for source in sources:
            if source.code in seen:
                raise PlanError("plan_twice", code=source.code)
            seen.add(source.code)
            if not any(source.id in units for units in under.values()):
                raise PlanError("plan_not_under_district", code=source.code)
        if len(sources) > 1:
            result.outcomes.append(reorganise.merge(
                actor, today, plan.decision, [s.id for s in sources],
                NewUnit(commune.code, commune.name, level=sources[0].level), parent_id=province))
        else:
            source = sources[0]
            result.outcomes.append(reorganise.transfer(actor, today, plan.decision, source.id, province))
            if commune.name != source.name:
                result.outcomes.append(reorganise.rename(actor, today, plan.decision, source.id, commune.name))
    for code, to in plan.moves:
        unit, target = _by_code(code), _by_code(to)
        result.outcomes.append(reorganise.transfer(actor, today, plan.decision, unit.id, target.id))
    for district in districts:
        result.outcomes.append(reorganise.dissolve(actor, today, plan.decision, district.id, province))
    # what would be wrong afterwards: an open file in a unit not live that day, or a live unit
    # under no live parent
    C, U = models.CaseFile, models.Unit
    branches = {}
    for case_id, branch in C.select(C.id, C.branch).where((C.status == "open") & (C.stage != "official")).tuples():
        branches[case_id] = branch
    for move in models.CaseMove.select().where(models.CaseMove.effective <= day).order_by(models.CaseMove.effective):
        if move.case_id in branches:
            branches[move.case_id] = move.to_branch_id
    live = {u.id for u in U.select() if reorganise._alive(u, day)}
    result.open_files_outside = sum(1 for b in branches.values() if b not in live)
    for unit_id in live:
        parent = reorganise.parent_on(unit_id, day)
        if parent is not None and parent not in live:
            result.units_left.append(U.get_by_id(unit_id).code)
    M, A = models.Membership, models.Affiliation
    for unit in sorted((U.get_by_id(u) for u in live if reorganise.parent_on(u, day) == province),
                       key=lambda u: (u.level != "commune", u.sort_order, u.code)):
        if unit.level != "commune":
            continue
        inside = reorganise._below(unit.id, day) | {unit.id}
        members = (M.select().join(A, on=(A.person == M.person))
                   .where((M.ceremony_on <= day) & (M.ended_on.is_null() | (M.ended_on > day))
                          & (A.start <= day) & (A.end.is_null() | (A.end > day)) & A.unit.in_(list(inside)))
                   .count())
        files = sum(1 for b in branches.values() if b in inside)
        result.communes.append((unit.code, unit.name, members, files,
                                sum(1 for u in inside if U.get_by_id(u).org_type in ("branch", "grassroots_branch"))))
    return result


class _Rollback(Exception):
    pass


def preview(actor: Actor, today: Date, plan: Plan) -> Result:
    """What `run` would do, carried out and rolled back (nothing is saved)."""
    from db import audit

    holder: list[Result] = []
    try:
        with write_transaction():
            holder.append(_carry_out(actor, today, plan))
            raise _Rollback
    except _Rollback:
        audit.discard_pending()
    return holder[0]


def run_after_copy(actor: Actor, today: Date, plan: Plan):
    """A copy of the database file beside it first (`<file>.before-reorganisation-<time>`), then
    `run`; (the result, the copy's path or None for a database without a file)."""
    from db.connection import copy_before

    copy = copy_before(models.database.obj, "reorganisation")
    return run(actor, today, plan), copy


def run(actor: Actor, today: Date, plan: Plan) -> Result:
    """Carry the plan out in one transaction (refused whole on the first change refused)."""
    with write_transaction():
        result = _carry_out(actor, today, plan)
    result.saved = True
    return result


__all__ = ["ChangeError", "Plan", "PlanError", "Result", "preview", "read_plan", "run", "run_after_copy",
           "template"]
