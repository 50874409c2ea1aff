"""`ketnap migrate-to URL`: the whole SQLite database copied into an empty PostgreSQL database
(db/migrate_to.py does the work). Refused over SSH, as backup is: it names a server."""

from __future__ import annotations

import sys

from tui import i18n
from tui.i18n import t

COMMANDS = ("migrate-to",)


def add_parsers(commands) -> None:
    parser = commands.add_parser("migrate-to", help=t("cli.migrate.help"), description=t("cli.migrate.help"),
                                 allow_abbrev=False)
    parser.add_argument("url", metavar="URL", help=t("cli.migrate.help_url"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def run(args, session) -> int:
    from db import connection, migrate_to
    from tui.cli import Refusal, print_json, safe

    def progress(table: str, rows: int) -> None:
        if not args.json and sys.stderr.isatty():
            sys.stderr.write("\r\033[K" + t("cli.migrate.progress", table=table, n=i18n.number(rows)))
            sys.stderr.flush()

    try:
        result = migrate_to.migrate_to(session.actor, args.url, progress=progress)
    except migrate_to.MigrateError as exc:
        params = {"url": safe(connection.shown_location(args.url)), "message": "", "table": "", "copied": "",
                  "there": "", "id": "", "reason": ""}
        params.update({k: safe(v) for k, v in exc.params.items()})
        raise Refusal(exc.code, t(f"cli.migrate.error.{exc.code}", **params)) from None
    if not args.json and sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    if args.json:
        print_json({"ok": True, "target": result.target, "rows": result.rows,
                    "audit_entries": result.audit_entries})
        return 0
    print(t("cli.migrate.done", n=i18n.number(sum(result.rows.values())), tables=i18n.number(len(result.rows)),
            entries=i18n.number(result.audit_entries)))
    print(t("cli.migrate.next", url=safe(result.target)))
    return 0
