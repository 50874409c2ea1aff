"""People from a spreadsheet (interfaces.md, `import` of CSV/XLSX): candidates and members.

The rows arrive as text cells (db.textfile for CSV/TSV, the XLSX reader in tui) with the header
first. Each header is a column code or its Vietnamese header (typed with or without diacritics);
an unknown column refuses the whole file before any row is read (`ImportRefused`).

Each row is checked field by field, so that a row reports all its faults (codes of interfaces.md:
`bad_value`, `missing_value`, `unknown_branch`, `duplicate_citizen_id` (the later row),
`date_in_future`, `needs_procedure`). A row is matched to a person already here by citizen ID,
else by name, birth date and branch:
- a new candidate (no party status) gets a file at `identified` through `pipeline.open_case`;
- a new member gets the person, the affiliation from the ceremony (else the admission) and the
  membership with its dates;
- a person already here has their personal details updated from the non-empty cells
  (`updated`), or nothing when they agree (`unchanged`); a sheet may not change a person's party
  status or branch (`needs_procedure`: those go through the pipeline or a transfer).

Writes go in batches, one transaction each, so that a person is either wholly there (with their
file or membership) or not at all, whatever happens to the process; `all_or_nothing` checks
every row first (a dry run) and writes nothing when one is rejected; `dry_run` carries the rows
out in a transaction rolled back, so that what it reports is exactly what would happen.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from db import audit, models, pipeline
from db.access import AccessError, Actor, NotFound, may_write
from db.connection import parse_date, write_transaction
from db.people import party_status
from db.text import clean, fold, name_sort_key
from db.transfer import FileResult, ImportReport, Problem
from db.units import UnitLookupError, find_unit

Date = datetime.date
BATCH = 500

# column code -> its Vietnamese header (interfaces.md)
COLUMNS = {
    "full_name": "Họ và tên", "other_name": "Tên gọi khác", "sex": "Giới tính", "born": "Ngày sinh",
    "ethnicity": "Dân tộc", "religion": "Tôn giáo", "citizen_id": "Số CCCD", "phone": "Số điện thoại",
    "education": "Trình độ phổ thông", "occupation": "Nghề nghiệp", "residence": "Nơi ở",
    "youth_union": "Đoàn viên", "branch": "Chi bộ", "party_status": "Đảng tịch",
    "admitted_on": "Ngày vào Đảng", "ceremony_on": "Ngày kết nạp", "official_on": "Ngày chính thức",
}
_HEADERS = {fold(code): code for code in COLUMNS} | {fold(header): code for code, header in COLUMNS.items()}
_TEXT = ("full_name", "other_name", "ethnicity", "religion", "residence", "education", "occupation")
_DETAILS = ("other_name", "sex", "born", "ethnicity", "religion", "citizen_id", "phone", "education",
            "occupation", "residence", "youth_union")
_SEX = {"f": "F", "m": "M", "nu": "F", "nam": "M"}
_YES = {"yes", "y", "co", "x", "1", "true"}
_NO = {"no", "n", "khong", "0", "false", ""}
_STATUS = {"": None, "probationary": "probationary", "du bi": "probationary", "dang vien du bi": "probationary",
           "official": "official", "chinh thuc": "official", "dang vien chinh thuc": "official"}
_DATES = ("born", "admitted_on", "ceremony_on", "official_on")


class _NoValue:
    """A formula cell saved without its value: counts as `bad_value` (interfaces.md)."""

    def __str__(self) -> str:
        return "="


FORMULA_WITHOUT_VALUE = _NoValue()


def rows_from_xlsx(data: bytes) -> list[list]:
    """The first sheet's rows of an XLSX file, values as saved (a formula cell as its saved value,
    FORMULA_WITHOUT_VALUE when it has none). Read-only mode: the file is read as it streams."""
    import io

    from openpyxl import load_workbook

    values = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    formulas = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        out = []
        for saved, written in zip(values.worksheets[0].iter_rows(values_only=True),
                                  formulas.worksheets[0].iter_rows(values_only=True)):
            row = []
            for value, source in zip(saved, written):
                if value is None and isinstance(source, str) and source.startswith("="):
                    value = FORMULA_WITHOUT_VALUE
                row.append(value)
            while row and row[-1] is None:
                row.pop()
            out.append(row)
        while out and not out[-1]:
            out.pop()
        return out
    finally:
        values.close()
        formulas.close()


def read_sheet(data: bytes) -> list[list]:
    """The rows of a people sheet from its bytes: an XLSX workbook (a zip), else CSV/TSV text in
    any of the encodings db.textfile knows. Raises db.textfile.TextFileError, or an error of
    openpyxl for a damaged workbook."""
    if data[:4] == b"PK\x03\x04":
        return rows_from_xlsx(data)
    from db import textfile

    return textfile.read_rows(data).rows


def _cell(value, column: str):
    """A cell as the checks read it: text, a date, or FORMULA_WITHOUT_VALUE. Numbers typed in
    a spreadsheet lose their leading zeros: a citizen ID or phone number given as a number gets
    them back."""
    if value is None or value is FORMULA_WITHOUT_VALUE:
        return value
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, Date):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        if column == "citizen_id" and len(text) < pipeline.CITIZEN_ID_DIGITS:
            return text.zfill(pipeline.CITIZEN_ID_DIGITS)
        if column == "phone" and not text.startswith("0"):
            return "0" + text
        return text
    text = str(value)
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_STARTS:
        return text[1:]  # written so by an export, so that a spreadsheet does not run it
    return text


FORMULA_STARTS = ("=", "+", "-", "@")


class ImportRefused(Exception):
    """The whole file refused before any row is read (`unknown_column`, `no_rows`)."""

    def __init__(self, reason: str, **params):
        super().__init__(reason)
        self.code = reason
        self.params = params


def columns_of(header: list[str]) -> list[str | None]:
    """Each header cell's column code (None for an empty header over an empty column)."""
    out = []
    for cell in header:
        text = clean(cell or "")
        if not text:
            out.append(None)
            continue
        code = _HEADERS.get(fold(text))
        if code is None:
            raise ImportRefused("unknown_column", column=text)
        out.append(code)
    seen = [c for c in out if c]
    for code in seen:
        if seen.count(code) > 1:
            raise ImportRefused("unknown_column", column=COLUMNS[code])
    if "full_name" not in seen:
        raise ImportRefused("missing_column", column=COLUMNS["full_name"])
    return out


