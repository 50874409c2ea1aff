"""`ketnap backup FILE` and `ketnap restore FILE` (db/backup.py does the work). tui/cli.py builds
the parsers with `add_parsers` and hands the commands to `run`; over SSH both are refused there
(a client may not name files on the server)."""

from __future__ import annotations

import sys

from tui import i18n
from tui.i18n import t

COMMANDS = ("backup", "restore")


def add_parsers(commands) -> None:
    backup = commands.add_parser("backup", help=t("cli.backup.help"), description=t("cli.backup.help"),
                                 allow_abbrev=False)
    backup.add_argument("file", metavar="FILE", help=t("cli.backup.help_file"))
    backup.add_argument("--force", action="store_true", help=t("cli.backup.help_force"))
    backup.add_argument("--json", action="store_true", help=t("cli.help.json"))
    restore = commands.add_parser("restore", help=t("cli.backup.help_restore"),
                                  description=t("cli.backup.help_restore"), allow_abbrev=False)
    restore.add_argument("file", metavar="FILE", help=t("cli.backup.help_restore_file"))
    restore.add_argument("--accept-missing-head", action="store_true",
                         help=t("cli.backup.help_accept_missing_head"))
    restore.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _refusal(exc, args):
    from db.audit import HEAD_SUFFIX
    from tui.cli import Refusal, safe

    params = {"path": "", "message": "", "file": safe(args.file), "head": safe(args.file + HEAD_SUFFIX)}
    params.update({k: safe(v) for k, v in exc.params.items()})
    return Refusal(exc.code, t(f"cli.backup.error.{exc.code}", **params))


def _progress():
    """A percentage on standard error while a long copy runs (only on a terminal)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write("\r" + t("cli.backup.progress", percent=i18n.percent(100 * done / max(total, 1))))
        sys.stderr.flush()

    return show


def run(args, session) -> int:
    from db import backup

    try:
        if args.command == "backup":
            return cmd_backup(args, session)
        return cmd_restore(args, session)
    except backup.BackupError as exc:
        raise _refusal(exc, args) from None


def cmd_backup(args, session) -> int:
    from db import backup
    from tui.cli import print_json, safe

    progress = None if args.json else _progress()
    result = backup.backup(session.actor, args.file, force=args.force, progress=progress)
    if progress is not None:
        sys.stderr.write("\r\033[K")
    if args.json:
        print_json({"ok": True, "path": str(result.path), "head": str(result.head) if result.head else None,
                    "size": result.size, "people": result.people, "files": result.files,
                    "audit_entries": result.audit_entries, "restarts": result.restarts})
        return 0
    print(t("cli.backup.written", path=safe(result.path), size=i18n.number(result.size),
            people=i18n.number(result.people), files=i18n.number(result.files)))
    if result.head:
        print(t("cli.backup.head_written", path=safe(result.head), n=i18n.number(result.audit_entries)))
    return 0


def cmd_restore(args, session) -> int:
    from db import backup, connection
    from tui.cli import Session, _today, print_json, safe
    from tui.cli_admin import check_report

    result = backup.restore(session.actor, args.file, accept_missing_head=args.accept_missing_head)
    # the restored database has its own "today" (the demo's, say): read it again
    after = Session(session.location, _today(getattr(args, "today", None)), session.actor)
    ok, document, lines = check_report(after.today)
    kept_head = str(result.kept_head) if result.kept_head else None
    if args.json:
        print_json({"ok": ok, "path": str(result.path), "source": str(result.source),
                    "kept": str(result.kept), "kept_head": kept_head,
                    "people": result.inspection.people, "files": result.inspection.files,
                    "audit_entries": result.inspection.audit_entries,
                    "head_checked": result.inspection.head, "migrated": list(result.migrated),
                    "check": document})
        return 0 if ok else 1
    print(t("cli.backup.restored", source=safe(result.source), path=safe(result.path),
            people=i18n.number(result.inspection.people), files=i18n.number(result.inspection.files)))
    print(t("cli.backup.kept", path=safe(result.kept)))
    if kept_head:
        print(t("cli.backup.kept_head", path=safe(kept_head)))
    if not result.inspection.head and result.inspection.audit_entries:
        print(t("cli.backup.no_head_accepted", path=safe(connection.sqlite_path(session.location))))
    if result.migrated:
        print(t("cli.backup.migrated", n=len(result.migrated), names=safe(", ".join(result.migrated))))
    print(t("cli.backup.checking"))
    for line in lines:
        print(line)
    return 0 if ok else 1
