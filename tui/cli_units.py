"""`ketnap unit change KIND ...`: the command-line side of db.reorganise (found, rename, merge,
split, dissolve, transfer), and the units' change history shown by `ketnap units --all`.
tui/cli.py builds the parsers with `add_parsers` and hands the command to `run`.

Units are named as everywhere else (`U`: a code or a name, db.units.find_unit). Two choices of
this module:

- `split --into CODE:NAME` founds a new unit; `--into U` (no colon) names an existing unit that
  receives part of the source. `--assign PERSON=R` and `--rest R` name a result by the code
  given in `--into` (or the existing unit's code, or the text typed for it).
- `--effective` defaults to `--decided`: a decision "effective from the day it is signed".
"""

from __future__ import annotations

from tui import i18n
from tui.i18n import t

COMMANDS = ("unit",)
_NEW = "new"  # a split result to be founded, versus an existing unit's id


def add_parsers(commands):
    """`ketnap unit ...`; returns the parsers of its actions, for other `unit` actions."""
    from db.reorganise import KINDS, ORG_TYPES
    from tui.cli import _positive

    def parser(parent, name: str, key: str):
        return parent.add_parser(name, help=t(f"cli.unit_change.help_{key}"),
                                 description=t(f"cli.unit_change.help_{key}"), allow_abbrev=False)

    unit = parser(commands, "unit", "unit")
    unit_commands = unit.add_subparsers(dest="unit_command", metavar="ACTION", required=True)
    change = parser(unit_commands, "change", "change")
    kinds = change.add_subparsers(dest="change_kind", metavar="KIND", required=True)
    by_kind = {kind: parser(kinds, kind, kind) for kind in KINDS}
    for kind, p in by_kind.items():
        p.set_defaults(change_parser=p)

    def unit_option(p, name: str, key: str, **kwargs) -> None:
        p.add_argument(name, metavar="U", help=t(f"cli.unit_change.help_{key}"), **kwargs)

    p = by_kind["found"]
    unit_option(p, "--parent", "found_parent", required=True)
    p.add_argument("--code", metavar="CODE", required=True, help=t("cli.unit_change.help_code"))
    p.add_argument("--name", metavar="NAME", required=True, help=t("cli.unit_change.help_name"))
    p.add_argument("--org-type", choices=ORG_TYPES, metavar="T", help=t("cli.unit_change.help_org_type",
                                                                          choices=", ".join(ORG_TYPES)))
    categories = _codes("category")
    p.add_argument("--category", choices=categories, metavar="C",
                   help=t("cli.unit_change.help_category", choices=", ".join(categories)))
    levels = _codes("level")
    p.add_argument("--level", choices=levels, metavar="L",
                   help=t("cli.unit_change.help_level", choices=", ".join(levels)))
    p.add_argument("--population", type=_positive, metavar="N", help=t("cli.unit_change.help_population"))

    p = by_kind["rename"]
    unit_option(p, "--unit", "rename_unit", required=True)
    p.add_argument("--name", metavar="NAME", required=True, help=t("cli.unit_change.help_new_name"))

    p = by_kind["merge"]
    unit_option(p, "--from", "merge_from", required=True, action="append", dest="sources")
    into = p.add_mutually_exclusive_group(required=True)
    into.add_argument("--into", metavar="NAME", help=t("cli.unit_change.help_merge_into"))
    into.add_argument("--into-unit", metavar="U", help=t("cli.unit_change.help_merge_into_unit"))
    p.add_argument("--code", metavar="CODE", help=t("cli.unit_change.help_merge_code"))
    unit_option(p, "--parent", "merge_parent")

    p = by_kind["split"]
    unit_option(p, "--from", "split_from", required=True, dest="source")
    p.add_argument("--into", metavar="CODE:NAME|U", action="append", required=True, dest="results",
                   help=t("cli.unit_change.help_split_into"))
    p.add_argument("--assign", metavar="PERSON=CODE", action="append", default=[],
                   help=t("cli.unit_change.help_assign"))
    p.add_argument("--rest", metavar="CODE", help=t("cli.unit_change.help_rest"))

    p = by_kind["dissolve"]
    unit_option(p, "--unit", "dissolve_unit", required=True)
    unit_option(p, "--receiver", "receiver", required=True)

    p = by_kind["transfer"]
    unit_option(p, "--unit", "transfer_unit", required=True)
    unit_option(p, "--parent", "transfer_parent", required=True)

    for p in by_kind.values():
        p.add_argument("--decision", metavar="NO", required=True, help=t("cli.unit_change.help_decision"))
        p.add_argument("--decided", metavar="D", required=True, help=t("cli.unit_change.help_decided"))
        p.add_argument("--effective", metavar="D", help=t("cli.unit_change.help_effective"))
        p.add_argument("--note", metavar="TEXT", help=t("cli.unit_change.help_note"))
        p.add_argument("--json", action="store_true", help=t("cli.help.json"))
    from tui import cli_reorganise

    cli_reorganise.add_parser(unit_commands)
    return unit_commands