@dataclass
class _Row:
    number: int  # as a spreadsheet shows it: the header is row 1
    values: dict
    problems: list[Problem]
    branch: models.Unit | None = None

    @property
    def name(self) -> str | None:
        return self.values.get("full_name")


def _date(value, column: str, today: Date, problems: list[Problem]) -> Date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        value = value.date()
    if not isinstance(value, Date):
        try:
            value = parse_date(str(value))
        except ValueError:
            problems.append(Problem("bad_value", column, value))
            return None
    if value > today:
        problems.append(Problem("date_in_future", column, value.isoformat(),
                                {"date": value.isoformat(), "today": today.isoformat()}))
        return None
    return value


def _check(actor: Actor, number: int, cells: dict, today: Date, branches: dict) -> _Row:
    """One row's values, checked field by field (every fault listed)."""
    problems: list[Problem] = []
    values: dict = {}
    for column, cell in list(cells.items()):
        if cell is FORMULA_WITHOUT_VALUE:  # reported once, then read as empty
            problems.append(Problem("bad_value", column, "="))
            cells = {**cells, column: None}
    for column in _TEXT:
        values[column] = clean(cells.get(column) or "") or None
    if not values["full_name"]:
        problems.append(Problem("missing_value", "full_name", cells.get("full_name") or ""))
    sex = fold(clean(cells.get("sex") or ""))
    if sex in _SEX:
        values["sex"] = _SEX[sex]
    elif sex or "sex" in cells:
        problems.append(Problem("missing_value" if not sex else "bad_value", "sex", cells.get("sex") or ""))
    for column in _DATES:
        values[column] = _date(cells.get(column), column, today, problems)
    if values["born"] is None and not any(p.column == "born" for p in problems):
        problems.append(Problem("missing_value", "born", ""))
    citizen_id = (clean(cells.get("citizen_id") or "") or "").replace(" ", "").replace(".", "") or None
    if citizen_id is not None and (len(citizen_id) != pipeline.CITIZEN_ID_DIGITS or not citizen_id.isdigit()):
        problems.append(Problem("bad_value", "citizen_id", cells.get("citizen_id")))
        citizen_id = None
    values["citizen_id"] = citizen_id
    phone = (clean(cells.get("phone") or "") or "").replace(" ", "").replace(".", "") or None
    if phone is not None and not (phone.isdigit() and 10 <= len(phone) <= 11 and phone.startswith("0")):
        problems.append(Problem("bad_value", "phone", cells.get("phone")))
        phone = None
    values["phone"] = phone
    youth = fold(clean(cells.get("youth_union") or ""))
    if youth in _YES:
        values["youth_union"] = True
    elif youth in _NO:
        values["youth_union"] = False if "youth_union" in cells and youth else None
    else:
        problems.append(Problem("bad_value", "youth_union", cells.get("youth_union")))
    status = fold(clean(cells.get("party_status") or ""))
    if status in _STATUS:
        values["party_status"] = _STATUS[status]
    else:
        problems.append(Problem("bad_value", "party_status", cells.get("party_status")))
        values["party_status"] = None
    if values["party_status"]:
        for column in ("admitted_on", "ceremony_on"):
            if values[column] is None and not any(p.column == column for p in problems):
                problems.append(Problem("missing_value", column, ""))
        if values["party_status"] == "official" and values["official_on"] is None \
                and not any(p.column == "official_on" for p in problems):
            problems.append(Problem("missing_value", "official_on", ""))
        order = [values[c] for c in ("born", "admitted_on", "ceremony_on", "official_on") if values[c]]
        if order != sorted(order):
            problems.append(Problem("bad_value", "ceremony_on", (values["ceremony_on"] or "")
                                    and values["ceremony_on"].isoformat()))
    branch_text = clean(cells.get("branch") or "")
    branch = None
    if not branch_text:
        problems.append(Problem("missing_value", "branch", ""))
    else:
        key = fold(branch_text)
        if key not in branches:
            try:
                node = find_unit(actor, branch_text, today)
                branches[key] = models.Unit.get_by_id(node.id) if node.is_branch else None
            except (UnitLookupError, NotFound):
                branches[key] = None
        branch = branches[key]
        if branch is None:
            problems.append(Problem("unknown_branch", "branch", branch_text))
    return _Row(number, values, problems, branch)


