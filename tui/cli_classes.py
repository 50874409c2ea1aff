"""`ketnap class list|new|set|plan|enrol|result`: the command-line side of db.classes.
tui/cli.py builds the parser with `add_parser` and hands the command to `run`."""

from __future__ import annotations

from tui import i18n
from tui.i18n import t


def add_parser(commands) -> None:
    from db.classes import KINDS, STATUSES
    from tui.cli import _positive

    def parser(parent, name: str, key: str):
        return parent.add_parser(name, help=t(f"cli.classes.help_{key}"),
                                 description=t(f"cli.classes.help_{key}"), allow_abbrev=False)

    cls = parser(commands, "class", "class")
    sub = cls.add_subparsers(dest="class_command", metavar="ACTION", required=True)

    listing = parser(sub, "list", "list")
    listing.add_argument("--unit", metavar="U", help=t("cli.classes.help_unit"))
    listing.add_argument("--year", type=int, metavar="Y", help=t("cli.classes.help_year"))
    listing.add_argument("--kind", choices=KINDS, help=t("cli.classes.help_kind"))
    listing.add_argument("--json", action="store_true", help=t("cli.help.json"))

    new = parser(sub, "new", "new")
    new.add_argument("--kind", choices=KINDS, required=True, help=t("cli.classes.help_kind"))
    new.add_argument("--name", metavar="TEXT", required=True, help=t("cli.classes.help_name"))
    new.add_argument("--unit", metavar="U", required=True, help=t("cli.classes.help_planning_unit"))
    new.add_argument("--planned-start", metavar="D", required=True, help=t("cli.classes.help_planned_start"))
    _class_options(new, STATUSES, _positive, status=False)
    new.add_argument("--year", type=int, metavar="Y", help=t("cli.classes.help_year"))
    new.add_argument("--json", action="store_true", help=t("cli.help.json"))

    change = parser(sub, "set", "set")
    change.add_argument("id", type=_positive, metavar="CLASS", help=t("cli.classes.help_id"))
    change.add_argument("--name", metavar="TEXT", help=t("cli.classes.help_name"))
    change.add_argument("--planned-start", metavar="D", help=t("cli.classes.help_planned_start"))
    _class_options(change, STATUSES, _positive, status=True)

    plan = parser(sub, "plan", "plan")
    plan.add_argument("--unit", metavar="U", required=True, help=t("cli.classes.help_planning_unit"))
    plan.add_argument("--year", type=int, metavar="Y", required=True, help=t("cli.classes.help_year"))
    plan.add_argument("--kind", choices=KINDS, default="awareness", help=t("cli.classes.help_kind"))
    plan.add_argument("--classes", type=int, metavar="N", required=True, help=t("cli.classes.help_plan_classes"))
    plan.add_argument("--trainees", type=int, metavar="N", help=t("cli.classes.help_plan_trainees"))

    enrol = parser(sub, "enrol", "enrol")
    enrol.add_argument("id", type=_positive, metavar="CLASS", help=t("cli.classes.help_id"))
    enrol.add_argument("cases", type=_positive, nargs="+", metavar="FILE", help=t("cli.classes.help_cases"))
    enrol.add_argument("--date", metavar="D", help=t("cli.classes.help_enrol_date"))
    enrol.add_argument("--json", action="store_true", help=t("cli.help.json"))

    result = parser(sub, "result", "result")
    result.add_argument("id", type=_positive, metavar="CLASS", help=t("cli.classes.help_id"))
    for name in ("passed", "failed", "left"):
        result.add_argument(f"--{name}", metavar="FILE,...", default="", help=t(f"cli.classes.help_{name}"))
    numbers = result.add_mutually_exclusive_group()
    numbers.add_argument("--first-number", metavar="N", help=t("cli.classes.help_first_number"))
    numbers.add_argument("--numbers", metavar="N,...", help=t("cli.classes.help_numbers"))
    result.add_argument("--issued", metavar="D", help=t("cli.classes.help_issued"))
    result.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _class_options(p, statuses, positive, *, status: bool) -> None:
    p.add_argument("--start", metavar="D", help=t("cli.classes.help_start"))
    p.add_argument("--end", metavar="D", help=t("cli.classes.help_end"))
    p.add_argument("--place", metavar="TEXT", help=t("cli.classes.help_place"))
    p.add_argument("--capacity", type=positive, metavar="N", help=t("cli.classes.help_capacity"))
    p.add_argument("--organiser", metavar="TEXT", help=t("cli.classes.help_organiser"))
    if status:
        p.add_argument("--status", choices=statuses, help=t("cli.classes.help_status"))