def _codes(group: str) -> list[str]:
    prefix = group + "."
    return [key[len(prefix):] for key in i18n.catalogue() if key.startswith(prefix)]


# --- running a change --------------------------------------------------------------------------

def run(args, session) -> int:
    if args.unit_command == "reorganise-2025":
        from tui import cli_reorganise

        return cli_reorganise.run(args, session)
    if args.unit_command == "change":
        return run_change(args, session)
    raise AssertionError(f"unhandled unit command {args.unit_command!r}")


def run_change(args, session) -> int:
    from db import reorganise
    from db.access import AccessError, NotFound, may_override
    from tui.cli import Refusal, safe
    from tui.reorganise_text import change_error_text

    actor = session.actor
    if not may_override(actor):  # refused before any unit is looked up (the db refuses it too)
        raise AccessError("forbidden", role=actor.role)
    try:
        return _KINDS[args.change_kind](args, session)
    except SystemExit as exc:  # wrong usage found after parsing (parser.error): exit status 2
        return exc.code if isinstance(exc.code, int) else 2
    except reorganise.ChangeError as exc:
        raise Refusal(exc.code, change_error_text(exc), params=exc.params) from None
    except NotFound as exc:  # a unit in the account's scope today, but not on the effective day
        from db import models

        unit = models.Unit.get_or_none(models.Unit.id == exc.args[0]) if exc.args else None
        raise Refusal("not_found", t("cli.unit_change.not_in_scope",
                                     unit=safe(unit.code if unit else ""))) from None


def _decision(args):
    from db.reorganise import Decision
    from tui.cli import _option_date

    decided = _option_date(args.decided)
    effective = _option_date(args.effective) if args.effective else decided
    return Decision(args.decision, decided, effective, args.note)


def _unit(session, text: str):
    from db.units import find_unit

    return find_unit(session.actor, text, session.today)


def _found(args, session) -> int:
    from db import reorganise
    from db.reorganise import NewUnit

    decision = _decision(args)
    parent = _unit(session, args.parent)
    new = NewUnit(args.code, args.name, org_type=args.org_type, category=args.category,
                  level=args.level, population=args.population)
    outcome = reorganise.found(session.actor, session.today, decision, parent.id, new)
    return _report(args, decision, outcome, founded=set(outcome.results))


def _rename(args, session) -> int:
    from db import reorganise

    from db.text import clean

    decision = _decision(args)
    unit = _unit(session, args.unit)
    outcome = reorganise.rename(session.actor, session.today, decision, unit.id, args.name)
    return _report(args, decision, outcome, renamed=(unit.name, clean(args.name)))


def _merge(args, session) -> int:
    from db import reorganise
    from db.reorganise import NewUnit

    decision = _decision(args)
    if args.into is not None and not args.code:
        args.change_parser.error(t("cli.unit_change.merge_needs_code"))
    if args.into_unit is not None and (args.code or args.parent):
        args.change_parser.error(t("cli.unit_change.merge_unit_options"))
    sources = [_unit(session, text).id for text in args.sources]
    if args.into_unit is not None:
        into = _unit(session, args.into_unit).id
        parent = None
    else:
        into = NewUnit(args.code, args.into)
        parent = _unit(session, args.parent).id if args.parent else None
    outcome = reorganise.merge(session.actor, session.today, decision, sources, into, parent_id=parent)
    return _report(args, decision, outcome, founded=set() if args.into_unit else set(outcome.results))