def _find(row: _Row) -> models.Person | None:
    P = models.Person
    if row.values["citizen_id"]:
        person = P.get_or_none(P.citizen_id == row.values["citizen_id"])
        if person is not None:
            return person
    if row.values["born"] and row.branch is not None:
        same = P.select().where((P.name_folded == fold(row.values["full_name"])) & (P.born == row.values["born"])
                                & (P.branch == row.branch.id))
        if row.values["citizen_id"]:  # someone with another citizen ID is someone else
            same = same.where(P.citizen_id.is_null())
        return same.first()
    return None


def _changes(person: models.Person, row: _Row) -> dict:
    """The personal details the row has and the person differs in."""
    out = {}
    for column in _DETAILS:
        value = row.values.get(column)
        if value is None:
            continue
        if getattr(person, column) != value:
            out[column] = value
    return out


def _write(actor: Actor, row: _Row, today: Date) -> FileResult:
    """One checked row into the database (inside a transaction); its result."""
    v = row.values
    person = _find(row)
    result = FileResult(row.number, v["full_name"], "unchanged")
    if person is not None:
        status = party_status(person.id, today)
        if status != v["party_status"]:
            result.status = "rejected"
            result.problems.append(Problem("needs_procedure", "party_status", v["party_status"] or "",
                                           {"now": status or "", "sheet": v["party_status"] or ""}))
            return result
        if person.branch_id != row.branch.id:
            result.status = "rejected"
            result.problems.append(Problem("needs_procedure", "branch", row.branch.code,
                                           {"now": person.branch.code if person.branch_id else ""}))
            return result
        changes = _changes(person, row)
        if "citizen_id" in changes and models.Person.select().where(
                (models.Person.citizen_id == changes["citizen_id"]) & (models.Person.id != person.id)).exists():
            result.status = "rejected"
            result.problems.append(Problem("duplicate_citizen_id", "citizen_id", changes["citizen_id"]))
            return result
        if changes:
            before = {k: getattr(person, k) for k in changes}
            models.Person.update(**changes).where(models.Person.id == person.id).execute()
            audit.record(actor, "import", "person", person.id, before, changes, row.branch.id)
            result.status = "updated"
        C = models.CaseFile
        open_case = C.select(C.id).where((C.person == person.id) & C.is_open()).scalar()
        result.case_id = open_case
        return result
    if v["citizen_id"] and models.Person.select().where(models.Person.citizen_id == v["citizen_id"]).exists():
        result.status = "rejected"
        result.problems.append(Problem("duplicate_citizen_id", "citizen_id", v["citizen_id"]))
        return result
    fields = {k: v.get(k) for k in ("full_name", "other_name", "sex", "born", "ethnicity", "religion",
                                    "citizen_id", "phone", "education", "occupation", "residence")}
    fields["youth_union"] = bool(v.get("youth_union"))
    if not v["party_status"]:
        try:
            result.case_id = pipeline.open_case(actor, row.branch.id, fields, today)
        except pipeline.PipelineError as exc:
            result.status = "rejected"
            column = exc.params.get("field")
            result.problems.append(Problem(exc.code, column, v.get(column) if column else None, dict(exc.params)))
            return result
        result.status = "imported"
        return result
    data = pipeline._person_fields(fields, today)
    person = models.Person.create(**data, name_folded=fold(data["full_name"]), sort_key=name_sort_key(data["full_name"]),
                                  other_folded=fold(data["other_name"]) if data.get("other_name") else None,
                                  branch=row.branch.id)
    start = v["ceremony_on"] or v["admitted_on"]
    models.Affiliation.create(person=person.id, unit=row.branch.id, start=start)
    official = v["official_on"] if v["party_status"] == "official" else None
    models.Membership.create(person=person.id, admitted_on=v["admitted_on"], ceremony_on=v["ceremony_on"],
                             official_on=official)
    audit.record(actor, "import", "person", person.id, None,
                 {**data, "branch": row.branch.id, "party_status": v["party_status"],
                  "admitted_on": v["admitted_on"], "ceremony_on": v["ceremony_on"], "official_on": official},
                 row.branch.id)
    result.status = "imported"
    return result


