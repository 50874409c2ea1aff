"""`ketnap users`, `ketnap audit`, `ketnap check` and `ketnap whoami`: accounts, the audit trail
and the integrity check. tui/cli.py builds the parsers with `add_parsers` and hands the commands
to `run`."""

from __future__ import annotations

from tui import i18n
from tui.i18n import t

COMMANDS = ("users", "audit", "check", "whoami")


def add_parsers(commands) -> None:
    from db.access import ROLES
    from tui.cli import _positive

    def parser(parent, name: str, key: str):
        return parent.add_parser(name, help=t(f"cli.admin.help_{key}"),
                                 description=t(f"cli.admin.help_{key}"), allow_abbrev=False)

    users = parser(commands, "users", "users")
    sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = parser(sub, "add", "users_add")
    add.add_argument("name", metavar="NAME", help=t("cli.admin.help_name"))
    add.add_argument("--role", choices=ROLES, required=True, help=t("cli.admin.help_role"))
    add.add_argument("--unit", metavar="U", help=t("cli.admin.help_unit"))
    add.add_argument("--full-name", metavar="TEXT", help=t("cli.admin.help_full_name"))
    listing = parser(sub, "list", "users_list")
    listing.add_argument("--all", action="store_true", help=t("cli.admin.help_all"))
    listing.add_argument("--json", action="store_true", help=t("cli.help.json"))
    for name in ("disable", "enable"):
        p = parser(sub, name, f"users_{name}")
        p.add_argument("name", metavar="NAME", help=t("cli.admin.help_name"))
    role = parser(sub, "role", "users_role")
    role.add_argument("name", metavar="NAME", help=t("cli.admin.help_name"))
    role.add_argument("role", choices=ROLES, metavar="ROLE", help=t("cli.admin.help_role"))
    role.add_argument("--unit", metavar="U", help=t("cli.admin.help_unit"))

    audit = parser(commands, "audit", "audit")
    audit.add_argument("--unit", metavar="U", help=t("cli.admin.help_audit_unit"))
    audit.add_argument("--person", type=_positive, metavar="ID", help=t("cli.admin.help_person"))
    audit.add_argument("--case", type=_positive, metavar="ID", help=t("cli.admin.help_case"))
    audit.add_argument("--since", metavar="D", help=t("cli.admin.help_since"))
    audit.add_argument("--limit", type=_positive, default=200, metavar="N", help=t("cli.admin.help_limit"))
    audit.add_argument("--json", action="store_true", help=t("cli.help.json"))

    check = commands.add_parser("check", help=t("cli.admin.rules.help_check"),
                                description=t("cli.admin.rules.help_check"), allow_abbrev=False)
    check.add_argument("--json", action="store_true", help=t("cli.help.json"))
    check.add_argument("--repair", action="store_true", help=t("cli.admin.help_check_repair"))

    whoami = parser(commands, "whoami", "whoami")
    whoami.add_argument("--json", action="store_true", help=t("cli.help.json"))


def run(args, session) -> int:
    from db.accounts import AccountError
    from tui.cli import Refusal, safe

    try:
        if args.command == "users":
            return cmd_users(args, session)
        if args.command == "audit":
            return cmd_audit(args, session)
        if args.command == "check":
            return cmd_check(args, session)
        return cmd_whoami(args, session)
    except AccountError as exc:
        params = {k: safe(v) for k, v in exc.params.items()}
        if "role" in params:
            params["role"] = i18n.code_name("role", exc.params["role"])
        raise Refusal(exc.code, t(f"account_error.{exc.code}", **params)) from None


def _unit_id(session, text: str | None) -> int | None:
    from db.units import find_unit

    return find_unit(session.actor, text, session.today).id if text else None