def _split(args, session) -> int:
    from db import reorganise
    from db.reorganise import NewUnit

    decision = _decision(args)
    source = _unit(session, args.source)
    results, names = [], []  # what reorganise.split takes; the names each result answers to
    for text in args.results:
        if ":" in text:
            code, name = (part.strip() for part in text.split(":", 1))
            results.append(NewUnit(code, name))
            names.append([code])
        else:
            unit = _unit(session, text)
            results.append(unit.id)
            names.append([unit.code, text.strip()])
    assign = {}
    for item in args.assign:
        person, sep, target = item.partition("=")
        if not sep or not person.strip() or not target.strip():
            args.change_parser.error(t("cli.unit_change.bad_assign", value=item))
        assign[_person(person.strip())] = _result_index(target, names)
    rest = _result_index(args.rest, names) if args.rest else None
    outcome = reorganise.split(session.actor, session.today, decision, source.id, results, assign, rest)
    founded = {code for result, code in zip(results, outcome.results) if not isinstance(result, int)}
    return _report(args, decision, outcome, founded=founded)


def _person(text: str) -> int:
    """A person by citizen ID, else by the person's id."""
    from db import models
    from tui.cli import Refusal, safe

    P = models.Person
    found = P.select(P.id).where(P.citizen_id == text).scalar()
    if found is not None:
        return found
    if text.isdigit():
        return int(text)
    raise Refusal("bad_value", t("cli.unit_change.bad_person", value=safe(text)))


def _result_index(text: str, names: list[list[str]]) -> int:
    from db.text import fold
    from tui.cli import Refusal, safe

    wanted = text.strip()
    for test in (lambda name: name == wanted, lambda name: fold(name) == fold(wanted)):
        for index, answers_to in enumerate(names):
            if any(test(name) for name in answers_to):
                return index
    choices = ", ".join(n[0] for n in names)
    raise Refusal("bad_value", t("cli.unit_change.bad_result", value=safe(wanted), choices=safe(choices)))


def _dissolve(args, session) -> int:
    from db import reorganise

    decision = _decision(args)
    source, receiver = _unit(session, args.unit), _unit(session, args.receiver)
    outcome = reorganise.dissolve(session.actor, session.today, decision, source.id, receiver.id)
    return _report(args, decision, outcome)


def _transfer(args, session) -> int:
    from db import models, reorganise

    decision = _decision(args)
    unit, parent = _unit(session, args.unit), _unit(session, args.parent)
    before = reorganise.parent_on(unit.id, decision.effective)
    was = models.Unit.get_or_none(models.Unit.id == before) if before else None
    outcome = reorganise.transfer(session.actor, session.today, decision, unit.id, parent.id)
    return _report(args, decision, outcome, was=was)


_KINDS = {"found": _found, "rename": _rename, "merge": _merge, "split": _split, "dissolve": _dissolve,
          "transfer": _transfer}


# --- what was done ---------------------------------------------------------------------------------

def outcome_json(decision, outcome) -> dict:
    return {"ok": True, "change_id": outcome.change_id, "kind": outcome.kind,
            "decision": decision.number.strip(), "decided": decision.decided.isoformat(),
            "effective": decision.effective.isoformat(), "sources": list(outcome.sources),
            "results": list(outcome.results),
            "moved": [{"source": m.source, "target": m.target, "members": m.members, "people": m.people,
                       "files": m.files, "units": m.units} for m in outcome.moved],
            "applied": outcome.applied}