class _Rollback(Exception):
    pass


def import_people(actor: Actor, rows: Iterable[list], today: Date, *, dry_run: bool = False,
                  all_or_nothing: bool = False, batch: int = BATCH,
                  progress: Callable[[int], None] | None = None) -> ImportReport:
    """Read the rows (header first) into the database; the report of every row."""
    if not may_write(actor):
        raise AccessError("forbidden", role=actor.role)
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        raise ImportRefused("no_rows")
    columns = columns_of(header)
    report = ImportReport(dry_run=dry_run)
    branches: dict = {}
    seen_ids: dict[str, int] = {}

    def checked(number: int, cells: list) -> _Row | None:
        values = {}
        for code, cell in zip(columns, cells):
            if code is not None:  # a column with no header is left out
                values[code] = _cell(cell, code)
        if not any(c not in (None, "") for c in values.values()):
            return None  # an empty line
        row = _check(actor, number, values, today, branches)
        cid = row.values.get("citizen_id")
        if cid:
            if cid in seen_ids:
                row.problems.append(Problem("duplicate_citizen_id", "citizen_id", cid, {"row": seen_ids[cid]}))
            else:
                seen_ids[cid] = number
        return row

    def carry(pending: list[_Row]) -> None:
        for row in pending:
            if row.problems:
                report.files.append(FileResult(row.number, row.name, "rejected", problems=row.problems))
                continue
            try:
                with write_transaction():  # a savepoint: a row refused by the pipeline leaves nothing
                    report.files.append(_write(actor, row, today))
            except pipeline.PipelineError as exc:
                column = exc.params.get("field")
                report.files.append(FileResult(row.number, row.name, "rejected", problems=[
                    Problem(exc.code, column, row.values.get(column) if column else None, dict(exc.params))]))

    def run(write_batches: bool) -> None:
        pending: list[_Row] = []
        done = 0
        for number, cells in enumerate(rows, start=2):
            row = checked(number, list(cells))
            if row is None:
                continue
            pending.append(row)
            if len(pending) >= batch:
                if write_batches:
                    with write_transaction():
                        carry(pending)
                else:
                    carry(pending)
                done += len(pending)
                pending = []
                if progress:
                    progress(done)
        if write_batches:
            with write_transaction():
                carry(pending)
        else:
            carry(pending)
        if progress:
            progress(done + len(pending))

    if dry_run or all_or_nothing:
        rows = list(rows)  # read again when all_or_nothing writes after the check
        source = rows
        try:
            with write_transaction():
                rows = iter(source)
                run(False)
                raise _Rollback
        except _Rollback:
            audit.discard_pending()
        if dry_run or report.rejected:
            report.rolled_back = all_or_nothing and bool(report.rejected) and not dry_run
            return report
        report.files.clear()
        seen_ids.clear()
        rows = iter(source)
        with write_transaction():
            run(False)
        return report
    run(True)
    return report