def class_refusal(exc):
    """The Refusal for a db.classes error, in the user's language."""
    from db.classes import ClassError, TraineeRefused
    from tui.cli import Refusal, rule_message, safe

    if isinstance(exc, TraineeRefused):
        reasons = "; ".join(rule_message(v.code, v.params) for v in exc.violations)
        return Refusal("rule", t("class_error.trainee_refused", name=safe(exc.full_name),
                                 case_id=exc.case_id, reasons=reasons),
                       case_id=exc.case_id, violations=[v.code for v in exc.violations])
    assert isinstance(exc, ClassError)
    params = {k: safe(v) for k, v in exc.params.items()}
    for key in ("field", "value", "capacity", "enrolled", "adding", "name", "other", "stage", "number",
                "date", "start", "result", "status", "case_id"):
        params.setdefault(key, "")
    if exc.params.get("stage"):
        params["stage"] = i18n.code_name("stage", exc.params["stage"])
    if exc.params.get("status"):
        params["status"] = i18n.code_name("class_status", exc.params["status"])
    if exc.params.get("result"):
        params["result"] = i18n.code_name("class_result", exc.params["result"])
    for key in ("date", "start"):
        if exc.params.get(key):
            from db.connection import parse_date

            params[key] = i18n.date(parse_date(exc.params[key]))
    extra = {"case_id": exc.params["case_id"]} if exc.params.get("case_id") else {}
    return Refusal(exc.code, t(f"class_error.{exc.code}", **params), **extra)


def run(args, session) -> int:
    from db.classes import ClassError, TraineeRefused

    try:
        return _COMMANDS[args.class_command](args, session)
    except (ClassError, TraineeRefused) as exc:
        raise class_refusal(exc) from None


def _date(text):
    from tui.cli import _option_date

    return _option_date(text) if text else None


def _unit(session, text):
    from db.units import find_unit

    return find_unit(session.actor, text, session.today) if text else None


def _ids(text: str) -> list[int]:
    from tui.cli import Refusal, safe

    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise Refusal("bad_value", t("error.bad_value", value=safe(text))) from None


def _class_json(row, trainees=None) -> dict:
    from tui.cli import _iso, _ref_json

    doc = {"id": row.id, "kind": row.kind, "name": row.name, "organiser": row.organiser,
           "unit": _ref_json(row.unit), "year": row.year, "planned_start": _iso(row.planned_start),
           "start": _iso(row.start), "end": _iso(row.end), "place": row.place,
           "capacity": row.capacity, "status": row.status, "enrolled": row.enrolled,
           "passed": row.passed, "failed": row.failed}
    if trainees is not None:
        doc["trainees"] = [
            {"person_id": p.person_id, "full_name": p.full_name, "branch": _ref_json(p.branch),
             "case_id": p.case_id, "stage": p.stage, "enrolled_on": _iso(p.enrolled_on),
             "result": p.result,
             "certificate": {"number": p.certificate_number, "issued": _iso(p.certificate_issued)}
             if p.certificate_number else None} for p in trainees]
    return doc


def _plans(session, unit, year: int) -> list:
    """The class plans of the year for the unit (or every planning unit the actor sees)."""
    from db import classes, models

    CP = models.ClassPlan
    query = CP.select(CP.unit, CP.kind).where(CP.year == year).order_by(CP.unit, CP.kind)
    if unit is not None:
        query = query.where(CP.unit == unit.id)
    out = []
    for unit_id, kind in query.tuples():
        try:
            out.append(classes.plan_progress(session.actor, unit_id, year, session.today, kind))
        except classes.NotFound:
            continue
    return out


