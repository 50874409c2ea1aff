"""`ketnap unit reorganise-2025`: the guided 2025 reorganisation (db.reorganise_2025).

    ketnap unit reorganise-2025 --template > plan.toml     a plan for this database, to edit
    ketnap unit reorganise-2025 --plan plan.toml           what it would move where (nothing saved)
    ketnap unit reorganise-2025 --plan plan.toml --apply   a copy of the database file, then saved

`--plan -` reads the plan from standard input (the only way over SSH).
"""

from __future__ import annotations

import sys

from tui import i18n
from tui.i18n import t


def add_parser(unit_commands) -> None:
    p = unit_commands.add_parser("reorganise-2025", help=t("cli.reorganise.help"),
                                 description=t("cli.reorganise.help"), allow_abbrev=False)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--template", action="store_true", help=t("cli.reorganise.help_template"))
    what.add_argument("--plan", metavar="FILE", help=t("cli.reorganise.help_plan"))
    p.add_argument("--apply", action="store_true", help=t("cli.reorganise.help_apply"))
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _outcome_json(outcome) -> dict:
    return {"change_id": outcome.change_id, "kind": outcome.kind, "sources": outcome.sources,
            "results": outcome.results, "moved": [m.__dict__ for m in outcome.moved], "applied": outcome.applied}


def run(args, session) -> int:
    from db import reorganise_2025
    from db.access import AccessError, NotFound
    from db.reorganise import ChangeError
    from db.reorganise_2025 import PlanError
    from tui.cli import Refusal, print_json, refusal_from, safe
    from tui.reorganise_text import change_error_text

    if args.template:
        sys.stdout.write(reorganise_2025.template(session.today))
        return 0
    try:
        if args.plan == "-":
            text = sys.stdin.read()
        else:
            with open(args.plan, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise Refusal("bad_value", t("cli.reorganise.unreadable", file=safe(args.plan),
                                     message=safe(exc))) from None
    try:
        plan = reorganise_2025.read_plan(text)
        copy = None
        if args.apply:
            result, copy = reorganise_2025.run_after_copy(session.actor, session.today, plan)
        else:
            result = reorganise_2025.preview(session.actor, session.today, plan)
    except (ChangeError, PlanError) as exc:
        raise Refusal(exc.code, change_error_text(exc)) from None
    except (AccessError, NotFound) as exc:
        raise refusal_from(exc, session.actor) from None
    if args.json:
        print_json({"saved": result.saved, "copy": str(copy) if copy else None,
                    "changes": [_outcome_json(o) for o in result.outcomes],
                    "open_files_outside": result.open_files_outside, "units_left": result.units_left,
                    "communes": [{"code": c, "name": n, "members": m, "open_files": f, "branches": b}
                                 for c, n, m, f, b in result.communes]})
        return 0
    effective = i18n.date(plan.decision.effective)
    print(t("cli.reorganise.saved" if result.saved else "cli.reorganise.preview",
            decision=safe(plan.decision.number), effective=effective))
    for outcome in result.outcomes:
        print(t("cli.reorganise.change", kind=i18n.code_name("change_kind", outcome.kind),
                sources=safe(", ".join(outcome.sources)), results=safe(", ".join(outcome.results))))
        for moved in outcome.moved:
            if moved.people or moved.files or moved.units:
                print(t("cli.reorganise.moved", source=safe(moved.source), target=safe(moved.target),
                        members=i18n.number(moved.members), people=i18n.number(moved.people),
                        files=i18n.number(moved.files), units=i18n.number(moved.units)))
    if result.communes:
        print(t("cli.reorganise.communes_after", effective=effective))
        for code, name, members, files, branches in result.communes:
            print(t("cli.reorganise.commune", code=safe(code), name=safe(name), members=i18n.number(members),
                    files=i18n.number(files), branches=i18n.number(branches)))
    if result.open_files_outside:
        print(t("cli.reorganise.files_outside", n=i18n.number(result.open_files_outside)))
    if result.units_left:
        print(t("cli.reorganise.units_left", units=safe(", ".join(result.units_left))))
    if not result.open_files_outside and not result.units_left:
        print(t("cli.reorganise.all_live"))
    if result.saved:
        if copy:
            print(t("cli.reorganise.copy", path=str(copy)))
    else:
        print(t("cli.reorganise.nothing_saved"))
    return 0