# --- the way out: the same columns, so that an exported sheet imports back unchanged -------------

PERSONAL = ("other_name", "born", "ethnicity", "religion", "citizen_id", "phone", "education",
            "occupation", "residence", "youth_union")


def export_people(actor: Actor, unit_id: int, today: Date, *, destination: str | None = None) -> tuple[list[str], list[dict]]:
    """The people of the unit's tree today, one dict per person with the import's columns (the
    columns and the rows). The personal columns only for a role that may see a person's
    background (a viewer gets names, sex, branch and party status). Logged on the audit trail
    with the destination."""
    from db.access import may_see_background
    from db.units import subtree_ids

    units = subtree_ids(actor, unit_id, today)
    if not units:
        raise NotFound(unit_id)
    columns = [c for c in COLUMNS if may_see_background(actor) or c not in PERSONAL]
    P, U, M = models.Person, models.Unit, models.Membership
    people = list(P.select(P, U.code).join(U, on=(P.branch == U.id)).where(P.branch.in_(units))
                  .order_by(U.sort_order, U.code, P.sort_key, P.id))
    memberships = {}
    for m in M.select().where(M.person.in_([p.id for p in people]) & M.ended_on.is_null()
                              & (M.admitted_on <= today)).order_by(M.admitted_on):
        memberships[m.person_id] = m
    rows = []
    for person in people:
        m = memberships.get(person.id)
        status = party_status(person.id, today) if m else None
        row = {c: getattr(person, c, None) for c in columns if c in PERSONAL or c in ("full_name", "sex")}
        if "youth_union" in row:
            row["youth_union"] = bool(person.youth_union)
        row["branch"] = person.branch.code
        row["party_status"] = status
        row["admitted_on"] = m.admitted_on if m and status else None
        row["ceremony_on"] = m.ceremony_on if m and status else None
        row["official_on"] = m.official_on if m and status == "official" else None
        rows.append({c: row.get(c) for c in columns})
    with write_transaction():
        audit.record(actor, "export", "database", None, None,
                     {"kind": "people", "unit": unit_id, "count": len(rows), "destination": destination}, unit_id)
    return columns, rows