def cmd_list(args, session) -> int:
    from db import classes
    from tui.cli import _console, _iso, _ref_json, _table, _text, print_json, safe

    year = args.year or session.today.year
    unit = _unit(session, args.unit)
    rows = classes.list_classes(session.actor, session.today, unit_id=unit.id if unit else None,
                                year=year, kind=args.kind)
    plans = _plans(session, unit, year)
    notes = classes.warnings(session.actor, session.today, unit.id if unit else None)
    if args.json:
        print_json({
            "year": year, "as_of": _iso(session.today),
            "plans": [{"unit": _ref_json(p.unit), "kind": p.kind, "planned": p.planned,
                       "planned_trainees": p.planned_trainees, "held": p.held, "trainees": p.trainees,
                       "percent": round(p.percent, 1) if p.percent is not None else None}
                      for p in plans],
            "classes": [_class_json(r, classes.class_view(session.actor, r.id, session.today).trainees)
                        for r in rows],
            "warnings": [{"code": w.code, "case_id": w.case_id, "full_name": w.full_name,
                          "branch": _ref_json(w.branch), "due": _iso(w.due)} for w in notes]})
        return 0
    console = _console()
    for p in plans:
        console.print(_text(t("cli.classes.plan_line", unit=safe(p.unit.name), year=year,
                              kind=i18n.code_name("class_kind", p.kind), held=p.held,
                              planned=p.planned if p.planned is not None else "?",
                              percent=i18n.percent(p.percent) if p.percent is not None else "—",
                              trainees=i18n.number(p.trainees)), "bold"))
    if not rows:
        console.print(_text(t("cli.classes.none", year=year)))
    else:
        table_rows = [(str(r.id), r.name,
                       i18n.date(r.start or r.planned_start), i18n.code_name("class_status", r.status),
                       f"{r.enrolled}/{r.capacity}" if r.capacity else str(r.enrolled), str(r.passed))
                      for r in rows]
        console.print(_table("cli.classes.title", ("cli.classes.col_id", "cli.classes.col_name", "cli.classes.col_start",
                                                   "cli.classes.col_status", "cli.classes.col_enrolled",
                                                   "cli.classes.col_passed"), table_rows))
    for w in notes:
        console.print(_text(f"! {safe(w.full_name)} ({safe(w.branch.name)}, {w.case_id}): "
                            + t(f"class_warning.{w.code}", due=i18n.date(w.due))))
    return 0


def cmd_new(args, session) -> int:
    from db import classes
    from tui.cli import print_json, safe

    unit = _unit(session, args.unit)
    class_id = classes.new_class(
        session.actor, kind=args.kind, name=args.name, unit_id=unit.id,
        planned_start=_date(args.planned_start), organiser=args.organiser, year=args.year,
        start=_date(args.start), end=_date(args.end), place=args.place, capacity=args.capacity,
        today=session.today)
    if args.json:
        print_json({"ok": True, "id": class_id})
    else:
        print(t("cli.classes.created", id=class_id, name=safe(args.name)))
    return 0


def cmd_set(args, session) -> int:
    from db import classes

    changes = {}
    for key in ("name", "place", "organiser", "capacity", "status"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    for key in ("planned_start", "start", "end"):
        if getattr(args, key) is not None:
            changes[key] = _date(getattr(args, key))
    classes.update_class(session.actor, args.id, session.today, **changes)
    print(t("cli.classes.changed", id=args.id))
    return 0


def cmd_plan(args, session) -> int:
    from db import classes
    from tui.cli import safe

    unit = _unit(session, args.unit)
    classes.set_plan(session.actor, unit.id, args.year, args.kind, args.classes, args.trainees,
                     session.today)
    print(t("cli.classes.planned", unit=safe(unit.name), year=args.year, n=args.classes,
            kind=i18n.code_name("class_kind", args.kind)))
    return 0


def cmd_enrol(args, session) -> int:
    from db import classes
    from tui.cli import print_json

    ids = classes.enrol(session.actor, args.id, args.cases, session.today, date=_date(args.date))
    if args.json:
        print_json({"ok": True, "enrolled": len(ids), "cases": args.cases})
    else:
        print(t("cli.classes.enrolled", n=len(ids), id=args.id))
    return 0


def cmd_result(args, session) -> int:
    from db import classes
    from tui.cli import Refusal, print_json

    passed, failed, left = _ids(args.passed), _ids(args.failed), _ids(args.left)
    if args.numbers:
        numbers = [n.strip() for n in args.numbers.split(",") if n.strip()]
    elif args.first_number:
        numbers = classes.number_series(args.first_number, len(passed))
    else:
        numbers = []
    if passed and len(numbers) != len(passed):
        raise Refusal("missing_value", t("cli.classes.numbers_needed", n=len(passed), given=len(numbers)))
    issued = _date(args.issued)
    results = ([classes.ResultInput(c, "passed", n, issued) for c, n in zip(passed, numbers)]
               + [classes.ResultInput(c, "failed", None, issued) for c in failed]
               + [classes.ResultInput(c, "left", None, issued) for c in left])
    classes.record_results(session.actor, args.id, results, session.today)
    if args.json:
        print_json({"ok": True, "passed": len(passed), "failed": len(failed), "left": len(left),
                    "numbers": numbers})
    else:
        print(t("cli.classes.results", passed=len(passed), failed=len(failed) + len(left), id=args.id))
    return 0


_COMMANDS = {"list": cmd_list, "new": cmd_new, "set": cmd_set, "plan": cmd_plan,
             "enrol": cmd_enrol, "result": cmd_result}