def cmd_users(args, session) -> int:
    from db import accounts
    from tui.cli import _console, _table, print_json, safe

    actor = session.actor
    command = args.users_command
    if command == "add":
        accounts.add(actor, args.name, args.role, _unit_id(session, args.unit), full_name=args.full_name)
        print(t("cli.admin.added", name=safe(args.name), role=i18n.code_name("role", args.role)))
        return 0
    if command == "role":
        accounts.set_role(actor, args.name, args.role, _unit_id(session, args.unit))
        print(t("cli.admin.role_changed", name=safe(args.name), role=i18n.code_name("role", args.role)))
        return 0
    if command in ("disable", "enable"):
        accounts.set_disabled(actor, args.name, command == "disable")
        print(t(f"cli.admin.{command}d", name=safe(args.name)))
        return 0
    rows = accounts.list_accounts(actor, include_disabled=args.all)
    if args.json:
        print_json({"accounts": [
            {"name": a.name, "full_name": a.full_name, "role": a.role,
             "unit": {"code": a.unit_code, "name": a.unit_name} if a.unit_id else None,
             "disabled": a.disabled, "created_at": a.created_at.isoformat(timespec="seconds")}
            for a in rows]})
        return 0
    table_rows = [(a.name, a.full_name or "", i18n.code_name("role", a.role),
                   a.unit_name or t("cli.admin.everything"),
                   t("cli.admin.disabled_mark") if a.disabled else "") for a in rows]
    _console().print(_table("cli.admin.users_title",
                            ("cli.admin.col_name", "cli.admin.col_full_name", "cli.admin.col_role",
                             "cli.admin.col_unit", "cli.admin.col_state"), table_rows))
    return 0


def _what(entry) -> str:
    """A short line for what an entry changed."""
    before, after = entry.before, entry.after
    if entry.entity == "account" and isinstance(after, dict):
        return f"{after.get('name')}: {i18n.code_name('role', after.get('role'))}"
    if entry.entity == "unit_change" and isinstance(after, dict):  # the decision, what became what
        return (f"{after.get('decision')}: {', '.join(after.get('sources') or [])} → "
                f"{', '.join(after.get('results') or [])}")
    if isinstance(before, dict) and isinstance(after, dict) and "stage" in before and "stage" in after \
            and before["stage"] != after["stage"]:
        return f"{i18n.code_name('stage', before['stage'])} → {i18n.code_name('stage', after['stage'])}"
    if isinstance(after, dict):
        for key in ("stage", "role", "outcome", "reason", "kind"):
            if after.get(key):
                value = after[key]
                return i18n.code_name(key, value) if key in ("stage", "role", "outcome") else str(value)
    return ""


def cmd_audit(args, session) -> int:
    from db import audit
    from tui.cli import _console, _option_date, _table, print_json, safe

    since = _option_date(args.since) if args.since else None
    unit_id = _unit_id(session, args.unit)
    rows = audit.entries(session.actor, session.today, unit_id=unit_id, person_id=args.person,
                         case_id=args.case, since=since, limit=args.limit)
    if args.json:
        print_json({"entries": [
            {"id": e.id, "at": e.at.isoformat(timespec="seconds"), "account": e.account,
             "action": e.action, "entity": e.entity, "entity_id": e.entity_id,
             "unit": {"id": e.unit_id, "name": e.unit_name} if e.unit_id else None,
             "person": {"id": e.person_id, "full_name": e.person_name} if e.person_id else None,
             "before": e.before, "after": e.after} for e in rows]})
        return 0
    action = lambda code: t(f"audit_action.{code}") if i18n.has(f"audit_action.{code}") else code  # noqa: E731
    table_rows = [(e.at.strftime("%d/%m/%Y %H:%M"), e.account or "", action(e.action),
                   e.person_name or "", e.unit_name or "", safe(_what(e))) for e in rows]
    console = _console()
    if not table_rows:
        console.print(t("cli.admin.audit_empty"))
        return 0
    console.print(_table("cli.admin.audit_title",
                         ("cli.admin.col_at", "cli.admin.col_account", "cli.admin.col_action",
                          "cli.admin.col_person", "cli.admin.col_unit", "cli.admin.col_what"),
                         table_rows))
    return 0


def cmd_check(args, session) -> int:
    from db import connection, worklist
    from db.access import require_admin
    from tui.cli import print_json

    require_admin(session.actor)
    if args.repair:
        with connection.write_transaction():
            connection.install_cache_triggers(connection.models.database.obj)
            worklist.restore_stored()
        print(t("cli.admin.check_repaired"))
    ok, document, lines = check_report(session.today)
    if args.json:
        print_json(document)
    else:
        for line in lines:
            print(line)
    return 0 if ok else 1