def _report(args, decision, outcome, *, founded=frozenset(), renamed=None, was=None) -> int:
    from db import models
    from tui.cli import _console, _text, print_json, safe

    if args.json:
        print_json(outcome_json(decision, outcome))
        return 0
    U = models.Unit
    units = {u.code: u for u in U.select().where(U.code.in_(list(outcome.sources) + list(outcome.results)))}

    def named(code: str) -> str:
        unit = units.get(code)
        return f"{safe(unit.name)} [{safe(code)}]" if unit else safe(code)

    day = i18n.date(decision.effective)
    console = _console()
    console.print(_text(t("cli.unit_change.done", kind=i18n.code_name("change_kind", outcome.kind),
                          id=outcome.change_id), "bold"))
    console.print(_text(t("cli.unit_change.decision", decision=safe(decision.number.strip()),
                          decided=i18n.date(decision.decided), effective=day)))
    if outcome.kind == "rename" and renamed:
        console.print(_text(t("cli.unit_change.renamed", date=day, code=safe(outcome.sources[0]))))
        console.print(_text("  " + t("cli.unit_change.old_name", name=safe(renamed[0]))))
        console.print(_text("  " + t("cli.unit_change.new_name", name=safe(renamed[1]))))
    elif outcome.kind == "transfer":
        console.print(_text(t("cli.unit_change.transferred", date=day, unit=named(outcome.sources[0]))))
        if was is not None:
            console.print(_text("  " + t("cli.unit_change.was_under", unit=f"{safe(was.name)} [{safe(was.code)}]")))
        console.print(_text("  " + t("cli.unit_change.now_under", unit=named(outcome.results[0]))))
    else:
        if outcome.kind in ("merge", "split", "dissolve"):
            _list(console, t("cli.unit_change.ended", date=day), [named(c) for c in outcome.sources])
        if outcome.kind == "found":
            parent = U.get_or_none(U.code == outcome.results[0])
            parent = parent.parent if parent else None
            lines = [named(outcome.results[0])]
            if parent is not None:
                lines.append("  " + t("cli.unit_change.under", unit=f"{safe(parent.name)} [{safe(parent.code)}]"))
            _list(console, t("cli.unit_change.founded", date=day), lines)
        else:
            _list(console, t("cli.unit_change.founded", date=day),
                  [named(c) for c in outcome.results if c in founded])
            _list(console, t("cli.unit_change.receiving"), [named(c) for c in outcome.results if c not in founded])
    if outcome.moved:
        lines = []
        for m in outcome.moved:
            what = t("cli.unit_change.moved_counts", people=i18n.number(m.people), members=i18n.number(m.members),
                     files=i18n.number(m.files))
            if m.units:
                what += ", " + t("cli.unit_change.moved_units", units=i18n.number(m.units))
            lines.append(f"{safe(m.source)} → {safe(m.target)}: {what}")
        _list(console, t("cli.unit_change.moved"), lines)
    if outcome.applied:
        console.print(_text(t("cli.unit_change.applied")))
    else:
        console.print(_text(t("cli.unit_change.pending", date=day), "bold"))
    return 0


def _list(console, title: str, lines: list[str]) -> None:
    from tui.cli import _text

    if not lines:
        return
    console.print(_text(title))
    for line in lines:
        console.print(_text("  " + line))


# --- the history in `ketnap units --all` ---------------------------------------------------------

def unit_histories() -> dict[int, list[dict]]:
    """unit id -> its changes (db.reorganise.history), for the units that took part in one."""
    from db import models, reorganise

    P = models.UnitChangePart
    out = {}
    for (unit_id,) in P.select(P.unit).distinct().tuples():
        out[unit_id] = [
            {"change_id": h.change_id, "kind": h.kind, "decision": h.decision, "decided": h.decided.isoformat(),
             "effective": h.effective.isoformat(), "role": h.role, "made_from": list(h.made_from),
             "became": list(h.became), "old_name": h.old_name, "new_name": h.new_name, "applied": h.applied}
            for h in reorganise.history(unit_id)]
    return out


def tree_note(history: list[dict] | None) -> str:
    """A short line for the tree: "← NS-NP-01, NS-NP-02" (made from) / "→ NS-NP-40" (went to),
    for merges, splits and dissolutions, with the day of one not yet in effect; "" when there
    are none."""
    import datetime

    notes = []
    for entry in history or ():
        if entry["kind"] not in ("merge", "split", "dissolve"):
            continue
        if entry["role"] == "result" and entry["made_from"]:
            note = "← " + ", ".join(entry["made_from"])
        elif entry["role"] == "source" and entry["became"]:
            note = "→ " + ", ".join(entry["became"])
        else:
            continue
        if not entry["applied"]:
            note += " " + t("cli.unit_change.tree_from", date=i18n.date(datetime.date.fromisoformat(entry["effective"])))
        notes.append(note)
    return " · ".join(notes)
