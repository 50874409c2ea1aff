"""`ketnap import FILE` (case files, JSON) and `ketnap export cases`: the command-line side of
db.transfer. tui/cli.py builds the parsers with `add_parsers` and hands the commands to `run`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tui import i18n
from tui.i18n import t
# the sentences for an import's faults live in tui.import_text, shared with the import screen
from tui.import_text import (i18n_stages, people_problem_message,  # noqa: F401  (their old home)
                             problem_message, refused_message)

EXPORT_KINDS = ("people", "cases", "report")
EXPORT_FORMATS = ("csv", "xlsx", "json")
SHEET_SUFFIXES = (".csv", ".xlsx", ".tsv")


def add_parsers(commands) -> None:
    """The `import` and `export` subcommands."""

    def parser(name: str):
        return commands.add_parser(name, help=t(f"cli.transfer.help_{name}"),
                                   description=t(f"cli.transfer.help_{name}"), allow_abbrev=False)

    imp = parser("import")
    imp.add_argument("file", metavar="FILE", help=t("cli.transfer.help_file"))
    imp.add_argument("--dry-run", action="store_true", help=t("cli.transfer.help_dry_run"))
    imp.add_argument("--all-or-nothing", action="store_true", help=t("cli.transfer.help_all_or_nothing"))
    imp.add_argument("--branch", metavar="U", help=t("cli.transfer.help_branch"))
    imp.add_argument("--legacy", action="store_true", help=t("cli.transfer.help_legacy"))
    imp.add_argument("--json", action="store_true", help=t("cli.help.json"))

    exp = parser("export")
    exp.add_argument("kind", choices=EXPORT_KINDS, metavar="KIND", help=t("cli.transfer.help_kind"))
    exp.add_argument("--unit", metavar="U", help=t("cli.transfer.help_unit"))
    exp.add_argument("--year", type=int, metavar="Y", help=t("cli.transfer.help_year"))
    exp.add_argument("--as-of", metavar="D", help=t("cli.transfer.help_as_of"))
    exp.add_argument("--format", choices=EXPORT_FORMATS, default=None, help=t("cli.transfer.help_format"))
    exp.add_argument("-o", "--output", metavar="FILE", required=True, help=t("cli.transfer.help_output"))
    exp.add_argument("--json", action="store_true", help=t("cli.help.json"))


def run(args, session) -> int:
    if args.command == "import":
        return cmd_import(args, session)
    return cmd_export(args, session)


# --- import ----------------------------------------------------------------------------------

def _read_documents(name: str, raw: bytes) -> list:
    from tui.cli import Refusal, safe

    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refusal("bad_value", t("cli.transfer.bad_file", name=safe(name), message=safe(exc))) from None
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    raise Refusal("bad_value", t("cli.transfer.bad_file", name=safe(name),
                                 message=t("cli.transfer.not_documents")))


def _problem_json(problem) -> dict:
    value = problem.value
    if not isinstance(value, (str, int, float, bool, type(None))):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return {"code": problem.code, "column": problem.column, "value": value,
            "message": problem_message(problem), "params": problem.params}


def report_json(report) -> dict:
    def listed(attr: str) -> list[dict]:
        return [{"row": f.row, "record": f.record, **_problem_json(p)}
                for f in report.files for p in getattr(f, attr)]

    return {
        "ok": report.ok, "dry_run": report.dry_run, "imported": report.imported,
        "updated": report.updated, "unchanged": report.unchanged,
        "rejected": [{"row": f.row, "record": f.record,
                      "violations": [_problem_json(p) for p in f.problems]} for f in report.rejected],
        "warnings": listed("warnings"),
        "unverified": listed("unverified"),
        "rolled_back": report.rolled_back,
        "files": [{"row": f.row, "record": f.record, "status": f.status, "case_id": f.case_id}
                  for f in report.files],
    }


def _read_bytes(name: str) -> bytes:
    from tui.cli import Refusal, safe

    try:
        if name == "-":
            return sys.stdin.buffer.read()
        with open(name, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise Refusal("bad_value", t("cli.transfer.bad_file", name=safe(name), message=safe(exc))) from None


def _is_sheet(name: str, data: bytes) -> bool:
    """A people sheet (CSV/TSV text or XLSX) rather than case files (JSON)."""
    if name != "-":
        return Path(name).suffix.lower() in SHEET_SUFFIXES + (".txt",)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return head not in (b"{", b"[")


def people_report_json(report) -> dict:
    def problem(p) -> dict:
        value = p.value if isinstance(p.value, (str, int, float, bool, type(None))) else str(p.value)
        return {"code": p.code, "column": p.column, "value": value, "message": people_problem_message(p)}

    return {
        "ok": report.ok, "dry_run": report.dry_run, "imported": report.imported, "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": [{"row": f.row, "record": f.record, "violations": [problem(p) for p in f.problems]}
                     for f in report.rejected],
        "warnings": [], "rolled_back": report.rolled_back,
    }


def cmd_import_people(args, session, data: bytes) -> int:
    from db import import_people
    from db.import_people import ImportRefused
    from tui.cli import Refusal, _err, print_json, safe

    if args.branch or args.legacy:
        raise Refusal("bad_value", t("cli.people_import.case_options"))
    try:
        rows = import_people.read_sheet(data)
    except Exception as exc:  # an unreadable workbook or text: refused with its reason, nothing read
        raise Refusal("bad_value", t("cli.transfer.bad_file", name=safe(args.file), message=safe(exc))) from None
    progress = None
    if sys.stderr.isatty() and not args.json and len(rows) > 1000:
        total = len(rows) - 1
        progress = lambda done: _err(t("cli.people_import.progress", done=i18n.number(done),  # noqa: E731
                                       total=i18n.number(total)))
    try:
        report = import_people.import_people(session.actor, rows, session.today, dry_run=args.dry_run,
                                             all_or_nothing=args.all_or_nothing, progress=progress)
    except ImportRefused as exc:
        raise Refusal(exc.code, refused_message(exc)) from None
    status = 0 if report.ok else 1
    doc = people_report_json(report)
    if args.json:
        print_json(doc)
        return status
    key = "cli.people_import.summary_dry_run" if report.dry_run else "cli.people_import.summary"
    print(t(key, imported=i18n.number(doc["imported"]), updated=i18n.number(doc["updated"]),
            unchanged=i18n.number(doc["unchanged"]), rejected=i18n.number(len(doc["rejected"]))))
    for item in doc["rejected"]:
        _err(t("cli.people_import.rejected", row=item["row"], record=safe(item["record"] or "")))
        for v in item["violations"]:
            _err(f"  - {v['message']}")
    if report.rolled_back:
        _err(t("cli.transfer.rolled_back"))
    return status


def cmd_import(args, session) -> int:
    from db import transfer
    from db.units import find_unit
    from tui.cli import Refusal, _err, print_json, safe

    data = _read_bytes(args.file)
    if _is_sheet(args.file, data):
        return cmd_import_people(args, session, data)
    documents = _read_documents(args.file, data)
    branch_id = None
    if args.branch:
        node = find_unit(session.actor, args.branch, session.today)  # lookup errors: cli.refusal_from
        if not node.is_branch:
            raise Refusal("bad_value", t("cli.transfer.not_branch", name=safe(node.name)))
        branch_id = node.id
    report = transfer.import_cases(session.actor, documents, session.today, branch_id=branch_id,
                                   legacy=args.legacy, dry_run=args.dry_run,
                                   all_or_nothing=args.all_or_nothing)
    status = 0 if report.ok else 1
    if args.json:
        print_json(report_json(report))
        return status
    doc = report_json(report)
    key = "cli.transfer.summary_dry_run" if report.dry_run else "cli.transfer.summary"
    print(t(key, imported=i18n.number(doc["imported"]), updated=i18n.number(doc["updated"]),
            unchanged=i18n.number(doc["unchanged"]), rejected=i18n.number(len(doc["rejected"]))))
    for item in doc["rejected"]:
        _err(t("cli.transfer.rejected", row=item["row"], record=safe(item["record"] or "")))
        for v in item["violations"]:
            where = f"[{safe(v['column'])}] " if v["column"] else ""
            _err(f"  - {where}{v['message']}")
    for item in doc["warnings"]:
        print(t("cli.transfer.warning", row=item["row"], record=safe(item["record"] or ""),
                message=item["message"]))
    for item in doc["unverified"]:
        print(t("cli.transfer.unverified", row=item["row"], record=safe(item["record"] or ""),
                field=safe(item["params"].get("field", "")), rule=safe(item["code"]),
                stage=i18n.code_name("stage", item["column"])))
    if report.rolled_back:
        _err(t("cli.transfer.rolled_back"))
    return status


# --- export ----------------------------------------------------------------------------------

def write_private(path: str, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (0600), even when it existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fd = -1
            fh.write(text)
    finally:
        if fd != -1:
            os.close(fd)


def cmd_export(args, session) -> int:
    from db import transfer
    from db.units import find_unit
    from tui.cli import Refusal, _option_date, _scrub, print_json, safe

    if args.kind == "report":
        return cmd_export_report(args, session)
    if args.kind == "people":
        return cmd_export_people(args, session)
    name = args.output.lower()
    fmt = args.format or ("json" if name.endswith(".json") or name == "-" else "csv" if name.endswith(".csv")
                          else "xlsx" if name.endswith(".xlsx") else None)
    if fmt is None:
        raise Refusal("bad_value", t("cli.transfer.cases_json_only"))
    as_of = _option_date(args.as_of) if args.as_of else session.today
    unit_id = find_unit(session.actor, args.unit, as_of).id if args.unit else None
    documents = transfer.export_cases(session.actor, unit_id, as_of, destination=args.output)
    if fmt in ("csv", "xlsx"):
        return _write_cases_sheet(args, documents, fmt)
    text = json.dumps(_scrub(documents), ensure_ascii=False, indent=2) + "\n"
    if args.output == "-":  # standard output: the way to export over SSH
        sys.stdout.write(text)
        return 0
    try:
        write_private(args.output, text)
    except OSError as exc:
        raise Refusal("bad_value", t("cli.transfer.cannot_write", name=safe(args.output),
                                     message=safe(exc))) from None
    if args.json:
        print_json({"ok": True, "kind": "cases", "file": args.output, "count": len(documents)})
    else:
        print(t("cli.transfer.exported", n=i18n.number(len(documents)), name=safe(args.output)))
    return 0


def _write_cases_sheet(args, documents: list[dict], fmt: str) -> int:
    """The exported files as a sheet: one row per file (the JSON keeps every step)."""
    from tui import sheet_file

    rows = sheet_file.case_rows(documents)
    make = (lambda: sheet_file.table_csv(sheet_file.case_headers(), rows)) if fmt == "csv" else (
        lambda: sheet_file.table_xlsx(sheet_file.case_headers(), rows, [28, 12, 14, 12, 22, 12, 12, 12, 18, 12],
                                      t("cli.export_cases.sheet_title")))
    return _write_sheet(args, "cases", make, len(rows), "cli.transfer.exported")


def _write_sheet(args, kind: str, make, count: int, done_key: str) -> int:
    """Write a sheet (`make()` gives CSV text or XLSX bytes) to the output file, 0600, or to
    standard output for "-"; then say so."""
    from tui.cli import Refusal, print_json, safe

    try:
        content = make()
        if args.output == "-":
            if isinstance(content, str):
                sys.stdout.write(content.lstrip("\ufeff"))
            else:
                sys.stdout.buffer.write(content)
            return 0
        if isinstance(content, str):
            write_private(args.output, content)
        else:
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), 0o600)
                fh.write(content)
    except OSError as exc:
        raise Refusal("bad_value", t("cli.transfer.cannot_write", name=safe(args.output), message=safe(exc))) from None
    if args.json:
        print_json({"ok": True, "kind": kind, "file": args.output, "count": count})
    else:
        print(t(done_key, n=i18n.number(count), name=safe(args.output)))
    return 0


def cmd_export_people(args, session) -> int:
    """`ketnap export people`: the unit's people with the import's columns, CSV or XLSX."""
    from db import import_people
    from db.units import find_unit
    from tui import sheet_file
    from tui.cli import Refusal

    name = args.output.lower()
    fmt = args.format or ("xlsx" if name.endswith(".xlsx") else "csv" if name.endswith(".csv") or name == "-" else None)
    if fmt not in ("csv", "xlsx"):
        raise Refusal("bad_value", t("cli.export_people.formats"))
    if args.unit:
        unit_id = find_unit(session.actor, args.unit, session.today).id
    else:
        from db.access import scope_root
        from db.units import unit_tree

        root = scope_root(session.actor)
        roots = unit_tree(session.actor, session.today)
        unit_id = root if root is not None else (roots[0].id if roots else None)
        if unit_id is None:
            raise Refusal("not_found", t("error.not_found", id=""))
    columns, rows = import_people.export_people(session.actor, unit_id, session.today, destination=args.output)
    make = (lambda: sheet_file.write_csv(columns, rows)) if fmt == "csv" else (
        lambda: sheet_file.write_xlsx(columns, rows))
    return _write_sheet(args, "people", make, len(rows), "cli.export_people.exported")


def cmd_export_report(args, session) -> int:
    """`ketnap export report`: one row per child unit, the totals, the party document's head."""
    from db import audit, progress
    from db.connection import write_transaction
    from db.units import find_unit
    from tui import report_file
    from tui.cli import Refusal, _option_date, print_json, safe

    fmt = args.format or ("xlsx" if args.output.lower().endswith(".xlsx") else
                          "csv" if args.output.lower().endswith(".csv") or args.output == "-" else None)
    if fmt not in ("xlsx", "csv"):
        raise Refusal("bad_value", t("cli.transfer.report_formats"))
    if fmt == "xlsx" and args.output == "-":
        raise Refusal("bad_value", t("cli.transfer.report_xlsx_file"))
    year = args.year or session.today.year
    as_of = _option_date(args.as_of) if args.as_of else progress.default_as_of(year, session.today)
    if args.unit:
        unit_id = find_unit(session.actor, args.unit, as_of).id
    else:
        unit_id = progress.stats(session.actor, None, year, as_of, children=False).unit.id
    report = progress.report(session.actor, unit_id, year, as_of)
    with write_transaction():
        audit.record(session.actor, "export", "database", None, None,
                     {"kind": "report", "unit": unit_id, "year": year, "as_of": as_of,
                      "destination": args.output}, unit_id)
    try:
        if fmt == "csv":
            text = report_file.write_csv(report, None)
            if args.output == "-":
                sys.stdout.write(text.lstrip("\ufeff"))
                return 0
            write_private(args.output, text)
        else:
            report_file.write_xlsx(report, args.output)
    except OSError as exc:
        raise Refusal("bad_value", t("cli.transfer.cannot_write", name=safe(args.output),
                                     message=safe(exc))) from None
    if args.json:
        print_json({"ok": True, "kind": "report", "file": args.output, "rows": len(report.rows)})
    else:
        print(t("cli.transfer.report_written", unit=safe(report.unit.name), n=len(report.rows),
                name=safe(args.output)))
    return 0