def check_report(today) -> tuple[bool, dict, list[str]]:
    """What `ketnap check` finds on the bound database: (ok, the JSON document, the lines of
    text). Also run by `ketnap restore` on the database it put in place."""
    from db import audit, connection, progress, rules_check, worklist
    from tui.cli import safe

    integrity = connection.integrity_problems()
    foreign = connection.foreign_key_problems()
    append_only = connection.append_only_installed(connection.models.database.obj)
    chain = audit.verify()
    database = connection.models.database.obj
    kept_triggers = connection.cache_triggers_installed(database)
    missing, wrong = worklist.stored_problems()
    class_counts_wrong = progress.class_tally_problems()
    rules = rules_check.check_recorded_steps(today)
    ok = (not integrity and not foreign and append_only and chain.ok and kept_triggers and not missing
          and not wrong and not class_counts_wrong and rules.ok)
    document = {"ok": ok, "integrity": integrity, "foreign_keys": foreign,
                "audit": {"entries": chain.entries, "first_broken": chain.first_broken,
                          "broken": chain.broken_reason,
                          "head": {"id": chain.head[0], "hash": chain.head[1]} if chain.head else None,
                          "head_problem": chain.head_problem, "behind": chain.behind,
                          "append_only": append_only},
                "stored_figures": {"triggers": kept_triggers, "files_without_next_action": missing,
                                   "next_actions_wrong": wrong, "class_counts_wrong": class_counts_wrong},
                "rules": {"files_checked": rules.files_checked,
                          "broken": [{"case_id": b.case_id, "seq": b.seq, "stage": b.stage,
                                      "date": b.date.isoformat(), "codes": list(b.codes)}
                                     for b in rules.broken]}}
    lines = []
    if integrity:
        lines.append(t("cli.admin.check_integrity_bad", problems=safe("; ".join(integrity[:5]))))
    else:
        lines.append(t("cli.admin.check_integrity_ok"))
    if foreign:
        lines.append(t("cli.admin.check_foreign_bad", n=i18n.number(len(foreign))))
    if not append_only:
        lines.append(t("cli.admin.check_triggers_gone"))
    if chain.first_broken is not None:
        lines.append(t(f"cli.admin.check_chain_{chain.broken_reason}", id=chain.first_broken))
    else:
        lines.append(t("cli.admin.check_chain_ok", n=i18n.number(chain.entries)))
    if not kept_triggers:
        lines.append(t("cli.admin.check_cache_triggers_gone"))
    if missing or wrong:
        lines.append(t("cli.admin.check_stored_bad", missing=i18n.number(missing), wrong=i18n.number(wrong)))
    if class_counts_wrong:
        lines.append(t("cli.admin.check_class_tally_bad", n=i18n.number(class_counts_wrong)))
    if chain.head_problem:
        lines.append(t(f"cli.admin.check_head_{chain.head_problem}",
                       id=chain.head[0] if chain.head else "", n=chain.behind))
    if rules.ok:
        lines.append(t("cli.admin.rules.ok", n=i18n.number(rules.files_checked)))
    else:
        files = len({b.case_id for b in rules.broken})
        lines.append(t("cli.admin.rules.bad", n=i18n.number(rules.files_checked),
                       files=i18n.number(files), steps=i18n.number(len(rules.broken))))
        for b in rules.broken[:RULES_SHOWN]:
            lines.append(t("cli.admin.rules.step", case=b.case_id, seq=b.seq,
                           stage=i18n.code_name("stage", b.stage), date=i18n.date(b.date),
                           codes=safe(", ".join(b.codes))))
        if len(rules.broken) > RULES_SHOWN:
            lines.append(t("cli.admin.rules.more", n=i18n.number(len(rules.broken) - RULES_SHOWN)))
    lines.append(t("cli.admin.check_ok" if ok else "cli.admin.check_failed"))
    return ok, document, lines


RULES_SHOWN = 50  # steps listed in the text output (--json lists them all)


def cmd_whoami(args, session) -> int:
    from db import models
    from tui.cli import print_json, safe

    actor = session.actor
    unit = models.Unit.get_or_none(models.Unit.id == actor.unit_id) if actor.unit_id else None
    if args.json:
        print_json({"name": actor.name, "role": actor.role,
                    "unit": {"code": unit.code, "name": unit.name} if unit and not actor.is_admin else None,
                    "readonly": actor.readonly})
        return 0
    scope = unit.name if unit and not actor.is_admin else t("cli.admin.everything")
    print(t("cli.admin.whoami", name=safe(actor.name), role=i18n.code_name("role", actor.role),
            unit=safe(scope)))
    if actor.readonly:
        print(t("terminal.whoami_readonly"))
    return 0
