"""`ketnap stats` and `ketnap target set|list`: the command-line side of db.progress.
tui/cli.py builds the parsers with `add_parsers` and hands the commands to `run`."""

from __future__ import annotations

from tui import i18n
from tui.i18n import t

COMMANDS = ("stats", "target")


def add_parsers(commands) -> None:
    def parser(parent, name: str, key: str):
        return parent.add_parser(name, help=t(f"cli.progress.help_{key}"),
                                 description=t(f"cli.progress.help_{key}"), allow_abbrev=False)

    stats = parser(commands, "stats", "stats")
    stats.add_argument("--unit", metavar="U", help=t("cli.progress.help_unit"))
    stats.add_argument("--year", type=int, metavar="Y", help=t("cli.progress.help_year"))
    stats.add_argument("--as-of", metavar="D", help=t("cli.progress.help_as_of"))
    stats.add_argument("--json", action="store_true", help=t("cli.help.json"))

    target = parser(commands, "target", "target")
    sub = target.add_subparsers(dest="target_command", metavar="ACTION", required=True)
    tset = parser(sub, "set", "target_set")
    tset.add_argument("--unit", metavar="U", required=True, help=t("cli.progress.help_target_unit"))
    tset.add_argument("--year", type=int, metavar="Y", help=t("cli.progress.help_target_year"))
    tset.add_argument("--term", action="store_true", help=t("cli.progress.help_term"))
    tset.add_argument("--note", metavar="TEXT", help=t("cli.progress.help_note"))
    tset.add_argument("value", type=int, metavar="N", help=t("cli.progress.help_value"))
    tlist = parser(sub, "list", "target_list")
    tlist.add_argument("--unit", metavar="U", help=t("cli.progress.help_unit"))
    tlist.add_argument("--all", action="store_true", help=t("cli.progress.help_history"))
    tlist.add_argument("--json", action="store_true", help=t("cli.help.json"))


def run(args, session) -> int:
    from db.progress import TargetError
    from tui.cli import Refusal, safe

    try:
        if args.command == "stats":
            return cmd_stats(args, session)
        if args.target_command == "set":
            return cmd_target_set(args, session)
        return cmd_target_list(args, session)
    except TargetError as exc:
        params = {k: safe(v) for k, v in exc.params.items()}
        params.setdefault("field", "")
        params.setdefault("value", "")
        params.setdefault("date", "")
        raise Refusal(exc.code, t(f"cli.progress.error_{exc.code}", **params)) from None


def _share(value: float | None) -> str:
    return i18n.percent(value) if value is not None else "—"


def cmd_stats(args, session) -> int:
    from db import progress
    from db.units import find_unit
    from tui.cli import _console, _option_date, _table, _text, print_json, safe

    year = args.year or session.today.year
    as_of = _option_date(args.as_of) if args.as_of else progress.default_as_of(year, session.today)
    unit = find_unit(session.actor, args.unit, as_of) if args.unit else None
    figures = progress.stats(session.actor, unit.id if unit else None, year, as_of)
    if args.json:
        doc = progress.stats_json(figures)
        doc["breakdown"] = progress.breakdown(session.actor, figures.unit.id, year, as_of)
        doc["stage_times"] = [
            {"stage": st.stage, "files": st.files, "median_days": st.median_days,
             "slowest": [{"case_id": c, "full_name": n, "days": d} for c, n, d in st.slowest]}
            for st in progress.stage_times(session.actor, figures.unit.id, as_of)]
        print_json(doc)
        return 0
    s = figures
    console = _console()
    console.print(_text(t("cli.progress.title", unit=safe(s.unit.name), year=year, date=i18n.date(s.as_of)),
                        "bold"))
    aware, new = s.classes["awareness"], s.classes["new_member"]
    lines = [
        ("admitted", t("cli.progress.of_target", n=i18n.number(s.admitted),
                       target=i18n.number(s.target) if s.target is not None else "—",
                       percent=_share(s.target_percent))),
        ("expected", t("cli.progress.of_target", n=i18n.number(s.expected),
                       target=i18n.number(s.target) if s.target is not None else "—",
                       percent=_share(s.expected_percent))),
        ("sent_to_class", i18n.number(s.sent_to_class)),
        ("awareness", t("cli.progress.classes", held=aware.held, planned=aware.planned,
                        percent=_share(aware.held_percent), trainees=i18n.number(aware.trainees))),
        ("new_member", t("cli.progress.classes", held=new.held, planned=new.planned,
                         percent=_share(new.held_percent), trainees=i18n.number(new.trainees))),
        ("members", t("cli.progress.members", n=i18n.number(s.members),
                      official=i18n.number(s.members_official),
                      probationary=i18n.number(s.members_probationary))),
        ("population", t("cli.progress.population", population=i18n.number(s.population),
                         percent=_share(s.members_percent_of_population))
         if s.population else "—"),
        ("branches", i18n.number(s.branches)),
        ("overdue", i18n.number(s.overdue)),
    ]
    if s.term is not None:
        lines.append(("term", t("cli.progress.term", name=safe(s.term.name), admitted=i18n.number(s.term.admitted),
                                per_year=i18n.number(s.term.admitted_per_year, 1),
                                target=i18n.number(s.term.target_per_year)
                                if s.term.target_per_year is not None else "—")))
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    for key, value in lines:
        grid.add_row(_text(t(f"cli.progress.row_{key}")), _text(value))
    console.print(grid)
    funnel = "  ".join(f"{i18n.code_name('stage', stage)} {n}" for stage, n in s.funnel.items())
    console.print(_text(t("cli.progress.funnel") + ": " + funnel))
    if s.children:
        rows = [(c.unit.name, i18n.number(c.admitted),
                 i18n.number(c.target) if c.target is not None else "",
                 _share(c.target_percent) if c.target_percent is not None else "") for c in s.children]
        console.print(_table("cli.progress.children", ("cli.progress.col_unit", "cli.progress.col_admitted",
                                                       "cli.progress.col_target", "cli.progress.col_percent"),
                             rows))
    return 0


def cmd_target_set(args, session) -> int:
    from db import progress
    from db.units import find_unit
    from tui.cli import safe

    unit = find_unit(session.actor, args.unit, session.today)
    progress.set_target(session.actor, unit.id, args.value, session.today, year=args.year,
                        term=args.term, note=args.note)
    key = "cli.progress.target_set_term" if args.term else "cli.progress.target_set"
    print(t(key, unit=safe(unit.name), year=args.year or "", n=i18n.number(args.value)))
    return 0


def cmd_target_list(args, session) -> int:
    from db import progress
    from db.units import find_unit
    from tui.cli import _console, _iso, _table, print_json

    unit = find_unit(session.actor, args.unit, session.today) if args.unit else None
    rows = progress.targets(session.actor, session.today, unit_id=unit.id if unit else None)
    if not args.all:
        rows = [r for r in rows if r.current]
    if args.json:
        print_json({"targets": [
            {"unit": {"code": r.unit.code, "name": r.unit.name}, "year": r.year, "term": r.term,
             "value": r.value, "set_on": _iso(r.set_on), "set_by": r.set_by, "note": r.note,
             "current": r.current} for r in rows]})
        return 0
    table_rows = [(r.unit.name, str(r.year) if r.year else t("cli.progress.term_of", name=r.term or ""),
                   i18n.number(r.value), i18n.date(r.set_on), r.set_by or "", r.note or "",
                   "" if r.current else t("cli.progress.superseded")) for r in rows]
    _console().print(_table("cli.progress.targets_title",
                            ("cli.progress.col_unit", "cli.progress.col_year", "cli.progress.col_target",
                             "cli.progress.col_set_on", "cli.progress.col_set_by", "cli.progress.col_note",
                             "cli.progress.col_state"), table_rows))
    return 0
